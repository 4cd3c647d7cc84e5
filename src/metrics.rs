//! Prometheus metrics: names, help texts and the process-wide recorder behind `GET /metrics`.
//!
//! Recording goes through the `metrics` facade (macros anywhere, no registry threaded through
//! the layers); `metrics-exporter-prometheus` renders the text format and `metrics-process`
//! adds the standard `process_*` series (CPU seconds, resident memory, threads, open files).
//! Hot paths (a counter per RTP packet) hold [`metrics::Counter`] handles taken once, so a
//! packet costs one atomic add, not a registry lookup.
//!
//! Invariants: one recorder per process, installed by the first server that starts (its
//! `node` label is on every series); with none installed every handle is a no-op. Names follow
//! Prometheus conventions: `tessera_` prefix, `_total` on counters, seconds and bytes.

use metrics::{Counter, Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use parking_lot::Mutex;
use std::sync::OnceLock;

pub const ROOMS: &str = "tessera_rooms";
pub const MAX_ROOMS: &str = "tessera_max_rooms";
pub const PARTICIPANTS: &str = "tessera_participants";
pub const RECORDINGS: &str = "tessera_recordings";
pub const OUTPUTS: &str = "tessera_outputs";
pub const RTP_RECEIVED_PACKETS: &str = "tessera_rtp_received_packets_total";
pub const RTP_RECEIVED_BYTES: &str = "tessera_rtp_received_bytes_total";
pub const RTP_SENT_PACKETS: &str = "tessera_rtp_sent_packets_total";
pub const RTP_SENT_BYTES: &str = "tessera_rtp_sent_bytes_total";
pub const RTP_DROPPED_PACKETS: &str = "tessera_rtp_dropped_packets_total";
pub const NACKS_RECEIVED: &str = "tessera_rtcp_nacks_received_total";
pub const KEYFRAME_REQUESTS_RECEIVED: &str = "tessera_rtcp_keyframe_requests_received_total";
pub const PLIS_SENT: &str = "tessera_rtcp_plis_sent_total";
pub const VIDEO_INPUT_RESTARTS: &str = "tessera_video_input_restarts_total";
pub const AUDIO_UNDERRUNS: &str = "tessera_audio_underruns_total";
pub const AUDIO_DISCARDED: &str = "tessera_audio_discarded_samples_total";
pub const AUDIO_ENCODES: &str = "tessera_audio_encodes_total";
pub const RATE_LIMITED: &str = "tessera_rate_limited_total";
pub const INGEST_LIMITED: &str = "tessera_ingest_limited_packets_total";
pub const FRAMES_ENCODED: &str = "tessera_composite_frames_encoded_total";
pub const FRAMES_LATE: &str = "tessera_composite_frames_late_total";
pub const RUNG_ENCODERS: &str = "tessera_composite_rung_encoders";
pub const SMALL_CANVASES: &str = "tessera_small_canvases";
pub const CANVASES_RUNNING: &str = "tessera_canvases_running";
pub const WHIP_SESSIONS: &str = "tessera_whip_sessions";
pub const WHEP_VIEWERS: &str = "tessera_whep_viewers";
pub const VIDEO_RECEIVERS: &str = "tessera_video_receivers";
pub const RUNG_SWITCHES: &str = "tessera_video_rung_switches_total";
pub const NACKED_PACKETS: &str = "tessera_rtcp_nacked_packets_total";
pub const JOIN_TO_FIRST_FRAME: &str = "tessera_join_to_first_frame_seconds";
pub const ROOM_DURATION: &str = "tessera_room_duration_seconds";

const JOIN_BUCKETS: &[f64] = &[0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0];
const ROOM_BUCKETS: &[f64] = &[60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 43200.0, 86400.0];

struct Installed {
    handle: PrometheusHandle,
    process: Mutex<metrics_process::Collector>,
}

static INSTALLED: OnceLock<Option<Installed>> = OnceLock::new();

/// Installs the recorder with `node` as a label on every series (the first call wins; false
/// when another recorder was installed before, and metrics are then not served).
pub fn install(node: &str) -> bool {
    INSTALLED.get_or_init(|| build(node)).is_some()
}

fn build(node: &str) -> Option<Installed> {
    let builder = PrometheusBuilder::new()
        .add_global_label("node", node)
        .set_buckets_for_metric(Matcher::Full(JOIN_TO_FIRST_FRAME.into()), JOIN_BUCKETS)
        .and_then(|b| b.set_buckets_for_metric(Matcher::Full(ROOM_DURATION.into()), ROOM_BUCKETS));
    let recorder = match builder {
        Ok(b) => b.build_recorder(),
        Err(e) => {
            tracing::error!(error = %e, "metrics: bad histogram buckets");
            return None;
        }
    };
    let handle = recorder.handle();
    if metrics::set_global_recorder(recorder).is_err() {
        tracing::warn!("metrics: another recorder is installed; /metrics is not served");
        return None;
    }
    describe();
    let process = metrics_process::Collector::default();
    process.describe();
    Some(Installed { handle, process: Mutex::new(process) })
}

fn describe() {
    describe_gauge!(ROOMS, "Rooms live on this node (open, with their media or waiting for people).");
    describe_gauge!(MAX_ROOMS, "Most rooms this node takes (its max_rooms): its capacity, for tessera_rooms / tessera_max_rooms.");
    describe_gauge!(PARTICIPANTS, "Participant sessions on this node.");
    describe_gauge!(RECORDINGS, "Recordings running on this node.");
    describe_gauge!(OUTPUTS, "Live outputs running on this node, by kind (rtmp, hls).");
    describe_counter!(RTP_RECEIVED_PACKETS, "RTP packets received from participants, by kind (audio, video).");
    describe_counter!(RTP_RECEIVED_BYTES, Unit::Bytes, "RTP payload bytes received from participants, by kind.");
    describe_counter!(RTP_SENT_PACKETS, "RTP packets of the composite and the mixes sent to participants, by kind.");
    describe_counter!(RTP_SENT_BYTES, Unit::Bytes, "RTP payload bytes sent to participants, by kind.");
    describe_counter!(RTP_DROPPED_PACKETS, "RTP packets a slow receiver could not take (each loses only its own), by kind.");
    describe_counter!(NACKS_RECEIVED, "RTCP NACK packets received from participants for the composite.");
    describe_counter!(KEYFRAME_REQUESTS_RECEIVED, "RTCP PLI/FIR packets received from participants for the composite.");
    describe_counter!(PLIS_SENT, "RTCP PLI packets sent to participants for their camera or screen.");
    describe_counter!(VIDEO_INPUT_RESTARTS, "Camera inputs whose decoder failed and was started again.");
    describe_counter!(AUDIO_UNDERRUNS, "Times an input's audio ran dry while it was playing (each a gap in that voice).");
    describe_counter!(
        AUDIO_DISCARDED,
        "Input audio thrown away to keep latency down, in 48 kHz samples (an integer count; divide by 48000 for seconds)."
    );
    describe_counter!(
        AUDIO_ENCODES,
        "Opus frames of the mix encoded: kind=\"shared\" (one per room per 20 ms, for everyone not talking) or kind=\"own\" (a talker's mix-minus)."
    );
    describe_counter!(
        RATE_LIMITED,
        "Requests answered 429 rate_limited, by limit: address, connects (signaling WebSockets) or credential; and signaling messages dropped over a connection's limits: signaling, offers."
    );
    describe_counter!(
        INGEST_LIMITED,
        "Inbound RTP packets dropped before decoding because their track sent over its [ingest_limit] (bits or packets a second), by kind."
    );
    describe_counter!(FRAMES_ENCODED, "Composite frames encoded, by codec.");
    describe_counter!(FRAMES_LATE, "Composite frames dropped before encoding because the encoder was behind, by codec.");
    describe_gauge!(
        RUNG_ENCODERS,
        "Encoders of the composite running, by rung (L0 full size, L1 half, L2 quarter; S1 the small-screen canvas, S2 its half)."
    );
    describe_gauge!(CANVASES_RUNNING, "Room canvases composing video (a canvas rests while no one takes video and no camera is decoded).");
    describe_gauge!(WHEP_VIEWERS, "WHEP viewers on this node (receive-only sessions; not participants).");
    describe_gauge!(WHIP_SESSIONS, "WHIP ingest sessions on this node (each is also one of tessera_participants).");
    describe_gauge!(SMALL_CANVASES, "Small-screen canvases running (one per room while any receiver takes it).");
    describe_gauge!(
        VIDEO_RECEIVERS,
        "Receivers of the composite, by the rung they are on (L0, L1, L2, or paused: audio only on a weak link)."
    );
    describe_counter!(RUNG_SWITCHES, "Receivers moved to another rung of the composite, by direction (down, up).");
    describe_counter!(
        NACKED_PACKETS,
        "Composite packets receivers asked for again, by outcome: resent, over_budget (the receiver's retransmission budget was spent), too_old, unknown (no longer kept), duplicate (resent less than a round trip ago), padding (a probe's padding: nothing to resend)."
    );
    describe_histogram!(JOIN_TO_FIRST_FRAME, Unit::Seconds, "From a participant's join to the first composite packet sent to it.");
    describe_histogram!(ROOM_DURATION, Unit::Seconds, "How long rooms were open, counted when they end.");
}

/// What the server knows at scrape time.
#[derive(Debug, Default, Clone, Copy)]
pub struct Live {
    pub rooms: usize,
    /// The node's `max_rooms`.
    pub max_rooms: usize,
    pub participants: usize,
    pub recordings: usize,
    pub rtmp: usize,
    pub hls: usize,
}

/// The text exposition of every series, with the gauges set from `live` and the process
/// figures read now; `None` when no recorder of ours is installed.
pub fn render(live: Live) -> Option<String> {
    let installed = INSTALLED.get()?.as_ref()?;
    gauge!(ROOMS).set(live.rooms as f64);
    gauge!(MAX_ROOMS).set(live.max_rooms as f64);
    gauge!(PARTICIPANTS).set(live.participants as f64);
    gauge!(RECORDINGS).set(live.recordings as f64);
    gauge!(OUTPUTS, "kind" => "rtmp").set(live.rtmp as f64);
    gauge!(OUTPUTS, "kind" => "hls").set(live.hls as f64);
    installed.process.lock().collect();
    Some(installed.handle.render())
}

/// Media kinds, as the `kind` label says them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Audio,
    Video,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Audio => "audio",
            Kind::Video => "video",
        }
    }
}

/// Packet and byte counters of one direction and kind, taken once and kept by a hot path.
#[derive(Clone)]
pub struct Rtp {
    packets: Counter,
    bytes: Counter,
}

impl Rtp {
    pub fn received(kind: Kind) -> Self {
        Self {
            packets: counter!(RTP_RECEIVED_PACKETS, "kind" => kind.label()),
            bytes: counter!(RTP_RECEIVED_BYTES, "kind" => kind.label()),
        }
    }

    pub fn sent(kind: Kind) -> Self {
        Self { packets: counter!(RTP_SENT_PACKETS, "kind" => kind.label()), bytes: counter!(RTP_SENT_BYTES, "kind" => kind.label()) }
    }

    pub fn count(&self, payload_bytes: usize) {
        self.packets.increment(1);
        self.bytes.increment(payload_bytes as u64);
    }
}

/// Packets of `kind` a slow receiver could not take.
pub fn dropped(kind: Kind) -> Counter {
    counter!(RTP_DROPPED_PACKETS, "kind" => kind.label())
}

pub fn nacks_received() -> Counter {
    counter!(NACKS_RECEIVED)
}

pub fn keyframe_requests_received() -> Counter {
    counter!(KEYFRAME_REQUESTS_RECEIVED)
}

pub fn plis_sent() -> Counter {
    counter!(PLIS_SENT)
}

pub fn video_input_restarts() -> Counter {
    counter!(VIDEO_INPUT_RESTARTS)
}

/// The counter of one kind's inbound packets dropped over their track's limit.
pub fn ingest_limited(kind: Kind) -> Counter {
    counter!(INGEST_LIMITED, "kind" => kind.label())
}

/// A request refused (or a signaling message dropped) by the rate limit `limit`.
pub fn rate_limited(limit: &'static str) {
    counter!(RATE_LIMITED, "limit" => limit).increment(1);
}

/// Opus frames of the mix encoded in one tick: shared and talkers' own.
pub fn audio_encodes(shared: u64, own: u64) {
    if shared > 0 {
        counter!(AUDIO_ENCODES, "kind" => "shared").increment(shared);
    }
    if own > 0 {
        counter!(AUDIO_ENCODES, "kind" => "own").increment(own);
    }
}

/// Underruns and discarded input audio (48 kHz samples) the mixer collected from its inputs.
pub fn audio_losses(underruns: u64, discarded_samples: u64) {
    if underruns > 0 {
        counter!(AUDIO_UNDERRUNS).increment(underruns);
    }
    if discarded_samples > 0 {
        counter!(AUDIO_DISCARDED).increment(discarded_samples);
    }
}

/// Frames of the composite encoded in `codec` ("h264", "vp8") and dropped as late.
pub fn frames(codec: &'static str) -> (Counter, Counter) {
    (counter!(FRAMES_ENCODED, "codec" => codec), counter!(FRAMES_LATE, "codec" => codec))
}

pub fn join_to_first_frame(seconds: f64) {
    histogram!(JOIN_TO_FIRST_FRAME).record(seconds);
}

pub fn room_duration(seconds: f64) {
    histogram!(ROOM_DURATION).record(seconds);
}

/// One more (`1.0`) or one less (`-1.0`) encoder of the composite at `rung`.
pub fn rung_encoders(rung: &'static str, delta: f64) {
    gauge!(RUNG_ENCODERS, "rung" => rung).increment(delta);
}

/// One more (`1.0`) or one less (`-1.0`) room canvas running (not resting).
pub fn canvases_running(delta: f64) {
    gauge!(CANVASES_RUNNING).increment(delta);
}

/// One more (`1.0`) or one less (`-1.0`) WHIP ingest session.
pub fn whip_sessions(delta: f64) {
    gauge!(WHIP_SESSIONS).increment(delta);
}

/// One more (`1.0`) or one less (`-1.0`) WHEP viewer.
pub fn whep_viewers(delta: f64) {
    gauge!(WHEP_VIEWERS).increment(delta);
}

/// One more (`1.0`) or one less (`-1.0`) small-screen canvas running.
pub fn small_canvases(delta: f64) {
    gauge!(SMALL_CANVASES).increment(delta);
}

/// A receiver left rung `from` for `to` (`None`: it joined or left).
pub fn receiver_moved(from: Option<&'static str>, to: Option<&'static str>) {
    if let Some(f) = from {
        gauge!(VIDEO_RECEIVERS, "rung" => f).decrement(1.0);
    }
    if let Some(t) = to {
        gauge!(VIDEO_RECEIVERS, "rung" => t).increment(1.0);
    }
}

pub fn rung_switch(up: bool) {
    counter!(RUNG_SWITCHES, "direction" => if up { "up" } else { "down" }).increment(1);
}

/// Counters of what became of NACKed packets: resent, over budget, too old, unknown,
/// duplicate, padding.
pub fn nacked_packets() -> [Counter; 6] {
    ["resent", "over_budget", "too_old", "unknown", "duplicate", "padding"].map(|o| counter!(NACKED_PACKETS, "outcome" => o))
}
