//! `405 Method Not Allowed` answers say which methods the path does support, in `Allow`
//! (RFC 9110 §15.5.6). warp's rejection does not know the path, so the answer is completed
//! here from the OpenAPI document's path templates (plus the few routes it does not list).

use super::rejection::error_reply;
use serde_json::Value;
use std::convert::Infallible;
use std::sync::Arc;
use warp::http::{HeaderValue, StatusCode, header::ALLOW};
use warp::path::FullPath;
use warp::reply::Response;
use warp::{Filter, Reply};

/// GET-only routes that are not in the OpenAPI document.
const UNDOCUMENTED: [&str; 2] = ["/api/v1/rooms/{id}/ws", "/api/v1/openapi.json"];

/// The order methods are listed in.
const ORDER: [&str; 8] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"];

/// Path templates (`/api/v1/rooms/{id}`) and their methods.
pub struct Allow {
    routes: Vec<(Vec<String>, Vec<String>)>,
}

impl Allow {
    pub fn new(doc: &Value) -> Self {
        let mut routes: Vec<(Vec<String>, Vec<String>)> =
            super::openapi::methods_by_path(doc).into_iter().map(|(p, m)| (segments(&p), m)).collect();
        routes.extend(UNDOCUMENTED.iter().map(|p| (segments(p), vec!["GET".to_owned()])));
        Self { routes }
    }

    /// The `Allow` value for a request path, or `None` when no route has that path.
    pub fn methods(&self, path: &str) -> Option<String> {
        let path = if path.len() > 1 { path.strip_suffix('/').unwrap_or(path) } else { path };
        let segs: Vec<&str> = path.split('/').collect();
        let mut found: Vec<&str> = Vec::new();
        for (tpl, methods) in &self.routes {
            let same =
                tpl.len() == segs.len() && tpl.iter().zip(&segs).all(|(t, s)| if t.starts_with('{') { !s.is_empty() } else { t == s });
            if same {
                found.extend(methods.iter().map(String::as_str));
            }
        }
        if found.is_empty() {
            // Anything else outside the API is a file of the browser client (GET).
            let api = ["/api/", "/live/"].iter().any(|p| path.starts_with(p)) || path == "/api" || path == "/live";
            return (!api).then(|| "GET".to_owned());
        }
        Some(ORDER.iter().filter(|m| found.contains(m)).copied().collect::<Vec<_>>().join(", "))
    }

    /// Completes a 405: `Allow` with the path's methods, or 404 for a path nothing serves.
    fn complete(&self, path: &str, mut reply: Response) -> Response {
        if reply.status() != StatusCode::METHOD_NOT_ALLOWED {
            return reply;
        }
        match self.methods(path).and_then(|m| HeaderValue::from_str(&m).ok()) {
            Some(v) => {
                reply.headers_mut().insert(ALLOW, v);
                reply
            }
            None => error_reply(StatusCode::NOT_FOUND, "not_found", "no such resource"),
        }
    }
}

fn segments(template: &str) -> Vec<String> {
    template.split('/').map(str::to_owned).collect()
}

/// `filter` (every route, rejections recovered) with its 405 answers completed.
pub fn completing_405<F, R>(filter: F, allow: Arc<Allow>) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone
where
    F: Filter<Extract = (R,), Error = Infallible> + Clone + Send + Sync + 'static,
    R: Reply + Send,
{
    warp::path::full().and(filter).map(move |path: FullPath, reply: R| allow.complete(path.as_str(), reply.into_response()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn methods_of_a_path_from_the_templates() {
        let doc = json!({"paths": {
            "/api/v1/rooms": {"get": {}, "post": {}},
            "/api/v1/rooms/{id}": {"get": {}, "patch": {}, "delete": {}},
            "/api/v1/rooms/{id}/tokens": {"post": {}},
        }});
        let a = Allow::new(&doc);
        assert_eq!(a.methods("/api/v1/rooms").as_deref(), Some("GET, POST"));
        assert_eq!(a.methods("/api/v1/rooms/").as_deref(), Some("GET, POST"));
        assert_eq!(a.methods("/api/v1/rooms/abc").as_deref(), Some("GET, PATCH, DELETE"));
        assert_eq!(a.methods("/api/v1/rooms/abc/tokens").as_deref(), Some("POST"));
        assert_eq!(a.methods("/api/v1/rooms/abc/ws").as_deref(), Some("GET"));
        assert_eq!(a.methods("/healthz").as_deref(), Some("GET"));
        assert_eq!(a.methods("/api/v1/nothing"), None);
        assert_eq!(a.methods("/live/x"), None);
        assert_eq!(a.methods("/app.js").as_deref(), Some("GET"));
    }
}
