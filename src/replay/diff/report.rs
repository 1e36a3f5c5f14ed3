//! The two forms of a `--diff` report.
//!
//! Text, read like a unified diff of the expectation files: `--- BASELINE`
//! and `+++ NEW`, then each difference as lines of the tree marked `-`
//! (only in the baseline) or `+` (only in the new capture), under the
//! `proc` lines of the processes it is in, marked ` ` (context, printed once
//! for the differences under them). A run of changed lines is its `-` lines
//! then its `+` lines. A process on both sides shows, after its `proc`
//! line, its first call as context too when that call is the same on both
//! sides: it tells same-named siblings apart. Then one summary line, also
//! when nothing differs.
//!
//! JSON Lines (`--format json`): one object per difference, then one
//! summary object:
//!
//! - `{"change": "added"|"removed", "kind": "process", "path": [NAME...],
//!   "path_first_calls": [LINE|null...], "process": NODE}`: a process and its
//!   subtree (NODE as in a JSON expectation file), `path` the names of the
//!   processes it is under, `path_first_calls` their first calls where the
//!   same on both sides;
//! - `{"change": "changed", "kind": "call"|"exit", "path": [...],
//!   "path_first_calls": [...], "baseline": LINE, "new": LINE}`;
//!   `{"change": "removed"|"added", "kind": "call"|"exit", "path": [...],
//!   "path_first_calls": [...], "line": LINE}`: a line of the process at the
//!   end of `path`;
//! - `{"summary": {"same": BOOL, "baseline": INPUT, "new": INPUT,
//!   "processes": {"baseline": N, "new": N, "added": N, "removed": N,
//!   "changed": N}, "lines": {"added": N, "removed": N, "changed": N}}}`.

use std::io::{self, Write};

use serde_json::{json, Value};

use super::compare::{Counts, Part, Side, Sink};
use super::expect;
use super::model::{Forest, LineId, Lines};

/// What the summary says besides the counts.
pub struct Totals<'a> {
    pub baseline_name: &'a str,
    pub new_name: &'a str,
    /// Processes and calls of each tree.
    pub baseline: (u64, u64),
    pub new: (u64, u64),
}

/// The text report.
pub struct TextSink<'a> {
    out: &'a mut dyn Write,
    lines: &'a Lines,
    names: (&'a str, &'a str),
    headed: bool,
    /// The processes the comparison is in (`proc` line, first call if the
    /// same on both sides), and whether each was printed.
    context: Vec<(LineId, Option<LineId>, bool)>,
}

impl<'a> TextSink<'a> {
    pub fn new(out: &'a mut dyn Write, lines: &'a Lines, baseline: &'a str, new: &'a str) -> Self {
        TextSink {
            out,
            lines,
            names: (baseline, new),
            headed: false,
            context: Vec::new(),
        }
    }

    /// The file header and the context lines not printed yet.
    fn before_change(&mut self) -> io::Result<()> {
        if !std::mem::replace(&mut self.headed, true) {
            writeln!(self.out, "--- {}\n+++ {}", self.names.0, self.names.1)?;
        }
        for (depth, (label, first_call, printed)) in self.context.iter_mut().enumerate() {
            if !std::mem::replace(printed, true) {
                writeln!(
                    self.out,
                    " {}{}",
                    "  ".repeat(depth),
                    self.lines.text(*label)
                )?;
                if let Some(call) = first_call {
                    writeln!(
                        self.out,
                        " {}{}",
                        "  ".repeat(depth + 1),
                        self.lines.text(*call)
                    )?;
                }
            }
        }
        Ok(())
    }

    pub fn summary(&mut self, counts: &Counts, totals: &Totals) -> io::Result<()> {
        if counts.same() {
            let (procs, calls) = totals.new;
            return writeln!(
                self.out,
                "snoopcap diff: no difference ({procs} processes, {calls} calls)"
            );
        }
        writeln!(
            self.out,
            "snoopcap diff: processes: {} added, {} removed, {} changed; calls and exits: {} added, {} removed, {} changed",
            counts.processes_added,
            counts.processes_removed,
            counts.processes_changed,
            counts.lines_added,
            counts.lines_removed,
            counts.lines_changed
        )
    }
}

impl Sink for TextSink<'_> {
    fn enter(&mut self, label: LineId, first_call: Option<LineId>) {
        self.context.push((label, first_call, false));
    }

    fn leave(&mut self) {
        self.context.pop();
    }

    fn subtree(&mut self, side: Side, forest: &Forest, id: usize) -> io::Result<()> {
        self.before_change()?;
        let marker = match side {
            Side::Baseline => "-",
            Side::New => "+",
        };
        expect::write_subtree(self.out, forest, self.lines, id, self.context.len(), marker)
    }

    fn lines(&mut self, _part: Part, removed: &[LineId], added: &[LineId]) -> io::Result<()> {
        self.before_change()?;
        let indent = "  ".repeat(self.context.len());
        for &line in removed {
            writeln!(self.out, "-{indent}{}", self.lines.text(line))?;
        }
        for &line in added {
            writeln!(self.out, "+{indent}{}", self.lines.text(line))?;
        }
        Ok(())
    }
}

/// The JSON Lines report.
pub struct JsonSink<'a> {
    out: &'a mut dyn Write,
    lines: &'a Lines,
    /// The processes the comparison is in: `proc` line, first call.
    path: Vec<(LineId, Option<LineId>)>,
}

impl<'a> JsonSink<'a> {
    pub fn new(out: &'a mut dyn Write, lines: &'a Lines) -> Self {
        JsonSink {
            out,
            lines,
            path: Vec::new(),
        }
    }

    /// `path` and `path_first_calls` of a record.
    fn path(&self) -> (Value, Value) {
        let names = self
            .path
            .iter()
            .map(|&(l, _)| {
                let text = self.lines.text(l);
                Value::from(text.strip_prefix("proc ").unwrap_or(text))
            })
            .collect();
        let calls = self
            .path
            .iter()
            .map(|&(_, call)| call.map_or(Value::Null, |c| Value::from(self.lines.text(c))))
            .collect();
        (names, calls)
    }

    fn record(&mut self, value: &Value) -> io::Result<()> {
        serde_json::to_writer(&mut *self.out, value).map_err(io::Error::other)?;
        self.out.write_all(b"\n")
    }

    pub fn summary(&mut self, counts: &Counts, totals: &Totals) -> io::Result<()> {
        self.record(&json!({
            "summary": {
                "same": counts.same(),
                "baseline": totals.baseline_name,
                "new": totals.new_name,
                "processes": {
                    "baseline": totals.baseline.0,
                    "new": totals.new.0,
                    "added": counts.processes_added,
                    "removed": counts.processes_removed,
                    "changed": counts.processes_changed,
                },
                "lines": {
                    "added": counts.lines_added,
                    "removed": counts.lines_removed,
                    "changed": counts.lines_changed,
                },
            }
        }))
    }
}

impl Sink for JsonSink<'_> {
    fn enter(&mut self, label: LineId, first_call: Option<LineId>) {
        self.path.push((label, first_call));
    }

    fn leave(&mut self) {
        self.path.pop();
    }

    fn subtree(&mut self, side: Side, forest: &Forest, id: usize) -> io::Result<()> {
        let change = match side {
            Side::Baseline => "removed",
            Side::New => "added",
        };
        let node = serde_json::to_value(expect::json_node(forest, self.lines, id))
            .map_err(io::Error::other)?;
        let (path, calls) = self.path();
        let record = json!({"change": change, "kind": "process", "path": path, "path_first_calls": calls, "process": node});
        self.record(&record)
    }

    fn lines(&mut self, part: Part, removed: &[LineId], added: &[LineId]) -> io::Result<()> {
        let kind = match part {
            Part::Calls => "call",
            Part::Exit => "exit",
        };
        let (path, calls) = self.path();
        let text = |l: &LineId| self.lines.text(*l).to_string();
        let mut records = Vec::new();
        for (old, new) in removed.iter().zip(added) {
            records.push(json!({"change": "changed", "kind": kind, "path": path, "path_first_calls": calls, "baseline": text(old), "new": text(new)}));
        }
        let paired = removed.len().min(added.len());
        for line in &removed[paired..] {
            records.push(json!({"change": "removed", "kind": kind, "path": path, "path_first_calls": calls, "line": text(line)}));
        }
        for line in &added[paired..] {
            records.push(json!({"change": "added", "kind": kind, "path": path, "path_first_calls": calls, "line": text(line)}));
        }
        for record in &records {
            self.record(record)?;
        }
        Ok(())
    }
}
