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
