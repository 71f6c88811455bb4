//! A fake NSW receiving asynchronous deliveries: scripted failures, an Acknowledgment for
//! every message that asks for one, de-duplication by MessageId as a real MSH does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use chrono::Utc;
use nsw_gateway::domain::documents::OutboundDocument;
use nsw_gateway::wire::reply::{self, Reply};
use tokio::sync::{watch, Notify};

/// How the fake answers, attempt by attempt (the n-th request gets `script[n]`, then
/// `then`).
#[derive(Clone, Debug)]
pub enum Answer {
    /// 200 with an Acknowledgment when one is requested (else empty).
    Ok,
    /// 200, empty: the message is taken, its Acknowledgment (if any) would come later, as a
    /// message of its own.
    OkWithoutAck,
    /// This status, empty body, optional `Retry-After`.
    Status(u16, Option<&'static str>),
    /// Never answer (until the client gives up or goes away).
    Hang,
}

/// One request as received.
#[derive(Clone, Debug)]
pub struct Received {
    pub message_id: String,
    pub conversation_id: String,
    pub content_type: String,
    pub body: Vec<u8>,
    pub answered: u16,
}

#[derive(Default)]
struct Inner {
    script: Vec<Answer>,
    then: Option<Answer>,
    received: Vec<Received>,
    /// MessageId → body of the messages accepted (answered 200), first copy only.
    accepted: HashMap<String, Vec<u8>>,
    accepted_order: Vec<String>,
}

#[derive(Clone)]
pub struct FakeNsw {
    inner: Arc<Mutex<Inner>>,
    count: watch::Sender<usize>,
    release: Arc<Notify>,
    pub url: String,
    _server: Arc<tokio::task::JoinHandle<()>>,
}

impl FakeNsw {
    pub async fn start(script: Vec<Answer>, then: Answer) -> FakeNsw {
        let inner = Arc::new(Mutex::new(Inner {
            script,
            then: Some(then),
            ..Inner::default()
        }));
        let (count, _) = watch::channel(0usize);
        let fake = FakeNsw {
            inner,
            count,
            release: Arc::new(Notify::new()),
            url: String::new(),
            _server: Arc::new(tokio::spawn(async {})),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new()
            .route("/ebms", post(receive))
            .with_state(fake.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeNsw {
            url: format!("http://{addr}/ebms"),
            _server: Arc::new(server),
            ..fake
        }
    }

    /// Every request received, in order.
    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// The distinct messages accepted (MessageId, body), in the order first accepted.
    pub fn accepted(&self) -> Vec<(String, Vec<u8>)> {
        let i = self.inner.lock().unwrap();
        i.accepted_order
            .iter()
            .map(|id| (id.clone(), i.accepted[id].clone()))
            .collect()
    }

    /// Waits until at least `n` requests have arrived (driven by the requests, no sleeping).
    pub async fn wait_received(&self, n: usize) {
        self.count.subscribe().wait_for(|c| *c >= n).await.unwrap();
    }

    /// Lets every hanging request answer 503.
    pub fn release(&self) {
        self.release.notify_waiters();
    }
}

async fn receive(State(fake): State<FakeNsw>, headers: HeaderMap, body: Bytes) -> Response {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let parsed: Option<Reply<OutboundDocument>> = reply::parse_reply(Some(&ct), &body).ok();
    let Some(parsed) = parsed else {
        return (StatusCode::BAD_REQUEST, "not an ebMS message").into_response();
    };
    let answer = {
        let mut i = fake.inner.lock().unwrap();
        let n = i.received.len();
        let a = i
            .script
            .get(n)
            .cloned()
            .or_else(|| i.then.clone())
            .unwrap_or(Answer::Ok);
        let status = match &a {
            Answer::Ok | Answer::OkWithoutAck => 200,
            Answer::Status(s, _) => *s,
            Answer::Hang => 0,
        };
        i.received.push(Received {
            message_id: parsed.header.message_id.clone(),
            conversation_id: parsed.header.conversation_id.clone(),
            content_type: ct.clone(),
            body: body.to_vec(),
            answered: status,
        });
        if status == 200 && !i.accepted.contains_key(&parsed.header.message_id) {
            i.accepted
                .insert(parsed.header.message_id.clone(), body.to_vec());
            i.accepted_order.push(parsed.header.message_id.clone());
        }
        a
    };
    fake.count.send_modify(|c| *c += 1);
    match answer {
        Answer::Ok if parsed.ack_requested.is_some() => {
            let ack = reply::build_ack_only(
                &parsed.header,
                parsed.ack_requested.unwrap_or_default(),
                format!("{}@nsw.test", uuid::Uuid::new_v4()),
                Utc::now(),
            );
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, ack.content_type)],
                ack.body,
            )
                .into_response()
        }
        Answer::Ok | Answer::OkWithoutAck => StatusCode::OK.into_response(),
        Answer::Status(s, retry_after) => {
            let mut r = StatusCode::from_u16(s).unwrap().into_response();
            if let Some(v) = retry_after {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, v.parse().unwrap());
            }
            r
        }
        Answer::Hang => {
            fake.release.notified().await;
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}
