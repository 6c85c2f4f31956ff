//! Per-connection safety nets: a connection on which nothing moves for too
//! long is closed, and a handler that panics answers 500 instead of
//! silently dropping the connection.

use std::future::Future;
use std::io;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// Wraps a stream so that an operation waiting longer than `timeout`
/// since the last byte moved in either direction fails with `TimedOut`.
///
/// This catches what hyper's header read timeout does not: a client that
/// stops reading a response (its receive window full, the write pending
/// forever) and a TLS handshake that stalls. Progress in one direction
/// counts for both, so a long response to a slow but steady reader is
/// never cut, and a read hyper keeps pending while it writes is not
/// mistaken for an idle connection.
#[derive(Debug)]
pub struct Stall<T> {
    inner: T,
    timeout: Option<Duration>,
    last: Instant,
    sleep: Pin<Box<Sleep>>,
}

impl<T> Stall<T> {
    /// `None` disables the timeout. Must be called inside a tokio runtime.
    pub fn new(inner: T, timeout: Option<Duration>) -> Self {
        let last = Instant::now();
        let far = last + timeout.unwrap_or(Duration::from_secs(86_400));
        Stall {
            inner,
            timeout,
            last,
            sleep: Box::pin(tokio::time::sleep_until(far)),
        }
    }

    fn progress(&mut self) {
        self.last = Instant::now();
    }

    /// Called when the inner stream is not ready: fails once nothing has
    /// moved for the whole timeout, else arranges to be woken then.
    fn stalled<R>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<R>> {
        let Some(timeout) = self.timeout else {
            return Poll::Pending;
        };
        let deadline = self.last + timeout;
        if self.sleep.deadline() != deadline {
            self.sleep.as_mut().reset(deadline);
        }
        match self.sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "connection stalled: nothing sent or received within the idle timeout",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn after<R>(&mut self, cx: &mut Context<'_>, p: Poll<io::Result<R>>) -> Poll<io::Result<R>> {
        match p {
            Poll::Ready(r) => {
                self.progress();
                Poll::Ready(r)
            }
            Poll::Pending => self.stalled(cx),
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Stall<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let p = Pin::new(&mut this.inner).poll_read(cx, buf);
        this.after(cx, p)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Stall<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let p = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.after(cx, p)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let p = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.after(cx, p)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let p = Pin::new(&mut this.inner).poll_flush(cx);
        this.after(cx, p)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let p = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.after(cx, p)
    }
}

/// Runs a future, turning a panic while polling it into `Err(())`.
///
/// tokio already confines a panic to the task it happens in, so the
/// server survives one anyway; this makes the client get a 500 for it.
#[derive(Debug)]
pub struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> CatchUnwind<F> {
    /// Wraps `fut`.
    pub fn new(fut: F) -> Self {
        CatchUnwind(Box::pin(fut))
    }
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, ()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.get_mut().0.as_mut();
        // After a panic the future is never polled again (Ready is final),
        // and the shared state it touches is behind poison-tolerant locks
        // or atomics, so observing it afterwards is fine.
        match std::panic::catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(_) => Poll::Ready(Err(())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    fn always() -> bool {
        std::hint::black_box(true)
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap()
    }

    #[test]
    fn catch_unwind_turns_a_panic_into_an_error() {
        rt().block_on(async {
            assert_eq!(CatchUnwind::new(async { 7 }).await, Ok(7));
            // Prints a panic message to the test output: expected.
            let r = CatchUnwind::new(async {
                tokio::task::yield_now().await;
                assert!(!always(), "deliberate panic inside a handler (test)");
                0
            })
            .await;
            assert_eq!(r, Err(()));
        });
    }

    #[test]
    fn stalled_reads_and_writes_time_out_progress_does_not() {
        rt().block_on(async {
            let limit = Some(Duration::from_secs(5));
            // Nothing arrives: the read fails after the timeout.
            let (near, _far) = tokio::io::duplex(64);
            let mut stall = Stall::new(near, limit);
            let start = Instant::now();
            let err = stall.read_u8().await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::TimedOut);
            assert_eq!(start.elapsed(), Duration::from_secs(5));

            // The peer stops reading: the write fails once the pipe is full.
            let (near, _far) = tokio::io::duplex(64);
            let mut stall = Stall::new(near, limit);
            let err = stall.write_all(&[0; 1000]).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::TimedOut);

            // A slow but steady reader is served in full.
            let (near, mut far) = tokio::io::duplex(64);
            let mut stall = Stall::new(near, limit);
            let reader = tokio::spawn(async move {
                let mut got = 0;
                let mut buf = [0u8; 16];
                loop {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    match far.read(&mut buf).await.unwrap() {
                        0 => return got,
                        n => got += n,
                    }
                }
            });
            stall.write_all(&[1; 256]).await.unwrap();
            stall.shutdown().await.unwrap();
            drop(stall);
            assert_eq!(reader.await.unwrap(), 256);

            // No timeout: waits as long as it takes.
            let (near, mut far) = tokio::io::duplex(64);
            let mut stall = Stall::new(near, None);
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                far.write_all(b"x").await.unwrap();
            });
            assert_eq!(stall.read_u8().await.unwrap(), b'x');
        });
    }
}
