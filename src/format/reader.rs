//! Reading captures: [`CaptureReader`] streams the records of a capture from
//! any `Read` (a file or a pipe) with memory bounded by one frame. It checks
//! every checksum and length, drops damaged frames and resynchronises on the
//! next valid frame header, and logs everything it skipped as [`Damage`].

use std::io::Read;
use std::ops::Range;
use std::sync::Arc;

use super::codec;
use super::error::{Damage, DamageKind, FormatError};
use super::frame::{
    self, FrameHeader, COMPRESSION_ZSTD, FILE_HEADER_PREFIX_LEN, FORMAT_VERSION, FRAME_HEADER_LEN,
    FRAME_MAGIC, FRAME_TYPE_DATA, FRAME_TYPE_TRAILER, KIND_CGROUP_PATH, KIND_CLOCK_ANCHOR,
    KIND_CONTAINER, KIND_CONTEXT_RECORD, KIND_KERNEL_RECORD, KIND_LOSS_COUNTERS, KIND_PROCESS,
    KIND_REDACTION_COUNT, MAGIC, MAX_HEADER_BODY_BYTES,
};
use super::source::Source;
use super::types::{
    CaptureHeader, CgroupPath, ClockAnchor, ContainerInfo, LossCounters, ProcessInfo,
    RedactionCount, SegmentInfo, Trailer,
};

use zstd::zstd_safe;

/// Bytes read at a time while scanning for the next frame header.
const SCAN_CHUNK: usize = 64 << 10;

/// One record of a capture, in the order it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record<'a> {
    /// A raw kernel record, verbatim; bytes 0..8 are its boot-clock
    /// timestamp. Borrowed from the reader's frame buffer.
    Kernel(&'a [u8]),
    /// A fresh boot clock to wall clock anchor.
    ClockAnchor(ClockAnchor),
    /// Cumulative loss counters.
    LossCounters(LossCounters),
    /// A cgroup id to path mapping.
    CgroupPath(CgroupPath),
    /// One process of the start snapshot.
    Process(ProcessInfo),
    /// A raw kernel record kept for context only (a rewrite's fork and
    /// exit records of processes whose events it kept): readers feed it to
    /// the process lineage and show no event for it.
    Context(&'a [u8]),
    /// What a container engine said of a container.
    Container(ContainerInfo),
    /// Replacements a redaction pass made, cumulative.
    RedactionCount(RedactionCount),
}

/// Counters of what the reader has seen so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReaderStats {
    /// Data frames whose header checked out (read, skipped or damaged).
    pub data_frames: u64,
    /// Data frames skipped, without decompressing, by the time window.
    pub skipped_frames: u64,
    /// Frames of unknown types skipped by length.
    pub unknown_frames: u64,
    /// Envelopes of unknown kinds skipped (written by a newer version).
    pub unknown_envelopes: u64,
    /// Kernel records returned.
    pub kernel_records: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At a frame boundary.
    Frames,
    /// Returning the envelopes of a loaded frame.
    InFrame,
    /// After a corrupt frame: look for the next valid frame header.
    Resync,
    /// End of input, trailer read, or a fatal error.
    Done,
}

/// Streams the records of one capture.
///
/// Records come back through [`CaptureReader::next_record`] in file order.
/// Errors are returned in the stream where they occur: a recoverable one
/// ([`FormatError::is_recoverable`]) means the rest of the damaged frame was
/// dropped and the next call goes on with the next intact frame; after any
/// other error the next call returns `Ok(None)`.
pub struct CaptureReader<R: Read> {
    src: Source<R>,
    header: CaptureHeader,
    segment: Option<SegmentInfo>,
    version: u16,
    flags: u16,
    state: State,
    decompressor: zstd::bulk::Decompressor<'static>,
    /// Compressed payload of the current frame.
    comp: Vec<u8>,
    /// Uncompressed payload of the current frame. Shared: decoded strings
    /// may be slices of it (`CaptureReader::next_record_in_frame`); the
    /// next frame reuses the buffer once nothing else holds it.
    payload: Arc<Vec<u8>>,
    /// Window of the resynchronisation scan.
    scan: Vec<u8>,
    /// Next envelope in `payload`.
    pos: usize,
    /// Offset of the current frame, for errors.
    frame_offset: u64,
    trailer: Option<Trailer>,
    damage: Vec<Damage>,
    since: Option<u64>,
    until: Option<u64>,
    stats: ReaderStats,
}

impl<R: Read> CaptureReader<R> {
    /// Reads and checks the file header.
    pub fn new(r: R) -> Result<Self, FormatError> {
        let mut src = Source::new(r);
        let (header, segment, version, flags) = read_file_header(&mut src)?;
        let decompressor = zstd::bulk::Decompressor::new().map_err(|error| FormatError::Io {
            offset: src.offset(),
            error,
        })?;
        Ok(CaptureReader {
            src,
            header,
            segment,
            version,
            flags,
            state: State::Frames,
            decompressor,
            comp: Vec::new(),
            payload: Arc::new(Vec::new()),
            scan: Vec::new(),
            pos: 0,
            frame_offset: 0,
            trailer: None,
            damage: Vec::new(),
            since: None,
            until: None,
            stats: ReaderStats::default(),
        })
    }

    /// The capture header.
    pub fn header(&self) -> &CaptureHeader {
        &self.header
    }

    /// Where this file belongs, for a file of a rotated set or a
    /// flight-recorder dump; `None` for a capture of its own.
    pub fn segment(&self) -> Option<&SegmentInfo> {
        self.segment.as_ref()
    }

    /// The file's format version.
    pub fn version(&self) -> u16 {
        self.version
    }

    /// The file header's flags (no bit is defined in version 1).
    pub fn flags(&self) -> u16 {
        self.flags
    }

    /// The trailer, once it has been read (after `next_record` returned
    /// `Ok(None)`). `None` at the end means the capture was cut short.
    pub fn trailer(&self) -> Option<&Trailer> {
        self.trailer.as_ref()
    }

    /// Everything skipped or cut so far, in file order.
    pub fn damage(&self) -> &[Damage] {
        &self.damage
    }

    /// Counters of frames and envelopes seen so far.
    pub fn stats(&self) -> &ReaderStats {
        &self.stats
    }

    /// Offset in the input of the next byte to be read.
    /// True when the next [`CaptureReader::next_record`] call will read from
    /// the input (the current frame's records are used up): the moment a live
    /// consumer should flush what it has, before it may block on a pipe.
    pub fn needs_input(&self) -> bool {
        match self.state {
            State::InFrame => self.pos >= self.payload.len(),
            State::Frames | State::Resync => true,
            State::Done => false,
        }
    }

    pub fn offset(&self) -> u64 {
        self.src.offset()
    }

    /// Skips data frames whose kernel records all lie before `since` or all
    /// after `until` (boot-clock ns), judging by the frame header's first
    /// and last timestamps, without decompressing them. Coarse: records of
    /// frames that overlap the window are all returned, and metadata
    /// envelopes in skipped frames are not returned. Frames without kernel
    /// records are never skipped.
    pub fn set_time_window(&mut self, since: Option<u64>, until: Option<u64>) {
        self.since = since;
        self.until = until;
    }

    /// The next record, `Ok(None)` at the end of the capture.
    pub fn next_record(&mut self) -> Result<Option<Record<'_>>, FormatError> {
        match self.next_envelope()? {
            Some((kind, body)) => self.record(kind, body).map(Some),
            None => Ok(None),
        }
    }

    /// As [`CaptureReader::next_record`], with the decompressed frame a
    /// kernel record lies in (the record is a slice of it), so that what is
    /// decoded from it can share the frame instead of copying.
    #[allow(clippy::type_complexity)]
    pub fn next_record_in_frame(
        &mut self,
    ) -> Result<Option<(Record<'_>, Option<&Arc<Vec<u8>>>)>, FormatError> {
        let Some((kind, body)) = self.next_envelope()? else {
            return Ok(None);
        };
        if kind == KIND_KERNEL_RECORD {
            let raw = self.payload.get(body).unwrap_or_default();
            return Ok(Some((Record::Kernel(raw), Some(&self.payload))));
        }
        self.record(kind, body).map(|record| Some((record, None)))
    }

    /// The kind and place in `payload` of the next envelope of a known
    /// kind, reading frames as needed; `Ok(None)` at the end.
    fn next_envelope(&mut self) -> Result<Option<(u8, Range<usize>)>, FormatError> {
        let (kind, body) = loop {
            match self.state {
                State::Done => return Ok(None),
                State::Frames => self.read_frame()?,
                State::Resync => self.resync()?,
                State::InFrame => match frame::envelope_at(&self.payload, self.pos) {
                    None => self.state = State::Frames,
                    Some((kind, body)) => {
                        self.pos = body.end;
                        if matches!(
                            kind,
                            KIND_KERNEL_RECORD
                                | KIND_CLOCK_ANCHOR
                                | KIND_LOSS_COUNTERS
                                | KIND_CGROUP_PATH
                                | KIND_PROCESS
                                | KIND_CONTEXT_RECORD
                                | KIND_CONTAINER
                                | KIND_REDACTION_COUNT
                        ) {
                            break (kind, body);
                        }
                        // Unknown kinds were counted when the frame was
                        // checked; skip them.
                    }
                },
            }
        };
        if kind == KIND_KERNEL_RECORD {
            self.stats.kernel_records += 1;
        }
        Ok(Some((kind, body)))
    }

    /// The envelope of `kind` at `body` in `payload`, decoded.
    fn record(&mut self, kind: u8, body: Range<usize>) -> Result<Record<'_>, FormatError> {
        let bytes = self.payload.get(body).unwrap_or_default();
        let decoded = match kind {
            KIND_KERNEL_RECORD => return Ok(Record::Kernel(bytes)),
            KIND_CONTEXT_RECORD => return Ok(Record::Context(bytes)),
            KIND_CLOCK_ANCHOR => codec::decode(bytes).map(Record::ClockAnchor),
            KIND_LOSS_COUNTERS => codec::decode(bytes).map(Record::LossCounters),
            KIND_PROCESS => codec::decode(bytes).map(Record::Process),
            KIND_CONTAINER => codec::decode(bytes).map(Record::Container),
            KIND_REDACTION_COUNT => codec::decode(bytes).map(Record::RedactionCount),
            _ => codec::decode(bytes).map(Record::CgroupPath),
        };
        match decoded {
            Ok(record) => Ok(record),
            // Unreachable for a frame that passed `check_payload`; reported
            // rather than trusted.
            Err(e) => {
                let what = format!("envelope of kind {kind} does not decode: {e}");
                self.damage.push(Damage {
                    offset: self.frame_offset,
                    len: 0,
                    kind: DamageKind::CorruptFrame,
                    what: what.clone(),
                });
                Err(FormatError::Corrupt {
                    offset: self.frame_offset,
                    what,
                })
            }
        }
    }

    /// Reads the frame at the current offset. On success the state says
    /// what comes next; errors set it too.
    fn read_frame(&mut self) -> Result<(), FormatError> {
        let offset = self.src.offset();
        self.frame_offset = offset;
        let mut hb = [0u8; FRAME_HEADER_LEN];
        let n = self.fill(&mut hb)?;
        if n == 0 {
            // Clean end on a frame boundary, without trailer.
            self.state = State::Done;
            return Ok(());
        }
        if n < FRAME_HEADER_LEN {
            return Err(self.truncated(
                offset,
                format!("the input ends {n} bytes into a {FRAME_HEADER_LEN}-byte frame header"),
            ));
        }
        let h = match FrameHeader::parse(&hb) {
            Ok(h) => h,
            Err(e) => {
                // Nothing in this header can be trusted: rescan from the
                // byte after its start.
                self.src.unread(hb.get(1..).unwrap_or_default());
                return Err(self.corrupt_header(offset, e.to_string()));
            }
        };
        match h.frame_type {
            FRAME_TYPE_DATA => {
                self.stats.data_frames += 1;
                if self.outside_window(&h) {
                    self.skip_payload(offset, &h)?;
                    self.stats.skipped_frames += 1;
                    return Ok(());
                }
                self.load_payload(offset, &h)?;
                let summary = match frame::check_payload(&self.payload) {
                    Ok(s) => s,
                    Err(what) => return Err(self.corrupt_payload(offset, frame_len(&h), what)),
                };
                if summary.envelopes != h.record_count {
                    return Err(self.corrupt_payload(
                        offset,
                        frame_len(&h),
                        format!(
                            "the header counts {} envelopes, the payload holds {}",
                            h.record_count, summary.envelopes
                        ),
                    ));
                }
                if (summary.first_ts, summary.last_ts) != (h.first_ts, h.last_ts) {
                    return Err(self.corrupt_payload(
                        offset,
                        frame_len(&h),
                        format!(
                            "the header's timestamps {}..{} are not those of its first and last kernel records, {}..{}",
                            h.first_ts, h.last_ts, summary.first_ts, summary.last_ts
                        ),
                    ));
                }
                self.stats.unknown_envelopes += u64::from(summary.unknown);
                self.pos = 0;
                self.state = State::InFrame;
                Ok(())
            }
            FRAME_TYPE_TRAILER => {
                self.load_payload(offset, &h)?;
                let trailer: Trailer = match codec::decode(&self.payload) {
                    Ok(t) => t,
                    Err(e) => {
                        return Err(self.corrupt_payload(
                            offset,
                            frame_len(&h),
                            format!("trailer does not decode: {e}"),
                        ))
                    }
                };
                self.end_with_trailer(offset, trailer)
            }
            other => {
                self.skip_payload(offset, &h)?;
                self.stats.unknown_frames += 1;
                self.damage.push(Damage {
                    offset,
                    len: frame_len(&h),
                    kind: DamageKind::UnknownFrameType,
                    what: format!(
                        "skipped a frame of unknown type {other} (written by a newer version?)"
                    ),
                });
                Ok(())
            }
        }
    }

    /// Stores the trailer and checks that nothing follows it and that its
    /// counts agree with the file.
    fn end_with_trailer(&mut self, offset: u64, trailer: Trailer) -> Result<(), FormatError> {
        self.state = State::Done;
        let (frames, bytes) = (trailer.frames, trailer.bytes);
        self.trailer = Some(trailer);
        let after = self.src.offset();
        let mut probe = [0u8; 1];
        if self.fill(&mut probe)? > 0 {
            self.damage.push(Damage {
                offset: after,
                len: 0,
                kind: DamageKind::TrailingData,
                what: "data after the trailer frame".to_string(),
            });
            return Err(FormatError::TrailingData { offset: after });
        }
        let dropped_frames = self
            .damage
            .iter()
            .any(|d| matches!(d.kind, DamageKind::CorruptFrame | DamageKind::Skipped));
        if !dropped_frames && (frames != self.stats.data_frames || bytes != offset) {
            let what = format!(
                "the trailer counts {frames} data frames in {bytes} bytes, the file has {} in {offset}",
                self.stats.data_frames
            );
            self.damage.push(Damage {
                offset,
                len: 0,
                kind: DamageKind::TrailerMismatch,
                what: what.clone(),
            });
            return Err(FormatError::Corrupt { offset, what });
        }
        Ok(())
    }

    /// Reads a frame's payload into `comp`, checks it and decompresses it
    /// into `payload`.
    fn load_payload(&mut self, offset: u64, h: &FrameHeader) -> Result<(), FormatError> {
        let c = h.compressed_len as usize;
        let got = match self.src.read_up_to(&mut self.comp, c) {
            Ok(got) => got,
            Err(error) => return Err(self.io_error(error)),
        };
        if got < c {
            return Err(self.truncated(
                offset,
                format!("the input ends {got} bytes into the {c}-byte payload of a frame"),
            ));
        }
        let len = frame_len(h);
        if h.compression != COMPRESSION_ZSTD {
            let what = format!("unknown compression method {}", h.compression);
            return Err(self.corrupt_payload(offset, len, what));
        }
        let crc = frame::crc32(&self.comp);
        if crc != h.payload_crc {
            let what = format!(
                "payload checksum mismatch (stored {:#010x}, computed {crc:#010x})",
                h.payload_crc
            );
            return Err(self.corrupt_payload(offset, len, what));
        }
        if let Err(what) = self.decompress(h.uncompressed_len as usize) {
            return Err(self.corrupt_payload(offset, len, what));
        }
        Ok(())
    }

    /// Decompresses `comp`, which must be exactly one zstd frame, into
    /// `payload`, which must end up exactly `u` bytes long.
    fn decompress(&mut self, u: usize) -> Result<(), String> {
        match zstd_safe::find_frame_compressed_size(&self.comp) {
            Ok(n) if n == self.comp.len() => {}
            Ok(n) => {
                return Err(format!(
                    "payload is not exactly one zstd frame ({n} of its {} bytes are the first)",
                    self.comp.len()
                ))
            }
            Err(code) => {
                return Err(format!(
                    "payload is not a zstd frame: {}",
                    zstd_safe::get_error_name(code)
                ))
            }
        }
        match zstd_safe::get_frame_content_size(&self.comp) {
            Ok(Some(size)) if size != u as u64 => {
                return Err(format!(
                    "payload decompresses to {size} bytes, the header says {u}"
                ))
            }
            Ok(_) => {}
            Err(_) => return Err("payload has no valid zstd frame header".to_string()),
        }
        // Strings decoded from the last frame and still kept elsewhere keep
        // its buffer: then this frame gets a new one.
        if Arc::get_mut(&mut self.payload).is_none() {
            self.payload = Arc::new(Vec::new());
        }
        let Some(payload) = Arc::get_mut(&mut self.payload) else {
            return Err("no buffer to decompress the payload into".to_string());
        };
        payload.clear();
        // `u` was checked against MAX_FRAME_BYTES by FrameHeader::parse.
        payload.reserve_exact(u);
        match self.decompressor.decompress_to_buffer(&self.comp, payload) {
            Ok(n) if n == u => Ok(()),
            Ok(n) => Err(format!(
                "payload decompresses to {n} bytes, the header says {u}"
            )),
            Err(e) => Err(format!("payload does not decompress: {e}")),
        }
    }

    fn skip_payload(&mut self, offset: u64, h: &FrameHeader) -> Result<(), FormatError> {
        let c = u64::from(h.compressed_len);
        let got = match self.src.discard(c) {
            Ok(got) => got,
            Err(error) => return Err(self.io_error(error)),
        };
        if got < c {
            return Err(self.truncated(
                offset,
                format!("the input ends {got} bytes into the {c}-byte payload of a frame"),
            ));
        }
        Ok(())
    }

    fn outside_window(&self, h: &FrameHeader) -> bool {
        if h.first_ts == 0 && h.last_ts == 0 {
            return false;
        }
        let lo = h.first_ts.min(h.last_ts);
        let hi = h.first_ts.max(h.last_ts);
        self.since.is_some_and(|s| hi < s) || self.until.is_some_and(|u| lo > u)
    }

    /// Scans forward for the next `SCFR` whose 48-byte header checks out,
    /// buffering at most `SCAN_CHUNK + FRAME_HEADER_LEN` bytes, and leaves
    /// the input positioned on it.
    fn resync(&mut self) -> Result<(), FormatError> {
        let mut buf = std::mem::take(&mut self.scan);
        buf.clear();
        let result = self.resync_with(&mut buf);
        self.scan = buf;
        result
    }

    fn resync_with(&mut self, buf: &mut Vec<u8>) -> Result<(), FormatError> {
        let start = self.src.offset();
        // Stream offset of buf[0].
        let mut base = start;
        let mut eof = false;
        loop {
            let keep = match scan_window(buf) {
                Scan::Found(at) => {
                    let found = base + at as u64;
                    self.src.unread(buf.get(at..).unwrap_or_default());
                    self.state = State::Frames;
                    return self.note_skipped(
                        start,
                        found - start,
                        Some(found),
                        format!(
                            "skipped {} bytes to the next valid frame at byte {found}",
                            found - start
                        ),
                    );
                }
                Scan::NeedMore(keep) => keep,
            };
            if eof {
                let end = base + buf.len() as u64;
                self.state = State::Done;
                return self.note_skipped(
                    start,
                    end - start,
                    None,
                    format!(
                        "skipped {} bytes to the end of the input: no further valid frame",
                        end - start
                    ),
                );
            }
            buf.drain(..keep);
            base += keep as u64;
            let have = buf.len();
            buf.reserve_exact(SCAN_CHUNK);
            buf.resize(have + SCAN_CHUNK, 0);
            let got = self.fill_at(buf, have)?;
            buf.truncate(have + got);
            eof = got < SCAN_CHUNK;
        }
    }

    fn fill_at(&mut self, buf: &mut [u8], at: usize) -> Result<usize, FormatError> {
        let dst = buf.get_mut(at..).unwrap_or_default();
        self.fill(dst)
    }

    /// Logs bytes the scan passed over and reports them as an error (a
    /// recoverable one: reading goes on at `next`, or ends there).
    fn note_skipped(
        &mut self,
        offset: u64,
        len: u64,
        next: Option<u64>,
        what: String,
    ) -> Result<(), FormatError> {
        if len == 0 {
            return Ok(());
        }
        self.damage.push(Damage {
            offset,
            len,
            kind: DamageKind::Skipped,
            what,
        });
        Err(FormatError::Skipped { offset, len, next })
    }

    fn fill(&mut self, buf: &mut [u8]) -> Result<usize, FormatError> {
        self.src.fill(buf).map_err(|error| self.io_error(error))
    }

    fn io_error(&mut self, error: std::io::Error) -> FormatError {
        self.state = State::Done;
        FormatError::Io {
            offset: self.src.offset(),
            error,
        }
    }

    /// A frame header that failed its checks: nothing in it can be trusted,
    /// so the next step scans for a valid one.
    fn corrupt_header(&mut self, offset: u64, what: String) -> FormatError {
        self.state = State::Resync;
        self.drop_frame(offset, 0, what)
    }

    /// A valid frame header whose payload (already read: its C bytes are
    /// checksummed) failed a check: the next frame starts right after it, and
    /// is read like any other, so that whatever is wrong there (an invalid
    /// header, a cut) is reported in its turn.
    fn corrupt_payload(&mut self, offset: u64, len: u64, what: String) -> FormatError {
        self.state = State::Frames;
        self.drop_frame(offset, len, what)
    }

    fn drop_frame(&mut self, offset: u64, len: u64, what: String) -> FormatError {
        self.damage.push(Damage {
            offset,
            len,
            kind: DamageKind::CorruptFrame,
            what: what.clone(),
        });
        FormatError::Corrupt { offset, what }
    }

    fn truncated(&mut self, offset: u64, what: String) -> FormatError {
        self.state = State::Done;
        self.damage.push(Damage {
            offset,
            len: self.src.offset().saturating_sub(offset),
            kind: DamageKind::Truncated,
            what: what.clone(),
        });
        FormatError::Truncated { offset, what }
    }

    #[cfg(test)]
    fn buffer_capacity(&self) -> usize {
        self.comp.capacity()
            + self.payload.capacity()
            + self.scan.capacity()
            + self.src.pending_capacity()
    }
}

/// Result of scanning a window for a frame header.
enum Scan {
    /// A valid frame header starts at this index.
    Found(usize),
    /// None in the window; bytes from this index on may start one and must
    /// be kept while more input is read.
    NeedMore(usize),
}

fn scan_window(buf: &[u8]) -> Scan {
    let mut from = 0;
    loop {
        let rest = buf.get(from..).unwrap_or_default();
        let Some(i) = rest
            .windows(FRAME_MAGIC.len())
            .position(|w| w == FRAME_MAGIC)
        else {
            // Keep a tail that may be the start of a magic.
            let tail = buf.len().saturating_sub(FRAME_MAGIC.len() - 1);
            return Scan::NeedMore(tail.max(from).min(buf.len()));
        };
        let at = from + i;
        let candidate = buf
            .get(at..at + FRAME_HEADER_LEN)
            .and_then(|s| <&[u8; FRAME_HEADER_LEN]>::try_from(s).ok());
        match candidate {
            None => return Scan::NeedMore(at),
            Some(hb) if FrameHeader::parse(hb).is_ok() => return Scan::Found(at),
            Some(_) => from = at + 1,
        }
    }
}

fn frame_len(h: &FrameHeader) -> u64 {
    FRAME_HEADER_LEN as u64 + u64::from(h.compressed_len)
}

/// Reads and checks the file header: returns it with the version and flags.
fn read_file_header<R: Read>(
    src: &mut Source<R>,
) -> Result<(CaptureHeader, Option<SegmentInfo>, u16, u16), FormatError> {
    let io = |error, offset| FormatError::Io { offset, error };
    let mut prefix = [0u8; FILE_HEADER_PREFIX_LEN];
    let n = src.fill(&mut prefix).map_err(|e| io(e, 0))?;
    let got = prefix.get(..n).unwrap_or_default();
    if n == 0 {
        return Err(FormatError::Empty);
    }
    let m = n.min(MAGIC.len());
    if got.get(..m) != MAGIC.get(..m) {
        return Err(FormatError::NotACapture {
            what: describe_foreign(got),
        });
    }
    if n < FILE_HEADER_PREFIX_LEN {
        return Err(FormatError::Truncated {
            offset: 0,
            what: format!(
                "the input ends {n} bytes into the {FILE_HEADER_PREFIX_LEN}-byte file header"
            ),
        });
    }
    let version = u16::from_le_bytes([prefix[8], prefix[9]]);
    let flags = u16::from_le_bytes([prefix[10], prefix[11]]);
    let body_len = u32::from_le_bytes([prefix[12], prefix[13], prefix[14], prefix[15]]);
    if version == 0 || version > FORMAT_VERSION {
        return Err(FormatError::UnsupportedVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    if body_len as usize > MAX_HEADER_BODY_BYTES {
        return Err(FormatError::BadHeader {
            offset: 12,
            what: format!(
                "header body length {body_len} exceeds the maximum of {MAX_HEADER_BODY_BYTES} bytes"
            ),
        });
    }
    let body_len = body_len as usize;
    let mut body = Vec::new();
    let got = src
        .read_up_to(&mut body, body_len)
        .map_err(|e| io(e, FILE_HEADER_PREFIX_LEN as u64))?;
    if got < body_len {
        return Err(FormatError::Truncated {
            offset: FILE_HEADER_PREFIX_LEN as u64,
            what: format!("the input ends {got} bytes into the {body_len}-byte header body"),
        });
    }
    let crc_at = (FILE_HEADER_PREFIX_LEN + body_len) as u64;
    let mut stored = [0u8; 4];
    let n = src.fill(&mut stored).map_err(|e| io(e, crc_at))?;
    if n < stored.len() {
        return Err(FormatError::Truncated {
            offset: crc_at,
            what: "the input ends inside the header checksum".to_string(),
        });
    }
    let stored = u32::from_le_bytes(stored);
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&prefix);
    hasher.update(&body);
    let computed = hasher.finalize();
    if stored != computed {
        return Err(FormatError::BadHeader {
            offset: crc_at,
            what: format!(
                "header checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
            ),
        });
    }
    // The segment (field 24) and the provenance extension follow the
    // header's fields (docs/FORMAT.md, "Segment", "Provenance").
    let (header, segment) =
        frame::decode_header_body(&body).map_err(|e| FormatError::BadHeader {
            offset: FILE_HEADER_PREFIX_LEN as u64,
            what: format!("header body does not decode: {e}"),
        })?;
    Ok((header, segment, version, flags))
}

/// One phrase on what a non-capture input looks like.
fn describe_foreign(start: &[u8]) -> String {
    const KNOWN: &[(&[u8], &str)] = &[
        (&[0x28, 0xb5, 0x2f, 0xfd], "zstd-compressed data"),
        (&[0x1f, 0x8b], "gzip-compressed data"),
        (b"\x7fELF", "an ELF binary"),
        (b"SCFR", "a capture frame without its file header"),
    ];
    for (magic, name) in KNOWN {
        if start.starts_with(magic) {
            return format!("it is {name}");
        }
    }
    let text = match std::str::from_utf8(start) {
        Ok(s) => Some(s),
        // A multi-byte character cut at the end of the sample.
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(start.get(..e.valid_up_to()).unwrap_or_default()).ok()
        }
        Err(_) => None,
    };
    match text {
        Some(s) if !s.is_empty() && s.chars().all(|c| !c.is_control() || c.is_whitespace()) => {
            format!("it looks like text (starts with \"{}\")", s.escape_debug())
        }
        _ => {
            let hex: Vec<String> = start.iter().map(|b| format!("{b:02x}")).collect();
            format!("it starts with bytes {}", hex.join(" "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::writer::{CaptureWriter, WriterOptions};
    use crate::format::MAX_FRAME_BYTES;
    use std::io;

    fn capture_prefix() -> Vec<u8> {
        let w = CaptureWriter::new(
            Vec::new(),
            &CaptureHeader::default(),
            WriterOptions::default(),
        )
        .unwrap();
        w.get_ref().clone()
    }

    fn header_bytes(h: FrameHeader) -> Vec<u8> {
        h.encode().to_vec()
    }

    fn lying(compressed_len: u32, uncompressed_len: u32, payload: &[u8]) -> FrameHeader {
        FrameHeader {
            frame_type: FRAME_TYPE_DATA,
            compression: COMPRESSION_ZSTD,
            compressed_len,
            uncompressed_len,
            record_count: 1,
            first_ts: 0,
            last_ts: 0,
            payload_crc: frame::crc32(payload),
        }
    }

    #[test]
    fn a_lying_maximal_length_on_short_input_allocates_little() {
        let mut bytes = capture_prefix();
        let payload = vec![0x5a; 100];
        bytes.extend(header_bytes(lying(MAX_FRAME_BYTES as u32, 10, &payload)));
        bytes.extend_from_slice(&payload);
        let mut r = CaptureReader::new(&bytes[..]).unwrap();
        let err = r.next_record().unwrap_err();
        assert!(matches!(err, FormatError::Truncated { .. }), "{err}");
        assert!(r.buffer_capacity() <= 128 << 10, "{}", r.buffer_capacity());
    }

    #[test]
    fn a_lying_uncompressed_length_is_caught_before_allocating() {
        let mut bytes = capture_prefix();
        let mut env = vec![1u8];
        env.extend_from_slice(&8u32.to_le_bytes());
        env.extend_from_slice(&7u64.to_le_bytes());
        let comp = zstd::bulk::compress(&env, 1).unwrap();
        let mut h = lying(comp.len() as u32, MAX_FRAME_BYTES as u32, &comp);
        (h.first_ts, h.last_ts) = (7, 7);
        bytes.extend(header_bytes(h));
        bytes.extend_from_slice(&comp);
        let mut r = CaptureReader::new(&bytes[..]).unwrap();
        let err = r.next_record().unwrap_err();
        assert!(
            err.to_string()
                .contains("decompresses to 13 bytes, the header says 16777216"),
            "{err}"
        );
        assert!(r.buffer_capacity() < 4096, "{}", r.buffer_capacity());
        assert!(matches!(r.next_record(), Ok(None)));
    }

    #[test]
    fn resynchronising_over_megabytes_of_garbage_buffers_little() {
        let mut bytes = capture_prefix();
        // Garbage full of fake magics.
        for i in 0..200_000u32 {
            bytes.extend_from_slice(b"SCFR");
            bytes.extend_from_slice(&i.to_le_bytes());
            bytes.extend_from_slice(&[0xff; 4]);
        }
        let mut w = CaptureWriter::new(
            Vec::new(),
            &CaptureHeader::default(),
            WriterOptions::default(),
        )
        .unwrap();
        let prefix_len = w.get_ref().len();
        w.push_kernel_record(&42u64.to_le_bytes()).unwrap();
        let tail = w.finish(&Trailer::default()).unwrap();
        bytes.extend_from_slice(&tail[prefix_len..]);

        let mut r = CaptureReader::new(&bytes[..]).unwrap();
        assert!(r.next_record().unwrap_err().is_recoverable());
        let mut peak = 0;
        let mut got = Vec::new();
        let mut skips = Vec::new();
        loop {
            peak = peak.max(r.buffer_capacity());
            match r.next_record() {
                Ok(Some(Record::Kernel(k))) => got.push(k.to_vec()),
                Ok(Some(other)) => panic!("unexpected {other:?}"),
                Ok(None) => break,
                // The region skipped is reported, once.
                Err(e @ FormatError::Skipped { .. }) => skips.push(e.to_string()),
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(skips.len(), 1, "{skips:?}");
        assert_eq!(got, vec![42u64.to_le_bytes().to_vec()]);
        assert!(peak >= SCAN_CHUNK, "the scan window is measured");
        assert!(peak <= 3 * SCAN_CHUNK, "peak {peak}");
        assert!(r.trailer().is_some());
        let skipped = &r.damage()[1];
        assert_eq!(skipped.kind, DamageKind::Skipped);
        assert_eq!(skipped.len, 200_000 * 12 - 1);
    }

    /// Fails with an I/O error after handing out `ok` bytes.
    struct Failing<'a> {
        data: &'a [u8],
        ok: usize,
    }

    impl Read for Failing<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.ok == 0 {
                return Err(io::Error::other("device gone"));
            }
            let n = buf.len().min(self.ok).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            self.ok -= n;
            Ok(n)
        }
    }

    #[test]
    fn io_errors_end_the_reading() {
        let mut w = CaptureWriter::new(
            Vec::new(),
            &CaptureHeader::default(),
            WriterOptions::default(),
        )
        .unwrap();
        let header_len = w.get_ref().len();
        w.push_kernel_record(&1u64.to_le_bytes()).unwrap();
        let bytes = w.finish(&Trailer::default()).unwrap();
        let mut r = CaptureReader::new(Failing {
            data: &bytes,
            ok: header_len + 10,
        })
        .unwrap();
        let err = r.next_record().unwrap_err();
        assert!(!err.is_recoverable());
        assert_eq!(
            err.to_string(),
            format!("I/O error at byte {}: device gone", header_len + 10)
        );
        assert!(matches!(r.next_record(), Ok(None)));
        let err = CaptureReader::new(Failing {
            data: &bytes,
            ok: 0,
        })
        .err()
        .unwrap();
        assert_eq!(err.to_string(), "I/O error at byte 0: device gone");
    }
}
