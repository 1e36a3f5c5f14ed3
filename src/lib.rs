//! snoopcap: record exec and mount-family syscalls with eBPF into capture
//! files, and replay them later as bcc's execsnoop/mountsnoop tables, CSV or
//! JSON. The binaries in `src/bin/` are thin; the logic lives here.
//!
//! Data flow: `bpf` (raw record layouts) and `record` (kernel programs,
//! recorder loop; the `record` feature) → `format` (capture files) →
//! `replay` (decode, pairing, filters: one [`replay::stream::EventStream`])
//! → `render`. Everything but `record` builds without libbpf or clang, on
//! any platform.

pub mod bpf;
pub mod container;
pub mod event;
pub mod format;
#[cfg(feature = "record")]
pub mod record;
pub mod redact;
pub mod render;
pub mod replay;
