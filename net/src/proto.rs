//! The sync protocol spoken over libp2p request-response (`/guts/sync/1`): digests of signed
//! update logs, the updates themselves, and packs prepared by want/have and read back in
//! bounded chunks. Every message is one length-prefixed bincode frame whose size is checked
//! before anything is allocated.

use std::io;

use futures::prelude::*;
use libp2p::StreamProtocol;
use serde::{Deserialize, Serialize};

use crate::hlc::Stamp;
use crate::signed::SignedRef;

/// The protocol name (versioned).
pub const PROTOCOL: StreamProtocol = StreamProtocol::new("/guts/sync/1");
/// The largest request frame.
pub const MAX_REQUEST: usize = 4 << 20;
/// The largest response frame (a chunk plus framing, or a batch of updates).
pub const MAX_RESPONSE: usize = 8 << 20;
/// Bytes of pack per chunk.
pub const CHUNK: u64 = 1 << 20;
/// Wants plus haves in one fetch request.
pub const MAX_IDS: usize = 50_000;

/// The answer to [`Request::Compare`] from `mine` (the answerer's digests).
pub fn compare(mine: Vec<RepoDigest>, repo: &str, digest: Option<[u8; 32]>) -> Response {
    Response::Digest {
        repos: mine
            .into_iter()
            .filter(|d| d.repo == repo && Some(d.digest) != digest)
            .collect(),
    }
}

/// A repository's signed update log, summarised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoDigest {
    /// `owner/name`.
    pub repo: String,
    /// A hash over the log's entries (their stamps, in order).
    pub digest: [u8; 32],
    /// Entries in the log.
    pub entries: u64,
}

/// The digest entry that stands for a node's repository and account records (not a valid
/// repository name, so it cannot collide with one): when it differs, the asker pages
/// through the records.
pub const RECORDS: &str = "!records";

/// Signed updates in one page (a few hundred bytes each: well under the frame limit).
pub const UPDATES_PAGE: usize = 8192;
/// Signed updates of one repository fetched in one round at most (the rest next round).
pub const MAX_SYNC_UPDATES: usize = 1 << 20;

/// Records sent in one answer at most.
pub const MAX_RECORDS: usize = 4096;

/// What one node asks another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Here are my logs' digests: send yours for every repository where they differ.
    Digest {
        /// The asker's digests.
        repos: Vec<RepoDigest>,
    },
    /// A page of a repository's signed updates, oldest first.
    Updates {
        /// `owner/name`.
        repo: String,
        /// Only those stamped after this (none: from the start).
        after: Option<Stamp>,
    },
    /// Prepare a pack of what `wants` reach that `haves` do not.
    Fetch {
        /// `owner/name`.
        repo: String,
        /// Objects wanted.
        wants: Vec<[u8; 20]>,
        /// Objects the asker has (its ref tips).
        haves: Vec<[u8; 20]>,
    },
    /// A page of the latest signed records known here: of every repository (deleted ones
    /// too), then of every account key (deleted ones too), in the order of their cursors.
    Records {
        /// Only those after this cursor (none: from the start).
        after: Option<String>,
    },
    /// Prepare a stored pack, named by its trailing checksum (as announced).
    FetchPack {
        /// `owner/name`.
        repo: String,
        /// The pack's trailing SHA-1.
        checksum: [u8; 20],
    },
    /// Does your log of `repo` differ from mine? Answered with [`Response::Digest`]: the
    /// answerer's digest of it if it holds a log that differs, else nothing.
    Compare {
        /// `owner/name`.
        repo: String,
        /// The asker's digest of its log (none: it has no log).
        digest: Option<[u8; 32]>,
    },
    /// Bytes of a prepared pack from `offset` (at most [`CHUNK`]).
    Chunk {
        /// From [`Response::Pack`].
        session: u64,
        /// Where to read.
        offset: u64,
    },
}

/// The answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// The answerer's digests that differ from the asker's (or that the asker lacks).
    Digest {
        /// Differing digests.
        repos: Vec<RepoDigest>,
    },
    /// A page of a repository's signed updates.
    Updates {
        /// Oldest first, at most [`UPDATES_PAGE`].
        updates: Vec<SignedRef>,
        /// More follow: ask again after the last one.
        more: bool,
    },
    /// Signed records (encoded announcements), at most [`MAX_RECORDS`].
    Records {
        /// The records.
        records: Vec<Vec<u8>>,
        /// More follow: ask again after this cursor.
        next: Option<String>,
    },
    /// A pack was prepared.
    Pack {
        /// Names it for [`Request::Chunk`].
        session: u64,
        /// Its length.
        len: u64,
        /// Transfers the answerer's latest updates of the repository made from the node
        /// that accepted them (0: accepted here; none: not known).
        hops: Option<u8>,
    },
    /// Pack bytes.
    Chunk {
        /// The bytes (empty at the end).
        bytes: Vec<u8>,
    },
    /// The request could not be served.
    Error {
        /// Why, in a line.
        message: String,
    },
}

/// Reads and writes frames: a 4-byte big-endian length, then bincode.
#[derive(Debug, Clone, Copy, Default)]
pub struct SyncCodec;

async fn read_frame<T: AsyncRead + Unpin + Send, M: serde::de::DeserializeOwned>(
    io: &mut T,
    max: usize,
) -> io::Result<M> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes is over the {max} byte limit"),
        ));
    }
    let mut buf = vec![0u8; len];
    io.read_exact(&mut buf).await?;
    crate::codec::decode(&buf).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

async fn write_frame<T: AsyncWrite + Unpin + Send, M: Serialize>(
    io: &mut T,
    m: &M,
    max: usize,
) -> io::Result<()> {
    let buf = crate::codec::encode(m).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    if buf.len() > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {} bytes is over the {max} byte limit", buf.len()),
        ));
    }
    let len = u32::try_from(buf.len()).map_err(io::Error::other)?;
    io.write_all(&len.to_be_bytes()).await?;
    io.write_all(&buf).await?;
    io.close().await
}

impl libp2p::request_response::Codec for SyncCodec {
    type Protocol = StreamProtocol;
    type Request = Request;
    type Response = Response;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Request>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_frame(io, MAX_REQUEST).await
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Response>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_frame(io, MAX_RESPONSE).await
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: Request,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &req, MAX_REQUEST).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: Response,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &res, MAX_RESPONSE).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_oversized_or_garbage_ones_fail() {
        futures::executor::block_on(async {
            let req = Request::Fetch {
                repo: "a/b".into(),
                wants: vec![[1; 20]],
                haves: vec![],
            };
            let mut buf = Vec::new();
            write_frame(&mut buf, &req, MAX_REQUEST)
                .await
                .expect("write");
            let back: Request = read_frame(&mut buf.as_slice(), MAX_REQUEST)
                .await
                .expect("read");
            assert_eq!(back, req);
            let mut huge = (u32::MAX).to_be_bytes().to_vec();
            huge.extend_from_slice(&[0; 16]);
            assert!(
                read_frame::<_, Request>(&mut huge.as_slice(), MAX_REQUEST)
                    .await
                    .is_err()
            );
            let mut garbage = 3u32.to_be_bytes().to_vec();
            garbage.extend_from_slice(&[0xff, 0xff, 0xff]);
            assert!(
                read_frame::<_, Request>(&mut garbage.as_slice(), MAX_REQUEST)
                    .await
                    .is_err()
            );
        });
    }
}
