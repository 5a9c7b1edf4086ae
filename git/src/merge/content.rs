//! Three-way merge of file contents, line by line, as git's xdiff merge does it
//! (`xdl_merge` at the level git's merges use, `XDL_MERGE_ZEALOUS`, over histogram diffs):
//!
//! 1. the base is diffed against each side;
//! 2. the two lists of changes are walked together: a change that ends before the other
//!    side's next one begins is taken alone; the same change on both sides is taken once;
//!    anything else that overlaps or touches is a conflict, and conflicts (or changes)
//!    that meet are joined;
//! 3. each conflict is refined by diffing its two sides: the lines they agree on leave it
//!    (it may split in several, or vanish), then conflicts at most three lines apart are
//!    joined again;
//! 4. the result is written from our side, with the other side's changes and git's
//!    markers (`<<<<<<<`, `=======`, `>>>>>>>`).
//!
//! Binary contents (a NUL in the first 8,000 bytes, git's test) are never merged.

use super::diff::{Hunk, diff_histogram, lines};

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

/// What a merged region takes (xdiff's `xdmerge_t` modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Take {
    /// Both sides changed it differently.
    Conflict,
    /// Our change.
    Ours,
    /// Their change.
    Theirs,
    /// A conflict whose sides turned out equal: ours, as it is.
    Same,
}

/// A region: ours `i1..i1 + chg1`, theirs `i2..i2 + chg2` (and the base's `i0`, `chg0`).
#[derive(Debug, Clone, Copy)]
struct Region {
    take: Take,
    i0: isize,
    chg0: isize,
    i1: isize,
    chg1: isize,
    i2: isize,
    chg2: isize,
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
    let (ho, ht) = (diff_histogram(&b, &o), diff_histogram(&b, &t));
    let clean = |text: &[u8]| {
        Some(ContentMerge {
            text: text.to_vec(),
            conflicts: 0,
        })
    };
    if ho.is_empty() {
        return clean(theirs);
    }
    if ht.is_empty() {
        return clean(ours);
    }
    let lens = (b.len() as isize, o.len() as isize, t.len() as isize);
    let mut regions = walk(&ho, &ht, (&o, &t), lens);
    refine(&mut regions, &o, &t);
    simplify(&mut regions);
    Some(write(&o, &t, &regions, labels))
}

/// Adds a region, joined to the previous one when they meet (xdiff's `xdl_append_merge`).
fn append(list: &mut Vec<Region>, r: Region) {
    if let Some(m) = list.last_mut()
        && (r.i1 <= m.i1 + m.chg1 || r.i2 <= m.i2 + m.chg2)
    {
        if r.take != m.take {
            m.take = Take::Conflict;
        }
        m.chg0 = r.i0 + r.chg0 - m.i0;
        m.chg1 = r.i1 + r.chg1 - m.i1;
        m.chg2 = r.i2 + r.chg2 - m.i2;
        return;
    }
    list.push(r);
}

/// Walks both sides' changes together (xdiff's `xdl_do_merge`).
fn walk(
    ho: &[Hunk],
    ht: &[Hunk],
    (o, t): (&[&[u8]], &[&[u8]]),
    (nb, no, nt): (isize, isize, isize),
) -> Vec<Region> {
    // (base start, base length, side start, side length)
    let h = |x: &Hunk| {
        (
            x.a as isize,
            x.a_len as isize,
            x.b as isize,
            x.b_len as isize,
        )
    };
    let mut out = Vec::new();
    let (mut p, mut q) = (0, 0);
    while p < ho.len() && q < ht.len() {
        let (a1, c1, b1, d1) = h(&ho[p]);
        let (a2, c2, b2, d2) = h(&ht[q]);
        if a1 + c1 < a2 {
            append(
                &mut out,
                Region {
                    take: Take::Ours,
                    i0: a1,
                    chg0: c1,
                    i1: b1,
                    chg1: d1,
                    i2: b2 - a2 + a1,
                    chg2: c1,
                },
            );
            p += 1;
            continue;
        }
        if a2 + c2 < a1 {
            append(
                &mut out,
                Region {
                    take: Take::Theirs,
                    i0: a2,
                    chg0: c2,
                    i1: b1 - a1 + a2,
                    chg1: c2,
                    i2: b2,
                    chg2: d2,
                },
            );
            q += 1;
            continue;
        }
        let same = a1 == a2
            && c1 == c2
            && d1 == d2
            && o[b1 as usize..(b1 + d1) as usize] == t[b2 as usize..(b2 + d2) as usize];
        if !same {
            let off = a1 - a2;
            let ffo = off + c1 - c2;
            let (mut i0, mut i1, mut i2) = (a1, b1, b2);
            if off > 0 {
                i0 -= off;
                i1 -= off;
            } else {
                i2 += off;
            }
            let (mut chg0, mut chg1, mut chg2) = (a1 + c1 - i0, b1 + d1 - i1, b2 + d2 - i2);
            if ffo < 0 {
                chg0 -= ffo;
                chg1 -= ffo;
            } else {
                chg2 += ffo;
            }
            append(
                &mut out,
                Region {
                    take: Take::Conflict,
                    i0,
                    chg0,
                    i1,
                    chg1,
                    i2,
                    chg2,
                },
            );
        }
        let (e1, e2) = (a1 + c1, a2 + c2);
        if e1 >= e2 {
            q += 1;
        }
        if e2 >= e1 {
            p += 1;
        }
    }
    for x in &ho[p..] {
        let (a1, c1, b1, d1) = h(x);
        append(
            &mut out,
            Region {
                take: Take::Ours,
                i0: a1,
                chg0: c1,
                i1: b1,
                chg1: d1,
                i2: a1 + nt - nb,
                chg2: c1,
            },
        );
    }
    for x in &ht[q..] {
        let (a2, c2, b2, d2) = h(x);
        append(
            &mut out,
            Region {
                take: Take::Theirs,
                i0: a2,
                chg0: c2,
                i1: a2 + no - nb,
                chg1: c2,
                i2: b2,
                chg2: d2,
            },
        );
    }
    out
}

/// Shrinks each conflict to where its sides differ (xdiff's `xdl_refine_conflicts`).
fn refine(regions: &mut Vec<Region>, o: &[&[u8]], t: &[&[u8]]) {
    let mut out = Vec::with_capacity(regions.len());
    for m in regions.drain(..) {
        if m.take != Take::Conflict || m.chg1 == 0 || m.chg2 == 0 {
            out.push(m);
            continue;
        }
        let mine = &o[m.i1 as usize..(m.i1 + m.chg1) as usize];
        let other = &t[m.i2 as usize..(m.i2 + m.chg2) as usize];
        let hunks = diff_histogram(mine, other);
        if hunks.is_empty() {
            out.push(Region {
                take: Take::Same,
                ..m
            });
            continue;
        }
        for h in hunks {
            out.push(Region {
                take: Take::Conflict,
                i1: m.i1 + h.a as isize,
                chg1: h.a_len as isize,
                i2: m.i2 + h.b as isize,
                chg2: h.b_len as isize,
                ..m
            });
        }
    }
    *regions = out;
}

/// Joins conflicts at most three lines apart (xdiff's `xdl_simplify_non_conflicts`).
fn simplify(regions: &mut Vec<Region>) {
    let mut i = 0;
    while i + 1 < regions.len() {
        let (m, next) = (regions[i], regions[i + 1]);
        let gap = next.i1 - (m.i1 + m.chg1);
        if m.take != Take::Conflict || next.take != Take::Conflict || gap > 3 {
            i += 1;
            continue;
        }
        regions[i].chg1 = next.i1 + next.chg1 - m.i1;
        regions[i].chg2 = next.i2 + next.chg2 - m.i2;
        regions.remove(i + 1);
    }
}

/// Writes the result from our side (xdiff's `xdl_fill_merge_buffer`, `merge` style).
fn write(o: &[&[u8]], t: &[&[u8]], regions: &[Region], labels: (&str, &str)) -> ContentMerge {
    let mut out = Vec::new();
    let mut conflicts = 0;
    let mut i = 0usize;
    let span = |lines: &[&[u8]], at: isize, n: isize| -> Vec<u8> {
        lines[at as usize..(at + n) as usize].concat()
    };
    for m in regions {
        let (i1, e1) = (m.i1 as usize, (m.i1 + m.chg1) as usize);
        match m.take {
            Take::Same => continue,
            Take::Ours => {
                copy(&mut out, &o[i..e1]);
            }
            Take::Theirs => {
                copy(&mut out, &o[i..i1]);
                out.extend_from_slice(&span(t, m.i2, m.chg2));
            }
            Take::Conflict => {
                conflicts += 1;
                copy(&mut out, &o[i..i1]);
                marker(&mut out, b'<', labels.0);
                with_newline(&mut out, &o[i1..e1]);
                marker(&mut out, b'=', "");
                with_newline(&mut out, &t[m.i2 as usize..(m.i2 + m.chg2) as usize]);
                marker(&mut out, b'>', labels.1);
            }
        }
        i = e1;
    }
    copy(&mut out, &o[i..]);
    ContentMerge {
        text: out,
        conflicts,
    }
}

fn copy(out: &mut Vec<u8>, lines: &[&[u8]]) {
    for l in lines {
        out.extend_from_slice(l);
    }
}

/// Lines inside a conflict: a last line without a newline gets one, so the marker after
/// it starts a line.
fn with_newline(out: &mut Vec<u8>, lines: &[&[u8]]) {
    copy(out, lines);
    if lines.last().is_some_and(|l| !l.ends_with(b"\n")) {
        out.push(b'\n');
    }
}

fn marker(out: &mut Vec<u8>, c: u8, label: &str) {
    out.extend(std::iter::repeat_n(c, MARKER));
    if !label.is_empty() {
        out.push(b' ');
        out.extend_from_slice(label.as_bytes());
    }
    out.push(b'\n');
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
