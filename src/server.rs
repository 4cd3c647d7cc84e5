//! Wiring: checks media, builds the shared state and serves HTTP until cancelled.

use crate::api::{self, AppState};
use crate::config::Config;
use crate::media::{check, pipelines::Pipelines};
use crate::room::{RoomContext, Rooms, Stats};
use crate::rtc::RtcFactory;
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

/// Checks GStreamer and the pipeline files, binds `config.listen`, and serves in a task.
pub async fn start(config: Config) -> Result<Running, StartError> {
    let pipelines = Pipelines::load(&config.pipelines_dir)?;
    check::check(&pipelines, &config.composite)?;
    let cancel = CancellationToken::new();
    let rooms = Rooms::new(
        RoomContext {
            pipelines: Arc::new(pipelines),
            composite: config.composite.clone(),
            max_participants: config.max_participants,
            stats: Arc::new(Stats::default()),
        },
        cancel.child_token(),
    );
    let listener =
        tokio::net::TcpListener::bind(config.listen).await.map_err(|source| StartError::Listen { addr: config.listen, source })?;
    let addr = listener.local_addr().map_err(|source| StartError::Listen { addr: config.listen, source })?;
    let state = AppState { rooms: rooms.clone(), rtc: RtcFactory::new(&config), config: Arc::new(config) };
    let stop = cancel.clone();
    let server = warp::serve(api::routes(state)).incoming(listener).graceful(async move { stop.cancelled().await });
    let task = tokio::spawn(server.run());
    tracing::info!(%addr, "listening");
    Ok(Running { addr, rooms, cancel, task })
}
