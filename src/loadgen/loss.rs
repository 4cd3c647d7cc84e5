//! Random UDP loss on loopback for the loss test and benchmark H: an nftables `numgen random`
//! drop rule on the `output` hook (every packet on loopback passes it once), in a table of its
//! own that the guard deletes when dropped.
//!
//! Invariant: a rule is only ever installed in a network namespace that has nothing but `lo`
//! ([`isolated`]), so the machine's own network is never impaired.

use std::process::Command;

/// What stopped the loss rule from being installed.
#[derive(Debug, thiserror::Error)]
pub enum LossError {
    #[error("not in a network namespace of our own (only `lo`): refusing to impair the machine's network")]
    NotIsolated,
    #[error("nft could not be run (Debian package nftables): {0}")]
    Nft(std::io::Error),
    #[error("nft refused the loss rule: {0}")]
    Refused(String),
}

/// Whether this process is in a network namespace with nothing but `lo` (asked over netlink
/// with `ip`, since /sys/class/net shows the namespace sysfs was mounted in).
pub fn isolated() -> bool {
    let Ok(out) = Command::new("ip").args(["-o", "link"]).output() else { return false };
    let text = String::from_utf8_lossy(&out.stdout);
    out.status.success() && text.lines().all(|l| l.split(':').nth(1).is_some_and(|n| n.trim() == "lo"))
}

/// Drops `percent` % of UDP packets on loopback until dropped.
pub struct UdpLoss {
    table: String,
}

impl UdpLoss {
    /// Installs the rule, refusing outside a namespace of our own ([`isolated`]).
    pub fn start(percent: u32) -> Result<UdpLoss, LossError> {
        if !isolated() {
            return Err(LossError::NotIsolated);
        }
        let table = format!("tessera_loss_{}", std::process::id());
        let rule = format!(
            "add table inet {table}\nadd chain inet {table} out {{ type filter hook output priority 0; }}\n\
             add rule inet {table} out meta l4proto udp numgen random mod 100 < {percent} drop\n"
        );
        let path = std::env::temp_dir().join(format!("{table}.nft"));
        std::fs::write(&path, rule).map_err(LossError::Nft)?;
        let out = Command::new("nft").arg("-f").arg(&path).output().map_err(LossError::Nft);
        let _ = std::fs::remove_file(&path);
        let out = out?;
        if !out.status.success() {
            return Err(LossError::Refused(String::from_utf8_lossy(&out.stderr).trim().to_owned()));
        }
        Ok(UdpLoss { table })
    }
}

impl Drop for UdpLoss {
    fn drop(&mut self) {
        // A rule left behind would impair whatever runs next in this namespace: say so loudly.
        match Command::new("nft").args(["delete", "table", "inet", &self.table]).status() {
            Ok(st) if st.success() => {}
            // On stderr, not the log: its users (a test, a benchmark) may have no subscriber.
            other => eprintln!("the UDP loss rule (nft table inet {}) could not be removed: {other:?}", self.table),
        }
    }
}
