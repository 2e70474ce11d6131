//! The accept loop: each connection is served by hyper with a time-out on
//! reading request headers, and the drain at shutdown is bounded.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Time limits of the connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Time a client has to send the request line and headers. Without it,
    /// a client that sends half its headers holds the connection open, and
    /// the drain at shutdown, forever.
    pub header_read_timeout: Duration,
    /// Time the connections in flight have to end after the shutdown
    /// signal. The connections still open then are closed.
    pub drain_timeout: Duration,
}

/// Serves `router` on `listener` until `signal` completes, then drains the
/// open connections for at most `limits.drain_timeout`.
pub async fn serve_connections(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    signal: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let (closing, closing_seen) = watch::channel(false);
    let open = Arc::new(AtomicUsize::new(0));
    tokio::pin!(signal);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection failed");
                    continue;
                }
            },
            () = &mut signal => break,
        };
        let connection = Connection {
            router: router.clone(),
            limits,
            closing: closing_seen.clone(),
            open: open.clone(),
        };
        tokio::spawn(connection.serve(stream));
    }
    drop(listener);
    drop(closing_seen);
    let _ = closing.send(true);
    drain(closing, &open, limits.drain_timeout).await;
    Ok(())
}

/// Waits until every connection task has dropped its receiver of
/// `closing`, or until `timeout`, and logs the connections left open.
async fn drain(closing: watch::Sender<bool>, open: &AtomicUsize, timeout: Duration) {
    let timeout_s = timeout.as_secs();
    if tokio::time::timeout(timeout, closing.closed())
        .await
        .is_ok()
    {
        tracing::info!("every connection closed");
        return;
    }
    let connections_cut = open.load(Ordering::SeqCst);
    tracing::warn!(
        connections_cut,
        timeout_s,
        "connections still open after the drain time-out are cut"
    );
}

struct Connection {
    router: Router,
    limits: ConnectionLimits,
    closing: watch::Receiver<bool>,
    open: Arc<AtomicUsize>,
}

impl Connection {
    async fn serve(mut self, stream: TcpStream) {
        self.open.fetch_add(1, Ordering::SeqCst);
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_read_timeout);
        let service = TowerToHyperService::new(self.router);
        let connection = builder
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        tokio::pin!(connection);
        let result = tokio::select! {
            result = connection.as_mut() => result,
            () = closing_requested(&mut self.closing) => {
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        };
        if let Err(e) = result {
            tracing::debug!(error = %e, "connection ended with an error");
        }
        self.open.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Completes when the shutdown starts, or when the accept loop is gone.
async fn closing_requested(closing: &mut watch::Receiver<bool>) {
    let _ = closing.wait_for(|closing| *closing).await;
}
