//! WHIP ingest (RFC 9725, issue 26 §1): Debian's `simple-whip-client` (GStreamer's webrtcbin
//! and libnice: another WebRTC stack than ours) pushes a test pattern and a tone into a room,
//! once as VP8 and once as H.264 of the high profile (as OBS and x264 send it, no B-frames); a
//! synthetic participant sees the stream's tile in the composite and hears its tone, and the
//! stream leaves (reason `left`) when the client stops and DELETEs its session. Then every
//! refusal: a clear status and `{code, message}`, and nothing left in the room. Then a WHIP/WHEP
//! client library that is not ours (gst-plugins-rs's `whipsink` and `whepsrc`, `library.rs`)
//! publishes into the same room and watches it.
//!
//! libnice gathers no candidate on loopback, so the media test runs in a network namespace of
//! its own with a veth pair (10.99.0.1) that both the server and the client use.
//!
//! Debian 12's `simple-whip-client` is linked with libsoup 2.4, while GStreamer's nice plugin
//! pulls in libsoup 3 through libnice → gupnp-igd (UPnP port mapping), and libsoup 3 aborts a
//! process that holds both. The test therefore puts a four-function stand-in for
//! `libgupnp-igd-1.0.so.4` (no UPnP, which a loopback test never uses) first on the client's
//! library path; the client itself is Debian's, unchanged.

mod common;
#[path = "whip/library.rs"]
mod library;

use common::client::{Client, Opts};
use common::sock::{self, KEY};
use common::{TestServer, eventually};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Set in the child process that runs inside the namespace.
const IN_NETNS: &str = "TESSERA_WHIP_NETNS";
/// The veth address the server and the client use.
const MEDIA_IP: &str = "10.99.0.1";
const TOLERANCE: f64 = 60.0;

#[test]
fn whip_streams_join_the_room_as_participants() {
    if std::env::var_os(IN_NETNS).is_none() {
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: needs root for a network namespace of its own (make test runs it as root)");
            return;
        }
        let exe = std::env::current_exe().expect("test binary");
        let setup = format!(
            "ip link set lo up && ip link add whip0 type veth peer name whip1 && ip addr add {MEDIA_IP}/24 dev whip0 && \
             ip link set whip0 up && ip link set whip1 up && \
             exec \"$0\" whip_streams_join_the_room_as_participants --exact --nocapture --test-threads 1"
        );
        let st = Command::new("unshare").args(["-n", "sh", "-c", &setup]).arg(exe).env(IN_NETNS, "1").status().expect("unshare runs");
        assert!(st.success(), "the test failed in its network namespace");
        return;
    }
    tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().expect("runtime").block_on(streams());
}

/// The stand-in for libgupnp-igd (see the module doc), built into `dir` (the client's library
/// path).
fn igd_stub(dir: &Path) {
    let src = dir.join("igd.c");
    std::fs::write(
        &src,
        "void *gupnp_simple_igd_thread_new(void) { return 0; }\n\
         unsigned long gupnp_simple_igd_get_type(void) { return 0; }\n\
         void gupnp_simple_igd_add_port(void *s, const char *p, unsigned e, const char *l, unsigned lp, unsigned t, const char *d) {}\n\
         void gupnp_simple_igd_remove_port_local(void *s, const char *p, const char *l, unsigned lp) {}\n",
    )
    .expect("stub source");
    let lib = dir.join("libgupnp-igd-1.0.so.4");
    let st = Command::new("cc")
        .args(["-shared", "-fPIC", "-Wl,-soname,libgupnp-igd-1.0.so.4", "-o"])
        .arg(&lib)
        .arg(&src)
        .status()
        .expect("cc runs");
    assert!(st.success(), "the libgupnp-igd stand-in builds");
}

/// A running `whip-client`, stopped with SIGINT (it then DELETEs its session) when dropped.
struct WhipClient {
    child: Child,
    log: PathBuf,
}

impl WhipClient {
    fn start(dir: &Path, url: &str, token: &str, video: &str, audio: &str, log: &str) -> WhipClient {
        let log = dir.join(log);
        let out = std::fs::File::create(&log).expect("log file");
        let child = Command::new("whip-client")
            .args(["-n", "-o", "-l", "4", "-u", url, "-t", token, "-A", audio, "-V", video])
            .env("LD_LIBRARY_PATH", dir)
            .stdout(Stdio::from(out.try_clone().expect("log file")))
            .stderr(Stdio::from(out))
            .spawn()
            .expect("whip-client (Debian's simple-whip-client, installed by scripts/deps.sh) starts");
        WhipClient { child, log }
    }

    /// Ctrl-C: the client DELETEs its session and exits; waits (10 s at most) for it.
    async fn interrupt(&mut self) {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let t0 = Instant::now();
        while self.child.try_wait().expect("wait").is_none() {
            assert!(t0.elapsed() < Duration::from_secs(10), "whip-client did not exit on SIGINT:\n{}", self.log_text());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for WhipClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether a coarse scan of the watcher's composite finds `rgb` somewhere.
fn shows(c: &Client, rgb: [u8; 3]) -> Result<(), String> {
    let f = c.latest_frame().ok_or("no frame decoded yet")?;
    if f.finds(rgb, 40, 6, TOLERANCE) { Ok(()) } else { Err(format!("colour {rgb:?} nowhere in the {}x{} composite", f.width, f.height)) }
}

async fn whip_sessions(addr: SocketAddr) -> f64 {
    let (_, text) = common::http::raw(addr, "GET", "/metrics", None, &[]).await;
    text.lines().filter(|l| l.starts_with("tessera_whip_sessions")).filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).sum()
}

async fn streams() {
    let dir = std::env::temp_dir().join(format!("tessera-whip-{}", tessera::ids::random_id(8)));
    std::fs::create_dir_all(&dir).expect("temporary folder");
    igd_stub(&dir);
    let config = tessera::config::Config { rtc_ip: Some(MEDIA_IP.parse().expect("address")), ..sock::keyed_config() };
    let server = TestServer::start_with(config).await;
    let addr = server.addr();
    let (room, _host) = sock::create(addr, json!({ "name": "whip" })).await;
    let watcher_token = sock::token(addr, &room, "watcher", None).await;
    let mut watcher =
        Client::join(addr, &room, Opts { token: Some(watcher_token), rgb: [200, 200, 200], tone_hz: 330.0, ..Default::default() }).await;
    let url = format!("http://{addr}/api/v1/rooms/{room}/whip");
    let audio = |hz: u32| {
        format!(
            "audiotestsrc is-live=true wave=sine freq={hz} volume=0.3 ! audioconvert ! audioresample ! queue ! opusenc ! \
             rtpopuspay pt=100 ssrc=1 ! queue ! application/x-rtp,media=audio,encoding-name=OPUS,payload=100"
        )
    };
    let pattern = |argb: &str| {
        format!(
            "videotestsrc is-live=true pattern=solid-color foreground-color={argb} ! video/x-raw,width=640,height=360,framerate=15/1 ! videoconvert ! queue"
        )
    };
    let cases = [
        (
            "VP8",
            [40, 200, 60],
            880,
            format!(
                "{} ! vp8enc deadline=1 keyframe-max-dist=30 ! rtpvp8pay pt=96 ssrc=2 ! queue ! application/x-rtp,media=video,encoding-name=VP8,payload=96",
                pattern("0xff28c83c")
            ),
        ),
        (
            "H.264 high",
            [40, 60, 220],
            1250,
            format!(
                "{} ! x264enc tune=zerolatency bframes=0 speed-preset=superfast key-int-max=30 ! video/x-h264,profile=high ! \
                 rtph264pay pt=97 ssrc=2 config-interval=-1 ! queue ! application/x-rtp,media=video,encoding-name=H264,payload=97",
                pattern("0xff283cdc")
            ),
        ),
    ];
    for (codec, rgb, hz, video) in cases {
        let name = format!("OBS {codec}");
        let token = sock::token(addr, &room, &name, None).await;
        let mut client = WhipClient::start(&dir, &url, &token, &video, &audio(hz), &format!("{}.log", codec.replace(' ', "-")));
        let joined = tokio::time::timeout(Duration::from_secs(20), watcher.next_event("participantJoined"))
            .await
            .unwrap_or_else(|_| panic!("the {codec} stream did not join:\n{}", client.log_text()));
        assert_eq!(joined["participant"]["name"], name.as_str(), "the stream joins with its token's name");
        let started = Instant::now();
        eventually(Duration::from_secs(30), &format!("the {codec} stream's tile and tone reach the watcher"), || async {
            shows(&watcher, rgb)?;
            watcher.hears(330.0, &[f64::from(hz)])
        })
        .await;
        eprintln!("{codec}: tile and tone {:?} after the stream joined", started.elapsed());
        let (st, list) = sock::call(addr, "GET", &format!("/api/v1/rooms/{room}/participants"), KEY, None).await;
        assert_eq!(st, 200, "{list}");
        let names: Vec<&str> = list["participants"].as_array().expect("list").iter().filter_map(|p| p["name"].as_str()).collect();
        assert_eq!(names.len(), 2, "the watcher and the stream: {names:?}");
        assert_eq!(whip_sessions(addr).await, 1.0);

        // Ctrl-C: the client DELETEs its session, and the stream leaves at once (not after a
        // media timeout).
        let stopped = Instant::now();
        client.interrupt().await;
        let left = tokio::time::timeout(Duration::from_secs(10), watcher.next_event("participantLeft"))
            .await
            .unwrap_or_else(|_| panic!("the {codec} stream did not leave:\n{}", client.log_text()));
        assert_eq!(left["participantId"], joined["participant"]["id"]);
        assert_eq!(left["reason"], "left", "a DELETE is a leave: {}", client.log_text());
        assert!(stopped.elapsed() < Duration::from_secs(5), "left {:?} after the client stopped", stopped.elapsed());
        eventually(Duration::from_secs(5), "the WHIP session is forgotten", || async {
            let n = whip_sessions(addr).await;
            if n == 0.0 { Ok(()) } else { Err(format!("{n} sessions")) }
        })
        .await;
    }
    library_clients(addr, &room, &url, &mut watcher).await;
    watcher.assert_flows_for("the watcher, after every stream left", Duration::from_secs(2)).await;
    watcher.leave().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// gst-plugins-rs's `whipsink` publishes a stream (a tile, a tone) and its `whepsrc` watches: the
/// composite holds the watcher's and the stream's tiles, the mix both tones (nobody subtracted),
/// and each leaves when its pipeline stops.
async fn library_clients(addr: SocketAddr, room: &str, url: &str, watcher: &mut Client) {
    let (rgb, hz) = ([220, 40, 200], 1500);
    let token = sock::token(addr, room, "whipsink", None).await;
    let publisher = library::publish(url, &token, 0xffdc28c8, hz);
    let joined = tokio::time::timeout(Duration::from_secs(20), watcher.next_event("participantJoined"))
        .await
        .unwrap_or_else(|_| panic!("whipsink's stream did not join:\n{}", publisher.problems()));
    assert_eq!(joined["participant"]["name"], "whipsink");
    eventually(Duration::from_secs(30), "whipsink's tile and tone reach the watcher", || async {
        shows(watcher, rgb)?;
        watcher.hears(330.0, &[f64::from(hz)])
    })
    .await;

    let (st, v) =
        sock::call(addr, "POST", &format!("/api/v1/rooms/{room}/tokens"), KEY, Some(json!({"name": "player", "role": "viewer"}))).await;
    assert_eq!(st, 201, "{v}");
    let viewer = library::Viewer::watch(&format!("http://{addr}/api/v1/rooms/{room}/whep"), v["token"].as_str().expect("token"));
    let started = Instant::now();
    eventually(Duration::from_secs(30), "whepsrc decodes both tiles and hears both tones", || async {
        viewer.shows(rgb).map_err(|e| format!("{e}; {}", viewer.running.problems()))?;
        viewer.shows([200, 200, 200])?;
        viewer.hears(&[330.0, f64::from(hz)], 2700.0)
    })
    .await;
    eprintln!("whepsrc: both tiles and tones {:?} after it started, {} frames", started.elapsed(), viewer.frames());
    let (_, v) = sock::call(addr, "GET", &format!("/api/v1/rooms/{room}"), KEY, None).await;
    assert_eq!((v["numViewers"].as_u64(), v["numParticipants"].as_u64()), (Some(1), Some(2)), "a viewer is not a participant: {v}");
    let before = viewer.frames();
    eventually(Duration::from_secs(5), "the viewer's composite keeps coming", || async {
        if viewer.frames() >= before + 15 { Ok(()) } else { Err(format!("{} new frames", viewer.frames() - before)) }
    })
    .await;
    viewer.running.stop();
    eventually(Duration::from_secs(5), "the stopped viewer's session is gone", || async {
        let (_, v) = sock::call(addr, "GET", &format!("/api/v1/rooms/{room}"), KEY, None).await;
        if v["numViewers"].as_u64() == Some(0) { Ok(()) } else { Err(format!("{v}")) }
    })
    .await;

    let stopped = Instant::now();
    publisher.stop();
    let left =
        tokio::time::timeout(Duration::from_secs(10), watcher.next_event("participantLeft")).await.expect("whipsink's stream leaves");
    assert_eq!((left["participantId"].clone(), left["reason"].as_str()), (joined["participant"]["id"].clone(), Some("left")));
    assert!(stopped.elapsed() < Duration::from_secs(5), "left {:?} after whipsink stopped", stopped.elapsed());
}

/// An offer that passes the server's own check but not webrtc-rs's (no ICE credentials, no
/// fingerprint).
const THIN_OFFER: &str =
    "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\na=sendonly\r\n";

struct Answer {
    status: u16,
    body: Value,
    headers: reqwest::header::HeaderMap,
}

async fn send(method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> Answer {
    let mut req = reqwest::Client::new().request(method.parse().expect("method"), url).body(body.to_owned());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("the server answers");
    let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
    let text = resp.text().await.expect("body");
    Answer { status, body: serde_json::from_str(&text).unwrap_or(Value::Null), headers }
}

async fn offer(url: &str, auth: Option<&str>, content_type: &str, sdp: &str) -> Answer {
    let bearer = auth.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", content_type)];
    if let Some(b) = &bearer {
        headers.push(("authorization", b));
    }
    send("POST", url, &headers, sdp).await
}

fn refused(a: &Answer, status: u16, code: &str) {
    assert_eq!((a.status, a.body["code"].as_str()), (status, Some(code)), "{}", a.body);
    assert!(a.body["message"].as_str().is_some_and(|m| !m.is_empty()), "{}", a.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_clear_and_leave_nothing_behind() {
    let server = TestServer::start_with(sock::keyed_config()).await;
    let addr = server.addr();
    let (room, host) = sock::create(addr, json!({ "name": "refusals", "maxParticipants": 1 })).await;
    let url = format!("http://{addr}/api/v1/rooms/{room}/whip");
    let token = sock::token(addr, &room, "encoder", None).await;
    let sdp = "application/sdp";
    let base = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n";

    let a = offer(&url, None, sdp, THIN_OFFER).await;
    refused(&a, 401, "unauthorized");
    assert_eq!(a.headers.get("www-authenticate").map(|v| v.to_str().unwrap_or_default()), Some("Bearer"));
    refused(&offer(&url, Some("not-a-token"), sdp, THIN_OFFER).await, 401, "invalid_credentials");
    refused(&offer(&url, Some(KEY), sdp, THIN_OFFER).await, 403, "forbidden");
    let (st, v) =
        sock::call(addr, "POST", &format!("/api/v1/rooms/{room}/tokens"), KEY, Some(json!({"name": "v", "role": "viewer"}))).await;
    assert_eq!(st, 201, "{v}");
    refused(&offer(&url, v["token"].as_str(), sdp, THIN_OFFER).await, 403, "forbidden");
    let (other, _) = sock::create(addr, json!({ "name": "other" })).await;
    refused(&offer(&format!("http://{addr}/api/v1/rooms/{other}/whip"), Some(&token), sdp, THIN_OFFER).await, 403, "wrong_room");

    refused(&offer(&url, Some(&token), "application/json", THIN_OFFER).await, 415, "unsupported_media_type");
    refused(&offer(&url, Some(&token), sdp, "hello").await, 400, "bad_sdp");
    refused(&offer(&url, Some(&token), sdp, base).await, 400, "bad_sdp");
    let recv_only = format!("{base}m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\na=recvonly\r\n");
    refused(&offer(&url, Some(&token), sdp, &recv_only).await, 422, "nothing_sent");
    let vp9 = format!("{base}m=video 9 UDP/TLS/RTP/SAVPF 98\r\na=rtpmap:98 VP9/90000\r\na=sendonly\r\n");
    refused(&offer(&url, Some(&token), sdp, &vp9).await, 422, "no_usable_codec");
    let two = format!("{THIN_OFFER}m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\na=sendonly\r\n");
    refused(&offer(&url, Some(&token), sdp, &two).await, 422, "too_many_tracks");
    refused(&offer(&url, Some(&token), sdp, &"a".repeat(70_000)).await, 413, "payload_too_large");
    // Past every check of ours, refused by the peer connection: the session it started ends
    // before the answer goes out.
    refused(&offer(&url, Some(&token), sdp, THIN_OFFER).await, 400, "bad_sdp");
    let (_, list) = sock::call(addr, "GET", &format!("/api/v1/rooms/{room}/participants"), KEY, None).await;
    assert_eq!(list["participants"], json!([]), "a refused stream left nothing in the room");

    // A full room (someone joined over signaling), then an ended one.
    let mut ws = sock::ws(addr, &room, &format!("token={}", sock::token(addr, &room, "in", None).await)).await;
    assert_eq!(sock::first_message(&mut ws).await["type"], "welcome");
    refused(&offer(&url, Some(&token), sdp, THIN_OFFER).await, 409, "room_full");
    let (st, v) = sock::call(addr, "DELETE", &format!("/api/v1/rooms/{room}"), &host, None).await;
    assert!(st < 300, "{st} {v}");
    refused(&offer(&url, Some(&token), sdp, THIN_OFFER).await, 409, "room_ended");

    // The session resource: unknown sessions, no PATCH (no trickle, no ICE restart), CORS.
    let session = format!("http://{addr}/api/v1/rooms/{other}/whip/{}", "x".repeat(32));
    refused(&send("DELETE", &session, &[], "").await, 404, "session_not_found");
    let a = send("PATCH", &session, &[("content-type", "application/trickle-ice-sdpfrag")], "a=end-of-candidates\r\n").await;
    assert_eq!(a.status, 405, "{}", a.body);
    assert_eq!(a.headers.get("allow").map(|v| v.to_str().unwrap_or_default()), Some("DELETE, OPTIONS"));
    let a = send("OPTIONS", &format!("http://{addr}/api/v1/rooms/{other}/whip"), &[], "").await;
    assert_eq!(a.status, 204);
    for (h, want) in [("accept-post", "application/sdp"), ("access-control-allow-origin", "*"), ("allow", "POST, OPTIONS")] {
        assert_eq!(a.headers.get(h).map(|v| v.to_str().unwrap_or_default()), Some(want), "{h}");
    }
}

/// WHEP (the watch door): who may watch, what an offer must ask for, the limits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whep_refusals_are_clear_and_leave_nothing_behind() {
    let config = tessera::config::Config { max_viewers_per_room: 0, ..sock::keyed_config() };
    let server = TestServer::start_with(config).await;
    let addr = server.addr();
    let (room, _) = sock::create(addr, json!({ "name": "watched" })).await;
    let (public, _) = sock::create(addr, json!({ "name": "public", "public": true })).await;
    let url = |r: &str| format!("http://{addr}/api/v1/rooms/{r}/whep");
    let sdp = "application/sdp";
    let base = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n";
    let watch_audio = format!("{base}m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\na=recvonly\r\n");
    let viewer = {
        let (st, v) =
            sock::call(addr, "POST", &format!("/api/v1/rooms/{room}/tokens"), KEY, Some(json!({"name": "v", "role": "viewer"}))).await;
        assert_eq!(st, 201, "{v}");
        assert!(v["joinUrl"].as_str().is_some_and(|u| u.contains("/watch.html?room=")), "a viewer's link is the watch page: {v}");
        v["token"].as_str().expect("token").to_owned()
    };

    refused(&offer(&url(&room), None, sdp, &watch_audio).await, 401, "unauthorized");
    refused(&offer(&url(&room), Some("junk"), sdp, &watch_audio).await, 401, "invalid_credentials");
    refused(&offer(&url(&public), Some(&viewer), sdp, &watch_audio).await, 403, "wrong_room");
    refused(&offer(&url(&room), Some(&viewer), "text/plain", &watch_audio).await, 415, "unsupported_media_type");
    refused(&offer(&url(&room), Some(&viewer), sdp, "hello").await, 400, "bad_sdp");
    let sends = format!("{base}m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\na=sendonly\r\n");
    refused(&offer(&url(&room), Some(&viewer), sdp, &sends).await, 422, "nothing_received");
    let vp9 = format!("{base}m=video 9 UDP/TLS/RTP/SAVPF 98\r\na=rtpmap:98 VP9/90000\r\na=recvonly\r\n");
    refused(&offer(&url(&room), Some(&viewer), sdp, &vp9).await, 422, "no_usable_codec");
    // A public room needs no credential; this server takes no viewer per room (0).
    refused(&offer(&url(&public), None, sdp, &watch_audio).await, 429, "too_many_viewers");
    refused(&offer(&url(&room), Some(&viewer), sdp, &watch_audio).await, 429, "too_many_viewers");
    refused(&offer(&url("nosuchroomnosuchroom00"), None, sdp, &watch_audio).await, 404, "room_not_found");
    let (_, v) = sock::call(addr, "GET", &format!("/api/v1/rooms/{room}"), KEY, None).await;
    assert_eq!((v["numViewers"].as_u64(), v["numParticipants"].as_u64()), (Some(0), Some(0)), "{v}");

    refused(&send("DELETE", &format!("{}/{}", url(&room), "y".repeat(32)), &[], "").await, 404, "session_not_found");
    let a = send("OPTIONS", &url(&room), &[], "").await;
    assert_eq!(a.status, 204);
    assert_eq!(a.headers.get("accept-post").map(|v| v.to_str().unwrap_or_default()), Some("application/sdp"));
}

/// The node's own viewer limit, and an offer the peer connection refuses: nothing is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whep_node_limit_and_a_refused_offer() {
    let config = tessera::config::Config { max_viewers: 0, ..common::test_config() };
    let server = TestServer::start_with(config).await;
    let room = server.create_room().await;
    let url = format!("http://{}/api/v1/rooms/{room}/whep", server.addr());
    let watch =
        "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\na=recvonly\r\n";
    refused(&offer(&url, None, "application/sdp", watch).await, 429, "too_many_viewers");
    drop(server);

    let server = TestServer::start().await;
    let room = server.create_room().await;
    let url = format!("http://{}/api/v1/rooms/{room}/whep", server.addr());
    // Open mode: anyone may watch; this offer has no ICE credentials or fingerprint.
    refused(&offer(&url, None, "application/sdp", watch).await, 400, "bad_sdp");
    let (_, v) = common::http::request(server.addr(), "GET", &format!("/api/v1/rooms/{room}"), None).await;
    assert_eq!(v["numViewers"].as_u64(), Some(0), "the refused viewer is gone: {v}");
}
