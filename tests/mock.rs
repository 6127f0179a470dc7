//! Whole-client tests against the in-memory fake Janus, for every ordering and failure the
//! real server cannot be made to produce on demand.

use futures::FutureExt;
use janus_client::mock::{MockJanus, PluginReply};
use janus_client::{
    Client, ClientOptions, CloseReason, ConnectionState, ErrorKind, HandleEvent, ReconnectPolicy,
    SessionEvent,
};
use serde_json::json;
use std::time::Duration;

const ECHO: &str = "janus.plugin.echotest";

fn no_reconnect() -> ClientOptions {
    ClientOptions {
        reconnect: ReconnectPolicy::disabled(),
        ..Default::default()
    }
}

fn fast_reconnect() -> ClientOptions {
    ClientOptions {
        reconnect: ReconnectPolicy {
            initial_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            ..Default::default()
        },
        ..Default::default()
    }
}

async fn setup(options: ClientOptions) -> (MockJanus, Client) {
    let janus = MockJanus::new();
    let client = Client::connect(janus.connector(), options).await.unwrap();
    (janus, client)
}

async fn next<T: janus_client::events::StreamEvent>(
    s: &mut janus_client::EventStream<T>,
) -> Option<T> {
    tokio::time::timeout(Duration::from_secs(5), s.recv())
        .await
        .expect("event within 5 s")
}

#[tokio::test]
async fn event_before_ack_completes_the_request() {
    let (janus, client) = setup(no_reconnect()).await;
    janus.on_message(ECHO, |_| {
        PluginReply::event_before_ack(json!({"result": "ok"}))
    });
    let s = client.create_session().await.unwrap();
    let h = s.attach(ECHO).await.unwrap();
    let r = h.message(json!({"audio": true})).await.unwrap();
    assert_eq!(r.data["result"], "ok");
    // The late ack is harmless: nothing counted as unknown, nothing pending.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let st = client.stats();
    assert_eq!(st.pending_transactions, 0);
    assert_eq!(st.unknown_transactions, 0);
    assert_eq!(st.unroutable_events, 0);
}

#[tokio::test]
async fn ack_then_delayed_event_with_jsep() {
    let (janus, client) = setup(no_reconnect()).await;
    janus.on_message(ECHO, |_| {
        PluginReply::event(json!({"result": "ok"}))
            .with_jsep(json!({"type": "answer", "sdp": "v=0"}))
            .delayed(Duration::from_millis(100))
    });
    let s = client.create_session().await.unwrap();
    let h = s.attach(ECHO).await.unwrap();
    let r = h
        .message(json!({"audio": true}))
        .jsep(janus_client::Jsep::offer("v=0"))
        .await
        .unwrap();
    assert_eq!(r.jsep.unwrap().kind, "answer");
    // The jsep went out on the wire.
    let sent = janus.requests();
    let msg = sent.iter().find(|r| r["janus"] == "message").unwrap();
    assert_eq!(msg["jsep"]["type"], "offer");
}

#[tokio::test]
async fn plugin_and_core_errors_are_errors() {
    let (janus, client) = setup(no_reconnect()).await;
    janus.on_message(ECHO, |body| {
        if body.get("bad").is_some() {
            PluginReply::plugin_error(413, "Invalid element")
        } else {
            PluginReply::core_error(462, "plugin failed")
        }
    });
    let s = client.create_session().await.unwrap();
    let h = s.attach(ECHO).await.unwrap();
    let e = h.message(json!({"bad": 1})).await.unwrap_err();
    assert_eq!(e.plugin_code(), Some(413));
    let e = h.message(json!({})).await.unwrap_err();
    assert_eq!(e.janus_code(), Some(462));
    // A synchronous plugin error too.
    janus.on_message(ECHO, |_| {
        PluginReply::sync(json!({"error_code": 423, "error": "Unknown request"}))
    });
    let e = h.message(json!({})).await.unwrap_err();
    assert_eq!(e.plugin_code(), Some(423));
}

#[tokio::test]
async fn garbage_from_the_server_is_counted_and_the_connection_stays_healthy() {
    let (janus, client) = setup(no_reconnect()).await;
    let s = client.create_session().await.unwrap();
    let h = s.attach(ECHO).await.unwrap();
    for junk in [
        "{not json",
        "",
        "[1, 2]",
        r#"{"janus": 5}"#,
        r#"{"janus":"event","session_id":"x"}"#,
        r#"{"janus":"success","transaction":"999999"}"#,
        r#"{"janus":"webrtcup","session_id":1,"sender":424242}"#,
        r#"{"janus":"timeout","session_id":77}"#,
        "null",
    ] {
        janus.send_raw(junk);
    }
    // Still fine.
    let r = h.message(json!({"audio": true})).await.unwrap();
    assert_eq!(r.data, json!({}));
    let st = client.stats();
    // "[1, 2]" counts twice: each element of an array is decoded on its own.
    assert_eq!(st.malformed_messages, 7, "{st:?}");
    assert_eq!(st.unknown_transactions, 1, "{st:?}");
    assert_eq!(st.unroutable_events, 2, "{st:?}");
    assert_eq!(
        client.connection_state().borrow().clone(),
        ConnectionState::Connected
    );
}

#[tokio::test]
async fn close_in_the_middle_of_a_request_without_reconnect() {
    let (janus, client) = setup(no_reconnect()).await;
    janus.on_message(ECHO, |_| PluginReply::ack_only());
    let s = client.create_session().await.unwrap();
    let h = s.attach(ECHO).await.unwrap();
    let mut events = h.events();
    let mut sev = s.events();
    let pending = tokio::spawn({
        let h = h.clone();
        async move { h.message(json!({"audio": true})).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    janus.close_connections();
    let e = tokio::time::timeout(Duration::from_secs(2), pending)
        .await
        .expect("no hang")
        .unwrap()
        .unwrap_err();
    assert!(e.is_transport_closed(), "{e}");
    assert!(!e.is_retry_safe(), "a message may have reached the plugin");
    assert!(matches!(
        next(&mut events).await,
        Some(HandleEvent::Closed(CloseReason::TransportClosed(_)))
    ));
    assert_eq!(next(&mut events).await, None);
    assert!(matches!(
        next(&mut sev).await,
        Some(SessionEvent::Closed(CloseReason::TransportClosed(_)))
    ));
    assert!(matches!(
        client.connection_state().borrow().clone(),
        ConnectionState::Closed { .. }
    ));
    // Every later call fails at once with a clear error.
    let e = h.message(json!({})).await.unwrap_err();
    assert!(e.is_gone(), "{e}");
    let e = client.create_session().await.unwrap_err();
    assert!(e.is_transport_closed(), "{e}");
}

#[tokio::test]
async fn requests_time_out_and_leave_nothing_behind() {
    let (janus, client) = setup(no_reconnect()).await;
    janus.on_message(ECHO, |_| PluginReply::nothing());
    let s = client.create_session().await.unwrap();
    let h = s.attach(ECHO).await.unwrap();
    let t0 = tokio::time::Instant::now();
    let e = h
        .message(json!({}))
        .timeout(Duration::from_millis(200))
        .await
        .unwrap_err();
    assert!(e.is_timeout(), "{e}");
    assert!(t0.elapsed() < Duration::from_secs(2));
    // An ack alone does not complete a message either.
    janus.on_message(ECHO, |_| PluginReply::ack_only());
    let e = h
        .with_timeout(Duration::from_millis(200))
        .message(json!({}))
        .await
        .unwrap_err();
    assert!(e.is_timeout());
    // A dropped reply to a core request times out too (client-wide timeout this time).
    janus.drop_next("attach", 1);
    let e = s
        .with_timeout(Duration::from_millis(200))
        .attach(ECHO)
        .await
        .unwrap_err();
    assert!(e.is_timeout());
    // The connection task forgets them on its next sweep.
    let cleared = async {
        loop {
            if client.stats().pending_transactions == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(3), cleared)
        .await
        .expect("pending cleared");
}

#[tokio::test]
async fn keepalives_run_by_themselves_and_are_not_blocked_by_slow_requests() {
    let (janus, client) = setup(ClientOptions {
        keepalive_interval: Duration::from_millis(200),
        ..no_reconnect()
    })
    .await;
    janus.on_message(ECHO, |_| {
        PluginReply::event(json!({})).delayed(Duration::from_secs(2))
    });
    let s = client.create_session().await.unwrap();
    let h = s.attach(ECHO).await.unwrap();
    let slow = tokio::spawn({
        let h = h.clone();
        async move { h.message(json!({})).await }
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let n = janus.keepalives(s.id().0);
    assert!(n >= 3, "only {n} keepalives in 1.5 s at 200 ms");
    slow.await.unwrap().unwrap();
}

#[tokio::test]
async fn session_timeout_from_the_server_closes_everything() {
    let (janus, client) = setup(no_reconnect()).await;
    let s = client.create_session().await.unwrap();
    let h = s.attach(ECHO).await.unwrap();
    let mut sev = s.events();
    let mut hev = h.events();
    janus.expire_session(s.id().0);
    assert_eq!(next(&mut sev).await, Some(SessionEvent::Timeout));
    assert_eq!(
        next(&mut sev).await,
        Some(SessionEvent::Closed(CloseReason::SessionTimeout))
    );
    assert_eq!(
        next(&mut hev).await,
        Some(HandleEvent::Closed(CloseReason::SessionTimeout))
    );
    let st = client.stats();
    assert_eq!((st.sessions, st.handles), (0, 0));
    assert!(h.message(json!({})).await.unwrap_err().is_gone());
}

#[tokio::test]
async fn slow_consumer_loses_its_own_events_only() {
    let (janus, client) = setup(ClientOptions {
        event_buffer: 8,
        ..no_reconnect()
    })
    .await;
    let s = client.create_session().await.unwrap();
    let slow = s.attach(ECHO).await.unwrap();
    let fast = s.attach(ECHO).await.unwrap();
    let mut slow_events = slow.events();
    let mut fast_events = fast.events();
    for i in 0..1000 {
        janus.push_plugin_event(slow.id().0, json!({"n": i}));
    }
    janus.push_event(fast.id().0, json!({"janus": "webrtcup"}));
    // The other handle and replies are not delayed by the full buffer.
    assert_eq!(next(&mut fast_events).await, Some(HandleEvent::WebrtcUp));
    fast.message(json!({})).await.unwrap();
    let st = client.stats();
    assert_eq!(st.dropped_events, 992, "{st:?}");
    // The slow consumer gets its 8, then a lag report before anything newer.
    for i in 0..8 {
        match next(&mut slow_events).await {
            Some(HandleEvent::Plugin(p)) => assert_eq!(p.data["n"], i),
            other => panic!("{other:?}"),
        }
    }
    janus.push_plugin_event(slow.id().0, json!({"n": "late"}));
    assert_eq!(
        next(&mut slow_events).await,
        Some(HandleEvent::Lagged { missed: 992 })
    );
    match next(&mut slow_events).await {
        Some(HandleEvent::Plugin(p)) => assert_eq!(p.data["n"], "late"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn dropping_the_last_values_detaches_and_destroys() {
    let (janus, client) = setup(no_reconnect()).await;
    {
        let s = client.create_session().await.unwrap();
        let _h = s.attach(ECHO).await.unwrap();
        assert_eq!(janus.session_count(), 1);
    }
    let gone = async {
        while janus.session_count() > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(2), gone)
        .await
        .expect("destroyed on drop");
    let st = client.stats();
    assert_eq!(
        (st.sessions, st.handles, st.pending_transactions),
        (0, 0, 0)
    );
}

#[tokio::test]
async fn reconnect_claims_sessions_and_handles_keep_working() {
    let (janus, client) = setup(fast_reconnect()).await;
    janus.keep_sessions_on_close(true);
    janus.on_message(ECHO, |_| PluginReply::event(json!({"result": "ok"})));
    let mut state = client.connection_state();
    let s = client.create_session().await.unwrap();
    let h = s.attach(ECHO).await.unwrap();
    let mut sev = s.events();
    let mut hev = h.events();
    let (sid, hid) = (s.id(), h.id());
    janus.close_connections();
    assert_eq!(next(&mut sev).await, Some(SessionEvent::Reclaimed));
    // Same ids, same streams, requests work.
    assert_eq!((s.id(), h.id()), (sid, hid));
    h.message(json!({})).await.unwrap();
    janus.push_event(hid.0, json!({"janus": "webrtcup"}));
    assert_eq!(next(&mut hev).await, Some(HandleEvent::WebrtcUp));
    assert!(janus
        .requests()
        .iter()
        .any(|r| r["janus"] == "claim" && r["session_id"] == sid.0));
    state
        .wait_for(|s| *s == ConnectionState::Reconnected)
        .now_or_never();
    assert_eq!(client.stats().reconnects, 1);
}

#[tokio::test]
async fn shared_sessions_are_checked_with_a_keepalive_not_claimed_after_a_reconnect() {
    let (janus, client) = setup(fast_reconnect()).await;
    drop(client);
    // As behind a broker: sessions belong to no connection.
    janus.shared_sessions(true);
    let client = Client::connect(janus.connector(), fast_reconnect())
        .await
        .unwrap();
    janus.on_message(ECHO, |_| PluginReply::event(json!({"result": "ok"})));
    let s = client.create_session().await.unwrap();
    let h = s.attach(ECHO).await.unwrap();
    let mut sev = s.events();
    let mut hev = h.events();
    let (sid, hid) = (s.id(), h.id());
    let keepalives_before = janus.keepalives(sid.0);
    janus.close_connections();
    assert_eq!(next(&mut sev).await, Some(SessionEvent::Reclaimed));
    assert_eq!((s.id(), h.id()), (sid, hid));
    h.message(json!({})).await.unwrap();
    janus.push_event(hid.0, json!({"janus": "webrtcup"}));
    assert_eq!(next(&mut hev).await, Some(HandleEvent::WebrtcUp));
    let requests = janus.requests();
    assert!(
        !requests.iter().any(|r| r["janus"] == "claim"),
        "no claim where sessions belong to no connection"
    );
    assert!(janus.keepalives(sid.0) > keepalives_before);
    assert_eq!(client.stats().reconnects, 1);
}

#[tokio::test]
async fn a_shared_session_whose_check_times_out_stays_until_a_keepalive_says_otherwise() {
    let janus = MockJanus::new();
    janus.shared_sessions(true);
    let mut options = fast_reconnect();
    options.request_timeout = Duration::from_millis(300);
    options.keepalive_interval = Duration::from_millis(200);
    let client = Client::connect(janus.connector(), options).await.unwrap();
    let s = client.create_session().await.unwrap();
    let h = s.attach(ECHO).await.unwrap();
    let mut sev = s.events();
    // The check after the reconnect goes unanswered (a broker back before Janus).
    janus.drop_next("keepalive", 1);
    janus.close_connections();
    let mut state = client.connection_state();
    let recovered = tokio::time::timeout(
        Duration::from_secs(5),
        state.wait_for(|s| *s == ConnectionState::Reconnected),
    )
    .await;
    assert!(recovered.is_ok(), "the reconnect completes");
    // Keepalives go on and are answered: the session is still there and usable.
    let before = janus.keepalives(s.id().0);
    let answered = tokio::time::timeout(Duration::from_secs(5), async {
        while janus.keepalives(s.id().0) <= before {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        answered.is_ok(),
        "keepalives go on after the unanswered check"
    );
    h.message(json!({})).await.unwrap();
    assert_eq!(client.stats().sessions, 1);
    // Nothing said the session was lost.
    assert!(
        !matches!(
            sev.recv().now_or_never(),
            Some(Some(SessionEvent::Closed(_)))
        ),
        "the session was not closed"
    );
}

#[tokio::test]
async fn a_shared_session_gone_during_the_outage_is_reported_lost() {
    let janus = MockJanus::new();
    janus.shared_sessions(true);
    let client = Client::connect(janus.connector(), fast_reconnect())
        .await
        .unwrap();
    let s = client.create_session().await.unwrap();
    let h = s.attach(ECHO).await.unwrap();
    let mut sev = s.events();
    let mut hev = h.events();
    // Janus restarted behind the broker: the keepalive after the reconnect gets 458.
    janus.forget_sessions();
    janus.close_connections();
    match next(&mut sev).await {
        Some(SessionEvent::Closed(CloseReason::SessionLost(why))) => {
            assert!(why.contains("458"), "{why}")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        next(&mut hev).await,
        Some(HandleEvent::Closed(CloseReason::SessionLost(_)))
    ));
    assert!(h.message(json!({})).await.unwrap_err().is_gone());
    let st = client.stats();
    assert_eq!((st.sessions, st.handles), (0, 0));
}

#[tokio::test]
async fn another_clients_events_on_a_shared_stream_are_dropped_and_counted() {
    let janus = MockJanus::new();
    janus.shared_sessions(true);
    let mine = Client::connect(janus.connector(), no_reconnect())
        .await
        .unwrap();
    let theirs = Client::connect(janus.connector(), no_reconnect())
        .await
        .unwrap();
    let my_handle = mine
        .create_session()
        .await
        .unwrap()
        .attach(ECHO)
        .await
        .unwrap();
    let their_session = theirs.create_session().await.unwrap();
    let their_handle = their_session.attach(ECHO).await.unwrap();
    let mut my_events = my_handle.events();
    let mut their_events = their_handle.events();
    // Both clients receive this event; only its owner delivers it.
    janus.push_event(their_handle.id().0, json!({"janus": "webrtcup"}));
    assert_eq!(next(&mut their_events).await, Some(HandleEvent::WebrtcUp));
    let counted = tokio::time::timeout(Duration::from_secs(5), async {
        while mine.stats().unroutable_events == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(counted.is_ok(), "the other client's event is counted");
    janus.push_event(my_handle.id().0, json!({"janus": "webrtcup"}));
    // The first event my handle sees is its own.
    assert_eq!(next(&mut my_events).await, Some(HandleEvent::WebrtcUp));
}

#[tokio::test]
async fn clients_sharing_a_stream_take_only_their_own_answers() {
    let janus = MockJanus::new();
    janus.shared_sessions(true);
    // Janus answers a's messages; b's go unanswered.
    janus.on_message(ECHO, |body| {
        if body["who"] == "a" {
            PluginReply::event(body.clone())
        } else {
            PluginReply::nothing()
        }
    });
    let a = Client::connect(janus.connector(), no_reconnect())
        .await
        .unwrap();
    let b = Client::connect(janus.connector(), no_reconnect())
        .await
        .unwrap();
    let ha = a
        .create_session()
        .await
        .unwrap()
        .attach(ECHO)
        .await
        .unwrap();
    let hb = b
        .create_session()
        .await
        .unwrap()
        .attach(ECHO)
        .await
        .unwrap();
    // b waits for an answer that never comes, while a's requests, numbered like b's and
    // answered to both clients, go by: none of a's answers may complete b's request.
    let waiting = tokio::spawn(async move {
        hb.with_timeout(Duration::from_secs(2))
            .message(json!({"who": "b"}))
            .await
    });
    let sent = tokio::time::timeout(Duration::from_secs(5), async {
        while !janus.requests().iter().any(|r| r["body"]["who"] == "b") {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(sent.is_ok(), "b's request reached the server");
    for i in 0..20 {
        let r = ha.message(json!({"who": "a", "i": i})).await.unwrap();
        assert_eq!(r.data, json!({"who": "a", "i": i}));
    }
    match waiting.await.unwrap() {
        Err(e) => assert!(e.is_timeout(), "{e}"),
        Ok(r) => panic!("b took an answer meant for a: {:?}", r.data),
    }
    assert!(b.stats().unknown_transactions > 0, "b saw a's answers");
}

#[tokio::test]
async fn requests_made_while_disconnected_wait_for_the_reconnect() {
    let (janus, client) = setup(fast_reconnect()).await;
    janus.keep_sessions_on_close(true);
    let s = client.create_session().await.unwrap();
    janus.refuse_connections(true);
    janus.close_connections();
    let mut state = client.connection_state();
    state
        .wait_for(|s| matches!(s, ConnectionState::Reconnecting { .. }))
        .await
        .unwrap();
    let waiting = tokio::spawn({
        let s = s.clone();
        async move { s.attach(ECHO).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished());
    assert!(client.stats().queued_requests >= 1);
    janus.refuse_connections(false);
    let h = tokio::time::timeout(Duration::from_secs(3), waiting)
        .await
        .expect("completes after reconnect")
        .unwrap()
        .expect("attach works after reconnect");
    assert_eq!(h.session().id(), s.id());
}

#[tokio::test]
async fn a_queued_request_still_times_out_when_the_server_stays_away() {
    let (janus, client) = setup(fast_reconnect()).await;
    let s = client.create_session().await.unwrap();
    janus.refuse_connections(true);
    janus.close_connections();
    let e = s
        .with_timeout(Duration::from_millis(300))
        .attach(ECHO)
        .await
        .unwrap_err();
    // The session was lost with the connection (no reclaim in this fake): either the local
    // check or the timeout answers, never a hang.
    assert!(e.is_timeout() || e.is_gone(), "{e}");
}

#[tokio::test]
async fn unclaimable_sessions_are_reported_lost() {
    let (janus, client) = setup(fast_reconnect()).await;
    let s = client.create_session().await.unwrap();
    let h = s.attach(ECHO).await.unwrap();
    let mut sev = s.events();
    let mut hev = h.events();
    // Sessions die with the connection (reclaim window 0): the claim gets 458.
    janus.close_connections();
    match next(&mut sev).await {
        Some(SessionEvent::Closed(CloseReason::SessionLost(why))) => {
            assert!(why.contains("458"), "{why}")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        next(&mut hev).await,
        Some(HandleEvent::Closed(CloseReason::SessionLost(_)))
    ));
    let e = h.message(json!({})).await.unwrap_err();
    assert!(e.is_gone());
    // The client itself is fine.
    let s2 = client.create_session().await.unwrap();
    s2.destroy().await.unwrap();
    let st = client.stats();
    assert_eq!(
        (st.sessions, st.handles, st.pending_transactions),
        (0, 0, 0)
    );
}

#[tokio::test]
async fn lost_sessions_are_recreated_by_policy() {
    let mut options = fast_reconnect();
    options.reconnect.recreate_lost_sessions = true;
    let (janus, client) = setup(options).await;
    janus.on_message(ECHO, |_| PluginReply::event(json!({"result": "ok"})));
    let s = client.create_session().await.unwrap();
    let h1 = s.attach(ECHO).opaque_id("first").await.unwrap();
    let h2 = s.attach(ECHO).await.unwrap();
    let mut sev = s.events();
    let (old_s, old_h1, old_h2) = (s.id(), h1.id(), h2.id());
    janus.close_connections();
    match next(&mut sev).await {
        Some(SessionEvent::Recreated { old, new, handles }) => {
            assert_eq!(old, old_s);
            assert_eq!(new, s.id());
            assert_ne!(new, old);
            assert_eq!(handles.len(), 2);
            assert!(handles.contains(&(old_h1, h1.id())));
            assert!(handles.contains(&(old_h2, h2.id())));
        }
        other => panic!("{other:?}"),
    }
    // The application's values work under their new ids.
    h1.message(json!({})).await.unwrap();
    h2.message(json!({})).await.unwrap();
    assert_eq!(janus.session_count(), 1);
    assert_eq!(janus.handle_count(), 2);
    // opaque_id came along.
    assert!(janus
        .requests()
        .iter()
        .filter(|r| r["janus"] == "attach")
        .any(|r| r["opaque_id"] == "first" && r["session_id"] == s.id().0));
}

#[tokio::test]
async fn reconnect_gives_up_after_max_attempts_and_says_so() {
    let mut options = fast_reconnect();
    options.reconnect.max_attempts = Some(3);
    let (janus, client) = setup(options).await;
    let s = client.create_session().await.unwrap();
    let mut sev = s.events();
    janus.refuse_connections(true);
    janus.close_connections();
    let mut state = client.connection_state();
    tokio::time::timeout(
        Duration::from_secs(5),
        state.wait_for(|s| matches!(s, ConnectionState::Closed { .. })),
    )
    .await
    .expect("gives up")
    .unwrap();
    assert!(matches!(
        next(&mut sev).await,
        Some(SessionEvent::Closed(CloseReason::TransportClosed(_)))
    ));
    let e = client.ping().await.unwrap_err();
    assert!(e.is_transport_closed(), "{e}");
}

#[tokio::test]
async fn an_unauthorized_reconnect_stops_the_loop_and_says_so() {
    let (janus, client) = setup(fast_reconnect()).await;
    let s = client.create_session().await.unwrap();
    let mut sev = s.events();
    janus.fail_connections_with(Some(janus_client::Error::janus(
        janus_client::codes::UNAUTHORIZED,
        "Unauthorized request (wrong or missing secret/token)",
    )));
    janus.close_connections();
    let mut state = client.connection_state();
    let closed = tokio::time::timeout(
        Duration::from_secs(5),
        state.wait_for(|s| matches!(s, ConnectionState::Closed { .. })),
    )
    .await
    .expect("the loop stops at once")
    .unwrap()
    .clone();
    match closed {
        ConnectionState::Closed { reason } => assert!(reason.contains("403"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        next(&mut sev).await,
        Some(SessionEvent::Closed(CloseReason::TransportClosed(_)))
    ));
    // With `max_attempts` unset, reaching `Closed` at all proves the loop stopped on the 403.
    assert!(client.ping().await.unwrap_err().is_transport_closed());
}

#[tokio::test]
async fn closing_the_client_ends_every_stream() {
    let (_janus, client) = setup(no_reconnect()).await;
    let s = client.create_session().await.unwrap();
    let h = s.attach(ECHO).await.unwrap();
    let mut hev = h.events();
    client.close().await;
    assert_eq!(
        next(&mut hev).await,
        Some(HandleEvent::Closed(CloseReason::Released))
    );
    assert!(client.info().await.is_err());
    assert!(matches!(
        h.message(json!({})).await.unwrap_err().kind(),
        ErrorKind::SessionGone { .. } | ErrorKind::HandleGone { .. }
    ));
}

#[tokio::test]
async fn a_server_that_stops_answering_holds_requests_until_it_answers_again() {
    let (janus, client) = setup(fast_reconnect()).await;
    janus.on_message(ECHO, |_| PluginReply::event(json!({"result": "ok"})));
    let s = client.create_session().await.unwrap();
    let h = s.attach(ECHO).await.unwrap();
    let mut state = client.connection_state();
    janus.interrupt("no answer to a check");
    tokio::time::timeout(
        Duration::from_secs(5),
        state.wait_for(|s| matches!(s, ConnectionState::Disconnected { .. })),
    )
    .await
    .expect("reported")
    .unwrap();
    // Made while the server does not answer: held, then sent once it does.
    let pending = tokio::spawn({
        let h = h.clone();
        async move { h.message(json!({})).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !janus.requests().iter().any(|r| r["janus"] == "message"),
        "a request went out while the server did not answer"
    );
    janus.restore();
    let reply = tokio::time::timeout(Duration::from_secs(5), pending)
        .await
        .expect("answered after the restore")
        .unwrap()
        .unwrap();
    assert_eq!(reply.data["result"], "ok");
    assert_eq!(
        *client.connection_state().borrow(),
        ConnectionState::Reconnected
    );
    // The same connection: no reconnect, no claim.
    assert_eq!(client.stats().reconnects, 0);
    assert!(!janus.requests().iter().any(|r| r["janus"] == "claim"));
}

#[tokio::test]
async fn thousands_of_drops_with_a_tiny_command_queue_lose_none() {
    let (janus, client) = setup(ClientOptions {
        command_buffer: 1,
        ..no_reconnect()
    })
    .await;
    let mut sessions = Vec::new();
    for _ in 0..1000 {
        let s = client.create_session().await.unwrap();
        if sessions.len() % 2 == 0 {
            let h = s.attach(ECHO).await.unwrap();
            sessions.push((s, Some(h)));
        } else {
            sessions.push((s, None));
        }
    }
    assert_eq!(janus.session_count(), 1000);
    drop(sessions);
    let gone = async {
        while janus.session_count() > 0 || janus.handle_count() > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), gone)
        .await
        .unwrap_or_else(|_| panic!("{} sessions left", janus.session_count()));
    let st = client.stats();
    assert_eq!((st.sessions, st.handles), (0, 0));
}

#[tokio::test]
async fn a_session_dropped_while_disconnected_is_destroyed_after_the_reconnect() {
    let (janus, client) = setup(fast_reconnect()).await;
    janus.keep_sessions_on_close(true);
    let kept = client.create_session().await.unwrap();
    let dropped = client.create_session().await.unwrap();
    let dropped_id = dropped.id();
    let mut state = client.connection_state();
    janus.refuse_connections(true);
    janus.close_connections();
    tokio::time::timeout(
        Duration::from_secs(5),
        state.wait_for(|s| matches!(s, ConnectionState::Reconnecting { .. })),
    )
    .await
    .expect("reconnecting")
    .unwrap();
    drop(dropped);
    janus.refuse_connections(false);
    let destroyed = async {
        while !janus
            .requests()
            .iter()
            .any(|r| r["janus"] == "destroy" && r["session_id"] == dropped_id.0)
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), destroyed)
        .await
        .expect("the dropped session is destroyed after the reconnect");
    assert_eq!(janus.session_count(), 1);
    kept.destroy().await.unwrap();
}

#[tokio::test]
async fn a_reconnect_attempt_that_hangs_does_not_hold_up_the_next() {
    let (janus, client) = setup(fast_reconnect()).await;
    janus.keep_sessions_on_close(true);
    let s = client.create_session().await.unwrap();
    let mut state = client.connection_state();
    // Attempts hang (a network that accepts and forwards nothing) until the core's own
    // 10 s limit; new ones go on starting on the backoff schedule.
    janus.hang_connections(true);
    janus.close_connections();
    tokio::time::timeout(
        Duration::from_secs(5),
        state.wait_for(|s| matches!(s, ConnectionState::Reconnecting { attempt } if *attempt >= 2)),
    )
    .await
    .expect("a second attempt while the first still hangs")
    .unwrap();
    janus.hang_connections(false);
    let back = tokio::time::Instant::now();
    tokio::time::timeout(
        Duration::from_secs(5),
        state.wait_for(|s| *s == ConnectionState::Reconnected),
    )
    .await
    .expect("reconnected long before the hung attempts time out")
    .unwrap();
    assert!(back.elapsed() < Duration::from_secs(5));
    s.keepalive().await.unwrap();
}

#[tokio::test]
async fn detach_ends_the_stream_after_janus_detached_and_calls_fail_at_once() {
    let (janus, client) = setup(no_reconnect()).await;
    let s = client.create_session().await.unwrap();
    let h = s.attach(ECHO).await.unwrap();
    let mut events = h.events();
    h.detach().await.unwrap();
    assert!(matches!(
        h.message(json!({})).await.unwrap_err().kind(),
        ErrorKind::HandleGone { .. }
    ));
    assert_eq!(
        next(&mut events).await,
        Some(HandleEvent::Closed(CloseReason::Detached))
    );
    assert_eq!(next(&mut events).await, None);
    assert_eq!(janus.handle_count(), 0);
    assert_eq!(client.stats().handles, 0);
}

/// Answers that come after their caller stopped waiting reach the handle's stream marked
/// as `LateReply`: one whose caller gave up (dropped the call), and one whose request timed
/// out and was forgotten before Janus answered.
#[tokio::test]
async fn late_answers_are_marked_on_the_handle_stream() {
    use std::future::IntoFuture;
    let (janus, client) = setup(no_reconnect()).await;
    janus.on_message(ECHO, |body| {
        let reply = PluginReply::event(json!({"result": body["n"].clone()}));
        if body["slow"] == true {
            reply.delayed(Duration::from_millis(600))
        } else {
            reply
        }
    });
    let s = client.create_session().await.unwrap();
    let h = s.attach(ECHO).await.unwrap();
    let mut events = h.events();

    let mut call = Box::pin(h.message(json!({"n": 1})).into_future());
    assert!(futures::poll!(call.as_mut()).is_pending());
    drop(call);
    match next(&mut events).await {
        Some(HandleEvent::LateReply { response, .. }) => {
            assert_eq!(response.data["result"], 1);
            assert_eq!(response.sender, Some(h.id()));
        }
        other => panic!("expected a late reply, got {other:?}"),
    }

    let err = h
        .message(json!({"n": 2, "slow": true}))
        .timeout(Duration::from_millis(100))
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    match next(&mut events).await {
        Some(HandleEvent::LateReply { response, .. }) => assert_eq!(response.data["result"], 2),
        other => panic!("expected a late reply, got {other:?}"),
    }
    // Published by the connection task after the batch that delivered it.
    let start = std::time::Instant::now();
    while client.stats().unknown_transactions != 2 {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            client.stats()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The keepalive follows the server's session timeout as read on each connection: a server
/// back with a shorter timeout gets keepalives often enough for it.
#[tokio::test]
async fn the_session_timeout_is_read_again_after_a_reconnect() {
    let (janus, client) = setup(fast_reconnect()).await;
    janus.keep_sessions_on_close(true);
    let s = client.create_session().await.unwrap();
    let sid = s.id().0;
    let mut sev = s.events();
    // 60 s on the first connection: keepalives every 20 s, none in the first moments.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(janus.keepalives(sid), 0);
    // The server comes back with a 3 s timeout: keepalives every second.
    janus.set_session_timeout(3);
    janus.close_connections();
    assert_eq!(next(&mut sev).await, Some(SessionEvent::Reclaimed));
    let infos = janus
        .requests()
        .iter()
        .filter(|r| r["janus"] == "info")
        .count();
    assert!(infos >= 2, "info asked again after the reconnect: {infos}");
    let start = std::time::Instant::now();
    while janus.keepalives(sid) < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "keepalives did not follow the 3 s timeout"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `f` every 10 ms until it holds or `limit` passes.
async fn holds_within(limit: Duration, f: impl Fn() -> bool) -> bool {
    let end = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < end {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    f()
}

#[tokio::test]
async fn a_create_or_attach_answered_after_its_caller_gave_up_is_undone_on_the_server() {
    let (janus, client) = setup(no_reconnect()).await;
    // Janus makes the session at once and answers a second later; the caller gives up first.
    janus.delay_next("create", 1, Duration::from_secs(1));
    let gave_up = tokio::time::timeout(Duration::from_millis(50), client.create_session()).await;
    assert!(gave_up.is_err());
    assert!(
        holds_within(Duration::from_secs(5), || janus.session_count() == 1).await,
        "Janus made the session"
    );
    // Nobody will ever hold it: destroyed once its answer comes, not kept alive.
    assert!(
        holds_within(Duration::from_secs(10), || janus.session_count() == 0).await,
        "the session was left on the server"
    );
    assert_eq!(client.stats().sessions, 0, "{:?}", client.stats());

    let s = client.create_session().await.unwrap();
    janus.delay_next("attach", 1, Duration::from_secs(1));
    let gave_up = tokio::time::timeout(Duration::from_millis(50), s.attach(ECHO)).await;
    assert!(gave_up.is_err());
    assert!(
        holds_within(Duration::from_secs(5), || janus.handle_count() == 1).await,
        "Janus made the handle"
    );
    assert!(
        holds_within(Duration::from_secs(10), || janus.handle_count() == 0).await,
        "the handle was left on the server"
    );
    assert_eq!(client.stats().handles, 0, "{:?}", client.stats());
    s.destroy().await.unwrap();
    assert!(
        holds_within(Duration::from_secs(5), || client
            .stats()
            .pending_transactions
            == 0)
        .await
    );
}
