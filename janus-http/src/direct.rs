//! The direct path: a caller sends its own `POST` while the link is up, and reads its reply.
//!
//! The `POST` is a future the caller awaits in its own task ([`Sent::Answer`]): reqwest's
//! connection task wakes the caller when the reply comes, and the caller hands the reply to
//! the core there, with no wake-up of the client's connection task on the way. A caller
//! that stops waiting (its timeout, or a future it dropped) hands the unfinished `POST` to
//! the transport, whose [`HttpTransport::recv`](crate::HttpTransport) finishes it and hands
//! its reply to the core, as for a request sent the slow way
//! ([`Transport::send`](janus_core::Transport::send)). Both ways do the same bookkeeping
//! first ([`Shared::before_post`]).

use janus_core::handoff::Handoff;
use janus_core::{DirectAnswer, DirectSend, OutgoingMessage, Sent};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::watch;

use crate::post::{PostDone, PostFuture};
use crate::transport::Shared;

/// The [`DirectSend`] of one [`HttpTransport`](crate::HttpTransport).
pub(crate) struct Direct {
    shared: Arc<Shared>,
    /// `true` once the transport stopped.
    stop: watch::Receiver<bool>,
    /// `POST`s whose callers stopped waiting, not yet adopted by `recv`.
    orphans: Arc<Handoff<PostDone>>,
}

impl Direct {
    pub(crate) fn new(shared: Arc<Shared>, stop: watch::Receiver<bool>) -> Self {
        Direct {
            shared,
            stop,
            orphans: Arc::new(Handoff::new()),
        }
    }

    /// The `POST`s callers stopped waiting for, once there are any.
    pub(crate) fn poll_started(&self, cx: &mut Context<'_>) -> Poll<Vec<PostFuture>> {
        self.orphans.poll_started(cx)
    }
}

impl DirectSend for Direct {
    fn try_send(&self, msg: OutgoingMessage) -> Result<Sent, OutgoingMessage> {
        // A stopped transport, or an `attach` beyond `max_long_polls`: the slow way reports
        // it.
        if *self.stop.borrow() || !self.shared.before_post(&msg) {
            return Err(msg);
        }
        Ok(Sent::Answer(Box::pin(CallersPost {
            post: Some(Box::pin(self.shared.clone().post(msg))),
            shared: self.shared.clone(),
            orphans: self.orphans.clone(),
        })))
    }
}

/// A `POST` its caller awaits; handed to the transport if the caller stops waiting.
struct CallersPost {
    /// `None` once it ended (or was handed over).
    post: Option<PostFuture>,
    shared: Arc<Shared>,
    orphans: Arc<Handoff<PostDone>>,
}

impl Future for CallersPost {
    type Output = DirectAnswer;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<DirectAnswer> {
        // Never polled again after its end: the client awaits it once.
        let Some(post) = self.post.as_mut() else {
            return Poll::Pending;
        };
        let Poll::Ready(done) = post.as_mut().poll(cx) else {
            return Poll::Pending;
        };
        self.post = None;
        self.shared.posts.finished();
        // The long-poll place an `attach` held is given back by the core's
        // `attach_answered`, once the handle it opened holds it.
        Poll::Ready(done.answer)
    }
}

impl Drop for CallersPost {
    fn drop(&mut self) {
        if let Some(post) = self.post.take() {
            // Not polled here (a drop may happen outside the runtime): `recv` adopts it and
            // polls it with its own waker.
            self.orphans.hand_over(post);
        }
    }
}
