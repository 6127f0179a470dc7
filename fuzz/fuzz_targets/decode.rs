//! Fuzzes everything the client does with bytes from the server before they reach a request
//! or a stream: frame decoding (objects and arrays), the envelope, core errors, plugin
//! responses (with their error check), handle events and server info. None may panic.
#![no_main]

use janus_core::protocol::{decode_frame, ServerInfo};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(items) = decode_frame(text) else {
        return;
    };
    for item in items.into_iter().flatten() {
        let _ = item.core_error();
        let _ = item.data_id();
        let _ = item.clone().into_plugin_response();
        let _ = ServerInfo::from_incoming(item.clone());
        let _ = item.into_handle_event();
    }
});
