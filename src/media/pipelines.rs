//! The fixed chains an operator may edit: text files in `pipelines/`, read once at start-up and
//! instantiated per room with `{placeholders}` filled from the composite settings.

use crate::records::RungConfig;
use std::path::{Path, PathBuf};

/// Errors reading the pipeline folder.
#[derive(Debug, thiserror::Error)]
pub enum PipelinesError {
    #[error(transparent)]
    Layouts(#[from] crate::layout::LayoutsError),
    #[error("cannot read pipeline description {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The descriptions, with comments removed and lines joined.
#[derive(Debug, Clone)]
pub struct Pipelines {
    pub composite: String,
    pub encode_h264: String,
    pub encode_vp8: String,
    /// What a lower rung of the ladder does to the canvas before its encoder (scale, rate).
    pub rung: String,
    /// The small-screen canvas (run only while a receiver takes it, see `media::small`).
    pub small: String,
    /// Outputs: the recording, RTMP and HLS chains (fed by appsrcs, see `egress`).
    pub record: String,
    pub rtmp: String,
    pub hls: String,
    /// The room's full mix encoded once for all outputs.
    pub audio_aac: String,
    /// The layouts (`layouts.json` in the same folder).
    pub layouts: std::sync::Arc<crate::layout::Layouts>,
}

impl Pipelines {
    pub const FILES: [&'static str; 9] = [
        "composite.pipeline",
        "encode-h264.pipeline",
        "encode-vp8.pipeline",
        "record.pipeline",
        "rtmp.pipeline",
        "hls.pipeline",
        "audio-aac.pipeline",
        "rung.pipeline",
        "small.pipeline",
    ];

    pub fn load(dir: &Path) -> Result<Self, PipelinesError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path).map(|t| strip_comments(&t)).map_err(|source| PipelinesError::Read { path, source })
        };
        Ok(Self {
            composite: read(Self::FILES[0])?,
            encode_h264: read(Self::FILES[1])?,
            encode_vp8: read(Self::FILES[2])?,
            record: read(Self::FILES[3])?,
            rtmp: read(Self::FILES[4])?,
            hls: read(Self::FILES[5])?,
            audio_aac: read(Self::FILES[6])?,
            rung: read(Self::FILES[7])?,
            small: read(Self::FILES[8])?,
            layouts: std::sync::Arc::new(crate::layout::Layouts::load(dir)?),
        })
    }

    /// `(file name, description)` pairs, for checks and error messages.
    pub fn all(&self) -> [(&'static str, &str); 9] {
        [
            (Self::FILES[0], &self.composite),
            (Self::FILES[1], &self.encode_h264),
            (Self::FILES[2], &self.encode_vp8),
            (Self::FILES[3], &self.record),
            (Self::FILES[4], &self.rtmp),
            (Self::FILES[5], &self.hls),
            (Self::FILES[6], &self.audio_aac),
            (Self::FILES[7], &self.rung),
            (Self::FILES[8], &self.small),
        ]
    }
}

fn strip_comments(text: &str) -> String {
    text.lines().map(|l| l.trim()).filter(|l| !l.is_empty() && !l.starts_with('#')).collect::<Vec<_>>().join(" ")
}

/// Fills `{width}`, `{height}`, `{fps}`, `{bitrate_kbps}`, `{bitrate_bps}` and `{keyint}`
/// (two seconds of frames: the longest a receiver that missed a keyframe request waits).
pub fn render(desc: &str, c: &RungConfig) -> String {
    desc.replace("{width}", &c.width.to_string())
        .replace("{height}", &c.height.to_string())
        .replace("{fps}", &c.fps.to_string())
        .replace("{bitrate_kbps}", &c.bitrate_kbps.to_string())
        .replace("{bitrate_bps}", &(c.bitrate_kbps * 1000).to_string())
        .replace("{keyint}", &(c.fps * 2).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_are_stripped_and_placeholders_filled() {
        let d = strip_comments("# hi\nvideotestsrc\n  ! x width={width}\n");
        assert_eq!(d, "videotestsrc ! x width={width}");
        let r = render(&d, &crate::records::CompositeConfig::default().l0());
        assert_eq!(r, "videotestsrc ! x width=1280");
    }

    #[test]
    fn shipped_files_load() {
        let p = Pipelines::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines")).unwrap();
        assert!(p.composite.contains("name=mixer"));
        assert!(p.composite.contains("name=composite"));
    }
}
