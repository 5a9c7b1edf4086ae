//! Reading a repository's objects: [`RepoOdb`] implements guts-git's `ObjectRead` over the
//! chunked packs, following delta chains with a bounded cache of recently built objects so
//! that walks over trees do not rebuild long chains again and again.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use flate2::Decompress;
use guts_git::odb::{ObjectRead, OdbError};
use guts_git::pack::{EntryKind, PackError, PackRead, apply_delta, read_entry_at};
use guts_git::{Kind, ObjectId};

use crate::chunks::{ChunkCache, PackView};
use crate::keys::{self, tree};
use crate::{ObjLoc, PackRecord, Store, StoreError, codec};

/// The longest delta chain followed, and the deepest nesting of REF_DELTA bases.
use guts_git::pack::MAX_DELTA_CHAIN as MAX_CHAIN;
const MAX_REF_NESTING: usize = 64;

/// An object built once and shared: its kind and bytes.
pub type SharedObject = (Kind, Arc<Vec<u8>>);

/// Where a REF_DELTA's base comes from.
pub(crate) enum RefBase {
    /// An entry of the same pack.
    InPack(u64),
    /// An object read elsewhere.
    Object(Kind, Arc<Vec<u8>>),
}

/// A bounded cache of built objects, keyed by (pack, offset).
#[derive(Debug)]
pub(crate) struct BaseCache {
    map: HashMap<(u64, u64), SharedObject>,
    order: VecDeque<(u64, u64)>,
    bytes: usize,
    cap: usize,
}

impl BaseCache {
    pub fn new(cap: usize) -> Self {
        BaseCache {
            map: HashMap::new(),
            order: VecDeque::new(),
            bytes: 0,
            cap,
        }
    }

    fn get(&self, key: (u64, u64)) -> Option<SharedObject> {
        self.map.get(&key).cloned()
    }

    fn put(&mut self, key: (u64, u64), kind: Kind, data: Arc<Vec<u8>>) {
        if data.len() > self.cap / 8 || self.map.contains_key(&key) {
            return;
        }
        self.bytes += data.len();
        self.map.insert(key, (kind, data));
        self.order.push_back(key);
        while self.bytes > self.cap {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some((_, d)) = self.map.remove(&old) {
                self.bytes -= d.len();
            }
        }
    }
}

/// Builds the object at `offset` of a pack, following its chain.
pub(crate) fn read_chain(
    src: &(dyn PackRead + '_),
    pack: u64,
    offset: u64,
    max_size: u64,
    cache: &Mutex<BaseCache>,
    ref_base: &dyn Fn(&ObjectId) -> Result<RefBase, StoreError>,
) -> Result<SharedObject, StoreError> {
    let lock = || crate::sync::lock(cache);
    let mut z = Decompress::new(true);
    let mut chain: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut at = offset;
    let (kind, mut data) = loop {
        if let Some(hit) = lock().get((pack, at)) {
            break hit;
        }
        let (header, bytes) = read_entry_at(src, at, max_size, &mut z)?;
        let next = match header.kind {
            EntryKind::Whole(kind) => break (kind, Arc::new(bytes)),
            EntryKind::OfsDelta { base_offset } => base_offset,
            EntryKind::RefDelta { base } => match ref_base(&base)? {
                RefBase::InPack(o) => o,
                RefBase::Object(kind, data) => {
                    chain.push((at, bytes));
                    break (kind, data);
                }
            },
        };
        chain.push((at, bytes));
        if chain.len() > MAX_CHAIN {
            return Err(PackError::DeltaCycle { offset }.into());
        }
        at = next;
    };
    if chain.is_empty() {
        lock().put((pack, offset), kind, data.clone());
    }
    for (at, delta) in chain.iter().rev() {
        let built = apply_delta(&data, delta, max_size).map_err(|source| PackError::BadDelta {
            offset: *at,
            source,
        })?;
        data = Arc::new(built);
        lock().put((pack, *at), kind, data.clone());
    }
    Ok((kind, data))
}

/// A repository's objects.
#[derive(Debug)]
pub struct RepoOdb {
    store: Store,
    repo: u64,
    chunks: Mutex<ChunkCache>,
    packs: Mutex<HashMap<u64, PackRecord>>,
    bases: Mutex<BaseCache>,
    max_object: u64,
}

impl RepoOdb {
    pub(crate) fn new(store: Store, repo: u64) -> Self {
        RepoOdb {
            store,
            repo,
            chunks: Mutex::default(),
            packs: Mutex::default(),
            bases: Mutex::new(BaseCache::new(32 << 20)),
            max_object: 1 << 31,
        }
    }

    /// Where the canonical copy of `id` is stored.
    pub fn locate(&self, id: &ObjectId) -> Result<Option<ObjLoc>, StoreError> {
        match self.store.t.objects.get(keys::object(self.repo, id))? {
            Some(v) => Ok(Some(codec::decode(tree::OBJECTS, &v)?)),
            None => Ok(None),
        }
    }

    fn pack_record(&self, pack: u64) -> Result<PackRecord, StoreError> {
        let mut packs = crate::sync::lock(&self.packs);
        if let Some(r) = packs.get(&pack) {
            return Ok(r.clone());
        }
        let v = self
            .store
            .t
            .packs
            .get(keys::pack(self.repo, pack))?
            .ok_or_else(|| StoreError::Corrupt {
                tree: tree::PACKS,
                reason: format!("pack {pack} of repository {} is missing", self.repo),
            })?;
        let r: PackRecord = codec::decode(tree::PACKS, &v)?;
        packs.insert(pack, r.clone());
        Ok(r)
    }

    /// A reader over one stored pack.
    pub(crate) fn view(&self, pack: u64) -> Result<PackView<'_>, StoreError> {
        let r = self.pack_record(pack)?;
        Ok(PackView {
            t: &self.store.t,
            repo: self.repo,
            pack,
            chunk_size: r.chunk_size,
            len: r.len,
            cache: &self.chunks,
        })
    }

    /// Reads the object stored at `loc`.
    pub fn read_loc(&self, loc: &ObjLoc) -> Result<SharedObject, StoreError> {
        self.read_nested(loc, 0)
    }

    fn read_nested(&self, loc: &ObjLoc, nesting: usize) -> Result<SharedObject, StoreError> {
        let view = self.view(loc.pack)?;
        read_chain(
            &view,
            loc.pack,
            loc.offset,
            self.max_object,
            &self.bases,
            &|base| {
                if nesting >= MAX_REF_NESTING {
                    return Err(PackError::DeltaCycle { offset: loc.offset }.into());
                }
                let Some(bl) = self.locate(base)? else {
                    return Err(OdbError::Missing { id: *base }.into());
                };
                if bl.pack == loc.pack {
                    return Ok(RefBase::InPack(bl.offset));
                }
                let (k, d) = self.read_nested(&bl, nesting + 1)?;
                Ok(RefBase::Object(k, d))
            },
        )
    }

    /// Reads an object, shared.
    pub fn read_shared(&self, id: &ObjectId) -> Result<Option<SharedObject>, StoreError> {
        match self.locate(id)? {
            Some(loc) => self.read_loc(&loc).map(Some),
            None => Ok(None),
        }
    }

    /// The raw bytes of a stored entry (header and compressed data).
    pub fn read_raw(&self, loc: &ObjLoc, buf: &mut Vec<u8>) -> Result<(), StoreError> {
        let len = usize::try_from(loc.end - loc.offset)
            .map_err(|_| StoreError::Internal("entry too large to read".into()))?;
        buf.clear();
        buf.resize(len, 0);
        self.view(loc.pack)?.read_exact_at(loc.offset, buf)?;
        Ok(())
    }

    /// The number of objects in the repository.
    pub fn count(&self) -> Result<usize, StoreError> {
        let mut n = 0;
        for k in self
            .store
            .t
            .objects
            .scan_prefix(keys::repo_prefix(self.repo))
            .keys()
        {
            k?;
            n += 1;
        }
        Ok(n)
    }

    /// Every object of the repository with its location, in id order.
    pub fn all_objects(&self) -> impl Iterator<Item = Result<(ObjectId, ObjLoc), StoreError>> + '_ {
        self.store
            .t
            .objects
            .scan_prefix(keys::repo_prefix(self.repo))
            .map(|item| {
                let (k, v) = item?;
                let id = keys::object_id(&k).ok_or_else(|| StoreError::Corrupt {
                    tree: tree::OBJECTS,
                    reason: "short key".into(),
                })?;
                Ok((id, codec::decode(tree::OBJECTS, &v)?))
            })
    }
}

impl ObjectRead for RepoOdb {
    fn read_object(&self, id: &ObjectId) -> Result<Option<(Kind, Vec<u8>)>, OdbError> {
        Ok(self
            .read_shared(id)?
            .map(|(k, d)| (k, Arc::unwrap_or_clone(d))))
    }

    fn object_header(&self, id: &ObjectId) -> Result<Option<(Kind, u64)>, OdbError> {
        match self.locate(id)? {
            Some(loc) => Ok(Some((loc.kind()?, loc.size))),
            None => Ok(None),
        }
    }

    fn contains(&self, id: &ObjectId) -> Result<bool, OdbError> {
        Ok(self
            .store
            .t
            .objects
            .contains_key(keys::object(self.repo, id))
            .map_err(StoreError::from)?)
    }
}
