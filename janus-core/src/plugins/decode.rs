//! Decoding plugin answers: the plugin's `data` (or its `result`) into a typed answer, with
//! the JSEP kept when the answer carries one.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::Error;
use crate::protocol::{Jsep, PluginResponse};

/// Deserializes the plugin data of `response` into `T`, with a protocol error naming the
/// plugin when it does not fit. Handy in
/// [`PluginRequest::decode`](super::PluginRequest::decode) implementations.
pub fn decode_data<T: DeserializeOwned>(response: PluginResponse) -> Result<T, Error> {
    decode_value(&response.plugin, response.data)
}

fn decode_value<T: DeserializeOwned>(plugin: &str, data: Value) -> Result<T, Error> {
    let shown = short(&data);
    serde_json::from_value(data)
        .map_err(|e| Error::protocol(format!("unexpected answer from {plugin}: {e} (in {shown})")))
}

fn short(v: &Value) -> String {
    let mut s = v.to_string();
    if s.len() > 300 {
        let mut cut = 300;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

/// Answers that carry the JSEP Janus sent with them.
pub(crate) trait WithJsep {
    fn set_jsep(&mut self, jsep: Option<Jsep>);
}

/// Decodes the data and keeps the JSEP.
pub(crate) fn decode_with_jsep<T: DeserializeOwned + WithJsep>(
    response: PluginResponse,
) -> Result<T, Error> {
    let jsep = response.jsep.clone();
    let mut out: T = decode_data(response)?;
    out.set_jsep(jsep);
    Ok(out)
}

/// Decodes `data.result` (videocall, streaming, recordplay and sip nest their answers there).
pub(crate) fn decode_result<T: DeserializeOwned>(response: PluginResponse) -> Result<T, Error> {
    let PluginResponse {
        plugin, mut data, ..
    } = response;
    let result = data
        .get_mut("result")
        .map(Value::take)
        .unwrap_or(Value::Null);
    decode_value(&plugin, result)
}

/// Decodes `data.result` and keeps the JSEP.
pub(crate) fn decode_result_with_jsep<T: DeserializeOwned + WithJsep>(
    response: PluginResponse,
) -> Result<T, Error> {
    let jsep = response.jsep.clone();
    let mut out: T = decode_result(response)?;
    out.set_jsep(jsep);
    Ok(out)
}

/// Deserializes `data` into `T`, or `None` when it does not fit (event parsing).
pub(crate) fn from_value<T: DeserializeOwned>(data: &Value) -> Option<T> {
    T::deserialize(data).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[test]
    fn bad_answers_are_protocol_errors_naming_the_plugin() {
        #[derive(Debug, Deserialize)]
        struct Needs {
            #[allow(dead_code)]
            room: u64,
        }
        let e = decode_data::<Needs>(PluginResponse {
            plugin: "janus.plugin.x".into(),
            data: json!({"x": "y".repeat(1000)}),
            jsep: None,
            sender: None,
        })
        .unwrap_err();
        assert!(matches!(e.kind(), crate::ErrorKind::Protocol(_)));
        let text = e.to_string();
        assert!(
            text.contains("janus.plugin.x") && text.contains("room"),
            "{text}"
        );
        assert!(text.len() < 500, "{text}");
    }
}
