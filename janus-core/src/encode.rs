//! Where a request becomes JSON: the envelope (`janus`, `transaction`, ids, credentials)
//! around the caller's fields, serialized once, compactly (nothing after the closing brace:
//! Janus' WebSocket transport rejects trailing whitespace).

use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::Error;
use crate::options::Secret;
use crate::protocol::{HandleId, SessionId};
use crate::request::Verb;
use crate::transport::Credentials;
use crate::txn::TxnNames;

/// Encodes requests: numbers their transactions and adds the client's credentials.
pub(crate) struct Encoder {
    next: AtomicU64,
    names: TxnNames,
    credentials: Credentials,
}

#[derive(Serialize)]
struct Envelope<'a, B: Serialize> {
    janus: &'a str,
    transaction: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    handle_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    apisecret: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<&'a str>,
    #[serde(flatten)]
    body: B,
}

/// A request with no fields of its own.
#[derive(Serialize)]
pub(crate) struct NoFields;

impl Encoder {
    /// An encoder whose transactions are named by `names`.
    pub(crate) fn new(credentials: Credentials, names: TxnNames) -> Self {
        Encoder {
            next: AtomicU64::new(1),
            names,
            credentials,
        }
    }

    /// How this client names its transactions.
    pub(crate) fn names(&self) -> &TxnNames {
        &self.names
    }

    /// The credentials every request carries.
    pub(crate) fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// Serializes one request with a fresh transaction; `token` overrides the client's
    /// token (an attach with its own). Returns the transaction and the JSON.
    pub(crate) fn encode<B: Serialize>(
        &self,
        verb: Verb,
        session: Option<SessionId>,
        handle: Option<HandleId>,
        token: Option<&Secret>,
        body: &B,
    ) -> Result<(u64, String), Error> {
        let txn = self.next.fetch_add(1, Ordering::Relaxed);
        let transaction = self.names.name(txn);
        let auth = verb.needs_auth();
        let env = Envelope {
            janus: verb.name(),
            transaction: &transaction,
            session_id: session.map(|s| s.0),
            handle_id: handle.map(|h| h.0),
            apisecret: self
                .credentials
                .api_secret
                .as_ref()
                .filter(|_| auth)
                .map(Secret::expose),
            token: token
                .or(self.credentials.token.as_ref())
                .filter(|_| auth)
                .map(Secret::expose),
            body,
        };
        let json = serde_json::to_string(&env)
            .map_err(|e| Error::protocol(format!("cannot serialize request: {e}")))?;
        Ok((txn, json))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn encoder(api_secret: Option<&str>, token: Option<&str>) -> Encoder {
        Encoder::new(
            Credentials {
                api_secret: api_secret.map(Secret::from),
                token: token.map(Secret::from),
            },
            TxnNames::default(),
        )
    }

    fn parse(s: &str) -> Value {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn envelope_carries_ids_credentials_and_fields_compactly() {
        let e = encoder(Some("s3cret"), Some("tok"));
        let body = json!({"body": {"audio": true}});
        let (txn, text) = e
            .encode(
                Verb::Message,
                Some(SessionId(1)),
                Some(HandleId(2)),
                None,
                &body,
            )
            .unwrap();
        assert_eq!(txn, 1);
        assert!(text.ends_with('}') && !text.contains(": "), "{text}");
        assert_eq!(
            parse(&text),
            json!({"janus":"message","transaction":"1","session_id":1,"handle_id":2,
                "apisecret":"s3cret","token":"tok","body":{"audio":true}})
        );
        let (txn, _) = e.encode(Verb::Ping, None, None, None, &NoFields).unwrap();
        assert_eq!(txn, 2, "transactions count up");
    }

    #[test]
    fn info_and_ping_go_without_secrets_and_an_own_token_wins() {
        let e = encoder(Some("s3cret"), Some("tok"));
        for verb in [Verb::Info, Verb::Ping] {
            let (_, text) = e.encode(verb, None, None, None, &NoFields).unwrap();
            assert!(!text.contains("s3cret") && !text.contains("tok"), "{text}");
        }
        let own = Secret::from("mine");
        let (_, text) = e
            .encode(
                Verb::Attach,
                Some(SessionId(1)),
                None,
                Some(&own),
                &NoFields,
            )
            .unwrap();
        assert_eq!(parse(&text)["token"], "mine");
    }

    #[test]
    fn a_body_that_cannot_be_serialized_is_an_error_not_a_panic() {
        let e = encoder(None, None);
        let mut bad = std::collections::HashMap::new();
        bad.insert((1, 2), 3);
        let err = e.encode(Verb::Message, None, None, None, &bad).unwrap_err();
        assert!(err.to_string().contains("cannot serialize"), "{err}");
    }
}
