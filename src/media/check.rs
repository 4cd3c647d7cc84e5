//! Start-up check: every GStreamer element the server will create must exist, and every
//! pipeline file must parse. A missing element is named with the Debian package providing it.

use super::pipelines::{Pipelines, render};
use crate::records::CompositeConfig;
use gstreamer as gst;

/// Elements created by code, with the Debian package that provides each.
const CODE_ELEMENTS: &[(&str, &str)] = &[
    ("appsrc", "gstreamer1.0-plugins-base"),
    ("appsink", "gstreamer1.0-plugins-base"),
    ("videoconvert", "gstreamer1.0-plugins-base"),
    ("videotestsrc", "gstreamer1.0-plugins-base"),
    ("compositor", "gstreamer1.0-plugins-base"),
    ("queue", "libgstreamer1.0-0"),
    ("capsfilter", "libgstreamer1.0-0"),
    ("tee", "libgstreamer1.0-0"),
    ("textoverlay", "gstreamer1.0-x"),
    ("aspectratiocrop", "gstreamer1.0-plugins-good"),
    ("rtpjitterbuffer", "gstreamer1.0-plugins-good"),
    ("rtpvp8depay", "gstreamer1.0-plugins-good"),
    ("rtph264depay", "gstreamer1.0-plugins-good"),
    ("vp8dec", "gstreamer1.0-plugins-good"),
    ("avdec_h264", "gstreamer1.0-libav"),
];

/// Debian packages of elements the shipped pipeline files use or an operator is likely to.
const KNOWN_PACKAGES: &[(&str, &str)] = &[
    ("x264enc", "gstreamer1.0-plugins-ugly"),
    ("vp8enc", "gstreamer1.0-plugins-good"),
    ("vp9enc", "gstreamer1.0-plugins-good"),
    ("rtph264pay", "gstreamer1.0-plugins-good"),
    ("rtpvp8pay", "gstreamer1.0-plugins-good"),
    ("openh264enc", "gstreamer1.0-plugins-bad"),
    ("vaapih264enc", "gstreamer1.0-vaapi"),
    ("avenc_h264_omx", "gstreamer1.0-libav"),
    ("h264parse", "gstreamer1.0-plugins-bad"),
    ("aacparse", "gstreamer1.0-plugins-good"),
    ("avenc_aac", "gstreamer1.0-libav"),
    ("voaacenc", "gstreamer1.0-plugins-bad"),
    ("audioconvert", "gstreamer1.0-plugins-base"),
    ("splitmuxsink", "gstreamer1.0-plugins-good"),
    ("mp4mux", "gstreamer1.0-plugins-good"),
    ("flvmux", "gstreamer1.0-plugins-good"),
    ("rtmp2sink", "gstreamer1.0-plugins-bad"),
    ("hlssink2", "gstreamer1.0-plugins-bad"),
    ("mpegtsmux", "gstreamer1.0-plugins-bad"),
];

/// Errors that stop the server from starting.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("GStreamer failed to initialise")]
    Init(#[source] gst::glib::Error),
    #[error("missing GStreamer elements: {0} (install with: apt-get install {1})")]
    Missing(String, String),
    #[error("pipeline file {file} is not usable: {message}")]
    Pipeline { file: String, message: String },
}

fn package_of(factory: &str) -> &'static str {
    CODE_ELEMENTS
        .iter()
        .chain(KNOWN_PACKAGES)
        .find(|(f, _)| *f == factory)
        .map(|(_, p)| *p)
        .unwrap_or("the package providing it (try `apt-file search libgst`)")
}

/// The element names in a description: words outside quoted values (`font-desc="Sans 20"`)
/// that are not properties (`a=b`), caps (`video/x-raw,…`) or pad references (`mux.`,
/// `sink.video`).
fn factories(desc: &str) -> impl Iterator<Item = &str> {
    desc.split('"').step_by(2).flat_map(|unquoted| {
        unquoted
            .split(|c: char| c == '!' || c.is_whitespace())
            .filter(|w| !w.is_empty() && !w.contains(['=', '/', '.', ',', '"', '(', ')']))
    })
}

/// Initialises GStreamer and checks elements and pipeline files.
pub fn check(pipelines: &Pipelines, composite: &CompositeConfig) -> Result<(), CheckError> {
    gst::init().map_err(CheckError::Init)?;
    let mut missing: Vec<&str> = CODE_ELEMENTS.iter().map(|(f, _)| *f).filter(|f| gst::ElementFactory::find(f).is_none()).collect();
    for (file, desc) in pipelines.all() {
        for factory in factories(desc) {
            if gst::ElementFactory::find(factory).is_none() {
                missing.push(factory);
            }
        }
        if missing.is_empty() {
            gst::parse::bin_from_description(&render(desc, &composite.l0()), true)
                .map_err(|e| CheckError::Pipeline { file: file.to_owned(), message: e.to_string() })?;
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    missing.sort();
    missing.dedup();
    let mut packages: Vec<&str> = missing.iter().map(|f| package_of(f)).collect();
    packages.sort();
    packages.dedup();
    Err(CheckError::Missing(missing.join(", "), packages.join(" ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_package_of_a_missing_element() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines");
        let mut p = Pipelines::load(&dir).unwrap();
        check(&p, &CompositeConfig::default()).unwrap();
        p.encode_h264 = p.encode_h264.replace("x264enc", "nosuchenc264");
        let e = check(&p, &CompositeConfig::default()).unwrap_err().to_string();
        assert!(e.contains("nosuchenc264"), "{e}");
        assert_eq!(package_of("x264enc"), "gstreamer1.0-plugins-ugly");
        let words: Vec<&str> = factories("appsrc name=a ! video/x-raw,width=2 ! q.sink_0 mux. splitmuxsink name=s").collect();
        assert_eq!(words, ["appsrc", "splitmuxsink"]);
        let words: Vec<&str> = factories(r#"textoverlay font-desc="Sans Bold 22" silent=true ! tee"#).collect();
        assert_eq!(words, ["textoverlay", "tee"], "quoted values are no elements");
    }
}
