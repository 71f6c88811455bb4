//! Measures building a reference snapshot of 1,000,000 licences: build time and memory.
//!
//! `cargo run --release --example snapshot_1m`

use std::time::Instant;

use nsw_gateway::domain::snapshot::{synthetic_refdata, Snapshot};

fn proc_status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let before = proc_status_kb("VmRSS:");
    let t = Instant::now();
    let data = synthetic_refdata(1_000_000);
    let generated = t.elapsed();
    let with_input = proc_status_kb("VmRSS:");
    let t = Instant::now();
    let snap = Snapshot::build(data).expect("synthetic data is consistent");
    let built = t.elapsed();
    let after = proc_status_kb("VmRSS:");
    let peak = proc_status_kb("VmHWM:");
    println!("licences:              {}", snap.licence_count());
    println!("generate input:        {:.2} s", generated.as_secs_f64());
    println!("Snapshot::build:       {:.2} s", built.as_secs_f64());
    println!("RSS before:            {} MiB", before / 1024);
    println!("RSS with input:        {} MiB", with_input / 1024);
    println!("RSS snapshot only:     {} MiB", after / 1024);
    println!("peak RSS (VmHWM):      {} MiB", peak / 1024);
    let probe = snap.licence("IL-0500000/2560").expect("licence present");
    println!("probe: {} held by {}", probe.number(), probe.holder());
}
