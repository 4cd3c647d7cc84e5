//! Slow and oversized HTTP clients cannot hold the server: a client sending its headers a byte
//! at a time (slowloris) is cut off after `http_read_timeout_seconds` and its socket freed, a
//! body that never finishes is answered 408, a request head over 64 KiB 431; other clients are
//! served all the while.

mod common;

use std::time::{Duration, Instant};
use tessera::config::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads what the server sends until it closes the connection or `limit` passes; the text.
async fn read_to_close(s: &mut TcpStream, limit: Duration) -> Option<String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let end = Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(end.into(), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(String::from_utf8_lossy(&got).into_owned()),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return None,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_or_oversized_clients_are_cut_off_and_others_are_served() {
    let _turn = common::one_call_at_a_time().await;
    let server = common::TestServer::start_with(Config { http_read_timeout_seconds: 2, ..common::test_config() }).await;
    let addr = server.addr();

    // 20 slowloris clients: a request line, then one header byte every 200 ms, forever.
    let start = Instant::now();
    let mut slow = Vec::new();
    for _ in 0..20 {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: tessera\r\nX-Slow: ").await.expect("write");
        slow.push(tokio::spawn(async move {
            loop {
                if s.write_all(b"a").await.is_err() {
                    return start.elapsed();
                }
                if read_to_close(&mut s, Duration::from_millis(200)).await.is_some() {
                    return start.elapsed();
                }
                if start.elapsed() > Duration::from_secs(30) {
                    return Duration::MAX;
                }
            }
        }));
    }
    // Meanwhile the server answers everyone else at once.
    for _ in 0..5 {
        let t = Instant::now();
        assert_eq!(server.health().await["status"], "ok");
        assert!(t.elapsed() < Duration::from_secs(2), "a normal request waited {:?}", t.elapsed());
    }
    for task in slow {
        let held = task.await.expect("slow client");
        assert!(held < Duration::from_secs(6), "a slowloris connection was held {held:?} (timeout 2 s)");
    }

    // A body that stops half way: 408 request_timeout, within the timeout and a margin.
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let t = Instant::now();
    s.write_all(b"POST /api/v1/rooms HTTP/1.1\r\nHost: tessera\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"name\"")
        .await
        .expect("write");
    let reply = read_to_close(&mut s, Duration::from_secs(8)).await.expect("the server answers and closes");
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(reply.contains("\"code\":\"request_timeout\""), "{reply}");
    assert!(t.elapsed() >= Duration::from_secs(2) && t.elapsed() < Duration::from_secs(6), "answered after {:?}", t.elapsed());

    // A request head over 64 KiB: 431, and the connection closed.
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let head = format!("GET /healthz HTTP/1.1\r\nHost: tessera\r\nX-Big: {}\r\n\r\n", "b".repeat(70 * 1024));
    let _ = s.write_all(head.as_bytes()).await;
    let reply = read_to_close(&mut s, Duration::from_secs(5)).await.expect("the server answers and closes");
    assert!(reply.starts_with("HTTP/1.1 431"), "{}", &reply[..reply.len().min(200)]);

    // Nothing was left behind: the server still answers, and no room was made by the cut body.
    assert_eq!(server.health().await["status"], "ok");
    let (status, rooms) = common::http::request(addr, "GET", "/api/v1/rooms", None).await;
    assert_eq!(status, 200);
    assert_eq!(rooms["rooms"].as_array().map(Vec::len), Some(0), "{rooms}");
}
