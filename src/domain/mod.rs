//! The pure core: value types, business documents, reference data and the decision rules.
//!
//! Nothing here does I/O or knows about XML, SQL or HTTP: a decision is a function of
//! (request, reference snapshot, date).

pub mod documents;
pub mod engine;
pub mod matching;
pub mod messages;
pub mod refdata;
pub mod snapshot;
pub mod types;

pub use documents::*;
pub use refdata::*;
pub use types::*;
