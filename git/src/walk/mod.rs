//! Negotiation helpers over an [`ObjectRead`](crate::odb::ObjectRead): pure functions that
//! the upload-pack and receive-pack servers (and anti-entropy) build on.
//!
//! - [`commits`]: the commit walk "reachable from these, not from those", newest first.
//! - [`objects`]: every object a client lacks given wants, haves, shallow cuts and a filter.
//! - [`ancestry`]: is one commit an ancestor of another (fast-forward checks); connectivity.
//! - [`shallow`]: shallow boundaries for `deepen`, `deepen-since`, `deepen-not`.
//! - [`filter`]: partial clone filters (`blob:none`, `blob:limit=N`, `tree:N`).

pub mod ancestry;
pub mod commits;
pub mod filter;
pub mod objects;
pub mod shallow;

pub use ancestry::{check_connected, is_ancestor};
pub use commits::{CommitWalk, commits_between};
pub use filter::{Filter, FilterError};
pub use objects::{ObjectsWanted, objects_and_known, objects_to_send};
pub use shallow::{Deepen, ShallowUpdate, shallow_update};

use crate::object::{CommitLinks, tag_target};
use crate::odb::{ObjectRead, OdbError};
use crate::{Kind, ObjectId};

/// Reads a commit's tree, parents and time.
pub(crate) fn commit_links(odb: &impl ObjectRead, id: &ObjectId) -> Result<CommitLinks, OdbError> {
    let data = odb.read_kind(id, Kind::Commit)?;
    CommitLinks::parse(&data).map_err(|source| OdbError::Malformed { id: *id, source })
}

/// Follows tags until something that is not a tag; returns it and its kind.
pub fn peel(odb: &impl ObjectRead, id: &ObjectId) -> Result<(ObjectId, Kind), OdbError> {
    let mut id = *id;
    for _ in 0..64 {
        let Some((kind, data)) = odb.read_object(&id)? else {
            return Err(OdbError::Missing { id });
        };
        if kind != Kind::Tag {
            return Ok((id, kind));
        }
        let Some((target, _)) = tag_target(&data) else {
            return Err(OdbError::Malformed {
                id,
                source: crate::ObjectError::MissingHeader {
                    kind: Kind::Tag,
                    header: "object",
                },
            });
        };
        id = target;
    }
    Err(OdbError::Missing { id })
}
