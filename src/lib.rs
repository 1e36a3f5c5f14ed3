//! snoopcap: record exec and mount-family syscalls with eBPF into capture
//! files, and replay them later as bcc's execsnoop/mountsnoop tables, CSV or
//! JSON. The binaries in `src/bin/` are thin; the logic lives here.
//!
//! Data flow: `bpf` (kernel programs, raw records) → `recorder` → `format`
//! (capture files) → `decode` (raw records to typed records) → `reassemble`
//! (entry/exit pairing into `event::Event`) → `filter` → `render`.

pub mod bpf;
pub mod cgroup;
pub mod decode;
pub mod event;
pub mod filter;
pub mod format;
pub mod hostinfo;
pub mod reassemble;
pub mod recorder;
pub mod render;
pub mod replay;
