//! The status API and page over real HTTP: access per key (importer, broker, revoked),
//! keyset pagination over a long history, problem documents, OpenAPI coverage, the page.

use std::collections::BTreeSet;

use nsw_gateway::api::keys;
use nsw_gateway::domain::{Branch, PartyKey, TaxNumber};
use nsw_gateway::store::api::{api_key_target, NewApiKey, Revocation};
use nsw_gateway::wire::intake::Packaging;
use serde_json::Value;

use crate::helpers::{spawn_app, spawn_app_with, Options, TestApp};
use crate::messages::*;

/// Importer B holds the licence: its requests get permits.
const B: &str = IMPORTER;
/// Importers A and C hold no licence: their requests are rejected.
const A: &str = "0994000617721";
const C: &str = "3100600445635";

fn party(tax: &str) -> PartyKey {
    PartyKey {
        tax_number: TaxNumber::parse(tax).unwrap(),
        branch: Branch::parse("00000").unwrap(),
    }
}

/// A permit request of `importer` (B's licence, so only B's is approved).
fn request_of(importer: &str, reference: &str, licence: &str) -> String {
    permit_request(reference, licence, 100).replace(
        &format!("<TaxNumber>{IMPORTER}</TaxNumber>"),
        &format!("<TaxNumber>{importer}</TaxNumber>"),
    )
}

impl TestApp {
    fn api(&self, path: &str) -> String {
        format!("{}{path}", self.api_url)
    }

    /// Sends a permit request; returns the decision and the permit number.
    async fn decide(
        &self,
        importer: &str,
        reference: &str,
        licence: &str,
    ) -> (String, Option<String>) {
        let built = request(
            &header("ImportPermitRequest"),
            &request_of(importer, reference, licence),
            Packaging::Inline,
            sync_ack(),
        );
        let a = self.post(&built).await;
        assert_eq!(a.status, 200, "{}", a.text());
        let r = a.permit_response();
        (
            r.decision.code().to_string(),
            r.permit.map(|p| p.number.to_string()),
        )
    }

    /// Creates a key through the store; returns (id, key).
    async fn key(&self, importers: &[&str], broker: Option<&str>) -> (String, String) {
        let g = keys::generate();
        self.handle
            .store()
            .create_api_key(NewApiKey {
                id: g.id.clone(),
                key_sha256: g.key_sha256.clone(),
                broker: broker.map(str::to_string),
                importers: importers.iter().map(|t| party(t)).collect(),
                created_at: chrono::Utc::now(),
                actor: "test".into(),
            })
            .await
            .unwrap();
        (g.id, g.key)
    }

    async fn get_json(&self, key: Option<&str>, path: &str) -> (u16, String, Value) {
        let mut req = self.client.get(self.api(path));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let ct = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = r.text().await.unwrap();
        let v = serde_json::from_str(&body).unwrap_or(Value::String(body));
        (status, ct, v)
    }
}

/// Checks an RFC 9457 problem: status, media type, members, and a detail naming `mentions`.
fn check_problem(got: &(u16, String, Value), status: u16, mentions: &str) {
    let (s, ct, v) = got;
    assert_eq!(*s, status, "{v}");
    assert_eq!(ct, "application/problem+json", "{v}");
    assert_eq!(v["status"], status, "{v}");
    assert!(
        v["type"].as_str().is_some_and(|t| t.starts_with("urn:")),
        "{v}"
    );
    assert!(v["title"].as_str().is_some_and(|t| !t.is_empty()), "{v}");
    let detail = v["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(mentions),
        "detail {detail:?} lacks {mentions:?}"
    );
    let keys: BTreeSet<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    assert_eq!(keys, BTreeSet::from(["detail", "status", "title", "type"]));
}

/// On SQLite, makes every stored permit unreadable (an issue date that is no date), so that
/// a test can tell whether an answer read one; `false` on PostgreSQL, whose typed column
/// refuses it.
async fn permits_made_unreadable(app: &TestApp) -> bool {
    let url = &app.settings.database.url;
    if !url.starts_with("sqlite:") {
        return false;
    }
    let pool = sqlx::SqlitePool::connect(url).await.unwrap();
    sqlx::query("UPDATE permits SET issue_date = 'unreadable'")
        .execute(&pool)
        .await
        .unwrap();
    true
}

#[tokio::test]
async fn an_importer_key_sees_its_own_data_and_nothing_of_another_importer() {
    let app = spawn_app().await;
    let (decision, permit) = app.decide(B, "REF-B-1", LICENCE_OK).await;
    assert_eq!(decision, "APPROVED");
    let permit = permit.unwrap();
    let (decision, _) = app.decide(A, "REF-A-1", LICENCE_OK).await;
    assert_eq!(decision, "REJECTED");
    let (_, key_a) = app.key(&[A], None).await;
    let (_, key_b) = app.key(&[B], None).await;

    // B sees its permit: decision, items with quantities and bilingual reasons, history.
    let (s, ct, v) = app
        .get_json(Some(&key_b), &format!("/api/v1/permits/{permit}"))
        .await;
    assert_eq!((s, ct.as_str()), (200, "application/json"), "{v}");
    assert_eq!(v["decision"], "APPROVED");
    assert_eq!(v["reference"], "REF-B-1");
    assert_eq!(v["permit"]["permit_number"], permit.as_str());
    assert_eq!(v["permit"]["status"], "ACTIVE");
    let item = &v["items"][0];
    assert_eq!(
        (
            &item["unit"],
            &item["approved"],
            &item["written_off"],
            &item["remaining"]
        ),
        (
            &Value::from("C62"),
            &Value::from("100"),
            &Value::from("0"),
            &Value::from("100")
        )
    );
    assert_eq!(v["decision_text"]["en"], "Approved");
    let history = v["history"].as_array().unwrap();
    assert!(!history.is_empty());
    assert_eq!(history[0]["actor"], "system");
    assert_eq!(history[0]["state_text"]["en"], "Approved");
    assert!(history[0]["reason"]["th"]
        .as_str()
        .unwrap()
        .contains(&permit));
    assert!(history[0]["reason"]["en"]
        .as_str()
        .unwrap()
        .contains(&permit));

    // The same request by reference.
    let (s, _, v2) = app
        .get_json(
            Some(&key_b),
            &format!("/api/v1/requests/by-reference/{B}/00000/REF-B-1"),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(v2, v);

    // A's own rejected request carries the reasons in both languages.
    let (s, _, v) = app
        .get_json(
            Some(&key_a),
            &format!("/api/v1/requests/by-reference/{A}/00000/REF-A-1"),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["decision"], "REJECTED");
    assert!(v["permit"].is_null());
    let reason = &v["items"][0]["reasons"][0];
    assert_eq!(reason["code"], "LICENCE_HOLDER_MISMATCH");
    assert!(!reason["message"]["th"].as_str().unwrap().is_empty());
    assert!(!reason["message"]["en"].as_str().unwrap().is_empty());
    assert_eq!(v["items"][0]["approved"], "0");

    // A cannot see B: every route answers 404, the same as for something that does not exist.
    for path in [
        format!("/api/v1/permits/{permit}"),
        format!("/api/v1/requests/by-reference/{B}/00000/REF-B-1"),
        format!("/api/v1/importers/{B}/00000/requests"),
    ] {
        check_problem(&app.get_json(Some(&key_a), &path).await, 404, "no ");
    }
    check_problem(
        &app.get_json(Some(&key_a), "/api/v1/permits/TISI-P-2569-09999999")
            .await,
        404,
        "no permit",
    );
    // And B cannot see A's request.
    check_problem(
        &app.get_json(
            Some(&key_b),
            &format!("/api/v1/requests/by-reference/{A}/00000/REF-A-1"),
        )
        .await,
        404,
        "REF-A-1",
    );

    // Another importer's permit is not even read (its answer would take as long as reading
    // it): with its rows made unreadable, A still gets the 404 of a missing permit.
    if permits_made_unreadable(&app).await {
        check_problem(
            &app.get_json(Some(&key_a), &format!("/api/v1/permits/{permit}"))
                .await,
            404,
            "no permit",
        );
        let (s, _, _) = app
            .get_json(Some(&key_b), &format!("/api/v1/permits/{permit}"))
            .await;
        assert_eq!(s, 500, "the rows are unreadable indeed");
    }
}

#[tokio::test]
async fn a_broker_sees_exactly_the_importers_it_was_granted() {
    let app = spawn_app().await;
    let (_, permit_b) = app.decide(B, "REF-B-1", LICENCE_OK).await;
    app.decide(A, "REF-A-1", LICENCE_OK).await;
    app.decide(C, "REF-C-1", LICENCE_OK).await;
    let (_, broker) = app.key(&[A, B], Some("Siam Customs Brokers")).await;

    let permit_b = permit_b.unwrap();
    let (s, _, _) = app
        .get_json(Some(&broker), &format!("/api/v1/permits/{permit_b}"))
        .await;
    assert_eq!(s, 200);
    for (importer, letter, visible) in [(A, "A", true), (B, "B", true), (C, "C", false)] {
        let (s, _, v) = app
            .get_json(
                Some(&broker),
                &format!("/api/v1/importers/{importer}/00000/requests"),
            )
            .await;
        if visible {
            assert_eq!(s, 200, "{importer}: {v}");
            let refs: Vec<&str> = v["requests"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["reference"].as_str().unwrap())
                .collect();
            assert_eq!(refs, [format!("REF-{letter}-1")], "{v}");
        } else {
            check_problem(
                &(s, "application/problem+json".into(), v.clone()),
                404,
                importer,
            );
        }
        let (s, _, _) = app
            .get_json(
                Some(&broker),
                &format!("/api/v1/requests/by-reference/{importer}/00000/REF-{letter}-1"),
            )
            .await;
        assert_eq!(s == 200, visible, "{importer}");
    }
    // Another branch of a granted importer is not granted.
    let (s, _, _) = app
        .get_json(
            Some(&broker),
            &format!("/api/v1/importers/{A}/00001/requests"),
        )
        .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn missing_wrong_and_revoked_keys_are_refused_with_401() {
    let app = spawn_app().await;
    let (id, key) = app.key(&[B], None).await;
    let path = format!("/api/v1/importers/{B}/00000/requests");
    assert_eq!(app.get_json(Some(&key), &path).await.0, 200);

    let wrong_secret = format!("{id}.{}", "A".repeat(43));
    for k in [None, Some("garbage"), Some(wrong_secret.as_str())] {
        let r = app.get_json(k, &path).await;
        check_problem(&r, 401, "API key");
    }
    let r = app.client.get(app.api(&path)).send().await.unwrap();
    assert_eq!(r.headers()["www-authenticate"], "Bearer");

    let revoke = |id: &str| Revocation {
        id: id.to_string(),
        at: chrono::Utc::now(),
        actor: "admin".into(),
        reason: "holder left the company".into(),
    };
    let store = app.handle.store();
    assert!(store.revoke_api_key(revoke(&id)).await.unwrap());
    check_problem(&app.get_json(Some(&key), &path).await, 401, "API key");
    let listed = store.api_keys().await.unwrap();
    assert!(listed[0].revoked_at.is_some());
    // Revoking again changes nothing, and is not audited again.
    assert!(store.revoke_api_key(revoke(&id)).await.unwrap());
    assert_eq!(
        store.api_keys().await.unwrap()[0].revoked_at,
        listed[0].revoked_at
    );
    let audit: Vec<(String, String, String)> = store
        .audit_log(&api_key_target(&id))
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.action, a.actor, a.detail))
        .collect();
    assert_eq!(
        audit,
        [
            (
                "APIKEY_CREATE".to_string(),
                "test".to_string(),
                format!("importers {B}/00000")
            ),
            (
                "APIKEY_REVOKE".to_string(),
                "admin".to_string(),
                "holder left the company".to_string()
            ),
        ]
    );
    assert!(!store.revoke_api_key(revoke("000000000000")).await.unwrap());
    assert!(store
        .audit_log(&api_key_target("000000000000"))
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn failed_authentication_is_rate_limited_per_client_address() {
    let app = spawn_app_with(Options {
        api: "auth_failures_per_minute = 3".into(),
        ..Options::default()
    })
    .await;
    let path = format!("/api/v1/importers/{B}/00000/requests");
    let statuses: Vec<u16> = {
        let mut v = Vec::new();
        for _ in 0..5 {
            v.push(app.get_json(Some("nope"), &path).await.0);
        }
        v
    };
    assert_eq!(statuses, [401, 401, 401, 429, 429]);
    let r = app
        .client
        .get(app.api(&path))
        .bearer_auth("x")
        .send()
        .await
        .unwrap();
    assert!(r.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn invalid_parameters_get_problem_documents_naming_the_field() {
    let app = spawn_app().await;
    let (_, key) = app.key(&[B], None).await;
    let k = Some(key.as_str());
    let list = format!("/api/v1/importers/{B}/00000/requests");
    let cases: &[(&str, u16, &str)] = &[
        ("/api/v1/permits/NOT-A-PERMIT", 400, "permit_number"),
        (
            "/api/v1/requests/by-reference/0105536112015/00000/R",
            400,
            "tax_number",
        ),
        (
            "/api/v1/requests/by-reference/0105536112014/0/R",
            400,
            "branch",
        ),
        ("/api/v1/importers/123/x/requests", 400, "tax_number"),
        ("/api/v1/nothing-here", 404, "no such resource"),
        (
            "/api/v1/requests/by-reference/0105536112014/00000/%FF%FE",
            400,
            "path: ",
        ),
    ];
    for (path, status, field) in cases {
        check_problem(&app.get_json(k, path).await, *status, field);
    }
    let list_cases: &[(&str, &str)] = &[
        ("status=MAYBE", "status"),
        ("from=2026-13-01", "from"),
        ("from=2569-11-29", "Buddhist-era"),
        ("to=yesterday", "to"),
        ("from=2026-02-01&to=2026-01-01", "before from"),
        ("cursor=xyz", "cursor"),
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        (
            "status=APPROVED&status=REJECTED",
            "status: is given more than once",
        ),
    ];
    for (q, field) in list_cases {
        check_problem(&app.get_json(k, &format!("{list}?{q}")).await, 400, field);
    }
    // Several problems are reported together.
    let (_, _, v) = app.get_json(k, &format!("{list}?status=X&limit=-1")).await;
    let d = v["detail"].as_str().unwrap();
    assert!(d.contains("status") && d.contains("limit"), "{d}");
    // A method the API does not serve.
    let r = app
        .client
        .post(app.api("/api/v1/permits/TISI-P-2569-00000001"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let ct = r.headers()["content-type"].to_str().unwrap().to_string();
    let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    check_problem(&(status, ct, v), 405, "GET only");
}

/// Spec §3.4: the API shows the quantities a PermitStatusQuery gives: nothing remains on a
/// cancelled permit, and the decision's time is the cancellation's. Answers are not cached.
#[tokio::test]
async fn a_cancelled_permit_shows_nothing_remaining() {
    let app = spawn_app().await;
    let (decision, permit) = app.decide(B, "REF-B-CANCEL", LICENCE_OK).await;
    assert_eq!(decision, "APPROVED");
    let permit = permit.unwrap();
    let (_, key) = app.key(&[B], None).await;
    let path = format!("/api/v1/permits/{permit}");
    let (_, _, before) = app.get_json(Some(&key), &path).await;
    assert_eq!(before["items"][0]["remaining"], "100", "{before}");

    let cancel = request_of(B, "REF-B-CANCEL", LICENCE_OK)
        .replace("<Function>9</Function>", "<Function>1</Function>");
    let a = app
        .post(&request(
            &header("ImportPermitRequest"),
            &cancel,
            Packaging::Inline,
            sync_ack(),
        ))
        .await;
    assert_eq!(a.permit_response().decision.code(), "CANCELLED");
    let r = app
        .client
        .get(app.api(&path))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["cache-control"], "no-store");
    let after: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(after["decision"], "CANCELLED", "{after}");
    assert_eq!(after["permit"]["status"], "CANCELLED");
    let item = &after["items"][0];
    assert_eq!(
        (&item["approved"], &item["written_off"], &item["remaining"]),
        (&Value::from("100"), &Value::from("0"), &Value::from("0")),
        "{after}"
    );
    assert!(
        after["decided_at"].as_str() > before["decided_at"].as_str(),
        "{} after {}",
        after["decided_at"],
        before["decided_at"]
    );
    let (_, _, list) = app
        .get_json(Some(&key), &format!("/api/v1/importers/{B}/00000/requests"))
        .await;
    assert_eq!(
        list["requests"][0]["decided_at"], after["decided_at"],
        "{list}"
    );
    assert_eq!(
        list["requests"][0]["permit_status_text"]["en"], "Cancelled",
        "{list}"
    );
}

/// A cursor names a request of the list it came from: it shows nothing of the requests of
/// others, and positions no other importer's list.
#[tokio::test]
async fn a_cursor_tells_nothing_of_other_importers() {
    let app = spawn_app().await;
    app.decide(A, "REF-A-1", LICENCE_OK).await;
    app.decide(C, "REF-C-1", LICENCE_OK).await;
    app.decide(A, "REF-A-2", LICENCE_OK).await;
    let (_, broker) = app.key(&[A, C], Some("Siam Customs Brokers")).await;
    let list = |importer: &str, cursor: Option<&str>| {
        let path = match cursor {
            None => format!("/api/v1/importers/{importer}/00000/requests?limit=1"),
            Some(c) => format!("/api/v1/importers/{importer}/00000/requests?limit=1&cursor={c}"),
        };
        let (app, broker) = (&app, &broker);
        async move {
            let (s, _, v) = app.get_json(Some(broker), &path).await;
            assert_eq!(s, 200, "{v}");
            v
        }
    };
    let first = list(A, None).await;
    assert_eq!(first["requests"][0]["reference"], "REF-A-2", "{first}");
    let cursor = first["next_cursor"].as_str().unwrap().to_string();
    // Base64 of the last request's public id: no count of the gateway's requests in it.
    use base64::Engine;
    let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&cursor)
        .unwrap();
    let decoded = String::from_utf8(decoded).unwrap();
    assert_eq!(
        decoded,
        format!(
            "r2:{}",
            first["requests"][0]["request_id"].as_str().unwrap()
        )
    );
    let second = list(A, Some(&cursor)).await;
    assert_eq!(second["requests"][0]["reference"], "REF-A-1", "{second}");
    assert!(second["next_cursor"].is_null(), "{second}");
    let elsewhere = list(C, Some(&cursor)).await;
    assert_eq!(
        elsewhere["requests"].as_array().unwrap().len(),
        0,
        "{elsewhere}"
    );
    assert!(elsewhere["next_cursor"].is_null(), "{elsewhere}");
}

#[tokio::test]
async fn pagination_walks_a_thousand_requests_without_gaps_or_repeats() {
    let app = spawn_app().await;
    // 1,000 requests of B: every tenth approved, the rest rejected (revoked licence).
    let mut tasks = tokio::task::JoinSet::new();
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(16));
    for i in 0..1000 {
        let client = app.client.clone();
        let url = app.url("/ebms");
        let sem = sem.clone();
        tasks.spawn(async move {
            let _p = sem.acquire().await.unwrap();
            let licence = if i % 10 == 0 {
                LICENCE_OK
            } else {
                LICENCE_REVOKED
            };
            let built = request(
                &header("ImportPermitRequest"),
                &request_of(B, &format!("REF-{i:04}"), licence),
                Packaging::Inline,
                sync_ack(),
            );
            let r = client
                .post(url)
                .header("Content-Type", &built.content_type)
                .body(built.body.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    let (_, key) = app.key(&[B], None).await;
    let walk = |query: &'static str, limit: u32| {
        let app = &app;
        let key = key.clone();
        async move {
            let mut seen = Vec::new();
            let mut cursor: Option<String> = None;
            let mut pages = 0;
            loop {
                let mut path = format!("/api/v1/importers/{B}/00000/requests?limit={limit}{query}");
                if let Some(c) = &cursor {
                    path.push_str(&format!("&cursor={c}"));
                }
                let (s, _, v) = app.get_json(Some(&key), &path).await;
                assert_eq!(s, 200, "{v}");
                pages += 1;
                let page = v["requests"].as_array().unwrap();
                assert!(page.len() <= limit as usize);
                seen.extend(
                    page.iter()
                        .map(|r| r["reference"].as_str().unwrap().to_string()),
                );
                match v["next_cursor"].as_str() {
                    Some(c) => cursor = Some(c.to_string()),
                    None => break,
                }
            }
            (seen, pages)
        }
    };
    let (seen, pages) = walk("", 37).await;
    assert_eq!(seen.len(), 1000);
    assert_eq!(pages, 28);
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), 1000, "no repeats");
    let expected: BTreeSet<String> = (0..1000).map(|i| format!("REF-{i:04}")).collect();
    assert_eq!(
        unique.into_iter().cloned().collect::<BTreeSet<_>>(),
        expected,
        "no gaps"
    );

    let (approved, _) = walk("&status=APPROVED", 200).await;
    assert_eq!(approved.len(), 100);
    assert!(approved.iter().all(|r| r.ends_with('0')));
    let today = nsw_gateway::http::context::thai_date(chrono::Utc::now());
    let (none, _) = walk(
        Box::leak(format!("&to={}", today.pred_opt().unwrap()).into_boxed_str()),
        200,
    )
    .await;
    assert!(none.is_empty());
    let (all, pages) = walk(
        Box::leak(format!("&from={today}&to={today}&status=rejected").into_boxed_str()),
        200,
    )
    .await;
    assert_eq!((all.len(), pages), (900, 5));
}

#[tokio::test]
async fn every_route_of_the_router_is_in_the_openapi_document() {
    let app = spawn_app().await;
    let (s, ct, doc) = app.get_json(None, "/api/v1/openapi.json").await;
    assert_eq!((s, ct.as_str()), (200, "application/json"));
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{doc}");
    let routes = nsw_gateway::api::registered_routes();
    assert!(routes.len() >= 5);
    for (method, path) in routes {
        let op = &doc["paths"][path][method.as_str().to_ascii_lowercase()];
        assert!(
            op.is_object(),
            "{method} {path} is not in the OpenAPI document"
        );
    }
    assert!(doc["components"]["securitySchemes"]["api_key"].is_object());
    assert!(doc["components"]["schemas"]["Problem"].is_object());
}

#[tokio::test]
async fn the_status_page_needs_the_importer_tax_number_with_the_permit_number() {
    let app = spawn_app().await;
    let (_, permit) = app.decide(B, "REF-PAGE-1", LICENCE_OK).await;
    let permit = permit.unwrap();
    let page = |q: String| {
        let app = &app;
        async move {
            let r = app
                .client
                .get(app.api(&format!("/status{q}")))
                .send()
                .await
                .unwrap();
            let s = r.status().as_u16();
            (s, r.text().await.unwrap())
        }
    };
    let (s, html) = page(String::new()).await;
    assert_eq!(s, 200);
    assert!(html.contains("name=\"permit\"") && html.contains("name=\"tax\""));

    let (s, html) = page(format!("?permit={permit}&tax={B}")).await;
    assert_eq!(s, 200, "{html}");
    for text in [
        "APPROVED",
        "อนุมัติ",
        "Approved",
        permit.as_str(),
        "REF-PAGE-1",
        "C62",
    ] {
        assert!(html.contains(text), "page lacks {text}");
    }
    let (s, html) = page(format!("?tax={B}&branch=00000&reference=REF-PAGE-1")).await;
    assert_eq!(s, 200);
    assert!(html.contains(&permit));

    // The right permit number with another importer's tax number finds nothing.
    let (s, html) = page(format!("?permit={permit}&tax={A}")).await;
    assert_eq!(s, 404);
    assert!(html.contains("ไม่พบคำขอ") && html.contains("No request or permit matches"));
    assert!(!html.contains("REF-PAGE-1"));

    // A permit number alone is not enough; invalid fields are named in both languages.
    let (s, html) = page(format!("?permit={permit}")).await;
    assert_eq!(s, 400);
    assert!(html.contains("เลขประจำตัวผู้เสียภาษี") && html.contains("tax number"));

    // Another importer's permit is not even read: with its rows made unreadable, the answer
    // is still the 404 of a missing permit.
    if permits_made_unreadable(&app).await {
        let (s, _) = page(format!("?permit={permit}&tax={A}")).await;
        assert_eq!(s, 404);
        let (s, _) = page(format!("?permit={permit}&tax={B}")).await;
        assert_eq!(s, 500, "the rows are unreadable indeed");
    }
}

/// Runs the binary without blocking the runtime: a gateway spawned by the test runs on the same
/// runtime and must go on committing while the command waits for the database.
async fn cli(args: &[&str]) -> (bool, String, String) {
    let o = tokio::process::Command::new(env!("CARGO_BIN_EXE_nsw-gateway"))
        .args(args)
        .env_remove("SUDO_USER")
        .env("USER", "somchai")
        .output()
        .await
        .expect("the binary runs");
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[tokio::test]
async fn apikey_commands_create_list_and_revoke_keys_stored_only_as_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("keys.db").display());
    // Keys go into a database that exists (a typing error would otherwise create another).
    let (ok, out, err) = cli(&["--database", &db, "migrate"]).await;
    assert!(ok, "{out}{err}");
    let (ok, out, err) = cli(&[
        "--database",
        &db,
        "apikey",
        "create",
        "--importer",
        &format!("{B}/00000"),
    ])
    .await;
    assert!(ok, "{out}{err}");
    let id = out
        .lines()
        .find_map(|l| l.strip_prefix("id:  "))
        .unwrap()
        .to_string();
    let key = out
        .lines()
        .find_map(|l| l.strip_prefix("key: "))
        .unwrap()
        .to_string();
    assert_eq!(keys::public_id(&key), Some(id.as_str()));

    let (ok, out, err) = cli(&[
        "--database",
        &db,
        "apikey",
        "create",
        "--broker",
        "Siam Customs Brokers",
        "--importer",
        &format!("{A}/00000"),
        "--importer",
        &format!("{C}/00000"),
    ])
    .await;
    assert!(ok, "{out}{err}");

    // Invalid arguments are all named; nothing is created.
    let (ok, _, err) = cli(&[
        "--database",
        &db,
        "apikey",
        "create",
        "--importer",
        "0105536112015/00000",
        "--importer",
        &format!("{A}/0"),
    ])
    .await;
    assert!(!ok);
    assert!(
        err.contains("0105536112015") && err.contains(&format!("{A}/0")),
        "{err}"
    );

    let (ok, list, _) = cli(&["--database", &db, "apikey", "list"]).await;
    assert!(ok);
    assert_eq!(list.lines().count(), 2, "{list}");
    assert!(
        list.contains(&id) && list.contains("broker Siam Customs Brokers"),
        "{list}"
    );
    assert!(!list.contains(&key[13..]), "the list never shows a key");

    // Only the SHA-256 is stored, and the key works against a gateway on that database.
    let app = spawn_app_with(Options {
        database_url: Some(db.clone()),
        ..Options::default()
    })
    .await;
    let stored = app.handle.store().api_key(&id).await.unwrap().unwrap();
    assert_eq!(stored.key_sha256, keys::hash(&key));
    assert_ne!(stored.key_sha256, key);
    let path = format!("/api/v1/importers/{B}/00000/requests");
    assert_eq!(app.get_json(Some(&key), &path).await.0, 200);

    let (ok, out, _) = cli(&[
        "--database",
        &db,
        "apikey",
        "revoke",
        &id,
        "--reason",
        "laptop stolen",
    ])
    .await;
    assert!(ok, "{out}");
    check_problem(&app.get_json(Some(&key), &path).await, 401, "API key");
    let (_, list, _) = cli(&["--database", &db, "apikey", "list"]).await;
    assert!(
        list.lines()
            .any(|l| l.starts_with(&id) && l.contains("revoked")),
        "{list}"
    );
    // Who created and revoked the key, and why, is on record.
    let (ok, shown, _) = cli(&["--database", &db, "apikey", "show", &id]).await;
    assert!(ok, "{shown}");
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines.len(), 3, "{shown}");
    assert!(
        lines[0].starts_with(&id) && lines[0].contains("revoked"),
        "{shown}"
    );
    assert!(
        lines[1].contains("APIKEY_CREATE  cli:somchai  importers ") && lines[1].contains(B),
        "{shown}"
    );
    assert!(
        lines[2].ends_with("APIKEY_REVOKE  cli:somchai  laptop stolen"),
        "{shown}"
    );
    for command in ["revoke", "show"] {
        let (ok, _, err) = cli(&["--database", &db, "apikey", command, "000000000000"]).await;
        assert!(!ok, "{command}");
        assert!(err.contains("no API key"), "{command}: {err}");
    }
}

#[tokio::test]
async fn fruitless_page_look_ups_are_limited_per_client_address() {
    let app = spawn_app_with(Options {
        api: "auth_failures_per_minute = 2".into(),
        ..Options::default()
    })
    .await;
    let (_, permit) = app.decide(B, "REF-GUESS-1", LICENCE_OK).await;
    let permit = permit.unwrap();
    let mut statuses = Vec::new();
    for tax in [A, C, A] {
        let r = app
            .client
            .get(app.api(&format!("/status?permit={permit}&tax={tax}")))
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, [404, 404, 429]);
    // Blocked: even the right pair is not answered until the budget refills.
    let r = app
        .client
        .get(app.api(&format!("/status?permit={permit}&tax={B}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    // As the API's 429: when to come back.
    let secs: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(secs >= 1, "{secs}");
    let html = r.text().await.unwrap();
    assert!(html.contains("Too many look-ups") && !html.contains("REF-GUESS-1"));
}
