//! The command line: `serve`, `migrate`, `check-db`, `refdata load|check DIR`, `outbox list|show|replay|drop`, `certs dev DIR`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::app::{AppHandle, Application};
use crate::config::{ConfigError, Overrides, Settings};

#[derive(Debug, Parser)]
#[command(
    name = "nsw-gateway",
    version,
    about = "TISI import-permit gateway for the Thai National Single Window"
)]
pub struct Cli {
    /// Settings file (TOML). Without it, built-in development defaults apply.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Database URL (`sqlite://FILE` or `postgres://…`); overrides `database.url`.
    #[arg(long, global = true, value_name = "URL")]
    pub database: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway.
    Serve {
        /// Address of the ebMS listener; overrides `server.listen`.
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
        /// Address of the admin listener; overrides `admin.listen`.
        #[arg(long, value_name = "ADDR")]
        admin_listen: Option<String>,
        /// Address of the status API and page listener; overrides `api.listen`.
        #[arg(long, value_name = "ADDR")]
        api_listen: Option<String>,
    },
    /// Create or upgrade the database schema.
    Migrate,
    /// Check the database: on SQLite the structure of its pages and indexes and that every
    /// row's parent exists (its writer does not enforce foreign keys). Exits 1 on a problem.
    CheckDb,
    /// Reference data (standards, licences, laboratories, special-import purposes).
    Refdata {
        #[command(subcommand)]
        command: RefdataCommand,
    },
    /// The outbox of asynchronous deliveries: inspect, replay, drop.
    Outbox {
        #[command(subcommand)]
        command: OutboxCommand,
    },
    /// Certificates.
    Certs {
        #[command(subcommand)]
        command: CertsCommand,
    },
    /// API keys of importers and brokers for the status API.
    Apikey {
        #[command(subcommand)]
        command: crate::api::keys::ApikeyCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum RefdataCommand {
    /// Replace the stored reference data with the CSV files in DIR (one transaction).
    Load { dir: PathBuf },
    /// Validate the CSV files in DIR without loading them.
    Check { dir: PathBuf },
}

#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// List outbox rows, oldest first.
    List {
        /// Only rows in this state: PENDING, IN_FLIGHT, DONE, DEAD.
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Show one row: its state, audit trail and stored message.
    Show { id: i64 },
    /// Queue a DEAD (or DONE) row again.
    Replay {
        id: i64,
        /// Recorded in the audit trail (default: the user name).
        #[arg(long)]
        actor: Option<String>,
    },
    /// Take a row out of delivery for good.
    Drop {
        id: i64,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        actor: Option<String>,
    },
}

/// Runs an outbox command against a store; returns what to print.
pub async fn run_outbox(
    store: &crate::store::Store,
    cmd: &OutboxCommand,
) -> anyhow::Result<String> {
    use crate::delivery::ops;
    let who = |a: &Option<String>| a.clone().unwrap_or_else(crate::api::keys::cli_actor);
    match cmd {
        OutboxCommand::List { status, limit } => ops::list(store, status.as_deref(), *limit).await,
        OutboxCommand::Show { id } => ops::show(store, *id).await,
        OutboxCommand::Replay { id, actor } => ops::replay(store, *id, &who(actor)).await,
        OutboxCommand::Drop { id, reason, actor } => {
            ops::drop(store, *id, &who(actor), reason).await
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum CertsCommand {
    /// Write a development CA, a server certificate (localhost, 127.0.0.1) and a client
    /// certificate (CN NSW) into DIR.
    Dev { dir: PathBuf },
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn settings(
    cli: &Cli,
    listen: Option<String>,
    admin_listen: Option<String>,
    api_listen: Option<String>,
) -> Result<Settings, ConfigError> {
    let overrides = Overrides {
        listen,
        admin_listen,
        database: cli.database.clone(),
        api_listen,
    };
    Settings::load(cli.config.as_deref(), std::env::vars(), &overrides)
}

/// Runs one command.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Certs {
            command: CertsCommand::Dev { dir },
        } => {
            let out = crate::certs::write_dev_certs(dir)?;
            println!("wrote {}", dir.display());
            println!("  CA:     {}", out.ca_cert.display());
            println!(
                "  server: {} / {}",
                out.server_cert.display(),
                out.server_key.display()
            );
            println!(
                "  client: {} / {}",
                out.client_cert.display(),
                out.client_key.display()
            );
            println!();
            println!("client certificate SHA-256: {}", out.client_sha256);
            println!();
            println!("[tls]");
            println!("cert = {:?}", out.server_cert.display().to_string());
            println!("key = {:?}", out.server_key.display().to_string());
            println!("client_ca = {:?}", out.ca_cert.display().to_string());
            println!();
            println!("[[partners]]");
            println!("party_id = \"NSW\"");
            println!("cpa_id = \"NSW-TISI-PERMIT\"");
            println!("cert_sha256 = \"{}\"", out.client_sha256);
            println!("cert_subject_cn = \"NSW\"");
            println!("delivery_url = \"http://127.0.0.1:8090/ebms\"");
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve {
            listen,
            admin_listen,
            api_listen,
        } => {
            let settings = match settings(
                &cli,
                listen.clone(),
                admin_listen.clone(),
                api_listen.clone(),
            ) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("{e}");
                    return Ok(ExitCode::from(2));
                }
            };
            crate::telemetry::init_logging(&settings.log);
            tracing::info!(settings = ?settings, "starting");
            let app = Application::build(settings).await?;
            tracing::info!(
                port = app.port(),
                admin_port = app.admin_port(),
                api_port = app.api_port(),
                "listening"
            );
            tokio::spawn(forward_signals(app.handle()));
            app.run_until_stopped().await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Refdata {
            command: RefdataCommand::Check { dir },
        } => Ok(check_refdata(dir)),
        Command::Apikey { command } => {
            let Some(settings) = settings_or_report(&cli) else {
                return Ok(ExitCode::from(2));
            };
            crate::telemetry::init_logging(&settings.log);
            let store = crate::app::open_existing_store(&settings).await?;
            let code = crate::api::keys::run(&store, command).await;
            crate::app::close_store(&store).await;
            code
        }
        Command::Outbox { command } => {
            let Some(settings) = settings_or_report(&cli) else {
                return Ok(ExitCode::from(2));
            };
            crate::telemetry::init_logging(&settings.log);
            let store = crate::app::open_existing_store(&settings).await?;
            let done = run_outbox(&store, command).await;
            crate::app::close_store(&store).await;
            match done {
                Ok(text) => {
                    print!("{text}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("error: {e:#}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::Migrate => {
            let Some(settings) = settings_or_report(&cli) else {
                return Ok(ExitCode::from(2));
            };
            crate::telemetry::init_logging(&settings.log);
            crate::app::close_store(&crate::app::open_store(&settings).await?).await;
            println!(
                "database {} is up to date",
                settings.database.redacted_url()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::CheckDb => {
            let Some(settings) = settings_or_report(&cli) else {
                return Ok(ExitCode::from(2));
            };
            crate::telemetry::init_logging(&settings.log);
            let store = crate::app::open_existing_store(&settings).await?;
            let checked = store.check().await;
            crate::app::close_store(&store).await;
            let problems = checked.context("checking the database")?;
            let db = settings.database.redacted_url();
            if problems.is_empty() {
                if settings.database.is_sqlite() {
                    println!("database {db}: no problems found");
                } else {
                    println!("database {db}: PostgreSQL enforces the foreign keys itself");
                }
                return Ok(ExitCode::SUCCESS);
            }
            for p in &problems {
                eprintln!("{p}");
            }
            eprintln!("database {db}: {} problems", problems.len());
            Ok(ExitCode::FAILURE)
        }
        Command::Refdata {
            command: RefdataCommand::Load { dir },
        } => {
            let Some(settings) = settings_or_report(&cli) else {
                return Ok(ExitCode::from(2));
            };
            crate::telemetry::init_logging(&settings.log);
            let store = crate::app::open_store(&settings).await?;
            let loaded = crate::app::load_refdata_dir(&store, dir).await;
            crate::app::close_store(&store).await;
            match loaded {
                Ok(crate::app::LoadedDir { summary, .. }) => {
                    print!(
                        "loaded {} into {}\n{summary}",
                        dir.display(),
                        settings.database.redacted_url()
                    );
                    println!("running gateways pick it up on SIGHUP");
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("{e:#}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
    }
}

fn settings_or_report(cli: &Cli) -> Option<Settings> {
    match settings(cli, None, None, None) {
        Ok(s) => Some(s),
        Err(e) => {
            eprintln!("{e}");
            None
        }
    }
}

/// `refdata check DIR`: validates the files (every row, then the cross-checks) without
/// touching any database.
pub fn check_refdata(dir: &std::path::Path) -> ExitCode {
    let data = match crate::refdata::load_dir(dir) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let summary = crate::refdata::summary(&data);
    match crate::domain::snapshot::Snapshot::build(data) {
        Ok(_) => {
            print!("{} is valid\n{summary}", dir.display());
            ExitCode::SUCCESS
        }
        Err(errs) => {
            eprintln!("{} problem(s) in {}:", errs.len(), dir.display());
            for e in errs {
                eprintln!("  - {e}");
            }
            ExitCode::FAILURE
        }
    }
}

/// SIGTERM / Ctrl-C → graceful shutdown; SIGHUP → reload the TLS certificates and the
/// reference data.
async fn forward_signals(handle: AppHandle) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(term), Ok(hup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            tracing::error!("cannot install signal handlers");
            return;
        };
        let signals = futures_util::stream::unfold((term, hup), |(mut term, mut hup)| async move {
            let signal = tokio::select! {
                _ = term.recv() => Signal::Stop,
                _ = tokio::signal::ctrl_c() => Signal::Stop,
                _ = hup.recv() => Signal::Reload,
            };
            Some((signal, (term, hup)))
        });
        follow_signals(signals, || {
            let handle = handle.clone();
            async move {
                if let Err(e) = handle.reload_tls() {
                    tracing::error!(
                        error = format!("{e:#}"),
                        "TLS reload failed; the previous certificates stay in use"
                    );
                }
                if let Err(e) = handle.reload_refdata().await {
                    tracing::error!(
                        error = format!("{e:#}"),
                        "reference data reload failed; the previous data stays in use"
                    );
                }
            }
        })
        .await;
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("stop requested: finishing requests in flight");
    handle.shutdown();
}

/// What a signal asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Signal {
    Stop,
    Reload,
}

/// Runs a reload per `Reload` signal, one at a time, until a `Stop` (or the end of the
/// signals), which a running reload does not hold up: the reload is dropped and its snapshot
/// not put in use (its reading thread ends unheeded; on SQLite before its next part).
/// Reloads asked for while one runs are run once after it, since it may have read the files
/// and tables before they changed.
async fn follow_signals<S, R, F>(signals: S, reload: R)
where
    S: futures_util::Stream<Item = Signal>,
    R: Fn() -> F,
    F: std::future::Future<Output = ()>,
{
    use futures_util::StreamExt;
    tokio::pin!(signals);
    let mut running: Option<std::pin::Pin<Box<F>>> = None;
    let mut again = false;
    loop {
        tokio::select! {
            signal = signals.next() => match signal {
                None | Some(Signal::Stop) => return,
                Some(Signal::Reload) if running.is_some() => again = true,
                Some(Signal::Reload) => running = Some(Box::pin(reload())),
            },
            () = async { running.as_mut().expect("a reload runs").await }, if running.is_some() => {
                running = std::mem::take(&mut again).then(|| Box::pin(reload()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use tokio::sync::{mpsc, Semaphore};

    use super::{follow_signals, Signal};

    /// Signals sent one by one to `follow_signals`, whose reloads each wait for a permit of
    /// `gate`: how many reloads started after each step, and whether it returned.
    struct Run {
        signals: mpsc::Sender<Signal>,
        started: Arc<AtomicUsize>,
        gate: Arc<Semaphore>,
        done: tokio::task::JoinHandle<()>,
    }

    impl Run {
        fn new() -> Run {
            let (tx, rx) = mpsc::channel(16);
            let started = Arc::new(AtomicUsize::new(0));
            let gate = Arc::new(Semaphore::new(0));
            let (s, g) = (started.clone(), gate.clone());
            let signals = futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|s| (s, rx))
            });
            let done = tokio::spawn(follow_signals(signals, move || {
                let (s, g) = (s.clone(), g.clone());
                async move {
                    s.fetch_add(1, Ordering::SeqCst);
                    g.acquire().await.expect("gate").forget();
                }
            }));
            Run {
                signals: tx,
                started,
                gate,
                done,
            }
        }

        /// Sends `signal` and lets the loop run until it waits again.
        async fn send(&self, signal: Signal) {
            self.signals.send(signal).await.unwrap();
            settle().await;
        }

        async fn finish_a_reload(&self) {
            self.gate.add_permits(1);
            settle().await;
        }

        fn started(&self) -> usize {
            self.started.load(Ordering::SeqCst)
        }
    }

    async fn settle() {
        for _ in 0..16 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn reloads_run_one_at_a_time_and_once_more_for_those_asked_meanwhile() {
        let run = Run::new();
        run.send(Signal::Reload).await;
        assert_eq!(run.started(), 1);
        run.send(Signal::Reload).await;
        run.send(Signal::Reload).await;
        assert_eq!(run.started(), 1, "a second reload started while one ran");
        run.finish_a_reload().await;
        assert_eq!(
            run.started(),
            2,
            "the reloads asked for meanwhile run once after it"
        );
        run.finish_a_reload().await;
        assert_eq!(run.started(), 2);
        run.send(Signal::Reload).await;
        assert_eq!(run.started(), 3);
        assert!(!run.done.is_finished());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_stop_is_not_held_up_by_a_running_reload() {
        let run = Run::new();
        run.send(Signal::Reload).await;
        assert_eq!(run.started(), 1);
        run.send(Signal::Stop).await;
        assert!(run.done.is_finished(), "the stop waited for the reload");
        // The end of the signals stops as well.
        let run = Run::new();
        drop(run.signals);
        settle().await;
        assert!(run.done.is_finished());
    }
}
