//! The REST flood of benchmark H (issue 27 §3): 1000 requests a second of mixed valid and
//! invalid calls while the room of 4 runs.
//!
//! - One hostile address (127.0.0.50) at 500 requests/s: far over its limit (100/s sustained,
//!   burst 400 by default), so after its burst it is answered `429`.
//! - Eight addresses (127.0.0.51–58) at 60 requests/s each, under their limit: every call is
//!   served, half of them valid reads of the room, half refusals (a JSON array where an object
//!   is documented, a broken body, an unknown room or participant, a bad layout, a bad role, a
//!   body over the 16 KiB limit).
//! - One well-behaved caller (127.0.0.2) at 20 requests/s of valid calls whose latency is the
//!   figure: for its first second alone (the baseline, during the load's warm-up), then with the
//!   flood until the end.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// What one flood saw.
#[derive(Default, Debug, Clone)]
pub struct FloodReport {
    /// The well-behaved caller's latencies (ms), alone and during the flood.
    pub alone_ms: Vec<f64>,
    pub flooded_ms: Vec<f64>,
    /// Failed well-behaved calls (not 2xx, or no answer).
    pub legit_failed: usize,
    /// Answers to the flood by status.
    pub statuses: BTreeMap<u16, usize>,
    /// Flood requests sent, and over how long.
    pub sent: usize,
    pub seconds: f64,
}

/// One call: method, path, JSON body, and whether it is valid.
type Call = (reqwest::Method, String, Option<String>, bool);

/// The flood's calls.
fn calls(room: &str) -> Vec<Call> {
    use reqwest::Method;
    let r = format!("/api/v1/rooms/{room}");
    vec![
        (Method::GET, r.clone(), None, true),
        (Method::POST, "/api/v1/rooms".into(), Some("[true]".into()), false),
        (Method::GET, format!("{r}/participants"), None, true),
        (Method::POST, format!("{r}/participants/nosuchparticipant/mute"), Some(r#"{"audio":true}"#.into()), false),
        (Method::GET, "/api/v1/rooms?state=open&limit=20".into(), None, true),
        (Method::PATCH, r.clone(), Some(r#"{"layout":"kaleidoscope"}"#.into()), false),
        (Method::GET, "/healthz".into(), None, true),
        (Method::POST, format!("{r}/tokens"), Some(r#"{"name":"x","role":"emperor"}"#.into()), false),
        (Method::GET, format!("/api/v1/recordings?roomId={room}"), None, true),
        (Method::GET, "/api/v1/rooms/nosuchroomnosuchroom00".into(), None, false),
        (Method::POST, "/api/v1/rooms".into(), Some(r#"{"name": "#.into()), false),
        (Method::POST, "/api/v1/rooms".into(), Some(format!(r#"{{"name":"{}"}}"#, "x".repeat(20_000))), false),
    ]
}

fn client_from(last: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a plain HTTP client builds")
}

/// Sends `rate` calls a second from 127.0.0.`last`, cycling through `calls`, until `until`;
/// counts the answers' statuses into `report`.
async fn stream(addr: SocketAddr, last: u8, rate: u32, calls: Arc<Vec<Call>>, until: Instant, report: Arc<Mutex<FloodReport>>) {
    let client = client_from(last);
    let mut tick = tokio::time::interval(Duration::from_secs(1) / rate);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut inflight = tokio::task::JoinSet::new();
    for i in 0.. {
        tick.tick().await;
        if Instant::now() >= until {
            break;
        }
        let (method, path, body, _) = calls[i % calls.len()].clone();
        let (client, report) = (client.clone(), report.clone());
        inflight.spawn(async move {
            let mut req = client.request(method, format!("http://{addr}{path}"));
            if let Some(b) = body {
                req = req.header("content-type", "application/json").body(b);
            }
            let status = match req.send().await {
                Ok(resp) => {
                    let s = resp.status().as_u16();
                    let _ = resp.bytes().await;
                    s
                }
                Err(_) => 0,
            };
            if let Ok(mut r) = report.lock() {
                *r.statuses.entry(status).or_default() += 1;
                r.sent += 1;
            }
        });
        while inflight.try_join_next().is_some() {}
    }
    while inflight.join_next().await.is_some() {}
}

/// Runs the flood against `room` until `until`; the report.
pub async fn flood(addr: SocketAddr, room: String, until: Instant) -> FloodReport {
    let report = Arc::new(Mutex::new(FloodReport::default()));
    let all = Arc::new(calls(&room));
    let valid: Vec<_> = all.iter().filter(|c| c.3).cloned().collect();
    let legit = client_from(2);
    let start = Instant::now();
    let flood_from = start + Duration::from_secs(1);
    let mut flood = tokio::task::JoinSet::new();
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    let (mut alone, mut flooded, mut failed) = (Vec::new(), Vec::new(), 0);
    for i in 0.. {
        tick.tick().await;
        let now = Instant::now();
        if now >= until {
            break;
        }
        if now >= flood_from && flood.is_empty() {
            flood.spawn(stream(addr, 50, 500, all.clone(), until, report.clone()));
            for last in 51..=58 {
                flood.spawn(stream(addr, last, 60, all.clone(), until, report.clone()));
            }
        }
        let (method, path, _, _) = &valid[i % valid.len()];
        let t0 = std::time::Instant::now();
        let ok = match legit.request(method.clone(), format!("http://{addr}{path}")).send().await {
            Ok(resp) => resp.status().is_success() && resp.bytes().await.is_ok(),
            Err(_) => false,
        };
        let ms = t0.elapsed().as_secs_f64() * 1000.0;
        if !ok {
            failed += 1;
        } else if now < flood_from {
            alone.push(ms);
        } else {
            flooded.push(ms);
        }
    }
    while flood.join_next().await.is_some() {}
    let mut r = report.lock().map(|r| r.clone()).unwrap_or_default();
    r.alone_ms = alone;
    r.flooded_ms = flooded;
    r.legit_failed = failed;
    r.seconds = (until - flood_from).as_secs_f64();
    r
}

/// The `p`-th percentile of `v` (ms), NaN when there is none.
fn percentile_ms(v: &[f64], p: f64) -> f64 {
    tessera::loadgen::probe::percentile(v, p).unwrap_or(f64::NAN)
}

/// The table row for the rounds' floods.
pub fn row(floods: &[FloodReport]) -> (String, String, String, String) {
    let name = "H. REST under 1000 requests/s of mixed valid and invalid calls (room of 4 running): a well-behaved caller's valid calls, p50 / p99 (ms)".to_owned();
    if floods.is_empty() {
        return (name, "not measured".into(), "—".into(), "—".into());
    }
    let all = |f: fn(&FloodReport) -> &Vec<f64>| floods.iter().flat_map(|r| f(r).iter().copied()).collect::<Vec<f64>>();
    let (alone, flooded) = (all(|r| &r.alone_ms), all(|r| &r.flooded_ms));
    let mut statuses = BTreeMap::<u16, usize>::new();
    for r in floods {
        for (s, n) in &r.statuses {
            *statuses.entry(*s).or_default() += n;
        }
    }
    let rate = floods.iter().map(|r| r.sent as f64 / r.seconds.max(1e-9)).sum::<f64>() / floods.len() as f64;
    let failed: usize = floods.iter().map(|r| r.legit_failed).sum();
    let answers = statuses.iter().map(|(s, n)| format!("{s}: {n}")).collect::<Vec<_>>().join(", ");
    (
        name,
        format!(
            "{:.1} / {:.1} ms during the flood ({} calls, {failed} failed); the flood {rate:.0} requests/s over {} rounds, answered {answers}",
            percentile_ms(&flooded, 50.0),
            percentile_ms(&flooded, 99.0),
            flooded.len(),
            floods.len()
        ),
        format!(
            "the same calls alone, just before: {:.1} / {:.1} ms ({} calls)",
            percentile_ms(&alone, 50.0),
            percentile_ms(&alone, 99.0),
            alone.len()
        ),
        format!(
            "p99 {:.1}× alone; the room's frame rate is the row above",
            percentile_ms(&flooded, 99.0) / percentile_ms(&alone, 99.0).max(1e-9)
        ),
    )
}
