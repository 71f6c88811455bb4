//! Typed settings, read from a TOML file, overridden by environment variables and command-line
//! flags, and validated as a whole at start-up.
//!
//! Precedence (later wins): built-in development defaults < TOML file (`--config FILE`) <
//! environment variables < command-line flags.
//!
//! Environment variables: `NSW_GATEWAY__<SECTION>__<KEY>` (upper or lower case), e.g.
//! `NSW_GATEWAY__SERVER__LISTEN=0.0.0.0:8443` or `NSW_GATEWAY__DATABASE__URL=postgres://…`.
//! Array entries are addressed by index: `NSW_GATEWAY__PARTNERS__0__CPA_ID=NSW-TISI-PERMIT`
//! (an index one past the end appends an entry). Values are plain strings; numbers and booleans
//! are parsed from them.
//!
//! Every problem is reported (not only the first), each naming the setting by its dotted path
//! (`server.listen`, `partners[0].cert_sha256`, …).

use std::collections::BTreeSet;
use std::fmt;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::{Table, Value};

use crate::domain::TaxNumber;
use crate::store::WriterCpu;

/// Prefix of the environment variables that override settings.
pub const ENV_PREFIX: &str = "NSW_GATEWAY__";

/// The gateway's own party id when none is configured.
pub const DEFAULT_PARTY_ID: &str = "TISI";
/// A synthetic (check-digit-valid) tax number for the issuing authority in development.
pub const DEFAULT_ISSUER_TAX_NUMBER: &str = "0994000159994";
/// The issuing authority's name when none is configured.
pub const DEFAULT_ISSUER_NAME: &str = "Thai Industrial Standards Institute";

/// All settings of a gateway instance, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub server: ServerSettings,
    pub admin: AdminSettings,
    /// The JSON status API and the status page for importers and brokers.
    pub api: ApiSettings,
    /// `None` = plain HTTP (development only, loopback only).
    pub tls: Option<TlsSettings>,
    pub database: DatabaseSettings,
    pub gateway: GatewaySettings,
    pub partners: Vec<Partner>,
    pub log: LogSettings,
    pub refdata: RefdataSettings,
    /// Asynchronous delivery to the partners (spec §5).
    pub delivery: DeliverySettings,
    /// `[[officers]]`: TISI officers and their admin-API tokens.
    pub officers: Vec<Officer>,
    /// `[review] overdue_after_days` (default 7): how long an item may wait for an officer.
    pub review_overdue_after: Duration,
}

/// A TISI officer who may act on the admin API (recorded as actor `officer:<id>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Officer {
    pub id: String,
    pub token: Secret,
}

impl Settings {
    /// A development instance runs without TLS (plain HTTP on loopback).
    pub fn is_development(&self) -> bool {
        self.tls.is_none()
    }

    /// Whether partners authenticate with client certificates (a TLS listener with `client_ca`).
    pub fn mutual_tls(&self) -> bool {
        self.tls.as_ref().is_some_and(|t| t.client_ca.is_some())
    }

    /// The configured partner with this ebMS `PartyId`.
    pub fn partner(&self, party_id: &str) -> Option<&Partner> {
        self.partners.iter().find(|p| p.party_id == party_id)
    }

    /// The settings of a development instance with nothing configured.
    pub fn development() -> Settings {
        Settings::load(None, std::iter::empty(), &Overrides::default())
            .expect("the built-in development defaults are valid")
    }

    /// Reads the file (if any), applies environment and flag overrides, validates everything.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: &Overrides,
    ) -> Result<Settings, ConfigError> {
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    ConfigError::one(format!(
                        "config file {}: cannot be read: {e}",
                        path.display()
                    ))
                })?;
                text.parse::<Table>()
                    .map_err(|e| ConfigError::one(format!("config file {}: {e}", path.display())))?
            }
            None => Table::new(),
        };
        apply_env(&mut table, env)?;
        overrides.apply(&mut table);
        Settings::from_table(table)
    }

    /// Reads settings from TOML text alone (no environment, no flags).
    pub fn from_toml(text: &str) -> Result<Settings, ConfigError> {
        let table = text
            .parse::<Table>()
            .map_err(|e| ConfigError::one(format!("settings: {e}")))?;
        Settings::from_table(table)
    }

    /// Validates a settings tree (the merged file + environment + flags).
    pub fn from_table(table: Table) -> Result<Settings, ConfigError> {
        let mut errs = Vec::new();
        let settings = parse(table, &mut errs);
        match settings {
            Some(s) if errs.is_empty() => Ok(s),
            _ => Err(ConfigError { problems: errs }),
        }
    }
}

/// Values given on the command line; they win over file and environment.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub listen: Option<String>,
    pub admin_listen: Option<String>,
    pub database: Option<String>,
    pub api_listen: Option<String>,
}

impl Overrides {
    fn apply(&self, table: &mut Table) {
        let set = |table: &mut Table, path: &[&str], v: &Option<String>| {
            if let Some(v) = v {
                let path: Vec<String> = path.iter().map(|s| s.to_string()).collect();
                // Paths here are fixed table paths: cannot fail.
                let _ = set_path(table, &path, Value::String(v.clone()));
            }
        };
        set(table, &["server", "listen"], &self.listen);
        set(table, &["admin", "listen"], &self.admin_listen);
        set(table, &["database", "url"], &self.database);
        set(table, &["api", "listen"], &self.api_listen);
    }
}

/// Settings that could not be accepted: every problem, each naming its setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub problems: Vec<String>,
}

impl ConfigError {
    fn one(p: String) -> Self {
        ConfigError { problems: vec![p] }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid settings:")?;
        for p in &self.problems {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// A secret value (token, password): never shown by `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Address of the ebMS listener.
    pub listen: SocketAddr,
    /// Largest accepted request body; larger ones get 413 before being read.
    pub max_body_bytes: usize,
    /// Requests processed at the same time; more get 503 at once.
    pub max_in_flight: usize,
    /// Open connections at the same time. One more waits for a slot, and an open connection
    /// closes to make room: the next busy one to answer (`Connection: close`), or one idle for
    /// a second.
    pub max_connections: usize,
    /// Whole-request budget; beyond it the request gets 503.
    pub request_timeout: Duration,
    /// Budget for the TLS handshake and for reading request headers.
    pub handshake_timeout: Duration,
    /// The `Retry-After` given with 503 answers.
    pub retry_after: Duration,
}

#[derive(Debug, Clone)]
pub struct AdminSettings {
    /// Address of the operations listener (`/metrics`, `/healthz`, `/readyz`).
    pub listen: SocketAddr,
    /// When set, `/metrics` and `/readyz` require `Authorization: Bearer <token>`.
    pub token: Option<Secret>,
}

/// The importer-facing listener: `/api/v1/…` (JSON, API keys) and `/status` (HTML page).
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// Address of the API listener (plain HTTP; put a TLS-terminating proxy in front of it
    /// outside loopback).
    pub listen: SocketAddr,
    /// Requests per minute allowed to one API key (and to one client address on `/status`).
    pub rate_per_minute: NonZeroU32,
    /// Requests one key may send at once above its steady rate.
    pub rate_burst: NonZeroU32,
    /// Failed authentications (or fruitless page look-ups) per minute allowed to one client
    /// address before it gets 429.
    pub auth_failures_per_minute: NonZeroU32,
    /// Addresses of the proxies in front of the listener: for a request from one of them, the
    /// client is the last address of `X-Forwarded-For` that is not one of them.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

#[derive(Debug, Clone)]
pub struct TlsSettings {
    /// Server certificate chain (PEM).
    pub cert: PathBuf,
    /// Server private key (PEM).
    pub key: PathBuf,
    /// CA bundle for client certificates (PEM). When set, client certificates are required.
    pub client_ca: Option<PathBuf>,
    /// How often the files are checked for changes.
    pub reload_interval: Duration,
}

#[derive(Clone)]
pub struct DatabaseSettings {
    /// `sqlite://path` or `postgres://…`.
    pub url: String,
    /// Size of the PostgreSQL connection pool (SQLite uses one writer and its own readers).
    pub max_connections: u32,
    /// Where the SQLite writer and SQLite's thread for it run.
    pub sqlite_writer_cpu: WriterCpu,
}

impl DatabaseSettings {
    /// The URL with any password replaced by `***` (for logs).
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
    }
    pub fn is_sqlite(&self) -> bool {
        self.url.starts_with("sqlite:")
    }
    /// The file behind a `sqlite:` URL (none for in-memory databases).
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        let rest = self.url.strip_prefix("sqlite:")?;
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let path = rest.split('?').next().unwrap_or(rest);
        if path.is_empty() || path == ":memory:" {
            None
        } else {
            Some(PathBuf::from(path))
        }
    }
}

impl fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &self.redacted_url())
            .field("max_connections", &self.max_connections)
            .field("sqlite_writer_cpu", &self.sqlite_writer_cpu)
            .finish()
    }
}

fn redact_url(url: &str) -> String {
    // scheme://user:password@host/... → scheme://user:***@host/...
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            if userinfo.contains(':') {
                format!("{scheme}://{user}:***@{host}{tail}")
            } else {
                url.to_string()
            }
        }
        None => url.to_string(),
    }
}

#[derive(Debug, Clone)]
pub struct GatewaySettings {
    /// The gateway's own ebMS `PartyId` (`To/PartyId` of requests).
    pub party_id: String,
    /// The authority named on permits.
    pub issuer_tax_number: TaxNumber,
    pub issuer_name: String,
}

/// How a partner's client certificate is recognised. Every given element must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertBinding {
    /// SHA-256 of the DER certificate.
    pub sha256: Option<[u8; 32]>,
    /// The certificate's subject common name.
    pub subject_cn: Option<String>,
}

impl CertBinding {
    pub fn is_empty(&self) -> bool {
        self.sha256.is_none() && self.subject_cn.is_none()
    }
}

/// Per-partner request rate: `requests` per `per` on average, at most `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub requests: NonZeroU32,
    pub per: Duration,
    pub burst: NonZeroU32,
}

impl RateLimit {
    /// Time for one request's worth of allowance to come back.
    pub fn replenish_interval(&self) -> Duration {
        (self.per / self.requests.get()).max(Duration::from_nanos(1))
    }
}

/// A configured trading partner (an NSW endpoint).
#[derive(Debug, Clone)]
pub struct Partner {
    /// ebMS `PartyId` of the partner.
    pub party_id: String,
    /// The collaboration agreement id that its messages must carry.
    pub cpa_id: String,
    pub cert: CertBinding,
    pub rate: RateLimit,
    /// Where asynchronous responses are delivered.
    pub delivery_url: String,
    /// The importers (tax numbers) whose permits this partner may query (spec §3.4); `None`:
    /// every importer's (the NSW, which acts for all traders).
    pub importers: Option<BTreeSet<TaxNumber>>,
}

impl Partner {
    /// Whether this partner may see the data of the importer with this tax number.
    pub fn may_see(&self, importer: &TaxNumber) -> bool {
        self.importers.as_ref().is_none_or(|s| s.contains(importer))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct LogSettings {
    pub format: LogFormat,
    /// `tracing_subscriber::EnvFilter` directives; `RUST_LOG` wins when set.
    pub filter: String,
}

/// `[delivery]`: the outbox worker.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliverySettings {
    /// Run the delivery worker inside `serve` (default true).
    pub enabled: bool,
    /// The gateway's client certificate and key (PEM) for HTTPS delivery URLs.
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    /// CA certificates (PEM) trusted for the partners' servers, instead of the system roots.
    pub ca: Option<PathBuf>,
    pub connect_timeout: Duration,
    /// Whole-attempt budget (connect, send, answer).
    pub timeout: Duration,
    /// Attempts before a row is dead-lettered.
    pub max_attempts: u32,
    /// Time since a row was queued after which it is dead-lettered.
    pub max_age: Duration,
    /// Exponential back-off with full jitter: base, ceiling and factor.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    pub backoff_factor: f64,
    /// How long a claimed row belongs to its worker before another may take it.
    pub lease: Duration,
    /// Rows claimed (and sent concurrently) per round.
    pub batch: usize,
    /// Pause between rounds when there was nothing to deliver.
    pub poll_interval: Duration,
    /// Consecutive failures that open a partner's circuit, and the cool-down before a probe.
    pub circuit_threshold: u32,
    pub circuit_cool_down: Duration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        DeliverySettings {
            enabled: true,
            client_cert: None,
            client_key: None,
            ca: None,
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
            max_attempts: 12,
            max_age: Duration::from_secs(48 * 3600),
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(600),
            backoff_factor: 2.0,
            lease: Duration::from_secs(120),
            batch: 32,
            poll_interval: Duration::from_secs(1),
            circuit_threshold: 5,
            circuit_cool_down: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone)]
pub struct RefdataSettings {
    /// Reference data loaded when the store holds none (development convenience).
    pub seed_dir: Option<PathBuf>,
}

// ---------------------------------------------------------------------------------------------
// Environment overrides

fn apply_env(
    table: &mut Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    let mut problems = Vec::new();
    let mut vars: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| k.to_ascii_uppercase().starts_with(ENV_PREFIX))
        .collect();
    // Sorted so that array indexes are applied in order (0 before 1).
    vars.sort();
    for (key, value) in vars {
        let path: Vec<String> = key[ENV_PREFIX.len()..]
            .split("__")
            .map(|s| s.to_ascii_lowercase())
            .collect();
        if path.iter().any(|s| s.is_empty()) {
            problems.push(format!("environment variable {key}: malformed name"));
            continue;
        }
        if let Err(e) = set_path(table, &path, Value::String(value)) {
            problems.push(format!("environment variable {key}: {e}"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ConfigError { problems })
    }
}

fn set_path(table: &mut Table, path: &[String], value: Value) -> Result<(), String> {
    let (first, rest) = path.split_first().ok_or("empty setting name")?;
    if rest.is_empty() {
        table.insert(first.clone(), value);
        return Ok(());
    }
    let next_is_index = rest[0].parse::<usize>().is_ok();
    let entry = table.entry(first.clone()).or_insert_with(|| {
        if next_is_index {
            Value::Array(Vec::new())
        } else {
            Value::Table(Table::new())
        }
    });
    set_in_value(entry, first, rest, value)
}

fn set_in_value(node: &mut Value, name: &str, path: &[String], value: Value) -> Result<(), String> {
    match node {
        Value::Table(t) => set_path(t, path, value),
        Value::Array(items) => {
            let (idx, rest) = path.split_first().ok_or("empty setting name")?;
            let i: usize = idx
                .parse()
                .map_err(|_| format!("`{name}` is a list: expected an index, found `{idx}`"))?;
            if i > items.len() {
                return Err(format!(
                    "`{name}` has {} entries: index {i} would leave a gap",
                    items.len()
                ));
            }
            if i == items.len() {
                items.push(Value::Table(Table::new()));
            }
            if rest.is_empty() {
                items[i] = value;
                Ok(())
            } else {
                set_in_value(&mut items[i], name, rest, value)
            }
        }
        _ => Err(format!("`{name}` is a single value, not a section")),
    }
}

// ---------------------------------------------------------------------------------------------
// Reading and validating the merged tree

/// A section of the settings tree being read; reports problems by dotted path.
struct Section {
    path: String,
    table: Table,
}

impl Section {
    fn new(path: impl Into<String>, table: Table) -> Self {
        Section {
            path: path.into(),
            table,
        }
    }

    fn name(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn section(&mut self, key: &str, errs: &mut Vec<String>) -> Section {
        let name = self.name(key);
        match self.table.remove(key) {
            None => Section::new(name, Table::new()),
            Some(Value::Table(t)) => Section::new(name, t),
            Some(other) => {
                errs.push(format!(
                    "{name}: must be a section, found {}",
                    other.type_str()
                ));
                Section::new(name, Table::new())
            }
        }
    }

    /// A list of sections (`[[partners]]`); `None` when absent.
    fn sections(&mut self, key: &str, errs: &mut Vec<String>) -> Option<Vec<Section>> {
        let name = self.name(key);
        match self.table.remove(key)? {
            Value::Array(items) => Some(
                items
                    .into_iter()
                    .enumerate()
                    .filter_map(|(i, v)| match v {
                        Value::Table(t) => Some(Section::new(format!("{name}[{i}]"), t)),
                        other => {
                            errs.push(format!(
                                "{name}[{i}]: must be a section, found {}",
                                other.type_str()
                            ));
                            None
                        }
                    })
                    .collect(),
            ),
            other => {
                errs.push(format!(
                    "{name}: must be a list of sections, found {}",
                    other.type_str()
                ));
                Some(Vec::new())
            }
        }
    }

    fn string(&mut self, key: &str, errs: &mut Vec<String>) -> Option<String> {
        let name = self.name(key);
        match self.table.remove(key)? {
            Value::String(s) => Some(s),
            Value::Integer(i) => Some(i.to_string()),
            other => {
                errs.push(format!(
                    "{name}: must be a string, found {}",
                    other.type_str()
                ));
                None
            }
        }
    }

    /// A list of strings: a TOML array of strings, or one string of comma-separated entries
    /// (as an environment variable gives it). Entries are trimmed; empty ones are dropped.
    fn list(&mut self, key: &str, errs: &mut Vec<String>) -> Option<Vec<String>> {
        let name = self.name(key);
        let split = |s: &str| -> Vec<String> {
            s.split(',')
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(str::to_string)
                .collect()
        };
        match self.table.remove(key)? {
            Value::String(s) => Some(split(&s)),
            Value::Array(items) => Some(
                items
                    .into_iter()
                    .enumerate()
                    .filter_map(|(i, v)| match v {
                        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
                        other => {
                            errs.push(format!(
                                "{name}[{i}]: must be a non-empty string, found {}",
                                other.type_str()
                            ));
                            None
                        }
                    })
                    .collect(),
            ),
            other => {
                errs.push(format!(
                    "{name}: must be a list of strings, found {}",
                    other.type_str()
                ));
                None
            }
        }
    }

    /// A string that must not be empty (after trimming).
    fn text(&mut self, key: &str, errs: &mut Vec<String>) -> Option<String> {
        let v = self.string(key, errs)?;
        if v.trim().is_empty() {
            errs.push(format!("{}: must not be empty", self.name(key)));
            None
        } else {
            Some(v.trim().to_string())
        }
    }

    fn integer(&mut self, key: &str, errs: &mut Vec<String>) -> Option<u64> {
        let name = self.name(key);
        match self.table.remove(key)? {
            Value::Integer(i) if i >= 0 => Some(i as u64),
            Value::String(s) if s.trim().parse::<u64>().is_ok() => s.trim().parse().ok(),
            other => {
                errs.push(format!(
                    "{name}: must be a whole number ≥ 0, found {}",
                    show(&other)
                ));
                None
            }
        }
    }

    /// A whole number > 0.
    fn positive(&mut self, key: &str, errs: &mut Vec<String>) -> Option<u64> {
        let v = self.integer(key, errs)?;
        if v == 0 {
            errs.push(format!("{}: must be greater than 0", self.name(key)));
            None
        } else {
            Some(v)
        }
    }

    fn positive_u32(&mut self, key: &str, errs: &mut Vec<String>) -> Option<NonZeroU32> {
        let v = self.positive(key, errs)?;
        match u32::try_from(v) {
            Ok(v) => NonZeroU32::new(v),
            Err(_) => {
                errs.push(format!("{}: must be at most {}", self.name(key), u32::MAX));
                None
            }
        }
    }

    /// A duration given in whole seconds (`*_secs`) or milliseconds (`*_ms`).
    fn duration(&mut self, base: &str, errs: &mut Vec<String>) -> Option<Duration> {
        let secs = self.positive(&format!("{base}_secs"), errs);
        let ms = self.positive(&format!("{base}_ms"), errs);
        match (secs, ms) {
            (Some(_), Some(_)) => {
                errs.push(format!(
                    "{}: give either {base}_secs or {base}_ms, not both",
                    self.name(base)
                ));
                None
            }
            (Some(s), None) => Some(Duration::from_secs(s)),
            (None, Some(ms)) => Some(Duration::from_millis(ms)),
            (None, None) => None,
        }
    }

    fn addr(&mut self, key: &str, errs: &mut Vec<String>) -> Option<SocketAddr> {
        let v = self.string(key, errs)?;
        match v.trim().parse::<SocketAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                errs.push(format!(
                    "{}: `{v}` is not an IP address with port (e.g. 127.0.0.1:8080)",
                    self.name(key)
                ));
                None
            }
        }
    }

    /// A path to an existing file.
    fn file(&mut self, key: &str, errs: &mut Vec<String>) -> Option<PathBuf> {
        let v = self.text(key, errs)?;
        let p = PathBuf::from(v);
        if p.is_file() {
            Some(p)
        } else {
            errs.push(format!(
                "{}: file {} does not exist or is not a file",
                self.name(key),
                p.display()
            ));
            None
        }
    }

    /// A path to an existing directory.
    fn dir(&mut self, key: &str, errs: &mut Vec<String>) -> Option<PathBuf> {
        let v = self.text(key, errs)?;
        let p = PathBuf::from(v);
        if p.is_dir() {
            Some(p)
        } else {
            errs.push(format!(
                "{}: directory {} does not exist",
                self.name(key),
                p.display()
            ));
            None
        }
    }

    fn require<T>(&self, key: &str, v: Option<T>, errs: &mut Vec<String>) -> Option<T> {
        if v.is_none()
            && !errs
                .iter()
                .any(|e| e.starts_with(&format!("{}:", self.name(key))))
        {
            errs.push(format!("{}: is required", self.name(key)));
        }
        v
    }

    /// Reports every key that was not consumed as unknown.
    fn finish(self, errs: &mut Vec<String>) {
        for key in self.table.keys() {
            let name = if self.path.is_empty() {
                key.clone()
            } else {
                format!("{}.{key}", self.path)
            };
            errs.push(format!("{name}: unknown setting"));
        }
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("`{s}`"),
        other => format!("`{other}`"),
    }
}

fn parse(table: Table, errs: &mut Vec<String>) -> Option<Settings> {
    let mut root = Section::new("", table);

    // [tls] first: whether TLS is on changes the rules for the rest.
    let tls = {
        let present = root.table.contains_key("tls");
        let mut s = root.section("tls", errs);
        let cert = s.file("cert", errs);
        let key = s.file("key", errs);
        let client_ca = s.file("client_ca", errs);
        let reload_interval = s.duration("reload_interval", errs);
        let out = if present {
            let cert = s.require("cert", cert, errs);
            let key = s.require("key", key, errs);
            match (cert, key) {
                (Some(cert), Some(key)) => Some(TlsSettings {
                    cert,
                    key,
                    client_ca,
                    reload_interval: reload_interval.unwrap_or(Duration::from_secs(5)),
                }),
                _ => None,
            }
        } else {
            None
        };
        s.finish(errs);
        out
    };
    let tls_configured = tls.is_some() || errs.iter().any(|e| e.starts_with("tls."));

    let server = {
        let mut s = root.section("server", errs);
        let default_listen: SocketAddr = ([127, 0, 0, 1], 8080).into();
        let listen = s.addr("listen", errs);
        let max_body_bytes = s.positive("max_body_bytes", errs);
        let max_in_flight = s.positive("max_in_flight", errs);
        let max_connections = s.positive("max_connections", errs);
        let request_timeout = s.duration("request_timeout", errs);
        let handshake_timeout = s.duration("handshake_timeout", errs);
        let retry_after = s.duration("retry_after", errs);
        let listen = listen.unwrap_or(default_listen);
        if !tls_configured && !listen.ip().is_loopback() {
            errs.push(format!(
                "server.listen: plain HTTP is allowed only on a loopback address, not {listen}; \
                 configure [tls] to listen there"
            ));
        }
        s.finish(errs);
        ServerSettings {
            listen,
            max_body_bytes: max_body_bytes.unwrap_or(1024 * 1024) as usize,
            max_in_flight: max_in_flight.unwrap_or(256) as usize,
            max_connections: max_connections.unwrap_or(4096) as usize,
            request_timeout: request_timeout.unwrap_or(Duration::from_secs(30)),
            handshake_timeout: handshake_timeout.unwrap_or(Duration::from_secs(10)),
            retry_after: retry_after.unwrap_or(Duration::from_secs(1)),
        }
    };

    let admin = {
        let mut s = root.section("admin", errs);
        let listen = s
            .addr("listen", errs)
            .unwrap_or(([127, 0, 0, 1], 9090).into());
        let token = s.text("token", errs).map(Secret::new);
        if token.as_ref().is_some_and(|t| t.expose().len() < 16) {
            errs.push("admin.token: must be at least 16 characters".to_string());
        }
        if token.is_none() && !listen.ip().is_loopback() {
            errs.push(format!(
                "admin.token: is required when admin.listen ({listen}) is not a loopback address"
            ));
        }
        s.finish(errs);
        AdminSettings { listen, token }
    };

    let api = {
        let mut s = root.section("api", errs);
        let listen = s
            .addr("listen", errs)
            .unwrap_or(([127, 0, 0, 1], 8081).into());
        let nz = |v: u32| NonZeroU32::new(v).expect("non-zero");
        let rate_per_minute = s.positive_u32("rate_per_minute", errs).unwrap_or(nz(600));
        let rate_burst = s.positive_u32("rate_burst", errs).unwrap_or(nz(60));
        let auth_failures_per_minute = s
            .positive_u32("auth_failures_per_minute", errs)
            .unwrap_or(nz(10));
        let trusted_proxies = s
            .list("trusted_proxies", errs)
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .filter_map(|(i, a)| match a.trim().parse::<std::net::IpAddr>() {
                Ok(ip) => Some(ip),
                Err(_) => {
                    errs.push(format!(
                        "api.trusted_proxies[{i}]: `{a}` is not an IP address"
                    ));
                    None
                }
            })
            .collect();
        s.finish(errs);
        ApiSettings {
            listen,
            rate_per_minute,
            rate_burst,
            auth_failures_per_minute,
            trusted_proxies,
        }
    };

    let database = {
        let mut s = root.section("database", errs);
        let url = s
            .text("url", errs)
            .unwrap_or_else(|| "sqlite://./nsw-gateway-data/gateway.db".to_string());
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            errs.push(format!(
                "database.url: `{}` must start with sqlite:, postgres:// or postgresql://",
                redact_url(&url)
            ));
        }
        let max_connections = s.positive("max_connections", errs).unwrap_or(10);
        let sqlite_writer_cpu = match s.string("sqlite_writer_cpu", errs) {
            None => WriterCpu::Auto,
            Some(v) => WriterCpu::parse(&v).unwrap_or_else(|e| {
                errs.push(format!("database.sqlite_writer_cpu: {e}"));
                WriterCpu::Auto
            }),
        };
        s.finish(errs);
        DatabaseSettings {
            url,
            max_connections: max_connections.min(u64::from(u32::MAX)) as u32,
            sqlite_writer_cpu,
        }
    };

    let gateway = {
        let mut s = root.section("gateway", errs);
        let party_id = s
            .text("party_id", errs)
            .unwrap_or_else(|| DEFAULT_PARTY_ID.to_string());
        let tax = s
            .text("issuer_tax_number", errs)
            .unwrap_or_else(|| DEFAULT_ISSUER_TAX_NUMBER.to_string());
        let issuer_tax_number = match TaxNumber::parse(&tax) {
            Ok(t) => Some(t),
            Err(e) => {
                errs.push(format!("gateway.issuer_tax_number: {}", e.0));
                None
            }
        };
        let issuer_name = s
            .text("issuer_name", errs)
            .unwrap_or_else(|| DEFAULT_ISSUER_NAME.to_string());
        s.finish(errs);
        issuer_tax_number.map(|issuer_tax_number| GatewaySettings {
            party_id,
            issuer_tax_number,
            issuer_name,
        })
    };

    let mutual_tls = tls.as_ref().is_some_and(|t| t.client_ca.is_some());
    let partners = match root.sections("partners", errs) {
        None if !tls_configured => vec![development_partner()],
        None => {
            errs.push(
                "partners: at least one partner is required when TLS is configured".to_string(),
            );
            Vec::new()
        }
        Some(list) => {
            if list.is_empty() {
                errs.push("partners: at least one partner is required".to_string());
            }
            let mut seen = BTreeSet::new();
            list.into_iter()
                .filter_map(|s| parse_partner(s, mutual_tls, &mut seen, errs))
                .collect()
        }
    };

    let log = {
        let mut s = root.section("log", errs);
        let format = match s.text("format", errs).as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                errs.push(format!(
                    "log.format: `{other}` is not one of `text`, `json`"
                ));
                LogFormat::Text
            }
        };
        let filter = s
            .text("filter", errs)
            .unwrap_or_else(|| "info,nsw_gateway=info".to_string());
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&filter) {
            errs.push(format!("log.filter: `{filter}` is not a valid filter: {e}"));
        }
        s.finish(errs);
        LogSettings { format, filter }
    };

    let refdata = {
        let mut s = root.section("refdata", errs);
        let explicit = s.dir("seed_dir", errs);
        s.finish(errs);
        // Development instances seed from the sample data when it is there.
        let seed_dir = explicit.or_else(|| {
            let sample = PathBuf::from("data/sample");
            (!tls_configured && sample.is_dir()).then_some(sample)
        });
        RefdataSettings { seed_dir }
    };

    let delivery = parse_delivery(root.section("delivery", errs), errs);

    let review_overdue_after = {
        let mut s = root.section("review", errs);
        let days = s.positive("overdue_after_days", errs).unwrap_or(7);
        s.finish(errs);
        Duration::from_secs(days.saturating_mul(86_400))
    };

    let officers = {
        let mut ids = BTreeSet::new();
        let mut tokens = BTreeSet::new();
        root.sections("officers", errs)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|mut s| {
                let id = s.text("id", errs);
                let id = s.require("id", id, errs);
                let token = s.text("token", errs);
                let token = s.require("token", token, errs);
                if let Some(id) = &id {
                    if !ids.insert(id.clone()) {
                        errs.push(format!(
                            "{}: officer `{id}` is configured twice",
                            s.name("id")
                        ));
                    }
                }
                if let Some(t) = &token {
                    if t.len() < 16 {
                        errs.push(format!(
                            "{}: must be at least 16 characters",
                            s.name("token")
                        ));
                    } else if !tokens.insert(t.clone()) {
                        errs.push(format!(
                            "{}: the same token is given to two officers",
                            s.name("token")
                        ));
                    }
                }
                s.finish(errs);
                Some(Officer {
                    id: id?,
                    token: Secret::new(token?),
                })
            })
            .collect::<Vec<_>>()
    };

    // An officer's token is the officer: the admin's must be another, or the admin's actions
    // would be recorded as that officer's.
    if let Some(t) = &admin.token {
        if let Some(i) = officers.iter().position(|o| o.token.expose() == t.expose()) {
            errs.push(format!(
                "officers[{i}].token: is the admin token; officers and the admin need tokens of \
                 their own"
            ));
        }
    }

    root.finish(errs);

    Some(Settings {
        server,
        admin,
        api,
        tls,
        database,
        gateway: gateway?,
        partners,
        log,
        refdata,
        delivery,
        officers,
        review_overdue_after,
    })
}

fn parse_delivery(mut s: Section, errs: &mut Vec<String>) -> DeliverySettings {
    let d = DeliverySettings::default();
    let enabled = match s.table.remove("enabled") {
        None => d.enabled,
        Some(Value::Boolean(b)) => b,
        Some(Value::String(v)) if v == "true" || v == "false" => v == "true",
        Some(other) => {
            errs.push(format!(
                "{}: must be true or false, found {}",
                s.name("enabled"),
                show(&other)
            ));
            d.enabled
        }
    };
    let client_cert = s.file("client_cert", errs);
    let client_key = s.file("client_key", errs);
    if client_cert.is_some() != client_key.is_some()
        && !errs.iter().any(|e| e.starts_with(&s.name("client_")))
    {
        errs.push(format!(
            "{}: give client_cert and client_key together",
            s.name("client_cert")
        ));
    }
    let ca = s.file("ca", errs);
    let connect_timeout = s.duration("connect_timeout", errs);
    let timeout = s.duration("timeout", errs);
    let max_attempts = s.positive_u32("max_attempts", errs);
    let max_age_hours = s.positive("max_age_hours", errs);
    let backoff_base = s.duration("backoff_base", errs);
    let backoff_max = s.duration("backoff_max", errs);
    let backoff_factor = match s.table.remove("backoff_factor") {
        None => None,
        Some(Value::Float(f)) if f >= 1.0 && f.is_finite() => Some(f),
        Some(Value::Integer(i)) if i >= 1 => Some(i as f64),
        Some(Value::String(v))
            if v.trim()
                .parse::<f64>()
                .is_ok_and(|f| f >= 1.0 && f.is_finite()) =>
        {
            v.trim().parse().ok()
        }
        Some(other) => {
            errs.push(format!(
                "{}: must be a number ≥ 1, found {}",
                s.name("backoff_factor"),
                show(&other)
            ));
            None
        }
    };
    let lease = s.duration("lease", errs);
    let batch = s.positive("batch", errs);
    if batch.is_some_and(|b| b > 1024) {
        errs.push(format!(
            "{}: at most 1024 rows are claimed and sent at once",
            s.name("batch")
        ));
    }
    let poll_interval = s.duration("poll_interval", errs);
    let circuit_threshold = s.positive_u32("circuit_threshold", errs);
    let circuit_cool_down = s.duration("circuit_cool_down", errs);
    let out = DeliverySettings {
        enabled,
        client_cert,
        client_key,
        ca,
        connect_timeout: connect_timeout.unwrap_or(d.connect_timeout),
        timeout: timeout.unwrap_or(d.timeout),
        max_attempts: max_attempts.map(|n| n.get()).unwrap_or(d.max_attempts),
        max_age: max_age_hours
            .map(|h| Duration::from_secs(h.saturating_mul(3600)))
            .unwrap_or(d.max_age),
        backoff_base: backoff_base.unwrap_or(d.backoff_base),
        backoff_max: backoff_max.unwrap_or(d.backoff_max),
        backoff_factor: backoff_factor.unwrap_or(d.backoff_factor),
        lease: lease.unwrap_or(d.lease),
        batch: batch.map(|b| b as usize).unwrap_or(d.batch),
        poll_interval: poll_interval.unwrap_or(d.poll_interval),
        circuit_threshold: circuit_threshold
            .map(|n| n.get())
            .unwrap_or(d.circuit_threshold),
        circuit_cool_down: circuit_cool_down.unwrap_or(d.circuit_cool_down),
    };
    if out.backoff_max < out.backoff_base {
        errs.push(format!(
            "{}: must not be shorter than delivery.backoff_base",
            s.name("backoff_max")
        ));
    }
    if out.lease <= out.timeout {
        errs.push(format!(
            "{}: must be longer than delivery.timeout ({}s), or a slow attempt loses its lease",
            s.name("lease"),
            out.timeout.as_secs()
        ));
    }
    s.finish(errs);
    out
}

/// The one partner of a development instance: the NSW, without certificate binding.
pub fn development_partner() -> Partner {
    Partner {
        party_id: "NSW".to_string(),
        cpa_id: "NSW-TISI-PERMIT".to_string(),
        cert: CertBinding {
            sha256: None,
            subject_cn: None,
        },
        rate: RateLimit {
            requests: NonZeroU32::new(100).expect("non-zero"),
            per: Duration::from_secs(1),
            burst: NonZeroU32::new(200).expect("non-zero"),
        },
        delivery_url: "http://127.0.0.1:8090/ebms".to_string(),
        importers: None,
    }
}

fn parse_partner(
    mut s: Section,
    mutual_tls: bool,
    seen: &mut BTreeSet<String>,
    errs: &mut Vec<String>,
) -> Option<Partner> {
    let party_id = s.text("party_id", errs);
    let party_id = s.require("party_id", party_id, errs);
    if let Some(id) = &party_id {
        if !seen.insert(id.clone()) {
            errs.push(format!(
                "{}: party `{id}` is configured twice",
                s.name("party_id")
            ));
        }
    }
    let cpa_id = s.text("cpa_id", errs);
    let cpa_id = s.require("cpa_id", cpa_id, errs);
    let sha256 = s
        .string("cert_sha256", errs)
        .and_then(|v| match parse_fingerprint(&v) {
            Ok(f) => Some(f),
            Err(e) => {
                errs.push(format!("{}: {e}", s.name("cert_sha256")));
                None
            }
        });
    let subject_cn = s.text("cert_subject_cn", errs);
    let cert = CertBinding { sha256, subject_cn };
    if mutual_tls && cert.is_empty() && !errs.iter().any(|e| e.starts_with(&s.name("cert_"))) {
        errs.push(format!(
            "{}: mutual TLS is on: give cert_sha256 and/or cert_subject_cn to bind the partner's certificate",
            s.path
        ));
    }
    let per_second = s.positive_u32("rate_per_second", errs);
    let per_minute = s.positive_u32("rate_per_minute", errs);
    if per_second.is_some() && per_minute.is_some() {
        errs.push(format!(
            "{}: give either rate_per_second or rate_per_minute, not both",
            s.name("rate_per_second")
        ));
    }
    let burst = s.positive_u32("rate_burst", errs);
    let delivery_url = s.text("delivery_url", errs);
    let delivery_url = s.require("delivery_url", delivery_url, errs);
    if let Some(url) = &delivery_url {
        if let Err(e) = check_delivery_url(url) {
            errs.push(format!("{}: {e}", s.name("delivery_url")));
        }
    }
    let importers = s.list("importers", errs).map(|list| {
        let name = s.name("importers");
        if list.is_empty() {
            // An empty list would lock the partner out of every business message, most often
            // by mistake (an unset variable in a template).
            errs.push(format!(
                "{name}: names no importer; list the tax numbers the partner acts for, or leave \
                 importers out for a partner that acts for every importer"
            ));
        }
        list.iter()
            .enumerate()
            .filter_map(|(i, t)| match TaxNumber::parse(t) {
                Ok(t) => Some(t),
                Err(e) => {
                    errs.push(format!("{name}[{i}]: {e}"));
                    None
                }
            })
            .collect()
    });
    s.finish(errs);
    let (requests, per) = match (per_second, per_minute) {
        (_, Some(n)) => (n, Duration::from_secs(60)),
        (Some(n), None) => (n, Duration::from_secs(1)),
        (None, None) => (
            NonZeroU32::new(50).expect("non-zero"),
            Duration::from_secs(1),
        ),
    };
    Some(Partner {
        party_id: party_id?,
        cpa_id: cpa_id?,
        cert,
        rate: RateLimit {
            requests,
            per,
            burst: burst.unwrap_or(requests.saturating_mul(NonZeroU32::new(2).expect("non-zero"))),
        },
        delivery_url: delivery_url?,
        importers,
    })
}

/// Parses a SHA-256 fingerprint: 64 hex digits, optionally separated by `:` (as openssl prints).
pub fn parse_fingerprint(s: &str) -> Result<[u8; 32], String> {
    let hexits: String = s.trim().chars().filter(|c| *c != ':').collect();
    let bytes = hex::decode(&hexits)
        .map_err(|_| format!("`{s}` is not a hexadecimal SHA-256 fingerprint"))?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
        format!(
            "`{s}` has {} bytes; a SHA-256 fingerprint has 32 (64 hex digits)",
            bytes.len()
        )
    })
}

fn check_delivery_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" => {
            let host = parsed.host_str().unwrap_or("");
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let loopback = host == "localhost"
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if loopback {
                Ok(())
            } else {
                Err(format!(
                    "`{url}`: plain http is allowed only to a loopback host; use https"
                ))
            }
        }
        other => Err(format!("`{url}`: scheme `{other}` is not http or https")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(toml_text: &str, env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let mut table: Table = toml_text.parse().expect("test TOML parses");
        apply_env(
            &mut table,
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )?;
        Settings::from_table(table)
    }

    /// Checks that the settings are refused and that a problem mentions each expected text.
    fn check_invalid(toml_text: &str, env: &[(&str, &str)], expected: &[&str]) {
        let err = load(toml_text, env).expect_err("settings must be refused");
        for want in expected {
            assert!(
                err.problems.iter().any(|p| p.contains(want)),
                "expected a problem mentioning {want:?}, got {:#?}",
                err.problems
            );
        }
    }

    #[test]
    fn no_configuration_gives_a_development_instance() {
        let s = load("", &[]).unwrap();
        assert!(s.is_development());
        assert_eq!(s.server.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(s.admin.listen, "127.0.0.1:9090".parse().unwrap());
        assert_eq!(s.database.url, "sqlite://./nsw-gateway-data/gateway.db");
        assert_eq!(s.gateway.party_id, "TISI");
        assert_eq!(s.partners.len(), 1);
        assert_eq!(s.partners[0].party_id, "NSW");
        assert_eq!(s.partners[0].cpa_id, "NSW-TISI-PERMIT");
        assert_eq!(s.server.max_body_bytes, 1024 * 1024);
        assert_eq!(
            s.gateway.issuer_tax_number.as_string(),
            DEFAULT_ISSUER_TAX_NUMBER
        );
    }

    #[test]
    fn sqlite_writer_cpu() {
        let check = |toml_text: &str, env: &[(&str, &str)], want: WriterCpu| {
            assert_eq!(
                load(toml_text, env).unwrap().database.sqlite_writer_cpu,
                want,
                "{toml_text} {env:?}"
            );
        };
        check("", &[], WriterCpu::Auto);
        check(
            "[database]\nsqlite_writer_cpu = 'auto'",
            &[],
            WriterCpu::Auto,
        );
        check("[database]\nsqlite_writer_cpu = 'off'", &[], WriterCpu::Off);
        check("[database]\nsqlite_writer_cpu = 3", &[], WriterCpu::Cpu(3));
        check(
            "",
            &[("NSW_GATEWAY__DATABASE__SQLITE_WRITER_CPU", "0")],
            WriterCpu::Cpu(0),
        );
        check_invalid(
            "[database]\nsqlite_writer_cpu = 'first'",
            &[],
            &["database.sqlite_writer_cpu", "`first`"],
        );
        check_invalid(
            "[database]\nsqlite_writer_cpu = -1",
            &[],
            &["database.sqlite_writer_cpu"],
        );
    }

    #[test]
    fn invalid_settings_name_the_setting() {
        check_invalid("[server]\nlisten = 'nonsense'", &[], &["server.listen"]);
        check_invalid(
            "[server]\nlisten = '0.0.0.0:8080'",
            &[],
            &["server.listen", "loopback"],
        );
        check_invalid(
            "[server]\nmax_body_bytes = 0",
            &[],
            &["server.max_body_bytes", "greater than 0"],
        );
        check_invalid(
            "[server]\nmax_in_flight = -3",
            &[],
            &["server.max_in_flight"],
        );
        check_invalid(
            "[server]\nlisen = '127.0.0.1:1'",
            &[],
            &["server.lisen: unknown setting"],
        );
        check_invalid(
            "[tls]\ncert = '/nonexistent/cert.pem'",
            &[],
            &["tls.cert", "tls.key: is required", "partners"],
        );
        check_invalid(
            "[gateway]\nissuer_tax_number = '0105536112015'",
            &[],
            &["gateway.issuer_tax_number", "check digit"],
        );
        check_invalid("[database]\nurl = 'mysql://x'", &[], &["database.url"]);
        check_invalid("[log]\nformat = 'xml'", &[], &["log.format"]);
        check_invalid("[admin]\nlisten = '0.0.0.0:9090'", &[], &["admin.token"]);
        check_invalid(
            "[[partners]]\nparty_id = 'NSW'",
            &[],
            &[
                "partners[0].cpa_id: is required",
                "partners[0].delivery_url: is required",
            ],
        );
        check_invalid("[[partners]]\nparty_id = 'NSW'\ncpa_id = 'C'\ndelivery_url = 'http://127.0.0.1:1/'\ncert_sha256 = 'zz'", &[], &["partners[0].cert_sha256"]);
        check_invalid("[[partners]]\nparty_id = 'NSW'\ncpa_id = 'C'\ndelivery_url = 'http://10.1.1.1/'\nrate_per_second = 0", &[], &["partners[0].delivery_url", "partners[0].rate_per_second"]);
        check_invalid("[[partners]]\nparty_id = 'A'\ncpa_id = 'C'\ndelivery_url = 'https://a/'\n[[partners]]\nparty_id = 'A'\ncpa_id = 'C'\ndelivery_url = 'https://a/'", &[], &["partners[1].party_id", "twice"]);
        check_invalid("partners = []", &[], &["partners: at least one"]);
        check_invalid("[[partners]]\nparty_id = 'B'\ncpa_id = 'C'\ndelivery_url = 'https://b/'\nimporters = ['0105536112014', '0105536112015', 7]", &[], &["partners[0].importers[1]: tax number '0105536112015' has check digit", "partners[0].importers[2]: must be a non-empty string, found integer"]);
        check_invalid("[[partners]]\nparty_id = 'B'\ncpa_id = 'C'\ndelivery_url = 'https://b/'\nimporters = 5", &[], &["partners[0].importers: must be a list of strings"]);
        check_invalid(
            "",
            &[("NSW_GATEWAY__SERVER__MAX_IN_FLIGHT", "many")],
            &["server.max_in_flight"],
        );
        check_invalid(
            "",
            &[("NSW_GATEWAY__PARTNERS__3__CPA_ID", "x")],
            &["NSW_GATEWAY__PARTNERS__3__CPA_ID", "gap"],
        );
        check_invalid(
            "[refdata]\nseed_dir = '/nonexistent/dir'",
            &[],
            &["refdata.seed_dir"],
        );
    }

    #[test]
    fn a_partner_may_be_limited_to_some_importers() {
        let t = |s: &str| TaxNumber::parse(s).unwrap();
        let base = "[[partners]]\nparty_id = 'NSW'\ncpa_id = 'C'\ndelivery_url = 'https://n/'\n\
                    [[partners]]\nparty_id = 'BROKER'\ncpa_id = 'C'\ndelivery_url = 'https://b/'\n";
        let s = load(
            &format!("{base}importers = ['0105536112014', ' 0105555123450 ']"),
            &[],
        )
        .unwrap();
        let (nsw, broker) = (&s.partners[0], &s.partners[1]);
        assert_eq!(nsw.importers, None);
        assert!(nsw.may_see(&t("0105567890124")));
        assert!(broker.may_see(&t("0105536112014")));
        assert!(broker.may_see(&t("0105555123450")));
        assert!(!broker.may_see(&t("0105567890124")));
        // From the environment: one comma-separated string.
        let s = load(
            base,
            &[(
                "NSW_GATEWAY__PARTNERS__1__IMPORTERS",
                "0105567890124, 0105536112014",
            )],
        )
        .unwrap();
        assert_eq!(
            s.partners[1].importers,
            Some([t("0105536112014"), t("0105567890124")].into())
        );
        // An empty list, written or from an empty variable, is refused: it would lock the
        // partner out of every business message.
        check_invalid(
            &format!("{base}importers = []"),
            &[],
            &["partners[1].importers: names no importer"],
        );
        check_invalid(
            base,
            &[("NSW_GATEWAY__PARTNERS__1__IMPORTERS", "")],
            &["partners[1].importers: names no importer"],
        );
    }

    #[test]
    fn all_problems_are_reported_together() {
        let err = load(
            "[server]\nlisten = 'x'\nmax_body_bytes = 0\n[log]\nformat = 'xml'",
            &[],
        )
        .unwrap_err();
        assert_eq!(err.problems.len(), 3, "{:#?}", err.problems);
    }

    #[test]
    fn environment_overrides_file_and_flags_override_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gw.toml");
        std::fs::write(
            &file,
            "[server]\nlisten = '127.0.0.1:1000'\nmax_in_flight = 5\n[database]\nurl = 'sqlite://a.db'\n",
        )
        .unwrap();
        let env = vec![
            (
                "NSW_GATEWAY__SERVER__MAX_IN_FLIGHT".to_string(),
                "7".to_string(),
            ),
            (
                "NSW_GATEWAY__DATABASE__URL".to_string(),
                "sqlite://b.db".to_string(),
            ),
            (
                "NSW_GATEWAY__PARTNERS__0__PARTY_ID".to_string(),
                "NSW2".to_string(),
            ),
            (
                "NSW_GATEWAY__PARTNERS__0__CPA_ID".to_string(),
                "CPA2".to_string(),
            ),
            (
                "NSW_GATEWAY__PARTNERS__0__DELIVERY_URL".to_string(),
                "https://nsw.example/ebms".to_string(),
            ),
            (
                "NSW_GATEWAY__PARTNERS__0__RATE_PER_SECOND".to_string(),
                "3".to_string(),
            ),
            ("OTHER".to_string(), "ignored".to_string()),
        ];
        let flags = Overrides {
            listen: Some("127.0.0.1:2000".to_string()),
            admin_listen: None,
            database: None,
            api_listen: None,
        };
        let s = Settings::load(Some(&file), env, &flags).unwrap();
        assert_eq!(s.server.listen, "127.0.0.1:2000".parse().unwrap());
        assert_eq!(s.server.max_in_flight, 7);
        assert_eq!(s.database.url, "sqlite://b.db");
        assert_eq!(s.partners.len(), 1);
        assert_eq!(s.partners[0].party_id, "NSW2");
        assert_eq!(s.partners[0].rate.requests.get(), 3);
        assert_eq!(s.partners[0].rate.per, Duration::from_secs(1));
        assert_eq!(s.partners[0].rate.burst.get(), 6);
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let s = load(
            "[admin]\ntoken = 'hunter2-admin-token'\n[database]\nurl = 'postgres://gw:pa55word@db.local/gw'",
            &[],
        )
        .unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2-admin-token"), "{shown}");
        assert!(!shown.contains("pa55word"), "{shown}");
        assert!(shown.contains("postgres://gw:***@db.local/gw"), "{shown}");
    }

    #[test]
    fn fingerprints_parse_with_or_without_colons() {
        let plain = "ab".repeat(32);
        let colons = vec!["AB"; 32].join(":");
        assert_eq!(parse_fingerprint(&plain).unwrap(), [0xab; 32]);
        assert_eq!(parse_fingerprint(&colons).unwrap(), [0xab; 32]);
        assert!(parse_fingerprint("abcd").unwrap_err().contains("32"));
        assert!(parse_fingerprint("xyz").is_err());
    }

    #[test]
    fn the_example_file_is_valid_apart_from_its_placeholder_paths() {
        let text = include_str!("../config/example.toml");
        let err = Settings::from_toml(text).unwrap_err();
        // The example names files of a production host; nothing else may be wrong.
        assert!(
            err.problems
                .iter()
                .all(|p| p.starts_with("tls.") && p.contains("does not exist")),
            "{err}"
        );
    }

    #[test]
    fn sqlite_paths() {
        let db = |url: &str| DatabaseSettings {
            url: url.to_string(),
            max_connections: 1,
            sqlite_writer_cpu: WriterCpu::Auto,
        };
        assert_eq!(
            db("sqlite://./d/g.db").sqlite_path(),
            Some(PathBuf::from("./d/g.db"))
        );
        assert_eq!(db("sqlite::memory:").sqlite_path(), None);
        assert_eq!(db("postgres://x/y").sqlite_path(), None);
    }

    #[test]
    #[rustfmt::skip]
    fn delivery_officers_and_review_settings() {
        let d = load("", &[]).unwrap();
        assert_eq!(d.delivery, DeliverySettings::default());
        assert!(d.officers.is_empty());
        assert_eq!(d.review_overdue_after, Duration::from_secs(7 * 86_400));
        let s = load(
            "[delivery]\nenabled = false\nconnect_timeout_ms = 1500\ntimeout_secs = 10\nmax_attempts = 3\n\
             max_age_hours = 2\nbackoff_base_ms = 500\nbackoff_max_secs = 30\nbackoff_factor = 1.5\n\
             lease_secs = 40\nbatch = 8\npoll_interval_ms = 250\ncircuit_threshold = 4\ncircuit_cool_down_secs = 90\n\
             [review]\noverdue_after_days = 3\n\
             [[officers]]\nid = \"somchai\"\ntoken = \"0123456789abcdef-somchai\"\n",
            &[("NSW_GATEWAY__DELIVERY__BATCH", "16")],
        )
        .unwrap();
        let d = &s.delivery;
        assert!(!d.enabled);
        assert_eq!((d.connect_timeout, d.timeout), (Duration::from_millis(1500), Duration::from_secs(10)));
        assert_eq!((d.max_attempts, d.max_age), (3, Duration::from_secs(7200)));
        assert_eq!((d.backoff_base, d.backoff_max, d.backoff_factor), (Duration::from_millis(500), Duration::from_secs(30), 1.5));
        assert_eq!((d.lease, d.batch, d.poll_interval), (Duration::from_secs(40), 16, Duration::from_millis(250)));
        assert_eq!((d.circuit_threshold, d.circuit_cool_down), (4, Duration::from_secs(90)));
        assert_eq!(s.review_overdue_after, Duration::from_secs(3 * 86_400));
        assert_eq!(s.officers[0].id, "somchai");
        assert!(!format!("{s:?}").contains("0123456789abcdef"), "officer tokens are redacted");

        check_invalid("[delivery]\nenabled = 3", &[], &["delivery.enabled"]);
        check_invalid("[delivery]\nmax_attempts = 0", &[], &["delivery.max_attempts"]);
        check_invalid("[delivery]\nbackoff_factor = 0.5", &[], &["delivery.backoff_factor"]);
        check_invalid("[delivery]\nbackoff_base_secs = 10\nbackoff_max_secs = 5", &[], &["delivery.backoff_max"]);
        check_invalid("[delivery]\nlease_secs = 30", &[], &["delivery.lease"]);
        check_invalid("[delivery]\nclient_cert = \"/nonexistent.pem\"", &[], &["delivery.client_cert"]);
        check_invalid("[delivery]\nretries = 3", &[], &["delivery.retries: unknown setting"]);
        check_invalid("[delivery]\nbatch = 5000", &[], &["delivery.batch: at most 1024"]);
        check_invalid("[api]\ntrusted_proxies = ['10.0.0.1', 'proxy']", &[], &["api.trusted_proxies[1]: `proxy`"]);
        check_invalid("[review]\noverdue_after_days = 0", &[], &["review.overdue_after_days"]);
        check_invalid("[[officers]]\nid = \"a\"", &[], &["officers[0].token: is required"]);
        check_invalid("[admin]\ntoken = \"x\"", &[], &["admin.token: must be at least 16"]);
        check_invalid("[log]\nfilter = \"warn,nsw_gateway=loud\"", &[], &["log.filter: `warn,nsw_gateway=loud`"]);
        check_invalid(
            "[admin]\ntoken = \"0123456789abcdef\"\n[[officers]]\nid = \"a\"\ntoken = \"0123456789abcdef\"",
            &[],
            &["officers[0].token: is the admin token"],
        );
        check_invalid("[[officers]]\nid = \"a\"\ntoken = \"short\"", &[], &["officers[0].token: must be at least 16"]);
        check_invalid(
            "[[officers]]\nid = \"a\"\ntoken = \"0123456789abcdef\"\n[[officers]]\nid = \"a\"\ntoken = \"0123456789abcdef\"",
            &[],
            &["officers[1].id: officer `a` is configured twice", "officers[1].token: the same token"],
        );
    }
}
