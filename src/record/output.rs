//! Where the record loop's records go: the [`Destination`] trait and what
//! its three kinds share. A destination is one capture (a file or stdout:
//! [`Single`]), a rotated set of files (`rotate`), or a flight recorder that
//! keeps the recent past in memory and dumps it on a trigger (`ring`). This
//! module also owns what every file of a set needs: [`FileContext`] (the
//! header template, the cgroup paths and containers seen so far, the
//! snapshot settings, the `--redact` rules that scrub each snapshot),
//! [`SegmentFile`] (one complete file of a set: own header with its segment,
//! own trailer, loss counted over its own span), file naming and retention.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::loader::ProbeConfig;
use super::{anchor_now, create_output, hostinfo, snapshot, KindCounts, RecordError, Sink};
use crate::format::{
    CaptureHeader, CaptureWriter, CgroupPath, ContainerInfo, FormatError, LossCounters,
    ProcessInfo, RedactionCount, SegmentInfo, Trailer, WriterOptions,
};
use crate::redact::Redactor;

/// The `--redact` rules and their counts, shared by the record loop (which
/// scrubs every record) and the destination (which scrubs the snapshot of
/// each file it starts and writes the count as each file ends). The record
/// loop is single-threaded and never holds a borrow across a call into
/// the destination.
pub type SharedRedactor = Rc<RefCell<Redactor>>;

/// `process` scrubbed by `redactor`, if any.
fn scrub(redactor: Option<&SharedRedactor>, mut process: ProcessInfo) -> ProcessInfo {
    if let Some(r) = redactor {
        r.borrow_mut().redact_process(&mut process);
    }
    process
}

/// The redaction count so far (the recording's one pass is step 0).
fn count_of(redactor: Option<&SharedRedactor>) -> Option<RedactionCount> {
    redactor.map(|r| r.borrow().count(0))
}

/// A write or fsync that takes longer than this is reported as a slow disk.
pub const SLOW_WRITE: Duration = Duration::from_secs(1);

/// What a destination did, for record's summary line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    /// Events in the files (a flight recorder's: in its dumps).
    pub events: u64,
    pub records: u64,
    pub frames: u64,
    /// Bytes written to every file (those deleted by retention included).
    pub bytes: u64,
    /// What the summary names as the output.
    pub output: String,
}

/// One of record's outputs. The record loop hands it every record (cgroup
/// paths first, before the first record that carries their id), calls
/// [`Destination::tick`] every turn (at least ten times a second) with the
/// kernel's current loss counters, and [`Destination::finish`] once.
pub trait Destination {
    /// A cgroup id's path, seen for the first time.
    fn push_cgroup_path(&mut self, path: &CgroupPath) -> Result<(), RecordError>;
    /// What the container engine said of a container (once per container).
    fn push_container(&mut self, info: &ContainerInfo) -> Result<(), RecordError>;
    /// The `--redact` count so far, when it grew (the destination writes
    /// the final one itself, as each file ends).
    fn push_redaction_count(&mut self, count: &RedactionCount) -> Result<(), RecordError>;
    /// A raw kernel record.
    fn push_record(&mut self, raw: &[u8]) -> Result<(), RecordError>;
    /// Cuts frames that are due, rotates, ends dumps whose time is up.
    fn tick(&mut self, now: Instant, lost: &[Vec<u64>]) -> Result<(), RecordError>;
    /// A trigger fired (flight recorder only; the others ignore it).
    fn trigger(
        &mut self,
        _what: &str,
        _now: Instant,
        _lost: &[Vec<u64>],
    ) -> Result<(), RecordError> {
        Ok(())
    }
    /// Ends the output: trailers, syncs.
    fn finish(
        self: Box<Self>,
        stop_reason: &str,
        lost: &[Vec<u64>],
    ) -> Result<Written, RecordError>;
    /// Bytes written so far, all files.
    fn bytes(&self) -> u64;
    /// The file being written now, for the status line.
    fn current(&self) -> String;
}

/// `lost - base`, per CPU and reason: the loss over one file's span.
pub fn loss_since(lost: &[Vec<u64>], base: &[Vec<u64>]) -> Vec<Vec<u64>> {
    lost.iter()
        .enumerate()
        .map(|(cpu, row)| {
            row.iter()
                .enumerate()
                .map(|(reason, &n)| {
                    let before = base
                        .get(cpu)
                        .and_then(|r| r.get(reason))
                        .copied()
                        .unwrap_or(0);
                    n.saturating_sub(before)
                })
                .collect()
        })
        .collect()
}

/// The plain destination: one capture, to a file or to stdout.
pub struct Single {
    writer: CaptureWriter<Sink>,
    kinds: KindCounts,
    last_lost: Vec<Vec<u64>>,
    target: String,
    path: Option<PathBuf>,
    redactor: Option<SharedRedactor>,
}

impl Single {
    pub fn new(
        writer: CaptureWriter<Sink>,
        target: String,
        path: Option<PathBuf>,
        lost: Vec<Vec<u64>>,
        redactor: Option<SharedRedactor>,
    ) -> Single {
        Single {
            writer,
            kinds: KindCounts::new(),
            last_lost: lost,
            target,
            path,
            redactor,
        }
    }

    fn err(&self, source: FormatError) -> RecordError {
        RecordError::Write {
            target: self.target.clone(),
            source,
        }
    }
}

impl Destination for Single {
    fn push_cgroup_path(&mut self, path: &CgroupPath) -> Result<(), RecordError> {
        self.writer.push_cgroup_path(path).map_err(|e| self.err(e))
    }

    fn push_container(&mut self, info: &ContainerInfo) -> Result<(), RecordError> {
        self.writer.push_container(info).map_err(|e| self.err(e))
    }

    fn push_redaction_count(&mut self, count: &RedactionCount) -> Result<(), RecordError> {
        self.writer
            .push_redaction_count(count)
            .map_err(|e| self.err(e))
    }

    fn push_record(&mut self, raw: &[u8]) -> Result<(), RecordError> {
        self.writer
            .push_kernel_record(raw)
            .map_err(|e| self.err(e))?;
        self.kinds.count(raw);
        Ok(())
    }

    fn tick(&mut self, now: Instant, lost: &[Vec<u64>]) -> Result<(), RecordError> {
        if !self.writer.flush_due(now) {
            return Ok(());
        }
        if lost != self.last_lost.as_slice() {
            self.writer
                .push_loss_counters(&LossCounters {
                    per_cpu: lost.to_vec(),
                })
                .map_err(|e| self.err(e))?;
            self.last_lost = lost.to_vec();
        }
        self.writer
            .push_clock_anchor(&anchor_now())
            .map_err(|e| self.err(e))?;
        self.writer.flush_frame().map_err(|e| self.err(e))
    }

    fn finish(
        self: Box<Self>,
        stop_reason: &str,
        lost: &[Vec<u64>],
    ) -> Result<Written, RecordError> {
        let mut me = *self;
        if let Some(count) = count_of(me.redactor.as_ref()) {
            // The final count, even when it is 0.
            me.writer
                .push_redaction_count(&count)
                .map_err(|e| me.err(e))?;
        }
        let counters = LossCounters {
            per_cpu: lost.to_vec(),
        };
        me.writer
            .push_loss_counters(&counters)
            .map_err(|e| me.err(e))?;
        me.writer.flush_frame().map_err(|e| me.err(e))?;
        let records = me.writer.records_written();
        let frames = me.writer.frames_written();
        let trailer = Trailer {
            stop_reason: stop_reason.to_string(),
            end_wall_ns: hostinfo::wall_now_ns(),
            records_by_kind: me.kinds.to_vec(),
            lost: counters,
            ..Trailer::default()
        };
        let target = me.target.clone();
        // Stdout: what was written before the trailer frame, as before.
        let before_trailer = me.writer.bytes_written();
        let mut sink = me
            .writer
            .finish(&trailer)
            .map_err(|source| RecordError::Write {
                target: target.clone(),
                source,
            })?;
        let _ = io::Write::flush(&mut sink);
        let bytes = match &me.path {
            Some(path) => fs::metadata(path).map(|m| m.len()).unwrap_or(0),
            None => before_trailer,
        };
        Ok(Written {
            events: me.kinds.events(),
            records,
            frames,
            bytes,
            output: target,
        })
    }

    fn bytes(&self) -> u64 {
        self.writer.bytes_written()
    }

    fn current(&self) -> String {
        self.target.clone()
    }
}

/// What every file of a set needs to be read alone.
pub struct FileContext {
    /// The recording's header; each file gets a fresh clock anchor and start.
    pub template: CaptureHeader,
    pub probes: ProbeConfig,
    pub set_id: String,
    /// Replace existing files (`--force`).
    pub force: bool,
    pub frame_bytes: usize,
    pub flush_interval: Duration,
    /// Every cgroup path seen so far, written at the start of each file.
    pub cgroups: Vec<CgroupPath>,
    /// Every container the engine described so far, written at the start
    /// of each file too.
    pub containers: Vec<ContainerInfo>,
    /// `--redact`: scrubs each file's snapshot; its count ends each file.
    pub redactor: Option<SharedRedactor>,
}

impl FileContext {
    /// A header for a file that starts now (or, for a dump, whose records
    /// start at `start_wall_ns`).
    fn header(&self, start_wall_ns: Option<i64>) -> CaptureHeader {
        let anchor = anchor_now();
        CaptureHeader {
            clock: anchor,
            start_wall_ns: start_wall_ns.unwrap_or(anchor.wall_ns),
            ..self.template.clone()
        }
    }
}

/// One complete file of a set, being written.
pub struct SegmentFile {
    writer: CaptureWriter<File>,
    pub path: PathBuf,
    /// The kernel's loss counters when the file started: its trailer and
    /// loss envelopes count from here.
    lost_base: Vec<Vec<u64>>,
    last_lost: Vec<Vec<u64>>,
    kinds: KindCounts,
}

/// How [`SegmentFile::create`] starts a file.
pub struct SegmentStart<'a> {
    pub path: &'a Path,
    pub segment: SegmentInfo,
    /// The kernel's loss counters now.
    pub lost: &'a [Vec<u64>],
    /// A dump's first record time (wall ns), for the header's start.
    pub start_wall_ns: Option<i64>,
    /// Snapshot processes started at or before this boot time only (a dump:
    /// those started later come with their fork records); `None`: all.
    pub snapshot_until: Option<u64>,
    pub sync_each_frame: bool,
}

impl SegmentFile {
    /// Creates the file (never over an existing one unless `--force`) and
    /// writes its header, the cgroup paths and containers seen so far and,
    /// with `proc` events, a snapshot of the process table (scrubbed with
    /// `--redact`), as a first frame.
    pub fn create(ctx: &FileContext, start: SegmentStart<'_>) -> Result<SegmentFile, RecordError> {
        let file = create_output(start.path, ctx.force)?;
        sync_parent(start.path);
        let started = Self::start(ctx, file, &start);
        if started.is_err() {
            // A file without even its first frame holds nothing: leave no
            // half-written header behind (a full disk, typically).
            let _ = fs::remove_file(start.path);
            sync_parent(start.path);
        }
        started
    }

    fn start(
        ctx: &FileContext,
        file: File,
        start: &SegmentStart<'_>,
    ) -> Result<SegmentFile, RecordError> {
        let target = start.path.display().to_string();
        let err = |source| RecordError::Write {
            target: target.clone(),
            source,
        };
        let opts = WriterOptions {
            max_frame_bytes: ctx.frame_bytes,
            flush_interval: ctx.flush_interval,
            sync_each_frame: start.sync_each_frame,
            ..WriterOptions::default()
        };
        let header = ctx.header(start.start_wall_ns);
        let mut writer =
            CaptureWriter::with_segment(file, &header, Some(&start.segment), opts).map_err(err)?;
        for path in &ctx.cgroups {
            writer.push_cgroup_path(path).map_err(err)?;
        }
        for info in &ctx.containers {
            writer.push_container(info).map_err(err)?;
        }
        if ctx.probes.events.proc {
            for process in snapshot::take(&ctx.probes).unwrap_or_default() {
                if start.snapshot_until.is_none_or(|t| process.start_ns <= t) {
                    let process = scrub(ctx.redactor.as_ref(), process);
                    writer.push_process(&process).map_err(err)?;
                }
            }
        }
        writer.flush_frame().map_err(err)?;
        Ok(SegmentFile {
            writer,
            path: start.path.to_path_buf(),
            lost_base: start.lost.to_vec(),
            last_lost: start.lost.to_vec(),
            kinds: KindCounts::new(),
        })
    }

    fn err(&self, source: FormatError) -> RecordError {
        RecordError::Write {
            target: self.path.display().to_string(),
            source,
        }
    }

    pub fn push_cgroup_path(&mut self, path: &CgroupPath) -> Result<(), RecordError> {
        self.writer.push_cgroup_path(path).map_err(|e| self.err(e))
    }

    pub fn push_container(&mut self, info: &ContainerInfo) -> Result<(), RecordError> {
        self.writer.push_container(info).map_err(|e| self.err(e))
    }

    pub fn push_redaction_count(&mut self, count: &RedactionCount) -> Result<(), RecordError> {
        self.writer
            .push_redaction_count(count)
            .map_err(|e| self.err(e))
    }

    pub fn push_record(&mut self, raw: &[u8]) -> Result<(), RecordError> {
        self.writer
            .push_kernel_record(raw)
            .map_err(|e| self.err(e))?;
        self.kinds.count(raw);
        Ok(())
    }

    /// Copies a frame encoded elsewhere (the flight recorder's memory).
    pub(crate) fn append_frame(
        &mut self,
        frame: &[u8],
        records: u64,
        kinds: &KindCounts,
    ) -> Result<(), RecordError> {
        self.writer
            .append_frame(frame, records)
            .map_err(|e| self.err(e))?;
        self.kinds.add(kinds);
        Ok(())
    }

    /// The loss counters over this file's span, as an envelope, when they
    /// changed since the last one.
    fn push_loss(&mut self, lost: &[Vec<u64>]) -> Result<(), RecordError> {
        if lost != self.last_lost.as_slice() {
            let per_cpu = loss_since(lost, &self.lost_base);
            self.writer
                .push_loss_counters(&LossCounters { per_cpu })
                .map_err(|e| self.err(e))?;
            self.last_lost = lost.to_vec();
        }
        Ok(())
    }

    /// Cuts a frame when one is due: loss counters, a clock anchor, the frame.
    pub fn tick(&mut self, now: Instant, lost: &[Vec<u64>]) -> Result<(), RecordError> {
        if self.writer.flush_due(now) {
            self.cut(lost)?;
        }
        Ok(())
    }

    /// Cuts a frame now.
    pub fn cut(&mut self, lost: &[Vec<u64>]) -> Result<(), RecordError> {
        self.push_loss(lost)?;
        self.writer
            .push_clock_anchor(&anchor_now())
            .map_err(|e| self.err(e))?;
        self.writer.flush_frame().map_err(|e| self.err(e))
    }

    /// File bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.writer.bytes_written()
    }

    /// Writes the last frame (with the redaction count of `ctx`'s
    /// `--redact`, so far) and the trailer (loss over this file's span) and
    /// syncs the file.
    pub fn finish(
        mut self,
        ctx: &FileContext,
        stop_reason: &str,
        lost: &[Vec<u64>],
    ) -> Result<Written, RecordError> {
        let started = Instant::now();
        if let Some(count) = count_of(ctx.redactor.as_ref()) {
            self.push_redaction_count(&count)?;
        }
        let per_cpu = loss_since(lost, &self.lost_base);
        self.writer
            .push_loss_counters(&LossCounters {
                per_cpu: per_cpu.clone(),
            })
            .map_err(|e| self.err(e))?;
        self.writer.flush_frame().map_err(|e| self.err(e))?;
        let records = self.writer.records_written();
        let frames = self.writer.frames_written();
        let trailer = Trailer {
            stop_reason: stop_reason.to_string(),
            end_wall_ns: hostinfo::wall_now_ns(),
            records_by_kind: self.kinds.to_vec(),
            lost: LossCounters { per_cpu },
            ..Trailer::default()
        };
        let path = self.path.clone();
        let target = path.display().to_string();
        self.writer
            .finish(&trailer)
            .map_err(|source| RecordError::Write {
                target: target.clone(),
                source,
            })?;
        let bytes = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        warn_if_slow(started, &format!("closing {target}"));
        Ok(Written {
            events: self.kinds.events(),
            records,
            frames,
            bytes,
            output: target,
        })
    }
}

/// Says in one line that the disk was slow, when it was.
pub fn warn_if_slow(started: Instant, what: &str) {
    let took = started.elapsed();
    if took >= SLOW_WRITE {
        eprintln!(
            "record: slow disk: {what} took {:.1} s; records may be lost in the kernel meanwhile",
            took.as_secs_f64()
        );
    }
}

/// Makes a new or removed directory entry durable (fsync of the directory).
/// Best effort: a directory that cannot be opened is left as it is.
pub fn sync_parent(path: &Path) {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if let Ok(dir) = File::open(parent) {
        let _ = dir.sync_all();
    }
}

/// Checks an `-o` pattern's strftime conversions (chrono's), so that a bad
/// one is a usage error before anything starts.
pub fn check_pattern(pattern: &str) -> Result<(), String> {
    if !pattern.contains('%') {
        return Ok(());
    }
    let now = chrono::Local::now();
    let mut out = String::new();
    write!(out, "{}", now.format(pattern))
        .map_err(|_| format!("{pattern:?}: invalid strftime conversion in the output pattern"))
}

/// The `-o` pattern with its strftime conversions (if any) expanded for
/// local time `wall_ns`.
pub fn expand_pattern(pattern: &Path, wall_ns: i64) -> PathBuf {
    let text = pattern.to_string_lossy();
    if !text.contains('%') {
        return pattern.to_path_buf();
    }
    let when = chrono::DateTime::from_timestamp(
        wall_ns.div_euclid(1_000_000_000),
        wall_ns.rem_euclid(1_000_000_000) as u32,
    )
    .unwrap_or_default()
    .with_timezone(&chrono::Local);
    let mut out = String::new();
    match write!(out, "{}", when.format(&text)) {
        Ok(()) => PathBuf::from(out),
        // Checked by check_pattern before recording starts.
        Err(_) => pattern.to_path_buf(),
    }
}

/// The name of file `sequence` of a rotated set: the expanded pattern plus
/// `.NNNNNN` (six digits, more past 999999), so that `PATTERN.*` (and
/// `PATTERN*`) globs the set in sequence order.
pub fn rotated_name(pattern: &Path, wall_ns: i64, sequence: u64) -> PathBuf {
    let mut name = expand_pattern(pattern, wall_ns).into_os_string();
    name.push(format!(".{sequence:06}"));
    PathBuf::from(name)
}

/// The name of a flight-recorder dump: the expanded pattern plus the
/// trigger's UTC time, `.YYYYmmddTHHMMSS.mmmZ`.
pub fn dump_name(pattern: &Path, trigger_wall_ns: i64) -> PathBuf {
    let when = chrono::DateTime::from_timestamp(
        trigger_wall_ns.div_euclid(1_000_000_000),
        trigger_wall_ns.rem_euclid(1_000_000_000) as u32,
    )
    .unwrap_or_default();
    let mut name = expand_pattern(pattern, trigger_wall_ns).into_os_string();
    name.push(format!(".{}", when.format("%Y%m%dT%H%M%S%.3fZ")));
    PathBuf::from(name)
}

/// `-W COUNT`: the complete files this recording wrote, oldest first; once
/// more than COUNT are complete, the oldest is deleted (only files this
/// recording created, and only after their successor is complete and synced).
pub struct Retention {
    keep: Option<usize>,
    done: VecDeque<PathBuf>,
}

impl Retention {
    pub fn new(keep: Option<usize>) -> Retention {
        Retention {
            keep,
            done: VecDeque::new(),
        }
    }

    /// `path` is complete and synced.
    pub fn completed(&mut self, path: PathBuf) {
        self.done.push_back(path);
        let Some(keep) = self.keep else {
            // Without -W nothing is ever deleted: remember nothing.
            self.done.clear();
            return;
        };
        while self.done.len() > keep {
            let Some(old) = self.done.pop_front() else {
                break;
            };
            match fs::remove_file(&old) {
                Ok(()) => sync_parent(&old),
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => eprintln!(
                    "record: -W: cannot delete {}: {err}; it stays",
                    old.display()
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_is_counted_from_the_base() {
        let base = vec![vec![1, 2], vec![3]];
        let now = vec![vec![4, 2, 5], vec![3], vec![7]];
        assert_eq!(
            loss_since(&now, &base),
            vec![vec![3, 0, 5], vec![0], vec![7]]
        );
    }

    #[test]
    fn names_glob_from_the_pattern_in_order() {
        let p = Path::new("dir/cap.snoop");
        assert_eq!(rotated_name(p, 0, 0), PathBuf::from("dir/cap.snoop.000000"));
        assert_eq!(
            rotated_name(p, 0, 1_234_567),
            PathBuf::from("dir/cap.snoop.1234567")
        );
        let dump = dump_name(p, 1_700_000_000_123_456_789);
        assert_eq!(dump, PathBuf::from("dir/cap.snoop.20231114T221320.123Z"));
    }

    #[test]
    fn strftime_patterns_expand_and_bad_ones_are_refused() {
        // Mid-November: the same year in every time zone.
        let name = expand_pattern(Path::new("cap-%Y.snoop"), 1_700_000_000_000_000_000);
        let text = name.to_string_lossy().into_owned();
        assert!(text == "cap-2023.snoop", "{text}");
        assert!(check_pattern("cap-%Y%m%d-%H%M%S.snoop").is_ok());
        assert!(check_pattern("cap.snoop").is_ok());
        assert!(check_pattern("cap-%Q.snoop").is_err());
    }

    #[test]
    fn retention_deletes_the_oldest_only_past_the_count() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files: Vec<PathBuf> = (0..4).map(|i| dir.path().join(format!("f{i}"))).collect();
        for f in &files {
            fs::write(f, b"x").expect("write");
        }
        let mut keep = Retention::new(Some(2));
        keep.completed(files[0].clone());
        keep.completed(files[1].clone());
        assert!(files[0].exists() && files[1].exists());
        keep.completed(files[2].clone());
        assert!(!files[0].exists() && files[1].exists() && files[2].exists());
        let mut all = Retention::new(None);
        all.completed(files[3].clone());
        assert!(files[3].exists());
    }
}
