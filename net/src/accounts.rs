//! Accounts as replicated records: users, token hashes, organizations and their members,
//! teams, team and collaborator permissions, SSH keys and protected-branch rules. Each is
//! one [`Entry`] under a key derived from it; a signed [`crate::Body::Account`] record sets
//! a key to an entry or deletes it, and the record with the greatest stamp wins, as for
//! refs. The permission rule ([`repo_access`]) is here too, pure over an [`AccountView`],
//! so the node that accepts a push and every node that replicates it evaluate the same rule:
//! the accepting node attaches the records that gave the pusher write access ([`Pusher`]),
//! and peers check those records, not their own later state.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::announce::{AnnounceError, Announcement, Body, check_repo};
use crate::hlc::Stamp;
use crate::identity::NodeId;

/// The longest account key.
pub const MAX_KEY: usize = 512;
/// The longest title, token name or protected-branch pattern.
pub const MAX_TITLE: usize = 255;
/// The longest description.
pub const MAX_TEXT: usize = 4096;
/// The longest SSH public key (type and base64 blob).
pub const MAX_SSH_KEY: usize = 8192;
/// Records a push's grant carries at most.
pub const MAX_GRANT: usize = 4;

/// Access to a repository, and a token's scope: each level includes the ones below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Perm {
    /// Clone and fetch.
    Read,
    /// Push.
    Write,
    /// Settings, collaborators, deletion; for a token: managing the account.
    Admin,
}

impl Perm {
    /// The name used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Perm::Read => "read",
            Perm::Write => "write",
            Perm::Admin => "admin",
        }
    }

    /// Reads an API name (GitHub's `pull`, `push`, `maintain` too).
    pub fn parse(s: &str) -> Option<Perm> {
        match s {
            "read" | "pull" | "triage" => Some(Perm::Read),
            "write" | "push" => Some(Perm::Write),
            "admin" | "maintain" => Some(Perm::Admin),
            _ => None,
        }
    }
}

/// A member's role in an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// Reads the organization's repositories.
    Member,
    /// Administers the organization and all its repositories.
    Owner,
}

impl Role {
    /// The name used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Owner => "owner",
        }
    }
}

/// A user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// The login (shares its namespace with organizations).
    pub name: String,
    /// A site administrator: admin on every repository and account.
    pub admin: bool,
    /// Seconds since the epoch.
    pub created_at: u64,
    /// Random, drawn when the user is created: what their tokens are bound to.
    pub incarnation: u64,
}

/// A personal access token, kept only as the SHA-256 of its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    /// SHA-256 of the secret.
    pub hash: [u8; 32],
    /// Whose it is.
    pub user: String,
    /// The incarnation of that user ([`User::incarnation`]): a user deleted and created
    /// again under the same name does not inherit the old one's tokens.
    pub user_incarnation: u64,
    /// What its owner called it.
    pub name: String,
    /// What it may do (the greatest one counts).
    pub scopes: Vec<Perm>,
    /// Seconds since the epoch after which it no longer works.
    pub expires_at: Option<u64>,
    /// Seconds since the epoch.
    pub created_at: u64,
}

impl Token {
    /// The id the API shows (from the hash: the same on every node).
    pub fn id(&self) -> u64 {
        short_id(&self.hash)
    }

    /// The greatest scope.
    pub fn scope(&self) -> Option<Perm> {
        self.scopes.iter().copied().max()
    }
}

/// An SSH public key of a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshKey {
    /// The id the API shows (from the key blob: the same on every node).
    pub id: u64,
    /// Whose it is.
    pub user: String,
    /// What its owner called it.
    pub title: String,
    /// `TYPE BASE64`, without the comment.
    pub key: String,
    /// `SHA256:...`, as `ssh-keygen -l` prints it.
    pub fingerprint: String,
    /// Seconds since the epoch.
    pub created_at: u64,
}

/// One replicated account fact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Entry {
    /// A user.
    User(User),
    /// A token.
    Token(Token),
    /// An organization.
    Org {
        /// Its name (shares the namespace with users).
        name: String,
        /// Free text.
        description: String,
        /// Seconds since the epoch.
        created_at: u64,
    },
    /// A user's membership of an organization.
    Member {
        /// The organization.
        org: String,
        /// The user.
        user: String,
        /// Member or owner.
        role: Role,
    },
    /// A team of an organization.
    Team {
        /// The organization.
        org: String,
        /// The team's name.
        name: String,
        /// Free text.
        description: String,
    },
    /// A user in a team.
    TeamMember {
        /// The organization.
        org: String,
        /// The team.
        team: String,
        /// The user.
        user: String,
    },
    /// A team's permission on a repository.
    TeamRepo {
        /// The organization.
        org: String,
        /// The team.
        team: String,
        /// `owner/name`.
        repo: String,
        /// What the team may do.
        perm: Perm,
    },
    /// A collaborator's permission on a repository.
    Collaborator {
        /// `owner/name`.
        repo: String,
        /// The user.
        user: String,
        /// What they may do.
        perm: Perm,
    },
    /// An SSH key.
    SshKey(SshKey),
    /// Branches matching `pattern` refuse force pushes and deletion.
    Protection {
        /// `owner/name`.
        repo: String,
        /// A branch name (without `refs/heads/`); `*` matches within a path segment and
        /// `**` across segments.
        pattern: String,
    },
    /// Branches matching `pattern` change only by merging a pull request that has at least
    /// `approvals` approving reviews (pushes straight to them are refused).
    Reviews {
        /// `owner/name`.
        repo: String,
        /// As in [`Entry::Protection`].
        pattern: String,
        /// Approving reviews a merge needs: 1 to [`MAX_APPROVALS`].
        approvals: u32,
    },
}

/// The most approvals a rule may require.
pub const MAX_APPROVALS: u32 = 10;

/// The key kinds, as key prefixes.
const PREFIXES: &[&str] = &[
    key::USERS,
    key::TOKENS,
    key::ORGS,
    "member/",
    "team/",
    "tmember/",
    "trepo/",
    "collab/",
    key::SSH_KEYS,
    "protect/",
    "reviews/",
];

/// Account keys, built in one place: each entry's key, and the prefixes that list them.
pub mod key {
    use std::fmt;

    /// Every user.
    pub const USERS: &str = "user/";
    /// Every token.
    pub const TOKENS: &str = "token/";
    /// Every organization.
    pub const ORGS: &str = "org/";
    /// Every SSH key.
    pub const SSH_KEYS: &str = "key/";

    /// The teams of organization `org`.
    pub fn teams_of(org: &str) -> String {
        team(org, "")
    }
    /// The members of organization `org`.
    pub fn members_of(org: &str) -> String {
        member(org, "")
    }
    /// The team memberships of organization `org` (of its team `team`, if given).
    pub fn team_members_of(org: &str, team: Option<&str>) -> String {
        match team {
            Some(t) => team_member(org, t, ""),
            None => format!("tmember/{org}/"),
        }
    }
    /// The team permissions of organization `org` (of its team `team`, if given).
    pub fn team_repos_of(org: &str, team: Option<&str>) -> String {
        match team {
            Some(t) => team_repo(org, t, ""),
            None => format!("trepo/{org}/"),
        }
    }
    /// The collaborators of repository `repo`.
    pub fn collaborators_of(repo: impl fmt::Display) -> String {
        collaborator(repo, "")
    }
    /// The protection rules of repository `repo`.
    pub fn protections_of(repo: impl fmt::Display) -> String {
        protection(repo, "")
    }
    /// The review rules of repository `repo`.
    pub fn reviews_of(repo: impl fmt::Display) -> String {
        reviews(repo, "")
    }

    /// A user.
    pub fn user(name: &str) -> String {
        format!("user/{name}")
    }
    /// A token, by the hex of its hash.
    pub fn token(hash: &[u8; 32]) -> String {
        format!("token/{}", hex(hash))
    }
    /// An organization.
    pub fn org(name: &str) -> String {
        format!("org/{name}")
    }
    /// A membership.
    pub fn member(org: &str, user: &str) -> String {
        format!("member/{org}/{user}")
    }
    /// A team.
    pub fn team(org: &str, team: &str) -> String {
        format!("team/{org}/{team}")
    }
    /// A team membership.
    pub fn team_member(org: &str, team: &str, user: &str) -> String {
        format!("tmember/{org}/{team}/{user}")
    }
    /// A team's repository permission.
    pub fn team_repo(org: &str, team: &str, repo: impl fmt::Display) -> String {
        format!("trepo/{org}/{team}/{repo}")
    }
    /// A collaborator.
    pub fn collaborator(repo: impl fmt::Display, user: &str) -> String {
        format!("collab/{repo}/{user}")
    }
    /// An SSH key.
    pub fn ssh_key(id: u64) -> String {
        format!("key/{id}")
    }
    /// A protected-branch rule.
    pub fn protection(repo: impl fmt::Display, pattern: &str) -> String {
        format!("protect/{repo}/{pattern}")
    }
    /// A required-reviews rule.
    pub fn reviews(repo: impl fmt::Display, pattern: &str) -> String {
        format!("reviews/{repo}/{pattern}")
    }

    /// Lower-case hex.
    pub fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// An id for the API from a hash: its first six bytes (below 2^48, exact in JSON).
pub fn short_id(hash: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    for (i, x) in hash.iter().take(6).enumerate() {
        b[2 + i] = *x;
    }
    u64::from_be_bytes(b)
}

impl Entry {
    /// The key this entry lives under.
    pub fn key(&self) -> String {
        match self {
            Entry::User(u) => key::user(&u.name),
            Entry::Token(t) => key::token(&t.hash),
            Entry::Org { name, .. } => key::org(name),
            Entry::Member { org, user, .. } => key::member(org, user),
            Entry::Team { org, name, .. } => key::team(org, name),
            Entry::TeamMember { org, team, user } => key::team_member(org, team, user),
            Entry::TeamRepo {
                org, team, repo, ..
            } => key::team_repo(org, team, repo),
            Entry::Collaborator { repo, user, .. } => key::collaborator(repo, user),
            Entry::SshKey(k) => key::ssh_key(k.id),
            Entry::Protection { repo, pattern } => key::protection(repo, pattern),
            Entry::Reviews { repo, pattern, .. } => key::reviews(repo, pattern),
        }
    }

    /// Checks names and lengths.
    pub fn check(&self) -> Result<(), String> {
        let name =
            |what: &str, n: &str| guts_store::names::check_name(what, n).map_err(|e| e.to_string());
        let repo = |r: &str| check_repo(r).map_err(|e| e.to_string());
        let len = |what: &str, s: &str, max: usize| {
            if s.len() > max {
                Err(format!("{what} longer than {max} bytes"))
            } else {
                Ok(())
            }
        };
        let title = |what: &str, s: &str| {
            if s.chars().count() > MAX_TITLE || s.chars().any(char::is_control) {
                Err(format!(
                    "{what}: at most {MAX_TITLE} characters, none of them control"
                ))
            } else {
                Ok(())
            }
        };
        match self {
            Entry::User(u) => name("user", &u.name),
            Entry::Token(t) => {
                name("user", &t.user)?;
                title("token name", &t.name)?;
                if t.scopes.is_empty() || t.scopes.len() > 3 {
                    return Err("a token needs one to three scopes".into());
                }
                Ok(())
            }
            Entry::Org {
                name: n,
                description,
                ..
            } => {
                name("organization", n)?;
                len("description", description, MAX_TEXT)
            }
            Entry::Member { org, user, .. } => {
                name("organization", org)?;
                name("user", user)
            }
            Entry::Team {
                org,
                name: n,
                description,
            } => {
                name("organization", org)?;
                name("team", n)?;
                len("description", description, MAX_TEXT)
            }
            Entry::TeamMember { org, team, user } => {
                name("organization", org)?;
                name("team", team)?;
                name("user", user)
            }
            Entry::TeamRepo {
                org, team, repo: r, ..
            } => {
                name("organization", org)?;
                name("team", team)?;
                repo(r)
            }
            Entry::Collaborator { repo: r, user, .. } => {
                repo(r)?;
                name("user", user)
            }
            Entry::SshKey(k) => {
                name("user", &k.user)?;
                title("title", &k.title)?;
                len("key", &k.key, MAX_SSH_KEY)?;
                len("fingerprint", &k.fingerprint, 128)
            }
            Entry::Protection { repo: r, pattern } => {
                repo(r)?;
                check_pattern(pattern)
            }
            Entry::Reviews {
                repo: r,
                pattern,
                approvals,
            } => {
                repo(r)?;
                check_pattern(pattern)?;
                if !(1..=MAX_APPROVALS).contains(approvals) {
                    return Err(format!("approvals must be 1 to {MAX_APPROVALS}"));
                }
                Ok(())
            }
        }
    }
}

/// Checks a protected-branch pattern: a branch name where `*` may stand for parts.
pub fn check_pattern(pattern: &str) -> Result<(), String> {
    if pattern.is_empty() || pattern.len() > MAX_TITLE {
        return Err(format!("pattern must be 1 to {MAX_TITLE} bytes"));
    }
    let plain = pattern.replace('*', "x");
    if guts_git::refname::check(&format!("refs/heads/{plain}")).is_err() {
        return Err(format!("pattern {pattern:?} is not a branch name"));
    }
    Ok(())
}

/// True when `branch` (without `refs/heads/`) matches `pattern`: `*` matches any run of
/// characters but `/`, `**` any run at all. Linear in the pattern times the branch (no
/// backtracking blow-up on patterns like `*a*a*a*b`).
pub fn pattern_matches(pattern: &str, branch: &str) -> bool {
    enum Tok {
        Byte(u8),
        Star,
        Stars,
    }
    let p = pattern.as_bytes();
    let mut toks = Vec::with_capacity(p.len());
    let mut i = 0;
    while i < p.len() {
        if p[i] == b'*' {
            if p.get(i + 1) == Some(&b'*') {
                toks.push(Tok::Stars);
                i += 2;
            } else {
                toks.push(Tok::Star);
                i += 1;
            }
        } else {
            toks.push(Tok::Byte(p[i]));
            i += 1;
        }
    }
    let s = branch.as_bytes();
    // at[j]: the tokens so far can match exactly the first j bytes of the branch.
    let mut at = vec![false; s.len() + 1];
    at[0] = true;
    for t in &toks {
        let mut next = vec![false; s.len() + 1];
        match t {
            Tok::Byte(c) => {
                for j in 0..s.len() {
                    next[j + 1] = at[j] && s[j] == *c;
                }
            }
            Tok::Star | Tok::Stars => {
                let across = matches!(t, Tok::Stars);
                let mut reach = false;
                for j in 0..=s.len() {
                    reach = at[j] || (reach && j > 0 && (across || s[j - 1] != b'/'));
                    next[j] = reach;
                }
            }
        }
        at = next;
    }
    at[s.len()]
}

/// Checks a key that a record deletes: a known kind, bounded, printable.
pub fn check_key(key: &str) -> Result<(), String> {
    if key.len() > MAX_KEY || !PREFIXES.iter().any(|p| key.starts_with(p)) {
        return Err(format!("account key {key:?}"));
    }
    if key.chars().any(|c| c.is_control()) {
        return Err("control characters in an account key".into());
    }
    Ok(())
}

/// Account entries, as a node (or a push's grant) knows them. Reading can fail (a store
/// error, a record that does not decode): the error reaches the caller, so a failed read
/// never passes for "no such entry" (no grant, no protection rule) and access fails closed.
pub trait AccountView {
    /// Why a read failed.
    type Error;
    /// The entry under `key`.
    fn entry(&self, key: &str) -> Result<Option<Entry>, Self::Error>;
    /// Every entry whose key starts with `prefix`, by key.
    fn scan(&self, prefix: &str) -> Result<Vec<(String, Entry)>, Self::Error>;
}

impl AccountView for BTreeMap<String, Entry> {
    type Error = std::convert::Infallible;

    fn entry(&self, key: &str) -> Result<Option<Entry>, Self::Error> {
        Ok(self.get(key).cloned())
    }

    fn scan(&self, prefix: &str) -> Result<Vec<(String, Entry)>, Self::Error> {
        Ok(self
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, e)| (k.clone(), e.clone()))
            .collect())
    }
}

/// What a user may do on a repository, and the keys of the entries that say so.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    /// The permission, if any (public read access is the caller's to add).
    pub perm: Option<Perm>,
    /// The entries it rests on.
    pub basis: Vec<String>,
}

/// The rule: what `user` may do on `owner/name` by their account alone. A site
/// administrator and the owner have admin; then the greatest of a collaborator
/// permission, the organization role (owner: admin; member: read) and the permissions of
/// the organization's teams the user is in.
pub fn repo_access<V: AccountView>(
    view: &V,
    user: &str,
    owner: &str,
    name: &str,
) -> Result<Access, V::Error> {
    let user_key = key::user(user);
    let Some(Entry::User(u)) = view.entry(&user_key)? else {
        return Ok(Access::default());
    };
    if u.admin || owner == user {
        return Ok(Access {
            perm: Some(Perm::Admin),
            basis: vec![user_key],
        });
    }
    let full = format!("{owner}/{name}");
    let mut best = Access::default();
    let mut offer = |perm: Perm, basis: Vec<String>| {
        if best.perm.is_none_or(|p| perm > p) {
            best = Access {
                perm: Some(perm),
                basis,
            };
        }
    };
    let collab = key::collaborator(&full, user);
    if let Some(Entry::Collaborator { perm, .. }) = view.entry(&collab)? {
        offer(perm, vec![user_key.clone(), collab]);
    }
    let member = key::member(owner, user);
    if let Some(Entry::Member { role, .. }) = view.entry(&member)? {
        let perm = match role {
            Role::Owner => Perm::Admin,
            Role::Member => Perm::Read,
        };
        offer(perm, vec![user_key.clone(), member.clone()]);
    }
    for (k, e) in view.scan(&key::team_repos_of(owner, None))? {
        if let Entry::TeamRepo {
            team, repo, perm, ..
        } = e
            && repo == full
        {
            // Teams count for members of the organization only.
            let tm = key::team_member(owner, &team, user);
            if view.entry(&tm)?.is_some() && view.entry(&member)?.is_some() {
                offer(perm, vec![user_key.clone(), member.clone(), k, tm]);
            }
        }
    }
    Ok(best)
}

/// Who pushed an update, and the signed account records (encoded
/// [`crate::Body::Account`] announcements) that gave them write access on the accepting
/// node when it accepted the push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pusher {
    /// The user.
    pub user: String,
    /// The records their access rests on.
    pub grant: Vec<Vec<u8>>,
}

/// Why a pushed update's or an operation's grant does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    /// The update names no pusher.
    #[error("the update names no pusher")]
    NoPusher,
    /// A grant record is unreadable, forged or from an untrusted node.
    #[error("grant record refused: {0}")]
    Record(#[from] AnnounceError),
    /// A grant record is not an account entry, or is stamped after the push.
    #[error("grant record {0} does not belong to this push")]
    Foreign(String),
    /// The records do not show the user.
    #[error("the records do not show user {0}")]
    NoUser(String),
    /// The records do not give the user the access needed.
    #[error("{user} had no {need} access to {repo}")]
    Denied {
        /// The pusher or author.
        user: String,
        /// `owner/name`.
        repo: String,
        /// The access needed: `read`, `write` or `admin`.
        need: &'static str,
    },
}

/// Checks that the pusher of an update to `repo` stamped `stamp` had write access by the
/// rule in the records of its grant: each signed by a node `trusted` accepts, stamped
/// before the push.
pub fn check_grant(
    repo: &str,
    stamp: Stamp,
    pusher: Option<&Pusher>,
    trusted: impl Fn(&NodeId) -> bool,
    now_ms: u64,
) -> Result<(), GrantError> {
    let p = pusher.ok_or(GrantError::NoPusher)?;
    let made = Made {
        repo,
        stamp,
        user: &p.user,
    };
    check_access(&made, &p.grant, Some(Perm::Write), trusted, now_ms)
}

/// What a grant is checked for: who did something to which repository, and when.
#[derive(Debug, Clone, Copy)]
pub struct Made<'a> {
    /// `owner/name`.
    pub repo: &'a str,
    /// When (the grant's records are stamped before).
    pub stamp: Stamp,
    /// Who.
    pub user: &'a str,
}

/// Checks that `made.user` existed and (with `need`) had that access to `made.repo` when
/// they acted, by the rule in the records of `grant`: at most [`MAX_GRANT`], each signed by
/// a node `trusted` accepts and stamped before `made.stamp`.
pub fn check_access(
    made: &Made<'_>,
    grant: &[Vec<u8>],
    need: Option<Perm>,
    trusted: impl Fn(&NodeId) -> bool,
    now_ms: u64,
) -> Result<(), GrantError> {
    if grant.len() > MAX_GRANT {
        return Err(GrantError::Foreign(format!("{} records", grant.len())));
    }
    let mut view = BTreeMap::new();
    for bytes in grant {
        let a = Announcement::decode(bytes)?;
        a.validate(&trusted, now_ms)?;
        match a.body {
            Body::Account {
                stamp: s,
                key,
                entry: Some(entry),
            } if s < made.stamp => {
                view.insert(key, entry);
            }
            Body::Account { key, .. } => return Err(GrantError::Foreign(key)),
            _ => return Err(GrantError::Foreign("a repository record".into())),
        }
    }
    if !matches!(view.get(&key::user(made.user)), Some(Entry::User(_))) {
        return Err(GrantError::NoUser(made.user.to_string()));
    }
    let Some(need) = need else {
        return Ok(());
    };
    let denied = || GrantError::Denied {
        user: made.user.to_string(),
        repo: made.repo.to_string(),
        need: need.as_str(),
    };
    let name = guts_store::RepoName::parse(made.repo).map_err(|_| denied())?;
    let Ok(access) = repo_access(&view, made.user, name.owner(), name.name());
    if access.perm >= Some(need) {
        Ok(())
    } else {
        Err(denied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str, admin: bool) -> Entry {
        Entry::User(User {
            name: name.into(),
            admin,
            created_at: 0,
            incarnation: 1,
        })
    }

    fn view(entries: Vec<Entry>) -> BTreeMap<String, Entry> {
        entries.into_iter().map(|e| (e.key(), e)).collect()
    }

    #[test]
    fn the_rule_gives_owners_admins_collaborators_and_teams_what_they_hold() {
        let v = view(vec![
            user("alice", false),
            user("bob", false),
            user("carol", false),
            user("root", true),
            user("dan", false),
            Entry::Collaborator {
                repo: "alice/app".into(),
                user: "bob".into(),
                perm: Perm::Read,
            },
            Entry::Member {
                org: "acme".into(),
                user: "carol".into(),
                role: Role::Member,
            },
            Entry::TeamRepo {
                org: "acme".into(),
                team: "devs".into(),
                repo: "acme/web".into(),
                perm: Perm::Write,
            },
            Entry::TeamMember {
                org: "acme".into(),
                team: "devs".into(),
                user: "carol".into(),
            },
        ]);
        let access = |v: &BTreeMap<String, Entry>, u: &str, o: &str, n: &str| {
            let Ok(a) = repo_access(v, u, o, n);
            a
        };
        let perm = |u: &str, o: &str, n: &str| access(&v, u, o, n).perm;
        assert_eq!(perm("alice", "alice", "app"), Some(Perm::Admin));
        assert_eq!(perm("root", "alice", "app"), Some(Perm::Admin));
        assert_eq!(perm("bob", "alice", "app"), Some(Perm::Read));
        assert_eq!(perm("carol", "alice", "app"), None);
        assert_eq!(perm("carol", "acme", "web"), Some(Perm::Write));
        assert_eq!(perm("carol", "acme", "other"), Some(Perm::Read));
        assert_eq!(perm("dan", "acme", "web"), None);
        assert_eq!(perm("nobody", "nobody", "x"), None);
        let team = access(&v, "carol", "acme", "web");
        assert_eq!(team.basis.len(), 4);
        // Out of the organization, the team no longer counts.
        let mut v = v;
        v.remove(&key::member("acme", "carol"));
        assert_eq!(access(&v, "carol", "acme", "web").perm, None);
    }

    #[test]
    fn patterns_match_within_and_across_segments() {
        assert!(pattern_matches("main", "main"));
        assert!(!pattern_matches("main", "mainline"));
        assert!(pattern_matches("release/*", "release/1.0"));
        assert!(!pattern_matches("release/*", "release/1/2"));
        assert!(pattern_matches("release/**", "release/1/2"));
        assert!(pattern_matches("*", "dev"));
        assert!(!pattern_matches("*", "a/b"));
        assert!(pattern_matches("**", "a/b"));
        assert!(pattern_matches("a/**/z", "a/b/c/z"));
        assert!(pattern_matches("r*-*", "rc-1"));
        assert!(!pattern_matches("r*-*", "rc"));
        // No blow-up: this would take exponential time with backtracking.
        let evil = "*a".repeat(60) + "b";
        assert!(!pattern_matches(&evil, &"a".repeat(1000)));
        assert!(check_pattern("release/*").is_ok());
        assert!(check_pattern("a..b").is_err());
        assert!(check_pattern("").is_err());
    }

    #[test]
    fn keys_are_checked() {
        assert!(check_key("user/alice").is_ok());
        assert!(check_key("nope/alice").is_err());
        assert!(check_key(&format!("user/{}", "a".repeat(600))).is_err());
        assert!(user("a/b", false).check().is_err());
    }
}
