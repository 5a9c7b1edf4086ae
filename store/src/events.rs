//! The node's bounded event log (DESIGN section 6): each event (opaque bytes here, JSON in
//! the node) under a per-node sequence number, the newest `cap` kept, so WebSocket clients
//! can resume with `since`.
//!
//! Sequence numbers only grow and are never handed out twice, even across a crash: they are
//! reserved in blocks, and a block's upper end is written and flushed before any number in
//! it is used; a reopened log starts after the last reserved block (so a crash leaves a gap,
//! never a reuse). Trimming the oldest entry and recording how far the log was trimmed is
//! one atomic batch, so "is `since` older than what the log holds" is always answerable.

use std::sync::{Arc, Mutex};

use sled::Tree;

use crate::StoreError;

/// Sequence numbers reserved (and flushed) at a time.
const BLOCK: u64 = 1024;
/// Meta keys sort after every 8-byte sequence key.
const RESERVED: &[u8] = b"\xff\xff\xff\xff\xff\xff\xff\xff/reserved";
const TRIMMED: &[u8] = b"\xff\xff\xff\xff\xff\xff\xff\xff/trimmed";

#[derive(Debug)]
struct State {
    /// The next sequence number to hand out.
    next: u64,
    /// Numbers below this are reserved on disk.
    reserved: u64,
    /// Entries held.
    count: u64,
    /// The highest number trimmed away (0: none).
    trimmed: u64,
}

/// The event log (cheap to clone).
#[derive(Debug, Clone)]
pub struct EventLog {
    tree: Tree,
    cap: u64,
    state: Arc<Mutex<State>>,
}

fn read_u64(tree: &Tree, key: &[u8]) -> Result<u64, StoreError> {
    Ok(match tree.get(key)? {
        Some(v) => u64::from_be_bytes(v.as_ref().try_into().map_err(|_| StoreError::Corrupt {
            tree: crate::keys::tree::EVENTS,
            reason: "a meta value that is not 8 bytes".into(),
        })?),
        None => 0,
    })
}

impl EventLog {
    /// Opens the log kept in `tree`, holding at most `cap` events.
    pub(crate) fn open(tree: Tree, cap: u64) -> Result<EventLog, StoreError> {
        let reserved = read_u64(&tree, RESERVED)?;
        let trimmed = read_u64(&tree, TRIMMED)?;
        let mut count = 0;
        for item in tree.range(..RESERVED.to_vec()) {
            let (k, _) = item?;
            if k.len() == 8 {
                count += 1;
            }
        }
        Ok(EventLog {
            tree,
            cap: cap.max(1),
            state: Arc::new(Mutex::new(State {
                // Numbers start at 1; after a restart, past every reserved number.
                next: reserved.max(1),
                reserved,
                count,
                trimmed,
            })),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        crate::sync::lock(&self.state)
    }

    /// Appends the event `make` builds for its sequence number, then `then(seq, &event)`
    /// under the same lock (so whatever it does happens in sequence order). Returns the
    /// sequence number. Not flushed: durable with the store's next flush.
    pub fn append<T>(
        &self,
        make: impl FnOnce(u64) -> Vec<u8>,
        then: impl FnOnce(u64, &[u8]) -> T,
    ) -> Result<(u64, T), StoreError> {
        let mut s = self.state();
        let seq = s.next;
        if seq >= s.reserved {
            let reserved = seq + BLOCK;
            self.tree.insert(RESERVED, &reserved.to_be_bytes())?;
            self.tree.flush()?;
            s.reserved = reserved;
        }
        let event = make(seq);
        self.tree.insert(seq.to_be_bytes(), event.as_slice())?;
        s.next = seq + 1;
        s.count += 1;
        while s.count > self.cap {
            let Some(item) = self.tree.first()? else {
                break;
            };
            let (oldest, _) = item;
            if oldest.len() != 8 {
                break;
            }
            let mut batch = sled::Batch::default();
            batch.remove(oldest.as_ref());
            batch.insert(TRIMMED, oldest.as_ref());
            self.tree.apply_batch(batch)?;
            s.trimmed = u64::from_be_bytes(oldest.as_ref().try_into().unwrap_or_default());
            s.count -= 1;
        }
        let out = then(seq, &event);
        Ok((seq, out))
    }

    /// Events numbered after `since`, oldest first, at most `limit`.
    pub fn after(&self, since: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let from = since.saturating_add(1).to_be_bytes();
        let mut out = Vec::new();
        for item in self
            .tree
            .range(from.to_vec()..RESERVED.to_vec())
            .take(limit)
        {
            let (k, v) = item?;
            if let Ok(seq) = <[u8; 8]>::try_from(k.as_ref()) {
                out.push((u64::from_be_bytes(seq), v.to_vec()));
            }
        }
        Ok(out)
    }

    /// The highest sequence number trimmed away: a client resuming from below it missed
    /// events the log no longer holds (0: nothing was trimmed).
    pub fn trimmed(&self) -> u64 {
        self.state().trimmed
    }

    /// The last sequence number handed out (0: none yet).
    pub fn last(&self) -> u64 {
        self.state().next.saturating_sub(1)
    }

    /// Events held.
    pub fn len(&self) -> u64 {
        self.state().count
    }

    /// True when no event is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(dir: &std::path::Path, cap: u64) -> (sled::Db, EventLog) {
        let db = sled::open(dir).expect("open");
        let tree = db.open_tree("events").expect("tree");
        (db, EventLog::open(tree, cap).expect("log"))
    }

    #[test]
    fn numbers_grow_trim_keeps_the_newest_and_a_reopen_never_reuses_one() {
        let dir = tempfile::tempdir().expect("tmp");
        let (db, l) = log(dir.path(), 3);
        let mut seen = Vec::new();
        for i in 0..5u8 {
            let (seq, order) = l.append(|s| vec![i, s as u8], |s, _| s).expect("append");
            assert_eq!(seq, order);
            seen.push(seq);
        }
        assert_eq!(seen, vec![1, 2, 3, 4, 5]);
        assert_eq!(l.len(), 3);
        assert_eq!(l.trimmed(), 2);
        let after: Vec<u64> = l.after(0, 10).expect("after").iter().map(|e| e.0).collect();
        assert_eq!(after, vec![3, 4, 5]);
        assert_eq!(l.after(4, 10).expect("after"), vec![(5, vec![4, 5])]);
        assert!(l.after(5, 10).expect("after").is_empty());
        drop(l);
        db.flush().expect("flush");
        drop(db);
        // As after a crash: whatever was handed out, the next number is past it.
        let (_db, l) = log(dir.path(), 3);
        assert_eq!(l.len(), 3);
        assert_eq!(l.trimmed(), 2);
        let (seq, ()) = l.append(|_| vec![9], |_, _| ()).expect("append");
        assert!(seq > 5, "{seq} reused a number");
        assert_eq!(l.last(), seq);
    }
}
