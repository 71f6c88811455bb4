//! Shared fixtures of the benches (included with `#[path]`, not a bench of its own).

use chrono::{DateTime, FixedOffset, NaiveDate};

use nsw_gateway::domain::{
    Branch, Country, Function, GoodsItem, HsCode, ImportPermitRequest, Importer, InboundDocument,
    Invoice, Manufacturer, Port, Quantity, ReferenceNumber, RequestType, Shipment, TransportMode,
};
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

/// The header of the intake's fixture message.
#[allow(dead_code)]
pub fn intake_header() -> MessageHeader {
    MessageHeader {
        conversation_id: "conv-1".into(),
        message_id: "0b6f3c1e-6a55-4d0c-9b1e-5f0e7c2d9a11@nsw.go.th".into(),
        ..header("intake")
    }
}

#[allow(dead_code)]
pub fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// An ImportPermitRequest of `items` licensed goods items (the intake's fixture).
#[allow(dead_code)]
pub fn request(items: u16) -> InboundDocument {
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
