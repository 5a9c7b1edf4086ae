//! Refs: listing, and updates by compare-and-swap, one at a time or all-or-nothing.

use guts_git::ObjectId;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use crate::keys::{self, tree};
use crate::records::RefValue;
use crate::{Repo, StoreError, codec};

/// One requested ref change. A zero `old` means "must not exist"; a zero `new` deletes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefUpdate {
    /// The full ref name.
    pub name: String,
    /// The value the client saw.
    pub old: ObjectId,
    /// The value to set.
    pub new: ObjectId,
}

/// Why one ref update was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefError {
    /// The ref moved since the client looked (or exists when it should not).
    #[error("stale info")]
    Stale,
    /// Another update in an atomic batch failed.
    #[error("atomic transaction failed")]
    AtomicFailed,
}

impl Repo {
    /// Every ref, sorted by name.
    pub fn list_refs(&self) -> Result<Vec<(String, ObjectId)>, StoreError> {
        self.list_refs_under("")
    }

    /// The refs whose names start with `prefix`, sorted by name.
    pub fn list_refs_under(&self, prefix: &str) -> Result<Vec<(String, ObjectId)>, StoreError> {
        let mut out = Vec::new();
        for item in self
            .store
            .t
            .refs
            .scan_prefix(keys::ref_key(self.id(), prefix))
        {
            let (k, v) = item?;
            let name = keys::ref_name(&k).ok_or_else(|| StoreError::Corrupt {
                tree: tree::REFS,
                reason: "ref name is not UTF-8".into(),
            })?;
            let value: RefValue = codec::decode(tree::REFS, &v)?;
            out.push((name.to_string(), value.oid()));
        }
        Ok(out)
    }

    /// One ref's value.
    pub fn get_ref(&self, name: &str) -> Result<Option<ObjectId>, StoreError> {
        match self.store.t.refs.get(keys::ref_key(self.id(), name))? {
            Some(v) => Ok(Some(codec::decode::<RefValue>(tree::REFS, &v)?.oid())),
            None => Ok(None),
        }
    }

    /// Applies one update by compare-and-swap on the value the client saw.
    pub fn update_ref(&self, u: &RefUpdate) -> Result<Result<(), RefError>, StoreError> {
        let key = keys::ref_key(self.id(), &u.name);
        let current = self.store.t.refs.get(&key)?;
        if !matches_old(current.as_deref(), &u.old)? {
            return Ok(Err(RefError::Stale));
        }
        let new = encode_new(&u.new)?;
        let swapped = self.store.t.refs.compare_and_swap(&key, current, new)?;
        Ok(swapped.map_err(|_| RefError::Stale))
    }

    /// Applies all updates or none. On failure, returns the index of the first that failed.
    pub fn update_refs_atomic(
        &self,
        updates: &[RefUpdate],
    ) -> Result<Result<(), (usize, RefError)>, StoreError> {
        let keys: Vec<Vec<u8>> = updates
            .iter()
            .map(|u| keys::ref_key(self.id(), &u.name))
            .collect();
        let news = updates
            .iter()
            .map(|u| encode_new(&u.new))
            .collect::<Result<Vec<_>, _>>()?;
        let result = self.store.t.refs.transaction(|tx| {
            for (i, (u, key)) in updates.iter().zip(&keys).enumerate() {
                let current = tx.get(key)?;
                match matches_old(current.as_deref(), &u.old) {
                    Ok(true) => {}
                    Ok(false) => {
                        return Err(ConflictableTransactionError::Abort(Ok((
                            i,
                            RefError::Stale,
                        ))));
                    }
                    Err(e) => return Err(ConflictableTransactionError::Abort(Err(e.to_string()))),
                }
            }
            for (key, new) in keys.iter().zip(&news) {
                match new {
                    Some(v) => tx.insert(key.as_slice(), v.as_slice())?,
                    None => tx.remove(key.as_slice())?,
                };
            }
            Ok(())
        });
        match result {
            Ok(()) => Ok(Ok(())),
            Err(TransactionError::Abort(Ok(failed))) => Ok(Err(failed)),
            Err(TransactionError::Abort(Err(reason))) => Err(StoreError::Corrupt {
                tree: tree::REFS,
                reason,
            }),
            Err(TransactionError::Storage(e)) => Err(e.into()),
        }
    }
}

fn matches_old(current: Option<&[u8]>, old: &ObjectId) -> Result<bool, StoreError> {
    Ok(match current {
        None => old.is_zero(),
        Some(v) => codec::decode::<RefValue>(tree::REFS, v)?.oid() == *old,
    })
}

fn encode_new(new: &ObjectId) -> Result<Option<Vec<u8>>, StoreError> {
    if new.is_zero() {
        return Ok(None);
    }
    codec::encode(&RefValue {
        id: *new.as_bytes(),
    })
    .map(Some)
}
