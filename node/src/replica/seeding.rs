//! Which repositories this node stores (seeds): all of them, or those of some owners and
//! some named repositories. A node that does not seed a repository still passes its
//! announcements and records on, keeps its signed record, and stores none of its updates or
//! objects (a repository it already holds, made here or seeded before, keeps up to date). The policy comes from `--seed` and can be changed at run time by a site
//! administrator (`PUT /api/v1/node/seeding`); a change is kept in the data dir.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use guts_store::{RepoName, StoreError, names::check_name};

/// The file a policy set at run time is kept in, inside the data dir.
pub const SEEDING_FILE: &str = "seeding.json";

/// What a node seeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    all: bool,
    owners: BTreeSet<String>,
    repos: BTreeSet<RepoName>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy::all()
    }
}

impl Policy {
    /// Every repository.
    pub fn all() -> Policy {
        Policy {
            all: true,
            owners: BTreeSet::new(),
            repos: BTreeSet::new(),
        }
    }

    /// From entries: `all`, `OWNER`, or `OWNER/NAME` (none: nothing is seeded).
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Policy, StoreError> {
        let mut p = Policy {
            all: false,
            owners: BTreeSet::new(),
            repos: BTreeSet::new(),
        };
        for e in entries {
            let e = e.as_ref().trim();
            if e == "all" {
                p.all = true;
            } else if e.contains('/') {
                p.repos.insert(RepoName::parse(e)?);
            } else {
                check_name("owner", e)?;
                p.owners.insert(e.to_string());
            }
        }
        Ok(p)
    }

    /// True if this node stores `repo`.
    pub fn seeds(&self, repo: &RepoName) -> bool {
        self.all || self.owners.contains(repo.owner()) || self.repos.contains(repo)
    }

    /// The entries, as `parse` reads them.
    pub fn entries(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.all {
            out.push("all".to_string());
        }
        out.extend(self.owners.iter().cloned());
        out.extend(self.repos.iter().map(RepoName::to_string));
        out
    }
}

/// The node's policy, shared by the network's host and the API.
#[derive(Debug, Clone)]
pub struct Seeding {
    policy: Arc<RwLock<Policy>>,
    file: PathBuf,
}

impl Seeding {
    /// The policy kept in `data_dir` if one was set at run time, else `configured`.
    pub fn load(data_dir: &Path, configured: Policy) -> Result<Seeding, StoreError> {
        let file = data_dir.join(SEEDING_FILE);
        let policy = match std::fs::read(&file) {
            Ok(bytes) => {
                let entries: Vec<String> = serde_json::from_slice(&bytes)
                    .map_err(|e| StoreError::Invalid(format!("{}: {e}", file.display())))?;
                Policy::parse(&entries)?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => configured,
            Err(e) => return Err(e.into()),
        };
        Ok(Seeding {
            policy: Arc::new(RwLock::new(policy)),
            file,
        })
    }

    /// True if this node stores `repo`.
    pub fn seeds(&self, repo: &RepoName) -> bool {
        match self.policy.read() {
            Ok(p) => p.seeds(repo),
            Err(poisoned) => poisoned.into_inner().seeds(repo),
        }
    }

    /// The policy now.
    pub fn policy(&self) -> Policy {
        match self.policy.read() {
            Ok(p) => p.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Sets the policy and keeps it in the data dir (written whole, then renamed: a crash
    /// leaves the old one or the new one). Blocking.
    pub fn set(&self, policy: Policy) -> Result<(), StoreError> {
        let json = serde_json::to_vec(&policy.entries())
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        let tmp = self.file.with_extension("json.tmp");
        std::fs::write(&tmp, json)?;
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, &self.file)?;
        match self.policy.write() {
            Ok(mut p) => *p = policy,
            Err(poisoned) => *poisoned.into_inner() = policy,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> RepoName {
        RepoName::parse(s).expect("name")
    }

    #[test]
    fn owners_and_repositories_are_seeded_as_listed_and_kept_across_restarts() {
        let p = Policy::parse(&["alice", "bob/lib"]).expect("parses");
        assert!(p.seeds(&name("alice/app")));
        assert!(p.seeds(&name("bob/lib")));
        assert!(!p.seeds(&name("bob/app")));
        assert!(Policy::parse(&["all"]).expect("all").seeds(&name("x/y")));
        assert!(
            !Policy::parse::<&str>(&[])
                .expect("none")
                .seeds(&name("x/y"))
        );
        for bad in ["../x", "a/b/c", "-x", "alice/"] {
            assert!(Policy::parse(&[bad]).is_err(), "{bad}");
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Seeding::load(dir.path(), Policy::all()).expect("loads");
        assert!(s.seeds(&name("x/y")));
        s.set(p.clone()).expect("set");
        let again = Seeding::load(dir.path(), Policy::all()).expect("loads");
        assert_eq!(again.policy(), p);
        assert_eq!(again.policy().entries(), vec!["alice", "bob/lib"]);
    }
}
