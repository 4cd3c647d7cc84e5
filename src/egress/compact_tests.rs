//! Compaction against real parts: MP4s written by mp4mux with the recording's robust-muxing
//! settings, compacted, then demuxed: the same samples, byte for byte, at the same times.

use super::*;
use gstreamer as gst;
use gstreamer::prelude::*;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Instant;

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("tessera-compact-{}", crate::ids::random_id(8)));
    std::fs::create_dir_all(&d).expect("a fresh folder in the temp dir");
    d
}

/// Writes `seconds` of 640×360 H.264 (`pattern`, at most 1.5 Mbit/s: the composite's rate) and
/// AAC as the recording does (a header reserve for an hour and a quarter, rewritten every 0.5 s).
fn robust_part(path: &Path, seconds: u32, pattern: &str) {
    gst::init().expect("GStreamer initialises (the tests' machine has it)");
    let desc = format!(
        "videotestsrc num-buffers={v} pattern={pattern} ! video/x-raw,width=640,height=360,framerate=30/1 \
         ! x264enc speed-preset=ultrafast key-int-max=30 bitrate=1500 ! h264parse ! mp4mux name=m \
           reserved-max-duration={reserve} reserved-moov-update-period=500000000 ! filesink location={loc} \
         audiotestsrc num-buffers={a} ! audio/x-raw,rate=48000 ! avenc_aac ! aacparse ! m.",
        v = seconds * 30,
        a = seconds * 48000 / 1024,
        reserve = 4500u64 * 1_000_000_000,
        loc = path.display()
    );
    let p = gst::parse::launch(&desc).expect("the test pipeline parses");
    run_to_eos(&p);
}

fn run_to_eos(p: &gst::Element) {
    p.set_state(gst::State::Playing).expect("the test pipeline plays");
    let bus = p.bus().expect("a pipeline has a bus");
    let msg = bus.timed_pop_filtered(gst::ClockTime::from_seconds(120), &[gst::MessageType::Eos, gst::MessageType::Error]);
    let _ = p.set_state(gst::State::Null);
    match msg.as_ref().map(|m| m.view()) {
        Some(gst::MessageView::Eos(_)) => {}
        other => panic!("the pipeline ended with {other:?}"),
    }
}

/// Every demuxed sample of each track: (count, hash of bytes and timestamps, last end in ms).
fn samples(path: &Path) -> Vec<(u64, u64, u64)> {
    let desc = format!(
        "filesrc location={} ! qtdemux name=d d.video_0 ! queue ! fakesink name=v sync=false d.audio_0 ! queue ! fakesink name=a sync=false",
        path.display()
    );
    let p = gst::parse::launch(&desc).expect("the demux pipeline parses");
    let bin = p.clone().downcast::<gst::Bin>().expect("a parsed launch line is a pipeline");
    let mut seen = Vec::new();
    for name in ["v", "a"] {
        let acc = Arc::new(Mutex::new((0u64, DefaultHasher::new(), 0u64)));
        let a = acc.clone();
        let pad = bin.by_name(name).and_then(|s| s.static_pad("sink")).expect("fakesink has a sink pad");
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            if let Some(gst::PadProbeData::Buffer(b)) = &info.data {
                let mut g = a.lock().expect("the probe's lock is never poisoned");
                g.0 += 1;
                b.pts().map(|t| t.nseconds()).hash(&mut g.1);
                if let Ok(m) = b.map_readable() {
                    m.as_slice().hash(&mut g.1);
                }
                let end = b.pts().unwrap_or_default() + b.duration().unwrap_or_default();
                g.2 = g.2.max(end.mseconds());
            }
            gst::PadProbeReturn::Ok
        });
        seen.push(acc);
    }
    run_to_eos(&p);
    seen.into_iter()
        .map(|a| {
            let g = a.lock().expect("the probe's lock is never poisoned");
            (g.0, g.1.finish(), g.2)
        })
        .collect()
}

#[test]
fn a_finished_part_shrinks_to_its_media_and_keeps_every_sample() {
    let d = dir();
    let part = d.join("part-0001.mp4");
    robust_part(&part, 8, "ball");
    assert_eq!(is_compact(&part), Some(false), "a robust part has its reserve");
    let original = samples(&part);
    assert!(original[0].0 >= 230 && original[1].0 >= 360, "the part holds 8 s of both tracks: {original:?}");
    let duration = super::super::mp4::duration_ms(&part).expect("the robust part has a header");

    let started = Instant::now();
    let done = compact(&part).expect("compacts").expect("there was a reserve to give back");
    let took = started.elapsed();
    let after = std::fs::metadata(&part).expect("the part is still there").len();
    assert_eq!(done.after, after);
    // The hour's reserve is gone: what is left besides the media is ftyp, moov and mdat's header.
    let mut f = File::open(&part).expect("opens");
    let boxes = read_boxes(&mut f, after).expect("boxes");
    let kinds: Vec<&[u8; 4]> = boxes.iter().map(|b| &b.kind).collect();
    assert_eq!(kinds, [b"ftyp", b"moov", b"mdat"], "the header first, nothing free");
    assert_eq!(is_compact(&part), Some(true));
    let media = boxes[2].size - boxes[2].header;
    assert!(after - media <= 16 * 1024, "{} bytes besides {media} of media (was {})", after - media, done.before);
    assert!(done.before > after + 8_000_000, "the reserve was given back: {} → {after}", done.before);
    eprintln!("8 s part: {} → {after} bytes ({media} of media) in {took:?}", done.before);

    assert_eq!(super::super::mp4::duration_ms(&part), Some(duration));
    assert_eq!(samples(&part), original, "the same samples at the same times");
    assert!(compact(&part).expect("a compact part is fine").is_none(), "compacting twice changes nothing");
    assert!(!temp_path(&part).exists(), "no copy is left behind");
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn a_part_it_does_not_understand_is_left_alone_and_leftovers_are_removed() {
    let d = dir();
    let part = d.join("part-0001.mp4");
    // Two mdat boxes: not a layout compaction rewrites.
    let boxed = |kind: &[u8; 4], payload: &[u8]| {
        let mut v = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(payload);
        v
    };
    let mut bytes = boxed(b"ftyp", b"isom");
    bytes.extend(boxed(b"free", &[0; 100]));
    bytes.extend(boxed(b"moov", &[]));
    bytes.extend(boxed(b"mdat", &[1, 2, 3]));
    bytes.extend(boxed(b"mdat", &[4, 5, 6]));
    std::fs::write(&part, &bytes).expect("writes");
    assert!(matches!(compact(&part), Err(CompactError::Layout(_))));
    // A chunk offset table pointing outside the media: refused too.
    let mut stco = vec![0u8; 4];
    stco.extend_from_slice(&1u32.to_be_bytes());
    stco.extend_from_slice(&5u32.to_be_bytes());
    let moov = boxed(b"moov", &boxed(b"trak", &boxed(b"mdia", &boxed(b"minf", &boxed(b"stbl", &boxed(b"stco", &stco))))));
    let mut bad = boxed(b"ftyp", b"isom");
    bad.extend(boxed(b"free", &[0; 100]));
    bad.extend(moov);
    bad.extend(boxed(b"mdat", &[1, 2, 3]));
    std::fs::write(&part, &bad).expect("writes");
    assert!(matches!(compact(&part), Err(CompactError::Layout(_))));
    assert_eq!(std::fs::read(&part).expect("reads"), bad, "untouched");
    assert!(!temp_path(&part).exists());

    std::fs::write(temp_path(&part), b"half a copy").expect("writes");
    assert_eq!(remove_leftovers(&d), 1);
    assert!(part.exists() && !temp_path(&part).exists());
    let _ = std::fs::remove_dir_all(d);
}

/// The cost of compacting a 60 s part of noise at the composite's 1.5 Mbit/s (run by hand:
/// `cargo test --lib compact_cost -- --ignored --nocapture`); encoding the part takes most of a
/// minute of CPU, so it is not in the default run.
#[test]
#[ignore]
fn compact_cost_of_a_60_s_part() {
    let d = dir();
    let part = d.join("part-0001.mp4");
    robust_part(&part, 60, "snow");
    let original = samples(&part);
    let started = Instant::now();
    let done = compact(&part).expect("compacts").expect("there was a reserve to give back");
    eprintln!("60 s part: {} → {} bytes in {:?}", done.before, done.after, started.elapsed());
    assert_eq!(samples(&part), original);
    let _ = std::fs::remove_dir_all(d);
}
