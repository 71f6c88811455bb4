//! The audit log of what people change (`admin_audit`): operators' actions on outbox rows,
//! officers' decisions, API keys created and revoked. Each entry is written in the
//! transaction of the change it records.

use chrono::{DateTime, Utc};

use super::common::micros;
use super::sql::{args, Conn, Ty};
use super::{Store, StoreError};

/// A change someone made, recorded in the audit table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
}

pub(crate) async fn audit<C: Conn>(c: &mut C, e: &AuditEntry) -> Result<(), StoreError> {
    c.exec(
        "INSERT INTO admin_audit (at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)",
        args![micros(e.at), &e.actor, &e.action, &e.target, &e.detail],
    )
    .await?;
    Ok(())
}

pub(crate) async fn audit_log<C: Conn>(
    c: &mut C,
    target: &str,
) -> Result<Vec<AuditEntry>, StoreError> {
    let rows = c
        .rows(
            "SELECT at, actor, action, target, detail FROM admin_audit WHERE target = $1 ORDER BY id",
            args![target],
            &[Ty::Time, Ty::Text, Ty::Text, Ty::Text, Ty::Text],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(AuditEntry {
                at: r.time(0)?,
                actor: r.text(1)?,
                action: r.text(2)?,
                target: r.text(3)?,
                detail: r.text(4)?,
            })
        })
        .collect()
}

impl Store {
    /// The audited actions on a target (e.g. [`super::outbox::outbox_target`]), oldest first.
    pub async fn audit_log(&self, target: &str) -> Result<Vec<AuditEntry>, StoreError> {
        read!(self, c => audit_log(c, target).await)
    }
}
