//! A weak receiver, as a weak Chromium behaves toward the composite: its bandwidth estimate
//! (REMB) starts high, then collapses to [`WEAK_REMB`] (under what L2 needs beside audio, above
//! what lets the server try L1 again), and it asks for a keyframe (PLI) every [`PLI_EVERY`], as a
//! decoder losing packets does. The server should move it to L2 and serve its PLIs from L2's
//! encoder only (`rtc/bwe.rs`, `media/ladder.rs`); the other receivers should not notice.

use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::payload_feedbacks::receiver_estimated_maximum_bitrate::ReceiverEstimatedMaximumBitrate;
use std::time::Duration;
use tokio::time::Instant;
use webrtc::media_stream::track_remote::TrackRemote;

/// The estimate while the link seems fine, bits/s.
pub const START_REMB: u64 = 2_000_000;
/// How long it seems fine (longer than the server's REMB warm-up, 5 s).
pub const FINE_FOR: Duration = Duration::from_secs(7);
/// The estimate once it collapsed, bits/s.
pub const WEAK_REMB: u64 = 160_000;
/// How often it reports its estimate (Chromium: about once a second, and on changes).
pub const REMB_EVERY: Duration = Duration::from_millis(500);
pub const PLI_EVERY: Duration = Duration::from_secs(1);

/// The weak receiver's feedback on the composite `track` (SSRC `media_ssrc`), from now until
/// the track ends.
pub async fn feedback(track: std::sync::Arc<dyn TrackRemote>, media_ssrc: u32) {
    let start = Instant::now();
    let mut remb = tokio::time::interval(REMB_EVERY);
    let mut pli = tokio::time::interval_at(start + FINE_FOR, PLI_EVERY);
    loop {
        let packet: Box<dyn rtc::rtcp::Packet> = tokio::select! {
            _ = remb.tick() => {
                let bitrate = if start.elapsed() < FINE_FOR { START_REMB } else { WEAK_REMB };
                Box::new(ReceiverEstimatedMaximumBitrate { sender_ssrc: 0, bitrate: bitrate as f32, ssrcs: vec![media_ssrc] })
            }
            _ = pli.tick() => Box::new(PictureLossIndication { sender_ssrc: 0, media_ssrc }),
        };
        if track.write_rtcp(vec![packet]).await.is_err() {
            return;
        }
    }
}
