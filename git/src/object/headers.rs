//! The header block shared by commits and tags: `name value\n` lines, continuation lines that
//! start with a space, then an optional blank line and the message.

use super::ObjectError;
use crate::{Kind, ObjectId};

/// One header, exactly as written: `name value` plus any continuation lines, without the
/// final newline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderRef<'a> {
    /// The header name (before the first space).
    pub name: &'a [u8],
    /// The raw value: everything after the first space, continuation lines included as written.
    pub value: &'a [u8],
    /// The whole header as written, name included.
    pub raw: &'a [u8],
}

/// Splits an object into headers and the message (the bytes after the blank line, if any).
pub(crate) fn split(
    kind: Kind,
    data: &[u8],
) -> Result<(Vec<HeaderRef<'_>>, Option<&[u8]>), ObjectError> {
    let mut headers = Vec::with_capacity(8);
    let mut pos = 0;
    loop {
        if pos == data.len() {
            return Ok((headers, None));
        }
        if data[pos] == b'\n' {
            return Ok((headers, Some(&data[pos + 1..])));
        }
        let start = pos;
        // A header runs to a newline that is not followed by a continuation line.
        let end = loop {
            let nl = memchr::memchr(b'\n', &data[pos..]).map(|i| pos + i).ok_or(
                ObjectError::BadHeaderBlock {
                    kind,
                    reason: "unterminated header line",
                },
            )?;
            pos = nl + 1;
            if data.get(pos) != Some(&b' ') {
                break nl;
            }
        };
        let raw = &data[start..end];
        if memchr::memchr(0, raw).is_some() {
            return Err(ObjectError::BadHeaderBlock {
                kind,
                reason: "NUL byte in header",
            });
        }
        let (name, value) = match memchr::memchr(b' ', raw) {
            Some(sp) => (&raw[..sp], &raw[sp + 1..]),
            None => (raw, &raw[raw.len()..]),
        };
        headers.push(HeaderRef { name, value, raw });
    }
}

/// Reads `name <40 hex>` from the header at `headers[*i]` when its name matches.
pub(crate) fn take_id(
    kind: Kind,
    headers: &[HeaderRef<'_>],
    i: &mut usize,
    name: &'static str,
) -> Result<Option<ObjectId>, ObjectError> {
    match headers.get(*i) {
        Some(h) if h.name == name.as_bytes() => {
            let id = ObjectId::from_hex(h.value).map_err(|_| ObjectError::BadHeader {
                kind,
                header: name,
                reason: "not a 40-digit object id",
            })?;
            *i += 1;
            Ok(Some(id))
        }
        _ => Ok(None),
    }
}

/// Reads an identity header (`author`, `committer`, `tagger`) at `headers[*i]` when present.
pub(crate) fn take_ident<'a>(
    kind: Kind,
    headers: &[HeaderRef<'a>],
    i: &mut usize,
    name: &'static str,
) -> Result<Option<&'a [u8]>, ObjectError> {
    match headers.get(*i) {
        Some(h) if h.name == name.as_bytes() => {
            super::IdentRef::parse(h.value).map_err(|reason| ObjectError::BadHeader {
                kind,
                header: name,
                reason,
            })?;
            *i += 1;
            Ok(Some(h.value))
        }
        _ => Ok(None),
    }
}

/// Writes headers and message back in git's format.
pub(crate) fn write_tail(out: &mut Vec<u8>, extra: &[Vec<u8>], message: Option<&[u8]>) {
    for raw in extra {
        out.extend_from_slice(raw);
        out.push(b'\n');
    }
    if let Some(m) = message {
        out.push(b'\n');
        out.extend_from_slice(m);
    }
}

/// Writes `name value\n`.
pub(crate) fn write_header(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.push(b' ');
    out.extend_from_slice(value);
    out.push(b'\n');
}
