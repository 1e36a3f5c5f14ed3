//! `replay -w OUT [FILTERS] IN`: a new capture holding only what the
//! filters select, raw records and all, so that it replays exactly like the
//! filtered replay of the original, and (with `--redact`) scrubbed.
//!
//! Two passes over the input (stdin is spooled to a private temporary file
//! first):
//!
//! 1. The event stream, with the filters, tracking which kernel records make
//!    up each selected event ([`EventStream::track_sources`]): their
//!    positions, and the processes (pid and parent pid) and cgroups of the
//!    selected events.
//! 2. The raw reader, copying in file order: the selected events' records
//!    (entry, refetches, exit; fork, exit and exec records), redacted; the
//!    fork and exit records of the selected events' processes that are not
//!    selected events themselves, as context records (the lineage needs them
//!    to give the kept events their process identities; readers show no
//!    event for them, and older readers skip them); clock anchors and loss
//!    counters (they describe the capture, not its events); cgroup paths and
//!    container metadata of the selected events' cgroups only, and start
//!    snapshot entries of their processes only, so that nothing tells what
//!    was filtered out.
//!
//! The header is the source's with a [`RewriteStep`] (and a
//! [`RedactionStep`](crate::format::RedactionStep)) appended to its
//! provenance; the source's segment (a file of a rotated set, a dump) is
//! not kept: the rewrite is a capture of its own. Calls without their exit
//! (unfinished events) are kept as their entry and refetch records. The
//! trailer counts what was kept and carries the source's loss counters.
//! The output is written to a temporary file beside it and renamed into
//! place once complete. One input only: several (a rotated set, merged
//! captures) are refused by [`super::run`].

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::bpf::layout;
use crate::event::{Event, EventClasses};
use crate::format::{
    CaptureHeader, CaptureReader, CaptureWriter, FormatError, KindCount, LossCounters, Record,
    RewriteStep, SyncSink, Trailer, WriterOptions,
};
use crate::redact::Redactor;

use super::decode;
use super::stream::{EventStream, Item, StreamOptions, Summary};
use super::{input_name, Filter};

/// What to rewrite, and how.
#[derive(Debug, Clone)]
pub struct RewriteOptions {
    /// The source capture (`-`: stdin).
    pub input: PathBuf,
    /// The new capture (`-`: stdout).
    pub output: PathBuf,
    /// The selection (every class and failed calls unless filtered: the
    /// selection of `--format json`).
    pub select: StreamOptions,
    /// `--redact` / `--redact-default`, if any rule.
    pub redactor: Option<Redactor>,
}

/// What a rewrite did.
#[derive(Debug, Clone)]
pub struct RewriteSummary {
    pub events_kept: u64,
    pub records_kept: u64,
    pub context_records: u64,
    pub replacements: u64,
    /// The source's stream summary (its end warnings are replay's).
    pub source: Summary,
}

#[derive(Debug, thiserror::Error)]
pub enum RewriteError {
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("{input}: {source}")]
    Open {
        input: String,
        source: super::stream::OpenError,
    },
    #[error("{input}: {source}")]
    Read { input: String, source: FormatError },
    #[error("writing {output} failed: {source}")]
    Write { output: String, source: FormatError },
    #[error("{0}: is the input; write the rewrite to another file")]
    SameFile(String),
}

/// A private temporary file, removed when dropped unless kept.
struct TempFile {
    path: PathBuf,
    keep: bool,
}

impl TempFile {
    /// Creates `<base>.<tag>-<pid>` (mode 0600, never an existing file).
    fn create(base: &Path, tag: &str) -> Result<(TempFile, File), RewriteError> {
        let mut name = base.as_os_str().to_owned();
        name.push(format!(".{tag}-{}", std::process::id()));
        let path = PathBuf::from(name);
        let file = OpenOptions::new()
            .write(true)
            .read(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|source| RewriteError::Io {
                path: base.display().to_string(),
                source,
            })?;
        Ok((TempFile { path, keep: false }, file))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// The filters of `select`, as the header's provenance lists them.
pub fn describe_filters(select: &StreamOptions) -> Vec<String> {
    let f: &Filter = &select.filter;
    let mut out = Vec::new();
    let mut push = |name: &str, value: Option<String>| {
        if let Some(value) = value {
            out.push(format!("{name}={value}"));
        }
    };
    push("pid", f.pid.map(|v| v.to_string()));
    push("uid", f.uid.map(|v| v.to_string()));
    push("comm", f.comm.as_ref().map(|r| r.as_str().to_string()));
    push("mntns", f.mnt_ns.map(|v| v.to_string()));
    push("cgroup-id", f.cgroup_id.map(|v| v.to_string()));
    push(
        "cgroup-path",
        f.cgroup_path.as_ref().map(|r| r.as_str().to_string()),
    );
    push(
        "container",
        f.container
            .as_ref()
            .map(|p| String::from_utf8_lossy(p).into_owned()),
    );
    push(
        "since",
        select.since.as_ref().map(|t| t.as_str().to_string()),
    );
    push(
        "until",
        select.until.as_ref().map(|t| t.as_str().to_string()),
    );
    push("failed-only", f.failed_only.then(|| "true".to_string()));
    push("name", f.exec_name.as_ref().map(|r| r.as_str().to_string()));
    push("line", f.exec_line.as_ref().map(|r| r.as_str().to_string()));
    push(
        "descendants-of",
        select.descendants_of.map(|v| v.to_string()),
    );
    if f.classes != EventClasses::ALL {
        push("events", Some(f.classes.names().join(",")));
    }
    out
}

/// What pass 1 found: the records to keep, and whose and where they are.
#[derive(Default)]
struct Selection {
    /// Positions of the kernel records of selected events.
    records: HashSet<u64>,
    /// Pids and parent pids of selected events.
    pids: HashSet<u32>,
    cgroups: HashSet<u64>,
    events: u64,
}

impl Selection {
    fn add(&mut self, event: &Event, sources: &[u64]) {
        self.records.extend(sources.iter().copied());
        self.pids.insert(event.pid);
        self.pids.insert(event.ppid);
        self.cgroups.insert(event.cgroup_id);
        self.events += 1;
    }

    /// Whether a lifecycle record that is no selected event is still needed
    /// for the identities of the selected events' processes: a fork by or
    /// of one of them, or the exit of one.
    fn is_context(&self, raw: &[u8]) -> bool {
        let kind = decode::record_kind(raw);
        let pid = read_u32(raw, 8);
        if kind == Some(layout::SC_REC_FORK) {
            // sc_fork.child_pid at offset 56.
            let child = read_u32(raw, 56);
            pid.is_some_and(|p| self.pids.contains(&p))
                || child.is_some_and(|c| self.pids.contains(&c))
        } else if kind == Some(layout::SC_REC_PROC_EXIT) {
            pid.is_some_and(|p| self.pids.contains(&p))
        } else {
            false
        }
    }
}

fn read_u32(raw: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(raw.get(at..at + 4)?.try_into().ok()?))
}

/// Kept kernel records by (syscall, kind), for the trailer.
#[derive(Default)]
struct KindTally(std::collections::BTreeMap<(u8, u8), u64>);

impl KindTally {
    fn count(&mut self, raw: &[u8]) {
        let key = (
            decode::record_syscall(raw).unwrap_or(0),
            decode::record_kind(raw).map_or(0, |kind| kind as u8),
        );
        *self.0.entry(key).or_insert(0) += 1;
    }

    fn to_vec(&self) -> Vec<KindCount> {
        self.0
            .iter()
            .map(|(&(syscall, kind), &count)| KindCount {
                syscall,
                kind,
                count,
            })
            .collect()
    }
}

/// Runs a rewrite; `warn` gets each warning about the input, one line each.
pub fn rewrite(
    opts: &RewriteOptions,
    mut warn: impl FnMut(&str),
) -> Result<RewriteSummary, RewriteError> {
    let input = input_name(&opts.input);
    let to_stdout = opts.output.as_os_str() == "-";
    let io_err = |path: &Path| {
        let path = path.display().to_string();
        move |source| RewriteError::Io {
            path: path.clone(),
            source,
        }
    };
    // A spool of stdin: both passes read a file.
    let mut spool_guard = None;
    let source_path = if opts.input.as_os_str() == "-" {
        let base = std::env::temp_dir().join("snoopcap-rewrite-stdin");
        let (guard, mut file) = TempFile::create(&base, "spool")?;
        io::copy(&mut io::stdin().lock(), &mut file).map_err(io_err(&guard.path))?;
        let path = guard.path.clone();
        spool_guard = Some(guard);
        path
    } else {
        opts.input.clone()
    };
    if !to_stdout {
        refuse_same_file(&source_path, &opts.output)?;
    }

    let (selection, summary) = select(&source_path, &input, &opts.select, &mut warn)?;

    let mut redactor = opts.redactor.clone();
    let output_name = if to_stdout {
        "stdout".to_string()
    } else {
        opts.output.display().to_string()
    };
    let write_err = |source| RewriteError::Write {
        output: output_name.clone(),
        source,
    };
    let (mut out_guard, sink): (Option<TempFile>, Box<dyn SyncSink>) = if to_stdout {
        (None, Box::new(io::stdout()))
    } else {
        let (guard, file) = TempFile::create(&opts.output, "partial")?;
        (Some(guard), Box::new(file))
    };

    let source = File::open(&source_path).map_err(io_err(&source_path))?;
    let mut reader =
        CaptureReader::new(BufReader::with_capacity(256 * 1024, source)).map_err(|source| {
            RewriteError::Read {
                input: input.clone(),
                source,
            }
        })?;
    let header = rewritten_header(reader.header(), opts, &input, &selection, &mut redactor);
    let redaction_step = header.provenance.redactions.len().saturating_sub(1) as u32;
    let mut writer =
        CaptureWriter::new(sink, &header, WriterOptions::default()).map_err(write_err)?;

    let mut position = 0u64;
    let mut kinds = KindTally::default();
    let mut records_kept = 0u64;
    let mut context_records = 0u64;
    let mut lost = LossCounters::default();
    loop {
        let record = match reader.next_record() {
            Ok(Some(record)) => record,
            Ok(None) => break,
            // Pass 1 reported every problem of the input already.
            Err(err) if err.is_recoverable() => continue,
            Err(_) => break,
        };
        let pushed = match record {
            Record::Kernel(raw) => {
                let at = position;
                position += 1;
                if selection.records.contains(&at) {
                    let redacted = redactor.as_mut().and_then(|r| r.redact_record(raw));
                    let raw = redacted.as_deref().unwrap_or(raw);
                    kinds.count(raw);
                    records_kept += 1;
                    writer.push_kernel_record(raw)
                } else if selection.is_context(raw) {
                    context_records += 1;
                    writer.push_context_record(raw)
                } else {
                    Ok(())
                }
            }
            Record::Context(raw) if selection.is_context(raw) => {
                context_records += 1;
                writer.push_context_record(raw)
            }
            Record::Context(_) => Ok(()),
            Record::ClockAnchor(anchor) => writer.push_clock_anchor(&anchor),
            Record::LossCounters(counters) => {
                let pushed = writer.push_loss_counters(&counters);
                lost = counters;
                pushed
            }
            Record::CgroupPath(c) if selection.cgroups.contains(&c.id) => {
                writer.push_cgroup_path(&c)
            }
            Record::CgroupPath(_) => Ok(()),
            Record::Process(mut p) if selection.pids.contains(&p.pid) => {
                if let Some(r) = redactor.as_mut() {
                    r.redact_process(&mut p);
                }
                writer.push_process(&p)
            }
            Record::Process(_) => Ok(()),
            Record::Container(c) if selection.cgroups.contains(&c.cgroup_id) => {
                writer.push_container(&c)
            }
            Record::Container(_) => Ok(()),
            Record::RedactionCount(count) => writer.push_redaction_count(&count),
        };
        pushed.map_err(write_err)?;
    }
    let source_trailer = reader.trailer().cloned();
    if let Some(r) = &redactor {
        writer
            .push_redaction_count(&r.count(redaction_step))
            .map_err(write_err)?;
    }
    let trailer = Trailer {
        stop_reason: source_trailer
            .as_ref()
            .map_or("rewrite of a capture cut short".to_string(), |t| {
                t.stop_reason.clone()
            }),
        end_wall_ns: source_trailer
            .as_ref()
            .map_or(header.start_wall_ns, |t| t.end_wall_ns),
        records_by_kind: kinds.to_vec(),
        lost: source_trailer.map_or(lost, |t| t.lost),
        ..Trailer::default()
    };
    let mut sink = writer.finish(&trailer).map_err(write_err)?;
    sink.flush().map_err(|source| RewriteError::Io {
        path: output_name.clone(),
        source,
    })?;
    drop(sink);
    if let Some(guard) = out_guard.as_mut() {
        fs::rename(&guard.path, &opts.output).map_err(io_err(&opts.output))?;
        guard.keep = true;
    }
    drop(spool_guard);
    Ok(RewriteSummary {
        events_kept: selection.events,
        records_kept,
        context_records,
        replacements: redactor.as_ref().map_or(0, Redactor::replacements),
        source: summary,
    })
}

/// Pass 1: the selected events' records, processes and cgroups.
fn select(
    path: &Path,
    input: &str,
    options: &StreamOptions,
    warn: &mut impl FnMut(&str),
) -> Result<(Selection, Summary), RewriteError> {
    let file = File::open(path).map_err(|source| RewriteError::Io {
        path: input.to_string(),
        source,
    })?;
    let mut stream = EventStream::open(BufReader::with_capacity(256 * 1024, file), options)
        .map_err(|source| RewriteError::Open {
            input: input.to_string(),
            source,
        })?;
    stream.track_sources();
    let mut selection = Selection::default();
    while let Some(item) = stream.next_item() {
        match item {
            Item::Event(event) => selection.add(&event, stream.event_sources()),
            Item::Warning(warning) => warn(&warning.to_string()),
            Item::Record(_) | Item::Process(_) | Item::EndOfFrame => {}
        }
    }
    Ok((selection, stream.finish()))
}

/// The source's header, with this rewrite (and redaction) in its provenance.
fn rewritten_header(
    source: &CaptureHeader,
    opts: &RewriteOptions,
    input: &str,
    selection: &Selection,
    redactor: &mut Option<Redactor>,
) -> CaptureHeader {
    let mut header = source.clone();
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
    header.provenance.rewrites.push(RewriteStep {
        wall_ns: now,
        tool: format!("snoopcap replay {}", env!("CARGO_PKG_VERSION")),
        source: input.to_string(),
        source_tool: source.tool.clone(),
        source_start_wall_ns: source.start_wall_ns,
        filters: describe_filters(&opts.select),
        events_kept: selection.events,
    });
    if let Some(r) = redactor.as_mut() {
        header.provenance.redactions.push(r.step("rewrite", now));
        r.redact_strings(&mut header.command_line);
    }
    header
}

/// Refuses to write over the input (same device and inode).
fn refuse_same_file(input: &Path, output: &Path) -> Result<(), RewriteError> {
    if let (Ok(a), Ok(b)) = (fs::metadata(input), fs::metadata(output)) {
        if a.dev() == b.dev() && a.ino() == b.ino() {
            return Err(RewriteError::SameFile(output.display().to_string()));
        }
    }
    Ok(())
}
