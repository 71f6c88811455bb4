//! Operations: metrics on the admin listener only, health and readiness, graceful shutdown.

use crate::helpers::{
    spawn_app, spawn_app_with, Backend, Options, RawRequest, NOT_A_MESSAGE_STATUS,
};
use crate::messages::{header, permit_request, request, sync_ack, LICENCE_OK};
use nsw_gateway::wire::intake::Packaging;

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

/// On SQLite the writer's transactions, jobs, reruns and WAL copies are counters on
/// `/metrics`, and how long jobs waited for it and its batches took are histograms.
#[tokio::test]
async fn the_sqlite_writer_is_counted_on_metrics() {
    let app = spawn_app_with(Options {
        backend: Some(Backend::Sqlite),
        ..Options::default()
    })
    .await;
    let h = header("ImportPermitRequest");
    let payload = permit_request("REF-COUNTED-1", LICENCE_OK, 100);
    let a = app
        .post(&request(&h, &payload, Packaging::Inline, sync_ack()))
        .await;
    assert_eq!(a.status, 200, "{}", a.text());
    let text = app.metrics(None).await;
    // The recorder is the process's: other gateways of this test binary count there too, so
    // the figures are at least this one's.
    let value = |name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{name} in {text}"))
    };
    assert!(value("nsw_sqlite_writer_transactions_total") >= 1, "{text}");
    assert!(value("nsw_sqlite_writer_jobs_total") >= 1, "{text}");
    value("nsw_sqlite_writer_reruns_total");
    value("nsw_sqlite_writer_wal_copies_total");
    assert!(value("nsw_sqlite_writer_wait_seconds_count") >= 1, "{text}");
    assert!(
        value("nsw_sqlite_writer_batch_seconds_count") >= 1,
        "{text}"
    );
    // The writer's own buckets, finer than the requests' (a batch takes well under 1 ms).
    assert!(
        text.contains(r#"nsw_sqlite_writer_batch_seconds_bucket{le="0.00025"}"#),
        "{text}"
    );
}

#[tokio::test]
async fn admin_token_protects_metrics_and_readiness() {
    let app = spawn_app_with(Options {
        admin_token: Some("s3cret-admin-token".into()),
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
    for token in [None, Some("wrong")] {
        let refused = get("/metrics", token).await.unwrap();
        assert_eq!(refused.status(), 401);
        assert_eq!(refused.headers()["www-authenticate"], "Bearer");
    }
    assert_eq!(
        get("/metrics", Some("s3cret-admin-token"))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(get("/readyz", None).await.unwrap().status(), 401);
    assert_eq!(
        get("/readyz", Some("s3cret-admin-token"))
            .await
            .unwrap()
            .status(),
        200
    );
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

/// On SQLite a stopped gateway leaves every commit in the database file itself: a copy of that
/// file alone holds the decided request, and the next start has no WAL to copy first.
#[tokio::test]
async fn a_stopped_gateway_leaves_its_commits_in_the_sqlite_database_file() {
    let mut app = spawn_app_with(Options {
        backend: Some(Backend::Sqlite),
        ..Options::default()
    })
    .await;
    let h = header("ImportPermitRequest");
    let payload = permit_request("REF-STOPPED-1", LICENCE_OK, 100);
    let a = app
        .post(&request(&h, &payload, Packaging::Inline, sync_ack()))
        .await;
    assert_eq!(a.status, 200, "{}", a.text());
    let path = app
        .settings
        .database
        .url
        .strip_prefix("sqlite://")
        .expect("a SQLite URL")
        .to_string();
    let wal = || std::fs::metadata(format!("{path}-wal")).map_or(0, |m| m.len());
    assert!(wal() > 0, "the running gateway writes to its WAL");
    app.stop().await.unwrap();
    assert_eq!(
        wal(),
        0,
        "the WAL is copied into the database file and truncated"
    );

    let copy = tempfile::tempdir().unwrap();
    let copied = copy.path().join("copy.db");
    std::fs::copy(&path, &copied).unwrap();
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", copied.display()))
        .await
        .unwrap();
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM messages WHERE message_id = $1")
        .bind(&h.message_id)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        n, 1,
        "the copy of the database file alone holds the message"
    );
}
