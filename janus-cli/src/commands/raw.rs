//! A request as the user writes it (`{"janus":"info"}` or just `info`), made into a
//! [`RawRequest`].

use janus_client::{Expect, HandleId, RawRequest, SessionId, Verb};
use serde_json::{Map, Value};

use crate::failure::Failure;

/// Parses `text`: a JSON object with a `janus` field, or a bare request name. Its
/// `transaction` is dropped (the library numbers its own), `session_id` and `handle_id`
/// address it, the other fields go as they are. `expect` overrides the usual answer.
pub fn parse(text: &str, expect: Option<Expect>) -> Result<RawRequest, Failure> {
    let trimmed = text.trim();
    let mut fields: Map<String, Value> = if trimmed.starts_with('{') {
        match serde_json::from_str(trimmed) {
            Ok(Value::Object(map)) => map,
            Ok(_) => return Err(Failure::usage("the request must be a JSON object")),
            Err(e) => return Err(Failure::usage(format!("the request is not JSON: {e}"))),
        }
    } else {
        let mut map = Map::new();
        map.insert("janus".into(), Value::String(trimmed.to_string()));
        map
    };
    let name = match fields.remove("janus") {
        Some(Value::String(s))
            if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
        {
            s
        }
        _ => {
            return Err(Failure::usage(
                "the request needs a `janus` field naming it, e.g. {\"janus\":\"info\"}",
            ))
        }
    };
    fields.remove("transaction");
    let session = id(&mut fields, "session_id")?.map(SessionId);
    let handle = id(&mut fields, "handle_id")?.map(HandleId);
    // RawRequest names its request with a `&'static str`: one request per run, so the
    // name lives as long as the process.
    let name: &'static str = Box::leak(name.into_boxed_str());
    let expect = expect.unwrap_or_else(|| {
        Verb::known(name)
            .map(Verb::expect)
            .unwrap_or(Expect::Success)
    });
    let mut req = RawRequest::new(name, expect);
    req.session = session;
    req.handle = handle;
    req.body = fields;
    Ok(req)
}

fn id(fields: &mut Map<String, Value>, key: &str) -> Result<Option<u64>, Failure> {
    match fields.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64()),
        Some(other) => Err(Failure::usage(format!(
            "`{key}` must be a positive integer, got {other}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_read_as_written() {
        let r = parse(
            r#"{"janus":"message","transaction":"x","session_id":1,"handle_id":2,"body":{"request":"list"}}"#,
            None,
        )
        .unwrap();
        assert_eq!(r.verb, Verb::Message);
        assert_eq!(
            (r.session, r.handle),
            (Some(SessionId(1)), Some(HandleId(2)))
        );
        assert_eq!(r.body.len(), 1);
        assert_eq!(r.body["body"]["request"], "list");
        let r = parse("info", None).unwrap();
        assert_eq!(r.verb, Verb::Info);
        let r = parse("loops_info", None).unwrap();
        assert_eq!(r.verb.expect(), Expect::Success);
        assert_eq!(
            parse("create", Some(Expect::Ack)).unwrap().verb.expect(),
            Expect::Ack
        );
    }

    #[test]
    fn bad_requests_are_usage_errors() {
        for bad in [
            "{",
            "[1]",
            r#"{"x":1}"#,
            r#"{"janus":"info","session_id":"a"}"#,
            "two words",
        ] {
            let f = parse(bad, None).unwrap_err();
            assert_eq!(f.exit, crate::failure::Exit::Usage, "{bad}");
        }
    }
}
