//! The registry of this node's live rooms ([`Rooms`]): creating, restoring and looking rooms up,
//! and what every room is built with ([`RoomContext`]).
//!
//! Invariants: a room is in the registry exactly while its actor runs (the actor removes itself
//! when it stops); the registry's lock is never held across an `.await`.

use super::{RoomHandle, Stats, actor, files};
use crate::media::pipelines::Pipelines;
use crate::records::room::RoomSpec;
use crate::records::settings::Rules;
use crate::store::{RoomFilter, Store, StoreError};
use crate::time::now_unix;
use crate::webhook::Webhooks;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// What every room is built with.
#[derive(Clone)]
pub struct RoomContext {
    pub pipelines: Arc<Pipelines>,
    pub stats: Arc<Stats>,
    pub store: Store,
    pub webhooks: Webhooks,
    pub egress: crate::egress::EgressContext,
    /// How long before `startsAt` joining is allowed, seconds.
    pub early_join_seconds: i64,
    /// The server's own `max_participants` (a room's is at most this).
    pub max_participants: u32,
    /// Voices mixed at once (config `max_mixed_voices`).
    pub max_mixed_voices: usize,
    /// WHEP viewers of one room at once (config `max_viewers_per_room`).
    pub max_viewers_per_room: usize,
    /// File sharing's folder and limits.
    pub files: files::FileLimits,
    /// Cluster mode: this node's membership (rooms are placed through it).
    pub cluster: Option<Arc<crate::cluster::node::ClusterNode>>,
}

/// Why a room could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("{0}")]
    Invalid(String),
    #[error("the server already holds its maximum of {0} scheduled or open rooms")]
    TooMany(usize),
    #[error("the room could not be saved")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Place(#[from] crate::cluster::node::PlaceError),
}

/// A room looked up by id.
pub enum Lookup {
    Live(RoomHandle),
    Ended(RoomSpec),
    /// Cluster mode: not ended, and not running on this node (on another, or on none yet).
    Elsewhere(RoomSpec),
    NotFound,
}

/// All rooms of the server.
#[derive(Clone)]
pub struct Rooms {
    pub(super) map: Arc<Mutex<HashMap<String, RoomHandle>>>,
    pub(super) ctx: RoomContext,
    pub(super) max_rooms: usize,
    cancel: CancellationToken,
    /// Taking no new rooms (SIGTERM): live ones run until they end.
    pub(super) draining: Arc<std::sync::atomic::AtomicBool>,
    /// Serialises cluster adoptions (`placement.rs`).
    pub(super) adopting: Arc<tokio::sync::Mutex<()>>,
}

impl Rooms {
    pub fn new(ctx: RoomContext, max_rooms: usize, cancel: CancellationToken) -> Self {
        Self { map: Arc::default(), ctx, max_rooms, cancel, draining: Arc::default(), adopting: Arc::default() }
    }

    pub fn stats(&self) -> &Arc<Stats> {
        &self.ctx.stats
    }

    pub fn store(&self) -> &Store {
        &self.ctx.store
    }

    pub fn egress(&self) -> &crate::egress::EgressContext {
        &self.ctx.egress
    }

    pub fn egress_counts(&self) -> Arc<crate::egress::Counts> {
        self.ctx.egress.counts.clone()
    }

    fn spawn(&self, spec: RoomSpec, restored: bool) -> RoomHandle {
        self.spawn_with(spec, restored, None)
    }

    pub(super) fn spawn_with(&self, spec: RoomSpec, restored: bool, lease: Option<crate::cluster::node::LeaseGuard>) -> RoomHandle {
        let (tx, rx) = mpsc::channel(256);
        let handle = RoomHandle { id: spec.id.clone(), tx, present: Arc::default(), public: Arc::new(spec.settings.public.into()) };
        self.map.lock().insert(spec.id.clone(), handle.clone());
        let cancel = self.cancel.child_token();
        if let Some(lost) = lease.as_ref().map(|l| l.lost()) {
            // Another node holds the room now: it stops here (its clients reconnect there).
            let stop = cancel.clone();
            tokio::spawn(async move {
                tokio::select! {
                    _ = lost.cancelled() => stop.cancel(),
                    _ = stop.cancelled() => {}
                }
            });
        }
        actor::spawn(actor::Start { spec, handle: handle.clone(), rx, rooms: self.clone(), cancel, restored, lease });
        handle
    }

    /// Validates, stores and starts a new room.
    /// The handle is `None` in cluster mode, where the room is placed on a node when it opens.
    pub async fn create(&self, spec: RoomSpec) -> Result<Option<RoomHandle>, CreateError> {
        let rules = Rules { now: now_unix(), server_max_participants: self.ctx.max_participants, layouts: &self.ctx.pipelines.layouts };
        spec.settings.check(None, false, &rules).map_err(CreateError::Invalid)?;
        if let Some(cluster) = &self.ctx.cluster {
            // Placed when it opens (first join or its start), on whichever node is then least
            // loaded; refused now if no node could take it.
            self.check_cluster_capacity(cluster).await?;
            self.ctx.store.insert_room(&spec).await?;
            return Ok(None);
        }
        if self.draining() {
            return Err(CreateError::Place(crate::cluster::node::PlaceError::Draining));
        }
        if self.len() >= self.max_rooms {
            return Err(CreateError::TooMany(self.max_rooms));
        }
        self.ctx.store.insert_room(&spec).await?;
        Ok(Some(self.spawn(spec, false)))
    }

    /// Starts an actor for every stored room that has not ended (at server start). Rooms that
    /// were open when the server stopped reopen, with their empty timeout counted from now.
    pub async fn restore(&self) -> Result<usize, StoreError> {
        if self.ctx.cluster.is_some() {
            // A cluster places its rooms as they open (`placement.rs`), on any node.
            return Ok(0);
        }
        let rooms = self.ctx.store.unfinished_rooms().await?;
        let n = rooms.len();
        for spec in rooms {
            self.spawn(spec, true);
        }
        Ok(n)
    }

    /// The live room `id`.
    pub fn get(&self, id: &str) -> Option<RoomHandle> {
        self.map.lock().get(id).cloned()
    }

    /// The room `id`, live or ended.
    pub async fn lookup(&self, id: &str) -> Result<Lookup, StoreError> {
        if let Some(h) = self.get(id) {
            return Ok(Lookup::Live(h));
        }
        Ok(match self.ctx.store.get_room(id).await? {
            Some(spec) if spec.ended_at.is_some() => Lookup::Ended(spec),
            Some(spec) if self.ctx.cluster.is_some() => Lookup::Elsewhere(spec),
            // Stored but not live: it ended in the instant between the two reads, or the actor
            // is being restored; either way there is no room to use.
            Some(_) | None => Lookup::NotFound,
        })
    }

    /// A page of rooms from the store, each with its live participant count.
    pub async fn list(&self, filter: &RoomFilter) -> Result<(Vec<(RoomSpec, usize)>, u64), StoreError> {
        let (specs, total) = self.ctx.store.list_rooms(filter, now_unix()).await?;
        let map = self.map.lock();
        let present = |id: &str| map.get(id).map(RoomHandle::participant_count).unwrap_or(0);
        let rooms = specs
            .into_iter()
            .map(|s| {
                let n = present(&s.id);
                (s, n)
            })
            .collect();
        drop(map);
        Ok((rooms, total))
    }

    /// Called by a room's actor when it stops.
    pub(super) fn remove(&self, id: &str) {
        self.map.lock().remove(id);
        if let Some(c) = &self.ctx.cluster {
            c.load_changed();
        }
    }

    /// Live rooms (scheduled or open).
    pub fn len(&self) -> usize {
        self.map.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
