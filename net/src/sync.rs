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

use crate::announce::{Announcement, Body, PackRef, RepoState};
use crate::hlc::Stamp;
use crate::host::SyncPlan;
use crate::proto::{CHUNK, MAX_SYNC_UPDATES, RECORDS, Request, Response};
use crate::service::{Shared, lock, now_ms};
use crate::signed::SignedRef;

/// Chunk requests in flight per download.
const WINDOW: usize = 4;

/// Syncs `repo` to `updates`, fetching objects from the first of `sources` that has them:
/// the announced pack as stored at the origin if there is one, else by want/have.
pub(crate) fn spawn_sync(
    shared: Arc<Shared>,
    repo: String,
    updates: Vec<SignedRef>,
    pack: Option<PackRef>,
    sources: Vec<PeerId>,
) {
    tokio::spawn(async move {
        if let Err(e) = sync_repo(&shared, &repo, updates, pack, &sources).await {
            shared.stats.sync_failures.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%repo, error = %e, "sync failed; anti-entropy will retry");
        }
    });
}

/// Applies a repository record announced by gossip (already validated).
pub(crate) fn spawn_record(
    shared: Arc<Shared>,
    repo: String,
    stamp: Stamp,
    state: RepoState,
    record: Vec<u8>,
) {
    tokio::spawn(async move {
        let host = shared.host.clone();
        let r = repo.clone();
        match blocking(move || host.apply_record(&r, stamp, &state, record)).await {
            Ok(true) => {
                shared.stats.records_applied.fetch_add(1, Ordering::Relaxed);
                tracing::info!(%repo, "repository record applied");
            }
            Ok(false) => {}
            Err(e) => {
                shared.stats.sync_failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%repo, error = %e, "applying a repository record failed");
            }
        }
    });
}

/// Fetches a peer's repository records and applies those newer than what is kept here.
async fn sync_records(shared: &Arc<Shared>, peer: PeerId) -> Result<(), String> {
    let records = match shared.request(peer, Request::Records).await? {
        Response::Records { records } => records,
        other => return Err(unexpected(&other)),
    };
    for record in records {
        let checked = Announcement::decode(&record)
            .and_then(|a| a.validate(|n| shared.is_trusted(n), now_ms()).map(|()| a));
        let a = match checked {
            Ok(a) => a,
            Err(e) => {
                shared
                    .stats
                    .updates_rejected
                    .fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%peer, error = %e, "repository record refused");
                continue;
            }
        };
        let Body::Repo { repo, stamp, state } = a.body else {
            shared
                .stats
                .updates_rejected
                .fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let host = shared.host.clone();
        let r = repo.clone();
        if blocking(move || host.apply_record(&r, stamp, &state, record)).await? {
            shared.stats.records_applied.fetch_add(1, Ordering::Relaxed);
            tracing::info!(%repo, %peer, "repository record applied (anti-entropy)");
        }
    }
    Ok(())
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
        if d.repo == RECORDS {
            if let Err(e) = sync_records(shared, peer).await {
                shared.stats.sync_failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%peer, error = %e, "repository record sync failed");
            }
            continue;
        }
        let updates = updates_of(shared, peer, &d.repo).await?;
        if let Err(e) = sync_repo(shared, &d.repo, updates, None, &[peer]).await {
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

/// A peer's signed updates of `repo`, page by page (at most [`MAX_SYNC_UPDATES`]).
async fn updates_of(
    shared: &Arc<Shared>,
    peer: PeerId,
    repo: &str,
) -> Result<Vec<SignedRef>, String> {
    let mut all: Vec<SignedRef> = Vec::new();
    loop {
        let req = Request::Updates {
            repo: repo.to_string(),
            after: all.last().map(|u| u.stamp),
        };
        let (page, more) = match shared.request(peer, req).await? {
            Response::Updates { updates, more } => (updates, more),
            other => return Err(unexpected(&other)),
        };
        // Each page must move forward, or a peer could keep us here.
        if let (Some(last), Some(first)) = (all.last(), page.first())
            && first.stamp <= last.stamp
        {
            return Err("a page of updates that does not move forward".into());
        }
        let empty = page.is_empty();
        all.extend(page);
        if !more || empty {
            break;
        }
        if all.len() >= MAX_SYNC_UPDATES {
            tracing::warn!(%repo, %peer, "update log over the per-round limit; the rest next time");
            break;
        }
    }
    Ok(all)
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
    announced: Option<PackRef>,
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
    let (r, u) = (repo.to_string(), updates.clone());
    let mut plan: SyncPlan = blocking(move || host.plan(&r, &u)).await?;
    if plan.new.is_empty() {
        return Ok(0);
    }
    tracing::debug!(
        %repo,
        new = plan.new.len(),
        wants = plan.wants.len(),
        announced = announced.is_some(),
        "syncing"
    );
    // The pack as the origin stored it: no work to prepare, and usually exactly what is
    // missing. If it is not enough (this node lacks older objects too), want/have follows.
    if let Some(p) = announced.filter(|p| !plan.wants.is_empty() && p.len <= shared.config.max_pack)
    {
        let req = Request::FetchPack {
            repo: repo.to_string(),
            checksum: p.checksum,
        };
        let started = std::time::Instant::now();
        match download(shared, &req, sources).await {
            Ok(file) => {
                let fetched = started.elapsed();
                let host = shared.host.clone();
                let (r, new) = (repo.to_string(), plan.new.clone());
                let applied = blocking(move || host.apply(&r, Some(file), new)).await;
                tracing::debug!(%repo, ?fetched, total = ?started.elapsed(), "announced pack fetched and applied");
                match applied {
                    Ok(n) => {
                        shared
                            .stats
                            .stored_packs_applied
                            .fetch_add(1, Ordering::Relaxed);
                        return Ok(n);
                    }
                    Err(e) => {
                        tracing::debug!(%repo, error = %e, "the announced pack was not enough")
                    }
                }
                let host = shared.host.clone();
                let (r, u) = (repo.to_string(), updates);
                plan = blocking(move || host.plan(&r, &u)).await?;
                if plan.new.is_empty() {
                    return Ok(0);
                }
            }
            Err(e) => tracing::debug!(%repo, error = %e, "announced pack not fetched"),
        }
    }
    let pack = if plan.wants.is_empty() {
        None
    } else {
        let req = Request::Fetch {
            repo: repo.to_string(),
            wants: plan.wants.clone(),
            haves: plan.haves.clone(),
        };
        Some(download(shared, &req, sources).await?)
    };
    let host = shared.host.clone();
    let r = repo.to_string();
    blocking(move || host.apply(&r, pack, plan.new)).await
}

/// Downloads the pack `req` prepares from the first source that serves it.
async fn download(shared: &Arc<Shared>, req: &Request, sources: &[PeerId]) -> Result<File, String> {
    let mut last = "no peer to fetch from".to_string();
    for &peer in sources {
        if peer == shared.peer_id {
            continue;
        }
        match fetch_from(shared, peer, req.clone()).await {
            Ok(f) => return Ok(f),
            Err(e) => last = format!("{peer}: {e}"),
        }
    }
    Err(last)
}

async fn fetch_from(shared: &Arc<Shared>, peer: PeerId, req: Request) -> Result<File, String> {
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
