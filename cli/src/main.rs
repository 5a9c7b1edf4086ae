//! The `guts` binary.
//!
//! Layout:
//! - `main.rs`: argument parsing and error reporting (`run() -> anyhow::Result`).
//! - `cmd/node.rs`: `guts node`, run one node until Ctrl-C or SIGTERM.
//! - `cmd/devnet.rs`: `guts devnet`, N node processes wired to each other, supervised.
//! - `cmd/api.rs`: which node, the token, and REST answers turned into errors.
//! - `cmd/repo.rs`: `guts repo create|edit|list`; `cmd/user.rs`: `guts user create` (through
//!   the API, or a stopped node's store); `cmd/health.rs`: `guts health`.
//! - `cmd/events.rs`: `guts events`, follow a node's WebSocket event stream.
//! - `cmd/issue.rs`: `guts issue create|list|show|comment|close`; `cmd/pr.rs`: `guts pr
//!   create|list|show|merge`.
//! - `cmd/pack.rs`: `guts pack verify`, index and verify a pack file with guts-git.
//!
//! Every flag also reads a `GUTS_*` environment variable.

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
    /// Run a node.
    Node(cmd::node::NodeArgs),
    /// Run a local network of nodes, each its own process.
    Devnet(cmd::devnet::DevnetArgs),
    /// Manage repositories on a node.
    #[command(subcommand)]
    Repo(cmd::repo::RepoCommand),
    /// Manage users.
    #[command(subcommand)]
    User(cmd::user::UserCommand),
    /// Work with issues.
    #[command(subcommand)]
    Issue(cmd::issue::IssueCommand),
    /// Work with pull requests.
    #[command(subcommand)]
    Pr(cmd::pr::PrCommand),
    /// Follow a node's events (JSON, one per line) until Ctrl-C.
    Events(cmd::events::EventsArgs),
    /// Show a node's health.
    Health(cmd::health::HealthArgs),
    /// Work with pack files.
    #[command(subcommand)]
    Pack(cmd::pack::PackCommand),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GUTS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", describe(&e));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Node(args) => cmd::node::run(args),
        Command::Devnet(args) => cmd::devnet::run(args),
        Command::Repo(cmd) => cmd::repo::run(cmd),
        Command::User(cmd) => cmd::user::run(cmd),
        Command::Issue(cmd) => cmd::issue::run(cmd),
        Command::Pr(cmd) => cmd::pr::run(cmd),
        Command::Health(node) => cmd::health::run(node),
        Command::Events(args) => cmd::events::run(args),
        Command::Pack(cmd) => cmd::pack::run(cmd),
    }
}

/// The error and its causes on one line, leaving out a cause whose text the message before
/// it already shows (many errors print their source in their own message).
fn describe(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}
