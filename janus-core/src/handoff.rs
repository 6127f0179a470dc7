//! Work a caller starts and the connection task finishes: the direct path of transports whose
//! request is a future (a RabbitMQ publish, an HTTP `POST` whose caller stopped waiting for
//! it: [`Handoff::hand_over`]).
//!
//! A caller's [`DirectSend::try_send`](crate::DirectSend::try_send) makes the request's
//! future and [`start`](Handoff::start)s it: its first poll, in the caller's task, puts the
//! request on its way (lapin or hyper write it from their own tasks), so the connection task
//! is not woken to send it. The transport's `recv` then [adopts](Handoff::poll_started) the
//! started futures and polls them to their end with its own waker. The connection task
//! first hears of a started future at its next turn for something else (a publish's answer
//! arrives by another way), unless the future ended at its first poll (it failed at once,
//! and that must be reported) or was [handed over](Handoff::hand_over).
//!
//! The list of started futures is bounded by the requests in flight: each caller waits for
//! its answer, and the connection task takes them all at each turn.

use futures::future::BoxFuture;
use futures::task::{waker, ArcWake, AtomicWaker};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

/// Wakes whichever task last asked for the started futures.
#[derive(Default)]
struct Kick(AtomicWaker);

impl ArcWake for Kick {
    fn wake_by_ref(kick: &Arc<Self>) {
        kick.0.wake();
    }
}

/// Futures started by callers and not yet adopted by the transport.
///
/// ```
/// use futures::FutureExt;
/// use janus_core::handoff::Handoff;
/// use std::task::{Context, Poll};
///
/// let handoff: Handoff<u32> = Handoff::new();
/// // In the caller's task: polled once, kept for the transport.
/// handoff.start(async { 7 }.boxed());
/// // In the transport's `recv`: adopted, then polled to the end with its own waker.
/// let mut cx = Context::from_waker(futures::task::noop_waker_ref());
/// let Poll::Ready(mut started) = handoff.poll_started(&mut cx) else { unreachable!() };
/// assert_eq!(started.len(), 1);
/// assert_eq!(started[0].as_mut().poll(&mut cx), Poll::Ready(7));
/// ```
pub struct Handoff<T> {
    started: Mutex<Vec<BoxFuture<'static, T>>>,
    kick: Arc<Kick>,
    /// Wakes `kick`'s task.
    kick_waker: Waker,
}

impl<T: Send + 'static> Default for Handoff<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> std::fmt::Debug for Handoff<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handoff")
            .field("started", &self.lock().len())
            .finish()
    }
}

impl<T: Send + 'static> Handoff<T> {
    /// An empty hand-off.
    pub fn new() -> Self {
        let kick = Arc::new(Kick::default());
        Handoff {
            started: Mutex::new(Vec::new()),
            kick_waker: waker(kick.clone()),
            kick,
        }
    }

    /// Polls `fut` once, from the caller's task, and keeps it for the transport. Its
    /// progress wakes nobody: the transport adopts it at its next turn, woken by something
    /// else (the answer, which comes another way, or a keepalive tick); only a future that
    /// ended at once wakes the transport, to report it.
    pub fn start(&self, mut fut: BoxFuture<'static, T>) {
        let first = fut
            .as_mut()
            .poll(&mut Context::from_waker(futures::task::noop_waker_ref()));
        let fut = match first {
            Poll::Pending => fut,
            Poll::Ready(out) => {
                self.kick_waker.wake_by_ref();
                Box::pin(futures::future::ready(out))
            }
        };
        self.lock().push(fut);
    }

    /// Keeps `fut`, which a caller polled and then gave up on, for the transport, and wakes
    /// the transport to adopt it: its waker is the caller's until the transport polls it.
    /// Not polled here, so it may be called from a `Drop` outside the runtime.
    pub fn hand_over(&self, fut: BoxFuture<'static, T>) {
        self.lock().push(fut);
        self.kick_waker.wake_by_ref();
    }

    /// The futures callers started, once there are any. Registers `cx`'s waker first, so a
    /// future started or woken after the look is not missed.
    pub fn poll_started(&self, cx: &mut Context<'_>) -> Poll<Vec<BoxFuture<'static, T>>> {
        self.kick.0.register(cx.waker());
        let mut started = self.lock();
        if started.is_empty() {
            return Poll::Pending;
        }
        Poll::Ready(std::mem::take(&mut *started))
    }
}

impl<T> Handoff<T> {
    fn lock(&self) -> MutexGuard<'_, Vec<BoxFuture<'static, T>>> {
        // Held for a push or a swap only.
        self.started.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::sync::oneshot;

    /// Counts its wake-ups.
    #[derive(Default)]
    struct Count(AtomicUsize);

    impl ArcWake for Count {
        fn wake_by_ref(c: &Arc<Self>) {
            c.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn adopt(h: &Handoff<u32>, waker: &Waker) -> Vec<BoxFuture<'static, u32>> {
        match h.poll_started(&mut Context::from_waker(waker)) {
            Poll::Ready(v) => v,
            Poll::Pending => Vec::new(),
        }
    }

    #[test]
    fn a_future_handed_over_wakes_the_transport_and_is_adopted_unpolled() {
        let h = Handoff::new();
        let count = Arc::new(Count::default());
        let w = waker(count.clone());
        assert!(adopt(&h, &w).is_empty());
        let (tx, rx) = oneshot::channel::<u32>();
        h.hand_over(rx.map(|r| r.unwrap_or(0)).boxed());
        assert_eq!(count.0.load(Ordering::SeqCst), 1, "woken to adopt it");
        let mut started = adopt(&h, &w);
        assert_eq!(started.len(), 1);
        let mut cx = Context::from_waker(&w);
        assert_eq!(started[0].as_mut().poll(&mut cx), Poll::Pending);
        tx.send(4).unwrap();
        assert_eq!(
            count.0.load(Ordering::SeqCst),
            2,
            "its progress wakes the transport"
        );
        assert_eq!(started[0].as_mut().poll(&mut cx), Poll::Ready(4));
    }

    #[test]
    fn only_an_immediate_end_wakes_the_transport_otherwise() {
        let h = Handoff::new();
        let count = Arc::new(Count::default());
        let w = waker(count.clone());
        assert!(adopt(&h, &w).is_empty());
        let (tx, rx) = oneshot::channel::<u32>();
        h.start(rx.map(|r| r.unwrap_or(0)).boxed());
        tx.send(5).unwrap();
        assert_eq!(count.0.load(Ordering::SeqCst), 0, "progress wakes nobody");
        h.start(async { 9 }.boxed());
        assert_eq!(count.0.load(Ordering::SeqCst), 1, "an immediate end does");
        let mut started = adopt(&h, &w);
        assert_eq!(started.len(), 2);
        let mut cx = Context::from_waker(&w);
        // Adopted, the first is polled again and finds its value.
        assert_eq!(started[0].as_mut().poll(&mut cx), Poll::Ready(5));
        assert_eq!(started[1].as_mut().poll(&mut cx), Poll::Ready(9));
        assert!(adopt(&h, &w).is_empty(), "taken once");
    }
}
