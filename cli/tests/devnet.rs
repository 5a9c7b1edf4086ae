//! `guts devnet` as a process: three node processes wired together; a push to one is cloned
//! from another; a node killed with SIGKILL is restarted and catches up; SIGTERM stops all.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const GUTS: &str = env!("CARGO_BIN_EXE_guts");
const DEADLINE: Duration = Duration::from_secs(90);

struct Devnet {
    child: Child,
    lines: mpsc::Receiver<String>,
    /// (url, pid) of each node.
    nodes: Vec<(String, i32)>,
    /// The administrator's token the devnet printed.
    token: String,
    /// The "Try it" commands it printed, as printed.
    hints: Vec<String>,
}

impl Devnet {
    fn start(dir: &Path, n: usize) -> Devnet {
        let mut child = Command::new(GUTS)
            .args(["devnet", "--nodes", &n.to_string(), "--http-port", "0"])
            .args(["--p2p-port", "0", "--anti-entropy-secs", "1", "--data-dir"])
            .arg(dir)
            .env("GUTS_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn guts devnet");
        let out = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                println!("devnet: {line}");
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut d = Devnet {
            child,
            lines,
            nodes: Vec::new(),
            token: String::new(),
            hints: Vec::new(),
        };
        let mut in_hints = false;
        loop {
            let line = d.next_line();
            if line.starts_with("Try it") {
                in_hints = true;
            } else if in_hints && line.starts_with("  ") {
                d.hints.push(line.trim().to_string());
            } else {
                in_hints = false;
            }
            if let Some(rest) = line.strip_prefix("node ") {
                let f: Vec<&str> = rest.split_whitespace().collect();
                if f.len() == 6 && f[2] == "peer" && f[4] == "pid" {
                    d.nodes.push((f[1].to_string(), f[5].parse().expect("pid")));
                }
            }
            if let Some(rest) = line.strip_prefix("admin token: ") {
                d.token = rest.split_whitespace().next().expect("token").to_string();
            }
            if line == "devnet ready" {
                break;
            }
        }
        assert_eq!(d.nodes.len(), n, "the table lists every node");
        assert!(
            d.token.starts_with("guts_"),
            "the devnet printed its admin token"
        );
        d
    }

    fn next_line(&self) -> String {
        self.lines
            .recv_timeout(DEADLINE)
            .expect("devnet output within the deadline")
    }

    fn url(&self, i: usize) -> &str {
        &self.nodes[i].0
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for (_, pid) in &self.nodes {
            let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
        }
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_AUTHOR_NAME", "A")
        .env("GIT_AUTHOR_EMAIL", "a@example.com")
        .env("GIT_COMMITTER_NAME", "C")
        .env("GIT_COMMITTER_EMAIL", "c@example.com")
        .stdin(Stdio::null())
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn commit(w: &Path, i: usize) {
    std::fs::write(w.join(format!("f{}.txt", i % 3)), format!("version {i}\n")).expect("write");
    git(w, &["add", "-A"]);
    git(w, &["commit", "-q", "-m", &format!("commit {i}")]);
}

/// `git ls-remote --refs` of a URL, or None while it fails.
fn ls_remote(url: &str) -> Option<String> {
    let out = Command::new("git")
        .args(["ls-remote", "--refs", url])
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn wait_serves(url: &str, want: &str) {
    let start = Instant::now();
    loop {
        let got = ls_remote(url);
        if got.as_deref() == Some(want) {
            return;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "{url} serves {got:?}, want {want:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_devnet_that_cannot_start_says_why_and_keeps_its_logs() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let out = Command::new(GUTS)
        .args(["devnet", "--nodes", "1", "--http-port", &port.to_string()])
        .args(["--p2p-port", "0"])
        .output()
        .expect("guts devnet");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("in use"), "the cause is shown: {err}");
    let kept = err
        .split("kept in ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .unwrap_or_else(|| panic!("names where the logs are: {err}"));
    let log = Path::new(kept).join("node-0/node.log");
    assert!(log.exists(), "{} is kept", log.display());
    let _ = std::fs::remove_dir_all(kept);
}

fn alive(pid: i32) -> bool {
    kill(Pid::from_raw(pid), None).is_ok()
}

/// Runs the devnet's printed hints (all but the endless `events` one) with `sh`, in `dir`,
/// as a user would paste them: `export` first, each in the same shell.
fn run_hints(dir: &Path, hints: &[String], which: impl Fn(&str) -> bool) {
    let script: Vec<&str> = hints
        .iter()
        .map(|h| h.split("   #").next().unwrap_or(h).trim())
        .filter(|h| h.starts_with("export") || which(h))
        .collect();
    let out = Command::new("sh")
        .args(["-c", &script.join(" && ")])
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .expect("sh");
    assert!(
        out.status.success(),
        "the hints failed as printed: {script:?}\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn devnet_replicates_restarts_a_killed_node_and_stops_cleanly() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut net = Devnet::start(data.path(), 3);

    // The printed hints work as printed, in a repository whose branch is master.
    let hinted = tempfile::tempdir().expect("tempdir");
    let h = hinted.path();
    git(h, &["init", "-q", "-b", "master"]);
    commit(h, 0);
    run_hints(h, &net.hints, |c| {
        c.contains("repo create") || c.starts_with("git push")
    });
    let hello = format!("{}/admin/hello.git", net.url(2));
    let tip = git(h, &["rev-parse", "HEAD"]);
    wait_serves(&hello, &format!("{}\trefs/heads/master\n", tip.trim()));
    run_hints(h, &net.hints, |c| {
        c.starts_with("git clone") || c.contains(" health ")
    });
    let cloned = h.join("hello");
    assert_eq!(
        git(&cloned, &["rev-parse", "HEAD"]),
        tip,
        "master checked out"
    );
    assert!(net.hints.iter().any(|c| c.contains(" events --node")));
    // Without the token: refused.
    let out = Command::new(GUTS)
        .args(["repo", "create", "alice/hello", "--node", net.url(0)])
        .output()
        .expect("guts repo create");
    assert!(!out.status.success(), "created without credentials");
    let out = Command::new(GUTS)
        .args(["repo", "create", "alice/hello", "--node", net.url(0)])
        .env("GUTS_TOKEN", &net.token)
        .output()
        .expect("guts repo create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let work = tempfile::tempdir().expect("tempdir");
    let w = work.path();
    git(w, &["init", "-q", "-b", "main"]);
    for i in 0..3 {
        commit(w, i);
    }
    git(w, &["tag", "v1"]);
    let push0 = format!("{}/alice/hello.git", net.url(0)).replacen(
        "http://",
        &format!("http://admin:{}@", net.token),
        1,
    );
    git(w, &["push", "-q", &push0, "main", "v1"]);
    let want = ls_remote(&push0).expect("node 0 serves the push");
    assert!(want.contains("refs/heads/main") && want.contains("refs/tags/v1"));

    // Cloned from node 2, with both protocol versions.
    let from2 = format!("{}/alice/hello.git", net.url(2));
    wait_serves(&from2, &want);
    for proto in ["2", "0"] {
        let c = tempfile::tempdir().expect("tempdir");
        git(
            c.path(),
            &[
                "-c",
                &format!("protocol.version={proto}"),
                "clone",
                "-q",
                &from2,
                "c",
            ],
        );
        let c = c.path().join("c");
        git(&c, &["fsck", "--strict"]);
        assert_eq!(
            git(&c, &["rev-parse", "HEAD"]),
            git(w, &["rev-parse", "HEAD"])
        );
    }

    // SIGKILL node 1; push meanwhile; the devnet restarts it and it catches up.
    let (url1, pid1) = net.nodes[1].clone();
    kill(Pid::from_raw(pid1), Signal::SIGKILL).expect("kill -9 node 1");
    for i in 3..6 {
        commit(w, i);
    }
    git(w, &["push", "-q", &push0, "main"]);
    let want = ls_remote(&push0).expect("node 0 serves the push");
    loop {
        let line = net.next_line();
        if let Some(rest) = line.strip_prefix("node 1 restarted: ") {
            let pid: i32 = rest
                .rsplit(' ')
                .next()
                .and_then(|p| p.parse().ok())
                .expect("pid");
            assert_ne!(pid, pid1);
            net.nodes[1].1 = pid;
            break;
        }
    }
    assert_eq!(net.url(1), url1);
    let from1 = format!("{url1}/alice/hello.git");
    wait_serves(&from1, &want);
    let c = tempfile::tempdir().expect("tempdir");
    git(c.path(), &["clone", "-q", &from1, "c"]);
    git(&c.path().join("c"), &["fsck", "--strict"]);

    // SIGTERM stops the devnet and every node.
    kill(
        Pid::from_raw(i32::try_from(net.child.id()).expect("pid")),
        Signal::SIGTERM,
    )
    .expect("SIGTERM");
    let start = Instant::now();
    let status = loop {
        if let Some(s) = net.child.try_wait().expect("wait") {
            break s;
        }
        assert!(start.elapsed() < DEADLINE, "devnet did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "devnet exit: {status}");
    for (_, pid) in &net.nodes {
        assert!(!alive(*pid), "node process {pid} still running");
    }
}
