//! The record side (the `record` feature): `loader` (BPF programs),
//! `hostinfo` (host facts and clock anchors), `cgroup` (cgroup v2 ids to
//! paths) and, here, the record loop: load the probes, move raw records from
//! the ring buffer into capture frames, keep loss counters and clock anchors
//! flowing, and stop cleanly (trailer, fsync) on a signal, a deadline or a
//! closed output. Records are stored raw: record decodes them only to check
//! the flight recorder's event triggers (`trigger`), when some are set, and
//! rewrites their strings only with `--redact` (`crate::redact`, before
//! anything is written). Where records go is a `output::Destination`: one
//! capture, a rotated set (`rotate`) or the flight recorder (`ring`);
//! `status` is the live status line on a terminal; `docker` names new
//! docker containers from the engine's socket, off the loop.

pub mod cgroup;
pub mod docker;
pub mod hostinfo;
pub mod loader;
pub mod output;
pub mod ring;
pub mod rotate;
pub mod snapshot;
pub mod status;
pub mod trigger;

use std::cell::RefCell;
use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::mem::MaybeUninit;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::{Duration, Instant};

use self::cgroup::CgroupResolver;
use self::hostinfo::HostInfo;
use self::loader::{ProbeConfig, ProbeError, Probes};
use self::output::{Destination, FileContext, SharedRedactor, Single};
use self::ring::{FlightRecorder, RingOptions};
use self::rotate::{RotateOptions, Rotator};
use self::status::StatusLine;
use self::trigger::Triggers;
use crate::bpf::layout;
use crate::format::{
    CaptureHeader, CaptureWriter, CgroupPath, ClockAnchor, FormatError, KindCount, Provenance,
    SyncSink, WriterOptions,
};
use crate::redact::Redactor;
use crate::replay::decode;

/// Where the capture goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Stdout,
    File(PathBuf),
}

impl Output {
    pub fn parse(arg: &str) -> Output {
        if arg == "-" {
            Output::Stdout
        } else {
            Output::File(PathBuf::from(arg))
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Output::Stdout => "stdout".to_string(),
            Output::File(path) => path.display().to_string(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct RecordOptions {
    pub output: Output,
    /// Replace an existing regular file at the output path.
    pub force: bool,
    pub duration: Option<Duration>,
    pub probes: ProbeConfig,
    pub flush_interval: Duration,
    pub frame_bytes: usize,
    pub command_line: Vec<String>,
    /// `-C`, `-G`, `-W`: write a rotated set of files named from `output`.
    pub rotate: RotateOptions,
    /// `--ring`: the flight recorder, dumping to files named from `output`.
    pub ring: Option<RingOptions>,
    /// The flight recorder's event triggers.
    pub triggers: Triggers,
    /// `--redact` rules, applied to every captured string before it is written.
    pub redact: Vec<regex::bytes::Regex>,
    /// `--redact-default`.
    pub redact_default: bool,
    /// The Docker Engine socket to ask about new containers (`None`: never).
    pub docker_socket: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Probe(#[from] ProbeError),
    #[error("{path}: already exists; pass --force to replace it")]
    OutputExists { path: PathBuf },
    #[error("{path}: is a symbolic link; refusing to write a capture through it")]
    OutputIsSymlink { path: PathBuf },
    #[error("{path}: is not a regular file; refusing to replace it")]
    OutputNotRegular { path: PathBuf },
    #[error("record runs as root but without {missing}, which loading BPF programs needs: run it with CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN), e.g. on the host, or in a container started with --cap-add BPF --cap-add PERFMON")]
    MissingCapabilities { missing: String },
    #[error("{path}: cannot create the capture: {source}")]
    CreateOutput { path: PathBuf, source: io::Error },
    #[error("writing the capture to {target} failed: {source}; everything flushed before this point is readable")]
    Write { target: String, source: FormatError },
}

/// What a recording did, for the summary line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordSummary {
    /// Syscall-entry records written: one per traced call.
    pub events: u64,
    pub records: u64,
    /// Records the kernel could not hand over (all reasons, all CPUs).
    pub lost: u64,
    pub bytes: u64,
    pub frames: u64,
    pub stop_reason: String,
    pub output: String,
}

impl RecordSummary {
    pub fn line(&self) -> String {
        format!(
            "snoopcap record: {} events ({} records) written, {} lost in the kernel, {} bytes written to {} ({})",
            self.events, self.records, self.lost, self.bytes, self.output, self.stop_reason
        )
    }
}

static STOP_SIGNAL: AtomicI32 = AtomicI32::new(0);
static STOP_REQUESTED: AtomicBool = AtomicBool::new(false);
static DUMP_REQUESTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop_signal(signal: libc::c_int) {
    STOP_SIGNAL.store(signal, Ordering::SeqCst);
    STOP_REQUESTED.store(true, Ordering::SeqCst);
}

extern "C" fn on_dump_signal(_signal: libc::c_int) {
    DUMP_REQUESTED.store(true, Ordering::SeqCst);
}

/// SIGINT and SIGTERM request a clean stop; SIGUSR1 triggers the flight
/// recorder (and is ignored otherwise, rather than killing the recording
/// without a trailer); SIGPIPE is ignored so that a
/// closed output shows up as an EPIPE write error, which ends the recording
/// cleanly instead of killing it without a trailer.
pub fn install_signal_handlers() -> io::Result<()> {
    // SAFETY: the handler only stores to atomics, which is async-signal-safe;
    // the sigaction struct is fully initialised.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_stop_signal as *const () as libc::sighandler_t;
        libc::sigemptyset(&mut action.sa_mask);
        for signal in [libc::SIGINT, libc::SIGTERM] {
            if libc::sigaction(signal, &action, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        action.sa_sigaction = on_dump_signal as *const () as libc::sighandler_t;
        if libc::sigaction(libc::SIGUSR1, &action, std::ptr::null_mut()) != 0 {
            return Err(io::Error::last_os_error());
        }
        if libc::signal(libc::SIGPIPE, libc::SIG_IGN) == libc::SIG_ERR {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        _ => "signal",
    }
}

/// The capture's destination: a file we created, or stdout.
pub enum Sink {
    File(File),
    Stdout(io::Stdout),
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::File(f) => f.write(buf),
            Sink::Stdout(s) => s.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Sink::File(f) => f.write_all(buf),
            Sink::Stdout(s) => s.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::File(f) => f.flush(),
            Sink::Stdout(s) => s.flush(),
        }
    }
}

impl SyncSink for Sink {
    fn sync_data(&mut self) -> io::Result<()> {
        match self {
            Sink::File(f) => f.sync_data(),
            Sink::Stdout(s) => s.flush(),
        }
    }
}

/// Creates the capture file: mode 0600 (captures hold command lines, which
/// can hold secrets), never through a symlink, never over an existing file
/// unless `force` (and then only over a regular file).
pub fn create_output(path: &Path, force: bool) -> Result<File, RecordError> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            return Err(RecordError::OutputIsSymlink {
                path: path.to_path_buf(),
            })
        }
        Ok(meta) if !force => {
            let _ = meta;
            return Err(RecordError::OutputExists {
                path: path.to_path_buf(),
            });
        }
        Ok(meta) if !meta.file_type().is_file() => {
            return Err(RecordError::OutputNotRegular {
                path: path.to_path_buf(),
            })
        }
        Ok(_) => fs::remove_file(path).map_err(|source| RecordError::CreateOutput {
            path: path.to_path_buf(),
            source,
        })?,
        Err(_) => {}
    }
    // O_EXCL with O_CREAT also refuses a symlink planted after the check.
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|source| match source.kind() {
            io::ErrorKind::AlreadyExists => RecordError::OutputExists {
                path: path.to_path_buf(),
            },
            _ => RecordError::CreateOutput {
                path: path.to_path_buf(),
                source,
            },
        })
}

/// Root without CAP_BPF and CAP_PERFMON (and without CAP_SYS_ADMIN, which
/// covers both), as in a container that did not grant them, cannot load the
/// probes, and libbpf would only report EPERM with a misleading hint: say
/// what is missing instead. Not root at all is `check_environment`'s to
/// report, and so is anything this cannot read.
fn check_capabilities() -> Result<(), RecordError> {
    const CAP_SYS_ADMIN: u32 = 21;
    const CAP_PERFMON: u32 = 38;
    const CAP_BPF: u32 = 39;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(());
    }
    let Some(effective) = fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("CapEff:"))
                .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        })
    else {
        return Ok(());
    };
    let has = |cap: u32| effective & (1u64 << cap) != 0;
    if has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON)) {
        return Ok(());
    }
    let missing: Vec<&str> = [(CAP_BPF, "CAP_BPF"), (CAP_PERFMON, "CAP_PERFMON")]
        .into_iter()
        .filter(|&(cap, _)| !has(cap))
        .map(|(_, name)| name)
        .collect();
    Err(RecordError::MissingCapabilities {
        missing: missing.join(" and "),
    })
}

/// Kernel records by raw syscall number (rows, 0..=SC_SYS_EXIT) and raw
/// record kind (columns, 0..=SC_REC_EXEC): every kind the BPF side writes,
/// refetch records included, so that the trailer's `records_by_kind` adds up
/// to its `records`.
#[derive(Clone, Default)]
pub(crate) struct KindCounts {
    counts: [[u64; KIND_SLOTS]; SYSCALL_SLOTS],
}

const KIND_SLOTS: usize = layout::SC_REC_EXEC as usize + 1;
const SYSCALL_SLOTS: usize = layout::SC_SYS_EXIT as usize + 1;

impl KindCounts {
    pub(crate) fn new() -> KindCounts {
        KindCounts {
            counts: [[0; KIND_SLOTS]; SYSCALL_SLOTS],
        }
    }

    /// Adds `other`'s counts.
    pub(crate) fn add(&mut self, other: &KindCounts) {
        for (row, other_row) in self.counts.iter_mut().zip(other.counts.iter()) {
            for (n, m) in row.iter_mut().zip(other_row.iter()) {
                *n += m;
            }
        }
    }

    pub(crate) fn count(&mut self, raw: &[u8]) {
        let kind = decode::record_kind(raw).unwrap_or(0) as usize;
        let syscall = usize::from(decode::record_syscall(raw).unwrap_or(0));
        if let Some(slot) = self
            .counts
            .get_mut(syscall)
            .and_then(|row| row.get_mut(kind))
        {
            *slot += 1;
        }
    }

    /// Events written: syscall entries, forks and process exits.
    pub(crate) fn events(&self) -> u64 {
        self.counts
            .iter()
            .map(|row| {
                row[layout::SC_REC_ENTER as usize]
                    + row[layout::SC_REC_FORK as usize]
                    + row[layout::SC_REC_PROC_EXIT as usize]
            })
            .sum()
    }

    pub(crate) fn to_vec(&self) -> Vec<KindCount> {
        let mut out = Vec::new();
        for (syscall, row) in self.counts.iter().enumerate() {
            for (kind, &count) in row.iter().enumerate() {
                if count > 0 {
                    out.push(KindCount {
                        syscall: syscall as u8,
                        kind: kind as u8,
                        count,
                    });
                }
            }
        }
        out
    }
}

/// The cgroup ids seen in entry records, each resolved to its cgroup v2
/// path once, when first seen, and written to the capture before the first
/// record that carries it (so that a streaming replay knows the path of every
/// event it shows). Resolving is a few syscalls (`open_by_handle_at`) per new
/// id; an id already seen costs a compare, or a set lookup when it differs
/// from the previous record's.
struct CgroupPaths {
    resolver: CgroupResolver,
    seen: HashSet<u64>,
    last: Option<u64>,
}

impl CgroupPaths {
    fn new() -> CgroupPaths {
        CgroupPaths {
            resolver: CgroupResolver::new(),
            seen: HashSet::new(),
            last: None,
        }
    }

    /// The path to store for `raw`'s cgroup id when it is new, else `None`.
    fn note(&mut self, raw: &[u8]) -> Option<CgroupPath> {
        // sc_enter.cgroup_id at byte 24.
        if decode::record_kind(raw) != Some(layout::SC_REC_ENTER) {
            return None;
        }
        let id = u64::from_le_bytes(raw.get(24..32)?.try_into().ok()?);
        if self.last == Some(id) {
            return None;
        }
        self.last = Some(id);
        if !self.seen.insert(id) {
            return None;
        }
        // A cgroup already gone (a short-lived container) stays unknown.
        let path = self.resolver.resolve(id)?;
        Some(CgroupPath { id, path })
    }
}

struct State {
    out: Box<dyn Destination>,
    /// Every record of the recording (all files), for the summary and status.
    kinds: KindCounts,
    cgroups: CgroupPaths,
    /// Set when the flight recorder has event triggers.
    triggers: Option<Triggers>,
    layout_version: u32,
    /// What an event trigger matched, for the loop to act on.
    triggered: Option<String>,
    error: Option<RecordError>,
    /// `--redact` / `--redact-default`; `None` keeps the loop as it was.
    /// Shared with the destination, which scrubs the snapshot of each file
    /// it starts and writes the final count of each file it ends.
    redactor: Option<SharedRedactor>,
    /// Replacements already reported in a count envelope.
    redactions_written: u64,
    /// When a count envelope was last written.
    redactions_written_at: Option<Instant>,
    /// Asks the container engine about new containers, off the loop.
    docker: Option<docker::Lookup>,
}

impl State {
    fn push(&mut self, raw: &[u8]) -> i32 {
        if self.error.is_some() {
            return -1;
        }
        if let Some(path) = self.cgroups.note(raw) {
            if let Some(lookup) = &self.docker {
                lookup.note(path.id, &path.path);
            }
            if let Err(err) = self.out.push_cgroup_path(&path) {
                self.error = Some(err);
                return -1;
            }
        }
        // Secrets never reach the disk: the record is scrubbed before it is
        // written (and before the event triggers see it, so that a dump's
        // trigger, stored in its header, is scrubbed too).
        let redacted = self
            .redactor
            .as_ref()
            .and_then(|r| r.borrow_mut().redact_record(raw));
        let raw = redacted.as_deref().unwrap_or(raw);
        if let Err(err) = self.out.push_record(raw) {
            self.error = Some(err);
            return -1;
        }
        self.kinds.count(raw);
        if let (Some(triggers), None) = (&self.triggers, &self.triggered) {
            self.triggered = triggers.check(raw, self.layout_version);
        }
        0
    }

    /// Writes what happened off the loop: containers the engine described
    /// (as they come), and the redaction count when it grew (at most once
    /// per `every`, about once a frame).
    fn push_side_values(&mut self, now: Instant, every: Duration) -> Result<(), RecordError> {
        self.push_containers()?;
        let Some(redactor) = &self.redactor else {
            return Ok(());
        };
        let due = self
            .redactions_written_at
            .is_none_or(|at| now.saturating_duration_since(at) >= every);
        if !due {
            return Ok(());
        }
        let count = redactor.borrow().count(0);
        if count.replacements != self.redactions_written {
            self.out.push_redaction_count(&count)?;
            self.redactions_written = count.replacements;
            self.redactions_written_at = Some(now);
        }
        Ok(())
    }

    /// The containers the engine described since the last call.
    fn push_containers(&mut self) -> Result<(), RecordError> {
        if let Some(lookup) = &self.docker {
            for info in lookup.answers() {
                self.out.push_container(&info)?;
            }
        }
        Ok(())
    }
}

fn anchor_now() -> ClockAnchor {
    let reading = hostinfo::measure_clock_anchor();
    ClockAnchor {
        boot_ns: reading.boot_ns,
        wall_ns: reading.wall_ns,
        uncertainty_ns: reading.uncertainty_ns,
    }
}

fn total_lost(per_cpu: &[Vec<u64>]) -> u64 {
    per_cpu.iter().flatten().sum()
}

/// Runs a recording to its end. `on_tracing` is called once every probe is
/// attached and the capture header is written.
pub fn run(opts: &RecordOptions, on_tracing: impl FnOnce()) -> Result<RecordSummary, RecordError> {
    opts.probes.validate()?;
    check_capabilities()?;
    loader::check_environment()?;

    let sets = opts.ring.is_some() || opts.rotate.enabled();
    let created_path = match &opts.output {
        Output::File(path) if !sets => Some(path.clone()),
        _ => None,
    };
    let sink = match &opts.output {
        _ if sets => None,
        Output::File(path) => Some(Sink::File(create_output(path, opts.force)?)),
        Output::Stdout => Some(Sink::Stdout(io::stdout())),
    };
    let mut tracing = false;
    let result = record_into(sink, opts, || {
        tracing = true;
        on_tracing();
    });
    if let (Err(_), Some(path), false) = (&result, &created_path, tracing) {
        // Nothing was traced: leave no empty capture behind. Once tracing
        // started, what was written stays: it is readable up to the failure.
        let _ = fs::remove_file(path);
    }
    result
}

/// The recording's capture header (each file of a set gets a fresh clock
/// anchor and start time on top of it), and the redactor of `--redact`,
/// whose pass the header's provenance describes; the header's command line
/// is scrubbed by it already.
fn capture_header(opts: &RecordOptions) -> (CaptureHeader, Option<Redactor>) {
    let host = HostInfo::collect();
    let start_anchor = anchor_now();
    let mut redactor = Redactor::new(&opts.redact, opts.redact_default).then_some_nonempty();
    let mut provenance = Provenance::default();
    let mut command_line = opts.command_line.clone();
    if let Some(r) = redactor.as_mut() {
        provenance
            .redactions
            .push(r.step("record", start_anchor.wall_ns));
        r.redact_strings(&mut command_line);
    }
    let header = CaptureHeader {
        tool: "snoopcap record".to_string(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        hostname: host.hostname,
        sysname: host.sysname,
        release: host.release,
        kernel_version: host.kernel_version,
        machine: host.machine,
        os_name: host.os_name,
        boot_id: host.boot_id,
        num_cpus: host.num_cpus,
        page_size: host.page_size,
        utc_offset_secs: host.utc_offset_secs,
        clock: start_anchor,
        clock_method: hostinfo::CLOCK_METHOD.to_string(),
        start_wall_ns: start_anchor.wall_ns,
        command_line,
        events: opts.probes.events.names(),
        filters: opts.probes.filter_descriptions(),
        layout_version: layout::SC_LAYOUT_VERSION as u32,
        ringbuf_bytes: u64::from(opts.probes.ringbuf_bytes),
        max_args: opts.probes.max_args,
        arg_size: opts.probes.arg_size,
        byte_order: "little".to_string(),
        provenance,
    };
    (header, redactor)
}

/// A fresh id for the files of one recording: the kernel's random UUID.
fn new_set_id() -> String {
    fs::read_to_string("/proc/sys/kernel/random/uuid")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| format!("{:x}-{}", hostinfo::wall_now_ns(), std::process::id()))
}

/// The destination `opts` asks for: one capture into `sink`, a rotated set
/// or the flight recorder.
fn destination(
    sink: Option<Sink>,
    opts: &RecordOptions,
    header: CaptureHeader,
    redactor: Option<SharedRedactor>,
    lost: &[Vec<u64>],
) -> Result<Box<dyn Destination>, RecordError> {
    let pattern = match (&opts.output, sink) {
        (_, Some(sink)) => {
            return single(sink, opts, &header, redactor, lost).map(|d| Box::new(d) as _)
        }
        (Output::File(path), None) => path.clone(),
        // The binary refuses -C/-G/--ring with stdout; a library caller
        // gets the plain capture.
        (Output::Stdout, None) => {
            let sink = Sink::Stdout(io::stdout());
            return single(sink, opts, &header, redactor, lost).map(|d| Box::new(d) as _);
        }
    };
    let ctx = FileContext {
        template: header,
        probes: opts.probes.clone(),
        set_id: new_set_id(),
        force: opts.force,
        frame_bytes: opts.rotate.frame_bytes(opts.frame_bytes),
        flush_interval: opts.flush_interval,
        cgroups: Vec::new(),
        containers: Vec::new(),
        redactor,
    };
    match &opts.ring {
        Some(ring) => Ok(Box::new(FlightRecorder::new(
            ctx,
            &pattern,
            ring.clone(),
            lost,
        )?)),
        None => Ok(Box::new(Rotator::start(
            ctx,
            &pattern,
            opts.rotate.clone(),
            lost,
        )?)),
    }
}

/// One capture: the header at once, then the start snapshot (scrubbed with
/// `--redact`).
fn single(
    sink: Sink,
    opts: &RecordOptions,
    header: &CaptureHeader,
    redactor: Option<SharedRedactor>,
    lost: &[Vec<u64>],
) -> Result<Single, RecordError> {
    let target = opts.output.describe();
    let write_err = |source: FormatError| RecordError::Write {
        target: target.clone(),
        source,
    };
    let writer_opts = WriterOptions {
        max_frame_bytes: opts.frame_bytes,
        flush_interval: opts.flush_interval,
        sync_each_frame: matches!(opts.output, Output::File(_)),
        ..WriterOptions::default()
    };
    let mut writer = CaptureWriter::new(sink, header, writer_opts).map_err(write_err)?;
    // The process table as it is now, now that forks and exits are traced:
    // anything that starts from here on is in the records too.
    if opts.probes.events.proc {
        for mut process in snapshot::take(&opts.probes).unwrap_or_default() {
            if let Some(r) = &redactor {
                r.borrow_mut().redact_process(&mut process);
            }
            writer.push_process(&process).map_err(write_err)?;
        }
    }
    let path = match &opts.output {
        Output::File(path) => Some(path.clone()),
        Output::Stdout => None,
    };
    Ok(Single::new(writer, target, path, lost.to_vec(), redactor))
}

/// How often the kernel's loss counters are read while recording.
const LOSS_READ_EVERY: Duration = Duration::from_millis(100);

fn record_into(
    sink: Option<Sink>,
    opts: &RecordOptions,
    on_tracing: impl FnOnce(),
) -> Result<RecordSummary, RecordError> {
    // on_tracing is called once the probes are attached and the header is out.
    let mut storage = MaybeUninit::uninit();
    let probes = Probes::load(&opts.probes, &mut storage)?;

    let (header, redactor) = capture_header(opts);
    let redactor = redactor.map(|r| Rc::new(RefCell::new(r)));
    let layout_version = header.layout_version;
    let lost = probes.loss_counters()?;
    let out = destination(sink, opts, header, redactor.clone(), &lost)?;
    let triggers = (opts.ring.is_some() && opts.triggers.any()).then(|| opts.triggers.clone());
    let state = RefCell::new(State {
        out,
        kinds: KindCounts::default(),
        cgroups: CgroupPaths::new(),
        triggers,
        layout_version,
        triggered: None,
        error: None,
        redactor,
        redactions_written: 0,
        redactions_written_at: None,
        docker: opts
            .docker_socket
            .as_deref()
            .and_then(docker::Lookup::start),
    });
    let ring = probes.ring_buffer(|raw: &[u8]| state.borrow_mut().push(raw))?;

    on_tracing();
    let mut status = StatusLine::for_stderr();
    let stopped = record_loop(&probes, &ring, &state, opts, &mut status);
    status.clear();
    let stop_reason = stopped?;

    // Take what is still in the ring buffer before closing.
    ring.consume().map_err(|err| ProbeError::Runtime {
        what: "the ring buffer",
        reason: err.to_string(),
    })?;
    drop(ring);
    let lost = probes.loss_counters()?;
    let mut st = state.into_inner();
    if let Some(err) = st.error.take() {
        return Err(err);
    }
    if let Some(lookup) = &st.docker {
        // A lookup still under way gets a moment to land in the capture.
        lookup.settle(Duration::from_millis(500));
    }
    st.push_containers()?;
    // The destination writes the final redaction count itself (as each
    // file of a set ends, too).
    let written = st.out.finish(&stop_reason, &lost)?;
    Ok(RecordSummary {
        events: written.events,
        records: written.records,
        lost: total_lost(&lost),
        bytes: written.bytes,
        frames: written.frames,
        stop_reason,
        output: written.output,
    })
}

/// Drains the ring buffer until a stop is asked for; returns why it stopped.
fn record_loop(
    probes: &Probes<'_>,
    ring: &libbpf_rs::RingBuffer<'_>,
    state: &RefCell<State>,
    opts: &RecordOptions,
    status: &mut StatusLine,
) -> Result<String, RecordError> {
    let started = Instant::now();
    let deadline = opts.duration.map(|d| started + d);
    let mut lost = probes.loss_counters()?;
    let mut lost_read = started;
    loop {
        let poll = loader::drain(ring, Duration::from_millis(100));
        if let Some(err) = state.borrow_mut().error.take() {
            return Err(err);
        }
        poll?;
        if STOP_REQUESTED.load(Ordering::SeqCst) {
            return Ok(signal_name(STOP_SIGNAL.load(Ordering::SeqCst)).to_string());
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            return Ok("duration".to_string());
        }
        if now.saturating_duration_since(lost_read) >= LOSS_READ_EVERY {
            lost = probes.loss_counters()?;
            lost_read = now;
        }
        let mut st = state.borrow_mut();
        if DUMP_REQUESTED.swap(false, Ordering::SeqCst) {
            st.out.trigger("SIGUSR1", now, &lost)?;
        }
        if let Some(what) = st.triggered.take() {
            st.out.trigger(&what, now, &lost)?;
        }
        st.push_side_values(now, opts.flush_interval)?;
        st.out.tick(now, &lost)?;
        if status.due(now) {
            let current = st.out.current();
            status.draw(
                now,
                &status::Snapshot {
                    events: st.kinds.events(),
                    lost: total_lost(&lost),
                    bytes: st.out.bytes(),
                    current: &current,
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn output_is_created_private_and_never_overwritten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("cap.snoop");
        let file = create_output(&path, false).expect("create");
        drop(file);
        let mode = fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(matches!(
            create_output(&path, false),
            Err(RecordError::OutputExists { .. })
        ));
        fs::write(&path, b"old").expect("write");
        create_output(&path, true).expect("force replaces a regular file");
        assert_eq!(fs::metadata(&path).expect("meta").len(), 0);
    }

    #[test]
    fn output_refuses_symlinks_even_with_force() {
        let dir = tempfile::tempdir().expect("tempdir");
        let victim = dir.path().join("victim");
        fs::write(&victim, b"precious").expect("write");
        let link = dir.path().join("cap.snoop");
        std::os::unix::fs::symlink(&victim, &link).expect("symlink");
        for force in [false, true] {
            assert!(matches!(
                create_output(&link, force),
                Err(RecordError::OutputIsSymlink { .. })
            ));
        }
        assert_eq!(fs::read(&victim).expect("read"), b"precious");
    }

    /// docs/FORMAT.md, Trailer: `records_by_kind` counts every kernel record
    /// by (syscall, kind), refetch records included.
    #[test]
    fn kind_counts_cover_every_record_kind() {
        let mut kinds = KindCounts::default();
        let record = |kind: u64, syscall: crate::event::Syscall| {
            let mut raw = [0u8; 24];
            raw[20] = kind as u8;
            raw[21] = syscall.raw();
            raw
        };
        use crate::event::Syscall;
        kinds.count(&record(layout::SC_REC_ENTER, Syscall::Execve));
        kinds.count(&record(layout::SC_REC_REFETCH, Syscall::Execve));
        kinds.count(&record(layout::SC_REC_EXIT, Syscall::Execve));
        kinds.count(&record(layout::SC_REC_REFETCH, Syscall::Fspick));
        let mut got: Vec<(u8, u8, u64)> = kinds
            .to_vec()
            .iter()
            .map(|k| (k.syscall, k.kind, k.count))
            .collect();
        got.sort_unstable();
        assert_eq!(
            got,
            vec![
                (1, 1, 1),
                (1, 2, 1),
                (1, 3, 1),
                (Syscall::Fspick.raw(), 3, 1)
            ]
        );
        assert_eq!(kinds.events(), 1);
    }
}
