//! Contract tests: one suite, run against SQLite always and against PostgreSQL when
//! `TEST_DATABASE_URL` is set (a fresh database per test, dropped afterwards). The decision
//! rules, the line matching and the rendering are fakes: the store is tested alone.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};

use super::*;
use crate::domain::*;

// ---------------------------------------------------------------------------------------------
// Databases
// ---------------------------------------------------------------------------------------------

pub(crate) struct Db {
    pub(crate) store: Store,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

impl Drop for Db {
    fn drop(&mut self) {
        let Some((admin, name)) = self.pg.take() else {
            return;
        };
        // Drop the database from a thread of its own: Drop cannot await.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                use sqlx::Connection;
                if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut c)
                        .await;
                }
            });
        })
        .join();
    }
}

pub(crate) async fn sqlite_db() -> Db {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/nested/gateway.db", dir.path().display());
    let store = Store::connect(&url).await.expect("connect sqlite");
    store.migrate().await.expect("migrate sqlite");
    Db {
        store,
        _dir: Some(dir),
        pg: None,
    }
}

/// A fresh PostgreSQL database, or `None` when `TEST_DATABASE_URL` is not set.
pub(crate) async fn pg_db() -> Option<Db> {
    let admin = std::env::var("TEST_DATABASE_URL").ok()?;
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    {
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect(&admin)
            .await
            .expect("connect admin");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut c)
            .await
            .expect("create database");
    }
    let url = pg_url(&admin, &name);
    let store = Store::connect(&url).await.expect("connect postgres");
    store.migrate().await.expect("migrate postgres");
    Some(Db {
        store,
        _dir: None,
        pg: Some((admin, name)),
    })
}

fn pg_url(admin: &str, name: &str) -> String {
    let (base, query) = match admin.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (admin, String::new()),
    };
    let root = base.rsplit_once('/').map(|(r, _)| r).unwrap_or(base);
    format!("{root}/{name}{query}")
}

/// Runs a contract test on both backends.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let db = super::sqlite_db().await;
                super::$name(&db.store).await;
                super::no_row_without_its_parent(&db.store).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                if let Some(db) = super::pg_db().await {
                    super::$name(&db.store).await;
                }
            }
        }
    )*};
}

contract!(
    concurrent_copies_make_one_decision,
    another_partys_message_id_gets_no_reply,
    uncommitted_message_is_not_a_duplicate,
    racing_declarations_never_exceed_the_permit,
    write_off_is_all_or_nothing,
    same_declaration_number_deducts_once,
    amendment_restores_once,
    replacement_and_cancellation,
    permit_in_use_blocks_replacement_and_cancellation,
    unknown_reference_cannot_be_replaced,
    identical_resend_and_duplicate_reference,
    requests_of_every_size_are_rebuilt_from_their_rows,
    concurrent_resends_of_one_reference_share_one_decision,
    permit_numbers_are_unique_and_increasing,
    special_usage_sums_per_importer_purpose_and_year,
    special_usage_counts_what_was_or_may_be_permitted,
    refdata_round_trip_and_licence_status,
    a_decision_behind_the_stored_statuses_runs_again,
    snapshot_is_built_while_the_rows_stream_in,
    status_query_by_permit_and_reference,
    a_refusal_after_inspection_cancels_a_used_permit,
    a_replacement_keeps_when_a_refusal_cancelled_the_permit,
    asynchronous_reply_goes_to_the_outbox,
    script_returns_each_statements_rows_and_count,
    no_index_repeats_another,
);

/// SQLite's writer does not enforce foreign keys: after every contract test, every row's
/// parent is there (and the file's structure is sound).
async fn no_row_without_its_parent(store: &Store) {
    assert_eq!(store.check().await.unwrap(), Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------------
// Fakes
// ---------------------------------------------------------------------------------------------

const IMPORTER: &str = "0105536112014";
const OTHER_IMPORTER: &str = "0994000617721";

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 26).unwrap()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 7, 0, 0).unwrap() + Duration::nanoseconds(123_456_789)
}

fn arrival() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 10).unwrap()
}

/// Records every document it renders, keyed by message id. The body is a dump of the
/// document, so equal bodies mean equal documents.
#[derive(Default)]
struct FakeRenderer {
    docs: Mutex<HashMap<String, OutboundDocument>>,
}

impl Renderer for FakeRenderer {
    fn render(&self, meta: &MessageMeta, doc: &OutboundDocument) -> Rendered {
        self.docs
            .lock()
            .unwrap()
            .insert(meta.message_id.clone(), doc.clone());
        let body = format!("{doc:?}").into_bytes();
        if meta.sync_reply {
            Rendered {
                http_status: 200,
                content_type: "text/plain".into(),
                body,
                outbox: None,
            }
        } else {
            Rendered {
                http_status: 202,
                content_type: "text/plain".into(),
                body: Vec::new(),
                outbox: Some(OutboundMessage {
                    message_id: format!("out-{}", meta.message_id),
                    conversation_id: meta.conversation_id.clone(),
                    partner: meta.from_party.clone(),
                    content_type: "text/plain".into(),
                    body,
                    ack_requested: meta.ack_requested,
                }),
            }
        }
    }
}

/// The special-import cap of the fake rules: 10 units per importer, purpose and year.
const SPECIAL_CAP: u64 = 10_000;

/// Approves every item (its whole quantity) unless its description says `REJECT`; an item
/// whose description says `FREE` is NOT_REQUIRED (uncontrolled); a special item is rejected
/// when the importer's usage plus this quantity passes the cap; an item whose description says
/// `REVIEW` waits for an officer (special items only), one that says `HOLD` is held for
/// inspection.
fn fake_decide(req: &ImportPermitRequest, usage: &dyn SpecialUsage) -> Decision {
    let importer = req.importer.key().expect("valid importer");
    let mut this_request: HashMap<String, u64> = HashMap::new();
    let items: Vec<ItemResult> = req
        .items
        .iter()
        .map(|g| {
            let mut reasons = Vec::new();
            let mut status = ItemStatus::Approved;
            if g.description.contains("REJECT") {
                status = ItemStatus::Rejected;
                reasons.push(reason(
                    ReasonCode::StandardUnknown,
                    "/ImportPermitRequest/GoodsItem/Standard",
                ));
            } else if g.description.contains("FREE") {
                status = ItemStatus::NotRequired;
            } else if let Some(p) = &g.special_purpose {
                let year = req.shipment.arrival_date.year();
                let before = usage.used(&importer, p, year).milli();
                let mine = this_request.entry(p.clone()).or_default();
                if before + *mine + g.quantity.amount.milli() > SPECIAL_CAP {
                    status = ItemStatus::Rejected;
                    reasons.push(reason(
                        ReasonCode::SpecialQuantityExceeded,
                        "/ImportPermitRequest/GoodsItem/Quantity",
                    ));
                } else {
                    *mine += g.quantity.amount.milli();
                    if g.description.contains("REVIEW") {
                        status = ItemStatus::UnderReview;
                        reasons.push(reason(
                            ReasonCode::OfficerReview,
                            "/ImportPermitRequest/GoodsItem/SpecialPurpose",
                        ));
                    } else if g.description.contains("HOLD") {
                        status = ItemStatus::HoldForInspection;
                        reasons.push(reason(
                            ReasonCode::InspectionSelected,
                            "/ImportPermitRequest/GoodsItem",
                        ));
                    }
                }
            } else if g.description.contains("HOLD") {
                status = ItemStatus::HoldForInspection;
                reasons.push(reason(
                    ReasonCode::InspectionSelected,
                    "/ImportPermitRequest/GoodsItem",
                ));
            }
            ItemResult {
                item_number: g.item_number,
                invoice_item_number: g.invoice_item_number,
                hs_code: g.hs_code.clone(),
                country_of_origin: g.country_of_origin,
                status,
                standard: Some(StandardRef::parse("TIS 2432-2555").unwrap()),
                approved_quantity: status.approves_quantity().then(|| g.quantity.clone()),
                reasons,
            }
        })
        .collect();
    let decision = RequestDecision::aggregate(items.iter().map(|i| i.status));
    let a = req.shipment.arrival_date;
    Decision {
        decision,
        items,
        permit_dates: decision.issues_permit().then(|| PermitDates {
            effective: (a - Duration::days(30)).max(today()),
            expiry: a + Duration::days(90),
        }),
    }
}

fn reason(code: ReasonCode, field: &str) -> Reason {
    Reason {
        code,
        field: field.into(),
        message_th: format!("เหตุผล {}", code.code()),
        message_en: format!("reason {}", code.code()),
    }
}

/// `PERMIT_NOT_VALID` for a cancelled permit, `MISMATCH` when the permit has no item of the
/// line's invoice item number; else matches when HS code, unit and holder agree; `HOLD` for
/// an item held for inspection.
fn fake_match(
    line: &DeclarationLine,
    d: &DeclarationCheck,
    v: &crate::domain::matching::PermitRecord,
    _claimed_before: Amount,
) -> (LineResult, Vec<Reason>) {
    let pos = d.lines.iter().position(|l| l == line).unwrap() + 1;
    if !v.decision.issues_permit() {
        return (
            LineResult::PermitNotValid,
            vec![reason(
                ReasonCode::PermitNotValid,
                &format!("/DeclarationCheck/Line[{pos}]/PermitNumber"),
            )],
        );
    }
    let Some(item) = v
        .items
        .iter()
        .find(|i| i.invoice_item_number == line.invoice_item_number)
    else {
        return (
            LineResult::Mismatch,
            vec![reason(
                ReasonCode::FieldMismatch,
                &format!("/DeclarationCheck/Line[{pos}]/InvoiceItemNumber"),
            )],
        );
    };
    if item.status == ItemStatus::HoldForInspection {
        return (
            LineResult::Hold,
            vec![reason(
                ReasonCode::AwaitingInspection,
                "/DeclarationCheck/Line",
            )],
        );
    }
    let mut reasons = Vec::new();
    if line.hs_code != item.hs_code {
        reasons.push(reason(
            ReasonCode::FieldMismatch,
            "/DeclarationCheck/Line/HSCode",
        ));
    }
    if line.quantity.unit != item.unit {
        reasons.push(reason(
            ReasonCode::UnitMismatch,
            "/DeclarationCheck/Line/Quantity/@unitCode",
        ));
    }
    if d.importer != v.holder {
        reasons.push(reason(
            ReasonCode::ImporterMismatch,
            "/DeclarationCheck/Importer",
        ));
    }
    if reasons.is_empty() {
        (LineResult::Matched, reasons)
    } else {
        (LineResult::Mismatch, reasons)
    }
}

struct Harness {
    renderer: Arc<FakeRenderer>,
    ctx: Ctx,
}

type FakeDecideFn = dyn Fn(&ImportPermitRequest, &dyn SpecialUsage) -> Decision + Send + Sync;

/// The status mark of a harness's decisions, and the changes its catching up was given; it
/// leaves the first `skip` lists unapplied (as a snapshot that a reload put in use meanwhile
/// does).
#[derive(Default)]
struct FakeStatuses {
    mark: std::sync::Mutex<StatusMark>,
    given: std::sync::Mutex<Vec<Vec<StoredStatus>>>,
    skip: std::sync::atomic::AtomicUsize,
}

impl Harness {
    fn new() -> Self {
        Self::with_decide(Arc::new(fake_decide))
    }

    fn with_decide(decide: Arc<FakeDecideFn>) -> Self {
        Self::with_statuses(decide, Arc::default())
    }

    /// Decisions whose snapshot includes the status changes up to `statuses.mark`, which
    /// catching up raises (and records what it was given).
    fn with_statuses(decide: Arc<FakeDecideFn>, statuses: Arc<FakeStatuses>) -> Self {
        let renderer = Arc::new(FakeRenderer::default());
        let (deciding, catching_up) = (statuses.clone(), statuses);
        let ctx = Ctx {
            today: today(),
            now: now(),
            authority_tax_number: TaxNumber::parse("0994000617721").unwrap(),
            authority_name: "สำนักงานมาตรฐานผลิตภัณฑ์อุตสาหกรรม".into(),
            decide: Arc::new(move |req: &ImportPermitRequest, u: &dyn SpecialUsage| {
                let mark = *deciding.mark.lock().unwrap();
                (decide(req, u), mark)
            }),
            catch_up: Arc::new(move |_after: StatusMark, changes: &[StoredStatus]| {
                catching_up.given.lock().unwrap().push(changes.to_vec());
                let skip = &catching_up.skip;
                if skip
                    .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1))
                    .is_ok()
                {
                    return;
                }
                let mut mark = catching_up.mark.lock().unwrap();
                *mark = changes.iter().map(|c| c.mark).fold(*mark, StatusMark::max);
            }),
            match_line: Arc::new(fake_match),
            renderer: renderer.clone(),
        };
        Self { renderer, ctx }
    }

    fn doc(&self, message_id: &str) -> OutboundDocument {
        self.renderer.docs.lock().unwrap()[message_id].clone()
    }

    async fn send(&self, store: &Store, message_id: &str, doc: InboundDocument) -> Outcome {
        store
            .process(meta(message_id, true), doc, self.ctx.clone())
            .await
            .expect("process")
    }

    async fn permit(
        &self,
        store: &Store,
        message_id: &str,
        req: ImportPermitRequest,
    ) -> ImportPermitResponse {
        self.send(store, message_id, InboundDocument::ImportPermitRequest(req))
            .await;
        match self.doc(message_id) {
            OutboundDocument::ImportPermitResponse(r) => r,
            other => panic!("expected an ImportPermitResponse, got {other:?}"),
        }
    }

    /// A request of two items, 5 fans (approved) and 5 lamps (held for inspection), and its
    /// permit's number.
    async fn held(
        &self,
        store: &Store,
        message_id: &str,
        reference: &str,
    ) -> (ImportPermitResponse, PermitNumber) {
        let r = self
            .permit(
                store,
                message_id,
                request(
                    reference,
                    Function::Original,
                    &[(1, 1, "5", "fan"), (2, 2, "5", "HOLD lamp")],
                ),
            )
            .await;
        assert_eq!(r.decision, RequestDecision::HoldForInspection);
        let number = r.permit.clone().expect("a permit").number;
        (r, number)
    }

    async fn declare(
        &self,
        store: &Store,
        message_id: &str,
        d: DeclarationCheck,
    ) -> DeclarationCheckResponse {
        self.send(store, message_id, InboundDocument::DeclarationCheck(d))
            .await;
        match self.doc(message_id) {
            OutboundDocument::DeclarationCheckResponse(r) => r,
            other => panic!("expected a DeclarationCheckResponse, got {other:?}"),
        }
    }

    async fn amend(&self, store: &Store, message_id: &str, number: &str) -> AmendmentResult {
        let doc = InboundDocument::DeclarationAmendment(DeclarationAmendment {
            declaration_number: number.into(),
            action: AmendmentAction::Cancel,
        });
        self.send(store, message_id, doc).await;
        match self.doc(message_id) {
            OutboundDocument::DeclarationAmendmentResponse(r) => r.result,
            other => panic!("expected a DeclarationAmendmentResponse, got {other:?}"),
        }
    }
}

fn meta(message_id: &str, sync_reply: bool) -> MessageMeta {
    MessageMeta {
        message_id: message_id.into(),
        conversation_id: format!("conv-{message_id}"),
        from_party: "NSW".into(),
        from_party_type: None,
        to_party: "TISI".into(),
        to_party_type: None,
        cpa_id: "cpa-nsw-tisi".into(),
        service: "urn:th:tisi:nsw:permit".into(),
        action: "ImportPermitRequest".into(),
        received_at: now(),
        content_type: "text/xml".into(),
        raw: format!("<raw id='{message_id}'/>").into_bytes(),
        ack_requested: false,
        sync_reply,
        packaging: "inline".into(),
    }
}

fn party(tax: &str) -> PartyKey {
    PartyKey {
        tax_number: TaxNumber::parse(tax).unwrap(),
        branch: Branch::HEAD_OFFICE,
    }
}

/// (item number, invoice item number, quantity, description)
fn request(
    reference: &str,
    function: Function,
    items: &[(u16, u16, &str, &str)],
) -> ImportPermitRequest {
    ImportPermitRequest {
        reference: ReferenceNumber::parse(reference).unwrap(),
        function,
        request_type: RequestType::Licensed,
        importer: Importer {
            tax_number: IMPORTER.into(),
            branch: Branch::HEAD_OFFICE,
            name: "บริษัท ตัวอย่าง จำกัด".into(),
            name_en: Some("Example Co., Ltd.".into()),
        },
        agent: None,
        shipment: Shipment {
            arrival_date: arrival(),
            transport_mode: TransportMode::Sea,
            load_port: Port::parse("CNSHA").unwrap(),
            discharge_port: Port::parse("THLCH").unwrap(),
            country_of_destination: Country::TH,
        },
        invoice: Invoice {
            number: "INV-1".into(),
            date: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
        },
        items: items
            .iter()
            .map(|(n, inv, q, desc)| GoodsItem {
                item_number: *n,
                invoice_item_number: *inv,
                hs_code: HsCode::parse("85044090").unwrap(),
                description: (*desc).into(),
                description_en: None,
                brand: "ACME".into(),
                model: "X1".into(),
                manufacturer: Manufacturer {
                    name: "ACME Ltd".into(),
                    country: Country::parse("CN").unwrap(),
                },
                country_of_origin: Country::parse("CN").unwrap(),
                quantity: Quantity::parse(q, "C62").unwrap(),
                standard: Some("มอก. 2432-2555".into()),
                licence_number: Some("L-1".into()),
                special_purpose: None,
                test_report: None,
            })
            .collect(),
    }
}

fn special(reference: &str, function: Function, qty: &str, purpose: &str) -> ImportPermitRequest {
    let mut r = request(reference, function, &[(1, 1, qty, "sample")]);
    r.request_type = RequestType::Special;
    r.items[0].special_purpose = Some(purpose.into());
    r
}

/// One line per (permit, invoice item number, quantity).
fn declaration(number: &str, lines: &[(PermitNumber, u16, &str)]) -> DeclarationCheck {
    DeclarationCheck {
        declaration_number: number.into(),
        declaration_date: today(),
        importer: party(IMPORTER),
        arrival_date: arrival(),
        lines: lines
            .iter()
            .enumerate()
            .map(|(i, (p, inv, q))| DeclarationLine {
                line_number: i as u16 + 1,
                permit_number: *p,
                permit_issue_date: today(),
                issuing_authority_tax_number: TaxNumber::parse("0994000617721").unwrap(),
                invoice_number: "INV-1".into(),
                invoice_date: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
                invoice_item_number: *inv,
                hs_code: HsCode::parse("85044090").unwrap(),
                quantity: Quantity::parse(q, "C62").unwrap(),
                load_port: Port::parse("CNSHA").unwrap(),
                discharge_port: Port::parse("THLCH").unwrap(),
                country_of_origin: Country::parse("CN").unwrap(),
            })
            .collect(),
    }
}

fn amount(s: &str) -> Amount {
    Amount::parse(s).unwrap()
}

async fn status_by_permit(store: &Store, p: PermitNumber) -> PermitStatusResponse {
    store
        .permit_status(&PermitStatusQuery::ByPermit(p))
        .await
        .expect("status")
}

async fn status_by_reference(store: &Store, reference: &str) -> PermitStatusResponse {
    store
        .permit_status(&PermitStatusQuery::ByReference {
            importer: party(IMPORTER),
            reference: ReferenceNumber::parse(reference).unwrap(),
        })
        .await
        .expect("status")
}

/// (written off, remaining) of each permit item, in item order.
async fn quantities(store: &Store, p: PermitNumber) -> Vec<(Amount, Amount)> {
    status_by_permit(store, p)
        .await
        .items
        .iter()
        .map(|i| (i.written_off, i.remaining))
        .collect()
}

async fn issued(
    h: &Harness,
    store: &Store,
    msg: &str,
    reference: &str,
    items: &[(u16, u16, &str, &str)],
) -> PermitNumber {
    let r = h
        .permit(store, msg, request(reference, Function::Original, items))
        .await;
    assert_eq!(r.decision, RequestDecision::Approved, "{r:?}");
    r.permit.expect("a permit").number
}

fn reason_codes(items: &[ItemResult]) -> Vec<Vec<ReasonCode>> {
    items
        .iter()
        .map(|i| i.reasons.iter().map(|r| r.code).collect())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The contract
// ---------------------------------------------------------------------------------------------

async fn concurrent_copies_make_one_decision(store: &Store) {
    let h = Arc::new(Harness::new());
    let doc = InboundDocument::ImportPermitRequest(request(
        "REF-DUP",
        Function::Original,
        &[(1, 1, "5", "kettle")],
    ));
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (store, h, doc) = (store.clone(), h.clone(), doc.clone());
        tasks.push(tokio::spawn(async move {
            store
                .process(meta("msg-dup@nsw", true), doc, h.ctx.clone())
                .await
        }));
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap().expect("process"));
    }
    assert_eq!(outcomes.iter().filter(|o| !o.is_duplicate()).count(), 1);
    let first = outcomes[0].reply().unwrap().clone();
    assert!(
        outcomes.iter().all(|o| o.reply() == Some(&first)),
        "every copy gets the same bytes"
    );
    assert_eq!(
        store.lookup_reply("msg-dup@nsw", "NSW").await.unwrap(),
        Some(first)
    );
    assert_eq!(
        store.lookup_reply("never-sent@nsw", "NSW").await.unwrap(),
        None
    );
    assert_eq!(
        store.lookup_reply("msg-dup@nsw", "BROKER").await.unwrap(),
        None,
        "not the reply for another party"
    );
    assert_eq!(
        store.raw_message_for_tests("msg-dup@nsw").await,
        Some(meta("msg-dup@nsw", true).raw),
        "the message's bytes are stored with its reply"
    );
    let status = status_by_reference(store, "REF-DUP").await;
    assert_eq!(
        status.history.len(),
        1,
        "one decision: {:?}",
        status.history
    );
}

async fn another_partys_message_id_gets_no_reply(store: &Store) {
    let h = Harness::new();
    for reference in ["REF-MINE", "REF-THEIRS"] {
        let doc = InboundDocument::ImportPermitRequest(request(
            reference,
            Function::Original,
            &[(1, 1, "5", "kettle")],
        ));
        let mut theirs = meta("msg-taken@nsw", true);
        if reference == "REF-THEIRS" {
            theirs.from_party = "BROKER".into();
        }
        let out = store.process(theirs, doc, h.ctx.clone()).await.unwrap();
        match reference {
            "REF-MINE" => assert!(matches!(out, Outcome::New(_)), "{out:?}"),
            _ => {
                assert!(
                    matches!(&out, Outcome::SentByAnother { first_sender } if first_sender == "NSW"),
                    "{out:?}"
                );
                assert_eq!(out.reply(), None);
            }
        }
    }
    // Nothing of the second message was stored.
    let theirs = status_by_reference(store, "REF-THEIRS").await;
    assert_eq!(theirs.result, StatusQueryResult::NotFound, "{theirs:?}");
}

async fn uncommitted_message_is_not_a_duplicate(store: &Store) {
    // A decision that breaks the store's contract fails the job after the message row was
    // written: the transaction rolls back and leaves no trace.
    let broken = Harness::with_decide(Arc::new(
        |req: &ImportPermitRequest, u: &dyn SpecialUsage| Decision {
            permit_dates: None,
            ..fake_decide(req, u)
        },
    ));
    let doc = InboundDocument::ImportPermitRequest(request(
        "REF-RB",
        Function::Original,
        &[(1, 1, "5", "kettle")],
    ));
    let err = store
        .process(meta("msg-rb@nsw", true), doc.clone(), broken.ctx.clone())
        .await
        .expect_err("a permit decision without dates is refused");
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert!(!err.is_transient());
    assert_eq!(store.lookup_reply("msg-rb@nsw", "NSW").await.unwrap(), None);
    let h = Harness::new();
    let out = h.send(store, "msg-rb@nsw", doc).await;
    assert!(!out.is_duplicate(), "the failed copy is not a duplicate");
}

async fn racing_declarations_never_exceed_the_permit(store: &Store) {
    let h = Arc::new(Harness::new());
    let p = issued(&h, store, "m-race", "REF-RACE", &[(1, 1, "10", "fan")]).await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let (store, h) = (store.clone(), h.clone());
        tasks.push(tokio::spawn(async move {
            h.declare(
                &store,
                &format!("m-decl-{i}"),
                declaration(&format!("D-{i}"), &[(p, 1, "1")]),
            )
            .await
        }));
    }
    let mut accepted = 0;
    for t in tasks {
        let r = t.await.unwrap();
        match r.result {
            DeclarationResult::Accepted => {
                accepted += 1;
                assert_eq!(r.lines[0].result, LineResult::Matched);
            }
            DeclarationResult::Refused => {
                assert_eq!(r.lines[0].result, LineResult::QuantityExceeded, "{r:?}");
                assert_eq!(
                    r.lines[0].reasons.last().unwrap().code,
                    ReasonCode::QuantityExceeded
                );
                assert_eq!(
                    r.lines[0].reasons.last().unwrap().field,
                    "/DeclarationCheck/Line[1]/Quantity"
                );
            }
            DeclarationResult::Hold => panic!("unexpected HOLD: {r:?}"),
        }
    }
    assert_eq!(accepted, 10);
    assert_eq!(
        quantities(store, p).await,
        vec![(amount("10"), Amount::ZERO)]
    );
}

async fn write_off_is_all_or_nothing(store: &Store) {
    let h = Harness::new();
    let p = issued(
        &h,
        store,
        "m-aon",
        "REF-AON",
        &[(1, 1, "5", "fan"), (2, 2, "5", "lamp")],
    )
    .await;
    // The second line asks for more than item 2 has: nothing is deducted, not even line 1.
    let r = h
        .declare(
            store,
            "m-aon-1",
            declaration("D-AON-1", &[(p, 1, "3"), (p, 2, "6")]),
        )
        .await;
    assert_eq!(r.result, DeclarationResult::Refused);
    let results: Vec<_> = r.lines.iter().map(|l| l.result).collect();
    assert_eq!(
        results,
        vec![LineResult::Matched, LineResult::QuantityExceeded]
    );
    assert_eq!(r.lines[0].remaining.as_ref().unwrap().amount, amount("5"));
    assert_eq!(
        quantities(store, p).await,
        vec![(Amount::ZERO, amount("5")); 2]
    );
    // A mismatching second line: nothing deducted either.
    let mut d = declaration("D-AON-2", &[(p, 1, "3"), (p, 2, "1")]);
    d.lines[1].hs_code = HsCode::parse("85167100").unwrap();
    let r = h.declare(store, "m-aon-2", d).await;
    assert_eq!(r.result, DeclarationResult::Refused);
    assert_eq!(r.lines[1].result, LineResult::Mismatch);
    assert_eq!(r.lines[1].reasons[0].code, ReasonCode::FieldMismatch);
    assert_eq!(
        quantities(store, p).await,
        vec![(Amount::ZERO, amount("5")); 2]
    );
    // Two lines on the same item are summed: 3 + 3 > 5.
    let r = h
        .declare(
            store,
            "m-aon-3",
            declaration("D-AON-3", &[(p, 1, "3"), (p, 1, "3")]),
        )
        .await;
    assert_eq!(r.result, DeclarationResult::Refused);
    assert!(
        r.lines
            .iter()
            .all(|l| l.result == LineResult::QuantityExceeded),
        "{r:?}"
    );
    // Unknown permit, and an item the permit does not have (a mismatch of that field).
    let ghost = PermitNumber::parse("TISI-P-2569-09999999").unwrap();
    let r = h
        .declare(
            store,
            "m-aon-4",
            declaration("D-AON-4", &[(ghost, 1, "1"), (p, 7, "1")]),
        )
        .await;
    let results: Vec<_> = r.lines.iter().map(|l| l.result).collect();
    assert_eq!(
        results,
        vec![LineResult::PermitNotFound, LineResult::Mismatch]
    );
    assert_eq!(
        r.lines
            .iter()
            .map(|l| l.reasons.iter().map(|x| x.code).collect())
            .collect::<Vec<Vec<_>>>(),
        vec![
            vec![ReasonCode::PermitNotFound],
            vec![ReasonCode::FieldMismatch]
        ]
    );
    assert_eq!(
        r.lines[0].reasons[0].field,
        "/DeclarationCheck/Line[1]/PermitNumber"
    );
    assert_eq!(
        r.lines[1].reasons[0].field,
        "/DeclarationCheck/Line[2]/InvoiceItemNumber"
    );
    assert_eq!(r.lines[0].remaining, None);
    // Everything fits: both deducted, remaining after this declaration.
    let r = h
        .declare(
            store,
            "m-aon-5",
            declaration("D-AON-5", &[(p, 1, "3"), (p, 2, "5")]),
        )
        .await;
    assert_eq!(r.result, DeclarationResult::Accepted);
    let remaining: Vec<_> = r
        .lines
        .iter()
        .map(|l| l.remaining.clone().unwrap().amount)
        .collect();
    assert_eq!(remaining, vec![amount("2"), Amount::ZERO]);
    assert_eq!(
        quantities(store, p).await,
        vec![(amount("3"), amount("2")), (amount("5"), Amount::ZERO)]
    );
}

async fn same_declaration_number_deducts_once(store: &Store) {
    let h = Harness::new();
    let p = issued(&h, store, "m-same", "REF-SAME", &[(1, 1, "10", "fan")]).await;
    let first = h
        .declare(store, "m-same-1", declaration("D-SAME", &[(p, 1, "4")]))
        .await;
    assert_eq!(first.result, DeclarationResult::Accepted);
    let again = h
        .declare(store, "m-same-2", declaration("D-SAME", &[(p, 1, "4")]))
        .await;
    assert_eq!(again, first, "the first answer again");
    assert_eq!(quantities(store, p).await, vec![(amount("4"), amount("6"))]);
}

async fn amendment_restores_once(store: &Store) {
    let h = Harness::new();
    let p = issued(&h, store, "m-am", "REF-AM", &[(1, 1, "10", "fan")]).await;
    h.declare(store, "m-am-1", declaration("D-AM", &[(p, 1, "4")]))
        .await;
    h.declare(store, "m-am-2", declaration("D-AM-OTHER", &[(p, 1, "1")]))
        .await;
    assert_eq!(quantities(store, p).await, vec![(amount("5"), amount("5"))]);
    assert_eq!(
        h.amend(store, "m-am-3", "D-AM").await,
        AmendmentResult::Restored
    );
    assert_eq!(quantities(store, p).await, vec![(amount("1"), amount("9"))]);
    assert_eq!(
        h.amend(store, "m-am-4", "D-AM").await,
        AmendmentResult::Restored
    );
    assert_eq!(
        quantities(store, p).await,
        vec![(amount("1"), amount("9"))],
        "restored once"
    );
    assert_eq!(
        h.amend(store, "m-am-5", "D-NONE").await,
        AmendmentResult::UnknownDeclaration
    );
    let history = status_by_permit(store, p).await.history;
    let states: Vec<_> = history
        .iter()
        .map(|e| (e.state.as_str(), e.actor.clone()))
        .collect();
    assert_eq!(
        states,
        vec![
            ("APPROVED", Actor::System),
            ("WRITTEN_OFF", Actor::Customs),
            ("WRITTEN_OFF", Actor::Customs),
            ("RESTORED", Actor::Customs)
        ]
    );
}

async fn replacement_and_cancellation(store: &Store) {
    let h = Harness::new();
    let p1 = issued(&h, store, "m-rep-1", "REF-REP", &[(1, 1, "10", "fan")]).await;
    let r = h
        .permit(
            store,
            "m-rep-2",
            request("REF-REP", Function::Replacement, &[(1, 1, "8", "fan")]),
        )
        .await;
    assert_eq!(r.decision, RequestDecision::Approved);
    assert_eq!(r.function, Function::Replacement);
    let p2 = r.permit.expect("a new permit").number;
    assert_ne!(p1, p2);
    assert_eq!(
        status_by_permit(store, p1).await.decision,
        Some(RequestDecision::Cancelled)
    );
    let current = status_by_reference(store, "REF-REP").await;
    assert_eq!(current.decision, Some(RequestDecision::Approved));
    assert_eq!(current.permit.unwrap().number, p2);
    assert_eq!(current.items[0].approved, amount("8"));
    // The cancelled permit cannot be written off.
    let d = h
        .declare(store, "m-rep-3", declaration("D-REP", &[(p1, 1, "1")]))
        .await;
    assert_eq!(d.lines[0].result, LineResult::PermitNotValid);
    assert_eq!(d.lines[0].reasons[0].code, ReasonCode::PermitNotValid);
    // Cancellation of the current version.
    let c = h
        .permit(
            store,
            "m-rep-4",
            request("REF-REP", Function::Cancellation, &[(1, 1, "8", "fan")]),
        )
        .await;
    assert_eq!(c.decision, RequestDecision::Cancelled);
    assert_eq!(c.request_id, r.request_id);
    assert_eq!(
        status_by_reference(store, "REF-REP").await.decision,
        Some(RequestDecision::Cancelled)
    );
    // Both permits are cancelled: what they approved, and nothing left to write off.
    for p in [p1, p2] {
        let items = status_by_permit(store, p).await.items;
        let q: Vec<_> = items
            .iter()
            .map(|i| (i.approved, i.written_off, i.remaining))
            .collect();
        let approved = if p == p1 { "10" } else { "8" };
        assert_eq!(q, [(amount(approved), Amount::ZERO, Amount::ZERO)], "{p}");
    }
    let d = h
        .declare(store, "m-rep-5", declaration("D-REP-2", &[(p2, 1, "1")]))
        .await;
    assert_eq!(d.lines[0].result, LineResult::PermitNotValid);
    // Cancelling again gives the same answer.
    let again = h
        .permit(
            store,
            "m-rep-6",
            request("REF-REP", Function::Cancellation, &[(1, 1, "8", "fan")]),
        )
        .await;
    assert_eq!(again, c);
}

async fn permit_in_use_blocks_replacement_and_cancellation(store: &Store) {
    let h = Harness::new();
    let p = issued(
        &h,
        store,
        "m-use-1",
        "REF-USE",
        &[(1, 1, "10", "fan"), (2, 2, "1", "lamp")],
    )
    .await;
    h.declare(store, "m-use-2", declaration("D-USE", &[(p, 1, "1")]))
        .await;
    for (msg, f) in [
        ("m-use-3", Function::Replacement),
        ("m-use-4", Function::Cancellation),
    ] {
        let r = h
            .permit(
                store,
                msg,
                request("REF-USE", f, &[(1, 1, "9", "fan"), (2, 2, "1", "lamp")]),
            )
            .await;
        assert_eq!(r.decision, RequestDecision::Rejected);
        assert_eq!(r.permit, None);
        assert_eq!(
            reason_codes(&r.items),
            vec![vec![ReasonCode::PermitInUse]; 2]
        );
        assert_eq!(
            r.items[0].reasons[0].field,
            "/ImportPermitRequest/DocumentControl/Function"
        );
    }
    let s = status_by_reference(store, "REF-USE").await;
    assert_eq!(s.decision, Some(RequestDecision::Approved));
    assert_eq!(s.permit.unwrap().number, p);
    // The refused replacement and cancellation changed no state: the history has the
    // decision and the write-off only.
    let states: Vec<&str> = s.history.iter().map(|e| e.state.as_str()).collect();
    assert_eq!(states, ["APPROVED", "WRITTEN_OFF"]);
    // Once the declaration is cancelled, the permit can be replaced.
    h.amend(store, "m-use-5", "D-USE").await;
    let r = h
        .permit(
            store,
            "m-use-6",
            request("REF-USE", Function::Replacement, &[(1, 1, "9", "fan")]),
        )
        .await;
    assert_eq!(r.decision, RequestDecision::Approved);
}

async fn unknown_reference_cannot_be_replaced(store: &Store) {
    let h = Harness::new();
    for (msg, f) in [
        ("m-unk-1", Function::Replacement),
        ("m-unk-2", Function::Cancellation),
    ] {
        let r = h
            .permit(
                store,
                msg,
                request("REF-UNKNOWN", f, &[(1, 1, "1", "fan"), (2, 2, "1", "lamp")]),
            )
            .await;
        assert_eq!(r.decision, RequestDecision::Rejected);
        assert_eq!(
            reason_codes(&r.items),
            vec![vec![ReasonCode::ReferenceNotFound]; 2]
        );
        assert_eq!(
            r.items[0].reasons[0].field,
            "/ImportPermitRequest/DocumentControl/ReferenceNumber"
        );
        assert!(
            !r.items[0].reasons[0].message_th.is_empty()
                && r.items[0].reasons[0].message_en.contains("REF-UNKNOWN")
        );
    }
    // The status API shows the last refused attempt, with its own history only: not a
    // version of the reference, so the ebMS status query finds nothing.
    let shown = store
        .request_by_reference(&party(IMPORTER), "REF-UNKNOWN")
        .await
        .unwrap()
        .expect("the refused attempt");
    let states: Vec<&str> = shown.history.iter().map(|e| e.state.as_str()).collect();
    assert_eq!(states, ["REJECTED"]);
    assert!(
        shown.history[0].reason_en.contains("REFERENCE_NOT_FOUND"),
        "{shown:?}"
    );
    assert_eq!(
        status_by_reference(store, "REF-UNKNOWN").await.result,
        StatusQueryResult::NotFound
    );
    // The rejected replacement did not create the reference.
    let r = h
        .permit(
            store,
            "m-unk-3",
            request("REF-UNKNOWN", Function::Original, &[(1, 1, "1", "fan")]),
        )
        .await;
    assert_eq!(r.decision, RequestDecision::Approved);
}

async fn identical_resend_and_duplicate_reference(store: &Store) {
    let h = Harness::new();
    let req = request(
        "REF-ID",
        Function::Original,
        &[(1, 1, "5", "fan"), (2, 2, "2", "REJECT me")],
    );
    let first = h.permit(store, "m-id-1", req.clone()).await;
    assert_eq!(first.decision, RequestDecision::Rejected);
    let ok = h
        .permit(
            store,
            "m-id-ok-1",
            request("REF-ID-OK", Function::Original, &[(1, 1, "5", "fan")]),
        )
        .await;
    // Identical content in a new message: the earlier decision, rebuilt from the rows.
    let again = h.permit(store, "m-id-2", req.clone()).await;
    assert_eq!(again, first);
    let ok_again = h
        .permit(
            store,
            "m-id-ok-2",
            request("REF-ID-OK", Function::Original, &[(1, 1, "5", "fan")]),
        )
        .await;
    assert_eq!(ok_again, ok);
    assert_eq!(
        ok_again.permit.unwrap().number,
        ok.permit.clone().unwrap().number
    );
    // Different content under the same reference.
    let changed = request(
        "REF-ID-OK",
        Function::Original,
        &[(1, 1, "6", "fan"), (2, 2, "1", "lamp")],
    );
    let dup = h.permit(store, "m-id-3", changed).await;
    assert_eq!(dup.decision, RequestDecision::Rejected);
    assert_ne!(dup.request_id, ok.request_id);
    assert_eq!(
        reason_codes(&dup.items),
        vec![vec![ReasonCode::DuplicateReference]; 2]
    );
    assert_eq!(
        dup.items[0].reasons[0].field,
        "/ImportPermitRequest/DocumentControl/ReferenceNumber"
    );
    // The original stays in force.
    let s = status_by_reference(store, "REF-ID-OK").await;
    assert_eq!(s.decision, Some(RequestDecision::Approved));
    assert_eq!(s.request_id.as_deref(), Some(ok.request_id.as_str()));
    let states: Vec<&str> = s.history.iter().map(|e| e.state.as_str()).collect();
    assert_eq!(
        states,
        ["APPROVED"],
        "the refused duplicate is not a state change"
    );
    // The same reference of another importer is another request.
    let mut other = request("REF-ID-OK", Function::Original, &[(1, 1, "6", "fan")]);
    other.importer.tax_number = OTHER_IMPORTER.into();
    assert_eq!(
        h.permit(store, "m-id-4", other).await.decision,
        RequestDecision::Approved
    );
}

/// The rows of a request's items, their reasons and its permit's items are written in lists
/// of a few sizes, or as JSON above them: at every count, what an identical resend rebuilds
/// from them is the first answer. Requests of an even count have rejected items (a rejected
/// item rejects the request), the others get a permit.
async fn requests_of_every_size_are_rebuilt_from_their_rows(store: &Store) {
    let h = Harness::new();
    for n in [1u16, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 32, 33, 64, 65] {
        let rejecting = n % 2 == 0;
        let rejected = |i: u16| rejecting && i % 6 == 1;
        let descriptions: Vec<String> = (1..=n)
            .map(|i| match i % 6 {
                _ if rejected(i) => format!("REJECT item {i}"),
                0 => format!("HOLD item {i}"),
                _ => format!("item {i}"),
            })
            .collect();
        let counts: Vec<String> = (1..=n).map(|i| i.to_string()).collect();
        let items: Vec<(u16, u16, &str, &str)> = (1..=n)
            .map(|i| {
                let k = usize::from(i - 1);
                (i, n + 1 - i, counts[k].as_str(), descriptions[k].as_str())
            })
            .collect();
        let reference = format!("REF-SIZE-{n}");
        let req = request(&reference, Function::Original, &items);
        let first = h.permit(store, &format!("m-size-{n}"), req.clone()).await;
        assert_eq!(first.items.len(), usize::from(n), "{n} items");
        let again = h.permit(store, &format!("m-size-{n}-again"), req).await;
        assert_eq!(again, first, "{n} items rebuilt from their rows");
        assert_eq!(
            first.items.iter().filter(|i| !i.reasons.is_empty()).count(),
            (1..=n).filter(|i| rejected(*i)).count() + usize::from(n / 6),
            "{n} items: one reason for each rejected or held item"
        );
        // The status API's record shows each item with its own reasons.
        let shown = store
            .request_by_reference(&party(IMPORTER), &reference)
            .await
            .unwrap()
            .expect("the request");
        let shown_codes: Vec<Vec<&str>> = (shown.items.iter())
            .map(|i| i.reasons.iter().map(|r| r.code.as_str()).collect())
            .collect();
        let answered: Vec<Vec<&str>> = (first.items.iter())
            .map(|i| i.reasons.iter().map(|r| r.code.code()).collect())
            .collect();
        assert_eq!(shown_codes, answered, "{n} items: the status API's reasons");
        if rejecting {
            assert_eq!(first.permit, None, "{n} items");
            continue;
        }
        let permit = first.permit.expect("a permit").number;
        let expected: Vec<(Amount, Amount)> = (1..=n)
            .map(|i| (Amount::ZERO, amount(&i.to_string())))
            .collect();
        assert_eq!(
            quantities(store, permit).await,
            expected,
            "{n} items: the permit's items"
        );
    }
}

async fn concurrent_resends_of_one_reference_share_one_decision(store: &Store) {
    // Different message ids, same importer + reference + content, all at once: the business
    // key is unique in the database, so one request is decided and the others get it back.
    let h = Arc::new(Harness::new());
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (store, h) = (store.clone(), h.clone());
        tasks.push(tokio::spawn(async move {
            let req = request("REF-RACE-9", Function::Original, &[(1, 1, "5", "fan")]);
            h.permit(&store, &format!("m-r9-{i}"), req).await
        }));
    }
    let mut responses = Vec::new();
    for t in tasks {
        responses.push(t.await.unwrap());
    }
    assert!(
        responses.iter().all(|r| *r == responses[0]),
        "{responses:?}"
    );
    assert!(responses[0].permit.is_some());
    assert_eq!(
        status_by_reference(store, "REF-RACE-9").await.history.len(),
        1
    );
}

async fn permit_numbers_are_unique_and_increasing(store: &Store) {
    let h = Arc::new(Harness::new());
    let mut sequential = Vec::new();
    for i in 0..5 {
        sequential.push(
            issued(
                &h,
                store,
                &format!("m-pn-{i}"),
                &format!("REF-PN-{i}"),
                &[(1, 1, "1", "fan")],
            )
            .await,
        );
    }
    assert!(sequential.windows(2).all(|w| w[0] < w[1]), "{sequential:?}");
    assert!(sequential.iter().all(|p| p.year_be == 2569));
    let mut tasks = Vec::new();
    for i in 0..30 {
        let (store, h) = (store.clone(), h.clone());
        tasks.push(tokio::spawn(async move {
            issued(
                &h,
                &store,
                &format!("m-pnc-{i}"),
                &format!("REF-PNC-{i}"),
                &[(1, 1, "1", "fan")],
            )
            .await
        }));
    }
    let mut all: BTreeSet<PermitNumber> = sequential.iter().copied().collect();
    for t in tasks {
        let p = t.await.unwrap();
        assert!(p > *sequential.last().unwrap());
        assert!(all.insert(p), "{p} issued twice");
    }
    assert_eq!(all.len(), 35);
}

async fn special_usage_sums_per_importer_purpose_and_year(store: &Store) {
    let h = Harness::new();
    let ok = |r: &ImportPermitResponse| r.items[0].status;
    let a = h
        .permit(
            store,
            "m-sp-1",
            special("SP-A", Function::Original, "6", "SAMPLE"),
        )
        .await;
    assert_eq!(ok(&a), ItemStatus::Approved);
    // 6 + 5 > 10: rejected, and a rejected item does not count.
    let b = h
        .permit(
            store,
            "m-sp-2",
            special("SP-B", Function::Original, "5", "SAMPLE"),
        )
        .await;
    assert_eq!(ok(&b), ItemStatus::Rejected);
    let c = h
        .permit(
            store,
            "m-sp-3",
            special("SP-C", Function::Original, "4", "SAMPLE"),
        )
        .await;
    assert_eq!(ok(&c), ItemStatus::Approved);
    // Another purpose, another year and another importer have their own sums.
    let d = h
        .permit(
            store,
            "m-sp-4",
            special("SP-D", Function::Original, "10", "EXHIBIT"),
        )
        .await;
    assert_eq!(ok(&d), ItemStatus::Approved);
    let mut next_year = special("SP-E", Function::Original, "10", "SAMPLE");
    next_year.shipment.arrival_date = NaiveDate::from_ymd_opt(2027, 1, 5).unwrap();
    assert_eq!(
        ok(&h.permit(store, "m-sp-5", next_year).await),
        ItemStatus::Approved
    );
    let mut other = special("SP-F", Function::Original, "10", "SAMPLE");
    other.importer.tax_number = OTHER_IMPORTER.into();
    assert_eq!(
        ok(&h.permit(store, "m-sp-6", other).await),
        ItemStatus::Approved
    );
    // 6 + 4 = 10 used: nothing more, until A is cancelled.
    let g = h
        .permit(
            store,
            "m-sp-7",
            special("SP-G", Function::Original, "1", "SAMPLE"),
        )
        .await;
    assert_eq!(ok(&g), ItemStatus::Rejected);
    h.permit(
        store,
        "m-sp-8",
        special("SP-A", Function::Cancellation, "6", "SAMPLE"),
    )
    .await;
    let g2 = h
        .permit(
            store,
            "m-sp-9",
            special("SP-H", Function::Original, "6", "SAMPLE"),
        )
        .await;
    assert_eq!(ok(&g2), ItemStatus::Approved);
    // A replacement does not count the version it replaces.
    let c2 = h
        .permit(
            store,
            "m-sp-10",
            special("SP-C", Function::Replacement, "4", "SAMPLE"),
        )
        .await;
    assert_eq!(ok(&c2), ItemStatus::Approved);
}

/// A request of `request_type` with one item per (quantity, description), numbered from 1,
/// each under `purpose`.
fn under_purpose(
    reference: &str,
    function: Function,
    request_type: RequestType,
    purpose: &str,
    items: &[(&str, &str)],
) -> ImportPermitRequest {
    let numbered: Vec<(u16, u16, &str, &str)> = (1..)
        .zip(items)
        .map(|(n, (q, desc))| (n, n, *q, *desc))
        .collect();
    let mut r = request(reference, function, &numbered);
    r.request_type = request_type;
    for g in &mut r.items {
        g.special_purpose = Some(purpose.into());
    }
    r
}

/// An officer's decision on an item, its later response rendered as an empty body.
fn officer_input(
    request_id: &str,
    item_number: u16,
    action: officer::OfficerAction,
) -> officer::OfficerDecisionInput {
    officer::OfficerDecisionInput {
        request_id: request_id.into(),
        item_number,
        action,
        officer_id: "OFF-7".into(),
        reason: "ตรวจแล้ว".into(),
        now: now(),
        today: today(),
        authority_tax_number: TaxNumber::parse("0994000617721").unwrap(),
        authority_name: "TISI".into(),
        render: Arc::new(|original, _response| OutboundMessage {
            message_id: format!("later-{}", uuid::Uuid::new_v4()),
            conversation_id: original.conversation_id.clone(),
            partner: original.from_party.clone(),
            content_type: "text/plain".into(),
            body: Vec::new(),
            ack_requested: false,
        }),
    }
}

/// An officer refuses a held item after inspection when the permit's other item was already
/// written off: the request is REJECTED, so its permit is cancelled (spec §6: a REJECTED
/// request has no permit), the write-off stands, and no further line of any of its items
/// matches.
async fn a_refusal_after_inspection_cancels_a_used_permit(store: &Store) {
    let h = Harness::new();
    let (r, number) = h.held(store, "m-used-1", "USED-THEN-REFUSED").await;
    let first = h
        .declare(
            store,
            "m-used-2",
            declaration("DECL-USED-1", &[(number, 1, "2")]),
        )
        .await;
    assert_eq!(first.result, DeclarationResult::Accepted, "{first:?}");

    let out = store
        .officer_decide(officer_input(
            &r.request_id,
            2,
            officer::OfficerAction::RejectAfterInspection,
        ))
        .await
        .expect("officer");
    assert!(
        matches!(
            out,
            officer::OfficerOutcome::Done {
                decision: RequestDecision::Rejected,
                ..
            }
        ),
        "{out:?}"
    );
    let later = h
        .declare(
            store,
            "m-used-3",
            declaration("DECL-USED-2", &[(number, 1, "1")]),
        )
        .await;
    assert_eq!(later.result, DeclarationResult::Refused, "{later:?}");
    assert_eq!(
        later.lines[0].result,
        LineResult::PermitNotValid,
        "{later:?}"
    );
    assert_eq!(quantities(store, number).await[0].0, amount("2"));
}

/// A replacement of a request whose permit an officer's refusal cancelled leaves the permit
/// cancelled when it was, not when the replacement came.
async fn a_replacement_keeps_when_a_refusal_cancelled_the_permit(store: &Store) {
    let h = Harness::new();
    let (r, number) = h.held(store, "m-keep-1", "KEEP-DAY").await;
    store
        .officer_decide(officer_input(
            &r.request_id,
            2,
            officer::OfficerAction::RejectAfterInspection,
        ))
        .await
        .expect("officer");
    let refused_at = store.permit_cancelled_at_for_tests(&number).await;
    assert!(refused_at.is_some());
    let mut later = Harness::new();
    later.ctx.now = now() + Duration::hours(1);
    let replaced = later
        .permit(
            store,
            "m-keep-2",
            request("KEEP-DAY", Function::Replacement, &[(1, 1, "5", "fan")]),
        )
        .await;
    assert_eq!(replaced.decision, RequestDecision::Approved);
    assert_eq!(
        store.permit_cancelled_at_for_tests(&number).await,
        refused_at
    );
}

/// What happens to an importer's special-import quantities before the next request.
enum Earlier {
    /// A request sent (and stored).
    Sent(Box<ImportPermitRequest>),
    /// An officer's decision on an item of the request sent last.
    Officer(u16, officer::OfficerAction),
}

/// Rule 13 counts what was or may still be permitted: the controlled items (APPROVED,
/// HOLD_FOR_INSPECTION, UNDER_REVIEW) of SPECIAL requests neither REJECTED nor CANCELLED, the
/// current version of each reference once. Each case has a purpose of its own (the fake's cap
/// is 10 per purpose): what happened before, then how much is asked for, and whether that is
/// granted.
async fn special_usage_counts_what_was_or_may_be_permitted(store: &Store) {
    use officer::OfficerAction::{Approve, Reject, RejectAfterInspection};
    use Earlier::{Officer, Sent};
    use Function::{Cancellation, Original, Replacement};
    use RequestType::{Licensed, Special};
    let h = Harness::new();
    let sp = |case: &str, reference: &str, function, items: &[(&str, &str)]| {
        Sent(Box::new(under_purpose(
            &format!("{case}-{reference}"),
            function,
            Special,
            case,
            items,
        )))
    };
    let cases: Vec<(&str, Vec<Earlier>, &str, ItemStatus)> = vec![
        ("NOTHING", vec![], "10", ItemStatus::Approved),
        (
            "COUNTED",
            vec![sp("COUNTED", "A", Original, &[("6", "sample")])],
            "5",
            ItemStatus::Rejected,
        ),
        // A rejected request has no permit: its approved items do not count.
        (
            "REJECTED-REQUEST",
            vec![sp(
                "REJECTED-REQUEST",
                "A",
                Original,
                &[("6", "sample"), ("1", "REJECT")],
            )],
            "6",
            ItemStatus::Approved,
        ),
        // An uncontrolled item needs no permit and counts for nothing.
        (
            "UNCONTROLLED",
            vec![sp(
                "UNCONTROLLED",
                "A",
                Original,
                &[("2", "sample"), ("6", "FREE")],
            )],
            "8",
            ItemStatus::Approved,
        ),
        // A licensed import is not a special one, whatever its items say.
        (
            "LICENSED",
            vec![Sent(Box::new(under_purpose(
                "LICENSED-A",
                Original,
                Licensed,
                "LICENSED",
                &[("6", "sample")],
            )))],
            "10",
            ItemStatus::Approved,
        ),
        // Items that may still be permitted count.
        (
            "UNDER-REVIEW",
            vec![sp("UNDER-REVIEW", "A", Original, &[("6", "REVIEW")])],
            "5",
            ItemStatus::Rejected,
        ),
        (
            "HOLD",
            vec![sp("HOLD", "A", Original, &[("6", "HOLD")])],
            "5",
            ItemStatus::Rejected,
        ),
        (
            "APPROVED-BY-OFFICER",
            vec![
                sp("APPROVED-BY-OFFICER", "A", Original, &[("6", "REVIEW")]),
                Officer(1, Approve),
            ],
            "5",
            ItemStatus::Rejected,
        ),
        // Items refused later do not.
        (
            "REFUSED-BY-OFFICER",
            vec![
                sp(
                    "REFUSED-BY-OFFICER",
                    "A",
                    Original,
                    &[("6", "REVIEW"), ("1", "sample")],
                ),
                Officer(1, Reject),
            ],
            "10",
            ItemStatus::Approved,
        ),
        (
            "FAILED-INSPECTION",
            vec![
                sp(
                    "FAILED-INSPECTION",
                    "A",
                    Original,
                    &[("6", "HOLD"), ("1", "sample")],
                ),
                Officer(1, RejectAfterInspection),
            ],
            "10",
            ItemStatus::Approved,
        ),
        // A replaced version counts no more, its replacement once; a cancelled request not
        // at all.
        (
            "REPLACED",
            vec![
                sp("REPLACED", "A", Original, &[("6", "sample")]),
                sp("REPLACED", "A", Replacement, &[("6", "sample")]),
            ],
            "4",
            ItemStatus::Approved,
        ),
        (
            "REPLACED-COUNTS",
            vec![
                sp("REPLACED-COUNTS", "A", Original, &[("6", "sample")]),
                sp("REPLACED-COUNTS", "A", Replacement, &[("6", "sample")]),
            ],
            "5",
            ItemStatus::Rejected,
        ),
        (
            "CANCELLED",
            vec![
                sp("CANCELLED", "A", Original, &[("6", "sample")]),
                sp("CANCELLED", "A", Cancellation, &[("6", "sample")]),
            ],
            "10",
            ItemStatus::Approved,
        ),
    ];
    let mut failures = Vec::new();
    let mut n = 0;
    for (case, earlier, asked, expected) in cases {
        let mut last = None;
        for step in earlier {
            n += 1;
            match step {
                Sent(r) => {
                    last = Some(
                        h.permit(store, &format!("m-usage-{n}"), *r)
                            .await
                            .request_id,
                    );
                }
                Officer(item, action) => {
                    let id = last.as_deref().expect("a request before the officer");
                    let out = store
                        .officer_decide(officer_input(id, item, action))
                        .await
                        .unwrap();
                    assert!(
                        matches!(out, officer::OfficerOutcome::Done { .. }),
                        "{case}: {out:?}"
                    );
                }
            }
        }
        n += 1;
        let probe = under_purpose(
            &format!("{case}-PROBE"),
            Original,
            Special,
            case,
            &[(asked, "sample")],
        );
        let got = h.permit(store, &format!("m-usage-{n}"), probe).await.items[0].status;
        if got != expected {
            failures.push(format!(
                "{case}: {asked} more is {got:?}, expected {expected:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

fn refdata(variant: u8) -> RefData {
    refdata_with(variant, 2500)
}

fn refdata_with(variant: u8, licences: u32) -> RefData {
    let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
    RefData {
        standards: vec![
            Standard {
                reference: StandardRef::parse("TIS 2432-2555").unwrap(),
                title_th: "เต้าเสียบ".into(),
                title_en: "Plugs".into(),
                compulsory: true,
                in_force_from: d(2013, 6, 1),
                in_force_until: None,
                hs_prefixes: vec!["85044090".into(), "850440".into()],
                inspection_rate: 5,
                test_report_required: false,
            },
            Standard {
                reference: StandardRef::parse("TIS 60335 Part 2(3)-2567").unwrap(),
                title_th: "เตารีด".into(),
                title_en: "Irons".into(),
                compulsory: variant == 0,
                in_force_from: d(2024, 1, 1),
                in_force_until: Some(d(2030, 12, 31)),
                hs_prefixes: vec!["851640".into()],
                inspection_rate: 100,
                test_report_required: true,
            },
        ],
        licences: (0..licences)
            .map(|i| Licence {
                number: format!("L-{variant}-{i:07}"),
                licence_type: if i % 7 == 0 {
                    LicenceType::Manufacture
                } else {
                    LicenceType::Import
                },
                holder: party(IMPORTER),
                holder_name: "บริษัท ตัวอย่าง จำกัด".into(),
                standard: StandardRef::parse("TIS 2432-2555").unwrap(),
                brands: if i % 2 == 0 {
                    vec![]
                } else {
                    vec!["ACME".into(), "Acme | Pro".into()]
                },
                models: vec![format!("X{i}")],
                manufacturer: "ACME Ltd".into(),
                manufacturer_country: Country::parse("CN").unwrap(),
                issued_on: d(2024, 1, 1),
                expires_on: d(2027, 1, 1),
                status: LicenceStatus::Active,
                status_since: d(2024, 1, 1),
            })
            .collect(),
        labs: vec![Lab {
            id: "LAB-1".into(),
            name: "Lab".into(),
            standards: vec![StandardRef::parse("TIS 2432-2555").unwrap()],
            accredited_from: d(2020, 1, 1),
            accredited_until: None,
            status: LabStatus::Active,
        }],
        purposes: vec![SpecialPurpose {
            code: "SAMPLE".into(),
            description_th: "ตัวอย่าง".into(),
            description_en: "Samples".into(),
            valid_from: d(2024, 10, 1),
            valid_until: None,
            max_quantity_per_year: Some(amount("10.5")),
            officer_review: variant == 1,
            test_report_required: false,
        }],
    }
}

async fn refdata_round_trip_and_licence_status(store: &Store) {
    assert_eq!(store.load_refdata().await.unwrap(), None, "never loaded");
    let first = Arc::new(refdata(0));
    store.replace_refdata(first.clone(), now()).await.unwrap();
    assert_eq!(store.load_refdata().await.unwrap().as_ref(), Some(&*first));
    let second = Arc::new(refdata(1));
    store.replace_refdata(second.clone(), now()).await.unwrap();
    assert_eq!(
        store.load_refdata().await.unwrap().as_ref(),
        Some(&*second),
        "replaced whole"
    );
    let change = LicenceStatusChange {
        number: "L-1-0000003".into(),
        status: LicenceStatus::Suspended,
        since: today(),
        actor: "e-surveillance".into(),
        reason: "factory audit failed".into(),
        at: now(),
    };
    let changes = store
        .set_licence_status(change.clone(), StatusMark(0))
        .await
        .unwrap()
        .expect("a known licence");
    assert_eq!(
        changes
            .iter()
            .map(|c| (c.number.as_str(), c.status))
            .collect::<Vec<_>>(),
        [("L-1-0000003", LicenceStatus::Suspended)]
    );
    let loaded = store.load_refdata().await.unwrap().unwrap();
    let l = loaded
        .licences
        .iter()
        .find(|l| l.number == "L-1-0000003")
        .unwrap();
    assert_eq!(
        (l.status, l.status_since),
        (LicenceStatus::Suspended, today())
    );
    // Loaded again from an export that predates the suspension: the suspension stays.
    let replaced = store.replace_refdata(second.clone(), now()).await.unwrap();
    assert_eq!(
        replaced.mark, changes[0].mark,
        "the stored data includes the change"
    );
    assert_eq!(
        replaced.kept,
        [super::KeptStatus {
            number: "L-1-0000003".into(),
            status: LicenceStatus::Suspended,
            since: today(),
        }]
    );
    let status_of = |data: &RefData| {
        let l = data
            .licences
            .iter()
            .find(|l| l.number == "L-1-0000003")
            .unwrap();
        (l.status, l.status_since)
    };
    let loaded = store.load_refdata().await.unwrap().unwrap();
    assert_eq!(status_of(&loaded), (LicenceStatus::Suspended, today()));
    // An export that knows of a later change wins.
    let mut newer = (*second).clone();
    let l = newer
        .licences
        .iter_mut()
        .find(|l| l.number == "L-1-0000003")
        .unwrap();
    l.status_since = today() + chrono::Days::new(1);
    let kept = store
        .replace_refdata(Arc::new(newer.clone()), now())
        .await
        .unwrap()
        .kept;
    assert!(kept.is_empty(), "{kept:?}");
    assert_eq!(store.load_refdata().await.unwrap(), Some(newer));
    let unknown = LicenceStatusChange {
        number: "L-NOPE".into(),
        ..change
    };
    assert_eq!(
        store
            .set_licence_status(unknown, StatusMark(0))
            .await
            .unwrap(),
        None
    );
}

/// A permit request decided on a snapshot behind the licence status changes stored (by
/// another instance, say) is not stored as decided: its snapshot catches up with exactly those
/// changes, and the message runs again. A special-import request is decided inside its
/// transaction; a new one without special items in one script of SQLite's writer, or, on
/// PostgreSQL, in a group statement.
async fn a_decision_behind_the_stored_statuses_runs_again(store: &Store) {
    store
        .replace_refdata(Arc::new(refdata(0)), now())
        .await
        .unwrap();
    let change = LicenceStatusChange {
        number: "L-0-0000011".into(),
        status: LicenceStatus::Suspended,
        since: today(),
        actor: "admin".into(),
        reason: "factory audit failed".into(),
        at: now(),
    };
    let stored = store
        .set_licence_status(change, StatusMark(0))
        .await
        .unwrap()
        .unwrap();
    let statuses = Arc::new(FakeStatuses::default());
    let h = Harness::with_statuses(Arc::new(fake_decide), statuses.clone());
    let cases = [
        special("ST-1", Function::Original, "1", "SAMPLE"),
        request("ST-2", Function::Original, &[(1, 1, "5", "kettle")]),
    ];
    for (i, req) in cases.into_iter().enumerate() {
        *statuses.mark.lock().unwrap() = StatusMark(0);
        statuses.given.lock().unwrap().clear();
        let r = h.permit(store, &format!("m-st-{i}"), req).await;
        assert_eq!(r.items[0].status, ItemStatus::Approved, "case {i}");
        let given = statuses.given.lock().unwrap().clone();
        assert_eq!(given, std::slice::from_ref(&stored), "case {i}");
        assert_eq!(*statuses.mark.lock().unwrap(), stored[0].mark, "case {i}");
    }
    // A snapshot that does not catch up at once (twice here): the message runs again until
    // it has, on SQLite too, where the second run is in a batch with savepoints.
    *statuses.mark.lock().unwrap() = StatusMark(0);
    statuses.given.lock().unwrap().clear();
    statuses.skip.store(2, SeqCst);
    let r = h
        .permit(
            store,
            "m-st-again",
            special("ST-AGAIN", Function::Original, "1", "SAMPLE"),
        )
        .await;
    assert_eq!(r.items[0].status, ItemStatus::Approved);
    assert_eq!(statuses.given.lock().unwrap().len(), 3);
    assert_eq!(*statuses.mark.lock().unwrap(), stored[0].mark);
    // Up to date: nothing to catch up with.
    *statuses.mark.lock().unwrap() = stored[0].mark;
    statuses.given.lock().unwrap().clear();
    h.permit(
        store,
        "m-st-3",
        special("ST-3", Function::Original, "1", "SAMPLE"),
    )
    .await;
    assert!(statuses.given.lock().unwrap().is_empty());
}

/// Licence L-0-0000011 revoked today.
fn licence_11_revoked() -> LicenceStatusChange {
    LicenceStatusChange {
        number: "L-0-0000011".into(),
        status: LicenceStatus::Revoked,
        since: today(),
        actor: "e-surveillance".into(),
        reason: "licence withdrawn".into(),
        at: now(),
    }
}

async fn snapshot_is_built_while_the_rows_stream_in(store: &Store) {
    use crate::domain::snapshot::tests::contents;
    use crate::domain::snapshot::Snapshot;
    assert!(
        store.load_snapshot().await.unwrap().is_none(),
        "never loaded"
    );
    let data = Arc::new(refdata(0));
    store.replace_refdata(data.clone(), now()).await.unwrap();
    let change = licence_11_revoked();
    let before = store.load_snapshot().await.unwrap().unwrap().1;
    let changes = store
        .set_licence_status(change, before)
        .await
        .unwrap()
        .unwrap();
    let (streamed, mark) = store.load_snapshot().await.unwrap().unwrap();
    let streamed = streamed.unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(mark, changes[0].mark, "the snapshot includes the change");
    assert!(mark > before);
    let loaded = store.load_refdata().await.unwrap().unwrap();
    assert_eq!(streamed.licence_count(), data.licences.len());
    assert_eq!(contents(&streamed), loaded);
    assert_eq!(
        contents(&streamed),
        contents(&Snapshot::build(loaded).unwrap())
    );
    let l = streamed.licence("L-0-0000011").unwrap();
    assert_eq!(
        (l.status(), l.status_since()),
        (LicenceStatus::Revoked, today())
    );
}

async fn status_query_by_permit_and_reference(store: &Store) {
    let h = Harness::new();
    let r = h
        .permit(
            store,
            "m-st-1",
            request(
                "REF-ST",
                Function::Original,
                &[(1, 1, "10", "fan"), (2, 3, "4", "HOLD lamp")],
            ),
        )
        .await;
    assert_eq!(r.decision, RequestDecision::HoldForInspection);
    let p = r.permit.clone().unwrap();
    assert_eq!(p.effective_date, today());
    assert_eq!(p.expiry_date, arrival() + Duration::days(90));
    let d = h
        .declare(
            store,
            "m-st-2",
            declaration("D-ST", &[(p.number, 1, "2"), (p.number, 3, "1")]),
        )
        .await;
    assert_eq!(d.result, DeclarationResult::Hold);
    assert_eq!(
        quantities(store, p.number).await,
        vec![(Amount::ZERO, amount("10")), (Amount::ZERO, amount("4"))]
    );
    h.declare(
        store,
        "m-st-3",
        declaration("D-ST-2", &[(p.number, 1, "2")]),
    )
    .await;
    let by_permit = status_by_permit(store, p.number).await;
    let by_reference = status_by_reference(store, "REF-ST").await;
    assert_eq!(by_permit, by_reference);
    assert_eq!(by_permit.result, StatusQueryResult::Found);
    assert_eq!(by_permit.request_id.as_deref(), Some(r.request_id.as_str()));
    assert_eq!(by_permit.permit.as_ref(), Some(&p));
    let items: Vec<_> = by_permit
        .items
        .iter()
        .map(|i| {
            (
                i.item_number,
                i.invoice_item_number,
                i.status,
                i.approved,
                i.written_off,
                i.remaining,
            )
        })
        .collect();
    assert_eq!(
        items,
        vec![
            (
                1,
                1,
                ItemStatus::Approved,
                amount("10"),
                amount("2"),
                amount("8")
            ),
            (
                2,
                3,
                ItemStatus::HoldForInspection,
                amount("4"),
                Amount::ZERO,
                amount("4")
            ),
        ]
    );
    // A request without a permit lists every item, with nothing approved.
    h.permit(
        store,
        "m-st-5",
        request(
            "REF-ST-R",
            Function::Original,
            &[(1, 1, "3", "fan"), (2, 2, "1", "REJECT lamp")],
        ),
    )
    .await;
    let rejected: Vec<_> = status_by_reference(store, "REF-ST-R")
        .await
        .items
        .iter()
        .map(|i| (i.item_number, i.status, i.approved, i.remaining))
        .collect();
    assert_eq!(
        rejected,
        [
            (1, ItemStatus::Approved, Amount::ZERO, Amount::ZERO),
            (2, ItemStatus::Rejected, Amount::ZERO, Amount::ZERO)
        ]
    );
    assert_eq!(by_permit.history.len(), 2);
    assert!(
        by_permit.history[1].reason_en.contains("D-ST-2")
            && !by_permit.history[1].reason_th.is_empty()
    );
    // The query as a message is stored and answered like any other.
    let q = InboundDocument::PermitStatusQuery(PermitStatusQuery::ByPermit(p.number));
    h.send(store, "m-st-4", q).await;
    assert_eq!(
        h.doc("m-st-4"),
        OutboundDocument::PermitStatusResponse(by_permit)
    );
    assert!(store.lookup_reply("m-st-4", "NSW").await.unwrap().is_some());
    let missing =
        status_by_permit(store, PermitNumber::parse("TISI-P-2569-09999999").unwrap()).await;
    assert_eq!(missing.result, StatusQueryResult::NotFound);
    assert_eq!(
        status_by_reference(store, "REF-NONE").await.result,
        StatusQueryResult::NotFound
    );
}

async fn asynchronous_reply_goes_to_the_outbox(store: &Store) {
    let h = Harness::new();
    let doc = InboundDocument::ImportPermitRequest(request(
        "REF-ASYNC",
        Function::Original,
        &[(1, 1, "1", "fan")],
    ));
    let out = store
        .process(meta("m-async", false), doc.clone(), h.ctx.clone())
        .await
        .unwrap();
    assert_eq!(out.reply().unwrap().http_status, 202);
    let again = store
        .process(meta("m-async", false), doc, h.ctx.clone())
        .await
        .unwrap();
    assert!(again.is_duplicate());
    assert_eq!(
        store.pending_outbox_for_tests().await,
        vec![("out-m-async".to_owned(), 1)]
    );
}

// ---------------------------------------------------------------------------------------------
// Backend-specific
// ---------------------------------------------------------------------------------------------

/// Stored messages, replies and outbox bodies are compressed with lz4 where the server has it
/// (pglz costs several times the CPU).
#[tokio::test]
async fn postgres_compresses_stored_messages_with_lz4() {
    use sqlx::Connection;
    let Some(db) = pg_db().await else { return };
    let (admin, name) = db.pg.clone().unwrap();
    let mut c = sqlx::PgConnection::connect(&pg_url(&admin, &name))
        .await
        .expect("connect");
    let lz4: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT FROM pg_settings WHERE name = 'default_toast_compression' \
         AND 'lz4' = ANY(enumvals))",
    )
    .fetch_one(&mut c)
    .await
    .expect("server settings");
    let mut methods: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT c.relname::text, a.attname::text, a.attcompression::text \
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
         WHERE (c.relname, a.attname) IN (('messages', 'raw'), ('messages', 'reply_body'), \
         ('outbox', 'body'))",
    )
    .fetch_all(&mut c)
    .await
    .expect("columns");
    methods.sort();
    let want = if lz4 { "l" } else { "" };
    assert_eq!(
        methods,
        [
            ("messages", "raw"),
            ("messages", "reply_body"),
            ("outbox", "body")
        ]
        .map(|(t, a)| (t.to_owned(), a.to_owned(), want.to_owned()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_two_instances_make_one_decision() {
    let Some(db) = pg_db().await else { return };
    let (admin, name) = db.pg.clone().unwrap();
    let second = Store::connect(&pg_url(&admin, &name)).await.unwrap();
    let h = Arc::new(Harness::new());
    let doc = InboundDocument::ImportPermitRequest(request(
        "REF-2X",
        Function::Original,
        &[(1, 1, "5", "fan")],
    ));
    let mut tasks = Vec::new();
    for i in 0..60 {
        let store = if i % 2 == 0 {
            db.store.clone()
        } else {
            second.clone()
        };
        let (h, doc) = (h.clone(), doc.clone());
        tasks.push(tokio::spawn(async move {
            store
                .process(meta("msg-2x@nsw", true), doc, h.ctx.clone())
                .await
                .unwrap()
        }));
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    assert_eq!(outcomes.iter().filter(|o| !o.is_duplicate()).count(), 1);
    assert!(outcomes.iter().all(|o| o.reply() == outcomes[0].reply()));
    assert_eq!(
        status_by_reference(&second, "REF-2X").await.history.len(),
        1
    );
    drop(second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_new_permit_requests_take_one_statement_each() {
    let Some(db) = pg_db().await else { return };
    let Store::Postgres(s) = &db.store else {
        unreachable!()
    };
    let h = Harness::new();
    let items = [(1, 1, "1", "fan"), (2, 2, "3", "HOLD me")];
    let mut permits = Vec::new();
    for i in 0..5 {
        let r = h
            .permit(
                &db.store,
                &format!("m-ps-{i}"),
                request(&format!("REF-PS-{i}"), Function::Original, &items),
            )
            .await;
        assert_eq!(r.decision, RequestDecision::HoldForInspection, "{r:?}");
        permits.push(r.permit.expect("a permit").number);
    }
    let rejected = h
        .permit(
            &db.store,
            "m-ps-rejected",
            request("REF-PS-R", Function::Original, &[(1, 1, "1", "REJECT me")]),
        )
        .await;
    assert_eq!(rejected.decision, RequestDecision::Rejected);
    assert_eq!(
        (s.stats().one_statement(), s.stats().in_transaction()),
        (6, 0)
    );
    assert!(permits.windows(2).all(|w| w[0] < w[1]), "{permits:?}");
    // What the one statement stored is what the general path reads back: the items, their
    // reasons, the permit with its items and the history.
    for (i, p) in permits.iter().enumerate() {
        let st = status_by_permit(&db.store, *p).await;
        assert_eq!(st.result, StatusQueryResult::Found, "{st:?}");
        assert_eq!(st.history.len(), 1, "{st:?}");
        let again = h
            .permit(
                &db.store,
                &format!("m-ps-again-{i}"),
                request(&format!("REF-PS-{i}"), Function::Original, &items),
            )
            .await;
        assert_eq!(again.permit.map(|p| p.number), Some(*p));
        assert_eq!(
            reason_codes(&again.items),
            vec![vec![], vec![ReasonCode::InspectionSelected]]
        );
    }
    // A resend of a message, and a reference used before with other content: the
    // statement's constraints decline both, nothing of them stays, and the transaction
    // answers them.
    let resend = db
        .store
        .process(
            meta("m-ps-0", true),
            InboundDocument::ImportPermitRequest(request("REF-PS-0", Function::Original, &items)),
            h.ctx.clone(),
        )
        .await
        .unwrap();
    assert!(resend.is_duplicate());
    let dup = h
        .permit(
            &db.store,
            "m-ps-dup",
            request("REF-PS-1", Function::Original, &[(1, 1, "2", "fan")]),
        )
        .await;
    assert_eq!(
        reason_codes(&dup.items),
        vec![vec![ReasonCode::DuplicateReference]]
    );
    assert_eq!(
        (s.stats().one_statement(), s.stats().in_transaction()),
        (6, 5 + 2)
    );
    // The reference's history: its decision, nothing of the declined statements, and
    // nothing of the refused duplicate, which changed nothing of the reference.
    let st = status_by_reference(&db.store, "REF-PS-1").await;
    let states: Vec<&str> = st.history.iter().map(|e| e.state.as_str()).collect();
    assert_eq!(states, ["HOLD_FOR_INSPECTION"]);
    let first = db
        .store
        .lookup_reply("m-ps-0", "NSW")
        .await
        .unwrap()
        .expect("the first copy's reply");
    assert_eq!(first.body, resend.reply().unwrap().body);
}

#[tokio::test]
async fn postgres_one_statement_checks_every_row_count() {
    let Some(db) = pg_db().await else { return };
    let Store::Postgres(s) = &db.store else {
        unreachable!()
    };
    let mut conn = s.conn_for_tests().await;
    let insert = |id: &str, rows: u64| {
        common::Write::new(
            "the test messages",
            "INSERT INTO messages (message_id, conversation_id, from_party, to_party, \
             cpa_id, service, action, received_at, content_type, raw, ack_requested, \
             sync_reply, packaging) SELECT $1 || n, 'c', 'NSW', 'TISI', 'cpa', 's', 'a', \
             now(), 'text/xml', '', false, true, 'x' FROM generate_series(1, 2) AS n",
            vec![sql::V::Text(id.into())],
            rows,
        )
    };
    let err = common::one_statement(
        &mut *conn,
        vec![insert("ok-", 2), insert("short-", 3)],
        None,
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("storing the test messages touched 2 rows instead of 3"),
        "{err}"
    );
    common::one_statement(&mut *conn, vec![insert("a-", 2), insert("b-", 2)], None)
        .await
        .unwrap();
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT message_id FROM messages ORDER BY message_id")
            .fetch_all(&mut *conn)
            .await
            .unwrap();
    assert_eq!(stored, ["a-1", "a-2", "b-1", "b-2"]);
}

/// A migrated SQLite store at `path` that checkpoints only when the test says so.
async fn store_without_checkpoints(path: &std::path::Path) -> super::sqlite::SqliteStore {
    let s = super::sqlite::SqliteStore::connect_with(
        &format!("sqlite://{}", path.display()),
        None,
        WriterCpu::Auto,
    )
    .await
    .expect("connect");
    s.migrate().await.expect("migrate");
    s
}

/// Writes a 256 KiB blob (65 pages) in a transaction of its own.
async fn write_blob(s: &super::sqlite::SqliteStore, i: i64) {
    s.write(move |c| {
        Box::pin(async move {
            use super::sql::{args, Conn};
            c.exec("CREATE TABLE IF NOT EXISTS probe_pages (b BLOB)", vec![])
                .await?;
            c.exec(
                "INSERT INTO probe_pages (b) VALUES ($1)",
                args![vec![i as u8; 256 * 1024]],
            )
            .await?;
            Ok(())
        })
    })
    .await
    .expect("write");
}

/// The size of `path` with `suffix` (`-wal`), 0 when there is no such file.
fn file_size(path: &std::path::Path, suffix: &str) -> u64 {
    std::fs::metadata(format!("{}{suffix}", path.display()))
        .map(|m| m.len())
        .unwrap_or(0)
}

#[tokio::test]
async fn sqlite_writer_leaves_the_wal_to_the_checkpointer() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("gateway.db");
    let s = store_without_checkpoints(&path).await;
    s.checkpoint()
        .await
        .expect("checkpoint after the migrations");
    let size = |suffix: &str| file_size(&path, suffix);
    let before = size("");
    // 6 MiB in 24 transactions: SQLite's own default would checkpoint after 1,000 pages (4 MiB).
    for i in 0..24i64 {
        write_blob(&s, i).await;
    }
    assert!(size("-wal") > 6 << 20, "the pages are in the WAL");
    assert!(
        size("") < before + (1 << 20),
        "the writer checkpointed by itself: {} -> {} bytes",
        before,
        size("")
    );
    let done = s.checkpoint().await.expect("checkpoint");
    assert!(done.frames > 1_500, "{done:?}");
    assert_eq!(
        done.checkpointed, done.frames,
        "no reader holds a page back"
    );
    assert!(
        size("") > before + (6 << 20),
        "the pages are in the database file"
    );
}

/// The writer and SQLite's thread for its connection run on one CPU, chosen or not.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn sqlite_writer_and_its_sqlite_thread_share_one_cpu() {
    use super::sqlite::SqliteStore;
    let dir = tempfile::tempdir().expect("temp dir");
    let url = |name: &str| format!("sqlite://{}", dir.path().join(name).display());
    // Threads of this process, by name, with the CPUs each may run on.
    let threads = || {
        let mut out = Vec::new();
        for t in std::fs::read_dir("/proc/self/task").expect("threads") {
            let t = t.expect("thread").path();
            let (Ok(comm), Ok(status)) = (
                std::fs::read_to_string(t.join("comm")),
                std::fs::read_to_string(t.join("status")),
            ) else {
                continue; // ended meanwhile
            };
            let cpus = status
                .lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                .expect("Cpus_allowed_list")
                .trim()
                .to_owned();
            out.push((comm.trim().to_owned(), cpus));
        }
        out
    };
    let process_cpus = std::fs::read_to_string("/proc/self/status")
        .expect("status")
        .lines()
        .find_map(|l| {
            l.strip_prefix("Cpus_allowed_list:")
                .map(|v| v.trim().to_owned())
        })
        .expect("Cpus_allowed_list");

    // Both threads of the store's writer run on `cpu` alone.
    let on_cpu = |cpu: usize| {
        let on_it: Vec<String> = threads()
            .into_iter()
            .filter(|(_, cpus)| *cpus == cpu.to_string())
            .map(|(name, _)| name)
            .collect();
        assert!(on_it.iter().any(|n| n == "sqlite-writer"), "{on_it:?}");
        assert!(
            on_it.iter().any(|n| n.starts_with("sqlx-sqlite")),
            "{on_it:?}"
        );
    };

    // `auto`: the last CPU the process may use.
    let auto = SqliteStore::connect_with(&url("auto.db"), None, WriterCpu::Auto)
        .await
        .expect("connect");
    let last: usize = process_cpus
        .rsplit([',', '-'])
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a CPU number");
    assert_eq!(auto.writer_cpu(), Some(last), "allowed: {process_cpus}");
    on_cpu(last);

    // A process that may use one CPU only: the writer is pinned to that one, so that it yields
    // it to SQLite's thread. (This thread stands for the process: the writer's threads start
    // from it and inherit what it may use.)
    {
        use rustix::thread::{sched_getaffinity, sched_setaffinity, CpuSet};
        let mine = sched_getaffinity(None).expect("affinity");
        let first = (0..CpuSet::MAX_CPU)
            .find(|c| mine.is_set(*c))
            .expect("a CPU");
        let mut one = CpuSet::new();
        one.set(first);
        sched_setaffinity(None, &one).expect("one CPU");
        let single = SqliteStore::connect_with(&url("single.db"), None, WriterCpu::Auto).await;
        sched_setaffinity(None, &mine).expect("affinity restored");
        let single = single.expect("connect");
        assert_eq!(single.writer_cpu(), Some(first));
        on_cpu(first);
    }

    let off = SqliteStore::connect_with(&url("off.db"), None, WriterCpu::Off)
        .await
        .expect("connect");
    assert_eq!(off.writer_cpu(), None);
    let nowhere = SqliteStore::connect_with(&url("nowhere.db"), None, WriterCpu::Cpu(100_000))
        .await
        .err()
        .expect("no such CPU");
    assert!(
        matches!(&nowhere, StoreError::Config(m) if m.contains("database.sqlite_writer_cpu")),
        "{nowhere:?}"
    );
}

/// SQLite reads the reference snapshot in parts, a transaction each: the parts make the same
/// snapshot as one read, and a replacement of the reference data between them is seen.
#[tokio::test]
async fn sqlite_snapshot_read_in_parts() {
    use crate::domain::snapshot::tests::contents;
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::Sqlite(store_without_checkpoints(&dir.path().join("gateway.db")).await);
    let Store::Sqlite(s) = &store else {
        unreachable!()
    };
    assert!(
        s.snapshot_in_parts_for_tests(7).await.is_none(),
        "never loaded"
    );
    let data = Arc::new(refdata(0));
    store.replace_refdata(data.clone(), now()).await.unwrap();
    let change = licence_11_revoked();
    let changes = store
        .set_licence_status(change, StatusMark::default())
        .await
        .unwrap()
        .unwrap();
    let loaded = store.load_refdata().await.unwrap().unwrap();
    // 2,500 licences: parts of 7 (the last one short), of one, of exactly a tenth.
    for part in [7, 1, 250] {
        let (parts, mark) = s.snapshot_in_parts_for_tests(part).await.unwrap();
        let parts = parts.unwrap();
        assert_eq!(mark, changes[0].mark, "part {part}");
        assert_eq!(parts.licence_count(), data.licences.len(), "part {part}");
        assert_eq!(contents(&parts), loaded, "part {part}");
    }

    let mut c = s.read_conn_for_tests().await;
    let mut read = super::common::SnapshotRead::begin(&mut *c)
        .await
        .unwrap()
        .unwrap();
    assert!(read.licences(&mut *c, Some(10)).await.unwrap());
    assert!(read.still_current(&mut *c).await.unwrap());
    // The same data loaded again, at the same time: still another load.
    store.replace_refdata(data, now()).await.unwrap();
    assert!(read.licences(&mut *c, Some(10)).await.unwrap());
    assert!(!read.still_current(&mut *c).await.unwrap());
}

/// Under sustained load the background checkpoint never finds every frame copied when a
/// transaction begins, and without help the WAL would only grow.
#[tokio::test]
async fn sqlite_wal_starts_over_once_it_is_long() {
    use super::sqlite::{Rounds, WAL_RESTART_FRAMES};
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("gateway.db");
    let s = store_without_checkpoints(&path).await;
    let wal = || file_size(&path, "-wal");
    let fill = |from: i64, frames: u64| {
        let s = &s;
        async move {
            let mut i = from;
            while wal() < frames * 4096 {
                write_blob(s, i).await;
                i += 1;
            }
            i
        }
    };
    // A checkpoint that cannot copy every frame, as under load, where the writer commits
    // while the checkpoint runs: here a reader still needs the later ones when it runs.
    let i = fill(0, 1000).await;
    let mut reader = s.read_conn_for_tests().await;
    sqlx::Executor::execute(&mut *reader, "BEGIN; SELECT count(*) FROM probe_pages")
        .await
        .expect("read transaction");
    let i = fill(i, WAL_RESTART_FRAMES as u64 + 100).await;
    let mut rounds = Rounds::default();
    let long = s
        .checkpoint_round_for_tests(&mut rounds)
        .await
        .expect("a round");
    assert!(long.frames > WAL_RESTART_FRAMES, "{long:?}");
    assert!(long.checkpointed < long.frames, "{long:?}");
    // The writer was asked to copy the rest: the next round waits for it, not the one after.
    assert_eq!(s.checkpoint_round_for_tests(&mut rounds).await, None);
    let again = s.checkpoint_round_for_tests(&mut rounds).await;
    assert_eq!(again.map(|c| c.frames), Some(long.frames));
    sqlx::Executor::execute(&mut *reader, "COMMIT")
        .await
        .expect("end of the read transaction");
    assert_eq!(s.stats().wal_catch_ups(), 0, "the writer waits to be asked");
    let size = wal();
    write_blob(&s, i).await;
    let after = s.checkpoint().await.expect("checkpoint");
    assert!(
        after.frames < 100,
        "the WAL started over: {long:?} then {after:?}"
    );
    assert_eq!(wal(), size, "the WAL file is reused, not extended");
    assert_eq!(s.stats().wal_catch_ups(), 1);
}

/// Holds the SQLite writer inside a job (which runs no statement) until `release` is sent;
/// the jobs queued meanwhile form the next batch.
async fn hold_writer(
    s: &super::sqlite::SqliteStore,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), StoreError>>,
) {
    let (release, wait) = tokio::sync::oneshot::channel::<()>();
    let (entered_tx, entered) = tokio::sync::oneshot::channel::<()>();
    let blocker = {
        let s = s.clone();
        tokio::spawn(async move {
            s.write(move |_c| {
                Box::pin(async move {
                    let _ = entered_tx.send(());
                    let _ = wait.await;
                    Ok(())
                })
            })
            .await
        })
    };
    entered.await.unwrap();
    (release, blocker)
}

/// Sends `messages` (message id, synchronous reply, document) to PostgreSQL while every group
/// statement's slot is held, so that the new permit requests among them form one group;
/// their outcomes, in order.
async fn in_one_group(
    db: &Db,
    h: &Arc<Harness>,
    messages: Vec<(String, bool, InboundDocument)>,
) -> Vec<Outcome> {
    let Store::Postgres(s) = &db.store else {
        unreachable!()
    };
    let held = s.hold_groups_for_tests().await;
    let mut tasks = Vec::new();
    for (id, sync, doc) in messages {
        let grouped = matches!(&doc, InboundDocument::ImportPermitRequest(r) if r.function == Function::Original);
        let handed = s.handed_for_tests();
        let (store, h) = (db.store.clone(), h.clone());
        tasks.push(tokio::spawn(async move {
            store.process(meta(&id, sync), doc, h.ctx.clone()).await
        }));
        // In this order in the queue: each is in it before the next is sent.
        if grouped {
            while s.handed_for_tests() == handed {
                tokio::task::yield_now().await;
            }
        }
    }
    drop(held);
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap().expect("process"));
    }
    out
}

fn permit_doc(reference: &str, items: &[(u16, u16, &str, &str)]) -> InboundDocument {
    InboundDocument::ImportPermitRequest(request(reference, Function::Original, items))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_new_permit_requests_are_written_together() {
    let Some(db) = pg_db().await else { return };
    let Store::Postgres(s) = &db.store else {
        unreachable!()
    };
    let h = Arc::new(Harness::new());
    let shapes: [&[(u16, u16, &str, &str)]; 5] = [
        &[(1, 1, "1", "fan"), (2, 2, "3", "fan")],
        &[(1, 1, "2", "REJECT fan")],
        &[(1, 1, "1", "HOLD fan"), (2, 2, "4", "lamp")],
        &[(2, 7, "5", "kettle"), (1, 9, "1", "HOLD kettle")],
        &[(1, 1, "1", "REJECT a"), (2, 2, "1", "REJECT b")],
    ];
    let messages: Vec<_> = (0..16)
        .map(|i| {
            let reference = format!("REF-GROUP-{i}");
            // Some answered asynchronously: their outbox rows are parts of their own.
            (
                format!("m-group-{i}"),
                i % 5 != 4,
                permit_doc(&reference, shapes[i % 5]),
            )
        })
        .collect();
    let outcomes = in_one_group(&db, &h, messages.clone()).await;
    assert!(
        outcomes.iter().all(|o| matches!(o, Outcome::New(_))),
        "{outcomes:?}"
    );
    assert_eq!(s.stats().grouped(), 16, "one group");
    assert_eq!(s.stats().in_transaction(), 0);
    let mut permits = BTreeSet::new();
    for (id, _, doc) in messages {
        let OutboundDocument::ImportPermitResponse(first) = h.doc(&id) else {
            panic!("{id}: not a permit response")
        };
        // What the group stored is what the general path reads back: an identical request
        // in a new message gets the same response, rebuilt from the rows.
        let InboundDocument::ImportPermitRequest(req) = doc else {
            unreachable!()
        };
        let again = h.permit(&db.store, &format!("{id}-again"), req).await;
        assert_eq!(again, first, "{id}");
        assert_eq!(
            first.decision != RequestDecision::Rejected,
            first.permit.is_some(),
            "{id}"
        );
        if let Some(p) = &first.permit {
            assert!(permits.insert(p.number), "{} issued twice", p.number);
            let st = status_by_permit(&db.store, p.number).await;
            assert_eq!(st.result, StatusQueryResult::Found, "{st:?}");
            assert_eq!(st.request_id.as_deref(), Some(first.request_id.as_str()));
            assert_eq!(st.history.len(), 1, "{st:?}");
        }
    }
    assert_eq!(permits.len(), 10, "approved and held requests have permits");
    let outbox: Vec<String> = db
        .store
        .pending_outbox_for_tests()
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(outbox, ["out-m-group-4", "out-m-group-9", "out-m-group-14"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_a_group_that_meets_a_stored_message_or_reference_is_written_alone() {
    let Some(db) = pg_db().await else { return };
    let Store::Postgres(s) = &db.store else {
        unreachable!()
    };
    let h = Arc::new(Harness::new());
    let stored = h
        .permit(
            &db.store,
            "m-alone-0",
            request("REF-ALONE-0", Function::Original, &[(1, 1, "1", "fan")]),
        )
        .await;
    let doc0 = permit_doc("REF-ALONE-0", &[(1, 1, "1", "fan")]);
    let doc3 = permit_doc("REF-ALONE-3", &[(1, 1, "2", "fan")]);
    let outcomes = in_one_group(
        &db,
        &h,
        vec![
            (
                "m-alone-1".into(),
                true,
                permit_doc("REF-ALONE-1", &[(1, 1, "1", "lamp")]),
            ),
            // The first message again, and its request in a new message.
            ("m-alone-0".into(), true, doc0.clone()),
            ("m-alone-2".into(), true, doc0),
            // A message twice in the group.
            ("m-alone-3".into(), true, doc3.clone()),
            ("m-alone-3".into(), true, doc3),
            // A reference used twice in the group, with different content.
            (
                "m-alone-4".into(),
                true,
                permit_doc("REF-ALONE-4", &[(1, 1, "1", "fan")]),
            ),
            (
                "m-alone-5".into(),
                true,
                permit_doc("REF-ALONE-4", &[(1, 1, "9", "fan")]),
            ),
            // A request whose decision reads the store.
            (
                "m-alone-6".into(),
                true,
                InboundDocument::ImportPermitRequest(special(
                    "REF-ALONE-6",
                    Function::Original,
                    "1",
                    "SAMPLE",
                )),
            ),
        ],
    )
    .await;
    assert_eq!(s.stats().grouped(), 0, "the group was declined");
    let kinds: Vec<&str> = outcomes
        .iter()
        .map(|o| match o {
            Outcome::New(_) => "new",
            Outcome::Duplicate(_) => "duplicate",
            Outcome::SentByAnother { .. } => "another",
        })
        .collect();
    // The requests run alone at once: of the two copies of m-alone-3, either is the first.
    let mut copies = [kinds[3], kinds[4]];
    copies.sort_unstable();
    assert_eq!(
        (kinds[..3].to_vec(), copies, kinds[5..].to_vec()),
        (
            vec!["new", "duplicate", "new"],
            ["duplicate", "new"],
            vec!["new", "new", "new"]
        )
    );
    let permit = |id: &str| match h.doc(id) {
        OutboundDocument::ImportPermitResponse(r) => r,
        other => panic!("{other:?}"),
    };
    assert_eq!(permit("m-alone-1").decision, RequestDecision::Approved);
    assert_eq!(permit("m-alone-2"), stored, "the earlier decision, rebuilt");
    assert_eq!(permit("m-alone-3").decision, RequestDecision::Approved);
    // Of the two requests under one reference, the one stored first is approved, and the
    // other one, with different content, is rejected as a duplicate reference.
    let mut decisions: Vec<Vec<Vec<ReasonCode>>> = ["m-alone-4", "m-alone-5"]
        .iter()
        .map(|id| reason_codes(&permit(id).items))
        .collect();
    decisions.sort();
    assert_eq!(
        decisions,
        [vec![vec![]], vec![vec![ReasonCode::DuplicateReference]]]
    );
    assert_eq!(permit("m-alone-6").decision, RequestDecision::Approved);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_new_permit_requests_take_one_round_trip_each() {
    let db = sqlite_db().await;
    let Store::Sqlite(s) = &db.store else {
        unreachable!()
    };
    let h = Arc::new(Harness::new());
    // Hold the writer while the requests queue up, so that they form one batch.
    let (release, blocker) = hold_writer(s).await;
    let (batches, trips) = (s.stats().batches(), s.stats().round_trips());
    let mut tasks = Vec::new();
    for i in 0..10 {
        let (store, h) = (db.store.clone(), h.clone());
        tasks.push(tokio::spawn(async move {
            issued(
                &h,
                &store,
                &format!("m-one-{i}"),
                &format!("REF-ONE-{i}"),
                &[(1, 1, "1", "fan"), (2, 2, "3", "fan")],
            )
            .await
        }));
    }
    release_when_queued(s, 10, release, blocker).await;
    let mut permits = BTreeSet::new();
    for t in tasks {
        assert!(permits.insert(t.await.unwrap()));
    }
    assert_eq!(s.stats().batches(), batches + 1, "one transaction");
    assert_eq!(
        s.stats().round_trips() - trips,
        1 + 10 + 1,
        "the serial counter read with BEGIN, one script per request, COMMIT"
    );
    // What the one script stored is what the general path reads back.
    for p in permits {
        let st = status_by_permit(&db.store, p).await;
        assert_eq!(st.result, StatusQueryResult::Found, "{st:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL: transactions that meet, driven step by step
// ---------------------------------------------------------------------------------------------

/// A connection of the store's pool in a transaction of its own, and its backend's pid.
async fn pg_tx(p: &super::postgres::PgStore) -> (sqlx::pool::PoolConnection<sqlx::Postgres>, i64) {
    use super::sql::{Conn, Ty};
    let mut c = p.conn_for_tests().await;
    c.exec("BEGIN", Vec::new()).await.expect("begin");
    let pid = c
        .one_row(
            "SELECT CAST(pg_backend_pid() AS BIGINT)",
            Vec::new(),
            &[Ty::I64],
        )
        .await
        .expect("pid")
        .i64(0)
        .expect("pid");
    (c, pid)
}

async fn pg_commit(c: &mut sqlx::pool::PoolConnection<sqlx::Postgres>) {
    use super::sql::Conn;
    c.exec("COMMIT", Vec::new()).await.expect("commit");
}

/// Returns once the transaction of backend `pid` waits for a lock another one holds, or once
/// `task` (which runs it) is done without having waited.
async fn until_waiting<T>(
    p: &super::postgres::PgStore,
    pid: i64,
    task: &tokio::task::JoinHandle<T>,
) {
    use super::sql::{args, Conn, Ty};
    let mut c = p.conn_for_tests().await;
    while !task.is_finished() {
        let waiting = c
            .one_row(
                "SELECT CAST(cardinality(pg_blocking_pids(CAST($1 AS INT))) AS BIGINT)",
                args![pid],
                &[Ty::I64],
            )
            .await
            .expect("blocking pids")
            .i64(0)
            .expect("count");
        if waiting > 0 {
            return;
        }
        tokio::task::yield_now().await;
    }
}

async fn pg_permit_status(p: &super::postgres::PgStore, number: PermitNumber) -> String {
    use super::sql::{args, Conn, Ty};
    p.conn_for_tests()
        .await
        .one_row(
            "SELECT status FROM permits WHERE permit_number = $1",
            args![number.to_string()],
            &[Ty::Text],
        )
        .await
        .expect("the permit")
        .text(0)
        .expect("status")
}

/// Processes a message on a transaction of its own in a task; the task gives the connection
/// back, its transaction still open.
fn pg_process_in_task(
    mut c: sqlx::pool::PoolConnection<sqlx::Postgres>,
    h: &Harness,
    message_id: &str,
    doc: InboundDocument,
) -> tokio::task::JoinHandle<(sqlx::pool::PoolConnection<sqlx::Postgres>, Outcome)> {
    let (meta, ctx) = (meta(message_id, true), h.ctx.clone());
    tokio::spawn(async move {
        let out = super::common::process(&mut *c, &meta, &doc, &ctx)
            .await
            .expect("process");
        (c, out)
    })
}

/// An officer approves the item of a request waiting for review, issuing its permit, while the
/// importer cancels the request: whichever commits first, the end is one of the two orders
/// (here the cancellation, which waits for the officer, cancels the permit just issued too).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_cancellation_waits_for_an_officers_permit() {
    let Some(db) = pg_db().await else { return };
    let Store::Postgres(p) = &db.store else {
        unreachable!()
    };
    let h = Harness::new();
    let special = |function| {
        under_purpose(
            "RACE-CANCEL",
            function,
            RequestType::Special,
            "SAMPLE",
            &[("2", "REVIEW")],
        )
    };
    let r = h
        .permit(&db.store, "m-rc-1", special(Function::Original))
        .await;
    assert_eq!(r.decision, RequestDecision::UnderReview);
    assert!(r.permit.is_none());

    let (mut officer_tx, _) = pg_tx(p).await;
    let out = officer::decide(
        &mut *officer_tx,
        &officer_input(&r.request_id, 1, officer::OfficerAction::Approve),
    )
    .await
    .expect("officer");
    let officer::OfficerOutcome::Done {
        permit_number: Some(number),
        ..
    } = out
    else {
        panic!("{out:?}")
    };
    let number = PermitNumber::parse(&number).unwrap();

    let (cancel_tx, pid) = pg_tx(p).await;
    let doc = InboundDocument::ImportPermitRequest(special(Function::Cancellation));
    let cancel = pg_process_in_task(cancel_tx, &h, "m-rc-2", doc);
    until_waiting(p, pid, &cancel).await;
    pg_commit(&mut officer_tx).await;
    let (mut cancel_tx, _) = cancel.await.unwrap();
    pg_commit(&mut cancel_tx).await;

    let st = status_by_reference(&db.store, "RACE-CANCEL").await;
    assert_eq!(st.decision, Some(RequestDecision::Cancelled), "{st:?}");
    assert_eq!(pg_permit_status(p, number).await, "CANCELLED");
}

/// An officer refuses the held item of a permit after inspection while a declaration writes
/// off its other item: the write-off commits first and stands (goods were cleared against
/// it); the permit is cancelled after it, as when the officer came later.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_officer_refusal_waits_for_a_write_off() {
    let Some(db) = pg_db().await else { return };
    let Store::Postgres(p) = &db.store else {
        unreachable!()
    };
    let h = Harness::new();
    let (r, number) = h.held(&db.store, "m-rw-1", "RACE-WO").await;

    let (decl_tx, _) = pg_tx(p).await;
    let doc = InboundDocument::DeclarationCheck(declaration("DECL-RACE-WO", &[(number, 1, "2")]));
    let (mut decl_tx, out) = pg_process_in_task(decl_tx, &h, "m-rw-2", doc)
        .await
        .unwrap();
    assert!(matches!(out, Outcome::New(_)));
    match h.doc("m-rw-2") {
        OutboundDocument::DeclarationCheckResponse(d) => {
            assert_eq!(d.result, DeclarationResult::Accepted, "{d:?}")
        }
        other => panic!("{other:?}"),
    }

    let (mut officer_tx, pid) = pg_tx(p).await;
    let input = officer_input(
        &r.request_id,
        2,
        officer::OfficerAction::RejectAfterInspection,
    );
    let officer = tokio::spawn(async move {
        let out = officer::decide(&mut *officer_tx, &input)
            .await
            .expect("officer");
        (officer_tx, out)
    });
    until_waiting(p, pid, &officer).await;
    pg_commit(&mut decl_tx).await;
    let (mut officer_tx, out) = officer.await.unwrap();
    pg_commit(&mut officer_tx).await;
    assert!(
        matches!(
            out,
            officer::OfficerOutcome::Done {
                decision: RequestDecision::Rejected,
                ..
            }
        ),
        "{out:?}"
    );

    assert_eq!(pg_permit_status(p, number).await, "CANCELLED");
    assert_eq!(quantities(&db.store, number).await[0].0, amount("2"));
}

/// Two special-import requests of one importer decided at once: the second waits for the
/// first, and sees its quantity (6 + 6 is more than the fake's cap of 10).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_special_requests_of_one_importer_take_turns() {
    let Some(db) = pg_db().await else { return };
    let Store::Postgres(p) = &db.store else {
        unreachable!()
    };
    let h = Harness::new();
    let doc = |reference| {
        InboundDocument::ImportPermitRequest(special(reference, Function::Original, "6", "SAMPLE"))
    };
    let (first_tx, _) = pg_tx(p).await;
    let (mut first_tx, _) = pg_process_in_task(first_tx, &h, "m-su-1", doc("RACE-SU-1"))
        .await
        .unwrap();
    let (second_tx, pid) = pg_tx(p).await;
    let second = pg_process_in_task(second_tx, &h, "m-su-2", doc("RACE-SU-2"));
    until_waiting(p, pid, &second).await;
    pg_commit(&mut first_tx).await;
    let (mut second_tx, _) = second.await.unwrap();
    pg_commit(&mut second_tx).await;
    let status = |id| match h.doc(id) {
        OutboundDocument::ImportPermitResponse(r) => r.items[0].status,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        (status("m-su-1"), status("m-su-2")),
        (ItemStatus::Approved, ItemStatus::Rejected)
    );
}

/// The sum of an importer's earlier special-import quantities reads index entries only, not
/// the rows of the importer's earlier requests and items.
#[tokio::test]
async fn sqlite_special_usage_reads_index_entries_only() {
    use super::sql::{args, Conn, Ty};
    let db = sqlite_db().await;
    let Store::Sqlite(s) = &db.store else {
        unreachable!()
    };
    let mut c = s.read_conn_for_tests().await;
    let plan: Vec<String> = c
        .rows(
            &format!("EXPLAIN QUERY PLAN {}", super::common::SPECIAL_USAGE),
            args![IMPORTER, "00000"],
            &[Ty::I64, Ty::I64, Ty::I64, Ty::Text],
        )
        .await
        .expect("plan")
        .iter()
        .map(|r| r.text(3).expect("detail"))
        .collect();
    for covered in [
        "SEARCH r USING COVERING INDEX requests_by_importer",
        "SEARCH ri USING COVERING INDEX request_items_special",
    ] {
        assert!(
            plan.iter().any(|step| step.starts_with(covered)),
            "{covered}: {plan:#?}"
        );
    }
}

#[tokio::test]
async fn sqlite_writers_of_one_file_never_share_a_permit_serial() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/gateway.db", dir.path().display());
    let a = super::sqlite::SqliteStore::connect_with(&url, None, WriterCpu::Auto)
        .await
        .expect("connect");
    a.migrate().await.expect("migrate");
    let b = super::sqlite::SqliteStore::connect_with(&url, None, WriterCpu::Auto)
        .await
        .expect("connect");
    let (a, b) = (Store::Sqlite(a), Store::Sqlite(b));
    let h = Harness::new();
    let mut all = BTreeSet::new();
    for i in 0..6 {
        // Each writer keeps its own counter in memory; the other one's permits in between
        // must not be handed out again.
        for (name, store) in [("a", &a), ("b", &b), ("b2", &b)] {
            let p = issued(
                &h,
                store,
                &format!("m-two-{name}-{i}"),
                &format!("REF-TWO-{name}-{i}"),
                &[(1, 1, "1", "fan")],
            )
            .await;
            assert!(all.insert(p), "{p} issued twice");
        }
    }
    assert_eq!(all.len(), 18);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_failing_job_rolls_back_only_itself() {
    let db = sqlite_db().await;
    let Store::Sqlite(s) = &db.store else {
        unreachable!()
    };
    // Hold the writer while the others queue up, so that they form one batch.
    let (release, blocker) = hold_writer(s).await;
    let before = s.stats().batches();
    let mut tasks = Vec::new();
    for i in 0..10i64 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.write(move |c| Box::pin(async move { probe_job(c, "probe", i).await }))
                .await
        }));
    }
    release_when_queued(s, 10, release, blocker).await;
    all_but_job_4_committed(s, tasks, "probe").await;
    assert_eq!(
        s.stats().batches(),
        before + 1,
        "one transaction for the ten (the blocker ran no statement, so it opened none)"
    );
}

/// A job that stores the `counters` row `{prefix}-{i}` and returns `i`; job 4 fails after
/// its write.
async fn probe_job(
    c: &mut super::sqlite::WriterConn,
    prefix: &str,
    i: i64,
) -> Result<i64, StoreError> {
    use super::sql::{args, Conn};
    c.exec(
        "INSERT INTO counters (name, value) VALUES ($1, $2)",
        args![format!("{prefix}-{i}"), i],
    )
    .await?;
    if i == 4 {
        return Err(StoreError::Invalid("job 4 fails after writing".into()));
    }
    Ok(i)
}

/// [`probe_job`], but job 4 writes `{prefix}-4` and `{prefix}-4b` with a statement that
/// fails at its third row (`OR FAIL` on the writer: the two rows stay until the job's
/// savepoint or its batch's rollback takes them back).
async fn probe_job_failing_halfway(
    c: &mut super::sqlite::WriterConn,
    prefix: &str,
    i: i64,
) -> Result<i64, StoreError> {
    use super::sql::{args, Conn, Stmt};
    if i != 4 {
        return probe_job(c, prefix, i).await;
    }
    let (a, b) = (format!("{prefix}-4"), format!("{prefix}-4b"));
    c.script(vec![
        Stmt::exec(
            "UPDATE counters SET value = value WHERE name = $1",
            args![&a],
        ),
        Stmt::exec(
            "INSERT INTO counters (name, value) VALUES ($1, 1), ($2, 2), ($1, 3)",
            args![&a, &b],
        ),
    ])
    .await
    .map_err(|e| StoreError::Invalid(format!("job 4: {e}")))?;
    unreachable!("the third row repeats the first's unique name")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_a_statement_failing_halfway_leaves_nothing_of_its_job() {
    let db = sqlite_db().await;
    let Store::Sqlite(s) = &db.store else {
        unreachable!()
    };
    for again in [false, true] {
        let prefix = if again {
            "halfway-again"
        } else {
            "halfway-once"
        };
        let (release, blocker) = hold_writer(s).await;
        let reruns = s.stats().reruns();
        let mut tasks = Vec::new();
        for i in 0..10i64 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                if again {
                    s.write_again(move |c| Box::pin(probe_job_failing_halfway(c, prefix, i)))
                        .await
                } else {
                    s.write(move |c| Box::pin(probe_job_failing_halfway(c, prefix, i)))
                        .await
                }
            }));
        }
        release_when_queued(s, 10, release, blocker).await;
        all_but_job_4_committed(s, tasks, prefix).await;
        assert_eq!(s.stats().reruns(), reruns + u64::from(again), "{prefix}");
    }
}

#[tokio::test]
async fn sqlite_check_finds_a_row_without_its_parent() {
    let db = sqlite_db().await;
    let Store::Sqlite(s) = &db.store else {
        unreachable!()
    };
    assert_eq!(db.store.check().await.unwrap(), Vec::<String>::new());
    s.write(|c| {
        Box::pin(async move {
            use super::sql::{args, Conn};
            c.exec(
                "INSERT INTO item_reasons (item_pk, seq, code, field, message_th, message_en) \
                 VALUES ($1, 0, 'X', 'f', 'th', 'en')",
                args![987_654i64],
            )
            .await
        })
    })
    .await
    .expect("the writer does not enforce foreign keys");
    let problems = db.store.check().await.unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("item_reasons row ") && problems[0].contains("request_items"),
        "{problems:?}"
    );
}

/// Lets the writer held by [`hold_writer`] go once `jobs` jobs wait behind it.
async fn release_when_queued(
    s: &super::sqlite::SqliteStore,
    jobs: usize,
    release: tokio::sync::oneshot::Sender<()>,
    blocker: tokio::task::JoinHandle<Result<(), StoreError>>,
) {
    while s.queued_for_tests() < jobs {
        tokio::task::yield_now().await;
    }
    release.send(()).unwrap();
    blocker.await.unwrap().unwrap();
}

/// Ten jobs that each stored the `counters` row `{prefix}-{i}` and returned `i`, job 4 failing
/// after its write: it got its own error, the others their numbers, and only their rows stay.
async fn all_but_job_4_committed(
    s: &super::sqlite::SqliteStore,
    tasks: Vec<tokio::task::JoinHandle<Result<i64, StoreError>>>,
    prefix: &str,
) {
    for (i, t) in tasks.into_iter().enumerate() {
        let r = t.await.unwrap();
        if i == 4 {
            assert!(matches!(r, Err(StoreError::Invalid(_))), "{r:?}");
        } else {
            assert_eq!(r.unwrap(), i as i64);
        }
    }
    let names: Vec<String> = {
        let mut c = s.read_conn_for_tests().await;
        use super::sql::{Conn, Ty};
        c.rows(
            "SELECT name FROM counters WHERE name LIKE $1 ORDER BY name",
            super::sql::args![format!("{prefix}-%")],
            &[Ty::Text],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.text(0).unwrap())
        .collect()
    };
    let want: Vec<String> = (0..10)
        .filter(|i| *i != 4)
        .map(|i| format!("{prefix}-{i}"))
        .collect();
    assert_eq!(names, want);
}

/// Jobs that can run again ([`SqliteStore::write_again`]) run without savepoints; one that
/// fails sends its batch back, which runs again with them: the others commit once, the failing
/// one gets its error and leaves nothing.
#[tokio::test]
async fn sqlite_failing_job_without_savepoints_runs_its_batch_again() {
    use std::sync::atomic::{AtomicU32, Ordering};
    let db = sqlite_db().await;
    let Store::Sqlite(s) = &db.store else {
        unreachable!()
    };
    let (release, blocker) = hold_writer(s).await;
    let (batches, reruns) = (s.stats().batches(), s.stats().reruns());
    let runs: Arc<Vec<AtomicU32>> = Arc::new((0..10).map(|_| AtomicU32::new(0)).collect());
    let mut tasks = Vec::new();
    for i in 0..10i64 {
        let (s, runs) = (s.clone(), runs.clone());
        tasks.push(tokio::spawn(async move {
            s.write_again(move |c| {
                let runs = runs.clone();
                Box::pin(async move {
                    runs[i as usize].fetch_add(1, Ordering::Relaxed);
                    // The counters' names are unique: a second insert of one would fail.
                    probe_job(c, "again", i).await
                })
            })
            .await
        }));
    }
    release_when_queued(s, 10, release, blocker).await;
    all_but_job_4_committed(s, tasks, "again").await;
    let runs: Vec<u32> = runs.iter().map(|r| r.load(Ordering::Relaxed)).collect();
    assert_eq!(
        runs,
        [2, 2, 2, 2, 2, 1, 1, 1, 1, 1],
        "the jobs up to the failing one ran without savepoints, then all of them with"
    );
    assert_eq!(s.stats().reruns(), reruns + 1);
    assert_eq!(
        s.stats().batches(),
        batches + 1,
        "one transaction committed"
    );
}

/// New permit requests run without savepoints. A retry among them (a stored MessageId) fails
/// at its script's first statement, having written nothing, and takes the general path, which
/// answers it with the stored reply: no rerun. A new message with a used reference fails after
/// its claim, and its batch runs again with savepoints.
#[tokio::test]
async fn sqlite_a_retry_among_new_requests_needs_no_rerun_a_used_reference_does() {
    let db = sqlite_db().await;
    let Store::Sqlite(s) = &db.store else {
        unreachable!()
    };
    let h = Arc::new(Harness::new());
    let doc = permit_doc("REF-AGAIN-0", &[(1, 1, "1", "fan")]);
    let first = db
        .store
        .process(meta("m-again-0", true), doc.clone(), h.ctx.clone())
        .await
        .unwrap();
    // In each batch, the fourth message is the retry, then the resend under a new MessageId.
    for (batch, id, reruns_added) in [(1, "m-again-0", 0), (2, "m-again-resent", 1)] {
        let (release, blocker) = hold_writer(s).await;
        let (batches, reruns) = (s.stats().batches(), s.stats().reruns());
        let mut tasks = Vec::new();
        for i in 0..6 {
            let (store, h) = (db.store.clone(), h.clone());
            let (id, doc) = match i {
                3 => (id.to_owned(), doc.clone()),
                _ => (
                    format!("m-again-{batch}-{i}"),
                    permit_doc(&format!("REF-AGAIN-{batch}-{i}"), &[(1, 1, "1", "fan")]),
                ),
            };
            tasks.push(tokio::spawn(async move {
                store.process(meta(&id, true), doc, h.ctx.clone()).await
            }));
            while s.queued_for_tests() < i + 1 {
                tokio::task::yield_now().await;
            }
        }
        release.send(()).unwrap();
        blocker.await.unwrap().unwrap();
        for (i, t) in tasks.into_iter().enumerate() {
            let o = t.await.unwrap().expect("process");
            assert_eq!(
                o.is_duplicate(),
                i == 3 && batch == 1,
                "batch {batch}: {o:?}"
            );
            if i == 3 && batch == 1 {
                assert_eq!(o.reply(), first.reply());
            }
        }
        assert_eq!(s.stats().reruns(), reruns + reruns_added, "batch {batch}");
        assert_eq!(s.stats().batches(), batches + 1, "batch {batch}");
        for i in [0, 1, 2, 4, 5] {
            let st = status_by_reference(&db.store, &format!("REF-AGAIN-{batch}-{i}")).await;
            assert_eq!(
                st.history.len(),
                1,
                "one decision for REF-AGAIN-{batch}-{i}"
            );
        }
    }
    let st = status_by_reference(&db.store, "REF-AGAIN-0").await;
    assert_eq!(st.history.len(), 1, "the resent request is decided once");
}

#[tokio::test]
async fn urls_are_checked() {
    assert!(matches!(
        Store::connect("mysql://x/y").await,
        Err(StoreError::Config(_))
    ));
    assert!(matches!(
        Store::connect("sqlite::memory:").await,
        Err(StoreError::Config(_))
    ));
}

#[test]
fn content_hash_ignores_function_but_not_content() {
    let a = request("R", Function::Original, &[(1, 1, "5", "fan")]);
    let mut b = a.clone();
    b.function = Function::Replacement;
    assert_eq!(content_hash(&a), content_hash(&b));
    let check = |change: &dyn Fn(&mut ImportPermitRequest)| {
        let mut c = a.clone();
        change(&mut c);
        assert_ne!(content_hash(&a), content_hash(&c), "{c:?}");
    };
    check(&|r| r.items[0].quantity = Quantity::parse("5.001", "C62").unwrap());
    check(&|r| r.items[0].description = "fan ".into());
    check(&|r| r.items[0].standard = None);
    check(&|r| r.invoice.number = "INV-2".into());
    check(&|r| r.importer.name_en = None);
    check(&|r| r.items.push(r.items[0].clone()));
    // Field boundaries are part of the hash: moving text between fields changes it.
    check(&|r| {
        r.items[0].brand = "ACMEX".into();
        r.items[0].model = "1".into();
    });
}

/// The volume of a national licence register: one million licences replaced in one
/// transaction and read back. Slow in a debug build, so run on demand:
/// `cargo test --release --lib store::tests::million -- --ignored`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn million_licences_replace_and_load() {
    let n: usize = std::env::var("LICENCES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let data = Arc::new(refdata_with(0, n as u32));
    let mut dbs = vec![sqlite_db().await];
    dbs.extend(pg_db().await);
    for db in &dbs {
        let started = std::time::Instant::now();
        db.store.replace_refdata(data.clone(), now()).await.unwrap();
        eprintln!("replaced {n} licences in {:?}", started.elapsed());
        let loaded = db.store.load_refdata().await.unwrap().unwrap();
        assert_eq!(loaded.licences.len(), n);
        assert_eq!(loaded.licences[n - 1], data.licences[n - 1]);
    }
}

// ---------------------------------------------------------------------------------------------
// Scripts
// ---------------------------------------------------------------------------------------------

async fn run_script<C: sql::Conn>(c: &mut C) -> Vec<sql::Done> {
    use sql::{Stmt, Ty, V};
    c.exec(
        "CREATE TABLE script_probe (name TEXT PRIMARY KEY, value BIGINT NOT NULL)",
        vec![],
    )
    .await
    .expect("probe table");
    c.script(vec![
        Stmt::exec(
            "INSERT INTO script_probe (name, value) VALUES ($1, $2), ($3, $4)",
            vec![
                V::Text("script-a".into()),
                V::I64(7),
                V::Text("script-b".into()),
                V::I64(8),
            ],
        ),
        Stmt::rows(
            "SELECT name, value FROM script_probe WHERE name LIKE $1 ORDER BY name",
            vec![V::Text("script-%".into())],
            &[Ty::Text, Ty::I64],
        ),
        Stmt::exec(
            "UPDATE script_probe SET value = value + $1 WHERE name = $2",
            vec![V::I64(10), V::Text("script-b".into())],
        ),
        Stmt::rows(
            "SELECT value FROM script_probe WHERE name = $1 AND value > $2",
            vec![V::Text("script-nobody".into()), V::I64(0)],
            &[Ty::I64],
        ),
        Stmt::rows(
            "UPDATE script_probe SET value = value * $2 WHERE name = $1 RETURNING value, '$1'",
            vec![V::Text("script-b".into()), V::I64(2)],
            &[Ty::I64, Ty::Text],
        ),
    ])
    .await
    .expect("script")
}

/// A script's parameters are numbered per statement; each statement's rows and count come
/// back separately, in order (SQLite runs it as one query, PostgreSQL statement by statement).
async fn script_returns_each_statements_rows_and_count(store: &Store) {
    let done = match store {
        Store::Sqlite(s) => s
            .write(|c| Box::pin(async move { Ok(run_script(c).await) }))
            .await
            .unwrap(),
        Store::Postgres(p) => run_script(&mut *p.conn_for_tests().await).await,
    };
    let shape: Vec<(usize, u64)> = done.iter().map(|d| (d.rows.len(), d.affected)).collect();
    assert_eq!(shape[0], (0, 2), "two rows inserted");
    assert_eq!(shape[1].0, 2, "two rows selected");
    assert_eq!(shape[2], (0, 1), "one row updated");
    assert_eq!(shape[3].0, 0, "no rows selected");
    assert_eq!(shape[4].0, 1, "one row returned");
    let names: Vec<(String, i64)> = done[1]
        .rows
        .iter()
        .map(|r| (r.text(0).unwrap(), r.i64(1).unwrap()))
        .collect();
    assert_eq!(
        names,
        vec![("script-a".to_owned(), 7), ("script-b".to_owned(), 8)]
    );
    assert_eq!(done[4].rows[0].i64(0).unwrap(), 36);
    assert_eq!(
        done[4].rows[0].text(1).unwrap(),
        "$1",
        "a literal is not a parameter"
    );

    // A failing statement fails the script; on SQLite the writer rolls the job back.
    if let Store::Sqlite(s) = store {
        let r = s
            .write(|c| {
                Box::pin(async move {
                    use sql::{Conn, Stmt, V};
                    c.script(vec![
                        Stmt::exec(
                            "UPDATE script_probe SET value = 0 WHERE name = $1",
                            vec![V::Text("script-a".into())],
                        ),
                        Stmt::exec(
                            "INSERT INTO script_probe (name, value) VALUES ($1, 1)",
                            vec![V::Text("script-a".into())],
                        ),
                    ])
                    .await
                })
            })
            .await;
        assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
        use sql::Conn;
        let v = s
            .read_conn_for_tests()
            .await
            .one_row(
                "SELECT value FROM script_probe WHERE name = 'script-a'",
                vec![],
                &[sql::Ty::I64],
            )
            .await
            .unwrap()
            .i64(0)
            .unwrap();
        assert_eq!(v, 7, "the first statement was rolled back with the job");
    }
}

// ---------------------------------------------------------------------------------------------
// Indexes
// ---------------------------------------------------------------------------------------------

/// An index as the database describes it.
#[derive(Debug)]
pub(super) struct IndexShape {
    pub table: String,
    pub name: String,
    pub unique: bool,
    pub partial: bool,
    /// In order; `?` for an expression.
    pub columns: Vec<String>,
}

/// The indexes that another index of the same table makes redundant, each with the one that
/// does: that one is whole (not partial) and starts with all their columns in their order, so
/// it serves every look-up they serve; and a unique one is only made redundant by a unique one
/// of the same columns, which enforces what it enforces. Every index costs each insert. An
/// expression (`?`) equals no other column, nor another expression.
fn redundant_indexes(indexes: &[IndexShape]) -> Vec<String> {
    let starts_with = |b: &IndexShape, a: &IndexShape| {
        a.columns.len() <= b.columns.len()
            && a.columns
                .iter()
                .zip(&b.columns)
                .all(|(x, y)| x == y && x != "?")
    };
    let mut out = Vec::new();
    for a in indexes {
        let by = indexes.iter().find(|b| {
            b.table == a.table
                && b.name != a.name
                && !b.partial
                && starts_with(b, a)
                && (!a.unique || (b.unique && b.columns.len() == a.columns.len()))
        });
        if let Some(b) = by {
            out.push(format!("{}.{} (by {})", a.table, a.name, b.name));
        }
    }
    out
}

/// `indexes`: `;`-separated `table name [unique] [partial] col,col`.
fn check_redundant(indexes: &str, expected: &[&str]) {
    let parsed: Vec<IndexShape> = indexes
        .split(';')
        .map(|spec| {
            let words: Vec<&str> = spec.split_whitespace().collect();
            let (table, name, columns) = (words[0], words[1], words[words.len() - 1]);
            IndexShape {
                table: table.into(),
                name: name.into(),
                unique: words.contains(&"unique"),
                partial: words.contains(&"partial"),
                columns: columns.split(',').map(str::to_string).collect(),
            }
        })
        .collect();
    assert_eq!(redundant_indexes(&parsed), expected, "{indexes}");
}

#[test]
fn an_index_that_another_serves_and_enforces_is_redundant() {
    check_redundant("t a x,y; t b x", &["t.b (by a)"]);
    check_redundant("t a x,y; t b x,y", &["t.a (by b)", "t.b (by a)"]);
    check_redundant("t a unique x,y; t b x,y", &["t.b (by a)"]);
    check_redundant(
        "t a unique x,y; t b unique x,y",
        &["t.a (by b)", "t.b (by a)"],
    );
    check_redundant("t a x,y; t b partial x", &["t.b (by a)"]);
    check_redundant("t a unique x,y; t b unique x", &[]);
    check_redundant("t a x,y; t b unique x,y", &["t.a (by b)"]);
    check_redundant("t a partial x,y; t b x", &[]);
    check_redundant("t a x,y; t b y", &[]);
    check_redundant("t a y,x; t b x,y", &[]);
    check_redundant("t a x,y; u b x", &[]);
    check_redundant("t a x", &[]);
    check_redundant("t a ?; t b ?", &[]);
    check_redundant("t a x,?; t b x", &["t.b (by a)"]);
    check_redundant("t a unique ?; t b unique ?", &[]);
}

/// No index of the schema is redundant (see [`redundant_indexes`]).
async fn no_index_repeats_another(store: &Store) {
    let indexes = store.indexes_for_tests().await;
    assert!(
        indexes.iter().any(|i| i.table == "outbox" && i.unique),
        "{indexes:#?}"
    );
    assert_eq!(redundant_indexes(&indexes), Vec::<String>::new());
}
