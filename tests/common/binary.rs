//! The real `tessera` binary, started with a config file and killed with SIGKILL when dropped
//! (nothing is flushed on the way out), for restart and crash tests.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Binary {
    child: Child,
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }
}

impl Binary {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// Starts `tessera serve --config FILE`.
pub fn start(config: &Path) -> Binary {
    let child = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["serve", "--config"])
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the tessera binary starts");
    Binary { child }
}

/// Waits until the server at `addr` answers `/healthz`.
pub async fn ready(addr: SocketAddr) {
    super::eventually(Duration::from_secs(20), "the server answers", || async {
        tessera::loadgen::http::raw(addr, "GET", "/healthz", None, &[]).await.map(|_| ()).map_err(|e| e.to_string())
    })
    .await;
}
