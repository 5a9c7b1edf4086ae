//! upload-pack, protocol v0 over stateless HTTP: wants with capabilities, shallow and deepen
//! lines, then one round of haves ending in `done` or a flush, answered with
//! multi_ack_detailed acknowledgments (and `no-done`), then the pack.

use std::io::{Read, Write};

use guts_git::pktline::{PacketLineRef, PktReader, SidebandKind, write_flush, write_text};
use guts_store::Repo;

use super::GitError;
use super::upload::{FetchArgs, Served, plan, send};
use crate::collab::pull_refs::PullRefs;

/// A v0 request.
#[derive(Debug, Default)]
pub struct V0Request {
    pub args: FetchArgs,
    pub multi_ack_detailed: bool,
    pub no_done: bool,
    /// The request ended with a flush after the haves (not `done`).
    pub flushed: bool,
}

/// Reads the wants section and one round of haves.
pub fn read_request(r: &mut PktReader<impl Read>) -> Result<V0Request, GitError> {
    let mut req = V0Request::default();
    let mut first = true;
    loop {
        match r.read_line()? {
            None => return Err(GitError::Protocol("request ended before its flush".into())),
            Some(PacketLineRef::Flush) => break,
            Some(PacketLineRef::Data(d)) => {
                let d = d.strip_suffix(b"\n").unwrap_or(d);
                let line = if first && d.starts_with(b"want ") {
                    first = false;
                    let (want, caps) = d.split_at(d.len().min(45));
                    parse_caps(&mut req, caps)?;
                    want
                } else {
                    d
                };
                if line.starts_with(b"have ") || line == b"done" || !req.args.parse_line(line)? {
                    return Err(GitError::Protocol(format!(
                        "unexpected line in wants: {:?}",
                        String::from_utf8_lossy(line)
                    )));
                }
            }
            Some(other) => return Err(GitError::Protocol(format!("unexpected packet {other:?}"))),
        }
    }
    if req.args.wants.is_empty() {
        return Ok(req);
    }
    loop {
        match r.read_line()? {
            // A clone's request may end right after its wants.
            None => break,
            Some(PacketLineRef::Flush) => {
                req.flushed = true;
                break;
            }
            Some(PacketLineRef::Data(d)) => {
                let d = d.strip_suffix(b"\n").unwrap_or(d);
                if d == b"done" {
                    req.args.done = true;
                    break;
                }
                if !d.starts_with(b"have ") || !req.args.parse_line(d)? {
                    return Err(GitError::Protocol(format!(
                        "expected have or done, got {:?}",
                        String::from_utf8_lossy(d)
                    )));
                }
            }
            Some(other) => return Err(GitError::Protocol(format!("unexpected packet {other:?}"))),
        }
    }
    Ok(req)
}

fn parse_caps(req: &mut V0Request, caps: &[u8]) -> Result<(), GitError> {
    let caps = std::str::from_utf8(caps)
        .map_err(|_| GitError::Protocol("capabilities are not UTF-8".into()))?;
    for cap in caps.split_ascii_whitespace() {
        match cap {
            "multi_ack_detailed" => req.multi_ack_detailed = true,
            "no-done" => req.no_done = true,
            "side-band-64k" => req.args.sideband = Some(SidebandKind::Large),
            "side-band" => {
                req.args.sideband.get_or_insert(SidebandKind::Small);
            }
            "ofs-delta" => req.args.ofs_delta = true,
            "thin-pack" => req.args.thin = true,
            "no-progress" => req.args.no_progress = true,
            "include-tag" => req.args.include_tag = true,
            "deepen-relative" => req.args.deepen_relative = true,
            "shallow"
            | "deepen-since"
            | "deepen-not"
            | "filter"
            | "multi_ack"
            | "allow-tip-sha1-in-want"
            | "allow-reachable-sha1-in-want" => {}
            "object-format=sha1" => {}
            c if c.starts_with("agent=") || c.starts_with("session-id=") => {}
            c if c.starts_with("object-format=") => {
                return Err(GitError::Protocol(format!("unsupported {c}")));
            }
            c => return Err(GitError::Protocol(format!("unknown capability {c:?}"))),
        }
    }
    Ok(())
}

/// Answers a request; returns true when a pack was sent.
pub fn serve(
    repo: &Repo,
    pulls: &PullRefs,
    req: &V0Request,
    out: &mut dyn Write,
) -> Result<bool, GitError> {
    let args = &req.args;
    if args.wants.is_empty() {
        // Nothing wanted: git answers with nothing.
        return Ok(false);
    }
    let odb = repo.odb();
    let mut acks = Vec::new();
    let (mut got_common, mut got_other) = (false, false);
    let mut last = None;
    for h in &args.haves {
        if guts_git::odb::ObjectRead::contains(&odb, h)? {
            got_common = true;
            last = Some(*h);
            if req.multi_ack_detailed {
                write_text(&mut acks, format!("ACK {h} common").as_bytes())?;
            }
        } else {
            got_other = true;
        }
    }
    let send_pack = if args.done {
        match last {
            Some(l) => write_text(&mut acks, format!("ACK {l}").as_bytes())?,
            None => write_text(&mut acks, b"NAK")?,
        }
        true
    } else {
        let ready = req.multi_ack_detailed && got_common && !got_other;
        if let (true, Some(l)) = (ready, last) {
            write_text(&mut acks, format!("ACK {l} ready").as_bytes())?;
        }
        write_text(&mut acks, b"NAK")?;
        match (ready && req.no_done, last) {
            (true, Some(l)) => {
                write_text(&mut acks, format!("ACK {l}").as_bytes())?;
                true
            }
            _ => false,
        }
    };
    // A request that ended right after its wants (a stateless client asking for the
    // shallow list before it sends haves) gets only the shallow list.
    let shallow_only = !args.done && !req.flushed;
    let served = Served { odb: &odb, pulls };
    let plan = plan(repo, &served, args, send_pack && !shallow_only)?;
    let mut head = Vec::new();
    if let Some(s) = &plan.shallow {
        for id in &s.shallow {
            write_text(&mut head, format!("shallow {id}").as_bytes())?;
        }
        for id in &s.unshallow {
            write_text(&mut head, format!("unshallow {id}").as_bytes())?;
        }
        write_flush(&mut head)?;
    }
    if shallow_only {
        out.write_all(&head)?;
        return Ok(false);
    }
    head.extend_from_slice(&acks);
    out.write_all(&head)?;
    if !send_pack {
        return Ok(false);
    }
    send(&served, plan, args, out)?;
    Ok(true)
}
