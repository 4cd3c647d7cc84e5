//! I. What a running rung of the composite's ladder costs (issue 23): the shipped encode chain
//! at L0 on a moving 1280×720@30 canvas, alone and with an L1 or an L2 branch beside it on the
//! same tee (`pipelines/rung.pipeline` + the rung's encode), built from the same files a room
//! uses. The three set-ups run in interleaved rounds (this machine's speed drifts minute to
//! minute) and each rung's cost is the median of its rounds' differences to the L0-only run
//! next to it, with the spread. A room where everyone is on L0 runs no rung at all: its cost is
//! A's (the ladder adds no element and no work per packet until a rung is wanted).

use super::{median, quick, secs};
use gstreamer as gst;
use gstreamer::prelude::*;
use std::path::Path;
use std::time::{Duration, Instant};
use tessera::media::ladder::Rung;
use tessera::media::pipelines::{Pipelines, render};
use tessera::records::CompositeConfig;

/// CPU seconds of this process so far.
fn process_cpu() -> f64 {
    super::cpu_seconds(Path::new("/proc/self/stat"))
}

/// Cores used over `len` by a canvas with encoders at `rungs`.
fn run(files: &Pipelines, rungs: &[Rung], len: Duration) -> f64 {
    let cfg = CompositeConfig::default();
    let mut desc = format!(
        "videotestsrc is-live=true pattern=ball ! video/x-raw,format=I420,width={},height={},framerate={}/1 ! tee name=t allow-not-linked=true ",
        cfg.width, cfg.height, cfg.fps
    );
    for rung in rungs {
        let c = rung.config(&cfg);
        let enc = render(&files.encode_h264, &c);
        let chain = match rung {
            Rung::L0 => enc,
            _ => format!("{} ! {enc}", render(&files.rung, &c)),
        };
        // Element names must be unique in one pipeline (a room builds each chain in a bin).
        let chain: String = chain.split_whitespace().filter(|w| !w.starts_with("name=")).collect::<Vec<_>>().join(" ");
        desc.push_str(&format!("t. ! {chain} ! fakesink sync=false "));
    }
    let p = gst::parse::launch(&desc).expect("bench pipeline parses").downcast::<gst::Pipeline>().expect("a pipeline");
    p.set_state(gst::State::Playing).expect("plays");
    std::thread::sleep(Duration::from_secs(2));
    let (c0, t0) = (process_cpu(), Instant::now());
    std::thread::sleep(len);
    let cores = (process_cpu() - c0) / t0.elapsed().as_secs_f64();
    let _ = p.set_state(gst::State::Null);
    cores
}

/// The benchmark's row.
pub fn rung_costs() -> (String, String, String, String) {
    gst::init().expect("gstreamer");
    let files = Pipelines::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines")).expect("pipelines");
    let rounds = if quick() { 1 } else { 3 };
    let len = secs(8);
    let (mut base, mut l1, mut l2) = (vec![], vec![], vec![]);
    for _ in 0..rounds {
        let b = run(&files, &[Rung::L0], len);
        l1.push(run(&files, &[Rung::L0, Rung::L1], len) - b);
        l2.push(run(&files, &[Rung::L0, Rung::L2], len) - b);
        base.push(b);
    }
    let spread = |v: &[f64]| {
        let (lo, hi) = v.iter().fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(*x), hi.max(*x)));
        format!("{lo:.3}–{hi:.3}")
    };
    let (b, d1, d2) = (median(base.clone()), median(l1.clone()), median(l2.clone()));
    (
        "I. A running rung of the ladder (on a moving 1280×720@30 canvas, H.264)".into(),
        format!("L1 (640×360@30) +{d1:.3} cores (rounds {}), L2 (320×180@15) +{d2:.3} cores (rounds {})", spread(&l1), spread(&l2)),
        format!("L0 encode alone {b:.3} cores (rounds {}); a room all on L0 runs no rung", spread(&base)),
        format!("L1 {:.0} % and L2 {:.0} % of L0's encode", 100.0 * d1 / b.max(1e-6), 100.0 * d2 / b.max(1e-6)),
    )
}
