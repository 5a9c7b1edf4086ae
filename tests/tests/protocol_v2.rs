//! Protocol v2 and receive-pack details that the git CLI does not show directly, checked on
//! the wire: ls-refs arguments, object-info, the fetch response sections (no
//! acknowledgments after `done`, `wait-for-done`), and an empty pack.

use guts_tests::{TestNode, git, make_repo, post_raw, remote_refs, sub, tmp};

fn pkt(s: &str) -> String {
    format!("{:04x}{s}", s.len() + 4)
}

fn v2(url: &str, command: &str, args: &[String]) -> String {
    let mut body = pkt(&format!("command={command}\n"));
    body.push_str(&pkt("agent=test/1\n"));
    body.push_str(&pkt("object-format=sha1\n"));
    body.push_str("0001");
    for a in args {
        body.push_str(&pkt(a));
    }
    body.push_str("0000");
    let (s, h, out) = post_raw(
        &format!("{url}/git-upload-pack"),
        "application/x-git-upload-pack-request",
        &[("Git-Protocol", "version=2")],
        body.as_bytes(),
    );
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&out));
    assert!(
        h.iter()
            .any(|(k, v)| k == "content-type" && v == "application/x-git-upload-pack-result")
    );
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn v2_commands_on_the_wire() {
    let node = TestNode::start();
    let url = node.create_repo("alice", "wire");
    // An empty repository: unborn HEAD only when asked.
    assert_eq!(v2(&url, "ls-refs", &["symrefs\n".into()]), "0000");
    assert!(
        v2(&url, "ls-refs", &["symrefs\n".into(), "unborn\n".into()])
            .contains("unborn HEAD symref-target:refs/heads/main")
    );

    let t = tmp();
    let src = sub(t.path(), "src");
    std::fs::create_dir(&src).expect("mkdir");
    make_repo(&src, 3);
    git(&src, &["tag", "-a", "v1", "-m", "t"]);
    git(&src, &["push", "-q", &url, "main", "v1"]);
    let head = git(&src, &["rev-parse", "main"]).trim().to_string();
    let tag = git(&src, &["rev-parse", "v1"]).trim().to_string();

    let out = v2(&url, "ls-refs", &["symrefs\n".into(), "peel\n".into()]);
    assert!(
        out.contains(&format!("{head} HEAD symref-target:refs/heads/main")),
        "{out}"
    );
    assert!(
        out.contains(&format!("{tag} refs/tags/v1 peeled:{head}")),
        "{out}"
    );
    let out = v2(&url, "ls-refs", &["ref-prefix refs/tags/\n".into()]);
    assert!(
        out.contains("refs/tags/v1") && !out.contains("refs/heads/main") && !out.contains("HEAD"),
        "{out}"
    );

    let blob = git(&src, &["rev-parse", "main:file-1.txt"])
        .trim()
        .to_string();
    let size = git(&src, &["cat-file", "-s", &blob]).trim().to_string();
    let out = v2(
        &url,
        "object-info",
        &["size\n".into(), format!("oid {blob}\n")],
    );
    assert!(
        out.contains("size\n") && out.contains(&format!("{blob} {size}\n")),
        "{out}"
    );

    // After `done`: no acknowledgments section, straight to the pack.
    let out = v2(
        &url,
        "fetch",
        &[
            format!("want {head}\n"),
            "no-progress\n".into(),
            "done\n".into(),
        ],
    );
    assert!(out.starts_with("000dpackfile\n"), "the pack comes first");
    // Without `done`: acknowledgments; with a common have and no wait-for-done, ready + pack.
    let parent = git(&src, &["rev-parse", "main~1"]).trim().to_string();
    let out = v2(
        &url,
        "fetch",
        &[format!("want {head}\n"), format!("have {parent}\n")],
    );
    assert!(
        out.contains("acknowledgments\n")
            && out.contains(&format!("ACK {parent}"))
            && out.contains("ready\n")
            && out.contains("packfile\n"),
        "{out}"
    );
    // wait-for-done: acknowledgments only, then the response ends.
    let out = v2(
        &url,
        "fetch",
        &[
            format!("want {head}\n"),
            format!("have {parent}\n"),
            "wait-for-done\n".into(),
        ],
    );
    assert!(
        out.contains(&format!("ACK {parent}"))
            && !out.contains("ready")
            && !out.contains("packfile")
            && out.ends_with("0000"),
        "{out}"
    );
    // Unknown haves only: NAK.
    let out = v2(
        &url,
        "fetch",
        &[
            format!("want {head}\n"),
            format!("have {}\n", "3".repeat(40)),
        ],
    );
    assert!(out.contains("NAK") && !out.contains("packfile"), "{out}");
}

#[test]
fn empty_pack_creates_a_ref_to_an_existing_commit() {
    let node = TestNode::start();
    let url = node.create_repo("alice", "empty-pack");
    let t = tmp();
    let src = sub(t.path(), "src");
    std::fs::create_dir(&src).expect("mkdir");
    make_repo(&src, 2);
    git(&src, &["push", "-q", &url, "main"]);
    let head = git(&src, &["rev-parse", "main"]).trim().to_string();
    // The empty pack: header with zero objects and its SHA-1 trailer.
    let empty = b"PACK\0\0\0\x02\0\0\0\0\x02\x9d\x08\x82\x3b\xd8\xa8\xea\xb5\x10\xad\x6a\xc7\x5c\x82\x3c\xfd\x3e\xd3\x1e";
    let mut body = pkt(&format!(
        "{} {head} refs/heads/copy\0report-status side-band-64k\n",
        "0".repeat(40)
    ))
    .into_bytes();
    body.extend_from_slice(b"0000");
    body.extend_from_slice(empty);
    let (s, _, out) = post_raw(
        &format!("{url}/git-receive-pack"),
        "application/x-git-receive-pack-request",
        &[],
        &body,
    );
    let out = String::from_utf8_lossy(&out);
    assert_eq!(s, 200);
    assert!(
        out.contains("unpack ok") && out.contains("ok refs/heads/copy"),
        "{out}"
    );
    assert!(remote_refs(&url, "0").contains(&format!("{head} refs/heads/copy")));
}

/// After an incremental push (stored as deltas against objects the repository already had),
/// a fetch that allows `thin-pack` gets those deltas against objects the client has, and
/// the pack is smaller than without `thin-pack`; git completes it (fetch + fsck).
#[test]
fn thin_packs_for_incremental_fetches() {
    let node = TestNode::start();
    let url = node.create_repo("alice", "thin");
    let t = tmp();
    let src = sub(t.path(), "src");
    std::fs::create_dir(&src).expect("mkdir");
    git(&src, &["init", "-q", "-b", "main"]);
    let big: String = (0..2000)
        .map(|i| format!("line {i} of a long file that changes a little\n"))
        .collect();
    std::fs::write(src.join("big.txt"), &big).expect("write");
    git(&src, &["add", "big.txt"]);
    git(
        &src,
        &[
            "-c",
            "user.name=A",
            "-c",
            "user.email=a@x",
            "commit",
            "-q",
            "-m",
            "one",
        ],
    );
    git(&src, &["push", "-q", &url, "main"]);
    let old = git(&src, &["rev-parse", "main"]).trim().to_string();
    let clone_dir = sub(t.path(), "c");
    git(
        std::path::Path::new("."),
        &["clone", "-q", &url, clone_dir.to_str().expect("utf-8")],
    );
    std::fs::write(src.join("big.txt"), format!("{big}one more line\n")).expect("write");
    git(
        &src,
        &[
            "-c",
            "user.name=A",
            "-c",
            "user.email=a@x",
            "commit",
            "-q",
            "-am",
            "two",
        ],
    );
    git(&src, &["push", "-q", &url, "main"]);
    let new = git(&src, &["rev-parse", "main"]).trim().to_string();

    let fetch = |thin: bool| {
        let mut args = vec![
            format!("want {new}\n"),
            format!("have {old}\n"),
            "ofs-delta\n".into(),
            "no-progress\n".into(),
            "done\n".into(),
        ];
        if thin {
            args.push("thin-pack\n".into());
        }
        v2(&url, "fetch", &args).len()
    };
    let (thin, thick) = (fetch(true), fetch(false));
    assert!(
        thin < thick / 4,
        "thin pack {thin} bytes, full {thick} bytes"
    );
    for proto in ["2", "0"] {
        git(
            &clone_dir,
            &[
                "-c",
                &format!("protocol.version={proto}"),
                "fetch",
                "-q",
                "origin",
            ],
        );
        assert_eq!(git(&clone_dir, &["rev-parse", "origin/main"]).trim(), new);
        git(&clone_dir, &["fsck", "--strict", "--no-progress"]);
        git(
            &clone_dir,
            &["update-ref", "refs/remotes/origin/main", &old],
        );
    }
}
