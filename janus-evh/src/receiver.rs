//! The receiver: one stream fed by any number of listeners.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use janus_core::events::{channel, EventSender, EventSource};

use crate::decode::{decode, DecodeError};
use crate::options::{ConfigError, ReceiverOptions};
use crate::stats::{Counters, ReceiverStats};
use crate::stream::{EvhItem, EvhStream, Received, Source};

/// Receives what Janus' event handlers send and hands it over as one bounded stream.
///
/// Make one, take its stream ([`events`](Receiver::events)), and open listeners on it: an
/// HTTP one for `sampleevh` ([`listen_http`](Receiver::listen_http)), a WebSocket one for
/// `wsevh` ([`listen_ws`](Receiver::listen_ws)), as many as needed (several Janus instances
/// may send to each). The stream ends, with [`EvhItem::Closed`], once the receiver and all
/// its listeners are dropped.
///
/// ```no_run
/// use futures::StreamExt;
/// use janus_evh::{EvhItem, HttpOptions, Receiver, ReceiverOptions, WsOptions};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let receiver = Receiver::new(&ReceiverOptions::default())?;
/// let mut events = receiver.events();
/// // sampleevh: backend = "http://127.0.0.1:7088/janus-events"
/// let _http = receiver
///     .listen_http(&HttpOptions::new("127.0.0.1:7088".parse()?).with_path("/janus-events"))
///     .await?;
/// // wsevh: backend = "ws://127.0.0.1:7188"
/// let _ws = receiver.listen_ws(&WsOptions::new("127.0.0.1:7188".parse()?)).await?;
/// while let Some(item) = events.next().await {
///     match item {
///         EvhItem::Event(r) => println!("{} {:?} {:?}", r.emitter, r.event.session_id, r.event.body),
///         EvhItem::Lagged { missed } => eprintln!("too slow: {missed} events lost"),
///         _ => break,
///     }
/// }
/// # Ok(())
/// # }
/// ```
pub struct Receiver {
    sink: Sink,
    source: EventSource<EvhItem>,
}

impl fmt::Debug for Receiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("stats", &self.stats())
            .finish()
    }
}

/// Why a listener could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum ListenError {
    /// An option is invalid.
    Config(ConfigError),
    /// The address could not be bound (in use, not local, no permission).
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The broker could not be reached, refused the login or the subscription.
    Connect {
        /// The broker (no credentials).
        endpoint: String,
        /// Why.
        reason: String,
    },
}

impl fmt::Display for ListenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenError::Config(e) => e.fmt(f),
            ListenError::Bind { addr, source } => write!(f, "cannot listen on {addr}: {source}"),
            ListenError::Connect { endpoint, reason } => {
                write!(f, "cannot consume from {endpoint}: {reason}")
            }
        }
    }
}

impl std::error::Error for ListenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ListenError::Config(e) => Some(e),
            ListenError::Bind { source, .. } => Some(source),
            ListenError::Connect { .. } => None,
        }
    }
}

impl From<ConfigError> for ListenError {
    fn from(e: ConfigError) -> Self {
        ListenError::Config(e)
    }
}

impl Receiver {
    /// A receiver with no listener yet.
    pub fn new(options: &ReceiverOptions) -> Result<Receiver, ConfigError> {
        options.validate()?;
        let (sender, source) = channel(options.buffer);
        Ok(Receiver {
            sink: Sink {
                sender: Arc::new(sender),
                counters: Arc::new(Counters::default()),
            },
            source,
        })
    }

    /// The stream of what comes from now on. One at a time: an earlier stream ends (it
    /// yields `None`), and events that come while no stream is held are not kept.
    pub fn events(&self) -> EvhStream {
        self.source.subscribe()
    }

    /// What the receiver counted so far, over all its listeners.
    pub fn stats(&self) -> ReceiverStats {
        self.sink.counters.snapshot()
    }

    pub(crate) fn sink(&self) -> Sink {
        self.sink.clone()
    }

    #[cfg(any(feature = "http", feature = "ws"))]
    pub(crate) async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, ListenError> {
        tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ListenError::Bind { addr, source })
    }
}

/// Where listeners put what they read: the stream's sender and the counters.
#[derive(Clone)]
pub(crate) struct Sink {
    sender: Arc<EventSender<EvhItem>>,
    pub(crate) counters: Arc<Counters>,
}

impl Sink {
    /// Reads one delivery and hands its events to the stream; an unreadable one is counted
    /// as garbage.
    pub(crate) fn deliver(&self, text: &str, source: &Source) -> Result<(), DecodeError> {
        let c = &self.counters;
        let batch = match decode(text) {
            Ok(b) => b,
            Err(e) => {
                Counters::add(&c.garbage, 1);
                return Err(e);
            }
        };
        Counters::add(&c.deliveries, 1);
        Counters::add(&c.skipped, batch.skipped as u64);
        Counters::add(&c.events, batch.events.len() as u64);
        let mut dropped = 0;
        for event in batch.events {
            let emitter = match &event.emitter {
                Some(e) => e.clone(),
                None => source.to_string(),
            };
            dropped += self.sender.deliver(EvhItem::Event(Box::new(Received {
                emitter,
                source: source.clone(),
                event,
            })));
        }
        Counters::add(&c.dropped, dropped);
        Ok(())
    }
}
