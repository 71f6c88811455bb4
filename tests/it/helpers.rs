//! `spawn_app`: a gateway on port 0 with a fresh database, and a client for it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use nsw_gateway::app::{AppHandle, Application};
use nsw_gateway::certs::{Ca, Issued};
use nsw_gateway::config::Settings;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// The HTTP status the gateway gives a body that is not an ebMS message at all.
pub const NOT_A_MESSAGE_STATUS: u16 = 400;

/// How the test gateway is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Security {
    /// Plain HTTP on loopback (development mode).
    Plain,
    /// HTTPS, no client certificates.
    Tls,
    /// HTTPS with required client certificates.
    MutualTls,
}

/// Knobs of a test gateway; everything else is the test default.
#[derive(Clone, Debug)]
pub struct Options {
    pub security: Security,
    pub max_in_flight: usize,
    pub max_body_bytes: usize,
    pub request_timeout_ms: u64,
    pub admin_token: Option<String>,
    /// Seed the store with the test reference data (see `messages::write_refdata`).
    pub refdata: bool,
    /// Partner NSW's rate: requests per minute and burst.
    pub rate_per_minute: u32,
    pub rate_burst: u32,
    /// The store's backend; `None`: PostgreSQL when `TEST_DATABASE_URL` is set, else SQLite.
    pub backend: Option<Backend>,
    /// Use this database instead of a fresh one (two instances on one database).
    pub database_url: Option<String>,
    /// Extra TOML appended to the generated settings.
    pub extra: String,
    /// Lines added to the `[server]` table.
    pub server: String,
    /// Extra lines of the `[api]` section.
    pub api: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            security: Security::Plain,
            max_in_flight: 64,
            max_body_bytes: 64 * 1024,
            request_timeout_ms: 60_000,
            admin_token: None,
            refdata: true,
            rate_per_minute: 600_000,
            rate_burst: 10_000,
            backend: None,
            database_url: None,
            extra: String::new(),
            server: String::new(),
            api: String::new(),
        }
    }
}

/// Certificates of a TLS test gateway.
pub struct TestPki {
    pub ca: Ca,
    pub server: Issued,
    /// The client certificate bound to partner `NSW`.
    pub client: Issued,
    pub dir: PathBuf,
}

impl TestPki {
    fn new(dir: &Path) -> TestPki {
        let ca = Ca::new("it CA").unwrap();
        let server = ca.issue_server(&["localhost", "127.0.0.1"]).unwrap();
        let client = ca.issue_client("NSW").unwrap();
        let pki = TestPki {
            ca,
            server,
            client,
            dir: dir.to_path_buf(),
        };
        std::fs::write(pki.dir.join("ca.pem"), pki.ca.cert_pem()).unwrap();
        pki.write_server(&pki.server);
        pki
    }

    /// Replaces the server certificate files.
    pub fn write_server(&self, server: &Issued) {
        std::fs::write(self.dir.join("server.pem"), &server.cert_pem).unwrap();
        std::fs::write(self.dir.join("server-key.pem"), &server.key_pem).unwrap();
    }

    pub fn ca_certificate(&self) -> reqwest::Certificate {
        reqwest::Certificate::from_pem(self.ca.cert_pem().as_bytes()).unwrap()
    }
}

/// A client identity (certificate + key) for reqwest.
pub fn identity(issued: &Issued) -> reqwest::Identity {
    let pem = format!("{}{}", issued.cert_pem, issued.key_pem);
    reqwest::Identity::from_pem(pem.as_bytes()).unwrap()
}

pub struct TestApp {
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT` or `https://localhost:PORT`.
    pub base_url: String,
    pub admin_url: String,
    /// `http://127.0.0.1:PORT` of the status API and page listener.
    pub api_url: String,
    /// A client that trusts the test CA and, with mutual TLS, presents the NSW certificate.
    pub client: reqwest::Client,
    pub handle: AppHandle,
    pub task: Option<JoinHandle<anyhow::Result<()>>>,
    pub pki: Option<TestPki>,
    pub settings: Settings,
    /// Keeps the temporary directory (database, certificates) alive.
    pub _dir: TempDir,
    /// The PostgreSQL database made for this gateway, dropped with it.
    pub database: Option<PgDatabase>,
}

/// A PostgreSQL test database, dropped when the guard goes.
pub struct PgDatabase {
    server: String,
    name: String,
}

impl PgDatabase {
    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The URL of the server's maintenance database (`TEST_DATABASE_URL`).
    pub fn server(&self) -> &str {
        &self.server
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.name.clone());
        // Drop runs outside async context guarantees: use a thread with its own runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                use sqlx::Connection;
                if let Ok(mut conn) = sqlx::PgConnection::connect(&server).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

/// A store backend for tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The backends to run the store-facing tests on: SQLite always, PostgreSQL when
/// `TEST_DATABASE_URL` names a server.
pub fn backends() -> Vec<Backend> {
    let mut v = vec![Backend::Sqlite];
    if std::env::var("TEST_DATABASE_URL").is_ok() {
        v.push(Backend::Postgres);
    }
    v
}

/// A fresh database of the chosen backend (default: PostgreSQL when `TEST_DATABASE_URL` is
/// set, else SQLite in `dir`), with the guard that drops a PostgreSQL one.
pub async fn fresh_database(dir: &Path, backend: Option<Backend>) -> (String, Option<PgDatabase>) {
    let server = std::env::var("TEST_DATABASE_URL").ok();
    let backend = backend.unwrap_or(if server.is_some() {
        Backend::Postgres
    } else {
        Backend::Sqlite
    });
    match (backend, server) {
        (Backend::Postgres, Some(server)) => {
            use sqlx::Connection;
            let name = format!("t_{}", uuid::Uuid::new_v4().simple());
            let mut conn = sqlx::PgConnection::connect(&server)
                .await
                .expect("TEST_DATABASE_URL reachable");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .await
                .expect("create test database");
            let base = server.rsplit_once('/').map(|(b, _)| b).unwrap_or(&server);
            let url = format!("{base}/{name}");
            (url, Some(PgDatabase { server, name }))
        }
        (Backend::Postgres, None) => panic!("PostgreSQL tests need TEST_DATABASE_URL"),
        (Backend::Sqlite, _) => (
            format!("sqlite://{}", dir.join("gateway.db").display()),
            None,
        ),
    }
}

/// Settings of a test gateway (ports 0), as validated `Settings`, and the guard of its
/// database when it made one.
pub async fn test_settings(
    dir: &Path,
    options: &Options,
    pki: Option<&TestPki>,
) -> (Settings, Option<PgDatabase>) {
    let (db, guard) = match &options.database_url {
        Some(url) => (url.clone(), None),
        None => fresh_database(dir, options.backend).await,
    };
    let mut text = format!(
        r#"
[server]
listen = "127.0.0.1:0"
max_in_flight = {max_in_flight}
max_body_bytes = {max_body}
request_timeout_ms = {timeout}
{server}
[admin]
listen = "127.0.0.1:0"
{token}
[api]
listen = "127.0.0.1:0"
{api}
[database]
url = "{db}"
"#,
        max_in_flight = options.max_in_flight,
        max_body = options.max_body_bytes,
        timeout = options.request_timeout_ms,
        server = options.server,
        api = options.api,
        token = options
            .admin_token
            .as_ref()
            .map(|t| format!("token = \"{t}\""))
            .unwrap_or_default(),
    );
    let mut binding = String::new();
    if let Some(pki) = pki {
        text.push_str(&format!(
            "[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
            pki.dir.join("server.pem").display(),
            pki.dir.join("server-key.pem").display()
        ));
        if options.security == Security::MutualTls {
            text.push_str(&format!(
                "client_ca = \"{}\"\n",
                pki.dir.join("ca.pem").display()
            ));
        }
        binding = format!(
            "cert_sha256 = \"{}\"\ncert_subject_cn = \"NSW\"\n",
            hex::encode(pki.client.sha256())
        );
    }
    if options.refdata {
        let refdata = dir.join("refdata");
        crate::messages::write_refdata(&refdata);
        text.push_str(&format!(
            "[refdata]\nseed_dir = \"{}\"\n",
            refdata.display()
        ));
    }
    text.push_str(&format!(
        r#"
[[partners]]
party_id = "NSW"
cpa_id = "NSW-TISI-PERMIT"
{binding}delivery_url = "http://127.0.0.1:9/ebms"
rate_per_minute = {rate}
rate_burst = {burst}
"#,
        rate = options.rate_per_minute,
        burst = options.rate_burst,
    ));
    text.push_str(&options.extra);
    let settings =
        Settings::from_toml(&text).unwrap_or_else(|e| panic!("test settings: {e}\n{text}"));
    (settings, guard)
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

pub async fn spawn_app_with(options: Options) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let pki = (options.security != Security::Plain).then(|| TestPki::new(dir.path()));
    let (settings, guard) = test_settings(dir.path(), &options, pki.as_ref()).await;
    let mut app = spawn_settings(settings, pki, dir).await;
    app.database = guard;
    app
}

/// Builds and starts an application from ready settings.
pub async fn spawn_settings(settings: Settings, pki: Option<TestPki>, dir: TempDir) -> TestApp {
    nsw_gateway::http::tls::install_crypto_provider();
    let app = Application::build(settings.clone())
        .await
        .expect("application builds");
    let addr = app.local_addr();
    let admin_addr = app.admin_addr();
    let api_addr = app.api_addr();
    let handle = app.handle();
    let task = tokio::spawn(app.run_until_stopped());
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_info(true)
        .pool_max_idle_per_host(0);
    let base_url = match &pki {
        None => format!("http://{addr}"),
        Some(pki) => {
            builder = builder
                .tls_built_in_root_certs(false)
                .add_root_certificate(pki.ca_certificate());
            if settings.mutual_tls() {
                builder = builder.identity(identity(&pki.client));
            }
            format!("https://localhost:{}", addr.port())
        }
    };
    TestApp {
        addr,
        base_url,
        admin_url: format!("http://{admin_addr}"),
        api_url: format!("http://{api_addr}"),
        client: builder.build().unwrap(),
        handle,
        task: Some(task),
        pki,
        settings,
        _dir: dir,
        database: None,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub fn admin(&self, path: &str) -> String {
        format!("{}{path}", self.admin_url)
    }

    /// GET on the admin listener with a bearer token: the status and the JSON body (`Null`
    /// when the body is not JSON).
    pub async fn admin_get(&self, path: &str, token: &str) -> (u16, serde_json::Value) {
        let r = self
            .client
            .get(self.admin(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        )
    }

    /// The text of `/metrics` on the admin listener, with the admin token when one is given.
    pub async fn metrics(&self, token: Option<&str>) -> String {
        let mut r = self.client.get(self.admin("/metrics"));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send().await.unwrap().text().await.unwrap()
    }

    /// A client builder that trusts the test CA (no client certificate).
    pub fn client_builder(&self) -> reqwest::ClientBuilder {
        let mut b = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_info(true)
            .pool_max_idle_per_host(0)
            .tls_built_in_root_certs(false);
        if let Some(pki) = &self.pki {
            b = b.add_root_certificate(pki.ca_certificate());
        }
        b
    }

    /// Waits until exactly `n` requests are in flight (driven by the gateway, no sleeping).
    pub async fn wait_in_flight(&self, n: usize) {
        let mut w = self.handle.in_flight();
        w.wait_for(|v| *v == n).await.unwrap();
    }

    /// Waits until exactly `n` connections wait for a connection slot.
    pub async fn wait_connections_waiting(&self, n: usize) {
        let mut w = self.handle.connections_waiting();
        w.wait_for(|v| *v == n).await.unwrap();
    }

    /// Stops the gateway and waits for `run_until_stopped` to return.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        self.handle.shutdown();
        match self.task.take() {
            Some(t) => t.await.unwrap(),
            None => Ok(()),
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.handle.shutdown();
        // Let the server let go of its connections before the database is dropped.
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// A raw HTTP/1.1 exchange, for what reqwest will not do (partial bodies, lying headers).
pub struct RawRequest {
    pub stream: TcpStream,
}

impl RawRequest {
    /// Connects and sends the request head plus the first part of the body.
    pub async fn start(addr: SocketAddr, head: &str, body_start: &[u8]) -> RawRequest {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(body_start).await.unwrap();
        stream.flush().await.unwrap();
        RawRequest { stream }
    }

    /// A POST /ebms head with `Connection: close`.
    pub fn post_head(content_length: Option<usize>, extra: &str) -> String {
        let len = content_length
            .map(|n| format!("Content-Length: {n}\r\n"))
            .unwrap_or_default();
        format!(
            "POST /ebms HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\nConnection: close\r\n{len}{extra}\r\n"
        )
    }

    pub async fn send(&mut self, more: &[u8]) {
        self.stream.write_all(more).await.unwrap();
        self.stream.flush().await.unwrap();
    }

    /// Reads the whole response (the server closes the connection).
    pub async fn response(mut self) -> RawResponse {
        let mut buf = Vec::new();
        // A reset after the response was written still leaves the response in `buf`.
        let _ = self.stream.read_to_end(&mut buf).await;
        RawResponse::parse(&buf)
    }
}

#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
}

impl RawResponse {
    fn parse(buf: &[u8]) -> RawResponse {
        let text = String::from_utf8_lossy(buf);
        let head = text.split("\r\n\r\n").next().unwrap_or(&text);
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no HTTP response in {text:?}"));
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        RawResponse { status, headers }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The frames of an HTTP/2 client (prior knowledge) that sends one request to /ebms on
/// `stream` (the first one, 1, after the connection preface and an empty SETTINGS): a GET,
/// or a POST of `body` with its content type.
pub fn h2_request(stream: u32, post: Option<(&str, &[u8])>) -> Vec<u8> {
    let mut frames = Vec::new();
    if stream == 1 {
        frames.extend(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        // SETTINGS, empty.
        frames.extend([0, 0, 0, 4, 0, 0, 0, 0, 0]);
    }
    let id = stream.to_be_bytes();
    // HEADERS (HPACK: :method, :scheme http, :path /ebms, :authority, content-type).
    let mut block = vec![if post.is_some() { 0x83 } else { 0x82 }, 0x86, 0x04, 5];
    block.extend(b"/ebms");
    block.extend([0x01, 9]);
    block.extend(b"127.0.0.1");
    if let Some((content_type, _)) = post {
        block.extend([0x0f, 0x10, content_type.len() as u8]);
        block.extend(content_type.as_bytes());
    }
    // END_HEADERS, and END_STREAM when no body follows.
    let flags = if post.is_some() { 4 } else { 5 };
    frames.extend([0, 0, block.len() as u8, 1, flags]);
    frames.extend(id);
    frames.extend(block);
    if let Some((_, body)) = post {
        let n = body.len();
        frames.extend([(n >> 16) as u8, (n >> 8) as u8, n as u8, 0, 1]);
        frames.extend(id);
        frames.extend(body);
    }
    frames
}
