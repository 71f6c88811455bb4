//! The outbox of asynchronous deliveries (spec §5): claiming due rows under a lease,
//! recording attempts, the operator's list / show / replay / drop (audited, see
//! [`super::audit`]).
//!
//! Invariants:
//! - a row is claimable only when it is due (PENDING and `next_attempt_at` reached, or
//!   IN_FLIGHT with an expired lease) and no earlier row of its conversation is PENDING,
//!   IN_FLIGHT or a dead letter: at most one row per conversation is ever in flight, so
//!   order is kept. A conversation is a partner's ConversationId: each sender chooses its
//!   own, so two partners' rows under one ConversationId never wait for each other;
//! - a dead letter (DEAD, not dropped by an operator) holds back the later rows of its
//!   conversation: they stay PENDING, are not attempted and do not age, until the operator
//!   replays it (then it goes first), drops it, or the partner acknowledges it after all;
//!   their age then starts again;
//! - an inbound Acknowledgment of a row's MessageId from the row's partner completes the row,
//!   whatever its state; one for a row that is done or unknown changes nothing;
//! - a claim sets a fresh `lease_token`; an attempt is recorded only by the holder of the
//!   current token (a worker whose lease expired and was taken over changes nothing);
//! - PostgreSQL claims with `FOR UPDATE … SKIP LOCKED`, so several instances share the work;
//!   SQLite claims through the single writer (one `UPDATE … RETURNING` in its transaction),
//!   and only when a reader has found a row due.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::audit::{audit, AuditEntry};
use super::common::micros;
use super::sql::{args, Conn, Dialect, Row, Ty, V};
use super::{Store, StoreError};

/// Where an outbox row stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutboxStatus {
    Pending,
    InFlight,
    Done,
    Dead,
}

impl OutboxStatus {
    pub fn code(self) -> &'static str {
        match self {
            OutboxStatus::Pending => "PENDING",
            OutboxStatus::InFlight => "IN_FLIGHT",
            OutboxStatus::Done => "DONE",
            OutboxStatus::Dead => "DEAD",
        }
    }

    pub fn from_code(s: &str) -> Option<OutboxStatus> {
        Some(match s {
            "PENDING" => OutboxStatus::Pending,
            "IN_FLIGHT" => OutboxStatus::InFlight,
            "DONE" => OutboxStatus::Done,
            "DEAD" => OutboxStatus::Dead,
            _ => return None,
        })
    }
}

/// One outbox row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    pub id: i64,
    pub message_id: String,
    pub conversation_id: String,
    pub conversation_seq: i64,
    pub partner: String,
    pub content_type: String,
    /// The stored ebMS message, sent byte for byte.
    pub body: Vec<u8>,
    pub ack_requested: bool,
    pub status: OutboxStatus,
    /// Attempts recorded since the row was (re)queued.
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    pub lease_until: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_http_status: Option<u16>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// When the row last entered the queue (created or replayed), or was last released by
    /// the dead letter that held it back; its delivery age counts from it.
    pub queued_at: DateTime<Utc>,
    pub done_at: Option<DateTime<Utc>>,
    /// When an operator took the row out of delivery (a DEAD row that holds nothing back).
    pub dropped_at: Option<DateTime<Utc>>,
    /// The dead letter that holds this PENDING row back (an earlier row of its conversation),
    /// when there is one. Filled by the operator's list and show, not by a claim.
    pub held_by: Option<HeldBy>,
}

/// The dead letter holding a row back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldBy {
    pub id: i64,
    pub message_id: String,
}

/// A row claimed by a worker, with the token that proves the lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub item: OutboxItem,
    pub token: String,
}

/// What to record after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// Delivered (2xx, and the acknowledgment when one was requested).
    Done,
    /// Failed; try again at this time.
    Retry { next_at: DateTime<Utc> },
    /// Failed for good: dead letter.
    Dead,
    /// Not attempted (the partner's circuit is open): back to the queue without counting an
    /// attempt.
    Postpone { next_at: DateTime<Utc> },
    /// Not attempted, for good: the row's attempts reached the bound already, the last ones
    /// without a recorded outcome (their worker stopped while it sent). Dead letter.
    Exhausted,
}

/// The record of one attempt by the holder of a lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    pub id: i64,
    pub token: String,
    pub at: DateTime<Utc>,
    pub outcome: AttemptOutcome,
    pub http_status: Option<u16>,
    pub error: Option<String>,
}

/// Figures for the outbox gauges.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutboxFigures {
    /// Rows PENDING or IN_FLIGHT.
    pub pending: u64,
    /// Age of the oldest of them that no dead letter holds back, since it was queued (or
    /// queued again); 0 when there is none.
    pub oldest_pending_age_seconds: f64,
    /// Dead letters that wait for an operator (not dropped).
    pub dead: u64,
    /// PENDING rows that a dead letter of their conversation holds back.
    pub held: u64,
}

/// What an inbound Acknowledgment did to the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckOutcome {
    /// The row was waiting (pending, in flight or a dead letter): it is done now.
    Completed { id: i64, was: OutboxStatus },
    /// The row was done already.
    AlreadyDone { id: i64 },
    /// No row with that MessageId was sent to that partner.
    Unknown,
}

/// What a partner's MessageError did to the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalOutcome {
    /// The row was waiting (pending or in flight): it is a dead letter now.
    DeadLettered { id: i64 },
    /// The row was done or dead already: unchanged.
    Unchanged { id: i64, status: OutboxStatus },
    /// No row with that MessageId was sent to that partner.
    Unknown,
}

/// What an operator action did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperatorOutcome {
    Done,
    /// No row with that id.
    NotFound,
    /// The row's state does not allow the action (e.g. replaying a row that is pending).
    WrongState(OutboxStatus),
    /// The row was dropped already (dropping it again would only overwrite its reason).
    DroppedAlready,
}

const COLS: &str = "id, message_id, conversation_id, conversation_seq, partner, content_type, \
    body, ack_requested, status, attempts, next_attempt_at, lease_until, last_error, \
    last_http_status, last_attempt_at, created_at, COALESCE(queued_at, created_at), done_at, \
    dropped_at";
const TYS: &[Ty] = TYS_WITH_HOLDER.split_at(COLUMNS).0;

/// How many columns [`COLS`] names.
const COLUMNS: usize = 19;

/// A row `p` that holds back the later rows of its conversation: not yet delivered, or a dead
/// letter that no operator dropped.
const HOLDS: &str = "(p.status IN ('PENDING', 'IN_FLIGHT') \
    OR (p.status = 'DEAD' AND p.dropped_at IS NULL))";

/// Row `o` waits behind a dead letter of its conversation that no operator dropped.
const HELD: &str = "EXISTS (SELECT 1 FROM outbox p WHERE p.conversation_id = o.conversation_id \
    AND p.partner = o.partner AND p.conversation_seq < o.conversation_seq \
    AND p.status = 'DEAD' AND p.dropped_at IS NULL)";

/// The columns of [`COLS`] and, for a PENDING row `o`, the dead letter that holds it back
/// (the earliest of its conversation), for the operator's views.
fn cols_with_holder() -> String {
    let holder = |col: &str| {
        format!(
            "CASE WHEN o.status = 'PENDING' THEN (SELECT p.{col} FROM outbox p \
             WHERE p.conversation_id = o.conversation_id AND p.partner = o.partner \
             AND p.conversation_seq < o.conversation_seq \
             AND p.status = 'DEAD' AND p.dropped_at IS NULL \
             ORDER BY p.conversation_seq LIMIT 1) END"
        )
    };
    format!("{COLS}, {}, {}", holder("id"), holder("message_id"))
}

/// The types of [`cols_with_holder`]: those of [`COLS`], then the holder's id and MessageId.
const TYS_WITH_HOLDER: &[Ty] = &[
    Ty::I64,
    Ty::Text,
    Ty::Text,
    Ty::I64,
    Ty::Text,
    Ty::Text,
    Ty::Bytes,
    Ty::Bool,
    Ty::Text,
    Ty::I64,
    Ty::Time,
    Ty::Time,
    Ty::Text,
    Ty::I64,
    Ty::Time,
    Ty::Time,
    Ty::Time,
    Ty::Time,
    Ty::Time,
    // the holder
    Ty::I64,
    Ty::Text,
];

/// A row of [`cols_with_holder`].
fn item_with_holder(r: &Row) -> Result<OutboxItem, StoreError> {
    let mut i = item(r)?;
    i.held_by = match (r.opt_i64(COLUMNS)?, r.opt_text(COLUMNS + 1)?) {
        (Some(id), Some(message_id)) => Some(HeldBy { id, message_id }),
        _ => None,
    };
    Ok(i)
}

fn item(r: &Row) -> Result<OutboxItem, StoreError> {
    let status = r.text(8)?;
    Ok(OutboxItem {
        id: r.i64(0)?,
        message_id: r.text(1)?,
        conversation_id: r.text(2)?,
        conversation_seq: r.i64(3)?,
        partner: r.text(4)?,
        content_type: r.text(5)?,
        body: r.bytes(6)?,
        ack_requested: r.bool(7)?,
        status: OutboxStatus::from_code(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("outbox status `{status}`")))?,
        attempts: u32::try_from(r.i64(9)?).unwrap_or(u32::MAX),
        next_attempt_at: r.time(10)?,
        lease_until: r.opt_time(11)?,
        last_error: r.opt_text(12)?,
        last_http_status: r.opt_i64(13)?.and_then(|s| u16::try_from(s).ok()),
        last_attempt_at: r.opt_time(14)?,
        created_at: r.time(15)?,
        queued_at: r.time(16)?,
        done_at: r.opt_time(17)?,
        dropped_at: r.opt_time(18)?,
        held_by: None,
    })
}

/// Claims up to `limit` due rows for `lease`, oldest first.
pub(crate) async fn claim<C: Conn>(
    c: &mut C,
    now: DateTime<Utc>,
    lease: Duration,
    limit: usize,
    token: &str,
) -> Result<Vec<Claimed>, StoreError> {
    let now = micros(now);
    let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::hours(1));
    let lock = match c.dialect() {
        Dialect::Postgres => " FOR UPDATE OF o SKIP LOCKED",
        Dialect::Sqlite => "",
    };
    // A row whose lease expired was being sent when its worker stopped: that attempt counts.
    let sql = format!(
        "UPDATE outbox SET status = 'IN_FLIGHT', lease_until = $2, lease_token = $3, \
         attempts = CASE WHEN status = 'IN_FLIGHT' THEN attempts + 1 ELSE attempts END \
         WHERE id IN (SELECT o.id FROM outbox o WHERE {} ORDER BY o.id LIMIT $4{lock}) \
         RETURNING {COLS}",
        due_and_first()
    );
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = c.rows(&sql, args![now, until, token, limit], TYS).await?;
    let mut out = rows
        .iter()
        .map(|r| {
            Ok(Claimed {
                item: item(r)?,
                token: token.to_string(),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    out.sort_by_key(|c| c.item.id);
    Ok(out)
}

/// The condition on a row `o` that a claim at `$1` takes: due (PENDING and `next_attempt_at`
/// reached, or IN_FLIGHT with an expired lease), and no earlier row of its conversation
/// [`HOLDS`] it back.
fn due_and_first() -> String {
    format!(
        "((o.status = 'PENDING' AND o.next_attempt_at <= $1) \
          OR (o.status = 'IN_FLIGHT' AND o.lease_until <= $1)) \
         AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.conversation_id = o.conversation_id \
            AND p.partner = o.partner AND p.conversation_seq < o.conversation_seq AND {HOLDS})"
    )
}

/// Whether a claim at `now` would find a row (the same condition, on a reader): rows held back
/// by an earlier one, a dead letter above all, do not make the SQLite writer take a turn.
pub(crate) async fn any_due<C: Conn>(c: &mut C, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let sql = format!("SELECT 1 FROM outbox o WHERE {} LIMIT 1", due_and_first());
    let row = c.opt_row(&sql, args![micros(now)], &[Ty::I64]).await?;
    Ok(row.is_some())
}

/// Records an attempt; `false` when the lease was lost (another worker took the row over, or
/// an operator dropped it) and nothing was changed.
pub(crate) async fn record<C: Conn>(c: &mut C, rec: &AttemptRecord) -> Result<bool, StoreError> {
    let at = micros(rec.at);
    let status = rec.http_status.map(i64::from);
    let error = rec.error.as_deref();
    let n = match &rec.outcome {
        AttemptOutcome::Done => {
            c.exec(
                "UPDATE outbox SET status = 'DONE', attempts = attempts + 1, done_at = $3, \
                 last_attempt_at = $3, last_http_status = $4, last_error = NULL, \
                 lease_until = NULL, lease_token = NULL \
                 WHERE id = $1 AND lease_token = $2 AND status = 'IN_FLIGHT'",
                args![rec.id, &rec.token, at, status],
            )
            .await?
        }
        AttemptOutcome::Dead => {
            c.exec(
                "UPDATE outbox SET status = 'DEAD', attempts = attempts + 1, \
                 last_attempt_at = $3, last_http_status = $4, last_error = $5, \
                 lease_until = NULL, lease_token = NULL \
                 WHERE id = $1 AND lease_token = $2 AND status = 'IN_FLIGHT'",
                args![rec.id, &rec.token, at, status, error],
            )
            .await?
        }
        AttemptOutcome::Exhausted => {
            c.exec(
                "UPDATE outbox SET status = 'DEAD', last_error = $3, \
                 lease_until = NULL, lease_token = NULL \
                 WHERE id = $1 AND lease_token = $2 AND status = 'IN_FLIGHT'",
                args![rec.id, &rec.token, error],
            )
            .await?
        }
        AttemptOutcome::Retry { next_at } => {
            c.exec(
                "UPDATE outbox SET status = 'PENDING', attempts = attempts + 1, \
                 next_attempt_at = $6, last_attempt_at = $3, last_http_status = $4, \
                 last_error = $5, lease_until = NULL, lease_token = NULL \
                 WHERE id = $1 AND lease_token = $2 AND status = 'IN_FLIGHT'",
                args![rec.id, &rec.token, at, status, error, micros(*next_at)],
            )
            .await?
        }
        AttemptOutcome::Postpone { next_at } => {
            c.exec(
                "UPDATE outbox SET status = 'PENDING', next_attempt_at = $3, \
                 lease_until = NULL, lease_token = NULL \
                 WHERE id = $1 AND lease_token = $2 AND status = 'IN_FLIGHT'",
                args![rec.id, &rec.token, micros(*next_at)],
            )
            .await?
        }
    };
    Ok(n == 1)
}

/// Puts rows whose lease has expired back into the queue (at start-up); returns how many.
/// Each was being sent when its worker stopped: that attempt counts.
pub(crate) async fn requeue_expired<C: Conn>(
    c: &mut C,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    c.exec(
        "UPDATE outbox SET status = 'PENDING', lease_until = NULL, lease_token = NULL, \
         attempts = attempts + 1 WHERE status = 'IN_FLIGHT' AND lease_until <= $1",
        args![micros(now)],
    )
    .await
}

pub(crate) async fn get<C: Conn>(c: &mut C, id: i64) -> Result<Option<OutboxItem>, StoreError> {
    let sql = format!(
        "SELECT {} FROM outbox o WHERE o.id = $1",
        cols_with_holder()
    );
    c.opt_row(&sql, args![id], TYS_WITH_HOLDER)
        .await?
        .map(|r| item_with_holder(&r))
        .transpose()
}

pub(crate) async fn list<C: Conn>(
    c: &mut C,
    status: Option<OutboxStatus>,
    limit: usize,
) -> Result<Vec<OutboxItem>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let cols = cols_with_holder();
    let rows = match status {
        Some(s) => {
            let sql =
                format!("SELECT {cols} FROM outbox o WHERE o.status = $1 ORDER BY o.id LIMIT $2");
            c.rows(&sql, args![s.code(), limit], TYS_WITH_HOLDER)
                .await?
        }
        None => {
            let sql = format!("SELECT {cols} FROM outbox o ORDER BY o.id LIMIT $1");
            c.rows(&sql, args![limit], TYS_WITH_HOLDER).await?
        }
    };
    rows.iter().map(item_with_holder).collect()
}

pub(crate) async fn figures<C: Conn>(
    c: &mut C,
    now: DateTime<Utc>,
) -> Result<OutboxFigures, StoreError> {
    let r = c
        .one_row(
            // The age of a row behind a dead letter is `held`'s to show: it does not age (it
            // is not attempted), and its age starts again when it is released.
            &format!(
                "SELECT COUNT(*), MIN(CASE WHEN NOT {HELD} \
                 THEN COALESCE(o.queued_at, o.created_at) END) FROM outbox o \
                 WHERE o.status IN ('PENDING', 'IN_FLIGHT')"
            ),
            args![],
            &[Ty::I64, Ty::Time],
        )
        .await?;
    let pending = u64::try_from(r.i64(0)?).unwrap_or(0);
    let oldest = r
        .opt_time(1)?
        .map(|t| ((now - t).num_milliseconds().max(0) as f64) / 1000.0)
        .unwrap_or(0.0);
    let stuck = c
        .one_row(
            &format!(
                "SELECT (SELECT COUNT(*) FROM outbox p WHERE p.status = 'DEAD' \
                 AND p.dropped_at IS NULL), \
                 (SELECT COUNT(*) FROM outbox o WHERE o.status = 'PENDING' AND {HELD})"
            ),
            args![],
            &[Ty::I64, Ty::I64],
        )
        .await?;
    Ok(OutboxFigures {
        pending,
        oldest_pending_age_seconds: oldest,
        dead: u64::try_from(stuck.i64(0)?).unwrap_or(0),
        held: u64::try_from(stuck.i64(1)?).unwrap_or(0),
    })
}

/// The audit target naming an outbox row.
pub fn outbox_target(id: i64) -> String {
    format!("outbox/{id}")
}

/// What the operator's actions and an acknowledgment need to know of a row, read under a
/// row lock on PostgreSQL (on SQLite the writer is alone).
struct Locked {
    id: i64,
    status: OutboxStatus,
    /// A dead letter that holds back the later rows of its conversation.
    holds: bool,
    conversation_id: String,
    conversation_seq: i64,
    partner: String,
}

async fn locked<C: Conn>(c: &mut C, by: &str, args: Vec<V>) -> Result<Option<Locked>, StoreError> {
    let lock = match c.dialect() {
        Dialect::Postgres => " FOR UPDATE",
        Dialect::Sqlite => "",
    };
    let sql = format!(
        "SELECT id, status, dropped_at, conversation_id, conversation_seq, partner FROM outbox \
         WHERE {by}{lock}"
    );
    let tys = &[Ty::I64, Ty::Text, Ty::Time, Ty::Text, Ty::I64, Ty::Text];
    let Some(r) = c.opt_row(&sql, args, tys).await? else {
        return Ok(None);
    };
    let s = r.text(1)?;
    let status = OutboxStatus::from_code(&s)
        .ok_or_else(|| StoreError::Corrupt(format!("outbox status `{s}`")))?;
    Ok(Some(Locked {
        id: r.i64(0)?,
        status,
        holds: status == OutboxStatus::Dead && r.opt_time(2)?.is_none(),
        conversation_id: r.text(3)?,
        conversation_seq: r.i64(4)?,
        partner: r.text(5)?,
    }))
}

/// The later rows of a conversation that a dead letter held back, released by its replay,
/// drop or acknowledgment: their delivery age starts again (they were never attempted
/// meanwhile, and would otherwise be given up on for the time they waited).
async fn release_held<C: Conn>(
    c: &mut C,
    row: &Locked,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if !row.holds {
        return Ok(());
    }
    c.exec(
        "UPDATE outbox SET queued_at = $3 WHERE conversation_id = $1 AND partner = $4 \
         AND conversation_seq > $2 AND status = 'PENDING'",
        args![
            &row.conversation_id,
            row.conversation_seq,
            now,
            &row.partner
        ],
    )
    .await?;
    Ok(())
}

/// Queues a DEAD (or DONE) row again for delivery, with a fresh attempt budget. The later rows
/// of its conversation go after it.
pub(crate) async fn replay<C: Conn>(
    c: &mut C,
    id: i64,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<OperatorOutcome, StoreError> {
    let now = micros(now);
    let row = match locked(c, "id = $1", args![id]).await? {
        None => return Ok(OperatorOutcome::NotFound),
        Some(Locked {
            status: s @ (OutboxStatus::Pending | OutboxStatus::InFlight),
            ..
        }) => return Ok(OperatorOutcome::WrongState(s)),
        Some(row) => row,
    };
    c.exec(
        "UPDATE outbox SET status = 'PENDING', attempts = 0, next_attempt_at = $2, \
         queued_at = $2, done_at = NULL, dropped_at = NULL, lease_until = NULL, \
         lease_token = NULL, last_error = NULL, last_http_status = NULL WHERE id = $1",
        args![id, now],
    )
    .await?;
    release_held(c, &row, now).await?;
    audit(
        c,
        &AuditEntry {
            at: now,
            actor: actor.to_string(),
            action: "replay".into(),
            target: outbox_target(id),
            detail: String::new(),
        },
    )
    .await?;
    Ok(OperatorOutcome::Done)
}

/// Takes a PENDING, IN_FLIGHT or DEAD row out of delivery for good (it becomes DEAD with the
/// operator's reason, and holds nothing back); a worker holding it can no longer record
/// anything.
pub(crate) async fn drop_row<C: Conn>(
    c: &mut C,
    id: i64,
    actor: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<OperatorOutcome, StoreError> {
    let now = micros(now);
    let row = match locked(c, "id = $1", args![id]).await? {
        None => return Ok(OperatorOutcome::NotFound),
        Some(Locked {
            status: OutboxStatus::Done,
            ..
        }) => return Ok(OperatorOutcome::WrongState(OutboxStatus::Done)),
        Some(Locked {
            status: OutboxStatus::Dead,
            holds: false,
            ..
        }) => return Ok(OperatorOutcome::DroppedAlready),
        Some(row) => row,
    };
    let entry = AuditEntry {
        at: now,
        actor: actor.to_string(),
        action: "drop".into(),
        target: outbox_target(id),
        detail: reason.to_string(),
    };
    take_out(c, id, &format!("dropped by {actor}: {reason}"), &entry).await?;
    release_held(c, &row, now).await?;
    Ok(OperatorOutcome::Done)
}

/// Takes row `id` out of delivery (a DEAD row that holds nothing back), saying why, and audits
/// it.
async fn take_out<C: Conn>(
    c: &mut C,
    id: i64,
    why: &str,
    entry: &AuditEntry,
) -> Result<(), StoreError> {
    c.exec(
        "UPDATE outbox SET status = 'DEAD', last_error = $2, dropped_at = $3, \
         lease_until = NULL, lease_token = NULL WHERE id = $1",
        args![id, why, entry.at],
    )
    .await?;
    audit(c, entry).await
}

/// Takes the responses about the request stored as `request_pk` (those that give its
/// RequestId's decision) that wait to be sent out of delivery, as a drop does (the later rows
/// of their conversations are not held back by them), audited with actor `system` and `why`:
/// the request was cancelled or replaced, and its partner is told so in the answer to that
/// message. A response being sent (in flight) is left: it may still arrive after that answer.
/// Returns the rows taken out.
pub(crate) async fn withdraw_outdated<C: Conn>(
    c: &mut C,
    request_pk: i64,
    why: &str,
    now: DateTime<Utc>,
) -> Result<Vec<i64>, StoreError> {
    let lock = match c.dialect() {
        Dialect::Postgres => " FOR UPDATE",
        Dialect::Sqlite => "",
    };
    let rows = c
        .rows(
            &format!(
                "SELECT id FROM outbox WHERE status = 'PENDING' AND about_request_id = \
                 (SELECT request_id FROM requests WHERE id = $1) ORDER BY id{lock}"
            ),
            args![request_pk],
            &[Ty::I64],
        )
        .await?;
    let now = micros(now);
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let id = r.i64(0)?;
        let entry = AuditEntry {
            at: now,
            actor: "system".into(),
            action: "withdraw".into(),
            target: outbox_target(id),
            detail: why.to_string(),
        };
        take_out(c, id, &format!("outdated, not sent: {why}"), &entry).await?;
        out.push(id);
    }
    Ok(out)
}

/// An Acknowledgment from `partner` of the message `message_id`: completes the row sent to
/// that partner with that MessageId, whatever its state (pending while the worker waits to
/// send it again, in flight, or a dead letter: the partner has it). A row that is done, or
/// sent to another partner, or none at all, is left alone.
pub(crate) async fn acknowledge<C: Conn>(
    c: &mut C,
    message_id: &str,
    partner: &str,
    now: DateTime<Utc>,
) -> Result<AckOutcome, StoreError> {
    let now = micros(now);
    let by = "message_id = $1 AND partner = $2";
    let row = match locked(c, by, args![message_id, partner]).await? {
        None => return Ok(AckOutcome::Unknown),
        Some(Locked {
            id,
            status: OutboxStatus::Done,
            ..
        }) => return Ok(AckOutcome::AlreadyDone { id }),
        Some(row) => row,
    };
    c.exec(
        "UPDATE outbox SET status = 'DONE', done_at = $2, last_error = NULL, \
         lease_until = NULL, lease_token = NULL WHERE id = $1",
        args![row.id, now],
    )
    .await?;
    release_held(c, &row, now).await?;
    Ok(AckOutcome::Completed {
        id: row.id,
        was: row.status,
    })
}

/// The partner refused a message the gateway sent it (an `eb:ErrorList` of severity Error
/// that refers to it): sending the same bytes again would be refused again, so the row
/// becomes a dead letter with the partner's errors, for an operator to see (and to replay
/// once the cause is fixed). It holds back the later rows of its conversation, as any.
pub(crate) async fn refuse<C: Conn>(
    c: &mut C,
    message_id: &str,
    partner: &str,
    reason: &str,
) -> Result<RefusalOutcome, StoreError> {
    let by = "message_id = $1 AND partner = $2";
    let row = match locked(c, by, args![message_id, partner]).await? {
        None => return Ok(RefusalOutcome::Unknown),
        Some(Locked {
            id,
            status: status @ (OutboxStatus::Done | OutboxStatus::Dead),
            ..
        }) => return Ok(RefusalOutcome::Unchanged { id, status }),
        Some(row) => row,
    };
    c.exec(
        "UPDATE outbox SET status = 'DEAD', last_error = $2, lease_until = NULL, \
         lease_token = NULL WHERE id = $1",
        args![row.id, format!("refused by the partner: {reason}")],
    )
    .await?;
    Ok(RefusalOutcome::DeadLettered { id: row.id })
}

fn new_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl Store {
    /// Claims up to `limit` due outbox rows for `lease` (see the module invariants).
    pub async fn outbox_claim(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Claimed>, StoreError> {
        let token = new_token();
        if let Store::Sqlite(s) = self {
            // Mostly nothing is due: a reader says so without taking a turn of the writer
            // (whose batch a claim would put under savepoints). A row that becomes due just
            // after is claimed by the next round.
            if !any_due(&mut *s.reader().await?, now).await? {
                return Ok(Vec::new());
            }
        }
        in_tx!(self, [token], c => claim(c, now, lease, limit, &token).await)
    }

    /// Completes the row of an inbound Acknowledgment (see [`acknowledge`]).
    pub async fn outbox_acknowledge(
        &self,
        message_id: &str,
        partner: &str,
        now: DateTime<Utc>,
    ) -> Result<AckOutcome, StoreError> {
        let (message_id, partner) = (message_id.to_string(), partner.to_string());
        in_tx!(self, [message_id, partner], c => {
            acknowledge(c, &message_id, &partner, now).await
        })
    }

    /// A partner's MessageError about a message it was sent (see [`refuse`]).
    pub async fn outbox_refused(
        &self,
        message_id: &str,
        partner: &str,
        reason: &str,
    ) -> Result<RefusalOutcome, StoreError> {
        let (message_id, partner, reason) = (
            message_id.to_string(),
            partner.to_string(),
            reason.to_string(),
        );
        in_tx!(self, [message_id, partner, reason], c => {
            refuse(c, &message_id, &partner, &reason).await
        })
    }

    /// Records the result of an attempt; `Ok(false)` when the lease was lost.
    pub async fn outbox_record(&self, rec: AttemptRecord) -> Result<bool, StoreError> {
        in_tx!(self, [rec], c => record(c, &rec).await)
    }

    /// Re-queues the rows whose lease has expired (a worker crashed); returns how many.
    pub async fn outbox_requeue_expired(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        in_tx!(self, [], c => requeue_expired(c, now).await)
    }

    /// One outbox row.
    pub async fn outbox_get(&self, id: i64) -> Result<Option<OutboxItem>, StoreError> {
        read!(self, c => get(c, id).await)
    }

    /// Outbox rows, oldest first, optionally of one status.
    pub async fn outbox_list(
        &self,
        status: Option<OutboxStatus>,
        limit: usize,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        read!(self, c => list(c, status, limit).await)
    }

    /// Pending count and age of the oldest pending row.
    pub async fn outbox_figures(&self, now: DateTime<Utc>) -> Result<OutboxFigures, StoreError> {
        read!(self, c => figures(c, now).await)
    }

    /// Queues a DEAD or DONE row again, audited.
    pub async fn outbox_replay(
        &self,
        id: i64,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<OperatorOutcome, StoreError> {
        let actor = actor.to_string();
        in_tx!(self, [actor], c => replay(c, id, &actor, now).await)
    }

    /// Takes a row out of delivery (DEAD, with the reason), audited.
    pub async fn outbox_drop(
        &self,
        id: i64,
        actor: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<OperatorOutcome, StoreError> {
        let (actor, reason) = (actor.to_string(), reason.to_string());
        in_tx!(self, [actor, reason], c => drop_row(c, id, &actor, &reason, now).await)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap()
    }

    const LEASE: Duration = Duration::from_secs(60);

    async fn insert(store: &Store, message_id: &str, conversation: &str, seq: i64) -> i64 {
        insert_for(store, "NSW", message_id, conversation, seq).await
    }

    async fn insert_for(
        store: &Store,
        partner: &str,
        message_id: &str,
        conversation: &str,
        seq: i64,
    ) -> i64 {
        let (m, c, p) = (
            message_id.to_string(),
            conversation.to_string(),
            partner.to_string(),
        );
        let sql = "INSERT INTO outbox (message_id, conversation_id, conversation_seq, partner, \
                   content_type, body, ack_requested, status, attempts, next_attempt_at, created_at) \
                   VALUES ($1, $2, $3, $6, 'text/xml', $4, false, 'PENDING', 0, $5, $5) RETURNING id";
        let row = in_tx!(store, [m, c, p], conn => {
            conn.one_row(
                sql,
                args![m.as_str(), c.as_str(), seq, m.as_bytes(), t0(), p.as_str()],
                &[Ty::I64],
            )
            .await
        });
        row.unwrap().i64(0).unwrap()
    }

    /// Each sender chooses its ConversationIds: two partners' rows under one ConversationId
    /// keep their own order, and one's dead letter holds back only its own later rows.
    async fn a_conversation_is_a_partners_own(store: &Store) {
        let n1 = insert_for(store, "NSW", "n1", "SAME", 1).await;
        insert_for(store, "BROKER", "b1", "SAME", 2).await;
        insert_for(store, "NSW", "n2", "SAME", 3).await;
        insert_for(store, "BROKER", "b2", "SAME", 4).await;
        let first = store.outbox_claim(t0(), LEASE, 10).await.unwrap();
        assert_eq!(
            ids(&first),
            ["n1", "b1"],
            "one in flight per partner's conversation"
        );
        for (c, outcome) in first
            .iter()
            .zip([AttemptOutcome::Dead, AttemptOutcome::Done])
        {
            assert!(store.outbox_record(rec(c, outcome, t0())).await.unwrap());
        }
        let next = store.outbox_claim(t0(), LEASE, 10).await.unwrap();
        assert_eq!(ids(&next), ["b2"], "the broker's go on; the NSW's wait");
        let held: Vec<_> = store
            .outbox_list(Some(OutboxStatus::Pending), 10)
            .await
            .unwrap()
            .into_iter()
            .map(|i| (i.message_id, i.held_by.map(|h| h.id)))
            .collect();
        assert_eq!(held, [("n2".to_string(), Some(n1))]);
    }

    fn ids(c: &[Claimed]) -> Vec<String> {
        c.iter().map(|c| c.item.message_id.clone()).collect()
    }

    fn rec(c: &Claimed, outcome: AttemptOutcome, at: DateTime<Utc>) -> AttemptRecord {
        AttemptRecord {
            id: c.item.id,
            token: c.token.clone(),
            at,
            outcome,
            http_status: Some(200),
            error: None,
        }
    }

    async fn claim_keeps_conversation_order(store: &Store) {
        insert(store, "a1", "A", 1).await;
        insert(store, "a2", "A", 2).await;
        insert(store, "b1", "B", 1).await;
        let first = store.outbox_claim(t0(), LEASE, 10).await.unwrap();
        assert_eq!(ids(&first), ["a1", "b1"]);
        assert!(store
            .outbox_claim(t0(), LEASE, 10)
            .await
            .unwrap()
            .is_empty());
        assert!(store
            .outbox_record(rec(&first[0], AttemptOutcome::Done, t0()))
            .await
            .unwrap());
        let next = store.outbox_claim(t0(), LEASE, 10).await.unwrap();
        assert_eq!(ids(&next), ["a2"]);
        // A retry in the future keeps the conversation's later rows waiting; a dead row
        // does not.
        assert!(store
            .outbox_record(rec(&first[1], AttemptOutcome::Dead, t0()))
            .await
            .unwrap());
        let later = t0() + chrono::Duration::seconds(30);
        assert!(store
            .outbox_record(rec(
                &next[0],
                AttemptOutcome::Retry { next_at: later },
                t0()
            ))
            .await
            .unwrap());
        assert!(store
            .outbox_claim(t0(), LEASE, 10)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            ids(&store.outbox_claim(later, LEASE, 10).await.unwrap()),
            ["a2"]
        );
        let f = store.outbox_figures(later).await.unwrap();
        assert_eq!(f.pending, 1);
        assert_eq!(f.oldest_pending_age_seconds, 30.0);
    }

    async fn expired_lease_is_taken_over(store: &Store) {
        let id = insert(store, "m1", "C", 1).await;
        let first = store.outbox_claim(t0(), LEASE, 10).await.unwrap();
        assert_eq!(first.len(), 1);
        let within = t0() + chrono::Duration::seconds(59);
        assert!(store
            .outbox_claim(within, LEASE, 10)
            .await
            .unwrap()
            .is_empty());
        let after = t0() + chrono::Duration::seconds(60);
        let second = store.outbox_claim(after, LEASE, 10).await.unwrap();
        assert_eq!(ids(&second), ["m1"]);
        assert_ne!(first[0].token, second[0].token);
        assert_eq!(
            second[0].item.attempts, 1,
            "the attempt that never returned counts"
        );
        assert!(
            !store
                .outbox_record(rec(&first[0], AttemptOutcome::Done, after))
                .await
                .unwrap(),
            "the old holder lost its lease"
        );
        assert!(store
            .outbox_record(rec(&second[0], AttemptOutcome::Done, after))
            .await
            .unwrap());
        let row = store.outbox_get(id).await.unwrap().unwrap();
        assert_eq!(row.status, OutboxStatus::Done);
        assert_eq!(row.attempts, 2);
    }

    async fn requeue_and_operator_actions(store: &Store) {
        let id = insert(store, "r1", "D", 1).await;
        let claimed = store.outbox_claim(t0(), LEASE, 10).await.unwrap();
        assert_eq!(store.outbox_requeue_expired(t0()).await.unwrap(), 0);
        let later = t0() + chrono::Duration::seconds(61);
        assert_eq!(store.outbox_requeue_expired(later).await.unwrap(), 1);
        let requeued = store.outbox_get(id).await.unwrap().unwrap();
        assert_eq!(
            (requeued.status, requeued.attempts),
            (OutboxStatus::Pending, 1),
            "the attempt that never returned counts"
        );
        assert!(!store
            .outbox_record(rec(&claimed[0], AttemptOutcome::Done, later))
            .await
            .unwrap());

        assert_eq!(
            store.outbox_replay(id, "admin", later).await.unwrap(),
            OperatorOutcome::WrongState(OutboxStatus::Pending)
        );
        assert_eq!(
            store
                .outbox_drop(id, "admin", "wrong partner", later)
                .await
                .unwrap(),
            OperatorOutcome::Done
        );
        assert!(store
            .outbox_claim(later, LEASE, 10)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            store.outbox_replay(id, "officer:x", later).await.unwrap(),
            OperatorOutcome::Done
        );
        assert_eq!(
            store.outbox_replay(id + 100, "admin", later).await.unwrap(),
            OperatorOutcome::NotFound
        );
        let row = store.outbox_get(id).await.unwrap().unwrap();
        assert_eq!(row.status, OutboxStatus::Pending);
        assert_eq!(row.attempts, 0);
        assert_eq!(row.queued_at, later);
        let audit = store.audit_log(&outbox_target(id)).await.unwrap();
        let got: Vec<_> = audit
            .iter()
            .map(|a| (a.actor.as_str(), a.action.as_str(), a.detail.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("admin", "drop", "wrong partner"),
                ("officer:x", "replay", "")
            ]
        );
    }

    /// The later rows of a conversation wait for its dead letter: they are not claimed, and
    /// the operator sees which row holds them; a replay sends the dead letter first, then
    /// them, and their age starts again.
    async fn a_dead_letter_holds_back_its_conversation(store: &Store) {
        let a1 = insert(store, "a1", "A", 1).await;
        let a2 = insert(store, "a2", "A", 2).await;
        let a3 = insert(store, "a3", "A", 3).await;
        insert(store, "b1", "B", 1).await;
        let first = store.outbox_claim(t0(), LEASE, 10).await.unwrap();
        assert_eq!(ids(&first), ["a1", "b1"]);
        assert!(store
            .outbox_record(rec(&first[0], AttemptOutcome::Dead, t0()))
            .await
            .unwrap());
        assert!(store
            .outbox_record(rec(&first[1], AttemptOutcome::Done, t0()))
            .await
            .unwrap());
        let much_later = t0() + chrono::Duration::days(3);
        assert!(
            store
                .outbox_claim(much_later, LEASE, 10)
                .await
                .unwrap()
                .is_empty(),
            "held back by the dead letter"
        );
        let held = HeldBy {
            id: a1,
            message_id: "a1".into(),
        };
        let listed = store.outbox_list(None, 10).await.unwrap();
        let holders: Vec<_> = listed
            .iter()
            .map(|i| (i.message_id.as_str(), i.held_by.clone()))
            .collect();
        assert_eq!(
            holders,
            [
                ("a1", None),
                ("a2", Some(held.clone())),
                ("a3", Some(held.clone())),
                ("b1", None)
            ]
        );
        let shown = store.outbox_get(a2).await.unwrap().unwrap();
        assert_eq!(
            (shown.status, shown.attempts, shown.held_by),
            (OutboxStatus::Pending, 0, Some(held))
        );
        let pending = store
            .outbox_list(Some(OutboxStatus::Pending), 10)
            .await
            .unwrap();
        assert!(pending.iter().all(|i| i.held_by.is_some()), "{pending:?}");

        assert_eq!(
            store.outbox_replay(a1, "admin", much_later).await.unwrap(),
            OperatorOutcome::Done
        );
        for id in [a2, a3] {
            let row = store.outbox_get(id).await.unwrap().unwrap();
            assert_eq!(row.held_by, None);
            assert_eq!(row.queued_at, much_later, "its age starts again");
        }
        let replayed = store.outbox_claim(much_later, LEASE, 10).await.unwrap();
        assert_eq!(ids(&replayed), ["a1"], "the dead letter goes first");
        assert!(store
            .outbox_record(rec(&replayed[0], AttemptOutcome::Done, much_later))
            .await
            .unwrap());
        let next = store.outbox_claim(much_later, LEASE, 10).await.unwrap();
        assert_eq!(ids(&next), ["a2"]);
        assert!(store
            .outbox_record(rec(&next[0], AttemptOutcome::Done, much_later))
            .await
            .unwrap());
        assert_eq!(
            ids(&store.outbox_claim(much_later, LEASE, 10).await.unwrap()),
            ["a3"]
        );
    }

    /// A dead letter the operator drops holds nothing back any more.
    async fn a_dropped_dead_letter_lets_its_conversation_go_on(store: &Store) {
        let c1 = insert(store, "c1", "C", 1).await;
        let c2 = insert(store, "c2", "C", 2).await;
        let first = store.outbox_claim(t0(), LEASE, 10).await.unwrap();
        assert!(store
            .outbox_record(rec(&first[0], AttemptOutcome::Dead, t0()))
            .await
            .unwrap());
        let later = t0() + chrono::Duration::hours(1);
        assert!(store
            .outbox_claim(later, LEASE, 10)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            store
                .outbox_drop(c1, "admin", "sent by hand", later)
                .await
                .unwrap(),
            OperatorOutcome::Done
        );
        let dropped = store.outbox_get(c1).await.unwrap().unwrap();
        assert_eq!(
            (dropped.status, dropped.dropped_at),
            (OutboxStatus::Dead, Some(later))
        );
        let released = store.outbox_get(c2).await.unwrap().unwrap();
        assert_eq!((released.held_by, released.queued_at), (None, later));
        assert_eq!(
            ids(&store.outbox_claim(later, LEASE, 10).await.unwrap()),
            ["c2"]
        );
        // A replay of the dropped row puts it back in the queue, where it holds again.
        assert_eq!(
            store.outbox_replay(c1, "admin", later).await.unwrap(),
            OperatorOutcome::Done
        );
        let replayed = store.outbox_get(c1).await.unwrap().unwrap();
        assert_eq!(
            (replayed.status, replayed.dropped_at),
            (OutboxStatus::Pending, None)
        );
    }

    /// An Acknowledgment completes the row sent to its partner with its MessageId, in any
    /// state but done; anything else changes nothing.
    async fn acknowledgments_complete_their_row(store: &Store) {
        let m1 = insert(store, "m1", "M", 1).await;
        insert(store, "m2", "M", 2).await;
        let d1 = insert(store, "d1", "D", 1).await;
        insert(store, "d2", "D", 2).await;
        let first = store.outbox_claim(t0(), LEASE, 10).await.unwrap();
        assert_eq!(ids(&first), ["m1", "d1"]);
        let later = t0() + chrono::Duration::seconds(30);
        // 2xx without the Acknowledgment: the worker waits to send it again.
        assert!(store
            .outbox_record(rec(
                &first[0],
                AttemptOutcome::Retry { next_at: later },
                t0()
            ))
            .await
            .unwrap());
        assert!(store
            .outbox_record(rec(&first[1], AttemptOutcome::Dead, t0()))
            .await
            .unwrap());
        let now = t0() + chrono::Duration::seconds(5);
        assert_eq!(
            store.outbox_acknowledge("m1", "OTHER", now).await.unwrap(),
            AckOutcome::Unknown,
            "another partner's acknowledgment"
        );
        assert_eq!(
            store
                .outbox_acknowledge("unknown@nsw", "NSW", now)
                .await
                .unwrap(),
            AckOutcome::Unknown
        );
        assert_eq!(
            store.outbox_get(m1).await.unwrap().unwrap().status,
            OutboxStatus::Pending
        );
        assert_eq!(
            store.outbox_acknowledge("m1", "NSW", now).await.unwrap(),
            AckOutcome::Completed {
                id: m1,
                was: OutboxStatus::Pending
            }
        );
        assert_eq!(
            store.outbox_acknowledge("m1", "NSW", later).await.unwrap(),
            AckOutcome::AlreadyDone { id: m1 }
        );
        let done = store.outbox_get(m1).await.unwrap().unwrap();
        assert_eq!(
            (done.status, done.done_at, done.attempts),
            (OutboxStatus::Done, Some(now), 1)
        );
        // The next row of the conversation goes at once; the dead letter's waits for it.
        let next = store.outbox_claim(now, LEASE, 10).await.unwrap();
        assert_eq!(ids(&next), ["m2"]);
        // An acknowledgment of a row in flight completes it; its worker's record is refused.
        assert_eq!(
            store.outbox_acknowledge("m2", "NSW", now).await.unwrap(),
            AckOutcome::Completed {
                id: next[0].item.id,
                was: OutboxStatus::InFlight
            }
        );
        assert!(!store
            .outbox_record(rec(&next[0], AttemptOutcome::Done, now))
            .await
            .unwrap());
        // A dead letter acknowledged after all releases its conversation.
        assert_eq!(
            store.outbox_acknowledge("d1", "NSW", later).await.unwrap(),
            AckOutcome::Completed {
                id: d1,
                was: OutboxStatus::Dead
            }
        );
        assert_eq!(
            ids(&store.outbox_claim(later, LEASE, 10).await.unwrap()),
            ["d2"]
        );
    }

    /// On SQLite a claim that finds nothing due leaves the writer alone; one that finds a row
    /// takes its turn and claims it.
    #[tokio::test]
    async fn sqlite_claims_through_the_writer_only_when_a_row_is_due() {
        let db = crate::store::tests::sqlite_db().await;
        let Store::Sqlite(s) = &db.store else {
            unreachable!("a SQLite store")
        };
        // Claims at `at`: the message ids claimed and the writer's jobs it took.
        let store = &db.store;
        let claim_at = |at: DateTime<Utc>| async move {
            let before = s.stats().jobs();
            let claimed = store.outbox_claim(at, LEASE, 10).await.unwrap();
            (ids(&claimed), s.stats().jobs() - before)
        };
        assert_eq!(claim_at(t0()).await, (vec![], 0), "an empty outbox");
        insert(&db.store, "a1", "A", 1).await;
        let early = t0() - chrono::Duration::seconds(1);
        assert_eq!(claim_at(early).await, (vec![], 0), "a row not yet due");
        assert_eq!(
            claim_at(t0()).await,
            (vec!["a1".to_string()], 1),
            "a due row"
        );
        // In flight under its lease: not due until the lease runs out.
        assert_eq!(claim_at(t0()).await, (vec![], 0), "a row under its lease");
        let expired = t0() + chrono::Duration::seconds(61);
        assert_eq!(
            claim_at(expired).await,
            (vec!["a1".to_string()], 1),
            "an expired lease"
        );
        let expired_again = expired + chrono::Duration::seconds(61);
        let taken = store.outbox_claim(expired_again, LEASE, 10).await.unwrap();
        assert!(store
            .outbox_record(rec(&taken[0], AttemptOutcome::Dead, expired_again))
            .await
            .unwrap());
        insert(&db.store, "a2", "A", 2).await;
        assert_eq!(
            claim_at(expired_again).await,
            (vec![], 0),
            "a row held back by a dead letter"
        );
    }

    macro_rules! contract {
        ($($name:ident),* $(,)?) => {$(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    let db = crate::store::tests::sqlite_db().await;
                    super::$name(&db.store).await;
                }
                #[tokio::test]
                async fn postgres() {
                    if let Some(db) = crate::store::tests::pg_db().await {
                        super::$name(&db.store).await;
                    }
                }
            }
        )*};
    }

    contract!(
        claim_keeps_conversation_order,
        expired_lease_is_taken_over,
        requeue_and_operator_actions,
        a_dead_letter_holds_back_its_conversation,
        a_conversation_is_a_partners_own,
        a_dropped_dead_letter_lets_its_conversation_go_on,
        acknowledgments_complete_their_row,
    );
}
