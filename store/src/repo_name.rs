//! [`RepoName`]: a repository's full name, `owner/name`, parsed and checked once where it
//! comes in (a URL, a REST body, a peer's message) and passed on as a value, so nothing
//! downstream builds or splits the string again.

use std::fmt;
use std::str::FromStr;

use crate::StoreError;
use crate::names::check_name;

/// `owner/name`, both valid names ([`check_name`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoName {
    owner: String,
    name: String,
}

impl RepoName {
    /// The name of `owner`'s repository `name`, both checked.
    pub fn new(owner: &str, name: &str) -> Result<RepoName, StoreError> {
        check_name("owner", owner)?;
        check_name("repository", name)?;
        Ok(RepoName {
            owner: owner.to_string(),
            name: name.to_string(),
        })
    }

    /// A name already checked when it was stored (a repository's record).
    pub(crate) fn checked(owner: &str, name: &str) -> RepoName {
        RepoName {
            owner: owner.to_string(),
            name: name.to_string(),
        }
    }

    /// Reads `owner/name`.
    pub fn parse(full: &str) -> Result<RepoName, StoreError> {
        let (owner, name) = full.split_once('/').ok_or_else(|| {
            StoreError::InvalidName(format!("repository {full:?}: not owner/name"))
        })?;
        RepoName::new(owner, name)
    }

    /// The owner.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// The repository's own name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

impl FromStr for RepoName {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, StoreError> {
        RepoName::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::RepoName;

    #[test]
    fn parses_checks_and_prints_back() {
        let r = RepoName::parse("alice/app").expect("valid");
        assert_eq!((r.owner(), r.name()), ("alice", "app"));
        assert_eq!(r.to_string(), "alice/app");
        assert_eq!("alice/app".parse::<RepoName>().expect("valid"), r);
        for bad in [
            "alice",
            "/app",
            "alice/",
            "alice/app/x",
            "../x",
            "alice/app.git",
            "a/-x",
        ] {
            assert!(RepoName::parse(bad).is_err(), "{bad}");
        }
    }
}
