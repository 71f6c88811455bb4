//! Calls `intake` on the 5-item inline ImportPermitRequest of `benches/intake.rs` N times
//! (first argument, default 1000), for instruction counts under callgrind:
//!
//! ```sh
//! cargo build --release --example intake_calls
//! valgrind --tool=callgrind target/release/examples/intake_calls 0
//! valgrind --tool=callgrind target/release/examples/intake_calls 1000
//! ```
//!
//! The difference of the two totals divided by 1000 is the cost of one call. A second argument
//! `multipart` uses the multipart packaging; a third gives the number of goods items; a fourth,
//! `full`, calls `intake_full` (no fast path) instead.

use nsw_gateway::wire::intake::{intake, intake_full, Limits, Packaging};
use nsw_gateway::wire::reply::{build_request, RequestOptions};

#[path = "../benches/common/mod.rs"]
mod common;
use common::{intake_header, request};

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let packaging = match args.next().as_deref() {
        Some("multipart") => Packaging::Multipart,
        _ => Packaging::Inline,
    };
    let items: u16 = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let opts = RequestOptions {
        ack_requested: true,
        sync_reply: true,
        tis620: false,
    };
    let m = build_request(&intake_header(), &request(items), packaging, opts);
    let full = args.next().as_deref() == Some("full");
    let call = if full { intake_full } else { intake };
    let limits = Limits::default();
    assert!(intake(Some(&m.content_type), &m.body, &limits).is_ok());
    let mut ok = 0usize;
    for _ in 0..n {
        let r = call(
            std::hint::black_box(Some(&m.content_type)),
            std::hint::black_box(&m.body),
            &limits,
        );
        ok += usize::from(r.is_ok());
    }
    println!("{ok} of {n} accepted ({} bytes)", m.body.len());
}
