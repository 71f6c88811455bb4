//! `mock-nsw serve`: the NSW's receiving endpoint for the gateway's asynchronous replies (spec
//! §5).
//!
//! For each message posted to the ebMS path it: applies the configured faults (latency, 503,
//! connection dropped, "fail the next N"); reads the ebMS header; acknowledges it (HTTP 200, with
//! an `eb:Acknowledgment` when one was requested); records it in memory and optionally as JSON
//! lines in a file; flags duplicates (a MessageId already accepted) and judges the order of
//! replies per ConversationId (see [`order`]). A message answered with a fault is not recorded,
//! so its retry is not a duplicate.
//!
//! Control endpoints: `POST /control/fail-next?n=N`, `GET /control/stats`,
//! `GET /control/received` (the last records, bodies included), and `POST /control/expect`
//! (a JSON array of `{"conversation_id", "message_id"}` in send order, for the order check).

pub mod fault;
pub mod order;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::convert::Infallible;
use std::fs::File;
use std::future::Future;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use nsw_gateway::wire::intake::Rejection;
use nsw_gateway::wire::reply::build_ack_only;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tower::ServiceExt;

use crate::ebms;

pub use fault::{Fault, FaultConfig, FaultInjector};
pub use order::{OrderTracker, Placement};

/// The ebMS header fields the endpoint records for a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Inbound {
    pub message_id: String,
    pub conversation_id: String,
    pub ref_to_message_id: Option<String>,
    pub action: String,
    pub from_party: String,
    pub to_party: String,
    pub cpa_id: String,
    pub ack_requested: bool,
    /// `eb:MessageOrder/eb:SequenceNumber`, when present.
    pub sequence: Option<u64>,
    /// A one-line summary of the business document (decision, result), when there is one.
    pub summary: Option<String>,
}

/// A message that passed inspection, with the acknowledgment to answer it with (when it asked
/// for one).
#[derive(Debug, Clone)]
pub struct Inspected {
    pub inbound: Inbound,
    pub ack: Option<ebms::Message>,
}

/// Reads and validates an incoming ebMS message.
pub trait Inspector: Send + Sync + 'static {
    /// The message's header and acknowledgment, or why it is not acceptable.
    fn inspect(&self, content_type: &str, body: &[u8]) -> Result<Inspected, String>;
}

/// The text of `eb:SequenceNumber` (ebMS MessageOrder), which the wire module does not read.
fn sequence_number(body: &[u8]) -> Result<Option<u64>, String> {
    let text = String::from_utf8_lossy(body);
    let Some(at) = text.find("SequenceNumber") else {
        return Ok(None);
    };
    let rest = &text[at..];
    let (Some(open), Some(close)) = (rest.find('>'), rest.find("</")) else {
        return Ok(None);
    };
    if close < open {
        return Ok(None);
    }
    let v = rest[open + 1..close].trim();
    v.parse()
        .map(Some)
        .map_err(|_| format!("eb:SequenceNumber '{v}' is not a number"))
}

/// Validates each message with the gateway's wire module (envelope, header, packaging,
/// encoding, payload against the contract) and acknowledges it with the wire module's
/// `eb:Acknowledgment` builder.
#[derive(Debug, Clone, Copy, Default)]
pub struct WireInspector;

impl Inspector for WireInspector {
    fn inspect(&self, content_type: &str, body: &[u8]) -> Result<Inspected, String> {
        let ct = (!content_type.is_empty()).then_some(content_type);
        let reply = match nsw_gateway::wire::reply::parse_reply(ct, body) {
            Ok(r) => r,
            Err(Rejection::Fault { description }) => {
                return Err(format!("not an ebMS message: {description}"))
            }
            Err(Rejection::Errors { errors, .. }) => {
                return Err(errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "))
            }
            Err(Rejection::TooLarge { size, limit }) => {
                return Err(format!("{size} bytes, above {limit}"))
            }
        };
        let h = &reply.header;
        let now = chrono::Utc::now();
        let ack = reply.ack_requested.map(|actor| {
            let b = build_ack_only(
                h,
                actor,
                format!("{}@mock-nsw.nsw.go.th", uuid::Uuid::new_v4()),
                now,
            );
            ebms::Message {
                content_type: b.content_type,
                body: b.body,
            }
        });
        Ok(Inspected {
            inbound: Inbound {
                message_id: h.message_id.clone(),
                conversation_id: h.conversation_id.clone(),
                ref_to_message_id: h.ref_to_message_id.clone(),
                action: h.action.clone(),
                from_party: h.from.id.clone(),
                to_party: h.to.id.clone(),
                cpa_id: h.cpa_id.clone(),
                ack_requested: reply.ack_requested.is_some(),
                sequence: sequence_number(body)?,
                summary: reply.payload.as_ref().map(ebms::summary),
            },
            ack,
        })
    }
}

/// One accepted message.
#[derive(Debug, Clone, Serialize)]
pub struct Received {
    /// Arrival order among accepted messages, from 0.
    pub index: u64,
    pub received_at: String,
    #[serde(flatten)]
    pub header: Inbound,
    pub duplicate: bool,
    #[serde(flatten)]
    pub placement: Placement,
    pub content_type: String,
    pub body_len: usize,
    /// Kept in memory only (not in the record file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    /// Every POST to the ebMS path.
    pub requests: u64,
    pub accepted: u64,
    pub duplicates: u64,
    pub invalid: u64,
    pub failed_scripted: u64,
    pub failed_random: u64,
    pub dropped: u64,
    pub in_order: u64,
    pub gaps: u64,
    pub out_of_order: u64,
    pub order_unknown: u64,
    pub by_action: BTreeMap<String, u64>,
    pub last_invalid: Option<String>,
}

/// How many accepted messages are kept in memory (bodies included).
const KEEP: usize = 10_000;

struct Inner {
    stats: Stats,
    seen: HashMap<String, u64>,
    order: OrderTracker,
    recent: VecDeque<Received>,
    next_index: u64,
}

/// Shared state of the endpoint.
pub struct ServeState {
    faults: FaultInjector,
    inspector: Box<dyn Inspector>,
    inner: Mutex<Inner>,
    record: Option<Mutex<BufWriter<File>>>,
    ebms_path: String,
}

impl ServeState {
    pub fn new(faults: FaultConfig, inspector: Box<dyn Inspector>, ebms_path: &str) -> Self {
        Self {
            faults: FaultInjector::new(faults),
            inspector,
            inner: Mutex::new(Inner {
                stats: Stats::default(),
                seen: HashMap::new(),
                order: OrderTracker::new(),
                recent: VecDeque::new(),
                next_index: 0,
            }),
            record: None,
            ebms_path: ebms_path.to_owned(),
        }
    }

    /// Appends every accepted message as a JSON line to `path` (created or truncated).
    pub fn with_record_file(mut self, path: &Path) -> anyhow::Result<Self> {
        let f = File::create(path).with_context(|| format!("creating {}", path.display()))?;
        self.record = Some(Mutex::new(BufWriter::new(f)));
        Ok(self)
    }

    pub fn faults(&self) -> &FaultInjector {
        &self.faults
    }

    /// Registers a request sent on `conversation` (in send order), for the order check.
    pub fn expect(&self, conversation: &str, message_id: &str) {
        self.inner
            .lock()
            .expect("state lock")
            .order
            .expect(conversation, message_id);
    }

    /// The counts so far (the scripted failures still to come are in [`FaultInjector::current`]).
    pub fn stats(&self) -> Stats {
        self.inner.lock().expect("state lock").stats.clone()
    }

    /// The accepted messages still kept in memory, oldest first.
    pub fn received(&self) -> Vec<Received> {
        self.inner
            .lock()
            .expect("state lock")
            .recent
            .iter()
            .cloned()
            .collect()
    }

    fn count_fault(&self, f: Fault) {
        let mut g = self.inner.lock().expect("state lock");
        g.stats.requests += 1;
        match f {
            Fault::FailScripted => g.stats.failed_scripted += 1,
            Fault::Fail => g.stats.failed_random += 1,
            Fault::Drop => g.stats.dropped += 1,
            Fault::None => {}
        }
    }

    /// Handles a message that passed fault injection.
    pub fn accept(&self, content_type: &str, body: &[u8]) -> Response {
        let Inspected { inbound, ack } = match self.inspector.inspect(content_type, body) {
            Ok(m) => m,
            Err(why) => {
                let mut g = self.inner.lock().expect("state lock");
                g.stats.requests += 1;
                g.stats.invalid += 1;
                g.stats.last_invalid = Some(why.clone());
                return (StatusCode::BAD_REQUEST, format!("refused: {why}\n")).into_response();
            }
        };
        let now = chrono::Utc::now();
        let rec = {
            let mut g = self.inner.lock().expect("state lock");
            let g = &mut *g;
            g.stats.requests += 1;
            g.stats.accepted += 1;
            *g.stats.by_action.entry(inbound.action.clone()).or_default() += 1;
            let seen = g.seen.entry(inbound.message_id.clone()).or_default();
            *seen += 1;
            let duplicate = *seen > 1;
            let placement = if duplicate {
                g.stats.duplicates += 1;
                Placement::Unknown
            } else {
                let p = g.order.observe(
                    &inbound.conversation_id,
                    inbound.ref_to_message_id.as_deref(),
                    inbound.sequence,
                );
                match p {
                    Placement::InOrder => g.stats.in_order += 1,
                    Placement::Gap { .. } => g.stats.gaps += 1,
                    Placement::OutOfOrder => g.stats.out_of_order += 1,
                    Placement::Unknown => g.stats.order_unknown += 1,
                }
                p
            };
            let rec = Received {
                index: g.next_index,
                received_at: now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                header: inbound.clone(),
                duplicate,
                placement,
                content_type: content_type.to_owned(),
                body_len: body.len(),
                body: None,
            };
            g.next_index += 1;
            if g.recent.len() == KEEP {
                g.recent.pop_front();
            }
            g.recent.push_back(Received {
                body: Some(String::from_utf8_lossy(body).into_owned()),
                ..rec.clone()
            });
            rec
        };
        if let Some(file) = &self.record {
            let mut w = file.lock().expect("record lock");
            let line = serde_json::to_string(&rec).expect("a record serializes");
            if let Err(e) = writeln!(w, "{line}").and_then(|_| w.flush()) {
                tracing::error!("writing the record file: {e}");
            }
        }
        match ack {
            Some(m) => (
                StatusCode::OK,
                [(header::CONTENT_TYPE, m.content_type)],
                m.body,
            )
                .into_response(),
            None => StatusCode::OK.into_response(),
        }
    }
}

async fn ebms(State(st): State<Arc<ServeState>>, headers: HeaderMap, body: Bytes) -> Response {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    st.accept(ct, &body)
}

#[derive(Deserialize)]
struct FailNext {
    n: u64,
}

async fn fail_next(
    State(st): State<Arc<ServeState>>,
    Query(q): Query<FailNext>,
) -> Json<serde_json::Value> {
    st.faults.set_fail_next(q.n);
    Json(serde_json::json!({ "fail_next": q.n }))
}

async fn stats(State(st): State<Arc<ServeState>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "stats": st.stats(),
        "faults": st.faults.current(),
    }))
}

async fn received(State(st): State<Arc<ServeState>>) -> Json<Vec<Received>> {
    Json(st.received())
}

#[derive(Deserialize)]
struct Expect {
    conversation_id: String,
    message_id: String,
}

async fn expect(
    State(st): State<Arc<ServeState>>,
    Json(list): Json<Vec<Expect>>,
) -> Json<serde_json::Value> {
    for e in &list {
        st.expect(&e.conversation_id, &e.message_id);
    }
    Json(serde_json::json!({ "registered": list.len() }))
}

/// The routes, without fault injection (that wraps them in [`run`]).
pub fn router(state: Arc<ServeState>) -> Router {
    Router::new()
        .route(&state.ebms_path.clone(), post(ebms))
        .route("/control/fail-next", post(fail_next))
        .route("/control/stats", get(stats))
        .route("/control/received", get(received))
        .route("/control/expect", post(expect))
        .with_state(state)
}

#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for Dropped {}

/// Serves on `listener` until `shutdown` completes. Faults apply to POSTs to the ebMS path:
/// the latency first, then a scripted or random 503, or a connection closed without an answer.
pub async fn run(
    listener: TcpListener,
    state: Arc<ServeState>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let app = router(state.clone());
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            _ = &mut shutdown => return Ok(()),
            acc = listener.accept() => match acc {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!("accept: {e}");
                    continue;
                }
            },
        };
        let (app, state) = (app.clone(), state.clone());
        let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
            let (app, state) = (app.clone(), state.clone());
            async move {
                if req.method() == hyper::Method::POST && req.uri().path() == state.ebms_path {
                    let latency = state.faults.latency();
                    if !latency.is_zero() {
                        tokio::time::sleep(latency).await;
                    }
                    let f = state.faults.decide();
                    state_count(&state, f);
                    match f {
                        Fault::Drop => return Err(Dropped),
                        Fault::Fail | Fault::FailScripted => {
                            let r = (
                                StatusCode::SERVICE_UNAVAILABLE,
                                [(header::RETRY_AFTER, "1")],
                                "service unavailable (injected fault)\n",
                            )
                                .into_response();
                            return Ok(r);
                        }
                        Fault::None => {}
                    }
                }
                let r: Result<Response, Infallible> =
                    app.oneshot(req.map(axum::body::Body::new)).await;
                Ok::<_, Dropped>(r.unwrap_or_else(|e| match e {}))
            }
        });
        tokio::spawn(async move {
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

fn state_count(state: &ServeState, f: Fault) {
    if f != Fault::None {
        state.count_fault(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use nsw_gateway::domain::{AmendmentResult, DeclarationAmendmentResponse, OutboundDocument};
    use nsw_gateway::wire::envelope::{MessageHeader, PartyId, Service, SERVICE_PERMIT};
    use nsw_gateway::wire::intake::Packaging;
    use nsw_gateway::wire::reply::{build_delivery, parse_reply};

    /// An asynchronous delivery as the gateway sends it (content type, body).
    fn message(id: &str, conv: &str, ref_to: Option<&str>, ack: bool) -> (String, Vec<u8>) {
        let h = MessageHeader {
            from: PartyId::new("TISI"),
            to: PartyId::new("NSW"),
            cpa_id: "NSW-TISI-PERMIT".into(),
            conversation_id: conv.into(),
            service: Service::new(SERVICE_PERMIT),
            action: "DeclarationAmendmentResponse".into(),
            message_id: id.into(),
            timestamp: chrono::Utc::now().fixed_offset(),
            ref_to_message_id: ref_to.map(str::to_owned),
            time_to_live: None,
            duplicate_elimination: true,
        };
        let doc = OutboundDocument::DeclarationAmendmentResponse(DeclarationAmendmentResponse {
            declaration_number: "A0011691200001".into(),
            result: AmendmentResult::Restored,
        });
        let b = build_delivery(&h, &doc, Packaging::Multipart, ack);
        (b.content_type, b.body)
    }

    fn accept(st: &ServeState, m: (String, Vec<u8>)) -> StatusCode {
        st.accept(&m.0, &m.1).status()
    }

    #[test]
    fn the_wire_module_reads_the_header_and_builds_the_acknowledgment() {
        let (ct, body) = message("m1@tisi.go.th", "c1", Some("r1@nsw"), true);
        let Inspected { inbound: m, ack } = WireInspector.inspect(&ct, &body).unwrap();
        assert_eq!(m.message_id, "m1@tisi.go.th");
        assert_eq!(m.conversation_id, "c1");
        assert_eq!(m.ref_to_message_id.as_deref(), Some("r1@nsw"));
        assert_eq!(m.action, "DeclarationAmendmentResponse");
        assert_eq!(
            (m.from_party.as_str(), m.to_party.as_str()),
            ("TISI", "NSW")
        );
        assert_eq!(m.cpa_id, "NSW-TISI-PERMIT");
        assert!(m.ack_requested);
        assert_eq!(m.summary.as_deref(), Some("result RESTORED"));
        let ack = ack.expect("an acknowledgment was requested");
        let back = parse_reply(Some(&ack.content_type), &ack.body).unwrap();
        assert_eq!(
            (back.header.from.id.as_str(), back.header.to.id.as_str()),
            ("NSW", "TISI")
        );
        assert_eq!(
            back.acknowledgment.unwrap().ref_to_message_id,
            "m1@tisi.go.th"
        );
        assert!(!back.header.duplicate_elimination);
        let (ct, body) = message("m2@tisi.go.th", "c1", None, false);
        assert!(WireInspector.inspect(&ct, &body).unwrap().ack.is_none());
    }

    #[test]
    fn malformed_messages_are_refused_with_the_reason() {
        let check = |ct: &str, body: &[u8], want: &str| {
            let e = WireInspector.inspect(ct, body).unwrap_err();
            assert!(e.contains(want), "{e}");
        };
        check("text/xml", b"not xml", "not an ebMS message");
        let (ct, body) = message("gone@tisi.go.th", "c1", None, false);
        let body = String::from_utf8(body)
            .unwrap()
            .replace("<eb:MessageId>gone@tisi.go.th</eb:MessageId>", "");
        check(&ct, body.as_bytes(), "MessageId");
    }

    fn state(fail_next: u64) -> ServeState {
        ServeState::new(
            FaultConfig {
                fail_next,
                ..FaultConfig::default()
            },
            Box::new(WireInspector),
            "/ebms",
        )
    }

    #[test]
    fn duplicates_and_order_are_flagged() {
        let st = state(0);
        for (i, r) in ["q0", "q1", "q2"].iter().enumerate() {
            let _ = i;
            st.expect("c1", r);
        }
        let send = |id: &str, r: &str| accept(&st, message(id, "c1", Some(r), false));
        assert_eq!(send("m0@tisi", "q0"), StatusCode::OK);
        assert_eq!(send("m2@tisi", "q2"), StatusCode::OK);
        assert_eq!(send("m1@tisi", "q1"), StatusCode::OK);
        assert_eq!(send("m1@tisi", "q1"), StatusCode::OK);
        let s = st.stats();
        assert_eq!((s.accepted, s.duplicates), (4, 1));
        assert_eq!((s.in_order, s.gaps, s.out_of_order), (1, 1, 1));
        let rec = st.received();
        assert_eq!(rec.len(), 4);
        assert!(rec[3].duplicate);
        assert_eq!(rec[1].placement, Placement::Gap { missing: 1 });
        assert!(rec[0]
            .body
            .as_deref()
            .unwrap()
            .contains("<eb:MessageId>m0@tisi</eb:MessageId>"));
    }

    #[test]
    fn invalid_messages_are_refused_and_counted() {
        let st = state(0);
        assert_eq!(
            st.accept("text/xml", b"not xml").status(),
            StatusCode::BAD_REQUEST
        );
        let s = st.stats();
        assert_eq!((s.invalid, s.accepted), (1, 0));
        assert!(s.last_invalid.unwrap().contains("not an ebMS message"));
    }

    async fn spawn(st: ServeState) -> (String, Arc<ServeState>, tokio::sync::oneshot::Sender<()>) {
        let st = Arc::new(st);
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let s2 = st.clone();
        tokio::spawn(async move {
            run(l, s2, async {
                let _ = rx.await;
            })
            .await
            .unwrap()
        });
        (format!("http://{addr}"), st, tx)
    }

    #[tokio::test]
    async fn over_http_faults_ack_record_and_control() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("rec.jsonl");
        let st = state(2).with_record_file(&file).unwrap();
        let (base, _st, _stop) = spawn(st).await;
        let c = reqwest::Client::new();
        let post = |id: &'static str| {
            let (ct, body) = message(id, "c9", None, true);
            c.post(format!("{base}/ebms"))
                .header("content-type", ct)
                .body(body)
                .send()
        };
        // The first two fail (scripted), then the message is accepted with an Acknowledgment.
        assert_eq!(post("m1@tisi").await.unwrap().status(), 503);
        assert_eq!(post("m1@tisi").await.unwrap().status(), 503);
        let ok = post("m1@tisi").await.unwrap();
        assert_eq!(ok.status(), 200);
        let ct = ok.headers()["content-type"].to_str().unwrap().to_owned();
        let ack = ok.bytes().await.unwrap();
        let ack = parse_reply(Some(&ct), &ack).unwrap();
        assert_eq!(ack.acknowledgment.unwrap().ref_to_message_id, "m1@tisi");
        // Fail the next one at run time.
        let r: serde_json::Value = c
            .post(format!("{base}/control/fail-next?n=1"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .map(|t| serde_json::from_str(&t).unwrap())
            .unwrap();
        assert_eq!(r["fail_next"], 1);
        assert_eq!(post("m2@tisi").await.unwrap().status(), 503);
        assert_eq!(post("m2@tisi").await.unwrap().status(), 200);
        let s: serde_json::Value = c
            .get(format!("{base}/control/stats"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .map(|t| serde_json::from_str(&t).unwrap())
            .unwrap();
        assert_eq!(s["stats"]["failed_scripted"], 3);
        assert_eq!(s["stats"]["accepted"], 2);
        assert_eq!(
            s["stats"]["duplicates"], 0,
            "a message refused with 503 is not a duplicate"
        );
        assert_eq!(s["stats"]["requests"], 5);
        assert_eq!(
            s["faults"]["fail_next"], 0,
            "the faults shown are those still to come"
        );
        assert_eq!(s["faults"]["fail_rate"], 0.0);
        let lines = std::fs::read_to_string(&file).unwrap();
        let lines: Vec<serde_json::Value> = lines
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["message_id"], "m1@tisi");
        assert_eq!(lines[1]["message_id"], "m2@tisi");
        assert!(lines[0].get("body").is_none());
        let rec: serde_json::Value = c
            .get(format!("{base}/control/received"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .map(|t| serde_json::from_str(&t).unwrap())
            .unwrap();
        assert_eq!(rec.as_array().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn dropped_connections_get_no_answer() {
        let st = ServeState::new(
            FaultConfig {
                drop_rate: 1.0,
                ..FaultConfig::default()
            },
            Box::new(WireInspector),
            "/ebms",
        );
        let (base, st, _stop) = spawn(st).await;
        let (ct, body) = message("m1@tisi", "c1", None, false);
        let r = reqwest::Client::new()
            .post(format!("{base}/ebms"))
            .header("content-type", ct)
            .body(body)
            .send()
            .await;
        assert!(r.is_err(), "got an answer: {r:?}");
        assert_eq!(st.stats().dropped, 1);
        assert_eq!(st.stats().accepted, 0);
    }
}
