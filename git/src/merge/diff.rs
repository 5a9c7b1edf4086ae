//! Line diffs as git's xdiff makes them, so that a merge sees the hunks git sees. Two
//! algorithms: histogram ([`diff_histogram`], what git's merges use: merge-ort's default),
//! and Myers ([`diff`], git's default for `git diff`, without the indent heuristic, and the
//! histogram diff's fallback). Myers goes:
//!
//! 1. lines are classed (equal lines, equal numbers) and counted in each file;
//! 2. the common head and tail are trimmed;
//! 3. lines that have no match in the other file are set aside as changed, and so are
//!    lines with many matches amid such lines (`xdl_cleanup_records`);
//! 4. the rest is diffed by divide and conquer on the middle snake, with xdiff's cost
//!    bounds and heuristics (`xdl_recs_cmp`, `xdl_split`): time stays near linear on
//!    inputs that differ everywhere;
//! 5. groups of changes are slid as xdiff does (`xdl_change_compact`): as far down as they
//!    go, then back up to line up with a change in the other file if they can.
//!
//! The histogram diff (`xhistogram.c`) takes, in each region, the longest common run built
//! around the lines that occur least often, and recurses on both sides of it; a region
//! whose common lines all occur more than 64 times goes to Myers. Then step 5.

use std::collections::HashMap;

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

/// xdiff's `XDL_MAX_COST_MIN`, `XDL_HEUR_MIN_COST`, `XDL_SNAKE_CNT`, `XDL_K_HEUR`,
/// `XDL_MAX_EQLIMIT`, `XDL_SIMSCAN_WINDOW` and `XDL_KPDIS_RUN`.
const MAX_COST_MIN: isize = 256;
const HEUR_MIN_COST: isize = 256;
const SNAKE_CNT: isize = 20;
const K_HEUR: isize = 4;
const MAX_EQLIMIT: usize = 1024;
const SIMSCAN_WINDOW: usize = 100;
const KPDIS_RUN: usize = 4;

/// xdiff's square root by powers of two.
fn bogosqrt(mut n: usize) -> usize {
    let mut i = 1;
    while n > 0 {
        i <<= 1;
        n >>= 2;
    }
    i
}

/// Lines as numbers (equal lines, equal numbers), and how often each number occurs on
/// each side.
fn classes<'t>(a: &[&'t [u8]], b: &[&'t [u8]]) -> (Vec<u32>, Vec<u32>, Vec<[usize; 2]>) {
    let mut ids: HashMap<&'t [u8], u32> = HashMap::new();
    let mut counts: Vec<[usize; 2]> = Vec::new();
    let mut class = |l: &'t [u8], side: usize| -> u32 {
        let next = ids.len() as u32;
        let id = *ids.entry(l).or_insert(next);
        if id as usize == counts.len() {
            counts.push([0, 0]);
        }
        counts[id as usize][side] += 1;
        id
    };
    let x: Vec<u32> = a.iter().map(|l| class(l, 0)).collect();
    let y: Vec<u32> = b.iter().map(|l| class(l, 1)).collect();
    (x, y, counts)
}

/// The hunks that turn `a` into `b`, in order: Myers, as `git diff` (without the indent
/// heuristic).
pub fn diff<'t>(a: &[&'t [u8]], b: &[&'t [u8]]) -> Vec<Hunk> {
    let (x, y, counts) = classes(a, b);
    let mut cx = Changed::new(x.len());
    let mut cy = Changed::new(y.len());
    diff_classes(&x, &y, &counts, &mut cx, &mut cy);
    compact(&x, &mut cx, &mut cy);
    compact(&y, &mut cy, &mut cx);
    hunks(&cx, &cy)
}

/// The hunks that turn `a` into `b`, in order: the histogram diff, as git's merges make
/// it.
pub fn diff_histogram<'t>(a: &[&'t [u8]], b: &[&'t [u8]]) -> Vec<Hunk> {
    let (x, y, _) = classes(a, b);
    let mut cx = Changed::new(x.len());
    let mut cy = Changed::new(y.len());
    super::histogram::mark(&x, &y, &mut cx, &mut cy);
    compact(&x, &mut cx, &mut cy);
    compact(&y, &mut cy, &mut cx);
    hunks(&cx, &cy)
}

/// Myers over lines already classed (a histogram region falling back): marks the changed
/// lines of `x` and `y` into `cx` and `cy` from `x_at` and `y_at` on.
pub(super) fn myers_marks(
    x: &[u32],
    y: &[u32],
    (cx, x_at): (&mut Changed, usize),
    (cy, y_at): (&mut Changed, usize),
) {
    // Classes and counts of the region alone, as xdiff prepares the region anew.
    let mut local: HashMap<u32, u32> = HashMap::new();
    let mut counts: Vec<[usize; 2]> = Vec::new();
    let mut relabel = |c: u32, side: usize| -> u32 {
        let next = local.len() as u32;
        let id = *local.entry(c).or_insert(next);
        if id as usize == counts.len() {
            counts.push([0, 0]);
        }
        counts[id as usize][side] += 1;
        id
    };
    let lx: Vec<u32> = x.iter().map(|&c| relabel(c, 0)).collect();
    let ly: Vec<u32> = y.iter().map(|&c| relabel(c, 1)).collect();
    let mut mx = Changed::new(lx.len());
    let mut my = Changed::new(ly.len());
    diff_classes(&lx, &ly, &counts, &mut mx, &mut my);
    for i in 0..lx.len() {
        if mx.at(i as isize) {
            cx.set((x_at + i) as isize, true);
        }
    }
    for j in 0..ly.len() {
        if my.at(j as isize) {
            cy.set((y_at + j) as isize, true);
        }
    }
}

/// Which lines of a file changed, with a false sentinel before the first and after the
/// last (as xdiff's `rchg`).
pub(super) struct Changed(Vec<bool>);

impl Changed {
    pub(super) fn new(n: usize) -> Changed {
        Changed(vec![false; n + 2])
    }
    fn len(&self) -> usize {
        self.0.len() - 2
    }
    /// Line `i`; `-1` and `len` are the sentinels.
    pub(super) fn at(&self, i: isize) -> bool {
        self.0[(i + 1) as usize]
    }
    pub(super) fn set(&mut self, i: isize, v: bool) {
        self.0[(i + 1) as usize] = v;
    }
}

/// Marks the changed lines: trim, set aside, then divide and conquer.
fn diff_classes(x: &[u32], y: &[u32], counts: &[[usize; 2]], cx: &mut Changed, cy: &mut Changed) {
    let (n1, n2) = (x.len(), y.len());
    let lim = n1.min(n2);
    let mut start = 0;
    while start < lim && x[start] == y[start] {
        start += 1;
    }
    let mut tail = 0;
    while tail < lim - start && x[n1 - 1 - tail] == y[n2 - 1 - tail] {
        tail += 1;
    }
    let (e1, e2) = (n1 - tail, n2 - tail);
    // Lines with no match are changed; lines with many matches are set aside when they sit
    // among lines with none.
    let dis = |lines: &[u32], end: usize, other: usize, total: usize| -> Vec<u8> {
        let mlim = bogosqrt(total).min(MAX_EQLIMIT);
        let mut d = vec![0u8; lines.len()];
        for i in start..end {
            let nm = counts[lines[i] as usize][other];
            d[i] = if nm == 0 {
                0
            } else if nm >= mlim {
                2
            } else {
                1
            };
        }
        d
    };
    let dis1 = dis(x, e1, 1, n1);
    let dis2 = dis(y, e2, 0, n2);
    let keep = |lines: &[u32], d: &[u8], end: usize, c: &mut Changed| -> (Vec<usize>, Vec<u32>) {
        let (mut index, mut ha) = (Vec::new(), Vec::new());
        for i in start..end {
            if d[i] == 1 || (d[i] == 2 && !clean_mmatch(d, i, start, end - 1)) {
                index.push(i);
                ha.push(lines[i]);
            } else {
                c.set(i as isize, true);
            }
        }
        (index, ha)
    };
    let (index1, ha1) = keep(x, &dis1, e1, cx);
    let (index2, ha2) = keep(y, &dis2, e2, cy);
    let ndiags = ha1.len() + ha2.len() + 3;
    let env = Env {
        mxcost: (bogosqrt(ndiags) as isize).max(MAX_COST_MIN),
        koff: ha2.len() as isize + 1,
    };
    let mut kvdf = vec![0isize; ndiags];
    let mut kvdb = vec![0isize; ndiags];
    // Each box is independent of the others: a stack, not recursion.
    let mut boxes = vec![(
        0isize,
        ha1.len() as isize,
        0isize,
        ha2.len() as isize,
        false,
    )];
    while let Some((mut off1, mut lim1, mut off2, mut lim2, need_min)) = boxes.pop() {
        let (h1, h2) = (&ha1, &ha2);
        while off1 < lim1 && off2 < lim2 && h1[off1 as usize] == h2[off2 as usize] {
            off1 += 1;
            off2 += 1;
        }
        while off1 < lim1 && off2 < lim2 && h1[lim1 as usize - 1] == h2[lim2 as usize - 1] {
            lim1 -= 1;
            lim2 -= 1;
        }
        if off1 == lim1 {
            for k in off2..lim2 {
                cy.set(index2[k as usize] as isize, true);
            }
        } else if off2 == lim2 {
            for k in off1..lim1 {
                cx.set(index1[k as usize] as isize, true);
            }
        } else {
            let s = split(
                (h1, off1, lim1),
                (h2, off2, lim2),
                (&mut kvdf, &mut kvdb),
                need_min,
                &env,
            );
            boxes.push((off1, s.i1, off2, s.i2, s.min_lo));
            boxes.push((s.i1, lim1, s.i2, lim2, s.min_hi));
        }
    }
}

/// xdiff's `xdl_clean_mmatch`: whether multi-match line `i` sits among lines without a
/// match (then it is set aside). `s..=e` is the untrimmed range.
fn clean_mmatch(dis: &[u8], i: usize, s: usize, e: usize) -> bool {
    let s = s.max(i.saturating_sub(SIMSCAN_WINDOW));
    let e = e.min(i + SIMSCAN_WINDOW);
    let (mut rdis0, mut rpdis0) = (0usize, 1usize);
    let mut r = 1;
    while i >= s + r {
        match dis[i - r] {
            0 => rdis0 += 1,
            2 => rpdis0 += 1,
            _ => break,
        }
        r += 1;
    }
    if rdis0 == 0 {
        return false;
    }
    let (mut rdis1, mut rpdis1) = (0usize, 1usize);
    r = 1;
    while i + r <= e {
        match dis[i + r] {
            0 => rdis1 += 1,
            2 => rpdis1 += 1,
            _ => break,
        }
        r += 1;
    }
    if rdis1 == 0 {
        return false;
    }
    rdis1 += rdis0;
    rpdis1 += rpdis0;
    rpdis1 * KPDIS_RUN < rpdis1 + rdis1
}

struct Env {
    mxcost: isize,
    /// Where diagonal 0 is in the diagonal vectors.
    koff: isize,
}

struct Split {
    i1: isize,
    i2: isize,
    min_lo: bool,
    min_hi: bool,
}

/// xdiff's `xdl_split`: where to cut the box `off1..lim1` × `off2..lim2` (the middle
/// snake, or past the cost bound the furthest-reaching path).
fn split(
    (ha1, off1, lim1): (&[u32], isize, isize),
    (ha2, off2, lim2): (&[u32], isize, isize),
    (kvdf, kvdb): (&mut [isize], &mut [isize]),
    need_min: bool,
    env: &Env,
) -> Split {
    let k = |d: isize| (d + env.koff) as usize;
    let h1 = |i: isize| ha1[i as usize];
    let h2 = |i: isize| ha2[i as usize];
    let (dmin, dmax) = (off1 - lim2, lim1 - off2);
    let (fmid, bmid) = (off1 - off2, lim1 - lim2);
    let odd = (fmid - bmid) & 1 != 0;
    let (mut fmin, mut fmax, mut bmin, mut bmax) = (fmid, fmid, bmid, bmid);
    kvdf[k(fmid)] = off1;
    kvdb[k(bmid)] = lim1;
    let mut ec: isize = 1;
    loop {
        let mut got_snake = false;
        if fmin > dmin {
            fmin -= 1;
            kvdf[k(fmin - 1)] = -1;
        } else {
            fmin += 1;
        }
        if fmax < dmax {
            fmax += 1;
            kvdf[k(fmax + 1)] = -1;
        } else {
            fmax -= 1;
        }
        let mut d = fmax;
        while d >= fmin {
            let mut i1 = if kvdf[k(d - 1)] >= kvdf[k(d + 1)] {
                kvdf[k(d - 1)] + 1
            } else {
                kvdf[k(d + 1)]
            };
            let prev1 = i1;
            let mut i2 = i1 - d;
            while i1 < lim1 && i2 < lim2 && h1(i1) == h2(i2) {
                i1 += 1;
                i2 += 1;
            }
            if i1 - prev1 > SNAKE_CNT {
                got_snake = true;
            }
            kvdf[k(d)] = i1;
            if odd && bmin <= d && d <= bmax && kvdb[k(d)] <= i1 {
                return Split {
                    i1,
                    i2,
                    min_lo: true,
                    min_hi: true,
                };
            }
            d -= 2;
        }
        if bmin > dmin {
            bmin -= 1;
            kvdb[k(bmin - 1)] = isize::MAX;
        } else {
            bmin += 1;
        }
        if bmax < dmax {
            bmax += 1;
            kvdb[k(bmax + 1)] = isize::MAX;
        } else {
            bmax -= 1;
        }
        d = bmax;
        while d >= bmin {
            let mut i1 = if kvdb[k(d - 1)] < kvdb[k(d + 1)] {
                kvdb[k(d - 1)]
            } else {
                kvdb[k(d + 1)] - 1
            };
            let prev1 = i1;
            let mut i2 = i1 - d;
            while i1 > off1 && i2 > off2 && h1(i1 - 1) == h2(i2 - 1) {
                i1 -= 1;
                i2 -= 1;
            }
            if prev1 - i1 > SNAKE_CNT {
                got_snake = true;
            }
            kvdb[k(d)] = i1;
            if !odd && fmin <= d && d <= fmax && i1 <= kvdf[k(d)] {
                return Split {
                    i1,
                    i2,
                    min_lo: true,
                    min_hi: true,
                };
            }
            d -= 2;
        }
        if need_min {
            ec += 1;
            continue;
        }
        // Past the heuristic trigger, a good snake far along a diagonal is taken.
        if got_snake && ec > HEUR_MIN_COST {
            let mut best = 0;
            let mut found = None;
            let mut d = fmax;
            while d >= fmin {
                let dd = (d - fmid).abs();
                let i1 = kvdf[k(d)];
                let i2 = i1 - d;
                let v = (i1 - off1) + (i2 - off2) - dd;
                if v > K_HEUR * ec
                    && v > best
                    && off1 + SNAKE_CNT <= i1
                    && i1 < lim1
                    && off2 + SNAKE_CNT <= i2
                    && i2 < lim2
                {
                    let mut kk = 1;
                    while h1(i1 - kk) == h2(i2 - kk) {
                        if kk == SNAKE_CNT {
                            best = v;
                            found = Some((i1, i2));
                            break;
                        }
                        kk += 1;
                    }
                }
                d -= 2;
            }
            if let Some((i1, i2)) = found {
                return Split {
                    i1,
                    i2,
                    min_lo: true,
                    min_hi: false,
                };
            }
            let mut best = 0;
            let mut found = None;
            let mut d = bmax;
            while d >= bmin {
                let dd = (d - bmid).abs();
                let i1 = kvdb[k(d)];
                let i2 = i1 - d;
                let v = (lim1 - i1) + (lim2 - i2) - dd;
                if v > K_HEUR * ec
                    && v > best
                    && off1 < i1
                    && i1 <= lim1 - SNAKE_CNT
                    && off2 < i2
                    && i2 <= lim2 - SNAKE_CNT
                {
                    let mut kk = 0;
                    while h1(i1 + kk) == h2(i2 + kk) {
                        if kk == SNAKE_CNT - 1 {
                            best = v;
                            found = Some((i1, i2));
                            break;
                        }
                        kk += 1;
                    }
                }
                d -= 2;
            }
            if let Some((i1, i2)) = found {
                return Split {
                    i1,
                    i2,
                    min_lo: false,
                    min_hi: true,
                };
            }
        }
        // Enough: the furthest-reaching path, forward or backward.
        if ec >= env.mxcost {
            let (mut fbest, mut fbest1) = (-1isize, -1isize);
            let mut d = fmax;
            while d >= fmin {
                let mut i1 = kvdf[k(d)].min(lim1);
                let mut i2 = i1 - d;
                if lim2 < i2 {
                    i1 = lim2 + d;
                    i2 = lim2;
                }
                if fbest < i1 + i2 {
                    fbest = i1 + i2;
                    fbest1 = i1;
                }
                d -= 2;
            }
            let (mut bbest, mut bbest1) = (isize::MAX, isize::MAX);
            let mut d = bmax;
            while d >= bmin {
                let mut i1 = off1.max(kvdb[k(d)]);
                let mut i2 = i1 - d;
                if i2 < off2 {
                    i1 = off2 + d;
                    i2 = off2;
                }
                if i1 + i2 < bbest {
                    bbest = i1 + i2;
                    bbest1 = i1;
                }
                d -= 2;
            }
            return if (lim1 + lim2) - bbest < fbest - (off1 + off2) {
                Split {
                    i1: fbest1,
                    i2: fbest - fbest1,
                    min_lo: true,
                    min_hi: false,
                }
            } else {
                Split {
                    i1: bbest1,
                    i2: bbest - bbest1,
                    min_lo: false,
                    min_hi: true,
                }
            };
        }
        ec += 1;
    }
}

/// A group of changed lines `start..end` (empty between two unchanged lines).
#[derive(Clone, Copy)]
struct Group {
    start: isize,
    end: isize,
}

impl Group {
    fn first(c: &Changed) -> Group {
        let mut g = Group { start: 0, end: 0 };
        while c.at(g.end) {
            g.end += 1;
        }
        g
    }

    fn next(&mut self, c: &Changed) -> bool {
        if self.end == c.len() as isize {
            return false;
        }
        self.start = self.end + 1;
        self.end = self.start;
        while c.at(self.end) {
            self.end += 1;
        }
        true
    }

    fn previous(&mut self, c: &Changed) -> bool {
        if self.start == 0 {
            return false;
        }
        self.end = self.start - 1;
        self.start = self.end;
        while c.at(self.start - 1) {
            self.start -= 1;
        }
        true
    }

    fn slide_down(&mut self, lines: &[u32], c: &mut Changed) -> bool {
        if self.end < c.len() as isize && lines[self.start as usize] == lines[self.end as usize] {
            c.set(self.start, false);
            self.start += 1;
            c.set(self.end, true);
            self.end += 1;
            while c.at(self.end) {
                self.end += 1;
            }
            true
        } else {
            false
        }
    }

    fn slide_up(&mut self, lines: &[u32], c: &mut Changed) -> bool {
        if self.start > 0 && lines[self.start as usize - 1] == lines[self.end as usize - 1] {
            self.start -= 1;
            c.set(self.start, true);
            self.end -= 1;
            c.set(self.end, false);
            while c.at(self.start - 1) {
                self.start -= 1;
            }
            true
        } else {
            false
        }
    }
}

/// xdiff's `xdl_change_compact` (no indent heuristic): each group of changes in `c` slides
/// up, then down as far as it goes (merging with groups it meets), then back up to the
/// last place where it lines up with a change in the other file, if there is one.
fn compact(lines: &[u32], c: &mut Changed, other: &mut Changed) {
    let mut g = Group::first(c);
    let mut go = Group::first(other);
    loop {
        if g.end != g.start {
            let mut earliest_end;
            let mut end_matching_other;
            loop {
                let size = g.end - g.start;
                end_matching_other = -1;
                while g.slide_up(lines, c) {
                    if !go.previous(other) {
                        return;
                    }
                }
                earliest_end = g.end;
                if go.end > go.start {
                    end_matching_other = g.end;
                }
                while g.slide_down(lines, c) {
                    if !go.next(other) {
                        return;
                    }
                    if go.end > go.start {
                        end_matching_other = g.end;
                    }
                }
                if size == g.end - g.start {
                    break;
                }
            }
            if g.end != earliest_end && end_matching_other != -1 {
                while go.end == go.start {
                    if !g.slide_up(lines, c) || !go.previous(other) {
                        return;
                    }
                }
            }
        }
        if !g.next(c) {
            break;
        }
        if !go.next(other) {
            return;
        }
    }
}

/// Hunks from the changed lines of both sides (walked in step over the unchanged lines).
fn hunks(ca: &Changed, cb: &Changed) -> Vec<Hunk> {
    let mut out = Vec::new();
    let (n, m) = (ca.len(), cb.len());
    let (mut i, mut j) = (0usize, 0usize);
    while i < n || j < m {
        if (i < n && ca.at(i as isize)) || (j < m && cb.at(j as isize)) {
            let (a, b) = (i, j);
            while i < n && ca.at(i as isize) {
                i += 1;
            }
            while j < m && cb.at(j as isize) {
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
        let a: Vec<Vec<u8>> = (0..20_000)
            .map(|i| format!("a{i}\n").into_bytes())
            .collect();
        let b: Vec<Vec<u8>> = (0..20_000)
            .map(|i| format!("b{i}\n").into_bytes())
            .collect();
        let la: Vec<&[u8]> = a.iter().map(Vec::as_slice).collect();
        let lb: Vec<&[u8]> = b.iter().map(Vec::as_slice).collect();
        let h = diff(&la, &lb);
        assert_eq!(h.len(), 1);
        assert_eq!(apply(&la, &lb, &h), b);
    }
}
