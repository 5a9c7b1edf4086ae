//! The `guts` binary as a process: `guts node`, `guts repo`, `guts health`, environment
//! variables, and a crash (SIGKILL) in the middle of pushes: after a restart every
//! acknowledged push is there and the store is consistent.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{git, git_ok, token_in};

const GUTS: &str = env!("CARGO_BIN_EXE_guts");

struct NodeProc {
    child: Child,
    url: String,
}

impl NodeProc {
    fn start(data: &Path) -> NodeProc {
        let mut child = Command::new(GUTS)
            .args(["node", "--http", "127.0.0.1:0"])
            .env("GUTS_DATA_DIR", data)
            .env("GUTS_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn guts node");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut url = String::new();
        for line in lines.by_ref() {
            let line = line.expect("read stdout");
            if let Some(u) = line.strip_prefix("guts node listening on ") {
                url = u.to_string();
            }
            if line.starts_with("guts node ready") {
                break;
            }
        }
        assert!(!url.is_empty(), "the node printed its URL");
        // Keep draining stdout so the node never blocks on it.
        std::thread::spawn(move || for _ in lines {});
        NodeProc { child, url }
    }

    fn kill9(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("wait");
    }
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn guts(args: &[&str]) -> (bool, String) {
    let out = Command::new(GUTS).args(args).output().expect("run guts");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// `guts user create NAME --admin --data-dir DIR`: the token it printed.
fn first_admin(data: &Path, name: &str) -> String {
    let data = data.to_str().expect("utf-8");
    let (ok, out) = guts(&["user", "create", name, "--admin", "--data-dir", data]);
    assert!(ok, "{out}");
    token_in(&out)
}

#[test]
fn cli_commands() {
    let data = tempfile::tempdir().expect("tempdir");
    let root = first_admin(data.path(), "root");
    assert!(root.starts_with("guts_"));
    // Once only: the name is taken.
    let (ok, out) = guts(&[
        "user",
        "create",
        "root",
        "--data-dir",
        data.path().to_str().expect("utf-8"),
    ]);
    assert!(!ok && out.contains("taken"), "{out}");
    let node = NodeProc::start(data.path());
    // While the node runs, its store cannot be written offline: say so, once.
    let (ok, out) = guts(&[
        "user",
        "create",
        "zed",
        "--data-dir",
        data.path().to_str().expect("utf-8"),
    ]);
    assert!(!ok && out.contains("in use by a running node"), "{out}");
    assert_eq!(out.matches("running node").count(), 1, "{out}");
    let (ok, out) = guts(&["repo", "create", "alice/app", "--node", &node.url]);
    assert!(!ok && out.contains("401"), "created without a token: {out}");
    assert!(out.contains("set GUTS_TOKEN or pass --token"), "{out}");
    let (ok, out) = guts(&[
        "repo",
        "create",
        "alice/app",
        "--node",
        &node.url,
        "--token",
        &root,
    ]);
    assert!(ok, "{out}");
    let (ok, out) = guts(&[
        "repo",
        "create",
        "alice/app",
        "--node",
        &node.url,
        "--token",
        &root,
    ]);
    assert!(!ok && out.contains("already exists"), "{out}");
    let (ok, out) = guts(&[
        "repo",
        "create",
        "bad/../name",
        "--node",
        &node.url,
        "--token",
        &root,
    ]);
    assert!(!ok, "{out}");
    // A user made through the API by the administrator, with a token that works.
    let (ok, out) = guts(&[
        "user", "create", "bob", "--node", &node.url, "--token", &root,
    ]);
    assert!(ok, "{out}");
    let bob = token_in(&out);
    let (ok, out) = guts(&[
        "repo",
        "create",
        "bob/tools",
        "--node",
        &node.url,
        "--token",
        &bob,
    ]);
    assert!(ok, "{out}");
    let (ok, out) = guts(&[
        "user", "create", "carl", "--node", &node.url, "--token", &bob,
    ]);
    assert!(
        !ok && out.contains("403"),
        "a non-administrator made a user: {out}"
    );
    let out = Command::new(GUTS)
        .args(["repo", "list"])
        .env("GUTS_NODE", &node.url)
        .output()
        .expect("list");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .map(|l| l.split('\t').next()),
        Some(Some("alice/app"))
    );
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains('\t'),
        "no trailing tab"
    );
    // Edit: the default branch (a valid branch name only), description and visibility.
    let edit = |extra: &[&str]| {
        let mut a = vec![
            "repo",
            "edit",
            "alice/app",
            "--node",
            &node.url,
            "--token",
            &root,
        ];
        a.extend_from_slice(extra);
        guts(&a)
    };
    let (ok, out) = edit(&["--default-branch", "trunk", "--private", "true"]);
    assert!(ok && out.contains("default branch trunk, private"), "{out}");
    let (ok, out) = edit(&["--default-branch", "HEAD"]);
    assert!(!ok && out.contains("422"), "{out}");
    let (ok, out) = edit(&[]);
    assert!(!ok && out.contains("nothing to change"), "{out}");
    // `guts events` prints the node's events as JSON lines.
    let mut events = Command::new(GUTS)
        .args([
            "events",
            "--node",
            &node.url,
            "--token",
            &root,
            "--channel",
            "repo:*",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("guts events");
    let lines = std::io::BufRead::lines(std::io::BufReader::new(
        events.stdout.take().expect("stdout"),
    ));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in lines.map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    assert!(
        rx.recv_timeout(std::time::Duration::from_secs(30))
            .is_ok_and(|l| l.contains("subscribed")),
        "subscribed first"
    );
    let (ok, out) = edit(&["--description", "watched"]);
    assert!(ok, "{out}");
    let line = rx
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("an event line");
    let v: serde_json::Value = serde_json::from_str(&line).expect("JSON");
    assert_eq!(v["event"]["type"], "repo.updated", "{v}");
    assert_eq!(v["event"]["description"], "watched", "{v}");
    let _ = events.kill();
    let _ = events.wait();
    let (ok, out) = guts(&["health", "--node", &node.url]);
    assert!(
        ok && out.contains(": ok (version") && out.contains("store:"),
        "{out}"
    );
    let (ok, out) = guts(&["health", "--json", "--node", &node.url]);
    assert!(ok && out.contains("\"status\": \"ok\""), "{out}");
    drop(node);
    let (ok, _) = guts(&["health", "--node", "http://127.0.0.1:9"]);
    assert!(!ok, "an unreachable node is not healthy");
}

fn received_bytes(url: &str) -> u64 {
    let out = Command::new("curl")
        .args(["-s", &format!("{url}/metrics")])
        .output();
    let Ok(out) = out else { return 0 };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("guts_git_received_bytes_total "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

#[test]
fn sigkill_mid_push_loses_nothing_acknowledged() {
    let data = tempfile::tempdir().expect("tempdir");
    let work = tempfile::tempdir().expect("tempdir");
    let src = work.path().join("src");
    std::fs::create_dir(&src).expect("mkdir");
    git_ok(&src, &["init", "-q", "-b", "main"]);
    let token = first_admin(data.path(), "root");
    let mut node = NodeProc::start(data.path());
    let (ok, out) = guts(&[
        "repo",
        "create",
        "alice/crash",
        "--node",
        &node.url,
        "--token",
        &token,
    ]);
    assert!(ok, "{out}");
    let authed = |url: &str| url.replacen("http://", &format!("http://root:{token}@"), 1);
    let mut acked: Vec<String> = Vec::new();
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    for round in 0..3 {
        // A few small pushes, each acknowledged.
        for i in 0..3 {
            std::fs::write(
                src.join(format!("f{i}.txt")),
                format!("round {round} file {i}\n"),
            )
            .expect("write");
            git_ok(&src, &["add", "-A"]);
            git_ok(&src, &["commit", "-q", "-m", &format!("r{round} c{i}")]);
            let url = authed(&format!("{}/alice/crash.git", node.url));
            git_ok(&src, &["push", "-q", &url, "main"]);
            acked.push(git_ok(&src, &["rev-parse", "main"]));
        }
        // A big push, killed once the node has started receiving it.
        let big: Vec<u8> = (0..24 << 20)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed >> 32) as u8
            })
            .collect();
        std::fs::write(src.join("big.bin"), &big).expect("write");
        git_ok(&src, &["add", "-A"]);
        git_ok(&src, &["commit", "-q", "-m", &format!("r{round} big")]);
        let before = received_bytes(&node.url);
        let url = authed(&format!("{}/alice/crash.git", node.url));
        let mut push = Command::new("git")
            .args(["push", "-q", &url, "main"])
            .current_dir(&src)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .stderr(Stdio::null())
            .spawn()
            .expect("push");
        let start = Instant::now();
        while received_bytes(&node.url) <= before && start.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(5));
        }
        node.kill9();
        let pushed = push.wait().expect("wait push").success();
        if pushed {
            acked.push(git_ok(&src, &["rev-parse", "main"]));
        }
        node = NodeProc::start(data.path());
        let url = format!("{}/alice/crash.git", node.url);
        // Every acknowledged commit is there; the ref is the last acknowledged tip or the
        // killed push's tip (if it got through before the kill).
        let check = work.path().join(format!("check{round}"));
        let out = git(
            work.path(),
            &[
                "clone",
                "-q",
                "--mirror",
                &url,
                check.to_str().expect("utf-8"),
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        git_ok(&check, &["fsck", "--strict", "--no-progress"]);
        let tip = git_ok(&check, &["rev-parse", "main"]);
        let last = acked.last().expect("acked").clone();
        let killed_tip = git_ok(&src, &["rev-parse", "main"]);
        assert!(
            tip == last || tip == killed_tip,
            "tip {tip}, last acknowledged {last}"
        );
        for c in &acked {
            git_ok(&check, &["cat-file", "-e", &format!("{c}^{{commit}}")]);
        }
        // Resynchronise src with the node for the next round.
        if tip != killed_tip {
            git_ok(&src, &["reset", "-q", "--hard", &tip]);
        }
    }
}

/// `guts issue` and `guts pr` against a node process: open, list, comment, show and close
/// an issue; open, show (mergeable) and merge a pull request, checked with git.
#[test]
fn issue_and_pr_commands() {
    let data = tempfile::tempdir().expect("tempdir");
    let root = first_admin(data.path(), "root");
    let node = NodeProc::start(data.path());
    let as_root = |args: &[&str]| {
        let mut a: Vec<&str> = args.to_vec();
        a.extend_from_slice(&["--node", &node.url, "--token", &root]);
        guts(&a)
    };
    let (ok, out) = as_root(&["repo", "create", "root/app"]);
    assert!(ok, "{out}");
    let w = tempfile::tempdir().expect("tempdir");
    let w = w.path();
    git_ok(w, &["init", "-q", "-b", "main"]);
    std::fs::write(w.join("a.txt"), "one\n").expect("write");
    git_ok(w, &["add", "."]);
    git_ok(
        w,
        &[
            "-c",
            "user.name=r",
            "-c",
            "user.email=r@x",
            "commit",
            "-q",
            "-m",
            "one",
        ],
    );
    git_ok(w, &["checkout", "-q", "-b", "topic"]);
    std::fs::write(w.join("b.txt"), "two\n").expect("write");
    git_ok(w, &["add", "."]);
    git_ok(
        w,
        &[
            "-c",
            "user.name=r",
            "-c",
            "user.email=r@x",
            "commit",
            "-q",
            "-m",
            "two",
        ],
    );
    let push = node
        .url
        .replacen("http://", &format!("http://root:{root}@"), 1);
    git_ok(
        w,
        &[
            "push",
            "-q",
            &format!("{push}/root/app.git"),
            "main",
            "topic",
        ],
    );

    let (ok, out) = as_root(&["issue", "create", "root/app", "--title", "It crashes"]);
    assert!(
        ok && out.contains("#1 [open] It crashes (by root)"),
        "{out}"
    );
    let (ok, out) = as_root(&["issue", "comment", "root/app", "1", "--body", "same here"]);
    assert!(ok, "{out}");
    let (ok, out) = as_root(&["issue", "show", "root/app", "1"]);
    assert!(ok && out.contains("same here"), "{out}");
    let (ok, out) = as_root(&["issue", "close", "root/app", "1"]);
    assert!(ok && out.contains("[closed]"), "{out}");
    let (ok, out) = as_root(&["issue", "list", "root/app", "--state", "all"]);
    assert!(ok && out.contains("#1 [closed]"), "{out}");
    let (ok, out) = as_root(&["issue", "comment", "root/app", "9", "--body", "x"]);
    assert!(!ok && out.contains("404"), "{out}");

    let (ok, out) = as_root(&[
        "pr", "create", "root/app", "--title", "Topic", "--head", "topic",
    ]);
    assert!(ok && out.contains("#2 [PR open] Topic"), "{out}");
    let (ok, out) = as_root(&["pr", "show", "root/app", "2"]);
    assert!(
        ok && out.contains("main <- root/app:topic") && out.contains("merges cleanly"),
        "{out}"
    );
    let (ok, out) = as_root(&["pr", "merge", "root/app", "2", "--method", "fast-forward"]);
    assert!(ok, "{out}");
    let topic = git_ok(w, &["rev-parse", "topic"]);
    assert!(out.contains(topic.trim()), "{out}");
    let remote = git_ok(
        w,
        &[
            "ls-remote",
            &format!("{}/root/app.git", node.url),
            "refs/heads/main",
        ],
    );
    assert!(remote.starts_with(topic.trim()), "{remote}");
    let (ok, out) = as_root(&["pr", "list", "root/app"]);
    assert!(ok && !out.contains("#2"), "merged: not open: {out}");
    let (ok, out) = as_root(&["pr", "merge", "root/app", "2"]);
    assert!(!ok && out.contains("already merged"), "{out}");
}
