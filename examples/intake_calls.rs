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

use chrono::{DateTime, NaiveDate};

use nsw_gateway::domain::{
    Branch, Country, Function, GoodsItem, HsCode, ImportPermitRequest, Importer, InboundDocument,
    Invoice, Manufacturer, Port, Quantity, ReferenceNumber, RequestType, Shipment, TransportMode,
};
use nsw_gateway::wire::envelope::{MessageHeader, PartyId, Service, SERVICE_PERMIT};
use nsw_gateway::wire::intake::{intake, intake_full, Limits, Packaging};
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
    let m = build_request(&header(), &request(items), packaging, opts);
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
