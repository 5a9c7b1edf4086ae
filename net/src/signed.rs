//! Signed ref updates: what the accepting node vouches for, `(repo, ref, old, new, stamp)`,
//! with its ed25519 signature over a canonical encoding. These are what announcements carry
//! and what anti-entropy exchanges; any node can check one without trusting the sender.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::accounts::Pusher;
use crate::hlc::Stamp;
use crate::identity::{NodeId, NodeKey};

/// Distinguishes what is signed here from anything else the same key signs.
const DOMAIN: &[u8] = b"guts/ref-update/1\0";

/// An ed25519 signature.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Sig(pub [u8; 64]);

impl fmt::Debug for Sig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sig(")?;
        for b in &self.0[..8] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "..)")
    }
}

impl Serialize for Sig {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Sig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Sig, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Sig;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("64 signature bytes")
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Sig, E> {
                v.try_into()
                    .map(Sig)
                    .map_err(|_| E::invalid_length(v.len(), &self))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Sig, A::Error> {
                let mut out = [0u8; 64];
                for (i, b) in out.iter_mut().enumerate() {
                    *b = seq
                        .next_element()?
                        .ok_or_else(|| de::Error::invalid_length(i, &self))?;
                }
                Ok(Sig(out))
            }
        }
        d.deserialize_bytes(V)
    }
}

/// The longest ref name replicated.
pub const MAX_REF_NAME: usize = 1024;

/// One ref update as its origin accepted and signed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedRef {
    /// `owner/name`.
    pub repo: String,
    /// The full ref name (`refs/heads/main`).
    pub name: String,
    /// The value the origin replaced (zeros: created).
    pub old: [u8; 20],
    /// The new value (zeros: deleted).
    pub new: [u8; 20],
    /// When and where it was accepted; `stamp.origin` signed it.
    pub stamp: Stamp,
    /// Who pushed it and the account records that let them (none: not pushed by a user).
    pub pusher: Option<Pusher>,
    /// The origin's signature over the fields above.
    pub signature: Sig,
}

/// The fields a signature covers, in their canonical order.
#[derive(Serialize)]
struct Signed<'a> {
    repo: &'a str,
    name: &'a str,
    old: &'a [u8; 20],
    new: &'a [u8; 20],
    stamp: &'a Stamp,
    pusher: &'a Option<Pusher>,
}

impl SignedRef {
    /// Signs an update accepted by `key` (the stamp's origin must be `key`'s id).
    pub fn sign(
        key: &NodeKey,
        repo: &str,
        name: &str,
        old: [u8; 20],
        new: [u8; 20],
        stamp: Stamp,
        pusher: Option<Pusher>,
    ) -> SignedRef {
        let mut r = SignedRef {
            repo: repo.to_string(),
            name: name.to_string(),
            old,
            new,
            stamp,
            pusher,
            signature: Sig([0; 64]),
        };
        r.signature = Sig(key.sign(&r.signed_bytes()));
        r
    }

    /// The canonical bytes the signature covers.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let mut out = DOMAIN.to_vec();
        let fields = Signed {
            repo: &self.repo,
            name: &self.name,
            old: &self.old,
            new: &self.new,
            stamp: &self.stamp,
            pusher: &self.pusher,
        };
        // Fields that could not be encoded leave only the domain, which no signature of a
        // real update covers: refused, not accepted.
        if crate::codec::encode_into(&fields, &mut out).is_err() {
            out.truncate(DOMAIN.len());
        }
        out
    }

    /// The node that accepted it.
    pub fn origin(&self) -> NodeId {
        self.stamp.origin
    }

    /// A valid repository and ref name (under `refs/`, not under `refs/guts/`, which each
    /// node derives for itself), within the length limit.
    pub fn well_formed(&self) -> bool {
        crate::announce::check_repo(&self.repo).is_ok()
            && self.name.len() <= MAX_REF_NAME
            && self.name.starts_with("refs/")
            && !self.name.starts_with("refs/guts/")
            && guts_git::refname::check(&self.name).is_ok()
    }

    /// True when the origin's signature is good.
    pub fn verify(&self) -> bool {
        self.origin()
            .verify(&self.signed_bytes(), &self.signature.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hlc::Hlc;

    #[test]
    fn a_changed_field_breaks_the_signature() {
        let key = NodeKey::from_secret([3; 32]);
        let stamp = Stamp {
            hlc: Hlc {
                wall_ms: 10,
                logical: 0,
            },
            origin: key.id(),
        };
        let r = SignedRef::sign(
            &key,
            "a/b",
            "refs/heads/main",
            [0; 20],
            [1; 20],
            stamp,
            None,
        );
        assert!(r.verify());
        let mut forged = r.clone();
        forged.new = [2; 20];
        assert!(!forged.verify());
        let mut named = r.clone();
        named.pusher = Some(Pusher {
            user: "mallory".into(),
            grant: vec![],
        });
        assert!(!named.verify());
        let mut other = r.clone();
        other.stamp.origin = NodeKey::from_secret([4; 32]).id();
        assert!(!other.verify());
        let bytes = crate::codec::encode(&r).expect("enc");
        let back: SignedRef = crate::codec::decode(&bytes).expect("dec");
        assert_eq!(back, r);
    }
}
