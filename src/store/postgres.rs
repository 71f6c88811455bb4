//! PostgreSQL backend: a connection pool; each job runs in its own transaction (PostgreSQL
//! groups concurrent commits itself) and is run again when a concurrent writer made it
//! conflict (unique violation, serialization failure, deadlock). Several gateway instances
//! can share one database: exactly-once and the permit serials rest on the database alone.
//!
//! New permit requests whose decision needs nothing from the store (the common case) are
//! written in groups, one statement per group, its own transaction: while
//! [`GROUP_STATEMENTS`] such statements run, the requests that arrive wait and are written
//! together by the next one ([`group_writer`]; alone, a request is a group of one). Each
//! table's rows of all of them are one part of the statement, so that its fixed costs
//! (setting up its plan, the commit and its WAL flush, the round trip) are shared. Permit
//! serials come from a block drawn from the sequence ahead ([`SerialBlock`]).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{PgConnection, Postgres};

use super::sql::{args, map_err, Conn, Dialect, Row, Ty, V};
use super::{common, Ctx, MessageMeta, Outcome, StoreError};
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::domain::{Function, InboundDocument, PermitStatusQuery, PermitStatusResponse, RefData};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// How many times a conflicting transaction is run again before giving up.
const ATTEMPTS: usize = 10;

pub(super) type TxFuture<'c, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'c>>;

/// Permit serials drawn together from the sequence.
const SERIAL_BLOCK: i64 = 32;

/// Statements writing groups of new permit requests that run at once; the requests that
/// arrive meanwhile wait for the next one.
pub const GROUP_STATEMENTS: usize = 2;

/// Most new permit requests written by one statement.
pub const MAX_GROUP: usize = 64;

#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    serials: Arc<SerialBlock>,
    stats: Arc<PgStats>,
    groups: mpsc::Sender<Grouped>,
    /// One permit per group statement that may run.
    group_slots: Arc<Semaphore>,
    /// New permit requests handed to the group writer so far (counted once each is in its
    /// queue, so that a test can tell when one is).
    handed: Arc<AtomicUsize>,
}

/// A new permit request waiting for its group, and where its outcome goes: `None` when the
/// group did not write it (the request runs alone).
struct Grouped {
    message: Arc<(MessageMeta, InboundDocument, Ctx)>,
    reply: oneshot::Sender<Option<Outcome>>,
}

/// How messages were written (counters for tests and diagnostics).
#[derive(Debug, Default)]
pub struct PgStats {
    one_statement: AtomicU64,
    in_transaction: AtomicU64,
    grouped: AtomicU64,
}

impl PgStats {
    /// Messages written in one statement (new permit requests), alone or in a group.
    pub fn one_statement(&self) -> u64 {
        self.one_statement.load(Ordering::Relaxed)
    }
    /// Messages written by a statement together with others (counted in
    /// [`PgStats::one_statement`] too).
    pub fn grouped(&self) -> u64 {
        self.grouped.load(Ordering::Relaxed)
    }
    /// Messages processed in a transaction of several statements (every other message, and a
    /// new permit request its group declined: a resend, a reference used before).
    pub fn in_transaction(&self) -> u64 {
        self.in_transaction.load(Ordering::Relaxed)
    }
}

/// Permit serials this instance drew from the sequence and has not used yet. Serials stay
/// unique across instances (the sequence hands each out once); those left when the process
/// stops are gaps, as are those of rolled-back transactions.
#[derive(Default)]
struct SerialBlock(Mutex<VecDeque<u32>>);

impl SerialBlock {
    async fn take(&self, c: &mut PgConnection) -> Result<u32, StoreError> {
        if let Some(s) = self.pop() {
            return Ok(s);
        }
        let rows = c
            .rows(
                "SELECT nextval('permit_serial') FROM generate_series(1, $1)",
                args![SERIAL_BLOCK],
                &[Ty::I64],
            )
            .await?;
        let mut drawn = rows
            .iter()
            .map(|r| common::parse_serial(Some(r)))
            .collect::<Result<Vec<_>, _>>()?;
        drawn.sort_unstable();
        let mut block = self.0.lock().expect("serial block lock");
        block.extend(drawn);
        block
            .pop_front()
            .ok_or_else(|| StoreError::Corrupt("the sequence drew no permit serial".into()))
    }

    fn pop(&self) -> Option<u32> {
        self.0.lock().expect("serial block lock").pop_front()
    }
}

/// A pooled connection outside any transaction, on which a new permit request is written in
/// one statement ([`Conn::one_statement`]) with a serial of the instance's block.
struct OneStatement<'a> {
    conn: &'a mut PgConnection,
    serials: &'a SerialBlock,
}

impl Conn for OneStatement<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    async fn exec(&mut self, sql: &str, args: Vec<V>) -> Result<u64, StoreError> {
        self.conn.exec(sql, args).await
    }

    async fn rows(&mut self, sql: &str, args: Vec<V>, cols: &[Ty]) -> Result<Vec<Row>, StoreError> {
        self.conn.rows(sql, args, cols).await
    }

    async fn each_row<F>(
        &mut self,
        sql: &str,
        args: Vec<V>,
        cols: &[Ty],
        f: F,
    ) -> Result<(), StoreError>
    where
        F: FnMut(Row) -> Result<(), StoreError> + Send,
    {
        self.conn.each_row(sql, args, cols, f).await
    }

    async fn next_serial(&mut self) -> Result<u32, StoreError> {
        self.serials.take(self.conn).await
    }

    fn local_serials(&self) -> bool {
        true
    }

    fn one_statement(&self) -> bool {
        true
    }
}

/// The task that writes new permit requests in groups.
struct GroupWriter {
    pool: PgPool,
    serials: Arc<SerialBlock>,
    stats: Arc<PgStats>,
    slots: Arc<Semaphore>,
}

/// Takes the first request that waits, a slot, then every request queued behind it (up to
/// [`MAX_GROUP`]), and writes them in a task of their own: while [`GROUP_STATEMENTS`] groups
/// are being written, the requests that arrive wait in the queue and form the next group. A
/// request that comes alone is a group of one.
async fn group_writer(w: GroupWriter, mut rx: mpsc::Receiver<Grouped>) {
    let w = Arc::new(w);
    while let Some(first) = rx.recv().await {
        let Ok(slot) = w.slots.clone().acquire_owned().await else {
            return;
        };
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(g) => group.push(g),
                Err(_) => break,
            }
        }
        let w = w.clone();
        tokio::spawn(async move {
            w.write(group).await;
            drop(slot);
        });
    }
}

impl GroupWriter {
    async fn write(&self, group: Vec<Grouped>) {
        let written = async {
            let mut conn = self.pool.acquire().await.map_err(map_err)?;
            let mut c = OneStatement {
                conn: &mut conn,
                serials: &self.serials,
            };
            let messages: Vec<common::GroupMessage<'_>> = group
                .iter()
                .map(|g| common::GroupMessage {
                    meta: &g.message.0,
                    doc: &g.message.1,
                    ctx: &g.message.2,
                })
                .collect();
            common::new_permit_requests(&mut c, &messages).await
        }
        .await;
        let outcomes = match written {
            Ok(o) => o,
            Err(e) => {
                tracing::debug!(messages = group.len(), error = %e, "a group was declined; its requests run alone");
                Vec::new()
            }
        };
        let n = outcomes.iter().filter(|o| o.is_some()).count() as u64;
        self.stats.one_statement.fetch_add(n, Ordering::Relaxed);
        if group.len() > 1 {
            self.stats.grouped.fetch_add(n, Ordering::Relaxed);
        }
        let mut outcomes = outcomes.into_iter();
        for Grouped { message, reply } in group {
            // The request's only other handle is its caller's, which takes it back.
            drop(message);
            let _ = reply.send(outcomes.next().flatten());
        }
    }
}

impl PgStore {
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options: PgConnectOptions = url
            .parse()
            .map_err(|e| StoreError::Config(format!("postgres url: {e}")))?;
        Self::connect_with(options, 16).await
    }

    pub async fn connect_with(options: PgConnectOptions, max: u32) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options.statement_cache_capacity(1024))
            .await
            .map_err(map_err)?;
        let (groups, rx) = mpsc::channel(MAX_GROUP * GROUP_STATEMENTS * 4);
        let store = Self {
            pool,
            serials: Arc::default(),
            stats: Arc::default(),
            groups,
            group_slots: Arc::new(Semaphore::new(GROUP_STATEMENTS)),
            handed: Arc::default(),
        };
        tokio::spawn(group_writer(store.writer(), rx));
        Ok(store)
    }

    /// What the group writer needs of the store (not its sender: the writer stops when the
    /// last handle of the store is dropped).
    fn writer(&self) -> GroupWriter {
        GroupWriter {
            pool: self.pool.clone(),
            serials: self.serials.clone(),
            stats: self.stats.clone(),
            slots: self.group_slots.clone(),
        }
    }

    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))
    }

    /// Closes the pool's connections (waiting for those in use to come back).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut c = self.pool.acquire().await.map_err(map_err)?;
        c.one_row("SELECT CAST(1 AS BIGINT)", Vec::new(), &[Ty::I64])
            .await?;
        Ok(())
    }

    /// A connection of the pool (autocommit).
    pub(crate) async fn conn(&self) -> Result<sqlx::pool::PoolConnection<Postgres>, StoreError> {
        self.pool.acquire().await.map_err(map_err)
    }

    /// Runs `f` in a transaction, again while it conflicts with concurrent writers.
    pub(crate) async fn in_tx<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: for<'c> Fn(&'c mut PgConnection) -> TxFuture<'c, T>,
    {
        let mut last = None;
        for _ in 0..ATTEMPTS {
            let mut tx = self.pool.begin().await.map_err(map_err)?;
            match f(&mut tx).await {
                Ok(v) => match tx.commit().await.map_err(map_err) {
                    Ok(()) => return Ok(v),
                    Err(e @ StoreError::Conflict(_)) => last = Some(e),
                    Err(e) => return Err(e),
                },
                Err(e @ StoreError::Conflict(_)) => {
                    let _ = tx.rollback().await;
                    last = Some(e);
                }
                Err(e) => {
                    let _ = tx.rollback().await;
                    return Err(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| StoreError::Conflict("no attempt made".into())))
    }

    pub async fn process(
        &self,
        meta: MessageMeta,
        doc: InboundDocument,
        ctx: Ctx,
    ) -> Result<Outcome, StoreError> {
        let InboundDocument::ImportPermitRequest(r) = &doc else {
            return self.in_transaction((meta, doc, ctx)).await;
        };
        if r.function != Function::Original {
            return self.in_transaction((meta, doc, ctx)).await;
        }
        let message = Arc::new((meta, doc, ctx));
        let (reply, rx) = oneshot::channel();
        let sent = self.groups.send(Grouped {
            message: message.clone(),
            reply,
        });
        if sent.await.is_ok() {
            self.handed.fetch_add(1, Ordering::Relaxed);
            if let Ok(Some(out)) = rx.await {
                return Ok(out);
            }
        }
        // The request's group did not write it (its decision reads the store, or a
        // `MessageId` or reference was stored before or used twice in the group): in a
        // transaction, which answers those.
        self.in_transaction(Arc::unwrap_or_clone(message)).await
    }

    async fn in_transaction(
        &self,
        (meta, doc, ctx): (MessageMeta, InboundDocument, Ctx),
    ) -> Result<Outcome, StoreError> {
        let job = Arc::new((meta, doc, ctx));
        let out = self
            .in_tx(move |c| {
                let job = job.clone();
                Box::pin(async move { common::process(c, &job.0, &job.1, &job.2).await })
            })
            .await?;
        self.stats.in_transaction.fetch_add(1, Ordering::Relaxed);
        Ok(out)
    }

    pub fn stats(&self) -> &PgStats {
        &self.stats
    }

    /// Takes every group statement's slot: new permit requests queue until the permits are
    /// dropped, then the first group takes those that are queued.
    #[cfg(test)]
    pub(crate) async fn hold_groups_for_tests(&self) -> tokio::sync::OwnedSemaphorePermit {
        self.group_slots
            .clone()
            .acquire_many_owned(GROUP_STATEMENTS as u32)
            .await
            .expect("the group slots are never closed")
    }

    /// New permit requests handed to the group writer so far (each in its queue by then).
    #[cfg(test)]
    pub(crate) fn handed_for_tests(&self) -> usize {
        self.handed.load(Ordering::Relaxed)
    }

    pub async fn load_refdata(&self) -> Result<Option<RefData>, StoreError> {
        // One snapshot for all four tables.
        self.in_tx(|c| Box::pin(async move { common::load_refdata(c).await }))
            .await
    }

    /// Reads the reference snapshot in one transaction (one snapshot for all four tables), at
    /// the lowest priority with a connection of its own ([`super::low_priority`]): building
    /// it does not take the CPU from the requests being served.
    pub async fn load_snapshot(
        &self,
    ) -> Result<Option<(super::LoadedSnapshot, super::StatusMark)>, StoreError> {
        let options = self.pool.connect_options().as_ref().clone();
        super::low_priority::run("refdata-read", None, move |_| async move {
            let mut c = <PgConnection as sqlx::Connection>::connect_with(&options)
                .await
                .map_err(map_err)?;
            let mut tx = sqlx::Connection::begin(&mut c).await.map_err(map_err)?;
            tx.exec(
                "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY",
                Vec::new(),
            )
            .await?;
            let out = common::load_snapshot(&mut *tx).await?;
            tx.rollback().await.map_err(map_err)?;
            Ok(out)
        })
        .await
    }

    pub async fn permit_status(
        &self,
        query: &PermitStatusQuery,
    ) -> Result<PermitStatusResponse, StoreError> {
        let query = Arc::new(query.clone());
        self.in_tx(move |c| {
            let query = query.clone();
            Box::pin(async move { common::permit_status(c, &query).await })
        })
        .await
    }
}

#[cfg(test)]
impl PgStore {
    pub(crate) async fn conn_for_tests(&self) -> sqlx::pool::PoolConnection<Postgres> {
        self.pool.acquire().await.expect("connection")
    }
}

type Query<'q> = sqlx::query::Query<'q, Postgres, PgArguments>;

/// `sql` with `args` bound.
fn query(sql: &str, args: Vec<V>) -> Query<'_> {
    args.into_iter().fold(sqlx::query(sql), bind)
}

fn bind(q: Query<'_>, v: V) -> Query<'_> {
    match v {
        V::Null(Ty::I64) => q.bind(None::<i64>),
        V::Null(Ty::Text) => q.bind(None::<String>),
        V::Null(Ty::Bytes) => q.bind(None::<Vec<u8>>),
        V::Null(Ty::Bool) => q.bind(None::<bool>),
        V::Null(Ty::Date) => q.bind(None::<NaiveDate>),
        V::Null(Ty::Time) => q.bind(None::<DateTime<Utc>>),
        V::I64(x) => q.bind(x),
        V::Text(x) => q.bind(x),
        V::Bytes(x) => q.bind(x),
        V::Bool(x) => q.bind(x),
        V::Date(x) => q.bind(x),
        V::Time(x) => q.bind(x),
        V::TextArray(x) => q.bind(x),
        V::DateArray(x) => q.bind(x),
    }
}

impl Conn for PgConnection {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    super::sql::sqlx_conn_methods!();
}
