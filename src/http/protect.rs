//! Protection of the ebMS endpoint: per-partner rate limits, a bound on requests in flight
//! (shed with 503 instead of queueing), a time budget per request, and a body limit enforced
//! before the body is read.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

use super::Error;
use crate::config::Partner;

/// One rate limiter per configured partner, each with the partner's own quota.
///
/// The set of keys is fixed by the configuration (requests from unknown parties are refused
/// before the limiter is asked), so the state cannot grow with traffic and needs no pruning;
/// that is why this is a map of direct limiters rather than one keyed limiter.
pub struct RateLimits {
    limiters: HashMap<String, DefaultDirectRateLimiter>,
    clock: DefaultClock,
}

impl RateLimits {
    pub fn new(partners: &[Partner]) -> RateLimits {
        let limiters = partners
            .iter()
            .map(|p| {
                let quota = Quota::with_period(p.rate.replenish_interval())
                    .expect("replenish interval is positive")
                    .allow_burst(p.rate.burst);
                (p.party_id.clone(), RateLimiter::direct(quota))
            })
            .collect();
        RateLimits {
            limiters,
            clock: DefaultClock::default(),
        }
    }

    /// Takes one request from the partner's allowance, or says how long to wait.
    /// A party that is not configured has no allowance to take from and passes (it is refused
    /// by the header checks).
    pub fn check(&self, partner: &str) -> Result<(), Duration> {
        match self.limiters.get(partner) {
            None => Ok(()),
            Some(l) => l
                .check()
                .map_err(|not_until| not_until.wait_time_from(self.clock.now())),
        }
    }
}

/// Bound on requests being processed at the same time. Observable (for tests and metrics).
#[derive(Clone)]
pub struct InFlight {
    permits: Arc<Semaphore>,
    count: Arc<watch::Sender<usize>>,
    retry_after: Duration,
}

/// Held while a request is processed.
pub struct InFlightGuard {
    _permit: OwnedSemaphorePermit,
    count: Arc<watch::Sender<usize>>,
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.count.send_modify(|n| *n -= 1);
    }
}

impl InFlight {
    pub fn new(max: usize, retry_after: Duration) -> InFlight {
        InFlight {
            permits: Arc::new(Semaphore::new(max)),
            count: Arc::new(watch::channel(0).0),
            retry_after,
        }
    }

    /// Enters, or fails at once with `Overloaded` when the bound is reached.
    pub fn try_enter(&self) -> Result<InFlightGuard, Error> {
        let permit = self
            .permits
            .clone()
            .try_acquire_owned()
            .map_err(|_| Error::Overloaded {
                retry_after: self.retry_after,
            })?;
        self.count.send_modify(|n| *n += 1);
        Ok(InFlightGuard {
            _permit: permit,
            count: self.count.clone(),
        })
    }

    /// The number of requests in flight, as a watch (wait for a value without polling).
    pub fn watch(&self) -> watch::Receiver<usize> {
        self.count.subscribe()
    }
}

/// Middleware: shed the request with 503 when too many are in flight.
pub async fn limit_in_flight(
    State(in_flight): State<InFlight>,
    req: Request,
    next: Next,
) -> Response {
    match in_flight.try_enter() {
        Ok(guard) => {
            let response = next.run(req).await;
            drop(guard);
            response
        }
        Err(e) => e.into_response(),
    }
}

/// Time budget of one request and the `Retry-After` to give when it is exceeded.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    pub timeout: Duration,
    pub retry_after: Duration,
}

/// Set by the handler (found in the request's extensions) when it hands the message to the
/// store. From then on the time budget no longer cuts the request short: what the store did
/// is the answer, and a 503 would tell the sender that the message was not recorded (spec
/// §1.2) when it may have been.
#[derive(Clone, Debug, Default)]
pub struct Recording(Arc<AtomicBool>);

impl Recording {
    pub fn start(&self) {
        self.0.store(true, Ordering::Release);
    }

    fn started(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Middleware: answer 503 + `Retry-After` when the request exceeds its time budget before
/// its message reached the store (see [`Recording`]); once it has, wait for the store.
///
/// 503 rather than 504: the gateway is the origin server, and a request cut short here
/// recorded nothing, so it is safe to send again unchanged. The store bounds its own waits
/// (pool and lock timeouts), and answers 503 for what it did not record.
pub async fn time_budget(State(budget): State<Budget>, mut req: Request, next: Next) -> Response {
    let recording = Recording::default();
    req.extensions_mut().insert(recording.clone());
    let run = next.run(req);
    tokio::pin!(run);
    match tokio::time::timeout(budget.timeout, &mut run).await {
        Ok(response) => response,
        // Only this task polls the handler, so a flag not set now was not set while it ran.
        Err(_) if recording.started() => run.await,
        Err(_) => Error::Timeout {
            retry_after: budget.retry_after,
        }
        .into_response(),
    }
}

/// Reads a request body of at most `limit` bytes. A declared `Content-Length` above the limit
/// is refused before anything is read; an undeclared (chunked) body is cut off at the limit.
pub async fn read_limited(
    req: Request,
    limit: usize,
) -> Result<(axum::http::request::Parts, Bytes), Error> {
    let (parts, body) = req.into_parts();
    if let Some(len) = parts.headers.get(header::CONTENT_LENGTH) {
        let declared = len
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .ok_or_else(|| Error::BodyRead("Content-Length is not a number".into()))?;
        if declared > limit as u64 {
            return Err(Error::PayloadTooLarge { limit });
        }
    }
    let bytes = read_body(body, limit).await?;
    Ok((parts, bytes))
}

async fn read_body(body: Body, limit: usize) -> Result<Bytes, Error> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(Error::PayloadTooLarge { limit })
        }
        Err(e) => Err(Error::BodyRead(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{development_partner, RateLimit};
    use std::num::NonZeroU32;

    #[test]
    fn rate_limit_allows_the_burst_then_says_when() {
        let mut p = development_partner();
        p.rate = RateLimit {
            requests: NonZeroU32::new(1).unwrap(),
            per: Duration::from_secs(3600),
            burst: NonZeroU32::new(2).unwrap(),
        };
        let limits = RateLimits::new(&[p]);
        assert!(limits.check("NSW").is_ok());
        assert!(limits.check("NSW").is_ok());
        let wait = limits.check("NSW").unwrap_err();
        assert!(
            wait > Duration::from_secs(3000) && wait <= Duration::from_secs(3600),
            "{wait:?}"
        );
        assert!(limits.check("UNKNOWN").is_ok());
    }

    /// A handler that takes `work` of (paused) time, having handed its message to the store
    /// first when `records`; the answer under a budget of one second.
    async fn answer_after(work: Duration, records: bool) -> axum::http::StatusCode {
        use axum::routing::post;
        use tower::ServiceExt;
        let budget = Budget {
            timeout: Duration::from_secs(1),
            retry_after: Duration::from_secs(2),
        };
        let handler = move |req: Request| async move {
            if records {
                req.extensions().get::<Recording>().expect("set").start();
            }
            tokio::time::sleep(work).await;
            "stored"
        };
        let app = axum::Router::new()
            .route("/ebms", post(handler))
            .layer(axum::middleware::from_fn_with_state(budget, time_budget));
        let req = Request::post("/ebms").body(Body::empty()).unwrap();
        app.oneshot(req).await.unwrap().status()
    }

    #[tokio::test(start_paused = true)]
    async fn the_time_budget_never_cuts_a_message_the_store_has() {
        use axum::http::StatusCode;
        let s = Duration::from_secs;
        assert_eq!(answer_after(s(0), false).await, StatusCode::OK);
        assert_eq!(
            answer_after(s(5), false).await,
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(answer_after(s(5), true).await, StatusCode::OK);
        assert_eq!(answer_after(s(0), true).await, StatusCode::OK);
    }

    #[test]
    fn in_flight_bound_sheds_and_counts() {
        let f = InFlight::new(2, Duration::from_secs(1));
        let w = f.watch();
        let a = f.try_enter().unwrap();
        let _b = f.try_enter().unwrap();
        assert_eq!(*w.borrow(), 2);
        assert!(matches!(f.try_enter(), Err(Error::Overloaded { .. })));
        drop(a);
        assert_eq!(*w.borrow(), 1);
        assert!(f.try_enter().is_ok());
    }

    async fn check_body(
        content_length: Option<&str>,
        body: &'static str,
        limit: usize,
        expected: Result<&str, u16>,
    ) {
        let mut b = Request::builder().method("POST").uri("/ebms");
        if let Some(cl) = content_length {
            b = b.header(header::CONTENT_LENGTH, cl);
        }
        let req = b.body(Body::from(body)).unwrap();
        match (read_limited(req, limit).await, expected) {
            (Ok((_, bytes)), Ok(want)) => assert_eq!(bytes, want.as_bytes()),
            (Err(e), Err(status)) => assert_eq!(e.status().as_u16(), status),
            (got, want) => panic!("got {:?}, want {want:?}", got.map(|(_, b)| b)),
        }
    }

    #[tokio::test]
    async fn body_limit() {
        check_body(Some("5"), "hello", 5, Ok("hello")).await;
        check_body(None, "hello", 5, Ok("hello")).await;
        check_body(Some("6"), "hello!", 5, Err(413)).await;
        check_body(None, "hello!", 5, Err(413)).await;
        check_body(Some("99999999999"), "", 5, Err(413)).await;
        check_body(Some("abc"), "", 5, Err(400)).await;
    }
}
