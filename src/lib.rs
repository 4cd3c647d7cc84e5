//! Tessera: an MCU compositing media server.
//!
//! Participants send one camera+mic stream over WebRTC; the room decodes every input, tiles the
//! videos into one composite with GStreamer, mixes the audio mix-minus, and sends ONE composite
//! back. The same composite is recorded and streamed out (RTMP, HLS).
//!
//! # Layers
//!
//! Bottom first. A module imports only modules on lower lines, never one on its own line or
//! above, so there are no import circles (`tests/layers.rs` reads every `crate::` path in `src/`
//! against this table, and every file-to-file import for circles):
//!
//! 1. `time`, `ids`, `layout`, `metrics`, `cluster`, `fuzz`
//! 2. `records`, `auth`
//! 3. `config`, `protocol`
//! 4. `telemetry`, `store`, `webhook`, `wire`, `turn`
//! 5. `media`
//! 6. `rtc`, `egress`
//! 7. `room`
//! 8. `api`, `loadgen`
//! 9. `server`
//!
//! What each owns:
//! - [`time`]: the clock (Unix seconds and milliseconds) and RFC 3339 text.
//! - [`ids`]: random ids and secrets.
//! - `fuzz` (tests only): the case count and seed of the property tests over outside input.
//! - [`records`]: what the server keeps and shows: a room's record and settings, a recording's
//!   record, the live views of outputs and media counts. Pure data and their rules.
//! - [`layout`]: layouts as data (slots with roles) and where each tile goes; pure.
//! - [`metrics`]: the Prometheus series, described once.
//! - [`cluster`]: node records, leases and the registry in Redis (placement rules are pure).
//! - [`auth`]: API keys and join tokens (JWT), and who may do what.
//! - [`config`]: one validated configuration, from a TOML file, environment and flags.
//! - [`protocol`]: the signaling wire types (the contract in `docs/signaling.md`).
//! - [`telemetry`]: logging setup.
//! - [`store`]: persistence of rooms, recordings and settings (SQLite, or Redis in a cluster).
//! - [`webhook`]: signed event delivery with retries.
//! - [`wire`]: REST and webhook JSON types (the OpenAPI document is generated from them).
//! - [`turn`]: short-lived TURN credentials made per participant from a shared secret.
//! - [`media`]: the GStreamer composite, ingest, encoders, the audio mixer (gated, one shared
//!   encode for listeners, one mix-minus per talker), and the
//!   media events a room reacts to.
//! - [`rtc`]: the webrtc-rs peer session: offer/answer, ICE candidates, inbound tracks, keyframe
//!   requests both ways, local tracks and data channels, as domain events.
//! - [`egress`]: outputs of the composite: crash-safe MP4 recording, RTMP, HLS.
//! - [`room`]: one actor task per room, one task per participant; the registry and placement.
//! - [`api`]: REST, WebSocket signaling, WHIP and WHEP, cluster forwarding and the static client
//!   (warp).
//! - [`loadgen`]: the load generator and probes (a WebRTC client of the server).
//! - [`server`]: wires it all together and shuts it down in order.
//!
//! Foreign libraries have one owner each: only `media` and `egress` use GStreamer and only `rtc`
//! uses webrtc-rs (besides `loadgen`, a client of the server that makes and checks media), only
//! `api` uses warp, only `store` uses SQLite, only `store` and `cluster` use Redis. `media` and
//! `rtc` trade RTP packets of the `rtc-rtp` crate (webrtc-rs's packet format, without its peer
//! session).
//!
//! # Errors and panics
//!
//! - Input never panics: anything that comes from a client, a peer, a file, the store or the
//!   network is checked and answered with an error (REST: a 4xx with `{"code","message"}`;
//!   signaling: an `error` message), and the server keeps serving everyone else.
//! - Each operation has its own `thiserror` enum; `api::rejection` maps them to HTTP in one
//!   place. `anyhow` is only for `main`, tests and benches.
//! - `expect` is allowed only for invariants the code itself guarantees, and its message says
//!   why it cannot fail. `unwrap` is for tests.
//! - Locks are `parking_lot` (no poisoning, so a lock can never silently read as empty), are
//!   never held across `.await`, and guard only short, synchronous sections.
//! - A room's actor being gone is one error, `room::RoomGone`, whatever was asked of it.
// warp's route tree nests deeper than the default limit of 128 in release builds.
#![recursion_limit = "256"]

pub mod api;
pub mod auth;
pub mod cluster;
pub mod config;
pub mod egress;
#[cfg(test)]
mod fuzz;
pub mod ids;
pub mod layout;
pub mod loadgen;
pub mod media;
pub mod metrics;
pub mod protocol;
pub mod records;
pub mod room;
pub mod rtc;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod time;
pub mod turn;
pub mod webhook;
pub mod wire;
