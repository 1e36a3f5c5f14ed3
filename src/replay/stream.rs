//! The event stream: the one way anything reads a capture's events.
//!
//! [`EventStream`] owns a capture's reader, the raw-record decoder, the
//! entry/exit pairing, the clock anchors and the cgroup-path table, and the
//! filter. [`EventStream::next_item`] yields each paired, filtered
//! [`Event`], or a [`Warning`] about the input where it happens (a skipped
//! corrupt frame, a cut, the first undecodable record). Entries whose exit
//! is not in the capture are events too ([`Event::unfinished`]): one given up
//! on mid-stream (its exit was lost) comes where the record that showed it
//! is read, before the event that record completes; those still in progress
//! when the capture ends come after its last event, oldest entry first
//! (docs/EVENTS.md). [`EventStream::finish`]
//! ends the capture and returns one [`Summary`]: kernel loss by reason,
//! unpaired records by reason, damage, cut short, and the record counts that
//! `--info` shows. replay's renderers, `--info`, the tests, the fuzz target
//! and the examples all read captures through it.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::io::Read;
use std::sync::Arc;

use serde::Serialize;

use super::decode::{self, DecodeError, InFrame, RawRecord};
use super::filter::{self, Filter, TimeParseError};
use super::lineage::Lineage;
use super::reassemble::{Reassembler, ReassemblyConfig, ReassemblyStats};
use crate::bpf::layout;
use crate::event::{Event, FrameShares, Syscall, Unfinished};
use crate::format::{
    CaptureHeader, CaptureReader, ContainerInfo, Damage, DamageKind, FormatError, LossCounters,
    ProcessInfo, Record, RedactionCount, SegmentInfo, Trailer,
};

/// A `--since`/`--until` value, checked when the arguments are parsed and
/// resolved against each capture's start (it may be relative to it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeSpec(String);

impl TimeSpec {
    /// Checks `text` as a time ([`filter::parse_time`] forms).
    pub fn parse(text: &str) -> Result<TimeSpec, TimeParseError> {
        // Checked against an arbitrary start: a relative time parses
        // whatever the capture's start turns out to be.
        filter::parse_time(text, Some(0))?;
        Ok(TimeSpec(text.to_string()))
    }

    /// The time as it was given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Wall-clock ns, for a capture that started at `start_wall_ns`.
    pub fn resolve(&self, start_wall_ns: i64) -> Result<i64, TimeParseError> {
        filter::parse_time(&self.0, Some(start_wall_ns))
    }
}

impl std::str::FromStr for TimeSpec {
    type Err = TimeParseError;

    fn from_str(text: &str) -> Result<TimeSpec, TimeParseError> {
        TimeSpec::parse(text)
    }
}

/// What to select from a capture.
#[derive(Debug, Clone)]
pub struct StreamOptions {
    /// Every event filter; `since`/`until` are set per capture from the two
    /// fields below.
    pub filter: Filter,
    pub since: Option<TimeSpec>,
    pub until: Option<TimeSpec>,
    /// Also yield every decoded kernel record ([`Item::Record`]) as it is
    /// read, before pairing: for tools that show what the kernel wrote.
    pub raw_records: bool,
    /// `--descendants-of PID`: only events of that process and of the
    /// processes it created, directly or not (by the capture's lineage).
    pub descendants_of: Option<u32>,
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            filter: Filter::match_all(),
            since: None,
            until: None,
            raw_records: false,
            descendants_of: None,
        }
    }
}

/// Something wrong with the input, reported where the stream meets it. Each
/// displays as one line.
#[derive(Debug)]
pub enum Warning {
    /// A corrupt frame was dropped, or bytes were skipped looking for the
    /// next valid frame header; the stream goes on with what follows.
    Skipped(FormatError),
    /// The input ends in the middle of a frame: the stream ends here.
    Truncated(FormatError),
    /// The input cannot be read further: the stream ends here.
    Fatal(FormatError),
    /// The first kernel record that did not decode (the rest are counted
    /// in [`Summary::decode_errors`]).
    Undecodable(DecodeError),
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::Skipped(err @ FormatError::Corrupt { .. }) => write!(f, "{err}; skipped it"),
            Warning::Skipped(err) => write!(f, "{err}"),
            Warning::Truncated(err) | Warning::Fatal(err) => write!(f, "{err}"),
            Warning::Undecodable(err) => write!(f, "undecodable kernel record: {err}"),
        }
    }
}

/// One step of the stream.
// Events are nearly every item: boxing them to make the rare ones' size
// matter less would cost an allocation per event.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Item {
    Event(Event),
    Warning(Warning),
    /// A decoded kernel record, only with [`StreamOptions::raw_records`];
    /// the events it takes part in come as usual.
    Record(RawRecord),
    /// A process of the capture's start snapshot (`record`'s view of the
    /// process table when it started), before any event.
    Process(ProcessInfo),
    /// The records of a frame are used up and the next step reads input,
    /// which may block on a pipe: a live consumer flushes its output here.
    EndOfFrame,
}

/// What [`EventStream::advance`] made ready.
#[derive(Debug)]
pub(crate) enum Advanced {
    /// An event, kept in the stream ([`EventStream::lent`]).
    Event,
    /// Anything but an event (boxed: these are rare, and an item the
    /// size of an event would be copied whole at every step).
    Item(Box<Item>),
}

/// Per-reason kernel loss totals of a capture.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LossTotals {
    pub entries: u64,
    pub exits: u64,
    pub scratch_busy: u64,
    /// Refetch records: their calls' events lack the arguments the entry
    /// did not read (for a deferred exec, the filename and argv).
    pub refetches: u64,
    /// Fork, process exit and exec records (layout 3+).
    pub proc: u64,
}

impl LossTotals {
    pub fn from_counters(counters: &LossCounters) -> LossTotals {
        let column = |i: usize| -> u64 {
            counters
                .per_cpu
                .iter()
                .map(|row| row.get(i).copied().unwrap_or(0))
                .sum()
        };
        LossTotals {
            entries: column(layout::SC_LOST_ENTER_RINGBUF as usize),
            exits: column(layout::SC_LOST_EXIT_RINGBUF as usize),
            scratch_busy: column(layout::SC_LOST_SCRATCH_BUSY as usize),
            refetches: column(layout::SC_LOST_REFETCH as usize),
            proc: column(layout::SC_LOST_PROC as usize),
        }
    }

    pub fn total(&self) -> u64 {
        self.entries + self.exits + self.scratch_busy + self.refetches + self.proc
    }

    /// Entry records that never reached the capture, whatever the reason.
    pub fn lost_entries(&self) -> u64 {
        self.entries + self.scratch_busy
    }
}

/// Kernel records of a capture by record kind and syscall, counted from
/// their headers (undecodable ones too: an unknown syscall number under
/// `unknown`; a record of an unknown kind in `records` only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordCounts {
    pub records: u64,
    pub entries: BTreeMap<String, u64>,
    pub exits: BTreeMap<String, u64>,
    /// Arguments re-read after the call (refetch records).
    pub refetches: BTreeMap<String, u64>,
    /// Process lifecycle records (layout 3+): fork, exit, and the execs
    /// seen at sched_process_exec.
    pub process: BTreeMap<String, u64>,
}

/// [`RecordCounts`] as the stream tallies them: plain counters by record
/// kind and syscall number, named once when the summary is made (a map
/// keyed by name per record cost more than the rest of the bookkeeping).
#[derive(Debug, Clone, Default)]
struct RecordTally {
    records: u64,
    /// By [`TallyKind`], then by raw syscall number (0: unknown).
    by_kind: [[u64; SYSCALL_SLOTS]; TALLY_KINDS],
}

/// Raw syscall numbers 1..=13, and 0 for a number this build does not know.
const SYSCALL_SLOTS: usize = Syscall::ALL.len() + 1;
/// Entries, exits, refetches, process records.
const TALLY_KINDS: usize = 4;

impl RecordTally {
    fn count(&mut self, raw: &[u8]) {
        self.records += 1;
        let Some(kind) = decode::record_kind(raw) else {
            return;
        };
        let kind = match kind {
            layout::SC_REC_ENTER => 0,
            layout::SC_REC_EXIT => 1,
            layout::SC_REC_REFETCH => 2,
            layout::SC_REC_FORK | layout::SC_REC_PROC_EXIT | layout::SC_REC_EXEC => 3,
            // A record of an unknown kind (undecodable) counts in `records` only.
            _ => return,
        };
        let syscall = decode::record_syscall(raw).map_or(0, usize::from);
        let slot = if syscall < SYSCALL_SLOTS { syscall } else { 0 };
        self.by_kind[kind][slot] += 1;
    }

    /// The counts by name (`unknown` for numbers this build does not know;
    /// execve and execveat both under `exec`).
    fn named(&self) -> RecordCounts {
        let table = |row: &[u64; SYSCALL_SLOTS]| {
            let mut named = BTreeMap::new();
            for (raw, &n) in row.iter().enumerate().filter(|(_, &n)| n > 0) {
                let name = u8::try_from(raw)
                    .ok()
                    .and_then(Syscall::from_raw)
                    .map_or("unknown", |s| s.event_name());
                *named.entry(name.to_string()).or_insert(0) += n;
            }
            named
        };
        RecordCounts {
            records: self.records,
            entries: table(&self.by_kind[0]),
            exits: table(&self.by_kind[1]),
            refetches: table(&self.by_kind[2]),
            process: table(&self.by_kind[3]),
        }
    }
}

/// How a capture's stream ended.
#[derive(Debug, Clone)]
pub struct Summary {
    pub header: CaptureHeader,
    /// Where the file belongs, for a file of a rotated set or a dump.
    pub segment: Option<SegmentInfo>,
    pub format_version: u16,
    /// `None`: the capture was cut short (its recorder did not stop cleanly).
    pub trailer: Option<Trailer>,
    /// The kernel's loss counters (the trailer's, else the latest seen).
    pub loss: LossTotals,
    /// Entry/exit pairing, including what could not be paired and why.
    pub pairing: ReassemblyStats,
    /// Kernel records that did not decode.
    pub decode_errors: u64,
    /// Every region the reader skipped or found cut short, in file order.
    pub damage: Vec<Damage>,
    /// Corrupt frames or undecodable records were met (not a plain cut).
    pub damaged: bool,
    /// The input ended in the middle of a frame.
    pub truncated: bool,
    pub records: RecordCounts,
    /// Data frames whose header checked out.
    pub frames: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Events the filter let through.
    pub events_shown: u64,
    /// What container engines said of the capture's containers.
    pub containers: Vec<ContainerInfo>,
    /// The last replacement count of each redaction pass, by step.
    pub redaction_counts: Vec<RedactionCount>,
}

impl Summary {
    /// No trailer: the recorder was killed, or the input was cut.
    pub fn cut_short(&self) -> bool {
        self.trailer.is_none()
    }

    /// The end-of-capture messages, one line each, in the order replay
    /// prints them: frames of a newer version, kernel loss, unpaired
    /// records, undecodable records, and (unless `strict` makes it an
    /// error instead) a cut-short capture.
    pub fn end_warnings(&self, strict: bool) -> Vec<String> {
        let mut lines: Vec<String> = self
            .damage
            .iter()
            .filter(|d| d.kind == DamageKind::UnknownFrameType)
            .map(ToString::to_string)
            .collect();
        let loss = &self.loss;
        if loss.total() > 0 {
            // Process records are named only where some were lost, so that
            // the line stays as it was for captures without them.
            let proc = if loss.proc > 0 {
                format!(", {} process records", loss.proc)
            } else {
                String::new()
            };
            lines.push(format!(
                "{} records lost in the kernel ({} entries, {} exits, {} argument re-reads{proc}; the ring buffer was full — try a larger record --ringbuf-size)",
                loss.total(),
                loss.lost_entries(),
                loss.exits,
                loss.refetches
            ));
        }
        lines.extend(unpaired_warnings(&self.pairing));
        if self.decode_errors > 0 {
            lines.push(format!(
                "{} kernel records could not be decoded",
                self.decode_errors
            ));
        }
        if self.cut_short() && !self.damaged && !self.truncated && !strict {
            lines.push(CUT_SHORT.to_string());
        }
        lines
    }
}

/// The stream's pairing gives up on an entry this much capture time behind.
const NO_EXIT_IN_TIME: &str = "no exit within 600 s";
const _: () = assert!(super::reassemble::DEFAULT_MAX_AGE_NS == 600_000_000_000);

/// The lines on records that could not be paired: exits without their entry
/// (never shown: there is no call to show), and entries without their exit
/// (shown as unfinished events), by reason, in [`Unfinished::ALL`] order.
fn unpaired_warnings(pairing: &ReassemblyStats) -> Vec<String> {
    let mut lines = Vec::new();
    if pairing.orphan_exits > 0 {
        lines.push(format!(
            "{} exit records without their entry could not be paired (their calls began before the capture, or their entries were lost)",
            pairing.orphan_exits
        ));
    }
    if pairing.incomplete_entries > 0 {
        let reasons: Vec<String> = Unfinished::ALL
            .iter()
            .filter_map(|&reason| {
                let (count, what) = match reason {
                    Unfinished::EndOfCapture => (
                        pairing.incomplete_at_end,
                        "still in progress when the capture ended",
                    ),
                    Unfinished::Superseded => (pairing.incomplete_superseded, "exit lost"),
                    Unfinished::TooOld => (pairing.incomplete_too_old, NO_EXIT_IN_TIME),
                    Unfinished::TableFull => (
                        pairing.incomplete_table_full,
                        "dropped from a full pairing table",
                    ),
                };
                (count > 0).then(|| format!("{count} {what}"))
            })
            .collect();
        lines.push(format!(
            "{} entries without their exit record are shown as unfinished calls ({})",
            pairing.incomplete_entries,
            reasons.join(", ")
        ));
    }
    lines
}

/// A capture's cgroup id → path mappings, with the last lookup
/// remembered (runs of events share a cgroup).
#[derive(Debug, Default)]
struct CgroupPaths {
    paths: rustc_hash::FxHashMap<u64, Arc<[u8]>>,
    last: Option<(u64, Option<Arc<[u8]>>)>,
    /// The path of the event the stream lent last, given back when that
    /// event was done with ([`CgroupPaths::give_back`]).
    returned: Option<(u64, Arc<[u8]>)>,
}

impl CgroupPaths {
    fn insert(&mut self, id: u64, path: Arc<[u8]>) {
        self.paths.insert(id, path);
        self.last = None;
        self.returned = None;
    }

    /// Takes back the path of an event of cgroup `id` that is done with:
    /// the next event of that cgroup gets it moved instead of a new
    /// reference (one atomic increment, and one decrement when the event
    /// goes, for every event otherwise).
    fn give_back(&mut self, id: u64, path: Option<Arc<[u8]>>) {
        if let Some(path) = path {
            self.returned = Some((id, path));
        }
    }

    /// The path the capture stored for cgroup `id`, if any.
    fn get(&mut self, id: u64) -> Option<Arc<[u8]>> {
        if let Some((returned, path)) = self.returned.take() {
            if returned == id {
                return Some(path);
            }
        }
        match &self.last {
            Some((last, path)) if *last == id => path.clone(),
            _ => {
                let path = self.paths.get(&id).cloned();
                self.last = Some((id, path.clone()));
                path
            }
        }
    }
}

/// Joins the event's cgroup path and process identities, then says whether
/// the filter (and `--descendants-of`) lets it through.
fn select_event(
    cgroup_paths: &mut CgroupPaths,
    lineage: &Lineage,
    filter: &Filter,
    descendants_of: Option<u32>,
    event: &mut Event,
) -> bool {
    event.cgroup_path = cgroup_paths.get(event.cgroup_id);
    if !event.syscall.is_lifecycle() {
        lineage.annotate(event);
    }
    filter.matches(event) && descendants_of.is_none_or(|a| lineage.is_descendant(event, a))
}

/// What replay says of a capture without a trailer.
pub const CUT_SHORT: &str = "capture was cut short (no trailer: its recorder did not stop cleanly); every complete frame was replayed";

/// Paired, filtered events of one capture. See the module documentation.
pub struct EventStream<R: Read> {
    reader: CaptureReader<R>,
    layout_version: u32,
    pairing: Reassembler,
    lineage: Lineage,
    /// `--descendants-of`.
    descendants_of: Option<u32>,
    /// This capture's cgroup id → path mappings (its recorder's host).
    cgroup_paths: CgroupPaths,
    /// References to the current frame that lent events gave back.
    frame_shares: FrameShares,
    filter: Filter,
    raw_records: bool,
    /// Records were read since the last [`Item::EndOfFrame`].
    in_frame: bool,
    /// Selected events not handed out yet: those the last record completed
    /// or gave up on (handed out after the tapped record, if any), each
    /// with its sources (empty unless [`EventStream::track_sources`]).
    ready: VecDeque<(Event, Vec<u64>)>,
    /// The event the last [`EventStream::advance`] made ready.
    lent: Option<Event>,
    /// The reader reached the end and the pending entries were flushed.
    ended: bool,
    /// Another file of the same set follows ([`EventStream::set_continues`]):
    /// at the end of this one, calls in progress stay pending.
    continues: bool,
    loss: LossTotals,
    records: RecordTally,
    decode_errors: u64,
    damaged: bool,
    truncated: bool,
    events_shown: u64,
    /// A later file of a rotated set ([`EventStream::continue_with`]): its
    /// start snapshot repeats processes the lineage already follows.
    continuation: bool,
    /// [`EventStream::track_sources`] was called.
    track_sources: bool,
    /// The kernel-record positions of the last event handed out.
    sources: Vec<u64>,
    containers: Vec<ContainerInfo>,
    redaction_counts: Vec<RedactionCount>,
}

impl<R: Read> EventStream<R> {
    /// Reads the capture header from `source`.
    pub fn open(source: R, options: &StreamOptions) -> Result<EventStream<R>, OpenError> {
        let reader = CaptureReader::new(source).map_err(OpenError::Format)?;
        let header = reader.header();
        let mut filter = options.filter.clone();
        let resolve = |option: &'static str, spec: &Option<TimeSpec>| {
            spec.as_ref()
                .map(|s| s.resolve(header.start_wall_ns))
                .transpose()
                .map_err(|source| OpenError::Time { option, source })
        };
        filter.since = resolve("--since", &options.since)?;
        filter.until = resolve("--until", &options.until)?;
        let mut pairing = Reassembler::new(ReassemblyConfig {
            keep_incomplete: true,
            ..ReassemblyConfig::default()
        });
        pairing.add_clock_anchor(header.clock.boot_ns, header.clock.wall_ns);
        Ok(EventStream {
            layout_version: header.layout_version,
            reader,
            pairing,
            lineage: Lineage::new(),
            descendants_of: options.descendants_of,
            cgroup_paths: CgroupPaths::default(),
            frame_shares: FrameShares::default(),
            filter,
            raw_records: options.raw_records,
            ready: VecDeque::new(),
            lent: None,
            ended: false,
            continues: false,
            in_frame: false,
            loss: LossTotals::default(),
            records: RecordTally::default(),
            decode_errors: 0,
            damaged: false,
            truncated: false,
            events_shown: 0,
            continuation: false,
            track_sources: false,
            sources: Vec::new(),
            containers: Vec::new(),
            redaction_counts: Vec::new(),
        })
    }

    /// From now on, remember which kernel records make up each event:
    /// [`EventStream::event_sources`]. For a rewrite of the capture; costs
    /// nothing when not called.
    pub fn track_sources(&mut self) {
        self.track_sources = true;
    }

    /// With [`EventStream::track_sources`], the positions (0-based, among
    /// the kernel records the reader returned, in file order) of the
    /// records the event last returned by [`EventStream::next_item`] was
    /// made of. Not meaningful with [`StreamOptions::raw_records`].
    pub fn event_sources(&self) -> &[u64] {
        &self.sources
    }

    pub fn header(&self) -> &CaptureHeader {
        self.reader.header()
    }

    /// Where the capture belongs, for a file of a rotated set or a dump.
    pub fn segment(&self) -> Option<&SegmentInfo> {
        self.reader.segment()
    }

    /// Goes on with the next file of the same rotated set, read from
    /// `source`, once this one is used up (`next_item` returned `None`):
    /// pairing, lineage and cgroup paths carry over, so that a call that
    /// entered in one file and returned in the next is one event. Returns
    /// the summary of the file just ended; its `pairing` is left empty,
    /// since pairing is one for the whole set and [`EventStream::finish`]
    /// reports it. The filter's times stay those resolved for the first file.
    pub fn continue_with(&mut self, source: R) -> Result<Summary, OpenError> {
        let reader = CaptureReader::new(source).map_err(OpenError::Format)?;
        let old = std::mem::replace(&mut self.reader, reader);
        let header = self.reader.header();
        self.layout_version = header.layout_version;
        self.pairing
            .add_clock_anchor(header.clock.boot_ns, header.clock.wall_ns);
        self.continuation = true;
        self.in_frame = false;
        let trailer = old.trailer().cloned();
        let loss = trailer
            .as_ref()
            .map_or(self.loss, |t| LossTotals::from_counters(&t.lost));
        let summary = Summary {
            header: old.header().clone(),
            segment: old.segment().cloned(),
            format_version: old.version(),
            trailer,
            loss,
            pairing: ReassemblyStats::default(),
            decode_errors: std::mem::take(&mut self.decode_errors),
            damage: old.damage().to_vec(),
            damaged: std::mem::take(&mut self.damaged),
            truncated: std::mem::take(&mut self.truncated),
            records: std::mem::take(&mut self.records).named(),
            frames: old.stats().data_frames,
            bytes: old.offset(),
            events_shown: std::mem::take(&mut self.events_shown),
            containers: std::mem::take(&mut self.containers),
            redaction_counts: std::mem::take(&mut self.redaction_counts),
        };
        self.loss = LossTotals::default();
        Ok(summary)
    }

    /// Says whether the next file of the same rotated set will follow
    /// ([`EventStream::continue_with`]). If so, the calls still in progress
    /// at the end of this file are not yet unfinished: their exits may be
    /// in the next.
    pub fn set_continues(&mut self, continues: bool) {
        self.continues = continues;
    }

    /// The next event or warning; `None` at the end of the capture.
    pub fn next_item(&mut self) -> Option<Item> {
        match self.advance()? {
            Advanced::Event => self.take_lent().map(Item::Event),
            Advanced::Item(item) => Some(*item),
        }
    }

    /// The event [`EventStream::advance`] said is ready, moved out.
    pub(crate) fn take_lent(&mut self) -> Option<Event> {
        self.lent.take()
    }

    /// The event [`EventStream::advance`] said is ready.
    pub(crate) fn lent(&self) -> Option<&Event> {
        self.lent.as_ref()
    }

    /// Makes the next step: an event, kept in `lent` ([`Advanced::Event`]),
    /// or another item; `None` at the end of the capture.
    pub(crate) fn advance(&mut self) -> Option<Advanced> {
        // The event lent last is done with: it must not keep its frame.
        self.drop_lent();
        loop {
            if let Some((event, sources)) = self.ready.pop_front() {
                if self.track_sources {
                    self.sources = sources;
                }
                self.lent = Some(event);
                return Some(Advanced::Event);
            }
            if self.reader.needs_input() {
                // The next record is another frame's: what is still pending
                // must not keep this one's buffer from being reused.
                self.pairing.detach_frame();
                self.frame_shares.clear();
                if self.in_frame {
                    self.in_frame = false;
                    return Some(Advanced::Item(Box::new(Item::EndOfFrame)));
                }
            }
            let (record, frame) = match self.reader.next_record_in_frame() {
                Ok(Some(next)) => next,
                Ok(None) if self.ended || self.continues => return None,
                Ok(None) => {
                    // Calls still in progress when the capture ended.
                    self.ended = true;
                    self.pairing.finish();
                    self.take_unfinished();
                    continue;
                }
                Err(err) if err.is_recoverable() => {
                    self.damaged = true;
                    return Some(Advanced::Item(Box::new(Item::Warning(Warning::Skipped(
                        err,
                    )))));
                }
                Err(err @ FormatError::Truncated { .. }) => {
                    self.truncated = true;
                    return Some(Advanced::Item(Box::new(Item::Warning(Warning::Truncated(
                        err,
                    )))));
                }
                Err(err) => {
                    self.damaged = true;
                    return Some(Advanced::Item(Box::new(Item::Warning(Warning::Fatal(err)))));
                }
            };
            self.in_frame = true;
            match record {
                Record::Kernel(raw) => {
                    self.records.count(raw);
                    let position = self.records.records - 1;
                    if self.track_sources {
                        self.pairing.set_source(Some(position));
                    }
                    let frame = frame.map(|buffer| InFrame {
                        buffer,
                        shares: &mut self.frame_shares,
                    });
                    let decoded = decode::decode_in(raw, self.layout_version, frame);
                    let tapped = match &decoded {
                        Ok(record) if self.raw_records => Some(record.clone()),
                        _ => None,
                    };
                    // The event the record completes, if any, is made in
                    // `lent` (empty until then), where it is handed out
                    // from; a record that completes none leaves it alone
                    // rather than writing an empty event there.
                    debug_assert!(self.lent.is_none(), "an event lent before is still there");
                    match decoded {
                        Ok(RawRecord::Enter(entry)) => self.pairing.push_enter(entry),
                        Ok(RawRecord::Refetch(refetch)) => self.pairing.push_refetch(refetch),
                        Ok(RawRecord::Exit(exit)) => {
                            self.pairing.push_exit_into(&exit, &mut self.lent)
                        }
                        Ok(RawRecord::Exec(exec)) => self.lent = self.pairing.push_exec(exec),
                        Ok(RawRecord::Fork(fork)) => {
                            let wall = self.pairing.wall_ns(fork.ts_ns);
                            self.lent = Some(self.lineage.fork_event(&fork, wall));
                        }
                        Ok(RawRecord::ProcExit(exit)) => {
                            let wall = self.pairing.wall_ns(exit.ts_ns);
                            self.lent = Some(self.lineage.exit_event(&exit, wall));
                        }
                        Err(err) => {
                            self.decode_errors += 1;
                            self.damaged = true;
                            if self.decode_errors == 1 {
                                return Some(Advanced::Item(Box::new(Item::Warning(
                                    Warning::Undecodable(err),
                                ))));
                            }
                        }
                    }
                    let sources = if self.track_sources && self.lent.is_some() {
                        match self.pairing.event_sources() {
                            [] => vec![position],
                            sources => sources.to_vec(),
                        }
                    } else {
                        Vec::new()
                    };
                    // Entries this record showed to have lost their exit
                    // come first: they began before the event it completes.
                    self.take_unfinished();
                    let shown = self.lent.is_some() && self.select_lent();
                    if let Some(record) = tapped {
                        self.ready.extend(self.lent.take().map(|e| (e, sources)));
                        return Some(Advanced::Item(Box::new(Item::Record(record))));
                    }
                    if shown {
                        if self.ready.is_empty() {
                            // The common case: straight out, no queueing.
                            if self.track_sources {
                                self.sources = sources;
                            }
                            return Some(Advanced::Event);
                        }
                        self.ready.extend(self.lent.take().map(|e| (e, sources)));
                    }
                }
                Record::ClockAnchor(anchor) => self
                    .pairing
                    .add_clock_anchor(anchor.boot_ns, anchor.wall_ns),
                Record::LossCounters(counters) => self.loss = LossTotals::from_counters(&counters),
                Record::Process(_) if self.continuation => {}
                Record::Process(info) => {
                    self.lineage.add_snapshot(&info);
                    let shown = self
                        .descendants_of
                        .is_none_or(|a| self.lineage.descends((info.pid, info.start_ns), a));
                    if shown {
                        return Some(Advanced::Item(Box::new(Item::Process(info))));
                    }
                }
                Record::CgroupPath(c) => {
                    self.cgroup_paths.insert(c.id, Arc::from(c.path));
                }
                Record::Context(raw) => add_context(&mut self.lineage, self.layout_version, raw),
                Record::Container(info) => self.containers.push(info),
                Record::RedactionCount(count) => {
                    match self
                        .redaction_counts
                        .iter_mut()
                        .find(|c| c.step == count.step)
                    {
                        Some(slot) => *slot = count,
                        None => self.redaction_counts.push(count),
                    }
                }
            }
        }
    }

    /// Queues the entries the pairing gave up on, as unfinished events
    /// (with the sources of their entry and refetch records).
    fn take_unfinished(&mut self) {
        while let Some(mut incomplete) = self.pairing.pop_incomplete() {
            let sources = std::mem::take(&mut incomplete.sources);
            let mut event = incomplete.into_event();
            if self.select(&mut event) {
                self.ready.push_back((event, sources));
            }
        }
    }

    /// Joins the event's cgroup path and applies the filter.
    fn select(&mut self, event: &mut Event) -> bool {
        let shown = select_event(
            &mut self.cgroup_paths,
            &self.lineage,
            &self.filter,
            self.descendants_of,
            event,
        );
        self.events_shown += u64::from(shown);
        shown
    }

    /// [`EventStream::select`] for the event in `lent`, which is emptied
    /// when the filter leaves the event out.
    fn select_lent(&mut self) -> bool {
        let shown = self.lent.as_mut().is_some_and(|event| {
            select_event(
                &mut self.cgroup_paths,
                &self.lineage,
                &self.filter,
                self.descendants_of,
                event,
            )
        });
        if shown {
            self.events_shown += 1;
        } else {
            self.drop_lent();
        }
        shown
    }

    /// Empties `lent`, giving its event's cgroup path and frame references
    /// back for the next events ([`CgroupPaths::give_back`],
    /// [`FrameShares::reclaim`]).
    fn drop_lent(&mut self) {
        if let Some(event) = &mut self.lent {
            self.cgroup_paths
                .give_back(event.cgroup_id, event.cgroup_path.take());
            self.frame_shares.reclaim(&mut event.args);
        }
        self.lent = None;
    }

    /// Ends the capture (what is still pending is counted as unpaired) and
    /// says how it went. Call it after `next_item` returned `None`.
    pub fn finish(mut self) -> Summary {
        self.pairing.finish();
        let trailer = self.reader.trailer().cloned();
        let loss = trailer
            .as_ref()
            .map_or(self.loss, |t| LossTotals::from_counters(&t.lost));
        Summary {
            header: self.reader.header().clone(),
            segment: self.reader.segment().cloned(),
            format_version: self.reader.version(),
            trailer,
            loss,
            pairing: *self.pairing.stats(),
            decode_errors: self.decode_errors,
            damage: self.reader.damage().to_vec(),
            damaged: self.damaged,
            truncated: self.truncated,
            records: self.records.named(),
            frames: self.reader.stats().data_frames,
            bytes: self.reader.offset(),
            events_shown: self.events_shown,
            containers: self.containers,
            redaction_counts: self.redaction_counts,
        }
    }
}

/// A record kept for context (a rewrite's fork and exit records of
/// processes it kept events of): it tells the lineage who is who and is no
/// event. One that does not decode is of no use and is ignored.
fn add_context(lineage: &mut Lineage, layout_version: u32, raw: &[u8]) {
    match decode::decode(raw, layout_version) {
        Ok(RawRecord::Fork(fork)) => {
            lineage.fork_event(&fork, 0);
        }
        Ok(RawRecord::ProcExit(exit)) => {
            lineage.exit_event(&exit, 0);
        }
        _ => {}
    }
}

impl<R: Read> Iterator for EventStream<R> {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        self.next_item()
    }
}

/// Why a capture could not be opened as a stream.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Format(FormatError),
    #[error("{option}: {source}")]
    Time {
        option: &'static str,
        source: TimeParseError,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Unfinished;
    use crate::format::{CaptureWriter, WriterOptions};
    use crate::replay::decode::testutil::{exit, sample_enter};

    /// A capture of raw records, one frame, with a trailer.
    fn capture(records: &[Vec<u8>]) -> Vec<u8> {
        capture_with(records, WriterOptions::default())
    }

    fn capture_with(records: &[Vec<u8>], options: WriterOptions) -> Vec<u8> {
        let header = CaptureHeader {
            layout_version: 2,
            ..CaptureHeader::default()
        };
        let mut w = CaptureWriter::new(Vec::new(), &header, options).expect("writer");
        for raw in records {
            w.push_kernel_record(raw).expect("push");
        }
        w.finish(&Trailer::default()).expect("finish")
    }

    /// What the stream yields, in short: `R` a tapped record, `E`/`U` a
    /// finished/unfinished event with its ts.
    fn items(bytes: &[u8], raw_records: bool) -> Vec<String> {
        let options = StreamOptions {
            raw_records,
            ..StreamOptions::default()
        };
        let stream = EventStream::open(bytes, &options).expect("open");
        stream
            .filter_map(|item| match item {
                Item::Record(r) => Some(format!("R{}", r.ts_ns())),
                Item::Event(e) if e.unfinished.is_some() => Some(format!("U{}", e.ts_ns)),
                Item::Event(e) => Some(format!("E{}", e.ts_ns)),
                Item::Warning(w) => Some(format!("W {w}")),
                Item::EndOfFrame | Item::Process(_) => None,
            })
            .collect()
    }

    /// Calls whose entry and exit lie in different frames, with strings
    /// long enough to be slices of the frame they were decoded from, are
    /// the same events as when one frame holds everything.
    #[test]
    fn events_are_the_same_whatever_the_frames() {
        use crate::replay::decode::testutil::{s, Enter};
        let mut records = Vec::new();
        for i in 0..200u32 {
            let tid = 100 + i % 7;
            let target = format!("/run/containers/storage/overlay-{i:04}/merged/target");
            let enter = Enter::new(Syscall::Umount, u64::from(i) * 10, tid, tid)
                .arg(1, 2)
                .item(s(&target))
                .build();
            records.push(enter);
            if i >= 6 {
                // The exits of the calls six entries back: always pending
                // across several records, and (with small frames) frames.
                let back = i - 6;
                let tid = 100 + back % 7;
                records.push(exit(
                    Syscall::Umount,
                    u64::from(i) * 10 + 5,
                    tid,
                    tid,
                    0,
                    "u",
                ));
            }
        }
        let events = |bytes: &[u8]| -> Vec<Event> {
            EventStream::open(bytes, &StreamOptions::default())
                .expect("open")
                .filter_map(|item| match item {
                    Item::Event(e) => Some(e),
                    _ => None,
                })
                .collect()
        };
        let one_frame = events(&capture(&records));
        let small_frames = events(&capture_with(
            &records,
            WriterOptions {
                max_frame_bytes: 600,
                ..WriterOptions::default()
            },
        ));
        assert_eq!(one_frame.len(), 200);
        assert_eq!(one_frame, small_frames);
    }

    /// docs/EVENTS.md, Pairing, order of output: what a record gives up on
    /// comes where it is read, before the event it completes (and after the
    /// record itself when records are tapped); what is pending at the end
    /// comes last, oldest first.
    #[test]
    fn unfinished_events_come_where_they_become_known() {
        let bytes = capture(&[
            sample_enter(Syscall::Mount, 10, 5, 5).build(),
            sample_enter(Syscall::Umount, 20, 7, 7).build(),
            sample_enter(Syscall::Fspick, 30, 8, 8).build(),
            // Thread 5 enters again: its mount lost its exit.
            sample_enter(Syscall::Mount, 40, 5, 5).build(),
            exit(Syscall::Mount, 50, 5, 5, 0, "m"),
        ]);
        assert_eq!(items(&bytes, false), ["U10", "E40", "U20", "U30"]);
        assert_eq!(
            items(&bytes, true),
            ["R10", "R20", "R30", "R40", "U10", "R50", "E40", "U20", "U30"]
        );
        let mut stream = EventStream::open(&bytes[..], &StreamOptions::default()).expect("open");
        let reasons: Vec<Unfinished> = stream
            .by_ref()
            .filter_map(|item| match item {
                Item::Event(e) => e.unfinished,
                _ => None,
            })
            .collect();
        assert_eq!(
            reasons,
            [
                Unfinished::Superseded,
                Unfinished::EndOfCapture,
                Unfinished::EndOfCapture
            ]
        );
        let summary = stream.finish();
        assert_eq!(summary.events_shown, 4);
        assert_eq!(
            (
                summary.pairing.incomplete_superseded,
                summary.pairing.incomplete_at_end
            ),
            (1, 2)
        );
    }

    /// With source tracking (a rewrite's first pass), each event, queued or
    /// not, knows the positions of its records: an unfinished call its
    /// entry's, a finished one its entry's and exit's.
    #[test]
    fn every_event_knows_its_records_unfinished_ones_too() {
        let bytes = capture(&[
            sample_enter(Syscall::Mount, 10, 5, 5).build(),
            sample_enter(Syscall::Umount, 20, 7, 7).build(),
            sample_enter(Syscall::Mount, 40, 5, 5).build(),
            exit(Syscall::Mount, 50, 5, 5, 0, "m"),
        ]);
        let mut stream = EventStream::open(&bytes[..], &StreamOptions::default()).expect("open");
        stream.track_sources();
        let mut got = Vec::new();
        while let Some(item) = stream.next_item() {
            if let Item::Event(e) = item {
                got.push((e.ts_ns, stream.event_sources().to_vec()));
            }
        }
        assert_eq!(got, [(10, vec![0]), (40, vec![2, 3]), (20, vec![1])]);
    }

    /// docs/EVENTS.md, Warnings, item 4: the counts by reason, nonzero only.
    #[test]
    fn the_unpaired_warning_gives_the_counts() {
        let stats = ReassemblyStats {
            orphan_exits: 2,
            incomplete_entries: 4,
            incomplete_at_end: 3,
            incomplete_table_full: 1,
            ..ReassemblyStats::default()
        };
        assert_eq!(
            unpaired_warnings(&stats),
            [
                "2 exit records without their entry could not be paired (their calls began before the capture, or their entries were lost)",
                "4 entries without their exit record are shown as unfinished calls (3 still in progress when the capture ended, 1 dropped from a full pairing table)",
            ]
        );
        assert!(unpaired_warnings(&ReassemblyStats::default()).is_empty());
    }
}
