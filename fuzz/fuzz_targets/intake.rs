//! Feeds arbitrary bytes and an arbitrary Content-Type to the intake and to the reading of
//! replies (what the delivery worker reads from the partner), which must never panic.
//! Run: `cargo fuzz run intake --sanitizer none` (from the repository root).
#![no_main]

use libfuzzer_sys::fuzz_target;
use nsw_gateway::wire::intake::{intake, Limits};
use nsw_gateway::wire::reply::parse_reply;

fuzz_target!(|data: &[u8]| {
    // The first byte chooses how long the Content-Type is; it is taken from the next bytes.
    let (ct, body) = match data.split_first() {
        Some((&n, rest)) if n != 0 => {
            let n = (n as usize).min(rest.len());
            (std::str::from_utf8(&rest[..n]).ok(), &rest[n..])
        }
        Some((_, rest)) => (None, rest),
        None => (None, data),
    };
    let limits = Limits::default();
    let _ = intake(ct, body, &limits);
    let _ = intake(
        Some("multipart/related; type=\"text/xml\"; boundary=MIME"),
        body,
        &limits,
    );
    let _ = parse_reply(ct, body);
});
