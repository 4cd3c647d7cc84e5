//! Reading a client's offer before answering it: which media it wants to receive, and which
//! video codec to send it (H.264 constrained-baseline-compatible when offered, else VP8); and
//! whether a WHIP encoder's offer can be taken at all ([`check_ingest`]).

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

/// One media section of an offer: its kind (`audio`, `video`, …), port and attribute lines.
struct Section<'a> {
    kind: &'a str,
    port: &'a str,
    attrs: Vec<&'a str>,
}

impl Section<'_> {
    fn has(&self, attr: &str) -> bool {
        self.attrs.contains(&attr)
    }

    /// (payload type, encoding name in capitals) of each `a=rtpmap`.
    fn codecs(&self) -> Vec<(&str, String)> {
        self.attrs
            .iter()
            .filter_map(|a| a.strip_prefix("a=rtpmap:"))
            .filter_map(|r| {
                let (pt, enc) = r.split_once(' ')?;
                Some((pt, enc.split('/').next().unwrap_or_default().to_ascii_uppercase()))
            })
            .collect()
    }

    /// Whether an `a=fmtp` line of payload type `pt` satisfies `ok`.
    fn fmtp(&self, pt: &str, ok: impl Fn(&str) -> bool) -> bool {
        self.attrs.iter().filter_map(|a| a.strip_prefix("a=fmtp:")).filter_map(|r| r.split_once(' ')).any(|(p, f)| p == pt && ok(f))
    }
}

/// The media sections of an offer that is SDP (`v=0` first) with an audio or video section.
fn sections(offer: &str) -> Result<Vec<Section<'_>>, SdpError> {
    if !offer.trim_start().starts_with("v=0") {
        return Err(SdpError::NotSdp);
    }
    let mut sections: Vec<Section<'_>> = Vec::new();
    for line in offer.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("m=") {
            let mut words = rest.split_whitespace();
            sections.push(Section { kind: words.next().unwrap_or_default(), port: words.next().unwrap_or_default(), attrs: Vec::new() });
        } else if let Some(s) = sections.last_mut() {
            s.attrs.push(line);
        }
    }
    if !sections.iter().any(|s| s.kind == "audio" || s.kind == "video") {
        return Err(SdpError::NoMedia);
    }
    Ok(sections)
}

pub fn summarize(offer: &str) -> Result<OfferSummary, SdpError> {
    let mut summary = OfferSummary { receives_audio: false, receive_video: None };
    for s in sections(offer)? {
        let receives = !s.has("a=sendonly") && !s.has("a=inactive");
        match s.kind {
            "audio" if receives => summary.receives_audio = true,
            "video" if receives && summary.receive_video.is_none() => {
                let codecs = s.codecs();
                let h264 = codecs.iter().any(|(pt, n)| n == "H264" && s.fmtp(pt, h264_ok));
                summary.receive_video = Some(if h264 {
                    VideoCodec::H264
                } else if codecs.iter().any(|(_, n)| n == "VP8") {
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

/// What a WHIP encoder's offer sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestOffer {
    pub audio: bool,
    pub video: Option<VideoCodec>,
}

/// Why a WHIP encoder's offer cannot be taken.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IngestSdpError {
    /// Not SDP, or no media section at all.
    #[error(transparent)]
    Malformed(#[from] SdpError),
    #[error("the offer sends no audio or video (every section is recvonly, inactive or rejected)")]
    NothingSent,
    #[error("the offer sends more than one {0} track; a WHIP stream carries at most one audio and one video track")]
    TooMany(&'static str),
    #[error("the offer's audio section has no Opus")]
    NoAudioCodec,
    #[error("the offer's video section has neither VP8 nor H264 with packetization-mode=1")]
    NoVideoCodec,
}

/// Checks a WHIP encoder's offer before anything is set up (RFC 9725: one audio and one video
/// track at most; we take Opus, and VP8 or H.264 of any profile in packetization mode 1).
/// Sections that only receive, are inactive or rejected (port 0), and data channels are
/// ignored; the answer declines them.
pub fn check_ingest(offer: &str) -> Result<IngestOffer, IngestSdpError> {
    let mut found = IngestOffer { audio: false, video: None };
    let mut videos = 0;
    for s in sections(offer)? {
        if s.port == "0" || s.has("a=recvonly") || s.has("a=inactive") {
            continue;
        }
        let codecs = s.codecs();
        match s.kind {
            "audio" => {
                if found.audio {
                    return Err(IngestSdpError::TooMany("audio"));
                }
                if !codecs.iter().any(|(_, n)| n == "OPUS") {
                    return Err(IngestSdpError::NoAudioCodec);
                }
                found.audio = true;
            }
            "video" => {
                videos += 1;
                if videos > 1 {
                    return Err(IngestSdpError::TooMany("video"));
                }
                let mode1 = |f: &str| f.split(';').any(|kv| kv.trim().eq_ignore_ascii_case("packetization-mode=1"));
                let h264 = codecs.iter().any(|(pt, n)| n == "H264" && s.fmtp(pt, mode1));
                let vp8 = codecs.iter().any(|(_, n)| n == "VP8");
                found.video = Some(match (vp8, h264) {
                    (true, _) => VideoCodec::Vp8,
                    (false, true) => VideoCodec::H264,
                    (false, false) => return Err(IngestSdpError::NoVideoCodec),
                });
            }
            _ => {}
        }
    }
    if !found.audio && found.video.is_none() {
        return Err(IngestSdpError::NothingSent);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whip_offers() {
        let obs = format!(
            "{BASE}m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\na=sendonly\r\n\
             m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 H264/90000\r\n\
             a=fmtp:96 packetization-mode=1;profile-level-id=4d001f\r\na=sendonly\r\n"
        );
        assert_eq!(check_ingest(&obs), Ok(IngestOffer { audio: true, video: Some(VideoCodec::H264) }), "OBS: main profile");
        let audio_only = format!("{BASE}m=audio 9 UDP/TLS/RTP/SAVPF 100\r\na=rtpmap:100 OPUS/48000/2\r\n");
        assert_eq!(check_ingest(&audio_only), Ok(IngestOffer { audio: true, video: None }), "no direction is sendrecv");
        let recv = format!("{BASE}m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\na=recvonly\r\n");
        assert_eq!(check_ingest(&recv), Err(IngestSdpError::NothingSent));
        let rejected = format!("{BASE}m=audio 0 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n");
        assert_eq!(check_ingest(&rejected), Err(IngestSdpError::NothingSent));
        let two = format!("{audio_only}m=audio 9 UDP/TLS/RTP/SAVPF 100\r\na=rtpmap:100 opus/48000/2\r\n");
        assert_eq!(check_ingest(&two), Err(IngestSdpError::TooMany("audio")));
        let pcmu = format!("{BASE}m=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=rtpmap:0 PCMU/8000\r\n");
        assert_eq!(check_ingest(&pcmu), Err(IngestSdpError::NoAudioCodec));
        let mode0 = format!(
            "{BASE}m=video 9 UDP/TLS/RTP/SAVPF 96 98\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=0\r\na=rtpmap:98 VP9/90000\r\n"
        );
        assert_eq!(check_ingest(&mode0), Err(IngestSdpError::NoVideoCodec));
        assert_eq!(check_ingest("hello"), Err(IngestSdpError::Malformed(SdpError::NotSdp)));
        assert_eq!(check_ingest(BASE), Err(IngestSdpError::Malformed(SdpError::NoMedia)));
    }

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
