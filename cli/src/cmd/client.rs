//! `guts repo`, `guts user` and `guts health`: talk to a node's REST API (`guts user create`
//! with `--data-dir` works on a stopped node's store instead).

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

/// Which node to talk to.
#[derive(Debug, Args)]
pub struct NodeUrl {
    /// The node's base URL.
    #[arg(long, env = "GUTS_NODE", default_value = "http://127.0.0.1:8080")]
    node: String,
    /// A personal access token (sent as `Authorization: Bearer`).
    #[arg(long, env = "GUTS_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

impl NodeUrl {
    fn base(&self) -> &str {
        self.node.trim_end_matches('/')
    }

    fn auth(
        &self,
        req: ureq::RequestBuilder<ureq::typestate::WithBody>,
    ) -> ureq::RequestBuilder<ureq::typestate::WithBody> {
        match &self.token {
            Some(t) => req.header("Authorization", &format!("Bearer {t}")),
            None => req,
        }
    }

    fn auth_get(
        &self,
        req: ureq::RequestBuilder<ureq::typestate::WithoutBody>,
    ) -> ureq::RequestBuilder<ureq::typestate::WithoutBody> {
        match &self.token {
            Some(t) => req.header("Authorization", &format!("Bearer {t}")),
            None => req,
        }
    }
}

/// User commands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user and print their first token (shown once). With `--data-dir`, in a
    /// stopped node's store (how the first administrator is made); otherwise through a
    /// node's API, as a site administrator.
    Create {
        /// The user name.
        name: String,
        /// A site administrator.
        #[arg(long)]
        admin: bool,
        /// The data dir of a node that is not running.
        #[arg(long, env = "GUTS_DATA_DIR")]
        data_dir: Option<std::path::PathBuf>,
        #[command(flatten)]
        node: NodeUrl,
    },
}

pub fn user(cmd: UserCommand) -> anyhow::Result<()> {
    let UserCommand::Create {
        name,
        admin,
        data_dir,
        node,
    } = cmd;
    let token = match data_dir {
        Some(dir) => guts_node::accounts::create_user_offline(&dir, &name, admin)
            .with_context(|| format!("creating {name} in {}", dir.display()))?,
        None => {
            let url = format!("{}/api/v1/users", node.base());
            let resp = node
                .auth(agent().post(&url))
                .send_json(json!({ "name": name, "admin": admin }))
                .with_context(|| format!("POST {url}"))?;
            let (status, v) = read(resp)?;
            if status != 201 {
                bail!("{} (HTTP {status})", error_of(&v));
            }
            v["token"].as_str().unwrap_or_default().to_string()
        }
    };
    println!(
        "created user {name}{}",
        if admin { " (site administrator)" } else { "" }
    );
    println!("token: {token}");
    Ok(())
}

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
        /// Default branch.
        #[arg(long, default_value = "main")]
        default_branch: String,
        #[command(flatten)]
        node: NodeUrl,
    },
    /// List repositories.
    List {
        #[command(flatten)]
        node: NodeUrl,
    },
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(30)))
        .build()
        .into()
}

fn read(mut resp: ureq::http::Response<ureq::Body>) -> anyhow::Result<(u16, Value)> {
    let status = resp.status().as_u16();
    let text = resp
        .body_mut()
        .read_to_string()
        .context("reading the response")?;
    let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok((status, v))
}

fn error_of(v: &Value) -> String {
    v.get("error")
        .and_then(Value::as_str)
        .map_or_else(|| v.to_string(), str::to_string)
}

pub fn repo(cmd: RepoCommand) -> anyhow::Result<()> {
    match cmd {
        RepoCommand::Create {
            full_name,
            description,
            default_branch,
            node,
        } => {
            let Some((owner, name)) = full_name.split_once('/') else {
                bail!("expected OWNER/NAME, got {full_name:?}");
            };
            let url = format!("{}/api/v1/repos", node.base());
            let resp = node
                .auth(agent().post(&url))
                .send_json(json!({
                    "owner": owner, "name": name,
                    "description": description, "default_branch": default_branch,
                }))
                .with_context(|| format!("POST {url}"))?;
            let (status, v) = read(resp)?;
            if status != 201 {
                bail!("{} (HTTP {status})", error_of(&v));
            }
            println!("created {owner}/{name}");
            println!(
                "clone URL: {}/{owner}/{name}.git",
                node.node.trim_end_matches('/')
            );
        }
        RepoCommand::List { node } => {
            let base = node.node.trim_end_matches('/');
            let mut page = 1;
            loop {
                let url = format!("{base}/api/v1/repos?page={page}&per_page=100");
                let resp = node
                    .auth_get(agent().get(&url))
                    .call()
                    .with_context(|| format!("GET {url}"))?;
                let (status, v) = read(resp)?;
                if status != 200 {
                    bail!("{} (HTTP {status})", error_of(&v));
                }
                let items = v.as_array().cloned().unwrap_or_default();
                for r in &items {
                    println!(
                        "{}\t{}",
                        r["full_name"].as_str().unwrap_or("?"),
                        r["description"].as_str().unwrap_or("")
                    );
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

pub fn health(node: NodeUrl) -> anyhow::Result<()> {
    let url = format!("{}/health", node.node.trim_end_matches('/'));
    let resp = agent()
        .get(&url)
        .call()
        .with_context(|| format!("GET {url}"))?;
    let (status, v) = read(resp)?;
    println!("{}", serde_json::to_string_pretty(&v)?);
    if status != 200 {
        bail!("node is not healthy (HTTP {status})");
    }
    Ok(())
}
