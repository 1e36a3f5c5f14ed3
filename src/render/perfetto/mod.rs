//! `--format perfetto`: a Perfetto protobuf trace (a stream of
//! `TracePacket`s with `TrackEvent`s), for ui.perfetto.dev and
//! trace_processor. Written by [`proto`], a hand-written encoder for the
//! few messages used.
//!
//! What the trace holds (docs in the README, "Perfetto"):
//!
//! - One track per process, named `COMM PID` (its command when it first
//!   appears: for a forked child, its parent's), nested under the track of
//!   the process that created it (the fork in the capture, else the
//!   parent the event names, else the start snapshot's parent), with one
//!   track per thread nested under it (`COMM TID`). They are custom tracks
//!   linked by `parent_uuid`: that is what Perfetto's UI shows as a tree
//!   (process-descriptor tracks are always shown flat). A process from the
//!   start snapshot has its command line as the track's description.
//! - Each exec image as a slice on its process's track, named by the new
//!   command, from the exec to the next exec or the exit (open when the
//!   process outlived the capture); each mount-family call as a slice on
//!   its thread's track for its duration; a failed exec as an instant on
//!   its thread's track; a fork as an instant at the start of the child's
//!   track (or of the new thread's); an exit as an instant on the
//!   process's track, named by its status. Every JSON field of the event
//!   but `event`, `time` and `ts_ns` is a debug annotation of the same name
//!   (null fields are left out); the category is the JSON `event`; a failed
//!   call's name says `failed: ERRNO`. A call whose exit is not in the
//!   capture (`unfinished`) is an instant at its entry on its thread's
//!   track, named `SYSCALL unfinished: REASON`, without `ret`, `error` or
//!   `latency_ns`.
//! - Per capture, a track `snoopcap capture on HOST` with a slice over the
//!   capture whose annotations hold the header (host, kernel, boot id,
//!   clock anchor, command line, ...), and under it a track `lost and
//!   unpaired records` with an instant for each warning of the input and,
//!   at the capture's end, for kernel loss, unpaired and undecodable
//!   records and a missing trailer.
//! - `SystemInfo` (uname, for trace_processor's `metadata` table) and a
//!   `ClockSnapshot` relating the boot clock (every timestamp is on
//!   `BUILTIN_CLOCK_BOOTTIME`) to the wall clock from the capture's clock
//!   anchor, and again wherever a later anchor moved that relation.
//!
//! Memory stays bounded: each event's packets are written as it comes;
//! what is kept is one small entry per live process and thread (at most
//! [`MAX_LIVE`] of each: a capture without exit records never says they
//! ended), the start snapshot, and the interning tables (event names,
//! annotation names, repeated strings), which are cleared with
//! `SEQ_INCREMENTAL_STATE_CLEARED` when they grow past [`MAX_INTERNED`].

pub mod proto;

use rustc_hash::FxHashMap as FxMap;
use std::io::{self, Write};

use self::proto::field;
use super::actor::ActorMemo;
use super::errno;
use super::escape::comm_bytes;
use super::fields::SyscallFields;
use super::fields::{captured_attr, captured_text, Column, FieldValue};
use super::time::Rfc3339Formatter;
use super::{CaptureIdentity, RenderOptions, Renderer};
use crate::event::{Args, Comm, Event, Syscall, Unfinished};
use crate::format::{CaptureHeader, ProcessInfo};
use crate::replay::stream::{Summary, Warning};

/// The one packet sequence of the trace.
pub const SEQUENCE_ID: u64 = 1;

/// Interned strings kept before the tables are cleared and started again.
pub const MAX_INTERNED: usize = 1 << 16;

/// Deepest process nesting written: a process deeper than this is a
/// top-level track (trace_processor drops tracks more than 100 ancestors
/// deep, threads are one level below their process).
pub const MAX_DEPTH: u32 = 64;

/// Most live processes, and most live threads, kept: past that the half
/// seen longest ago is forgotten (a capture without process exits, such as
/// one recorded without `--events proc`, never says they ended). A
/// forgotten process that shows up again gets a new track.
pub const MAX_LIVE: usize = 1 << 16;

/// Most thread ids a process remembers for cleaning up at its exit.
const MAX_TIDS: usize = 1 << 10;

/// Annotation names beyond the JSON columns.
const TRUNCATED: usize = Column::COUNT;
const UNREADABLE: usize = Column::COUNT + 1;
const ANNOTATION_NAMES: usize = Column::COUNT + 2;

/// The interned names and strings of the sequence, and the entries that
/// the packet being built adds to them.
#[derive(Default)]
struct Interner {
    next_iid: u64,
    annotation_names: Vec<u64>,
    categories: [u64; Syscall::ALL.len()],
    event_names: FxMap<Box<[u8]>, u64>,
    strings: FxMap<Box<[u8]>, u64>,
    /// Encoded `InternedData` entries for the packet being built.
    pending: Vec<u8>,
    /// The latest command names interned as string values, and their iids:
    /// an event's `comm` and `pcomm` are mostly its predecessor's.
    recent_comms: [(Comm, u64); 4],
    next_recent: usize,
    /// The same for event names.
    recent_names: [(Comm, u64); 4],
    next_recent_name: usize,
    /// The same for process identities (pid, start): every event of a
    /// process repeats its own and its parent's.
    recent_identities: [(u32, u64, u64); 4],
    next_recent_identity: usize,
}

impl Interner {
    fn new() -> Interner {
        Interner {
            next_iid: 1,
            annotation_names: vec![0; ANNOTATION_NAMES],
            ..Interner::default()
        }
    }

    fn len(&self) -> usize {
        self.event_names.len() + self.strings.len()
    }

    /// Forgets everything (the sequence's incremental state is cleared).
    fn clear(&mut self) {
        *self = Interner::new();
    }

    fn add(&mut self, table: u32, text: &[u8]) -> u64 {
        let iid = self.next_iid;
        self.next_iid += 1;
        let entry = proto::begin(&mut self.pending, table);
        proto::uint(&mut self.pending, field::interned::IID, iid);
        proto::lossy_string(&mut self.pending, field::interned::NAME, text);
        proto::end(&mut self.pending, entry);
        iid
    }

    fn annotation_name(&mut self, index: usize) -> u64 {
        match self.annotation_names.get(index) {
            Some(&iid) if iid != 0 => iid,
            Some(_) => {
                let name = annotation_name_text(index);
                let iid = self.add(field::interned::DEBUG_ANNOTATION_NAMES, name.as_bytes());
                self.annotation_names[index] = iid;
                iid
            }
            None => 0,
        }
    }

    fn category(&mut self, syscall: Syscall) -> u64 {
        let index = usize::from(syscall.raw() - 1);
        match self.categories.get(index) {
            Some(&iid) if iid != 0 => iid,
            _ => {
                let iid = self.add(
                    field::interned::EVENT_CATEGORIES,
                    syscall.event_name().as_bytes(),
                );
                if let Some(slot) = self.categories.get_mut(index) {
                    *slot = iid;
                }
                iid
            }
        }
    }

    fn event_name(&mut self, name: &[u8]) -> u64 {
        // Short names (syscalls, commands) are looked up among the latest
        // ones first.
        let key = (name.len() <= 16 && !name.contains(&0)).then(|| Comm::from_bytes(name));
        if let Some(key) = key {
            if let Some(&(_, iid)) = self
                .recent_names
                .iter()
                .find(|(c, iid)| *iid != 0 && *c == key)
            {
                return iid;
            }
        }
        let iid = self.event_name_slow(name);
        if let Some(key) = key {
            self.recent_names[self.next_recent_name] = (key, iid);
            self.next_recent_name = (self.next_recent_name + 1) % self.recent_names.len();
        }
        iid
    }

    fn event_name_slow(&mut self, name: &[u8]) -> u64 {
        if let Some(&iid) = self.event_names.get(name) {
            return iid;
        }
        let iid = self.add(field::interned::EVENT_NAMES, name);
        self.event_names.insert(name.into(), iid);
        iid
    }

    /// A command name as a string value: the [`Interner::string`] of its
    /// bytes, looked up among the latest ones first.
    fn comm(&mut self, key: Comm) -> u64 {
        if let Some(&(_, iid)) = self
            .recent_comms
            .iter()
            .find(|(c, iid)| *iid != 0 && *c == key)
        {
            return iid;
        }
        let iid = self.string(key.as_bytes());
        self.recent_comms[self.next_recent] = (key, iid);
        self.next_recent = (self.next_recent + 1) % self.recent_comms.len();
        iid
    }

    /// A process identity as a string value, `PID@START_NS` as JSON's
    /// `proc_id` (formatted in `scratch` when new).
    fn identity(&mut self, pid: u32, start: u64, scratch: &mut Vec<u8>) -> u64 {
        if let Some(&(_, _, iid)) = self
            .recent_identities
            .iter()
            .find(|&&(p, s, iid)| iid != 0 && p == pid && s == start)
        {
            return iid;
        }
        scratch.clear();
        super::num::push_u64(scratch, u64::from(pid));
        scratch.push(b'@');
        super::num::push_u64(scratch, start);
        let iid = self.string(scratch);
        self.recent_identities[self.next_recent_identity] = (pid, start, iid);
        self.next_recent_identity = (self.next_recent_identity + 1) % self.recent_identities.len();
        iid
    }

    fn string(&mut self, value: &[u8]) -> u64 {
        if let Some(&iid) = self.strings.get(value) {
            return iid;
        }
        let iid = self.add(field::interned::DEBUG_ANNOTATION_STRING_VALUES, value);
        self.strings.insert(value.into(), iid);
        iid
    }
}

/// The name of annotation `index`: a JSON column, or `truncated` /
/// `unreadable`.
fn annotation_name_text(index: usize) -> &'static str {
    match index {
        TRUNCATED => "truncated",
        UNREADABLE => "unreadable",
        other => Column::ALL.get(other).map_or("", |c| c.name()),
    }
}

/// A live process's track.
#[derive(Debug, Clone)]
struct Process {
    uuid: u64,
    /// Its start time (boot clock), when known: with the pid, its identity.
    start: Option<u64>,
    depth: u32,
    /// An exec image slice is open on the track.
    exec_open: bool,
    /// The tids whose tracks are under this one (the first [`MAX_TIDS`]).
    tids: Vec<u32>,
    /// When it was last used (the renderer's event count).
    seen: u64,
}

/// A live thread's track.
#[derive(Debug, Clone, Copy)]
struct Thread {
    uuid: u64,
    /// Its process's track.
    owner: u64,
    seen: u64,
}

/// Keeps the newer half of `map` (by `seen`) once it holds more than
/// [`MAX_LIVE`] entries: amortized constant time per entry.
fn forget_oldest<V>(map: &mut FxMap<u32, V>, seen: impl Fn(&V) -> u64) {
    if map.len() <= MAX_LIVE {
        return;
    }
    let mut ages: Vec<u64> = map.values().map(&seen).collect();
    let middle = ages.len() / 2;
    let (_, &mut cut, _) = ages.select_nth_unstable(middle);
    map.retain(|_, v| seen(v) > cut);
}

/// What the start snapshot says of a process.
#[derive(Debug, Clone)]
struct Snapshot {
    ppid: u32,
    start_ns: u64,
    comm: Vec<u8>,
    argv: Vec<Vec<u8>>,
}

/// Where a process's track goes when it is created: under the track of
/// this process.
#[derive(Debug, Clone, Copy)]
struct ParentRef<'a> {
    pid: u32,
    start: Option<u64>,
    name: &'a [u8],
}

/// The capture being read.
#[derive(Debug, Clone)]
struct CaptureState {
    track: u64,
    loss_track: Option<u64>,
    anchor_boot_ns: u64,
    anchor_wall_ns: i64,
    /// The latest time any event of this capture reaches (entry + latency).
    last_ns: u64,
}

/// Two identities agree when either is unknown or they are equal.
fn same_start(a: Option<u64>, b: Option<u64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    }
}

/// Renders events as a Perfetto trace. See the module documentation.
pub struct PerfettoRenderer {
    /// The packets of the current step, written with one `write_all`.
    out: Vec<u8>,

    /// A name being built.
    name: Vec<u8>,
    /// A value being built (process identities).
    scratch: Vec<u8>,
    /// The last event's actor annotations: `pid` to `cgroup_path`, and
    /// `proc_id` to `pod_qos` (valid while the interning tables last).
    actor: ActorMemo,

    interner: Interner,
    /// The next packet clears the incremental state (first packet, or the
    /// interning tables were full).
    clear_state: bool,
    sequence_started: bool,
    next_uuid: u64,
    processes: FxMap<u32, Process>,
    threads: FxMap<u32, Thread>,
    /// Events rendered: the clock of [`Process::seen`] and [`Thread::seen`].
    tick: u64,
    snapshot: FxMap<u32, Snapshot>,
    /// The capture of the input being rendered ([`CaptureIdentity::source`]).
    capture: Option<CaptureState>,
    source: usize,
    /// The captures of the other merged inputs, while they wait their turn.
    parked: FxMap<usize, CaptureState>,
    boot_id: Option<String>,
    /// wall − boot of the latest clock snapshot written.
    clock_offset: Option<i128>,
    time: Rfc3339Formatter,
}

impl PerfettoRenderer {
    pub fn new(_options: RenderOptions) -> PerfettoRenderer {
        PerfettoRenderer {
            out: Vec::with_capacity(4096),
            scratch: Vec::with_capacity(64),
            actor: ActorMemo::default(),

            name: Vec::with_capacity(64),
            interner: Interner::new(),
            clear_state: true,
            sequence_started: false,
            next_uuid: 1,
            processes: FxMap::default(),
            threads: FxMap::default(),
            tick: 0,
            snapshot: FxMap::default(),
            capture: None,
            source: 0,
            parked: FxMap::default(),
            boot_id: None,
            clock_offset: None,
            time: Rfc3339Formatter::new(),
        }
    }

    fn uuid(&mut self) -> u64 {
        let uuid = self.next_uuid;
        self.next_uuid += 1;
        uuid
    }

    /// Opens a packet of the sequence: sequence id and flags (clearing the
    /// incremental state when due), the timestamp when given.
    fn begin_packet(&mut self, timestamp: Option<u64>) -> proto::Nested {
        let out = &mut self.out;
        let packet = proto::begin_wide(out, field::TRACE_PACKET);
        if let Some(ts) = timestamp {
            proto::uint(out, field::packet::TIMESTAMP, ts);
        }
        proto::uint(out, field::packet::TRUSTED_PACKET_SEQUENCE_ID, SEQUENCE_ID);
        if self.clear_state {
            self.clear_state = false;
            proto::uint(
                out,
                field::packet::SEQUENCE_FLAGS,
                field::sequence_flags::INCREMENTAL_STATE_CLEARED
                    | field::sequence_flags::NEEDS_INCREMENTAL_STATE,
            );
            if !self.sequence_started {
                self.sequence_started = true;
                proto::boolean(out, field::packet::FIRST_PACKET_ON_SEQUENCE, true);
                proto::boolean(out, field::packet::PREVIOUS_PACKET_DROPPED, true);
            }
            // Packet defaults are incremental state: set again each time.
            let defaults = proto::begin(out, field::packet::TRACE_PACKET_DEFAULTS);
            proto::uint(
                out,
                field::defaults::TIMESTAMP_CLOCK_ID,
                field::clock::BOOTTIME,
            );
            proto::end(out, defaults);
        } else {
            proto::uint(
                out,
                field::packet::SEQUENCE_FLAGS,
                field::sequence_flags::NEEDS_INCREMENTAL_STATE,
            );
        }
        packet
    }

    /// Before an event's packets: when the interning tables are full,
    /// start them again (the next packet says so).
    fn check_interner(&mut self) {
        if self.interner.len() >= MAX_INTERNED {
            self.interner.clear();
            // Its annotations name iids that are gone.
            self.actor.forget();
            self.clear_state = true;
        }
    }

    /// Opens a packet at `ts` and its `TrackEvent`, written in place
    /// (no other packet may start before [`Self::close_event`]).
    fn open_event(&mut self, ts: u64) -> OpenEvent {
        let packet = self.begin_packet(Some(ts));
        let event = proto::begin_wide(&mut self.out, field::packet::TRACK_EVENT);
        OpenEvent { packet, event }
    }

    /// Closes the track event and its packet, with the interned entries
    /// the event added (after it: field order does not matter).
    fn close_event(&mut self, at: OpenEvent) {
        proto::end_wide(&mut self.out, at.event);
        if !self.interner.pending.is_empty() {
            proto::bytes(
                &mut self.out,
                field::packet::INTERNED_DATA,
                &self.interner.pending,
            );
            self.interner.pending.clear();
        }
        proto::end_wide(&mut self.out, at.packet);
    }

    /// A `TrackDescriptor` packet.
    fn track_descriptor(
        &mut self,
        uuid: u64,
        parent: Option<u64>,
        name: &[u8],
        description: Option<&[u8]>,
    ) {
        let packet = self.begin_packet(None);
        let out = &mut self.out;
        let track = proto::begin_wide(out, field::packet::TRACK_DESCRIPTOR);
        proto::uint(out, field::track::UUID, uuid);
        if let Some(parent) = parent {
            proto::uint(out, field::track::PARENT_UUID, parent);
        }
        proto::lossy_string(out, field::track::NAME, name);
        if let Some(text) = description {
            proto::lossy_string(out, field::track::DESCRIPTION, text);
        }
        proto::uint(
            out,
            field::track::CHILD_ORDERING,
            field::track::CHRONOLOGICAL,
        );
        proto::end_wide(out, track);
        proto::end_wide(&mut self.out, packet);
    }

    /// `COMM ID`, in `self.name`.
    fn track_name(&mut self, comm: &[u8], id: u32) {
        self.name.clear();
        self.name.extend_from_slice(comm_bytes(comm));
        self.name.push(b' ');
        super::num::push_u64(&mut self.name, u64::from(id));
    }

    /// The track of process `pid` (start `start`), created (under its
    /// parent's) when there is no live one that can be it.
    fn process_track(
        &mut self,
        pid: u32,
        start: Option<u64>,
        name: &[u8],
        parent: Option<ParentRef<'_>>,
    ) -> u64 {
        if let Some(process) = self.processes.get_mut(&pid) {
            if same_start(process.start, start) {
                if process.start.is_none() {
                    process.start = start;
                }
                process.seen = self.tick;
                return process.uuid;
            }
        }
        let parent = parent
            .filter(|p| p.pid != 0 && p.pid != pid)
            .map(|p| self.parent_track(p, 0));
        self.create_process(pid, start, name, parent)
    }

    /// The track of a process named only as a parent: live, or created
    /// with what the start snapshot says of it (its own parent, when the
    /// snapshot has that one too).
    fn parent_track(&mut self, parent: ParentRef<'_>, hops: u32) -> (u64, u32) {
        if let Some(process) = self.processes.get(&parent.pid) {
            if same_start(process.start, parent.start) {
                return (process.uuid, process.depth);
            }
        }
        let known = self
            .snapshot
            .get(&parent.pid)
            .filter(|s| same_start(Some(s.start_ns), parent.start));
        let start = parent.start.or(known.map(|s| s.start_ns));
        let grandparent = known
            .map(|s| s.ppid)
            .filter(|&ppid| ppid != 0 && ppid != parent.pid && hops < MAX_DEPTH);
        let grandparent = grandparent.and_then(|ppid| {
            if let Some(live) = self.processes.get(&ppid) {
                return Some((live.uuid, live.depth));
            }
            let snap = self.snapshot.get(&ppid)?;
            let (comm, start) = (snap.comm.clone(), snap.start_ns);
            Some(self.parent_track(
                ParentRef {
                    pid: ppid,
                    start: Some(start),
                    name: &comm,
                },
                hops + 1,
            ))
        });
        let uuid = self.create_process(parent.pid, start, parent.name, grandparent);
        let depth = self.processes.get(&parent.pid).map_or(0, |p| p.depth);
        (uuid, depth)
    }

    fn create_process(
        &mut self,
        pid: u32,
        start: Option<u64>,
        name: &[u8],
        parent: Option<(u64, u32)>,
    ) -> u64 {
        let uuid = self.uuid();
        let (parent_uuid, depth) = match parent {
            Some((parent_uuid, depth)) if depth + 1 < MAX_DEPTH => (Some(parent_uuid), depth + 1),
            _ => (None, 0),
        };
        let description = self
            .snapshot
            .get(&pid)
            .filter(|s| same_start(Some(s.start_ns), start) && !s.argv.is_empty())
            .map(|s| s.argv.join(&b' '));
        self.track_name(name, pid);
        let track_name = std::mem::take(&mut self.name);
        self.track_descriptor(uuid, parent_uuid, &track_name, description.as_deref());
        self.name = track_name;
        if let Some(old) = self.processes.insert(
            pid,
            Process {
                uuid,
                start,
                depth,
                exec_open: false,
                tids: Vec::new(),
                seen: self.tick,
            },
        ) {
            self.forget_threads(&old);
        }
        uuid
    }

    fn forget_threads(&mut self, process: &Process) {
        for tid in &process.tids {
            if self
                .threads
                .get(tid)
                .is_some_and(|t| t.owner == process.uuid)
            {
                self.threads.remove(tid);
            }
        }
    }

    /// The track of the event's process, created as it first appears.
    fn actor(&mut self, event: &Event) -> u64 {
        let name = if event.syscall.is_exec() {
            &event.comm_before
        } else {
            &event.comm
        };
        let parent = ParentRef {
            pid: event.ppid,
            start: event.parent_start_ns,
            name: &event.pcomm,
        };
        self.process_track(event.pid, event.proc_start_ns, name, Some(parent))
    }

    /// The track of thread `tid` of the process whose track is `process`.
    fn thread_track(&mut self, pid: u32, process: u64, tid: u32, comm: &[u8]) -> u64 {
        if let Some(thread) = self.threads.get_mut(&tid) {
            if thread.owner == process {
                thread.seen = self.tick;
                return thread.uuid;
            }
        }
        let uuid = self.uuid();
        self.track_name(comm, tid);
        let name = std::mem::take(&mut self.name);
        self.track_descriptor(uuid, Some(process), &name, None);
        self.name = name;
        self.threads.insert(
            tid,
            Thread {
                uuid,
                owner: process,
                seen: self.tick,
            },
        );
        if let Some(owner) = self.processes.get_mut(&pid) {
            if owner.tids.len() < MAX_TIDS {
                owner.tids.push(tid);
            }
        }
        uuid
    }

    /// Writes a clock snapshot when the event's wall-clock time is not what
    /// the latest one gives (the capture's clock anchors moved).
    fn follow_clock(&mut self, event: &Event) {
        let offset = i128::from(event.wall_ns) - i128::from(event.ts_ns);
        if self.clock_offset != Some(offset) {
            self.clock_snapshot(event.ts_ns, event.wall_ns);
        }
    }

    fn clock_snapshot(&mut self, boot_ns: u64, wall_ns: i64) {
        self.clock_offset = Some(i128::from(wall_ns) - i128::from(boot_ns));
        let packet = self.begin_packet(None);
        let out = &mut self.out;
        let snapshot = proto::begin(out, field::packet::CLOCK_SNAPSHOT);
        for (clock, ts) in [
            (field::clock::BOOTTIME, boot_ns),
            (field::clock::REALTIME, wall_ns.max(0) as u64),
        ] {
            let entry = proto::begin(out, field::clock::CLOCKS);
            proto::uint(out, field::clock::CLOCK_ID, clock);
            proto::uint(out, field::clock::TIMESTAMP, ts);
            proto::end(out, entry);
        }
        proto::uint(
            out,
            field::clock::PRIMARY_TRACE_CLOCK,
            field::clock::BOOTTIME,
        );
        proto::end(out, snapshot);
        proto::end_wide(&mut self.out, packet);
    }

    /// Opens a track event of `kind` on `track` at `ts`: its type, track,
    /// category and (interned) name.
    fn start_event(
        &mut self,
        ts: u64,
        kind: u64,
        track: u64,
        category: Syscall,
        name: &[u8],
    ) -> OpenEvent {
        let category = self.interner.category(category);
        let name = self.interner.event_name(name);
        let at = self.open_event(ts);
        let out = &mut self.out;
        proto::uint(out, field::event::TYPE, kind);
        proto::uint(out, field::event::TRACK_UUID, track);
        proto::uint(out, field::event::CATEGORY_IIDS, category);
        proto::uint(out, field::event::NAME_IID, name);
        at
    }

    /// A slice end on `track` at `ts`.
    fn slice_end(&mut self, track: u64, ts: u64) {
        let at = self.open_event(ts);
        proto::uint(&mut self.out, field::event::TYPE, field::event::SLICE_END);
        proto::uint(&mut self.out, field::event::TRACK_UUID, track);
        self.close_event(at);
    }

    /// The event's JSON fields (but `event`, `time`, `ts_ns`) as debug
    /// annotations of the open track event.
    fn annotate(&mut self, event: &Event) {
        if let Some((head, tail)) = self.actor.refresh(event) {
            let mut a = Annotations {
                body: head,
                interner: &mut self.interner,
                scratch: &mut self.scratch,
            };
            a.actor_head(event);
            a.body = tail;
            for &(column, value) in SyscallFields::of_actor(event).iter() {
                a.field(column, value);
            }
        }
        self.out.extend_from_slice(self.actor.head());
        let mut a = Annotations {
            body: &mut self.out,
            interner: &mut self.interner,
            scratch: &mut self.scratch,
        };
        // An unfinished call has no return value and no latency: they are
        // left out, as JSON makes them null.
        if let Some(ret) = event.returned() {
            a.int(Column::Ret, ret);
            if let Some(name) = errno::error_name(ret) {
                a.interned(Column::Error as usize, name.as_bytes());
            }
        }
        if let Some(latency) = event.latency() {
            a.uint(Column::LatencyNs, latency);
        }
        let mut fields = SyscallFields::new();
        fields.push_call(event);
        for &(column, value) in fields.iter() {
            a.field(column, value);
        }
        a.body.extend_from_slice(self.actor.tail());
        // Most events have nothing cut or unreadable (the actor's fields
        // never are): the lists are built only when something is.
        if fields.is_marked() {
            let truncated = fields.truncated();
            if !truncated.is_empty() {
                a.names(TRUNCATED, truncated.names());
            }
            let unreadable = fields.unreadable();
            if !unreadable.is_empty() {
                a.names(UNREADABLE, unreadable.names());
            }
        }
        if let Some(reason) = event.unfinished {
            a.boolean(Column::Unfinished, true);
            a.interned(Column::UnfinishedReason as usize, reason.name().as_bytes());
        }
    }

    /// `SYSCALL failed: ERRNO` (or the return value when it has no name).
    fn failed_name(&mut self, event: &Event) {
        self.name.clear();
        self.name
            .extend_from_slice(event.syscall.event_name().as_bytes());
        self.name.extend_from_slice(b" failed: ");
        match errno::error_name(event.ret) {
            Some(name) => self.name.extend_from_slice(name.as_bytes()),
            None => super::num::push_i64(&mut self.name, event.ret),
        }
    }

    /// `SYSCALL unfinished: REASON`, for a call whose exit is not in the
    /// capture.
    fn unfinished_name(&mut self, event: &Event, reason: Unfinished) {
        self.name.clear();
        self.name
            .extend_from_slice(event.syscall.event_name().as_bytes());
        self.name.extend_from_slice(b" unfinished: ");
        self.name.extend_from_slice(reason.name().as_bytes());
    }

    /// A call whose exit the capture does not have: an instant at its entry
    /// on its thread's track, since its duration and result are unknown
    /// (a slice without an end would swallow the thread's later calls).
    fn unfinished(&mut self, event: &Event, reason: Unfinished, comm: &Comm) {
        let process = self.actor(event);
        let thread = self.thread_track(event.pid, process, event.tid, comm);
        self.unfinished_name(event, reason);
        self.annotated(field::event::INSTANT, thread, event, true);
    }

    /// An event as a slice or an instant with its annotations, on `track`.
    fn annotated(&mut self, kind: u64, track: u64, event: &Event, name_from_self: bool) {
        let name = std::mem::take(&mut self.name);
        let name_bytes: &[u8] = if name_from_self {
            &name
        } else {
            event.syscall.event_name().as_bytes()
        };
        let at = self.start_event(event.ts_ns, kind, track, event.syscall, name_bytes);
        self.name = name;
        self.annotate(event);
        self.close_event(at);
    }

    fn exec(&mut self, event: &Event) {
        if let Some(reason) = event.unfinished {
            self.unfinished(event, reason, &event.comm_before);
            return;
        }
        let process = self.actor(event);
        if event.failed() {
            let thread = self.thread_track(event.pid, process, event.tid, &event.comm_before);
            self.failed_name(event);
            self.annotated(field::event::INSTANT, thread, event, true);
            return;
        }
        // The image it replaces ends where this one begins.
        self.end_exec_slice(event.pid, event.ts_ns);
        self.name.clear();
        self.name.extend_from_slice(comm_bytes(&event.comm));
        self.annotated(field::event::SLICE_BEGIN, process, event, true);
        if let Some(p) = self.processes.get_mut(&event.pid) {
            p.exec_open = true;
        }
    }

    /// Ends the open exec image slice of live process `pid` at `ts`.
    fn end_exec_slice(&mut self, pid: u32, ts: u64) -> bool {
        let Some(process) = self.processes.get_mut(&pid) else {
            return false;
        };
        if !process.exec_open {
            return false;
        }
        process.exec_open = false;
        let track = process.uuid;
        self.slice_end(track, ts);
        true
    }

    fn mount_family(&mut self, event: &Event) {
        if let Some(reason) = event.unfinished {
            self.unfinished(event, reason, &event.comm);
            return;
        }
        let process = self.actor(event);
        let thread = self.thread_track(event.pid, process, event.tid, &event.comm);
        if event.failed() {
            self.failed_name(event);
            self.annotated(field::event::SLICE_BEGIN, thread, event, true);
        } else {
            self.annotated(field::event::SLICE_BEGIN, thread, event, false);
        }
        let end = event.ts_ns.saturating_add(event.latency_ns);
        self.slice_end(thread, end);
    }

    fn fork(&mut self, event: &Event, child_pid: u32, child_tid: u32, child_start: u64) {
        let creator = self.actor(event);
        if child_pid == event.pid {
            let thread = self.thread_track(event.pid, creator, child_tid, &event.comm);
            self.name.clear();
            self.name.extend_from_slice(b"new thread");
            self.annotated(field::event::INSTANT, thread, event, true);
            return;
        }
        let depth = self.processes.get(&event.pid).map_or(0, |p| p.depth);
        let child = match self.processes.get(&child_pid) {
            Some(p) if p.start == Some(child_start) => p.uuid,
            _ => self.create_process(
                child_pid,
                Some(child_start),
                &event.comm,
                Some((creator, depth)),
            ),
        };
        self.annotated(field::event::INSTANT, child, event, false);
    }

    fn exit(&mut self, event: &Event, status: u32) {
        let process = self.actor(event);
        self.end_exec_slice(event.pid, event.ts_ns);
        self.name.clear();
        match (Args::exit_signal(status), Args::exit_code(status)) {
            (Some(signal), _) => {
                self.name.extend_from_slice(b"killed by signal ");
                super::num::push_u64(&mut self.name, u64::from(signal));
                if Args::core_dumped(status) {
                    self.name.extend_from_slice(b", core dumped");
                }
            }
            (None, code) => {
                self.name.extend_from_slice(b"exit code ");
                super::num::push_i64(&mut self.name, i64::from(code.unwrap_or(0)));
            }
        }
        self.annotated(field::event::INSTANT, process, event, true);
        if let Some(gone) = self.processes.remove(&event.pid) {
            self.forget_threads(&gone);
        }
        if self
            .snapshot
            .get(&event.pid)
            .is_some_and(|s| same_start(Some(s.start_ns), event.proc_start_ns))
        {
            self.snapshot.remove(&event.pid);
        }
    }

    /// The track of warnings and loss of the current capture.
    fn loss_track(&mut self) -> Option<u64> {
        let capture = self.capture.as_ref()?;
        if let Some(track) = capture.loss_track {
            return Some(track);
        }
        let parent = capture.track;
        let uuid = self.uuid();
        self.track_descriptor(uuid, Some(parent), b"lost and unpaired records", None);
        if let Some(capture) = self.capture.as_mut() {
            capture.loss_track = Some(uuid);
        }
        Some(uuid)
    }

    /// An instant on the loss track with literal (not interned) name and
    /// annotations: these are rare.
    fn loss_instant(&mut self, ts: u64, name: &str, annotations: &[(&str, Literal<'_>)]) {
        let Some(track) = self.loss_track() else {
            return;
        };
        let at = self.open_event(ts);
        literal_event(&mut self.out, field::event::INSTANT, track, "loss", name);
        for (key, value) in annotations {
            literal_annotation(&mut self.out, key, value);
        }
        self.close_event(at);
    }

    fn capture_metadata(&mut self, header: &CaptureHeader, track: u64) {
        let anchor = header.clock;
        let start = self.time.format(header.start_wall_ns).to_string();
        let anchor_time = self.time.format(anchor.wall_ns).to_string();
        let strings = |list: &[String]| -> Vec<Vec<u8>> {
            list.iter().map(|s| s.as_bytes().to_vec()).collect()
        };
        let (command_line, events, filters) = (
            strings(&header.command_line),
            strings(&header.events),
            strings(&header.filters),
        );
        let name = format!("capture on {}", header.hostname);
        let at = self.open_event(anchor.boot_ns);
        literal_event(
            &mut self.out,
            field::event::SLICE_BEGIN,
            track,
            "capture",
            &name,
        );
        let fields: [(&str, Literal<'_>); 25] = [
            ("hostname", Literal::Str(header.hostname.as_bytes())),
            ("sysname", Literal::Str(header.sysname.as_bytes())),
            ("release", Literal::Str(header.release.as_bytes())),
            (
                "kernel_version",
                Literal::Str(header.kernel_version.as_bytes()),
            ),
            ("machine", Literal::Str(header.machine.as_bytes())),
            ("os", Literal::Str(header.os_name.as_bytes())),
            ("boot_id", Literal::Str(header.boot_id.as_bytes())),
            ("num_cpus", Literal::Uint(u64::from(header.num_cpus))),
            ("page_size", Literal::Uint(u64::from(header.page_size))),
            (
                "utc_offset_secs",
                Literal::Int(i64::from(header.utc_offset_secs)),
            ),
            ("clock_boot_ns", Literal::Uint(anchor.boot_ns)),
            ("clock_wall_ns", Literal::Int(anchor.wall_ns)),
            ("clock_wall", Literal::Str(anchor_time.as_bytes())),
            ("clock_uncertainty_ns", Literal::Uint(anchor.uncertainty_ns)),
            ("clock_method", Literal::Str(header.clock_method.as_bytes())),
            ("start", Literal::Str(start.as_bytes())),
            ("tool", Literal::Str(header.tool.as_bytes())),
            ("tool_version", Literal::Str(header.tool_version.as_bytes())),
            ("command_line", Literal::List(&command_line)),
            ("events", Literal::List(&events)),
            ("filters", Literal::List(&filters)),
            (
                "layout_version",
                Literal::Uint(u64::from(header.layout_version)),
            ),
            ("ringbuf_bytes", Literal::Uint(header.ringbuf_bytes)),
            ("max_args", Literal::Uint(u64::from(header.max_args))),
            ("arg_size", Literal::Uint(u64::from(header.arg_size))),
        ];
        for (key, value) in &fields {
            literal_annotation(&mut self.out, key, value);
        }
        self.close_event(at);
    }

    fn system_info(&mut self, header: &CaptureHeader) {
        let packet = self.begin_packet(None);
        let out = &mut self.out;
        let info = proto::begin(out, field::packet::SYSTEM_INFO);
        let uts = proto::begin(out, field::system_info::UTSNAME);
        proto::lossy_string(out, field::system_info::SYSNAME, header.sysname.as_bytes());
        proto::lossy_string(
            out,
            field::system_info::VERSION,
            header.kernel_version.as_bytes(),
        );
        proto::lossy_string(out, field::system_info::RELEASE, header.release.as_bytes());
        proto::lossy_string(out, field::system_info::MACHINE, header.machine.as_bytes());
        proto::end(out, uts);
        proto::uint(
            out,
            field::system_info::PAGE_SIZE,
            u64::from(header.page_size),
        );
        proto::uint(
            out,
            field::system_info::NUM_CPUS,
            u64::from(header.num_cpus),
        );
        proto::int(
            out,
            field::system_info::TIMEZONE_OFF_MINS,
            i64::from(header.utc_offset_secs / 60),
        );
        proto::end(out, info);
        proto::end_wide(&mut self.out, packet);
    }

    /// Where the current capture ends: its last event, or its trailer's end.
    fn capture_end_ns(capture: &CaptureState, summary: &Summary) -> u64 {
        let mut end = capture.last_ns.max(capture.anchor_boot_ns);
        if let Some(trailer) = &summary.trailer {
            end = end.max(trailer.last_ts_ns);
            let since_anchor = i128::from(trailer.end_wall_ns) - i128::from(capture.anchor_wall_ns);
            let boot = i128::from(capture.anchor_boot_ns) + since_anchor;
            if let Ok(boot) = u64::try_from(boot) {
                end = end.max(boot);
            }
        }
        end
    }
}

/// A packet and its track event, open.
#[derive(Debug, Clone, Copy)]
struct OpenEvent {
    packet: proto::Nested,
    event: proto::Nested,
}

/// The annotations of one event, written into its open track event.
struct Annotations<'a> {
    body: &'a mut Vec<u8>,
    interner: &'a mut Interner,
    scratch: &'a mut Vec<u8>,
}

impl Annotations<'_> {
    /// The fields that say who made the event, `pid` to `cgroup_path`.
    fn actor_head(&mut self, event: &Event) {
        self.uint(Column::Pid, u64::from(event.pid));
        self.uint(Column::Tid, u64::from(event.tid));
        self.uint(Column::Ppid, u64::from(event.ppid));
        self.uint(Column::Uid, u64::from(event.uid));
        self.uint(Column::Gid, u64::from(event.gid));
        let comm = self.interner.comm(event.comm);
        self.interned_iid(Column::Comm as usize, comm);
        let pcomm = self.interner.comm(event.pcomm);
        self.interned_iid(Column::Pcomm as usize, pcomm);
        self.uint(Column::MntNs, u64::from(event.mnt_ns));
        self.uint(Column::CgroupId, event.cgroup_id);
        if let Some(path) = &event.cgroup_path {
            self.interned(Column::CgroupPath as usize, path);
        }
    }

    /// Opens an annotation whose value is not known in advance (arrays,
    /// dictionaries).
    fn open(&mut self, name: usize) -> proto::Nested {
        let iid = self.interner.annotation_name(name);
        let at = proto::begin(self.body, field::event::DEBUG_ANNOTATIONS);
        proto::uint(self.body, field::annotation::NAME_IID, iid);
        at
    }

    /// Writes an annotation with a scalar value (field `value_field`,
    /// `value_len` bytes with its tag) up to the value: its length is known
    /// beforehand, so nothing is patched afterwards. These are most of the
    /// exporter's bytes.
    #[inline]
    fn head(&mut self, name: usize, value_len: usize) {
        let iid = self.interner.annotation_name(name);
        let len = 1 + proto::varint_len(iid) + value_len;
        let out = &mut *self.body;
        out.push(ANNOTATION_TAG);
        proto::varint(out, len as u64);
        out.push(NAME_IID_TAG);
        proto::varint(out, iid);
    }

    /// A scalar annotation: its name's iid, `tag` (a constant), then
    /// `value` as a varint. At most 19 bytes, built in a fixed-size buffer
    /// and appended as a whole (then cut to size): a fixed-size copy is a
    /// few instructions, a variable one a call to memcpy. These are most
    /// of the exporter's work.
    #[inline]
    fn scalar<const N: usize>(&mut self, name: usize, tag: [u8; N], value: u64) {
        let iid = self.interner.annotation_name(name);
        let mut buf = [0u8; 32];
        // Length: the name's tag and iid, the value's tag and varint
        // (at most 1 + 10 + 2 + 10 < 128: one byte).
        let len = 1 + proto::varint_len(iid) + N + proto::varint_len(value);
        buf[0] = ANNOTATION_TAG;
        buf[1] = len as u8;
        buf[2] = NAME_IID_TAG;
        let mut at = 3 + put_varint(&mut buf[3..], iid);
        for byte in tag {
            buf[at] = byte;
            at += 1;
        }
        at += put_varint(&mut buf[at..], value);
        let start = self.body.len();
        self.body.extend_from_slice(&buf);
        self.body.truncate(start + at);
    }

    fn uint(&mut self, column: Column, value: u64) {
        self.scalar(column as usize, [UINT_VALUE_TAG], value);
    }

    fn int(&mut self, column: Column, value: i64) {
        self.scalar(column as usize, [INT_VALUE_TAG], value as u64);
    }

    fn boolean(&mut self, column: Column, value: bool) {
        self.scalar(column as usize, [BOOL_VALUE_TAG], u64::from(value));
    }

    /// A string that repeats from event to event (names, cgroup paths,
    /// errno names): interned.
    fn interned(&mut self, name: usize, value: &[u8]) {
        let iid = self.interner.string(value);
        self.interned_iid(name, iid);
    }

    fn interned_iid(&mut self, name: usize, iid: u64) {
        self.scalar(name, STRING_VALUE_IID_TAG, iid);
    }

    fn string(&mut self, column: Column, value: &[u8]) {
        // Made valid UTF-8 first: its length is the length written. Nearly
        // every value is ASCII, checked a word at a time.
        let text = if value.is_ascii() || std::str::from_utf8(value).is_ok() {
            std::borrow::Cow::Borrowed(value)
        } else {
            std::borrow::Cow::Owned(String::from_utf8_lossy(value).into_owned().into_bytes())
        };
        self.head(
            column as usize,
            1 + proto::varint_len(text.len() as u64) + text.len(),
        );
        proto::bytes(self.body, field::annotation::STRING_VALUE, &text);
    }

    fn names(&mut self, name: usize, names: &[&str]) {
        let at = self.open(name);
        for item in names {
            let entry = proto::begin(self.body, field::annotation::ARRAY_VALUES);
            proto::bytes(self.body, field::annotation::STRING_VALUE, item.as_bytes());
            proto::end(self.body, entry);
        }
        proto::end(self.body, at);
    }

    /// A syscall field, as JSON shows it; a null one is left out.
    fn field(&mut self, column: Column, value: FieldValue<'_>) {
        match value {
            FieldValue::Text(captured) => {
                if let Some(bytes) = captured_text(captured) {
                    self.string(column, bytes);
                }
            }
            FieldValue::Signed(n) => self.int(column, n),
            FieldValue::Unsigned(n) => self.uint(column, n),
            FieldValue::Bool(flag) => self.boolean(column, flag),
            FieldValue::Maybe(Some(n)) => self.int(column, n),
            FieldValue::Maybe(None) | FieldValue::Identity(None) | FieldValue::Derived(None) => {}
            // The same few values on event after event: interned.
            FieldValue::Derived(Some(value)) => self.interned(column as usize, &value.bytes()),
            FieldValue::Comm(comm) => {
                let iid = self.interner.comm(Comm::from_bytes(comm_bytes(comm)));
                self.interned_iid(column as usize, iid);
            }
            FieldValue::Identity(Some((pid, start))) => {
                let iid = self.interner.identity(pid, start, self.scratch);
                self.interned_iid(column as usize, iid);
            }
            // An empty list is left out: protobuf cannot tell it from no
            // value (JSON's `[]`).
            FieldValue::Args([]) => {}
            FieldValue::Args(args) => {
                let at = self.open(column as usize);
                for arg in args {
                    let entry = proto::begin(self.body, field::annotation::ARRAY_VALUES);
                    // A null entry is an annotation without a value.
                    if let Some(bytes) = captured_text(arg) {
                        proto::lossy_string(self.body, field::annotation::STRING_VALUE, bytes);
                    }
                    proto::end(self.body, entry);
                }
                proto::end(self.body, at);
            }
            FieldValue::Attr(captured) => {
                if let Some(attr) = captured_attr(captured) {
                    let at = self.open(column as usize);
                    for (key, n) in [
                        ("attr_set", attr.attr_set),
                        ("attr_clr", attr.attr_clr),
                        ("propagation", attr.propagation),
                        ("userns_fd", attr.userns_fd),
                    ] {
                        let entry = proto::begin(self.body, field::annotation::DICT_ENTRIES);
                        proto::bytes(self.body, field::annotation::NAME, key.as_bytes());
                        proto::uint(self.body, field::annotation::UINT_VALUE, n);
                        proto::end(self.body, entry);
                    }
                    proto::end(self.body, at);
                }
            }
        }
    }
}

/// Writes `value` as a varint at the start of `buf` (at least 10 bytes);
/// returns its length.
#[inline]
fn put_varint(buf: &mut [u8], mut value: u64) -> usize {
    let mut at = 0;
    while value >= 0x80 {
        buf[at] = (value as u8) | 0x80;
        value >>= 7;
        at += 1;
    }
    buf[at] = value as u8;
    at + 1
}

/// The tags of `TrackEvent.debug_annotations` and of the `DebugAnnotation`
/// fields written with a precomputed length.
const ANNOTATION_TAG: u8 = (field::event::DEBUG_ANNOTATIONS as u8) << 3 | 2;
const NAME_IID_TAG: u8 = (field::annotation::NAME_IID as u8) << 3;
const BOOL_VALUE_TAG: u8 = (field::annotation::BOOL_VALUE as u8) << 3;
const UINT_VALUE_TAG: u8 = (field::annotation::UINT_VALUE as u8) << 3;
const INT_VALUE_TAG: u8 = (field::annotation::INT_VALUE as u8) << 3;
/// Field 17, varint: two bytes of tag.
const STRING_VALUE_IID_TAG: [u8; 2] = [
    ((field::annotation::STRING_VALUE_IID << 3) as u8) | 0x80,
    (field::annotation::STRING_VALUE_IID >> 4) as u8,
];

/// A value of an annotation written with its name in full.
enum Literal<'a> {
    Str(&'a [u8]),
    Uint(u64),
    Int(i64),
    List(&'a [Vec<u8>]),
}

/// Starts a track event with a literal category and name.
fn literal_event(body: &mut Vec<u8>, kind: u64, track: u64, category: &str, name: &str) {
    proto::uint(body, field::event::TYPE, kind);
    proto::uint(body, field::event::TRACK_UUID, track);
    proto::bytes(body, field::event::CATEGORIES, category.as_bytes());
    proto::bytes(body, field::event::NAME, name.as_bytes());
}

fn literal_annotation(body: &mut Vec<u8>, key: &str, value: &Literal<'_>) {
    let at = proto::begin(body, field::event::DEBUG_ANNOTATIONS);
    proto::bytes(body, field::annotation::NAME, key.as_bytes());
    match value {
        Literal::Str(text) => proto::lossy_string(body, field::annotation::STRING_VALUE, text),
        Literal::Uint(n) => proto::uint(body, field::annotation::UINT_VALUE, *n),
        Literal::Int(n) => proto::int(body, field::annotation::INT_VALUE, *n),
        Literal::List(items) => {
            for item in *items {
                let entry = proto::begin(body, field::annotation::ARRAY_VALUES);
                proto::lossy_string(body, field::annotation::STRING_VALUE, item);
                proto::end(body, entry);
            }
        }
    }
    proto::end(body, at);
}

/// Why a capture cannot go into the trace being written.
pub fn incompatible_capture(first_boot: &str, header: &CaptureHeader) -> Option<String> {
    (first_boot != header.boot_id).then(|| {
        format!(
            "recorded in another boot (boot id {}) than the first input (boot id {first_boot}): \
             boot-clock times of two boots cannot share one Perfetto timeline; export each capture on its own",
            header.boot_id
        )
    })
}

impl Renderer for PerfettoRenderer {
    fn begin(&mut self, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }

    fn input(&mut self, capture: &CaptureIdentity) {
        if capture.source == self.source {
            return;
        }
        if let Some(state) = self.capture.take() {
            self.parked.insert(self.source, state);
        }
        self.source = capture.source;
        self.capture = self.parked.remove(&capture.source);
    }

    fn capture_start(&mut self, header: &CaptureHeader, out: &mut dyn Write) -> io::Result<()> {
        if let Some(first) = &self.boot_id {
            if let Some(reason) = incompatible_capture(first, header) {
                return Err(io::Error::new(io::ErrorKind::InvalidInput, reason));
            }
        } else {
            self.boot_id = Some(header.boot_id.clone());
        }
        self.out.clear();
        self.check_interner();
        self.clock_snapshot(header.clock.boot_ns, header.clock.wall_ns);
        self.system_info(header);
        let track = self.uuid();
        let name = format!("snoopcap capture on {}", header.hostname);
        self.track_descriptor(track, None, name.as_bytes(), None);
        self.capture_metadata(header, track);
        self.capture = Some(CaptureState {
            track,
            loss_track: None,
            anchor_boot_ns: header.clock.boot_ns,
            anchor_wall_ns: header.clock.wall_ns,
            last_ns: header.clock.boot_ns,
        });
        out.write_all(&self.out)
    }

    fn process(&mut self, info: &ProcessInfo, _out: &mut dyn Write) -> io::Result<()> {
        self.snapshot.insert(
            info.pid,
            Snapshot {
                ppid: info.ppid,
                start_ns: info.start_ns,
                comm: info.comm.clone(),
                argv: info.argv.clone(),
            },
        );
        Ok(())
    }

    fn event(&mut self, event: &Event, out: &mut dyn Write) -> io::Result<()> {
        self.out.clear();
        self.tick += 1;
        self.check_interner();
        self.follow_clock(event);
        if let Some(capture) = self.capture.as_mut() {
            capture.last_ns = capture
                .last_ns
                .max(event.ts_ns.saturating_add(event.latency().unwrap_or(0)));
        }
        match event.args {
            Args::Fork {
                child_pid,
                child_tid,
                child_start_ns,
                ..
            } => self.fork(event, child_pid, child_tid, child_start_ns),
            Args::Exit { status, .. } => self.exit(event, status),
            Args::Exec { .. } => self.exec(event),
            _ => self.mount_family(event),
        }
        forget_oldest(&mut self.processes, |p| p.seen);
        forget_oldest(&mut self.threads, |t| t.seen);
        out.write_all(&self.out)
    }

    fn input_warning(&mut self, warning: &Warning, out: &mut dyn Write) -> io::Result<()> {
        let Some(ts) = self.capture.as_ref().map(|c| c.last_ns) else {
            return Ok(());
        };
        self.out.clear();
        let (name, kind) = match warning {
            Warning::Skipped(_) => ("corrupt frame skipped", "skipped"),
            Warning::Truncated(_) => ("capture truncated", "truncated"),
            Warning::Fatal(_) => ("unreadable input", "fatal"),
            Warning::Undecodable(_) => ("undecodable kernel record", "undecodable"),
        };
        let message = warning.to_string();
        self.loss_instant(
            ts,
            name,
            &[
                ("warning", Literal::Str(kind.as_bytes())),
                ("message", Literal::Str(message.as_bytes())),
            ],
        );
        out.write_all(&self.out)
    }

    fn capture_end(&mut self, summary: &Summary, out: &mut dyn Write) -> io::Result<()> {
        let Some(capture) = self.capture.clone() else {
            return Ok(());
        };
        self.out.clear();
        let end = Self::capture_end_ns(&capture, summary);
        let loss = summary.loss;
        if loss.total() > 0 {
            let name = format!("{} records lost in the kernel", loss.total());
            self.loss_instant(
                end,
                &name,
                &[
                    ("lost", Literal::Uint(loss.total())),
                    ("entries", Literal::Uint(loss.entries)),
                    ("exits", Literal::Uint(loss.exits)),
                    ("scratch_busy", Literal::Uint(loss.scratch_busy)),
                    ("refetches", Literal::Uint(loss.refetches)),
                    ("proc", Literal::Uint(loss.proc)),
                ],
            );
        }
        let pairing = summary.pairing;
        if pairing.orphan_exits > 0 {
            let name = format!(
                "{} exit records without their entry could not be paired",
                pairing.orphan_exits
            );
            self.loss_instant(
                end,
                &name,
                &[("orphan_exits", Literal::Uint(pairing.orphan_exits))],
            );
        }
        if pairing.incomplete_entries > 0 {
            // Each is also an instant where its call began.
            let name = format!(
                "{} calls without their exit record, shown as unfinished",
                pairing.incomplete_entries
            );
            self.loss_instant(
                end,
                &name,
                &[(
                    "incomplete_entries",
                    Literal::Uint(pairing.incomplete_entries),
                )],
            );
        }
        if summary.decode_errors > 0 {
            let name = format!(
                "{} kernel records could not be decoded",
                summary.decode_errors
            );
            self.loss_instant(
                end,
                &name,
                &[("undecodable", Literal::Uint(summary.decode_errors))],
            );
        }
        if summary.cut_short() {
            self.loss_instant(
                end,
                "capture cut short (no trailer)",
                &[(
                    "message",
                    Literal::Str(crate::replay::stream::CUT_SHORT.as_bytes()),
                )],
            );
        }
        // The capture slice ends, with how the recording stopped.
        let at = self.open_event(end);
        proto::uint(&mut self.out, field::event::TYPE, field::event::SLICE_END);
        proto::uint(&mut self.out, field::event::TRACK_UUID, capture.track);
        let complete = summary.trailer.is_some();
        literal_annotation(
            &mut self.out,
            "complete",
            &Literal::Uint(u64::from(complete)),
        );
        if let Some(trailer) = &summary.trailer {
            let end_time = self.time.format(trailer.end_wall_ns).to_string();
            literal_annotation(
                &mut self.out,
                "stop_reason",
                &Literal::Str(trailer.stop_reason.as_bytes()),
            );
            literal_annotation(&mut self.out, "end", &Literal::Str(end_time.as_bytes()));
        }
        self.close_event(at);
        self.capture = None;
        out.write_all(&self.out)
    }

    fn end(&mut self, out: &mut dyn Write) -> io::Result<()> {
        out.flush()
    }
}

#[cfg(test)]
mod tests;
