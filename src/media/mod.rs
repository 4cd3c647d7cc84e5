//! GStreamer media: the per-room composite ([`video`]), the mix-minus audio mixer ([`audio`]),
//! the pipeline descriptions operators can edit ([`pipelines`]) and the start-up check that
//! every needed element exists ([`check`]).
//!
//! Invariant: everything here is synchronous and owned by one room actor; only the appsink
//! fan-out and the audio mixer thread run on their own threads, and they never block on a
//! receiver (a full receiver queue drops packets for that receiver only).

pub mod audio;
pub mod check;
pub mod mixminus;
pub mod pipelines;
pub mod video;

mod encoder;
pub use encoder::{Fanout, KeyframeGate};
mod ingest;
pub use ingest::VideoIngest;
mod tile;

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
