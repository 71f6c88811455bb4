//! Persistence behind one API, for SQLite (embedded default) and PostgreSQL (scale-out).
//!
//! This is the only module with SQL. It knows nothing of XML or of the decision rules: the
//! decision (`Ctx::decide`), the Customs line matching (`Ctx::match_line`) and the rendering
//! of replies (`Ctx::renderer`) are passed in, and run inside the storing transaction so that
//! a message, its decision and its reply are committed together, before anything is answered.
//!
//! Invariants:
//! - exactly once per ebMS `MessageId`, by a UNIQUE constraint (never an in-process lock); a
//!   message whose transaction did not commit leaves no trace;
//! - the total written off against a permit item never exceeds its approved quantity
//!   (conditional update, plus a CHECK constraint as the last line of defence);
//! - permit serials come from the database (a PostgreSQL sequence, which each instance draws
//!   from in blocks; a SQLite counter row) and are never reused;
//! - no permit request is stored as decided on a snapshot behind the licence status changes
//!   stored before its transaction read them (`StatusMark`, `Ctx::catch_up`): a change
//!   answered by one instance applies to the next request on every other.
//!
//! SQLite runs every write through one writer task that commits groups of jobs in one
//! transaction (a savepoint per job); PostgreSQL runs each job in its own transaction (new
//! permit requests in groups, one statement per group) and re-runs it when a concurrent
//! writer made it conflict.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

use crate::domain::matching::PermitRecord;
use crate::domain::{
    Amount, Decision, DeclarationCheck, DeclarationLine, ImportPermitRequest, InboundDocument,
    LicenceStatus, LineResult, OutboundDocument, PartyKey, PermitNumber, PermitStatusQuery,
    PermitStatusResponse, Reason, RefData, TaxNumber,
};

/// Runs `$e` on a reading connection: one of SQLite's readers, or a PostgreSQL connection of
/// the pool (autocommit). `$c` names the `&mut` connection in `$e`.
macro_rules! read {
    ($self:expr, $c:ident => $e:expr) => {
        match $self {
            Store::Sqlite(s) => {
                let mut conn = s.reader().await?;
                let $c = &mut *conn;
                $e
            }
            Store::Postgres(p) => {
                let mut conn = p.conn().await?;
                let $c = &mut *conn;
                $e
            }
        }
    };
}

/// Runs the future `$e` as one transaction: a job of SQLite's writer (run once), or a
/// PostgreSQL transaction, run again while it conflicts. `$c` names the `&mut` connection in
/// `$e`; the owned values listed in brackets are moved into SQLite's job and cloned for each
/// PostgreSQL attempt (`Copy` values need no listing).
macro_rules! in_tx {
    ($self:expr, [$($v:ident),*], $c:ident => $e:expr) => {
        match $self {
            Store::Sqlite(s) => s.write(move |$c| Box::pin(async move { $e })).await,
            Store::Postgres(p) => {
                p.in_tx(|$c| {
                    $(let $v = $v.clone();)*
                    Box::pin(async move { $e })
                })
                .await
            }
        }
    };
}

pub mod api;
mod audit;
mod common;
mod low_priority;
pub mod officer;
pub mod outbox;
pub mod postgres;
mod sql;
pub mod sqlite;
#[cfg(test)]
mod tests;

pub use audit::AuditEntry;
pub use common::content_hash;
pub use outbox::{
    AckOutcome, AttemptOutcome, AttemptRecord, Claimed, HeldBy, OperatorOutcome, OutboxFigures,
    OutboxItem, OutboxStatus, RefusalOutcome,
};
pub use sqlite::WriterCpu;

/// A snapshot built from the stored reference data, or every inconsistency found in it.
pub type LoadedSnapshot =
    Result<crate::domain::snapshot::Snapshot, Vec<crate::domain::snapshot::RefDataError>>;

/// What replacing the reference data did: the licence statuses set through the admin API that
/// stayed over the loaded ones, and the last status change the stored data now includes.
#[derive(Debug, Clone)]
pub struct Replaced {
    pub kept: Vec<KeptStatus>,
    pub mark: StatusMark,
}

/// What the storage layer could not do.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or is overloaded (connection, pool, busy, disk): nothing
    /// was recorded, the sender should retry (HTTP 503).
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A concurrent writer made this transaction conflict and re-running it did not help.
    /// Nothing was recorded; retrying later is safe.
    #[error("concurrent update conflict: {0}")]
    Conflict(String),
    /// The database refused a statement (a bug or a schema mismatch).
    #[error("database error: {0}")]
    Database(String),
    /// A stored row cannot be read back into domain values.
    #[error("stored data cannot be read: {0}")]
    Corrupt(String),
    /// What the caller passed in breaks the store's contract (e.g. a decision without dates).
    #[error("invalid input to the store: {0}")]
    Invalid(String),
    /// The database URL is not one the store understands.
    #[error("invalid database url: {0}")]
    Config(String),
    #[error("database migration failed: {0}")]
    Migration(String),
}

impl StoreError {
    /// True when nothing was recorded and the same message can simply be sent again later
    /// (the HTTP layer answers 503 with `Retry-After`).
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unavailable(_) | StoreError::Conflict(_))
    }
}

/// The ebMS facts of one received business message.
#[derive(Debug, Clone)]
pub struct MessageMeta {
    pub message_id: String,
    pub conversation_id: String,
    pub from_party: String,
    /// The `type` of the From PartyId, when it has one.
    pub from_party_type: Option<String>,
    pub to_party: String,
    /// The `type` of the To PartyId, when it has one.
    pub to_party_type: Option<String>,
    pub cpa_id: String,
    pub service: String,
    pub action: String,
    pub received_at: DateTime<Utc>,
    pub content_type: String,
    pub raw: Vec<u8>,
    pub ack_requested: bool,
    pub sync_reply: bool,
    pub packaging: String,
}

/// A reply as the wire code renders it for one response document.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub http_status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
    /// The business response to deliver asynchronously, when it is not in `body`.
    pub outbox: Option<OutboundMessage>,
}

/// An ebMS message to deliver to a partner (§5), stored in the outbox.
#[derive(Debug, Clone)]
pub struct OutboundMessage {
    pub message_id: String,
    pub conversation_id: String,
    pub partner: String,
    pub content_type: String,
    pub body: Vec<u8>,
    pub ack_requested: bool,
}

/// Renders the reply for a response document; provided by the service (wire code). Called
/// inside the storing transaction, so it must not block or do I/O.
pub trait Renderer: Send + Sync {
    fn render(&self, meta: &MessageMeta, doc: &OutboundDocument) -> Rendered;
}

/// Quantities already requested by an importer under a special-import purpose in a calendar
/// year (the items of SPECIAL requests, neither rejected nor cancelled nor replaced, that
/// are APPROVED, HOLD_FOR_INSPECTION or UNDER_REVIEW: `common::SPECIAL_USAGE`, counting
/// what the engine counts for the request it decides). The store answers it from
/// the database inside the deciding transaction; the year is the year of the requests'
/// arrival dates.
pub use crate::domain::engine::SpecialUsage;

/// The decision rules, with the date already bound, over the reference snapshot in use at the
/// call; with the decision, the last stored licence status change that snapshot includes.
pub type DecideFn =
    dyn Fn(&ImportPermitRequest, &dyn SpecialUsage) -> (Decision, StatusMark) + Send + Sync;

/// Brings the reference snapshot that decisions use up to date with licence status changes
/// stored after the one it includes (by this instance or another on the same database): all
/// the changes stored after the given mark, in the order they were stored.
pub type CatchUpFn = dyn Fn(StatusMark, &[StoredStatus]) + Send + Sync;

/// The last licence status change (its number in the audit of changes, which grows in the order
/// the changes commit) that a reference snapshot includes; 0 for none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct StatusMark(pub i64);

/// A licence status change as stored, for a snapshot to catch up with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredStatus {
    pub mark: StatusMark,
    pub number: String,
    pub status: LicenceStatus,
    pub since: NaiveDate,
}

/// Customs matching of one declaration line against the permit it names (§3.3), with what
/// the earlier matched lines of the declaration take from the item the store picked
/// (`domain::matching::Claims`). The store handles a missing permit (`PERMIT_NOT_FOUND`)
/// itself, and the quantity race (`QUANTITY_EXCEEDED`) when writing off; everything else about
/// a line (a cancelled permit, an invoice item number the permit does not have, every field
/// that differs) is this function's. The record's items are the one the store picked for the
/// line or, when the permit has no item of the line's invoice item number, all of them.
pub type MatchLineFn = dyn Fn(&DeclarationLine, &DeclarationCheck, &PermitRecord, Amount) -> (LineResult, Vec<Reason>)
    + Send
    + Sync;

/// Everything the store needs from the rest of the service to process one message.
#[derive(Clone)]
pub struct Ctx {
    pub today: NaiveDate,
    pub now: DateTime<Utc>,
    pub authority_tax_number: TaxNumber,
    pub authority_name: String,
    pub decide: Arc<DecideFn>,
    /// Called where a permit request's transaction finds licence status changes stored after
    /// those its decision's snapshot includes; the message then runs again.
    pub catch_up: Arc<CatchUpFn>,
    pub match_line: Arc<MatchLineFn>,
    pub renderer: Arc<dyn Renderer>,
}

/// A stored reply, replayed byte for byte for a duplicate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReply {
    pub http_status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// What `process` did with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Processed now; the reply is committed.
    New(StoredReply),
    /// The same `MessageId` was already processed; this is the reply it got then.
    Duplicate(StoredReply),
    /// The same `MessageId` was already processed, but came from another party: its reply is
    /// not replayed (it may hold data this sender may not see) and nothing was stored.
    SentByAnother { first_sender: String },
}

impl Outcome {
    /// The reply to send; `None` for a `MessageId` another party sent first.
    pub fn reply(&self) -> Option<&StoredReply> {
        match self {
            Outcome::New(r) | Outcome::Duplicate(r) => Some(r),
            Outcome::SentByAnother { .. } => None,
        }
    }
    pub fn is_duplicate(&self) -> bool {
        matches!(self, Outcome::Duplicate(_))
    }
}

/// A change of a licence's status (e.g. a suspension from e-Surveillance).
#[derive(Debug, Clone)]
pub struct LicenceStatusChange {
    pub number: String,
    pub status: LicenceStatus,
    pub since: NaiveDate,
    pub actor: String,
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// A licence's current status and the changes made to it through the admin API, oldest
/// first.
#[derive(Debug, Clone)]
pub struct LicenceStatusRecord {
    pub number: String,
    pub status: LicenceStatus,
    pub since: NaiveDate,
    /// (the change, the status it replaced)
    pub changes: Vec<(LicenceStatusChange, LicenceStatus)>,
}

/// A licence status set through the admin API that a reference-data load kept, because the
/// loaded record's status took effect earlier than it (the export did not know of it yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptStatus {
    pub number: String,
    pub status: LicenceStatus,
    pub since: NaiveDate,
}

/// The store: SQLite or PostgreSQL behind one API. Cheap to clone.
#[derive(Clone)]
pub enum Store {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PgStore),
}

macro_rules! dispatch {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            Store::Sqlite($s) => $e,
            Store::Postgres($s) => $e,
        }
    };
}

impl Store {
    /// Opens `sqlite://path` (the file and its directory are created when missing) or
    /// `postgres://…` / `postgresql://…`. Does not migrate.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Store::Sqlite(
                sqlite::SqliteStore::connect(url, WriterCpu::Auto).await?,
            ))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Store::Postgres(postgres::PgStore::connect(url).await?))
        } else {
            Err(StoreError::Config(format!(
                "'{}' must start with sqlite:// or postgres://",
                url.split('@').next_back().unwrap_or(url)
            )))
        }
    }

    /// Applies the backend's migrations.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        dispatch!(self, s => s.migrate().await)
    }

    /// Readiness: the database answers (and, for SQLite, the writer runs).
    pub async fn ping(&self) -> Result<(), StoreError> {
        dispatch!(self, s => s.ping().await)
    }

    /// What the database's own checks find wrong with it; empty when it is sound. On SQLite
    /// the structure of its pages and indexes and the foreign keys, which its writer does not
    /// enforce ([`sqlite::SqliteStore::check`]); PostgreSQL enforces its foreign keys itself
    /// and has nothing to check here.
    pub async fn check(&self) -> Result<Vec<String>, StoreError> {
        match self {
            Store::Sqlite(s) => s.check().await,
            Store::Postgres(_) => Ok(Vec::new()),
        }
    }

    /// Closes the store for a process that is done with it: SQLite leaves every commit in the
    /// database file (see [`sqlite::SqliteStore::close`]), PostgreSQL closes its connections.
    /// Reads after it fail; call it last.
    pub async fn close(&self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.close().await,
            Store::Postgres(s) => {
                s.close().await;
                Ok(())
            }
        }
    }

    /// A licence's status and its changes through the admin API; `None` for a licence that is
    /// not in the reference data.
    pub async fn licence_status(
        &self,
        number: &str,
    ) -> Result<Option<LicenceStatusRecord>, StoreError> {
        read!(self, c => common::licence_status(c, number).await)
    }

    /// Replaces all reference data in one transaction; a licence status set through the admin
    /// API that is newer than the loaded record's stays (returned).
    pub async fn replace_refdata(
        &self,
        data: Arc<RefData>,
        now: DateTime<Utc>,
    ) -> Result<Replaced, StoreError> {
        in_tx!(self, [data], c => common::replace_refdata(c, &data, now).await)
    }

    /// The stored reference data; `None` when none was ever loaded.
    pub async fn load_refdata(&self) -> Result<Option<RefData>, StoreError> {
        dispatch!(self, s => s.load_refdata().await)
    }

    /// The snapshot of the stored reference data, built while the rows are read (the licences
    /// are never all held as owned records); `None` when none was ever loaded. The inner error
    /// lists every inconsistency of the stored data. With it, the last licence status change
    /// it includes (read in the same transaction).
    pub async fn load_snapshot(&self) -> Result<Option<(LoadedSnapshot, StatusMark)>, StoreError> {
        dispatch!(self, s => s.load_snapshot().await)
    }

    /// Changes a licence's status and records who did it and why. `Ok(None)` when the
    /// licence is unknown; otherwise every status change stored after `after`, this one the
    /// last, for the snapshot in use to catch up with. Changes are stored one at a time, so
    /// that their marks grow in the order they commit.
    pub async fn set_licence_status(
        &self,
        change: LicenceStatusChange,
        after: StatusMark,
    ) -> Result<Option<Vec<StoredStatus>>, StoreError> {
        in_tx!(self, [change], c => common::set_licence_status(c, &change, after).await)
    }

    /// Processes one business message exactly once and returns the reply to give (§4).
    pub async fn process(
        &self,
        meta: MessageMeta,
        doc: InboundDocument,
        ctx: Ctx,
    ) -> Result<Outcome, StoreError> {
        dispatch!(self, s => s.process(meta, doc, ctx).await)
    }

    /// The reply stored for a message that `from_party` sent (none when another party sent
    /// that MessageId: its reply is not for this one).
    pub async fn lookup_reply(
        &self,
        message_id: &str,
        from_party: &str,
    ) -> Result<Option<StoredReply>, StoreError> {
        read!(self, c => common::lookup_reply(c, message_id, from_party).await)
    }

    /// The current state of a permit or request (the same answer as a `PermitStatusQuery`).
    pub async fn permit_status(
        &self,
        query: &PermitStatusQuery,
    ) -> Result<PermitStatusResponse, StoreError> {
        dispatch!(self, s => s.permit_status(query).await)
    }

    /// The tax number of a permit's holder; `None` when no such permit was issued.
    /// The importer a permit was issued to, found by its number alone (one indexed row).
    pub async fn permit_holder(
        &self,
        permit: &PermitNumber,
    ) -> Result<Option<PartyKey>, StoreError> {
        read!(self, c => common::permit_holder(c, permit).await)
    }
}

#[cfg(test)]
impl Store {
    /// Runs a read-only query of tests, `sqlite` or `postgres` by the backend.
    async fn rows_for_tests(
        &self,
        sqlite: &str,
        postgres: &str,
        args: Vec<sql::V>,
        cols: &[sql::Ty],
    ) -> Vec<sql::Row> {
        use sql::Conn;
        let rows = match self {
            Store::Sqlite(s) => s.read_conn_for_tests().await.rows(sqlite, args, cols).await,
            Store::Postgres(p) => p.conn_for_tests().await.rows(postgres, args, cols).await,
        };
        rows.expect("rows of a test query")
    }

    /// The bytes stored for a message.
    pub(crate) async fn raw_message_for_tests(&self, message_id: &str) -> Option<Vec<u8>> {
        let q = "SELECT raw FROM messages WHERE message_id = $1";
        let args = vec![sql::V::Text(message_id.into())];
        let rows = self.rows_for_tests(q, q, args, &[sql::Ty::Bytes]).await;
        rows.first().map(|r| r.bytes(0).unwrap())
    }

    /// When a permit was cancelled, if it was.
    pub(crate) async fn permit_cancelled_at_for_tests(
        &self,
        number: &PermitNumber,
    ) -> Option<DateTime<Utc>> {
        let q = "SELECT cancelled_at FROM permits WHERE permit_number = $1";
        let args = vec![sql::V::Text(number.to_string())];
        let rows = self.rows_for_tests(q, q, args, &[sql::Ty::Time]).await;
        rows.first().and_then(|r| r.opt_time(0).unwrap())
    }

    /// Outbox rows waiting for their first delivery: (message id, sequence in conversation).
    pub(crate) async fn pending_outbox_for_tests(&self) -> Vec<(String, i64)> {
        let q = "SELECT message_id, conversation_seq FROM outbox \
                 WHERE status = 'PENDING' AND attempts = 0 ORDER BY id";
        let rows = self
            .rows_for_tests(q, q, vec![], &[sql::Ty::Text, sql::Ty::I64])
            .await;
        rows.iter()
            .map(|r| (r.text(0).unwrap(), r.i64(1).unwrap()))
            .collect()
    }

    /// Every index of the schema, the unique constraints' and primary keys' included.
    async fn indexes_for_tests(&self) -> Vec<tests::IndexShape> {
        use sql::Ty;
        let sqlite = "SELECT t.name, il.name, il.\"unique\", il.partial, \
                      (SELECT group_concat(coalesce(ii.name, '?'), ',' ORDER BY ii.seqno) \
                       FROM pragma_index_info(il.name) ii) \
                      FROM sqlite_schema t, pragma_index_list(t.name) il \
                      WHERE t.type = 'table' ORDER BY 1, 2";
        let postgres = "SELECT t.relname::text, i.relname::text, ix.indisunique::int::int8, \
                        (ix.indpred IS NOT NULL)::int::int8, \
                        (SELECT string_agg(coalesce(a.attname::text, '?'), ',' ORDER BY k.n) \
                         FROM unnest(ix.indkey::int2[]) WITH ORDINALITY k(attnum, n) \
                         LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum) \
                        FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid \
                        JOIN pg_class t ON t.oid = ix.indrelid \
                        JOIN pg_namespace n ON n.oid = t.relnamespace \
                        WHERE n.nspname = current_schema() ORDER BY 1, 2";
        let cols = [Ty::Text, Ty::Text, Ty::I64, Ty::I64, Ty::Text];
        let rows = self.rows_for_tests(sqlite, postgres, vec![], &cols).await;
        rows.iter()
            .map(|r| tests::IndexShape {
                table: r.text(0).unwrap(),
                name: r.text(1).unwrap(),
                unique: r.i64(2).unwrap() != 0,
                partial: r.i64(3).unwrap() != 0,
                columns: r.text(4).unwrap().split(',').map(str::to_string).collect(),
            })
            .collect()
    }
}
