//! `GET /api/v1/openapi.json`: the OpenAPI 3 document, generated from the handlers' and wire
//! types' annotations (`utoipa`), so it cannot drift from the code.

use super::{live, participants, recordings, rooms, streams, tokens};
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
                    .description(Some("A server API key as `<id>:<secret>`, or a join token (host powers need the room's host token)"))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Tessera", description = "MCU compositing media server: rooms, participants and join tokens. Signaling is a WebSocket at /api/v1/rooms/{id}/ws, documented in docs/signaling.md."),
    paths(
        rooms::create_room, rooms::list_rooms, rooms::get_room, rooms::patch_room, rooms::delete_room,
        participants::list_participants, participants::kick_participant, participants::mute_participant,
        tokens::create_token,
        recordings::start_recording, recordings::stop_recording, recordings::list_recordings, recordings::get_recording,
        recordings::delete_recording, recordings::download_file, recordings::download_part,
        streams::start_stream, streams::list_streams, streams::get_stream, streams::stop_stream,
        live::serve
    ),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

pub fn route() -> impl Filter<Extract = (warp::reply::Json,), Error = warp::Rejection> + Clone {
    let doc = ApiDoc::openapi();
    warp::path!("api" / "v1" / "openapi.json").and(warp::get()).map(move || warp::reply::json(&doc))
}
