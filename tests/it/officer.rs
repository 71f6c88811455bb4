//! The officer workflow end to end: review approve / reject, release / reject after
//! inspection, the later ImportPermitResponse arriving at the fake NSW, licence suspension
//! applying to the next request, the overdue listing.

use chrono::Duration as Days;
use nsw_gateway::domain::{ImportPermitResponse, OutboundDocument, Permit};
use nsw_gateway::wire::intake::Packaging;
use nsw_gateway::wire::reply;
use serde_json::Value;

use crate::delivery::{test_clock, worker_for};
use crate::fake_nsw::{Answer, FakeNsw};
use crate::helpers::{
    backends, fresh_database, spawn_app_with, spawn_settings, test_settings, Options, TestApp,
};
use crate::messages::{
    declaration_check, permit_request, today, write_refdata, IMPORTER, LICENCE_OK,
};

const ADMIN: &str = "admin-token-for-tests";
const SOMCHAI: &str = "officer-somchai-token-0001";

/// A gateway with officers, its own worker off, and reference data where the purpose
/// `REVIEW_ME` needs an officer and (when `inspect_all`) every licensed item is inspected.
async fn officer_app(inspect_all: bool) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let refdata = dir.path().join("refdata");
    write_refdata(&refdata);
    let mut purposes = std::fs::read_to_string(refdata.join("special_purposes.csv")).unwrap();
    purposes.push_str("REVIEW_ME,ทบทวน,Needs an officer,2024-10-01,,50,true,false\n");
    std::fs::write(refdata.join("special_purposes.csv"), purposes).unwrap();
    if inspect_all {
        let standards = std::fs::read_to_string(refdata.join("standards.csv"))
            .unwrap()
            .replace(",85044090|85044019,0,false", ",85044090|85044019,100,false");
        std::fs::write(refdata.join("standards.csv"), standards).unwrap();
    }
    let options = Options {
        admin_token: Some(ADMIN.into()),
        refdata: false,
        extra: format!(
            "[refdata]\nseed_dir = \"{}\"\n[delivery]\nenabled = false\n\
             [[officers]]\nid = \"somchai\"\ntoken = \"{SOMCHAI}\"\n",
            refdata.display()
        ),
        ..Options::default()
    };
    let (settings, guard) = test_settings(dir.path(), &options, None).await;
    let mut app = spawn_settings(settings, None, dir).await;
    app.database = guard;
    app
}

fn special_request(reference: &str, quantity: u32) -> String {
    let arrival = today() + Days::days(10);
    let invoice_date = today() - Days::days(5);
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<ImportPermitRequest xmlns="urn:th:tisi:nsw:permit:1_00">
  <DocumentControl><ReferenceNumber>{reference}</ReferenceNumber><Function>9</Function><RequestType>SPECIAL</RequestType></DocumentControl>
  <Importer><TaxNumber>{IMPORTER}</TaxNumber><Branch>00000</Branch><Name>บริษัท ทดสอบ จำกัด</Name></Importer>
  <Shipment><ArrivalDate>{arrival}</ArrivalDate><TransportMode>1</TransportMode><LoadPort>CNSHA</LoadPort><DischargePort>THLCH</DischargePort><CountryOfDestination>TH</CountryOfDestination></Shipment>
  <Invoice><Number>INV-S</Number><Date>{invoice_date}</Date></Invoice>
  <GoodsItem>
    <ItemNumber>1</ItemNumber><InvoiceItemNumber>1</InvoiceItemNumber><HSCode>85044090</HSCode>
    <Description>อะแดปเตอร์ไฟฟ้า</Description><Brand>PowerOne</Brand><Model>PA-65W</Model>
    <Manufacturer><Name>Shenzhen PowerOne</Name><Country>CN</Country></Manufacturer>
    <CountryOfOrigin>CN</CountryOfOrigin><Quantity unitCode="C62">{quantity}</Quantity>
    <Standard>มอก. 2432-2555</Standard><SpecialPurpose>REVIEW_ME</SpecialPurpose>
  </GoodsItem>
</ImportPermitRequest>"#
    )
}

async fn admin_post(app: &TestApp, path: &str, token: &str, body: Value) -> (u16, Value) {
    let r = app
        .client
        .post(app.admin(path))
        .bearer_auth(token)
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Sends a payload with SyncReply + AckRequested; returns the synchronous response.
async fn decide(app: &TestApp, payload: &str) -> ImportPermitResponse {
    let a = app.send(payload, Packaging::Inline).await;
    assert_eq!(a.status, 200, "{}", a.text());
    a.permit_response()
}

/// Delivers the outbox to a fresh fake NSW; returns the ImportPermitResponses it accepted.
async fn deliver(app: &TestApp) -> Vec<(String, ImportPermitResponse)> {
    let fake = FakeNsw::start(vec![], Answer::Ok).await;
    let worker = worker_for(
        app.handle.store().clone(),
        &app.settings,
        &fake,
        test_clock(),
    );
    worker.run_once().await;
    fake.accepted()
        .into_iter()
        .map(|(id, body)| {
            let r = reply::parse_reply(None, &body)
                .or_else(|_| reply::parse_reply(Some("text/xml; charset=UTF-8"), &body))
                .unwrap();
            match r.payload {
                Some(OutboundDocument::ImportPermitResponse(p)) => (id, p),
                other => panic!("expected an ImportPermitResponse, got {other:?}"),
            }
        })
        .collect()
}

#[tokio::test]
async fn approving_a_reviewed_item_issues_a_permit_and_delivers_the_response() {
    let app = officer_app(false).await;
    let first = decide(&app, &special_request("REF-REVIEW-1", 5)).await;
    assert_eq!(first.decision.code(), "UNDER_REVIEW");
    assert!(first.permit.is_none());

    let (status, listed) = app.admin_get("/admin/review", SOMCHAI).await;
    assert_eq!(status, 200);
    let item = &listed["items"][0];
    assert_eq!(item["request_id"], first.request_id.as_str(), "{listed}");
    assert_eq!(item["status"], "UNDER_REVIEW");
    assert!(item["age_seconds"].as_i64().unwrap() >= 0);
    assert_eq!(item["overdue"], false);
    let (_, overdue) = app.admin_get("/admin/review?overdue=true", SOMCHAI).await;
    assert_eq!(overdue["items"].as_array().unwrap().len(), 0);

    let path = format!("/admin/review/{}/items/1/approve", first.request_id);
    let (status, _) = admin_post(&app, &path, ADMIN, serde_json::json!({"reason": "ok"})).await;
    assert_eq!(status, 403, "the admin token is not an officer");
    let (status, _) = admin_post(&app, &path, SOMCHAI, serde_json::json!({})).await;
    assert_eq!(status, 400, "a reason is required");
    let (status, done) = admin_post(
        &app,
        &path,
        SOMCHAI,
        serde_json::json!({"reason": "samples for a university lab"}),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["decision"], "APPROVED");
    assert_eq!(done["actor"], "officer:somchai");
    let number = done["permit_number"].as_str().unwrap().to_string();
    let (status, _) =
        admin_post(&app, &path, SOMCHAI, serde_json::json!({"reason": "again"})).await;
    assert_eq!(status, 409, "an approved item is no longer under review");
    let (status, refused) = act(&app, &first.request_id, "reject", "too late").await;
    assert_eq!(status, 409, "{refused}");
    assert!(
        refused["error"].as_str().is_some_and(|e| e.ends_with(
            "is APPROVED: the action 'reject' applies to items UNDER_REVIEW or HOLD_FOR_INSPECTION"
        )),
        "{refused}"
    );

    // The later response reaches the NSW with the permit number.
    let delivered = deliver(&app).await;
    assert_eq!(delivered.len(), 1);
    let (_, later) = &delivered[0];
    assert_eq!(later.decision.code(), "APPROVED");
    assert_eq!(later.request_id, first.request_id);
    assert!(
        later.decided_at > first.decided_at,
        "decided by the officer"
    );
    let permit = later.permit.as_ref().expect("a permit");
    assert_eq!(permit.number.to_string(), number);
    assert_eq!(
        permit.effective_date,
        today().max(permit.arrival_date - Days::days(30))
    );
    assert_eq!(permit.expiry_date, permit.arrival_date + Days::days(90));
    assert_eq!(later.items[0].status.code(), "APPROVED");

    // The history names the officer.
    let status_query = crate::messages::status_query(&number);
    let a = app.send(&status_query, Packaging::Inline).await;
    assert!(a.text().contains("officer:somchai"), "{}", a.text());
    let (_, listed) = app.admin_get("/admin/review", SOMCHAI).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn rejecting_a_reviewed_item_rejects_the_request_without_a_permit() {
    let app = officer_app(false).await;
    let first = decide(&app, &special_request("REF-REVIEW-2", 5)).await;
    let (status, done) = act(&app, &first.request_id, "reject", "not a research use").await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["decision"], "REJECTED");
    assert_eq!(done["permit_number"], Value::Null);
    let delivered = deliver(&app).await;
    let (_, later) = &delivered[0];
    assert_eq!(later.decision.code(), "REJECTED");
    assert!(later.permit.is_none());
    let codes: Vec<_> = later.items[0]
        .reasons
        .iter()
        .map(|r| r.code.code())
        .collect();
    assert!(codes.contains(&"OFFICER_DECISION"), "{codes:?}");
    let (status, _) = admin_post(
        &app,
        "/admin/review/REQ-unknown/items/1/approve",
        SOMCHAI,
        serde_json::json!({"reason": "x"}),
    )
    .await;
    assert_eq!(status, 404);
}

/// An approval that would issue a permit expiring before it takes effect (the arrival more
/// than 90 days back) is refused, and nothing changes; the item can still be rejected.
#[tokio::test]
async fn an_item_whose_permit_would_never_take_effect_cannot_be_approved() {
    let app = officer_app(false).await;
    let arrival = today() - Days::days(91);
    let late = special_request("REF-REVIEW-LATE", 5).replace(
        &format!("<ArrivalDate>{}</ArrivalDate>", today() + Days::days(10)),
        &format!("<ArrivalDate>{arrival}</ArrivalDate>"),
    );
    assert!(late.contains(&arrival.to_string()));
    let first = decide(&app, &late).await;
    assert_eq!(first.decision.code(), "UNDER_REVIEW", "{first:?}");
    let (status, refused) = act(&app, &first.request_id, "approve", "looks fine").await;
    assert_eq!(status, 409, "{refused}");
    let text = refused.to_string();
    assert!(
        text.contains(&arrival.to_string()) && text.contains("reject it instead"),
        "{text}"
    );
    let (_, listed) = app.admin_get("/admin/review", SOMCHAI).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");
    let (status, done) = act(&app, &first.request_id, "reject", "arrived too long ago").await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["decision"], "REJECTED");

    // 90 days back, the permit is valid for today only: approved.
    let edge = special_request("REF-REVIEW-EDGE", 5).replace(
        &format!("<ArrivalDate>{}</ArrivalDate>", today() + Days::days(10)),
        &format!("<ArrivalDate>{}</ArrivalDate>", today() - Days::days(90)),
    );
    let second = decide(&app, &edge).await;
    let (status, done) = act(&app, &second.request_id, "approve", "fine").await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["decision"], "APPROVED");
}

async fn held_permit(app: &TestApp, reference: &str) -> (ImportPermitResponse, Permit) {
    let r = decide(app, &permit_request(reference, LICENCE_OK, 10)).await;
    assert_eq!(r.decision.code(), "HOLD_FOR_INSPECTION", "{r:?}");
    let p = r.permit.clone().expect("HOLD issues a permit");
    (r, p)
}

/// The overall result of a DeclarationCheck of `quantity` against the permit's item.
async fn declare(app: &TestApp, number: &str, permit: &Permit, quantity: u32) -> String {
    let issuer = app.settings.gateway.issuer_tax_number.to_string();
    let answer = app
        .send(
            &declaration_check(number, permit, &issuer, quantity),
            Packaging::Inline,
        )
        .await;
    match answer.reply().payload {
        Some(OutboundDocument::DeclarationCheckResponse(d)) => d.result.code().to_string(),
        other => panic!("expected a DeclarationCheckResponse, got {other:?}"),
    }
}

/// An officer's action on item 1 of a request, with a reason: (HTTP status, answer).
async fn act(app: &TestApp, request_id: &str, action: &str, reason: &str) -> (u16, Value) {
    let path = format!("/admin/review/{request_id}/items/1/{action}");
    admin_post(app, &path, SOMCHAI, serde_json::json!({ "reason": reason })).await
}

#[tokio::test]
async fn releasing_a_held_item_lets_declarations_match() {
    let app = officer_app(true).await;
    let (r, permit) = held_permit(&app, "REF-HOLD-1").await;
    assert_eq!(declare(&app, "DCL-H-1", &permit, 2).await, "HOLD");

    let (status, done) = act(&app, &r.request_id, "release", "sample passed").await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["decision"], "APPROVED");
    assert_eq!(
        done["permit_number"],
        permit.number.to_string().as_str(),
        "same permit"
    );

    assert_eq!(declare(&app, "DCL-H-2", &permit, 2).await, "ACCEPTED");
    let delivered = deliver(&app).await;
    assert_eq!(delivered[0].1.decision.code(), "APPROVED");
}

/// Spec §6, rules 15 and 16: an item that needs an officer and was also drawn for inspection
/// is held for the inspection once the officer approves it, not cleared at once.
#[tokio::test]
async fn approving_a_reviewed_item_drawn_for_inspection_holds_it() {
    let app = officer_app(true).await;
    let first = decide(&app, &special_request("REF-REVIEW-HOLD", 5)).await;
    assert_eq!(first.decision.code(), "UNDER_REVIEW", "{first:?}");
    let codes = |r: &ImportPermitResponse| -> Vec<&str> {
        r.items[0].reasons.iter().map(|r| r.code.code()).collect()
    };
    assert_eq!(codes(&first), ["OFFICER_REVIEW", "INSPECTION_SELECTED"]);

    let path = format!("/admin/review/{}/items/1/approve", first.request_id);
    let (status, done) =
        admin_post(&app, &path, SOMCHAI, serde_json::json!({"reason": "ok"})).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["decision"], "HOLD_FOR_INSPECTION");
    let delivered = deliver(&app).await;
    let (_, later) = &delivered[0];
    assert_eq!(later.decision.code(), "HOLD_FOR_INSPECTION");
    assert_eq!(later.items[0].status.code(), "HOLD_FOR_INSPECTION");
    assert_eq!(codes(later), ["INSPECTION_SELECTED"]);
    let permit = later.permit.clone().expect("HOLD issues a permit");
    assert!(later.items[0].approved_quantity.is_some(), "{later:?}");

    // Customs is told to hold the goods until the inspection releases them.
    assert_eq!(declare(&app, "DCL-RH-1", &permit, 2).await, "HOLD");
    let (_, listed) = app.admin_get("/admin/review", SOMCHAI).await;
    assert_eq!(
        listed["items"][0]["status"], "HOLD_FOR_INSPECTION",
        "{listed}"
    );
    let (status, done) = act(&app, &first.request_id, "release", "sample passed").await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["decision"], "APPROVED");
    assert_eq!(declare(&app, "DCL-RH-2", &permit, 2).await, "ACCEPTED");
}

#[tokio::test]
async fn rejecting_a_held_item_refuses_its_declarations() {
    let app = officer_app(true).await;
    let (r, permit) = held_permit(&app, "REF-HOLD-2").await;
    let (status, done) = act(&app, &r.request_id, "reject", "sample failed").await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["decision"], "REJECTED");
    assert_eq!(declare(&app, "DCL-H-3", &permit, 2).await, "REFUSED");
    // The status shows nothing approved or left of the item.
    let query = crate::messages::status_query(&permit.number.to_string());
    let status = app.send(&query, Packaging::Inline).await;
    let items = match status.reply().payload {
        Some(OutboundDocument::PermitStatusResponse(s)) => s.items,
        other => panic!("expected a PermitStatusResponse, got {other:?}"),
    };
    let q: Vec<_> = items
        .iter()
        .map(|i| {
            (
                i.status.code(),
                i.approved.to_string(),
                i.remaining.to_string(),
            )
        })
        .collect();
    assert_eq!(q, [("REJECTED", "0".to_string(), "0".to_string())]);
}

/// Once an item is refused after inspection the request is REJECTED: its other held item
/// leaves the review queue, and an officer's action on it is refused (409) without a new
/// response to the NSW.
#[tokio::test]
async fn a_rejected_request_leaves_nothing_to_review() {
    let app = officer_app(true).await;
    let r = decide(
        &app,
        &crate::messages::permit_request_items(
            "REF-HOLD-TWO",
            LICENCE_OK,
            &[(1, "85044090", 5), (2, "85044090", 5)],
        ),
    )
    .await;
    assert_eq!(r.decision.code(), "HOLD_FOR_INSPECTION", "{r:?}");
    let (_, listed) = app.admin_get("/admin/review", SOMCHAI).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 2, "{listed}");
    // What the admin listener's routes answer holds importers' data: no cache keeps it.
    let answer = app
        .client
        .get(app.admin("/admin/review"))
        .bearer_auth(SOMCHAI)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.headers()["cache-control"], "no-store");
    let (status, done) = act(&app, &r.request_id, "reject", "sample failed").await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["decision"], "REJECTED");
    assert_eq!(deliver(&app).await.len(), 1);

    let (_, listed) = app.admin_get("/admin/review", SOMCHAI).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 0, "{listed}");
    for action in ["release", "reject"] {
        let path = format!("/admin/review/{}/items/2/{action}", r.request_id);
        let (status, refused) =
            admin_post(&app, &path, SOMCHAI, serde_json::json!({ "reason": "x" })).await;
        assert_eq!(status, 409, "{action}: {refused}");
        assert!(
            refused["error"].as_str().unwrap().contains("REJECTED"),
            "{refused}"
        );
    }
    assert!(deliver(&app).await.is_empty(), "no further response");
}

#[tokio::test]
async fn a_suspension_applies_to_the_very_next_request() {
    let app = officer_app(false).await;
    let ok = decide(&app, &permit_request("REF-LIC-1", LICENCE_OK, 1)).await;
    assert_eq!(ok.decision.code(), "APPROVED");

    let path = format!("/admin/licences/{LICENCE_OK}/status");
    let (status, bad) = admin_post(
        &app,
        &path,
        SOMCHAI,
        serde_json::json!({"status": "PAUSED"}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(bad["error"].as_str().unwrap().contains("status"), "{bad}");
    assert!(bad["error"].as_str().unwrap().contains("reason"), "{bad}");
    let done = suspend(&app).await;
    assert_eq!(done["actor"], "officer:somchai");

    let next = decide(&app, &permit_request("REF-LIC-2", LICENCE_OK, 1)).await;
    assert_eq!(next.decision.code(), "REJECTED");
    let codes: Vec<_> = next.items[0]
        .reasons
        .iter()
        .map(|r| r.code.code())
        .collect();
    assert!(codes.contains(&"LICENCE_SUSPENDED"), "{codes:?}");

    let (status, _) = admin_post(
        &app,
        &path,
        ADMIN,
        serde_json::json!({"status": "reinstate", "reason": "cleared"}),
    )
    .await;
    assert_eq!(status, 200);
    let again = decide(&app, &permit_request("REF-LIC-3", LICENCE_OK, 1)).await;
    assert_eq!(again.decision.code(), "APPROVED");
    let (status, _) = admin_post(
        &app,
        "/admin/licences/TISI-L-0000-99999/status",
        ADMIN,
        serde_json::json!({"status": "REVOKED", "reason": "x"}),
    )
    .await;
    assert_eq!(status, 404);

    // Who changed the licence, when and why.
    let (status, shown) = app
        .admin_get(&format!("/admin/licences/{LICENCE_OK}"), SOMCHAI)
        .await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["status"], "ACTIVE");
    let changes: Vec<(&str, &str, &str, &str)> = shown["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["actor"].as_str().unwrap(),
                c["old_status"].as_str().unwrap(),
                c["status"].as_str().unwrap(),
                c["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            (
                "officer:somchai",
                "ACTIVE",
                "SUSPENDED",
                "e-Surveillance finding"
            ),
            ("admin", "SUSPENDED", "ACTIVE", "cleared"),
        ]
    );
    let (status, _) = app
        .admin_get("/admin/licences/TISI-L-0000-99999", SOMCHAI)
        .await;
    assert_eq!(status, 404);
}

/// Two instances on one database: a status changed through either one's admin API applies to
/// the very next request on the other (which has not been reloaded), and on itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_status_change_applies_to_the_next_request_on_every_instance() {
    for backend in backends() {
        let dir = tempfile::tempdir().unwrap();
        let (url, _guard) = fresh_database(dir.path(), Some(backend)).await;
        let options = Options {
            backend: Some(backend),
            database_url: Some(url),
            admin_token: Some(ADMIN.into()),
            extra: "[delivery]\nenabled = false\n".into(),
            ..Options::default()
        };
        let a = spawn_app_with(options.clone()).await;
        let b = spawn_app_with(options).await;
        let path = format!("/admin/licences/{LICENCE_OK}/status");
        let mut n = 0;
        for (changed_on, status, decided_on, want) in [
            (&a, "SUSPENDED", &b, "LICENCE_SUSPENDED"),
            (&b, "ACTIVE", &a, ""),
            (&b, "REVOKED", &a, "LICENCE_REVOKED"),
            (&a, "ACTIVE", &a, ""),
        ] {
            let (code, done) = admin_post(
                changed_on,
                &path,
                ADMIN,
                serde_json::json!({"status": status, "reason": "e-Surveillance"}),
            )
            .await;
            assert_eq!(code, 200, "{done}");
            for app in [decided_on, changed_on] {
                n += 1;
                let r = decide(app, &permit_request(&format!("REF-ST-{n}"), LICENCE_OK, 1)).await;
                let codes: Vec<_> = r.items[0].reasons.iter().map(|r| r.code.code()).collect();
                if want.is_empty() {
                    assert_eq!(r.decision.code(), "APPROVED", "{backend:?} {n}: {codes:?}");
                } else {
                    assert_eq!(codes, [want], "{backend:?} {n}");
                }
            }
        }
        drop((a, b));
    }
}

/// A suspension made through the admin API is newer than an export that does not know of it
/// yet: loading that export keeps the suspension, in the store and in the decisions.
#[tokio::test]
async fn a_suspension_survives_a_load_of_older_reference_data() {
    let app = officer_app(false).await;
    suspend(&app).await;
    let dir = app
        .settings
        .refdata
        .seed_dir
        .clone()
        .expect("the test's files");
    let nsw_gateway::app::LoadedDir {
        snapshot, summary, ..
    } = nsw_gateway::app::load_refdata_dir(app.handle.store(), &dir)
        .await
        .unwrap();
    assert!(
        summary.contains("1 licence status(es) set through the admin API kept"),
        "{summary}"
    );
    assert_eq!(
        snapshot.licence(LICENCE_OK).unwrap().status().code(),
        "SUSPENDED"
    );
    app.handle.reload_refdata().await.unwrap();
    let next = decide(&app, &permit_request("REF-LIC-LOAD", LICENCE_OK, 1)).await;
    assert_eq!(next.decision.code(), "REJECTED", "{next:?}");
    assert_eq!(next.items[0].reasons[0].code.code(), "LICENCE_SUSPENDED");
}

/// The officer suspends `LICENCE_OK` through the admin API; returns the answer.
async fn suspend(app: &TestApp) -> Value {
    let path = format!("/admin/licences/{LICENCE_OK}/status");
    let (status, done) = admin_post(
        app,
        &path,
        SOMCHAI,
        serde_json::json!({"status": "SUSPENDED", "reason": "e-Surveillance finding"}),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    done
}

/// A reason goes into messages to the NSW: line breaks and tabs pasted from a word processor
/// become spaces, any other control character is refused naming `reason`, and nothing is
/// decided. A licence status's `since` is read as every date the gateway reads.
#[tokio::test]
async fn reasons_and_dates_from_people_are_checked() {
    let app = officer_app(false).await;
    let first = decide(&app, &special_request("REF-REASON", 5)).await;
    for bad in ["not allowed\u{2}", "   ", &"x".repeat(501)] {
        let (status, refused) = act(&app, &first.request_id, "reject", bad).await;
        assert_eq!(status, 400, "{refused}");
        assert!(
            refused["error"].as_str().unwrap().starts_with("reason:"),
            "{refused}"
        );
    }
    let (_, listed) = app.admin_get("/admin/review", SOMCHAI).await;
    assert_eq!(
        listed["items"].as_array().unwrap().len(),
        1,
        "nothing decided: {listed}"
    );
    let (status, done) = act(
        &app,
        &first.request_id,
        "reject",
        "not\u{b}allowed,\r\n\tsee  memo",
    )
    .await;
    assert_eq!(status, 200, "{done}");
    let delivered = deliver(&app).await;
    let en = &delivered[0].1.items[0]
        .reasons
        .iter()
        .find(|r| r.code.code() == "OFFICER_DECISION")
        .expect("the officer's reason")
        .message_en;
    assert!(en.ends_with("not allowed, see memo"), "{en}");

    let path = format!("/admin/licences/{LICENCE_OK}/status");
    for (since, problem) in [
        ("2569-11-30", "Buddhist-era"),
        ("1066-10-14", "before 1900"),
        ("2026-1-5", "YYYY-MM-DD"),
    ] {
        let (status, refused) = admin_post(
            &app,
            &path,
            SOMCHAI,
            serde_json::json!({"status": "SUSPENDED", "reason": "finding", "since": since}),
        )
        .await;
        assert_eq!(status, 400, "{refused}");
        let e = refused["error"].as_str().unwrap();
        assert!(e.starts_with("since:") && e.contains(problem), "{e}");
    }
    // Without `since`, today in Thailand.
    let done = suspend(&app).await;
    assert_eq!(done["since"], today().to_string(), "{done}");
}

/// What the admin listener cannot read is answered as its handlers answer: `{"error": …}`.
#[tokio::test]
async fn unreadable_admin_calls_get_json_errors() {
    let app = officer_app(false).await;
    let send = |method: reqwest::Method, path: &str, body: Option<&str>| {
        let mut r = app
            .client
            .request(method, app.admin(path))
            .bearer_auth(ADMIN);
        if let Some(b) = body {
            r = r
                .header("Content-Type", "application/json")
                .body(b.to_string());
        }
        async move {
            let r = r.send().await.unwrap();
            let status = r.status().as_u16();
            let ct = r.headers()["content-type"].to_str().unwrap().to_string();
            let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap_or(Value::Null);
            (status, ct, v)
        }
    };
    use reqwest::Method;
    for (method, path, body, status) in [
        (Method::GET, "/admin/review?overdue=yes", None, 400),
        (Method::GET, "/admin/outbox/x", None, 400),
        (Method::POST, "/admin/outbox/1/drop", Some("{not json"), 400),
        (Method::GET, "/admin/outbox/1/drop", None, 405),
        (Method::GET, "/admin/nothing-here", None, 404),
    ] {
        let (s, ct, v) = send(method.clone(), path, body).await;
        assert_eq!(s, status, "{method} {path}: {v}");
        assert_eq!(ct, "application/json", "{method} {path}");
        assert!(
            v["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{method} {path}: {v}"
        );
    }
    // A path or query value that is not one is refused naming it.
    for (method, path, field) in [
        (Method::GET, "/admin/outbox/x", "id"),
        (Method::POST, "/admin/outbox/0/replay", "id"),
        (Method::GET, "/admin/outbox?limit=0", "limit"),
        (Method::GET, "/admin/outbox?limit=many", "limit"),
    ] {
        let (s, _, v) = send(method.clone(), path, None).await;
        assert_eq!(s, 400, "{method} {path}: {v}");
        let e = v["error"].as_str().unwrap_or_default();
        assert!(e.starts_with(&format!("{field}: ")), "{method} {path}: {e}");
    }
    let (s, refused) = admin_post(
        &app,
        "/admin/review/REQ-1/items/first/approve",
        SOMCHAI,
        serde_json::json!({"reason": "fine"}),
    )
    .await;
    assert_eq!(s, 400, "{refused}");
    assert!(
        refused["error"].as_str().unwrap().starts_with("item: "),
        "{refused}"
    );
    // A field the call does not know is refused by name, not ignored.
    for (path, body) in [
        (
            "/admin/outbox/1/drop".to_string(),
            r#"{"reason": "finding", "extra": 1}"#,
        ),
        (
            format!("/admin/licences/{LICENCE_OK}/status"),
            r#"{"status": "SUSPENDED", "reason": "finding", "extra": 1}"#,
        ),
    ] {
        let (s, _, v) = send(Method::POST, &path, Some(body)).await;
        assert_eq!(s, 422, "{path}: {v}");
        let e = v["error"].as_str().unwrap_or_default();
        assert!(e.contains("unknown field `extra`"), "{path}: {e}");
    }
}

#[tokio::test]
async fn items_waiting_beyond_the_budget_are_listed_as_overdue() {
    let app = officer_app(false).await;
    let first = decide(&app, &special_request("REF-OVERDUE-1", 5)).await;
    // Age the request as if it had waited eight days.
    let url = &app.settings.database.url;
    let eight_days_ago = chrono::Utc::now() - Days::days(8);
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        sqlx::query("UPDATE requests SET decided_at = ? WHERE request_id = ?")
            .bind(eight_days_ago)
            .bind(&first.request_id)
            .execute(&pool)
            .await
            .unwrap();
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::query("UPDATE requests SET decided_at = $1 WHERE request_id = $2")
            .bind(eight_days_ago)
            .bind(&first.request_id)
            .execute(&pool)
            .await
            .unwrap();
    }
    let (_, overdue) = app.admin_get("/admin/review?overdue=true", SOMCHAI).await;
    let items = overdue["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{overdue}");
    assert_eq!(items[0]["overdue"], true);
    assert!(items[0]["age_seconds"].as_i64().unwrap() >= 8 * 86_400 - 60);
    let metrics = app.metrics(Some(ADMIN)).await;
    assert!(metrics.contains("nsw_review_overdue_items 1"), "{metrics}");
}

/// A response sent after an officer's decision addresses the parties exactly as the
/// synchronous reply to the request did, PartyId types included.
#[tokio::test]
async fn a_later_response_keeps_the_party_id_types_of_the_request() {
    use nsw_gateway::wire::envelope::PartyId;
    let app = officer_app(false).await;
    let mut h = crate::messages::header("ImportPermitRequest");
    h.from = PartyId {
        id: "NSW".into(),
        kind: Some("urn:th:nsw:party".into()),
    };
    h.to = PartyId {
        id: "TISI".into(),
        kind: Some("urn:th:tisi:party".into()),
    };
    let a = app
        .post(&crate::messages::request(
            &h,
            &special_request("REF-TYPED-1", 5),
            Packaging::Inline,
            crate::messages::sync_ack(),
        ))
        .await;
    assert_eq!(a.status, 200, "{}", a.text());
    let sync = a.reply();
    assert_eq!((&sync.header.from, &sync.header.to), (&h.to, &h.from));
    let first = a.permit_response();
    assert_eq!(first.decision.code(), "UNDER_REVIEW");

    let path = format!("/admin/review/{}/items/1/approve", first.request_id);
    let (status, done) =
        admin_post(&app, &path, SOMCHAI, serde_json::json!({"reason": "ok"})).await;
    assert_eq!(status, 200, "{done}");

    let fake = FakeNsw::start(vec![], Answer::Ok).await;
    let worker = worker_for(
        app.handle.store().clone(),
        &app.settings,
        &fake,
        test_clock(),
    );
    assert_eq!(worker.run_once().await, 1);
    let sent = fake.received().remove(0);
    let later = reply::parse_reply(Some(&sent.content_type), &sent.body).unwrap();
    assert_eq!(later.header.to, sync.header.to);
    assert_eq!(later.header.from, sync.header.from);
    assert_eq!(later.header.conversation_id, h.conversation_id);
}

/// An officer's decision waiting in the outbox is outdated once its request is cancelled: it is
/// not sent after the cancellation's answer but taken out of delivery, audited; the decision
/// on a request that stands is sent.
#[tokio::test]
async fn a_cancellation_withdraws_the_outdated_answers_waiting_to_be_sent() {
    let app = officer_app(false).await;
    let cancelled = decide(&app, &special_request("REF-WITHDRAW-1", 5)).await;
    let stands = decide(&app, &special_request("REF-WITHDRAW-2", 5)).await;
    for r in [&cancelled, &stands] {
        let (status, done) = act(&app, &r.request_id, "approve", "fine").await;
        assert_eq!(status, 200, "{done}");
    }
    let cancel = special_request("REF-WITHDRAW-1", 5)
        .replace("<Function>9</Function>", "<Function>1</Function>");
    let answer = decide(&app, &cancel).await;
    assert_eq!(answer.decision.code(), "CANCELLED", "{answer:?}");

    let delivered = deliver(&app).await;
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    assert_eq!(delivered[0].1.request_id, stands.request_id);
    assert_eq!(delivered[0].1.decision.code(), "APPROVED");

    let (_, dead) = app.admin_get("/admin/outbox?status=DEAD", ADMIN).await;
    let items = dead["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{dead}");
    let (_, shown) = app
        .admin_get(&format!("/admin/outbox/{}", items[0]["id"]), ADMIN)
        .await;
    assert!(
        shown["last_error"].as_str().is_some_and(
            |e| e.starts_with("outdated, not sent: Cancelled at the importer's request")
        ),
        "{shown}"
    );
    assert_eq!(shown["audit"][0]["actor"], "system", "{shown}");
    assert_eq!(shown["audit"][0]["action"], "withdraw", "{shown}");
    // Taken out of delivery: nothing of it is sent later either.
    assert!(deliver(&app).await.is_empty());
}
