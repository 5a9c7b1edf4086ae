//! The web interface, at the HTTP level: pages are parsed as HTML and checked element by
//! element against what git itself says of the same repository (a `master` repository
//! with history, directories, a Rust file, a README with an XSS attempt). Private
//! repositories stay hidden from those who may not read them, every page carries the
//! Content-Security-Policy, and bad paths get an HTML 404.

use std::path::Path;

use guts_tests::{
    TestNode, api_url, commit_text, get_raw, git, http, master_repo, new_user, tmp, with_token,
};
use scraper::{Html, Selector};
use serde_json::json;

fn sel(s: &str) -> Selector {
    Selector::parse(s).expect("selector")
}

/// A page: status, its headers, and the parsed document.
fn page(url: &str) -> (u16, Vec<(String, String)>, Html) {
    let (status, headers, body) = get_raw(url);
    let text = String::from_utf8(body).expect("utf-8 page");
    (status, headers, Html::parse_document(&text))
}

fn texts(doc: &Html, s: &str) -> Vec<String> {
    doc.select(&sel(s))
        .map(|e| e.text().collect::<String>().trim().to_string())
        .collect()
}

fn attrs(doc: &Html, s: &str, attr: &str) -> Vec<String> {
    doc.select(&sel(s))
        .filter_map(|e| e.value().attr(attr).map(str::to_string))
        .collect()
}

fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn lines_of(w: &Path, args: &[&str]) -> Vec<String> {
    git(w, args).lines().map(str::to_string).collect()
}

#[test]
fn pages_show_what_git_shows_and_hide_what_they_must() {
    let node = TestNode::start();
    let alice = new_user(&node, "alice");
    let bob = new_user(&node, "bob");
    for (owner, token, private) in [("alice", &alice, false), ("bob", &bob, true)] {
        let (status, body) = http(
            "POST",
            &api_url(&node, "/repos", Some(token)),
            Some(json!({ "owner": owner, "name": "app", "private": private,
                         "description": format!("{owner}'s app") })),
        );
        assert_eq!(status, 201, "{body}");
    }
    let src = tmp();
    let w = src.path();
    master_repo(w, 3);
    std::fs::create_dir_all(w.join("src")).expect("mkdir");
    commit_text(
        w,
        "src/main.rs",
        "// The entry point.\nfn main() {\n    let s = \"<b>hi</b>\";\n    println!(\"{s} {}\", 42);\n}\n",
        "add main",
    );
    commit_text(
        w,
        "README.md",
        "# The app\n\nIt <script>alert('readme')</script> works.\n\n<img src=x onerror=\"alert(1)\">\n\n[click](javascript:alert(2))\n",
        "readme",
    );
    for i in 0..55 {
        commit_text(w, "counter.txt", &format!("{i}\n"), &format!("count {i}"));
    }
    let push = with_token(&format!("{}/alice/app.git", node.anon_url), "alice", &alice);
    git(w, &["push", "-q", &push, "--all"]);
    let base = &node.anon_url;

    // Home: alice's public repository, not bob's private one (but bob sees his).
    let (status, headers, doc) = page(&format!("{base}/"));
    assert_eq!(status, 200);
    assert!(
        header(&headers, "content-security-policy")
            .is_some_and(|p| p.contains("script-src 'self'")),
        "{headers:?}"
    );
    let listed = attrs(&doc, "ul.repo-list li > a", "href");
    assert_eq!(listed, vec!["/alice/app"]);
    let (_, _, doc) = page(&with_token(&format!("{base}/"), "bob", &bob));
    let listed = attrs(&doc, "ul.repo-list li > a", "href");
    assert_eq!(listed, vec!["/alice/app", "/bob/app"]);
    let (_, _, doc) = page(&format!("{base}/?q=nothing-like-it"));
    assert!(texts(&doc, "ul.repo-list li").is_empty());
    assert!(!texts(&doc, "aside.node dd.mono").is_empty(), "the node id");

    // The repository page: tree, README rendered and inert, clone URL, last commit.
    let (status, _, doc) = page(&format!("{base}/alice/app"));
    assert_eq!(status, 200);
    let mut names = texts(&doc, "table.tree td:nth-child(2) a");
    names.sort();
    let mut want = lines_of(w, &["ls-tree", "--name-only", "master"]);
    want.sort();
    assert_eq!(names, want);
    assert_eq!(texts(&doc, "#readme .markdown h1"), vec!["The app"]);
    assert!(doc.select(&sel("#readme script")).next().is_none());
    assert!(doc.select(&sel("#readme [onerror]")).next().is_none());
    assert!(
        attrs(&doc, "#readme a", "href")
            .iter()
            .all(|h| !h.contains("javascript")),
        "a javascript: link survived"
    );
    let clone = attrs(&doc, "#clone-url", "value");
    assert!(clone[0].ends_with("/alice/app.git"), "{clone:?}");
    let tip = git(w, &["rev-parse", "master"]).trim().to_string();
    assert_eq!(
        attrs(&doc, "#last-commit a.mono", "href"),
        vec![format!("/alice/app/commit/{tip}")]
    );

    // A directory, and a file with its lines, highlighted and escaped.
    let (status, _, doc) = page(&format!("{base}/alice/app/tree/master/src"));
    assert_eq!(status, 200);
    assert_eq!(
        texts(&doc, "table.tree tr.blob td:nth-child(2) a"),
        vec!["main.rs"]
    );
    let (status, _, doc) = page(&format!("{base}/alice/app/blob/master/src/main.rs"));
    assert_eq!(status, 200);
    let file = git(w, &["show", "master:src/main.rs"]);
    assert_eq!(
        doc.select(&sel("table.code tr")).count(),
        file.lines().count()
    );
    assert!(doc.select(&sel("tr#L3 td.src span.s")).next().is_some());
    assert_eq!(texts(&doc, "tr#L2 td.src span.k"), vec!["fn"]);
    assert!(
        doc.select(&sel("td.src b")).next().is_none(),
        "markup in code ran"
    );
    let (status, headers, raw) = get_raw(&format!("{base}/alice/app/raw/master/src/main.rs"));
    assert_eq!(status, 200);
    assert_eq!(String::from_utf8(raw).expect("utf-8"), file);
    assert!(header(&headers, "content-security-policy").is_some_and(|p| p.contains("sandbox")));

    // History: git log's order, 50 a page; per path; a commit's changed files.
    let (status, _, doc) = page(&format!("{base}/alice/app/commits/master"));
    assert_eq!(status, 200);
    let shown: Vec<String> = attrs(&doc, "ol.commits li a.mono", "href")
        .iter()
        .map(|h| h.rsplit('/').next().unwrap_or("").to_string())
        .collect();
    let all = lines_of(w, &["log", "--format=%H", "master"]);
    assert_eq!(shown, all[..50].to_vec());
    let next = attrs(&doc, "nav.pages a[rel=next]", "href");
    assert_eq!(next, vec!["/alice/app/commits/master?page=2"]);
    let (_, _, doc) = page(&format!("{base}{}", next[0]));
    let shown: Vec<String> = attrs(&doc, "ol.commits li a.mono", "href")
        .iter()
        .map(|h| h.rsplit('/').next().unwrap_or("").to_string())
        .collect();
    assert_eq!(shown, all[50..all.len().min(100)].to_vec());
    let (_, _, doc) = page(&format!("{base}/alice/app/commits/master/src/main.rs"));
    let shown: Vec<String> = attrs(&doc, "ol.commits li a.mono", "href")
        .iter()
        .map(|h| h.rsplit('/').next().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        shown,
        lines_of(w, &["log", "--format=%H", "master", "--", "src/main.rs"])
    );
    let readme_commit = git(
        w,
        &["log", "-1", "--format=%H", "master", "--", "README.md"],
    );
    let (status, _, doc) = page(&format!("{base}/alice/app/commit/{}", readme_commit.trim()));
    assert_eq!(status, 200);
    assert_eq!(texts(&doc, "div.file strong.path"), vec!["README.md"]);
    assert!(doc.select(&sel("pre.patch span.add")).count() >= 5);

    // Branches and tags, as git lists them.
    let (_, _, doc) = page(&format!("{base}/alice/app/branches"));
    let mut shown = texts(&doc, "ul.refs-list li > a:first-child");
    shown.sort();
    let mut want = lines_of(
        w,
        &["for-each-ref", "--format=%(refname:short)", "refs/heads"],
    );
    want.sort();
    assert_eq!(shown, want);

    // Hidden and missing: an HTML 404, never bob's private page.
    for (url, why) in [
        (format!("{base}/bob/app"), "private to anonymous"),
        (
            with_token(&format!("{base}/bob/app"), "alice", &alice),
            "private to alice",
        ),
        (
            format!("{base}/alice/app/tree/no-such-branch"),
            "unknown ref",
        ),
        (
            format!("{base}/alice/app/blob/master/nope.txt"),
            "unknown file",
        ),
        (format!("{base}/alice/nothing"), "unknown repository"),
    ] {
        let (status, headers, doc) = page(&url);
        assert_eq!(status, 404, "{why}");
        assert!(header(&headers, "content-type").is_some_and(|t| t.starts_with("text/html")));
        assert!(
            texts(&doc, "section.error h1")[0].starts_with("404"),
            "{why}"
        );
        assert!(
            texts(&doc, "body").concat().find("bob's app").is_none(),
            "{why}"
        );
    }
    let (status, _, doc) = page(&with_token(&format!("{base}/bob/app"), "bob", &bob));
    assert_eq!(status, 200);
    assert_eq!(
        texts(&doc, "section.empty-repo h2"),
        vec!["This repository is empty"]
    );
    // Compare: the commits and the diff git shows for base...head.
    let old = all[10].clone();
    let (status, _, doc) = page(&format!("{base}/alice/app/compare/{old}...master"));
    assert_eq!(status, 200);
    let shown: Vec<String> = attrs(&doc, "ol.commits li a.mono", "href")
        .iter()
        .map(|h| h.rsplit('/').next().unwrap_or("").to_string())
        .collect();
    assert_eq!(shown, all[..10].to_vec());
    let mut files = texts(&doc, "div.file strong.path");
    files.sort();
    let mut want = lines_of(w, &["diff", "--name-only", &format!("{old}...master")]);
    want.sort();
    assert_eq!(files, want);

    // People: a user's page shows what the viewer may read; an organization's its members
    // and teams.
    let (status, _, doc) = page(&format!("{base}/alice"));
    assert_eq!(status, 200);
    assert_eq!(
        attrs(&doc, "ul.repo-list li > a", "href"),
        vec!["/alice/app"]
    );
    let (_, _, doc) = page(&format!("{base}/bob"));
    assert!(
        attrs(&doc, "ul.repo-list li > a", "href").is_empty(),
        "bob's private app"
    );
    let (_, _, doc) = page(&with_token(&format!("{base}/bob"), "bob", &bob));
    assert_eq!(attrs(&doc, "ul.repo-list li > a", "href"), vec!["/bob/app"]);
    let (status, body) = http(
        "POST",
        &api_url(&node, "/orgs", Some(&alice)),
        Some(json!({ "name": "acme", "description": "Makers" })),
    );
    assert_eq!(status, 201, "{body}");
    let (status, body) = http(
        "POST",
        &api_url(&node, "/orgs/acme/teams", Some(&alice)),
        Some(json!({ "name": "core" })),
    );
    assert_eq!(status, 201, "{body}");
    let (status, _, doc) = page(&format!("{base}/acme"));
    assert_eq!(status, 200);
    assert_eq!(texts(&doc, "ul.members li a"), vec!["alice"]);
    assert_eq!(texts(&doc, "ul.teams li strong"), vec!["core"]);
    let (_, _, doc) = page(&format!("{base}/alice"));
    assert_eq!(texts(&doc, "ul.orgs li a"), vec!["acme"]);
    assert_eq!(page(&format!("{base}/nobody-here")).0, 404);
    // The ref selector with a ref no header may hold: a 404 page, not a dropped request.
    let (status, headers, _) = get_raw(&format!("{base}/alice/app/switch?ref=%C3%A9%0Ax"));
    assert_eq!(status, 404);
    assert!(header(&headers, "content-type").is_some_and(|t| t.starts_with("text/html")));
    // A name that is one of the node's pages cannot be taken.
    for name in ["login", "Static"] {
        let (status, body) = http(
            "POST",
            &api_url(&node, "/users", Some(&node.token)),
            Some(json!({ "name": name })),
        );
        assert_eq!(status, 422, "{name}: {body}");
    }
    let (status, _) = http(
        "POST",
        &api_url(&node, "/orgs", Some(&alice)),
        Some(json!({ "name": "metrics" })),
    );
    assert_eq!(status, 422);
    // Lists filter by author.
    let (status, _) = http(
        "POST",
        &api_url(&node, "/repos/alice/app/issues", Some(&bob)),
        Some(json!({ "title": "from bob" })),
    );
    assert_eq!(status, 201);
    let (status, _) = http(
        "POST",
        &api_url(&node, "/repos/alice/app/issues", Some(&alice)),
        Some(json!({ "title": "from alice" })),
    );
    assert_eq!(status, 201);
    let (_, _, doc) = page(&format!("{base}/alice/app/issues?state=all&author=bob"));
    assert_eq!(texts(&doc, "ul.threads li > a"), vec!["from bob"]);
}

/// A small browser: keeps cookies, does not follow redirects.
struct Browser {
    agent: ureq::Agent,
    cookies: Vec<(String, String)>,
}

impl Browser {
    fn new() -> Browser {
        Browser {
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .max_redirects(0)
                .build()
                .into(),
            cookies: Vec::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, resp: &ureq::http::Response<ureq::Body>) -> Vec<String> {
        let mut set = Vec::new();
        for v in resp.headers().get_all("set-cookie") {
            let v = v.to_str().unwrap_or("").to_string();
            if let Some((kv, _)) = v.split_once(';').or(Some((v.as_str(), "")))
                && let Some((k, val)) = kv.split_once('=')
            {
                self.cookies.retain(|(n, _)| n != k);
                if !val.is_empty() {
                    self.cookies.push((k.to_string(), val.to_string()));
                }
            }
            set.push(v);
        }
        set
    }

    /// Status, Location, Set-Cookie values and the page of a response.
    fn finish(
        &mut self,
        mut resp: ureq::http::Response<ureq::Body>,
    ) -> (u16, String, Vec<String>, Html) {
        let set = self.keep(&resp);
        let loc = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        (
            resp.status().as_u16(),
            loc,
            set,
            Html::parse_document(&text),
        )
    }

    /// GET: status, Location, Set-Cookie values, the page.
    fn get(&mut self, url: &str) -> (u16, String, Vec<String>, Html) {
        let resp = self
            .agent
            .get(url)
            .header("Cookie", &self.cookie_header())
            .call()
            .expect("get");
        self.finish(resp)
    }

    /// POST a form: status, Location, Set-Cookie values, the page.
    fn post(&mut self, url: &str, form: &[(&str, &str)]) -> (u16, String, Vec<String>, Html) {
        let body: String = form
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let resp = self
            .agent
            .post(url)
            .header("Cookie", &self.cookie_header())
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send(body.as_bytes())
            .expect("post");
        self.finish(resp)
    }
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn a_signed_in_user_opens_comments_on_and_merges_a_pull_request_in_pages() {
    let node = TestNode::start();
    let alice = new_user(&node, "alice");
    let (status, _) = http(
        "POST",
        &api_url(&node, "/repos", Some(&alice)),
        Some(json!({ "owner": "alice", "name": "app" })),
    );
    assert_eq!(status, 201);
    let src = tmp();
    let w = src.path();
    git(w, &["init", "-q", "-b", "main"]);
    git(w, &["config", "user.name", "a"]);
    git(w, &["config", "user.email", "a@example.com"]);
    commit_text(w, "a.txt", "one\ntwo\nthree\n", "base");
    git(w, &["checkout", "-q", "-b", "topic"]);
    commit_text(w, "b.txt", "topic\n", "topic");
    git(w, &["checkout", "-q", "main"]);
    commit_text(w, "a.txt", "one\ntwo\nthree\nfour\n", "main moves");
    let push = with_token(&format!("{}/alice/app.git", node.anon_url), "alice", &alice);
    git(w, &["push", "-q", &push, "main", "topic"]);
    let base = node.anon_url.clone();
    let mut b = Browser::new();

    // Signed out: the form sends to the sign-in page.
    let (status, loc, _, _) = b.get(&format!("{base}/alice/app/pulls/new"));
    assert_eq!((status, loc.as_str()), (303, "/login"));
    let (status, _, set, doc) = b.get(&format!("{base}/login"));
    assert_eq!(status, 200);
    assert!(
        set.iter()
            .any(|c| c.starts_with("guts_csrf=") && c.contains("HttpOnly"))
    );
    let csrf = attrs(&doc, "form[action='/login'] input[name=csrf]", "value")[0].clone();
    // A wrong token, and a form without the page's CSRF value, change nothing.
    let (status, _, set, _) = b.post(
        &format!("{base}/login"),
        &[
            ("csrf", &csrf),
            ("token", "guts_0000000000000000000000000000000000000000"),
        ],
    );
    assert_eq!(status, 401);
    assert!(set.iter().all(|c| !c.starts_with("guts_session=")));
    let (status, _, _, _) = b.post(
        &format!("{base}/login"),
        &[("csrf", "f00"), ("token", &alice)],
    );
    assert_eq!(status, 403);
    let (status, loc, set, _) = b.post(
        &format!("{base}/login"),
        &[("csrf", &csrf), ("user", "alice"), ("token", &alice)],
    );
    assert_eq!((status, loc.as_str()), (303, "/"));
    let session = set
        .iter()
        .find(|c| c.starts_with("guts_session="))
        .expect("a session cookie");
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Lax"),
        "{session}"
    );
    let (_, _, _, doc) = b.get(&format!("{base}/"));
    assert_eq!(texts(&doc, "header.top .who strong"), vec!["alice"]);

    // Open a pull request with a title that tries to be markup.
    let title = "<img src=x onerror=alert(1)> Topic";
    let (status, loc, _, _) = b.post(
        &format!("{base}/alice/app/pulls"),
        &[
            ("csrf", &csrf),
            ("title", title),
            ("head", "topic"),
            ("base", "main"),
            ("body", "Please **merge**."),
        ],
    );
    assert_eq!((status, loc.as_str()), (303, "/alice/app/pull/1"));
    let (status, _, _, doc) = b.get(&format!("{base}/alice/app/pull/1"));
    assert_eq!(status, 200);
    assert!(
        texts(&doc, "#thread-title")[0].starts_with(title),
        "the title as text"
    );
    assert!(
        doc.select(&sel("#thread-title img, [onerror]"))
            .next()
            .is_none()
    );
    assert_eq!(attrs(&doc, "#mergeable", "data-state"), vec!["clean"]);
    assert_eq!(texts(&doc, "#pr-files strong.path"), vec!["b.txt"]);
    assert_eq!(texts(&doc, ".post .markdown strong"), vec!["merge"]);

    // A comment, then a squash merge; the page and git agree.
    let (status, _, _, _) = b.post(
        &format!("{base}/alice/app/issues/1/comment"),
        &[("csrf", &csrf), ("body", "Looks *good*.")],
    );
    assert_eq!(status, 303);
    let (_, _, _, doc) = b.get(&format!("{base}/alice/app/pull/1"));
    assert_eq!(texts(&doc, "#comments .comment .markdown em"), vec!["good"]);
    let old_main = git(w, &["rev-parse", "main"]).trim().to_string();
    let (status, loc, _, _) = b.post(
        &format!("{base}/alice/app/pull/1/merge"),
        &[("csrf", &csrf), ("method", "squash")],
    );
    assert_eq!((status, loc.as_str()), (303, "/alice/app/pull/1"));
    let (_, _, _, doc) = b.get(&format!("{base}/alice/app/pull/1"));
    assert_eq!(texts(&doc, "#thread-state"), vec!["Merged"]);
    git(w, &["fetch", "-q", &push, "+main:refs/remotes/o/main"]);
    let parents = git(
        w,
        &["rev-list", "--parents", "-n", "1", "refs/remotes/o/main"],
    );
    assert_eq!(
        parents.split_whitespace().skip(1).collect::<Vec<_>>(),
        vec![old_main.as_str()]
    );
    let tree = git(w, &["rev-parse", "refs/remotes/o/main^{tree}"]);
    let want = git(w, &["merge-tree", "--write-tree", "main", "topic"]);
    assert_eq!(tree.trim(), want.lines().next().expect("tree"));

    // Another site's form (no CSRF cookie) changes nothing; signing out ends the session.
    let mut stranger = Browser::new();
    stranger.cookies = b
        .cookies
        .iter()
        .filter(|(k, _)| k == "guts_session")
        .cloned()
        .collect();
    let (status, _, _, _) = stranger.post(
        &format!("{base}/alice/app/issues/1/comment"),
        &[("csrf", &csrf), ("body", "forged")],
    );
    assert_eq!(status, 403);
    let (_, _, _, doc) = b.get(&format!("{base}/alice/app/pull/1"));
    assert_eq!(doc.select(&sel("#comments .comment")).count(), 1);
    let (status, _, set, _) = b.post(&format!("{base}/logout"), &[("csrf", &csrf)]);
    assert_eq!(status, 303);
    assert!(set.iter().any(|c| c.starts_with("guts_session=;")));
    let (_, _, _, doc) = b.get(&format!("{base}/"));
    assert!(texts(&doc, "header.top .who").is_empty());
    assert_eq!(texts(&doc, "header.top a.signin"), vec!["Sign in"]);
}
