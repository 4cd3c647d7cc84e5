//! `tessera serve`: the command line.

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
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tessera::telemetry::init();
    match Cli::parse().command {
        Command::Serve { listen, config, rtc_ip, public_ip, pipelines_dir, client_dir } => {
            let cfg = Config::load(config.as_deref(), Overrides { listen, rtc_ip, public_ip, pipelines_dir, client_dir })?;
            let running = tessera::server::start(cfg).await.context("the server could not start")?;
            tracing::info!("open http://{} in a browser", running.addr);
            tokio::select! {
                r = tokio::signal::ctrl_c() => { r.context("waiting for ctrl-c")?; }
                _ = running.cancel.cancelled() => {}
            }
            tracing::info!("shutting down");
            running.cancel.cancel();
            let _ = running.task.await;
        }
    }
    Ok(())
}
