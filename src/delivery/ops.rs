//! The operator's outbox commands (`nsw-gateway outbox …`), as plain functions over the
//! store that return the text to print.

use chrono::Utc;

use crate::store::{OperatorOutcome, OutboxItem, OutboxStatus, Store};

/// What stops a row, for the last column: the dead letter holding it back, else its last
/// error.
fn note(i: &OutboxItem) -> String {
    match &i.held_by {
        Some(h) => format!("held back by dead letter {} ({})", h.id, h.message_id),
        None => i.last_error.clone().unwrap_or_default(),
    }
}

fn line(i: &OutboxItem) -> String {
    format!(
        "{:>8}  {:<9}  {:>3}  {:<10}  {}  {}#{}  {}",
        i.id,
        i.status.code(),
        i.attempts,
        i.partner,
        i.next_attempt_at.format("%Y-%m-%dT%H:%M:%SZ"),
        i.conversation_id,
        i.conversation_seq,
        note(i)
    )
}

/// `outbox list [--status S]`: one line per row, oldest first.
pub async fn list(store: &Store, status: Option<&str>, limit: usize) -> anyhow::Result<String> {
    let status = match status {
        None => None,
        Some(s) => Some(
            OutboxStatus::from_code(&s.to_ascii_uppercase()).ok_or_else(|| {
                anyhow::anyhow!("--status: `{s}` is not one of PENDING, IN_FLIGHT, DONE, DEAD")
            })?,
        ),
    };
    let items = store.outbox_list(status, limit).await?;
    let mut out = format!(
        "{:>8}  {:<9}  {:>3}  {:<10}  {:<20}  {}  {}\n",
        "ID",
        "STATUS",
        "TRY",
        "PARTNER",
        "NEXT ATTEMPT",
        "CONVERSATION#SEQ",
        "HELD BY / LAST ERROR"
    );
    for i in &items {
        out.push_str(&line(i));
        out.push('\n');
    }
    out.push_str(&format!("{} row(s)\n", items.len()));
    Ok(out)
}

/// `outbox show ID`: every field, the audit trail and the stored message.
pub async fn show(store: &Store, id: i64) -> anyhow::Result<String> {
    let i = store
        .outbox_get(id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("outbox row {id} does not exist"))?;
    let mut out = String::new();
    let mut kv = |k: &str, v: String| out.push_str(&format!("{k:<17} {v}\n"));
    kv("id", i.id.to_string());
    kv("message_id", i.message_id.clone());
    kv(
        "conversation",
        format!("{} #{}", i.conversation_id, i.conversation_seq),
    );
    kv("partner", i.partner.clone());
    kv("status", i.status.code().to_string());
    kv("attempts", i.attempts.to_string());
    kv("ack_requested", i.ack_requested.to_string());
    kv("next_attempt_at", i.next_attempt_at.to_rfc3339());
    kv(
        "lease_until",
        i.lease_until.map(|t| t.to_rfc3339()).unwrap_or_default(),
    );
    kv(
        "last_attempt_at",
        i.last_attempt_at
            .map(|t| t.to_rfc3339())
            .unwrap_or_default(),
    );
    kv(
        "last_http_status",
        i.last_http_status
            .map(|s| s.to_string())
            .unwrap_or_default(),
    );
    kv("last_error", i.last_error.clone().unwrap_or_default());
    kv(
        "held_by",
        i.held_by
            .as_ref()
            .map(|h| format!("dead letter {} ({})", h.id, h.message_id))
            .unwrap_or_default(),
    );
    kv("created_at", i.created_at.to_rfc3339());
    kv("queued_at", i.queued_at.to_rfc3339());
    kv(
        "done_at",
        i.done_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
    );
    kv(
        "dropped_at",
        i.dropped_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
    );
    kv("content_type", i.content_type.clone());
    for a in store
        .audit_log(&crate::store::outbox::outbox_target(id))
        .await?
    {
        kv(
            "audit",
            format!(
                "{} {} {} {}",
                a.at.to_rfc3339(),
                a.actor,
                a.action,
                a.detail
            ),
        );
    }
    out.push('\n');
    out.push_str(&String::from_utf8_lossy(&i.body));
    out.push('\n');
    Ok(out)
}

fn outcome(id: i64, o: OperatorOutcome, verb: &str) -> anyhow::Result<String> {
    match o {
        OperatorOutcome::Done => Ok(format!("outbox row {id} {verb}\n")),
        OperatorOutcome::NotFound => anyhow::bail!("outbox row {id} does not exist"),
        OperatorOutcome::WrongState(s) => {
            anyhow::bail!("outbox row {id} is {}: it cannot be {verb}", s.code())
        }
        OperatorOutcome::DroppedAlready => {
            anyhow::bail!("outbox row {id} was dropped already; replay it to deliver it again")
        }
    }
}

/// `outbox replay ID`: a DEAD (or DONE) row is queued again with a fresh attempt budget; the
/// later rows of its conversation go after it.
pub async fn replay(store: &Store, id: i64, actor: &str) -> anyhow::Result<String> {
    outcome(
        id,
        store.outbox_replay(id, actor, Utc::now()).await?,
        "replayed",
    )
}

/// `outbox drop ID --reason R`: the row is taken out of delivery (DEAD, with the reason); the
/// later rows of its conversation no longer wait for it.
pub async fn drop(store: &Store, id: i64, actor: &str, reason: &str) -> anyhow::Result<String> {
    if reason.trim().is_empty() {
        anyhow::bail!("--reason: is required");
    }
    outcome(
        id,
        store
            .outbox_drop(id, actor, reason.trim(), Utc::now())
            .await?,
        "dropped",
    )
}
