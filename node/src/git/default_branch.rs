//! The default branch of a repository that has none yet: while the branch HEAD names does
//! not exist, the first branch pushed becomes it (preferring `main`, then `master`, when
//! one push creates several), as on GitHub and Gitea. After that it changes only when
//! someone changes it.

use guts_git::ObjectId;
use guts_store::{Repo, RepoPatch, RepoRecord, StoreError};

/// The branch (without `refs/heads/`) a push's accepted changes offer as the default: none
/// when the push deleted every branch it named.
pub fn pick(changes: &[(String, ObjectId, ObjectId)]) -> Option<&str> {
    let branches: Vec<&str> = changes
        .iter()
        .filter(|(_, _, new)| !new.is_zero())
        .filter_map(|(name, _, _)| name.strip_prefix("refs/heads/"))
        .collect();
    ["main", "master"]
        .into_iter()
        .find(|p| branches.contains(p))
        .or_else(|| branches.first().copied())
}

/// After a push's refs moved (with the repository's writer lock held): if HEAD names a
/// branch that does not exist, points it at the branch [`pick`] chooses. Returns the new
/// record when it changed (to be signed, announced and published by the caller).
pub fn settle(
    repo: &Repo,
    changes: &[(String, ObjectId, ObjectId)],
) -> Result<Option<RepoRecord>, StoreError> {
    let Some(branch) = pick(changes) else {
        return Ok(None);
    };
    let rec = repo.record();
    let (owner, name) = (rec.owner.as_str(), rec.name.as_str());
    repo.store().update_repo_with(owner, name, |now| {
        let head = format!("refs/heads/{}", now.default_branch);
        match repo.get_ref(&head) {
            Ok(None) if now.default_branch != branch => Some(RepoPatch {
                default_branch: Some(branch.to_string()),
                ..RepoPatch::default()
            }),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(name: &str, new: u8) -> (String, ObjectId, ObjectId) {
        let mut id = [0u8; 20];
        id[0] = new;
        (name.into(), ObjectId::ZERO, ObjectId::from_bytes(id))
    }

    #[test]
    fn prefers_main_then_master_then_the_first() {
        let c = |names: &[&str]| names.iter().map(|n| change(n, 1)).collect::<Vec<_>>();
        assert_eq!(pick(&c(&["refs/heads/a", "refs/heads/main"])), Some("main"));
        assert_eq!(
            pick(&c(&[
                "refs/heads/a",
                "refs/heads/master",
                "refs/heads/main"
            ])),
            Some("main")
        );
        assert_eq!(
            pick(&c(&["refs/tags/v1", "refs/heads/b", "refs/heads/master"])),
            Some("master")
        );
        assert_eq!(pick(&c(&["refs/tags/v1", "refs/heads/b/c"])), Some("b/c"));
        assert_eq!(pick(&c(&["refs/tags/v1"])), None);
        // Deletions offer nothing.
        assert_eq!(pick(&[change("refs/heads/main", 0)]), None);
    }
}
