//! Performing the state machine's actions in a node (`machine/` decides, this does): host
//! calls run on blocking threads, downloads run as tasks that request chunks a few at a
//! time into a temp file, and every result goes back to the event loop as an
//! [`Input`]. Requests to peers are sent by the event loop itself.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures::StreamExt;
use libp2p::PeerId;

use crate::announce::{Announcement, Body};
use crate::error::ReplicaError;
use crate::event_loop::Command;
use crate::machine::{Action, Input, unexpected, verified};
use crate::proto::{CHUNK, Request, Response};
use crate::service::Shared;

/// Chunk requests in flight per download.
const WINDOW: usize = 4;

/// A downloaded pack, and the hop count its source served it at (see `hops.rs`).
#[derive(Debug)]
pub(crate) struct Fetched {
    /// The pack, in a temp file.
    pub file: File,
    /// The source's hop count for the repository, if it knew one.
    pub hops: Option<u8>,
}

/// Performs `action` in a task; its result comes back to the event loop as an input.
/// Requests are the event loop's own and are not passed here.
pub(crate) fn spawn(shared: Arc<Shared>, action: Action<PeerId, Fetched>) {
    let tasks = shared.tasks.clone();
    tasks.spawn(async move {
        if let Some(input) = perform(&shared, action).await {
            let _ = shared.commands.send(Command::Input(input)).await;
        }
    });
}

async fn perform(
    shared: &Arc<Shared>,
    action: Action<PeerId, Fetched>,
) -> Option<Input<PeerId, Fetched>> {
    let host = shared.host.clone();
    Some(match action {
        // The event loop's own.
        Action::Request { .. } | Action::Forward { .. } | Action::Pulled { .. } => return None,
        Action::Digests { peer } => {
            let digests = blocking(move || Ok(host.digests()))
                .await
                .unwrap_or_default();
            Input::Digests { peer, digests }
        }
        Action::Plan { job, repo, updates } => {
            let result = blocking(move || {
                let (good, refused) = verified(updates);
                host.plan(&repo, &good).map(|plan| (plan, refused))
            })
            .await;
            Input::Planned { job, result }
        }
        Action::Download {
            job,
            request,
            sources,
        } => {
            let started = std::time::Instant::now();
            let result = download(shared, &request, &sources).await;
            tracing::debug!(job, took = ?started.elapsed(), ok = result.is_ok(), "pack downloaded");
            Input::Downloaded { job, result }
        }
        Action::Apply {
            job,
            repo,
            pack,
            updates,
        } => {
            let started = std::time::Instant::now();
            let hops = pack.as_ref().and_then(|p| p.hops);
            let name = repo.clone();
            let result = blocking(move || host.apply(&repo, pack.map(|p| p.file), updates)).await;
            tracing::debug!(job, took = ?started.elapsed(), ok = result.is_ok(), "applied");
            if let (Ok(1..), Some(served)) = (&result, hops) {
                shared.hops.applied(&name, served, &shared.stats);
            }
            Input::Applied { job, result }
        }
        Action::ApplyRecords { round, records } => {
            let s = shared.clone();
            let result = blocking(move || apply_records(&s, records)).await;
            Input::RecordsApplied { round, result }
        }
    })
}

/// Validates each record and applies those newer than the one kept: how many were applied
/// and how many refused.
fn apply_records(shared: &Shared, records: Vec<Vec<u8>>) -> Result<(usize, usize), ReplicaError> {
    let (mut applied, mut refused) = (0, 0);
    let mut failed: Option<(String, ReplicaError)> = None;
    for record in records {
        let checked = Announcement::decode(&record).and_then(|a| {
            a.validate(|n| shared.is_trusted(n), shared.config.wall.now_ms())
                .map(|()| a)
        });
        let (repo, stamp, state) = match checked.map(|a| a.body) {
            Ok(Body::Repo { repo, stamp, state }) => (repo, stamp, state),
            Ok(Body::Account { stamp, key, entry }) => {
                match shared
                    .host
                    .apply_account(&key, stamp, entry.as_ref(), record)
                {
                    Ok(true) => {
                        applied += 1;
                        tracing::debug!(%key, "account record applied");
                    }
                    Ok(false) => {}
                    Err(e) => failed = Some((key, e)),
                }
                continue;
            }
            Ok(Body::Collab { op }) => {
                match shared.host.apply_op(&op, record) {
                    Ok(true) => applied += 1,
                    Ok(false) => {}
                    Err(e) => failed = Some((op.repo.clone(), e)),
                }
                continue;
            }
            Ok(Body::Push { .. }) => {
                refused += 1;
                continue;
            }
            Err(e) => {
                tracing::debug!(error = %e, "repository record refused");
                refused += 1;
                continue;
            }
        };
        match shared.host.apply_record(&repo, stamp, &state, record) {
            Ok(true) => {
                applied += 1;
                tracing::info!(%repo, "repository record applied");
            }
            Ok(false) => {}
            Err(e) => failed = Some((repo, e)),
        }
    }
    match failed {
        Some((what, e)) => {
            tracing::warn!(%what, applied, refused, error = %e, "a record was not applied");
            Err(e)
        }
        None => Ok((applied, refused)),
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ReplicaError> + Send + 'static,
) -> Result<T, ReplicaError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ReplicaError::Task(e.to_string()))?
}

/// Downloads the pack `req` prepares from the first source that serves it.
async fn download(
    shared: &Arc<Shared>,
    req: &Request,
    sources: &[PeerId],
) -> Result<Fetched, ReplicaError> {
    let mut last = ReplicaError::peer("no peer to fetch from");
    for &peer in sources {
        if peer == shared.peer_id {
            continue;
        }
        match fetch_from(shared, peer, req.clone()).await {
            Ok(f) => return Ok(f),
            Err(e) => {
                tracing::debug!(%peer, error = %e, "pack not fetched from this peer");
                last = e;
            }
        }
    }
    Err(last)
}
async fn fetch_from(
    shared: &Arc<Shared>,
    peer: PeerId,
    req: Request,
) -> Result<Fetched, ReplicaError> {
    let (session, len, hops) = match shared.request(peer, req).await? {
        Response::Pack { session, len, hops } => (session, len, hops),
        other => return Err(ReplicaError::peer(unexpected(&other))),
    };
    if len > shared.config.max_pack {
        return Err(ReplicaError::refused(format!(
            "pack of {len} bytes is over the limit"
        )));
    }
    let host = shared.host.clone();
    let file = Arc::new(blocking(move || Ok(host.spool()?)).await?);
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
            other => return Err(ReplicaError::peer(unexpected(&other))),
        };
        let expected = (len - offset).min(CHUNK);
        if bytes.len() as u64 != expected {
            return Err(ReplicaError::peer(format!(
                "chunk at {offset}: {} bytes, expected {expected}",
                bytes.len()
            )));
        }
        let f = file.clone();
        blocking(move || Ok(f.write_all_at(&bytes, offset)?)).await?;
    }
    shared.stats.packs_fetched.fetch_add(1, Ordering::Relaxed);
    shared.stats.pack_bytes.fetch_add(len, Ordering::Relaxed);
    let file =
        Arc::try_unwrap(file).map_err(|_| ReplicaError::Task("pack file still shared".into()))?;
    Ok(Fetched { file, hops })
}
