//! `replay`'s job: read captures (files or stdin), decode and pair their raw
//! records, filter, render, and say on stderr what was lost, unpaired, cut
//! short or damaged. Also `--info`: a capture's header and statistics.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use regex::bytes::Regex;
use serde::Serialize;

use crate::decode::{self, RawRecord};
use crate::event::{EventClass, Syscall};
use crate::filter::{self, EventClasses, Filter};
use crate::format::{
    CaptureHeader, CaptureReader, DamageKind, FormatError, LossCounters, Record, Trailer,
};
use crate::reassemble::{Reassembler, ReassemblyConfig};
use crate::render::{self, Format, RenderOptions, Renderer};

/// A `--since`/`--until` argument, parsed once the capture's start is known
/// (it may be relative to it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeBound(pub String);

#[derive(Debug, Clone, Default)]
pub struct ReplayOptions {
    /// Inputs; empty or `-` means stdin.
    pub inputs: Vec<PathBuf>,
    pub format: Format,
    pub events: Option<String>,
    pub info: bool,
    pub strict: bool,
    pub time: bool,
    pub timestamp: bool,
    pub fails: bool,
    pub quote: bool,
    pub print_uid: bool,
    pub uid: Option<String>,
    pub name: Option<String>,
    pub line: Option<String>,
    pub max_args: usize,
    pub parent_process: bool,
    pub pid: Option<u32>,
    pub comm: Option<String>,
    pub mntns: Option<u32>,
    pub cgroup_id: Option<u64>,
    /// `--cgroup-path`: a regex searched in the event's cgroup v2 path.
    pub cgroup_path: Option<String>,
    pub since: Option<TimeBound>,
    pub until: Option<TimeBound>,
    pub failed_only: bool,
    pub utc: bool,
    pub csv_raw: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("{path}: {source}")]
    Open { path: String, source: io::Error },
    #[error("{input}: {source}")]
    Format { input: String, source: FormatError },
    #[error("{input}: capture was cut short (no trailer: its recorder did not stop cleanly); every complete frame was replayed")]
    CutShortStrict { input: String },
    #[error("invalid {option} regex: {reason}")]
    Regex {
        option: &'static str,
        reason: String,
    },
    #[error("{0:?} is not a UID or a user name on this machine")]
    UnknownUser(String),
    #[error("{option}: {reason}")]
    Time {
        option: &'static str,
        reason: String,
    },
    #[error("{0}")]
    Events(String),
    #[error("writing output failed: {0}")]
    Output(io::Error),
}

/// How a replay ended, for the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every input read to its end (a cut-short capture included, without --strict).
    Complete,
    /// Some input had corrupt frames or undecodable records: what could be
    /// recovered was shown, the rest reported on stderr.
    Damaged,
}

impl Outcome {
    pub fn exit_code(self) -> ExitCode {
        match self {
            Outcome::Complete => ExitCode::SUCCESS,
            Outcome::Damaged => ExitCode::FAILURE,
        }
    }
}

fn regex(option: &'static str, pattern: &Option<String>) -> Result<Option<Regex>, ReplayError> {
    pattern
        .as_deref()
        .map(|p| {
            Regex::new(p).map_err(|err| ReplayError::Regex {
                option,
                reason: err
                    .to_string()
                    .lines()
                    .last()
                    .unwrap_or("")
                    .trim()
                    .to_string(),
            })
        })
        .transpose()
}

/// A UID, or a user name looked up on this machine (as execsnoop -u does).
fn resolve_uid(text: &str) -> Result<u32, ReplayError> {
    if let Ok(uid) = text.parse::<u32>() {
        return Ok(uid);
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .filter_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            let uid = fields.nth(1)?.parse::<u32>().ok()?;
            (name == text).then_some(uid)
        })
        .next()
        .ok_or_else(|| ReplayError::UnknownUser(text.to_string()))
}

fn input_name(path: &Path) -> String {
    if path.as_os_str() == "-" {
        "stdin".to_string()
    } else {
        path.display().to_string()
    }
}

fn open_input(path: &Path) -> Result<Box<dyn Read>, ReplayError> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(io::stdin().lock()));
    }
    let file = File::open(path).map_err(|source| ReplayError::Open {
        path: path.display().to_string(),
        source,
    })?;
    Ok(Box::new(BufReader::with_capacity(256 * 1024, file)))
}

fn is_broken_pipe(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::BrokenPipe
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
            entries: column(0),
            exits: column(1),
            scratch_busy: column(2),
            refetches: column(3),
        }
    }

    pub fn total(&self) -> u64 {
        self.entries + self.exits + self.scratch_busy + self.refetches
    }

    /// Entry records that never reached the capture, whatever the reason.
    pub fn lost_entries(&self) -> u64 {
        self.entries + self.scratch_busy
    }
}

pub fn run(opts: &ReplayOptions) -> Result<Outcome, ReplayError> {
    let inputs: Vec<PathBuf> = if opts.inputs.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        opts.inputs.clone()
    };
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(128 * 1024, stdout.lock());
    let result = if opts.info {
        run_info(opts, &inputs, &mut out)
    } else {
        run_events(opts, &inputs, &mut out)
    };
    let flushed = out.flush();
    match (result, flushed) {
        (Err(ReplayError::Output(err)), _) if is_broken_pipe(&err) => Ok(Outcome::Complete),
        (Ok(_), Err(err)) if is_broken_pipe(&err) => Ok(Outcome::Complete),
        (Ok(_), Err(err)) => Err(ReplayError::Output(err)),
        (result, _) => result,
    }
}

fn base_filter(opts: &ReplayOptions) -> Result<Filter, ReplayError> {
    let classes = match &opts.events {
        Some(list) => {
            EventClasses::parse_list(list).map_err(|e| ReplayError::Events(e.to_string()))?
        }
        None => EventClasses::ALL,
    };
    Ok(Filter {
        pid: opts.pid,
        uid: opts.uid.as_deref().map(resolve_uid).transpose()?,
        comm: regex("--comm", &opts.comm)?,
        mnt_ns: opts.mntns,
        cgroup_id: opts.cgroup_id,
        cgroup_path: regex("--cgroup-path", &opts.cgroup_path)?,
        since: None,
        until: None,
        failed_only: opts.failed_only,
        classes,
        exec_name: regex("-n/--name", &opts.name)?,
        exec_line: regex("-l/--line", &opts.line)?,
        // bcc's execsnoop hides failed execs without -x; that is a table
        // convention: CSV and JSON are for analysis and show every call.
        show_failed_exec: opts.fails || opts.failed_only || opts.format != Format::Table,
    })
}

fn parse_bound(
    option: &'static str,
    bound: &Option<TimeBound>,
    start_wall_ns: i64,
) -> Result<Option<i64>, ReplayError> {
    bound
        .as_ref()
        .map(|b| {
            filter::parse_time(&b.0, Some(start_wall_ns)).map_err(|err| ReplayError::Time {
                option,
                reason: err.to_string(),
            })
        })
        .transpose()
}

/// The classes the table shows: --events, or else what the first capture recorded.
fn shown_classes(filter: &Filter, header: &CaptureHeader) -> Vec<EventClass> {
    let recorded = |name: &str| header.events.iter().any(|e| e == name) || header.events.is_empty();
    let mut classes = Vec::new();
    if filter.classes.exec && recorded("exec") {
        classes.push(EventClass::Exec);
    }
    if filter.classes.mount && recorded("mount") {
        classes.push(EventClass::Mount);
    }
    classes
}

fn warn(input: &str, message: impl std::fmt::Display) {
    eprintln!("replay: {input}: {message}");
}

fn run_events(
    opts: &ReplayOptions,
    inputs: &[PathBuf],
    out: &mut dyn Write,
) -> Result<Outcome, ReplayError> {
    let mut filter = base_filter(opts)?;
    let mut renderer: Option<Box<dyn Renderer>> = None;
    let mut outcome = Outcome::Complete;
    let mut cut_short = Vec::new();

    for path in inputs {
        let input = input_name(path);
        let source = open_input(path)?;
        let mut reader = CaptureReader::new(source).map_err(|source| ReplayError::Format {
            input: input.clone(),
            source,
        })?;
        let header = reader.header().clone();
        filter.since = parse_bound("--since", &opts.since, header.start_wall_ns)?;
        filter.until = parse_bound("--until", &opts.until, header.start_wall_ns)?;
        let layout_version = header.layout_version;
        let is_stdin = path.as_os_str() == "-";

        let renderer = match &mut renderer {
            Some(r) => r,
            slot @ None => {
                let mut r = render::renderer(RenderOptions {
                    format: opts.format,
                    classes: shown_classes(&filter, &header),
                    time: opts.time,
                    timestamp: opts.timestamp,
                    print_uid: opts.print_uid,
                    quote: opts.quote,
                    max_args: opts.max_args,
                    parent_process: opts.parent_process,
                    utc: opts.utc,
                    capture_start_wall_ns: header.start_wall_ns,
                    csv_raw: opts.csv_raw,
                });
                r.begin(out).map_err(ReplayError::Output)?;
                slot.insert(r)
            }
        };

        let mut pairing = Reassembler::new(ReassemblyConfig::default());
        pairing.add_clock_anchor(header.clock.boot_ns, header.clock.wall_ns);
        // This capture's cgroup id → path mappings (its recorder's host).
        let mut cgroup_paths: HashMap<u64, Arc<[u8]>> = HashMap::new();
        let mut loss = LossTotals::default();
        let mut decode_errors = 0u64;
        let mut damaged = false;
        let mut truncated = false;

        loop {
            let record = match reader.next_record() {
                Ok(Some(record)) => record,
                Ok(None) => break,
                Err(err) if err.is_recoverable() => {
                    warn(&input, format_args!("{err}; skipped it"));
                    damaged = true;
                    continue;
                }
                Err(err @ FormatError::Truncated { .. }) => {
                    warn(&input, &err);
                    truncated = true;
                    continue;
                }
                Err(err) => {
                    warn(&input, &err);
                    damaged = true;
                    break;
                }
            };
            match record {
                Record::Kernel(raw) => match decode::decode(raw, layout_version) {
                    Ok(RawRecord::Enter(entry)) => pairing.push_enter(entry),
                    Ok(RawRecord::Refetch(refetch)) => pairing.push_refetch(refetch),
                    Ok(RawRecord::Exit(exit)) => {
                        if let Some(mut event) = pairing.push_exit(&exit) {
                            event.cgroup_path = cgroup_paths.get(&event.cgroup_id).cloned();
                            if filter.matches(&event) {
                                renderer.event(&event, out).map_err(ReplayError::Output)?;
                            }
                        }
                    }
                    Err(err) => {
                        if decode_errors == 0 {
                            warn(&input, format_args!("undecodable kernel record: {err}"));
                        }
                        decode_errors += 1;
                    }
                },
                Record::ClockAnchor(anchor) => {
                    pairing.add_clock_anchor(anchor.boot_ns, anchor.wall_ns)
                }
                Record::LossCounters(counters) => loss = LossTotals::from_counters(&counters),
                Record::CgroupPath(c) => {
                    cgroup_paths.insert(c.id, Arc::from(c.path));
                }
            }
            // A live view (record -o - | replay -) shows each frame as it
            // comes: flush before the reader may block on the pipe.
            if is_stdin && reader.needs_input() {
                out.flush().map_err(ReplayError::Output)?;
            }
        }
        pairing.finish();
        if let Some(trailer) = reader.trailer() {
            loss = LossTotals::from_counters(&trailer.lost);
        }
        // Frames of a newer version are skipped by the reader without an
        // error; say so (docs/FORMAT.md: skipped "with a warning").
        for skipped in reader
            .damage()
            .iter()
            .filter(|d| d.kind == DamageKind::UnknownFrameType)
        {
            warn(&input, skipped);
        }

        let stats = pairing.stats();
        if loss.total() > 0 {
            warn(
                &input,
                format_args!(
                    "{} records lost in the kernel ({} entries, {} exits, {} argument re-reads; the ring buffer was full — try a larger record --ringbuf-size)",
                    loss.total(),
                    loss.lost_entries(),
                    loss.exits,
                    loss.refetches
                ),
            );
        }
        if stats.orphan_exits > 0 || stats.incomplete_entries > 0 {
            warn(
                &input,
                format_args!(
                    "{} exit records without their entry and {} entries without their exit could not be paired",
                    stats.orphan_exits, stats.incomplete_entries
                ),
            );
        }
        if decode_errors > 0 {
            warn(
                &input,
                format_args!("{decode_errors} kernel records could not be decoded"),
            );
            damaged = true;
        }
        if reader.trailer().is_none() && !damaged {
            if !truncated && !opts.strict {
                warn(
                    &input,
                    "capture was cut short (no trailer: its recorder did not stop cleanly); every complete frame was replayed",
                );
            }
            cut_short.push(input.clone());
        }
        if damaged {
            outcome = Outcome::Damaged;
        }
    }
    if let Some(renderer) = renderer.as_mut() {
        renderer.end(out).map_err(ReplayError::Output)?;
    }
    if opts.strict {
        if let Some(input) = cut_short.into_iter().next() {
            out.flush().map_err(ReplayError::Output)?;
            return Err(ReplayError::CutShortStrict { input });
        }
    }
    Ok(outcome)
}

/// What `--info` shows of one capture.
#[derive(Debug, Serialize)]
pub struct CaptureInfo {
    pub file: String,
    pub format_version: u16,
    pub header: CaptureHeader,
    pub complete: bool,
    pub stop_reason: Option<String>,
    pub start: String,
    pub end: Option<String>,
    pub duration_secs: Option<f64>,
    pub records: u64,
    pub events_by_kind: BTreeMap<String, u64>,
    pub exits_by_kind: BTreeMap<String, u64>,
    /// Arguments re-read after the call because they were unreadable at entry.
    pub refetches_by_kind: BTreeMap<String, u64>,
    pub lost: LossTotals,
    pub frames: u64,
    pub bytes: u64,
    pub damage: Vec<String>,
}

fn rfc3339(wall_ns: i64) -> String {
    chrono::DateTime::from_timestamp(
        wall_ns.div_euclid(1_000_000_000),
        wall_ns.rem_euclid(1_000_000_000) as u32,
    )
    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
    .unwrap_or_else(|| wall_ns.to_string())
}

/// Reads a whole capture for `--info`.
pub fn capture_info(name: String, source: Box<dyn Read>) -> Result<CaptureInfo, FormatError> {
    let mut reader = CaptureReader::new(source)?;
    let mut events_by_kind = BTreeMap::new();
    let mut exits_by_kind = BTreeMap::new();
    let mut refetches_by_kind = BTreeMap::new();
    let mut records = 0u64;
    let mut loss = LossTotals::default();
    let mut damage = Vec::new();
    loop {
        match reader.next_record() {
            Ok(Some(Record::Kernel(raw))) => {
                records += 1;
                // sc_record_header: kind at byte 20, syscall at byte 21.
                let kind = raw.get(20).copied();
                let syscall = raw.get(21).copied().and_then(Syscall::from_raw);
                let name = syscall.map_or("unknown", |s| s.event_name()).to_string();
                let table = match kind.map(u64::from) {
                    Some(crate::bpf::layout::SC_REC_ENTER) => &mut events_by_kind,
                    Some(crate::bpf::layout::SC_REC_EXIT) => &mut exits_by_kind,
                    _ => &mut refetches_by_kind,
                };
                *table.entry(name).or_insert(0) += 1;
            }
            Ok(Some(Record::LossCounters(counters))) => loss = LossTotals::from_counters(&counters),
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(err) if err.is_recoverable() => damage.push(err.to_string()),
            Err(err @ FormatError::Truncated { .. }) => damage.push(err.to_string()),
            Err(err) => {
                damage.push(err.to_string());
                break;
            }
        }
    }
    let header = reader.header().clone();
    let trailer: Option<Trailer> = reader.trailer().cloned();
    if let Some(t) = &trailer {
        loss = LossTotals::from_counters(&t.lost);
    }
    let end_ns = trailer.as_ref().map(|t| t.end_wall_ns);
    Ok(CaptureInfo {
        file: name,
        format_version: reader.version(),
        start: rfc3339(header.start_wall_ns),
        end: end_ns.map(rfc3339),
        duration_secs: end_ns.map(|e| (e - header.start_wall_ns) as f64 / 1e9),
        complete: trailer.is_some(),
        stop_reason: trailer.as_ref().map(|t| t.stop_reason.clone()),
        records,
        events_by_kind,
        exits_by_kind,
        refetches_by_kind,
        lost: loss,
        frames: reader.stats().data_frames,
        bytes: reader.offset(),
        damage,
        header,
    })
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}

fn counts(map: &BTreeMap<String, u64>) -> String {
    if map.is_empty() {
        return "none".to_string();
    }
    map.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn write_info_text(info: &CaptureInfo, out: &mut dyn Write) -> io::Result<()> {
    let h = &info.header;
    let offset = h.utc_offset_secs;
    // The header's strings come from the file: escaped, never raw to a terminal.
    let safe = |text: &str| -> String {
        let mut bytes = Vec::with_capacity(text.len());
        render::escape::push_terminal_safe(&mut bytes, text.as_bytes(), true);
        String::from_utf8_lossy(&bytes).into_owned()
    };
    writeln!(out, "file:            {}", safe(&info.file))?;
    writeln!(
        out,
        "format:          snoopcap capture v{} (raw record layout {}, {}-endian)",
        info.format_version,
        h.layout_version,
        safe(&h.byte_order)
    )?;
    writeln!(
        out,
        "recorded by:     {} {}",
        safe(&h.tool),
        safe(&h.tool_version)
    )?;
    writeln!(out, "host:            {}", safe(&h.hostname))?;
    writeln!(
        out,
        "kernel:          {} {} {}",
        safe(&h.sysname),
        safe(&h.release),
        safe(&h.kernel_version)
    )?;
    writeln!(out, "machine:         {}", safe(&h.machine))?;
    writeln!(out, "os:              {}", safe(&h.os_name))?;
    writeln!(out, "boot id:         {}", safe(&h.boot_id))?;
    writeln!(
        out,
        "cpus:            {} (page size {})",
        h.num_cpus, h.page_size
    )?;
    writeln!(
        out,
        "utc offset:      {}{:02}:{:02}",
        if offset < 0 { '-' } else { '+' },
        offset.abs() / 3600,
        offset.abs() % 3600 / 60
    )?;
    writeln!(out, "command line:    {}", safe(&h.command_line.join(" ")))?;
    writeln!(out, "events:          {}", safe(&list(&h.events)))?;
    writeln!(out, "filters:         {}", safe(&list(&h.filters)))?;
    writeln!(
        out,
        "limits:          max args {}, arg size {} bytes, ring buffer {} bytes",
        h.max_args, h.arg_size, h.ringbuf_bytes
    )?;
    writeln!(
        out,
        "clock anchor:    boot {} ns = {} (±{} ns)",
        h.clock.boot_ns,
        rfc3339(h.clock.wall_ns),
        h.clock.uncertainty_ns
    )?;
    writeln!(out, "start:           {}", info.start)?;
    match (&info.end, info.duration_secs, &info.stop_reason) {
        (Some(end), Some(duration), Some(reason)) => {
            writeln!(out, "end:             {end} (stopped by {})", safe(reason))?;
            writeln!(out, "duration:        {duration:.3} s")?;
        }
        _ => writeln!(
            out,
            "end:             unknown: the capture was cut short (no trailer)"
        )?,
    }
    writeln!(out, "events by kind:  {}", counts(&info.events_by_kind))?;
    writeln!(out, "exits by kind:   {}", counts(&info.exits_by_kind))?;
    writeln!(out, "re-read args:    {}", counts(&info.refetches_by_kind))?;
    writeln!(out, "records:         {}", info.records)?;
    writeln!(
        out,
        "lost in kernel:  {} (entries {}, exits {}, scratch busy {}, argument re-reads {})",
        info.lost.total(),
        info.lost.entries,
        info.lost.exits,
        info.lost.scratch_busy,
        info.lost.refetches
    )?;
    writeln!(out, "frames:          {}", info.frames)?;
    writeln!(out, "bytes:           {}", info.bytes)?;
    writeln!(
        out,
        "complete:        {}",
        if info.complete { "yes" } else { "no" }
    )?;
    for damage in &info.damage {
        writeln!(out, "damage:          {}", safe(damage))?;
    }
    Ok(())
}

fn run_info(
    opts: &ReplayOptions,
    inputs: &[PathBuf],
    out: &mut dyn Write,
) -> Result<Outcome, ReplayError> {
    let mut outcome = Outcome::Complete;
    for (i, path) in inputs.iter().enumerate() {
        let name = input_name(path);
        let info = capture_info(name.clone(), open_input(path)?).map_err(|source| {
            ReplayError::Format {
                input: name.clone(),
                source,
            }
        })?;
        if !info.damage.is_empty() && info.complete {
            outcome = Outcome::Damaged;
        }
        match opts.format {
            Format::Json => {
                serde_json::to_writer(&mut *out, &info)
                    .map_err(|err| ReplayError::Output(io::Error::other(err)))?;
                writeln!(out).map_err(ReplayError::Output)?;
            }
            _ => {
                if i > 0 {
                    writeln!(out).map_err(ReplayError::Output)?;
                }
                write_info_text(&info, out).map_err(ReplayError::Output)?;
            }
        }
        if opts.strict && !info.complete {
            return Err(ReplayError::CutShortStrict { input: name });
        }
    }
    Ok(outcome)
}
