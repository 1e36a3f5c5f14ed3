//! From a capture's events to the drafts of its behavioural tree: one draft
//! per process (by identity, pid and start time, from the capture's
//! lineage; threads are their process), placed under the process that
//! created it (its fork event, or the start snapshot's parent), with the
//! lines of what it did, in order. Only what a run repeats goes into a line:
//! never a pid, a time, a latency, an id or a namespace.
//!
//! Lines (the text format of `--expect-file`, see `expect`):
//!
//! - `proc NAME`: the command name after the process's first successful
//!   exec, else the name it was created with (its creator's);
//! - `exec FILENAME [ARGV...]`, with ` ...` inside the brackets when argv
//!   was cut at record time and ` = -ERRNO` after a failed exec (with the
//!   built-in normalisation, a failed exec directly followed by another
//!   exec of the same argv is left out: that is execvp(3) searching `PATH`,
//!   which differs from machine to machine, and the exec it found follows);
//! - a mount-family call as mountsnoop shows it, with its return:
//!   `mount("none", "/mnt", "tmpfs", MS_NOSUID, "") = 0`;
//! - `exit N`, `exit signal N`, `exit signal N core`.
//!
//! Words are bare when they are printable ASCII without `"`, `\` or
//! spaces (and not `...` or `?`), else a C-style quoted string (mountsnoop's
//! escaping), so every line is one line of ASCII and different argv give
//! different lines.

use std::collections::HashMap;

use super::model::{Draft, Session};
use crate::event::{Args, Captured, Event};
use crate::format::ProcessInfo;
use crate::render::{errno, escape, table};

/// A process: pid and start time, or pid alone when the capture does not say.
type Identity = (u32, Option<u64>);

/// A process as the capture shows it so far.
#[derive(Debug)]
struct Node {
    /// The name it was created with.
    created_as: Vec<u8>,
    /// The name after its first successful exec.
    exec_name: Option<Vec<u8>>,
    /// Its last call, when a failed exec: that exec's argv as written.
    failed_exec: Option<Vec<u8>>,
    draft: Draft,
    parent: Option<usize>,
}

/// Collects one capture's processes; [`TreeBuilder::finish`] gives the drafts.
#[derive(Debug, Default)]
pub struct TreeBuilder {
    nodes: Vec<Node>,
    by_identity: HashMap<Identity, usize>,
    /// Processes seen by pid alone so far (their events came before the
    /// capture said when they started: a process older than the capture
    /// without a snapshot, until its first fork or exit record names it).
    unknown_start: HashMap<u32, usize>,
    /// The snapshot's processes by pid, to find a snapshot parent.
    snapshot: HashMap<u32, usize>,
    /// Reused for each line.
    buf: Vec<u8>,
}

impl TreeBuilder {
    pub fn new() -> TreeBuilder {
        TreeBuilder::default()
    }

    /// A process of the start snapshot (parents come before children).
    pub fn add_process(&mut self, session: &mut Session, info: &ProcessInfo) {
        let index = self.node(session, (info.pid, Some(info.start_ns)), &info.comm, true);
        if let Some(&parent) = self.snapshot.get(&info.ppid) {
            self.link(parent, index);
        }
        self.snapshot.insert(info.pid, index);
    }

    /// One event of the stream.
    pub fn add_event(&mut self, session: &mut Session, event: &Event) {
        let id = (event.pid, event.proc_start_ns);
        match &event.args {
            Args::Fork {
                child_pid,
                child_start_ns,
                ..
            } => {
                if *child_pid == event.pid {
                    return; // a thread: part of its process
                }
                let creator = self.node(session, id, &event.comm, true);
                // A new process: never the earlier one of its pid.
                let child_id = (*child_pid, Some(*child_start_ns));
                let child = self.node(session, child_id, &event.comm, false);
                self.link(creator, child);
            }
            Args::Exit { status, .. } => {
                let index = self.node(session, id, &event.comm, true);
                let line = session.line(&exit_line(*status));
                self.nodes[index].draft.exit = Some(line);
            }
            _ => {
                let index = self.node(session, id, &event.comm_before, true);
                self.buf.clear();
                let argv = push_call_line(&mut self.buf, event);
                let line = session.line(&String::from_utf8_lossy(&self.buf));
                let argv = argv.map(|range| self.buf[range].to_vec());
                let fold = session.rules.normalizer.builtin;
                let node = &mut self.nodes[index];
                let searching = node.failed_exec.take();
                if fold && argv.is_some() && searching == argv {
                    node.draft.calls.pop(); // the search's earlier attempt
                }
                node.draft.calls.push(line);
                if event.syscall.is_exec() && event.failed() {
                    node.failed_exec = argv;
                }
                if event.syscall.is_exec() && !event.failed() && node.exec_name.is_none() {
                    node.exec_name = Some(escape::comm_bytes(&event.comm).to_vec());
                }
            }
        }
    }

    /// The draft of process `id`, made when first seen. A process seen by
    /// its own event (`own`) with a start time for the first time is the
    /// one its pid's events without a start time came from, if any; a
    /// fork's child is new, and ends that pid's unknown-start process.
    fn node(&mut self, session: &mut Session, id: Identity, name: &[u8], own: bool) -> usize {
        if let Some(&index) = self.by_identity.get(&id) {
            return index;
        }
        if id.1.is_some() {
            let earlier = self.unknown_start.remove(&id.0);
            if let Some(index) = earlier.filter(|_| own) {
                self.by_identity.insert(id, index);
                return index;
            }
        }
        let created_as = escape::comm_bytes(name).to_vec();
        let label = session.line(&label_line(&created_as));
        self.nodes.push(Node {
            created_as,
            exec_name: None,
            failed_exec: None,
            draft: Draft::new(label),
            parent: None,
        });
        let index = self.nodes.len() - 1;
        self.by_identity.insert(id, index);
        if id.1.is_none() {
            self.unknown_start.insert(id.0, index);
        }
        index
    }

    /// `child` was created by `parent` (the first creator the capture names counts).
    fn link(&mut self, parent: usize, child: usize) {
        if parent == child || self.nodes[child].parent.is_some() {
            return;
        }
        self.nodes[child].parent = Some(parent);
        self.nodes[child].draft.has_parent = true;
        self.nodes[parent].draft.children.push(child);
    }

    /// The drafts, each labelled by the name it ran as.
    pub fn finish(self, session: &mut Session) -> Vec<Draft> {
        self.nodes
            .into_iter()
            .map(|node| {
                let mut draft = node.draft;
                if let Some(name) = &node.exec_name {
                    if *name != node.created_as {
                        draft.label = session.line(&label_line(name));
                    }
                }
                draft
            })
            .collect()
    }
}

/// Whether a word can be written as it is.
fn is_bare(bytes: &[u8]) -> bool {
    !bytes.is_empty()
        && bytes != b"..."
        && bytes != b"?"
        && bytes
            .iter()
            .all(|&b| (0x21..=0x7e).contains(&b) && b != b'"' && b != b'\\')
}

/// One word of a line: bare, or a quoted C-style string.
pub fn push_word(line: &mut Vec<u8>, bytes: &[u8]) {
    if is_bare(bytes) {
        line.extend_from_slice(bytes);
    } else {
        escape::push_mount_string(line, bytes);
    }
}

/// An exec's filename or argv element: `?` when its memory could not be read.
fn push_exec_word(line: &mut Vec<u8>, captured: &Captured) {
    if captured.fault {
        line.push(b'?');
    } else {
        push_word(line, &captured.bytes);
    }
}

pub fn label_line(name: &[u8]) -> String {
    let mut line = b"proc ".to_vec();
    push_word(&mut line, name);
    String::from_utf8_lossy(&line).into_owned()
}

pub fn exit_line(status: u32) -> String {
    match Args::exit_signal(status) {
        None => format!("exit {}", Args::exit_code(status).unwrap_or(0)),
        Some(signal) if Args::core_dumped(status) => format!("exit signal {signal} core"),
        Some(signal) => format!("exit signal {signal}"),
    }
}

/// What stands for the return value of a call whose exit the capture never
/// saw (strace's `= ?`): its result is unknown, not success.
const UNFINISHED_RETURN: &[u8] = b" = ? (unfinished)";

/// An exec or mount-family call's line; for an exec, where its argv is in it.
fn push_call_line(line: &mut Vec<u8>, event: &Event) -> Option<std::ops::Range<usize>> {
    match &event.args {
        Args::Exec {
            filename,
            args,
            args_truncated,
            ..
        } => {
            line.extend_from_slice(b"exec ");
            push_exec_word(line, filename);
            line.extend_from_slice(b" [");
            let argv_start = line.len();
            for (index, arg) in args.iter().enumerate() {
                if index > 0 {
                    line.push(b' ');
                }
                push_exec_word(line, arg);
            }
            if *args_truncated {
                line.extend_from_slice(if args.is_empty() { b"..." } else { b" ..." });
            }
            let argv = argv_start..line.len();
            line.push(b']');
            if event.unfinished.is_some() {
                line.extend_from_slice(UNFINISHED_RETURN);
            } else if event.failed() {
                line.extend_from_slice(b" = ");
                errno::push_decoded_return(line, event.ret);
            }
            Some(argv)
        }
        other => {
            table::push_call(line, other);
            match event.returned() {
                Some(ret) => {
                    line.extend_from_slice(b" = ");
                    errno::push_decoded_return(line, ret);
                }
                None => line.extend_from_slice(UNFINISHED_RETURN),
            }
            None
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::event::{Comm, Syscall};

    /// A synthetic event of process `pid@start` (parent `ppid`).
    pub fn event(pid: u32, start: u64, args: Args) -> Event {
        let syscall = match &args {
            Args::Exec { .. } => Syscall::Execve,
            Args::Mount { .. } => Syscall::Mount,
            Args::Umount { .. } => Syscall::Umount,
            Args::Fork { .. } => Syscall::Fork,
            Args::Exit { .. } => Syscall::Exit,
            _ => Syscall::Fsopen,
        };
        Event {
            syscall,
            ts_ns: start,
            wall_ns: 0,
            latency_ns: 7,
            pid,
            tid: pid,
            ppid: 1,
            uid: 0,
            gid: 0,
            comm: Comm::from_bytes(b"sh"),
            comm_before: Comm::from_bytes(b"sh"),
            pcomm: Comm::default(),
            mnt_ns: 1,
            cgroup_id: 1,
            cgroup_path: None,
            ret: 0,
            args,
            unfinished: None,
            proc_start_ns: Some(start),
            parent_start_ns: None,
        }
    }

    pub fn fork(parent: (u32, u64), child: (u32, u64)) -> Event {
        event(
            parent.0,
            parent.1,
            Args::Fork {
                child_pid: child.0,
                child_tid: child.0,
                clone_flags: 0,
                child_start_ns: child.1,
            },
        )
    }

    pub fn exec(process: (u32, u64), argv: &[&str]) -> Event {
        let mut e = event(
            process.0,
            process.1,
            Args::Exec {
                dirfd: None,
                flags: None,
                filename: Captured::from_bytes(format!("/bin/{}", argv[0]).as_bytes()),
                args: argv
                    .iter()
                    .map(|a| Captured::from_bytes(a.as_bytes()))
                    .collect(),
                args_truncated: false,
            },
        );
        e.comm = Comm::from_bytes(argv[0].as_bytes());
        e
    }

    pub fn exit(process: (u32, u64), code: u32) -> Event {
        event(
            process.0,
            process.1,
            Args::Exit {
                status: code << 8,
                start_ns: process.1,
            },
        )
    }

    pub fn mount(process: (u32, u64), target: &str) -> Event {
        event(
            process.0,
            process.1,
            Args::Mount {
                source: Captured::from_bytes(b"none"),
                target: Captured::from_bytes(target.as_bytes()),
                fstype: Captured::from_bytes(b"tmpfs"),
                flags: 0,
                data: Captured::default(),
            },
        )
    }

    /// A draft as text: label, calls, exit, children.
    type DraftText = (String, Vec<String>, Option<String>, Vec<usize>);

    fn lines_of(events: &[Event]) -> Vec<DraftText> {
        let mut session = Session::default();
        let mut builder = TreeBuilder::new();
        for e in events {
            builder.add_event(&mut session, e);
        }
        builder
            .finish(&mut session)
            .into_iter()
            .map(|d| {
                (
                    session.lines.text(d.label).to_string(),
                    d.calls
                        .iter()
                        .map(|&c| session.lines.text(c).to_string())
                        .collect(),
                    d.exit.map(|e| session.lines.text(e).to_string()),
                    d.children,
                )
            })
            .collect()
    }

    #[test]
    fn processes_by_lineage_with_their_lines() {
        let shell = (100, 1_000);
        let child = (4242, 2_000);
        let mut failed = exec(child, &["nope"]);
        failed.ret = -2;
        failed.comm = Comm::from_bytes(b"sh");
        let got = lines_of(&[
            fork(shell, child),
            failed,
            exec(child, &["echo", "hello world", ""]),
            mount(child, "/tmp/tmp.AbCdEfGhIj"),
            exit(child, 3),
        ]);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, "proc sh");
        assert_eq!(got[0].3, vec![1]);
        assert_eq!(got[1].0, "proc echo", "named by what it ran");
        assert_eq!(
            got[1].1,
            vec![
                "exec /bin/nope [nope] = -ENOENT".to_string(),
                r#"exec /bin/echo [echo "hello world" ""]"#.to_string(),
                r#"mount("none", "/tmp/tmp.{rand}", "tmpfs", 0x0, "") = 0"#.to_string(),
            ]
        );
        assert_eq!(got[1].2.as_deref(), Some("exit 3"));
    }

    #[test]
    fn an_unfinished_call_is_neither_success_nor_failure() {
        let p = (9, 90);
        let mut held = mount(p, "/mnt");
        held.unfinished = Some(crate::event::Unfinished::Superseded);
        let mut exec_held = exec(p, &["sleep"]);
        exec_held.unfinished = Some(crate::event::Unfinished::TooOld);
        let got = lines_of(&[held, exec_held]);
        assert_eq!(
            got[0].1,
            vec![
                r#"mount("none", "/mnt", "tmpfs", 0x0, "") = ? (unfinished)"#.to_string(),
                "exec /bin/sleep [sleep] = ? (unfinished)".to_string(),
            ]
        );
    }

    #[test]
    fn threads_are_their_process_and_reserved_words_are_quoted() {
        let p = (7, 70);
        let mut thread = fork(p, (7, 71));
        if let Args::Fork { child_tid, .. } = &mut thread.args {
            *child_tid = 8;
        }
        let mut odd = exec(p, &["x", "...", "?", "a\"b", "\u{e9}"]);
        if let Args::Exec { args_truncated, .. } = &mut odd.args {
            *args_truncated = true;
        }
        let got = lines_of(&[thread, odd]);
        assert_eq!(got.len(), 1, "a thread is no process");
        assert_eq!(
            got[0].1,
            vec![r#"exec /bin/x [x "..." "?" "a\"b" "\xc3\xa9" ...]"#.to_string()]
        );
    }

    #[test]
    fn events_before_the_start_is_known_are_the_same_process() {
        // A process older than the capture (no snapshot): its exec comes
        // before the fork record that tells its start time.
        let storm = (50, 5);
        let mut early = exec(storm, &["storm", "3"]);
        early.proc_start_ns = None;
        let got = lines_of(&[
            early,
            fork(storm, (51, 6)),
            exec((51, 6), &["true"]),
            exit((51, 6), 0),
        ]);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].0, "proc storm");
        assert_eq!(got[0].1, vec!["exec /bin/storm [storm 3]".to_string()]);
        assert_eq!(got[0].3, vec![1]);
        // A fork's child with that pid is a new process, not the unknown one.
        let mut unknown = exec((60, 0), &["old"]);
        unknown.proc_start_ns = None;
        let got = lines_of(&[unknown, fork((1, 1), (60, 9)), exec((60, 9), &["new"])]);
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[0].1, vec!["exec /bin/old [old]".to_string()]);
        assert_eq!(got[2].1, vec!["exec /bin/new [new]".to_string()]);
    }

    #[test]
    fn a_path_search_is_its_exec() {
        let p = (5, 50);
        let attempt = |dir: &str, ret: i64| {
            let mut e = exec(p, &["tool", "-v"]);
            if let Args::Exec { filename, .. } = &mut e.args {
                *filename = Captured::from_bytes(format!("{dir}/tool").as_bytes());
            }
            e.ret = ret;
            e
        };
        let found = lines_of(&[
            attempt("/root/bin", -2),
            attempt("/usr/local/bin", -2),
            attempt("/usr/bin", 0),
        ]);
        assert_eq!(found[0].1, vec!["exec /usr/bin/tool [tool -v]".to_string()]);
        // Not found anywhere: the last attempt stays; another argv is no search.
        let missing = lines_of(&[
            attempt("/root/bin", -2),
            attempt("/usr/bin", -2),
            exec(p, &["other"]),
        ]);
        assert_eq!(
            missing[0].1,
            vec![
                "exec /usr/bin/tool [tool -v] = -ENOENT".to_string(),
                "exec /bin/other [other]".to_string()
            ]
        );
    }

    #[test]
    fn exit_lines() {
        assert_eq!(exit_line(0), "exit 0");
        assert_eq!(exit_line(3 << 8), "exit 3");
        assert_eq!(exit_line(9), "exit signal 9");
        assert_eq!(exit_line(6 | 0x80), "exit signal 6 core");
    }
}
