//! Bounded per-handle and per-session event streams with a stated slow-consumer policy.
//!
//! Policy: each stream holds at most `event_buffer` events. When it is full, new events are
//! dropped and counted; before the next event that fits, the stream receives one
//! `Lagged { missed }` event saying how many were lost. The connection task never waits
//! for a consumer, so a handle whose consumer never reads delays nobody else and holds at
//! most `event_buffer` events. When the handle or session goes away, the stream yields a
//! final `Closed(reason)` and then ends, whatever the buffer's state.

use futures::Stream;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::sync::mpsc;

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

type CloseSlot = Arc<Mutex<Option<CloseReason>>>;

/// The connection task's end of one event stream.
pub(crate) struct EventSender<T> {
    tx: mpsc::Sender<T>,
    missed: u64,
    close: CloseSlot,
}

/// Makes a bounded event stream.
pub(crate) fn channel<T: StreamEvent>(capacity: usize) -> (EventSender<T>, EventStream<T>) {
    let (tx, rx) = mpsc::channel(capacity.max(2));
    let close: CloseSlot = Arc::new(Mutex::new(None));
    (
        EventSender {
            tx,
            missed: 0,
            close: close.clone(),
        },
        EventStream {
            rx,
            close,
            done: false,
        },
    )
}

impl<T: StreamEvent> EventSender<T> {
    /// Delivers without waiting; returns how many events were dropped by this call (0 or 1).
    pub(crate) fn deliver(&mut self, event: T) -> u64 {
        if self.missed > 0 {
            match self.tx.try_send(T::lagged(self.missed)) {
                Ok(()) => self.missed = 0,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    self.missed += 1;
                    return 1;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => return 0,
            }
        }
        match self.tx.try_send(event) {
            Ok(()) => 0,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.missed += 1;
                1
            }
            // Nobody listens: that is the application's choice, not a loss.
            Err(mpsc::error::TrySendError::Closed(_)) => 0,
        }
    }

    /// Ends the stream: its consumer gets `Closed(reason)` after what is buffered.
    pub(crate) fn close(self, reason: CloseReason) {
        if let Ok(mut slot) = self.close.lock() {
            slot.get_or_insert(reason);
        }
        // Dropping `tx` ends the channel.
    }
}

/// A stream of events for one handle ([`HandleEvent`]) or one session ([`SessionEvent`]).
///
/// It ends after a final `Closed(reason)` event. See the module docs of `events` for the
/// slow-consumer policy.
pub struct EventStream<T> {
    rx: mpsc::Receiver<T>,
    close: CloseSlot,
    done: bool,
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
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(ev)) => Poll::Ready(Some(ev)),
            Poll::Ready(None) => {
                self.done = true;
                let reason = self
                    .close
                    .lock()
                    .ok()
                    .and_then(|mut s| s.take())
                    .unwrap_or(CloseReason::Released);
                Poll::Ready(Some(T::closed(reason)))
            }
            Poll::Pending => Poll::Pending,
        }
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
