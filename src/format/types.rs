//! The structured values a capture stores: the file header's
//! [`CaptureHeader`] (with its [`Provenance`] extension), the metadata
//! envelopes ([`ClockAnchor`], [`LossCounters`], [`CgroupPath`],
//! [`ProcessInfo`], [`ContainerInfo`], [`RedactionCount`]) and the
//! [`Trailer`]. Their field order is part of the format (docs/FORMAT.md):
//! later versions only append fields.

use serde::{Deserialize, Serialize};

/// Describes the capture and the host that recorded it. Stored once, in the
/// file header.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureHeader {
    /// Program that wrote the capture, e.g. `"snoopcap record"`.
    pub tool: String,
    /// Its version.
    pub tool_version: String,
    /// Recording host's name.
    pub hostname: String,
    /// uname: sysname.
    pub sysname: String,
    /// uname: release.
    pub release: String,
    /// uname: version.
    pub kernel_version: String,
    /// uname: machine.
    pub machine: String,
    /// `PRETTY_NAME` of os-release, empty if unknown.
    pub os_name: String,
    /// `/proc/sys/kernel/random/boot_id` of the recording boot.
    pub boot_id: String,
    /// Number of possible CPUs (size of the per-CPU loss counters).
    pub num_cpus: u32,
    /// Page size in bytes.
    pub page_size: u32,
    /// Recording host's local UTC offset at capture start, in seconds.
    pub utc_offset_secs: i32,
    /// Boot clock to wall clock anchor taken at capture start.
    pub clock: ClockAnchor,
    /// How the anchor was measured (free text).
    pub clock_method: String,
    /// Capture start, ns since the Unix epoch (UTC).
    pub start_wall_ns: i64,
    /// The recorder's command line.
    pub command_line: Vec<String>,
    /// Traced event families, e.g. `["exec", "mount"]`.
    pub events: Vec<String>,
    /// Kernel-side filters in force, human-readable, e.g. `"uid=1000"`.
    pub filters: Vec<String>,
    /// Layout version of the raw kernel records (`SC_LAYOUT_VERSION`).
    pub layout_version: u32,
    /// Size of the BPF ring buffer in bytes.
    pub ringbuf_bytes: u64,
    /// Maximum number of exec arguments captured.
    pub max_args: u32,
    /// Maximum size of one captured string argument.
    pub arg_size: u32,
    /// Byte order of the raw kernel records: `"little"`.
    pub byte_order: String,
    /// What was done to the capture after its kernel records were taken
    /// (rewrites, redaction). Not a bincode field of the header: encoded
    /// after it, only when not empty, so that a header without it is byte
    /// for byte what older writers wrote and older readers, which ignore
    /// bytes after the header, still read a header with it.
    #[serde(skip)]
    pub provenance: Provenance,
}

/// The header extension: how the capture came to be what it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// `replay -w` rewrites, oldest first.
    pub rewrites: Vec<RewriteStep>,
    /// Redaction passes (at record time or at a rewrite), oldest first.
    pub redactions: Vec<RedactionStep>,
}

impl Provenance {
    pub fn is_empty(&self) -> bool {
        self.rewrites.is_empty() && self.redactions.is_empty()
    }
}

/// One `replay -w`: which capture it read, what it kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewriteStep {
    /// When the rewrite ran, ns since the Unix epoch (UTC).
    pub wall_ns: i64,
    /// The rewriting tool and its version, e.g. `snoopcap replay 0.1.0`.
    pub tool: String,
    /// The source capture as it was named to the rewrite.
    pub source: String,
    /// The source's `tool`, `hostname` and `start_wall_ns`, so that the
    /// source can be recognised.
    pub source_tool: String,
    pub source_start_wall_ns: i64,
    /// The filters applied, human-readable (`pid=42`, `comm=^sh$`).
    pub filters: Vec<String>,
    /// Events kept.
    pub events_kept: u64,
}

/// One redaction pass: where it ran and with which rules. The number of
/// replacements comes in a [`RedactionCount`] envelope, since the header is
/// written before the records are seen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedactionStep {
    /// `record` or `rewrite`.
    pub stage: String,
    /// When the pass started, ns since the Unix epoch (UTC).
    pub wall_ns: i64,
    /// The rules, each `NAME: REGEX` (built-in rules of `--redact-default`
    /// by their names, `--redact` rules named `user`).
    pub rules: Vec<String>,
    /// The marker that replaces what a rule matches.
    pub marker: String,
}

/// How many replacements a redaction pass made so far (cumulative; the
/// last envelope of a capture is final). `step` indexes
/// [`Provenance::redactions`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RedactionCount {
    pub step: u32,
    /// Replacements, all rules.
    pub replacements: u64,
    /// Replacements per rule, in the step's rule order.
    pub by_rule: Vec<u64>,
    /// Captured strings changed (each counted once however many rules hit it).
    pub strings: u64,
}

/// What a container engine said of a container, looked up by `record` when
/// it first saw the container's cgroup.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ContainerInfo {
    /// The cgroup id the container was seen with.
    pub cgroup_id: u64,
    /// The container id (64 hex digits for docker).
    pub id: String,
    /// The engine asked, e.g. `docker`.
    pub engine: String,
    /// Its name (without docker's leading `/`).
    pub name: String,
    /// The image it runs, as the engine names it (`Config.Image`).
    pub image: String,
    /// The image's id (`Image`, e.g. `sha256:...`).
    pub image_id: String,
}

/// Where a capture file belongs when `record` wrote it as one of several:
/// a file of a rotated set (`-C`/`-G`), or a flight-recorder dump
/// (`--ring`). Stored in the file header after the [`CaptureHeader`]
/// (docs/FORMAT.md, "Segment"), so that older readers skip it and a file
/// without it is a capture of its own.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentInfo {
    /// The recording's id (one `record` run), shared by every file it wrote.
    pub set_id: String,
    /// Place in the set: 0, 1, 2, ... in the order the files were started.
    pub sequence: u64,
    /// [`SegmentInfo::ROTATION`] or [`SegmentInfo::DUMP`].
    pub kind: String,
    /// Dumps: what triggered this one (e.g. `SIGUSR1`); empty otherwise.
    pub trigger: String,
    /// Dumps: when the trigger happened, ns since the Unix epoch (UTC); 0
    /// otherwise.
    pub trigger_wall_ns: i64,
    /// Dumps: how long recording went on after the trigger, ns; 0 otherwise.
    pub after_ns: u64,
}

impl SegmentInfo {
    /// A file of a rotated set: its records follow those of the file with
    /// the previous sequence number, without gap or overlap.
    pub const ROTATION: &'static str = "rotation";
    /// A flight-recorder dump: the recent past at a trigger and what came
    /// next; dumps of one set may overlap.
    pub const DUMP: &'static str = "dump";

    /// Whether this file continues the one before it in its set.
    pub fn is_rotation(&self) -> bool {
        self.kind == Self::ROTATION
    }
}

/// At boot-clock time `boot_ns` the wall clock read `wall_ns`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ClockAnchor {
    /// CLOCK_BOOTTIME, ns.
    pub boot_ns: u64,
    /// CLOCK_REALTIME at the same instant, ns since the Unix epoch (UTC).
    pub wall_ns: i64,
    /// Half-width of the interval in which the two reads happened, ns.
    pub uncertainty_ns: u64,
}

/// Cumulative counts of lost records: `per_cpu[cpu][reason]`, as of the time
/// the value was written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LossCounters {
    /// One vector per CPU, one count per loss reason.
    pub per_cpu: Vec<Vec<u64>>,
}

/// The path of a cgroup id seen in kernel records.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CgroupPath {
    /// Cgroup id (the cgroup directory's inode number).
    pub id: u64,
    /// Its path, raw bytes (not necessarily UTF-8).
    pub path: Vec<u8>,
}

/// One process of the snapshot of the process table that `record` takes
/// from /proc when it starts, so that processes older than the capture have
/// names, command lines and parents. Written before the first kernel record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProcessInfo {
    /// Process id (tgid).
    pub pid: u32,
    /// Parent's process id.
    pub ppid: u32,
    /// Start time, boot clock ns (from /proc/PID/stat's starttime, so a
    /// multiple of the clock tick): with `pid`, the process's identity.
    pub start_ns: u64,
    /// Real uid.
    pub uid: u32,
    /// Command name (`comm`), raw bytes.
    pub comm: Vec<u8>,
    /// Command line, argv[0] first (empty for kernel threads).
    pub argv: Vec<Vec<u8>>,
    /// cgroup v2 path (`/system.slice/...`), raw bytes; empty when unknown.
    pub cgroup: Vec<u8>,
}

/// Number of kernel records of one (syscall, record kind) pair.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct KindCount {
    /// Raw syscall number of the record layout.
    pub syscall: u8,
    /// Raw record kind of the record layout.
    pub kind: u8,
    /// How many.
    pub count: u64,
}

/// Summary written as the last frame of a capture on a clean stop.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trailer {
    /// Why the recording stopped (free text).
    pub stop_reason: String,
    /// Capture end, ns since the Unix epoch (UTC).
    pub end_wall_ns: i64,
    /// Timestamp of the first kernel record written (0 if none). Filled in
    /// by the writer.
    pub first_ts_ns: u64,
    /// Timestamp of the last kernel record written (0 if none). Filled in
    /// by the writer.
    pub last_ts_ns: u64,
    /// Kernel records per (syscall, kind).
    pub records_by_kind: Vec<KindCount>,
    /// Final loss counters.
    pub lost: LossCounters,
    /// Data frames written. Filled in by the writer.
    pub frames: u64,
    /// File bytes before the trailer frame. Filled in by the writer.
    pub bytes: u64,
    /// Kernel records written. Filled in by the writer.
    pub records: u64,
}
