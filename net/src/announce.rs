//! Announcements: the small signed gossip message a node publishes for each accepted push
//! (the repository, the signed ref updates, and which stored pack holds their objects, by
//! checksum and length, for peers to fetch by request-response afterwards) and for each
//! repository creation, metadata change or deletion (each node keeps the latest such record
//! per repository, also after a deletion, and anti-entropy exchanges them).
//!
//! Receivers check everything before forwarding: the size, the encoding, names, the
//! origin's trust, the message signature and each update's signature and stamp. The
//! message id is a hash of the bytes, so duplicates are dropped by gossip itself.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::hlc::{ClockError, Stamp, check_drift};
use crate::identity::{NodeId, NodeKey};
use crate::signed::{Sig, SignedRef};

/// The largest announcement accepted (gossip's own limit is 64 KiB).
pub const MAX_ANNOUNCEMENT: usize = 32 * 1024;
/// The most ref updates one announcement carries (a bigger push is split).
pub const MAX_UPDATES: usize = 128;
/// What decoding one announcement may claim in memory. bincode's limit counts the memory a
/// decoded value claims (each element of a list at its in-memory size), not the encoded
/// bytes, which [`MAX_ANNOUNCEMENT`] bounds first. No element of any list in an
/// announcement takes more than 32 bytes in memory per byte of its smallest encoding (a
/// grant's records: 24 bytes for an empty one, encoded in 1; an update: about 3), so an
/// honest announcement always fits and a hostile one claims at most 1 MiB.
pub const MAX_DECODED: usize = 32 * MAX_ANNOUNCEMENT;

const DOMAIN: &[u8] = b"guts/announcement/1\0";

/// A stored pack, named by its trailing checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PackRef {
    /// The pack's trailing SHA-1.
    pub checksum: [u8; 20],
    /// Its length in bytes.
    pub len: u64,
}

/// What happened to a repository on its origin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Body {
    /// A push was accepted: these ref updates, whose objects are in `pack` (none for a
    /// delete-only push).
    Push {
        /// `owner/name`.
        repo: String,
        /// The pack to fetch before applying the updates.
        pack: Option<PackRef>,
        /// The ref updates, each signed.
        updates: Vec<SignedRef>,
    },
    /// The repository was created, its metadata changed, or it was deleted. The record with
    /// the greatest stamp wins; every node keeps the latest, also after a deletion.
    Repo {
        /// `owner/name`.
        repo: String,
        /// When and where (`stamp.origin` is the announcement's origin).
        stamp: Stamp,
        /// What the repository is now.
        state: RepoState,
    },
    /// An account fact was set (or deleted, with no entry): the record with the greatest
    /// stamp per key wins; every node keeps the latest, also after a deletion.
    Account {
        /// When and where (`stamp.origin` is the announcement's origin).
        stamp: Stamp,
        /// What it is about ([`crate::accounts::Entry::key`]).
        key: String,
        /// The entry now, or none: deleted.
        entry: Option<crate::accounts::Entry>,
    },
    /// An operation on an issue or pull request (kept forever; a thread is the fold of its
    /// operations).
    Collab {
        /// The operation (`op.stamp.origin` is the announcement's origin).
        op: crate::collab::Op,
    },
}

/// A repository's state in a [`Body::Repo`] record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RepoState {
    /// It exists, with this metadata.
    Live(RepoMeta),
    /// It was deleted: updates stamped before this are not applied again.
    Deleted,
}

/// Replicated repository metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoMeta {
    /// Free text.
    pub description: String,
    /// Hidden from anonymous readers.
    pub private: bool,
    /// The branch HEAD points at, without `refs/heads/`.
    pub default_branch: String,
    /// The deletion this incarnation follows, if the origin knew of one: updates stamped
    /// at or before it belong to the deleted repository and are not applied.
    pub since: Option<Stamp>,
}

/// The longest replicated description.
pub const MAX_DESCRIPTION: usize = guts_store::MAX_DESCRIPTION;

/// A signed announcement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announcement {
    /// What happened.
    pub body: Body,
    /// The node that accepted it and signed this.
    pub origin: NodeId,
    /// The origin's signature over the body.
    pub signature: Sig,
}

/// Why an announcement was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnnounceError {
    /// More bytes than [`MAX_ANNOUNCEMENT`].
    #[error("announcement of {len} bytes is over the {max} byte limit")]
    TooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not a well-formed announcement.
    #[error("malformed announcement: {0}")]
    Malformed(String),
    /// It could not be encoded.
    #[error("announcement not encoded: {0}")]
    Encode(String),
    /// The origin is not a node we accept writes from.
    #[error("announcement from untrusted node {0}")]
    Untrusted(NodeId),
    /// A signature does not verify.
    #[error("bad signature on {0}")]
    BadSignature(&'static str),
    /// A name or field is invalid.
    #[error("invalid announcement: {0}")]
    Invalid(String),
    /// A stamp is too far in the future.
    #[error(transparent)]
    Clock(#[from] ClockError),
}

impl Announcement {
    /// Signs `body` as `key`.
    pub fn sign(key: &NodeKey, body: Body) -> Announcement {
        let signature = Sig(key.sign(&signed_bytes(&body)));
        Announcement {
            body,
            origin: key.id(),
            signature,
        }
    }

    /// The wire bytes.
    pub fn encode(&self) -> Result<Vec<u8>, AnnounceError> {
        crate::codec::encode(self).map_err(|e| AnnounceError::Encode(e.to_string()))
    }

    /// Reads wire bytes, checking the size first.
    pub fn decode(bytes: &[u8]) -> Result<Announcement, AnnounceError> {
        if bytes.len() > MAX_ANNOUNCEMENT {
            return Err(AnnounceError::TooLarge {
                len: bytes.len(),
                max: MAX_ANNOUNCEMENT,
            });
        }
        crate::codec::decode_limited::<_, MAX_DECODED>(bytes)
            .map_err(|e| AnnounceError::Malformed(e.to_string()))
    }

    /// The message id: a hash of the wire bytes.
    pub fn id_of(bytes: &[u8]) -> [u8; 32] {
        Sha256::digest(bytes).into()
    }

    /// Checks everything a receiver must before acting on or forwarding it.
    pub fn validate(
        &self,
        trusted: impl Fn(&NodeId) -> bool,
        now_ms: u64,
    ) -> Result<(), AnnounceError> {
        if !trusted(&self.origin) {
            return Err(AnnounceError::Untrusted(self.origin));
        }
        if !self
            .origin
            .verify(&signed_bytes(&self.body), &self.signature.0)
        {
            return Err(AnnounceError::BadSignature("announcement"));
        }
        let invalid = |s: String| Err(AnnounceError::Invalid(s));
        match &self.body {
            Body::Push { repo, updates, .. } => {
                check_repo(repo)?;
                if updates.is_empty() || updates.len() > MAX_UPDATES {
                    return invalid(format!("{} ref updates", updates.len()));
                }
                for u in updates {
                    if &u.repo != repo || u.origin() != self.origin {
                        return invalid("an update of another repository or origin".into());
                    }
                    if !u.well_formed() {
                        return invalid(format!("ref name {:?}", u.name));
                    }
                    if !u.verify() {
                        return Err(AnnounceError::BadSignature("ref update"));
                    }
                    if u.pusher.as_ref().is_some_and(|p| {
                        p.grant.len() > crate::accounts::MAX_GRANT
                            || guts_store::names::check_name("user", &p.user).is_err()
                    }) {
                        return invalid("a malformed pusher".into());
                    }
                    check_drift(u.stamp.hlc, now_ms)?;
                }
            }
            Body::Repo { repo, stamp, state } => {
                check_repo(repo)?;
                if stamp.origin != self.origin {
                    return invalid("a repository record stamped by another node".into());
                }
                check_drift(stamp.hlc, now_ms)?;
                if let RepoState::Live(meta) = state {
                    if meta.description.len() > MAX_DESCRIPTION {
                        return invalid("description too long".into());
                    }
                    let head = format!("refs/heads/{}", meta.default_branch);
                    if !meta.default_branch.is_empty() && guts_git::refname::check(&head).is_err() {
                        return invalid(format!("default branch {:?}", meta.default_branch));
                    }
                    if meta.since.is_some_and(|s| s >= *stamp) {
                        return invalid("a record that follows a later deletion".into());
                    }
                }
            }
            Body::Collab { op } => {
                check_repo(&op.repo)?;
                if op.stamp.origin != self.origin {
                    return invalid("an operation stamped by another node".into());
                }
                check_drift(op.stamp.hlc, now_ms)?;
                op.validate()
                    .map_err(|e| AnnounceError::Invalid(e.to_string()))?;
            }
            Body::Account { stamp, key, entry } => {
                if stamp.origin != self.origin {
                    return invalid("an account record stamped by another node".into());
                }
                check_drift(stamp.hlc, now_ms)?;
                crate::accounts::check_key(key).map_err(AnnounceError::Invalid)?;
                if let Some(e) = entry {
                    e.check().map_err(AnnounceError::Invalid)?;
                    if e.key() != *key {
                        return invalid(format!("an entry filed under {key:?}"));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Splits updates into groups that each fit one announcement: at most [`MAX_UPDATES`],
/// and their encoded size with room for the rest of the message. One update too large on
/// its own gets a group of its own (it is not published; anti-entropy carries it).
pub fn split(updates: Vec<SignedRef>) -> Vec<Vec<SignedRef>> {
    let budget = MAX_ANNOUNCEMENT - 1024;
    let mut out: Vec<Vec<SignedRef>> = Vec::new();
    let mut size = 0;
    for u in updates {
        let len = crate::codec::encoded_len(&u).unwrap_or(budget);
        match out.last_mut() {
            Some(group) if group.len() < MAX_UPDATES && size + len <= budget => {
                size += len;
                group.push(u);
            }
            _ => {
                size = len;
                out.push(vec![u]);
            }
        }
    }
    out
}

/// `owner/name`, both valid.
pub fn check_repo(repo: &str) -> Result<(), AnnounceError> {
    guts_store::RepoName::parse(repo)
        .map(|_| ())
        .map_err(|e| AnnounceError::Invalid(e.to_string()))
}

/// The bytes a signature covers. A body that could not be encoded gets only the domain,
/// which no signature of a real body covers: it is refused, not accepted.
fn signed_bytes(body: &Body) -> Vec<u8> {
    let mut out = DOMAIN.to_vec();
    if crate::codec::encode_into(body, &mut out).is_err() {
        out.truncate(DOMAIN.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hlc::{Hlc, Stamp};

    fn push(key: &NodeKey, repo: &str, name: &str) -> Announcement {
        push_at(key, repo, name, 1_000)
    }

    fn push_at(key: &NodeKey, repo: &str, name: &str, wall_ms: u64) -> Announcement {
        let stamp = Stamp {
            hlc: Hlc {
                wall_ms,
                logical: 0,
            },
            origin: key.id(),
        };
        let u = SignedRef::sign(key, repo, name, [0; 20], [1; 20], stamp, None);
        Announcement::sign(
            key,
            Body::Push {
                repo: repo.into(),
                pack: Some(PackRef {
                    checksum: [9; 20],
                    len: 100,
                }),
                updates: vec![u],
            },
        )
    }

    #[test]
    fn a_good_announcement_round_trips_and_validates() {
        let key = NodeKey::from_secret([1; 32]);
        let a = push(&key, "alice/app", "refs/heads/main");
        let bytes = a.encode().expect("encode");
        assert!(bytes.len() < 512);
        let back = Announcement::decode(&bytes).expect("decode");
        assert_eq!(back, a);
        back.validate(|n| *n == key.id(), 1_000).expect("valid");
        assert_ne!(
            Announcement::id_of(&bytes),
            Announcement::id_of(&bytes[1..])
        );
    }

    /// A push of thousands of refs, each update carrying its pusher's grant, split as the
    /// network splits it: every part is within the size limit and decodes (the decode
    /// limit once counted memory against the encoded-size limit and refused these).
    #[test]
    fn every_part_of_a_split_push_of_thousands_of_refs_decodes() {
        let key = NodeKey::from_secret([1; 32]);
        let grant = vec![vec![7u8; 300], vec![8u8; 250], Vec::new()];
        let updates: Vec<SignedRef> = (0..2000u64)
            .map(|i| {
                let stamp = Stamp {
                    hlc: Hlc {
                        wall_ms: 1_000,
                        logical: u32::try_from(i).expect("small"),
                    },
                    origin: key.id(),
                };
                let pusher = crate::accounts::Pusher {
                    user: "alice".into(),
                    grant: if i % 2 == 0 {
                        grant.clone()
                    } else {
                        Vec::new()
                    },
                };
                let name = if i % 3 == 0 {
                    format!("refs/tags/v{i}.0.0-release-candidate")
                } else {
                    format!("refs/heads/feature/branch-number-{i}")
                };
                SignedRef::sign(
                    &key,
                    "alice/app",
                    &name,
                    [1; 20],
                    [2; 20],
                    stamp,
                    Some(pusher),
                )
            })
            .collect();
        let parts = split(updates);
        assert!(parts.len() > 1);
        assert_eq!(parts.iter().map(Vec::len).sum::<usize>(), 2000);
        for part in parts {
            let a = Announcement::sign(
                &key,
                Body::Push {
                    repo: "alice/app".into(),
                    pack: None,
                    updates: part,
                },
            );
            let bytes = a.encode().expect("encode");
            assert!(bytes.len() <= MAX_ANNOUNCEMENT, "{}", bytes.len());
            let back = Announcement::decode(&bytes).expect("an honest part decodes");
            back.validate(|n| *n == key.id(), 1_000).expect("valid");
        }
        // The most updates per announcement, each as small as it gets: within the limit too.
        let small: Vec<SignedRef> = (0..MAX_UPDATES as u32)
            .map(|i| {
                let stamp = Stamp {
                    hlc: Hlc {
                        wall_ms: 1_000,
                        logical: i,
                    },
                    origin: key.id(),
                };
                SignedRef::sign(&key, "a/b", "refs/heads/x", [1; 20], [2; 20], stamp, None)
            })
            .collect();
        let a = Announcement::sign(
            &key,
            Body::Push {
                repo: "a/b".into(),
                pack: None,
                updates: small,
            },
        );
        Announcement::decode(&a.encode().expect("encode")).expect("decodes");
    }

    #[test]
    fn forged_untrusted_malformed_and_oversized_ones_are_refused() {
        let key = NodeKey::from_secret([1; 32]);
        let other = NodeKey::from_secret([2; 32]);
        let trust = |n: &NodeId| *n == key.id();
        let a = push(&key, "alice/app", "refs/heads/main");
        assert!(matches!(
            push(&other, "alice/app", "refs/heads/main").validate(trust, 1_000),
            Err(AnnounceError::Untrusted(_))
        ));
        let mut forged = a.clone();
        if let Body::Push { pack, .. } = &mut forged.body {
            *pack = None;
        }
        assert_eq!(
            forged.validate(trust, 1_000),
            Err(AnnounceError::BadSignature("announcement"))
        );
        assert!(matches!(
            push(&key, "alice/..", "refs/heads/main").validate(trust, 1_000),
            Err(AnnounceError::Invalid(_))
        ));
        assert!(matches!(
            push(&key, "alice/app", "refs/heads/a..b").validate(trust, 1_000),
            Err(AnnounceError::Invalid(_))
        ));
        let future = push_at(&key, "alice/app", "refs/heads/main", 10 * 60 * 1000);
        assert!(matches!(
            future.validate(trust, 1_000),
            Err(AnnounceError::Clock(_))
        ));
        let bytes = a.encode().expect("encode");
        assert!(matches!(
            Announcement::decode(&bytes[..bytes.len() - 3]),
            Err(AnnounceError::Malformed(_))
        ));
        assert!(matches!(
            Announcement::decode(&vec![0u8; MAX_ANNOUNCEMENT + 1]),
            Err(AnnounceError::TooLarge { .. })
        ));
        let mut long = bytes.clone();
        long.push(0);
        assert!(Announcement::decode(&long).is_err());
    }
}
