//! The negotiation helpers agree with `git rev-list` on the fixture repository.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::collections::HashSet;

use guts_git::ObjectId;
use guts_git::walk::{
    Deepen, Filter, ObjectsWanted, check_connected, commits_between, is_ancestor, objects_to_send,
    shallow_update,
};

fn send(
    odb: &guts_git::odb::MemoryOdb,
    wants: &[ObjectId],
    haves: &[ObjectId],
    cut: &HashSet<ObjectId>,
    filter: Option<Filter>,
) -> Vec<ObjectId> {
    let req = ObjectsWanted {
        wants,
        haves,
        cut,
        filter,
    };
    let mut ids: Vec<ObjectId> = objects_to_send(odb, &req)
        .unwrap()
        .into_iter()
        .map(|o| o.id)
        .collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "no object is listed twice");
    ids
}

#[test]
fn objects_a_client_lacks_match_rev_list_objects() {
    let repo = common::fixture();
    let odb = common::odb_of(repo);
    let none = HashSet::new();
    for (wants, haves) in [
        (vec!["main"], vec![]),
        (vec!["main"], vec!["main~30"]),
        (vec!["main", "feature", "v100"], vec!["main~3", "other"]),
        (vec!["with-extra"], vec!["feature"]),
        (vec!["nested", "tree-tag", "blob-tag"], vec![]),
    ] {
        let w: Vec<ObjectId> = wants.iter().map(|r| common::rev(repo, r)).collect();
        let h: Vec<ObjectId> = haves.iter().map(|r| common::rev(repo, r)).collect();
        let mut args = vec!["rev-list".to_string(), "--objects".into()];
        args.extend(w.iter().map(|id| id.to_hex()));
        args.extend(h.iter().map(|id| format!("^{id}")));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let expected = common::id_lines(common::git(repo, &args));
        assert_eq!(
            send(&odb, &w, &h, &none, None),
            expected,
            "wants {wants:?} haves {haves:?}"
        );
    }
}

#[test]
fn filters_match_rev_list_filter() {
    let repo = common::fixture();
    let odb = common::odb_of(repo);
    let main = common::rev(repo, "main");
    for spec in ["blob:none", "blob:limit=1k", "tree:0", "tree:1", "tree:2"] {
        let expected = common::id_lines(common::git(
            repo,
            &[
                "rev-list",
                "--objects",
                &format!("--filter={spec}"),
                "--filter-provided-objects",
                "main",
            ],
        ));
        let got = send(
            &odb,
            &[main],
            &[],
            &HashSet::new(),
            Some(Filter::parse(spec).unwrap()),
        );
        // git's --filter-provided-objects also filters the wanted tip itself; we always send
        // explicitly wanted objects, and the tip is a commit, which no filter drops.
        assert_eq!(got, expected, "filter {spec}");
    }
}

#[test]
fn depth_boundary_matches_a_depth_limited_rev_list() {
    let repo = common::fixture();
    let odb = common::odb_of(repo);
    // main's first parent chain is linear below the merges: use a linear stretch.
    let tip = common::rev(repo, "main~2");
    let up = shallow_update(
        &odb,
        &[tip],
        &[],
        &Deepen::Depth {
            depth: 3,
            relative: false,
        },
    )
    .unwrap();
    assert_eq!(up.shallow, vec![common::rev(repo, "main~2~2")]);
    let commits = commits_between(&odb, &[tip], &[], &up.cut).unwrap();
    let expected: Vec<ObjectId> =
        String::from_utf8(common::git(repo, &["rev-list", "-n", "3", &tip.to_hex()]))
            .unwrap()
            .lines()
            .map(|l| l.parse().unwrap())
            .collect();
    assert_eq!(commits.included, expected);

    // Deepening by 2 more relative to that boundary unshallows it and moves the boundary.
    let deeper = shallow_update(
        &odb,
        &[tip],
        &up.shallow,
        &Deepen::Depth {
            depth: 2,
            relative: true,
        },
    )
    .unwrap();
    assert_eq!(deeper.unshallow, up.shallow);
    assert_eq!(deeper.shallow, vec![common::rev(repo, "main~2~4")]);
    // And --unshallow (infinite depth) removes every boundary.
    let all = shallow_update(
        &odb,
        &[tip],
        &up.shallow,
        &Deepen::Depth {
            depth: 0x7fff_ffff,
            relative: false,
        },
    )
    .unwrap();
    assert!(all.shallow.is_empty());
    assert_eq!(all.unshallow, up.shallow);
}

#[test]
fn deepen_since_and_not_leave_out_old_and_excluded_history() {
    let repo = common::fixture();
    let odb = common::odb_of(repo);
    let tip = common::rev(repo, "main~2");
    let time: i64 = common::text(common::git(repo, &["log", "-1", "--format=%ct", "main~12"]))
        .parse()
        .unwrap();
    let up = shallow_update(
        &odb,
        &[tip],
        &[],
        &Deepen::Exclude {
            since: Some(time),
            not: vec![],
        },
    )
    .unwrap();
    let commits = commits_between(&odb, &[tip], &[], &up.cut).unwrap();
    let expected = common::id_lines(common::git(
        repo,
        &["rev-list", &format!("--since={time}"), &tip.to_hex()],
    ));
    let mut got = commits.included.clone();
    got.sort();
    assert_eq!(got, expected);
    let not = common::rev(repo, "main~20");
    let up = shallow_update(
        &odb,
        &[tip],
        &[],
        &Deepen::Exclude {
            since: None,
            not: vec![not],
        },
    )
    .unwrap();
    let commits = commits_between(&odb, &[tip], &[], &up.cut).unwrap();
    let expected = common::id_lines(common::git(
        repo,
        &["rev-list", &tip.to_hex(), &format!("^{not}")],
    ));
    let mut got = commits.included;
    got.sort();
    assert_eq!(got, expected);
}

#[test]
fn ancestry_matches_merge_base_is_ancestor() {
    let repo = common::fixture();
    let odb = common::odb_of(repo);
    for (a, b) in [
        ("main~40", "main"),
        ("main", "main~40"),
        ("feature", "main"),
        ("other", "feature"),
        ("main", "main"),
    ] {
        let expected = common::git_output(repo, &["merge-base", "--is-ancestor", a, b], b"")
            .status
            .success();
        let got = is_ancestor(&odb, &common::rev(repo, a), &common::rev(repo, b)).unwrap();
        assert_eq!(got, expected, "{a} ancestor of {b}");
    }
}

#[test]
fn connectivity_check_finds_a_missing_blob() {
    let repo = common::fixture();
    let odb = common::odb_of(repo);
    let main = common::rev(repo, "main");
    check_connected(&odb, &[main], &[]).unwrap();
    // The same objects without one blob of the tip's tree.
    let blob = common::rev(repo, "main:docs/changelog.txt");
    let partial = guts_git::odb::MemoryOdb::new();
    for (id, kind, data) in common::all_objects(repo) {
        if id != blob {
            partial.insert_with_id(id, kind, data);
        }
    }
    match check_connected(&partial, &[main], &[]) {
        Err(guts_git::odb::OdbError::Missing { id }) => assert_eq!(id, blob),
        other => panic!("{other:?}"),
    }
    // Known-complete tips cut the walk short: only what is new since main~1 is checked.
    check_connected(&partial, &[main], &[common::rev(repo, "main")]).unwrap();
}

#[test]
fn haves_the_server_cannot_resolve_are_ignored() {
    let repo = common::fixture();
    let odb = common::odb_of(repo);
    let main = common::rev(repo, "main");
    let none = HashSet::new();
    let all = send(&odb, &[main], &[], &none, None);
    // An unknown id, and a tag we have whose target we do not.
    let dangling = odb.insert(
        guts_git::Kind::Tag,
        b"object 0123456789abcdef0123456789abcdef01234567\ntype commit\ntag gone\n\n".to_vec(),
    );
    let unknown = ObjectId::from_bytes([0x42; 20]);
    assert_eq!(send(&odb, &[main], &[unknown, dangling], &none, None), all);
}
