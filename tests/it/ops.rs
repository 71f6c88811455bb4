//! Operations: metrics on the admin listener only, health and readiness, graceful shutdown.

use crate::helpers::{spawn_app, spawn_app_with, Options, RawRequest, NOT_A_MESSAGE_STATUS};

#[tokio::test]
async fn metrics_are_served_on_the_admin_port_only() {
    let app = spawn_app_with(Options {
        max_body_bytes: 16,
        ..Options::default()
    })
    .await;
    let r = app
        .client
        .post(app.url("/ebms"))
        .body(vec![b'x'; 17])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);

    let metrics = app.client.get(app.admin("/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    assert!(
        text.contains(r#"nsw_requests_total{action="unknown",decision="too_large"}"#),
        "{text}"
    );
    assert!(
        text.contains("nsw_request_duration_seconds_bucket{action=\"unknown\",le=\"0.005\"}"),
        "the duration is a histogram: {text}"
    );

    let on_main = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(on_main.status(), 404);
}

#[tokio::test]
async fn admin_token_protects_metrics_and_readiness() {
    let app = spawn_app_with(Options {
        admin_token: Some("s3cret".into()),
        ..Options::default()
    })
    .await;
    let get = |path: &str, token: Option<&str>| {
        let mut r = app.client.get(app.admin(path));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    assert_eq!(get("/metrics", None).await.unwrap().status(), 401);
    assert_eq!(get("/metrics", Some("wrong")).await.unwrap().status(), 401);
    assert_eq!(get("/metrics", Some("s3cret")).await.unwrap().status(), 200);
    assert_eq!(get("/readyz", None).await.unwrap().status(), 401);
    assert_eq!(get("/readyz", Some("s3cret")).await.unwrap().status(), 200);
    assert_eq!(get("/healthz", None).await.unwrap().status(), 200);
}

#[tokio::test]
async fn health_and_readiness() {
    let app = spawn_app().await;
    let healthz = app.client.get(app.admin("/healthz")).send().await.unwrap();
    assert_eq!(healthz.status(), 200);
    let readyz = app.client.get(app.admin("/readyz")).send().await.unwrap();
    assert_eq!(readyz.status(), 200);
}

#[tokio::test]
async fn graceful_shutdown_finishes_the_request_in_flight() {
    let mut app = spawn_app().await;
    let mut held =
        RawRequest::start(app.addr, &RawRequest::post_head(Some(10), ""), b"12345").await;
    app.wait_in_flight(1).await;

    app.handle.shutdown();
    // The request in flight is still answered in full.
    held.send(b"67890").await;
    let r = held.response().await;
    assert_eq!(r.status, NOT_A_MESSAGE_STATUS, "{r:?}");

    app.stop().await.unwrap();
    // Once stopped, the listener is closed.
    assert!(tokio::net::TcpStream::connect(app.addr).await.is_err());
}
