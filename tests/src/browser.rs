//! Headless Chromium (Debian's `chromium`, installed by `.ci/run`) driven over the DevTools
//! protocol: a tab navigates, evaluates JavaScript in the page, waits for a condition,
//! and takes screenshots. Dialogs a page opens (an `alert` from an XSS that ran) are
//! recorded, so a test can say none did.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Stream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A headless browser, killed when dropped.
pub struct Chrome {
    child: Child,
    port: u16,
    _profile: tempfile::TempDir,
}

impl Chrome {
    /// Starts `chromium` (or `$GUTS_CHROMIUM`) with a fresh profile.
    pub fn start() -> Chrome {
        let bin = std::env::var("GUTS_CHROMIUM").unwrap_or_else(|_| "chromium".into());
        let profile = tempfile::tempdir().expect("profile dir");
        let mut child = Command::new(&bin)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--remote-debugging-port=0",
                "--window-size=1280,900",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{bin} must be installed (.ci/run installs it): {e}"));
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if !sent && let Some(rest) = line.split("ws://127.0.0.1:").nth(1) {
                    let port: u16 = rest.split('/').next().unwrap_or("").parse().unwrap_or(0);
                    let _ = tx.send(port);
                    sent = true;
                }
            }
        });
        let port = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("chromium printed its DevTools address");
        Chrome {
            child,
            port,
            _profile: profile,
        }
    }

    /// A new tab.
    pub fn tab(&self) -> Tab {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut resp = agent
            .put(&format!(
                "http://127.0.0.1:{}/json/new?about:blank",
                self.port
            ))
            .send_empty()
            .expect("a new tab");
        let v: Value = serde_json::from_str(&resp.body_mut().read_to_string().unwrap_or_default())
            .expect("tab JSON");
        let url = v["webSocketDebuggerUrl"]
            .as_str()
            .expect("debugger URL")
            .to_string();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let (ws, _) = rt
            .block_on(tokio_tungstenite::connect_async(url.as_str()))
            .expect("DevTools socket");
        let mut tab = Tab {
            rt,
            ws,
            next: 1,
            dialogs: Vec::new(),
        };
        tab.call("Page.enable", json!({}));
        tab.call("Runtime.enable", json!({}));
        tab
    }
}

impl Drop for Chrome {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One tab.
pub struct Tab {
    rt: tokio::runtime::Runtime,
    ws: Stream,
    next: u64,
    /// Messages of the dialogs pages opened (`alert`, `confirm`, ...).
    pub dialogs: Vec<String>,
}

impl Tab {
    /// Sends a command and waits for its answer (events meanwhile are noted).
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next;
        self.next += 1;
        let msg = json!({ "id": id, "method": method, "params": params }).to_string();
        let deadline = Instant::now() + Duration::from_secs(60);
        let (ws, dialogs) = (&mut self.ws, &mut self.dialogs);
        self.rt.block_on(async {
            ws.send(Message::text(msg)).await.expect("send");
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                let next = tokio::time::timeout(left, ws.next())
                    .await
                    .unwrap_or_else(|_| panic!("no answer to {method}"));
                let Some(Ok(Message::Text(t))) = next else {
                    continue;
                };
                let v: Value = serde_json::from_str(&t).unwrap_or(Value::Null);
                if v["method"] == "Page.javascriptDialogOpening" {
                    dialogs.push(v["params"]["message"].as_str().unwrap_or("").to_string());
                    let close = json!({ "id": 0, "method": "Page.handleJavaScriptDialog", "params": { "accept": true } });
                    let _ = ws.send(Message::text(close.to_string())).await;
                }
                if v["id"] == id {
                    assert!(v.get("error").is_none(), "{method}: {v}");
                    return v["result"].clone();
                }
            }
        })
    }

    /// The value of a JavaScript expression in the page (promises awaited).
    pub fn eval(&mut self, expr: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({ "expression": expr, "returnByValue": true, "awaitPromise": true }),
        );
        r["result"]["value"].clone()
    }

    /// Waits until `expr` is true in the page.
    pub fn wait(&mut self, what: &str, expr: &str, timeout: Duration) {
        let start = Instant::now();
        while self.eval(&format!("!!({expr})")) != json!(true) {
            assert!(start.elapsed() < timeout, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Opens `url` and waits until it has loaded.
    pub fn goto(&mut self, url: &str) {
        self.call("Page.navigate", json!({ "url": url }));
        self.wait(
            &format!("{url} to load"),
            &format!(
                "document.readyState === 'complete' && location.href.startsWith({})",
                json!(url.split('#').next().unwrap_or(url))
            ),
            Duration::from_secs(60),
        );
    }

    /// Saves a PNG of the page.
    pub fn screenshot(&mut self, path: &Path) {
        let r = self.call("Page.captureScreenshot", json!({ "format": "png" }));
        let png = base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().expect("data"))
            .expect("base64");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot dir");
        }
        std::fs::write(path, png).expect("screenshot");
    }
}
