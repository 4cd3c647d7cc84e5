//! Property tests over media from participants (issue 27 §2; cases and seed: `crate::fuzz`):
//! any RTP payload a camera or microphone sends (garbage VP8, H.264 or Opus; timestamps that
//! jump back and forth by hours) never panics the keyframe reader or the mixer's decoders, and
//! the mixer keeps mixing.

use super::VideoCodec;
use super::audio::AudioMixer;
use super::ladder::starts_keyframe;
use proptest::prelude::*;

/// Payloads: random bytes, or a real-looking start (VP8 descriptor bytes, an H.264 NAL header
/// of each type, FU-A and STAP-A) followed by random bytes.
fn payload() -> impl Strategy<Value = Vec<u8>> {
    let head = prop_oneof![
        Just(vec![]),
        Just(vec![0x90, 0x80]),
        Just(vec![0x10]),
        (0u8..32).prop_map(|t| vec![0x60 | t]),
        Just(vec![0x7c, 0x85]),
        Just(vec![0x78])
    ];
    (head, prop::collection::vec(any::<u8>(), 0..64)).prop_map(|(h, rest)| [h, rest].concat())
}

/// A listener that takes every packet.
struct NullSink;

impl super::PacketSink for NullSink {
    fn send(&self, _packet: rtc_rtp::Packet) -> super::Delivery {
        super::Delivery::Sent
    }
}

proptest! {
    #![proptest_config(crate::fuzz::config())]

    #[test]
    fn fuzz_video_payloads(p in payload()) {
        for codec in [VideoCodec::Vp8, VideoCodec::H264] {
            if starts_keyframe(codec, &p) {
                prop_assert!(!p.is_empty());
            }
        }
    }

    #[test]
    fn fuzz_opus_from_a_microphone(packets in prop::collection::vec((any::<u32>(), prop::collection::vec(any::<u8>(), 0..200)), 1..12)) {
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let mixer = AudioMixer::start("fuzz", 4, tx).expect("the mixer starts");
        let mut input = mixer.add_input("hostile").expect("an input");
        for (ts, bytes) in &packets {
            input.push_rtp(*ts, bytes);
        }
        // The mixer still takes a listener and its thread is alive (dropping it joins it).
        mixer.add_output("listener", std::sync::Arc::new(NullSink));
        drop(mixer);
    }
}
