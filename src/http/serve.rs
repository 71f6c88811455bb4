//! The accept loop of the ebMS listener (plain or TLS), with the peer identity of each
//! connection put into its requests, and graceful shutdown: stop accepting, let requests in
//! flight finish, then return.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::http::{header, HeaderValue};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, Notify, Semaphore, TryAcquireError};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::tls::{ClientChain, PeerIdentity, TlsReloader};
use crate::telemetry::{CONNECTIONS_DROPPED_TOTAL, CONNECTIONS_WAITING};

/// The "stop" signal shared by every task of an application.
#[derive(Clone, Debug)]
pub struct Shutdown {
    tx: Arc<watch::Sender<bool>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown::new()
    }
}

impl Shutdown {
    pub fn new() -> Shutdown {
        Shutdown {
            tx: Arc::new(watch::channel(false).0),
        }
    }

    /// Asks every task to stop (idempotent).
    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }

    pub fn is_triggered(&self) -> bool {
        *self.tx.borrow()
    }

    /// Resolves once stop was asked for.
    pub fn wait(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.tx.subscribe();
        async move {
            // An error means the sender is gone, which also means stop.
            let _ = rx.wait_for(|stop| *stop).await;
        }
    }
}

/// Limits of the accept loop.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    /// Budget for the TLS handshake and for reading a request's headers.
    pub handshake_timeout: Duration,
    /// How long shutdown waits for requests in flight before it gives up on them.
    pub drain_timeout: Duration,
}

/// How long a connection must have been idle before it is closed to make room, and how long
/// busy connections must have made none: a client may be sending a request on a connection
/// that is idle, and closing it would lose that request (a client's pool may leave one
/// connection idle for seconds while it reuses others). A busy connection closes race-free
/// instead: its answer says `Connection: close`.
const IDLE_BEFORE_CLOSING: Duration = Duration::from_secs(1);

/// Whether an idle connection closes for a waiting one: only when it has been idle for
/// [`IDLE_BEFORE_CLOSING`], and busy connections have not made room for as long (they close
/// after their answers while any are answering; idle ones make room when none are).
fn idle_closes(idle_since: Instant, busy_made_room: Option<Instant>, now: Instant) -> bool {
    let long = |t: Instant| now.saturating_duration_since(t) >= IDLE_BEFORE_CLOSING;
    long(idle_since) && busy_made_room.is_none_or(long)
}

/// Room for connections waiting for a slot: for each of them one open connection closes, the
/// first busy one to answer its requests or, when none answers, one idle for
/// [`IDLE_BEFORE_CLOSING`] ([`idle_closes`]).
pub struct Room {
    /// The listener's name in metrics (`ebms`, `api`).
    listener: &'static str,
    /// Connections accepted and waiting for a slot.
    waiting: watch::Sender<usize>,
    /// Connections still to close for the waiting ones.
    debt: AtomicUsize,
    /// Changes each time a connection starts to wait (wakes the idle ones).
    asked: watch::Sender<u64>,
    /// When a busy connection last closed after its answer for a waiting one.
    busy_made_room: Mutex<Option<Instant>>,
}

impl Room {
    /// The room of the listener named `listener` in metrics.
    pub fn new(listener: &'static str) -> Room {
        Room {
            listener,
            waiting: watch::Sender::default(),
            debt: AtomicUsize::default(),
            asked: watch::Sender::default(),
            busy_made_room: Mutex::default(),
        }
    }

    /// The number of connections waiting for a slot, as a watch.
    pub fn waiting(&self) -> watch::Receiver<usize> {
        self.waiting.subscribe()
    }

    /// Asks one connection to close; the returned guard cancels what is still owed when the
    /// waiting connection has its slot.
    fn ask(&self) -> Asked<'_> {
        self.waiting.send_modify(|n| {
            *n += 1;
            metrics::gauge!(CONNECTIONS_WAITING, "listener" => self.listener).set(*n as f64);
        });
        self.debt.fetch_add(1, Ordering::SeqCst);
        self.remind();
        Asked(self)
    }

    /// Wakes the idle connections again (those idle for long enough by now may close).
    fn remind(&self) {
        self.asked.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Whether the calling connection is the one to close (at most one per waiting one).
    fn take(&self) -> bool {
        self.debt
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |d| d.checked_sub(1))
            .is_ok()
    }

    /// A busy connection that just answered: whether it is the one to close.
    fn take_busy(&self) -> bool {
        if !self.take() {
            return false;
        }
        *lock(&self.busy_made_room) = Some(Instant::now());
        true
    }

    /// An idle connection, idle since `idle_since`: whether it is the one to close.
    fn take_idle(&self, idle_since: Instant) -> bool {
        let busy = *lock(&self.busy_made_room);
        idle_closes(idle_since, busy, Instant::now()) && self.take()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

struct Asked<'a>(&'a Room);

impl Drop for Asked<'_> {
    fn drop(&mut self) {
        // The waiting connection has its slot (or the listener stops): what is still owed
        // for it, when the slot came free otherwise, is owed no more.
        let _ = self.0.take();
        self.0.waiting.send_modify(|n| {
            *n -= 1;
            metrics::gauge!(CONNECTIONS_WAITING, "listener" => self.0.listener).set(*n as f64);
        });
    }
}

/// What [`Room`] needs to know of one connection.
struct Activity {
    /// Requests being answered.
    busy: AtomicUsize,
    /// When the connection last became idle (or opened).
    idle_since: Mutex<Instant>,
    /// HTTP/2: the connection answered its last request and is the one to close (GOAWAY).
    close: Notify,
    /// Whether a request has started on it.
    asked: std::sync::atomic::AtomicBool,
    /// Its client certificate is no longer accepted (a reload took its CA out, or it
    /// expired): every request from now on is refused, whatever the client sends before the
    /// connection ends.
    refused: std::sync::atomic::AtomicBool,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            busy: AtomicUsize::new(0),
            idle_since: Mutex::new(Instant::now()),
            close: Notify::new(),
            asked: std::sync::atomic::AtomicBool::new(false),
            refused: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// After an answer: whether the connection, idle now, is the one to close for a waiting
    /// connection.
    fn answered(&self, room: &Room) -> bool {
        self.released() && room.take_busy()
    }

    /// A request that ended, answered or not (its future dropped: an HTTP/2 stream the
    /// client reset): whether the connection is idle now.
    fn released(&self) -> bool {
        if self.busy.fetch_sub(1, Ordering::SeqCst) != 1 {
            return false;
        }
        *lock(&self.idle_since) = Instant::now();
        true
    }

    /// Since when the connection has been idle; `None` while it answers a request.
    fn idle_since(&self) -> Option<Instant> {
        (self.busy.load(Ordering::SeqCst) == 0).then(|| *lock(&self.idle_since))
    }
}

/// A request being answered on a connection: it counts as busy until it is answered, or until
/// its future is dropped unanswered (an HTTP/2 stream reset by the client), so that the
/// connection can become idle again either way.
struct Busy(Option<Arc<Activity>>);

impl Busy {
    fn start(activity: &Arc<Activity>) -> Busy {
        activity.busy.fetch_add(1, Ordering::SeqCst);
        activity.asked.store(true, Ordering::SeqCst);
        Busy(Some(activity.clone()))
    }

    /// See [`Activity::answered`].
    fn answered(mut self, room: &Room) -> bool {
        self.0.take().is_some_and(|a| a.answered(room))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        if let Some(a) = self.0.take() {
            let _ = a.released();
        }
    }
}

/// Serves `router` on `listener` until `shutdown` fires, then drains open connections.
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<TlsReloader>>,
    router: Router,
    limits: ConnectionLimits,
    room: Arc<Room>,
    shutdown: Shutdown,
) {
    // Every connection task holds a clone of `done_tx`; when all are dropped, `recv` ends.
    let (done_tx, mut done_rx) = mpsc::channel::<()>(1);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let stop = shutdown.wait();
    tokio::pin!(stop);
    loop {
        let (stream, remote) = tokio::select! {
            biased;
            _ = &mut stop => break,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: back off briefly, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let slot = match slots.clone().try_acquire_owned() {
            Ok(s) => s,
            Err(TryAcquireError::Closed) => break,
            Err(TryAcquireError::NoPermits) => {
                // Every slot is taken: an open connection closes to make room, so that the
                // new one does not wait until a client lets one go.
                tracing::debug!(%remote, max = limits.max_connections, "connection limit reached; one connection closes to make room");
                let _asked = room.ask();
                let mut remind = tokio::time::interval(IDLE_BEFORE_CLOSING / 2);
                remind.tick().await;
                let slot = loop {
                    tokio::select! {
                        biased;
                        _ = &mut stop => break None,
                        s = slots.clone().acquire_owned() => break s.ok(),
                        _ = remind.tick() => room.remind(),
                    }
                };
                match slot {
                    Some(s) => s,
                    None => break,
                }
            }
        };
        let tls = tls.clone();
        let router = router.clone();
        let shutdown = shutdown.clone();
        let room = room.clone();
        let done = done_tx.clone();
        tokio::spawn(async move {
            connection(stream, remote, tls, router, limits, shutdown, room).await;
            drop(slot);
            drop(done);
        });
    }
    drop(listener);
    drop(done_tx);
    if tokio::time::timeout(limits.drain_timeout, done_rx.recv())
        .await
        .is_err()
    {
        tracing::warn!("shutdown: connections still open after the drain timeout; closing them");
    }
}

async fn connection(
    stream: TcpStream,
    remote: SocketAddr,
    tls: Option<Arc<TlsReloader>>,
    router: Router,
    limits: ConnectionLimits,
    shutdown: Shutdown,
    room: Arc<Room>,
) {
    let _ = stream.set_nodelay(true);
    match tls {
        None => {
            serve_io(
                stream,
                remote,
                Peer::default(),
                router,
                limits,
                shutdown,
                room,
            )
            .await
        }
        Some(tls) => {
            // Watched from before the configuration is read: a reload while the handshake
            // runs is one this connection's client is checked against afterwards.
            let reloads = tls.reloads();
            let acceptor = TlsAcceptor::from(tls.current());
            let opened = Instant::now();
            let handshake = tokio::time::timeout(limits.handshake_timeout, acceptor.accept(stream));
            tokio::pin!(handshake);
            let mut asked = room.asked.subscribe();
            asked.mark_unchanged();
            let accepted = loop {
                tokio::select! {
                    r = handshake.as_mut() => break r,
                    changed = asked.changed() => {
                        // A handshake that has taken a second already is closed for a waiting
                        // connection, as an idle connection is: it holds a slot and has not
                        // said who it is.
                        if changed.is_ok() && idle_closes(opened, None, Instant::now()) && room.take() {
                            tracing::info!(%remote, "TLS handshake still unfinished: closed to make room for a new connection");
                            dropped(&room, "TLS handshake unfinished when a new connection waited");
                            return;
                        }
                    }
                }
            };
            let stream = match accepted {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::info!(%remote, error = %e, "TLS handshake refused");
                    return;
                }
                Err(_) => {
                    tracing::info!(%remote, "TLS handshake timed out");
                    return;
                }
            };
            let session = stream.get_ref().1;
            let certs = session.peer_certificates().filter(|c| !c.is_empty());
            let identity = certs.map(|c| PeerIdentity::from_der(&c[0]));
            if let Some(id) = &identity {
                tracing::debug!(
                    %remote,
                    peer_sha256 = %id.fingerprint_hex(),
                    peer_cn = id.subject_cn.as_deref().unwrap_or(""),
                    "client certificate accepted"
                );
            }
            let peer = Peer {
                identity,
                protocol: match session.alpn_protocol() {
                    Some(b"h2") => Protocol::Http2,
                    Some(_) => Protocol::Http1,
                    None => Protocol::Either,
                },
                client: certs.map(|c| Client {
                    reloads,
                    tls: tls.clone(),
                    chain: ClientChain::new(c),
                }),
            };
            serve_io(stream, remote, peer, router, limits, shutdown, room).await
        }
    }
}

/// What the TLS handshake settled about a connection.
#[derive(Default)]
struct Peer {
    identity: Option<PeerIdentity>,
    protocol: Protocol,
    client: Option<Client>,
}

/// The HTTP version a connection speaks: the one agreed by ALPN, or, without ALPN (and on
/// plain connections), whichever the client's first bytes say.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Protocol {
    #[default]
    Either,
    Http1,
    Http2,
}

/// A client certificate accepted in the handshake, checked again when the certificates are
/// reloaded and when it expires: a connection whose client no longer verifies (its CA taken
/// out of `client_ca`, its certificate expired) closes.
struct Client {
    tls: Arc<TlsReloader>,
    chain: ClientChain,
    reloads: watch::Receiver<u64>,
}

impl Client {
    /// Waits for the next reload (forever once the reloader is gone).
    async fn reloaded(client: &mut Option<Client>) {
        let Some(c) = client else {
            return std::future::pending().await;
        };
        if c.reloads.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Why the client is no longer accepted, if it is not.
    fn refused(&self, now: std::time::SystemTime) -> Option<rustls::Error> {
        self.tls.verify_client(&self.chain, now).err()
    }
}

/// Waits until `expires` (forever without it).
async fn until(expires: Option<std::time::SystemTime>) {
    let Some(t) = expires else {
        return std::future::pending().await;
    };
    let left = t
        .duration_since(std::time::SystemTime::now())
        .unwrap_or(Duration::ZERO);
    tokio::time::sleep(left).await;
}

async fn serve_io<I>(
    io: I,
    remote: SocketAddr,
    peer: Peer,
    router: Router,
    limits: ConnectionLimits,
    shutdown: Shutdown,
    room: Arc<Room>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Peer {
        identity,
        protocol,
        mut client,
    } = peer;
    let activity = Arc::new(Activity::new());
    let expires = client.as_ref().and_then(|c| c.chain.expires);
    let service = {
        let activity = activity.clone();
        let room = room.clone();
        hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(remote));
            if let Some(id) = &identity {
                req.extensions_mut().insert(id.clone());
            }
            let http2 = req.version() == hyper::Version::HTTP_2;
            let busy = Busy::start(&activity);
            // Checked for every request: an HTTP/2 client may open streams until it
            // acknowledges the GOAWAY, and a request may come between an expiry and its timer.
            let refused = activity.refused.load(Ordering::SeqCst)
                || expires.is_some_and(|t| std::time::SystemTime::now() >= t);
            let answer = (!refused).then(|| router.clone().oneshot(req));
            let (activity, room) = (activity.clone(), room.clone());
            async move {
                let mut response = match answer {
                    Some(answer) => answer.await,
                    None => Ok(no_longer_accepted()),
                };
                // A handler that ends the connection (`Connection: close`, e.g. for a client
                // without the required certificate): HTTP/2 has no such header and says it
                // with GOAWAY.
                if let Ok(r) = &mut response {
                    let closes = r
                        .headers()
                        .get(header::CONNECTION)
                        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
                    if closes && http2 {
                        r.headers_mut().remove(header::CONNECTION);
                        activity.close.notify_one();
                    }
                }
                if busy.answered(&room) {
                    tracing::debug!(%remote, "connection closes after this answer to make room for a new one");
                    match &mut response {
                        // The client learns it from the answer and opens a new connection.
                        Ok(r) if !http2 => {
                            r.headers_mut()
                                .insert(header::CONNECTION, HeaderValue::from_static("close"));
                        }
                        // HTTP/2 says it with GOAWAY (a graceful shutdown).
                        _ => activity.close.notify_one(),
                    }
                }
                response
            }
        })
    };
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.handshake_timeout);
    builder.http2().timer(TokioTimer::new());
    // The version ALPN agreed is the only one served: a client that said h2 and sends
    // HTTP/1.1 (or the other way round) gets a protocol error, not an answer.
    let builder = match protocol {
        Protocol::Either => builder,
        Protocol::Http1 => builder.http1_only(),
        Protocol::Http2 => builder.http2_only(),
    };
    let conn = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let stop = shutdown.wait();
    tokio::pin!(stop);
    let expiry = until(expires);
    tokio::pin!(expiry);
    let mut asked = room.asked.subscribe();
    asked.mark_unchanged();
    let opened = Instant::now();
    // Set when the connection was asked to close: when it was, so that a peer that never
    // lets it end (an HTTP/2 client that never acknowledges the GOAWAY's PING) is dropped.
    let mut closing: Option<Instant> = None;
    let mut stopping = false;
    let mut check =
        tokio::time::interval((limits.handshake_timeout / 2).max(Duration::from_millis(10)));
    check.tick().await;
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(%remote, error = %e, "connection ended with an error");
                }
                return;
            }
            _ = &mut stop, if !stopping => {
                // Finish the requests in flight, refuse new ones on this connection; one that
                // does not end is dropped as any connection asked to close is.
                conn.as_mut().graceful_shutdown();
                closing.get_or_insert_with(Instant::now);
                stopping = true;
            }
            changed = asked.changed(), if closing.is_none() || activity.refused.load(Ordering::SeqCst) => {
                let refused = activity.refused.load(Ordering::SeqCst);
                // An error: the room is gone (this connection holds it, so it does not happen).
                if changed.is_err() {
                    closing.get_or_insert_with(Instant::now);
                } else if refused {
                    // Its client is no longer accepted, and every request it sends is refused:
                    // when idle, it goes for a waiting connection at once, whether or not its
                    // client lets the close end.
                    if activity.idle_since().is_some() && room.take() {
                        tracing::debug!(%remote, "connection of a client no longer accepted dropped to make room for a new one");
                        dropped(&room, "client no longer accepted when a new connection waited");
                        return;
                    }
                } else if activity.idle_since().is_some_and(|t| room.take_idle(t)) {
                    tracing::debug!(%remote, "idle connection closed to make room for a new one");
                    conn.as_mut().graceful_shutdown();
                    closing = Some(Instant::now());
                }
            }
            _ = activity.close.notified(), if closing.is_none() => {
                conn.as_mut().graceful_shutdown();
                closing = Some(Instant::now());
            }
            _ = Client::reloaded(&mut client), if !activity.refused.load(Ordering::SeqCst) => {
                if let Some(e) = client.as_ref().and_then(|c| c.refused(std::time::SystemTime::now())) {
                    tracing::warn!(%remote, error = %e, "client certificate no longer accepted after the certificates were reloaded: connection closes");
                    activity.refused.store(true, Ordering::SeqCst);
                    if closing.is_none() {
                        conn.as_mut().graceful_shutdown();
                        closing = Some(Instant::now());
                    }
                }
            }
            _ = &mut expiry, if !activity.refused.load(Ordering::SeqCst) => {
                tracing::info!(%remote, "client certificate expired: connection closes");
                activity.refused.store(true, Ordering::SeqCst);
                if closing.is_none() {
                    conn.as_mut().graceful_shutdown();
                    closing = Some(Instant::now());
                }
            }
            _ = check.tick() => {
                let idle = activity.idle_since().is_some();
                match overdue(opened, closing, activity.asked.load(Ordering::SeqCst), idle, &limits, Instant::now()) {
                    None => {}
                    Some(why) => {
                        tracing::debug!(%remote, why, "connection dropped");
                        dropped(&room, why);
                        return;
                    }
                }
            }
        }
    }
}

/// The answer to a request on a connection whose client certificate is no longer accepted:
/// authentication failed (spec §1.2: 403, no detail), and the connection ends.
fn no_longer_accepted() -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        axum::http::StatusCode::FORBIDDEN,
        [(header::CONNECTION, HeaderValue::from_static("close"))],
        "client certificate no longer accepted",
    )
        .into_response()
}

fn dropped(room: &Room, why: &'static str) {
    metrics::counter!(CONNECTIONS_DROPPED_TOTAL, "listener" => room.listener, "why" => why)
        .increment(1);
}

/// Why a connection is dropped without waiting for it to end, if it is: no request within
/// the handshake budget after it opened (after its TLS handshake), or, once asked to close, no
/// end within the handshake budget while idle (the peer does not let it end) or within the
/// drain timeout at all.
fn overdue(
    opened: Instant,
    closing: Option<Instant>,
    asked: bool,
    idle: bool,
    limits: &ConnectionLimits,
    now: Instant,
) -> Option<&'static str> {
    let since = |t: Instant| now.saturating_duration_since(t);
    if !asked && since(opened) >= limits.handshake_timeout {
        return Some("no request within the handshake timeout");
    }
    let closing = since(closing?);
    if idle && closing >= limits.handshake_timeout {
        return Some("asked to close, idle, and not ended by the peer");
    }
    (closing >= limits.drain_timeout)
        .then_some("asked to close, and not ended within the drain timeout")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `idle`: how long the connection has been idle; `busy`: how long ago a busy connection
    /// last made room (`None`: never).
    fn check(idle_ms: u64, busy_ms: Option<u64>, closes: bool) {
        let now = Instant::now() + Duration::from_secs(10);
        let ago = |ms: u64| now - Duration::from_millis(ms);
        assert_eq!(
            idle_closes(ago(idle_ms), busy_ms.map(ago), now),
            closes,
            "idle {idle_ms} ms, busy made room {busy_ms:?} ms ago"
        );
    }

    /// Times in milliseconds since the connection opened; handshake budget 5 s, drain 60 s.
    fn check_overdue(
        now: u64,
        closing: Option<u64>,
        asked: bool,
        idle: bool,
        expected: Option<&str>,
    ) {
        let opened = Instant::now();
        let at = |ms: u64| opened + Duration::from_millis(ms);
        let limits = ConnectionLimits {
            max_connections: 1,
            handshake_timeout: Duration::from_secs(5),
            drain_timeout: Duration::from_secs(60),
        };
        assert_eq!(
            overdue(opened, closing.map(at), asked, idle, &limits, at(now)),
            expected,
            "at {now} ms, closing since {closing:?}, asked {asked}, idle {idle}"
        );
    }

    #[test]
    fn connections_that_hold_a_slot_for_nothing_are_dropped() {
        let silent = Some("no request within the handshake timeout");
        let stuck = Some("asked to close, idle, and not ended by the peer");
        let slow = Some("asked to close, and not ended within the drain timeout");
        check_overdue(4_999, None, false, true, None);
        check_overdue(5_000, None, false, true, silent);
        check_overdue(500_000, None, true, true, None);
        check_overdue(500_000, None, true, false, None);
        check_overdue(9_999, Some(5_000), true, true, None);
        check_overdue(10_000, Some(5_000), true, true, stuck);
        check_overdue(64_999, Some(5_000), true, false, None);
        check_overdue(65_000, Some(5_000), true, false, slow);
        check_overdue(65_000, Some(5_000), true, true, stuck);
    }

    #[test]
    fn idle_connections_close_only_when_busy_ones_do_not() {
        check(0, None, false);
        check(999, None, false);
        check(1000, None, true);
        check(5000, None, true);
        check(5000, Some(0), false);
        check(5000, Some(999), false);
        check(5000, Some(1000), true);
        check(999, Some(5000), false);
        check(1000, Some(1000), true);
    }
}
