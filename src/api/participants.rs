//! `/api/v1/rooms/{id}/participants`: list, kick, mute and co-hosts (host powers).

use super::forward::{self, Callers, Incoming, Kind, Routed};
use super::rejection::{ApiError, reject};
use super::{AppState, body, caller, with_state};
use crate::auth::Caller;
use crate::auth::Role;
use crate::protocol::ParticipantInfo;
use crate::room::HostGrant;
use crate::time::{format_unix, now_unix};
use crate::wire::{ErrorBody, GrantedRole, MuteRequest, ParticipantList, RoleRequest};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Reply};

pub fn routes(state: &AppState) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone + use<> {
    let s = || with_state(state.clone()).and(caller(state)).and(forward::incoming(state, Callers::Identified));
    let list = warp::path!("api" / "v1" / "rooms" / String / "participants")
        .and(warp::get())
        .and(s())
        .and_then(|id, st, c, i| async move { list_participants(id, st, c, i).await.map_err(reject) });
    let kick = warp::path!("api" / "v1" / "rooms" / String / "participants" / String)
        .and(warp::delete())
        .and(s())
        .and_then(|id, pid, st, c, i| async move { kick_participant(id, pid, st, c, i).await.map_err(reject) });
    let mute = warp::path!("api" / "v1" / "rooms" / String / "participants" / String / "mute")
        .and(warp::post())
        .and(s())
        .and_then(|id, pid, st, c, i| async move { mute_participant(id, pid, st, c, i).await.map_err(reject) });
    let role = warp::path!("api" / "v1" / "rooms" / String / "participants" / String / "role")
        .and(warp::post())
        .and(s())
        .and_then(|id, pid, st, c, i| async move { set_role(id, pid, st, c, i).await.map_err(reject) });
    list.or(kick).unify().or(mute).unify().or(role).unify()
}

/// Who is in the room now.
#[utoipa::path(get, path = "/api/v1/rooms/{id}/participants", tag = "participants", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = ParticipantList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn list_participants(id: String, state: AppState, caller: Caller, incoming: Incoming) -> Result<Response, ApiError> {
    let room = match incoming.route(&state, &id, Kind::Live).await? {
        Routed::Forwarded(answer) => return Ok(answer),
        Routed::Here(room, _) => room,
    };
    state.auth.require_host(&caller, &id)?;
    let info = room.live(&state).await?.info().await?;
    Ok(warp::reply::json(&ParticipantList { participants: info.participants, node: state.rooms.cluster().map(|c| c.id().to_owned()) })
        .into_response())
}

/// Whether `caller` may demote or remove a host who joined as one, whose identity is
/// `identity`: an API key (or open mode), or that host itself.
fn over_hosts(caller: &Caller, identity: &str) -> bool {
    match caller {
        Caller::Open | Caller::ApiKey(_) => true,
        Caller::Token(c) => c.sub == identity,
    }
}

/// Remove a participant: the others get `participantLeft` with reason `kicked`, the participant
/// gets `removed` and is disconnected, and its identity and device cannot rejoin this call
/// (`removed_from_room`). Any host may remove participants and co-hosts (a removed co-host's
/// host tokens stop giving host powers); a host who joined as one only an API key or itself.
#[utoipa::path(delete, path = "/api/v1/rooms/{id}/participants/{pid}", tag = "participants", security(("bearer" = [])),
    params(("id" = String, Path), ("pid" = String, Path, description = "the participant's session id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn kick_participant(id: String, pid: String, state: AppState, caller: Caller, incoming: Incoming) -> Result<Response, ApiError> {
    let room = match incoming.route(&state, &id, Kind::Live).await? {
        Routed::Forwarded(answer) => return Ok(answer),
        Routed::Here(room, _) => room,
    };
    state.auth.require_host(&caller, &id)?;
    let live = room.live(&state).await?;
    // Only a token needs the target's identity (whether it removes itself).
    let may_remove_hosts = match &caller {
        Caller::Token(_) => live.info().await?.participants.iter().any(|p| p.id == pid && over_hosts(&caller, &p.identity)),
        Caller::Open | Caller::ApiKey(_) => true,
    };
    let gone = live.kick(&pid, may_remove_hosts).await?;
    if gone.role == Role::Host {
        state.auth.revoke_host(&id, &gone.identity, now_unix());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Mute or unmute a participant on the server: a muted audio leaves everyone's mix, a muted
/// video shows the placeholder on its tile. Everyone gets `participantUpdated`.
#[utoipa::path(post, path = "/api/v1/rooms/{id}/participants/{pid}/mute", tag = "participants", security(("bearer" = [])),
    params(("id" = String, Path), ("pid" = String, Path)), request_body = MuteRequest,
    responses((status = 200, body = ParticipantInfo), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn mute_participant(id: String, pid: String, state: AppState, caller: Caller, incoming: Incoming) -> Result<Response, ApiError> {
    let (room, raw) = match incoming.route(&state, &id, Kind::Live).await? {
        Routed::Forwarded(answer) => return Ok(answer),
        Routed::Here(room, raw) => (room, body::read(raw, state.config.http_read_timeout()).await?),
    };
    state.auth.require_host(&caller, &id)?;
    let req: MuteRequest = body::json_required(&raw)?;
    if req.audio.is_none() && req.video.is_none() {
        return Err(ApiError::BadRequest("give \"audio\" and/or \"video\" (true mutes, false unmutes)".into()));
    }
    let info = room.live(&state).await?.mute(&pid, req.audio, req.video).await?;
    Ok(warp::reply::json(&info).into_response())
}

/// Make a participant a co-host (`{"role":"host"}`: host powers, and a host token of its own sent
/// to it in `roleChanged`) or a participant again (`{"role":"participant"}`: its host tokens stop
/// giving host powers). Everyone gets `participantUpdated` with the new role.
#[utoipa::path(post, path = "/api/v1/rooms/{id}/participants/{pid}/role", tag = "participants", security(("bearer" = [])),
    params(("id" = String, Path), ("pid" = String, Path)), request_body = RoleRequest,
    responses((status = 200, body = ParticipantInfo), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn set_role(id: String, pid: String, state: AppState, caller: Caller, incoming: Incoming) -> Result<Response, ApiError> {
    let (room, raw) = match incoming.route(&state, &id, Kind::Live).await? {
        Routed::Forwarded(answer) => return Ok(answer),
        Routed::Here(room, raw) => (room, body::read(raw, state.config.http_read_timeout()).await?),
    };
    state.auth.require_host(&caller, &id)?;
    let req: RoleRequest = body::json_required(&raw)?;
    let live = room.live(&state).await?;
    let info = live.info().await?;
    let who = info.participants.iter().find(|p| p.id == pid).ok_or_else(|| crate::room::ManageError::NoParticipant(pid.clone()))?;
    let now = now_unix();
    let grant = match req.role {
        GrantedRole::Host => {
            state.auth.restore_host(&id, &who.identity);
            let (token, exp) =
                state.auth.issue(&id, &who.identity, &who.name, Role::Host, now, state.config.host_token_ttl_seconds.into())?;
            Some(HostGrant { token, expires_at: format_unix(exp) })
        }
        GrantedRole::Participant => None,
    };
    // A host who joined as one loses host powers only to an API key, or by stepping down.
    let may_demote_hosts = over_hosts(&caller, &who.identity);
    let info = live.set_role(&pid, req.role.into(), grant, may_demote_hosts).await?;
    // Demoted: its host tokens issued until now stop giving host powers (only once the room
    // agreed: a refused demotion revokes nothing).
    if req.role == GrantedRole::Participant {
        state.auth.revoke_host(&id, &info.identity, now);
    }
    Ok(warp::reply::json(&info).into_response())
}
