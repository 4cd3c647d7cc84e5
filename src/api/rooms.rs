//! `/api/v1/rooms`: create (now or scheduled), list, get, change and end rooms.

use super::forward::{self, Callers, Incoming, Kind, Routed};
use super::rejection::{ApiError, reject};
use super::{AppState, body, caller, with_state};
use crate::auth::{Caller, Role};
use crate::records::room::{EndReason, RoomSpec, RoomState};
use crate::records::settings::{DEFAULT_MAX_PARTICIPANTS, RoomSettings};
use crate::room::{Lookup, RoomHandle, RoomInfo, RoomUpdate, Route};
use crate::store::RoomFilter;
use crate::time::{format_unix, now_unix, parse_rfc3339};
use crate::wire::{CreateRoomRequest, CreateRoomResponse, ErrorBody, Invitation, PatchRoomRequest, RoomList, RoomStateName, RoomView};
use std::collections::HashMap;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Reply};

type Reject = warp::Rejection;

pub fn routes(state: &AppState) -> impl Filter<Extract = (Response,), Error = Reject> + Clone + use<> {
    let s = || with_state(state.clone()).and(caller(state));
    let rooms = warp::path!("api" / "v1" / "rooms");
    let room = warp::path!("api" / "v1" / "rooms" / String);
    let create = rooms
        .and(warp::post())
        .and(s())
        .and(body::limited(state.config.http_read_timeout()))
        .and_then(|st, c, b| async move { create_room(st, c, b).await.map_err(reject) });
    let list = rooms
        .and(warp::get())
        .and(s())
        .and(warp::query::<HashMap<String, String>>())
        .and_then(|st, c, q| async move { list_rooms(st, c, q).await.map_err(reject) });
    let incoming = || forward::incoming(state, Callers::Identified);
    let get =
        room.and(warp::get()).and(s()).and(incoming()).and_then(|id, st, c, i| async move { get_room(id, st, c, i).await.map_err(reject) });
    let invitation = warp::path!("api" / "v1" / "rooms" / String / "invitation")
        .and(warp::get())
        .and(s())
        .and_then(|id, st, c| async move { get_invitation(id, st, c).await.map_err(reject) });
    let patch = room
        .and(warp::patch())
        .and(s())
        .and(incoming())
        .and_then(|id, st, c, i| async move { patch_room(id, st, c, i).await.map_err(reject) });
    let delete = room
        .and(warp::delete())
        .and(s())
        .and(incoming())
        .and_then(|id, st, c, i| async move { delete_room(id, st, c, i).await.map_err(reject) });
    create.or(list).unify().or(get).unify().or(invitation).unify().or(patch).unify().or(delete).unify()
}

/// A time field of a request, in Unix seconds.
pub(super) fn parse_time(field: &str, value: &str) -> Result<i64, ApiError> {
    parse_rfc3339(value).map_err(|e| ApiError::BadRequest(format!("{field}: {e}")))
}

/// The room `id` exists and has not ended (live here, elsewhere, or not yet placed).
pub(super) async fn existing_room(state: &AppState, id: &str) -> Result<(), ApiError> {
    match state.rooms.lookup(id).await? {
        Lookup::Live(_) | Lookup::Elsewhere(_) => Ok(()),
        Lookup::Ended(_) => Err(ApiError::RoomEnded),
        Lookup::NotFound => Err(ApiError::RoomNotFound(id.into())),
    }
}

pub(super) fn join_url(state: &AppState, room: &str, token: Option<&str>) -> String {
    let base = state.config.base_url();
    match token {
        Some(t) => format!("{base}/?room={room}&token={t}"),
        None => format!("{base}/?room={room}"),
    }
}

/// The view of a room live on this node.
fn view(state: &AppState, info: RoomInfo) -> RoomView {
    let n = info.participants.len();
    let mut v = RoomView::new(&info.spec, now_unix(), n, Some(info.participants));
    v.node = state.rooms.cluster().map(|c| c.id().to_owned());
    v.media = info.media;
    v.num_viewers = Some(info.viewers);
    v.pinned_participant_id = info.layout.pinned_participant_id;
    v.screen_participant_id = info.layout.screen_participant_id;
    v
}

/// Create a room, open now or scheduled (`startsAt` in the future). Returns the room, a host
/// token for its creator, and the link to share.
#[utoipa::path(post, path = "/api/v1/rooms", tag = "rooms",
    request_body(content = Option<CreateRoomRequest>, description = "Optional: an empty body creates a room with every default."),
    security(("bearer" = [])),
    responses(
        (status = 201, body = CreateRoomResponse),
        (status = 400, body = ErrorBody, description = "`bad_request`: not JSON, an unknown field, or a field out of its bounds (name, times, limits, composite and its ladder, metadata, layout)"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody, description = "`forbidden`: a join token, not an API key"),
        (status = 429, body = ErrorBody, description = "`too_many_rooms`: the server's `max_rooms` are scheduled or open")))]
pub async fn create_room(state: AppState, caller: Caller, raw: Vec<u8>) -> Result<Response, ApiError> {
    state.auth.require_admin(&caller)?;
    // No body, or `null`, is a room with every default (white space alone is not JSON).
    let req: CreateRoomRequest = if raw.is_empty() {
        CreateRoomRequest::default()
    } else {
        crate::wire::objects::from_slice::<Option<CreateRoomRequest>>(&raw)
            .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))?
            .unwrap_or_default()
    };
    let now = now_unix();
    let id = crate::ids::room_id();
    let cap = u32::try_from(state.config.max_participants).unwrap_or(u32::MAX);
    let mut settings = RoomSettings {
        name: format!("Room {}", &id[..6]),
        max_participants: DEFAULT_MAX_PARTICIPANTS.min(cap),
        composite: state.config.composite.clone(),
        ..RoomSettings::default()
    };
    req.into_patch().map_err(ApiError::BadRequest)?.apply(&mut settings);
    let spec = RoomSpec { id, created_at: now, settings, ended_at: None, end_reason: None };
    state.rooms.create(spec.clone()).await?;
    let valid_from = spec.settings.starts_at.unwrap_or(now).max(now);
    let ttl = valid_from - now + i64::from(state.config.host_token_ttl_seconds);
    let identity = format!("host-{}", crate::ids::random_id(10));
    let (token, exp) = state.auth.issue(&spec.id, &identity, "", Role::Host, now, ttl)?;
    let resp = CreateRoomResponse {
        room: RoomView::new(&spec, now, 0, None),
        join_url: join_url(&state, &spec.id, None),
        host_token: token,
        host_token_expires_at: format_unix(exp),
    };
    Ok(warp::reply::with_status(warp::reply::json(&resp), StatusCode::CREATED).into_response())
}

const MAX_PAGE: u32 = 200;

fn filter_from(q: &HashMap<String, String>) -> Result<RoomFilter, ApiError> {
    let mut f = RoomFilter { limit: 50, ..Default::default() };
    for (k, v) in q {
        let int = |max: u32| super::body::whole_number(k, v, max);
        match k.as_str() {
            "state" => {
                f.state = Some(match v.as_str() {
                    "scheduled" => RoomState::Scheduled,
                    "open" => RoomState::Open,
                    "ended" => RoomState::Ended,
                    _ => return Err(ApiError::BadRequest("state must be scheduled, open or ended".into())),
                })
            }
            "startsFrom" => f.starts_from = Some(parse_time("startsFrom", v)?),
            "startsBefore" => f.starts_before = Some(parse_time("startsBefore", v)?),
            "limit" => {
                f.limit = int(MAX_PAGE)?;
                if f.limit == 0 {
                    return Err(ApiError::BadRequest(format!("limit must be within 1..={MAX_PAGE}")));
                }
            }
            "offset" => f.offset = int(u32::MAX)?,
            other => {
                return Err(ApiError::BadRequest(format!(
                    "unknown query parameter {other:?} (known: state, startsFrom, startsBefore, limit, offset)"
                )));
            }
        }
    }
    Ok(f)
}

/// List rooms, oldest first: filter by `state` and by a window on `startsAt`; page with `limit`
/// (1..=200, default 50) and `offset`.
#[utoipa::path(get, path = "/api/v1/rooms", tag = "rooms", security(("bearer" = [])),
    params(
        ("state" = inline(Option<RoomStateName>), Query, description = "scheduled, open or ended"),
        ("startsFrom" = Option<String>, Query, format = DateTime, description = "RFC 3339: only rooms starting at or after"),
        ("startsBefore" = Option<String>, Query, format = DateTime, description = "RFC 3339: only rooms starting before"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 200, description = "1 to 200, default 50"),
        ("offset" = Option<u32>, Query, format = Int64, minimum = 0, maximum = 4294967295.0, description = "default 0")),
    responses((status = 200, body = RoomList),
        (status = 400, body = ErrorBody, description = "`bad_request`: an unknown parameter or a value out of its bounds"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody, description = "`forbidden`: a join token, not an API key")))]
pub async fn list_rooms(state: AppState, caller: Caller, q: HashMap<String, String>) -> Result<Response, ApiError> {
    state.auth.require_admin(&caller)?;
    let f = filter_from(&q)?;
    let (rooms, total) = state.rooms.list(&f).await?;
    let now = now_unix();
    let end = u64::from(f.offset) + rooms.len() as u64;
    let list = RoomList {
        rooms: rooms.iter().map(|(s, n)| RoomView::new(s, now, *n, None)).collect(),
        total,
        next_offset: (end < total).then_some(end),
    };
    Ok(warp::reply::json(&list).into_response())
}

/// A room, with its live participants and media counts while it is open.
#[utoipa::path(get, path = "/api/v1/rooms/{id}", tag = "rooms", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = RoomView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "`wrong_room`, `forbidden`: a token that is not this room's host token"),
        (status = 404, body = ErrorBody, description = "`room_not_found`")))]
pub async fn get_room(id: String, state: AppState, caller: Caller, incoming: Incoming) -> Result<Response, ApiError> {
    if let Routed::Forwarded(answer) = incoming.route(&state, &id, Kind::Follow).await? {
        return Ok(answer);
    }
    state.auth.require_host(&caller, &id)?;
    let v = match state.rooms.lookup(&id).await? {
        Lookup::Live(h) => match h.info().await {
            Ok(info) => view(&state, info),
            // It ended between the lookup and the question: the store has its final record.
            Err(_) => match state.rooms.store().get_room(&id).await? {
                Some(spec) => RoomView::new(&spec, now_unix(), 0, Some(vec![])),
                None => return Err(ApiError::RoomNotFound(id)),
            },
        },
        Lookup::Ended(spec) => RoomView::new(&spec, now_unix(), 0, Some(vec![])),
        // Cluster mode, running on no node (one running elsewhere is forwarded there).
        Lookup::Elsewhere(spec) => RoomView::new(&spec, now_unix(), 0, Some(vec![])),
        Lookup::NotFound => return Err(ApiError::RoomNotFound(id)),
    };
    Ok(warp::reply::json(&v).into_response())
}

/// What an invitee's page shows before joining: the room's name, state and schedule, and whether
/// it is locked or has a lobby. Open to any token of the room (and to API keys, and to anyone in
/// open mode): whoever holds an invitation may read it.
#[utoipa::path(get, path = "/api/v1/rooms/{id}/invitation", tag = "rooms", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Invitation), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "`wrong_room`: a token of another room"),
        (status = 404, body = ErrorBody, description = "`room_not_found`")))]
pub async fn get_invitation(id: String, state: AppState, caller: Caller) -> Result<Response, ApiError> {
    state.auth.require_room(&caller, &id)?;
    let spec = match state.rooms.lookup(&id).await? {
        Lookup::Live(h) => match h.info().await {
            Ok(info) => info.spec,
            Err(_) => state.rooms.store().get_room(&id).await?.ok_or_else(|| ApiError::RoomNotFound(id.clone()))?,
        },
        Lookup::Ended(spec) | Lookup::Elsewhere(spec) => spec,
        Lookup::NotFound => return Err(ApiError::RoomNotFound(id)),
    };
    let v = Invitation::new(&spec, now_unix(), i64::from(state.config.early_join_seconds));
    Ok(warp::reply::json(&v).into_response())
}

/// Change a room: rename, reschedule (`startsAt` only before it opens), `endsAt`, timeouts,
/// limits, metadata, outputs, and what the composite shows (`layout`, `pin`, `hideAudioOnly`).
/// `null` clears `startsAt`, `endsAt` or `metadata`, and unpins. An API key may change
/// anything; the room's host token only `layout`, `pin`, `hideAudioOnly`, `chatEnabled`, `hls`, `locked` and `lobby`
/// (403 otherwise; a participant's token changes nothing). The composite is fixed at creation.
/// Participants are told the new layout (`layoutChanged`).
#[utoipa::path(patch, path = "/api/v1/rooms/{id}", tag = "rooms", security(("bearer" = [])), params(("id" = String, Path)),
    request_body = PatchRoomRequest,
    responses((status = 200, body = RoomView),
        (status = 400, body = ErrorBody, description = "`bad_request`: no body, not JSON, an unknown field, a field out of its bounds, or `startsAt` of an open room"),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "`forbidden`: a participant's join token, or the host token changing more than `layout`, `pin`, `hideAudioOnly`, `chatEnabled`, `hls`; `wrong_room`: a token of another room"),
        (status = 404, body = ErrorBody, description = "`room_not_found`; `participant_not_found`: `pin` names nobody in the room"),
        (status = 409, body = ErrorBody, description = "`room_ended`")))]
pub async fn patch_room(id: String, state: AppState, caller: Caller, incoming: Incoming) -> Result<Response, ApiError> {
    let (room, raw) = match incoming.route(&state, &id, Kind::Live).await? {
        Routed::Forwarded(answer) => return Ok(answer),
        Routed::Here(room, raw) => (room, body::read(raw, state.config.http_read_timeout()).await?),
    };
    // The host may change what the call looks like; everything else needs an API key. A
    // missing or bad credential is refused (401) before the body is read.
    let as_host = match state.auth.require_host(&caller, &id) {
        Err(e) if e.status() == 401 => return Err(e.into()),
        r => r,
    };
    let req: PatchRoomRequest = body::json_required(&raw)?;
    let (settings, pin) = req.into_patch().map_err(ApiError::BadRequest)?;
    // An allow-list: the host may change what `HOST_MAY_CHANGE` names and the pin; anything
    // else, and any setting added later, needs an API key.
    if settings.host_may_apply() {
        as_host?;
    } else {
        state.auth.require_admin(&caller)?;
    }
    let patch = RoomUpdate { settings, pin };
    let info = room.live(&state).await?.update(patch).await?;
    Ok(warp::reply::json(&view(&state, info)).into_response())
}

/// End the room for everyone now: each participant gets `roomEnded` (reason `deleted`) and is
/// disconnected; the media is torn down. Ending an ended room returns it unchanged.
#[utoipa::path(delete, path = "/api/v1/rooms/{id}", tag = "rooms", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = RoomView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "`wrong_room`, `forbidden`: a token that is not this room's host token"),
        (status = 404, body = ErrorBody, description = "`room_not_found`")))]
pub async fn delete_room(id: String, state: AppState, caller: Caller, incoming: Incoming) -> Result<Response, ApiError> {
    let room = match incoming.route(&state, &id, Kind::Live).await? {
        Routed::Forwarded(answer) => return Ok(answer),
        Routed::Here(room, _) => room,
    };
    state.auth.require_host(&caller, &id)?;
    let live: RoomHandle = match room.route(&state).await? {
        Route::Local(h) => h,
        Route::Ended(spec) => return Ok(warp::reply::json(&RoomView::new(&spec, now_unix(), 0, None)).into_response()),
        Route::NotFound => return Err(ApiError::RoomNotFound(id)),
        Route::Remote(_) => return Err(forward::room_moving()),
    };
    let spec = match live.end(EndReason::Deleted).await {
        Ok(spec) => spec,
        Err(_) => state.rooms.store().get_room(&id).await?.ok_or(ApiError::RoomEnded)?,
    };
    Ok(warp::reply::json(&RoomView::new(&spec, now_unix(), 0, None)).into_response())
}
