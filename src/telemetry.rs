//! Logs (tracing, text or JSON) and metrics (Prometheus text format, rendered by the admin
//! listener).

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LogSettings};

/// Requests answered on `/ebms`, labelled `action` and `decision`.
pub const REQUESTS_TOTAL: &str = "nsw_requests_total";
/// Time to answer a request on `/ebms`, labelled `action`.
pub const REQUEST_DURATION_SECONDS: &str = "nsw_request_duration_seconds";
/// Messages waiting for asynchronous delivery.
pub const OUTBOX_PENDING: &str = "nsw_outbox_pending";
/// Dead letters that no operator replayed or dropped yet.
pub const OUTBOX_DEAD: &str = "nsw_outbox_dead";
/// Pending deliveries that a dead letter of their conversation holds back.
pub const OUTBOX_HELD: &str = "nsw_outbox_held";
/// Age of the oldest message waiting for delivery.
pub const OUTBOX_OLDEST_PENDING_AGE_SECONDS: &str = "nsw_outbox_oldest_pending_age_seconds";

/// Connections accepted and waiting for a slot (`server.max_connections`), labelled
/// `listener` (`ebms`, `api`).
pub const CONNECTIONS_WAITING: &str = "nsw_connections_waiting";
/// Connections closed without their client's leave, labelled `listener` and `why`.
pub const CONNECTIONS_DROPPED_TOTAL: &str = "nsw_connections_dropped_total";

/// Transactions the SQLite writer committed.
pub const SQLITE_WRITER_TRANSACTIONS_TOTAL: &str = "nsw_sqlite_writer_transactions_total";
/// Jobs (messages and other writes) the SQLite writer committed.
pub const SQLITE_WRITER_JOBS_TOTAL: &str = "nsw_sqlite_writer_jobs_total";
/// Batches the SQLite writer ran again with a savepoint per job, after one of its messages
/// failed without them.
pub const SQLITE_WRITER_RERUNS_TOTAL: &str = "nsw_sqlite_writer_reruns_total";
/// Times the SQLite writer copied the WAL into the database itself, between two transactions,
/// so that the WAL could start over (every job waits meanwhile).
pub const SQLITE_WRITER_WAL_COPIES_TOTAL: &str = "nsw_sqlite_writer_wal_copies_total";
/// Time a job (a message or another write) waited for the SQLite writer: from its submission
/// to the start of the transaction that runs it.
pub const SQLITE_WRITER_WAIT_SECONDS: &str = "nsw_sqlite_writer_wait_seconds";
/// Time the SQLite writer took for one batch of jobs: their transaction, from its first
/// statement to the end of its commit, and what each of the jobs spends in it.
pub const SQLITE_WRITER_BATCH_SECONDS: &str = "nsw_sqlite_writer_batch_seconds";

/// Bucket bounds (seconds) of the request-duration histogram.
const DURATION_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Bucket bounds (seconds) of the SQLite writer's histograms: a transaction of a few jobs
/// takes well under a millisecond.
const WRITER_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Installs the global log subscriber, writing to standard error (standard output is for
/// what a command prints: certificates' settings, figures). `RUST_LOG`, when set, wins over
/// `log.filter`. Calling it again (tests) is harmless.
pub fn init_logging(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let result = match settings.format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .json()
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .try_init(),
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
            )
            .try_init(),
    };
    // Already installed (a second application in one process): keep the first.
    let _ = result;
}

/// The process-wide metrics recorder, installed on first use. Histograms get explicit buckets
/// (so they are rendered as Prometheus histograms, not summaries).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full(REQUEST_DURATION_SECONDS.to_string()),
                    DURATION_BUCKETS,
                )
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Prefix("nsw_sqlite_writer_".to_string()),
                        WRITER_BUCKETS,
                    )
                })
                .and_then(|b| b.set_buckets(DURATION_BUCKETS))
                .expect("bucket list is not empty")
                .build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics may be empty");
            }
            describe_metrics();
            handle
        })
        .clone()
}

fn describe_metrics() {
    metrics::describe_counter!(
        REQUESTS_TOTAL,
        "ebMS requests answered, by action and decision (or error kind)"
    );
    metrics::describe_histogram!(
        REQUEST_DURATION_SECONDS,
        metrics::Unit::Seconds,
        "time from request received to response ready, by action"
    );
    metrics::describe_gauge!(
        CONNECTIONS_WAITING,
        "connections accepted and waiting for a slot (server.max_connections), by listener"
    );
    metrics::describe_counter!(
        CONNECTIONS_DROPPED_TOTAL,
        "connections closed without their client's leave, by listener and why"
    );
    metrics::describe_gauge!(OUTBOX_PENDING, "messages waiting for asynchronous delivery");
    metrics::describe_gauge!(
        OUTBOX_DEAD,
        "dead letters: deliveries that failed for good and wait for an operator to replay or drop them"
    );
    metrics::describe_gauge!(
        OUTBOX_HELD,
        "messages waiting for delivery behind a dead letter of their conversation (delivery in order)"
    );
    metrics::describe_counter!(
        SQLITE_WRITER_TRANSACTIONS_TOTAL,
        "transactions committed by the SQLite writer (group commit)"
    );
    metrics::describe_counter!(
        SQLITE_WRITER_JOBS_TOTAL,
        "jobs committed by the SQLite writer; divided by its transactions, the mean group"
    );
    metrics::describe_counter!(
        SQLITE_WRITER_RERUNS_TOTAL,
        "batches the SQLite writer ran again with savepoints after a message failed"
    );
    metrics::describe_counter!(
        SQLITE_WRITER_WAL_COPIES_TOTAL,
        "times the SQLite writer copied the WAL into the database itself so that it could start over"
    );
    metrics::describe_histogram!(
        SQLITE_WRITER_WAIT_SECONDS,
        metrics::Unit::Seconds,
        "time a job waited for the SQLite writer before its transaction began"
    );
    metrics::describe_histogram!(
        SQLITE_WRITER_BATCH_SECONDS,
        metrics::Unit::Seconds,
        "time the SQLite writer took for a batch of jobs, first statement to end of commit"
    );
    metrics::describe_gauge!(
        OUTBOX_OLDEST_PENDING_AGE_SECONDS,
        metrics::Unit::Seconds,
        "age of the oldest message waiting for asynchronous delivery"
    );
}

/// Records one answered `/ebms` request.
pub fn record_request(action: &str, decision: &str, elapsed: std::time::Duration) {
    metrics::counter!(REQUESTS_TOTAL, "action" => action.to_string(), "decision" => decision.to_string())
        .increment(1);
    metrics::histogram!(REQUEST_DURATION_SECONDS, "action" => action.to_string())
        .record(elapsed.as_secs_f64());
}

/// Sets the outbox gauges (called when `/metrics` is scraped).
pub fn record_outbox(s: crate::store::OutboxFigures) {
    metrics::gauge!(OUTBOX_PENDING).set(s.pending as f64);
    metrics::gauge!(OUTBOX_OLDEST_PENDING_AGE_SECONDS).set(s.oldest_pending_age_seconds);
    metrics::gauge!(OUTBOX_DEAD).set(s.dead as f64);
    metrics::gauge!(OUTBOX_HELD).set(s.held as f64);
}

/// Sets the SQLite writer's counters (called when `/metrics` is scraped).
pub fn record_sqlite_writer(w: WriterFigures) {
    metrics::counter!(SQLITE_WRITER_TRANSACTIONS_TOTAL).absolute(w.transactions);
    metrics::counter!(SQLITE_WRITER_JOBS_TOTAL).absolute(w.jobs);
    metrics::counter!(SQLITE_WRITER_RERUNS_TOTAL).absolute(w.reruns);
    metrics::counter!(SQLITE_WRITER_WAL_COPIES_TOTAL).absolute(w.wal_copies);
}

/// Records one batch of the SQLite writer: how long each of its jobs waited for it, and how
/// long it took.
pub fn record_sqlite_writer_batch(
    waits: impl Iterator<Item = std::time::Duration>,
    took: std::time::Duration,
) {
    let wait = metrics::histogram!(SQLITE_WRITER_WAIT_SECONDS);
    for w in waits {
        wait.record(w.as_secs_f64());
    }
    metrics::histogram!(SQLITE_WRITER_BATCH_SECONDS).record(took.as_secs_f64());
}

/// What the SQLite writer has done since the gateway started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriterFigures {
    pub transactions: u64,
    pub jobs: u64,
    pub reruns: u64,
    pub wal_copies: u64,
}

/// Log lines captured in memory, for tests of what a line carries.
#[cfg(test)]
pub(crate) mod test_support {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::SubscriberExt;

    /// What a subscriber wrote.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The lines that `f` logs, in the text format or as JSON lines (with the current span, as
    /// the gateway writes them), through this filter (`EnvFilter` syntax).
    pub fn logged(json: bool, filter: &str, f: impl FnOnce()) -> String {
        let lines = Lines::default();
        let writer = {
            let lines = lines.clone();
            move || lines.clone()
        };
        let layer = tracing_subscriber::fmt::layer().with_writer(writer);
        let subscriber =
            tracing_subscriber::registry().with(tracing_subscriber::EnvFilter::new(filter));
        let dispatch = if json {
            tracing::Dispatch::new(subscriber.with(layer.json().with_current_span(true)))
        } else {
            tracing::Dispatch::new(subscriber.with(layer.with_ansi(false)))
        };
        tracing::dispatcher::with_default(&dispatch, f);
        let out = lines.0.lock().unwrap().clone();
        String::from_utf8(out).unwrap()
    }
}
