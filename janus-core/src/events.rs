//! Bounded per-handle and per-session event streams with a stated slow-consumer policy.
//!
//! Policy: each stream holds at most `event_buffer` events. When it is full, new events are
//! dropped and counted; before the next event that fits, the stream receives one
//! `Lagged { missed }` event saying how many were lost. The connection task never waits
//! for a consumer, so a handle whose consumer never reads delays nobody else and holds at
//! most `event_buffer` events. When the handle or session goes away, the stream yields a
//! final `Closed(reason)` and then ends, whatever the buffer's state.

use futures::Stream;
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use crate::protocol::{CloseReason, HandleEvent, SessionEvent};

mod sealed {
    pub trait Sealed {}
    impl Sealed for crate::protocol::HandleEvent {}
    impl Sealed for crate::protocol::SessionEvent {}
}

/// Event types that can say "you missed some" and "this is the end" ([`HandleEvent`] and
/// [`SessionEvent`]; sealed).
pub trait StreamEvent: sealed::Sealed + Send + 'static {
    /// The event reporting `missed` dropped events.
    fn lagged(missed: u64) -> Self;
    /// The final event.
    fn closed(reason: CloseReason) -> Self;
}

impl StreamEvent for HandleEvent {
    fn lagged(missed: u64) -> Self {
        HandleEvent::Lagged { missed }
    }
    fn closed(reason: CloseReason) -> Self {
        HandleEvent::Closed(reason)
    }
}

impl StreamEvent for SessionEvent {
    fn lagged(missed: u64) -> Self {
        SessionEvent::Lagged { missed }
    }
    fn closed(reason: CloseReason) -> Self {
        SessionEvent::Closed(reason)
    }
}

/// The queue between the connection task and one consumer.
///
/// A `VecDeque` behind a mutex rather than a tokio channel: it allocates nothing until the
/// first event (most sessions and many handles never get one), where a tokio channel
/// allocates a block of 32 slots for each of the two streams of every lifecycle. The lock
/// is held for a push or a pop, never across an await.
struct Queue<T> {
    items: VecDeque<T>,
    capacity: usize,
    /// Set when the connection task is done with the stream.
    closed: Option<CloseReason>,
    sender_gone: bool,
    receiver_gone: bool,
    waker: Option<Waker>,
}

type Shared<T> = Arc<Mutex<Queue<T>>>;

fn lock<T>(q: &Mutex<Queue<T>>) -> MutexGuard<'_, Queue<T>> {
    // Nothing panics while holding it; recover the data if something ever did.
    q.lock().unwrap_or_else(|e| e.into_inner())
}

/// The connection task's end of one event stream.
pub(crate) struct EventSender<T> {
    queue: Shared<T>,
    missed: u64,
}

/// Makes a bounded event stream.
pub(crate) fn channel<T: StreamEvent>(capacity: usize) -> (EventSender<T>, EventStream<T>) {
    let queue = Arc::new(Mutex::new(Queue {
        items: VecDeque::new(),
        capacity: capacity.max(2),
        closed: None,
        sender_gone: false,
        receiver_gone: false,
        waker: None,
    }));
    (
        EventSender {
            queue: queue.clone(),
            missed: 0,
        },
        EventStream { queue, done: false },
    )
}

impl<T: StreamEvent> EventSender<T> {
    /// Delivers without waiting; returns how many events were dropped by this call (0 or 1).
    pub(crate) fn deliver(&mut self, event: T) -> u64 {
        let waker = {
            let mut q = lock(&self.queue);
            if q.receiver_gone {
                // Nobody listens: that is the application's choice, not a loss.
                return 0;
            }
            if self.missed > 0 {
                if q.items.len() >= q.capacity {
                    self.missed += 1;
                    return 1;
                }
                q.items.push_back(T::lagged(self.missed));
                self.missed = 0;
            }
            if q.items.len() >= q.capacity {
                self.missed += 1;
                return 1;
            }
            q.items.push_back(event);
            q.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        0
    }

    /// Ends the stream: its consumer gets `Closed(reason)` after what is buffered.
    pub(crate) fn close(self, reason: CloseReason) {
        lock(&self.queue).closed.get_or_insert(reason);
        // Dropping `self` wakes the consumer.
    }
}

impl<T> Drop for EventSender<T> {
    fn drop(&mut self) {
        let waker = {
            let mut q = lock(&self.queue);
            q.sender_gone = true;
            q.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// A stream of events for one handle ([`HandleEvent`]) or one session ([`SessionEvent`]).
///
/// It ends after a final `Closed(reason)` event. See the module docs of `events` for the
/// slow-consumer policy.
pub struct EventStream<T> {
    queue: Shared<T>,
    done: bool,
}

impl<T> Drop for EventStream<T> {
    fn drop(&mut self) {
        let mut q = lock(&self.queue);
        q.receiver_gone = true;
        // Free what nobody will read.
        q.items.clear();
    }
}

/// The event stream of a plugin handle.
pub type HandleEvents = EventStream<HandleEvent>;
/// The event stream of a session.
pub type SessionEvents = EventStream<SessionEvent>;

impl<T: StreamEvent> EventStream<T> {
    /// The next event; `None` after the final `Closed` event.
    pub async fn recv(&mut self) -> Option<T> {
        futures::future::poll_fn(|cx| self.poll_next_event(cx)).await
    }

    fn poll_next_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        if self.done {
            return Poll::Ready(None);
        }
        let mut q = lock(&self.queue);
        if let Some(ev) = q.items.pop_front() {
            return Poll::Ready(Some(ev));
        }
        if q.sender_gone {
            self.done = true;
            let reason = q.closed.take().unwrap_or(CloseReason::Released);
            return Poll::Ready(Some(T::closed(reason)));
        }
        match &q.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => q.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl<T: StreamEvent> Stream for EventStream<T> {
    type Item = T;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.get_mut().poll_next_event(cx)
    }
}

impl<T> std::fmt::Debug for EventStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("done", &self.done)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[test]
    fn slow_consumer_loses_newest_and_is_told() {
        let (mut tx, mut rx) = channel::<HandleEvent>(2);
        assert_eq!(tx.deliver(HandleEvent::WebrtcUp), 0);
        assert_eq!(tx.deliver(HandleEvent::Detached), 0);
        assert_eq!(tx.deliver(HandleEvent::IceFailed), 1);
        assert_eq!(tx.deliver(HandleEvent::IceFailed), 1);
        tokio_test::block_on(async {
            assert_eq!(rx.recv().await, Some(HandleEvent::WebrtcUp));
            assert_eq!(rx.recv().await, Some(HandleEvent::Detached));
        });
        // Room again: first the lag report, then the event.
        assert_eq!(tx.deliver(HandleEvent::WebrtcUp), 0);
        tx.close(CloseReason::Detached);
        let all: Vec<_> = tokio_test::block_on(rx.collect());
        assert_eq!(
            all,
            vec![
                HandleEvent::Lagged { missed: 2 },
                HandleEvent::WebrtcUp,
                HandleEvent::Closed(CloseReason::Detached)
            ]
        );
    }

    #[test]
    fn final_event_arrives_even_when_full() {
        let (mut tx, rx) = channel::<SessionEvent>(2);
        for _ in 0..5 {
            tx.deliver(SessionEvent::Timeout);
        }
        tx.close(CloseReason::SessionTimeout);
        let all: Vec<_> = tokio_test::block_on(rx.collect());
        assert_eq!(all.len(), 3);
        assert_eq!(all[2], SessionEvent::Closed(CloseReason::SessionTimeout));
    }

    #[test]
    fn dropped_sender_without_reason_reads_as_released() {
        let (tx, rx) = channel::<HandleEvent>(4);
        drop(tx);
        let all: Vec<_> = tokio_test::block_on(rx.collect());
        assert_eq!(all, vec![HandleEvent::Closed(CloseReason::Released)]);
    }
}
