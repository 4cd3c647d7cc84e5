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

    /// Sends SIGTERM (a clean stop: the server drains).
    pub fn terminate(&self) {
        // SAFETY: kill(2) on our own child's pid with a valid signal number.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
    }

    /// Whether the process has exited (reaping it).
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }
}

/// Starts `tessera serve --config FILE`.
pub fn start(config: &Path) -> Binary {
    let child = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["serve", "--config"])
        .arg(config)
        .env("RUST_LOG", std::env::var("TESSERA_TEST_SERVER_LOG").unwrap_or_else(|_| "warn".into()))
        // TESSERA_TEST_SERVER_LOG=<filter> shows the servers' logs (written to stdout) at that level.
        .stdout(if std::env::var_os("TESSERA_TEST_SERVER_LOG").is_some() { Stdio::inherit() } else { Stdio::null() })
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

/// A fresh temporary folder holding `tessera.toml` for a loopback server on a free port, with
/// its recordings, HLS and files folders inside and an in-memory database, plus `extra` TOML
/// lines. Returns (folder, config file, address).
pub fn loopback_config(name: &str, extra: &str) -> (std::path::PathBuf, std::path::PathBuf, SocketAddr) {
    let dir = std::env::temp_dir().join(format!("tessera-{name}-{}", tessera::ids::random_id(8)));
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    let addr = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("its address");
    let config = dir.join("tessera.toml");
    let d = dir.display();
    let text = format!(
        "listen = \"{addr}\"\ndatabase = \":memory:\"\nrecordings_dir = \"{d}/rec\"\nhls_dir = \"{d}/live\"\nfiles_dir = \"{d}/files\"\n{extra}\n"
    );
    std::fs::write(&config, text).expect("the config file");
    (dir, config, addr)
}
