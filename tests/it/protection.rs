//! Body limit (413 before reading), in-flight bound (503), time budget (503).

use std::time::Duration;

use nsw_gateway::wire::intake::Packaging;

use crate::helpers::{
    h2_request, spawn_app_with, Options, RawRequest, Security, TestApp, NOT_A_MESSAGE_STATUS,
};
use crate::messages::{header, permit_request, request, sync_ack, LICENCE_OK};

#[tokio::test]
async fn declared_oversize_body_is_refused_before_it_is_sent() {
    let app = spawn_app_with(Options {
        max_body_bytes: 1024,
        ..Options::default()
    })
    .await;
    // Only the head is sent: the answer cannot depend on reading the body.
    let raw = RawRequest::start(
        app.addr,
        &RawRequest::post_head(Some(10 * 1024 * 1024), ""),
        b"",
    )
    .await;
    let r = raw.response().await;
    assert_eq!(r.status, 413, "{r:?}");
}

#[tokio::test]
async fn undeclared_oversize_body_is_cut_off_at_the_limit() {
    let app = spawn_app_with(Options {
        max_body_bytes: 1024,
        ..Options::default()
    })
    .await;
    let chunk = vec![b'x'; 2000];
    let mut body = format!("{:x}\r\n", chunk.len()).into_bytes();
    body.extend_from_slice(&chunk);
    body.extend_from_slice(b"\r\n0\r\n\r\n");
    let raw = RawRequest::start(
        app.addr,
        &RawRequest::post_head(None, "Transfer-Encoding: chunked\r\n"),
        &body,
    )
    .await;
    assert_eq!(raw.response().await.status, 413);
}

#[tokio::test]
async fn body_at_the_limit_is_read() {
    let app = spawn_app_with(Options {
        max_body_bytes: 1024,
        ..Options::default()
    })
    .await;
    let body = vec![b'x'; 1024];
    let raw = RawRequest::start(
        app.addr,
        &RawRequest::post_head(Some(body.len()), ""),
        &body,
    )
    .await;
    assert_eq!(raw.response().await.status, NOT_A_MESSAGE_STATUS);
}

#[tokio::test]
async fn requests_beyond_the_in_flight_bound_are_shed_with_503() {
    let app = spawn_app_with(Options {
        max_in_flight: 1,
        ..Options::default()
    })
    .await;
    // The first request holds the only slot while its body is incomplete.
    let mut held =
        RawRequest::start(app.addr, &RawRequest::post_head(Some(10), ""), b"12345").await;
    app.wait_in_flight(1).await;

    let shed = app
        .client
        .post(app.url("/ebms"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(shed.status(), 503);
    assert_eq!(shed.headers()["retry-after"], "1");

    held.send(b"67890").await;
    assert_eq!(held.response().await.status, NOT_A_MESSAGE_STATUS);
    app.wait_in_flight(0).await;
}

/// A gateway with `slots` connection slots, and no timeout that would close an idle
/// connection during a test.
async fn with_connection_slots(slots: usize) -> TestApp {
    spawn_app_with(Options {
        server: format!("max_connections = {slots}\nhandshake_timeout_secs = 3600"),
        ..Options::default()
    })
    .await
}

#[tokio::test]
async fn a_connection_beyond_the_limit_is_served_while_the_others_idle() {
    let app = with_connection_slots(2).await;
    let keep_alive = || {
        app.client_builder()
            .pool_max_idle_per_host(1)
            .pool_idle_timeout(None)
            .build()
            .unwrap()
    };
    let ask = |c: reqwest::Client| {
        let url = app.url("/ebms");
        async move { c.post(url).body("x").send().await.map(|r| r.status()) }
    };
    // Both slots are taken by connections that stay open, idle, after their answer.
    let (a, b) = (keep_alive(), keep_alive());
    assert_eq!(ask(a.clone()).await.unwrap(), NOT_A_MESSAGE_STATUS);
    assert_eq!(ask(b.clone()).await.unwrap(), NOT_A_MESSAGE_STATUS);
    app.wait_in_flight(0).await;

    // A third connection is served: one of the idle ones closes to make room. (Without that,
    // it would wait in the listener's queue until a client let a connection go.)
    let third = tokio::time::timeout(Duration::from_secs(60), ask(keep_alive()))
        .await
        .expect("the third connection is served while the other two are open");
    assert_eq!(third.unwrap(), NOT_A_MESSAGE_STATUS);
    drop((a, b));
}

/// The importers' API listener bounds what a client may hold, as the partners' does: a
/// connection that never finishes its request head is closed after the handshake budget.
#[tokio::test]
async fn the_status_api_closes_a_connection_that_never_finishes_its_request() {
    let app = spawn_app_with(Options {
        server: "handshake_timeout_secs = 1".into(),
        ..Options::default()
    })
    .await;
    let addr: std::net::SocketAddr = app.api_url.trim_start_matches("http://").parse().unwrap();
    let mut slow = RawRequest::start(
        addr,
        "GET /api/v1/openapi.json HTTP/1.1\r\nHost: x\r\n",
        b"",
    )
    .await;
    let mut rest = Vec::new();
    // Well before any default of the HTTP stack (hyper's own is 30 s).
    tokio::time::timeout(
        Duration::from_secs(20),
        tokio::io::AsyncReadExt::read_to_end(&mut slow.stream, &mut rest),
    )
    .await
    .expect("the server closes the connection")
    .ok();
}

#[tokio::test]
async fn a_busy_connection_closes_after_its_answer_when_another_waits_for_its_slot() {
    let app = with_connection_slots(1).await;
    // The only slot: a keep-alive connection whose request is in flight.
    let head = "POST /ebms HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\n\
                Content-Length: 10\r\n\r\n";
    let mut held = RawRequest::start(app.addr, head, b"12345").await;
    app.wait_in_flight(1).await;

    let client = app.client.clone();
    let url = app.url("/ebms");
    let waiting = tokio::spawn(async move { client.post(url).body("x").send().await });
    app.wait_connections_waiting(1).await;

    // Its answer tells the client the connection closes, so that it sends nothing more on it.
    held.send(b"67890").await;
    let answer = tokio::time::timeout(Duration::from_secs(60), held.response())
        .await
        .expect("the connection closes after its answer");
    assert_eq!(answer.status, NOT_A_MESSAGE_STATUS);
    assert_eq!(answer.header("connection"), Some("close"));
    assert_eq!(
        waiting.await.unwrap().unwrap().status(),
        NOT_A_MESSAGE_STATUS
    );
    app.wait_connections_waiting(0).await;
}

#[tokio::test]
async fn a_request_over_its_time_budget_gets_503_with_retry_after() {
    let app = spawn_app_with(Options {
        request_timeout_ms: 200,
        ..Options::default()
    })
    .await;
    // The body never completes; the gateway's own timer ends the request.
    let raw = RawRequest::start(app.addr, &RawRequest::post_head(Some(10), ""), b"12345").await;
    let r = raw.response().await;
    assert_eq!(r.status, 503, "{r:?}");
    assert_eq!(r.header("retry-after"), Some("1"));
}

/// Keeps a TCP connection open: reads (and drops) whatever the server sends, answers nothing.
fn hold(mut stream: tokio::net::TcpStream) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut buf = [0u8; 4096];
        while let Ok(n) = tokio::io::AsyncReadExt::read(&mut stream, &mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
}

/// RST_STREAM (CANCEL) of stream 1.
const H2_RESET: [u8; 13] = [0, 0, 4, 3, 0, 0, 0, 0, 1, 0, 0, 0, 8];

/// A client that resets its request's stream while the gateway waits for the store (busy
/// with a large load of reference data): the connection becomes idle again, so it closes for
/// a new connection (and, never letting the close end, is dropped).
#[tokio::test]
async fn a_reset_request_does_not_keep_its_connection_busy() {
    let app = spawn_app_with(Options {
        server: "max_connections = 1\nhandshake_timeout_secs = 1".into(),
        ..Options::default()
    })
    .await;
    let store = app.handle.store().clone();
    let load = tokio::spawn(async move {
        let data = nsw_gateway::domain::snapshot::synthetic_refdata(300_000);
        store
            .replace_refdata(std::sync::Arc::new(data), chrono::Utc::now())
            .await
    });
    // The load is the writer's job before the request's (which then waits for it).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let built = request(
        &header("ImportPermitRequest"),
        &permit_request("REF-RESET", LICENCE_OK, 1),
        Packaging::Inline,
        sync_ack(),
    );
    let mut h2 = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let frames = h2_request(1, Some((&built.content_type, &built.body)));
    tokio::io::AsyncWriteExt::write_all(&mut h2, &frames)
        .await
        .unwrap();
    app.wait_in_flight(1).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    tokio::io::AsyncWriteExt::write_all(&mut h2, &H2_RESET)
        .await
        .unwrap();
    let holder = hold(h2);
    let served = tokio::time::timeout(
        Duration::from_secs(120),
        app.client.post(app.url("/ebms")).body("x").send(),
    )
    .await
    .expect("the new connection is served");
    assert_eq!(served.unwrap().status(), NOT_A_MESSAGE_STATUS);
    tokio::time::timeout(Duration::from_secs(60), holder)
        .await
        .expect("the server closed the connection")
        .unwrap();
    load.await.unwrap().unwrap();
}

/// An HTTP/2 client that sends one request and then never acknowledges anything (so a
/// graceful close, GOAWAY and PING, never completes), and a client that never sends a byte:
/// neither keeps its slot, and a third connection is served.
#[tokio::test]
async fn connections_that_never_let_go_do_not_keep_their_slots() {
    let app = spawn_app_with(Options {
        server: "max_connections = 2\nhandshake_timeout_secs = 1".into(),
        ..Options::default()
    })
    .await;
    let mut h2 = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut h2, &h2_request(1, None))
        .await
        .unwrap();
    let silent = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let holders = [hold(h2), hold(silent)];

    let third = tokio::time::timeout(
        Duration::from_secs(60),
        app.client.post(app.url("/ebms")).body("x").send(),
    )
    .await
    .expect("the third connection is served");
    assert_eq!(third.unwrap().status(), NOT_A_MESSAGE_STATUS);
    for h in holders {
        tokio::time::timeout(Duration::from_secs(60), h)
            .await
            .expect("the server closed the connection")
            .unwrap();
    }
    let metrics = app
        .client
        .get(app.admin("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            r#"nsw_connections_dropped_total{listener="ebms",why="no request within the handshake timeout"}"#
        ),
        "{metrics}"
    );
}

/// Under TLS, connections that never finish their handshake hold slots only until a new
/// connection needs one (the handshake budget here is an hour).
#[tokio::test]
async fn unfinished_tls_handshakes_make_room_for_a_new_connection() {
    let app = spawn_app_with(Options {
        security: Security::Tls,
        server: "max_connections = 2\nhandshake_timeout_secs = 3600".into(),
        ..Options::default()
    })
    .await;
    let mut holders = Vec::new();
    for _ in 0..2 {
        holders.push(hold(
            tokio::net::TcpStream::connect(app.addr).await.unwrap(),
        ));
    }
    let served = tokio::time::timeout(
        Duration::from_secs(60),
        app.client.post(app.url("/ebms")).body("x").send(),
    )
    .await
    .expect("the new connection is served");
    assert_eq!(served.unwrap().status(), NOT_A_MESSAGE_STATUS);
    let closed = holders.into_iter().filter(|h| h.is_finished()).count();
    assert!(closed >= 1, "one unfinished handshake made room");
}
