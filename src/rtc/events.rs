//! Peer connection callbacks → [`PeerEvent`]s on the participant task's channel. Nothing else
//! happens in a callback.
//!
//! The events are domain-level: webrtc-rs's candidate, state, track and data channel types are
//! translated here ([`Candidate`], [`MediaState`], [`InboundTrack`], [`Channel`]), so the code
//! above this module never names a webrtc-rs type.

use super::data::Channel;
use super::inbound::{InboundTrack, MediaPulse};
use super::remb::SendCap;
use crate::config::IngestLimitConfig;
use rtc::peer_connection::transport::RTCIceCandidateInit;
use std::sync::Arc;
use tokio::sync::mpsc;
use webrtc::data_channel::DataChannel;
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{PeerConnectionEventHandler, RTCIceGatheringState, RTCPeerConnectionIceEvent, RTCPeerConnectionState};

/// An ICE candidate as signaling carries it (either way: ours to the client, the client's to
/// us). An empty `candidate` is the end of candidates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Candidate {
    pub candidate: String,
    pub sdp_mid: Option<String>,
    pub sdp_m_line_index: Option<u16>,
    pub username_fragment: Option<String>,
}

impl From<RTCIceCandidateInit> for Candidate {
    fn from(c: RTCIceCandidateInit) -> Self {
        Self { candidate: c.candidate, sdp_mid: c.sdp_mid, sdp_m_line_index: c.sdp_mline_index, username_fragment: c.username_fragment }
    }
}

impl From<Candidate> for RTCIceCandidateInit {
    fn from(c: Candidate) -> Self {
        RTCIceCandidateInit {
            candidate: c.candidate,
            sdp_mid: c.sdp_mid,
            sdp_mline_index: c.sdp_m_line_index,
            username_fragment: c.username_fragment,
            ..Default::default()
        }
    }
}

/// The peer connection's state (the W3C `RTCPeerConnectionState`). Displays as webrtc-rs
/// names it (`connected`, `failed`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaState {
    New,
    Connecting,
    /// DTLS-SRTP is up: media can flow.
    Connected,
    /// Was connected, lost its path; an ICE restart may bring it back.
    Disconnected,
    Failed,
    Closed,
    /// Unspecified (should not happen), or a state this code does not know.
    Other,
}

impl From<RTCPeerConnectionState> for MediaState {
    fn from(s: RTCPeerConnectionState) -> Self {
        match s {
            RTCPeerConnectionState::New => Self::New,
            RTCPeerConnectionState::Connecting => Self::Connecting,
            RTCPeerConnectionState::Connected => Self::Connected,
            RTCPeerConnectionState::Disconnected => Self::Disconnected,
            RTCPeerConnectionState::Failed => Self::Failed,
            RTCPeerConnectionState::Closed => Self::Closed,
            _ => Self::Other,
        }
    }
}

impl std::fmt::Display for MediaState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            Self::New => RTCPeerConnectionState::New,
            Self::Connecting => RTCPeerConnectionState::Connecting,
            Self::Connected => RTCPeerConnectionState::Connected,
            Self::Disconnected => RTCPeerConnectionState::Disconnected,
            Self::Failed => RTCPeerConnectionState::Failed,
            Self::Closed => RTCPeerConnectionState::Closed,
            Self::Other => RTCPeerConnectionState::Unspecified,
        };
        s.fmt(f)
    }
}

/// Something the peer connection reported.
pub enum PeerEvent {
    /// One of our ICE candidates, for the client.
    LocalCandidate(Candidate),
    State(MediaState),
    /// The client sends a track.
    Track(InboundTrack),
    /// The client opened a data channel.
    DataChannel(Channel),
    /// The receiver's rung controller moved it ([`super::bwe`]).
    VideoQuality(super::bwe::Decision),
}

/// The handler given to webrtc-rs: forwards into an unbounded channel so a callback never
/// waits on the participant task (which may itself be waiting on the peer connection). The
/// tracks it reports stamp one [`MediaPulse`] and send one [`SendCap`] to the client as REMB.
pub struct PeerEventForwarder {
    tx: mpsc::UnboundedSender<PeerEvent>,
    pulse: MediaPulse,
    cap: Arc<SendCap>,
    /// Whether ICE gathering is complete (every local candidate is in the local description).
    gathered: tokio::sync::watch::Sender<bool>,
    /// What each reported track may send.
    limits: IngestLimitConfig,
}

impl PeerEventForwarder {
    /// A forwarder whose reported tracks are held to `limits`.
    pub fn new(limits: IngestLimitConfig) -> (Arc<Self>, mpsc::UnboundedReceiver<PeerEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let gathered = tokio::sync::watch::channel(false).0;
        (Arc::new(Self { tx, pulse: MediaPulse::new(), cap: Arc::default(), gathered, limits }), rx)
    }

    /// Follows whether ICE gathering is complete.
    pub(super) fn gathered(&self) -> tokio::sync::watch::Receiver<bool> {
        self.gathered.subscribe()
    }

    /// The cap on what the client sends, which its video tracks' readers send it as REMB.
    pub(super) fn send_cap(&self) -> Arc<SendCap> {
        self.cap.clone()
    }

    /// When the connection's inbound media last arrived (every track's packets stamp it).
    pub fn pulse(&self) -> MediaPulse {
        self.pulse.clone()
    }

    /// Another way into the same channel (for the session's own tasks).
    pub fn sender(&self) -> mpsc::UnboundedSender<PeerEvent> {
        self.tx.clone()
    }
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for PeerEventForwarder {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        if let Ok(init) = event.candidate.to_json() {
            let _ = self.tx.send(PeerEvent::LocalCandidate(init.into()));
        }
    }

    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        self.gathered.send_replace(state == RTCIceGatheringState::Complete);
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let _ = self.tx.send(PeerEvent::State(state.into()));
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let _ = self.tx.send(PeerEvent::Track(InboundTrack::new(track, self.pulse.clone(), self.cap.subscribe(), self.limits)));
    }

    async fn on_data_channel(&self, channel: Arc<dyn DataChannel>) {
        let _ = self.tx.send(PeerEvent::DataChannel(Channel::new(channel)));
    }
}
