//! The RabbitMQ transport against the real broker and Janus of the suite (`scripts/test`):
//! several clients on one broker, bad credentials, hostile input on the client's queue,
//! and the broker killed and restarted under load (`RABBITMQ_RESTART_NAME`, whose Janus
//! is `JANUS_AMQPRESTART`).

mod common;

use common::{env_or_skip, eventually, until_usable};
use futures::future::join_all;
use janus_client::{connect, ClientOptions, Config, HandleEvent};
use serde_json::json;
use std::time::Duration;

fn amqp_url(prefix: &str) -> Option<String> {
    env_or_skip(&format!("{prefix}_AMQP_URL"))
}

/// Two clients on one broker and one Janus, at once: each gets the answers to its own
/// requests (checked by content: each asks about rooms of its own) and the events of its
/// own handles, never the other's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_on_one_broker_each_get_only_their_own() {
    let Some(url) = amqp_url("JANUS") else {
        return;
    };
    // Both clients are connected before either sends a request, and stay connected until
    // both are done: each then receives every message of the other.
    let ready = std::sync::Arc::new(tokio::sync::Barrier::new(2));
    let done = std::sync::Arc::new(tokio::sync::Barrier::new(2));
    let run = |base: u64| {
        let url = url.clone();
        let (ready, done) = (ready.clone(), done.clone());
        async move {
            let client = connect(Config::new(url)).await.expect("connect");
            ready.wait().await;
            let session = client.create_session().await.expect("create");
            let rooms = session
                .attach("janus.plugin.videoroom")
                .await
                .expect("attach");
            let echo = session
                .attach("janus.plugin.echotest")
                .await
                .expect("attach");
            let mut events = echo.events();
            for chunk in 0..20u64 {
                let asks = (0..50u64).map(|i| {
                    let room = base + chunk * 50 + i;
                    let rooms = rooms.clone();
                    async move {
                        let r = rooms
                            .message(json!({"request": "exists", "room": room}))
                            .await
                            .expect("exists");
                        assert_eq!(
                            r.data["room"],
                            json!(room),
                            "another client's answer: {r:?}"
                        );
                        assert_eq!(r.sender, Some(rooms.id()));
                    }
                });
                join_all(asks).await;
            }
            // Asynchronous answers (ack, then an event with the transaction) too.
            for _ in 0..100 {
                let r = echo.message(json!({"audio": true})).await.expect("echo");
                assert_eq!(r.sender, Some(echo.id()));
            }
            // Something that comes only as an event: the handle's own hangup.
            echo.hangup().await.expect("hangup");
            let (session_id, echo_id) = (session.id(), echo.id());
            drop(rooms);
            echo.detach().await.expect("detach");
            while let Some(ev) = tokio::time::timeout(Duration::from_secs(10), events.recv())
                .await
                .expect("the handle's stream ends")
            {
                if let HandleEvent::Plugin(p) = &ev {
                    assert_eq!(p.sender, Some(echo_id), "another handle's event: {ev:?}");
                }
                if let HandleEvent::LateReply { .. } = ev {
                    panic!("a late reply on a client that never timed out: {ev:?}");
                }
                if matches!(ev, HandleEvent::Closed(_)) {
                    break;
                }
            }
            session.destroy().await.expect("destroy");
            done.wait().await;
            // The other's last messages may still be on their way: wait for some.
            let seen = eventually(Duration::from_secs(10), || async {
                let s = client.stats();
                s.unknown_transactions > 0 && s.unroutable_events > 0
            })
            .await;
            let stats = client.stats();
            eprintln!("client {base}: session {session_id}: {stats:?}");
            assert!(
                seen,
                "the other client's traffic was not seen (and dropped): {stats:?}"
            );
            stats
        }
    };
    // A client that fails leaves the other at a barrier: bounded.
    let (a, b) = tokio::time::timeout(Duration::from_secs(180), async {
        tokio::join!(tokio::spawn(run(1_000_000)), tokio::spawn(run(2_000_000)))
    })
    .await
    .expect("both clients done within 180 s");
    let (a, b) = (a.expect("client a"), b.expect("client b"));
    assert_eq!(a.malformed_messages + b.malformed_messages, 0);
}

/// Credentials the broker refuses: a clear, unauthorized error at connect, at once, after
/// one attempt.
#[tokio::test]
async fn bad_credentials_are_a_clear_unauthorized_error() {
    let Some(url) = amqp_url("JANUS") else {
        return;
    };
    let bad = url.replacen("guest:guest@", "guest:wrong@", 1);
    assert_ne!(bad, url);
    let options = ClientOptions {
        request_timeout: Duration::from_secs(20),
        ..Default::default()
    };
    let result = tokio::time::timeout(
        Duration::from_secs(30),
        connect(Config::new(bad).with_options(options)),
    )
    .await
    .expect("connect answers");
    let Err(e) = result else {
        panic!("connected with a wrong password")
    };
    let text = e.to_string();
    eprintln!("{text}");
    assert!(e.is_unauthorized(), "{e:?}");
    assert!(text.contains("refused the credentials"), "{text}");
    assert!(!text.contains("wrong"), "the password is shown: {text}");
}

/// Garbage on the client's own queue (not JSON, not UTF-8, over `amqp.max_message_bytes`)
/// is dropped and counted, and the client keeps working.
#[tokio::test]
async fn bad_input_on_the_reply_queue_is_dropped_and_counted() {
    let Some(url) = amqp_url("JANUS") else {
        return;
    };
    let queue = format!("janus-client-test-hostile-{}", std::process::id());
    let mut config = Config::new(url.clone());
    config.amqp.reply_queue = Some(queue.clone());
    config.amqp.max_message_bytes = 64 << 10;
    let client = connect(config).await.expect("connect");
    let session = client.create_session().await.expect("create");
    let handle = session
        .attach("janus.plugin.echotest")
        .await
        .expect("attach");

    // A second connection, as a hostile or broken publisher.
    let conn = raw_connection(&url).await;
    let ch = conn.create_channel().await.expect("channel");
    let big = vec![b'x'; 100 << 10];
    let garbage: [&[u8]; 4] = [b"{not json", b"\xff\xfe\x00", &big, b"[1,2,"];
    for body in garbage {
        ch.basic_publish(
            "".into(),
            queue.as_str().into(),
            Default::default(),
            body,
            Default::default(),
        )
        .await
        .expect("publish")
        .await
        .expect("confirm");
    }
    let counted = eventually(Duration::from_secs(10), || async {
        client.stats().malformed_messages >= 4
    })
    .await;
    assert!(counted, "{:?}", client.stats());
    handle
        .message(json!({"audio": true}))
        .await
        .expect("still works");
    client.info().await.expect("info still works");
    let _ = conn.close(200, "bye".into()).await;
}

/// A named queue another client already reads is refused at connect: RabbitMQ would split
/// the messages between the two.
#[tokio::test]
async fn a_shared_reply_queue_is_refused() {
    let Some(url) = amqp_url("JANUS") else {
        return;
    };
    let queue = format!("janus-client-test-shared-{}", std::process::id());
    let mut config = Config::new(url);
    config.amqp.reply_queue = Some(queue);
    config.amqp.reply_queue_exclusive = false;
    let first = connect(config.clone()).await.expect("first client");
    first.info().await.expect("info");
    let Err(e) = connect(config).await else {
        panic!("a second client on the same queue was accepted")
    };
    let text = e.to_string();
    assert!(text.contains("queue"), "{text}");
    eprintln!("{text}");
}

fn rabbitmq_script(cmd: &str, name: &str) {
    let status = std::process::Command::new("scripts/rabbitmq")
        .args([cmd, name])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run scripts/rabbitmq");
    assert!(status.success(), "scripts/rabbitmq {cmd} {name} failed");
}

/// The broker killed (SIGKILL) and restarted under load: the client reconnects to it, its
/// sessions go on with the same ids (checked with a keepalive, not claimed), and every
/// request either completes or fails with a transport error whose retry-safety says
/// whether it may have reached Janus.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_broker_killed_and_restarted_under_load() {
    let (Some(name), Some(url)) = (
        env_or_skip("RABBITMQ_RESTART_NAME"),
        amqp_url("JANUS_AMQPRESTART"),
    ) else {
        return;
    };
    let client = connect(Config::new(url)).await.expect("connect");
    let mut handles = Vec::new();
    let mut sessions = Vec::new();
    for _ in 0..4 {
        let s = client.create_session().await.expect("create");
        handles.push(s.attach("janus.plugin.echotest").await.expect("attach"));
        sessions.push(s);
    }
    let ids: Vec<_> = sessions.iter().map(|s| s.id()).collect();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load: Vec<_> = handles
        .iter()
        .cloned()
        .map(|h| {
            let stop = stop.clone();
            tokio::spawn(async move {
                let (mut ok, mut failed) = (0u32, Vec::new());
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    match h
                        .message(json!({"audio": true}))
                        .timeout(Duration::from_secs(5))
                        .await
                    {
                        Ok(_) => ok += 1,
                        Err(e) => {
                            assert!(
                                e.is_transport_closed() || e.is_timeout(),
                                "a request failed otherwise: {e:?}"
                            );
                            failed.push(e);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }
                (ok, failed)
            })
        })
        .collect();
    assert!(
        eventually(Duration::from_secs(10), || async {
            client.stats().pending_transactions > 0
        })
        .await
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    rabbitmq_script("kill", &name);
    tokio::time::sleep(Duration::from_secs(1)).await;
    rabbitmq_script("restart", &name);
    for h in &handles {
        let took = until_usable(h, Duration::from_secs(60)).await;
        eprintln!("handle {} usable again after {took:?}", h.id());
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for (i, task) in join_all(load).await.into_iter().enumerate() {
        let (ok, failed) = task.expect("load task");
        eprintln!(
            "worker {i}: {ok} answered, {} failed: {:?}",
            failed.len(),
            failed.iter().map(|e| e.to_string()).collect::<Vec<_>>()
        );
        assert!(ok > 0);
    }
    assert!(client.stats().reconnects >= 1, "{:?}", client.stats());
    for (s, id) in sessions.iter().zip(ids) {
        assert_eq!(s.id(), id);
        s.keepalive().await.expect("the session lives on");
    }
}

/// A request larger than one AMQP frame at Janus's frame size fails at once with a `Limit`
/// error naming `amqp.max_request_bytes`. With the limit raised, Janus 1.1.2 shows why it
/// exists: it parses such a request with the length of its last frame only, and never
/// answers it (its parse error carries no transaction).
#[tokio::test]
async fn a_request_over_one_frame_is_refused_at_once() {
    let Some(url) = amqp_url("JANUS") else {
        return;
    };
    let pad = "x".repeat(200_000);
    let client = connect(Config::new(url.clone())).await.expect("connect");
    let session = client.create_session().await.expect("create");
    let handle = session
        .attach("janus.plugin.echotest")
        .await
        .expect("attach");
    let e = handle
        .message(json!({"audio": true, "pad": pad}))
        .await
        .expect_err("a 200 kB request was sent");
    assert!(
        matches!(e.kind(), janus_client::ErrorKind::Limit { option, .. } if option == "amqp.max_request_bytes"),
        "{e:?}"
    );
    // Just under the limit goes through.
    let fits = "x".repeat(janus_client::AmqpOptions::JANUS_FRAME_PAYLOAD - 400);
    handle
        .message(json!({"audio": true, "pad": fits}))
        .await
        .expect("a request of one frame");

    let mut config = Config::new(url);
    config.amqp.max_request_bytes = 1 << 20;
    let raised = connect(config).await.expect("connect");
    let session = raised.create_session().await.expect("create");
    let handle = session
        .attach("janus.plugin.echotest")
        .await
        .expect("attach");
    let answer = handle
        .message(json!({"audio": true, "pad": pad}))
        .timeout(Duration::from_secs(3))
        .await;
    eprintln!("a 200 kB request with the limit raised: {answer:?}");
    assert!(answer.is_err(), "Janus answered a request over one frame");
    handle
        .message(json!({"audio": true}))
        .await
        .expect("still works");
}

/// Configurations that cannot work say so: an exchange type other than the one Janus
/// declared fails the connect naming the option; a queue nobody reads (no Janus behind it)
/// fails the connect with a timeout (its `info` probe is republished until then), never a
/// hang.
#[tokio::test]
async fn a_wrong_exchange_type_or_a_queue_nobody_reads() {
    let Some(url) = amqp_url("JANUS") else {
        return;
    };
    let mut config = Config::new(url.clone());
    config.amqp.janus_exchange_type = "fanout".into();
    // The URL names the type too: it wins, so take it out.
    config.url = url.replace("&janus_exchange_type=direct", "");
    let Err(e) = connect(config).await else {
        panic!("connected with the wrong exchange type")
    };
    let text = e.to_string();
    assert!(
        text.contains("amqp.janus_exchange_type") && text.contains("406"),
        "{text}"
    );

    // The client's first `info` (the probe) goes unanswered: connect fails with a timeout.
    let nobody = url.replacen("to_janus=", "to_janus=nobody-reads-", 1);
    let options = ClientOptions {
        request_timeout: Duration::from_secs(1),
        ..Default::default()
    };
    let Err(e) = tokio::time::timeout(
        Duration::from_secs(10),
        connect(Config::new(nobody).with_options(options)),
    )
    .await
    .expect("no hang") else {
        panic!("connected to nobody")
    };
    assert!(e.is_timeout(), "{e:?}");
}

/// A plain lapin connection to the broker of `url` (its query string left out), for what
/// the tests do beside the client.
async fn raw_connection(url: &str) -> lapin::Connection {
    let base = url.split('?').next().expect("a URL");
    lapin::Connection::connect(base, lapin::ConnectionProperties::default())
        .await
        .expect("raw connection")
}

/// The URL's query parameter `key`.
fn url_param<'a>(url: &'a str, key: &str) -> &'a str {
    url.split(['?', '&'])
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("{key} in {url}"))
}

/// A stand-in for Janus on queues of its own: reads `to_janus`, records each request's
/// `janus` and transaction, and answers every `create` with session 42 on `janus_exchange`
/// under `from_janus`.
async fn stand_in_janus(
    channel: &lapin::Channel,
    to_janus: &str,
    exchange: &str,
    from_janus: &str,
    seen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
) {
    use lapin::options::{BasicConsumeOptions, QueueDeclareOptions};
    // As Janus declares its queue: not durable, not exclusive, not auto-deleted.
    channel
        .queue_declare(
            to_janus.into(),
            QueueDeclareOptions::default(),
            Default::default(),
        )
        .await
        .expect("declare to_janus");
    let mut consumer = channel
        .basic_consume(
            to_janus.into(),
            "".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            Default::default(),
        )
        .await
        .expect("consume to_janus");
    let channel = channel.clone();
    let (exchange, from_janus) = (exchange.to_string(), from_janus.to_string());
    tokio::spawn(async move {
        use futures::StreamExt;
        while let Some(Ok(delivery)) = consumer.next().await {
            let Ok(request) = serde_json::from_slice::<serde_json::Value>(&delivery.data) else {
                continue;
            };
            let transaction = request["transaction"].as_str().unwrap_or_default();
            seen.lock()
                .expect("not poisoned")
                .push(format!("{} {transaction}", request["janus"]));
            let reply = json!({"janus": "success", "transaction": transaction, "data": {"id": 42}});
            let _ = channel
                .basic_publish(
                    exchange.as_str().into(),
                    from_janus.as_str().into(),
                    Default::default(),
                    reply.to_string().as_bytes(),
                    Default::default(),
                )
                .await;
        }
    });
}

/// Requests go out without publisher confirms; the broker's returns say what no queue took.
/// A request sent before Janus's queue exists (Janus not yet connected to the broker) is
/// published again until the queue appears, and answered then. A request that waited in a
/// queue nobody read until its caller gave up (its timeout) expires there: Janus never runs
/// it later.
#[tokio::test]
async fn a_request_no_queue_took_is_published_again_and_one_given_up_on_expires() {
    let Some(url) = amqp_url("JANUS") else {
        return;
    };
    let tag = std::process::id();
    let (to_janus, from_janus) = (format!("late-to-{tag}"), format!("late-from-{tag}"));
    let exchange = url_param(&url, "janus_exchange").to_string();
    let late_url = url
        .replacen(url_param(&url, "to_janus"), &to_janus, 1)
        .replacen(url_param(&url, "from_janus"), &from_janus, 1);
    let options = ClientOptions {
        probe_server: false,
        request_timeout: Duration::from_secs(20),
        ..Default::default()
    };
    let client = connect(Config::new(late_url.clone()).with_options(options.clone()))
        .await
        .expect("connect (no probe: nobody answers yet)");
    let conn = raw_connection(&url).await;
    let channel = conn.create_channel().await.expect("channel");
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));

    // No queue yet: the broker returns the request, and the client publishes it again.
    let started = std::time::Instant::now();
    let create = tokio::spawn(async move { client.create_session().await });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!create.is_finished(), "answered with nobody on the queue");
    stand_in_janus(&channel, &to_janus, &exchange, &from_janus, seen.clone()).await;
    let session = tokio::time::timeout(Duration::from_secs(15), create)
        .await
        .expect("answered once the queue is there")
        .expect("not panicked")
        .expect("created");
    assert_eq!(session.id().0, 42);
    assert!(started.elapsed() >= Duration::from_millis(1500));
    {
        let seen = seen.lock().expect("not poisoned");
        let creates = seen.iter().filter(|r| r.starts_with("\"create\"")).count();
        assert_eq!(creates, 1, "the stand-in got the request once: {seen:?}");
    }

    // A queue nobody reads: the request waits there until its timeout, then expires.
    let depth = |queue: String| {
        let channel = channel.clone();
        async move {
            channel
                .queue_declare(
                    queue.as_str().into(),
                    lapin::options::QueueDeclareOptions {
                        passive: true,
                        ..Default::default()
                    },
                    Default::default(),
                )
                .await
                .map(|q| q.message_count())
                .ok()
        }
    };
    let idle = format!("idle-to-{tag}");
    let idle_url = url
        .replacen(url_param(&url, "to_janus"), &idle, 1)
        .replacen(url_param(&url, "from_janus"), &from_janus, 1);
    channel
        .queue_declare(idle.as_str().into(), Default::default(), Default::default())
        .await
        .expect("declare the idle queue");
    let short = ClientOptions {
        probe_server: false,
        request_timeout: Duration::from_secs(3),
        ..Default::default()
    };
    let client = connect(Config::new(idle_url).with_options(short))
        .await
        .expect("connect");
    let waiting = tokio::spawn(async move { client.create_session().await.map(drop) });
    let queued = eventually(Duration::from_millis(2500), || async {
        depth(idle.clone()).await == Some(1)
    })
    .await;
    assert!(queued, "the request never waited in the queue");
    let e = waiting
        .await
        .expect("not panicked")
        .expect_err("nobody reads the queue");
    assert!(e.is_timeout(), "{e:?}");
    let expired = eventually(Duration::from_secs(10), || async {
        depth(idle.clone()).await == Some(0)
    })
    .await;
    assert!(
        expired,
        "the request given up on was still queued for Janus"
    );
    let _ = channel
        .queue_delete(idle.as_str().into(), Default::default())
        .await;
    let _ = channel
        .queue_delete(to_janus.as_str().into(), Default::default())
        .await;
    let _ = conn.close(200, "bye".into()).await;
}
