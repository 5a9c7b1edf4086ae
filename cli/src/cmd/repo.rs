//! `guts repo create|edit|list`, through a node's REST API.

use anyhow::bail;
use clap::Subcommand;
use serde_json::{Map, Value, json};

use super::api::{Method, NodeUrl};

/// Repository commands.
#[derive(Debug, Subcommand)]
pub enum RepoCommand {
    /// Create a repository.
    Create {
        /// OWNER/NAME.
        full_name: String,
        /// Description.
        #[arg(long, default_value = "")]
        description: String,
        /// Default branch (until the first push, which sets it if this branch is not pushed).
        #[arg(long, default_value = "main")]
        default_branch: String,
        /// Only those who may read it see it.
        #[arg(long)]
        private: bool,
        #[command(flatten)]
        node: NodeUrl,
    },
    /// Change a repository's default branch, description or visibility.
    Edit {
        /// OWNER/NAME.
        full_name: String,
        /// The branch HEAD points at (a branch name, without refs/heads/).
        #[arg(long)]
        default_branch: Option<String>,
        /// Description.
        #[arg(long)]
        description: Option<String>,
        /// Visibility: true or false.
        #[arg(long)]
        private: Option<bool>,
        #[command(flatten)]
        node: NodeUrl,
    },
    /// List repositories.
    List {
        #[command(flatten)]
        node: NodeUrl,
    },
}

/// `OWNER/NAME`, both non-empty.
pub(crate) fn split(full_name: &str) -> anyhow::Result<(&str, &str)> {
    match full_name.split_once('/') {
        Some((o, n)) if !o.is_empty() && !n.is_empty() => Ok((o, n)),
        _ => bail!("expected OWNER/NAME, got {full_name:?}"),
    }
}

pub fn run(cmd: RepoCommand) -> anyhow::Result<()> {
    match cmd {
        RepoCommand::Create {
            full_name,
            description,
            default_branch,
            private,
            node,
        } => {
            let (owner, name) = split(&full_name)?;
            let body = json!({
                "owner": owner, "name": name, "description": description,
                "default_branch": default_branch, "private": private,
            });
            node.expect(Method::Post, "/api/v1/repos", Some(&body), 201)?;
            println!("created {owner}/{name}");
            println!("clone URL: {}/{owner}/{name}.git", node.base());
        }
        RepoCommand::Edit {
            full_name,
            default_branch,
            description,
            private,
            node,
        } => {
            let (owner, name) = split(&full_name)?;
            let mut patch = Map::new();
            if let Some(b) = default_branch {
                patch.insert("default_branch".into(), json!(b));
            }
            if let Some(d) = description {
                patch.insert("description".into(), json!(d));
            }
            if let Some(p) = private {
                patch.insert("private".into(), json!(p));
            }
            if patch.is_empty() {
                bail!("nothing to change: pass --default-branch, --description or --private");
            }
            let path = format!("/api/v1/repos/{owner}/{name}");
            let v = node.expect(Method::Patch, &path, Some(&Value::Object(patch)), 200)?;
            println!(
                "{owner}/{name}: default branch {}, {}",
                v["default_branch"].as_str().unwrap_or("?"),
                if v["private"].as_bool() == Some(true) {
                    "private"
                } else {
                    "public"
                }
            );
        }
        RepoCommand::List { node } => {
            let mut page = 1;
            loop {
                let path = format!("/api/v1/repos?page={page}&per_page=100");
                let v = node.expect(Method::Get, &path, None, 200)?;
                let items = v.as_array().cloned().unwrap_or_default();
                for r in &items {
                    let full = r["full_name"].as_str().unwrap_or("?");
                    match r["description"].as_str().unwrap_or("") {
                        "" => println!("{full}"),
                        d => println!("{full}\t{d}"),
                    }
                }
                if items.len() < 100 {
                    break;
                }
                page += 1;
            }
        }
    }
    Ok(())
}
