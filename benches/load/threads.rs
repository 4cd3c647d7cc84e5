//! CPU by thread role: a server's threads named by what they do.

use super::cpu_seconds;

/// What a server thread does, from its name (GStreamer names a streaming thread after the
/// element that starts it; x264's own threads inherit their creator's name).
fn thread_role(comm: &str) -> &'static str {
    match comm.trim() {
        c if c.starts_with("mix-") => "audio mixer (mix-minus, Opus encode)",
        c if c.starts_with("h264q") || c.starts_with("vp8q") => "video encoder (x264 and its threads, RTP payloader)",
        // Output pipelines (benchmark G): appsrcs `video`/`audio`/`src`, their queues, muxers.
        c if ["queue", "multiqueue", "video:", "audio:", "src:", "mux", "mpegtsmux", "splitmux", "aacparse", "rtmp2"]
            .iter()
            .any(|p| c.starts_with(p)) =>
        {
            "outputs (shared AAC encode, parse, mux, file and socket writes)"
        }
        c if c.starts_with("rtpjitterbuffer") => "ingest (jitter buffer, depayload, decode; per participant)",
        // GLib pool threads (GStreamer's shared task pool): in a room, the compositor's workers
        // scaling each input to its tile and blending.
        c if c.starts_with("mixer") || c.starts_with("mix:") || c.starts_with("pool-") => "compositor (and its scaling workers)",
        c if c.starts_with("tokio") => "async workers (WebRTC: ICE, DTLS, SRTP, RTCP; Opus decode; signaling)",
        _ => "other (placeholders, labels, bus, HTTP)",
    }
}

/// CPU seconds of the server's threads, summed by [`thread_role`].
pub fn cpu_by_role(pid: u32) -> Roles {
    let mut by = Roles::new();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return by };
    for t in dir.flatten() {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        *by.entry(thread_role(&comm)).or_insert(0.0) += cpu_seconds(&t.path().join("stat"));
    }
    by
}

pub type Roles = std::collections::BTreeMap<&'static str, f64>;

/// Cores per role between two [`cpu_by_role`] samples `secs` apart.
pub fn cores_by_role(before: &Roles, after: Roles, secs: f64) -> Roles {
    after.into_iter().map(|(k, v)| (k, (v - before.get(k).unwrap_or(&0.0)) / secs)).collect()
}
