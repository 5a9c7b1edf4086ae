//! Git objects: blob, tree, commit and tag. Parsing validates in the spirit of
//! `git fsck --strict`, and writing reproduces git's bytes (and so the id) exactly.

mod commit;
mod error;
mod headers;
mod ident;
mod kind;
mod tag;
mod tree;

pub use commit::{Commit, CommitLinks};
pub use error::ObjectError;
pub use headers::HeaderRef;
pub use ident::IdentRef;
pub use kind::Kind;
pub use tag::{Tag, tag_target};
pub use tree::{EntryMode, Tree, TreeEntry, TreeEntryRef, TreeIter, entry_order, validate_tree};

/// A parsed object of any kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Object {
    /// File contents, any bytes.
    Blob(Vec<u8>),
    /// A directory listing.
    Tree(Tree),
    /// A commit.
    Commit(Commit),
    /// An annotated tag.
    Tag(Tag),
}

impl Object {
    /// Parses and validates the content of an object of `kind`.
    pub fn parse(kind: Kind, data: &[u8]) -> Result<Object, ObjectError> {
        Ok(match kind {
            Kind::Blob => Object::Blob(data.to_vec()),
            Kind::Tree => Object::Tree(Tree::parse(data)?),
            Kind::Commit => Object::Commit(Commit::parse(data)?),
            Kind::Tag => Object::Tag(Tag::parse(data)?),
        })
    }

    /// The object's kind.
    pub fn kind(&self) -> Kind {
        match self {
            Object::Blob(_) => Kind::Blob,
            Object::Tree(_) => Kind::Tree,
            Object::Commit(_) => Kind::Commit,
            Object::Tag(_) => Kind::Tag,
        }
    }

    /// The object's content in git's format.
    pub fn write(&self) -> Vec<u8> {
        match self {
            Object::Blob(b) => b.clone(),
            Object::Tree(t) => t.write(),
            Object::Commit(c) => c.write(),
            Object::Tag(t) => t.write(),
        }
    }
}

/// Validates an object's content without keeping the parsed form.
pub fn validate(kind: Kind, data: &[u8]) -> Result<(), ObjectError> {
    match kind {
        Kind::Blob => Ok(()),
        Kind::Tree => validate_tree(data),
        Kind::Commit => Commit::parse(data).map(drop),
        Kind::Tag => Tag::parse(data).map(drop),
    }
}
