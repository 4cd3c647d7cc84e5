//! How a client's signaling socket is kept alive, the same whether this node serves it
//! (`ws.rs`) or relays it to the room's node (`ws_relay.rs`).

use std::time::Duration;

/// How often the server pings an idle socket.
pub(super) const PING_EVERY: Duration = Duration::from_secs(5);
/// How long the server waits for any frame before it takes the connection for lost (a network
/// drop sends no close).
pub(super) const SILENCE_LIMIT: Duration = Duration::from_secs(15);
