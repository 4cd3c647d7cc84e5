//! The browser client, served from the configured `client/` folder at `/`, and the page a
//! browser gets for an address that is neither the client nor the API (an HTML 404 with a way
//! home, where an API caller gets JSON).

use super::AppState;
use warp::Filter;
use warp::http::StatusCode;

pub fn files(state: AppState) -> impl Filter<Extract = (warp::fs::File,), Error = warp::Rejection> + Clone {
    let dir = state.config.client_dir.clone();
    warp::get().and(warp::path::end().and(warp::fs::file(dir.join("index.html"))).or(warp::fs::dir(dir)).unify())
}

/// A browser's page for an unknown address: `GET` outside `/api/` and `/live/` from a caller
/// that accepts HTML. Everything else falls through to the JSON `404 not_found`.
pub fn page_not_found() -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone {
    warp::get().and(warp::path::full()).and(warp::header::optional::<String>("accept")).and_then(
        |path: warp::path::FullPath, accept: Option<String>| async move {
            let api = ["/api/", "/live/"].iter().any(|p| path.as_str().starts_with(p));
            if api || !accept.is_some_and(|a| a.contains("text/html")) {
                return Err(warp::reject::not_found());
            }
            let page = warp::reply::html(NOT_FOUND_PAGE);
            Ok(warp::reply::with_status(page, StatusCode::NOT_FOUND).into_response())
        },
    )
}

use warp::Reply;

const NOT_FOUND_PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Page not found — Tessera</title><link rel="stylesheet" href="/style.css"></head>
<body><main class="panel"><h1>Page not found</h1>
<p class="lede">There is nothing at this address. A call's link looks like <code>/?room=…</code>: check that you copied all of it.</p>
<p><a href="/">Go to the Tessera home page</a></p></main></body></html>
"#;
