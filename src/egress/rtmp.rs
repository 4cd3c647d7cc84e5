//! A live RTMP push (`pipelines/rtmp.pipeline`: the composite's H.264 as it is plus the full
//! mix as AAC, in FLV, to `rtmp2sink`), kept alive by a task that rebuilds it with back-off when
//! the server refuses, drops or stops acknowledging it.
//!
//! States: `connecting` (first attempt, nothing sent yet), `live` (bytes flow to the server), `retrying` (the last attempt failed; `lastError` says how; the next
//! attempt waits 1, 2, 4 … 30 s), `stopped`. An `rtmp2sink` whose server vanished can sit
//! without an error for a long time, so progress is watched: nothing newly sent for [`STALL`]
//! counts as a failure.
//!
//! Invariants: the stream key is never logged nor returned (only [`RtmpUrl::masked`] is); the
//! room is never touched by a failure here (the relay just has no feed while retrying).

use super::feed::Feed;
use super::{EgressContext, EgressEvent, OutputPipeline, PipelineGuard, Relay, count_guard};
use crate::media::KeyframeGate;
use crate::records::StreamView;
use futures::StreamExt;
use gstreamer as gst;
use gstreamer::prelude::*;
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

/// No newly acknowledged bytes for this long: the connection is considered dead.
const STALL: Duration = Duration::from_secs(6);
const POLL: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What an RTMP target must look like (after trimming), as a regular expression read the same
/// by Rust's `regex`, ECMA-262 and Python's `re` (the OpenAPI document's `pattern`): printable
/// ASCII only; optional `user:pass@` of RFC 3986's user-info characters (a `#`, `?` or bracket
/// there would leave GLib no host to connect to); a host name or a bracketed IPv6 literal (no `%`, which
/// GLib would read as an escape or a scope); a port of 1 to 65535; a non-empty app without `/`;
/// a non-empty key (the rest, query included).
pub const URL_GRAMMAR: &str = concat!(
    r"^rtmps?://(?:[A-Za-z0-9._~%!$&'()*+,;=:-]*@)?(?:[A-Za-z0-9_.-]+|\[[0-9A-Fa-f:.]+\])",
    r"(?::(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}))?",
    r"/[!-.0-~]+/[!-~]+$"
);

fn url_grammar() -> &'static regex::Regex {
    static GRAMMAR: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    // The pattern is a constant checked by the unit test below.
    GRAMMAR.get_or_init(|| regex::Regex::new(URL_GRAMMAR).expect("URL_GRAMMAR is a valid regular expression"))
}

/// An RTMP target: the full URL (secret) and the form that may be shown.
#[derive(Clone)]
pub struct RtmpUrl {
    full: String,
    masked: String,
    /// The secret part (`app/` onwards is shown masked).
    key: String,
}

impl std::fmt::Debug for RtmpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.masked)
    }
}

impl RtmpUrl {
    /// Accepts what [`URL_GRAMMAR`] describes once surrounding white space is removed; the
    /// message says what is wrong.
    pub fn parse(url: &str) -> Result<Self, String> {
        let url = url.trim();
        if url.len() > 2048 {
            return Err("url must be at most 2048 characters".into());
        }
        let rest = url.strip_prefix("rtmp://").or_else(|| url.strip_prefix("rtmps://")).ok_or("url must start with rtmp:// or rtmps://")?;
        if !url_grammar().is_match(url) {
            return Err(format!(
                "url must look like rtmp://host[:port]/app/streamkey: ASCII without spaces, the host a name \
                 (letters, digits, '.', '-', '_') or a [bracketed] IPv6 address, the port 1 to 65535, \
                 app and key not empty (pattern {URL_GRAMMAR})"
            ));
        }
        // The grammar guarantees two slashes after the authority.
        let (host, path) = rest.split_once('/').ok_or("url must look like rtmp://host/app/streamkey")?;
        let (app, key) = path.split_once('/').ok_or("url must look like rtmp://host/app/streamkey")?;
        let scheme = if url.starts_with("rtmps://") { "rtmps" } else { "rtmp" };
        // A password in `user:pass@host` is as secret as the key.
        let shown_host = host.rsplit_once('@').map_or(host, |(_, h)| h);
        // The grammar lets any hex digits, colons and dots stand in brackets: only a real IPv6
        // address may (GStreamer finds no host in `[D8dcB3]`, and its TLS path then crashed).
        if let Some(inside) = shown_host.strip_prefix('[') {
            let address = inside.split_once(']').map_or("", |(a, _)| a);
            if address.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(format!("url's host [{address}] is not an IPv6 address"));
            }
        }
        Ok(Self { full: url.to_owned(), masked: format!("{scheme}://{shown_host}/{app}/****"), key: key.to_owned() })
    }

    /// `text` (an error from the RTMP server or GStreamer) with the URL and the key masked: a
    /// server refusing a publish may quote the stream name back.
    pub fn scrub(&self, text: &str) -> String {
        let bare = self.key.split('?').next().unwrap_or(&self.key);
        let mut out = text.replace(&self.full, &self.masked).replace(&self.key, "****");
        if !bare.is_empty() {
            out = out.replace(bare, "****");
        }
        out
    }

    pub fn masked(&self) -> &str {
        &self.masked
    }
}

#[derive(Debug, Clone)]
struct Status {
    state: &'static str,
    last_error: Option<String>,
    retries: u32,
    bytes_sent: u64,
}

/// The room's handle on one RTMP output.
pub struct StreamHandle {
    pub id: String,
    url: String,
    started_at: i64,
    status: Arc<Mutex<Status>>,
    stop: Option<oneshot::Sender<()>>,
}

impl StreamHandle {
    pub fn view(&self) -> StreamView {
        let st = self.status.lock().clone();
        StreamView {
            id: self.id.clone(),
            url: self.url.clone(),
            state: st.state.into(),
            last_error: st.last_error,
            retries: st.retries,
            bytes_sent: st.bytes_sent,
            started_at: crate::time::format_unix(self.started_at),
        }
    }

    pub fn is_stopped(&self) -> bool {
        self.status.lock().state == "stopped"
    }

    pub fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        self.status.lock().state = "stopped";
    }
}

/// Starts pushing to `target`; the task keeps it up until stopped.
pub fn start(
    ctx: &EgressContext,
    id: &str,
    target: RtmpUrl,
    relay: Arc<Relay>,
    keyframes: Arc<KeyframeGate>,
    events: mpsc::UnboundedSender<EgressEvent>,
) -> StreamHandle {
    let status = Arc::new(Mutex::new(Status { state: "connecting", last_error: None, retries: 0, bytes_sent: 0 }));
    let (tx, rx) = oneshot::channel();
    let span = tracing::info_span!(parent: None, "rtmp", id = %id, url = %target.masked());
    span.in_scope(|| tracing::info!("rtmp output started"));
    let task = run(ctx.clone(), id.to_owned(), target.clone(), relay, keyframes, status.clone(), rx, events);
    tokio::spawn(task.instrument(span));
    StreamHandle { id: id.to_owned(), url: target.masked, started_at: crate::time::now_unix(), status, stop: Some(tx) }
}

fn set(status: &Mutex<Status>, f: impl FnOnce(&mut Status)) {
    f(&mut status.lock());
}

#[allow(clippy::too_many_arguments)]
async fn run(
    ctx: EgressContext,
    id: String,
    target: RtmpUrl,
    relay: Arc<Relay>,
    keyframes: Arc<KeyframeGate>,
    status: Arc<Mutex<Status>>,
    mut stop: oneshot::Receiver<()>,
    events: mpsc::UnboundedSender<EgressEvent>,
) {
    let _count = count_guard(&ctx.counts.streams);
    let mut backoff = Duration::from_secs(1);
    loop {
        let outcome = tokio::select! {
            _ = &mut stop => break,
            r = attempt(&ctx, &target, &relay, &keyframes, &status) => r,
        };
        let outcome = (target.scrub(&outcome.0), outcome.1);
        relay.set(None);
        let stopped = status.lock().state == "stopped";
        if stopped {
            break;
        }
        let was_live = outcome.1;
        if was_live {
            backoff = Duration::from_secs(1);
        }
        tracing::warn!(error = %outcome.0, retry_in_s = backoff.as_secs(), "rtmp output failed; retrying");
        set(&status, |s| {
            s.state = "retrying";
            s.last_error = Some(outcome.0.clone());
            s.retries += 1;
        });
        tokio::select! {
            _ = &mut stop => break,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
    relay.close();
    set(&status, |s| s.state = "stopped");
    tracing::info!("rtmp output stopped");
    let _ = events.send(EgressEvent::OutputEnded { id });
}

/// One connection: builds the pipeline, feeds it, and returns why it ended and whether it was
/// live at some point. Dropping the future (stop) tears the pipeline down.
async fn attempt(
    ctx: &EgressContext,
    target: &RtmpUrl,
    relay: &Relay,
    keyframes: &Arc<KeyframeGate>,
    status: &Mutex<Status>,
) -> (String, bool) {
    let (guard, feed, sink) = match build(ctx, target) {
        Ok(b) => b,
        Err(e) => return (e, false),
    };
    relay.set(Some(feed.clone()));
    keyframes.request(Duration::from_millis(100));
    let Some(bus) = guard.0.bus() else { return ("the pipeline has no bus".into(), false) };
    let mut messages = bus.stream();
    let mut poll = tokio::time::interval(POLL);
    let (mut sent, mut last_progress, mut live) = (0u64, tokio::time::Instant::now(), false);
    let base = status.lock().bytes_sent;
    let why = loop {
        tokio::select! {
            msg = messages.next() => match msg {
                None => break "the pipeline's bus closed".to_string(),
                Some(m) => match m.view() {
                    gst::MessageView::Error(e) => break e.error().to_string(),
                    gst::MessageView::Eos(_) => break "the stream ended".to_string(),
                    _ => {}
                },
            },
            _ = poll.tick() => {
                let now = sent_bytes(&sink);
                if now > sent {
                    sent = now;
                    last_progress = tokio::time::Instant::now();
                    if !live {
                        live = true;
                        tracing::info!("rtmp output live");
                    }
                    set(status, |s| {
                        s.state = "live";
                        s.bytes_sent = base + sent;
                    });
                } else if last_progress.elapsed() > STALL {
                    break format!("nothing could be sent to the RTMP server for {} s", STALL.as_secs());
                }
            }
        }
    };
    feed.close();
    drop(guard);
    let (video, audio) =
        (feed.video_frames.load(std::sync::atomic::Ordering::Relaxed), feed.audio_frames.load(std::sync::atomic::Ordering::Relaxed));
    tracing::debug!(video, audio, "frames handed to the RTMP output");
    (why, live)
}

/// Bytes written to the sink's connection (0 before it is up). Written, not acknowledged: a
/// server acknowledges only every `ack_window` bytes (nginx-rtmp: 5 MB by default, ~20 s of
/// composite), too rarely to tell a live stream from a stalled one; a dead server shows as a
/// bus error from `rtmp2sink` (within its `timeout` once the socket buffer is full).
fn sent_bytes(sink: &gst::Element) -> u64 {
    sink.property::<Option<gst::Structure>>("stats").and_then(|s| s.get::<u64>("out-bytes-total").ok()).unwrap_or(0)
}

fn build(ctx: &EgressContext, target: &RtmpUrl) -> Result<(PipelineGuard, Arc<Feed>, gst::Element), String> {
    let OutputPipeline { guard, sink, feed } = super::build_output(ctx, &ctx.pipelines.rtmp, "rtmp.pipeline", "an rtmp2sink")?;
    super::set_checked(&sink, "location", target.full.as_str())?;
    guard.0.set_state(gst::State::Playing).map_err(|e| format!("the RTMP pipeline did not start: {e}"))?;
    Ok((guard, feed, sink))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_keys_masked() {
        let u = RtmpUrl::parse("rtmp://a.rtmp.youtube.com/live2/abcd-efgh-ijkl").unwrap();
        assert_eq!(u.masked(), "rtmp://a.rtmp.youtube.com/live2/****");
        assert!(!format!("{u:?}").contains("abcd"), "Debug shows the masked form");
        assert_eq!(RtmpUrl::parse("rtmps://host:443/app/k?x=1").unwrap().masked(), "rtmps://host:443/app/****");
        let p = RtmpUrl::parse("rtmp://user:hunter2@host/app/name?token=abc").unwrap();
        assert_eq!(p.masked(), "rtmp://host/app/****", "no password in what is shown");
        assert_eq!(p.scrub("stream name already exists"), "stream **** already exists");
        assert_eq!(
            u.scrub("publish denied; stream abcd-efgh-ijkl already exists at rtmp://a.rtmp.youtube.com/live2/abcd-efgh-ijkl"),
            "publish denied; stream **** already exists at rtmp://a.rtmp.youtube.com/live2/****"
        );
        assert!(RtmpUrl::parse("  rtmp://[::1]:1935/app/k%20ey/x  ").is_ok(), "trimmed; IPv6; escapes in the key");
        assert!(RtmpUrl::parse("rtmp://u:p%40ss@h-1_x.example:65535/a/k").is_ok());
        for bad in [
            "http://x/a/b",
            "rtmp://host/app",
            "rtmp:///app/key",
            "rtmp://host//key",
            "rtmp://h/a/k y",
            "",
            "rtmp://ħ/a/k",
            "rtmp://a%25/a/k",
            "rtmp://h:0/a/k",
            "rtmp://h:65536/a/k",
            "rtmp://h:/a/k",
            "rtmp://[/a/k",
            "rtmps://[D8dcB3]/A/k",
            "rtmps://#@h/a/k",
            "rtmps://a?b@h/a/k",
            "rtmp://u[x]@h/a/k",
            "rtmp://[1:2]/a/k",
            "rtmp://h/ä/k",
            "rtmp://h/a/\u{1}k",
        ] {
            assert!(RtmpUrl::parse(bad).is_err(), "{bad:?} is refused");
        }
    }
}
