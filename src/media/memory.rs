//! Giving freed heap back to the system after a room's media is torn down.
//!
//! Each room's GStreamer streaming threads come and go with it, and glibc keeps what they freed
//! in their malloc arenas: without a trim the process's resident memory only grows as rooms
//! open and close. [`trim_soon`] runs `malloc_trim(0)` (every arena, glibc ≥ 2.8) on a blocking
//! thread, once per quiet second however many rooms end together. [`limit_arenas`] caps the
//! number of arenas (`M_ARENA_MAX`), so freed memory is not spread where no trim reaches it.
//!
//! Invariant: at most one trim is pending at a time; it never runs on an async worker.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

static ENABLED: AtomicBool = AtomicBool::new(true);
static PENDING: AtomicBool = AtomicBool::new(false);
/// Lets the participants' tasks and the pipelines' last threads finish first.
const QUIET: Duration = Duration::from_secs(1);

/// Caps glibc's malloc arenas at `max` (config `malloc_arena_max`; 0 leaves glibc's default).
/// Set before rooms start their threads: arenas made earlier stay. Measured with `make soak`
/// and the load generator: RSS back near idle after 1000 joins, and less CPU, not more.
pub fn limit_arenas(max: u32) {
    if max > 0 {
        // SAFETY: mallopt only sets an allocator parameter; M_ARENA_MAX takes any positive int.
        unsafe { libc::mallopt(libc::M_ARENA_MAX, max as i32) };
    }
}

/// Turns trimming on or off for the process (config `trim_memory`).
pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// Schedules a trim a second from now (one for any number of calls meanwhile). Needs a tokio
/// runtime; does nothing outside one or when disabled.
pub fn trim_soon() {
    if !ENABLED.load(Ordering::Relaxed) || PENDING.swap(true, Ordering::AcqRel) {
        return;
    }
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        PENDING.store(false, Ordering::Release);
        return;
    };
    rt.spawn(async {
        tokio::time::sleep(QUIET).await;
        PENDING.store(false, Ordering::Release);
        let _ = tokio::task::spawn_blocking(trim_now).await;
    });
}

/// Returns free heap pages to the system now; true when some memory was released.
pub fn trim_now() -> bool {
    // SAFETY: malloc_trim only walks the allocator's own free lists; it takes no pointers.
    unsafe { libc::malloc_trim(0) == 1 }
}
