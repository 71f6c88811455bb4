//! The database goes away and comes back: the gateway answers 503 with Retry-After meanwhile,
//! records nothing, and recovers by itself.

use nsw_gateway::wire::intake::Packaging;
use sqlx::Connection;

use crate::helpers::{spawn_app_with, Backend, Options};
use crate::messages::*;

async fn allow_connections(server: &str, name: &str, allow: bool) {
    let mut conn = sqlx::PgConnection::connect(server).await.unwrap();
    sqlx::query(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS {allow}"))
        .execute(&mut conn)
        .await
        .unwrap();
    if !allow {
        sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
            .bind(name)
            .execute(&mut conn)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn an_unreachable_database_gets_503_and_the_gateway_recovers_when_it_is_back() {
    // PostgreSQL is the backend that can go away underneath a running gateway.
    if std::env::var("TEST_DATABASE_URL").is_err() {
        eprintln!("skipped: needs TEST_DATABASE_URL");
        return;
    }
    let app = spawn_app_with(Options {
        backend: Some(Backend::Postgres),
        ..Options::default()
    })
    .await;
    let db = app.database.as_ref().expect("a PostgreSQL test database");
    let (server, name) = (db.server().to_owned(), db.name().to_owned());

    let built = request(
        &header("ImportPermitRequest"),
        &permit_request("REF-OUTAGE", LICENCE_OK, 1),
        Packaging::Inline,
        sync_ack(),
    );

    allow_connections(&server, &name, false).await;
    let refused = app.post(&built).await;
    assert_eq!(refused.status, 503, "{}", refused.text());
    assert!(refused.retry_after.is_some(), "503 carries Retry-After");
    let ready = app
        .client
        .get(format!("{}/readyz", app.admin_url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status().as_u16(), 503, "not ready without a database");
    assert_eq!(ready.text().await.unwrap(), "store unavailable\n");

    allow_connections(&server, &name, true).await;
    // The same message, retried unchanged, is decided now: the refused attempt left no trace.
    let accepted = app.post(&built).await;
    assert_eq!(accepted.status, 200, "{}", accepted.text());
    assert!(accepted.permit_response().permit.is_some());
    let again = app.post(&built).await;
    assert_eq!(again.body, accepted.body);
}
