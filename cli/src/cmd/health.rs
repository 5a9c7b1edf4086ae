//! `guts health`: a node's health, as a summary a person reads or as the JSON itself.

use anyhow::bail;
use clap::Args;
use serde_json::Value;

use super::api::{Method, NodeUrl};

/// `guts health` arguments.
#[derive(Debug, Args)]
pub struct HealthArgs {
    #[command(flatten)]
    pub node: NodeUrl,
    /// Print the node's JSON answer as it is.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: HealthArgs) -> anyhow::Result<()> {
    let (status, v) = args.node.call(Method::Get, "/health", None)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print!("{}", summary(args.node.base(), &v));
    }
    if status != 200 {
        bail!("node is not healthy (HTTP {status})");
    }
    Ok(())
}

fn s<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(v, |v, k| &v[*k])
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// A few lines: status, version and uptime, then the store, p2p and events.
fn summary(base: &str, v: &Value) -> String {
    let mut out = format!(
        "{base}: {} (version {}, up {} s)\n",
        text(&v["status"]),
        text(&v["version"]),
        text(&v["uptime_seconds"])
    );
    if let Some(r) = v["reason"].as_str() {
        out += &format!("  reason:  {r}\n");
    }
    let st = s(v, &["components", "store"]);
    out += &format!(
        "  store:   {}, {} repositories, {} objects, {} pack bytes\n",
        text(&st["status"]),
        text(&st["repositories"]),
        text(&st["objects"]),
        text(&st["pack_bytes"])
    );
    let p2p = s(v, &["components", "p2p"]);
    out += &format!(
        "  p2p:     {}, node {}, {} peers\n",
        text(&p2p["status"]),
        text(&p2p["node_id"]),
        text(&p2p["peers"])
    );
    if let Some(rep) = p2p["replication"].as_object() {
        let counters: Vec<String> = rep
            .iter()
            .map(|(k, v)| format!("{k}={}", text(v)))
            .collect();
        out += &format!("  replication: {}\n", counters.join(" "));
    }
    let ev = s(v, &["components", "events"]);
    if ev.is_object() {
        let fields: Vec<String> = ev
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| format!("{k}={}", text(v)))
            .collect();
        out += &format!("  events:  {}\n", fields.join(" "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_reads_the_health_json() {
        let v = serde_json::json!({
            "status": "ok", "version": "0.1.0", "uptime_seconds": 7,
            "components": {
                "store": {"status": "ok", "repositories": 2, "objects": 10, "pack_bytes": 99},
                "p2p": {"status": "ok", "node_id": "ab", "peers": 1, "replication": {"applied": 3}},
                "events": {"subscribers": 0}
            }
        });
        let s = summary("http://n", &v);
        assert!(s.starts_with("http://n: ok (version 0.1.0, up 7 s)"), "{s}");
        assert!(s.contains("2 repositories"), "{s}");
        assert!(s.contains("node ab, 1 peers"), "{s}");
        assert!(s.contains("applied=3"), "{s}");
    }
}
