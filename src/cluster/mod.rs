//! Many nodes behind one API, coordinated through Redis (issue 13; in progress).
//!
//! What is here: the **node registry** ([`registry`]: each node announces its id, URL and load
//! every [`registry::ANNOUNCE_EVERY`] under a key that expires after [`registry::NODE_TTL`], so a
//! node that stops announcing counts as dead within ~6 s; the least-loaded live node with room
//! to spare is chosen for a new room) and **room leases** ([`lease`]: a room is owned by at most
//! one node at a time, through a Lua script that sets the owner key only when absent, with a
//! fencing token from a counter that only grows; the owner renews it, and a dead owner's lease
//! expires). Not yet here: placing rooms on first join through these, forwarding REST and
//! signaling to the owner, draining, and the Redis-backed store — the single node with SQLite
//! stays the default and is untouched by this module.
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
