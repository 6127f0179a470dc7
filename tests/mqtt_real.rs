//! What is particular to Janus through an MQTT broker, against the real broker and Janus
//! that scripts/test starts (scripts/mqtt-broker, scripts/janus --mqtt-broker):
//! clients sharing one topic, a broker killed and restarted, a broker that refuses the
//! credentials, garbage on the topic. (Everything the other transports do, the suites run
//! over MQTT too: `targets()` has an `mqtt` arm.)
#![cfg(feature = "mqtt")]

mod common;

use common::proxy::Proxy;
use common::{env_or_skip, eventually, until_usable, Target};
use futures::future::join_all;
use janus_client::{connect, ClientOptions, Config, HandleEvent, ReconnectPolicy, SessionEvent};
use serde_json::json;
use std::future::IntoFuture;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const ECHO: &str = "janus.plugin.echotest";

fn mqtt_target(prefix: &str) -> Option<Target> {
    let url = env_or_skip(&format!("{prefix}_MQTT_URL"))?;
    Some(Target {
        transport: "mqtt",
        url,
    })
}

/// `n` echotest messages on a fresh session and handle of `client`, 16 at a time; every
/// answer must come from this handle. Returns the handle's id and the events its stream got.
async fn own_replies_only(client: &janus_client::Client, n: usize) -> Vec<HandleEvent> {
    let session = client.create_session().await.unwrap();
    let handle = session.attach(ECHO).await.unwrap();
    let mut events = handle.events();
    let me = handle.id();
    let mut sent = 0;
    while sent < n {
        let batch = (n - sent).min(16);
        let replies = join_all((0..batch).map(|i| {
            handle
                .message(json!({"audio": true, "n": sent + i}))
                .timeout(Duration::from_secs(20))
                .into_future()
        }))
        .await;
        for r in replies {
            let r = r.unwrap_or_else(|e| panic!("message on handle {me}: {e}"));
            assert_eq!(r.sender, Some(me), "a reply from another handle: {r:?}");
            assert_eq!(r.data["result"], "ok", "{:?}", r.data);
        }
        sent += batch;
    }
    // Whatever else came on this handle's stream is this handle's (the core routes by
    // sender); a late reply would be a reply matched to no request of ours.
    let mut got = Vec::new();
    while let Ok(Some(ev)) = tokio::time::timeout(Duration::from_millis(100), events.recv()).await {
        got.push(ev);
    }
    drop(events);
    handle.detach().await.unwrap();
    session.destroy().await.unwrap();
    got
}

async fn two_clients_share_a_topic(t: Target, expect_foreign: bool) {
    let a = t.connect().await;
    let b = t.connect().await;
    let (ea, eb) = tokio::join!(own_replies_only(&a, 1000), own_replies_only(&b, 1000));
    for (name, events) in [("a", ea), ("b", eb)] {
        for ev in events {
            assert!(
                !matches!(ev, HandleEvent::LateReply { .. }),
                "{name} got a reply for no request of its own: {ev:?}"
            );
        }
    }
    // With MQTT 3.1.1 each client received the other's replies on the shared topic too, and
    // dropped them without harm, counted: a foreign `success` as an unknown transaction, a
    // foreign plugin `event` (whose transaction is not of this client) as unroutable.
    if expect_foreign {
        for (name, c) in [("a", &a), ("b", &b)] {
            let seen = eventually(Duration::from_secs(10), || async {
                let s = c.stats();
                s.unknown_transactions + s.unroutable_events >= 1000
            })
            .await;
            assert!(
                seen,
                "{name} did not see the other's replies: {:?}",
                c.stats()
            );
        }
    }
    println!(
        "MQTT {}: two clients, 1000 messages each, 0 cross-talk; dropped foreign traffic: a {:?}, b {:?}",
        t.url,
        (a.stats().unknown_transactions, a.stats().unroutable_events),
        (b.stats().unknown_transactions, b.stats().unroutable_events),
    );
    common::assert_empty(&a).await;
    common::assert_empty(&b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_on_one_topic_each_get_only_their_own_replies() {
    if let Some(t) = mqtt_target("JANUS") {
        two_clients_share_a_topic(t, true).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_with_mqtt5_each_get_only_their_own_replies() {
    if let Some(t) = mqtt_target("JANUS_MQTT5") {
        assert!(t.url.contains("protocol=5"), "{}", t.url);
        two_clients_share_a_topic(t, false).await;
    }
}

fn broker_script(cmd: &str, name: &str) {
    let status = std::process::Command::new("scripts/mqtt-broker")
        .args([cmd, name])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("scripts/mqtt-broker");
    assert!(status.success(), "scripts/mqtt-broker {cmd} {name} failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_killed_and_restarted_under_load_sessions_go_on() {
    let Some(t) = mqtt_target("JANUS_MQTT_RESTART") else {
        return;
    };
    let Some(broker) = env_or_skip("MQTT_RESTART_BROKER_NAME") else {
        return;
    };
    let client = t
        .connect_with(ClientOptions {
            reconnect: ReconnectPolicy {
                initial_delay: Duration::from_millis(100),
                max_delay: Duration::from_millis(500),
                ..Default::default()
            },
            ..Default::default()
        })
        .await;
    let mut sessions = Vec::new();
    let mut handles = Vec::new();
    for _ in 0..2 {
        let s = client.create_session().await.unwrap();
        for _ in 0..2 {
            handles.push(s.attach(ECHO).await.unwrap());
        }
        sessions.push(s);
    }
    let ids: Vec<_> = handles.iter().map(|h| (h.session().id(), h.id())).collect();
    let mut session_events: Vec<_> = sessions.iter().map(|s| s.events()).collect();

    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = handles
        .iter()
        .cloned()
        .map(|h| {
            let (stop, done, failed) = (stop.clone(), done.clone(), failed.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    match h
                        .message(json!({"audio": true}))
                        .timeout(Duration::from_secs(3))
                        .await
                    {
                        Ok(r) => {
                            assert_eq!(r.sender, Some(h.id()));
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        // In flight at the kill, or sent while the broker was away.
                        Err(e) if e.is_transport_closed() || e.is_timeout() => {
                            failed.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(20)).await
                        }
                        Err(e) => panic!("workload on handle {}: {e}", h.id()),
                    }
                }
            })
        })
        .collect();

    assert!(
        eventually(Duration::from_secs(10), || async {
            done.load(Ordering::Relaxed) >= 20
        })
        .await,
        "no progress before the kill"
    );
    let before = done.load(Ordering::Relaxed);
    broker_script("kill", &broker);
    tokio::time::sleep(Duration::from_secs(1)).await;
    broker_script("restart", &broker);
    // Janus reconnects to the broker by itself (paho's automatic reconnect), the client too.
    let start = tokio::time::Instant::now();
    join_all(
        handles
            .iter()
            .map(|h| until_usable(h, Duration::from_secs(40))),
    )
    .await;
    let recovered = start.elapsed();
    let after_recovery = done.load(Ordering::Relaxed);
    assert!(
        eventually(Duration::from_secs(10), || async {
            done.load(Ordering::Relaxed) >= after_recovery + 20
        })
        .await,
        "no progress after the broker came back"
    );
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.expect("workload task");
    }
    assert!(client.stats().reconnects >= 1, "{:?}", client.stats());
    // The same sessions and handles, and nothing said they were lost.
    let now: Vec<_> = handles.iter().map(|h| (h.session().id(), h.id())).collect();
    assert_eq!(ids, now);
    for ev in session_events.iter_mut() {
        use futures::FutureExt;
        while let Some(Some(e)) = ev.recv().now_or_never() {
            assert!(
                matches!(e, SessionEvent::Reclaimed),
                "unexpected session event {e:?}"
            );
        }
    }
    println!(
        "MQTT broker restart: {before} done before, usable again {recovered:?} after the restart, {} failed retry-safe or timed out, {:?}",
        failed.load(Ordering::Relaxed),
        client.stats()
    );
    drop(handles);
    for s in sessions {
        s.destroy().await.unwrap();
    }
    common::assert_empty(&client).await;
}

fn with_credentials(url: &str, user: &str, pass: &str) -> String {
    let mut u = url::Url::parse(url).unwrap();
    u.set_username(user).unwrap();
    u.set_password(Some(pass)).unwrap();
    u.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_fail_connect_once_as_unauthorized() {
    let (Some(auth_url), Some(user), Some(pass), Some(janus)) = (
        env_or_skip("MQTT_BROKER_AUTH_URL"),
        env_or_skip("MQTT_BROKER_USER"),
        env_or_skip("MQTT_BROKER_PASSWORD"),
        mqtt_target("JANUS"),
    ) else {
        return;
    };
    // Janus' topics, through the listener that checks passwords (same broker).
    let query = url::Url::parse(&janus.url)
        .unwrap()
        .query()
        .unwrap()
        .to_string();
    let proxy = Proxy::start(&auth_url).await;
    let base = format!("{}?{query}", proxy.url.trim_end_matches('/'));
    for (what, url) in [
        ("a wrong password", with_credentials(&base, &user, "wrong")),
        ("an unknown user", with_credentials(&base, "nobody", &pass)),
        ("no credentials", base.clone()),
    ] {
        let before = proxy.accepted();
        let started = tokio::time::Instant::now();
        let Err(e) = connect(Config::new(url)).await else {
            panic!("{what}: connected")
        };
        assert!(e.is_unauthorized(), "{what}: {e:?}");
        assert!(
            e.to_string().contains("refused the credentials"),
            "{what}: {e}"
        );
        assert!(started.elapsed() < Duration::from_secs(5), "{what}: slow");
        // One attempt, and none after it.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(proxy.accepted() - before, 1, "{what}: retried");
    }
    // The right ones work, through the same listener, to the same Janus.
    let client = connect(Config::new(with_credentials(&base, &user, &pass)))
        .await
        .unwrap();
    client.ping().await.unwrap();
    let s = client.create_session().await.unwrap();
    s.destroy().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_the_topic_is_dropped_and_counted() {
    let Some(t) = mqtt_target("JANUS") else {
        return;
    };
    let mut config = t.config(ClientOptions::default());
    config.mqtt.max_message_bytes = 64 << 10;
    let client = connect(config).await.unwrap();
    let session = client.create_session().await.unwrap();
    let handle = session.attach(ECHO).await.unwrap();

    // Another MQTT client publishes on the topic Janus answers on.
    let u = url::Url::parse(&t.url).unwrap();
    let topic = u
        .query_pairs()
        .find(|(k, _)| k == "response_topic")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let mut o = rumqttc::MqttOptions::new(
        format!("garbage-{}", std::process::id()),
        u.host_str().unwrap(),
        u.port().unwrap(),
    );
    o.set_max_packet_size(1 << 20, 1 << 20);
    let (raw, mut events) = rumqttc::AsyncClient::new(o, 16);
    let poller = tokio::spawn(async move { while events.poll().await.is_ok() {} });
    let garbage: Vec<Vec<u8>> = vec![
        b"{not json".to_vec(),
        vec![0xff, 0xfe, 0x00],
        vec![b' '; 100 << 10], // over max_message_bytes
        b"[1,2,3]".to_vec(),
    ];
    let before = client.stats().malformed_messages;
    for g in &garbage {
        raw.publish(&topic, rumqttc::QoS::AtLeastOnce, false, g.clone())
            .await
            .unwrap();
    }
    let counted = eventually(Duration::from_secs(10), || async {
        client.stats().malformed_messages >= before + 3
    })
    .await;
    assert!(counted, "garbage not counted: {:?}", client.stats());
    // Still connected, still working.
    assert_eq!(client.stats().reconnects, 0, "{:?}", client.stats());
    let r = handle.message(json!({"audio": true})).await.unwrap();
    assert_eq!(r.sender, Some(handle.id()));
    client.ping().await.unwrap();
    poller.abort();
    handle.detach().await.unwrap();
    session.destroy().await.unwrap();
}
