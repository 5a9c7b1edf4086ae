//! Issues on a network of nodes: opened on one node, commented on others at once, labelled,
//! edited and closed; every node ends up showing exactly the same issue. Permissions hold
//! on every node, bad input changes nothing, and issues opened at once on two nodes that
//! cannot reach each other get distinct numbers by the same rule everywhere.

use std::time::Duration;

use guts_tests::cluster::Cluster;
use guts_tests::{TestNode, http, wait_for};
use serde_json::{Value, json};

const DEADLINE: Duration = Duration::from_secs(60);

fn url(node: &TestNode, path: &str, token: Option<&str>) -> String {
    guts_tests::api_url(node, path, token)
}

/// Creates user `name` on node 0 and waits until every node knows their token.
fn user(c: &Cluster, n: usize, name: &str) -> String {
    let token = guts_tests::new_user(c.node(0), name);
    wait_for("every node to know the user", DEADLINE, || {
        (0..n).all(|i| http("GET", &url(c.node(i), "/user", Some(&token)), None).0 == 200)
    });
    token
}

/// The issue and its comments as node `i` shows them.
fn seen(c: &Cluster, i: usize, repo: &str, which: &str) -> (u16, Value, Value) {
    let (status, issue) = http(
        "GET",
        &url(c.node(i), &format!("/repos/{repo}/issues/{which}"), None),
        None,
    );
    let (_, comments) = http(
        "GET",
        &url(
            c.node(i),
            &format!("/repos/{repo}/issues/{which}/comments"),
            None,
        ),
        None,
    );
    (status, issue, comments)
}

#[test]
fn an_issue_worked_on_from_three_nodes_is_the_same_on_every_node() {
    let c = Cluster::start(3);
    let alice = user(&c, 3, "alice");
    let bob = user(&c, 3, "bob");
    let carol = user(&c, 3, "carol");
    let (status, body) = http(
        "POST",
        &url(c.node(0), "/repos", Some(&alice)),
        Some(json!({ "owner": "alice", "name": "app" })),
    );
    assert_eq!(status, 201, "{body}");
    wait_for("the repository everywhere", DEADLINE, || {
        (0..3).all(|i| http("GET", &url(c.node(i), "/repos/alice/app", None), None).0 == 200)
    });

    // Bad input changes nothing.
    let issues = |i: usize, t: Option<&str>| url(c.node(i), "/repos/alice/app/issues", t);
    assert_eq!(
        http("POST", &issues(0, None), Some(json!({ "title": "x" }))).0,
        401
    );
    for bad in [
        json!({ "title": "  " }),
        json!({ "title": "x", "body": "y".repeat(25 * 1024) }),
        json!({ "title": "x", "unknown": 1 }),
    ] {
        let (status, body) = http("POST", &issues(0, Some(&alice)), Some(bad));
        assert_eq!(status, 422, "{body}");
    }
    // Labels need write access.
    let (status, _) = http(
        "POST",
        &issues(1, Some(&bob)),
        Some(json!({ "title": "x", "labels": ["bug"] })),
    );
    assert_eq!(status, 403);
    let (_, list) = http("GET", &issues(0, None), None);
    assert_eq!(list, json!([]));

    // Node 2's hub streams what happens, wherever it was done.
    let mut ws = guts_tests::ws::WsClient::connect(&guts_tests::ws::ws_url(
        &c.node(2).anon_url,
        "channels=repo:alice/app",
    ))
    .expect("ws");
    ws.expect("subscribed", DEADLINE);

    // Opened on node 0.
    let (status, opened) = http(
        "POST",
        &issues(0, Some(&alice)),
        Some(json!({ "title": "It crashes", "body": "on start" })),
    );
    assert_eq!(status, 201, "{opened}");
    assert_eq!(opened["number"], 1);
    assert_eq!(opened["state"], "open");
    assert_eq!(opened["user"]["login"], "alice");
    wait_for("the issue on nodes 1 and 2", DEADLINE, || {
        (1..3).all(|i| seen(&c, i, "alice/app", "1").0 == 200)
    });

    // Bob on node 1 and Carol on node 2 comment at once; Alice labels it on node 0.
    let comment = |i: usize, t: &str, body: &str| {
        http(
            "POST",
            &url(c.node(i), "/repos/alice/app/issues/1/comments", Some(t)),
            Some(json!({ "body": body })),
        )
    };
    let (s1, bobs) = comment(1, &bob, "same here");
    let (s2, _) = comment(2, &carol, "me too");
    assert_eq!((s1, s2), (201, 201), "{bobs}");
    let e = ws.event("issue.opened", DEADLINE);
    assert_eq!(
        (e["number"].clone(), e["user"].clone()),
        (json!(1), json!("alice")),
        "{e}"
    );
    let e = ws.event("issue.commented", DEADLINE);
    assert_eq!(e["repo"], "alice/app", "{e}");
    let edit = |i: usize, t: &str, body: Value| {
        http(
            "PATCH",
            &url(c.node(i), "/repos/alice/app/issues/1", Some(t)),
            Some(body),
        )
    };
    assert_eq!(edit(0, &alice, json!({ "labels": ["bug"] })).0, 200);

    // Carol may not close Alice's issue nor edit Bob's comment; Bob may edit his.
    assert_eq!(edit(2, &carol, json!({ "state": "closed" })).0, 403);
    let bobs_id = bobs["id"].as_str().expect("comment id").to_string();
    let comment_url = |i: usize, t: &str| {
        url(
            c.node(i),
            &format!("/repos/alice/app/issues/comments/{bobs_id}"),
            Some(t),
        )
    };
    wait_for("Bob's comment on node 2", DEADLINE, || {
        seen(&c, 2, "alice/app", "1")
            .2
            .as_array()
            .is_some_and(|a| a.len() == 2)
    });
    assert_eq!(
        http(
            "PATCH",
            &comment_url(2, &carol),
            Some(json!({ "body": "hijacked" }))
        )
        .0,
        403
    );
    let (status, edited) = http(
        "PATCH",
        &comment_url(1, &bob),
        Some(json!({ "body": "same here, on 1.2" })),
    );
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edit(0, &alice, json!({ "state": "weird" })).0, 422);
    assert_eq!(edit(0, &alice, json!({ "state": "closed" })).0, 200);
    let e = ws.event("issue.closed", DEADLINE);
    assert_eq!(e["user"], "alice", "{e}");

    // Every node shows the same issue and the same comments.
    let want_done = |v: &(u16, Value, Value)| {
        v.1["state"] == "closed"
            && v.1["labels"] == json!([{ "name": "bug" }])
            && v.1["comments"] == 2
            && v.2.as_array().is_some_and(|a| {
                a.iter().any(|c| c["body"] == "same here, on 1.2")
                    && a.iter().any(|c| c["body"] == "me too")
            })
    };
    wait_for("every node to show the same issue", DEADLINE, || {
        let views: Vec<_> = (0..3).map(|i| seen(&c, i, "alice/app", "1")).collect();
        views.iter().all(want_done) && views.iter().all(|v| v.1 == views[0].1 && v.2 == views[0].2)
    });
    // The id names it too, on every node.
    let id = opened["id"].as_str().expect("id").to_string();
    for i in 0..3 {
        let (status, by_id, _) = seen(&c, i, "alice/app", &id);
        assert_eq!(status, 200);
        assert_eq!(by_id["number"], 1);
    }
    // Filters.
    let count = |q: &str| {
        let (_, v) = http("GET", &format!("{}{q}", issues(2, None)), None);
        v.as_array().map_or(0, Vec::len)
    };
    assert_eq!(count(""), 0, "open by default");
    assert_eq!(count("?state=closed"), 1);
    assert_eq!(count("?state=all&labels=bug"), 1);
    assert_eq!(count("?state=all&labels=bug,other"), 0);
    assert_eq!(count("?state=all&creator=bob"), 0);
    assert_eq!(
        http(
            "GET",
            &url(c.node(1), "/repos/alice/app/issues/9", None),
            None
        )
        .0,
        404
    );
}

#[test]
fn issues_opened_at_once_on_two_cut_off_nodes_get_distinct_numbers_everywhere() {
    let c = Cluster::start(2);
    let alice = user(&c, 2, "alice");
    let (status, body) = http(
        "POST",
        &url(c.node(0), "/repos", Some(&alice)),
        Some(json!({ "owner": "alice", "name": "app" })),
    );
    assert_eq!(status, 201, "{body}");
    wait_for("the repository on node 1", DEADLINE, || {
        http("GET", &url(c.node(1), "/repos/alice/app", None), None).0 == 200
    });
    c.partition(&[0], &[1]);
    let mut opened = Vec::new();
    for i in 0..2 {
        let (status, v) = http(
            "POST",
            &url(c.node(i), "/repos/alice/app/issues", Some(&alice)),
            Some(json!({ "title": format!("from node {i}") })),
        );
        assert_eq!(status, 201, "{v}");
        assert_eq!(v["number"], 1, "each node proposes #1");
        opened.push(v["id"].as_str().expect("id").to_string());
    }
    c.heal(&[0], &[1]);
    let listed = |i: usize| {
        let (_, v) = http(
            "GET",
            &url(c.node(i), "/repos/alice/app/issues", None),
            None,
        );
        v
    };
    wait_for("both issues on both nodes", DEADLINE, || {
        (0..2).all(|i| listed(i).as_array().is_some_and(|a| a.len() == 2))
    });
    assert_eq!(listed(0), listed(1), "the same numbers everywhere");
    let numbers: Vec<u64> = listed(0)
        .as_array()
        .expect("list")
        .iter()
        .map(|v| v["number"].as_u64().expect("number"))
        .collect();
    assert_eq!(numbers, vec![2, 1], "distinct, newest first");
    // Each is still found by its id, everywhere, and #1 is the one opened first.
    for i in 0..2 {
        for id in &opened {
            assert_eq!(seen(&c, i, "alice/app", id).0, 200);
        }
    }
    let first = seen(&c, 0, "alice/app", "1").1;
    assert_eq!(first["title"], "from node 0");
}

/// Labels as GitHub shapes them: added to an issue on one node (a writer only), listed
/// for the repository with counts on the other, removed one by one; removing a label the
/// issue lacks is a 404.
#[test]
fn labels_are_added_listed_and_removed_on_every_node() {
    let c = Cluster::start(2);
    let alice = user(&c, 2, "alice");
    let bob = user(&c, 2, "bob");
    let (status, _) = http(
        "POST",
        &url(c.node(0), "/repos", Some(&alice)),
        Some(json!({ "owner": "alice", "name": "app" })),
    );
    assert_eq!(status, 201);
    for title in ["one", "two"] {
        let (status, _) = http(
            "POST",
            &url(c.node(0), "/repos/alice/app/issues", Some(&alice)),
            Some(json!({ "title": title })),
        );
        assert_eq!(status, 201);
    }
    let labels = |n: u64, t: &str| {
        url(
            c.node(0),
            &format!("/repos/alice/app/issues/{n}/labels"),
            Some(t),
        )
    };
    assert_eq!(
        http("POST", &labels(1, &bob), Some(json!({ "labels": ["bug"] }))).0,
        403,
        "bob cannot write"
    );
    assert_eq!(
        http("POST", &labels(1, &alice), Some(json!({ "labels": [] }))).0,
        422
    );
    let (status, v) = http(
        "POST",
        &labels(1, &alice),
        Some(json!({ "labels": ["bug", "ui"] })),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v, json!([{ "name": "bug" }, { "name": "ui" }]));
    let (status, _) = http(
        "POST",
        &labels(2, &alice),
        Some(json!({ "labels": ["bug"] })),
    );
    assert_eq!(status, 200);
    let (status, _) = http(
        "PATCH",
        &url(c.node(0), "/repos/alice/app/issues/2", Some(&alice)),
        Some(json!({ "state": "closed" })),
    );
    assert_eq!(status, 200);
    let want = json!([
        { "name": "bug", "open_issues": 1, "closed_issues": 1 },
        { "name": "ui", "open_issues": 1, "closed_issues": 0 },
    ]);
    wait_for("the labels on node 1", DEADLINE, || {
        http(
            "GET",
            &url(c.node(1), "/repos/alice/app/labels", None),
            None,
        )
        .1 == want
    });
    let one_on_1 = url(c.node(1), "/repos/alice/app/issues/1/labels", Some(&alice));
    assert_eq!(
        http("GET", &one_on_1, None).1,
        json!([{ "name": "bug" }, { "name": "ui" }])
    );
    let (status, v) = http("DELETE", &format!("{}/ui", labels(1, &alice)), None);
    assert_eq!(status, 200, "{v}");
    assert_eq!(v, json!([{ "name": "bug" }]));
    assert_eq!(
        http("DELETE", &format!("{}/ui", labels(1, &alice)), None).0,
        404
    );
    wait_for("the removal on node 1", DEADLINE, || {
        http("GET", &one_on_1, None).1 == json!([{ "name": "bug" }])
    });
}
