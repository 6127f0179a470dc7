//! Synthetic SDP for the examples, shared by them (`#[path]`-included; not an example of its
//! own). A real application passes the SDP of its WebRTC stack instead: these are only valid
//! enough for Janus to negotiate (no ICE candidates, so no media ever flows).

// Each example uses part of this file.
#![allow(dead_code)]

/// ICE and DTLS attributes every m-line carries (made-up credentials and fingerprint).
const TRANSPORT: [&str; 5] = [
    "c=IN IP4 0.0.0.0",
    "a=ice-ufrag:exmp",
    "a=ice-pwd:examplepasswordexample00",
    "a=fingerprint:sha-256 5A:1F:3C:9E:07:B2:44:D8:6E:90:13:C7:2B:F5:8A:61:0D:E4:97:3B:C2:58:AF:16:7D:09:E3:B4:52:8C:F0:6A",
    "a=rtcp-mux",
];

/// An audio-only offer (Opus), as a browser publishing a microphone would send.
pub fn offer() -> String {
    let mut sdp = vec![
        "v=0".to_string(),
        "o=- 1000000000000000001 2 IN IP4 127.0.0.1".into(),
        "s=-".into(),
        "t=0 0".into(),
        "a=group:BUNDLE 0".into(),
        "a=msid-semantic: WMS".into(),
        "m=audio 9 UDP/TLS/RTP/SAVPF 111".into(),
    ];
    sdp.extend(TRANSPORT.iter().map(|l| l.to_string()));
    sdp.extend([
        "a=setup:actpass".into(),
        "a=mid:0".into(),
        "a=sendonly".into(),
        "a=rtpmap:111 opus/48000/2".into(),
        "a=ssrc:1111 cname:example".into(),
    ]);
    crlf(sdp)
}

/// An answer to `offer` that receives every m-line offered, with the first codec of each;
/// m-lines it cannot answer (no codec) are rejected (port 0).
pub fn answer(offer: &str) -> String {
    let mut sdp = vec![
        "v=0".to_string(),
        "o=- 1000000000000000002 2 IN IP4 127.0.0.1".into(),
        "s=-".into(),
        "t=0 0".into(),
    ];
    let sections = media_lines(offer);
    let mids: Vec<&str> = sections.iter().filter_map(|m| m.mid).collect();
    sdp.push(format!("a=group:BUNDLE {}", mids.join(" ")));
    sdp.push("a=msid-semantic: WMS".into());
    for m in &sections {
        match (m.payload, m.rtpmap) {
            (Some(pt), Some(rtpmap)) => {
                sdp.push(format!("m={} 9 {} {pt}", m.kind, m.proto));
                sdp.extend(TRANSPORT.iter().map(|l| l.to_string()));
                sdp.push("a=setup:active".into());
                if let Some(mid) = m.mid {
                    sdp.push(format!("a=mid:{mid}"));
                }
                sdp.push("a=recvonly".into());
                sdp.push(format!("a=rtpmap:{pt} {rtpmap}"));
            }
            _ => {
                sdp.push(format!("m={} 0 {} {}", m.kind, m.proto, m.formats));
                if let Some(mid) = m.mid {
                    sdp.push(format!("a=mid:{mid}"));
                }
            }
        }
    }
    crlf(sdp)
}

/// One m-line of an SDP and the attributes an answer needs.
pub struct MediaLine<'a> {
    pub kind: &'a str,
    pub proto: &'a str,
    pub formats: &'a str,
    pub payload: Option<&'a str>,
    pub rtpmap: Option<&'a str>,
    pub mid: Option<&'a str>,
}

/// The m-lines of `sdp`, in order.
pub fn media_lines(sdp: &str) -> Vec<MediaLine<'_>> {
    let mut out: Vec<MediaLine> = Vec::new();
    for line in sdp.lines() {
        if let Some(m) = line.strip_prefix("m=") {
            let mut parts = m.splitn(4, ' ');
            let kind = parts.next().unwrap_or("");
            let _port = parts.next();
            let proto = parts.next().unwrap_or("");
            let formats = parts.next().unwrap_or("");
            out.push(MediaLine {
                kind,
                proto,
                formats,
                payload: formats.split(' ').next().filter(|pt| !pt.is_empty()),
                rtpmap: None,
                mid: None,
            });
        } else if let Some(current) = out.last_mut() {
            if let Some(mid) = line.strip_prefix("a=mid:") {
                current.mid = Some(mid);
            } else if let (Some(pt), Some(map)) = (
                current.payload,
                line.strip_prefix("a=rtpmap:")
                    .and_then(|rest| rest.split_once(' ')),
            ) {
                if map.0 == pt && current.rtpmap.is_none() {
                    current.rtpmap = Some(map.1);
                }
            }
        }
    }
    out
}

/// The lines joined with CRLF, as SDP wants.
fn crlf(lines: Vec<String>) -> String {
    let mut sdp = lines.join("\r\n");
    sdp.push_str("\r\n");
    sdp
}
