//! Peer connection callbacks → [`PeerEvent`]s on the participant task's channel. Nothing else
//! happens in a callback.

use rtc::peer_connection::transport::RTCIceCandidateInit;
use std::sync::Arc;
use tokio::sync::mpsc;
use webrtc::data_channel::DataChannel;
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{PeerConnectionEventHandler, RTCPeerConnectionIceEvent, RTCPeerConnectionState};

/// Something the peer connection reported.
pub enum PeerEvent {
    LocalCandidate(RTCIceCandidateInit),
    State(RTCPeerConnectionState),
    Track(Arc<dyn TrackRemote>),
    /// The client opened a data channel.
    DataChannel(Arc<dyn DataChannel>),
}

/// The handler given to webrtc-rs: forwards into an unbounded channel so a callback never
/// waits on the participant task (which may itself be waiting on the peer connection).
pub struct PeerEventForwarder {
    tx: mpsc::UnboundedSender<PeerEvent>,
}

impl PeerEventForwarder {
    pub fn new() -> (Arc<Self>, mpsc::UnboundedReceiver<PeerEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Arc::new(Self { tx }), rx)
    }
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for PeerEventForwarder {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        if let Ok(init) = event.candidate.to_json() {
            let _ = self.tx.send(PeerEvent::LocalCandidate(init));
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let _ = self.tx.send(PeerEvent::State(state));
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let _ = self.tx.send(PeerEvent::Track(track));
    }

    async fn on_data_channel(&self, channel: Arc<dyn DataChannel>) {
        let _ = self.tx.send(PeerEvent::DataChannel(channel));
    }
}
