//! `GET /api/v1/openapi.json`: the OpenAPI 3 document, generated from the handlers' and wire
//! types' annotations (`utoipa`), so it cannot drift from the code. [`document`] then adds what
//! operations share (the 16 KiB limit of JSON bodies and its 413, the 401's `WWW-Authenticate`,
//! the 500 of a failed database) and the limits an annotation cannot spell: the name and URL
//! patterns the server enforces and the layouts this server has.
//!
//! The fuzz (`scripts/fuzz-rest.sh`) holds the server to this document: every schema-valid
//! request is accepted, every invalid one refused with a 4xx, every answer matches.

use super::body::MAX_BODY;
use super::{AppState, files, health, live, lobby, participants, recordings, rooms, streams, tokens, whep, whip};
use serde_json::{Value, json};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use warp::Filter;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A server API key as `<id>:<secret>`, or a join token (host powers need the room's host token). \
                         The scheme name is case-insensitive (`Bearer`, `bearer`).",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Tessera", description = "MCU compositing media server: rooms, participants and join tokens. Signaling is a WebSocket at /api/v1/rooms/{id}/ws, documented in docs/signaling.md. Every error is `{\"code\", \"message\"}`; a method a path does not support gets 405 with `Allow`."),
    paths(
        rooms::create_room, rooms::list_rooms, rooms::get_room, rooms::get_invitation, rooms::patch_room, rooms::delete_room,
        participants::list_participants, participants::kick_participant, participants::mute_participant,
        participants::set_role, lobby::list_lobby, lobby::answer_knock, tokens::create_token,
        recordings::start_recording, recordings::stop_recording, recordings::list_recordings, recordings::get_recording,
        recordings::delete_recording, recordings::download_file, recordings::download_part,
        streams::start_stream, streams::list_streams, streams::get_stream, streams::stop_stream,
        files::upload, files::fetch,
        whip::publish, whip::stop, whip::options_endpoint, whip::options_session,
        whep::watch, whep::stop, whep::options_endpoint, whep::options_session,
        live::serve,
        health::livez, health::readyz, health::healthz, health::metrics
    ),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

/// White space as Rust's `str::trim` removes it (Unicode `White_Space`), for JSON Schema
/// patterns (ECMA-262, also read by Python's `re`).
const WS: &str = r"\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";
/// Control characters (`char::is_control`: Unicode `Cc`).
const CTRL: &str = r"\u0000-\u001F\u007F-\u009F";

/// A display name: after trimming white space, at least one character and no control
/// character (the length is `maxLength`, counted before trimming).
pub fn name_pattern() -> String {
    format!("^[{WS}]*[^{WS}{CTRL}](?:[^{CTRL}]*[^{WS}{CTRL}])?[{WS}]*$")
}

/// An RTMP target as `RtmpUrl::parse` accepts it: its grammar, with surrounding white space.
pub fn rtmp_url_pattern() -> String {
    let core = crate::egress::rtmp::URL_GRAMMAR.trim_start_matches('^').trim_end_matches('$');
    format!("^[{WS}]*{core}[{WS}]*$")
}

/// Open probes: no credentials, no body, no database and no cluster behind them, so none of
/// the shared responses applies; each documents its own.
const PROBES: [&str; 4] = ["/livez", "/readyz", "/healthz", "/metrics"];

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// The document this server serves (with its own layouts).
pub fn document(state: &AppState) -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_else(|e| {
        tracing::error!(error = %e, "the OpenAPI document could not be serialised");
        json!({})
    });
    let error = json!({"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}});
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            for m in METHODS {
                if let Some(op) = item.get_mut(m).and_then(Value::as_object_mut) {
                    if !PROBES.contains(&path.as_str()) {
                        shared_responses(path, op, &error);
                    }
                    describe_responses(op);
                }
            }
        }
    }
    let name = name_pattern();
    for schema in ["CreateRoomRequest", "PatchRoomRequest", "TokenRequest", "RoomView"] {
        set(&mut doc, schema, "name", "pattern", json!(name));
    }
    set(&mut doc, "StartStreamRequest", "url", "pattern", json!(rtmp_url_pattern()));
    // Kept times must stay four-digit years when shown in UTC, whatever their offset.
    for (schema, field) in [
        ("CreateRoomRequest", "startsAt"),
        ("CreateRoomRequest", "endsAt"),
        ("PatchRoomRequest", "startsAt"),
        ("PatchRoomRequest", "endsAt"),
    ] {
        set(&mut doc, schema, field, "pattern", json!("^(?!0000|9999)"));
    }
    match crate::layout::Layouts::load(&state.config.pipelines_dir) {
        Ok(layouts) => {
            let mut names: Vec<Value> = layouts.names().map(|n| json!(n)).collect();
            names.push(Value::Null);
            for schema in ["CreateRoomRequest", "PatchRoomRequest"] {
                set(&mut doc, schema, "layout", "enum", json!(names));
            }
        }
        Err(e) => tracing::warn!(error = %e, "the OpenAPI document lists no layouts"),
    }
    doc
}

/// Responses every operation of its kind has, added where the annotations do not give them.
fn shared_responses(path: &str, op: &mut serde_json::Map<String, Value>, error: &Value) {
    let json_body = op.get("requestBody").and_then(|b| b.pointer("/content/application~1json")).is_some();
    let secured = op.get("security").and_then(Value::as_array).is_some_and(|s| !s.is_empty()) || path.starts_with("/live/");
    if let Some(body) = op.get_mut("requestBody").and_then(Value::as_object_mut).filter(|_| json_body) {
        let limit = format!("At most {} KiB ({MAX_BODY} bytes) of JSON: a larger body is refused with 413.", MAX_BODY / 1024);
        let text = match body.get("description").and_then(Value::as_str) {
            Some(d) => format!("{d} {limit}"),
            None => limit,
        };
        body.insert("description".into(), json!(text));
    }
    let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else { return };
    if json_body {
        add_response(responses, "413", format!("`payload_too_large`: the body is over {MAX_BODY} bytes."), error);
        add_response(
            responses,
            "408",
            "`request_timeout`: the whole body did not arrive within `http_read_timeout_seconds` (default 10).".into(),
            error,
        );
    }
    if secured {
        let text = "`unauthorized` (no credential), `invalid_credentials` (unknown key, wrong secret, forged token), `token_expired`.";
        add_response(responses, "401", text.into(), error);
        if let Some(r) = responses.get_mut("401").and_then(Value::as_object_mut) {
            let header = json!({"required": true, "description": "`Bearer`", "schema": {"type": "string"}});
            r.insert("headers".into(), json!({ "WWW-Authenticate": header }));
        }
    }
    add_response(responses, "500", "`internal`: the server's database failed.".into(), error);
    let limited = "`rate_limited`: over a request rate limit (`[rate_limit]`: per source address, per credential, and for signaling connects; defaults 100 requests a second with bursts of 400, 10 connects a second with bursts of 60); `Retry-After` says in how many seconds to try again.";
    add_response(responses, "429", limited.into(), error);
    if let Some(r) = responses.get_mut("429").and_then(Value::as_object_mut) {
        let header = json!({"description": "Seconds to wait (with `rate_limited`).", "schema": {"type": "integer", "minimum": 1}});
        r.insert("headers".into(), json!({ "Retry-After": header }));
    }
    let cluster = "Cluster mode (`redis_url` set): `store_unavailable` or `cluster_unavailable` (Redis cannot be reached), `cluster_full` (no node has a free room), `room_moving` (the room's node died a moment ago; it is being placed again), `node_unreachable` (the node running the room cannot be reached); `draining`: a single node shutting down takes no new rooms (in a cluster a draining node places them on another node instead). `cluster_unavailable` also answers for a few seconds after Redis came back, until the nodes have re-announced. `store_unavailable`, `cluster_unavailable`, `room_moving` and `node_unreachable` carry `Retry-After: 1`. Try again after a short wait.";
    add_response(responses, "503", cluster.into(), error);
}

/// OpenAPI requires a description on every response: the status' reason where none is given.
fn describe_responses(op: &mut serde_json::Map<String, Value>) {
    if let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) {
        for (status, r) in responses.iter_mut() {
            let reason =
                status.parse::<u16>().ok().and_then(|s| warp::http::StatusCode::from_u16(s).ok()).and_then(|s| s.canonical_reason());
            if let (Some(r), Some(reason)) = (r.as_object_mut(), reason)
                && r.get("description").and_then(Value::as_str).is_none_or(str::is_empty)
            {
                r.insert("description".into(), json!(reason));
            }
        }
    }
}

/// Adds the response `status` (an error body) or puts `description` before its own.
fn add_response(responses: &mut serde_json::Map<String, Value>, status: &str, description: String, error: &Value) {
    let r = responses.entry(status).or_insert_with(|| json!({ "content": error }));
    if let Some(r) = r.as_object_mut() {
        let text = match r.get("description").and_then(Value::as_str).filter(|d| !d.is_empty()) {
            Some(d) if d != description => format!("{description} {d}"),
            _ => description,
        };
        r.insert("description".into(), json!(text));
    }
}

/// Sets `key` of the property `field` of the component schema `schema` (of the non-null branch
/// when the property is nullable through `oneOf`).
fn set(doc: &mut Value, schema: &str, field: &str, key: &str, value: Value) {
    let Some(prop) = doc.pointer_mut(&format!("/components/schemas/{schema}/properties/{field}")) else {
        tracing::warn!(schema, field, "the OpenAPI document has no such property");
        return;
    };
    let target = match prop.get_mut("oneOf").and_then(Value::as_array_mut) {
        Some(branches) => branches.iter_mut().find(|b| b.get("type") != Some(&json!("null"))),
        None => Some(prop),
    };
    if let Some(t) = target.and_then(Value::as_object_mut) {
        t.insert(key.into(), value);
    }
}

/// The methods each documented path template supports, for `Allow`.
pub fn methods_by_path(doc: &Value) -> Vec<(String, Vec<String>)> {
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else { return vec![] };
    paths
        .iter()
        .map(|(p, item)| (p.clone(), METHODS.iter().filter(|m| item.get(**m).is_some()).map(|m| m.to_ascii_uppercase()).collect()))
        .collect()
}

pub fn route(doc: std::sync::Arc<Value>) -> impl Filter<Extract = (warp::reply::Json,), Error = warp::Rejection> + Clone {
    warp::path!("api" / "v1" / "openapi.json").and(warp::get()).map(move || warp::reply::json(&*doc))
}
