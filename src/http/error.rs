//! The one error type of the HTTP layer. Each variant maps to the status of spec §1.2; internal
//! causes are logged, never sent to the client.

use std::time::Duration;

use axum::body::Body;
use axum::body::Bytes;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::Outcome;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The body is larger than the configured limit (checked before and while reading).
    #[error("request body larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// The body could not be read (client went away, broken framing).
    #[error("request body could not be read: {0}")]
    BodyRead(String),
    /// Credentials missing or wrong (admin endpoints).
    #[error("authentication required")]
    Unauthorized,
    /// Mutual TLS is on and the connection presented no client certificate. Answered 403, not
    /// 401: no HTTP authentication scheme could supply one on this connection, and a 401
    /// names such a scheme (RFC 9110 §15.5.2). The connection is closed after the answer
    /// (HTTP/1.1 by `Connection: close`, HTTP/2 by GOAWAY: see `serve`).
    #[error("client certificate required")]
    NoClientCertificate,
    /// The partner's request rate is exceeded.
    #[error("rate limit exceeded")]
    RateLimited { retry_after: Duration },
    /// Too many requests in flight: shed at once instead of queueing.
    #[error("too many requests in flight")]
    Overloaded { retry_after: Duration },
    /// The request did not finish within its time budget.
    #[error("request timed out")]
    Timeout { retry_after: Duration },
    /// The store cannot be reached: nothing was recorded, the sender should retry unchanged.
    #[error("storage unavailable")]
    Unavailable {
        retry_after: Duration,
        #[source]
        source: anyhow::Error,
    },
    /// A complete ebMS answer (SOAP Fault or ErrorList) built by the wire layer.
    #[error("ebMS error reply ({kind}, HTTP {status})")]
    Ebms {
        status: StatusCode,
        /// Short label for logs and metrics (e.g. `OtherXml`, `SecurityFailure`, `fault`).
        kind: &'static str,
        content_type: HeaderValue,
        body: Bytes,
    },
    /// Anything unexpected; logged in full, answered with a plain 500.
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl Error {
    pub fn status(&self) -> StatusCode {
        match self {
            Error::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Error::BodyRead(_) => StatusCode::BAD_REQUEST,
            Error::Unauthorized => StatusCode::UNAUTHORIZED,
            Error::NoClientCertificate => StatusCode::FORBIDDEN,
            Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::Overloaded { .. } | Error::Timeout { .. } | Error::Unavailable { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Error::Ebms { status, .. } => *status,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The label used as `decision` in metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::PayloadTooLarge { .. } => "too_large",
            Error::BodyRead(_) => "body_unreadable",
            Error::Unauthorized => "unauthorized",
            Error::NoClientCertificate => "no_client_certificate",
            Error::RateLimited { .. } => "rate_limited",
            Error::Overloaded { .. } => "overloaded",
            Error::Timeout { .. } => "timeout",
            Error::Unavailable { .. } => "store_unavailable",
            Error::Ebms { kind, .. } => kind,
            Error::Internal(_) => "internal",
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after }
            | Error::Overloaded { retry_after }
            | Error::Timeout { retry_after }
            | Error::Unavailable { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// The plain-text line the client gets (no internal detail).
    fn public_message(&self) -> &'static str {
        match self {
            Error::PayloadTooLarge { .. } => "message larger than the configured limit",
            Error::BodyRead(_) => "request body could not be read",
            Error::Unauthorized => "authentication required",
            Error::NoClientCertificate => "client certificate required",
            Error::RateLimited { .. } => "rate limit exceeded; retry later",
            Error::Overloaded { .. } => "gateway overloaded; message not recorded, retry later",
            Error::Timeout { .. } => "request took too long; retry later",
            Error::Unavailable { .. } => "storage unavailable; message not recorded, retry later",
            Error::Ebms { .. } => "",
            Error::Internal(_) => "internal error",
        }
    }
}

/// `Retry-After` in whole seconds, rounded up, at least 1.
pub fn retry_after_secs(d: Duration) -> u64 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    secs.max(1)
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            Error::Internal(e) => tracing::error!(error = format!("{e:#}"), "internal error"),
            Error::Unavailable { source, .. } => {
                tracing::warn!(error = format!("{source:#}"), "store unavailable")
            }
            Error::BodyRead(detail) => tracing::info!(%detail, "request body unreadable"),
            other => tracing::info!(status = status.as_u16(), kind = other.kind(), "refused"),
        }
        let outcome = Outcome::decision(self.kind());
        let close = matches!(self, Error::NoClientCertificate);
        let retry_after = self.retry_after();
        let mut response = match self {
            Error::Ebms {
                content_type, body, ..
            } => {
                let mut r = Response::new(Body::from(body));
                r.headers_mut().insert(header::CONTENT_TYPE, content_type);
                r
            }
            other => {
                let mut r = Response::new(Body::from(other.public_message()));
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                );
                r
            }
        };
        *response.status_mut() = status;
        if let Some(d) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs(d)));
        }
        if close {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if status == StatusCode::UNAUTHORIZED {
            // RFC 9110 §15.5.2: a 401 names the scheme that would authenticate (the admin
            // listener's bearer token).
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response.extensions_mut().insert(outcome);
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(err: Error, status: u16, retry_after: Option<&str>) {
        let r = err.into_response();
        assert_eq!(r.status().as_u16(), status);
        let header = |name| r.headers().get(name).map(|v| v.to_str().unwrap());
        assert_eq!(header(header::RETRY_AFTER), retry_after);
        let challenge = (status == 401).then_some("Bearer");
        assert_eq!(header(header::WWW_AUTHENTICATE), challenge);
    }

    #[test]
    fn statuses_and_retry_after() {
        let ms = Duration::from_millis;
        check(Error::PayloadTooLarge { limit: 1 }, 413, None);
        check(Error::BodyRead("x".into()), 400, None);
        check(Error::Unauthorized, 401, None);
        check(Error::NoClientCertificate, 403, None);
        check(Error::RateLimited { retry_after: ms(1) }, 429, Some("1"));
        check(
            Error::RateLimited {
                retry_after: ms(2500),
            },
            429,
            Some("3"),
        );
        check(
            Error::Overloaded {
                retry_after: ms(1000),
            },
            503,
            Some("1"),
        );
        check(Error::Timeout { retry_after: ms(0) }, 503, Some("1"));
        check(
            Error::Unavailable {
                retry_after: ms(5000),
                source: anyhow::anyhow!("db down"),
            },
            503,
            Some("5"),
        );
        check(Error::Internal(anyhow::anyhow!("secret detail")), 500, None);
    }

    #[tokio::test]
    async fn internal_details_are_not_leaked() {
        let r = Error::Internal(anyhow::anyhow!("password=hunter2 at db.local")).into_response();
        let body = axum::body::to_bytes(r.into_body(), 1024).await.unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(!text.contains("hunter2"), "{text}");
        assert_eq!(text, "internal error");
    }
}
