//! Log entries: a signed ref update keyed by its stamp (so the log is in stamp order), and
//! a ref's merge state rebuilt from them.

use guts_git::ObjectId;
use guts_net::{Ancestry, RefState, Seen, SignedRef, Stamp};

/// The log key of an update: wall time, counter, origin (44 bytes, ordered as stamps are).
pub fn log_key(stamp: &Stamp) -> Vec<u8> {
    let mut k = Vec::with_capacity(44);
    k.extend_from_slice(&stamp.hlc.wall_ms.to_be_bytes());
    k.extend_from_slice(&stamp.hlc.logical.to_be_bytes());
    k.extend_from_slice(&stamp.origin.0);
    k
}

/// A log value.
pub fn encode(u: &SignedRef) -> Vec<u8> {
    bincode::serde::encode_to_vec(u, bincode::config::standard()).unwrap_or_default()
}

/// Reads a log value (entries that do not decode are skipped by callers).
pub fn decode(bytes: &[u8]) -> Option<SignedRef> {
    bincode::serde::decode_from_slice(bytes, bincode::config::standard())
        .ok()
        .map(|(u, _)| u)
}

/// What the merge rule needs of an update.
pub fn seen(u: &SignedRef) -> Seen {
    Seen {
        stamp: u.stamp,
        old: ObjectId::from_bytes(u.old),
        new: ObjectId::from_bytes(u.new),
    }
}

/// The merge state of ref `name` from the logged updates.
pub fn ref_state<'a>(
    logged: impl IntoIterator<Item = &'a SignedRef>,
    name: &str,
    anc: &impl Ancestry,
) -> RefState {
    let mut state = RefState::default();
    for u in logged {
        if u.name == name {
            state.apply(seen(u), anc);
        }
    }
    state
}
