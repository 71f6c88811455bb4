//! SQLite backend: one writer task with group commit, and a pool of read-only connections.
//!
//! The writer runs on a thread of its own (a single-threaded runtime): each step of a job
//! waits for SQLite, and SQLite's answer wakes that thread at once instead of queueing behind
//! the HTTP tasks of the shared runtime. The writer does not checkpoint the WAL; a connection
//! of its own does, beside it ([`SqliteStore::checkpoint`], every [`CHECKPOINT_EVERY`]). Under
//! sustained load that checkpoint never catches up with the writer, and SQLite starts the WAL
//! over only when a write transaction begins with every frame checkpointed; so once the WAL
//! is longer than [`WAL_RESTART_FRAMES`], the writer copies the last frames itself, between
//! two transactions, and the WAL starts over instead of growing without end. Every job waits
//! while the writer copies and syncs, so the checkpoint passes again first, until few frames
//! came in during its last pass (`after_pass`).
//!
//! Every write is a job sent to the writer task over a bounded channel. The writer takes the
//! jobs that are queued (up to [`MAX_BATCH`]; under load, those that arrived while the previous
//! batch ran), runs them in one `BEGIN IMMEDIATE` transaction, commits, and only then answers
//! each job. Jobs that can run again (the messages) run without savepoints; when one fails,
//! the transaction is rolled back and the batch runs again with a `SAVEPOINT` per job, as
//! other batches do, so that a failing job rolls back only itself and gets its own error. A
//! job runs its statements in few round trips to the connection's thread ([`Conn::script`]).
//! Durability is WAL with `synchronous=NORMAL`: a committed transaction survives a process
//! crash.
//!
//! The writer's connection does not enforce foreign keys, and its scripts write `OR FAIL`
//! ([`super::sql::anonymous_params`]). Every row it writes refers to a row that the same
//! transaction read or wrote, by a key it looked up there; no job deletes a row that others
//! refer to. Enforced, SQLite looked up the parent of every row again, and a statement that
//! writes several rows of a table with foreign keys or constraints could fail halfway, so it
//! first copied every page it changed into a statement journal: together a seventh of
//! SQLite's work for a permit request. A failing statement's first rows are taken back by
//! the job's savepoint or the batch's rollback instead. PostgreSQL, which runs the same
//! statements, enforces the keys, and `nsw-gateway check-db` runs SQLite's
//! `foreign_key_check` ([`SqliteStore::check`]).

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use futures_util::TryStreamExt;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{Arguments, Connection, Either, Executor, Sqlite, SqliteConnection};
use tokio::sync::{mpsc, oneshot};

use super::sql::{anonymous_params, args, map_err, Conn, Dialect, Done, Row, Stmt, Ty, V};
use super::{common, Ctx, MessageMeta, Outcome, StoreError};
use crate::domain::{InboundDocument, PermitStatusQuery, PermitStatusResponse, RefData};

/// Most jobs committed in one transaction.
pub const MAX_BATCH: usize = 256;
/// Jobs waiting for the writer before senders wait (back-pressure).
const QUEUE: usize = 4096;
const READERS: u32 = 4;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

type JobResult = Result<Box<dyn Any + Send>, StoreError>;
type JobFuture<'c> = Pin<Box<dyn Future<Output = JobResult> + Send + 'c>>;
type OnceFn = Box<dyn for<'c> FnOnce(&'c mut WriterConn) -> JobFuture<'c> + Send>;
type AgainFn = Box<dyn for<'c> Fn(&'c mut WriterConn) -> JobFuture<'c> + Send>;

/// What a job does on the writer's connection.
enum Work {
    /// Runs once: the batch gives it a savepoint of its own.
    Once(Option<OnceFn>),
    /// Can run again from the start. A batch of such jobs runs without savepoints (SQLite
    /// copies every page a savepoint's statements change first, a twentieth of the
    /// instructions of a permit request); when one of them fails, the batch is rolled back and
    /// runs again with them.
    Again(AgainFn),
}

/// A job's future with its result's type erased, as the writer keeps it.
fn erased<'c, T: Send + 'static>(
    fut: Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'c>>,
) -> JobFuture<'c> {
    Box::pin(async move { fut.await.map(|v| Box::new(v) as Box<dyn Any + Send>) })
}

impl Work {
    fn call<'c>(&mut self, c: &'c mut WriterConn) -> JobFuture<'c> {
        match self {
            Work::Once(f) => match f.take() {
                Some(f) => f(c),
                None => Box::pin(async {
                    Err(StoreError::Database(
                        "a job that runs once ran again".into(),
                    ))
                }),
            },
            Work::Again(f) => f(c),
        }
    }
}

/// The writer's connection as its jobs see it. The transaction statements the writer owes
/// (`BEGIN IMMEDIATE`, the previous job's `RELEASE SAVEPOINT`, this job's `SAVEPOINT`) wait in
/// `prefix` and go to SQLite in front of the job's first statement, in the same round trip.
pub(crate) struct WriterConn {
    conn: SqliteConnection,
    prefix: Vec<&'static str>,
    /// Whether the job sent the prefix (it ran at least one statement).
    sent: bool,
    /// A prefix statement failed: the transaction can no longer be trusted.
    prefix_failed: Option<StoreError>,
    /// Statements the job owes the database, sent in front of its next ones (the permit
    /// serial counter's updates).
    owed: Vec<Stmt>,
    serials: Serials,
    /// Round trips to SQLite's thread since the writer last counted them.
    trips: u64,
    /// Whether the writer shares its CPU with SQLite's thread (see [`Caller::Writer`]).
    shares_cpu: bool,
    /// The job runs without a savepoint, and its batch runs again with them if it fails
    /// ([`Work::Again`]).
    unguarded: bool,
    /// How many of its own statements the job's last script completed before the error that
    /// stopped it.
    done_before_error: Option<usize>,
}

/// How many times a job that conflicts (and recorded nothing) is run
/// ([`SqliteStore::write_again`]).
const WRITE_ATTEMPTS: u32 = 5;

/// Permit serials drawn by the writer without a round trip. The `counters` row stays the
/// record: it is read once per transaction (under the write lock, so another process that
/// draws serials is seen), and every serial handed out raises it (`MAX`) in the job that uses
/// it. A serial whose job or transaction is rolled back is skipped, never handed out again.
#[derive(Debug, Default)]
struct Serials {
    /// The next serial to hand out, once read in this transaction.
    next: i64,
    /// The last licence status change stored, read with the serial.
    last_status: i64,
    read_in_this_transaction: bool,
}

impl WriterConn {
    /// Reads, once per transaction (under the write lock), the permit serial counter and the
    /// last licence status change stored.
    async fn read_counters(&mut self) -> Result<(), StoreError> {
        if self.serials.read_in_this_transaction {
            return Ok(());
        }
        let done = self
            .with_prefix(vec![Stmt::rows(
                "SELECT value, (SELECT COALESCE(MAX(id), 0) FROM licence_status_audit) \
                 FROM counters WHERE name = 'permit_serial'",
                Vec::new(),
                &[Ty::I64, Ty::I64],
            )])
            .await?;
        let row = done
            .first()
            .and_then(|d| d.rows.first())
            .ok_or_else(|| StoreError::Corrupt("the permit serial counter is missing".into()))?;
        self.serials.next = self.serials.next.max(row.i64(0)? + 1);
        self.serials.last_status = row.i64(1)?;
        self.serials.read_in_this_transaction = true;
        Ok(())
    }

    fn caller(&self) -> Caller {
        Caller::Writer {
            shares_cpu: self.shares_cpu,
        }
    }

    /// Readies the connection for the next job of a batch, `prefix` in front of its first
    /// statement. What a failed job still owed belongs to its rolled-back work.
    fn start_job(&mut self, prefix: &[&'static str]) {
        self.prefix.clear();
        self.prefix.extend_from_slice(prefix);
        self.sent = false;
        self.prefix_failed = None;
        self.owed.clear();
    }

    /// Runs `stmts` behind the pending prefix and what the job owes, and returns what the
    /// job's own statements returned.
    async fn with_prefix(&mut self, stmts: Vec<Stmt>) -> Result<Vec<Done>, StoreError> {
        self.done_before_error = None;
        let k = if self.sent { 0 } else { self.prefix.len() };
        self.sent = true;
        if k == 0 && self.owed.is_empty() {
            if stmts.is_empty() {
                return Ok(Vec::new());
            }
            self.trips += 1;
            let (done, err) = if stmts.len() == 1 {
                match self.conn.script(stmts).await {
                    Ok(done) => (done, None),
                    Err(e) => (Vec::new(), Some(e)),
                }
            } else {
                let caller = self.caller();
                run_script(&mut self.conn, stmts, caller).await
            };
            return match err {
                Some(e) => {
                    self.done_before_error = Some(done.len());
                    Err(e)
                }
                None => Ok(done),
            };
        }
        self.trips += 1;
        let mut all: Vec<Stmt> = self.prefix[self.prefix.len() - k..]
            .iter()
            .map(|sql| Stmt::exec(*sql, Vec::new()))
            .collect();
        let owed = self.owed.len();
        all.append(&mut self.owed);
        all.extend(stmts);
        let caller = self.caller();
        let (done, err) = run_script(&mut self.conn, all, caller).await;
        if let Some(e) = err {
            if done.len() < k {
                self.prefix_failed = Some(e.clone());
            }
            self.done_before_error = done.len().checked_sub(k + owed);
            return Err(e);
        }
        Ok(done.into_iter().skip(k + owed).collect())
    }
}

impl Conn for WriterConn {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    async fn exec(&mut self, sql: &str, args: Vec<V>) -> Result<u64, StoreError> {
        self.with_prefix(Vec::new()).await?;
        self.trips += 1;
        self.conn.exec(sql, args).await
    }

    async fn rows(&mut self, sql: &str, args: Vec<V>, cols: &[Ty]) -> Result<Vec<Row>, StoreError> {
        self.with_prefix(Vec::new()).await?;
        self.trips += 1;
        self.conn.rows(sql, args, cols).await
    }

    async fn script(&mut self, stmts: Vec<Stmt>) -> Result<Vec<Done>, StoreError> {
        self.with_prefix(stmts).await
    }

    async fn next_serial(&mut self) -> Result<u32, StoreError> {
        self.read_counters().await?;
        let n = self.serials.next;
        let serial = u32::try_from(n)
            .ok()
            .filter(|s| *s <= crate::domain::PermitNumber::MAX_SERIAL)
            .ok_or_else(|| StoreError::Database(format!("permit serial {n} is out of range")))?;
        self.serials.next = n + 1;
        self.owed.push(Stmt::exec(
            "UPDATE counters SET value = MAX(value, $1) WHERE name = 'permit_serial'",
            args![n],
        ));
        Ok(serial)
    }

    async fn last_status_mark(&mut self) -> Result<Option<super::StatusMark>, StoreError> {
        self.read_counters().await?;
        Ok(Some(super::StatusMark(self.serials.last_status)))
    }

    fn local_serials(&self) -> bool {
        true
    }

    fn runs_again_on_failure(&self) -> bool {
        self.unguarded
    }

    fn done_before_error(&self) -> Option<usize> {
        self.done_before_error
    }

    async fn each_row<F>(
        &mut self,
        sql: &str,
        args: Vec<V>,
        cols: &[Ty],
        f: F,
    ) -> Result<(), StoreError>
    where
        F: FnMut(Row) -> Result<(), StoreError> + Send,
    {
        self.with_prefix(Vec::new()).await?;
        self.trips += 1;
        self.conn.each_row(sql, args, cols, f).await
    }
}

struct Job {
    work: Work,
    reply: oneshot::Sender<JobResult>,
    /// When it was submitted: the writer reports how long each job waited for it.
    queued: std::time::Instant,
}

/// Counters of the writer, for metrics and tests.
#[derive(Debug, Default)]
pub struct WriterStats {
    batches: AtomicU64,
    jobs: AtomicU64,
    round_trips: AtomicU64,
    wal_catch_ups: AtomicU64,
    reruns: AtomicU64,
    /// Set by a checkpoint that found the WAL longer than [`WAL_RESTART_FRAMES`]: the writer
    /// checkpoints the last frames before its next transaction.
    wal_catch_up_wanted: AtomicBool,
    /// Jobs whose submission completed, and jobs the writer took from its queue. Tests wait on
    /// their difference: a job holding a place in the queue (its channel permit) may not be in
    /// it yet, and the writer would not find it there.
    #[cfg(test)]
    submitted: std::sync::atomic::AtomicUsize,
    #[cfg(test)]
    taken: std::sync::atomic::AtomicUsize,
}

impl WriterStats {
    /// Transactions committed by the writer.
    pub fn batches(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }
    /// Jobs committed by the writer.
    pub fn jobs(&self) -> u64 {
        self.jobs.load(Ordering::Relaxed)
    }
    /// Round trips to SQLite's thread (each one a hand-off between threads and back).
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }
    /// Checkpoints the writer ran itself so that the WAL could start over.
    pub fn wal_catch_ups(&self) -> u64 {
        self.wal_catch_ups.load(Ordering::Relaxed)
    }
    /// Batches run without savepoints that a failing job sent back to run with them.
    pub fn reruns(&self) -> u64 {
        self.reruns.load(Ordering::Relaxed)
    }
    /// Adds the writer's round trips, before the jobs they served are answered.
    fn count_trips(&self, w: &mut WriterConn) {
        self.round_trips
            .fetch_add(std::mem::take(&mut w.trips), Ordering::Relaxed);
    }
}

#[derive(Clone)]
pub struct SqliteStore {
    jobs: mpsc::Sender<Job>,
    readers: SqlitePool,
    options: Arc<SqliteConnectOptions>,
    stats: Arc<WriterStats>,
    /// The connection that checkpoints the WAL.
    checkpoints: Arc<tokio::sync::Mutex<SqliteConnection>>,
    writer_cpu: Option<usize>,
}

/// What a checkpoint found: the WAL's frames, and how many of them are in the database file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalCheckpoint {
    pub frames: i64,
    pub checkpointed: i64,
}

impl SqliteStore {
    pub async fn connect(url: &str, cpu: WriterCpu) -> Result<Self, StoreError> {
        Self::connect_with(url, Some(CHECKPOINT_EVERY), cpu).await
    }

    /// Connects; `checkpoint_every` is how often a background task checkpoints the WAL (`None`:
    /// only when [`SqliteStore::checkpoint`] is called).
    pub(crate) async fn connect_with(
        url: &str,
        checkpoint_every: Option<Duration>,
        cpu: WriterCpu,
    ) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("{url}: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            .statement_cache_capacity(1024)
            // Savepoints' sub-journals and temporary tables in memory, not in temporary files.
            .pragma("temp_store", "MEMORY");
        let path = options.get_filename().to_path_buf();
        if path.as_os_str().is_empty()
            || url.contains(":memory:")
            || url.contains("mode=memory")
            || path.to_string_lossy().contains(":memory:")
        {
            return Err(StoreError::Config(format!(
                "{url}: an in-memory SQLite database cannot be shared by the writer and the readers; give a file path"
            )));
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Unavailable(format!("creating directory {}: {e}", dir.display()))
            })?;
        }
        let checkpoints = Arc::new(tokio::sync::Mutex::new(
            SqliteConnection::connect_with(&options)
                .await
                .map_err(map_err)?,
        ));
        let readers = SqlitePoolOptions::new()
            .max_connections(READERS)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options.clone().read_only(true))
            .await
            .map_err(map_err)?;
        let (jobs, rx) = mpsc::channel(QUEUE);
        let stats = Arc::new(WriterStats::default());
        // The writer runs on a thread of its own: every step of a job waits for SQLite's
        // answer, and an answer must not queue behind the HTTP tasks of the shared runtime.
        // No I/O driver: parked, the thread sleeps on a futex instead of in epoll, and
        // SQLite's answers wake it more cheaply.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .map_err(|e| StoreError::Unavailable(format!("starting the SQLite writer: {e}")))?;
        let writer_stats = stats.clone();
        // The writer does not checkpoint: a checkpoint copies pages into the database file and
        // syncs it, and the writer would wait for the disk with every job queued behind it.
        // A connection of its own does it (`checkpointer`).
        // Nor does it enforce foreign keys (see the module's documentation).
        let writer_options = options
            .clone()
            .pragma("wal_autocheckpoint", "0")
            .foreign_keys(false);
        let (started, ready) = oneshot::channel();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                runtime.block_on(async move {
                    // Pinned before it connects: sqlx starts SQLite's thread for the connection
                    // from here, and that thread inherits the CPU.
                    let opened = match pin_current_thread(cpu) {
                        Ok(pinned) => SqliteConnection::connect_with(&writer_options)
                            .await
                            .map(|conn| (conn, pinned))
                            .map_err(map_err),
                        Err(e) => Err(e),
                    };
                    match opened {
                        Ok((conn, pinned)) => {
                            let _ = started.send(Ok(pinned));
                            writer_loop(conn, rx, writer_stats, pinned.is_some()).await;
                        }
                        Err(e) => {
                            let _ = started.send(Err(e));
                        }
                    }
                })
            })
            .map_err(|e| StoreError::Unavailable(format!("starting the SQLite writer: {e}")))?;
        let writer_cpu = ready.await.map_err(|_| {
            StoreError::Unavailable("the SQLite writer stopped while it started".into())
        })??;
        if let Some(cpu) = writer_cpu {
            tracing::debug!(
                cpu,
                "the SQLite writer and SQLite's thread for it run on one CPU"
            );
        }
        if let Some(every) = checkpoint_every {
            tokio::spawn(checkpointer(
                checkpoints.clone(),
                stats.clone(),
                every,
                jobs.downgrade(),
            ));
        }
        Ok(Self {
            jobs,
            checkpoints,
            readers,
            options: Arc::new(options),
            stats,
            writer_cpu,
        })
    }

    pub fn stats(&self) -> &WriterStats {
        &self.stats
    }

    /// The CPU the writer and SQLite's thread for it are pinned to, if any.
    pub fn writer_cpu(&self) -> Option<usize> {
        self.writer_cpu
    }

    /// Copies the WAL's committed pages into the database file (`PASSIVE`: it neither blocks
    /// the writer nor waits for readers; pages a reader may still need stay in the WAL). When
    /// the WAL is longer than [`WAL_RESTART_FRAMES`], it copies again while the writer appended
    /// many frames meanwhile (`after_pass`), and the writer finishes the job before its next
    /// transaction.
    pub async fn checkpoint(&self) -> Result<WalCheckpoint, StoreError> {
        checkpoint(&self.checkpoints, &self.stats).await
    }

    /// For a process that is done with the store (the end of a command, the gateway's
    /// shutdown): closes the readers, then copies every frame of the WAL into the database file
    /// and truncates the WAL (`TRUNCATE`, which waits up to the busy timeout for a transaction
    /// in progress). The database file alone then holds every commit, and the next start finds
    /// no WAL to copy first: a reference-data load leaves hundreds of megabytes in it.
    pub async fn close(&self) -> Result<(), StoreError> {
        self.readers.close().await;
        let mut conn = self.checkpoints.lock().await;
        let (busy, done) = wal_checkpoint(&mut conn, "PRAGMA wal_checkpoint(TRUNCATE)").await?;
        if busy {
            return Err(StoreError::Unavailable(format!(
                "the WAL could not be copied into the database file: a connection still uses it \
                 ({} of {} frames copied)",
                done.checkpointed, done.frames
            )));
        }
        Ok(())
    }

    pub async fn migrate(&self) -> Result<(), StoreError> {
        // The writer's connection is busy with its own transactions: migrate on a separate
        // one (the busy timeout makes it wait for the writer).
        let mut conn = SqliteConnection::connect_with(&self.options)
            .await
            .map_err(map_err)?;
        let r = MIGRATOR
            .run(&mut conn)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()));
        let _ = conn.close().await;
        r
    }

    /// What SQLite's own checks find wrong with the database: `PRAGMA quick_check` (the
    /// structure of its pages and indexes) and `PRAGMA foreign_key_check` (rows whose parent
    /// is missing; the writer does not enforce foreign keys). Empty when it is sound.
    pub async fn check(&self) -> Result<Vec<String>, StoreError> {
        let mut c = self.readers.acquire().await.map_err(map_err)?;
        let mut problems = Vec::new();
        for r in &c
            .rows("PRAGMA quick_check", Vec::new(), &[Ty::Text])
            .await?
        {
            let found = r.text(0)?;
            if found != "ok" {
                problems.push(found);
            }
        }
        let orphans = c
            .rows(
                "PRAGMA foreign_key_check",
                Vec::new(),
                &[Ty::Text, Ty::I64, Ty::Text, Ty::I64],
            )
            .await?;
        for r in &orphans {
            problems.push(format!(
                "{} row {}: no row in {} for its foreign key {}",
                r.text(0)?,
                r.opt_i64(1)?
                    .map_or_else(|| "?".to_string(), |id| id.to_string()),
                r.text(2)?,
                r.i64(3)?
            ));
        }
        Ok(problems)
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        if self.jobs.is_closed() {
            return Err(StoreError::Unavailable(
                "the SQLite writer has stopped".into(),
            ));
        }
        let mut c = self.readers.acquire().await.map_err(map_err)?;
        c.one_row("SELECT 1", args_none(), &[Ty::I64]).await?;
        Ok(())
    }

    /// Runs `f` as one job of a group-committed transaction; answers after COMMIT.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(
                &'c mut WriterConn,
            )
                -> Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'c>>
            + Send
            + 'static,
    {
        let work: OnceFn = Box::new(move |c: &mut WriterConn| erased(f(c)));
        self.submit(Work::Once(Some(work))).await
    }

    /// Runs `f` as one job of a group-committed transaction, like [`SqliteStore::write`]; `f`
    /// may be run more than once, each time in a transaction of its own of which only the
    /// last commits ([`Work::Again`]), and again as a job of its own while it conflicts (it
    /// recorded nothing: a decision whose snapshot was behind the stored licence statuses,
    /// which has caught up since), as PostgreSQL's transactions are run again.
    pub(crate) async fn write_again<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> Fn(
                &'c mut WriterConn,
            )
                -> Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'c>>
            + Send
            + Sync
            + 'static,
    {
        let f = Arc::new(f);
        let mut attempts = 0;
        loop {
            let g = f.clone();
            let work: AgainFn = Box::new(move |c: &mut WriterConn| erased(g(c)));
            attempts += 1;
            match self.submit(Work::Again(work)).await {
                Err(StoreError::Conflict(e)) if attempts < WRITE_ATTEMPTS => {
                    tracing::debug!(error = %e, attempts, "the job runs again");
                }
                out => return out,
            }
        }
    }

    async fn submit<T: 'static>(&self, work: Work) -> Result<T, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.jobs
            .send(Job {
                work,
                reply,
                queued: std::time::Instant::now(),
            })
            .await
            .map_err(|_| StoreError::Unavailable("the SQLite writer has stopped".into()))?;
        #[cfg(test)]
        self.stats.submitted.fetch_add(1, Ordering::SeqCst);
        let out = rx
            .await
            .map_err(|_| StoreError::Unavailable("the SQLite writer has stopped".into()))??;
        Ok(*out
            .downcast::<T>()
            .expect("a job's result has the type its caller submitted"))
    }

    pub async fn process(
        &self,
        meta: MessageMeta,
        doc: InboundDocument,
        ctx: Ctx,
    ) -> Result<Outcome, StoreError> {
        let message = Arc::new((meta, doc, ctx));
        self.write_again(move |c| {
            let m = message.clone();
            Box::pin(async move { common::process(c, &m.0, &m.1, &m.2).await })
        })
        .await
    }

    /// A read-only connection (sees what the writer committed).
    pub(crate) async fn reader(&self) -> Result<sqlx::pool::PoolConnection<Sqlite>, StoreError> {
        self.readers.acquire().await.map_err(map_err)
    }

    pub async fn load_refdata(&self) -> Result<Option<RefData>, StoreError> {
        let mut c = self.readers.acquire().await.map_err(map_err)?;
        common::load_refdata(&mut *c).await
    }

    /// Reads the reference snapshot at the lowest priority, off the writer's CPU
    /// ([`super::low_priority`]), with a connection of its own (whose SQLite thread inherits
    /// both), in parts of
    /// [`SNAPSHOT_PART`] licences, each its own read transaction (see
    /// [`common::SnapshotRead`]): a reload while serving takes the CPU that requests leave
    /// over, and no long read keeps the WAL from starting over meanwhile.
    pub async fn load_snapshot(
        &self,
    ) -> Result<Option<(super::LoadedSnapshot, super::StatusMark)>, StoreError> {
        let options = self.options.as_ref().clone().read_only(true);
        super::low_priority::run("refdata-read", self.writer_cpu, move |wanted| async move {
            read_snapshot(&options, SNAPSHOT_PART, &wanted).await
        })
        .await
    }

    pub async fn permit_status(
        &self,
        query: &PermitStatusQuery,
    ) -> Result<PermitStatusResponse, StoreError> {
        let mut c = self.readers.acquire().await.map_err(map_err)?;
        common::permit_status(&mut *c, query).await
    }
}

#[cfg(test)]
impl SqliteStore {
    /// Jobs in the writer's queue: submitted, not yet taken.
    pub(crate) fn queued_for_tests(&self) -> usize {
        let taken = self.stats.taken.load(Ordering::SeqCst);
        self.stats
            .submitted
            .load(Ordering::SeqCst)
            .saturating_sub(taken)
    }

    pub(crate) async fn read_conn_for_tests(&self) -> sqlx::pool::PoolConnection<Sqlite> {
        self.readers.acquire().await.expect("read connection")
    }

    /// The reference snapshot as `load_snapshot` reads it, in parts of `part` licences, on
    /// the caller's thread.
    pub(crate) async fn snapshot_in_parts_for_tests(
        &self,
        part: u32,
    ) -> Option<(super::LoadedSnapshot, super::StatusMark)> {
        let (_guard, wanted) = super::low_priority::wanted();
        let options = self.options.as_ref().clone().read_only(true);
        read_snapshot(&options, part, &wanted)
            .await
            .expect("snapshot")
    }

    /// A round of the background checkpoint, for a store connected without them.
    pub(crate) async fn checkpoint_round_for_tests(
        &self,
        rounds: &mut Rounds,
    ) -> Option<WalCheckpoint> {
        rounds
            .round(&self.checkpoints, &self.stats)
            .await
            .expect("checkpoint")
    }
}

/// Licences read in one read transaction of [`SqliteStore::load_snapshot`].
const SNAPSHOT_PART: u32 = 20_000;

/// How often the parts of a snapshot are read again because the reference data was replaced
/// meanwhile, before it is read in one transaction.
const SNAPSHOT_ATTEMPTS: u32 = 3;

async fn read_snapshot(
    options: &SqliteConnectOptions,
    part: u32,
    wanted: &super::low_priority::Wanted,
) -> Result<Option<(super::LoadedSnapshot, super::StatusMark)>, StoreError> {
    let mut c = SqliteConnection::connect_with(options)
        .await
        .map_err(map_err)?;
    for _ in 0..SNAPSHOT_ATTEMPTS {
        let mut tx = c.begin().await.map_err(map_err)?;
        let Some(mut read) = common::SnapshotRead::begin(&mut *tx).await? else {
            return Ok(None);
        };
        tx.rollback().await.map_err(map_err)?;
        loop {
            if !wanted.still() {
                return Err(StoreError::Unavailable(
                    "reading the reference data: no longer wanted".into(),
                ));
            }
            let mut tx = c.begin().await.map_err(map_err)?;
            let more = read.licences(&mut *tx, Some(part)).await?;
            tx.rollback().await.map_err(map_err)?;
            if !more {
                break;
            }
        }
        if read.still_current(&mut c).await? {
            return Ok(Some(read.finish()));
        }
        tracing::info!("the reference data was replaced while it was read; reading it again");
    }
    let mut tx = c.begin().await.map_err(map_err)?;
    let out = common::load_snapshot(&mut *tx).await?;
    tx.rollback().await.map_err(map_err)?;
    Ok(out)
}

fn args_none() -> Vec<V> {
    Vec::new()
}

async fn writer_loop(
    conn: SqliteConnection,
    mut rx: mpsc::Receiver<Job>,
    stats: Arc<WriterStats>,
    shares_cpu: bool,
) {
    let mut w = WriterConn {
        conn,
        prefix: Vec::new(),
        sent: false,
        prefix_failed: None,
        owed: Vec::new(),
        serials: Serials::default(),
        trips: 0,
        shares_cpu,
        unguarded: false,
        done_before_error: None,
    };
    while let Some(first) = rx.recv().await {
        // A batch is whatever is queued: under load the jobs that arrived while the previous
        // batch ran; alone, a job runs at once (nobody waits for company).
        let mut batch = vec![first];
        #[cfg(test)]
        stats.taken.fetch_add(1, Ordering::SeqCst);
        if rx.is_empty() {
            // Let tasks that are ready to submit do so first.
            tokio::task::yield_now().await;
        }
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => {
                    #[cfg(test)]
                    stats.taken.fetch_add(1, Ordering::SeqCst);
                    batch.push(job)
                }
                Err(_) => break,
            }
        }
        if stats.wal_catch_up_wanted.swap(false, Ordering::AcqRel) {
            wal_catch_up(&mut w, &stats).await;
        }
        let began = std::time::Instant::now();
        let waits: Vec<Duration> = batch
            .iter()
            .map(|j| began.saturating_duration_since(j.queued))
            .collect();
        run_batch(&mut w, batch, &stats).await;
        crate::telemetry::record_sqlite_writer_batch(waits.into_iter(), began.elapsed());
        // A batch whose jobs ran no statement has no reply point of its own above.
        stats.count_trips(&mut w);
    }
    let _ = w.conn.close().await;
}

/// Where the writer and SQLite's thread for its connection run (`database.sqlite_writer_cpu`).
///
/// The two threads take turns on every job: the writer hands SQLite a script and waits, SQLite
/// answers and waits for the next. On two CPUs each hand-off wakes a thread on the other CPU
/// (an interrupt between CPUs, and under a hypervisor an exit to it); on one CPU the thread
/// that waits gives way to the one it woke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WriterCpu {
    /// The last CPU the process may run on (with one CPU, that one).
    #[default]
    Auto,
    /// Wherever the kernel puts them.
    Off,
    /// This CPU.
    Cpu(usize),
}

impl WriterCpu {
    /// `auto`, `off` or a CPU number.
    pub fn parse(s: &str) -> Result<WriterCpu, String> {
        match s.trim() {
            "auto" => Ok(WriterCpu::Auto),
            "off" => Ok(WriterCpu::Off),
            n => n
                .parse()
                .map(WriterCpu::Cpu)
                .map_err(|_| format!("`{n}` is neither auto, off nor a CPU number")),
        }
    }
}

/// Pins the calling thread as `cpu` says; returns the CPU it now runs on alone.
#[cfg(target_os = "linux")]
fn pin_current_thread(cpu: WriterCpu) -> Result<Option<usize>, StoreError> {
    use rustix::thread::{sched_getaffinity, sched_setaffinity, CpuSet};
    let chosen = match cpu {
        WriterCpu::Off => return Ok(None),
        WriterCpu::Cpu(n) => n,
        WriterCpu::Auto => {
            let allowed = match sched_getaffinity(None) {
                Ok(set) => set,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the CPUs the process may use; the SQLite writer is not pinned");
                    return Ok(None);
                }
            };
            // With one CPU the two threads share it anyway; pinned to it, the writer knows
            // that it does, and yields it to SQLite's thread (see `Caller::Writer`).
            match (0..CpuSet::MAX_CPU).rev().find(|c| allowed.is_set(*c)) {
                Some(c) => c,
                None => return Ok(None),
            }
        }
    };
    if chosen >= CpuSet::MAX_CPU {
        return Err(StoreError::Config(format!(
            "database.sqlite_writer_cpu: there is no CPU {chosen}"
        )));
    }
    let mut set = CpuSet::new();
    set.set(chosen);
    match sched_setaffinity(None, &set) {
        Ok(()) => Ok(Some(chosen)),
        Err(e) if cpu == WriterCpu::Auto => {
            tracing::warn!(cpu = chosen, error = %e, "the SQLite writer is not pinned");
            Ok(None)
        }
        Err(e) => Err(StoreError::Config(format!(
            "database.sqlite_writer_cpu: cannot run on CPU {chosen}: {e}"
        ))),
    }
}

#[cfg(not(target_os = "linux"))]
fn pin_current_thread(cpu: WriterCpu) -> Result<Option<usize>, StoreError> {
    match cpu {
        WriterCpu::Cpu(n) => Err(StoreError::Config(format!(
            "database.sqlite_writer_cpu: CPU {n}: pinning is only available on Linux"
        ))),
        WriterCpu::Auto | WriterCpu::Off => Ok(None),
    }
}

/// How often the WAL is checkpointed into the database file. Often, so that each checkpoint
/// finds few frames: below capacity the writer slows while one runs, and jobs queue behind it
/// (at 3,000 requests a second, every 50 ms gave a p99 a quarter lower than every 200 ms, and
/// the same throughput at full load; see BENCHMARKS.md).
pub const CHECKPOINT_EVERY: Duration = Duration::from_millis(50);

/// WAL frames (pages of 4 KiB) beyond which the writer checkpoints the last frames itself, so
/// that its next transaction starts the WAL over: rewriting pages of the WAL that the kernel
/// holds in memory costs far less than appending new ones to the file.
pub const WAL_RESTART_FRAMES: i64 = 4096;

/// Most passes of one checkpoint that finds the WAL long (see [`after_pass`]).
const CATCH_UP_PASSES: u32 = 8;

/// Frames appended while a pass ran, at most, for the writer to be asked to copy the rest.
const CATCH_UP_FRAMES: i64 = 256;

/// What a checkpoint does after a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AfterPass {
    /// The WAL is short: nothing more.
    Done,
    /// Copy again: the writer appended many frames while the last pass ran.
    Again,
    /// Ask the writer to copy the last frames before its next transaction.
    AskWriter,
}

/// After the `passes`-th pass of a checkpoint (`before`: the one before it). The writer stops
/// for its own copy of the last frames and the two syncs that go with it, and the fewer frames
/// it finds, the shorter that stop: so while the WAL is long, the checkpoint passes again as
/// long as the writer appended more than [`CATCH_UP_FRAMES`] during its last pass (after a
/// first pass, that is not known yet), at most [`CATCH_UP_PASSES`] times in all.
fn after_pass(passes: u32, before: Option<WalCheckpoint>, pass: WalCheckpoint) -> AfterPass {
    if pass.frames <= WAL_RESTART_FRAMES {
        return AfterPass::Done;
    }
    let appended = before.map_or(i64::MAX, |b| pass.frames - b.frames);
    if passes < CATCH_UP_PASSES && appended > CATCH_UP_FRAMES {
        AfterPass::Again
    } else {
        AfterPass::AskWriter
    }
}

/// Checkpoints in passes (see [`after_pass`]); what the last one found.
async fn checkpoint(
    conn: &tokio::sync::Mutex<SqliteConnection>,
    stats: &WriterStats,
) -> Result<WalCheckpoint, StoreError> {
    let mut conn = conn.lock().await;
    let mut before = None;
    let mut passes = 0;
    loop {
        let (_, pass) = wal_checkpoint(&mut conn, CHECKPOINT).await?;
        passes += 1;
        match after_pass(passes, before, pass) {
            AfterPass::Done => return Ok(pass),
            AfterPass::Again => before = Some(pass),
            AfterPass::AskWriter => {
                stats.wal_catch_up_wanted.store(true, Ordering::Release);
                return Ok(pass);
            }
        }
    }
}

const CHECKPOINT: &str = "PRAGMA wal_checkpoint(PASSIVE)";

/// Runs one `PRAGMA wal_checkpoint(…)` on `conn`: whether it was kept from finishing (SQLite's
/// busy flag), and what it found.
async fn wal_checkpoint(
    conn: &mut SqliteConnection,
    sql: &'static str,
) -> Result<(bool, WalCheckpoint), StoreError> {
    let row = conn
        .one_row(sql, Vec::new(), &[Ty::I64, Ty::I64, Ty::I64])
        .await?;
    let done = WalCheckpoint {
        frames: row.i64(1)?,
        checkpointed: row.i64(2)?,
    };
    Ok((row.i64(0)? != 0, done))
}

/// The writer's own checkpoint, between two transactions: nothing is written meanwhile, so it
/// copies every frame (but those a reader still needs) and the next transaction starts the
/// WAL over. The background checkpoint has copied most of them already.
async fn wal_catch_up(w: &mut WriterConn, stats: &WriterStats) {
    w.trips += 1;
    match wal_checkpoint(&mut w.conn, CHECKPOINT).await {
        Ok(_) => {
            stats.wal_catch_ups.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) => tracing::warn!(error = %e, "the writer's WAL checkpoint failed"),
    }
}

/// Checkpoints the WAL every `every`, beside the writer, until the store is dropped.
async fn checkpointer(
    conn: Arc<tokio::sync::Mutex<SqliteConnection>>,
    stats: Arc<WriterStats>,
    every: Duration,
    writer: mpsc::WeakSender<Job>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut rounds = Rounds::default();
    loop {
        tick.tick().await;
        if writer.upgrade().is_none() {
            break;
        }
        if let Err(e) = rounds.round(&conn, &stats).await {
            tracing::warn!(error = %e, "WAL checkpoint failed; it is tried again");
        }
    }
}

/// The background checkpoint's rounds. A round in which the writer has yet to copy the last
/// frames it was asked to is skipped: checkpointing then, it would find the WAL busy and the
/// WAL would not start over. Only one round is skipped in a row, so that a writer with no more
/// work to do (which copies nothing until its next job) does not hold the checkpoints back.
#[derive(Debug, Default)]
pub(crate) struct Rounds {
    skipped: bool,
}

impl Rounds {
    /// What the checkpoint found, `None` for a round skipped.
    async fn round(
        &mut self,
        conn: &tokio::sync::Mutex<SqliteConnection>,
        stats: &WriterStats,
    ) -> Result<Option<WalCheckpoint>, StoreError> {
        if !self.skipped && stats.wal_catch_up_wanted.load(Ordering::Acquire) {
            self.skipped = true;
            return Ok(None);
        }
        self.skipped = false;
        checkpoint(conn, stats).await.map(Some)
    }
}

async fn plain(
    trips: &mut u64,
    conn: &mut SqliteConnection,
    sql: &'static str,
) -> Result<(), StoreError> {
    *trips += 1;
    conn.execute(sql).await.map(|_| ()).map_err(map_err)
}

/// Polls a job and turns a panic into an error, so that a bug in one job cannot stop the
/// writer for everybody.
struct CatchUnwind<'c>(JobFuture<'c>);

impl Future for CatchUnwind<'_> {
    type Output = JobResult;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<JobResult> {
        let fut = &mut self.0;
        match std::panic::catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
            Ok(p) => p,
            Err(_) => Poll::Ready(Err(StoreError::Database(
                "a storage job panicked; its changes were rolled back".into(),
            ))),
        }
    }
}

/// Runs a batch in one transaction: without savepoints when every job can run again
/// ([`Work::Again`]); with them ([`run_guarded`]) when one cannot, or when one of them failed
/// without them.
async fn run_batch(w: &mut WriterConn, mut batch: Vec<Job>, stats: &WriterStats) {
    if batch.iter().all(|j| matches!(j.work, Work::Again(_))) {
        if let Some(results) = run_unguarded(w, &mut batch, stats).await {
            for (job, r) in batch.into_iter().zip(results) {
                let _ = job.reply.send(r);
            }
            return;
        }
        stats.reruns.fetch_add(1, Ordering::Relaxed);
    }
    run_guarded(w, batch, stats).await;
}

/// Runs the jobs in one transaction without savepoints, and commits it; what each returned.
/// `None` when a job failed or the commit did: then the transaction is rolled back, and
/// nothing of it stays.
async fn run_unguarded(
    w: &mut WriterConn,
    batch: &mut [Job],
    stats: &WriterStats,
) -> Option<Vec<JobResult>> {
    w.serials.read_in_this_transaction = false;
    w.unguarded = true;
    let mut pending: Vec<&'static str> = vec!["BEGIN IMMEDIATE"];
    let mut began = false;
    let mut results = Vec::with_capacity(batch.len());
    for job in batch.iter_mut() {
        w.start_job(&pending);
        let result = CatchUnwind(job.work.call(w)).await;
        if w.sent {
            began = true;
            pending.clear();
        }
        if result.is_err() || w.prefix_failed.take().is_some() {
            break;
        }
        results.push(result);
    }
    w.unguarded = false;
    let committed = results.len() == batch.len()
        && (!began || plain(&mut w.trips, &mut w.conn, "COMMIT").await.is_ok());
    if committed {
        if began {
            stats.batches.fetch_add(1, Ordering::Relaxed);
            stats
                .jobs
                .fetch_add(results.len() as u64, Ordering::Relaxed);
        }
        stats.count_trips(w);
        return Some(results);
    }
    if began {
        let _ = plain(&mut w.trips, &mut w.conn, "ROLLBACK").await;
    }
    stats.count_trips(w);
    None
}

/// Runs the jobs in one transaction with a savepoint per job (but for a job alone): a failing
/// job rolls back only itself and gets its own error.
async fn run_guarded(w: &mut WriterConn, batch: Vec<Job>, stats: &WriterStats) {
    let n = batch.len();
    // A job alone needs no savepoint: when it fails, the transaction is rolled back.
    let single = n == 1;
    // What the writer owes SQLite before the next job's statements.
    let mut pending: Vec<&'static str> = vec!["BEGIN IMMEDIATE"];
    w.serials.read_in_this_transaction = false;
    let mut began = false;
    let mut done: Vec<(oneshot::Sender<JobResult>, JobResult)> = Vec::with_capacity(n);
    // Set when the transaction can no longer be trusted: every job fails with this error.
    let mut broken: Option<StoreError> = None;
    for mut job in batch {
        if let Some(e) = &broken {
            done.push((job.reply, Err(e.clone())));
            continue;
        }
        w.start_job(&pending);
        if !single {
            w.prefix.push("SAVEPOINT job");
        }
        let result = CatchUnwind(job.work.call(w)).await;
        if let Some(e) = w.prefix_failed.take() {
            broken = Some(e);
            done.push((job.reply, result));
            continue;
        }
        if w.sent {
            began = true;
            pending = match (single, result.is_ok()) {
                (true, _) => Vec::new(),
                (false, true) => vec!["RELEASE SAVEPOINT job"],
                (false, false) => vec!["ROLLBACK TO SAVEPOINT job", "RELEASE SAVEPOINT job"],
            };
        }
        // A job that ran no statement opened nothing: what was pending still is.
        done.push((job.reply, result));
    }
    if single {
        let (reply, result) = done.pop().expect("one job");
        let result = match (broken, began, result) {
            (Some(e), _, _) => Err(e),
            (None, false, r) => r,
            (None, true, Ok(v)) => match plain(&mut w.trips, &mut w.conn, "COMMIT").await {
                Ok(()) => {
                    stats.batches.fetch_add(1, Ordering::Relaxed);
                    stats.jobs.fetch_add(1, Ordering::Relaxed);
                    Ok(v)
                }
                Err(e) => {
                    let _ = plain(&mut w.trips, &mut w.conn, "ROLLBACK").await;
                    Err(e)
                }
            },
            (None, true, Err(e)) => {
                let _ = plain(&mut w.trips, &mut w.conn, "ROLLBACK").await;
                Err(e)
            }
        };
        stats.count_trips(w);
        let _ = reply.send(result);
        return;
    }
    let outcome = match broken {
        Some(e) => Err(e),
        None if !began => Ok(()),
        None => {
            pending.push("COMMIT");
            let sql = pending.join("; ");
            w.trips += 1;
            w.conn
                .execute(sql.as_str())
                .await
                .map(|_| ())
                .map_err(map_err)
        }
    };
    match outcome {
        Ok(()) => {
            stats.batches.fetch_add(1, Ordering::Relaxed);
            stats.jobs.fetch_add(done.len() as u64, Ordering::Relaxed);
            stats.count_trips(w);
            for (reply, r) in done {
                let _ = reply.send(r);
            }
        }
        Err(e) => {
            // Nothing of this batch is committed: every job fails with the batch's error.
            let _ = plain(&mut w.trips, &mut w.conn, "ROLLBACK").await;
            stats.count_trips(w);
            for (reply, _) in done {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
}

type Query<'q> = sqlx::query::Query<'q, Sqlite, SqliteArguments<'q>>;

/// `sql` with `args` bound, their list allocated once.
fn query(sql: &str, args: Vec<V>) -> Query<'_> {
    let mut reserved = SqliteArguments::default();
    reserved.reserve(args.len(), 0);
    args.into_iter().fold(sqlx::query_with(sql, reserved), bind)
}

fn bind(q: Query<'_>, v: V) -> Query<'_> {
    match v {
        V::Null(Ty::I64) => q.bind(None::<i64>),
        V::Null(Ty::Text) => q.bind(None::<String>),
        V::Null(Ty::Bytes) => q.bind(None::<Vec<u8>>),
        V::Null(Ty::Bool) => q.bind(None::<bool>),
        V::Null(Ty::Date) => q.bind(None::<NaiveDate>),
        V::Null(Ty::Time) => q.bind(None::<DateTime<Utc>>),
        V::I64(x) => q.bind(x),
        V::Text(x) => q.bind(x),
        V::Bytes(x) => q.bind(x),
        V::Bool(x) => q.bind(x),
        // The text sqlx's encoders write (chrono's `%F` and RFC 3339), without the formatter.
        V::Date(x) => q.bind(crate::domain::format_date(x)),
        V::Time(x) => {
            let mut s = String::with_capacity(32);
            crate::domain::push_rfc3339(&mut s, &x, false);
            q.bind(s)
        }
        V::TextArray(x) => q.bind(serde_json::to_string(&x).expect("strings serialise")),
        V::DateArray(x) => q.bind(
            serde_json::to_string(&x.iter().map(|d| d.to_string()).collect::<Vec<_>>())
                .expect("strings serialise"),
        ),
    }
}

impl Conn for SqliteConnection {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    super::sql::sqlx_conn_methods!();

    /// One multi-statement query: the statements run on the connection's thread one after the
    /// other, and their rows and results stream back in order (one round trip, not one per
    /// statement).
    async fn script(&mut self, stmts: Vec<Stmt>) -> Result<Vec<Done>, StoreError> {
        if stmts.len() == 1 {
            return Conn::script_each(self, stmts).await;
        }
        match run_script(self, stmts, Caller::Other).await {
            (_, Some(e)) => Err(e),
            (done, None) => Ok(done),
        }
    }
}

/// Who runs a script, which decides how it is written and waited for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    /// The writer. Its statements write `OR FAIL` ([`anonymous_params`]): the job's savepoint
    /// or the batch's rollback takes back what a failing one wrote.
    ///
    /// `shares_cpu`: it runs on the CPU of the connection's thread (pinned). SQLite's thread
    /// sends a message per statement; each would wake the writer, which would take the CPU
    /// from SQLite's thread to read one answer and fall asleep again. After the first answer
    /// the writer yields the CPU instead, so that SQLite's thread runs the rest of the script,
    /// and reads the answers that are there when it gets the CPU back.
    Writer { shares_cpu: bool },
    /// Any other connection: plain statements, each failing one taken back by SQLite.
    Other,
}

/// Runs `stmts` as one multi-statement query; returns what the statements that completed
/// returned, and the error that stopped the rest.
async fn run_script(
    conn: &mut SqliteConnection,
    stmts: Vec<Stmt>,
    caller: Caller,
) -> (Vec<Done>, Option<StoreError>) {
    let (or_fail, shares_cpu) = match caller {
        Caller::Writer { shares_cpu } => (true, shares_cpu),
        Caller::Other => (false, false),
    };
    {
        let mut sql = String::with_capacity(stmts.iter().map(|s| s.sql.len() + 8).sum());
        let mut args = Vec::with_capacity(stmts.iter().map(|s| s.args.len()).sum());
        let mut cols = Vec::with_capacity(stmts.len());
        for s in stmts {
            anonymous_params(&s.sql, s.args, or_fail, &mut sql, &mut args);
            sql.push_str(";\n");
            cols.push(s.cols);
        }
        let q = query(&sql, args);
        let mut out: Vec<Done> = Vec::with_capacity(cols.len());
        let mut current = Done::default();
        // Executor::fetch_many: a result per statement, so rows can be told apart by statement.
        let mut stream = Executor::fetch_many(conn, q);
        loop {
            match stream.try_next().await {
                Err(e) => return (out, Some(map_err(e))),
                Ok(None) => break,
                Ok(Some(Either::Right(row))) => {
                    let tys = cols.get(out.len()).copied().unwrap_or(&[]);
                    match super::sql::decode(&row, tys) {
                        Ok(r) => current.rows.push(r),
                        Err(e) => return (out, Some(e)),
                    }
                }
                Ok(Some(Either::Left(done))) => {
                    current.affected = done.rows_affected();
                    out.push(std::mem::take(&mut current));
                    if shares_cpu && out.len() == 1 && cols.len() > 1 {
                        std::thread::yield_now();
                    }
                }
            }
        }
        if out.len() != cols.len() {
            let e = StoreError::Database(format!(
                "a script of {} statements returned {} results",
                cols.len(),
                out.len()
            ));
            return (out, Some(e));
        }
        (out, None)
    }
}

#[cfg(test)]
mod tests {
    use sqlx::Row as _;

    use super::*;

    /// Binds `v` (the gateway's way) and `theirs` (sqlx's own encoder) side by side.
    async fn bound_as_sqlx_binds<T>(conn: &mut SqliteConnection, v: V, theirs: T)
    where
        T: for<'q> sqlx::Encode<'q, Sqlite> + sqlx::Type<Sqlite> + Send + 'static,
    {
        let row = query("SELECT ?, ?", vec![v.clone()])
            .bind(theirs)
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        let (ours, sqlx_text): (String, String) = (row.get(0), row.get(1));
        assert_eq!(ours, sqlx_text, "{v:?}");
    }

    /// After pass `passes` that found `frames` (the pass before it found `before`).
    fn check(passes: u32, before: Option<i64>, frames: i64, expected: AfterPass) {
        let found = |frames| WalCheckpoint {
            frames,
            checkpointed: frames,
        };
        let got = after_pass(passes, before.map(found), found(frames));
        assert_eq!(got, expected, "pass {passes}, {before:?} then {frames}");
    }

    #[test]
    fn a_long_wal_is_copied_again_until_few_frames_came_in_meanwhile() {
        use AfterPass::*;
        check(1, None, 0, Done);
        check(1, None, WAL_RESTART_FRAMES, Done);
        check(1, None, WAL_RESTART_FRAMES + 1, Again);
        check(2, Some(5000), 5000 + CATCH_UP_FRAMES + 1, Again);
        check(2, Some(5000), 5000 + CATCH_UP_FRAMES, AskWriter);
        check(2, Some(5000), 5000, AskWriter);
        check(CATCH_UP_PASSES - 1, Some(5000), 9000, Again);
        check(CATCH_UP_PASSES, Some(5000), 9000, AskWriter);
        check(CATCH_UP_PASSES, None, 9000, AskWriter);
        check(3, Some(9000), 100, Done);
        check(3, Some(9000), 5000, AskWriter);
    }

    #[tokio::test]
    async fn dates_and_times_are_bound_as_sqlx_encodes_them() {
        let mut conn = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        for (y, m, d) in [(2026, 11, 28), (1999, 1, 2), (1, 1, 1)] {
            let date = NaiveDate::from_ymd_opt(y, m, d).unwrap();
            bound_as_sqlx_binds(&mut conn, V::Date(date), date).await;
        }
        for nano in [0, 500_000_000, 123_000, 123_456_789, 7] {
            let t = DateTime::from_timestamp(1_795_000_000, nano).unwrap();
            bound_as_sqlx_binds(&mut conn, V::Time(t), t).await;
        }
    }
}
