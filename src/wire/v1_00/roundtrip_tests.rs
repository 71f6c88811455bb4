//! Property tests: every domain document survives domain → XML → domain unchanged, and every
//! document the encoder writes validates against `schemas/` with xmllint.

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, TimeZone};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

use crate::domain::*;
use crate::wire::payload::{
    decode_inbound, decode_outbound, encode_inbound, encode_outbound, root_name_inbound,
    root_name_outbound, tests::xmllint,
};

// ------------------------------------------------------------------------------ values

/// Characters of generated text: Thai letters, vowels and tone marks, ASCII, XML specials.
const CHARS: &[char] = &[
    'ก', 'ข', 'ค', 'ง', 'จ', 'ช', 'ด', 'ต', 'ท', 'น', 'บ', 'ป', 'ม', 'ย', 'ร', 'ล', 'ว', 'ส', 'ห',
    'อ', 'ะ', 'า', 'ำ', 'ิ', 'ี', 'ึ', 'ุ', 'ู', 'เ', 'แ', 'โ', '่', '้', '๊', '๋', '์', '๑', '๒', 'a', 'B',
    'z', 'Q', '0', '7', '9', ' ', ' ', '-', '/', '.', ',', '(', ')', '<', '&', '>', '"', '\'', ';',
    '#', '€', '😀',
];

/// Whitespace-collapsed, non-empty text of 1..=max characters.
fn text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(CHARS), 1..=max).prop_map(|cs| {
        let s: String = cs.into_iter().collect();
        let collapsed = s
            .split(' ')
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        if collapsed.is_empty() {
            "ก".to_owned()
        } else {
            collapsed
        }
    })
}

fn digits(n: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(0u8..10, n)
        .prop_map(|d| d.into_iter().map(|d| char::from(b'0' + d)).collect())
}

fn tax_number() -> impl Strategy<Value = TaxNumber> {
    prop::collection::vec(0u8..10, 12).prop_map(|d| {
        let check = TaxNumber::check_digit(&d);
        let s: String = d
            .iter()
            .chain(std::iter::once(&check))
            .map(|d| char::from(b'0' + d))
            .collect();
        TaxNumber::parse(&s).expect("valid by construction")
    })
}

fn branch() -> impl Strategy<Value = Branch> {
    (0u32..100_000).prop_map(|b| Branch::parse(&format!("{b:05}")).expect("5 digits"))
}

fn party() -> impl Strategy<Value = PartyKey> {
    (tax_number(), branch()).prop_map(|(tax_number, branch)| PartyKey { tax_number, branch })
}

fn hs_code() -> impl Strategy<Value = HsCode> {
    prop_oneof![digits(8), digits(11)].prop_map(|s| HsCode::parse(&s).expect("digits"))
}

fn country() -> impl Strategy<Value = Country> {
    "[A-Z]{2}".prop_filter_map("an assigned code", |s| Country::parse(&s).ok())
}

fn port() -> impl Strategy<Value = Port> {
    (country(), "[A-Z2-9]{3}")
        .prop_map(|(c, p)| Port::parse(&format!("{c}{p}")).expect("UN/LOCODE"))
}

/// A discharge port of an import: in Thailand.
fn thai_port() -> impl Strategy<Value = Port> {
    "TH[A-Z2-9]{3}".prop_map(|p| Port::parse(&p).expect("UN/LOCODE"))
}

fn unit() -> impl Strategy<Value = UnitCode> {
    "[A-Z0-9]{2,3}".prop_map(|s| UnitCode::parse(&s).expect("unit"))
}

fn amount(min: u64) -> impl Strategy<Value = Amount> {
    prop_oneof![
        (min..=1000u64),
        (min..=Amount::MAX.milli()),
        (min.max(1)..=999_999_999u64).prop_map(|i| i * 1000),
    ]
    .prop_map(Amount::from_milli)
}

fn quantity(min: u64) -> impl Strategy<Value = Quantity> {
    (amount(min), unit()).prop_map(|(amount, unit)| Quantity { amount, unit })
}

fn date() -> impl Strategy<Value = NaiveDate> {
    let first = NaiveDate::from_ymd_opt(1900, 1, 1).expect("date");
    let last = NaiveDate::from_ymd_opt(2399, 12, 31).expect("date");
    (0..=(last - first).num_days()).prop_map(move |d| first + Duration::days(d))
}

fn date_time() -> impl Strategy<Value = DateTime<FixedOffset>> {
    (
        NaiveDate::from_ymd_opt(1901, 1, 1)
            .expect("date")
            .and_hms_opt(0, 0, 0)
            .expect("time")
            .and_utc()
            .timestamp()
            ..NaiveDate::from_ymd_opt(2399, 12, 30)
                .expect("date")
                .and_hms_opt(0, 0, 0)
                .expect("time")
                .and_utc()
                .timestamp(),
        prop_oneof![
            Just(0u32),
            (0u32..1000).prop_map(|ms| ms * 1_000_000),
            0u32..1_000_000_000
        ],
        -14 * 60..=14 * 60i32,
    )
        .prop_map(|(secs, nanos, offset_min)| {
            FixedOffset::east_opt(offset_min * 60)
                .expect("offset within a day")
                .timestamp_opt(secs, nanos)
                .single()
                .expect("a real instant")
        })
}

fn reference() -> impl Strategy<Value = ReferenceNumber> {
    text(35).prop_map(|s| ReferenceNumber::parse(&s).expect("an..35"))
}

fn permit_number() -> impl Strategy<Value = PermitNumber> {
    (2400u16..=9999, 1u32..=PermitNumber::MAX_SERIAL)
        .prop_map(|(y, s)| PermitNumber::new(y, s).expect("valid"))
}

fn standard_ref() -> impl Strategy<Value = StandardRef> {
    (
        1u32..=999_999,
        prop::option::of((1u32..100, prop::collection::vec(1u32..100, 0..3))),
        2400u16..=2700,
    )
        .prop_map(|(number, part, edition_be)| StandardRef {
            number,
            part: part.map(|(head, groups)| {
                let mut p = head.to_string();
                for g in groups {
                    p.push_str(&format!("({g})"));
                }
                p
            }),
            edition_be,
        })
}

fn reason() -> impl Strategy<Value = Reason> {
    (
        prop::sample::select(ReasonCode::ALL.to_vec()),
        text(60),
        text(120),
        text(120),
    )
        .prop_map(|(code, field, message_th, message_en)| Reason {
            code,
            field,
            message_th,
            message_en,
        })
}

fn reasons() -> impl Strategy<Value = Vec<Reason>> {
    prop::collection::vec(reason(), 0..3)
}

/// `n` distinct numbers in 1..=999, starting anywhere.
fn distinct_numbers(start: u16, n: usize) -> impl Iterator<Item = u16> {
    (0..n).map(move |i| ((usize::from(start) + i * 13) % 999 + 1) as u16)
}

fn permit() -> impl Strategy<Value = Permit> {
    (
        (permit_number(), date(), date(), date(), date()),
        (text(35), date(), port(), port(), country()),
    )
        .prop_map(
            |(
                (number, issue_date, effective_date, expiry_date, arrival_date),
                (invoice_number, invoice_date, load_port, discharge_port, country_of_destination),
            )| Permit {
                number,
                issue_date,
                effective_date,
                expiry_date,
                arrival_date,
                invoice_number,
                invoice_date,
                load_port,
                discharge_port,
                country_of_destination,
            },
        )
}

// ------------------------------------------------------------------------------ documents

fn goods_item() -> impl Strategy<Value = GoodsItem> {
    (
        (
            1u16..=9999,
            hs_code(),
            text(80),
            prop::option::of(text(80)),
            text(70),
            text(70),
        ),
        (text(100), country(), country(), quantity(1)),
        (
            prop::option::of(text(70)),
            prop::option::of(text(35)),
            prop::option::of(text(35)),
            prop::option::of((text(35), text(35), date())),
        ),
    )
        .prop_map(
            |(
                (invoice_item_number, hs_code, description, description_en, brand, model),
                (m_name, m_country, country_of_origin, quantity),
                (standard, licence_number, special_purpose, test_report),
            )| GoodsItem {
                item_number: 0,
                invoice_item_number,
                hs_code,
                description,
                description_en,
                brand,
                model,
                manufacturer: Manufacturer {
                    name: m_name,
                    country: m_country,
                },
                country_of_origin,
                quantity,
                standard,
                licence_number,
                special_purpose,
                test_report: test_report.map(|(lab_id, report_number, issue_date)| TestReport {
                    lab_id,
                    report_number,
                    issue_date,
                }),
            },
        )
}

fn import_permit_request() -> impl Strategy<Value = ImportPermitRequest> {
    (
        (
            reference(),
            prop::sample::select(vec![
                Function::Original,
                Function::Replacement,
                Function::Cancellation,
            ]),
            prop::sample::select(vec![RequestType::Licensed, RequestType::Special]),
        ),
        (digits(13), branch(), text(100), prop::option::of(text(100))),
        prop::option::of((tax_number(), branch(), text(100))),
        (
            date(),
            prop::sample::select(vec![
                TransportMode::Sea,
                TransportMode::Rail,
                TransportMode::Road,
                TransportMode::Air,
                TransportMode::Post,
            ]),
            port(),
            thai_port(),
        ),
        (text(35), date()),
        (0u16..999, prop::collection::vec(goods_item(), 1..5)),
    )
        .prop_map(
            |(
                (reference, function, request_type),
                (tax, branch, name, name_en),
                agent,
                (arrival_date, transport_mode, load_port, discharge_port),
                (inv_number, inv_date),
                (start, mut items),
            )| {
                for (it, n) in items.iter_mut().zip(distinct_numbers(start, 999)) {
                    it.item_number = n;
                }
                ImportPermitRequest {
                    reference,
                    function,
                    request_type,
                    importer: Importer {
                        tax_number: tax,
                        branch,
                        name,
                        name_en,
                    },
                    agent: agent.map(|(tax_number, branch, name)| Agent {
                        tax_number,
                        branch,
                        name,
                    }),
                    shipment: Shipment {
                        arrival_date,
                        transport_mode,
                        load_port,
                        discharge_port,
                        country_of_destination: Country::TH,
                    },
                    invoice: Invoice {
                        number: inv_number,
                        date: inv_date,
                    },
                    items,
                }
            },
        )
}

fn declaration_check() -> impl Strategy<Value = DeclarationCheck> {
    let line = (
        (
            permit_number(),
            date(),
            tax_number(),
            text(35),
            date(),
            1u16..=9999,
        ),
        (hs_code(), quantity(1), port(), port(), country()),
    );
    (
        text(35),
        date(),
        party(),
        date(),
        0u16..999,
        prop::collection::vec(line, 1..5),
    )
        .prop_map(
            |(declaration_number, declaration_date, importer, arrival_date, start, lines)| {
                DeclarationCheck {
                    declaration_number,
                    declaration_date,
                    importer,
                    arrival_date,
                    lines: lines
                        .into_iter()
                        .zip(distinct_numbers(start, 999))
                        .map(
                            |(
                                (
                                    (
                                        permit_number,
                                        permit_issue_date,
                                        issuing,
                                        invoice_number,
                                        invoice_date,
                                        inv_item,
                                    ),
                                    (
                                        hs_code,
                                        quantity,
                                        load_port,
                                        discharge_port,
                                        country_of_origin,
                                    ),
                                ),
                                line_number,
                            )| DeclarationLine {
                                line_number,
                                permit_number,
                                permit_issue_date,
                                issuing_authority_tax_number: issuing,
                                invoice_number,
                                invoice_date,
                                invoice_item_number: inv_item,
                                hs_code,
                                quantity,
                                load_port,
                                discharge_port,
                                country_of_origin,
                            },
                        )
                        .collect(),
                }
            },
        )
}

fn declaration_amendment() -> impl Strategy<Value = DeclarationAmendment> {
    text(35).prop_map(|declaration_number| DeclarationAmendment {
        declaration_number,
        action: AmendmentAction::Cancel,
    })
}

fn permit_status_query() -> impl Strategy<Value = PermitStatusQuery> {
    prop_oneof![
        permit_number().prop_map(PermitStatusQuery::ByPermit),
        (party(), reference()).prop_map(|(importer, reference)| PermitStatusQuery::ByReference {
            importer,
            reference
        }),
    ]
}

pub(super) fn inbound() -> impl Strategy<Value = InboundDocument> {
    prop_oneof![
        import_permit_request().prop_map(InboundDocument::ImportPermitRequest),
        declaration_check().prop_map(InboundDocument::DeclarationCheck),
        declaration_amendment().prop_map(InboundDocument::DeclarationAmendment),
        permit_status_query().prop_map(InboundDocument::PermitStatusQuery),
    ]
}

fn item_status() -> impl Strategy<Value = ItemStatus> {
    prop::sample::select(vec![
        ItemStatus::Approved,
        ItemStatus::HoldForInspection,
        ItemStatus::UnderReview,
        ItemStatus::Rejected,
        ItemStatus::NotRequired,
    ])
}

fn request_decision() -> impl Strategy<Value = RequestDecision> {
    prop::sample::select(vec![
        RequestDecision::Approved,
        RequestDecision::HoldForInspection,
        RequestDecision::UnderReview,
        RequestDecision::Rejected,
        RequestDecision::NotRequired,
        RequestDecision::Cancelled,
    ])
}

fn import_permit_response() -> impl Strategy<Value = ImportPermitResponse> {
    let item = (
        (1u16..=9999, hs_code(), country(), item_status()),
        (
            prop::option::of(standard_ref()),
            prop::option::of(quantity(1)),
            reasons(),
        ),
    );
    (
        (
            reference(),
            prop::sample::select(vec![
                Function::Original,
                Function::Replacement,
                Function::Cancellation,
            ]),
        ),
        (text(64), date_time(), tax_number(), text(100)),
        (
            digits(13),
            branch(),
            request_decision(),
            prop::option::of(permit()),
        ),
        (0u16..999, prop::collection::vec(item, 1..5)),
    )
        .prop_map(
            |(
                (reference, function),
                (request_id, decided_at, ia_tax, ia_name),
                (importer_tax_number, importer_branch, decision, permit),
                (start, items),
            )| ImportPermitResponse {
                reference,
                function,
                request_id,
                decided_at,
                issuing_authority_tax_number: ia_tax,
                issuing_authority_name: ia_name,
                importer_tax_number,
                importer_branch,
                decision,
                permit,
                items: items
                    .into_iter()
                    .zip(distinct_numbers(start, 999))
                    .map(
                        |(
                            (
                                (invoice_item_number, hs_code, country_of_origin, status),
                                (standard, approved_quantity, reasons),
                            ),
                            item_number,
                        )| ItemResult {
                            item_number,
                            invoice_item_number,
                            hs_code,
                            country_of_origin,
                            status,
                            standard,
                            approved_quantity,
                            reasons,
                        },
                    )
                    .collect(),
            },
        )
}

fn declaration_check_response() -> impl Strategy<Value = DeclarationCheckResponse> {
    let line = (
        prop::sample::select(vec![
            LineResult::Matched,
            LineResult::Mismatch,
            LineResult::PermitNotFound,
            LineResult::PermitNotValid,
            LineResult::QuantityExceeded,
            LineResult::Hold,
        ]),
        prop::option::of(quantity(0)),
        reasons(),
    );
    (
        text(35),
        prop::sample::select(vec![
            DeclarationResult::Accepted,
            DeclarationResult::Refused,
            DeclarationResult::Hold,
        ]),
        0u16..999,
        prop::collection::vec(line, 1..5),
    )
        .prop_map(
            |(declaration_number, result, start, lines)| DeclarationCheckResponse {
                declaration_number,
                result,
                lines: lines
                    .into_iter()
                    .zip(distinct_numbers(start, 999))
                    .map(
                        |((result, remaining, reasons), line_number)| DeclarationLineResult {
                            line_number,
                            result,
                            remaining,
                            reasons,
                        },
                    )
                    .collect(),
            },
        )
}

fn declaration_amendment_response() -> impl Strategy<Value = DeclarationAmendmentResponse> {
    (
        text(35),
        prop::sample::select(vec![
            AmendmentResult::Restored,
            AmendmentResult::UnknownDeclaration,
        ]),
    )
        .prop_map(
            |(declaration_number, result)| DeclarationAmendmentResponse {
                declaration_number,
                result,
            },
        )
}

fn actor() -> impl Strategy<Value = Actor> {
    prop_oneof![
        Just(Actor::System),
        Just(Actor::Customs),
        "[a-z0-9._-]{1,20}".prop_map(Actor::Officer),
    ]
}

fn permit_status_response() -> impl Strategy<Value = PermitStatusResponse> {
    let item = (
        1u16..=9999,
        item_status(),
        unit(),
        amount(0),
        amount(0),
        amount(0),
    );
    let entry = (
        date_time(),
        actor(),
        text(64),
        prop::option::of(text(120)),
        prop::option::of(text(120)),
    )
        .prop_map(|(at, actor, state, th, en)| HistoryEntry {
            at,
            actor,
            state,
            reason_th: th.unwrap_or_default(),
            reason_en: en.unwrap_or_default(),
        });
    (
        prop::sample::select(vec![StatusQueryResult::Found, StatusQueryResult::NotFound]),
        (
            prop::option::of(reference()),
            prop::option::of(text(64)),
            prop::option::of(request_decision()),
        ),
        prop::option::of(permit()),
        (0u16..999, prop::collection::vec(item, 0..4)),
        prop::collection::vec(entry, 0..4),
    )
        .prop_map(
            |(result, (reference, request_id, decision), permit, (start, items), history)| {
                PermitStatusResponse {
                    result,
                    reference,
                    request_id,
                    decision,
                    permit,
                    items: items
                        .into_iter()
                        .zip(distinct_numbers(start, 999))
                        .map(
                            |(
                                (
                                    invoice_item_number,
                                    status,
                                    unit,
                                    approved,
                                    written_off,
                                    remaining,
                                ),
                                item_number,
                            )| {
                                ItemQuantities {
                                    item_number,
                                    invoice_item_number,
                                    status,
                                    unit,
                                    approved,
                                    written_off,
                                    remaining,
                                }
                            },
                        )
                        .collect(),
                    history,
                }
            },
        )
}

pub(super) fn outbound() -> impl Strategy<Value = OutboundDocument> {
    prop_oneof![
        import_permit_response().prop_map(OutboundDocument::ImportPermitResponse),
        declaration_check_response().prop_map(OutboundDocument::DeclarationCheckResponse),
        declaration_amendment_response().prop_map(OutboundDocument::DeclarationAmendmentResponse),
        permit_status_response().prop_map(OutboundDocument::PermitStatusResponse),
    ]
}

// ------------------------------------------------------------------------------ tests

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn inbound_documents_round_trip(doc in inbound()) {
        let xml = encode_inbound(&doc);
        match decode_inbound(&xml) {
            Ok(back) => prop_assert_eq!(back, doc, "{}", xml),
            Err(e) => prop_assert!(false, "{:#?}\n{}", e, xml),
        }
    }

    #[test]
    fn outbound_documents_round_trip(doc in outbound()) {
        let xml = encode_outbound(&doc);
        match decode_outbound(&xml) {
            Ok(back) => prop_assert_eq!(back, doc, "{}", xml),
            Err(e) => prop_assert!(false, "{:#?}\n{}", e, xml),
        }
    }
}

/// Samples of a strategy, deterministic from proptest's default seed.
fn samples<T: std::fmt::Debug>(s: impl Strategy<Value = T>, n: usize) -> Vec<T> {
    let mut runner = TestRunner::deterministic();
    (0..n)
        .map(|_| {
            s.new_tree(&mut runner)
                .expect("strategy produces values")
                .current()
        })
        .collect()
}

#[test]
fn every_encoded_document_validates_against_the_schemas() {
    const PER_KIND: usize = 12;
    let mut by_root: std::collections::BTreeMap<&str, Vec<(String, String)>> = Default::default();
    let inbound_docs = [
        samples(
            import_permit_request().prop_map(InboundDocument::ImportPermitRequest),
            PER_KIND,
        ),
        samples(
            declaration_check().prop_map(InboundDocument::DeclarationCheck),
            PER_KIND,
        ),
        samples(
            declaration_amendment().prop_map(InboundDocument::DeclarationAmendment),
            PER_KIND,
        ),
        samples(
            permit_status_query().prop_map(InboundDocument::PermitStatusQuery),
            PER_KIND,
        ),
    ];
    for doc in inbound_docs.iter().flatten() {
        let root = root_name_inbound(doc);
        let v = by_root.entry(root).or_default();
        v.push((format!("{root}-{}.xml", v.len()), encode_inbound(doc)));
    }
    let outbound_docs = [
        samples(
            import_permit_response().prop_map(OutboundDocument::ImportPermitResponse),
            PER_KIND,
        ),
        samples(
            declaration_check_response().prop_map(OutboundDocument::DeclarationCheckResponse),
            PER_KIND,
        ),
        samples(
            declaration_amendment_response()
                .prop_map(OutboundDocument::DeclarationAmendmentResponse),
            PER_KIND,
        ),
        samples(
            permit_status_response().prop_map(OutboundDocument::PermitStatusResponse),
            PER_KIND,
        ),
    ];
    for doc in outbound_docs.iter().flatten() {
        let root = root_name_outbound(doc);
        let v = by_root.entry(root).or_default();
        v.push((format!("{root}-{}.xml", v.len()), encode_outbound(doc)));
    }
    assert_eq!(by_root.len(), 8);
    for (root, docs) in &by_root {
        let failed = xmllint(root, docs);
        assert!(
            failed.is_empty(),
            "schema rejects what the encoder wrote: {failed:#?}"
        );
    }
}

#[test]
fn decoded_examples_encode_to_schema_valid_documents() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/examples");
    let mut docs = Vec::new();
    for name in [
        "ImportPermitRequest",
        "DeclarationCheck",
        "DeclarationAmendment",
        "PermitStatusQuery",
    ] {
        let xml = std::fs::read_to_string(dir.join(format!("valid-{name}.xml"))).expect("example");
        let doc = decode_inbound(&xml).expect("valid example decodes");
        let again = encode_inbound(&doc);
        assert_eq!(decode_inbound(&again).expect("re-encoded decodes"), doc);
        docs.push((name, again));
    }
    for name in [
        "ImportPermitResponse",
        "DeclarationCheckResponse",
        "DeclarationAmendmentResponse",
        "PermitStatusResponse",
    ] {
        let xml = std::fs::read_to_string(dir.join(format!("valid-{name}.xml"))).expect("example");
        let doc = decode_outbound(&xml).expect("valid example decodes");
        let again = encode_outbound(&doc);
        assert_eq!(decode_outbound(&again).expect("re-encoded decodes"), doc);
        docs.push((name, again));
    }
    for (name, xml) in docs {
        assert!(
            xml.starts_with(&format!("<{name} xmlns=\"urn:th:tisi:nsw:permit:1_00\">")),
            "{xml}"
        );
        let failed = xmllint(name, &[(format!("{name}.xml"), xml)]);
        assert!(failed.is_empty(), "{failed:#?}");
    }
}
