//! WHEP viewers (draft-ietf-wish-whep): `POST /api/v1/rooms/{id}/whep` with a receive-only SDP
//! offer returns an answer carrying the room's composite and its full mix (nobody subtracted).
//! A viewer is not a participant (`room/actor/viewers.rs`): no tile, not in `maxParticipants`,
//! counted apart (`viewers` in `GET /rooms/{id}`, `tessera_whep_viewers`), at most
//! `max_viewers_per_room` per room and `max_viewers` per node (`429 too_many_viewers`). It
//! shares the encoders participants use (a rung of the composite chosen by its link, the
//! mixer's shared Opus encode): a viewer costs fan-out and encryption, not an encode.
//!
//! Who may watch: any token of the room (a `viewer` token is made for this), an API key, or,
//! for a `public` room or in open mode, anyone without a credential. `DELETE` on the session
//! URL ends it (`sdp_session.rs`).

use super::forward::{self, Callers, Incoming, Kind, Routed};
use super::rejection::ApiError;
use super::sdp_session::{Door, bad_sdp, establish, preflight, read_offer};
use super::{AppState, with_state};
use crate::auth::{AuthError, Caller};
use crate::rtc::sdp::{SdpError, summarize};
use crate::wire::ErrorBody;
use warp::Filter;
use warp::reply::Response;

pub fn routes(state: &AppState) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone + use<> {
    let post = warp::path!("api" / "v1" / "rooms" / String / "whep")
        .and(warp::post())
        .and(with_state(state.clone()))
        .and(super::header_text("authorization"))
        .and(super::header_text("content-type"))
        .and(forward::incoming(state, Callers::Anyone))
        .and_then(|id, st, a, ct, i| async move { watch(id, st, a, ct, i).await.map_err(super::rejection::reject) });
    let delete = warp::path!("api" / "v1" / "rooms" / String / "whep" / String)
        .and(warp::delete())
        .and(with_state(state.clone()))
        .and(forward::incoming(state, Callers::Anyone))
        .and_then(|id, sid, st, i| async move { stop(id, sid, st, i).await.map_err(super::rejection::reject) });
    let preflight_endpoint = warp::path!("api" / "v1" / "rooms" / String / "whep").and(warp::options()).map(options_endpoint);
    let preflight_session = warp::path!("api" / "v1" / "rooms" / String / "whep" / String).and(warp::options()).map(options_session);
    post.or(delete).unify().or(preflight_endpoint).unify().or(preflight_session).unify()
}

/// CORS preflight of the WHEP endpoint: `Allow`, `Accept-Post: application/sdp` and the CORS
/// headers (any origin).
#[utoipa::path(options, path = "/api/v1/rooms/{id}/whep", tag = "whep", params(("id" = String, Path)),
    responses((status = 204, description = "No body.", headers(("Accept-Post" = String, description = "`application/sdp`"), ("Allow" = String)))))]
pub fn options_endpoint(_id: String) -> Response {
    preflight("POST, OPTIONS", true)
}

/// CORS preflight of a WHEP session URL.
#[utoipa::path(options, path = "/api/v1/rooms/{id}/whep/{session}", tag = "whep", params(("id" = String, Path), ("session" = String, Path)),
    responses((status = 204, description = "No body.", headers(("Allow" = String)))))]
pub fn options_session(_id: String, _session: String) -> Response {
    preflight("DELETE, OPTIONS", false)
}

/// Watch the room: its composite and full mix, receive-only (WHEP).
#[utoipa::path(post, path = "/api/v1/rooms/{id}/whep", tag = "whep", security((), ("bearer" = [])),
    params(("id" = String, Path)),
    request_body(content = String, content_type = "application/sdp", description = "The player's SDP offer (at most 64 KiB): a video section (H.264 with packetization-mode=1, or VP8) and/or an audio section (Opus) that receive (`recvonly`); candidates may be in it or not."),
    responses(
        (status = 201, description = "The viewer is watching. The body is the SDP answer with every server candidate (no trickle needed): the composite (H.264 constrained baseline when offered, else VP8) and the room's whole mix.",
            content_type = "application/sdp", body = String,
            headers(("Location" = String, description = "The session URL (relative): DELETE it to stop."),
                ("Link" = String, description = "One per ICE server URL: `<url>; rel=\"ice-server\"`, with `username`, `credential` and `credential-type=\"password\"` for TURN."))),
        (status = 400, description = "`bad_sdp`: the body is not SDP, has no audio or video section, or the peer connection refused it.", body = ErrorBody),
        (status = 401, description = "A room that is not `public` needs a credential: `unauthorized`, `invalid_credentials`, `token_expired`.", body = ErrorBody),
        (status = 403, description = "`wrong_room`: a token of another room.", body = ErrorBody),
        (status = 404, description = "`room_not_found`.", body = ErrorBody),
        (status = 408, description = "`request_timeout`: the offer did not arrive within `http_read_timeout_seconds`.", body = ErrorBody),
        (status = 409, description = "`room_ended`, `room_not_started`.", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the offer is over 64 KiB.", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not `application/sdp`.", body = ErrorBody),
        (status = 422, description = "`no_usable_codec` (a video section with neither H.264 in packetization mode 1 nor VP8), `nothing_received` (no section receives).", body = ErrorBody),
        (status = 429, description = "`too_many_viewers`: the room's `max_viewers_per_room` or the node's `max_viewers` is reached.", body = ErrorBody),
        (status = 503, description = "`media_unavailable`: the room's media or the peer connection could not start.", body = ErrorBody)))]
pub async fn watch(
    id: String,
    state: AppState,
    authorization: Option<String>,
    content_type: Option<String>,
    incoming: Incoming,
) -> Result<Response, ApiError> {
    // A credential given is checked before anything is looked up.
    let caller = match authorization.as_deref() {
        Some(a) => Some(state.auth.caller(Some(a))?),
        None => None,
    };
    if let Some(Caller::Token(c)) = &caller
        && c.room != id
    {
        return Err(AuthError::WrongRoom.into());
    }
    let kind = if caller.is_some() { Kind::Live } else { Kind::Follow };
    let (room, raw) = match incoming.route(&state, &id, kind).await? {
        Routed::Forwarded(answer) => return Ok(answer),
        Routed::Here(room, raw) => (room, raw),
    };
    let room = room.live(&state).await?;
    if caller.is_none() && !state.auth.is_open() && !room.info().await?.spec.settings.public {
        return Err(AuthError::Missing.into());
    }
    let offer = read_offer(&state, content_type.as_deref(), raw).await?;
    match summarize(&offer) {
        Ok(s) if !s.receives_audio && s.receive_video.is_none() => {
            return Err(ApiError::Unprocessable(
                "nothing_received",
                "the offer receives neither audio nor video (make its sections recvonly)".into(),
            ));
        }
        Ok(_) => {}
        Err(e @ SdpError::NoVideoCodec) => return Err(ApiError::Unprocessable("no_usable_codec", e.to_string())),
        Err(e) => return Err(bad_sdp(e.to_string())),
    }
    let Some(place) = state.sessions.take_viewer_place(state.config.max_viewers) else {
        return Err(ApiError::Limit(
            "too_many_viewers",
            format!("this server has its maximum of {} viewers; try again later", state.config.max_viewers),
        ));
    };
    let joined = room.watch().await?;
    let viewer = joined.view.participant.id.clone();
    let started = super::ws::start_participant(&state, room, joined, crate::rtc::PeerKind::Viewer).await;
    establish(&state, Door::Whep, &id, started, viewer, offer, Some(place)).await
}

/// Stop watching.
#[utoipa::path(delete, path = "/api/v1/rooms/{id}/whep/{session}", tag = "whep",
    params(("id" = String, Path), ("session" = String, Path, description = "From the `Location` of the 201")),
    responses((status = 200, description = "The viewer's session ended."),
        (status = 404, description = "`session_not_found`: no such session in this room (it ended, or never was).", body = ErrorBody)))]
pub async fn stop(id: String, sid: String, state: AppState, incoming: Incoming) -> Result<Response, ApiError> {
    super::sdp_session::end(state, Door::Whep, id, sid, incoming).await
}
