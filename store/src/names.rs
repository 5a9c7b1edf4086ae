//! Name validation, done before a name reaches storage or a file path.

use crate::StoreError;

/// The longest owner or repository name.
pub const MAX_NAME: usize = 100;

/// Checks an owner or repository name: 1 to 100 of `A-Z a-z 0-9 . _ -`, not starting with
/// `.` or `-`, not `.`/`..`, not ending in `.git` (the suffix belongs to URLs).
pub fn check_name(what: &str, name: &str) -> Result<(), StoreError> {
    let bad = |why: &str| Err(StoreError::InvalidName(format!("{what} {name:?}: {why}")));
    if name.is_empty() {
        return bad("empty");
    }
    if name.len() > MAX_NAME {
        return bad("longer than 100 characters");
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return bad(&format!("character {c:?} is not allowed"));
    }
    if name.starts_with('.') || name.starts_with('-') {
        return bad("must not start with '.' or '-'");
    }
    if name.ends_with(".git") {
        return bad("must not end with .git");
    }
    Ok(())
}

/// Checks a branch name as used for a default branch (without `refs/heads/`): a valid ref
/// name that git would also take as a branch name (`git check-ref-format --branch`), so not
/// `HEAD`, not starting with `-`, and not a full ref name.
pub fn check_branch(name: &str) -> Result<(), StoreError> {
    let bad = |why: &str| Err(StoreError::InvalidName(format!("branch {name:?}: {why}")));
    if name == "HEAD" {
        return bad("HEAD is not a branch name");
    }
    if name.starts_with('-') {
        return bad("must not start with '-'");
    }
    if name.starts_with("refs/") {
        return bad("give the branch name without refs/heads/");
    }
    let full = format!("refs/heads/{name}");
    if guts_git::refname::check(&full).is_err() {
        return bad("not a valid ref name");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["alice", "a", "my-repo", "my_repo.rs", "A1"] {
            assert!(check_name("repo", ok).is_ok(), "{ok}");
        }
        let long = "a".repeat(101);
        for bad in [
            "", ".", "..", "a/b", "a b", "-x", ".hidden", "x.git", "é", "a\0", &long,
        ] {
            assert!(check_name("repo", bad).is_err(), "{bad:?}");
        }
        assert!(check_branch("main").is_ok());
        assert!(check_branch("feature/x").is_ok());
        assert!(check_branch("a..b").is_err());
        assert!(check_branch("").is_err());
        for bad in ["HEAD", "-x", "refs/heads/main", "a b", "x.lock", "@{1}"] {
            assert!(check_branch(bad).is_err(), "{bad:?}");
        }
        assert!(check_branch("master").is_ok());
    }
}
