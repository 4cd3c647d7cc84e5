//! A throw-away `redis-server` (Debian's, `scripts/deps.sh` installs it) on a free loopback
//! port, its files in a temporary folder of its own; killed (and the folder removed) when
//! dropped.

use std::time::Duration;

pub struct Redis {
    child: std::process::Child,
    pub port: u16,
    dir: std::path::PathBuf,
    persistent: bool,
}

impl Redis {
    /// On `port`, keeping its files in `dir`; `persistent`: an append-only file synced on
    /// every write (what a cluster's Redis must run with to keep what it acknowledged).
    pub fn start_on(port: u16, dir: std::path::PathBuf, persistent: bool) -> Self {
        std::fs::create_dir_all(&dir).expect("dir");
        let aof: &[&str] = if persistent { &["--appendonly", "yes", "--appendfsync", "always"] } else { &["--appendonly", "no"] };
        let child = std::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--save", ""])
            .args(aof)
            .arg("--dir")
            .arg(&dir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server (scripts/deps.sh installs it)");
        Self { child, port, dir, persistent }
    }

    pub fn start() -> Self {
        Self::start_with(false)
    }

    pub fn start_with(persistent: bool) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("addr").port();
        Self::start_on(port, std::env::temp_dir().join(format!("tessera-redis-{}", tessera::ids::random_id(8))), persistent)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub async fn ready(&self) {
        let url = self.url();
        super::eventually(Duration::from_secs(10), "redis answers", || async {
            let mut c = tessera::cluster::connect(&url).map_err(|e| e.to_string())?;
            redis::cmd("PING").query_async::<String>(&mut c).await.map_err(|e| e.to_string())
        })
        .await;
    }

    /// Kills it, keeping its folder: returns (port, folder, persistent) to start it again.
    pub fn stop(mut self) -> (u16, std::path::PathBuf, bool) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        (self.port, std::mem::take(&mut self.dir), self.persistent)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !self.dir.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
