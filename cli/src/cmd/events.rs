//! `guts events`: follow a node's event stream (`GET /ws`) and print each event as a line
//! of JSON, so no WebSocket tool is needed to watch a devnet.

use anyhow::{Context, bail};
use clap::Args;
use futures::StreamExt;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::api::NodeUrl;

/// `guts events` arguments.
#[derive(Debug, Args)]
pub struct EventsArgs {
    #[command(flatten)]
    pub node: NodeUrl,
    /// Channels: `repo:OWNER/NAME`, `repo:*` (every repository), `node`. Repeatable.
    #[arg(long = "channel", default_value = "repo:*")]
    pub channels: Vec<String>,
    /// Replay the node's logged events after this sequence number first.
    #[arg(long)]
    pub since: Option<u64>,
}

pub fn run(args: EventsArgs) -> anyhow::Result<()> {
    let base = args.node.base();
    let ws = if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        bail!("--node must be an http:// or https:// URL, got {base:?}");
    };
    let mut url = format!("{ws}/ws?channels={}", args.channels.join(","));
    if let Some(s) = args.since {
        url.push_str(&format!("&since={s}"));
    }
    let mut req = url
        .as_str()
        .into_client_request()
        .with_context(|| format!("bad URL {url}"))?;
    if let Some(t) = &args.node.token {
        req.headers_mut().insert(
            "Authorization",
            format!("Bearer {t}").parse().context("token")?,
        );
    }
    let rt = tokio::runtime::Runtime::new().context("starting the runtime")?;
    rt.block_on(async move {
        let (mut socket, _) = tokio_tungstenite::connect_async(req)
            .await
            .with_context(|| format!("connecting to {url}"))?;
        loop {
            tokio::select! {
                msg = socket.next() => match msg {
                    Some(Ok(Message::Text(t))) => println!("{t}"),
                    Some(Ok(Message::Close(frame))) => {
                        let why = frame.map(|f| format!("{} {}", u16::from(f.code), f.reason));
                        bail!("the node closed the stream: {}", why.unwrap_or_default());
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e).context("reading events"),
                    None => bail!("the node closed the stream"),
                },
                () = super::node::shutdown_signal() => {
                    let _ = socket.close(None).await;
                    return Ok(());
                }
            }
        }
    })
}
