//! `replay --info`: a capture's header and statistics, as text or as one
//! JSON object per capture, read through the event stream.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::path::PathBuf;

use serde::Serialize;

use super::stream::{EventStream, Item, LossTotals, OpenError, StreamOptions, Summary, Warning};
use super::{input_name, open_input, Outcome, ReplayError, ReplayOptions};
use crate::format::{CaptureHeader, ContainerInfo, Provenance, RedactionCount, SegmentInfo};
use crate::render::{self, Format};

/// What `--info` shows of one capture.
#[derive(Debug, Serialize)]
pub struct CaptureInfo {
    pub file: String,
    pub format_version: u16,
    pub header: CaptureHeader,
    /// For a file of a rotated set or a flight-recorder dump: which set,
    /// where in it, and (a dump) what triggered it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment: Option<SegmentInfo>,
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
    /// Process lifecycle records (captures of layout 3+ only).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub process_records_by_kind: BTreeMap<String, u64>,
    pub lost: LossTotals,
    pub frames: u64,
    pub bytes: u64,
    pub damage: Vec<String>,
    /// Rewrites and redaction passes the capture went through (absent when none).
    #[serde(skip_serializing_if = "Provenance::is_empty")]
    pub provenance: Provenance,
    /// Replacements of each redaction pass (its last count in the capture).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub redaction_counts: Vec<RedactionCount>,
    /// Containers the recording host's engine described.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<ContainerInfo>,
}

fn rfc3339(wall_ns: i64) -> String {
    chrono::DateTime::from_timestamp(
        wall_ns.div_euclid(1_000_000_000),
        wall_ns.rem_euclid(1_000_000_000) as u32,
    )
    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
    .unwrap_or_else(|| wall_ns.to_string())
}

/// Reads a whole capture for `--info`, through the event stream.
pub fn capture_info(name: String, source: Box<dyn Read>) -> Result<CaptureInfo, OpenError> {
    let mut stream = EventStream::open(source, &StreamOptions::default())?;
    let mut damage = Vec::new();
    while let Some(item) = stream.next_item() {
        if let Item::Warning(warning) = item {
            match warning {
                Warning::Skipped(err) | Warning::Truncated(err) | Warning::Fatal(err) => {
                    damage.push(err.to_string())
                }
                // Undecodable records are counted under `unknown` by kind.
                Warning::Undecodable(_) => {}
            }
        }
    }
    Ok(CaptureInfo::from_summary(name, stream.finish(), damage))
}

impl CaptureInfo {
    fn from_summary(file: String, summary: Summary, damage: Vec<String>) -> CaptureInfo {
        let header = summary.header;
        let trailer = summary.trailer;
        let end_ns = trailer.as_ref().map(|t| t.end_wall_ns);
        CaptureInfo {
            file,
            format_version: summary.format_version,
            start: rfc3339(header.start_wall_ns),
            end: end_ns.map(rfc3339),
            duration_secs: end_ns.map(|e| (e - header.start_wall_ns) as f64 / 1e9),
            complete: trailer.is_some(),
            stop_reason: trailer.as_ref().map(|t| t.stop_reason.clone()),
            records: summary.records.records,
            events_by_kind: summary.records.entries,
            exits_by_kind: summary.records.exits,
            refetches_by_kind: summary.records.refetches,
            process_records_by_kind: summary.records.process,
            lost: summary.loss,
            frames: summary.frames,
            bytes: summary.bytes,
            damage,
            provenance: header.provenance.clone(),
            redaction_counts: summary.redaction_counts,
            containers: summary.containers,
            header,
            segment: summary.segment,
        }
    }
}

/// The `--info` lines of the capture's provenance: each rewrite and each
/// redaction pass with its rules and replacement count.
fn write_provenance(
    info: &CaptureInfo,
    safe: &dyn Fn(&str) -> String,
    out: &mut dyn Write,
) -> io::Result<()> {
    for step in &info.provenance.rewrites {
        writeln!(
            out,
            "rewritten:       {} by {} from {} ({} events kept; filters: {})",
            rfc3339(step.wall_ns),
            safe(&step.tool),
            safe(&step.source),
            step.events_kept,
            safe(&list(&step.filters))
        )?;
    }
    for (index, step) in info.provenance.redactions.iter().enumerate() {
        let count = info
            .redaction_counts
            .iter()
            .find(|c| c.step as usize == index);
        let replaced = match count {
            Some(c) => format!("{} replacements in {} strings", c.replacements, c.strings),
            None => "replacements unknown (the capture was cut short)".to_string(),
        };
        writeln!(
            out,
            "redacted:        at {} ({}), {}, marker {}",
            safe(&step.stage),
            rfc3339(step.wall_ns),
            replaced,
            safe(&step.marker)
        )?;
        for (rule_index, rule) in step.rules.iter().enumerate() {
            let hits = count
                .and_then(|c| c.by_rule.get(rule_index))
                .map_or(String::new(), |n| format!(" ({n})"));
            writeln!(out, "  rule:          {}{hits}", safe(rule))?;
        }
    }
    for c in &info.containers {
        writeln!(
            out,
            "container:       {} {} name {} image {} (cgroup {})",
            safe(&c.engine),
            safe(&c.id),
            safe(&c.name),
            safe(&c.image),
            c.cgroup_id
        )?;
    }
    Ok(())
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
    if let Some(seg) = &info.segment {
        write_segment(seg, out)?;
    }
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
    if !info.process_records_by_kind.is_empty() {
        writeln!(
            out,
            "process records: {}",
            counts(&info.process_records_by_kind)
        )?;
    }
    writeln!(out, "records:         {}", info.records)?;
    writeln!(
        out,
        "lost in kernel:  {} (entries {}, exits {}, scratch busy {}, argument re-reads {}{})",
        info.lost.total(),
        info.lost.entries,
        info.lost.exits,
        info.lost.scratch_busy,
        info.lost.refetches,
        if info.header.layout_version >= 3 {
            format!(", process records {}", info.lost.proc)
        } else {
            String::new()
        }
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
    write_provenance(info, &safe, out)
}

/// The segment lines of a file of a set.
fn write_segment(seg: &SegmentInfo, out: &mut dyn Write) -> io::Result<()> {
    let mut text = Vec::new();
    render::escape::push_terminal_safe(&mut text, seg.set_id.as_bytes(), true);
    let set = String::from_utf8_lossy(&text);
    if seg.is_rotation() {
        writeln!(
            out,
            "set:             {set}, file {} (rotated)",
            seg.sequence
        )?;
        return Ok(());
    }
    writeln!(out, "set:             {set}, dump {}", seg.sequence)?;
    let mut trigger = Vec::new();
    render::escape::push_terminal_safe(&mut trigger, seg.trigger.as_bytes(), true);
    writeln!(
        out,
        "trigger:         {} at {} (then {:.1} s more)",
        String::from_utf8_lossy(&trigger),
        rfc3339(seg.trigger_wall_ns),
        seg.after_ns as f64 / 1e9
    )
}

pub(super) fn run(
    opts: &ReplayOptions,
    inputs: &[PathBuf],
    out: &mut dyn Write,
) -> Result<Outcome, ReplayError> {
    let mut outcome = Outcome::Complete;
    for (i, path) in inputs.iter().enumerate() {
        let name = input_name(path);
        let info = capture_info(name.clone(), open_input(path)?).map_err(|source| {
            ReplayError::Stream {
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
