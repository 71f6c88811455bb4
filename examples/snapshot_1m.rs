//! Measures building a reference snapshot of 1,000,000 licences (build time and memory), then
//! deciding a 5-item request against it: median of 51 rounds of 20,000 decisions, as wall time
//! and as this thread's on-CPU time (from /proc/thread-self/schedstat, which stays meaningful
//! on a machine shared with other work).
//!
//! `cargo run --release --example snapshot_1m`

use std::time::Instant;

use chrono::NaiveDate;
use nsw_gateway::domain::engine::{decide, NoUsage};
use nsw_gateway::domain::snapshot::{synthetic_refdata, synthetic_request, Snapshot};

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

fn on_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
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

    let req = synthetic_request(&snap);
    let today = NaiveDate::from_ymd_opt(2026, 11, 26).expect("date");
    println!(
        "decision: {}",
        decide(&req, &snap, today, &NoUsage).decision.code()
    );
    const N: u32 = 20_000;
    let mut wall = Vec::new();
    let mut cpu = Vec::new();
    for _ in 0..51 {
        let (t, c) = (Instant::now(), on_cpu_ns());
        for _ in 0..N {
            std::hint::black_box(decide(std::hint::black_box(&req), &snap, today, &NoUsage));
        }
        wall.push(t.elapsed().as_nanos() as f64 / f64::from(N));
        cpu.push((on_cpu_ns() - c) as f64 / f64::from(N));
    }
    wall.sort_by(f64::total_cmp);
    cpu.sort_by(f64::total_cmp);
    println!(
        "decide, 5 items, median: {:.0} ns wall, {:.0} ns on CPU",
        wall[25], cpu[25]
    );
}
