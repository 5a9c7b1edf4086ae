//! A node's identity: one ed25519 key, created on first start in the data dir and reused
//! after. Its public half, the [`NodeId`], names the node in stamps and announcements and is
//! what `--trust` lists; the libp2p peer id is derived from the same key.

use std::fmt;
use std::io::Write;
use std::path::Path;
use std::str::FromStr;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

/// A node's public key (ed25519, 32 bytes).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct NodeId(pub [u8; 32]);

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({self})")
    }
}

/// Why a key or a node id could not be read.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// Not 64 hex digits.
    #[error("a node id is 64 hex digits: {0:?}")]
    BadNodeId(String),
    /// The key file exists but is not a key.
    #[error("the key file {path} is not a 32-byte ed25519 secret key")]
    BadKeyFile {
        /// The file.
        path: String,
    },
    /// The system gave no randomness.
    #[error("no randomness for a new key: {0}")]
    Random(String),
    /// Reading or writing the key file.
    #[error("key file: {0}")]
    Io(#[from] std::io::Error),
}

impl FromStr for NodeId {
    type Err = IdentityError;

    fn from_str(s: &str) -> Result<NodeId, IdentityError> {
        let bad = || IdentityError::BadNodeId(s.chars().take(80).collect());
        let s = s.trim();
        if s.len() != 64 {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(s.get(2 * i..2 * i + 2).ok_or_else(bad)?, 16)
                .map_err(|_| bad())?;
        }
        Ok(NodeId(out))
    }
}

impl NodeId {
    /// Checks `signature` over `message` by this node.
    pub fn verify(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        let Ok(key) = VerifyingKey::from_bytes(&self.0) else {
            return false;
        };
        key.verify(message, &Signature::from_bytes(signature))
            .is_ok()
    }
}

/// A node's secret key.
#[derive(Clone)]
pub struct NodeKey {
    key: SigningKey,
}

impl fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeKey({})", self.id())
    }
}

impl NodeKey {
    /// A key from its 32 secret bytes.
    pub fn from_secret(secret: [u8; 32]) -> NodeKey {
        NodeKey {
            key: SigningKey::from_bytes(&secret),
        }
    }

    /// A new random key.
    pub fn generate() -> Result<NodeKey, IdentityError> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| IdentityError::Random(e.to_string()))?;
        Ok(NodeKey::from_secret(secret))
    }

    /// Reads the key at `path`, or creates it there (readable by the owner only).
    pub fn load_or_create(path: &Path) -> Result<NodeKey, IdentityError> {
        match std::fs::read(path) {
            Ok(bytes) => {
                let secret: [u8; 32] =
                    bytes
                        .as_slice()
                        .try_into()
                        .map_err(|_| IdentityError::BadKeyFile {
                            path: path.display().to_string(),
                        })?;
                Ok(NodeKey::from_secret(secret))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = NodeKey::generate()?;
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                // Written whole under another name, then renamed: never half a key.
                let tmp = path.with_extension("tmp");
                let mut opts = std::fs::OpenOptions::new();
                opts.write(true).create(true).truncate(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
                let mut f = opts.open(&tmp)?;
                f.write_all(&key.secret())?;
                f.sync_all()?;
                std::fs::rename(&tmp, path)?;
                Ok(key)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The secret bytes (to derive the libp2p keypair from the same key).
    pub fn secret(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The public half.
    pub fn id(&self) -> NodeId {
        NodeId(self.key.verifying_key().to_bytes())
    }

    /// Signs `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_created_once_and_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("node.key");
        let a = NodeKey::load_or_create(&path).expect("create");
        let b = NodeKey::load_or_create(&path).expect("load");
        assert_eq!(a.id(), b.id());
        std::fs::write(&path, b"short").expect("write");
        assert!(NodeKey::load_or_create(&path).is_err());
    }

    #[test]
    fn signatures_verify_only_for_their_message_and_key() {
        let k = NodeKey::from_secret([7; 32]);
        let sig = k.sign(b"hello");
        assert!(k.id().verify(b"hello", &sig));
        assert!(!k.id().verify(b"hellp", &sig));
        assert!(!NodeKey::from_secret([8; 32]).id().verify(b"hello", &sig));
        let id: NodeId = k.id().to_string().parse().expect("parse");
        assert_eq!(id, k.id());
        assert!("xyz".parse::<NodeId>().is_err());
    }
}
