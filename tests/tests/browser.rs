//! The web interface in a real browser (headless Chromium over the DevTools protocol), on
//! two nodes: browse a repository's tree to a file (with a line range) and its history;
//! a push to the other node shows up on the open page without a reload; sign in, open a
//! pull request (a comment made on the other node appears in it, live) and merge it with
//! the page's forms; XSS attempts in a README, a pull
//! request title and an issue title stay inert (no script runs, no dialog opens).
//! Screenshots of the main pages go to `target/screenshots/`.

use std::path::PathBuf;
use std::time::Duration;

use guts_tests::browser::Chrome;
use guts_tests::cluster::Cluster;
use guts_tests::{
    api_url, commit_text, git, http, master_repo, new_user, tmp, wait_for, with_token,
};
use serde_json::json;

const DEADLINE: Duration = Duration::from_secs(60);

fn shots() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots")
}

#[test]
fn a_browser_browses_follows_live_updates_and_merges_without_running_injected_script() {
    let c = Cluster::start(2);
    let alice = new_user(c.node(0), "alice");
    let (status, _) = http(
        "POST",
        &api_url(c.node(0), "/repos", Some(&alice)),
        Some(json!({ "owner": "alice", "name": "app", "description": "A demo repository" })),
    );
    assert_eq!(status, 201);
    let src = tmp();
    let w = src.path();
    master_repo(w, 2);
    std::fs::create_dir_all(w.join("src")).expect("mkdir");
    commit_text(
        w,
        "src/main.rs",
        "// The entry point.\nfn main() {\n    let greeting = \"hello\";\n    println!(\"{greeting}\");\n}\n",
        "add main",
    );
    commit_text(
        w,
        "README.md",
        "# The app\n\nA demo.\n\n<script>window.__xss = 1</script>\n\n<img src=x onerror=\"window.__xss = 2\">\n",
        "readme",
    );
    git(w, &["checkout", "-q", "-b", "topic"]);
    commit_text(w, "topic.txt", "topic\n", "topic");
    git(w, &["checkout", "-q", "master"]);
    let push = |i: usize| {
        with_token(
            &format!("{}/alice/app.git", c.node(i).anon_url),
            "alice",
            &alice,
        )
    };
    git(w, &["push", "-q", &push(0), "master", "topic"]);
    let (a, b) = (c.node(0).anon_url.clone(), c.node(1).anon_url.clone());
    wait_for("the repository on node 1", DEADLINE, || {
        http("GET", &format!("{b}/api/v1/repos/alice/app"), None).0 == 200
    });

    let chrome = Chrome::start();
    let mut tab = chrome.tab();

    // Browse: the README (inert), into src, the file, a line range, the history.
    tab.goto(&format!("{a}/alice/app"));
    assert_eq!(
        tab.eval("document.querySelector('#readme h1').textContent"),
        json!("The app")
    );
    tab.screenshot(&shots().join("repository.png"));
    tab.eval("document.querySelector('table.tree a[href$=\"/tree/master/src\"]').click()");
    tab.wait(
        "the src directory",
        "location.pathname.endsWith('/tree/master/src')",
        DEADLINE,
    );
    tab.eval("document.querySelector('table.tree a[href$=\"/main.rs\"]').click()");
    tab.wait(
        "the file",
        "document.querySelectorAll('table.code tr').length === 5",
        DEADLINE,
    );
    tab.goto(&format!("{a}/alice/app/blob/master/src/main.rs#L2-L3"));
    tab.wait(
        "lines 2 and 3 marked",
        "document.querySelectorAll('table.code tr.hl').length === 2",
        DEADLINE,
    );
    assert_eq!(tab.eval("document.querySelector('tr.hl').id"), json!("L2"));
    tab.screenshot(&shots().join("file.png"));
    tab.eval("[...document.querySelectorAll('nav.tabs a')].find(a => a.textContent === 'History').click()");
    tab.wait(
        "the history",
        "document.querySelectorAll('ol.commits li').length > 0",
        DEADLINE,
    );
    let tip = git(w, &["rev-parse", "master"]).trim().to_string();
    let first = tab.eval("document.querySelector('ol.commits li a.mono').getAttribute('href')");
    assert_eq!(first, json!(format!("/alice/app/commit/{tip}")));
    tab.screenshot(&shots().join("history.png"));

    // Live: the page on node 0 follows a push made to node 1.
    tab.goto(&format!("{a}/alice/app"));
    tab.wait(
        "the live connection",
        "document.querySelector('#last-commit') !== null",
        DEADLINE,
    );
    std::thread::sleep(Duration::from_millis(300)); // the page's socket subscribes after load
    commit_text(w, "live.txt", "pushed elsewhere\n", "pushed to node 1");
    git(w, &["push", "-q", &push(1), "master"]);
    let new_tip = git(w, &["rev-parse", "master"]).trim().to_string();
    tab.wait(
        "the new last commit on the open page",
        &format!("document.querySelector('#last-commit a.mono').getAttribute('href').endsWith('{new_tip}')"),
        DEADLINE,
    );

    // The home page of node 0 counts what arrived from node 1, with its lag.
    tab.goto(&format!("{a}/"));
    let replication = tab.eval("document.querySelector('#replication').textContent");
    let count: u64 = replication
        .as_str()
        .and_then(|t| t.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(count >= 1, "{replication}");
    assert!(
        replication.as_str().unwrap_or("").contains(" ms after"),
        "{replication}"
    );
    tab.screenshot(&shots().join("home.png"));

    // Sign in, open a pull request (its title tries to be markup), merge it.
    tab.goto(&format!("{a}/login"));
    tab.eval(&format!(
        "document.querySelector('input[name=token]').value = {}; document.querySelector('form[action=\"/login\"]').submit()",
        json!(alice)
    ));
    tab.wait(
        "signed in",
        "document.querySelector('header.top .who strong')?.textContent === 'alice'",
        DEADLINE,
    );
    tab.goto(&format!("{a}/alice/app/pulls/new"));
    tab.eval(
        "const f = document.querySelector('form.new');\
         f.title.value = '<img src=x onerror=\"window.__xss = 3\"> Topic';\
         f.head.value = 'topic'; f.base.value = 'master'; f.submit()",
    );
    tab.wait(
        "the pull request",
        "location.pathname === '/alice/app/pull/1'",
        DEADLINE,
    );
    assert_eq!(
        tab.eval("document.querySelector('#mergeable').dataset.state"),
        json!("clean")
    );
    tab.screenshot(&shots().join("pull-request.png"));
    // A comment made on node 1 appears in the open pull request on node 0.
    tab.wait(
        "the live subscription",
        "document.documentElement.dataset.live === 'on'",
        DEADLINE,
    );
    wait_for("the pull request on node 1", DEADLINE, || {
        http("GET", &format!("{b}/api/v1/repos/alice/app/pulls/1"), None).0 == 200
    });
    let (status, _) = http(
        "POST",
        &api_url(
            c.node(1),
            "/repos/alice/app/issues/1/comments",
            Some(&alice),
        ),
        Some(json!({ "body": "Commented on the other node" })),
    );
    assert_eq!(status, 201);
    tab.wait(
        "the comment on the open page",
        "document.querySelector('#comments')?.textContent.includes('Commented on the other node')",
        DEADLINE,
    );
    tab.eval("document.querySelector('form.merge select').value = 'merge'; document.querySelector('#merge-button').click()");
    tab.wait(
        "merged",
        "document.querySelector('#thread-state')?.textContent === 'Merged'",
        DEADLINE,
    );
    git(
        w,
        &["fetch", "-q", &push(0), "+master:refs/remotes/o/master"],
    );
    let parents = git(
        w,
        &["rev-list", "--parents", "-n", "1", "refs/remotes/o/master"],
    );
    let topic = git(w, &["rev-parse", "topic"]).trim().to_string();
    assert_eq!(
        parents.split_whitespace().skip(1).collect::<Vec<_>>(),
        vec![new_tip.as_str(), topic.as_str()]
    );

    // An issue title with script in it, on node 1.
    let (status, issue) = http(
        "POST",
        &api_url(c.node(0), "/repos/alice/app/issues", Some(&alice)),
        Some(json!({ "title": "<script>window.__xss = 4</script><img src=x onerror=alert(5)>" })),
    );
    assert_eq!(status, 201, "{issue}");
    let n = issue["number"].as_u64().expect("number");
    wait_for("the issue on node 1", DEADLINE, || {
        http(
            "GET",
            &format!("{b}/api/v1/repos/alice/app/issues/{n}"),
            None,
        )
        .0 == 200
    });
    tab.goto(&format!("{b}/alice/app/issues/{n}"));
    let title = tab.eval("document.querySelector('#thread-title').textContent");
    assert!(title.as_str().unwrap_or("").contains("<script>"), "{title}");
    tab.screenshot(&shots().join("issue.png"));

    assert_eq!(
        tab.eval("typeof window.__xss"),
        json!("undefined"),
        "injected script ran"
    );
    assert!(tab.dialogs.is_empty(), "dialogs opened: {:?}", tab.dialogs);
}
