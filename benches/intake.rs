//! Intake of an ImportPermitRequest with 1, 5, 10 and 100 goods items, in both packagings:
//! framing, encoding, scan, envelope, header checks, payload decoding and conversion to domain
//! values. Messages are built with the gateway's own request builder.

use chrono::{DateTime, NaiveDate};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use nsw_gateway::domain::{
    Branch, Country, Function, GoodsItem, HsCode, ImportPermitRequest, Importer, InboundDocument,
    Invoice, Manufacturer, Port, Quantity, ReferenceNumber, RequestType, Shipment, TransportMode,
};
use nsw_gateway::wire::envelope::{
    parse_envelope, MessageHeader, PartyId, Service, SERVICE_PERMIT,
};
use nsw_gateway::wire::intake::{intake, scan, Limits, Packaging};
use nsw_gateway::wire::payload::{decode_inbound, encode_inbound};
use nsw_gateway::wire::reply::{build_request, RequestOptions};

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn request(items: u16) -> InboundDocument {
    let item = |n: u16| GoodsItem {
        item_number: n,
        invoice_item_number: n,
        hs_code: HsCode::parse("85044090").unwrap(),
        description: "อะแดปเตอร์ไฟฟ้ากระแสสลับ สำหรับเครื่องคอมพิวเตอร์".into(),
        description_en: Some("AC power adapter for computers".into()),
        brand: "PowerOne".into(),
        model: format!("PA-{n}W"),
        manufacturer: Manufacturer {
            name: "Shenzhen PowerOne Electronics Co., Ltd.".into(),
            country: Country::parse("CN").unwrap(),
        },
        country_of_origin: Country::parse("CN").unwrap(),
        quantity: Quantity::parse("120", "C62").unwrap(),
        standard: Some("มอก. 2432-2555".into()),
        licence_number: Some(format!("IL-2567-{n:05}")),
        special_purpose: None,
        test_report: None,
    };
    InboundDocument::ImportPermitRequest(ImportPermitRequest {
        reference: ReferenceNumber::parse("PO-2569/0001").unwrap(),
        function: Function::Original,
        request_type: RequestType::Licensed,
        importer: Importer {
            tax_number: "0105536112014".into(),
            branch: Branch::parse("00000").unwrap(),
            name: "บริษัท สยามอิเล็กทรอนิกส์ จำกัด".into(),
            name_en: Some("Siam Electronics Co., Ltd.".into()),
        },
        agent: None,
        shipment: Shipment {
            arrival_date: date("2026-12-15"),
            transport_mode: TransportMode::Sea,
            load_port: Port::parse("CNSHA").unwrap(),
            discharge_port: Port::parse("THLCH").unwrap(),
            country_of_destination: Country::parse("TH").unwrap(),
        },
        invoice: Invoice {
            number: "INV-88123".into(),
            date: date("2026-11-20"),
        },
        items: (1..=items).map(item).collect(),
    })
}

fn header() -> MessageHeader {
    MessageHeader {
        from: PartyId::new("NSW"),
        to: PartyId::new("TISI"),
        cpa_id: "NSW-TISI-CPA-01".into(),
        conversation_id: "conv-1".into(),
        service: Service::new(SERVICE_PERMIT),
        action: "ImportPermitRequest".into(),
        message_id: "0b6f3c1e-6a55-4d0c-9b1e-5f0e7c2d9a11@nsw.go.th".into(),
        timestamp: DateTime::parse_from_rfc3339("2026-11-26T08:00:00+07:00").unwrap(),
        ref_to_message_id: None,
        time_to_live: None,
        duplicate_elimination: true,
    }
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
            let m = build_request(&header(), &request(n), packaging, opts);
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

    // Where the time goes, for the 5-item inline request.
    let opts = RequestOptions {
        ack_requested: true,
        sync_reply: true,
        tis620: false,
    };
    let m = build_request(&header(), &request(5), Packaging::Inline, opts);
    let soap = String::from_utf8(m.body.clone()).unwrap();
    let payload = encode_inbound(&request(5));
    let mut g = c.benchmark_group("parts");
    g.bench_function("parse_envelope, 5 items inline", |b| {
        b.iter(|| parse_envelope(&soap))
    });
    g.bench_function("scan, 5 items inline", |b| b.iter(|| scan(&soap, &limits)));
    g.bench_function("decode_inbound, 5 items", |b| {
        b.iter(|| decode_inbound(&payload))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
