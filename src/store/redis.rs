//! The store in Redis, shared by every node of a cluster: rooms, server settings and the
//! recordings index, with the same semantics and orders as the SQLite store (`sqlite.rs`,
//! `recordings.rs`), so either backend answers every query alike.
//!
//! Key layout (all under `tessera:`):
//!
//! | key | type | holds |
//! |---|---|---|
//! | `tessera:room:{id}` | hash | `spec`: the room as JSON (every field but id and created_at), `createdAt`, `member`: its entry in the two room indexes |
//! | `tessera:rooms` | sorted set | every room: score `created_at`, member `{seq:020}\|{id}` |
//! | `tessera:rooms:unfinished` | sorted set | the rooms whose `ended_at` is unset, same scores and members |
//! | `tessera:rooms:seq` | counter | the insertion sequence of rooms (INCR) |
//! | `tessera:settings` | hash | setting name → value |
//! | `tessera:recording:{id}` | hash | `json`: the record as JSON (every field but id), `member`: its entry in `tessera:recordings`, `node`: the node it is active on (only while active), `files`: the node that recorded it (whose disk holds its files) |
//! | `tessera:recordings` | sorted set | every recording: score `started_at`, member `{seq:020}\|{id}` |
//! | `tessera:recordings:seq` | counter | the write sequence of recordings (INCR) |
//! | `tessera:recordings:active:{node}` | set | ids of the recordings in state `recording` or `finalizing` that `node` runs |
//!
//! Room ids are alphanumeric (`ids::is_valid_id`), so `tessera:room:{id}` never meets the lease
//! keys `tessera:room:{id}:owner` of `cluster::lease`.
//!
//! Order: SQLite orders rooms by `created_at, rowid` and recordings by `started_at DESC, rowid
//! DESC`. Here the score is the time and the member starts with a sequence number drawn from a
//! counter that only grows, zero-padded to 20 digits; Redis orders equal scores by member bytes,
//! so the index order is (time, sequence) with no sorting in Rust and no precision given up (a
//! score combining both would have to squeeze them into the 53 bits of a double). A room keeps
//! its sequence for life, as a row keeps its rowid under UPDATE; a recording draws a new one at
//! every write, as `INSERT OR REPLACE` gives the replaced row a new rowid. Times up to 2^53 are
//! exact as scores (Unix seconds and milliseconds are far below).
//!
//! Invariants: every write that touches more than one key is a single Lua script, which Redis
//! runs atomically (nothing else runs in between, and a crash of the client cannot leave half of
//! it applied); scripts rather than MULTI/EXEC because the writes depend on what is stored (an
//! insert fails when the id exists, an update does nothing when it does not, a write removes the
//! index entries the previous version left). The scripts only fail on wrong key types, so they
//! never stop halfway on data this module wrote. So a record, its index entries and its
//! active-set entry always agree. The scripts build the name of the previous node's active set
//! from a prefix, so they need a single Redis (or a primary with replicas), not Redis Cluster,
//! which is what `cluster::connect` opens.
//!
//! Reads that filter (a state, a time window, a room) read the whole index in order and filter
//! in Rust: one round trip for the ids and one pipelined one for the records. That is fine for
//! thousands of rooms or recordings; unfiltered pages are read straight from the index. A list
//! read while others write shows each record as it is at the second read, in the order of the
//! first; a record deleted in between is left out.

use super::{RecordingFilter, RoomFilter, StoreError};
use crate::records::recording::{Part, RecordingRecord, RecordingState};
use crate::records::room::{EndReason, RoomSpec};
use crate::records::settings::RoomSettings;
use redis::aio::ConnectionManager;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::sync::LazyLock;

const ROOMS: &str = "tessera:rooms";
const ROOMS_UNFINISHED: &str = "tessera:rooms:unfinished";
const ROOMS_SEQ: &str = "tessera:rooms:seq";
const SETTINGS: &str = "tessera:settings";
const RECORDINGS: &str = "tessera:recordings";
const RECORDINGS_SEQ: &str = "tessera:recordings:seq";
const ACTIVE_PREFIX: &str = "tessera:recordings:active:";

fn room_key(id: &str) -> String {
    format!("tessera:room:{id}")
}

fn recording_key(id: &str) -> String {
    format!("tessera:recording:{id}")
}

fn active_key(node: &str) -> String {
    format!("{ACTIVE_PREFIX}{node}")
}

/// KEYS: room, rooms:seq, rooms, rooms:unfinished. ARGV: id, created_at, spec JSON, unfinished
/// (1/0). Returns 0 when the id exists (nothing written), 1 when inserted.
static INSERT_ROOM: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local member = string.format('%020d', redis.call('INCR', KEYS[2])) .. '|' .. ARGV[1]
redis.call('HSET', KEYS[1], 'spec', ARGV[3], 'createdAt', ARGV[2], 'member', member)
redis.call('ZADD', KEYS[3], ARGV[2], member)
if ARGV[4] == '1' then redis.call('ZADD', KEYS[4], ARGV[2], member) end
return 1
",
    )
});

/// KEYS: room, rooms:unfinished. ARGV: spec JSON, unfinished (1/0). Keeps `createdAt` and the
/// sequence. Returns 0 when the room does not exist (nothing written), 1 when updated.
static UPDATE_ROOM: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
local member = redis.call('HGET', KEYS[1], 'member')
if not member then return 0 end
redis.call('HSET', KEYS[1], 'spec', ARGV[1])
if ARGV[2] == '1' then
  redis.call('ZADD', KEYS[2], redis.call('HGET', KEYS[1], 'createdAt'), member)
else
  redis.call('ZREM', KEYS[2], member)
end
return 1
",
    )
});

/// KEYS: recording, recordings:seq, recordings, this node's active set. ARGV: id, started_at,
/// JSON, active (1/0), this node, active-set prefix. Replaces the record and its index entries
/// (a new sequence, as `INSERT OR REPLACE` gives a new rowid); the previous node's active entry
/// is removed whichever node wrote it. `files` names the node that first wrote the record (the
/// one recording, whose disk holds the files) and is kept by every later write.
static PUT_RECORDING: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
local old = redis.call('HMGET', KEYS[1], 'member', 'node', 'files')
if old[1] then redis.call('ZREM', KEYS[3], old[1]) end
if old[2] then redis.call('SREM', ARGV[6] .. old[2], ARGV[1]) end
local member = string.format('%020d', redis.call('INCR', KEYS[2])) .. '|' .. ARGV[1]
redis.call('DEL', KEYS[1])
redis.call('ZADD', KEYS[3], ARGV[2], member)
redis.call('HSET', KEYS[1], 'files', old[3] or ARGV[5])
if ARGV[4] == '1' then
  redis.call('HSET', KEYS[1], 'json', ARGV[3], 'member', member, 'node', ARGV[5])
  redis.call('SADD', KEYS[4], ARGV[1])
else
  redis.call('HSET', KEYS[1], 'json', ARGV[3], 'member', member)
end
return 1
",
    )
});

/// KEYS: recording, recordings. ARGV: id, active-set prefix. Returns 1 when it existed.
static DELETE_RECORDING: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
local old = redis.call('HMGET', KEYS[1], 'member', 'node')
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
if old[1] then redis.call('ZREM', KEYS[2], old[1]) end
if old[2] then redis.call('SREM', ARGV[2] .. old[2], ARGV[1]) end
return 1
",
    )
});

/// A shared handle to the Redis store (clones share the connection).
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    node: String,
}

impl RedisStore {
    /// `node`: this node's id; recordings this node runs are indexed under it.
    pub fn new(conn: ConnectionManager, node: &str) -> Self {
        Self { conn, node: node.to_owned() }
    }

    /// Fails (a Redis client error) when a room with this id exists, as the SQLite insert does
    /// on its primary key.
    pub async fn insert_room(&self, r: &RoomSpec) -> Result<(), StoreError> {
        let spec = encode(&StoredRoom::from(r))?;
        let inserted: i64 = INSERT_ROOM
            .key(room_key(&r.id))
            .key(ROOMS_SEQ)
            .key(ROOMS)
            .key(ROOMS_UNFINISHED)
            .arg(&r.id)
            .arg(r.created_at)
            .arg(spec)
            .arg(flag(r.ended_at.is_none()))
            .invoke_async(&mut self.conn.clone())
            .await?;
        if inserted == 1 {
            Ok(())
        } else {
            Err(redis::RedisError::from((redis::ErrorKind::Client, "a room with this id already exists", r.id.clone())).into())
        }
    }

    /// Writes every field of an existing room but its id and creation time; nothing when there
    /// is no such room (as an SQL UPDATE).
    pub async fn update_room(&self, r: &RoomSpec) -> Result<(), StoreError> {
        let spec = encode(&StoredRoom::from(r))?;
        let _updated: i64 = UPDATE_ROOM
            .key(room_key(&r.id))
            .key(ROOMS_UNFINISHED)
            .arg(spec)
            .arg(flag(r.ended_at.is_none()))
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(())
    }

    pub async fn get_room(&self, id: &str) -> Result<Option<RoomSpec>, StoreError> {
        let fields: RoomFields =
            redis::cmd("HMGET").arg(room_key(id)).arg("spec").arg("createdAt").query_async(&mut self.conn.clone()).await?;
        decode_room(id, fields)
    }

    /// Rooms that have not ended (restored at start-up), oldest created first.
    pub async fn unfinished_rooms(&self) -> Result<Vec<RoomSpec>, StoreError> {
        let members: Vec<String> = redis::cmd("ZRANGE").arg(ROOMS_UNFINISHED).arg(0).arg(-1).query_async(&mut self.conn.clone()).await?;
        let mut rooms = self.rooms(&members).await?;
        // The index agrees with the records (both written by one script); this keeps the answer
        // exact even if someone edited Redis by hand.
        rooms.retain(|r| r.ended_at.is_none());
        Ok(rooms)
    }

    /// One page of rooms matching `f` at time `now`, oldest created first (ties in insertion
    /// order), and the total that match.
    pub async fn list_rooms(&self, f: &RoomFilter, now: i64) -> Result<(Vec<RoomSpec>, u64), StoreError> {
        if f.state.is_none() && f.starts_from.is_none() && f.starts_before.is_none() {
            let (total, members) = self.page(ROOMS, "ZRANGE", f.offset, f.limit).await?;
            return Ok((self.rooms(&members).await?, total));
        }
        let members: Vec<String> = redis::cmd("ZRANGE").arg(ROOMS).arg(0).arg(-1).query_async(&mut self.conn.clone()).await?;
        let matching: Vec<RoomSpec> = self.rooms(&members).await?.into_iter().filter(|r| room_matches(r, f, now)).collect();
        let total = matching.len() as u64;
        Ok((matching.into_iter().skip(f.offset as usize).take(f.limit as usize).collect(), total))
    }

    /// The setting `key`, created with `make()` on first use. Atomic across nodes: HSETNX
    /// writes only when absent, so racing callers all read back the first writer's value.
    pub async fn setting_or_insert(&self, key: &str, make: impl FnOnce() -> String) -> Result<String, StoreError> {
        let mut conn = self.conn.clone();
        let current: Option<String> = redis::cmd("HGET").arg(SETTINGS).arg(key).query_async(&mut conn).await?;
        if let Some(v) = current {
            return Ok(v);
        }
        let _created: i64 = redis::cmd("HSETNX").arg(SETTINGS).arg(key).arg(make()).query_async(&mut conn).await?;
        let value: Option<String> = redis::cmd("HGET").arg(SETTINGS).arg(key).query_async(&mut conn).await?;
        value.ok_or_else(|| StoreError::Corrupt(format!("setting {key}: removed from redis while it was being created")))
    }

    /// Inserts or replaces the whole record. While its state is active (`recording` or
    /// `finalizing`, what the SQLite `active_recordings` selects) it is indexed under this node;
    /// any other node's entry for it is removed.
    pub async fn put_recording(&self, r: &RecordingRecord) -> Result<(), StoreError> {
        let json = encode(&StoredRecording::from(r))?;
        let _: i64 = PUT_RECORDING
            .key(recording_key(&r.id))
            .key(RECORDINGS_SEQ)
            .key(RECORDINGS)
            .key(active_key(&self.node))
            .arg(&r.id)
            .arg(r.started_at)
            .arg(json)
            .arg(flag(r.state.is_active()))
            .arg(&self.node)
            .arg(ACTIVE_PREFIX)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(())
    }

    pub async fn get_recording(&self, id: &str) -> Result<Option<RecordingRecord>, StoreError> {
        let json: Option<String> = redis::cmd("HGET").arg(recording_key(id)).arg("json").query_async(&mut self.conn.clone()).await?;
        json.map(|j| decode_recording(id, &j)).transpose()
    }

    /// Whether it existed.
    pub async fn delete_recording(&self, id: &str) -> Result<bool, StoreError> {
        let n: i64 =
            DELETE_RECORDING.key(recording_key(id)).key(RECORDINGS).arg(id).arg(ACTIVE_PREFIX).invoke_async(&mut self.conn.clone()).await?;
        Ok(n == 1)
    }

    /// This node's recordings that were being written (at start-up: cut short by the stop).
    pub async fn active_recordings(&self) -> Result<Vec<RecordingRecord>, StoreError> {
        self.active_recordings_on(&self.node).await
    }

    /// `node`'s recordings that were being written (e.g. a dead node's, to mark them
    /// interrupted: writing them from here moves them out of `node`'s index), oldest started
    /// first.
    pub async fn active_recordings_on(&self, node: &str) -> Result<Vec<RecordingRecord>, StoreError> {
        let ids: Vec<String> = redis::cmd("SMEMBERS").arg(active_key(node)).query_async(&mut self.conn.clone()).await?;
        let mut found = self.recordings(&ids).await?;
        // As in `unfinished_rooms`: exact even if the index was edited by hand.
        found.retain(|(_, r)| r.state.is_active());
        found.sort_by(|(ma, a), (mb, b)| (a.started_at, ma).cmp(&(b.started_at, mb)));
        Ok(found.into_iter().map(|(_, r)| r).collect())
    }

    /// The node whose disk holds recording `id`'s files (the one that recorded it).
    pub async fn files_node(&self, id: &str) -> Result<Option<String>, StoreError> {
        Ok(redis::cmd("HGET").arg(recording_key(id)).arg("files").query_async(&mut self.conn.clone()).await?)
    }

    /// Nodes with recordings marked as being written (their active sets), this one included.
    pub async fn recording_nodes(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn.clone();
        let (mut cursor, mut nodes) = (0u64, Vec::new());
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{ACTIVE_PREFIX}*"))
                .arg("COUNT")
                .arg(100)
                .query_async(&mut conn)
                .await?;
            nodes.extend(keys.iter().filter_map(|k| k.strip_prefix(ACTIVE_PREFIX)).map(str::to_owned));
            if next == 0 {
                break;
            }
            cursor = next;
        }
        nodes.sort();
        nodes.dedup();
        Ok(nodes)
    }

    /// One page of recordings matching `f`, newest started first (ties: last written first),
    /// and the total that match.
    pub async fn list_recordings(&self, f: &RecordingFilter) -> Result<(Vec<RecordingRecord>, u64), StoreError> {
        if f.room_id.is_none() && f.state.is_none() {
            let (total, members) = self.page(RECORDINGS, "ZREVRANGE", f.offset, f.limit).await?;
            let ids: Vec<String> = members.iter().map(|m| member_id(m).to_owned()).collect();
            return Ok((self.recordings(&ids).await?.into_iter().map(|(_, r)| r).collect(), total));
        }
        let members: Vec<String> = redis::cmd("ZREVRANGE").arg(RECORDINGS).arg(0).arg(-1).query_async(&mut self.conn.clone()).await?;
        let ids: Vec<String> = members.iter().map(|m| member_id(m).to_owned()).collect();
        let matching: Vec<RecordingRecord> = self
            .recordings(&ids)
            .await?
            .into_iter()
            .map(|(_, r)| r)
            .filter(|r| f.room_id.as_ref().is_none_or(|id| *id == r.room_id) && f.state.is_none_or(|s| s == r.state))
            .collect();
        let total = matching.len() as u64;
        Ok((matching.into_iter().skip(f.offset as usize).take(f.limit as usize).collect(), total))
    }

    /// The size of sorted set `key` and the members of one page of it (`range` is ZRANGE or
    /// ZREVRANGE), read in one MULTI so they agree.
    async fn page(&self, key: &str, range: &str, offset: u32, limit: u32) -> Result<(u64, Vec<String>), StoreError> {
        let mut conn = self.conn.clone();
        if limit == 0 {
            let total: u64 = redis::cmd("ZCARD").arg(key).query_async(&mut conn).await?;
            return Ok((total, Vec::new()));
        }
        let stop = u64::from(offset) + u64::from(limit) - 1;
        let (total, members): (u64, Vec<String>) =
            redis::pipe().atomic().cmd("ZCARD").arg(key).cmd(range).arg(key).arg(offset).arg(stop).query_async(&mut conn).await?;
        Ok((total, members))
    }

    /// The rooms of index `members`, in that order; rooms gone since are left out.
    async fn rooms(&self, members: &[String]) -> Result<Vec<RoomSpec>, StoreError> {
        if members.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = members.iter().map(|m| member_id(m)).collect();
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.cmd("HMGET").arg(room_key(id)).arg("spec").arg("createdAt");
        }
        let rows: Vec<RoomFields> = pipe.query_async(&mut self.conn.clone()).await?;
        let mut rooms = Vec::with_capacity(rows.len());
        for (id, fields) in ids.into_iter().zip(rows) {
            rooms.extend(decode_room(id, fields)?);
        }
        Ok(rooms)
    }

    /// The recordings `ids` with their index members, in that order; those gone since are left
    /// out.
    async fn recordings(&self, ids: &[String]) -> Result<Vec<(String, RecordingRecord)>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in ids {
            pipe.cmd("HMGET").arg(recording_key(id)).arg("json").arg("member");
        }
        let rows: Vec<(Option<String>, Option<String>)> = pipe.query_async(&mut self.conn.clone()).await?;
        let mut found = Vec::with_capacity(rows.len());
        for (id, (json, member)) in ids.iter().zip(rows) {
            if let Some(json) = json {
                found.push((member.unwrap_or_default(), decode_recording(id, &json)?));
            }
        }
        Ok(found)
    }
}

/// `spec` and `createdAt` of a room hash.
type RoomFields = (Option<String>, Option<String>);

fn flag(b: bool) -> &'static str {
    if b { "1" } else { "0" }
}

/// The id in an index member `{seq}|{id}` (the sequence is digits, so the first `|` splits).
fn member_id(member: &str) -> &str {
    member.split_once('|').map_or(member, |(_, id)| id)
}

/// The same predicate as the SQLite `list_rooms` WHERE clause (a room without `starts_at`
/// matches no time bound, as NULL compares false in SQL).
fn room_matches(r: &RoomSpec, f: &RoomFilter, now: i64) -> bool {
    f.state.is_none_or(|s| r.state(now) == s)
        && f.starts_from.is_none_or(|t| r.settings.starts_at.is_some_and(|s| s >= t))
        && f.starts_before.is_none_or(|t| r.settings.starts_at.is_some_and(|s| s < t))
}

fn encode<T: Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn decode<T: DeserializeOwned>(what: &str, json: &str) -> Result<T, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn decode_room(id: &str, (spec, created_at): RoomFields) -> Result<Option<RoomSpec>, StoreError> {
    let (spec, created_at) = match (spec, created_at) {
        (None, None) => return Ok(None),
        (Some(s), Some(c)) => (s, c),
        _ => return Err(StoreError::Corrupt(format!("room {id}: its hash lacks spec or createdAt"))),
    };
    let created_at = created_at.parse::<i64>().map_err(|e| StoreError::Corrupt(format!("room {id}: createdAt {created_at:?}: {e}")))?;
    let stored: StoredRoom = decode(&format!("room {id}"), &spec)?;
    Ok(Some(stored.into_spec(id, created_at)))
}

fn decode_recording(id: &str, json: &str) -> Result<RecordingRecord, StoreError> {
    let stored: StoredRecording = decode(&format!("recording {id}"), json)?;
    Ok(stored.into_record(id))
}

/// A room as stored in its hash's `spec` (id and created_at live in the key and in
/// `createdAt`): its settings' own JSON, with when and why it ended. Unknown fields are ignored
/// and missing settings read as their defaults, so a node reads what another version wrote.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredRoom {
    #[serde(flatten)]
    settings: RoomSettings,
    ended_at: Option<i64>,
    end_reason: Option<EndReason>,
}

impl From<&RoomSpec> for StoredRoom {
    fn from(r: &RoomSpec) -> Self {
        let RoomSpec { id: _, created_at: _, settings, ended_at, end_reason } = r;
        Self { settings: settings.clone(), ended_at: *ended_at, end_reason: *end_reason }
    }
}

impl StoredRoom {
    fn into_spec(self, id: &str, created_at: i64) -> RoomSpec {
        let StoredRoom { settings, ended_at, end_reason } = self;
        RoomSpec { id: id.to_owned(), created_at, settings, ended_at, end_reason }
    }
}

/// A recording as stored in its hash's `json` (the id lives in the key). `dir` is kept as text,
/// lossily for a non-UTF-8 path, as the SQLite column is.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredRecording {
    room_id: String,
    state: RecordingState,
    reason: Option<String>,
    started_at: i64,
    ended_at: Option<i64>,
    duration_ms: Option<u64>,
    bytes: u64,
    parts: Vec<Part>,
    dir: String,
}

impl From<&RecordingRecord> for StoredRecording {
    fn from(r: &RecordingRecord) -> Self {
        Self {
            room_id: r.room_id.clone(),
            state: r.state,
            reason: r.reason.clone(),
            started_at: r.started_at,
            ended_at: r.ended_at,
            duration_ms: r.duration_ms,
            bytes: r.bytes,
            parts: r.parts.clone(),
            dir: r.dir.to_string_lossy().into_owned(),
        }
    }
}

impl StoredRecording {
    fn into_record(self, id: &str) -> RecordingRecord {
        RecordingRecord {
            id: id.to_owned(),
            room_id: self.room_id,
            state: self.state,
            reason: self.reason,
            started_at: self.started_at,
            ended_at: self.ended_at,
            duration_ms: self.duration_ms,
            bytes: self.bytes,
            parts: self.parts,
            dir: self.dir.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_split_at_the_first_bar_and_metadata_null_survives() {
        assert_eq!(member_id("00000000000000000007|abc"), "abc");
        assert_eq!(member_id("00000000000000000007|a|b"), "a|b");
        let mut r = RoomSpec {
            id: "r".into(),
            created_at: 5,
            settings: RoomSettings { name: "n".into(), metadata: Some(serde_json::Value::Null), hls: true, ..Default::default() },
            ended_at: None,
            end_reason: Some(EndReason::TimeLimit),
        };
        for metadata in [Some(serde_json::Value::Null), None, Some(serde_json::json!([]))] {
            r.settings.metadata = metadata;
            let json = encode(&StoredRoom::from(&r)).unwrap();
            assert_eq!(decode_room("r", (Some(json), Some("5".into()))).unwrap(), Some(r.clone()));
        }
        assert!(matches!(decode_room("r", (Some("{".into()), Some("5".into()))), Err(StoreError::Corrupt(_))));
        assert!(matches!(decode_room("r", (None, Some("5".into()))), Err(StoreError::Corrupt(_))));
        assert_eq!(decode_room("r", (None, None)).unwrap(), None);
    }

    #[test]
    fn a_composites_ladder_round_trips_and_json_without_one_reads_as_derived() {
        use crate::records::{LadderConfig, RungConfig};
        let mut r = RoomSpec {
            id: "r".into(),
            created_at: 5,
            settings: RoomSettings { name: "n".into(), ..Default::default() },
            ended_at: None,
            end_reason: None,
        };
        let l2 = RungConfig { width: 256, height: 144, fps: 10, bitrate_kbps: 80 };
        r.settings.composite.ladder = LadderConfig { l1: None, l2: Some(l2) };
        let json = encode(&StoredRoom::from(&r)).unwrap();
        assert!(json.contains(r#""ladder":{"l2":{"width":256,"height":144,"fps":10,"bitrate_kbps":80}}"#), "{json}");
        assert_eq!(decode_room("r", (Some(json), Some("5".into()))).unwrap(), Some(r.clone()));
        // What a node of an earlier version wrote: no `ladder` in the composite (or no composite).
        for old in [r#"{"name":"n","composite":{"width":640,"height":360,"fps":30,"bitrate_kbps":600}}"#, r#"{"name":"n"}"#] {
            let spec = decode_room("r", (Some(old.into()), Some("5".into()))).unwrap().expect("a room");
            let c = &spec.settings.composite;
            assert!(c.ladder.is_derived(), "{old}");
            assert_eq!(c.l1(), RungConfig { width: c.width / 2, height: c.height / 2, fps: 30, bitrate_kbps: c.bitrate_kbps * 3 / 10 });
        }
        // A room without a ladder is written as an earlier version wrote it.
        r.settings.composite.ladder = LadderConfig::default();
        assert!(!encode(&StoredRoom::from(&r)).unwrap().contains("ladder"));
    }
}
