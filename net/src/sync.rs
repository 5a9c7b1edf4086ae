//! Bringing a repository up to date from peers: after an announcement, or in an
//! anti-entropy round (compare log digests, fetch the differing logs). Either way: check
//! each signed update, ask the host what is new and which objects are missing, download a
//! pack of exactly those by want/have (chunks requested a few at a time), and let the host
//! verify and apply it. Syncs are bounded in number and serialised per repository.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures::StreamExt;
use libp2p::PeerId;

use crate::host::SyncPlan;
use crate::proto::{CHUNK, Request, Response};
use crate::service::{Shared, lock};
use crate::signed::SignedRef;

/// Chunk requests in flight per download.
const WINDOW: usize = 4;

/// Syncs `repo` to `updates`, fetching objects from the first of `sources` that has them.
pub(crate) fn spawn_sync(
    shared: Arc<Shared>,
    repo: String,
    updates: Vec<SignedRef>,
    sources: Vec<PeerId>,
) {
    tokio::spawn(async move {
        if let Err(e) = sync_repo(&shared, &repo, updates, &sources).await {
            shared.stats.sync_failures.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%repo, error = %e, "sync failed; anti-entropy will retry");
        }
    });
}

/// One anti-entropy round with `peer` (skipped if one is already running with it).
pub(crate) fn spawn_round(shared: Arc<Shared>, peer: PeerId) {
    if !lock(&shared.in_round).insert(peer) {
        return;
    }
    tokio::spawn(async move {
        if let Err(e) = round(&shared, peer).await {
            shared.stats.sync_failures.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%peer, error = %e, "anti-entropy round failed");
        }
        lock(&shared.in_round).remove(&peer);
    });
}

async fn round(shared: &Arc<Shared>, peer: PeerId) -> Result<(), String> {
    let host = shared.host.clone();
    let mine = blocking(move || Ok(host.digests())).await?;
    let differ = match shared
        .request(peer, Request::Digest { repos: mine })
        .await?
    {
        Response::Digest { repos } => repos,
        other => return Err(unexpected(&other)),
    };
    for d in differ {
        let updates = match shared
            .request(
                peer,
                Request::Updates {
                    repo: d.repo.clone(),
                },
            )
            .await?
        {
            Response::Updates { updates } => updates,
            other => return Err(unexpected(&other)),
        };
        if let Err(e) = sync_repo(shared, &d.repo, updates, &[peer]).await {
            shared.stats.sync_failures.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(repo = %d.repo, %peer, error = %e, "anti-entropy sync failed");
        }
    }
    shared
        .stats
        .anti_entropy_rounds
        .fetch_add(1, Ordering::Relaxed);
    Ok(())
}

fn unexpected(r: &Response) -> String {
    match r {
        Response::Error { message } => format!("peer refused: {message}"),
        _ => "unexpected response".into(),
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| format!("task failed: {e}"))?
}

async fn sync_repo(
    shared: &Arc<Shared>,
    repo: &str,
    updates: Vec<SignedRef>,
    sources: &[PeerId],
) -> Result<usize, String> {
    let total = updates.len();
    let updates: Vec<SignedRef> = updates
        .into_iter()
        .filter(|u| {
            u.repo == repo && u.well_formed() && shared.is_trusted(&u.origin()) && u.verify()
        })
        .collect();
    let refused = total - updates.len();
    if refused > 0 {
        shared
            .stats
            .updates_rejected
            .fetch_add(refused as u64, Ordering::Relaxed);
    }
    if updates.is_empty() {
        return Ok(0);
    }
    let _permit = shared
        .fetches
        .acquire()
        .await
        .map_err(|_| "network stopped".to_string())?;
    let lock = shared.repo_lock(repo);
    let _one = lock.lock().await;
    let host = shared.host.clone();
    let (r, u) = (repo.to_string(), updates);
    let plan: SyncPlan = blocking(move || host.plan(&r, &u)).await?;
    if plan.new.is_empty() {
        return Ok(0);
    }
    let pack = if plan.wants.is_empty() {
        None
    } else {
        Some(download(shared, repo, &plan, sources).await?)
    };
    let host = shared.host.clone();
    let r = repo.to_string();
    blocking(move || host.apply(&r, pack, plan.new)).await
}

/// Downloads a pack of what the plan wants from the first source that serves it.
async fn download(
    shared: &Arc<Shared>,
    repo: &str,
    plan: &SyncPlan,
    sources: &[PeerId],
) -> Result<File, String> {
    let mut last = "no peer to fetch from".to_string();
    for &peer in sources {
        if peer == shared.peer_id {
            continue;
        }
        match fetch_from(shared, peer, repo, plan).await {
            Ok(f) => return Ok(f),
            Err(e) => last = format!("{peer}: {e}"),
        }
    }
    Err(last)
}

async fn fetch_from(
    shared: &Arc<Shared>,
    peer: PeerId,
    repo: &str,
    plan: &SyncPlan,
) -> Result<File, String> {
    let req = Request::Fetch {
        repo: repo.to_string(),
        wants: plan.wants.clone(),
        haves: plan.haves.clone(),
    };
    let (session, len) = match shared.request(peer, req).await? {
        Response::Pack { session, len } => (session, len),
        other => return Err(unexpected(&other)),
    };
    if len > shared.config.max_pack {
        return Err(format!("pack of {len} bytes is over the limit"));
    }
    let host = shared.host.clone();
    let file = Arc::new(blocking(move || host.spool().map_err(|e| e.to_string())).await?);
    let offsets: Vec<u64> = (0..len.div_ceil(CHUNK)).map(|i| i * CHUNK).collect();
    let mut chunks = futures::stream::iter(offsets)
        .map(|offset| {
            let shared = shared.clone();
            async move {
                let r = shared
                    .request(peer, Request::Chunk { session, offset })
                    .await;
                (offset, r)
            }
        })
        .buffered(WINDOW);
    while let Some((offset, r)) = chunks.next().await {
        let bytes = match r? {
            Response::Chunk { bytes } => bytes,
            other => return Err(unexpected(&other)),
        };
        let expected = (len - offset).min(CHUNK);
        if bytes.len() as u64 != expected {
            return Err(format!(
                "chunk at {offset}: {} bytes, expected {expected}",
                bytes.len()
            ));
        }
        let f = file.clone();
        blocking(move || f.write_all_at(&bytes, offset).map_err(|e| e.to_string())).await?;
    }
    shared.stats.packs_fetched.fetch_add(1, Ordering::Relaxed);
    shared.stats.pack_bytes.fetch_add(len, Ordering::Relaxed);
    Arc::try_unwrap(file).map_err(|_| "pack file still shared".to_string())
}
