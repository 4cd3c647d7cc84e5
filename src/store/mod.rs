//! Persistence behind one interface: rooms (with their schedules), the recordings index and
//! server settings (the join-token secret).
//!
//! Two backends: [`SqliteStore`] (an embedded SQLite file, the single-node default) and
//! [`RedisStore`] (shared by every node of a cluster, `redis_url` set). [`Store::open`] is the one
//! place that chooses between them; everything above sees only [`Store`].
//!
//! Invariants: a method either fully applies or fails with a [`StoreError`]; the SQLite
//! backend's calls are short and synchronous (no lock is held across an `.await`); the Redis
//! backend's calls are bounded by the connection manager's response timeout, so a stalled Redis
//! answers callers with an error rather than holding them.

use crate::records::recording::{RecordingRecord, RecordingState};
use crate::records::room::{RoomSpec, RoomState};
use std::path::PathBuf;

mod recordings;
mod redis;
mod sqlite;

pub use self::redis::RedisStore;
pub use sqlite::SqliteStore;

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the database folder {path}")]
    Folder {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open the database {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cannot migrate the database schema")]
    Migrate(#[source] rusqlite_migration::Error),
    #[error("database query failed")]
    Query(#[from] rusqlite::Error),
    #[error("the shared store (redis) failed: {0}")]
    Redis(#[from] ::redis::RedisError),
    #[error("a stored record is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// The shared store could not be reached (as opposed to a bad record or query).
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Redis(e) => e.is_io_error() || e.is_timeout() || e.is_connection_dropped() || e.is_connection_refusal(),
            _ => false,
        }
    }
}

/// Which rooms `list_rooms` returns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoomFilter {
    pub state: Option<RoomState>,
    /// Only rooms starting at or after this time (Unix seconds).
    pub starts_from: Option<i64>,
    /// Only rooms starting before this time.
    pub starts_before: Option<i64>,
    pub limit: u32,
    pub offset: u32,
}

/// Which recordings `list_recordings` returns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordingFilter {
    pub room_id: Option<String>,
    pub state: Option<RecordingState>,
    pub limit: u32,
    pub offset: u32,
}

/// The store every layer above uses (cheap to clone).
#[derive(Clone)]
pub enum Store {
    Sqlite(SqliteStore),
    Redis(RedisStore),
}

/// Calls `$method` on whichever backend this is (SQLite's are synchronous). Redis calls are
/// boxed: their futures are large, and every caller's future would otherwise carry one inline
/// (a debug build's request handler overflowed a 2 MiB stack).
macro_rules! dispatch {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        match $self {
            Store::Sqlite(s) => s.$method($($arg),*),
            Store::Redis(s) => Box::pin(s.$method($($arg),*)).await,
        }
    };
}

impl Store {
    /// The one place the backend is chosen: Redis when the server is part of a cluster
    /// (`redis` is its connection and `node` its id), else the SQLite file at `database`.
    pub fn open(database: &std::path::Path, redis: Option<(::redis::aio::ConnectionManager, &str)>) -> Result<Self, StoreError> {
        Ok(match redis {
            Some((conn, node)) => Self::Redis(RedisStore::new(conn, node)),
            None => Self::Sqlite(SqliteStore::open(database)?),
        })
    }

    /// An in-memory SQLite store (tests and benches).
    pub fn in_memory() -> Result<Self, StoreError> {
        Ok(Self::Sqlite(SqliteStore::open(std::path::Path::new(":memory:"))?))
    }

    pub fn is_shared(&self) -> bool {
        matches!(self, Self::Redis(_))
    }

    pub async fn insert_room(&self, r: &RoomSpec) -> Result<(), StoreError> {
        dispatch!(self.insert_room(r))
    }

    /// Writes every field of an existing room but its id and creation time.
    pub async fn update_room(&self, r: &RoomSpec) -> Result<(), StoreError> {
        dispatch!(self.update_room(r))
    }

    pub async fn get_room(&self, id: &str) -> Result<Option<RoomSpec>, StoreError> {
        dispatch!(self.get_room(id))
    }

    /// Rooms that have not ended, oldest first.
    pub async fn unfinished_rooms(&self) -> Result<Vec<RoomSpec>, StoreError> {
        dispatch!(self.unfinished_rooms())
    }

    /// One page of rooms matching `f` at time `now`, oldest first, and the total that match.
    pub async fn list_rooms(&self, f: &RoomFilter, now: i64) -> Result<(Vec<RoomSpec>, u64), StoreError> {
        dispatch!(self.list_rooms(f, now))
    }

    /// The setting `key`, created with `make()` on first use (atomic: two callers, or two
    /// nodes, get the same).
    pub async fn setting_or_insert(&self, key: &str, make: impl FnOnce() -> String) -> Result<String, StoreError> {
        dispatch!(self.setting_or_insert(key, make))
    }

    /// Inserts or replaces the whole record.
    pub async fn put_recording(&self, r: &RecordingRecord) -> Result<(), StoreError> {
        dispatch!(self.put_recording(r))
    }

    pub async fn get_recording(&self, id: &str) -> Result<Option<RecordingRecord>, StoreError> {
        dispatch!(self.get_recording(id))
    }

    pub async fn delete_recording(&self, id: &str) -> Result<bool, StoreError> {
        dispatch!(self.delete_recording(id))
    }

    /// Recordings this node was running (`recording` or `finalizing`).
    pub async fn active_recordings(&self) -> Result<Vec<RecordingRecord>, StoreError> {
        dispatch!(self.active_recordings())
    }

    /// Recordings another node was running (cluster only; a single node has no others).
    pub async fn active_recordings_on(&self, node: &str) -> Result<Vec<RecordingRecord>, StoreError> {
        match self {
            Self::Sqlite(_) => Ok(Vec::new()),
            Self::Redis(s) => Box::pin(s.active_recordings_on(node)).await,
        }
    }

    /// The node whose disk holds recording `id`'s files (cluster only: a single node holds all).
    pub async fn files_node(&self, id: &str) -> Result<Option<String>, StoreError> {
        match self {
            Self::Sqlite(_) => Ok(None),
            Self::Redis(s) => Box::pin(s.files_node(id)).await,
        }
    }

    /// Nodes that have recordings marked as being written (cluster only).
    pub async fn recording_nodes(&self) -> Result<Vec<String>, StoreError> {
        match self {
            Self::Sqlite(_) => Ok(Vec::new()),
            Self::Redis(s) => Box::pin(s.recording_nodes()).await,
        }
    }

    pub async fn list_recordings(&self, f: &RecordingFilter) -> Result<(Vec<RecordingRecord>, u64), StoreError> {
        dispatch!(self.list_recordings(f))
    }
}
