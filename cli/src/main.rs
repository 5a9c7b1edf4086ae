//! The `guts` binary.
//!
//! Layout:
//! - `main.rs`: argument parsing and error reporting (`run() -> anyhow::Result`).
//! - `cmd/pack.rs`: `guts pack verify`, index and verify a pack file with guts-git.
//!
//! The node, devnet, repo and health commands arrive with the node (DESIGN.md section 7).

mod cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Guts: a decentralized Git hosting node.
#[derive(Debug, Parser)]
#[command(name = "guts", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Work with pack files.
    #[command(subcommand)]
    Pack(cmd::pack::PackCommand),
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Pack(cmd) => cmd::pack::run(cmd),
    }
}
