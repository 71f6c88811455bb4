//! The XML contract (spec §1–§4). Only this module knows element names.

pub mod error;

pub use error::{EbmsError, ErrorCode, Severity};
pub mod encoding;
pub mod packaging;
pub mod envelope;
pub mod intake;
pub mod reply;
pub mod payload;
mod v1_00;
