//! The application: binds its listeners at build time (port 0 in tests) and serves until
//! stopped through its [`AppHandle`].

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Settings;
use crate::domain::snapshot::Snapshot;
use crate::http::admin::{self, AdminState, BoxFuture, NotReady, Probe};
use crate::http::protect::{InFlight, RateLimits};
use crate::http::reference::Reference;
use crate::http::serve::{self, ConnectionLimits, Shutdown};
use crate::http::tls::{self, TlsReloader};
use crate::http::{self as web, AppState};
use crate::store::postgres::PgStore;
use crate::store::sqlite::SqliteStore;
use crate::store::{OutboxFigures, Replaced, StatusMark, Store, StoreError};

/// A gateway instance with its listeners bound.
pub struct Application {
    settings: Arc<Settings>,
    listener: TcpListener,
    admin_listener: TcpListener,
    api_listener: TcpListener,
    router: Router,
    admin_router: Router,
    api_router: Router,
    api_limits: Arc<crate::api::ApiLimits>,
    /// The outbox worker, built (its HTTP client, certificates and partners' URLs checked)
    /// before the application counts as built; `None` with `delivery.enabled = false`.
    delivery: Option<crate::delivery::DeliveryWorker>,
    handle: AppHandle,
}

/// Controls a running application: stop it, reload its certificates, watch its load.
#[derive(Clone)]
pub struct AppHandle {
    shutdown: Shutdown,
    tls: Option<Arc<TlsReloader>>,
    in_flight: InFlight,
    room: Arc<serve::Room>,
    store: Store,
    reference: Arc<Reference>,
}

impl AppHandle {
    /// Stops accepting connections; requests in flight finish; `run_until_stopped` returns.
    pub fn shutdown(&self) {
        self.shutdown.trigger();
    }

    /// Re-reads the TLS certificate, key and client CA files; new connections use them.
    /// Without TLS there is nothing to reload.
    pub fn reload_tls(&self) -> anyhow::Result<()> {
        match &self.tls {
            Some(t) => t.reload(),
            None => Ok(()),
        }
    }

    /// Re-reads the reference data from the store and swaps the snapshot used for decisions
    /// (after `nsw-gateway refdata load`).
    pub async fn reload_refdata(&self) -> anyhow::Result<()> {
        let (snapshot, mark) = self
            .store
            .load_snapshot()
            .await
            .context("reading the stored reference data")?
            .ok_or_else(|| anyhow::anyhow!("the store holds no reference data"))?;
        let snapshot = snapshot.map_err(|errs| inconsistent(&errs))?;
        self.reference.replace(snapshot, mark);
        tracing::info!("reference data reloaded");
        Ok(())
    }

    /// The store this application uses.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The number of requests being processed, as a watch.
    pub fn in_flight(&self) -> watch::Receiver<usize> {
        self.in_flight.watch()
    }

    /// The number of ebMS connections waiting for a slot (`server.max_connections`), as a
    /// watch.
    pub fn connections_waiting(&self) -> watch::Receiver<usize> {
        self.room.waiting()
    }
}

/// Readiness: the store answers and reference data is loaded.
struct StoreProbe {
    store: Store,
    reference: Arc<Reference>,
    settings: Arc<Settings>,
}

impl Probe for StoreProbe {
    fn ready(&self) -> BoxFuture<'_, Result<(), NotReady>> {
        Box::pin(async {
            self.store.ping().await.map_err(|e| NotReady {
                shown: "store unavailable",
                detail: e.to_string(),
            })?;
            if !self.reference.is_loaded() {
                return Err(NotReady {
                    shown: "no reference data loaded",
                    detail: "load it with `nsw-gateway refdata load`, then send SIGHUP".into(),
                });
            }
            Ok(())
        })
    }
    fn writer(&self) -> Option<crate::telemetry::WriterFigures> {
        match &self.store {
            Store::Sqlite(s) => Some(crate::telemetry::WriterFigures {
                transactions: s.stats().batches(),
                jobs: s.stats().jobs(),
                reruns: s.stats().reruns(),
                wal_copies: s.stats().wal_catch_ups(),
            }),
            Store::Postgres(_) => None,
        }
    }
    fn outbox(&self) -> BoxFuture<'_, Option<OutboxFigures>> {
        Box::pin(async {
            if let Err(e) = web::operator::record_overdue(&self.store, &self.settings).await {
                tracing::warn!(error = %e, "overdue review items unavailable");
            }
            match self.store.outbox_figures(chrono::Utc::now()).await {
                Ok(f) => Some(f),
                Err(e) => {
                    tracing::warn!(error = %e, "outbox figures unavailable");
                    None
                }
            }
        })
    }
}

/// Connections the kernel completes and queues for the partners' listener before the accept
/// loop takes them (capped by `net.core.somaxconn`). The standard 128 overflows when a
/// partner opens hundreds of connections at once: the kernel then drops their handshakes and
/// the client retries only after one, three, seven seconds.
const LISTEN_BACKLOG: u32 = 4096;

fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Closes the store when the process is done with it (the end of a command, the gateway's
/// stop): on SQLite every commit is then in the database file, and the next start finds no
/// WAL to copy first. A failure is logged: what is committed stays committed.
pub async fn close_store(store: &Store) {
    if let Err(e) = store.close().await {
        tracing::warn!(error = %e, "closing the database");
    }
}

/// Opens the store named in the settings and brings its schema up to date.
pub async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    let db = &settings.database;
    let opened = if db.is_sqlite() {
        SqliteStore::connect(&db.url, db.sqlite_writer_cpu)
            .await
            .map(Store::Sqlite)
    } else {
        match db.url.parse::<sqlx::postgres::PgConnectOptions>() {
            Ok(options) => PgStore::connect_with(options, db.max_connections)
                .await
                .map(Store::Postgres),
            Err(e) => Err(StoreError::Config(e.to_string())),
        }
    };
    let store = match opened {
        Ok(store) => store,
        // A problem that names its setting itself (the writer's CPU, say).
        Err(StoreError::Config(e)) if e.starts_with("database.") => anyhow::bail!(e),
        Err(e) => {
            return Err(e)
                .with_context(|| format!("database.url: cannot open {}", db.redacted_url()))
        }
    };
    store
        .migrate()
        .await
        .with_context(|| format!("database.url: cannot migrate {}", db.redacted_url()))?;
    Ok(store)
}

/// [`open_store`] for the commands that look at or change what a gateway stored (outbox, API
/// keys, checks): an SQLite file that does not exist is an error naming `database.url`, not a
/// new empty database that would answer "nothing here".
pub async fn open_existing_store(settings: &Settings) -> anyhow::Result<Store> {
    if let Some(path) = settings.database.sqlite_path() {
        if !path.exists() {
            anyhow::bail!(
                "database.url: there is no database at {} (`nsw-gateway migrate` creates one, \
                 and so does `serve`)",
                path.display()
            );
        }
    }
    open_store(settings).await
}

/// Reference data loaded from a directory into the store.
pub struct LoadedDir {
    /// What the store now holds.
    pub snapshot: Snapshot,
    /// The last licence status change the stored data includes.
    pub mark: StatusMark,
    /// What was loaded, for a person.
    pub summary: String,
}

/// Loads the reference data of a directory, checks it, and replaces the stored reference data
/// with it in one transaction.
pub async fn load_refdata_dir(store: &Store, dir: &Path) -> anyhow::Result<LoadedDir> {
    let data = crate::refdata::load_dir(dir).map_err(|e| anyhow::anyhow!("{e}"))?;
    let summary = crate::refdata::summary(&data);
    let snapshot = Snapshot::build_from(&data).map_err(|errs| {
        anyhow::anyhow!(
            "{} problem(s) in the reference data of {}; nothing was loaded:\n{}",
            errs.len(),
            dir.display(),
            errs.iter()
                .map(|e| format!("  - {e}"))
                .collect::<Vec<_>>()
                .join("\n")
        )
    })?;
    let Replaced { kept, mark } = store
        .replace_refdata(Arc::new(data), chrono::Utc::now())
        .await
        .context("storing the reference data")?;
    if kept.is_empty() {
        return Ok(LoadedDir {
            snapshot,
            mark,
            summary,
        });
    }
    for k in &kept {
        tracing::warn!(
            licence = %k.number,
            status = k.status.code(),
            since = %k.since,
            "a licence status set through the admin API is newer than the loaded record and stays"
        );
    }
    // The snapshot is what the store now holds: the loaded data with the statuses kept.
    let mut snapshot = snapshot;
    for k in &kept {
        snapshot = snapshot
            .with_licence_status(&k.number, k.status, k.since)
            .map_err(|e| inconsistent(&[e]))?;
    }
    let summary = format!(
        "{summary}; {} licence status(es) set through the admin API kept over the loaded ones",
        kept.len()
    );
    Ok(LoadedDir {
        snapshot,
        mark,
        summary,
    })
}

/// The error for stored reference data that does not make a snapshot, naming every problem.
fn inconsistent(errs: &[impl std::fmt::Display]) -> anyhow::Error {
    anyhow::anyhow!(
        "the stored reference data is inconsistent: {}",
        errs.iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("; ")
    )
}

/// The snapshot of the stored reference data; seeded from `seed_dir` when the store has none.
async fn initial_snapshot(
    store: &Store,
    seed_dir: Option<&Path>,
) -> anyhow::Result<Option<(Snapshot, StatusMark)>> {
    match store
        .load_snapshot()
        .await
        .context("reading the stored reference data")?
    {
        Some((loaded, mark)) => {
            let snapshot = loaded.map_err(|errs| inconsistent(&errs))?;
            Ok(Some((snapshot, mark)))
        }
        None => match seed_dir {
            Some(dir) => {
                let LoadedDir {
                    snapshot,
                    mark,
                    summary,
                } = load_refdata_dir(store, dir)
                    .await
                    .with_context(|| format!("refdata.seed_dir: {}", dir.display()))?;
                tracing::warn!(
                    dir = %dir.display(),
                    summary = %summary.trim_end().replace('\n', "; "),
                    "the store had no reference data: seeded it from files"
                );
                Ok(Some((snapshot, mark)))
            }
            None => {
                tracing::error!(
                    "no reference data: import permit requests are answered 503 until \
                     `nsw-gateway refdata load DIR` has been run and the gateway reloaded (SIGHUP)"
                );
                Ok(None)
            }
        },
    }
}

impl Application {
    /// Checks the TLS files, binds both listeners and prepares the routers.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        tls::install_crypto_provider();
        let settings = Arc::new(settings);
        let tls = match &settings.tls {
            Some(t) => Some(Arc::new(
                TlsReloader::new(t.clone()).context("TLS configuration")?,
            )),
            None => None,
        };
        let listener = listen(settings.server.listen).with_context(|| {
            format!("server.listen: cannot listen on {}", settings.server.listen)
        })?;
        let admin_listener = TcpListener::bind(settings.admin.listen)
            .await
            .with_context(|| format!("admin.listen: cannot listen on {}", settings.admin.listen))?;
        let api_listener = TcpListener::bind(settings.api.listen)
            .await
            .with_context(|| format!("api.listen: cannot listen on {}", settings.api.listen))?;
        if !settings.api.listen.ip().is_loopback() {
            tracing::warn!(
                listen = %settings.api.listen,
                "the status API listens in plain HTTP beyond loopback: put a TLS-terminating \
                 proxy in front of it"
            );
        }
        let local = listener.local_addr()?;
        match &settings.tls {
            None => tracing::warn!(
                listen = %local,
                "DEVELOPMENT MODE: plain HTTP without TLS; partners are NOT authenticated and \
                 traffic is NOT encrypted. Configure [tls] for anything but development."
            ),
            Some(t) if t.client_ca.is_none() => tracing::warn!(
                listen = %local,
                bound_partners = settings.partners.iter().filter(|p| !p.cert.is_empty()).count(),
                "TLS without client certificates: partners are identified by their ebMS \
                 header only and certificate bindings are not checked. Configure \
                 tls.client_ca for mutual TLS."
            ),
            Some(_) => tracing::info!(listen = %local, "HTTPS with required client certificates"),
        }

        let store = open_store(&settings).await?;
        let delivery = if settings.delivery.enabled {
            Some(
                crate::delivery::DeliveryWorker::new(store.clone(), &settings)
                    .context("delivery settings")?,
            )
        } else {
            None
        };
        let reference = Arc::new(Reference::new(
            initial_snapshot(&store, settings.refdata.seed_dir.as_deref()).await?,
        ));

        let shutdown = Shutdown::new();
        let in_flight = InFlight::new(settings.server.max_in_flight, settings.server.retry_after);
        let state = AppState {
            settings: settings.clone(),
            rate_limits: Arc::new(RateLimits::new(&settings.partners)),
            store: store.clone(),
            reference: reference.clone(),
        };
        let router = web::router(state, in_flight.clone());
        let admin_router = admin::router(AdminState {
            metrics: crate::telemetry::metrics_handle(),
            probe: Arc::new(StoreProbe {
                store: store.clone(),
                reference: reference.clone(),
                settings: settings.clone(),
            }),
            token: settings.admin.token.clone(),
            shutdown: shutdown.clone(),
        })
        .merge(web::operator::router(web::operator::OperatorState {
            store: store.clone(),
            admin_token: settings.admin.token.clone(),
            officers: Arc::new(settings.officers.clone()),
            reference: reference.clone(),
            settings: settings.clone(),
        }));
        let api_limits = Arc::new(crate::api::ApiLimits::new(&settings.api));
        let api_router = crate::api::router(crate::api::ApiState {
            store: store.clone(),
            limits: api_limits.clone(),
        });
        Ok(Application {
            settings,
            listener,
            admin_listener,
            api_listener,
            router,
            admin_router,
            api_router,
            api_limits,
            delivery,
            handle: AppHandle {
                shutdown,
                tls,
                in_flight,
                room: Arc::new(serve::Room::new("ebms")),
                store,
                reference,
            },
        })
    }

    /// The bound address of the ebMS listener.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn admin_port(&self) -> u16 {
        self.admin_addr().port()
    }

    /// The bound address of the status API and page listener.
    pub fn api_addr(&self) -> SocketAddr {
        self.api_listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn api_port(&self) -> u16 {
        self.api_addr().port()
    }

    pub fn handle(&self) -> AppHandle {
        self.handle.clone()
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Serves until the handle's `shutdown` is called, then lets requests in flight finish.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let Application {
            settings,
            listener,
            admin_listener,
            api_listener,
            router,
            admin_router,
            api_router,
            api_limits,
            delivery,
            handle,
        } = self;
        let shutdown = handle.shutdown.clone();

        let delivery = match delivery {
            Some(worker) => Some(tokio::spawn(worker.run(shutdown.wait()))),
            None => {
                tracing::warn!(
                    "delivery.enabled = false: the outbox is not delivered by this instance"
                );
                None
            }
        };

        if let Some(tls) = handle.tls.clone() {
            tokio::spawn(watch_certificates(
                tls,
                settings
                    .tls
                    .as_ref()
                    .map(|t| t.reload_interval)
                    .unwrap_or(Duration::from_secs(5)),
                shutdown.clone(),
            ));
        }

        let admin_stop = shutdown.wait();
        let admin = tokio::spawn(async move {
            axum::serve(admin_listener, admin_router)
                .with_graceful_shutdown(admin_stop)
                .await
        });

        let limits = ConnectionLimits {
            max_connections: settings.server.max_connections,
            handshake_timeout: settings.server.handshake_timeout,
            drain_timeout: settings.server.request_timeout + Duration::from_secs(5),
        };
        // The importers' API faces the same clients as any web service: the same bounds on
        // connections and on the time to send a request's head as the partners' listener.
        let api = tokio::spawn(serve::serve(
            api_listener,
            None,
            api_router,
            limits,
            Arc::new(serve::Room::new("api")),
            shutdown.clone(),
        ));
        tokio::spawn(forget_quiet_callers(api_limits, shutdown.clone()));

        serve::serve(
            listener,
            handle.tls.clone(),
            router,
            limits,
            handle.room.clone(),
            shutdown.clone(),
        )
        .await;
        shutdown.trigger();
        admin
            .await
            .context("admin listener task")?
            .context("admin listener")?;
        api.await.context("status API listener task")?;
        if let Some(mut task) = delivery {
            // A round in progress finishes (bounded by the delivery timeout); what it could
            // not record stays leased and is taken up again after the lease expires.
            let grace = settings.delivery.timeout + Duration::from_secs(5);
            if tokio::time::timeout(grace, &mut task).await.is_err() {
                task.abort();
                tracing::warn!(
                    "the delivery worker did not stop in time; its leased rows will be retried"
                );
            }
        }
        close_store(&handle.store).await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Lets the status API's keyed rate limiters forget callers that went quiet.
async fn forget_quiet_callers(limits: Arc<crate::api::ApiLimits>, shutdown: Shutdown) {
    let stop = shutdown.wait();
    tokio::pin!(stop);
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = tick.tick() => limits.retain_recent(),
        }
    }
}

/// Polls the certificate files and reloads them when they change.
async fn watch_certificates(tls: Arc<TlsReloader>, every: Duration, shutdown: Shutdown) {
    let stop = shutdown.wait();
    tokio::pin!(stop);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The last failure, said once: the files are read again at every tick until they change.
    let mut failing: Option<String> = None;
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = tick.tick() => match tls.reload_if_changed() {
                Ok(_) => failing = None,
                Err(e) => {
                    let e = format!("{e:#}");
                    if failing.as_ref() != Some(&e) {
                        tracing::error!(error = %e, "TLS reload failed; the previous certificates stay in use");
                        failing = Some(e);
                    }
                }
            },
        }
    }
}
