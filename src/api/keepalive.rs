//! How a client's signaling socket is kept alive, the same whether this node serves it
//! (`ws.rs`) or relays it to the room's node (`ws_relay.rs`).

use std::time::Duration;

/// How often the server pings an idle socket.
pub(super) const PING_EVERY: Duration = Duration::from_secs(5);
/// How long the server waits for any frame before it takes the connection for lost (a network
/// drop sends no close).
pub(super) const SILENCE_LIMIT: Duration = Duration::from_secs(15);
/// How long one frame may take to go out before the server takes the client for one that does
/// not read (its socket's buffers full): the writer then lets go of the socket, so a slow
/// reader holds neither the session's queue nor a task for longer.
pub(super) const WRITE_LIMIT: Duration = Duration::from_secs(10);
