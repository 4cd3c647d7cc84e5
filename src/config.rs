//! Configuration: one struct, filled from a TOML file, then environment variables and flags
//! (which win), then validated. `tessera.sample.toml` documents every key.

use crate::auth::ApiKey;
use crate::records::CompositeConfig;
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

/// Errors from loading or validating the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {path} is not valid")]
    Parse {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

mod sections;
pub use sections::{IceServer, IngestLimitConfig, RateLimitConfig, TurnConfig, WebhookConfig};

/// The whole server configuration.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// HTTP/WebSocket listen address.
    pub listen: SocketAddr,
    /// Address the media (ICE/UDP) sockets bind and advertise. Default: loopback when `listen`
    /// is loopback, otherwise every interface.
    pub rtc_ip: Option<IpAddr>,
    /// Address advertised in candidates instead of the bound one (NAT 1:1 hosts).
    pub public_ip: Option<IpAddr>,
    /// ICE servers handed to clients.
    pub ice_servers: Vec<IceServer>,
    /// TURN servers handed to each participant with credentials of its own (`[[turn]]`).
    pub turn: Vec<TurnConfig>,
    /// The composite of rooms created without one, with its ladder's lower rungs
    /// (`[composite.ladder.l1]`, `[composite.ladder.l2]`; derived from it when not set).
    pub composite: CompositeConfig,
    /// Folder of the GStreamer pipeline descriptions.
    pub pipelines_dir: PathBuf,
    /// Folder of the browser client.
    pub client_dir: PathBuf,
    /// Largest signaling message accepted, bytes.
    pub max_message_bytes: usize,
    /// The longest a client may take to send a request's headers, and again its body, seconds
    /// (1..=300, default 10): a slower client is cut off (headers) or answered 408 (body).
    pub http_read_timeout_seconds: u64,
    /// Request rate limits per source address and per credential (`[rate_limit]`).
    pub rate_limit: RateLimitConfig,
    /// What one inbound track may send (`[ingest_limit]`).
    pub ingest_limit: IngestLimitConfig,
    /// Most participants any room may allow (the grid tiles at most 25); a room's own
    /// `maxParticipants` (default 16) is capped by it.
    pub max_participants: usize,
    /// The SQLite database of rooms and schedules (`:memory:` keeps nothing).
    pub database: PathBuf,
    /// Base URL clients reach the server at, for `joinUrl` (default `http://{listen}`).
    pub public_url: Option<String>,
    /// How long before `startsAt` a scheduled room may be joined, seconds.
    pub early_join_seconds: u32,
    /// Most rooms that may be scheduled or open at once.
    pub max_rooms: usize,
    /// Server API keys (`TESSERA_API_KEYS="id:secret,..."` adds more). None = open mode, which
    /// is only allowed on a loopback listen address.
    pub api_keys: Vec<ApiKey>,
    /// Secret that signs join tokens (at least 32 bytes). Default: generated once and kept in
    /// the database, so tokens survive restarts.
    pub token_secret: Option<String>,
    /// Lifetime of the host token returned when a room is created, seconds after its start.
    pub host_token_ttl_seconds: u32,
    /// Where room and participant events are POSTed.
    pub webhook: Option<WebhookConfig>,
    /// Folder of recordings (one sub-folder per recording, holding its MP4 parts).
    pub recordings_dir: PathBuf,
    /// Folder of live HLS files (one sub-folder per room, removed when HLS stops).
    pub hls_dir: PathBuf,
    /// Recordings running at once on this server (a room runs at most one).
    pub max_recordings: usize,
    /// RTMP outputs at once per room.
    pub max_streams_per_room: usize,
    /// Voices mixed at once in a room: of those talking, the loudest this many (1..=25,
    /// default 4). Inputs carrying only their noise floor are never mixed.
    pub max_mixed_voices: usize,
    /// WHEP viewers of one room at once (0..=10000, default 200): more get `429 too_many_viewers`.
    pub max_viewers_per_room: usize,
    /// WHEP viewers on this server at once, all rooms (0..=100000, default 2000).
    pub max_viewers: usize,
    /// Length of a recording part, seconds: a longer recording continues in a new file.
    pub recording_part_seconds: u64,
    /// Folder of files shared in chats (one sub-folder per live room, removed when it ends;
    /// emptied at start-up). Default: `files` beside the database, or a folder of this
    /// process's own under the system's temporary folder with `database = ":memory:"`.
    pub files_dir: Option<PathBuf>,
    /// Largest file a participant may share, bytes (default 100 MiB).
    pub max_file_bytes: u64,
    /// Bytes of shared files a room may hold at once (default 1 GiB).
    pub room_file_quota_bytes: u64,
    /// How long a participant whose network dropped keeps its session (same id and tile) for
    /// a resume, seconds: counted from when its signaling socket was lost and its media
    /// stopped arriving (or its media connection went down).
    pub resume_seconds: u64,
    /// The longest a participant whose media still flows keeps its session without a
    /// signaling socket, seconds from the loss (a value under `resume_seconds` acts as it).
    pub resume_max_seconds: u64,
    /// How long a new media connection may take to connect before the session gives up,
    /// seconds.
    pub connect_timeout_seconds: u64,
    /// This node's name, the `node` label of every metric (default: the host name).
    pub node_id: Option<String>,
    /// `text` (default) or `json` (one JSON object per line, with the spans, for log shippers).
    pub log_format: LogFormat,
    /// Give freed heap back to the system (`malloc_trim`) after a room's media is torn down.
    pub trim_memory: bool,
    /// Cluster mode: the Redis every node shares (`redis://host:port/db`; `TESSERA_REDIS_URL`).
    /// Unset: a single node with its SQLite database.
    pub redis_url: Option<String>,
    /// Async worker threads (signaling, WebRTC, packet forwarding); unset: [`Config::workers`]'s
    /// default, half the cores. The media work has threads of its own (GStreamer, the mixers).
    pub workers: Option<usize>,
    /// Cluster mode: where the other nodes reach this one (`http://host:port`) to forward REST
    /// calls and signaling; default `public_url`.
    pub node_url: Option<String>,
    /// Most glibc malloc arenas (`M_ARENA_MAX`; 0 keeps glibc's default of 8 per core). Each
    /// room's GStreamer threads otherwise spread freed memory over many arenas that are never
    /// given back (default 2).
    pub malloc_arena_max: u32,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            rtc_ip: None,
            public_ip: None,
            ice_servers: vec![IceServer { urls: vec!["stun:stun.l.google.com:19302".into()], username: None, credential: None }],
            turn: Vec::new(),
            composite: CompositeConfig::default(),
            pipelines_dir: default_dir("pipelines"),
            client_dir: default_dir("client"),
            max_message_bytes: 64 * 1024,
            http_read_timeout_seconds: 10,
            rate_limit: RateLimitConfig::default(),
            ingest_limit: IngestLimitConfig::default(),
            max_participants: 25,
            database: PathBuf::from("data/tessera.db"),
            public_url: None,
            early_join_seconds: 600,
            max_rooms: 1000,
            api_keys: Vec::new(),
            token_secret: None,
            host_token_ttl_seconds: 86_400,
            webhook: None,
            recordings_dir: PathBuf::from("data/recordings"),
            hls_dir: PathBuf::from("data/live"),
            max_recordings: 20,
            max_streams_per_room: 3,
            max_mixed_voices: 4,
            max_viewers_per_room: 200,
            max_viewers: 2000,
            recording_part_seconds: 3600,
            files_dir: None,
            max_file_bytes: 100 * 1024 * 1024,
            room_file_quota_bytes: 1024 * 1024 * 1024,
            resume_seconds: 30,
            resume_max_seconds: 300,
            node_id: None,
            log_format: LogFormat::Text,
            trim_memory: true,
            malloc_arena_max: 2,
            connect_timeout_seconds: 30,
            redis_url: None,
            workers: None,
            node_url: None,
        }
    }
}

/// A configuration refused with `why`.
fn bad(why: String) -> Result<(), ConfigError> {
    Err(ConfigError::Invalid(why))
}

impl Config {
    /// This node's name: `node_id`, else the host name, else `tessera`.
    pub fn node_name(&self) -> String {
        self.node_id.clone().unwrap_or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "tessera".to_owned())
        })
    }

    /// [`Config::http_read_timeout_seconds`] as a duration.
    pub fn http_read_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.http_read_timeout_seconds)
    }

    /// Where shared files go (see [`Config::files_dir`]).
    pub fn files_dir(&self) -> PathBuf {
        match &self.files_dir {
            Some(d) => d.clone(),
            None if self.database == Path::new(":memory:") => std::env::temp_dir().join(format!("tessera-files-{}", std::process::id())),
            None => self.database.parent().unwrap_or(Path::new(".")).join("files"),
        }
    }
}

/// `./NAME` when it exists (an installed server run from its folder), else the source tree's.
fn default_dir(name: &str) -> PathBuf {
    let local = PathBuf::from(name);
    if local.is_dir() { local } else { Path::new(env!("CARGO_MANIFEST_DIR")).join(name) }
}

/// Values given on the command line or in the environment; `None` keeps the file's value.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Option<SocketAddr>,
    pub rtc_ip: Option<IpAddr>,
    pub public_ip: Option<IpAddr>,
    pub pipelines_dir: Option<PathBuf>,
    pub client_dir: Option<PathBuf>,
    pub database: Option<PathBuf>,
    pub public_url: Option<String>,
    /// `id:secret,id:secret` (from `TESSERA_API_KEYS`); added to the file's keys.
    pub api_keys: Option<String>,
    pub max_file_bytes: Option<u64>,
    pub redis_url: Option<String>,
    pub workers: Option<usize>,
}

/// Parses `id:secret,id:secret`.
pub fn parse_api_keys(s: &str) -> Result<Vec<ApiKey>, ConfigError> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once(':') {
            Some((id, secret)) => Ok(ApiKey { id: id.trim().into(), secret: secret.trim().into() }),
            None => Err(ConfigError::Invalid("TESSERA_API_KEYS entries must look like id:secret".into())),
        })
        .collect()
}

impl Config {
    /// Async worker threads: `workers`, or half the cores, at least one. The async workers only
    /// move packets and messages: every worker that sleeps between packets is woken for the
    /// next one, and on 2 cores a second worker cost the server ~0.02 cores per room in futex
    /// and scheduler time (benchmark A, `benches/OPTIMISATIONS.md`) without holding more rooms
    /// (benchmark B).
    pub fn workers(&self) -> usize {
        self.workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() / 2)).max(1)
    }

    /// Reads `file` (if any), applies `overrides`, validates.
    pub fn load(file: Option<&Path>, overrides: Overrides) -> Result<Self, ConfigError> {
        let mut cfg = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
                Self::from_toml(&text).map_err(|source| ConfigError::Parse { path: path.into(), source })?
            }
            None => Self::default(),
        };
        let Overrides {
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
        } = overrides;
        fn set<T>(field: &mut T, v: Option<T>) {
            if let Some(v) = v {
                *field = v;
            }
        }
        set(&mut cfg.listen, listen);
        set(&mut cfg.rtc_ip, rtc_ip.map(Some));
        set(&mut cfg.public_ip, public_ip.map(Some));
        set(&mut cfg.pipelines_dir, pipelines_dir);
        set(&mut cfg.client_dir, client_dir);
        set(&mut cfg.database, database);
        set(&mut cfg.public_url, public_url.map(Some));
        set(&mut cfg.redis_url, redis_url.filter(|u| !u.is_empty()).map(Some));
        set(&mut cfg.max_file_bytes, max_file_bytes);
        set(&mut cfg.workers, workers.map(Some));
        if let Some(v) = api_keys {
            cfg.api_keys.extend(parse_api_keys(&v)?);
        }
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn from_toml(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }

    /// Checks ranges and shapes; the message says which key is wrong.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.check_limits()?;
        self.check_folders()?;
        self.check_cluster()?;
        self.check_timings()?;
        self.check_access()?;
        self.check_links()
    }

    /// Composite size and rate, and the limits on messages, rooms and outputs.
    fn check_limits(&self) -> Result<(), ConfigError> {
        let c = &self.composite;
        if !(64..=3840).contains(&c.width) || !c.width.is_multiple_of(2) {
            return bad(format!("composite.width must be even and within 64..=3840, got {}", c.width));
        }
        if !(64..=2160).contains(&c.height) || !c.height.is_multiple_of(2) {
            return bad(format!("composite.height must be even and within 64..=2160, got {}", c.height));
        }
        if !(1..=60).contains(&c.fps) {
            return bad(format!("composite.fps must be within 1..=60, got {}", c.fps));
        }
        if !(100..=20_000).contains(&c.bitrate_kbps) {
            return bad(format!("composite.bitrate_kbps must be within 100..=20000, got {}", c.bitrate_kbps));
        }
        c.check_ladder("bitrate_kbps").map_err(ConfigError::Invalid)?;
        if !(1024..=1024 * 1024).contains(&self.max_message_bytes) {
            return bad("max_message_bytes must be within 1 KiB..=1 MiB".into());
        }
        if !(1..=25).contains(&self.max_participants) {
            return bad("max_participants must be within 1..=25".into());
        }
        if !(1..=1000).contains(&self.max_recordings) {
            return bad(format!("max_recordings must be within 1..=1000, got {}", self.max_recordings));
        }
        if !(1..=300).contains(&self.http_read_timeout_seconds) {
            return bad(format!("http_read_timeout_seconds must be within 1..=300, got {}", self.http_read_timeout_seconds));
        }
        if self.max_viewers_per_room > 10_000 || self.max_viewers > 100_000 {
            return bad(format!(
                "max_viewers_per_room must be within 0..=10000 and max_viewers within 0..=100000, got {} and {}",
                self.max_viewers_per_room, self.max_viewers
            ));
        }
        if !(1..=25).contains(&self.max_mixed_voices) {
            return bad(format!("max_mixed_voices must be within 1..=25, got {}", self.max_mixed_voices));
        }
        if !(1..=20).contains(&self.max_streams_per_room) {
            return bad(format!("max_streams_per_room must be within 1..=20, got {}", self.max_streams_per_room));
        }
        self.ingest_limit.check().map_err(ConfigError::Invalid)
    }

    /// Folders and shared-file sizes: the folders emptied at start-up hold nothing else.
    fn check_folders(&self) -> Result<(), ConfigError> {
        // The HLS folder is emptied at start-up: it must hold nothing else.
        let (hls, rec) = (&self.hls_dir, &self.recordings_dir);
        if hls.as_os_str().is_empty() || hls.starts_with(rec) || rec.starts_with(hls) || self.database.starts_with(hls) {
            return bad(format!(
                "hls_dir {} must be a folder of its own (it is emptied at start-up): not recordings_dir {}, not inside or around it, and not holding the database",
                hls.display(),
                rec.display()
            ));
        }
        if !(1..=1 << 40).contains(&self.max_file_bytes) {
            return bad(format!("max_file_bytes must be within 1..=1099511627776, got {}", self.max_file_bytes));
        }
        if self.room_file_quota_bytes < self.max_file_bytes {
            return bad(format!(
                "room_file_quota_bytes ({}) must be at least max_file_bytes ({})",
                self.room_file_quota_bytes, self.max_file_bytes
            ));
        }
        // The files folder is emptied at start-up too: it must hold nothing else.
        let files = self.files_dir();
        if files.as_os_str().is_empty()
            || [rec, hls].iter().any(|d| files.starts_with(d) || d.starts_with(&files))
            || self.database.starts_with(&files)
        {
            return bad(format!(
                "files_dir {} must be a folder of its own (it is emptied at start-up): not recordings_dir, not hls_dir, not inside or around them, and not holding the database",
                files.display()
            ));
        }
        Ok(())
    }

    /// This node's name and the addresses of the cluster.
    fn check_cluster(&self) -> Result<(), ConfigError> {
        if let Some(n) = &self.node_id
            && (n.is_empty() || n.len() > 64 || !n.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)))
        {
            return bad(format!("node_id must be 1 to 64 of A-Z a-z 0-9 . _ -, got {n:?}"));
        }
        if let Some(u) = &self.redis_url
            && !(u.starts_with("redis://") || u.starts_with("rediss://") || u.starts_with("redis+unix://") || u.starts_with("unix://"))
        {
            return bad(format!("redis_url {u:?} must start with redis://, rediss:// or unix://"));
        }
        if let Some(u) = &self.node_url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            return bad(format!("node_url {u:?} must start with http:// or https://"));
        }
        Ok(())
    }

    /// Memory, reconnection and recording timings.
    fn check_timings(&self) -> Result<(), ConfigError> {
        if self.malloc_arena_max > 64 {
            return bad(format!("malloc_arena_max must be within 0..=64, got {}", self.malloc_arena_max));
        }
        if let Some(w) = self.workers
            && !(1..=1024).contains(&w)
        {
            return bad(format!("workers must be within 1..=1024, got {w}"));
        }
        if self.resume_seconds > 600 {
            return bad(format!("resume_seconds must be within 0..=600, got {}", self.resume_seconds));
        }
        if self.resume_max_seconds > 3600 {
            return bad(format!("resume_max_seconds must be within 0..=3600, got {}", self.resume_max_seconds));
        }
        if !(5..=600).contains(&self.connect_timeout_seconds) {
            return bad(format!("connect_timeout_seconds must be within 5..=600, got {}", self.connect_timeout_seconds));
        }
        if !(10..=6 * 3600).contains(&self.recording_part_seconds) {
            return bad(format!("recording_part_seconds must be within 10..=21600, got {}", self.recording_part_seconds));
        }
        Ok(())
    }

    /// Who may call the API, and the tokens it hands out.
    fn check_access(&self) -> Result<(), ConfigError> {
        if self.api_keys.is_empty() && !self.listen.ip().is_loopback() {
            return bad(format!(
                "refusing to listen on {} without API keys: anyone could create and control rooms. Set api_keys in the config file or TESSERA_API_KEYS=id:secret (or listen on 127.0.0.1 for development)",
                self.listen
            ));
        }
        for (i, k) in self.api_keys.iter().enumerate() {
            if k.id.is_empty() || !k.id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                return bad(format!("api key id {:?} must be letters, digits, - or _", k.id));
            }
            if k.secret.len() < 16 || k.secret.contains(':') {
                return bad(format!("the secret of api key {:?} must be at least 16 characters without ':'", k.id));
            }
            if self.api_keys[..i].iter().any(|o| o.id == k.id) {
                return bad(format!("api key id {:?} is given twice", k.id));
            }
        }
        if self.token_secret.as_ref().is_some_and(|t| t.len() < 32) {
            return bad("token_secret must be at least 32 characters".into());
        }
        if !(60..=30 * 86_400).contains(&self.host_token_ttl_seconds) {
            return bad("host_token_ttl_seconds must be within 60..=2592000".into());
        }
        if self.max_rooms == 0 {
            return bad("max_rooms must be at least 1".into());
        }
        Ok(())
    }

    /// The addresses handed out or called: links, webhooks, ICE servers.
    fn check_links(&self) -> Result<(), ConfigError> {
        if let Some(u) = &self.public_url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            return bad(format!("public_url {u:?} must start with http:// or https://"));
        }
        if let Some(w) = &self.webhook {
            if !(w.url.starts_with("http://") || w.url.starts_with("https://")) {
                return bad(format!("webhook.url {:?} must start with http:// or https://", w.url));
            }
            if w.secret.len() < 16 {
                return bad("webhook.secret must be at least 16 characters".into());
            }
            if !(1..=20).contains(&w.max_attempts) {
                return bad("webhook.max_attempts must be within 1..=20".into());
            }
        }
        for s in &self.ice_servers {
            if s.urls.is_empty() {
                return bad("every ice_servers entry needs at least one url".into());
            }
            for u in &s.urls {
                if !["stun:", "stuns:", "turn:", "turns:"].iter().any(|p| u.starts_with(p)) {
                    return bad(format!("ice server url {u:?} must start with stun:, stuns:, turn: or turns:"));
                }
            }
        }
        for t in &self.turn {
            if t.urls.is_empty() || t.urls.iter().any(|u| !u.starts_with("turn:") && !u.starts_with("turns:")) {
                return bad(format!("every [[turn]] entry needs urls, each starting with turn: or turns:, got {:?}", t.urls));
            }
            if t.secret.chars().count() < 16 {
                return bad("turn.secret must be at least 16 characters".into());
            }
            if !(60..=604_800).contains(&t.ttl_seconds) {
                return bad(format!("turn.ttl_seconds must be within 60..=604800, got {}", t.ttl_seconds));
            }
        }
        Ok(())
    }

    /// The address media sockets bind.
    pub fn media_bind_ip(&self) -> IpAddr {
        match self.rtc_ip {
            Some(ip) => ip,
            None if self.listen.ip().is_loopback() => self.listen.ip(),
            None => IpAddr::from([0, 0, 0, 0]),
        }
    }

    /// Base of the links handed out (`joinUrl`), without a trailing slash.
    pub fn base_url(&self) -> String {
        match &self.public_url {
            Some(u) => u.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen),
        }
    }
}

#[cfg(test)]
mod tests;
