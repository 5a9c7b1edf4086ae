//! After a local push: the conflict refs of the pushed refs that the push covered (merged,
//! or replaced after seeing them) are dropped, as every peer will drop them when it applies
//! the same updates.

use std::collections::HashSet;

use guts_git::ObjectId;
use guts_net::{SignedRef, conflict_ref};
use guts_store::{RefUpdate, Repo};

use super::apply::Odb;
use super::log::{self, ref_state};

/// After a local push (its updates already logged): drops the conflict refs of the pushed
/// refs that the push covered (merged, or replaced after seeing them), as every peer will
/// when it applies the same updates. A local update is the newest, so it adds no conflict.
/// Returns the conflicts settled: each ref and tip.
pub(super) fn settle_local(
    repo: &Repo,
    pushed: &[SignedRef],
) -> Result<Vec<(String, ObjectId)>, guts_store::StoreError> {
    let mut settled = Vec::new();
    let conflicts = repo.list_refs_under("refs/guts/conflicts/")?;
    if conflicts.is_empty() {
        return Ok(settled);
    }
    let names: HashSet<&str> = pushed.iter().map(|u| u.name.as_str()).collect();
    let logged: Vec<SignedRef> = repo
        .log_entries()?
        .iter()
        .map(|(_, v)| log::decode(v))
        .collect::<Result<_, _>>()?;
    let odb = repo.odb();
    let anc = Odb(&odb);
    for name in names {
        let prefix = conflict_ref(name, &ObjectId::ZERO);
        let prefix = prefix.trim_end_matches(&ObjectId::ZERO.to_hex());
        let mine: Vec<&(String, ObjectId)> = conflicts
            .iter()
            .filter(|(n, _)| {
                n.strip_prefix(prefix)
                    .is_some_and(|rest| !rest.contains('/'))
            })
            .collect();
        if mine.is_empty() {
            continue;
        }
        let keep = ref_state(logged.iter(), name, &anc).conflicts(&anc);
        for (n, tip) in mine {
            if !keep.contains(tip) {
                let u = RefUpdate {
                    name: n.clone(),
                    old: *tip,
                    new: ObjectId::ZERO,
                };
                // Moved meanwhile: left for the next update to settle.
                if repo.update_ref(&u)?.is_ok() {
                    settled.push((name.to_string(), *tip));
                }
            }
        }
    }
    Ok(settled)
}
