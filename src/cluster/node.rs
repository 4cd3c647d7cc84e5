//! This node's part in the cluster: its announcements, where a room should live, and the
//! leases it holds on the rooms it runs.
//!
//! Placement ([`ClusterNode::decide`]): a room with a live owner stays there; an unowned room
//! goes to the least-loaded live node with a free place ([`registry::least_loaded`]). Only a
//! node ever takes a lease for itself, so the chosen node takes it when the request reaches it
//! (`hop`), and of nodes racing for one room exactly one wins the Lua script; the losers follow
//! the winner.
//!
//! Invariants: a held lease is renewed every [`RENEW_EVERY`] for [`LEASE_TTL`]; while Redis
//! cannot be reached the room keeps running (its lease cannot be taken by anyone who cannot
//! reach Redis either); if the lease turns out to be another node's, [`LeaseGuard::lost`] is
//! cancelled and the room here must stop. Dropping a guard releases its lease.

use super::ClusterError;
use super::lease::{self, Lease};
use super::registry::{self, NodeInfo};
use redis::aio::ConnectionManager;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// How long a lease lasts without renewal: a dead owner's rooms are free again after this.
pub const LEASE_TTL: Duration = Duration::from_secs(6);
pub const RENEW_EVERY: Duration = Duration::from_secs(2);
/// How soon a lease that could not be renewed is tried again (Redis away): its owner takes it
/// back within this of Redis returning, well inside [`SETTLE`].
const RETRY_EVERY: Duration = Duration::from_millis(250);
/// How long this node must have reached Redis without a failure before it takes a room that
/// ran somewhere before and has no live lease: after a Redis restart (an outage longer than
/// [`LEASE_TTL`] lets every lease expire) the nodes running those rooms re-assert their leases
/// and re-announce themselves first.
pub const SETTLE: Duration = LEASE_TTL;

/// Where a room should be served from.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// This node holds (just took, or already held) the room's lease.
    Here(Lease),
    /// Another live node owns it, or was chosen for it: forward there.
    There { node: String, url: String },
}

/// Why no node can take a room now.
#[derive(Debug, thiserror::Error)]
pub enum PlaceError {
    #[error("every node of the cluster is full or draining")]
    Full,
    #[error("the room's node {0} stopped answering; it moves to another node within a few seconds")]
    OwnerGone(String),
    #[error("this node is draining and takes no new rooms")]
    Draining,
    #[error("the cluster's redis cannot be reached: {0}")]
    Unavailable(#[from] ClusterError),
    /// Redis came back moments ago (or this node just started): until the nodes have re-asserted
    /// their leases and re-announced, a room that ran somewhere is not placed again, and a
    /// cluster with no announced node is not "full".
    #[error("the cluster is settling after its redis came back; try again in a few seconds")]
    Settling,
}

/// This node as a member of the cluster.
pub struct ClusterNode {
    conn: ConnectionManager,
    id: String,
    url: String,
    draining: AtomicBool,
    /// Whether the last announcement reached Redis (for `/healthz`).
    announced: AtomicBool,
    /// Since when every Redis call of this node succeeded (`None`: the last one failed).
    reachable_since: parking_lot::Mutex<Option<Instant>>,
    /// A Redis call of this node has failed since it started.
    ever_failed: AtomicBool,
    /// Redis had been up for [`SETTLE`] when this node started (so its leases are not ones a
    /// restart just forgot).
    redis_settled_at_start: AtomicBool,
    /// The leases this node holds now, by room (released all at once when it exits).
    held: parking_lot::Mutex<HashMap<String, Lease>>,
    /// Wakes the announcer at once (a room was placed here: the others must see the load).
    announce_now: tokio::sync::Notify,
}

impl ClusterNode {
    pub fn new(conn: ConnectionManager, id: &str, url: &str) -> Arc<Self> {
        Arc::new(Self {
            conn,
            id: id.to_owned(),
            url: url.trim_end_matches('/').to_owned(),
            draining: AtomicBool::new(false),
            announced: AtomicBool::new(false),
            reachable_since: parking_lot::Mutex::new(None),
            ever_failed: AtomicBool::new(false),
            redis_settled_at_start: AtomicBool::new(false),
            held: parking_lot::Mutex::default(),
            announce_now: tokio::sync::Notify::new(),
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn set_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
        self.announce_now.notify_one();
    }

    /// This node's load changed (a room was placed here or ended): announce it now.
    pub fn load_changed(&self) {
        self.announce_now.notify_one();
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Whether the last announcement reached Redis.
    pub fn is_connected(&self) -> bool {
        self.announced.load(Ordering::SeqCst)
    }

    /// Records whether a call to Redis succeeded (see [`ClusterNode::settled`]).
    fn reached_redis(&self, ok: bool) {
        let mut since = self.reachable_since.lock();
        match (ok, *since) {
            (true, None) => *since = Some(Instant::now()),
            (false, _) => {
                *since = None;
                self.ever_failed.store(true, Ordering::SeqCst);
            }
            (true, Some(_)) => {}
        }
    }

    /// Whether this node has reached Redis without a failure for [`SETTLE`] (or, since it
    /// started, never failed to reach a Redis that had been up that long already): only then
    /// does it place again a room that ran somewhere before and has no lease (its node may be
    /// about to re-assert the lease a Redis restart lost).
    pub fn settled(&self) -> bool {
        let fresh_and_steady = !self.ever_failed.load(Ordering::SeqCst) && self.redis_settled_at_start.load(Ordering::SeqCst);
        self.reachable_since.lock().is_some_and(|t| fresh_and_steady || t.elapsed() >= SETTLE)
    }

    /// Reads how long Redis has been up, once at start (see [`ClusterNode::settled`]).
    async fn check_redis_uptime(&self) {
        let info: Result<String, _> = redis::cmd("INFO").arg("server").query_async(&mut self.conn.clone()).await;
        let uptime =
            info.ok().and_then(|i| i.lines().find_map(|l| l.strip_prefix("uptime_in_seconds:")).and_then(|v| v.trim().parse::<u64>().ok()));
        self.redis_settled_at_start.store(uptime.is_some_and(|u| u >= SETTLE.as_secs()), Ordering::SeqCst);
    }

    /// Whether `room` has opened on some node before (it may be running somewhere).
    async fn has_opened(&self, room: &str) -> Result<bool, ClusterError> {
        let n: i64 = redis::cmd("EXISTS").arg(format!("tessera:room:{room}:opened")).query_async(&mut self.conn.clone()).await?;
        Ok(n == 1)
    }

    /// Whether this node may place `room` now: always once settled; before that, only a room
    /// that never ran.
    pub async fn may_place(&self, room: &str) -> Result<bool, ClusterError> {
        Ok(self.settled() || !self.has_opened(room).await?)
    }

    /// Announces this node (with `load()`'s rooms, participants and capacity, and its CPU)
    /// every [`registry::ANNOUNCE_EVERY`] and whenever its load changes, until `cancel`, then
    /// withdraws it.
    pub async fn run_announcer(self: Arc<Self>, load: impl Fn() -> (u32, u32, u32) + Send + 'static, cancel: CancellationToken) {
        let mut cpu = CpuMeter::default();
        let info = || {
            let (rooms, participants, capacity) = load();
            let (id, url, draining) = (self.id.clone(), self.url.clone(), self.is_draining());
            NodeInfo { id, url, rooms, participants, cpu: cpu.sample(), capacity, draining }
        };
        self.check_redis_uptime().await;
        let contact = |ok: bool| {
            self.announced.store(ok, Ordering::SeqCst);
            self.reached_redis(ok);
        };
        registry::run_announcer(self.conn.clone(), info, &self.announce_now, &contact, cancel).await;
    }

    pub async fn live_nodes(&self) -> Result<Vec<NodeInfo>, ClusterError> {
        registry::live_nodes(&mut self.conn.clone()).await
    }

    /// The node that owns `room` now, if any.
    pub async fn owner(&self, room: &str) -> Result<Option<Lease>, ClusterError> {
        lease::owner(&mut self.conn.clone(), room).await
    }

    /// Where `room` should be served. `hop`: the request was forwarded here by a node that
    /// chose this one, so this node takes the room itself rather than choosing again.
    pub async fn decide(&self, room: &str, hop: bool) -> Result<Decision, PlaceError> {
        let mut conn = self.conn.clone();
        if let Some(owner) = lease::owner(&mut conn, room).await? {
            match self.follow(owner).await {
                // The holder stopped announcing a whole node TTL ago (killed, or cut off from
                // Redis, where it cannot renew either): its lease is taken back, if unchanged.
                Err(PlaceError::OwnerGone(dead)) => {
                    // Its record may only be missing because Redis restarted: wait until the
                    // nodes have re-announced before calling it dead.
                    if !self.settled() {
                        return Err(PlaceError::Settling);
                    }
                    if let Some(stale) = lease::owner(&mut conn, room).await?.filter(|l| l.node == dead) {
                        lease::release(&mut conn, &stale).await?;
                        tracing::warn!(room, node = %dead, "cluster: the room's node is gone; placing it again");
                    }
                }
                other => return other,
            }
        }
        if !self.may_place(room).await? {
            // A racing join may have placed it meanwhile (it is marked opened once its lease
            // is taken): follow that node; else wait for the cluster to settle.
            return match lease::owner(&mut conn, room).await? {
                Some(owner) => match self.follow(owner).await {
                    Err(PlaceError::OwnerGone(_)) => Err(PlaceError::Settling),
                    other => other,
                },
                None => Err(PlaceError::Settling),
            };
        }
        if self.is_draining() && hop {
            return Err(PlaceError::Draining);
        }
        let target = if hop {
            None
        } else {
            let nodes = registry::live_nodes(&mut conn).await?;
            let best = registry::least_loaded(&nodes).ok_or(if nodes.is_empty() { PlaceError::Settling } else { PlaceError::Full })?;
            if best.id == self.id && self.is_draining() {
                // Its own record is not yet announced as draining: nowhere else has room.
                return Err(PlaceError::Draining);
            }
            (best.id != self.id).then(|| (best.id.clone(), best.url.clone()))
        };
        match target {
            Some((node, url)) => Ok(Decision::There { node, url }),
            None => {
                let got = lease::acquire(&mut conn, room, &self.id, LEASE_TTL).await?;
                self.follow(got).await
            }
        }
    }

    async fn follow(&self, owner: Lease) -> Result<Decision, PlaceError> {
        if owner.node == self.id {
            return Ok(Decision::Here(owner));
        }
        let nodes = self.live_nodes().await?;
        match nodes.into_iter().find(|n| n.id == owner.node) {
            Some(n) => Ok(Decision::There { node: n.id, url: n.url }),
            None => Err(PlaceError::OwnerGone(owner.node)),
        }
    }

    /// Takes `room` for this node if nobody holds it (the scheduler's way in); `None` when
    /// another node does.
    pub async fn try_take(&self, room: &str) -> Result<Option<Lease>, ClusterError> {
        let got = lease::acquire(&mut self.conn.clone(), room, &self.id, LEASE_TTL).await?;
        Ok((got.node == self.id).then_some(got))
    }

    /// True for the first caller only, cluster-wide: the room opens (its `roomStarted`) once.
    pub async fn first_open(&self, room: &str) -> Result<bool, ClusterError> {
        let set: Option<String> = redis::cmd("SET")
            .arg(format!("tessera:room:{room}:opened"))
            .arg(&self.id)
            .arg("NX")
            .arg("EX")
            .arg(30 * 24 * 3600)
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(set.is_some())
    }

    /// Gives up every lease this node holds (it is exiting; its rooms' actors have stopped), so
    /// the other nodes place them at once instead of waiting for the leases to expire.
    pub async fn release_all(&self) {
        let held: Vec<Lease> = self.held.lock().drain().map(|(_, l)| l).collect();
        let mut conn = self.conn.clone();
        for l in held {
            match lease::release(&mut conn, &l).await {
                Ok(_) => tracing::info!(room = %l.room, "cluster: lease released on exit"),
                Err(e) => tracing::warn!(room = %l.room, error = %e, "cluster: lease could not be released (it expires by itself)"),
            }
        }
    }

    /// The URL of live node `id`, if it is live.
    pub async fn url_of(&self, id: &str) -> Result<Option<String>, ClusterError> {
        Ok(self.live_nodes().await?.into_iter().find(|n| n.id == id).map(|n| n.url))
    }

    /// Keeps `lease` renewed until the guard is dropped.
    pub fn hold(self: &Arc<Self>, lease: Lease) -> LeaseGuard {
        let stop = CancellationToken::new();
        let lost = CancellationToken::new();
        let task = keep(self.clone(), lease.clone(), stop.clone(), lost.clone());
        tokio::spawn(task);
        LeaseGuard { stop, lost }
    }
}

/// Renews until `stop`; re-takes a lease Redis forgot (restarted without it, or expired while
/// it was away: tried every [`RETRY_EVERY`] while Redis cannot be reached, so it is taken back
/// before any node has settled enough to place the room elsewhere); cancels `lost` when another
/// node holds the room; releases on stop.
async fn keep(node: Arc<ClusterNode>, mut held: Lease, stop: CancellationToken, lost: CancellationToken) {
    let mut conn = node.conn.clone();
    node.held.lock().insert(held.room.clone(), held.clone());
    let mut wait = RENEW_EVERY;
    let mut failing = false;
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(wait) => {}
        }
        let renewed = match lease::renew(&mut conn, &held, LEASE_TTL).await {
            Ok(true) => Ok(()),
            Ok(false) => match lease::acquire(&mut conn, &held.room, &node.id, LEASE_TTL).await {
                Ok(again) if again.node == node.id => {
                    tracing::info!(room = %held.room, fence = again.fence, "cluster: lease taken again");
                    held = again;
                    node.held.lock().insert(held.room.clone(), held.clone());
                    // Re-announce now: others must see this node live before they settle.
                    node.load_changed();
                    Ok(())
                }
                Ok(other) => {
                    tracing::warn!(room = %held.room, owner = %other.node, "cluster: another node holds this room now; stopping it here");
                    node.held.lock().remove(&held.room);
                    lost.cancel();
                    return;
                }
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        node.reached_redis(renewed.is_ok());
        wait = match renewed {
            Ok(()) => {
                if std::mem::take(&mut failing) {
                    tracing::info!(room = %held.room, "cluster: lease renewed again");
                }
                RENEW_EVERY
            }
            Err(e) => {
                if !std::mem::replace(&mut failing, true) {
                    tracing::warn!(room = %held.room, error = %e, "cluster: lease could not be renewed; retrying");
                }
                RETRY_EVERY
            }
        };
    }
    node.held.lock().remove(&held.room);
    if let Err(e) = lease::release(&mut conn, &held).await {
        tracing::warn!(room = %held.room, error = %e, "cluster: lease could not be released (it expires by itself)");
    }
}

/// A lease this node holds; dropping it stops the renewal and releases the lease.
pub struct LeaseGuard {
    stop: CancellationToken,
    lost: CancellationToken,
}

impl LeaseGuard {
    /// Cancelled when another node turned out to hold the room.
    pub fn lost(&self) -> CancellationToken {
        self.lost.clone()
    }
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// This process's CPU use between samples, in cores (`metrics-process` reads the CPU time, as
/// for `process_cpu_seconds_total`).
#[derive(Default)]
struct CpuMeter {
    last: Option<(std::time::Instant, f64)>,
}

impl CpuMeter {
    fn sample(&mut self) -> f64 {
        let Some(now) = metrics_process::collector::collect().cpu_seconds_total else { return 0.0 };
        let at = std::time::Instant::now();
        let used = match self.last {
            Some((then, before)) if at > then => (now - before).max(0.0) / at.duration_since(then).as_secs_f64(),
            _ => 0.0,
        };
        self.last = Some((at, now));
        used
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn cpu_use_is_measured_between_samples() {
        let mut m = super::CpuMeter::default();
        assert_eq!(m.sample(), 0.0, "nothing to compare the first sample with");
        let spin = std::time::Instant::now();
        while spin.elapsed() < std::time::Duration::from_millis(50) {
            std::hint::black_box(0u64);
        }
        assert!(m.sample() > 0.0, "a busy thread shows as CPU in use");
    }
}
