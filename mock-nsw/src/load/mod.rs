//! The load engine: sends what a [`RequestSource`] yields to a target, has a [`Judge`] check
//! each answer, and reports latency and errors.
//!
//! Two modes:
//! - **open loop** (`--rate R --duration D`): request `i` is due at `t0 + i/R`, whatever happened
//!   to earlier ones. Latency is measured from that *intended* send time, so a stalled server
//!   shows its full queueing delay (no coordinated omission). In-flight requests are capped
//!   (`max_in_flight`); waiting for a slot delays the send but not the latency's start.
//! - **closed loop** (`--concurrency C --requests N`): C workers each send, wait for the answer,
//!   and send again, until N requests were sent. Latency is measured from the actual send.
//!
//! Every run is bounded in count (N, or R×D) and in time (`time_limit`): no request is started
//! after it, and every request has the client's total timeout.

pub mod client;
pub mod contract;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use reqwest::Url;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::report::{ErrorKind, Failure, Recorder, Report, RunInfo};

pub use client::{build_client, check_target, TlsFiles};

/// One request to send, with what the contract says its answer must be.
#[derive(Debug, Clone)]
pub struct Outgoing<E> {
    pub content_type: String,
    pub body: Bytes,
    pub expected: E,
}

/// Yields the requests of a run. Called from one task at a time.
pub trait RequestSource: Send + 'static {
    type Expected: Send + Sync + 'static;
    /// The next request, or `None` when the source has nothing more to send.
    fn next_request(&mut self) -> Option<Outgoing<Self::Expected>>;
}

/// An HTTP answer as the judge sees it.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Bytes,
}

/// Decides whether an answer is the one the contract requires.
pub trait Judge<E>: Send + Sync + 'static {
    fn judge(&self, expected: &E, response: &Response) -> Result<(), Failure>;
    /// What an answer is checked for, in the report's words: a run that does not judge
    /// decisions must not read as if it had found none wrong.
    fn checks(&self) -> &'static str;
}

/// Accepts any answer whose HTTP status is the expected one.
#[derive(Debug, Clone, Copy)]
pub struct StatusJudge;

impl Judge<u16> for StatusJudge {
    fn checks(&self) -> &'static str {
        "the HTTP status only (replayed messages: no decision is judged)"
    }
    fn judge(&self, expected: &u16, r: &Response) -> Result<(), Failure> {
        if r.status == *expected {
            Ok(())
        } else {
            Err(Failure::new(
                ErrorKind::HttpStatus,
                format!("HTTP {} where {} was expected", r.status, expected),
            ))
        }
    }
}

/// Sends one fixed message again and again (a captured request, say), expecting one HTTP
/// status. Every copy carries the same MessageId, so past the first the gateway sees retries.
#[derive(Debug, Clone)]
pub struct Replay {
    pub content_type: String,
    pub body: Bytes,
    pub expect_status: u16,
}

impl RequestSource for Replay {
    type Expected = u16;
    fn next_request(&mut self) -> Option<Outgoing<u16>> {
        Some(Outgoing {
            content_type: self.content_type.clone(),
            body: self.body.clone(),
            expected: self.expect_status,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    Open { rate: f64, duration: Duration },
    Closed { concurrency: usize, requests: u64 },
}

impl Mode {
    /// How many requests the run is to send.
    pub fn planned(&self) -> u64 {
        match *self {
            Mode::Open { rate, duration } => (rate * duration.as_secs_f64()).floor() as u64,
            Mode::Closed { requests, .. } => requests,
        }
    }
}

#[derive(Debug, Clone)]
pub struct RunConfig {
    pub target: Url,
    pub mode: Mode,
    /// Open loop: most requests in flight at once.
    pub max_in_flight: usize,
    /// No request starts after this much time; the run ends at most one request timeout later.
    pub time_limit: Duration,
    /// Show a live progress bar on stderr.
    pub progress: bool,
    /// What is being sent, for the report.
    pub kind: String,
    /// Build every request before the clock starts, so that making them takes none of the
    /// machine while the gateway is measured (see [`MAX_BUILT_AHEAD`]).
    pub build_ahead: bool,
    /// Keep every answer and judge them all after the clock stops, so that judging takes none
    /// of the machine while the gateway is measured. Latency and throughput are those of the
    /// answers; errors and wrong decisions count as they would have.
    pub judge_after: bool,
}

/// Most requests a run builds ahead: they are held in memory (about 6 KB each for 5-item
/// permit requests).
pub const MAX_BUILT_AHEAD: u64 = 250_000;

/// Most answers a run keeps to judge after the clock stops: they are held in memory (about
/// 4 KB each for 5-item permit responses).
pub const MAX_JUDGED_AFTER: u64 = 250_000;

impl RunConfig {
    /// Refuses a run that would hold more in memory than these limits: every request built
    /// ahead ([`MAX_BUILT_AHEAD`]), every answer kept to be judged after the run
    /// ([`MAX_JUDGED_AFTER`]).
    pub fn check_memory(&self) -> Result<(), String> {
        let planned = self.mode.planned();
        if self.build_ahead && planned > MAX_BUILT_AHEAD {
            return Err(format!(
                "--build-ahead holds every request in memory: at most {MAX_BUILT_AHEAD} requests, and this run plans {planned}"
            ));
        }
        if self.judge_after && planned > MAX_JUDGED_AFTER {
            return Err(format!(
                "--judge-after holds every answer in memory: at most {MAX_JUDGED_AFTER} answers, and this run plans {planned}"
            ));
        }
        Ok(())
    }
}

/// The requests of a source, all built before the run.
struct BuiltAhead<E>(std::vec::IntoIter<Outgoing<E>>);

impl<E: Send + Sync + 'static> RequestSource for BuiltAhead<E> {
    type Expected = E;
    fn next_request(&mut self) -> Option<Outgoing<E>> {
        self.0.next()
    }
}

struct Sample<E> {
    second: usize,
    latency: Duration,
    status: Option<u16>,
    verdict: Verdict<E>,
}

/// What became of an answer: judged as it came, or kept to be judged after the run.
enum Verdict<E> {
    Judged(Result<(), Failure>),
    Kept(E, Response),
}

impl<E> Verdict<E> {
    /// Judges `answer` now, or keeps it when `later`; a request without an answer has failed.
    fn of<J: Judge<E> + ?Sized>(
        answer: Result<Response, Failure>,
        expected: E,
        judge: &J,
        later: bool,
    ) -> Self {
        match answer {
            Err(f) => Verdict::Judged(Err(f)),
            Ok(r) if later => Verdict::Kept(expected, r),
            Ok(r) => Verdict::Judged(judge.judge(&expected, &r)),
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

/// Sends one request and reads its answer.
async fn fetch<E>(
    client: &reqwest::Client,
    url: &Url,
    item: &Outgoing<E>,
) -> (Option<u16>, Result<Response, Failure>) {
    let resp = client
        .post(url.clone())
        .header(reqwest::header::CONTENT_TYPE, item.content_type.as_str())
        .header("SOAPAction", "\"ebXML\"")
        .body(item.body.clone())
        .send()
        .await;
    let resp = match resp {
        Ok(r) => r,
        Err(e) => {
            return (
                None,
                Err(Failure::new(ErrorKind::Transport, error_chain(&e))),
            )
        }
    };
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    match resp.bytes().await {
        Ok(body) => (
            Some(status),
            Ok(Response {
                status,
                content_type,
                body,
            }),
        ),
        Err(e) => (
            Some(status),
            Err(Failure::new(
                ErrorKind::Transport,
                format!("reading the body: {}", error_chain(&e)),
            )),
        ),
    }
}

fn progress_bar(enabled: bool, total: u64) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr_with_hz(5));
    pb.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{wide_bar}] {pos}/{len} {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    pb
}

/// An answer kept to be judged after the run, with where its sample belongs.
struct Kept<E> {
    second: usize,
    latency: Duration,
    status: Option<u16>,
    expected: E,
    response: Response,
}

/// Receives samples until every sender is gone, keeping the live progress up to date; returns
/// what it recorded and the answers kept for later.
async fn collect<E>(
    mut rx: mpsc::UnboundedReceiver<Sample<E>>,
    pb: ProgressBar,
    t0: Instant,
) -> (Recorder, Vec<Kept<E>>) {
    let mut rec = Recorder::new();
    let mut kept = Vec::new();
    let mut last = Instant::now();
    while let Some(s) = rx.recv().await {
        match s.verdict {
            Verdict::Judged(outcome) => rec.record(s.second, s.latency, s.status, outcome),
            Verdict::Kept(expected, response) => kept.push(Kept {
                second: s.second,
                latency: s.latency,
                status: s.status,
                expected,
                response,
            }),
        }
        pb.inc(1);
        if last.elapsed() >= Duration::from_millis(200) {
            last = Instant::now();
            let secs = t0.elapsed().as_secs_f64().max(1e-3);
            pb.set_message(format!(
                "{:.0} req/s  errors {}  p99 {:.1} ms",
                (rec.completed() + kept.len() as u64) as f64 / secs,
                rec.error_count(),
                rec.quantile_us(0.99) as f64 / 1000.0
            ));
        }
    }
    pb.finish_and_clear();
    (rec, kept)
}

/// Runs the load described by `cfg` and returns its report.
pub async fn run<S, J>(
    client: reqwest::Client,
    cfg: RunConfig,
    mut source: S,
    judge: Arc<J>,
) -> Report
where
    S: RequestSource,
    J: Judge<S::Expected>,
{
    if cfg.build_ahead {
        let n = cfg.mode.planned().min(MAX_BUILT_AHEAD) as usize;
        let built: Vec<_> = std::iter::from_fn(|| source.next_request())
            .take(n)
            .collect();
        let count = Some(built.len() as u64);
        return run_source(client, cfg, BuiltAhead(built.into_iter()), judge, count).await;
    }
    run_source(client, cfg, source, judge, None).await
}

/// A task that panicked (a request generator that cannot make what was asked, say) ends the
/// run with its panic: a report of what did get sent would look like a run that went well.
fn rethrow<T>(done: Result<T, tokio::task::JoinError>) {
    if let Err(e) = done {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

async fn run_source<S, J>(
    client: reqwest::Client,
    cfg: RunConfig,
    source: S,
    judge: Arc<J>,
    built_ahead: Option<u64>,
) -> Report
where
    S: RequestSource,
    J: Judge<S::Expected>,
{
    let planned = cfg.mode.planned();
    let cpu0 = own_cpu();
    let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let t0 = Instant::now();
    let deadline = t0 + cfg.time_limit;
    let (tx, rx) = mpsc::unbounded_channel();
    let collector = tokio::spawn(collect(rx, progress_bar(cfg.progress, planned), t0));
    let url = Arc::new(cfg.target.clone());
    let later = cfg.judge_after;
    let (sent, rate, concurrency, latency_from) = match cfg.mode {
        Mode::Open { rate, .. } => {
            let sent = open_loop(
                client,
                url,
                source,
                judge.clone(),
                later,
                tx,
                t0,
                deadline,
                rate,
                planned,
                cfg.max_in_flight,
            )
            .await;
            (
                sent,
                Some(rate),
                None,
                "intended send time (open loop, t0 + i/rate)",
            )
        }
        Mode::Closed {
            concurrency,
            requests,
        } => {
            let sent = closed_loop(
                client,
                url,
                source,
                judge.clone(),
                later,
                tx,
                t0,
                deadline,
                concurrency,
                requests,
            )
            .await;
            (
                sent,
                None,
                Some(concurrency),
                "actual send time (closed loop)",
            )
        }
    };
    let (mut rec, kept) = collector.await.expect("collector task does not panic");
    // An open loop's last request goes out at (n - 1) / rate: its run lasts n / rate at least,
    // or the throughput would come out above the rate offered.
    let elapsed = match cfg.mode {
        Mode::Open { rate, .. } if rate > 0.0 => t0
            .elapsed()
            .max(Duration::from_secs_f64(sent as f64 / rate)),
        _ => t0.elapsed(),
    };
    let own_cpu_s = cpu0
        .zip(own_cpu())
        .map(|(a, b)| b.saturating_sub(a).as_secs_f64());
    for k in kept {
        let outcome = judge.judge(&k.expected, &k.response);
        rec.record(k.second, k.latency, k.status, outcome);
    }
    let run = RunInfo {
        mode: match cfg.mode {
            Mode::Open { .. } => "open".into(),
            Mode::Closed { .. } => "closed".into(),
        },
        target: cfg.target.to_string(),
        kind: cfg.kind.clone(),
        rate,
        concurrency,
        planned,
        sent,
        started_at,
        latency_from: latency_from.into(),
        built_ahead,
        judged_after: later,
        checks: judge.checks().into(),
        own_cpu_s,
    };
    rec.finish(run, elapsed)
}

/// CPU time this process has used so far, all its threads together, those that ended
/// included (`CLOCK_PROCESS_CPUTIME_ID`). `None` where it is not read (not Linux).
#[cfg(target_os = "linux")]
fn own_cpu() -> Option<Duration> {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Some(Duration::new(
        u64::try_from(t.tv_sec).ok()?,
        u32::try_from(t.tv_nsec).ok()?,
    ))
}

#[cfg(not(target_os = "linux"))]
fn own_cpu() -> Option<Duration> {
    None
}

#[allow(clippy::too_many_arguments)]
async fn open_loop<S, J>(
    client: reqwest::Client,
    url: Arc<Url>,
    mut source: S,
    judge: Arc<J>,
    later: bool,
    tx: mpsc::UnboundedSender<Sample<S::Expected>>,
    t0: Instant,
    deadline: Instant,
    rate: f64,
    planned: u64,
    max_in_flight: usize,
) -> u64
where
    S: RequestSource,
    J: Judge<S::Expected>,
{
    let slots = Arc::new(Semaphore::new(max_in_flight.max(1)));
    let mut tasks = JoinSet::new();
    let mut sent = 0u64;
    for i in 0..planned {
        let intended = t0 + Duration::from_secs_f64(i as f64 / rate);
        if intended >= deadline {
            break;
        }
        let Some(item) = source.next_request() else {
            break;
        };
        tokio::time::sleep_until(intended).await;
        let slot = tokio::select! {
            s = slots.clone().acquire_owned() => s.expect("semaphore is never closed"),
            _ = tokio::time::sleep_until(deadline) => break,
        };
        sent += 1;
        let (client, url, judge, tx) = (client.clone(), url.clone(), judge.clone(), tx.clone());
        tasks.spawn(async move {
            let (status, answer) = fetch(&client, &url, &item).await;
            let latency = intended.elapsed();
            drop(slot);
            let _ = tx.send(Sample {
                second: (intended - t0).as_secs() as usize,
                latency,
                status,
                verdict: Verdict::of(answer, item.expected, judge.as_ref(), later),
            });
        });
        while let Some(done) = tasks.try_join_next() {
            rethrow(done);
        }
    }
    drop(tx);
    while let Some(done) = tasks.join_next().await {
        rethrow(done);
    }
    sent
}

#[allow(clippy::too_many_arguments)]
async fn closed_loop<S, J>(
    client: reqwest::Client,
    url: Arc<Url>,
    source: S,
    judge: Arc<J>,
    later: bool,
    tx: mpsc::UnboundedSender<Sample<S::Expected>>,
    t0: Instant,
    deadline: Instant,
    concurrency: usize,
    requests: u64,
) -> u64
where
    S: RequestSource,
    J: Judge<S::Expected>,
{
    let source = Arc::new(Mutex::new(source));
    let taken = Arc::new(AtomicU64::new(0));
    let sent = Arc::new(AtomicU64::new(0));
    let mut workers = JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let (client, url, judge, tx) = (client.clone(), url.clone(), judge.clone(), tx.clone());
        let (source, taken, sent) = (source.clone(), taken.clone(), sent.clone());
        workers.spawn(async move {
            loop {
                if Instant::now() >= deadline || taken.fetch_add(1, Ordering::Relaxed) >= requests {
                    break;
                }
                // A source that panicked poisons the lock: the next worker meets the same
                // panic (the run ends with it, whichever worker's is joined first).
                let item = source
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .next_request();
                let Some(item) = item else { break };
                sent.fetch_add(1, Ordering::Relaxed);
                let start = Instant::now();
                let (status, answer) = fetch(&client, &url, &item).await;
                let latency = start.elapsed();
                let _ = tx.send(Sample {
                    second: (start - t0).as_secs() as usize,
                    latency,
                    status,
                    verdict: Verdict::of(answer, item.expected, judge.as_ref(), later),
                });
            }
        });
    }
    drop(tx);
    while let Some(done) = workers.join_next().await {
        rethrow(done);
    }
    sent.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use axum::routing::post;

    use super::*;

    /// Yields `n` requests; request `i` expects HTTP 200 and carries `i` in its body.
    struct Counting {
        next: u64,
        n: u64,
    }

    impl RequestSource for Counting {
        type Expected = u16;
        fn next_request(&mut self) -> Option<Outgoing<u16>> {
            (self.next < self.n).then(|| {
                self.next += 1;
                Outgoing {
                    content_type: "text/xml".into(),
                    body: Bytes::from(self.next.to_string()),
                    expected: 200,
                }
            })
        }
    }

    /// A server that answers 503 to every body that is a multiple of 5, else 200, and counts.
    async fn server() -> (Url, Arc<AtomicUsize>) {
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        let app = axum::Router::new().route(
            "/ebms",
            post(move |body: String| {
                let h = h.clone();
                async move {
                    h.fetch_add(1, Ordering::SeqCst);
                    let n: u64 = body.parse().unwrap();
                    if n % 5 == 0 {
                        axum::http::StatusCode::SERVICE_UNAVAILABLE
                    } else {
                        axum::http::StatusCode::OK
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (format!("http://{addr}/ebms").parse().unwrap(), hits)
    }

    fn cfg(target: Url, mode: Mode) -> RunConfig {
        RunConfig {
            target,
            mode,
            max_in_flight: 8,
            time_limit: Duration::from_secs(60),
            progress: false,
            kind: "test".into(),
            build_ahead: false,
            judge_after: false,
        }
    }

    fn client() -> reqwest::Client {
        build_client(&TlsFiles::default(), 8, Duration::from_secs(10)).unwrap()
    }

    #[tokio::test]
    async fn closed_loop_sends_exactly_n_and_classifies_statuses() {
        let (url, hits) = server().await;
        let mode = Mode::Closed {
            concurrency: 4,
            requests: 50,
        };
        let source = Counting { next: 0, n: 1000 };
        let rep = run(client(), cfg(url, mode), source, Arc::new(StatusJudge)).await;
        assert_eq!(hits.load(Ordering::SeqCst), 50);
        assert_eq!((rep.run.sent, rep.completed), (50, 50));
        assert_eq!(rep.errors_by_kind["http_status"], 10);
        assert_eq!(rep.ok, 40);
        assert_eq!(rep.http_statuses["503"], 10);
        assert_eq!(rep.run.concurrency, Some(4));
    }

    /// Twenty requests sent one at a time and in an open loop with an option, then one at a
    /// time without it.
    fn with_and_without() -> [(Mode, bool); 3] {
        let closed = Mode::Closed {
            concurrency: 1,
            requests: 20,
        };
        let open = Mode::Open {
            rate: 200.0,
            duration: Duration::from_millis(100),
        };
        [(closed, true), (open, true), (closed, false)]
    }

    /// [`Counting`] that also counts the requests it has built.
    struct Watched(Counting, Arc<AtomicUsize>);

    impl RequestSource for Watched {
        type Expected = u16;
        fn next_request(&mut self) -> Option<Outgoing<u16>> {
            self.1.fetch_add(1, Ordering::SeqCst);
            self.0.next_request()
        }
    }

    /// Built ahead, every request of the run exists before the first one is sent; the run
    /// sends them all, in order, and judges each.
    #[tokio::test]
    async fn built_ahead_every_request_is_made_before_the_first_is_sent() {
        let built = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (b, s) = (built.clone(), seen.clone());
        let app = axum::Router::new().route(
            "/ebms",
            post(move |body: String| {
                let (b, s) = (b.clone(), s.clone());
                async move {
                    let n: u64 = body.parse().unwrap();
                    s.lock().unwrap().push((n, b.load(Ordering::SeqCst)));
                    axum::http::StatusCode::OK
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let url: Url = format!("http://{addr}/ebms").parse().unwrap();
        for (mode, ahead) in with_and_without() {
            built.store(0, Ordering::SeqCst);
            seen.lock().unwrap().clear();
            let cfg = RunConfig {
                build_ahead: ahead,
                ..cfg(url.clone(), mode)
            };
            let source = Watched(Counting { next: 0, n: 1000 }, built.clone());
            let rep = run(client(), cfg, source, Arc::new(StatusJudge)).await;
            let built = ahead.then_some(20);
            assert_eq!((rep.run.sent, rep.ok, rep.run.built_ahead), (20, 20, built));
            let mut seen = seen.lock().unwrap().clone();
            seen.sort();
            assert_eq!(
                seen.iter().map(|x| x.0).collect::<Vec<_>>(),
                (1..=20).collect::<Vec<_>>()
            );
            // Built ahead: all 20 before the first was sent; else one by one.
            let first_built = if ahead { 20 } else { 1 };
            assert_eq!(seen[0].1, first_built, "{mode:?}");
        }
    }

    /// [`StatusJudge`] that notes how many requests the server had answered at each judgement.
    struct Noting(Arc<AtomicUsize>, Mutex<Vec<usize>>);

    impl Judge<u16> for Noting {
        fn checks(&self) -> &'static str {
            StatusJudge.checks()
        }
        fn judge(&self, expected: &u16, r: &Response) -> Result<(), Failure> {
            self.1.lock().unwrap().push(self.0.load(Ordering::SeqCst));
            StatusJudge.judge(expected, r)
        }
    }

    /// Judged after the run, no answer is judged before the last was given, and each is
    /// judged as it would have been; judged as they come, the first is judged before the
    /// last request was answered.
    #[tokio::test]
    async fn answers_judged_after_the_run_are_judged_once_all_are_in() {
        let (url, hits) = server().await;
        for (mode, later) in with_and_without() {
            hits.store(0, Ordering::SeqCst);
            let judge = Arc::new(Noting(hits.clone(), Mutex::new(Vec::new())));
            let cfg = RunConfig {
                judge_after: later,
                ..cfg(url.clone(), mode)
            };
            let rep = run(client(), cfg, Counting { next: 0, n: 1000 }, judge.clone()).await;
            assert_eq!((rep.completed, rep.ok), (20, 16), "{mode:?}");
            assert_eq!(rep.errors_by_kind["http_status"], 4);
            assert_eq!(rep.run.judged_after, later);
            let noted = judge.1.lock().unwrap().clone();
            assert_eq!(noted.len(), 20);
            let first = if later { 20 } else { 1 };
            assert_eq!(noted[0], first, "{mode:?}");
        }
    }

    #[test]
    fn a_run_holds_at_most_so_many_requests_or_answers_in_memory() {
        fn check(build_ahead: bool, judge_after: bool, requests: u64, expected: Result<(), &str>) {
            let mode = Mode::Closed {
                concurrency: 1,
                requests,
            };
            let c = RunConfig {
                build_ahead,
                judge_after,
                ..cfg("http://127.0.0.1:9/ebms".parse().unwrap(), mode)
            };
            assert_eq!(
                c.check_memory().as_ref().map_err(String::as_str).copied(),
                expected,
                "{build_ahead} {judge_after} {requests}"
            );
        }
        check(false, false, 10_000_000, Ok(()));
        check(true, true, 250_000, Ok(()));
        check(
            true,
            false,
            250_001,
            Err("--build-ahead holds every request in memory: at most 250000 requests, and this run plans 250001"),
        );
        check(
            false,
            true,
            250_001,
            Err("--judge-after holds every answer in memory: at most 250000 answers, and this run plans 250001"),
        );
        // An open loop plans rate × duration.
        let open = RunConfig {
            judge_after: true,
            ..cfg(
                "http://127.0.0.1:9/ebms".parse().unwrap(),
                Mode::Open {
                    rate: 5000.0,
                    duration: Duration::from_secs(60),
                },
            )
        };
        assert!(open.check_memory().unwrap_err().contains("plans 300000"));
    }

    /// On Linux the process's CPU time is read, and grows while a thread works; a thread that
    /// ends keeps its time in it.
    #[cfg(target_os = "linux")]
    #[test]
    fn own_cpu_grows_while_a_thread_works() {
        let before = own_cpu().expect("the process CPU clock is readable on Linux");
        std::thread::spawn(|| {
            let started = std::time::Instant::now();
            while started.elapsed() < Duration::from_millis(5) {
                std::hint::black_box(started.elapsed());
            }
        })
        .join()
        .unwrap();
        assert!(
            own_cpu().unwrap() >= before + Duration::from_millis(2),
            "the ended thread's time is counted"
        );
        let before = own_cpu().unwrap();
        let started = std::time::Instant::now();
        let mut x = 0u64;
        while own_cpu().unwrap() < before + Duration::from_millis(2)
            && started.elapsed() < Duration::from_secs(20)
        {
            for i in 0..10_000u64 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
            }
        }
        assert!(
            own_cpu().unwrap() >= before + Duration::from_millis(2),
            "{x}"
        );
    }

    #[tokio::test]
    async fn open_loop_sends_rate_times_duration() {
        let (url, hits) = server().await;
        let mode = Mode::Open {
            rate: 400.0,
            duration: Duration::from_millis(100),
        };
        let source = Counting { next: 0, n: 1000 };
        let rep = run(client(), cfg(url, mode), source, Arc::new(StatusJudge)).await;
        assert_eq!(rep.run.planned, 40);
        assert_eq!(hits.load(Ordering::SeqCst), 40);
        assert_eq!(rep.completed, 40);
        assert!(rep.throughput_rps <= 400.0, "{}", rep.throughput_rps);
        assert_eq!(rep.errors_by_kind["http_status"], 8);
        assert_eq!(
            rep.run.latency_from,
            "intended send time (open loop, t0 + i/rate)"
        );
    }

    /// A source that cannot make a request: the generator's bug ends the run.
    struct Failing;

    impl RequestSource for Failing {
        type Expected = u16;
        fn next_request(&mut self) -> Option<Outgoing<u16>> {
            panic!("the model has nothing to make this from")
        }
    }

    #[tokio::test]
    #[should_panic(expected = "the model has nothing to make this from")]
    async fn a_source_that_panics_ends_the_run_with_its_panic() {
        let (url, _) = server().await;
        let mode = Mode::Closed {
            concurrency: 2,
            requests: 10,
        };
        run(client(), cfg(url, mode), Failing, Arc::new(StatusJudge)).await;
    }

    #[tokio::test]
    async fn a_source_that_runs_dry_ends_the_run() {
        let (url, hits) = server().await;
        let mode = Mode::Closed {
            concurrency: 3,
            requests: 100,
        };
        let rep = run(
            client(),
            cfg(url, mode),
            Counting { next: 0, n: 7 },
            Arc::new(StatusJudge),
        )
        .await;
        assert_eq!(hits.load(Ordering::SeqCst), 7);
        assert_eq!(rep.run.sent, 7);
    }

    #[tokio::test]
    async fn nobody_listening_is_a_transport_error() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let url: Url = format!("http://{addr}/ebms").parse().unwrap();
        let mode = Mode::Closed {
            concurrency: 2,
            requests: 6,
        };
        let rep = run(
            client(),
            cfg(url, mode),
            Counting { next: 0, n: 6 },
            Arc::new(StatusJudge),
        )
        .await;
        assert_eq!(rep.errors_by_kind["transport"], 6);
        assert!(
            rep.error_examples["transport"][0].contains("connect"),
            "{:?}",
            rep.error_examples
        );
    }

    #[tokio::test]
    async fn an_elapsed_time_limit_sends_nothing_more() {
        let (url, hits) = server().await;
        let mut c = cfg(
            url,
            Mode::Closed {
                concurrency: 2,
                requests: 100,
            },
        );
        c.time_limit = Duration::ZERO;
        let rep = run(
            client(),
            c,
            Counting { next: 0, n: 100 },
            Arc::new(StatusJudge),
        )
        .await;
        assert_eq!(hits.load(Ordering::SeqCst), 0);
        assert_eq!((rep.run.planned, rep.run.sent), (100, 0));
    }
}
