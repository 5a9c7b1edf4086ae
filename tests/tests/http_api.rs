//! The HTTP surface without git: REST (create, list with pages, get, update, delete, and
//! its errors), health probes, metrics, Smart HTTP headers and path forms, and bad input
//! (malformed pkt-lines, corrupt packs, missing bases, stale old ids, invalid names), each
//! answered clearly and leaving the repository unchanged.

use std::path::Path;

use guts_tests::{TestNode, git, http, make_repo, post_raw, remote_refs, sub, tmp};
use serde_json::json;

#[test]
fn rest_repositories() {
    let node = TestNode::start();
    let api = format!("{}/api/v1/repos", node.url);
    let (s, body) = http(
        "POST",
        &api,
        Some(
            json!({"owner": "alice", "name": "app", "description": "d", "default_branch": "trunk"}),
        ),
    );
    assert_eq!(s, 201, "{body}");
    assert_eq!(body["default_branch"], "trunk");
    let (s, body) = http("POST", &api, Some(json!({"owner": "alice", "name": "app"})));
    assert_eq!(s, 409);
    assert!(body["error"].is_string());
    for bad in [
        json!({"owner": "alice", "name": "../x"}),
        json!({"owner": "a/b", "name": "x"}),
        json!({"owner": "alice", "name": ""}),
        json!({"owner": "alice"}),
        json!({"owner": "alice", "name": "x", "bogus": 1}),
    ] {
        let (s, body) = http("POST", &api, Some(bad.clone()));
        assert_eq!(s, 422, "{bad} -> {body}");
        assert!(body["error"].is_string());
    }
    // Pages.
    for i in 0..5 {
        node.create_repo("bob", &format!("r{i}"));
    }
    let (s, page1) = http("GET", &format!("{api}?per_page=4"), None);
    assert_eq!(s, 200);
    let (_, page2) = http("GET", &format!("{api}?per_page=4&page=2"), None);
    let names: Vec<String> = page1
        .as_array()
        .expect("array")
        .iter()
        .chain(page2.as_array().expect("array"))
        .map(|r| r["full_name"].as_str().expect("name").to_string())
        .collect();
    assert_eq!(
        names,
        [
            "alice/app",
            "bob/r0",
            "bob/r1",
            "bob/r2",
            "bob/r3",
            "bob/r4"
        ]
    );
    assert_eq!(http("GET", &format!("{api}?per_page=1000"), None).0, 422);
    // The same under /api.
    assert_eq!(
        http("GET", &format!("{}/api/repos/alice/app", node.url), None).0,
        200
    );

    // Get, with refs after a push.
    let t = tmp();
    let src = sub(t.path(), "src");
    std::fs::create_dir(&src).expect("mkdir");
    make_repo(&src, 2);
    git(
        &src,
        &[
            "push",
            "-q",
            &format!("{}/alice/app.git", node.url),
            "main:trunk",
        ],
    );
    let (s, repo) = http("GET", &format!("{api}/alice/app"), None);
    assert_eq!(s, 200);
    let head = git(&src, &["rev-parse", "main"]);
    assert_eq!(repo["refs"]["refs/heads/trunk"], head.trim());
    assert_eq!(repo["head"]["id"], head.trim());
    assert!(repo["size"].as_u64().expect("size") > 0);

    // Update and delete.
    let (s, upd) = http(
        "PATCH",
        &format!("{api}/alice/app"),
        Some(json!({"description": "new", "private": true})),
    );
    assert_eq!(s, 200, "{upd}");
    assert_eq!(upd["description"], "new");
    assert_eq!(
        http(
            "PATCH",
            &format!("{api}/alice/app"),
            Some(json!({"default_branch": "a..b"}))
        )
        .0,
        422
    );
    assert_eq!(
        http(
            "PATCH",
            &format!("{api}/alice/nope"),
            Some(json!({"description": "x"}))
        )
        .0,
        404
    );
    assert_eq!(http("DELETE", &format!("{api}/alice/app"), None).0, 204);
    assert_eq!(http("GET", &format!("{api}/alice/app"), None).0, 404);
    assert_eq!(http("DELETE", &format!("{api}/alice/app"), None).0, 404);
    let (s, body) = http(
        "GET",
        &format!(
            "{}/alice/app.git/info/refs?service=git-upload-pack",
            node.url
        ),
        None,
    );
    assert_eq!(s, 404, "{body}");
}

#[test]
fn health_and_metrics() {
    let node = TestNode::start();
    for p in ["/health/live", "/health/ready", "/health/startup"] {
        assert_eq!(http("GET", &format!("{}{p}", node.url), None).0, 200, "{p}");
    }
    let (s, h) = http("GET", &format!("{}/health", node.url), None);
    assert_eq!(s, 200);
    assert_eq!(h["status"], "ok");
    assert_eq!(h["components"]["store"]["status"], "ok");
    let url = node.create_repo("alice", "m");
    let t = tmp();
    let src = sub(t.path(), "src");
    std::fs::create_dir(&src).expect("mkdir");
    make_repo(&src, 3);
    git(&src, &["push", "-q", &url, "main"]);
    git(
        Path::new("."),
        &[
            "clone",
            "-q",
            &url,
            sub(t.path(), "c").to_str().expect("utf-8"),
        ],
    );
    let (s, m) = http("GET", &format!("{}/metrics", node.url), None);
    assert_eq!(s, 200);
    let m = m.as_str().expect("text").to_string();
    for needle in [
        &"guts_http_requests_total{route=\"/{owner}/{repo}/git-receive-pack\",method=\"POST\",status=\"200\"} 1".to_string(),
        &"guts_pushes_total{result=\"ok\"} 1".to_string(),
        &"guts_fetches_total{result=\"ok\"} 1".to_string(),
        &"guts_repositories 1".to_string(),
        &"guts_http_request_duration_seconds_bucket".to_string(),
        &"guts_git_received_bytes_total".to_string(),
        &"guts_git_sent_bytes_total".to_string(),
        &format!("guts_objects_stored {}", guts_tests::all_objects(&src).len()),
        &"guts_packs_stored 1".to_string(),
    ] {
        assert!(m.contains(needle.as_str()), "missing {needle} in\n{m}");
    }
}

#[test]
fn smart_http_headers_and_paths() {
    let node = TestNode::start();
    let url = node.create_repo("alice", "paths");
    let t = tmp();
    let src = sub(t.path(), "src");
    std::fs::create_dir(&src).expect("mkdir");
    make_repo(&src, 2);
    git(&src, &["push", "-q", &url, "main"]);
    let expected = remote_refs(&url, "2");
    for form in [
        "/alice/paths",
        "/alice/paths.git",
        "/git/alice/paths",
        "/repos/alice/paths.git",
    ] {
        for proto in ["2", "0"] {
            assert_eq!(
                remote_refs(&format!("{}{form}", node.url), proto),
                expected,
                "{form} v{proto}"
            );
        }
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let resp = agent
        .get(&format!("{url}/info/refs?service=git-upload-pack"))
        .call()
        .expect("get");
    assert_eq!(resp.status().as_u16(), 200);
    let h = resp.headers();
    assert_eq!(
        h["content-type"],
        "application/x-git-upload-pack-advertisement"
    );
    assert_eq!(h["cache-control"], "no-cache, max-age=0, must-revalidate");
    assert_eq!(h["pragma"], "no-cache");
    let mut resp = agent.get(&format!("{url}/HEAD")).call().expect("get");
    assert_eq!(
        resp.body_mut().read_to_string().expect("body"),
        "ref: refs/heads/main\n"
    );
    let resp = agent
        .get(&format!("{url}/info/refs?service=git-receive-pack"))
        .call()
        .expect("get");
    assert_eq!(
        resp.headers()["content-type"],
        "application/x-git-receive-pack-advertisement"
    );
    assert_eq!(
        agent
            .get(&format!("{url}/info/refs"))
            .call()
            .expect("get")
            .status()
            .as_u16(),
        403
    );
    assert_eq!(
        agent
            .get(&format!(
                "{}/alice/nope.git/info/refs?service=git-upload-pack",
                node.url
            ))
            .call()
            .expect("get")
            .status()
            .as_u16(),
        404
    );
    assert_eq!(
        agent
            .get(&format!(
                "{}/al..ice/x.git/info/refs?service=git-upload-pack",
                node.url
            ))
            .call()
            .expect("get")
            .status()
            .as_u16(),
        404
    );
}

fn pkt(s: &str) -> String {
    format!("{:04x}{s}", s.len() + 4)
}

#[test]
fn bad_input_changes_nothing() {
    let node = TestNode::start();
    let url = node.create_repo("alice", "bad");
    let t = tmp();
    let src = sub(t.path(), "src");
    std::fs::create_dir(&src).expect("mkdir");
    make_repo(&src, 3);
    git(&src, &["push", "-q", &url, "main"]);
    let before = remote_refs(&url, "2");
    let head = git(&src, &["rev-parse", "main"]).trim().to_string();
    let parent = git(&src, &["rev-parse", "main~1"]).trim().to_string();
    let zero = "0".repeat(40);
    let rp = format!("{url}/git-receive-pack");
    let rp_type = "application/x-git-receive-pack-request";
    let up_type = "application/x-git-upload-pack-request";

    // Malformed pkt-lines: a 400 before anything happens.
    for body in [&b"zzzz"[..], b"0003", b"00", b"ffffabc"] {
        let (s, _, out) = post_raw(&rp, rp_type, &[], body);
        assert_eq!(s, 400, "{:?} -> {}", body, String::from_utf8_lossy(&out));
        let (s, _, _) = post_raw(&format!("{url}/git-upload-pack"), up_type, &[], body);
        assert_eq!(s, 400);
    }
    let (s, _, _) = post_raw(
        &format!("{url}/git-upload-pack"),
        up_type,
        &[("Git-Protocol", "version=2")],
        format!("{}0000", pkt("command=frobnicate\n")).as_bytes(),
    );
    assert_eq!(s, 400);
    // Wrong content type.
    assert_eq!(post_raw(&rp, "text/plain", &[], b"0000").0, 415);
    // The 4-byte probe.
    let (s, _, out) = post_raw(&rp, rp_type, &[], b"0000");
    assert_eq!((s, out.len()), (200, 0));

    let report = |body: Vec<u8>| -> String {
        let (s, _, out) = post_raw(&rp, rp_type, &[], &body);
        assert_eq!(s, 200);
        String::from_utf8_lossy(&out).into_owned()
    };
    let command = |old: &str, new: &str, name: &str| -> Vec<u8> {
        format!(
            "{}0000",
            pkt(&format!("{old} {new} {name}\0report-status\n"))
        )
        .into_bytes()
    };
    let pack = std::process::Command::new("git")
        .args(["pack-objects", "--stdout", "-q", "--revs"])
        .current_dir(&src)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().expect("stdin").write_all(b"main\n")?;
            c.wait_with_output()
        })
        .expect("pack-objects")
        .stdout;
    // A stale old id.
    let r = report({
        let mut b = command(&parent, &head, "refs/heads/main");
        b.extend_from_slice(&pack);
        b
    });
    assert!(r.contains("ng refs/heads/main stale info"), "{r}");
    // An invalid ref name.
    let r = report(command(&zero, &head, "refs/heads/a..b"));
    assert!(r.contains("ng refs/heads/a..b"), "{r}");
    // A corrupt pack: garbage, and a real pack with one flipped byte.
    let mut b = command(&zero, &head, "refs/heads/new");
    b.extend_from_slice(b"PACK garbage");
    let r = report(b);
    assert!(
        r.contains("unpack ") && !r.contains("unpack ok") && r.contains("ng refs/heads/new"),
        "{r}"
    );
    let mut flipped = pack.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x40;
    let mut b = command(&zero, &head, "refs/heads/new");
    b.extend_from_slice(&flipped);
    let r = report(b);
    assert!(!r.contains("unpack ok"), "{r}");
    // A thin pack whose base this repository does not have.
    let other = sub(t.path(), "other");
    std::fs::create_dir(&other).expect("mkdir");
    git(&other, &["init", "-q", "-b", "main"]);
    guts_tests::commit_files(&other, "other", 0, 3);
    let thin = std::process::Command::new("sh")
        .arg("-c")
        .arg("printf 'main\\n^main~1\\n' | git pack-objects --stdout -q --revs --thin")
        .current_dir(&other)
        .output()
        .expect("pack-objects")
        .stdout;
    let other_head = git(&other, &["rev-parse", "main"]).trim().to_string();
    let mut b = command(&zero, &other_head, "refs/heads/thin");
    b.extend_from_slice(&thin);
    let r = report(b);
    assert!(
        !r.contains("unpack ok") || r.contains("ng refs/heads/thin"),
        "{r}"
    );
    // A ref to an object that is not there (no pack at all for it).
    let r = report({
        let mut b = command(&zero, &"1".repeat(40), "refs/heads/ghost");
        b.extend_from_slice(&pack);
        b
    });
    assert!(r.contains("ng refs/heads/ghost"), "{r}");
    assert_eq!(remote_refs(&url, "2"), before, "nothing changed");
    let c = sub(t.path(), "c");
    git(
        Path::new("."),
        &["clone", "-q", &url, c.to_str().expect("utf-8")],
    );
    git(&c, &["fsck", "--strict", "--no-progress"]);
    // Upload-pack: a want that is not here.
    let (s, _, out) = post_raw(
        &format!("{url}/git-upload-pack"),
        up_type,
        &[],
        format!(
            "{}0000{}",
            pkt(&format!("want {} side-band-64k\n", "2".repeat(40))),
            pkt("done\n")
        )
        .as_bytes(),
    );
    assert_eq!(s, 200);
    assert!(
        String::from_utf8_lossy(&out).contains("ERR upload-pack: not our ref"),
        "{}",
        String::from_utf8_lossy(&out)
    );
}

#[test]
fn concurrent_pushes_to_one_ref() {
    let node = TestNode::start();
    let url = node.create_repo("alice", "race");
    let t = tmp();
    let base = sub(t.path(), "base");
    std::fs::create_dir(&base).expect("mkdir");
    make_repo(&base, 2);
    git(&base, &["push", "-q", &url, "main"]);
    let clones: Vec<_> = (0..6)
        .map(|i| {
            let d = sub(t.path(), &format!("c{i}"));
            git(
                Path::new("."),
                &["clone", "-q", &url, d.to_str().expect("utf-8")],
            );
            guts_tests::commit_files(&d, &format!("c{i}"), 10 + i, 1);
            d
        })
        .collect();
    let results: Vec<bool> = std::thread::scope(|s| {
        let hs: Vec<_> = clones
            .iter()
            .map(|d| {
                s.spawn(move || {
                    guts_tests::git_output(d, &["push", "-q", "origin", "main"])
                        .status
                        .success()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().expect("join")).collect()
    });
    assert_eq!(
        results.iter().filter(|ok| **ok).count(),
        1,
        "exactly one wins: {results:?}"
    );
    let winner = clones
        .iter()
        .zip(&results)
        .find(|(_, ok)| **ok)
        .map(|(d, _)| d)
        .expect("winner");
    let tip = git(winner, &["rev-parse", "main"]).trim().to_string();
    assert!(remote_refs(&url, "2").contains(&format!("{tip} refs/heads/main")));
    let c = sub(t.path(), "check");
    git(
        Path::new("."),
        &["clone", "-q", &url, c.to_str().expect("utf-8")],
    );
    git(&c, &["fsck", "--strict", "--no-progress"]);
}

/// Every item of a list, following `Link: <...>; rel="next"` from `first`; and how many
/// pages that took.
fn follow_pages(node: &TestNode, first: &str) -> (Vec<serde_json::Value>, usize) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let base = node.anon_url.clone();
    let mut url = format!("{base}{first}");
    let (mut items, mut pages) = (Vec::new(), 0);
    loop {
        let resp = agent
            .get(&url)
            .header("Authorization", &format!("Bearer {}", node.token))
            .call()
            .expect("request");
        assert_eq!(resp.status().as_u16(), 200, "{url}");
        let next = resp
            .headers()
            .get("link")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut resp = resp;
        let page: serde_json::Value =
            serde_json::from_str(&resp.body_mut().read_to_string().expect("body")).expect("json");
        items.extend(page.as_array().expect("array").iter().cloned());
        pages += 1;
        let Some(link) = next else {
            return (items, pages);
        };
        let target = link
            .strip_prefix('<')
            .and_then(|l| l.split_once(">; rel=\"next\""))
            .map(|(t, _)| t.to_string())
            .unwrap_or_else(|| panic!("malformed Link: {link}"));
        url = format!("{base}{target}");
    }
}

#[test]
fn every_list_pages_the_same_way() {
    let node = TestNode::start();
    let api = format!("{}/api/v1", node.url);
    for i in 0..12 {
        let (s, body) = http(
            "POST",
            &format!("{api}/users"),
            Some(json!({ "name": format!("u{i:02}") })),
        );
        assert_eq!(s, 201, "{body}");
    }
    let (s, _) = http(
        "POST",
        &format!("{api}/orgs"),
        Some(json!({ "name": "acme" })),
    );
    assert_eq!(s, 201);
    for i in 0..12 {
        let (s, body) = http(
            "PUT",
            &format!("{api}/orgs/acme/members/u{i:02}"),
            Some(json!({ "role": "member" })),
        );
        assert!((200..300).contains(&s), "{s} {body}");
    }
    for i in 0..7 {
        let (s, _) = http(
            "POST",
            &format!("{api}/user/tokens"),
            Some(json!({ "name": format!("t{i}") })),
        );
        assert_eq!(s, 201);
    }
    // Users (the administrator and twelve), members (the owner and twelve), tokens (the
    // first and seven): five per page, every item once, in order.
    for (list, total) in [
        ("/api/v1/users", 13),
        ("/api/v1/orgs/acme/members", 13),
        ("/api/v1/user/tokens", 8),
    ] {
        let (items, pages) = follow_pages(&node, &format!("{list}?per_page=5"));
        assert_eq!(items.len(), total, "{list}");
        assert_eq!(pages, total.div_ceil(5), "{list}");
        let mut seen: Vec<String> = items.iter().map(|i| i.to_string()).collect();
        seen.dedup();
        assert_eq!(seen.len(), total, "{list}: an item twice");
        // The same bounds everywhere, as JSON.
        for bad in ["per_page=0", "per_page=101", "page=0"] {
            let (s, body) = http("GET", &format!("{}{list}?{bad}", node.url), None);
            assert_eq!(s, 422, "{list}?{bad}: {body}");
            assert!(body["error"].is_string());
        }
        let (s, body) = http("GET", &format!("{}{list}?page=x", node.url), None);
        assert_eq!(s, 400, "{list}?page=x: {body}");
        assert!(body["error"].is_string());
    }
    // Thirty by default.
    let (items, pages) = follow_pages(&node, "/api/v1/users");
    assert_eq!((items.len(), pages), (13, 1));
}
