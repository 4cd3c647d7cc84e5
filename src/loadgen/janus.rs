//! A client of Janus's AudioBridge plugin (Debian's `janus`, the peer `make bench` measures an
//! audio-only room against): the Janus protocol over its plain HTTP transport. A participant is
//! one session with one handle attached to `janus.plugin.audiobridge`; it `join`s a room with
//! an offer (its candidates trickled after), gets the answer by long poll, sends the load
//! generator's Opus tone and reads (and drops) its mix, as the load generator's own audio-only
//! participants do with Tessera.
//!
//! Invariant: every task a [`JanusPeer`] starts (the long poll that keeps the session alive,
//! the candidate forwarder, the sender, the readers) ends when it is closed.

use super::media_file::RtpFile;
use super::session::{SessionMedia, peer};
use crate::rtc::{MediaState, PeerEvent};
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::peer_connection::PeerConnection;

/// Errors talking to Janus.
#[derive(Debug, thiserror::Error)]
pub enum JanusError {
    #[error("http: {0}")]
    Http(#[from] reqwest::Error),
    #[error("webrtc: {0}")]
    Webrtc(#[from] webrtc::error::Error),
    #[error("not JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("janus refused {what}: {reply}")]
    Refused { what: &'static str, reply: String },
    #[error("no answer from janus within {0:?}")]
    NoAnswer(Duration),
}

/// Longest wait for the answer to a `join`.
const ANSWER_WAIT: Duration = Duration::from_secs(10);

/// Janus's HTTP API at `http://{addr}/janus`.
#[derive(Clone)]
pub struct JanusApi {
    addr: SocketAddr,
    http: reqwest::Client,
}

impl JanusApi {
    pub fn new(addr: SocketAddr) -> Self {
        Self { addr, http: reqwest::Client::new() }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}/janus{path}", self.addr)
    }

    /// POSTs `body` (a transaction id added) to `path`; the reply unless it is an error.
    async fn post(&self, path: &str, mut body: Value, what: &'static str) -> Result<Value, JanusError> {
        body["transaction"] = json!(rand::random::<u64>().to_string());
        let sent = self.http.post(self.url(path)).header("content-type", "application/json").body(body.to_string()).send().await?;
        let reply: Value = serde_json::from_slice(&sent.bytes().await?)?;
        if refused(&reply) {
            return Err(JanusError::Refused { what, reply: reply.to_string() });
        }
        Ok(reply)
    }

    /// Whether Janus answers `GET /janus/info`.
    pub async fn ready(&self) -> bool {
        self.http.get(self.url("/info")).send().await.is_ok_and(|r| r.status().is_success())
    }

    /// A new session and a handle on the AudioBridge plugin in it.
    async fn handle(&self) -> Result<(u64, u64), JanusError> {
        let s = id_of(self.post("", json!({"janus": "create"}), "create").await?, "create")?;
        let attach = json!({"janus": "attach", "plugin": "janus.plugin.audiobridge"});
        let h = id_of(self.post(&format!("/{s}"), attach, "attach").await?, "attach")?;
        Ok((s, h))
    }

    /// Creates AudioBridge room `room` with the plugin's defaults.
    pub async fn create_room(&self, room: u64) -> Result<(), JanusError> {
        let (s, h) = self.handle().await?;
        self.post(&format!("/{s}/{h}"), json!({"janus": "message", "body": {"request": "create", "room": room}}), "create room").await?;
        self.post(&format!("/{s}"), json!({"janus": "destroy"}), "destroy").await?;
        Ok(())
    }

    /// The next events of session `s` (a long poll of up to 30 s).
    async fn events(&self, s: u64) -> Result<Vec<Value>, JanusError> {
        let got = self.http.get(self.url(&format!("/{s}?maxev=10"))).send().await?;
        let v: Value = serde_json::from_slice(&got.bytes().await?)?;
        Ok(match v {
            Value::Array(list) => list,
            one => vec![one],
        })
    }
}

/// Whether a reply or an event says no: a Janus error, or the plugin's.
fn refused(v: &Value) -> bool {
    v["janus"] == "error" || v["plugindata"]["data"]["error_code"].is_number()
}

fn id_of(reply: Value, what: &'static str) -> Result<u64, JanusError> {
    reply["data"]["id"].as_u64().ok_or_else(|| JanusError::Refused { what, reply: reply.to_string() })
}

/// The Opus encoder AudioBridge runs for a participant's mix, when not its defaults: its
/// `quality` (libopus complexity) and `bitrate` join parameters.
#[derive(Debug, Clone, Copy)]
pub struct OpusSettings {
    pub complexity: u8,
    pub bitrate_bps: u32,
}

/// One AudioBridge participant.
pub struct JanusPeer {
    api: JanusApi,
    session: u64,
    pc: Arc<dyn PeerConnection>,
    connected: watch::Receiver<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl JanusPeer {
    /// Joins AudioBridge `room` as `name` and sends `tone` (the load generator's Opus file)
    /// once connected; its mix is encoded with `opus` (or the plugin's defaults).
    pub async fn join(
        api: &JanusApi,
        room: u64,
        name: &str,
        tone: Arc<RtpFile>,
        opus: Option<OpusSettings>,
    ) -> Result<JanusPeer, JanusError> {
        let (s, h) = api.handle().await?;
        let (pc, mut events) = peer(api.addr, SessionMedia { video: None, audio: true, receive_video: false }).await?;
        let ssrc = rand::random::<u32>();
        let track =
            crate::rtc::local_rtp_track(format!("janus-{name}"), "mic".into(), RtpCodecKind::Audio, crate::rtc::audio_codec(), ssrc);
        pc.add_track(track.clone() as Arc<dyn TrackLocal>).await?;
        let offer = pc.create_offer(None).await?;
        pc.set_local_description(offer).await?;
        let sdp = pc.local_description().await.map(|d| d.sdp).unwrap_or_default();
        let mut join = json!({"request": "join", "room": room, "display": name});
        if let Some(OpusSettings { complexity, bitrate_bps }) = opus {
            join["quality"] = json!(complexity);
            join["bitrate"] = json!(bitrate_bps);
        }
        let body = json!({"janus": "message", "body": join, "jsep": {"type": "offer", "sdp": sdp}});
        api.post(&format!("/{s}/{h}"), body, "join").await?;
        let answer = tokio::time::timeout(ANSWER_WAIT, async {
            loop {
                for ev in api.events(s).await? {
                    if let Some(sdp) = ev["jsep"]["sdp"].as_str() {
                        return Ok::<String, JanusError>(sdp.to_owned());
                    }
                    if refused(&ev) {
                        return Err(JanusError::Refused { what: "join", reply: ev.to_string() });
                    }
                }
            }
        })
        .await
        .map_err(|_| JanusError::NoAnswer(ANSWER_WAIT))??;
        pc.set_remote_description(RTCSessionDescription::answer(answer)?).await?;

        let (connected_tx, connected) = watch::channel(false);
        let driver = {
            let (api, path) = (api.clone(), format!("/{s}/{h}"));
            tokio::spawn(async move {
                while let Some(ev) = events.recv().await {
                    match ev {
                        PeerEvent::LocalCandidate(c) => {
                            let candidate = json!({"candidate": c.candidate, "sdpMid": c.sdp_mid, "sdpMLineIndex": c.sdp_m_line_index});
                            let _ = api.post(&path, json!({"janus": "trickle", "candidate": candidate}), "trickle").await;
                        }
                        PeerEvent::State(st) => {
                            connected_tx.send_replace(st == MediaState::Connected);
                        }
                        PeerEvent::Track(t) => {
                            // The mix is read and dropped, as the load generator's receivers count it.
                            let t = t.into_remote();
                            tokio::spawn(async move { while t.poll().await.is_some() {} });
                        }
                        PeerEvent::DataChannel(_) | PeerEvent::VideoQuality(_) => {}
                    }
                }
            })
        };
        // Long polls keep the session alive (Janus ends a session silent for 60 s).
        let keepalive = {
            let api = api.clone();
            tokio::spawn(async move { while api.events(s).await.is_ok() {} })
        };
        let sender = tokio::spawn(super::run::send_looped(track, ssrc, crate::rtc::PT_OPUS, tone, connected.clone()));
        Ok(JanusPeer { api: api.clone(), session: s, pc, connected, tasks: vec![driver, keepalive, sender] })
    }

    /// Whether the peer connection is connected (ICE and DTLS done).
    pub fn connected(&self) -> bool {
        *self.connected.borrow()
    }

    /// Closes the peer connection, ends the Janus session and stops every task.
    pub async fn close(self) {
        let _ = self.pc.close().await;
        let _ = self.api.post(&format!("/{}", self.session), json!({"janus": "destroy"}), "destroy").await;
        for t in self.tasks {
            t.abort();
            let _ = t.await;
        }
    }
}
