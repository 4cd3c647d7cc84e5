//! Test helpers: a real server on a free loopback port, a tiny HTTP client, and a synthetic
//! WebRTC participant (webrtc-rs + GStreamer) that sends a solid colour and a sine tone and
//! decodes what it receives.
#![allow(dead_code)]

pub mod binary;
pub mod client;
pub mod decode;
pub mod ffmpeg;
pub mod http;
pub mod redis;
pub mod signal;
pub mod sock;
pub mod webhook;

use std::time::{Duration, Instant};
use tessera::config::Config;

/// A server started for one test.
pub struct TestServer {
    pub running: tessera::server::Running,
}

impl TestServer {
    /// A server in open mode with an in-memory database.
    pub async fn start() -> Self {
        Self::start_with(test_config()).await
    }

    pub async fn start_with(config: Config) -> Self {
        tessera::telemetry::init();
        let running = tessera::server::start(config).await.expect("server starts");
        Self { running }
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.running.addr
    }

    pub async fn create_room(&self) -> String {
        let (status, body) = http::request(self.addr(), "POST", "/api/v1/rooms", Some(r#"{"name":"test"}"#)).await;
        assert_eq!(status, 201, "{body}");
        body["room"]["id"].as_str().expect("room id").to_owned()
    }

    pub async fn health(&self) -> serde_json::Value {
        http::request(self.addr(), "GET", "/healthz", None).await.1
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.running.cancel.cancel();
    }
}

/// Loopback on a free port, open mode, nothing persisted.
pub fn test_config() -> Config {
    Config { listen: "127.0.0.1:0".parse().expect("literal address"), database: ":memory:".into(), ..Config::default() }
}

/// Tests that run a call (a server with WebRTC clients, decoders, encoders) take turns: cargo
/// runs a binary's tests in parallel, and on a 2-core machine two calls at once measure each
/// other rather than what they exercise. Hold the guard for the whole test:
/// `let _turn = common::one_call_at_a_time().await;` (a tokio mutex: it works across the
/// separate runtimes of `#[tokio::test]`s and is not poisoned by a test that panics).
pub async fn one_call_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    TURN.lock().await
}

/// The least frame rate a test accepts of a flowing composite (30 fps nominal). Deliberately
/// far from nominal: a test runs a debug-build server and decodes in its own process on a
/// possibly busy 2-core machine; the real figures are `make bench`'s (H).
pub const FLOWING_FPS: f64 = 20.0;

/// The longest step a test accepts in the composite's own timeline (the server's frame times,
/// which the test process's scheduling cannot stretch) before calling it a freeze.
pub const LONGEST_STEP: Duration = Duration::from_millis(500);

/// Asserts that the composite flowed over a window: at least [`FLOWING_FPS`] frames per second
/// decoded and no step over [`LONGEST_STEP`]. `frames` were decoded in `elapsed`, `longest` is
/// the longest step the client saw in that window.
pub fn assert_flowing(what: &str, frames: u64, elapsed: Duration, longest: Duration) {
    let fps = frames as f64 / elapsed.as_secs_f64();
    eprintln!("{what}: {fps:.1} fps over {elapsed:.1?}, longest step between composite frames {longest:?}");
    assert!(fps >= FLOWING_FPS, "{what}: the composite ran at {fps:.1} fps (at least {FLOWING_FPS} expected)");
    assert!(longest <= LONGEST_STEP, "{what}: a {longest:?} freeze in the composite (at most {LONGEST_STEP:?} expected)");
}

/// Polls `check` every 50 ms until it returns `Ok`, or fails with its last error after `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let start = Instant::now();
    loop {
        match check().await {
            Ok(v) => return v,
            Err(e) if start.elapsed() > limit => panic!("{what}: not within {limit:?}: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}
