//! The hub event an operation makes, once it is kept (here or replicated).

use guts_net::collab::{Action, Kind, Op, Thread};

use super::view::hex;
use crate::events::Event;

/// The event for `op` on thread `t` numbered `number`.
pub fn of(op: &Op, t: &Thread, number: u64) -> Event {
    let pull = matches!(t.kind, Kind::Pull { .. });
    let pick = |issue: &'static str, pr: &'static str| if pull { pr } else { issue };
    let (kind, body) = match &op.action {
        Action::Open { .. } => (pick("issue.opened", "pull.opened"), None),
        Action::Comment(b) => (pick("issue.commented", "pull.commented"), Some(b.clone())),
        Action::Close => (pick("issue.closed", "pull.closed"), None),
        Action::Reopen => (pick("issue.reopened", "pull.reopened"), None),
        Action::Review { body, .. } => ("pull.reviewed", Some(body.clone())),
        Action::Merge { .. } => ("pull.merged", None),
        Action::EditComment { body, .. } => (
            pick("issue.comment_edited", "pull.comment_edited"),
            Some(body.clone()),
        ),
        Action::DeleteComment(_) => (pick("issue.comment_deleted", "pull.comment_deleted"), None),
        Action::EditTitle(_)
        | Action::EditBody(_)
        | Action::Label { .. }
        | Action::Assign { .. } => (pick("issue.edited", "pull.edited"), None),
    };
    Event::Thread {
        repo: op.repo.clone(),
        kind,
        number,
        thread: hex(&t.id),
        author: op.author.clone(),
        title: t.title.clone(),
        body,
    }
}
