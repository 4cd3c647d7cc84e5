//! Rate limits against a real server: each source address has its burst and rate (clients
//! here connect from 127.0.0.2, .3, … : loopback is the whole 127/8), signaling connects are
//! limited more tightly, one credential is limited from every address, and a refused call is
//! `429 rate_limited` with `Retry-After`, after which the caller is served again.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;
use tessera::config::{Config, RateLimitConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

/// One `GET path` from `from` (with `Authorization: auth` if given): the status line's code,
/// and the whole reply.
async fn get(server: SocketAddr, from: [u8; 4], path: &str, auth: Option<&str>) -> (u16, String) {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::from(from)), 0)).expect("bind a loopback address");
    let mut s = socket.connect(server).await.expect("connect");
    let auth = auth.map(|a| format!("Authorization: {a}\r\n")).unwrap_or_default();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: tessera\r\n{auth}Connection: close\r\n\r\n").as_bytes()).await.expect("write");
    let mut reply = String::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_string(&mut reply)).await.expect("a reply in time").expect("read");
    let status = reply.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, reply)
}

fn retry_after(reply: &str) -> Option<u64> {
    reply.lines().find_map(|l| l.to_ascii_lowercase().strip_prefix("retry-after: ").and_then(|v| v.trim().parse().ok()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_over_their_limits_get_429_with_retry_after_and_others_are_served() {
    let _turn = common::one_call_at_a_time().await;
    let limits = RateLimitConfig {
        requests_per_second: 2,
        burst: 5,
        connects_per_second: 1,
        connect_burst: 2,
        per_credential_per_second: 2,
        ..Default::default()
    };
    let server = common::TestServer::start_with(Config { rate_limit: limits, ..common::test_config() }).await;
    let addr = server.addr();

    // An address's burst, then 429 with Retry-After.
    for i in 0..5 {
        assert_eq!(get(addr, [127, 0, 0, 2], "/healthz", None).await.0, 200, "request {i} is within the burst");
    }
    let (status, reply) = get(addr, [127, 0, 0, 2], "/healthz", None).await;
    assert_eq!(status, 429, "{reply}");
    assert!(reply.contains("\"code\":\"rate_limited\"") && reply.contains("requests from this address"), "{reply}");
    let wait = retry_after(&reply).expect("Retry-After");
    assert_eq!(wait, 1, "2 a second: the next one within a second");
    // Another address is served meanwhile; the first is again after the wait.
    assert_eq!(get(addr, [127, 0, 0, 3], "/healthz", None).await.0, 200);
    tokio::time::sleep(Duration::from_secs(wait)).await;
    assert_eq!(get(addr, [127, 0, 0, 2], "/healthz", None).await.0, 200, "served again after Retry-After");

    // Signaling connects: two at once, not a third.
    let room = server.create_room().await;
    let ws = format!("/api/v1/rooms/{room}/ws");
    for _ in 0..2 {
        assert_ne!(get(addr, [127, 0, 0, 4], &ws, None).await.0, 429);
    }
    let (status, reply) = get(addr, [127, 0, 0, 4], &ws, None).await;
    assert_eq!(status, 429, "{reply}");
    assert!(reply.contains("signaling connections from this address"), "{reply}");

    // One credential from five addresses shares one burst.
    let mut refused = Vec::new();
    for i in 10..16u8 {
        let (status, reply) = get(addr, [127, 0, 0, i], "/api/v1/rooms", Some("Bearer one-key:secret")).await;
        if status == 429 {
            assert!(reply.contains("requests with this credential"), "{reply}");
            refused.push(i);
        }
    }
    assert_eq!(refused, [15], "the sixth call with the same credential, from its own address, is refused");

    // Counted in the metrics, by limit.
    let (_, metrics) = get(addr, [127, 0, 0, 20], "/metrics", None).await;
    for limit in ["address", "connects", "credential"] {
        let counted = metrics.lines().any(|l| l.starts_with("tessera_rate_limited_total{") && l.contains(&format!("limit=\"{limit}\"")));
        assert!(counted, "{limit} in:\n{metrics}");
    }
}
