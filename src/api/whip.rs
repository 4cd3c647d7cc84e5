//! WHIP ingest (RFC 9725): `POST /api/v1/rooms/{id}/whip` with an SDP offer makes an encoder
//! (OBS, GStreamer, a hardware encoder) a participant of the room: a tile, a voice in the mix,
//! in recordings and live outputs. `DELETE` on the session URL (`Location`) makes it leave.
//!
//! The session is an ordinary participant task ([`crate::rtc::PeerKind::Ingest`]) whose
//! signaling is `sdp_session.rs`: the offer goes in as the client's `offer` message, the answer
//! comes back as the `201`'s body. It never loses a socket, so only its media connection
//! decides how long it is waited for (`connect_timeout_seconds` to connect, `resume_seconds`
//! once down); the room can remove it like anyone else.

use super::forward::{self, Callers, Incoming, Kind, Routed};
use super::rejection::ApiError;
use super::sdp_session::{Door, bad_sdp, establish, preflight, read_offer};
use super::{AppState, caller, with_state};
use crate::auth::{Caller, Role};
use crate::room::JoinRequest;
use crate::rtc::sdp::{IngestSdpError, check_ingest};
use crate::wire::ErrorBody;
use std::collections::HashMap;
use warp::Filter;
use warp::reply::Response;

/// The display name of a stream in open mode that gives none (`?name=`).
const DEFAULT_NAME: &str = "WHIP";

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

/// Who the stream joins as: a join token's identity, name and role (as a signaling client
/// would); in open mode a new identity with `?name=` (or [`DEFAULT_NAME`]).
fn join_request(state: &AppState, room: &str, caller: Caller, query: &HashMap<String, String>) -> Result<JoinRequest, ApiError> {
    let name = super::ws::clean_name(query.get("name").map(String::as_str), DEFAULT_NAME);
    match caller {
        Caller::Token(c) if c.room != room => Err(crate::auth::AuthError::WrongRoom.into()),
        Caller::Token(c) => Ok(super::ws::joiner(state, c, name, None)?),
        Caller::Open => Ok(JoinRequest {
            identity: format!("whip-{}", crate::ids::random_id(10)),
            name,
            role: Role::Participant,
            admitted: false,
            device: None,
        }),
        Caller::ApiKey(_) => Err(ApiError::Forbidden(format!(
            "a stream joins with a join token (mint one with POST /api/v1/rooms/{room}/tokens), not with an API key"
        ))),
    }
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
    let offer = read_offer(&state, content_type.as_deref(), raw).await?;
    check_ingest(&offer).map_err(|e| match e {
        IngestSdpError::Malformed(m) => bad_sdp(m.to_string()),
        IngestSdpError::NothingSent => ApiError::Unprocessable("nothing_sent", e.to_string()),
        IngestSdpError::TooMany(_) => ApiError::Unprocessable("too_many_tracks", e.to_string()),
        IngestSdpError::NoAudioCodec | IngestSdpError::NoVideoCodec => ApiError::Unprocessable("no_usable_codec", e.to_string()),
    })?;
    let room = room.live(&state).await?;
    let joined = room.join(req).await?;
    let participant = joined.view.participant.id.clone();
    let started = super::ws::start_participant(&state, room, joined, crate::rtc::PeerKind::Ingest).await;
    establish(&state, Door::Whip, &id, started, participant, offer, None).await
}

/// End a WHIP session: the stream leaves the room (`participantLeft` with reason `left`). The
/// session URL is the credential (an `Authorization` header is not needed, and not checked).
#[utoipa::path(delete, path = "/api/v1/rooms/{id}/whip/{session}", tag = "whip",
    params(("id" = String, Path), ("session" = String, Path, description = "From the `Location` of the 201")),
    responses((status = 200, description = "The stream left the room."),
        (status = 404, description = "`session_not_found`: no such session in this room (it ended, or never was).", body = ErrorBody)))]
pub async fn stop(id: String, sid: String, state: AppState, incoming: Incoming) -> Result<Response, ApiError> {
    super::sdp_session::end(state, Door::Whip, id, sid, incoming).await
}
