//! A real RTMP server for tests: Debian's nginx with libnginx-mod-rtmp, run in the foreground
//! from a temporary prefix on a loopback port, killed when dropped.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const MODULE: &str = "/usr/lib/nginx/modules/ngx_rtmp_module.so";

pub struct Nginx {
    child: Option<Child>,
    pub prefix: PathBuf,
    pub port: u16,
}

impl Nginx {
    /// Starts nginx-rtmp on a free loopback port with one live application, `live`.
    pub fn start() -> Nginx {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
        let prefix = std::env::temp_dir().join(format!("tessera-nginx-{}", tessera::ids::random_id(8)));
        std::fs::create_dir_all(prefix.join("logs")).expect("prefix");
        // `ack_window` small so a publisher's acknowledged bytes move; `wait_key`/`wait_video`
        // so a player gets video from a keyframe on.
        let conf = format!(
            "load_module {MODULE};\nuser nobody nogroup;\nworker_processes 1;\npid logs/nginx.pid;\nerror_log logs/error.log info;\n\
             events {{ worker_connections 64; }}\n\
             rtmp {{\n  access_log logs/rtmp_access.log;\n  server {{\n    listen 127.0.0.1:{port};\n    chunk_size 4096;\n    ack_window 262144;\n\
             application live {{ live on; wait_key on; wait_video on; record off; }}\n  }}\n}}\n"
        );
        std::fs::write(prefix.join("nginx.conf"), conf).expect("nginx.conf");
        let mut n = Nginx { child: None, prefix, port };
        n.restart();
        n
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// (Re)starts the server on the same port and waits until it accepts connections.
    pub fn restart(&mut self) {
        self.kill();
        use std::os::unix::process::CommandExt;
        let child = Command::new("nginx")
            .process_group(0)
            .arg("-p")
            .arg(&self.prefix)
            .args(["-c", "nginx.conf", "-e", "logs/error.log", "-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx starts (Debian packages nginx and libnginx-mod-rtmp)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(self.addr()).is_err() {
            assert!(Instant::now() < deadline, "nginx-rtmp did not listen on {}", self.addr());
            std::thread::sleep(Duration::from_millis(20));
        }
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

impl Drop for Nginx {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.prefix);
    }
}
