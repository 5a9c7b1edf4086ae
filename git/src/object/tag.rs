//! Annotated tags: parse, validate and write byte-exactly.

use super::ObjectError;
use super::headers;
use crate::{Kind, ObjectId};

/// An annotated tag. Parsing and writing reproduce git's bytes exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// The tagged object.
    pub object: ObjectId,
    /// The tagged object's kind.
    pub target_kind: Kind,
    /// The tag's name.
    pub name: Vec<u8>,
    /// The raw tagger identity; very old tags have none.
    pub tagger: Option<Vec<u8>>,
    /// Headers after `tagger`, each exactly as written, without the final newline.
    pub extra_headers: Vec<Vec<u8>>,
    /// The message (and signature) after the blank line; `None` without a blank line.
    pub message: Option<Vec<u8>>,
}

impl Tag {
    /// Parses and validates a tag.
    pub fn parse(data: &[u8]) -> Result<Tag, ObjectError> {
        let k = Kind::Tag;
        let missing = |header| ObjectError::MissingHeader { kind: k, header };
        let (hs, message) = headers::split(k, data)?;
        let mut i = 0;
        let object = headers::take_id(k, &hs, &mut i, "object")?.ok_or(missing("object"))?;
        let target_kind = match hs.get(i) {
            Some(h) if h.name == b"type" => {
                i += 1;
                Kind::from_name(h.value).ok_or(ObjectError::BadHeader {
                    kind: k,
                    header: "type",
                    reason: "not an object kind",
                })?
            }
            _ => return Err(missing("type")),
        };
        let name = match hs.get(i) {
            Some(h) if h.name == b"tag" => {
                i += 1;
                if h.value.is_empty() || h.value.contains(&b'\n') {
                    return Err(ObjectError::BadHeader {
                        kind: k,
                        header: "tag",
                        reason: "empty or multi-line tag name",
                    });
                }
                h.value.to_vec()
            }
            _ => return Err(missing("tag")),
        };
        let tagger = headers::take_ident(k, &hs, &mut i, "tagger")?.map(<[u8]>::to_vec);
        Ok(Tag {
            object,
            target_kind,
            name,
            tagger,
            extra_headers: hs[i..].iter().map(|h| h.raw.to_vec()).collect(),
            message: message.map(<[u8]>::to_vec),
        })
    }

    /// Writes the tag in git's format.
    pub fn write(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + self.message.as_ref().map_or(0, Vec::len));
        headers::write_header(&mut out, "object", self.object.to_hex().as_bytes());
        headers::write_header(&mut out, "type", self.target_kind.name().as_bytes());
        headers::write_header(&mut out, "tag", &self.name);
        if let Some(t) = &self.tagger {
            headers::write_header(&mut out, "tagger", t);
        }
        headers::write_tail(&mut out, &self.extra_headers, self.message.as_deref());
        out
    }
}

/// The object a tag points at and its kind, read without validating the rest.
pub fn tag_target(data: &[u8]) -> Option<(ObjectId, Kind)> {
    let rest = data.strip_prefix(b"object ")?;
    let id = ObjectId::from_hex(rest.get(..40)?).ok()?;
    let rest = rest.get(40..)?.strip_prefix(b"\ntype ")?;
    let nl = memchr::memchr(b'\n', rest)?;
    Some((id, Kind::from_name(&rest[..nl])?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_round_trips_and_bad_type_is_refused() {
        let t = b"object 4b825dc642cb6eb9a060e54bf8d69288fbee4904\ntype tree\ntag v1\n\
tagger T <t@x> 1700000000 +0000\n\nrelease\n";
        let tag = Tag::parse(t).unwrap();
        assert_eq!(tag.write(), t);
        assert_eq!(tag_target(t).unwrap().1, Kind::Tree);
        let bad = b"object 4b825dc642cb6eb9a060e54bf8d69288fbee4904\ntype tre\ntag v1\n\nx";
        assert!(matches!(
            Tag::parse(bad),
            Err(ObjectError::BadHeader { header: "type", .. })
        ));
    }
}
