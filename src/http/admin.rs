//! The admin listener: `/metrics` (Prometheus text), `/healthz` (the process is alive) and
//! `/readyz` (the gateway can take traffic: not shutting down and its store answers).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use sha2::{Digest, Sha256};

use super::serve::Shutdown;
use super::Error;
use crate::config::Secret;
use crate::store::OutboxFigures;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why the gateway is not ready: `shown` to the operator's probe, `detail` only logged (it
/// may name internals).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotReady {
    pub shown: &'static str,
    pub detail: String,
}

/// What the admin endpoints ask the rest of the gateway.
pub trait Probe: Send + Sync + 'static {
    /// Whether the gateway can take messages: the store answers and reference data is loaded.
    fn ready(&self) -> BoxFuture<'_, Result<(), NotReady>>;
    /// Current outbox figures, when there is an outbox.
    fn outbox(&self) -> BoxFuture<'_, Option<OutboxFigures>>;
    /// The SQLite writer's figures, on SQLite.
    fn writer(&self) -> Option<crate::telemetry::WriterFigures>;
}

#[derive(Clone)]
pub struct AdminState {
    pub metrics: PrometheusHandle,
    pub probe: Arc<dyn Probe>,
    pub token: Option<Secret>,
    pub shutdown: Shutdown,
}

pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(unknown)
        .with_state(state)
}

/// A path the admin listener does not serve.
async fn unknown() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(serde_json::json!({ "error": "no such admin endpoint" })),
    )
        .into_response()
}

fn authorise(state: &AdminState, headers: &HeaderMap) -> Result<(), Error> {
    let Some(token) = &state.token else {
        return Ok(());
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    // Compare digests so that the comparison time does not depend on the token.
    if Sha256::digest(given.as_bytes()) == Sha256::digest(token.expose().as_bytes()) {
        Ok(())
    } else {
        Err(Error::Unauthorized)
    }
}

async fn metrics(State(state): State<AdminState>, headers: HeaderMap) -> Result<Response, Error> {
    authorise(&state, &headers)?;
    if let Some(stats) = state.probe.outbox().await {
        crate::telemetry::record_outbox(stats);
    }
    if let Some(w) = state.probe.writer() {
        crate::telemetry::record_sqlite_writer(w);
    }
    let mut r = state.metrics.render().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(r)
}

async fn healthz() -> &'static str {
    "alive\n"
}

async fn readyz(State(state): State<AdminState>, headers: HeaderMap) -> Result<Response, Error> {
    authorise(&state, &headers)?;
    if state.shutdown.is_triggered() {
        return Ok((StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response());
    }
    match state.probe.ready().await {
        Ok(()) => Ok((StatusCode::OK, "ready\n").into_response()),
        Err(NotReady { shown, detail }) => {
            tracing::warn!(reason = shown, %detail, "not ready");
            Ok((StatusCode::SERVICE_UNAVAILABLE, format!("{shown}\n")).into_response())
        }
    }
}
