//! Sessions made by one SDP offer over HTTP: WHIP (an encoder publishing, `whip.rs`) and WHEP
//! (a player watching, `whep.rs`). What both share lives here: reading the offer, handing it to
//! the session task as its client's `offer` and waiting for the answer (which carries every
//! server candidate: neither protocol trickles from the server), the `201` with `Location`,
//! `Link` ICE servers and CORS headers, the registry of sessions by their unguessable id, and
//! `DELETE`.
//!
//! Invariants: a refused offer leaves nothing behind (the session, if started, has ended before
//! the error goes out); a session is listed in [`Sessions`] from its `201` until its task ends,
//! whatever ends it; the session URL (32 random characters, about 190 bits) is the only handle
//! on it, which is also what `DELETE` needs. A WHEP session holds one of the node's viewer
//! places ([`Sessions::take_viewer_place`]) from before its room is asked until it ends.

use super::AppState;
use super::forward::{Incoming, Kind, Routed};
use super::rejection::ApiError;
use crate::protocol::{ClientMessage, ServerMessage};
use crate::room::participant::Signal;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use warp::Reply;
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;

/// Largest SDP offer taken (a browser's is 5–10 KiB, OBS's 2).
pub const MAX_OFFER: usize = 64 * 1024;
/// Longest the answer may take once the room let the session in (ICE gathering is at most
/// [`crate::rtc::GATHER_LIMIT`] of it).
const ANSWER_LIMIT: Duration = Duration::from_secs(10);
/// Longest a refused or deleted session is waited for before the answer goes out.
const LEAVE_LIMIT: Duration = Duration::from_secs(5);
/// Characters of a session id.
const SESSION_ID_CHARS: usize = 32;

/// Which door a session came in by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    Whip,
    Whep,
}

impl Door {
    /// The path segment (`/api/v1/rooms/{id}/whip`) and the name in messages.
    fn segment(self) -> &'static str {
        match self {
            Door::Whip => "whip",
            Door::Whep => "whep",
        }
    }

    fn count(self, delta: f64) {
        match self {
            Door::Whip => crate::metrics::whip_sessions(delta),
            Door::Whep => crate::metrics::whep_viewers(delta),
        }
    }
}

/// One session: its door, its room, and its task's signaling.
struct Entry {
    door: Door,
    room: String,
    participant: String,
    signals: mpsc::Sender<Signal>,
    done: CancellationToken,
}

/// The WHIP and WHEP sessions this node serves, by session id, and its viewers.
#[derive(Clone, Default)]
pub struct Sessions {
    entries: Arc<Mutex<HashMap<String, Entry>>>,
    viewers: Arc<AtomicUsize>,
}

/// One of the node's viewer places, given back when dropped.
pub struct ViewerPlace(Arc<AtomicUsize>);

impl Drop for ViewerPlace {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Sessions {
    /// A viewer place if fewer than `max` are taken (the node's `max_viewers`).
    pub fn take_viewer_place(&self, max: usize) -> Option<ViewerPlace> {
        let taken = self.viewers.fetch_add(1, Ordering::Relaxed);
        let place = ViewerPlace(self.viewers.clone());
        (taken < max).then_some(place)
    }
}

/// What every WHIP and WHEP answer carries so a browser page may call it (CORS).
pub fn cors(r: &mut Response) {
    let h = r.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("Location, Link"));
}

/// `OPTIONS`: the CORS preflight (and, on an endpoint, `Accept-Post`).
pub fn preflight(methods: &'static str, endpoint: bool) -> Response {
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

pub fn bad_sdp(message: String) -> ApiError {
    ApiError::Invalid("bad_sdp", message)
}

/// The offer of a request: `application/sdp`, at most [`MAX_OFFER`] bytes of UTF-8.
pub async fn read_offer(state: &AppState, content_type: Option<&str>, raw: super::forward::BodyStream) -> Result<String, ApiError> {
    if !is_sdp(content_type) {
        return Err(ApiError::UnsupportedMediaType("the offer is sent as Content-Type: application/sdp".into()));
    }
    let raw = super::body::read_up_to(raw, MAX_OFFER, state.config.http_read_timeout()).await?;
    String::from_utf8(raw).map_err(|_| bad_sdp("the offer is not UTF-8 text".into()))
}

/// Answers `offer` with the session just started for the room `room` and registers it: the
/// `201` with the answer, `Location`, `Link` and CORS headers. A refused offer ends the session
/// before the error is returned. `place`: a viewer's place, held until the session ends.
pub async fn establish(
    state: &AppState,
    door: Door,
    room: &str,
    mut started: super::ws::Started,
    participant: String,
    offer: String,
    place: Option<ViewerPlace>,
) -> Result<Response, ApiError> {
    let answer = match answer(&mut started, offer).await {
        Ok(sdp) => sdp,
        Err(e) => {
            tracing::info!(%room, %participant, door = door.segment(), error = %e, "offer refused");
            leave(started.signals, &started.done).await;
            return Err(e);
        }
    };
    let sid = crate::ids::random_id(SESSION_ID_CHARS);
    let entry = Entry { door, room: room.to_owned(), participant: participant.clone(), signals: started.signals, done: started.done };
    state.sessions.entries.lock().insert(sid.clone(), entry);
    door.count(1.0);
    tracing::info!(%room, %participant, door = door.segment(), "session started");
    tokio::spawn(drain(started.out, state.sessions.clone(), sid.clone(), participant.clone(), door, place));
    let mut r = warp::reply::with_status(answer, StatusCode::CREATED).into_response();
    cors(&mut r);
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/sdp"));
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/rooms/{room}/{}/{sid}", door.segment())) {
        h.insert(header::LOCATION, v);
    }
    for link in ice_links(&state.config, &participant, crate::time::now_unix()) {
        if let Ok(v) = HeaderValue::from_str(&link) {
            h.append(header::LINK, v);
        }
    }
    Ok(r)
}

/// The offer, handed to the session as its client's `offer`; its answer (or its refusal).
async fn answer(started: &mut super::ws::Started, offer: String) -> Result<String, ApiError> {
    let offer = Signal::Client(ClientMessage::Offer { sdp: offer, screen_track_id: None });
    let gone = || ApiError::Unavailable("the session ended before it answered".into());
    started.signals.send(offer).await.map_err(|_| gone())?;
    let wait = async {
        loop {
            match started.out.recv().await {
                Some(ServerMessage::Answer { sdp }) => return Ok(sdp),
                Some(ServerMessage::Error { code, message, .. }) if code == "bad_sdp" => return Err(bad_sdp(message)),
                Some(ServerMessage::Error { message, .. }) => return Err(ApiError::Unavailable(message)),
                // The room's news (someone joined, the layout): nothing these clients read.
                Some(_) => {}
                None => return Err(gone()),
            }
        }
    };
    tokio::time::timeout(ANSWER_LIMIT, wait)
        .await
        .unwrap_or_else(|_| Err(ApiError::Unavailable(format!("the answer was not ready within {} s", ANSWER_LIMIT.as_secs()))))
}

/// Ends a session: its signaling closes (the participant leaves, reason `left`; a viewer
/// goes); waits, at most [`LEAVE_LIMIT`], until it has.
async fn leave(signals: mpsc::Sender<Signal>, done: &CancellationToken) {
    drop(signals);
    if tokio::time::timeout(LEAVE_LIMIT, done.cancelled()).await.is_err() {
        tracing::warn!("a WHIP or WHEP session did not end within {LEAVE_LIMIT:?}");
    }
}

/// Reads what the session says until it ends (nothing reaches the client; errors are logged),
/// then forgets it and gives its viewer place back.
async fn drain(
    mut out: mpsc::Receiver<ServerMessage>,
    sessions: Sessions,
    sid: String,
    participant: String,
    door: Door,
    place: Option<ViewerPlace>,
) {
    while let Some(msg) = out.recv().await {
        if let ServerMessage::Error { code, message, .. } = msg {
            tracing::info!(%participant, %code, %message, door = door.segment(), "session said");
        }
    }
    sessions.entries.lock().remove(&sid);
    drop(place);
    door.count(-1.0);
    tracing::info!(%participant, door = door.segment(), "session ended");
}

/// `DELETE` of a session URL: the session ends (`200`), or `404 session_not_found`.
pub async fn end(state: AppState, door: Door, room: String, sid: String, incoming: Incoming) -> Result<Response, ApiError> {
    if let Routed::Forwarded(answer) = incoming.route(&state, &room, Kind::Follow).await? {
        return Ok(answer);
    }
    let entry = {
        let mut entries = state.sessions.entries.lock();
        match entries.get(&sid) {
            Some(e) if e.room == room && e.door == door => entries.remove(&sid),
            _ => None,
        }
    };
    let Some(entry) = entry else {
        let what = door.segment().to_ascii_uppercase();
        return Err(ApiError::NotFound("session_not_found", format!("no such {what} session in this room (it ended, or never was)")));
    };
    tracing::info!(%room, participant = %entry.participant, door = door.segment(), "session deleted");
    leave(entry.signals, &entry.done).await;
    let mut r = StatusCode::OK.into_response();
    cors(&mut r);
    Ok(r)
}

/// The ICE servers a client may use, as `Link` values (RFC 9725 §4.6); TURN credentials are
/// made for this session (`[[turn]]`).
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
