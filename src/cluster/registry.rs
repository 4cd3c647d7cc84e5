//! The node registry: who is alive and how loaded.
//!
//! Each node writes its [`NodeInfo`] to `tessera:node:{id}` with a [`NODE_TTL`] expiry every
//! [`ANNOUNCE_EVERY`] and adds its id to the `tessera:nodes` set. A node is live while its key
//! exists: one that stops announcing (killed, cut off) drops out within [`NODE_TTL`]. Readers
//! take the set, fetch every record in one `MGET`, and remove ids whose record expired.

use super::ClusterError;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub const ANNOUNCE_EVERY: Duration = Duration::from_secs(2);
pub const NODE_TTL: Duration = Duration::from_secs(6);
const NODES_KEY: &str = "tessera:nodes";

/// What a node says about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeInfo {
    pub id: String,
    /// Where clients and other nodes reach it (`http://host:port`).
    pub url: String,
    pub rooms: u32,
    pub participants: u32,
    /// Share of one core in use by the process (0.0–cores).
    pub cpu: f64,
    /// Rooms it is configured to hold.
    pub capacity: u32,
    /// Taking no new rooms (shutting down).
    pub draining: bool,
}

impl NodeInfo {
    /// Rooms it can still take.
    pub fn free(&self) -> u32 {
        if self.draining { 0 } else { self.capacity.saturating_sub(self.rooms) }
    }
}

fn node_key(id: &str) -> String {
    format!("tessera:node:{id}")
}

/// Writes `info` once (with its expiry).
pub async fn announce(conn: &mut ConnectionManager, info: &NodeInfo) -> Result<(), ClusterError> {
    let json = serde_json::to_string(info)?;
    redis::pipe()
        .atomic()
        .cmd("SET")
        .arg(node_key(&info.id))
        .arg(json)
        .arg("PX")
        .arg(NODE_TTL.as_millis() as u64)
        .ignore()
        .cmd("SADD")
        .arg(NODES_KEY)
        .arg(&info.id)
        .ignore()
        .query_async::<()>(conn)
        .await?;
    Ok(())
}

/// Removes this node at once (a clean shutdown), instead of waiting for the expiry.
pub async fn withdraw(conn: &mut ConnectionManager, id: &str) -> Result<(), ClusterError> {
    redis::pipe()
        .atomic()
        .cmd("DEL")
        .arg(node_key(id))
        .ignore()
        .cmd("SREM")
        .arg(NODES_KEY)
        .arg(id)
        .ignore()
        .query_async::<()>(conn)
        .await?;
    Ok(())
}

/// Announces `info()` every [`ANNOUNCE_EVERY`], and at once when `wake` is notified, until
/// `cancel`, then withdraws. `contact` is told whether each announcement reached Redis; a
/// failed one is logged (once per outage) and retried on the next tick (the connection
/// reconnects by itself).
pub async fn run_announcer(
    mut conn: ConnectionManager,
    mut info: impl FnMut() -> NodeInfo,
    wake: &Notify,
    contact: &(dyn Fn(bool) + Sync),
    cancel: CancellationToken,
) {
    let mut connected = false;
    let mut tick = tokio::time::interval(ANNOUNCE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut node = info();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tick.tick() => {}
            _ = wake.notified() => {}
        }
        node = info();
        let ok = announce(&mut conn, &node).await;
        contact(ok.is_ok());
        let was = std::mem::replace(&mut connected, ok.is_ok());
        match ok {
            Ok(()) if !was => tracing::info!(node = %node.id, "cluster: announced"),
            Err(e) if was => tracing::warn!(error = %e, "cluster: could not announce this node"),
            _ => {}
        }
    }
    if let Err(e) = withdraw(&mut conn, &node.id).await {
        tracing::warn!(error = %e, "cluster: could not withdraw this node");
    }
}

/// Every live node's record, in id order; ids whose record expired are removed from the set.
pub async fn live_nodes(conn: &mut ConnectionManager) -> Result<Vec<NodeInfo>, ClusterError> {
    let mut ids: Vec<String> = redis::cmd("SMEMBERS").arg(NODES_KEY).query_async(conn).await?;
    ids.sort();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<String> = ids.iter().map(|id| node_key(id)).collect();
    let records: Vec<Option<String>> = redis::cmd("MGET").arg(&keys).query_async(conn).await?;
    let mut live = Vec::new();
    let mut dead = Vec::new();
    for (id, record) in ids.into_iter().zip(records) {
        match record {
            Some(json) => live.push(serde_json::from_str(&json)?),
            None => dead.push(id),
        }
    }
    if !dead.is_empty() {
        redis::cmd("SREM").arg(NODES_KEY).arg(&dead).query_async::<()>(conn).await?;
    }
    Ok(live)
}

/// The node a new room should go to: the one with the most free rooms, then the least CPU,
/// then the smallest id (so racing nodes agree); `None` when every node is full or draining.
pub fn least_loaded(nodes: &[NodeInfo]) -> Option<&NodeInfo> {
    nodes.iter().filter(|n| n.free() > 0).min_by(|a, b| b.free().cmp(&a.free()).then(a.cpu.total_cmp(&b.cpu)).then_with(|| a.id.cmp(&b.id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, rooms: u32, cpu: f64, draining: bool) -> NodeInfo {
        NodeInfo { id: id.into(), url: format!("http://{id}"), rooms, participants: 0, cpu, capacity: 9, draining }
    }

    #[test]
    fn placement_prefers_free_rooms_then_cpu_and_skips_full_and_draining() {
        let nodes = [node("a", 5, 0.2, false), node("b", 2, 0.9, false), node("c", 2, 0.5, false), node("d", 0, 0.0, true)];
        assert_eq!(least_loaded(&nodes).map(|n| n.id.as_str()), Some("c"));
        let full = [node("a", 9, 0.1, false), node("d", 0, 0.0, true)];
        assert!(least_loaded(&full).is_none(), "a full cluster takes no room");
        let tie = [node("b", 1, 0.5, false), node("a", 1, 0.5, false)];
        assert_eq!(least_loaded(&tie).map(|n| n.id.as_str()), Some("a"), "ties go to the smallest id");
    }
}
