//! Three-way merge of file contents, line by line, as git's xdiff merge does it: the base
//! is diffed against each side; changes that neither overlap nor touch are both taken;
//! where they overlap or touch, the same change on both sides is taken once, and anything
//! else is a conflict, written with git's markers (`<<<<<<<`, `=======`, `>>>>>>>`) after
//! the lines both sides agree on at its edges are moved out of it. Binary contents (a NUL
//! in the first 8,000 bytes, git's test) are never merged.

use super::diff::{Hunk, diff, lines};

/// The width of conflict markers (git's default).
const MARKER: usize = 7;
/// Bytes git looks at to decide that a file is binary.
const BINARY_PROBE: usize = 8_000;

/// How a content merge ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentMerge {
    /// The merged text, with conflict markers where the sides disagree.
    pub text: Vec<u8>,
    /// Conflicting regions (0: clean).
    pub conflicts: usize,
}

/// True if git would treat `data` as binary.
pub fn is_binary(data: &[u8]) -> bool {
    data[..data.len().min(BINARY_PROBE)].contains(&0)
}

/// Merges `ours` and `theirs` against `base`; `labels` name the sides in markers. `None`
/// if any of them is binary (the caller decides).
pub fn merge(
    base: &[u8],
    ours: &[u8],
    theirs: &[u8],
    labels: (&str, &str),
) -> Option<ContentMerge> {
    if is_binary(base) || is_binary(ours) || is_binary(theirs) {
        return None;
    }
    let (b, o, t) = (lines(base), lines(ours), lines(theirs));
    let (ho, ht) = (diff(&b, &o), diff(&b, &t));
    let mut out = Vec::with_capacity(ours.len().max(theirs.len()));
    let mut conflicts = 0;
    let (mut i, mut j, mut pos) = (0, 0, 0);
    while i < ho.len() || j < ht.len() {
        let end = |h: &Hunk| h.a + h.a_len;
        // One side's next change ends strictly before the other's begins: take it alone.
        if j == ht.len() || (i < ho.len() && end(&ho[i]) < ht[j].a) {
            copy(&mut out, &b[pos..ho[i].a]);
            copy(&mut out, &o[ho[i].b..ho[i].b + ho[i].b_len]);
            pos = end(&ho[i]);
            i += 1;
            continue;
        }
        if i == ho.len() || end(&ht[j]) < ho[i].a {
            copy(&mut out, &b[pos..ht[j].a]);
            copy(&mut out, &t[ht[j].b..ht[j].b + ht[j].b_len]);
            pos = end(&ht[j]);
            j += 1;
            continue;
        }
        // They overlap or touch: the region grows while either side's next change
        // reaches into it.
        let start = ho[i].a.min(ht[j].a);
        let mut stop = end(&ho[i]).max(end(&ht[j]));
        let (i0, j0) = (i, j);
        i += 1;
        j += 1;
        loop {
            if i < ho.len() && ho[i].a <= stop {
                stop = stop.max(end(&ho[i]));
                i += 1;
            } else if j < ht.len() && ht[j].a <= stop {
                stop = stop.max(end(&ht[j]));
                j += 1;
            } else {
                break;
            }
        }
        copy(&mut out, &b[pos..start]);
        let mine = side(&b, &o, &ho[i0..i], start, stop);
        let other = side(&b, &t, &ht[j0..j], start, stop);
        if mine == other {
            copy(&mut out, &mine);
        } else {
            conflicts += 1;
            conflict(&mut out, &mine, &other, labels);
        }
        pos = stop;
    }
    copy(&mut out, &b[pos..]);
    Some(ContentMerge {
        text: out,
        conflicts,
    })
}

/// The lines one side has in place of base lines `start..stop`, given its hunks there.
fn side<'a>(
    base: &[&'a [u8]],
    other: &[&'a [u8]],
    hunks: &[Hunk],
    start: usize,
    stop: usize,
) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut pos = start;
    for h in hunks {
        out.extend_from_slice(&base[pos..h.a]);
        out.extend_from_slice(&other[h.b..h.b + h.b_len]);
        pos = h.a + h.a_len;
    }
    out.extend_from_slice(&base[pos..stop]);
    out
}

fn copy(out: &mut Vec<u8>, lines: &[&[u8]]) {
    for l in lines {
        out.extend_from_slice(l);
    }
}

/// Writes a conflict: the lines both sides share at its start and end stay outside it.
fn conflict(out: &mut Vec<u8>, mine: &[&[u8]], other: &[&[u8]], labels: (&str, &str)) {
    let mut pre = 0;
    while pre < mine.len() && pre < other.len() && mine[pre] == other[pre] {
        pre += 1;
    }
    let mut suf = 0;
    while suf < mine.len() - pre
        && suf < other.len() - pre
        && mine[mine.len() - 1 - suf] == other[other.len() - 1 - suf]
    {
        suf += 1;
    }
    copy(out, &mine[..pre]);
    let marker = |out: &mut Vec<u8>, c: u8, label: &str| {
        out.extend(std::iter::repeat_n(c, MARKER));
        if !label.is_empty() {
            out.push(b' ');
            out.extend_from_slice(label.as_bytes());
        }
        out.push(b'\n');
    };
    let body = |out: &mut Vec<u8>, lines: &[&[u8]]| {
        copy(out, lines);
        // A last line without a newline gets one, so the marker starts a line.
        if lines.last().is_some_and(|l| !l.ends_with(b"\n")) {
            out.push(b'\n');
        }
    };
    marker(out, b'<', labels.0);
    body(out, &mine[pre..mine.len() - suf]);
    marker(out, b'=', "");
    body(out, &other[pre..other.len() - suf]);
    marker(out, b'>', labels.1);
    copy(out, &mine[mine.len() - suf..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(base: &str, ours: &str, theirs: &str) -> (String, usize) {
        let r = merge(
            base.as_bytes(),
            ours.as_bytes(),
            theirs.as_bytes(),
            ("ours", "theirs"),
        )
        .expect("text");
        (String::from_utf8(r.text).expect("utf-8"), r.conflicts)
    }

    #[test]
    fn changes_apart_are_both_taken() {
        let base = "1\n2\n3\n4\n5\n";
        assert_eq!(
            m(base, "one\n2\n3\n4\n5\n", "1\n2\n3\n4\nfive\n"),
            ("one\n2\n3\n4\nfive\n".into(), 0)
        );
    }

    #[test]
    fn the_same_change_on_both_sides_is_taken_once() {
        let base = "1\n2\n3\n";
        assert_eq!(m(base, "1\nx\n3\n", "1\nx\n3\n"), ("1\nx\n3\n".into(), 0));
    }

    #[test]
    fn touching_changes_conflict_as_in_git() {
        let base = "1\n2\n3\n4\n";
        let (text, n) = m(base, "1\nA\n3\n4\n", "1\n2\nB\n4\n");
        assert_eq!(n, 1);
        assert_eq!(
            text,
            "1\n<<<<<<< ours\nA\n3\n=======\n2\nB\n>>>>>>> theirs\n4\n"
        );
    }

    #[test]
    fn a_conflict_keeps_shared_edges_outside_the_markers() {
        let (text, n) = m("a\nb\nc\n", "a\nx\ny\nc\n", "a\nx\nz\nc\n");
        assert_eq!(n, 1);
        assert_eq!(
            text,
            "a\nx\n<<<<<<< ours\ny\n=======\nz\n>>>>>>> theirs\nc\n"
        );
    }

    #[test]
    fn a_missing_final_newline_is_kept_or_fixed_before_a_marker() {
        assert_eq!(m("a\nb", "A\nb", "a\nb"), ("A\nb".into(), 0));
        let (text, _) = m("a", "b", "c");
        assert_eq!(text, "<<<<<<< ours\nb\n=======\nc\n>>>>>>> theirs\n");
    }

    #[test]
    fn binary_is_not_merged() {
        assert!(merge(b"a\0", b"b\0", b"c\0", ("o", "t")).is_none());
    }
}
