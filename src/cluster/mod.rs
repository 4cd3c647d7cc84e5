//! Many nodes behind one API, coordinated through Redis: the parts that talk to Redis about
//! nodes and rooms, below the rooms themselves.
//!
//! - The **node registry** ([`registry`]): each node announces its id, URL and load every
//!   [`registry::ANNOUNCE_EVERY`] under a key that expires after [`registry::NODE_TTL`], so a
//!   node that stops announcing counts as dead within ~6 s; the least-loaded live node with room
//!   to spare is chosen for a room.
//! - **Room leases** ([`lease`]): a room is owned by at most one node at a time, through a Lua
//!   script that sets the owner key only when absent, with a fencing token from a counter that
//!   only grows; the owner renews it, and a dead owner's lease expires.
//! - **This node's part** ([`node`]): announcing, choosing where a room goes, taking, holding
//!   and renewing leases, draining.
//!
//! Built on these elsewhere: placement of rooms on first join, at their start or when their node
//! died (`room::placement`), the shared store (`store::redis`), forwarding REST calls and relaying
//! signaling to a room's node (`api::forward`, `api::ws_relay`). A single node without
//! `redis_url` uses none of this.
//!
//! Invariants: every Redis call goes through a [`redis::aio::ConnectionManager`] (it reconnects
//! by itself after Redis restarts) with a bounded response time, so a stalled Redis never holds
//! a caller for long; keys are under the `tessera:` prefix.

pub mod lease;
pub mod node;
pub mod registry;

use std::time::Duration;

/// Errors talking to Redis.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("a node record in redis is not valid JSON: {0}")]
    Record(#[from] serde_json::Error),
}

/// Connects lazily to `url` (`redis://host:port/db`): the first command connects, and a lost
/// connection is re-established on the next one.
pub fn connect(url: &str) -> Result<redis::aio::ConnectionManager, ClusterError> {
    let client = redis::Client::open(url)?;
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(1)))
        .set_response_timeout(Some(Duration::from_secs(1)))
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_millis(500));
    Ok(redis::aio::ConnectionManager::new_lazy_with_config(client, config)?)
}
