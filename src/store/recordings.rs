//! The recordings index: one row per recording, written before its first byte and at each
//! change of state (see `migrations/0002_recordings.sql`).

use super::RecordingFilter;
use super::StoreError;
use super::sqlite::SqliteStore;
use crate::records::recording::{Part, RecordingRecord, RecordingState};
use rusqlite::{OptionalExtension, Row, params};

const COLUMNS: &str = "id, room_id, state, reason, started_at, ended_at, duration_ms, bytes, parts, dir";

struct Raw {
    rec: RecordingRecord,
    state: String,
    parts: String,
}

fn read(row: &Row<'_>) -> rusqlite::Result<Raw> {
    let dir: String = row.get(9)?;
    Ok(Raw {
        rec: RecordingRecord {
            id: row.get(0)?,
            room_id: row.get(1)?,
            state: RecordingState::Recording,
            reason: row.get(3)?,
            started_at: row.get(4)?,
            ended_at: row.get(5)?,
            duration_ms: row.get::<_, Option<i64>>(6)?.map(|d| d.max(0) as u64),
            bytes: row.get::<_, i64>(7)?.max(0) as u64,
            parts: Vec::new(),
            dir: dir.into(),
        },
        state: row.get(2)?,
        parts: row.get(8)?,
    })
}

impl Raw {
    fn decode(self) -> Result<RecordingRecord, StoreError> {
        let mut r = self.rec;
        r.state =
            RecordingState::parse(&self.state).ok_or_else(|| StoreError::Corrupt(format!("recording {}: state {:?}", r.id, self.state)))?;
        r.parts =
            serde_json::from_str::<Vec<Part>>(&self.parts).map_err(|e| StoreError::Corrupt(format!("recording {}: parts: {e}", r.id)))?;
        Ok(r)
    }
}

impl SqliteStore {
    /// Inserts or replaces the whole record.
    pub fn put_recording(&self, r: &RecordingRecord) -> Result<(), StoreError> {
        let parts = serde_json::to_string(&r.parts).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.with(|c| {
            c.execute(
                &format!("INSERT OR REPLACE INTO recordings ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
                params![
                    r.id,
                    r.room_id,
                    r.state.as_str(),
                    r.reason,
                    r.started_at,
                    r.ended_at,
                    r.duration_ms.map(|d| d as i64),
                    r.bytes as i64,
                    parts,
                    r.dir.to_string_lossy()
                ],
            )?;
            Ok(())
        })
    }

    pub fn get_recording(&self, id: &str) -> Result<Option<RecordingRecord>, StoreError> {
        self.with(|c| {
            let raw = c.query_row(&format!("SELECT {COLUMNS} FROM recordings WHERE id = ?1"), params![id], read).optional()?;
            raw.map(Raw::decode).transpose()
        })
    }

    pub fn delete_recording(&self, id: &str) -> Result<bool, StoreError> {
        self.with(|c| Ok(c.execute("DELETE FROM recordings WHERE id = ?1", params![id])? > 0))
    }

    /// Recordings that were being written (at start-up: cut short by the stop).
    pub fn active_recordings(&self) -> Result<Vec<RecordingRecord>, StoreError> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!("SELECT {COLUMNS} FROM recordings WHERE state IN ('recording', 'finalizing')"))?;
            let rows = stmt.query_map([], read)?.collect::<Result<Vec<_>, _>>()?;
            rows.into_iter().map(Raw::decode).collect()
        })
    }

    /// One page of recordings matching `f`, newest first, and the total that match.
    pub fn list_recordings(&self, f: &RecordingFilter) -> Result<(Vec<RecordingRecord>, u64), StoreError> {
        let filter = "(?1 IS NULL OR room_id = ?1) AND (?2 IS NULL OR state = ?2)";
        let state = f.state.map(RecordingState::as_str);
        self.with(|c| {
            let total: i64 =
                c.query_row(&format!("SELECT COUNT(*) FROM recordings WHERE {filter}"), params![f.room_id, state], |r| r.get(0))?;
            let mut stmt = c.prepare(&format!(
                "SELECT {COLUMNS} FROM recordings WHERE {filter} ORDER BY started_at DESC, rowid DESC LIMIT ?3 OFFSET ?4"
            ))?;
            let rows = stmt.query_map(params![f.room_id, state, f.limit, f.offset], read)?.collect::<Result<Vec<_>, _>>()?;
            let list = rows.into_iter().map(Raw::decode).collect::<Result<Vec<_>, _>>()?;
            Ok((list, total.max(0) as u64))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn rec(id: &str, room: &str, started: i64, state: RecordingState) -> RecordingRecord {
        RecordingRecord {
            id: id.into(),
            room_id: room.into(),
            state,
            reason: None,
            started_at: started,
            ended_at: None,
            duration_ms: None,
            bytes: 0,
            parts: vec![Part { index: 1, file: "part-0001.mp4".into(), bytes: 10, duration_ms: 5 }],
            dir: "/tmp/x".into(),
        }
    }

    #[test]
    fn recordings_round_trip_filter_and_page() {
        let s = SqliteStore::open(Path::new(":memory:")).unwrap();
        s.put_recording(&rec("a", "r1", 1, RecordingState::Complete)).unwrap();
        s.put_recording(&rec("b", "r1", 2, RecordingState::Recording)).unwrap();
        let mut c = rec("c", "r2", 3, RecordingState::Finalizing);
        s.put_recording(&c).unwrap();
        assert_eq!(s.get_recording("a").unwrap().unwrap(), rec("a", "r1", 1, RecordingState::Complete));
        c.state = RecordingState::Failed;
        c.reason = Some("disk full".into());
        s.put_recording(&c).unwrap();
        assert_eq!(s.get_recording("c").unwrap().unwrap().reason.as_deref(), Some("disk full"));
        let ids = |f: RecordingFilter| {
            s.list_recordings(&RecordingFilter { limit: 10, ..f }).unwrap().0.into_iter().map(|r| r.id).collect::<Vec<_>>()
        };
        assert_eq!(ids(RecordingFilter::default()), ["c", "b", "a"], "newest first");
        assert_eq!(ids(RecordingFilter { room_id: Some("r1".into()), ..Default::default() }), ["b", "a"]);
        assert_eq!(ids(RecordingFilter { state: Some(RecordingState::Failed), ..Default::default() }), ["c"]);
        let (page, total) = s.list_recordings(&RecordingFilter { limit: 1, offset: 1, ..Default::default() }).unwrap();
        assert_eq!((page.len(), total, page[0].id.as_str()), (1, 3, "b"));
        assert_eq!(s.active_recordings().unwrap().into_iter().map(|r| r.id).collect::<Vec<_>>(), ["b"]);
        assert!(s.delete_recording("b").unwrap());
        assert!(!s.delete_recording("b").unwrap());
    }
}
