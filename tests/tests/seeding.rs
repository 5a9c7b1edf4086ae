//! Selective seeding: a node that does not seed a repository stores none of it (no refs,
//! no objects, no repository) while its peers replicate it, still passes its announcements
//! on, and takes it in once a site administrator makes it seed it.

use std::time::Duration;

use guts_tests::cluster::Cluster;
use guts_tests::{git, http, make_repo, tmp, wait_for, with_token};
use serde_json::json;

const DEADLINE: Duration = Duration::from_secs(60);

fn tip_served(c: &Cluster, i: usize, repo: &str, tip: &str) -> bool {
    let url = format!("{}/{repo}.git", c.node(i).anon_url);
    let out = guts_tests::git_output(std::path::Path::new("."), &["ls-remote", &url]);
    out.status.success() && String::from_utf8_lossy(&out.stdout).contains(tip)
}

#[test]
fn a_node_stores_only_what_it_seeds_and_takes_the_rest_in_when_told() {
    let seeds = vec![vec![], vec![], vec!["bob".to_string()]];
    let c = Cluster::start_seeding(3, Duration::from_secs(1), seeds);
    let api = |i: usize| format!("{}/api/v1/node/seeding", c.node(i).anon_url);
    assert_eq!(http("GET", &api(2), None).1, json!({ "seed": ["bob"] }));
    assert_eq!(http("GET", &api(0), None).1, json!({ "seed": ["all"] }));

    let mut tips = Vec::new();
    for owner in ["alice", "bob"] {
        let url = c.node(0).create_repo(owner, "proj");
        let src = tmp();
        make_repo(src.path(), 2);
        git(src.path(), &["push", "-q", &url, "main"]);
        tips.push(git(src.path(), &["rev-parse", "HEAD"]).trim().to_string());
    }
    let (alice_tip, bob_tip) = (&tips[0], &tips[1]);
    wait_for("node 1 to serve both", DEADLINE, || {
        tip_served(&c, 1, "alice/proj", alice_tip) && tip_served(&c, 1, "bob/proj", bob_tip)
    });
    wait_for("node 2 to serve bob's", DEADLINE, || {
        tip_served(&c, 2, "bob/proj", bob_tip)
    });
    // Several anti-entropy rounds later, still none of alice's repository on node 2.
    let rounds = "guts_p2p{what=\"anti_entropy_rounds\"}";
    let seen = c.node(2).metric(rounds);
    wait_for("more rounds", DEADLINE, || {
        c.node(2).metric(rounds) >= seen + 4.0
    });
    // (A clone there would pull it through: `pull_through.rs`. The API shows what is kept.)
    let repo_api = format!("{}/api/v1/repos/alice/proj", c.node(2).url);
    assert_eq!(http("GET", &repo_api, None).0, 404);
    assert_eq!(c.node(2).metric("guts_repositories"), 1.0);

    // Only a site administrator may change it; a bad entry changes nothing.
    assert_eq!(
        http("PUT", &api(2), Some(json!({ "seed": ["all"] }))).0,
        401
    );
    let admin = with_token(&api(2), "admin2", &c.node(2).token);
    let (status, body) = http("PUT", &admin, Some(json!({ "seed": ["bob", "../x"] })));
    assert_eq!(status, 422, "{body}");
    assert_eq!(http("GET", &api(2), None).1, json!({ "seed": ["bob"] }));
    let (status, body) = http(
        "PUT",
        &admin,
        Some(json!({ "seed": ["bob", "alice/proj"] })),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({ "seed": ["bob", "alice/proj"] }));
    wait_for("node 2 to take alice's repository in", DEADLINE, || {
        http("GET", &repo_api, None).0 == 200
    });
    assert!(tip_served(&c, 2, "alice/proj", alice_tip));
    assert_eq!(c.node(2).metric("guts_p2p{what=\"pulls\"}"), 0.0);
}
