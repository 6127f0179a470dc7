//! Synthetic media: payloads that are well-formed Opus and VP8, without any encoder.

/// One Opus packet: a TOC byte (config 31: CELT fullband 20 ms, one frame) and the frame
/// of Opus' canonical silence packet (`f8 ff fe`).
pub(crate) fn opus() -> Vec<u8> {
    vec![0xf8, 0xff, 0xfe]
}

/// One VP8 packet holding a whole small frame: the RTP payload descriptor (start of a
/// partition, partition 0), then a key-frame header (frame tag with the key-frame bit
/// clear, show_frame set, the start code `9d 01 2a`, 320x240) and filler.
pub(crate) fn vp8(frame: u64) -> Vec<u8> {
    let mut p = vec![0x10];
    let first_partition = 100u32;
    let tag = (first_partition << 5) | 0x10; // key frame (bit 0 = 0), version 0, shown
    p.extend_from_slice(&tag.to_le_bytes()[..3]);
    p.extend_from_slice(&[0x9d, 0x01, 0x2a]);
    p.extend_from_slice(&320u16.to_le_bytes());
    p.extend_from_slice(&240u16.to_le_bytes());
    p.extend((0..400).map(|i| (frame as u8).wrapping_add(i as u8)));
    p
}

#[cfg(test)]
mod tests {
    #[test]
    fn vp8_payload_starts_a_key_frame() {
        let p = super::vp8(7);
        assert_eq!(p[0], 0x10);
        assert_eq!(p[1] & 1, 0, "key frame");
        assert_eq!(&p[4..7], &[0x9d, 0x01, 0x2a]);
        assert!(p.len() < 1200, "one packet");
    }
}
