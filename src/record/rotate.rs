//! Rotation (`record -o PATTERN -C SIZE -G SECONDS -W COUNT`): a set of
//! complete captures instead of one. File N is `PATTERN.NNNNNN` (strftime
//! conversions in PATTERN expanded at the file's start), each with its own
//! header (set id, sequence number, a fresh clock anchor, the cgroup paths,
//! containers and process snapshot a reader needs), its own trailer and the loss over
//! its own span. A file ends at the first frame boundary at or past SIZE, or
//! when SECONDS have passed since it started; the next starts at once, so
//! the set holds every record exactly once. With `-W` the oldest complete
//! file is deleted once COUNT newer ones are complete and synced.

use std::time::{Duration, Instant};

use super::hostinfo;
use super::output::{
    rotated_name, Destination, FileContext, Retention, SegmentFile, SegmentStart, Written,
};
use super::RecordError;
use crate::format::{CgroupPath, ContainerInfo, RedactionCount, SegmentInfo};
use std::path::{Path, PathBuf};

/// When to start the next file, and how many to keep.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RotateOptions {
    /// `-C`: bytes.
    pub size: Option<u64>,
    /// `-G`.
    pub interval: Option<Duration>,
    /// `-W`.
    pub keep: Option<usize>,
}

impl RotateOptions {
    pub fn enabled(&self) -> bool {
        self.size.is_some() || self.interval.is_some()
    }

    /// The frame size to use: small enough that a file overshoots `-C` by
    /// at most a quarter of it (uncompressed), at least 64 KiB, at most
    /// `frame_bytes`.
    pub fn frame_bytes(&self, frame_bytes: usize) -> usize {
        match self.size {
            Some(size) => (size / 4).clamp(64 << 10, frame_bytes as u64) as usize,
            None => frame_bytes,
        }
    }
}

/// A rotated set being written.
pub struct Rotator {
    ctx: FileContext,
    pattern: PathBuf,
    opts: RotateOptions,
    file: Option<SegmentFile>,
    started: Instant,
    sequence: u64,
    retention: Retention,
    /// Totals of the files already complete.
    done: Written,
    files: u64,
    first: Option<PathBuf>,
}

impl Rotator {
    /// Starts file 0.
    pub fn start(
        ctx: FileContext,
        pattern: &Path,
        opts: RotateOptions,
        lost: &[Vec<u64>],
    ) -> Result<Rotator, RecordError> {
        let mut r = Rotator {
            ctx,
            pattern: pattern.to_path_buf(),
            retention: Retention::new(opts.keep),
            opts,
            file: None,
            started: Instant::now(),
            sequence: 0,
            done: Written::default(),
            files: 0,
            first: None,
        };
        r.open(lost)?;
        Ok(r)
    }

    fn open(&mut self, lost: &[Vec<u64>]) -> Result<(), RecordError> {
        let path = rotated_name(&self.pattern, hostinfo::wall_now_ns(), self.sequence);
        let segment = SegmentInfo {
            set_id: self.ctx.set_id.clone(),
            sequence: self.sequence,
            kind: SegmentInfo::ROTATION.to_string(),
            ..SegmentInfo::default()
        };
        let file = SegmentFile::create(
            &self.ctx,
            SegmentStart {
                path: &path,
                segment,
                lost,
                start_wall_ns: None,
                snapshot_until: None,
                sync_each_frame: true,
            },
        )?;
        self.first.get_or_insert(path);
        self.file = Some(file);
        self.started = Instant::now();
        self.sequence += 1;
        Ok(())
    }

    fn file(&mut self) -> Result<&mut SegmentFile, RecordError> {
        // Only after a failed rotation, which ends the recording.
        self.file.as_mut().ok_or_else(|| RecordError::Write {
            target: self.pattern.display().to_string(),
            source: crate::format::FormatError::WriterFailed,
        })
    }

    /// Ends the current file (trailer, sync), applies `-W`, starts the next.
    fn rotate(&mut self, lost: &[Vec<u64>]) -> Result<(), RecordError> {
        if let Some(file) = self.file.take() {
            let path = file.path.clone();
            let written = file.finish(&self.ctx, "rotated", lost)?;
            self.add_done(&written);
            self.retention.completed(path);
        }
        self.open(lost)
    }

    fn add_done(&mut self, w: &Written) {
        self.done.events += w.events;
        self.done.records += w.records;
        self.done.frames += w.frames;
        self.done.bytes += w.bytes;
        self.files += 1;
    }

    fn size_reached(&self) -> bool {
        match (self.opts.size, &self.file) {
            (Some(size), Some(file)) => file.bytes() >= size,
            _ => false,
        }
    }
}

impl Destination for Rotator {
    fn push_cgroup_path(&mut self, path: &CgroupPath) -> Result<(), RecordError> {
        self.ctx.cgroups.push(path.clone());
        self.file()?.push_cgroup_path(path)
    }

    fn push_container(&mut self, info: &ContainerInfo) -> Result<(), RecordError> {
        self.ctx.containers.push(info.clone());
        self.file()?.push_container(info)
    }

    fn push_redaction_count(&mut self, count: &RedactionCount) -> Result<(), RecordError> {
        self.file()?.push_redaction_count(count)
    }

    fn push_record(&mut self, raw: &[u8]) -> Result<(), RecordError> {
        self.file()?.push_record(raw)
    }

    fn tick(&mut self, now: Instant, lost: &[Vec<u64>]) -> Result<(), RecordError> {
        self.file()?.tick(now, lost)?;
        let timed_out = self
            .opts
            .interval
            .is_some_and(|every| now.saturating_duration_since(self.started) >= every);
        if timed_out || self.size_reached() {
            self.rotate(lost)?;
        }
        Ok(())
    }

    fn finish(
        self: Box<Self>,
        stop_reason: &str,
        lost: &[Vec<u64>],
    ) -> Result<Written, RecordError> {
        let mut me = *self;
        if let Some(file) = me.file.take() {
            let path = file.path.clone();
            let written = file.finish(&me.ctx, stop_reason, lost)?;
            me.add_done(&written);
            me.retention.completed(path);
        }
        let first = me
            .first
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        Ok(Written {
            output: format!(
                "{} files from {first} ({})",
                me.files,
                me.ctx.set_id.get(..8).unwrap_or(&me.ctx.set_id)
            ),
            ..me.done
        })
    }

    fn bytes(&self) -> u64 {
        self.done.bytes + self.file.as_ref().map_or(0, SegmentFile::bytes)
    }

    fn current(&self) -> String {
        self.file
            .as_ref()
            .map(|f| f.path.display().to_string())
            .unwrap_or_default()
    }
}
