//! The record side (the `record` feature): `loader` (BPF programs),
//! `hostinfo` (host facts and clock anchors), `cgroup` (cgroup v2 ids to
//! paths) and, here, the record loop: load the probes, move raw records from
//! the ring buffer into capture frames, keep loss counters and clock anchors
//! flowing, and stop cleanly (trailer, fsync) on a signal, a deadline or a
//! closed output. Records are stored raw: record never decodes them.

pub mod cgroup;
pub mod docker;
pub mod hostinfo;
pub mod loader;
pub mod snapshot;

use std::cell::RefCell;
use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::mem::MaybeUninit;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::{Duration, Instant};

use self::cgroup::CgroupResolver;
use self::hostinfo::HostInfo;
use self::loader::{ProbeConfig, ProbeError, Probes};
use crate::bpf::layout;
use crate::format::{
    CaptureHeader, CaptureWriter, CgroupPath, ClockAnchor, FormatError, KindCount, LossCounters,
    Provenance, SyncSink, Trailer, WriterOptions,
};
use crate::redact::Redactor;

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

extern "C" fn on_stop_signal(signal: libc::c_int) {
    STOP_SIGNAL.store(signal, Ordering::SeqCst);
    STOP_REQUESTED.store(true, Ordering::SeqCst);
}

/// SIGINT and SIGTERM request a clean stop; SIGPIPE is ignored so that a
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

/// Counts of records by (syscall, kind), indexed by the raw numbers.
/// Kernel records by raw syscall number (rows, 0..=SC_SYS_EXIT) and raw
/// record kind (columns, 0..=SC_REC_EXEC).
struct KindCounts {
    counts: [[u64; KIND_SLOTS]; SYSCALL_SLOTS],
}

const KIND_SLOTS: usize = layout::SC_REC_EXEC as usize + 1;
const SYSCALL_SLOTS: usize = layout::SC_SYS_EXIT as usize + 1;

impl KindCounts {
    fn count(&mut self, raw: &[u8]) {
        // Offsets of sc_record_header.kind and .syscall.
        let kind = raw.get(20).copied().unwrap_or(0) as usize;
        let syscall = raw.get(21).copied().unwrap_or(0) as usize;
        if let Some(slot) = self
            .counts
            .get_mut(syscall)
            .and_then(|row| row.get_mut(kind))
        {
            *slot += 1;
        }
    }

    /// Events written: syscall entries, forks and process exits.
    fn events(&self) -> u64 {
        self.counts
            .iter()
            .map(|row| {
                row[layout::SC_REC_ENTER as usize]
                    + row[layout::SC_REC_FORK as usize]
                    + row[layout::SC_REC_PROC_EXIT as usize]
            })
            .sum()
    }

    fn to_vec(&self) -> Vec<KindCount> {
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
        // sc_record_header.kind at byte 20; sc_enter.cgroup_id at byte 24.
        if raw.get(20).copied().map(u64::from) != Some(layout::SC_REC_ENTER) {
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
    writer: CaptureWriter<Sink>,
    kinds: KindCounts,
    cgroups: CgroupPaths,
    error: Option<FormatError>,
    /// `--redact` / `--redact-default`; `None` keeps the loop as it was.
    redactor: Option<Redactor>,
    /// Replacements already reported in a count envelope.
    redactions_written: u64,
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
            if let Err(err) = self.writer.push_cgroup_path(&path) {
                self.error = Some(err);
                return -1;
            }
        }
        // Secrets never reach the disk: the record is scrubbed before it is written.
        let redacted = self.redactor.as_mut().and_then(|r| r.redact_record(raw));
        let raw = redacted.as_deref().unwrap_or(raw);
        if let Err(err) = self.writer.push_kernel_record(raw) {
            self.error = Some(err);
            return -1;
        }
        self.kinds.count(raw);
        0
    }

    /// Writes what happened off the loop since the last frame: containers
    /// the engine described, and the redaction count when it grew.
    fn push_side_values(&mut self) -> Result<(), FormatError> {
        if let Some(lookup) = &self.docker {
            for info in lookup.answers() {
                self.writer.push_container(&info)?;
            }
        }
        if let Some(redactor) = &self.redactor {
            if redactor.replacements() != self.redactions_written {
                self.writer.push_redaction_count(&redactor.count(0))?;
                self.redactions_written = redactor.replacements();
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

    let created_path = match &opts.output {
        Output::File(path) => Some(path.clone()),
        Output::Stdout => None,
    };
    let sink = match &opts.output {
        Output::File(path) => Sink::File(create_output(path, opts.force)?),
        Output::Stdout => Sink::Stdout(io::stdout()),
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

fn record_into(
    sink: Sink,
    opts: &RecordOptions,
    on_tracing: impl FnOnce(),
) -> Result<RecordSummary, RecordError> {
    // on_tracing is called once the probes are attached and the header is out.
    let target = opts.output.describe();
    let write_err = |source: FormatError| RecordError::Write {
        target: target.clone(),
        source,
    };

    let mut storage = MaybeUninit::uninit();
    let probes = Probes::load(&opts.probes, &mut storage)?;

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
    let writer_opts = WriterOptions {
        max_frame_bytes: opts.frame_bytes,
        flush_interval: opts.flush_interval,
        sync_each_frame: matches!(opts.output, Output::File(_)),
        ..WriterOptions::default()
    };
    let mut writer = CaptureWriter::new(sink, &header, writer_opts).map_err(write_err)?;
    // The process table as it is now, now that forks and exits are traced:
    // anything that starts from here on is in the records too.
    if opts.probes.events.proc {
        for mut process in snapshot::take(&opts.probes).unwrap_or_default() {
            if let Some(r) = redactor.as_mut() {
                r.redact_process(&mut process);
            }
            writer.push_process(&process).map_err(write_err)?;
        }
    }

    let state = RefCell::new(State {
        writer,
        kinds: KindCounts {
            counts: [[0; KIND_SLOTS]; SYSCALL_SLOTS],
        },
        cgroups: CgroupPaths::new(),
        error: None,
        redactor,
        redactions_written: 0,
        docker: opts
            .docker_socket
            .as_deref()
            .and_then(docker::Lookup::start),
    });
    let ring = probes.ring_buffer(|raw: &[u8]| state.borrow_mut().push(raw))?;

    on_tracing();
    let started = Instant::now();
    let deadline = opts.duration.map(|d| started + d);
    let mut last_lost = probes.loss_counters()?;
    let stop_reason;
    loop {
        let poll = loader::drain(&ring, Duration::from_millis(100));
        if let Some(err) = state.borrow_mut().error.take() {
            return Err(write_err(err));
        }
        poll?;
        if STOP_REQUESTED.load(Ordering::SeqCst) {
            stop_reason = signal_name(STOP_SIGNAL.load(Ordering::SeqCst)).to_string();
            break;
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            stop_reason = "duration".to_string();
            break;
        }
        let mut st = state.borrow_mut();
        if st.writer.flush_due(now) {
            let lost = probes.loss_counters()?;
            if lost != last_lost {
                st.writer
                    .push_loss_counters(&LossCounters {
                        per_cpu: lost.clone(),
                    })
                    .map_err(write_err)?;
                last_lost = lost;
            }
            st.writer
                .push_clock_anchor(&anchor_now())
                .map_err(write_err)?;
            st.push_side_values().map_err(write_err)?;
            st.writer.flush_frame().map_err(write_err)?;
        }
    }

    // Take what is still in the ring buffer before closing.
    ring.consume().map_err(|err| ProbeError::Runtime {
        what: "the ring buffer",
        reason: err.to_string(),
    })?;
    drop(ring);
    let lost = probes.loss_counters()?;
    let mut st = state.into_inner();
    if let Some(err) = st.error.take() {
        return Err(write_err(err));
    }
    if let Some(lookup) = &st.docker {
        // A lookup still under way gets a moment to land in the capture.
        lookup.settle(Duration::from_millis(500));
    }
    st.push_side_values().map_err(write_err)?;
    if let Some(r) = &st.redactor {
        // The final count, even when it is 0.
        st.writer
            .push_redaction_count(&r.count(0))
            .map_err(write_err)?;
    }
    let mut writer = st.writer;
    writer
        .push_loss_counters(&LossCounters {
            per_cpu: lost.clone(),
        })
        .map_err(write_err)?;
    writer.flush_frame().map_err(write_err)?;
    let records = writer.records_written();
    let frames = writer.frames_written();
    // The writer fills in the timestamps, frames, bytes and records from what
    // it actually wrote; only what it cannot know is given here.
    let trailer = Trailer {
        stop_reason: stop_reason.clone(),
        end_wall_ns: hostinfo::wall_now_ns(),
        records_by_kind: st.kinds.to_vec(),
        lost: LossCounters {
            per_cpu: lost.clone(),
        },
        bytes: writer.bytes_written(),
        ..Trailer::default()
    };
    let mut sink = writer.finish(&trailer).map_err(write_err)?;
    let _ = sink.flush();
    let bytes = match &opts.output {
        Output::File(path) => fs::metadata(path).map(|m| m.len()).unwrap_or(0),
        Output::Stdout => trailer.bytes,
    };
    Ok(RecordSummary {
        events: st.kinds.events(),
        records,
        lost: total_lost(&lost),
        bytes,
        frames,
        stop_reason,
        output: target,
    })
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
}
