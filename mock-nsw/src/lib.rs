//! mock-nsw: a simulator of the National Single Window side of the TISI permit gateway.
#![forbid(unsafe_code)]

/// The NSW side of the ebMS exchange over the gateway's wire module.
pub mod ebms;
/// Reference-data generation: a seeded model written as the CSV files of spec §7.
pub mod gen;
/// The load engine: open loop at a fixed arrival rate or closed loop at a fixed concurrency.
pub mod load;
/// Load-run results: HDR latency percentiles, errors by kind, JSON, Markdown and an SVG chart.
pub mod report;
/// The scripted end-to-end scenario.
pub mod scenario;
/// The NSW's receiving endpoint for asynchronous replies, with fault injection.
pub mod serve;
