//! The direct path: a caller starts its own `POST` while the link is up.
//!
//! The caller's first poll of the `POST` takes a connection and hands the request to
//! reqwest's connection task, with no wake-up of the client's connection task; the reply
//! wakes that task, whose [`HttpTransport::recv`](crate::HttpTransport) adopts the `POST`
//! and hands the reply to the core, as for a request sent the slow way
//! ([`Transport::send`](janus_core::Transport::send)). Both ways do the same bookkeeping
//! first ([`Shared::before_post`]).

use janus_core::handoff::{Handoff, Wake};
use janus_core::{DirectSend, OutgoingMessage};
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
    /// `POST`s callers started, not yet adopted by `recv`.
    started: Handoff<PostDone>,
}

impl Direct {
    pub(crate) fn new(shared: Arc<Shared>, stop: watch::Receiver<bool>) -> Self {
        Direct {
            shared,
            stop,
            started: Handoff::new(),
        }
    }

    /// The `POST`s callers started, once there are any.
    pub(crate) fn poll_started(&self, cx: &mut Context<'_>) -> Poll<Vec<PostFuture>> {
        self.started.poll_started(cx)
    }
}

impl DirectSend for Direct {
    fn try_send(&self, msg: OutgoingMessage) -> Result<(), OutgoingMessage> {
        // A stopped transport, or an `attach` beyond `max_long_polls`: the slow way reports
        // it.
        if *self.stop.borrow() || !self.shared.before_post(&msg) {
            return Err(msg);
        }
        let post: PostFuture = Box::pin(self.shared.clone().post(msg));
        self.started.start(post, Wake::OnProgress);
        Ok(())
    }
}
