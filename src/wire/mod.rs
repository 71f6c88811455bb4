//! The XML contract (spec §1–§4). Only this module knows element names.
