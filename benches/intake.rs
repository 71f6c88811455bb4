//! Intake of an ImportPermitRequest with 1, 5, 10 and 100 goods items, in both packagings:
//! framing, encoding, scan, envelope, header checks, payload decoding and conversion to domain
//! values. Messages are built with the gateway's own request builder.

use chrono::DateTime;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use nsw_gateway::domain::{
    Branch, Country, Function, HsCode, ImportPermitResponse, ItemResult, ItemStatus,
    OutboundDocument, Permit, PermitNumber, Port, Quantity, Reason, ReasonCode, ReferenceNumber,
    RequestDecision, StandardRef, TaxNumber,
};
use nsw_gateway::wire::envelope::{parse_envelope, AckActor};
use nsw_gateway::wire::intake::{intake, intake_full, scan, Limits, Packaging};
use nsw_gateway::wire::payload::{decode_inbound, encode_inbound};
use nsw_gateway::wire::reply::{build_business, build_request, RequestOptions};

mod common;
use common::{date, intake_header, request};

/// The answer to [`request`]: a permit, every item approved but the last, held for inspection.
fn response(items: u16) -> OutboundDocument {
    let item = |n: u16| ItemResult {
        item_number: n,
        invoice_item_number: n,
        hs_code: HsCode::parse("85044090").unwrap(),
        country_of_origin: Country::parse("CN").unwrap(),
        status: if n == items {
            ItemStatus::HoldForInspection
        } else {
            ItemStatus::Approved
        },
        standard: Some(StandardRef::parse("TIS 2432-2555").unwrap()),
        approved_quantity: Some(Quantity::parse("120", "C62").unwrap()),
        reasons: if n == items {
            vec![Reason {
                code: ReasonCode::InspectionSelected,
                field: format!("/ImportPermitRequest/GoodsItem[{n}]"),
                message_th: "สินค้ารายการนี้ถูกเลือกให้ตรวจสอบ ณ ด่านศุลกากร".into(),
                message_en: "This item was selected for inspection at the port".into(),
            }]
        } else {
            Vec::new()
        },
    };
    OutboundDocument::ImportPermitResponse(ImportPermitResponse {
        reference: ReferenceNumber::parse("PO-2569/0001").unwrap(),
        function: Function::Original,
        request_id: "REQ-2569-000042".into(),
        decided_at: DateTime::parse_from_rfc3339("2026-11-26T08:00:01+07:00").unwrap(),
        issuing_authority_tax_number: TaxNumber::parse("0994000617721").unwrap(),
        issuing_authority_name: "สำนักงานมาตรฐานผลิตภัณฑ์อุตสาหกรรม".into(),
        importer_tax_number: "0105536112014".into(),
        importer_branch: Branch::parse("00000").unwrap(),
        decision: RequestDecision::HoldForInspection,
        permit: Some(Permit {
            number: PermitNumber::parse("TISI-P-2569-00000042").unwrap(),
            issue_date: date("2026-11-26"),
            effective_date: date("2026-11-26"),
            expiry_date: date("2027-03-15"),
            arrival_date: date("2026-12-15"),
            invoice_number: "INV-88123".into(),
            invoice_date: date("2026-11-20"),
            load_port: Port::parse("CNSHA").unwrap(),
            discharge_port: Port::parse("THLCH").unwrap(),
            country_of_destination: Country::parse("TH").unwrap(),
        }),
        items: (1..=items).map(item).collect(),
    })
}

fn bench(c: &mut Criterion) {
    let limits = Limits::default();
    let mut g = c.benchmark_group("intake");
    for packaging in [Packaging::Inline, Packaging::Multipart] {
        for n in [1u16, 5, 10, 100] {
            let opts = RequestOptions {
                ack_requested: true,
                sync_reply: true,
                tis620: false,
            };
            let m = build_request(&intake_header(), &request(n), packaging, opts);
            assert!(intake(Some(&m.content_type), &m.body, &limits).is_ok());
            g.throughput(Throughput::Bytes(m.body.len() as u64));
            let id = BenchmarkId::new(
                format!("{packaging:?}"),
                format!("{n} items, {} bytes", m.body.len()),
            );
            g.bench_with_input(id, &m, |b, m| {
                b.iter(|| intake(Some(&m.content_type), &m.body, &limits))
            });
        }
    }
    g.finish();

    // Where the time goes, for the 5-item inline request; the full path alone in both
    // packagings.
    let opts = RequestOptions {
        ack_requested: true,
        sync_reply: true,
        tis620: false,
    };
    let m = build_request(&intake_header(), &request(5), Packaging::Inline, opts);
    let soap = String::from_utf8(m.body.clone()).unwrap();
    let payload = encode_inbound(&request(5));
    let mut g = c.benchmark_group("parts");
    g.bench_function("intake_full (no fast path), 5 items inline", |b| {
        b.iter(|| intake_full(Some(&m.content_type), &m.body, &limits))
    });
    let mp = build_request(&intake_header(), &request(5), Packaging::Multipart, opts);
    g.bench_function("intake_full (no fast path), 5 items multipart", |b| {
        b.iter(|| intake_full(Some(&mp.content_type), &mp.body, &limits))
    });
    g.bench_function("parse_envelope, 5 items inline", |b| {
        b.iter(|| parse_envelope(&soap))
    });
    g.bench_function("scan, 5 items inline", |b| b.iter(|| scan(&soap, &limits)));
    g.bench_function("decode_inbound, 5 items", |b| {
        b.iter(|| decode_inbound(&payload))
    });
    g.finish();

    // The reply: a 5-item ImportPermitResponse with an Acknowledgment, in both packagings.
    let mut g = c.benchmark_group("reply");
    let request_header = intake_header();
    let mut reply_header = intake_header();
    std::mem::swap(&mut reply_header.from, &mut reply_header.to);
    reply_header.action = "ImportPermitResponse".into();
    reply_header.message_id = "5c1d2e3f-0a1b-4c2d-8e3f-405162738495@tisi.go.th".into();
    reply_header.ref_to_message_id = Some(request_header.message_id.clone());
    let doc = response(5);
    for packaging in [Packaging::Inline, Packaging::Multipart] {
        g.bench_function(format!("build_business, 5 items {packaging:?}"), |b| {
            b.iter(|| {
                build_business(
                    &reply_header,
                    Some((&request_header, AckActor::ToPartyMsh)),
                    &doc,
                    packaging,
                )
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
