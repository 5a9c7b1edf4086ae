//! A thread's state as a function of the set of its operations: duplicates count once and
//! the operations are applied in stamp order (ties by id), so every node that holds the
//! same operations shows the same thing, whatever order they arrived in. Concurrent edits
//! of one field resolve by the greatest stamp, as refs do; concurrent comments are all
//! kept; a pull request is merged once (the first merge by stamp), and stays merged.

use std::collections::{BTreeMap, BTreeSet};

use super::op::{Action, Head, Kind, MergeStrategy, Op, OpId, ThreadId, Verdict};
use crate::hlc::Stamp;

/// Open, closed, or merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Open.
    Open,
    /// Closed without merging.
    Closed,
    /// Merged (a pull request).
    Merged {
        /// The commit the base branch moved to.
        commit: [u8; 20],
        /// How.
        strategy: MergeStrategy,
        /// Who merged it.
        by: String,
        /// When.
        at: Stamp,
    },
}

/// A comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    /// The operation that made it.
    pub id: OpId,
    /// Who wrote it.
    pub author: String,
    /// Its text (empty once deleted).
    pub body: String,
    /// When it was made.
    pub created: Stamp,
    /// When it was last edited.
    pub edited: Option<Stamp>,
    /// Deleted (kept as a tombstone so later edits stay void).
    pub deleted: bool,
}

/// A review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    /// The operation.
    pub id: OpId,
    /// The reviewer.
    pub author: String,
    /// The verdict.
    pub verdict: Verdict,
    /// What they said.
    pub body: String,
    /// The head commit reviewed.
    pub commit: [u8; 20],
    /// When.
    pub at: Stamp,
}

/// An issue or pull request as its operations make it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thread {
    /// Its id (the opening operation's).
    pub id: ThreadId,
    /// `owner/name`.
    pub repo: String,
    /// Issue or pull request.
    pub kind: Kind,
    /// The number its node proposed (the number shown comes from `number.rs`).
    pub proposed: u64,
    /// Who opened it.
    pub author: String,
    /// When.
    pub opened: Stamp,
    /// The title.
    pub title: String,
    /// The description.
    pub body: String,
    /// Open, closed or merged.
    pub state: State,
    /// Comments in stamp order.
    pub comments: Vec<Comment>,
    /// Labels.
    pub labels: BTreeSet<String>,
    /// Assignees.
    pub assignees: BTreeSet<String>,
    /// Reviews in stamp order.
    pub reviews: Vec<Review>,
    /// The latest stamp of any operation.
    pub updated: Stamp,
}

impl Thread {
    /// The pull request's head, if it is one.
    pub fn head(&self) -> Option<&Head> {
        match &self.kind {
            Kind::Pull { head, .. } => Some(head),
            Kind::Issue => None,
        }
    }
}

/// Folds the operations of one thread (none if its opening operation is not among them:
/// the others wait for it).
pub fn fold<'a>(ops: impl IntoIterator<Item = &'a Op>) -> Option<Thread> {
    let mut by_id: BTreeMap<OpId, &Op> = BTreeMap::new();
    for op in ops {
        by_id.entry(op.id()).or_insert(op);
    }
    let mut ordered: Vec<(OpId, &Op)> = by_id.into_iter().collect();
    ordered.sort_by_key(|(id, op)| (op.stamp, *id));
    let (open_id, open) = ordered.iter().find(|(_, op)| op.thread.is_none())?;
    let Action::Open {
        kind,
        title,
        body,
        number,
    } = &open.action
    else {
        return None;
    };
    let mut t = Thread {
        id: *open_id,
        repo: open.repo.clone(),
        kind: kind.clone(),
        proposed: *number,
        author: open.author.clone(),
        opened: open.stamp,
        title: title.clone(),
        body: body.clone(),
        state: State::Open,
        comments: Vec::new(),
        labels: BTreeSet::new(),
        assignees: BTreeSet::new(),
        reviews: Vec::new(),
        updated: open.stamp,
    };
    let mut labels: BTreeMap<&str, bool> = BTreeMap::new();
    let mut assignees: BTreeMap<&str, bool> = BTreeMap::new();
    let pull = matches!(t.kind, Kind::Pull { .. });
    for (id, op) in &ordered {
        // Only this thread's, after its opening.
        if op.thread != Some(t.id) || op.repo != t.repo {
            continue;
        }
        t.updated = t.updated.max(op.stamp);
        let own = op.author == t.author || op.moderator;
        match &op.action {
            Action::Open { .. } => {}
            // The thread's author or a moderator edits, closes and reopens it; labels,
            // assignees and merges are a moderator's.
            Action::EditTitle(s) if own => t.title = s.clone(),
            Action::EditBody(s) if own => t.body = s.clone(),
            Action::Comment(body) => t.comments.push(Comment {
                id: *id,
                author: op.author.clone(),
                body: body.clone(),
                created: op.stamp,
                edited: None,
                deleted: false,
            }),
            Action::EditComment { comment, body } => {
                if let Some(c) = t.comments.iter_mut().find(|c| c.id == *comment)
                    && !c.deleted
                    && (c.author == op.author || op.moderator)
                {
                    c.body = body.clone();
                    c.edited = Some(op.stamp);
                }
            }
            Action::DeleteComment(comment) => {
                if let Some(c) = t.comments.iter_mut().find(|c| c.id == *comment)
                    && (c.author == op.author || op.moderator)
                {
                    c.deleted = true;
                    c.body.clear();
                }
            }
            Action::Label { name, on } if op.moderator => {
                labels.insert(name, *on);
            }
            Action::Assign { user, on } if op.moderator => {
                assignees.insert(user, *on);
            }
            Action::Close if own => {
                if t.state == State::Open {
                    t.state = State::Closed;
                }
            }
            Action::Reopen if own => {
                if t.state == State::Closed {
                    t.state = State::Open;
                }
            }
            Action::Review {
                verdict,
                body,
                commit,
            } if pull => t.reviews.push(Review {
                id: *id,
                author: op.author.clone(),
                verdict: *verdict,
                body: body.clone(),
                commit: *commit,
                at: op.stamp,
            }),
            Action::Merge { commit, strategy } if pull && op.moderator => {
                if !matches!(t.state, State::Merged { .. }) {
                    t.state = State::Merged {
                        commit: *commit,
                        strategy: *strategy,
                        by: op.author.clone(),
                        at: op.stamp,
                    };
                }
            }
            Action::EditTitle(_)
            | Action::EditBody(_)
            | Action::Label { .. }
            | Action::Assign { .. }
            | Action::Close
            | Action::Reopen
            | Action::Review { .. }
            | Action::Merge { .. } => {}
        }
    }
    t.labels = on_keys(labels);
    t.assignees = on_keys(assignees);
    Some(t)
}

fn on_keys(m: BTreeMap<&str, bool>) -> BTreeSet<String> {
    m.into_iter()
        .filter(|(_, on)| *on)
        .map(|(k, _)| k.to_string())
        .collect()
}
