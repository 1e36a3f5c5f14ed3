//! The named fields of an event, shared by the CSV and JSON renderers: the
//! [`Column`]s (CSV's fixed header, JSON's keys) and, per syscall, which of
//! them it carries ([`SyscallFields`]). Built on the stack, borrowing the
//! event: no allocation per event.

use crate::container::{self, Derived, Form};
use crate::event::{Args, Captured, Event, MountAttr};
use arrayvec::ArrayVec;

/// Every field name of the JSON and CSV output, in CSV column order: the
/// common fields, exec and mount(2)'s fields, the other mount-family
/// syscalls' parameters, then `comm_before`, `cgroup_path`, `unfinished`,
/// `unfinished_reason`, then the process identities and the fork and exit
/// fields, then the container identity derived from the cgroup path (each
/// added later, so after the others: existing CSV columns keep their
/// positions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Event,
    Time,
    TsNs,
    Pid,
    Tid,
    Ppid,
    Uid,
    Gid,
    Comm,
    Pcomm,
    MntNs,
    CgroupId,
    Ret,
    Error,
    LatencyNs,
    Filename,
    Args,
    ArgsTruncated,
    Source,
    Target,
    Fstype,
    Flags,
    Data,
    Fsname,
    Fd,
    Cmd,
    Key,
    Value,
    Aux,
    FsFd,
    AttrFlags,
    FromDirfd,
    FromPath,
    ToDirfd,
    ToPath,
    Dirfd,
    Path,
    Attr,
    Size,
    CommBefore,
    CgroupPath,
    Unfinished,
    UnfinishedReason,
    ProcId,
    ParentProcId,
    ChildPid,
    ChildTid,
    CloneFlags,
    Thread,
    ExitCode,
    Signal,
    CoreDumped,
    LifetimeNs,
    ContainerId,
    Runtime,
    PodUid,
    PodQos,
}

impl Column {
    pub const COUNT: usize = 57;

    /// All columns in CSV order (`ALL[c as usize] == c`).
    pub const ALL: [Column; Column::COUNT] = [
        Column::Event,
        Column::Time,
        Column::TsNs,
        Column::Pid,
        Column::Tid,
        Column::Ppid,
        Column::Uid,
        Column::Gid,
        Column::Comm,
        Column::Pcomm,
        Column::MntNs,
        Column::CgroupId,
        Column::Ret,
        Column::Error,
        Column::LatencyNs,
        Column::Filename,
        Column::Args,
        Column::ArgsTruncated,
        Column::Source,
        Column::Target,
        Column::Fstype,
        Column::Flags,
        Column::Data,
        Column::Fsname,
        Column::Fd,
        Column::Cmd,
        Column::Key,
        Column::Value,
        Column::Aux,
        Column::FsFd,
        Column::AttrFlags,
        Column::FromDirfd,
        Column::FromPath,
        Column::ToDirfd,
        Column::ToPath,
        Column::Dirfd,
        Column::Path,
        Column::Attr,
        Column::Size,
        Column::CommBefore,
        Column::CgroupPath,
        Column::Unfinished,
        Column::UnfinishedReason,
        Column::ProcId,
        Column::ParentProcId,
        Column::ChildPid,
        Column::ChildTid,
        Column::CloneFlags,
        Column::Thread,
        Column::ExitCode,
        Column::Signal,
        Column::CoreDumped,
        Column::LifetimeNs,
        Column::ContainerId,
        Column::Runtime,
        Column::PodUid,
        Column::PodQos,
    ];

    /// The field's name in JSON and in the CSV header.
    pub const fn name(self) -> &'static str {
        match self {
            Column::Event => "event",
            Column::Time => "time",
            Column::TsNs => "ts_ns",
            Column::Pid => "pid",
            Column::Tid => "tid",
            Column::Ppid => "ppid",
            Column::Uid => "uid",
            Column::Gid => "gid",
            Column::Comm => "comm",
            Column::Pcomm => "pcomm",
            Column::MntNs => "mnt_ns",
            Column::CgroupId => "cgroup_id",
            Column::Ret => "ret",
            Column::Error => "error",
            Column::LatencyNs => "latency_ns",
            Column::Filename => "filename",
            Column::Args => "args",
            Column::ArgsTruncated => "args_truncated",
            Column::Source => "source",
            Column::Target => "target",
            Column::Fstype => "fstype",
            Column::Flags => "flags",
            Column::Data => "data",
            Column::Fsname => "fsname",
            Column::Fd => "fd",
            Column::Cmd => "cmd",
            Column::Key => "key",
            Column::Value => "value",
            Column::Aux => "aux",
            Column::FsFd => "fs_fd",
            Column::AttrFlags => "attr_flags",
            Column::FromDirfd => "from_dirfd",
            Column::FromPath => "from_path",
            Column::ToDirfd => "to_dirfd",
            Column::ToPath => "to_path",
            Column::Dirfd => "dirfd",
            Column::Path => "path",
            Column::Attr => "attr",
            Column::Size => "size",
            Column::CommBefore => "comm_before",
            Column::CgroupPath => "cgroup_path",
            Column::Unfinished => "unfinished",
            Column::UnfinishedReason => "unfinished_reason",
            Column::ProcId => "proc_id",
            Column::ParentProcId => "parent_proc_id",
            Column::ChildPid => "child_pid",
            Column::ChildTid => "child_tid",
            Column::CloneFlags => "clone_flags",
            Column::Thread => "thread",
            Column::ExitCode => "exit_code",
            Column::Signal => "signal",
            Column::CoreDumped => "core_dumped",
            Column::LifetimeNs => "lifetime_ns",
            Column::ContainerId => "container_id",
            Column::Runtime => "runtime",
            Column::PodUid => "pod_uid",
            Column::PodQos => "pod_qos",
        }
    }
}

/// One syscall-specific field value, borrowed from the event.
#[derive(Debug, Clone, Copy)]
pub enum FieldValue<'a> {
    /// A captured string or blob (see [`captured_text`]).
    Text(&'a Captured),
    Signed(i64),
    Unsigned(u64),
    Bool(bool),
    /// exec's argv, argv[0] first.
    Args(&'a [Captured]),
    /// mount_setattr's `struct mount_attr` (see [`captured_attr`]).
    Attr(&'a Captured),
    /// A task command name (see [`crate::render::escape::comm_bytes`]).
    Comm(&'a [u8]),
    /// A process identity, pid and start time, shown as `PID@START_NS`;
    /// `None` when the capture does not say (null).
    Identity(Option<(u32, u64)>),
    /// A number that may not apply (null), such as an exit code of a
    /// process a signal killed.
    Maybe(Option<i64>),
    /// A value derived from the cgroup path (container id, runtime, pod
    /// UID, QoS class; [`crate::container`]); `None` (null) outside one.
    Derived(Option<Derived<'a>>),
}

/// Appends a process identity as its text form, `PID@START_NS`.
pub fn push_identity(out: &mut Vec<u8>, pid: u32, start_ns: u64) {
    super::num::push_u64(out, u64::from(pid));
    out.push(b'@');
    super::num::push_u64(out, start_ns);
}

/// The bytes to show for a captured argument: `None` for a NULL pointer, an
/// argument not read for this call, or one whose memory could not be read
/// even after the call (JSON null, listed in `unreadable`; an empty CSV
/// cell), else the bytes as captured.
pub fn captured_text(captured: &Captured) -> Option<&[u8]> {
    if captured.null || captured.skipped || captured.fault {
        None
    } else {
        Some(&captured.bytes)
    }
}

/// The decoded `struct mount_attr`, `None` when NULL, not read or unreadable.
pub fn captured_attr(captured: &Captured) -> Option<MountAttr> {
    captured
        .is_present()
        .then(|| MountAttr::from_blob(&captured.bytes))
}

/// Most fields any event adds to the common ones (execveat's six, then the
/// two process identities and the four container fields).
const MAX_SYSCALL_FIELDS: usize = 12;

/// The syscall-specific fields of one event, in output order.
#[derive(Debug, Clone)]
pub struct SyscallFields<'a> {
    // Not an array of defaults: a value is written only where a field is,
    // instead of the whole array (about 500 bytes) once per event.
    items: ArrayVec<(Column, FieldValue<'a>), MAX_SYSCALL_FIELDS>,
    /// Some captured value was cut short or unreadable: only then are the
    /// `truncated` and `unreadable` lists worth looking for.
    marked: bool,
}

impl<'a> SyscallFields<'a> {
    /// Every field of an event: the call's, then the actor's (the CSV
    /// column tests; the renderers build the two parts apart).
    #[cfg(test)]
    pub fn of(event: &'a Event) -> SyscallFields<'a> {
        let mut fields = SyscallFields::new();
        fields.push_call(event);
        fields.push_actor(event);
        fields
    }

    /// No fields yet: [`SyscallFields::push_call`] adds the call's.
    #[inline(always)]
    pub fn new() -> SyscallFields<'a> {
        SyscallFields {
            items: ArrayVec::new(),
            marked: false,
        }
    }

    /// Adds the fields of the call alone: [`SyscallFields::of`] without the
    /// actor's (the process identities and the container fields, the same
    /// on every event of a thread; see [`SyscallFields::of_actor`]). The
    /// renderers build the fields where they keep them (`new`, then this)
    /// rather than have them returned: a returned `SyscallFields` is copied
    /// (about 500 bytes), even inlined.
    pub fn push_call(&mut self, event: &'a Event) {
        use FieldValue::{Attr, Signed, Text, Unsigned};
        match &event.args {
            Args::Exec {
                dirfd,
                flags,
                filename,
                args,
                args_truncated,
            } => {
                self.push(Column::Filename, Text(filename));
                self.push(Column::Args, FieldValue::Args(args));
                self.push(Column::ArgsTruncated, FieldValue::Bool(*args_truncated));
                self.push(Column::CommBefore, FieldValue::Comm(&event.comm_before));
                if let Some(dirfd) = dirfd {
                    self.push(Column::Dirfd, Signed(i64::from(*dirfd)));
                }
                if let Some(flags) = flags {
                    self.push(Column::Flags, Signed(i64::from(*flags)));
                }
            }
            Args::Mount {
                source,
                target,
                fstype,
                flags,
                data,
            } => {
                self.push(Column::Source, Text(source));
                self.push(Column::Target, Text(target));
                self.push(Column::Fstype, Text(fstype));
                self.push(Column::Flags, Unsigned(*flags));
                self.push(Column::Data, Text(data));
            }
            Args::Umount { target, flags } => {
                self.push(Column::Target, Text(target));
                self.push(Column::Flags, Signed(i64::from(*flags)));
            }
            Args::Fsopen { fsname, flags } => {
                self.push(Column::Fsname, Text(fsname));
                self.push(Column::Flags, Unsigned(u64::from(*flags)));
            }
            Args::Fsconfig {
                fd,
                cmd,
                key,
                value,
                aux,
            } => {
                self.push(Column::Fd, Signed(i64::from(*fd)));
                self.push(Column::Cmd, Unsigned(u64::from(*cmd)));
                self.push(Column::Key, Text(key));
                self.push(Column::Value, Text(value));
                self.push(Column::Aux, Signed(i64::from(*aux)));
            }
            Args::Fsmount {
                fs_fd,
                flags,
                attr_flags,
            } => {
                self.push(Column::FsFd, Signed(i64::from(*fs_fd)));
                self.push(Column::Flags, Unsigned(u64::from(*flags)));
                self.push(Column::AttrFlags, Unsigned(u64::from(*attr_flags)));
            }
            Args::MoveMount {
                from_dirfd,
                from_path,
                to_dirfd,
                to_path,
                flags,
            } => {
                self.push(Column::FromDirfd, Signed(i64::from(*from_dirfd)));
                self.push(Column::FromPath, Text(from_path));
                self.push(Column::ToDirfd, Signed(i64::from(*to_dirfd)));
                self.push(Column::ToPath, Text(to_path));
                self.push(Column::Flags, Unsigned(u64::from(*flags)));
            }
            Args::OpenTree { dirfd, path, flags } | Args::Fspick { dirfd, path, flags } => {
                self.push(Column::Dirfd, Signed(i64::from(*dirfd)));
                self.push(Column::Path, Text(path));
                self.push(Column::Flags, Unsigned(u64::from(*flags)));
            }
            Args::MountSetattr {
                dirfd,
                path,
                flags,
                attr,
                size,
            } => {
                self.push(Column::Dirfd, Signed(i64::from(*dirfd)));
                self.push(Column::Path, Text(path));
                self.push(Column::Flags, Unsigned(u64::from(*flags)));
                self.push(Column::Attr, Attr(attr));
                self.push(Column::Size, Unsigned(*size));
            }
            Args::Fork {
                child_pid,
                child_tid,
                clone_flags,
                ..
            } => {
                self.push(Column::ChildPid, Unsigned(u64::from(*child_pid)));
                self.push(Column::ChildTid, Unsigned(u64::from(*child_tid)));
                self.push(Column::CloneFlags, Unsigned(*clone_flags));
                self.push(Column::Thread, FieldValue::Bool(child_pid == &event.pid));
            }
            Args::Exit { status, start_ns } => {
                let code = Args::exit_code(*status).map(i64::from);
                let signal = Args::exit_signal(*status).map(i64::from);
                let lifetime = event.ts_ns.checked_sub(*start_ns).map(|ns| ns as i64);
                self.push(Column::ExitCode, FieldValue::Maybe(code));
                self.push(Column::Signal, FieldValue::Maybe(signal));
                self.push(
                    Column::CoreDumped,
                    FieldValue::Bool(Args::core_dumped(*status)),
                );
                self.push(Column::LifetimeNs, FieldValue::Maybe(lifetime));
            }
        }
    }

    /// The actor's fields that follow the call's in [`SyscallFields::of`]:
    /// `proc_id`, `parent_proc_id` and the container fields.
    #[inline(always)]
    pub fn of_actor(event: &'a Event) -> SyscallFields<'a> {
        let mut fields = SyscallFields::new();
        fields.push_actor(event);
        fields
    }

    fn push_actor(&mut self, event: &'a Event) {
        let identities = SyscallFields::identities(event);
        for (column, value) in identities
            .into_iter()
            .chain(SyscallFields::container(event))
        {
            self.push(column, value);
        }
    }

    /// `proc_id` and `parent_proc_id`, the first of the actor's fields.
    pub fn identities(event: &Event) -> [(Column, FieldValue<'static>); 2] {
        let identity = |pid: u32, start: Option<u64>| FieldValue::Identity(start.map(|s| (pid, s)));
        [
            (Column::ProcId, identity(event.pid, event.proc_start_ns)),
            (
                Column::ParentProcId,
                identity(event.ppid, event.parent_start_ns),
            ),
        ]
    }

    /// `container_id`, `runtime`, `pod_uid`, `pod_qos` from the cgroup path,
    /// the last of the actor's fields.
    pub fn container(event: &'a Event) -> [(Column, FieldValue<'a>); 4] {
        let found = event
            .cgroup_path
            .as_deref()
            .map(container::identify_cached)
            .unwrap_or_default();
        let constant = |text: Option<&'static str>| {
            FieldValue::Derived(text.map(|t| Derived {
                raw: t.as_bytes(),
                form: Form::Plain,
            }))
        };
        [
            (Column::ContainerId, FieldValue::Derived(found.container_id)),
            (Column::Runtime, constant(found.runtime)),
            (Column::PodUid, FieldValue::Derived(found.pod_uid)),
            (Column::PodQos, constant(found.pod_qos)),
        ]
    }

    fn push(&mut self, column: Column, value: FieldValue<'a>) {
        let marked = |c: &Captured| c.truncated || c.fault;
        self.marked |= match value {
            FieldValue::Text(captured) | FieldValue::Attr(captured) => marked(captured),
            FieldValue::Args(args) => args.iter().any(marked),
            _ => false,
        };
        // MAX_SYSCALL_FIELDS is the most any event has: never full.
        let pushed = self.items.try_push((column, value));
        debug_assert!(pushed.is_ok(), "more fields than MAX_SYSCALL_FIELDS");
    }

    pub fn iter(&self) -> impl Iterator<Item = &(Column, FieldValue<'a>)> {
        self.items.iter()
    }

    /// Whether some captured value was cut short or unreadable (else
    /// [`SyscallFields::truncated`] and [`SyscallFields::unreadable`] are
    /// empty).
    pub fn is_marked(&self) -> bool {
        self.marked
    }

    /// The names of the fields whose captured value was cut short (`args`
    /// when any argv entry was).
    pub fn truncated(&self) -> TruncatedFields {
        self.fields_where(|captured| captured.truncated)
    }

    /// The fields whose user memory could not be read (JSON's `unreadable`).
    pub fn unreadable(&self) -> TruncatedFields {
        self.fields_where(|captured| captured.fault)
    }

    fn fields_where(&self, test: impl Fn(&Captured) -> bool) -> TruncatedFields {
        let mut truncated = TruncatedFields {
            names: [""; MAX_SYSCALL_FIELDS],
            len: 0,
        };
        if !self.marked {
            return truncated;
        }
        for (column, value) in self.iter() {
            let cut = match value {
                FieldValue::Text(captured) | FieldValue::Attr(captured) => test(captured),
                FieldValue::Args(args) => args.iter().any(&test),
                _ => false,
            };
            if cut {
                truncated.names[truncated.len] = column.name();
                truncated.len += 1;
            }
        }
        truncated
    }
}

impl Default for SyscallFields<'_> {
    fn default() -> Self {
        SyscallFields::new()
    }
}

/// The names listed in JSON's `truncated` (or `unreadable`) array.
#[derive(Debug, Clone, Copy)]
pub struct TruncatedFields {
    names: [&'static str; MAX_SYSCALL_FIELDS],
    len: usize,
}

impl TruncatedFields {
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn names(&self) -> &[&'static str] {
        &self.names[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_in_order_and_unique() {
        for (index, column) in Column::ALL.iter().enumerate() {
            assert_eq!(*column as usize, index);
        }
        let mut names: Vec<&str> = Column::ALL.iter().map(|c| c.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Column::COUNT);
    }

    #[test]
    fn null_skipped_and_fault() {
        let null = Captured {
            null: true,
            ..Captured::default()
        };
        let skipped = Captured {
            skipped: true,
            ..Captured::default()
        };
        let fault = Captured {
            fault: true,
            ..Captured::default()
        };
        assert_eq!(captured_text(&null), None);
        assert_eq!(captured_text(&skipped), None);
        assert_eq!(captured_text(&fault), None);
        assert_eq!(captured_text(&Captured::from_bytes(b"x")), Some(&b"x"[..]));
        assert_eq!(captured_attr(&fault), None);
        assert_eq!(
            captured_attr(&Captured::from_bytes(&[1])),
            Some(MountAttr {
                attr_set: 1,
                ..MountAttr::default()
            })
        );
    }
}
