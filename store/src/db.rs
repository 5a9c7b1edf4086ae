//! Opening the store, crash recovery, flushing, and repository metadata.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sled::Tree;
use tracing::{info, warn};

use crate::keys::{self, tree};
use crate::records::{NewRepo, RepoPatch, RepoRecord, now};
use crate::{Repo, StoreError, codec, names};

/// Events kept in the event log by default (the newest).
pub const DEFAULT_EVENT_LOG: u64 = 10_000;

/// The longest repository description, in bytes.
pub const MAX_DESCRIPTION: usize = 4096;

/// Store settings.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// sled's page cache, in bytes.
    pub cache_bytes: u64,
    /// Bytes per stored pack chunk.
    pub chunk_size: u32,
    /// Events kept in the event log (the newest).
    pub event_log: u64,
}

impl Default for StoreOptions {
    /// Measured with sled 0.34.7 (`store/examples/sled_read_rss.rs`): sled evicts a cached
    /// page by its logged size, and a leaf (up to 16 values) bigger than 128 KiB is logged as
    /// a separate blob whose logged size is a pointer's, so it is never evicted. 16 KiB chunks
    /// make such leaves: reading back 400 MB of them peaks at 409 MB of RSS. 4 KiB chunks
    /// keep leaves small: 57 MB peak to write 400 MB and 71 MB to read it all back.
    fn default() -> Self {
        StoreOptions {
            cache_bytes: 16 << 20,
            chunk_size: 4 << 10,
            event_log: DEFAULT_EVENT_LOG,
        }
    }
}

/// The trees of the database.
#[derive(Debug)]
pub(crate) struct Trees {
    pub db: sled::Db,
    pub repos: Tree,
    pub refs: Tree,
    pub objects: Tree,
    pub packs: Tree,
    pub chunks: Tree,
    pub pending: Tree,
    pub deleting: Tree,
    pub closed: Tree,
    pub updates: Tree,
    pub signed: Tree,
    pub accounts: Tree,
    pub collab: Tree,
    pub threads: Tree,
    pub log_digests: Tree,
    pub events: crate::events::EventLog,
    pub opts: StoreOptions,
    /// Where packs are spooled while they are indexed.
    pub tmp: PathBuf,
    /// Totals kept in memory for metrics (sled's `len` is a full scan).
    pub totals: Totals,
    /// Held while a pack is committed (see `Repo::commit_pack`).
    pub commit_lock: std::sync::Mutex<()>,
    /// One writer of refs at a time per repository (see `Repo::writer`).
    pub writers:
        std::sync::Mutex<std::collections::HashMap<u64, std::sync::Arc<std::sync::Mutex<()>>>>,
    /// Told the key of every account record written (see `Store::watch_accounts`).
    pub account_watcher: std::sync::OnceLock<crate::accounts::Watcher>,
    /// Per repository, bumped each time a new operation is kept (see `collab.rs`).
    pub collab_versions: std::sync::Mutex<std::collections::HashMap<String, u64>>,
}

/// Running totals over all repositories.
#[derive(Debug, Default)]
pub(crate) struct Totals {
    pub repos: AtomicU64,
    pub objects: AtomicU64,
    pub packs: AtomicU64,
    pub pack_bytes: AtomicU64,
}

/// A snapshot of the store's totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreTotals {
    /// Repositories.
    pub repos: u64,
    /// Indexed objects.
    pub objects: u64,
    /// Stored packs.
    pub packs: u64,
    /// Bytes of stored packs.
    pub pack_bytes: u64,
}

/// The node's store: every repository, in one sled database.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) t: Arc<Trees>,
}

/// True when sled could not open because another process holds its lock.
fn lock_held(io: &std::io::Error) -> bool {
    let text = io.to_string();
    io.kind() == std::io::ErrorKind::WouldBlock
        || (text.contains("could not acquire lock")
            && (text.contains("WouldBlock") || text.contains("temporarily unavailable")))
}

impl Store {
    /// Opens (or creates) the store under `dir`, then finishes or undoes whatever a crash
    /// interrupted: half-written packs are removed and interrupted deletions completed.
    pub fn open(dir: &Path, opts: StoreOptions) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join("tmp");
        // Spooled packs of a previous run are garbage.
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp)?;
        }
        std::fs::create_dir_all(&tmp)?;
        let db = sled::Config::new()
            .path(dir.join("db"))
            .cache_capacity(opts.cache_bytes)
            .open()
            .map_err(|e| match e {
                // sled takes an exclusive lock on its files; a second opener gets WouldBlock,
                // which sled wraps in a message of its own. Anything else (no descriptors
                // left, no locks left) is not "in use" and keeps its cause.
                sled::Error::Io(io) if lock_held(&io) => {
                    StoreError::InUse(dir.display().to_string())
                }
                other => StoreError::Db(other),
            })?;
        let open = |name: &str| db.open_tree(name);
        let t = Trees {
            repos: open(tree::REPOS)?,
            refs: open(tree::REFS)?,
            objects: open(tree::OBJECTS)?,
            packs: open(tree::PACKS)?,
            chunks: open(tree::CHUNKS)?,
            pending: open(tree::PENDING)?,
            deleting: open(tree::DELETING)?,
            closed: open(tree::CLOSED)?,
            updates: open(tree::UPDATES)?,
            signed: open(tree::SIGNED)?,
            accounts: open(tree::ACCOUNTS)?,
            collab: open(tree::COLLAB)?,
            threads: open(tree::THREADS)?,
            log_digests: open(tree::LOG_DIGESTS)?,
            events: crate::events::EventLog::open(open(tree::EVENTS)?, opts.event_log)?,
            db,
            opts,
            tmp,
            totals: Totals::default(),
            commit_lock: std::sync::Mutex::new(()),
            writers: std::sync::Mutex::new(std::collections::HashMap::new()),
            account_watcher: std::sync::OnceLock::new(),
            collab_versions: Default::default(),
        };
        let store = Store { t: Arc::new(t) };
        store.recover()?;
        store.count_totals()?;
        store.rebuild_log_digests()?;
        Ok(store)
    }

    /// The node's bounded event log.
    pub fn events(&self) -> &crate::events::EventLog {
        &self.t.events
    }

    fn recover(&self) -> Result<(), StoreError> {
        let mut fixed = 0usize;
        for item in self.t.pending.iter() {
            let (key, _) = item?;
            if let Some((repo, pack)) = keys::pack_ids(&key) {
                warn!(repo, pack, "removing a pack whose writing was interrupted");
                self.discard_pack(repo, pack)?;
                fixed += 1;
            }
        }
        for item in self.t.deleting.iter() {
            let (key, _) = item?;
            if let Some(repo) = keys::repo_id(&key) {
                warn!(repo, "finishing an interrupted repository deletion");
                self.purge(repo)?;
                fixed += 1;
            }
        }
        if fixed > 0 {
            self.flush()?;
            info!(fixed, "store recovered");
        }
        Ok(())
    }

    /// Makes everything written so far durable.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.t.db.flush()?;
        Ok(())
    }

    /// Removes a pack: its chunks, the object entries that point into it, its record.
    pub(crate) fn discard_pack(&self, repo: u64, pack: u64) -> Result<(), StoreError> {
        let pk = keys::pack(repo, pack);
        // The pending marker is durable before the first chunk is written.
        self.t.pending.insert(pk, &[][..])?;
        for item in self.t.objects.scan_prefix(keys::repo_prefix(repo)) {
            let (key, value) = item?;
            let loc: crate::ObjLoc = codec::decode(tree::OBJECTS, &value)?;
            if loc.pack == pack && self.t.objects.remove(key)?.is_some() {
                self.t.totals.objects.fetch_sub(1, Ordering::Relaxed);
            }
        }
        remove_prefix(&self.t.chunks, &pk)?;
        if let Some(v) = self.t.packs.remove(pk)? {
            let rec: crate::PackRecord = codec::decode(tree::PACKS, &v)?;
            self.t.totals.packs.fetch_sub(1, Ordering::Relaxed);
            self.t
                .totals
                .pack_bytes
                .fetch_sub(rec.len, Ordering::Relaxed);
        }
        self.t.pending.remove(pk)?;
        Ok(())
    }

    /// Removes every key of a repository.
    fn purge(&self, repo: u64) -> Result<(), StoreError> {
        let p = keys::repo_prefix(repo);
        let tt = &self.t.totals;
        for item in self.t.packs.scan_prefix(p) {
            let (_, v) = item?;
            let rec: crate::PackRecord = codec::decode(tree::PACKS, &v)?;
            tt.packs.fetch_sub(1, Ordering::Relaxed);
            tt.pack_bytes.fetch_sub(rec.len, Ordering::Relaxed);
        }
        let objects = remove_prefix(&self.t.objects, &p)?;
        tt.objects.fetch_sub(objects, Ordering::Relaxed);
        for t in [
            &self.t.refs,
            &self.t.packs,
            &self.t.chunks,
            &self.t.pending,
            &self.t.closed,
            &self.t.updates,
            &self.t.log_digests,
        ] {
            remove_prefix(t, &p)?;
        }
        self.t.deleting.remove(p)?;
        Ok(())
    }

    /// Creates a repository.
    pub fn create_repo(&self, new: &NewRepo) -> Result<RepoRecord, StoreError> {
        names::check_name("owner", &new.owner)?;
        names::check_name("repository", &new.name)?;
        let default_branch = if new.default_branch.is_empty() {
            "main".to_string()
        } else {
            names::check_branch(&new.default_branch)?;
            new.default_branch.clone()
        };
        check_description(&new.description)?;
        let at = now();
        let record = RepoRecord {
            id: self.t.db.generate_id()?,
            owner: new.owner.clone(),
            name: new.name.clone(),
            description: new.description.clone(),
            private: new.private,
            default_branch,
            created_at: at,
            updated_at: at,
        };
        let key = keys::repo(&new.owner, &new.name);
        let value = codec::encode(&record)?;
        // An empty repository holds no unreachable object.
        self.t
            .closed
            .insert(keys::repo_prefix(record.id), &[][..])?;
        if self
            .t
            .repos
            .compare_and_swap(key, None as Option<&[u8]>, Some(value))?
            .is_err()
        {
            return Err(StoreError::Exists);
        }
        self.flush()?;
        self.t.totals.repos.fetch_add(1, Ordering::Relaxed);
        Ok(record)
    }

    /// A repository's metadata.
    pub fn repo_record(&self, owner: &str, name: &str) -> Result<Option<RepoRecord>, StoreError> {
        names::check_name("owner", owner)?;
        names::check_name("repository", name)?;
        match self.t.repos.get(keys::repo(owner, name))? {
            Some(v) => Ok(Some(codec::decode(tree::REPOS, &v)?)),
            None => Ok(None),
        }
    }

    /// A handle on a repository, if it exists.
    pub fn repo(&self, owner: &str, name: &str) -> Result<Option<Repo>, StoreError> {
        Ok(self
            .repo_record(owner, name)?
            .map(|record| Repo::new(self.clone(), record)))
    }

    /// Repositories in (owner, name) order, starting after `after`, at most `limit`.
    pub fn list_repos(
        &self,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<RepoRecord>, StoreError> {
        let iter = match after {
            Some((o, n)) => {
                let mut start = keys::repo(o, n);
                start.push(0);
                self.t.repos.range(start..)
            }
            None => self.t.repos.iter(),
        };
        let mut out = Vec::new();
        for item in iter.take(limit) {
            let (_, v) = item?;
            out.push(codec::decode(tree::REPOS, &v)?);
        }
        Ok(out)
    }

    /// A stored repository whose owner, and name when given, equal these without regard to
    /// ASCII case (names are ASCII): what makes a new name a duplicate, as on GitHub.
    pub fn find_repo_ignoring_case(
        &self,
        owner: &str,
        name: Option<&str>,
    ) -> Result<Option<RepoRecord>, StoreError> {
        for item in self.t.repos.iter() {
            let (k, v) = item?;
            let Some(split) = k.iter().position(|&b| b == 0) else {
                continue;
            };
            let (o, n) = (&k[..split], &k[split + 1..]);
            if o.eq_ignore_ascii_case(owner.as_bytes())
                && name.is_none_or(|name| n.eq_ignore_ascii_case(name.as_bytes()))
            {
                return Ok(Some(codec::decode(tree::REPOS, &v)?));
            }
        }
        Ok(None)
    }

    /// The number of repositories.
    pub fn repo_count(&self) -> usize {
        self.t.repos.len()
    }

    /// Updates a repository's metadata.
    pub fn update_repo(
        &self,
        owner: &str,
        name: &str,
        patch: &RepoPatch,
    ) -> Result<RepoRecord, StoreError> {
        self.update_repo_with(owner, name, |_| Some(patch.clone()))?
            .ok_or(StoreError::NotFound)
    }

    /// Updates a repository's metadata with the patch `decide` makes of its current record,
    /// as one compare-and-swap (`decide` runs again if the record changed meanwhile). `None`
    /// from `decide` leaves it as it is; the answer is then `None` too.
    pub fn update_repo_with(
        &self,
        owner: &str,
        name: &str,
        decide: impl Fn(&RepoRecord) -> Option<RepoPatch>,
    ) -> Result<Option<RepoRecord>, StoreError> {
        let key = keys::repo(owner, name);
        loop {
            let Some(old) = self.repo_record(owner, name)? else {
                return Err(StoreError::NotFound);
            };
            let Some(patch) = decide(&old) else {
                return Ok(None);
            };
            if let Some(b) = &patch.default_branch {
                names::check_branch(b)?;
            }
            if let Some(d) = &patch.description {
                check_description(d)?;
            }
            let mut new = old.clone();
            if let Some(d) = &patch.description {
                new.description.clone_from(d);
            }
            if let Some(p) = patch.private {
                new.private = p;
            }
            if let Some(b) = &patch.default_branch {
                new.default_branch.clone_from(b);
            }
            new.updated_at = now();
            let swapped = self.t.repos.compare_and_swap(
                &key,
                Some(codec::encode(&old)?),
                Some(codec::encode(&new)?),
            )?;
            if swapped.is_ok() {
                self.flush()?;
                return Ok(Some(new));
            }
        }
    }

    /// Deletes a repository and everything in it. Returns false if it did not exist.
    pub fn delete_repo(&self, owner: &str, name: &str) -> Result<bool, StoreError> {
        let Some(record) = self.repo_record(owner, name)? else {
            return Ok(false);
        };
        let p = keys::repo_prefix(record.id);
        self.t.deleting.insert(p, &[][..])?;
        self.flush()?;
        self.t.repos.remove(keys::repo(owner, name))?;
        self.purge(record.id)?;
        self.flush()?;
        self.t.totals.repos.fetch_sub(1, Ordering::Relaxed);
        Ok(true)
    }

    fn count_totals(&self) -> Result<(), StoreError> {
        let (mut bytes, mut packs) = (0, 0);
        for item in self.t.packs.iter() {
            let (_, v) = item?;
            let rec: crate::PackRecord = codec::decode(tree::PACKS, &v)?;
            bytes += rec.len;
            packs += 1;
        }
        let tt = &self.t.totals;
        tt.packs.store(packs, Ordering::Relaxed);
        tt.pack_bytes.store(bytes, Ordering::Relaxed);
        tt.objects
            .store(self.t.objects.len() as u64, Ordering::Relaxed);
        tt.repos.store(self.t.repos.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Totals over all repositories, for metrics.
    pub fn totals(&self) -> StoreTotals {
        let tt = &self.t.totals;
        StoreTotals {
            repos: tt.repos.load(Ordering::Relaxed),
            objects: tt.objects.load(Ordering::Relaxed),
            packs: tt.packs.load(Ordering::Relaxed),
            pack_bytes: tt.pack_bytes.load(Ordering::Relaxed),
        }
    }

    /// Checks that the database answers (for health probes).
    pub fn ping(&self) -> Result<(), StoreError> {
        self.t.repos.first()?;
        Ok(())
    }

    /// sled's size on disk.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.t.db.size_on_disk()?)
    }
}

fn check_description(d: &str) -> Result<(), StoreError> {
    if d.len() > MAX_DESCRIPTION {
        return Err(StoreError::Invalid(format!(
            "description longer than {MAX_DESCRIPTION} bytes"
        )));
    }
    if d.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(StoreError::Invalid(
            "description has control characters".into(),
        ));
    }
    Ok(())
}

/// Removes every key under `prefix`; returns how many there were. (Key by key: sled
/// batches cost far more memory than the keys they hold.)
fn remove_prefix(t: &Tree, prefix: &[u8]) -> Result<u64, StoreError> {
    let mut total = 0;
    for key in t.scan_prefix(prefix).keys() {
        t.remove(key?)?;
        total += 1;
    }
    Ok(total)
}
