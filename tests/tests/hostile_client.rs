//! Clients that try to take more than their share or send garbage, over real sockets: a gzip
//! bomb, writes to the node's own `refs/guts/`, made-up HTTP methods that would grow
//! `/metrics`, framework rejections that must still be JSON, and input echoed back in errors.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use guts_tests::{TestNode, git, http, make_repo, post_raw, remote_refs, sub, tmp};

fn pkt(s: &str) -> String {
    format!("{:04x}{s}", s.len() + 4)
}

const RP: &str = "application/x-git-receive-pack-request";
const UP: &str = "application/x-git-upload-pack-request";

/// Runs `program args` with `input` on stdin; returns stdout.
fn pipe(dir: &Path, program: &str, args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    let feeder = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().expect("output");
    feeder.join().expect("feeder").expect("write stdin");
    assert!(out.status.success(), "{program} {args:?} failed");
    out.stdout
}

#[test]
fn a_gzip_bomb_is_refused_and_changes_nothing() {
    let node = TestNode::start();
    let url = node.create_repo("alice", "bomb");
    let t = tmp();
    let src = sub(t.path(), "src");
    std::fs::create_dir(&src).expect("mkdir");
    git(&src, &["init", "-q", "-b", "main"]);
    // 64 MB of zeros stored uncompressed in the pack: gzip shrinks it about 1,000 times.
    std::fs::write(src.join("zeros"), vec![0u8; 64 << 20]).expect("write");
    git(&src, &["add", "-A"]);
    git(
        &src,
        &[
            "-c",
            "user.name=A",
            "-c",
            "user.email=a@example.com",
            "commit",
            "-qm",
            "zeros",
        ],
    );
    let head = git(&src, &["rev-parse", "HEAD"]).trim().to_string();
    let pack = pipe(
        &src,
        "git",
        &[
            "-c",
            "pack.compression=0",
            "pack-objects",
            "--stdout",
            "-q",
            "--revs",
        ],
        b"main\n",
    );
    assert!(pack.len() > 64 << 20);
    let zero = "0".repeat(40);
    let mut body = format!(
        "{}0000",
        pkt(&format!("{zero} {head} refs/heads/main\0report-status\n"))
    )
    .into_bytes();
    body.extend_from_slice(&pack);
    let gz = pipe(&src, "gzip", &["-c", "-9"], &body);
    assert!(gz.len() < 1 << 20, "the bomb is small: {}", gz.len());
    let (status, _, out) = post_raw(
        &format!("{url}/git-receive-pack"),
        RP,
        &[("Content-Encoding", "gzip")],
        &gz,
    );
    let text = String::from_utf8_lossy(&out);
    assert!(
        status == 400 || (status == 200 && !text.contains("unpack ok")),
        "{status}: {text}"
    );
    assert!(
        text.contains("inflates more than"),
        "a clear message: {text}"
    );
    assert!(remote_refs(&url, "2").is_empty(), "nothing changed");

    // The same push, not compressed, is an ordinary 64 MB push and goes through.
    let (status, _, out) = post_raw(&format!("{url}/git-receive-pack"), RP, &[], &body);
    let text = String::from_utf8_lossy(&out);
    assert_eq!(status, 200);
    assert!(
        text.contains("unpack ok") && text.contains("ok refs/heads/main"),
        "{text}"
    );
}

#[test]
fn pushes_to_refs_guts_are_refused() {
    let node = TestNode::start();
    let url = node.create_repo("alice", "guts-refs");
    let t = tmp();
    let src = sub(t.path(), "src");
    std::fs::create_dir(&src).expect("mkdir");
    make_repo(&src, 2);
    for proto in ["2", "0"] {
        let out = guts_tests::git_output(
            &src,
            &[
                "-c",
                &format!("protocol.version={proto}"),
                "push",
                &url,
                "main:refs/guts/conflicts/refs/heads/main/0123",
                "main:refs/heads/main",
            ],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(stderr.contains("reserved for the node"), "{stderr}");
    }
    let refs = remote_refs(&url, "2");
    assert!(refs.iter().all(|r| !r.contains("refs/guts/")), "{refs:?}");
    assert!(
        refs.iter().any(|r| r.ends_with("refs/heads/main")),
        "{refs:?}"
    );
}

/// Sends one raw HTTP/1.1 request and returns the status line.
fn raw_request(addr: &str, request: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(request.as_bytes()).expect("send");
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).unwrap_or(0);
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

#[test]
fn made_up_methods_do_not_grow_metrics() {
    let node = TestNode::start();
    let addr = node.anon_url.trim_start_matches("http://").to_string();
    let size = || {
        http("GET", &format!("{}/metrics", node.url), None)
            .1
            .to_string()
            .len()
    };
    let send = |i: usize| {
        let line = raw_request(
            &addr,
            &format!("MADEUP{i} /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        );
        assert!(line.starts_with("HTTP/1.1 405"), "{line}");
    };
    // The first made-up method adds the series for "other"; 299 more add nothing.
    // (And the first /metrics request adds its own.)
    send(0);
    size();
    let before = size();
    for i in 1..300 {
        send(i);
    }
    let (_, metrics) = http("GET", &format!("{}/metrics", node.url), None);
    let metrics = metrics.as_str().unwrap_or_default().to_string();
    assert!(!metrics.contains("MADEUP"), "method strings became labels");
    assert!(metrics.contains("method=\"other\""), "counted as other");
    assert!(size() < before + 100, "{before} -> {}", size());
}

#[test]
fn framework_rejections_are_json_and_name_what_is_missing() {
    let node = TestNode::start();
    let api = format!("{}/api/v1", node.url);
    for (method, path, status) in [
        ("GET", "/user/keys/abc", 400),
        ("DELETE", "/user/tokens/not-a-number", 400),
        ("GET", "/repos?page=abc", 400),
    ] {
        let (s, body) = http(method, &format!("{api}{path}"), None);
        assert_eq!(s, status, "{path}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{path}: {body}"
        );
    }
    // A body that is not JSON, and a method a route does not take.
    let (s, _, out) = post_raw(&format!("{api}/repos"), "application/json", &[], b"{nope");
    let v: serde_json::Value = serde_json::from_slice(&out).expect("JSON");
    assert!(s == 400 || s == 422, "{s}");
    assert!(v["error"].is_string(), "{v}");
    let (s, body) = http("PUT", &format!("{api}/repos"), None);
    assert_eq!(s, 405);
    assert!(body["error"].is_string(), "{body}");

    let (s, body) = http("GET", &format!("{api}/repos/alice/myrepo"), None);
    assert_eq!(s, 404);
    assert_eq!(body["error"], "repository not found: alice/myrepo");
    let (s, body) = http("GET", &format!("{api}/users/nobody"), None);
    assert_eq!(s, 404);
    assert_eq!(body["error"], "user not found: nobody");
}

#[test]
fn errors_quote_little_of_what_the_client_sent() {
    let node = TestNode::start();
    let url = node.create_repo("alice", "echo");
    let t = tmp();
    let src = sub(t.path(), "src");
    std::fs::create_dir(&src).expect("mkdir");
    make_repo(&src, 2);
    git(&src, &["push", "-q", &url, "main"]);
    let head = git(&src, &["rev-parse", "HEAD"]).trim().to_string();
    let long = "x".repeat(60_000);
    let body = format!(
        "{}0001{}{}{}0000",
        pkt("command=fetch\n"),
        pkt(&format!("want {head}\n")),
        pkt(&format!("deepen-not {long}\n")),
        pkt("done\n")
    );
    let (_, _, out) = post_raw(
        &format!("{url}/git-upload-pack"),
        UP,
        &[("Git-Protocol", "version=2")],
        body.as_bytes(),
    );
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("deepen-not"), "{text}");
    assert!(out.len() < 1_000, "echoed {} bytes", out.len());
    // A malformed command line of 60 KB, in a push.
    let body = format!("{}0000", pkt(&format!("{long}\0report-status\n")));
    let (s, _, out) = post_raw(&format!("{url}/git-receive-pack"), RP, &[], body.as_bytes());
    assert_eq!(s, 400);
    assert!(out.len() < 1_000, "echoed {} bytes", out.len());
}
