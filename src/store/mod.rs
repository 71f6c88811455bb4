//! Persistence behind one API, for SQLite (embedded default) and PostgreSQL (scale-out).
