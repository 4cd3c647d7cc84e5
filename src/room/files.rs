//! Files shared in a live room's chat: what is stored, what uploads have reserved, and the
//! room's quota. Pure bookkeeping owned by the room's actor; the bytes are written by the HTTP
//! upload (`api/files.rs`) into the paths handed out here.
//!
//! Invariants: stored bytes plus reserved bytes never exceed the quota, and no single file is
//! above the size limit, so an upload is refused before a byte of it is stored; a reservation
//! is either completed (the file is announced) or released (its partial file deleted by the
//! uploader). The room's folder is removed when the room ends.

use crate::protocol::FileInfo;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Limits of file sharing (from the server's config).
#[derive(Debug, Clone)]
pub struct FileLimits {
    /// Where each room gets a folder (`{dir}/{roomId}/`).
    pub dir: PathBuf,
    /// Largest file, bytes.
    pub max_file_bytes: u64,
    /// Bytes stored at once per room.
    pub room_quota_bytes: u64,
}

/// Why an upload was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("the file is {size} bytes; files of at most {max} bytes can be shared")]
    TooLarge { size: u64, max: u64 },
    #[error("the room's files would take more than its quota of {quota} bytes; {free} bytes are free")]
    QuotaExceeded { quota: u64, free: u64 },
    #[error("the host has turned chat and file sharing off in this room")]
    ChatDisabled,
    #[error("only someone in the call can share a file")]
    NotInRoom,
    #[error("no upload in progress with that id")]
    NoUpload,
}

/// An upload allowed to write `part`, then rename it to `path`.
#[derive(Debug, Clone)]
pub struct Slot {
    pub id: String,
    pub part: PathBuf,
    pub path: PathBuf,
    pub size: u64,
}

#[derive(Debug, Clone)]
struct Pending {
    slot: Slot,
    info: FileInfo,
    participant_id: String,
    name: String,
}

/// A stored file and who shared it.
#[derive(Debug, Clone)]
pub struct Stored {
    pub info: FileInfo,
    pub path: PathBuf,
    pub participant_id: String,
    pub name: String,
}

#[derive(Debug)]
pub struct RoomFiles {
    dir: PathBuf,
    limits: FileLimits,
    stored: HashMap<String, Stored>,
    pending: HashMap<String, Pending>,
}

/// A file name as shown and offered for download: no path, no control characters, at most 200
/// characters; empty becomes `file`.
pub fn clean_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let name: String = base.chars().filter(|c| !c.is_control()).take(200).collect();
    // Leading dots and spaces in any mix (".  .. " must not become ".."): no hidden or
    // relative names.
    let name = name.trim_start_matches(|c: char| c == '.' || c.is_whitespace()).trim_end();
    if name.is_empty() { "file".to_owned() } else { name.to_owned() }
}

impl RoomFiles {
    pub fn new(room_id: &str, limits: FileLimits) -> Self {
        Self { dir: limits.dir.join(room_id), limits, stored: HashMap::new(), pending: HashMap::new() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn used(&self) -> u64 {
        self.stored.values().map(|s| s.info.size).chain(self.pending.values().map(|p| p.slot.size)).sum()
    }

    /// Reserves room for an upload of `size` bytes by participant `participant_id` (`name`).
    pub fn reserve(
        &mut self,
        room_id: &str,
        participant: (&str, &str),
        file_name: &str,
        content_type: &str,
        size: u64,
    ) -> Result<Slot, FileError> {
        if size > self.limits.max_file_bytes {
            return Err(FileError::TooLarge { size, max: self.limits.max_file_bytes });
        }
        let used = self.used();
        if used + size > self.limits.room_quota_bytes {
            return Err(FileError::QuotaExceeded {
                quota: self.limits.room_quota_bytes,
                free: self.limits.room_quota_bytes.saturating_sub(used),
            });
        }
        let id = crate::ids::random_id(16);
        let slot = Slot { id: id.clone(), part: self.dir.join(format!("{id}.part")), path: self.dir.join(&id), size };
        let info = FileInfo {
            id: id.clone(),
            name: clean_name(file_name),
            size,
            content_type: content_type.to_owned(),
            url: format!("/api/v1/rooms/{room_id}/files/{id}"),
        };
        let pending = Pending { slot: slot.clone(), info, participant_id: participant.0.into(), name: participant.1.into() };
        self.pending.insert(id, pending);
        Ok(slot)
    }

    /// The upload of `id` is on disk at its path: the file is shared from now on.
    pub fn complete(&mut self, id: &str) -> Result<Stored, FileError> {
        let p = self.pending.remove(id).ok_or(FileError::NoUpload)?;
        let stored = Stored { info: p.info, path: p.slot.path, participant_id: p.participant_id, name: p.name };
        self.stored.insert(id.to_owned(), stored.clone());
        Ok(stored)
    }

    /// The upload of `id` failed or was cancelled (its partial file is the uploader's to delete).
    pub fn release(&mut self, id: &str) {
        self.pending.remove(id);
    }

    pub fn get(&self, id: &str) -> Option<&Stored> {
        self.stored.get(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(max: u64, quota: u64) -> RoomFiles {
        RoomFiles::new("R1", FileLimits { dir: "/tmp/x".into(), max_file_bytes: max, room_quota_bytes: quota })
    }

    #[test]
    fn size_and_quota_are_checked_before_anything_is_stored() {
        let mut f = files(100, 250);
        assert_eq!(f.reserve("R1", ("p", "Ada"), "a", "", 101).unwrap_err(), FileError::TooLarge { size: 101, max: 100 });
        let a = f.reserve("R1", ("p", "Ada"), "a", "", 100).unwrap();
        let b = f.reserve("R1", ("p", "Ada"), "b", "", 100).unwrap();
        // Reservations count: a third 100-byte upload does not fit while two are running.
        assert_eq!(f.reserve("R1", ("p", "Ada"), "c", "", 100).unwrap_err(), FileError::QuotaExceeded { quota: 250, free: 50 });
        f.release(&b.id);
        let stored = f.complete(&a.id).unwrap();
        assert_eq!(stored.info.url, format!("/api/v1/rooms/R1/files/{}", a.id));
        assert!(f.get(&a.id).is_some() && f.get(&b.id).is_none());
        assert!(f.reserve("R1", ("p", "Ada"), "c", "", 100).is_ok());
        assert_eq!(f.complete(&b.id).unwrap_err(), FileError::NoUpload);
        assert_eq!(a.path, Path::new("/tmp/x/R1").join(&a.id));
    }

    #[test]
    fn names_lose_paths_and_controls() {
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("C:\\Users\\a\\report.pdf"), "report.pdf");
        assert_eq!(clean_name("a\u{0}b\nc.txt"), "abc.txt");
        assert_eq!(clean_name(".."), "file");
        assert_eq!(clean_name(""), "file");
        assert_eq!(clean_name(".bashrc"), "bashrc");
        // Found by the upload fuzz (tests/signaling_fuzz.rs): dots and spaces mixed.
        assert_eq!(clean_name(".  .. "), "file");
        assert_eq!(clean_name(" . .x. "), "x.");
    }
}
