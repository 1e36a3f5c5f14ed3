//! Comparing two behavioural trees, what happened and not when.
//!
//! Siblings (the roots, or the processes one process created) are
//! multisets. First every subtree that is on both sides, the same, is
//! paired off by its canonical id; what is left is paired by `proc` line
//! (the command it ran as), the pairs that share the most lines first, and
//! compared line by line; what finds no partner was added or removed, whole
//! (with everything it started). In a pair, the calls are a sequence
//! (compared as `diff` compares lines: a shortest edit script, Myers'
//! algorithm, with runs of removed and added lines reported as changes),
//! then its children as above, then its exit.
//!
//! Bounds: pairing by shared lines scores every candidate pair only while a
//! group has at most [`MAX_SCORED`] of them (else it pairs in canonical
//! order); the edit script stops looking after [`MAX_EDITS`] edits and
//! reports the rest of that process's calls as one run of changes.

use std::collections::HashMap;
use std::io;
use std::ops::Range;

use serde::Serialize;

use super::model::{CanonId, Forest, LineId, Lines};

/// Candidate pairs scored in one group of same-named processes.
pub const MAX_SCORED: usize = 4096;

/// The longest edit script looked for between two processes' calls.
pub const MAX_EDITS: usize = 1000;

/// Which side a whole subtree is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Baseline,
    New,
}

/// Which lines of a process a run of changes is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Calls,
    Exit,
}

/// Where the differences go: a text or JSON report.
pub trait Sink {
    /// The comparison goes into a process that is on both sides: its
    /// `proc` line and, when it is the same on both sides, its first call
    /// (which tells same-named siblings apart).
    fn enter(&mut self, label: LineId, first_call: Option<LineId>);
    fn leave(&mut self);
    /// A process (with its subtree) only on one side.
    fn subtree(&mut self, side: Side, forest: &Forest, id: usize) -> io::Result<()>;
    /// Lines of the current process: `removed` in the baseline became `added`.
    fn lines(&mut self, part: Part, removed: &[LineId], added: &[LineId]) -> io::Result<()>;
}

/// How much differs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub processes_added: u64,
    pub processes_removed: u64,
    /// Processes on both sides whose own lines differ.
    pub processes_changed: u64,
    pub lines_added: u64,
    pub lines_removed: u64,
    pub lines_changed: u64,
}

impl Counts {
    pub fn same(&self) -> bool {
        *self == Counts::default()
    }
}

/// Compares tree `a` (the baseline) with tree `b`; reports to `sink`.
pub fn compare(a: &Forest, b: &Forest, lines: &Lines, sink: &mut dyn Sink) -> io::Result<Counts> {
    let mut comparer = Comparer {
        a,
        b,
        lines,
        sink,
        counts: Counts::default(),
    };
    comparer.siblings(&a.roots, &b.roots)?;
    Ok(comparer.counts)
}

/// One difference among siblings.
enum Entry {
    Removed(usize),
    Changed(usize, usize),
    Added(usize),
}

struct Comparer<'a> {
    a: &'a Forest,
    b: &'a Forest,
    lines: &'a Lines,
    sink: &'a mut dyn Sink,
    counts: Counts,
}

impl Comparer<'_> {
    fn siblings(&mut self, a_kids: &[usize], b_kids: &[usize]) -> io::Result<()> {
        let (a_rest, b_rest) = self.unmatched(a_kids, b_kids);
        if a_rest.is_empty() && b_rest.is_empty() {
            return Ok(());
        }
        let mut groups: HashMap<LineId, (Vec<usize>, Vec<usize>)> = HashMap::new();
        for &a in &a_rest {
            groups.entry(self.a.proc(a).label).or_default().0.push(a);
        }
        for &b in &b_rest {
            groups.entry(self.b.proc(b).label).or_default().1.push(b);
        }
        let mut entries = Vec::new();
        for (as_, bs) in groups.into_values() {
            self.pair(&as_, &bs, &mut entries);
        }
        // Entries in the canonical order of the trees, whatever the map's.
        entries.sort_by(|x, y| {
            let (fx, ix, rx) = self.representative(x);
            let (fy, iy, ry) = self.representative(y);
            super::model::compare(fx, ix, fy, iy, self.lines).then(rx.cmp(&ry))
        });
        for entry in entries {
            match entry {
                Entry::Removed(a) => {
                    self.counts.processes_removed += self.a.size(a);
                    self.sink.subtree(Side::Baseline, self.a, a)?;
                }
                Entry::Added(b) => {
                    self.counts.processes_added += self.b.size(b);
                    self.sink.subtree(Side::New, self.b, b)?;
                }
                Entry::Changed(a, b) => self.pair_of(a, b)?,
            }
        }
        Ok(())
    }

    fn representative(&self, entry: &Entry) -> (&Forest, usize, u8) {
        match *entry {
            Entry::Removed(a) => (self.a, a, 0),
            Entry::Changed(a, _) => (self.a, a, 1),
            Entry::Added(b) => (self.b, b, 2),
        }
    }

    /// The siblings of each side that have no identical subtree on the other.
    fn unmatched(&self, a_kids: &[usize], b_kids: &[usize]) -> (Vec<usize>, Vec<usize>) {
        let mut budget: HashMap<CanonId, usize> = HashMap::new();
        for &a in a_kids {
            *budget.entry(self.a.proc(a).canon).or_default() += 1;
        }
        let mut matched: HashMap<CanonId, usize> = HashMap::new();
        let mut b_rest = Vec::new();
        for &b in b_kids {
            let canon = self.b.proc(b).canon;
            match budget.get_mut(&canon) {
                Some(left) if *left > 0 => {
                    *left -= 1;
                    *matched.entry(canon).or_default() += 1;
                }
                _ => b_rest.push(b),
            }
        }
        let mut a_rest = Vec::new();
        for &a in a_kids {
            match matched.get_mut(&self.a.proc(a).canon) {
                Some(left) if *left > 0 => *left -= 1,
                _ => a_rest.push(a),
            }
        }
        (a_rest, b_rest)
    }

    /// Pairs same-named processes of the two sides, most shared lines first.
    fn pair(&self, as_: &[usize], bs: &[usize], entries: &mut Vec<Entry>) {
        let mut a_free = vec![true; as_.len()];
        let mut b_free = vec![true; bs.len()];
        if as_.len().saturating_mul(bs.len()) <= MAX_SCORED {
            let mut scored = Vec::with_capacity(as_.len() * bs.len());
            for (i, &a) in as_.iter().enumerate() {
                let profile = Profile::of(self.a, a);
                for (j, &b) in bs.iter().enumerate() {
                    scored.push((profile.shared(self.b, b), i, j));
                }
            }
            // Highest score first; ties in canonical order.
            scored.sort_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
            for (_, i, j) in scored {
                if a_free[i] && b_free[j] {
                    a_free[i] = false;
                    b_free[j] = false;
                    entries.push(Entry::Changed(as_[i], bs[j]));
                }
            }
        } else {
            for (i, j) in (0..as_.len()).zip(0..bs.len()) {
                a_free[i] = false;
                b_free[j] = false;
                entries.push(Entry::Changed(as_[i], bs[j]));
            }
        }
        entries.extend(
            as_.iter()
                .zip(&a_free)
                .filter(|(_, &f)| f)
                .map(|(&a, _)| Entry::Removed(a)),
        );
        entries.extend(
            bs.iter()
                .zip(&b_free)
                .filter(|(_, &f)| f)
                .map(|(&b, _)| Entry::Added(b)),
        );
    }

    /// A process on both sides (same `proc` line): its calls, children, exit.
    fn pair_of(&mut self, a: usize, b: usize) -> io::Result<()> {
        let (pa, pb) = (self.a.proc(a), self.b.proc(b));
        let runs = hunks(&pa.calls, &pb.calls);
        let first_kept = runs.first().is_none_or(|(ra, _)| ra.start > 0);
        let first_call = pa.calls.first().copied().filter(|_| first_kept);
        self.sink.enter(pa.label, first_call);
        let before = self.counts;
        for (ra, rb) in runs {
            self.lines(Part::Calls, &pa.calls[ra], &pb.calls[rb])?;
        }
        let own = self.counts != before;
        self.siblings(&pa.children, &pb.children)?;
        let exit_changed = pa.exit != pb.exit;
        if exit_changed {
            let (ea, eb) = (pa.exit.as_slice(), pb.exit.as_slice());
            self.lines(Part::Exit, ea, eb)?;
        }
        if own || exit_changed {
            self.counts.processes_changed += 1;
        }
        self.sink.leave();
        Ok(())
    }

    fn lines(&mut self, part: Part, removed: &[LineId], added: &[LineId]) -> io::Result<()> {
        let changed = removed.len().min(added.len()) as u64;
        self.counts.lines_changed += changed;
        self.counts.lines_removed += removed.len() as u64 - changed;
        self.counts.lines_added += added.len() as u64 - changed;
        self.sink.lines(part, removed, added)
    }
}

/// A process's lines and children, counted, to score candidate partners.
struct Profile {
    calls: HashMap<LineId, u32>,
    children: HashMap<CanonId, u32>,
    exit: Option<LineId>,
}

impl Profile {
    fn of(forest: &Forest, id: usize) -> Profile {
        let proc = forest.proc(id);
        let mut calls = HashMap::new();
        for &c in &proc.calls {
            *calls.entry(c).or_default() += 1;
        }
        let mut children = HashMap::new();
        for &c in &proc.children {
            *children.entry(forest.proc(c).canon).or_default() += 1;
        }
        Profile {
            calls,
            children,
            exit: proc.exit,
        }
    }

    /// Lines and children the two share (as multisets), and the exit.
    fn shared(&self, forest: &Forest, id: usize) -> u64 {
        let proc = forest.proc(id);
        let mut calls: HashMap<LineId, u32> = HashMap::new();
        let mut score = 0;
        for &c in &proc.calls {
            let used = calls.entry(c).or_default();
            if *used < self.calls.get(&c).copied().unwrap_or(0) {
                *used += 1;
                score += 1;
            }
        }
        let mut children: HashMap<CanonId, u32> = HashMap::new();
        for &c in &proc.children {
            let canon = forest.proc(c).canon;
            let used = children.entry(canon).or_default();
            if *used < self.children.get(&canon).copied().unwrap_or(0) {
                *used += 1;
                score += 1;
            }
        }
        score + u64::from(self.exit.is_some() && self.exit == proc.exit)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Edit {
    Keep,
    Delete,
    Insert,
}

/// The runs where `a` and `b` differ, as (range of `a`, range of `b`), in order.
pub fn hunks<T: Eq>(a: &[T], b: &[T]) -> Vec<(Range<usize>, Range<usize>)> {
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let (a_tail, b_tail) = (&a[prefix..], &b[prefix..]);
    let suffix = a_tail
        .iter()
        .rev()
        .zip(b_tail.iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let middle_a = &a_tail[..a_tail.len() - suffix];
    let middle_b = &b_tail[..b_tail.len() - suffix];
    let whole = || {
        vec![(
            prefix..prefix + middle_a.len(),
            prefix..prefix + middle_b.len(),
        )]
    };
    if middle_a.is_empty() && middle_b.is_empty() {
        return Vec::new();
    }
    if middle_a.is_empty() || middle_b.is_empty() {
        return whole();
    }
    let Some(edits) = myers(middle_a, middle_b, MAX_EDITS) else {
        return whole();
    };
    let deletes = edits.iter().filter(|e| **e != Edit::Insert).count();
    let inserts = edits.iter().filter(|e| **e != Edit::Delete).count();
    if deletes != middle_a.len() || inserts != middle_b.len() {
        return whole(); // never expected; a wrong script must not misreport
    }
    let mut found = Vec::new();
    let (mut i, mut j) = (prefix, prefix);
    let mut open: Option<(usize, usize)> = None;
    for edit in edits {
        match edit {
            Edit::Keep => {
                if let Some((si, sj)) = open.take() {
                    found.push((si..i, sj..j));
                }
                i += 1;
                j += 1;
            }
            Edit::Delete => {
                open.get_or_insert((i, j));
                i += 1;
            }
            Edit::Insert => {
                open.get_or_insert((i, j));
                j += 1;
            }
        }
    }
    if let Some((si, sj)) = open {
        found.push((si..i, sj..j));
    }
    found
}

/// Myers' shortest edit script from `a` to `b`, if it has at most `max_edits` edits.
/// Memory: the furthest-reaching points of each step, about `max_edits`² words at most.
fn myers<T: Eq>(a: &[T], b: &[T], max_edits: usize) -> Option<Vec<Edit>> {
    let (n, m) = (a.len() as isize, b.len() as isize);
    let limit = (a.len() + b.len()).min(max_edits) as isize;
    let offset = limit + 1;
    let mut v = vec![0isize; (2 * limit + 3) as usize];
    let mut trace: Vec<Vec<isize>> = Vec::new();
    let at = |v: &[isize], k: isize| v[(offset + k) as usize];
    for d in 0..=limit {
        trace.push(v[(offset - d) as usize..=(offset + d) as usize].to_vec());
        for k in (-d..=d).step_by(2) {
            let down = k == -d || (k != d && at(&v, k - 1) < at(&v, k + 1));
            let mut x = if down {
                at(&v, k + 1)
            } else {
                at(&v, k - 1) + 1
            };
            let mut y = x - k;
            while x < n && y < m && a[x as usize] == b[y as usize] {
                x += 1;
                y += 1;
            }
            v[(offset + k) as usize] = x;
            if x >= n && y >= m {
                return Some(backtrack(&trace, n, m));
            }
        }
    }
    None
}

/// The edit script from the saved steps (step `d` saved the points of
/// step `d - 1` for diagonals `-d..=d`).
fn backtrack(trace: &[Vec<isize>], n: isize, m: isize) -> Vec<Edit> {
    let mut edits = Vec::new();
    let (mut x, mut y) = (n, m);
    for (d, band) in trace.iter().enumerate().rev() {
        let d = d as isize;
        if d == 0 {
            while x > 0 && y > 0 {
                edits.push(Edit::Keep);
                x -= 1;
                y -= 1;
            }
            break;
        }
        let at = |k: isize| band.get((k + d) as usize).copied().unwrap_or(-1);
        let k = x - y;
        let down = k == -d || (k != d && at(k - 1) < at(k + 1));
        let prev_k = if down { k + 1 } else { k - 1 };
        let prev_x = at(prev_k);
        let prev_y = prev_x - prev_k;
        while x > prev_x && y > prev_y {
            edits.push(Edit::Keep);
            x -= 1;
            y -= 1;
        }
        edits.push(if down { Edit::Insert } else { Edit::Delete });
        x = prev_x;
        y = prev_y;
    }
    edits.reverse();
    edits
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Applies the hunks to `a`, taking `b`'s lines: must give `b`.
    fn apply(a: &[u8], b: &[u8], hunks: &[(Range<usize>, Range<usize>)]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut at = 0;
        for (ra, rb) in hunks {
            out.extend_from_slice(&a[at..ra.start]);
            out.extend_from_slice(&b[rb.clone()]);
            at = ra.end;
        }
        out.extend_from_slice(&a[at..]);
        out
    }

    #[test]
    fn hunks_of_simple_edits() {
        assert!(hunks(b"abc", b"abc").is_empty());
        assert_eq!(hunks(b"abc", b"abxc"), vec![(2..2, 2..3)]);
        assert_eq!(hunks(b"abc", b"ac"), vec![(1..2, 1..1)]);
        assert_eq!(
            hunks(b"abcdef", b"abXdeY"),
            vec![(2..3, 2..3), (5..6, 5..6)]
        );
        assert_eq!(hunks(b"", b"xy"), vec![(0..0, 0..2)]);
    }

    proptest::proptest! {
        #[test]
        fn hunks_turn_a_into_b_minimally_enough(
            a in proptest::collection::vec(0u8..4, 0..40),
            b in proptest::collection::vec(0u8..4, 0..40),
        ) {
            let found = hunks(&a, &b);
            proptest::prop_assert_eq!(apply(&a, &b, &found), b.clone());
            // Kept lines are a common subsequence at least as long as any
            // greedy one would be: check against the LCS length.
            let changed: usize = found.iter().map(|(ra, _)| ra.len()).sum();
            proptest::prop_assert_eq!(a.len() - changed, lcs(&a, &b));
        }
    }

    fn lcs(a: &[u8], b: &[u8]) -> usize {
        let mut table = vec![vec![0usize; b.len() + 1]; a.len() + 1];
        for i in 0..a.len() {
            for j in 0..b.len() {
                table[i + 1][j + 1] = if a[i] == b[j] {
                    table[i][j] + 1
                } else {
                    table[i][j + 1].max(table[i + 1][j])
                };
            }
        }
        table[a.len()][b.len()]
    }

    #[test]
    fn past_the_edit_limit_the_middle_is_one_run() {
        let a: Vec<u32> = (0..5000).collect();
        let b: Vec<u32> = (0..5000).map(|x| x + 100_000).collect();
        assert_eq!(hunks(&a, &b), vec![(0..5000, 0..5000)]);
        let mut c = a.clone();
        c.insert(10, 7);
        c.remove(4000);
        assert_eq!(
            hunks(&a, &c),
            vec![(10..10, 10..11), (3999..4000, 4000..4000)]
        );
    }
}
