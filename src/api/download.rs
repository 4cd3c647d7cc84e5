//! Serving a file with HTTP range support (RFC 9110 §14): `Range: bytes=a-b`, `bytes=a-` and
//! `bytes=-n` give `206 Partial Content` with `Content-Range`; a range past the end gives `416`
//! with `Content-Range: bytes */len`; no header, several ranges or an invalid one give the whole
//! file with `200`. Every answer says `Accept-Ranges: bytes`. The body is streamed in 64 KiB
//! chunks from a task, so a large file is never held in memory.

use super::rejection::ApiError;
use bytes::Bytes;
use futures::SinkExt;
use std::path::Path;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use warp::Reply;
use warp::http::{HeaderValue, StatusCode};
use warp::reply::Response;

const CHUNK: usize = 64 * 1024;

/// A byte range of a file of `len` bytes, inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub end: u64,
}

/// Parses a `Range` header against a file of `len` bytes. `Ok(None)`: serve the whole file (no
/// header, another unit, several ranges, or a header that is not valid syntax, which RFC 9110
/// says to ignore); `Err`: a valid range that cannot be satisfied (`416`).
pub fn parse_range(header: Option<&str>, len: u64) -> Result<Option<ByteRange>, ApiError> {
    let Some(h) = header.map(str::trim) else { return Ok(None) };
    let Some(spec) = h.get(..6).filter(|u| u.eq_ignore_ascii_case("bytes=")).map(|_| &h[6..]) else { return Ok(None) };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.split_once('-') else { return Ok(None) };
    // `1*DIGIT` only: no signs, no spaces inside.
    let num =
        |s: &str| Some(s.trim()).filter(|t| !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit())).and_then(|t| t.parse::<u64>().ok());
    let range = match (num(a), num(b), a.trim().is_empty()) {
        (None, Some(n), true) => {
            if n == 0 || len == 0 {
                return Err(ApiError::RangeNotSatisfiable(len));
            }
            ByteRange { start: len.saturating_sub(n), end: len - 1 }
        }
        (Some(start), end, false) if b.trim().is_empty() || end.is_some() => {
            if end.is_some_and(|e| e < start) {
                return Ok(None);
            }
            if start >= len {
                return Err(ApiError::RangeNotSatisfiable(len));
            }
            ByteRange { start, end: end.map_or(len - 1, |e| e.min(len - 1)) }
        }
        _ => return Ok(None),
    };
    Ok(Some(range))
}

/// Serves `path` (whole or the requested range) as `content_type`, offered for download as
/// `filename`.
pub async fn serve(path: &Path, range: Option<&str>, content_type: &'static str, filename: &str) -> Result<Response, ApiError> {
    let mut file = tokio::fs::File::open(path).await.map_err(|_| ApiError::NotFound("file_not_found", "the file is not on disk".into()))?;
    let len = file.metadata().await.map_err(|_| ApiError::NotFound("file_not_found", "the file is not on disk".into()))?.len();
    let wanted = parse_range(range, len)?;
    let (start, count, status) = match wanted {
        Some(r) => (r.start, r.end - r.start + 1, StatusCode::PARTIAL_CONTENT),
        None => (0, len, StatusCode::OK),
    };
    if start > 0 {
        file.seek(std::io::SeekFrom::Start(start)).await.map_err(|e| ApiError::Storage(format!("the file could not be read: {e}")))?;
    }
    let (mut tx, rx) = futures::channel::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::spawn(async move {
        let mut left = count;
        let mut buf = vec![0u8; CHUNK];
        while left > 0 {
            let want = (left as usize).min(CHUNK);
            match file.read(&mut buf[..want]).await {
                Ok(0) => break,
                Ok(n) => {
                    left -= n as u64;
                    if tx.send(Ok(Bytes::copy_from_slice(&buf[..n]))).await.is_err() {
                        break; // the client went away
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    break;
                }
            }
        }
    });
    let mut resp = warp::reply::stream(rx).into_response();
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert("content-type", HeaderValue::from_static(content_type));
    h.insert("accept-ranges", HeaderValue::from_static("bytes"));
    h.insert("content-length", HeaderValue::from(count));
    if status == StatusCode::PARTIAL_CONTENT
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {}-{}/{len}", start, start + count - 1))
    {
        h.insert("content-range", v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"{filename}\"")) {
        h.insert("content-disposition", v);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_like_rfc_9110() {
        let r = |h: &str| parse_range(Some(h), 1000);
        assert_eq!(r("bytes=0-99").unwrap(), Some(ByteRange { start: 0, end: 99 }));
        assert_eq!(r("bytes=500-").unwrap(), Some(ByteRange { start: 500, end: 999 }));
        assert_eq!(r("bytes=-100").unwrap(), Some(ByteRange { start: 900, end: 999 }));
        assert_eq!(r("bytes=990-5000").unwrap(), Some(ByteRange { start: 990, end: 999 }), "an end past the file is clamped");
        assert_eq!(r("bytes=-5000").unwrap(), Some(ByteRange { start: 0, end: 999 }));
        assert_eq!(r("bytes=0-1,5-6").unwrap(), None, "several ranges: the whole file");
        assert_eq!(r("items=0-1").unwrap(), None);
        assert_eq!(parse_range(None, 1000).unwrap(), None);
        assert!(matches!(r("bytes=1000-"), Err(ApiError::RangeNotSatisfiable(1000))));
        assert!(matches!(r("bytes=-0"), Err(ApiError::RangeNotSatisfiable(1000))));
        assert_eq!(r("Bytes=0-0").unwrap(), Some(ByteRange { start: 0, end: 0 }), "the unit is case-insensitive");
        for invalid in ["bytes=5-1", "bytes=x-1", "bytes=-", "bytes=+5-", "bytes=1", "bytes=1-2-3"] {
            assert_eq!(r(invalid).unwrap(), None, "{invalid} is not valid syntax: ignored, the whole file is served");
        }
    }
}
