//! Pull-through: a clone or fetch of a repository this node does not store (it does not
//! seed it, and keeps only its signed record) takes it from a node that does, then serves
//! it. The record says the repository lives and who may read it; the caller's access is
//! checked against it before anything is fetched. The repository is then created here
//! empty (so the network's host accepts its updates), pulled ([`NetHandle::pull`]: the
//! nodes that provide it in the DHT, then connected peers), and kept: from then on this
//! node holds it and takes its updates like any repository it holds. If no node can serve
//! it, the empty repository is removed again and the caller gets a 404 that says so.
//!
//! Requests for a repository being pulled wait for the pull ([`Pulls::wait`]), so none
//! sees it half-made.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use guts_net::{NetHandle, PullError, RepoMeta, RepoState};
use guts_store::{RepoName, RepoRecord, Store};

use super::host::{latest, materialize};
use crate::error::ApiError;

/// How long a request waits for a pull.
pub const PULL_WAIT: Duration = Duration::from_secs(120);

/// The repositories being pulled now, each with a lock held for the pull.
#[derive(Debug, Default)]
pub struct Pulls {
    running: Mutex<HashMap<RepoName, Arc<tokio::sync::Mutex<()>>>>,
}

impl Pulls {
    fn lock_of(&self, full: &RepoName) -> Option<Arc<tokio::sync::Mutex<()>>> {
        match self.running.lock() {
            Ok(m) => m.get(full).cloned(),
            Err(p) => p.into_inner().get(full).cloned(),
        }
    }

    /// Waits for a pull of `full` to end, if one runs. Returns whether one ran.
    pub async fn wait(&self, full: &RepoName) -> bool {
        match self.lock_of(full) {
            Some(lock) => {
                drop(lock.lock().await);
                true
            }
            None => false,
        }
    }

    /// The lock for a pull of `full` (the same for concurrent pulls), registered.
    fn start(&self, full: &RepoName) -> Arc<tokio::sync::Mutex<()>> {
        let mut m = match self.running.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        m.entry(full.clone()).or_default().clone()
    }

    fn end(&self, full: &RepoName, lock: &Arc<tokio::sync::Mutex<()>>) {
        let mut m = match self.running.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        // Two references: the map's and the caller's; more means another pull waits.
        if Arc::strong_count(lock) <= 2 {
            m.remove(full);
        }
    }
}

/// The record of a repository this node does not store but could pull, as the access
/// rule reads it (none: no live record, or the repository is here). Blocking.
pub fn candidate(store: &Store, full: &RepoName) -> Result<Option<RepoRecord>, ApiError> {
    if store.repo(full.owner(), full.name())?.is_some() {
        return Ok(None);
    }
    let meta = match latest(store, &full.to_string()) {
        Ok(Some((_, RepoState::Live(meta)))) => meta,
        Ok(_) => return Ok(None),
        Err(e) => return Err(ApiError::internal(&e)),
    };
    Ok(Some(record_of(full, &meta)))
}

fn record_of(full: &RepoName, meta: &RepoMeta) -> RepoRecord {
    RepoRecord {
        id: 0,
        owner: full.owner().to_string(),
        name: full.name().to_string(),
        description: meta.description.clone(),
        private: meta.private,
        default_branch: meta.default_branch.clone(),
        created_at: 0,
        updated_at: 0,
    }
}

/// Pulls `full` from the network into `store` (see the module note). Returns once the
/// store holds it, or with the 404 (no node can serve it) or 503 (busy, stopped) to answer.
pub async fn pull(
    store: &Store,
    net: Option<&NetHandle>,
    pulls: &Pulls,
    full: &RepoName,
) -> Result<(), ApiError> {
    let not_here = |why: &str| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("repository {full} is not stored on this node, and {why}"),
        )
    };
    let Some(net) = net else {
        return Err(not_here("this node has no network to fetch it from"));
    };
    let lock = pulls.start(full);
    let result = {
        let _pulling = lock.lock().await;
        pull_locked(store, net, full).await
    };
    pulls.end(full, &lock);
    result.map_err(|e| match e {
        PullError::NoSeeder { .. } => not_here("no node that stores it could be reached"),
        PullError::Failed { reason, .. } => not_here(&format!(
            "fetching it from the nodes that store it failed: {reason}"
        )),
        PullError::TimedOut { .. } => not_here("fetching it from the network timed out"),
        PullError::Busy | PullError::Stopped => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("repository {full} is not stored on this node and cannot be fetched now: {e}"),
        ),
    })
}

/// Under the repository's pull lock: creates it empty, pulls it, removes it again if the
/// pull failed and left it empty.
async fn pull_locked(store: &Store, net: &NetHandle, full: &RepoName) -> Result<(), PullError> {
    let created = {
        let (store, name) = (store.clone(), full.clone());
        tokio::task::spawn_blocking(move || -> Result<Option<bool>, String> {
            // Pulled while this one waited for the lock: nothing to do.
            if store
                .repo(name.owner(), name.name())
                .map_err(|e| e.to_string())?
                .is_some()
            {
                return Ok(None);
            }
            let Some((_, RepoState::Live(meta))) =
                latest(&store, &name.to_string()).map_err(|e| e.to_string())?
            else {
                return Ok(None);
            };
            let created = materialize(&store, &name, &meta).map_err(|e| e.to_string())?;
            store.flush().map_err(|e| e.to_string())?;
            Ok(Some(created))
        })
        .await
        .map_err(|e| PullError::Failed {
            repo: full.to_string(),
            reason: e.to_string(),
        })?
        .map_err(|reason| PullError::Failed {
            repo: full.to_string(),
            reason,
        })?
    };
    let Some(created) = created else {
        return Ok(());
    };
    let result = net.pull(&full.to_string(), PULL_WAIT).await;
    if result.is_err() && created {
        let (store, name) = (store.clone(), full.clone());
        let removed = tokio::task::spawn_blocking(move || -> Result<(), String> {
            let Some(repo) = store
                .repo(name.owner(), name.name())
                .map_err(|e| e.to_string())?
            else {
                return Ok(());
            };
            // Something arrived after all (a round, an announcement): it stays.
            if repo.log_last_key().map_err(|e| e.to_string())?.is_none() {
                store
                    .delete_repo(name.owner(), name.name())
                    .map_err(|e| e.to_string())?;
                store.flush().map_err(|e| e.to_string())?;
            }
            Ok(())
        })
        .await;
        if let Ok(Err(e)) | Err(e) = removed.map_err(|e| e.to_string()) {
            tracing::error!(repo = %full, error = %e, "removing a repository whose pull failed");
        }
    }
    result.map(|_| ())
}
