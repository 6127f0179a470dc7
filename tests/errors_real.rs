//! Connect errors a user can act on, against the real Janus of the suite (`JANUS_*`):
//! a URL with the wrong scheme for the port, or without the API's path, says what is
//! likely wrong and what to try, and keeps the underlying error (tungstenite, reqwest, io,
//! rustls) as `std::error::Error::source()` where there is one.

mod common;

use common::env_or_skip;
use janus_client::{connect, Config, Error};
use std::error::Error as _;
use std::time::Duration;

/// The port of the instance URL in `var` (`JANUS_WS_URL`, `JANUS_HTTP_URL`).
fn port(var: &str) -> Option<u16> {
    let url = env_or_skip(var)?;
    let url = url::Url::parse(&url).unwrap_or_else(|e| panic!("{var}={url}: {e}"));
    Some(url.port_or_known_default().expect("a port"))
}

/// Connects to `url`, which must fail, within a few seconds.
async fn refused(url: &str) -> Error {
    let config = Config::new(url);
    match tokio::time::timeout(Duration::from_secs(10), connect(config)).await {
        Ok(Ok(_)) => panic!("{url}: connected"),
        Ok(Err(e)) => {
            eprintln!("{url}: {e}");
            e
        }
        Err(_) => panic!("{url}: no answer within 10 s"),
    }
}

/// Every cause of `e`, one per line, for failure messages.
fn chain(e: &Error) -> String {
    let mut out = format!("{e}");
    let mut s = e.source();
    while let Some(c) = s {
        out.push_str(&format!("\n  caused by: {c}"));
        s = c.source();
    }
    out
}

#[cfg(feature = "ws")]
#[tokio::test]
async fn wss_to_a_plain_websocket_port_says_the_tls_handshake_failed() {
    let Some(ws) = port("JANUS_WS_URL") else {
        return;
    };
    let url = format!("wss://127.0.0.1:{ws}");
    let e = refused(&url).await;
    let text = e.to_string();
    assert!(
        text.contains(&format!("TLS handshake with {url}/ failed")),
        "{}",
        chain(&e)
    );
    assert!(
        text.contains("may be speaking plain WebSocket"),
        "{}",
        chain(&e)
    );
    assert!(
        text.contains("try ws:// instead of wss://"),
        "{}",
        chain(&e)
    );
    assert!(!e.is_unauthorized());
    assert!(e.source().is_some(), "no source: {e:?}");
}

#[cfg(feature = "http")]
#[tokio::test]
async fn https_to_a_plain_http_port_says_the_tls_handshake_failed() {
    let Some(http) = port("JANUS_HTTP_URL") else {
        return;
    };
    let url = format!("https://127.0.0.1:{http}/janus");
    let e = refused(&url).await;
    let text = e.to_string();
    assert!(
        text.contains(&format!("GET {url}/info: TLS handshake failed")),
        "{}",
        chain(&e)
    );
    assert!(text.contains("may be speaking plain HTTP"), "{}", chain(&e));
    assert!(
        text.contains("try http:// instead of https://"),
        "{}",
        chain(&e)
    );
    assert!(e.source().is_some(), "no source: {e:?}");
}

#[cfg(feature = "http")]
#[tokio::test]
async fn http_to_a_websocket_port_is_a_refused_info_not_an_auth_failure() {
    let Some(ws) = port("JANUS_WS_URL") else {
        return;
    };
    let url = format!("http://127.0.0.1:{ws}/janus");
    let e = refused(&url).await;
    let text = e.to_string();
    assert!(
        text.contains(&format!(
            "the server refused GET {url}/info with HTTP 403 Forbidden"
        )),
        "{}",
        chain(&e)
    );
    assert!(
        text.contains("may not be a Janus HTTP endpoint"),
        "{}",
        chain(&e)
    );
    assert!(text.contains("WebSocket port answers 403"), "{}", chain(&e));
    assert!(!e.is_unauthorized(), "{e:?}");
    assert!(
        matches!(
            e.kind(),
            janus_client::ErrorKind::Transport {
                status: Some(403),
                ..
            }
        ),
        "{e:?}"
    );
}

#[cfg(feature = "http")]
#[tokio::test]
async fn http_without_the_janus_path_names_the_url_and_the_path() {
    let Some(http) = port("JANUS_HTTP_URL") else {
        return;
    };
    let url = format!("http://127.0.0.1:{http}");
    let e = refused(&url).await;
    let text = e.to_string();
    assert!(
        text.contains(&format!("GET {url}/info got HTTP 404 Not Found")),
        "{}",
        chain(&e)
    );
    assert!(
        text.contains("Janus serves its API under /janus, the Admin API under /admin"),
        "{}",
        chain(&e)
    );
    assert!(text.contains(&format!("try {url}/janus")), "{}", chain(&e));
    assert!(!e.is_unauthorized());
}

#[cfg(feature = "ws")]
#[tokio::test]
async fn ws_to_an_http_port_says_it_may_not_be_a_websocket_endpoint() {
    let Some(http) = port("JANUS_HTTP_URL") else {
        return;
    };
    let url = format!("ws://127.0.0.1:{http}");
    let e = refused(&url).await;
    let text = e.to_string();
    assert!(
        text.contains(&format!(
            "the server at {url}/ answered the WebSocket upgrade with HTTP 404"
        )),
        "{}",
        chain(&e)
    );
    assert!(
        text.contains("may not be a Janus WebSocket endpoint"),
        "{}",
        chain(&e)
    );
    assert!(!e.is_unauthorized());
    assert!(e.source().is_some(), "no source: {e:?}");
}

/// A closed port: the io error (connection refused) is kept as a source, over every
/// transport compiled in.
#[tokio::test]
async fn a_closed_port_keeps_the_io_error_as_source() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let mut urls = Vec::new();
    if cfg!(feature = "ws") {
        urls.push(format!("ws://{addr}"));
    }
    if cfg!(feature = "http") {
        urls.push(format!("http://{addr}/janus"));
    }
    for url in urls {
        let e = refused(&url).await;
        assert!(e.to_string().contains("is Janus running"), "{}", chain(&e));
        assert!(e.source().is_some(), "{url}: no source: {e:?}");
        // Somewhere down the chain is the io error itself.
        let mut s = e.source();
        let mut io = false;
        while let Some(c) = s {
            io |= c.downcast_ref::<std::io::Error>().is_some()
                || c.to_string().to_lowercase().contains("refused");
            s = c.source();
        }
        assert!(io, "{url}: {}", chain(&e));
    }
}
