//! Criterion micro-benchmarks for the loops the server owns: mix-minus for a frame, the RTP
//! fan-out of one composite packet, the load generator's keyframe check, and the grid layout.
//! Baselines measured in the same run, so the report reads as a ratio: a plain sum of the
//! inputs (what any mixer must do) for mix-minus; copying and parsing the packet once (what any
//! fan-out must do) for the fan-out.
// warp's route tree nests deeper than the default limit of 128 in release builds.
#![recursion_limit = "256"]

use criterion::{BenchmarkId, Criterion, black_box, criterion_group, criterion_main};
use tessera::layout::grid;
use tessera::media::mixminus::{accumulate, minus};

const FRAME: usize = 960;

fn inputs(n: usize) -> Vec<Vec<i16>> {
    (0..n).map(|k| (0..FRAME).map(|i| ((i * 31 + k * 7) % 2000) as i16 - 1000).collect()).collect()
}

fn mixing(c: &mut Criterion) {
    let mut g = c.benchmark_group("mix_one_frame");
    for n in [4usize, 8, 16] {
        let ins = inputs(n);
        // Baseline: summing N inputs once (no per-receiver output).
        g.bench_with_input(BenchmarkId::new("sum_only", n), &ins, |b, ins| {
            let mut sum = vec![0i32; FRAME];
            b.iter(|| {
                sum.iter_mut().for_each(|s| *s = 0);
                for x in ins {
                    accumulate(&mut sum, black_box(x));
                }
                black_box(&sum);
            })
        });
        // Mix-minus: sum once, then N subtractions (one output per receiver).
        g.bench_with_input(BenchmarkId::new("mix_minus", n), &ins, |b, ins| {
            let mut sum = vec![0i32; FRAME];
            let mut out = vec![0i16; FRAME];
            b.iter(|| {
                sum.iter_mut().for_each(|s| *s = 0);
                for x in ins {
                    accumulate(&mut sum, black_box(x));
                }
                for x in ins {
                    minus(&sum, Some(x), &mut out);
                    black_box(&out);
                }
            })
        });
    }
    g.finish();
}

/// One 1200-byte H.264 RTP packet as the payloader emits it.
fn composite_packet() -> Vec<u8> {
    let mut p = vec![0x80u8, 102, 0x12, 0x34, 0, 0, 0x10, 0, 0xde, 0xad, 0xbe, 0xef];
    p.extend((0..1188).map(|i| (i % 251) as u8));
    p[12] = 0x7c; // FU-A
    p[13] = 0x85; // start of an IDR
    p
}

fn rtp(c: &mut Criterion) {
    use rtc::shared::marshal::Unmarshal;
    let packet = composite_packet();
    let mut g = c.benchmark_group("rtp_fan_out");
    g.bench_function("copy_and_parse_only", |b| {
        b.iter(|| {
            let mut bytes = bytes::Bytes::copy_from_slice(black_box(&packet));
            black_box(rtc::rtp::Packet::unmarshal(&mut bytes).ok())
        })
    });
    for n in [4usize, 16] {
        let fanout = tessera::media::Fanout::default();
        // Queue sinks: the fan-out's own work, without the peer connection's.
        let mut rxs: Vec<_> = (0..n)
            .map(|i| {
                let (tx, rx) = tokio::sync::mpsc::channel::<rtc::rtp::Packet>(64);
                fanout.add(&format!("r{i}"), std::sync::Arc::new(tx));
                rx
            })
            .collect();
        g.bench_with_input(BenchmarkId::new("deliver", n), &n, |b, _| {
            b.iter(|| {
                fanout.deliver_rtp(black_box(&packet));
                // Receivers keep up: drain what was queued so no queue fills.
                for rx in rxs.iter_mut() {
                    black_box(rx.try_recv().ok());
                }
            })
        });
    }
    g.finish();
    c.bench_function("loadgen_is_keyframe_h264", |b| {
        b.iter(|| black_box(tessera::loadgen::stats::is_keyframe(true, black_box(&packet[12..]))))
    });
}

fn layout(c: &mut Criterion) {
    c.bench_function("grid_25_tiles", |b| b.iter(|| black_box(grid(black_box(25), 1280, 720))));
    let layouts =
        tessera::layout::Layouts::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines")).expect("layouts.json");
    let ids: Vec<String> = (0..16).map(|i| format!("p{i}")).collect();
    let tiles: Vec<&str> = ids.iter().map(String::as_str).collect();
    let roles = tessera::layout::Roles { speaker: Some("p3"), ..Default::default() };
    let variant = layouts.variant("speaker", 16).expect("speaker layout");
    c.bench_function("place_speaker_16_tiles", |b| {
        b.iter(|| black_box(tessera::layout::place(variant, black_box(&tiles), &roles, 1280, 720)))
    });
}

/// The speaker detector's share of a mixer tick: every input's frame observed, then a tick
/// (a decision every 17th). Baseline: the mix-minus of the same inputs in the same run.
fn speakers(c: &mut Criterion) {
    let mut g = c.benchmark_group("speaker_detector_tick");
    for n in [4usize, 8, 16] {
        let ins = inputs(n);
        let ids: Vec<String> = (0..n).map(|i| format!("p{i}")).collect();
        let mut d = tessera::media::speaker::SpeakerDetector::new();
        g.bench_with_input(BenchmarkId::new("observe_and_tick", n), &ins, |b, ins| {
            b.iter(|| {
                for (id, x) in ids.iter().zip(ins) {
                    d.observe(id, Some(black_box(x)));
                }
                black_box(d.tick());
            })
        });
    }
    g.finish();
}

/// Relaying one chat message to a 16-person room: the room's checks and history (rate, length,
/// the last 100) plus one JSON encoding per receiver, against the baseline of the encodings
/// alone (what any relay must do).
fn chat(c: &mut Criterion) {
    use tessera::protocol::ServerMessage;
    use tessera::room::chat::{ChatLog, Sender};
    let text = "Slides are at https://example.com/deck — page 12 has the numbers we talked about.";
    let mut g = c.benchmark_group("chat_relay_16");
    let mut log = ChatLog::default();
    let mut t = std::time::Instant::now();
    g.bench_function("post_and_encode", |b| {
        b.iter(|| {
            // One second apart: never rate-limited, so every iteration does the full work.
            t += std::time::Duration::from_secs(1);
            let m = log.post(Sender { id: "p1", name: "Ada" }, black_box(text), true, t).expect("under the rate");
            let msg = ServerMessage::Chat { message: m };
            for _ in 0..16 {
                black_box(serde_json::to_string(&msg).expect("serialises"));
            }
        })
    });
    // Its own log: with a name filter the bench above may not have run.
    let first = ChatLog::default().post(Sender { id: "p1", name: "Ada" }, text, true, std::time::Instant::now());
    let sample = ServerMessage::Chat { message: first.expect("a first post is never rate-limited") };
    g.bench_function("encode_only_baseline", |b| {
        b.iter(|| {
            for _ in 0..16 {
                black_box(serde_json::to_string(black_box(&sample)).expect("serialises"));
            }
        })
    });
    g.finish();
}

/// What `/metrics` adds per packet: a composite packet sent to 16 receivers counts packets and
/// bytes on each (`metrics::Rtp::count`, handles taken once), against the same loop without.
fn metrics_cost(c: &mut Criterion) {
    tessera::metrics::install("bench");
    let counters: Vec<_> = (0..16).map(|_| tessera::metrics::Rtp::sent(tessera::metrics::Kind::Video)).collect();
    let mut g = c.benchmark_group("metrics_16_receivers");
    g.bench_function("count_packet_and_bytes", |b| {
        b.iter(|| {
            for c in &counters {
                c.count(black_box(1188));
            }
        })
    });
    g.bench_function("baseline_loop_only", |b| {
        b.iter(|| {
            for c in &counters {
                black_box((c, black_box(1188)));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, mixing, rtp, layout, speakers, chat, metrics_cost);
criterion_main!(benches);
