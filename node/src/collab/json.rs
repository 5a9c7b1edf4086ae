//! The REST shapes of issues, pull requests and comments (GitHub's field names where they
//! fit, so existing client code reads them), and ISO 8601 times.

use guts_net::Stamp;
use guts_net::collab::{Comment, Kind, Review, State, Thread, Verdict};
use serde_json::{Value, json};

use super::view::hex;

/// `2026-12-03T17:41:03Z` from milliseconds since the epoch (UTC).
pub fn iso8601(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

fn at(s: &Stamp) -> String {
    iso8601(s.hlc.wall_ms)
}

fn user(name: &str) -> Value {
    json!({ "login": name })
}

/// An issue or pull request as lists and pages show it.
pub fn thread(number: u64, t: &Thread) -> Value {
    let (state, merged) = match &t.state {
        State::Open => ("open", None),
        State::Closed => ("closed", None),
        State::Merged { .. } => ("closed", Some(&t.state)),
    };
    let mut v = json!({
        "id": hex(&t.id),
        "number": number,
        "title": t.title,
        "body": t.body,
        "state": state,
        "user": user(&t.author),
        "labels": t.labels.iter().map(|l| json!({ "name": l })).collect::<Vec<_>>(),
        "assignees": t.assignees.iter().map(|a| user(a)).collect::<Vec<_>>(),
        "comments": t.comments.iter().filter(|c| !c.deleted).count(),
        "created_at": at(&t.opened),
        "updated_at": at(&t.updated),
    });
    if let Kind::Pull { base, head } = &t.kind {
        v["pull_request"] = json!({
            "base": { "ref": base },
            "head": { "ref": head.branch, "repo": head.repo },
            "merged": merged.is_some(),
        });
        if let Some(State::Merged {
            commit,
            strategy,
            by,
            at: when,
        }) = merged
        {
            v["pull_request"]["merge_commit_sha"] =
                json!(guts_git::ObjectId::from_bytes(*commit).to_hex());
            v["pull_request"]["merged_by"] = user(by);
            v["pull_request"]["merged_at"] = json!(at(when));
            v["pull_request"]["merge_method"] = json!(format!("{strategy:?}").to_lowercase());
        }
    }
    v
}

/// A comment.
pub fn comment(c: &Comment) -> Value {
    json!({
        "id": hex(&c.id),
        "user": user(&c.author),
        "body": c.body,
        "created_at": at(&c.created),
        "updated_at": at(&c.edited.unwrap_or(c.created)),
    })
}

/// A review, as GitHub shows one.
pub fn review(r: &Review) -> Value {
    let state = match r.verdict {
        Verdict::Approve => "APPROVED",
        Verdict::RequestChanges => "CHANGES_REQUESTED",
        Verdict::Comment => "COMMENTED",
    };
    json!({
        "id": hex(&r.id),
        "user": user(&r.author),
        "state": state,
        "body": r.body,
        "commit_id": guts_git::ObjectId::from_bytes(r.commit).to_hex(),
        "submitted_at": at(&r.at),
    })
}

#[cfg(test)]
mod tests {
    use super::iso8601;

    #[test]
    fn times_are_iso_8601_in_utc() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601(1_796_319_663_000), "2026-12-03T17:41:03Z");
    }
}
