//! Connections that send nothing, or stop halfway, do not hold a listener's slots for long:
//! the HTTP listener closes them after `read_timeout`, the WebSocket one after
//! `handshake_timeout`, and a listener at `max_connections` refuses more at once.

use std::time::Duration;

use janus_evh::{HttpOptions, Receiver, ReceiverOptions, WsOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads until the peer closes; how long that took, or `None` after `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = tokio::time::Instant::now();
    let mut buf = [0u8; 1024];
    tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return start.elapsed(),
                Ok(_) => {}
            }
        }
    })
    .await
    .ok()
}

#[tokio::test]
async fn http_closes_a_silent_connection_and_one_stuck_in_its_body() {
    let receiver = Receiver::new(&ReceiverOptions::default()).unwrap();
    let mut options = HttpOptions::default();
    options.read_timeout = Duration::from_secs(1);
    let http = receiver.listen_http(&options).await.unwrap();
    let mut silent = TcpStream::connect(http.local_addr()).await.unwrap();
    assert!(closed_within(&mut silent, Duration::from_secs(20))
        .await
        .is_some());

    let mut stuck = TcpStream::connect(http.local_addr()).await.unwrap();
    stuck
        .write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        .await
        .unwrap();
    assert!(closed_within(&mut stuck, Duration::from_secs(20))
        .await
        .is_some());
    http.stop().await;
}

#[tokio::test]
async fn ws_closes_a_connection_that_never_finishes_its_handshake() {
    let receiver = Receiver::new(&ReceiverOptions::default()).unwrap();
    let mut options = WsOptions::default();
    options.handshake_timeout = Duration::from_secs(1);
    let ws = receiver.listen_ws(&options).await.unwrap();
    let mut silent = TcpStream::connect(ws.local_addr()).await.unwrap();
    silent.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
    assert!(closed_within(&mut silent, Duration::from_secs(20))
        .await
        .is_some());
    assert_eq!(receiver.stats().garbage, 1);
    ws.stop().await;
}

#[tokio::test]
async fn a_full_listener_refuses_more_connections_and_takes_them_again_later() {
    let receiver = Receiver::new(&ReceiverOptions::default()).unwrap();
    let mut options = HttpOptions::default();
    options.max_connections = 1;
    options.read_timeout = Duration::from_secs(30);
    let http = receiver.listen_http(&options).await.unwrap();
    let held = TcpStream::connect(http.local_addr()).await.unwrap();
    // The listener counts the first before it refuses the second.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while receiver.stats().connections < 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "first connection never accepted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut refused = TcpStream::connect(http.local_addr()).await.unwrap();
    assert!(closed_within(&mut refused, Duration::from_secs(10))
        .await
        .is_some());
    assert_eq!(receiver.stats().refused, 1);
    // Once the first goes, a new one is served.
    drop(held);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut again = TcpStream::connect(http.local_addr()).await.unwrap();
        again
            .write_all(
                b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}",
            )
            .await
            .unwrap();
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), again.read_to_end(&mut answer)).await;
        if answer.starts_with(b"HTTP/1.1 400") {
            break;
        }
        // Refused while the listener had not yet seen the first one close.
        assert!(tokio::time::Instant::now() < deadline, "never served again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    http.stop().await;
}
