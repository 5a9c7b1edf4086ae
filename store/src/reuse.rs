//! A full clone sent as the stored packs themselves (git's "pack reuse"): when the packs of
//! a repository hold each of its objects exactly once (leaving out the copies appended to
//! complete thin packs), their received entry regions are copied byte for byte behind a new
//! header and trailer. Nothing is located, inflated or re-pointed: OFS_DELTA offsets are
//! relative and stay right inside each copied region, and a REF_DELTA against a thin base
//! finds that base's canonical copy elsewhere in the same pack.

use std::io::Write;

use guts_git::pack::{HEADER_LEN, PackWriter, TRAILER_LEN};

use crate::send::{SendProgress, SendStats};
use crate::{PackRecord, Repo, RepoOdb, StoreError};

/// The packs to copy for a full clone, when they hold every object exactly once.
#[derive(Debug, Clone)]
pub struct StoredPacks {
    packs: Vec<(u64, PackRecord)>,
}

impl StoredPacks {
    /// Objects the packs hold.
    pub fn objects(&self) -> u32 {
        self.packs.iter().map(|(_, r)| sent(r)).sum()
    }
}

impl Repo {
    /// The stored packs, if each object of the repository is in exactly one of them once.
    /// (Whether every object should be sent, the caller knows: a "closed" repository.)
    pub fn reusable_packs(&self) -> Result<Option<StoredPacks>, StoreError> {
        let packs = self.packs()?;
        let total = packs
            .iter()
            .try_fold(0u32, |n, (_, r)| n.checked_add(r.objects));
        let once = |r: &PackRecord| {
            r.canonical == sent(r) && r.entries_end <= r.len.saturating_sub(TRAILER_LEN)
        };
        if total.is_none() || !packs.iter().all(|(_, r)| once(r)) {
            return Ok(None);
        }
        Ok(Some(StoredPacks { packs }))
    }
}

impl Repo {
    /// Writes the stored pack whose trailing checksum is `checksum` to `out`, byte for byte
    /// as stored (self-contained: thin bases were appended). None if no such pack is here.
    pub fn copy_pack<W: Write>(
        &self,
        checksum: &[u8; 20],
        out: &mut W,
    ) -> Result<Option<u64>, StoreError> {
        let Some((id, record)) = self
            .packs()?
            .into_iter()
            .find(|(_, r)| &r.checksum == checksum)
        else {
            return Ok(None);
        };
        let odb = self.odb();
        odb.view(id)?
            .for_each_slice(0, record.len, |bytes| Ok(out.write_all(bytes)?))?;
        Ok(Some(record.len))
    }
}

/// The objects of a pack that a full clone copies: all but the appended thin bases.
fn sent(r: &PackRecord) -> u32 {
    r.objects.saturating_sub(r.thin_bases)
}

/// Writes every object of `packs` as one pack to `out` (the client must accept OFS_DELTA).
pub fn send_stored_packs<W: Write>(
    odb: &RepoOdb,
    packs: &StoredPacks,
    out: W,
    progress: &mut dyn SendProgress,
) -> Result<(SendStats, W), StoreError> {
    let total = packs.objects();
    let mut w = PackWriter::new(out, total)?;
    let mut done = 0u32;
    for (id, record) in &packs.packs {
        let view = odb.view(*id)?;
        view.for_each_slice(HEADER_LEN, record.entries_end, |bytes| {
            Ok(w.copy_raw(bytes)?)
        })?;
        w.count_copied(sent(record))?;
        done += sent(record);
        progress.writing(done, total);
    }
    let (_, out) = w.finish()?;
    let deltas = packs.packs.iter().map(|(_, r)| r.deltas).sum();
    Ok((
        SendStats {
            objects: total,
            deltas,
            reused: total,
        },
        out,
    ))
}
