//! Line diffs for merging: Myers' O(ND) algorithm over interned lines, after trimming the
//! common prefix and suffix, with change groups slid down as far as they go (as xdiff does
//! when nothing else decides), so that equal inputs give the hunks git would find in the
//! common cases. Bounded: past [`MAX_EDITS`] differences the middle is one change.

use std::collections::HashMap;

/// Edits explored at most; past that, the differing middle is one hunk (memory stays
/// O(`MAX_EDITS`²) words).
pub const MAX_EDITS: usize = 2_000;

/// A change: base lines `a..a + a_len` became other lines `b..b + b_len`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hunk {
    /// First base line.
    pub a: usize,
    /// Base lines replaced.
    pub a_len: usize,
    /// First line on the other side.
    pub b: usize,
    /// Lines put in their place.
    pub b_len: usize,
}

/// Splits text into lines, each with its newline (the last may lack one).
pub fn lines(text: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, &c) in text.iter().enumerate() {
        if c == b'\n' {
            out.push(&text[start..=i]);
            start = i + 1;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// The hunks that turn `a` into `b`, in order.
pub fn diff<'t>(a: &[&'t [u8]], b: &[&'t [u8]]) -> Vec<Hunk> {
    // Interned: equal lines compare as equal numbers.
    let mut ids: HashMap<&'t [u8], u32> = HashMap::new();
    let mut intern = |l: &'t [u8]| -> u32 {
        let next = ids.len() as u32;
        *ids.entry(l).or_insert(next)
    };
    let x: Vec<u32> = a.iter().map(|l| intern(l)).collect();
    let y: Vec<u32> = b.iter().map(|l| intern(l)).collect();
    let mut pre = 0;
    while pre < x.len() && pre < y.len() && x[pre] == y[pre] {
        pre += 1;
    }
    let mut suf = 0;
    while suf < x.len() - pre && suf < y.len() - pre && x[x.len() - 1 - suf] == y[y.len() - 1 - suf]
    {
        suf += 1;
    }
    let (xm, ym) = (&x[pre..x.len() - suf], &y[pre..y.len() - suf]);
    let mut changed_a = vec![false; x.len()];
    let mut changed_b = vec![false; y.len()];
    match myers(xm, ym) {
        Some(path) => {
            for (i, j, step) in path {
                match step {
                    Step::Delete => changed_a[pre + i] = true,
                    Step::Insert => changed_b[pre + j] = true,
                }
            }
        }
        None => {
            changed_a[pre..x.len() - suf].fill(true);
            changed_b[pre..y.len() - suf].fill(true);
        }
    }
    slide_down(&x, &mut changed_a);
    slide_down(&y, &mut changed_b);
    hunks(&changed_a, &changed_b)
}

#[derive(Debug, Clone, Copy)]
enum Step {
    Delete,
    Insert,
}

/// The edits of a shortest edit script (deletions at `a` index, insertions at `b` index),
/// or none past [`MAX_EDITS`].
fn myers(a: &[u32], b: &[u32]) -> Option<Vec<(usize, usize, Step)>> {
    let (n, m) = (a.len() as isize, b.len() as isize);
    if n == 0 && m == 0 {
        return Some(Vec::new());
    }
    let max = (n + m) as usize;
    let off = max as isize;
    let mut v = vec![0isize; 2 * max + 2];
    // The furthest x on each diagonal after each d: only diagonals -d..=d.
    let mut trace: Vec<Vec<isize>> = Vec::new();
    for d in 0..=max.min(MAX_EDITS) as isize {
        let mut row = Vec::with_capacity(2 * d as usize + 1);
        let mut k = -d;
        while k <= d {
            let down = k == -d || (k != d && v[(off + k - 1) as usize] < v[(off + k + 1) as usize]);
            let mut x = if down {
                v[(off + k + 1) as usize]
            } else {
                v[(off + k - 1) as usize] + 1
            };
            let mut y = x - k;
            while x < n && y < m && a[x as usize] == b[y as usize] {
                x += 1;
                y += 1;
            }
            v[(off + k) as usize] = x;
            row.push(x);
            if x >= n && y >= m {
                trace.push(row);
                return Some(backtrack(&trace, n, m));
            }
            k += 2;
        }
        trace.push(row);
    }
    None
}

/// Walks the trace back from the end: the edits, in order.
fn backtrack(trace: &[Vec<isize>], n: isize, m: isize) -> Vec<(usize, usize, Step)> {
    let at = |d: isize, k: isize| -> isize { trace[d as usize][((k + d) / 2) as usize] };
    let mut out = Vec::new();
    let (mut x, mut y) = (n, m);
    debug_assert!(x - y == n - m);
    for d in (1..trace.len() as isize).rev() {
        let k = x - y;
        let down = k == -d || (k != d && at(d - 1, k - 1) < at(d - 1, k + 1));
        let prev_k = if down { k + 1 } else { k - 1 };
        let prev_x = at(d - 1, prev_k);
        let prev_y = prev_x - prev_k;
        // The move from (prev_x, prev_y) was one insertion (down) or one deletion (right),
        // then a snake of equal lines to (x, y).
        if down {
            out.push((x as usize, prev_y as usize, Step::Insert));
        } else {
            out.push((prev_x as usize, y as usize, Step::Delete));
        }
        x = prev_x;
        y = prev_y;
    }
    out.reverse();
    out
}

/// Slides each group of changed lines down while the line after it equals its first line
/// (the same change, shown later), as xdiff does when nothing else decides.
fn slide_down(lines: &[u32], changed: &mut [bool]) {
    let n = lines.len();
    let mut i = 0;
    while i < n {
        if !changed[i] {
            i += 1;
            continue;
        }
        let mut start = i;
        let mut end = i;
        while end < n && changed[end] {
            end += 1;
        }
        // Slide while the line after the group equals its first line; merging with a
        // following group extends it.
        while end < n && lines[start] == lines[end] {
            changed[start] = false;
            changed[end] = true;
            start += 1;
            end += 1;
            while end < n && changed[end] {
                end += 1;
            }
        }
        i = end;
    }
}

/// Hunks from the changed lines of both sides (walked in step over the unchanged lines).
fn hunks(changed_a: &[bool], changed_b: &[bool]) -> Vec<Hunk> {
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    let (n, m) = (changed_a.len(), changed_b.len());
    while i < n || j < m {
        if (i < n && changed_a[i]) || (j < m && changed_b[j]) {
            let (a, b) = (i, j);
            while i < n && changed_a[i] {
                i += 1;
            }
            while j < m && changed_b[j] {
                j += 1;
            }
            out.push(Hunk {
                a,
                a_len: i - a,
                b,
                b_len: j - b,
            });
        } else {
            i += 1;
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(a: &[&[u8]], b: &[&[u8]], hunks: &[Hunk]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut i = 0;
        for h in hunks {
            out.extend(a[i..h.a].iter().map(|l| l.to_vec()));
            out.extend(b[h.b..h.b + h.b_len].iter().map(|l| l.to_vec()));
            i = h.a + h.a_len;
        }
        out.extend(a[i..].iter().map(|l| l.to_vec()));
        out
    }

    #[test]
    fn hunks_turn_one_side_into_the_other() {
        let cases: [(&[u8], &[u8]); 6] = [
            (b"a\nb\nc\n", b"a\nx\nc\n"),
            (b"", b"a\n"),
            (b"a\n", b""),
            (b"a\nb\nc\nd\n", b"b\nc\nd\ne\n"),
            (b"x\ny\nx\ny\n", b"y\nx\ny\nx\n"),
            (b"1\n2\n3\n4\n5\n6\n", b"1\n3\n2\n4\n6\n5\n"),
        ];
        for (a, b) in cases {
            let (la, lb) = (lines(a), lines(b));
            let h = diff(&la, &lb);
            let got: Vec<u8> = apply(&la, &lb, &h).concat();
            assert_eq!(got, b.to_vec(), "{:?} -> {:?}: {h:?}", a, b);
        }
    }

    #[test]
    fn an_inserted_repeat_is_shown_last() {
        // Inserting a second "x\n" after "x\n": the insertion slides down to line 2.
        let a = lines(b"x\ny\n");
        let b = lines(b"x\nx\ny\n");
        assert_eq!(
            diff(&a, &b),
            vec![Hunk {
                a: 1,
                a_len: 0,
                b: 1,
                b_len: 1
            }]
        );
    }

    #[test]
    fn a_huge_difference_is_one_hunk() {
        let a: Vec<Vec<u8>> = (0..3 * MAX_EDITS)
            .map(|i| format!("a{i}\n").into_bytes())
            .collect();
        let b: Vec<Vec<u8>> = (0..3 * MAX_EDITS)
            .map(|i| format!("b{i}\n").into_bytes())
            .collect();
        let la: Vec<&[u8]> = a.iter().map(Vec::as_slice).collect();
        let lb: Vec<&[u8]> = b.iter().map(Vec::as_slice).collect();
        let h = diff(&la, &lb);
        assert_eq!(h.len(), 1);
        assert_eq!(apply(&la, &lb, &h), b);
    }
}
