//! `POST /ebms` over real HTTP: every action, both packagings, both reply modes, the error rows
//! of spec §1.2, duplicates and write-off races under concurrency.

use nsw_gateway::domain::OutboundDocument;
use nsw_gateway::wire::envelope::{AckActor, MessageHeader, PartyId};
use nsw_gateway::wire::intake::Packaging;
use nsw_gateway::wire::reply::{Built, RequestOptions};

use crate::helpers::{backends, identity, spawn_app, spawn_app_with, Backend, Options, Security};
use crate::messages::*;

const PACKAGINGS: [Packaging; 2] = [Packaging::Inline, Packaging::Multipart];

#[tokio::test]
async fn ping_is_answered_with_pong() {
    let app = spawn_app().await;
    let h = header("Ping");
    let a = app
        .post(&nsw_gateway::wire::reply::build_ping(&h, true))
        .await;
    assert_eq!(a.status, 200, "{}", a.text());
    let r = a.reply();
    assert_eq!(r.header.action, "Pong");
    assert_eq!(
        r.header.ref_to_message_id.as_deref(),
        Some(h.message_id.as_str())
    );
    assert_eq!(r.header.from.id, "TISI");
    assert_eq!(r.header.to.id, "NSW");
    assert_eq!(r.acknowledgment, None, "no acknowledgment was requested");

    // With eb:AckRequested the Pong acknowledges the Ping.
    let h = header("Ping");
    let mut ping = nsw_gateway::wire::reply::build_ping(&h, true);
    let text = String::from_utf8(ping.body).unwrap().replace(
        "</SOAP:Header>",
        "<eb:AckRequested SOAP:mustUnderstand=\"1\" eb:version=\"2.0\" \
         SOAP:actor=\"urn:oasis:names:tc:ebxml-msg:actor:toPartyMSH\" eb:signed=\"false\"/>\
         </SOAP:Header>",
    );
    ping.body = text.into_bytes();
    let a = app.post(&ping).await;
    assert_eq!(a.status, 200, "{}", a.text());
    let r = a.reply();
    assert_eq!(r.header.action, "Pong");
    assert_eq!(
        r.acknowledgment.map(|a| a.ref_to_message_id),
        Some(h.message_id.clone())
    );
}

/// An Acknowledgment names the SOAP actor the AckRequested it answers named (ebMS 2.0):
/// nextMSH or toPartyMSH, and toPartyMSH when the request named none. For a Ping, a request
/// answered on the connection, and one answered later (the Acknowledgment alone now).
#[tokio::test]
async fn the_acknowledgment_names_the_actor_of_the_ack_request() {
    const TO_PARTY: &str = "urn:oasis:names:tc:ebxml-msg:actor:toPartyMSH";
    const NEXT: &str = "urn:oasis:names:tc:ebxml-msg:actor:nextMSH";
    let app = spawn_app().await;
    let check = |kind: &str, actor: Option<&str>, want: AckActor| {
        let app = &app;
        let (kind, actor) = (kind.to_string(), actor.map(str::to_string));
        async move {
            let h = header(if kind == "ping" {
                "Ping"
            } else {
                "ImportPermitRequest"
            });
            let mut msg = match kind.as_str() {
                "ping" => nsw_gateway::wire::reply::build_ping(&h, true),
                _ => request(
                    &h,
                    &permit_request(
                        &format!(
                            "REF-ACTOR-{}",
                            &uuid::Uuid::new_v4().simple().to_string()[..12]
                        ),
                        LICENCE_OK,
                        1,
                    ),
                    Packaging::Inline,
                    RequestOptions {
                        ack_requested: false,
                        sync_reply: kind == "sync",
                        tis620: false,
                    },
                ),
            };
            let attr = actor
                .as_deref()
                .map_or(String::new(), |a| format!(" SOAP:actor=\"{a}\""));
            msg.body = String::from_utf8(msg.body)
                .unwrap()
                .replace(
                    "</SOAP:Header>",
                    &format!(
                        "<eb:AckRequested SOAP:mustUnderstand=\"1\" eb:version=\"2.0\"{attr} \
                         eb:signed=\"false\"/></SOAP:Header>"
                    ),
                )
                .into_bytes();
            let a = app.post(&msg).await;
            assert!(a.status == 200 || a.status == 202, "{kind}: {}", a.text());
            let ack = a.reply().acknowledgment.expect("an acknowledgment");
            assert_eq!(ack.ref_to_message_id, h.message_id, "{kind}");
            assert_eq!(ack.actor, want, "{kind} {actor:?}");
            let uri = want.uri();
            assert!(
                a.text().contains(&format!("SOAP:actor=\"{uri}\">")),
                "{kind}: {}",
                a.text()
            );
        }
    };
    for kind in ["ping", "sync", "async"] {
        check(kind, Some(NEXT), AckActor::NextMsh).await;
        check(kind, Some(TO_PARTY), AckActor::ToPartyMsh).await;
        check(kind, None, AckActor::ToPartyMsh).await;
    }
}

/// The NSW's error message about a message the gateway sent is taken note of, never answered
/// with an error of its own.
#[tokio::test]
async fn a_message_error_from_the_nsw_gets_an_empty_200() {
    let app = spawn_app().await;
    let mut sent = header("ImportPermitResponse");
    std::mem::swap(&mut sent.from, &mut sent.to);
    let errors = [nsw_gateway::wire::EbmsError::new(
        nsw_gateway::wire::ErrorCode::ValueNotRecognized,
        "/ImportPermitResponse/Decision",
        "not a decision the NSW knows",
    )];
    let error = nsw_gateway::wire::reply::build_error_list(
        Some(&sent),
        &errors,
        format!("err-{}@nsw", uuid::Uuid::new_v4()),
        chrono::Utc::now(),
        "NSW",
    );
    let a = app.post(&error).await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert!(a.body.is_empty(), "{}", a.text());
}

#[tokio::test]
async fn import_permit_request_with_sync_reply_in_both_packagings() {
    for backend in backends() {
        import_permit_request_with_sync_reply_in_both_packagings_on(backend).await;
    }
}

async fn import_permit_request_with_sync_reply_in_both_packagings_on(backend: Backend) {
    let app = spawn_app_with(Options {
        backend: Some(backend),
        ..Options::default()
    })
    .await;
    for (i, packaging) in PACKAGINGS.into_iter().enumerate() {
        let h = header("ImportPermitRequest");
        let payload = permit_request(&format!("REF-SYNC-{i}"), LICENCE_OK, 100);
        let a = app
            .post(&request(&h, &payload, packaging, sync_ack()))
            .await;
        assert_eq!(a.status, 200, "{}", a.text());
        let r = a.reply();
        assert_eq!(
            r.packaging, packaging,
            "the reply uses the request's packaging"
        );
        assert_eq!(r.header.action, "ImportPermitResponse");
        assert_eq!(r.header.conversation_id, h.conversation_id);
        assert_eq!(
            r.header.ref_to_message_id.as_deref(),
            Some(h.message_id.as_str())
        );
        assert_eq!(
            (r.header.from.id.as_str(), r.header.to.id.as_str()),
            ("TISI", "NSW")
        );
        let ack = r.acknowledgment.as_ref().expect("acknowledgment requested");
        assert_eq!(ack.ref_to_message_id, h.message_id);
        let resp = a.permit_response();
        assert_eq!(resp.decision.code(), "APPROVED");
        assert_eq!(
            resp.issuing_authority_tax_number.to_string(),
            app.settings.gateway.issuer_tax_number.to_string()
        );
        assert!(resp.permit.is_some());
    }
    let metrics = app.client.get(app.admin("/metrics")).send().await.unwrap();
    let text = metrics.text().await.unwrap();
    assert!(
        text.contains(r#"nsw_requests_total{action="ImportPermitRequest",decision="APPROVED"}"#),
        "{text}"
    );
    assert!(
        text.contains(
            r#"nsw_request_duration_seconds_bucket{action="ImportPermitRequest",le="+Inf"}"#
        ),
        "{text}"
    );
}

#[tokio::test]
async fn thai_single_byte_encoded_requests_are_decided() {
    let app = spawn_app().await;
    for (i, packaging) in PACKAGINGS.into_iter().enumerate() {
        let h = header("ImportPermitRequest");
        let opts = RequestOptions {
            tis620: true,
            ..sync_ack()
        };
        let payload = permit_request(&format!("REF-TIS620-{i}"), LICENCE_OK, 2);
        let a = app.post(&request(&h, &payload, packaging, opts)).await;
        assert_eq!(a.status, 200, "{packaging:?}: {}", a.text());
        assert_eq!(a.permit_response().decision.code(), "APPROVED");
    }
}

#[tokio::test]
async fn a_standalone_acknowledgment_is_accepted() {
    let app = spawn_app().await;
    // An acknowledgment the NSW returns for a message the gateway delivered to it.
    let mut delivered = header("ImportPermitResponse");
    delivered.from = nsw_gateway::wire::envelope::PartyId::new("TISI");
    delivered.to = nsw_gateway::wire::envelope::PartyId::new("NSW");
    let ack = nsw_gateway::wire::reply::build_ack_only(
        &delivered,
        AckActor::ToPartyMsh,
        new_id(),
        chrono::Utc::now(),
    );
    let a = app.post(&ack).await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert!(a.body.is_empty());
}

#[tokio::test]
async fn sync_reply_without_ack_request_has_no_acknowledgment() {
    let app = spawn_app().await;
    let h = header("ImportPermitRequest");
    let opts = RequestOptions {
        ack_requested: false,
        sync_reply: true,
        tis620: false,
    };
    let a = app
        .post(&request(
            &h,
            &permit_request("REF-NOACK", LICENCE_OK, 1),
            Packaging::Inline,
            opts,
        ))
        .await;
    assert_eq!(a.status, 200);
    assert!(a.reply().acknowledgment.is_none());
}

#[tokio::test]
async fn a_business_rejection_is_a_200_with_a_rejected_decision() {
    let app = spawn_app().await;
    let a = app
        .send(
            &permit_request("REF-REVOKED", LICENCE_REVOKED, 5),
            Packaging::Inline,
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text());
    let r = a.permit_response();
    assert_eq!(r.decision.code(), "REJECTED");
    assert!(r.permit.is_none());
    let codes: Vec<_> = r.items[0].reasons.iter().map(|x| x.code.code()).collect();
    assert!(codes.contains(&"LICENCE_REVOKED"), "{codes:?}");
}

#[tokio::test]
async fn without_sync_reply_the_answer_is_202_and_the_response_goes_to_the_outbox() {
    for backend in backends() {
        without_sync_reply_the_answer_is_202_and_the_response_goes_to_the_outbox_on(backend).await;
    }
}

async fn without_sync_reply_the_answer_is_202_and_the_response_goes_to_the_outbox_on(
    backend: Backend,
) {
    let app = spawn_app_with(Options {
        backend: Some(backend),
        ..Options::default()
    })
    .await;
    for (ack_requested, packaging) in [(true, Packaging::Multipart), (false, Packaging::Inline)] {
        let h = header("ImportPermitRequest");
        let opts = RequestOptions {
            ack_requested,
            sync_reply: false,
            tis620: false,
        };
        let reference = format!("REF-ASYNC-{ack_requested}");
        let a = app
            .post(&request(
                &h,
                &permit_request(&reference, LICENCE_OK, 3),
                packaging,
                opts,
            ))
            .await;
        assert_eq!(a.status, 202, "{}", a.text());
        if ack_requested {
            let r = a.reply();
            assert_eq!(r.header.action, "Acknowledgment");
            assert!(
                !r.header.duplicate_elimination,
                "never on an Acknowledgment"
            );
            assert_eq!(r.acknowledgment.unwrap().ref_to_message_id, h.message_id);
            assert!(r.payload.is_none());
        } else {
            assert!(a.body.is_empty(), "{}", a.text());
        }
        let outbox = app.outbox(&h.conversation_id).await;
        assert_eq!(outbox.len(), 1, "one delivery for the conversation");
        let (content_type, body, partner) = &outbox[0];
        assert_eq!(partner, "NSW");
        let delivered = nsw_gateway::wire::reply::parse_reply(Some(content_type), body).unwrap();
        assert_eq!(delivered.packaging, packaging);
        assert_eq!(delivered.header.action, "ImportPermitResponse");
        assert_eq!(delivered.header.conversation_id, h.conversation_id);
        assert_eq!(
            delivered.header.ref_to_message_id.as_deref(),
            Some(h.message_id.as_str())
        );
        assert_ne!(delivered.header.message_id, h.message_id);
        match delivered.payload {
            Some(OutboundDocument::ImportPermitResponse(r)) => {
                assert_eq!(r.decision.code(), "APPROVED")
            }
            other => panic!("{other:?}"),
        }
    }
}

/// The lines of one declaration add up per permit item they were matched against, and only
/// when they matched (spec §3.3). The permit repeats invoice item 1 on two items with
/// different HS codes, 10 pieces each.
#[tokio::test]
async fn declaration_lines_add_up_per_matched_permit_item() {
    for backend in backends() {
        declaration_lines_add_up_per_matched_permit_item_on(backend).await;
    }
}

/// A declaration's lines: (invoice item number, HS code, country of origin, quantity).
type Lines<'a> = &'a [(u16, &'a str, &'a str, u32)];

/// A declaration's answer as "RESULT LINE_RESULT …".
fn results(answer: &crate::messages::Answer) -> String {
    match answer.reply().payload {
        Some(OutboundDocument::DeclarationCheckResponse(r)) => std::iter::once(r.result.code())
            .chain(r.lines.iter().map(|l| l.result.code()))
            .collect::<Vec<_>>()
            .join(" "),
        other => panic!("{other:?}"),
    }
}

async fn declaration_lines_add_up_per_matched_permit_item_on(backend: Backend) {
    let app = spawn_app_with(Options {
        backend: Some(backend),
        ..Options::default()
    })
    .await;
    let (a, b) = ("85044090001", "85044090002");
    let answer = app
        .send(
            &permit_request_items("REF-REPEATED-INV", LICENCE_OK, &[(1, a, 10), (1, b, 10)]),
            Packaging::Inline,
        )
        .await;
    let r = answer.permit_response();
    assert_eq!(r.decision.code(), "APPROVED", "{r:?}");
    let permit = r.permit.expect("a permit");
    let issuer = app.settings.gateway.issuer_tax_number.to_string();
    // (the lines; the declaration's result and each line's)
    let cases: &[(Lines, &str)] = &[
        // One line per item, each item's whole quantity; the third line refuses the whole.
        (
            &[(1, a, "CN", 10), (1, b, "CN", 10), (1, a, "VN", 1)],
            "REFUSED MATCHED MATCHED MISMATCH",
        ),
        // A line that did not match takes nothing from the item.
        (
            &[(1, a, "VN", 8), (1, a, "CN", 3)],
            "REFUSED MISMATCH MATCHED",
        ),
        // Lines on one item still add up.
        (
            &[(1, b, "CN", 6), (1, b, "CN", 5)],
            "REFUSED MATCHED QUANTITY_EXCEEDED",
        ),
        (
            &[(1, a, "CN", 10), (1, b, "CN", 10)],
            "ACCEPTED MATCHED MATCHED",
        ),
        // Both are used up.
        (&[(1, b, "CN", 1)], "REFUSED QUANTITY_EXCEEDED"),
    ];
    let mut failures = Vec::new();
    for (i, (lines, expected)) in cases.iter().enumerate() {
        let number = format!("DECL-REPEATED-{i}");
        let answer = app
            .send(
                &declaration_lines(&number, &permit, &issuer, lines),
                Packaging::Inline,
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.text());
        let got = results(&answer);
        if got != *expected {
            failures.push(format!(
                "case {i} ({backend:?}): expected {expected}, got {got}"
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");

    // A line picks the item whose HS code agrees with its own as matching compares them: an
    // 11-digit code on the line, 8 digits on the permit.
    let answer = app
        .send(
            &permit_request_items(
                "REF-REPEATED-INV-8",
                LICENCE_OK,
                &[(1, "85044090", 5), (1, "85044019", 5)],
            ),
            Packaging::Inline,
        )
        .await;
    let r = answer.permit_response();
    assert_eq!(r.decision.code(), "APPROVED", "{r:?}");
    let permit = r.permit.expect("a permit");
    let answer = app
        .send(
            &declaration_lines(
                "DECL-REPEATED-8",
                &permit,
                &issuer,
                &[(1, "85044019000", "CN", 5)],
            ),
            Packaging::Inline,
        )
        .await;
    assert_eq!(results(&answer), "ACCEPTED MATCHED", "{backend:?}");

    // Two items under one invoice item number and HS code: a line takes the first that still
    // has its quantity, so both can be written off.
    let answer = app
        .send(
            &permit_request_items(
                "REF-REPEATED-INV-SAME",
                LICENCE_OK,
                &[(1, "85044090", 10), (1, "85044090", 5)],
            ),
            Packaging::Inline,
        )
        .await;
    let permit = answer.permit_response().permit.expect("a permit");
    for (number, lines, expected) in [
        (
            "DECL-SAME-1",
            &[(1, "85044090", "CN", 10), (1, "85044090", "CN", 5)][..],
            "ACCEPTED MATCHED MATCHED",
        ),
        (
            "DECL-SAME-2",
            &[(1, "85044090", "CN", 1)][..],
            "REFUSED QUANTITY_EXCEEDED",
        ),
    ] {
        let answer = app
            .send(
                &declaration_lines(number, &permit, &issuer, lines),
                Packaging::Inline,
            )
            .await;
        let got = results(&answer);
        assert_eq!(got, expected, "{number} ({backend:?})");
    }
}

#[tokio::test]
async fn declaration_check_amendment_and_status_query() {
    for backend in backends() {
        declaration_check_amendment_and_status_query_on(backend).await;
    }
}

async fn declaration_check_amendment_and_status_query_on(backend: Backend) {
    let app = spawn_app_with(Options {
        backend: Some(backend),
        ..Options::default()
    })
    .await;
    let permit = app.approved_permit("REF-DECL", 10).await;
    let issuer = app.settings.gateway.issuer_tax_number.to_string();
    for packaging in PACKAGINGS {
        let number = format!("DECL-{packaging:?}");
        let a = app
            .send(&declaration_check(&number, &permit, &issuer, 4), packaging)
            .await;
        assert_eq!(a.status, 200, "{}", a.text());
        match a.reply().payload {
            Some(OutboundDocument::DeclarationCheckResponse(r)) => {
                assert_eq!(r.result.code(), "ACCEPTED", "{r:?}");
            }
            other => panic!("{other:?}"),
        }
    }
    // 8 of 10 written off: 4 more do not fit.
    let a = app
        .send(
            &declaration_check("DECL-OVER", &permit, &issuer, 4),
            Packaging::Inline,
        )
        .await;
    match a.reply().payload {
        Some(OutboundDocument::DeclarationCheckResponse(r)) => {
            assert_eq!(r.result.code(), "REFUSED");
            assert_eq!(r.lines[0].result.code(), "QUANTITY_EXCEEDED");
        }
        other => panic!("{other:?}"),
    }
    // Cancelling a declaration restores its quantity; an unknown one is reported.
    for (number, expected) in [
        ("DECL-Inline", "RESTORED"),
        ("NO-SUCH-DECL", "UNKNOWN_DECLARATION"),
    ] {
        let a = app
            .send(&declaration_cancel(number), Packaging::Inline)
            .await;
        assert_eq!(a.status, 200, "{}", a.text());
        match a.reply().payload {
            Some(OutboundDocument::DeclarationAmendmentResponse(r)) => {
                assert_eq!(r.result.code(), expected)
            }
            other => panic!("{other:?}"),
        }
    }
    let a = app
        .send(
            &status_query(&permit.number.to_string()),
            Packaging::Multipart,
        )
        .await;
    match a.reply().payload {
        Some(OutboundDocument::PermitStatusResponse(r)) => {
            assert_eq!(r.decision.map(|d| d.code()), Some("APPROVED"));
            assert_eq!(r.items[0].written_off.to_string(), "4");
        }
        other => panic!("{other:?}"),
    }
    let a = app
        .send(&status_query("TISI-P-2569-09999999"), Packaging::Inline)
        .await;
    match a.reply().payload {
        Some(OutboundDocument::PermitStatusResponse(r)) => {
            assert!(matches!(
                r.result,
                nsw_gateway::domain::StatusQueryResult::NotFound
            ))
        }
        other => panic!("{other:?}"),
    }
}

/// Spec §3.3: a line's reasons name every mismatched field, also when its permit is cancelled
/// or has no item of its invoice item number; and nothing remains to write off on a cancelled
/// permit.
#[tokio::test]
async fn every_mismatch_of_a_line_is_named_on_a_cancelled_permit_or_a_missing_item() {
    const OTHER: &str = "0994000617721";
    let app = spawn_app().await;
    let permit = app.approved_permit("REF-EVERY", 10).await;
    let issuer = app.settings.gateway.issuer_tax_number.to_string();
    let lines = |a: &Answer| match a.reply().payload {
        Some(OutboundDocument::DeclarationCheckResponse(r)) => r.lines,
        other => panic!("{other:?}"),
    };
    // Each wanted `CODE@last step of the field` is among the line's reasons.
    let names = |line: &nsw_gateway::domain::DeclarationLineResult, wanted: &[&str]| {
        let got: Vec<String> = line
            .reasons
            .iter()
            .map(|r| format!("{}@{}", r.code.code(), r.field.rsplit('/').next().unwrap()))
            .collect();
        for want in wanted {
            assert!(got.iter().any(|c| c == want), "{want} not in {got:?}");
        }
    };
    // Another importer, another invoice number, and an invoice item the permit lacks.
    let wrong = |number: &str, invoice_item: u16| {
        declaration_lines(
            number,
            &permit,
            &issuer,
            &[(invoice_item, "85044090", "CN", 1)],
        )
        .replace(
            &format!("<TaxNumber>{IMPORTER}</TaxNumber>"),
            &format!("<TaxNumber>{OTHER}</TaxNumber>"),
        )
        .replace(
            &format!("<InvoiceNumber>{}</InvoiceNumber>", permit.invoice_number),
            "<InvoiceNumber>INV-OTHER</InvoiceNumber>",
        )
    };
    let a = app.send(&wrong("DECL-EVERY-1", 7), Packaging::Inline).await;
    let l = &lines(&a)[0];
    assert_eq!(l.result.code(), "MISMATCH");
    names(
        l,
        &[
            "FIELD_MISMATCH@InvoiceNumber",
            "IMPORTER_MISMATCH@TaxNumber",
            "FIELD_MISMATCH@InvoiceItemNumber",
        ],
    );

    let cancel = permit_request("REF-EVERY", LICENCE_OK, 10)
        .replace("<Function>9</Function>", "<Function>1</Function>");
    let a = app.send(&cancel, Packaging::Inline).await;
    assert_eq!(a.permit_response().decision.code(), "CANCELLED");
    let a = app.send(&wrong("DECL-EVERY-2", 1), Packaging::Inline).await;
    let l = &lines(&a)[0];
    assert_eq!(l.result.code(), "PERMIT_NOT_VALID");
    names(
        l,
        &[
            "PERMIT_NOT_VALID@PermitNumber",
            "FIELD_MISMATCH@InvoiceNumber",
            "IMPORTER_MISMATCH@TaxNumber",
        ],
    );
    // The day it was cancelled is the day in Thailand, as every date the gateway gives.
    let en = &l.reasons[0].message_en;
    assert!(en.contains(&format!("since {}", today())), "{en}");
    assert_eq!(
        l.remaining
            .as_ref()
            .map(|q| q.amount.to_string())
            .as_deref(),
        Some("0")
    );
}

/// Spec §3.4: a status query from a partner that may not see that importer's data is refused.
#[tokio::test]
async fn status_queries_about_an_importer_the_partner_may_not_see_are_refused() {
    const OTHER: &str = "0994000617721";
    let app = spawn_app_with(Options {
        extra: format!(
            "\n[[partners]]\nparty_id = \"BROKER\"\ncpa_id = \"BROKER-TISI\"\n\
             delivery_url = \"http://127.0.0.1:9/ebms\"\nimporters = [\"{OTHER}\"]\n"
        ),
        ..Options::default()
    })
    .await;
    let permit = app.approved_permit("REF-SCOPE", 5).await;
    let by_permit = status_query(&permit.number.to_string());
    let by_reference = |tax: &str| {
        format!(
            r#"<PermitStatusQuery xmlns="urn:th:tisi:nsw:permit:1_00"><Importer><TaxNumber>{tax}</TaxNumber><Branch>00000</Branch></Importer><ReferenceNumber>REF-SCOPE</ReferenceNumber></PermitStatusQuery>"#
        )
    };
    let from = |party: &str, cpa: &str, payload: &str| {
        let mut h = header("PermitStatusQuery");
        h.from = nsw_gateway::wire::envelope::PartyId::new(party);
        h.cpa_id = cpa.into();
        request(&h, payload, Packaging::Inline, sync_ack())
    };
    let result = |a: &Answer| match a.reply().payload {
        Some(OutboundDocument::PermitStatusResponse(r)) => r.result,
        other => panic!("{other:?}"),
    };
    use nsw_gateway::domain::StatusQueryResult::{Found, NotFound};
    // The NSW (no importers listed) sees every importer's permits.
    for payload in [&by_permit, &by_reference(IMPORTER)] {
        let a = app.post(&from("NSW", "NSW-TISI-PERMIT", payload)).await;
        assert_eq!(a.status, 200, "{}", a.text());
        assert_eq!(result(&a), Found);
    }
    // The broker may see one other importer's only: refused, by permit and by reference, with
    // the field that names the importer. By permit, the refusal does not say who holds it.
    for (payload, location, names_holder) in [
        (by_permit.clone(), "/PermitStatusQuery/PermitNumber", false),
        (
            by_reference(IMPORTER),
            "/PermitStatusQuery/Importer/TaxNumber",
            true,
        ),
    ] {
        let a = app.post(&from("BROKER", "BROKER-TISI", &payload)).await;
        assert_eq!(a.status, 403, "{}", a.text());
        assert_eq!(a.error_codes(), ["SecurityFailure"]);
        let errors = a.reply().error_list.unwrap().errors;
        assert_eq!(errors[0].location, location, "{errors:?}");
        assert_eq!(a.text().contains(IMPORTER), names_holder, "{}", a.text());
    }
    // Its own importer's data, and a permit that was never issued: answered as usual.
    for payload in [by_reference(OTHER), status_query("TISI-P-2569-09999999")] {
        let a = app.post(&from("BROKER", "BROKER-TISI", &payload)).await;
        assert_eq!(a.status, 200, "{}", a.text());
        assert_eq!(result(&a), NotFound);
    }
    // A MessageId the NSW sent first gets the broker no replay of the NSW's reply.
    let nsw = header("PermitStatusQuery");
    let a = app
        .post(&request(&nsw, &by_permit, Packaging::Inline, sync_ack()))
        .await;
    assert_eq!(result(&a), Found);
    let mut h = header("PermitStatusQuery");
    h.from = nsw_gateway::wire::envelope::PartyId::new("BROKER");
    h.cpa_id = "BROKER-TISI".into();
    h.message_id = nsw.message_id.clone();
    let a = app
        .post(&request(
            &h,
            &by_reference(OTHER),
            Packaging::Inline,
            sync_ack(),
        ))
        .await;
    assert_eq!(a.status, 403, "{}", a.text());
    assert_eq!(a.error_codes(), ["SecurityFailure"]);
    assert!(!a.text().contains(IMPORTER), "{}", a.text());
    // The NSW's own resend still gets its reply.
    let again = app
        .post(&request(&nsw, &by_permit, Packaging::Inline, sync_ack()))
        .await;
    assert_eq!(result(&again), Found);

    // The broker acts for its importer only: a permit request for another, and any
    // declaration, are refused with the field that names whose data it would touch.
    let as_broker = |action: &str, payload: &str| {
        let mut h = header(action);
        h.from = nsw_gateway::wire::envelope::PartyId::new("BROKER");
        h.cpa_id = "BROKER-TISI".into();
        request(&h, payload, Packaging::Inline, sync_ack())
    };
    let issuer = app.settings.gateway.issuer_tax_number.to_string();
    let for_other = permit_request("REF-BROKER", LICENCE_OK, 1).replace(
        &format!("<TaxNumber>{IMPORTER}</TaxNumber>"),
        &format!("<TaxNumber>{OTHER}</TaxNumber>"),
    );
    for (action, payload, location) in [
        (
            "ImportPermitRequest",
            permit_request("REF-BROKER", LICENCE_OK, 1),
            "/ImportPermitRequest/Importer/TaxNumber",
        ),
        (
            "DeclarationCheck",
            declaration_check("DECL-BROKER", &permit, &issuer, 1),
            "/DeclarationCheck",
        ),
        (
            "DeclarationAmendment",
            declaration_cancel("DECL-BROKER"),
            "/DeclarationAmendment",
        ),
    ] {
        let a = app.post(&as_broker(action, &payload)).await;
        assert_eq!(a.status, 403, "{action}: {}", a.text());
        assert_eq!(a.error_codes(), ["SecurityFailure"]);
        let errors = a.reply().error_list.unwrap().errors;
        assert_eq!(errors[0].location, location, "{errors:?}");
    }
    let a = app
        .post(&as_broker("ImportPermitRequest", &for_other))
        .await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.permit_response().reference.as_str(), "REF-BROKER");
}

/// One malformed message per error row of spec §1.2: (what, message, status, error code).
#[tokio::test]
async fn messages_that_cannot_be_accepted_get_400_with_an_error_list() {
    let app = spawn_app().await;
    let ok = permit_request("REF-ERR", LICENCE_OK, 1);
    let with = |f: &dyn Fn(&mut nsw_gateway::wire::envelope::MessageHeader)| {
        let mut h = header("ImportPermitRequest");
        f(&mut h);
        request(&h, &ok, Packaging::Inline, sync_ack())
    };
    let cases: Vec<(&str, Built, &str)> = vec![
        (
            "unknown To party",
            with(&|h| h.to.id = "OTHER".into()),
            "ValueNotRecognized",
        ),
        (
            "unknown From party",
            with(&|h| h.from.id = "STRANGER".into()),
            "ValueNotRecognized",
        ),
        (
            "wrong CPAId",
            with(&|h| h.cpa_id = "OTHER-CPA".into()),
            "ValueNotRecognized",
        ),
        (
            "MessageId not of the form left@right",
            with(&|h| h.message_id = "a message id".into()),
            "ValueNotRecognized",
        ),
        (
            "expired TimeToLive",
            with(&|h| h.time_to_live = Some(h.timestamp - chrono::Duration::minutes(5))),
            "TimeToLiveExpired",
        ),
        (
            "Action and payload disagree",
            with(&|h| h.action = "DeclarationCheck".into()),
            "Inconsistent",
        ),
        (
            "unknown payload version",
            request(
                &header("ImportPermitRequest"),
                &ok.replace("permit:1_00", "permit:1_07"),
                Packaging::Inline,
                sync_ack(),
            ),
            "NotSupported",
        ),
        (
            "bad value in the payload",
            request(
                &header("ImportPermitRequest"),
                &ok.replace("<HSCode>85044090</HSCode>", "<HSCode>8504409X</HSCode>"),
                Packaging::Multipart,
                sync_ack(),
            ),
            "",
        ),
    ];
    for (what, built, code) in cases {
        let a = app.post(&built).await;
        assert_eq!(a.status, 400, "{what}: {}", a.text());
        let codes = a.error_codes();
        if !code.is_empty() {
            assert!(codes.iter().any(|c| c == code), "{what}: {codes:?}");
        }
    }
    // A DOCTYPE is a security failure, whatever else the message says.
    let doctype = Built {
        content_type: "text/xml".into(),
        body: b"<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"b\">]><x>&a;</x>".to_vec(),
    };
    let a = app.post(&doctype).await;
    assert_eq!(a.status, 400, "{}", a.text());
    assert!(
        a.text().contains("SecurityFailure") || a.text().contains("Fault"),
        "{}",
        a.text()
    );
}

/// Spec §4: a retry of a message that was answered gets the same reply, also when it arrives
/// after its TimeToLive (the first copy was decided in time); a message never answered is
/// refused as expired.
#[tokio::test]
async fn a_retry_after_its_time_to_live_gets_the_reply_of_the_first_copy() {
    let app = spawn_app().await;
    let payload = permit_request("REF-TTL-RETRY", LICENCE_OK, 1);
    let mut h = header("ImportPermitRequest");
    h.time_to_live = Some(h.timestamp + chrono::Duration::minutes(5));
    let first = app
        .post(&request(&h, &payload, Packaging::Inline, sync_ack()))
        .await;
    assert_eq!(first.status, 200, "{}", first.text());
    h.time_to_live = Some(h.timestamp - chrono::Duration::minutes(5));
    let retry = app
        .post(&request(&h, &payload, Packaging::Inline, sync_ack()))
        .await;
    assert_eq!(retry.status, 200, "{}", retry.text());
    assert_eq!(retry.body, first.body, "the first reply, byte for byte");

    let mut other = h.clone();
    other.message_id = format!("{}@nsw.test", uuid::Uuid::new_v4());
    let expired = app
        .post(&request(&other, &payload, Packaging::Inline, sync_ack()))
        .await;
    assert_eq!(expired.status, 400, "{}", expired.text());
    assert_eq!(expired.error_codes(), ["TimeToLiveExpired"]);
}

/// Spec §3.2 and §4: a cancellation's response says CANCELLED, decided when it was cancelled;
/// cancelling again gives the same answer.
#[tokio::test]
async fn a_cancellation_is_decided_when_it_is_made() {
    let app = spawn_app().await;
    let payload = permit_request("REF-CANCEL-AT", LICENCE_OK, 1);
    let first = app
        .send(&payload, Packaging::Inline)
        .await
        .permit_response();
    assert_eq!(first.decision.code(), "APPROVED", "{first:?}");
    let cancel = payload.replace("<Function>9</Function>", "<Function>1</Function>");
    let cancelled = app.send(&cancel, Packaging::Inline).await.permit_response();
    assert_eq!(cancelled.decision.code(), "CANCELLED", "{cancelled:?}");
    assert_eq!(cancelled.request_id, first.request_id);
    assert!(
        cancelled.decided_at > first.decided_at,
        "{} after {}",
        cancelled.decided_at,
        first.decided_at
    );
    let again = app.send(&cancel, Packaging::Inline).await.permit_response();
    assert_eq!(again, cancelled);
}

/// Spec §1.1 and §1.2: an inline message refused for what its payload holds (a processing
/// instruction, nesting beyond the limit) gets an error list that refers to it, as in
/// packaging A.
#[tokio::test]
async fn an_inline_payload_refused_by_the_scan_gets_an_error_list_that_refers_to_it() {
    let app = spawn_app().await;
    let payload = permit_request("REF-SCAN-INLINE", LICENCE_OK, 1);
    let deep = format!("<Brand>{}x{}</Brand>", "<b>".repeat(40), "</b>".repeat(40));
    for (what, changed, code) in [
        (
            "a processing instruction",
            payload.replacen("<GoodsItem>", "<?audit x?><GoodsItem>", 1),
            "SecurityFailure",
        ),
        (
            "nesting beyond the limit",
            payload.replacen("<Brand>PowerOne</Brand>", &deep, 1),
            "OtherXml",
        ),
    ] {
        assert_ne!(changed, payload, "{what}");
        let h = header("ImportPermitRequest");
        let a = app
            .post(&request(&h, &changed, Packaging::Inline, sync_ack()))
            .await;
        assert_eq!(a.status, 400, "{what}: {}", a.text());
        assert_eq!(a.error_codes(), [code], "{what}");
        let reply = a.reply();
        assert_eq!(
            reply.header.ref_to_message_id.as_deref(),
            Some(h.message_id.as_str()),
            "{what}"
        );
        assert_eq!(reply.header.conversation_id, h.conversation_id, "{what}");
        assert_eq!(reply.header.to.id, "NSW", "{what}");
        assert_eq!(reply.header.cpa_id, h.cpa_id, "{what}");
    }
}

/// ebMS 2.0 lets a party give several PartyIds: the partner checks match any of them, and the
/// reply is addressed with the ones that matched.
#[tokio::test]
async fn a_party_named_several_ways_is_known_by_any_of_its_names() {
    let app = spawn_app().await;
    let h = header("ImportPermitRequest");
    let mut built = request(
        &h,
        &permit_request("REF-ALIAS", LICENCE_OK, 1),
        Packaging::Inline,
        sync_ack(),
    );
    let text = String::from_utf8(built.body)
        .unwrap()
        .replacen(
            "<eb:From>",
            "<eb:From><eb:PartyId eb:type=\"urn:duns\">123456789</eb:PartyId>",
            1,
        )
        .replacen("<eb:To>", "<eb:To><eb:PartyId>OTHER</eb:PartyId>", 1);
    assert!(text.contains("123456789</eb:PartyId><eb:PartyId"), "{text}");
    built.body = text.into_bytes();
    let a = app.post(&built).await;
    assert_eq!(a.status, 200, "{}", a.text());
    let reply = a.reply();
    assert_eq!(reply.header.from.id, "TISI");
    assert_eq!(reply.header.to.id, "NSW");
    assert_eq!(
        reply.header.ref_to_message_id.as_deref(),
        Some(h.message_id.as_str())
    );
    assert_eq!(a.permit_response().reference.as_str(), "REF-ALIAS");

    // None of the names known: refused as before.
    let mut stranger = header("ImportPermitRequest");
    stranger.from.id = "STRANGER".into();
    let mut built = request(
        &stranger,
        &permit_request("REF-ALIAS-2", LICENCE_OK, 1),
        Packaging::Inline,
        sync_ack(),
    );
    built.body = String::from_utf8(built.body)
        .unwrap()
        .replacen(
            "</eb:From>",
            "<eb:PartyId>ALSO-UNKNOWN</eb:PartyId></eb:From>",
            1,
        )
        .into_bytes();
    let a = app.post(&built).await;
    assert_eq!(a.status, 400, "{}", a.text());
    assert_eq!(a.error_codes(), ["ValueNotRecognized"]);
}

#[tokio::test]
async fn not_soap_at_all_gets_a_soap_fault() {
    let app = spawn_app().await;
    for body in [&b"this is not xml"[..], b"<html><body>hello</body></html>"] {
        let a = app
            .post(&Built {
                content_type: "text/xml".into(),
                body: body.to_vec(),
            })
            .await;
        assert_eq!(a.status, 400);
        let text = a.text();
        assert!(text.contains("Fault") && text.contains("Client"), "{text}");
    }
}

#[tokio::test]
async fn mutual_tls_refuses_a_sender_whose_certificate_is_not_bound_to_its_party() {
    let app = spawn_app_with(Options {
        security: Security::MutualTls,
        ..Options::default()
    })
    .await;
    let pki = app.pki.as_ref().unwrap();
    // The bound certificate passes.
    let a = app
        .post(&nsw_gateway::wire::reply::build_ping(&header("Ping"), true))
        .await;
    assert_eq!(a.status, 200, "{}", a.text());
    // Same CA, same CN, another certificate: refused with SecurityFailure only.
    let impostor = app
        .client_builder()
        .identity(identity(&pki.ca.issue_client("NSW").unwrap()))
        .build()
        .unwrap();
    let a = app
        .post_with(
            &impostor,
            &nsw_gateway::wire::reply::build_ping(&header("Ping"), true),
        )
        .await;
    assert_eq!(a.status, 403, "{}", a.text());
    assert_eq!(a.error_codes(), vec!["SecurityFailure"]);

    // Spec §1, §1.2: whatever else is wrong with the message, a sender that is not the party
    // bound to its certificate learns nothing but the refusal. A bad payload, a payload in an
    // unknown version, an envelope without a readable header, XML that is not well-formed:
    let bad = |h: &MessageHeader| {
        request(
            h,
            &permit_request("REF-IMPOSTOR", LICENCE_OK, 1)
                .replace("<HSCode>85044090</HSCode>", "<HSCode>8504409X</HSCode>")
                .replace("permit:1_00", "permit:1_07"),
            Packaging::Inline,
            sync_ack(),
        )
    };
    let no_header = Built {
        content_type: "text/xml".into(),
        body: br#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body/></S:Envelope>"#.to_vec(),
    };
    let not_xml = Built {
        content_type: "text/xml".into(),
        body: b"<S:Envelope".to_vec(),
    };
    let mut posing = header("ImportPermitRequest");
    posing.from = PartyId::new("CUSTOMS");
    for (what, client, built) in [
        (
            "impostor, bad payload",
            &impostor,
            bad(&header("ImportPermitRequest")),
        ),
        ("impostor, no header", &impostor, no_header.clone()),
        ("impostor, not XML", &impostor, not_xml.clone()),
        (
            "bound client posing as another party",
            &app.client,
            bad(&posing),
        ),
    ] {
        let a = app.post_with(client, &built).await;
        assert_eq!(a.status, 403, "{what}: {}", a.text());
        assert_eq!(a.error_codes(), vec!["SecurityFailure"], "{what}");
        assert!(!a.text().contains("HSCode"), "{what}: {}", a.text());
    }
    // The bound client gets what is wrong with the same messages.
    let a = app.post(&bad(&header("ImportPermitRequest"))).await;
    assert_eq!(a.status, 400, "{}", a.text());
    assert_eq!(a.error_codes(), vec!["NotSupported"]);
    assert_eq!(app.post(&no_header).await.status, 400);
    let a = app.post(&not_xml).await;
    assert_eq!(a.status, 400);
    assert!(a.text().contains("Fault"), "{}", a.text());
}

/// A message that intake refuses gets the partner checks' errors too, each named once: the
/// sender learns everything wrong with it in one answer.
#[tokio::test]
async fn a_refused_message_also_names_what_is_wrong_with_its_parties() {
    let app = spawn_app().await;
    let mut h = header("ImportPermitRequest");
    h.from = PartyId::new("INTRUDER");
    h.to = PartyId::new("NOT-TISI");
    let payload = permit_request("REF-PARTIES", LICENCE_OK, 1)
        .replace("<HSCode>85044090</HSCode>", "<HSCode>8504409X</HSCode>");
    let a = app
        .post(&request(&h, &payload, Packaging::Inline, sync_ack()))
        .await;
    assert_eq!(a.status, 400, "{}", a.text());
    let locations = a.error_locations();
    for wanted in ["eb:To/eb:PartyId", "eb:From/eb:PartyId", "HSCode"] {
        assert_eq!(
            locations.iter().filter(|l| l.ends_with(wanted)).count(),
            1,
            "{wanted} in {locations:?}"
        );
    }

    // An empty CPAId is named once, by intake, not again as an unknown agreement; and the
    // document is read all the same, so that its errors come in the same answer.
    let text = String::from_utf8(
        request(
            &header("ImportPermitRequest"),
            &payload,
            Packaging::Inline,
            sync_ack(),
        )
        .body,
    )
    .unwrap()
    .replace(
        "<eb:CPAId>NSW-TISI-PERMIT</eb:CPAId>",
        "<eb:CPAId></eb:CPAId>",
    );
    assert!(text.contains("<eb:CPAId></eb:CPAId>"));
    let a = app
        .post(&Built {
            content_type: "text/xml".into(),
            body: text.into_bytes(),
        })
        .await;
    assert_eq!(a.status, 400, "{}", a.text());
    let locations = a.error_locations();
    assert_eq!(
        locations.iter().filter(|l| l.ends_with("eb:CPAId")).count(),
        1,
        "{locations:?}"
    );
    assert!(
        locations.iter().any(|l| l.ends_with("HSCode")),
        "{locations:?}"
    );
}

#[tokio::test]
async fn a_partner_over_its_rate_gets_429_with_retry_after() {
    let app = spawn_app_with(Options {
        rate_per_minute: 1,
        rate_burst: 1,
        ..Options::default()
    })
    .await;
    let ping = || nsw_gateway::wire::reply::build_ping(&header("Ping"), true);
    assert_eq!(app.post(&ping()).await.status, 200);
    let a = app.post(&ping()).await;
    assert_eq!(a.status, 429);
    let secs: u64 = a.retry_after.as_deref().unwrap().parse().unwrap();
    assert!((1..=60).contains(&secs), "{secs}");
}

#[tokio::test]
async fn without_reference_data_requests_get_503_and_readiness_fails() {
    let app = spawn_app_with(Options {
        security: Security::Tls,
        refdata: false,
        ..Options::default()
    })
    .await;
    let a = app
        .send(
            &permit_request("REF-NODATA", LICENCE_OK, 1),
            Packaging::Inline,
        )
        .await;
    assert_eq!(a.status, 503, "{}", a.text());
    assert_eq!(a.retry_after.as_deref(), Some("1"));
    // Not recorded: the same message is not a duplicate later.
    let ready = app.client.get(app.admin("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    assert_eq!(ready.text().await.unwrap(), "no reference data loaded\n");
    // Ping does not need reference data.
    let a = app
        .post(&nsw_gateway::wire::reply::build_ping(&header("Ping"), true))
        .await;
    assert_eq!(a.status, 200);
}

#[tokio::test]
async fn a_retried_message_gets_the_first_reply_and_nothing_is_decided_again() {
    for backend in backends() {
        a_retried_message_gets_the_first_reply_and_nothing_is_decided_again_on(backend).await;
    }
}

async fn a_retried_message_gets_the_first_reply_and_nothing_is_decided_again_on(backend: Backend) {
    let app = spawn_app_with(Options {
        backend: Some(backend),
        ..Options::default()
    })
    .await;
    let h = header("ImportPermitRequest");
    let built = request(
        &h,
        &permit_request("REF-RETRY", LICENCE_OK, 2),
        Packaging::Multipart,
        sync_ack(),
    );
    let first = app.post(&built).await;
    let again = app.post(&built).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.body, again.body, "byte-identical replay");
    assert_eq!(first.content_type, again.content_type);
    // A new MessageId with the same reference and content gets the earlier decision.
    let h2 = header("ImportPermitRequest");
    let other = app
        .post(&request(
            &h2,
            &permit_request("REF-RETRY", LICENCE_OK, 2),
            Packaging::Inline,
            sync_ack(),
        ))
        .await;
    assert_eq!(
        other.permit_response().permit.unwrap().number,
        first.permit_response().permit.unwrap().number
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_hundred_concurrent_copies_of_a_message_get_one_decision() {
    for backend in backends() {
        one_hundred_concurrent_copies_of_a_message_get_one_decision_on(backend).await;
    }
}

async fn one_hundred_concurrent_copies_of_a_message_get_one_decision_on(backend: Backend) {
    let app = spawn_app_with(Options {
        backend: Some(backend),
        max_in_flight: 200,
        ..Options::default()
    })
    .await;
    let h = header("ImportPermitRequest");
    let built = request(
        &h,
        &permit_request("REF-100", LICENCE_OK, 7),
        Packaging::Inline,
        sync_ack(),
    );
    let answers = futures_join_all((0..100).map(|_| app.post(&built))).await;
    let first = &answers[0];
    assert_eq!(first.status, 200, "{}", first.text());
    for a in &answers {
        assert_eq!(a.status, 200);
        assert_eq!(a.body, first.body, "every copy gets the same reply");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_one_database_make_one_decision_for_concurrent_copies() {
    for backend in backends() {
        two_instances_on_one_database_make_one_decision_for_concurrent_copies_on(backend).await;
    }
}

async fn two_instances_on_one_database_make_one_decision_for_concurrent_copies_on(
    backend: Backend,
) {
    let dir = tempfile::tempdir().unwrap();
    let (url, _guard) = crate::helpers::fresh_database(dir.path(), Some(backend)).await;
    let options = Options {
        backend: Some(backend),
        database_url: Some(url),
        max_in_flight: 200,
        ..Options::default()
    };
    let a = spawn_app_with(options.clone()).await;
    let b = spawn_app_with(options).await;
    let h = header("ImportPermitRequest");
    let built = request(
        &h,
        &permit_request("REF-TWO", LICENCE_OK, 7),
        Packaging::Multipart,
        sync_ack(),
    );
    let answers = futures_join_all((0..100).map(|i| {
        let app = if i % 2 == 0 { &a } else { &b };
        app.post(&built)
    }))
    .await;
    for ans in &answers {
        assert_eq!(ans.status, 200, "{}", ans.text());
        assert_eq!(ans.body, answers[0].body);
    }
    drop((a, b));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_declarations_racing_for_ten_pieces_get_exactly_ten_accepted() {
    for backend in backends() {
        fifty_declarations_racing_for_ten_pieces_get_exactly_ten_accepted_on(backend).await;
    }
}

async fn fifty_declarations_racing_for_ten_pieces_get_exactly_ten_accepted_on(backend: Backend) {
    let app = spawn_app_with(Options {
        backend: Some(backend),
        ..Options::default()
    })
    .await;
    let permit = app.approved_permit("REF-RACE", 10).await;
    let issuer = app.settings.gateway.issuer_tax_number.to_string();
    let payloads: Vec<String> = (0..50)
        .map(|i| declaration_check(&format!("RACE-{i:02}"), &permit, &issuer, 1))
        .collect();
    let answers = futures_join_all(payloads.iter().map(|p| app.send(p, Packaging::Inline))).await;
    let mut accepted = 0;
    for a in &answers {
        assert_eq!(a.status, 200, "{}", a.text());
        match a.reply().payload {
            Some(OutboundDocument::DeclarationCheckResponse(r)) => {
                if r.result.code() == "ACCEPTED" {
                    accepted += 1;
                } else {
                    assert_eq!(r.lines[0].result.code(), "QUANTITY_EXCEEDED", "{r:?}");
                }
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(accepted, 10);
}

/// Runs futures concurrently on the current task and collects their outputs in order.
async fn futures_join_all<F: std::future::Future>(
    futs: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futs {
        set.push(Box::pin(f));
    }
    let mut out: Vec<Option<F::Output>> = set.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in set.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(|o| o.expect("ready")).collect()
}
