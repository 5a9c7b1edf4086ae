//! `guts devnet`: a local network of N nodes, each its own `guts node` process (so one can
//! be killed and comes back), wired to each other and trusting each other. Node i serves
//! HTTP on `http-port + i` and libp2p on `p2p-port + i` (port 0: any free port), keeps its
//! data in `DIR/node-i` and logs to `DIR/node-i/node.log`. A node that exits on its own is
//! restarted; Ctrl-C or SIGTERM stops them all (SIGTERM, then SIGKILL after a grace period).
//! Before the first start, a site administrator `admin` is created in node 0's store (it
//! replicates to the others) and its token kept in `DIR/admin.token` and printed.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use guts_node::net::{NodeId, NodeKey};
use guts_node::replica::KEY_FILE;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};

use super::node::shutdown_signal;

/// Run a local devnet.
#[derive(Debug, Args)]
pub struct DevnetArgs {
    /// How many nodes.
    #[arg(long, env = "GUTS_DEVNET_NODES", default_value_t = 3)]
    nodes: usize,
    /// Where the nodes keep their data (default: a temp dir removed on exit).
    #[arg(long, env = "GUTS_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// HTTP port of node 0; node i gets this + i (0: any free port).
    #[arg(long, env = "GUTS_HTTP_PORT", default_value_t = 8080)]
    http_port: u16,
    /// libp2p port of node 0; node i gets this + i (0: any free port).
    #[arg(long, env = "GUTS_P2P_PORT", default_value_t = 9000)]
    p2p_port: u16,
    /// Seconds between anti-entropy rounds.
    #[arg(long, env = "GUTS_ANTI_ENTROPY_SECS", default_value_t = 5)]
    anti_entropy_secs: u64,
}

/// One node of the devnet.
struct Member {
    index: usize,
    dir: PathBuf,
    id: NodeId,
    child: Option<Child>,
    url: String,
    peer: String,
    p2p: Vec<String>,
}

/// How long a node may take to start.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a node may take to stop after SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(20);

pub fn run(args: DevnetArgs) -> anyhow::Result<()> {
    if args.nodes == 0 || args.nodes > 64 {
        bail!("--nodes must be between 1 and 64");
    }
    let port = |base: u16, i: usize| -> anyhow::Result<u16> {
        if base == 0 {
            return Ok(0);
        }
        u16::try_from(usize::from(base) + i).context("port out of range")
    };
    let (root, _temp) = match &args.data_dir {
        Some(d) => (d.clone(), None),
        None => {
            let t = tempfile::Builder::new()
                .prefix("guts-devnet-")
                .tempdir()
                .context("creating a data dir")?;
            (t.path().to_path_buf(), Some(t))
        }
    };
    let exe = std::env::current_exe().context("finding the guts binary")?;
    let mut members = Vec::new();
    for i in 0..args.nodes {
        let dir = root.join(format!("node-{i}"));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let key = NodeKey::load_or_create(&dir.join(KEY_FILE))
            .with_context(|| format!("the key of node {i}"))?;
        members.push(Member {
            index: i,
            dir,
            id: key.id(),
            child: None,
            url: String::new(),
            peer: String::new(),
            p2p: Vec::new(),
        });
    }
    let token = admin_token(&root, &members[0].dir)?;
    let ids: Vec<NodeId> = members.iter().map(|m| m.id).collect();
    let rt = tokio::runtime::Runtime::new().context("starting the runtime")?;
    rt.block_on(async move {
        let plan = Plan {
            exe,
            ids,
            http_port: args.http_port,
            p2p_port: args.p2p_port,
            anti_entropy_secs: args.anti_entropy_secs,
        };
        let started = async {
            for i in 0..members.len() {
                let bootstrap = bootstrap_for(&members, i);
                let http = port(plan.http_port, i)?;
                let p2p = port(plan.p2p_port, i)?;
                plan.start(&mut members[i], http, p2p, &bootstrap).await?;
            }
            anyhow::Ok(())
        };
        let result = tokio::select! {
            r = started => r,
            () = shutdown_signal() => Err(anyhow::anyhow!("interrupted while starting")),
        };
        if let Err(e) = result {
            stop_all(&mut members).await;
            // Keep the logs the error names, also in a temporary data dir.
            if let Some(t) = _temp {
                let kept = t.keep();
                return Err(e.context(format!(
                    "the devnet did not start (its data and logs are kept in {})",
                    kept.display()
                )));
            }
            return Err(e.context("the devnet did not start"));
        }
        print_table(&root, &members, &token);
        supervise(&plan, &mut members).await;
        println!("stopping {} nodes", members.len());
        stop_all(&mut members).await;
        println!("devnet stopped");
        Ok(())
    })
}

/// The bootstrap addresses for node `i`: every other node that is up.
fn bootstrap_for(members: &[Member], i: usize) -> Vec<String> {
    members
        .iter()
        .filter(|m| m.index != i && m.child.is_some())
        .flat_map(|m| m.p2p.iter().cloned())
        .collect()
}

/// How nodes are started.
struct Plan {
    exe: PathBuf,
    ids: Vec<NodeId>,
    http_port: u16,
    p2p_port: u16,
    anti_entropy_secs: u64,
}

impl Plan {
    /// Starts `m` and waits until it is ready, learning its URL and addresses.
    async fn start(
        &self,
        m: &mut Member,
        http: u16,
        p2p: u16,
        bootstrap: &[String],
    ) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(m.dir.join("node.log"))
            .with_context(|| format!("opening the log of node {}", m.index))?;
        let mut cmd = Command::new(&self.exe);
        cmd.arg("node")
            .arg("--data-dir")
            .arg(&m.dir)
            .arg("--http")
            .arg(format!("127.0.0.1:{http}"))
            .arg("--p2p")
            .arg(format!("/ip4/127.0.0.1/tcp/{p2p}"))
            .arg("--no-mdns")
            .arg("--anti-entropy-secs")
            .arg(self.anti_entropy_secs.to_string());
        for b in bootstrap {
            cmd.arg("--bootstrap").arg(b);
        }
        for id in self.ids.iter().filter(|id| **id != m.id) {
            cmd.arg("--trust").arg(id.to_string());
        }
        // The node's settings come from these flags only, not from this shell's GUTS_*.
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("GUTS_") && k != "GUTS_LOG" {
                cmd.env_remove(k);
            }
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting node {}", m.index))?;
        let stdout = child.stdout.take().context("node stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let ready = async {
            let (mut url, mut peer, mut p2p) = (String::new(), String::new(), Vec::new());
            while let Some(line) = lines.next_line().await? {
                if let Some(u) = line.strip_prefix("guts node listening on ") {
                    url = u.to_string();
                } else if let Some(p) = line.strip_prefix("peer id ") {
                    peer = p.to_string();
                } else if let Some(a) = line.strip_prefix("p2p listening on ") {
                    p2p.push(a.to_string());
                } else if line.starts_with("guts node ready") {
                    return anyhow::Ok((url, peer, p2p));
                }
            }
            bail!(
                "node {} exited while starting:\n{}",
                m.index,
                log_tail(&m.dir.join("node.log"))
            )
        };
        let (url, peer, p2p) = match tokio::time::timeout(START_TIMEOUT, ready).await {
            Ok(r) => r?,
            Err(_) => bail!("node {} did not start within {START_TIMEOUT:?}", m.index),
        };
        tokio::spawn(drain(
            lines.into_inner().into_inner(),
            m.dir.join("node.log"),
        ));
        m.url = url;
        m.peer = peer;
        m.p2p = p2p;
        m.child = Some(child);
        Ok(())
    }
}

/// The last lines of a node's log, to show why it did not start (an address in use, ...).
fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(6)..].join("\n");
    if tail.is_empty() {
        format!("(nothing in {})", log.display())
    } else {
        format!("{tail}\n(the whole log: {})", log.display())
    }
}

/// Keeps reading a node's stdout (so it never blocks on a full pipe) into its log.
async fn drain(mut out: ChildStdout, log: PathBuf) {
    let Ok(mut file) = tokio::fs::OpenOptions::new().append(true).open(&log).await else {
        return;
    };
    let _ = tokio::io::copy(&mut out, &mut file).await;
    let _ = file.flush().await;
}

/// The devnet administrator's token: made once in node 0's store, kept in
/// `DIR/admin.token` (mode 0600) for later runs on the same data dir.
fn admin_token(root: &Path, node0: &Path) -> anyhow::Result<String> {
    let file = root.join("admin.token");
    if let Ok(t) = std::fs::read_to_string(&file) {
        return Ok(t.trim().to_string());
    }
    let token = guts_node::accounts::create_user_offline(node0, "admin", true)
        .context("creating the devnet administrator")?;
    let mut f = std::fs::OpenOptions::new();
    f.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut f, 0o600);
    std::io::Write::write_all(
        &mut f.open(&file).context("saving the admin token")?,
        format!("{token}\n").as_bytes(),
    )?;
    Ok(token)
}

fn print_table(root: &Path, members: &[Member], token: &str) {
    println!(
        "guts devnet: {} nodes, data in {}",
        members.len(),
        root.display()
    );
    println!();
    for m in members {
        let pid = m.child.as_ref().and_then(Child::id).unwrap_or(0);
        println!("node {}  {}  peer {}  pid {}", m.index, m.url, m.peer, pid);
    }
    let first = members.first().map_or("", |m| m.url.as_str());
    let last = members.last().map_or("", |m| m.url.as_str());
    println!();
    println!(
        "admin token: {token}   (user admin, site administrator; also in {}/admin.token)",
        root.display()
    );
    println!();
    let guts = guts_command();
    println!("Try it (in another terminal, in a Git repository):");
    println!("  export GUTS_TOKEN={token}");
    println!("  {guts} repo create admin/hello --node {first}");
    let authed = first.replacen("http://", &format!("http://admin:{token}@"), 1);
    println!("  git push {authed}/admin/hello.git HEAD   # your current branch, main or master");
    println!("  git clone {last}/admin/hello.git");
    println!("  {guts} events --node {last} --channel repo:admin/hello   # watch events live");
    println!("  {guts} health --node {last}");
    println!(
        "Logs: {}/node-N/node.log. Ctrl-C stops every node.",
        root.display()
    );
    println!("devnet ready");
}

/// How to run this binary from a shell: `guts` when that is what the PATH finds, else its
/// full path (after `cargo run`, `guts` is not on the PATH).
fn guts_command() -> String {
    let me = std::env::current_exe().ok();
    let on_path = std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|d| {
            let c = d.join("guts");
            c.is_file()
                && std::fs::canonicalize(&c).ok()
                    == me.as_ref().and_then(|m| std::fs::canonicalize(m).ok())
        })
    });
    match me {
        Some(p) if !on_path => p.display().to_string(),
        _ => "guts".into(),
    }
}

/// Restarts nodes that exit on their own, until Ctrl-C or SIGTERM.
async fn supervise(plan: &Plan, members: &mut [Member]) {
    let stop = shutdown_signal();
    tokio::pin!(stop);
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            () = &mut stop => return,
            _ = tick.tick() => {}
        }
        for i in 0..members.len() {
            let exited = match members[i].child.as_mut().map(Child::try_wait) {
                Some(Ok(Some(status))) => Some(status.to_string()),
                Some(Err(e)) => Some(e.to_string()),
                _ => None,
            };
            let Some(status) = exited else {
                continue;
            };
            members[i].child = None;
            println!("node {i} exited ({status}); restarting");
            let bootstrap = bootstrap_for(members, i);
            // The same ports as before, so peers and users find it where it was.
            let http = port_of(&members[i].url);
            let p2p = members[i]
                .p2p
                .first()
                .and_then(|a| a.split('/').nth(4))
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            let restarted = tokio::select! {
                () = &mut stop => return,
                r = plan.start(&mut members[i], http, p2p, &bootstrap) => r,
            };
            match restarted {
                Ok(()) => {
                    let m = &members[i];
                    let pid = m.child.as_ref().and_then(Child::id).unwrap_or(0);
                    println!("node {i} restarted: {}  peer {}  pid {pid}", m.url, m.peer);
                }
                Err(e) => println!("node {i} could not restart: {e:#}"),
            }
        }
    }
}

fn port_of(url: &str) -> u16 {
    url.rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0)
}

/// SIGTERM to every node, then SIGKILL to those still running after the grace period.
async fn stop_all(members: &mut [Member]) {
    for m in members.iter() {
        if let Some(pid) = m.child.as_ref().and_then(Child::id)
            && let Ok(pid) = i32::try_from(pid)
        {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
    }
    for m in members.iter_mut() {
        if let Some(mut child) = m.child.take()
            && tokio::time::timeout(STOP_GRACE, child.wait())
                .await
                .is_err()
        {
            println!(
                "node {} did not stop in {STOP_GRACE:?}; killing it",
                m.index
            );
            let _ = child.kill().await;
        }
    }
}
