//! One encoder branch per codec in use: tee → the operator's encode chain → appsink, whose RTP
//! packets are fanned out to every receiver of that codec. Encoded once, sent to many.

use super::tap::Taps;
use super::{Delivery, MediaError, PacketSink, VideoCodec, make};
use bytes::Bytes;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use parking_lot::Mutex;
use rtc_rtp as rtp;
use rtc_shared::marshal::Unmarshal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Receivers of one encoder's output.
#[derive(Default)]
pub struct Fanout {
    receivers: Mutex<Vec<(String, Arc<dyn PacketSink>)>>,
    /// Packets receivers could not take (shared by the room's encoders).
    dropped: Arc<AtomicU64>,
}

impl Fanout {
    /// The appsink's per-packet work: one encoded RTP packet, parsed once, handed to every
    /// receiver's sink (each gets a clone sharing the payload bytes).
    pub fn deliver_rtp(&self, data: &[u8]) {
        let mut bytes = Bytes::copy_from_slice(data);
        if let Ok(packet) = rtp::Packet::unmarshal(&mut bytes) {
            self.deliver(packet);
        }
    }

    fn deliver(&self, packet: rtp::Packet) {
        // The lock is never held across an await; the appsink thread is its only long user.
        let mut list = self.receivers.lock();
        list.retain(|(_, sink)| match sink.send(packet.clone()) {
            Delivery::Sent | Delivery::NotReady => true,
            Delivery::Dropped => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                true
            }
            Delivery::Gone => false,
        });
    }

    /// Counts into `dropped` the packets receivers could not take.
    pub fn counting_drops_into(dropped: Arc<AtomicU64>) -> Self {
        Self { receivers: Mutex::default(), dropped }
    }

    pub fn add(&self, id: &str, sink: Arc<dyn PacketSink>) {
        let mut list = self.receivers.lock();
        list.retain(|(pid, _)| pid != id);
        list.push((id.to_owned(), sink));
    }

    /// Receivers now fed.
    pub fn len(&self) -> usize {
        self.receivers.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn remove(&self, id: &str) -> usize {
        let mut list = self.receivers.lock();
        list.retain(|(pid, _)| pid != id);
        list.len()
    }
}

/// Rate-limits keyframe requests to one encoder without losing any: a request inside the gap
/// is deferred to the gap's end (one deferred keyframe serves every request made meanwhile).
/// Refusing it instead left a receiver that connected just after someone else's keyframe
/// without a picture until its next PLI (measured: up to 500 ms more join time).
pub struct KeyframeGate {
    appsink: gst_app::AppSink,
    state: Mutex<GateState>,
}

#[derive(Default)]
struct GateState {
    last: Option<Instant>,
    deferred: bool,
}

impl KeyframeGate {
    fn new(appsink: gst_app::AppSink) -> Self {
        Self { appsink, state: Mutex::new(GateState::default()) }
    }

    /// Asks for a keyframe no sooner than `min_gap` after the previous one. Returns whether
    /// one was forced now (`false`: deferred, or already coming).
    pub fn request(self: &Arc<Self>, min_gap: Duration) -> bool {
        let mut st = self.state.lock();
        let wait = st.last.map(|t| min_gap.saturating_sub(t.elapsed())).unwrap_or_default();
        if wait.is_zero() {
            st.last = Some(Instant::now());
            drop(st);
            return self.force();
        }
        if !st.deferred
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            st.deferred = true;
            let gate = Arc::downgrade(self);
            rt.spawn(async move {
                tokio::time::sleep(wait).await;
                if let Some(gate) = gate.upgrade() {
                    {
                        let mut st = gate.state.lock();
                        st.deferred = false;
                        st.last = Some(Instant::now());
                    }
                    gate.force();
                }
            });
        }
        false
    }

    /// Asks the encoder for a keyframe **without** `all-headers`. The encoder answers a request
    /// with all-headers by sending the same flag downstream, and rtph264pay (1.22, aggregating)
    /// then sends SPS/PPS as a packet of its own with the marker bit set, at the keyframe's
    /// timestamp and ahead of it: Chromium took that packet for a 40-byte frame, failed to decode
    /// it and sent a PLI, which forced the next keyframe (a keyframe loop, issue 23). The headers
    /// need no asking: x264enc puts SPS/PPS in front of every IDR (what the taps record) and
    /// `config-interval=-1` has the payloader repeat them inside every keyframe's frame.
    /// VP8 has no headers to send. `keyframe_tests` checks both encoders' packets.
    fn force(&self) -> bool {
        let ev = gstreamer_video::UpstreamForceKeyUnitEvent::builder().all_headers(false).build();
        self.appsink.send_event(ev)
    }
}

pub(crate) struct EncoderBranch {
    pub bin: gst::Bin,
    pub tee_pad: gst::Pad,
    pub fanout: Arc<Fanout>,
    pub keyframes: Arc<KeyframeGate>,
    /// Recordings and live outputs fed with this branch's encoded access units.
    pub taps: Arc<Taps>,
}

/// Hands every encoded access unit entering the payloader (the last element of the chain) to
/// `taps`, stamped with its absolute clock time. Costs one atomic check per frame when no tap
/// is attached; never copies the frame.
fn tap_encoded(chain: &gst::Bin, taps: Arc<Taps>, encoded: metrics::Counter) -> Result<(), MediaError> {
    let src = chain.static_pad("src").ok_or_else(|| MediaError::Graph("encoder chain has no src pad".into()))?;
    let ghost = src.downcast::<gst::GhostPad>().map_err(|_| MediaError::Graph("encoder chain's src pad is not a ghost pad".into()))?;
    let payloader =
        ghost.target().and_then(|p| p.parent_element()).ok_or_else(|| MediaError::Graph("encoder chain ends in no element".into()))?;
    let pad = payloader.static_pad("sink").ok_or_else(|| MediaError::Graph("the payloader has no sink pad".into()))?;
    pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        encoded.increment(1);
        if taps.is_empty() {
            return gst::PadProbeReturn::Ok;
        }
        let (Some(buffer), Some(caps)) = (info.buffer(), pad.current_caps()) else { return gst::PadProbeReturn::Ok };
        // Running time from the segment, not the raw PTS: x264enc offsets its timestamps (and
        // its segment) by 1000 hours so that DTS never goes negative.
        let Some(pts) = buffer.pts() else { return gst::PadProbeReturn::Ok };
        let Some(segment) = pad.sticky_event::<gst::event::Segment>(0) else { return gst::PadProbeReturn::Ok };
        let Some(running) = segment.segment().downcast_ref::<gst::ClockTime>().and_then(|s| s.to_running_time(pts)) else {
            return gst::PadProbeReturn::Ok;
        };
        let base = pad.parent_element().and_then(|e| e.base_time()).unwrap_or_default();
        let at = base + running;
        taps.each(|t| t.video(buffer, &caps, at));
        gst::PadProbeReturn::Ok
    });
    Ok(())
}

/// Counts the frames that find the chain's queue full because the encoder is behind: a full
/// queue emits `overrun`, then (leaky, as `pipelines/encode-*.pipeline` have it) drops its
/// oldest frame.
fn count_late_frames(chain: &gst::Bin, late: metrics::Counter) {
    for queue in chain.iterate_elements().into_iter().flatten() {
        if queue.factory().is_none_or(|f| f.name() != "queue") {
            continue;
        }
        let late = late.clone();
        queue.connect("overrun", false, move |_| {
            late.increment(1);
            None
        });
    }
}

/// Sets the payloader's (the chain's last element's) RTP timestamp offset: every rung of a
/// room's ladder gets the same, so one canvas frame has one RTP timestamp on all of them.
fn set_timestamp_offset(chain: &gst::Bin, offset: u32) -> Result<(), MediaError> {
    let src = chain.static_pad("src").ok_or_else(|| MediaError::Graph("encoder chain has no src pad".into()))?;
    let payloader = src
        .downcast_ref::<gst::GhostPad>()
        .and_then(|g| g.target())
        .and_then(|p| p.parent_element())
        .ok_or_else(|| MediaError::Graph("encoder chain ends in no element".into()))?;
    if payloader.find_property("timestamp-offset").is_some() {
        payloader.set_property("timestamp-offset", offset);
    }
    Ok(())
}

/// Builds `description` into a bin ending in an appsink and links it to `tee`; its payloader
/// stamps RTP timestamps from `timestamp_offset`.
pub(crate) fn build(
    parent: &gst::Bin,
    tee: &gst::Element,
    description: &str,
    dropped: Arc<AtomicU64>,
    codec: VideoCodec,
    timestamp_offset: u32,
) -> Result<EncoderBranch, MediaError> {
    let chain =
        gst::parse::bin_from_description(description, true).map_err(|source| MediaError::Parse { name: "encoder".into(), source })?;
    set_timestamp_offset(&chain, timestamp_offset)?;
    let bin = gst::Bin::new();
    let sink = make("appsink")?;
    let appsink = sink.clone().dynamic_cast::<gst_app::AppSink>().map_err(|_| MediaError::Graph("appsink is not an AppSink".into()))?;
    appsink.set_sync(false);
    // Added to a running live pipeline: it must not ask the pipeline to preroll again.
    appsink.set_async(false);
    appsink.set_max_buffers(64);
    appsink.set_drop(true);
    bin.add_many([chain.upcast_ref::<gst::Element>(), &sink])?;
    chain.link(&sink)?;
    let sink_pad = chain.static_pad("sink").ok_or_else(|| MediaError::Graph("encoder chain has no sink pad".into()))?;
    bin.add_pad(&gst::GhostPad::with_target(&sink_pad)?)?;

    let taps = Arc::new(Taps::default());
    let (encoded, late) = crate::metrics::frames(match codec {
        VideoCodec::H264 => "h264",
        VideoCodec::Vp8 => "vp8",
    });
    tap_encoded(&chain, taps.clone(), encoded)?;
    count_late_frames(&chain, late);
    let fanout = Arc::new(Fanout::counting_drops_into(dropped));
    let out = fanout.clone();
    appsink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |s| {
                let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                if let Some(buffer) = sample.buffer()
                    && let Ok(map) = buffer.map_readable()
                {
                    out.deliver_rtp(map.as_slice());
                }
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );

    parent.add(&bin)?;
    // Playing before it is linked: the tee is already pushing, and a push into a branch still
    // in NULL returns FLUSHING, which the tee passes up and which stops the compositor's
    // streaming task for good (the room's composite died, about one room in 40 under load).
    bin.sync_state_with_parent()?;
    let tee_pad = tee.request_pad_simple("src_%u").ok_or_else(|| MediaError::Graph("tee gave no src pad".into()))?;
    let bin_sink = bin.static_pad("sink").ok_or_else(|| MediaError::Graph("encoder bin has no sink pad".into()))?;
    tee_pad.link(&bin_sink)?;
    let keyframes = Arc::new(KeyframeGate::new(appsink));
    Ok(EncoderBranch { bin, tee_pad, fanout, keyframes, taps })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc_shared::marshal::Marshal;

    #[test]
    fn a_slow_receiver_loses_its_own_packets_and_a_gone_one_is_removed() {
        let dropped = Arc::new(AtomicU64::new(0));
        let fanout = Fanout::counting_drops_into(dropped.clone());
        let (fast_tx, mut fast) = tokio::sync::mpsc::channel::<rtp::Packet>(8);
        let (slow_tx, _slow) = tokio::sync::mpsc::channel::<rtp::Packet>(1);
        let (gone_tx, gone) = tokio::sync::mpsc::channel::<rtp::Packet>(8);
        fanout.add("fast", Arc::new(fast_tx));
        fanout.add("slow", Arc::new(slow_tx));
        fanout.add("gone", Arc::new(gone_tx));
        drop(gone);
        let packet = rtp::Packet { header: rtp::header::Header { version: 2, ..Default::default() }, payload: Bytes::from_static(b"x") };
        let raw = packet.marshal().expect("marshals");
        for _ in 0..3 {
            fanout.deliver_rtp(&raw);
        }
        let mut got = 0;
        while fast.try_recv().is_ok() {
            got += 1;
        }
        assert_eq!(got, 3, "the fast receiver gets every packet");
        assert_eq!(dropped.load(Ordering::Relaxed), 2, "the slow one took one and lost two");
        assert_eq!(fanout.remove("nobody"), 2, "the gone receiver was removed");
    }

    #[tokio::test]
    async fn requests_inside_the_gap_are_deferred_not_lost() {
        gst::init().expect("gstreamer");
        let sink = make("appsink").expect("appsink").dynamic_cast::<gst_app::AppSink>().expect("an AppSink");
        let gate = Arc::new(KeyframeGate::new(sink));
        let gap = Duration::from_millis(50);
        gate.request(gap);
        let first = gate.state.lock().last.expect("forced at once");
        assert!(!gate.request(gap), "inside the gap: not forced now");
        assert!(!gate.request(gap));
        assert!(gate.state.lock().deferred, "but deferred, once");
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let served = {
                let st = gate.state.lock();
                (!st.deferred).then_some(st.last)
            };
            if let Some(last) = served {
                let at = last.expect("forced");
                assert!(at >= first + gap, "the deferred keyframe waits out the gap");
                break;
            }
            assert!(Instant::now() < deadline, "the deferred keyframe never came");
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

#[cfg(test)]
#[path = "encoder_tests.rs"]
mod keyframe_tests;
