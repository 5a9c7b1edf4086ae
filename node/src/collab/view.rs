//! Threads as the store holds them: each operation is a signed record; a thread is the
//! fold of its operations; numbers come from the repository's opening operations.

use std::collections::BTreeMap;

use guts_net::collab::{Op, OpId, Thread, ThreadId, fold, numbers};
use guts_net::{Announcement, Body};
use guts_store::{Store, StoreError};

/// The operation a kept record carries (none: not an operation, or unreadable).
pub fn decode(record: &[u8]) -> Option<Op> {
    match Announcement::decode(record).ok()?.body {
        Body::Collab { op } => Some(op),
        _ => None,
    }
}

/// A thread of `repo`, folded (none: unknown, or its opening has not arrived).
pub fn thread(store: &Store, repo: &str, id: &ThreadId) -> Result<Option<Thread>, StoreError> {
    let ops: Vec<Op> = store
        .collab_ops(repo, &id.0)?
        .iter()
        .filter_map(|r| decode(r))
        .collect();
    Ok(fold(&ops))
}

/// The numbers of `repo`'s threads.
pub fn numbered(store: &Store, repo: &str) -> Result<BTreeMap<ThreadId, u64>, StoreError> {
    let opens: Vec<(ThreadId, u64, guts_net::Stamp)> = store
        .collab_threads(repo)?
        .iter()
        .filter_map(|(id, record)| {
            let op = decode(record)?;
            match op.action {
                guts_net::collab::Action::Open { number, .. } => {
                    Some((OpId(*id), number, op.stamp))
                }
                _ => None,
            }
        })
        .collect();
    Ok(numbers(&opens))
}

/// The thread `#n` (or named by its id in hex) of `repo`, with its number.
pub fn find(store: &Store, repo: &str, which: &str) -> Result<Option<(u64, Thread)>, StoreError> {
    let numbers = numbered(store, repo)?;
    let id = match which.parse::<u64>() {
        Ok(n) => numbers.iter().find(|(_, v)| **v == n).map(|(id, _)| *id),
        Err(_) => parse_id(which).filter(|id| numbers.contains_key(id)),
    };
    let Some(id) = id else {
        return Ok(None);
    };
    let n = numbers.get(&id).copied().unwrap_or(0);
    Ok(thread(store, repo, &id)?.map(|t| (n, t)))
}

/// Every thread of `repo` with its number, newest number first.
pub fn list(store: &Store, repo: &str) -> Result<Vec<(u64, Thread)>, StoreError> {
    let numbers = numbered(store, repo)?;
    let mut out = Vec::with_capacity(numbers.len());
    for (id, n) in &numbers {
        if let Some(t) = thread(store, repo, id)? {
            out.push((*n, t));
        }
    }
    out.sort_by_key(|(n, _)| std::cmp::Reverse(*n));
    Ok(out)
}

/// A thread or operation id from its 64 hex characters.
pub fn parse_id(hex: &str) -> Option<OpId> {
    crate::hex::decode(hex)?.try_into().ok().map(OpId)
}

/// An id in 64 hex characters.
pub fn hex(id: &OpId) -> String {
    crate::hex::encode(&id.0)
}

/// The pull requests of `repo` whose head is a branch of `repo` itself, as (number,
/// branch): what `refs/pull/N/head` advertises. Read from the opening operations only.
pub fn pull_heads(store: &Store, repo: &str) -> Result<Vec<(u64, String)>, StoreError> {
    let numbers = numbered(store, repo)?;
    let mut out = Vec::new();
    for (id, record) in store.collab_threads(repo)? {
        let Some(op) = decode(&record) else {
            continue;
        };
        if let guts_net::collab::Action::Open {
            kind: guts_net::collab::Kind::Pull { head, .. },
            ..
        } = op.action
            && head.repo == repo
            && let Some(n) = numbers.get(&OpId(id))
        {
            out.push((*n, head.branch));
        }
    }
    Ok(out)
}
