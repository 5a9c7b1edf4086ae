//! upload-pack, protocol v2: `ls-refs`, `fetch` and `object-info`, one command per request.

use std::io::{Read, Write};

use guts_git::ObjectId;
use guts_git::odb::ObjectRead;
use guts_git::pktline::{
    PacketLineRef, PktReader, SidebandKind, write_delim, write_flush, write_text,
};
use guts_store::Repo;

use super::GitError;
use super::advertise::peeled;
use super::upload::{FetchArgs, Served, common, plan, send};
use crate::collab::pull_refs::PullRefs;

/// A v2 request: the command, its capability lines and its arguments.
#[derive(Debug, Default)]
pub struct V2Request {
    pub command: String,
    pub args: Vec<Vec<u8>>,
}

/// Reads one command request.
pub fn read_request(r: &mut PktReader<impl Read>) -> Result<V2Request, GitError> {
    let mut req = V2Request::default();
    let mut in_args = false;
    loop {
        match r.read_line()? {
            None => return Err(GitError::Protocol("request ended before its flush".into())),
            Some(PacketLineRef::Flush) => break,
            Some(PacketLineRef::Delimiter) if !in_args => in_args = true,
            Some(PacketLineRef::Data(d)) if in_args => req.args.push(d.to_vec()),
            Some(PacketLineRef::Data(d)) => {
                let line = std::str::from_utf8(d.strip_suffix(b"\n").unwrap_or(d))
                    .map_err(|_| GitError::Protocol("capability line is not UTF-8".into()))?;
                if let Some(c) = line.strip_prefix("command=") {
                    if !matches!(c, "ls-refs" | "fetch" | "object-info") {
                        return Err(GitError::Protocol(format!("unknown command {c:?}")));
                    }
                    if !req.command.is_empty() {
                        return Err(GitError::Protocol("two commands in one request".into()));
                    }
                    req.command = c.to_string();
                } else if let Some(f) = line.strip_prefix("object-format=") {
                    if f != "sha1" {
                        return Err(GitError::Protocol(format!("unsupported object-format {f}")));
                    }
                } else if line.starts_with("agent=") || line.starts_with("server-option=") {
                    tracing::debug!(line, "client capability");
                } else {
                    return Err(GitError::Protocol(format!("unknown capability {line:?}")));
                }
            }
            Some(other) => {
                return Err(GitError::Protocol(format!("unexpected packet {other:?}")));
            }
        }
    }
    if req.command.is_empty() {
        return Err(GitError::Protocol("no command".into()));
    }
    Ok(req)
}

/// Answers one command.
pub fn serve(
    repo: &Repo,
    pulls: &PullRefs,
    req: &V2Request,
    out: &mut dyn Write,
) -> Result<bool, GitError> {
    match req.command.as_str() {
        "ls-refs" => ls_refs(repo, pulls, &req.args, out).map(|()| false),
        "fetch" => fetch(repo, pulls, &req.args, out),
        "object-info" => object_info(repo, &req.args, out).map(|()| false),
        other => Err(GitError::Protocol(format!("unknown command {other:?}"))),
    }
}

fn ls_refs(
    repo: &Repo,
    pulls: &PullRefs,
    args: &[Vec<u8>],
    out: &mut dyn Write,
) -> Result<(), GitError> {
    let (mut symrefs, mut peel, mut unborn) = (false, false, false);
    let mut prefixes: Vec<String> = Vec::new();
    for a in args {
        let a = a.strip_suffix(b"\n").unwrap_or(a);
        match a {
            b"symrefs" => symrefs = true,
            b"peel" => peel = true,
            b"unborn" => unborn = true,
            _ => match a.strip_prefix(b"ref-prefix ") {
                Some(p) => prefixes.push(String::from_utf8_lossy(p).into_owned()),
                None => {
                    return Err(GitError::Protocol(format!(
                        "ls-refs: unknown argument {:?}",
                        String::from_utf8_lossy(a)
                    )));
                }
            },
        }
    }
    let wanted =
        |name: &str| prefixes.is_empty() || prefixes.iter().any(|p| name.starts_with(p.as_str()));
    let refs = super::advertise::upload_refs(repo, pulls)?;
    let odb = repo.odb();
    let head = repo.head_ref();
    let mut buf = Vec::new();
    if wanted("HEAD") {
        let target = if symrefs {
            format!(" symref-target:{head}")
        } else {
            String::new()
        };
        match refs.iter().find(|(n, _)| *n == head) {
            Some((_, id)) => write_text(&mut buf, format!("{id} HEAD{target}").as_bytes())?,
            None if unborn => write_text(
                &mut buf,
                format!("unborn HEAD symref-target:{head}").as_bytes(),
            )?,
            None => {}
        }
    }
    for (name, id) in &refs {
        if !wanted(name) {
            continue;
        }
        let mut line = format!("{id} {name}");
        if peel && let Some(p) = peeled(&odb, id)? {
            line.push_str(&format!(" peeled:{p}"));
        }
        write_text(&mut buf, line.as_bytes())?;
        if buf.len() > 1 << 16 {
            out.write_all(&buf)?;
            buf.clear();
        }
    }
    write_flush(&mut buf)?;
    out.write_all(&buf)?;
    Ok(())
}

/// Returns true when a pack was sent.
fn fetch(
    repo: &Repo,
    pulls: &PullRefs,
    args: &[Vec<u8>],
    out: &mut dyn Write,
) -> Result<bool, GitError> {
    let mut fa = FetchArgs {
        sideband: Some(SidebandKind::Large),
        ..FetchArgs::default()
    };
    for a in args {
        if !fa.parse_line(a)? {
            return Err(GitError::Protocol(format!(
                "fetch: unknown argument {:?}",
                String::from_utf8_lossy(a)
            )));
        }
    }
    let odb = repo.odb();
    let mut head = Vec::new();
    if !fa.done {
        let common = common(&odb, &fa.haves)?;
        write_text(&mut head, b"acknowledgments")?;
        if common.is_empty() {
            write_text(&mut head, b"NAK")?;
        }
        for c in &common {
            write_text(&mut head, format!("ACK {c}").as_bytes())?;
        }
        if common.is_empty() || fa.wait_for_done {
            write_flush(&mut head)?;
            out.write_all(&head)?;
            return Ok(false);
        }
        write_text(&mut head, b"ready")?;
        write_delim(&mut head)?;
    }
    let served = Served { odb: &odb, pulls };
    let plan = plan(repo, &served, &fa, true)?;
    if let Some(s) = &plan.shallow {
        write_text(&mut head, b"shallow-info")?;
        for id in &s.shallow {
            write_text(&mut head, format!("shallow {id}").as_bytes())?;
        }
        for id in &s.unshallow {
            write_text(&mut head, format!("unshallow {id}").as_bytes())?;
        }
        write_delim(&mut head)?;
    }
    write_text(&mut head, b"packfile")?;
    out.write_all(&head)?;
    send(&served, plan, &fa, out)?;
    Ok(true)
}

fn object_info(repo: &Repo, args: &[Vec<u8>], out: &mut dyn Write) -> Result<(), GitError> {
    let mut size = false;
    let mut ids: Vec<ObjectId> = Vec::new();
    for a in args {
        let a = a.strip_suffix(b"\n").unwrap_or(a);
        if a == b"size" {
            size = true;
        } else if let Some(h) = a.strip_prefix(b"oid ") {
            ids.push(
                ObjectId::from_hex(h)
                    .map_err(|_| GitError::Protocol("object-info: bad oid".into()))?,
            );
        } else {
            return Err(GitError::Protocol("object-info: unknown argument".into()));
        }
    }
    let odb = repo.odb();
    let mut buf = Vec::new();
    if size {
        write_text(&mut buf, b"size")?;
    }
    for id in ids {
        let line = match (size, odb.object_header(&id)?) {
            (true, Some((_, s))) => format!("{id} {s}"),
            _ => format!("{id} "),
        };
        write_text(&mut buf, line.as_bytes())?;
    }
    write_flush(&mut buf)?;
    out.write_all(&buf)?;
    Ok(())
}
