//! Operations on issues and pull requests: what a user did, stamped by the node that
//! accepted it (a hybrid logical clock and the node, as ref updates are), with limits on
//! every text so that one operation stays small.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::hlc::Stamp;

/// Bytes (UTF-8) in a title at most.
pub const MAX_TITLE: usize = 1024;
/// Bytes (UTF-8) in a body, comment or review at most: an operation with the largest
/// texts still travels in one signed announcement ([`crate::announce::MAX_ANNOUNCEMENT`]),
/// with its grant, so GitHub's 65,536 characters are out of reach; 22 KiB is a long comment.
pub const MAX_BODY: usize = 22 * 1024;
/// Bytes in a label or user name at most.
pub const MAX_NAME: usize = 100;

/// Names an operation: a hash of its encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct OpId(pub [u8; 32]);

impl std::fmt::Display for OpId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for b in &self.0[..8] {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Names an issue or pull request: the id of the operation that opened it.
pub type ThreadId = OpId;

/// Where a pull request's changes come from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Head {
    /// `owner/name` of the repository holding the branch (this one, or a fork).
    pub repo: String,
    /// The branch, without `refs/heads/`.
    pub branch: String,
}

/// An issue, or a pull request from `head` into `base`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Kind {
    /// An issue.
    Issue,
    /// A pull request.
    Pull {
        /// The branch it merges into, without `refs/heads/`.
        base: String,
        /// Where its commits are.
        head: Head,
    },
}

/// A review's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Verdict {
    /// Approves the changes.
    Approve,
    /// Asks for changes.
    RequestChanges,
    /// Comments only.
    Comment,
}

/// How a pull request was merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MergeStrategy {
    /// A merge commit with both parents.
    Merge,
    /// One commit with the changes, on the base.
    Squash,
    /// Each head commit re-applied on the base.
    Rebase,
    /// The base moved to the head (nothing to merge).
    FastForward,
}

/// What an operation does.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Action {
    /// Opens a thread with the number its node proposed (one more than the greatest it
    /// knew of in the repository: see `number.rs`).
    Open {
        /// Issue or pull request.
        kind: Kind,
        /// The title.
        title: String,
        /// The description.
        body: String,
        /// The number proposed.
        number: u64,
    },
    /// Sets the title.
    EditTitle(String),
    /// Sets the description.
    EditBody(String),
    /// A comment (named by this operation's id).
    Comment(String),
    /// Edits a comment (its author's, or anyone's by a moderator).
    EditComment {
        /// The comment.
        comment: OpId,
        /// The new text.
        body: String,
    },
    /// Deletes a comment (its author's, or anyone's by a moderator).
    DeleteComment(OpId),
    /// Adds (`on`) or removes a label.
    Label {
        /// The label.
        name: String,
        /// Added or removed.
        on: bool,
    },
    /// Assigns (`on`) or unassigns a user.
    Assign {
        /// The user.
        user: String,
        /// Assigned or not.
        on: bool,
    },
    /// Closes the thread.
    Close,
    /// Reopens it.
    Reopen,
    /// Reviews a pull request at a head commit.
    Review {
        /// The verdict.
        verdict: Verdict,
        /// What the reviewer says.
        body: String,
        /// The head commit reviewed.
        commit: [u8; 20],
    },
    /// Records that a pull request was merged: the base branch moved to `commit`.
    Merge {
        /// The commit the base now points at.
        commit: [u8; 20],
        /// How.
        strategy: MergeStrategy,
    },
}

/// One operation, as replicated.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Op {
    /// `owner/name`.
    pub repo: String,
    /// The thread (none: this operation opens one).
    pub thread: Option<ThreadId>,
    /// When and where it was accepted.
    pub stamp: Stamp,
    /// The user who made it.
    pub author: String,
    /// True when the accepting node found the author has write access to the repository:
    /// they may then edit or delete others' comments, edit, close and reopen others'
    /// threads, label, assign and merge (the fold ignores those otherwise).
    pub moderator: bool,
    /// The signed account records (encoded [`crate::Body::Account`] announcements) the
    /// author's access rests on, as a push's grant: their user record, and for a moderator
    /// the records that give write access. Receivers check them (`check_access`) and
    /// refuse an operation its grant does not back.
    pub grant: Vec<Vec<u8>>,
    /// What it does.
    pub action: Action,
}

/// Why an operation is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpError {
    /// A text is over its limit.
    #[error("{what} is longer than {max} bytes")]
    TooLong {
        /// Which text.
        what: &'static str,
        /// Its limit.
        max: usize,
    },
    /// A text that must not be empty is.
    #[error("{0} must not be empty")]
    Empty(&'static str),
    /// An opening operation names a thread, or another one does not.
    #[error("{0}")]
    Shape(&'static str),
}

fn check(what: &'static str, text: &str, max: usize, nonempty: bool) -> Result<(), OpError> {
    if nonempty && text.trim().is_empty() {
        return Err(OpError::Empty(what));
    }
    if text.len() > max {
        return Err(OpError::TooLong { what, max });
    }
    Ok(())
}

impl Op {
    /// Its id: a hash of its encoding.
    pub fn id(&self) -> OpId {
        let bytes = crate::codec::encode(self).unwrap_or_default();
        OpId(Sha256::digest(bytes).into())
    }

    /// The thread it belongs to (an opening operation names its own).
    pub fn thread_id(&self) -> ThreadId {
        self.thread.unwrap_or_else(|| self.id())
    }

    /// Checks its shape and sizes.
    pub fn validate(&self) -> Result<(), OpError> {
        check("the author", &self.author, MAX_NAME, true)?;
        if self.grant.len() > crate::accounts::MAX_GRANT {
            return Err(OpError::Shape("a grant of too many records"));
        }
        let opens = matches!(self.action, Action::Open { .. });
        if opens == self.thread.is_some() {
            return Err(OpError::Shape(
                "an opening operation names no thread, and every other one names its thread",
            ));
        }
        match &self.action {
            Action::Open {
                kind, title, body, ..
            } => {
                check("the title", title, MAX_TITLE, true)?;
                check("the body", body, MAX_BODY, false)?;
                if let Kind::Pull { base, head } = kind {
                    check("the base branch", base, MAX_TITLE, true)?;
                    check("the head branch", &head.branch, MAX_TITLE, true)?;
                    check("the head repository", &head.repo, MAX_TITLE, true)?;
                }
            }
            Action::EditTitle(t) => check("the title", t, MAX_TITLE, true)?,
            Action::EditBody(b) => check("the body", b, MAX_BODY, false)?,
            Action::Comment(b) => check("a comment", b, MAX_BODY, true)?,
            Action::EditComment { body, .. } => check("a comment", body, MAX_BODY, true)?,
            Action::Label { name, .. } => check("a label", name, MAX_NAME, true)?,
            Action::Assign { user, .. } => check("an assignee", user, MAX_NAME, true)?,
            Action::Review { body, .. } => check("a review", body, MAX_BODY, false)?,
            Action::DeleteComment(_) | Action::Close | Action::Reopen | Action::Merge { .. } => {}
        }
        Ok(())
    }
}
