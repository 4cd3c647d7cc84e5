//! The records the server keeps and shows, at the bottom of the crate: what a room is (its
//! settings, its composite with the composite's ladder, and its schedule), what a recording is (its state and part files), and the live views
//! lower layers report (an RTMP output's status, a room's media counts).
//!
//! Invariants: pure data and the rules every value must keep (`RoomSettings::check`, with
//! `CompositeConfig::check_ladder`); nothing
//! here does I/O or reads the clock, and only `layout` (pure data too) is imported, so `store`,
//! `wire`, `egress` and `room` can all use these types without importing each other.

pub mod composite;
pub mod recording;
pub mod room;
pub mod settings;
mod views;

pub use composite::{CompositeConfig, LadderConfig, RungConfig};
pub use views::{MediaStats, StreamView};
