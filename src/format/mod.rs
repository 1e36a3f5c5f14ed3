//! The capture file format: header, frames, records, trailer; writer and
//! reader. This module owns everything about the bytes of a capture file;
//! the spec is docs/FORMAT.md and is a public contract.
//!
//! A capture is a file header (magic, version, a bincode-encoded
//! [`CaptureHeader`], CRC-32) followed by frames: each a 48-byte header and a
//! zstd payload of envelopes (raw kernel records, clock anchors, loss
//! counters, cgroup paths, processes, context records, container metadata,
//! redaction counts). A trailer frame ends a cleanly stopped capture.
//!
//! Write with [`CaptureWriter`], read with [`CaptureReader`]. The raw kernel
//! records are opaque here except for their leading 8-byte timestamp; see
//! `crate::decode` for their layouts.

mod codec;
mod error;
pub mod frame;
mod reader;
mod source;
mod types;
mod writer;

pub use error::{Damage, DamageKind, FormatError};
pub use frame::{
    kernel_record_timestamp, FrameHeader, FrameHeaderError, FORMAT_VERSION, FRAME_HEADER_LEN,
    MAX_FRAME_BYTES, MAX_HEADER_BODY_BYTES, MAX_RECORD_BYTES,
};
pub use reader::{CaptureReader, ReaderStats, Record};
pub use types::{
    CaptureHeader, CgroupPath, ClockAnchor, ContainerInfo, KindCount, LossCounters, ProcessInfo,
    Provenance, RedactionCount, RedactionStep, RewriteStep, SegmentInfo, Trailer,
};
pub use writer::{CaptureWriter, SyncSink, WriterOptions};
