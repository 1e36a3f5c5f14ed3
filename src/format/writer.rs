//! Writing captures: [`CaptureWriter`] appends envelopes to an in-memory
//! frame (cheap, on the recorder's hot path), compresses and writes a whole
//! frame at once when it is full or old enough, and ends the capture with the
//! trailer frame. [`SyncSink`] is the output it needs: a `Write` that can be
//! made durable.

use std::fs::File;
use std::io::{self, Cursor, Write};
use std::time::{Duration, Instant};

use super::codec;
use super::error::FormatError;
use super::frame::{
    self, FrameHeader, COMPRESSION_ZSTD, ENVELOPE_HEADER_LEN, FRAME_HEADER_LEN, FRAME_TYPE_DATA,
    FRAME_TYPE_TRAILER, KIND_CGROUP_PATH, KIND_CLOCK_ANCHOR, KIND_CONTAINER, KIND_CONTEXT_RECORD,
    KIND_KERNEL_RECORD, KIND_LOSS_COUNTERS, KIND_PROCESS, KIND_REDACTION_COUNT, MAX_RECORD_BYTES,
};
use super::types::{
    CaptureHeader, CgroupPath, ClockAnchor, ContainerInfo, LossCounters, ProcessInfo,
    RedactionCount, SegmentInfo, Trailer,
};

/// An output a capture can be written to: `Write` plus a way to make what
/// was written durable.
pub trait SyncSink: Write {
    /// Makes the bytes written so far durable, as far as this sink can.
    fn sync_data(&mut self) -> io::Result<()>;
}

impl SyncSink for File {
    /// `fdatasync(2)`.
    fn sync_data(&mut self) -> io::Result<()> {
        File::sync_data(self)
    }
}

impl SyncSink for io::Stdout {
    /// A pipe or terminal cannot be synced: flushes only.
    fn sync_data(&mut self) -> io::Result<()> {
        self.flush()
    }
}

impl SyncSink for Vec<u8> {
    /// Nothing to do in memory.
    fn sync_data(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<T: SyncSink + ?Sized> SyncSink for &mut T {
    fn sync_data(&mut self) -> io::Result<()> {
        (**self).sync_data()
    }
}

impl<T: SyncSink + ?Sized> SyncSink for Box<T> {
    fn sync_data(&mut self) -> io::Result<()> {
        (**self).sync_data()
    }
}

/// Tuning of a [`CaptureWriter`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterOptions {
    /// A frame is cut before its uncompressed payload would grow past this
    /// many bytes (a single larger envelope gets a frame of its own). At
    /// most [`MAX_RECORD_BYTES`]. Default 1 MiB.
    pub max_frame_bytes: usize,
    /// [`CaptureWriter::flush_due`] turns true once the oldest pending
    /// envelope is this old. Default 1 s.
    pub flush_interval: Duration,
    /// zstd compression level. Default 3.
    pub zstd_level: i32,
    /// `sync_data` after the header and after every frame (crash safety at
    /// the cost of one fdatasync per frame). Default false; `finish` always
    /// syncs.
    pub sync_each_frame: bool,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            max_frame_bytes: 1 << 20,
            flush_interval: Duration::from_secs(1),
            zstd_level: 3,
            sync_each_frame: false,
        }
    }
}

/// Writes one capture: the header at creation, then data frames, then the
/// trailer frame on [`CaptureWriter::finish`].
///
/// Dropping the writer without `finish` loses the pending (unflushed)
/// envelopes and leaves a capture without trailer, which readers report as
/// cut short. After any error the writer refuses further writes
/// ([`FormatError::WriterFailed`]): the output may end in a partial frame,
/// which readers report as truncated.
pub struct CaptureWriter<W: SyncSink> {
    out: W,
    opts: WriterOptions,
    compressor: zstd::bulk::Compressor<'static>,
    /// Uncompressed payload of the frame being built.
    pending: Vec<u8>,
    pending_envelopes: u32,
    pending_kernel: u64,
    pending_first_ts: u64,
    pending_last_ts: u64,
    pending_since: Option<Instant>,
    /// Header plus compressed payload of the frame being written.
    frame_buf: Vec<u8>,
    /// Encoding of a metadata envelope body.
    scratch: Vec<u8>,
    bytes_written: u64,
    frames_written: u64,
    records_written: u64,
    first_ts: Option<u64>,
    last_ts: u64,
    failed: bool,
}

impl<W: SyncSink> CaptureWriter<W> {
    /// Checks the options and writes the file header at once.
    pub fn new(out: W, header: &CaptureHeader, opts: WriterOptions) -> Result<Self, FormatError> {
        Self::with_segment(out, header, None, opts)
    }

    /// As [`CaptureWriter::new`], for one file of a set (a rotated file or
    /// a flight-recorder dump): the header also says which set and where.
    pub fn with_segment(
        out: W,
        header: &CaptureHeader,
        segment: Option<&SegmentInfo>,
        opts: WriterOptions,
    ) -> Result<Self, FormatError> {
        if opts.max_frame_bytes > MAX_RECORD_BYTES {
            return Err(FormatError::InvalidOptions(format!(
                "max_frame_bytes {} exceeds the maximum of {MAX_RECORD_BYTES}",
                opts.max_frame_bytes
            )));
        }
        let levels = zstd::compression_level_range();
        if !levels.contains(&opts.zstd_level) {
            return Err(FormatError::InvalidOptions(format!(
                "zstd level {} is outside {}..={}",
                opts.zstd_level,
                levels.start(),
                levels.end()
            )));
        }
        let compressor = zstd::bulk::Compressor::new(opts.zstd_level)
            .map_err(|e| FormatError::InvalidOptions(format!("zstd: {e}")))?;
        let head = frame::encode_file_header(header, segment)?;
        let mut w = CaptureWriter {
            out,
            pending: Vec::with_capacity(opts.max_frame_bytes.min(MAX_RECORD_BYTES) + 4096),
            opts,
            compressor,
            pending_envelopes: 0,
            pending_kernel: 0,
            pending_first_ts: 0,
            pending_last_ts: 0,
            pending_since: None,
            frame_buf: Vec::new(),
            scratch: Vec::new(),
            bytes_written: 0,
            frames_written: 0,
            records_written: 0,
            first_ts: None,
            last_ts: 0,
            failed: false,
        };
        w.write_out(&head)?;
        if w.opts.sync_each_frame {
            w.sync()?;
        }
        Ok(w)
    }

    /// Appends a raw kernel record (at least 8 bytes: its timestamp first).
    /// Cuts a frame first if the record would not fit in the current one.
    pub fn push_kernel_record(&mut self, raw: &[u8]) -> Result<(), FormatError> {
        let Some(ts) = frame::kernel_record_timestamp(raw) else {
            return Err(FormatError::RecordTooShort { len: raw.len() });
        };
        self.push_envelope(KIND_KERNEL_RECORD, raw)?;
        if self.pending_kernel == 0 {
            self.pending_first_ts = ts;
        }
        self.pending_last_ts = ts;
        self.pending_kernel += 1;
        Ok(())
    }

    /// Appends a fresh clock anchor.
    pub fn push_clock_anchor(&mut self, a: &ClockAnchor) -> Result<(), FormatError> {
        self.push_encoded(KIND_CLOCK_ANCHOR, a, "clock anchor")
    }

    /// Appends the cumulative loss counters.
    pub fn push_loss_counters(&mut self, l: &LossCounters) -> Result<(), FormatError> {
        self.push_encoded(KIND_LOSS_COUNTERS, l, "loss counters")
    }

    /// Appends a cgroup id to path mapping.
    pub fn push_cgroup_path(&mut self, c: &CgroupPath) -> Result<(), FormatError> {
        self.push_encoded(KIND_CGROUP_PATH, c, "cgroup path")
    }

    /// Appends one process of the start snapshot.
    pub fn push_process(&mut self, p: &ProcessInfo) -> Result<(), FormatError> {
        self.push_encoded(KIND_PROCESS, p, "process")
    }

    /// Appends a kernel record kept for context only (see
    /// [`Record::Context`](super::Record::Context)); it counts as no kernel
    /// record of the capture.
    pub fn push_context_record(&mut self, raw: &[u8]) -> Result<(), FormatError> {
        if frame::kernel_record_timestamp(raw).is_none() {
            return Err(FormatError::RecordTooShort { len: raw.len() });
        }
        self.push_envelope(KIND_CONTEXT_RECORD, raw)
    }

    /// Appends what a container engine said of a container.
    pub fn push_container(&mut self, c: &ContainerInfo) -> Result<(), FormatError> {
        self.push_encoded(KIND_CONTAINER, c, "container")
    }

    /// Appends a redaction pass's replacement count.
    pub fn push_redaction_count(&mut self, r: &RedactionCount) -> Result<(), FormatError> {
        self.push_encoded(KIND_REDACTION_COUNT, r, "redaction count")
    }

    /// Appends a data frame that another writer encoded (header and payload,
    /// as that writer wrote them): a flight recorder keeps frames compressed
    /// in memory and copies them into a dump this way. Pending envelopes are
    /// written first, as their own frame. `kernel_records` is the number of
    /// kernel records in the frame, for the trailer. The frame header is
    /// checked (magic, checksum, type, length); the payload is copied as it is.
    pub fn append_frame(&mut self, frame: &[u8], kernel_records: u64) -> Result<(), FormatError> {
        self.flush_frame()?;
        let header = frame
            .get(..FRAME_HEADER_LEN)
            .and_then(|b| <&[u8; FRAME_HEADER_LEN]>::try_from(b).ok())
            .ok_or_else(|| {
                FormatError::InvalidOptions(format!(
                    "a {}-byte frame is shorter than its header",
                    frame.len()
                ))
            })?;
        let h = FrameHeader::parse(header)
            .map_err(|e| FormatError::InvalidOptions(format!("appended frame: {e}")))?;
        let whole = FRAME_HEADER_LEN + h.compressed_len as usize;
        if h.frame_type != FRAME_TYPE_DATA || frame.len() != whole {
            return Err(FormatError::InvalidOptions(format!(
                "appended frame: type {} and {} bytes, expected a data frame of {whole} bytes",
                h.frame_type,
                frame.len()
            )));
        }
        self.write_out(frame)?;
        if h.first_ts != 0 || h.last_ts != 0 || kernel_records > 0 {
            self.first_ts.get_or_insert(h.first_ts);
            self.last_ts = h.last_ts;
        }
        self.frames_written += 1;
        self.records_written += kernel_records;
        if self.opts.sync_each_frame {
            self.sync()?;
        }
        Ok(())
    }

    /// True when envelopes are pending and the oldest was pushed at least
    /// `flush_interval` before `now`.
    pub fn flush_due(&self, now: Instant) -> bool {
        self.pending_since
            .is_some_and(|t| now.saturating_duration_since(t) >= self.opts.flush_interval)
    }

    /// Compresses the pending envelopes and writes them as one data frame
    /// with a single `write_all`, then flushes the sink (and syncs it with
    /// `sync_each_frame`). Does nothing when nothing is pending.
    pub fn flush_frame(&mut self) -> Result<(), FormatError> {
        self.check_usable()?;
        if self.pending.is_empty() {
            return Ok(());
        }
        let (first, last) = if self.pending_kernel > 0 {
            (self.pending_first_ts, self.pending_last_ts)
        } else {
            (0, 0)
        };
        let payload = std::mem::take(&mut self.pending);
        let result = self.write_frame(
            FRAME_TYPE_DATA,
            &payload,
            self.pending_envelopes,
            first,
            last,
        );
        self.pending = payload;
        result?;
        if self.pending_kernel > 0 {
            self.first_ts.get_or_insert(first);
            self.last_ts = last;
        }
        self.frames_written += 1;
        self.records_written += self.pending_kernel;
        self.pending.clear();
        self.pending_envelopes = 0;
        self.pending_kernel = 0;
        self.pending_since = None;
        if self.opts.sync_each_frame {
            self.sync()?;
        }
        Ok(())
    }

    /// Flushes pending envelopes, writes the trailer frame and syncs the
    /// sink; returns it. The writer fills in the trailer's `first_ts_ns`,
    /// `last_ts_ns`, `frames`, `bytes` and `records` from what it wrote;
    /// the values passed in for them are ignored.
    pub fn finish(mut self, trailer: &Trailer) -> Result<W, FormatError> {
        self.flush_frame()?;
        let mut t = trailer.clone();
        t.first_ts_ns = self.first_ts.unwrap_or(0);
        t.last_ts_ns = self.last_ts;
        t.frames = self.frames_written;
        t.bytes = self.bytes_written;
        t.records = self.records_written;
        let mut body = Vec::new();
        codec::encode_into(&t, &mut body, MAX_RECORD_BYTES as u64).map_err(|e| {
            FormatError::Encode {
                what: "trailer",
                reason: e.to_string(),
            }
        })?;
        self.write_frame(FRAME_TYPE_TRAILER, &body, 0, 0, 0)?;
        self.sync()?;
        Ok(self.out)
    }

    /// File bytes written so far (header and complete frames).
    pub fn bytes_written(&self) -> u64 {
        self.bytes_written
    }

    /// Data frames written so far.
    pub fn frames_written(&self) -> u64 {
        self.frames_written
    }

    /// Kernel records in the data frames written so far (pending ones not
    /// included).
    pub fn records_written(&self) -> u64 {
        self.records_written
    }

    /// Uncompressed bytes waiting for the next frame.
    pub fn pending_bytes(&self) -> usize {
        self.pending.len()
    }

    /// The sink.
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// The sink, mutably (for a sink that collects what was written).
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    fn check_usable(&self) -> Result<(), FormatError> {
        if self.failed {
            Err(FormatError::WriterFailed)
        } else {
            Ok(())
        }
    }

    fn push_encoded<T: serde::Serialize>(
        &mut self,
        kind: u8,
        value: &T,
        what: &'static str,
    ) -> Result<(), FormatError> {
        self.check_usable()?;
        let mut body = std::mem::take(&mut self.scratch);
        body.clear();
        let encoded = codec::encode_into(value, &mut body, MAX_RECORD_BYTES as u64);
        let result = match encoded {
            Ok(()) => self.push_envelope(kind, &body),
            Err(e) => Err(FormatError::Encode {
                what,
                reason: format!("{e} (the limit is {MAX_RECORD_BYTES} bytes)"),
            }),
        };
        self.scratch = body;
        result
    }

    /// The hot path: one bounds check, maybe a frame cut, three appends.
    fn push_envelope(&mut self, kind: u8, body: &[u8]) -> Result<(), FormatError> {
        self.check_usable()?;
        if body.len() > MAX_RECORD_BYTES {
            return Err(FormatError::RecordTooLarge {
                len: body.len(),
                max: MAX_RECORD_BYTES,
            });
        }
        let len = ENVELOPE_HEADER_LEN + body.len();
        if !self.pending.is_empty() && self.pending.len() + len > self.opts.max_frame_bytes {
            self.flush_frame()?;
        }
        if self.pending.is_empty() {
            self.pending_since = Some(Instant::now());
        }
        self.pending.push(kind);
        self.pending
            .extend_from_slice(&(body.len() as u32).to_le_bytes());
        self.pending.extend_from_slice(body);
        self.pending_envelopes += 1;
        Ok(())
    }

    fn write_frame(
        &mut self,
        frame_type: u8,
        payload: &[u8],
        record_count: u32,
        first_ts: u64,
        last_ts: u64,
    ) -> Result<(), FormatError> {
        self.check_usable()?;
        let mut buf = std::mem::take(&mut self.frame_buf);
        buf.clear();
        buf.resize(FRAME_HEADER_LEN, 0);
        buf.reserve(zstd::zstd_safe::compress_bound(payload.len()));
        let compressed = {
            let mut cursor = Cursor::new(&mut buf);
            cursor.set_position(FRAME_HEADER_LEN as u64);
            self.compressor.compress_to_buffer(payload, &mut cursor)
        };
        let result = match compressed {
            Ok(n) => {
                let header = FrameHeader {
                    frame_type,
                    compression: COMPRESSION_ZSTD,
                    compressed_len: n as u32,
                    uncompressed_len: payload.len() as u32,
                    record_count,
                    first_ts,
                    last_ts,
                    payload_crc: frame::crc32(buf.get(FRAME_HEADER_LEN..).unwrap_or_default()),
                };
                buf[..FRAME_HEADER_LEN].copy_from_slice(&header.encode());
                self.write_out(&buf)
            }
            Err(e) => Err(FormatError::Encode {
                what: "frame",
                reason: format!("zstd: {e}"),
            }),
        };
        self.frame_buf = buf;
        result
    }

    fn write_out(&mut self, bytes: &[u8]) -> Result<(), FormatError> {
        let offset = self.bytes_written;
        let result = self.out.write_all(bytes).and_then(|()| self.out.flush());
        match result {
            Ok(()) => {
                self.bytes_written += bytes.len() as u64;
                Ok(())
            }
            Err(error) => {
                self.failed = true;
                Err(FormatError::Io { offset, error })
            }
        }
    }

    fn sync(&mut self) -> Result<(), FormatError> {
        self.out.sync_data().map_err(|error| {
            self.failed = true;
            FormatError::Io {
                offset: self.bytes_written,
                error,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(ts: u64, extra: &[u8]) -> Vec<u8> {
        let mut r = ts.to_le_bytes().to_vec();
        r.extend_from_slice(extra);
        r
    }

    #[test]
    fn header_is_written_at_once_and_frames_only_on_flush() {
        let mut w = CaptureWriter::new(
            Vec::new(),
            &CaptureHeader::default(),
            WriterOptions::default(),
        )
        .unwrap();
        let header_len = w.get_ref().len();
        assert_eq!(w.bytes_written(), header_len as u64);
        assert_eq!(&w.get_ref()[..8], b"SNOOPCAP");
        w.push_kernel_record(&rec(5, b"abc")).unwrap();
        assert_eq!(w.get_ref().len(), header_len);
        assert_eq!(w.pending_bytes(), 5 + 11);
        w.flush_frame().unwrap();
        assert_eq!(w.frames_written(), 1);
        assert_eq!(w.records_written(), 1);
        assert_eq!(w.pending_bytes(), 0);
        let after = w.get_ref().len();
        assert_eq!(w.bytes_written(), after as u64);
        // Nothing pending: no empty frame.
        w.flush_frame().unwrap();
        assert_eq!(w.get_ref().len(), after);
        assert_eq!(w.frames_written(), 1);
    }

    #[test]
    fn frames_are_cut_at_max_frame_bytes() {
        let opts = WriterOptions {
            max_frame_bytes: 100,
            ..WriterOptions::default()
        };
        let mut w = CaptureWriter::new(Vec::new(), &CaptureHeader::default(), opts).unwrap();
        // 5 + 40 = 45 bytes per envelope: two fit in 100, the third cuts.
        for i in 0..5 {
            w.push_kernel_record(&rec(i, &[0; 32])).unwrap();
        }
        assert_eq!(w.frames_written(), 2);
        assert_eq!(w.pending_bytes(), 45);
        // A record larger than the frame size still goes, alone.
        w.push_kernel_record(&rec(9, &[1; 200])).unwrap();
        assert_eq!(w.frames_written(), 3);
        w.push_kernel_record(&rec(10, &[])).unwrap();
        assert_eq!(w.frames_written(), 4);
    }

    #[test]
    fn rejects_short_and_huge_records_and_bad_options() {
        let mut w = CaptureWriter::new(
            Vec::new(),
            &CaptureHeader::default(),
            WriterOptions::default(),
        )
        .unwrap();
        assert!(matches!(
            w.push_kernel_record(&[1, 2, 3, 4, 5, 6, 7]),
            Err(FormatError::RecordTooShort { len: 7 })
        ));
        let huge = vec![0u8; MAX_RECORD_BYTES + 1];
        assert!(matches!(
            w.push_kernel_record(&huge),
            Err(FormatError::RecordTooLarge { .. })
        ));
        assert_eq!(w.pending_bytes(), 0);
        for opts in [
            WriterOptions {
                max_frame_bytes: MAX_RECORD_BYTES + 1,
                ..WriterOptions::default()
            },
            WriterOptions {
                zstd_level: 1000,
                ..WriterOptions::default()
            },
        ] {
            assert!(matches!(
                CaptureWriter::new(Vec::new(), &CaptureHeader::default(), opts),
                Err(FormatError::InvalidOptions(_))
            ));
        }
        let big_header = CaptureHeader {
            command_line: vec!["x".repeat(1 << 20)],
            ..CaptureHeader::default()
        };
        assert!(matches!(
            CaptureWriter::new(Vec::new(), &big_header, WriterOptions::default()),
            Err(FormatError::Encode { .. })
        ));
    }

    #[test]
    fn flush_due_follows_the_oldest_pending_envelope() {
        let opts = WriterOptions {
            flush_interval: Duration::from_millis(500),
            ..WriterOptions::default()
        };
        let mut w = CaptureWriter::new(Vec::new(), &CaptureHeader::default(), opts).unwrap();
        let far = Instant::now() + Duration::from_secs(10);
        assert!(!w.flush_due(far), "nothing pending");
        w.push_clock_anchor(&ClockAnchor::default()).unwrap();
        assert!(!w.flush_due(Instant::now()));
        assert!(w.flush_due(far));
        w.flush_frame().unwrap();
        assert!(!w.flush_due(far));
    }

    #[test]
    fn frames_copied_from_another_writer_make_a_valid_capture() {
        let mut source = CaptureWriter::new(
            Vec::new(),
            &CaptureHeader::default(),
            WriterOptions::default(),
        )
        .unwrap();
        let start = source.bytes_written() as usize;
        source.push_kernel_record(&rec(7, b"xyz")).unwrap();
        source.push_kernel_record(&rec(9, b"")).unwrap();
        source.flush_frame().unwrap();
        let frame = source.get_ref()[start..].to_vec();
        let segment = SegmentInfo {
            set_id: "s".into(),
            sequence: 3,
            kind: SegmentInfo::DUMP.into(),
            ..SegmentInfo::default()
        };
        let mut dump = CaptureWriter::with_segment(
            Vec::new(),
            &CaptureHeader::default(),
            Some(&segment),
            WriterOptions::default(),
        )
        .unwrap();
        dump.push_clock_anchor(&ClockAnchor::default()).unwrap();
        dump.append_frame(&frame, 2).unwrap();
        assert!(dump.append_frame(&frame[..frame.len() - 1], 2).is_err());
        let bytes = dump.finish(&Trailer::default()).unwrap();
        let mut reader = crate::format::CaptureReader::new(&bytes[..]).unwrap();
        assert_eq!(reader.segment(), Some(&segment));
        let mut kernel = 0;
        while let Some(r) = reader.next_record().unwrap() {
            kernel += matches!(r, crate::format::Record::Kernel(_)) as u32;
        }
        assert_eq!(kernel, 2);
        let t = reader.trailer().unwrap();
        assert_eq!(
            (t.frames, t.records, t.first_ts_ns, t.last_ts_ns),
            (2, 2, 7, 9)
        );
    }

    /// A sink whose writes fail after a budget of bytes.
    struct Failing {
        budget: usize,
        synced: usize,
    }

    impl Write for Failing {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.budget == 0 {
                return Err(io::Error::other("disk full"));
            }
            let n = buf.len().min(self.budget);
            self.budget -= n;
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl SyncSink for Failing {
        fn sync_data(&mut self) -> io::Result<()> {
            self.synced += 1;
            Ok(())
        }
    }

    #[test]
    fn io_errors_stop_the_writer() {
        let sink = Failing {
            budget: 400,
            synced: 0,
        };
        let opts = WriterOptions {
            sync_each_frame: true,
            ..WriterOptions::default()
        };
        let mut w = CaptureWriter::new(sink, &CaptureHeader::default(), opts).unwrap();
        assert_eq!(w.get_ref().synced, 1, "header synced");
        let noise: Vec<u8> = (0..600u32).map(|i| (i * 7919 % 251) as u8).collect();
        w.push_kernel_record(&rec(1, &noise)).unwrap();
        let err = w.flush_frame().unwrap_err();
        assert!(err.to_string().contains("disk full"), "{err}");
        assert!(matches!(
            w.push_kernel_record(&rec(2, b"")),
            Err(FormatError::WriterFailed)
        ));
        assert!(matches!(
            w.finish(&Trailer::default()),
            Err(FormatError::WriterFailed)
        ));
    }
}
