//! Required approvals: a branch under a required-reviews rule moves only by merging a pull
//! request with enough approving reviews. What counts, as on GitHub: each reviewer's latest
//! approving or change-requesting review (comments do not count), from someone other than
//! the pull request's author who has write access now; one outstanding change request
//! blocks the merge.

use std::collections::BTreeMap;

use guts_net::Perm;
use guts_net::accounts::repo_access;
use guts_net::collab::{Thread, Verdict};
use guts_store::{RepoName, Store, StoreError};

use crate::accounts::{StoreView, approvals_needed, review_rules};

/// Where a pull request stands against the rules of its base branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approvals {
    /// Approving reviews the base branch needs (0: no rule).
    pub required: u32,
    /// Reviewers whose latest review approves.
    pub approved_by: Vec<String>,
    /// Reviewers whose latest review asks for changes.
    pub changes_requested_by: Vec<String>,
}

impl Approvals {
    /// True when a merge may go ahead.
    pub fn satisfied(&self) -> bool {
        self.required == 0
            || (self.approved_by.len() as u64 >= u64::from(self.required)
                && self.changes_requested_by.is_empty())
    }

    /// Why a merge may not go ahead (None: it may).
    pub fn refusal(&self) -> Option<String> {
        if self.satisfied() {
            return None;
        }
        if !self.changes_requested_by.is_empty() {
            return Some(format!(
                "changes were requested by {}",
                self.changes_requested_by.join(", ")
            ));
        }
        Some(format!(
            "the base branch needs {} approving review{} by someone with write access other \
             than the author; it has {}",
            self.required,
            if self.required == 1 { "" } else { "s" },
            self.approved_by.len()
        ))
    }
}

/// Counts the reviews of pull request `t` into `base` of `full` (blocking: reads accounts).
pub fn count(
    store: &Store,
    full: &RepoName,
    base: &str,
    t: &Thread,
) -> Result<Approvals, StoreError> {
    let required = approvals_needed(&review_rules(store, full)?, base);
    let mut latest: BTreeMap<&str, Verdict> = BTreeMap::new();
    for r in &t.reviews {
        if r.author != t.author && r.verdict != Verdict::Comment {
            latest.insert(&r.author, r.verdict);
        }
    }
    let view = StoreView(store);
    let mut out = Approvals {
        required,
        approved_by: Vec::new(),
        changes_requested_by: Vec::new(),
    };
    for (who, verdict) in latest {
        let access = repo_access(&view, who, full.owner(), full.name())?;
        if access.perm < Some(Perm::Write) {
            continue;
        }
        match verdict {
            Verdict::Approve => out.approved_by.push(who.to_string()),
            Verdict::RequestChanges => out.changes_requested_by.push(who.to_string()),
            Verdict::Comment => {}
        }
    }
    Ok(out)
}
