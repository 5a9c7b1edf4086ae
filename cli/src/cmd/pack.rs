//! `guts pack verify FILE`: index a pack exactly as a node indexes a push (streamed, spooled
//! to a temporary file, deltas resolved in parallel, every object hashed with collision
//! detection and validated) and print a summary like `git verify-pack -s`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Subcommand};
use guts_git::HashMode;
use guts_git::pack::{EntryKind, IndexOptions, NoBases, index_pack};

/// Pack commands.
#[derive(Debug, Subcommand)]
pub enum PackCommand {
    /// Index and verify a pack file; print objects, deltas and chain lengths.
    Verify(VerifyArgs),
}

/// Arguments of `guts pack verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The pack file (`.pack`).
    file: PathBuf,
    /// Threads resolving deltas (default: one per core).
    #[arg(long, env = "GUTS_THREADS")]
    threads: Option<usize>,
    /// Hash with plain SHA-1 instead of SHA-1 with collision detection.
    #[arg(long)]
    fast_hash: bool,
    /// Skip `git fsck`-style validation of commits, trees and tags.
    #[arg(long)]
    no_strict: bool,
    /// Print each object: id, kind, size, offset, chain length.
    #[arg(long, short)]
    verbose: bool,
}

/// Runs a pack command.
pub fn run(cmd: PackCommand) -> anyhow::Result<()> {
    match cmd {
        PackCommand::Verify(args) => verify(args),
    }
}

fn verify(args: VerifyArgs) -> anyhow::Result<()> {
    let input =
        File::open(&args.file).with_context(|| format!("opening {}", args.file.display()))?;
    let dir = args.file.parent().filter(|p| !p.as_os_str().is_empty());
    let mut spool = match dir {
        Some(d) => tempfile::tempfile_in(d).or_else(|_| tempfile::tempfile()),
        None => tempfile::tempfile(),
    }
    .context("creating a spool file")?;
    let mut opts = IndexOptions {
        strict: !args.no_strict,
        ..IndexOptions::default()
    };
    if let Some(t) = args.threads {
        opts.threads = t.max(1);
    }
    if args.fast_hash {
        opts.hash = HashMode::Fast;
    }
    let started = Instant::now();
    let index = index_pack(
        BufReader::with_capacity(1 << 16, input),
        &mut spool,
        &NoBases,
        &opts,
    )
    .with_context(|| format!("indexing {}", args.file.display()))?;
    let elapsed = started.elapsed();
    let mut chains: BTreeMap<u32, usize> = BTreeMap::new();
    let mut deltas = 0usize;
    for e in &index.entries {
        if args.verbose {
            println!(
                "{} {:6} {} {} {}",
                e.id,
                e.kind.name(),
                e.size,
                e.offset,
                e.depth
            );
        }
        if !matches!(e.packed, EntryKind::Whole(_)) {
            deltas += 1;
            *chains.entry(e.depth).or_default() += 1;
        }
    }
    println!(
        "{}: ok, {} objects ({} deltas), {} bytes, {:.2}s ({:.0} objects/s)",
        index.checksum,
        index.entries.len(),
        deltas,
        index.len,
        elapsed.as_secs_f64(),
        index.entries.len() as f64 / elapsed.as_secs_f64().max(1e-9)
    );
    if let Some((max, _)) = chains.last_key_value() {
        println!("longest delta chain: {max}");
    }
    Ok(())
}
