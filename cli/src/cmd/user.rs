//! `guts user create`: through a node's API, or in a stopped node's store.

use anyhow::Context;
use clap::Subcommand;
use serde_json::json;

use super::api::{Method, NodeUrl};

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

pub fn run(cmd: UserCommand) -> anyhow::Result<()> {
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
            let body = json!({ "name": name, "admin": admin });
            let v = node.expect(Method::Post, "/api/v1/users", Some(&body), 201)?;
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
