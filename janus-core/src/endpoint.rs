//! Endpoints as written to logs and error messages: never with credentials.
//!
//! Every transport renders its endpoint with [`redact`]
//! ([`Connector::endpoint`](crate::Connector::endpoint) promises no secrets), whatever the
//! scheme: `ws`, `wss`, `http`, `https`, and the coming ones (`amqp`, `mqtt`, `unix`).

use url::Url;

/// `url` without what may carry a secret: the user name and password, the query (Janus
/// takes `apisecret` and `token` there; any parameter may be one), and the fragment. The
/// scheme, host, port and path stay.
///
/// ```
/// let url = "wss://user:pw@janus.example:8989/ws?apisecret=s3cret".parse().unwrap();
/// assert_eq!(janus_core::endpoint::redact(&url), "wss://janus.example:8989/ws");
/// ```
pub fn redact(url: &Url) -> String {
    let mut shown = url.clone();
    // Both fail only for URLs that cannot have credentials, which then have none.
    let _ = shown.set_password(None);
    let _ = shown.set_username("");
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

/// A URL that did not parse, shown in an error without what could be a credential: the
/// part before an `@` in the authority, and everything after `?` or `#`.
///
/// ```
/// use janus_core::endpoint::redact_unparsed;
/// assert_eq!(redact_unparsed("ws://bob:hunter2@host:99999/x?token=t"), "ws://***@host:99999/x");
/// ```
pub fn redact_unparsed(text: &str) -> String {
    let end = text.find(['?', '#']).unwrap_or(text.len());
    let text = &text[..end];
    let (scheme, rest) = match text.find("://") {
        Some(i) => (&text[..i + 3], &text[i + 3..]),
        None => ("", text),
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}***{}", &rest[at..]),
        None => format!("{scheme}{rest}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_show() {
        let secrets = [
            "alice",
            "pw0rd",
            "s3cret",
            "t0ken",
            "apisecret",
            "token",
            "frag",
        ];
        for (url, want) in [
            ("ws://alice:pw0rd@127.0.0.1:8188/", "ws://127.0.0.1:8188/"),
            (
                "wss://alice:pw0rd@janus.example/ws?apisecret=s3cret&token=t0ken",
                "wss://janus.example/ws",
            ),
            (
                "http://alice:pw0rd@127.0.0.1:8088/janus?apisecret=s3cret#frag",
                "http://127.0.0.1:8088/janus",
            ),
            (
                "https://alice@janus.example:8089/janus/?token=t0ken",
                "https://janus.example:8089/janus/",
            ),
            (
                "https://:pw0rd@janus.example/admin?maxev=1&apisecret=s3cret",
                "https://janus.example/admin",
            ),
            (
                "ws://127.0.0.1:8188/?apisecret=s3cret",
                "ws://127.0.0.1:8188/",
            ),
            ("http://[::1]:8088/janus", "http://[::1]:8088/janus"),
            ("unix:/run/janus.sock?token=t0ken", "unix:/run/janus.sock"),
        ] {
            let shown = redact(&url.parse().unwrap());
            assert_eq!(shown, want, "{url}");
            for s in secrets {
                assert!(!shown.contains(s), "{url} shown as {shown}");
            }
        }
    }

    #[test]
    fn percent_encoded_credentials_never_show() {
        let url: Url = "http://us%40er:p%3Ass@127.0.0.1:8088/janus"
            .parse()
            .unwrap();
        let shown = redact(&url);
        assert_eq!(shown, "http://127.0.0.1:8088/janus");
    }

    #[test]
    fn unparsed_text_loses_what_could_be_credentials() {
        for (text, want) in [
            ("ws://alice:pw0rd@[::1:8188", "ws://***@[::1:8188"),
            (
                "http://h:99999/janus?apisecret=s3cret",
                "http://h:99999/janus",
            ),
            ("not a url#frag", "not a url"),
            ("alice:pw0rd@host", "***@host"),
        ] {
            assert_eq!(redact_unparsed(text), want);
        }
    }
}
