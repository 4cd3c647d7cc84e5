//! Reading a client's offer before answering it: which media it wants to receive, and which
//! video codec to send it (H.264 constrained-baseline-compatible when offered, else VP8).

use crate::media::VideoCodec;

/// What an offer asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferSummary {
    /// The client can receive audio (an audio section that is `sendrecv` or `recvonly`).
    pub receives_audio: bool,
    /// The video codec to send, if the client can receive video.
    pub receive_video: Option<VideoCodec>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SdpError {
    #[error("the offer has no audio or video section")]
    NoMedia,
    #[error("the offer's video section has neither H264 (packetization-mode=1) nor VP8")]
    NoVideoCodec,
    #[error("the offer is not SDP (it must start with v=0)")]
    NotSdp,
}

/// Whether an H.264 fmtp line describes a stream a constrained-baseline stream can go to.
fn h264_ok(fmtp: &str) -> bool {
    let mut mode1 = false;
    let mut profile_ok = true;
    for kv in fmtp.split(';') {
        let (k, v) = kv.trim().split_once('=').unwrap_or((kv.trim(), ""));
        match k {
            "packetization-mode" => mode1 = v == "1",
            // Baseline (42), main (4d) and high (64) decoders all decode constrained baseline.
            "profile-level-id" => profile_ok = v.len() == 6 && matches!(&v[..2].to_ascii_lowercase()[..], "42" | "4d" | "64"),
            _ => {}
        }
    }
    mode1 && profile_ok
}

pub fn summarize(offer: &str) -> Result<OfferSummary, SdpError> {
    if !offer.trim_start().starts_with("v=0") {
        return Err(SdpError::NotSdp);
    }
    let mut sections: Vec<(String, Vec<&str>)> = Vec::new();
    for line in offer.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("m=") {
            sections.push((rest.split_whitespace().next().unwrap_or_default().to_owned(), Vec::new()));
        } else if let Some((_, attrs)) = sections.last_mut() {
            attrs.push(line);
        }
    }
    if !sections.iter().any(|(k, _)| k == "audio" || k == "video") {
        return Err(SdpError::NoMedia);
    }
    let receives = |attrs: &[&str]| {
        !attrs.iter().any(|a| *a == "a=sendonly" || *a == "a=inactive") && !attrs.iter().any(|a| a.starts_with("m=") && a.contains(" 0 "))
    };
    let mut summary = OfferSummary { receives_audio: false, receive_video: None };
    for (kind, attrs) in &sections {
        match kind.as_str() {
            "audio" if receives(attrs) => summary.receives_audio = true,
            "video" if receives(attrs) && summary.receive_video.is_none() => {
                let mut h264_pts = Vec::new();
                let mut vp8 = false;
                for a in attrs {
                    if let Some(rest) = a.strip_prefix("a=rtpmap:") {
                        let (pt, enc) = rest.split_once(' ').unwrap_or((rest, ""));
                        let name = enc.split('/').next().unwrap_or_default().to_ascii_uppercase();
                        if name == "H264" {
                            h264_pts.push(pt.to_owned());
                        } else if name == "VP8" {
                            vp8 = true;
                        }
                    }
                }
                let h264 = attrs.iter().any(|a| {
                    a.strip_prefix("a=fmtp:")
                        .and_then(|r| r.split_once(' '))
                        .is_some_and(|(pt, f)| h264_pts.iter().any(|p| p == pt) && h264_ok(f))
                });
                summary.receive_video = Some(if h264 {
                    VideoCodec::H264
                } else if vp8 {
                    VideoCodec::Vp8
                } else {
                    return Err(SdpError::NoVideoCodec);
                });
            }
            _ => {}
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n";

    #[test]
    fn prefers_h264_when_offered() {
        let sdp = format!(
            "{BASE}m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\na=sendrecv\r\n\
             m=video 9 UDP/TLS/RTP/SAVPF 96 102\r\na=rtpmap:96 VP8/90000\r\na=rtpmap:102 H264/90000\r\n\
             a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\na=sendrecv\r\n"
        );
        assert_eq!(summarize(&sdp).unwrap(), OfferSummary { receives_audio: true, receive_video: Some(VideoCodec::H264) });
    }

    #[test]
    fn vp8_when_h264_is_mode0_only_and_sendonly_means_no_receive() {
        let sdp = format!(
            "{BASE}m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=sendonly\r\n\
             m=video 9 UDP/TLS/RTP/SAVPF 96 102\r\na=rtpmap:96 VP8/90000\r\na=rtpmap:102 H264/90000\r\n\
             a=fmtp:102 packetization-mode=0;profile-level-id=42e01f\r\na=recvonly\r\n"
        );
        assert_eq!(summarize(&sdp).unwrap(), OfferSummary { receives_audio: false, receive_video: Some(VideoCodec::Vp8) });
    }

    #[test]
    fn rejects_junk() {
        assert_eq!(summarize("hello"), Err(SdpError::NotSdp));
        assert_eq!(summarize(BASE), Err(SdpError::NoMedia));
        let sdp = format!("{BASE}m=video 9 UDP/TLS/RTP/SAVPF 98\r\na=rtpmap:98 VP9/90000\r\n");
        assert_eq!(summarize(&sdp), Err(SdpError::NoVideoCodec));
    }
}
