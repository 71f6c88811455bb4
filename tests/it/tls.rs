//! HTTPS, client certificates (mutual TLS), certificate replacement without restart.

use nsw_gateway::certs::Ca;
use nsw_gateway::http::tls::PeerIdentity;

use nsw_gateway::wire::intake::Packaging;

use crate::helpers::{identity, spawn_app_with, Options, Security, TestApp};
use crate::messages::{header, permit_request, request, sync_ack, LICENCE_OK};

/// A gateway that requires client certificates; its client presents the bound one.
async fn mutual_tls_app() -> TestApp {
    spawn_app_with(Options {
        security: Security::MutualTls,
        ..Options::default()
    })
    .await
}

fn served_certificate(r: &reqwest::Response) -> Vec<u8> {
    r.extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|i| i.peer_certificate())
        .expect("TLS info with the server certificate")
        .to_vec()
}

#[tokio::test]
async fn https_is_served_with_the_configured_certificate() {
    let app = spawn_app_with(Options {
        security: Security::Tls,
        ..Options::default()
    })
    .await;
    let r = app.client.get(app.url("/ebms")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(served_certificate(&r), app.pki.as_ref().unwrap().server.der);
    // Plain HTTP to the TLS port gets no HTTP answer.
    let plain = reqwest::Client::new()
        .get(format!("http://{}/ebms", app.addr))
        .send()
        .await;
    assert!(plain.is_err() || plain.unwrap().status() != 405);
}

/// Spec §1.2: authentication failed is an HTTP answer (403, no detail), given before the
/// message is read; nothing of it is recorded, and the connection is closed.
#[tokio::test]
async fn mutual_tls_answers_a_client_without_certificate_with_403_and_records_nothing() {
    let app = mutual_tls_app().await;
    // HTTP/1.1, whose `Connection: close` ends the connection (HTTP/2 has no such header).
    let anonymous = app.client_builder().http1_only().build().unwrap();
    let h = header("ImportPermitRequest");
    let built = request(
        &h,
        &permit_request("REF-ANON-1", LICENCE_OK, 10),
        Packaging::Inline,
        sync_ack(),
    );
    let r = anonymous
        .post(app.url("/ebms"))
        .header("Content-Type", &built.content_type)
        .body(built.body.clone())
        .send()
        .await
        .expect("the handshake completes without a client certificate");
    assert_eq!(r.status(), 403);
    assert_eq!(r.headers()["connection"], "close");
    assert_eq!(r.text().await.unwrap(), "client certificate required");
    let stored = app.handle.store().lookup_reply(&h.message_id, "NSW").await;
    assert!(matches!(stored, Ok(None)), "{stored:?}");

    // The same message from the bound certificate is decided as a first arrival.
    let a = app.post(&built).await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.permit_response().decision.code(), "APPROVED");
}

/// Over HTTP/2 the connection of a client without a certificate ends as well, with GOAWAY.
#[tokio::test]
async fn over_http2_a_client_without_certificate_gets_403_and_goaway() {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use rustls::pki_types::{CertificateDer, ServerName};

    let app = mutual_tls_app().await;
    let pki = app.pki.as_ref().unwrap();
    let mut roots = rustls::RootCertStore::empty();
    let ca = rustls_pemfile::certs(&mut pki.ca.cert_pem().as_bytes())
        .next()
        .unwrap()
        .unwrap();
    roots.add(CertificateDer::from(ca.to_vec())).unwrap();
    let mut config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("the handshake completes without a client certificate");
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    let conn = tokio::spawn(conn);
    let ping = nsw_gateway::wire::reply::build_ping(&header("Ping"), true);
    let request = axum::http::Request::post(app.url("/ebms"))
        .header("content-type", &ping.content_type)
        .body(axum::body::Body::from(ping.body.clone()))
        .unwrap();
    let r = send.send_request(request).await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.headers().get("connection").is_none());
    // The gateway ends the connection while the client still holds it open. (Without the
    // GOAWAY nothing would end it: the bound only turns a hang into a failure.)
    let ended = tokio::time::timeout(std::time::Duration::from_secs(60), conn).await;
    assert!(ended.is_ok(), "the gateway kept the connection open");
    drop(send);
}

#[tokio::test]
async fn mutual_tls_refuses_a_certificate_from_an_unknown_ca() {
    let app = mutual_tls_app().await;
    let stranger = Ca::new("stranger CA").unwrap().issue_client("NSW").unwrap();
    let client = app
        .client_builder()
        .identity(identity(&stranger))
        .build()
        .unwrap();
    let r = client.get(app.url("/ebms")).send().await;
    assert!(r.is_err(), "an unknown CA must be refused: {r:?}");
}

#[tokio::test]
async fn mutual_tls_accepts_the_known_certificate_and_reads_its_identity() {
    let app = mutual_tls_app().await;
    let r = app.client.get(app.url("/ebms")).send().await.unwrap();
    assert_eq!(r.status(), 405, "the request reached the router");
    let pki = app.pki.as_ref().unwrap();
    let id = PeerIdentity::from_der(&pki.client.der);
    assert_eq!(id.subject_cn.as_deref(), Some("NSW"));
    assert!(id.matches(&app.settings.partners[0].cert));
    let other = PeerIdentity::from_der(&pki.ca.issue_client("NSW").unwrap().der);
    assert!(
        !other.matches(&app.settings.partners[0].cert),
        "same CN, other certificate: the fingerprint binding refuses it"
    );
}

#[tokio::test]
async fn replaced_certificates_are_served_to_new_connections_after_reload() {
    let app = mutual_tls_app().await;
    let pki = app.pki.as_ref().unwrap();
    let first = app.client.get(app.url("/ebms")).send().await.unwrap();
    assert_eq!(served_certificate(&first), pki.server.der);

    let renewed = pki.ca.issue_server(&["localhost", "127.0.0.1"]).unwrap();
    pki.write_server(&renewed);
    app.handle.reload_tls().unwrap();

    let second = app.client.get(app.url("/ebms")).send().await.unwrap();
    assert_eq!(second.status(), 405);
    assert_eq!(served_certificate(&second), renewed.der);

    // Broken files are refused and the renewed certificate stays in use.
    std::fs::write(pki.dir.join("server.pem"), "not a certificate").unwrap();
    assert!(app.handle.reload_tls().is_err());
    let third = app.client.get(app.url("/ebms")).send().await.unwrap();
    assert_eq!(served_certificate(&third), renewed.der);
}
