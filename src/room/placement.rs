//! Where a room runs: here, on another node of the cluster, or nowhere yet; and draining.
//!
//! In a cluster (`redis_url` set) a room is only a record in the shared store until it opens:
//! the first join, a call that needs its actor, or its start time places it
//! ([`Rooms::route`], [`Rooms::run_placement`]) through [`ClusterNode::decide`], and the node
//! that takes its lease runs its actor ([`Rooms::adopt`]) until it ends. A single node routes
//! every room here.
//!
//! Invariants: a room's actor runs on a node only while that node holds its lease (the guard
//! lives in the actor; losing the lease stops the actor); at most one actor per room per node
//! (the registry is checked under its lock before spawning).

use super::{CreateError, Lookup, RoomHandle, Rooms};
use crate::cluster::lease::Lease;
use crate::cluster::node::{ClusterNode, Decision, PlaceError};
use crate::cluster::registry;
use crate::records::room::{RoomSpec, RoomState};
use crate::store::StoreError;
use crate::time::now_unix;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often every node looks for rooms that should be open but run nowhere.
const PLACEMENT_EVERY: Duration = Duration::from_secs(1);
/// Dead nodes' recordings are looked for every this many rounds (a `SCAN` of Redis' keys).
const ORPHANS_EVERY_ROUNDS: u64 = 5;

/// Where to serve a room.
pub enum Route {
    Local(RoomHandle),
    /// Another node runs it (or was chosen for it): its base URL.
    Remote(String),
    Ended(RoomSpec),
    NotFound,
}

/// Why a room could not be routed.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Place(#[from] PlaceError),
}

impl Rooms {
    pub fn cluster(&self) -> Option<&Arc<ClusterNode>> {
        self.ctx.cluster.as_ref()
    }

    /// Take no new rooms from now on; live ones continue.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
        if let Some(c) = &self.ctx.cluster {
            c.set_draining();
        }
    }

    /// Resolves when no call runs here any more: nobody is in any room (polled; calls end
    /// seldom). Rooms left then (empty, or scheduled) are not ended by the shutdown: a single
    /// node restores them at its next start, and a cluster places them on another node.
    pub async fn drained(&self) {
        while self.participants() > 0 {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Participants in this node's live rooms.
    pub fn participants(&self) -> usize {
        self.map.lock().values().map(RoomHandle::participant_count).sum()
    }

    /// Rooms this node may hold at once.
    pub fn capacity(&self) -> usize {
        self.max_rooms
    }

    /// A new room must fit somewhere: some live node has a free place.
    pub(super) async fn check_cluster_capacity(&self, cluster: &ClusterNode) -> Result<(), CreateError> {
        let nodes = cluster.live_nodes().await.map_err(PlaceError::from)?;
        if registry::least_loaded(&nodes).is_none() {
            // No node announced at all: Redis came back moments ago, not a full cluster.
            return Err(if nodes.is_empty() { PlaceError::Settling } else { PlaceError::Full }.into());
        }
        Ok(())
    }

    /// Where `id` is served; in a cluster this places the room if it runs nowhere yet. `hop`:
    /// another node chose this one for it (see [`ClusterNode::decide`]).
    pub async fn route(&self, id: &str, hop: bool) -> Result<Route, RouteError> {
        let (cluster, spec) = match (&self.ctx.cluster, self.lookup(id).await?) {
            (_, Lookup::Live(h)) => return Ok(Route::Local(h)),
            (_, Lookup::Ended(spec)) => return Ok(Route::Ended(spec)),
            (_, Lookup::NotFound) | (None, Lookup::Elsewhere(_)) => return Ok(Route::NotFound),
            (Some(c), Lookup::Elsewhere(spec)) => (c.clone(), spec),
        };
        match Box::pin(cluster.decide(id, hop)).await? {
            Decision::Here(lease) => Ok(Route::Local(Box::pin(self.adopt(&cluster, spec, lease)).await)),
            Decision::There { url, .. } => Ok(Route::Remote(url)),
        }
    }

    /// Where `id` runs now, without placing it: the owner's URL when another live node runs it.
    /// A read never takes a lease: a room whose lease names a node that is gone is answered
    /// here from the store, and placed by the next call that needs it.
    pub async fn owner_url(&self, id: &str) -> Result<Option<String>, RouteError> {
        let Some(cluster) = &self.ctx.cluster else { return Ok(None) };
        if self.get(id).is_some() {
            return Ok(None);
        }
        match cluster.owner(id).await.map_err(PlaceError::from)? {
            Some(lease) if lease.node != cluster.id() => Ok(cluster.url_of(&lease.node).await.map_err(PlaceError::from)?),
            _ => Ok(None),
        }
    }

    /// Runs `spec` here under `lease` (or returns the actor already running it).
    async fn adopt(&self, cluster: &Arc<ClusterNode>, spec: RoomSpec, lease: Lease) -> RoomHandle {
        // One adoption at a time on this node: two joins racing in must not start two actors
        // (nor two guards, whose second would release the lease the first still uses).
        let _one = self.adopting.lock().await;
        if let Some(h) = self.get(&spec.id) {
            return h;
        }
        // Opening is announced once cluster-wide; a room moving after its node died is not new.
        let first = match cluster.first_open(&spec.id).await {
            Ok(first) => first,
            Err(e) => {
                tracing::warn!(room = %spec.id, error = %e, "cluster: could not mark the room opened");
                false
            }
        };
        let guard = cluster.hold(lease);
        cluster.load_changed();
        tracing::info!(room = %spec.id, node = %cluster.id(), first, "cluster: room placed here");
        // `restored`: an open room that opened elsewhere before does not announce itself again.
        let opened_before = !first && spec.state(now_unix()) == RoomState::Open;
        self.spawn_with(spec, opened_before, Some(guard))
    }

    /// Every [`PLACEMENT_EVERY`]: rooms that are open by their schedule but run on no node are
    /// taken by the least-loaded node (each node checks; the lease lets one win), so a
    /// scheduled room opens on time and a dead node's rooms come back without waiting for a
    /// join.
    pub async fn run_placement(self, cancel: CancellationToken) {
        let Some(cluster) = self.ctx.cluster.clone() else { return };
        let mut tick = tokio::time::interval(PLACEMENT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut round = 0u64;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tick.tick() => {}
            }
            if self.draining() {
                continue;
            }
            round += 1;
            if round.is_multiple_of(ORPHANS_EVERY_ROUNDS)
                && let Err(e) = self.interrupt_orphaned_recordings(&cluster).await
            {
                tracing::debug!(error = %e, "cluster: looking for dead nodes' recordings failed");
            }
            if let Err(e) = self.place_due(&cluster).await {
                tracing::debug!(error = %e, "cluster: placement round failed");
            }
        }
    }

    /// Recordings of nodes that are no longer live are marked `interrupted` (by the one node
    /// whose turn it is to place rooms, so normally once).
    async fn interrupt_orphaned_recordings(&self, cluster: &Arc<ClusterNode>) -> Result<(), RouteError> {
        let writers = self.ctx.store.recording_nodes().await?;
        if writers.iter().all(|n| n == cluster.id()) {
            return Ok(());
        }
        let nodes = cluster.live_nodes().await.map_err(PlaceError::from)?;
        if registry::least_loaded(&nodes).map(|n| n.id.as_str()) != Some(cluster.id()) {
            return Ok(());
        }
        for dead in writers.iter().filter(|w| !nodes.iter().any(|n| &n.id == *w)) {
            crate::egress::recording::interrupt_orphans(&self.ctx.egress, dead).await?;
        }
        Ok(())
    }

    async fn place_due(&self, cluster: &Arc<ClusterNode>) -> Result<(), RouteError> {
        let now = now_unix();
        let due: Vec<RoomSpec> = self
            .ctx
            .store
            .unfinished_rooms()
            .await?
            .into_iter()
            .filter(|s| s.state(now) == RoomState::Open && self.get(&s.id).is_none())
            .collect();
        if due.is_empty() {
            return Ok(());
        }
        let nodes = cluster.live_nodes().await.map_err(PlaceError::from)?;
        if registry::least_loaded(&nodes).map(|n| n.id.as_str()) != Some(cluster.id()) {
            return Ok(());
        }
        for spec in due {
            if cluster.owner(&spec.id).await.map_err(PlaceError::from)?.is_some() {
                continue;
            }
            // A room that ran somewhere may be re-asserted by its node after a Redis restart.
            if !cluster.may_place(&spec.id).await.map_err(PlaceError::from)? {
                continue;
            }
            if let Some(lease) = cluster.try_take(&spec.id).await.map_err(PlaceError::from)? {
                // Read again under the lease: it may have ended meanwhile.
                match self.ctx.store.get_room(&spec.id).await? {
                    Some(fresh) if fresh.ended_at.is_none() => {
                        self.adopt(cluster, fresh, lease).await;
                        // One room per round: the next round sees this node's new load, and
                        // so do the others, so rooms opening together spread out.
                        return Ok(());
                    }
                    _ => drop(cluster.hold(lease)),
                }
            }
        }
        Ok(())
    }
}
