//! Bounded per-handle and per-session event streams with a stated slow-consumer policy.
//!
//! Events are kept only for a subscriber: [`Handle::events`](crate::Handle::events) and
//! [`Session::events`](crate::Session::events) subscribe, and until then (or after the stream
//! is dropped) events cost nothing and are not counted as lost. Subscribe before sending the
//! request whose events you want. One stream at a time: subscribing again ends the earlier
//! stream (it yields `None`) and the new one gets what comes next.
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

/// Items of a bounded stream: they can say "you missed some" and "this is the end".
///
/// The client's streams carry [`HandleEvent`] and [`SessionEvent`] (ending with a
/// [`CloseReason`]); other crates of the workspace (`janus-evh`) implement it for their own
/// items and reuse the queue through [`channel`].
pub trait StreamEvent: Send + 'static {
    /// Why a stream ended, as its final item says.
    type Reason: Clone + Send + 'static;
    /// The item reporting `missed` dropped items.
    fn lagged(missed: u64) -> Self;
    /// The final item.
    fn closed(reason: Self::Reason) -> Self;
    /// The reason given when every sender went away without [`EventSender::close`].
    fn released() -> Self::Reason;
}

impl StreamEvent for HandleEvent {
    type Reason = CloseReason;
    fn lagged(missed: u64) -> Self {
        HandleEvent::Lagged { missed }
    }
    fn closed(reason: CloseReason) -> Self {
        HandleEvent::Closed(reason)
    }
    fn released() -> CloseReason {
        CloseReason::Released
    }
}

impl StreamEvent for SessionEvent {
    type Reason = CloseReason;
    fn lagged(missed: u64) -> Self {
        SessionEvent::Lagged { missed }
    }
    fn closed(reason: CloseReason) -> Self {
        SessionEvent::Closed(reason)
    }
    fn released() -> CloseReason {
        CloseReason::Released
    }
}

/// The queue between the connection task and one consumer.
///
/// A `VecDeque` behind a mutex rather than a tokio channel: it allocates nothing until the
/// first event (most sessions and many handles never get one), where a tokio channel
/// allocates a block of 32 slots for each of the two streams of every lifecycle. The lock
/// is held for a push or a pop, never across an await.
struct Queue<T: StreamEvent> {
    items: VecDeque<T>,
    capacity: usize,
    /// Set when the producer is done with the stream.
    closed: Option<T::Reason>,
    sender_gone: bool,
    /// The subscription events go to: 0 before the first, and after its stream is dropped.
    subscriber: u64,
    /// Subscriptions made so far.
    subscriptions: u64,
    /// Events dropped since the last one that fit (told as `Lagged` before the next).
    missed: u64,
    waker: Option<Waker>,
}

type Shared<T> = Arc<Mutex<Queue<T>>>;

fn lock<T: StreamEvent>(q: &Mutex<Queue<T>>) -> MutexGuard<'_, Queue<T>> {
    // Nothing panics while holding it; recover the data if something ever did.
    q.lock().unwrap_or_else(|e| e.into_inner())
}

/// The producer's end of one event stream (the connection task's, for the client's streams).
///
/// Share it (in an `Arc`) to feed one stream from several tasks; the stream ends when the
/// last sender is gone.
pub struct EventSender<T: StreamEvent> {
    queue: Shared<T>,
}

/// The consumer's end: makes streams on demand ([`EventSource::subscribe`]).
pub struct EventSource<T: StreamEvent> {
    queue: Shared<T>,
}

/// Makes a bounded event queue with no subscriber yet, holding at most `capacity` items
/// (at least 2) for its subscriber; see the module docs for the policy.
///
/// ```
/// # use janus_core as janus_client;
/// use janus_client::events::channel;
/// use janus_client::{CloseReason, HandleEvent};
///
/// let (sender, source) = channel::<HandleEvent>(8);
/// let mut stream = source.subscribe();
/// assert_eq!(sender.deliver(HandleEvent::WebrtcUp), 0);
/// sender.close(CloseReason::Detached);
/// # tokio_test::block_on(async {
/// assert_eq!(stream.recv().await, Some(HandleEvent::WebrtcUp));
/// assert_eq!(stream.recv().await, Some(HandleEvent::Closed(CloseReason::Detached)));
/// assert_eq!(stream.recv().await, None);
/// # });
/// ```
pub fn channel<T: StreamEvent>(capacity: usize) -> (EventSender<T>, EventSource<T>) {
    let queue = Arc::new(Mutex::new(Queue {
        items: VecDeque::new(),
        capacity: capacity.max(2),
        closed: None,
        sender_gone: false,
        subscriber: 0,
        subscriptions: 0,
        missed: 0,
        waker: None,
    }));
    (
        EventSender {
            queue: queue.clone(),
        },
        EventSource { queue },
    )
}

impl<T: StreamEvent> EventSource<T> {
    /// A stream of what comes from now on; an earlier stream ends.
    pub fn subscribe(&self) -> EventStream<T> {
        let (id, waker) = {
            let mut q = lock(&self.queue);
            q.subscriptions += 1;
            q.subscriber = q.subscriptions;
            q.items.clear();
            q.missed = 0;
            (q.subscriber, q.waker.take())
        };
        // The earlier stream, if one waits, sees it was replaced.
        if let Some(w) = waker {
            w.wake();
        }
        EventStream {
            queue: self.queue.clone(),
            id,
            done: false,
        }
    }
}

impl<T: StreamEvent> EventSender<T> {
    /// Delivers without waiting; returns how many events were dropped by this call (0 or 1).
    pub fn deliver(&self, event: T) -> u64 {
        let waker = {
            let mut q = lock(&self.queue);
            if q.subscriber == 0 {
                // Nobody listens: that is the application's choice, not a loss.
                return 0;
            }
            if q.missed > 0 {
                if q.items.len() >= q.capacity {
                    q.missed += 1;
                    return 1;
                }
                let missed = std::mem::take(&mut q.missed);
                q.items.push_back(T::lagged(missed));
            }
            if q.items.len() >= q.capacity {
                q.missed += 1;
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

    /// Ends the stream: its consumer gets `closed(reason)` after what is buffered.
    pub fn close(self, reason: T::Reason) {
        lock(&self.queue).closed.get_or_insert(reason);
        // Dropping `self` wakes the consumer.
    }
}

impl<T: StreamEvent> Drop for EventSender<T> {
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

/// A stream of events for one handle ([`HandleEvent`]) or one session ([`SessionEvent`])
/// (or of any other [`StreamEvent`] fed through [`channel`]).
///
/// It ends after a final `Closed(reason)` event, or (yielding `None`) when a newer stream
/// of the same handle or session replaced it. See the module docs of `events` for the
/// subscription and slow-consumer policies.
pub struct EventStream<T: StreamEvent> {
    queue: Shared<T>,
    /// Which subscription this is.
    id: u64,
    done: bool,
}

impl<T: StreamEvent> Drop for EventStream<T> {
    fn drop(&mut self) {
        let mut q = lock(&self.queue);
        if q.subscriber == self.id {
            q.subscriber = 0;
            // Free what nobody will read.
            q.items.clear();
            q.missed = 0;
        }
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
        if q.subscriber != self.id {
            // Replaced by a newer stream.
            self.done = true;
            return Poll::Ready(None);
        }
        if let Some(ev) = q.items.pop_front() {
            return Poll::Ready(Some(ev));
        }
        if q.sender_gone {
            self.done = true;
            // Kept: a later subscriber gets the same final event.
            let reason = q.closed.clone().unwrap_or_else(T::released);
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

impl<T: StreamEvent> std::fmt::Debug for EventStream<T> {
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

    fn subscribed<T: StreamEvent>(capacity: usize) -> (EventSender<T>, EventStream<T>) {
        let (tx, source) = channel(capacity);
        (tx, source.subscribe())
    }

    #[test]
    fn slow_consumer_loses_newest_and_is_told() {
        let (tx, mut rx) = subscribed::<HandleEvent>(2);
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
        let (tx, rx) = subscribed::<SessionEvent>(2);
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
        let (tx, rx) = subscribed::<HandleEvent>(4);
        drop(tx);
        let all: Vec<_> = tokio_test::block_on(rx.collect());
        assert_eq!(all, vec![HandleEvent::Closed(CloseReason::Released)]);
    }

    #[test]
    fn events_before_a_subscriber_cost_nothing_and_are_not_losses() {
        let (tx, source) = channel::<HandleEvent>(2);
        for _ in 0..10 {
            assert_eq!(tx.deliver(HandleEvent::WebrtcUp), 0);
        }
        assert!(lock(&source.queue).items.is_empty());
        let mut rx = source.subscribe();
        tx.deliver(HandleEvent::Detached);
        assert_eq!(tokio_test::block_on(rx.recv()), Some(HandleEvent::Detached));
        // Dropped: nothing is kept again.
        drop(rx);
        assert_eq!(tx.deliver(HandleEvent::WebrtcUp), 0);
        assert!(lock(&source.queue).items.is_empty());
    }

    #[test]
    fn a_new_subscription_ends_the_old_one_and_a_late_one_still_sees_the_end() {
        let (tx, source) = channel::<HandleEvent>(4);
        let mut first = source.subscribe();
        tx.deliver(HandleEvent::WebrtcUp);
        let mut second = source.subscribe();
        assert_eq!(tokio_test::block_on(first.recv()), None, "replaced");
        tx.deliver(HandleEvent::Detached);
        tx.close(CloseReason::Detached);
        let all: Vec<_> = tokio_test::block_on((&mut second).collect());
        assert_eq!(
            all,
            vec![
                HandleEvent::Detached,
                HandleEvent::Closed(CloseReason::Detached)
            ]
        );
        let late: Vec<_> = tokio_test::block_on(source.subscribe().collect());
        assert_eq!(late, vec![HandleEvent::Closed(CloseReason::Detached)]);
    }
}
