//! URLs, bounded body reading and error descriptions.

use janus_core::{Error, HandleId, Secret, SessionId};
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

    /// The endpoint for logs: the base URL without user name or password.
    pub(crate) fn endpoint(&self) -> String {
        let mut u = self.base.clone();
        // Both only fail on URLs that cannot have credentials, which then have none.
        let _ = u.set_password(None);
        let _ = u.set_username("");
        u.to_string()
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
    let err = err.without_url();
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
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
}
