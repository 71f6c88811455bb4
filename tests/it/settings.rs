//! Start-up settings: development defaults, refusal of invalid settings.

use nsw_gateway::app::Application;
use nsw_gateway::config::{Overrides, Settings};

use crate::helpers::spawn_settings;

/// Every listener on a free loopback port, the database a SQLite file in `dir`.
fn loopback(dir: &std::path::Path) -> Overrides {
    Overrides {
        listen: Some("127.0.0.1:0".into()),
        admin_listen: Some("127.0.0.1:0".into()),
        database: Some(format!("sqlite://{}", dir.join("g.db").display())),
        api_listen: Some("127.0.0.1:0".into()),
    }
}

#[tokio::test]
async fn with_nothing_configured_a_development_instance_serves_plain_http_on_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let overrides = loopback(dir.path());
    let settings = Settings::load(None, std::iter::empty(), &overrides).unwrap();
    assert!(settings.is_development());
    assert!(settings.tls.is_none());
    assert_eq!(settings.gateway.party_id, "TISI");
    assert_eq!(settings.partners[0].party_id, "NSW");
    assert_eq!(settings.partners[0].cpa_id, "NSW-TISI-PERMIT");
    let app = spawn_settings(settings, None, dir).await;
    assert!(app.addr.ip().is_loopback());
    let r = app.client.get(app.url("/ebms")).send().await.unwrap();
    assert_eq!(r.status(), 405, "only POST is served on /ebms");
    let r = app.client.get(app.admin("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn invalid_settings_file_names_every_bad_setting() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gw.toml");
    std::fs::write(
        &file,
        r#"
[server]
listen = "0.0.0.0:8080"
max_in_flight = 0
[[partners]]
party_id = "NSW"
cpa_id = "NSW-TISI-PERMIT"
cert_sha256 = "not-hex"
delivery_url = "https://nsw.example/ebms"
"#,
    )
    .unwrap();
    let env = vec![(
        "NSW_GATEWAY__GATEWAY__ISSUER_TAX_NUMBER".to_string(),
        "0105536112015".to_string(),
    )];
    let err = Settings::load(Some(&file), env, &Overrides::default()).unwrap_err();
    let text = err.to_string();
    for name in [
        "server.listen",
        "server.max_in_flight",
        "partners[0].cert_sha256",
        "gateway.issuer_tax_number",
    ] {
        assert!(text.contains(name), "{name} missing from: {text}");
    }
}

#[tokio::test]
async fn missing_config_file_is_named() {
    let err = Settings::load(
        Some(std::path::Path::new("/nonexistent/gw.toml")),
        std::iter::empty(),
        &Overrides::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("/nonexistent/gw.toml"), "{err}");
}

#[tokio::test]
async fn a_port_in_use_is_named() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let settings = Settings::from_toml(&format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\n[admin]\nlisten = \"127.0.0.1:0\"\n[database]\nurl = \"sqlite::memory:\"\n"
    ))
    .unwrap();
    let err = Application::build(settings).await.err().expect("must fail");
    assert!(format!("{err:#}").contains("server.listen"), "{err:#}");
}

/// A writer CPU the machine does not have is refused at start-up, naming that setting (not
/// the database's URL).
#[tokio::test]
async fn a_writer_cpu_that_does_not_exist_is_named_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let overrides = loopback(dir.path());
    let env = [(
        "NSW_GATEWAY__DATABASE__SQLITE_WRITER_CPU".to_string(),
        "5000".to_string(),
    )];
    let settings = Settings::load(None, env.into_iter(), &overrides).unwrap();
    let e = nsw_gateway::app::open_store(&settings)
        .await
        .err()
        .expect("refused");
    assert!(
        format!("{e:#}").starts_with("database.sqlite_writer_cpu: there is no CPU 5000"),
        "{e:#}"
    );
}

/// A delivery setting that cannot work (here a `delivery.ca` without a certificate) stops the
/// build, so the gateway never reports that it is listening.
#[tokio::test]
async fn a_bad_delivery_ca_stops_the_build() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, "not a certificate\n").unwrap();
    let env = [(
        "NSW_GATEWAY__DELIVERY__CA".to_string(),
        ca.display().to_string(),
    )];
    let settings = Settings::load(None, env.into_iter(), &loopback(dir.path())).unwrap();
    let err = Application::build(settings).await.err().expect("must fail");
    assert!(format!("{err:#}").contains("delivery.ca"), "{err:#}");
}
