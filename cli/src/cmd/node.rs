//! `guts node`: run one node until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use guts_node::{Node, NodeConfig};

/// Run a node.
#[derive(Debug, Args)]
pub struct NodeArgs {
    /// Where the node keeps its data.
    #[arg(long, env = "GUTS_DATA_DIR")]
    data_dir: PathBuf,
    /// HTTP listen address (Smart HTTP, REST, health, metrics).
    #[arg(long, env = "GUTS_HTTP", default_value = "127.0.0.1:8080")]
    http: SocketAddr,
    /// Open connections at most.
    #[arg(long, env = "GUTS_MAX_CONNECTIONS", default_value_t = 1024)]
    max_connections: usize,
}

pub fn run(args: NodeArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Runtime::new().context("starting the runtime")?;
    rt.block_on(async move {
        let mut config = NodeConfig::new(&args.data_dir, args.http);
        config.max_connections = args.max_connections;
        let node = Node::start(config).await?;
        // Printed for people and for scripts that start nodes on port 0.
        println!("guts node listening on {}", node.url());
        node.wait_started().await.map_err(|e| {
            anyhow::anyhow!("opening the store in {}: {e}", args.data_dir.display())
        })?;
        println!("guts node ready (data in {})", args.data_dir.display());
        shutdown_signal().await;
        tracing::info!("shutting down");
        node.shutdown().await?;
        Ok(())
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
