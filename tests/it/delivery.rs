//! Asynchronous delivery (spec §5): retries with back-off, dead letters and replay, crash
//! safety, several workers on one PostgreSQL database. The worker is driven round by round
//! with a manual clock: no sleeping, no timing assertions.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use nsw_gateway::config::Settings;
use nsw_gateway::delivery::{Clock, DeliveryWorker, ManualClock};
use nsw_gateway::store::{OperatorOutcome, OutboxItem, OutboxStatus, Store};
use nsw_gateway::wire::envelope::{parse_envelope, AckActor, MessageHeader, PartyId};
use nsw_gateway::wire::intake::Packaging;
use nsw_gateway::wire::reply::{self, Built, RequestOptions};

use crate::fake_nsw::{Answer, FakeNsw};
use crate::helpers::{spawn_app_with, Options, TestApp};
use crate::messages::{header, permit_request, request, LICENCE_OK};

/// A test gateway whose own background worker is off: the tests drive one.
pub async fn app_without_worker(admin_token: Option<&str>, extra: &str) -> TestApp {
    spawn_app_with(Options {
        admin_token: admin_token.map(str::to_string),
        extra: format!(
            "[delivery]\nenabled = false\nbackoff_base_secs = 2\nbackoff_max_secs = 60\n\
             max_attempts = 6\n{extra}"
        ),
        ..Options::default()
    })
    .await
}

/// A clock one second ahead of now (so rows stored now are due), on whole seconds.
pub fn test_clock() -> Arc<ManualClock> {
    let start = DateTime::from_timestamp(Utc::now().timestamp() + 1, 0).unwrap();
    Arc::new(ManualClock::new(start))
}

/// A worker on `store` delivering to `fake`, with the given clock and no jitter (the full
/// back-off ceiling is waited, so the expected delays are exact).
pub fn worker_for(
    store: Store,
    settings: &Settings,
    fake: &FakeNsw,
    clock: Arc<ManualClock>,
) -> DeliveryWorker {
    let mut s = settings.clone();
    for p in &mut s.partners {
        p.delivery_url = fake.url.clone();
    }
    DeliveryWorker::with_clock(store, &s, clock, Arc::new(|| 1.0)).unwrap()
}

/// Sends an ImportPermitRequest without SyncReply (202; the response goes to the outbox).
pub async fn send_async(app: &TestApp, h: &MessageHeader, reference: &str) {
    let opts = RequestOptions {
        ack_requested: true,
        sync_reply: false,
        tis620: false,
    };
    let a = app
        .post(&request(
            h,
            &permit_request(reference, LICENCE_OK, 5),
            Packaging::Inline,
            opts,
        ))
        .await;
    assert_eq!(a.status, 202, "{}", a.text());
}

/// The outbox rows, oldest first.
pub async fn rows(store: &Store) -> Vec<OutboxItem> {
    store.outbox_list(None, 10_000).await.unwrap()
}

#[tokio::test]
async fn retried_with_backoff_then_delivered_once_byte_identical() {
    let fake = FakeNsw::start(
        vec![
            Answer::Status(503, None),
            Answer::Status(503, None),
            Answer::Status(503, None),
        ],
        Answer::Ok,
    )
    .await;
    let app = app_without_worker(None, "").await;
    let h = header("ImportPermitRequest");
    send_async(&app, &h, "REF-DELIVERY-1").await;
    let stored = app.outbox(&h.conversation_id).await;
    assert_eq!(stored.len(), 1);
    let store = app.handle.store().clone();
    let clock = test_clock();
    let worker = worker_for(store.clone(), &app.settings, &fake, clock.clone());
    let id = rows(&store).await[0].id;

    // Expected waits after failed attempts 1, 2, 3: base 2 s doubling.
    for (attempt, wait) in [(1u32, 2u64), (2, 4), (3, 8)] {
        assert_eq!(worker.run_once().await, 0, "attempt {attempt}");
        let row = store.outbox_get(id).await.unwrap().unwrap();
        assert_eq!(row.status, OutboxStatus::Pending);
        assert_eq!(row.attempts, attempt);
        assert_eq!(row.last_http_status, Some(503));
        assert_eq!(
            (row.next_attempt_at - clock.now()).num_milliseconds(),
            wait as i64 * 1000,
            "back-off after attempt {attempt}"
        );
        // Not due yet: nothing is sent.
        clock.advance(Duration::from_secs(wait) - Duration::from_millis(1));
        assert_eq!(worker.run_once().await, 0);
        assert_eq!(fake.received().len(), attempt as usize);
        clock.advance(Duration::from_millis(1));
    }
    assert_eq!(worker.run_once().await, 1);
    let received = fake.received();
    assert_eq!(
        received.iter().map(|r| r.answered).collect::<Vec<_>>(),
        vec![503, 503, 503, 200],
        "N failures + 1 success"
    );
    for r in &received {
        assert_eq!(r.body, stored[0].1, "every attempt sends the stored bytes");
        assert_eq!(r.content_type, stored[0].0);
    }
    let accepted = fake.accepted();
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0].1, stored[0].1, "the stored bytes, exactly");
    let row = store.outbox_get(id).await.unwrap().unwrap();
    assert_eq!(row.status, OutboxStatus::Done);
    assert_eq!(row.attempts, 4);
    // Nothing more to do.
    clock.advance(Duration::from_secs(3600));
    assert_eq!(worker.run_once().await, 0);
    assert_eq!(fake.received().len(), 4);
}

#[tokio::test]
async fn retry_after_of_a_429_is_honoured() {
    let fake = FakeNsw::start(vec![Answer::Status(429, Some("30"))], Answer::Ok).await;
    let app = app_without_worker(None, "").await;
    let h = header("ImportPermitRequest");
    send_async(&app, &h, "REF-DELIVERY-429").await;
    let store = app.handle.store().clone();
    let clock = test_clock();
    let worker = worker_for(store.clone(), &app.settings, &fake, clock.clone());
    assert_eq!(worker.run_once().await, 0);
    let row = rows(&store).await.remove(0);
    assert_eq!(row.status, OutboxStatus::Pending);
    assert_eq!((row.next_attempt_at - clock.now()).num_seconds(), 30);
    clock.advance(Duration::from_secs(29));
    assert_eq!(worker.run_once().await, 0);
    clock.advance(Duration::from_secs(1));
    assert_eq!(worker.run_once().await, 1);
}

#[tokio::test]
async fn a_400_is_dead_at_once_and_replay_sends_it_again() {
    let fake = FakeNsw::start(vec![Answer::Status(400, None)], Answer::Ok).await;
    let app = app_without_worker(Some("admin-secret-for-tests"), "").await;
    let h = header("ImportPermitRequest");
    send_async(&app, &h, "REF-DELIVERY-400").await;
    let store = app.handle.store().clone();
    let clock = test_clock();
    let worker = worker_for(store.clone(), &app.settings, &fake, clock.clone());

    assert_eq!(worker.run_once().await, 0);
    let row = rows(&store).await.remove(0);
    assert_eq!(row.status, OutboxStatus::Dead, "{row:?}");
    assert_eq!(row.attempts, 1);
    assert_eq!(row.last_http_status, Some(400));
    clock.advance(Duration::from_secs(3600));
    assert_eq!(worker.run_once().await, 0, "a dead letter is not retried");
    assert_eq!(fake.received().len(), 1);

    // The operator sees it and replays it over the admin API.
    let (_, listed) = app
        .admin_get("/admin/outbox?status=DEAD", "admin-secret-for-tests")
        .await;
    assert_eq!(listed["items"][0]["id"], row.id, "{listed}");
    let unauthorised = app
        .client
        .post(app.admin(&format!("/admin/outbox/{}/replay", row.id)))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorised.status(), 401);
    assert_eq!(unauthorised.headers()["www-authenticate"], "Bearer");
    let replayed = app
        .client
        .post(app.admin(&format!("/admin/outbox/{}/replay", row.id)))
        .bearer_auth("admin-secret-for-tests")
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status(), 200);
    let again = app
        .client
        .post(app.admin(&format!("/admin/outbox/{}/replay", row.id)))
        .bearer_auth("admin-secret-for-tests")
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409, "a pending row cannot be replayed");

    assert_eq!(worker.run_once().await, 1);
    assert_eq!(fake.received().len(), 2);
    let accepted = fake.accepted();
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0].1, row.body);

    let (_, shown) = app
        .admin_get(
            &format!("/admin/outbox/{}", row.id),
            "admin-secret-for-tests",
        )
        .await;
    assert_eq!(shown["status"], "DONE");
    assert_eq!(shown["audit"][0]["actor"], "admin");
    assert_eq!(shown["audit"][0]["action"], "replay");
}

#[tokio::test]
async fn the_command_line_lists_drops_and_replays() {
    use nsw_gateway::cli::{run_outbox, OutboxCommand};
    let fake = FakeNsw::start(vec![], Answer::Ok).await;
    let app = app_without_worker(None, "").await;
    let h = header("ImportPermitRequest");
    send_async(&app, &h, "REF-DELIVERY-CLI").await;
    let store = app.handle.store().clone();
    let id = rows(&store).await[0].id;

    let list = run_outbox(
        &store,
        &OutboxCommand::List {
            status: Some("pending".into()),
            limit: 10,
        },
    )
    .await
    .unwrap();
    assert!(list.contains(&h.conversation_id), "{list}");
    assert!(list.contains("1 row(s)"), "{list}");

    let dropped = run_outbox(
        &store,
        &OutboxCommand::Drop {
            id,
            reason: "sent by hand".into(),
            actor: Some("cli:operator".into()),
        },
    )
    .await
    .unwrap();
    assert!(dropped.contains("dropped"), "{dropped}");
    let twice = run_outbox(
        &store,
        &OutboxCommand::Drop {
            id,
            reason: "again".into(),
            actor: Some("cli:operator".into()),
        },
    )
    .await;
    assert!(
        twice
            .unwrap_err()
            .to_string()
            .contains("was dropped already"),
        "a second drop would overwrite the reason"
    );
    let clock = test_clock();
    let worker = worker_for(store.clone(), &app.settings, &fake, clock.clone());
    assert_eq!(worker.run_once().await, 0, "a dropped row is not delivered");

    let refused = run_outbox(&store, &OutboxCommand::Show { id: id + 1000 }).await;
    assert!(refused.unwrap_err().to_string().contains("does not exist"));

    run_outbox(
        &store,
        &OutboxCommand::Replay {
            id,
            actor: Some("cli:operator".into()),
        },
    )
    .await
    .unwrap();
    let queued = store.outbox_get(id).await.unwrap().unwrap();
    assert_eq!(
        (queued.status, queued.attempts, queued.last_error),
        (OutboxStatus::Pending, 0, None),
        "replayed afresh"
    );
    assert_eq!(worker.run_once().await, 1);
    let shown = run_outbox(&store, &OutboxCommand::Show { id })
        .await
        .unwrap();
    assert!(shown.contains("DONE"), "{shown}");
    assert!(shown.contains("cli:operator drop sent by hand"), "{shown}");
    assert!(shown.contains("cli:operator replay"), "{shown}");
}

#[tokio::test]
async fn a_crash_while_leased_loses_nothing_and_delivers_nothing_twice() {
    // The first request hangs: the worker holding the batch "crashes" while it waits.
    let fake = FakeNsw::start(vec![Answer::Hang], Answer::Ok).await;
    let app = app_without_worker(None, "").await;
    let mut convs = Vec::new();
    for c in 0..3 {
        let first = header("ImportPermitRequest");
        send_async(&app, &first, &format!("REF-CRASH-{c}-A")).await;
        let mut second = header("ImportPermitRequest");
        second.conversation_id = first.conversation_id.clone();
        send_async(&app, &second, &format!("REF-CRASH-{c}-B")).await;
        convs.push(first.conversation_id);
    }
    let store = app.handle.store().clone();
    let stored = rows(&store).await;
    assert_eq!(stored.len(), 6);
    let clock = test_clock();

    let crashed = worker_for(store.clone(), &app.settings, &fake, clock.clone());
    let round = tokio::spawn(async move { crashed.run_once().await });
    fake.wait_received(1).await;
    round.abort();
    let _ = round.await;
    let leased = rows(&store)
        .await
        .iter()
        .filter(|r| r.status == OutboxStatus::InFlight)
        .count();
    assert!(leased >= 1, "the crashed worker's lease is still held");

    // A new worker (a restarted gateway): the leased rows wait for their lease to expire.
    let worker = worker_for(store.clone(), &app.settings, &fake, clock.clone());
    assert_eq!(worker.requeue_expired().await.unwrap(), 0);
    let mut rounds = 0;
    while rows(&store)
        .await
        .iter()
        .any(|r| r.status != OutboxStatus::Done)
    {
        rounds += 1;
        assert!(rounds < 20, "{:#?}", rows(&store).await);
        worker.run_once().await;
        clock.advance(Duration::from_secs(121));
        worker.requeue_expired().await.unwrap();
    }
    fake.release();

    let accepted = fake.accepted();
    assert_eq!(accepted.len(), 6, "everything delivered");
    for row in &stored {
        let (_, body) = accepted
            .iter()
            .find(|(id, _)| *id == row.message_id)
            .expect("delivered");
        assert_eq!(body, &row.body);
    }
    // In order per conversation: sequence 1 is accepted before sequence 2.
    for conv in &convs {
        let order: Vec<i64> = accepted
            .iter()
            .map(|(id, _)| stored.iter().find(|r| &r.message_id == id).unwrap())
            .filter(|r| &r.conversation_id == conv)
            .map(|r| r.conversation_seq)
            .collect();
        assert_eq!(order, vec![1, 2], "{conv}");
    }
}

#[tokio::test]
async fn stopping_the_app_keeps_pending_deliveries_for_the_next_start() {
    let fake = FakeNsw::start(vec![], Answer::Ok).await;
    let mut app = app_without_worker(None, "").await;
    let h = header("ImportPermitRequest");
    send_async(&app, &h, "REF-RESTART-1").await;
    let url = app.settings.database.url.clone();
    app.stop().await.unwrap();

    // The same database opened again, as a restarted gateway would.
    let store = Store::connect(&url).await.unwrap();
    let pending = rows(&store).await;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].status, OutboxStatus::Pending);
    let worker = worker_for(store.clone(), &app.settings, &fake, test_clock());
    assert_eq!(worker.requeue_expired().await.unwrap(), 0);
    assert_eq!(worker.run_once().await, 1);
    assert_eq!(fake.accepted()[0].1, pending[0].body);
}

/// Inserts `n` pending rows (ebMS acknowledgment messages, no acknowledgment requested)
/// over `conversations` conversations, straight into PostgreSQL.
async fn insert_pending(url: &str, n: usize, conversations: usize) {
    use nsw_gateway::wire::reply::build_ack_only;
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let now = Utc::now();
    for i in 0..n {
        let mut h = header("ImportPermitRequest");
        h.message_id = format!("bulk-{i}@tisi.test");
        h.conversation_id = format!("bulk-conv-{}", i % conversations);
        let built = build_ack_only(&h, AckActor::ToPartyMsh, h.message_id.clone(), now);
        sqlx::query(
            "INSERT INTO outbox (message_id, conversation_id, conversation_seq, partner, \
             content_type, body, ack_requested, status, attempts, next_attempt_at, created_at) \
             VALUES ($1, $2, $3, 'NSW', $4, $5, false, 'PENDING', 0, $6, $6)",
        )
        .bind(&h.message_id)
        .bind(&h.conversation_id)
        .bind((i / conversations) as i64 + 1)
        .bind(&built.content_type)
        .bind(&built.body)
        .bind(now - chrono::Duration::seconds(5))
        .execute(&pool)
        .await
        .unwrap();
    }
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_on_one_postgres_deliver_each_row_exactly_once() {
    if std::env::var("TEST_DATABASE_URL").is_err() {
        eprintln!("skipped: TEST_DATABASE_URL is not set");
        return;
    }
    let fake = FakeNsw::start(vec![], Answer::Ok).await;
    let app = app_without_worker(None, "").await;
    let url = app.settings.database.url.clone();
    insert_pending(&url, 1000, 50).await;

    let clock = test_clock();
    let a = worker_for(
        Store::connect(&url).await.unwrap(),
        &app.settings,
        &fake,
        clock.clone(),
    );
    let b = worker_for(
        Store::connect(&url).await.unwrap(),
        &app.settings,
        &fake,
        clock.clone(),
    );
    let drain = |w: DeliveryWorker, store: Store| async move {
        let mut delivered = 0;
        loop {
            let n = w.run_once().await;
            delivered += n;
            if n == 0 {
                let f = store.outbox_figures(Utc::now()).await.unwrap();
                if f.pending == 0 {
                    return delivered;
                }
                tokio::task::yield_now().await;
            }
        }
    };
    let store = app.handle.store().clone();
    let (da, db) = tokio::join!(
        tokio::spawn(drain(a, store.clone())),
        tokio::spawn(drain(b, store.clone()))
    );
    let (da, db) = (da.unwrap(), db.unwrap());
    assert_eq!(da + db, 1000);
    assert!(da > 0 && db > 0, "both workers took a share: {da} + {db}");
    let received = fake.received();
    assert_eq!(received.len(), 1000, "no row was sent twice");
    assert_eq!(fake.accepted().len(), 1000);
    // In order per conversation.
    let mut last: std::collections::HashMap<String, usize> = Default::default();
    for r in &received {
        let i: usize = r.message_id["bulk-".len()..r.message_id.find('@').unwrap()]
            .parse()
            .unwrap();
        if let Some(prev) = last.insert(r.conversation_id.clone(), i) {
            assert!(prev < i, "{} after {prev} in {}", i, r.conversation_id);
        }
    }
}

#[tokio::test]
async fn a_failing_partner_opens_its_circuit_and_is_probed_after_the_cool_down() {
    use nsw_gateway::delivery::CircuitState;
    let fake = FakeNsw::start(
        vec![Answer::Status(503, None), Answer::Status(502, None)],
        Answer::Ok,
    )
    .await;
    let app = app_without_worker(
        None,
        "circuit_threshold = 2\ncircuit_cool_down_secs = 300\n",
    )
    .await;
    let h = header("ImportPermitRequest");
    send_async(&app, &h, "REF-CIRCUIT-1").await;
    let store = app.handle.store().clone();
    let clock = test_clock();
    let worker = worker_for(store.clone(), &app.settings, &fake, clock.clone());

    assert_eq!(worker.run_once().await, 0);
    assert_eq!(worker.circuit_state("NSW"), CircuitState::Closed);
    clock.advance(Duration::from_secs(2));
    assert_eq!(worker.run_once().await, 0);
    let opened_until = match worker.circuit_state("NSW") {
        CircuitState::Open { until } => until,
        other => panic!("expected an open circuit, got {other:?}"),
    };
    assert_eq!((opened_until - clock.now()).num_seconds(), 300);

    // During the cool-down nothing is sent, and no attempt is counted.
    for _ in 0..3 {
        clock.advance(Duration::from_secs(60));
        assert_eq!(worker.run_once().await, 0);
    }
    assert_eq!(fake.received().len(), 2);
    let row = rows(&store).await.remove(0);
    assert_eq!(row.attempts, 2);
    assert_eq!(row.status, OutboxStatus::Pending);

    // After the cool-down one probe goes; it succeeds and the circuit closes.
    clock.advance(Duration::from_secs(120));
    assert_eq!(worker.run_once().await, 1);
    assert_eq!(worker.circuit_state("NSW"), CircuitState::Closed);
    assert_eq!(fake.received().len(), 3);

    let metrics = app.metrics(None).await;
    for name in [
        "nsw_delivery_attempts_total{partner=\"NSW\",result=\"retry\"}",
        "nsw_delivery_attempts_total{partner=\"NSW\",result=\"delivered\"}",
        "nsw_delivery_attempts_total{partner=\"NSW\",result=\"postponed\"}",
        "nsw_partner_circuit_open{partner=\"NSW\"}",
        "nsw_outbox_pending",
        "nsw_outbox_oldest_pending_age_seconds",
    ] {
        assert!(metrics.contains(name), "{name} in {metrics}");
    }
}

/// A row whose attempts are used up (they never returned) is made a dead letter without
/// being sent, and without taking the probe of its partner's half-open circuit: the next
/// row is the probe, and delivery goes on.
#[tokio::test]
async fn a_row_out_of_attempts_does_not_take_the_probe_of_a_half_open_circuit() {
    use nsw_gateway::delivery::CircuitState;
    let fake = FakeNsw::start(vec![Answer::Status(503, None)], Answer::Ok).await;
    let app = app_without_worker(
        None,
        "circuit_threshold = 1\ncircuit_cool_down_secs = 300\n",
    )
    .await;
    let store = app.handle.store().clone();
    let clock = test_clock();
    let worker = worker_for(store.clone(), &app.settings, &fake, clock.clone());
    // X fails once: the circuit opens.
    send_async(&app, &header("ImportPermitRequest"), "REF-PROBE-X").await;
    assert_eq!(worker.run_once().await, 0);
    assert!(matches!(
        worker.circuit_state("NSW"),
        CircuitState::Open { .. }
    ));
    // Y arrives during the cool-down; X's further attempts were made and never returned.
    send_async(&app, &header("ImportPermitRequest"), "REF-PROBE-Y").await;
    clock.advance(Duration::from_secs(60));
    assert_eq!(worker.run_once().await, 0);
    let x = rows(&store).await.remove(0);
    let url = &app.settings.database.url;
    let sql = "UPDATE outbox SET attempts = 6 WHERE id = ";
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        sqlx::query(&format!("{sql}{}", x.id))
            .execute(&pool)
            .await
            .unwrap();
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::query(&format!("{sql}{}", x.id))
            .execute(&pool)
            .await
            .unwrap();
    }

    // After the cool-down: X is a dead letter, Y is the probe and is delivered.
    clock.advance(Duration::from_secs(300));
    worker.run_once().await;
    let got: Vec<(OutboxStatus, u32)> = rows(&store)
        .await
        .iter()
        .map(|r| (r.status, r.attempts))
        .collect();
    assert_eq!(got, [(OutboxStatus::Dead, 6), (OutboxStatus::Done, 1)]);
    assert_eq!(worker.circuit_state("NSW"), CircuitState::Closed);
    assert_eq!(fake.received().len(), 2);
}

#[tokio::test]
async fn attempts_are_bounded_then_the_row_is_dead() {
    let fake = FakeNsw::start(vec![], Answer::Status(500, None)).await;
    let app = app_without_worker(None, "circuit_threshold = 100\n").await;
    let h = header("ImportPermitRequest");
    send_async(&app, &h, "REF-BOUNDED-1").await;
    let store = app.handle.store().clone();
    let clock = test_clock();
    let worker = worker_for(store.clone(), &app.settings, &fake, clock.clone());
    for _ in 0..10 {
        worker.run_once().await;
        clock.advance(Duration::from_secs(60));
    }
    // max_attempts = 6 in these tests.
    assert_eq!(fake.received().len(), 6);
    let row = rows(&store).await.remove(0);
    assert_eq!(row.status, OutboxStatus::Dead);
    assert_eq!(row.attempts, 6);
    assert!(
        row.last_error
            .as_deref()
            .unwrap()
            .starts_with("gave up after 6 attempt(s): HTTP 500"),
        "{row:?}"
    );
}

#[tokio::test]
async fn attempts_that_never_returned_count_toward_the_bound() {
    // Every delivery hangs, and each worker "crashes" while it waits.
    let fake = FakeNsw::start(vec![], Answer::Hang).await;
    let app = app_without_worker(None, "").await;
    let h = header("ImportPermitRequest");
    send_async(&app, &h, "REF-NEVER-RETURNED").await;
    let store = app.handle.store().clone();
    let clock = test_clock();
    // max_attempts = 6 in these tests: six sends, each taken over when its lease expired.
    for sent in 1..=6 {
        let crashed = worker_for(store.clone(), &app.settings, &fake, clock.clone());
        let round = tokio::spawn(async move { crashed.run_once().await });
        fake.wait_received(sent).await;
        round.abort();
        let _ = round.await;
        clock.advance(Duration::from_secs(121));
        let row = rows(&store).await.remove(0);
        assert_eq!(
            (row.status, row.attempts),
            (OutboxStatus::InFlight, sent as u32 - 1),
            "counted when the lease is taken over"
        );
    }
    let worker = worker_for(store.clone(), &app.settings, &fake, clock.clone());
    assert_eq!(worker.run_once().await, 0);
    fake.release();
    assert_eq!(fake.received().len(), 6, "not sent a seventh time");
    let row = rows(&store).await.remove(0);
    assert_eq!((row.status, row.attempts), (OutboxStatus::Dead, 6));
    assert!(
        row.last_error
            .as_deref()
            .unwrap()
            .starts_with("gave up after 6 attempt(s), the last without an answer"),
        "{row:?}"
    );
}

#[tokio::test]
async fn the_background_worker_of_serve_delivers_and_stops_with_the_app() {
    use crate::helpers::{spawn_settings, test_settings};
    let fake = FakeNsw::start(vec![Answer::Status(503, None)], Answer::Ok).await;
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        extra: "[delivery]\nbackoff_base_ms = 1\nbackoff_max_ms = 1\npoll_interval_ms = 1\n".into(),
        ..Options::default()
    };
    let (mut settings, guard) = test_settings(dir.path(), &options, None).await;
    settings.partners[0].delivery_url = fake.url.clone();
    let mut app = spawn_settings(settings, None, dir).await;
    app.database = guard;

    let h = header("ImportPermitRequest");
    send_async(&app, &h, "REF-BACKGROUND-1").await;
    let stored = app.outbox(&h.conversation_id).await;
    // The worker retries after the 503 on its own and the second attempt is accepted.
    fake.wait_received(2).await;
    app.stop().await.unwrap();
    let accepted = fake.accepted();
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0].1, stored[0].1);
    let store = Store::connect(&app.settings.database.url).await.unwrap();
    let row = rows(&store).await.remove(0);
    assert_eq!(row.status, OutboxStatus::Done, "{row:?}");
    assert_eq!(row.attempts, 2);
}

/// Spec §5: a delivery is done when the NSW acknowledges it. The delivery asks for the
/// Acknowledgment on the same connection (SyncReply); an NSW that answers 200 and sends its
/// Acknowledgment later, as a message of its own, completes the delivery with it.
#[tokio::test]
async fn an_acknowledgment_sent_later_completes_the_delivery() {
    let fake = FakeNsw::start(vec![], Answer::OkWithoutAck).await;
    let app = app_without_worker(
        None,
        "\n[[partners]]\nparty_id = \"BROKER\"\ncpa_id = \"BROKER-TISI\"\n\
         delivery_url = \"http://127.0.0.1:9/ebms\"\n",
    )
    .await;
    let h = header("ImportPermitRequest");
    send_async(&app, &h, "REF-LATE-ACK-1").await;
    let store = app.handle.store().clone();
    let clock = test_clock();
    let worker = worker_for(store.clone(), &app.settings, &fake, clock.clone());
    assert_eq!(
        worker.run_once().await,
        0,
        "a 200 without the requested Acknowledgment is not done"
    );
    let id = rows(&store).await[0].id;
    let row = store.outbox_get(id).await.unwrap().unwrap();
    assert_eq!((row.status, row.attempts), (OutboxStatus::Pending, 1));

    // What was sent asks for the answer on the same connection, and for duplicate elimination
    // (a retry sends the same MessageId).
    let sent = fake.received().remove(0);
    let delivered = reply::parse_reply(Some(&sent.content_type), &sent.body).unwrap();
    assert_eq!(delivered.ack_requested, Some(AckActor::ToPartyMsh));
    assert!(delivered.header.duplicate_elimination);
    let envelope = parse_envelope(std::str::from_utf8(&sent.body).unwrap()).unwrap();
    assert!(
        envelope.sync_reply,
        "{}",
        String::from_utf8_lossy(&sent.body)
    );

    // Acknowledgments as messages of their own: from another partner, and for a message
    // never delivered, they change nothing; the NSW's completes the delivery, once.
    let mut to_broker = delivered.header.clone();
    to_broker.to = PartyId::new("BROKER");
    to_broker.cpa_id = "BROKER-TISI".into();
    let mut unknown = delivered.header.clone();
    unknown.message_id = "never-sent@tisi".into();
    for (of, status) in [
        (&to_broker, OutboxStatus::Pending),
        (&unknown, OutboxStatus::Pending),
        (&delivered.header, OutboxStatus::Done),
        (&delivered.header, OutboxStatus::Done),
    ] {
        let a = app.post(&nsw_ack(of)).await;
        assert_eq!(a.status, 200, "{}", a.text());
        assert!(a.body.is_empty(), "{}", a.text());
        let row = store.outbox_get(id).await.unwrap().unwrap();
        assert_eq!(
            row.status, status,
            "after the acknowledgment from {}",
            of.to.id
        );
    }
    clock.advance(Duration::from_secs(3600));
    assert_eq!(worker.run_once().await, 0);
    assert_eq!(fake.received().len(), 1, "not sent again");
}

/// ebMS 2.0 lets an Acknowledgment ride on a business message: the delivery it refers to is
/// done, and the business message is decided as any other.
#[tokio::test]
async fn an_acknowledgment_riding_on_a_request_completes_the_delivery() {
    let fake = FakeNsw::start(vec![], Answer::OkWithoutAck).await;
    let app = app_without_worker(None, "").await;
    send_async(&app, &header("ImportPermitRequest"), "REF-RIDE-1").await;
    let store = app.handle.store().clone();
    let worker = worker_for(store.clone(), &app.settings, &fake, test_clock());
    assert_eq!(
        worker.run_once().await,
        0,
        "no Acknowledgment in the answer"
    );
    let id = rows(&store).await[0].id;
    let sent = fake.received().remove(0);
    let delivered = reply::parse_reply(Some(&sent.content_type), &sent.body).unwrap();

    // The NSW's next request carries the Acknowledgment in its header.
    let ack = nsw_ack(&delivered.header);
    let ack_text = String::from_utf8(ack.body).unwrap();
    let start = ack_text.find("<eb:Acknowledgment").unwrap();
    let end = ack_text.find("</eb:Acknowledgment>").unwrap() + "</eb:Acknowledgment>".len();
    let mut built = request(
        &header("ImportPermitRequest"),
        &permit_request("REF-RIDE-2", LICENCE_OK, 1),
        Packaging::Inline,
        RequestOptions {
            ack_requested: true,
            sync_reply: true,
            tis620: false,
        },
    );
    let text = String::from_utf8(built.body).unwrap();
    assert!(text.contains("</SOAP:Header>"), "{text}");
    built.body = text
        .replacen(
            "</SOAP:Header>",
            &format!("{}</SOAP:Header>", &ack_text[start..end]),
            1,
        )
        .into_bytes();
    let a = app.post(&built).await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.permit_response().reference.as_str(), "REF-RIDE-2");
    let row = store.outbox_get(id).await.unwrap().unwrap();
    assert_eq!(row.status, OutboxStatus::Done, "{row:?}");
}

/// A partner's MessageError about a delivered message: warnings change nothing; a refusal
/// (severity Error) makes the delivery a dead letter with the partner's reasons, as sending
/// the same bytes again would be refused again.
#[tokio::test]
async fn a_message_error_from_the_partner_makes_the_delivery_a_dead_letter() {
    use nsw_gateway::wire::{EbmsError, ErrorCode, Severity};
    let fake = FakeNsw::start(vec![], Answer::OkWithoutAck).await;
    let app = app_without_worker(None, "").await;
    send_async(&app, &header("ImportPermitRequest"), "REF-REFUSED-1").await;
    let store = app.handle.store().clone();
    let worker = worker_for(store.clone(), &app.settings, &fake, test_clock());
    assert_eq!(worker.run_once().await, 0);
    let id = rows(&store).await[0].id;
    let sent = fake.received().remove(0);
    let delivered = reply::parse_reply(Some(&sent.content_type), &sent.body).unwrap();
    let error_list = |severity: Severity| {
        let mut e = EbmsError::new(
            ErrorCode::ValueNotRecognized,
            "/ImportPermitResponse/Permit/PermitNumber",
            "permit number form not known here",
        );
        e.severity = severity;
        reply::build_error_list(
            Some(&delivered.header),
            &[e],
            format!("{}@nsw.test", uuid::Uuid::new_v4()),
            Utc::now(),
            "NSW",
        )
    };
    for (severity, status) in [
        (Severity::Warning, OutboxStatus::Pending),
        (Severity::Error, OutboxStatus::Dead),
    ] {
        let a = app.post(&error_list(severity)).await;
        assert_eq!(a.status, 200, "{}", a.text());
        assert!(a.body.is_empty(), "{}", a.text());
        let row = store.outbox_get(id).await.unwrap().unwrap();
        assert_eq!(row.status, status, "after a {severity:?}");
    }
    let row = store.outbox_get(id).await.unwrap().unwrap();
    let error = row.last_error.unwrap_or_default();
    assert!(
        error.starts_with("refused by the partner: ValueNotRecognized")
            && error.contains("permit number form not known here"),
        "{error}"
    );
}

/// A partner that answers 2xx but sends its Acknowledgments as messages of their own is up:
/// the deliveries are retried until acknowledged, but its circuit stays closed. And an
/// Acknowledgment that arrives while an attempt still waits for its answer completes the
/// delivery: the attempt's own failure then counts for nothing.
#[tokio::test]
async fn a_partner_that_answers_without_the_acknowledgment_keeps_its_circuit_closed() {
    use nsw_gateway::delivery::CircuitState;
    let fake = FakeNsw::start(
        vec![
            Answer::OkWithoutAck,
            Answer::OkWithoutAck,
            Answer::OkWithoutAck,
            Answer::Hang,
        ],
        Answer::Ok,
    )
    .await;
    let app = app_without_worker(
        None,
        "circuit_threshold = 1
",
    )
    .await;
    let h = header("ImportPermitRequest");
    send_async(&app, &h, "REF-UNACKED-1").await;
    let store = app.handle.store().clone();
    let clock = test_clock();
    let worker = worker_for(store.clone(), &app.settings, &fake, clock.clone());
    for n in 1..=3 {
        assert_eq!(worker.run_once().await, 0);
        assert_eq!(fake.received().len(), n, "attempt {n} was sent");
        assert_eq!(worker.circuit_state("NSW"), CircuitState::Closed);
        clock.advance(Duration::from_secs(60));
    }

    let sending = tokio::spawn({
        let worker = worker.clone();
        async move { worker.run_once().await }
    });
    fake.wait_received(4).await;
    let sent = fake.received().remove(3);
    let delivered = reply::parse_reply(Some(&sent.content_type), &sent.body).unwrap();
    let ack = nsw_ack(&delivered.header);
    let a = app.post(&ack).await;
    assert_eq!(a.status, 200, "{}", a.text());
    fake.release();
    assert_eq!(sending.await.unwrap(), 1, "done by the Acknowledgment");
    assert_eq!(worker.circuit_state("NSW"), CircuitState::Closed);
    let row = rows(&store).await.remove(0);
    assert_eq!(row.status, OutboxStatus::Done, "{row:?}");
    clock.advance(Duration::from_secs(3600));
    assert_eq!(worker.run_once().await, 0);
    assert_eq!(fake.received().len(), 4, "not sent again");
}

/// Spec §5: in order per conversation, with dead letters an operator replays. The response
/// after a dead letter waits for it (not sent, not given up on however long it waits), the
/// operator sees what holds it, and a replay delivers the dead letter first.
#[tokio::test]
async fn a_dead_letter_holds_back_the_later_responses_of_its_conversation() {
    let fake = FakeNsw::start(
        vec![
            Answer::Status(400, None),
            Answer::Ok,
            Answer::Status(503, None),
        ],
        Answer::Ok,
    )
    .await;
    let app = app_without_worker(Some("admin-secret-for-tests"), "").await;
    let first = header("ImportPermitRequest");
    send_async(&app, &first, "REF-HELD-A").await;
    let mut second = header("ImportPermitRequest");
    second.conversation_id = first.conversation_id.clone();
    send_async(&app, &second, "REF-HELD-B").await;
    let store = app.handle.store().clone();
    let stored = rows(&store).await;
    let (one, two) = (&stored[0], &stored[1]);
    assert_eq!((one.conversation_seq, two.conversation_seq), (1, 2));
    let clock = test_clock();
    let worker = worker_for(store.clone(), &app.settings, &fake, clock.clone());

    assert_eq!(worker.run_once().await, 0);
    let dead = store.outbox_get(one.id).await.unwrap().unwrap();
    assert_eq!(dead.status, OutboxStatus::Dead, "{dead:?}");
    // Longer than delivery.max_age (48 h): the later response is neither sent nor given up.
    for _ in 0..3 {
        clock.advance(Duration::from_secs(24 * 3600));
        assert_eq!(worker.run_once().await, 0);
    }
    assert_eq!(fake.received().len(), 1, "the later response waits");
    let held = store.outbox_get(two.id).await.unwrap().unwrap();
    assert_eq!((held.status, held.attempts), (OutboxStatus::Pending, 0));

    let (_, listed) = app
        .admin_get("/admin/outbox?status=PENDING", "admin-secret-for-tests")
        .await;
    let item = &listed["items"][0];
    assert_eq!(item["id"], two.id, "{listed}");
    assert_eq!(item["held_by"]["id"], one.id, "{listed}");
    assert_eq!(item["held_by"]["message_id"], one.message_id.as_str());
    let gauges = |m: String| {
        let value = |name: &str| {
            m.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
                .unwrap_or_else(|| panic!("{name} in {m}"))
                .to_string()
        };
        (
            value("nsw_outbox_dead"),
            value("nsw_outbox_held"),
            value("nsw_outbox_oldest_pending_age_seconds"),
        )
    };
    let shown = gauges(app.metrics(Some("admin-secret-for-tests")).await);
    assert_eq!(
        shown,
        ("1".into(), "1".into(), "0".into()),
        "the held row does not age"
    );

    // Replayed (at the worker's time): the dead letter first, then the held response, whose
    // first failure is retried, its age counted from the replay.
    assert_eq!(
        store
            .outbox_replay(one.id, "admin", clock.now())
            .await
            .unwrap(),
        OperatorOutcome::Done
    );
    assert_eq!(worker.run_once().await, 1);
    assert_eq!(worker.run_once().await, 0);
    let retried = store.outbox_get(two.id).await.unwrap().unwrap();
    assert_eq!(
        (retried.status, retried.attempts),
        (OutboxStatus::Pending, 1),
        "{retried:?}"
    );
    clock.advance(Duration::from_secs(2));
    assert_eq!(worker.run_once().await, 1);
    let order: Vec<String> = fake.accepted().into_iter().map(|(id, _)| id).collect();
    assert_eq!(order, [one.message_id.clone(), two.message_id.clone()]);
    let shown = gauges(app.metrics(Some("admin-secret-for-tests")).await);
    assert_eq!(shown, ("0".into(), "0".into(), "0".into()));
}

/// The NSW's Acknowledgment, as a message of its own, of a message the gateway delivered.
fn nsw_ack(of: &MessageHeader) -> Built {
    reply::build_ack_only(
        of,
        AckActor::ToPartyMsh,
        format!("{}@nsw.test", uuid::Uuid::new_v4()),
        Utc::now(),
    )
}

/// A cancellation takes the asynchronous answers about its request that wait to be sent out of
/// delivery: the request's own, and that of a resend of its content under a new MessageId
/// (answered with the same RequestId); the answer about another request stays.
#[tokio::test]
async fn a_cancellation_withdraws_the_waiting_answers_about_its_request() {
    let app = app_without_worker(None, "").await;
    for reference in ["REF-WITHDRAW-1", "REF-WITHDRAW-1", "REF-WITHDRAW-2"] {
        send_async(&app, &header("ImportPermitRequest"), reference).await;
    }
    let cancel = permit_request("REF-WITHDRAW-1", LICENCE_OK, 5)
        .replace("<Function>9</Function>", "<Function>1</Function>");
    let answer = app.send(&cancel, Packaging::Inline).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.permit_response().decision.code(), "CANCELLED");

    let after = rows(app.handle.store()).await;
    assert_eq!(after.len(), 3, "{after:?}");
    for row in &after {
        let about_the_cancelled = String::from_utf8_lossy(&row.body).contains("REF-WITHDRAW-1");
        if about_the_cancelled {
            assert_eq!(row.status, OutboxStatus::Dead, "{row:?}");
            assert!(row.dropped_at.is_some(), "{row:?}");
        } else {
            assert_eq!(row.status, OutboxStatus::Pending, "{row:?}");
        }
    }
    let withdrawn = after.iter().filter(|r| r.dropped_at.is_some()).count();
    assert_eq!(withdrawn, 2, "{after:?}");
}
