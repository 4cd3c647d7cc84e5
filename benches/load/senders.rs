//! J. What sender caps save the server's ingest: a room of 9 whose participants all send a
//! browser-like 1280×720@30 camera (H.264, 1500 kbit/s), either ignoring the server's
//! `cameraConstraint` or honouring it as the browser client does (`client/sendcap.js`; the load
//! generator's [`tessera::loadgen::camera`]): on the default 1280×720 composite a 3×3 tile is
//! 426×240 at 332 kbit/s. The two set-ups run in interleaved rounds on fresh servers; the
//! server's CPU is taken over the measurement window, in all and by thread role: ingest (jitter
//! buffers, depayloaders, decoders), the compositor (its workers scale each input to its tile:
//! 720p inputs cost it most) and the async workers (SRTP and RTP handling).

use super::{Server, median, opts, quick, secs};
use tessera::loadgen::media_file::Camera;
use tessera::loadgen::run::ClientOptions;
use tessera::media::VideoCodec;

/// The camera every sender starts with: what Chromium sends a 720p camera at by default.
const HD: Camera = Camera { width: 1280, height: 720, kbps: 1500 };
const PEOPLE: usize = 9;

/// One run's figures: server cores, of which ingest (decoding), the compositor (scaling) and
/// async workers; the worst receiver's fps; what the senders ended on (when following).
struct Run {
    cores: f64,
    ingest: f64,
    compositor: f64,
    workers: f64,
    worst_fps: f64,
    sent: Vec<Camera>,
    roles: Vec<(&'static str, f64)>,
}

fn run(rt: &tokio::runtime::Runtime, follow: bool) -> Run {
    let server = Server::start();
    let mut o = opts(server.addr, 1, PEOPLE, Some(VideoCodec::H264), secs(10), secs(14));
    o.clients = ClientOptions { camera: Some(HD), follow_constraints: follow, weak: 0, audio_only: false, audio_file: None };
    let m = rt.block_on(super::measured(&server, o));
    Run {
        cores: m.cores,
        ingest: m.role("ingest"),
        compositor: m.role("compositor"),
        workers: m.role("async workers"),
        worst_fps: m.report.worst_fps(),
        sent: m.report.receivers.iter().filter_map(|r| r.camera).collect(),
        roles: m.roles,
    }
}

/// Where the cores went in the last round, by thread role: uncapped, then capped.
fn by_role(free: &Run, capped: &Run) -> String {
    let mut md = format!(
        "J, where the server's cores went in the last round, 9 senders ignoring `cameraConstraint` ({:.3}) and honouring it ({:.3}), by thread:\n\n\
         | threads | uncapped | capped |\n|---|---|---|\n",
        free.cores, capped.cores
    );
    let get = |r: &Run, role: &str| r.roles.iter().find(|(n, _)| *n == role).map_or(0.0, |(_, c)| *c);
    for (role, cores) in free.roles.iter().filter(|(_, c)| *c >= 0.001) {
        md.push_str(&format!("| {role} | {cores:.3} | {:.3} |\n", get(capped, role)));
    }
    md.push('\n');
    md
}

/// The benchmark's row, and where the cores went (markdown).
pub fn ingest_with_caps(rt: &tokio::runtime::Runtime) -> ((String, String, String, String), String) {
    let rounds = if quick() { 1 } else { 2 };
    let (mut free, mut capped) = (vec![], vec![]);
    for _ in 0..rounds {
        free.push(run(rt, false));
        capped.push(run(rt, true));
    }
    let med = |v: &[Run], f: fn(&Run) -> f64| median(v.iter().map(f).collect());
    let each = |v: &[Run]| v.iter().map(|r| format!("{:.3}/{:.3}/{:.3}", r.cores, r.ingest, r.compositor)).collect::<Vec<_>>().join(", ");
    let sizes = {
        let mut s: Vec<String> =
            capped.iter().flat_map(|r| &r.sent).map(|c| format!("{}×{} {} kbit/s", c.width, c.height, c.kbps)).collect();
        s.sort();
        s.dedup();
        s.join(", ")
    };
    let figures = |v: &[Run]| {
        format!(
            "server {:.3} cores: decoding {:.3}, compositor {:.3}, async workers {:.3}",
            med(v, |r| r.cores),
            med(v, |r| r.ingest),
            med(v, |r| r.compositor),
            med(v, |r| r.workers)
        )
    };
    let worst = |v: &[Run]| v.iter().map(|r| r.worst_fps).fold(f64::MAX, f64::min);
    let work = |v: &[Run]| med(v, |r| r.ingest + r.compositor);
    let md = by_role(free.last().expect("at least one round"), capped.last().expect("at least one round"));
    let row = (
        format!("J. Server CPU in a room of {PEOPLE} 1280×720 senders (H.264 1500 kbit/s), senders honouring `cameraConstraint`"),
        format!(
            "{}, median of {rounds} rounds (rounds, server/decoding/compositor: {}); senders ended at {sizes}; worst receiver {:.1} fps",
            figures(&capped),
            each(&capped),
            worst(&capped)
        ),
        format!("the same senders ignoring it: {} (rounds: {}); worst receiver {:.1} fps", figures(&free), each(&free), worst(&free)),
        format!(
            "decoding + compositor {:.2}×, server {:.2}× of uncapped",
            work(&capped) / work(&free).max(1e-6),
            med(&capped, |r| r.cores) / med(&free, |r| r.cores).max(1e-6)
        ),
    );
    (row, md)
}
