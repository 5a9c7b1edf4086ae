//! Accounts and access, end to end with the git CLI, plain HTTP and a WebSocket client:
//! credentials in the URL and through `git credential-store`, 401 prompts, read-only
//! collaborators, protected branches, private repositories hidden from anonymous callers
//! everywhere, tokens that replicate and are revoked across nodes, organizations and
//! teams, SSH keys checked against `ssh-keygen`, and slowed-down guessing.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use guts_tests::cluster::Cluster;
use guts_tests::ws::{WsClient, ws_url};
use guts_tests::{
    TestNode, commit_files, git, git_fails, git_output, http, make_repo, new_user, remote_refs,
    tmp, wait_for, with_token,
};
use serde_json::json;

const DEADLINE: Duration = Duration::from_secs(60);

/// Creates `owner/name` (private or not) as `token`'s user; returns the plain clone URL.
fn new_repo(node: &TestNode, token: &str, owner: &str, name: &str, private: bool) -> String {
    let (status, body) = http(
        "POST",
        &with_token(&format!("{}/api/v1/repos", node.anon_url), "x", token),
        Some(json!({ "owner": owner, "name": name, "private": private })),
    );
    assert_eq!(status, 201, "create {owner}/{name}: {body}");
    format!("{}/{owner}/{name}.git", node.anon_url)
}

fn api(node: &TestNode, path: &str, token: Option<&str>) -> String {
    let url = format!("{}/api/v1{path}", node.anon_url);
    match token {
        Some(t) => with_token(&url, "x", t),
        None => url,
    }
}

/// A work tree with two commits on main.
fn work_tree() -> tempfile::TempDir {
    let dir = tmp();
    make_repo(dir.path(), 2);
    dir
}

fn head(dir: &Path) -> String {
    git(dir, &["rev-parse", "HEAD"]).trim().to_string()
}

#[test]
fn git_authenticates_with_credentials_in_the_url_and_through_credential_store() {
    let node = TestNode::start();
    let ann = new_user(&node, "ann");
    let url = new_repo(&node, &ann, "ann", "app", false);
    let src = work_tree();

    // Credentials in the URL: git gets a 401, then sends them.
    git(
        src.path(),
        &["push", "-q", &with_token(&url, "ann", &ann), "main"],
    );
    assert_eq!(
        remote_refs(&url, "2"),
        vec![format!("{} refs/heads/main", head(src.path()))]
    );

    // Through a credential helper: `git credential-store` answers the prompt.
    commit_files(src.path(), "more", 10, 1);
    let store = tmp();
    let file = store.path().join("credentials");
    let host = node.anon_url.trim_start_matches("http://");
    std::fs::write(&file, format!("http://ann:{ann}@{host}\n")).expect("credentials");
    let helper = format!("credential.helper=store --file={}", file.display());
    for proto in ["2", "0"] {
        git(
            src.path(),
            &[
                "-c",
                &helper,
                "-c",
                &format!("protocol.version={proto}"),
                "push",
                "-q",
                &url,
                "main",
            ],
        );
    }
    assert_eq!(
        remote_refs(&url, "0"),
        vec![format!("{} refs/heads/main", head(src.path()))]
    );
    // A public repository clones without credentials.
    let clone = tmp();
    git(clone.path(), &["clone", "-q", &url, "c"]);
    git(&clone.path().join("c"), &["fsck", "--strict"]);
    assert_eq!(head(&clone.path().join("c")), head(src.path()));
}

#[test]
fn a_push_without_credentials_is_asked_for_them_and_fails_cleanly() {
    let node = TestNode::start();
    let url = new_repo(&node, &node.token, "admin", "app", false);
    let src = work_tree();
    for proto in ["2", "0"] {
        let err = git_fails(
            src.path(),
            &[
                "-c",
                &format!("protocol.version={proto}"),
                "push",
                &url,
                "main",
            ],
        );
        assert!(
            err.contains("could not read Username"),
            "git was not asked for credentials: {err}"
        );
    }
    assert!(remote_refs(&url, "2").is_empty(), "refs moved");
    // The answer git saw: 401 asking for Basic credentials.
    let resp = ureq_status(&format!("{url}/info/refs?service=git-receive-pack"), None);
    assert_eq!(resp.0, 401);
    assert_eq!(resp.1.as_deref(), Some("Basic realm=\"guts\""));
    // Wrong credentials: 401 too, and nothing changes.
    let err = git_fails(
        src.path(),
        &["push", &with_token(&url, "x", "guts_wrong"), "main"],
    );
    assert!(
        err.contains("401") || err.contains("Authentication failed"),
        "{err}"
    );
    assert!(remote_refs(&url, "2").is_empty(), "refs moved");
}

/// GET `url` with an optional Bearer token: the status and `WWW-Authenticate`.
fn ureq_status(url: &str, token: Option<&str>) -> (u16, Option<String>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut req = agent.get(url);
    if let Some(t) = token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    let resp = req.call().expect("request");
    let auth = resp
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (resp.status().as_u16(), auth)
}

#[test]
fn a_read_only_collaborator_reads_but_their_push_gets_403_and_changes_nothing() {
    let node = TestNode::start();
    let ann = new_user(&node, "ann");
    let bob = new_user(&node, "bob");
    let url = new_repo(&node, &ann, "ann", "secret", true);
    let src = work_tree();
    git(
        src.path(),
        &["push", "-q", &with_token(&url, "ann", &ann), "main"],
    );
    let before = remote_refs(&with_token(&url, "ann", &ann), "2");

    // Not a collaborator yet: the private repository does not exist for bob.
    let clone = tmp();
    let bob_url = with_token(&url, "bob", &bob);
    let err = git_fails(clone.path(), &["clone", "-q", &bob_url, "c"]);
    assert!(err.contains("not found") || err.contains("404"), "{err}");
    assert_eq!(
        http("GET", &api(&node, "/repos/ann/secret", Some(&bob)), None).0,
        404
    );

    let (status, body) = http(
        "PUT",
        &api(&node, "/repos/ann/secret/collaborators/bob", Some(&ann)),
        Some(json!({ "permission": "read" })),
    );
    assert_eq!(status, 204, "{body}");
    // Bob, as a reader, clones (v2 and v0) ...
    for proto in ["2", "0"] {
        let dir = clone.path().join(format!("c{proto}"));
        git(
            clone.path(),
            &[
                "-c",
                &format!("protocol.version={proto}"),
                "clone",
                "-q",
                &bob_url,
                dir.to_str().expect("utf-8"),
            ],
        );
        git(&dir, &["fsck", "--strict"]);
    }
    // ... but his push is refused with 403.
    let work = clone.path().join("c2");
    commit_files(&work, "bob", 20, 1);
    let err = git_fails(&work, &["push", &bob_url, "main"]);
    assert!(err.contains("403"), "expected 403: {err}");
    assert_eq!(
        remote_refs(&with_token(&url, "ann", &ann), "2"),
        before,
        "refs moved"
    );
    // Settings need admin.
    assert_eq!(
        http(
            "PATCH",
            &api(&node, "/repos/ann/secret", Some(&bob)),
            Some(json!({ "description": "mine now" }))
        )
        .0,
        403
    );
    assert_eq!(
        http("DELETE", &api(&node, "/repos/ann/secret", Some(&bob)), None).0,
        403
    );

    // Made a writer, the same push goes through.
    let (status, _) = http(
        "PUT",
        &api(&node, "/repos/ann/secret/collaborators/bob", Some(&ann)),
        Some(json!({ "permission": "write" })),
    );
    assert_eq!(status, 204);
    git(&work, &["push", "-q", &bob_url, "main"]);
    assert_eq!(
        remote_refs(&with_token(&url, "ann", &ann), "2"),
        vec![format!("{} refs/heads/main", head(&work))]
    );
    let (_, list) = http(
        "GET",
        &api(&node, "/repos/ann/secret/collaborators", Some(&ann)),
        None,
    );
    assert_eq!(list, json!([{ "login": "bob", "permission": "write" }]));
}

#[test]
fn a_read_scoped_token_clones_but_cannot_push() {
    let node = TestNode::start();
    let ann = new_user(&node, "ann");
    let url = new_repo(&node, &ann, "ann", "app", true);
    let src = work_tree();
    git(
        src.path(),
        &["push", "-q", &with_token(&url, "ann", &ann), "main"],
    );
    let (status, t) = http(
        "POST",
        &api(&node, "/user/tokens", Some(&ann)),
        Some(json!({ "name": "ci", "scopes": ["read"] })),
    );
    assert_eq!(status, 201, "{t}");
    let read = t["token"].as_str().expect("token").to_string();
    let read_url = with_token(&url, "ann", &read);
    let clone = tmp();
    git(clone.path(), &["clone", "-q", &read_url, "c"]);
    let err = git_fails(&clone.path().join("c"), &["push", &read_url, "main:other"]);
    assert!(err.contains("403"), "{err}");
    // It cannot mint tokens either; and an expired token no longer works.
    assert_eq!(
        http(
            "POST",
            &api(&node, "/user/tokens", Some(&read)),
            Some(json!({ "name": "x" }))
        )
        .0,
        403
    );
    let soon = guts_node::net::Wall::system().now_secs() + 2;
    let (_, t) = http(
        "POST",
        &api(&node, "/user/tokens", Some(&ann)),
        Some(json!({ "name": "short", "expires_at": soon })),
    );
    let short = t["token"].as_str().expect("token").to_string();
    assert_eq!(http("GET", &api(&node, "/user", Some(&short)), None).0, 200);
    wait_for("the token to expire", DEADLINE, || {
        http("GET", &api(&node, "/user", Some(&short)), None).0 == 401
    });
    // Listing shows ids and names, never secrets.
    let (_, list) = http("GET", &api(&node, "/user/tokens", Some(&ann)), None);
    let list = list.as_array().expect("array").clone();
    assert_eq!(list.len(), 3);
    assert!(
        list.iter()
            .all(|t| t.get("token").is_none() && t["id"].is_u64())
    );
}

#[test]
fn a_protected_branch_refuses_force_pushes_and_deletion_but_takes_fast_forwards() {
    let node = TestNode::start();
    let url = with_token(
        &new_repo(&node, &node.token, "admin", "app", false),
        "admin",
        &node.token,
    );
    let src = work_tree();
    git(src.path(), &["push", "-q", &url, "main", "main:release/1"]);
    for pattern in ["main", "release/*"] {
        let (status, body) = http(
            "POST",
            &api(&node, "/repos/admin/app/protections", Some(&node.token)),
            Some(json!({ "pattern": pattern })),
        );
        assert_eq!(status, 201, "{body}");
    }
    let before = remote_refs(&url, "2");
    // Rewrite main and force it.
    git(src.path(), &["reset", "-q", "--hard", "HEAD~1"]);
    commit_files(src.path(), "rewrite", 30, 1);
    for proto in ["2", "0"] {
        let out = git_output(
            src.path(),
            &[
                "-c",
                &format!("protocol.version={proto}"),
                "push",
                "--force",
                &url,
                "main",
            ],
        );
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("protected branch"), "{err}");
    }
    let err = git_fails(src.path(), &["push", &url, ":release/1"]);
    assert!(err.contains("protected branch"), "{err}");
    assert_eq!(remote_refs(&url, "2"), before, "refs moved");
    // A fast-forward is fine, and unprotected branches take force pushes.
    let ff = tmp();
    git(ff.path(), &["clone", "-q", &url, "c"]);
    let work = ff.path().join("c");
    commit_files(&work, "ff", 40, 1);
    git(&work, &["push", "-q", &url, "main"]);
    git(src.path(), &["push", "-q", "--force", &url, "main:topic"]);
    git(src.path(), &["push", "-q", "--force", &url, "main~1:topic"]);
    let (_, list) = http(
        "GET",
        &api(&node, "/repos/admin/app/protections", None),
        None,
    );
    assert_eq!(list.as_array().map(Vec::len), Some(2));
    // Removed, the rule no longer applies.
    assert_eq!(
        http(
            "DELETE",
            &api(
                &node,
                "/repos/admin/app/protections/main",
                Some(&node.token)
            ),
            None
        )
        .0,
        204
    );
    git(src.path(), &["push", "-q", "--force", &url, "main"]);
}

#[test]
fn a_private_repository_is_invisible_to_anonymous_callers_in_rest_git_and_websocket() {
    let node = TestNode::start();
    let ann = new_user(&node, "ann");
    let eve = new_user(&node, "eve");
    let hidden = new_repo(&node, &ann, "ann", "hidden", true);
    let open = new_repo(&node, &ann, "ann", "open", false);

    // WebSocket: an anonymous subscriber, one with eve's token, one with ann's.
    let mut anon = WsClient::connect(&ws_url(&node.anon_url, "channels=repo:*")).expect("anon");
    let mut stranger = WsClient::connect(&ws_url(
        &node.anon_url,
        &format!("channels=repo:*&access_token={eve}"),
    ))
    .expect("eve");
    let mut owner = WsClient::connect(&ws_url(
        &node.anon_url,
        &format!("channels=repo:*&access_token={ann}"),
    ))
    .expect("ann");
    for c in [&mut anon, &mut stranger, &mut owner] {
        c.expect("subscribed", DEADLINE);
    }

    let src = work_tree();
    git(
        src.path(),
        &["push", "-q", &with_token(&hidden, "ann", &ann), "main"],
    );
    git(
        src.path(),
        &["push", "-q", &with_token(&open, "ann", &ann), "main"],
    );
    let tip = head(src.path());
    let push = owner.event("push", DEADLINE);
    assert_eq!(push["repo"], "ann/hidden");
    assert_eq!(push["private"], true);
    assert_eq!(push["pusher"], "ann");
    assert_eq!(push["refs"][0]["new"], tip.as_str());
    assert_eq!(owner.event("push", DEADLINE)["repo"], "ann/open");
    // The others get the public push first: the private one never reached them.
    for c in [&mut anon, &mut stranger] {
        let first = c.event("push", DEADLINE);
        assert_eq!(first["repo"], "ann/open", "{first}");
    }
    // Resuming from the log filters the same way.
    let mut replay = WsClient::connect(&ws_url(&node.anon_url, "since=0")).expect("replay");
    let mut seen = Vec::new();
    while let Some(m) = replay.recv(Duration::from_secs(2)) {
        if m["type"] == "event" {
            seen.push(m["event"]["repo"].as_str().unwrap_or("").to_string());
        }
    }
    assert!(seen.contains(&"ann/open".to_string()), "{seen:?}");
    assert!(!seen.iter().any(|r| r == "ann/hidden"), "{seen:?}");

    // REST: not found, not listed; for eve too.
    for token in [None, Some(eve.as_str())] {
        assert_eq!(
            http("GET", &api(&node, "/repos/ann/hidden", token), None).0,
            404
        );
        let (_, list) = http("GET", &api(&node, "/repos", token), None);
        let names: Vec<&str> = list
            .as_array()
            .expect("array")
            .iter()
            .filter_map(|r| r["full_name"].as_str())
            .collect();
        assert_eq!(names, ["ann/open"]);
    }
    let (_, list) = http("GET", &api(&node, "/repos", Some(&ann)), None);
    assert_eq!(list.as_array().map(Vec::len), Some(2));

    // Git: anonymous callers are asked for credentials, exactly as for a missing
    // repository; eve gets "not found", as for a missing repository.
    let missing = format!("{}/ann/nothing.git", node.anon_url);
    for url in [&hidden, &missing] {
        assert_eq!(
            ureq_status(&format!("{url}/info/refs?service=git-upload-pack"), None).0,
            401
        );
        assert_eq!(
            ureq_status(
                &format!("{url}/info/refs?service=git-upload-pack"),
                Some(&eve)
            )
            .0,
            404
        );
        let err = git_fails(Path::new("."), &["ls-remote", url]);
        assert!(err.contains("could not read Username"), "{err}");
    }
    // Owner: fine.
    assert_eq!(remote_refs(&with_token(&hidden, "ann", &ann), "0").len(), 1);
}

#[test]
fn organizations_and_teams_give_their_members_access() {
    let node = TestNode::start();
    let olga = new_user(&node, "olga");
    let dan = new_user(&node, "dan");
    let (status, body) = http(
        "POST",
        &api(&node, "/orgs", Some(&olga)),
        Some(json!({ "name": "acme", "description": "Acme Inc." })),
    );
    assert_eq!(status, 201, "{body}");
    let url = new_repo(&node, &olga, "acme", "web", true);
    // A name taken by the organization cannot be a user's.
    let (status, _) = http(
        "POST",
        &format!("{}/api/v1/users", node.url),
        Some(json!({ "name": "acme" })),
    );
    assert_eq!(status, 409);
    // Dan: not a member, so no access; others may not change the organization.
    let dan_url = with_token(&url, "dan", &dan);
    assert!(git_fails(Path::new("."), &["ls-remote", &dan_url]).contains("not found"));
    assert_eq!(
        http(
            "PUT",
            &api(&node, "/orgs/acme/members/dan", Some(&dan)),
            None
        )
        .0,
        403
    );

    let (status, _) = http(
        "POST",
        &api(&node, "/orgs/acme/teams", Some(&olga)),
        Some(json!({ "name": "devs" })),
    );
    assert_eq!(status, 201);
    for (path, body) in [
        ("/orgs/acme/members/dan", None),
        ("/orgs/acme/teams/devs/members/dan", None),
        (
            "/orgs/acme/teams/devs/repos/acme/web",
            Some(json!({ "permission": "write" })),
        ),
    ] {
        let (status, b) = http("PUT", &api(&node, path, Some(&olga)), body);
        assert_eq!(status, 204, "{path}: {b}");
    }
    let src = work_tree();
    git(src.path(), &["push", "-q", &dan_url, "main"]);
    assert_eq!(
        remote_refs(&with_token(&url, "olga", &olga), "2"),
        vec![format!("{} refs/heads/main", head(src.path()))]
    );
    let (_, members) = http("GET", &api(&node, "/orgs/acme/members", None), None);
    assert_eq!(members.as_array().map(Vec::len), Some(2));
    let (_, repos) = http(
        "GET",
        &api(&node, "/orgs/acme/teams/devs/repos", None),
        None,
    );
    assert_eq!(
        repos,
        json!([{ "full_name": "acme/web", "permission": "write" }])
    );

    // Out of the team, a member only reads.
    assert_eq!(
        http(
            "DELETE",
            &api(&node, "/orgs/acme/teams/devs/members/dan", Some(&olga)),
            None
        )
        .0,
        204
    );
    commit_files(src.path(), "late", 50, 1);
    assert!(git_fails(src.path(), &["push", &dan_url, "main"]).contains("403"));
    assert_eq!(remote_refs(&dan_url, "2").len(), 1);

    // Back in the team he pushes; out of the organization, he is out of its teams too.
    let (status, _) = http(
        "PUT",
        &api(&node, "/orgs/acme/teams/devs/members/dan", Some(&olga)),
        None,
    );
    assert_eq!(status, 204);
    git(src.path(), &["push", "-q", &dan_url, "main"]);
    assert_eq!(
        http(
            "DELETE",
            &api(&node, "/orgs/acme/members/dan", Some(&olga)),
            None
        )
        .0,
        204
    );
    let (_, team) = http(
        "GET",
        &api(&node, "/orgs/acme/teams/devs/members", None),
        None,
    );
    assert_eq!(team, json!([]));
    assert!(git_fails(Path::new("."), &["ls-remote", &dan_url]).contains("not found"));
    // Added to a team, a user becomes a member of the organization.
    let (status, _) = http(
        "PUT",
        &api(&node, "/orgs/acme/teams/devs/members/dan", Some(&olga)),
        None,
    );
    assert_eq!(status, 204);
    let (_, members) = http("GET", &api(&node, "/orgs/acme/members", None), None);
    assert_eq!(members.as_array().map(Vec::len), Some(2));
    // Only owners create repositories in the organization.
    let (status, _) = http(
        "POST",
        &api(&node, "/repos", Some(&dan)),
        Some(json!({ "owner": "acme", "name": "mine" })),
    );
    assert_eq!(status, 403);
}

#[test]
fn a_token_made_on_one_node_works_on_another_until_it_is_revoked() {
    let c = Cluster::start(2);
    let (a, b) = (c.node(0), c.node(1));
    let tess = new_user(a, "tess");
    let (status, t) = http(
        "POST",
        &api(a, "/user/tokens", Some(&tess)),
        Some(json!({ "name": "laptop" })),
    );
    assert_eq!(status, 201);
    let laptop = t["token"].as_str().expect("token").to_string();
    let id = t["id"].as_u64().expect("id");
    new_repo(a, &tess, "tess", "app", false);

    // On B once replicated: the user, the token and the repository.
    wait_for("the token on B", DEADLINE, || {
        http("GET", &api(b, "/user", Some(&laptop)), None).0 == 200
    });
    wait_for("the repository on B", DEADLINE, || {
        http("GET", &api(b, "/repos/tess/app", None), None).0 == 200
    });
    let on_b = with_token(&format!("{}/tess/app.git", b.anon_url), "tess", &laptop);
    let src = work_tree();
    git(src.path(), &["push", "-q", &on_b, "main"]);
    // The push replicates back to A with its pusher.
    let on_a = format!("{}/tess/app.git", a.anon_url);
    wait_for("the push on A", DEADLINE, || {
        remote_refs(&on_a, "2").len() == 1
    });

    // A subscription on B with that token ...
    let mut sub = WsClient::connect(&ws_url(
        &b.anon_url,
        &format!("channels=repo:tess/app&access_token={laptop}"),
    ))
    .expect("subscribe on B");
    sub.expect("subscribed", DEADLINE);

    // Revoked on A: refused on B once B has the revocation.
    assert_eq!(
        http(
            "DELETE",
            &api(a, &format!("/user/tokens/{id}"), Some(&tess)),
            None
        )
        .0,
        204
    );
    // ... is closed as soon as the revocation arrives, well before B's next ping (20 s).
    assert!(
        sub.closed_within(Duration::from_secs(10)),
        "B kept the revoked token's subscription"
    );
    assert_eq!(http("GET", &api(a, "/user", Some(&laptop)), None).0, 401);
    wait_for("the revocation on B", DEADLINE, || {
        http("GET", &api(b, "/user", Some(&laptop)), None).0 == 401
    });
    commit_files(src.path(), "after", 60, 1);
    let err = git_fails(src.path(), &["push", &on_b, "main"]);
    assert!(
        err.contains("401") || err.contains("Authentication failed"),
        "{err}"
    );
    assert_eq!(remote_refs(&on_a, "2").len(), 1);
    assert_eq!(
        remote_refs(&on_a, "2")[0],
        format!(
            "{} refs/heads/main",
            git(src.path(), &["rev-parse", "HEAD~1"]).trim()
        )
    );

    // Permissions and protection rules set on A hold on B too.
    let uma = new_user(a, "uma");
    let (status, _) = http(
        "PUT",
        &api(a, "/repos/tess/app/collaborators/uma", Some(&tess)),
        Some(json!({ "permission": "write" })),
    );
    assert_eq!(status, 204);
    let (status, _) = http(
        "POST",
        &api(a, "/repos/tess/app/protections", Some(&tess)),
        Some(json!({ "pattern": "main" })),
    );
    assert_eq!(status, 201);
    wait_for("the rules on B", DEADLINE, || {
        let (_, p) = http("GET", &api(b, "/repos/tess/app/protections", None), None);
        let (_, c) = http("GET", &api(b, "/repos/tess/app/collaborators", None), None);
        p.as_array().is_some_and(|p| p.len() == 1)
            && c.as_array().is_some_and(|c| c.len() == 1)
            && http("GET", &api(b, "/user", Some(&uma)), None).0 == 200
    });
    let uma_b = with_token(&format!("{}/tess/app.git", b.anon_url), "uma", &uma);
    git(src.path(), &["push", "-q", &uma_b, "HEAD:refs/heads/uma"]);
    git(src.path(), &["reset", "-q", "--hard", "HEAD~2"]);
    let tess_b = with_token(&format!("{}/tess/app.git", b.anon_url), "tess", &tess);
    let err = git_fails(src.path(), &["push", "--force", &tess_b, "main"]);
    assert!(err.contains("protected branch"), "{err}");
    wait_for("uma's push on A", DEADLINE, || {
        remote_refs(&on_a, "2").len() == 2
    });
}

/// Makes a key pair with ssh-keygen; returns the public key line and its fingerprint as
/// `ssh-keygen -l` prints it.
fn ssh_key(dir: &Path, kind: &str, bits: Option<&str>) -> (String, String) {
    let file = dir.join(format!("id_{kind}_{}", bits.unwrap_or("")));
    let mut cmd = Command::new("ssh-keygen");
    cmd.args(["-q", "-N", "", "-C", "test@guts", "-t", kind, "-f"])
        .arg(&file);
    if let Some(b) = bits {
        cmd.args(["-b", b]);
    }
    assert!(cmd.status().expect("ssh-keygen").success());
    let public = std::fs::read_to_string(file.with_extension("pub")).expect("public key");
    let out = Command::new("ssh-keygen")
        .args(["-l", "-E", "sha256", "-f"])
        .arg(file.with_extension("pub"))
        .output()
        .expect("ssh-keygen -l");
    let listing = String::from_utf8_lossy(&out.stdout).to_string();
    let fp = listing
        .split_whitespace()
        .nth(1)
        .expect("fingerprint")
        .to_string();
    (public.trim().to_string(), fp)
}

#[test]
fn ssh_keys_of_each_type_are_validated_with_fingerprints_as_ssh_keygen_prints_them() {
    let node = TestNode::start();
    let ann = new_user(&node, "ann");
    let bob = new_user(&node, "bob");
    let dir = tmp();
    let keys = api(&node, "/user/keys", Some(&ann));
    let mut ids = Vec::new();
    for (kind, bits) in [
        ("ed25519", None),
        ("rsa", Some("2048")),
        ("rsa", Some("4096")),
        ("ecdsa", Some("256")),
        ("ecdsa", Some("384")),
        ("ecdsa", Some("521")),
    ] {
        let (public, fp) = ssh_key(dir.path(), kind, bits);
        let (status, body) = http(
            "POST",
            &keys,
            Some(json!({ "title": format!("{kind} {bits:?}"), "key": public })),
        );
        assert_eq!(status, 201, "{kind} {bits:?}: {body}");
        assert_eq!(body["fingerprint"], fp.as_str(), "{kind} {bits:?}");
        ids.push(body["id"].as_u64().expect("id"));

        // The same key again, by anyone: 409.
        let (status, _) = http(
            "POST",
            &api(&node, "/user/keys", Some(&bob)),
            Some(json!({ "title": "copy", "key": public })),
        );
        assert_eq!(status, 409, "{kind} duplicate");
    }
    let (_, list) = http("GET", &keys, None);
    assert_eq!(list.as_array().map(Vec::len), Some(6));

    // A short RSA key, bad keys, a missing or long title.
    let (short, _) = ssh_key(dir.path(), "rsa", Some("1024"));
    let (good, _) = ssh_key(dir.path(), "ed25519", Some("256"));
    let blob = good.split_whitespace().nth(1).expect("blob").to_string();
    let mut flipped = blob.clone().into_bytes();
    flipped[10] = if flipped[10] == b'A' { b'B' } else { b'A' };
    for bad in [
        short.clone(),
        "ssh-ed25519".to_string(),
        "not a key".to_string(),
        format!("ssh-rsa {blob}"),
        format!("ssh-ed25519 {}", &blob[..blob.len() - 8]),
        format!("ssh-ed25519 {}", String::from_utf8(flipped).expect("ascii")),
        format!("ssh-dss {blob}"),
    ] {
        let (status, body) = http("POST", &keys, Some(json!({ "title": "bad", "key": bad })));
        assert_eq!(status, 400, "{bad}: {body}");
    }
    for title in [json!(null), json!(""), json!("t".repeat(256))] {
        let (status, _) = http("POST", &keys, Some(json!({ "title": title, "key": good })));
        assert_eq!(status, 422, "title {title}");
    }
    assert_eq!(
        http(
            "POST",
            &keys,
            Some(json!({ "title": "t".repeat(255), "key": good }))
        )
        .0,
        201
    );

    // Get and delete, only one's own; under /api/user/keys too.
    let first = format!("/user/keys/{}", ids[0]);
    assert_eq!(http("GET", &api(&node, &first, Some(&ann)), None).0, 200);
    assert_eq!(http("GET", &api(&node, &first, Some(&bob)), None).0, 404);
    assert_eq!(http("DELETE", &api(&node, &first, Some(&bob)), None).0, 404);
    let legacy = with_token(&format!("{}/api{first}", node.anon_url), "x", &ann);
    assert_eq!(http("GET", &legacy, None).0, 200);
    assert_eq!(http("DELETE", &legacy, None).0, 204);
    assert_eq!(http("GET", &api(&node, &first, Some(&ann)), None).0, 404);
    assert_eq!(http("GET", &api(&node, "/user/keys", None), None).0, 401);
}

#[test]
fn many_wrong_tokens_from_one_address_are_slowed_down() {
    let node = TestNode::start();
    let url = api(&node, "/user", None);
    let failures = |n: &TestNode| n.metric("guts_auth_failures_total");
    let mut last = Duration::ZERO;
    for i in 0..9 {
        let started = Instant::now();
        let (status, _) = ureq_status(&url, Some(&format!("guts_guess{i}")));
        assert_eq!(status, 401);
        last = started.elapsed();
    }
    assert_eq!(failures(&node), 9.0);
    assert!(node.metric("guts_auth_throttled_total") >= 4.0);
    // The ninth guess waited at least the fourth doubling of the first wait (200 ms).
    assert!(last >= Duration::from_millis(1600), "waited {last:?}");
    // The right token (a good user behind the same address) works without waiting, but
    // does not reset the count: a guesser holding one good token gains nothing by using it
    // between guesses.
    let throttled = node.metric("guts_auth_throttled_total");
    let (status, body) = http("GET", &api(&node, "/user", Some(&node.token)), None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["login"], "admin");
    assert_eq!(
        node.metric("guts_auth_throttled_total"),
        throttled,
        "the good token was slowed down"
    );
    assert_eq!(ureq_status(&url, Some("guts_again")).0, 401);
    assert!(
        node.metric("guts_auth_throttled_total") > throttled,
        "the count was reset"
    );
}

#[test]
fn a_node_that_was_down_catches_up_on_thousands_of_account_records_by_anti_entropy() {
    // More records than one answer carries (4,096): B pages through them on its return,
    // having seen none of their announcements.
    let mut c = Cluster::start(2);
    let tom = new_user(c.node(0), "tom");
    wait_for("tom on B", DEADLINE, || {
        http("GET", &api(c.node(1), "/user", Some(&tom)), None).0 == 200
    });
    c.stop(1);
    let a = c.node(0);
    let mut made = Vec::new();
    for i in 0..4200 {
        let (status, t) = http(
            "POST",
            &api(a, "/user/tokens", Some(&tom)),
            Some(json!({ "name": format!("t{i}") })),
        );
        assert_eq!(status, 201, "{t}");
        made.push(t["token"].as_str().expect("token").to_string());
    }
    c.restart(1);
    let b = c.node(1);
    // 4,201 tokens at 100 a page: the 43rd page holds the last one alone.
    wait_for("every token on B", Duration::from_secs(120), || {
        let (_, last) = http(
            "GET",
            &api(b, "/user/tokens?per_page=100&page=43", Some(&tom)),
            None,
        );
        last.as_array().map(Vec::len) == Some(1)
    });
    let (_, past) = http(
        "GET",
        &api(b, "/user/tokens?per_page=100&page=44", Some(&tom)),
        None,
    );
    assert_eq!(past.as_array().map(Vec::len), Some(0));
    for t in [&made[0], &made[2100], &made[4199]] {
        assert_eq!(http("GET", &api(b, "/user", Some(t)), None).0, 200);
    }
}

#[test]
fn a_revoked_token_ends_its_websocket_subscription_and_late_privacy_hides_old_events() {
    let dir = tmp();
    let mut config = guts_node::NodeConfig::new(dir.path(), "127.0.0.1:0".parse().expect("addr"));
    config.hub = guts_node::events::HubConfig {
        ping_every: Duration::from_millis(200),
        ..guts_node::events::HubConfig::default()
    };
    let node = TestNode::start_with(dir, config);
    let ann = new_user(&node, "ann");
    let (_, t) = http(
        "POST",
        &api(&node, "/user/tokens", Some(&ann)),
        Some(json!({ "name": "watcher", "scopes": ["read"] })),
    );
    let watcher = t["token"].as_str().expect("token").to_string();
    let id = t["id"].as_u64().expect("id");
    let url = new_repo(&node, &ann, "ann", "app", false);
    let src = work_tree();
    git(
        src.path(),
        &["push", "-q", &with_token(&url, "ann", &ann), "main"],
    );

    // Made private later: its earlier (public) events are no longer replayed to strangers.
    let (status, _) = http(
        "PATCH",
        &api(&node, "/repos/ann/app", Some(&ann)),
        Some(json!({ "private": true })),
    );
    assert_eq!(status, 200);
    let mut replay = WsClient::connect(&ws_url(&node.anon_url, "since=0")).expect("replay");
    while let Some(m) = replay.recv(Duration::from_secs(1)) {
        assert_ne!(m["event"]["repo"], "ann/app", "replayed to a stranger: {m}");
    }

    // A subscription whose token is revoked is closed at the next ping.
    let mut sub = WsClient::connect(&ws_url(
        &node.anon_url,
        &format!("since=0&access_token={watcher}"),
    ))
    .expect("subscribe");
    assert_eq!(sub.event("push", DEADLINE)["repo"], "ann/app");
    assert_eq!(
        http(
            "DELETE",
            &api(&node, &format!("/user/tokens/{id}"), Some(&ann)),
            None
        )
        .0,
        204
    );
    assert!(
        sub.closed_within(DEADLINE),
        "still subscribed after revocation"
    );
}

#[test]
fn a_deleted_user_takes_their_tokens_and_grants_and_a_new_one_of_that_name_inherits_nothing() {
    let node = TestNode::start();
    let ann = new_user(&node, "ann");
    let bob = new_user(&node, "bob");
    new_repo(&node, &ann, "ann", "app", true);
    let (status, _) = http(
        "PUT",
        &api(&node, "/repos/ann/app/collaborators/bob", Some(&ann)),
        Some(json!({ "permission": "write" })),
    );
    assert_eq!(status, 204);
    let users = format!("{}/api/v1/users", node.url);
    // Owning repositories: refused.
    assert_eq!(http("DELETE", &format!("{users}/ann"), None).0, 409);
    // Not a site administrator: refused.
    assert_eq!(
        http("DELETE", &api(&node, "/users/bob", Some(&ann)), None).0,
        403
    );
    assert_eq!(http("DELETE", &format!("{users}/bob"), None).0, 204);
    assert_eq!(http("GET", &api(&node, "/user", Some(&bob)), None).0, 401);
    // A new bob: the old token does not work for him, nor the old collaborator grant.
    let bob2 = new_user(&node, "bob");
    assert_eq!(http("GET", &api(&node, "/user", Some(&bob)), None).0, 401);
    assert_eq!(
        http("GET", &api(&node, "/repos/ann/app", Some(&bob2)), None).0,
        404
    );
    let (_, list) = http(
        "GET",
        &api(&node, "/repos/ann/app/collaborators", Some(&ann)),
        None,
    );
    assert_eq!(list, json!([]));

    // Nobody claims the repositories of an owner without an account by naming an
    // organization after it.
    new_repo(&node, &node.token, "ghost", "old", false);
    let (status, _) = http(
        "POST",
        &api(&node, "/orgs", Some(&ann)),
        Some(json!({ "name": "ghost" })),
    );
    assert_eq!(status, 409);
}

#[test]
fn a_deleted_repositorys_grants_and_rules_do_not_pass_to_a_new_one_of_the_same_name() {
    let c = Cluster::start(2);
    let (n0, n1) = (c.node(0), c.node(1));
    let ann = new_user(n0, "ann");
    let bob = new_user(n0, "bob");
    let url = new_repo(n0, &ann, "ann", "app", true);
    let (s, _) = http(
        "PUT",
        &api(n0, "/repos/ann/app/collaborators/bob", Some(&ann)),
        Some(json!({ "permission": "write" })),
    );
    assert_eq!(s, 204);
    let (s, body) = http(
        "POST",
        &api(n0, "/repos/ann/app/protections", Some(&ann)),
        Some(json!({ "pattern": "main" })),
    );
    assert_eq!(s, 201, "{body}");
    // Bob may write, on both nodes.
    wait_for("bob's grant on node 1", DEADLINE, || {
        http("GET", &api(n1, "/repos/ann/app", Some(&bob)), None).0 == 200
    });

    let (s, _) = http("DELETE", &api(n0, "/repos/ann/app", Some(&ann)), None);
    assert_eq!(s, 204);
    let url2 = new_repo(n0, &ann, "ann", "app", true);
    assert_eq!(url, url2);
    let src = work_tree();
    git(
        src.path(),
        &["push", "-q", &with_token(&url, "ann", &ann), "main"],
    );

    // On both nodes: the new repository has no collaborators and no rules, and bob can
    // neither see it nor push to it.
    for node in [n0, n1] {
        wait_for(
            "the new repository, without the old grants",
            DEADLINE,
            || {
                let (s, list) = http(
                    "GET",
                    &api(node, "/repos/ann/app/collaborators", Some(&ann)),
                    None,
                );
                let (p, rules) = http(
                    "GET",
                    &api(node, "/repos/ann/app/protections", Some(&ann)),
                    None,
                );
                s == 200
                    && p == 200
                    && list.as_array().is_some_and(Vec::is_empty)
                    && rules.as_array().is_some_and(Vec::is_empty)
            },
        );
        assert_eq!(
            http("GET", &api(node, "/repos/ann/app", Some(&bob)), None).0,
            404
        );
        let bob_url = with_token(&format!("{}/ann/app.git", node.anon_url), "bob", &bob);
        let err = git_fails(src.path(), &["push", &bob_url, "main:refs/heads/bob"]);
        assert!(err.contains("404") || err.contains("not found"), "{err}");
    }
    // Without the rule, the owner may force-push main.
    git(src.path(), &["commit", "-q", "--amend", "-m", "rewritten"]);
    git(
        src.path(),
        &[
            "push",
            "-q",
            "--force",
            &with_token(&url, "ann", &ann),
            "main",
        ],
    );
}

#[test]
fn owner_and_repository_names_are_unique_without_regard_to_case() {
    let node = TestNode::start();
    let alice = new_user(&node, "alice");
    // A user or an organization named like alice, in other case.
    for (path, body) in [
        ("/users", json!({ "name": "ALICE" })),
        ("/orgs", json!({ "name": "Alice" })),
    ] {
        let (s, v) = http("POST", &api(&node, path, Some(&node.token)), Some(body));
        assert_eq!(s, 409, "{path}: {v}");
        assert!(
            v["error"].as_str().is_some_and(|e| e.contains("taken")),
            "{v}"
        );
    }
    new_repo(&node, &alice, "alice", "App", false);
    let (s, v) = http(
        "POST",
        &api(&node, "/repos", Some(&alice)),
        Some(json!({ "owner": "alice", "name": "app" })),
    );
    assert_eq!(s, 409, "{v}");
    assert!(
        v["error"].as_str().is_some_and(|e| e.contains("alice/App")),
        "names the existing one: {v}"
    );
    // Even a site administrator cannot make an owner that differs only in case.
    let (s, v) = http(
        "POST",
        &api(&node, "/repos", Some(&node.token)),
        Some(json!({ "owner": "ALICE", "name": "other" })),
    );
    assert_eq!(s, 409, "{v}");
    // Other names are fine.
    new_repo(&node, &alice, "alice", "app2", false);
}

#[test]
fn a_revoked_tokens_websocket_closes_at_once_and_hears_nothing_after() {
    let dir = tmp();
    let mut config = guts_node::NodeConfig::new(dir.path(), "127.0.0.1:0".parse().expect("addr"));
    // Pings too rare to be what closes it.
    config.hub = guts_node::events::HubConfig {
        ping_every: Duration::from_secs(600),
        ..guts_node::events::HubConfig::default()
    };
    let node = TestNode::start_with(dir, config);
    let ann = new_user(&node, "ann");
    let url = new_repo(&node, &ann, "ann", "live", true);
    let (_, t) = http(
        "POST",
        &api(&node, "/user/tokens", Some(&ann)),
        Some(json!({ "name": "watcher", "scopes": ["read"] })),
    );
    let watcher = t["token"].as_str().expect("token").to_string();
    let id = t["id"].as_u64().expect("id");
    let mut sub = WsClient::connect(&ws_url(
        &node.anon_url,
        &format!("channels=repo:ann/live&access_token={watcher}"),
    ))
    .expect("subscribe");
    sub.expect("subscribed", DEADLINE);
    let src = work_tree();
    git(
        src.path(),
        &["push", "-q", &with_token(&url, "ann", &ann), "main"],
    );
    assert_eq!(sub.event("push", DEADLINE)["repo"], "ann/live");

    let (s, _) = http(
        "DELETE",
        &api(&node, &format!("/user/tokens/{id}"), Some(&ann)),
        None,
    );
    assert_eq!(s, 204);
    // A push right after the revocation: its event must not reach the revoked subscriber.
    commit_files(src.path(), "after", 100, 1);
    git(
        src.path(),
        &["push", "-q", &with_token(&url, "ann", &ann), "main"],
    );
    let heard = sub
        .messages_until_closed(Duration::from_secs(30))
        .expect("closed long before the next ping");
    assert!(
        heard.iter().all(|m| m["type"] != "event"),
        "events after the revocation: {heard:?}"
    );
}

#[test]
fn an_organization_keeps_at_least_one_owner() {
    let node = TestNode::start();
    let olga = new_user(&node, "olga");
    new_user(&node, "dan");
    let (s, _) = http(
        "POST",
        &api(&node, "/orgs", Some(&olga)),
        Some(json!({ "name": "acme" })),
    );
    assert_eq!(s, 201);
    let member = |who: &str| api(&node, &format!("/orgs/acme/members/{who}"), Some(&olga));
    // The only owner can neither leave nor step down.
    let (s, v) = http("DELETE", &member("olga"), None);
    assert_eq!(s, 409, "{v}");
    assert!(
        v["error"]
            .as_str()
            .is_some_and(|e| e.contains("at least one owner")),
        "{v}"
    );
    let (s, _) = http("PUT", &member("olga"), Some(json!({ "role": "member" })));
    assert_eq!(s, 409);
    // With a second owner, she can.
    let (s, _) = http("PUT", &member("dan"), Some(json!({ "role": "owner" })));
    assert_eq!(s, 204);
    let (s, _) = http("PUT", &member("olga"), Some(json!({ "role": "member" })));
    assert_eq!(s, 204);
    let (s, _) = http("DELETE", &member("olga"), None);
    assert_eq!(s, 204);
    let (s, list) = http("GET", &api(&node, "/orgs/acme/members", Some(&olga)), None);
    assert_eq!(s, 200, "{list}");
    assert!(list.to_string().contains("dan"), "{list}");
}

/// Replaces the account record under `key` in the stopped node's store with bytes that do
/// not decode (a torn write, a bug, a disk fault).
fn corrupt_account_record(dir: &Path, key: &str) {
    let db = sled::open(dir.join("db")).expect("open sled");
    let accounts = db.open_tree("accounts").expect("accounts tree");
    assert!(
        accounts.get(key).expect("read").is_some(),
        "{key} is not there"
    );
    accounts
        .insert(key, &b"\xff\xfenot a record"[..])
        .expect("write");
    db.flush().expect("flush");
}

#[test]
fn an_account_record_that_cannot_be_read_fails_closed() {
    let node = TestNode::start();
    let bob = new_user(&node, "bob");
    let url = new_repo(&node, &node.token, "admin", "app", false);
    let admin_url = with_token(&url, "admin", &node.token);
    let src = work_tree();
    git(src.path(), &["push", "-q", &admin_url, "main"]);
    let (status, body) = http(
        "PUT",
        &api(
            &node,
            "/repos/admin/app/collaborators/bob",
            Some(&node.token),
        ),
        Some(json!({ "permission": "write" })),
    );
    assert!(
        status == 201 || status == 204 || status == 200,
        "{status} {body}"
    );
    let (status, body) = http(
        "POST",
        &api(&node, "/repos/admin/app/protections", Some(&node.token)),
        Some(json!({ "pattern": "main" })),
    );
    assert_eq!(status, 201, "{body}");
    let before = remote_refs(&url, "2");

    // The protection rule becomes unreadable.
    let dir = node.stop();
    corrupt_account_record(dir.path(), "protect/admin/app/main");
    let node = TestNode::start_in(dir);
    let url = format!("{}/admin/app.git", node.anon_url);
    let bob_url = with_token(&url, "bob", &bob);
    // A force push by a writer: the rule that would refuse it cannot be read, so the push
    // is refused (it used to pass as if main were unprotected).
    git(src.path(), &["reset", "-q", "--hard", "HEAD~1"]);
    commit_files(src.path(), "rewrite", 30, 1);
    let out = git_output(src.path(), &["push", "--force", &bob_url, "main"]);
    assert!(!out.status.success(), "the force push went through");
    assert_eq!(remote_refs(&url, "2"), before, "refs moved");
    // The API answers 500 (the cause goes to the log), not an empty list.
    let (status, body) = http(
        "GET",
        &api(&node, "/repos/admin/app/protections", None),
        None,
    );
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["error"], "internal error");

    // Bob's collaborator record becomes unreadable too: his push is refused, and so is
    // the anonymous-looking fallback (he is not treated as a stranger who may read).
    let dir = node.stop();
    corrupt_account_record(dir.path(), "collab/admin/app/bob");
    let node = TestNode::start_in(dir);
    let url = format!("{}/admin/app.git", node.anon_url);
    let bob_url = with_token(&url, "bob", &bob);
    let out = git_output(src.path(), &["push", &bob_url, "main:refs/heads/topic"]);
    assert!(!out.status.success(), "the push went through");
    assert_eq!(remote_refs(&url, "2"), before, "refs moved");
    let (status, _) = http("GET", &api(&node, "/repos/admin/app", Some(&bob)), None);
    assert_eq!(status, 500);
    // Other repositories and callers are not affected.
    let (status, _) = http("GET", &api(&node, "/user", Some(&bob)), None);
    assert_eq!(status, 200);
}

#[test]
fn a_subscriber_sees_a_private_repository_exactly_while_granted() {
    let node = TestNode::start();
    let ann = new_user(&node, "ann");
    let bob = new_user(&node, "bob");
    let url = with_token(&new_repo(&node, &ann, "ann", "secret", true), "ann", &ann);
    new_repo(&node, &ann, "ann", "open", false);
    let src = work_tree();
    let mut sub = WsClient::connect(&ws_url(
        &node.anon_url,
        &format!("channels=repo:ann/secret&access_token={bob}"),
    ))
    .expect("subscribe");
    sub.expect("subscribed", DEADLINE);
    sub.send_text(r#"{"type":"subscribe","channel":"repo:ann/open"}"#);
    sub.expect("subscribed", DEADLINE);
    let push = |n: usize| {
        commit_files(src.path(), "more", n, 1);
        git(src.path(), &["push", "-q", &url, "main"]);
    };
    // Events come in sequence order: once a later public event arrives, an earlier
    // private one would have arrived before it.
    let mut marks = 0;
    let mut next_is_the_mark = |sub: &mut WsClient| {
        marks += 1;
        let (status, _) = http(
            "PATCH",
            &api(&node, "/repos/ann/open", Some(&ann)),
            Some(json!({ "description": format!("mark {marks}") })),
        );
        assert_eq!(status, 200);
        let e = sub.recv(DEADLINE).expect("an event");
        assert_eq!(e["event"]["repo"], "ann/open", "got {e}");
    };
    // Not a collaborator: nothing.
    push(100);
    next_is_the_mark(&mut sub);
    // Granted: the next push reaches him.
    let collaborator = api(&node, "/repos/ann/secret/collaborators/bob", Some(&ann));
    let (status, body) = http("PUT", &collaborator, Some(json!({ "permission": "read" })));
    assert!((200..300).contains(&status), "{status} {body}");
    push(200);
    assert_eq!(sub.event("push", DEADLINE)["repo"], "ann/secret");
    // Removed: nothing again.
    let (status, _) = http("DELETE", &collaborator, None);
    assert!((200..300).contains(&status));
    push(300);
    next_is_the_mark(&mut sub);
}

/// A node reads time from the wall clock it is given (here two hours ahead of the machine):
/// token expiry is judged by it, not by the machine's clock.
#[test]
fn a_node_judges_expiry_by_its_own_wall_clock() {
    let dir = guts_tests::tmp();
    let mut config = guts_node::NodeConfig::new(dir.path(), "127.0.0.1:0".parse().expect("addr"));
    config.wall = guts_node::net::Wall::offset(2 * 3600 * 1000);
    let node = TestNode::start_with(dir, config);
    let machine_now = guts_node::net::Wall::system().now_secs();
    let tokens = api(&node, "/user/tokens", Some(&node.token));
    // In an hour by the machine's clock: already past by the node's.
    let (status, body) = http(
        "POST",
        &tokens,
        Some(json!({ "name": "hour", "expires_at": machine_now + 3600 })),
    );
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"].as_str().unwrap_or_default().contains("past"),
        "{body}"
    );
    let (status, t) = http(
        "POST",
        &tokens,
        Some(json!({ "name": "day", "expires_at": machine_now + 24 * 3600 })),
    );
    assert_eq!(status, 201, "{t}");
    let day = t["token"].as_str().expect("token").to_string();
    assert_eq!(http("GET", &api(&node, "/user", Some(&day)), None).0, 200);
}
