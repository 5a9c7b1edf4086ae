//! Commits: parse, validate and write byte-exactly.

use super::headers::{self, HeaderRef};
use super::{IdentRef, ObjectError};
use crate::{Kind, ObjectId};

/// A commit. Parsing and writing reproduce git's bytes exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// The root tree.
    pub tree: ObjectId,
    /// Parent commits, in order.
    pub parents: Vec<ObjectId>,
    /// The raw author identity (`Name <email> time tz`).
    pub author: Vec<u8>,
    /// The raw committer identity.
    pub committer: Vec<u8>,
    /// Every header after `committer` (encoding, gpgsig, mergetag, ...), each exactly as
    /// written including its name and continuation lines, without the final newline.
    pub extra_headers: Vec<Vec<u8>>,
    /// The message after the blank line; `None` when the object has no blank line.
    pub message: Option<Vec<u8>>,
}

impl Commit {
    /// Parses and validates a commit.
    pub fn parse(data: &[u8]) -> Result<Commit, ObjectError> {
        let (hs, message) = headers::split(Kind::Commit, data)?;
        let mut i = 0;
        let tree = headers::take_id(Kind::Commit, &hs, &mut i, "tree")?.ok_or(
            ObjectError::MissingHeader {
                kind: Kind::Commit,
                header: "tree",
            },
        )?;
        let mut parents = Vec::new();
        while let Some(p) = headers::take_id(Kind::Commit, &hs, &mut i, "parent")? {
            parents.push(p);
        }
        let author = headers::take_ident(Kind::Commit, &hs, &mut i, "author")?.ok_or(
            ObjectError::MissingHeader {
                kind: Kind::Commit,
                header: "author",
            },
        )?;
        if hs.get(i).is_some_and(|h| h.name == b"author") {
            return Err(ObjectError::BadHeader {
                kind: Kind::Commit,
                header: "author",
                reason: "more than one author",
            });
        }
        let committer = headers::take_ident(Kind::Commit, &hs, &mut i, "committer")?.ok_or(
            ObjectError::MissingHeader {
                kind: Kind::Commit,
                header: "committer",
            },
        )?;
        if hs.get(i).is_some_and(|h| h.name == b"committer") {
            return Err(ObjectError::BadHeader {
                kind: Kind::Commit,
                header: "committer",
                reason: "more than one committer",
            });
        }
        Ok(Commit {
            tree,
            parents,
            author: author.to_vec(),
            committer: committer.to_vec(),
            extra_headers: hs[i..]
                .iter()
                .map(|h: &HeaderRef<'_>| h.raw.to_vec())
                .collect(),
            message: message.map(<[u8]>::to_vec),
        })
    }

    /// The committer identity, parsed.
    pub fn committer_ident(&self) -> Option<IdentRef<'_>> {
        IdentRef::parse(&self.committer).ok()
    }

    /// Writes the commit in git's format.
    pub fn write(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + self.message.as_ref().map_or(0, Vec::len));
        headers::write_header(&mut out, "tree", self.tree.to_hex().as_bytes());
        for p in &self.parents {
            headers::write_header(&mut out, "parent", p.to_hex().as_bytes());
        }
        headers::write_header(&mut out, "author", &self.author);
        headers::write_header(&mut out, "committer", &self.committer);
        headers::write_tail(&mut out, &self.extra_headers, self.message.as_deref());
        out
    }
}

/// What graph walks need from a commit, read without validating or allocating the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitLinks {
    /// The root tree.
    pub tree: ObjectId,
    /// Parent commits.
    pub parents: Vec<ObjectId>,
    /// The committer time (seconds since the epoch), 0 when unreadable.
    pub time: i64,
}

impl CommitLinks {
    /// Reads tree, parents and committer time from the start of a commit.
    pub fn parse(data: &[u8]) -> Result<CommitLinks, ObjectError> {
        let bad = |header| ObjectError::MissingHeader {
            kind: Kind::Commit,
            header,
        };
        let mut rest = data;
        let tree = line_id(&mut rest, b"tree ").ok_or(bad("tree"))?;
        let mut parents = Vec::new();
        while let Some(p) = line_id(&mut rest, b"parent ") {
            parents.push(p);
        }
        let mut time = 0;
        // author, then committer: take the committer's time.
        for line in rest.split(|&b| b == b'\n').take(4) {
            if let Some(ident) = line.strip_prefix(b"committer ") {
                time = IdentRef::parse(ident).map(|i| i.time).unwrap_or(0);
                break;
            }
            if line.is_empty() {
                break;
            }
        }
        Ok(CommitLinks {
            tree,
            parents,
            time,
        })
    }
}

fn line_id(rest: &mut &[u8], prefix: &[u8]) -> Option<ObjectId> {
    let line = rest.strip_prefix(prefix)?;
    if line.get(40) != Some(&b'\n') {
        return None;
    }
    let id = ObjectId::from_hex(&line[..40]).ok()?;
    *rest = &line[41..];
    Some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: &[u8] = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\
parent 0123456789abcdef0123456789abcdef01234567\n\
author A <a@x> 1700000000 +0000\n\
committer B <b@x> 1700000001 -0130\n\
gpgsig -----BEGIN PGP SIGNATURE-----\n \n abc\n -----END PGP SIGNATURE-----\n\
\n\
hello\n";

    #[test]
    fn commit_with_signature_round_trips_byte_exactly() {
        let c = Commit::parse(C).unwrap();
        assert_eq!(c.parents.len(), 1);
        assert_eq!(c.extra_headers.len(), 1);
        assert_eq!(c.write(), C);
        let links = CommitLinks::parse(C).unwrap();
        assert_eq!(links.time, 1_700_000_001);
        assert_eq!(links.tree, c.tree);
    }

    #[test]
    fn commit_without_tree_or_with_bad_committer_is_refused() {
        assert!(matches!(
            Commit::parse(b"author A <a@x> 1 +0000\n\nx"),
            Err(ObjectError::MissingHeader { header: "tree", .. })
        ));
        let bad = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\
author A <a@x> 1 +0000\ncommitter B <b@x> 1 +00\n\nx";
        assert!(matches!(
            Commit::parse(bad),
            Err(ObjectError::BadHeader {
                header: "committer",
                ..
            })
        ));
    }
}
