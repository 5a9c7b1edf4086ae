//! git's histogram diff (`xdiff/xhistogram.c`), which git's merges use: in a region, the
//! lines of the first side are indexed by content with how often each occurs; every line
//! of the second side that matches one seeds a common run, grown both ways, and the run
//! whose rarest line is rarest (then the longest) is kept; the regions before and after
//! it are diffed the same way. A region whose common lines all occur more than
//! [`MAX_CHAIN`] times is left to Myers, and one with no common line is all changed.
//! Regions are independent, so they are worked through from a stack, not by recursion.

use std::collections::HashMap;

use super::diff::{Changed, myers_marks};

/// xdiff's `max_chain_length`: lines occurring more often than this do not seed runs.
const MAX_CHAIN: usize = 64;

/// One content's occurrences in the first side's region: the first, and how many.
#[derive(Clone, Copy)]
struct Occurrences {
    first: usize,
    count: usize,
}

/// A common run: `x[begin1..=end1]` equals `y[begin2..=end2]`.
#[derive(Clone, Copy)]
struct Run {
    begin1: usize,
    end1: usize,
    begin2: usize,
    end2: usize,
}

enum Found {
    /// The run to split around.
    Run(Run),
    /// No line in common.
    Nothing,
    /// Every common line is too frequent: Myers decides.
    TooCommon,
}

/// Marks the lines of `x` and `y` (classed lines) that the histogram diff finds changed.
pub(super) fn mark(x: &[u32], y: &[u32], cx: &mut Changed, cy: &mut Changed) {
    let mut regions = vec![(0, x.len(), 0, y.len())];
    while let Some((s1, e1, s2, e2)) = regions.pop() {
        if s1 == e1 {
            for j in s2..e2 {
                cy.set(j as isize, true);
            }
            continue;
        }
        if s2 == e2 {
            for i in s1..e1 {
                cx.set(i as isize, true);
            }
            continue;
        }
        match find_run(x, y, (s1, e1), (s2, e2)) {
            Found::Run(r) => {
                regions.push((r.end1 + 1, e1, r.end2 + 1, e2));
                regions.push((s1, r.begin1, s2, r.begin2));
            }
            Found::Nothing => {
                for i in s1..e1 {
                    cx.set(i as isize, true);
                }
                for j in s2..e2 {
                    cy.set(j as isize, true);
                }
            }
            Found::TooCommon => myers_marks(&x[s1..e1], &y[s2..e2], (cx, s1), (cy, s2)),
        }
    }
}

/// xdiff's `find_lcs` over `x[s1..e1]` and `y[s2..e2]`.
fn find_run(x: &[u32], y: &[u32], (s1, e1): (usize, usize), (s2, e2): (usize, usize)) -> Found {
    // Scanned from the end: each content's first occurrence, its count, and for each line
    // the next occurrence of the same content.
    let mut index: HashMap<u32, Occurrences> = HashMap::with_capacity(e1 - s1);
    let mut next: Vec<Option<usize>> = vec![None; e1 - s1];
    for p in (s1..e1).rev() {
        match index.get_mut(&x[p]) {
            Some(o) => {
                next[p - s1] = Some(o.first);
                o.first = p;
                o.count += 1;
            }
            None => {
                index.insert(x[p], Occurrences { first: p, count: 1 });
            }
        }
    }
    let count_at = |p: usize| index.get(&x[p]).map_or(0, |o| o.count);
    let mut best: Option<Run> = None;
    let mut best_count = MAX_CHAIN + 1;
    let mut has_common = false;
    let mut b = s2;
    while b < e2 {
        let mut b_next = b + 1;
        if let Some(o) = index.get(&y[b]).copied() {
            has_common = true;
            if o.count <= best_count {
                let mut at = o.first;
                loop {
                    let np = next[at - s1];
                    let (mut as_, mut bs, mut ae, mut be) = (at, b, at, b);
                    let mut rc = o.count;
                    while s1 < as_ && s2 < bs && x[as_ - 1] == y[bs - 1] {
                        as_ -= 1;
                        bs -= 1;
                        if rc > 1 {
                            rc = rc.min(count_at(as_));
                        }
                    }
                    while ae + 1 < e1 && be + 1 < e2 && x[ae + 1] == y[be + 1] {
                        ae += 1;
                        be += 1;
                        if rc > 1 {
                            rc = rc.min(count_at(ae));
                        }
                    }
                    if b_next <= be {
                        b_next = be + 1;
                    }
                    let len = best.map_or(0, |r| r.end1 - r.begin1);
                    if len < ae - as_ || rc < best_count {
                        best = Some(Run {
                            begin1: as_,
                            end1: ae,
                            begin2: bs,
                            end2: be,
                        });
                        best_count = rc;
                    }
                    // The next occurrence past this run.
                    let mut np = np;
                    while let Some(p) = np {
                        if p > ae {
                            break;
                        }
                        np = next[p - s1];
                    }
                    match np {
                        Some(p) => at = p,
                        None => break,
                    }
                }
            }
        }
        b = b_next;
    }
    if has_common && best_count > MAX_CHAIN {
        return Found::TooCommon;
    }
    match best {
        Some(r) => Found::Run(r),
        None => Found::Nothing,
    }
}
