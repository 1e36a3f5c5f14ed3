//! The loader: opens the BPF skeleton, configures it (one rodata config),
//! loads and attaches the programs the event classes select, and hands out
//! the ring buffer and loss counters. The generated skeleton types are
//! checked at compile time against `crate::bpf::raw`, the structs replay
//! decodes with: both come from `snoopcap.h`.

#[allow(
    clippy::all,
    clippy::pedantic,
    missing_docs,
    non_camel_case_types,
    non_snake_case,
    dead_code,
    unsafe_op_in_unsafe_fn
)]
mod skel {
    include!(concat!(env!("OUT_DIR"), "/snoopcap.skel.rs"));
}

use std::fs::File;
use std::mem::MaybeUninit;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
use libbpf_rs::{MapCore, MapFlags, MapHandle, MapType, OpenObject, PrintLevel, RingBufferBuilder};

use skel::{types, OpenSnoopcapSkel, SnoopcapSkel, SnoopcapSkelBuilder};

use crate::bpf::{layout, raw, LOSS_REASONS};
use crate::event::{EventClass, EventClasses, Syscall};

/// The skeleton's types (from the BPF object's BTF) and `crate::bpf::raw`
/// (from the header's text) must be the same layout, field by field.
macro_rules! same_layout {
    ($name:ident { $($field:ident),* }) => {
        const _: () = {
            assert!(std::mem::size_of::<types::$name>() == std::mem::size_of::<raw::$name>());
            $(assert!(
                std::mem::offset_of!(types::$name, $field) == std::mem::offset_of!(raw::$name, $field)
            );)*
        };
    };
}
same_layout!(sc_record_header {
    ts_ns,
    pid,
    tid,
    size,
    kind,
    syscall,
    reserved
});
same_layout!(sc_enter {
    hdr,
    cgroup_id,
    args,
    ppid,
    uid,
    gid,
    mnt_ns,
    comm,
    pcomm,
    nstrings,
    flags,
    reserved
});
same_layout!(sc_str { len, flags });
same_layout!(sc_exit { hdr, ret, comm });

/// Errors of loading and attaching the kernel side; each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("record needs root (CAP_BPF and CAP_PERFMON): run it as root, e.g. with sudo")]
    NotRoot,
    #[error(
        "this kernel exposes no BTF (/sys/kernel/btf/vmlinux is missing): snoopcap needs a kernel built with CONFIG_DEBUG_INFO_BTF=y"
    )]
    NoBtf,
    #[error(
        "this kernel does not support BPF (the bpf() syscall failed: {0}); snoopcap needs CONFIG_BPF_SYSCALL=y"
    )]
    NoBpf(String),
    #[error(
        "this kernel is {release}; snoopcap's BPF programs need Linux 5.17 or later (bpf_loop)"
    )]
    KernelTooOld { release: String },
    #[error("invalid setting: {0}")]
    Config(String),
    #[error("{what} {path}: {reason}")]
    PinnedMap {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("cgroup {path}: {reason}")]
    Cgroup { path: PathBuf, reason: String },
    #[error("loading the BPF programs failed: {reason}{log}")]
    Load { reason: String, log: String },
    #[error(
        "tracefs is not mounted and mounting it failed ({0}): mount it with `mount -t tracefs nodev /sys/kernel/tracing`"
    )]
    NoTracefs(String),
    #[error("attaching {program} failed: {reason} (snoopcap needs syscall tracepoints: CONFIG_FTRACE_SYSCALLS=y)")]
    Attach { program: String, reason: String },
    #[error("reading {what} failed: {reason}")]
    Runtime { what: &'static str, reason: String },
}

/// Everything the kernel side is configured with before loading.
#[derive(Debug, Clone)]
pub struct ProbeConfig {
    pub events: EventClasses,
    pub uid: Option<u32>,
    pub pid: Option<u32>,
    pub mntns: Option<u32>,
    pub cgroup_dir: Option<PathBuf>,
    pub cgroupmap: Option<PathBuf>,
    pub mntnsmap: Option<PathBuf>,
    pub max_args: u32,
    pub arg_size: u32,
    pub ringbuf_bytes: u32,
    /// Read exec strings at syscall entry, as bcc does, instead of once the
    /// kernel has copied them (the default where the kernel has the
    /// sched_prepare_exec tracepoint, and cheaper: see docs/PERFORMANCE.md).
    pub exec_args_at_entry: bool,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig {
            events: EventClasses::ALL,
            uid: None,
            pid: None,
            mntns: None,
            cgroup_dir: None,
            cgroupmap: None,
            mntnsmap: None,
            max_args: 20,
            arg_size: 128,
            ringbuf_bytes: DEFAULT_RINGBUF_BYTES,
            exec_args_at_entry: false,
        }
    }
}

/// Default ring buffer: room for tens of thousands of records between polls.
pub const DEFAULT_RINGBUF_BYTES: u32 = 16 << 20;

impl ProbeConfig {
    /// Checks the settings against the layout's limits.
    pub fn validate(&self) -> Result<(), ProbeError> {
        if self.max_args == 0 || u64::from(self.max_args) > layout::SC_MAX_ARGS_LIMIT {
            return Err(ProbeError::Config(format!(
                "--max-args must be between 1 and {}",
                layout::SC_MAX_ARGS_LIMIT
            )));
        }
        if self.arg_size == 0 || u64::from(self.arg_size) > layout::SC_ARG_SIZE_LIMIT {
            return Err(ProbeError::Config(format!(
                "--arg-size must be between 1 and {}",
                layout::SC_ARG_SIZE_LIMIT
            )));
        }
        let page = page_size();
        if !self.ringbuf_bytes.is_power_of_two() || self.ringbuf_bytes < page {
            return Err(ProbeError::Config(format!(
                "the ring buffer size must be a power of two of at least {page} bytes, not {}",
                self.ringbuf_bytes
            )));
        }
        Ok(())
    }

    /// Human-readable kernel-side filters, for the capture header.
    pub fn filter_descriptions(&self) -> Vec<String> {
        let mut filters = Vec::new();
        if let Some(uid) = self.uid {
            filters.push(format!("uid={uid}"));
        }
        if let Some(pid) = self.pid {
            filters.push(format!("pid={pid}"));
        }
        if let Some(mntns) = self.mntns {
            filters.push(format!("mntns={mntns}"));
        }
        if let Some(dir) = &self.cgroup_dir {
            filters.push(format!("cgroup={}", dir.display()));
        }
        if let Some(map) = &self.cgroupmap {
            filters.push(format!("cgroupmap={}", map.display()));
        }
        if let Some(map) = &self.mntnsmap {
            filters.push(format!("mntnsmap={}", map.display()));
        }
        filters
    }
}

pub fn page_size() -> u32 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u32::try_from(size).unwrap_or(4096)
}

/// libbpf's messages, kept to explain a failed load instead of spraying them on stderr.
static LIBBPF_LOG: Mutex<String> = Mutex::new(String::new());

fn keep_libbpf_message(level: PrintLevel, msg: String) {
    if level == PrintLevel::Debug && std::env::var_os("SNOOPCAP_LIBBPF_DEBUG").is_none() {
        return;
    }
    if let Ok(mut log) = LIBBPF_LOG.lock() {
        // Keep the tail: verifier logs can be long and the end says why.
        if log.len() > 64 * 1024 {
            let cut = log.len() - 32 * 1024;
            let cut = (cut..log.len())
                .find(|&i| log.is_char_boundary(i))
                .unwrap_or(0);
            log.drain(..cut);
        }
        log.push_str(&msg);
    }
}

fn take_libbpf_log() -> String {
    LIBBPF_LOG
        .lock()
        .map(|mut log| std::mem::take(&mut *log))
        .unwrap_or_default()
}

/// Checks what the kernel side needs before trying, so that each missing
/// piece gets its own plain message.
pub fn check_environment() -> Result<(), ProbeError> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(ProbeError::NotRoot);
    }
    check_kernel_release()?;
    check_bpf_syscall()?;
    if !Path::new("/sys/kernel/btf/vmlinux").exists() {
        return Err(ProbeError::NoBtf);
    }
    ensure_tracefs()
}

/// The oldest kernel the BPF programs load on: `bpf_loop` (5.17) is the
/// newest helper they use (with `bpf_task_pt_regs`, 5.15, task storage,
/// 5.11, ring buffers, 5.8).
const MIN_KERNEL: (u32, u32) = (5, 17);

/// Refuses a kernel older than [`MIN_KERNEL`] with one line, instead of a
/// verifier log about an unknown helper.
fn check_kernel_release() -> Result<(), ProbeError> {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    match parse_release(&release) {
        Some(version) if version < MIN_KERNEL => Err(ProbeError::KernelTooOld {
            release: release.trim().to_string(),
        }),
        // An unreadable or odd release string: let the load say what fails.
        _ => Ok(()),
    }
}

/// `major.minor` of a kernel release such as `6.18.0-1-amd64`.
fn parse_release(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.trim().split(['.', '-', '+']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// A kernel without BPF answers the bpf() syscall with ENOSYS; one with it
/// rejects an invalid command with EINVAL (or EPERM when it is locked away).
fn check_bpf_syscall() -> Result<(), ProbeError> {
    // SAFETY: an out-of-range command with a NULL attribute pointer and size
    // 0 reads and writes no memory.
    let rc = unsafe { libc::syscall(libc::SYS_bpf, -1i64, std::ptr::null::<u8>(), 0u32) };
    let err = std::io::Error::last_os_error();
    if rc < 0 && err.raw_os_error() == Some(libc::ENOSYS) {
        return Err(ProbeError::NoBpf(err.to_string()));
    }
    Ok(())
}

const TRACEFS: &str = "/sys/kernel/tracing";

/// Whether the kernel has the sched_prepare_exec tracepoint (Linux 6.10+),
/// where unreadable exec arguments are read again before the old image goes.
fn has_prepare_exec() -> bool {
    [TRACEFS, "/sys/kernel/debug/tracing"].iter().any(|dir| {
        Path::new(dir)
            .join("events/sched/sched_prepare_exec")
            .is_dir()
    })
}

/// libbpf finds syscall tracepoints through tracefs; mount it where it is
/// missing (as perf and bpftrace do).
fn ensure_tracefs() -> Result<(), ProbeError> {
    let mounted = [TRACEFS, "/sys/kernel/debug/tracing"]
        .iter()
        .any(|dir| Path::new(dir).join("events/syscalls").is_dir());
    if mounted {
        return Ok(());
    }
    let target =
        std::ffi::CString::new(TRACEFS).map_err(|e| ProbeError::NoTracefs(e.to_string()))?;
    let fstype = c"tracefs";
    let source = c"nodev";
    // SAFETY: every pointer is a valid NUL-terminated string; data is NULL.
    let rc = unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(ProbeError::NoTracefs(
            std::io::Error::last_os_error().to_string(),
        ));
    }
    if !Path::new(TRACEFS).join("events/syscalls").is_dir() {
        return Err(ProbeError::NoTracefs(
            "it has no events/syscalls directory: this kernel lacks CONFIG_FTRACE_SYSCALLS".into(),
        ));
    }
    Ok(())
}

/// Loaded and attached programs. Dropping it detaches everything.
pub struct Probes<'obj> {
    /// Declared first: dropped (detached) before the programs they attach.
    #[allow(dead_code)]
    links: Vec<libbpf_rs::Link>,
    skel: SnoopcapSkel<'obj>,
    num_cpus: usize,
}

/// A pinned map (`--cgroupmap`, `--mntnsmap`) checked to be usable as a
/// set of u64 keys.
struct PinnedSet {
    what: &'static str,
    path: PathBuf,
    handle: MapHandle,
}

impl PinnedSet {
    fn error(&self, reason: String) -> ProbeError {
        ProbeError::PinnedMap {
            what: self.what,
            path: self.path.clone(),
            reason,
        }
    }
}

fn open_pinned_filter_map(what: &'static str, path: &Path) -> Result<PinnedSet, ProbeError> {
    let fail = |reason: String| ProbeError::PinnedMap {
        what,
        path: path.to_path_buf(),
        reason,
    };
    let create = "create it with e.g. `bpftool map create PATH type hash key 8 value 8 entries 128 name NAME`";
    if !path.exists() {
        return Err(fail(match super::cgroup::bpffs_problem(path) {
            Some(problem) => format!("no such pinned map, and {problem}"),
            None => format!("no such pinned map: {create}"),
        }));
    }
    if let Some(problem) = super::cgroup::bpffs_problem(path) {
        return Err(fail(format!("not a pinned BPF map: {problem}")));
    }
    let handle = MapHandle::from_pinned_path(path)
        .map_err(|err| fail(format!("not a pinned BPF map ({err}); {create}")))?;
    let info = libbpf_rs::MapInfo::new(handle.as_fd())
        .map_err(|err| fail(format!("not a pinned BPF map ({err}); {create}")))?;
    let map_type = info.map_type();
    if !matches!(map_type, MapType::Hash | MapType::LruHash) {
        return Err(fail(format!(
            "is a BPF map of type {map_type:?}; expected a hash map: {create}"
        )));
    }
    if info.info.key_size != 8 {
        return Err(fail(format!(
            "has {}-byte keys; expected 8-byte (u64) keys: {create}",
            info.info.key_size
        )));
    }
    Ok(PinnedSet {
        what,
        path: path.to_path_buf(),
        handle,
    })
}

/// Makes the pinned map the template of the outer map `outer` (before load).
fn use_as_inner(outer: &mut libbpf_rs::OpenMapMut<'_>, set: &PinnedSet) -> Result<(), ProbeError> {
    outer
        .set_inner_map_fd(set.handle.as_fd())
        .map_err(|err| set.error(format!("cannot use it ({err})")))
}

/// Puts the pinned map into slot 0 of the loaded outer map `outer`.
fn install_inner(outer: &libbpf_rs::MapMut<'_>, set: &PinnedSet) -> Result<(), ProbeError> {
    let fd = std::os::fd::AsRawFd::as_raw_fd(&set.handle.as_fd()) as u32;
    outer
        .update(&0u32.to_ne_bytes(), &fd.to_ne_bytes(), MapFlags::ANY)
        .map_err(|err| set.error(format!("cannot use it ({err})")))
}

impl<'obj> Probes<'obj> {
    /// Opens, configures, loads and attaches the programs `config` selects.
    pub fn load(
        config: &ProbeConfig,
        storage: &'obj mut MaybeUninit<OpenObject>,
    ) -> Result<Probes<'obj>, ProbeError> {
        config.validate()?;
        check_environment()?;
        let prepare_exec = has_prepare_exec();
        libbpf_rs::set_print(Some((PrintLevel::Info, keep_libbpf_message)));

        let num_cpus = libbpf_rs::num_possible_cpus().map_err(|err| ProbeError::Runtime {
            what: "the number of possible CPUs",
            reason: err.to_string(),
        })?;

        let load_err = |err: libbpf_rs::Error| ProbeError::Load {
            reason: err.to_string(),
            log: {
                let log = take_libbpf_log();
                if log.is_empty() {
                    String::new()
                } else {
                    format!("\nlibbpf said:\n{}", log.trim_end())
                }
            },
        };

        if let Some(dir) = &config.cgroup_dir {
            super::cgroup::check_cgroup2_dir(dir).map_err(|reason| ProbeError::Cgroup {
                path: dir.clone(),
                reason,
            })?;
        }

        let mut open: OpenSnoopcapSkel<'obj> = SnoopcapSkelBuilder::default()
            .open(storage)
            .map_err(load_err)?;

        let rodata = open
            .maps
            .rodata_data
            .as_deref_mut()
            .ok_or_else(|| ProbeError::Load {
                reason: "the BPF object has no read-only data section".into(),
                log: String::new(),
            })?;
        if let Some(uid) = config.uid {
            rodata.cfg_filter_uid = 1;
            rodata.cfg_uid = uid;
        }
        if let Some(pid) = config.pid {
            rodata.cfg_filter_pid = 1;
            rodata.cfg_pid = pid;
        }
        if let Some(mntns) = config.mntns {
            rodata.cfg_filter_mntns = 1;
            rodata.cfg_mntns = mntns;
        }
        rodata.cfg_filter_cgroup = u32::from(config.cgroup_dir.is_some());
        rodata.cfg_filter_cgroupmap = u32::from(config.cgroupmap.is_some());
        rodata.cfg_filter_mntnsmap = u32::from(config.mntnsmap.is_some());
        rodata.cfg_max_args = config.max_args;
        rodata.cfg_arg_size = config.arg_size;
        // Deferred exec strings are read at sched_prepare_exec: only where
        // that program is attached.
        rodata.cfg_defer_exec_strings =
            u32::from(config.events.exec && !config.exec_args_at_entry && prepare_exec);
        // Wake the reader when a quarter of the ring is used; it polls anyway.
        rodata.cfg_wakeup_bytes = u64::from(config.ringbuf_bytes / 4);

        open.maps
            .sc_events
            .set_max_entries(config.ringbuf_bytes)
            .map_err(load_err)?;

        let cgroupmap = config
            .cgroupmap
            .as_deref()
            .map(|path| open_pinned_filter_map("cgroup map", path))
            .transpose()?;
        let mntnsmap = config
            .mntnsmap
            .as_deref()
            .map(|path| open_pinned_filter_map("mount namespace map", path))
            .transpose()?;
        if let Some(set) = &cgroupmap {
            use_as_inner(&mut open.maps.sc_cgroupmap, set)?;
        }
        if let Some(set) = &mntnsmap {
            use_as_inner(&mut open.maps.sc_mntnsmap, set)?;
        }

        select_programs(&mut open, config.events, prepare_exec)?;

        let skel = open.load().map_err(load_err)?;

        if let Some(set) = &cgroupmap {
            install_inner(&skel.maps.sc_cgroupmap, set)?;
        }
        if let Some(set) = &mntnsmap {
            install_inner(&skel.maps.sc_mntnsmap, set)?;
        }
        if let Some(dir) = &config.cgroup_dir {
            let cgroup = File::open(dir).map_err(|err| ProbeError::Cgroup {
                path: dir.clone(),
                reason: format!("cannot open it ({err})"),
            })?;
            let fd = std::os::fd::AsRawFd::as_raw_fd(&cgroup) as u32;
            skel.maps
                .sc_cgroup
                .update(&0u32.to_ne_bytes(), &fd.to_ne_bytes(), MapFlags::ANY)
                .map_err(|err| ProbeError::Cgroup {
                    path: dir.clone(),
                    reason: format!(
                        "not a cgroup v2 directory ({err}); {}",
                        super::cgroup::cgroup2_hint()
                    ),
                })?;
        }

        let links = attach_selected(&skel)?;
        take_libbpf_log();
        Ok(Probes {
            links,
            skel,
            num_cpus,
        })
    }

    /// Builds the ring buffer reader; `on_record` gets each raw record.
    pub fn ring_buffer<'cb, F>(
        &'cb self,
        on_record: F,
    ) -> Result<libbpf_rs::RingBuffer<'cb>, ProbeError>
    where
        F: FnMut(&[u8]) -> i32 + 'cb,
    {
        let mut builder = RingBufferBuilder::new();
        builder
            .add(&self.skel.maps.sc_events, on_record)
            .map_err(|err| ProbeError::Runtime {
                what: "the ring buffer",
                reason: err.to_string(),
            })?;
        builder.build().map_err(|err| ProbeError::Runtime {
            what: "the ring buffer",
            reason: err.to_string(),
        })
    }

    /// Cumulative loss counters: one row per possible CPU, one column per
    /// `sc_loss_reason`.
    pub fn loss_counters(&self) -> Result<Vec<Vec<u64>>, ProbeError> {
        let mut per_cpu = vec![vec![0u64; LOSS_REASONS]; self.num_cpus];
        for reason in 0..LOSS_REASONS {
            let key = (reason as u32).to_ne_bytes();
            let values = self
                .skel
                .maps
                .sc_lost
                .lookup_percpu(&key, MapFlags::ANY)
                .map_err(|err| ProbeError::Runtime {
                    what: "the loss counters",
                    reason: err.to_string(),
                })?
                .unwrap_or_default();
            for (cpu, value) in values.iter().enumerate() {
                let count = value
                    .get(..8)
                    .and_then(|b| b.try_into().ok())
                    .map(u64::from_ne_bytes)
                    .unwrap_or(0);
                if let Some(row) = per_cpu.get_mut(cpu) {
                    row[reason] = count;
                }
            }
        }
        Ok(per_cpu)
    }

    pub fn num_cpus(&self) -> usize {
        self.num_cpus
    }
}

/// The event class a program traces, from its name: `enter_SYSCALL` and
/// `exit_SYSCALL` (the syscall's name as `Syscall::name` gives it), and
/// `exec_prepare`. The one place that ties programs to classes: the BPF
/// object's program list is the only list of programs.
fn program_class(name: &str) -> Option<EventClass> {
    match name {
        EXEC_PREPARE | "exec_done" => return Some(EventClass::Exec),
        "proc_fork" | "proc_exit" => return Some(EventClass::Proc),
        _ => {}
    }
    let syscall = name
        .strip_prefix("enter_")
        .or_else(|| name.strip_prefix("exit_"))?;
    Syscall::ALL
        .into_iter()
        .filter(|s| !s.is_lifecycle())
        .find(|s| s.name() == syscall)
        .map(Syscall::class)
}

/// The sched_prepare_exec program (re-reads exec strings), only where the
/// kernel has that tracepoint.
const EXEC_PREPARE: &str = "exec_prepare";

/// Marks for loading exactly the programs of the selected classes.
fn select_programs(
    open: &mut OpenSnoopcapSkel<'_>,
    events: EventClasses,
    prepare_exec: bool,
) -> Result<(), ProbeError> {
    for mut prog in open.open_object_mut().progs_mut() {
        let name = prog.name().to_string_lossy().into_owned();
        let class = program_class(&name).ok_or_else(|| ProbeError::Load {
            reason: format!("BPF program {name} traces no known event class"),
            log: String::new(),
        })?;
        prog.set_autoload(events.contains(class) && (name != EXEC_PREPARE || prepare_exec));
    }
    Ok(())
}

/// Attaches every loaded program.
fn attach_selected(skel: &SnoopcapSkel<'_>) -> Result<Vec<libbpf_rs::Link>, ProbeError> {
    let mut links = Vec::new();
    for prog in skel.object().progs_mut().filter(|p| p.autoload()) {
        let link = prog.attach().map_err(|err| ProbeError::Attach {
            program: prog.name().to_string_lossy().into_owned(),
            reason: format!(
                "{err}: {}",
                take_libbpf_log().trim_end().replace('\n', "; ")
            ),
        })?;
        links.push(link);
    }
    Ok(links)
}

/// Polls the ring buffer: waits up to `timeout` for a wakeup, then drains
/// whatever is there (the kernel side wakes us only for large batches).
pub fn drain(ring: &libbpf_rs::RingBuffer<'_>, timeout: Duration) -> Result<(), ProbeError> {
    let failed = |err: libbpf_rs::Error| ProbeError::Runtime {
        what: "the ring buffer",
        reason: err.to_string(),
    };
    match ring.poll(timeout) {
        // A stop signal interrupts the wait; the caller checks for it.
        Err(err) if err.kind() == libbpf_rs::ErrorKind::Interrupted => {}
        other => other.map_err(failed)?,
    }
    ring.consume().map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_releases() {
        assert_eq!(parse_release("6.18.0-1-amd64"), Some((6, 18)));
        assert_eq!(parse_release("5.17.3"), Some((5, 17)));
        assert_eq!(parse_release("5.4.0+"), Some((5, 4)));
        assert!(parse_release("5.4.0").is_some_and(|v| v < MIN_KERNEL));
        assert!(parse_release("6.1").is_some_and(|v| v >= MIN_KERNEL));
        assert_eq!(parse_release("garbage"), None);
    }

    #[test]
    fn every_program_has_an_event_class() {
        for syscall in Syscall::ALL.into_iter().filter(|s| !s.is_lifecycle()) {
            for prefix in ["enter_", "exit_"] {
                let name = format!("{prefix}{}", syscall.name());
                assert_eq!(program_class(&name), Some(syscall.class()), "{name}");
            }
        }
        assert_eq!(program_class(EXEC_PREPARE), Some(EventClass::Exec));
        assert_eq!(program_class("exec_done"), Some(EventClass::Exec));
        assert_eq!(program_class("proc_fork"), Some(EventClass::Proc));
        assert_eq!(program_class("enter_fork"), None);
        assert_eq!(program_class("enter_open"), None);
    }
}
