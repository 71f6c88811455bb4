//! nsw-gateway: the TISI import-permit gateway for the Thai National Single Window.
#![forbid(unsafe_code)]

/// The importer-facing status API (JSON, API keys, OpenAPI) and the status page.
pub mod api;
/// The application: listeners, background tasks, graceful shutdown.
pub mod app;
/// Development certificates (CA, server, client) with rcgen.
pub mod certs;
/// The command line (clap): serve, migrate, refdata, certs.
pub mod cli;
/// Typed settings from TOML, environment and flags, validated at start-up.
pub mod config;
/// Asynchronous delivery of the outbox to the partners: worker, back-off, circuit breaker.
pub mod delivery;
/// Value types, business documents, reference data and the decision engine (pure).
pub mod domain;
/// HTTP: router, ebMS endpoint, error type, protection layers, TLS accept loop, admin listener.
pub mod http;
/// Reading TISI's reference-data exports (CSV files) into domain records.
pub mod refdata;
/// Persistence: one store API over SQLite and PostgreSQL, with migrations per backend.
pub mod store;
/// Logging (tracing) and metrics (Prometheus) set-up and metric names.
pub mod telemetry;
/// The XML contract: DTOs, ebMS envelope, packaging, encodings, hardened intake, reply builders.
pub mod wire;
