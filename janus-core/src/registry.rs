//! Where an event is routed: the live sessions and handles, each with the stream its events
//! go to, and what happens to them when they close or change id. No I/O and no
//! transactions: what the transport must hear about is collected as [`Notice`]s.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tracing::debug;

use crate::decode::Incoming;
use crate::events::EventSender;
use crate::protocol::{CloseReason, HandleEvent, HandleId, SessionEvent, SessionId};
use crate::shared::{HandleShared, SessionShared};

/// A change the transport must hear about (HTTP polls only sessions with handles).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Notice {
    SessionOpened(SessionId),
    SessionClosed(SessionId),
    HandleOpened(SessionId, HandleId),
    HandleClosed(SessionId, HandleId),
    /// An `attach` on the session, answered on the direct path, has been applied.
    AttachAnswered(SessionId),
}

pub(crate) struct SessionEntry {
    pub(crate) shared: Arc<SessionShared>,
    pub(crate) events: EventSender<SessionEvent>,
    pub(crate) handles: HashSet<HandleId>,
    pub(crate) last_request: Instant,
}

pub(crate) struct HandleEntry {
    pub(crate) session: SessionId,
    pub(crate) plugin: String,
    pub(crate) opaque_id: Option<String>,
    pub(crate) shared: Arc<HandleShared>,
    pub(crate) events: EventSender<HandleEvent>,
}

/// What a handle needs to be attached again under a re-created session.
#[derive(Debug)]
pub(crate) struct Reattach {
    pub(crate) old: HandleId,
    pub(crate) plugin: String,
    pub(crate) opaque_id: Option<String>,
}

/// How long a handle whose detach Janus confirmed waits for Janus' `detached` event before
/// its stream ends anyway. Janus sends `detached` after every handle's last event; over
/// HTTP it comes through the long poll, after the `success` of the detach, with any event
/// the handle had before it (a room's last notification, a `hangup`), so the stream ends
/// after those on every transport.
pub(crate) const DETACH_GRACE: Duration = Duration::from_secs(1);

/// The sessions and handles of one client, and their routes.
#[derive(Default)]
pub(crate) struct Registry {
    sessions: HashMap<SessionId, SessionEntry>,
    handles: HashMap<HandleId, HandleEntry>,
    /// Handles detached by us and confirmed, waiting for Janus' `detached` (oldest first).
    detaching: VecDeque<(HandleId, Instant)>,
    /// For the transport.
    pub(crate) notices: Vec<Notice>,
    /// Events dropped because a consumer was slow.
    pub(crate) dropped_events: u64,
    /// Events for sessions or handles not known here.
    pub(crate) unroutable_events: u64,
}

impl Registry {
    pub(crate) fn session_count(&self) -> usize {
        self.sessions.len()
    }

    pub(crate) fn handle_count(&self) -> usize {
        self.handles.len()
    }

    pub(crate) fn has_session(&self, sid: SessionId) -> bool {
        self.sessions.contains_key(&sid)
    }

    pub(crate) fn session_ids(&self) -> Vec<SessionId> {
        self.sessions.keys().copied().collect()
    }

    /// The session a handle belongs to.
    pub(crate) fn session_of(&self, hid: HandleId) -> Option<SessionId> {
        self.handles.get(&hid).map(|h| h.session)
    }

    /// The handles of a session.
    pub(crate) fn handles_of(&self, sid: SessionId) -> Vec<HandleId> {
        self.sessions
            .get(&sid)
            .map(|s| s.handles.iter().copied().collect())
            .unwrap_or_default()
    }

    pub(crate) fn add_session(
        &mut self,
        sid: SessionId,
        shared: Arc<SessionShared>,
        events: EventSender<SessionEvent>,
        now: Instant,
    ) {
        shared.set_id(sid);
        self.sessions.insert(
            sid,
            SessionEntry {
                shared,
                events,
                handles: HashSet::new(),
                last_request: now,
            },
        );
        self.notices.push(Notice::SessionOpened(sid));
    }

    /// Adds a handle to its session; `false` (and nothing added) when the session is gone.
    pub(crate) fn add_handle(&mut self, hid: HandleId, entry: HandleEntry) -> bool {
        let Some(s) = self.sessions.get_mut(&entry.session) else {
            return false;
        };
        s.handles.insert(hid);
        entry.shared.set_id(hid);
        self.notices.push(Notice::HandleOpened(entry.session, hid));
        self.handles.insert(hid, entry);
        true
    }

    /// Notes a request on a session (for the keepalive schedule).
    pub(crate) fn touch(&mut self, sid: SessionId, now: Instant) {
        if let Some(entry) = self.sessions.get_mut(&sid) {
            entry.last_request = now;
        }
    }

    /// Sessions idle for at least `interval`.
    pub(crate) fn due_keepalives(&self, now: Instant, interval: Duration) -> Vec<SessionId> {
        self.sessions
            .iter()
            .filter(|(_, s)| {
                // The later of what went through here and what the application sent directly.
                let last = s
                    .shared
                    .last_request()
                    .map_or(s.last_request, |direct| direct.max(s.last_request));
                now.saturating_duration_since(last) >= interval
            })
            .map(|(id, _)| *id)
            .collect()
    }

    /// Tells a session's stream something (reclaimed, re-created).
    pub(crate) fn tell_session(&mut self, sid: SessionId, ev: SessionEvent) {
        if let Some(s) = self.sessions.get_mut(&sid) {
            self.dropped_events += s.events.deliver(ev);
        }
    }

    /// Our detach was confirmed: the handle is gone for the application at once, and its
    /// stream ends with Janus' `detached` (or after [`DETACH_GRACE`]).
    pub(crate) fn detach_confirmed(&mut self, hid: HandleId, now: Instant) {
        if let Some(h) = self.handles.get(&hid) {
            let _ = h.shared.gone.set(CloseReason::Detached);
            self.detaching.push_back((hid, now));
        }
    }

    /// Routes one event. `late` is the transaction of the request it answers when that
    /// request no longer waits; `teardown` says why a handle Janus reports `detached` went,
    /// when it was not already marked (our pending detach or destroy, or the server).
    pub(crate) fn route(
        &mut self,
        msg: Incoming,
        late: Option<String>,
        teardown: impl Fn(SessionId, HandleId) -> CloseReason,
    ) {
        if let Some(hid) = msg.sender {
            let Some(h) = self.handles.get_mut(&hid) else {
                // `detached` routinely follows the `success` of our own detach: not an anomaly.
                if msg.janus != "detached" {
                    self.unroutable_events += 1;
                }
                debug!(handle = %hid, janus = %msg.janus, "event for an unknown handle dropped");
                return;
            };
            if msg.session_id.is_some_and(|s| s != h.session) {
                self.unroutable_events += 1;
                debug!(handle = %hid, "event names another session than its handle's");
                return;
            }
            let session = h.session;
            if msg.janus == "detached" {
                // Ours when we detached it (confirmed or not: over HTTP the event can overtake
                // the `success` of the detach), or destroyed its session; then the close
                // reason says it all. Otherwise the server's doing, said as an event first.
                let reason = if h.shared.gone.get() == Some(&CloseReason::Detached) {
                    CloseReason::Detached
                } else {
                    teardown(session, hid)
                };
                if reason == CloseReason::DetachedByServer {
                    self.dropped_events += h.events.deliver(HandleEvent::Detached);
                }
                self.close_handle(hid, reason);
                return;
            }
            let ev = match (msg.into_handle_event(), late) {
                (HandleEvent::Plugin(response), Some(transaction)) => HandleEvent::LateReply {
                    transaction,
                    response,
                },
                (ev, _) => ev,
            };
            self.dropped_events += h.events.deliver(ev);
            return;
        }
        if msg.janus == "keepalive" {
            // HTTP long poll's "nothing happened".
            return;
        }
        if let Some(sid) = msg.session_id {
            let Some(s) = self.sessions.get_mut(&sid) else {
                self.unroutable_events += 1;
                debug!(session = %sid, janus = %msg.janus, "event for an unknown session dropped");
                return;
            };
            if msg.janus == "timeout" {
                s.events.deliver(SessionEvent::Timeout);
                self.close_session(sid, CloseReason::SessionTimeout);
            } else {
                let ev = SessionEvent::Other(serde_json::Value::Object(msg.body));
                self.dropped_events += s.events.deliver(ev);
            }
            return;
        }
        self.unroutable_events += 1;
        if msg.janus == "error" {
            // Janus answers a request it cannot parse without a transaction. Over a broker
            // every client receives that answer, whoever sent the request: not a warning.
            debug!(error = %msg.core_error(), "Janus reported an error with no transaction");
        } else {
            debug!(janus = %msg.janus, "message with no session dropped");
        }
    }

    /// Removes a session, its handles and their routes; their streams end with `reason`.
    pub(crate) fn close_session(&mut self, sid: SessionId, reason: CloseReason) {
        let Some(entry) = self.sessions.remove(&sid) else {
            return;
        };
        for hid in &entry.handles {
            if let Some(h) = self.handles.remove(hid) {
                let reason = h.shared.gone.get_or_init(|| reason.clone()).clone();
                h.events.close(reason);
            }
        }
        let _ = entry.shared.gone.set(reason.clone());
        entry.events.close(reason);
        self.notices.push(Notice::SessionClosed(sid));
    }

    /// Removes one handle and its route; its stream ends with `reason`, or with the reason
    /// it was already gone for (a confirmed detach waiting for `detached`).
    pub(crate) fn close_handle(&mut self, hid: HandleId, reason: CloseReason) {
        let Some(h) = self.handles.remove(&hid) else {
            return;
        };
        if let Some(s) = self.sessions.get_mut(&h.session) {
            s.handles.remove(&hid);
        }
        self.notices.push(Notice::HandleClosed(h.session, hid));
        let reason = h.shared.gone.get_or_init(|| reason).clone();
        h.events.close(reason);
    }

    /// Everything closes.
    pub(crate) fn close_all(&mut self, reason: CloseReason) {
        for sid in self.session_ids() {
            self.close_session(sid, reason.clone());
        }
    }

    /// A lost session lives on under a new id: its handles, to attach again, come back.
    pub(crate) fn rekey_session(&mut self, old: SessionId, new: SessionId) -> Vec<Reattach> {
        let Some(entry) = self.sessions.remove(&old) else {
            return Vec::new();
        };
        entry.shared.set_id(new);
        let mut handles = Vec::with_capacity(entry.handles.len());
        for hid in &entry.handles {
            if let Some(h) = self.handles.get_mut(hid) {
                h.session = new;
                handles.push(Reattach {
                    old: *hid,
                    plugin: h.plugin.clone(),
                    opaque_id: h.opaque_id.clone(),
                });
            }
        }
        self.sessions.insert(new, entry);
        self.notices.push(Notice::SessionClosed(old));
        self.notices.push(Notice::SessionOpened(new));
        handles
    }

    /// A handle attached again under a re-created session takes its new id.
    pub(crate) fn rekey_handle(&mut self, session: SessionId, old: HandleId, new: HandleId) {
        let Some(h) = self.handles.remove(&old) else {
            return;
        };
        h.shared.set_id(new);
        if let Some(s) = self.sessions.get_mut(&session) {
            s.handles.remove(&old);
            s.handles.insert(new);
        }
        self.notices.push(Notice::HandleClosed(session, old));
        self.notices.push(Notice::HandleOpened(session, new));
        self.handles.insert(new, h);
    }

    /// Gives back the memory of maps that held many more entries than they hold now (after
    /// thousands of sessions closed), so that nothing sized by a past peak outlives it.
    pub(crate) fn shrink(&mut self) {
        shrink_map(&mut self.sessions);
        shrink_map(&mut self.handles);
        if self.detaching.capacity() > 64 && self.detaching.len() * 4 < self.detaching.capacity() {
            self.detaching.shrink_to_fit();
        }
        if self.notices.capacity() > 64 && self.notices.is_empty() {
            self.notices.shrink_to_fit();
        }
    }

    /// Ends the streams of detached handles whose `detached` did not come in time.
    pub(crate) fn sweep(&mut self, now: Instant) {
        while let Some(&(hid, since)) = self.detaching.front() {
            if now.saturating_duration_since(since) < DETACH_GRACE
                && self.handles.contains_key(&hid)
            {
                break;
            }
            self.detaching.pop_front();
            // A no-op when `detached` came already.
            self.close_handle(hid, CloseReason::Detached);
        }
    }

    /// Whether a handle is live and not being detached by us.
    #[cfg(test)]
    pub(crate) fn gone_reason(&self, hid: HandleId) -> Option<CloseReason> {
        self.handles
            .get(&hid)
            .and_then(|h| h.shared.gone.get().cloned())
    }
}

/// Shrinks a map holding under a quarter of its capacity (and more than a few dozen slots).
pub(crate) fn shrink_map<K: std::hash::Hash + Eq, V>(map: &mut HashMap<K, V>) {
    if map.capacity() > 64 && map.len() * 4 < map.capacity() {
        map.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{channel, EventStream};
    use serde_json::json;

    fn inc(v: serde_json::Value) -> Incoming {
        Incoming::from_value(v).unwrap()
    }

    fn server(_: SessionId, _: HandleId) -> CloseReason {
        CloseReason::DetachedByServer
    }

    fn session(r: &mut Registry, id: u64) -> EventStream<SessionEvent> {
        let (tx, source) = channel(8);
        r.add_session(SessionId(id), SessionShared::new(0), tx, Instant::now());
        source.subscribe()
    }

    fn handle(r: &mut Registry, session: u64, id: u64) -> EventStream<HandleEvent> {
        let (tx, source) = channel(8);
        assert!(r.add_handle(
            HandleId(id),
            HandleEntry {
                session: SessionId(session),
                plugin: "janus.plugin.echotest".into(),
                opaque_id: None,
                shared: HandleShared::new(0),
                events: tx,
            }
        ));
        source.subscribe()
    }

    #[test]
    fn events_route_to_their_own_handle_and_strays_are_counted() {
        let mut r = Registry::default();
        let _s = session(&mut r, 1);
        let mut h1 = handle(&mut r, 1, 11);
        let mut h2 = handle(&mut r, 1, 12);
        r.route(
            inc(json!({"janus":"webrtcup","session_id":1,"sender":12})),
            None,
            server,
        );
        r.route(
            inc(json!({"janus":"hangup","session_id":1,"sender":11,"reason":"x"})),
            None,
            server,
        );
        tokio_test::block_on(async {
            assert_eq!(h2.recv().await, Some(HandleEvent::WebrtcUp));
            assert!(matches!(h1.recv().await, Some(HandleEvent::Hangup { .. })));
        });
        r.route(
            inc(json!({"janus":"webrtcup","session_id":1,"sender":99})),
            None,
            server,
        );
        r.route(
            inc(json!({"janus":"webrtcup","session_id":2,"sender":11})),
            None,
            server,
        );
        r.route(inc(json!({"janus":"event","session_id":3})), None, server);
        assert_eq!(r.unroutable_events, 3);
    }

    #[test]
    fn a_late_plugin_answer_is_marked_and_says_its_sender() {
        let mut r = Registry::default();
        let _s = session(&mut r, 5);
        let mut h = handle(&mut r, 5, 6);
        r.route(
            inc(
                json!({"janus":"event","transaction":"9","session_id":5,"sender":6,
                "plugindata":{"plugin":"janus.plugin.echotest","data":{"result":"ok"}}}),
            ),
            Some("9".into()),
            server,
        );
        match tokio_test::block_on(h.recv()) {
            Some(HandleEvent::LateReply {
                transaction,
                response,
            }) => {
                assert_eq!(transaction, "9");
                assert_eq!(response.sender, Some(HandleId(6)));
                assert_eq!(response.data["result"], "ok");
            }
            other => panic!("expected a late reply, got {other:?}"),
        }
    }

    #[test]
    fn a_timeout_closes_the_session_and_its_handles() {
        let mut r = Registry::default();
        let mut s = session(&mut r, 1);
        let mut h = handle(&mut r, 1, 11);
        r.route(inc(json!({"janus":"timeout","session_id":1})), None, server);
        assert_eq!((r.session_count(), r.handle_count()), (0, 0));
        tokio_test::block_on(async {
            assert_eq!(s.recv().await, Some(SessionEvent::Timeout));
            assert_eq!(
                s.recv().await,
                Some(SessionEvent::Closed(CloseReason::SessionTimeout))
            );
            assert_eq!(
                h.recv().await,
                Some(HandleEvent::Closed(CloseReason::SessionTimeout))
            );
            assert_eq!(h.recv().await, None);
        });
        assert!(r.notices.contains(&Notice::SessionClosed(SessionId(1))));
    }

    #[test]
    fn a_confirmed_detach_waits_for_janus_detached_or_the_grace() {
        let mut r = Registry::default();
        let _s = session(&mut r, 1);
        let mut h = handle(&mut r, 1, 11);
        let t0 = Instant::now();
        r.detach_confirmed(HandleId(11), t0);
        assert_eq!(r.gone_reason(HandleId(11)), Some(CloseReason::Detached));
        // Over HTTP the room's last notification comes through the poll after the success.
        r.route(
            inc(json!({"janus":"event","session_id":1,"sender":11,
                "plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"destroyed"}}})),
            None,
            server,
        );
        r.route(
            inc(json!({"janus":"detached","session_id":1,"sender":11})),
            None,
            server,
        );
        tokio_test::block_on(async {
            assert!(matches!(h.recv().await, Some(HandleEvent::Plugin(_))));
            assert_eq!(
                h.recv().await,
                Some(HandleEvent::Closed(CloseReason::Detached))
            );
        });
        let mut h2 = handle(&mut r, 1, 12);
        r.detach_confirmed(HandleId(12), t0);
        r.sweep(t0);
        assert_eq!(r.handle_count(), 1, "closed before the grace");
        r.sweep(t0 + DETACH_GRACE);
        assert_eq!(r.handle_count(), 0);
        assert_eq!(
            tokio_test::block_on(h2.recv()),
            Some(HandleEvent::Closed(CloseReason::Detached))
        );
    }

    #[test]
    fn a_server_detach_is_told_as_an_event_first() {
        let mut r = Registry::default();
        let _s = session(&mut r, 1);
        let mut h = handle(&mut r, 1, 12);
        r.route(
            inc(json!({"janus":"detached","session_id":1,"sender":12})),
            None,
            server,
        );
        tokio_test::block_on(async {
            assert_eq!(h.recv().await, Some(HandleEvent::Detached));
            assert_eq!(
                h.recv().await,
                Some(HandleEvent::Closed(CloseReason::DetachedByServer))
            );
        });
    }

    #[test]
    fn rekeying_moves_routes_and_tells_the_transport() {
        let mut r = Registry::default();
        let _s = session(&mut r, 1);
        let mut h = handle(&mut r, 1, 11);
        r.notices.clear();
        let again = r.rekey_session(SessionId(1), SessionId(2));
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].old, HandleId(11));
        r.rekey_handle(SessionId(2), HandleId(11), HandleId(21));
        assert_eq!(r.handles_of(SessionId(2)), vec![HandleId(21)]);
        assert_eq!(r.session_of(HandleId(21)), Some(SessionId(2)));
        assert_eq!(
            r.notices,
            vec![
                Notice::SessionClosed(SessionId(1)),
                Notice::SessionOpened(SessionId(2)),
                Notice::HandleClosed(SessionId(2), HandleId(11)),
                Notice::HandleOpened(SessionId(2), HandleId(21)),
            ]
        );
        r.route(
            inc(json!({"janus":"webrtcup","session_id":2,"sender":21})),
            None,
            server,
        );
        assert_eq!(tokio_test::block_on(h.recv()), Some(HandleEvent::WebrtcUp));
    }

    #[test]
    fn maps_shrink_after_a_peak() {
        let mut r = Registry::default();
        let streams: Vec<_> = (1..=1000).map(|id| session(&mut r, id)).collect();
        let peak = r.sessions.capacity();
        for id in 1..=1000 {
            r.close_session(SessionId(id), CloseReason::Destroyed);
        }
        r.shrink();
        assert!(
            r.sessions.capacity() < peak / 4,
            "{}",
            r.sessions.capacity()
        );
        drop(streams);
    }

    #[test]
    fn keepalives_are_due_for_idle_sessions_only() {
        let mut r = Registry::default();
        let _a = session(&mut r, 1);
        let _b = session(&mut r, 2);
        let later = Instant::now() + Duration::from_secs(30);
        r.touch(SessionId(2), later);
        assert_eq!(
            r.due_keepalives(later, Duration::from_secs(25)),
            vec![SessionId(1)]
        );
    }
}
