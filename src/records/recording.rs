//! What a recording is, as the store keeps it: its state, times, size and part files. Pure data;
//! the recording pipeline lives in `egress::recording`, reading its parts from disk in
//! `egress::mp4`.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Where a recording is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RecordingState {
    /// Media is being written.
    Recording,
    /// Stopped; the open part is being closed.
    Finalizing,
    /// Every part is closed and playable.
    Complete,
    /// The server stopped (crash, `kill -9`, power loss) while it was recording; the parts on
    /// disk play up to at most ~1.5 s before the stop.
    Interrupted,
    /// It could not be written (`reason` says why); parts written before the failure remain.
    Failed,
}

impl RecordingState {
    pub const ALL: [RecordingState; 5] = [
        RecordingState::Recording,
        RecordingState::Finalizing,
        RecordingState::Complete,
        RecordingState::Interrupted,
        RecordingState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RecordingState::Recording => "recording",
            RecordingState::Finalizing => "finalizing",
            RecordingState::Complete => "complete",
            RecordingState::Interrupted => "interrupted",
            RecordingState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Still being written (or closed): its files change.
    pub fn is_active(self) -> bool {
        matches!(self, RecordingState::Recording | RecordingState::Finalizing)
    }
}

/// One file of a recording (a new part starts before any per-file limit is reached).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Part {
    /// 1-based.
    pub index: u32,
    /// File name inside the recording's folder.
    pub file: String,
    pub bytes: u64,
    /// As written in the file's header (0 while unknown).
    pub duration_ms: u64,
}

/// A recording's record. Times are Unix milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordingRecord {
    pub id: String,
    pub room_id: String,
    pub state: RecordingState,
    pub reason: Option<String>,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    pub duration_ms: Option<u64>,
    pub bytes: u64,
    pub parts: Vec<Part>,
    /// Folder of the part files.
    pub dir: PathBuf,
}

/// The name of part `index` (1-based).
pub fn part_file(index: u32) -> String {
    format!("part-{index:04}.mp4")
}

/// The printf pattern splitmuxsink fills with the part index.
pub const PART_PATTERN: &str = "part-%04d.mp4";

/// The index of a part file's name (`part-0007.mp4` → 7).
pub fn part_index(name: &str) -> Option<u32> {
    name.strip_prefix("part-")?.strip_suffix(".mp4")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_and_part_names_parse() {
        for s in RecordingState::ALL {
            assert_eq!(RecordingState::parse(s.as_str()), Some(s));
        }
        assert_eq!(RecordingState::parse("paused"), None);
        assert_eq!(part_index(&part_file(7)), Some(7));
        assert_eq!(part_index("part-0001.mp4.tmp"), None);
        assert_eq!(part_index("notes.txt"), None);
    }
}
