//! Identifiers handed to clients: random, URL-safe, unguessable.

use rand::Rng;

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A random string of `len` characters from `[A-Za-z0-9]` (5.95 bits each) drawn from the OS-seeded
/// thread RNG.
pub fn random_id(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

/// A room id: 22 characters, about 131 bits, so it cannot be guessed.
pub fn room_id() -> String {
    random_id(22)
}

/// A participant id: unique within the server, not a secret.
pub fn participant_id() -> String {
    random_id(12)
}

/// Whether `s` has the shape of an id we hand out (used to reject junk before a lookup).
pub fn is_valid_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_url_safe_and_distinct() {
        let a = room_id();
        let b = room_id();
        assert_eq!(a.len(), 22);
        assert_ne!(a, b);
        assert!(is_valid_id(&a));
        assert!(!is_valid_id("../etc"));
        assert!(!is_valid_id(""));
    }
}
