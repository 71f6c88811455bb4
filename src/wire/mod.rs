//! The XML contract (spec §1–§4). Only this module knows element names.

pub mod error;

pub use error::{EbmsError, ErrorCode, Severity};
pub mod encoding;
pub mod envelope;
pub(crate) mod escape;
mod fast;
pub mod intake;
pub mod packaging;
pub mod payload;
pub mod reply;
mod v1_00;
