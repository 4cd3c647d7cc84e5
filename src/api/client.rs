//! The browser client, served from the configured `client/` folder at `/`.

use super::AppState;
use warp::Filter;

pub fn files(state: AppState) -> impl Filter<Extract = (warp::fs::File,), Error = warp::Rejection> + Clone {
    let dir = state.config.client_dir.clone();
    warp::get().and(warp::path::end().and(warp::fs::file(dir.join("index.html"))).or(warp::fs::dir(dir)).unify())
}
