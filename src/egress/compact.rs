//! Compacting a finished recording part: the header space reserved for crash safety (robust
//! muxing keeps room at the front for two copies of a header covering the part's whole length:
//! ~8.7 MB for an hour-long part) is given back once the part is closed.
//!
//! The part is rewritten as `ftyp`, `moov`, `mdat` (the header first, so a player starts and
//! seeks without reading the whole file), every chunk offset in `stco`/`co64` moved by the
//! distance the media moved, and every `free`/`skip`/`wide` box dropped. Nothing is decoded or
//! re-muxed: the media bytes are copied as they are.
//!
//! Invariants: the part is never changed in place. The new file is written beside it under a
//! name the part listing ignores ([`temp_path`]: a leading dot), flushed to disk, checked (its
//! header reads, with the same duration), and only then renamed over the part, and the folder is
//! synced; a crash at any point leaves either the old part or the new one, whole, plus possibly
//! a stale temporary file that [`remove_leftovers`] deletes. A file whose layout is not the one
//! described (more than one `mdat`, a chunk offset outside it, fragments) is left as it is.

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Why a part was not compacted (it is left as it was).
#[derive(Debug, thiserror::Error)]
pub enum CompactError {
    #[error("reading or writing the part failed")]
    Io(#[from] std::io::Error),
    #[error("the part's layout is not one compaction understands: {0}")]
    Layout(&'static str),
    #[error("the compacted copy did not read back with the part's duration")]
    Check,
}

/// What compaction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compacted {
    pub before: u64,
    pub after: u64,
}

/// A top-level box: where it starts, its header length and its whole length.
#[derive(Debug, Clone, Copy)]
struct TopBox {
    kind: [u8; 4],
    start: u64,
    header: u64,
    size: u64,
}

fn read_boxes(f: &mut File, len: u64) -> Result<Vec<TopBox>, CompactError> {
    let mut out = Vec::new();
    let mut pos = 0u64;
    while pos < len {
        if len - pos < 8 {
            return Err(CompactError::Layout("bytes after the last box"));
        }
        f.seek(SeekFrom::Start(pos))?;
        let mut head = [0u8; 8];
        f.read_exact(&mut head)?;
        let size32 = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let (size, header) = match size32 {
            0 => (len - pos, 8),
            1 => {
                let mut large = [0u8; 8];
                f.read_exact(&mut large)?;
                (u64::from_be_bytes(large), 16)
            }
            n => (u64::from(n), 8),
        };
        if size < header || size > len - pos {
            return Err(CompactError::Layout("a box runs past the end of the file"));
        }
        let kind = [head[4], head[5], head[6], head[7]];
        out.push(TopBox { kind, start: pos, header, size });
        pos += size;
    }
    Ok(out)
}

/// Moves every chunk offset in `moov` (a whole `moov` box) by `delta`, checking that each lay
/// inside `media` (the old `mdat` payload, as a start and an end).
fn shift_chunk_offsets(moov: &mut [u8], delta: i64, media: (u64, u64)) -> Result<usize, CompactError> {
    fn walk(b: &mut [u8], delta: i64, media: (u64, u64), found: &mut usize) -> Result<(), CompactError> {
        let mut pos = 0usize;
        while pos + 8 <= b.len() {
            let size = u32::from_be_bytes([b[pos], b[pos + 1], b[pos + 2], b[pos + 3]]) as usize;
            let kind: [u8; 4] = [b[pos + 4], b[pos + 5], b[pos + 6], b[pos + 7]];
            if size < 8 || pos + size > b.len() {
                return Err(CompactError::Layout("a header box runs past its parent (or uses a 64-bit size)"));
            }
            let body = &mut b[pos + 8..pos + size];
            match &kind {
                b"trak" | b"mdia" | b"minf" | b"stbl" | b"edts" | b"dinf" => walk(body, delta, media, found)?,
                b"mvex" | b"moof" => return Err(CompactError::Layout("a fragmented file")),
                b"stco" | b"co64" => {
                    let wide = &kind == b"co64";
                    let width = if wide { 8 } else { 4 };
                    if body.len() < 8 {
                        return Err(CompactError::Layout("a short chunk offset table"));
                    }
                    let n = u32::from_be_bytes([body[4], body[5], body[6], body[7]]) as usize;
                    if body.len() < 8 + n * width {
                        return Err(CompactError::Layout("a short chunk offset table"));
                    }
                    for i in 0..n {
                        let at = 8 + i * width;
                        let old = if wide {
                            u64::from_be_bytes(body[at..at + 8].try_into().map_err(|_| CompactError::Layout("co64"))?)
                        } else {
                            u64::from(u32::from_be_bytes(body[at..at + 4].try_into().map_err(|_| CompactError::Layout("stco"))?))
                        };
                        if old < media.0 || old > media.1 {
                            return Err(CompactError::Layout("a chunk offset outside the media data"));
                        }
                        let new = old.checked_add_signed(delta).ok_or(CompactError::Layout("a chunk offset below zero"))?;
                        if wide {
                            body[at..at + 8].copy_from_slice(&new.to_be_bytes());
                        } else {
                            let new = u32::try_from(new).map_err(|_| CompactError::Layout("a chunk offset past 4 GiB in stco"))?;
                            body[at..at + 4].copy_from_slice(&new.to_be_bytes());
                        }
                    }
                    *found += 1;
                }
                _ => {}
            }
            pos += size;
        }
        Ok(())
    }
    if moov.len() < 8 {
        return Err(CompactError::Layout("a short moov"));
    }
    let mut found = 0;
    walk(&mut moov[8..], delta, media, &mut found)?;
    Ok(found)
}

/// Where the compacted copy of `part` is written: beside it, hidden from the part listing.
pub fn temp_path(part: &Path) -> PathBuf {
    let name = part.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    part.with_file_name(format!(".{name}.compact"))
}

/// Compacts the finished part at `path` (see the module documentation). `Ok(None)`: nothing to
/// give back (already compact).
pub fn compact(path: &Path) -> Result<Option<Compacted>, CompactError> {
    let mut f = File::open(path)?;
    let before = f.metadata()?.len();
    let boxes = read_boxes(&mut f, before)?;
    let one = |kind: &[u8; 4]| {
        let mut it = boxes.iter().filter(|b| &b.kind == kind);
        match (it.next(), it.next()) {
            (Some(b), None) => Ok(*b),
            _ => Err(CompactError::Layout("not exactly one ftyp, moov and mdat")),
        }
    };
    let (ftyp, moov, mdat) = (one(b"ftyp")?, one(b"moov")?, one(b"mdat")?);
    if boxes.iter().any(|b| !matches!(&b.kind, b"ftyp" | b"moov" | b"mdat" | b"free" | b"skip" | b"wide")) {
        return Err(CompactError::Layout("a top-level box compaction would have to move"));
    }
    if boxes.len() == 3 && ftyp.start == 0 && moov.start < mdat.start {
        return Ok(None);
    }
    let read = |f: &mut File, b: &TopBox| -> Result<Vec<u8>, CompactError> {
        let len = usize::try_from(b.size).map_err(|_| CompactError::Layout("a huge header"))?;
        let mut v = vec![0u8; len];
        f.seek(SeekFrom::Start(b.start))?;
        f.read_exact(&mut v)?;
        Ok(v)
    };
    let ftyp_bytes = read(&mut f, &ftyp)?;
    let mut moov_bytes = read(&mut f, &moov)?;
    // The media moves from just after the old mdat header to just after the new one.
    let new_mdat = ftyp.size + moov.size;
    let delta = (new_mdat + mdat.header) as i64 - (mdat.start + mdat.header) as i64;
    if shift_chunk_offsets(&mut moov_bytes, delta, (mdat.start + mdat.header, mdat.start + mdat.size))? == 0 {
        return Err(CompactError::Layout("no chunk offset table"));
    }
    let duration = super::mp4::duration_ms(path);
    let tmp = temp_path(path);
    let written = (|| -> Result<u64, CompactError> {
        let mut out = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
        out.write_all(&ftyp_bytes)?;
        out.write_all(&moov_bytes)?;
        f.seek(SeekFrom::Start(mdat.start))?;
        let copied = std::io::copy(&mut (&mut f).take(mdat.size), &mut out)?;
        if copied != mdat.size {
            return Err(CompactError::Layout("the media data ended early"));
        }
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok(file.metadata()?.len())
    })();
    let after = match written {
        Ok(n) if super::mp4::duration_ms(&tmp) == duration && duration.is_some() => n,
        Ok(_) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(CompactError::Check);
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(Some(Compacted { before, after }))
}

/// Whether the MP4 at `path` is compact: exactly `ftyp`, `moov`, `mdat`, in that order (`None`:
/// not readable as boxes).
pub fn is_compact(path: &Path) -> Option<bool> {
    let mut f = File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    let boxes = read_boxes(&mut f, len).ok()?;
    let kinds: Vec<&[u8; 4]> = boxes.iter().map(|b| &b.kind).collect();
    Some(kinds == [b"ftyp", b"moov", b"mdat"])
}

/// Deletes compaction copies a crash left in the recording folder `dir` (the parts themselves
/// are whole either way). Returns how many.
pub fn remove_leftovers(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_str().is_some_and(|n| n.starts_with('.') && n.ends_with(".compact")))
        .filter(|e| std::fs::remove_file(e.path()).is_ok())
        .count()
}

#[cfg(test)]
#[path = "compact_tests.rs"]
mod tests;
