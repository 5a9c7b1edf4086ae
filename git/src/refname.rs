//! Ref name rules, as `git check-ref-format` applies them.

/// Why a ref name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid ref name {name:?}: {reason}")]
pub struct RefNameError {
    /// The name (lossy, for messages).
    pub name: String,
    /// The rule it broke.
    pub reason: &'static str,
}

/// The longest ref name accepted.
pub const MAX_REF_NAME: usize = 1024;

/// Checks a full ref name (`refs/...`) against git's rules.
pub fn check(name: &str) -> Result<(), RefNameError> {
    let bad = |reason| {
        Err(RefNameError {
            name: name.chars().take(200).collect(),
            reason,
        })
    };
    if name.len() > MAX_REF_NAME {
        return bad("too long");
    }
    if !name.starts_with("refs/") {
        return bad("must start with refs/");
    }
    if name == "@" {
        return bad("is @");
    }
    if name.contains("..") {
        return bad("contains ..");
    }
    if name.contains("@{") {
        return bad("contains @{");
    }
    if name.ends_with('.') || name.ends_with('/') {
        return bad("ends with . or /");
    }
    if let Some(_c) = name.bytes().find(|&c| {
        c < 0x20 || c == 0x7f || matches!(c, b' ' | b'~' | b'^' | b':' | b'?' | b'*' | b'[' | b'\\')
    }) {
        return bad("contains a forbidden character");
    }
    for part in name.split('/') {
        if part.is_empty() {
            return bad("empty component");
        }
        if part.starts_with('.') {
            return bad("component starts with .");
        }
        if part.ends_with(".lock") {
            return bad("component ends with .lock");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn follows_check_ref_format() {
        for ok in [
            "refs/heads/main",
            "refs/tags/v1.0",
            "refs/heads/a/b-c_d",
            "refs/x/@",
        ] {
            assert!(check(ok).is_ok(), "{ok}");
        }
        for bad in [
            "main",
            "refs/heads/a..b",
            "refs/heads/.x",
            "refs/heads/x.lock",
            "refs/heads/x/",
            "refs/heads//x",
            "refs/heads/x.",
            "refs/heads/a b",
            "refs/heads/a~1",
            "refs/heads/a^",
            "refs/heads/a:b",
            "refs/heads/a?",
            "refs/heads/a*",
            "refs/heads/a[",
            "refs/heads/a\\b",
            "refs/heads/a@{1}",
            "refs/heads/\u{1}",
        ] {
            assert!(check(bad).is_err(), "{bad:?}");
        }
    }
}
