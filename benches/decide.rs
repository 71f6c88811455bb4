//! Decision time for a 5-item LICENSED request against a 1,000,000-licence snapshot.
//!
//! `cargo bench --bench decide -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use chrono::NaiveDate;
use criterion::{criterion_group, criterion_main, Criterion};

use nsw_gateway::domain::engine::{decide, NoUsage};
use nsw_gateway::domain::snapshot::{synthetic_refdata, synthetic_request, Snapshot};
use nsw_gateway::domain::RequestDecision;

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

fn bench_decide(c: &mut Criterion) {
    let snap = Snapshot::build(synthetic_refdata(1_000_000)).expect("consistent data");
    let req = synthetic_request(&snap);
    let today = date("2026-11-26");
    let d = decide(&req, &snap, today, &NoUsage);
    assert!(
        matches!(
            d.decision,
            RequestDecision::Approved | RequestDecision::HoldForInspection
        ),
        "{d:?}"
    );
    c.bench_function("decide 5 items / 1M licences", |b| {
        b.iter(|| decide(black_box(&req), black_box(&snap), today, &NoUsage))
    });
}

criterion_group!(benches, bench_decide);
criterion_main!(benches);
