//! Per-connection safety nets: a connection on which nothing moves for too
//! long, or that takes too long to take a response, is closed, and a
//! handler that panics answers 500 instead of silently dropping the
//! connection.

use std::future::Future;
use std::io;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// Wraps a stream so that an operation waiting longer than `timeout`
/// since the last byte moved in either direction fails with `TimedOut`.
///
/// This catches what hyper's header read timeout does not: a client that
/// stops reading a response (its receive window full, the write pending
/// forever) and a TLS handshake that stalls. Progress in one direction
/// counts for both, so a long response to a slow but steady reader is not
/// cut by this timeout, and a read hyper keeps pending while it writes is
/// not mistaken for an idle connection.
///
/// With [`Stall::limit_responses`], a response also fails the connection
/// once it has been sending for longer than the write timeout: a reader
/// slow enough to take minutes would otherwise hold the rendering it is
/// sent (tens of MB at 100,000 clients) for as long as it likes.
#[derive(Debug)]
pub struct Stall<T> {
    inner: T,
    timeout: Option<Duration>,
    last: Instant,
    sleep: Pin<Box<Sleep>>,
    /// The connection's responses and the write timeout.
    responses: Option<(Arc<Sending>, Duration)>,
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
            responses: None,
        }
    }

    /// Fails the connection when a response marked in `sending` has not
    /// been handed to the kernel whole within `timeout` (`None`: never).
    #[must_use]
    pub fn limit_responses(mut self, sending: Arc<Sending>, timeout: Option<Duration>) -> Self {
        self.responses = timeout.map(|t| (sending, t));
        self
    }

    fn progress(&mut self) {
        self.last = Instant::now();
    }

    /// When the response being sent must be done by.
    fn response_deadline(&self) -> Option<Instant> {
        let (sending, timeout) = self.responses.as_ref()?;
        Some(sending.since()? + *timeout)
    }

    /// The error for a response past its deadline, if it is.
    fn overdue(&self) -> Option<io::Error> {
        (self.response_deadline()? <= Instant::now()).then(|| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                "response not taken within the write timeout",
            )
        })
    }

    /// Called when the inner stream is not ready: fails once nothing has
    /// moved for the whole timeout, or the response being sent is past
    /// its deadline, else arranges to be woken at the first of the two.
    fn stalled<R>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<R>> {
        let idle = self.timeout.map(|t| self.last + t);
        let Some(deadline) = idle.into_iter().chain(self.response_deadline()).min() else {
            return Poll::Pending;
        };
        if self.sleep.deadline() != deadline {
            self.sleep.as_mut().reset(deadline);
        }
        match self.sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(self.overdue().unwrap_or_else(|| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    "connection stalled: nothing sent or received within the idle timeout",
                )
            }))),
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
        if let Some(e) = this.overdue() {
            return Poll::Ready(Err(e));
        }
        let p = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.after(cx, p)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Some(e) = this.overdue() {
            return Poll::Ready(Err(e));
        }
        let p = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.after(cx, p)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let p = Pin::new(&mut this.inner).poll_flush(cx);
        // hyper (and TLS above it) flush the stream once everything
        // buffered is written.
        if let (Poll::Ready(Ok(())), Some((sending, _))) = (&p, &this.responses) {
            sending.flushed();
        }
        this.after(cx, p)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let p = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.after(cx, p)
    }
}

/// The response a connection is sending: since when, and whether its body
/// has ended, after which it is done at the next flush of the stream.
/// Shared by the connection's [`Stall`] and its responses' [`Sent`]
/// bodies.
#[derive(Debug, Default)]
pub struct Sending(Mutex<Option<(Instant, bool)>>);

impl Sending {
    /// A response is ready to be sent.
    pub fn start(&self) {
        *self.state() = Some((Instant::now(), false));
    }

    fn body_ended(&self) {
        if let Some((_, ended)) = self.state().as_mut() {
            *ended = true;
        }
    }

    /// Everything written was handed to the kernel.
    fn flushed(&self) {
        let mut state = self.state();
        if matches!(*state, Some((_, true))) {
            *state = None;
        }
    }

    fn since(&self) -> Option<Instant> {
        self.state().map(|(since, _)| since)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Option<(Instant, bool)>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A response body that tells its connection's [`Sending`] when it ends
/// (hyper drops it then).
#[derive(Debug)]
pub struct Sent<B> {
    body: B,
    sending: Arc<Sending>,
}

impl<B> Sent<B> {
    /// `body`, of a response [`Sending::start`] was called for.
    pub fn new(body: B, sending: Arc<Sending>) -> Self {
        Sent { body, sending }
    }
}

impl<B> Drop for Sent<B> {
    fn drop(&mut self) {
        self.sending.body_ended();
    }
}

impl<B: Body<Data = Bytes> + Unpin> Body for Sent<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
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

    /// A reader that takes 16 bytes every 3 s, 48 s for 256 bytes.
    fn slow_reader(mut far: tokio::io::DuplexStream) -> tokio::task::JoinHandle<usize> {
        tokio::spawn(async move {
            let mut got = 0;
            let mut buf = [0u8; 16];
            loop {
                tokio::time::sleep(Duration::from_secs(3)).await;
                match far.read(&mut buf).await {
                    Ok(0) | Err(_) => return got,
                    Ok(n) => got += n,
                }
            }
        })
    }

    #[test]
    fn a_response_is_cut_at_the_write_timeout_and_only_while_sent() {
        rt().block_on(async {
            let limit = Some(Duration::from_secs(10));
            // A slow but steady reader: the idle timeout never fires, the
            // write timeout does, 10 s after the response was ready.
            let (near, far) = tokio::io::duplex(64);
            let sending = Arc::new(Sending::default());
            let mut stall = Stall::new(near, Some(Duration::from_secs(5)))
                .limit_responses(Arc::clone(&sending), limit);
            let reader = slow_reader(far);
            let start = Instant::now();
            sending.start();
            let err = stall.write_all(&[1; 256]).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::TimedOut);
            assert_eq!(start.elapsed(), Duration::from_secs(10));
            drop(stall);
            assert!(reader.await.unwrap() < 256);

            // A response sent in time, its body ended and flushed: a wait
            // for the next request is not cut by the write timeout.
            let (near, mut far) = tokio::io::duplex(1024);
            let sending = Arc::new(Sending::default());
            let mut stall = Stall::new(near, None).limit_responses(Arc::clone(&sending), limit);
            sending.start();
            stall.write_all(&[1; 256]).await.unwrap();
            drop(Sent::new((), Arc::clone(&sending)));
            stall.flush().await.unwrap();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                far.write_all(b"x").await.unwrap();
                far
            });
            assert_eq!(stall.read_u8().await.unwrap(), b'x');

            // Without a write timeout a response takes as long as it takes.
            let (near, far) = tokio::io::duplex(64);
            let mut stall = Stall::new(near, Some(Duration::from_secs(5)))
                .limit_responses(Arc::new(Sending::default()), None);
            let reader = slow_reader(far);
            stall.write_all(&[1; 256]).await.unwrap();
            stall.shutdown().await.unwrap();
            drop(stall);
            assert_eq!(reader.await.unwrap(), 256);
        });
    }
}
