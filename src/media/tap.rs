//! Taps: where a room's encoded composite (H.264 access units) and its **full** audio mix (every
//! unmuted voice, nobody subtracted) go besides the receivers: recordings and live outputs.
//!
//! Invariants: taps are called on media threads (the H.264 encoder's streaming thread, the
//! mixer thread) and must neither block nor wait; a tap that cannot keep up loses its own data.
//! Timestamps are absolute times of GStreamer's system clock (monotonic), the clock every room
//! pipeline runs on, so video and audio from different threads share one timeline.

use gstreamer as gst;
use parking_lot::Mutex;
use std::sync::Arc;

/// Whether a tap wants more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TapStatus {
    Open,
    /// The tap is finished; it is removed.
    Closed,
}

/// A consumer of a room's composite and full mix.
pub trait EgressTap: Send + Sync {
    /// One H.264 access unit (byte-stream) of the composite, as receivers get it, with its caps
    /// and the absolute clock time of its presentation.
    fn video(&self, access_unit: &gst::Buffer, caps: &gst::Caps, at: gst::ClockTime) -> TapStatus;
    /// 20 ms of the full mix: S16 mono 48 kHz, `at` is the absolute clock time of its start.
    fn audio(&self, pcm: &[i16], at: gst::ClockTime) -> TapStatus;
}

/// A list of taps keyed by id, shared between the room (which adds and removes) and a media
/// thread (which feeds).
#[derive(Default)]
pub struct Taps {
    list: Mutex<Vec<(String, Arc<dyn EgressTap>)>>,
}

impl Taps {
    pub fn add(&self, id: &str, tap: Arc<dyn EgressTap>) {
        let mut l = self.list.lock();
        l.retain(|(t, _)| t != id);
        l.push((id.to_owned(), tap));
    }

    /// Removes `id`; returns how many taps remain.
    pub fn remove(&self, id: &str) -> usize {
        let mut l = self.list.lock();
        l.retain(|(t, _)| t != id);
        l.len()
    }

    pub fn len(&self) -> usize {
        self.list.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `f` on every tap, dropping those that report [`TapStatus::Closed`]. The lock is
    /// held only by this media thread and by short add/remove calls.
    pub fn each(&self, mut f: impl FnMut(&dyn EgressTap) -> TapStatus) {
        self.list.lock().retain(|(_, t)| f(t.as_ref()) == TapStatus::Open);
    }
}

/// Now on GStreamer's system clock (the clock of every room pipeline).
pub fn clock_now() -> gst::ClockTime {
    use gst::prelude::ClockExt;
    gst::SystemClock::obtain().time()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Counting(AtomicUsize, usize);

    impl EgressTap for Counting {
        fn video(&self, _: &gst::Buffer, _: &gst::Caps, _: gst::ClockTime) -> TapStatus {
            TapStatus::Open
        }
        fn audio(&self, _: &[i16], _: gst::ClockTime) -> TapStatus {
            if self.0.fetch_add(1, Ordering::Relaxed) + 1 >= self.1 { TapStatus::Closed } else { TapStatus::Open }
        }
    }

    #[test]
    fn a_closed_tap_is_dropped_and_ids_replace() {
        let taps = Taps::default();
        let once = Arc::new(Counting(AtomicUsize::new(0), 1));
        taps.add("a", once.clone());
        taps.add("b", Arc::new(Counting(AtomicUsize::new(0), 100)));
        taps.add("b", Arc::new(Counting(AtomicUsize::new(0), 100)));
        assert_eq!(taps.len(), 2, "adding an id again replaces it");
        taps.each(|t| t.audio(&[0; 960], gst::ClockTime::ZERO));
        assert_eq!(taps.len(), 1, "the tap that closed is gone");
        assert_eq!(once.0.load(Ordering::Relaxed), 1);
        assert_eq!(taps.remove("b"), 0);
    }
}
