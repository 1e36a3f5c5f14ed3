//! The flight recorder (`record --ring SIZE|DURATION -o PATTERN`): the
//! recent past kept in memory as compressed frames, written out when a
//! trigger fires, followed by what comes next for `--after`.
//!
//! Records go into a capture writer whose output is [`FrameTap`]: each frame
//! it cuts becomes one [`HeldFrame`] of a queue bounded by SIZE bytes (or by
//! DURATION, within a byte cap). On a trigger the queue is copied into a new
//! file (`PATTERN.YYYYmmddTHHMMSS.mmmZ`, the trigger's UTC time) after a
//! first frame with the cgroup paths, containers and the process snapshot; frames cut
//! after the trigger are copied too until `--after` has passed, then the
//! dump gets its trailer (what triggered it is in its header's segment).
//! Recording goes on throughout; a trigger during a dump is reported and
//! ignored. A dump that fails (full disk, missing directory) is reported in
//! one line and abandoned, and the ring goes on.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::output::{
    dump_name, warn_if_slow, Destination, FileContext, Retention, SegmentFile, SegmentStart,
    Written,
};
use super::{anchor_now, hostinfo, KindCounts, RecordError};
use crate::format::{
    CaptureWriter, CgroupPath, ContainerInfo, FormatError, FrameHeader, RedactionCount,
    SegmentInfo, SyncSink, WriterOptions, FRAME_HEADER_LEN,
};

/// How much of the past to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingLimit {
    /// At most this many bytes of compressed frames.
    Bytes(u64),
    /// Frames of the last DURATION, within `cap` bytes.
    Duration { span: Duration, cap: u64 },
}

impl RingLimit {
    fn cap(self) -> u64 {
        match self {
            RingLimit::Bytes(b) => b,
            RingLimit::Duration { cap, .. } => cap,
        }
    }
}

/// Flight recorder settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingOptions {
    pub limit: RingLimit,
    /// `--after`: how long a dump goes on after its trigger.
    pub after: Duration,
    /// `-W`: dumps to keep.
    pub keep: Option<usize>,
}

/// A sink that keeps each write (the writer writes a whole frame, or the
/// file header, with one `write_all`) as a separate chunk.
#[derive(Default)]
pub struct FrameTap {
    chunks: Vec<Vec<u8>>,
}

impl Write for FrameTap {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.chunks.push(buf.to_vec());
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.chunks.push(buf.to_vec());
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl SyncSink for FrameTap {
    fn sync_data(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One compressed frame of the recent past.
struct HeldFrame {
    bytes: Vec<u8>,
    records: u64,
    kinds: KindCounts,
    /// Boot-clock time of its first kernel record (0: none).
    first_ts: u64,
    /// Boot-clock time when it was cut.
    cut_boot_ns: u64,
    /// The kernel's loss counters when the frame before it was cut.
    lost_before: Vec<Vec<u64>>,
}

/// A dump being written.
struct Dump {
    file: SegmentFile,
    until: Instant,
}

pub struct FlightRecorder {
    ctx: FileContext,
    pattern: PathBuf,
    opts: RingOptions,
    writer: CaptureWriter<FrameTap>,
    frames: VecDeque<HeldFrame>,
    held_bytes: u64,
    /// Kernel records and kinds pushed since the last frame cut.
    records_seen: u64,
    pending_kinds: KindCounts,
    lost_at_last_cut: Vec<Vec<u64>>,
    dump: Option<Dump>,
    sequence: u64,
    retention: Retention,
    done: Written,
    dumps: u64,
    /// Triggers that fired during the current dump.
    ignored: u64,
}

impl FlightRecorder {
    pub fn new(
        ctx: FileContext,
        pattern: &Path,
        opts: RingOptions,
        lost: &[Vec<u64>],
    ) -> Result<FlightRecorder, RecordError> {
        let writer_opts = WriterOptions {
            max_frame_bytes: ctx.frame_bytes,
            flush_interval: ctx.flush_interval,
            ..WriterOptions::default()
        };
        let mut writer = CaptureWriter::new(FrameTap::default(), &ctx.template, writer_opts)
            .map_err(|source| RecordError::Write {
                target: "the flight recorder's memory".to_string(),
                source,
            })?;
        // The tap's first chunk is that writer's file header: dumps have their own.
        writer_tap_clear(&mut writer);
        Ok(FlightRecorder {
            retention: Retention::new(opts.keep),
            ctx,
            pattern: pattern.to_path_buf(),
            opts,
            writer,
            frames: VecDeque::new(),
            held_bytes: 0,
            records_seen: 0,
            pending_kinds: KindCounts::new(),
            lost_at_last_cut: lost.to_vec(),
            dump: None,
            sequence: 0,
            done: Written::default(),
            dumps: 0,
            ignored: 0,
        })
    }

    fn mem_err(source: FormatError) -> RecordError {
        RecordError::Write {
            target: "the flight recorder's memory".to_string(),
            source,
        }
    }

    /// Moves frames the writer just cut into the queue (and into the dump
    /// being written), then drops the oldest past the limit.
    fn take_frames(&mut self, lost: &[Vec<u64>]) {
        let chunks = std::mem::take(&mut tap(&mut self.writer).chunks);
        if chunks.is_empty() {
            return;
        }
        // Each writer call cuts at most one frame; several chunks would
        // share the records counted since the last cut, given to the first.
        let records_now = self.writer.records_written();
        let mut records = records_now.saturating_sub(self.records_seen);
        self.records_seen = records_now;
        let cut_boot_ns = anchor_now().boot_ns;
        for bytes in chunks {
            let first_ts = bytes
                .get(..FRAME_HEADER_LEN)
                .and_then(|b| <&[u8; FRAME_HEADER_LEN]>::try_from(b).ok())
                .and_then(|b| FrameHeader::parse(b).ok())
                .map_or(0, |h| h.first_ts);
            let frame = HeldFrame {
                bytes,
                records,
                kinds: std::mem::replace(&mut self.pending_kinds, KindCounts::new()),
                first_ts,
                cut_boot_ns,
                lost_before: std::mem::replace(&mut self.lost_at_last_cut, lost.to_vec()),
            };
            records = 0;
            self.forward(&frame);
            self.held_bytes += frame.bytes.len() as u64;
            self.frames.push_back(frame);
        }
        self.evict(cut_boot_ns);
    }

    fn evict(&mut self, now_boot_ns: u64) {
        let cap = self.opts.limit.cap();
        let span_ns = match self.opts.limit {
            RingLimit::Duration { span, .. } => Some(span.as_nanos() as u64),
            RingLimit::Bytes(_) => None,
        };
        while let Some(front) = self.frames.front() {
            let too_old =
                span_ns.is_some_and(|span| now_boot_ns.saturating_sub(front.cut_boot_ns) > span);
            if self.held_bytes <= cap && !too_old {
                break;
            }
            self.held_bytes -= front.bytes.len() as u64;
            self.frames.pop_front();
        }
    }

    /// Copies a new frame into the dump being written, if any.
    fn forward(&mut self, frame: &HeldFrame) {
        let Some(dump) = self.dump.as_mut() else {
            return;
        };
        let started = Instant::now();
        if let Err(err) = dump
            .file
            .append_frame(&frame.bytes, frame.records, &frame.kinds)
        {
            self.abandon(err);
            return;
        }
        warn_if_slow(started, "writing the dump");
    }

    /// A dump failed: say so, keep what it wrote (readable up to there),
    /// go on recording into memory.
    fn abandon(&mut self, err: RecordError) {
        self.ignored = 0;
        if let Some(dump) = self.dump.take() {
            eprintln!(
                "record: dump {} abandoned: {err}; the flight recorder goes on",
                dump.file.path.display()
            );
        }
    }

    fn start_dump(
        &mut self,
        what: &str,
        now: Instant,
        lost: &[Vec<u64>],
    ) -> Result<(), RecordError> {
        self.writer.flush_frame().map_err(Self::mem_err)?;
        self.take_frames(lost);
        // Idle, no frame was cut lately: what is too old still goes now.
        self.evict(anchor_now().boot_ns);
        let trigger_wall_ns = hostinfo::wall_now_ns();
        let path = dump_name(&self.pattern, trigger_wall_ns);
        let first_ts = self.frames.iter().map(|f| f.first_ts).find(|&t| t != 0);
        let anchor = anchor_now();
        let start_wall_ns = first_ts.map(|ts| {
            anchor.wall_ns - (anchor.boot_ns.saturating_sub(ts)).min(i64::MAX as u64) as i64
        });
        let segment = SegmentInfo {
            set_id: self.ctx.set_id.clone(),
            sequence: self.sequence,
            kind: SegmentInfo::DUMP.to_string(),
            trigger: what.to_string(),
            trigger_wall_ns,
            after_ns: self.opts.after.as_nanos() as u64,
        };
        self.sequence += 1;
        let lost_base = self
            .frames
            .front()
            .map_or_else(|| lost.to_vec(), |f| f.lost_before.clone());
        let started = Instant::now();
        let file = SegmentFile::create(
            &self.ctx,
            SegmentStart {
                path: &path,
                segment,
                lost: &lost_base,
                start_wall_ns,
                snapshot_until: first_ts,
                sync_each_frame: false,
            },
        );
        let file = match file {
            Ok(file) => file,
            Err(err) => {
                eprintln!("record: trigger {what}: no dump: {err}; the flight recorder goes on");
                return Ok(());
            }
        };
        eprintln!(
            "record: trigger {what}: dumping {} bytes of the past and {:.1} s after it to {}",
            self.held_bytes,
            self.opts.after.as_secs_f64(),
            path.display()
        );
        self.dump = Some(Dump {
            file,
            until: now + self.opts.after,
        });
        let frames = std::mem::take(&mut self.frames);
        for frame in &frames {
            self.forward(frame);
        }
        self.frames = frames;
        warn_if_slow(started, "writing the dump's past");
        Ok(())
    }

    /// Ends the dump: its last frame, trailer, sync; applies `-W`.
    fn end_dump(&mut self, stop_reason: &str, lost: &[Vec<u64>]) -> Result<(), RecordError> {
        self.writer.flush_frame().map_err(Self::mem_err)?;
        self.take_frames(lost);
        let Some(dump) = self.dump.take() else {
            return Ok(());
        };
        let path = dump.file.path.clone();
        if self.ignored > 0 {
            eprintln!(
                "record: {} more triggers during the dump to {} were ignored",
                std::mem::take(&mut self.ignored),
                path.display()
            );
        }
        match dump.file.finish(&self.ctx, stop_reason, lost) {
            Ok(written) => {
                eprintln!(
                    "record: dump {} complete: {} records, {} bytes",
                    path.display(),
                    written.records,
                    written.bytes
                );
                self.done.events += written.events;
                self.done.records += written.records;
                self.done.frames += written.frames;
                self.done.bytes += written.bytes;
                self.dumps += 1;
                self.retention.completed(path);
            }
            Err(err) => eprintln!(
                "record: dump {} abandoned: {err}; the flight recorder goes on",
                path.display()
            ),
        }
        Ok(())
    }
}

fn tap(writer: &mut CaptureWriter<FrameTap>) -> &mut FrameTap {
    writer.get_mut()
}

fn writer_tap_clear(writer: &mut CaptureWriter<FrameTap>) {
    tap(writer).chunks.clear();
}

impl Destination for FlightRecorder {
    fn push_cgroup_path(&mut self, path: &CgroupPath) -> Result<(), RecordError> {
        self.ctx.cgroups.push(path.clone());
        self.writer.push_cgroup_path(path).map_err(Self::mem_err)?;
        let lost = self.lost_at_last_cut.clone();
        self.take_frames(&lost);
        Ok(())
    }

    fn push_container(&mut self, info: &ContainerInfo) -> Result<(), RecordError> {
        self.ctx.containers.push(info.clone());
        self.writer.push_container(info).map_err(Self::mem_err)?;
        let lost = self.lost_at_last_cut.clone();
        self.take_frames(&lost);
        Ok(())
    }

    fn push_redaction_count(&mut self, count: &RedactionCount) -> Result<(), RecordError> {
        self.writer
            .push_redaction_count(count)
            .map_err(Self::mem_err)?;
        let lost = self.lost_at_last_cut.clone();
        self.take_frames(&lost);
        Ok(())
    }

    fn push_record(&mut self, raw: &[u8]) -> Result<(), RecordError> {
        let frames_before = self.writer.frames_written();
        self.writer.push_kernel_record(raw).map_err(Self::mem_err)?;
        if self.writer.frames_written() != frames_before {
            // The frame was cut before this record went in: it starts the next.
            let lost = self.lost_at_last_cut.clone();
            self.take_frames(&lost);
        }
        self.pending_kinds.count(raw);
        Ok(())
    }

    fn tick(&mut self, now: Instant, lost: &[Vec<u64>]) -> Result<(), RecordError> {
        if self.writer.flush_due(now) {
            self.writer
                .push_clock_anchor(&anchor_now())
                .map_err(Self::mem_err)?;
            self.writer.flush_frame().map_err(Self::mem_err)?;
            self.take_frames(lost);
        }
        if self.dump.as_ref().is_some_and(|d| now >= d.until) {
            self.end_dump("dump complete", lost)?;
        }
        Ok(())
    }

    fn trigger(&mut self, what: &str, now: Instant, lost: &[Vec<u64>]) -> Result<(), RecordError> {
        if self.dump.is_some() {
            // Said once, when the dump ends: a storm of matching events
            // would otherwise print a line per loop turn.
            self.ignored += 1;
            return Ok(());
        }
        self.start_dump(what, now, lost)
    }

    fn finish(
        self: Box<Self>,
        stop_reason: &str,
        lost: &[Vec<u64>],
    ) -> Result<Written, RecordError> {
        let mut me = *self;
        if me.dump.is_some() {
            me.end_dump(stop_reason, lost)?;
        }
        Ok(Written {
            output: format!(
                "{} dumps named {}.* (flight recorder, {} bytes held at the end)",
                me.dumps,
                me.pattern.display(),
                me.held_bytes
            ),
            ..me.done
        })
    }

    fn bytes(&self) -> u64 {
        self.done.bytes + self.dump.as_ref().map_or(0, |d| d.file.bytes())
    }

    fn current(&self) -> String {
        match &self.dump {
            Some(d) => d.file.path.display().to_string(),
            None => format!("memory ({} KiB held)", self.held_bytes >> 10),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    use crate::event::EventClasses;
    use crate::format::{CaptureHeader, CaptureReader, Record};
    use crate::record::loader::ProbeConfig;

    fn context(frame_bytes: usize) -> FileContext {
        FileContext {
            template: CaptureHeader::default(),
            probes: ProbeConfig {
                events: EventClasses {
                    proc: false,
                    ..EventClasses::ALL
                },
                ..ProbeConfig::default()
            },
            set_id: "test-set".into(),
            force: false,
            frame_bytes,
            flush_interval: Duration::from_secs(1),
            cgroups: Vec::new(),
            containers: Vec::new(),
            redactor: None,
        }
    }

    /// A record of `len` barely compressible bytes, timestamp `ts` first.
    fn record(ts: u64, len: usize) -> Vec<u8> {
        let mut r = ts.to_le_bytes().to_vec();
        let mut x = ts.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        while r.len() < len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            r.push(x as u8);
        }
        r
    }

    #[test]
    fn memory_stays_within_the_ring_and_a_dump_holds_its_newest_frames() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pattern = dir.path().join("fr.snoop");
        let cap: u64 = 256 << 10;
        let opts = RingOptions {
            limit: RingLimit::Bytes(cap),
            after: Duration::ZERO,
            keep: None,
        };
        let mut ring = FlightRecorder::new(context(16 << 10), &pattern, opts, &[]).expect("ring");
        let mut peak = 0;
        let n = 20_000u64;
        for ts in 1..=n {
            ring.push_record(&record(ts, 200)).expect("push");
            peak = peak.max(ring.held_bytes);
        }
        // One frame over at most, between a cut and the eviction after it.
        assert!(
            peak <= cap + (16 << 10),
            "held {peak} bytes for a {cap}-byte ring"
        );
        assert!(
            ring.held_bytes > cap / 2,
            "the ring filled: {}",
            ring.held_bytes
        );
        let now = Instant::now();
        ring.trigger("SIGUSR1", now, &[]).expect("trigger");
        ring.tick(now, &[])
            .expect("the dump ends at once (--after 0)");
        let written = Box::new(ring).finish("SIGINT", &[]).expect("finish");
        assert!(written.bytes > 0);

        let dumps: Vec<_> = fs::read_dir(dir.path()).expect("ls").collect();
        assert_eq!(dumps.len(), 1);
        let path = dumps[0].as_ref().expect("entry").path();
        let file = fs::File::open(&path).expect("open");
        let mut reader = CaptureReader::new(io::BufReader::new(file)).expect("header");
        let segment = reader.segment().cloned().expect("a segment");
        assert_eq!(
            (segment.kind.as_str(), segment.trigger.as_str()),
            ("dump", "SIGUSR1")
        );
        let mut stamps = Vec::new();
        while let Some(r) = reader.next_record().expect("valid") {
            if let Record::Kernel(raw) = r {
                stamps.push(u64::from_le_bytes(raw[..8].try_into().expect("8 bytes")));
            }
        }
        let trailer = reader.trailer().expect("complete").clone();
        assert_eq!(trailer.records, stamps.len() as u64);
        assert_eq!(written.records, stamps.len() as u64);
        // The newest records, without gap, up to the trigger.
        assert_eq!(stamps.last(), Some(&n));
        let first = stamps[0];
        assert!(first > 1, "the oldest frames were dropped");
        assert_eq!(stamps, (first..=n).collect::<Vec<_>>());
    }
}
