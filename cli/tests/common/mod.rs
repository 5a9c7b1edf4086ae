//! What the `guts` binary's tests share: running git with a fixed identity and no user
//! configuration, and reading the token `guts user create` prints.

use std::path::Path;
use std::process::{Command, Output};

/// Runs git in `dir` (its result, whatever it is).
pub fn git(dir: &Path, args: &[&str]) -> Output {
    Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_AUTHOR_NAME", "A")
        .env("GIT_AUTHOR_EMAIL", "a@example.com")
        .env("GIT_COMMITTER_NAME", "C")
        .env("GIT_COMMITTER_EMAIL", "c@example.com")
        .output()
        .expect("git")
}

/// Runs git in `dir`, which must succeed; its output, trimmed.
pub fn git_ok(dir: &Path, args: &[&str]) -> String {
    let out = git(dir, args);
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The token in what `guts user create` printed.
pub fn token_in(out: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix("token: "))
        .expect("a token line")
        .trim()
        .to_string()
}
