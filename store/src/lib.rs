//! guts-store: sled-backed repositories (DESIGN.md section 4).
//!
//! Layout (arrives with the single-node work, issue 3):
//! - packs stored in bounded chunks, an object index `(repo, oid) -> (pack, offset, kind, size)`,
//! - refs with compare-and-swap, stamps and signatures in their own tree,
//! - repository metadata, one key module and one codec module (bincode 2 with serde).
//!
//! It implements the object and ref database traits that `guts-git` defines.
