//! What v0 and v2 upload-pack share: the fetch arguments, which haves are common, and
//! planning and sending the pack (shallow boundaries, filters, include-tag).

use std::collections::HashSet;
use std::io::{BufWriter, Write};

use guts_git::odb::ObjectRead;
use guts_git::pktline::{SidebandKind, encode_band};
use guts_git::walk::{
    Deepen, Filter, ObjectsWanted, ShallowUpdate, objects_and_known, peel, shallow_update,
};
use guts_git::{Kind, ObjectId};
use guts_store::{
    Repo, RepoOdb, SendOptions, StoredPacks, Unstored, send_all, send_pack_with, send_stored_packs,
};

use crate::collab::pull_refs::PullRefs;

use super::GitError;
use super::sideband::{PackOut, Progress};

/// Wants and haves accepted per request.
pub const MAX_LINES: usize = 500_000;

/// A fetch request, from either protocol version.
#[derive(Debug, Default)]
pub struct FetchArgs {
    pub wants: Vec<ObjectId>,
    pub haves: Vec<ObjectId>,
    pub shallows: Vec<ObjectId>,
    pub depth: Option<u32>,
    pub deepen_relative: bool,
    pub deepen_since: Option<i64>,
    pub deepen_not: Vec<String>,
    pub filter: Option<Filter>,
    pub ofs_delta: bool,
    pub no_progress: bool,
    pub include_tag: bool,
    pub thin: bool,
    pub done: bool,
    pub wait_for_done: bool,
    pub sideband: Option<SidebandKind>,
}

fn oid(arg: &[u8]) -> Result<ObjectId, GitError> {
    ObjectId::from_hex(arg.trim_ascii_end()).map_err(|_| {
        GitError::Protocol(format!("bad object id {:?}", String::from_utf8_lossy(arg)))
    })
}

fn text(arg: &[u8]) -> Result<&str, GitError> {
    std::str::from_utf8(arg.trim_ascii_end())
        .map_err(|_| GitError::Protocol("argument is not UTF-8".into()))
}

impl FetchArgs {
    /// Applies one argument line shared by both versions; false if it is not one of them.
    pub fn parse_line(&mut self, line: &[u8]) -> Result<bool, GitError> {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let (word, arg) = match line.iter().position(|&b| b == b' ') {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => (line, &b""[..]),
        };
        if self.wants.len() + self.haves.len() + self.shallows.len() > MAX_LINES {
            return Err(GitError::Protocol(
                "too many wants, haves or shallows".into(),
            ));
        }
        match word {
            b"want" => self.wants.push(oid(arg)?),
            b"have" => self.haves.push(oid(arg)?),
            b"shallow" => self.shallows.push(oid(arg)?),
            b"deepen" => {
                let d: u32 = text(arg)?
                    .parse()
                    .map_err(|_| GitError::Protocol("bad deepen".into()))?;
                if d == 0 {
                    return Err(GitError::Protocol("deepen must be positive".into()));
                }
                self.depth = Some(d);
            }
            b"deepen-relative" => self.deepen_relative = true,
            b"deepen-since" => {
                self.deepen_since = Some(
                    text(arg)?
                        .parse()
                        .map_err(|_| GitError::Protocol("bad deepen-since".into()))?,
                );
            }
            b"deepen-not" => self.deepen_not.push(text(arg)?.to_string()),
            b"filter" => {
                self.filter =
                    Some(Filter::parse(text(arg)?).map_err(|e| GitError::Protocol(e.to_string()))?);
            }
            b"done" => self.done = true,
            b"no-progress" => self.no_progress = true,
            b"include-tag" => self.include_tag = true,
            b"ofs-delta" => self.ofs_delta = true,
            b"thin-pack" => self.thin = true,
            b"no-done" => {}
            b"wait-for-done" => self.wait_for_done = true,
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn deepen(&self, repo: &Repo) -> Result<Option<Deepen>, GitError> {
        if let Some(depth) = self.depth {
            return Ok(Some(Deepen::Depth {
                depth,
                relative: self.deepen_relative,
            }));
        }
        if self.deepen_since.is_none() && self.deepen_not.is_empty() {
            return Ok(None);
        }
        let mut not = Vec::new();
        for name in &self.deepen_not {
            not.push(resolve_ref(repo, name)?);
        }
        Ok(Some(Deepen::Exclude {
            since: self.deepen_since,
            not,
        }))
    }
}

/// Resolves a ref name the way git's DWIM does for `deepen-not`.
fn resolve_ref(repo: &Repo, name: &str) -> Result<ObjectId, GitError> {
    for candidate in [
        name.to_string(),
        format!("refs/{name}"),
        format!("refs/tags/{name}"),
        format!("refs/heads/{name}"),
    ] {
        if let Some(id) = repo.get_ref(&candidate)? {
            return Ok(id);
        }
    }
    Err(GitError::Protocol(format!(
        "deepen-not: unknown ref {name}"
    )))
}

/// What upload-pack reads: the repository's objects, then the unstored objects of its
/// pull request refs (test merges, forks' commits).
pub struct Served<'a> {
    /// The repository's objects.
    pub odb: &'a RepoOdb,
    /// Its pull request refs.
    pub pulls: &'a PullRefs,
}

impl ObjectRead for Served<'_> {
    fn read_object(
        &self,
        id: &ObjectId,
    ) -> Result<Option<(Kind, Vec<u8>)>, guts_git::odb::OdbError> {
        match self.odb.read_object(id)? {
            Some(o) => Ok(Some(o)),
            None => self.pulls.read_object(id),
        }
    }

    fn object_header(&self, id: &ObjectId) -> Result<Option<(Kind, u64)>, guts_git::odb::OdbError> {
        match self.odb.object_header(id)? {
            Some(h) => Ok(Some(h)),
            None => self.pulls.object_header(id),
        }
    }
}

/// The haves this repository has.
pub fn common(odb: &RepoOdb, haves: &[ObjectId]) -> Result<Vec<ObjectId>, GitError> {
    let mut out = Vec::new();
    for h in haves {
        if odb.contains(h)? {
            out.push(*h);
        }
    }
    Ok(out)
}

/// What will be sent.
pub struct Plan {
    pub shallow: Option<ShallowUpdate>,
    pub objects: ToSend,
    /// Objects the client has, for a thin pack.
    pub known: Option<HashSet<ObjectId>>,
}

/// The objects of the pack.
pub enum ToSend {
    /// Every stored object: a full clone of a repository whose objects are all reachable;
    /// as the stored packs themselves when they hold each object once (and the client
    /// accepts OFS_DELTA).
    All(Option<StoredPacks>),
    /// These.
    These(Vec<ObjectId>),
}

/// A full clone (every ref wanted, nothing had, no shallow or filter) of a repository whose
/// stored objects are all reachable: the pack is every stored object, no walk needed.
fn full_clone(repo: &Repo, pulls: &PullRefs, args: &FetchArgs) -> Result<bool, GitError> {
    if !args.haves.is_empty()
        || !args.shallows.is_empty()
        || args.depth.is_some()
        || args.deepen_since.is_some()
        || !args.deepen_not.is_empty()
        || args.filter.is_some()
        || !repo.is_closed()?
    {
        return Ok(false);
    }
    let wants: HashSet<ObjectId> = args.wants.iter().copied().collect();
    let refs = repo.list_refs()?;
    // Every ref wanted, and no pull request ref's unstored object.
    Ok(!refs.is_empty()
        && refs.iter().all(|(_, id)| wants.contains(id))
        && wants.iter().all(|w| pulls.unstored(w).is_none()))
}

/// Checks the wants, computes shallow boundaries and the objects to send.
/// With `with_objects` false only the wants and shallow boundaries are computed.
pub fn plan(
    repo: &Repo,
    served: &Served<'_>,
    args: &FetchArgs,
    with_objects: bool,
) -> Result<Plan, GitError> {
    let odb = served.odb;
    if args.wants.is_empty() {
        return Err(GitError::Protocol("no wants".into()));
    }
    for w in &args.wants {
        // Any object of the repository may be wanted (partial clones fetch blobs by id),
        // and those of its pull request refs.
        if !served.contains(w)? {
            return Err(GitError::Protocol(format!("upload-pack: not our ref {w}")));
        }
    }
    let common = common(odb, &args.haves)?;
    let mut wants = args.wants.clone();
    let mut cut: HashSet<ObjectId> = args.shallows.iter().copied().collect();
    let shallow = match args.deepen(repo)? {
        Some(deepen) => {
            let mut want_commits = Vec::new();
            for w in &args.wants {
                let (id, kind) = peel(served, w)?;
                if kind == Kind::Commit {
                    want_commits.push(id);
                }
            }
            let update = shallow_update(served, &want_commits, &args.shallows, &deepen)?;
            cut.extend(update.cut.iter().copied());
            wants.extend(update.extra_wants.iter().copied());
            Some(update)
        }
        None => None,
    };
    if !with_objects {
        return Ok(Plan {
            shallow,
            objects: ToSend::These(Vec::new()),
            known: None,
        });
    }
    if full_clone(repo, served.pulls, args)? {
        return Ok(Plan {
            shallow,
            objects: ToSend::All(repo.reusable_packs()?.filter(|_| args.ofs_delta)),
            known: None,
        });
    }
    let (listed, known) = objects_and_known(
        served,
        &ObjectsWanted {
            wants: &wants,
            haves: &common,
            cut: &cut,
            filter: args.filter,
        },
    )?;
    let mut objects: Vec<ObjectId> = listed.into_iter().map(|o| o.id).collect();
    if args.include_tag {
        include_tags(repo, odb, &mut objects, &common)?;
    }
    Ok(Plan {
        shallow,
        objects: ToSend::These(objects),
        known: args.thin.then_some(known),
    })
}

/// Adds annotated tags (and tags of tags) whose target is being sent.
fn include_tags(
    repo: &Repo,
    odb: &RepoOdb,
    objects: &mut Vec<ObjectId>,
    haves: &[ObjectId],
) -> Result<(), GitError> {
    let mut sending: HashSet<ObjectId> = objects.iter().copied().collect();
    let haves: HashSet<ObjectId> = haves.iter().copied().collect();
    for (name, id) in repo.list_refs()? {
        if !name.starts_with("refs/tags/") || sending.contains(&id) || haves.contains(&id) {
            continue;
        }
        // Follow the tag chain; include it if it ends at something sent.
        let mut chain = Vec::new();
        let mut cur = id;
        while let Some((Kind::Tag, _)) = odb.object_header(&cur)? {
            chain.push(cur);
            let data = odb.read_kind(&cur, Kind::Tag)?;
            let Some((target, _)) = guts_git::object::tag_target(&data) else {
                break;
            };
            cur = target;
            if chain.len() > 64 {
                break;
            }
        }
        if !chain.is_empty() && sending.contains(&cur) {
            for t in chain {
                if sending.insert(t) {
                    objects.push(t);
                }
            }
        }
    }
    Ok(())
}

/// Streams the pack for `objects` to `out` with progress. An error once the pack has
/// started goes to the client on side-band 3 (when it asked for side-band) and comes back
/// as [`GitError::Reported`].
pub fn send(
    served: &Served<'_>,
    plan: Plan,
    args: &FetchArgs,
    mut out: &mut dyn Write,
) -> Result<(), GitError> {
    match send_pack_stream(served, plan, args, &mut *out) {
        Ok(_) => Ok(()),
        Err(e @ GitError::Io(_)) => Err(e),
        Err(e) => match args.sideband {
            Some(kind) => {
                let msg = format!("{}\n", e.public());
                encode_band(&mut out, kind, 3, msg.as_bytes())?;
                out.flush()?;
                Err(GitError::Reported(Box::new(e)))
            }
            None => Err(e),
        },
    }
}

fn send_pack_stream<W: Write>(
    served: &Served<'_>,
    plan: Plan,
    args: &FetchArgs,
    out: W,
) -> Result<W, GitError> {
    let odb = served.odb;
    let Plan { objects, known, .. } = plan;
    let progress = Progress::new(!args.no_progress && args.sideband.is_some());
    let total = match &objects {
        ToSend::These(objects) => objects.len(),
        ToSend::All(Some(packs)) => packs.objects() as usize,
        ToSend::All(None) => odb.count()?,
    };
    progress.say(&format!("Enumerating objects: {total}, done.\n"));
    progress.say(&format!(
        "Counting objects: 100% ({total}/{total}), done.\n"
    ));
    let max = args.sideband.map_or(1 << 16, |k| k.max_payload());
    let pack_out = PackOut::new(out, args.sideband, progress.clone());
    let buffered = BufWriter::with_capacity(max, pack_out);
    let mut p = progress.clone();
    let opts = SendOptions {
        ofs_delta: args.ofs_delta,
        thin: known.as_ref(),
    };
    let (stats, buffered, pack_reused) = match objects {
        ToSend::All(Some(packs)) => {
            let (stats, out) = send_stored_packs(odb, &packs, buffered, &mut p)?;
            (stats, out, stats.objects)
        }
        ToSend::All(None) => {
            let (stats, out) = send_all(odb, opts, buffered, &mut p)?;
            (stats, out, 0)
        }
        ToSend::These(objects) => {
            // A pull request ref's objects the repository does not store go whole.
            let mut stored = Vec::with_capacity(objects.len());
            let mut unstored: Vec<Unstored<'_>> = Vec::new();
            for id in objects {
                match served.pulls.unstored(&id) {
                    Some(o) if !odb.contains(&id)? => unstored.push(o),
                    _ => stored.push(id),
                }
            }
            let (stats, out) = send_pack_with(odb, stored, &unstored, opts, buffered, &mut p)?;
            (stats, out, 0)
        }
    };
    let pack_out = buffered
        .into_inner()
        .map_err(|e| GitError::Io(e.into_error()))?;
    progress.say(&format!(
        "Total {} (delta {}), reused {} (delta {}), pack-reused {pack_reused}\n",
        stats.objects, stats.deltas, stats.reused, stats.deltas
    ));
    Ok(pack_out.finish()?)
}
