//! `GET /metrics` (Prometheus text format) counts what a real call does, and `log_format =
//! "json"` makes the real binary log one JSON object per line with its spans.

mod common;

use common::client::{Client, Opts};
use common::{TestServer, eventually, test_config};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::time::Duration;

/// The samples of a text exposition, `name{labels}` → value, after checking that every
/// sample's family has HELP and TYPE lines and that every line is well-formed.
fn parse(text: &str) -> HashMap<String, f64> {
    let mut typed = HashMap::new();
    let mut helped = std::collections::HashSet::new();
    let mut samples = HashMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            helped.insert(rest.split_whitespace().next().expect("a name").to_owned());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            let (name, kind) = (parts.next().expect("a name"), parts.next().expect("a type"));
            assert!(["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind), "{line}");
            typed.insert(name.to_owned(), kind.to_owned());
        } else {
            assert!(!line.starts_with('#'), "unknown comment: {line}");
            let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value: {line}"));
            let v: f64 = value.parse().unwrap_or_else(|_| panic!("bad value: {line}"));
            let name = series.split('{').next().expect("a name");
            let family =
                ["_bucket", "_sum", "_count"].iter().find_map(|s| name.strip_suffix(s).filter(|f| typed.contains_key(*f))).unwrap_or(name);
            assert!(typed.contains_key(family), "no TYPE for {family}");
            if family.starts_with("tessera_") {
                assert!(helped.contains(family), "no HELP for {family}");
                assert!(series.contains("node=\"metrics-node\""), "no node label: {line}");
            }
            samples.insert(series.to_owned(), v);
        }
    }
    for (name, kind) in &typed {
        if name.starts_with("tessera_") && kind == "counter" {
            assert!(name.ends_with("_total"), "counter {name} must end in _total");
        }
    }
    samples
}

/// The sum of every sample of `name` whose labels contain all of `labels`.
fn value(samples: &HashMap<String, f64>, name: &str, labels: &[&str]) -> f64 {
    samples.iter().filter(|(s, _)| s.split('{').next() == Some(name) && labels.iter().all(|l| s.contains(l))).map(|(_, v)| v).sum()
}

async fn scrape(addr: std::net::SocketAddr) -> HashMap<String, f64> {
    let (status, text) = common::http::raw(addr, "GET", "/metrics", None, &[]).await;
    assert_eq!(status, 200, "{text}");
    parse(&text)
}

/// Parses `text` with the Prometheus Python client's own text-format parser (Debian's
/// `python3-prometheus-client`, installed by `scripts/deps.sh`); returns the family names.
fn official_parse(text: &str) -> Vec<String> {
    use std::io::Write;
    let script = "import sys\nfrom prometheus_client.parser import text_string_to_metric_families as p\nfor f in p(sys.stdin.read()):\n    print(f.name, f.type, len(f.samples))\n";
    let mut child = std::process::Command::new("/usr/bin/python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 (scripts/deps.sh installs it with python3-prometheus-client)");
    child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write");
    let out = child.wait_with_output().expect("the parser ran");
    assert!(out.status.success(), "the Prometheus parser refused /metrics: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| l.split_whitespace().next().map(str::to_owned)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_a_real_call() {
    let _turn = common::one_call_at_a_time().await;
    let server = TestServer::start_with(tessera::config::Config { node_id: Some("metrics-node".into()), ..test_config() }).await;
    let addr = server.addr();
    let before = scrape(addr).await;
    assert_eq!(value(&before, "tessera_participants", &[]), 0.0);
    assert!(value(&before, "process_resident_memory_bytes", &[]) > 1e6, "process metrics are there");

    let room = server.create_room().await;
    let a = Client::join(addr, &room, Opts { name: "A".into(), rgb: [200, 30, 30], tone_hz: 440.0, ..Default::default() }).await;
    let b = Client::join(addr, &room, Opts { name: "B".into(), rgb: [30, 200, 30], tone_hz: 880.0, ..Default::default() }).await;
    eventually(Duration::from_secs(20), "both receive the composite", || async {
        if a.frames() > 30 && b.frames() > 30 { Ok(()) } else { Err(format!("{} / {} frames", a.frames(), b.frames())) }
    })
    .await;

    let (_, text) = common::http::raw(addr, "GET", "/metrics", None, &[]).await;
    let families = official_parse(&text);
    for f in ["tessera_rtp_sent_packets", "tessera_join_to_first_frame_seconds", "tessera_participants", "process_resident_memory_bytes"] {
        assert!(families.iter().any(|n| n == f), "the parser sees {f}: {families:?}");
    }
    let m = scrape(addr).await;
    assert_eq!(value(&m, "tessera_rooms", &[]), 1.0);
    assert!(value(&m, "tessera_max_rooms", &[]) >= 1.0, "the node's capacity is exported");
    assert_eq!(value(&m, "tessera_participants", &[]), 2.0);
    assert_eq!(value(&m, "tessera_recordings", &[]), 0.0);
    for kind in ["kind=\"audio\"", "kind=\"video\""] {
        let (packets, bytes) =
            (value(&m, "tessera_rtp_received_packets_total", &[kind]), value(&m, "tessera_rtp_received_bytes_total", &[kind]));
        assert!(packets > 10.0 && bytes > packets * 10.0, "{kind} received: {packets} packets, {bytes} bytes");
        assert!(value(&m, "tessera_rtp_sent_packets_total", &[kind]) > 10.0, "{kind} sent");
    }
    // Video bytes out are at least the frames the clients decoded (one packet or more each).
    assert!(value(&m, "tessera_rtp_sent_packets_total", &["kind=\"video\""]) >= (a.frames() + b.frames()) as f64 * 0.9);
    assert!(value(&m, "tessera_composite_frames_encoded_total", &["codec=\"vp8\""]) > 30.0);
    assert!(value(&m, "tessera_rtcp_plis_sent_total", &[]) >= 2.0, "a PLI to each camera at the start");
    // One join-to-first-frame sample per participant, within the histogram's range.
    assert_eq!(value(&m, "tessera_join_to_first_frame_seconds_count", &[]), 2.0);
    let within_10s = value(&m, "tessera_join_to_first_frame_seconds_bucket", &["le=\"10\""]);
    assert_eq!(within_10s, 2.0, "both saw the composite within 10 s of joining");

    // Leaving and ending: gauges go back, the room's duration is counted.
    a.leave().await;
    b.leave().await;
    let (status, _) = common::http::request(addr, "DELETE", &format!("/api/v1/rooms/{room}"), None).await;
    assert!(status < 300);
    let m = eventually(Duration::from_secs(10), "the gauges go back", || async {
        let m = scrape(addr).await;
        if value(&m, "tessera_participants", &[]) == 0.0 && value(&m, "tessera_rooms", &[]) == 0.0 {
            Ok(m)
        } else {
            Err("not yet".to_owned())
        }
    })
    .await;
    assert_eq!(value(&m, "tessera_room_duration_seconds_count", &[]), 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line_with_spans() {
    let _turn = common::one_call_at_a_time().await;
    let (dir, config, addr) = common::binary::loopback_config("jsonlog", "log_format = \"json\"\nnode_id = \"json-node\"");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["serve", "--config"])
        .arg(&config)
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    common::binary::ready(addr).await;
    // A room with a participant: its "joined" line is logged inside the room and participant
    // spans.
    let (_, body) = common::http::request(addr, "POST", "/api/v1/rooms", Some("{}")).await;
    let room = body["room"]["id"].as_str().expect("room").to_owned();
    let c = Client::join(addr, &room, Opts { name: "J".into(), rgb: [10, 10, 200], tone_hz: 500.0, ..Default::default() }).await;
    let (_, text) = common::http::raw(addr, "GET", "/metrics", None, &[]).await;
    assert!(text.contains("node=\"json-node\""), "the binary labels its metrics with node_id");
    let mut seen_joined = false;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut lines = 0;
    while !seen_joined && std::time::Instant::now() < deadline {
        let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) else { continue };
        lines += 1;
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(v["timestamp"].is_string() && v["level"].is_string() && v["fields"].is_object(), "{v}");
        if v["fields"]["message"] == "joined" {
            let spans = v["spans"].as_array().expect("the span list");
            assert!(spans.iter().any(|s| s["name"] == "room" && s["id"] == room.as_str()), "the room span: {v}");
            assert_eq!(v["span"]["name"], "room", "the current span: {v}");
            seen_joined = true;
        }
    }
    assert!(seen_joined, "no `joined` line in {lines} JSON lines");
    c.close().await;
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(dir);
}
