//! The connection loop: accepting TCP connections and serving the router on each with hyper,
//! under a cap on open connections and a header-read timeout, with graceful shutdown.
//!
//! `axum::serve` sets no timeout at all, so a client that opens connections and never
//! finishes its headers keeps a file descriptor each until the process runs out of them
//! (`/healthz` then fails with "Too many open files"). Here:
//!
//! - at most [`ServeLimits::max_connections`] connections are open at once: a permit is
//!   taken *before* `accept`, so the excess waits in the kernel's backlog instead of
//!   costing a descriptor and a task;
//! - hyper's header-read timer closes a connection that has not sent a complete request
//!   head within [`ServeLimits::header_read_timeout`]. Hyper starts that timer whenever it
//!   waits for a request head, including on a kept-alive connection waiting for its next
//!   request, so the same bound is the idle (keep-alive) timeout;
//! - the whole request (body read included, since handlers read their bodies) is bounded by
//!   the router's timeout layer (`Config::request_timeout`);
//! - on shutdown the loop stops accepting, tells every connection to finish its current
//!   request and close, and waits up to [`ServeLimits::shutdown_grace`] for them.
//!
//! HTTP/1.1 only, like the router's axum features: hyper-util's `auto` builder would link
//! the HTTP/2 stack for a protocol no device speaks.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::metrics::Metrics;

/// The connection-level limits (from [`Config`](crate::Config)).
#[derive(Clone, Copy, Debug)]
pub struct ServeLimits {
    /// Most connections open at once; further clients wait in the listen backlog.
    pub max_connections: usize,
    /// A connection that has not sent a complete request head within this time (after it
    /// opened, or after its previous response) is closed.
    pub header_read_timeout: Duration,
    /// How long shutdown waits for open connections to finish.
    pub shutdown_grace: Duration,
}

/// Serves `router` on `listener` until `shutdown` resolves, then closes gracefully.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServeLimits,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    // Usually out of descriptors: give connections time to close rather
                    // than spinning on accept.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(CountingIo {
            inner: stream,
            metrics: metrics.clone(),
        });
        let connection = http.serve_connection(io, TowerToHyperService::new(router.clone()));
        let connection = graceful.watch(connection);
        let metrics = metrics.clone();
        metrics.connection_opened();
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection closed with an error");
            }
            metrics.connection_closed();
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the shutdown grace period");
    }
    Ok(())
}

/// A connection's byte stream, counting what the server reads from it: the proof, in
/// tests and in `/metrics`, that refused requests were not read.
struct CountingIo<T> {
    inner: T,
    metrics: Arc<Metrics>,
}

impl<T: AsyncRead + Unpin> AsyncRead for CountingIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = buf.filled().len().saturating_sub(before);
        if read > 0 {
            self.metrics.bytes_read(read as u64);
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for CountingIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
