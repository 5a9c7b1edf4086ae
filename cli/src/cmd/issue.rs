//! `guts issue create|list|show|comment|close`, through a node's REST API.

use clap::Subcommand;
use serde_json::{Value, json};

use super::api::{Method, NodeUrl};
use super::repo::split;

/// Issue commands.
#[derive(Debug, Subcommand)]
pub enum IssueCommand {
    /// Open an issue.
    Create {
        /// OWNER/NAME.
        repo: String,
        /// Its title.
        #[arg(long)]
        title: String,
        /// Its description.
        #[arg(long, default_value = "")]
        body: String,
        #[command(flatten)]
        node: NodeUrl,
    },
    /// List issues (and pull requests, marked).
    List {
        /// OWNER/NAME.
        repo: String,
        /// open, closed or all.
        #[arg(long, default_value = "open")]
        state: String,
        #[command(flatten)]
        node: NodeUrl,
    },
    /// Show an issue and its comments.
    Show {
        /// OWNER/NAME.
        repo: String,
        /// Its number (or id).
        number: String,
        #[command(flatten)]
        node: NodeUrl,
    },
    /// Comment on an issue or pull request.
    Comment {
        /// OWNER/NAME.
        repo: String,
        /// Its number (or id).
        number: String,
        /// The comment.
        #[arg(long)]
        body: String,
        #[command(flatten)]
        node: NodeUrl,
    },
    /// Close an issue or pull request.
    Close {
        /// OWNER/NAME.
        repo: String,
        /// Its number (or id).
        number: String,
        #[command(flatten)]
        node: NodeUrl,
    },
}

/// `#N [state] title (by user)`.
pub(crate) fn line(v: &Value) -> String {
    let pr = if v.get("pull_request").is_some() {
        "PR "
    } else {
        ""
    };
    format!(
        "#{} [{pr}{}] {} (by {})",
        v["number"],
        v["state"].as_str().unwrap_or("?"),
        v["title"].as_str().unwrap_or(""),
        v["user"]["login"].as_str().unwrap_or("?")
    )
}

/// Every page of a list.
pub(crate) fn all_pages(node: &NodeUrl, path: &str) -> anyhow::Result<Vec<Value>> {
    let mut out = Vec::new();
    let mut page = 1;
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let v = node.expect(
            Method::Get,
            &format!("{path}{sep}page={page}&per_page=100"),
            None,
            200,
        )?;
        let items = v.as_array().cloned().unwrap_or_default();
        let n = items.len();
        out.extend(items);
        if n < 100 {
            return Ok(out);
        }
        page += 1;
    }
}

pub fn run(cmd: IssueCommand) -> anyhow::Result<()> {
    match cmd {
        IssueCommand::Create {
            repo,
            title,
            body,
            node,
        } => {
            let (o, n) = split(&repo)?;
            let v = node.expect(
                Method::Post,
                &format!("/api/v1/repos/{o}/{n}/issues"),
                Some(&json!({ "title": title, "body": body })),
                201,
            )?;
            println!("opened {}", line(&v));
        }
        IssueCommand::List { repo, state, node } => {
            let (o, n) = split(&repo)?;
            for v in all_pages(
                &node,
                &format!("/api/v1/repos/{o}/{n}/issues?state={state}"),
            )? {
                println!("{}", line(&v));
            }
        }
        IssueCommand::Show { repo, number, node } => {
            let (o, n) = split(&repo)?;
            let base = format!("/api/v1/repos/{o}/{n}/issues/{number}");
            let v = node.expect(Method::Get, &base, None, 200)?;
            println!("{}", line(&v));
            if let Some(body) = v["body"].as_str().filter(|b| !b.is_empty()) {
                println!("\n{body}");
            }
            for c in all_pages(&node, &format!("{base}/comments"))? {
                println!(
                    "\n{} ({}):\n{}",
                    c["user"]["login"].as_str().unwrap_or("?"),
                    c["created_at"].as_str().unwrap_or(""),
                    c["body"].as_str().unwrap_or("")
                );
            }
        }
        IssueCommand::Comment {
            repo,
            number,
            body,
            node,
        } => {
            let (o, n) = split(&repo)?;
            node.expect(
                Method::Post,
                &format!("/api/v1/repos/{o}/{n}/issues/{number}/comments"),
                Some(&json!({ "body": body })),
                201,
            )?;
            println!("commented on #{number}");
        }
        IssueCommand::Close { repo, number, node } => {
            let (o, n) = split(&repo)?;
            let v = node.expect(
                Method::Patch,
                &format!("/api/v1/repos/{o}/{n}/issues/{number}"),
                Some(&json!({ "state": "closed" })),
                200,
            )?;
            println!("closed {}", line(&v));
        }
    }
    Ok(())
}
