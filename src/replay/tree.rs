//! `replay --tree`: the process tree of a capture as text, one line per
//! process, indented by lineage: its pid and comm, when it started (forked
//! during the capture, or already running when it began), when and how it
//! ended, then, in time order, its execs (with argv), failed execs,
//! mount-family calls, and the processes it created.
//!
//! Built from the event stream's filtered events (and the start snapshot),
//! so every filter applies. What the capture does not show is said, never
//! guessed: a process whose fork is not in the capture is a root marked
//! "start not in the capture"; one whose exit is not in it is marked "no
//! exit in the capture". Memory: one line of text per event shown, plus one
//! entry per process.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};

use crate::event::{Args, Event};
use crate::format::ProcessInfo;
use crate::render::escape::{self, comm_bytes};
use crate::render::{errno, table};

/// A process: pid and start time (boot clock ns), or pid alone when the
/// capture does not say when it started.
type Identity = (u32, Option<u64>);

/// How the capture shows a process begin.
#[derive(Debug, Clone)]
enum Start {
    /// Forked during the capture, at this boot-clock time.
    Forked(u64),
    /// In the start snapshot: running before the capture began.
    BeforeCapture { argv: Vec<Vec<u8>> },
    /// Neither: its fork is not in the capture (lost, or filtered out).
    Unknown,
}

#[derive(Debug)]
struct Node {
    comm: Vec<u8>,
    start: Start,
    /// The creating process, when the capture shows it.
    parent: Option<Identity>,
    /// Exit time and wait status.
    exit: Option<(u64, u32)>,
    /// Known only as the creator of a process shown: none of its own
    /// events passed the filters.
    context_only: bool,
    /// What happened in the process, by time: (ts, line text or child).
    items: Vec<(u64, TreeItem)>,
}

#[derive(Debug)]
enum TreeItem {
    Line(Vec<u8>),
    Child(Identity),
}

/// Collects a capture's processes and events; [`ProcessTree::write`]
/// prints them.
#[derive(Debug, Default)]
pub struct ProcessTree {
    nodes: HashMap<Identity, Node>,
    /// The snapshot's processes by pid, to find a snapshot parent.
    snapshot: HashMap<u32, Identity>,
    /// Boot-clock ns of the capture start, for the `+SECONDS` offsets.
    origin_ns: Option<u64>,
}

impl ProcessTree {
    pub fn new() -> ProcessTree {
        ProcessTree::default()
    }

    /// Sets the boot-clock time offsets are counted from (the capture start).
    pub fn set_origin(&mut self, boot_ns: u64) {
        self.origin_ns.get_or_insert(boot_ns);
    }

    /// A process of the start snapshot.
    pub fn add_process(&mut self, info: &ProcessInfo) {
        let id = (info.pid, Some(info.start_ns));
        // The snapshot lists parents before children (by start time).
        let parent = self.snapshot.get(&info.ppid).copied();
        self.snapshot.insert(info.pid, id);
        self.nodes.entry(id).or_insert_with(|| Node {
            comm: info.comm.clone(),
            start: Start::BeforeCapture {
                argv: info.argv.clone(),
            },
            parent,
            exit: None,
            context_only: false,
            items: Vec::new(),
        });
        if let Some(parent) = parent {
            self.child_of(parent, id, 0);
        }
    }

    /// One event of the stream.
    pub fn add_event(&mut self, event: &Event) {
        let id = (event.pid, event.proc_start_ns);
        match &event.args {
            Args::Fork {
                child_pid,
                child_start_ns,
                ..
            } => {
                if *child_pid == event.pid {
                    return; // a new thread: not a new process
                }
                let child = (*child_pid, Some(*child_start_ns));
                if !self.nodes.contains_key(&id) {
                    self.node(id, &event.comm).context_only = true;
                }
                let node = self.node(child, &event.comm);
                node.context_only = false;
                node.start = Start::Forked(event.ts_ns);
                node.parent = Some(id);
                self.child_of(id, child, event.ts_ns);
            }
            Args::Exit { status, .. } => {
                let node = self.node(id, &event.comm);
                node.context_only = false;
                node.exit = Some((event.ts_ns, *status));
                node.comm = comm_bytes(&event.comm).to_vec();
            }
            _ => {
                let line = event_line(event, self.offset(event.ts_ns));
                let node = self.node(id, &event.comm_before);
                node.context_only = false;
                if event.syscall.is_exec() && !event.failed() {
                    node.comm = comm_bytes(&event.comm).to_vec();
                }
                node.items.push((event.ts_ns, TreeItem::Line(line)));
            }
        }
    }

    fn child_of(&mut self, parent: Identity, child: Identity, ts_ns: u64) {
        if let Some(node) = self.nodes.get_mut(&parent) {
            node.items.push((ts_ns, TreeItem::Child(child)));
        }
    }

    fn node(&mut self, id: Identity, comm: &[u8]) -> &mut Node {
        self.nodes.entry(id).or_insert_with(|| Node {
            comm: comm_bytes(comm).to_vec(),
            start: Start::Unknown,
            parent: None,
            exit: None,
            context_only: false,
            items: Vec::new(),
        })
    }

    fn offset(&self, ts_ns: u64) -> String {
        let origin = self.origin_ns.unwrap_or(0);
        let signed = i128::from(ts_ns) - i128::from(origin);
        format!("{:+.6}s", signed as f64 / 1e9)
    }

    /// Prints the tree: roots (processes whose creator the capture does not
    /// show) by start, each followed by its subtree.
    pub fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut roots: Vec<(u64, Identity)> = self
            .nodes
            .iter()
            .filter(|(_, node)| node.parent.is_none_or(|p| !self.nodes.contains_key(&p)))
            .map(|(id, node)| (self.start_key(node), *id))
            .collect();
        roots.sort();
        // Iterative depth-first walk: lying records cannot overflow the stack.
        let mut stack: Vec<(Identity, usize)> =
            roots.into_iter().rev().map(|(_, id)| (id, 0)).collect();
        let mut printed: HashMap<Identity, ()> = HashMap::new();
        while let Some((id, depth)) = stack.pop() {
            if printed.insert(id, ()).is_some() {
                continue;
            }
            let Some(node) = self.nodes.get(&id) else {
                continue;
            };
            let indent = "  ".repeat(depth.min(64));
            self.write_process(out, &indent, id, node)?;
            let mut items: BTreeMap<(u64, usize), &TreeItem> = BTreeMap::new();
            for (index, (ts, item)) in node.items.iter().enumerate() {
                items.insert((*ts, index), item);
            }
            // Lines now, children after, each in time order: a child's
            // subtree is printed where its fork happened.
            let mut pending: Vec<(Identity, usize)> = Vec::new();
            for item in items.values() {
                match item {
                    TreeItem::Line(line) => {
                        out.write_all(indent.as_bytes())?;
                        out.write_all(b"  ")?;
                        out.write_all(line)?;
                        out.write_all(b"\n")?;
                    }
                    TreeItem::Child(child) => pending.push((*child, depth + 1)),
                }
            }
            stack.extend(pending.into_iter().rev());
        }
        Ok(())
    }

    fn start_key(&self, node: &Node) -> u64 {
        match node.start {
            Start::Forked(ts) => ts,
            _ => 0,
        }
    }

    fn write_process(
        &self,
        out: &mut dyn Write,
        indent: &str,
        id: Identity,
        node: &Node,
    ) -> io::Result<()> {
        let mut line = Vec::new();
        line.extend_from_slice(indent.as_bytes());
        line.extend_from_slice(id.0.to_string().as_bytes());
        line.push(b' ');
        escape::push_terminal_safe(&mut line, &node.comm, true);
        if node.context_only {
            line.extend_from_slice(
                b"  (outside the selection: only its creation of what follows is shown)\n",
            );
            return out.write_all(&line);
        }
        match &node.start {
            Start::Forked(ts) => {
                line.extend_from_slice(format!("  started {}", self.offset(*ts)).as_bytes())
            }
            Start::BeforeCapture { argv } => {
                line.extend_from_slice(b"  running before the capture");
                if !argv.is_empty() {
                    line.extend_from_slice(b": ");
                    push_argv(&mut line, argv.iter().map(Vec::as_slice));
                }
            }
            Start::Unknown => line.extend_from_slice(b"  start not in the capture"),
        }
        match node.exit {
            Some((ts, status)) => {
                line.extend_from_slice(format!(", ended {}", self.offset(ts)).as_bytes());
                if let Start::Forked(start) = node.start {
                    line.extend_from_slice(
                        format!(" after {:.6}s", ts.saturating_sub(start) as f64 / 1e9).as_bytes(),
                    );
                }
                line.extend_from_slice(b": ");
                line.extend_from_slice(exit_text(status).as_bytes());
            }
            None => line.extend_from_slice(b", no exit in the capture"),
        }
        line.push(b'\n');
        out.write_all(&line)
    }
}

/// `exit code N`, or `killed by signal N` (with `, core dumped`).
fn exit_text(status: u32) -> String {
    match Args::exit_signal(status) {
        None => format!("exit code {}", Args::exit_code(status).unwrap_or(0)),
        Some(signal) if Args::core_dumped(status) => {
            format!("killed by signal {signal}, core dumped")
        }
        Some(signal) => format!("killed by signal {signal}"),
    }
}

/// argv joined by spaces, terminal-safe.
fn push_argv<'a>(line: &mut Vec<u8>, argv: impl Iterator<Item = &'a [u8]>) {
    for (index, arg) in argv.enumerate() {
        if index > 0 {
            line.push(b' ');
        }
        escape::push_terminal_safe(line, arg, true);
    }
}

/// One event of a process, for the tree: `exec +T FILENAME ARGV...`,
/// `exec +T ... = -ENOENT` for a failed one, or the mount-family call as
/// mountsnoop shows it with its return.
fn event_line(event: &Event, offset: String) -> Vec<u8> {
    let mut line = Vec::new();
    line.extend_from_slice(event.syscall.event_name().as_bytes());
    line.push(b' ');
    line.extend_from_slice(offset.as_bytes());
    line.push(b' ');
    match &event.args {
        Args::Exec {
            filename,
            args,
            args_truncated,
            ..
        } => {
            escape::push_terminal_safe(&mut line, table::exec_arg_text(filename), true);
            line.extend_from_slice(b" [");
            push_argv(&mut line, args.iter().map(table::exec_arg_text));
            if *args_truncated {
                line.extend_from_slice(b" ...");
            }
            line.push(b']');
            if event.failed() {
                line.extend_from_slice(b" = ");
                errno::push_decoded_return(&mut line, event.ret);
            }
        }
        other => {
            table::push_call(&mut line, other);
            line.extend_from_slice(b" = ");
            errno::push_decoded_return(&mut line, event.ret);
        }
    }
    line
}
