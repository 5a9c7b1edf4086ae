//! The WebSocket protocol. Channels: `repo:OWNER/NAME` (one repository's events), `repo:*`
//! (every repository's), `node` (the node's own: peers). Client messages (JSON text):
//! `{"type":"subscribe","channel":C}`, `{"type":"unsubscribe","channel":C}`,
//! `{"type":"ping"}`. Server messages: `subscribed`, `unsubscribed`, `event`, `pong`,
//! `error`, `lagged` (see README for an example session).

use std::collections::BTreeSet;

use serde::Deserialize;
use serde_json::json;

/// Subscriptions one connection may hold.
pub const MAX_CHANNELS: usize = 64;

/// A channel a client may subscribe to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Channel {
    /// One repository, `owner/name`.
    Repo(String),
    /// Every repository.
    AllRepos,
    /// The node itself.
    Node,
}

impl Channel {
    /// Parses and checks a channel name.
    pub fn parse(s: &str) -> Result<Channel, String> {
        match s {
            "node" => Ok(Channel::Node),
            "repo:*" => Ok(Channel::AllRepos),
            _ => {
                let full = s.strip_prefix("repo:").ok_or_else(|| {
                    format!("unknown channel {s:?}: use repo:OWNER/NAME, repo:* or node")
                })?;
                if !full.contains('/') {
                    return Err(format!("channel {s:?}: expected repo:OWNER/NAME"));
                }
                let name = guts_store::RepoName::parse(full).map_err(|e| e.to_string())?;
                Ok(Channel::Repo(name.to_string()))
            }
        }
    }

    /// Its name on the wire.
    pub fn name(&self) -> String {
        match self {
            Channel::Repo(r) => format!("repo:{r}"),
            Channel::AllRepos => "repo:*".into(),
            Channel::Node => "node".into(),
        }
    }
}

/// True when an event about `repo` (none: a node event) belongs to one of `subs`.
pub fn wanted(subs: &BTreeSet<Channel>, repo: Option<&str>) -> bool {
    match repo {
        None => subs.contains(&Channel::Node),
        Some(r) => {
            subs.contains(&Channel::AllRepos)
                || subs.iter().any(|c| matches!(c, Channel::Repo(x) if x == r))
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
enum Raw {
    Subscribe { channel: String },
    Unsubscribe { channel: String },
    Ping,
}

/// A checked client message.
#[derive(Debug, PartialEq, Eq)]
pub enum ClientMsg {
    /// Start receiving a channel.
    Subscribe(Channel),
    /// Stop receiving a channel.
    Unsubscribe(Channel),
    /// Asks for a `pong`.
    Ping,
}

/// Parses a client message; the error is the message to send back.
pub fn parse(text: &str) -> Result<ClientMsg, String> {
    let raw: Raw = serde_json::from_str(text).map_err(|e| {
        let what = e.to_string();
        if what.contains("unknown variant") {
            format!("unknown message type: {what}; expected subscribe, unsubscribe or ping")
        } else {
            format!("malformed message: {what}")
        }
    })?;
    Ok(match raw {
        Raw::Subscribe { channel } => ClientMsg::Subscribe(Channel::parse(&channel)?),
        Raw::Unsubscribe { channel } => ClientMsg::Unsubscribe(Channel::parse(&channel)?),
        Raw::Ping => ClientMsg::Ping,
    })
}

/// `{"type":"error","message":...}`.
pub fn error(message: &str) -> String {
    json!({ "type": "error", "message": message }).to_string()
}

/// `{"type":"subscribed"|"unsubscribed","channel":...}`.
pub fn ack(kind: &str, channel: &Channel) -> String {
    json!({ "type": kind, "channel": channel.name() }).to_string()
}

/// `{"type":"pong"}`.
pub fn pong() -> String {
    json!({ "type": "pong" }).to_string()
}

/// `{"type":"lagged",...}`: the client fell behind by `missed` events (none: unknown, the
/// log no longer holds them). `last_seq`: the last event it received; reconnecting with
/// `?since=` that number fetches what the log still holds.
pub fn lagged(missed: Option<u64>, last_seq: u64) -> String {
    json!({ "type": "lagged", "missed": missed, "last_seq": last_seq }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_and_messages_are_checked() {
        assert_eq!(Channel::parse("node"), Ok(Channel::Node));
        assert_eq!(Channel::parse("repo:*"), Ok(Channel::AllRepos));
        assert_eq!(
            Channel::parse("repo:alice/app"),
            Ok(Channel::Repo("alice/app".into()))
        );
        for bad in [
            "repo:",
            "repo:alice",
            "repo:../x",
            "repo:a/b/c",
            "nodes",
            "",
        ] {
            assert!(Channel::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(parse(r#"{"type":"ping"}"#), Ok(ClientMsg::Ping));
        assert!(parse(r#"{"type":"subscribe"}"#).is_err());
        assert!(parse("{").unwrap_err().starts_with("malformed"));
        assert!(
            parse(r#"{"type":"dance"}"#)
                .unwrap_err()
                .starts_with("unknown message type")
        );
        let subs = BTreeSet::from([Channel::Repo("a/b".into())]);
        assert!(wanted(&subs, Some("a/b")));
        assert!(!wanted(&subs, Some("a/c")));
        assert!(!wanted(&subs, None));
    }
}
