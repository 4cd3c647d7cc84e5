//! Short-lived TURN credentials (the "TURN REST" recipe coturn implements with
//! `use-auth-secret`): for each participant and each `[[turn]]` server, the username
//! `"<expiry>:<participant id>"` (expiry in Unix seconds) and the password
//! `base64(HMAC-SHA1(secret, username))`. The TURN server recomputes the password from the same
//! secret and refuses the username once its expiry has passed, so a credential handed to one
//! participant stops working by itself; the secret never leaves the server.
//!
//! Invariant: pure (the time comes in as an argument).

use crate::config::{Config, TurnConfig};
use crate::protocol::IceServerInfo;
use base64::Engine;
use hmac::{Hmac, Mac};

/// The credential `turn` gives `participant` at `now` (Unix seconds).
pub fn credential(turn: &TurnConfig, participant: &str, now: i64) -> IceServerInfo {
    let TurnConfig { urls, secret, ttl_seconds } = turn;
    let expiry = now.saturating_add(i64::try_from(*ttl_seconds).unwrap_or(i64::MAX));
    let username = format!("{expiry}:{participant}");
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(username.as_bytes());
    let credential = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    IceServerInfo { urls: urls.clone(), username: Some(username), credential: Some(credential) }
}

/// Every ICE server `participant` is given: the configured static ones, then one per `[[turn]]`
/// server with a credential of its own.
pub fn ice_servers(config: &Config, participant: &str, now: i64) -> Vec<IceServerInfo> {
    let fixed = config.ice_servers.iter().map(|s| IceServerInfo {
        urls: s.urls.clone(),
        username: s.username.clone(),
        credential: s.credential.clone(),
    });
    fixed.chain(config.turn.iter().map(|t| credential(t, participant, now))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_credential_is_the_turn_rest_recipe() {
        let turn = TurnConfig { urls: vec!["turn:127.0.0.1:3478".into()], secret: "a-long-shared-secret".into(), ttl_seconds: 86_400 };
        let c = credential(&turn, "p-abc", 1_700_000_000);
        assert_eq!(c.username.as_deref(), Some("1700086400:p-abc"));
        // Python: base64.b64encode(hmac.new(secret, username, hashlib.sha1).digest())
        assert_eq!(c.credential.as_deref(), Some("Z/RnF+Ozl6TI2PjLS0EVOQuldNA="));
        let config = Config { turn: vec![turn], ..Config::default() };
        let all = ice_servers(&config, "p-abc", 1_700_000_000);
        assert_eq!(all.len(), 2, "the static STUN server, then the TURN server");
        assert_eq!(all[1], c);
        assert!(!serde_json::to_string(&all).expect("json").contains("a-long-shared-secret"), "the secret is never sent");
        assert!(!format!("{config:?}").contains("a-long-shared-secret"), "nor logged");
    }
}
