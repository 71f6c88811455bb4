//! Decision time for a 5-item LICENSED request against a 1,000,000-licence snapshot.
//!
//! `cargo bench --bench decide -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use chrono::NaiveDate;
use criterion::{criterion_group, criterion_main, Criterion};

use nsw_gateway::domain::engine::{decide, NoUsage};
use nsw_gateway::domain::snapshot::{synthetic_refdata, Snapshot};
use nsw_gateway::domain::{
    Country, Function, GoodsItem, HsCode, ImportPermitRequest, Importer, Invoice, Manufacturer,
    Port, Quantity, ReferenceNumber, RequestDecision, RequestType, Shipment, TransportMode,
};

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

fn bench_decide(c: &mut Criterion) {
    let snap = Snapshot::build(synthetic_refdata(1_000_000)).expect("consistent data");
    // Licences 1, 20001, … share holder and standard in the synthetic set.
    let numbers: Vec<String> = (0..5)
        .map(|k| {
            let i = 1 + k * 20_000;
            format!("IL-{:07}/{}", i, 2560 + i % 10)
        })
        .collect();
    let first = snap.licence(&numbers[0]).expect("licence");
    let holder = first.holder();
    let items: Vec<GoodsItem> = numbers
        .iter()
        .enumerate()
        .map(|(k, n)| {
            let l = snap.licence(n).expect("licence");
            assert_eq!(l.holder(), holder);
            GoodsItem {
                item_number: k as u16 + 1,
                invoice_item_number: k as u16 + 1,
                hs_code: HsCode::parse("85011010").expect("hs"),
                description: "มอเตอร์".into(),
                description_en: Some("Motor".into()),
                brand: l.brands().next().expect("brand").to_owned(),
                model: l.models().next().expect("model").to_owned(),
                manufacturer: Manufacturer {
                    name: l.manufacturer().to_owned(),
                    country: l.manufacturer_country(),
                },
                country_of_origin: Country::parse("CN").expect("country"),
                quantity: Quantity::parse("100", "C62").expect("quantity"),
                standard: Some(l.standard().reference.canonical()),
                licence_number: Some(n.clone()),
                special_purpose: None,
                test_report: None,
            }
        })
        .collect();
    let req = ImportPermitRequest {
        reference: ReferenceNumber::parse("PO-BENCH-1").expect("reference"),
        function: Function::Original,
        request_type: RequestType::Licensed,
        importer: Importer {
            tax_number: holder.tax_number.to_string(),
            branch: holder.branch,
            name: "บริษัท ตัวอย่าง จำกัด".into(),
            name_en: None,
        },
        agent: None,
        shipment: Shipment {
            arrival_date: date("2026-12-15"),
            transport_mode: TransportMode::Sea,
            load_port: Port::parse("CNSHA").expect("port"),
            discharge_port: Port::parse("THLCH").expect("port"),
            country_of_destination: Country::TH,
        },
        invoice: Invoice {
            number: "INV-1".into(),
            date: date("2026-11-20"),
        },
        items,
    };
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
