//! Everything the hub publishes, as one type: each event's wire name (`type`), its
//! repository and its fields are decided here and nowhere else, so a typo cannot make a new
//! event type. The JSON is the documented one (README, "Watching events live").

use guts_git::ObjectId;
use guts_net::SignedRef;
use guts_store::RepoRecord;
use serde_json::{Value, json};

/// Refs an event lists at most: a push of 50,000 refs makes one event of a few hundred KB,
/// not of megabytes kept in the log and the broadcast ring. An event that lists fewer
/// than it covers says how many it covers in `refs_total`.
pub const MAX_EVENT_REFS: usize = 1000;

/// One change of a ref, as `push` events show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefChange {
    /// The ref.
    pub name: String,
    /// Its value before (zero: created).
    pub old: ObjectId,
    /// Its value after (zero: deleted).
    pub new: ObjectId,
}

/// An applied replicated update, as `ref.replicated` events show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replicated {
    /// The ref.
    pub name: String,
    /// The update's old value.
    pub old: ObjectId,
    /// Its new value.
    pub new: ObjectId,
    /// The node that accepted the push.
    pub origin: String,
    /// Its stamp: wall milliseconds and logical counter.
    pub stamp: (u64, u32),
    /// Who pushed.
    pub pusher: Option<String>,
    /// Whether it became the ref's value (an older concurrent update is logged but does
    /// not move the ref).
    pub moved: bool,
}

impl Replicated {
    /// What an event shows of update `u`.
    pub fn of(u: &SignedRef, moved: bool) -> Replicated {
        Replicated {
            name: u.name.clone(),
            old: ObjectId::from_bytes(u.old),
            new: ObjectId::from_bytes(u.new),
            origin: u.origin().to_string(),
            stamp: (u.stamp.hlc.wall_ms, u.stamp.hlc.logical),
            pusher: u.pusher.as_ref().map(|p| p.user.clone()),
            moved,
        }
    }
}

/// A repository's metadata as events show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoMeta {
    /// The description.
    pub description: String,
    /// Private or not.
    pub private: bool,
    /// HEAD's branch.
    pub default_branch: String,
}

impl From<&RepoRecord> for RepoMeta {
    fn from(r: &RepoRecord) -> Self {
        RepoMeta {
            description: r.description.clone(),
            private: r.private,
            default_branch: r.default_branch.clone(),
        }
    }
}

/// An event.
#[derive(Debug, Clone)]
pub enum Event {
    /// A repository was created, here or by replication.
    RepoCreated {
        /// `owner/name`.
        repo: String,
        /// What it is now.
        meta: RepoMeta,
    },
    /// A repository's metadata changed, here or by replication.
    RepoUpdated {
        /// `owner/name`.
        repo: String,
        /// What it is now.
        meta: RepoMeta,
    },
    /// A repository was deleted, here or by replication.
    RepoDeleted {
        /// `owner/name`.
        repo: String,
        /// Whether it was private (who may see the event).
        private: bool,
    },
    /// A push to this node moved refs.
    Push {
        /// `owner/name`.
        repo: String,
        /// What moved.
        refs: Vec<RefChange>,
        /// Commits in the pushed pack.
        commits: u64,
        /// Who pushed.
        pusher: Option<String>,
        /// This node's id.
        origin: String,
    },
    /// Replicated updates were applied.
    RefReplicated {
        /// `owner/name`.
        repo: String,
        /// Each update.
        refs: Vec<Replicated>,
    },
    /// A concurrent tip was kept under `refs/guts/conflicts/...`, or settled.
    Conflict {
        /// `owner/name`.
        repo: String,
        /// The ref.
        name: String,
        /// The tip kept (or settled).
        tip: ObjectId,
        /// False: kept; true: settled by a later merge or push.
        resolved: bool,
    },
    /// An operation on an issue or pull request, made here or replicated.
    Thread {
        /// `owner/name`.
        repo: String,
        /// Its type on the wire (`issue.opened`, `pull.merged`, ...).
        kind: &'static str,
        /// The thread's number.
        number: u64,
        /// The thread's id (hex).
        thread: String,
        /// Who did it.
        author: String,
        /// The thread's title.
        title: String,
        /// The comment or review text, if the operation has one.
        body: Option<String>,
    },
    /// A peer connected.
    PeerConnected {
        /// Its libp2p peer id.
        peer: String,
    },
    /// A peer's last connection closed.
    PeerDisconnected {
        /// Its libp2p peer id.
        peer: String,
    },
}

impl Event {
    /// Its `type` on the wire.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::RepoCreated { .. } => "repo.created",
            Event::RepoUpdated { .. } => "repo.updated",
            Event::RepoDeleted { .. } => "repo.deleted",
            Event::Push { .. } => "push",
            Event::RefReplicated { .. } => "ref.replicated",
            Event::Conflict { .. } => "conflict",
            Event::Thread { kind, .. } => kind,
            Event::PeerConnected { .. } => "peer.connected",
            Event::PeerDisconnected { .. } => "peer.disconnected",
        }
    }

    /// Its repository (`owner/name`); none for the node's own events.
    pub fn repo(&self) -> Option<&str> {
        match self {
            Event::RepoCreated { repo, .. }
            | Event::RepoUpdated { repo, .. }
            | Event::RepoDeleted { repo, .. }
            | Event::Push { repo, .. }
            | Event::RefReplicated { repo, .. }
            | Event::Conflict { repo, .. }
            | Event::Thread { repo, .. } => Some(repo),
            Event::PeerConnected { .. } | Event::PeerDisconnected { .. } => None,
        }
    }

    /// Whether the repository is private, when the event itself says (a deletion says
    /// what it was); otherwise the hub looks it up.
    pub fn private(&self) -> Option<bool> {
        match self {
            Event::RepoCreated { meta, .. } | Event::RepoUpdated { meta, .. } => Some(meta.private),
            Event::RepoDeleted { private, .. } => Some(*private),
            _ => None,
        }
    }

    /// Its own fields (the hub adds `seq`, `type`, `repo`, `node`, `at` and `private`).
    pub fn fields(&self) -> Value {
        match self {
            Event::RepoCreated { meta, .. } | Event::RepoUpdated { meta, .. } => json!({
                "description": meta.description,
                "private": meta.private,
                "default_branch": meta.default_branch,
            }),
            Event::RepoDeleted { private, .. } => json!({ "private": private }),
            Event::Push {
                refs,
                commits,
                pusher,
                origin,
                ..
            } => with_total(
                json!({
                    "refs": refs.iter().take(MAX_EVENT_REFS).map(ref_json).collect::<Vec<_>>(),
                    "commits": commits,
                    "pusher": pusher,
                    "origin": origin,
                }),
                refs.len(),
            ),
            Event::RefReplicated { refs, .. } => with_total(
                json!({
                    "refs": refs
                        .iter()
                        .take(MAX_EVENT_REFS)
                        .map(replicated_json)
                        .collect::<Vec<_>>(),
                }),
                refs.len(),
            ),
            Event::Conflict {
                name,
                tip,
                resolved,
                ..
            } => json!({
                "ref": name,
                "tip": tip.to_hex(),
                "conflict_ref": guts_net::conflict_ref(name, tip),
                "resolved": resolved,
            }),
            Event::Thread {
                number,
                thread,
                author,
                title,
                body,
                ..
            } => json!({
                "number": number,
                "thread": thread,
                "user": author,
                "title": title,
                "body": body,
            }),
            Event::PeerConnected { peer } | Event::PeerDisconnected { peer } => {
                json!({ "peer": peer })
            }
        }
    }
}

/// Adds `refs_total` to fields whose `refs` were cut at [`MAX_EVENT_REFS`].
fn with_total(mut fields: Value, total: usize) -> Value {
    if total > MAX_EVENT_REFS {
        fields["refs_total"] = json!(total);
    }
    fields
}

fn ref_json(c: &RefChange) -> Value {
    json!({ "ref": c.name, "old": c.old.to_hex(), "new": c.new.to_hex() })
}

fn replicated_json(r: &Replicated) -> Value {
    json!({
        "ref": r.name,
        "old": r.old.to_hex(),
        "new": r.new.to_hex(),
        "origin": r.origin,
        "stamp": { "ms": r.stamp.0, "logical": r.stamp.1 },
        "pusher": r.pusher,
        "moved": r.moved,
    })
}
