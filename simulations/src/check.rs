//! The verdict on a finished run: every node serves the same refs of what it seeds (and
//! stores nothing of what it does not), holds every commit they reach, has logged every
//! accepted update, and its refs are what the merge rule gives for
//! the set of all accepted updates (computed here from scratch, in one go); the refs it
//! moved update by update (values and conflict refs) are the ones its merge state gives.

use std::collections::BTreeMap;

use guts_git::ObjectId;

use crate::model::Model;
use crate::sim::{Report, Sim};

/// How a run failed to converge.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Divergence {
    /// The logs still differed when the time ran out.
    #[error("the nodes' logs still differ after the settle limit")]
    NotSettled,
    /// Something that must never happen did.
    #[error("{0}")]
    Violation(String),
    /// A node's log lacks accepted updates.
    #[error("node {node} logged {have} updates of {repo}; {want} were accepted")]
    Log {
        /// The node.
        node: usize,
        /// The repository.
        repo: String,
        /// Logged.
        have: usize,
        /// Accepted.
        want: usize,
    },
    /// A node serves other refs than the merge rule gives.
    #[error("node {node} serves refs of {repo} other than the merge rule gives")]
    Refs {
        /// The node.
        node: usize,
        /// The repository.
        repo: String,
    },
    /// The refs a node serves (conflict refs included), as moved update by update, are not
    /// what its merge state gives.
    #[error("node {node} serves refs of {repo} that its merge state does not give")]
    Served {
        /// The node.
        node: usize,
        /// The repository.
        repo: String,
    },
    /// A node stores a repository it does not seed.
    #[error("node {node} stores {repo}, which it does not seed")]
    Unseeded {
        /// The node.
        node: usize,
        /// The repository.
        repo: String,
    },
    /// A node lacks a commit its refs reach.
    #[error("node {node} lacks commit {commit} of {repo}")]
    Missing {
        /// The node.
        node: usize,
        /// The repository.
        repo: String,
        /// The commit.
        commit: ObjectId,
    },
}

/// Checks a finished run.
pub fn check(sim: &Sim, report: &Report) -> Result<(), Divergence> {
    if let Some(v) = sim.violations.first() {
        return Err(Divergence::Violation(v.clone()));
    }
    if report.settled_ms.is_none() {
        return Err(Divergence::NotSettled);
    }
    let world = sim.world();
    let mut by_repo: BTreeMap<&str, Vec<_>> = BTreeMap::new();
    for u in &sim.accepted {
        by_repo.entry(u.repo.as_str()).or_default().push(u.clone());
    }
    let mut reference = Model::default();
    for (repo, updates) in &by_repo {
        let tips = updates
            .iter()
            .flat_map(|u| [u.new, u.old])
            .map(ObjectId::from_bytes);
        let pack = world.closure(tips);
        reference
            .apply(world, repo, Some(pack), updates.clone())
            .map_err(Divergence::Violation)?;
    }
    let expected = reference.table(world);
    for (node, model) in sim.models().enumerate() {
        for (repo, updates) in &by_repo {
            if !model.seeds(repo) {
                if model.repos.contains_key(*repo) {
                    return Err(Divergence::Unseeded {
                        node,
                        repo: repo.to_string(),
                    });
                }
                continue;
            }
            let have = model.repos.get(*repo).map_or(0, |r| r.log.len());
            if have != updates.len() {
                return Err(Divergence::Log {
                    node,
                    repo: repo.to_string(),
                    have,
                    want: updates.len(),
                });
            }
        }
        for (repo, r) in &model.repos {
            if r.served != r.implied(world) {
                return Err(Divergence::Served {
                    node,
                    repo: repo.clone(),
                });
            }
        }
        let table = model.table(world);
        for (repo, refs) in expected.iter().filter(|(r, _)| model.seeds(r)) {
            if table.get(repo) != Some(refs) {
                return Err(Divergence::Refs {
                    node,
                    repo: repo.clone(),
                });
            }
            let tips = refs
                .values()
                .flat_map(|(v, c)| std::iter::once(*v).chain(c.iter().copied()));
            let held = model.repos.get(repo).map(|r| &r.objects);
            if let Some(commit) = world
                .closure(tips)
                .into_iter()
                .find(|c| !held.is_some_and(|h| h.contains(c)))
            {
                return Err(Divergence::Missing {
                    node,
                    repo: repo.clone(),
                    commit,
                });
            }
        }
    }
    Ok(())
}

/// Runs `config`: what happened, and the verdict.
pub fn run_checked(config: crate::sim::Config) -> (Report, Result<(), Divergence>) {
    let (report, sim) = Sim::new(config).run();
    let verdict = check(&sim, &report);
    (report, verdict)
}
