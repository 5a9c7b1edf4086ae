//! Answering peers: digests, updates, and packs prepared by want/have then read back in
//! chunks. Prepared packs live in temp files (bounded in number and age), never in memory.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use libp2p::PeerId;
use libp2p::request_response::ResponseChannel;

use crate::error::ReplicaError;
use crate::event_loop::Command;
use crate::machine::{differing, page};
use crate::proto::{CHUNK, MAX_IDS, MAX_RECORDS, MAX_RESPONSE, Request, Response, UPDATES_PAGE};
use crate::service::{Shared, lock};

/// Packs prepared at once for all peers.
pub const MAX_SESSIONS: usize = 16;
/// How long a prepared pack waits to be read.
pub const SESSION_TTL: Duration = Duration::from_secs(120);

struct Session {
    file: Arc<File>,
    len: u64,
    peer: PeerId,
    touched: Instant,
    /// Bytes handed out so far: chunks are asked for a few at a time and may be served in
    /// any order, so the session ends when all were served, not at the last offset.
    served: u64,
}

/// Prepared packs by session id.
#[derive(Default)]
pub(crate) struct Sessions {
    next: u64,
    open: HashMap<u64, Session>,
}

impl Sessions {
    fn expire(&mut self) {
        let now = Instant::now();
        self.open
            .retain(|_, s| now.duration_since(s.touched) < SESSION_TTL);
    }
}

/// Answers `request` from `peer` in a task; the answer goes back through the event loop.
pub(crate) fn spawn_serve(
    shared: Arc<Shared>,
    peer: PeerId,
    request: Request,
    channel: ResponseChannel<Response>,
) {
    let tasks = shared.tasks.clone();
    tasks.spawn(async move {
        let s = shared.clone();
        let res = tokio::task::spawn_blocking(move || answer(&s, peer, request))
            .await
            .unwrap_or_else(|e| Response::Error {
                message: format!("internal error: {e}"),
            });
        if matches!(res, Response::Error { .. }) {
            shared
                .stats
                .requests_refused
                .fetch_add(1, Ordering::Relaxed);
        }
        let _ = shared
            .commands
            .send(Command::Respond { channel, res })
            .await;
    });
}

fn error(message: impl Into<String>) -> Response {
    Response::Error {
        message: message.into(),
    }
}

/// Prepares a pack with `make` as a session the peer then reads in chunks.
fn prepare(
    shared: &Shared,
    peer: PeerId,
    repo: &str,
    make: impl FnOnce() -> Result<(File, u64), ReplicaError>,
) -> Response {
    {
        let mut sessions = lock(&shared.sessions);
        sessions.expire();
        if sessions.open.len() >= MAX_SESSIONS {
            return error("busy: too many packs being transferred");
        }
    }
    match make() {
        Ok((file, len)) => {
            let mut sessions = lock(&shared.sessions);
            sessions.next += 1;
            let session = sessions.next;
            sessions.open.insert(
                session,
                Session {
                    file: Arc::new(file),
                    len,
                    peer,
                    touched: Instant::now(),
                    served: 0,
                },
            );
            Response::Pack {
                session,
                len,
                hops: shared.hops.of(repo),
            }
        }
        Err(e) => error(e.to_string()),
    }
}

fn answer(shared: &Shared, peer: PeerId, request: Request) -> Response {
    match request {
        Request::Digest { repos } => Response::Digest {
            repos: differing(shared.host.digests(), repos),
        },
        Request::Compare { repo, digest } => {
            crate::proto::compare(shared.host.digests(), &repo, digest)
        }
        Request::Updates { repo, after } => {
            page(shared.host.updates(&repo, after, UPDATES_PAGE + 1))
        }
        Request::Fetch { repo, wants, haves } => {
            if wants.len() + haves.len() > MAX_IDS {
                return error("too many ids");
            }
            prepare(shared, peer, &repo, || {
                shared.host.build_pack(&repo, &wants, &haves)
            })
        }
        Request::Records { after } => {
            let page = shared.host.records(after.as_deref(), MAX_RECORDS);
            let read = page.len();
            // Stay under the frame limit (a record is a few hundred bytes).
            let mut size = 0usize;
            let mut records = Vec::with_capacity(page.len());
            let mut next = None;
            for (cursor, record) in page {
                size += record.len() + cursor.len() + 16;
                if size > MAX_RESPONSE / 2 {
                    break;
                }
                records.push(record);
                next = Some(cursor);
            }
            // A full page, or one cut short by size: more may follow.
            let more = read >= MAX_RECORDS || records.len() < read;
            if !more || records.is_empty() {
                next = None;
            }
            Response::Records { records, next }
        }
        Request::FetchPack { repo, checksum } => prepare(shared, peer, &repo, || {
            shared.host.stored_pack(&repo, &checksum)
        }),
        Request::Chunk { session, offset } => {
            let (file, len) = {
                let mut sessions = lock(&shared.sessions);
                match sessions.open.get_mut(&session) {
                    Some(s) if s.peer == peer => {
                        s.touched = Instant::now();
                        (s.file.clone(), s.len)
                    }
                    _ => return error("no such pack session"),
                }
            };
            if offset > len {
                return error("offset beyond the pack");
            }
            let n = (len - offset).min(CHUNK) as usize;
            let mut bytes = vec![0u8; n];
            if let Err(e) = file.read_exact_at(&mut bytes, offset) {
                return error(format!("reading the pack: {e}"));
            }
            let mut sessions = lock(&shared.sessions);
            if let Some(s) = sessions.open.get_mut(&session) {
                s.served += n as u64;
                if s.served >= len {
                    sessions.open.remove(&session);
                }
            }
            Response::Chunk { bytes }
        }
    }
}
