//! URLs, bounded body reading and error descriptions.

use janus_core::endpoint::redact;
use janus_core::{Error, HandleId, Secret, SessionId};
use std::error::Error as StdError;
use url::Url;

/// The request URLs of one Janus HTTP endpoint, derived from its base URL.
#[derive(Clone, Debug)]
pub(crate) struct Urls {
    /// The base URL, normalized: no trailing slash, no query, no fragment.
    base: Url,
}

impl Urls {
    /// Checks and normalizes a base URL such as `http://127.0.0.1:8088/janus`.
    pub(crate) fn new(mut url: Url) -> Result<Self, Error> {
        match url.scheme() {
            "http" | "https" => {}
            other => {
                return Err(Error::config(format!(
                    "unsupported URL scheme {other:?} (use http or https)"
                )))
            }
        }
        if url.host_str().is_none() {
            return Err(Error::config("the URL has no host"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(Error::config(
                "the base URL must have no query or fragment (the transport builds them)",
            ));
        }
        url.path_segments_mut()
            .map_err(|()| Error::config("the URL cannot be a base"))?
            .pop_if_empty();
        Ok(Urls { base: url })
    }

    /// The base URL as normalized.
    pub(crate) fn base(&self) -> &Url {
        &self.base
    }

    /// The endpoint for logs: the base URL without credentials.
    pub(crate) fn endpoint(&self) -> String {
        redact(&self.base)
    }

    fn with_segments<'a>(&self, segments: impl IntoIterator<Item = &'a str>) -> Url {
        let mut u = self.base.clone();
        if let Ok(mut path) = u.path_segments_mut() {
            path.pop_if_empty();
            path.extend(segments);
        }
        u
    }

    /// `GET <base>/info`.
    pub(crate) fn info(&self) -> Url {
        self.with_segments(["info"])
    }

    /// Where a request goes: `<base>`, `<base>/<session>` or `<base>/<session>/<handle>`.
    pub(crate) fn request(&self, session: Option<SessionId>, handle: Option<HandleId>) -> Url {
        match (session, handle) {
            (None, _) => self.base.clone(),
            (Some(s), None) => self.with_segments([s.0.to_string().as_str()]),
            (Some(s), Some(h)) => {
                self.with_segments([s.0.to_string().as_str(), h.0.to_string().as_str()])
            }
        }
    }

    /// The long poll of a session: `<base>/<session>?maxev=N[&apisecret=..][&token=..]`.
    ///
    /// The result carries secrets: never log it.
    pub(crate) fn poll(
        &self,
        session: SessionId,
        maxev: u32,
        api_secret: Option<&Secret>,
        token: Option<&Secret>,
    ) -> Url {
        let mut u = self.request(Some(session), None);
        {
            let mut q = u.query_pairs_mut();
            q.append_pair("maxev", &maxev.to_string());
            if let Some(s) = api_secret {
                q.append_pair("apisecret", s.expose());
            }
            if let Some(t) = token {
                q.append_pair("token", t.expose());
            }
        }
        u
    }
}

/// Bodies read only to keep a connection reusable (error replies) are capped at this.
pub(crate) const DRAIN_LIMIT: usize = 64 * 1024;

/// A reply body, read within a size bound.
#[derive(Debug)]
pub(crate) enum Body {
    /// The body as text.
    Text(String),
    /// Over the bound; the body was not read to its end.
    TooBig {
        /// The bound.
        limit: usize,
    },
    /// Not UTF-8.
    NotText,
}

impl Body {
    /// Why the body cannot be used, for [`janus_core::TransportEvent::Malformed`].
    pub(crate) fn problem(&self) -> Option<String> {
        match self {
            Body::Text(_) => None,
            Body::TooBig { limit } => Some(format!("reply body over {limit} bytes dropped")),
            Body::NotText => Some("reply body is not UTF-8 text".to_string()),
        }
    }
}

/// Reads a body, stopping as soon as it grows over `limit` bytes.
pub(crate) async fn read_body(
    mut resp: reqwest::Response,
    limit: usize,
) -> Result<Body, reqwest::Error> {
    if resp
        .content_length()
        .is_some_and(|len| usize::try_from(len).map_or(true, |len| len > limit))
    {
        return Ok(Body::TooBig { limit });
    }
    let mut buf = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        if buf.len().saturating_add(chunk.len()) > limit {
            return Ok(Body::TooBig { limit });
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8(buf).map_or(Body::NotText, Body::Text))
}

/// A one-line description of a reqwest error with its causes, and without its URL (a long
/// poll's URL carries secrets).
pub(crate) fn describe(err: reqwest::Error) -> String {
    describe_chain(&err.without_url())
}

/// The text of `err` and of each of its causes that adds something, joined by ": ".
fn describe_chain(err: &(dyn StdError + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let s = cause.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        source = cause.source();
    }
    text
}

/// The rustls error somewhere in `err`'s chain. The TLS layer wraps it in an `io::Error`,
/// whose `source()` skips it, so each `io::Error` is looked into with `get_ref`.
fn find_rustls<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(r) = e.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            if let Some(r) = find_rustls(inner) {
                return Some(r);
            }
        }
        current = e.source();
    }
    None
}

/// The kind of the innermost `io::Error` in `err`'s chain, if any. An `io::Error` may wrap
/// another one (hyper-rustls wraps the TLS layer's in one of kind `Other`), and its
/// `source()` skips what it wraps, so each is looked into with `get_ref`.
fn find_io_kind(err: &(dyn StdError + 'static)) -> Option<std::io::ErrorKind> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            let inner = io.get_ref().and_then(|inner| find_io_kind(inner));
            return Some(inner.unwrap_or(io.kind()));
        }
        current = e.source();
    }
    None
}

/// `GET <base>/info` (the check [`crate::HttpConnector`] makes on connect) failed without
/// an HTTP status: the connection, TLS, or reading the reply. The message says what to
/// change when it can tell (a TLS handshake with a plain-HTTP server, an untrusted
/// certificate, a refused connection); the reqwest error is kept as the source.
pub(crate) fn info_send_error(err: reqwest::Error, url: &Url) -> Error {
    let err = err.without_url();
    let target = redact(url);
    let text = describe_chain(&err);
    let message = if let Some(tls) = find_rustls(&err) {
        let hint = match tls {
            // A server that does not speak TLS answers the ClientHello in plain text
            // ("HTTP/1.1 400 ..."), which rustls reads as a record of an unknown type.
            rustls::Error::InvalidMessage(_) => {
                ": the server may be speaking plain HTTP on this port; try http:// instead \
                 of https://"
            }
            rustls::Error::InvalidCertificate(_) => {
                ": the server's certificate is not trusted for this host; for a private CA, \
                 set http.tls_ca_file"
            }
            _ => "",
        };
        format!("GET {target}: TLS handshake failed ({tls}){hint}")
    } else {
        use std::io::ErrorKind::UnexpectedEof;
        use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
        match find_io_kind(&err) {
            // The TCP connection was made (it was not refused), then closed during the TLS
            // handshake: a plain-HTTP server may close on a ClientHello instead of
            // answering it.
            Some(UnexpectedEof | ConnectionReset | ConnectionAborted)
                if url.scheme() == "https" && err.is_connect() =>
            {
                format!(
                    "GET {target}: TLS handshake failed ({text}): the server closed the \
                     connection; it may be speaking plain HTTP on this port; try http:// \
                     instead of https://"
                )
            }
            Some(ConnectionRefused) => format!(
                "GET {target}: {text} (is Janus running, with its HTTP transport on this port?)"
            ),
            _ if err.is_timeout() => format!("GET {target}: {text} (no answer in time)"),
            _ => format!("GET {target}: {text}"),
        }
    };
    Error::transport(message).with_source(err)
}

/// `GET <base>/info` (`url`) was answered with a status that is not a success. The message
/// names the URL and says what the status likely means:
///
/// - 403: `GET info` needs no credentials, so this is not a refused api secret or token
///   ([`Error::is_unauthorized`] is false): likely not a Janus HTTP endpoint at all (a Janus
///   WebSocket port answers plain HTTP with 403), or an ACL refusing this client.
/// - 404: the path is wrong (Janus serves its API under `/janus`, the Admin API under
///   `/admin`).
pub(crate) fn info_status_error(status: reqwest::StatusCode, url: &Url) -> Error {
    let target = redact(url);
    let code = status.as_u16();
    let message = match code {
        403 => format!(
            "the server refused GET {target} with HTTP {status}: this may not be a Janus HTTP \
             endpoint (a Janus WebSocket port answers 403; use ws:// for it), or an ACL of \
             the server refuses this client"
        ),
        404 => {
            let mut hint = String::from(
                "check the URL's path: Janus serves its API under /janus, the Admin API under \
                 /admin",
            );
            // The base is the URL without its last segment, `info`.
            let mut base = url.clone();
            if let Ok(mut path) = base.path_segments_mut() {
                path.pop();
            }
            if base.path() == "/" || base.path().is_empty() {
                base.set_path("/janus");
                hint.push_str(&format!(" (try {})", redact(&base)));
            }
            format!("GET {target} got HTTP {status}: {hint}")
        }
        500..=599 => format!(
            "GET {target} got HTTP {status}: the server failed (or a proxy in front of Janus \
             cannot reach it)"
        ),
        _ => format!("GET {target} got HTTP {status}: this may not be a Janus HTTP endpoint"),
    };
    let error = Error::http_status(code, message);
    if code == 403 {
        // Only the refusal of a request that carries credentials is about them.
        error.not_about_credentials()
    } else {
        error
    }
}

/// A transport error carrying an HTTP status.
pub(crate) fn status_error(status: reqwest::StatusCode) -> Error {
    Error::new(janus_core::ErrorKind::Transport {
        reason: format!("the server answered HTTP {status}"),
        status: Some(status.as_u16()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(s: &str) -> Urls {
        Urls::new(s.parse().unwrap()).unwrap()
    }

    #[test]
    fn paths_follow_the_base() {
        let u = urls("http://127.0.0.1:8088/janus");
        assert_eq!(
            u.request(None, None).as_str(),
            "http://127.0.0.1:8088/janus"
        );
        assert_eq!(
            u.request(Some(SessionId(12)), None).as_str(),
            "http://127.0.0.1:8088/janus/12"
        );
        assert_eq!(
            u.request(Some(SessionId(12)), Some(HandleId(34))).as_str(),
            "http://127.0.0.1:8088/janus/12/34"
        );
        assert_eq!(u.info().as_str(), "http://127.0.0.1:8088/janus/info");

        // A trailing slash is dropped; other base paths are kept as they are.
        let u = urls("https://example.org:7889/admin/");
        assert_eq!(
            u.request(None, None).as_str(),
            "https://example.org:7889/admin"
        );
        assert_eq!(
            u.request(Some(SessionId(1)), None).as_str(),
            "https://example.org:7889/admin/1"
        );
        let u = urls("http://h/deep/er/janus");
        assert_eq!(u.info().as_str(), "http://h/deep/er/janus/info");
        let u = urls("http://h:1");
        assert_eq!(
            u.request(Some(SessionId(5)), Some(HandleId(6))).as_str(),
            "http://h:1/5/6"
        );
        assert_eq!(u.info().as_str(), "http://h:1/info");
    }

    #[test]
    fn poll_query_carries_maxev_and_auth() {
        let u = urls("http://127.0.0.1:8088/janus");
        assert_eq!(
            u.poll(SessionId(7), 10, None, None).as_str(),
            "http://127.0.0.1:8088/janus/7?maxev=10"
        );
        let secret = Secret::new("a&b=c d");
        let token = Secret::new("tok");
        assert_eq!(
            u.poll(SessionId(7), 1, Some(&secret), Some(&token))
                .as_str(),
            "http://127.0.0.1:8088/janus/7?maxev=1&apisecret=a%26b%3Dc+d&token=tok"
        );
        assert_eq!(
            u.poll(SessionId(7), 3, None, Some(&token)).as_str(),
            "http://127.0.0.1:8088/janus/7?maxev=3&token=tok"
        );
    }

    #[test]
    fn bad_base_urls_are_config_errors() {
        for bad in [
            "ws://127.0.0.1:8188/",
            "http://h/janus?x=1",
            "http://h/janus#frag",
            "mailto:someone@example.org",
        ] {
            let err = Urls::new(bad.parse().unwrap()).unwrap_err();
            assert!(
                matches!(err.kind(), janus_core::ErrorKind::Config(_)),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn endpoint_hides_credentials() {
        let u = urls("http://user:pw@127.0.0.1:8088/janus");
        assert_eq!(u.endpoint(), "http://127.0.0.1:8088/janus");
    }

    #[test]
    fn info_403_is_not_about_credentials_and_names_the_url() {
        let url: Url = "http://user:pw@127.0.0.1:8188/info".parse().unwrap();
        let e = info_status_error(reqwest::StatusCode::FORBIDDEN, &url);
        let text = e.to_string();
        assert!(
            text.contains(
                "the server refused GET http://127.0.0.1:8188/info with HTTP 403 Forbidden"
            ),
            "{text}"
        );
        assert!(text.contains("may not be a Janus HTTP endpoint"), "{text}");
        assert!(text.contains("WebSocket port answers 403"), "{text}");
        assert!(!text.contains("pw"), "{text}");
        assert!(!e.is_unauthorized());
        assert!(matches!(
            e.kind(),
            janus_core::ErrorKind::Transport {
                status: Some(403),
                ..
            }
        ));
    }

    #[test]
    fn info_404_hints_at_the_path() {
        let u = urls("http://127.0.0.1:8088");
        let e = info_status_error(reqwest::StatusCode::NOT_FOUND, &u.info());
        let text = e.to_string();
        assert!(
            text.contains("GET http://127.0.0.1:8088/info got HTTP 404 Not Found"),
            "{text}"
        );
        assert!(text.contains("under /janus"), "{text}");
        assert!(text.contains("under /admin"), "{text}");
        assert!(text.contains("try http://127.0.0.1:8088/janus"), "{text}");
        // With a path, no guess of the right one.
        let u = urls("http://127.0.0.1:8088/jamus");
        let text = info_status_error(reqwest::StatusCode::NOT_FOUND, &u.info()).to_string();
        assert!(
            text.contains("GET http://127.0.0.1:8088/jamus/info got HTTP 404"),
            "{text}"
        );
        assert!(!text.contains("try "), "{text}");
        let e = info_status_error(reqwest::StatusCode::BAD_GATEWAY, &u.info());
        assert!(e.to_string().contains("HTTP 502"), "{e}");
        assert!(!e.is_unauthorized());
    }

    #[test]
    fn io_kinds_are_found_inside_wrapping_io_errors() {
        let eof = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "tls handshake eof");
        let wrapped = std::io::Error::other(eof);
        assert_eq!(
            find_io_kind(&wrapped),
            Some(std::io::ErrorKind::UnexpectedEof)
        );
        let tls = rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType);
        let wrapped =
            std::io::Error::other(std::io::Error::new(std::io::ErrorKind::InvalidData, tls));
        assert!(matches!(
            find_rustls(&wrapped),
            Some(rustls::Error::InvalidMessage(_))
        ));
    }
}
