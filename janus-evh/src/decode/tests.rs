//! Deliveries written after what Janus 1.1.2 sends (`src/events.c`, `ice.c`, `dtls.c`,
//! `sdp.c`), one per type and subtype, plus the broken ones a receiver must survive.

use super::*;
use serde_json::json;

fn one(v: Value) -> Event {
    let batch = decode(&v.to_string()).expect("decodes");
    assert_eq!(batch.skipped, 0);
    assert_eq!(batch.events.len(), 1);
    batch.events.into_iter().next().expect("one event")
}

#[test]
fn the_envelope_is_read_and_kept() {
    let raw = json!({"emitter": "janus-a", "type": 2, "timestamp": 1_700_000_000_123_456u64,
        "session_id": 11, "handle_id": 22, "opaque_id": "room-7",
        "event": {"name": "attached", "plugin": "janus.plugin.echotest", "opaque_id": "room-7",
                  "token": "t"},
        "future_field": [1, 2]});
    let e = one(raw.clone());
    assert_eq!(e.emitter.as_deref(), Some("janus-a"));
    assert_eq!(e.event_type, types::HANDLE);
    assert!(e.is(types::HANDLE));
    assert_eq!(e.subtype, None);
    assert_eq!(e.timestamp_us, Some(1_700_000_000_123_456));
    assert_eq!(e.session_id, Some(SessionId(11)));
    assert_eq!(e.handle_id, Some(HandleId(22)));
    assert_eq!(e.opaque_id.as_deref(), Some("room-7"));
    assert_eq!(
        e.body,
        EventBody::Handle {
            action: HandleAction::Attached,
            plugin: "janus.plugin.echotest".into(),
            token: Some("t".into()),
        }
    );
    assert_eq!(e.raw, raw, "the raw JSON is kept whole");
}

#[test]
fn session_events_by_name() {
    for (name, action) in [
        ("created", SessionAction::Created),
        ("destroyed", SessionAction::Destroyed),
        ("timeout", SessionAction::Timeout),
        ("renamed", SessionAction::Other("renamed".into())),
    ] {
        let e = one(json!({"type": 1, "session_id": 5, "event": {"name": name,
            "transport": {"transport": "janus.transport.http", "id": "123"}}}));
        match e.body {
            EventBody::Session {
                action: a,
                transport,
            } => {
                assert_eq!(a, action);
                assert_eq!(transport.expect("transport")["id"], "123");
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn jsep_external_plugin_transport_and_core() {
    let e = one(json!({"type": 8, "session_id": 1, "handle_id": 2,
        "event": {"owner": "remote", "jsep": {"type": "offer", "sdp": "v=0\r\n"}}}));
    assert_eq!(
        e.body,
        EventBody::Jsep {
            owner: JsepOwner::Remote,
            sdp_type: "offer".into(),
            sdp: "v=0\r\n".into()
        }
    );
    let e = one(json!({"type": 4, "event": {"schema": "my.app", "data": {"x": 1}}}));
    assert_eq!(
        e.body,
        EventBody::External {
            schema: "my.app".into(),
            data: json!({"x": 1})
        }
    );
    let e = one(json!({"type": 64, "session_id": 1, "handle_id": 2,
        "event": {"plugin": "janus.plugin.videoroom", "data": {"event": "joined", "room": 9}}}));
    assert_eq!(
        e.body,
        EventBody::Plugin {
            plugin: "janus.plugin.videoroom".into(),
            data: json!({"event": "joined", "room": 9})
        }
    );
    let e = one(
        json!({"type": 128, "event": {"transport": "janus.transport.websockets",
        "id": "987", "data": {"event": "connected", "admin_api": false}}}),
    );
    assert!(
        matches!(&e.body, EventBody::Transport { transport, id, data }
            if transport == "janus.transport.websockets" && id == "987" && data["event"] == "connected")
    );
    let e = one(json!({"type": 256, "subtype": 1,
        "event": {"status": "started", "info": {"version": 1102}}}));
    assert_eq!(
        e.body,
        EventBody::Core(CoreEvent::Started {
            info: json!({"version": 1102})
        })
    );
    let e = one(json!({"type": 256, "subtype": 2, "event": {"status": "shutdown", "signum": 15}}));
    assert_eq!(
        e.body,
        EventBody::Core(CoreEvent::Shutdown { signal: Some(15) })
    );
}

#[test]
fn webrtc_events_by_subtype() {
    let at = Component {
        stream_id: Some(1),
        component_id: Some(1),
    };
    let cases = [
        (
            1,
            json!({"ice": "connecting", "stream_id": 1, "component_id": 1}),
            WebRtcEvent::Ice {
                state: "connecting".into(),
                component: at,
            },
        ),
        (
            2,
            json!({"local-candidate": "candidate:1 1 udp 1 10.0.0.1 5000 typ host",
                   "stream_id": 1, "component_id": 1}),
            WebRtcEvent::LocalCandidate {
                candidate: "candidate:1 1 udp 1 10.0.0.1 5000 typ host".into(),
                component: at,
            },
        ),
        (
            3,
            json!({"remote-candidate": "candidate:2 1 udp 1 10.0.0.2 6000 typ host",
                   "stream_id": 1, "component_id": 1}),
            WebRtcEvent::RemoteCandidate {
                candidate: "candidate:2 1 udp 1 10.0.0.2 6000 typ host".into(),
                component: at,
            },
        ),
        (
            4,
            json!({"selected-pair": "10.0.0.1:5000 [host,udp] <-> 10.0.0.2:6000 [host,udp]",
                   "stream_id": 1, "component_id": 1}),
            WebRtcEvent::SelectedPair {
                pair: "10.0.0.1:5000 [host,udp] <-> 10.0.0.2:6000 [host,udp]".into(),
                component: at,
                candidates: None,
            },
        ),
        (
            5,
            json!({"dtls": "connected", "stream_id": 1, "component_id": 1, "retransmissions": 0}),
            WebRtcEvent::Dtls {
                state: "connected".into(),
                component: at,
                retransmissions: Some(0),
            },
        ),
        (
            6,
            json!({"connection": "hangup", "reason": "DTLS alert"}),
            WebRtcEvent::Connection {
                state: ConnectionChange::Hangup,
                reason: Some("DTLS alert".into()),
            },
        ),
        (
            6,
            json!({"connection": "webrtcup"}),
            WebRtcEvent::Connection {
                state: ConnectionChange::WebrtcUp,
                reason: None,
            },
        ),
        (9, json!({"something": "new"}), WebRtcEvent::Other),
    ];
    for (subtype, body, want) in cases {
        let e = one(
            json!({"type": 16, "subtype": subtype, "session_id": 1, "handle_id": 2,
            "event": body}),
        );
        assert_eq!(e.body, EventBody::WebRtc(want), "subtype {subtype}");
    }
}

#[test]
fn media_states_slow_links_and_stats() {
    let e = one(
        json!({"type": 32, "subtype": 1, "session_id": 1, "handle_id": 2,
        "event": {"media": "audio", "mid": "0", "receiving": false, "seconds": 1}}),
    );
    assert_eq!(
        e.body,
        EventBody::Media(MediaEvent::Receiving {
            media: "audio".into(),
            mid: Some("0".into()),
            substream: None,
            receiving: false,
            seconds: Some(1)
        })
    );
    let e = one(
        json!({"type": 32, "subtype": 2, "session_id": 1, "handle_id": 2,
        "event": {"media": "video", "mid": "1", "slow_link": "downlink", "lost_lastsec": 12}}),
    );
    assert_eq!(
        e.body,
        EventBody::Media(MediaEvent::SlowLink {
            media: "video".into(),
            mid: Some("1".into()),
            uplink: false,
            lost_last_second: Some(12)
        })
    );
    let audio = json!({"mid": "0", "mindex": 0, "media": "audio", "codec": "opus", "base": 48000,
        "rtt": 3, "lost": 0, "lost-by-remote": -1, "jitter-local": 2, "jitter-remote": 1,
        "in-link-quality": 100, "in-media-link-quality": 100, "out-link-quality": 100,
        "out-media-link-quality": 100, "packets-received": 250, "packets-sent": 249,
        "bytes-received": 24000, "bytes-sent": 23900, "bytes-received-lastsec": 4000,
        "bytes-sent-lastsec": 3990, "nacks-received": 0, "nacks-sent": 0,
        "retransmissions-received": 0, "remb-bitrate": 256000});
    let e = one(
        json!({"type": 32, "subtype": 3, "session_id": 1, "handle_id": 2,
        "event": audio}),
    );
    let EventBody::Media(MediaEvent::Stats(stats)) = e.body else {
        panic!("{:?}", e.body);
    };
    let s = &stats[0];
    assert_eq!(s.codec.as_deref(), Some("opus"));
    assert_eq!(
        (
            s.rtt,
            s.lost,
            s.lost_by_remote,
            s.packets_received,
            s.bytes_sent
        ),
        (Some(3), Some(0), Some(-1), Some(250), Some(23900))
    );
    assert_eq!(
        (
            s.bytes_received_last_second,
            s.bytes_sent_last_second,
            s.remb_bitrate
        ),
        (Some(4000), Some(3990), Some(256000))
    );
    // Combined: one event for all of a handle's m-lines; a data channel has fewer figures.
    let e = one(
        json!({"type": 32, "subtype": 3, "session_id": 1, "handle_id": 2,
        "event": [audio, {"mid": "2", "mindex": 2, "media": "data", "packets-received": 3,
            "packets-sent": 3, "bytes-received": 90, "bytes-sent": 80}]}),
    );
    let EventBody::Media(MediaEvent::Stats(stats)) = e.body else {
        panic!("{:?}", e.body);
    };
    assert_eq!(stats.len(), 2);
    assert_eq!(stats[1].media.as_deref(), Some("data"));
    assert_eq!(stats[1].rtt, None);
}

#[test]
fn grouped_deliveries_keep_order_and_skip_what_is_not_an_event() {
    let batch = decode(
        &json!([
            {"type": 1, "session_id": 1, "event": {"name": "created"}},
            "garbage",
            {"no": "type"},
            {"type": "1"},
            {"type": 2, "session_id": 1, "handle_id": 2,
             "event": {"name": "attached", "plugin": "janus.plugin.echotest"}},
        ])
        .to_string(),
    )
    .expect("an array decodes");
    assert_eq!(batch.skipped, 3);
    let kinds: Vec<u32> = batch.events.iter().map(|e| e.event_type).collect();
    assert_eq!(kinds, [types::SESSION, types::HANDLE]);
    assert_eq!(decode("[]").expect("empty").events.len(), 0);
}

#[test]
fn unknown_types_and_odd_bodies_are_kept_as_other() {
    let e = one(json!({"type": 512, "event": {"new": true}}));
    assert_eq!(e.body, EventBody::Other);
    assert_eq!(e.raw["event"]["new"], true);
    // A known type without what it must carry.
    let e = one(json!({"type": 1, "session_id": 1, "event": {}}));
    assert_eq!(e.body, EventBody::Other);
    let e = one(json!({"type": 2, "event": "not an object"}));
    assert_eq!(e.body, EventBody::Other);
    let e = one(json!({"type": 32, "subtype": 1, "event": {"media": "audio"}}));
    assert_eq!(e.body, EventBody::Media(MediaEvent::Other));
    let e = one(json!({"type": 32, "subtype": 3, "event": 7}));
    assert_eq!(e.body, EventBody::Media(MediaEvent::Other));
}

#[test]
fn what_is_not_a_delivery_is_an_error() {
    for bad in [
        "",
        "{",
        "not json",
        "42",
        "\"text\"",
        "null",
        "{\"event\":{}}",
        "{\"type\":-1}",
    ] {
        let err = decode(bad).expect_err(bad);
        assert!(
            err.to_string().starts_with("not a Janus event delivery"),
            "{err}"
        );
    }
    // Ids Janus never sends (negative, fractional) are left out, not guessed.
    let e = one(json!({"type": 1, "session_id": -3, "handle_id": 1.5,
        "event": {"name": "created"}}));
    assert_eq!((e.session_id, e.handle_id), (None, None));
}
