//! A sender's camera as a browser sends it: a clip of a given size and bitrate, and optionally
//! the server's `cameraConstraint` (docs/signaling.md "Sender constraints") honoured as the
//! browser client does (`client/sendcap.js`): scaled down to fit the tile (never up), at most the
//! tile's bitrate. A new size is a new clip (encoded once into the media folder, then reused),
//! switched to at a frame boundary on a keyframe, sequence numbers and timestamps running on.

use super::media_file::{self, Camera, MediaFileError, RtpFile};
use crate::media::VideoCodec;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;

/// What `camera` sends under a constraint of a `width`×`height` tile and `max_kbps`: scaled by
/// the larger of the two ratios (the compositor fits the picture in the tile), never up, even
/// sizes; the lower of its own bitrate and the cap.
pub fn constrained(camera: Camera, width: u32, height: u32, max_kbps: u32) -> Camera {
    let scale = (f64::from(camera.width) / f64::from(width.max(1))).max(f64::from(camera.height) / f64::from(height.max(1))).max(1.0);
    let even = |v: u32| ((f64::from(v) / scale).round() as u32 & !1).max(16);
    Camera { width: even(camera.width), height: even(camera.height), kbps: camera.kbps.min(max_kbps.max(30)) }
}

/// Loads `camera`'s clip, encoding it first if the media folder lacks it. Encodes run one at a
/// time (participants of a room are told the same size at once; one encodes, the others find
/// the file).
pub fn load(dir: &std::path::Path, codec: VideoCodec, camera: Camera) -> Result<RtpFile, MediaFileError> {
    static ONE_AT_A_TIME: parking_lot::Mutex<()> = parking_lot::Mutex::new(());
    let path = {
        let _turn = ONE_AT_A_TIME.lock();
        media_file::prepare_camera(dir, codec, camera)?
    };
    RtpFile::load(&path, 90_000, 3000)
}

/// Sends the clip `files` holds, looped and paced by its RTP timestamps; when `files` gets
/// another, switches to it before the next frame (its first frame is a keyframe).
pub async fn send(
    track: Arc<TrackLocalStaticRTP>,
    ssrc: u32,
    pt: u8,
    mut files: watch::Receiver<Arc<RtpFile>>,
    mut connected: watch::Receiver<bool>,
) {
    if connected.wait_for(|c| *c).await.is_err() {
        return;
    }
    let (mut seq, mut ts) = (rand::random::<u16>(), rand::random::<u32>());
    loop {
        let file = files.borrow_and_update().clone();
        let start = tokio::time::Instant::now();
        let mut frame = None;
        for due in file.looped_from(ssrc, pt, seq, ts) {
            let (s, t) = (due.packet.header.sequence_number, due.packet.header.timestamp);
            if frame.is_some_and(|f| f != t) && files.has_changed().unwrap_or(false) {
                // The new clip goes on from here: this packet's number and time.
                (seq, ts) = (s, t);
                break;
            }
            frame = Some(t);
            tokio::time::sleep_until(start + due.at).await;
            if track.write_rtp(due.packet).await.is_err() {
                return;
            }
        }
    }
}

/// Follows the `cameraConstraint`s among a session's signaling `events`: each new size or
/// bitrate of `camera` is loaded (encoded if needed, off the async workers) and put in `files`,
/// and noted in `sent`.
pub async fn follow(
    mut events: mpsc::UnboundedReceiver<serde_json::Value>,
    camera: Camera,
    codec: VideoCodec,
    dir: PathBuf,
    files: watch::Sender<Arc<RtpFile>>,
    sent: Arc<parking_lot::Mutex<Option<Camera>>>,
) {
    let mut current = camera;
    while let Some(msg) = events.recv().await {
        if msg["type"] != "cameraConstraint" {
            continue;
        }
        let field = |k: &str| msg[k].as_u64().map(|v| v as u32);
        let (Some(w), Some(h), Some(kbps)) = (field("width"), field("height"), field("maxBitrateKbps")) else { continue };
        let wanted = constrained(camera, w, h, kbps);
        if wanted == current {
            continue;
        }
        let dir = dir.clone();
        match tokio::task::spawn_blocking(move || load(&dir, codec, wanted)).await {
            Ok(Ok(file)) => {
                current = wanted;
                files.send_replace(Arc::new(file));
                *sent.lock() = Some(wanted);
                tracing::debug!(?wanted, "camera follows the constraint");
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot make the constrained camera clip"),
            Err(e) => tracing::warn!(error = %e, "the camera clip's encode panicked"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HD: Camera = Camera { width: 1280, height: 720, kbps: 1500 };

    #[test]
    fn the_camera_fits_its_tile_and_its_bitrate() {
        // docs/signaling.md's figures for the default 1280×720 composite.
        assert_eq!(constrained(HD, 426, 240, 332), Camera { width: 426, height: 240, kbps: 332 });
        assert_eq!(constrained(HD, 640, 360, 750), Camera { width: 640, height: 360, kbps: 750 });
        assert_eq!(constrained(HD, 1280, 720, 2500), HD, "never up, never above its own bitrate");
        // The pinned slot is wider than 16:9: the height decides.
        assert_eq!(constrained(HD, 1280, 540, 1687), Camera { width: 960, height: 540, kbps: 1500 });
    }
}
