//! Who may do what: server API keys for management calls, and join tokens (HS256 JWTs) that
//! carry a room, an identity, a display name and a role.
//!
//! Invariants: secrets are compared in constant time; a token is only valid for the room it
//! names; with no API keys configured the server is in *open* mode (allowed only on a loopback
//! listen address, which `config` enforces), where management calls need no credential but any
//! credential that is presented is still checked. A host token of an identity whose host role
//! was taken away (a co-host demoted) no longer gives host powers: [`Auth::revoke_host`] keeps,
//! per room and identity, the time of the demotion, and tokens issued up to then count as
//! participant tokens (kept for [`REVOKED_KEEP_SECONDS`], longer than any token lives).

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

/// How long a demotion is remembered: longer than any join token lives (30 days) plus a day.
pub const REVOKED_KEEP_SECONDS: i64 = 31 * 86_400;

const ISSUER: &str = "tessera";
/// Clock skew tolerated when checking expiry.
const LEEWAY_SECONDS: u64 = 5;

/// A server API key (management calls send `Authorization: Bearer <id>:<secret>`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKey {
    pub id: String,
    pub secret: String,
}

/// What a join token allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum Role {
    /// May end the room, kick and mute.
    Host,
    Participant,
    /// May only watch: the room's HLS output, or its composite over WHEP (the watch page);
    /// cannot join the call.
    Viewer,
}

/// The claims of a join token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinClaims {
    /// The participant's identity (stable across reconnects).
    pub sub: String,
    pub room: String,
    pub name: String,
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
}

/// Who a request is from.
#[derive(Debug, Clone, PartialEq)]
pub enum Caller {
    /// Open mode, no credential presented.
    Open,
    /// A server API key (its id).
    ApiKey(String),
    /// A join token.
    Token(JoinClaims),
}

/// Why a credential was refused. `status()` is 401 for a bad credential, 403 for a good one that
/// may not do this.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("this call needs `Authorization: Bearer <API key or token>`")]
    Missing,
    #[error("the token has expired")]
    Expired,
    #[error("the credential is not valid (unknown key, wrong secret, or a token not signed by this server)")]
    Invalid,
    #[error("the token is for another room")]
    WrongRoom,
    #[error("this call needs an API key or the room's host token")]
    NotHost,
    #[error("this call needs a server API key")]
    NotAdmin,
    #[error("a viewer token can only watch the room's live output, not join the call")]
    ViewerOnly,
}

impl AuthError {
    pub fn status(&self) -> u16 {
        match self {
            AuthError::Missing | AuthError::Expired | AuthError::Invalid => 401,
            AuthError::WrongRoom | AuthError::NotHost | AuthError::NotAdmin | AuthError::ViewerOnly => 403,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Missing => "unauthorized",
            AuthError::Expired => "token_expired",
            AuthError::Invalid => "invalid_credentials",
            AuthError::WrongRoom => "wrong_room",
            AuthError::NotHost | AuthError::NotAdmin | AuthError::ViewerOnly => "forbidden",
        }
    }
}

/// Checks credentials and issues join tokens.
#[derive(Clone)]
pub struct Auth {
    keys: Vec<ApiKey>,
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// (room, identity) → when its host role was taken away (Unix seconds).
    revoked_hosts: Arc<Mutex<HashMap<(String, String), i64>>>,
}

/// The credential of an `Authorization: Bearer <credential>` value. The scheme is
/// case-insensitive (RFC 9110 §11.1) and separated from the credential by spaces or tabs.
fn bearer_credential(value: &str) -> Option<&str> {
    let value = value.trim_matches([' ', '\t']);
    let (scheme, cred) = value.split_once([' ', '\t'])?;
    let cred = cred.trim_matches([' ', '\t']);
    (scheme.eq_ignore_ascii_case("bearer") && !cred.is_empty()).then_some(cred)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Auth {
    /// `token_secret` signs join tokens (HS256).
    pub fn new(keys: Vec<ApiKey>, token_secret: &[u8]) -> Self {
        Self {
            keys,
            encoding: EncodingKey::from_secret(token_secret),
            decoding: DecodingKey::from_secret(token_secret),
            revoked_hosts: Arc::default(),
        }
    }

    /// The host role of `identity` in `room` was taken away at `now`: its host tokens issued
    /// until then stop giving host powers (they still join, as a participant).
    pub fn revoke_host(&self, room: &str, identity: &str, now: i64) {
        let mut revoked = self.revoked_hosts.lock();
        revoked.retain(|_, at| now - *at < REVOKED_KEEP_SECONDS);
        revoked.insert((room.to_owned(), identity.to_owned()), now);
    }

    /// `identity` is a host of `room` again (promoted): its host tokens count again.
    pub fn restore_host(&self, room: &str, identity: &str) {
        self.revoked_hosts.lock().remove(&(room.to_owned(), identity.to_owned()));
    }

    /// Whether these claims give host powers: a host token not revoked since it was issued.
    pub fn is_host(&self, c: &JoinClaims) -> bool {
        c.role == Role::Host && self.revoked_hosts.lock().get(&(c.room.clone(), c.sub.clone())).is_none_or(|at| c.iat > *at)
    }

    /// Open mode: no API keys configured.
    pub fn is_open(&self) -> bool {
        self.keys.is_empty()
    }

    /// Issues a join token valid from `now` for `ttl_seconds`.
    pub fn issue(
        &self,
        room: &str,
        identity: &str,
        name: &str,
        role: Role,
        now: i64,
        ttl_seconds: i64,
    ) -> Result<(String, i64), AuthError> {
        let claims = JoinClaims {
            sub: identity.into(),
            room: room.into(),
            name: name.into(),
            role,
            iat: now,
            exp: now + ttl_seconds,
            iss: ISSUER.into(),
        };
        // HS256 with an in-memory key cannot fail to sign; map it anyway rather than panic.
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(|_| AuthError::Invalid)?;
        Ok((token, claims.exp))
    }

    /// Verifies a join token's signature, issuer and expiry.
    pub fn verify_token(&self, token: &str) -> Result<JoinClaims, AuthError> {
        let mut v = Validation::new(Algorithm::HS256);
        v.leeway = LEEWAY_SECONDS;
        v.set_issuer(&[ISSUER]);
        v.set_required_spec_claims(&["exp", "iss", "sub"]);
        jsonwebtoken::decode::<JoinClaims>(token, &self.decoding, &v).map(|d| d.claims).map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => AuthError::Expired,
            _ => AuthError::Invalid,
        })
    }

    /// Verifies a join token for `room`.
    pub fn verify_join(&self, token: &str, room: &str) -> Result<JoinClaims, AuthError> {
        let claims = self.verify_token(token)?;
        if claims.room != room {
            return Err(AuthError::WrongRoom);
        }
        Ok(claims)
    }

    /// Identifies the caller from an `Authorization` header value.
    pub fn caller(&self, authorization: Option<&str>) -> Result<Caller, AuthError> {
        let Some(value) = authorization else {
            return if self.is_open() { Ok(Caller::Open) } else { Err(AuthError::Missing) };
        };
        let Some(cred) = bearer_credential(value) else {
            return Err(AuthError::Invalid);
        };
        if let Some((id, secret)) = cred.split_once(':') {
            let found = self.keys.iter().find(|k| k.id == id).filter(|k| constant_time_eq(k.secret.as_bytes(), secret.as_bytes()));
            return found.map(|k| Caller::ApiKey(k.id.clone())).ok_or(AuthError::Invalid);
        }
        self.verify_token(cred).map(Caller::Token)
    }

    /// Server-wide management: an API key (or open mode).
    pub fn require_admin(&self, caller: &Caller) -> Result<(), AuthError> {
        match caller {
            Caller::Open | Caller::ApiKey(_) => Ok(()),
            Caller::Token(_) => Err(AuthError::NotAdmin),
        }
    }

    /// Anyone invited to `room`: an API key, open mode, or any token of that room.
    pub fn require_room(&self, caller: &Caller, room: &str) -> Result<(), AuthError> {
        match caller {
            Caller::Open | Caller::ApiKey(_) => Ok(()),
            Caller::Token(c) if c.room != room => Err(AuthError::WrongRoom),
            Caller::Token(_) => Ok(()),
        }
    }

    /// Host powers in `room`: an API key, open mode, or that room's host token.
    pub fn require_host(&self, caller: &Caller, room: &str) -> Result<(), AuthError> {
        match caller {
            Caller::Open | Caller::ApiKey(_) => Ok(()),
            Caller::Token(c) if c.room != room => Err(AuthError::WrongRoom),
            Caller::Token(c) if self.is_host(c) => Ok(()),
            Caller::Token(_) => Err(AuthError::NotHost),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(keys: bool) -> Auth {
        let keys = if keys { vec![ApiKey { id: "ops".into(), secret: "s3cret-s3cret-s3cret".into() }] } else { vec![] };
        Auth::new(keys, b"0123456789abcdef0123456789abcdef")
    }

    #[test]
    fn api_keys_and_tokens() {
        let a = auth(true);
        assert_eq!(a.caller(None), Err(AuthError::Missing));
        assert_eq!(a.caller(Some("Bearer ops:s3cret-s3cret-s3cret")), Ok(Caller::ApiKey("ops".into())));
        assert_eq!(a.caller(Some("Bearer ops:wrong")), Err(AuthError::Invalid));
        assert_eq!(a.caller(Some("Basic abc")), Err(AuthError::Invalid));
        for scheme in ["bearer", "BEARER", "bEaReR"] {
            assert_eq!(a.caller(Some(&format!("{scheme} ops:s3cret-s3cret-s3cret"))), Ok(Caller::ApiKey("ops".into())), "{scheme}");
        }
        assert_eq!(a.caller(Some("Bearer \t ops:s3cret-s3cret-s3cret ")), Ok(Caller::ApiKey("ops".into())));
        for bad in ["Bearer", "Bearer ", "Bearerops:s3cret-s3cret-s3cret", "Bearers ops:s3cret-s3cret-s3cret", ""] {
            assert_eq!(a.caller(Some(bad)), Err(AuthError::Invalid), "{bad:?}");
        }
        let now = crate::time::now_unix();
        let (t, exp) = a.issue("room1", "u1", "Ada", Role::Host, now, 60).unwrap();
        assert_eq!(exp, now + 60);
        let Ok(Caller::Token(c)) = a.caller(Some(&format!("Bearer {t}"))) else { panic!("token accepted") };
        assert_eq!((c.room.as_str(), c.role), ("room1", Role::Host));
        assert_eq!(a.require_host(&Caller::Token(c.clone()), "room1"), Ok(()));
        assert_eq!(a.require_host(&Caller::Token(c.clone()), "room2"), Err(AuthError::WrongRoom));
        assert_eq!(a.require_admin(&Caller::Token(c)), Err(AuthError::NotAdmin));
        let (p, _) = a.issue("room1", "u2", "Bo", Role::Participant, now, 60).unwrap();
        assert_eq!(a.verify_join(&p, "room2"), Err(AuthError::WrongRoom));
        let Ok(Caller::Token(pc)) = a.caller(Some(&format!("Bearer {p}"))) else { panic!() };
        assert_eq!(a.require_host(&Caller::Token(pc), "room1"), Err(AuthError::NotHost));
    }

    #[test]
    fn expired_and_forged_tokens_are_refused() {
        let a = auth(false);
        let now = crate::time::now_unix();
        let (old, _) = a.issue("r", "u", "n", Role::Host, now - 3600, 60).unwrap();
        assert_eq!(a.verify_token(&old), Err(AuthError::Expired));
        let other = Auth::new(vec![], b"another-secret-another-secret-xx");
        let (forged, _) = other.issue("r", "u", "n", Role::Host, now, 60).unwrap();
        assert_eq!(a.verify_token(&forged), Err(AuthError::Invalid));
        assert_eq!(a.caller(None), Ok(Caller::Open));
        assert_eq!(a.caller(Some("Bearer junk")), Err(AuthError::Invalid));
    }
}
