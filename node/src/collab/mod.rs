//! Issues and pull requests on the node (issue 17): operations signed here or replicated
//! (`guts_net::collab`), kept in the store, folded into threads, numbered, and served.
//!
//! - `view.rs`: reading threads from the store: decode, fold, number, find, list;
//!   `cache.rs`: each repository's listing, rebuilt only when a new operation was kept.
//! - `labels.rs`: `/labels` and a thread's labels (GitHub's shape).
//! - `json.rs`: the REST shapes (GitHub's, where they fit) and ISO 8601 times.
//! - `api.rs`: `/api/v1/repos/{owner}/{name}/issues...` handlers.
//! - `pulls.rs`: `/api/v1/repos/{owner}/{name}/pulls...`: open, list, show (with whether
//!   it merges), commits; `mergeability.rs`: the merge check over the store's objects;
//!   `merging.rs`: `PUT .../pulls/{n}/merge` (merge, squash, rebase, fast-forward);
//!   `approvals.rs`: the approving reviews a protected base branch asks for;
//!   `pull_refs.rs`: `refs/pull/N/head` and `refs/pull/N/merge` for upload-pack, with the
//!   unstored objects they need (a test merge, a fork's commits).
//! - `events.rs`: the hub events an operation makes (`issue.opened`, ...).

pub mod api;
pub mod approvals;
pub mod cache;
pub mod events;
pub mod json;
pub mod labels;
mod mergeability;
pub(crate) mod merging;
pub mod pull_refs;
pub mod pulls;
pub mod view;
