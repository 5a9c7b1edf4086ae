//! `guts pr create|list|show|merge`, through a node's REST API.

use clap::Subcommand;
use serde_json::json;

use super::api::{Method, NodeUrl};
use super::issue::{all_pages, line};
use super::repo::split;

/// Pull request commands.
#[derive(Debug, Subcommand)]
pub enum PrCommand {
    /// Open a pull request.
    Create {
        /// OWNER/NAME (the base repository).
        repo: String,
        /// Its title.
        #[arg(long)]
        title: String,
        /// The branch with the changes (`BRANCH`, or `OWNER:BRANCH` for a fork).
        #[arg(long)]
        head: String,
        /// The branch to merge into.
        #[arg(long, default_value = "main")]
        base: String,
        /// Its description.
        #[arg(long, default_value = "")]
        body: String,
        #[command(flatten)]
        node: NodeUrl,
    },
    /// List pull requests.
    List {
        /// OWNER/NAME.
        repo: String,
        /// open, closed or all.
        #[arg(long, default_value = "open")]
        state: String,
        #[command(flatten)]
        node: NodeUrl,
    },
    /// Show a pull request: its branches and whether it merges.
    Show {
        /// OWNER/NAME.
        repo: String,
        /// Its number (or id).
        number: String,
        #[command(flatten)]
        node: NodeUrl,
    },
    /// Merge a pull request.
    Merge {
        /// OWNER/NAME.
        repo: String,
        /// Its number (or id).
        number: String,
        /// merge, squash, rebase or fast-forward.
        #[arg(long, default_value = "merge")]
        method: String,
        #[command(flatten)]
        node: NodeUrl,
    },
}

pub fn run(cmd: PrCommand) -> anyhow::Result<()> {
    match cmd {
        PrCommand::Create {
            repo,
            title,
            head,
            base,
            body,
            node,
        } => {
            let (o, n) = split(&repo)?;
            let v = node.expect(
                Method::Post,
                &format!("/api/v1/repos/{o}/{n}/pulls"),
                Some(&json!({ "title": title, "head": head, "base": base, "body": body })),
                201,
            )?;
            println!("opened {}", line(&v));
        }
        PrCommand::List { repo, state, node } => {
            let (o, n) = split(&repo)?;
            for v in all_pages(&node, &format!("/api/v1/repos/{o}/{n}/pulls?state={state}"))? {
                println!("{}", line(&v));
            }
        }
        PrCommand::Show { repo, number, node } => {
            let (o, n) = split(&repo)?;
            let v = node.expect(
                Method::Get,
                &format!("/api/v1/repos/{o}/{n}/pulls/{number}"),
                None,
                200,
            )?;
            println!("{}", line(&v));
            println!(
                "{} <- {}:{}",
                v["base"]["ref"].as_str().unwrap_or("?"),
                v["head"]["repo"]["full_name"].as_str().unwrap_or("?"),
                v["head"]["ref"].as_str().unwrap_or("?")
            );
            match v["mergeable"].as_bool() {
                Some(true) => println!("merges cleanly"),
                Some(false) => {
                    println!("conflicts:");
                    for c in v["conflicts"].as_array().into_iter().flatten() {
                        println!("  {}", c["path"].as_str().unwrap_or("?"));
                    }
                }
                None if v["merged"] == true => println!("merged"),
                None => println!("mergeability unknown"),
            }
        }
        PrCommand::Merge {
            repo,
            number,
            method,
            node,
        } => {
            let (o, n) = split(&repo)?;
            let v = node.expect(
                Method::Put,
                &format!("/api/v1/repos/{o}/{n}/pulls/{number}/merge"),
                Some(&json!({ "merge_method": method })),
                200,
            )?;
            println!("merged #{number}: {}", v["sha"].as_str().unwrap_or("?"));
        }
    }
    Ok(())
}
