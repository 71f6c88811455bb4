//! Rendering the synchronous reply to a 5-item ImportPermitRequest: the ImportPermitResponse
//! document in an ebMS envelope with its Acknowledgment, inline and as multipart/related.
//!
//! `cargo bench --bench reply -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use chrono::{DateTime, FixedOffset, NaiveDate};
use criterion::{criterion_group, criterion_main, Criterion};

use nsw_gateway::domain::engine::{decide, NoUsage};
use nsw_gateway::domain::snapshot::{synthetic_refdata, synthetic_request, Snapshot};
use nsw_gateway::domain::{
    ImportPermitResponse, OutboundDocument, Permit, PermitNumber, RequestDecision, TaxNumber,
};
use nsw_gateway::wire::envelope::AckActor;
use nsw_gateway::wire::intake::Packaging;
use nsw_gateway::wire::reply::build_business;

mod common;
use common::header;

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

/// The response the gateway gives to the synthetic 5-item request (its real decision).
fn response() -> OutboundDocument {
    // synthetic_request uses licences up to number 80,003.
    let snap = Snapshot::build(synthetic_refdata(80_004)).expect("consistent data");
    let req = synthetic_request(&snap);
    let today = date("2026-11-26");
    let d = decide(&req, &snap, today, &NoUsage);
    assert!(d.decision.issues_permit(), "{d:?}");
    assert_eq!(d.items.len(), 5);
    let dates = d.permit_dates.expect("permit dates");
    let s = &req.shipment;
    let permit = Permit {
        number: PermitNumber::for_date(today, 123).expect("permit number"),
        issue_date: today,
        effective_date: dates.effective,
        expiry_date: dates.expiry,
        arrival_date: s.arrival_date,
        invoice_number: req.invoice.number.clone(),
        invoice_date: req.invoice.date,
        load_port: s.load_port,
        discharge_port: s.discharge_port,
        country_of_destination: s.country_of_destination,
    };
    OutboundDocument::ImportPermitResponse(ImportPermitResponse {
        reference: req.reference.clone(),
        function: req.function,
        request_id: "REQ-0b6f3c1e6a554d0c9b1e5f0e7c2d9a11".into(),
        decided_at: DateTime::<FixedOffset>::parse_from_rfc3339("2026-11-26T08:00:01+07:00")
            .expect("time"),
        issuing_authority_tax_number: TaxNumber::parse("0994000617721").expect("tax number"),
        issuing_authority_name: "สำนักงานมาตรฐานผลิตภัณฑ์อุตสาหกรรม".into(),
        importer_tax_number: req.importer.tax_number.clone(),
        importer_branch: req.importer.branch,
        decision: d.decision,
        permit: Some(permit),
        items: d.items,
    })
}

fn bench(c: &mut Criterion) {
    let doc = response();
    if let OutboundDocument::ImportPermitResponse(r) = &doc {
        assert_ne!(r.decision, RequestDecision::Rejected);
    }
    let request = header("0b6f3c1e-6a55-4d0c-9b1e-5f0e7c2d9a11");
    let mut reply_header = header("7d1c2b3a-1111-4a4a-8b8b-000000000001");
    reply_header.from = request.to.clone();
    reply_header.to = request.from.clone();
    reply_header.action = "ImportPermitResponse".into();
    reply_header.ref_to_message_id = Some(request.message_id.clone());
    let mut g = c.benchmark_group("reply");
    for packaging in [Packaging::Inline, Packaging::Multipart] {
        let built = build_business(
            &reply_header,
            Some((&request, AckActor::ToPartyMsh)),
            &doc,
            packaging,
        );
        assert!(!built.body.is_empty());
        g.bench_function(
            format!(
                "ImportPermitResponse 5 items, {packaging:?}, {} bytes",
                built.body.len()
            ),
            |b| {
                b.iter(|| {
                    build_business(
                        black_box(&reply_header),
                        Some((black_box(&request), AckActor::ToPartyMsh)),
                        black_box(&doc),
                        packaging,
                    )
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
