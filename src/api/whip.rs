//! WHIP ingest (RFC 9725): `POST /api/v1/rooms/{id}/whip` with an SDP offer makes an encoder
//! (OBS, GStreamer, a hardware encoder) a participant of the room: a tile, a voice in the mix,
//! in recordings and live outputs. `DELETE` on the session URL (`Location`) makes it leave.
//!
//! The session is an ordinary participant task ([`crate::rtc::PeerKind::Ingest`]) whose
//! signaling is this module: the offer goes in as the client's `offer` message, the answer
//! (with every server candidate: WHIP does not trickle from the server) comes back as the
//! `201`'s body. It never loses a socket, so only its media connection decides how long it is
//! waited for (`connect_timeout_seconds` to connect, `resume_seconds` once down); the room can
//! remove it like anyone else.
//!
//! Invariants: a refused offer or join leaves nothing behind (the session, if started, has
//! ended before the error goes out); a session is listed in [`WhipSessions`] from its `201`
//! until its participant task ends, whatever ends it; the session URL is the only handle on
//! it (32 random characters, about 190 bits), which is also what `DELETE` needs.

use super::forward::{self, Callers, Incoming, Kind, Routed};
use super::rejection::ApiError;
use super::{AppState, body, caller, with_state};
use crate::auth::{Caller, Role};
use crate::protocol::{ClientMessage, ServerMessage};
use crate::room::JoinRequest;
use crate::room::participant::Signal;
use crate::rtc::sdp::{IngestSdpError, check_ingest};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;
use warp::{Filter, Reply};

/// Largest SDP offer taken (a browser's is 5–10 KiB, OBS's 2).
pub const MAX_OFFER: usize = 64 * 1024;
/// Longest the answer may take once the room let the stream in (ICE gathering is at most
/// [`crate::rtc::GATHER_LIMIT`] of it).
const ANSWER_LIMIT: Duration = Duration::from_secs(10);
/// Longest a refused or deleted session is waited for before the answer goes out.
const LEAVE_LIMIT: Duration = Duration::from_secs(5);
/// Characters of a session id.
const SESSION_ID_CHARS: usize = 32;
/// The display name of a stream in open mode that gives none (`?name=`).
const DEFAULT_NAME: &str = "WHIP";

/// One WHIP session: its room, and its participant task's signaling.
struct Entry {
    room: String,
    participant: String,
    signals: mpsc::Sender<Signal>,
    done: CancellationToken,
}

/// The WHIP sessions this node serves, by session id.
#[derive(Clone, Default)]
pub struct WhipSessions(Arc<Mutex<HashMap<String, Entry>>>);

pub fn routes(state: &AppState) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone + use<> {
    let post = warp::path!("api" / "v1" / "rooms" / String / "whip")
        .and(warp::post())
        .and(with_state(state.clone()))
        .and(caller(state))
        .and(super::header_text("content-type"))
        .and(warp::query::<HashMap<String, String>>().or(warp::any().map(HashMap::new)).unify())
        .and(forward::incoming(state, Callers::Identified))
        .and_then(|id, st, c, ct, q, i| async move { publish(id, st, c, ct, q, i).await.map_err(super::rejection::reject) });
    let delete = warp::path!("api" / "v1" / "rooms" / String / "whip" / String)
        .and(warp::delete())
        .and(with_state(state.clone()))
        .and(forward::incoming(state, Callers::Anyone))
        .and_then(|id, sid, st, i| async move { stop(id, sid, st, i).await.map_err(super::rejection::reject) });
    let preflight_endpoint = warp::path!("api" / "v1" / "rooms" / String / "whip").and(warp::options()).map(options_endpoint);
    let preflight_session = warp::path!("api" / "v1" / "rooms" / String / "whip" / String).and(warp::options()).map(options_session);
    post.or(delete).unify().or(preflight_endpoint).unify().or(preflight_session).unify()
}

const WHIP_METHODS: &str = "POST, OPTIONS";
const SESSION_METHODS: &str = "DELETE, OPTIONS";

/// What every WHIP answer carries so a browser page may call it (RFC 9725 §4.5: CORS).
fn cors(r: &mut Response) {
    let h = r.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("Location, Link"));
}

/// CORS preflight of the WHIP endpoint: `Allow`, `Accept-Post: application/sdp` and the CORS
/// headers (any origin).
#[utoipa::path(options, path = "/api/v1/rooms/{id}/whip", tag = "whip", params(("id" = String, Path)),
    responses((status = 204, description = "No body.", headers(("Accept-Post" = String, description = "`application/sdp`"), ("Allow" = String)))))]
pub fn options_endpoint(_id: String) -> Response {
    preflight(WHIP_METHODS, true)
}

/// CORS preflight of a WHIP session URL.
#[utoipa::path(options, path = "/api/v1/rooms/{id}/whip/{session}", tag = "whip", params(("id" = String, Path), ("session" = String, Path)),
    responses((status = 204, description = "No body.", headers(("Allow" = String)))))]
pub fn options_session(_id: String, _session: String) -> Response {
    preflight(SESSION_METHODS, false)
}

/// `OPTIONS`: the CORS preflight (and, on the endpoint, `Accept-Post`).
fn preflight(methods: &'static str, endpoint: bool) -> Response {
    let mut r = StatusCode::NO_CONTENT.into_response();
    cors(&mut r);
    let h = r.headers_mut();
    h.insert(header::ALLOW, HeaderValue::from_static(methods));
    h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(methods));
    h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("Authorization, Content-Type"));
    h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
    if endpoint {
        h.insert("accept-post", HeaderValue::from_static("application/sdp"));
    }
    r
}

/// Whether a `Content-Type` value is `application/sdp` (parameters and case aside).
fn is_sdp(content_type: Option<&str>) -> bool {
    content_type.and_then(|v| v.split(';').next()).is_some_and(|t| t.trim().eq_ignore_ascii_case("application/sdp"))
}

/// Who the stream joins as: a join token's identity, name and role; in open mode a new
/// identity with `?name=` (or [`DEFAULT_NAME`]).
fn join_request(state: &AppState, room: &str, caller: Caller, query: &HashMap<String, String>) -> Result<JoinRequest, ApiError> {
    let named = || {
        let name: String = query.get("name").map(String::as_str).unwrap_or_default().chars().filter(|c| !c.is_control()).take(64).collect();
        let name = name.trim();
        if name.is_empty() { DEFAULT_NAME.to_owned() } else { name.to_owned() }
    };
    let (identity, name, role) = match caller {
        Caller::Token(c) => {
            if c.room != room {
                return Err(crate::auth::AuthError::WrongRoom.into());
            }
            if c.role == Role::Viewer {
                return Err(crate::auth::AuthError::ViewerOnly.into());
            }
            let role = if c.role == Role::Host && !state.auth.is_host(&c) { Role::Participant } else { c.role };
            let name = if c.name.trim().is_empty() { named() } else { c.name };
            (c.sub, name, role)
        }
        Caller::Open => (format!("whip-{}", crate::ids::random_id(10)), named(), Role::Participant),
        Caller::ApiKey(_) => {
            return Err(ApiError::Forbidden(format!(
                "a stream joins with a join token (mint one with POST /api/v1/rooms/{room}/tokens), not with an API key"
            )));
        }
    };
    Ok(JoinRequest { identity, name, role, admitted: false, device: None })
}

/// Publish a stream into the room (WHIP, RFC 9725).
#[utoipa::path(post, path = "/api/v1/rooms/{id}/whip", tag = "whip", security(("bearer" = [])),
    params(("id" = String, Path), ("name" = Option<String>, Query, description = "Open mode only: the stream's display name (a token's name wins)")),
    request_body(content = String, content_type = "application/sdp", description = "The encoder's SDP offer (at most 64 KiB): at most one audio (Opus) and one video (VP8, or H.264 of any profile in packetization mode 1) track, sent (sendonly or sendrecv); candidates may be in it or not (the server does not take trickled ones)."),
    responses(
        (status = 201, description = "The stream joined the room as a participant. The body is the SDP answer with every server candidate (no trickle needed).",
            content_type = "application/sdp", body = String,
            headers(("Location" = String, description = "The session URL (relative): DELETE it to leave."),
                ("Link" = String, description = "One per ICE server URL (RFC 9725 §4.6): `<url>; rel=\"ice-server\"`, with `username`, `credential` and `credential-type=\"password\"` for TURN."))),
        (status = 400, description = "`bad_sdp`: the body is not SDP, or has no audio or video section.", body = ErrorBody),
        (status = 403, description = "`forbidden` (a viewer token, an API key), `wrong_room`, `room_locked`, `removed_from_room`, `must_knock` (the lobby is on and the token is not a host's).", body = ErrorBody),
        (status = 404, description = "`room_not_found`.", body = ErrorBody),
        (status = 408, description = "`request_timeout`: the offer did not arrive within `http_read_timeout_seconds`.", body = ErrorBody),
        (status = 409, description = "`room_ended`, `room_full`, `room_not_started`.", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the offer is over 64 KiB.", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not `application/sdp`.", body = ErrorBody),
        (status = 422, description = "`no_usable_codec` (no Opus audio; no VP8 or H.264 in packetization mode 1), `too_many_tracks` (more than one audio or video track), `nothing_sent` (every section only receives).", body = ErrorBody),
        (status = 503, description = "`media_unavailable`: the room's media or the peer connection could not start.", body = ErrorBody)))]
pub async fn publish(
    id: String,
    state: AppState,
    caller: Caller,
    content_type: Option<String>,
    query: HashMap<String, String>,
    incoming: Incoming,
) -> Result<Response, ApiError> {
    let (room, raw) = match incoming.route(&state, &id, Kind::Live).await? {
        Routed::Forwarded(answer) => return Ok(answer),
        Routed::Here(room, raw) => (room, raw),
    };
    let req = join_request(&state, &id, caller, &query)?;
    if !is_sdp(content_type.as_deref()) {
        return Err(ApiError::UnsupportedMediaType("a WHIP offer is sent as Content-Type: application/sdp".into()));
    }
    let raw = body::read_up_to(raw, MAX_OFFER, state.config.http_read_timeout()).await?;
    let offer = String::from_utf8(raw).map_err(|_| bad_sdp("the offer is not UTF-8 text".into()))?;
    check_ingest(&offer).map_err(|e| match e {
        IngestSdpError::Malformed(m) => bad_sdp(m.to_string()),
        IngestSdpError::NothingSent => ApiError::Unprocessable("nothing_sent", e.to_string()),
        IngestSdpError::TooMany(_) => ApiError::Unprocessable("too_many_tracks", e.to_string()),
        IngestSdpError::NoAudioCodec | IngestSdpError::NoVideoCodec => ApiError::Unprocessable("no_usable_codec", e.to_string()),
    })?;
    let room = room.live(&state).await?;
    let joined = room.join(req).await?;
    let participant = joined.view.participant.id.clone();
    let mut started = super::ws::start_participant(&state, room, joined, crate::rtc::PeerKind::Ingest).await;
    let answer = match answer(&mut started, offer).await {
        Ok(sdp) => sdp,
        Err(e) => {
            tracing::info!(room = %id, %participant, error = %e, "WHIP offer refused");
            leave(started.signals, &started.done).await;
            return Err(e);
        }
    };
    let sid = crate::ids::random_id(SESSION_ID_CHARS);
    let entry = Entry { room: id.clone(), participant: participant.clone(), signals: started.signals, done: started.done.clone() };
    state.whip.0.lock().insert(sid.clone(), entry);
    crate::metrics::whip_sessions(1.0);
    tracing::info!(room = %id, %participant, "WHIP stream joined");
    tokio::spawn(drain(started.out, state.whip.clone(), sid.clone(), participant.clone()));
    let mut r = warp::reply::with_status(answer, StatusCode::CREATED).into_response();
    cors(&mut r);
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/sdp"));
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/rooms/{id}/whip/{sid}")) {
        h.insert(header::LOCATION, v);
    }
    for link in ice_links(&state.config, &participant, crate::time::now_unix()) {
        if let Ok(v) = HeaderValue::from_str(&link) {
            h.append(header::LINK, v);
        }
    }
    Ok(r)
}

fn bad_sdp(message: String) -> ApiError {
    ApiError::Invalid("bad_sdp", message)
}

/// The offer, handed to the session as its client's `offer`; its answer (or its refusal).
async fn answer(started: &mut super::ws::Started, offer: String) -> Result<String, ApiError> {
    let offer = Signal::Client(ClientMessage::Offer { sdp: offer, screen_track_id: None });
    let gone = || ApiError::Unavailable("the stream's session ended before it answered".into());
    started.signals.send(offer).await.map_err(|_| gone())?;
    let wait = async {
        loop {
            match started.out.recv().await {
                Some(ServerMessage::Answer { sdp }) => return Ok(sdp),
                Some(ServerMessage::Error { code, message, .. }) if code == "bad_sdp" => return Err(bad_sdp(message)),
                Some(ServerMessage::Error { message, .. }) => return Err(ApiError::Unavailable(message)),
                // The room's news (someone joined, the layout): nothing a WHIP encoder reads.
                Some(_) => {}
                None => return Err(gone()),
            }
        }
    };
    tokio::time::timeout(ANSWER_LIMIT, wait)
        .await
        .unwrap_or_else(|_| Err(ApiError::Unavailable(format!("the answer was not ready within {} s", ANSWER_LIMIT.as_secs()))))
}

/// Ends a session: its signaling closes (the participant leaves, reason `left`); waits, at
/// most [`LEAVE_LIMIT`], until it has.
async fn leave(signals: mpsc::Sender<Signal>, done: &CancellationToken) {
    drop(signals);
    if tokio::time::timeout(LEAVE_LIMIT, done.cancelled()).await.is_err() {
        tracing::warn!("a WHIP session did not end within {LEAVE_LIMIT:?}");
    }
}

/// Reads what the session says until it ends (nothing reaches the encoder; errors are logged),
/// then forgets it.
async fn drain(mut out: mpsc::Receiver<ServerMessage>, sessions: WhipSessions, sid: String, participant: String) {
    while let Some(msg) = out.recv().await {
        if let ServerMessage::Error { code, message, .. } = msg {
            tracing::info!(%participant, %code, %message, "WHIP session");
        }
    }
    sessions.0.lock().remove(&sid);
    tracing::info!(%participant, "WHIP session ended");
    crate::metrics::whip_sessions(-1.0);
}

/// The ICE servers a WHIP client may use, as `Link` values (RFC 9725 §4.6); TURN credentials
/// are made for this participant (`[[turn]]`).
fn ice_links(config: &crate::config::Config, participant: &str, now: i64) -> Vec<String> {
    let quote = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let mut links = Vec::new();
    for server in crate::turn::ice_servers(config, participant, now) {
        for url in &server.urls {
            let mut link = format!("<{url}>; rel=\"ice-server\"");
            if let (Some(user), Some(credential)) = (&server.username, &server.credential) {
                link.push_str(&format!(
                    "; username=\"{}\"; credential=\"{}\"; credential-type=\"password\"",
                    quote(user),
                    quote(credential)
                ));
            }
            links.push(link);
        }
    }
    links
}

/// End a WHIP session: the stream leaves the room (`participantLeft` with reason `left`). The
/// session URL is the credential (an `Authorization` header is not needed, and not checked).
#[utoipa::path(delete, path = "/api/v1/rooms/{id}/whip/{session}", tag = "whip",
    params(("id" = String, Path), ("session" = String, Path, description = "From the `Location` of the 201")),
    responses((status = 200, description = "The stream left the room."),
        (status = 404, description = "`session_not_found`: no such session in this room (it ended, or never was).", body = ErrorBody)))]
pub async fn stop(id: String, sid: String, state: AppState, incoming: Incoming) -> Result<Response, ApiError> {
    if let Routed::Forwarded(answer) = incoming.route(&state, &id, Kind::Follow).await? {
        return Ok(answer);
    }
    let entry = {
        let mut sessions = state.whip.0.lock();
        match sessions.get(&sid) {
            Some(e) if e.room == id => sessions.remove(&sid),
            _ => None,
        }
    };
    let Some(entry) = entry else {
        return Err(ApiError::NotFound("session_not_found", "no such WHIP session in this room (it ended, or never was)".into()));
    };
    tracing::info!(room = %id, participant = %entry.participant, "WHIP session deleted");
    leave(entry.signals, &entry.done).await;
    let mut r = StatusCode::OK.into_response();
    cors(&mut r);
    Ok(r)
}

use crate::wire::ErrorBody;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, IceServer, TurnConfig};

    #[test]
    fn links_name_every_ice_server_url() {
        let config = Config {
            ice_servers: vec![IceServer { urls: vec!["stun:stun.example.com:3478".into()], username: None, credential: None }],
            turn: vec![TurnConfig {
                urls: vec!["turn:turn.example.com:3478?transport=udp".into(), "turns:turn.example.com:5349".into()],
                secret: "a-long-shared-secret".into(),
                ttl_seconds: 600,
            }],
            ..Config::default()
        };
        let links = ice_links(&config, "p1", 1_700_000_000);
        assert_eq!(links.len(), 3);
        assert_eq!(links[0], "<stun:stun.example.com:3478>; rel=\"ice-server\"");
        let (user, cred) = ("1700000600:p1", crate::turn::ice_servers(&config, "p1", 1_700_000_000)[1].credential.clone().expect("made"));
        for (link, url) in links[1..].iter().zip(["turn:turn.example.com:3478?transport=udp", "turns:turn.example.com:5349"]) {
            let want = format!("<{url}>; rel=\"ice-server\"; username=\"{user}\"; credential=\"{cred}\"; credential-type=\"password\"");
            assert_eq!(link, &want);
            assert!(HeaderValue::from_str(link).is_ok(), "a valid header value");
        }
    }

    #[test]
    fn the_offer_is_sdp() {
        assert!(is_sdp(Some("application/sdp")));
        assert!(is_sdp(Some("Application/SDP; charset=utf-8")));
        assert!(!is_sdp(Some("application/json")));
        assert!(!is_sdp(Some("text/plain")));
        assert!(!is_sdp(None));
    }
}
