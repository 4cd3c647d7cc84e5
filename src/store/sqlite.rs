//! The single-node store: rooms (with their schedules), recordings and settings in an embedded
//! SQLite database.
//!
//! Invariants: the schema is only changed by the numbered migrations in `migrations/`, applied
//! in order at open by `rusqlite_migration`; every query is parameterised. Calls are synchronous
//! and short (one indexed row or one page); the connection's mutex is never held across an
//! `.await` because no method here is async.

use crate::records::CompositeConfig;
use crate::records::room::{EndReason, RoomSpec, RoomState};
use crate::records::settings::RoomSettings;
use parking_lot::Mutex;
use rusqlite::{Connection, OptionalExtension, Row, params};
use rusqlite_migration::{M, Migrations};
use std::path::Path;
use std::sync::Arc;

use super::{RoomFilter, StoreError};

fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(include_str!("migrations/0001_rooms.sql")),
        M::up(include_str!("migrations/0002_recordings.sql")),
        M::up(include_str!("migrations/0003_layouts.sql")),
        M::up(include_str!("migrations/0004_chat.sql")),
        M::up(include_str!("migrations/0005_locked.sql")),
        M::up(include_str!("migrations/0006_lobby.sql")),
    ])
}

/// A shared handle to the database.
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

const COLUMNS: &str = "id, name, created_at, starts_at, ends_at, empty_timeout_seconds, max_participants, composite, metadata, ended_at, \
     end_reason, auto_record, hls, public, layout, hide_audio_only, chat_enabled, locked, lobby";

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and migrates it; `:memory:` keeps it
    /// in memory (tests).
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut conn = if path == Path::new(":memory:") {
            Connection::open_in_memory().map_err(|source| StoreError::Open { path: path.into(), source })?
        } else {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|source| StoreError::Folder { path: dir.into(), source })?;
            }
            let c = Connection::open(path).map_err(|source| StoreError::Open { path: path.into(), source })?;
            // WAL: readers never wait for the writer; a crash loses at most the last transaction.
            c.pragma_update(None, "journal_mode", "WAL").map_err(|source| StoreError::Open { path: path.into(), source })?;
            c
        };
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrations().to_latest(&mut conn).map_err(StoreError::Migrate)?;
        Ok(Self { conn: Arc::new(Mutex::new(conn)) })
    }

    pub(super) fn with<T>(&self, f: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        f(&self.conn.lock())
    }

    pub fn insert_room(&self, r: &RoomSpec) -> Result<(), StoreError> {
        self.write_room(
            &format!("INSERT INTO rooms ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)"),
            r,
        )
    }

    /// Writes every field of an existing room but its id and creation time.
    pub fn update_room(&self, r: &RoomSpec) -> Result<(), StoreError> {
        self.write_room(
            "UPDATE rooms SET name = ?2, starts_at = ?4, ends_at = ?5, empty_timeout_seconds = ?6, max_participants = ?7,
             composite = ?8, metadata = ?9, ended_at = ?10, end_reason = ?11, auto_record = ?12, hls = ?13, public = ?14,
             layout = ?15, hide_audio_only = ?16, chat_enabled = ?17, locked = ?18, lobby = ?19
             WHERE id = ?1",
            r,
        )
    }

    /// Runs `sql` with the room's fields bound as ?1..?19 in [`COLUMNS`] order (destructured,
    /// so a new setting does not compile until it has a column).
    fn write_room(&self, sql: &str, r: &RoomSpec) -> Result<(), StoreError> {
        let RoomSpec { id, created_at, settings, ended_at, end_reason } = r;
        let RoomSettings {
            name,
            starts_at,
            ends_at,
            empty_timeout_seconds,
            max_participants,
            composite,
            metadata,
            auto_record,
            hls,
            public,
            layout,
            hide_audio_only,
            chat_enabled,
            locked,
            lobby,
        } = settings;
        let corrupt = |e: serde_json::Error| StoreError::Corrupt(format!("room {id}: {e}"));
        let composite = serde_json::to_string(composite).map_err(corrupt)?;
        let metadata = metadata.as_ref().map(serde_json::to_string).transpose().map_err(corrupt)?;
        self.with(|c| {
            c.execute(
                sql,
                params![
                    id,
                    name,
                    created_at,
                    starts_at,
                    ends_at,
                    empty_timeout_seconds,
                    max_participants,
                    composite,
                    metadata,
                    ended_at,
                    end_reason.map(EndReason::as_str),
                    auto_record,
                    hls,
                    public,
                    layout,
                    hide_audio_only,
                    chat_enabled,
                    locked,
                    lobby
                ],
            )?;
            Ok(())
        })
    }

    pub fn get_room(&self, id: &str) -> Result<Option<RoomSpec>, StoreError> {
        self.with(|c| {
            let row = c.query_row(&format!("SELECT {COLUMNS} FROM rooms WHERE id = ?1"), params![id], read_raw).optional()?;
            row.map(RawRoom::decode).transpose()
        })
    }

    /// Rooms that have not ended (restored at start-up).
    pub fn unfinished_rooms(&self) -> Result<Vec<RoomSpec>, StoreError> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!("SELECT {COLUMNS} FROM rooms WHERE ended_at IS NULL ORDER BY created_at, rowid"))?;
            let rows = stmt.query_map([], read_raw)?.collect::<Result<Vec<_>, _>>()?;
            rows.into_iter().map(RawRoom::decode).collect()
        })
    }

    /// One page of rooms matching `f` at time `now`, oldest first, and the total that match.
    pub fn list_rooms(&self, f: &RoomFilter, now: i64) -> Result<(Vec<RoomSpec>, u64), StoreError> {
        // Every clause is always present and switched off by a NULL parameter, so the SQL text
        // is fixed and every value is bound.
        let state = f.state.map(RoomState::as_str);
        let filter = "(?1 IS NULL
                OR (?1 = 'ended' AND ended_at IS NOT NULL)
                OR (?1 = 'scheduled' AND ended_at IS NULL AND starts_at > ?2)
                OR (?1 = 'open' AND ended_at IS NULL AND (starts_at IS NULL OR starts_at <= ?2)))
              AND (?3 IS NULL OR starts_at >= ?3)
              AND (?4 IS NULL OR starts_at < ?4)";
        self.with(|c| {
            let total: i64 = c.query_row(
                &format!("SELECT COUNT(*) FROM rooms WHERE {filter}"),
                params![state, now, f.starts_from, f.starts_before],
                |r| r.get(0),
            )?;
            let mut stmt =
                c.prepare(&format!("SELECT {COLUMNS} FROM rooms WHERE {filter} ORDER BY created_at, rowid LIMIT ?5 OFFSET ?6"))?;
            let rows = stmt
                .query_map(params![state, now, f.starts_from, f.starts_before, f.limit, f.offset], read_raw)?
                .collect::<Result<Vec<_>, _>>()?;
            let rooms = rows.into_iter().map(RawRoom::decode).collect::<Result<Vec<_>, _>>()?;
            Ok((rooms, total.max(0) as u64))
        })
    }

    /// The setting `key`, created with `make()` on first use (atomic: two callers get the same).
    pub fn setting_or_insert(&self, key: &str, make: impl FnOnce() -> String) -> Result<String, StoreError> {
        self.with(|c| {
            c.execute("INSERT OR IGNORE INTO settings (key, value) VALUES (?1, ?2)", params![key, make()])?;
            Ok(c.query_row("SELECT value FROM settings WHERE key = ?1", params![key], |r| r.get(0))?)
        })
    }
}

/// A row as stored, before its JSON columns are decoded.
struct RawRoom {
    spec: RoomSpec,
    composite: String,
    metadata: Option<String>,
    end_reason: Option<String>,
}

fn read_raw(row: &Row<'_>) -> rusqlite::Result<RawRoom> {
    Ok(RawRoom {
        spec: RoomSpec {
            id: row.get(0)?,
            created_at: row.get(2)?,
            settings: RoomSettings {
                name: row.get(1)?,
                starts_at: row.get(3)?,
                ends_at: row.get(4)?,
                empty_timeout_seconds: row.get(5)?,
                max_participants: row.get(6)?,
                composite: CompositeConfig::default(),
                metadata: None,
                auto_record: row.get(11)?,
                hls: row.get(12)?,
                public: row.get(13)?,
                layout: row.get(14)?,
                hide_audio_only: row.get(15)?,
                chat_enabled: row.get(16)?,
                locked: row.get(17)?,
                lobby: row.get(18)?,
            },
            ended_at: row.get(9)?,
            end_reason: None,
        },
        composite: row.get(7)?,
        metadata: row.get(8)?,
        end_reason: row.get(10)?,
    })
}

impl RawRoom {
    fn decode(self) -> Result<RoomSpec, StoreError> {
        let mut spec = self.spec;
        let corrupt = |what: &str, e: &dyn std::fmt::Display| StoreError::Corrupt(format!("room {}: {what}: {e}", spec.id));
        spec.settings.composite = serde_json::from_str(&self.composite).map_err(|e| corrupt("composite", &e))?;
        spec.settings.metadata = self.metadata.as_deref().map(serde_json::from_str).transpose().map_err(|e| corrupt("metadata", &e))?;
        spec.end_reason = match self.end_reason.as_deref() {
            None => None,
            Some(s) => Some(EndReason::parse(s).ok_or_else(|| corrupt("end_reason", &s))?),
        };
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(id: &str, created: i64, starts: Option<i64>) -> RoomSpec {
        RoomSpec {
            id: id.into(),
            created_at: created,
            settings: RoomSettings {
                name: format!("room {id}"),
                starts_at: starts,
                metadata: Some(serde_json::json!({"crm": 42})),
                auto_record: true,
                layout: "speaker".into(),
                hide_audio_only: true,
                chat_enabled: false,
                locked: true,
                lobby: true,
                ..RoomSettings::default()
            },
            ended_at: None,
            end_reason: None,
        }
    }

    #[test]
    fn rooms_round_trip_and_filter() {
        let s = SqliteStore::open(Path::new(":memory:")).unwrap();
        s.insert_room(&room("a", 1, None)).unwrap();
        s.insert_room(&room("b", 2, Some(1000))).unwrap();
        let mut c = room("c", 3, Some(50));
        s.insert_room(&c).unwrap();
        c.ended_at = Some(60);
        c.end_reason = Some(EndReason::Deleted);
        s.update_room(&c).unwrap();
        assert_eq!(s.get_room("c").unwrap().unwrap(), c);
        assert_eq!(s.get_room("zz").unwrap(), None);

        let ids = |st: Option<RoomState>| {
            let f = RoomFilter { state: st, limit: 10, ..Default::default() };
            s.list_rooms(&f, 100).unwrap().0.into_iter().map(|r| r.id).collect::<Vec<_>>()
        };
        assert_eq!(ids(None), ["a", "b", "c"]);
        assert_eq!(ids(Some(RoomState::Open)), ["a"]);
        assert_eq!(ids(Some(RoomState::Scheduled)), ["b"]);
        assert_eq!(ids(Some(RoomState::Ended)), ["c"]);
        let window = RoomFilter { starts_from: Some(900), starts_before: Some(1001), limit: 10, ..Default::default() };
        assert_eq!(s.list_rooms(&window, 100).unwrap().0.len(), 1);
        let page = RoomFilter { limit: 2, offset: 2, ..Default::default() };
        let (rooms, total) = s.list_rooms(&page, 100).unwrap();
        assert_eq!((rooms.len(), total), (1, 3));
        assert_eq!(s.unfinished_rooms().unwrap().len(), 2);
    }

    #[test]
    fn a_composites_ladder_round_trips_and_a_row_without_one_reads_as_derived() {
        use crate::records::{LadderConfig, RungConfig};
        let s = SqliteStore::open(Path::new(":memory:")).unwrap();
        let mut r = room("a", 1, None);
        let l1 = RungConfig { width: 854, height: 480, fps: 24, bitrate_kbps: 600 };
        r.settings.composite.ladder = LadderConfig { l1: Some(l1), l2: None };
        s.insert_room(&r).unwrap();
        let back = s.get_room("a").unwrap().unwrap();
        assert_eq!(back, r);
        assert_eq!((back.settings.composite.l1(), back.settings.composite.l2().width), (l1, 320));
        // A row written before the ladder was configurable: its composite has no `ladder`.
        s.insert_room(&room("b", 2, None)).unwrap();
        let stored: String = s.with(|c| Ok(c.query_row("SELECT composite FROM rooms WHERE id = 'b'", [], |row| row.get(0))?)).unwrap();
        assert_eq!(stored, r#"{"width":1280,"height":720,"fps":30,"bitrate_kbps":1500}"#, "stored as before");
        s.with(|c| {
            Ok(c.execute(
                "UPDATE rooms SET composite = ?1 WHERE id = 'b'",
                params![r#"{"width":640,"height":360,"fps":30,"bitrate_kbps":600}"#],
            )?)
        })
        .unwrap();
        let old = s.get_room("b").unwrap().unwrap().settings.composite;
        assert!(old.ladder.is_derived());
        assert_eq!(old.l1(), RungConfig { width: 320, height: 180, fps: 30, bitrate_kbps: 180 });
    }

    #[test]
    fn settings_are_created_once_and_survive_reopen() {
        let dir = std::env::temp_dir().join(format!("tessera-store-{}", crate::ids::random_id(8)));
        let path = dir.join("t.db");
        let first = SqliteStore::open(&path).unwrap().setting_or_insert("k", || "one".into()).unwrap();
        let again = SqliteStore::open(&path).unwrap().setting_or_insert("k", || "two".into()).unwrap();
        assert_eq!((first.as_str(), again.as_str()), ("one", "one"));
        let _ = std::fs::remove_dir_all(dir);
    }
}
