//! HTTPS, client certificates (mutual TLS), certificate replacement without restart.

use nsw_gateway::certs::Ca;
use nsw_gateway::http::tls::PeerIdentity;

use nsw_gateway::wire::intake::Packaging;

use nsw_gateway::certs::Issued;

use crate::helpers::{h2_request, identity, spawn_app_with, Options, Security, TestApp};
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

/// A TLS connection to the gateway offering one ALPN protocol, with `client`'s certificate
/// if given.
async fn connect(
    app: &TestApp,
    alpn: &[u8],
    client: Option<&Issued>,
) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    use rustls::pki_types::{CertificateDer, ServerName};

    let pki = app.pki.as_ref().unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for ca in rustls_pemfile::certs(&mut pki.ca.cert_pem().as_bytes()) {
        roots.add(ca.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder().with_root_certificates(roots);
    let mut config = match client {
        None => config.with_no_client_auth(),
        Some(c) => {
            let certs: Vec<CertificateDer<'static>> =
                rustls_pemfile::certs(&mut c.cert_pem.as_bytes())
                    .map(Result::unwrap)
                    .collect();
            let key = rustls_pemfile::private_key(&mut c.key_pem.as_bytes())
                .unwrap()
                .unwrap();
            config.with_client_auth_cert(certs, key).unwrap()
        }
    };
    config.alpn_protocols = vec![alpn.to_vec()];
    let tcp = tokio::net::TcpStream::connect(app.addr).await?;
    let mut tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await?;
    // TLS 1.3: the server's verdict on the client certificate arrives after the handshake;
    // a flush and a zero-length read are not enough to see it, so callers send a request.
    tokio::io::AsyncWriteExt::flush(&mut tls).await?;
    Ok(tls)
}

/// Over HTTP/2 the connection of a client without a certificate ends as well, with GOAWAY.
#[tokio::test]
async fn over_http2_a_client_without_certificate_gets_403_and_goaway() {
    use hyper_util::rt::{TokioExecutor, TokioIo};

    let app = mutual_tls_app().await;
    let tls = connect(&app, b"h2", None)
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

/// A request over HTTP/2 on `send`: the status, or the error that ended the connection.
async fn h2_get(
    send: &mut hyper::client::conn::http2::SendRequest<axum::body::Body>,
    app: &TestApp,
) -> Result<u16, hyper::Error> {
    let request = axum::http::Request::get(app.url("/ebms"))
        .body(axum::body::Body::empty())
        .unwrap();
    send.send_request(request)
        .await
        .map(|r| r.status().as_u16())
}

/// Taking a CA out of `client_ca` reaches the connections already open: after the reload a
/// connection whose client certificate no longer verifies closes (with GOAWAY), a reload that
/// keeps its CA leaves it open, and a new connection with that certificate is refused.
#[tokio::test]
async fn a_reload_closes_the_open_connections_of_clients_it_no_longer_accepts() {
    use hyper_util::rt::{TokioExecutor, TokioIo};

    let app = mutual_tls_app().await;
    let pki = app.pki.as_ref().unwrap();
    let tls = connect(&app, b"h2", Some(&pki.client)).await.unwrap();
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    let mut conn = tokio::spawn(conn);
    assert_eq!(h2_get(&mut send, &app).await.unwrap(), 405);

    // A renewed server certificate, the same client CA: the connection is still served.
    pki.write_server(&pki.ca.issue_server(&["localhost", "127.0.0.1"]).unwrap());
    app.handle.reload_tls().unwrap();
    assert_eq!(h2_get(&mut send, &app).await.unwrap(), 405);
    assert!(!conn.is_finished());

    // The client CA replaced by another one: the connection ends while the client holds it
    // open. (Nothing else would end it: the bound only turns a hang into a failure.)
    let other = Ca::new("other CA").unwrap();
    std::fs::write(pki.dir.join("ca.pem"), other.cert_pem()).unwrap();
    app.handle.reload_tls().unwrap();
    let ended = tokio::time::timeout(std::time::Duration::from_secs(60), &mut conn).await;
    assert!(
        ended.is_ok(),
        "the connection stayed open after its CA was taken out"
    );
    assert!(h2_get(&mut send, &app).await.is_err());

    // A new connection with the same certificate is refused in its handshake.
    let refused = match connect(&app, b"h2", Some(&pki.client)).await {
        Err(_) => true,
        Ok(tls) => {
            let (mut send, conn) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
                    .await
                    .unwrap();
            tokio::spawn(conn);
            h2_get(&mut send, &app).await.is_err()
        }
    };
    assert!(refused, "a certificate of a removed CA was accepted");
}

/// The HTTP version ALPN agreed is the one served: HTTP/1.1 on a connection that agreed on
/// h2 gets no HTTP/1.1 answer, nor HTTP/2 on one that agreed on http/1.1; each is served in
/// its own version.
#[tokio::test]
async fn only_the_http_version_agreed_by_alpn_is_served() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let app = mutual_tls_app().await;
    let pki = app.pki.as_ref().unwrap();
    let http1 = b"GET /ebms HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".to_vec();
    // The HTTP/2 client preface and an empty SETTINGS frame.
    let mut http2 = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    http2.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
    let answer = |alpn: &'static [u8], sent: Vec<u8>| {
        let app = &app;
        async move {
            let mut tls = connect(app, alpn, Some(&pki.client)).await.unwrap();
            tls.write_all(&sent).await.unwrap();
            // Up to the end (an error, e.g. a close without TLS's close_notify, ends it as
            // well), or the first frame of an HTTP/2 answer.
            let mut got = Vec::new();
            let read = async {
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = tls.read(&mut buf).await {
                    got.extend_from_slice(&buf[..n]);
                    if got.len() >= 9 && !got.starts_with(b"HTTP/") {
                        break;
                    }
                }
            };
            tokio::time::timeout(std::time::Duration::from_secs(60), read)
                .await
                .expect("an answer or the end of the connection");
            got
        }
    };
    // SETTINGS is the first frame an HTTP/2 server sends.
    let is_http2 = |got: &[u8]| got.len() >= 9 && got[3] == 4;
    let is_http1 = |got: &[u8]| got.starts_with(b"HTTP/1.1 ");

    let got = answer(b"http/1.1", http1.clone()).await;
    assert!(
        got.starts_with(b"HTTP/1.1 405"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    let got = answer(b"h2", http1).await;
    assert!(!is_http1(&got), "HTTP/1.1 served after ALPN h2");
    let got = answer(b"http/1.1", http2.clone()).await;
    assert!(
        !is_http2(&got),
        "HTTP/2 served after ALPN http/1.1: {got:?}"
    );
    let got = answer(b"h2", http2).await;
    assert!(is_http2(&got), "{got:?}");
}

/// Reads HTTP/2 frames from `tls` until one of type `kind` on `stream` (any stream when
/// `None`) arrives: whether it did before the connection ended.
async fn until_frame<S: tokio::io::AsyncRead + Unpin>(
    tls: &mut S,
    buf: &mut Vec<u8>,
    kind: u8,
    stream: Option<u32>,
) -> bool {
    use tokio::io::AsyncReadExt;
    let found = async {
        loop {
            while buf.len() >= 9 {
                let len =
                    (usize::from(buf[0]) << 16) | (usize::from(buf[1]) << 8) | usize::from(buf[2]);
                if buf.len() < 9 + len {
                    break;
                }
                let id = u32::from_be_bytes([buf[5], buf[6], buf[7], buf[8]]) & 0x7fff_ffff;
                let hit = buf[3] == kind && stream.is_none_or(|s| s == id);
                buf.drain(..9 + len);
                if hit {
                    return true;
                }
            }
            let mut more = [0u8; 4096];
            match tls.read(&mut more).await {
                Ok(n @ 1..) => buf.extend_from_slice(&more[..n]),
                _ => return false,
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(60), found)
        .await
        .expect("a frame or the end of the connection")
}

/// HTTP/2 frame types.
const HEADERS: u8 = 1;
const GOAWAY: u8 = 7;

/// A raw HTTP/2 connection of the bound client, its first request answered, after a reload
/// that replaced its CA in `client_ca` by the returned one and the GOAWAY that followed; with
/// what was read past that frame.
async fn refused_h2_client(
    app: &TestApp,
) -> (
    tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
    Vec<u8>,
    Ca,
) {
    use tokio::io::AsyncWriteExt;
    let pki = app.pki.as_ref().unwrap();
    let mut tls = connect(app, b"h2", Some(&pki.client)).await.unwrap();
    let mut buf = Vec::new();
    tls.write_all(&h2_request(1, None)).await.unwrap();
    assert!(
        until_frame(&mut tls, &mut buf, HEADERS, Some(1)).await,
        "answered"
    );
    let other = Ca::new("other CA").unwrap();
    std::fs::write(pki.dir.join("ca.pem"), other.cert_pem()).unwrap();
    app.handle.reload_tls().unwrap();
    assert!(
        until_frame(&mut tls, &mut buf, GOAWAY, None).await,
        "GOAWAY"
    );
    (tls, buf, other)
}

/// A client whose CA a reload took out gets nothing more answered on its open connection,
/// even over HTTP/2 when it never acknowledges the GOAWAY's PING (which keeps a graceful close
/// from completing, and hyper from refusing new streams): a request on a new stream is
/// refused, and nothing of it is stored.
#[tokio::test]
async fn a_client_no_longer_accepted_gets_nothing_more_answered_even_ignoring_goaway() {
    use tokio::io::AsyncWriteExt;

    let app = mutual_tls_app().await;
    let (mut tls, mut buf, _) = refused_h2_client(&app).await;
    let h = header("ImportPermitRequest");
    let built = request(
        &h,
        &permit_request("REF-AFTER-RELOAD", LICENCE_OK, 1),
        Packaging::Inline,
        sync_ack(),
    );
    tls.write_all(&h2_request(3, Some((&built.content_type, &built.body))))
        .await
        .unwrap();
    // Its answer (the refusal), or the end of the connection.
    let _ = until_frame(&mut tls, &mut buf, HEADERS, Some(3)).await;
    let stored = app.handle.store().lookup_reply(&h.message_id, "NSW").await;
    let stored = stored.map(|r| r.map(|r| r.http_status));
    assert!(matches!(stored, Ok(None)), "stored, answered {stored:?}");
}

/// A connection whose client a reload no longer accepts gives its slot to a waiting
/// connection at once when idle, even when its client never lets the close end (it sends
/// nothing more and acknowledges nothing): with one slot, a client of the new CA is served.
#[tokio::test]
async fn a_client_no_longer_accepted_makes_room_for_a_waiting_one() {
    let app = spawn_app_with(Options {
        security: Security::MutualTls,
        // Long enough that no other rule drops the silent connection within the bound below.
        server: "max_connections = 1\nhandshake_timeout_secs = 120".into(),
        ..Options::default()
    })
    .await;
    let (old, _, other) = refused_h2_client(&app).await;
    let newcomer = app
        .client_builder()
        .identity(identity(&other.issue_client("NSW").unwrap()))
        .build()
        .unwrap();
    let served = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        newcomer.get(app.url("/ebms")).send(),
    )
    .await
    .expect("the waiting connection got the slot");
    assert_eq!(served.unwrap().status(), 405);
    drop(old);
}
