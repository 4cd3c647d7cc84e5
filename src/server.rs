//! Wiring: checks media, opens the store, restores rooms, builds the shared state and serves
//! HTTP until cancelled.

use crate::api::{self, AppState};
use crate::auth::Auth;
use crate::config::Config;
use crate::egress::EgressContext;
use crate::media::{check, pipelines::Pipelines};
use crate::room::{RoomContext, Rooms, Stats};
use crate::rtc::RtcFactory;
use crate::store::Store;
use crate::webhook::Webhooks;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Errors that stop the server from starting.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Pipelines(#[from] crate::media::pipelines::PipelinesError),
    #[error(transparent)]
    Media(#[from] check::CheckError),
    #[error("the database could not be opened")]
    Store(#[from] crate::store::StoreError),
    #[error("cluster mode: redis at {url} cannot be used")]
    Cluster {
        url: String,
        #[source]
        source: crate::cluster::ClusterError,
    },
    #[error("cannot listen on {addr}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// A started server.
pub struct Running {
    pub addr: SocketAddr,
    pub rooms: Rooms,
    pub cancel: CancellationToken,
    pub task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// After cancelling: waits (at most `limit`) until every participant's session has ended and
    /// its signaling socket has sent its last messages (why the session ended, and the close).
    pub async fn wait_for_sessions(&self, limit: std::time::Duration) {
        let stats = self.rooms.stats();
        wait_while(limit, std::time::Duration::from_millis(20), || {
            stats.participant_tasks.load(std::sync::atomic::Ordering::SeqCst) > 0
                || stats.signaling_writers.load(std::sync::atomic::Ordering::SeqCst) > 0
        })
        .await;
    }

    /// After cancelling (the rooms' actors have stopped): gives up this node's room leases in a
    /// cluster, so the other nodes can place its rooms at once.
    pub async fn release_leases(&self) {
        if let Some(cluster) = self.rooms.cluster() {
            cluster.release_all().await;
        }
    }

    /// After cancelling: waits (at most `limit`) for running recordings to close their files.
    pub async fn wait_for_outputs(&self, limit: std::time::Duration) {
        let counts = self.rooms.egress_counts();
        wait_while(limit, std::time::Duration::from_millis(50), || counts.recordings.load(std::sync::atomic::Ordering::SeqCst) > 0).await;
    }
}

/// Polls `busy` every `every` while it holds, for at most `limit` (shutdown's waits on counters).
async fn wait_while(limit: std::time::Duration, every: std::time::Duration, busy: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while busy() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(every).await;
    }
}

/// Checks GStreamer and the pipeline files, opens the store and restores its rooms: everything
/// but the listener. Must run inside a Tokio runtime (room actors and webhooks are tasks).
pub async fn build(config: Config, cancel: &CancellationToken) -> Result<AppState, StartError> {
    let pipelines = Pipelines::load(&config.pipelines_dir)?;
    check::check(&pipelines, &config.composite)?;
    crate::metrics::install(&config.node_name());
    crate::media::memory::set_enabled(config.trim_memory);
    crate::media::memory::limit_arenas(config.malloc_arena_max);
    let node_id = config.node_name();
    let redis = match &config.redis_url {
        Some(url) => Some(crate::cluster::connect(url).map_err(|source| StartError::Cluster { url: url.clone(), source })?),
        None => None,
    };
    let store = Store::open(&config.database, redis.clone().map(|c| (c, node_id.as_str())))?;
    let node_url = config.node_url.clone().unwrap_or_else(|| config.base_url());
    let cluster = redis.map(|conn| crate::cluster::node::ClusterNode::new(conn, &node_id, &node_url));
    let secret = match &config.token_secret {
        Some(s) => s.clone(),
        None => store.setting_or_insert("token_secret", || crate::ids::random_id(48)).await?,
    };
    let auth = Auth::new(config.api_keys.clone(), secret.as_bytes());
    let webhooks = Webhooks::start(config.webhook.clone(), cancel.child_token());
    let pipelines = Arc::new(pipelines);
    let egress = EgressContext {
        store: store.clone(),
        webhooks: webhooks.clone(),
        pipelines: pipelines.clone(),
        composite: config.composite.clone(),
        recordings_dir: config.recordings_dir.clone(),
        hls_dir: config.hls_dir.clone(),
        max_recordings: config.max_recordings,
        max_streams_per_room: config.max_streams_per_room,
        part_duration: std::time::Duration::from_secs(config.recording_part_seconds),
        counts: Arc::default(),
    };
    let interrupted = crate::egress::recording::recover(&egress).await?;
    if interrupted > 0 {
        tracing::warn!(interrupted, "recordings cut short by the last stop are marked interrupted");
    }
    // HLS files of a previous run are stale: the live output starts afresh. So are shared
    // files: the chats that announced them are gone.
    let _ = std::fs::remove_dir_all(&config.hls_dir);
    let files_dir = config.files_dir();
    let _ = std::fs::remove_dir_all(&files_dir);
    let ctx = RoomContext {
        pipelines,
        stats: Arc::new(Stats::default()),
        store,
        webhooks,
        egress,
        early_join_seconds: config.early_join_seconds.into(),
        max_participants: u32::try_from(config.max_participants).unwrap_or(u32::MAX),
        max_mixed_voices: config.max_mixed_voices,
        max_viewers_per_room: config.max_viewers_per_room,
        files: crate::room::files::FileLimits {
            dir: files_dir,
            max_file_bytes: config.max_file_bytes,
            room_quota_bytes: config.room_file_quota_bytes,
        },
        cluster: cluster.clone(),
    };
    let rooms = Rooms::new(ctx, config.max_rooms, cancel.child_token());
    if let Some(node) = cluster {
        let r = rooms.clone();
        let load = move || (count(r.len()), count(r.participants()), count(r.capacity()));
        tokio::spawn(node.clone().run_announcer(load, cancel.child_token()));
        tokio::spawn(rooms.clone().run_placement(cancel.child_token()));
        tracing::info!(node = %node.id(), url = %node.url(), "cluster mode: rooms are placed through redis");
    }
    let restored = rooms.restore().await?;
    if auth.is_open() {
        tracing::warn!(
            "auth: OPEN mode (no API keys configured; allowed because the listen address is loopback). Anyone who can reach this address can create and control rooms"
        );
    } else {
        tracing::info!(keys = config.api_keys.len(), "auth: API keys required for management calls; join tokens required to join");
    }
    tracing::info!(database = %config.database.display(), restored, "rooms restored from the store");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(std::time::Duration::from_secs(2))
        .build()
        .unwrap_or_default();
    Ok(AppState { rooms, rtc: RtcFactory::new(&config), auth, config: Arc::new(config), http, sessions: Default::default() })
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// [`build`]s the server, binds `config.listen`, and serves in a task.
pub async fn start(config: Config) -> Result<Running, StartError> {
    let cancel = CancellationToken::new();
    let listen = config.listen;
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|source| StartError::Listen { addr: listen, source })?;
    let addr = listener.local_addr().map_err(|source| StartError::Listen { addr: listen, source })?;
    let mut config = config;
    if config.public_url.is_none() {
        // With port 0 the real port is only known now; links must carry it.
        config.public_url = Some(format!("http://{addr}"));
    }
    let state = build(config, &cancel).await?;
    let rooms = state.rooms.clone();
    let task = tokio::spawn(api::serve(state, listener, cancel.clone()));
    tracing::info!(%addr, "listening");
    Ok(Running { addr, rooms, cancel, task })
}
