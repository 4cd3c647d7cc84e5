//! L. What the small-screen canvas costs a room (issue 23 §1b; goal ≤ 0.03 core per room while
//! in use, 0 when not). A room's video graph rebuilt in this process from the shipped files:
//! `composite.pipeline` with four moving 640×360@30 tiles (as decoded cameras; each a source,
//! the `split` tee a room puts in front of the name label, and the label) in a 2×2 grid, and
//! the L0 H.264 encode. Three set-ups in interleaved rounds (this machine's speed drifts):
//! - base: the tiles without the tee (the graph before the small canvas existed);
//! - idle: with the tee, no small canvas running (what every room pays now);
//! - in use: the tee, `small.pipeline` (360×640@15, five labels, four tiles linked through a leaky
//!   queue each, placed by `layout::small`) and its S1 H.264 encode, as `media::small` builds it.
//!
//! Cost in use = in use − idle, cost when not in use = idle − base, each the median of its rounds'
//! differences, with the spread.

use super::{median, quick, secs};
use gstreamer as gst;
use gstreamer::prelude::*;
use std::path::Path;
use std::time::{Duration, Instant};
use tessera::layout;
use tessera::media::ladder::{Canvas, Feed, Rung};
use tessera::media::pipelines::{Pipelines, render};
use tessera::records::CompositeConfig;

#[derive(Clone, Copy, PartialEq)]
enum Setup {
    Base,
    Idle,
    InUse,
}

const TILES: usize = 4;

fn process_cpu() -> f64 {
    super::cpu_seconds(Path::new("/proc/self/stat"))
}

fn parse(desc: &str) -> gst::Bin {
    gst::parse::bin_from_description(desc, true).expect("bench bin parses")
}

/// Cores used over `len` by a room graph set up as `setup`.
fn run(files: &Pipelines, setup: Setup, len: Duration) -> f64 {
    let cfg = CompositeConfig::default();
    let pipeline = gst::Pipeline::new();
    let canvas = gst::parse::bin_from_description(&render(&files.composite, &cfg.l0()), false).expect("composite.pipeline parses");
    pipeline.add(&canvas).expect("canvas added");
    let mixer = canvas.by_name("mixer").expect("composite.pipeline names its mixer");
    let tee = canvas.by_name("composite").expect("composite.pipeline names its tee");
    let l0 = parse(&format!("{} ! fakesink sync=false", render(&files.encode_h264, &cfg.l0())));
    canvas.add(&l0).expect("L0 added");
    tee.request_pad_simple("src_%u").expect("a tee pad").link(&l0.static_pad("sink").expect("ghost sink")).expect("L0 linked");
    let split = if setup == Setup::Base { "" } else { "tee name=split allow-not-linked=true ! " };
    let grid = layout::grid(TILES, cfg.width, cfg.height);
    let mut tiles = Vec::new();
    for (i, r) in grid.iter().enumerate() {
        let t = parse(&format!(
            "videotestsrc is-live=true pattern=ball ! video/x-raw,format=I420,width=640,height=360,framerate=30/1 ! {split}\
             textoverlay text=P{i} valignment=bottom halignment=left font-desc=\"Sans Bold 20\" shaded-background=true"
        ));
        canvas.add(&t).expect("tile added");
        let pad = mixer.request_pad_simple("sink_%u").expect("a compositor pad");
        for (k, v) in [("xpos", r.x), ("ypos", r.y), ("width", r.w), ("height", r.h)] {
            pad.set_property(k, v);
        }
        t.static_pad("src").expect("ghost src").link(&pad).expect("tile linked");
        tiles.push(t);
    }
    if setup == Setup::InUse {
        let small_cfg = Feed::of(Canvas::Small, Rung::L0).config(&cfg);
        let small = gst::parse::bin_from_description(&render(&files.small, &small_cfg), false).expect("small.pipeline parses");
        canvas.add(&small).expect("small canvas added");
        let smixer = small.by_name("mixer").expect("small.pipeline names its mixer");
        let rects = layout::small(TILES, small_cfg.width, small_cfg.height);
        for (i, (t, r)) in tiles.iter().zip(rects).enumerate() {
            let r = r.expect("four tiles all have a place");
            let queue = parse("queue leaky=downstream max-size-buffers=1 max-size-bytes=0 max-size-time=0");
            small.add(&queue).expect("queue added");
            let pad = smixer.request_pad_simple("sink_%u").expect("a compositor pad");
            for (k, v) in [("xpos", r.x), ("ypos", r.y), ("width", r.w), ("height", r.h)] {
                pad.set_property(k, v);
            }
            pad.set_property_from_str("sizing-policy", "keep-aspect-ratio");
            queue.static_pad("src").expect("queue src").link(&pad).expect("queue linked");
            let ghost_in = gst::GhostPad::builder_with_target(&queue.static_pad("sink").expect("queue sink"))
                .expect("ghost")
                .name(format!("tile{i}"))
                .build();
            small.add_pad(&ghost_in).expect("ghost added");
            let split = t.by_name("split").expect("the tile's split tee");
            let ghost_out = gst::GhostPad::builder_with_target(&split.request_pad_simple("src_%u").expect("a tee pad"))
                .expect("ghost")
                .name("small")
                .build();
            t.add_pad(&ghost_out).expect("ghost added");
            ghost_out.link(&ghost_in).expect("tile linked to the small canvas");
            let label = small.by_name(&format!("label{i}")).expect("small.pipeline names its labels");
            label.set_property("text", format!("Participant {i}"));
            label.set_property("deltax", r.x);
            label.set_property("deltay", r.y + r.h - small_cfg.height as i32);
            label.set_property("silent", false);
        }
        let s1 = parse(&format!("{} ! fakesink sync=false", render(&files.encode_h264, &small_cfg)));
        small.add(&s1).expect("S1 added");
        let stee = small.by_name("composite").expect("small.pipeline names its tee");
        stee.request_pad_simple("src_%u").expect("a tee pad").link(&s1.static_pad("sink").expect("ghost sink")).expect("S1 linked");
    }
    pipeline.set_state(gst::State::Playing).expect("plays");
    std::thread::sleep(Duration::from_secs(2));
    let (c0, t0) = (process_cpu(), Instant::now());
    std::thread::sleep(len);
    let cores = (process_cpu() - c0) / t0.elapsed().as_secs_f64();
    let _ = pipeline.set_state(gst::State::Null);
    cores
}

/// The benchmark's row.
pub fn small_canvas_costs() -> (String, String, String, String) {
    gst::init().expect("gstreamer");
    let files = Pipelines::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines")).expect("pipelines");
    let rounds = if quick() { 1 } else { 3 };
    let len = secs(8);
    let (mut base, mut idle, mut in_use) = (vec![], vec![], vec![]);
    for _ in 0..rounds {
        let b = run(&files, Setup::Base, len);
        let i = run(&files, Setup::Idle, len);
        let u = run(&files, Setup::InUse, len);
        in_use.push(u - i);
        idle.push(i - b);
        base.push(b);
    }
    let spread = |v: &[f64]| {
        let (lo, hi) = v.iter().fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(*x), hi.max(*x)));
        format!("{lo:.3}–{hi:.3}")
    };
    let (b, di, du) = (median(base.clone()), median(idle.clone()), median(in_use.clone()));
    (
        "L. The small-screen canvas (360×640@15 + its H.264 encode, 4 tiles of 640×360@30)".into(),
        format!("in use {du:+.3} cores/room (rounds {}); not in use {di:+.3} (rounds {})", spread(&in_use), spread(&idle)),
        format!("room graph without it (4 tiles, 1280×720 canvas, L0 encode) {b:.3} cores (rounds {})", spread(&base)),
        format!("goal ≤ 0.030 in use, 0 when not; in use {:.0} % of the room graph", 100.0 * du / b.max(1e-6)),
    )
}
