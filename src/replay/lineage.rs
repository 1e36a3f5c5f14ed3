//! Process lineage while a capture is read: which process each pid is now
//! (its identity: pid plus start time, which survives pid reuse), who
//! created it, and the fork and exit events built from the lifecycle
//! records. Fed by the start snapshot of the process table and by fork and
//! exit records, in capture order; memory is one small entry per process
//! alive (exited processes are dropped).
//!
//! Identity on events ([`Lineage::annotate`]): a pid names the process most
//! recently seen with it (in the snapshot or created by a fork record) that
//! has not exited. What the capture does not show (a fork lost in the kernel,
//! a process older than the capture when the snapshot was not taken) stays
//! unknown: `None`, never guessed.

use rustc_hash::FxHashMap;

use super::decode::{ForkRecord, ProcExitRecord};
use crate::event::{Args, Event, Syscall};
use crate::format::ProcessInfo;

/// The most links [`Lineage::is_descendant`] follows up the tree (a chain
/// longer than any real process tree; it also ends a cycle, which lying
/// records could make).
const MAX_DEPTH: usize = 4096;

/// The granularity of the snapshot's start times (/proc's clock ticks):
/// at most this much below the kernel's own start time of the process.
const SNAPSHOT_TICK_NS: u64 = 10_000_000;

/// What the lineage knows of one live process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Node {
    start_ns: u64,
    /// The start time came from the snapshot (a multiple of the tick).
    from_snapshot: bool,
    /// The process that created it (pid, start), when known: the fork's
    /// creator, or the snapshot's parent.
    creator: Option<(u32, u64)>,
}

impl Node {
    /// Whether the kernel's start time `start_ns` is this process's.
    fn is(&self, start_ns: u64) -> bool {
        self.start_ns == start_ns
            || (self.from_snapshot
                && start_ns >= self.start_ns
                && start_ns - self.start_ns < SNAPSHOT_TICK_NS)
    }
}

/// The live processes of a capture, by pid.
#[derive(Debug, Default)]
pub struct Lineage {
    live: FxHashMap<u32, Node>,
    /// Creators of processes that already exited, kept for ancestry queries
    /// about their descendants: (pid, start) → creator.
    ancestry: FxHashMap<(u32, u64), (u32, u64)>,
}

impl Lineage {
    pub fn new() -> Lineage {
        Lineage::default()
    }

    /// A process of the start snapshot.
    pub fn add_snapshot(&mut self, info: &ProcessInfo) {
        let creator = self.live.get(&info.ppid).map(|p| (info.ppid, p.start_ns));
        self.insert(info.pid, info.start_ns, creator, true);
    }

    fn insert(
        &mut self,
        pid: u32,
        start_ns: u64,
        creator: Option<(u32, u64)>,
        from_snapshot: bool,
    ) {
        if let Some(creator) = creator {
            self.ancestry.insert((pid, start_ns), creator);
        }
        self.live.insert(
            pid,
            Node {
                start_ns,
                from_snapshot,
                creator,
            },
        );
    }

    /// The start time the capture knows process (`pid`, kernel start
    /// `start_ns`) by: the snapshot's, when it is that process, else the
    /// kernel's.
    fn canonical(&self, pid: u32, start_ns: u64) -> u64 {
        match self.live.get(&pid) {
            Some(node) if node.is(start_ns) => node.start_ns,
            _ => start_ns,
        }
    }

    /// The start time of the live process `pid`, if known.
    pub fn start_of(&self, pid: u32) -> Option<u64> {
        self.live.get(&pid).map(|n| n.start_ns)
    }

    /// A fork record: a new process (or thread) now exists. Returns its event.
    pub fn fork_event(&mut self, f: &ForkRecord, wall_ns: i64) -> Event {
        // The creator's identity is in the record; learn it if new to us.
        let creator_start = self.canonical(f.pid, f.parent_start_ns);
        if self
            .live
            .get(&f.pid)
            .is_none_or(|n| n.start_ns != creator_start)
        {
            self.insert(f.pid, creator_start, None, false);
        }
        if !f.is_thread() {
            self.insert(
                f.child_pid,
                f.child_start_ns,
                Some((f.pid, creator_start)),
                false,
            );
        }
        Event {
            syscall: Syscall::Fork,
            ts_ns: f.ts_ns,
            wall_ns,
            latency_ns: 0,
            pid: f.pid,
            tid: f.tid,
            ppid: f.ppid,
            uid: f.uid,
            gid: f.gid,
            comm: f.comm,
            comm_before: f.comm,
            pcomm: f.pcomm,
            mnt_ns: f.mnt_ns,
            cgroup_id: f.cgroup_id,
            cgroup_path: None,
            ret: 0,
            unfinished: None,
            args: Args::Fork {
                child_pid: f.child_pid,
                child_tid: f.child_tid,
                clone_flags: f.clone_flags,
                child_start_ns: f.child_start_ns,
            },
            proc_start_ns: Some(creator_start),
            parent_start_ns: self.start_of(f.ppid),
        }
    }

    /// A process exit record: the process is gone. Returns its event.
    pub fn exit_event(&mut self, x: &ProcExitRecord, wall_ns: i64) -> Event {
        let start_ns = self.canonical(x.pid, x.start_ns);
        let event = Event {
            syscall: Syscall::Exit,
            ts_ns: x.ts_ns,
            wall_ns,
            latency_ns: 0,
            pid: x.pid,
            tid: x.tid,
            ppid: x.ppid,
            uid: x.uid,
            gid: x.gid,
            comm: x.comm,
            comm_before: x.comm,
            pcomm: x.pcomm,
            mnt_ns: x.mnt_ns,
            cgroup_id: x.cgroup_id,
            cgroup_path: None,
            ret: 0,
            unfinished: None,
            // The kernel's own start time: the lifetime is exact.
            args: Args::Exit {
                status: x.status,
                start_ns: x.start_ns,
            },
            proc_start_ns: Some(start_ns),
            parent_start_ns: self.start_of(x.ppid),
        };
        // Only the process the record names: a later one with the same pid
        // (reused) stays.
        if self.start_of(x.pid).is_none_or(|s| s == start_ns) {
            self.live.remove(&x.pid);
        }
        event
    }

    /// Sets the identities of a syscall event's process and parent.
    pub fn annotate(&self, event: &mut Event) {
        event.proc_start_ns = self.start_of(event.pid);
        event.parent_start_ns = self.start_of(event.ppid);
    }

    /// Whether the process of `event` is the process `ancestor` (a pid, as
    /// the user gave it) or descends from it, by the creation links the
    /// capture shows. The fork that created `ancestor` counts too: it is
    /// where that process's part of the tree begins.
    pub fn is_descendant(&self, event: &Event, ancestor: u32) -> bool {
        if event.pid == ancestor {
            return true;
        }
        if let Args::Fork { child_pid, .. } = event.args {
            if child_pid == ancestor && child_pid != event.pid {
                return true;
            }
        }
        match event.proc_start_ns.or_else(|| self.start_of(event.pid)) {
            Some(start) => self.descends((event.pid, start), ancestor),
            None => event.ppid == ancestor,
        }
    }

    /// Whether process `(pid, start)` is `ancestor` or was created,
    /// directly or not, by a process with that pid.
    pub fn descends(&self, mut at: (u32, u64), ancestor: u32) -> bool {
        if at.0 == ancestor {
            return true;
        }
        for _ in 0..MAX_DEPTH {
            let creator = self
                .ancestry
                .get(&at)
                .copied()
                .or_else(|| self.live.get(&at.0).filter(|n| n.start_ns == at.1)?.creator);
            match creator {
                Some(parent) if parent.0 == ancestor => return true,
                Some(parent) => at = parent,
                None => return false,
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Comm;

    fn fork(ts: u64, parent: (u32, u64), child: (u32, u64)) -> ForkRecord {
        ForkRecord {
            ts_ns: ts,
            pid: parent.0,
            tid: parent.0,
            parent_start_ns: parent.1,
            child_pid: child.0,
            child_tid: child.0,
            child_ppid: parent.0,
            child_start_ns: child.1,
            clone_flags: 0,
            cgroup_id: 1,
            ppid: 1,
            uid: 0,
            gid: 0,
            mnt_ns: 0,
            comm: Comm::from_bytes(b"parent"),
            pcomm: Comm::default(),
        }
    }

    fn exit(ts: u64, process: (u32, u64), ppid: u32) -> ProcExitRecord {
        ProcExitRecord {
            ts_ns: ts,
            pid: process.0,
            tid: process.0,
            start_ns: process.1,
            cgroup_id: 1,
            status: 0,
            ppid,
            uid: 0,
            gid: 0,
            mnt_ns: 0,
            comm: Comm::from_bytes(b"child"),
            pcomm: Comm::default(),
        }
    }

    /// A syscall event of `pid` (parent `ppid`), as the stream annotates it.
    fn syscall_event(lineage: &Lineage, pid: u32, ppid: u32) -> Event {
        let mut event = crate::render::test_events::event(
            Syscall::Umount,
            Args::Umount {
                target: crate::event::Captured::from_bytes(b"/mnt"),
                flags: 0,
            },
        );
        (event.pid, event.tid, event.ppid) = (pid, pid, ppid);
        lineage.annotate(&mut event);
        event
    }

    #[test]
    fn pid_reuse_gives_two_identities() {
        let mut l = Lineage::new();
        l.fork_event(&fork(10, (100, 1), (200, 10)), 0);
        let first = syscall_event(&l, 200, 100);
        assert_eq!(first.proc_start_ns, Some(10));
        let gone = l.exit_event(&exit(20, (200, 10), 100), 0);
        assert_eq!(gone.proc_start_ns, Some(10));
        // The pid comes back for another process.
        l.fork_event(&fork(30, (100, 1), (200, 30)), 0);
        let second = syscall_event(&l, 200, 100);
        assert_eq!(second.proc_start_ns, Some(30));
        assert_ne!(first.proc_start_ns, second.proc_start_ns);
        // A late exit of the first one does not end the second.
        l.exit_event(&exit(31, (200, 10), 100), 0);
        assert_eq!(l.start_of(200), Some(30));
    }

    #[test]
    fn lost_fork_leaves_the_identity_unknown_until_the_exit_says_it() {
        let mut l = Lineage::new();
        let event = syscall_event(&l, 300, 100);
        assert_eq!(event.proc_start_ns, None, "never guessed");
        assert!(!l.is_descendant(&event, 100) || event.ppid == 100);
        // The exit record carries the start time: the exit event has it.
        let gone = l.exit_event(&exit(50, (300, 42), 100), 0);
        assert_eq!(gone.proc_start_ns, Some(42));
    }

    #[test]
    fn lost_exit_is_replaced_by_the_next_fork_of_the_pid() {
        let mut l = Lineage::new();
        l.fork_event(&fork(10, (100, 1), (200, 10)), 0);
        // Its exit was lost; the pid is reused.
        l.fork_event(&fork(40, (100, 1), (200, 40)), 0);
        assert_eq!(l.start_of(200), Some(40));
    }

    #[test]
    fn capture_starting_mid_tree_learns_creators_from_fork_records() {
        let mut l = Lineage::new();
        // The shell (pid 100) started before the capture and no snapshot:
        // its first fork record names it.
        let fork_event = l.fork_event(&fork(10, (100, 5), (200, 10)), 0);
        assert_eq!(fork_event.proc_start_ns, Some(5));
        l.fork_event(&fork(20, (200, 10), (300, 20)), 0);
        let grandchild = syscall_event(&l, 300, 200);
        assert_eq!(grandchild.parent_start_ns, Some(10));
        assert!(l.is_descendant(&grandchild, 100));
        assert!(l.is_descendant(&grandchild, 200));
        assert!(!l.is_descendant(&grandchild, 5));
        // Still a descendant once its parent has exited (reparented).
        l.exit_event(&exit(30, (200, 10), 100), 0);
        let later = syscall_event(&l, 300, 1);
        assert!(l.is_descendant(&later, 100));
    }

    #[test]
    fn snapshot_start_times_match_the_kernels_within_a_tick() {
        let mut l = Lineage::new();
        l.add_snapshot(&ProcessInfo {
            pid: 100,
            ppid: 1,
            start_ns: 2_000_000_000,
            ..ProcessInfo::default()
        });
        // The kernel's start is the snapshot's plus less than a tick.
        let gone = l.exit_event(&exit(9_000_000_000, (100, 2_004_000_000), 1), 0);
        assert_eq!(gone.proc_start_ns, Some(2_000_000_000), "one identity");
        assert_eq!(l.start_of(100), None, "it exited");
    }

    #[test]
    fn exit_without_fork_is_an_exit_event() {
        let mut l = Lineage::new();
        let gone = l.exit_event(&exit(5, (400, 1), 1), 0);
        assert_eq!(gone.syscall, Syscall::Exit);
        assert_eq!(gone.pid, 400);
        assert_eq!(gone.parent_start_ns, None);
    }
}
