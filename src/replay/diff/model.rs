//! The behavioural tree that `--diff` compares and `--expect-file` writes:
//! processes, each a `proc NAME` line, the lines of its calls in the order it
//! made them, the processes it created (a multiset: kept in a canonical
//! order, so that the order parallel children ran in does not count) and its
//! `exit` line.
//!
//! Lines are interned ([`Lines`]), and every subtree gets a canonical id
//! ([`Canon`]) from its content: two subtrees, of one tree or of two, have
//! the same id exactly when they are the same, which makes "is this child
//! also on the other side" a hash lookup. Trees come from [`Draft`]s (made
//! from a capture or read from an expectation file) through
//! [`Session::finish`], which applies `--ignore` and `--events`, leaves out
//! processes with nothing to compare, and cuts processes deeper than
//! [`MAX_DEPTH`] (counted, never silently). Memory: one entry per process and
//! per distinct line and subtree.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::rc::Rc;

use regex::Regex;

use super::normalize::Normalizer;
use crate::event::{EventClass, EventClasses, Syscall};

/// How deep a process may sit under its root and still be compared (the
/// JSON expectation nests two levels per process and JSON readers stop
/// at 128; no real process tree is this deep).
pub const MAX_DEPTH: usize = 60;

/// An interned line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LineId(u32);

/// Every distinct line of the trees of one comparison, stored once.
#[derive(Debug, Default)]
pub struct Lines {
    ids: HashMap<Rc<str>, LineId>,
    text: Vec<Rc<str>>,
}

impl Lines {
    pub fn intern(&mut self, line: &str) -> LineId {
        if let Some(&id) = self.ids.get(line) {
            return id;
        }
        let id = LineId(self.text.len() as u32);
        let shared: Rc<str> = Rc::from(line);
        self.text.push(Rc::clone(&shared));
        self.ids.insert(shared, id);
        id
    }

    pub fn text(&self, id: LineId) -> &str {
        self.text.get(id.0 as usize).map_or("", |t| t)
    }
}

/// What kind of line: a process, a call (by its class), or an exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    Proc,
    Call(EventClass),
    Exit,
}

impl LineKind {
    /// The kind of a line, from its first word (`proc`, `exit`, `exec`, or
    /// a mount-family call's name before its `(`); `None` for anything else.
    pub fn of(line: &str) -> Option<LineKind> {
        let word_end = line
            .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
            .unwrap_or(line.len());
        match &line[..word_end] {
            "proc" => Some(LineKind::Proc),
            "exit" => Some(LineKind::Exit),
            "exec" => Some(LineKind::Call(EventClass::Exec)),
            word if is_mount_call(word) && line[word_end..].starts_with('(') => {
                Some(LineKind::Call(EventClass::Mount))
            }
            _ => None,
        }
    }
}

/// Whether `word` is a mount-family call's name, as a call line begins.
fn is_mount_call(word: &str) -> bool {
    Syscall::ALL
        .iter()
        .any(|s| s.class() == EventClass::Mount && s.event_name() == word)
}

/// A line's keyword (its first word and the space or `(` after it) and the rest.
fn split_keyword(line: &str) -> (&str, &str) {
    let word = line
        .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
        .unwrap_or(line.len());
    let end = match line.as_bytes().get(word) {
        Some(b' ' | b'(') => word + 1,
        _ => word,
    };
    line.split_at(end)
}

/// A process as a builder or reader made it, before [`Session::finish`].
#[derive(Debug, Clone)]
pub struct Draft {
    /// The `proc NAME` line, normalised.
    pub label: LineId,
    /// Call lines (exec and mount family), normalised, in order.
    pub calls: Vec<LineId>,
    pub exit: Option<LineId>,
    /// Indexes of the drafts it created.
    pub children: Vec<usize>,
    /// Whether it was created by another draft (else it is a root).
    pub has_parent: bool,
}

impl Draft {
    pub fn new(label: LineId) -> Draft {
        Draft {
            label,
            calls: Vec::new(),
            exit: None,
            children: Vec::new(),
            has_parent: false,
        }
    }
}

/// A subtree's canonical id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CanonId(u32);

/// What identifies a subtree: its lines and its children's ids (sorted by
/// id: a multiset).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Signature {
    label: LineId,
    calls: Box<[LineId]>,
    exit: Option<LineId>,
    children: Box<[CanonId]>,
}

/// The canonical ids of every subtree seen in one comparison.
#[derive(Debug, Default)]
pub struct Canon {
    ids: HashMap<Signature, CanonId>,
}

impl Canon {
    fn id(&mut self, signature: Signature) -> CanonId {
        let next = CanonId(self.ids.len() as u32);
        *self.ids.entry(signature).or_insert(next)
    }
}

/// A process of a finished tree.
#[derive(Debug, Clone)]
pub struct Proc {
    pub label: LineId,
    pub calls: Vec<LineId>,
    pub exit: Option<LineId>,
    /// In canonical order.
    pub children: Vec<usize>,
    pub canon: CanonId,
}

/// A finished tree (a forest: a capture can have several roots).
#[derive(Debug, Default)]
pub struct Forest {
    pub procs: Vec<Proc>,
    /// In canonical order.
    pub roots: Vec<usize>,
    /// Processes left out for being deeper than [`MAX_DEPTH`].
    pub too_deep: u64,
}

impl Forest {
    pub fn proc(&self, id: usize) -> &Proc {
        &self.procs[id]
    }

    /// How many processes and call lines the tree has.
    pub fn totals(&self) -> (u64, u64) {
        let calls = self.procs.iter().map(|p| p.calls.len() as u64).sum();
        (self.procs.len() as u64, calls)
    }

    /// How many processes a subtree has.
    pub fn size(&self, root: usize) -> u64 {
        let mut count = 0;
        let mut stack = vec![root];
        while let Some(id) = stack.pop() {
            count += 1;
            stack.extend(self.procs[id].children.iter().copied());
        }
        count
    }
}

/// What is compared, beyond normalisation.
#[derive(Debug, Clone)]
pub struct Rules {
    pub normalizer: Normalizer,
    /// `--ignore`: a process whose `proc` or `exec` line matches is left
    /// out with its subtree; a matching mount-family line alone.
    pub ignore: Vec<Regex>,
    /// `--events`: exec lines, mount-family lines, exit lines (`proc`).
    pub classes: EventClasses,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            normalizer: Normalizer {
                builtin: true,
                rewrites: Vec::new(),
            },
            ignore: Vec::new(),
            classes: EventClasses::ALL,
        }
    }
}

/// One comparison's shared state: the rules, the lines, the canonical ids.
#[derive(Debug, Default)]
pub struct Session {
    pub rules: Rules,
    pub lines: Lines,
    canon: Canon,
    /// `--ignore` verdicts by line, computed once per distinct line.
    ignored: HashMap<LineId, bool>,
}

impl Session {
    pub fn new(rules: Rules) -> Session {
        Session {
            rules,
            ..Session::default()
        }
    }

    /// Normalises and interns a line. The rules see the line after its
    /// keyword, so that none can change what kind of line it is; a line
    /// break a rule put in is escaped, so that a line stays one line.
    pub fn line(&mut self, raw: &str) -> LineId {
        let (keyword, rest) = split_keyword(raw);
        match self.rules.normalizer.apply(rest) {
            Cow::Borrowed(_) => self.lines.intern(raw),
            Cow::Owned(rest) => {
                let mut line = String::with_capacity(keyword.len() + rest.len());
                line.push_str(keyword);
                line.push_str(&rest);
                if line.contains(['\n', '\r']) {
                    line = line.replace('\n', "\\n").replace('\r', "\\r");
                }
                self.lines.intern(&line)
            }
        }
    }

    fn is_ignored(&mut self, line: LineId) -> bool {
        if self.rules.ignore.is_empty() {
            return false;
        }
        if let Some(&verdict) = self.ignored.get(&line) {
            return verdict;
        }
        let text = self.lines.text(line);
        let verdict = self.rules.ignore.iter().any(|r| r.is_match(text));
        self.ignored.insert(line, verdict);
        verdict
    }

    /// Whether a call line is compared (its class is shown, it is not ignored).
    fn keeps_call(&mut self, line: LineId) -> bool {
        let class = match LineKind::of(self.lines.text(line)) {
            Some(LineKind::Call(class)) => class,
            _ => EventClass::Exec,
        };
        self.rules.classes.contains(class) && !self.is_ignored(line)
    }

    /// Whether `--ignore` leaves a process out: its label or an exec matches.
    fn drops_process(&mut self, draft: &Draft) -> bool {
        if self.rules.ignore.is_empty() {
            return false;
        }
        self.is_ignored(draft.label)
            || draft.calls.iter().any(|&line| {
                matches!(
                    LineKind::of(self.lines.text(line)),
                    Some(LineKind::Call(EventClass::Exec))
                ) && self.is_ignored(line)
            })
    }

    /// Turns drafts into a tree: roots are the drafts no other created;
    /// each process keeps the lines the rules compare; a process with no
    /// line and no child left is left out; children are put in canonical
    /// order. A cycle of drafts (only lying records make one) has no root
    /// and is left out.
    pub fn finish(&mut self, drafts: &[Draft]) -> Forest {
        let mut forest = Forest::default();
        // Iterative post-order walk: (draft, depth, children done).
        let mut stack: Vec<(usize, usize, bool)> = drafts
            .iter()
            .enumerate()
            .rev()
            .filter(|(_, d)| !d.has_parent)
            .map(|(i, _)| (i, 0, false))
            .collect();
        let mut made: Vec<Option<usize>> = vec![None; drafts.len()];
        let mut visited = vec![false; drafts.len()];
        let mut roots = Vec::new();
        while let Some((index, depth, done)) = stack.pop() {
            let draft = &drafts[index];
            if !done {
                if std::mem::replace(&mut visited[index], true) || self.drops_process(draft) {
                    continue;
                }
                if depth >= MAX_DEPTH {
                    forest.too_deep += subtree_size(drafts, index);
                    continue;
                }
                stack.push((index, depth, true));
                for &child in draft.children.iter().rev() {
                    if child < drafts.len() {
                        stack.push((child, depth + 1, false));
                    }
                }
                continue;
            }
            let children: Vec<usize> = draft
                .children
                .iter()
                .filter_map(|&c| made.get(c).copied().flatten())
                .collect();
            if let Some(id) = self.make(&mut forest, draft, children) {
                made[index] = Some(id);
                if depth == 0 {
                    roots.push(id);
                }
            }
        }
        sort_canonical(&forest, &self.lines, &mut roots);
        forest.roots = roots;
        forest
    }

    /// One process of the tree, its children made already; `None` when
    /// nothing is left to compare in it.
    fn make(
        &mut self,
        forest: &mut Forest,
        draft: &Draft,
        mut children: Vec<usize>,
    ) -> Option<usize> {
        let calls: Vec<LineId> = draft
            .calls
            .iter()
            .copied()
            .filter(|&line| self.keeps_call(line))
            .collect();
        let exit = draft.exit.filter(|_| self.rules.classes.proc);
        if calls.is_empty() && exit.is_none() && children.is_empty() {
            return None;
        }
        sort_canonical(forest, &self.lines, &mut children);
        let mut child_ids: Vec<CanonId> = children.iter().map(|&c| forest.procs[c].canon).collect();
        child_ids.sort_unstable_by_key(|c| c.0);
        let canon = self.canon.id(Signature {
            label: draft.label,
            calls: calls.clone().into_boxed_slice(),
            exit,
            children: child_ids.into_boxed_slice(),
        });
        forest.procs.push(Proc {
            label: draft.label,
            calls,
            exit,
            children,
            canon,
        });
        Some(forest.procs.len() - 1)
    }
}

/// How many drafts a subtree has (for the count of those cut).
fn subtree_size(drafts: &[Draft], root: usize) -> u64 {
    let mut count = 0;
    let mut seen = vec![false; drafts.len()];
    let mut stack = vec![root];
    while let Some(index) = stack.pop() {
        if index >= drafts.len() || std::mem::replace(&mut seen[index], true) {
            continue;
        }
        count += 1;
        stack.extend(drafts[index].children.iter().copied());
    }
    count
}

fn sort_canonical(forest: &Forest, lines: &Lines, ids: &mut [usize]) {
    ids.sort_by(|&a, &b| compare(forest, a, forest, b, lines));
}

/// The canonical order of subtrees, possibly of two trees: by the `proc`
/// line's text, then the calls' texts, then the exit's, then the children
/// in their canonical order. Equal exactly when the subtrees are the same.
pub fn compare(fa: &Forest, a: usize, fb: &Forest, b: usize, lines: &Lines) -> Ordering {
    let (pa, pb) = (&fa.procs[a], &fb.procs[b]);
    if pa.canon == pb.canon {
        return Ordering::Equal;
    }
    let text = |id: &LineId| lines.text(*id);
    text(&pa.label)
        .cmp(text(&pb.label))
        .then_with(|| pa.calls.iter().map(text).cmp(pb.calls.iter().map(text)))
        .then_with(|| pa.exit.as_ref().map(text).cmp(&pb.exit.as_ref().map(text)))
        .then_with(|| {
            for (&ca, &cb) in pa.children.iter().zip(&pb.children) {
                let order = compare(fa, ca, fb, cb, lines);
                if order != Ordering::Equal {
                    return order;
                }
            }
            pa.children.len().cmp(&pb.children.len())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A draft: label, calls, exit, parent index.
    type Spec<'a> = (&'a str, &'a [&'a str], Option<&'a str>, Option<usize>);

    /// Drafts from their specs.
    fn drafts(session: &mut Session, spec: &[Spec]) -> Vec<Draft> {
        let mut out: Vec<Draft> = Vec::new();
        for (label, calls, exit, parent) in spec {
            let mut draft = Draft::new(session.line(label));
            draft.calls = calls.iter().map(|c| session.line(c)).collect();
            draft.exit = exit.map(|e| session.line(e));
            draft.has_parent = parent.is_some();
            out.push(draft);
            if let Some(p) = parent {
                let child = out.len() - 1;
                out[*p].children.push(child);
            }
        }
        out
    }

    fn shape(forest: &Forest, lines: &Lines, id: usize, depth: usize, out: &mut Vec<String>) {
        let p = forest.proc(id);
        out.push(format!("{}{}", "  ".repeat(depth), lines.text(p.label)));
        for &c in &p.children {
            shape(forest, lines, c, depth + 1, out);
        }
    }

    #[test]
    fn children_in_any_order_are_the_same_tree() {
        let mut s = Session::default();
        let a = drafts(
            &mut s,
            &[
                ("proc sh", &[], Some("exit 0"), None),
                ("proc b", &["exec /b [b]"], Some("exit 0"), Some(0)),
                ("proc a", &["exec /a [a]"], Some("exit 0"), Some(0)),
            ],
        );
        let b = drafts(
            &mut s,
            &[
                ("proc sh", &[], Some("exit 0"), None),
                ("proc a", &["exec /a [a]"], Some("exit 0"), Some(0)),
                ("proc b", &["exec /b [b]"], Some("exit 0"), Some(0)),
            ],
        );
        let (fa, fb) = (s.finish(&a), s.finish(&b));
        assert_eq!(fa.proc(fa.roots[0]).canon, fb.proc(fb.roots[0]).canon);
        let mut order = Vec::new();
        shape(&fa, &s.lines, fa.roots[0], 0, &mut order);
        assert_eq!(
            order,
            ["proc sh", "  proc a", "  proc b"],
            "canonical order"
        );
    }

    #[test]
    fn a_different_argument_is_a_different_tree() {
        let mut s = Session::default();
        let a = drafts(&mut s, &[("proc e", &["exec /e [e 1]"], None, None)]);
        let b = drafts(&mut s, &[("proc e", &["exec /e [e 2]"], None, None)]);
        let (fa, fb) = (s.finish(&a), s.finish(&b));
        assert_ne!(fa.proc(0).canon, fb.proc(0).canon);
        assert_ne!(compare(&fa, 0, &fb, 0, &s.lines), Ordering::Equal);
    }

    #[test]
    fn ignore_drops_a_process_and_its_subtree_or_a_mount_line() {
        let rules = Rules {
            ignore: vec![
                Regex::new("^exec /usr/bin/git ").expect("re"),
                Regex::new("/proc\"").expect("re"),
            ],
            ..Rules::default()
        };
        let mut s = Session::new(rules);
        let d = drafts(
            &mut s,
            &[
                (
                    "proc sh",
                    &[
                        r#"mount("proc", "/proc", "proc", 0x0, "") = 0"#,
                        r#"mount("a", "/a", "tmpfs", 0x0, "") = 0"#,
                    ],
                    None,
                    None,
                ),
                (
                    "proc git",
                    &["exec /usr/bin/git [git status]"],
                    Some("exit 0"),
                    Some(0),
                ),
                (
                    "proc helper",
                    &["exec /usr/lib/git-core/helper [helper]"],
                    Some("exit 0"),
                    Some(1),
                ),
            ],
        );
        let f = s.finish(&d);
        assert_eq!(
            f.procs.len(),
            1,
            "git and the process it started are left out"
        );
        let root = f.proc(f.roots[0]);
        assert_eq!(root.calls.len(), 1);
        assert_eq!(
            s.lines.text(root.calls[0]),
            r#"mount("a", "/a", "tmpfs", 0x0, "") = 0"#
        );
    }

    #[test]
    fn events_choose_the_lines_and_empty_processes_go() {
        let rules = Rules {
            classes: EventClasses::parse_list("exec").expect("classes"),
            ..Rules::default()
        };
        let mut s = Session::new(rules);
        let d = drafts(
            &mut s,
            &[
                ("proc sh", &[], Some("exit 0"), None),
                ("proc sh", &[], Some("exit 0"), Some(0)),
                (
                    "proc m",
                    &["exec /m [m]", r#"umount("/x", 0x0) = 0"#],
                    Some("exit 1"),
                    Some(0),
                ),
            ],
        );
        let f = s.finish(&d);
        let root = f.proc(f.roots[0]);
        assert_eq!(root.exit, None);
        assert_eq!(
            root.children.len(),
            1,
            "the fork-only child has nothing left"
        );
        let child = f.proc(root.children[0]);
        assert_eq!(child.calls.len(), 1);
        assert_eq!(child.exit, None);
    }

    #[test]
    fn deep_chains_are_cut_and_counted_and_cycles_never_loop() {
        let mut s = Session::default();
        let mut d: Vec<Draft> = Vec::new();
        for i in 0..(MAX_DEPTH + 5) {
            let mut draft = Draft::new(s.line("proc x"));
            draft.exit = Some(s.line("exit 0"));
            draft.has_parent = i > 0;
            d.push(draft);
            if i > 0 {
                d[i - 1].children.push(i);
            }
        }
        // Two drafts that created each other: no root.
        let mut c1 = Draft::new(s.line("proc c"));
        c1.has_parent = true;
        c1.children.push(d.len() + 1);
        let mut c2 = c1.clone();
        c2.children = vec![d.len()];
        d.push(c1);
        d.push(c2);
        let f = s.finish(&d);
        assert_eq!(f.procs.len(), MAX_DEPTH);
        assert_eq!(f.too_deep, 5);
    }

    #[test]
    fn rules_cannot_change_a_lines_kind_or_break_it() {
        let rules = Rules {
            normalizer: Normalizer {
                builtin: true,
                rewrites: vec![
                    super::super::normalize::rewrite_rule("^.*$=x").expect("rule"),
                    super::super::normalize::rewrite_rule("x=a\nb").expect("rule"),
                ],
            },
            ..Rules::default()
        };
        let mut s = Session::new(rules);
        for (raw, want) in [
            ("proc sh", "proc a\\nb"),
            ("exec /bin/ls [ls /tmp/tmp.AbCdEfGhIj]", "exec a\\nb"),
            (r#"umount("/x", 0x0) = 0"#, "umount(a\\nb"),
            ("exit 0", "exit a\\nb"),
        ] {
            let id = s.line(raw);
            assert_eq!(s.lines.text(id), want);
            assert_eq!(LineKind::of(s.lines.text(id)), LineKind::of(raw));
        }
    }

    #[test]
    fn line_kinds() {
        assert_eq!(LineKind::of("proc sh"), Some(LineKind::Proc));
        assert_eq!(LineKind::of("exit 0"), Some(LineKind::Exit));
        assert_eq!(
            LineKind::of("exec /bin/x [x]"),
            Some(LineKind::Call(EventClass::Exec))
        );
        assert_eq!(
            LineKind::of(r#"move_mount(3, "", AT_FDCWD, "/x", 0x4) = 0"#),
            Some(LineKind::Call(EventClass::Mount))
        );
        assert_eq!(LineKind::of("mount /x"), None);
        assert_eq!(LineKind::of("exce /bin/x"), None);
    }
}
