//! What a failed WebSocket connect means, in words a user can act on.
//!
//! tungstenite's own texts ("IO error: received corrupt message of type
//! InvalidContentType", "HTTP error: 404 Not Found") say what broke, not what to change; the
//! errors made here say both, and keep tungstenite's error as
//! [`std::error::Error::source`].

use janus_core::Error;
use std::error::Error as StdError;
use std::io;
use tokio_tungstenite::tungstenite::error::{Error as WsError, ProtocolError, TlsError};

/// Maps the error of `connect_async*` for `endpoint` (the URL without credentials) to an
/// [`Error`]. `tls` says the URL was `wss://`; `subprotocol` is the one asked for.
pub(crate) fn connect_error(err: WsError, endpoint: &str, tls: bool, subprotocol: &str) -> Error {
    let error = match &err {
        WsError::Tls(TlsError::Rustls(e)) => tls_error(e, endpoint),
        WsError::Tls(TlsError::InvalidDnsName) => Error::config(format!(
            "the host of {endpoint} is not a valid TLS server name"
        )),
        WsError::Io(e) => match find_rustls(e) {
            Some(r) => tls_error(r, endpoint),
            None => io_error(e, endpoint, tls),
        },
        WsError::Http(response) => status_error(response.status(), endpoint),
        WsError::Protocol(ProtocolError::SecWebSocketSubProtocolError(e)) => {
            Error::protocol(format!(
                "the server at {endpoint} did not agree to the WebSocket subprotocol \
                 {subprotocol} ({e}): it may not be a Janus WebSocket endpoint, or the \
                 subprotocol is wrong (janus-protocol for the Janus API, \
                 janus-admin-protocol for the Admin API)"
            ))
        }
        WsError::Url(e) => Error::config(format!("bad WebSocket URL {endpoint}: {e}")),
        other => Error::transport(format!("WebSocket connect to {endpoint}: {other}")),
    };
    error.with_source(err)
}

/// The rustls error somewhere in `err`'s chain (tokio-rustls wraps it in an `io::Error`,
/// whose `source()` skips it, so look inside with `get_ref`).
fn find_rustls<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(r) = e.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        if let Some(inner) = e.downcast_ref::<io::Error>().and_then(|io| io.get_ref()) {
            if let Some(r) = find_rustls(inner) {
                return Some(r);
            }
        }
        current = e.source();
    }
    None
}

fn tls_error(e: &rustls::Error, endpoint: &str) -> Error {
    let hint = match e {
        // A server that does not speak TLS answers the ClientHello in plain text ("HTTP/1.1
        // 400 ..."), which rustls reads as a record of an unknown type.
        rustls::Error::InvalidMessage(_) => {
            ": the server may be speaking plain WebSocket (or HTTP) on this port; \
             try ws:// instead of wss://"
        }
        rustls::Error::InvalidCertificate(_) => {
            ": the server's certificate is not trusted for this host; for a private CA, \
             set ws.tls_ca_file"
        }
        _ => "",
    };
    Error::transport(format!("TLS handshake with {endpoint} failed ({e}){hint}"))
}

fn io_error(e: &io::Error, endpoint: &str, tls: bool) -> Error {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset, UnexpectedEof};
    match e.kind() {
        // The TCP connection was made (it was not refused), then closed before the TLS
        // handshake finished (tungstenite reports a close during the upgrade itself as a
        // protocol error): a server that does not speak TLS may close on a ClientHello
        // instead of answering it.
        UnexpectedEof | ConnectionReset | ConnectionAborted if tls => Error::transport(format!(
            "TLS handshake with {endpoint} failed ({e}): the server closed the \
                 connection; it may be speaking plain WebSocket (or HTTP) on this port; try \
                 ws:// instead of wss://"
        )),
        ConnectionRefused => Error::transport(format!(
            "cannot connect to {endpoint}: {e} (is Janus running, with its WebSocket \
             transport on this port?)"
        )),
        _ => Error::transport(format!("cannot connect to {endpoint}: {e}")),
    }
}

fn status_error(status: tokio_tungstenite::tungstenite::http::StatusCode, endpoint: &str) -> Error {
    let hint = match status.as_u16() {
        401 | 407 => "something in front of Janus (a proxy) asks for credentials",
        403 => {
            "the server or a proxy refuses this client (an ACL), or this is not a Janus \
             WebSocket endpoint"
        }
        500..=599 => "a proxy in front of Janus may not reach it",
        _ => {
            "this may not be a Janus WebSocket endpoint (Janus' HTTP transport takes an \
             http:// URL with the API's path, such as http://host:8088/janus)"
        }
    };
    // Janus checks credentials in each request, never at the upgrade: no status here means
    // a refused api secret or token.
    Error::http_status(
        status.as_u16(),
        format!(
            "the server at {endpoint} answered the WebSocket upgrade with HTTP {status}: {hint}"
        ),
    )
    .not_about_credentials()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_tungstenite::tungstenite::http::Response;

    #[test]
    fn plain_server_behind_wss_gets_the_tls_hint_and_keeps_the_source() {
        let rustls_err = rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType);
        let io = io::Error::new(io::ErrorKind::InvalidData, rustls_err);
        let e = connect_error(
            WsError::Io(io),
            "wss://127.0.0.1:8188/",
            true,
            "janus-protocol",
        );
        let text = e.to_string();
        assert!(
            text.contains("TLS handshake with wss://127.0.0.1:8188/ failed"),
            "{text}"
        );
        assert!(text.contains("InvalidContentType"), "{text}");
        assert!(text.contains("try ws:// instead of wss://"), "{text}");
        let source = e.source().expect("source kept");
        assert!(source.downcast_ref::<WsError>().is_some());
    }

    #[test]
    fn untrusted_certificate_points_at_the_ca_option() {
        let r = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let e = connect_error(
            WsError::Tls(TlsError::Rustls(Box::new(r))),
            "wss://janus.example/",
            true,
            "janus-protocol",
        );
        assert!(e.to_string().contains("ws.tls_ca_file"), "{e}");
        assert!(e.source().is_some());
    }

    #[test]
    fn http_statuses_are_explained_and_never_unauthorized() {
        for (code, want) in [
            (404, "may not be a Janus WebSocket endpoint"),
            (403, "refuses this client"),
            (502, "proxy"),
        ] {
            let response = Response::builder().status(code).body(None).unwrap();
            let e = connect_error(
                WsError::Http(Box::new(response)),
                "ws://127.0.0.1:8088/",
                false,
                "janus-protocol",
            );
            let text = e.to_string();
            assert!(text.contains(&format!("HTTP {code}")), "{text}");
            assert!(text.contains(want), "{text}");
            assert!(!e.is_unauthorized(), "{text}");
            assert!(e.source().is_some());
            assert!(matches!(
                e.kind(),
                janus_core::ErrorKind::Transport { status: Some(s), .. } if *s == code
            ));
        }
    }

    #[test]
    fn refused_connection_says_so() {
        let io = io::Error::from(io::ErrorKind::ConnectionRefused);
        let e = connect_error(
            WsError::Io(io),
            "ws://127.0.0.1:1/",
            false,
            "janus-protocol",
        );
        let text = e.to_string();
        assert!(
            text.starts_with("transport error: cannot connect to ws://127.0.0.1:1/"),
            "{text}"
        );
        assert!(text.contains("is Janus running"), "{text}");
        assert!(e.source().is_some());
    }

    #[test]
    fn a_close_during_the_tls_handshake_gets_the_tls_hint() {
        let io = io::Error::new(io::ErrorKind::UnexpectedEof, "tls handshake eof");
        let e = connect_error(
            WsError::Io(io),
            "wss://127.0.0.1:8188/",
            true,
            "janus-protocol",
        );
        let text = e.to_string();
        assert!(
            text.contains("TLS handshake with wss://127.0.0.1:8188/ failed (tls handshake eof)"),
            "{text}"
        );
        assert!(text.contains("try ws:// instead of wss://"), "{text}");
        // Over ws:// the same error is no TLS matter.
        let io = io::Error::new(io::ErrorKind::UnexpectedEof, "eof");
        let e = connect_error(
            WsError::Io(io),
            "ws://127.0.0.1:8188/",
            false,
            "janus-protocol",
        );
        assert!(!e.to_string().contains("TLS"), "{e}");
    }
}
