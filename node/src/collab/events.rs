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

/// `pull.updated` for each open pull request of `repo` whose head is one of `branches` (of
/// `repo` itself), after a push or a replicated update moved them.
pub fn heads_moved(
    store: &guts_store::Store,
    repo: &str,
    refs: impl IntoIterator<Item = String>,
) -> Vec<Event> {
    let moved: Vec<String> = refs
        .into_iter()
        .filter_map(|r| r.strip_prefix("refs/heads/").map(str::to_string))
        .collect();
    if moved.is_empty() {
        return Vec::new();
    }
    let heads = match super::view::pull_heads(store, repo) {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!(%repo, error = %e, "reading pull requests for their heads");
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (n, branch) in heads.into_iter().filter(|(_, b)| moved.contains(b)) {
        let Ok(Some((_, t))) = super::view::find(store, repo, &n.to_string()) else {
            continue;
        };
        if t.state != guts_net::collab::State::Open {
            continue;
        }
        out.push(Event::Thread {
            repo: repo.to_string(),
            kind: "pull.updated",
            number: n,
            thread: hex(&t.id),
            author: t.author.clone(),
            title: t.title.clone(),
            body: Some(format!("{branch} moved")),
        });
    }
    out
}
