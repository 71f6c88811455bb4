//! nsw-gateway: the TISI import-permit gateway for the Thai National Single Window.
#![forbid(unsafe_code)]

/// Value types, business documents, reference data and the decision engine (pure).
pub mod domain;
/// Persistence: one store API over SQLite and PostgreSQL, with migrations per backend.
pub mod store;
/// The XML contract: DTOs, ebMS envelope, packaging, encodings, hardened intake, reply builders.
pub mod wire;
