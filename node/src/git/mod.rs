//! Git Smart HTTP: the routes (`/{owner}/{repo}[.git]/…` and the same under `/git/` and
//! `/repos/`), content types and no-cache headers, and the handlers that hand the request
//! to blocking code for the protocol work.

mod advertise;
mod body;
mod default_branch;
#[cfg(test)]
mod parse_props;
mod receive;
#[cfg(test)]
mod receive_commands;
pub(crate) use receive::Pushed;
mod sideband;
mod upload;
mod upload_v0;
mod upload_v2;

use std::io::Read;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use guts_git::odb::OdbError;
use guts_git::pktline::{PktError, PktReader, write_error};
use guts_store::{Repo, RepoName, StoreError};
use serde::Deserialize;

use crate::accounts::{self, Caller};
use crate::collab::pull_refs::PullRefs;
use crate::error::ApiError;
use crate::limits::PeerIp;
use crate::replica::pull_through;
use crate::state::AppState;
use body::{BodyReader, BodyWriter};
use guts_net::Perm;

/// Why a Git request failed.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// The client broke the protocol.
    #[error("{0}")]
    Protocol(String),
    /// Malformed pkt-lines.
    #[error("{0}")]
    Pkt(#[from] PktError),
    /// The store failed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// An object lookup failed.
    #[error("{0}")]
    Odb(#[from] OdbError),
    /// Writing the response failed (the client went away).
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The error was already sent to the client inside the response (side-band 3).
    #[error("{0}")]
    Reported(Box<GitError>),
}

/// The longest error message a client is shown (messages may quote its input).
const MAX_PUBLIC: usize = 256;

impl GitError {
    /// True for errors the client caused; their message is shown to it.
    fn is_client(&self) -> bool {
        matches!(self, GitError::Protocol(_) | GitError::Pkt(_))
    }

    /// The message a client may see: its own mistakes (quoting at most [`MAX_PUBLIC`]
    /// characters), never a server fault's cause.
    fn public(&self) -> String {
        match self {
            GitError::Reported(e) => e.public(),
            e if e.is_client() => {
                let text = match e {
                    // The body the client sent: a stall, a trickle, a bomb, an early end.
                    GitError::Pkt(PktError::Io(io)) if client_io(io) => format!("{e}: {io}"),
                    e => e.to_string(),
                };
                if text.chars().count() > MAX_PUBLIC {
                    let cut: String = text.chars().take(MAX_PUBLIC).collect();
                    format!("{cut}...")
                } else {
                    text
                }
            }
            _ => "internal error".into(),
        }
    }
}

/// True for I/O errors the client's body caused (see `body.rs`), whose message it may see.
fn client_io(io: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        io.kind(),
        ErrorKind::InvalidData | ErrorKind::TimedOut | ErrorKind::UnexpectedEof
    )
}

/// The routes, under every path form.
pub fn routes() -> Router<AppState> {
    let mut r = Router::new();
    for prefix in ["", "/git", "/repos"] {
        r = r
            .route(
                &format!("{prefix}/{{owner}}/{{repo}}/info/refs"),
                get(info_refs),
            )
            .route(&format!("{prefix}/{{owner}}/{{repo}}/HEAD"), get(head))
            .route(
                &format!("{prefix}/{{owner}}/{{repo}}/git-upload-pack"),
                post(upload_pack),
            )
            .route(
                &format!("{prefix}/{{owner}}/{{repo}}/git-receive-pack"),
                post(receive_pack),
            );
    }
    r
}

fn no_cache(mut resp: Response, content_type: &'static str) -> Response {
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::EXPIRES,
        HeaderValue::from_static("Fri, 01 Jan 1980 00:00:00 GMT"),
    );
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, max-age=0, must-revalidate"),
    );
    resp
}

/// What a lookup found that the caller may use.
enum Found {
    /// The repository, held here.
    Here(Repo),
    /// Not held here, but live on the network: pull it through (see
    /// `replica::pull_through`).
    Elsewhere(RepoName),
}

/// The repository, if the caller may do `need` on it (see `accounts::require`). One this
/// node does not store is pulled from a node that does first; one being pulled is waited
/// for.
async fn find_repo(
    state: &AppState,
    caller: &Caller,
    owner: &str,
    repo: &str,
    need: Perm,
) -> Result<Repo, ApiError> {
    let name = repo.strip_suffix(".git").unwrap_or(repo);
    match lookup(state, caller, owner, name, need).await? {
        Found::Here(found) => {
            let pulls = &state.inner.pulls;
            // Found while a pull made it: read it again once the pull is over.
            if pulls.wait(&found.full_name()).await {
                return here(lookup(state, caller, owner, name, need).await?, owner, name);
            }
            Ok(found)
        }
        Found::Elsewhere(full) => {
            let store = state.store()?.clone();
            let net = state.replication().net.get();
            pull_through::pull(&store, net, &state.inner.pulls, &full).await?;
            here(lookup(state, caller, owner, name, need).await?, owner, name)
        }
    }
}

/// The repository a second lookup found, which must be here now.
fn here(found: Found, owner: &str, name: &str) -> Result<Repo, ApiError> {
    match found {
        Found::Here(repo) => Ok(repo),
        Found::Elsewhere(_) => Err(ApiError::not_found(
            "repository",
            &format!("{owner}/{name}"),
        )),
    }
}

/// Looks `owner/name` up here, then in the network's records, and checks the caller's
/// access against what is found.
async fn lookup(
    state: &AppState,
    caller: &Caller,
    owner: &str,
    name: &str,
    need: Perm,
) -> Result<Found, ApiError> {
    let store = state.store()?.clone();
    let (owner, name) = (owner.to_string(), name.to_string());
    let caller = caller.clone();
    tokio::task::spawn_blocking(move || {
        let found = match store.repo(&owner, &name) {
            Ok(r) => r,
            Err(StoreError::InvalidName(_)) => None,
            Err(e) => return Err(e.into()),
        };
        let full = RepoName::new(&owner, &name).ok();
        // Not here: is it live elsewhere?
        let elsewhere = match (&found, &full) {
            (None, Some(full)) => pull_through::candidate(&store, full)?,
            _ => None,
        };
        let record = found.as_ref().map(Repo::record).or(elsewhere.as_ref());
        let shown = format!("{owner}/{name}");
        accounts::require(&store, &caller, &shown, record, need, true)?;
        match (found, full) {
            (Some(repo), _) => Ok(Found::Here(repo)),
            (None, Some(full)) if elsewhere.is_some() => Ok(Found::Elsewhere(full)),
            _ => Err(ApiError::not_found("repository", &shown)),
        }
    })
    .await?
}

fn wants_v2(headers: &HeaderMap) -> bool {
    headers
        .get_all("git-protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(':'))
        .any(|p| p.trim() == "version=2")
}

fn check_content_type(headers: &HeaderMap, expected: &str) -> Result<(), ApiError> {
    let got = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if got != Some(expected) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("expected Content-Type: {expected}"),
        ));
    }
    Ok(())
}

fn gzip(headers: &HeaderMap) -> Result<bool, ApiError> {
    match headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?"))
    {
        None | Some("identity") => Ok(false),
        Some("gzip" | "x-gzip") => Ok(true),
        Some(other) => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("unsupported Content-Encoding {other}"),
        )),
    }
}

/// A Git request's place: one of the node's slots and one of its address's.
struct GitSlot {
    _node: tokio::sync::OwnedSemaphorePermit,
    _address: Option<crate::limits::AddressSlot>,
    in_flight: prometheus_client::metrics::gauge::Gauge,
}

impl Drop for GitSlot {
    fn drop(&mut self) {
        self.in_flight.dec();
    }
}

fn git_slot(state: &AppState, ip: PeerIp) -> Result<GitSlot, ApiError> {
    let refused = |why: &str| {
        state
            .metrics()
            .git_refused
            .get_or_create(&crate::metrics::ResultLabels { result: why.into() })
            .inc();
    };
    let address = match ip.0 {
        Some(ip) => Some(state.inner.git_per_address.admit(ip).ok_or_else(|| {
            refused("address");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "too many Git requests from your address at once; retry later",
            )
        })?),
        None => None,
    };
    let node = state
        .inner
        .git_slots
        .clone()
        .try_acquire_owned()
        .map_err(|_| {
            refused("node");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "too many Git requests; retry later",
            )
        })?;
    let in_flight = state.metrics().git_in_flight.clone();
    in_flight.inc();
    Ok(GitSlot {
        _node: node,
        _address: address,
        in_flight,
    })
}

#[derive(Debug, Deserialize)]
struct ServiceQuery {
    service: Option<String>,
}

async fn info_refs(
    State(state): State<AppState>,
    caller: Caller,
    Path((owner, repo)): Path<(String, String)>,
    Query(q): Query<ServiceQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let service = match q.service.as_deref() {
        Some(s @ ("git-upload-pack" | "git-receive-pack")) => s.to_string(),
        Some(_) => return Err(ApiError::new(StatusCode::FORBIDDEN, "unknown service")),
        None => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "the dumb HTTP protocol is not supported; use a smart Git client",
            ));
        }
    };
    let need = if service == "git-receive-pack" {
        Perm::Write
    } else {
        Perm::Read
    };
    let repo = find_repo(&state, &caller, &owner, &repo, need).await?;
    let v2 = service == "git-upload-pack" && wants_v2(&headers);
    let svc = service.clone();
    let st = state.clone();
    let body = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, GitError> {
        let mut out = Vec::new();
        if v2 {
            advertise::v2_capabilities(&mut out)?;
        } else if svc == "git-upload-pack" {
            advertise::v0_refs(&repo, &st.pull_refs(&repo)?, &svc, &mut out)?;
        } else {
            advertise::v0_refs(&repo, &PullRefs::default(), &svc, &mut out)?;
        }
        Ok(out)
    })
    .await?
    .map_err(|e| ApiError::internal(&e))?;
    let ct = if service == "git-upload-pack" {
        "application/x-git-upload-pack-advertisement"
    } else {
        "application/x-git-receive-pack-advertisement"
    };
    Ok(no_cache(body.into_response(), ct))
}

async fn head(
    State(state): State<AppState>,
    caller: Caller,
    Path((owner, repo)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let repo = find_repo(&state, &caller, &owner, &repo, Perm::Read).await?;
    let body = format!("ref: {}\n", repo.head_ref());
    Ok(no_cache(body.into_response(), "text/plain"))
}

/// Parses the request in blocking code; a malformed request is a 400 before any response.
async fn parse<T: Send + 'static>(
    reader: Box<dyn Read + Send>,
    f: impl FnOnce(&mut PktReader<Box<dyn Read + Send>>) -> Result<T, GitError> + Send + 'static,
) -> Result<(T, PktReader<Box<dyn Read + Send>>), ApiError> {
    tokio::task::spawn_blocking(move || {
        let mut r = PktReader::new(reader);
        match f(&mut r) {
            Ok(t) => Ok((t, r)),
            Err(e) if e.is_client() => Err(ApiError::new(StatusCode::BAD_REQUEST, e.public())),
            Err(GitError::Io(e)) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("reading the request: {e}"),
            )),
            Err(e) => Err(ApiError::internal(&e)),
        }
    })
    .await?
}

async fn upload_pack(
    State(state): State<AppState>,
    ip: PeerIp,
    caller: Caller,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let repo = find_repo(&state, &caller, &owner, &repo, Perm::Read).await?;
    check_content_type(&headers, "application/x-git-upload-pack-request")?;
    let permit = git_slot(&state, ip)?;
    let reader = BodyReader::new(body, state.config().idle_timeout, None).decoded(gzip(&headers)?);
    let v2 = wants_v2(&headers);
    let (writer, resp_body) = BodyWriter::new(state.metrics().bytes_out.clone());
    let metrics_state = state.clone();
    if v2 {
        let (req, _) = parse(reader, upload_v2::read_request).await?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            run_upload(&metrics_state, writer, |out| {
                let pulls = pull_refs_for(&metrics_state, &repo, &req.command)?;
                upload_v2::serve(&repo, &pulls, &req, out)
            });
        });
    } else {
        let (req, _) = parse(reader, upload_v0::read_request).await?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            run_upload(&metrics_state, writer, |out| {
                upload_v0::serve(&repo, &metrics_state.pull_refs(&repo)?, &req, out)
            });
        });
    }
    Ok(no_cache(
        resp_body.into_response(),
        "application/x-git-upload-pack-result",
    ))
}

fn run_upload(
    state: &AppState,
    mut writer: BodyWriter,
    f: impl FnOnce(&mut BodyWriter) -> Result<bool, GitError>,
) {
    match f(&mut writer) {
        Ok(true) => state.metrics().fetch("ok"),
        Ok(false) => {}
        Err(GitError::Io(e)) => {
            tracing::info!(error = %e, "upload-pack: client went away");
            state.metrics().fetch("aborted");
            writer.abort("client went away");
        }
        Err(e) => {
            let cause = match &e {
                GitError::Reported(inner) => inner,
                other => other,
            };
            if cause.is_client() {
                tracing::info!(error = %cause, "upload-pack refused");
            } else {
                tracing::error!(error = ?cause, "upload-pack failed");
            }
            state.metrics().fetch("error");
            // Before the pack started: an ERR packet. Once it has, the error went out on
            // side-band 3 (an ERR packet there reads as "bad band #69" to git).
            if !matches!(e, GitError::Reported(_)) {
                let mut msg = Vec::new();
                let _ = write_error(&mut msg, &e.public());
                let _ = std::io::Write::write_all(&mut writer, &msg);
            }
        }
    }
}

/// The pull request refs a v2 command needs (none for `object-info`).
fn pull_refs_for(state: &AppState, repo: &Repo, command: &str) -> Result<PullRefs, GitError> {
    if command == "object-info" {
        return Ok(PullRefs::default());
    }
    Ok(state.pull_refs(repo)?)
}

/// The pusher's grant and the repository's protected branches.
async fn pushing(
    state: &AppState,
    caller: &Caller,
    repo: &Repo,
) -> Result<receive::Pushing, ApiError> {
    let store = state.store()?.clone();
    let user = caller.user().map(str::to_string);
    let full = repo.full_name();
    tokio::task::spawn_blocking(move || who_pushes(&store, user.as_deref(), &full)).await?
}

/// What a push by `user` to `full` carries and must respect (blocking).
pub(crate) fn who_pushes(
    store: &guts_store::Store,
    user: Option<&str>,
    full: &RepoName,
) -> Result<receive::Pushing, ApiError> {
    // Every pushed update carries its pusher's grant, or peers would refuse it.
    let pusher = match user {
        Some(u) => accounts::grant_for(store, u, full.owner(), full.name())?,
        None => None,
    }
    .ok_or_else(|| ApiError::forbidden("write access is required"))?;
    Ok(receive::Pushing {
        pusher: Some(pusher),
        protected: accounts::protected_patterns(store, full)?,
        reviewed: accounts::review_rules(store, full)?,
        merging: false,
    })
}

/// A push the node makes itself (a pull request's merge): `name` from `old` to `new`,
/// with `pack` holding what `new` needs, through the same path as a client's push
/// (protected branches, the update log, replication, events). Blocking. The ref's
/// refusal, if any, is returned as the reason git would print.
pub(crate) fn push_here(
    st: &AppState,
    repo: &Repo,
    who: &receive::Pushing,
    (name, old, new): (&str, guts_git::ObjectId, guts_git::ObjectId),
    pack: Vec<u8>,
) -> Result<Result<(), String>, ApiError> {
    let push = receive::Push {
        commands: vec![receive::Command {
            old,
            new,
            name: name.to_string(),
        }],
        report_status: true,
        sideband: false,
        quiet: true,
        atomic: true,
        push_options: Vec::new(),
    };
    let limits = (st.config().max_pack_bytes, st.config().max_object_bytes);
    let mut report = Vec::new();
    let (outcome, mut pushed) = receive::serve(
        repo,
        &push,
        std::io::Cursor::new(pack),
        limits,
        st.replication(),
        who,
        &mut report,
    )
    .map_err(|e| ApiError::internal(&e))?;
    let full = repo.full_name();
    st.replication()
        .announce_push(&full, std::mem::take(&mut pushed.accepted));
    crate::events::publish_push(st, &full, &pushed);
    if outcome == receive::Outcome::Ok {
        return Ok(Ok(()));
    }
    // The report: "ng REF REASON" for the refused ref.
    let text = String::from_utf8_lossy(&report);
    let reason = text
        .split(['\n', '\0'])
        .find_map(|l| l.find("ng ").map(|i| l[i + 3..].to_string()))
        .map(|l| {
            l.split_once(' ')
                .map_or(l.clone(), |(_, why)| why.to_string())
        })
        .unwrap_or_else(|| "the push was refused".into());
    Ok(Err(reason))
}

async fn receive_pack(
    State(state): State<AppState>,
    ip: PeerIp,
    caller: Caller,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let repo = find_repo(&state, &caller, &owner, &repo, Perm::Write).await?;
    let who = pushing(&state, &caller, &repo).await?;
    check_content_type(&headers, "application/x-git-receive-pack-request")?;
    let permit = git_slot(&state, ip)?;
    let counter = state.metrics().bytes_in.clone();
    let reader =
        BodyReader::new(body, state.config().idle_timeout, Some(counter)).decoded(gzip(&headers)?);
    let (push, rest) = parse(reader, receive::read_commands).await?;
    let (mut writer, resp_body) = BodyWriter::new(state.metrics().bytes_out.clone());
    let limits = (
        state.config().max_pack_bytes,
        state.config().max_object_bytes,
    );
    let st = state.clone();
    let name = repo.full_name();
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        if push.commands.is_empty() {
            return;
        }
        match receive::serve(
            &repo,
            &push,
            rest.into_rest(),
            limits,
            st.replication(),
            &who,
            &mut writer,
        ) {
            Ok((outcome, mut pushed)) => {
                // Flushed and reported: now the network and the hub are told.
                st.replication()
                    .announce_push(&name, std::mem::take(&mut pushed.accepted));
                crate::events::publish_push(&st, &name, &pushed);
                let label = match outcome {
                    receive::Outcome::Ok => "ok",
                    receive::Outcome::Rejected => "rejected",
                    receive::Outcome::Failed => "bad_pack",
                };
                st.metrics().push(label);
                tracing::info!(repo = %name, refs = push.commands.len(), result = label, "push");
            }
            Err(e) => {
                tracing::error!(repo = %name, error = %e, "push failed");
                st.metrics().push("error");
                writer.abort("push failed");
            }
        }
    });
    Ok(no_cache(
        resp_body.into_response(),
        "application/x-git-receive-pack-result",
    ))
}
