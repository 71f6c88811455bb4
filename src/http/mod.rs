//! HTTP: the ebMS endpoint's router and protection layers, the one error type, the TLS accept
//! loop, and the separate admin listener (metrics, health).

pub mod admin;
pub mod context;
pub mod ebms;
mod error;
pub mod operator;
pub mod protect;
pub mod render;
pub mod serve;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::field::Empty;

pub use error::{retry_after_secs, Error};

use crate::config::Settings;
use crate::domain::snapshot::Snapshot;
use crate::store::Store;
use arc_swap::ArcSwapOption;
use protect::{Budget, InFlight, RateLimits};

/// What became of a request, for metrics: set on responses by the handler and by [`Error`].
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// The ebMS action, when the header was read far enough to know it.
    pub action: Option<String>,
    /// The business decision (e.g. `APPROVED`), `Pong`, or an error kind (e.g. `rate_limited`).
    pub decision: String,
}

impl Outcome {
    pub fn decision(decision: impl Into<String>) -> Outcome {
        Outcome {
            action: None,
            decision: decision.into(),
        }
    }
}

/// Everything the ebMS handler needs.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub rate_limits: Arc<RateLimits>,
    pub store: Store,
    /// The current reference data; `None` until some is loaded.
    pub snapshot: Arc<ArcSwapOption<Snapshot>>,
    /// Used for documents that are not decided against reference data.
    pub empty_snapshot: Arc<Snapshot>,
}

/// The router of the ebMS listener, with its protection layers (outermost first): request
/// span, metrics, in-flight bound (503), time budget (503).
pub fn router(state: AppState, in_flight: InFlight) -> Router {
    let budget = Budget {
        timeout: state.settings.server.request_timeout,
        retry_after: state.settings.server.retry_after,
    };
    Router::new()
        .route("/ebms", post(ebms::handle))
        .with_state(state)
        .layer(middleware::from_fn_with_state(budget, protect::time_budget))
        .layer(middleware::from_fn_with_state(
            in_flight,
            protect::limit_in_flight,
        ))
        .layer(middleware::from_fn(record_metrics))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO))
                // Failures are logged once, by `Error`, with their cause.
                .on_failure(()),
        )
}

/// The span of one request. `message_id`, `conversation_id`, `action` and `from` are recorded
/// once the ebMS header has been read.
fn request_span(req: &Request) -> tracing::Span {
    let remote = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.to_string())
        .unwrap_or_default();
    tracing::info_span!(
        "request",
        method = %req.method(),
        path = %req.uri().path(),
        remote = %remote,
        message_id = Empty,
        conversation_id = Empty,
        action = Empty,
        from = Empty,
    )
}

async fn record_metrics(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let response = next.run(req).await;
    let outcome = response
        .extensions()
        .get::<Outcome>()
        .cloned()
        .unwrap_or_else(|| Outcome::decision(response.status().as_str()));
    crate::telemetry::record_request(
        outcome.action.as_deref().unwrap_or("unknown"),
        &outcome.decision,
        started.elapsed(),
    );
    response
}
