//! Token secrets: `guts_` and 40 hex digits (160 random bits), shown once; the node keeps
//! only their SHA-256 (a secret that long needs no slow hash).

use sha2::{Digest, Sha256};

/// Every token starts with this (secret scanners can find leaked ones).
pub const PREFIX: &str = "guts_";

/// A new secret.
pub fn generate() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 20];
    getrandom::fill(&mut bytes)?;
    Ok(format!("{PREFIX}{}", guts_net::accounts::key::hex(&bytes)))
}

/// A random number (a user's incarnation).
pub fn random_u64() -> Result<u64, getrandom::Error> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes)?;
    Ok(u64::from_be_bytes(bytes))
}

/// What the node keeps of a secret.
pub fn hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_prefixed_distinct_and_hash_stably() {
        let a = generate().expect("random");
        let b = generate().expect("random");
        assert!(a.starts_with(PREFIX) && a.len() == PREFIX.len() + 40);
        assert_ne!(a, b);
        assert_eq!(hash(&a), hash(&a));
        assert_ne!(hash(&a), hash(&b));
    }
}
