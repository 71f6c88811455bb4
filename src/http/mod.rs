//! HTTP: the ebMS endpoint's router and protection layers, the one error type, the TLS accept
//! loop, and the separate admin listener (metrics, health).

pub mod admin;
pub mod context;
pub mod ebms;
mod error;
pub mod operator;
pub mod protect;
pub mod reference;
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
use crate::store::Store;
use crate::wire::envelope::MessageHeader;
use protect::{Budget, InFlight, RateLimits};
use reference::Reference;

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
    /// The reference data in use.
    pub reference: Arc<Reference>,
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
/// once the ebMS header has been read ([`record_header`]). Its level is `error`, so that it is
/// enabled whenever anything is logged: a warning about a message carries the message's ids
/// when the log is set to `warn` too. Its fields are worked out only when it is enabled.
fn request_span(req: &Request) -> tracing::Span {
    tracing::error_span!(
        "request",
        method = %req.method(),
        path = %req.uri().path(),
        remote = %req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.to_string())
            .unwrap_or_default(),
        message_id = Empty,
        conversation_id = Empty,
        action = Empty,
        from = Empty,
    )
}

/// Records the ebMS header's fields on a request's span ([`request_span`]) in one call. The
/// JSON log format keeps a span's fields as a JSON text that it reads and writes anew on every
/// call: four calls cost about four times as much.
pub(crate) fn record_header(span: &tracing::Span, h: &MessageHeader) {
    // None when the span is disabled (its level filtered out).
    let Some(meta) = span.metadata() else {
        return;
    };
    let fields = meta.fields();
    let (Some(message_id), Some(conversation_id), Some(action), Some(from)) = (
        fields.field("message_id"),
        fields.field("conversation_id"),
        fields.field("action"),
        fields.field("from"),
    ) else {
        return;
    };
    let (m, c, a, f) = (
        h.message_id.as_str(),
        h.conversation_id.as_str(),
        h.action.as_str(),
        h.from.id.as_str(),
    );
    span.record_all(&fields.value_set(&[
        (&message_id, Some(&m as &dyn tracing::Value)),
        (&conversation_id, Some(&c as &dyn tracing::Value)),
        (&action, Some(&a as &dyn tracing::Value)),
        (&from, Some(&f as &dyn tracing::Value)),
    ]));
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

#[cfg(test)]
mod tests {
    use axum::body::Body;

    use super::*;
    use crate::telemetry::test_support::logged;
    use crate::wire::intake::test_support::header;

    /// The lines of an info and a warning event logged inside a request's span after its
    /// header was recorded, with the text or JSON format and this filter.
    fn request_lines(json: bool, filter: &str) -> String {
        logged(json, filter, || {
            let mut req = Request::new(Body::empty());
            *req.uri_mut() = "/ebms".parse().unwrap();
            req.extensions_mut()
                .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40046))));
            let span = request_span(&req);
            let _entered = span.enter();
            record_header(&span, &header("ImportPermitRequest"));
            tracing::info!("answered");
            tracing::warn!("refused");
        })
    }

    #[test]
    fn a_requests_log_line_carries_its_header() {
        let text = request_lines(false, "info");
        assert!(text.contains("answered"), "{text}");
        for field in [
            "message_id=\"7d3c9a10-1f1e-4c55-9a77-1a2b3c4d5e6f@nsw.go.th\"",
            "conversation_id=\"conv-42\"",
            "action=\"ImportPermitRequest\"",
            "from=\"NSW\"",
            "remote=127.0.0.1:40046",
            "path=/ebms",
        ] {
            assert!(text.contains(field), "{field} not in {text}");
        }

        let json = request_lines(true, "info");
        let first = json.lines().next().unwrap();
        let json: serde_json::Value = serde_json::from_str(first).unwrap();
        assert_eq!(json["fields"]["message"], "answered");
        let span = &json["span"];
        assert_eq!(
            span["message_id"],
            "7d3c9a10-1f1e-4c55-9a77-1a2b3c4d5e6f@nsw.go.th"
        );
        assert_eq!(span["conversation_id"], "conv-42");
        assert_eq!(span["action"], "ImportPermitRequest");
        assert_eq!(span["from"], "NSW");
        assert_eq!(span["remote"], "127.0.0.1:40046");
    }

    /// With info lines filtered out, a warning still carries the message's ids.
    #[test]
    fn a_warning_carries_the_header_when_info_is_filtered_out() {
        for json in [false, true] {
            let out = request_lines(json, "warn");
            assert!(!out.contains("answered"), "{out}");
            let line = out.lines().next().unwrap_or_default();
            assert!(line.contains("refused"), "{out}");
            assert!(
                line.contains("7d3c9a10-1f1e-4c55-9a77-1a2b3c4d5e6f@nsw.go.th")
                    && line.contains("conv-42"),
                "{line}"
            );
        }
    }
}
