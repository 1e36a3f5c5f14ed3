//! The decoded event model: one syscall, entry and exit paired, with every
//! argument decoded from the raw kernel records. Produced by `reassemble`,
//! consumed by `filter` and `render`.

use std::fmt;
use std::sync::Arc;

/// The traced syscalls. Numbers are the raw layout's `enum sc_syscall`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Syscall {
    Execve,
    Execveat,
    Mount,
    Umount,
    Fsopen,
    Fsconfig,
    Fsmount,
    MoveMount,
    OpenTree,
    MountSetattr,
    Fspick,
    /// Not a syscall: a task was created (fork, vfork, clone, clone3).
    Fork,
    /// Not a syscall: a process ended (its last thread exited).
    Exit,
}

impl Syscall {
    pub const ALL: [Syscall; 13] = [
        Syscall::Execve,
        Syscall::Execveat,
        Syscall::Mount,
        Syscall::Umount,
        Syscall::Fsopen,
        Syscall::Fsconfig,
        Syscall::Fsmount,
        Syscall::MoveMount,
        Syscall::OpenTree,
        Syscall::MountSetattr,
        Syscall::Fspick,
        Syscall::Fork,
        Syscall::Exit,
    ];

    /// From the raw layout's syscall number.
    pub fn from_raw(raw: u8) -> Option<Syscall> {
        Syscall::ALL.get(usize::from(raw).checked_sub(1)?).copied()
    }

    pub fn raw(self) -> u8 {
        self as u8 + 1
    }

    /// The `event` field of JSON/CSV output: execve and execveat are both `exec`.
    pub const fn event_name(self) -> &'static str {
        match self {
            Syscall::Execve | Syscall::Execveat => "exec",
            Syscall::Mount => "mount",
            Syscall::Umount => "umount",
            Syscall::Fsopen => "fsopen",
            Syscall::Fsconfig => "fsconfig",
            Syscall::Fsmount => "fsmount",
            Syscall::MoveMount => "move_mount",
            Syscall::OpenTree => "open_tree",
            Syscall::MountSetattr => "mount_setattr",
            Syscall::Fspick => "fspick",
            Syscall::Fork => "fork",
            Syscall::Exit => "exit",
        }
    }

    /// The syscall's own name (`execveat`, `umount2` is named `umount` as bcc does).
    pub fn name(self) -> &'static str {
        match self {
            Syscall::Execve => "execve",
            Syscall::Execveat => "execveat",
            other => other.event_name(),
        }
    }

    pub fn is_exec(self) -> bool {
        matches!(self, Syscall::Execve | Syscall::Execveat)
    }

    /// The process lifecycle kinds (not syscalls): fork and exit.
    pub fn is_lifecycle(self) -> bool {
        matches!(self, Syscall::Fork | Syscall::Exit)
    }

    /// Which `--events` class the syscall belongs to.
    pub fn class(self) -> EventClass {
        if self.is_exec() {
            EventClass::Exec
        } else if self.is_lifecycle() {
            EventClass::Proc
        } else {
            EventClass::Mount
        }
    }
}

impl fmt::Display for Syscall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The event classes of `--events`, on `record` and `replay` alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventClass {
    Exec,
    Mount,
    /// Process lifecycle: fork and exit.
    Proc,
}

impl EventClass {
    pub const ALL: [EventClass; 3] = [EventClass::Exec, EventClass::Mount, EventClass::Proc];

    pub fn name(self) -> &'static str {
        match self {
            EventClass::Exec => "exec",
            EventClass::Mount => "mount",
            EventClass::Proc => "proc",
        }
    }

    pub fn from_name(name: &str) -> Option<EventClass> {
        EventClass::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// A set of event classes: what `record --events` traces, what a capture
/// header says was traced, what `replay --events` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventClasses {
    pub exec: bool,
    pub mount: bool,
    pub proc: bool,
}

impl Default for EventClasses {
    fn default() -> Self {
        EventClasses::ALL
    }
}

/// An `--events` list that names no class or an unknown one. One line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventClassError {
    #[error("unknown event class {0:?} in --events (expected a comma list of exec, mount, proc)")]
    Unknown(String),
    #[error("--events has an empty item (expected a comma list of exec, mount, proc)")]
    Empty,
}

impl EventClasses {
    pub const ALL: EventClasses = EventClasses {
        exec: true,
        mount: true,
        proc: true,
    };
    pub const NONE: EventClasses = EventClasses {
        exec: false,
        mount: false,
        proc: false,
    };

    /// Parses `--events`' comma list of class names (spaces around names
    /// are ignored; an empty list or an empty item is an error).
    pub fn parse_list(list: &str) -> Result<EventClasses, EventClassError> {
        let mut classes = EventClasses::NONE;
        for name in list.split(',').map(str::trim) {
            if name.is_empty() {
                return Err(EventClassError::Empty);
            }
            let class =
                EventClass::from_name(name).ok_or_else(|| EventClassError::Unknown(name.into()))?;
            classes.insert(class);
        }
        Ok(classes)
    }

    /// The classes a capture header lists (`CaptureHeader::events`); names
    /// this build does not know are left out. An empty list means every
    /// class (captures written before the header listed them).
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> EventClasses {
        if names.is_empty() {
            return EventClasses::ALL;
        }
        let mut classes = EventClasses::NONE;
        for class in names
            .iter()
            .filter_map(|n| EventClass::from_name(n.as_ref()))
        {
            classes.insert(class);
        }
        classes
    }

    pub fn insert(&mut self, class: EventClass) {
        match class {
            EventClass::Exec => self.exec = true,
            EventClass::Mount => self.mount = true,
            EventClass::Proc => self.proc = true,
        }
    }

    pub fn contains(&self, class: EventClass) -> bool {
        match class {
            EventClass::Exec => self.exec,
            EventClass::Mount => self.mount,
            EventClass::Proc => self.proc,
        }
    }

    /// The classes in the set, in `EventClass::ALL` order.
    pub fn iter(self) -> impl Iterator<Item = EventClass> {
        EventClass::ALL
            .into_iter()
            .filter(move |c| self.contains(*c))
    }

    /// The names of the classes in the set, for the capture header.
    pub fn names(self) -> Vec<String> {
        self.iter().map(|c| c.name().to_string()).collect()
    }
}

/// A command name (`comm`) as the kernel gave it: at most 16 bytes, up to the
/// first NUL. Kept inline (no allocation per record or event); derefs to its bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Comm {
    bytes: [u8; 16],
    len: u8,
}

impl Comm {
    /// From the raw `char[16]` field: the bytes up to the first NUL.
    pub fn from_raw(raw: &[i8; 16]) -> Comm {
        // Sixteen bytes as one integer: the first NUL found without a loop,
        // and the bytes after it zeroed (so that equal names compare equal).
        const ONES: u128 = u128::from_le_bytes([0x01; 16]);
        const HIGHS: u128 = u128::from_le_bytes([0x80; 16]);
        let word = u128::from_le_bytes(raw.map(|byte| byte as u8));
        // The lowest set bit marks the first zero byte (exact for the first).
        let zeros = word.wrapping_sub(ONES) & !word & HIGHS;
        let len = (zeros.trailing_zeros() / 8).min(16);
        let keep = u128::MAX.checked_shr(128 - len * 8).unwrap_or(0);
        Comm {
            bytes: (word & keep).to_le_bytes(),
            len: len as u8,
        }
    }

    /// From bytes (at most 16 are kept, up to the first NUL).
    pub fn from_bytes(bytes: &[u8]) -> Comm {
        let mut raw = [0i8; 16];
        for (dst, &src) in raw.iter_mut().zip(bytes.iter()) {
            *dst = src as i8;
        }
        Comm::from_raw(&raw)
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }
}

impl std::ops::Deref for Comm {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<[u8]> for Comm {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq<[u8]> for Comm {
    fn eq(&self, other: &[u8]) -> bool {
        self.as_bytes() == other
    }
}

impl PartialEq<&[u8]> for Comm {
    fn eq(&self, other: &&[u8]) -> bool {
        self.as_bytes() == *other
    }
}

impl<const N: usize> PartialEq<[u8; N]> for Comm {
    fn eq(&self, other: &[u8; N]) -> bool {
        self.as_bytes() == other
    }
}

impl<const N: usize> PartialEq<&[u8; N]> for Comm {
    fn eq(&self, other: &&[u8; N]) -> bool {
        self.as_bytes() == *other
    }
}

impl fmt::Debug for Comm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

/// The bytes of one captured argument, without an allocation of their own
/// when they come from a capture: up to [`CapturedBytes::INLINE`] bytes
/// (most file system types, options, short arguments) are kept in the
/// value itself; longer ones, as decoded, are a slice of the decompressed
/// frame they were read from ([`CapturedBytes::shared`], which keeps the
/// frame alive: [`CapturedBytes::detach`] gives them a buffer of their
/// own); others have a heap buffer of their own. Derefs to `[u8]` and
/// compares with byte slices, arrays and vectors.
#[derive(Clone)]
pub struct CapturedBytes(Repr);

#[derive(Clone)]
enum Repr {
    /// `buf[..len]`, `len` at most `INLINE`.
    Inline {
        len: u8,
        buf: [u8; CapturedBytes::INLINE],
    },
    /// `frame[start..start + len]`.
    Shared {
        frame: Arc<Vec<u8>>,
        start: u32,
        len: u32,
    },
    Heap(Box<[u8]>),
}

impl CapturedBytes {
    /// Values this long or shorter are kept inline: the value is then no
    /// larger than it is for a heap buffer's pointer and length.
    pub const INLINE: usize = 22;

    pub fn new(bytes: &[u8]) -> CapturedBytes {
        let mut buf = [0; CapturedBytes::INLINE];
        match buf.get_mut(..bytes.len()) {
            Some(head) => {
                head.copy_from_slice(bytes);
                CapturedBytes(Repr::Inline {
                    len: bytes.len() as u8,
                    buf,
                })
            }
            None => CapturedBytes(Repr::Heap(bytes.into())),
        }
    }

    /// `frame[range]`: kept inline when short enough, else shared with the
    /// frame (no copy), with a reference to it from `shares` when it has one
    /// ([`FrameShares::share`]). A range outside the frame gives no bytes.
    #[inline]
    pub fn shared(
        frame: &Arc<Vec<u8>>,
        shares: &mut FrameShares,
        range: std::ops::Range<usize>,
    ) -> CapturedBytes {
        let bytes = frame.get(range.clone()).unwrap_or_default();
        if bytes.len() <= CapturedBytes::INLINE {
            return CapturedBytes::new(bytes);
        }
        match (u32::try_from(range.start), u32::try_from(bytes.len())) {
            (Ok(start), Ok(len)) => CapturedBytes(Repr::Shared {
                frame: shares.share(frame),
                start,
                len,
            }),
            _ => CapturedBytes::new(bytes),
        }
    }

    /// Empties bytes that are a slice of a frame and returns their
    /// reference to it (moved out: the count is untouched).
    fn take_frame(&mut self) -> Option<Arc<Vec<u8>>> {
        if !self.is_shared() {
            return None;
        }
        let empty = Repr::Inline {
            len: 0,
            buf: [0; CapturedBytes::INLINE],
        };
        match std::mem::replace(&mut self.0, empty) {
            Repr::Shared { frame, .. } => Some(frame),
            _ => None,
        }
    }

    /// True when the bytes are a slice of a frame ([`CapturedBytes::shared`]).
    pub fn is_shared(&self) -> bool {
        matches!(self.0, Repr::Shared { .. })
    }

    /// Gives bytes shared with a frame a buffer of their own, so that they
    /// no longer keep the frame alive.
    pub fn detach(&mut self) {
        if self.is_shared() {
            *self = CapturedBytes(Repr::Heap(self.as_slice().into()));
        }
    }

    pub fn as_slice(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, buf } => buf.get(..usize::from(*len)).unwrap_or_default(),
            Repr::Shared { frame, start, len } => {
                let start = *start as usize;
                frame.get(start..start + *len as usize).unwrap_or_default()
            }
            Repr::Heap(bytes) => bytes,
        }
    }
}

/// References to the frame being decoded, given back by events done with
/// it ([`FrameShares::reclaim`]) and handed out again for that frame's
/// strings ([`CapturedBytes::shared`]): a reference moved from one event
/// to the next costs neither the atomic increment of a new one nor the
/// atomic decrement of dropping the old.
#[derive(Debug, Default)]
pub struct FrameShares {
    spare: Vec<Arc<Vec<u8>>>,
}

impl FrameShares {
    /// At most this many are kept (an event has a few shared strings).
    const MAX_SPARE: usize = 16;

    /// A reference to `frame`: a spare one if it is of `frame`, else a new one.
    #[inline]
    pub fn share(&mut self, frame: &Arc<Vec<u8>>) -> Arc<Vec<u8>> {
        match self.spare.pop() {
            Some(spare) if Arc::ptr_eq(&spare, frame) => spare,
            _ => Arc::clone(frame),
        }
    }

    /// Takes the frame references of `args`' shared strings, which are left
    /// empty: for an event that is done with.
    pub fn reclaim(&mut self, args: &mut Args) {
        args.for_each_captured(|captured| {
            if let Some(frame) = captured.bytes.take_frame() {
                if self.spare.len() < FrameShares::MAX_SPARE {
                    self.spare.push(frame);
                }
            }
        });
    }

    /// Drops every spare reference: the frame is done with, and must not be
    /// kept from being reused.
    pub fn clear(&mut self) {
        self.spare.clear();
    }
}

impl Default for CapturedBytes {
    fn default() -> Self {
        CapturedBytes::new(&[])
    }
}

impl std::ops::Deref for CapturedBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for CapturedBytes {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl std::borrow::Borrow<[u8]> for CapturedBytes {
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

impl fmt::Debug for CapturedBytes {
    /// As a `Vec<u8>`: a list of numbers.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_slice(), f)
    }
}

impl PartialEq for CapturedBytes {
    fn eq(&self, other: &CapturedBytes) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for CapturedBytes {}

impl std::hash::Hash for CapturedBytes {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

impl PartialOrd for CapturedBytes {
    fn partial_cmp(&self, other: &CapturedBytes) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for CapturedBytes {
    fn cmp(&self, other: &CapturedBytes) -> std::cmp::Ordering {
        self.as_slice().cmp(other.as_slice())
    }
}

impl PartialEq<[u8]> for CapturedBytes {
    fn eq(&self, other: &[u8]) -> bool {
        self.as_slice() == other
    }
}

impl PartialEq<&[u8]> for CapturedBytes {
    fn eq(&self, other: &&[u8]) -> bool {
        self.as_slice() == *other
    }
}

impl<const N: usize> PartialEq<[u8; N]> for CapturedBytes {
    fn eq(&self, other: &[u8; N]) -> bool {
        self.as_slice() == other
    }
}

impl<const N: usize> PartialEq<&[u8; N]> for CapturedBytes {
    fn eq(&self, other: &&[u8; N]) -> bool {
        self.as_slice() == *other
    }
}

impl PartialEq<Vec<u8>> for CapturedBytes {
    fn eq(&self, other: &Vec<u8>) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl From<&[u8]> for CapturedBytes {
    fn from(bytes: &[u8]) -> CapturedBytes {
        CapturedBytes::new(bytes)
    }
}

impl<const N: usize> From<&[u8; N]> for CapturedBytes {
    fn from(bytes: &[u8; N]) -> CapturedBytes {
        CapturedBytes::new(bytes)
    }
}

impl From<Vec<u8>> for CapturedBytes {
    fn from(bytes: Vec<u8>) -> CapturedBytes {
        if bytes.len() <= CapturedBytes::INLINE {
            CapturedBytes::new(&bytes)
        } else {
            CapturedBytes(Repr::Heap(bytes.into_boxed_slice()))
        }
    }
}

impl From<CapturedBytes> for Vec<u8> {
    fn from(bytes: CapturedBytes) -> Vec<u8> {
        match bytes.0 {
            Repr::Heap(heap) => heap.into_vec(),
            Repr::Inline { .. } | Repr::Shared { .. } => bytes.as_slice().to_vec(),
        }
    }
}

/// Bytes copied from user memory for one pointer argument, as captured.
/// The bytes are kept as they were: no UTF-8 assumption.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    pub bytes: CapturedBytes,
    /// The pointer was NULL.
    pub null: bool,
    /// The value was longer than what was kept.
    pub truncated: bool,
    /// Reading user memory failed.
    pub fault: bool,
    /// A byte blob (fsconfig binary value, struct mount_attr), not a C string.
    pub binary: bool,
    /// Not read: the argument carries nothing for this call.
    pub skipped: bool,
}

impl Captured {
    pub fn from_bytes(bytes: &[u8]) -> Captured {
        Captured {
            bytes: CapturedBytes::new(bytes),
            ..Captured::default()
        }
    }

    /// True when there is a value to show (not NULL, not skipped, not a fault).
    pub fn is_present(&self) -> bool {
        !(self.null || self.skipped || self.fault)
    }
}

/// `struct mount_attr` of mount_setattr(2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MountAttr {
    pub attr_set: u64,
    pub attr_clr: u64,
    pub propagation: u64,
    pub userns_fd: u64,
}

impl MountAttr {
    /// Decodes the captured blob (little-endian u64s; missing bytes are zero,
    /// as the kernel treats a short struct).
    pub fn from_blob(blob: &[u8]) -> MountAttr {
        let word = |i: usize| -> u64 {
            let mut bytes = [0u8; 8];
            for (k, b) in bytes.iter_mut().enumerate() {
                *b = blob.get(i * 8 + k).copied().unwrap_or(0);
            }
            u64::from_le_bytes(bytes)
        };
        MountAttr {
            attr_set: word(0),
            attr_clr: word(1),
            propagation: word(2),
            userns_fd: word(3),
        }
    }
}

/// Syscall-specific arguments, named as in each syscall's man page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Args {
    /// execve(filename, argv, envp) and execveat(dirfd, filename, argv, envp, flags).
    Exec {
        /// execveat only.
        dirfd: Option<i32>,
        /// execveat only (`int flags`, as the kernel declares it).
        flags: Option<i32>,
        filename: Captured,
        /// argv, argv[0] first, as captured (at most record's --max-args).
        args: Vec<Captured>,
        /// argv had more entries than were captured (or one was cut short).
        args_truncated: bool,
    },
    Mount {
        source: Captured,
        target: Captured,
        fstype: Captured,
        flags: u64,
        data: Captured,
    },
    Umount {
        target: Captured,
        /// umount2's `int flags`.
        flags: i32,
    },
    Fsopen {
        fsname: Captured,
        flags: u32,
    },
    Fsconfig {
        fd: i32,
        cmd: u32,
        key: Captured,
        /// A string for SET_STRING/SET_PATH/SET_PATH_EMPTY, a blob for
        /// SET_BINARY, skipped otherwise.
        value: Captured,
        aux: i32,
    },
    Fsmount {
        fs_fd: i32,
        flags: u32,
        attr_flags: u32,
    },
    MoveMount {
        from_dirfd: i32,
        from_path: Captured,
        to_dirfd: i32,
        to_path: Captured,
        flags: u32,
    },
    OpenTree {
        dirfd: i32,
        path: Captured,
        flags: u32,
    },
    MountSetattr {
        dirfd: i32,
        path: Captured,
        flags: u32,
        /// The captured struct mount_attr bytes (at most 32).
        attr: Captured,
        size: u64,
    },
    Fspick {
        dirfd: i32,
        path: Captured,
        flags: u32,
    },
    /// A task was created; the event's pid/tid are the creating task's.
    Fork {
        child_pid: u32,
        child_tid: u32,
        /// The CLONE_* bits derived from what the tasks share.
        clone_flags: u64,
        /// The child's start time (boot clock, ns): with its pid, its identity.
        child_start_ns: u64,
    },
    /// A process ended; the event's pid/tid are its last thread's.
    Exit {
        /// The wait(2) status: exit status << 8, or the signal | 0x80 when it dumped core.
        status: u32,
        /// The process's start time (boot clock, ns).
        start_ns: u64,
    },
}

impl Args {
    /// Gives every captured argument that is a slice of a frame a buffer of
    /// its own ([`CapturedBytes::detach`]).
    pub fn detach(&mut self) {
        self.for_each_captured(|c| c.bytes.detach());
    }

    /// Calls `f` on every captured argument.
    pub fn for_each_captured(&mut self, mut f: impl FnMut(&mut Captured)) {
        match self {
            Args::Exec { filename, args, .. } => {
                f(filename);
                args.iter_mut().for_each(&mut f);
            }
            Args::Mount {
                source,
                target,
                fstype,
                data,
                ..
            } => [source, target, fstype, data].into_iter().for_each(&mut f),
            Args::Umount { target: c, .. }
            | Args::Fsopen { fsname: c, .. }
            | Args::OpenTree { path: c, .. }
            | Args::Fspick { path: c, .. } => f(c),
            Args::Fsconfig { key, value, .. } => [key, value].into_iter().for_each(&mut f),
            Args::MoveMount {
                from_path, to_path, ..
            } => [from_path, to_path].into_iter().for_each(&mut f),
            Args::MountSetattr { path, attr, .. } => [path, attr].into_iter().for_each(&mut f),
            Args::Fsmount { .. } | Args::Fork { .. } | Args::Exit { .. } => {}
        }
    }

    /// The exit status of an `Exit`'s wait status, `None` when a signal ended it.
    pub fn exit_code(status: u32) -> Option<i32> {
        (status & 0x7f == 0).then_some(((status >> 8) & 0xff) as i32)
    }

    /// The signal that ended the process, `None` for a normal exit.
    pub fn exit_signal(status: u32) -> Option<u32> {
        let signal = status & 0x7f;
        (signal != 0).then_some(signal)
    }

    /// Whether the process dumped core.
    pub fn core_dumped(status: u32) -> bool {
        status & 0x80 != 0
    }
}

/// Why a call's entry has no exit in the capture (docs/EVENTS.md,
/// "Unfinished calls"). The names are the JSON `unfinished_reason` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unfinished {
    /// A later record of the same thread (a new entry, another syscall's
    /// exit, or an exec that made the thread's process lose its old leader)
    /// shows the call ended: its exit record was lost. `exit_lost`.
    Superseded,
    /// The pairing table was full and this was its oldest entry. `table_full`.
    TableFull,
    /// No exit within the pairing's age limit of capture time. `too_old`.
    TooOld,
    /// Still in progress when the capture ended. `capture_ended`.
    EndOfCapture,
}

impl Unfinished {
    pub const ALL: [Unfinished; 4] = [
        Unfinished::EndOfCapture,
        Unfinished::Superseded,
        Unfinished::TooOld,
        Unfinished::TableFull,
    ];

    /// The JSON/CSV `unfinished_reason` value.
    pub fn name(self) -> &'static str {
        match self {
            Unfinished::Superseded => "exit_lost",
            Unfinished::TableFull => "table_full",
            Unfinished::TooOld => "too_old",
            Unfinished::EndOfCapture => "capture_ended",
        }
    }
}

/// One syscall: entry and exit paired, or an entry whose exit is not in the
/// capture (`unfinished`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub syscall: Syscall,
    /// Boot-time clock at entry, nanoseconds.
    pub ts_ns: u64,
    /// Wall-clock time of the entry, nanoseconds since the Unix epoch (UTC),
    /// from the capture's clock anchors.
    pub wall_ns: i64,
    /// Exit time minus entry time (0 when the entry was later; 0 and
    /// meaningless when `unfinished`).
    pub latency_ns: u64,
    /// Process id (tgid).
    pub pid: u32,
    /// Thread id at entry. For an exec from a non-leader thread this is the
    /// thread that called exec (its id becomes `pid` when the exec succeeds).
    pub tid: u32,
    pub ppid: u32,
    pub uid: u32,
    pub gid: u32,
    /// Command name after the call (for exec: the new image's); for an
    /// unfinished call, the one at entry.
    pub comm: Comm,
    /// Command name at entry.
    pub comm_before: Comm,
    /// Parent's command name.
    pub pcomm: Comm,
    pub mnt_ns: u32,
    pub cgroup_id: u64,
    /// The cgroup v2 path of `cgroup_id` (`/system.slice/x.scope`), as the
    /// recorder stored it in the capture; `None` when it is not known.
    pub cgroup_path: Option<std::sync::Arc<[u8]>>,
    /// The syscall's return value (negative errno on failure); 0 for fork
    /// and exit events; 0 and meaningless when `unfinished` (see
    /// [`Event::returned`]).
    pub ret: i64,
    /// `Some` when the capture has no exit for the call: then there is no
    /// return value and no latency.
    pub unfinished: Option<Unfinished>,
    pub args: Args,
    /// The start time (boot clock, ns) of the event's process: with `pid`,
    /// an identity unique within the capture. `None` when the capture does
    /// not say (the process was neither in the start snapshot nor forked
    /// during the capture, or its fork record was lost).
    pub proc_start_ns: Option<u64>,
    /// The same for the parent process (`ppid`).
    pub parent_start_ns: Option<u64>,
}

impl Event {
    /// The call returned a negative value (an unfinished call has not failed).
    pub fn failed(&self) -> bool {
        self.returned().is_some_and(|ret| ret < 0)
    }

    /// The return value, `None` for an unfinished call.
    pub fn returned(&self) -> Option<i64> {
        self.unfinished.is_none().then_some(self.ret)
    }

    /// The latency, `None` for an unfinished call.
    pub fn latency(&self) -> Option<u64> {
        self.unfinished.is_none().then_some(self.latency_ns)
    }
}

#[cfg(test)]
mod tests {
    use super::{Args, Captured, CapturedBytes, Comm, FrameShares};
    use std::sync::Arc;

    fn umount_of(bytes: CapturedBytes) -> Args {
        Args::Umount {
            target: Captured {
                bytes,
                ..Captured::default()
            },
            flags: 0,
        }
    }

    #[test]
    fn frame_shares_hand_out_again_the_references_events_gave_back() {
        let frame = Arc::new((0..64).collect::<Vec<u8>>());
        let mut shares = FrameShares::default();
        let mut event = umount_of(CapturedBytes::shared(&frame, &mut shares, 0..40));
        assert_eq!(Arc::strong_count(&frame), 2);

        // The event is done with: its reference is kept, its string emptied.
        shares.reclaim(&mut event);
        assert_eq!(Arc::strong_count(&frame), 2);
        let Args::Umount { target, .. } = &event else {
            unreachable!()
        };
        assert!(target.bytes.is_empty() && !target.bytes.is_shared());

        // The next string of the frame takes it over: no new reference.
        let next = CapturedBytes::shared(&frame, &mut shares, 8..48);
        assert_eq!(Arc::strong_count(&frame), 2);
        assert_eq!(&*next, &frame[8..48]);

        // A spare of another frame is not handed out for this one.
        let mut other_event = umount_of(next);
        shares.reclaim(&mut other_event);
        let other = Arc::new(vec![7u8; 64]);
        let of_other = CapturedBytes::shared(&other, &mut shares, 0..30);
        assert_eq!(&*of_other, &other[..30]);
        assert_eq!(Arc::strong_count(&other), 2);
        assert_eq!(
            Arc::strong_count(&frame),
            1,
            "the mismatched spare was dropped"
        );

        // Clearing lets go of the frame.
        let mut last = umount_of(of_other);
        shares.reclaim(&mut last);
        assert_eq!(Arc::strong_count(&other), 2);
        shares.clear();
        assert_eq!(Arc::strong_count(&other), 1);
    }

    /// The byte-at-a-time definition `Comm::from_raw` must agree with.
    fn reference(raw: &[i8; 16]) -> Vec<u8> {
        raw.iter()
            .map(|&byte| byte as u8)
            .take_while(|&byte| byte != 0)
            .collect()
    }

    proptest::proptest! {
        #[test]
        fn captured_bytes_keep_every_byte(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let kept = CapturedBytes::new(&bytes);
            proptest::prop_assert_eq!(kept.as_slice(), &bytes[..]);
            proptest::prop_assert_eq!(Vec::from(kept.clone()), bytes.clone());
            proptest::prop_assert_eq!(CapturedBytes::from(bytes.clone()), kept);
        }

        #[test]
        fn from_raw_stops_at_the_first_nul(
            raw in proptest::array::uniform16(proptest::sample::select(vec![0i8, 1, -1, -128, 127, b'a' as i8])),
        ) {
            let comm = Comm::from_raw(&raw);
            proptest::prop_assert_eq!(comm.as_bytes(), &reference(&raw)[..]);
            // Equal names are equal whatever followed the NUL.
            proptest::prop_assert_eq!(comm, Comm::from_bytes(&reference(&raw)));
        }
    }
}
