//! Rooms: the registry, a [`RoomHandle`] per room driving one actor task ([`actor`]) that owns
//! the participants list and the media, and one task per participant ([`participant`]).
//!
//! Cancellation flows server → room → participant through child `CancellationToken`s; dropping
//! every handle of a room also stops its actor.

pub mod actor;
pub mod layout;
pub mod participant;
mod time;

use crate::config::CompositeConfig;
use crate::media::audio::AudioInput;
use crate::media::pipelines::Pipelines;
use crate::media::video::VideoSubscription;
use crate::media::{VideoCodec, VideoIngest};
use crate::protocol::{LeaveReason, ParticipantInfo};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

pub use time::rfc3339;

/// Live-object counters, for `/healthz` and leak tests.
#[derive(Debug, Default)]
pub struct Stats {
    pub participant_tasks: AtomicUsize,
    pub peer_connections: AtomicUsize,
    pub room_media: AtomicUsize,
}

/// Increments a counter and decrements it when dropped.
pub struct CountGuard(Arc<Stats>, fn(&Stats) -> &AtomicUsize);

impl CountGuard {
    pub fn new(stats: &Arc<Stats>, field: fn(&Stats) -> &AtomicUsize) -> Self {
        field(stats).fetch_add(1, Ordering::SeqCst);
        Self(stats.clone(), field)
    }
}

impl Drop for CountGuard {
    fn drop(&mut self) {
        (self.1)(&self.0).fetch_sub(1, Ordering::SeqCst);
    }
}

/// Something the room tells a participant.
#[derive(Debug, Clone)]
pub enum RoomEvent {
    Joined(ParticipantInfo),
    Left {
        id: String,
        reason: LeaveReason,
    },
    Ended {
        reason: String,
    },
    /// The room's media failed for this participant or everyone; shown to the user.
    MediaError {
        message: String,
    },
}

/// Why a join was refused.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error("the room is full ({0} participants)")]
    Full(usize),
    #[error("the room has ended")]
    Gone,
    #[error("the room's media could not start: {0}")]
    Media(String),
}

/// Errors of media requests a participant makes of its room.
#[derive(Debug, thiserror::Error)]
pub enum RoomMediaError {
    #[error("the room has ended")]
    Gone,
    #[error("participant is not in the room")]
    NotJoined,
    #[error(transparent)]
    Media(#[from] crate::media::MediaError),
    #[error(transparent)]
    Audio(#[from] crate::media::audio::AudioError),
}

/// Accepted join.
pub struct Joined {
    pub participant_id: String,
    pub participants: Vec<ParticipantInfo>,
    pub events: mpsc::UnboundedReceiver<RoomEvent>,
    pub cancel: CancellationToken,
}

/// Media counts reported by a room (leak tests compare them).
#[derive(Debug, Clone, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct MediaStats {
    pub elements: usize,
    pub tiles: usize,
    pub encoders: usize,
    pub audio_inputs: usize,
    pub audio_outputs: usize,
}

/// Snapshot of a room.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomInfo {
    pub id: String,
    pub name: String,
    pub created_at: String,
    pub participants: Vec<ParticipantInfo>,
    pub media: Option<MediaStats>,
}

pub(crate) enum Command {
    Join { name: String, reply: oneshot::Sender<Result<Joined, JoinError>> },
    Leave { id: String, reason: LeaveReason },
    AttachVideo { id: String, codec: VideoCodec, payload_type: u8, reply: oneshot::Sender<Result<VideoIngest, RoomMediaError>> },
    DetachVideo { id: String },
    AttachAudio { id: String, reply: oneshot::Sender<Result<AudioInput, RoomMediaError>> },
    SubscribeVideo { id: String, codec: VideoCodec, reply: oneshot::Sender<Result<VideoSubscription, RoomMediaError>> },
    SubscribeAudio { id: String, reply: oneshot::Sender<Result<mpsc::Receiver<Bytes>, RoomMediaError>> },
    Info { reply: oneshot::Sender<RoomInfo> },
}

/// A cheap, clonable handle to a room's actor.
#[derive(Clone)]
pub struct RoomHandle {
    pub id: String,
    pub name: String,
    pub created_at: String,
    tx: mpsc::Sender<Command>,
}

impl RoomHandle {
    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Option<T> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(make(reply)).await.ok()?;
        rx.await.ok()
    }

    pub async fn join(&self, name: String) -> Result<Joined, JoinError> {
        self.ask(|reply| Command::Join { name, reply }).await.unwrap_or(Err(JoinError::Gone))
    }

    pub async fn leave(&self, id: &str, reason: LeaveReason) {
        let _ = self.tx.send(Command::Leave { id: id.into(), reason }).await;
    }

    pub async fn attach_video(&self, id: &str, codec: VideoCodec, payload_type: u8) -> Result<VideoIngest, RoomMediaError> {
        self.ask(|reply| Command::AttachVideo { id: id.into(), codec, payload_type, reply }).await.unwrap_or(Err(RoomMediaError::Gone))
    }

    pub async fn detach_video(&self, id: &str) {
        let _ = self.tx.send(Command::DetachVideo { id: id.into() }).await;
    }

    pub async fn attach_audio(&self, id: &str) -> Result<AudioInput, RoomMediaError> {
        self.ask(|reply| Command::AttachAudio { id: id.into(), reply }).await.unwrap_or(Err(RoomMediaError::Gone))
    }

    pub async fn subscribe_video(&self, id: &str, codec: VideoCodec) -> Result<VideoSubscription, RoomMediaError> {
        self.ask(|reply| Command::SubscribeVideo { id: id.into(), codec, reply }).await.unwrap_or(Err(RoomMediaError::Gone))
    }

    pub async fn subscribe_audio(&self, id: &str) -> Result<mpsc::Receiver<Bytes>, RoomMediaError> {
        self.ask(|reply| Command::SubscribeAudio { id: id.into(), reply }).await.unwrap_or(Err(RoomMediaError::Gone))
    }

    pub async fn info(&self) -> Option<RoomInfo> {
        self.ask(|reply| Command::Info { reply }).await
    }
}

/// What every room is built with.
#[derive(Clone)]
pub struct RoomContext {
    pub pipelines: Arc<Pipelines>,
    pub composite: CompositeConfig,
    pub max_participants: usize,
    pub stats: Arc<Stats>,
}

/// All rooms of the server.
#[derive(Clone)]
pub struct Rooms {
    map: Arc<Mutex<HashMap<String, RoomHandle>>>,
    ctx: RoomContext,
    cancel: CancellationToken,
}

impl Rooms {
    pub fn new(ctx: RoomContext, cancel: CancellationToken) -> Self {
        Self { map: Arc::default(), ctx, cancel }
    }

    pub fn stats(&self) -> &Arc<Stats> {
        &self.ctx.stats
    }

    /// Creates a room and starts its actor.
    pub fn create(&self, name: Option<String>) -> RoomHandle {
        let id = crate::ids::room_id();
        let name = name.unwrap_or_else(|| format!("Room {}", &id[..6]));
        let (tx, rx) = mpsc::channel(256);
        let handle = RoomHandle { id: id.clone(), name, created_at: rfc3339(std::time::SystemTime::now()), tx };
        actor::spawn(handle.clone(), rx, self.ctx.clone(), self.cancel.child_token());
        if let Ok(mut m) = self.map.lock() {
            m.insert(id, handle.clone());
        }
        handle
    }

    pub fn get(&self, id: &str) -> Option<RoomHandle> {
        self.map.lock().ok()?.get(id).cloned()
    }

    pub fn len(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
