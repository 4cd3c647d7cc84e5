//! Reads a recording's part files from disk, and each MP4 file's duration from its `moov/mvhd`
//! header without decoding: enough to report
//! the parts of a recording that was cut short (the header is rewritten every 0.5 s while
//! recording, so it holds the duration up to the last rewrite).

use crate::records::recording::{Part, RecordingRecord, part_index};
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// Walks the boxes of `r` between `start` and `end` and returns the (offset, size) of the
/// first box of type `want`'s payload.
fn find_box<R: Read + Seek>(r: &mut R, start: u64, end: u64, want: &[u8; 4]) -> Option<(u64, u64)> {
    let mut pos = start;
    while pos.checked_add(8).is_some_and(|p| p <= end) {
        r.seek(SeekFrom::Start(pos)).ok()?;
        let mut head = [0u8; 8];
        r.read_exact(&mut head).ok()?;
        let size32 = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as u64;
        let (size, header) = match size32 {
            0 => (end.checked_sub(pos)?, 8),
            1 => {
                let mut large = [0u8; 8];
                r.read_exact(&mut large).ok()?;
                (u64::from_be_bytes(large), 16)
            }
            n => (n, 8),
        };
        if size < header {
            return None;
        }
        if &head[4..8] == want {
            return Some((pos + header, size - header));
        }
        pos = pos.checked_add(size)?;
    }
    None
}

/// The duration in the file's movie header, in milliseconds (`None`: no readable header).
pub fn duration_ms(path: &Path) -> Option<u64> {
    let mut f = std::fs::File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    let (moov, moov_len) = find_box(&mut f, 0, len, b"moov")?;
    let (mvhd, _) = find_box(&mut f, moov, moov.checked_add(moov_len)?, b"mvhd")?;
    f.seek(SeekFrom::Start(mvhd)).ok()?;
    let mut version = [0u8; 4];
    f.read_exact(&mut version).ok()?;
    let (timescale, duration) = match version[0] {
        1 => {
            let mut b = [0u8; 28];
            f.read_exact(&mut b).ok()?;
            let d = u64::from_be_bytes(b[20..28].try_into().ok()?);
            (u32::from_be_bytes([b[16], b[17], b[18], b[19]]) as u64, (d != u64::MAX).then_some(d)?)
        }
        0 => {
            let mut b = [0u8; 16];
            f.read_exact(&mut b).ok()?;
            let d = u32::from_be_bytes([b[12], b[13], b[14], b[15]]);
            (u32::from_be_bytes([b[8], b[9], b[10], b[11]]) as u64, (d != u32::MAX).then_some(d as u64)?)
        }
        _ => return None,
    };
    if timescale == 0 {
        return None;
    }
    Some((duration as u128 * 1000 / timescale as u128).min(u64::MAX as u128) as u64)
}

/// Whether the movie header comes before the media data (a player can start and seek without
/// reading the whole file first).
pub fn moov_before_mdat(path: &Path) -> Option<bool> {
    let mut f = std::fs::File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    let moov = find_box(&mut f, 0, len, b"moov")?.0;
    let mdat = find_box(&mut f, 0, len, b"mdat")?.0;
    Some(moov < mdat)
}

/// The part files of a recording in `dir` now, in order, with their sizes and (when the header
/// says) durations. Finished and interrupted recordings are described by this.
pub fn scan_parts(dir: &Path) -> Vec<Part> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut names: Vec<String> =
        entries.filter_map(|e| e.ok()).filter_map(|e| e.file_name().into_string().ok()).filter(|n| part_index(n).is_some()).collect();
    names.sort_by_key(|n| part_index(n));
    names
        .into_iter()
        .filter_map(|file| {
            let path = dir.join(&file);
            let bytes = std::fs::metadata(&path).ok()?.len();
            let duration_ms = duration_ms(&path).unwrap_or(0);
            Some(Part { index: part_index(&file)?, file, bytes, duration_ms })
        })
        .collect()
}

/// Sets a recording's parts, bytes and duration from the files on disk.
pub fn refresh_from_disk(rec: &mut RecordingRecord) {
    rec.parts = scan_parts(&rec.dir);
    rec.bytes = rec.parts.iter().map(|p| p.bytes).sum();
    rec.duration_ms = Some(rec.parts.iter().map(|p| p.duration_ms).sum());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut v = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn reads_the_movie_header_duration() {
        let mut mvhd = vec![0u8; 4]; // version 0, flags
        mvhd.extend_from_slice(&[0; 8]); // creation, modification
        mvhd.extend_from_slice(&1000u32.to_be_bytes()); // timescale
        mvhd.extend_from_slice(&65_500u32.to_be_bytes()); // duration
        mvhd.extend_from_slice(&[0; 80]);
        let mut file = boxed(b"ftyp", b"isom");
        file.extend(boxed(b"moov", &boxed(b"mvhd", &mvhd)));
        file.extend(boxed(b"mdat", &[1, 2, 3]));
        let path = std::env::temp_dir().join(format!("tessera-mp4-{}.mp4", crate::ids::random_id(8)));
        std::fs::write(&path, &file).unwrap();
        assert_eq!(duration_ms(&path), Some(65_500));
        assert_eq!(moov_before_mdat(&path), Some(true));
        std::fs::write(&path, &file[..20]).unwrap();
        assert_eq!(duration_ms(&path), None, "a cut header is not read");
        let _ = std::fs::remove_file(path);
    }
}
