//! Command-line entry point of mock-nsw.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};

use mock_nsw::ebms::Parties;
use mock_nsw::load::contract::{follow_ups, ContractJudge, DeclarationSource, PermitSource};
use mock_nsw::load::{self, Mode, RunConfig, TlsFiles};
use mock_nsw::{gen, scenario, serve};

// A load generator allocates a request and a response per exchange, on every thread.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "mock-nsw",
    version,
    about = "A simulator of the NSW side of the TISI permit gateway"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate reference-data CSV files (spec §7) for a given scale, deterministic per seed.
    GenData {
        /// Output directory (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Number of licences.
        #[arg(long, default_value_t = 1000)]
        licences: usize,
        /// Seed of the generator: the same seed gives byte-identical files.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The day the data is made for (YYYY-MM-DD); default: today (UTC).
        #[arg(long)]
        today: Option<String>,
    },
    /// Send load to a gateway and report latency and errors.
    Load(Box<LoadArgs>),
    /// Run the NSW's receiving endpoint for asynchronous replies, with fault injection.
    Serve(ServeArgs),
    /// Run a scripted end-to-end exchange against a gateway; exits non-zero on any deviation.
    Scenario(ScenarioArgs),
}

#[derive(Args)]
struct PartyArgs {
    /// The NSW's ebMS PartyId (From of every request).
    #[arg(long, default_value = "NSW")]
    from_party: String,
    /// The gateway's ebMS PartyId (To of every request).
    #[arg(long, default_value = "TISI")]
    to_party: String,
    /// The CPAId agreed for the NSW.
    #[arg(long, default_value = "NSW-TISI-PERMIT")]
    cpa_id: String,
}

impl PartyArgs {
    fn parties(&self) -> Parties {
        Parties {
            nsw: self.from_party.clone(),
            gateway: self.to_party.clone(),
            cpa_id: self.cpa_id.clone(),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Kind {
    /// ImportPermitRequests with the --mix of outcomes.
    Permit,
    /// DeclarationCheck write-offs against permits obtained in a warm-up phase.
    Declaration,
}

#[derive(Args)]
struct ScenarioArgs {
    /// The gateway's ebMS endpoint (loopback only unless --allow-non-loopback).
    #[arg(long)]
    target: String,
    /// Allow a --target host that is not a loopback address.
    #[arg(long)]
    allow_non_loopback: bool,
    /// The gateway's reference-data directory (a licence is picked from it).
    #[arg(long, default_value = "data/sample")]
    data: PathBuf,
    /// Total timeout of one request.
    #[arg(long, value_parser = parse_duration, default_value = "30s")]
    timeout: Duration,
    #[command(flatten)]
    tls: TlsArgs,
    #[command(flatten)]
    parties: PartyArgs,
}

#[derive(Args)]
struct LoadArgs {
    /// The gateway's ebMS endpoint, e.g. http://127.0.0.1:8080/ebms. Only loopback hosts are
    /// accepted unless --allow-non-loopback is given.
    #[arg(long)]
    target: String,
    /// Allow a --target host that is not a loopback address.
    #[arg(long)]
    allow_non_loopback: bool,
    /// Open loop: requests per second, sent on schedule whatever the answers.
    #[arg(long, requires = "duration", conflicts_with_all = ["concurrency", "requests"])]
    rate: Option<f64>,
    /// Open loop: how long to send (e.g. 30s, 2m, 500ms).
    #[arg(long, value_parser = parse_duration, requires = "rate")]
    duration: Option<Duration>,
    /// Closed loop: concurrent connections, each waiting for its answer before sending again.
    #[arg(long, requires = "requests")]
    concurrency: Option<usize>,
    /// Closed loop: total requests to send.
    #[arg(long, requires = "concurrency")]
    requests: Option<u64>,
    /// Open loop: most requests in flight at once.
    #[arg(long, default_value_t = 4096)]
    max_in_flight: usize,
    /// Total timeout of one request.
    #[arg(long, value_parser = parse_duration, default_value = "30s")]
    timeout: Duration,
    /// Hard bound on the run: no request starts after it (default: the open-loop duration plus
    /// 10 s, or 10 minutes for a closed loop).
    #[arg(long, value_parser = parse_duration)]
    max_time: Option<Duration>,
    #[command(flatten)]
    tls: TlsArgs,
    /// No progress bar (it is also off when stderr is not a terminal).
    #[arg(long)]
    quiet: bool,
    /// Write report.json, report.md and latency.svg here.
    #[arg(long)]
    report_dir: Option<PathBuf>,
    /// A directory written by `mock-nsw gen-data` and loaded by the gateway: requests are
    /// generated from the same model (rebuilt from its manifest).
    #[arg(long, required_unless_present = "body")]
    data: Option<PathBuf>,
    /// What to send.
    #[arg(long, value_enum, default_value = "permit")]
    kind: Kind,
    /// Shares of outcome classes of the permit requests.
    #[arg(long, default_value = "approve=70,reject=20,review=5,inspect=5")]
    mix: String,
    /// Goods items per approvable, inspected or referred request (rejected requests keep
    /// 1–6); by default 1–20 for licensed requests.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=999))]
    items: Option<u16>,
    /// Share of messages that are retries of a recent one (same MessageId, same bytes), as
    /// `5%` or `0.05`.
    #[arg(long, value_parser = parse_share, default_value = "0")]
    duplicates: f64,
    /// Seed of request generation (the same seed gives the same requests).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Send without SyncReply: each request must get 202 (the decision goes to the
    /// asynchronous endpoint).
    #[arg(long)]
    no_sync_reply: bool,
    /// --kind declaration: permit requests sent first to obtain permits to declare against.
    #[arg(long, default_value_t = 200)]
    warmup: u64,
    #[command(flatten)]
    parties: PartyArgs,
    /// Replay this captured message file instead of generating requests.
    #[arg(
        long,
        conflicts_with_all = ["data", "kind", "mix", "items", "duplicates", "seed", "no_sync_reply", "warmup"]
    )]
    body: Option<PathBuf>,
    /// Content-Type of the --body file.
    #[arg(long, default_value = "text/xml; charset=utf-8")]
    content_type: String,
    /// HTTP status expected for each --body replay.
    #[arg(long, default_value_t = 200)]
    expect_status: u16,
    /// Build every request before the clock starts (they are held in memory), so that making
    /// them takes no CPU from the gateway while it is measured (--kind declaration: each phase
    /// before it starts).
    #[arg(long)]
    build_ahead: bool,
    /// Keep every answer and judge them all after the clock stops (they are held in memory: at
    /// most 250,000), so that judging takes no CPU from the gateway while it is measured.
    /// Errors and wrong decisions are counted all the same.
    #[arg(long)]
    judge_after: bool,
}

#[derive(Args)]
struct TlsArgs {
    /// PEM CA certificate(s) to trust for the gateway's server certificate (replaces the
    /// built-in roots).
    #[arg(long)]
    ca: Option<PathBuf>,
    /// PEM client certificate (chain) for mutual TLS.
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// PEM private key of --cert.
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
}

impl TlsArgs {
    fn files(&self) -> TlsFiles {
        TlsFiles {
            ca: self.ca.clone(),
            cert: self.cert.clone(),
            key: self.key.clone(),
        }
    }
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
    /// Path of the ebMS endpoint.
    #[arg(long, default_value = "/ebms")]
    path: String,
    /// Share of messages answered with 503 (0..1).
    #[arg(long, default_value_t = 0.0)]
    fail_rate: f64,
    /// Share of messages whose connection is closed without an answer (0..1).
    #[arg(long, default_value_t = 0.0)]
    drop_connection_rate: f64,
    /// Milliseconds added before every answer.
    #[arg(long, default_value_t = 0)]
    latency: u64,
    /// Answer the next N messages with 503 (also settable at run time:
    /// POST /control/fail-next?n=N).
    #[arg(long, default_value_t = 0)]
    fail_next: u64,
    /// Seed of the fault injector.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Append every accepted message as a JSON line to this file.
    #[arg(long)]
    record: Option<PathBuf>,
}

/// Parses a share: `5%` or `0.05` (0..=1).
fn parse_share(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let v = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|v| v / 100.0),
        None => t.parse::<f64>(),
    }
    .map_err(|_| format!("'{s}' is not a share such as 5% or 0.05"))?;
    if !(0.0..=1.0).contains(&v) {
        return Err(format!("'{s}' must be between 0% and 100%"));
    }
    Ok(v)
}

/// Parses `500ms`, `30s`, `2m`, `1h`, or a plain number of seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let (num, unit) = match t.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => (&t[..i], &t[i..]),
        None => (t, "s"),
    };
    let v: f64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a duration such as 500ms, 30s, 2m"))?;
    let secs = match unit {
        "ms" => v / 1000.0,
        "s" => v,
        "m" => v * 60.0,
        "h" => v * 3600.0,
        _ => return Err(format!("'{s}': unit must be ms, s, m or h")),
    };
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("'{s}' is not a duration"));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn parse_today(s: Option<&str>) -> anyhow::Result<NaiveDate> {
    match s {
        Some(s) => nsw_gateway::domain::parse_date(s).with_context(|| format!("--today {s}")),
        None => Ok(chrono::Utc::now().date_naive()),
    }
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::GenData {
            out,
            licences,
            seed,
            today,
        } => gen_data(out, licences, seed, today.as_deref()),
        Command::Load(args) => runtime()?.block_on(load_cmd(*args)),
        Command::Serve(args) => runtime()?.block_on(serve_cmd(args)),
        Command::Scenario(args) => runtime()?.block_on(scenario_cmd(args)),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn gen_data(out: PathBuf, licences: usize, seed: u64, today: Option<&str>) -> anyhow::Result<()> {
    let started = Instant::now();
    let cfg = gen::GenConfig {
        licences,
        seed,
        today: parse_today(today)?,
    };
    let model = gen::Model::generate(&cfg);
    if let Some(why) = model.unusable() {
        bail!("--licences {licences} is too few: {why}; give more");
    }
    let written = gen::write_csv(&model, &out)?;
    eprintln!(
        "wrote {} standards, {} licences, {} labs, {} special purposes to {} in {:.2?}",
        written.standards,
        written.licences,
        written.labs,
        written.special_purposes,
        out.display(),
        started.elapsed()
    );
    Ok(())
}

fn mode_of(args: &LoadArgs) -> anyhow::Result<Mode> {
    match (args.rate, args.duration, args.concurrency, args.requests) {
        (Some(rate), Some(duration), None, None) => {
            if !(rate.is_finite() && rate > 0.0) {
                bail!("--rate {rate} must be a positive number of requests per second");
            }
            Ok(Mode::Open { rate, duration })
        }
        (None, None, Some(concurrency), Some(requests)) => {
            if concurrency == 0 {
                bail!("--concurrency must be at least 1");
            }
            Ok(Mode::Closed {
                concurrency,
                requests,
            })
        }
        _ => bail!("give either --rate R --duration D (open loop) or --concurrency C --requests N (closed loop)"),
    }
}

async fn load_cmd(args: LoadArgs) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let target = load::check_target(&args.target, args.allow_non_loopback)?;
    let mode = mode_of(&args)?;
    let pool = match mode {
        Mode::Open { .. } => args.max_in_flight,
        Mode::Closed { concurrency, .. } => concurrency,
    };
    let client = load::build_client(&args.tls.files(), pool, args.timeout)?;
    let time_limit = args.max_time.unwrap_or(match mode {
        Mode::Open { duration, .. } => duration + Duration::from_secs(10),
        Mode::Closed { .. } => Duration::from_secs(600),
    });
    let cfg = RunConfig {
        target,
        mode,
        max_in_flight: args.max_in_flight,
        time_limit,
        progress: !args.quiet && std::io::stderr().is_terminal(),
        kind: String::new(),
        build_ahead: args.build_ahead,
        judge_after: args.judge_after,
    };
    cfg.check_memory().map_err(|e| anyhow::anyhow!(e))?;
    if let Some(body) = &args.body {
        let bytes =
            std::fs::read(body).with_context(|| format!("reading --body {}", body.display()))?;
        let source = load::Replay {
            content_type: args.content_type.clone(),
            body: bytes.into(),
            expect_status: args.expect_status,
        };
        let cfg = RunConfig {
            kind: format!("replay of {}", body.display()),
            ..cfg
        };
        let report = load::run(client, cfg, source, Arc::new(load::StatusJudge)).await;
        return finish_report(&report, args.report_dir.as_deref());
    }
    let dir = args.data.as_deref().context("--data DIR is required")?;
    let manifest = gen::read_manifest(dir)?;
    let model = Arc::new(gen::Model::generate(&manifest));
    if let Some(why) = model.unusable() {
        bail!(
            "--data {}: {why}; generate it with more (mock-nsw gen-data --licences N)",
            dir.display()
        );
    }
    let mix = gen::Mix::parse(&args.mix).map_err(|e| anyhow::anyhow!(e))?;
    let sync = !args.no_sync_reply;
    let parties = args.parties.parties();
    // References and declaration numbers of this run (the gateway remembers earlier runs').
    let tag = mock_nsw::ebms::run_tag();
    let report = match args.kind {
        Kind::Permit => {
            let source = PermitSource::new(
                with_items(
                    gen::RequestGen::new(model, args.seed, mix).with_tag(&tag),
                    args.items,
                ),
                parties,
                args.seed,
                sync,
                args.duplicates,
            );
            let judge = Arc::new(ContractJudge::new(sync, false, args.duplicates > 0.0));
            let cfg = RunConfig {
                kind: "ImportPermitRequest".into(),
                ..cfg
            };
            load::run(client, cfg, source, judge).await
        }
        Kind::Declaration => {
            if !sync {
                bail!(
                    "--kind declaration needs synchronous replies (the permits come back in them)"
                );
            }
            let approve = gen::Mix {
                approve: 1,
                reject: 0,
                review: 0,
                inspect: 0,
            };
            let warm_source = PermitSource::new(
                with_items(
                    gen::RequestGen::new(model, args.seed, approve).with_tag(&format!("{tag}W")),
                    args.items,
                ),
                parties.clone(),
                args.seed,
                true,
                0.0,
            );
            let warm_judge = Arc::new(ContractJudge::new(true, true, false));
            let warm_cfg = RunConfig {
                mode: Mode::Closed {
                    concurrency: pool.min(32),
                    requests: args.warmup,
                },
                kind: "ImportPermitRequest (warm-up)".into(),
                ..cfg.clone()
            };
            let warm = load::run(client.clone(), warm_cfg, warm_source, warm_judge.clone()).await;
            let permits = warm_judge.take_permits();
            eprintln!(
                "warm-up: {} permit requests, {} errors, {} permits obtained",
                warm.completed,
                warm.errors,
                permits.len()
            );
            if permits.is_empty() {
                println!("{}", warm.to_markdown());
                bail!("the warm-up obtained no permit to declare against");
            }
            let source = DeclarationSource::new(
                permits,
                args.seed,
                &tag,
                manifest.today,
                parties.clone(),
                true,
                args.duplicates,
            );
            let ledger = source.ledger();
            let judge = Arc::new(ContractJudge::new(true, false, args.duplicates > 0.0));
            let decl_cfg = RunConfig {
                kind: "DeclarationCheck".into(),
                ..cfg.clone()
            };
            let report = load::run(client.clone(), decl_cfg, source, judge).await;
            // Follow-up, each phase after the previous one was fully answered: cancel the first
            // write-off of every permit, then query every permit's quantities.
            let ledger = ledger.lock().expect("ledger").clone();
            let phases = match follow_ups(&report.run, &ledger, args.seed, &parties) {
                Ok(phases) => phases,
                Err(cut_short) => {
                    finish_report(&report, args.report_dir.as_deref())?;
                    bail!(cut_short);
                }
            };
            let mut follow_up_errors = 0;
            for (name, source) in phases {
                let n = source.len() as u64;
                let phase_cfg = RunConfig {
                    mode: Mode::Closed {
                        concurrency: pool.clamp(1, 8),
                        requests: n,
                    },
                    kind: name.into(),
                    ..cfg.clone()
                };
                let judge = Arc::new(ContractJudge::new(true, false, false));
                let r = load::run(client.clone(), phase_cfg, source, judge).await;
                eprintln!("follow-up: {} {name}, {} errors", r.completed, r.errors);
                for (kind, examples) in &r.error_examples {
                    for e in examples {
                        eprintln!("  {kind}: {e}");
                    }
                }
                follow_up_errors += r.errors;
            }
            finish_report(&report, args.report_dir.as_deref())?;
            if follow_up_errors > 0 {
                bail!("{follow_up_errors} follow-up requests (amendments, status queries) failed");
            }
            return Ok(());
        }
    };
    finish_report(&report, args.report_dir.as_deref())
}

fn finish_report(
    report: &mock_nsw::report::Report,
    dir: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    println!("{}", report.to_markdown());
    if let Some(dir) = dir {
        report.write_all(dir)?;
        eprintln!("report written to {}", dir.display());
    }
    if report.errors > 0 {
        bail!("{} of {} requests failed", report.errors, report.completed);
    }
    if report.run.planned == 0 {
        bail!("nothing was planned: the rate times the duration is less than one request");
    }
    if report.completed == 0 {
        bail!("no request completed");
    }
    Ok(())
}

async fn serve_cmd(args: ServeArgs) -> anyhow::Result<()> {
    let faults = serve::FaultConfig {
        fail_rate: args.fail_rate,
        drop_rate: args.drop_connection_rate,
        latency: Duration::from_millis(args.latency),
        fail_next: args.fail_next,
        seed: args.seed,
    };
    faults.validate()?;
    if !args.path.starts_with('/') {
        bail!("--path '{}' must start with '/'", args.path);
    }
    let mut state = serve::ServeState::new(faults, Box::new(serve::WireInspector), &args.path);
    if let Some(rec) = &args.record {
        state = state.with_record_file(rec)?;
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    tracing::info!(
        "mock-nsw receiving endpoint on http://{}{} (control: /control/stats, /control/fail-next?n=N)",
        listener.local_addr()?,
        args.path
    );
    serve::run(listener, Arc::new(state), async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}

async fn scenario_cmd(args: ScenarioArgs) -> anyhow::Result<()> {
    let target = load::check_target(&args.target, args.allow_non_loopback)?;
    let client = load::build_client(&args.tls.files(), 1, args.timeout)?;
    let report = scenario::run(client, target, &args.data, args.parties.parties()).await?;
    print!("{}", report.render());
    if !report.ok() {
        bail!("the gateway deviated from the contract");
    }
    Ok(())
}

fn with_items(g: gen::RequestGen, items: Option<u16>) -> gen::RequestGen {
    match items {
        Some(n) => g.with_items(usize::from(n)),
        None => g,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares() {
        assert_eq!(parse_share("5%"), Ok(0.05));
        assert_eq!(parse_share("0.05"), Ok(0.05));
        assert_eq!(parse_share("0"), Ok(0.0));
        assert!(parse_share("150%")
            .unwrap_err()
            .contains("between 0% and 100%"));
        assert!(parse_share("lots").unwrap_err().contains("not a share"));
    }

    #[test]
    fn durations() {
        let check = |s: &str, want: Result<f64, &str>| match (parse_duration(s), want) {
            (Ok(d), Ok(w)) => assert!((d.as_secs_f64() - w).abs() < 1e-9, "{s}: {d:?}"),
            (Err(e), Err(w)) => assert!(e.contains(w), "{s}: {e}"),
            (got, want) => panic!("{s}: got {got:?}, want {want:?}"),
        };
        check("500ms", Ok(0.5));
        check("30s", Ok(30.0));
        check("30", Ok(30.0));
        check("2m", Ok(120.0));
        check("1.5h", Ok(5400.0));
        check("3d", Err("unit must be"));
        check("fast", Err("not a duration"));
    }

    /// A replayed file is sent as it is: the generator's options are refused with it.
    #[test]
    fn body_replays_take_no_generator_options() {
        let base = [
            "mock-nsw",
            "load",
            "--target",
            "http://127.0.0.1:1/ebms",
            "--body",
            "m.xml",
            "--concurrency",
            "1",
            "--requests",
            "1",
        ];
        assert!(Cli::try_parse_from(base).is_ok());
        for extra in [
            &["--seed", "9"][..],
            &["--mix", "approve=100"],
            &["--items", "5"],
            &["--duplicates", "5%"],
            &["--kind", "declaration"],
            &["--no-sync-reply"],
            &["--warmup", "3"],
            &["--data", "gen"],
        ] {
            let args = base.iter().chain(extra.iter());
            let e = Cli::try_parse_from(args).err().expect("refused");
            assert!(
                e.to_string().contains("cannot be used with"),
                "{extra:?}: {e}"
            );
        }
    }
}
