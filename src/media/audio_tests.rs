//! The mixer's tests: jitter buffers, losses, mix-minus through real Opus, and the gated,
//! shared-encode mix of a room of twelve.

use super::*;
use rtc_rtp as rtp;
use tokio::sync::mpsc;

fn tone(freq: f32, n: usize) -> Vec<i16> {
    (0..n).map(|i| ((i as f32 * freq * 2.0 * std::f32::consts::PI / 48_000.0).sin() * 8000.0) as i16).collect()
}

fn rms_of(rx: &mut mpsc::Receiver<rtp::Packet>) -> (usize, f64) {
    let mut dec = opus::Decoder::new(SAMPLE_RATE, opus::Channels::Mono).unwrap();
    let (mut energy, mut frames, mut pcm) = (0f64, 0, vec![0i16; FRAME]);
    while let Ok(p) = rx.try_recv() {
        let n = dec.decode(&p.payload, &mut pcm, false).unwrap();
        energy += pcm[..n].iter().map(|&x| (x as f64).powi(2)).sum::<f64>();
        frames += 1;
    }
    (frames, (energy / (frames.max(1) * FRAME) as f64).sqrt())
}

#[test]
fn padding_is_skipped_and_loss_is_concealed_for_its_length() {
    let queue = Arc::new(Mutex::new(InputQueue::default()));
    let mut input = AudioInput {
        decoder: opus::Decoder::new(SAMPLE_RATE, opus::Channels::Mono).unwrap(),
        queue: queue.clone(),
        pcm: vec![0; FRAME * 6],
        next_ts: None,
    };
    let queued = || queue.lock().samples.len();
    let mut enc = opus::Encoder::new(SAMPLE_RATE, opus::Channels::Mono, opus::Application::Voip).unwrap();
    let mut pkt = vec![0u8; 1500];
    let src = tone(440.0, FRAME);
    let n = enc.encode(&src, &mut pkt).unwrap();
    // 50 padding-only packets (empty payloads) add nothing.
    for i in 0..50u32 {
        input.push_rtp(1000 + i * 960, &[]);
    }
    assert_eq!(queued(), 0);
    input.push_rtp(1000, &pkt[..n]);
    assert_eq!(queued(), FRAME);
    // Two packets lost: exactly 40 ms concealed before the third.
    input.push_rtp(1000 + 3 * 960, &pkt[..n]);
    assert_eq!(queued(), FRAME + 2 * FRAME + FRAME);
    // A late packet from before is dropped; a pause over 120 ms is not concealed.
    input.push_rtp(1000 + 960, &pkt[..n]);
    assert_eq!(queued(), 4 * FRAME);
    input.push_rtp(1000 + 100 * 960, &pkt[..n]);
    assert_eq!(queued(), 5 * FRAME);
    // The timestamp wraps around.
    assert_eq!(conceal_before(Some(u32::MAX - 479), 480), Some(960));
    assert_eq!(conceal_before(Some(10), 5), None);
}

#[test]
fn the_jitter_allowance_grows_on_underruns_and_shrinks_when_calm() {
    let mut q = InputQueue::default();
    let mut out = vec![0i16; FRAME];
    let frame = vec![1i16; FRAME];
    q.push(&frame);
    assert!(q.take_frame(&mut out), "one frame is enough at first");
    assert!(!q.take_frame(&mut out), "underrun");
    assert_eq!(q.target, 1, "a lone underrun does not add latency");
    q.push(&frame);
    assert!(q.take_frame(&mut out), "primed again with one frame");
    assert!(!q.take_frame(&mut out), "a second underrun soon after");
    assert_eq!(q.target, 2);
    q.push(&frame);
    assert!(!q.take_frame(&mut out), "re-priming to two frames");
    q.push(&frame);
    assert!(q.take_frame(&mut out));
    for _ in 0..CALM_FRAMES {
        q.push(&frame);
        assert!(q.take_frame(&mut out));
    }
    assert_eq!(q.target, 1, "back to one frame after a calm spell");
    for _ in 0..STANDING_WINDOW {
        q.push(&frame);
        assert!(q.take_frame(&mut out));
    }
    assert_eq!(q.samples.len(), 0, "and within a window the spare frame is gone");
    for _ in 0..10 {
        q.push(&frame);
    }
    assert!(q.samples.len() <= MAX_QUEUED, "a burst is cut back: {} samples", q.samples.len());
}

#[test]
fn a_standing_queue_is_drained_a_frame_per_window() {
    let mut q = InputQueue::default();
    let mut out = vec![0i16; FRAME];
    let frame = vec![1i16; FRAME];
    // A burst of three frames at the start, then one in, one out.
    for _ in 0..3 {
        q.push(&frame);
    }
    let mut levels = Vec::new();
    for _ in 0..3 * STANDING_WINDOW {
        q.push(&frame);
        assert!(q.take_frame(&mut out), "never runs dry");
        levels.push(q.samples.len() / FRAME);
    }
    assert_eq!(levels[0], 3);
    assert_eq!(*levels.last().expect("levels"), 0, "the standing frames are gone: {levels:?}");
}

#[test]
fn losses_are_counted_in_the_stats() {
    let mut st = MixerState::new(4).unwrap();
    let q = Arc::new(Mutex::new(InputQueue::default()));
    st.inputs.insert("a".into(), q.clone());
    let (tx, _rx) = mpsc::channel(1);
    st.outputs.add("b", Arc::new(tx));
    let mut sc = Scratch::default();
    q.lock().push(&[1; FRAME]);
    for _ in 0..3 {
        mix_one_frame(&mut st, &mut sc);
    }
    let s = AudioStats { dropped_packets: st.outputs.stats.dropped_packets, ..st.stats };
    assert_eq!(s.dropped_packets, 2, "b's queue took one packet of three: {s:?}");
    assert_eq!(s.underruns, 1, "a played one frame, then ran dry once (not once per tick): {s:?}");
    q.lock().push(&vec![1; MAX_QUEUED + FRAME]);
    mix_one_frame(&mut st, &mut sc);
    assert!(st.stats.discarded_samples >= FRAME as u64, "an overflowing queue is cut back and counted: {:?}", st.stats);
}

/// Real Opus round trip through the mixer: `a` sends a tone, `b` silence; `a` must not hear
/// itself, `b` must hear `a`.
#[test]
fn receiver_does_not_hear_itself() {
    let mut st = MixerState::new(4).unwrap();
    let mut inputs = HashMap::new();
    let mut senders = HashMap::new();
    let mut outputs = HashMap::new();
    for id in ["a", "b"] {
        let q = Arc::new(Mutex::new(InputQueue::default()));
        st.inputs.insert(id.into(), q.clone());
        inputs.insert(
            id,
            AudioInput {
                decoder: opus::Decoder::new(SAMPLE_RATE, opus::Channels::Mono).unwrap(),
                queue: q,
                pcm: vec![0; FRAME * 6],
                next_ts: None,
            },
        );
        senders.insert(id, opus::Encoder::new(SAMPLE_RATE, opus::Channels::Mono, opus::Application::Audio).unwrap());
        let (tx, rx) = mpsc::channel(100);
        st.outputs.add(id, Arc::new(tx));
        outputs.insert(id, rx);
    }
    let mut sc = Scratch::default();
    let loud_a = tone(440.0, FRAME * 20);
    let silent_b = vec![0i16; FRAME * 20];
    let mut pkt = vec![0u8; 1500];
    for f in 0..20 {
        for (id, src) in [("a", &loud_a), ("b", &silent_b)] {
            let n = senders.get_mut(id).unwrap().encode(&src[f * FRAME..(f + 1) * FRAME], &mut pkt).unwrap();
            inputs.get_mut(id).unwrap().push_rtp((f * FRAME) as u32, &pkt[..n]);
        }
        mix_one_frame(&mut st, &mut sc);
    }
    let (frames_a, rms_a) = rms_of(outputs.get_mut("a").unwrap());
    let (frames_b, rms_b) = rms_of(outputs.get_mut("b").unwrap());
    assert_eq!((frames_a, frames_b), (20, 20), "one output frame per tick for each receiver");
    drop(outputs.remove("b"));
    mix_one_frame(&mut st, &mut sc);
    assert_eq!(st.outputs.len(), 1, "a receiver that is gone is dropped, once");
    assert!(rms_a < 50.0, "receiver a hears its own tone: rms {rms_a}");
    assert!(rms_b > 2000.0, "receiver b does not hear a: rms {rms_b}");
}
