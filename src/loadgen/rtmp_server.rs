//! A real RTMP server for tests and benchmarks: Debian's nginx with libnginx-mod-rtmp, run in
//! the foreground from a temporary prefix on a loopback port, killed (with its workers) when
//! dropped. Not used by the server itself.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const MODULE: &str = "/usr/lib/nginx/modules/ngx_rtmp_module.so";

/// Errors starting nginx.
#[derive(Debug, thiserror::Error)]
pub enum RtmpServerError {
    #[error("cannot prepare nginx's folder")]
    Io(#[from] std::io::Error),
    #[error("nginx did not listen on {0} within 10 s (Debian packages nginx and libnginx-mod-rtmp)")]
    NotListening(SocketAddr),
}

pub struct RtmpServer {
    child: Option<Child>,
    pub prefix: PathBuf,
    pub port: u16,
}

impl RtmpServer {
    /// Starts nginx-rtmp on a free loopback port with one live application, `live`.
    pub fn start() -> Result<Self, RtmpServerError> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let prefix = std::env::temp_dir().join(format!("tessera-nginx-{}", crate::ids::random_id(8)));
        std::fs::create_dir_all(prefix.join("logs"))?;
        // A small `ack_window` so a publisher's acknowledged bytes move; `wait_key` and
        // `wait_video` so a player gets video from a keyframe on (without them a pull stalled
        // about half the time: audio filled its queue before the first video came).
        let conf = format!(
            "load_module {MODULE};\nuser nobody nogroup;\nworker_processes 1;\npid logs/nginx.pid;\nerror_log logs/error.log info;\n\
             events {{ worker_connections 64; }}\n\
             rtmp {{\n  access_log logs/rtmp_access.log;\n  server {{\n    listen 127.0.0.1:{port};\n    chunk_size 4096;\n    ack_window 262144;\n\
             application live {{ live on; wait_key on; wait_video on; record off; }}\n  }}\n}}\n"
        );
        std::fs::write(prefix.join("nginx.conf"), conf)?;
        let mut n = Self { child: None, prefix, port };
        n.restart()?;
        Ok(n)
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// `rtmp://127.0.0.1:PORT/live/{key}`.
    pub fn url(&self, key: &str) -> String {
        format!("rtmp://127.0.0.1:{}/live/{key}", self.port)
    }

    /// (Re)starts the server on the same port and waits until it accepts connections.
    pub fn restart(&mut self) -> Result<(), RtmpServerError> {
        use std::os::unix::process::CommandExt;
        self.kill();
        let child = Command::new("nginx")
            .process_group(0)
            .arg("-p")
            .arg(&self.prefix)
            .args(["-c", "nginx.conf", "-e", "logs/error.log", "-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(self.addr()).is_err() {
            if Instant::now() > deadline {
                return Err(RtmpServerError::NotListening(self.addr()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Kills the server: SIGKILL to its process group (master and workers).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: kill(2) with a negative pid signals that process group; no memory is involved.
            unsafe { libc::kill(-(c.id() as i32), libc::SIGKILL) };
            let _ = c.wait();
            let deadline = Instant::now() + Duration::from_secs(10);
            while std::net::TcpStream::connect(self.addr()).is_ok() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

impl Drop for RtmpServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.prefix);
    }
}
