//! Storage for the importer-facing status API: API keys (only their SHA-256 is kept) and the
//! read models of requests and permits (items with quantities and bilingual reasons, history).
//!
//! Everything here reads or writes through the same [`Conn`] layer as the rest of the store;
//! the statements are written in the SQL both SQLite and PostgreSQL accept.

use chrono::{DateTime, NaiveDate, Utc};

use super::audit::{audit, AuditEntry};
use super::sql::{args, Conn, Row, Ty};
use super::{Store, StoreError};
use crate::domain::{Amount, Branch, PartyKey, TaxNumber};

/// A key to store: its public id, the SHA-256 (hex) of the whole key, and what it may see.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub id: String,
    pub key_sha256: String,
    /// The broker the key was issued to; `None` for an importer's own key.
    pub broker: Option<String>,
    pub importers: Vec<PartyKey>,
    pub created_at: DateTime<Utc>,
    /// Who created it, for the audit log (e.g. `cli:alice`).
    pub actor: String,
}

/// A key to revoke, and who revokes it and why (for the audit log).
#[derive(Debug, Clone)]
pub struct Revocation {
    pub id: String,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub reason: String,
}

/// The audit target naming an API key.
pub fn api_key_target(id: &str) -> String {
    format!("apikey/{id}")
}

/// A stored key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub id: String,
    pub key_sha256: String,
    pub broker: Option<String>,
    pub importers: Vec<PartyKey>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The permit block of a request, with its own status (`ACTIVE` or `CANCELLED`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermitRecord {
    pub number: String,
    pub status: String,
    pub issue_date: NaiveDate,
    pub effective_date: NaiveDate,
    pub expiry_date: NaiveDate,
    pub arrival_date: NaiveDate,
    pub invoice_number: String,
    pub invoice_date: NaiveDate,
    pub load_port: String,
    pub discharge_port: String,
    pub country_of_destination: String,
    pub cancelled_at: Option<DateTime<Utc>>,
}

/// One reason of an item's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReasonRecord {
    pub code: String,
    pub field: String,
    pub message_th: String,
    pub message_en: String,
}

/// One goods item with its status, quantities and reasons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemRecord {
    pub item_number: i64,
    pub invoice_item_number: i64,
    pub hs_code: String,
    pub description: String,
    pub brand: String,
    pub model: String,
    pub country_of_origin: String,
    pub standard: Option<String>,
    pub status: String,
    pub unit: String,
    pub requested: Amount,
    pub approved: Amount,
    pub written_off: Amount,
    pub remaining: Amount,
    pub reasons: Vec<ReasonRecord>,
}

/// One state change of a reference (all its versions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRecord {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub state: String,
    pub reason_th: String,
    pub reason_en: String,
}

/// Everything the status API shows about one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub request_id: String,
    pub reference: String,
    pub importer_tax_number: String,
    pub importer_branch: String,
    pub importer_name: String,
    pub importer_name_en: Option<String>,
    pub agent_tax_number: Option<String>,
    pub agent_branch: Option<String>,
    pub agent_name: Option<String>,
    pub function: String,
    pub request_type: String,
    pub version: Option<i64>,
    pub decision: String,
    pub decided_at: DateTime<Utc>,
    pub arrival_date: NaiveDate,
    pub permit: Option<PermitRecord>,
    pub items: Vec<ItemRecord>,
    pub history: Vec<HistoryRecord>,
}

/// One line of an importer's request list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestSummary {
    /// The position in the list (for the cursor): larger is newer.
    pub seq: i64,
    pub request_id: String,
    pub reference: String,
    pub function: String,
    pub request_type: String,
    pub version: Option<i64>,
    pub decision: String,
    pub decided_at: DateTime<Utc>,
    pub arrival_date: NaiveDate,
    pub permit_number: Option<String>,
    pub permit_status: Option<String>,
    pub items: i64,
}

/// Which of an importer's requests to list: newest first, after the request `before` (the
/// last one of the previous page; none when it is not one of the importer's).
#[derive(Debug, Clone)]
pub struct RequestFilter {
    pub importer: PartyKey,
    /// A request decision code (`APPROVED`, …).
    pub decision: Option<String>,
    /// Decided at or after.
    pub from: Option<DateTime<Utc>>,
    /// Decided strictly before.
    pub until: Option<DateTime<Utc>>,
    /// The `request_id` of the last request of the previous page.
    pub before: Option<String>,
    pub limit: u32,
}

fn amount(v: i64) -> Result<Amount, StoreError> {
    u64::try_from(v)
        .map(Amount::from_milli)
        .map_err(|_| StoreError::Corrupt(format!("stored amount {v} is negative")))
}

fn party(tax: &str, branch: &str) -> Result<PartyKey, StoreError> {
    Ok(PartyKey {
        tax_number: TaxNumber::parse(tax)
            .map_err(|_| StoreError::Corrupt(format!("stored tax number '{tax}' is not valid")))?,
        branch: Branch::parse(branch)
            .map_err(|_| StoreError::Corrupt(format!("stored branch '{branch}' is not valid")))?,
    })
}

async fn insert_key<C: Conn>(c: &mut C, k: &NewApiKey) -> Result<(), StoreError> {
    c.exec(
        "INSERT INTO api_keys (id, key_sha256, broker, created_at) VALUES ($1, $2, $3, $4)",
        args![&k.id, &k.key_sha256, k.broker.clone(), k.created_at],
    )
    .await?;
    for p in &k.importers {
        c.exec(
            "INSERT INTO api_key_importers (key_id, tax_number, branch) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
            args![&k.id, p.tax_number.to_string(), p.branch.to_string()],
        )
        .await?;
    }
    let importers: Vec<String> = k.importers.iter().map(|p| p.to_string()).collect();
    let scope = match &k.broker {
        Some(b) => format!("broker {b}; importers {}", importers.join(",")),
        None => format!("importers {}", importers.join(",")),
    };
    audit(
        c,
        &AuditEntry {
            at: k.created_at,
            actor: k.actor.clone(),
            action: "APIKEY_CREATE".into(),
            target: api_key_target(&k.id),
            detail: scope,
        },
    )
    .await
}

async fn revoke_key<C: Conn>(c: &mut C, r: &Revocation) -> Result<bool, StoreError> {
    let id = r.id.as_str();
    let n = c
        .exec(
            "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            args![id, r.at],
        )
        .await?;
    if n > 0 {
        audit(
            c,
            &AuditEntry {
                at: r.at,
                actor: r.actor.clone(),
                action: "APIKEY_REVOKE".into(),
                target: api_key_target(id),
                detail: r.reason.clone(),
            },
        )
        .await?;
        return Ok(true);
    }
    // Revoking an already revoked key is not an error; an unknown key is.
    Ok(c.opt_row(
        "SELECT CAST(1 AS BIGINT) FROM api_keys WHERE id = $1",
        args![id],
        &[Ty::I64],
    )
    .await?
    .is_some())
}

const KEY_COLS: &str = "id, key_sha256, broker, created_at, revoked_at";
const KEY_TYS: &[Ty] = &[Ty::Text, Ty::Text, Ty::Text, Ty::Time, Ty::Time];

async fn key_importers<C: Conn>(c: &mut C, id: &str) -> Result<Vec<PartyKey>, StoreError> {
    let rows = c
        .rows(
            "SELECT tax_number, branch FROM api_key_importers WHERE key_id = $1 \
             ORDER BY tax_number, branch",
            args![id],
            &[Ty::Text, Ty::Text],
        )
        .await?;
    rows.iter()
        .map(|r| party(&r.text(0)?, &r.text(1)?))
        .collect()
}

async fn key_from_row<C: Conn>(c: &mut C, r: &Row) -> Result<ApiKeyRecord, StoreError> {
    let id = r.text(0)?;
    Ok(ApiKeyRecord {
        importers: key_importers(c, &id).await?,
        key_sha256: r.text(1)?,
        broker: r.opt_text(2)?,
        created_at: r.time(3)?,
        revoked_at: r.opt_time(4)?,
        id,
    })
}

async fn find_key<C: Conn>(c: &mut C, id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
    let sql = format!("SELECT {KEY_COLS} FROM api_keys WHERE id = $1");
    match c.opt_row(&sql, args![id], KEY_TYS).await? {
        Some(r) => Ok(Some(key_from_row(c, &r).await?)),
        None => Ok(None),
    }
}

async fn list_keys<C: Conn>(c: &mut C) -> Result<Vec<ApiKeyRecord>, StoreError> {
    let sql = format!("SELECT {KEY_COLS} FROM api_keys ORDER BY created_at, id");
    let rows = c.rows(&sql, args![], KEY_TYS).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(key_from_row(c, r).await?);
    }
    Ok(out)
}

async fn request_pk_by_permit<C: Conn>(c: &mut C, number: &str) -> Result<Option<i64>, StoreError> {
    c.opt_row(
        "SELECT request_pk FROM permits WHERE permit_number = $1",
        args![number],
        &[Ty::I64],
    )
    .await?
    .map(|r| r.i64(0))
    .transpose()
}

/// The request that stands for a reference: its current version, or (when no request of the
/// reference became a version, e.g. a refused replacement) the latest one received.
async fn request_pk_by_reference<C: Conn>(
    c: &mut C,
    tax: &str,
    branch: &str,
    reference: &str,
) -> Result<Option<i64>, StoreError> {
    c.opt_row(
        "SELECT id FROM requests WHERE importer_tax_number = $1 AND importer_branch = $2 \
         AND reference = $3 ORDER BY CASE WHEN version IS NULL THEN 0 ELSE 1 END DESC, \
         version DESC, id DESC LIMIT 1",
        args![tax, branch, reference],
        &[Ty::I64],
    )
    .await?
    .map(|r| r.i64(0))
    .transpose()
}

async fn request_record<C: Conn>(c: &mut C, pk: i64) -> Result<RequestRecord, StoreError> {
    let r = c
        .one_row(
            &format!(
                "SELECT r.request_id, r.reference, r.importer_tax_number, r.importer_branch, \
                 r.importer_name, r.importer_name_en, r.agent_tax_number, r.agent_branch, \
                 r.agent_name, r.function, r.request_type, r.version, r.decision, {}, \
                 r.arrival_date FROM requests r WHERE r.id = $1",
                super::common::decided_at_of("r")
            ),
            args![pk],
            &[
                Ty::Text,
                Ty::Text,
                Ty::Text,
                Ty::Text,
                Ty::Text,
                Ty::Text,
                Ty::Text,
                Ty::Text,
                Ty::Text,
                Ty::Text,
                Ty::Text,
                Ty::I64,
                Ty::Text,
                Ty::Time,
                Ty::Date,
            ],
        )
        .await?;
    let permit = c
        .opt_row(
            "SELECT permit_number, status, issue_date, effective_date, expiry_date, arrival_date, \
             invoice_number, invoice_date, load_port, discharge_port, country_of_destination, \
             cancelled_at FROM permits WHERE request_pk = $1",
            args![pk],
            &[
                Ty::Text,
                Ty::Text,
                Ty::Date,
                Ty::Date,
                Ty::Date,
                Ty::Date,
                Ty::Text,
                Ty::Date,
                Ty::Text,
                Ty::Text,
                Ty::Text,
                Ty::Time,
            ],
        )
        .await?
        .map(|p| -> Result<PermitRecord, StoreError> {
            Ok(PermitRecord {
                number: p.text(0)?,
                status: p.text(1)?,
                issue_date: p.date(2)?,
                effective_date: p.date(3)?,
                expiry_date: p.date(4)?,
                arrival_date: p.date(5)?,
                invoice_number: p.text(6)?,
                invoice_date: p.date(7)?,
                load_port: p.text(8)?,
                discharge_port: p.text(9)?,
                country_of_destination: p.text(10)?,
                cancelled_at: p.opt_time(11)?,
            })
        })
        .transpose()?;
    let item_rows = c
        .rows(
            "SELECT ri.id, ri.item_number, ri.invoice_item_number, ri.hs_code, ri.description, \
             ri.brand, ri.model, ri.country_of_origin, ri.standard, \
             COALESCE(pi.status, ri.status), ri.unit, ri.quantity_milli, \
             COALESCE(pi.approved_milli, 0), COALESCE(pi.written_off_milli, 0), \
             COALESCE(p.status, 'NONE') \
             FROM request_items ri LEFT JOIN permits p ON p.request_pk = ri.request_pk \
             LEFT JOIN permit_items pi ON pi.permit_pk = p.id AND pi.item_pk = ri.id \
             WHERE ri.request_pk = $1 ORDER BY ri.item_number",
            args![pk],
            &[
                Ty::I64,
                Ty::I64,
                Ty::I64,
                Ty::Text,
                Ty::Text,
                Ty::Text,
                Ty::Text,
                Ty::Text,
                Ty::Text,
                Ty::Text,
                Ty::Text,
                Ty::I64,
                Ty::I64,
                Ty::I64,
                Ty::Text,
            ],
        )
        .await?;
    let mut reasons = super::common::by_owner(
        &c.rows(
            super::common::ITEM_REASONS,
            args![pk],
            super::common::REASON_TYS,
        )
        .await?,
        |r| {
            Ok(ReasonRecord {
                code: r.text(1)?,
                field: r.text(2)?,
                message_th: r.text(3)?,
                message_en: r.text(4)?,
            })
        },
    )?;
    let mut items = Vec::with_capacity(item_rows.len());
    for it in &item_rows {
        let item_pk = it.i64(0)?;
        let status = it.text(9)?;
        let written_off = amount(it.i64(13)?)?;
        // As a PermitStatusQuery answers (spec §3.4).
        let (approved, remaining) = super::common::item_quantities(
            crate::domain::ItemStatus::from_code(&status)
                .ok_or_else(|| StoreError::Corrupt(format!("item status `{status}`")))?,
            amount(it.i64(12)?)?,
            written_off,
            &it.text(14)?,
        );
        items.push(ItemRecord {
            item_number: it.i64(1)?,
            invoice_item_number: it.i64(2)?,
            hs_code: it.text(3)?,
            description: it.text(4)?,
            brand: it.text(5)?,
            model: it.text(6)?,
            country_of_origin: it.text(7)?,
            standard: it.opt_text(8)?,
            status,
            unit: it.text(10)?,
            requested: amount(it.i64(11)?)?,
            approved,
            written_off,
            remaining,
            reasons: reasons.remove(&item_pk).unwrap_or_default(),
        });
    }
    let reference = r.text(1)?;
    let tax = r.text(2)?;
    let branch = r.text(3)?;
    let hist = super::common::reference_history(c, pk).await?;
    let history = hist
        .iter()
        .map(|h| {
            Ok(HistoryRecord {
                at: h.time(0)?,
                actor: h.text(1)?,
                state: h.text(2)?,
                reason_th: h.text(3)?,
                reason_en: h.text(4)?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(RequestRecord {
        request_id: r.text(0)?,
        reference,
        importer_tax_number: tax,
        importer_branch: branch,
        importer_name: r.text(4)?,
        importer_name_en: r.opt_text(5)?,
        agent_tax_number: r.opt_text(6)?,
        agent_branch: r.opt_text(7)?,
        agent_name: r.opt_text(8)?,
        function: r.text(9)?,
        request_type: r.text(10)?,
        version: r.opt_i64(11)?,
        decision: r.text(12)?,
        decided_at: r.time(13)?,
        arrival_date: r.date(14)?,
        permit,
        items,
        history,
    })
}

async fn list_requests<C: Conn>(
    c: &mut C,
    f: &RequestFilter,
) -> Result<Vec<RequestSummary>, StoreError> {
    // The decision's time as the request shows it (an officer's or a cancellation's when
    // there was one): what `from` and `until` filter on.
    let decided_at = super::common::decided_at_of("r");
    let mut sql = format!(
        "SELECT r.id, r.request_id, r.reference, r.function, r.request_type, r.version, \
         r.decision, {decided_at}, r.arrival_date, p.permit_number, p.status, \
         (SELECT COUNT(*) FROM request_items ri WHERE ri.request_pk = r.id) \
         FROM requests r LEFT JOIN permits p ON p.request_pk = r.id \
         WHERE r.importer_tax_number = $1 AND r.importer_branch = $2",
    );
    let mut params = args![
        f.importer.tax_number.to_string(),
        f.importer.branch.to_string()
    ];
    let mut add = |cond: &str, v: super::sql::V, sql: &mut String| {
        params.push(v);
        sql.push_str(&format!(" AND {cond} ${}", params.len()));
    };
    if let Some(d) = &f.decision {
        add("r.decision =", d.clone().into(), &mut sql);
    }
    if let Some(t) = f.from {
        add(&format!("{decided_at} >="), t.into(), &mut sql);
    }
    if let Some(t) = f.until {
        add(&format!("{decided_at} <"), t.into(), &mut sql);
    }
    if let Some(b) = &f.before {
        // Only a request of the same importer positions the page: a cursor never tells
        // anything about another importer's requests.
        params.push(b.clone().into());
        sql.push_str(&format!(
            " AND r.id < (SELECT b.id FROM requests b WHERE b.request_id = ${} \
             AND b.importer_tax_number = $1 AND b.importer_branch = $2)",
            params.len()
        ));
    }
    params.push(i64::from(f.limit).into());
    sql.push_str(&format!(" ORDER BY r.id DESC LIMIT ${}", params.len()));
    let rows = c
        .rows(
            &sql,
            params,
            &[
                Ty::I64,
                Ty::Text,
                Ty::Text,
                Ty::Text,
                Ty::Text,
                Ty::I64,
                Ty::Text,
                Ty::Time,
                Ty::Date,
                Ty::Text,
                Ty::Text,
                Ty::I64,
            ],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(RequestSummary {
                seq: r.i64(0)?,
                request_id: r.text(1)?,
                reference: r.text(2)?,
                function: r.text(3)?,
                request_type: r.text(4)?,
                version: r.opt_i64(5)?,
                decision: r.text(6)?,
                decided_at: r.time(7)?,
                arrival_date: r.date(8)?,
                permit_number: r.opt_text(9)?,
                permit_status: r.opt_text(10)?,
                items: r.i64(11)?,
            })
        })
        .collect()
}

impl Store {
    /// Stores a new API key with the importers it may see, in one transaction.
    pub async fn create_api_key(&self, key: NewApiKey) -> Result<(), StoreError> {
        in_tx!(self, [key], c => insert_key(c, &key).await)
    }

    /// Marks a key revoked, audited (once: revoking a revoked key changes nothing). `Ok(false)`
    /// when no key has this id.
    pub async fn revoke_api_key(&self, revocation: Revocation) -> Result<bool, StoreError> {
        in_tx!(self, [revocation], c => revoke_key(c, &revocation).await)
    }

    /// The key with this public id, revoked or not.
    pub async fn api_key(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        read!(self, c => find_key(c, id).await)
    }

    /// Every key, oldest first.
    pub async fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        read!(self, c => list_keys(c).await)
    }

    /// The request a permit was issued for.
    pub async fn request_by_permit(
        &self,
        permit_number: &str,
    ) -> Result<Option<RequestRecord>, StoreError> {
        read!(self, c => match request_pk_by_permit(c, permit_number).await? {
            Some(pk) => Ok(Some(request_record(c, pk).await?)),
            None => Ok(None),
        })
    }

    /// The request standing for an importer's reference (its current version).
    pub async fn request_by_reference(
        &self,
        importer: &PartyKey,
        reference: &str,
    ) -> Result<Option<RequestRecord>, StoreError> {
        let (tax, branch) = (importer.tax_number.to_string(), importer.branch.to_string());
        read!(self, c => match request_pk_by_reference(c, &tax, &branch, reference).await? {
            Some(pk) => Ok(Some(request_record(c, pk).await?)),
            None => Ok(None),
        })
    }

    /// One page of an importer's requests, newest first.
    pub async fn list_requests(
        &self,
        filter: &RequestFilter,
    ) -> Result<Vec<RequestSummary>, StoreError> {
        read!(self, c => list_requests(c, filter).await)
    }
}
