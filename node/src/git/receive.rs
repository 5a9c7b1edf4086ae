//! receive-pack: commands (and push options), then the pack, streamed into the store and
//! verified; new tips must be connected before any ref moves; the store is flushed before
//! the report is sent.

use std::io::{Read, Write};

use guts_git::odb::ObjectRead;
use guts_git::pack::IndexOptions;
use guts_git::pktline::{
    PacketLineRef, PktReader, SidebandKind, encode_band, write_flush, write_text,
};
use std::collections::HashSet;

use guts_git::walk::{ObjectsWanted, check_connected, is_ancestor, objects_to_send};
use guts_git::{Kind, ObjectId, refname};
use guts_store::{
    IngestOptions, IngestProgress, Overlay, Received, RefUpdate, Repo, RepoOdb, StoreError,
};

use super::GitError;
use crate::replica::{Accepted, Replication};
use guts_net::PackRef;

/// Commands accepted per push.
const MAX_COMMANDS: usize = 100_000;
/// Push options accepted per push.
const MAX_OPTIONS: usize = 100;

/// One command.
#[derive(Debug, Clone)]
pub struct Command {
    pub old: ObjectId,
    pub new: ObjectId,
    pub name: String,
}

/// The commands and capabilities of a push.
#[derive(Debug, Default)]
pub struct Push {
    pub commands: Vec<Command>,
    pub report_status: bool,
    pub sideband: bool,
    pub quiet: bool,
    pub atomic: bool,
    pub push_options: Vec<String>,
}

/// Reads the commands (and push options). An empty request (the 4-byte probe) has none.
pub fn read_commands<R: Read>(r: &mut PktReader<R>) -> Result<Push, GitError> {
    let mut push = Push::default();
    let mut want_options = false;
    loop {
        let line = match r.read_line()? {
            None if push.commands.is_empty() => return Ok(push),
            None => {
                return Err(GitError::Protocol(
                    "commands ended before their flush".into(),
                ));
            }
            Some(PacketLineRef::Flush) => break,
            Some(PacketLineRef::Data(d)) => d,
            Some(other) => return Err(GitError::Protocol(format!("unexpected packet {other:?}"))),
        };
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let (cmd, caps) = match line.iter().position(|&b| b == 0) {
            Some(i) => (&line[..i], Some(&line[i + 1..])),
            None => (line, None),
        };
        if let Some(caps) = caps {
            if !push.commands.is_empty() {
                return Err(GitError::Protocol(
                    "capabilities after the first command".into(),
                ));
            }
            let caps = std::str::from_utf8(caps)
                .map_err(|_| GitError::Protocol("capabilities are not UTF-8".into()))?;
            for c in caps.split_ascii_whitespace() {
                match c {
                    "report-status" | "report-status-v2" => push.report_status = true,
                    "side-band-64k" => push.sideband = true,
                    "quiet" => push.quiet = true,
                    "atomic" => push.atomic = true,
                    "push-options" => want_options = true,
                    "ofs-delta" | "delete-refs" | "object-format=sha1" => {}
                    c if c.starts_with("agent=") || c.starts_with("session-id=") => {}
                    c => return Err(GitError::Protocol(format!("unknown capability {c:?}"))),
                }
            }
        }
        push.commands.push(parse_command(cmd)?);
        if push.commands.len() > MAX_COMMANDS {
            return Err(GitError::Protocol("too many commands".into()));
        }
    }
    if want_options {
        loop {
            match r.read_line()? {
                Some(PacketLineRef::Flush) => break,
                Some(PacketLineRef::Data(d)) => {
                    let o =
                        String::from_utf8_lossy(d.strip_suffix(b"\n").unwrap_or(d)).into_owned();
                    push.push_options.push(o);
                    if push.push_options.len() > MAX_OPTIONS {
                        return Err(GitError::Protocol("too many push options".into()));
                    }
                }
                _ => {
                    return Err(GitError::Protocol(
                        "push options ended before their flush".into(),
                    ));
                }
            }
        }
    }
    Ok(push)
}

fn parse_command(cmd: &[u8]) -> Result<Command, GitError> {
    let bad = || {
        GitError::Protocol(format!(
            "malformed command {:?}",
            String::from_utf8_lossy(cmd)
        ))
    };
    if cmd.len() < 83 || cmd[40] != b' ' || cmd[81] != b' ' {
        return Err(bad());
    }
    let old = ObjectId::from_hex(&cmd[..40]).map_err(|_| bad())?;
    let new = ObjectId::from_hex(&cmd[41..81]).map_err(|_| bad())?;
    let name = std::str::from_utf8(&cmd[82..])
        .map_err(|_| bad())?
        .to_string();
    Ok(Command { old, new, name })
}

/// What a push changed, for the event hub.
#[derive(Debug, Default)]
pub struct Pushed {
    /// Refs updated: name, old, new.
    pub changes: Vec<(String, ObjectId, ObjectId)>,
    /// Commits in the pack.
    pub commits: u64,
    /// Conflicts the push settled: ref and tip.
    pub settled: Vec<(String, ObjectId)>,
    /// Who pushed.
    pub pusher: Option<String>,
    /// The repository's record, when the push gave it its default branch.
    pub new_head: Option<guts_store::RepoRecord>,
    /// What the network is to be told, once the report is written.
    pub accepted: Accepted,
}

/// Who pushes, and the rules their push must keep.
#[derive(Debug, Default)]
pub struct Pushing {
    /// The pusher and their grant, signed into each update.
    pub pusher: Option<guts_net::Pusher>,
    /// Protected-branch patterns: matching branches refuse deletion and non-fast-forwards.
    pub protected: Vec<String>,
    /// Required-reviews rules (pattern, approvals): matching branches move only by a pull
    /// request's merge.
    pub reviewed: Vec<(String, u32)>,
    /// True for a pull request's merge, whose approvals were counted before it was made.
    pub merging: bool,
}

/// The outcome of a push, for metrics and the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every ref was updated.
    Ok,
    /// Some or all refs were refused.
    Rejected,
    /// The pack was refused.
    Failed,
}

struct Sideband<'a> {
    out: &'a mut dyn Write,
    on: bool,
    quiet: bool,
}

impl Sideband<'_> {
    fn progress(&mut self, msg: &str) {
        if self.on && !self.quiet {
            let _ = encode_band(&mut self.out, SidebandKind::Large, 2, msg.as_bytes());
            let _ = self.out.flush();
        }
    }
}

impl IngestProgress for Sideband<'_> {
    fn indexed(&mut self, objects: u32, deltas: u32) {
        self.progress(&format!(
            "Unpacking objects: 100% ({objects}/{objects}), done.\n"
        ));
        if deltas > 0 {
            self.progress(&format!(
                "Resolving deltas: 100% ({deltas}/{deltas}), done.\n"
            ));
        }
    }
}

/// Receives the pack (if any), applies the commands, flushes, and writes the report. What
/// the network is to be told is returned in [`Pushed::accepted`], for the caller to announce.
pub fn serve(
    repo: &Repo,
    push: &Push,
    pack: impl Read,
    (max_pack, max_object): (u64, u64),
    replication: &Replication,
    who: &Pushing,
    out: &mut dyn Write,
) -> Result<(Outcome, Pushed), GitError> {
    let mut pushed = Pushed {
        pusher: who.pusher.as_ref().map(|p| p.user.clone()),
        ..Pushed::default()
    };
    let mut sb = Sideband {
        out,
        on: push.sideband,
        quiet: push.quiet,
    };
    let mut results: Vec<Result<(), String>> = push.commands.iter().map(check_command).collect();
    let needs_pack = push.commands.iter().any(|c| !c.new.is_zero());
    let opts = IngestOptions {
        index: IndexOptions {
            max_pack_size: max_pack,
            max_object_size: max_object,
            ..IndexOptions::default()
        },
    };
    let (unpack, outcome) = if needs_pack {
        match repo.receive_pack(pack, &opts, &mut sb) {
            Ok(rx) => {
                let odb = repo.odb();
                let overlay = rx.overlay(&odb);
                let reach = check_objects(repo, &rx, &overlay, &push.commands, &mut results)?;
                check_protected(Some(&overlay), who, &push.commands, &mut results);
                if push.atomic && results.iter().any(Result::is_err) {
                    fail_atomic(&mut results);
                }
                if results.iter().any(Result::is_ok) {
                    if repo.is_closed()?
                        && leaves_unreachable(&rx, &odb, &overlay, reach, push, &results)?
                    {
                        repo.mark_open()?;
                    }
                    drop(overlay);
                    pushed.commits = rx.commits();
                    let stored = repo.commit_pack(rx)?;
                    pushed.accepted.pack = stored.pack.map(|_| PackRef {
                        checksum: *stored.checksum.as_bytes(),
                        len: stored.bytes,
                    });
                }
                (Ok(()), None)
            }
            Err(e @ (StoreError::Pack(_) | StoreError::Odb(_))) => {
                let cause = crate::error::chain(&e);
                tracing::info!(error = %cause, "push refused: bad pack");
                for r in &mut results {
                    *r = Err("unpacker error".into());
                }
                (Err(unpack_error(&e)), Some(Outcome::Failed))
            }
            Err(e) => return Err(e.into()),
        }
    } else {
        // Deletes only: no pack follows (read what is left, bounded, and ignore it).
        let _ = std::io::copy(&mut pack.take(1 << 16), &mut std::io::sink());
        check_protected(None, who, &push.commands, &mut results);
        if push.atomic && results.iter().any(Result::is_err) {
            fail_atomic(&mut results);
        }
        if results.iter().any(Result::is_ok) && repo.is_closed()? {
            repo.mark_open()?;
        }
        (Ok(()), None)
    };
    if unpack.is_ok() {
        // Refs move and the update log grows as one step (replication does the same).
        let writer = repo.writer();
        let _one = guts_store::sync::lock(&writer);
        apply(repo, push, &mut results)?;
        let changes: Vec<(String, ObjectId, ObjectId)> = push
            .commands
            .iter()
            .zip(&results)
            .filter(|(_, r)| r.is_ok())
            .map(|(c, _)| (c.name.clone(), c.old, c.new))
            .collect();
        (pushed.accepted.signed, pushed.settled) =
            replication.record_local(repo, &changes, who.pusher.as_ref())?;
        pushed.new_head = super::default_branch::settle(repo, &changes)?;
        if let Some(rec) = &pushed.new_head {
            // Signed and kept like any metadata change (flushed with the push, announced
            // with it): every node agrees on HEAD.
            pushed.accepted.record = Some(replication.sign_meta(repo.store(), rec)?);
        }
        pushed.changes = changes;
        // Objects pushed for a ref that was then refused are reachable from nothing.
        let refused_tip = push
            .commands
            .iter()
            .zip(&results)
            .any(|(c, r)| r.is_err() && !c.new.is_zero());
        if pushed.accepted.pack.is_some() && refused_tip {
            repo.mark_open()?;
        }
        repo.store_flush()?;
    }
    let outcome = outcome.unwrap_or(if results.iter().all(Result::is_ok) {
        Outcome::Ok
    } else {
        Outcome::Rejected
    });
    if push.report_status {
        let mut report = Vec::new();
        match &unpack {
            Ok(()) => write_text(&mut report, b"unpack ok")?,
            Err(e) => write_text(&mut report, format!("unpack {}", one_line(e)).as_bytes())?,
        }
        for (c, r) in push.commands.iter().zip(&results) {
            match r {
                Ok(()) => write_text(&mut report, format!("ok {}", c.name).as_bytes())?,
                Err(why) => write_text(
                    &mut report,
                    format!("ng {} {}", c.name, one_line(why)).as_bytes(),
                )?,
            }
        }
        write_flush(&mut report)?;
        if sb.on {
            encode_band(&mut sb.out, SidebandKind::Large, 1, &report)?;
            write_flush(&mut sb.out)?;
        } else {
            sb.out.write_all(&report)?;
        }
    }
    sb.out.flush()?;
    Ok((outcome, pushed))
}

/// What the client is told of a refused pack: the pack's own error, and for a body the
/// client sent wrong (a stall, a bomb, a truncated stream) what was wrong with it. Other I/O
/// causes (the node's disk) stay in the log.
fn unpack_error(e: &StoreError) -> String {
    match e {
        StoreError::Pack(guts_git::pack::PackError::Io(io)) if super::client_io(io) => {
            format!("{e}: {io}")
        }
        e => e.to_string(),
    }
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

fn check_command(c: &Command) -> Result<(), String> {
    if refname::check(&c.name).is_err() {
        return Err("funny refname".into());
    }
    if c.name.starts_with("refs/guts/") {
        // Each node's own (conflict tips): peers refuse such updates, so a push may not
        // write them either.
        return Err("refs/guts/ is reserved for the node".into());
    }
    if c.old.is_zero() && c.new.is_zero() {
        return Err("nothing to do".into());
    }
    Ok(())
}

/// What is known of the objects the new tips reach, for keeping the "closed" flag right.
enum Reach {
    /// The objects they reach beyond the current refs (one walk).
    Walked(HashSet<ObjectId>),
    /// The pack is self-contained: its roots tell what is reachable.
    Roots,
    /// Unknown (some tip was not connected).
    Unknown,
}

/// New tips must exist, branches must be commits, and everything they reach must be here.
///
/// A self-contained pack (what a first push sends) needs no walk: every tip inside it is
/// connected, as with git's `index-pack --check-self-contained-and-connected`. Otherwise one
/// walk from all new tips to the current refs; only if it fails, one walk per tip.
fn check_objects(
    repo: &Repo,
    rx: &Received,
    odb: &Overlay<'_>,
    commands: &[Command],
    results: &mut [Result<(), String>],
) -> Result<Reach, GitError> {
    let existing: Vec<ObjectId> = repo.list_refs()?.into_iter().map(|(_, id)| id).collect();
    let mut tips = Vec::new();
    for (c, r) in commands.iter().zip(results.iter()) {
        if r.is_ok() && !c.new.is_zero() && odb.contains(&c.new)? {
            tips.push(c.new);
        }
    }
    let reach = if rx.self_contained() && tips.iter().all(|t| rx.contains(t)) {
        Reach::Roots
    } else {
        let cut = HashSet::new();
        let wanted = ObjectsWanted {
            wants: &tips,
            haves: &existing,
            cut: &cut,
            filter: None,
        };
        match objects_to_send(odb, &wanted) {
            Ok(objects) => Reach::Walked(objects.into_iter().map(|o| o.id).collect()),
            Err(_) => Reach::Unknown,
        }
    };
    for (c, r) in commands.iter().zip(results.iter_mut()) {
        if r.is_err() || c.new.is_zero() {
            continue;
        }
        match odb.object_header(&c.new)? {
            None => *r = Err("missing necessary objects".into()),
            Some((kind, _)) if c.name.starts_with("refs/heads/") && kind != Kind::Commit => {
                *r = Err("not a commit".into());
            }
            Some(_) if !matches!(reach, Reach::Unknown) => {}
            Some(_) => {
                if let Err(e) = check_connected(odb, &[c.new], &existing) {
                    tracing::info!(error = %e, r#ref = %c.name, "push refused: not connected");
                    *r = Err("missing necessary objects".into());
                }
            }
        }
    }
    Ok(reach)
}

/// True when accepting these commands may leave stored objects that no ref reaches: a
/// deleted or rewritten ref, or pack objects the new tips do not reach.
fn leaves_unreachable(
    rx: &Received,
    base: &RepoOdb,
    odb: &Overlay<'_>,
    reach: Reach,
    push: &Push,
    results: &[Result<(), String>],
) -> Result<bool, GitError> {
    for (c, r) in push.commands.iter().zip(results) {
        if r.is_err() || c.old.is_zero() {
            continue;
        }
        if c.new.is_zero() || !matches!(is_ancestor(odb, &c.old, &c.new), Ok(true)) {
            return Ok(true);
        }
    }
    match reach {
        Reach::Unknown => Ok(true),
        Reach::Walked(reached) => {
            for id in rx.ids() {
                if !reached.contains(id) && !base.contains(id)? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        // In a self-contained pack every object is reachable from a root; roots that are
        // neither accepted tips nor already stored (and so reachable) are left dangling.
        Reach::Roots => {
            let tips: HashSet<ObjectId> = push
                .commands
                .iter()
                .zip(results)
                .filter(|(_, r)| r.is_ok())
                .map(|(c, _)| c.new)
                .collect();
            for id in rx.roots().unwrap_or_default() {
                if !tips.contains(id) && !base.contains(id)? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
    }
}

/// Refuses deleting a protected branch, or moving it to a commit that does not contain its
/// current tip (a force push); and any change of an existing branch that needs reviewed
/// pull requests, but through a merge. `odb` sees the pushed objects (none: a delete-only
/// push).
fn check_protected(
    odb: Option<&Overlay<'_>>,
    who: &Pushing,
    commands: &[Command],
    results: &mut [Result<(), String>],
) {
    if who.protected.is_empty() && who.reviewed.is_empty() {
        return;
    }
    for (c, r) in commands.iter().zip(results.iter_mut()) {
        let Some(branch) = c.name.strip_prefix("refs/heads/") else {
            continue;
        };
        if r.is_err() || c.old.is_zero() {
            continue;
        }
        let needed = crate::accounts::approvals_needed(&who.reviewed, branch);
        if needed > 0 && !who.merging {
            *r = Err(format!(
                "protected branch: changes need a pull request with {needed} approving review{}",
                if needed == 1 { "" } else { "s" }
            ));
            continue;
        }
        if !who
            .protected
            .iter()
            .any(|p| guts_net::accounts::pattern_matches(p, branch))
        {
            continue;
        }
        let fast_forward = !c.new.is_zero()
            && odb.is_some_and(|o| matches!(is_ancestor(o, &c.old, &c.new), Ok(true)));
        if !fast_forward {
            *r = Err("protected branch".into());
        }
    }
}

fn fail_atomic(results: &mut [Result<(), String>]) {
    for r in results.iter_mut() {
        if r.is_ok() {
            *r = Err("atomic push failure".into());
        }
    }
}

fn apply(repo: &Repo, push: &Push, results: &mut [Result<(), String>]) -> Result<(), GitError> {
    let updates: Vec<(usize, RefUpdate)> = push
        .commands
        .iter()
        .enumerate()
        .filter(|(i, _)| results[*i].is_ok())
        .map(|(i, c)| {
            (
                i,
                RefUpdate {
                    name: c.name.clone(),
                    old: c.old,
                    new: c.new,
                },
            )
        })
        .collect();
    if push.atomic {
        if results.iter().any(Result::is_err) {
            fail_atomic(results);
            return Ok(());
        }
        let batch: Vec<RefUpdate> = updates.iter().map(|(_, u)| u.clone()).collect();
        if let Err((failed, e)) = repo.update_refs_atomic(&batch)? {
            fail_atomic(results);
            results[updates[failed].0] = Err(e.to_string());
        }
    } else {
        for (i, u) in &updates {
            if let Err(e) = repo.update_ref(u)? {
                results[*i] = Err(e.to_string());
            }
        }
    }
    Ok(())
}
