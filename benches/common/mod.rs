//! Shared fixtures of the benches (included with `#[path]`, not a bench of its own).

use chrono::{DateTime, FixedOffset};

use nsw_gateway::wire::envelope::{MessageHeader, PartyId, Service, SERVICE_PERMIT};

/// True under `cargo test --benches` (criterion runs each bench once): keep set-up small.
#[allow(dead_code)]
pub fn test_mode() -> bool {
    std::env::args().any(|a| a == "--test")
}

/// The header of a request from NSW with message id `id`.
pub fn header(id: &str) -> MessageHeader {
    MessageHeader {
        from: PartyId::new("NSW"),
        to: PartyId::new("TISI"),
        cpa_id: "NSW-TISI-CPA-01".into(),
        conversation_id: format!("conv-{id}"),
        service: Service::new(SERVICE_PERMIT),
        action: "ImportPermitRequest".into(),
        message_id: format!("{id}@nsw.go.th"),
        timestamp: DateTime::<FixedOffset>::parse_from_rfc3339("2026-11-26T08:00:00+07:00")
            .expect("timestamp"),
        ref_to_message_id: None,
        time_to_live: None,
        duplicate_elimination: true,
    }
}
