//! The delivery worker: claims due outbox rows under a lease, POSTs the stored bytes to the
//! partner's `delivery_url`, and records the outcome (DONE, a retry at a back-off time, or
//! DEAD). An attempt that never returned (the worker stopped while it sent) is counted when
//! its row is taken over, so `max_attempts` bounds those too. Tests drive it round by round
//! with [`DeliveryWorker::run_once`]; `serve` runs [`DeliveryWorker::run`] in the background.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use tracing::Instrument;

use super::{Backoff, Circuit, CircuitState, Clock, SystemClock};
use crate::config::{DeliverySettings, Settings};
use crate::store::{AttemptOutcome, AttemptRecord, Claimed, Store, StoreError};

/// Metric: delivery attempts by partner and result (`delivered`, `retry`, `dead`,
/// `postponed`).
pub const DELIVERY_ATTEMPTS_TOTAL: &str = "nsw_delivery_attempts_total";
/// Metric: 1 while a partner's circuit is open (or half-open), else 0.
pub const PARTNER_CIRCUIT_OPEN: &str = "nsw_partner_circuit_open";

/// How the partner's answer to one attempt is judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx (with the matching `eb:Acknowledgment` when one was requested).
    Delivered,
    /// Worth another attempt: 5xx, 429, timeout, connection error, a 2xx without the
    /// acknowledgment that was asked for. `retry_after` is the partner's `Retry-After`.
    Retry {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// Refused for good (4xx other than 408 and 429): dead letter at once.
    Reject { reason: String },
}

fn parse_retry_after(v: &str, now: DateTime<Utc>) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// Judges an HTTP answer to a delivery. `ack_for` is the delivered MessageId when the stored
/// message asked for an acknowledgment.
pub fn classify(
    status: u16,
    retry_after: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
    ack_for: Option<&str>,
    now: DateTime<Utc>,
) -> Verdict {
    match status {
        200..=299 => match ack_for {
            None => Verdict::Delivered,
            Some(id) => match crate::wire::reply::parse_reply(content_type, body) {
                Ok(reply) => match reply.acknowledgment {
                    Some(ack) if ack.ref_to_message_id == id => Verdict::Delivered,
                    Some(ack) => Verdict::Retry {
                        reason: format!(
                            "HTTP {status}: the Acknowledgment refers to {}, not to {id}",
                            ack.ref_to_message_id
                        ),
                        retry_after: None,
                    },
                    None => Verdict::Retry {
                        reason: format!("HTTP {status} without the requested Acknowledgment"),
                        retry_after: None,
                    },
                },
                Err(e) => Verdict::Retry {
                    reason: format!(
                        "HTTP {status}: the answer is not an ebMS message with an Acknowledgment ({e:?})"
                    ),
                    retry_after: None,
                },
            },
        },
        429 => Verdict::Retry {
            reason: "HTTP 429 Too Many Requests".into(),
            retry_after: retry_after.and_then(|v| parse_retry_after(v, now)),
        },
        408 => Verdict::Retry {
            reason: "HTTP 408 Request Timeout".into(),
            retry_after: None,
        },
        400..=499 => Verdict::Reject {
            reason: format!("HTTP {status}: refused by the partner"),
        },
        500..=599 => Verdict::Retry {
            reason: format!("HTTP {status}"),
            retry_after: retry_after.and_then(|v| parse_retry_after(v, now)),
        },
        _ => Verdict::Retry {
            reason: format!("unexpected HTTP {status}"),
            retry_after: None,
        },
    }
}

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    pub claimed: usize,
    pub delivered: usize,
    pub retried: usize,
    pub dead: usize,
    /// Not attempted: the partner's circuit is open.
    pub postponed: usize,
    /// The lease was lost before the outcome could be recorded.
    pub lost: usize,
}

type Jitter = dyn Fn() -> f64 + Send + Sync;

struct Inner {
    store: Store,
    client: reqwest::Client,
    urls: HashMap<String, String>,
    cfg: DeliverySettings,
    backoff: Backoff,
    clock: Arc<dyn Clock>,
    jitter: Arc<Jitter>,
    circuits: Mutex<HashMap<String, Circuit>>,
}

/// The outbox worker. Cheap to clone; clones share circuits and the HTTP client.
#[derive(Clone)]
pub struct DeliveryWorker {
    inner: Arc<Inner>,
}

/// The HTTP client for deliveries: rustls (ring), timeouts, and the gateway's client
/// certificate and trusted CAs when configured.
pub fn http_client(cfg: &DeliverySettings) -> anyhow::Result<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .connect_timeout(cfg.connect_timeout)
        .timeout(cfg.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("nsw-gateway/", env!("CARGO_PKG_VERSION")));
    if let (Some(cert), Some(key)) = (&cfg.client_cert, &cfg.client_key) {
        let mut pem = std::fs::read(cert)
            .with_context(|| format!("delivery.client_cert: reading {}", cert.display()))?;
        pem.push(b'\n');
        pem.extend(
            std::fs::read(key)
                .with_context(|| format!("delivery.client_key: reading {}", key.display()))?,
        );
        let id = reqwest::Identity::from_pem(&pem)
            .context("delivery.client_cert / client_key: not a PEM certificate and key")?;
        b = b.identity(id);
    }
    if let Some(ca) = &cfg.ca {
        let pem =
            std::fs::read(ca).with_context(|| format!("delivery.ca: reading {}", ca.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .context("delivery.ca: not PEM certificates")?;
        if certs.is_empty() {
            anyhow::bail!("delivery.ca: {} holds no certificate", ca.display());
        }
        b = b.tls_built_in_root_certs(false);
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    b.build().context("building the delivery HTTP client")
}

impl DeliveryWorker {
    /// A worker on the system clock with random jitter.
    pub fn new(store: Store, settings: &Settings) -> anyhow::Result<DeliveryWorker> {
        Self::with_clock(
            store,
            settings,
            Arc::new(SystemClock),
            Arc::new(rand::random::<f64>),
        )
    }

    /// A worker with the given clock and jitter source (values in `[0, 1]`).
    pub fn with_clock(
        store: Store,
        settings: &Settings,
        clock: Arc<dyn Clock>,
        jitter: Arc<dyn Fn() -> f64 + Send + Sync>,
    ) -> anyhow::Result<DeliveryWorker> {
        let cfg = settings.delivery.clone();
        let client = http_client(&cfg)?;
        let urls = settings
            .partners
            .iter()
            .map(|p| (p.party_id.clone(), p.delivery_url.clone()))
            .collect();
        Ok(DeliveryWorker {
            inner: Arc::new(Inner {
                store,
                client,
                urls,
                backoff: Backoff {
                    base: cfg.backoff_base,
                    max: cfg.backoff_max,
                    factor: cfg.backoff_factor,
                },
                cfg,
                clock,
                jitter,
                circuits: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The back-off policy in use.
    pub fn backoff(&self) -> Backoff {
        self.inner.backoff
    }

    /// The state of a partner's circuit now.
    pub fn circuit_state(&self, partner: &str) -> CircuitState {
        let now = self.inner.clock.now();
        self.circuits()
            .get(partner)
            .map(|c| c.state(now))
            .unwrap_or(CircuitState::Closed)
    }

    fn circuits(&self) -> std::sync::MutexGuard<'_, HashMap<String, Circuit>> {
        self.inner
            .circuits
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Puts rows whose lease expired (a worker crashed) back into the queue.
    pub async fn requeue_expired(&self) -> Result<u64, StoreError> {
        let n = self
            .inner
            .store
            .outbox_requeue_expired(self.inner.clock.now())
            .await?;
        if n > 0 {
            tracing::warn!(rows = n, "re-queued outbox rows whose lease had expired");
        }
        Ok(n)
    }

    /// One round: claims the due rows, sends them (concurrently; at most one per
    /// conversation), records the outcomes. Returns how many were delivered; a storage
    /// error is logged and counts as nothing delivered.
    pub async fn run_once(&self) -> usize {
        match self.try_run_once().await {
            Ok(r) => r.delivered,
            Err(e) => {
                tracing::error!(error = %e, "delivery round failed");
                0
            }
        }
    }

    /// One round, with its figures.
    pub async fn try_run_once(&self) -> Result<Round, StoreError> {
        let inner = &self.inner;
        let now = inner.clock.now();
        let claimed = inner
            .store
            .outbox_claim(now, inner.cfg.lease, inner.cfg.batch)
            .await?;
        let mut round = Round {
            claimed: claimed.len(),
            ..Round::default()
        };
        let mut sends = tokio::task::JoinSet::new();
        for c in claimed {
            // A row out of attempts is not sent again (see `exhausted`): it takes no probe of
            // its partner's circuit.
            let exhausted = c.item.attempts >= inner.cfg.max_attempts;
            let allowed = exhausted
                || self
                    .circuits()
                    .entry(c.item.partner.clone())
                    .or_insert_with(|| {
                        Circuit::new(inner.cfg.circuit_threshold, inner.cfg.circuit_cool_down)
                    })
                    .allow(now);
            if allowed {
                let w = self.clone();
                let span = delivery_span(&c.item);
                sends.spawn(
                    async move {
                        if exhausted {
                            w.exhausted(c).await
                        } else {
                            w.attempt(c).await
                        }
                    }
                    .instrument(span),
                );
            } else {
                let next_at = self
                    .circuits()
                    .get(&c.item.partner)
                    .map(|circ| circ.retry_at(now))
                    .unwrap_or(now);
                let outcome = AttemptOutcome::Postpone { next_at };
                let kept = self
                    .record(&c, "postponed", now, outcome, None, None)
                    .await?;
                if kept {
                    round.postponed += 1;
                } else {
                    round.lost += 1;
                }
            }
        }
        let mut first_error = None;
        while let Some(done) = sends.join_next().await {
            match done {
                Ok(Ok((outcome, kept))) => {
                    if !kept {
                        round.lost += 1;
                        continue;
                    }
                    match outcome {
                        AttemptOutcome::Done => round.delivered += 1,
                        AttemptOutcome::Retry { .. } => round.retried += 1,
                        AttemptOutcome::Dead | AttemptOutcome::Exhausted => round.dead += 1,
                        AttemptOutcome::Postpone { .. } => round.postponed += 1,
                    }
                }
                Ok(Err(e)) => {
                    first_error.get_or_insert(e);
                }
                Err(join) => {
                    first_error.get_or_insert(StoreError::Database(format!(
                        "a delivery attempt stopped: {join}"
                    )));
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(round),
        }
    }

    /// A claimed row whose attempts are all used up: the last ones never returned (their
    /// worker stopped while it sent, and the lease expired). The bound holds for them too:
    /// dead letter, not sent again.
    async fn exhausted(&self, c: Claimed) -> Result<(AttemptOutcome, bool), StoreError> {
        let reason = format!(
            "gave up after {} attempt(s), the last without an answer (the delivery stopped while it sent)",
            c.item.attempts
        );
        tracing::warn!(%reason, "delivery failed: dead letter");
        let outcome = AttemptOutcome::Exhausted;
        let now = self.inner.clock.now();
        let kept = self
            .record(&c, "dead", now, outcome.clone(), None, Some(reason))
            .await?;
        Ok((outcome, kept))
    }

    /// Sends one claimed row and records the outcome: (outcome, lease still held). The
    /// partner's circuit learns how the partner answered whatever becomes of the record, so
    /// that a probe of a half-open circuit is always settled.
    async fn attempt(&self, c: Claimed) -> Result<(AttemptOutcome, bool), StoreError> {
        let inner = &self.inner;
        let item = &c.item;
        let (verdict, http_status) = match inner.urls.get(&item.partner) {
            None => (
                Verdict::Reject {
                    reason: format!(
                        "partner `{}` is not configured (no delivery_url)",
                        item.partner
                    ),
                },
                None,
            ),
            Some(url) => self.send(url, &c).await,
        };
        let now = inner.clock.now();
        let attempt = item.attempts.saturating_add(1);
        let partner = item.partner.clone();
        // A 2xx without the Acknowledgment is retried, but the partner is up (its
        // Acknowledgment may come as a message of its own): it does not count against the
        // partner's circuit.
        let answered = http_status.is_some_and(|s| (200..300).contains(&s));
        let (mut outcome, error, result, mut partner_up) = match verdict {
            Verdict::Delivered => (AttemptOutcome::Done, None, "delivered", true),
            Verdict::Reject { reason } => {
                tracing::warn!(%reason, "delivery refused: dead letter");
                (AttemptOutcome::Dead, Some(reason), "dead", true)
            }
            Verdict::Retry {
                reason,
                retry_after,
            } => {
                let age = (now - item.queued_at).to_std().unwrap_or(Duration::ZERO);
                if attempt >= inner.cfg.max_attempts || age >= inner.cfg.max_age {
                    let reason = format!("gave up after {attempt} attempt(s): {reason}");
                    tracing::warn!(%reason, "delivery failed: dead letter");
                    (AttemptOutcome::Dead, Some(reason), "dead", answered)
                } else {
                    let wait = inner
                        .backoff
                        .delay(attempt, (inner.jitter)())
                        .max(retry_after.unwrap_or(Duration::ZERO));
                    let next_at =
                        now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
                    (
                        AttemptOutcome::Retry { next_at },
                        Some(reason),
                        "retry",
                        answered,
                    )
                }
            }
        };
        let reason = error.clone().unwrap_or_default();
        let recorded = async {
            let mut kept = self
                .record(&c, result, now, outcome.clone(), http_status, error)
                .await?;
            if !kept {
                // The partner's Acknowledgment, sent as a message of its own, may have
                // completed the row while this attempt waited for its answer.
                let done = inner.store.outbox_get(item.id).await?;
                if done.is_some_and(|row| row.status == crate::store::OutboxStatus::Done) {
                    tracing::info!("delivery completed meanwhile by the partner's Acknowledgment");
                    (outcome, kept, partner_up) = (AttemptOutcome::Done, true, true);
                } else {
                    tracing::warn!("the lease of an outbox row was lost during its delivery");
                }
            }
            Ok((outcome, kept))
        }
        .await;
        if partner_up {
            self.circuit_success(&partner);
        } else {
            self.circuit_failure(&partner, now, &reason);
        }
        recorded
    }

    /// Counts what became of a claimed row (`result`, the metric's label) and records it;
    /// `false` when the lease was lost and nothing was changed.
    async fn record(
        &self,
        c: &Claimed,
        result: &'static str,
        at: DateTime<Utc>,
        outcome: AttemptOutcome,
        http_status: Option<u16>,
        error: Option<String>,
    ) -> Result<bool, StoreError> {
        metrics::counter!(DELIVERY_ATTEMPTS_TOTAL, "partner" => c.item.partner.clone(), "result" => result)
            .increment(1);
        self.inner
            .store
            .outbox_record(AttemptRecord {
                id: c.item.id,
                token: c.token.clone(),
                at,
                outcome,
                http_status,
                error,
            })
            .await
    }

    async fn send(&self, url: &str, c: &Claimed) -> (Verdict, Option<u16>) {
        let item = &c.item;
        let sent = self
            .inner
            .client
            .post(url)
            .header(CONTENT_TYPE, &item.content_type)
            .header("SOAPAction", "\"ebXML\"")
            .body(item.body.clone())
            .send()
            .await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) => {
                return (
                    Verdict::Retry {
                        reason: describe(&e),
                        retry_after: None,
                    },
                    None,
                )
            }
        };
        let status = resp.status().as_u16();
        let header = |n| {
            resp.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let retry_after = header(RETRY_AFTER);
        let content_type = header(CONTENT_TYPE);
        let body = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => {
                return (
                    Verdict::Retry {
                        reason: format!("HTTP {status}, answer unreadable: {}", describe(&e)),
                        retry_after: None,
                    },
                    Some(status),
                )
            }
        };
        let ack_for = item.ack_requested.then_some(item.message_id.as_str());
        let verdict = classify(
            status,
            retry_after.as_deref(),
            content_type.as_deref(),
            &body,
            ack_for,
            self.inner.clock.now(),
        );
        (verdict, Some(status))
    }

    fn circuit_success(&self, partner: &str) {
        let mut circuits = self.circuits();
        if let Some(c) = circuits.get_mut(partner) {
            if c.is_open() {
                tracing::info!(
                    partner,
                    "deliveries to the partner succeed again: circuit closed"
                );
            }
            c.on_success();
        }
        metrics::gauge!(PARTNER_CIRCUIT_OPEN, "partner" => partner.to_string()).set(0.0);
    }

    fn circuit_failure(&self, partner: &str, now: DateTime<Utc>, reason: &str) {
        let mut circuits = self.circuits();
        let c = circuits.entry(partner.to_string()).or_insert_with(|| {
            Circuit::new(
                self.inner.cfg.circuit_threshold,
                self.inner.cfg.circuit_cool_down,
            )
        });
        if c.on_failure(now) {
            tracing::warn!(
                partner,
                consecutive_failures = c.consecutive_failures(),
                cool_down_secs = self.inner.cfg.circuit_cool_down.as_secs(),
                last_error = reason,
                "deliveries to the partner keep failing: circuit open, retrying after the cool-down"
            );
            metrics::gauge!(PARTNER_CIRCUIT_OPEN, "partner" => partner.to_string()).set(1.0);
        }
    }

    /// Runs rounds until `stop` completes: re-queues expired leases first, then delivers;
    /// waits `poll_interval` when a round delivered nothing. A round in progress is finished
    /// (its attempts are bounded by `delivery.timeout`) before stopping.
    pub async fn run(self, stop: impl Future<Output = ()> + Send) {
        tokio::pin!(stop);
        if let Err(e) = self.requeue_expired().await {
            tracing::error!(error = %e, "re-queueing expired outbox leases failed");
        }
        tracing::info!("delivery worker started");
        loop {
            let delivered = self.run_once().await;
            if delivered > 0 {
                tokio::select! {
                    biased;
                    _ = &mut stop => break,
                    _ = std::future::ready(()) => continue,
                }
            }
            tokio::select! {
                _ = &mut stop => break,
                _ = tokio::time::sleep(self.inner.cfg.poll_interval) => {}
            }
        }
        tracing::info!("delivery worker stopped");
    }
}

/// The span of one delivery attempt: every line about it names the outbox row, its message and
/// conversation and the partner. At level `error`, so that it is enabled whenever anything is
/// logged (as the request span of `http`).
fn delivery_span(item: &crate::store::OutboxItem) -> tracing::Span {
    tracing::error_span!(
        "delivery",
        outbox_id = item.id,
        message_id = item.message_id.as_str(),
        conversation_id = item.conversation_id.as_str(),
        partner = item.partner.as_str(),
    )
}

fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "transport error"
    };
    let mut msg = format!("{kind}: {e}");
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(&format!(": {s}"));
        src = s.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::envelope::{AckActor, MessageHeader, PartyId, Service};
    use crate::wire::reply::{build_ack_only, build_pong};

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    fn header(id: &str) -> MessageHeader {
        MessageHeader {
            from: PartyId::new("TISI"),
            to: PartyId::new("NSW"),
            cpa_id: "CPA".into(),
            conversation_id: "conv".into(),
            service: Service::new("urn:th:tisi:nsw:permit"),
            action: "ImportPermitResponse".into(),
            message_id: id.into(),
            timestamp: now().fixed_offset(),
            ref_to_message_id: None,
            time_to_live: None,
            duplicate_elimination: false,
        }
    }

    fn ack(for_id: &str) -> (String, Vec<u8>) {
        let b = build_ack_only(
            &header(for_id),
            AckActor::ToPartyMsh,
            "ack-1@nsw".into(),
            now(),
        );
        (b.content_type, b.body)
    }

    fn retry(reason: &str, after: Option<u64>) -> Verdict {
        Verdict::Retry {
            reason: reason.into(),
            retry_after: after.map(Duration::from_secs),
        }
    }

    fn check(
        status: u16,
        retry_after: Option<&str>,
        body: Option<(String, Vec<u8>)>,
        ack_for: Option<&str>,
        expected: Verdict,
    ) {
        let (ct, b) = body.unwrap_or_default();
        let got = classify(status, retry_after, Some(&ct), &b, ack_for, now());
        match (&got, &expected) {
            // The wording of a missing/foreign acknowledgment is checked by prefix.
            (
                Verdict::Retry {
                    reason: g,
                    retry_after: ga,
                },
                Verdict::Retry {
                    reason: e,
                    retry_after: ea,
                },
            ) if e.ends_with('…') => {
                assert!(g.starts_with(e.trim_end_matches('…')), "{g} vs {e}");
                assert_eq!(ga, ea);
            }
            _ => assert_eq!(got, expected, "status {status}"),
        }
    }

    #[test]
    fn answers() {
        check(200, None, None, None, Verdict::Delivered);
        check(202, None, None, None, Verdict::Delivered);
        check(204, None, None, None, Verdict::Delivered);
        check(
            200,
            None,
            Some(ack("m1@tisi")),
            Some("m1@tisi"),
            Verdict::Delivered,
        );
        check(
            200,
            None,
            Some(ack("other@tisi")),
            Some("m1@tisi"),
            retry("HTTP 200: the Acknowledgment refers to other@tisi…", None),
        );
        check(
            200,
            None,
            None,
            Some("m1@tisi"),
            retry("HTTP 200: the answer is not an ebMS message…", None),
        );
        let pong = build_pong(&header("p@nsw"), None, "pong@tisi".into(), now());
        check(
            200,
            None,
            Some((pong.content_type, pong.body)),
            Some("m1@tisi"),
            retry("HTTP 200 without the requested Acknowledgment", None),
        );
        check(503, None, None, None, retry("HTTP 503", None));
        check(503, Some("7"), None, None, retry("HTTP 503", Some(7)));
        check(500, None, None, Some("m1@tisi"), retry("HTTP 500", None));
        check(
            429,
            Some("120"),
            None,
            None,
            retry("HTTP 429 Too Many Requests", Some(120)),
        );
        check(
            429,
            Some("Tue, 14 Nov 2023 22:15:00 GMT"),
            None,
            None,
            retry("HTTP 429 Too Many Requests", Some(100)),
        );
        check(
            429,
            Some("Tue, 14 Nov 2023 22:00:00 GMT"),
            None,
            None,
            retry("HTTP 429 Too Many Requests", Some(0)),
        );
        check(
            429,
            Some("soon"),
            None,
            None,
            retry("HTTP 429 Too Many Requests", None),
        );
        check(
            429,
            None,
            None,
            None,
            retry("HTTP 429 Too Many Requests", None),
        );
        check(
            408,
            None,
            None,
            None,
            retry("HTTP 408 Request Timeout", None),
        );
        check(
            400,
            None,
            None,
            None,
            Verdict::Reject {
                reason: "HTTP 400: refused by the partner".into(),
            },
        );
        check(
            403,
            None,
            None,
            Some("m1@tisi"),
            Verdict::Reject {
                reason: "HTTP 403: refused by the partner".into(),
            },
        );
        check(
            404,
            None,
            None,
            None,
            Verdict::Reject {
                reason: "HTTP 404: refused by the partner".into(),
            },
        );
        check(301, None, None, None, retry("unexpected HTTP 301", None));
    }

    /// A warning about a delivery names its row, message, conversation and partner, also when
    /// info lines are filtered out.
    #[test]
    fn a_delivery_warning_names_its_message() {
        let item = crate::store::OutboxItem {
            id: 17,
            message_id: "reply-1@tisi.go.th".into(),
            conversation_id: "conv-42".into(),
            conversation_seq: 1,
            partner: "NSW".into(),
            content_type: "text/xml".into(),
            body: Vec::new(),
            ack_requested: false,
            status: crate::store::OutboxStatus::InFlight,
            attempts: 0,
            next_attempt_at: now(),
            lease_until: None,
            last_error: None,
            last_http_status: None,
            last_attempt_at: None,
            created_at: now(),
            queued_at: now(),
            done_at: None,
            dropped_at: None,
            held_by: None,
        };
        let out = crate::telemetry::test_support::logged(false, "warn", || {
            let _entered = delivery_span(&item).entered();
            tracing::warn!("delivery refused: dead letter");
        });
        for field in [
            "outbox_id=17",
            "message_id=\"reply-1@tisi.go.th\"",
            "conversation_id=\"conv-42\"",
            "partner=\"NSW\"",
            "delivery refused",
        ] {
            assert!(out.contains(field), "{field} not in {out}");
        }
    }
}

#[cfg(test)]
mod client_tests {
    use super::*;

    fn settings(dir: &std::path::Path, files: &[(&str, &str)]) -> DeliverySettings {
        let mut s = DeliverySettings::default();
        for (key, text) in files {
            let path = dir.join(format!("{key}.pem"));
            std::fs::write(&path, text).unwrap();
            match *key {
                "client_cert" => s.client_cert = Some(path),
                "client_key" => s.client_key = Some(path),
                "ca" => s.ca = Some(path),
                other => panic!("unknown file {other}"),
            }
        }
        s
    }

    fn check(files: &[(&str, &str)], expected_error: Option<&str>) {
        crate::http::tls::install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let got = http_client(&settings(dir.path(), files)).map(|_| ());
        match (got, expected_error) {
            (Ok(()), None) => {}
            (Err(e), Some(want)) => {
                let e = format!("{e:#}");
                assert!(e.contains(want), "{e} should mention {want}");
            }
            (got, want) => panic!("got {got:?}, expected error {want:?}"),
        }
    }

    #[test]
    fn client_certificate_and_trusted_cas() {
        let ca = crate::certs::Ca::new("delivery test CA").unwrap();
        let client = ca.issue_client("TISI").unwrap();
        let ca_pem = ca.cert_pem();
        check(&[], None);
        check(&[("ca", &ca_pem)], None);
        check(
            &[
                ("client_cert", &client.cert_pem),
                ("client_key", &client.key_pem),
                ("ca", &ca_pem),
            ],
            None,
        );
        check(&[("ca", "not a certificate")], Some("delivery.ca"));
        check(
            &[("client_cert", "garbage"), ("client_key", "garbage")],
            Some("delivery.client_cert"),
        );
    }
}
