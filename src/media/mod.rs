//! GStreamer media: the per-room composite ([`video`], which also reads its pipeline's bus, see
//! [`bus`], as the [`video::MediaEvent`]s a room acts on; its ladder of sizes [`ladder`]; and
//! the small-screen canvas composed from the same tiles while a receiver wants it, `small`), the audio mixer
//! ([`audio`], with its gate [`gate`], its encodes [`mixout`] over a copyable Opus encoder
//! [`opus_state`]), the pipeline descriptions operators can edit ([`pipelines`]) and the start-up
//! check that every needed element exists ([`check`]).
//!
//! Invariant: everything here is synchronous and owned by one room actor; only the appsink
//! fan-out and the audio mixer thread run on their own threads, and they never block on a
//! receiver: they hand each packet to the receiver's [`PacketSink`], which drops it when that
//! receiver cannot take it now (a slow receiver loses its own packets only).

pub mod audio;
pub mod bus;
pub mod check;
pub mod gate;
pub mod ladder;
pub mod memory;
pub mod mixminus;
pub mod mixout;
pub mod opus_state;
pub mod pipelines;
pub mod speaker;
pub mod tap;
pub mod video;

mod encoder;
#[cfg(test)]
mod fuzz_tests;
pub use encoder::{Fanout, KeyframeGate};
mod ingest;
mod small;
mod stage;
pub use ingest::VideoIngest;
mod tile;
pub use tile::Label as TileLabel;

/// Where one receiver's outgoing packets go. Called on media threads (the encoder's appsink,
/// the mixer) once per packet, so it must not block or wait; a receiver that cannot take the
/// packet now loses it.
pub trait PacketSink: Send + Sync {
    fn send(&self, packet: rtc_rtp::Packet) -> Delivery;
}

/// What became of one packet handed to a [`PacketSink`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Sent,
    /// Not wanted yet (the receiver's connection is not up): not a loss.
    NotReady,
    /// The receiver could not take it now (its queue was full): counted as a loss.
    Dropped,
    /// The receiver is gone for good; it is removed.
    Gone,
}

/// A queue as a sink (tests, benchmarks): full loses the packet, closed ends the receiver.
impl PacketSink for tokio::sync::mpsc::Sender<rtc_rtp::Packet> {
    fn send(&self, packet: rtc_rtp::Packet) -> Delivery {
        match self.try_send(packet) {
            Ok(()) => Delivery::Sent,
            Err(tokio::sync::mpsc::error::TrySendError::Full(_)) => Delivery::Dropped,
            Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => Delivery::Gone,
        }
    }
}

/// A video codec we ingest and send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VideoCodec {
    H264,
    Vp8,
}

impl VideoCodec {
    pub fn encoding_name(self) -> &'static str {
        match self {
            VideoCodec::H264 => "H264",
            VideoCodec::Vp8 => "VP8",
        }
    }
}

/// Errors from building or changing a room's media graph.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("GStreamer element {0:?} could not be created")]
    Element(String, #[source] gstreamer::glib::BoolError),
    #[error("pipeline description {name} did not parse")]
    Parse {
        name: String,
        #[source]
        source: gstreamer::glib::Error,
    },
    #[error("{0}")]
    Graph(String),
    #[error("state change failed")]
    State(#[from] gstreamer::StateChangeError),
    #[error("linking failed")]
    Link(#[from] gstreamer::PadLinkError),
    #[error("GStreamer call failed")]
    Bool(#[from] gstreamer::glib::BoolError),
}

pub(crate) fn make(factory: &str) -> Result<gstreamer::Element, MediaError> {
    gstreamer::ElementFactory::make(factory).build().map_err(|e| MediaError::Element(factory.to_owned(), e))
}
