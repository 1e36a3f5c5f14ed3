//! The fixed binary layouts of a capture: the file header, the 48-byte frame
//! header, and the envelopes inside a frame's uncompressed payload, with the
//! format's constants and limits (docs/FORMAT.md).

use std::ops::Range;

use super::codec;
use super::error::FormatError;
use super::types::{
    CaptureHeader, CgroupPath, ClockAnchor, ContainerInfo, LossCounters, ProcessInfo, Provenance,
    RedactionCount, SegmentInfo,
};

/// First 8 bytes of every capture.
pub const MAGIC: [u8; 8] = *b"SNOOPCAP";
/// Format version this crate writes, and the newest it reads.
pub const FORMAT_VERSION: u16 = 1;
/// Fixed part of the file header before the body: magic, version, flags,
/// body length.
pub const FILE_HEADER_PREFIX_LEN: usize = 16;
/// Largest header body accepted (1 MiB).
pub const MAX_HEADER_BODY_BYTES: usize = 1 << 20;

/// First 4 bytes of every frame.
pub const FRAME_MAGIC: [u8; 4] = *b"SCFR";
/// Size of a frame header.
pub const FRAME_HEADER_LEN: usize = 48;
/// Largest compressed or uncompressed frame payload accepted (16 MiB).
pub const MAX_FRAME_BYTES: usize = 16 << 20;
/// Largest single envelope body the writer accepts (8 MiB): an envelope
/// alone in a frame then still compresses to less than [`MAX_FRAME_BYTES`].
pub const MAX_RECORD_BYTES: usize = 8 << 20;

/// Frame type of a data frame.
pub const FRAME_TYPE_DATA: u8 = 1;
/// Frame type of the trailer frame.
pub const FRAME_TYPE_TRAILER: u8 = 2;
/// Compression method zstd (the only one of version 1).
pub const COMPRESSION_ZSTD: u8 = 1;

/// Envelope header: kind (u8) and body length (u32).
pub const ENVELOPE_HEADER_LEN: usize = 5;
/// Envelope kind: a raw kernel record.
pub const KIND_KERNEL_RECORD: u8 = 1;
/// Envelope kind: a [`ClockAnchor`].
pub const KIND_CLOCK_ANCHOR: u8 = 2;
/// Envelope kind: [`LossCounters`].
pub const KIND_LOSS_COUNTERS: u8 = 3;
/// Envelope kind: a [`CgroupPath`].
pub const KIND_CGROUP_PATH: u8 = 4;
/// Envelope kind: a [`ProcessInfo`], one process of the snapshot of the
/// process table `record` takes when it starts.
pub const KIND_PROCESS: u8 = 5;
/// Envelope kind: a raw kernel record kept for context only (process
/// lineage), not an event: a rewrite keeps the fork and exit records that
/// give its events' processes their identities.
pub const KIND_CONTEXT_RECORD: u8 = 6;
/// Envelope kind: a [`ContainerInfo`].
pub const KIND_CONTAINER: u8 = 7;
/// Envelope kind: a [`RedactionCount`].
pub const KIND_REDACTION_COUNT: u8 = 8;

/// Bytes 0..8 of a kernel record: its boot-clock timestamp.
pub const KERNEL_TIMESTAMP_LEN: usize = 8;

/// The timestamp of a raw kernel record (its first 8 bytes, little-endian
/// boot-clock ns), or `None` when the record is shorter than that.
pub fn kernel_record_timestamp(raw: &[u8]) -> Option<u64> {
    let bytes = raw.get(..KERNEL_TIMESTAMP_LEN)?;
    Some(u64::from_le_bytes(bytes.try_into().ok()?))
}

/// CRC-32 (ISO-HDLC, as zlib and PNG) of `bytes`.
pub fn crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

/// Encodes the complete file header: prefix, body, checksum. The body is the
/// [`CaptureHeader`]'s fields 1 to 23; then field 24, the segment
/// (`Some(segment)` for a file of a set, `None` when only the provenance
/// follows); then, when not empty, the header's [`Provenance`] extension.
/// A header with neither ends after field 23, as older writers wrote it;
/// older readers ignore what follows field 23 (or field 24).
pub(crate) fn encode_file_header(
    header: &CaptureHeader,
    segment: Option<&SegmentInfo>,
) -> Result<Vec<u8>, FormatError> {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&[0; 4]); // body length, patched below
    let too_big = |e: codec::CodecError| FormatError::Encode {
        what: "capture header",
        reason: format!("{e} (the limit is {MAX_HEADER_BODY_BYTES} bytes)"),
    };
    let room = |out: &Vec<u8>| {
        (MAX_HEADER_BODY_BYTES + FILE_HEADER_PREFIX_LEN).saturating_sub(out.len()) as u64
    };
    codec::encode_into(header, &mut out, MAX_HEADER_BODY_BYTES as u64).map_err(too_big)?;
    let provenance = (!header.provenance.is_empty()).then_some(&header.provenance);
    if segment.is_some() || provenance.is_some() {
        // Field 24, written whenever something follows it (`None`: one 0 byte).
        let limit = room(&out);
        codec::encode_into(&segment, &mut out, limit).map_err(too_big)?;
    }
    if let Some(provenance) = provenance {
        // The extension follows the header's fields (see CaptureHeader::provenance).
        let limit = room(&out);
        codec::encode_into(provenance, &mut out, limit).map_err(too_big)?;
    }
    let body_len = out.len() - FILE_HEADER_PREFIX_LEN;
    let body_len = u32::try_from(body_len).map_err(|_| FormatError::RecordTooLarge {
        len: body_len,
        max: MAX_HEADER_BODY_BYTES,
    })?;
    out[12..16].copy_from_slice(&body_len.to_le_bytes());
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    Ok(out)
}

/// Splits a header body into the [`CaptureHeader`] (its provenance
/// restored from the extension after field 24, default when there is none)
/// and the segment that may follow it (`None` when the body ends after
/// field 23, as in files that are not part of a set and in files of older
/// writers). Bytes after the provenance are ignored (a newer version's).
pub(crate) fn decode_header_body(
    body: &[u8],
) -> Result<(CaptureHeader, Option<SegmentInfo>), String> {
    let (mut header, rest) =
        codec::decode_prefix::<CaptureHeader>(body).map_err(|e| e.to_string())?;
    if rest.is_empty() {
        return Ok((header, None));
    }
    let (segment, rest) = codec::decode_prefix::<Option<SegmentInfo>>(rest)
        .map_err(|e| format!("the segment after the header: {e}"))?;
    if !rest.is_empty() {
        header.provenance = codec::decode::<Provenance>(rest)
            .map_err(|e| format!("the header's provenance: {e}"))?;
    }
    Ok((header, segment))
}

/// A decoded frame header. `encode` fills in the magic, zero reserved
/// fields and the header checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// [`FRAME_TYPE_DATA`], [`FRAME_TYPE_TRAILER`] or a type from a newer
    /// version.
    pub frame_type: u8,
    /// [`COMPRESSION_ZSTD`].
    pub compression: u8,
    /// Payload bytes following the header (C).
    pub compressed_len: u32,
    /// Payload bytes after decompression (U).
    pub uncompressed_len: u32,
    /// Envelopes in the payload.
    pub record_count: u32,
    /// Timestamp of the first kernel record, 0 if none.
    pub first_ts: u64,
    /// Timestamp of the last kernel record, 0 if none.
    pub last_ts: u64,
    /// CRC-32 of the compressed payload.
    pub payload_crc: u32,
}

/// Why 48 bytes are not a valid frame header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameHeaderError {
    /// Bytes 0..4 are not `SCFR`.
    #[error("no frame magic (found {found:02x?} instead of \"SCFR\")")]
    BadMagic {
        /// The bytes found.
        found: [u8; 4],
    },
    /// The header checksum does not match.
    #[error("frame header checksum mismatch (stored {stored:#010x}, computed {computed:#010x})")]
    Checksum {
        /// CRC stored at bytes 44..48.
        stored: u32,
        /// CRC of bytes 0..44.
        computed: u32,
    },
    /// A payload length is over [`MAX_FRAME_BYTES`].
    #[error("{which} payload length {len} exceeds the maximum of {MAX_FRAME_BYTES} bytes")]
    TooLarge {
        /// `"compressed"` or `"uncompressed"`.
        which: &'static str,
        /// The length in the header.
        len: u32,
    },
}

fn le_u32(bytes: &[u8; FRAME_HEADER_LEN], at: usize) -> u32 {
    let mut b = [0u8; 4];
    if let Some(src) = bytes.get(at..at + 4) {
        b.copy_from_slice(src);
    }
    u32::from_le_bytes(b)
}

fn le_u64(bytes: &[u8; FRAME_HEADER_LEN], at: usize) -> u64 {
    let mut b = [0u8; 8];
    if let Some(src) = bytes.get(at..at + 8) {
        b.copy_from_slice(src);
    }
    u64::from_le_bytes(b)
}

impl FrameHeader {
    /// The 48 header bytes, checksum included.
    pub fn encode(&self) -> [u8; FRAME_HEADER_LEN] {
        let mut b = [0u8; FRAME_HEADER_LEN];
        b[0..4].copy_from_slice(&FRAME_MAGIC);
        b[4] = self.frame_type;
        b[5] = self.compression;
        // 6..8 reserved
        b[8..12].copy_from_slice(&self.compressed_len.to_le_bytes());
        b[12..16].copy_from_slice(&self.uncompressed_len.to_le_bytes());
        b[16..20].copy_from_slice(&self.record_count.to_le_bytes());
        // 20..24 reserved
        b[24..32].copy_from_slice(&self.first_ts.to_le_bytes());
        b[32..40].copy_from_slice(&self.last_ts.to_le_bytes());
        b[40..44].copy_from_slice(&self.payload_crc.to_le_bytes());
        let crc = crc32(&b[..44]);
        b[44..48].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Checks magic, header checksum and payload limits, in that order.
    /// Reserved fields are not checked (they are covered by the checksum).
    pub fn parse(b: &[u8; FRAME_HEADER_LEN]) -> Result<FrameHeader, FrameHeaderError> {
        let mut found = [0u8; 4];
        found.copy_from_slice(&b[0..4]);
        if found != FRAME_MAGIC {
            return Err(FrameHeaderError::BadMagic { found });
        }
        let stored = le_u32(b, 44);
        let computed = crc32(&b[..44]);
        if stored != computed {
            return Err(FrameHeaderError::Checksum { stored, computed });
        }
        let h = FrameHeader {
            frame_type: b[4],
            compression: b[5],
            compressed_len: le_u32(b, 8),
            uncompressed_len: le_u32(b, 12),
            record_count: le_u32(b, 16),
            first_ts: le_u64(b, 24),
            last_ts: le_u64(b, 32),
            payload_crc: le_u32(b, 40),
        };
        for (which, len) in [
            ("compressed", h.compressed_len),
            ("uncompressed", h.uncompressed_len),
        ] {
            if len as usize > MAX_FRAME_BYTES {
                return Err(FrameHeaderError::TooLarge { which, len });
            }
        }
        Ok(h)
    }
}

/// Where the envelope starting at `pos` is: its kind and the range of its
/// body. `None` when the payload ends before the envelope does.
pub(crate) fn envelope_at(payload: &[u8], pos: usize) -> Option<(u8, Range<usize>)> {
    let head = payload.get(pos..pos.checked_add(ENVELOPE_HEADER_LEN)?)?;
    let kind = *head.first()?;
    let len = u32::from_le_bytes(head.get(1..5)?.try_into().ok()?) as usize;
    let start = pos + ENVELOPE_HEADER_LEN;
    let end = start.checked_add(len)?;
    if end > payload.len() {
        return None;
    }
    Some((kind, start..end))
}

/// What [`check_payload`] found in a valid payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct PayloadSummary {
    /// Envelopes of any kind.
    pub envelopes: u32,
    /// Kernel records.
    pub kernel_records: u32,
    /// Envelopes of kinds this version does not know.
    pub unknown: u32,
    /// Timestamp of the first kernel record, 0 if none.
    pub first_ts: u64,
    /// Timestamp of the last kernel record, 0 if none.
    pub last_ts: u64,
}

/// Walks a data frame's uncompressed payload and checks every envelope:
/// none overruns the payload, kernel records hold their timestamp, and the
/// known metadata kinds decode.
pub(crate) fn check_payload(payload: &[u8]) -> Result<PayloadSummary, String> {
    let mut s = PayloadSummary::default();
    let mut pos = 0;
    while pos < payload.len() {
        let index = s.envelopes;
        let (kind, body) = envelope_at(payload, pos).ok_or_else(|| {
            format!(
                "envelope {index} at payload byte {pos} overruns the {}-byte payload",
                payload.len()
            )
        })?;
        pos = body.end;
        let body = payload.get(body).unwrap_or_default();
        match kind {
            KIND_KERNEL_RECORD => {
                let ts = kernel_record_timestamp(body).ok_or_else(|| {
                    format!(
                        "kernel record {index} is {} bytes, shorter than its timestamp",
                        body.len()
                    )
                })?;
                if s.kernel_records == 0 {
                    s.first_ts = ts;
                }
                s.last_ts = ts;
                s.kernel_records += 1;
            }
            KIND_CLOCK_ANCHOR => check_decodes::<ClockAnchor>(body, index, "clock anchor")?,
            KIND_LOSS_COUNTERS => check_decodes::<LossCounters>(body, index, "loss counters")?,
            KIND_CGROUP_PATH => check_decodes::<CgroupPath>(body, index, "cgroup path")?,
            KIND_PROCESS => check_decodes::<ProcessInfo>(body, index, "process")?,
            KIND_CONTEXT_RECORD if kernel_record_timestamp(body).is_none() => {
                return Err(format!(
                    "context record {index} is {} bytes, shorter than its timestamp",
                    body.len()
                ));
            }
            KIND_CONTEXT_RECORD => {}
            KIND_CONTAINER => check_decodes::<ContainerInfo>(body, index, "container")?,
            KIND_REDACTION_COUNT => {
                check_decodes::<RedactionCount>(body, index, "redaction count")?
            }
            _ => s.unknown += 1,
        }
        s.envelopes += 1;
    }
    Ok(s)
}

fn check_decodes<T: serde::de::DeserializeOwned>(
    body: &[u8],
    index: u32,
    what: &str,
) -> Result<(), String> {
    codec::decode::<T>(body)
        .map(drop)
        .map_err(|e| format!("{what} envelope {index} does not decode: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> FrameHeader {
        FrameHeader {
            frame_type: FRAME_TYPE_DATA,
            compression: COMPRESSION_ZSTD,
            compressed_len: 100,
            uncompressed_len: 200,
            record_count: 3,
            first_ts: 11,
            last_ts: 22,
            payload_crc: 0xdead_beef,
        }
    }

    #[test]
    fn frame_header_round_trips_and_layout_is_fixed() {
        let b = sample().encode();
        assert_eq!(&b[0..4], b"SCFR");
        assert_eq!(b[4], 1);
        assert_eq!(b[5], 1);
        assert_eq!(&b[6..8], &[0, 0]);
        assert_eq!(&b[8..12], &100u32.to_le_bytes());
        assert_eq!(&b[12..16], &200u32.to_le_bytes());
        assert_eq!(&b[16..20], &3u32.to_le_bytes());
        assert_eq!(&b[20..24], &[0; 4]);
        assert_eq!(&b[24..32], &11u64.to_le_bytes());
        assert_eq!(&b[32..40], &22u64.to_le_bytes());
        assert_eq!(&b[40..44], &0xdead_beefu32.to_le_bytes());
        assert_eq!(&b[44..48], &crc32(&b[..44]).to_le_bytes());
        assert_eq!(FrameHeader::parse(&b), Ok(sample()));
    }

    #[test]
    fn frame_header_rejects_bad_magic_checksum_and_lengths() {
        let mut b = sample().encode();
        b[0] = b'X';
        assert!(matches!(
            FrameHeader::parse(&b),
            Err(FrameHeaderError::BadMagic { .. })
        ));
        let mut b = sample().encode();
        b[30] ^= 1;
        assert!(matches!(
            FrameHeader::parse(&b),
            Err(FrameHeaderError::Checksum { .. })
        ));
        let mut h = sample();
        h.compressed_len = u32::MAX;
        assert_eq!(
            FrameHeader::parse(&h.encode()),
            Err(FrameHeaderError::TooLarge {
                which: "compressed",
                len: u32::MAX
            })
        );
        let mut h = sample();
        h.uncompressed_len = MAX_FRAME_BYTES as u32 + 1;
        assert!(matches!(
            FrameHeader::parse(&h.encode()),
            Err(FrameHeaderError::TooLarge {
                which: "uncompressed",
                ..
            })
        ));
        let mut h = sample();
        h.uncompressed_len = MAX_FRAME_BYTES as u32;
        assert!(FrameHeader::parse(&h.encode()).is_ok());
    }

    #[test]
    fn frame_header_matches_the_documented_example() {
        // docs/FORMAT.md, "Worked example".
        let h = FrameHeader {
            frame_type: FRAME_TYPE_DATA,
            compression: COMPRESSION_ZSTD,
            compressed_len: 0x1234,
            uncompressed_len: 0x2000,
            record_count: 17,
            first_ts: 1_000_000_000,
            last_ts: 2_000_000_000,
            payload_crc: 0x0bad_cafe,
        };
        let expected: [u8; FRAME_HEADER_LEN] = [
            0x53, 0x43, 0x46, 0x52, 0x01, 0x01, 0x00, 0x00, 0x34, 0x12, 0x00, 0x00, 0x00, 0x20,
            0x00, 0x00, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xca, 0x9a, 0x3b,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x94, 0x35, 0x77, 0x00, 0x00, 0x00, 0x00, 0xfe, 0xca,
            0xad, 0x0b, 0xd0, 0xf1, 0x71, 0xef,
        ];
        assert_eq!(h.encode(), expected);
    }

    #[test]
    fn the_segment_follows_the_header_and_older_readers_skip_it() {
        let header = CaptureHeader {
            hostname: "h".into(),
            ..CaptureHeader::default()
        };
        let segment = SegmentInfo {
            set_id: "id".into(),
            sequence: 7,
            kind: SegmentInfo::DUMP.into(),
            trigger: "SIGUSR1".into(),
            trigger_wall_ns: -1,
            after_ns: 30,
        };
        let plain = encode_file_header(&header, None).unwrap();
        let with = encode_file_header(&header, Some(&segment)).unwrap();
        let body = |b: &[u8]| b[FILE_HEADER_PREFIX_LEN..b.len() - 4].to_vec();
        assert_eq!(
            decode_header_body(&body(&plain)).unwrap(),
            (header.clone(), None)
        );
        assert_eq!(
            decode_header_body(&body(&with)).unwrap(),
            (header.clone(), Some(segment))
        );
        // A reader that knows only the header's 23 fields.
        assert_eq!(
            codec::decode::<CaptureHeader>(&body(&with)).unwrap(),
            header
        );
        // Option tag 1, then the segment's fields.
        assert_eq!(body(&with)[body(&plain).len()], 1);
        let mut bad = body(&with);
        bad.truncate(bad.len() - 1);
        assert!(decode_header_body(&bad).is_err());
    }

    #[test]
    fn checksum_is_crc32_iso_hdlc() {
        // The standard check value of CRC-32/ISO-HDLC.
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn payload_check_finds_overruns_and_short_records() {
        let mut p = vec![KIND_KERNEL_RECORD];
        p.extend_from_slice(&8u32.to_le_bytes());
        p.extend_from_slice(&5u64.to_le_bytes());
        p.push(99); // unknown kind
        p.extend_from_slice(&1u32.to_le_bytes());
        p.push(0);
        let s = check_payload(&p).unwrap();
        assert_eq!(
            s,
            PayloadSummary {
                envelopes: 2,
                kernel_records: 1,
                unknown: 1,
                first_ts: 5,
                last_ts: 5
            }
        );
        // Overrun: the last envelope claims one byte more than there is.
        let mut bad = p.clone();
        bad[14] = 2;
        assert!(check_payload(&bad).unwrap_err().contains("overruns"));
        // Partial envelope header.
        assert!(check_payload(&p[..p.len() - 3]).is_err());
        // Kernel record shorter than its timestamp.
        let mut short = vec![KIND_KERNEL_RECORD];
        short.extend_from_slice(&4u32.to_le_bytes());
        short.extend_from_slice(&[1, 2, 3, 4]);
        assert!(check_payload(&short).unwrap_err().contains("shorter"));
        // A metadata envelope that does not decode.
        let mut meta = vec![KIND_CLOCK_ANCHOR];
        meta.extend_from_slice(&3u32.to_le_bytes());
        meta.extend_from_slice(&[1, 2, 3]);
        assert!(check_payload(&meta).unwrap_err().contains("clock anchor"));
    }

    #[test]
    fn timestamp_needs_eight_bytes() {
        assert_eq!(kernel_record_timestamp(&[1, 0, 0, 0, 0, 0, 0]), None);
        assert_eq!(
            kernel_record_timestamp(&[1, 0, 0, 0, 0, 0, 0, 1, 9]),
            Some(1 | (1 << 56))
        );
    }
}

#[cfg(test)]
mod provenance_tests {
    use super::*;
    use crate::format::types::{Provenance, RedactionStep, RewriteStep};

    fn header(provenance: Provenance) -> CaptureHeader {
        CaptureHeader {
            tool: "snoopcap record".into(),
            hostname: "h".into(),
            command_line: vec!["record".into()],
            provenance,
            ..CaptureHeader::default()
        }
    }

    fn body(file_header: &[u8]) -> &[u8] {
        let n = u32::from_le_bytes(file_header[12..16].try_into().unwrap()) as usize;
        &file_header[FILE_HEADER_PREFIX_LEN..FILE_HEADER_PREFIX_LEN + n]
    }

    #[test]
    fn a_header_without_provenance_is_what_older_writers_wrote() {
        let plain = header(Provenance::default());
        let encoded = encode_file_header(&plain, None).unwrap();
        let mut old = Vec::new();
        codec::encode_into(&plain, &mut old, 1 << 20).unwrap();
        assert_eq!(body(&encoded), old.as_slice());
    }

    #[test]
    fn older_readers_decode_a_header_with_provenance_and_skip_it() {
        let provenance = Provenance {
            rewrites: vec![RewriteStep {
                wall_ns: 5,
                tool: "snoopcap replay 0.1.0".into(),
                source: "in.snoop".into(),
                filters: vec!["pid=42".into()],
                events_kept: 3,
                ..RewriteStep::default()
            }],
            redactions: vec![RedactionStep {
                stage: "rewrite".into(),
                rules: vec!["user: x".into()],
                marker: "[REDACTED]".into(),
                wall_ns: 5,
            }],
        };
        let with = header(provenance.clone());
        let encoded = encode_file_header(&with, None).unwrap();
        // What an older reader does: decode its CaptureHeader, ignore the rest.
        let old: CaptureHeader = codec::decode(body(&encoded)).unwrap();
        assert_eq!(old, header(Provenance::default()));
        // A reader that knows the segment (field 24) but not the provenance.
        let (_, rest): (CaptureHeader, &[u8]) = codec::decode_prefix(body(&encoded)).unwrap();
        assert_eq!(
            rest[0], 0,
            "field 24 is written, None, before the provenance"
        );
        assert_eq!(codec::decode::<Option<SegmentInfo>>(rest).unwrap(), None);
        // This reader finds the extension after field 24.
        assert_eq!(codec::decode::<Provenance>(&rest[1..]).unwrap(), provenance);
        let mut reader = crate::format::CaptureReader::new(&encoded[..]).unwrap();
        assert_eq!(reader.header(), &with);
        assert_eq!(reader.segment(), None);
        assert!(reader.next_record().unwrap().is_none());
    }

    #[test]
    fn segment_and_provenance_together() {
        let provenance = Provenance {
            rewrites: Vec::new(),
            redactions: vec![RedactionStep {
                stage: "record".into(),
                rules: vec!["user: x".into()],
                marker: "[REDACTED]".into(),
                wall_ns: 9,
            }],
        };
        let segment = SegmentInfo {
            set_id: "set".into(),
            sequence: 2,
            kind: SegmentInfo::ROTATION.into(),
            ..SegmentInfo::default()
        };
        let with = header(provenance.clone());
        let encoded = encode_file_header(&with, Some(&segment)).unwrap();
        let b = body(&encoded);
        // Readers of every version: the 23 fields; 24 fields; everything.
        assert_eq!(
            codec::decode::<CaptureHeader>(b).unwrap(),
            header(Provenance::default())
        );
        let (_, rest): (CaptureHeader, &[u8]) = codec::decode_prefix(b).unwrap();
        assert_eq!(
            codec::decode::<Option<SegmentInfo>>(rest).unwrap(),
            Some(segment.clone())
        );
        assert_eq!(
            decode_header_body(b).unwrap(),
            (with.clone(), Some(segment.clone()))
        );
        // A segment without provenance ends the body, as issue-15 writers wrote it.
        let plain = encode_file_header(&header(Provenance::default()), Some(&segment)).unwrap();
        assert_eq!(body(&plain), &b[..body(&plain).len()]);
        // Bytes a newer version appends after the provenance are ignored.
        let mut longer = b.to_vec();
        longer.extend_from_slice(&[1, 2, 3]);
        assert_eq!(decode_header_body(&longer).unwrap(), (with, Some(segment)));
        // A provenance cut short is an error.
        assert!(decode_header_body(&b[..b.len() - 1]).is_err());
    }
}
