//! The ladder's lower rungs as a room runs them: a rung's branch is added to a canvas that has
//! been playing for a while, and measured from the RTP packets its receiver gets.
//!
//! L2 once ran at the canvas's 30 fps: `videorate drop-only=true` without `skip-to-first`
//! expects its first output at the segment's start (the canvas's time zero) and lets every
//! frame through until its expected time, advancing one 1/15 s per frame let through, catches
//! up with the canvas's time; a rung started T seconds into a room ran at 30 fps for T seconds,
//! and x264enc, told 15 fps by the caps, spent each frame the budget of a 15 fps frame: twice
//! the bitrate (measured here: 30.3 fps, 310 kbit/s; Chromium saw 30 fps, 298 kbit/s).

use super::*;
use crate::media::ladder::{Canvas, Rung};
use crate::media::{Delivery, PacketSink};
use rtc_rtp as rtp;
use std::sync::mpsc;
use std::time::Duration;
use std::time::Instant;

/// Longest wait for a packet (a busy 2-core machine, a debug build).
const PACKET_TIMEOUT: Duration = Duration::from_secs(10);
const RTP_HZ: u32 = 90_000;

/// One received packet: its RTP timestamp, whether it ends a frame, its payload size.
struct Arrival {
    timestamp: u32,
    marker: bool,
    bytes: usize,
}

struct Collect(mpsc::Sender<Arrival>);

impl PacketSink for Collect {
    fn send(&self, p: rtp::Packet) -> Delivery {
        let a = Arrival { timestamp: p.header.timestamp, marker: p.header.marker, bytes: p.payload.len() };
        if self.0.send(a).is_ok() { Delivery::Sent } else { Delivery::Gone }
    }
}

/// A tile of scrolling colour bars filling the canvas, so the encoders have work to do and
/// their bitrate shows.
fn moving_tile(video: &mut RoomVideo) {
    let bin = gst::parse::bin_from_description(
        "videotestsrc is-live=true pattern=smpte horizontal-speed=6 \
         ! capsfilter caps=video/x-raw,format=I420,width=640,height=360,framerate=30/1",
        true,
    )
    .expect("videotestsrc and capsfilter are checked at start-up like every element the server uses");
    let pad = video.link_source(&bin).expect("a new source always links to a fresh compositor pad");
    RoomVideo::start_source(&bin).expect("a videotestsrc starts in a playing pipeline");
    video.tiles.push(Tile {
        id: "a".into(),
        name: "A".into(),
        label: "A".into(),
        marks: tile::Label::new("A"),
        source: Source::Placeholder(bin),
        pad,
        cover: None,
        rect: None,
        fill: false,
        camera: None,
    });
    video.relayout();
}

/// The encoder element of `rung`'s H.264 branch.
fn x264enc(video: &RoomVideo, rung: Rung) -> gst::Element {
    let branch = &video.encoders[&(VideoCodec::H264, Feed::of(Canvas::Full, rung))];
    branch
        .bin
        .iterate_recurse()
        .into_iter()
        .flatten()
        .find(|e| e.factory().is_some_and(|f| f.name() == "x264enc"))
        .expect("encode-h264.pipeline as shipped has an x264enc")
}

/// Moves the receiver `sub` to `rung` and waits for the move (at the rung's keyframe).
fn move_to(video: &mut RoomVideo, sub: &VideoSubscription, rx: &mpsc::Receiver<Arrival>, rung: Rung) {
    video.set_feed("r", Canvas::Full, Some(rung)).expect("a lower rung's branch builds from the shipped files");
    let by = Instant::now() + PACKET_TIMEOUT;
    while sub.receiver.feeds().0 != Some(Feed::of(Canvas::Full, rung)) {
        rx.recv_timeout(PACKET_TIMEOUT).expect("the old rung goes on until the new one's keyframe");
        assert!(Instant::now() < by, "the receiver never moved to {}", rung.name());
    }
}

/// What `secs` seconds of the receiver's rung carry, by their RTP timestamps (the canvas's
/// clock, not this thread's): frames per second, kbit/s and the closest two frames, in ticks.
fn measure(rx: &mpsc::Receiver<Arrival>, secs: u32) -> (f64, f64, u32) {
    // The old rung's last packets can still be in the channel when the move is seen (its last
    // frame has the new rung's first timestamp: every rung stamps the canvas's clock): half a
    // second of arrivals is left out.
    let start = rx.recv_timeout(PACKET_TIMEOUT).expect("the rung sends packets").timestamp;
    while rx.recv_timeout(PACKET_TIMEOUT).expect("the rung sends packets").timestamp.wrapping_sub(start) < RTP_HZ / 2 {}
    let mut frames: Vec<u32> = vec![];
    let mut bytes = 0usize;
    while frames.len() < 2 || frames[frames.len() - 1].wrapping_sub(frames[0]) < secs * RTP_HZ {
        let a = rx.recv_timeout(PACKET_TIMEOUT).expect("the rung sends packets");
        bytes += a.bytes;
        if a.marker {
            frames.push(a.timestamp);
        }
    }
    let span = f64::from(frames[frames.len() - 1].wrapping_sub(frames[0])) / f64::from(RTP_HZ);
    let closest = frames.windows(2).map(|w| w[1].wrapping_sub(w[0])).min().unwrap_or_default();
    ((frames.len() - 1) as f64 / span, bytes as f64 * 8.0 / span / 1000.0, closest)
}

#[test]
fn lower_rungs_started_in_a_running_room_keep_their_rate_and_bitrate() {
    gst::init().expect("GStreamer is installed (the start-up check requires it)");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines");
    let files = Pipelines::load(&dir).expect("the shipped pipeline files are in the repository");
    let base = CompositeConfig::default();
    let (mut video, _events) = RoomVideo::new(Arc::new(files), base.clone()).expect("the shipped canvas starts");
    moving_tile(&mut video);
    let (tx, rx) = mpsc::channel();
    let sub = video.subscribe("r", VideoCodec::H264, Arc::new(Collect(tx))).expect("L0 starts for the first receiver");
    // The canvas runs 6 s on L0 before L2 starts, as a room does before someone moves down
    // (longer than the 4 s measured: with the bug, all of them ran at 30 fps).
    let mut first = None;
    loop {
        let a = rx.recv_timeout(PACKET_TIMEOUT).expect("L0 sends packets");
        let t0 = *first.get_or_insert(a.timestamp);
        if a.timestamp.wrapping_sub(t0) >= 6 * RTP_HZ {
            break;
        }
    }

    let l2 = Rung::L2.config(&base);
    move_to(&mut video, &sub, &rx, Rung::L2);
    assert_eq!(x264enc(&video, Rung::L2).property::<u32>("bitrate"), l2.bitrate_kbps, "L2's encoder has the rung's bitrate");
    let (fps, kbps, closest) = measure(&rx, 4);
    eprintln!("L2 started 6 s into the room: {fps:.1} fps, {kbps:.0} kbit/s (nominal {} fps, {} kbit/s)", l2.fps, l2.bitrate_kbps);
    // With the bug: 30 fps, frames 1/30 s apart, about 310 kbit/s.
    assert!((12.0..=17.0).contains(&fps), "L2 runs at 15 fps: {fps:.1}");
    assert!(closest >= RTP_HZ / 18, "no two L2 frames closer than 1/18 s: {closest} ticks");
    assert!(kbps <= 1.5 * f64::from(l2.bitrate_kbps), "L2 stays near its nominal {} kbit/s: {kbps:.0}", l2.bitrate_kbps);

    // L1 thins nothing (the canvas's own rate): videorate must not drop its frames either.
    let l1 = Rung::L1.config(&base);
    move_to(&mut video, &sub, &rx, Rung::L1);
    let (fps, kbps, _) = measure(&rx, 2);
    eprintln!("L1: {fps:.1} fps, {kbps:.0} kbit/s (nominal {} fps, {} kbit/s)", l1.fps, l1.bitrate_kbps);
    assert!(fps >= 24.0, "L1 runs at the canvas's 30 fps: {fps:.1}");
}

/// A camera's ingest: an error from one of its elements is that participant's input failing;
/// the room taking the ingest out (after a failure, or when the participant goes) resolves
/// its `detached`, which is what starts a camera again on a new decoder.
#[test]
fn an_ingest_knows_when_the_room_takes_it_out() {
    use tokio::sync::oneshot::error::TryRecvError;
    gst::init().expect("GStreamer is installed (the start-up check requires it)");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines");
    let files = Pipelines::load(&dir).expect("the shipped pipeline files are in the repository");
    let (mut video, _events) = RoomVideo::new(Arc::new(files), CompositeConfig::default()).expect("the shipped canvas starts");
    video.add_participant("a", "A").expect("a placeholder tile for A");
    let mut ingest = video.attach_video("a", VideoCodec::Vp8, 96).expect("A's camera attaches to its tile");
    assert_eq!(ingest.detached.try_recv(), Err(TryRecvError::Empty), "attached");

    let tile = video.tiles.iter().find(|t| t.id == "a").expect("A's tile");
    let decoder =
        tile.source.bin().iterate_recurse().into_iter().flatten().find(|e| e.name().starts_with("vp8dec")).expect("a VP8 decoder");
    let msg = gst::message::Error::builder(gst::StreamError::Failed, "Internal data stream error.").src(&decoder).build();
    match event_of(&msg, &video) {
        Some(MediaEvent::InputFailed { participant, screen: false, .. }) => assert_eq!(participant, "a"),
        other => panic!("an error in A's decoder is A's input failing, not {other:?}"),
    }

    video.detach_video("a").expect("back on the placeholder");
    assert_eq!(ingest.detached.try_recv(), Err(TryRecvError::Closed), "taken out of the graph");
    let msg = gst::message::Error::builder(gst::StreamError::Failed, "late").src(&decoder).build();
    assert!(event_of(&msg, &video).is_none(), "a late error from the removed decoder is ignored");

    let mut again = video.attach_video("a", VideoCodec::Vp8, 96).expect("a new decoder for A");
    assert_eq!(again.detached.try_recv(), Err(TryRecvError::Empty));
    video.remove_participant("a");
    assert_eq!(again.detached.try_recv(), Err(TryRecvError::Closed), "the participant went");
}

/// The canvas composes only while something takes video or a camera is decoded: a new room
/// rests, its first receiver starts it (and gets packets), the last one leaving rests it
/// again, and it starts again, with fresh frames, for the next.
#[test]
fn the_canvas_rests_while_nobody_takes_video() {
    gst::init().expect("GStreamer is installed (the start-up check requires it)");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines");
    let files = Pipelines::load(&dir).expect("the shipped pipeline files are in the repository");
    let (mut video, _events) = RoomVideo::new(Arc::new(files), CompositeConfig::default()).expect("the shipped canvas starts");
    assert!(!video.canvas_running(), "a new room rests");
    video.add_participant("a", "A").expect("a placeholder tile");
    assert!(!video.canvas_running(), "a placeholder needs no canvas");

    for round in 0..2 {
        let (tx, rx) = mpsc::channel();
        let _sub = video.subscribe("r", VideoCodec::H264, Arc::new(Collect(tx))).expect("a receiver subscribes");
        assert!(video.canvas_running(), "round {round}: a receiver runs the canvas");
        let frames = (0..60).filter(|_| rx.recv_timeout(PACKET_TIMEOUT).expect("the receiver gets packets").marker).count();
        assert!(frames > 0, "round {round}: whole frames");
        video.unsubscribe("r");
        assert!(!video.canvas_running(), "round {round}: the last receiver gone, it rests");
    }

    let ingest = video.attach_video("a", VideoCodec::Vp8, 96).expect("A's camera attaches");
    assert!(video.canvas_running(), "a decoded camera runs the canvas");
    video.detach_video("a").expect("back on the placeholder");
    assert!(!video.canvas_running(), "no camera, no receiver: it rests");
    drop(ingest);
    video.remove_participant("a");
    assert!(!video.canvas_running());
}
