//! A second, independent reader of our files: FFmpeg's own MP4 demuxer (Debian's `ffmpeg`),
//! beside GStreamer's qtdemux that [`super::decode`] uses.

use std::process::Command;

/// What FFmpeg makes of a file.
#[derive(Debug)]
pub struct Probed {
    /// The container's duration, in ms.
    pub duration_ms: u64,
    /// `codec_name`s of its streams, in order.
    pub codecs: Vec<String>,
}

/// Probes `path`, decodes all of it (every error is fatal, `-xerror`), then seeks to `seek_ms`
/// and decodes one picture there as RGB. Err with FFmpeg's own words when any step fails.
pub fn check(path: &std::path::Path, seek_ms: u64) -> Result<Probed, String> {
    let out = |cmd: &mut Command| -> Result<Vec<u8>, String> {
        let o = cmd.output().map_err(|e| format!("cannot run {cmd:?}: {e} (make deps installs ffmpeg)"))?;
        let err = String::from_utf8_lossy(&o.stderr).trim().to_owned();
        if !o.status.success() || !err.is_empty() {
            return Err(format!("{cmd:?}: {} {err}", o.status));
        }
        Ok(o.stdout)
    };
    let probe =
        out(Command::new("ffprobe").args(["-v", "error", "-show_entries", "format=duration:stream=codec_name", "-of", "json"]).arg(path))?;
    let v: serde_json::Value = serde_json::from_slice(&probe).map_err(|e| format!("ffprobe's JSON: {e}"))?;
    let duration = v["format"]["duration"].as_str().and_then(|d| d.parse::<f64>().ok()).ok_or(format!("no duration: {v}"))?;
    let codecs = v["streams"].as_array().into_iter().flatten().filter_map(|s| s["codec_name"].as_str().map(str::to_owned)).collect();
    out(Command::new("ffmpeg").args(["-nostdin", "-v", "error", "-xerror", "-i"]).arg(path).args(["-f", "null", "-"]))?;
    let seek = format!("{:.3}", seek_ms as f64 / 1000.0);
    let picture = out(Command::new("ffmpeg").args(["-nostdin", "-v", "error", "-ss", &seek, "-i"]).arg(path).args([
        "-frames:v",
        "1",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-",
    ]))?;
    if picture.len() != 1280 * 720 * 3 {
        return Err(format!("the picture at {seek} s has {} bytes, not one 1280×720 RGB picture", picture.len()));
    }
    Ok(Probed { duration_ms: (duration * 1000.0).round() as u64, codecs })
}
