//! Errors and damage reports of the capture format: [`FormatError`], returned
//! by the writer and the reader, and [`Damage`], the reader's log of every
//! region of a capture it skipped or found cut short.

use std::fmt;
use std::io;

/// Everything that can go wrong writing or reading a capture.
///
/// Every variant displays as one line; the reader's variants name the byte
/// offset in the input where the problem starts.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The input has no bytes at all.
    #[error("empty input: not a snoopcap capture")]
    Empty,

    /// The input does not start with the capture magic.
    #[error("not a snoopcap capture: {what}")]
    NotACapture {
        /// What the input looks like instead.
        what: String,
    },

    /// The file was written in a format version this reader does not know.
    #[error(
        "capture format version {found} is not supported: this snoopcap reads versions 1 to {supported}{}",
        if *found > *supported { "; a newer snoopcap is needed" } else { "" }
    )]
    UnsupportedVersion {
        /// The version in the file.
        found: u16,
        /// The newest version this reader understands.
        supported: u16,
    },

    /// The file header is damaged (bad checksum, bad length, undecodable).
    #[error("bad capture header at byte {offset}: {what}")]
    BadHeader {
        /// Offset of the damaged part of the header.
        offset: u64,
        /// What is wrong.
        what: String,
    },

    /// The input ends in the middle of the header or of a frame.
    #[error("capture truncated at byte {offset}: {what}")]
    Truncated {
        /// Offset of the header or frame that is cut short.
        offset: u64,
        /// What was being read when the input ended.
        what: String,
    },

    /// A frame is damaged. The reader skips it and resynchronises on the
    /// next call.
    #[error("corrupt frame at byte {offset}: {what}")]
    Corrupt {
        /// Offset of the damaged frame.
        offset: u64,
        /// What is wrong.
        what: String,
    },

    /// Bytes the reader skipped while looking for the next valid frame
    /// header after an invalid one: reported so that no region of a capture
    /// is passed over without a word. `next` is where reading goes on, `None`
    /// when no valid header followed (the capture ends there).
    #[error(
        "skipped {len} bytes from byte {offset} {}",
        match next {
            Some(at) => format!("to the next valid frame header at byte {at}"),
            None => "to the end of the input: no further valid frame header".to_string(),
        }
    )]
    Skipped {
        /// Offset of the first byte skipped.
        offset: u64,
        /// Bytes skipped.
        len: u64,
        /// Offset of the frame header reading goes on with.
        next: Option<u64>,
    },

    /// Bytes follow the trailer frame, which must be the last thing in a
    /// capture.
    #[error("unexpected data after the trailer, at byte {offset}")]
    TrailingData {
        /// Offset of the first byte after the trailer frame.
        offset: u64,
    },

    /// Reading or writing the underlying stream failed.
    #[error("I/O error at byte {offset}: {error}")]
    Io {
        /// Offset in the stream at which the operation failed.
        offset: u64,
        /// The underlying error.
        error: io::Error,
    },

    /// The writer was handed a kernel record too short to hold its
    /// timestamp.
    #[error(
        "kernel record of {len} bytes is too short: it must hold at least its 8-byte timestamp"
    )]
    RecordTooShort {
        /// Length of the rejected record.
        len: usize,
    },

    /// The writer was handed a record larger than a frame may carry.
    #[error("record of {len} bytes exceeds the maximum of {max} bytes")]
    RecordTooLarge {
        /// Encoded length of the rejected record.
        len: usize,
        /// The limit ([`crate::format::MAX_RECORD_BYTES`] or the header body limit).
        max: usize,
    },

    /// A value could not be encoded (for instance it exceeds its size limit).
    #[error("cannot encode the {what}: {reason}")]
    Encode {
        /// Which structure.
        what: &'static str,
        /// Why.
        reason: String,
    },

    /// The writer options are out of range.
    #[error("invalid capture writer options: {0}")]
    InvalidOptions(String),

    /// An earlier write failed; the writer refuses to write more because
    /// the output may end in a partial frame.
    #[error("the capture writer stopped after an earlier error")]
    WriterFailed,
}

impl FormatError {
    /// True when the reader can go on after this error: calling
    /// [`crate::format::CaptureReader::next_record`] again continues with
    /// the next intact data (after a corrupt frame) instead of ending.
    /// Every other error ends the reading; later calls return `Ok(None)`.
    pub fn is_recoverable(&self) -> bool {
        matches!(
            self,
            FormatError::Corrupt { .. } | FormatError::Skipped { .. }
        )
    }

    /// The byte offset the error refers to, when it has one.
    pub fn offset(&self) -> Option<u64> {
        match self {
            FormatError::BadHeader { offset, .. }
            | FormatError::Truncated { offset, .. }
            | FormatError::Corrupt { offset, .. }
            | FormatError::Skipped { offset, .. }
            | FormatError::TrailingData { offset }
            | FormatError::Io { offset, .. } => Some(*offset),
            _ => None,
        }
    }
}

/// What kind of damage a [`Damage`] entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DamageKind {
    /// A frame failed a check and was dropped (its records are not returned).
    CorruptFrame,
    /// Bytes skipped while looking for the next valid frame header.
    Skipped,
    /// The input ended inside the header or a frame.
    Truncated,
    /// A valid frame of a type this reader does not know, skipped by length.
    UnknownFrameType,
    /// Data after the trailer.
    TrailingData,
    /// The trailer's frame or byte count disagrees with the file, although
    /// every frame checked out: whole frames were removed or duplicated.
    TrailerMismatch,
}

impl fmt::Display for DamageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DamageKind::CorruptFrame => "corrupt frame",
            DamageKind::Skipped => "skipped bytes",
            DamageKind::Truncated => "truncated",
            DamageKind::UnknownFrameType => "unknown frame type",
            DamageKind::TrailingData => "data after trailer",
            DamageKind::TrailerMismatch => "trailer mismatch",
        })
    }
}

/// One region of a capture the reader skipped or found cut short.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// Byte offset in the input where the region starts.
    pub offset: u64,
    /// Length of the region in bytes, when known (0 otherwise).
    pub len: u64,
    /// What happened.
    pub kind: DamageKind,
    /// One line of detail.
    pub what: String,
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "byte {}", self.offset)?;
        if self.len > 0 {
            write!(f, " (+{} bytes)", self.len)?;
        }
        write!(f, ": {}: {}", self.kind, self.what)
    }
}
