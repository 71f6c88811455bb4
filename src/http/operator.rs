//! Operator and officer actions on the admin listener (JSON):
//!
//! - `GET /admin/outbox[?status=DEAD&limit=N]`, `GET /admin/outbox/{id}`,
//!   `POST /admin/outbox/{id}/replay`, `POST /admin/outbox/{id}/drop` (`{"reason": "…"}`).
//!   A PENDING row that a dead letter of its conversation holds back names it in `held_by`
//!   (`{"id", "message_id"}`): replaying the dead letter sends it first and then the held
//!   rows; dropping it lets them go;
//! - `POST /admin/licences/{number}/status` (`{"status": "SUSPENDED", "reason": "…",
//!   "since": "YYYY-MM-DD"?}`): stored, audited, and applied to the very next request.
//!
//! Every call needs `Authorization: Bearer <token>`: the admin token (actor `admin`) or an
//! officer's token (actor `officer:<id>`). Without any token configured (loopback
//! development only) the actor is `admin`. Every change is audited with who and when.

use std::sync::Arc;

use super::reference::Reference;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::config::{Officer, Secret, Settings};
use crate::domain::LicenceStatus;
use crate::store::officer::{
    OfficerAction, OfficerDecisionInput, OfficerOutcome, OriginalExchange,
};
use crate::store::{
    LicenceStatusChange, OperatorOutcome, OutboundMessage, OutboxItem, OutboxStatus, Store,
    StoreError,
};
use crate::wire::envelope::{MessageHeader, PartyId, Service, SERVICE_PERMIT};
use crate::wire::intake::Packaging;
use crate::wire::reply;

#[derive(Clone)]
pub struct OperatorState {
    pub store: Store,
    pub admin_token: Option<Secret>,
    pub officers: Arc<Vec<Officer>>,
    pub reference: Arc<Reference>,
    pub settings: Arc<Settings>,
}

/// Metric: items waiting for an officer longer than `review.overdue_after_days`.
pub const REVIEW_OVERDUE_ITEMS: &str = "nsw_review_overdue_items";

pub fn router(state: OperatorState) -> Router {
    Router::new()
        .route("/admin/outbox", get(list_outbox))
        .route("/admin/outbox/{id}", get(show_outbox))
        .route("/admin/outbox/{id}/replay", post(replay_outbox))
        .route("/admin/outbox/{id}/drop", post(drop_outbox))
        .route("/admin/licences/{number}", get(show_licence))
        .route("/admin/licences/{number}/status", post(licence_status))
        .route("/admin/review", get(review_list))
        .route(
            "/admin/review/{request_id}/items/{item}/{action}",
            post(review_decide),
        )
        .with_state(state)
        .layer(axum::middleware::map_response(json_errors))
        .layer(axum::middleware::map_response(crate::api::no_store))
}

/// A refusal that axum made itself (a path, query or body it could not read, a method the
/// route does not serve) answered as the handlers answer theirs: `{"error": "..."}`.
async fn json_errors(r: Response) -> Response {
    let json = r
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if json || !r.status().is_client_error() {
        return r;
    }
    let (parts, body) = r.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_string();
    let message = if text.is_empty() {
        parts
            .status
            .canonical_reason()
            .unwrap_or("refused")
            .to_string()
    } else {
        text
    };
    let mut answer = fail(parts.status, message);
    if let Some(allow) = parts.headers.get(header::ALLOW) {
        answer.headers_mut().insert(header::ALLOW, allow.clone());
    }
    answer
}

/// A JSON error answer: `{"error": "..."}`.
fn fail(status: StatusCode, message: impl Into<String>) -> Response {
    let mut r = (status, Json(json!({ "error": message.into() }))).into_response();
    if status == StatusCode::UNAUTHORIZED {
        // RFC 9110 §15.5.2: a 401 names the scheme that would authenticate.
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    r
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
        "dropped_at": time(i.dropped_at),
        "held_by": i.held_by.as_ref().map(|h| json!({
            "id": h.id,
            "message_id": h.message_id,
        })),
        "size": i.body.len(),
    })
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    status: Option<String>,
    limit: Option<String>,
}

/// An outbox row's id from the path: 400 naming `id` when it is not one.
fn row_id(raw: &str) -> Result<i64, Fail> {
    raw.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
        Fail(
            StatusCode::BAD_REQUEST,
            format!("id: `{raw}` is not an outbox row id (a whole number from 1)"),
        )
    })
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
    let limit = match q.limit.as_deref() {
        None => 100,
        Some(l) => match l.trim().parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => {
                return fail(
                    StatusCode::BAD_REQUEST,
                    format!("limit: `{l}` is not a whole number from 1 to 1000"),
                )
            }
        },
    };
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
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = actor(&state, &headers) {
        return r.into_response();
    }
    let id = match row_id(&id) {
        Ok(id) => id,
        Err(r) => return r.into_response(),
    };
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
        Ok(OperatorOutcome::DroppedAlready) => fail(
            StatusCode::CONFLICT,
            format!("outbox row {id} was dropped already; replay it to deliver it again"),
        ),
        Err(e) => store_failed(e),
    }
}

async fn replay_outbox(
    State(state): State<OperatorState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let who = match actor(&state, &headers) {
        Ok(a) => a,
        Err(r) => return r.into_response(),
    };
    let id = match row_id(&id) {
        Ok(id) => id,
        Err(r) => return r.into_response(),
    };
    let r = state.store.outbox_replay(id, &who, Utc::now()).await;
    if matches!(r, Ok(OperatorOutcome::Done)) {
        tracing::info!(id, actor = %who, "outbox row queued again");
    }
    operator_answer(id, r, "replayed")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Reason {
    reason: Option<String>,
}

/// Most characters of an operator's or officer's reason: it goes into messages to the NSW
/// whose text may hold 1,000 (with the words around it).
const REASON_MAX_CHARS: usize = 500;

/// A reason as it is stored and sent: white space collapsed (line breaks and tabs pasted from
/// a word processor become spaces, as XML's `xs:token` has it), at most
/// [`REASON_MAX_CHARS`], no other control characters (XML cannot carry them).
fn reason_text(raw: Option<&str>) -> Result<String, String> {
    let collapsed = raw
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if collapsed.is_empty() {
        return Err("reason: is required (a JSON body {\"reason\": \"…\"})".into());
    }
    crate::domain::types::parse_an(&collapsed, REASON_MAX_CHARS, "reason")
        .map_err(|e| format!("reason: {e}"))
}

fn reason_of(body: Option<Json<Reason>>) -> Result<String, Fail> {
    let raw = body.and_then(|Json(b)| b.reason);
    reason_text(raw.as_deref()).map_err(|e| Fail(StatusCode::BAD_REQUEST, e))
}

async fn drop_outbox(
    State(state): State<OperatorState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Option<Json<Reason>>,
) -> Response {
    let who = match actor(&state, &headers) {
        Ok(a) => a,
        Err(r) => return r.into_response(),
    };
    let id = match row_id(&id) {
        Ok(id) => id,
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
#[serde(deny_unknown_fields)]
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
    let reason = match reason_text(body.reason.as_deref()) {
        Ok(r) => Some(r),
        Err(e) => {
            problems.push(e);
            None
        }
    };
    let now = Utc::now();
    // Dates are Thai dates, read as every other date the gateway reads.
    let since = match body.since.as_deref() {
        None => Some(crate::domain::thai_date(now)),
        Some(s) => match crate::domain::types::parse_date(s.trim()) {
            Ok(d) => Some(d),
            Err(e) => {
                problems.push(format!("since: {e}"));
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
    let after = state.reference.mark();
    match state.store.set_licence_status(change, after).await {
        // The very next request decides with the new status: here from now on; on another
        // instance sharing the database, once its next permit request has caught up.
        Ok(Some(changes)) => state.reference.catch_up(after, &changes),
        Ok(None) => {
            return fail(
                StatusCode::NOT_FOUND,
                format!("licence {number} is not in the reference data"),
            )
        }
        Err(e) => return store_failed(e),
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

/// A licence's status and who changed it through this API, when and why (oldest first).
async fn show_licence(
    State(state): State<OperatorState>,
    headers: HeaderMap,
    Path(number): Path<String>,
) -> Response {
    if let Err(r) = actor(&state, &headers) {
        return r.into_response();
    }
    match state.store.licence_status(&number).await {
        Ok(Some(l)) => Json(json!({
            "licence": l.number,
            "status": l.status.code(),
            "since": l.since.to_string(),
            "changes": l.changes.iter().map(|(c, old)| json!({
                "at": c.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                "actor": c.actor,
                "old_status": old.code(),
                "status": c.status.code(),
                "since": c.since.to_string(),
                "reason": c.reason,
            })).collect::<Vec<_>>(),
        }))
        .into_response(),
        Ok(None) => fail(
            StatusCode::NOT_FOUND,
            format!("licence {number} is not in the reference data"),
        ),
        Err(e) => store_failed(e),
    }
}

#[derive(Debug, Deserialize)]
struct ReviewQuery {
    overdue: Option<bool>,
}

/// The review budget's cut-off: items decided before it are overdue.
fn overdue_cutoff(settings: &Settings, now: DateTime<Utc>) -> DateTime<Utc> {
    now - chrono::Duration::from_std(settings.review_overdue_after)
        .unwrap_or(chrono::Duration::days(7))
}

/// Counts the overdue items and sets the gauge; used by the listing and the metrics scrape.
pub async fn record_overdue(store: &Store, settings: &Settings) -> Result<usize, StoreError> {
    let n = store
        .review_queue(Some(overdue_cutoff(settings, Utc::now())))
        .await?
        .len();
    metrics::gauge!(REVIEW_OVERDUE_ITEMS).set(n as f64);
    Ok(n)
}

async fn review_list(
    State(state): State<OperatorState>,
    headers: HeaderMap,
    Query(q): Query<ReviewQuery>,
) -> Response {
    if let Err(r) = actor(&state, &headers) {
        return r.into_response();
    }
    let now = Utc::now();
    let cutoff = overdue_cutoff(&state.settings, now);
    let only_overdue = q.overdue.unwrap_or(false);
    let items = match state
        .store
        .review_queue(only_overdue.then_some(cutoff))
        .await
    {
        Ok(i) => i,
        Err(e) => return store_failed(e),
    };
    if let Err(e) = record_overdue(&state.store, &state.settings).await {
        return store_failed(e);
    }
    Json(json!({
        "items": items.iter().map(|i| json!({
            "request_id": i.request_id,
            "reference": i.reference,
            "importer_tax_number": i.importer_tax_number,
            "importer_branch": i.importer_branch,
            "item_number": i.item_number,
            "hs_code": i.hs_code,
            "status": i.status.code(),
            "since": i.since.to_rfc3339(),
            "age_seconds": (now - i.since).num_seconds().max(0),
            "overdue": i.since <= cutoff,
        })).collect::<Vec<_>>()
    }))
    .into_response()
}

/// Renders a later ImportPermitResponse as an ebMS message to the partner that sent the
/// request: same conversation, `RefToMessageId` = the request, the request's packaging, an
/// acknowledgment requested when the request asked for one.
fn render_later(
    settings: &Settings,
) -> impl Fn(&OriginalExchange, &crate::domain::ImportPermitResponse) -> OutboundMessage
       + Send
       + Sync
       + 'static {
    let own = settings.gateway.party_id.to_ascii_lowercase();
    move |orig, response| {
        let now = Utc::now();
        let request = MessageHeader {
            from: PartyId {
                id: orig.from_party.clone(),
                kind: orig.from_party_type.clone(),
            },
            to: PartyId {
                id: orig.to_party.clone(),
                kind: orig.to_party_type.clone(),
            },
            cpa_id: orig.cpa_id.clone(),
            conversation_id: orig.conversation_id.clone(),
            service: Service::new(SERVICE_PERMIT),
            action: "ImportPermitRequest".into(),
            message_id: orig.message_id.clone(),
            timestamp: now.fixed_offset(),
            ref_to_message_id: None,
            time_to_live: None,
            duplicate_elimination: false,
        };
        let header = reply::reply_header(
            &request,
            "ImportPermitResponse",
            SERVICE_PERMIT,
            format!("{}@{own}", uuid::Uuid::new_v4()),
            now,
        );
        let packaging = if orig.packaging == "multipart" {
            Packaging::Multipart
        } else {
            Packaging::Inline
        };
        let doc = crate::domain::OutboundDocument::ImportPermitResponse(response.clone());
        let built = reply::build_delivery(&header, &doc, packaging, orig.ack_requested);
        OutboundMessage {
            message_id: header.message_id.clone(),
            conversation_id: header.conversation_id.clone(),
            partner: orig.from_party.clone(),
            content_type: built.content_type,
            body: built.body,
            ack_requested: orig.ack_requested,
        }
    }
}

async fn review_decide(
    State(state): State<OperatorState>,
    headers: HeaderMap,
    Path((request_id, item, action)): Path<(String, String, String)>,
    body: Option<Json<Reason>>,
) -> Response {
    let who = match actor(&state, &headers) {
        Ok(a) => a,
        Err(r) => return r.into_response(),
    };
    let Some(officer_id) = who.strip_prefix("officer:").map(str::to_string) else {
        return fail(
            StatusCode::FORBIDDEN,
            "an officer's token is required: decisions are recorded in the officer's name",
        );
    };
    let actions: &[OfficerAction] = match action.as_str() {
        "approve" => &[OfficerAction::Approve],
        "release" => &[OfficerAction::Release],
        "reject" => &[OfficerAction::Reject, OfficerAction::RejectAfterInspection],
        other => {
            return fail(
                StatusCode::NOT_FOUND,
                format!("action: `{other}` is not one of approve, reject, release"),
            )
        }
    };
    let item = match item.parse::<u16>() {
        Ok(n) if (1..=999).contains(&n) => n,
        _ => {
            return fail(
                StatusCode::BAD_REQUEST,
                format!("item: `{item}` is not an item number (1 to 999)"),
            )
        }
    };
    let reason = match reason_of(body) {
        Ok(r) => r,
        Err(r) => return r.into_response(),
    };
    let now = Utc::now();
    let render: Arc<crate::store::officer::RenderLater> = Arc::new(render_later(&state.settings));
    let mut last = None;
    for a in actions {
        let input = OfficerDecisionInput {
            request_id: request_id.clone(),
            item_number: item,
            action: *a,
            officer_id: officer_id.clone(),
            reason: reason.clone(),
            now,
            // Decision dates are Thai dates.
            today: crate::domain::thai_date(now),
            authority_tax_number: state.settings.gateway.issuer_tax_number,
            authority_name: state.settings.gateway.issuer_name.clone(),
            render: render.clone(),
        };
        match state.store.officer_decide(input).await {
            Ok(OfficerOutcome::WrongState(s)) => last = Some(OfficerOutcome::WrongState(s)),
            Ok(o) => {
                last = Some(o);
                break;
            }
            Err(e) => return store_failed(e),
        }
    }
    match last {
        Some(OfficerOutcome::Done {
            decision,
            permit_number,
            outbox_message_id,
        }) => {
            tracing::info!(%request_id, item, %action, officer = %officer_id, decision = decision.code(), "officer decision");
            Json(json!({
                "request_id": request_id,
                "item_number": item,
                "action": action,
                "actor": who,
                "decision": decision.code(),
                "permit_number": permit_number,
                "response_message_id": outbox_message_id,
            }))
            .into_response()
        }
        Some(OfficerOutcome::WrongState(s)) => fail(
            StatusCode::CONFLICT,
            format!(
                "item {item} of {request_id} is {}: the action '{action}' applies to items {}",
                s.code(),
                actions
                    .iter()
                    .map(|a| a.applies_to().code())
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        ),
        Some(OfficerOutcome::RequestRejected) => fail(
            StatusCode::CONFLICT,
            format!(
                "{request_id} is REJECTED: none of its items needs an officer's decision any more"
            ),
        ),
        Some(OfficerOutcome::NoPermitWindow { arrival, expiry }) => fail(
            StatusCode::CONFLICT,
            format!(
                "item {item} of {request_id} cannot be approved: its arrival date {arrival} is \
                 more than 90 days ago, so its permit would have expired on {expiry}, before \
                 taking effect; reject it instead"
            ),
        ),
        Some(OfficerOutcome::NotFound) | None => fail(
            StatusCode::NOT_FOUND,
            format!("request {request_id} has no current item {item}"),
        ),
    }
}
