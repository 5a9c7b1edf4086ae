//! Log entries: a signed ref update keyed by its stamp (so the log is in stamp order), and
//! a ref's merge state rebuilt from them.

use guts_net::updates::seen;
use guts_net::{Ancestry, RefState, SignedRef, Stamp};
use guts_store::{StoreError, codec, keys};

/// The log key of an update: wall time, counter, origin (44 bytes, ordered as stamps are).
pub fn log_key(stamp: &Stamp) -> Vec<u8> {
    let mut k = Vec::with_capacity(44);
    k.extend_from_slice(&stamp.hlc.wall_ms.to_be_bytes());
    k.extend_from_slice(&stamp.hlc.logical.to_be_bytes());
    k.extend_from_slice(&stamp.origin.0);
    k
}

/// A log value.
pub fn encode(u: &SignedRef) -> Result<Vec<u8>, StoreError> {
    codec::encode_unversioned(u)
}

/// Reads a log value: one that does not decode is corrupt (the merge state rests on every
/// entry).
pub fn decode(bytes: &[u8]) -> Result<SignedRef, StoreError> {
    codec::decode_unversioned(keys::tree::UPDATES, bytes)
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
