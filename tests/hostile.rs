//! Hostile or broken peers on real sockets: a peer that accepts TCP and never answers, and a
//! WebSocket server that sends garbage and oversized frames between real answers.

use futures::{SinkExt, StreamExt};
use janus_client::{connect, ClientOptions, Config, ConnectionState, ReconnectPolicy};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

fn quick() -> ClientOptions {
    ClientOptions {
        request_timeout: Duration::from_millis(500),
        reconnect: ReconnectPolicy::disabled(),
        ..Default::default()
    }
}

/// Accepts TCP connections and never writes a byte.
async fn silent_peer() -> (u16, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    (port, task)
}

#[tokio::test]
async fn a_peer_that_never_answers_gives_a_timeout_not_a_hang() {
    let (port, _peer) = silent_peer().await;
    let mut urls = vec![format!("ws://127.0.0.1:{port}")];
    if cfg!(feature = "http") {
        urls.push(format!("http://127.0.0.1:{port}/janus"));
    }
    for url in urls {
        let started = Instant::now();
        let e = connect(Config::new(url.clone()).with_options(quick()))
            .await
            .unwrap_err();
        assert!(e.is_timeout(), "{url}: {e}");
        assert!(started.elapsed() < Duration::from_secs(3), "{url}");
    }
}

/// Accepts a WebSocket connection with the Janus subprotocol.
async fn accept_janus(sock: TcpStream) -> Option<WebSocketStream<TcpStream>> {
    // The error type is tungstenite's, not ours to shrink.
    #[allow(clippy::result_large_err)]
    let agree = |_req: &Request, mut resp: Response| {
        resp.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static("janus-protocol"),
        );
        Ok(resp)
    };
    tokio_tungstenite::accept_hdr_async(sock, agree).await.ok()
}

/// A real answer to `info`, or `pong` to anything else.
fn answer(req: &Value) -> Value {
    let txn = req["transaction"].clone();
    match req["janus"].as_str() {
        Some("info") => json!({"janus": "server_info", "transaction": txn,
            "version_string": "1.1.2", "session-timeout": 60}),
        _ => json!({"janus": "pong", "transaction": txn}),
    }
}

/// A WebSocket "Janus" that answers `info` and `ping`, sending junk and an oversized frame
/// before each real answer.
async fn rude_ws_server(junk_bytes: usize) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Some(mut ws) = accept_janus(sock).await else {
                    return;
                };
                while let Some(Ok(msg)) = ws.next().await {
                    let Message::Text(text) = msg else { continue };
                    let req: Value = serde_json::from_str(text.as_str()).unwrap_or_default();
                    let junk = [
                        "x".repeat(junk_bytes),
                        "{\"janus\":".into(),
                        json!({"janus": "success", "transaction": "nobody"}).to_string(),
                        json!({"janus": "event", "session_id": 1, "sender": 2}).to_string(),
                    ];
                    for j in junk {
                        if ws.send(Message::Text(j.into())).await.is_err() {
                            return;
                        }
                    }
                    let reply = answer(&req);
                    if ws
                        .send(Message::Text(reply.to_string().into()))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    port
}

#[tokio::test]
async fn oversized_and_broken_frames_are_dropped_and_the_connection_stays_healthy() {
    let port = rude_ws_server(2 << 20).await;
    let mut config = Config::new(format!("ws://127.0.0.1:{port}")).with_options(quick());
    config.ws.max_message_bytes = 1 << 20;
    let client = connect(config).await.expect("connects despite the junk");
    for _ in 0..3 {
        client.ping().await.expect("ping answered");
    }
    let stats = client.stats();
    // Per answer (info + 3 pings): one oversized frame and one broken JSON frame.
    assert_eq!(stats.malformed_messages, 8, "{stats:?}");
    assert_eq!(stats.unknown_transactions, 4, "{stats:?}");
    assert_eq!(stats.unroutable_events, 4, "{stats:?}");
    assert_eq!(
        *client.connection_state().borrow(),
        ConnectionState::Connected
    );
}

/// A WebSocket "Janus" whose first connection sends one message of `huge_bytes` before the
/// answer to the first request; later connections behave.
async fn giant_frame_server(huge_bytes: usize) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut first = true;
        while let Ok((sock, _)) = listener.accept().await {
            let giant = std::mem::take(&mut first);
            tokio::spawn(async move {
                let Some(mut ws) = accept_janus(sock).await else {
                    return;
                };
                let mut answered = 0;
                while let Some(Ok(msg)) = ws.next().await {
                    let Message::Text(text) = msg else { continue };
                    let req: Value = serde_json::from_str(text.as_str()).unwrap_or_default();
                    answered += 1;
                    if giant && answered == 2 {
                        let junk = "x".repeat(huge_bytes);
                        if ws.send(Message::Text(junk.into())).await.is_err() {
                            return;
                        }
                    }
                    let reply = answer(&req);
                    if ws
                        .send(Message::Text(reply.to_string().into()))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    port
}

#[tokio::test]
async fn a_message_too_large_to_skip_is_counted_then_the_client_reconnects() {
    // 64 KiB accepted; up to 1 MiB skipped with the connection kept; beyond, closed.
    let port = giant_frame_server(5 << 20).await;
    let mut config = Config::new(format!("ws://127.0.0.1:{port}")).with_options(ClientOptions {
        request_timeout: Duration::from_secs(5),
        ..Default::default()
    });
    config.ws.max_message_bytes = 64 << 10;
    let client = connect(config).await.expect("connects");
    let mut state = client.connection_state();
    // The answer to this ping comes after the giant message, on a connection that closes.
    let e = client
        .ping()
        .await
        .expect_err("the connection closed under the ping");
    assert!(e.is_transport_closed() && e.is_retry_safe(), "{e}");
    tokio::time::timeout(
        Duration::from_secs(10),
        state.wait_for(|s| matches!(s, ConnectionState::Reconnected)),
    )
    .await
    .expect("reconnected")
    .unwrap();
    client.ping().await.expect("the new connection works");
    let stats = client.stats();
    assert_eq!(stats.malformed_messages, 1, "{stats:?}");
    assert_eq!(stats.reconnects, 1, "{stats:?}");
}

/// One HTTP/1.1 request read from a kept-alive connection: its request line and body.
#[cfg(feature = "http")]
async fn read_http_request(
    reader: &mut tokio::io::BufReader<tokio::net::tcp::OwnedReadHalf>,
) -> Option<(String, Value)> {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt};
    let mut line = String::new();
    if reader.read_line(&mut line).await.ok()? == 0 {
        return None;
    }
    let request_line = line.trim_end().to_string();
    let mut length = 0usize;
    loop {
        line.clear();
        if reader.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().ok()?;
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await.ok()?;
    Some((
        request_line,
        serde_json::from_slice(&body).unwrap_or_default(),
    ))
}

/// An HTTP "Janus" that answers `info`, `create` (session 1) and `attach` (handle 2) at
/// once, holds every long poll, and answers a plugin `message` only once `release` is
/// notified, with the plugin's event in the `POST`'s body.
#[cfg(feature = "http")]
async fn late_http_server(release: std::sync::Arc<tokio::sync::Notify>) -> u16 {
    use tokio::io::AsyncWriteExt;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let release = release.clone();
            tokio::spawn(async move {
                let (read, mut write) = sock.into_split();
                let mut reader = tokio::io::BufReader::new(read);
                while let Some((line, req)) = read_http_request(&mut reader).await {
                    let txn = req["transaction"].clone();
                    let reply = if line.starts_with("GET") && line.contains("/info") {
                        json!({"janus": "server_info", "transaction": "info",
                            "version_string": "1.1.2", "session-timeout": 60})
                    } else if line.starts_with("GET") {
                        // A long poll: held until the client gives up on it.
                        std::future::pending::<()>().await;
                        unreachable!()
                    } else {
                        match req["janus"].as_str() {
                            Some("create") => {
                                json!({"janus": "success", "transaction": txn, "data": {"id": 1}})
                            }
                            Some("attach") => json!({"janus": "success", "transaction": txn,
                                "session_id": 1, "data": {"id": 2}}),
                            Some("message") => {
                                release.notified().await;
                                json!({"janus": "event", "transaction": txn, "session_id": 1,
                                    "sender": 2, "plugindata": {"plugin": "janus.plugin.echotest",
                                    "data": {"result": "ok"}}})
                            }
                            Some("ping") => json!({"janus": "pong", "transaction": txn}),
                            Some("info") => json!({"janus": "server_info", "transaction": txn,
                                "version_string": "1.1.2", "session-timeout": 60}),
                            Some("detach" | "destroy") => {
                                json!({"janus": "success", "transaction": txn, "session_id": 1})
                            }
                            _ => json!({"janus": "ack", "transaction": txn, "session_id": 1}),
                        }
                    };
                    let body = reply.to_string();
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                        body.len()
                    );
                    if write.write_all(head.as_bytes()).await.is_err()
                        || write.write_all(body.as_bytes()).await.is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    port
}

/// Over HTTP a caller reads its own `POST`'s reply. One that stops waiting before the
/// request's timeout leaves the `POST` to the transport, which still reads the reply when
/// it comes and hands it to the core, rather than dropping the request half-way: the
/// plugin's answer reaches the handle's stream as a late reply (whether or not the client
/// had forgotten the transaction by then), and is counted.
#[cfg(feature = "http")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_http_a_reply_its_caller_gave_up_on_is_still_read() {
    let release = std::sync::Arc::new(tokio::sync::Notify::new());
    let port = late_http_server(release.clone()).await;
    let options = ClientOptions {
        request_timeout: Duration::from_secs(5),
        ..quick()
    };
    let client =
        connect(Config::new(format!("http://127.0.0.1:{port}/janus")).with_options(options))
            .await
            .expect("connects");
    let session = client.create_session().await.expect("create");
    let handle = session
        .attach("janus.plugin.echotest")
        .await
        .expect("attach");
    let mut events = handle.events();
    // The caller stops waiting long before the request's own timeout (5 s), as a `select!`
    // or a dropped task does.
    let gave_up = tokio::time::timeout(
        Duration::from_millis(300),
        handle.message(json!({"audio": true})),
    )
    .await;
    assert!(gave_up.is_err(), "the server holds the answer: {gave_up:?}");
    assert_eq!(client.stats().unknown_transactions, 0);
    release.notify_one();
    let late = tokio::time::timeout(Duration::from_secs(10), events.recv())
        .await
        .unwrap_or_else(|_| panic!("the late reply was never read: {:?}", client.stats()));
    match late {
        Some(janus_client::HandleEvent::LateReply { response, .. }) => {
            assert_eq!(response.data["result"], "ok");
        }
        other => panic!("expected the late reply, got {other:?}"),
    }
    let counted = until(Duration::from_secs(10), || {
        client.stats().unknown_transactions == 1
    })
    .await;
    assert!(counted, "{:?}", client.stats());
    assert_eq!(
        *client.connection_state().borrow(),
        ConnectionState::Connected
    );
    client.ping().await.expect("the client goes on");
}

/// Polls `f` every 20 ms until it holds or `limit` passes.
#[cfg(feature = "http")]
async fn until(limit: Duration, f: impl Fn() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    f()
}
