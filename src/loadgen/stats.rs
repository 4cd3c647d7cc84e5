//! Receive-side counting from RTP alone (no decoding): frames (marker bit), keyframes (VP8
//! payload header / H.264 IDR), bytes, and freezes (gaps between frames).

use std::time::{Duration, Instant};

/// What one receiver saw.
#[derive(Debug, Clone, Default)]
pub struct ReceiverStats {
    pub frames: u64,
    pub keyframes: u64,
    pub bytes: u64,
    pub audio_packets: u64,
    pub first_frame: Option<Instant>,
    pub last_frame: Option<Instant>,
    /// Longest gap between two frames inside the measurement window.
    pub max_gap: Duration,
    /// Frames counted inside the measurement window.
    pub window_frames: u64,
    /// The current frame was already counted as a keyframe (SPS and IDR both mark one).
    keyframe_counted: bool,
}

/// Whether an RTP video payload starts a keyframe.
pub fn is_keyframe(h264: bool, payload: &[u8]) -> bool {
    if h264 {
        let Some(&b0) = payload.first() else { return false };
        match b0 & 0x1f {
            5 | 7 => true,
            // STAP-A: look at each aggregated NAL.
            24 => {
                let mut i = 1;
                while i + 2 < payload.len() {
                    let len = u16::from_be_bytes([payload[i], payload[i + 1]]) as usize;
                    if matches!(payload[i + 2] & 0x1f, 5 | 7) {
                        return true;
                    }
                    i += 2 + len;
                }
                false
            }
            // FU-A start of an IDR.
            28 => payload.get(1).is_some_and(|&h| h & 0x80 != 0 && h & 0x1f == 5),
            _ => false,
        }
    } else {
        // VP8 payload descriptor (RFC 7741), then the VP8 frame tag: P bit 0 = keyframe.
        let Some(&b0) = payload.first() else { return false };
        let start = b0 & 0x10 != 0 && b0 & 0x0f == 0;
        let mut i = 1;
        if b0 & 0x80 != 0 {
            let Some(&x) = payload.get(1) else { return false };
            i = 2;
            if x & 0x80 != 0 {
                i += if payload.get(i).is_some_and(|&b| b & 0x80 != 0) { 2 } else { 1 };
            }
            if x & 0x40 != 0 {
                i += 1;
            }
            if x & 0x30 != 0 {
                i += 1;
            }
        }
        start && payload.get(i).is_some_and(|&b| b & 0x01 == 0)
    }
}

impl ReceiverStats {
    /// Counts one video packet; `window_start` bounds the freeze and fps measurement.
    pub fn on_video(&mut self, h264: bool, payload: &[u8], marker: bool, now: Instant, window_start: Instant) {
        self.bytes += payload.len() as u64;
        if !self.keyframe_counted && is_keyframe(h264, payload) {
            self.keyframes += 1;
            self.keyframe_counted = true;
        }
        if marker {
            self.keyframe_counted = false;
            self.frames += 1;
            if self.first_frame.is_none() {
                self.first_frame = Some(now);
            }
            if now >= window_start {
                self.window_frames += 1;
                // A stream that starts late froze from the window's start.
                let from = self.last_frame.map_or(window_start, |prev| prev.max(window_start));
                self.max_gap = self.max_gap.max(now.saturating_duration_since(from));
            }
            self.last_frame = Some(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyframes_are_recognised() {
        // VP8: S=1, PID=0, no extension, frame tag with P=0.
        assert!(is_keyframe(false, &[0x10, 0x00, 0x9d]));
        assert!(!is_keyframe(false, &[0x10, 0x01]));
        assert!(!is_keyframe(false, &[0x00, 0x00]));
        // VP8 with X and a 15-bit picture id.
        assert!(is_keyframe(false, &[0x90, 0x80, 0x81, 0x23, 0x00]));
        // H.264: IDR, SPS, STAP-A holding SPS, FU-A start of IDR, non-IDR.
        assert!(is_keyframe(true, &[0x65]));
        assert!(is_keyframe(true, &[0x67]));
        assert!(is_keyframe(true, &[0x78, 0x00, 0x02, 0x67, 0x42]));
        assert!(is_keyframe(true, &[0x7c, 0x85]));
        assert!(!is_keyframe(true, &[0x61]));
    }

    #[test]
    fn gaps_are_measured_inside_the_window_only() {
        let t0 = Instant::now();
        let mut s = ReceiverStats::default();
        s.on_video(false, &[0], true, t0, t0 + Duration::from_secs(1));
        s.on_video(false, &[0], true, t0 + Duration::from_millis(900), t0 + Duration::from_secs(1));
        assert_eq!(s.max_gap, Duration::ZERO);
        s.on_video(false, &[0], true, t0 + Duration::from_millis(1300), t0 + Duration::from_secs(1));
        assert_eq!(s.max_gap, Duration::from_millis(300));
        assert_eq!((s.frames, s.window_frames), (3, 1));
    }

    #[test]
    fn a_late_first_frame_is_a_freeze_from_the_window_start() {
        let t0 = Instant::now();
        let mut s = ReceiverStats::default();
        s.on_video(false, &[0], true, t0 + Duration::from_millis(1700), t0 + Duration::from_secs(1));
        assert_eq!(s.max_gap, Duration::from_millis(700));
    }
}
