//! `tessera serve`: the command line.
// warp's route tree nests deeper than the default limit of 128 in release builds.
#![recursion_limit = "256"]

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use tessera::config::{Config, Overrides};

#[derive(Parser)]
#[command(name = "tessera", version, about = "MCU compositing media server: WebRTC in, one composite out")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        /// HTTP/WebSocket address (a loopback address makes media bind loopback too).
        #[arg(long, env = "TESSERA_LISTEN")]
        listen: Option<SocketAddr>,
        /// TOML configuration file (see tessera.sample.toml).
        #[arg(long, env = "TESSERA_CONFIG")]
        config: Option<PathBuf>,
        /// Address media sockets bind and advertise.
        #[arg(long, env = "TESSERA_RTC_IP")]
        rtc_ip: Option<IpAddr>,
        /// Address advertised in ICE candidates (1:1 NAT).
        #[arg(long, env = "TESSERA_PUBLIC_IP")]
        public_ip: Option<IpAddr>,
        /// Folder of the GStreamer pipeline descriptions.
        #[arg(long, env = "TESSERA_PIPELINES_DIR")]
        pipelines_dir: Option<PathBuf>,
        /// Folder of the browser client.
        #[arg(long, env = "TESSERA_CLIENT_DIR")]
        client_dir: Option<PathBuf>,
        /// SQLite database of rooms and schedules (default ./data/tessera.db).
        #[arg(long, env = "TESSERA_DATABASE")]
        database: Option<PathBuf>,
        /// Base URL clients reach this server at, for the links it hands out.
        #[arg(long, env = "TESSERA_PUBLIC_URL")]
        public_url: Option<String>,
        /// API keys as `id:secret,id:secret` (prefer the environment variable to the flag).
        #[arg(long, env = "TESSERA_API_KEYS", hide_env_values = true)]
        api_keys: Option<String>,
        /// Cluster mode: the Redis every node shares (`redis://host:port/db`).
        #[arg(long, env = "TESSERA_REDIS_URL")]
        redis_url: Option<String>,
        /// Largest file participants may share, bytes (default 100 MiB).
        #[arg(long, env = "TESSERA_MAX_FILE_BYTES")]
        max_file_bytes: Option<u64>,
        /// Async worker threads (signaling, WebRTC, packet forwarding). Default: half the
        /// cores, at least one; the media work has threads of its own (GStreamer, the mixers).
        #[arg(long, env = "TESSERA_WORKERS")]
        workers: Option<usize>,
    },
    /// Load a running server with R rooms × N synthetic participants and report what they
    /// receive (frames, fps, freezes, keyframes, bytes — counted from RTP, not decoded).
    Loadgen {
        /// The server's HTTP address.
        #[arg(long, default_value = "127.0.0.1:8080")]
        server: SocketAddr,
        #[arg(long, default_value_t = 1)]
        rooms: usize,
        /// Join this existing room (its id) instead of creating rooms.
        #[arg(long, conflicts_with = "rooms")]
        room: Option<String>,
        #[arg(long, default_value_t = 4)]
        participants: usize,
        /// Video codec to send (and receive): vp8, h264 or none.
        #[arg(long, default_value = "vp8")]
        video: String,
        /// Send no audio.
        #[arg(long)]
        no_audio: bool,
        /// Seconds after the last join before measuring.
        #[arg(long, default_value_t = 5)]
        warmup: u64,
        /// Seconds measured.
        #[arg(long, default_value_t = 20)]
        duration: u64,
        /// Where the pre-encoded media files are kept (made on first use).
        #[arg(long, default_value = "target/loadgen")]
        media_dir: PathBuf,
        /// The composite of each room, as WIDTHxHEIGHT@FPS:KBPS (e.g. 640x360@30:600).
        /// Default: the server's.
        #[arg(long, value_parser = parse_composite)]
        composite: Option<tessera::wire::CompositeSettings>,
    },
}

/// `WIDTHxHEIGHT@FPS:KBPS`; the server validates the ranges.
fn parse_composite(s: &str) -> Result<tessera::wire::CompositeSettings, String> {
    let bad = || format!("expected WIDTHxHEIGHT@FPS:KBPS such as 640x360@30:600, got {s:?}");
    let (size, rest) = s.split_once('@').ok_or_else(bad)?;
    let (w, h) = size.split_once('x').ok_or_else(bad)?;
    let (fps, kbps) = rest.split_once(':').ok_or_else(bad)?;
    let n = |v: &str| v.parse::<u32>().map_err(|_| bad());
    Ok(tessera::wire::CompositeSettings { width: n(w)?, height: n(h)?, fps: n(fps)?, bitrate_kbps: n(kbps)?, ladder: None })
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    // The server's configuration (file, environment, flags: one place) is read before its
    // runtime starts, since it says how many workers that runtime has.
    let job = match cli.command {
        Command::Serve {
            listen,
            config,
            rtc_ip,
            public_ip,
            pipelines_dir,
            client_dir,
            database,
            public_url,
            api_keys,
            max_file_bytes,
            redis_url,
            workers,
        } => {
            let overrides = Overrides {
                listen,
                rtc_ip,
                public_ip,
                pipelines_dir,
                client_dir,
                database,
                public_url,
                api_keys,
                max_file_bytes,
                redis_url,
                workers,
            };
            let cfg = Config::load(config.as_deref(), overrides)?;
            rt.worker_threads(cfg.workers());
            Job::Serve(cfg)
        }
        other => Job::Other(other),
    };
    rt.enable_all().build().context("cannot start the async runtime")?.block_on(run(job))
}

/// Every participant holds a few sockets and every HTTP client one: the soft limit on open files
/// (1024 on a stock system) goes up to the hard one, so a thousand idle connections cannot
/// make the server refuse everyone else (as Go and nginx's `worker_rlimit_nofile` do).
fn raise_open_file_limit() {
    /// Enough for any node; a container's hard limit can be 2^30, which children would inherit.
    const MOST: libc::rlim_t = 1 << 20;
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit with a valid pointer to a local rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return tracing::warn!("could not read the open file limit");
    }
    let (was, want) = (lim.rlim_cur, lim.rlim_max.min(MOST));
    if was >= want {
        return tracing::info!(open_files = was, "open file limit");
    }
    let raised = libc::rlimit { rlim_cur: want, rlim_max: lim.rlim_max };
    // SAFETY: setrlimit with a valid pointer to a local rlimit, the soft limit within the hard.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
        tracing::info!(open_files = want, was, "open file limit raised");
    } else {
        tracing::warn!(open_files = was, "could not raise the open file limit");
    }
}

/// What `main` runs once the runtime is up (made once, so its size does not matter).
#[allow(clippy::large_enum_variant)]
enum Job {
    Serve(Config),
    Other(Command),
}

async fn run(job: Job) -> anyhow::Result<()> {
    match job {
        Job::Serve(cfg) => {
            tessera::telemetry::init_as(cfg.log_format);
            raise_open_file_limit();
            let running = tessera::server::start(cfg).await.context("the server could not start")?;
            tracing::info!("open http://{} in a browser", running.addr);
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).context("listening for SIGTERM")?;
            tokio::select! {
                r = tokio::signal::ctrl_c() => { r.context("waiting for ctrl-c")?; }
                _ = term.recv() => {
                    // Draining: no new rooms; live ones run until they end, then the process
                    // exits. A second SIGTERM or ctrl-c stops at once.
                    running.rooms.start_draining();
                    tracing::info!(rooms = running.rooms.len(), "SIGTERM: draining (no new rooms; exiting when the live ones end)");
                    tokio::select! {
                        _ = running.rooms.drained() => tracing::info!("drained: every room has ended"),
                        _ = term.recv() => {}
                        _ = tokio::signal::ctrl_c() => {}
                    }
                }
                _ = running.cancel.cancelled() => {}
            }
            tracing::info!("shutting down");
            running.cancel.cancel();
            running.wait_for_sessions(std::time::Duration::from_secs(3)).await;
            running.wait_for_outputs(std::time::Duration::from_secs(10)).await;
            running.release_leases().await;
            let _ = running.task.await;
        }
        Job::Other(Command::Serve { .. }) => unreachable!("main reads the configuration of `serve` before the runtime starts"),
        Job::Other(Command::Loadgen { server, rooms, room, participants, video, no_audio, warmup, duration, media_dir, composite }) => {
            tessera::telemetry::init();
            let video = match video.as_str() {
                "vp8" => Some(tessera::media::VideoCodec::Vp8),
                "h264" => Some(tessera::media::VideoCodec::H264),
                "none" => None,
                other => anyhow::bail!("--video must be vp8, h264 or none, not {other:?}"),
            };
            let opts = tessera::loadgen::run::LoadOptions {
                addr: server,
                rooms,
                room,
                participants,
                video,
                audio: !no_audio,
                warmup: std::time::Duration::from_secs(warmup),
                duration: std::time::Duration::from_secs(duration),
                media_dir,
                composite,
                clients: Default::default(),
            };
            let report = tessera::loadgen::run::run(&opts).await?;
            // The report is this command's output, so it goes to stdout (not the log).
            use std::io::Write;
            std::io::stdout().write_all(report.to_markdown().as_bytes())?;
        }
    }
    Ok(())
}
