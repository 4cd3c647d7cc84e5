//! Capping what a client sends us with RTCP REMB: the same cap the room gives its camera in
//! `cameraConstraint`, for clients that do not apply it themselves (no `setParameters`).
//!
//! A browser takes a REMB as a limit on everything it sends on the connection (its SSRC list is
//! not looked at), so the value is the camera's cap plus room for the rest: the microphone
//! ([`AUDIO_KBPS`]) and, while the client shares its screen, the screen ([`SCREEN_KBPS`]), with
//! [`OVERHEAD`] for packet headers. Every inbound video track's reader sends it for its SSRC
//! once a second ([`EVERY`]) and at once when the cap changes; before the room has said
//! anything no REMB is sent. Our own client's `maxBitrate` stays under it, so for it the REMB
//! changes nothing.

use rtc::rtcp::payload_feedbacks::receiver_estimated_maximum_bitrate::ReceiverEstimatedMaximumBitrate;
use std::time::Duration;
use tokio::sync::watch;

/// How often the cap is repeated (a REMB that stops coming is a limit the sender keeps, but a
/// lost one would otherwise leave an older, lower value in force).
pub const EVERY: Duration = Duration::from_secs(1);
/// Room for the microphone (Opus at up to 64 kbit/s with its headers).
pub const AUDIO_KBPS: u32 = 80;
/// Room for a shared screen: what a browser sends a 1080p screen at most by default.
pub const SCREEN_KBPS: u32 = 2500;
/// RTP/UDP/IP headers on video packets, as a share of the media's bitrate.
pub const OVERHEAD: f64 = 0.10;

/// The REMB value, bits/s, for a camera capped at `camera_kbps` (and a shared screen when
/// `sharing`).
pub fn cap_bps(camera_kbps: u32, sharing: bool) -> u64 {
    let video = f64::from(camera_kbps) + if sharing { f64::from(SCREEN_KBPS) } else { 0.0 };
    ((video * (1.0 + OVERHEAD) + f64::from(AUDIO_KBPS)) * 1000.0).round() as u64
}

/// The REMB packet asking the sender of `media_ssrc` to keep under `bps`.
pub fn packet(bps: u64, media_ssrc: u32) -> ReceiverEstimatedMaximumBitrate {
    ReceiverEstimatedMaximumBitrate { sender_ssrc: 0, bitrate: bps as f32, ssrcs: vec![media_ssrc] }
}

/// The cap of one peer connection (`None`: none yet), set by the session and read by every
/// inbound video track's reader.
#[derive(Debug)]
pub struct SendCap(watch::Sender<Option<u64>>);

impl SendCap {
    pub fn new() -> Self {
        Self(watch::channel(None).0)
    }

    pub fn subscribe(&self) -> watch::Receiver<Option<u64>> {
        self.0.subscribe()
    }

    /// The camera's cap is `camera_kbps`; `sharing`: the client shares its screen too. The
    /// readers are woken only when the value changes.
    pub fn set(&self, camera_kbps: u32, sharing: bool) {
        let bps = Some(cap_bps(camera_kbps, sharing));
        self.0.send_if_modified(|v| std::mem::replace(v, bps) != bps);
    }
}

impl Default for SendCap {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::shared::marshal::{Marshal, Unmarshal};

    #[test]
    fn the_cap_leaves_room_for_audio_headers_and_a_screen() {
        assert_eq!(cap_bps(332, false), 445_200);
        assert_eq!(cap_bps(750, false), 905_000);
        assert_eq!(cap_bps(332, true), 3_195_200);
    }

    #[test]
    fn the_packet_names_the_sender_and_the_rate() {
        let raw = packet(445_200, 0x1234_5678).marshal().unwrap();
        let back = ReceiverEstimatedMaximumBitrate::unmarshal(&mut raw.as_ref()).unwrap();
        assert_eq!(back.ssrcs, vec![0x1234_5678]);
        // REMB carries a mantissa and an exponent: exact to 18 bits.
        assert!((back.bitrate - 445_200.0).abs() / 445_200.0 < 1e-3, "{}", back.bitrate);
    }

    #[test]
    fn readers_wake_only_on_a_change() {
        let cap = SendCap::new();
        let mut rx = cap.subscribe();
        assert_eq!(*rx.borrow_and_update(), None);
        cap.set(332, false);
        assert!(rx.has_changed().unwrap());
        assert_eq!(*rx.borrow_and_update(), Some(445_200));
        cap.set(332, false);
        assert!(!rx.has_changed().unwrap(), "the same cap again wakes nobody");
        cap.set(332, true);
        assert_eq!(*rx.borrow_and_update(), Some(3_195_200));
    }
}
