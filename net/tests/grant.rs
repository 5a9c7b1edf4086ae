//! The grant a pushed update carries agrees with the permission rule: for random account
//! states, the records the rule names as the basis of a user's access, signed by a trusted
//! node before the push, pass `check_grant` exactly when the rule gives write access; the
//! same records signed by an untrusted node, or stamped after the push, never do.

use std::collections::BTreeMap;

use guts_net::accounts::{Entry, Perm, Pusher, Role, User, check_grant, repo_access};
use guts_net::{Announcement, Body, Hlc, NodeKey, Stamp};
use proptest::prelude::*;

const USERS: [&str; 4] = ["ann", "bob", "cat", "dan"];
const REPOS: [&str; 4] = ["ann/app", "acme/web", "acme/api", "bob/lib"];

fn perm() -> impl Strategy<Value = Perm> {
    prop_oneof![Just(Perm::Read), Just(Perm::Write), Just(Perm::Admin)]
}

/// Random entries over a small universe (so that they meet often).
fn entries() -> impl Strategy<Value = Vec<Entry>> {
    let user = (0..4usize, any::<bool>()).prop_map(|(u, admin)| {
        Entry::User(User {
            name: USERS[u].into(),
            admin: admin && u == 3,
            created_at: 0,
            incarnation: 7,
        })
    });
    let collab = (0..4usize, 0..4usize, perm()).prop_map(|(r, u, perm)| Entry::Collaborator {
        repo: REPOS[r].into(),
        user: USERS[u].into(),
        perm,
    });
    let member = (0..4usize, any::<bool>()).prop_map(|(u, owner)| Entry::Member {
        org: "acme".into(),
        user: USERS[u].into(),
        role: if owner { Role::Owner } else { Role::Member },
    });
    let team_repo = (0..2usize, 1..3usize, perm()).prop_map(|(t, r, perm)| Entry::TeamRepo {
        org: "acme".into(),
        team: format!("t{t}"),
        repo: REPOS[r].into(),
        perm,
    });
    let team_member = (0..2usize, 0..4usize).prop_map(|(t, u)| Entry::TeamMember {
        org: "acme".into(),
        team: format!("t{t}"),
        user: USERS[u].into(),
    });
    proptest::collection::vec(
        prop_oneof![user, collab, member, team_repo, team_member],
        0..24,
    )
}

fn signed(k: &NodeKey, wall_ms: u64, e: &Entry) -> Vec<u8> {
    Announcement::sign(
        k,
        Body::Account {
            stamp: Stamp {
                hlc: Hlc {
                    wall_ms,
                    logical: 0,
                },
                origin: k.id(),
            },
            key: e.key(),
            entry: Some(e.clone()),
        },
    )
    .encode()
    .expect("encode")
}

proptest! {
    #[test]
    fn a_grant_holds_exactly_when_the_rule_gives_write(entries in entries()) {
        let trusted = NodeKey::from_secret([1; 32]);
        let stranger = NodeKey::from_secret([2; 32]);
        let view: BTreeMap<String, Entry> = entries.into_iter().map(|e| (e.key(), e)).collect();
        let push = Stamp { hlc: Hlc { wall_ms: 5_000, logical: 0 }, origin: trusted.id() };
        let ok = |n: &guts_net::NodeId| *n == trusted.id();
        for user in USERS {
            for repo in REPOS {
                let (owner, name) = repo.split_once('/').expect("owner/name");
                let Ok(access) = repo_access(&view, user, owner, name);
                let records = |k: &NodeKey, at: u64| Pusher {
                    user: user.into(),
                    grant: access.basis.iter().map(|b| signed(k, at, &view[b])).collect(),
                };
                let writes = access.perm >= Some(Perm::Write);
                let good = check_grant(repo, push, Some(&records(&trusted, 4_000)), ok, 6_000);
                prop_assert_eq!(good.is_ok(), writes, "{} on {}: {:?}", user, repo, good);
                if writes {
                    prop_assert!(check_grant(repo, push, Some(&records(&stranger, 4_000)), ok, 6_000).is_err());
                    prop_assert!(check_grant(repo, push, Some(&records(&trusted, 5_001)), ok, 6_000).is_err());
                    // The same records do not let another user push.
                    let mut other = records(&trusted, 4_000);
                    other.user = if user == "ann" { "bob".into() } else { "ann".into() };
                    let Ok(theirs) = repo_access(&view, &other.user, owner, name);
                    if theirs.perm < Some(Perm::Write) {
                        prop_assert!(check_grant(repo, push, Some(&other), ok, 6_000).is_err());
                    }
                }
            }
        }
    }
}

#[test]
fn a_grant_without_a_pusher_or_with_an_unknown_key_fails() {
    let trusted = NodeKey::from_secret([1; 32]);
    let push = Stamp {
        hlc: Hlc {
            wall_ms: 5_000,
            logical: 0,
        },
        origin: trusted.id(),
    };
    let ok = |n: &guts_net::NodeId| *n == trusted.id();
    assert!(check_grant("ann/app", push, None, ok, 6_000).is_err());
    let junk = Pusher {
        user: "ann".into(),
        grant: vec![vec![1, 2, 3]],
    };
    assert!(check_grant("ann/app", push, Some(&junk), ok, 6_000).is_err());
}

/// An operation's grant (`check_access`): with no access needed, the user's own record
/// suffices and nothing else does; read access to a private repository rests on the
/// records the rule names; records from an untrusted node or stamped after the operation
/// never count.
#[test]
fn an_operations_grant_shows_the_user_and_the_access_asked() {
    use guts_net::accounts::{GrantError, Made, check_access};
    let trusted = NodeKey::from_secret([1; 32]);
    let stranger = NodeKey::from_secret([2; 32]);
    let ok = |n: &guts_net::NodeId| *n == trusted.id();
    let at = Stamp {
        hlc: Hlc {
            wall_ms: 5_000,
            logical: 0,
        },
        origin: trusted.id(),
    };
    let bob = Entry::User(User {
        name: "bob".into(),
        admin: false,
        created_at: 0,
        incarnation: 1,
    });
    let reads = Entry::Collaborator {
        repo: "ann/app".into(),
        user: "bob".into(),
        perm: Perm::Read,
    };
    let made = Made {
        repo: "ann/app",
        stamp: at,
        user: "bob",
    };
    let own = vec![signed(&trusted, 4_000, &bob)];
    assert_eq!(check_access(&made, &own, None, ok, 6_000), Ok(()));
    assert!(matches!(
        check_access(&made, &[], None, ok, 6_000),
        Err(GrantError::NoUser(_))
    ));
    // Someone else's record does not show bob.
    let ann = Entry::User(User {
        name: "ann".into(),
        admin: true,
        created_at: 0,
        incarnation: 1,
    });
    let theirs = vec![signed(&trusted, 4_000, &ann)];
    assert!(check_access(&made, &theirs, None, ok, 6_000).is_err());
    // Read access: the collaborator record too.
    assert!(matches!(
        check_access(&made, &own, Some(Perm::Read), ok, 6_000),
        Err(GrantError::Denied { need: "read", .. })
    ));
    let both = vec![own[0].clone(), signed(&trusted, 4_000, &reads)];
    assert_eq!(
        check_access(&made, &both, Some(Perm::Read), ok, 6_000),
        Ok(())
    );
    assert!(check_access(&made, &both, Some(Perm::Write), ok, 6_000).is_err());
    // Forged or late records.
    let forged = vec![signed(&stranger, 4_000, &bob)];
    assert!(check_access(&made, &forged, None, ok, 6_000).is_err());
    let late = vec![signed(&trusted, 5_001, &bob)];
    assert!(check_access(&made, &late, None, ok, 6_000).is_err());
}
