//! E, beside a peer: Debian's Janus AudioBridge (with its defaults) and a Tessera audio-only
//! room, the same clients (webrtc-rs, the load generator's Opus tone, the mix read and dropped)
//! at 4, 8 and 16 participants, server CPU over the same window (issue 28).
//!
//! Janus gathers no ICE candidate on loopback, so it runs on a veth pair made inside the
//! benchmark's own network namespace (`scripts/bench.sh` runs the benchmarks in one as root and
//! says so with `TESSERA_BENCH_NETNS=1`); elsewhere this row is reported as not measured.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tessera::loadgen::janus::{JanusApi, JanusPeer, OpusSettings};
use tessera::loadgen::media_file::RtpFile;

const VETH: &str = "tessbench0";
const JANUS_IP: &str = "10.77.0.1";
const HTTP_PORT: u16 = 18088;

/// A Janus process with the AudioBridge and the HTTP transport only; killed when dropped.
struct Janus {
    child: Child,
}

impl Janus {
    fn start(dir: &Path) -> Result<Self, String> {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let lib = "/usr/lib/x86_64-linux-gnu/janus";
        let others =
            ["duktape", "echotest", "lua", "nosip", "recordplay", "sip", "streaming", "textroom", "videocall", "videoroom", "voicemail"];
        let plugins = others.map(|p| format!("libjanus_{p}.so")).join(",");
        let files = [
            (
                "janus.jcfg",
                format!(
                    "general: {{\n configs_folder = \"{d}\"\n plugins_folder = \"{lib}/plugins\"\n transports_folder = \"{lib}/transports\"\n \
                     events_folder = \"{lib}/events\"\n loggers_folder = \"{lib}/loggers\"\n debug_level = 3\n}}\n\
                     media: {{ rtp_port_range = \"20000-40000\" }}\nnat: {{ ice_enforce_list = \"{VETH}\" }}\n\
                     plugins: {{ disable = \"{plugins}\" }}\n\
                     transports: {{ disable = \"libjanus_websockets.so,libjanus_pfunix.so,libjanus_mqtt.so,libjanus_rabbitmq.so,libjanus_nanomsg.so\" }}\n\
                     events: {{ broadcast = false }}\n",
                    d = dir.display()
                ),
            ),
            (
                "janus.transport.http.jcfg",
                format!(
                    "general: {{ base_path = \"/janus\"\n http = true\n port = {HTTP_PORT}\n https = false }}\nadmin: {{ admin_http = false }}\n"
                ),
            ),
            ("janus.plugin.audiobridge.jcfg", "general: {\n}\n".to_owned()),
        ];
        for (name, text) in files {
            std::fs::write(dir.join(name), text).map_err(|e| e.to_string())?;
        }
        let log = std::fs::File::create(dir.join("janus.log")).map_err(|e| e.to_string())?;
        let child = Command::new("janus")
            .arg("-F")
            .arg(dir)
            .arg("-C")
            .arg(dir.join("janus.jcfg"))
            .stdout(Stdio::from(log.try_clone().map_err(|e| e.to_string())?))
            .stderr(Stdio::from(log))
            .spawn()
            .map_err(|e| format!("janus: {e}"))?;
        Ok(Self { child })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Janus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A veth pair in this network namespace (Janus's candidates are on it).
fn veth() -> Result<(), String> {
    if std::env::var_os("TESSERA_BENCH_NETNS").is_none() {
        return Err("needs root: it runs Janus on a veth pair in the benchmark's own network namespace (make bench as root)".into());
    }
    if Path::new(&format!("/sys/class/net/{VETH}")).exists() {
        return Ok(());
    }
    let script = format!(
        "ip link add {VETH} type veth peer name tessbench1 && ip addr add {JANUS_IP}/24 dev {VETH} && \
         ip addr add 10.77.0.2/24 dev tessbench1 && ip link set {VETH} up && ip link set tessbench1 up"
    );
    let ok = Command::new("sh").arg("-c").arg(&script).status().is_ok_and(|s| s.success());
    if ok { Ok(()) } else { Err(format!("could not make the veth pair ({script})")) }
}

/// Tessera's mix encoder (`media/audio.rs`: libopus's default complexity 9, 32 kbit/s), for
/// Janus's "matched" row.
pub const MATCHED: OpusSettings = OpusSettings { complexity: 9, bitrate_bps: 32_000 };

/// Janus's server cores at each of `sizes` participants, with its defaults and then with
/// [`MATCHED`], its clients sending `audio` (one AudioBridge room each, the same warm-up and
/// window as Tessera's audio-only rooms in E).
pub fn audiobridge(
    rt: &tokio::runtime::Runtime,
    sizes: &[usize],
    audio: &Path,
    warmup: Duration,
    window: Duration,
) -> Result<(Vec<f64>, Vec<f64>), String> {
    if Command::new("janus").arg("--version").output().is_err() {
        return Err("janus is not installed (make bench installs Debian's)".into());
    }
    veth()?;
    let tone = Arc::new(RtpFile::load(audio, 48_000, 960).map_err(|e| e.to_string())?);
    let dir: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/janus-bench");
    let janus = Janus::start(&dir)?;
    let addr: SocketAddr = format!("{JANUS_IP}:{HTTP_PORT}").parse().map_err(|e| format!("{e}"))?;
    let api = JanusApi::new(addr);
    rt.block_on(async {
        let up = Instant::now();
        while !api.ready().await {
            if up.elapsed() > Duration::from_secs(15) {
                return Err(format!("janus did not answer on {addr} (see {})", dir.join("janus.log").display()));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut cores = (Vec::new(), Vec::new());
        let runs = sizes.iter().map(|n| (n, None)).chain(sizes.iter().map(|n| (n, Some(MATCHED))));
        for (i, (n, opus)) in runs.enumerate() {
            let room = 1000 + i as u64;
            api.create_room(room).await.map_err(|e| e.to_string())?;
            let mut peers = Vec::new();
            for p in 0..*n {
                peers.push(JanusPeer::join(&api, room, &format!("janus-{p}"), tone.clone(), opus).await.map_err(|e| e.to_string())?);
            }
            let joined = Instant::now();
            while !peers.iter().all(JanusPeer::connected) {
                if joined.elapsed() > Duration::from_secs(15) {
                    return Err(format!("{} of {n} Janus peers connected", peers.iter().filter(|p| p.connected()).count()));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            tokio::time::sleep(warmup).await;
            let stat = PathBuf::from(format!("/proc/{}/stat", janus.pid()));
            let (c0, t0) = (super::cpu_seconds(&stat), Instant::now());
            tokio::time::sleep(window).await;
            let c = (super::cpu_seconds(&stat) - c0) / t0.elapsed().as_secs_f64();
            if opus.is_none() {
                cores.0.push(c)
            } else {
                cores.1.push(c)
            }
            for p in peers {
                p.close().await;
            }
        }
        Ok(cores)
    })
}
