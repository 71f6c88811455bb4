//! The importer-facing listener: the JSON status API under `/api/v1/` (API keys, per-key rate
//! limits, RFC 9457 problems, an OpenAPI 3.1 document generated from the handlers) and the
//! status page `/status` for a person.
//!
//! Access rule: a key sees only the importers it was issued for; anything else answers 404,
//! exactly as if it did not exist. Failed authentications are logged and rate limited per
//! client address.

pub mod dto;
pub mod keys;
pub mod page;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts, Path, Query, State};
use axum::handler::Handler;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use axum::{Json, Router};
use base64::Engine as _;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use utoipa::OpenApi;

use crate::config::ApiSettings;
use crate::domain::{Branch, PartyKey, PermitNumber, ReferenceNumber, RequestDecision, TaxNumber};
use crate::store::api::{RequestFilter, RequestRecord};
use crate::store::{Store, StoreError};
use dto::{Problem, RequestDetail, RequestPage, RequestSummaryDto};

/// Largest page of the request list.
pub const MAX_PAGE: u32 = 200;
/// Page size when `limit` is not given.
pub const DEFAULT_PAGE: u32 = 50;

/// Rate limiters of the API listener.
pub struct ApiLimits {
    /// Per API key (and per client address on `/status`).
    per_caller: DefaultKeyedRateLimiter<String>,
    /// Failed authentications (and fruitless page look-ups) per client address.
    failures: DefaultKeyedRateLimiter<IpAddr>,
    /// Addresses that exhausted their failure budget, until when they are refused outright
    /// (before any key is looked up).
    blocked: std::sync::Mutex<HashMap<IpAddr, std::time::Instant>>,
    /// `api.trusted_proxies`: whose `X-Forwarded-For` names the client.
    trusted_proxies: Vec<IpAddr>,
}

impl ApiLimits {
    pub fn new(s: &ApiSettings) -> ApiLimits {
        ApiLimits {
            trusted_proxies: s.trusted_proxies.clone(),
            per_caller: RateLimiter::keyed(
                Quota::per_minute(s.rate_per_minute).allow_burst(s.rate_burst),
            ),
            failures: RateLimiter::keyed(Quota::per_minute(s.auth_failures_per_minute)),
            blocked: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Forgets callers that have been quiet long enough (keyed limiters grow otherwise).
    pub fn retain_recent(&self) {
        self.per_caller.retain_recent();
        self.failures.retain_recent();
        let now = std::time::Instant::now();
        if let Ok(mut b) = self.blocked.lock() {
            b.retain(|_, until| *until > now);
        }
    }

    /// `Err` while this address is blocked for having failed too often.
    pub(crate) fn not_blocked(&self, ip: IpAddr) -> Result<(), ApiError> {
        let now = std::time::Instant::now();
        match self.blocked.lock().ok().and_then(|b| b.get(&ip).copied()) {
            Some(until) if until > now => Err(ApiError::RateLimited(wait(until - now))),
            _ => Ok(()),
        }
    }

    pub(crate) fn caller(&self, key: String) -> Result<(), ApiError> {
        self.per_caller.check_key(&key).map_err(|n| {
            ApiError::RateLimited(wait(n.wait_time_from(DefaultClock::default().now())))
        })
    }

    /// Counts one failure of this address; `Err` once it has failed too often, and the
    /// address is then refused outright until its budget has refilled.
    pub(crate) fn failure(&self, ip: IpAddr) -> Result<(), ApiError> {
        self.failures.check_key(&ip).map_err(|n| {
            let w = wait(n.wait_time_from(DefaultClock::default().now()));
            if let Ok(mut b) = self.blocked.lock() {
                b.insert(ip, std::time::Instant::now() + w);
            }
            ApiError::RateLimited(w)
        })
    }
}

fn wait(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs() + 1)
}

/// What the API handlers share.
#[derive(Clone)]
pub struct ApiState {
    pub store: Store,
    pub limits: Arc<ApiLimits>,
}

/// Everything the API answers other than success, as `application/problem+json`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("missing, unknown or revoked API key")]
    Unauthorized,
    #[error("not found")]
    NotFound(String),
    #[error("method {0} not allowed")]
    MethodNotAllowed(String),
    #[error("rate limited")]
    RateLimited(Duration),
    #[error("storage unavailable: {0}")]
    Unavailable(StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if e.is_transient() {
            ApiError::Unavailable(e)
        } else {
            ApiError::Internal(e.to_string())
        }
    }
}

/// The problem document and status of an error (the detail never carries internals).
pub fn problem(e: &ApiError) -> Problem {
    let (status, kind, title, detail) = match e {
        ApiError::BadRequest(d) => (400, "invalid-request", "Invalid request", d.clone()),
        ApiError::Unauthorized => (
            401,
            "unauthorized",
            "Authentication required",
            "send a valid, unrevoked API key as `Authorization: Bearer <key>`".to_string(),
        ),
        ApiError::NotFound(d) => (404, "not-found", "Not found", d.clone()),
        ApiError::MethodNotAllowed(m) => (
            405,
            "method-not-allowed",
            "Method not allowed",
            format!("method {m} is not allowed here; this API answers GET only"),
        ),
        ApiError::RateLimited(w) => (
            429,
            "rate-limited",
            "Too many requests",
            format!("retry after {} s", w.as_secs()),
        ),
        ApiError::Unavailable(_) => (
            503,
            "unavailable",
            "Service unavailable",
            "the gateway cannot read its records right now; retry shortly".to_string(),
        ),
        ApiError::Internal(_) => (
            500,
            "internal",
            "Internal error",
            "the request could not be answered; the error was logged".to_string(),
        ),
    };
    Problem {
        kind: format!("urn:nsw-gateway:problem:{kind}"),
        title: title.to_string(),
        status,
        detail,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Unavailable(e) => tracing::warn!(error = %e, "status API: store unavailable"),
            ApiError::Internal(e) => tracing::error!(error = %e, "status API: internal error"),
            _ => {}
        }
        let p = problem(&self);
        let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&p).unwrap_or_default();
        let mut r = (status, body).into_response();
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        match &self {
            ApiError::Unauthorized => {
                h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::RateLimited(w) => {
                h.insert(header::RETRY_AFTER, HeaderValue::from(w.as_secs()));
            }
            ApiError::Unavailable(_) => {
                h.insert(header::RETRY_AFTER, HeaderValue::from(1u64));
            }
            _ => {}
        }
        r
    }
}

/// The client address of a request (the listener is served with connect info): the peer, or
/// when the peer is a trusted proxy, the last address of `X-Forwarded-For` that is not one
/// (each proxy appends the address it got the request from; what comes before the first
/// untrusted one could be forged by the client).
pub fn client_ip(parts: &Parts, trusted_proxies: &[IpAddr]) -> IpAddr {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    if !trusted_proxies.contains(&peer) {
        return peer;
    }
    let forwarded: Vec<&str> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for a in forwarded.iter().rev() {
        match a.parse::<IpAddr>() {
            Ok(ip) if trusted_proxies.contains(&ip) => client = ip,
            Ok(ip) => return ip,
            // Not an address: nothing from here on can be told apart from a forgery.
            Err(_) => break,
        }
    }
    client
}

/// An authenticated caller: the key's id and the importers it may see.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key_id: String,
    pub importers: Vec<PartyKey>,
}

impl Caller {
    /// Whether this caller may see the importer's data (stored tax number and branch).
    pub fn may_see(&self, tax: &str, branch: &str) -> bool {
        self.importers
            .iter()
            .any(|p| p.tax_number.to_string() == tax && p.branch.to_string() == branch)
    }
}

/// axum's `Path`, refused with a problem document (400) that says what is wrong with the path.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(t)) => Ok(ApiPath(t)),
            Err(e) => Err(ApiError::BadRequest(format!("path: {}", e.body_text()))),
        }
    }
}

/// axum's `Query`, refused with a problem document (400) that says what is wrong with it.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(t)) => Ok(ApiQuery(t)),
            Err(e) => Err(ApiError::BadRequest(format!("query: {}", e.body_text()))),
        }
    }
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let ip = client_ip(parts, &state.limits.trusted_proxies);
        state.limits.not_blocked(ip)?;
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, rest) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            });
        let fail = |why: &str, id: Option<&str>| {
            tracing::warn!(client = %ip, key_id = id.unwrap_or("-"), reason = why, "status API: authentication failed");
            state.limits.failure(ip)?;
            Err::<Caller, ApiError>(ApiError::Unauthorized)
        };
        let Some(key) = presented else {
            return fail("no bearer key", None);
        };
        let Some(id) = keys::public_id(key) else {
            return fail("malformed key", None);
        };
        let record = state.store.api_key(id).await?;
        let Some(record) = record else {
            return fail("unknown key id", Some(id));
        };
        if !keys::matches(key, &record.key_sha256) {
            return fail("wrong secret", Some(id));
        }
        if record.revoked_at.is_some() {
            return fail("revoked key", Some(id));
        }
        state.limits.caller(format!("key:{}", record.id))?;
        Ok(Caller {
            key_id: record.id,
            importers: record.importers,
        })
    }
}

fn bad(errs: Vec<String>) -> ApiError {
    ApiError::BadRequest(errs.join("; "))
}

fn importer_of(tax: &str, branch: &str, errs: &mut Vec<String>) -> Option<PartyKey> {
    let t = TaxNumber::parse(tax)
        .map_err(|e| errs.push(format!("tax_number: {e}")))
        .ok();
    let b = Branch::parse(branch)
        .map_err(|e| errs.push(format!("branch: {e}")))
        .ok();
    Some(PartyKey {
        tax_number: t?,
        branch: b?,
    })
}

fn visible(
    caller: &Caller,
    r: Option<RequestRecord>,
    what: String,
) -> Result<Json<RequestDetail>, ApiError> {
    match r {
        Some(r) if caller.may_see(&r.importer_tax_number, &r.importer_branch) => {
            Ok(Json(RequestDetail::from(&r)))
        }
        // Another importer's record answers exactly like a missing one.
        _ => Err(ApiError::NotFound(what)),
    }
}

/// A permit: its request's decision, the permit, each item with quantities and reasons, and
/// the full history.
#[utoipa::path(
    get,
    path = "/api/v1/permits/{permit_number}",
    tag = "status",
    params(("permit_number" = String, Path, description = "Permit number", pattern = r"^TISI-P-[0-9]{4}-[0-9]{8}$", example = "TISI-P-2569-00000001")),
    responses(
        (status = 200, description = "The permit and its request", body = RequestDetail),
        (status = 400, description = "Malformed permit number", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, unknown or revoked key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such permit visible to this key", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Storage unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub async fn permit(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(number): ApiPath<String>,
) -> Result<Json<RequestDetail>, ApiError> {
    let n = PermitNumber::parse(&number).map_err(|e| bad(vec![format!("permit_number: {e}")]))?;
    let what = format!("no permit {n}");
    // Whose it is first (one indexed row): another importer's permit is not read, so that its
    // answer takes no longer than a missing one's.
    match state.store.permit_holder(&n).await? {
        Some(holder) if caller.importers.contains(&holder) => {}
        _ => return Err(ApiError::NotFound(what)),
    }
    let r = state.store.request_by_permit(&n.to_string()).await?;
    visible(&caller, r, what)
}

/// A request by the importer's own reference (its current version).
#[utoipa::path(
    get,
    path = "/api/v1/requests/by-reference/{tax_number}/{branch}/{reference}",
    tag = "status",
    params(
        ("tax_number" = String, Path, description = "Importer tax number (13 digits with a check digit)", pattern = r"^[0-9]{13}$", example = "0105536112014"),
        ("branch" = String, Path, description = "Importer branch (5 digits)", pattern = r"^[0-9]{5}$", example = "00000"),
        ("reference" = String, Path, description = "The importer's reference number", min_length = 1, max_length = 35, example = "ST-1"),
    ),
    responses(
        (status = 200, description = "The request", body = RequestDetail),
        (status = 400, description = "Malformed tax number, branch or reference", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, unknown or revoked key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such request visible to this key", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Storage unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub async fn by_reference(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath((tax, branch, reference)): ApiPath<(String, String, String)>,
) -> Result<Json<RequestDetail>, ApiError> {
    let mut errs = Vec::new();
    let importer = importer_of(&tax, &branch, &mut errs);
    let reference = ReferenceNumber::parse(&reference)
        .map_err(|e| errs.push(format!("reference: {e}")))
        .ok();
    let (Some(importer), Some(reference), true) = (importer, reference, errs.is_empty()) else {
        return Err(bad(errs));
    };
    let what = format!("no request {} of importer {importer}", reference.as_str());
    if !caller.importers.contains(&importer) {
        return Err(ApiError::NotFound(what));
    }
    let r = state
        .store
        .request_by_reference(&importer, reference.as_str())
        .await?;
    visible(&caller, r, what)
}

/// Query parameters of the request list.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only requests with this decision (`APPROVED`, `HOLD_FOR_INSPECTION`, `UNDER_REVIEW`,
    /// `REJECTED`, `NOT_REQUIRED`, `CANCELLED`).
    pub status: Option<String>,
    /// Only requests decided on or after this date (YYYY-MM-DD, Thai calendar date).
    pub from: Option<String>,
    /// Only requests decided on or before this date (YYYY-MM-DD, Thai calendar date).
    pub to: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<String>,
}

/// A cursor names the last request of its page by its `request_id` (time-ordered and random:
/// it tells nothing the page did not show). Cursors of the first form, `r1:` and the row's
/// number in the whole database, showed how many requests of others came in between.
const CURSOR_PREFIX: &str = "r2:";

fn encode_cursor(request_id: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{CURSOR_PREFIX}{request_id}"))
}

fn decode_cursor(s: &str) -> Option<String> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let id = text.strip_prefix(CURSOR_PREFIX)?;
    let hex = id.strip_prefix("REQ-")?;
    (hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| id.to_string())
}

/// Checks the list parameters; every problem is reported.
pub fn list_filter(importer: PartyKey, p: &ListParams) -> Result<RequestFilter, Vec<String>> {
    let mut errs = Vec::new();
    let decision = match p.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => match RequestDecision::from_code(&s.to_ascii_uppercase()) {
            Some(d) => Some(d.code().to_string()),
            None => {
                errs.push(format!(
                    "status: `{s}` is not one of APPROVED, HOLD_FOR_INSPECTION, UNDER_REVIEW, \
                     REJECTED, NOT_REQUIRED, CANCELLED"
                ));
                None
            }
        },
    };
    let date = |name: &str, v: &Option<String>, errs: &mut Vec<String>| {
        let v = v.as_deref().map(str::trim).filter(|s| !s.is_empty())?;
        match crate::domain::types::parse_date(v) {
            Ok(d) => Some(d),
            Err(e) => {
                errs.push(format!("{name}: {e}"));
                None
            }
        }
    };
    let from = date("from", &p.from, &mut errs);
    let to = date("to", &p.to, &mut errs);
    if let (Some(f), Some(t)) = (from, to) {
        if f > t {
            errs.push(format!("to: {t} is before from ({f})"));
        }
    }
    let before = match p.cursor.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(c) => match decode_cursor(c) {
            Some(id) => Some(id),
            None => {
                errs.push("cursor: not a cursor this API issued".to_string());
                None
            }
        },
    };
    let limit = match p.limit.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => DEFAULT_PAGE,
        Some(s) => match s.parse::<u32>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => n,
            _ => {
                errs.push(format!(
                    "limit: `{s}` is not a whole number from 1 to {MAX_PAGE}"
                ));
                DEFAULT_PAGE
            }
        },
    };
    // Dates are Thai calendar dates, like decision dates: midnight in Thailand (UTC+7).
    let thai = chrono::FixedOffset::east_opt(7 * 3600).expect("+07:00 is a valid offset");
    let midnight = |d: chrono::NaiveDate| {
        d.and_hms_opt(0, 0, 0)
            .and_then(|t| t.and_local_timezone(thai).single())
            .map(|t| t.with_timezone(&chrono::Utc))
    };
    if !errs.is_empty() {
        return Err(errs);
    }
    Ok(RequestFilter {
        importer,
        decision,
        from: from.and_then(midnight),
        until: to.and_then(|d| d.succ_opt()).and_then(midnight),
        before,
        limit,
    })
}

/// One importer's requests and permits, newest first, filtered by decision and decision date,
/// in pages linked by an opaque cursor.
#[utoipa::path(
    get,
    path = "/api/v1/importers/{tax_number}/{branch}/requests",
    tag = "status",
    params(
        ("tax_number" = String, Path, description = "Importer tax number (13 digits with a check digit)", pattern = r"^[0-9]{13}$", example = "0105536112014"),
        ("branch" = String, Path, description = "Importer branch (5 digits)", pattern = r"^[0-9]{5}$", example = "00000"),
        ListParams,
    ),
    responses(
        (status = 200, description = "One page of requests", body = RequestPage),
        (status = 400, description = "Invalid filter, cursor or limit", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, unknown or revoked key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such importer visible to this key", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Storage unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub async fn importer_requests(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath((tax, branch)): ApiPath<(String, String)>,
    ApiQuery(pairs): ApiQuery<Vec<(String, String)>>,
) -> Result<Json<RequestPage>, ApiError> {
    let mut errs = Vec::new();
    let importer = importer_of(&tax, &branch, &mut errs);
    // Each parameter once: a filter given twice would silently filter by one of them.
    let mut params: HashMap<String, String> = HashMap::new();
    let mut repeated: Vec<String> = Vec::new();
    for (k, v) in pairs {
        match params.entry(k) {
            std::collections::hash_map::Entry::Occupied(e) => {
                if !repeated.contains(e.key()) {
                    repeated.push(e.key().clone());
                }
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(v);
            }
        }
    }
    errs.extend(
        repeated
            .iter()
            .map(|k| format!("{k}: is given more than once; give it once")),
    );
    let p = ListParams {
        status: params.get("status").cloned(),
        from: params.get("from").cloned(),
        to: params.get("to").cloned(),
        cursor: params.get("cursor").cloned(),
        limit: params.get("limit").cloned(),
    };
    let importer = match importer {
        Some(i) if errs.is_empty() => i,
        _ => return Err(bad(errs)),
    };
    let filter = list_filter(importer, &p).map_err(bad)?;
    if !caller.importers.contains(&importer) {
        return Err(ApiError::NotFound(format!("no importer {importer}")));
    }
    let mut rows = state
        .store
        .list_requests(&RequestFilter {
            limit: filter.limit + 1,
            ..filter.clone()
        })
        .await?;
    let more = rows.len() > filter.limit as usize;
    rows.truncate(filter.limit as usize);
    let next_cursor = if more {
        rows.last().map(|r| encode_cursor(&r.request_id))
    } else {
        None
    };
    Ok(Json(RequestPage {
        requests: rows.iter().map(RequestSummaryDto::from).collect(),
        next_cursor,
    }))
}

/// This OpenAPI 3.1 document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json"))
)]
pub async fn openapi_json() -> Response {
    let doc = ApiDoc::openapi();
    match doc.to_json() {
        Ok(s) => ([(header::CONTENT_TYPE, "application/json")], s).into_response(),
        Err(e) => ApiError::Internal(e.to_string()).into_response(),
    }
}

struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key from `nsw-gateway apikey create`"))
                    .build(),
            ),
        );
    }
}

/// The OpenAPI document of this listener.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "nsw-gateway status API",
        description = "Where import permits and permit requests stand: decision, permit, items \
                       with quantities and bilingual reasons, and the full history."
    ),
    paths(permit, by_reference, importer_requests, openapi_json, page::status_page),
    components(schemas(Problem)),
    modifiers(&BearerScheme)
)]
pub struct ApiDoc;

/// Routes registered on the API router, as (method, path): the OpenAPI coverage test checks
/// each one is in the document.
pub struct Routes {
    router: Router<ApiState>,
    paths: Vec<(Method, &'static str)>,
}

impl Routes {
    fn get<H, T>(mut self, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, ApiState>,
        T: 'static,
    {
        let mr: MethodRouter<ApiState> = get(handler);
        self.router = self.router.route(path, mr);
        self.paths.push((Method::GET, path));
        self
    }
}

fn routes() -> Routes {
    Routes {
        router: Router::new(),
        paths: Vec::new(),
    }
    .get("/api/v1/permits/{permit_number}", permit)
    .get(
        "/api/v1/requests/by-reference/{tax_number}/{branch}/{reference}",
        by_reference,
    )
    .get(
        "/api/v1/importers/{tax_number}/{branch}/requests",
        importer_requests,
    )
    .get("/api/v1/openapi.json", openapi_json)
    .get("/status", page::status_page)
}

/// Every (method, path) the router serves.
pub fn registered_routes() -> Vec<(Method, &'static str)> {
    routes().paths
}

async fn fallback() -> ApiError {
    ApiError::NotFound("no such resource".to_string())
}

async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::MethodNotAllowed(method.to_string())
}

/// Answers hold importers' data: no cache keeps them (unless a handler says otherwise). The
/// admin listener's operator and officer routes answer the same way.
pub(crate) async fn no_store(mut r: Response) -> Response {
    r.headers_mut()
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    r
}

/// The router of the API listener. Serve it with `into_make_service_with_connect_info`.
pub fn router(state: ApiState) -> Router {
    routes()
        .router
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(axum::middleware::map_response(no_store))
        .layer(tower_http::trace::TraceLayer::new_for_http())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn importer() -> PartyKey {
        PartyKey {
            tax_number: TaxNumber::parse("0105536112014").unwrap(),
            branch: Branch::parse("00000").unwrap(),
        }
    }

    #[test]
    fn client_address_behind_trusted_proxies() {
        let check = |peer: &str, forwarded: Option<&str>, want: &str| {
            let mut req = axum::http::Request::builder().uri("/");
            if let Some(f) = forwarded {
                req = req.header("X-Forwarded-For", f);
            }
            let (mut parts, ()) = req.body(()).unwrap().into_parts();
            parts
                .extensions
                .insert(ConnectInfo(SocketAddr::new(peer.parse().unwrap(), 4000)));
            let trusted: Vec<IpAddr> =
                vec!["10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap()];
            assert_eq!(
                client_ip(&parts, &trusted).to_string(),
                want,
                "{peer} {forwarded:?}"
            );
        };
        check("192.0.2.7", None, "192.0.2.7");
        check("192.0.2.7", Some("198.51.100.1"), "192.0.2.7");
        check("10.0.0.1", None, "10.0.0.1");
        check("10.0.0.1", Some("198.51.100.1"), "198.51.100.1");
        check("10.0.0.1", Some("6.6.6.6, 198.51.100.1"), "198.51.100.1");
        check(
            "10.0.0.1",
            Some("6.6.6.6, 198.51.100.1, 10.0.0.2"),
            "198.51.100.1",
        );
        check("10.0.0.1", Some("10.0.0.2"), "10.0.0.2");
        check("10.0.0.1", Some("garbage, 10.0.0.2"), "10.0.0.2");
        check("10.0.0.1", Some("2001:db8::5"), "2001:db8::5");
    }

    /// `query` as `k=v&k=v`; `expected` is `Ok(debug of (decision, from, until, before, limit))`
    /// or `Err(fields named)`.
    fn check(query: &str, expected: Result<&str, &[&str]>) {
        let mut p = ListParams::default();
        for kv in query.split('&').filter(|s| !s.is_empty()) {
            let (k, v) = kv.split_once('=').unwrap();
            let v = Some(v.to_string());
            match k {
                "status" => p.status = v,
                "from" => p.from = v,
                "to" => p.to = v,
                "cursor" => p.cursor = v,
                "limit" => p.limit = v,
                other => panic!("unknown parameter {other}"),
            }
        }
        match (list_filter(importer(), &p), expected) {
            (Ok(f), Ok(want)) => {
                let got = format!(
                    "{:?} {:?} {:?} {:?} {}",
                    f.decision,
                    f.from.map(|t| t.to_rfc3339()),
                    f.until.map(|t| t.to_rfc3339()),
                    f.before,
                    f.limit
                );
                assert_eq!(got, want, "{query}");
            }
            (Err(errs), Err(fields)) => {
                assert_eq!(errs.len(), fields.len(), "{query}: {errs:?}");
                for (e, f) in errs.iter().zip(fields) {
                    assert!(e.starts_with(&format!("{f}:")), "{query}: {e}");
                }
            }
            (got, want) => panic!("{query}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn list_parameters() {
        check("", Ok("None None None None 50"));
        check(
            "status=approved&limit=200",
            Ok("Some(\"APPROVED\") None None None 200"),
        );
        check(
            "from=2026-01-31&to=2026-01-31",
            Ok("None Some(\"2026-01-30T17:00:00+00:00\") Some(\"2026-01-31T17:00:00+00:00\") None 50"),
        );
        check(
            &format!("cursor={}", encode_cursor(REQ)),
            Ok(&format!("None None None Some({REQ:?}) 50")),
        );
        check("status=", Ok("None None None None 50"));
        check("status=DONE", Err(&["status"]));
        check("from=2026-1-5", Err(&["from"]));
        check("to=2026-02-30", Err(&["to"]));
        check("from=2026-02-02&to=2026-02-01", Err(&["to"]));
        check("cursor=abc", Err(&["cursor"]));
        check(
            &format!("cursor={}", encode_cursor("REQ-1")),
            Err(&["cursor"]),
        );
        let first_form = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("r1:42");
        check(&format!("cursor={first_form}"), Err(&["cursor"]));
        check("limit=0", Err(&["limit"]));
        check("limit=x", Err(&["limit"]));
        check(
            "status=X&from=Y&limit=500",
            Err(&["status", "from", "limit"]),
        );
    }

    const REQ: &str = "REQ-019ad3f2a7c47b2e9c1d0e8f6a5b4c3d";

    #[test]
    fn cursors_round_trip_and_are_opaque() {
        let c = encode_cursor(REQ);
        assert!(!c.contains(REQ));
        assert_eq!(decode_cursor(&c).as_deref(), Some(REQ));
        assert_eq!(decode_cursor(REQ), None);
        assert_eq!(
            decode_cursor("r2:REQ-019ad3f2a7c47b2e9c1d0e8f6a5b4c3d"),
            None
        );
    }

    #[test]
    fn problems_never_carry_internal_causes() {
        let cases = [
            (ApiError::Internal("SELECT secret FROM t".into()), 500),
            (
                ApiError::Unavailable(StoreError::Unavailable("db host 10.0.0.5".into())),
                503,
            ),
        ];
        for (e, status) in cases {
            let p = problem(&e);
            assert_eq!(p.status, status);
            assert!(!p.detail.contains("SELECT") && !p.detail.contains("10.0.0.5"));
        }
    }

    #[test]
    fn routes_are_registered_once() {
        let routes = registered_routes();
        let unique: std::collections::BTreeSet<_> = routes.iter().map(|(_, p)| *p).collect();
        assert_eq!(unique.len(), routes.len());
    }
}
