//! Talking to a node's REST API: which node, the token, and answers turned into errors a
//! person can act on.

use anyhow::{Context, bail};
use clap::Args;
use serde_json::Value;

/// Which node to talk to, and as whom.
#[derive(Debug, Args)]
pub struct NodeUrl {
    /// The node's base URL.
    #[arg(long, env = "GUTS_NODE", default_value = "http://127.0.0.1:8080")]
    pub node: String,
    /// A personal access token (sent as `Authorization: Bearer`).
    #[arg(long, env = "GUTS_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

/// A request's method.
#[derive(Debug, Clone, Copy)]
pub enum Method {
    Get,
    Post,
    Patch,
    Put,
}

impl NodeUrl {
    /// The base URL without a trailing slash.
    pub fn base(&self) -> &str {
        self.node.trim_end_matches('/')
    }

    /// Sends a request to `path` (under the base URL) and returns the status and the JSON
    /// answer (a string when it is not JSON).
    pub fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let url = format!("{}{path}", self.base());
        let agent = agent();
        let bearer = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let what = || format!("{method:?} {url}").to_uppercase();
        let resp = match method {
            Method::Get => {
                let mut req = agent.get(&url);
                if let Some(b) = &bearer {
                    req = req.header("Authorization", b);
                }
                req.call()
            }
            Method::Post | Method::Patch | Method::Put => {
                let mut req = match method {
                    Method::Post => agent.post(&url),
                    Method::Put => agent.put(&url),
                    _ => agent.patch(&url),
                };
                if let Some(b) = &bearer {
                    req = req.header("Authorization", b);
                }
                req.send_json(body.cloned().unwrap_or(Value::Null))
            }
        }
        .with_context(what)?;
        read(resp)
    }

    /// Like [`NodeUrl::call`], but an answer other than `ok` is an error that says what to
    /// do about it.
    pub fn expect(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        ok: u16,
    ) -> anyhow::Result<Value> {
        let (status, v) = self.call(method, path, body)?;
        if status == ok {
            return Ok(v);
        }
        if status == 401 && self.token.is_none() {
            bail!(
                "{} (HTTP 401): this needs a token; set GUTS_TOKEN or pass --token \
                 (guts devnet prints the administrator's)",
                error_of(&v)
            );
        }
        bail!("{} (HTTP {status})", error_of(&v));
    }
}

/// An HTTP agent that returns error statuses as answers, with a time limit.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(30)))
        .build()
        .into()
}

/// The status and body (JSON, or the text as a JSON string).
pub fn read(mut resp: ureq::http::Response<ureq::Body>) -> anyhow::Result<(u16, Value)> {
    let status = resp.status().as_u16();
    let text = resp
        .body_mut()
        .read_to_string()
        .context("reading the response")?;
    let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok((status, v))
}

/// The `error` of a JSON error, or the whole answer.
pub fn error_of(v: &Value) -> String {
    v.get("error")
        .and_then(Value::as_str)
        .map_or_else(|| v.to_string(), str::to_string)
}
