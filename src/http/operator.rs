//! Operator and officer actions on the admin listener (JSON):
//!
//! - `GET /admin/outbox[?status=DEAD&limit=N]`, `GET /admin/outbox/{id}`,
//!   `POST /admin/outbox/{id}/replay`, `POST /admin/outbox/{id}/drop` (`{"reason": "…"}`);
//! - `POST /admin/licences/{number}/status` (`{"status": "SUSPENDED", "reason": "…",
//!   "since": "YYYY-MM-DD"?}`): stored, audited, and applied to the very next request.
//!
//! Every call needs `Authorization: Bearer <token>`: the admin token (actor `admin`) or an
//! officer's token (actor `officer:<id>`). Without any token configured (loopback
//! development only) the actor is `admin`. Every change is audited with who and when.

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::config::{Officer, Secret};
use crate::domain::snapshot::Snapshot;
use crate::domain::LicenceStatus;
use crate::store::{
    LicenceStatusChange, OperatorOutcome, OutboxItem, OutboxStatus, Store, StoreError,
};

#[derive(Clone)]
pub struct OperatorState {
    pub store: Store,
    pub admin_token: Option<Secret>,
    pub officers: Arc<Vec<Officer>>,
    pub snapshot: Arc<ArcSwapOption<Snapshot>>,
}

pub fn router(state: OperatorState) -> Router {
    Router::new()
        .route("/admin/outbox", get(list_outbox))
        .route("/admin/outbox/{id}", get(show_outbox))
        .route("/admin/outbox/{id}/replay", post(replay_outbox))
        .route("/admin/outbox/{id}/drop", post(drop_outbox))
        .route("/admin/licences/{number}/status", post(licence_status))
        .with_state(state)
}

/// A JSON error answer: `{"error": "..."}`.
fn fail(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// A refused call: status and plain message (answered as `{"error": "..."}`).
struct Fail(StatusCode, String);

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        fail(self.0, self.1)
    }
}

fn store_failed(e: StoreError) -> Response {
    tracing::error!(error = %e, "admin action: storage error");
    if e.is_transient() {
        fail(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage unavailable; retry",
        )
    } else {
        fail(StatusCode::INTERNAL_SERVER_ERROR, "storage error")
    }
}

fn same(given: &str, secret: &Secret) -> bool {
    // Compare digests so that the comparison time does not depend on the token.
    Sha256::digest(given.as_bytes()) == Sha256::digest(secret.expose().as_bytes())
}

/// Who is calling: `admin` or `officer:<id>`.
fn actor(state: &OperatorState, headers: &HeaderMap) -> Result<String, Fail> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if let Some(given) = given {
        if let Some(o) = state.officers.iter().find(|o| same(given, &o.token)) {
            return Ok(format!("officer:{}", o.id));
        }
        if let Some(t) = &state.admin_token {
            if same(given, t) {
                return Ok("admin".to_string());
            }
        }
    }
    if state.admin_token.is_none() && state.officers.is_empty() {
        return Ok("admin".to_string());
    }
    Err(Fail(
        StatusCode::UNAUTHORIZED,
        "authentication required".into(),
    ))
}

fn time(t: Option<DateTime<Utc>>) -> Value {
    t.map(|t| Value::String(t.to_rfc3339()))
        .unwrap_or(Value::Null)
}

fn summary(i: &OutboxItem) -> Value {
    json!({
        "id": i.id,
        "message_id": i.message_id,
        "conversation_id": i.conversation_id,
        "conversation_seq": i.conversation_seq,
        "partner": i.partner,
        "status": i.status.code(),
        "attempts": i.attempts,
        "ack_requested": i.ack_requested,
        "next_attempt_at": i.next_attempt_at.to_rfc3339(),
        "lease_until": time(i.lease_until),
        "last_attempt_at": time(i.last_attempt_at),
        "last_http_status": i.last_http_status,
        "last_error": i.last_error,
        "created_at": i.created_at.to_rfc3339(),
        "queued_at": i.queued_at.to_rfc3339(),
        "done_at": time(i.done_at),
        "size": i.body.len(),
    })
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    status: Option<String>,
    limit: Option<usize>,
}

async fn list_outbox(
    State(state): State<OperatorState>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Response {
    if let Err(r) = actor(&state, &headers) {
        return r.into_response();
    }
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => match OutboxStatus::from_code(&s.to_ascii_uppercase()) {
            Some(s) => Some(s),
            None => {
                return fail(
                    StatusCode::BAD_REQUEST,
                    format!("status: `{s}` is not one of PENDING, IN_FLIGHT, DONE, DEAD"),
                )
            }
        },
    };
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    match state.store.outbox_list(status, limit).await {
        Ok(items) => Json(json!({
            "items": items.iter().map(summary).collect::<Vec<_>>()
        }))
        .into_response(),
        Err(e) => store_failed(e),
    }
}

async fn show_outbox(
    State(state): State<OperatorState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    if let Err(r) = actor(&state, &headers) {
        return r.into_response();
    }
    let item = match state.store.outbox_get(id).await {
        Ok(Some(i)) => i,
        Ok(None) => {
            return fail(
                StatusCode::NOT_FOUND,
                format!("outbox row {id} does not exist"),
            )
        }
        Err(e) => return store_failed(e),
    };
    let audit = match state
        .store
        .audit_log(&crate::store::outbox::outbox_target(id))
        .await
    {
        Ok(a) => a,
        Err(e) => return store_failed(e),
    };
    let mut v = summary(&item);
    v["content_type"] = Value::String(item.content_type.clone());
    v["body"] = Value::String(String::from_utf8_lossy(&item.body).into_owned());
    v["audit"] = audit
        .iter()
        .map(|a| json!({"at": a.at.to_rfc3339(), "actor": a.actor, "action": a.action, "detail": a.detail}))
        .collect();
    Json(v).into_response()
}

fn operator_answer(id: i64, outcome: Result<OperatorOutcome, StoreError>, verb: &str) -> Response {
    match outcome {
        Ok(OperatorOutcome::Done) => Json(json!({ "id": id, "result": verb })).into_response(),
        Ok(OperatorOutcome::NotFound) => fail(
            StatusCode::NOT_FOUND,
            format!("outbox row {id} does not exist"),
        ),
        Ok(OperatorOutcome::WrongState(s)) => fail(
            StatusCode::CONFLICT,
            format!("outbox row {id} is {}: it cannot be {verb}", s.code()),
        ),
        Err(e) => store_failed(e),
    }
}

async fn replay_outbox(
    State(state): State<OperatorState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    let who = match actor(&state, &headers) {
        Ok(a) => a,
        Err(r) => return r.into_response(),
    };
    let r = state.store.outbox_replay(id, &who, Utc::now()).await;
    if matches!(r, Ok(OperatorOutcome::Done)) {
        tracing::info!(id, actor = %who, "outbox row queued again");
    }
    operator_answer(id, r, "replayed")
}

#[derive(Debug, Deserialize)]
struct Reason {
    reason: Option<String>,
}

fn reason_of(body: Option<Json<Reason>>) -> Result<String, Fail> {
    match body.and_then(|Json(b)| b.reason) {
        Some(r) if !r.trim().is_empty() => Ok(r.trim().to_string()),
        _ => Err(Fail(
            StatusCode::BAD_REQUEST,
            "reason: is required (a JSON body {\"reason\": \"…\"})".into(),
        )),
    }
}

async fn drop_outbox(
    State(state): State<OperatorState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: Option<Json<Reason>>,
) -> Response {
    let who = match actor(&state, &headers) {
        Ok(a) => a,
        Err(r) => return r.into_response(),
    };
    let reason = match reason_of(body) {
        Ok(r) => r,
        Err(r) => return r.into_response(),
    };
    let r = state.store.outbox_drop(id, &who, &reason, Utc::now()).await;
    if matches!(r, Ok(OperatorOutcome::Done)) {
        tracing::warn!(id, actor = %who, %reason, "outbox row dropped");
    }
    operator_answer(id, r, "dropped")
}

#[derive(Debug, Deserialize)]
struct LicenceStatusBody {
    status: Option<String>,
    reason: Option<String>,
    since: Option<String>,
}

async fn licence_status(
    State(state): State<OperatorState>,
    headers: HeaderMap,
    Path(number): Path<String>,
    body: Option<Json<LicenceStatusBody>>,
) -> Response {
    let who = match actor(&state, &headers) {
        Ok(a) => a,
        Err(r) => return r.into_response(),
    };
    let Some(Json(body)) = body else {
        return fail(
            StatusCode::BAD_REQUEST,
            "body: expected JSON {\"status\": \"SUSPENDED|REVOKED|ACTIVE\", \"reason\": \"…\"}",
        );
    };
    let mut problems = Vec::new();
    let status = match body.status.as_deref().map(str::trim) {
        Some("SUSPENDED") | Some("suspend") => Some(LicenceStatus::Suspended),
        Some("REVOKED") | Some("revoke") => Some(LicenceStatus::Revoked),
        Some("ACTIVE") | Some("reinstate") => Some(LicenceStatus::Active),
        Some(other) => {
            problems.push(format!(
                "status: `{other}` is not one of SUSPENDED, REVOKED, ACTIVE"
            ));
            None
        }
        None => {
            problems.push("status: is required".to_string());
            None
        }
    };
    let reason = match body.reason.as_deref().map(str::trim) {
        Some(r) if !r.is_empty() => Some(r.to_string()),
        _ => {
            problems.push("reason: is required".to_string());
            None
        }
    };
    let now = Utc::now();
    let since = match body.since.as_deref() {
        None => Some(now.date_naive()),
        Some(s) => match NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                problems.push(format!("since: `{s}` is not a date (YYYY-MM-DD)"));
                None
            }
        },
    };
    let (Some(status), Some(reason), Some(since)) = (status, reason, since) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": problems.join("; "), "problems": problems })),
        )
            .into_response();
    };
    let change = LicenceStatusChange {
        number: number.clone(),
        status,
        since,
        actor: who.clone(),
        reason: reason.clone(),
        at: now,
    };
    match state.store.set_licence_status(change).await {
        Ok(true) => {}
        Ok(false) => {
            return fail(
                StatusCode::NOT_FOUND,
                format!("licence {number} is not in the reference data"),
            )
        }
        Err(e) => return store_failed(e),
    }
    // The very next request decides with the new status.
    if let Some(current) = state.snapshot.load_full() {
        match current.with_licence_status(&number, status, since) {
            Ok(next) => state.snapshot.store(Some(Arc::new(next))),
            Err(e) => tracing::error!(error = ?e, "licence stored but not in the snapshot"),
        }
    }
    tracing::warn!(licence = %number, status = status.code(), %since, actor = %who, %reason, "licence status changed");
    Json(json!({
        "licence": number,
        "status": status.code(),
        "since": since.to_string(),
        "actor": who,
    }))
    .into_response()
}
