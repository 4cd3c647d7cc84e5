//! Room leases: which node owns a room's media and actor, at most one at a time.
//!
//! The owner key `tessera:room:{id}:owner` holds `{node}|{fence}` and expires after the lease
//! time unless renewed. Taking it is one Lua script (atomic in Redis): if the key is absent, a
//! fencing token is drawn from `tessera:fence` (INCR: it only grows) and the key is set; if it
//! is present the current owner is returned (and its lease extended when the caller is that
//! owner). Renewing and releasing compare the whole value, so a node whose lease expired and
//! was taken over can neither extend nor delete the new owner's.

use super::ClusterError;
use redis::aio::ConnectionManager;
use std::time::Duration;

const FENCE_KEY: &str = "tessera:fence";

const ACQUIRE: &str = r"
local cur = redis.call('GET', KEYS[1])
if cur then
  if string.sub(cur, 1, string.len(ARGV[1]) + 1) == ARGV[1] .. '|' then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
  end
  return cur
end
local v = ARGV[1] .. '|' .. redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], v, 'PX', ARGV[2])
return v
";

const RENEW: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
";

const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// A room's owner as Redis records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub room: String,
    pub node: String,
    /// Grows with every new lease of any room: a later owner always has a larger one.
    pub fence: u64,
}

impl Lease {
    fn value(&self) -> String {
        format!("{}|{}", self.node, self.fence)
    }

    fn parse(room: &str, v: &str) -> Option<Self> {
        let (node, fence) = v.rsplit_once('|')?;
        Some(Self { room: room.to_owned(), node: node.to_owned(), fence: fence.parse().ok()? })
    }
}

fn owner_key(room: &str) -> String {
    format!("tessera:room:{room}:owner")
}

fn millis(d: Duration) -> u64 {
    d.as_millis().clamp(1, u128::from(u64::MAX)) as u64
}

/// Takes `room` for `node` for `ttl` unless another node holds it; returns the owner either
/// way (compare its `node`). Re-taking one's own lease extends it and keeps its fence.
pub async fn acquire(conn: &mut ConnectionManager, room: &str, node: &str, ttl: Duration) -> Result<Lease, ClusterError> {
    let v: String = redis::Script::new(ACQUIRE).key(owner_key(room)).key(FENCE_KEY).arg(node).arg(millis(ttl)).invoke_async(conn).await?;
    Lease::parse(room, &v).ok_or_else(|| redis::RedisError::from((redis::ErrorKind::Parse, "bad lease value", v)).into())
}

/// Extends `lease` by `ttl`; false when it is no longer ours (expired, or taken over).
pub async fn renew(conn: &mut ConnectionManager, lease: &Lease, ttl: Duration) -> Result<bool, ClusterError> {
    let n: i64 = redis::Script::new(RENEW).key(owner_key(&lease.room)).arg(lease.value()).arg(millis(ttl)).invoke_async(conn).await?;
    Ok(n == 1)
}

/// Gives `lease` up (the room ended here); false when it was not ours any more.
pub async fn release(conn: &mut ConnectionManager, lease: &Lease) -> Result<bool, ClusterError> {
    let n: i64 = redis::Script::new(RELEASE).key(owner_key(&lease.room)).arg(lease.value()).invoke_async(conn).await?;
    Ok(n == 1)
}

/// The current owner of `room`, if any.
pub async fn owner(conn: &mut ConnectionManager, room: &str) -> Result<Option<Lease>, ClusterError> {
    let v: Option<String> = redis::cmd("GET").arg(owner_key(room)).query_async(conn).await?;
    Ok(v.and_then(|v| Lease::parse(room, &v)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_with_any_node_name() {
        let l = Lease { room: "r".into(), node: "node|with|bars".into(), fence: 42 };
        assert_eq!(Lease::parse("r", &l.value()), Some(l));
        assert_eq!(Lease::parse("r", "nofence"), None);
        assert_eq!(Lease::parse("r", "n|x"), None);
    }
}
