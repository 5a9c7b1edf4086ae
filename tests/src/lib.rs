//! guts-tests: end-to-end tests that start real nodes on 127.0.0.1 (port 0, temp dirs) and
//! drive them with real clients: the git CLI, dulwich, pygit2, plain HTTP.
//!
//! This library holds the helpers: [`TestNode`] (a node in this process with its own
//! runtime), [`git`] and friends (run the git CLI and check its status), and [`http`] (a
//! plain HTTP client that returns statuses instead of failing on them).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use guts_node::{Node, NodeConfig};
use serde_json::{Value, json};

/// A node running in this process, on 127.0.0.1 port 0, with its data in a temp dir. Its
/// store has a site administrator, `admin`, whose token is in [`TestNode::url`].
pub struct TestNode {
    /// The base URL with the administrator's credentials (`http://admin:TOKEN@ADDR`):
    /// git, [`http`] and the other helpers authenticate with them.
    pub url: String,
    /// The base URL without credentials (`http://ADDR`): an anonymous caller.
    pub anon_url: String,
    /// The administrator's token.
    pub token: String,
    /// Its data directory.
    pub dir: tempfile::TempDir,
    node: Option<Node>,
    /// Taken when dropped, to shut down with a time limit.
    rt: Option<tokio::runtime::Runtime>,
}

pub mod browser;
pub mod cluster;
pub mod ws;

impl TestNode {
    /// Starts a node and waits until its store is open.
    pub fn start() -> TestNode {
        let dir = tempfile::tempdir().expect("tempdir");
        Self::start_in(dir)
    }

    /// Starts a node on an existing data dir.
    pub fn start_in(dir: tempfile::TempDir) -> TestNode {
        let config = NodeConfig::new(dir.path(), "127.0.0.1:0".parse().expect("addr"));
        Self::start_with(dir, config)
    }

    /// Starts a node with a given configuration (its data dir must be `dir`).
    pub fn start_with(dir: tempfile::TempDir, config: NodeConfig) -> TestNode {
        Self::start_as(dir, config, "admin")
    }

    /// The same, with the node's site administrator called `admin` (nodes of one network
    /// need different ones: two users of one name made apart are two users, and the one
    /// with the later record wins the name and its tokens).
    pub fn start_as(dir: tempfile::TempDir, config: NodeConfig, admin: &str) -> TestNode {
        log_if_asked();
        // As `guts node` does: a node's sockets, store files and spooled packs need more
        // than the usual soft limit of 1,024 descriptors.
        let _ = rlimit::increase_nofile_limit(u64::MAX);
        let token = admin_token(dir.path(), admin);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let node = rt.block_on(Node::start(config)).expect("start node");
        rt.block_on(node.wait_started()).expect("store opens");
        TestNode {
            url: format!("http://admin:{token}@{}", node.addr()),
            anon_url: node.url(),
            token,
            dir,
            node: Some(node),
            rt: Some(rt),
        }
    }

    /// Creates a repository through the REST API and returns its clone URL.
    pub fn create_repo(&self, owner: &str, name: &str) -> String {
        let (status, body) = http(
            "POST",
            &format!("{}/api/v1/repos", self.url),
            Some(json!({ "owner": owner, "name": name })),
        );
        assert_eq!(status, 201, "create {owner}/{name}: {body}");
        format!("{}/{owner}/{name}.git", self.url)
    }

    /// The running node.
    pub fn node(&self) -> &Node {
        self.node.as_ref().expect("node running")
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        self.rt.as_ref().expect("runtime until dropped")
    }

    /// Runs a future on the node's runtime.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.runtime().block_on(f)
    }

    /// The node's network handle, once it is up (panics when p2p is off).
    pub fn net(&self) -> guts_node::NetHandle {
        self.block_on(self.node().wait_network())
            .expect("the network starts")
    }

    /// The value of a metric line (`name{labels}` exactly as exposed), 0 when absent.
    pub fn metric(&self, series: &str) -> f64 {
        let (status, body) = http("GET", &format!("{}/metrics", self.url), None);
        assert_eq!(status, 200);
        let text = body.as_str().unwrap_or_default().to_string();
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .find_map(|l| {
                let (k, v) = l.rsplit_once(' ')?;
                (k == series).then(|| v.parse().ok()).flatten()
            })
            .unwrap_or(0.0)
    }

    /// Stops the node gracefully and returns its data dir.
    pub fn stop(mut self) -> tempfile::TempDir {
        if let Some(n) = self.node.take() {
            self.runtime().block_on(n.shutdown()).expect("shutdown");
        }
        let dir = tempfile::tempdir().expect("tempdir");
        std::mem::replace(&mut self.dir, dir)
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        if let Some(n) = self.node.take() {
            let _ = self.runtime().block_on(n.shutdown());
        }
        // A task stuck past the node's own shutdown must not hang the test run.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(Duration::from_secs(10));
        }
    }
}

/// The token of the site administrator `name` in the store in `dir`: made (as `guts user
/// create NAME --admin --data-dir DIR` does) the first time, kept in `DIR/admin.token`.
pub fn admin_token(dir: &Path, name: &str) -> String {
    let file = dir.join("admin.token");
    if let Ok(t) = std::fs::read_to_string(&file) {
        return t;
    }
    let t = guts_node::accounts::create_user_offline(dir, name, true).expect("create admin");
    std::fs::write(&file, &t).expect("keep the admin token");
    t
}

/// A URL without its `user:password@`, and the Basic `Authorization` value they make.
pub fn split_credentials(url: &str) -> (String, Option<String>) {
    use base64::Engine;
    if let Some(rest) = url.strip_prefix("http://")
        && let Some(at) = rest.find('@')
        && rest.find('/').is_none_or(|slash| at < slash)
    {
        let basic = base64::engine::general_purpose::STANDARD.encode(&rest[..at]);
        return (
            format!("http://{}", &rest[at + 1..]),
            Some(format!("Basic {basic}")),
        );
    }
    (url.to_string(), None)
}

/// `url` with `user:token@` (for git and the other helpers).
pub fn with_token(url: &str, user: &str, token: &str) -> String {
    let (plain, _) = split_credentials(url);
    plain.replacen("http://", &format!("http://{user}:{token}@"), 1)
}

/// Logs to stderr when `GUTS_LOG` is set (`GUTS_LOG=debug cargo test ...`).
fn log_if_asked() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_env("GUTS_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_test_writer()
                .try_init();
        }
    });
}

/// A plain HTTP request; returns the status and the body (JSON if it parses, else a string).
pub fn http(method: &str, url: &str, body: Option<Value>) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    let (url, auth) = split_credentials(url);
    assert!(
        matches!(method, "GET" | "DELETE" | "POST" | "PATCH" | "PUT"),
        "unsupported request {method}"
    );
    let mut req = ureq::http::Request::builder().method(method).uri(&url);
    if let Some(a) = &auth {
        req = req.header("Authorization", a);
    }
    let resp = match body {
        Some(b) => agent.run(
            req.header("Content-Type", "application/json")
                .body(serde_json::to_vec(&b).expect("json"))
                .expect("request"),
        ),
        None => agent.run(req.body(()).expect("request")),
    };
    let mut resp = resp.expect("request");
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, v)
}

/// An agent that answers any status and waits a minute at most.
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// A response's status, headers and body bytes.
fn parts(mut resp: ureq::http::Response<ureq::Body>) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let bytes = resp
        .body_mut()
        .with_config()
        .limit(1 << 30)
        .read_to_vec()
        .unwrap_or_default();
    (status, headers, bytes)
}

/// A GET (credentials in the URL become Basic auth); returns the status, the headers
/// (names lower-case) and the body bytes.
pub fn get_raw(url: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let (url, auth) = split_credentials(url);
    let mut req = agent().get(&url);
    if let Some(a) = auth {
        req = req.header("Authorization", &a);
    }
    parts(req.call().expect("request"))
}

/// A raw POST with a content type; returns the status, headers and body bytes.
pub fn post_raw(
    url: &str,
    content_type: &str,
    extra: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let (url, auth) = split_credentials(url);
    let mut req = agent().post(&url).header("Content-Type", content_type);
    if let Some(a) = auth {
        req = req.header("Authorization", &a);
    }
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    parts(req.send(body).expect("request"))
}

/// Runs git in `dir` with a clean environment; returns its output.
pub fn git_output(dir: &Path, args: &[&str]) -> Output {
    Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_AUTHOR_NAME", "Test Author")
        .env("GIT_AUTHOR_EMAIL", "author@example.com")
        .env("GIT_COMMITTER_NAME", "Test Committer")
        .env("GIT_COMMITTER_EMAIL", "committer@example.com")
        .stdin(Stdio::null())
        .output()
        .expect("run git")
}

/// Runs git and panics with its stderr if it fails; returns stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = git_output(dir, args);
    assert!(
        out.status.success(),
        "git {args:?} failed in {}:\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs git expecting failure; returns stderr.
pub fn git_fails(dir: &Path, args: &[&str]) -> String {
    let out = git_output(dir, args);
    assert!(!out.status.success(), "git {args:?} should have failed");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `git for-each-ref` of a repository as (ref, id) lines, sorted.
pub fn local_refs(dir: &Path, pattern: &str) -> Vec<String> {
    let out = git(
        dir,
        &["for-each-ref", "--format=%(objectname) %(refname)", pattern],
    );
    let mut v: Vec<String> = out.lines().map(str::to_string).collect();
    v.sort();
    v
}

/// `git ls-remote URL` as (id ref) lines for refs/*, sorted.
pub fn remote_refs(url: &str, proto: &str) -> Vec<String> {
    let out = git(
        Path::new("."),
        &[
            "-c",
            &format!("protocol.version={proto}"),
            "ls-remote",
            "--refs",
            url,
        ],
    );
    let mut v: Vec<String> = out.lines().map(|l| l.replace('\t', " ")).collect();
    v.sort();
    v
}

/// Every object id of a repository (`git cat-file --batch-all-objects`), sorted.
pub fn all_objects(dir: &Path) -> Vec<String> {
    let out = git(
        dir,
        &[
            "cat-file",
            "--batch-all-objects",
            "--batch-check=%(objectname)",
        ],
    );
    out.lines().map(str::to_string).collect()
}

/// Creates user `name` as `node`'s administrator (through the API); returns their first
/// token.
pub fn new_user(node: &TestNode, name: &str) -> String {
    let (status, body) = http(
        "POST",
        &format!("{}/api/v1/users", node.url),
        Some(serde_json::json!({ "name": name })),
    );
    assert_eq!(status, 201, "create user {name}: {body}");
    body["token"].as_str().expect("token").to_string()
}

/// Makes a work tree with `commits` commits on main, a branch and tags.
pub fn make_repo(dir: &Path, commits: usize) {
    git(dir, &["init", "-q", "-b", "main"]);
    commit_files(dir, "main", 0, commits);
}

/// A `master` repository with 12 commits and `n` branches and `n` tags besides; returns
/// master's tip.
pub fn master_repo(dir: &Path, n: usize) -> String {
    git(dir, &["init", "-q", "-b", "master"]);
    commit_files(dir, "master", 0, 12);
    let mut refs = String::new();
    let log = git(dir, &["rev-list", "master"]);
    let commits: Vec<&str> = log.lines().collect();
    for i in 0..n {
        let at = commits[i % commits.len()];
        refs += &format!("create refs/heads/feature/b{i:03} {at}\n");
        refs += &format!("create refs/tags/v0.{i} {at}\n");
    }
    update_refs(dir, &refs);
    git(dir, &["rev-parse", "master"]).trim().to_string()
}

/// Runs `git update-ref --stdin` in `dir` with `script` (one `create REF ID` per line):
/// thousands of refs in one process.
pub fn update_refs(dir: &Path, script: &str) {
    let mut child = std::process::Command::new("git")
        .args(["update-ref", "--stdin"])
        .current_dir(dir)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("git update-ref");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), script.as_bytes())
        .expect("write refs");
    assert!(child.wait().expect("update-ref").success());
}

/// Adds `n` commits, numbered from `from`, each changing a few files.
pub fn commit_files(dir: &Path, tag: &str, from: usize, n: usize) {
    for i in from..from + n {
        let body: String = (0..50)
            .map(|l| format!("{tag} line {l} version {i}\n"))
            .collect();
        std::fs::write(dir.join(format!("file-{}.txt", i % 7)), body).expect("write");
        std::fs::create_dir_all(dir.join("sub/dir")).expect("mkdir");
        std::fs::write(dir.join("sub/dir/notes.md"), format!("notes {i}\n")).expect("write");
        git(dir, &["add", "-A"]);
        let date = format!("{} +0000", 1_700_000_000 + i * 3600);
        let out = Command::new("git")
            .args(["commit", "-q", "-m", &format!("{tag} commit {i}")])
            .current_dir(dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "A")
            .env("GIT_AUTHOR_EMAIL", "a@example.com")
            .env("GIT_COMMITTER_NAME", "C")
            .env("GIT_COMMITTER_EMAIL", "c@example.com")
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .output()
            .expect("commit");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `git pack-objects --stdout` in `dir` fed `input` (object ids one per line, or revisions
/// with `revs`); returns the pack.
pub fn pack_objects(dir: &Path, input: &str, revs: bool) -> Vec<u8> {
    use std::io::Write;
    let mut cmd = Command::new("git");
    cmd.args(["pack-objects", "--stdout", "-q"])
        .current_dir(dir);
    if revs {
        cmd.arg("--revs");
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("git pack-objects");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write to pack-objects");
    let out = child.wait_with_output().expect("pack-objects output");
    assert!(out.status.success(), "git pack-objects failed");
    out.stdout
}

/// `len` incompressible bytes (xorshift; the same every time).
pub fn random_bytes(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Polls `f` until it returns true or `timeout` passes.
pub fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `tests/py/clients.py` (dulwich and pygit2) with `args`; panics with its output if
/// it fails.
pub fn py_clients(args: &[&str]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("py/clients.py");
    let out = Command::new("python3")
        .arg(&script)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "clients.py {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A fresh temp dir.
pub fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

/// `dir/name` as a string.
pub fn sub(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

/// `/api/v1{path}` on `node`, with `token` (any user name) when given.
pub fn api_url(node: &TestNode, path: &str, token: Option<&str>) -> String {
    let u = format!("{}/api/v1{path}", node.anon_url);
    match token {
        Some(t) => with_token(&u, "x", t),
        None => u,
    }
}

/// Writes `text` to `file` in work tree `w` and commits everything with `msg`.
pub fn commit_text(w: &Path, file: &str, text: &str, msg: &str) {
    std::fs::write(w.join(file), text).expect("write");
    git(w, &["add", "."]);
    git(w, &["commit", "-q", "-m", msg]);
}
