//! The accept loop of the ebMS listener (plain or TLS), with the peer identity of each
//! connection put into its requests, and graceful shutdown: stop accepting, let requests in
//! flight finish, then return.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::tls::{PeerIdentity, TlsReloader};

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

/// Serves `router` on `listener` until `shutdown` fires, then drains open connections.
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<TlsReloader>>,
    router: Router,
    limits: ConnectionLimits,
    shutdown: Shutdown,
) {
    // Every connection task holds a clone of `done_tx`; when all are dropped, `recv` ends.
    let (done_tx, mut done_rx) = mpsc::channel::<()>(1);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let stop = shutdown.wait();
    tokio::pin!(stop);
    loop {
        let slot = tokio::select! {
            biased;
            _ = &mut stop => break,
            s = slots.clone().acquire_owned() => match s {
                Ok(s) => s,
                Err(_) => break,
            },
        };
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
        let tls = tls.clone();
        let router = router.clone();
        let shutdown = shutdown.clone();
        let done = done_tx.clone();
        tokio::spawn(async move {
            connection(stream, remote, tls, router, limits, shutdown).await;
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
) {
    let _ = stream.set_nodelay(true);
    match tls {
        None => serve_io(stream, remote, None, router, limits, shutdown).await,
        Some(tls) => {
            let acceptor = TlsAcceptor::from(tls.current());
            let accepted =
                tokio::time::timeout(limits.handshake_timeout, acceptor.accept(stream)).await;
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
            let identity = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|certs| certs.first())
                .map(|der| PeerIdentity::from_der(der));
            if let Some(id) = &identity {
                tracing::debug!(
                    %remote,
                    peer_sha256 = %id.fingerprint_hex(),
                    peer_cn = id.subject_cn.as_deref().unwrap_or(""),
                    "client certificate accepted"
                );
            }
            serve_io(stream, remote, identity, router, limits, shutdown).await
        }
    }
}

async fn serve_io<I>(
    io: I,
    remote: SocketAddr,
    identity: Option<PeerIdentity>,
    router: Router,
    limits: ConnectionLimits,
    shutdown: Shutdown,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(remote));
        if let Some(id) = &identity {
            req.extensions_mut().insert(id.clone());
        }
        router.clone().oneshot(req)
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.handshake_timeout);
    builder.http2().timer(TokioTimer::new());
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(conn);
    let stop = shutdown.wait();
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(%remote, error = %e, "connection ended with an error");
            }
        }
        _ = stop => {
            // Finish the requests in flight, refuse new ones on this connection.
            conn.as_mut().graceful_shutdown();
            if let Err(e) = conn.await {
                tracing::debug!(%remote, error = %e, "connection ended with an error during shutdown");
            }
        }
    }
}
