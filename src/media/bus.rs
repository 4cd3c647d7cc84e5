//! A room pipeline's bus as a stream of messages (`video::MediaEvents` reads them as the events
//! its room acts on), and the priority of the pipeline's threads.
//!
//! Every streaming thread of a room pipeline (video only: sources, decoders, compositor,
//! encoders, and the threads libav and x264 start from them, which inherit it) runs at
//! [`VIDEO_NICE`]. The audio mixer and the async workers that carry every packet stay at the
//! default priority. On an idle machine this changes nothing; on a saturated one the scheduler
//! gives the little CPU audio and packet I/O need to them first, and video (whose encoder queue
//! drops frames when late) absorbs the shortage. Without it, 10 rooms on 2 cores starved the
//! audio: 1528 underruns and 146 s of input audio discarded in 12 s, while video held 30 fps
//! (`benches/OPTIMISATIONS.md`).
//!
//! Invariant: the handler is installed before the pipeline starts, so it sees every thread's
//! `StreamStatus::Enter`, which GStreamer posts from the new thread itself.

use futures::channel::mpsc;
use gstreamer as gst;

/// A room pipeline's messages, in order.
pub type BusMessages = mpsc::UnboundedReceiver<gst::Message>;

/// Niceness of a room's video threads (0 is the default; higher is lower priority). Raising
/// one's own niceness needs no privilege.
pub const VIDEO_NICE: i32 = 5;

/// Starts watching `bus`: lowers the priority of each streaming thread as it starts, and
/// forwards every message to the returned stream (in order; nothing is left on the bus).
pub fn watch(bus: &gst::Bus) -> BusMessages {
    let (tx, rx) = mpsc::unbounded();
    bus.set_sync_handler(move |_, msg| {
        if let gst::MessageView::StreamStatus(s) = msg.view()
            && s.get().0 == gst::StreamStatusType::Enter
        {
            lower_this_thread();
        }
        let _ = tx.unbounded_send(msg.to_owned());
        gst::BusSyncReply::Drop
    });
    rx
}

/// Sets the calling thread's niceness to [`VIDEO_NICE`] (on Linux, `setpriority` with
/// `PRIO_PROCESS` and 0 applies to the calling thread only).
fn lower_this_thread() {
    // SAFETY: setpriority has no memory-safety preconditions; a failure (not expected: raising
    // niceness is always allowed) leaves the thread at its priority.
    let failed = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, VIDEO_NICE) } != 0;
    if failed {
        tracing::debug!("could not lower a video thread's priority");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use gstreamer::prelude::*;

    #[test]
    fn streaming_threads_run_lowered_and_messages_still_arrive() {
        gst::init().expect("gstreamer");
        let pipeline = gst::parse::launch("videotestsrc num-buffers=3 ! fakesink name=sink signal-handoffs=true").expect("parses");
        let pipeline = pipeline.downcast::<gst::Pipeline>().expect("a pipeline");
        let niceness = std::sync::Arc::new(parking_lot::Mutex::new(Vec::new()));
        let seen = niceness.clone();
        let sink = pipeline.by_name("sink").expect("sink");
        sink.connect("handoff", false, move |_| {
            // SAFETY: getpriority has no preconditions; errno is not needed for this check.
            let nice = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
            seen.lock().push(nice);
            None
        });
        // SAFETY: getpriority has no preconditions.
        let own_before = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
        let mut messages = watch(&pipeline.bus().expect("bus"));
        pipeline.set_state(gst::State::Playing).expect("plays");
        let eos = futures::executor::block_on(async {
            while let Some(m) = messages.next().await {
                if let gst::MessageView::Eos(_) = m.view() {
                    return true;
                }
            }
            false
        });
        pipeline.set_state(gst::State::Null).expect("stops");
        assert!(eos, "the bus stream delivers the end of stream");
        let seen = niceness.lock();
        // VIDEO_NICE exactly; or, when the test itself runs nicer than that without the right to
        // lower niceness (not root), its own.
        assert_eq!(seen.len(), 3);
        assert!(
            seen.iter().all(|&n| n == VIDEO_NICE || n == own_before.max(VIDEO_NICE)),
            "every buffer was handled on a lowered thread: {seen:?}"
        );
        // SAFETY: as above.
        assert_eq!(unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) }, own_before, "the test's own thread is untouched");
    }
}
