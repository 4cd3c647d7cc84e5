//! Tracing set-up: `RUST_LOG` style filters, `warn,tessera=info` by default; plain text or
//! JSON lines (`log_format`), both with the room and participant spans.
//!
//! By default webrtc-rs's per-packet warnings are off: its ICE agent's, and its peer
//! connection handlers' (`rtc::peer_connection::handler`: an SRTP replay, a packet that does not
//! decrypt or parse), which a hostile client can cause thousands of times a second (a log flood
//! filling the disk); the drops themselves are what the limits and metrics report.

use crate::config::LogFormat;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once, writing text; later calls (tests) are no-ops.
pub fn init() {
    init_as(LogFormat::Text);
}

/// Installs the global subscriber once in `format`; later calls are no-ops.
pub fn init_as(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("warn,rtc_ice=error,rtc::peer_connection::handler=error,tessera=info"));
    let fmt = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    let _ = match format {
        LogFormat::Text => fmt.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout())).try_init(),
        // One object per line: time, level, fields, the innermost span and the list of spans.
        LogFormat::Json => fmt.json().with_current_span(true).with_span_list(true).try_init(),
    };
}
