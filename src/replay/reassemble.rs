//! Reassembly: pairs entry and exit records into events, tolerating loss.
//!
//! Feed [`Reassembler::push`] the decoded records of one capture in capture
//! order; it returns an [`Event`] whenever an exit completes a pending entry.
//! Entries are paired with exits by thread id and syscall (a thread is in at
//! most one syscall at a time), with one exception: an exec that succeeds in a
//! non-leader thread exits under the leader's id (the kernel makes the caller
//! the leader), so an exec exit with no exec pending on its thread is paired
//! with an exec pending anywhere in the same process.
//!
//! What cannot be paired is counted in [`ReassemblyStats`], never dropped
//! silently: exits without an entry (`orphan_exits`: the capture began during
//! the call, or the entry was lost) and entries without an exit
//! (`incomplete_entries`: the exit was lost, the table was full, the entry was
//! too old, or the capture ended during the call). Entries without an exit can
//! also be kept ([`ReassemblyConfig::keep_incomplete`]) and taken with
//! [`Reassembler::pop_incomplete`].
//!
//! Per record the work is O(1) amortised and allocates nothing beyond the
//! event's own strings.

use std::collections::hash_map::Entry;
use std::collections::VecDeque;

use crate::event::{Args, Captured, Event, Syscall};
use crate::replay::decode::{EnterRecord, ExitRecord, RawRecord};

/// Pending-entry table size of [`ReassemblyConfig::default`].
pub const DEFAULT_MAX_PENDING: usize = 65536;
/// Entry age limit of [`ReassemblyConfig::default`]: 600 s of boot-clock time.
pub const DEFAULT_MAX_AGE_NS: u64 = 600_000_000_000;

/// Bounds and options of the pairing table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReassemblyConfig {
    /// At most this many entries wait for their exit; when the table is full
    /// the oldest is flushed as incomplete. At least 1.
    pub max_pending: usize,
    /// An entry this much boot-clock time older than the newest record seen
    /// is flushed as incomplete.
    pub max_age_ns: u64,
    /// Keep flushed entries for [`Reassembler::pop_incomplete`] (otherwise
    /// they are only counted).
    pub keep_incomplete: bool,
}

impl Default for ReassemblyConfig {
    fn default() -> Self {
        ReassemblyConfig {
            max_pending: DEFAULT_MAX_PENDING,
            max_age_ns: DEFAULT_MAX_AGE_NS,
            keep_incomplete: false,
        }
    }
}

/// Why an entry was given up on: the event model's [`crate::event::Unfinished`]
/// (`TooOld`: older than [`ReassemblyConfig::max_age_ns`] behind the newest
/// record).
pub use crate::event::Unfinished as IncompleteReason;

/// An entry that never got its exit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncompleteEvent {
    pub reason: IncompleteReason,
    /// Wall-clock time of the entry (see [`Reassembler::wall_ns`]).
    pub wall_ns: i64,
    pub entry: EnterRecord,
    /// The source tags of its entry and refetch records, when the caller
    /// tags records ([`Reassembler::set_source`]); else empty.
    pub sources: Vec<u64>,
}

impl IncompleteEvent {
    /// The entry as an unfinished event: no return value, no latency, and
    /// the comm at entry as `comm` too (no exit says what came after).
    pub fn into_event(self) -> Event {
        let entry = self.entry;
        Event {
            syscall: entry.syscall,
            ts_ns: entry.ts_ns,
            wall_ns: self.wall_ns,
            latency_ns: 0,
            pid: entry.pid,
            tid: entry.tid,
            ppid: entry.ppid,
            uid: entry.uid,
            gid: entry.gid,
            comm: entry.comm,
            comm_before: entry.comm,
            pcomm: entry.pcomm,
            mnt_ns: entry.mnt_ns,
            cgroup_id: entry.cgroup_id,
            cgroup_path: None,
            ret: 0,
            unfinished: Some(self.reason),
            args: entry.args,
            proc_start_ns: None,
            parent_start_ns: None,
        }
    }
}

/// Pairing counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReassemblyStats {
    /// Entry records pushed.
    pub entries: u64,
    /// Exit records pushed.
    pub exits: u64,
    /// Events produced (entry and exit paired).
    pub events: u64,
    /// Exits whose entry is missing; never turned into events.
    pub orphan_exits: u64,
    /// Entries without an exit, all reasons (the sum of the four below).
    pub incomplete_entries: u64,
    pub incomplete_superseded: u64,
    pub incomplete_table_full: u64,
    pub incomplete_too_old: u64,
    pub incomplete_at_end: u64,
    /// Of `events`: execs from a non-leader thread paired through the process id.
    pub exec_leader_pairings: u64,
    /// The most entries that were pending at once.
    pub peak_pending: usize,
    /// Refetch records (arguments re-read after the call) merged into a
    /// pending entry, and those that found no pending entry.
    pub refetches_merged: u64,
    pub refetches_unmatched: u64,
    /// Of `events`: execs seen only at sched_process_exec (a 32-bit caller
    /// execing a 32-bit program, a kernel-started exec, or an exec whose
    /// entry was lost).
    pub exec_records_alone: u64,
}

/// What loss did to a capture's events: kernel-side counts and pairing
/// counters side by side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LossSummary {
    /// Entry records lost in the kernel: the loss counters
    /// `SC_LOST_ENTER_RINGBUF` + `SC_LOST_SCRATCH_BUSY`.
    pub lost_entries: u64,
    /// Exit records lost in the kernel (`SC_LOST_EXIT_RINGBUF`).
    pub lost_exits: u64,
    /// Exits replay could not pair.
    pub orphan_exits: u64,
    /// Entries replay could not pair.
    pub incomplete_entries: u64,
    /// Syscalls that are not shown as events: `lost_entries +
    /// incomplete_entries`. A lost exit leaves an entry without exit (already
    /// counted there); a lost entry is counted once whether or not its exit
    /// arrived as an orphan.
    pub events_affected: u64,
}

impl ReassemblyStats {
    /// Syscalls affected by loss: lost entries plus entries without exit.
    pub fn events_affected(&self, lost_entries: u64) -> u64 {
        lost_entries.saturating_add(self.incomplete_entries)
    }

    /// The loss report for `replay`'s stderr and `--info`, from the kernel's
    /// loss counters (entries lost, exits lost) and these counters.
    pub fn loss_summary(&self, lost_entries: u64, lost_exits: u64) -> LossSummary {
        LossSummary {
            lost_entries,
            lost_exits,
            orphan_exits: self.orphan_exits,
            incomplete_entries: self.incomplete_entries,
            events_affected: self.events_affected(lost_entries),
        }
    }
}

/// A point where the boot clock and the wall clock were read together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Anchor {
    boot_ns: u64,
    wall_ns: i64,
}

/// A pending entry, with its sequence number in the age queue. Boxed: the
/// entry is a few hundred bytes, and the table moves its values around
/// (insert, remove); a box is moved as one pointer.
#[derive(Debug)]
struct Pending {
    seq: u64,
    entry: Box<EnterRecord>,
    /// The sources of the records merged into it (entry, refetches), when
    /// the caller tags records ([`Reassembler::set_source`]); else empty,
    /// which allocates nothing.
    sources: Vec<u64>,
}

type IdMap<V> = rustc_hash::FxHashMap<u32, V>;

/// The pending entries by thread id. The entry added last is kept out of
/// the map: a call's exit nearly always comes before the next entry, and
/// then the pair costs no map operation at all.
#[derive(Debug, Default)]
struct PendingTable {
    last: Option<(u32, Pending)>,
    map: IdMap<Pending>,
}

impl PendingTable {
    fn is_last(&self, tid: u32) -> bool {
        matches!(&self.last, Some((t, _)) if *t == tid)
    }

    fn get(&self, tid: &u32) -> Option<&Pending> {
        match &self.last {
            Some((t, p)) if t == tid => Some(p),
            _ => self.map.get(tid),
        }
    }

    fn get_mut(&mut self, tid: &u32) -> Option<&mut Pending> {
        if self.is_last(*tid) {
            return self.last.as_mut().map(|(_, p)| p);
        }
        self.map.get_mut(tid)
    }

    fn remove(&mut self, tid: &u32) -> Option<Pending> {
        if self.is_last(*tid) {
            return self.last.take().map(|(_, p)| p);
        }
        if self.map.is_empty() {
            return None;
        }
        self.map.remove(tid)
    }

    /// Adds the entry of a thread with nothing pending (the caller removed
    /// what was).
    fn insert(&mut self, tid: u32, pending: Pending) {
        if let Some((t, previous)) = self.last.replace((tid, pending)) {
            if t != tid {
                self.map.insert(t, previous);
            }
        }
    }

    fn len(&self) -> usize {
        self.map.len() + usize::from(self.last.is_some())
    }

    fn values_mut(&mut self) -> impl Iterator<Item = &mut Pending> {
        self.last
            .iter_mut()
            .map(|(_, p)| p)
            .chain(self.map.values_mut())
    }
}

/// Pairs entry and exit records into events. One per capture (boot clocks of
/// different captures are unrelated); call [`finish`](Self::finish) at its end.
#[derive(Debug)]
pub struct Reassembler {
    config: ReassemblyConfig,
    /// Pending entries by thread id.
    pending: PendingTable,
    /// (seq, tid, ts) of pending entries in arrival order; an item whose seq
    /// no longer matches `pending[tid]` is stale (lazy deletion).
    order: VecDeque<(u64, u32, u64)>,
    next_seq: u64,
    /// Pending execs of non-leader threads: pid → their tids.
    exec_waiters: IdMap<Vec<u32>>,
    newest_ts: u64,
    anchors: Vec<Anchor>,
    incomplete: VecDeque<IncompleteEvent>,
    stats: ReassemblyStats,
    /// The source tag of the record being pushed ([`Reassembler::set_source`]).
    source: Option<u64>,
    /// The sources of the last event made.
    event_sources: Vec<u64>,
}

impl Default for Reassembler {
    fn default() -> Self {
        Reassembler::new(ReassemblyConfig::default())
    }
}

impl Reassembler {
    pub fn new(config: ReassemblyConfig) -> Reassembler {
        Reassembler {
            config: ReassemblyConfig {
                max_pending: config.max_pending.max(1),
                ..config
            },
            pending: PendingTable::default(),
            order: VecDeque::new(),
            next_seq: 0,
            exec_waiters: IdMap::default(),
            newest_ts: 0,
            anchors: Vec::new(),
            incomplete: VecDeque::new(),
            stats: ReassemblyStats::default(),
            source: None,
            event_sources: Vec::new(),
        }
    }

    /// Tags the records pushed from now on with `source` (their position in
    /// the capture, say) until the next call; `None` stops tagging. An event
    /// made while tagging knows the tags of every record it was made of
    /// ([`Reassembler::event_sources`]): what a rewrite of the capture keeps.
    pub fn set_source(&mut self, source: Option<u64>) {
        self.source = source;
        self.event_sources.clear();
    }

    /// The source tags of the records of the event the last push returned
    /// (entry, refetches and the record that ended it), in push order.
    /// Empty without tagging.
    pub fn event_sources(&self) -> &[u64] {
        &self.event_sources
    }

    /// Notes the sources of an event being made from `pending` and the
    /// record being pushed.
    fn note_sources(&mut self, pending: Option<&mut Pending>) {
        if let Some(source) = self.source {
            self.event_sources.clear();
            if let Some(p) = pending {
                self.event_sources.append(&mut p.sources);
            }
            self.event_sources.push(source);
        }
    }

    pub fn config(&self) -> &ReassemblyConfig {
        &self.config
    }

    /// Adds a clock anchor: at boot-clock time `boot_ns` the wall clock read
    /// `wall_ns` (ns since the Unix epoch). Anchors may come in any order.
    pub fn add_clock_anchor(&mut self, boot_ns: u64, wall_ns: i64) {
        let anchor = Anchor { boot_ns, wall_ns };
        match self.anchors.last() {
            Some(last) if last.boot_ns > boot_ns => {
                let at = self.anchors.partition_point(|a| a.boot_ns <= boot_ns);
                self.anchors.insert(at, anchor);
            }
            _ => self.anchors.push(anchor),
        }
    }

    /// The wall-clock time of boot-clock time `ts_ns`: from the latest anchor
    /// at or before it, or the first anchor if it precedes them all. Without
    /// any anchor the boot-clock time itself (as if booted at the epoch).
    pub fn wall_ns(&self, ts_ns: u64) -> i64 {
        let anchor = match self.anchors.last() {
            Some(last) if last.boot_ns <= ts_ns => *last,
            Some(_) => {
                let at = self.anchors.partition_point(|a| a.boot_ns <= ts_ns);
                self.anchors
                    .get(at.saturating_sub(1))
                    .copied()
                    .unwrap_or(Anchor {
                        boot_ns: 0,
                        wall_ns: 0,
                    })
            }
            None => Anchor {
                boot_ns: 0,
                wall_ns: 0,
            },
        };
        let wall = i128::from(anchor.wall_ns) + i128::from(ts_ns) - i128::from(anchor.boot_ns);
        wall.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }

    /// Feeds one record; returns the event it completes, if any.
    pub fn push(&mut self, record: RawRecord) -> Option<Event> {
        match record {
            RawRecord::Enter(entry) => {
                self.push_enter(entry);
                None
            }
            RawRecord::Exit(exit) => self.push_exit(&exit),
            RawRecord::Refetch(refetch) => {
                self.push_refetch(refetch);
                None
            }
            RawRecord::Exec(exec) => self.push_exec(exec),
            // Lifecycle records pair with nothing: the stream's lineage takes them.
            RawRecord::Fork(_) | RawRecord::ProcExit(_) => None,
        }
    }

    /// Feeds a `SC_REC_EXEC` record: a successful exec the syscall
    /// tracepoints do not show whole. Returns the event it makes, if any:
    /// - the new image is 32-bit and the caller was a native execve: its exit
    ///   is never traced, so the record ends the pending entry (ret 0, the
    ///   latency up to this record, the new comm);
    /// - the caller was a 32-bit program or the kernel and the new image is
    ///   64-bit: no entry was traced, but an execve exit follows: the record
    ///   waits for it like an entry;
    /// - otherwise (no entry to end, no exit to come) the record is the whole
    ///   event: ret 0, latency 0.
    pub fn push_exec(&mut self, exec: Box<EnterRecord>) -> Option<Event> {
        if !exec.exec_without_syscall() {
            self.observe(exec.ts_ns);
            let caller = exec.exec_caller_tid;
            let pending = match self.pending.get(&caller) {
                Some(p) if p.entry.syscall.is_exec() => self.remove_pending(caller),
                _ => self.take_exec_waiter(exec.pid, exec.syscall),
            };
            if let Some(mut p) = pending {
                self.stats.events += 1;
                self.note_sources(Some(&mut p));
                let done = exec_done_exit(&exec, p.entry.syscall);
                return Some(self.make_event(p.entry, &done));
            }
        } else if !exec.exec_compat_image() {
            self.push_enter(exec);
            return None;
        }
        self.observe(exec.ts_ns);
        self.stats.events += 1;
        self.stats.exec_records_alone += 1;
        self.note_sources(None);
        let done = exec_done_exit(&exec, exec.syscall);
        Some(self.make_event(exec, &done))
    }

    /// Feeds a refetch record: the arguments of a pending call read again
    /// after the kernel used them, merged into the pending entry that asked
    /// for them (`SC_ENTER_REFETCH`) on its thread (or, for an exec, on any
    /// thread of its process when the refetch comes as the leader). See
    /// [`merge_refetched`] for what is taken from it.
    pub fn push_refetch(&mut self, refetch: Box<EnterRecord>) {
        let tid = refetch.tid;
        let syscall = refetch.syscall;
        // The BPF side writes a refetch record only for an entry that said
        // so: one whose entry was lost must not land in an older call.
        let asked = |p: &Pending| {
            pairs_with(p.entry.syscall, syscall)
                && u64::from(p.entry.flags) & crate::bpf::layout::SC_ENTER_REFETCH != 0
        };
        let target = if self.pending.get(&tid).is_some_and(asked) {
            Some(tid)
        } else if syscall.is_exec() && tid == refetch.pid {
            // Read in the new image of an exec by a non-leader thread.
            self.exec_waiters.get(&refetch.pid).and_then(|tids| {
                tids.iter()
                    .copied()
                    .find(|t| self.pending.get(t).is_some_and(asked))
            })
        } else {
            None
        };
        match target.and_then(|t| self.pending.get_mut(&t)) {
            Some(pending) => {
                if let Some(source) = self.source {
                    pending.sources.push(source);
                }
                let deferred = pending.entry.deferred();
                merge_refetched(&mut pending.entry.args, refetch.args, pending.entry.flags);
                if deferred {
                    // The argv flags are the refetch's now; it is no longer deferred.
                    pending.entry.flags =
                        refetch.flags | crate::bpf::layout::SC_ENTER_REFETCH as u16;
                }
                self.stats.refetches_merged += 1;
            }
            None => self.stats.refetches_unmatched += 1,
        }
    }

    /// Feeds one entry record.
    pub fn push_enter(&mut self, entry: Box<EnterRecord>) {
        self.stats.entries += 1;
        self.observe(entry.ts_ns);
        let tid = entry.tid;
        // A thread is in one syscall at a time: an entry still pending on this
        // thread lost its exit.
        if let Some(old) = self.remove_pending(tid) {
            self.flush(old, IncompleteReason::Superseded);
        }
        while self.pending.len() >= self.config.max_pending {
            match self.pop_oldest() {
                Some(oldest) => self.flush(oldest, IncompleteReason::TableFull),
                None => break,
            }
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.order.push_back((seq, tid, entry.ts_ns));
        if entry.syscall.is_exec() && entry.tid != entry.pid {
            self.exec_waiters.entry(entry.pid).or_default().push(tid);
        }
        self.pending.insert(
            tid,
            Pending {
                seq,
                entry,
                sources: self.source.map(|s| vec![s]).unwrap_or_default(),
            },
        );
        self.stats.peak_pending = self.stats.peak_pending.max(self.pending.len());
        self.compact_order();
    }

    /// Feeds one exit record; returns the event it completes, if any.
    ///
    /// A successful execveat exits through the execve exit tracepoint (the
    /// syscall number is read from the new image's registers), so an exec
    /// exit pairs with either exec entry; the event keeps the entry's syscall.
    pub fn push_exit(&mut self, exit: &ExitRecord) -> Option<Event> {
        let mut event = None;
        self.push_exit_into(exit, &mut event);
        event
    }

    /// [`Reassembler::push_exit`], the event written to `slot` (the stream's
    /// lent slot) instead of returned: an `Option<Event>` of a few hundred
    /// bytes is then not written for every exit, only for one that
    /// completes an event. `slot` is left as it is when it completes none.
    pub fn push_exit_into(&mut self, exit: &ExitRecord, slot: &mut Option<Event>) {
        self.stats.exits += 1;
        self.observe(exit.ts_ns);
        let tid = exit.tid;
        let mut paired = None;
        // Whatever is pending on the thread ends here: its call or another
        // one, which the thread left (that call's exit was lost).
        if let Some(p) = self.remove_pending(tid) {
            if pairs_with(p.entry.syscall, exit.syscall) {
                paired = Some(p);
            } else {
                self.flush(p, IncompleteReason::Superseded);
            }
        }
        if paired.is_none() && exit.syscall.is_exec() && tid == exit.pid {
            // An exec that succeeded in a non-leader thread exits as the leader.
            paired = self.take_exec_waiter(exit.pid, exit.syscall);
            if paired.is_some() {
                self.stats.exec_leader_pairings += 1;
            }
        }
        match paired {
            Some(mut p) => {
                self.stats.events += 1;
                self.note_sources(Some(&mut p));
                *slot = Some(self.make_event(p.entry, exit));
            }
            None => self.stats.orphan_exits += 1,
        }
    }

    /// Gives the strings of every entry still pending, or given up on and
    /// not yet taken, buffers of their own: they may be slices of the frame
    /// the reader is done with ([`crate::event::CapturedBytes::shared`]).
    pub fn detach_frame(&mut self) {
        for pending in self.pending.values_mut() {
            pending.entry.args.detach();
        }
        for incomplete in &mut self.incomplete {
            incomplete.entry.args.detach();
        }
    }

    /// Flushes every pending entry as incomplete (the capture ended).
    pub fn finish(&mut self) {
        while let Some(p) = self.pop_oldest() {
            self.flush(p, IncompleteReason::EndOfCapture);
        }
        self.order.clear();
        self.exec_waiters.clear();
    }

    /// The next entry given up on, oldest first; only with
    /// [`ReassemblyConfig::keep_incomplete`].
    pub fn pop_incomplete(&mut self) -> Option<IncompleteEvent> {
        self.incomplete.pop_front()
    }

    pub fn stats(&self) -> &ReassemblyStats {
        &self.stats
    }

    /// Entries waiting for their exit.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    fn make_event(&self, entry: Box<EnterRecord>, exit: &ExitRecord) -> Event {
        Event {
            syscall: entry.syscall,
            ts_ns: entry.ts_ns,
            wall_ns: self.wall_ns(entry.ts_ns),
            latency_ns: exit.ts_ns.saturating_sub(entry.ts_ns),
            pid: entry.pid,
            tid: entry.tid,
            ppid: entry.ppid,
            uid: entry.uid,
            gid: entry.gid,
            comm: exit.comm,
            comm_before: entry.comm,
            pcomm: entry.pcomm,
            mnt_ns: entry.mnt_ns,
            cgroup_id: entry.cgroup_id,
            cgroup_path: None,
            ret: exit.ret,
            unfinished: None,
            args: entry.args,
            proc_start_ns: None,
            parent_start_ns: None,
        }
    }

    /// Notes a record's time and flushes entries that are now too old.
    fn observe(&mut self, ts_ns: u64) {
        self.newest_ts = self.newest_ts.max(ts_ns);
        while let Some(&(seq, tid, ts)) = self.order.front() {
            if !self.is_live(seq, tid) {
                self.order.pop_front();
            } else if self.newest_ts - ts.min(self.newest_ts) > self.config.max_age_ns {
                self.order.pop_front();
                if let Some(p) = self.remove_pending(tid) {
                    self.flush(p, IncompleteReason::TooOld);
                }
            } else {
                break;
            }
        }
    }

    fn is_live(&self, seq: u64, tid: u32) -> bool {
        self.pending.get(&tid).is_some_and(|p| p.seq == seq)
    }

    /// Removes and returns the oldest pending entry.
    fn pop_oldest(&mut self) -> Option<Pending> {
        while let Some((seq, tid, _)) = self.order.pop_front() {
            if self.is_live(seq, tid) {
                return self.remove_pending(tid);
            }
        }
        None
    }

    /// Drops stale queue items once they outnumber the live ones, so that a
    /// long-pending entry at the front cannot make the queue grow without
    /// bound. Amortised O(1): it runs after at least as many pushes as it
    /// visits items.
    fn compact_order(&mut self) {
        if self.order.len() > 2 * self.pending.len() + 1024 {
            let pending = &self.pending;
            self.order
                .retain(|&(seq, tid, _)| pending.get(&tid).is_some_and(|p| p.seq == seq));
        }
    }

    /// Removes the entry pending on `tid`, keeping the exec index in step.
    fn remove_pending(&mut self, tid: u32) -> Option<Pending> {
        let p = self.pending.remove(&tid)?;
        if p.entry.syscall.is_exec() && p.entry.tid != p.entry.pid {
            if let Entry::Occupied(mut waiters) = self.exec_waiters.entry(p.entry.pid) {
                waiters.get_mut().retain(|&t| t != tid);
                if waiters.get().is_empty() {
                    waiters.remove();
                }
            }
        }
        Some(p)
    }

    /// The earliest pending exec (paired with `syscall`) by a non-leader thread of `pid`.
    fn take_exec_waiter(&mut self, pid: u32, syscall: Syscall) -> Option<Pending> {
        let tid = self.exec_waiters.get(&pid).and_then(|tids| {
            tids.iter().copied().find(|t| {
                self.pending
                    .get(t)
                    .is_some_and(|p| pairs_with(p.entry.syscall, syscall))
            })
        })?;
        self.remove_pending(tid)
    }

    fn flush(&mut self, p: Pending, reason: IncompleteReason) {
        let stats = &mut self.stats;
        stats.incomplete_entries += 1;
        match reason {
            IncompleteReason::Superseded => stats.incomplete_superseded += 1,
            IncompleteReason::TableFull => stats.incomplete_table_full += 1,
            IncompleteReason::TooOld => stats.incomplete_too_old += 1,
            IncompleteReason::EndOfCapture => stats.incomplete_at_end += 1,
        }
        if self.config.keep_incomplete {
            let wall_ns = self.wall_ns(p.entry.ts_ns);
            self.incomplete.push_back(IncompleteEvent {
                reason,
                wall_ns,
                entry: *p.entry,
                sources: p.sources,
            });
        }
    }
}

/// Merges a refetch record's arguments into its entry's (whose raw flags are
/// `entry_flags`); docs/EVENTS.md, "Merging a refetch record", says the same:
///
/// - integer arguments always stay the entry's;
/// - an exec entry that deferred its strings takes the refetched filename,
///   argv and argv verdict (`args_truncated`) whole;
/// - otherwise every item the entry could not read (`FAULT`) takes the
///   refetched item at the same position when that one was read; items read
///   at entry keep their value. An exec argv the entry did not read to its
///   end (`ARGV_FAULT`, or an argv item with `FAULT`) also gets the refetched
///   items beyond the entry's, and the refetch's `args_truncated`.
fn merge_refetched(entry: &mut Args, refetched: Args, entry_flags: u16) {
    let deferred = u64::from(entry_flags) & crate::bpf::layout::SC_ENTER_DEFERRED != 0;
    let argv_fault = u64::from(entry_flags) & crate::bpf::layout::SC_ENTER_ARGV_FAULT != 0;
    fn fill(slot: &mut Captured, value: Captured) {
        if slot.fault && !value.fault {
            *slot = value;
        }
    }
    match (entry, refetched) {
        (
            Args::Exec {
                filename,
                args,
                args_truncated,
                ..
            },
            Args::Exec {
                filename: new_filename,
                args: new_args,
                args_truncated: new_truncated,
                ..
            },
        ) => {
            if deferred {
                (*filename, *args, *args_truncated) = (new_filename, new_args, new_truncated);
                return;
            }
            fill(filename, new_filename);
            if argv_fault || args.iter().any(|a| a.fault) {
                let mut new_args = new_args.into_iter();
                for slot in args.iter_mut() {
                    if let Some(value) = new_args.next() {
                        fill(slot, value);
                    }
                }
                args.extend(new_args);
                *args_truncated = new_truncated;
            }
        }
        (
            Args::Mount {
                source,
                target,
                fstype,
                data,
                ..
            },
            Args::Mount {
                source: s,
                target: t,
                fstype: f,
                data: d,
                ..
            },
        ) => {
            fill(source, s);
            fill(target, t);
            fill(fstype, f);
            fill(data, d);
        }
        (Args::Umount { target, .. }, Args::Umount { target: t, .. }) => fill(target, t),
        (Args::Fsopen { fsname, .. }, Args::Fsopen { fsname: n, .. }) => fill(fsname, n),
        (
            Args::Fsconfig { key, value, .. },
            Args::Fsconfig {
                key: k, value: v, ..
            },
        ) => {
            fill(key, k);
            fill(value, v);
        }
        (
            Args::MoveMount {
                from_path, to_path, ..
            },
            Args::MoveMount {
                from_path: f,
                to_path: t,
                ..
            },
        ) => {
            fill(from_path, f);
            fill(to_path, t);
        }
        (Args::OpenTree { path, .. }, Args::OpenTree { path: p, .. })
        | (Args::Fspick { path, .. }, Args::Fspick { path: p, .. }) => fill(path, p),
        (
            Args::MountSetattr { path, attr, .. },
            Args::MountSetattr {
                path: p, attr: a, ..
            },
        ) => {
            fill(path, p);
            fill(attr, a);
        }
        _ => {}
    }
}

/// The exit an exec record stands for: success, at the record's time, with
/// the new image's comm.
fn exec_done_exit(exec: &EnterRecord, syscall: Syscall) -> ExitRecord {
    ExitRecord {
        syscall,
        ts_ns: exec.ts_ns,
        pid: exec.pid,
        tid: exec.tid,
        ret: 0,
        comm: exec.comm,
    }
}

/// Whether an exit of `exit` completes a pending entry of `entry`.
fn pairs_with(entry: Syscall, exit: Syscall) -> bool {
    entry == exit || (entry.is_exec() && exit.is_exec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bpf::layout;
    use crate::replay::decode::testutil::{
        exit as exit_bytes, item, s as str_item, sample_enter, Enter,
    };
    use crate::replay::decode::{decode, Comm};

    const S: u64 = 1_000_000_000;

    fn enter(syscall: Syscall, ts: u64, pid: u32, tid: u32) -> RawRecord {
        decode(&sample_enter(syscall, ts, pid, tid).build(), 1).expect("valid entry")
    }

    fn exit(syscall: Syscall, ts: u64, pid: u32, tid: u32, ret: i64) -> RawRecord {
        decode(&exit_bytes(syscall, ts, pid, tid, ret, "after"), 1).expect("valid exit")
    }

    const FAULT: u64 = layout::SC_STR_FAULT;

    fn mount_record(kind: u64, ts: u64, tid: u32, source: Vec<u8>, target: Vec<u8>) -> RawRecord {
        let mut b = Enter::new(Syscall::Mount, ts, tid, tid)
            .arg(3, 0x1000)
            .item(source)
            .item(target)
            .item(str_item("ext4"))
            .item(str_item(""));
        b.e.hdr.kind = kind as u8;
        if kind == layout::SC_REC_ENTER {
            b.e.flags = layout::SC_ENTER_REFETCH as u16;
        }
        decode(&b.build(), 1).expect("valid record")
    }

    /// An entry decoded from a frame shares the frame's long strings until
    /// the frame is done with; then it gets its own and the frame is free
    /// for the reader to reuse, and the event still has every byte.
    #[test]
    fn pending_strings_let_go_of_their_frame() {
        let target = "/var/lib/containers/storage/overlay/some-long-layer-id/merged";
        let raw = Enter::new(Syscall::Umount, 10, 7, 7)
            .arg(1, 2)
            .item(str_item(target))
            .build();
        let frame = std::sync::Arc::new(raw);
        let mut shares = crate::event::FrameShares::default();
        let in_frame = crate::replay::decode::InFrame {
            buffer: &frame,
            shares: &mut shares,
        };
        let Ok(RawRecord::Enter(entry)) =
            crate::replay::decode::decode_in(&frame, 1, Some(in_frame))
        else {
            panic!("the entry decodes");
        };
        let mut r = Reassembler::default();
        r.push_enter(entry);
        assert!(
            std::sync::Arc::strong_count(&frame) > 1,
            "the string is a slice of the frame"
        );
        r.detach_frame();
        assert_eq!(
            std::sync::Arc::strong_count(&frame),
            1,
            "nothing holds the frame"
        );
        let RawRecord::Exit(x) = exit(Syscall::Umount, 20, 7, 7, 0) else {
            panic!("an exit");
        };
        let event = r.push_exit(&x).expect("paired");
        let Args::Umount { target: got, .. } = &event.args else {
            panic!("an umount");
        };
        assert_eq!(got.bytes, target.as_bytes());
        assert!(!got.bytes.is_shared());
    }

    /// The entry kept out of the map and those in it pair alike, whatever
    /// order their exits come in.
    #[test]
    fn entries_pair_in_any_exit_order() {
        let mut r = Reassembler::default();
        let tids = [11, 12, 13, 14];
        for (i, &tid) in tids.iter().enumerate() {
            r.push(enter(Syscall::Umount, 10 + i as u64, tid, tid));
        }
        assert_eq!(r.pending(), 4);
        for &tid in [13, 14, 11, 12].iter() {
            let event = r
                .push(exit(Syscall::Umount, 100 + u64::from(tid), tid, tid, 0))
                .expect("paired");
            assert_eq!(event.tid, tid);
        }
        assert_eq!(r.pending(), 0);
        assert_eq!(r.stats().orphan_exits, 0);
        assert_eq!(r.push(exit(Syscall::Umount, 200, 11, 11, 0)), None);
        assert_eq!(r.stats().orphan_exits, 1);
    }

    /// docs/EVENTS.md, Merging a refetch record: only an entry that asked
    /// for one (REFETCH) takes it.
    #[test]
    fn refetch_needs_an_entry_that_asked_for_it() {
        let mut r = kept();
        let mut entry = Enter::new(Syscall::Umount, 10, 50, 50).item(item(b"", FAULT));
        entry.e.flags = 0;
        let mut refetch = Enter::new(Syscall::Umount, 15, 50, 50).item(str_item("/mnt"));
        refetch.e.hdr.kind = layout::SC_REC_REFETCH as u8;
        let events = run(
            &mut r,
            vec![
                decode(&entry.build(), 2).expect("entry"),
                decode(&refetch.build(), 2).expect("refetch"),
                exit(Syscall::Umount, 20, 50, 50, 0),
            ],
        );
        let Args::Umount { target, .. } = &events[0].args else {
            panic!("an umount event");
        };
        assert!(target.fault, "left unreadable");
        assert_eq!(
            (r.stats().refetches_merged, r.stats().refetches_unmatched),
            (0, 1)
        );
    }

    /// docs/EVENTS.md, Merging a refetch record: an argv read part way at
    /// entry (ARGV_FAULT) keeps what it read and gets the rest.
    #[test]
    fn argv_read_part_way_gets_the_rest_from_the_refetch() {
        let mut r = kept();
        let mut entry = Enter::new(Syscall::Execve, 10, 60, 60)
            .item(str_item("/bin/echo"))
            .item(str_item("echo"));
        entry.e.flags = (layout::SC_ENTER_ARGV_FAULT | layout::SC_ENTER_REFETCH) as u16;
        let mut refetch = Enter::new(Syscall::Execve, 15, 60, 60)
            .item(str_item("/bin/other"))
            .item(str_item("other"))
            .item(str_item("b"))
            .item(str_item("c"));
        refetch.e.hdr.kind = layout::SC_REC_REFETCH as u8;
        let events = run(
            &mut r,
            vec![
                decode(&entry.build(), 1).expect("entry"),
                decode(&refetch.build(), 1).expect("refetch"),
                exit(Syscall::Execve, 20, 60, 60, -2),
            ],
        );
        let Args::Exec {
            filename,
            args,
            args_truncated,
            ..
        } = &events[0].args
        else {
            panic!("an exec event");
        };
        assert_eq!(filename.bytes, b"/bin/echo", "read at entry: kept");
        let args: Vec<&[u8]> = args.iter().map(|a| a.bytes.as_slice()).collect();
        assert_eq!(args, vec![&b"echo"[..], b"b", b"c"]);
        assert!(!args_truncated, "the refetch read the whole argv");
    }

    #[test]
    fn refetch_fills_unreadable_items_only() {
        let mut r = kept();
        let events = run(
            &mut r,
            vec![
                // source unreadable at entry, target read fine
                mount_record(
                    layout::SC_REC_ENTER,
                    10,
                    50,
                    item(b"", FAULT),
                    str_item("/mnt"),
                ),
                mount_record(
                    layout::SC_REC_REFETCH,
                    19,
                    50,
                    str_item("/dev/x"),
                    str_item("/other"),
                ),
                exit(Syscall::Mount, 20, 50, 50, 0),
            ],
        );
        assert_eq!(events.len(), 1);
        let Args::Mount { source, target, .. } = &events[0].args else {
            panic!("a mount event");
        };
        assert_eq!(
            (source.bytes.as_slice(), source.fault),
            (&b"/dev/x"[..], false)
        );
        assert_eq!(
            target.bytes, b"/mnt",
            "readable items keep their entry value"
        );
        assert_eq!(r.stats().refetches_merged, 1);
    }

    /// A layout-2 exec entry that deferred its strings, and its refetch.
    fn deferred_pair(tid: u32, argv: &[&str], argv_flags: u64) -> (RawRecord, RawRecord) {
        let mut entry = Enter::new(Syscall::Execve, 10, 100, tid);
        entry.e.flags = (layout::SC_ENTER_DEFERRED | layout::SC_ENTER_REFETCH) as u16;
        let mut refetch = Enter::new(Syscall::Execve, 15, 100, tid).item(str_item("/bin/true"));
        for arg in argv {
            refetch = refetch.item(str_item(arg));
        }
        refetch.e.hdr.kind = layout::SC_REC_REFETCH as u8;
        refetch.e.flags = argv_flags as u16;
        // Layout 2: a refetch record's identity fields are zero.
        let (e, zero) = (&mut refetch.e, crate::replay::decode::testutil::comm(""));
        (e.cgroup_id, e.ppid, e.uid, e.gid, e.mnt_ns) = (0, 0, 0, 0, 0);
        (e.comm, e.pcomm) = (zero, zero);
        (
            decode(&entry.build(), 2).expect("deferred entry"),
            decode(&refetch.build(), 2).expect("refetch"),
        )
    }

    #[test]
    fn refetch_of_a_deferred_exec_is_its_whole_argument_list() {
        let mut r = kept();
        let (entry, refetch) = deferred_pair(100, &["true", "x"], 0);
        let events = run(
            &mut r,
            vec![entry, refetch, exit(Syscall::Execve, 20, 100, 100, 0)],
        );
        let Args::Exec {
            filename,
            args,
            args_truncated,
            ..
        } = &events[0].args
        else {
            panic!("an exec event");
        };
        assert_eq!(
            (filename.bytes.as_slice(), filename.fault),
            (&b"/bin/true"[..], false)
        );
        let args: Vec<&[u8]> = args.iter().map(|a| a.bytes.as_slice()).collect();
        assert_eq!(args, vec![&b"true"[..], b"x"]);
        assert!(!args_truncated, "a complete refetched argv is not cut");
        // The identity is the entry's, even though the refetch's is zero.
        assert_eq!(events[0].comm_before.as_bytes(), b"caller");

        // An empty or NULL argv, and a cut one, keep the refetch's verdict.
        for (argv, flags, truncated) in [
            (&[][..], 0, false),
            (&[][..], layout::SC_ENTER_ARGV_NULL, false),
            (&["a"][..], layout::SC_ENTER_ARGV_TRUNCATED, true),
        ] {
            let (entry, refetch) = deferred_pair(101, argv, flags);
            let events = run(
                &mut r,
                vec![entry, refetch, exit(Syscall::Execve, 20, 100, 101, -2)],
            );
            let Args::Exec {
                args,
                args_truncated,
                ..
            } = &events[0].args
            else {
                panic!("an exec event");
            };
            assert_eq!((args.len(), *args_truncated), (argv.len(), truncated));
        }

        // Without its refetch (lost in the kernel) the strings stay unknown.
        let (entry, _) = deferred_pair(102, &[], 0);
        let events = run(&mut r, vec![entry, exit(Syscall::Execve, 20, 100, 102, 0)]);
        let Args::Exec {
            filename,
            args_truncated,
            ..
        } = &events[0].args
        else {
            panic!("an exec event");
        };
        assert!(filename.fault && *args_truncated);
    }

    #[test]
    fn refetch_of_an_exec_by_a_thread_reaches_its_entry() {
        let mut r = kept();
        let mut entry = Enter::new(Syscall::Execve, 10, 100, 103)
            .item(item(b"", FAULT))
            .item(item(b"", FAULT));
        entry.e.flags = layout::SC_ENTER_REFETCH as u16;
        let mut refetch = Enter::new(Syscall::Execve, 15, 100, 100)
            .item(str_item("/bin/true"))
            .item(str_item("true"))
            .item(str_item("x"));
        refetch.e.hdr.kind = layout::SC_REC_REFETCH as u8;
        let events = run(
            &mut r,
            vec![
                decode(&entry.build(), 1).expect("entry"),
                decode(&refetch.build(), 1).expect("refetch"),
                exit(Syscall::Execve, 20, 100, 100, 0),
            ],
        );
        let Args::Exec { filename, args, .. } = &events[0].args else {
            panic!("an exec event");
        };
        assert_eq!(filename.bytes, b"/bin/true");
        let args: Vec<&[u8]> = args.iter().map(|a| a.bytes.as_slice()).collect();
        assert_eq!(args, vec![&b"true"[..], b"x"]);
        // A refetch with nothing pending is counted, not lost silently.
        run(
            &mut r,
            vec![mount_record(
                layout::SC_REC_REFETCH,
                30,
                9,
                str_item("a"),
                str_item("b"),
            )],
        );
        assert_eq!(r.stats().refetches_unmatched, 1);
    }

    fn kept() -> Reassembler {
        Reassembler::new(ReassemblyConfig {
            keep_incomplete: true,
            ..ReassemblyConfig::default()
        })
    }

    fn run(r: &mut Reassembler, records: Vec<RawRecord>) -> Vec<Event> {
        records.into_iter().filter_map(|rec| r.push(rec)).collect()
    }

    fn incompletes(r: &mut Reassembler) -> Vec<(IncompleteReason, u32, u64)> {
        std::iter::from_fn(|| r.pop_incomplete())
            .map(|i| (i.reason, i.entry.tid, i.entry.ts_ns))
            .collect()
    }

    #[test]
    fn simple_pair() {
        let mut r = Reassembler::default();
        r.add_clock_anchor(100, 1_700_000_000 * S as i64);
        let events = run(
            &mut r,
            vec![
                enter(Syscall::Mount, 1000, 5, 6),
                exit(Syscall::Mount, 1500, 5, 6, -1),
            ],
        );
        assert_eq!(events.len(), 1);
        let ev = &events[0];
        assert_eq!(
            (ev.syscall, ev.ts_ns, ev.latency_ns, ev.pid, ev.tid),
            (Syscall::Mount, 1000, 500, 5, 6)
        );
        assert_eq!(ev.wall_ns, 1_700_000_000 * S as i64 + 900);
        assert_eq!(ev.ret, -1);
        assert_eq!(ev.comm, b"after");
        assert_eq!(ev.comm_before, b"caller");
        assert_eq!(ev.pcomm, b"parent");
        assert_eq!(
            (ev.ppid, ev.uid, ev.gid, ev.mnt_ns, ev.cgroup_id),
            (1, 1000, 100, 4026531841, 7)
        );
        assert!(matches!(
            ev.args,
            crate::event::Args::Mount { flags: 0x1000, .. }
        ));
        r.finish();
        assert_eq!(
            *r.stats(),
            ReassemblyStats {
                entries: 1,
                exits: 1,
                events: 1,
                peak_pending: 1,
                ..ReassemblyStats::default()
            }
        );
    }

    #[test]
    fn latency_saturates() {
        let mut r = Reassembler::default();
        let events = run(
            &mut r,
            vec![
                enter(Syscall::Umount, 1000, 5, 5),
                exit(Syscall::Umount, 900, 5, 5, 0),
            ],
        );
        assert_eq!(events[0].latency_ns, 0);
    }

    #[test]
    fn orphan_exit() {
        let mut r = kept();
        let events = run(
            &mut r,
            vec![
                exit(Syscall::Mount, 10, 5, 5, 0),
                // Same thread, different syscall pending: the exit is an orphan
                // and the pending entry lost its exit.
                enter(Syscall::Fsopen, 20, 5, 5),
                exit(Syscall::Fsmount, 30, 5, 5, 3),
            ],
        );
        assert!(events.is_empty());
        assert_eq!(r.stats().orphan_exits, 2);
        assert_eq!(r.stats().incomplete_superseded, 1);
        assert_eq!(
            incompletes(&mut r),
            vec![(IncompleteReason::Superseded, 5, 20)]
        );
        assert_eq!(r.pending(), 0);
    }

    #[test]
    fn entry_without_exit_at_end() {
        let mut r = kept();
        r.add_clock_anchor(0, 1000);
        run(
            &mut r,
            vec![
                enter(Syscall::Execve, 10, 5, 5),
                enter(Syscall::Mount, 20, 6, 7),
            ],
        );
        assert_eq!(r.pending(), 2);
        assert_eq!(r.stats().incomplete_entries, 0);
        r.finish();
        assert_eq!(r.pending(), 0);
        assert_eq!(r.stats().incomplete_entries, 2);
        assert_eq!(r.stats().incomplete_at_end, 2);
        let first = r.pop_incomplete().expect("kept");
        assert_eq!(first.wall_ns, 1010);
        assert_eq!(first.entry.syscall, Syscall::Execve);
        assert_eq!(
            incompletes(&mut r),
            vec![(IncompleteReason::EndOfCapture, 7, 20)]
        );
    }

    #[test]
    fn an_incomplete_entry_is_an_unfinished_event() {
        let mut r = kept();
        r.add_clock_anchor(0, 1000);
        run(&mut r, vec![enter(Syscall::Mount, 10, 5, 6)]);
        r.finish();
        let event = r.pop_incomplete().expect("kept").into_event();
        assert_eq!(event.unfinished, Some(IncompleteReason::EndOfCapture));
        assert_eq!(
            (event.returned(), event.latency(), event.failed()),
            (None, None, false)
        );
        assert_eq!(
            (event.ts_ns, event.wall_ns, event.pid, event.tid),
            (10, 1010, 5, 6)
        );
        // No exit says what the comm became: it is the entry's.
        assert_eq!(
            (event.comm, event.comm_before),
            (event.comm_before, Comm::from_bytes(b"caller"))
        );
        assert!(matches!(event.args, Args::Mount { flags: 0x1000, .. }));
    }

    #[test]
    fn incomplete_not_kept_by_default() {
        let mut r = Reassembler::default();
        run(&mut r, vec![enter(Syscall::Execve, 10, 5, 5)]);
        r.finish();
        assert_eq!(r.stats().incomplete_entries, 1);
        assert!(r.pop_incomplete().is_none());
    }

    #[test]
    fn entry_replaced_by_later_entry() {
        let mut r = kept();
        let events = run(
            &mut r,
            vec![
                enter(Syscall::Mount, 10, 5, 5),
                enter(Syscall::Mount, 20, 5, 5),
                exit(Syscall::Mount, 30, 5, 5, 0),
            ],
        );
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].ts_ns, 20);
        assert_eq!(
            incompletes(&mut r),
            vec![(IncompleteReason::Superseded, 5, 10)]
        );
        assert_eq!(r.stats().incomplete_entries, 1);
    }

    #[test]
    fn exec_from_non_leader_thread_succeeds() {
        let mut r = kept();
        let events = run(
            &mut r,
            vec![
                enter(Syscall::Execve, 10, 100, 103),
                // The kernel makes the caller the leader: the exit has tid = pid.
                exit(Syscall::Execve, 20, 100, 100, 0),
            ],
        );
        assert_eq!(events.len(), 1);
        let ev = &events[0];
        assert_eq!((ev.pid, ev.tid, ev.ret, ev.latency_ns), (100, 103, 0, 10));
        assert_eq!(r.stats().exec_leader_pairings, 1);
        assert_eq!(r.stats().orphan_exits, 0);
        r.finish();
        assert_eq!(r.stats().incomplete_entries, 0);
        assert!(r.exec_waiters.is_empty());
    }

    #[test]
    fn exec_from_non_leader_replaces_a_dead_leaders_entry() {
        // The leader was in a mount when another thread's exec killed it and
        // the leader's exit was lost: the exec exit on the leader's id shows
        // that mount ended without exit, and still pairs the exec.
        let mut r = kept();
        let events = run(
            &mut r,
            vec![
                enter(Syscall::Mount, 5, 100, 100),
                enter(Syscall::Execveat, 10, 100, 103),
                exit(Syscall::Execveat, 20, 100, 100, 0),
            ],
        );
        assert_eq!(events.len(), 1);
        assert_eq!((events[0].tid, events[0].syscall), (103, Syscall::Execveat));
        assert_eq!(
            incompletes(&mut r),
            vec![(IncompleteReason::Superseded, 100, 5)]
        );
    }

    #[test]
    fn exec_from_non_leader_thread_fails() {
        let mut r = kept();
        let events = run(
            &mut r,
            vec![
                enter(Syscall::Execve, 10, 100, 103),
                // A leader's own exec, interleaved.
                enter(Syscall::Execve, 11, 100, 100),
                // Failure: the exit keeps the caller's tid.
                exit(Syscall::Execve, 20, 100, 103, -2),
                exit(Syscall::Execve, 21, 100, 100, -13),
            ],
        );
        assert_eq!(events.len(), 2);
        assert_eq!((events[0].tid, events[0].ret), (103, -2));
        assert_eq!((events[1].tid, events[1].ret), (100, -13));
        assert_eq!(r.stats().exec_leader_pairings, 0);
        assert!(r.exec_waiters.is_empty());
        // A later exec exit of the leader finds no stale waiter.
        run(&mut r, vec![exit(Syscall::Execve, 30, 100, 100, 0)]);
        assert_eq!(r.stats().orphan_exits, 1);
    }

    #[test]
    fn exec_waiter_needs_an_exec_exit_of_the_same_process() {
        let mut r = kept();
        let events = run(
            &mut r,
            vec![
                enter(Syscall::Execveat, 10, 100, 103),
                exit(Syscall::Mount, 19, 100, 100, 0), // other syscall
                exit(Syscall::Execveat, 21, 200, 200, 0), // other process
                // A successful execveat exits through the execve tracepoint.
                exit(Syscall::Execve, 22, 100, 100, 0),
            ],
        );
        assert_eq!(events.len(), 1);
        assert_eq!((events[0].tid, events[0].syscall), (103, Syscall::Execveat));
        assert_eq!(r.stats().orphan_exits, 2);
    }

    #[test]
    fn table_overflow_flushes_the_oldest() {
        let mut r = Reassembler::new(ReassemblyConfig {
            max_pending: 3,
            keep_incomplete: true,
            ..ReassemblyConfig::default()
        });
        let mut records = Vec::new();
        for tid in 1..=5u32 {
            records.push(enter(Syscall::Mount, u64::from(tid), tid, tid));
        }
        // tid 1 and 2 were flushed: their exits are orphans now.
        records.push(exit(Syscall::Mount, 10, 1, 1, 0));
        records.push(exit(Syscall::Mount, 11, 5, 5, 0));
        let events = run(&mut r, records);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].tid, 5);
        assert_eq!(r.pending(), 2);
        assert_eq!(r.stats().peak_pending, 3);
        assert_eq!(r.stats().orphan_exits, 1);
        assert_eq!(
            incompletes(&mut r),
            vec![
                (IncompleteReason::TableFull, 1, 1),
                (IncompleteReason::TableFull, 2, 2)
            ]
        );
    }

    #[test]
    fn table_overflow_skips_stale_queue_items() {
        let mut r = Reassembler::new(ReassemblyConfig {
            max_pending: 2,
            keep_incomplete: true,
            ..ReassemblyConfig::default()
        });
        run(
            &mut r,
            vec![
                enter(Syscall::Mount, 1, 1, 1),
                exit(Syscall::Mount, 2, 1, 1, 0),
                enter(Syscall::Mount, 3, 2, 2),
                enter(Syscall::Mount, 4, 3, 3),
                enter(Syscall::Mount, 5, 4, 4),
            ],
        );
        assert_eq!(
            incompletes(&mut r),
            vec![(IncompleteReason::TableFull, 2, 3)]
        );
        assert_eq!(r.pending(), 2);
    }

    #[test]
    fn age_flush() {
        let mut r = Reassembler::new(ReassemblyConfig {
            max_age_ns: 10 * S,
            keep_incomplete: true,
            ..ReassemblyConfig::default()
        });
        let events = run(
            &mut r,
            vec![
                enter(Syscall::Mount, S, 1, 1),
                enter(Syscall::Mount, 2 * S, 2, 2),
                // Exactly 10 s behind: still kept.
                exit(Syscall::Fsopen, 11 * S, 9, 9, 0),
                exit(Syscall::Fsopen, 11 * S + 1, 9, 9, 0),
                // Its exit comes too late: an orphan.
                exit(Syscall::Mount, 12 * S, 1, 1, 0),
                exit(Syscall::Mount, 12 * S, 2, 2, 0),
            ],
        );
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].tid, 2);
        assert_eq!(incompletes(&mut r), vec![(IncompleteReason::TooOld, 1, S)]);
        assert_eq!(r.stats().incomplete_too_old, 1);
        assert_eq!(r.stats().orphan_exits, 3);
    }

    #[test]
    fn interleaved_threads() {
        let mut r = Reassembler::default();
        let events = run(
            &mut r,
            vec![
                enter(Syscall::Execve, 1, 10, 10),
                enter(Syscall::Mount, 2, 20, 21),
                enter(Syscall::Mount, 3, 20, 22),
                enter(Syscall::Umount, 4, 30, 30),
                exit(Syscall::Mount, 5, 20, 22, -1),
                exit(Syscall::Execve, 6, 10, 10, 0),
                exit(Syscall::Umount, 7, 30, 30, 0),
                exit(Syscall::Mount, 8, 20, 21, 0),
            ],
        );
        let got: Vec<_> = events
            .iter()
            .map(|e| (e.tid, e.syscall, e.latency_ns, e.ret))
            .collect();
        assert_eq!(
            got,
            vec![
                (22, Syscall::Mount, 2, -1),
                (10, Syscall::Execve, 5, 0),
                (30, Syscall::Umount, 3, 0),
                (21, Syscall::Mount, 6, 0),
            ]
        );
        r.finish();
        assert_eq!(r.stats().incomplete_entries + r.stats().orphan_exits, 0);
        assert_eq!(r.stats().peak_pending, 4);
    }

    #[test]
    fn clock_anchors_update_mid_stream() {
        let mut r = Reassembler::default();
        r.add_clock_anchor(1000, 5_000);
        let mut events = run(
            &mut r,
            vec![
                enter(Syscall::Mount, 500, 1, 1),
                exit(Syscall::Mount, 600, 1, 1, 0),
            ],
        );
        // Before every anchor: the first one.
        assert_eq!(events[0].wall_ns, 4_500);
        run(&mut r, vec![enter(Syscall::Mount, 1500, 1, 1)]);
        // The wall clock was stepped 1 s ahead at boot time 2000.
        r.add_clock_anchor(2000, 6_000 + S as i64);
        events = run(
            &mut r,
            vec![
                exit(Syscall::Mount, 2100, 1, 1, 0),
                enter(Syscall::Mount, 2500, 1, 1),
                exit(Syscall::Mount, 2600, 1, 1, 0),
            ],
        );
        assert_eq!(events[0].wall_ns, 5_500);
        assert_eq!(events[1].wall_ns, 6_500 + S as i64);
        // An anchor added out of order still applies to its span.
        r.add_clock_anchor(1200, 7_000);
        assert_eq!(r.wall_ns(1300), 7_100);
        assert_eq!(r.wall_ns(1100), 5_100);
        assert_eq!(r.wall_ns(3000), 7_000 + S as i64);
        assert_eq!(Reassembler::default().wall_ns(42), 42);
    }

    #[test]
    fn loss_accounting() {
        let mut r = Reassembler::default();
        run(
            &mut r,
            vec![
                enter(Syscall::Mount, 1, 1, 1),
                exit(Syscall::Mount, 2, 2, 2, 0),
                enter(Syscall::Mount, 3, 3, 3),
                exit(Syscall::Mount, 4, 3, 3, 0),
            ],
        );
        r.finish();
        let summary = r.stats().loss_summary(5, 1);
        assert_eq!(
            summary,
            LossSummary {
                lost_entries: 5,
                lost_exits: 1,
                orphan_exits: 1,
                incomplete_entries: 1,
                events_affected: 6,
            }
        );
        assert_eq!(r.stats().events_affected(0), 1);
    }

    #[test]
    fn stale_queue_stays_bounded() {
        // One entry pending for ever at the front, then many paired calls.
        let mut r = Reassembler::default();
        r.push(enter(Syscall::Mount, 0, 1, 1));
        for i in 0..10_000u64 {
            r.push(enter(Syscall::Umount, 10 + 2 * i, 2, 2));
            r.push(exit(Syscall::Umount, 11 + 2 * i, 2, 2, 0));
        }
        assert!(
            r.order.len() <= 2 * r.pending.len() + 1025,
            "{}",
            r.order.len()
        );
        assert_eq!(r.stats().events, 10_000);
        assert_eq!(r.pending(), 1);
    }

    #[test]
    fn comm_comes_from_the_exit() {
        let mut r = Reassembler::default();
        let mut x = match exit(Syscall::Execve, 2, 1, 1, 0) {
            RawRecord::Exit(x) => x,
            other => unreachable!("{other:?}"),
        };
        x.comm = Comm::from_bytes(b"newimage");
        r.push(enter(Syscall::Execve, 1, 1, 1));
        let ev = r.push_exit(&x).expect("paired");
        assert_eq!(ev.comm, b"newimage");
        assert_eq!(ev.comm_before, b"caller");
    }
}
