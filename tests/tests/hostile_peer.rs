//! A hostile peer against a real node. The peer runs the real guts-net stack with a host
//! that lies: updates from a writer the node does not trust, forged signatures, a corrupt
//! pack, a pack missing objects, an oversized answer, forged gossip, and garbage bytes on the
//! p2p port. Each is refused and counted in `/metrics`, and the node's refs and objects do
//! not change. Then the same peer relaying honestly (updates signed by a trusted writer, a
//! correct pack) is accepted: the refusals were about the defects, not the path. Last, the
//! repository is deleted and the peer's stale updates do not bring it back.

use std::fs::File;
use std::io::{Seek, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use guts_node::net::{
    Announcement, Body, Entry, Hlc, Host, NetEvent, NetHandle, NodeKey, PackRef, Pusher,
    ReplicaError, RepoDigest, RepoState, SignedRef, Stamp, SyncPlan,
};
use guts_node::{NetConfig, NodeConfig};
use guts_tests::{TestNode, commit_files, git, make_repo, pack_objects, remote_refs, tmp};

const DEADLINE: Duration = Duration::from_secs(60);
const REPO: &str = "victim/repo";

/// What the hostile host serves right now.
#[derive(Clone)]
struct Lies {
    updates: Vec<SignedRef>,
    pack: Vec<u8>,
    /// Bumped on every change so the digest always differs.
    round: u64,
}

struct HostileHost {
    lies: Mutex<Lies>,
}

impl HostileHost {
    fn lies(&self) -> Lies {
        self.lies.lock().expect("lock").clone()
    }
}

impl Host for HostileHost {
    fn apply_op(
        &self,
        _op: &guts_node::net::collab::Op,
        _record: Vec<u8>,
    ) -> Result<bool, guts_node::net::ReplicaError> {
        Ok(false)
    }

    fn held(&self) -> Vec<String> {
        vec![REPO.into()]
    }

    fn digests(&self) -> Vec<RepoDigest> {
        let l = self.lies();
        let mut digest = [7u8; 32];
        digest[..8].copy_from_slice(&l.round.to_be_bytes());
        vec![RepoDigest {
            repo: REPO.into(),
            digest,
            entries: l.updates.len() as u64,
        }]
    }

    fn updates(&self, _repo: &str, after: Option<Stamp>, limit: usize) -> Vec<SignedRef> {
        let mut u = self.lies().updates;
        u.retain(|u| after.is_none_or(|a| u.stamp > a));
        u.truncate(limit);
        u
    }

    fn plan(&self, _repo: &str, _updates: &[SignedRef]) -> Result<SyncPlan, ReplicaError> {
        Ok(SyncPlan::default())
    }

    fn build_pack(
        &self,
        _repo: &str,
        _wants: &[[u8; 20]],
        _haves: &[[u8; 20]],
    ) -> Result<(File, u64), ReplicaError> {
        let bytes = self.lies().pack;
        let mut f = tempfile::tempfile()?;
        f.write_all(&bytes)?;
        f.rewind()?;
        Ok((f, bytes.len() as u64))
    }

    fn stored_pack(&self, repo: &str, _checksum: &[u8; 20]) -> Result<(File, u64), ReplicaError> {
        self.build_pack(repo, &[], &[])
    }

    fn spool(&self) -> std::io::Result<File> {
        tempfile::tempfile()
    }

    fn apply(&self, _: &str, _: Option<File>, _: Vec<SignedRef>) -> Result<usize, ReplicaError> {
        Ok(0)
    }

    fn records(&self, _: Option<&str>, _: usize) -> Vec<(String, Vec<u8>)> {
        Vec::new()
    }

    fn apply_account(
        &self,
        _: &str,
        _: Stamp,
        _: Option<&Entry>,
        _: Vec<u8>,
    ) -> Result<bool, ReplicaError> {
        Ok(false)
    }

    fn apply_record(
        &self,
        _: &str,
        _: Stamp,
        _: &RepoState,
        _: Vec<u8>,
    ) -> Result<bool, ReplicaError> {
        Ok(false)
    }

    fn event(&self, _: NetEvent) {}
}

fn oid(hex: &str) -> [u8; 20] {
    let mut out = [0u8; 20];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex");
    }
    out
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn stamp_at(key: &NodeKey, wall_ms: u64) -> Stamp {
    Stamp {
        hlc: Hlc {
            wall_ms,
            logical: 0,
        },
        origin: key.id(),
    }
}

/// A pusher `user` whose grant is their user record (a site administrator with `admin`),
/// signed by `key` just before now.
fn pusher(key: &NodeKey, user: &str, admin: bool) -> Pusher {
    let record = Announcement::sign(
        key,
        Body::Account {
            stamp: stamp_at(key, now_ms() - 1),
            key: format!("user/{user}"),
            entry: Some(Entry::User(guts_node::net::accounts::User {
                name: user.into(),
                admin,
                created_at: 0,
                incarnation: 1,
            })),
        },
    );
    Pusher {
        user: user.into(),
        grant: vec![record.encode().expect("encode")],
    }
}

/// An update pushed by a site administrator whose grant `key` signed.
fn signed(key: &NodeKey, name: &str, new: [u8; 20]) -> SignedRef {
    signed_by(key, name, new, Some(pusher(key, "mallory", true)))
}

fn signed_by(key: &NodeKey, name: &str, new: [u8; 20], pusher: Option<Pusher>) -> SignedRef {
    SignedRef::sign(
        key,
        REPO,
        name,
        [0; 20],
        new,
        stamp_at(key, now_ms()),
        pusher,
    )
}

struct Setup {
    victim: TestNode,
    hostile: NetHandle,
    host: Arc<HostileHost>,
    rt: tokio::runtime::Runtime,
}

impl Setup {
    fn set(&self, updates: Vec<SignedRef>, pack: Vec<u8>) {
        let mut l = self.host.lies.lock().expect("lock");
        l.round += 1;
        l.updates = updates;
        l.pack = pack;
    }

    /// Waits (nudging anti-entropy) until `series` on the victim grew by `by`. Rounds with a
    /// peer run one at a time, so growing by two means a round that started after the last
    /// change of the lies was counted.
    fn wait_counted(&self, series: &str, before: f64, by: f64) -> f64 {
        let start = Instant::now();
        loop {
            let now = self.victim.metric(series);
            if now >= before + by {
                return now;
            }
            assert!(start.elapsed() < DEADLINE, "{series} stayed at {before}");
            self.victim.block_on(self.victim.net().sync_now());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits (nudging anti-entropy) until a round that started after the last change of
    /// the lies has ended and `series` on the victim grew: a refusal is counted once, as
    /// the victim does not fetch what it refused again while nothing changes.
    fn wait_refused(&self, counter: &str, before: f64) -> f64 {
        let rounds = self.victim.metric(&series("anti_entropy_rounds"));
        self.wait_counted(&series("anti_entropy_rounds"), rounds, 2.0);
        self.wait_counted(counter, before, 1.0)
    }

    fn objects(&self) -> f64 {
        self.victim.metric("guts_objects_stored")
    }
}

fn series(what: &str) -> String {
    format!("guts_p2p{{what=\"{what}\"}}")
}

#[test]
fn a_hostile_peer_changes_nothing_and_is_counted() {
    let trusted = NodeKey::generate().expect("key");
    let stranger = NodeKey::generate().expect("key");
    let dir = tmp();
    let mut config = NodeConfig::new(dir.path(), "127.0.0.1:0".parse().expect("addr"));
    config.p2p = Some(NetConfig {
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().expect("addr")],
        mdns: false,
        trusted: vec![trusted.id()],
        anti_entropy_every: Duration::from_secs(1),
        request_timeout: Duration::from_secs(10),
        ..NetConfig::default()
    });
    let victim = TestNode::start_with(dir, config);
    let victim_addrs = victim.net().listen_addrs();
    victim.create_repo("victim", "repo");
    let url = format!("{}/{REPO}.git", victim.url);

    // Real history for the lies to point at.
    let src = tmp();
    make_repo(src.path(), 2);
    commit_files(src.path(), "more", 10, 1);
    let tip = git(src.path(), &["rev-parse", "HEAD"]).trim().to_string();
    let good_pack = pack_objects(src.path(), &format!("{tip}\n"), true);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let host = Arc::new(HostileHost {
        lies: Mutex::new(Lies {
            updates: Vec::new(),
            pack: Vec::new(),
            round: 0,
        }),
    });
    let hostile_key = NodeKey::from_secret(stranger.secret());
    let hostile = rt
        .block_on(guts_node::net::spawn(
            NetConfig {
                listen: vec!["/ip4/127.0.0.1/tcp/0".parse().expect("addr")],
                bootstrap: victim_addrs.clone(),
                mdns: false,
                anti_entropy_every: Duration::from_secs(3600),
                ..NetConfig::default()
            },
            hostile_key,
            host.clone(),
        ))
        .expect("hostile peer");
    let s = Setup {
        victim,
        hostile,
        host,
        rt,
    };
    guts_tests::wait_for("the hostile peer to connect", DEADLINE, || {
        !s.victim.net().connected_peers().is_empty()
    });
    let objects = s.objects();
    let unchanged = |s: &Setup| {
        assert!(remote_refs(&url, "2").is_empty(), "refs moved");
        assert_eq!(s.objects(), objects, "objects were stored");
    };

    // 1. Updates signed by a writer the node does not trust.
    let rejected = s.victim.metric(&series("updates_rejected"));
    s.set(
        vec![signed(&stranger, "refs/heads/untrusted", oid(&tip))],
        good_pack.clone(),
    );
    let rejected = s.wait_refused(&series("updates_rejected"), rejected);
    unchanged(&s);
    // Refused once, not again every round while neither side changes.
    let settled = s.victim.metric(&series("differences_settled"));
    let rounds = s.victim.metric(&series("anti_entropy_rounds"));
    s.wait_counted(&series("anti_entropy_rounds"), rounds, 3.0);
    assert_eq!(
        s.victim.metric(&series("updates_rejected")),
        rejected,
        "fetched and refused again"
    );
    assert!(s.victim.metric(&series("differences_settled")) >= settled + 2.0);

    // 2. A trusted writer's update with a field changed after signing.
    let mut forged = signed(&trusted, "refs/heads/forged", oid(&tip));
    forged.name = "refs/heads/main".into();
    s.set(vec![forged], good_pack.clone());
    s.wait_refused(&series("updates_rejected"), rejected);
    unchanged(&s);

    // 3. Validly signed, but the pack is corrupt (one byte flipped).
    let failures = s.victim.metric(&series("sync_failures"));
    let mut corrupt = good_pack.clone();
    let mid = corrupt.len() / 2;
    corrupt[mid] ^= 0x55;
    s.set(
        vec![signed(&trusted, "refs/heads/corrupt", oid(&tip))],
        corrupt,
    );
    let failures = s.wait_counted(&series("sync_failures"), failures, 2.0);
    unchanged(&s);

    // 4. Validly signed, a sound pack, but it lacks the commit's tree and blobs.
    let only_commit = pack_objects(src.path(), &format!("{tip}\n"), false);
    s.set(
        vec![signed(&trusted, "refs/heads/partial", oid(&tip))],
        only_commit,
    );
    s.wait_counted(&series("sync_failures"), failures, 2.0);
    unchanged(&s);

    // 5. Validly signed, but a ref name no node may write (its own conflict refs).
    let rejected = s.victim.metric(&series("updates_rejected"));
    let sneaky = format!("refs/guts/conflicts/heads/main/{tip}");
    s.set(
        vec![signed(&trusted, &sneaky, oid(&tip))],
        good_pack.clone(),
    );
    s.wait_refused(&series("updates_rejected"), rejected);
    unchanged(&s);

    // 6. An answer over the size limit (one update with a 9 MiB ref name): the stream
    // breaks, the round fails and is counted.
    let failures = s.victim.metric(&series("sync_failures"));
    let huge = format!("refs/heads/{}", "x".repeat(9 << 20));
    s.set(vec![signed(&trusted, &huge, oid(&tip))], good_pack.clone());
    s.wait_counted(&series("sync_failures"), failures, 2.0);
    unchanged(&s);

    // 7. Gossip from a writer the node does not trust.
    let gossip = s.victim.metric(&series("announcements_rejected"));
    let start = Instant::now();
    while s.victim.metric(&series("announcements_rejected")) <= gossip {
        assert!(start.elapsed() < DEADLINE, "untrusted gossip never counted");
        let u = signed(&stranger, "refs/heads/gossip", oid(&tip));
        s.rt.block_on(s.hostile.announce(REPO, None::<PackRef>, vec![u]));
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(remote_refs(&url, "2").is_empty(), "refs moved");

    // 8. Garbage bytes on the p2p port: the handshake fails, the node carries on.
    let refused = s.victim.metric(&series("handshakes_failed"));
    let port = victim_addrs[0]
        .iter()
        .find_map(|p| match p {
            guts_node::net::Protocol::Tcp(port) => Some(port),
            _ => None,
        })
        .expect("tcp port");
    let mut raw = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    raw.write_all(&[0xff; 4096]).expect("garbage");
    drop(raw);
    s.wait_counted(&series("handshakes_failed"), refused, 1.0);
    assert!(remote_refs(&url, "2").is_empty(), "refs moved");

    // 9. Validly signed by a trusted writer, but pushed by nobody, by a user whose grant
    // gives no write access, or with a grant signed by a node nobody trusts.
    let grants = "guts_replicated_updates_refused_total";
    for (i, p) in [
        None,
        Some(pusher(&trusted, "eve", false)),
        Some(pusher(&stranger, "mallory", true)),
    ]
    .into_iter()
    .enumerate()
    {
        let before = s.victim.metric(grants);
        let name = format!("refs/heads/ungranted-{i}");
        s.set(
            vec![signed_by(&trusted, &name, oid(&tip), p)],
            good_pack.clone(),
        );
        s.wait_refused(grants, before);
        unchanged(&s);
    }

    // The same peer relaying honestly is accepted: a trusted writer's update, a good pack.
    s.set(
        vec![signed(&trusted, "refs/heads/main", oid(&tip))],
        good_pack,
    );
    guts_tests::wait_for("the honest relay to be applied", DEADLINE, || {
        s.victim.block_on(s.victim.net().sync_now());
        remote_refs(&url, "2") == vec![format!("{tip} refs/heads/main")]
    });
    let clone = tmp();
    git(clone.path(), &["clone", "-q", &url, "c"]);
    git(&clone.path().join("c"), &["fsck", "--strict"]);

    // Deleted here, the repository is not brought back by a peer that keeps serving its
    // older updates (and the pack for them).
    let api = format!("{}/api/v1/repos/{REPO}", s.victim.url);
    assert_eq!(guts_tests::http("DELETE", &api, None).0, 204);
    let rounds = s.victim.metric(&series("anti_entropy_rounds"));
    s.wait_counted(&series("anti_entropy_rounds"), rounds, 3.0);
    assert_eq!(guts_tests::http("GET", &api, None).0, 404, "brought back");
    s.rt.block_on(s.hostile.shutdown());
}
