//! Decoding of raw kernel records (layout versions of src/bpf/snoopcap.h) into typed records.
//!
//! The BPF programs write entry records (`struct sc_enter` followed by string
//! items) and exit records (`struct sc_exit`); `record` stores them verbatim
//! and the capture says which layout version wrote them. [`decode`] turns one
//! record's bytes into a [`RawRecord`]: an [`EnterRecord`] whose pointer
//! arguments are already decoded into the event model's [`Args`], or an
//! [`ExitRecord`]. Pairing entries with exits is `reassemble`'s job.
//!
//! Every record is validated (sizes, item bounds, item flags, string count and
//! order per syscall, reserved fields); anything inconsistent is a typed
//! [`DecodeError`], never a panic.
//!
//! Layout versions: each set of structs has its own decode path (module `v1`,
//! ...). Versions 1 and 2 share the structs; version 2 only adds the entry
//! flag `SC_ENTER_DEFERRED` (an exec entry whose strings all come in its
//! refetch record), which `v1` accepts only for version 2. `v1` reads the
//! structs build.rs generates from the header (`crate::bpf::raw`; no clang or
//! libbpf involved), with compile-time checks that
//! they still have version 1's sizes and offsets. When a struct changes, those
//! checks fail to compile: freeze version 1's structs in `v1` then (checked
//! against the same numbers), add a path over the generated types, and add it
//! to [`decode`]'s match. Versions 1 and 2 stay decodable forever.

use std::sync::Arc;

use thiserror::Error;

use crate::bpf::layout;
use crate::bpf::raw::{sc_enter, sc_exit, sc_fork, sc_proc_exit, sc_record_header, sc_str};
pub use crate::event::Comm;
use crate::event::{Args, Captured, CapturedBytes, FrameShares, Syscall};

const _: () =
    assert!(std::mem::size_of::<sc_record_header>() == layout::SC_RECORD_HEADER_SIZE as usize);
const _: () = assert!(std::mem::size_of::<sc_enter>() == layout::SC_ENTER_SIZE as usize);
const _: () = assert!(std::mem::size_of::<sc_str>() == layout::SC_STR_SIZE as usize);
const _: () = assert!(std::mem::size_of::<sc_exit>() == layout::SC_EXIT_SIZE as usize);

/// The layout version the BPF programs of this build write.
pub const CURRENT_LAYOUT_VERSION: u32 = layout::SC_LAYOUT_VERSION as u32;

/// Every layout version [`decode`] understands.
pub const SUPPORTED_LAYOUT_VERSIONS: &[u32] = &[1, 2, 3];

/// A decoded syscall-entry record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnterRecord {
    pub syscall: Syscall,
    /// Boot-time clock at entry, nanoseconds.
    pub ts_ns: u64,
    /// Process id (tgid).
    pub pid: u32,
    /// Thread id.
    pub tid: u32,
    pub cgroup_id: u64,
    pub ppid: u32,
    pub uid: u32,
    pub gid: u32,
    pub mnt_ns: u32,
    /// The caller's comm at entry.
    pub comm: Comm,
    /// The real parent's comm.
    pub pcomm: Comm,
    /// The raw `SC_ENTER_*` flags (exec: argv truncated / NULL / unreadable).
    pub flags: u16,
    /// The arguments: integers from `args[]`, pointer arguments from the string items.
    pub args: Args,
    /// `SC_REC_EXEC` only (0 otherwise): the thread that called exec, before
    /// the exec made it its process's leader.
    pub exec_caller_tid: u32,
}

impl EnterRecord {
    /// Exec: the argv pointer itself was NULL.
    pub fn argv_null(&self) -> bool {
        u64::from(self.flags) & layout::SC_ENTER_ARGV_NULL != 0
    }

    /// Exec (layout 2): the entry read no strings; its refetch record has them all.
    pub fn deferred(&self) -> bool {
        u64::from(self.flags) & layout::SC_ENTER_DEFERRED != 0
    }

    /// Exec: reading the argv pointer array failed part way.
    pub fn argv_fault(&self) -> bool {
        u64::from(self.flags) & layout::SC_ENTER_ARGV_FAULT != 0
    }
}

/// A decoded syscall-exit record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitRecord {
    pub syscall: Syscall,
    /// Boot-time clock at exit, nanoseconds.
    pub ts_ns: u64,
    pub pid: u32,
    pub tid: u32,
    /// The syscall's return value (negative errno on failure).
    pub ret: i64,
    /// The caller's comm after the call (for a successful exec: the new image's).
    pub comm: Comm,
}

/// One decoded raw record. The records larger than an exit are boxed: a
/// record is moved from the decoder through the stream into the pairing,
/// and a box moves as one pointer (the pairing keeps entries boxed anyway).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawRecord {
    Enter(Box<EnterRecord>),
    Exit(ExitRecord),
    /// Arguments read again after the call, because some were unreadable at
    /// entry (`SC_REC_REFETCH`); same shape as an entry.
    Refetch(Box<EnterRecord>),
    /// Layout 3+: a task was created (`SC_REC_FORK`).
    Fork(Box<ForkRecord>),
    /// Layout 3+: a process ended (`SC_REC_PROC_EXIT`).
    ProcExit(Box<ProcExitRecord>),
    /// Layout 3+: a successful exec seen at sched_process_exec
    /// (`SC_REC_EXEC`), with its filename and argv; `args` of an execve.
    /// `flags` has `SC_EXEC_NO_SYSCALL` and/or `SC_EXEC_COMPAT_IMAGE`, and
    /// [`EnterRecord::exec_caller_tid`] the caller's thread id.
    Exec(Box<EnterRecord>),
}

/// A decoded `struct sc_fork`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForkRecord {
    pub ts_ns: u64,
    /// The creating task.
    pub pid: u32,
    pub tid: u32,
    pub parent_start_ns: u64,
    pub child_pid: u32,
    pub child_tid: u32,
    pub child_ppid: u32,
    pub child_start_ns: u64,
    pub clone_flags: u64,
    pub cgroup_id: u64,
    /// The creating task's parent.
    pub ppid: u32,
    pub uid: u32,
    pub gid: u32,
    pub mnt_ns: u32,
    pub comm: Comm,
    pub pcomm: Comm,
}

impl ForkRecord {
    /// A new thread of the same process, not a new process.
    pub fn is_thread(&self) -> bool {
        self.child_pid == self.pid
    }
}

/// A decoded `struct sc_proc_exit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcExitRecord {
    pub ts_ns: u64,
    pub pid: u32,
    /// The last thread.
    pub tid: u32,
    pub start_ns: u64,
    pub cgroup_id: u64,
    /// wait(2) status.
    pub status: u32,
    pub ppid: u32,
    pub uid: u32,
    pub gid: u32,
    pub mnt_ns: u32,
    pub comm: Comm,
    pub pcomm: Comm,
}

impl EnterRecord {
    /// `SC_REC_EXEC`: no native execve/execveat entry was traced for it.
    pub fn exec_without_syscall(&self) -> bool {
        u64::from(self.flags) & layout::SC_EXEC_NO_SYSCALL != 0
    }

    /// `SC_REC_EXEC`: the new image is a 32-bit program (no syscall exit follows).
    pub fn exec_compat_image(&self) -> bool {
        u64::from(self.flags) & layout::SC_EXEC_COMPAT_IMAGE != 0
    }
}

impl RawRecord {
    pub fn ts_ns(&self) -> u64 {
        match self {
            RawRecord::Enter(e) | RawRecord::Refetch(e) | RawRecord::Exec(e) => e.ts_ns,
            RawRecord::Exit(x) => x.ts_ns,
            RawRecord::Fork(f) => f.ts_ns,
            RawRecord::ProcExit(x) => x.ts_ns,
        }
    }

    pub fn syscall(&self) -> Syscall {
        match self {
            RawRecord::Enter(e) | RawRecord::Refetch(e) | RawRecord::Exec(e) => e.syscall,
            RawRecord::Exit(x) => x.syscall,
            RawRecord::Fork(_) => Syscall::Fork,
            RawRecord::ProcExit(_) => Syscall::Exit,
        }
    }

    pub fn tid(&self) -> u32 {
        match self {
            RawRecord::Enter(e) | RawRecord::Refetch(e) | RawRecord::Exec(e) => e.tid,
            RawRecord::Exit(x) => x.tid,
            RawRecord::Fork(f) => f.tid,
            RawRecord::ProcExit(x) => x.tid,
        }
    }
}

/// Why a record could not be decoded. Messages are one line.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    #[error("raw record layout version {0} is not supported (this build reads versions {SUPPORTED_LAYOUT_VERSIONS:?})")]
    UnsupportedLayoutVersion(u32),
    #[error("record of {len} bytes is shorter than its fixed part ({need} bytes)")]
    TooShort { len: usize, need: usize },
    #[error("record size field says {size} bytes but the record has {len}")]
    SizeMismatch { size: u32, len: usize },
    #[error("record size {size} is out of range ({min}..={max} bytes)")]
    SizeOutOfRange { size: u32, min: usize, max: usize },
    #[error("unknown record kind {0}")]
    UnknownKind(u8),
    #[error("record kind {kind} does not go with syscall {syscall}")]
    KindMismatch { kind: u8, syscall: Syscall },
    #[error("unknown syscall number {0}")]
    UnknownSyscall(u8),
    #[error("reserved field {field} is {value:#x}, not zero")]
    ReservedNotZero { field: &'static str, value: u64 },
    #[error("unknown or inconsistent entry flags {flags:#x} on a {syscall} record")]
    BadEnterFlags { syscall: Syscall, flags: u16 },
    #[error("{syscall} record carries {nstrings} string items, expected {expected}")]
    WrongStringCount {
        syscall: Syscall,
        nstrings: u16,
        expected: &'static str,
    },
    #[error("string item {index} ({what}) of a {syscall} record overruns the record: {need} bytes needed, {remaining} left")]
    StringOverrun {
        syscall: Syscall,
        index: u16,
        what: &'static str,
        need: usize,
        remaining: usize,
    },
    #[error(
        "string item {index} ({what}) of a {syscall} record has invalid flags {flags:#x}: {reason}"
    )]
    BadStringFlags {
        syscall: Syscall,
        index: u16,
        what: &'static str,
        flags: u16,
        reason: &'static str,
    },
    #[error("string item {index} ({what}) of a {syscall} record is {len} bytes, more than the {max} the kernel side keeps")]
    StringTooLong {
        syscall: Syscall,
        index: u16,
        what: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{count} bytes follow the last string item of a {syscall} record")]
    TrailingBytes { syscall: Syscall, count: usize },
}

/// Decodes one raw record written with raw layout `layout_version` (the
/// capture header says which). `raw` must be exactly the record: its `size`
/// field must equal `raw.len()`.
pub fn decode(raw: &[u8], layout_version: u32) -> Result<RawRecord, DecodeError> {
    decode_in(raw, layout_version, None)
}

/// As [`decode`], for a record that is a slice of `frame` (the reader's
/// decompressed frame, [`crate::format::CaptureReader::next_record_in_frame`]):
/// the long strings of the record are then slices of the frame, not copies
/// ([`crate::event::CapturedBytes::shared`]).
pub fn decode_in(
    raw: &[u8],
    layout_version: u32,
    frame: Option<InFrame<'_>>,
) -> Result<RawRecord, DecodeError> {
    match layout_version {
        1 => v1::decode(raw, v1::Version::V1, frame),
        2 => v1::decode(raw, v1::Version::V2, frame),
        3 => v1::decode(raw, v1::Version::V3, frame),
        other => Err(DecodeError::UnsupportedLayoutVersion(other)),
    }
}

/// The frame a record lies in ([`decode_in`]), with the references to it
/// that events done with it gave back: its long strings take those first
/// ([`CapturedBytes::shared`]).
pub struct InFrame<'a> {
    pub buffer: &'a Arc<Vec<u8>>,
    pub shares: &'a mut FrameShares,
}

/// `sc_record_header.kind` of the record at the start of `raw` (an
/// `SC_REC_*` value), read without decoding the record.
pub fn record_kind(raw: &[u8]) -> Option<u64> {
    raw.get(std::mem::offset_of!(sc_record_header, kind))
        .map(|&kind| u64::from(kind))
}

/// `sc_record_header.syscall` of the record at the start of `raw` (an
/// `SC_SYS_*` value), read without decoding the record.
pub fn record_syscall(raw: &[u8]) -> Option<u8> {
    raw.get(std::mem::offset_of!(sc_record_header, syscall))
        .copied()
}

/// The length of the record at the start of `buf` (records are packed back
/// to back), from its size field, checked against the layout's bounds and
/// against `buf`'s length. Use it to split a buffer of records; [`decode`]
/// validates the rest.
pub fn record_len(buf: &[u8], layout_version: u32) -> Result<usize, DecodeError> {
    match layout_version {
        1..=3 => v1::record_len(buf),
        other => Err(DecodeError::UnsupportedLayoutVersion(other)),
    }
}

/// Iterator over the records packed back to back in a buffer: yields each
/// record's bytes (to pass to [`decode`]), or one error and then stops (after
/// a bad size field the next record's start is unknown).
#[derive(Debug, Clone)]
pub struct Records<'a> {
    buf: &'a [u8],
    layout_version: u32,
    done: bool,
}

/// Splits `buf` into records; see [`Records`].
pub fn split_records(buf: &[u8], layout_version: u32) -> Records<'_> {
    Records {
        buf,
        layout_version,
        done: false,
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<&'a [u8], DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.buf.is_empty() {
            return None;
        }
        match record_len(self.buf, self.layout_version) {
            Ok(len) => {
                let (record, rest) = self.buf.split_at(len.min(self.buf.len()));
                self.buf = rest;
                Some(Ok(record))
            }
            Err(err) => {
                self.done = true;
                Some(Err(err))
            }
        }
    }
}

/// How one string item is expected to look.
#[derive(Clone, Copy)]
enum ItemKind {
    /// A C string (or NULL / fault / skipped).
    Str,
    /// A byte blob (or NULL / fault / skipped).
    Blob,
    /// Not read: must carry `SC_STR_SKIPPED`.
    Skipped,
}

#[derive(Clone, Copy)]
struct ItemSpec {
    what: &'static str,
    kind: ItemKind,
    max_len: usize,
}

const fn str_item(what: &'static str, max_len: u64) -> ItemSpec {
    ItemSpec {
        what,
        kind: ItemKind::Str,
        max_len: max_len as usize,
    }
}

/// Raw layout versions 1 and 2 (the same structs).
mod v1 {
    use std::mem::{offset_of, size_of};

    use super::*;

    /// Which of the layout versions with these structs wrote a record.
    #[derive(Clone, Copy, PartialEq, Eq)]
    pub(super) enum Version {
        V1,
        /// Adds `SC_ENTER_DEFERRED`.
        V2,
        /// Adds the process lifecycle records.
        V3,
    }

    // Versions 1 and 2 are defined by these numbers; they must never change.
    // If the header changes, bump SC_LAYOUT_VERSION there and freeze these
    // structs here (see the module documentation).
    const _: () = assert!(
        layout::SC_LAYOUT_VERSION == 3,
        "snoopcap.h is no longer layout version 3: freeze the v1 structs in decode::v1"
    );
    const _: () = assert!(size_of::<sc_fork>() == 120);
    const _: () = assert!(offset_of!(sc_fork, child_start_ns) == 24);
    const _: () = assert!(offset_of!(sc_fork, child_pid) == 56);
    const _: () = assert!(offset_of!(sc_fork, reserved) == 84);
    const _: () = assert!(offset_of!(sc_fork, comm) == 88);
    const _: () = assert!(offset_of!(sc_fork, pcomm) == 104);
    const _: () = assert!(size_of::<sc_proc_exit>() == 96);
    const _: () = assert!(offset_of!(sc_proc_exit, exit_code) == 40);
    const _: () = assert!(offset_of!(sc_proc_exit, reserved) == 60);
    const _: () = assert!(offset_of!(sc_proc_exit, comm) == 64);
    const _: () = assert!(offset_of!(sc_proc_exit, pcomm) == 80);
    const _: () = assert!(size_of::<sc_record_header>() == 24);
    const _: () = assert!(offset_of!(sc_record_header, ts_ns) == 0);
    const _: () = assert!(offset_of!(sc_record_header, pid) == 8);
    const _: () = assert!(offset_of!(sc_record_header, tid) == 12);
    const _: () = assert!(offset_of!(sc_record_header, size) == 16);
    const _: () = assert!(offset_of!(sc_record_header, kind) == 20);
    const _: () = assert!(offset_of!(sc_record_header, syscall) == 21);
    const _: () = assert!(offset_of!(sc_record_header, reserved) == 22);
    const _: () = assert!(size_of::<sc_enter>() == 136);
    const _: () = assert!(offset_of!(sc_enter, cgroup_id) == 24);
    const _: () = assert!(offset_of!(sc_enter, args) == 32);
    const _: () = assert!(offset_of!(sc_enter, ppid) == 80);
    const _: () = assert!(offset_of!(sc_enter, uid) == 84);
    const _: () = assert!(offset_of!(sc_enter, gid) == 88);
    const _: () = assert!(offset_of!(sc_enter, mnt_ns) == 92);
    const _: () = assert!(offset_of!(sc_enter, comm) == 96);
    const _: () = assert!(offset_of!(sc_enter, pcomm) == 112);
    const _: () = assert!(offset_of!(sc_enter, nstrings) == 128);
    const _: () = assert!(offset_of!(sc_enter, flags) == 130);
    const _: () = assert!(offset_of!(sc_enter, reserved) == 132);
    const _: () = assert!(size_of::<sc_str>() == 4);
    const _: () = assert!(offset_of!(sc_str, len) == 0);
    const _: () = assert!(offset_of!(sc_str, flags) == 2);
    const _: () = assert!(size_of::<sc_exit>() == 48);
    const _: () = assert!(offset_of!(sc_exit, ret) == 24);
    const _: () = assert!(offset_of!(sc_exit, comm) == 32);

    const HEADER_SIZE: usize = layout::SC_RECORD_HEADER_SIZE as usize;
    const ENTER_SIZE: usize = layout::SC_ENTER_SIZE as usize;
    const STR_SIZE: usize = layout::SC_STR_SIZE as usize;
    const EXIT_SIZE: usize = layout::SC_EXIT_SIZE as usize;
    /// SC_MAX_RECORD_SIZE (an expression in the header, so build.rs skips it).
    const MAX_RECORD_SIZE: usize = (layout::SC_ENTER_SIZE + layout::SC_STRING_AREA) as usize;

    const REC_ENTER: u8 = layout::SC_REC_ENTER as u8;
    const REC_EXIT: u8 = layout::SC_REC_EXIT as u8;
    const REC_REFETCH: u8 = layout::SC_REC_REFETCH as u8;
    const REC_FORK: u8 = layout::SC_REC_FORK as u8;
    const REC_PROC_EXIT: u8 = layout::SC_REC_PROC_EXIT as u8;
    const REC_EXEC: u8 = layout::SC_REC_EXEC as u8;
    const FORK_SIZE: usize = layout::SC_FORK_SIZE as usize;
    const PROC_EXIT_SIZE: usize = layout::SC_PROC_EXIT_SIZE as usize;
    const EXEC_FLAGS: u16 = (layout::SC_EXEC_NO_SYSCALL | layout::SC_EXEC_COMPAT_IMAGE) as u16;
    /// argv bytes a `SC_REC_EXEC` record keeps (SC_EXEC_ARGV_BLOCK of the BPF side).
    const EXEC_ARGV_BLOCK: usize = 4096;

    const ARGV_TRUNCATED: u16 = layout::SC_ENTER_ARGV_TRUNCATED as u16;
    const ARGV_NULL: u16 = layout::SC_ENTER_ARGV_NULL as u16;
    const ARGV_FAULT: u16 = layout::SC_ENTER_ARGV_FAULT as u16;
    const REFETCH: u16 = layout::SC_ENTER_REFETCH as u16;
    const DEFERRED: u16 = layout::SC_ENTER_DEFERRED as u16;
    const ENTER_FLAGS: u16 = ARGV_TRUNCATED | ARGV_NULL | ARGV_FAULT | REFETCH;
    /// The flags a mount-family record may carry.
    const MOUNT_FLAGS: u16 = REFETCH;

    const STR_NULL: u16 = layout::SC_STR_NULL as u16;
    const STR_TRUNCATED: u16 = layout::SC_STR_TRUNCATED as u16;
    const STR_FAULT: u16 = layout::SC_STR_FAULT as u16;
    const STR_BINARY: u16 = layout::SC_STR_BINARY as u16;
    const STR_SKIPPED: u16 = layout::SC_STR_SKIPPED as u16;
    const STR_FLAGS: u16 = STR_NULL | STR_TRUNCATED | STR_FAULT | STR_BINARY | STR_SKIPPED;

    /// argv items an exec record can carry.
    const MAX_ARGS: usize = layout::SC_MAX_ARGS_LIMIT as usize;
    /// struct mount_attr as of MOUNT_ATTR_SIZE_VER0: what mount_setattr keeps.
    const MOUNT_ATTR_MAX: usize = 32;

    const FILENAME: ItemSpec = str_item("filename", layout::SC_PATH_MAX);
    const ARGV: ItemSpec = str_item("argv", layout::SC_ARG_SIZE_LIMIT);
    const fn path(what: &'static str) -> ItemSpec {
        str_item(what, layout::SC_PATH_MAX)
    }
    const fn data(what: &'static str) -> ItemSpec {
        str_item(what, layout::SC_DATA_MAX)
    }

    /// fsconfig(2) commands whose value is a string, resp. a blob.
    const FSCONFIG_SET_STRING: u32 = 1;
    const FSCONFIG_SET_BINARY: u32 = 2;
    const FSCONFIG_SET_PATH: u32 = 3;
    const FSCONFIG_SET_PATH_EMPTY: u32 = 4;

    /// Copies the raw struct `T` from the start of `raw` (an error when
    /// `raw` is shorter). The copy has the struct's size, known at compile
    /// time, so it is a few vector moves instead of a call to memcpy.
    fn copy_struct<T: plain::Plain>(into: &mut T, raw: &[u8]) -> Result<(), plain::Error> {
        let bytes = raw
            .get(..std::mem::size_of::<T>())
            .ok_or(plain::Error::TooShort)?;
        plain::copy_from_bytes(into, bytes)
    }

    fn read_header(raw: &[u8]) -> Result<sc_record_header, DecodeError> {
        let mut hdr = sc_record_header::default();
        copy_struct(&mut hdr, raw).map_err(|_| DecodeError::TooShort {
            len: raw.len(),
            need: HEADER_SIZE,
        })?;
        Ok(hdr)
    }

    pub(super) fn record_len(buf: &[u8]) -> Result<usize, DecodeError> {
        let hdr = read_header(buf)?;
        let size = u32::from_le(hdr.size);
        let len = size as usize;
        if !(HEADER_SIZE..=MAX_RECORD_SIZE).contains(&len) {
            return Err(DecodeError::SizeOutOfRange {
                size,
                min: HEADER_SIZE,
                max: MAX_RECORD_SIZE,
            });
        }
        if len > buf.len() {
            return Err(DecodeError::TooShort {
                len: buf.len(),
                need: len,
            });
        }
        Ok(len)
    }

    pub(super) fn decode(
        raw: &[u8],
        version: Version,
        frame: Option<InFrame<'_>>,
    ) -> Result<RawRecord, DecodeError> {
        let hdr = read_header(raw)?;
        let size = u32::from_le(hdr.size);
        if size as usize != raw.len() {
            return Err(DecodeError::SizeMismatch {
                size,
                len: raw.len(),
            });
        }
        let reserved = u16::from_le(hdr.reserved);
        if reserved != 0 {
            return Err(DecodeError::ReservedNotZero {
                field: "header.reserved",
                value: u64::from(reserved),
            });
        }
        let syscall =
            Syscall::from_raw(hdr.syscall).ok_or(DecodeError::UnknownSyscall(hdr.syscall))?;
        let lifecycle_kind = matches!(hdr.kind, REC_FORK | REC_PROC_EXIT | REC_EXEC);
        if lifecycle_kind && version != Version::V3 {
            return Err(DecodeError::UnknownKind(hdr.kind));
        }
        // Fork and exit are the lifecycle records' own "syscalls", and theirs only.
        let expected = match hdr.kind {
            REC_FORK => Some(Syscall::Fork),
            REC_PROC_EXIT => Some(Syscall::Exit),
            REC_EXEC => Some(Syscall::Execve),
            _ => None,
        };
        if expected.map_or(syscall.is_lifecycle(), |want| want != syscall) {
            return Err(DecodeError::KindMismatch {
                kind: hdr.kind,
                syscall,
            });
        }
        match hdr.kind {
            REC_ENTER => decode_enter(raw, syscall, version, true, frame).map(RawRecord::Enter),
            REC_EXIT => decode_exit(raw, syscall).map(RawRecord::Exit),
            REC_REFETCH => {
                decode_enter(raw, syscall, version, false, frame).map(RawRecord::Refetch)
            }
            REC_FORK => decode_fork(raw).map(|fork| RawRecord::Fork(Box::new(fork))),
            REC_PROC_EXIT => decode_proc_exit(raw).map(|exit| RawRecord::ProcExit(Box::new(exit))),
            REC_EXEC => decode_exec(raw, frame).map(RawRecord::Exec),
            other => Err(DecodeError::UnknownKind(other)),
        }
    }

    fn exact_size(raw: &[u8], size: usize) -> Result<(), DecodeError> {
        if raw.len() == size {
            Ok(())
        } else {
            Err(DecodeError::SizeOutOfRange {
                size: u32::try_from(raw.len()).unwrap_or(u32::MAX),
                min: size,
                max: size,
            })
        }
    }

    fn decode_fork(raw: &[u8]) -> Result<ForkRecord, DecodeError> {
        exact_size(raw, FORK_SIZE)?;
        let mut f = sc_fork::default();
        copy_struct(&mut f, raw).map_err(|_| DecodeError::TooShort {
            len: raw.len(),
            need: FORK_SIZE,
        })?;
        let reserved = u32::from_le(f.reserved);
        if reserved != 0 {
            return Err(DecodeError::ReservedNotZero {
                field: "sc_fork.reserved",
                value: u64::from(reserved),
            });
        }
        Ok(ForkRecord {
            ts_ns: u64::from_le(f.hdr.ts_ns),
            pid: u32::from_le(f.hdr.pid),
            tid: u32::from_le(f.hdr.tid),
            parent_start_ns: u64::from_le(f.parent_start_ns),
            child_pid: u32::from_le(f.child_pid),
            child_tid: u32::from_le(f.child_tid),
            child_ppid: u32::from_le(f.child_ppid),
            child_start_ns: u64::from_le(f.child_start_ns),
            clone_flags: u64::from_le(f.clone_flags),
            cgroup_id: u64::from_le(f.cgroup_id),
            ppid: u32::from_le(f.ppid),
            uid: u32::from_le(f.uid),
            gid: u32::from_le(f.gid),
            mnt_ns: u32::from_le(f.mnt_ns),
            comm: Comm::from_raw(&f.comm),
            pcomm: Comm::from_raw(&f.pcomm),
        })
    }

    fn decode_proc_exit(raw: &[u8]) -> Result<ProcExitRecord, DecodeError> {
        exact_size(raw, PROC_EXIT_SIZE)?;
        let mut x = sc_proc_exit::default();
        copy_struct(&mut x, raw).map_err(|_| DecodeError::TooShort {
            len: raw.len(),
            need: PROC_EXIT_SIZE,
        })?;
        let reserved = u32::from_le(x.reserved);
        if reserved != 0 {
            return Err(DecodeError::ReservedNotZero {
                field: "sc_proc_exit.reserved",
                value: u64::from(reserved),
            });
        }
        Ok(ProcExitRecord {
            ts_ns: u64::from_le(x.hdr.ts_ns),
            pid: u32::from_le(x.hdr.pid),
            tid: u32::from_le(x.hdr.tid),
            start_ns: u64::from_le(x.start_ns),
            cgroup_id: u64::from_le(x.cgroup_id),
            status: u32::from_le(x.exit_code),
            ppid: u32::from_le(x.ppid),
            uid: u32::from_le(x.uid),
            gid: u32::from_le(x.gid),
            mnt_ns: u32::from_le(x.mnt_ns),
            comm: Comm::from_raw(&x.comm),
            pcomm: Comm::from_raw(&x.pcomm),
        })
    }

    /// `SC_REC_EXEC`: an `sc_enter` with exec flags only and two items,
    /// the filename and argv as one blob of NUL-terminated strings.
    fn decode_exec(
        raw: &[u8],
        frame: Option<InFrame<'_>>,
    ) -> Result<Box<EnterRecord>, DecodeError> {
        if !(ENTER_SIZE..=MAX_RECORD_SIZE).contains(&raw.len()) {
            return Err(DecodeError::SizeOutOfRange {
                size: u32::try_from(raw.len()).unwrap_or(u32::MAX),
                min: ENTER_SIZE,
                max: MAX_RECORD_SIZE,
            });
        }
        let mut e = sc_enter::default();
        copy_struct(&mut e, raw).map_err(|_| DecodeError::TooShort {
            len: raw.len(),
            need: ENTER_SIZE,
        })?;
        let syscall = Syscall::Execve;
        let flags = u16::from_le(e.flags);
        let nstrings = u16::from_le(e.nstrings);
        if flags & !EXEC_FLAGS != 0 || flags == 0 {
            return Err(DecodeError::BadEnterFlags { syscall, flags });
        }
        if u32::from_le(e.reserved) != 0 {
            return Err(DecodeError::ReservedNotZero {
                field: "sc_enter.reserved",
                value: u64::from(u32::from_le(e.reserved)),
            });
        }
        if nstrings != 2 {
            return Err(DecodeError::WrongStringCount {
                syscall,
                nstrings,
                expected: "2 (filename, argv block)",
            });
        }
        let mut items = Items {
            rest: raw.get(ENTER_SIZE..).unwrap_or(&[]),
            syscall,
            index: 0,
            frame,
        };
        let filename = items.next(FILENAME)?;
        let block = items.next(ItemSpec {
            what: "argv block",
            kind: ItemKind::Blob,
            max_len: EXEC_ARGV_BLOCK,
        })?;
        if !items.rest.is_empty() {
            return Err(DecodeError::TrailingBytes {
                syscall,
                count: items.rest.len(),
            });
        }
        let (args, args_truncated) = split_argv_block(&block);
        let a = e.args.map(u64::from_le);
        Ok(Box::new(EnterRecord {
            syscall,
            ts_ns: u64::from_le(e.hdr.ts_ns),
            pid: u32::from_le(e.hdr.pid),
            tid: u32::from_le(e.hdr.tid),
            cgroup_id: u64::from_le(e.cgroup_id),
            ppid: u32::from_le(e.ppid),
            uid: u32::from_le(e.uid),
            gid: u32::from_le(e.gid),
            mnt_ns: u32::from_le(e.mnt_ns),
            comm: Comm::from_raw(&e.comm),
            pcomm: Comm::from_raw(&e.pcomm),
            flags,
            args: Args::Exec {
                dirfd: None,
                flags: None,
                filename,
                args,
                args_truncated,
            },
            exec_caller_tid: a[0] as u32,
        }))
    }

    /// The argv of a `SC_REC_EXEC` record: its blob split at each NUL (the
    /// kernel's argument area: every string NUL-terminated). A blob cut short
    /// (flag, or no final NUL) gives a truncated last argument; an unreadable
    /// one gives no arguments.
    fn split_argv_block(block: &Captured) -> (Vec<Captured>, bool) {
        if block.fault {
            return (Vec::new(), true);
        }
        let bytes: &[u8] = &block.bytes;
        let complete = !block.truncated && bytes.last().is_none_or(|&b| b == 0);
        let body = bytes.strip_suffix(&[0]).unwrap_or(bytes);
        let mut args: Vec<Captured> = if bytes.is_empty() {
            Vec::new()
        } else {
            body.split(|&b| b == 0).map(Captured::from_bytes).collect()
        };
        if !complete {
            if let Some(last) = args.last_mut() {
                last.truncated = true;
            }
        }
        (args, !complete)
    }

    fn decode_exit(raw: &[u8], syscall: Syscall) -> Result<ExitRecord, DecodeError> {
        if raw.len() != EXIT_SIZE {
            return Err(DecodeError::SizeOutOfRange {
                size: u32::try_from(raw.len()).unwrap_or(u32::MAX),
                min: EXIT_SIZE,
                max: EXIT_SIZE,
            });
        }
        let mut x = sc_exit::default();
        copy_struct(&mut x, raw).map_err(|_| DecodeError::TooShort {
            len: raw.len(),
            need: EXIT_SIZE,
        })?;
        Ok(ExitRecord {
            syscall,
            ts_ns: u64::from_le(x.hdr.ts_ns),
            pid: u32::from_le(x.hdr.pid),
            tid: u32::from_le(x.hdr.tid),
            ret: i64::from_le(x.ret),
            comm: Comm::from_raw(&x.comm),
        })
    }

    /// Decodes an entry record (`is_entry`) or a refetch record: the same
    /// layout, but only an entry may defer its strings.
    fn decode_enter(
        raw: &[u8],
        syscall: Syscall,
        version: Version,
        is_entry: bool,
        frame: Option<InFrame<'_>>,
    ) -> Result<Box<EnterRecord>, DecodeError> {
        if !(ENTER_SIZE..=MAX_RECORD_SIZE).contains(&raw.len()) {
            return Err(DecodeError::SizeOutOfRange {
                size: u32::try_from(raw.len()).unwrap_or(u32::MAX),
                min: ENTER_SIZE,
                max: MAX_RECORD_SIZE,
            });
        }
        let mut e = sc_enter::default();
        copy_struct(&mut e, raw).map_err(|_| DecodeError::TooShort {
            len: raw.len(),
            need: ENTER_SIZE,
        })?;
        let reserved = u32::from_le(e.reserved);
        if reserved != 0 {
            return Err(DecodeError::ReservedNotZero {
                field: "sc_enter.reserved",
                value: u64::from(reserved),
            });
        }
        let flags = u16::from_le(e.flags);
        let nstrings = u16::from_le(e.nstrings);
        let a = e.args.map(u64::from_le);
        let mut items = Items {
            rest: raw.get(ENTER_SIZE..).unwrap_or(&[]),
            syscall,
            index: 0,
            frame,
        };

        let bad_flags = DecodeError::BadEnterFlags { syscall, flags };
        let deferred = flags & DEFERRED != 0;
        if deferred {
            // Version 2, exec entries only, with REFETCH and nothing else.
            if version == Version::V1
                || !is_entry
                || !syscall.is_exec()
                || flags != DEFERRED | REFETCH
            {
                return Err(bad_flags);
            }
        } else if flags & !ENTER_FLAGS != 0
            || (!syscall.is_exec() && flags & !MOUNT_FLAGS != 0)
            || (!is_entry && flags & REFETCH != 0)
        {
            // A refetch record is the re-read itself: it never asks for another.
            return Err(bad_flags);
        }

        let args = if deferred {
            if nstrings != 0 {
                return Err(DecodeError::WrongStringCount {
                    syscall,
                    nstrings,
                    expected: "0 (the strings were deferred to the refetch record)",
                });
            }
            // Nothing was read yet: the refetch record fills every item. If it
            // never comes, the filename and argv stay unknown.
            Args::Exec {
                dirfd: (syscall == Syscall::Execveat).then_some(a[0] as i32),
                flags: (syscall == Syscall::Execveat).then_some(a[4] as i32),
                filename: Captured {
                    fault: true,
                    ..Captured::default()
                },
                args: Vec::new(),
                args_truncated: true,
            }
        } else if syscall.is_exec() {
            let argc = usize::from(nstrings)
                .checked_sub(1)
                .filter(|&n| n <= MAX_ARGS)
                .ok_or(DecodeError::WrongStringCount {
                    syscall,
                    nstrings,
                    expected: "1 (filename) + up to 128 argv items",
                })?;
            // A NULL argv has no items; argv truncation and fault exclude NULL.
            if flags & ARGV_NULL != 0 && (argc != 0 || flags & !REFETCH != ARGV_NULL) {
                return Err(bad_flags);
            }
            let filename = items.next(FILENAME)?;
            let mut args = Vec::with_capacity(argc);
            let mut any_truncated = false;
            for _ in 0..argc {
                let arg = items.next(ARGV)?;
                any_truncated |= arg.truncated;
                args.push(arg);
            }
            Args::Exec {
                dirfd: (syscall == Syscall::Execveat).then_some(a[0] as i32),
                flags: (syscall == Syscall::Execveat).then_some(a[4] as i32),
                filename,
                args,
                // An unreadable argv array is an incomplete one too.
                args_truncated: flags & (ARGV_TRUNCATED | ARGV_FAULT) != 0 || any_truncated,
            }
        } else {
            let expect = |count: u16, expected: &'static str| {
                if nstrings == count {
                    Ok(())
                } else {
                    Err(DecodeError::WrongStringCount {
                        syscall,
                        nstrings,
                        expected,
                    })
                }
            };
            match syscall {
                Syscall::Mount => {
                    expect(4, "4 (source, target, fstype, data)")?;
                    Args::Mount {
                        source: items.next(path("source"))?,
                        target: items.next(path("target"))?,
                        fstype: items.next(path("fstype"))?,
                        flags: a[3],
                        data: items.next(data("data"))?,
                    }
                }
                Syscall::Umount => {
                    expect(1, "1 (target)")?;
                    Args::Umount {
                        target: items.next(path("target"))?,
                        flags: a[1] as i32,
                    }
                }
                Syscall::Fsopen => {
                    expect(1, "1 (fsname)")?;
                    Args::Fsopen {
                        fsname: items.next(path("fsname"))?,
                        flags: a[1] as u32,
                    }
                }
                Syscall::Fsconfig => {
                    expect(2, "2 (key, value)")?;
                    let cmd = a[1] as u32;
                    let value_kind = match cmd {
                        FSCONFIG_SET_STRING | FSCONFIG_SET_PATH | FSCONFIG_SET_PATH_EMPTY => {
                            ItemKind::Str
                        }
                        FSCONFIG_SET_BINARY => ItemKind::Blob,
                        _ => ItemKind::Skipped,
                    };
                    Args::Fsconfig {
                        fd: a[0] as i32,
                        cmd,
                        key: items.next(path("key"))?,
                        value: items.next(ItemSpec {
                            what: "value",
                            kind: value_kind,
                            max_len: layout::SC_DATA_MAX as usize,
                        })?,
                        aux: a[4] as i32,
                    }
                }
                Syscall::Fsmount => {
                    expect(0, "none")?;
                    Args::Fsmount {
                        fs_fd: a[0] as i32,
                        flags: a[1] as u32,
                        attr_flags: a[2] as u32,
                    }
                }
                Syscall::MoveMount => {
                    expect(2, "2 (from_path, to_path)")?;
                    Args::MoveMount {
                        from_dirfd: a[0] as i32,
                        from_path: items.next(path("from_path"))?,
                        to_dirfd: a[2] as i32,
                        to_path: items.next(path("to_path"))?,
                        flags: a[4] as u32,
                    }
                }
                Syscall::OpenTree => {
                    expect(1, "1 (path)")?;
                    Args::OpenTree {
                        dirfd: a[0] as i32,
                        path: items.next(path("path"))?,
                        flags: a[2] as u32,
                    }
                }
                Syscall::MountSetattr => {
                    expect(2, "2 (path, attr)")?;
                    Args::MountSetattr {
                        dirfd: a[0] as i32,
                        path: items.next(path("path"))?,
                        flags: a[2] as u32,
                        attr: items.next(ItemSpec {
                            what: "attr",
                            kind: ItemKind::Blob,
                            max_len: MOUNT_ATTR_MAX,
                        })?,
                        size: a[4],
                    }
                }
                Syscall::Fspick => {
                    expect(1, "1 (path)")?;
                    Args::Fspick {
                        dirfd: a[0] as i32,
                        path: items.next(path("path"))?,
                        flags: a[2] as u32,
                    }
                }
                // Handled above; kept so that a new syscall is not silently misdecoded.
                Syscall::Execve | Syscall::Execveat => return Err(bad_flags),
                // Rejected by `decode` before: not syscalls.
                Syscall::Fork | Syscall::Exit => return Err(bad_flags),
            }
        };
        if !items.rest.is_empty() {
            return Err(DecodeError::TrailingBytes {
                syscall,
                count: items.rest.len(),
            });
        }
        let hdr = &e.hdr;
        Ok(Box::new(EnterRecord {
            syscall,
            ts_ns: u64::from_le(hdr.ts_ns),
            pid: u32::from_le(hdr.pid),
            tid: u32::from_le(hdr.tid),
            cgroup_id: u64::from_le(e.cgroup_id),
            ppid: u32::from_le(e.ppid),
            uid: u32::from_le(e.uid),
            gid: u32::from_le(e.gid),
            mnt_ns: u32::from_le(e.mnt_ns),
            comm: Comm::from_raw(&e.comm),
            pcomm: Comm::from_raw(&e.pcomm),
            flags,
            args,
            exec_caller_tid: 0,
        }))
    }

    /// The string items after `struct sc_enter`, read one at a time.
    struct Items<'a> {
        rest: &'a [u8],
        syscall: Syscall,
        index: u16,
        /// The frame `rest` lies in, if known: long strings are slices of it.
        frame: Option<InFrame<'a>>,
    }

    impl Items<'_> {
        /// `bytes`, a slice of the frame if they lie in it (else a copy).
        fn keep(&mut self, bytes: &[u8]) -> CapturedBytes {
            // Short strings are kept inline either way ([`CapturedBytes::new`]).
            if bytes.len() <= CapturedBytes::INLINE {
                return CapturedBytes::new(bytes);
            }
            if let Some(InFrame { buffer, shares }) = &mut self.frame {
                let base = buffer.as_ptr() as usize;
                let at = (bytes.as_ptr() as usize).wrapping_sub(base);
                if at <= buffer.len() && bytes.len() <= buffer.len() - at {
                    return CapturedBytes::shared(buffer, shares, at..at + bytes.len());
                }
            }
            CapturedBytes::new(bytes)
        }

        fn next(&mut self, spec: ItemSpec) -> Result<Captured, DecodeError> {
            let index = self.index;
            let syscall = self.syscall;
            let overrun = |need: usize, remaining: usize| DecodeError::StringOverrun {
                syscall,
                index,
                what: spec.what,
                need,
                remaining,
            };
            let mut item = sc_str::default();
            copy_struct(&mut item, self.rest).map_err(|_| overrun(STR_SIZE, self.rest.len()))?;
            let len = usize::from(u16::from_le(item.len));
            let flags = u16::from_le(item.flags);
            let body = self.rest.get(STR_SIZE..).unwrap_or(&[]);
            let bytes = body.get(..len).ok_or_else(|| overrun(len, body.len()))?;

            let bad = |reason: &'static str| DecodeError::BadStringFlags {
                syscall,
                index,
                what: spec.what,
                flags,
                reason,
            };
            if flags & !STR_FLAGS != 0 {
                return Err(bad("unknown flag bits"));
            }
            let absent = flags & (STR_NULL | STR_FAULT | STR_SKIPPED);
            if absent != 0 && len != 0 {
                return Err(bad("a NULL, unreadable or skipped value carries bytes"));
            }
            if (flags & STR_NULL != 0 && flags != STR_NULL)
                || (flags & STR_SKIPPED != 0 && flags != STR_SKIPPED)
                || (flags & STR_FAULT != 0 && flags & !(STR_FAULT | STR_BINARY) != 0)
            {
                return Err(bad("NULL, fault and skipped exclude every other flag"));
            }
            match spec.kind {
                ItemKind::Str if flags & STR_BINARY != 0 => {
                    return Err(bad("a blob where a string belongs"))
                }
                ItemKind::Blob if flags & (STR_NULL | STR_SKIPPED | STR_BINARY) == 0 => {
                    return Err(bad("a string where a blob belongs"))
                }
                ItemKind::Skipped if flags != STR_SKIPPED => {
                    return Err(bad("this argument is never read for this call"))
                }
                _ => {}
            }
            if len > spec.max_len {
                return Err(DecodeError::StringTooLong {
                    syscall,
                    index,
                    what: spec.what,
                    len,
                    max: spec.max_len,
                });
            }

            self.rest = body.get(len..).unwrap_or(&[]);
            self.index = self.index.saturating_add(1);
            Ok(Captured {
                bytes: self.keep(bytes),
                null: flags & STR_NULL != 0,
                truncated: flags & STR_TRUNCATED != 0,
                fault: flags & STR_FAULT != 0,
                binary: flags & STR_BINARY != 0,
                skipped: flags & STR_SKIPPED != 0,
            })
        }
    }
}

/// Builders of synthetic raw records for tests (this module's and the
/// pairing tests in `reassemble`).
#[cfg(test)]
pub(crate) mod testutil {
    use super::*;

    /// The bytes of a generated record struct.
    pub(crate) fn bytes_of<T: plain::Plain>(value: &T) -> Vec<u8> {
        // SAFETY: the record structs have no padding (their sizes are checked
        // against the header's), so every byte is initialised.
        unsafe { plain::as_bytes(value) }.to_vec()
    }

    pub(crate) fn comm(name: &str) -> [i8; 16] {
        let mut out = [0i8; 16];
        for (dst, &b) in out.iter_mut().zip(name.as_bytes().iter().take(15)) {
            *dst = b as i8;
        }
        out
    }

    /// One string item: the sc_str header, then the bytes.
    pub(crate) fn item(bytes: &[u8], flags: u64) -> Vec<u8> {
        let header = sc_str {
            len: bytes.len() as u16,
            flags: flags as u16,
        };
        let mut out = bytes_of(&header);
        out.extend_from_slice(bytes);
        out
    }

    /// A plain string item.
    pub(crate) fn s(text: &str) -> Vec<u8> {
        item(text.as_bytes(), 0)
    }

    /// An entry record builder.
    #[derive(Clone)]
    pub(crate) struct Enter {
        pub e: sc_enter,
        pub items: Vec<Vec<u8>>,
        /// nstrings to write instead of the number of items.
        pub nstrings: Option<u16>,
    }

    impl Enter {
        pub(crate) fn new(syscall: Syscall, ts_ns: u64, pid: u32, tid: u32) -> Enter {
            let mut e = sc_enter::default();
            e.hdr.ts_ns = ts_ns;
            e.hdr.pid = pid;
            e.hdr.tid = tid;
            e.hdr.kind = layout::SC_REC_ENTER as u8;
            e.hdr.syscall = syscall.raw();
            e.cgroup_id = 7;
            e.ppid = 1;
            e.uid = 1000;
            e.gid = 100;
            e.mnt_ns = 4026531841;
            e.comm = comm("caller");
            e.pcomm = comm("parent");
            Enter {
                e,
                items: Vec::new(),
                nstrings: None,
            }
        }

        pub(crate) fn item(mut self, item: Vec<u8>) -> Enter {
            self.items.push(item);
            self
        }

        pub(crate) fn arg(mut self, i: usize, value: u64) -> Enter {
            self.e.args[i] = value;
            self
        }

        /// The record bytes, with size and nstrings filled in from the items.
        pub(crate) fn build(&self) -> Vec<u8> {
            let mut e = self.e;
            e.nstrings = self.nstrings.unwrap_or(self.items.len() as u16);
            let body: Vec<u8> = self.items.concat();
            e.hdr.size = (layout::SC_ENTER_SIZE as usize + body.len()) as u32;
            let mut out = bytes_of(&e);
            out.extend_from_slice(&body);
            out
        }
    }

    /// An exit record's bytes.
    pub(crate) fn exit(
        syscall: Syscall,
        ts_ns: u64,
        pid: u32,
        tid: u32,
        ret: i64,
        name: &str,
    ) -> Vec<u8> {
        let mut x = sc_exit::default();
        x.hdr.ts_ns = ts_ns;
        x.hdr.pid = pid;
        x.hdr.tid = tid;
        x.hdr.size = layout::SC_EXIT_SIZE as u32;
        x.hdr.kind = layout::SC_REC_EXIT as u8;
        x.hdr.syscall = syscall.raw();
        x.ret = ret;
        x.comm = comm(name);
        bytes_of(&x)
    }

    /// A minimal valid entry record for each syscall.
    pub(crate) fn sample_enter(syscall: Syscall, ts_ns: u64, pid: u32, tid: u32) -> Enter {
        let b = Enter::new(syscall, ts_ns, pid, tid);
        match syscall {
            // Not syscalls: no entry records (a bare one, which decode rejects).
            Syscall::Fork | Syscall::Exit => b,
            Syscall::Execve | Syscall::Execveat => b.item(s("/bin/ls")).item(s("ls")).item(s("-l")),
            Syscall::Mount => b
                .arg(3, 0x1000)
                .item(s("/dev/sda1"))
                .item(s("/mnt"))
                .item(s("ext4"))
                .item(s("ro")),
            Syscall::Umount => b.arg(1, 2).item(s("/mnt")),
            Syscall::Fsopen => b.arg(1, 1).item(s("ext4")),
            Syscall::Fsconfig => b.arg(0, 3).arg(1, 1).item(s("source")).item(s("/dev/sda1")),
            Syscall::Fsmount => b.arg(0, 3).arg(1, 1).arg(2, 0x20),
            Syscall::MoveMount => b
                .arg(0, 4)
                .arg(2, (-100i64) as u64)
                .arg(4, 4)
                .item(s(""))
                .item(s("/mnt")),
            Syscall::OpenTree | Syscall::Fspick => {
                b.arg(0, (-100i64) as u64).arg(2, 1).item(s("/mnt"))
            }
            Syscall::MountSetattr => b
                .arg(0, (-100i64) as u64)
                .arg(2, 0x8000)
                .arg(4, 32)
                .item(s("/mnt"))
                .item(item(&[1, 0, 0, 0, 0, 0, 0, 0], layout::SC_STR_BINARY)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;
    use crate::event::MountAttr;
    use proptest::prelude::*;

    fn dec(raw: &[u8]) -> Result<RawRecord, DecodeError> {
        decode(raw, 1)
    }

    #[test]
    fn kind_and_syscall_are_read_from_the_header_alone() {
        let entry = Enter::new(Syscall::Umount, 10, 7, 7)
            .item(s("/mnt"))
            .build();
        assert_eq!(record_kind(&entry), Some(layout::SC_REC_ENTER));
        assert_eq!(record_syscall(&entry), Some(Syscall::Umount.raw()));
        let exit = exit(Syscall::Mount, 11, 7, 7, -1, "mount");
        assert_eq!(record_kind(&exit), Some(layout::SC_REC_EXIT));
        assert_eq!(record_syscall(&exit), Some(Syscall::Mount.raw()));
        assert_eq!(record_kind(&exit[..20]), None);
        assert_eq!(record_syscall(&exit[..21]), None);
    }

    fn enter(raw: &[u8]) -> EnterRecord {
        match dec(raw) {
            Ok(RawRecord::Enter(e)) => *e,
            other => panic!("expected an entry record, got {other:?}"),
        }
    }

    fn captured(text: &str) -> Captured {
        Captured::from_bytes(text.as_bytes())
    }

    #[test]
    fn syscall_numbers_match_the_header() {
        let pairs = [
            (layout::SC_SYS_EXECVE, Syscall::Execve),
            (layout::SC_SYS_EXECVEAT, Syscall::Execveat),
            (layout::SC_SYS_MOUNT, Syscall::Mount),
            (layout::SC_SYS_UMOUNT, Syscall::Umount),
            (layout::SC_SYS_FSOPEN, Syscall::Fsopen),
            (layout::SC_SYS_FSCONFIG, Syscall::Fsconfig),
            (layout::SC_SYS_FSMOUNT, Syscall::Fsmount),
            (layout::SC_SYS_MOVE_MOUNT, Syscall::MoveMount),
            (layout::SC_SYS_OPEN_TREE, Syscall::OpenTree),
            (layout::SC_SYS_MOUNT_SETATTR, Syscall::MountSetattr),
            (layout::SC_SYS_FSPICK, Syscall::Fspick),
        ];
        for (raw, syscall) in pairs {
            assert_eq!(Syscall::from_raw(raw as u8), Some(syscall));
            assert_eq!(u64::from(syscall.raw()), raw);
        }
    }

    #[test]
    fn exit_record() {
        let raw = exit(Syscall::Mount, 99, 10, 11, -13, "mount");
        assert_eq!(
            dec(&raw),
            Ok(RawRecord::Exit(ExitRecord {
                syscall: Syscall::Mount,
                ts_ns: 99,
                pid: 10,
                tid: 11,
                ret: -13,
                comm: Comm::from_bytes(b"mount"),
            }))
        );
    }

    #[test]
    fn comm_stops_at_nul_and_keeps_16_bytes() {
        let mut raw = [b'a' as i8; 16];
        assert_eq!(Comm::from_raw(&raw).as_bytes(), &[b'a'; 16]);
        raw[3] = 0;
        raw[5] = b'z' as i8;
        assert_eq!(Comm::from_raw(&raw).as_bytes(), b"aaa");
        raw[0] = -1; // 0xff: bytes are kept as they are
        assert_eq!(Comm::from_raw(&raw).as_bytes(), &[0xff, b'a', b'a']);
    }

    /// An exec entry of layout 2 that deferred its strings.
    fn deferred_exec(syscall: Syscall) -> Enter {
        let mut b = Enter::new(syscall, 5, 100, 101);
        b.e.flags = (layout::SC_ENTER_DEFERRED | layout::SC_ENTER_REFETCH) as u16;
        b
    }

    #[test]
    fn deferred_exec_entries_decode_in_layout_2_only() {
        const DEFERRED: u16 = layout::SC_ENTER_DEFERRED as u16;
        const REFETCH: u16 = layout::SC_ENTER_REFETCH as u16;
        let raw = deferred_exec(Syscall::Execveat)
            .arg(0, 7)
            .arg(4, 0x100)
            .build();
        let Ok(RawRecord::Enter(e)) = decode(&raw, 2) else {
            panic!("a deferred exec entry decodes in layout 2");
        };
        assert!(e.deferred());
        let Args::Exec {
            dirfd,
            flags,
            filename,
            args,
            args_truncated,
        } = e.args
        else {
            panic!("exec arguments");
        };
        // Integer arguments are in the entry; the strings are not known yet.
        assert_eq!((dirfd, flags), (Some(7), Some(0x100)));
        assert!(filename.fault && args.is_empty() && args_truncated);
        let bad = |b: Enter| {
            matches!(
                decode(&b.build(), 2),
                Err(DecodeError::BadEnterFlags { .. } | DecodeError::WrongStringCount { .. })
            )
        };
        assert!(matches!(
            decode(&raw, 1),
            Err(DecodeError::BadEnterFlags { .. })
        ));
        // Only on exec entries, only with REFETCH and alone, with no items.
        let mut mount = Enter::new(Syscall::Umount, 5, 1, 1).item(s("/x"));
        mount.e.flags = DEFERRED | REFETCH;
        assert!(bad(mount));
        let mut refetch = deferred_exec(Syscall::Execve);
        refetch.e.hdr.kind = layout::SC_REC_REFETCH as u8;
        assert!(bad(refetch));
        let mut alone = deferred_exec(Syscall::Execve);
        alone.e.flags = DEFERRED;
        assert!(bad(alone));
        let mut with_argv_flag = deferred_exec(Syscall::Execve);
        with_argv_flag.e.flags |= layout::SC_ENTER_ARGV_TRUNCATED as u16;
        assert!(bad(with_argv_flag));
        assert!(bad(deferred_exec(Syscall::Execve).item(s("/bin/ls"))));
    }

    #[test]
    fn execve_identity_and_args() {
        let e = enter(&sample_enter(Syscall::Execve, 5, 100, 101).build());
        assert_eq!(
            (e.syscall, e.ts_ns, e.pid, e.tid),
            (Syscall::Execve, 5, 100, 101)
        );
        assert_eq!(
            (e.ppid, e.uid, e.gid, e.mnt_ns, e.cgroup_id),
            (1, 1000, 100, 4026531841, 7)
        );
        assert_eq!(e.comm.as_bytes(), b"caller");
        assert_eq!(e.pcomm.as_bytes(), b"parent");
        assert_eq!(
            e.args,
            Args::Exec {
                dirfd: None,
                flags: None,
                filename: captured("/bin/ls"),
                args: vec![captured("ls"), captured("-l")],
                args_truncated: false,
            }
        );
    }

    #[test]
    fn execveat_dirfd_flags() {
        let raw = Enter::new(Syscall::Execveat, 1, 2, 2)
            .arg(0, 5)
            .arg(4, 0x1000)
            .item(s(""))
            .build();
        assert_eq!(
            enter(&raw).args,
            Args::Exec {
                dirfd: Some(5),
                flags: Some(0x1000),
                filename: captured(""),
                args: vec![],
                args_truncated: false,
            }
        );
        // AT_FDCWD survives the u64 round trip.
        let raw = Enter::new(Syscall::Execveat, 1, 2, 2)
            .arg(0, (-100i64) as u64)
            .item(s("x"))
            .build();
        assert!(matches!(
            enter(&raw).args,
            Args::Exec {
                dirfd: Some(-100),
                ..
            }
        ));
    }

    #[test]
    fn exec_truncation_flags() {
        let mut b = sample_enter(Syscall::Execve, 1, 2, 2);
        b.e.flags = layout::SC_ENTER_ARGV_TRUNCATED as u16;
        assert!(matches!(
            enter(&b.build()).args,
            Args::Exec {
                args_truncated: true,
                ..
            }
        ));

        let b = Enter::new(Syscall::Execve, 1, 2, 2)
            .item(s("/bin/x"))
            .item(item(b"aaaa", layout::SC_STR_TRUNCATED));
        match enter(&b.build()).args {
            Args::Exec {
                args,
                args_truncated,
                ..
            } => {
                assert!(args_truncated);
                assert!(args[0].truncated);
            }
            other => panic!("{other:?}"),
        }

        // A truncated filename is not a truncated argv.
        let b = Enter::new(Syscall::Execve, 1, 2, 2)
            .item(item(b"/very/long", layout::SC_STR_TRUNCATED));
        match enter(&b.build()).args {
            Args::Exec {
                filename,
                args_truncated,
                ..
            } => {
                assert!(filename.truncated);
                assert!(!args_truncated);
            }
            other => panic!("{other:?}"),
        }

        let mut b = Enter::new(Syscall::Execve, 1, 2, 2).item(s("/bin/x"));
        b.e.flags = layout::SC_ENTER_ARGV_NULL as u16;
        let e = enter(&b.build());
        assert!(e.argv_null());
        assert!(
            matches!(e.args, Args::Exec { ref args, args_truncated: false, .. } if args.is_empty())
        );

        let mut b = Enter::new(Syscall::Execve, 1, 2, 2)
            .item(s("/bin/x"))
            .item(s("x"));
        b.e.flags = layout::SC_ENTER_ARGV_FAULT as u16;
        let e = enter(&b.build());
        assert!(e.argv_fault());
        assert!(matches!(
            e.args,
            Args::Exec {
                args_truncated: true,
                ..
            }
        ));
    }

    #[test]
    fn exec_argv_null_with_items_is_rejected() {
        let mut b = sample_enter(Syscall::Execve, 1, 2, 2);
        b.e.flags = layout::SC_ENTER_ARGV_NULL as u16;
        assert!(matches!(
            dec(&b.build()),
            Err(DecodeError::BadEnterFlags { .. })
        ));
    }

    #[test]
    fn string_item_flags() {
        let b = Enter::new(Syscall::Execve, 1, 2, 2)
            .item(item(b"", layout::SC_STR_FAULT))
            .item(item(b"", layout::SC_STR_NULL))
            .item(item(b"", layout::SC_STR_SKIPPED))
            .item(item(b"\xff\x00bin", 0));
        match enter(&b.build()).args {
            Args::Exec { filename, args, .. } => {
                assert!(filename.fault && !filename.is_present());
                assert!(args[0].null && !args[0].is_present());
                assert!(args[1].skipped && !args[1].is_present());
                assert_eq!(args[2].bytes, b"\xff\x00bin");
                assert!(args[2].is_present());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn mount() {
        let raw = Enter::new(Syscall::Mount, 1, 2, 2)
            .arg(3, 0x20_0000_0001)
            .item(item(b"", layout::SC_STR_NULL))
            .item(s("/mnt"))
            .item(s("tmpfs"))
            .item(item(b"size=1", layout::SC_STR_TRUNCATED))
            .build();
        let source = Captured {
            null: true,
            ..Captured::default()
        };
        let mut data = captured("size=1");
        data.truncated = true;
        assert_eq!(
            enter(&raw).args,
            Args::Mount {
                source,
                target: captured("/mnt"),
                fstype: captured("tmpfs"),
                flags: 0x20_0000_0001,
                data,
            }
        );
    }

    #[test]
    fn umount_fsopen() {
        let raw = sample_enter(Syscall::Umount, 1, 2, 2)
            .arg(1, 0xffff_ffff_0000_0002)
            .build();
        assert_eq!(
            enter(&raw).args,
            Args::Umount {
                target: captured("/mnt"),
                flags: 2
            }
        );
        // umount2's flags are an int: its low 32 bits, signed.
        let raw = sample_enter(Syscall::Umount, 1, 2, 2)
            .arg(1, 0xffff_ffff)
            .build();
        assert!(matches!(enter(&raw).args, Args::Umount { flags: -1, .. }));
        let raw = sample_enter(Syscall::Fsopen, 1, 2, 2).build();
        assert_eq!(
            enter(&raw).args,
            Args::Fsopen {
                fsname: captured("ext4"),
                flags: 1
            }
        );
    }

    #[test]
    fn fsconfig_value_kinds() {
        // SET_STRING
        let raw = sample_enter(Syscall::Fsconfig, 1, 2, 2).build();
        assert_eq!(
            enter(&raw).args,
            Args::Fsconfig {
                fd: 3,
                cmd: 1,
                key: captured("source"),
                value: captured("/dev/sda1"),
                aux: 0
            }
        );
        // SET_BINARY: a blob of aux bytes
        let raw = Enter::new(Syscall::Fsconfig, 1, 2, 2)
            .arg(0, 3)
            .arg(1, 2)
            .arg(4, 3)
            .item(s("k"))
            .item(item(&[0, 1, 2], layout::SC_STR_BINARY))
            .build();
        match enter(&raw).args {
            Args::Fsconfig { value, aux, .. } => {
                assert_eq!(aux, 3);
                assert!(value.binary);
                assert_eq!(value.bytes, [0, 1, 2]);
            }
            other => panic!("{other:?}"),
        }
        // CMD_CREATE: key NULL, value skipped
        let raw = Enter::new(Syscall::Fsconfig, 1, 2, 2)
            .arg(0, 3)
            .arg(1, 6)
            .item(item(b"", layout::SC_STR_NULL))
            .item(item(b"", layout::SC_STR_SKIPPED))
            .build();
        match enter(&raw).args {
            Args::Fsconfig {
                key, value, cmd, ..
            } => {
                assert_eq!(cmd, 6);
                assert!(key.null);
                assert!(value.skipped);
            }
            other => panic!("{other:?}"),
        }
        // A value read for a command that has none is inconsistent.
        let raw = Enter::new(Syscall::Fsconfig, 1, 2, 2)
            .arg(1, 6)
            .item(s("k"))
            .item(s("v"))
            .build();
        assert!(matches!(
            dec(&raw),
            Err(DecodeError::BadStringFlags { index: 1, .. })
        ));
        // A blob where SET_STRING has a string.
        let raw = Enter::new(Syscall::Fsconfig, 1, 2, 2)
            .arg(1, 1)
            .item(s("k"))
            .item(item(b"v", layout::SC_STR_BINARY))
            .build();
        assert!(matches!(
            dec(&raw),
            Err(DecodeError::BadStringFlags { index: 1, .. })
        ));
    }

    #[test]
    fn fsmount_has_no_strings() {
        let raw = sample_enter(Syscall::Fsmount, 1, 2, 2).build();
        assert_eq!(
            enter(&raw).args,
            Args::Fsmount {
                fs_fd: 3,
                flags: 1,
                attr_flags: 0x20
            }
        );
        let raw = sample_enter(Syscall::Fsmount, 1, 2, 2).item(s("x")).build();
        assert!(matches!(
            dec(&raw),
            Err(DecodeError::WrongStringCount { .. })
        ));
    }

    #[test]
    fn move_mount_open_tree_fspick() {
        let raw = sample_enter(Syscall::MoveMount, 1, 2, 2).build();
        assert_eq!(
            enter(&raw).args,
            Args::MoveMount {
                from_dirfd: 4,
                from_path: captured(""),
                to_dirfd: -100,
                to_path: captured("/mnt"),
                flags: 4
            }
        );
        let raw = sample_enter(Syscall::OpenTree, 1, 2, 2).build();
        assert_eq!(
            enter(&raw).args,
            Args::OpenTree {
                dirfd: -100,
                path: captured("/mnt"),
                flags: 1
            }
        );
        let raw = sample_enter(Syscall::Fspick, 1, 2, 2).build();
        assert_eq!(
            enter(&raw).args,
            Args::Fspick {
                dirfd: -100,
                path: captured("/mnt"),
                flags: 1
            }
        );
    }

    #[test]
    fn mount_setattr() {
        let attr = [
            2u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0,
        ];
        let raw = Enter::new(Syscall::MountSetattr, 1, 2, 2)
            .arg(0, 9)
            .arg(2, 0x8000)
            .arg(4, 64)
            .item(s("/mnt"))
            .item(item(
                &attr,
                layout::SC_STR_BINARY | layout::SC_STR_TRUNCATED,
            ))
            .build();
        match enter(&raw).args {
            Args::MountSetattr {
                dirfd,
                path,
                flags,
                attr: blob,
                size,
            } => {
                assert_eq!((dirfd, flags, size), (9, 0x8000, 64));
                assert_eq!(path, captured("/mnt"));
                assert!(blob.binary && blob.truncated);
                let decoded = MountAttr::from_blob(&blob.bytes);
                assert_eq!((decoded.attr_set, decoded.propagation), (2, 0x4_0000));
            }
            other => panic!("{other:?}"),
        }
        // NULL attr pointer: the kernel writes NULL without BINARY.
        let raw = Enter::new(Syscall::MountSetattr, 1, 2, 2)
            .item(s("/mnt"))
            .item(item(b"", layout::SC_STR_NULL))
            .build();
        assert!(dec(&raw).is_ok());
        // Unreadable attr: FAULT | BINARY.
        let raw = Enter::new(Syscall::MountSetattr, 1, 2, 2)
            .item(s("/mnt"))
            .item(item(b"", layout::SC_STR_FAULT | layout::SC_STR_BINARY))
            .build();
        assert!(dec(&raw).is_ok());
        // The attr must be a blob, at most 32 bytes.
        let raw = Enter::new(Syscall::MountSetattr, 1, 2, 2)
            .item(s("/mnt"))
            .item(s("x"))
            .build();
        assert!(matches!(
            dec(&raw),
            Err(DecodeError::BadStringFlags { index: 1, .. })
        ));
        let raw = Enter::new(Syscall::MountSetattr, 1, 2, 2)
            .item(s("/mnt"))
            .item(item(&[0; 33], layout::SC_STR_BINARY))
            .build();
        assert!(matches!(
            dec(&raw),
            Err(DecodeError::StringTooLong { max: 32, .. })
        ));
    }

    #[test]
    fn wrong_string_counts() {
        for (syscall, count) in [
            (Syscall::Mount, 3),
            (Syscall::Mount, 5),
            (Syscall::Umount, 0),
            (Syscall::Umount, 2),
            (Syscall::Fsopen, 2),
            (Syscall::Fsconfig, 1),
            (Syscall::MoveMount, 1),
            (Syscall::OpenTree, 0),
            (Syscall::MountSetattr, 1),
            (Syscall::Fspick, 2),
            (Syscall::Execve, 0),
            (Syscall::Execveat, 130),
        ] {
            let mut b = Enter::new(syscall, 1, 2, 2);
            for _ in 0..count {
                b = b.item(s("x"));
            }
            assert!(
                matches!(dec(&b.build()), Err(DecodeError::WrongStringCount { .. })),
                "{syscall} with {count} strings"
            );
        }
        // 1 + 128 argv items is the most an exec record holds.
        let mut b = Enter::new(Syscall::Execve, 1, 2, 2);
        for _ in 0..129 {
            b = b.item(s("x"));
        }
        assert!(dec(&b.build()).is_ok());
    }

    #[test]
    fn nstrings_disagreeing_with_the_items() {
        // More items announced than present (exec, so the count itself is fine).
        let mut b = sample_enter(Syscall::Execve, 1, 2, 2);
        b.nstrings = Some(4);
        assert!(matches!(
            dec(&b.build()),
            Err(DecodeError::StringOverrun { index: 3, .. })
        ));
        // Fewer: the last item's bytes are left over.
        b.nstrings = Some(2);
        assert!(matches!(
            dec(&b.build()),
            Err(DecodeError::TrailingBytes { count: 6, .. })
        ));
        // An item length past the end.
        let mut raw = sample_enter(Syscall::Mount, 1, 2, 2).build();
        let last = raw.len() - 2 - 4;
        raw[last] = 200;
        assert!(matches!(
            dec(&raw),
            Err(DecodeError::StringOverrun { index: 3, .. })
        ));
    }

    #[test]
    fn corrupted_sizes() {
        let raw = sample_enter(Syscall::Mount, 1, 2, 2).build();
        // Size field disagrees with the slice.
        assert!(matches!(
            dec(&raw[..raw.len() - 1]),
            Err(DecodeError::SizeMismatch { .. })
        ));
        let mut longer = raw.clone();
        longer.push(0);
        assert!(matches!(
            dec(&longer),
            Err(DecodeError::SizeMismatch { .. })
        ));
        // Shorter than the header.
        assert!(matches!(
            dec(&raw[..10]),
            Err(DecodeError::TooShort { need: 24, .. })
        ));
        assert!(matches!(dec(&[]), Err(DecodeError::TooShort { .. })));
        // An entry shorter than sc_enter, size field consistent.
        let mut cut = raw[..100].to_vec();
        cut[16..20].copy_from_slice(&100u32.to_le_bytes());
        assert!(matches!(
            dec(&cut),
            Err(DecodeError::SizeOutOfRange { min: 136, .. })
        ));
        // An exit that is not 48 bytes.
        let mut x = exit(Syscall::Mount, 1, 2, 2, 0, "m");
        x.extend_from_slice(&[0; 4]);
        x[16..20].copy_from_slice(&52u32.to_le_bytes());
        assert!(matches!(
            dec(&x),
            Err(DecodeError::SizeOutOfRange {
                min: 48,
                max: 48,
                ..
            })
        ));
        // An entry larger than any the kernel writes.
        let big = Enter::new(Syscall::Execve, 1, 2, 2)
            .item(s(&"a".repeat(4096)))
            .item(s(&"a".repeat(4096)))
            .item(s(&"a".repeat(4096)))
            .item(s(&"a".repeat(4096)))
            .build();
        assert!(matches!(dec(&big), Err(DecodeError::SizeOutOfRange { .. })));
    }

    #[test]
    fn unknown_kind_syscall_version_reserved() {
        let mut raw = exit(Syscall::Mount, 1, 2, 2, 0, "m");
        raw[21] = 14;
        assert_eq!(dec(&raw), Err(DecodeError::UnknownSyscall(14)));
        // Fork and exit are the lifecycle records' only.
        raw[21] = 12;
        assert!(matches!(
            dec(&raw),
            Err(DecodeError::KindMismatch { kind: 2, .. })
        ));
        raw[21] = 0;
        assert_eq!(dec(&raw), Err(DecodeError::UnknownSyscall(0)));
        raw[21] = 3;
        raw[20] = 4;
        assert_eq!(dec(&raw), Err(DecodeError::UnknownKind(4)));
        // Kind 3 (refetch) has the entry layout: an exit-sized one is too short.
        raw[20] = 3;
        assert!(matches!(dec(&raw), Err(DecodeError::SizeOutOfRange { .. })));
        raw[20] = 2;
        assert!(dec(&raw).is_ok());
        assert_eq!(
            decode(&raw, 2),
            dec(&raw),
            "layout 2 has layout 1's structs"
        );
        assert_eq!(decode(&raw, 3), dec(&raw), "layout 3 keeps the structs");
        assert_eq!(
            decode(&raw, 4),
            Err(DecodeError::UnsupportedLayoutVersion(4))
        );
        assert_eq!(
            decode(&raw, 0),
            Err(DecodeError::UnsupportedLayoutVersion(0))
        );
        raw[22] = 1;
        assert!(matches!(
            dec(&raw),
            Err(DecodeError::ReservedNotZero { .. })
        ));

        let mut b = sample_enter(Syscall::Umount, 1, 2, 2);
        b.e.reserved = 5;
        assert!(matches!(
            dec(&b.build()),
            Err(DecodeError::ReservedNotZero { .. })
        ));
    }

    #[test]
    fn refetch_records_decode_like_entries() {
        let mut b = sample_enter(Syscall::Mount, 1, 2, 2);
        b.e.hdr.kind = layout::SC_REC_REFETCH as u8;
        let Ok(RawRecord::Refetch(refetch)) = dec(&b.build()) else {
            panic!("a refetch record decodes as RawRecord::Refetch");
        };
        assert_eq!((refetch.syscall, refetch.pid), (Syscall::Mount, 2));
        // The entry that asks for it carries SC_ENTER_REFETCH, on any syscall.
        let mut b = sample_enter(Syscall::Umount, 1, 2, 2);
        b.e.flags = layout::SC_ENTER_REFETCH as u16;
        assert!(matches!(dec(&b.build()), Ok(RawRecord::Enter(_))));
    }

    /// docs/FORMAT.md, Refetch record: its `flags` never has REFETCH or
    /// DEFERRED (validity rules: such a record is undecodable); the argv
    /// flags are allowed on an exec refetch.
    #[test]
    fn refetch_records_never_ask_for_a_refetch() {
        for syscall in [Syscall::Umount, Syscall::Execve, Syscall::Execveat] {
            let mut b = sample_enter(syscall, 1, 2, 2);
            b.e.hdr.kind = layout::SC_REC_REFETCH as u8;
            b.e.flags = layout::SC_ENTER_REFETCH as u16;
            for version in [1, 2] {
                assert!(
                    matches!(
                        decode(&b.build(), version),
                        Err(DecodeError::BadEnterFlags { .. })
                    ),
                    "{syscall} refetch with REFETCH, layout {version}"
                );
            }
        }
        let mut b = deferred_exec(Syscall::Execve);
        b.e.hdr.kind = layout::SC_REC_REFETCH as u8;
        assert!(matches!(
            decode(&b.build(), 2),
            Err(DecodeError::BadEnterFlags { .. })
        ));
        let mut b = sample_enter(Syscall::Execve, 1, 2, 2);
        b.e.hdr.kind = layout::SC_REC_REFETCH as u8;
        b.e.flags = layout::SC_ENTER_ARGV_TRUNCATED as u16;
        assert!(matches!(decode(&b.build(), 2), Ok(RawRecord::Refetch(_))));
    }

    #[test]
    fn bad_flags() {
        let mut b = sample_enter(Syscall::Execve, 1, 2, 2);
        b.e.flags = 0x10;
        assert!(matches!(
            dec(&b.build()),
            Err(DecodeError::BadEnterFlags { .. })
        ));
        let mut b = sample_enter(Syscall::Mount, 1, 2, 2);
        b.e.flags = layout::SC_ENTER_ARGV_TRUNCATED as u16;
        assert!(matches!(
            dec(&b.build()),
            Err(DecodeError::BadEnterFlags { .. })
        ));

        for (bytes, flags) in [
            (&b"x"[..], 0x20),                                           // unknown bit
            (&b"x"[..], layout::SC_STR_NULL),                            // NULL with data
            (&b""[..], layout::SC_STR_NULL | layout::SC_STR_TRUNCATED),  // NULL plus another flag
            (&b""[..], layout::SC_STR_FAULT | layout::SC_STR_TRUNCATED), // fault plus truncated
            (&b""[..], layout::SC_STR_SKIPPED | layout::SC_STR_NULL),    // two kinds of absent
            (&b"x"[..], layout::SC_STR_BINARY),                          // blob for a path
        ] {
            let raw = Enter::new(Syscall::Umount, 1, 2, 2)
                .item(item(bytes, flags))
                .build();
            assert!(
                matches!(dec(&raw), Err(DecodeError::BadStringFlags { .. })),
                "flags {flags:#x}"
            );
        }
    }

    #[test]
    fn string_length_limits() {
        let raw = Enter::new(Syscall::Umount, 1, 2, 2)
            .item(s(&"p".repeat(4096)))
            .build();
        assert!(dec(&raw).is_ok());
        let raw = Enter::new(Syscall::Umount, 1, 2, 2)
            .item(s(&"p".repeat(4097)))
            .build();
        assert!(matches!(
            dec(&raw),
            Err(DecodeError::StringTooLong { max: 4096, .. })
        ));
    }

    #[test]
    fn every_sample_decodes() {
        for syscall in Syscall::ALL.into_iter().filter(|s| !s.is_lifecycle()) {
            let raw = sample_enter(syscall, 1, 2, 3).build();
            let e = enter(&raw);
            assert_eq!(e.syscall, syscall);
            assert_eq!(e.args.clone(), enter(&raw).args);
        }
    }

    #[test]
    fn splitting_packed_records() {
        let mut buf = sample_enter(Syscall::Mount, 1, 2, 2).build();
        buf.extend(exit(Syscall::Mount, 2, 2, 2, 0, "mount"));
        buf.extend(sample_enter(Syscall::Execve, 3, 4, 4).build());
        let records: Vec<_> = split_records(&buf, 1)
            .collect::<Result<_, _>>()
            .expect("valid");
        assert_eq!(records.len(), 3);
        assert!(records.iter().all(|r| dec(r).is_ok()));
        assert_eq!(records.iter().map(|r| r.len()).sum::<usize>(), buf.len());

        // A record cut short: one error, then nothing.
        let cut = &buf[..buf.len() - 3];
        let mut it = split_records(cut, 1);
        assert!(it.next().is_some_and(|r| r.is_ok()));
        assert!(it.next().is_some_and(|r| r.is_ok()));
        assert!(matches!(it.next(), Some(Err(DecodeError::TooShort { .. }))));
        assert!(it.next().is_none());
        // A zero size field must not loop forever.
        let zero = [0u8; 30];
        let mut it = split_records(&zero, 1);
        assert!(matches!(
            it.next(),
            Some(Err(DecodeError::SizeOutOfRange { .. }))
        ));
        assert!(it.next().is_none());
        assert_eq!(
            record_len(&buf, 7),
            Err(DecodeError::UnsupportedLayoutVersion(7))
        );
    }

    #[test]
    fn errors_are_one_line() {
        let raw = Enter::new(Syscall::Umount, 1, 2, 2)
            .item(item(b"x", 0x40))
            .build();
        let message = dec(&raw).expect_err("invalid").to_string();
        assert!(!message.contains('\n'));
        assert!(message.contains("umount"), "{message}");
    }

    fn valid_records() -> Vec<Vec<u8>> {
        let mut out: Vec<Vec<u8>> = Syscall::ALL
            .iter()
            .map(|&sc| sample_enter(sc, 1, 2, 3).build())
            .collect();
        out.push(exit(Syscall::Execve, 1, 2, 3, 0, "ls"));
        out.push(deferred_exec(Syscall::Execveat).build());
        out
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400), version in 0u32..4) {
            let _ = decode(&bytes, version);
            let _ = record_len(&bytes, version);
            let _ = split_records(&bytes, version).count();
        }

        #[test]
        fn mutated_records_never_panic(
            which in 0usize..13,
            edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
            cut in proptest::option::of(any::<usize>()),
        ) {
            let records = valid_records();
            let mut raw = records[which % records.len()].clone();
            for (pos, value) in edits {
                let len = raw.len();
                raw[pos % len] = value;
            }
            if let Some(cut) = cut {
                raw.truncate(cut % (raw.len() + 1));
            }
            for version in [1, 2] {
                let _ = decode(&raw, version);
                let _ = split_records(&raw, version).count();
            }
        }

        #[test]
        fn mutated_fields_are_caught_or_decoded(
            which in 0usize..12,
            field in 0usize..4,
            value in any::<u32>(),
        ) {
            // Rewrite the size, the nstrings or an item length to an arbitrary
            // value: the result must be a typed error or a valid record.
            let records = valid_records();
            let mut raw = records[which % records.len()].clone();
            let len = raw.len();
            match field {
                0 => raw[16..20].copy_from_slice(&value.to_le_bytes()),
                1 if len >= 132 => raw[128..130].copy_from_slice(&(value as u16).to_le_bytes()),
                2 if len >= 140 => raw[136..138].copy_from_slice(&(value as u16).to_le_bytes()),
                _ => raw[20] = value as u8,
            }
            let _ = decode(&raw, 1);
        }
    }
}
