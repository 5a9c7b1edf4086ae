//! `guts node` processes that reach each other only through other nodes: a ring of 6 where
//! a push travels by gossip alone (anti-entropy off in effect), and a line of 4 whose middle
//! node is killed with SIGKILL: the far side catches up once it is back; and a line of 3
//! where only the first node seeds a repository, which a clone from the far end pulls
//! through. Checked with git (`ls-remote`, `clone`, `fsck`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use guts_node::net::{NodeId, NodeKey};

mod common;

const GUTS: &str = env!("CARGO_BIN_EXE_guts");
const DEADLINE: Duration = Duration::from_secs(60);

/// One node of the network: its data dir, and its process while it runs.
struct Member {
    dir: PathBuf,
    id: NodeId,
    proc: Option<(Child, String, Vec<String>)>,
}

struct Net {
    _root: tempfile::TempDir,
    members: Vec<Member>,
    anti_entropy_secs: u64,
    token: String,
}

impl Net {
    /// `n` data dirs with keys made up front (so every node trusts every other), and a site
    /// administrator on node 0.
    fn new(n: usize, anti_entropy_secs: u64) -> Net {
        let root = tempfile::tempdir().expect("tempdir");
        let members: Vec<Member> = (0..n)
            .map(|i| {
                let dir = root.path().join(format!("node-{i}"));
                std::fs::create_dir_all(&dir).expect("mkdir");
                let key =
                    NodeKey::load_or_create(&dir.join(guts_node::replica::KEY_FILE)).expect("key");
                Member {
                    dir,
                    id: key.id(),
                    proc: None,
                }
            })
            .collect();
        let out = Command::new(GUTS)
            .args(["user", "create", "admin", "--admin", "--data-dir"])
            .arg(&members[0].dir)
            .output()
            .expect("guts user create");
        let token = common::token_in(&String::from_utf8_lossy(&out.stdout));
        Net {
            _root: root,
            members,
            anti_entropy_secs,
            token,
        }
    }

    /// Starts node `i`, dialling the running nodes among `peers` and no other (no
    /// discovery).
    fn start(&mut self, i: usize, peers: &[usize]) {
        self.start_with(i, peers, &["--no-discovery"]);
    }

    /// Starts node `i`, dialling the running nodes among `peers`, with `extra` flags.
    fn start_with(&mut self, i: usize, peers: &[usize], extra: &[&str]) {
        let bootstrap: Vec<String> = peers
            .iter()
            .filter_map(|&p| self.members[p].proc.as_ref())
            .flat_map(|(_, _, p2p)| p2p.clone())
            .collect();
        let mut cmd = Command::new(GUTS);
        cmd.arg("node")
            .arg("--data-dir")
            .arg(&self.members[i].dir)
            .args([
                "--http",
                "127.0.0.1:0",
                "--p2p",
                "/ip4/127.0.0.1/tcp/0",
                "--no-mdns",
            ])
            .args(extra)
            .args(["--anti-entropy-secs", &self.anti_entropy_secs.to_string()]);
        for b in &bootstrap {
            cmd.args(["--bootstrap", b]);
        }
        for m in self.members.iter().filter(|m| m.id != self.members[i].id) {
            cmd.args(["--trust", &m.id.to_string()]);
        }
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("GUTS_") {
                cmd.env_remove(k);
            }
        }
        let mut child = cmd
            .env("GUTS_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn guts node");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let (mut url, mut p2p) = (String::new(), Vec::new());
        for line in lines.by_ref() {
            let line = line.expect("stdout");
            if let Some(u) = line.strip_prefix("guts node listening on ") {
                url = u.to_string();
            } else if let Some(a) = line.strip_prefix("p2p listening on ") {
                p2p.push(a.to_string());
            } else if line.starts_with("guts node ready") {
                break;
            }
        }
        assert!(!url.is_empty() && !p2p.is_empty(), "node {i} started");
        std::thread::spawn(move || for _ in lines {});
        self.members[i].proc = Some((child, url, p2p));
    }

    fn base(&self, i: usize) -> &str {
        let (_, url, _) = self.members[i].proc.as_ref().expect("running");
        url
    }

    /// Repository `repo` on node `i`, as `user` with `token`.
    fn url_as(&self, i: usize, repo: &str, user: &str, token: &str) -> String {
        let with_token = self
            .base(i)
            .replacen("http://", &format!("http://{user}:{token}@"), 1);
        format!("{with_token}/{repo}.git")
    }

    /// A user made through node 0's API once the network is up (so announced to every
    /// node at once; the site administrator was made in node 0's store before it started
    /// and reaches the others only by anti-entropy). Returns their token once every running
    /// node knows it.
    fn user(&self, name: &str) -> String {
        let out = Command::new(GUTS)
            .args([
                "user",
                "create",
                name,
                "--node",
                self.base(0),
                "--token",
                &self.token,
            ])
            .output()
            .expect("guts user create");
        assert!(out.status.success(), "{out:?}");
        let token = common::token_in(&String::from_utf8_lossy(&out.stdout));
        for (i, m) in self.members.iter().enumerate() {
            if m.proc.is_none() {
                continue;
            }
            let url = format!("{}/api/v1/user", self.base(i));
            let deadline = Instant::now() + DEADLINE;
            loop {
                let out = Command::new("curl")
                    .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H"])
                    .arg(format!("Authorization: Bearer {token}"))
                    .arg(&url)
                    .output()
                    .expect("curl");
                if out.stdout == b"200" {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "node {i} never learned of {name}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        token
    }

    /// SIGKILL.
    fn kill9(&mut self, i: usize) {
        if let Some((mut child, _, _)) = self.members[i].proc.take() {
            child.kill().expect("SIGKILL");
            child.wait().expect("wait");
        }
    }

    /// Waits until node `i` advertises `want` (`id ref` lines, sorted) for `repo`.
    fn wait_refs(&self, i: usize, repo: &str, want: &[String]) {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let url = format!("{}/{repo}.git", self.base(i));
            let out = common::git(Path::new("."), &["ls-remote", "--refs", &url]);
            let mut got: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(|l| l.replace('\t', " "))
                .collect();
            got.sort();
            if got == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "node {i} serves {got:?}, not {want:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn create_repo(&self, repo: &str) {
        let out = Command::new(GUTS)
            .args([
                "repo",
                "create",
                repo,
                "--node",
                self.base(0),
                "--token",
                &self.token,
            ])
            .output()
            .expect("guts repo create");
        assert!(out.status.success(), "{repo}: {out:?}");
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for m in &mut self.members {
            if let Some((mut child, _, _)) = m.proc.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    common::git_ok(dir, args)
}

/// A work tree on `master` (as many real repositories still are) with `n` commits.
fn work(n: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    git(dir.path(), &["init", "-q", "-b", "master"]);
    commit(dir.path(), "first", n);
    dir
}

fn commit(w: &Path, tag: &str, n: usize) {
    for i in 0..n {
        std::fs::write(w.join(format!("{tag}-{i}.txt")), format!("{tag} {i}\n")).expect("write");
        git(w, &["add", "."]);
        git(w, &["commit", "-q", "-m", &format!("{tag} {i}")]);
    }
}

/// Branches and tags of the work tree, as `ls-remote` prints them.
fn refs(w: &Path) -> Vec<String> {
    let mut v: Vec<String> = git(
        w,
        &[
            "for-each-ref",
            "--format=%(objectname) %(refname)",
            "refs/heads",
            "refs/tags",
        ],
    )
    .lines()
    .map(str::to_string)
    .collect();
    v.sort();
    v
}

/// Six processes in a ring, each dialling only the one before it (the last also the first);
/// anti-entropy once an hour: pushes at two places reach every node by gossip alone.
#[test]
fn a_ring_of_six_processes_relays_pushes_by_gossip_alone() {
    let n = 6;
    let mut net = Net::new(n, 3600);
    for i in 0..n {
        let mut peers = vec![];
        if i > 0 {
            peers.push(i - 1);
        }
        if i == n - 1 {
            peers.push(0);
        }
        net.start(i, &peers);
    }
    let alice = net.user("alice");
    net.create_repo("alice/ring");
    let url = |i: usize| net.url_as(i, "alice/ring", "alice", &alice);
    let w = work(3);
    git(w.path(), &["push", "-q", &url(0), "master"]);
    let want = refs(w.path());
    for i in 0..n {
        net.wait_refs(i, "alice/ring", &want);
    }
    commit(w.path(), "from-three", 2);
    git(w.path(), &["tag", "v1"]);
    git(w.path(), &["push", "-q", &url(3), "master", "v1"]);
    let want = refs(w.path());
    for i in 0..n {
        net.wait_refs(i, "alice/ring", &want);
    }
    let clone = tempfile::tempdir().expect("tempdir");
    git(clone.path(), &["clone", "-q", "--mirror", &url(5), "c"]);
    git(&clone.path().join("c"), &["fsck", "--strict"]);
}

/// A line of four processes; the second is killed with SIGKILL, a push is made at the
/// near end meanwhile, and once the killed node is back (dialling both neighbours) the far
/// side catches up.
#[test]
fn a_line_cut_by_a_killed_node_catches_up_once_it_is_back() {
    let n = 4;
    let mut net = Net::new(n, 1);
    for i in 0..n {
        let peers: Vec<usize> = if i > 0 { vec![i - 1] } else { vec![] };
        net.start(i, &peers);
    }
    let alice = net.user("alice");
    net.create_repo("alice/line");
    let url = |net: &Net, i: usize| net.url_as(i, "alice/line", "alice", &alice);
    let w = work(2);
    git(w.path(), &["push", "-q", &url(&net, 3), "master"]);
    let want = refs(w.path());
    for i in 0..n {
        net.wait_refs(i, "alice/line", &want);
    }
    net.kill9(1);
    commit(w.path(), "while-cut", 2);
    git(w.path(), &["push", "-q", &url(&net, 0), "master"]);
    let want = refs(w.path());
    net.wait_refs(0, "alice/line", &want);
    net.start(1, &[0, 2]);
    for i in 0..n {
        net.wait_refs(i, "alice/line", &want);
    }
    let clone = tempfile::tempdir().expect("tempdir");
    git(
        clone.path(),
        &["clone", "-q", "--mirror", &url(&net, 3), "c"],
    );
    git(&clone.path().join("c"), &["fsck", "--strict"]);
}

/// A line of three processes with discovery on, where only node 0 seeds alice's work:
/// a clone from node 2 (which stores none of it) pulls it through from node 0, found in
/// the DHT, and returns the same refs (`master`, branches, tags), `fsck` clean.
#[test]
fn a_clone_from_a_process_that_does_not_seed_returns_the_seeders_refs() {
    let mut net = Net::new(3, 1);
    net.start_with(0, &[], &[]);
    net.start_with(1, &[0], &["--seed", "carol"]);
    net.start_with(2, &[1], &["--seed", "carol"]);
    let alice = net.user("alice");
    net.create_repo("alice/pulled");
    let w = work(3);
    for i in 0..20 {
        git(w.path(), &["branch", &format!("topic/{i}")]);
        git(w.path(), &["tag", &format!("v0.{i}")]);
    }
    let url = |net: &Net, i: usize| net.url_as(i, "alice/pulled", "alice", &alice);
    git(
        w.path(),
        &[
            "push",
            "-q",
            &url(&net, 0),
            "refs/heads/*:refs/heads/*",
            "refs/tags/*:refs/tags/*",
        ],
    );
    let want = refs(w.path());
    assert_eq!(want.len(), 41);
    net.wait_refs(0, "alice/pulled", &want);
    // ls-remote on node 2 pulls it through (once the repository's record is there).
    net.wait_refs(2, "alice/pulled", &want);
    let clone = tempfile::tempdir().expect("tempdir");
    git(
        clone.path(),
        &["clone", "-q", "--mirror", &url(&net, 2), "c"],
    );
    let c = clone.path().join("c");
    git(&c, &["fsck", "--strict"]);
    assert_eq!(refs(&c), want);
    assert_eq!(
        git(&c, &["symbolic-ref", "HEAD"]).trim(),
        "refs/heads/master"
    );
}
