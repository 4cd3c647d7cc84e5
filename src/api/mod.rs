//! HTTP surface (the only module that knows warp): REST under `/api/v1`, WebSocket signaling,
//! `/healthz`, and the browser client at `/`. One file per handler; [`rejection`] maps typed
//! errors and warp's own rejections to a status and `{"code","message"}`.

mod client;
mod health;
pub mod rejection;
mod rooms;
mod ws;

use crate::config::Config;
use crate::room::Rooms;
use crate::rtc::RtcFactory;
use std::sync::Arc;
use warp::Filter;

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    pub rooms: Rooms,
    pub config: Arc<Config>,
    pub rtc: RtcFactory,
}

fn with_state(state: AppState) -> impl Filter<Extract = (AppState,), Error = std::convert::Infallible> + Clone {
    warp::any().map(move || state.clone())
}

/// Every route, with rejections recovered into JSON errors.
pub fn routes(state: AppState) -> impl Filter<Extract = (impl warp::Reply,), Error = std::convert::Infallible> + Clone {
    let api =
        rooms::create(state.clone()).or(rooms::get(state.clone())).or(ws::signaling(state.clone())).or(health::healthz(state.clone()));
    api.or(client::files(state)).recover(rejection::recover).with(warp::trace::request())
}
