//! Ref advertisements: v0 for upload-pack and receive-pack, and the v2 capability list.

use guts_git::pktline::{write_flush, write_text};
use guts_git::walk::peel;
use guts_git::{Kind, ObjectId};
use guts_store::{Repo, RepoOdb};

use super::GitError;
use crate::AGENT;
use crate::collab::pull_refs::PullRefs;

/// Capabilities of upload-pack v0 (before `symref` and `agent`).
const UPLOAD_CAPS: &str = "multi_ack_detailed no-done side-band side-band-64k thin-pack ofs-delta \
shallow deepen-since deepen-not deepen-relative no-progress include-tag filter \
allow-tip-sha1-in-want allow-reachable-sha1-in-want object-format=sha1";

/// Capabilities of receive-pack.
const RECEIVE_CAPS: &str = "report-status report-status-v2 delete-refs side-band-64k quiet atomic \
ofs-delta push-options object-format=sha1";

/// The v2 capability advertisement.
pub fn v2_capabilities(out: &mut Vec<u8>) -> Result<(), GitError> {
    write_text(out, b"version 2")?;
    write_text(out, format!("agent={AGENT}").as_bytes())?;
    write_text(out, b"ls-refs=unborn")?;
    write_text(out, b"fetch=shallow wait-for-done filter")?;
    write_text(out, b"server-option")?;
    write_text(out, b"object-format=sha1")?;
    write_text(out, b"object-info")?;
    write_flush(out)?;
    Ok(())
}

/// The peeled target of an annotated tag (None for anything else).
pub fn peeled(odb: &RepoOdb, id: &ObjectId) -> Result<Option<ObjectId>, GitError> {
    match guts_git::odb::ObjectRead::object_header(odb, id)? {
        Some((Kind::Tag, _)) => Ok(Some(peel(odb, id)?.0)),
        _ => Ok(None),
    }
}

/// The refs upload-pack advertises: the repository's, then its pull request refs
/// (`refs/pull/N/head`, `refs/pull/N/merge`), as GitHub does, so `git fetch origin
/// pull/N/head` works. Sorted by name.
pub fn upload_refs(repo: &Repo, pulls: &PullRefs) -> Result<Vec<(String, ObjectId)>, GitError> {
    let mut refs = repo.list_refs()?;
    refs.extend(pulls.refs.iter().cloned());
    refs.sort();
    Ok(refs)
}

/// The v0 advertisement: the `# service=` header, then refs (HEAD first, tags followed by
/// their peeled value), the first carrying the capabilities.
pub fn v0_refs(
    repo: &Repo,
    pulls: &PullRefs,
    service: &str,
    out: &mut Vec<u8>,
) -> Result<(), GitError> {
    write_text(out, format!("# service={service}").as_bytes())?;
    write_flush(out)?;
    let refs = if service == "git-upload-pack" {
        upload_refs(repo, pulls)?
    } else {
        repo.list_refs()?
    };
    let odb = repo.odb();
    let head = repo.head_ref();
    let mut caps = String::from(if service == "git-upload-pack" {
        UPLOAD_CAPS
    } else {
        RECEIVE_CAPS
    });
    let head_id = refs.iter().find(|(n, _)| *n == head).map(|(_, id)| *id);
    if service == "git-upload-pack" && head_id.is_some() {
        caps.push_str(&format!(" symref=HEAD:{head}"));
    }
    caps.push_str(&format!(" agent={AGENT}"));
    let mut lines: Vec<(ObjectId, String)> = Vec::new();
    if service == "git-upload-pack"
        && let Some(id) = head_id
    {
        lines.push((id, "HEAD".into()));
    }
    for (name, id) in &refs {
        lines.push((*id, name.clone()));
        if service == "git-upload-pack"
            && let Some(p) = peeled(&odb, id)?
        {
            lines.push((p, format!("{name}^{{}}")));
        }
    }
    if lines.is_empty() {
        lines.push((ObjectId::ZERO, "capabilities^{}".into()));
    }
    for (i, (id, name)) in lines.iter().enumerate() {
        let mut line = format!("{} {name}", id.to_hex()).into_bytes();
        if i == 0 {
            line.push(0);
            line.extend_from_slice(caps.as_bytes());
        }
        write_text(out, &line)?;
    }
    write_flush(out)?;
    Ok(())
}
