//! The store's commit path: `Store::process` of a 5-item ImportPermitRequest on SQLite in a
//! temporary directory (WAL, synchronous=NORMAL, group commit), one request at a time and with
//! 64 concurrent tasks. Each iteration is one durable decision: the message, the request, its
//! items, the permit and its items, the history row and the reply are committed before
//! `process` returns. Times are per decision.
//!
//! `cargo bench --bench store -- --warm-up-time 1 --measurement-time 5`

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use nsw_gateway::config::GatewaySettings;
use nsw_gateway::domain::snapshot::{synthetic_refdata, synthetic_request, Snapshot};
use nsw_gateway::domain::{ImportPermitRequest, InboundDocument, ReferenceNumber, TaxNumber};
use nsw_gateway::http::context;
use nsw_gateway::http::reference::Reference;
use nsw_gateway::http::render::ReplyRenderer;
use nsw_gateway::store::{MessageMeta, Outcome, StatusMark, Store};
use nsw_gateway::wire::envelope::AckActor;
use nsw_gateway::wire::intake::Packaging;
use nsw_gateway::wire::reply::{build_request, RequestOptions};

mod common;
use common::header;

struct Fixture {
    store: Store,
    reference: Arc<Reference>,
    request: ImportPermitRequest,
    raw: Vec<u8>,
    gateway: GatewaySettings,
    counter: AtomicU64,
    _dir: tempfile::TempDir,
}

impl Fixture {
    async fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("bench.db").display());
        let store = Store::connect(&url).await.expect("open SQLite");
        store.migrate().await.expect("migrate");
        // synthetic_request uses licences up to number 80,003.
        let snapshot = Snapshot::build(synthetic_refdata(80_004)).expect("snapshot");
        let request = synthetic_request(&snapshot);
        let reference = Arc::new(Reference::new(Some((snapshot, StatusMark(0)))));
        let raw = build_request(
            &header("raw"),
            &InboundDocument::ImportPermitRequest(request.clone()),
            Packaging::Inline,
            RequestOptions {
                ack_requested: true,
                sync_reply: true,
                tis620: false,
            },
        )
        .body;
        let gateway = GatewaySettings {
            party_id: "TISI".into(),
            issuer_tax_number: TaxNumber::parse("0994000617721").expect("tax number"),
            issuer_name: "สำนักงานมาตรฐานผลิตภัณฑ์อุตสาหกรรม".into(),
        };
        Fixture {
            store,
            reference,
            request,
            raw,
            gateway,
            counter: AtomicU64::new(0),
            _dir: dir,
        }
    }

    /// Decides and commits one new request (a new MessageId and a new reference number).
    async fn one(&self) {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let id = format!("bench-{n}");
        let h = header(&id);
        let mut req = self.request.clone();
        req.reference = ReferenceNumber::parse(&format!("PO-B-{n}")).expect("reference");
        let now = Utc::now();
        let seq = std::cell::Cell::new(0u32);
        let renderer = Arc::new(ReplyRenderer::new(
            h.clone(),
            Packaging::Inline,
            Some(AckActor::ToPartyMsh),
            true,
            || {
                seq.set(seq.get() + 1);
                format!("{id}-r{}@tisi", seq.get())
            },
            now,
        ));
        let ctx = context::build(&self.gateway, self.reference.clone(), renderer, now);
        let meta = MessageMeta {
            message_id: h.message_id.clone(),
            conversation_id: h.conversation_id.clone(),
            from_party: h.from.id.clone(),
            from_party_type: h.from.kind.clone(),
            to_party: h.to.id.clone(),
            to_party_type: h.to.kind.clone(),
            cpa_id: h.cpa_id.clone(),
            service: h.service.value.clone(),
            action: h.action.clone(),
            received_at: now,
            content_type: "text/xml; charset=UTF-8".into(),
            raw: self.raw.clone(),
            ack_requested: true,
            sync_reply: true,
            packaging: "inline".into(),
        };
        let out = self
            .store
            .process(meta, InboundDocument::ImportPermitRequest(req), ctx)
            .await
            .expect("process");
        match out {
            Outcome::New(r) => assert_eq!(r.http_status, 200),
            Outcome::Duplicate(_) | Outcome::SentByAnother { .. } => {
                panic!("a new message was taken for a duplicate")
            }
        }
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let fx = Arc::new(rt.block_on(Fixture::new()));
    rt.block_on(fx.one());

    let mut g = c.benchmark_group("store");
    g.throughput(Throughput::Elements(1));
    g.sample_size(10);
    g.bench_function("process 5 items, SQLite, sequential", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let t = Instant::now();
                for _ in 0..iters {
                    fx.one().await;
                }
                t.elapsed()
            })
        })
    });
    const TASKS: u64 = 64;
    g.bench_function("process 5 items, SQLite, 64 concurrent tasks", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let t = Instant::now();
                let tasks: Vec<_> = (0..TASKS)
                    .map(|k| {
                        let fx = fx.clone();
                        // iters decisions in all, spread over the tasks.
                        let mine = iters / TASKS + u64::from(k < iters % TASKS);
                        tokio::spawn(async move {
                            for _ in 0..mine {
                                fx.one().await;
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.expect("task");
                }
                t.elapsed()
            })
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
