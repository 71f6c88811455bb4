//! Request sources and the judge that speak the contract: generated ImportPermitRequests and
//! DeclarationChecks as ebMS messages, each with the answer the spec requires, and retries of
//! earlier messages (same MessageId, same bytes) that must get the first answer again.

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use nsw_gateway::domain::{
    AmendmentAction, AmendmentResult, Amount, DeclarationAmendment, InboundDocument,
    OutboundDocument, PartyKey, PermitStatusQuery, RequestDecision, StatusQueryResult,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{Judge, Outgoing, RequestSource, Response};
use crate::ebms::{self, Answer, Parties, SendOptions};
use crate::gen::declarations::{
    DeclarationGen, DeclarationKind, ExpectedDeclaration, GeneratedDeclaration, ObtainedPermit,
};
use crate::gen::{ExpectedDecision, RequestGen};
use crate::report::{ErrorKind, Failure, RunInfo};

/// The answer a request must get.
#[derive(Debug, Clone)]
pub enum Expect {
    Permit(ExpectedDecision),
    Declaration(ExpectedDeclaration),
    /// A DeclarationAmendment (CANCEL) of a declaration that was written off: RESTORED.
    Restored,
    /// A PermitStatusQuery: FOUND, the decision the permit was issued with, and per invoice
    /// item the quantity written off (thousandths).
    Status(RequestDecision, Vec<(u16, u64)>),
}

#[derive(Debug, Clone)]
pub struct Expected {
    pub expect: Expect,
    pub message_id: String,
    /// The importer, to collect the permit from the answer (warm-up).
    pub importer: Option<PartyKey>,
    /// A retry of a message sent before.
    pub retry: bool,
}

/// How many recent messages a retry is drawn from.
const RECENT: usize = 64;

/// Common part of the sources: ids, send options, retries.
struct Sender {
    parties: Parties,
    opts_sync: bool,
    rng: ChaCha8Rng,
    duplicates: f64,
    recent: VecDeque<Outgoing<Expected>>,
}

impl Sender {
    fn new(parties: Parties, seed: u64, sync: bool, duplicates: f64) -> Self {
        Self {
            parties,
            opts_sync: sync,
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0x1D5),
            duplicates,
            recent: VecDeque::with_capacity(RECENT),
        }
    }

    /// A retry of a recent message, with the configured probability.
    fn retry(&mut self) -> Option<Outgoing<Expected>> {
        if self.recent.is_empty()
            || self.duplicates <= 0.0
            || !self.rng.gen_bool(self.duplicates.min(1.0))
        {
            return None;
        }
        let i = self.rng.gen_range(0..self.recent.len());
        let mut o = self.recent[i].clone();
        o.expected.retry = true;
        o.expected.importer = None;
        Some(o)
    }

    fn send(
        &mut self,
        doc: &InboundDocument,
        expect: Expect,
        importer: Option<PartyKey>,
        inline: bool,
        tis620: bool,
    ) -> Outgoing<Expected> {
        let id = ebms::message_id();
        let conv = ebms::conversation_id();
        let m = ebms::business(
            &self.parties,
            doc,
            &id,
            &conv,
            chrono::Utc::now(),
            SendOptions {
                inline,
                tis620,
                sync_reply: self.opts_sync,
                ack_requested: true,
            },
        );
        let o = Outgoing {
            content_type: m.content_type,
            body: Bytes::from(m.body),
            expected: Expected {
                expect,
                message_id: id,
                importer,
                retry: false,
            },
        };
        if self.duplicates > 0.0 {
            if self.recent.len() == RECENT {
                self.recent.pop_front();
            }
            self.recent.push_back(o.clone());
        }
        o
    }
}

/// Generated ImportPermitRequests.
pub struct PermitSource {
    gen: RequestGen,
    sender: Sender,
}

impl PermitSource {
    pub fn new(gen: RequestGen, parties: Parties, seed: u64, sync: bool, duplicates: f64) -> Self {
        Self {
            gen,
            sender: Sender::new(parties, seed, sync, duplicates),
        }
    }
}

impl RequestSource for PermitSource {
    type Expected = Expected;
    fn next_request(&mut self) -> Option<Outgoing<Expected>> {
        if let Some(r) = self.sender.retry() {
            return Some(r);
        }
        let p = self.gen.next_permit();
        let importer = p.request.importer.key();
        let doc = InboundDocument::ImportPermitRequest(p.request);
        Some(self.sender.send(
            &doc,
            Expect::Permit(p.expected),
            importer,
            p.inline,
            p.tis620,
        ))
    }
}

/// DeclarationChecks against permits obtained before: each permit written off in parts, some
/// declarations built to be refused; once every permit has been written off, only refusals
/// (they write nothing off, so they can be repeated).
pub struct DeclarationSource {
    permits: Vec<ObtainedPermit>,
    gen: DeclarationGen,
    queue: VecDeque<(usize, GeneratedDeclaration)>,
    next: usize,
    sender: Sender,
    ledger: Arc<Mutex<Ledger>>,
}

/// The write-offs a [`DeclarationSource`] handed out, per permit (index into its permits):
/// declaration number and (invoice item number, amount in thousandths) per line.
#[derive(Debug, Default, Clone)]
pub struct Ledger {
    pub permits: Vec<ObtainedPermit>,
    pub written: HashMap<usize, Vec<WriteOff>>,
}

/// A write-off declaration: its number and (invoice item number, amount in thousandths) per
/// line.
pub type WriteOff = (String, Vec<(u16, u64)>);

impl DeclarationSource {
    pub fn new(
        permits: Vec<ObtainedPermit>,
        seed: u64,
        tag: &str,
        today: chrono::NaiveDate,
        parties: Parties,
        sync: bool,
        duplicates: f64,
    ) -> Self {
        let ledger = Arc::new(Mutex::new(Ledger {
            permits: permits.clone(),
            written: HashMap::new(),
        }));
        Self {
            permits,
            gen: DeclarationGen::new(seed, tag, today),
            queue: VecDeque::new(),
            next: 0,
            sender: Sender::new(parties, seed ^ 0xD, sync, duplicates),
            ledger,
        }
    }

    /// What was handed out so far (shared: it stays readable after the run took the source).
    pub fn ledger(&self) -> Arc<Mutex<Ledger>> {
        self.ledger.clone()
    }

    fn refill(&mut self) -> bool {
        if self.permits.is_empty() {
            return false;
        }
        let kinds = [
            DeclarationKind::Exceeding,
            DeclarationKind::Mismatched,
            DeclarationKind::UnknownPermit,
        ];
        let i = self.next % self.permits.len();
        let first_round = self.next < self.permits.len();
        self.next += 1;
        let p = self.permits[i].clone();
        if first_round {
            let parts = self.sender.rng.gen_range(2..=4);
            self.queue
                .extend(self.gen.write_off(&p, parts).into_iter().map(|d| (i, d)));
            if self.sender.rng.gen_bool(0.3) {
                let k = kinds[self.sender.rng.gen_range(0..kinds.len())];
                self.queue.extend(self.gen.refused(&p, k).map(|d| (i, d)));
            }
        } else {
            let k = kinds[self.sender.rng.gen_range(0..kinds.len())];
            self.queue.extend(self.gen.refused(&p, k).map(|d| (i, d)));
        }
        true
    }
}

impl RequestSource for DeclarationSource {
    type Expected = Expected;
    fn next_request(&mut self) -> Option<Outgoing<Expected>> {
        if let Some(r) = self.sender.retry() {
            return Some(r);
        }
        let mut tries = 0;
        while self.queue.is_empty() {
            if !self.refill() || tries > self.permits.len() {
                return None;
            }
            tries += 1;
        }
        let (i, d) = self.queue.pop_front()?;
        if d.expected.result == nsw_gateway::domain::DeclarationResult::Accepted {
            let lines = d
                .check
                .lines
                .iter()
                .map(|l| (l.invoice_item_number, l.quantity.amount.milli()))
                .collect();
            self.ledger
                .lock()
                .expect("lock")
                .written
                .entry(i)
                .or_default()
                .push((d.check.declaration_number.clone(), lines));
        }
        let inline = self.sender.rng.gen_bool(0.5);
        let doc = InboundDocument::DeclarationCheck(d.check);
        Some(
            self.sender
                .send(&doc, Expect::Declaration(d.expected), None, inline, false),
        )
    }
}

/// After a declaration run: first the amendments (CANCEL of the first write-off of every
/// permit that had one), then — in a second run, once they are all answered — a status query
/// per permit, expecting what was written off minus what the amendment restored.
pub struct FollowUpSource {
    items: VecDeque<(InboundDocument, Expect)>,
    sender: Sender,
}

impl FollowUpSource {
    /// The amendments for `ledger`.
    pub fn amendments(ledger: &Ledger, seed: u64, parties: Parties) -> Self {
        let mut keys: Vec<&usize> = ledger.written.keys().collect();
        keys.sort_unstable();
        let items = keys
            .into_iter()
            .filter_map(|k| ledger.written[k].first())
            .map(|(number, _)| {
                (
                    InboundDocument::DeclarationAmendment(DeclarationAmendment {
                        declaration_number: number.clone(),
                        action: AmendmentAction::Cancel,
                    }),
                    Expect::Restored,
                )
            })
            .collect();
        Self {
            items,
            sender: Sender::new(parties, seed ^ 0xA, true, 0.0),
        }
    }

    /// The status queries for `ledger`, after [`FollowUpSource::amendments`] were answered.
    pub fn status_queries(ledger: &Ledger, seed: u64, parties: Parties) -> Self {
        let mut keys: Vec<&usize> = ledger.written.keys().collect();
        keys.sort_unstable();
        let items = keys
            .into_iter()
            .map(|k| {
                let mut per_item: HashMap<u16, u64> = HashMap::new();
                for (_, lines) in ledger.written[k].iter().skip(1) {
                    for (item, amount) in lines {
                        *per_item.entry(*item).or_default() += amount;
                    }
                }
                let p = &ledger.permits[*k];
                let mut want: Vec<(u16, u64)> = p
                    .items
                    .iter()
                    .filter(|i| !i.held)
                    .map(|i| {
                        (
                            i.invoice_item_number,
                            per_item.get(&i.invoice_item_number).copied().unwrap_or(0),
                        )
                    })
                    .collect();
                want.sort_unstable();
                (
                    InboundDocument::PermitStatusQuery(PermitStatusQuery::ByPermit(
                        p.permit.number,
                    )),
                    Expect::Status(p.decision, want),
                )
            })
            .collect();
        Self {
            items,
            sender: Sender::new(parties, seed ^ 0x5, true, 0.0),
        }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// The follow-up phases of a declaration run, in order, each to be run once the one before
/// was fully answered: the amendments, then the status queries (both made from `ledger`).
///
/// A run whose declarations were built ahead (`run.built_ahead`) and that was cut short
/// (`--max-time`) sent fewer than its ledger holds: the follow-ups would cancel write-offs
/// that never happened and expect quantities never written off, so there are none, and the
/// error says how many were sent. Built as they are sent, the ledger holds only what was
/// sent, and a run cut short still has its follow-ups.
pub fn follow_ups(
    run: &RunInfo,
    ledger: &Ledger,
    seed: u64,
    parties: &Parties,
) -> Result<[(&'static str, FollowUpSource); 2], String> {
    if let Some(built) = run.built_ahead.filter(|&built| run.sent < built) {
        return Err(format!(
            "the run sent {} of the {built} declarations built ahead (--max-time): no follow-up phases",
            run.sent
        ));
    }
    Ok([
        (
            "DeclarationAmendment",
            FollowUpSource::amendments(ledger, seed, parties.clone()),
        ),
        (
            "PermitStatusQuery",
            FollowUpSource::status_queries(ledger, seed, parties.clone()),
        ),
    ])
}

impl RequestSource for FollowUpSource {
    type Expected = Expected;
    fn next_request(&mut self) -> Option<Outgoing<Expected>> {
        let (doc, expect) = self.items.pop_front()?;
        Some(self.sender.send(&doc, expect, None, false, false))
    }
}

/// Judges answers against the contract.
pub struct ContractJudge {
    sync: bool,
    /// Permits collected from answers (warm-up).
    collected: Option<Mutex<Vec<ObtainedPermit>>>,
    /// Hash of the first payload answered per MessageId (to check retries).
    first: Option<Mutex<HashMap<String, u64>>>,
}

impl ContractJudge {
    /// `sync`: the requests carry SyncReply (a 200 with the response document is due), else a
    /// 202 is. `collect`: keep the permits of the answers. `retries`: check that a retry gets
    /// the payload the first copy got.
    pub fn new(sync: bool, collect: bool, retries: bool) -> Self {
        Self {
            sync,
            collected: collect.then(|| Mutex::new(Vec::new())),
            first: retries.then(|| Mutex::new(HashMap::new())),
        }
    }

    /// The permits collected so far.
    pub fn take_permits(&self) -> Vec<ObtainedPermit> {
        self.collected
            .as_ref()
            .map(|c| std::mem::take(&mut *c.lock().expect("lock")))
            .unwrap_or_default()
    }

    fn check_retry(&self, e: &Expected, payload: &str) -> Result<(), Failure> {
        let Some(first) = &self.first else {
            return Ok(());
        };
        let mut h = std::collections::hash_map::DefaultHasher::new();
        payload.hash(&mut h);
        let h = h.finish();
        let mut m = first.lock().expect("lock");
        match m.get(&e.message_id) {
            Some(&prev) if prev != h => Err(Failure::new(
                ErrorKind::WrongDecision,
                format!(
                    "a retry of {} got a payload different from the first answer",
                    e.message_id
                ),
            )),
            Some(_) => Ok(()),
            None => {
                m.insert(e.message_id.clone(), h);
                Ok(())
            }
        }
    }
}

fn wrong(e: &Expected, detail: String) -> Failure {
    Failure::new(
        ErrorKind::WrongDecision,
        format!(
            "{}{}: {detail}",
            e.message_id,
            if e.retry { " (retry)" } else { "" }
        ),
    )
}

impl Judge<Expected> for ContractJudge {
    fn checks(&self) -> &'static str {
        if self.sync {
            "the reply to the letter of the contract and the decision the reference data call for"
        } else {
            "a 202 with at most an Acknowledgment; the decisions go to the asynchronous \
             endpoint and are not judged in this run"
        }
    }

    fn judge(&self, e: &Expected, r: &Response) -> Result<(), Failure> {
        let answer = ebms::read_answer(r.content_type.as_deref(), &r.body);
        let want_status = if self.sync { 200 } else { 202 };
        if r.status != want_status {
            let kind = match answer {
                Answer::EbmsErrors(_) | Answer::Fault(_) => ErrorKind::EbmsError,
                _ => ErrorKind::HttpStatus,
            };
            return Err(Failure::new(
                kind,
                format!(
                    "HTTP {} ({}) for {}",
                    r.status,
                    answer.describe(),
                    e.message_id
                ),
            ));
        }
        if !self.sync {
            return match answer {
                Answer::AckOnly { .. } | Answer::Empty => Ok(()),
                other => Err(wrong(
                    e,
                    format!(
                        "a 202 should carry only an Acknowledgment, got {}",
                        other.describe()
                    ),
                )),
            };
        }
        let (doc, payload_xml) = match answer {
            Answer::Document {
                doc, payload_xml, ..
            } => (doc, payload_xml),
            Answer::EbmsErrors(_) | Answer::Fault(_) => {
                return Err(Failure::new(
                    ErrorKind::EbmsError,
                    format!("{}: {}", e.message_id, answer.describe()),
                ))
            }
            other => {
                return Err(wrong(
                    e,
                    format!("expected a response document, got {}", other.describe()),
                ))
            }
        };
        self.check_retry(e, &payload_xml)?;
        match (&e.expect, *doc) {
            (Expect::Permit(want), OutboundDocument::ImportPermitResponse(resp)) => {
                want.compare(resp.decision, &resp.items)
                    .map_err(|m| wrong(e, m.0))?;
                if let (Some(c), Some(importer)) = (&self.collected, e.importer) {
                    if let Some(p) = ObtainedPermit::from_response(importer, &resp) {
                        c.lock().expect("lock").push(p);
                    }
                }
                Ok(())
            }
            (Expect::Declaration(want), OutboundDocument::DeclarationCheckResponse(resp)) => {
                want.compare(&resp).map_err(|m| wrong(e, m.0))
            }
            (Expect::Restored, OutboundDocument::DeclarationAmendmentResponse(resp)) => {
                if resp.result == AmendmentResult::Restored {
                    Ok(())
                } else {
                    Err(wrong(
                        e,
                        format!(
                            "amendment of {}: want RESTORED, got {}",
                            resp.declaration_number,
                            resp.result.code()
                        ),
                    ))
                }
            }
            (Expect::Status(decision, want), OutboundDocument::PermitStatusResponse(resp)) => {
                let mut diffs = Vec::new();
                if resp.result != StatusQueryResult::Found {
                    diffs.push(format!("result: want Found, got {:?}", resp.result));
                }
                if resp.decision != Some(*decision) {
                    diffs.push(format!(
                        "decision: want {}, got {}",
                        decision.code(),
                        resp.decision.map(|d| d.code()).unwrap_or("-")
                    ));
                }
                for (item, amount) in want {
                    let got = resp
                        .items
                        .iter()
                        .find(|i| i.invoice_item_number == *item)
                        .map(|i| i.written_off.milli());
                    if got != Some(*amount) {
                        diffs.push(format!(
                            "invoice item {item}: written off want {}, got {}",
                            Amount::from_milli(*amount),
                            got.map(|g| Amount::from_milli(g).to_string())
                                .unwrap_or_else(|| "-".into())
                        ));
                    }
                }
                if diffs.is_empty() {
                    Ok(())
                } else {
                    Err(wrong(e, diffs.join("; ")))
                }
            }
            (_, other) => Err(wrong(
                e,
                format!(
                    "answered with the wrong document: {}",
                    ebms::summary(&other)
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use axum::http::{header, StatusCode};
    use axum::response::IntoResponse;
    use chrono::NaiveDate;
    use nsw_gateway::domain::engine::{decide, NoUsage};
    use nsw_gateway::domain::snapshot::Snapshot;
    use nsw_gateway::domain::{ImportPermitResponse, Permit, PermitNumber, TaxNumber};
    use nsw_gateway::wire::envelope::SERVICE_PERMIT;
    use nsw_gateway::wire::intake::{intake, InboundBody, Limits};
    use nsw_gateway::wire::reply::{build_business, reply_header, Built};

    use super::*;
    use crate::gen::{write_csv, GenConfig, Mix, Model};
    use crate::load::{build_client, run, Mode, RunConfig, TlsFiles};

    /// A stand-in gateway made of the gateway's own wire module and decision engine: it
    /// answers ImportPermitRequests synchronously and replays its first answer to a retry.
    struct Fake {
        snap: Snapshot,
        today: NaiveDate,
        serial: AtomicU32,
        answered: Mutex<HashMap<String, Built>>,
        /// Flip every decision of this request number (to see the judge catch it).
        sabotage: Option<u32>,
    }

    impl Fake {
        fn answer(&self, ct: Option<&str>, body: &[u8]) -> axum::response::Response {
            let inbound = match intake(ct, body, &Limits::default()) {
                Ok(i) => i,
                Err(e) => return (StatusCode::BAD_REQUEST, format!("{e:?}")).into_response(),
            };
            let mut answered = self.answered.lock().unwrap();
            if let Some(b) = answered.get(&inbound.header.message_id) {
                return (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, b.content_type.clone())],
                    b.body.clone(),
                )
                    .into_response();
            }
            let InboundBody::Document(InboundDocument::ImportPermitRequest(req)) = &inbound.body
            else {
                return (StatusCode::BAD_REQUEST, "only permit requests").into_response();
            };
            let n = self.serial.fetch_add(1, Ordering::SeqCst) + 1;
            let mut d = decide(req, &self.snap, self.today, &NoUsage);
            if self.sabotage == Some(n) {
                d.decision = if d.decision == nsw_gateway::domain::RequestDecision::Rejected {
                    nsw_gateway::domain::RequestDecision::Approved
                } else {
                    nsw_gateway::domain::RequestDecision::Rejected
                };
            }
            let permit = d.permit_dates.map(|pd| Permit {
                number: PermitNumber::for_date(self.today, n).unwrap(),
                issue_date: self.today,
                effective_date: pd.effective,
                expiry_date: pd.expiry,
                arrival_date: req.shipment.arrival_date,
                invoice_number: req.invoice.number.clone(),
                invoice_date: req.invoice.date,
                load_port: req.shipment.load_port,
                discharge_port: req.shipment.discharge_port,
                country_of_destination: req.shipment.country_of_destination,
            });
            let resp = ImportPermitResponse {
                reference: req.reference.clone(),
                function: req.function,
                request_id: format!("R{n}"),
                decided_at: chrono::Utc::now().fixed_offset(),
                issuing_authority_tax_number: TaxNumber::parse("0994000159994").unwrap(),
                issuing_authority_name: "TISI".into(),
                importer_tax_number: req.importer.tax_number.clone(),
                importer_branch: req.importer.branch,
                decision: d.decision,
                permit,
                items: d.items,
            };
            let h = reply_header(
                &inbound.header,
                "ImportPermitResponse",
                SERVICE_PERMIT,
                format!("r{n}@tisi"),
                chrono::Utc::now(),
            );
            let b = build_business(
                &h,
                inbound.ack_requested.map(|actor| (&inbound.header, actor)),
                &OutboundDocument::ImportPermitResponse(resp),
                inbound.packaging,
            );
            answered.insert(inbound.header.message_id.clone(), b.clone());
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, b.content_type)],
                b.body,
            )
                .into_response()
        }
    }

    async fn spawn_fake(model: &Model, sabotage: Option<u32>) -> reqwest::Url {
        let dir = tempfile::tempdir().unwrap();
        write_csv(model, dir.path()).unwrap();
        let data = nsw_gateway::refdata::load_dir(dir.path()).unwrap();
        let fake = Arc::new(Fake {
            snap: Snapshot::build(data).unwrap(),
            today: model.today,
            serial: AtomicU32::new(0),
            answered: Mutex::new(HashMap::new()),
            sabotage,
        });
        let app = axum::Router::new().route(
            "/ebms",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: bytes::Bytes| {
                let fake = fake.clone();
                async move {
                    let ct = headers
                        .get(header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok());
                    fake.answer(ct, &body)
                }
            }),
        );
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        format!("http://{addr}/ebms").parse().unwrap()
    }

    fn model() -> Arc<Model> {
        Arc::new(Model::generate(&GenConfig {
            licences: 500,
            seed: 3,
            today: chrono::Utc::now().date_naive(),
        }))
    }

    fn config(url: reqwest::Url, requests: u64) -> RunConfig {
        RunConfig {
            target: url,
            mode: Mode::Closed {
                concurrency: 4,
                requests,
            },
            max_in_flight: 4,
            time_limit: Duration::from_secs(120),
            progress: false,
            kind: "ImportPermitRequest".into(),
            build_ahead: false,
            judge_after: false,
        }
    }

    /// Synchronous permit requests of `mix` from `seed`, with a share of `duplicates` retries.
    fn permits(m: &Arc<Model>, seed: u64, mix: Mix, duplicates: f64) -> PermitSource {
        PermitSource::new(
            RequestGen::new(m.clone(), seed, mix),
            Parties::default(),
            seed,
            true,
            duplicates,
        )
    }

    fn client() -> reqwest::Client {
        build_client(&TlsFiles::default(), 4, Duration::from_secs(30)).unwrap()
    }

    #[tokio::test]
    async fn generated_requests_get_the_expected_answers_from_the_engine_over_the_wire() {
        let m = model();
        let url = spawn_fake(&m, None).await;
        // Built as they are sent, and all before the first is sent; judged as they come, and
        // all after the run.
        for (seed, build_ahead, judge_after) in
            [(9, false, false), (10, true, false), (11, true, true)]
        {
            let source = permits(&m, seed, Mix::default(), 0.1);
            let judge = Arc::new(ContractJudge::new(true, true, true));
            let client = client();
            let cfg = RunConfig {
                build_ahead,
                judge_after,
                ..config(url.clone(), 400)
            };
            let rep = run(client, cfg, source, judge.clone()).await;
            assert_eq!(rep.completed, 400);
            assert_eq!(rep.errors, 0, "{:?}", rep.error_examples);
            // Permits were collected from the answers (retries are not collected twice).
            let permits = judge.take_permits();
            assert!(permits.len() > 200, "{} permits", permits.len());
            assert!(permits.iter().all(|p| !p.items.is_empty()));
        }
    }

    #[test]
    fn a_run_without_sync_reply_says_it_judged_no_decision() {
        assert!(ContractJudge::new(false, false, false)
            .checks()
            .contains("not judged"));
        assert!(ContractJudge::new(true, false, false)
            .checks()
            .contains("the decision"));
    }

    #[tokio::test]
    async fn a_wrong_decision_is_counted_as_one() {
        let m = model();
        for judge_after in [false, true] {
            let url = spawn_fake(&m, Some(17)).await;
            let source = permits(&m, 9, Mix::default(), 0.0);
            let judge = Arc::new(ContractJudge::new(true, false, false));
            let client = client();
            let cfg = RunConfig {
                judge_after,
                ..config(url, 40)
            };
            let rep = run(client, cfg, source, judge).await;
            assert_eq!(
                rep.errors_by_kind["wrong_decision"], 1,
                "{judge_after}: {:?}",
                rep.error_examples
            );
            assert!(
                rep.error_examples["wrong_decision"][0].contains("decision: want"),
                "{:?}",
                rep.error_examples
            );
        }
    }

    /// The permits a gateway would issue for five approvable requests.
    fn approved_permits(m: &Arc<Model>) -> Vec<ObtainedPermit> {
        let mut g = RequestGen::new(
            m.clone(),
            5,
            Mix {
                approve: 1,
                reject: 0,
                review: 0,
                inspect: 0,
            },
        );
        (0..5)
            .filter_map(|k| {
                let p = g.next_permit();
                let items = p
                    .request
                    .items
                    .iter()
                    .zip(&p.expected.items)
                    .filter(|(_, e)| e.status == nsw_gateway::domain::ItemStatus::Approved)
                    .map(|(i, _)| crate::gen::declarations::PermitItem {
                        invoice_item_number: i.invoice_item_number,
                        hs_code: i.hs_code.clone(),
                        country_of_origin: i.country_of_origin,
                        quantity: i.quantity.clone(),
                        held: false,
                    })
                    .collect::<Vec<_>>();
                (!items.is_empty()).then(|| ObtainedPermit {
                    importer: p.request.importer.key().unwrap(),
                    decision: RequestDecision::Approved,
                    authority_tax_number: TaxNumber::parse("0994000159994").unwrap(),
                    permit: Permit {
                        number: PermitNumber::for_date(m.today, k + 1).unwrap(),
                        issue_date: m.today,
                        effective_date: m.today,
                        expiry_date: p.request.shipment.arrival_date,
                        arrival_date: p.request.shipment.arrival_date,
                        invoice_number: p.request.invoice.number.clone(),
                        invoice_date: p.request.invoice.date,
                        load_port: p.request.shipment.load_port,
                        discharge_port: p.request.shipment.discharge_port,
                        country_of_destination: p.request.shipment.country_of_destination,
                    },
                    items,
                })
            })
            .collect()
    }

    #[test]
    fn follow_ups_cancel_the_first_write_off_and_expect_the_rest() {
        let m = model();
        let permits = approved_permits(&m);
        assert!(!permits.is_empty());
        let mut src = DeclarationSource::new(
            permits.clone(),
            1,
            "T1",
            m.today,
            Parties::default(),
            true,
            0.0,
        );
        for _ in 0..200 {
            src.next_request();
        }
        let ledger = src.ledger().lock().unwrap().clone();
        assert_eq!(
            ledger.written.len(),
            permits.len(),
            "every permit was written off"
        );
        let amend = FollowUpSource::amendments(&ledger, 1, Parties::default());
        assert_eq!(amend.len(), permits.len());
        let status = FollowUpSource::status_queries(&ledger, 1, Parties::default());
        for ((_, expect), (k, parts)) in status.items.iter().zip({
            let mut v: Vec<_> = ledger.written.iter().collect();
            v.sort_by_key(|(k, _)| **k);
            v
        }) {
            let Expect::Status(_, want) = expect else {
                panic!("status expected")
            };
            for (item, amount) in want {
                let all: u64 = parts
                    .iter()
                    .flat_map(|(_, l)| l)
                    .filter(|(i, _)| i == item)
                    .map(|(_, a)| a)
                    .sum();
                let first: u64 = parts[0]
                    .1
                    .iter()
                    .filter(|(i, _)| i == item)
                    .map(|(_, a)| a)
                    .sum();
                assert_eq!(*amount, all - first, "permit {k} item {item}");
                let approved = permits[*k]
                    .items
                    .iter()
                    .find(|i| i.invoice_item_number == *item)
                    .unwrap();
                assert!(all <= approved.quantity.amount.milli());
            }
        }
    }

    #[tokio::test]
    async fn declarations_written_off_against_collected_permits_are_well_formed() {
        let m = model();
        let url = spawn_fake(&m, None).await;
        let approve = Mix {
            approve: 1,
            reject: 0,
            review: 0,
            inspect: 0,
        };
        let source = permits(&m, 2, approve, 0.0);
        let judge = Arc::new(ContractJudge::new(true, true, false));
        let client = client();
        run(client, config(url, 20), source, judge.clone()).await;
        let permits = judge.take_permits();
        let mut src =
            DeclarationSource::new(permits, 2, "T2", m.today, Parties::default(), true, 0.0);
        for _ in 0..50 {
            let o = src.next_request().expect("refusals can always be made");
            let ct = o.content_type.clone();
            let i =
                intake(Some(&ct), &o.body, &Limits::default()).unwrap_or_else(|e| panic!("{e:?}"));
            assert!(matches!(
                i.body,
                InboundBody::Document(InboundDocument::DeclarationCheck(_))
            ));
            assert!(i.sync_reply);
        }
    }

    /// Built ahead, a run cut short leaves declarations in the ledger that were never sent:
    /// it has no follow-ups. Built as they are sent, the ledger holds only what was sent.
    #[tokio::test]
    async fn a_run_cut_short_after_building_ahead_has_no_follow_ups() {
        let m = model();
        let permits = approved_permits(&m);
        // The stand-in refuses declarations; the answers do not matter here, only what was sent.
        let url = spawn_fake(&m, None).await;
        let client = client();
        let cut = Duration::ZERO;
        let whole = Duration::from_secs(120);
        for (build_ahead, time_limit, sent) in [(true, cut, 0), (true, whole, 30), (false, cut, 0)]
        {
            let source = DeclarationSource::new(
                permits.clone(),
                3,
                "T3",
                m.today,
                Parties::default(),
                true,
                0.0,
            );
            let ledger = source.ledger();
            let cfg = RunConfig {
                build_ahead,
                time_limit,
                ..config(url.clone(), 30)
            };
            let judge = Arc::new(ContractJudge::new(true, false, false));
            let rep = run(client.clone(), cfg, source, judge).await;
            assert_eq!(rep.run.sent, sent);
            let ledger = ledger.lock().unwrap().clone();
            let phases = follow_ups(&rep.run, &ledger, 3, &Parties::default())
                .map(|[(_, amend), (_, status)]| (amend.len(), status.len()));
            match (build_ahead, sent) {
                (true, 0) => assert_eq!(
                    phases.unwrap_err(),
                    "the run sent 0 of the 30 declarations built ahead (--max-time): no follow-up phases"
                ),
                (true, _) => {
                    let n = ledger.written.len();
                    assert!(n > 0);
                    assert_eq!(phases, Ok((n, n)));
                }
                _ => {
                    assert!(ledger.written.is_empty());
                    assert_eq!(phases, Ok((0, 0)));
                }
            }
        }
    }
}
