//! Tessera: an MCU compositing media server.
//!
//! Participants send one camera+mic stream over WebRTC; the room decodes every input, tiles the
//! videos into one grid with GStreamer, mixes the audio mix-minus, and sends ONE composite back.
//!
//! Layers (only `api` knows warp, only `rtc` knows webrtc-rs callbacks, only `media` knows
//! GStreamer):
//! - [`config`]: one validated configuration, from a TOML file, environment and flags.
//! - [`layout`]: layouts as data (slots with roles) and where each tile goes; pure.
//! - [`protocol`]: the signaling wire types (the contract in `docs/signaling.md`).
//! - [`room`]: one actor task per room, one task per participant.
//! - [`rtc`]: webrtc-rs peer connections; callbacks only forward events.
//! - [`media`]: the GStreamer composite, ingest, encoders, and the mix-minus audio mixer.
//! - [`auth`]: API keys and join tokens (JWT).
//! - [`store`]: SQLite persistence of rooms and settings.
//! - [`webhook`]: signed event delivery with retries.
//! - [`wire`]: REST and webhook JSON types (the OpenAPI document is generated from them).
//! - [`api`]: REST, WebSocket signaling and the static client.
// warp's route tree nests deeper than the default limit of 128 in release builds.
#![recursion_limit = "256"]

pub mod api;
pub mod auth;
pub mod cluster;
pub mod config;
pub mod egress;
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
pub mod webhook;
pub mod wire;
