//! End-to-end tests of `record`: the real binary traces the C workload
//! (tests/workload.c) with BPF, and every field of every captured event is
//! checked against what the workload did (its `CALL` lines, the constants it
//! passes, /proc and the cgroup v2 tree). Also the CLI contract of
//! shared/spec/interface.md: `--events`, `--uid`, `--pid`, `--max-args`,
//! `--arg-size`, `--force`, `--duration`, `-o -`, the summary line, mode 0600
//! and argument errors.
//!
//! BPF tests hold `common::bpf_lock()`. One recording of the workload's `all`
//! and `unpaged` scenarios (in a cgroup of its own) is shared by the tests
//! that check fields (`full()`), so the module stays well under a minute.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, MutexGuard, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use snoopcap::event::{Args, Captured, Event, MountAttr, Syscall};
use snoopcap::render::errno::error_name;
use snoopcap::replay::decode::RawRecord;

use crate::common::{self, cgroup2_root, Call, Recording, Replayed, TempCgroup};

// Constants as tests/workload.c passes them (linux/mount.h, fcntl.h).
const MS_NOSUID: u64 = 0x2;
const MS_NODEV: u64 = 0x4;
const MS_BIND: u64 = 0x1000;
const MS_REC: u64 = 0x4000;
const MS_PRIVATE: u64 = 0x40000;
const MNT_DETACH: i32 = 0x2;
const AT_FDCWD: i32 = -100;
const AT_EMPTY_PATH: i32 = 0x1000;
const AT_RECURSIVE: u32 = 0x8000;
const FSOPEN_CLOEXEC: u32 = 0x1;
const FSCONFIG_SET_STRING: u32 = 1;
const FSCONFIG_CMD_CREATE: u32 = 6;
const FSMOUNT_CLOEXEC: u32 = 0x1;
const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NODEV: u32 = 0x4;
const MOVE_MOUNT_F_EMPTY_PATH: u32 = 0x4;
const OPEN_TREE_CLONE: u32 = 0x1;
const FSPICK_CLOEXEC: u32 = 0x1;
/// sizeof(struct mount_attr) as the workload passes it (MOUNT_ATTR_SIZE_VER0).
const MOUNT_ATTR_SIZE: usize = 32;

/// Wall-clock slack for "the event happened while the workload ran": the
/// boot clock is mapped to wall time through anchors up to a second old.
const WALL_SLACK_NS: i64 = 50_000_000;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn now_ns() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after the epoch");
    i64::try_from(since.as_nanos()).expect("wall time fits i64")
}

/// One run of the workload.
#[derive(Debug)]
struct Ran {
    /// The workload's main process (also the pid of the `sh` that started it
    /// in a cgroup: `exec` keeps the pid).
    pid: u32,
    calls: Vec<Call>,
    started_ns: i64,
    ended_ns: i64,
}

impl Ran {
    /// The `CALL` lines named `name`, in order.
    fn calls_named(&self, name: &str) -> Vec<&Call> {
        self.calls.iter().filter(|c| c.name == name).collect()
    }

    /// The only `CALL` line named `name`.
    fn call(&self, name: &str) -> &Call {
        let calls = self.calls_named(name);
        assert_eq!(calls.len(), 1, "one {name} call in {:#?}", self.calls);
        calls[0]
    }
}

/// Runs `workload SCENARIO`, inside `cgroup` (a cgroup v2 directory) if given.
fn run_workload(scenario: &str, cgroup: Option<&Path>) -> Ran {
    let mut command = match cgroup {
        Some(dir) => {
            let mut c = Command::new("/bin/sh");
            c.arg("-c")
                .arg(r#"echo $$ > "$1/cgroup.procs" && exec "$2" "$3""#)
                .arg("sh")
                .arg(dir)
                .arg(common::workload())
                .arg(scenario);
            c
        }
        None => {
            let mut c = Command::new(common::workload());
            c.arg(scenario);
            c
        }
    };
    let started_ns = now_ns();
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn workload");
    let pid = child.id();
    let out = child.wait_with_output().expect("wait for the workload");
    let ended_ns = now_ns();
    assert!(
        out.status.success(),
        "workload {scenario} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ran {
        pid,
        calls: common::parse_calls(&String::from_utf8_lossy(&out.stdout)),
        started_ns,
        ended_ns,
    }
}

/// The cgroup v2 id of a process: the inode number of its cgroup directory
/// (the `0::/path` line of /proc/PID/cgroup).
fn cgroup_v2_id(pid: u32) -> u64 {
    let text = fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("read /proc/PID/cgroup");
    let path = text
        .lines()
        .find_map(|line| line.strip_prefix("0::"))
        .expect("a cgroup v2 (0::) line");
    let dir = cgroup2_root().join(path.trim_start_matches('/'));
    fs::metadata(&dir)
        .unwrap_or_else(|err| panic!("stat {}: {err}", dir.display()))
        .ino()
}

/// The inode number of a mount namespace link such as /proc/self/ns/mnt.
fn mnt_ns_of(link: &str) -> u32 {
    let target = fs::read_link(link).expect("readlink ns/mnt");
    let text = target.to_string_lossy();
    text.strip_prefix("mnt:[")
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected ns link {text}"))
}

/// The events of process `pid`, in the order the calls were made.
fn events_of(events: &[Event], pid: u32) -> Vec<&Event> {
    let mut out: Vec<&Event> = events.iter().filter(|e| e.pid == pid).collect();
    out.sort_by_key(|e| e.ts_ns);
    out
}

/// The only event of process `pid`.
fn only_event_of(events: &[Event], pid: u32) -> &Event {
    let of = events_of(events, pid);
    assert_eq!(of.len(), 1, "one event of pid {pid}: {of:#?}");
    of[0]
}

fn s(text: &str) -> Captured {
    Captured::from_bytes(text.as_bytes())
}

fn null() -> Captured {
    Captured {
        null: true,
        ..Captured::default()
    }
}

fn skipped() -> Captured {
    Captured {
        skipped: true,
        ..Captured::default()
    }
}

fn blob(bytes: Vec<u8>) -> Captured {
    Captured {
        bytes: bytes.into(),
        binary: true,
        ..Captured::default()
    }
}

/// The return value a CALL line stands for (the kernel's: -errno on failure).
fn kernel_ret(call: &Call) -> i64 {
    if call.ret < 0 {
        -call.errno
    } else {
        call.ret
    }
}

fn captured_strings(args: &Args) -> Vec<&Captured> {
    match args {
        Args::Exec { filename, args, .. } => std::iter::once(filename).chain(args).collect(),
        Args::Mount {
            source,
            target,
            fstype,
            data,
            ..
        } => vec![source, target, fstype, data],
        Args::Umount { target, .. } => vec![target],
        Args::Fsopen { fsname, .. } => vec![fsname],
        Args::Fork { .. } | Args::Exit { .. } => Vec::new(),
        Args::Fsconfig { key, value, .. } => vec![key, value],
        Args::Fsmount { .. } => vec![],
        Args::MoveMount {
            from_path, to_path, ..
        } => vec![from_path, to_path],
        Args::OpenTree { path, .. } | Args::Fspick { path, .. } => vec![path],
        Args::MountSetattr { path, attr, .. } => vec![path, attr],
    }
}

/// What every event of the workload shares, checked field by field.
struct Identity {
    pid: u32,
    tid: u32,
    ppid: u32,
    uid: u32,
    gid: u32,
    comm: &'static str,
    comm_before: &'static str,
    pcomm: String,
    mnt_ns: u32,
    cgroup_id: u64,
    ret: i64,
    /// The errno name for a failure.
    error: Option<&'static str>,
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Checks an event's identity, result, timing and strings (no `fault`).
fn check_identity(ev: &Event, want: &Identity, capture: &Replayed, ran: &Ran) {
    let what = format!("{} of pid {}", ev.syscall, want.pid);
    assert_eq!(ev.pid, want.pid, "{what}: pid");
    assert_eq!(ev.tid, want.tid, "{what}: tid");
    assert_eq!(ev.ppid, want.ppid, "{what}: ppid");
    assert_eq!((ev.uid, ev.gid), (want.uid, want.gid), "{what}: uid, gid");
    assert_eq!(text(&ev.comm), want.comm, "{what}: comm after the call");
    assert_eq!(
        text(&ev.comm_before),
        want.comm_before,
        "{what}: comm before"
    );
    assert_eq!(text(&ev.pcomm), want.pcomm, "{what}: pcomm");
    assert_eq!(ev.mnt_ns, want.mnt_ns, "{what}: mnt_ns");
    assert_eq!(ev.cgroup_id, want.cgroup_id, "{what}: cgroup_id");
    assert_eq!(ev.ret, want.ret, "{what}: ret");
    assert_eq!(error_name(ev.ret), want.error, "{what}: errno name");
    assert!(
        ev.latency_ns > 0 && ev.latency_ns < 10_000_000_000,
        "{what}: latency {} ns",
        ev.latency_ns
    );
    let trailer = capture.trailer.as_ref().expect("the capture has a trailer");
    assert!(
        ev.ts_ns >= capture.header.clock.boot_ns && ev.ts_ns <= trailer.last_ts_ns,
        "{what}: ts_ns {} outside the capture's boot-clock span",
        ev.ts_ns
    );
    assert!(
        ev.wall_ns >= capture.header.start_wall_ns && ev.wall_ns <= trailer.end_wall_ns,
        "{what}: wall time {} outside the recording ({}..{})",
        ev.wall_ns,
        capture.header.start_wall_ns,
        trailer.end_wall_ns
    );
    assert!(
        ev.wall_ns >= ran.started_ns - WALL_SLACK_NS && ev.wall_ns <= ran.ended_ns + WALL_SLACK_NS,
        "{what}: wall time {} outside the workload's run ({}..{})",
        ev.wall_ns,
        ran.started_ns,
        ran.ended_ns
    );
    for item in captured_strings(&ev.args) {
        assert!(
            !item.fault,
            "{what}: an argument was left unreadable: {:?}",
            ev.args
        );
    }
}

/// Exec arguments as the workload passes them: nothing truncated.
fn exec_args(dirfd: Option<i32>, flags: Option<i32>, filename: &str, argv: &[&str]) -> Args {
    Args::Exec {
        dirfd,
        flags,
        filename: s(filename),
        args: argv.iter().map(|a| s(a)).collect(),
        args_truncated: false,
    }
}

/// A refetch record: (pid, tid, syscall).
type Refetch = (u32, u32, Syscall);

/// Reads the refetch records of a capture, and the
/// exec entry records: (pid, whether it deferred its strings).
fn refetch_and_exec_entries(path: &Path) -> (Vec<Refetch>, Vec<(u32, bool)>) {
    let (mut refetches, mut exec_entries) = (Vec::new(), Vec::new());
    for record in common::raw_records(path) {
        match record {
            RawRecord::Refetch(r) => refetches.push((r.pid, r.tid, r.syscall)),
            RawRecord::Enter(e) if e.syscall.is_exec() => exec_entries.push((e.pid, e.deferred())),
            _ => {}
        }
    }
    (refetches, exec_entries)
}

fn wait_timeout(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("process {} did not exit within {limit:?}", child.id());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts several recordings at once (each takes about a second to load).
fn start_all(specs: &[(&Path, &[&str])]) -> Vec<Recording> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = specs
            .iter()
            .map(|(path, args)| scope.spawn(move || Recording::start(path, args)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("record started"))
            .collect()
    })
}

fn stop_ok(recording: Recording) -> String {
    let (ok, stderr) = recording.stop();
    assert!(ok, "record did not exit 0 on SIGINT: {stderr}");
    stderr
}

// ---------------------------------------------------------------------------
// The shared recording
// ---------------------------------------------------------------------------

struct Full {
    /// How exec strings were read: "deferred" (the default) or "at entry".
    how: &'static str,
    capture: Replayed,
    refetches: Vec<Refetch>,
    /// (pid, deferred) of every exec entry record.
    exec_entries: Vec<(u32, bool)>,
    all: Ran,
    unpaged: Ran,
    cgroup_id: u64,
    host_mnt_ns: u32,
    /// comm of the test thread that started the workloads (their pcomm).
    spawner_comm: String,
    before_ns: i64,
    after_ns: i64,
    record_stderr: String,
    file_len: u64,
    file_mode: u32,
}

/// One recording (default options) of `workload all` and `workload unpaged`,
/// both in a cgroup of their own. Callers hold the BPF lock (the guard is the
/// proof), so the recording runs alone.
fn full(_guard: &MutexGuard<'static, ()>) -> &'static Full {
    static FULL: OnceLock<Full> = OnceLock::new();
    FULL.get_or_init(|| record_full("deferred", &[]))
}

/// The same recording with `--exec-args-at-entry`: exec strings read at
/// entry (what record does on kernels without sched_prepare_exec).
fn full_at_entry(_guard: &MutexGuard<'static, ()>) -> &'static Full {
    static FULL: OnceLock<Full> = OnceLock::new();
    FULL.get_or_init(|| record_full("at entry", &["--exec-args-at-entry"]))
}

/// Both recordings, for the exec tests: each way of reading exec strings
/// must capture the same.
fn both_fulls(guard: &MutexGuard<'static, ()>) -> [&'static Full; 2] {
    [full(guard), full_at_entry(guard)]
}

fn record_full(how: &'static str, options: &[&str]) -> Full {
    {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("full.snoop");
        let cgroup = TempCgroup::new("full");
        let spawner_comm = fs::read_to_string("/proc/thread-self/comm")
            .expect("read our comm")
            .trim_end()
            .to_string();
        let before_ns = now_ns();
        let recording = Recording::start(&path, options);
        let all = run_workload("all", Some(&cgroup.path));
        let unpaged = run_workload("unpaged", Some(&cgroup.path));
        let record_stderr = stop_ok(recording);
        let after_ns = now_ns();
        let meta = fs::metadata(&path).expect("the capture exists");
        let (refetches, exec_entries) = refetch_and_exec_entries(&path);
        Full {
            how,
            capture: common::read_capture(&path),
            refetches,
            exec_entries,
            all,
            unpaged,
            cgroup_id: cgroup.id(),
            host_mnt_ns: mnt_ns_of("/proc/self/ns/mnt"),
            spawner_comm,
            before_ns,
            after_ns,
            record_stderr,
            file_len: meta.len(),
            file_mode: meta.permissions().mode() & 0o7777,
        }
    }
}

impl Full {
    /// Checks the event of a failed exec of `workload all` against the call.
    fn check_failed_exec(&self, call: &Call, syscall: Syscall, errno: i32, args: Args) {
        assert_eq!((call.ret, call.errno), (-1, i64::from(errno)));
        let ev = only_event_of(&self.capture.events, call.pid);
        assert_eq!(ev.syscall, syscall);
        let want = Identity {
            error: error_name(-i64::from(errno)),
            ..self.exec_identity(&self.all, call, "true")
        };
        check_identity(ev, &want, &self.capture, &self.all);
        assert_eq!(ev.args, args);
    }

    /// The identity of a successful exec of /bin/true by a child of `ran`.
    fn exec_identity(&self, ran: &Ran, call: &Call, ok_comm: &'static str) -> Identity {
        let ret = kernel_ret(call);
        Identity {
            pid: call.pid,
            tid: call.tid,
            ppid: ran.pid,
            uid: 0,
            gid: 0,
            comm: if ret == 0 { ok_comm } else { "workload" },
            comm_before: "workload",
            pcomm: "workload".to_string(),
            mnt_ns: self.host_mnt_ns,
            cgroup_id: self.cgroup_id,
            ret,
            error: None,
        }
    }
}

// ---------------------------------------------------------------------------
// Field-by-field tests on the shared recording
// ---------------------------------------------------------------------------

#[test]
fn execve_success_and_failure_are_captured_exactly() {
    if !common::require_root("execve_success_and_failure_are_captured_exactly") {
        return;
    }
    let guard = common::bpf_lock();
    for f in both_fulls(&guard) {
        eprintln!("exec strings read {}", f.how);
        let events = &f.capture.events;
        let execs = f.all.calls_named("execve");
        assert_eq!(execs.len(), 2, "the exec and exec-fail scenarios ran");

        // execve("/bin/true", {"true", "first-arg", "with space", "quote\"d"}) succeeds.
        let ok = execs[0];
        let ev = only_event_of(events, ok.pid);
        assert_eq!(ev.syscall, Syscall::Execve);
        check_identity(ev, &f.exec_identity(&f.all, ok, "true"), &f.capture, &f.all);
        assert_eq!(
            ev.args,
            exec_args(
                None,
                None,
                ok.get("filename").expect("filename"),
                &["true", "first-arg", "with space", "quote\"d"]
            )
        );

        // execve("/nonexistent/snoopcap-missing", {"missing", "x"}) fails with ENOENT.
        let fail = execs[1];
        f.check_failed_exec(
            fail,
            Syscall::Execve,
            libc::ENOENT,
            exec_args(
                None,
                None,
                "/nonexistent/snoopcap-missing",
                &["missing", "x"],
            ),
        );
        assert_eq!(
            fail.get("filename"),
            Some("/nonexistent/snoopcap-missing"),
            "the workload reports what it passed"
        );
    }
}

#[test]
fn execveat_success_and_failure_are_captured_exactly() {
    if !common::require_root("execveat_success_and_failure_are_captured_exactly") {
        return;
    }
    let guard = common::bpf_lock();
    for f in both_fulls(&guard) {
        eprintln!("exec strings read {}", f.how);
        let events = &f.capture.events;
        let calls = f.all.calls_named("execveat");
        assert_eq!(calls.len(), 2, "both execveat calls ran");

        // execveat(dirfd of /bin, "true", {"true", "via-execveat"}, 0) succeeds.
        let ok = calls[0];
        let dirfd: i32 = ok.get("dirfd").expect("dirfd").parse().expect("a number");
        assert!(dirfd >= 0);
        let ev = only_event_of(events, ok.pid);
        assert_eq!(
            ev.syscall,
            Syscall::Execveat,
            "a successful execveat is an execveat, though it exits through execve's tracepoint"
        );
        check_identity(ev, &f.exec_identity(&f.all, ok, "true"), &f.capture, &f.all);
        assert_eq!(
            ev.args,
            exec_args(Some(dirfd), Some(0), "true", &["true", "via-execveat"])
        );

        // execveat(AT_FDCWD, "", {"x"}, AT_EMPTY_PATH) fails with EACCES (a directory).
        let fail = calls[1];
        assert_eq!(fail.get("flags"), Some(AT_EMPTY_PATH.to_string().as_str()));
        f.check_failed_exec(
            fail,
            Syscall::Execveat,
            libc::EACCES,
            exec_args(Some(AT_FDCWD), Some(AT_EMPTY_PATH), "", &["x"]),
        );
    }
}

#[test]
fn exec_strings_are_deferred_unless_read_at_entry_is_asked_for() {
    if !common::require_root("exec_strings_are_deferred_unless_read_at_entry_is_asked_for") {
        return;
    }
    let guard = common::bpf_lock();
    for f in both_fulls(&guard) {
        let deferred = f.how == "deferred";
        let pids: Vec<u32> = [&f.all, &f.unpaged]
            .iter()
            .flat_map(|ran| ran.calls.iter())
            .filter(|c| c.name.starts_with("exec"))
            .map(|c| c.pid)
            .collect();
        assert!(pids.len() >= 7, "the workloads exec: {pids:?}");
        for pid in pids {
            let entries: Vec<bool> = f
                .exec_entries
                .iter()
                .filter(|&&(p, _)| p == pid)
                .map(|&(_, d)| d)
                .collect();
            assert_eq!(
                entries,
                vec![deferred],
                "pid {pid}: one exec entry, strings {}",
                f.how
            );
            if deferred {
                assert!(
                    f.refetches.iter().any(|&(p, _, _)| p == pid),
                    "pid {pid}: a deferred exec's strings come in a refetch record"
                );
            }
        }
    }
}

#[test]
fn exec_from_a_thread_pairs_with_the_calling_thread() {
    if !common::require_root("exec_from_a_thread_pairs_with_the_calling_thread") {
        return;
    }
    let guard = common::bpf_lock();
    for f in both_fulls(&guard) {
        eprintln!("exec strings read {}", f.how);
        let call = f.all.call("execve-thread");
        assert_ne!(
            call.tid, call.pid,
            "the workload execs from a non-leader thread"
        );
        // The entry is the thread's, the exit the leader's (the thread takes over
        // the leader's id): still one paired event, no orphans for this process.
        let ev = only_event_of(&f.capture.events, call.pid);
        assert_eq!(ev.syscall, Syscall::Execve);
        check_identity(
            ev,
            &f.exec_identity(&f.all, call, "true"),
            &f.capture,
            &f.all,
        );
        assert_eq!(
            ev.args,
            exec_args(None, None, "/bin/true", &["true", "from-thread"])
        );
        assert!(f.capture.stats.exec_leader_pairings >= 1);
    }
}

#[test]
fn the_workload_itself_and_its_cgroup_are_identified() {
    if !common::require_root("the_workload_itself_and_its_cgroup_are_identified") {
        return;
    }
    let guard = common::bpf_lock();
    let f = full(&guard);
    // The cgroup is ours, not the root: a constant 1 would not pass.
    assert_ne!(f.cgroup_id, 1, "the workload ran in a cgroup of its own");
    assert_ne!(f.cgroup_id, cgroup_v2_id(std::process::id()));
    // `sh` (started by this thread) moved itself into the cgroup, then
    // exec'd the workload: pid kept, comm "sh" -> "workload".
    let workload = common::workload().to_str().expect("UTF-8 path");
    let execs: Vec<&Event> = events_of(&f.capture.events, f.all.pid)
        .into_iter()
        .filter(|e| matches!(&e.args, Args::Exec { filename, .. } if filename.bytes == workload.as_bytes()))
        .collect();
    assert_eq!(execs.len(), 1, "sh exec'd the workload once: {execs:#?}");
    let ev = execs[0];
    let want = Identity {
        pid: f.all.pid,
        tid: f.all.pid,
        ppid: std::process::id(),
        uid: 0,
        gid: 0,
        comm: "workload",
        comm_before: "sh",
        pcomm: f.spawner_comm.clone(),
        mnt_ns: f.host_mnt_ns,
        cgroup_id: f.cgroup_id,
        ret: 0,
        error: None,
    };
    check_identity(ev, &want, &f.capture, &f.all);
    assert_eq!(ev.syscall, Syscall::Execve);
    assert_eq!(ev.args, exec_args(None, None, workload, &[workload, "all"]));
}

/// What each mount-family CALL line of the `mounts` scenario stands for.
fn expected_mount_calls(ran: &Ran) -> Vec<(Syscall, Args, Option<&'static str>)> {
    let dir = ran.call("mount").get("target").expect("target").to_string();
    let fsfd = i32::try_from(ran.call("fsopen").ret).expect("an fd");
    let mfd = i32::try_from(ran.call("fsmount").ret).expect("an fd");
    assert!(fsfd >= 0 && mfd >= 0, "fsopen and fsmount succeeded");
    assert_eq!(
        ran.call("fsmount").get("fs_fd"),
        Some(fsfd.to_string().as_str())
    );
    assert_eq!(
        ran.call("move_mount").get("from_dirfd"),
        Some(mfd.to_string().as_str())
    );
    let missing = "/nonexistent/snoopcap-target";
    let mut attr = Vec::new();
    for word in [MOUNT_ATTR_RDONLY, 0, 0, 0] {
        attr.extend_from_slice(&word.to_le_bytes());
    }
    assert_eq!(attr.len(), MOUNT_ATTR_SIZE);
    vec![
        // The private-namespace setup: mount("none", "/", NULL, MS_REC|MS_PRIVATE, NULL).
        (
            Syscall::Mount,
            Args::Mount {
                source: s("none"),
                target: s("/"),
                fstype: null(),
                flags: MS_REC | MS_PRIVATE,
                data: null(),
            },
            None,
        ),
        (
            Syscall::Mount,
            Args::Mount {
                source: s("snoopcap-src"),
                target: s(&dir),
                fstype: s("tmpfs"),
                flags: MS_NOSUID | MS_NODEV,
                data: s("size=64k,mode=700"),
            },
            None,
        ),
        (
            Syscall::Umount,
            Args::Umount {
                target: s(&dir),
                flags: MNT_DETACH,
            },
            None,
        ),
        (
            Syscall::Mount,
            Args::Mount {
                source: s(&dir),
                target: s(&dir),
                fstype: null(),
                flags: MS_BIND | MS_REC,
                data: null(),
            },
            None,
        ),
        (
            Syscall::Umount,
            Args::Umount {
                target: s(&dir),
                flags: 0,
            },
            None,
        ),
        (
            Syscall::Mount,
            Args::Mount {
                source: s("none"),
                target: s(missing),
                fstype: s("tmpfs"),
                flags: 0,
                data: null(),
            },
            Some("ENOENT"),
        ),
        (
            Syscall::Umount,
            Args::Umount {
                target: s(missing),
                flags: 0,
            },
            Some("ENOENT"),
        ),
        (
            Syscall::Fsopen,
            Args::Fsopen {
                fsname: s("tmpfs"),
                flags: FSOPEN_CLOEXEC,
            },
            None,
        ),
        (
            Syscall::Fsconfig,
            Args::Fsconfig {
                fd: fsfd,
                cmd: FSCONFIG_SET_STRING,
                key: s("size"),
                value: s("1m"),
                aux: 0,
            },
            None,
        ),
        (
            Syscall::Fsconfig,
            Args::Fsconfig {
                fd: fsfd,
                cmd: FSCONFIG_CMD_CREATE,
                key: null(),
                value: skipped(),
                aux: 0,
            },
            None,
        ),
        (
            Syscall::Fsmount,
            Args::Fsmount {
                fs_fd: fsfd,
                flags: FSMOUNT_CLOEXEC,
                attr_flags: MOUNT_ATTR_NODEV,
            },
            None,
        ),
        (
            Syscall::MoveMount,
            Args::MoveMount {
                from_dirfd: mfd,
                from_path: s(""),
                to_dirfd: AT_FDCWD,
                to_path: s(&dir),
                flags: MOVE_MOUNT_F_EMPTY_PATH,
            },
            None,
        ),
        (
            Syscall::OpenTree,
            Args::OpenTree {
                dirfd: AT_FDCWD,
                path: s(&dir),
                flags: OPEN_TREE_CLONE | AT_RECURSIVE,
            },
            None,
        ),
        (
            Syscall::MountSetattr,
            Args::MountSetattr {
                dirfd: AT_FDCWD,
                path: s(&dir),
                flags: 0,
                attr: blob(attr),
                size: MOUNT_ATTR_SIZE as u64,
            },
            None,
        ),
        (
            Syscall::Fspick,
            Args::Fspick {
                dirfd: AT_FDCWD,
                path: s(&dir),
                flags: FSPICK_CLOEXEC,
            },
            None,
        ),
        (
            Syscall::Fsopen,
            Args::Fsopen {
                fsname: s("snoopcap-nosuchfs"),
                flags: 0,
            },
            Some("ENODEV"),
        ),
        (
            Syscall::Umount,
            Args::Umount {
                target: s(&dir),
                flags: MNT_DETACH,
            },
            None,
        ),
    ]
}

#[test]
fn mount_family_calls_are_captured_exactly() {
    if !common::require_root("mount_family_calls_are_captured_exactly") {
        return;
    }
    let guard = common::bpf_lock();
    let f = full(&guard);
    let child = f.all.call("mount").pid;
    let calls: Vec<&Call> = f.all.calls.iter().filter(|c| c.pid == child).collect();
    let expected = expected_mount_calls(&f.all);
    // The first mount (making / private) prints no CALL line.
    assert_eq!(calls.len() + 1, expected.len(), "CALL lines: {calls:#?}");
    let events = events_of(&f.capture.events, child);
    assert_eq!(
        events.len(),
        expected.len(),
        "one event per mount-family call, nothing else: {events:#?}"
    );
    let mount_ns = events[0].mnt_ns;
    assert_ne!(mount_ns, 0);
    assert_ne!(
        mount_ns, f.host_mnt_ns,
        "the mounts ran in a private mount namespace"
    );
    for (i, (ev, (syscall, args, error))) in events.iter().zip(&expected).enumerate() {
        let (ret, tid) = match i.checked_sub(1).map(|k| calls[k]) {
            Some(call) => {
                assert_eq!(
                    call.name.split('-').next(),
                    Some(syscall.name()),
                    "call {i} is a {}",
                    syscall.name()
                );
                (kernel_ret(call), call.tid)
            }
            None => (0, child),
        };
        let want = Identity {
            pid: child,
            tid,
            ppid: f.all.pid,
            uid: 0,
            gid: 0,
            comm: "workload",
            comm_before: "workload",
            pcomm: "workload".to_string(),
            mnt_ns: mount_ns,
            cgroup_id: f.cgroup_id,
            ret,
            error: *error,
        };
        assert_eq!(ev.syscall, *syscall, "event {i}");
        check_identity(ev, &want, &f.capture, &f.all);
        assert_eq!(&ev.args, args, "event {i}: {syscall} arguments");
        if let Args::MountSetattr { attr, .. } = &ev.args {
            let decoded = MountAttr::from_blob(&attr.bytes);
            assert_eq!((decoded.attr_set, decoded.attr_clr), (MOUNT_ATTR_RDONLY, 0));
        }
    }
}

#[test]
fn unreadable_arguments_are_refetched() {
    if !common::require_root("unreadable_arguments_are_refetched") {
        return;
    }
    let guard = common::bpf_lock();
    for f in both_fulls(&guard) {
        eprintln!("exec strings read {}", f.how);
        let ran = &f.unpaged;
        let events = &f.capture.events;
        let refetched = |pid: u32, syscall: Syscall| {
            f.refetches
                .iter()
                .any(|&(p, _, s)| p == pid && s == syscall)
        };

        let execs = ran.calls_named("execve");
        assert_eq!(execs.len(), 2);
        for (call, args) in [
            (
                execs[0],
                exec_args(None, None, "/bin/true", &["true", "unpaged-arg"]),
            ),
            (
                execs[1],
                exec_args(
                    None,
                    None,
                    "/nonexistent/snoopcap-unpaged",
                    &["missing-unpaged", "y"],
                ),
            ),
        ] {
            let ev = only_event_of(events, call.pid);
            assert!(
                refetched(call.pid, Syscall::Execve),
                "the strings of pid {} were unreadable at entry: a refetch record",
                call.pid
            );
            let want = Identity {
                error: error_name(kernel_ret(call)),
                ..f.exec_identity(ran, call, "true")
            };
            check_identity(ev, &want, &f.capture, ran);
            assert_eq!(ev.syscall, Syscall::Execve);
            assert_eq!(ev.args, args);
        }

        // execveat: everything but the filename (see the next test).
        let call = ran.call("execveat");
        let dirfd: i32 = call.get("dirfd").expect("dirfd").parse().expect("a number");
        let ev = only_event_of(events, call.pid);
        assert!(refetched(call.pid, Syscall::Execveat));
        check_identity(ev, &f.exec_identity(ran, call, "true"), &f.capture, ran);
        assert_eq!(ev.syscall, Syscall::Execveat);
        let Args::Exec {
            dirfd: got_dirfd,
            flags,
            args,
            args_truncated,
            ..
        } = &ev.args
        else {
            panic!("exec arguments: {:?}", ev.args);
        };
        assert_eq!(
            (*got_dirfd, *flags, *args_truncated),
            (Some(dirfd), Some(0), false)
        );
        assert_eq!(args, &vec![s("true"), s("unpaged-at")]);

        // Mount family: each call's strings in a mapping never touched before.
        let child = ran.call("mount").pid;
        let dir = ran.call("mount").get("target").expect("target").to_string();
        let fsfd = i32::try_from(ran.call("fsopen").ret).expect("an fd");
        let calls: Vec<&Call> = ran.calls.iter().filter(|c| c.pid == child).collect();
        let evs = events_of(events, child);
        assert_eq!(evs.len(), 5, "private mount + 4 calls: {evs:#?}");
        assert_eq!(calls.len(), 4, "{calls:#?}");
        let private = Args::Mount {
            source: s("none"),
            target: s("/"),
            fstype: null(),
            flags: MS_REC | MS_PRIVATE,
            data: null(),
        };
        assert_eq!(evs[0].args, private, "the private-namespace setup");
        let mount_ns = evs[0].mnt_ns;
        assert_ne!(mount_ns, f.host_mnt_ns);
        let expected = [
            Args::Mount {
                source: s("snoopcap-unpaged"),
                target: s(&dir),
                fstype: s("tmpfs"),
                flags: MS_NOSUID,
                data: s("size=16k"),
            },
            Args::Umount {
                target: s(&dir),
                flags: 0,
            },
            Args::Fsopen {
                fsname: s("tmpfs"),
                flags: FSOPEN_CLOEXEC,
            },
            Args::Fsconfig {
                fd: fsfd,
                cmd: FSCONFIG_SET_STRING,
                key: s("size"),
                value: s("2m"),
                aux: 0,
            },
        ];
        for ((ev, call), args) in evs[1..].iter().zip(calls).zip(expected) {
            assert_eq!(ev.syscall.name(), call.name, "the events follow the calls");
            assert!(
                refetched(child, ev.syscall),
                "{} of pid {child} was unreadable at entry and read again",
                ev.syscall
            );
            let want = Identity {
                pid: child,
                tid: call.tid,
                ppid: ran.pid,
                uid: 0,
                gid: 0,
                comm: "workload",
                comm_before: "workload",
                pcomm: "workload".to_string(),
                mnt_ns: mount_ns,
                cgroup_id: f.cgroup_id,
                ret: kernel_ret(call),
                error: None,
            };
            check_identity(ev, &want, &f.capture, ran);
            assert_eq!(ev.args, args);
        }
    }
}

#[test]
fn execveat_filename_read_late_is_the_one_passed() {
    if !common::require_root("execveat_filename_read_late_is_the_one_passed") {
        return;
    }
    let guard = common::bpf_lock();
    for f in both_fulls(&guard) {
        eprintln!("exec strings read {}", f.how);
        let call = f.unpaged.call("execveat");
        let ev = only_event_of(&f.capture.events, call.pid);
        let Args::Exec { filename, .. } = &ev.args else {
            panic!("exec arguments: {:?}", ev.args);
        };
        // The refetch must read the string the caller passed, not the kernel's
        // rewritten "/dev/fd/<dirfd>/true" (bprm->filename).
        assert_eq!(
            text(&filename.bytes),
            "true",
            "execveat's filename as passed (dirfd is a field of its own)"
        );
    }
}

#[test]
fn summary_line_trailer_and_file_mode_match_the_capture() {
    if !common::require_root("summary_line_trailer_and_file_mode_match_the_capture") {
        return;
    }
    let guard = common::bpf_lock();
    let f = full(&guard);
    assert_eq!(f.file_mode, 0o600, "captures hold command lines: mode 0600");
    let header = &f.capture.header;
    let trailer = f
        .capture
        .trailer
        .as_ref()
        .expect("a clean stop writes a trailer");
    assert_eq!(trailer.stop_reason, "SIGINT");
    assert!(f.before_ns <= header.start_wall_ns);
    assert!(header.start_wall_ns < trailer.end_wall_ns);
    assert!(trailer.end_wall_ns <= f.after_ns);
    assert_eq!(header.events, vec!["exec", "mount", "proc"]);
    assert_eq!(
        (header.max_args, header.arg_size),
        (20, 128),
        "the defaults"
    );

    let pattern = regex::Regex::new(
        r"(?m)^snoopcap record: (\d+) events \((\d+) records\) written, (\d+) lost in the kernel, (\d+) bytes written",
    )
    .expect("regex");
    let caps = pattern
        .captures(&f.record_stderr)
        .unwrap_or_else(|| panic!("a summary line on stderr: {:?}", f.record_stderr));
    let number = |i: usize| -> u64 { caps[i].parse().expect("a number") };
    let of_kind = |kind: u8| -> u64 {
        trailer
            .records_by_kind
            .iter()
            .filter(|k| k.kind == kind)
            .map(|k| k.count)
            .sum()
    };
    let (entries, forks, exits) = (of_kind(1), of_kind(4), of_kind(5));
    let lost: u64 = trailer.lost.per_cpu.iter().flatten().sum();
    assert_eq!(
        number(1),
        entries + forks + exits,
        "events written = entry, fork and process exit records"
    );
    assert_eq!(number(2), trailer.records, "records written");
    // docs/FORMAT.md, Trailer: records_by_kind counts every kernel record,
    // refetch records (kind 3) included.
    assert_eq!(
        trailer.records_by_kind.iter().map(|k| k.count).sum::<u64>(),
        trailer.records,
        "records_by_kind adds up to records: {:?}",
        trailer.records_by_kind
    );
    assert_eq!(number(3), lost, "lost in the kernel");
    assert_eq!(number(4), f.file_len, "bytes written = the file's size");
    // The counts are the file's: as many entry records decode from it.
    assert_eq!(
        f.capture.stats.entries, entries,
        "entry records in the file"
    );
    assert_eq!(
        f.record_stderr
            .lines()
            .filter(|l| l.contains("snoopcap record:"))
            .count(),
        1,
        "one summary line: {}",
        f.record_stderr
    );
}

// ---------------------------------------------------------------------------
// CLI behaviour, each with a recording of its own
// ---------------------------------------------------------------------------

#[test]
fn events_option_selects_exec_or_the_mount_family() {
    if !common::require_root("events_option_selects_exec_or_the_mount_family") {
        return;
    }
    let _guard = common::bpf_lock();
    let dir = tempfile::tempdir().expect("tempdir");
    let exec_path = dir.path().join("exec.snoop");
    let mount_path = dir.path().join("mount.snoop");
    let recordings = start_all(&[
        (&exec_path, &["--events", "exec"]),
        (&mount_path, &["--events", "mount"]),
    ]);
    let ran = run_workload("all", None);
    for recording in recordings {
        stop_ok(recording);
    }
    let exec_cap = common::read_capture(&exec_path);
    let mount_cap = common::read_capture(&mount_path);
    assert_eq!(exec_cap.header.events, vec!["exec".to_string()]);
    assert_eq!(mount_cap.header.events, vec!["mount".to_string()]);

    let exec_calls: Vec<&Call> = ["execve", "execveat", "execve-thread"]
        .iter()
        .flat_map(|name| ran.calls_named(name))
        .collect();
    assert_eq!(exec_calls.len(), 5);
    let exec_pids: Vec<u32> = exec_calls.iter().map(|c| c.pid).collect();
    let mount_pid = ran.call("mount").pid;

    // --events exec: the workload's execs, and nothing of the mount family
    // from anyone (no record of it either).
    assert!(
        exec_cap.events.iter().all(|e| e.syscall.is_exec()),
        "--events exec captured a mount-family event"
    );
    let trailer = exec_cap.trailer.as_ref().expect("trailer");
    assert!(
        trailer
            .records_by_kind
            .iter()
            .all(|k| k.syscall == Syscall::Execve.raw() || k.syscall == Syscall::Execveat.raw()),
        "{:?}",
        trailer.records_by_kind
    );
    for call in &exec_calls {
        let ev = only_event_of(&exec_cap.events, call.pid);
        assert!(ev.syscall.is_exec());
        assert_eq!((ev.tid, ev.ret), (call.tid, kernel_ret(call)));
    }
    assert!(events_of(&exec_cap.events, mount_pid).is_empty());

    // --events mount: the 17 mount-family calls, and no exec from anyone.
    assert!(
        mount_cap.events.iter().all(|e| !e.syscall.is_exec()),
        "--events mount captured an exec event"
    );
    let trailer = mount_cap.trailer.as_ref().expect("trailer");
    assert!(trailer
        .records_by_kind
        .iter()
        .all(|k| k.syscall != Syscall::Execve.raw() && k.syscall != Syscall::Execveat.raw()));
    let got: Vec<Syscall> = events_of(&mount_cap.events, mount_pid)
        .iter()
        .map(|e| e.syscall)
        .collect();
    let want: Vec<Syscall> = expected_mount_calls(&ran)
        .iter()
        .map(|(s, _, _)| *s)
        .collect();
    assert_eq!(got, want);
    for pid in &exec_pids {
        assert!(events_of(&mount_cap.events, *pid).is_empty());
    }
}

#[test]
fn uid_filter_keeps_only_that_user() {
    if !common::require_root("uid_filter_keeps_only_that_user") {
        return;
    }
    let _guard = common::bpf_lock();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("uid.snoop");
    let recording = Recording::start(&path, &["-u", "65534"]);
    let ran = run_workload("uid-exec", None);
    stop_ok(recording);
    let capture = common::read_capture(&path);
    assert!(capture.header.filters.iter().any(|f| f == "uid=65534"));

    let calls = ran.calls_named("execve");
    assert_eq!(
        calls.len(),
        2,
        "one exec as root, one as nobody: {calls:#?}"
    );
    let (root, nobody) = (calls[0], calls[1]);
    assert_eq!(nobody.get("uid"), Some("65534"));
    assert!(
        capture.events.iter().all(|e| e.uid == 65534),
        "only uid 65534: {:?}",
        capture
            .events
            .iter()
            .filter(|e| e.uid != 65534)
            .map(|e| (e.pid, e.uid, text(&e.comm)))
            .collect::<Vec<_>>()
    );
    assert!(
        events_of(&capture.events, root.pid).is_empty(),
        "root's exec is filtered out"
    );
    assert!(events_of(&capture.events, ran.pid).is_empty());

    let ev = only_event_of(&capture.events, nobody.pid);
    let want = Identity {
        pid: nobody.pid,
        tid: nobody.tid,
        ppid: ran.pid,
        uid: 65534,
        gid: 65534,
        comm: "true",
        comm_before: "workload",
        pcomm: "workload".to_string(),
        mnt_ns: mnt_ns_of("/proc/self/ns/mnt"),
        // The workload inherited our cgroup.
        cgroup_id: cgroup_v2_id(std::process::id()),
        ret: 0,
        error: None,
    };
    check_identity(ev, &want, &capture, &ran);
    assert_eq!(ev.syscall, Syscall::Execve);
    assert_eq!(
        ev.args,
        exec_args(None, None, "/bin/true", &["true", "as-nobody"])
    );
}

#[test]
fn pid_filter_keeps_only_that_process() {
    if !common::require_root("pid_filter_keeps_only_that_process") {
        return;
    }
    let _guard = common::bpf_lock();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("pid.snoop");
    // The process exists (waiting on stdin) before record starts; then it
    // execs the workload, whose children exec /bin/true with other pids.
    let workload = common::workload().to_str().expect("UTF-8 path");
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg(r#"read go && exec "$0" exec"#)
        .arg(workload)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sh");
    let pid = child.id();
    let recording = Recording::start(&path, &["-p", &pid.to_string()]);
    let started_ns = now_ns();
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"go\n")
        .expect("release the workload");
    let out = child.wait_with_output().expect("wait for the workload");
    let ended_ns = now_ns();
    assert!(out.status.success());
    stop_ok(recording);
    let ran = Ran {
        pid,
        calls: common::parse_calls(&String::from_utf8_lossy(&out.stdout)),
        started_ns,
        ended_ns,
    };
    let capture = common::read_capture(&path);
    assert!(capture
        .header
        .filters
        .iter()
        .any(|f| *f == format!("pid={pid}")));

    let exec_child = ran.call("execve").pid;
    assert_ne!(exec_child, pid);
    assert!(
        capture.events.iter().all(|e| e.pid == pid),
        "only pid {pid}: {:?}",
        capture.events.iter().map(|e| e.pid).collect::<Vec<_>>()
    );
    let ev = only_event_of(&capture.events, pid);
    let want = Identity {
        pid,
        tid: pid,
        ppid: std::process::id(),
        uid: 0,
        gid: 0,
        comm: "workload",
        comm_before: "sh",
        pcomm: fs::read_to_string("/proc/thread-self/comm")
            .expect("our comm")
            .trim_end()
            .to_string(),
        mnt_ns: mnt_ns_of("/proc/self/ns/mnt"),
        cgroup_id: cgroup_v2_id(std::process::id()),
        ret: 0,
        error: None,
    };
    check_identity(ev, &want, &capture, &ran);
    assert_eq!(
        ev.args,
        exec_args(None, None, workload, &[workload, "exec"])
    );
}

/// The argv the `long-args` scenario passes to /bin/true.
const LONG_ARGV: [&str; 6] = [
    "true",
    "a1",
    "a2",
    "this-argument-is-longer-than-16-bytes",
    "a4",
    "a5",
];

/// Records `workload long-args` with `args`; returns the exec event's
/// capture and the workload's exec call.
fn record_long_args(name: &str, args: &[&str]) -> (Replayed, Ran) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(name);
    let recording = Recording::start(&path, args);
    let ran = run_workload("long-args", None);
    stop_ok(recording);
    (common::read_capture(&path), ran)
}

#[test]
fn argv_ending_at_an_inaccessible_page_is_read_whole() {
    if !common::require_root("argv_ending_at_an_inaccessible_page_is_read_whole") {
        return;
    }
    let _guard = common::bpf_lock();
    // record reads argv[0 .. max_args] in one piece; past this argv's NULL
    // lies a PROT_NONE page, so it must fall back to one entry at a time.
    for options in [&[][..], &["--exec-args-at-entry"][..]] {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("edge.snoop");
        let recording = Recording::start(&path, options);
        let ran = run_workload("argv-edge", None);
        stop_ok(recording);
        let capture = common::read_capture(&path);
        let execs = ran.calls_named("execve");
        assert_eq!(execs.len(), 2, "{options:?}");
        for (call, filename, argv) in [
            (execs[0], "/bin/true", ["true", "edge-arg"]),
            (
                execs[1],
                "/nonexistent/snoopcap-edge",
                ["missing", "edge-fail"],
            ),
        ] {
            let ev = only_event_of(&capture.events, call.pid);
            assert_eq!(ev.ret, kernel_ret(call), "{options:?}");
            assert_eq!(
                ev.args,
                exec_args(None, None, filename, &argv),
                "{options:?}"
            );
        }
    }
}

#[test]
fn max_args_keeps_that_many_and_says_so() {
    if !common::require_root("max_args_keeps_that_many_and_says_so") {
        return;
    }
    let _guard = common::bpf_lock();
    let (capture, ran) = record_long_args("max-args.snoop", &["--max-args", "3"]);
    assert_eq!((capture.header.max_args, capture.header.arg_size), (3, 128));
    let call = ran.call("execve");
    let ev = only_event_of(&capture.events, call.pid);
    check_identity(
        ev,
        &Identity {
            pid: call.pid,
            tid: call.tid,
            ppid: ran.pid,
            uid: 0,
            gid: 0,
            comm: "true",
            comm_before: "workload",
            pcomm: "workload".to_string(),
            mnt_ns: mnt_ns_of("/proc/self/ns/mnt"),
            cgroup_id: cgroup_v2_id(std::process::id()),
            ret: 0,
            error: None,
        },
        &capture,
        &ran,
    );
    // The first three entries, whole, and argv marked truncated.
    assert_eq!(
        ev.args,
        Args::Exec {
            dirfd: None,
            flags: None,
            filename: s("/bin/true"),
            args: LONG_ARGV[..3].iter().map(|a| s(a)).collect(),
            args_truncated: true,
        }
    );
}

#[test]
fn arg_size_cuts_a_long_argument_and_says_so() {
    if !common::require_root("arg_size_cuts_a_long_argument_and_says_so") {
        return;
    }
    let _guard = common::bpf_lock();
    let (capture, ran) = record_long_args("arg-size.snoop", &["--arg-size", "16"]);
    assert_eq!((capture.header.max_args, capture.header.arg_size), (20, 16));
    let call = ran.call("execve");
    let ev = only_event_of(&capture.events, call.pid);
    assert_eq!((ev.syscall, ev.ret), (Syscall::Execve, 0));
    let Args::Exec {
        filename,
        args,
        args_truncated,
        ..
    } = &ev.args
    else {
        panic!("exec arguments: {:?}", ev.args);
    };
    // The filename names a path: not cut by --arg-size.
    assert_eq!(filename, &s("/bin/true"));
    // Every entry, the long one cut to 16 bytes; the short ones whole.
    let bytes: Vec<&[u8]> = args.iter().map(|a| a.bytes.as_slice()).collect();
    let mut want: Vec<&[u8]> = LONG_ARGV.iter().map(|a| a.as_bytes()).collect();
    want[3] = &want[3][..16];
    assert_eq!(bytes, want);
    for (i, arg) in args.iter().enumerate() {
        assert!(
            !arg.fault && !arg.null && !arg.skipped,
            "argument {i}: {arg:?}"
        );
        if i != 3 {
            assert!(!arg.truncated, "argument {i} is whole: {arg:?}");
        }
    }
    // bpf_probe_read_user_str's size counts the NUL it writes: the kernel
    // side must read past the limit to know a string was cut.
    assert!(
        args[3].truncated && *args_truncated,
        "the cut argument says so (Captured.truncated) and so does argv (args_truncated): {:?}",
        args[3]
    );
}

#[test]
fn existing_output_is_refused_without_force() {
    if !common::require_root("existing_output_is_refused_without_force") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("precious.snoop");
    fs::write(&path, b"precious").expect("write");
    let mut child = Command::new(common::RECORD)
        .arg("-o")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn record");
    let status = wait_timeout(&mut child, Duration::from_secs(30));
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    assert!(!status.success(), "record overwrote an existing file");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr:?}");
    assert!(
        stderr.contains("exists") && stderr.contains("--force"),
        "says why and how: {stderr:?}"
    );
    assert!(!stderr.contains("Tracing"));
    assert_eq!(fs::read(&path).expect("read"), b"precious");
}

#[test]
fn duration_stops_by_itself_with_a_complete_capture() {
    if !common::require_root("duration_stops_by_itself_with_a_complete_capture") {
        return;
    }
    let _guard = common::bpf_lock();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("timed.snoop");
    // A world-readable file in the way: --force replaces it, mode 0600.
    fs::write(&path, b"old contents").expect("write");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
    let started = Instant::now();
    let mut child = Command::new(common::RECORD)
        .arg("-o")
        .arg(&path)
        .args(["--force", "--duration", "0.5"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn record");
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send((Instant::now(), line));
        }
    });
    let status = wait_timeout(&mut child, Duration::from_secs(30));
    let exited = Instant::now();
    let lines: Vec<(Instant, String)> = rx.iter().collect();
    assert!(status.success(), "exit 0 after --duration: {lines:?}");
    let tracing = lines
        .iter()
        .find(|(_, l)| l.starts_with("Tracing"))
        .unwrap_or_else(|| panic!("a Tracing line: {lines:?}"));
    let traced_for = exited.duration_since(tracing.0);
    assert!(
        traced_for >= Duration::from_millis(500) && traced_for < Duration::from_secs(10),
        "traced for {traced_for:?} (started {:?} ago)",
        started.elapsed()
    );
    assert!(lines.iter().any(|(_, l)| l.contains("bytes written")));

    let mode = fs::metadata(&path).expect("meta").permissions().mode() & 0o7777;
    assert_eq!(mode, 0o600);
    let capture = common::read_capture(&path);
    let trailer = capture
        .trailer
        .as_ref()
        .expect("a trailer: a complete capture");
    assert_eq!(trailer.stop_reason, "duration");
    let span = trailer.end_wall_ns - capture.header.start_wall_ns;
    assert!(
        (500_000_000..10_000_000_000).contains(&span),
        "the capture spans {span} ns"
    );
}

#[test]
fn live_pipe_into_replay_shows_execs_as_they_happen() {
    if !common::require_root("live_pipe_into_replay_shows_execs_as_they_happen") {
        return;
    }
    let _guard = common::bpf_lock();
    // Only uid 65534: a quiet stream (no other traffic pushes frames
    // through), so "live" does not depend on what else the machine runs.
    let mut record = Command::new(common::RECORD)
        .args(["-o", "-", "-u", "65534"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn record");
    let mut replay = Command::new(common::REPLAY)
        .arg("-")
        .stdin(Stdio::from(record.stdout.take().expect("record's stdout")))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn replay");
    let (tx, rx) = mpsc::channel::<String>();
    let replay_out = replay.stdout.take().expect("replay's stdout");
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        for line in BufReader::new(replay_out).lines().map_while(Result::ok) {
            let _ = tx.send(line.clone());
            all.push(line);
        }
        all
    });
    // Wait for the Tracing line.
    let mut record_err = record.stderr.take().expect("record's stderr");
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    while !String::from_utf8_lossy(&seen).contains("Tracing") {
        match record_err.read(&mut byte) {
            Ok(1) => seen.push(byte[0]),
            _ => panic!("record exited: {}", String::from_utf8_lossy(&seen)),
        }
    }
    let ran = run_workload("uid-exec", None);
    let calls = ran.calls_named("execve");
    assert_eq!(calls.len(), 2, "{calls:#?}");
    let (root_pid, pid) = (calls[0].pid, calls[1].pid);
    // execsnoop's table: PCOMM PID PPID RET ARGS.
    let wanted = |line: &str| {
        let words: Vec<&str> = line.split_whitespace().collect();
        words
            == [
                "true",
                &pid.to_string(),
                &ran.pid.to_string(),
                "0",
                "/bin/true",
                "as-nobody",
            ]
    };
    // Live: the line shows up while record still runs (record writes a
    // frame within its 1 s flush interval).
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut live = false;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) if wanted(&line) => {
                live = true;
                break;
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    // SAFETY: kill with a valid pid and signal.
    unsafe { libc::kill(record.id() as i32, libc::SIGINT) };
    let mut rest = String::new();
    record_err
        .read_to_string(&mut rest)
        .expect("record's stderr");
    let record_status = wait_timeout(&mut record, Duration::from_secs(30));
    let replay_status = wait_timeout(&mut replay, Duration::from_secs(30));
    let lines = reader.join().expect("reader thread");
    assert!(record_status.success(), "record -o -: {rest}");
    assert!(rest.contains("bytes written"), "summary: {rest}");
    let mut replay_err = String::new();
    replay
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut replay_err)
        .expect("replay's stderr");
    assert!(replay_status.success(), "replay -: {replay_err}");
    assert_eq!(
        lines
            .first()
            .map(|l| l.split_whitespace().collect::<Vec<_>>()),
        Some(vec!["PCOMM", "PID", "PPID", "RET", "ARGS"]),
        "execsnoop's header first"
    );
    assert_eq!(
        lines.iter().filter(|l| wanted(l)).count(),
        1,
        "replay - printed the exec of pid {pid} once: {lines:#?}"
    );
    assert!(
        !lines.iter().any(|l| l.contains(&format!(" {root_pid} "))),
        "root's exec is filtered out by -u: {lines:#?}"
    );
    // A live view must show an event while record still runs: replay
    // flushes once a frame's records are used up, before it may block.
    assert!(
        live,
        "the exec line appeared while record was running (within 5 s)"
    );
}

#[test]
fn bad_arguments_fail_with_one_line_and_no_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("never.snoop");
    for (args, mentions) in [
        (&["--events", "bogus"][..], &["bogus", "--events"][..]),
        (&["--max-args", "0"], &["--max-args"]),
        (&["--ringbuf-size", "1000"], &["1000", "power of two"]),
    ] {
        let out = Command::new(common::RECORD)
            .arg("-o")
            .arg(&path)
            .args(args)
            .output()
            .expect("run record");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} accepted");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr:?}");
        for word in mentions {
            assert!(stderr.contains(word), "{args:?}: {stderr:?} names {word}");
        }
        assert!(!path.exists(), "{args:?} left an output file");
    }
}

// ---------------------------------------------------------------------------
// Calls in progress when the capture ends
// ---------------------------------------------------------------------------

/// docs/EVENTS.md, Unfinished calls: a mount and an execve blocked on a FUSE
/// filesystem that never answers (`workload hang`) when record stops are
/// shown as unfinished, `capture_ended`, in every format; their later
/// failure is outside the capture.
#[test]
fn calls_blocked_when_record_stops_are_shown_unfinished() {
    if !common::require_root("calls_blocked_when_record_stops_are_shown_unfinished") {
        return;
    }
    if !Path::new("/dev/fuse").exists() {
        common::skip(
            "calls_blocked_when_record_stops_are_shown_unfinished",
            "no /dev/fuse (the hang scenario needs FUSE)",
        );
        return;
    }
    let _guard = common::bpf_lock();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("hang.snoop");
    let cgroup = TempCgroup::new("hang");
    let cg = cgroup.path.to_str().expect("UTF-8 cgroup path");
    let recording = Recording::start(&path, &["--cgroup", cg]);
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg(r#"echo $$ > "$1/cgroup.procs" && exec "$2" hang"#)
        .arg("sh")
        .arg(&cgroup.path)
        .arg(common::workload())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn workload hang");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut before = String::new();
    let hung = loop {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).expect("read workload") > 0,
            "workload hang ended early: {before}"
        );
        if let Some(rest) = line.strip_prefix("HUNG ") {
            break rest.to_string();
        }
        before.push_str(&line);
    };
    let pid_of = |key: &str| -> u32 {
        hung.split_whitespace()
            .find_map(|kv| kv.strip_prefix(key))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{key} in {hung}"))
    };
    let (mounter, execer) = (pid_of("mount="), pid_of("execve="));
    stop_ok(recording);
    // End of file on its stdin releases the calls (after the capture).
    drop(child.stdin.take());
    let mut after = String::new();
    stdout.read_to_string(&mut after).expect("read workload");
    assert!(child.wait().expect("wait workload").success());
    let calls = common::parse_calls(&format!("{before}{after}"));
    let hung_mount = calls
        .iter()
        .find(|c| c.name == "mount-hung")
        .expect("mount-hung");
    assert_eq!(hung_mount.errno, 107, "released with ENOTCONN");

    let capture = common::read_capture(&path);
    assert_eq!(capture.stats.incomplete_at_end, 2, "{:?}", capture.stats);
    assert_eq!(capture.stats.incomplete_entries, 2);
    let unfinished: Vec<&Event> = capture
        .events
        .iter()
        .filter(|e| e.unfinished.is_some())
        .collect();
    assert_eq!(unfinished.len(), 2, "{unfinished:#?}");
    // After every finished event.
    assert!(capture
        .events
        .iter()
        .rev()
        .take(2)
        .all(|e| e.unfinished.is_some()));
    let mount = unfinished
        .iter()
        .find(|e| e.pid == mounter)
        .expect("the mount");
    assert_eq!(mount.syscall, Syscall::Mount);
    assert_eq!(
        mount.unfinished,
        Some(snoopcap::event::Unfinished::EndOfCapture)
    );
    assert_eq!((mount.returned(), mount.latency()), (None, None));
    let target = hung_mount.get("target").expect("target");
    assert!(
        matches!(&mount.args, Args::Mount { target: t, .. } if t.bytes == target.as_bytes()),
        "{:?}",
        mount.args
    );
    let exec = unfinished
        .iter()
        .find(|e| e.pid == execer)
        .expect("the exec");
    assert!(exec.syscall.is_exec());
    assert_eq!(exec.comm, exec.comm_before, "no exit: the comm at entry");

    let p = path.to_str().expect("UTF-8");
    let (code, json, stderr) = common::replay(&["--format", "json", p]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("2 entries without their exit record are shown as unfinished calls (2 still in progress when the capture ended)"),
        "{stderr}"
    );
    let lines: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .filter(|v: &serde_json::Value| v["unfinished"] == true)
        .collect();
    assert_eq!(lines.len(), 2);
    for line in &lines {
        assert_eq!(line["ret"], serde_json::Value::Null);
        assert_eq!(line["latency_ns"], serde_json::Value::Null);
        assert_eq!(line["unfinished_reason"], "capture_ended");
    }
    let (_, table, _) = common::replay(&["--events", "mount", p]);
    assert!(
        table.contains(&format!(
            "\"{target}\", \"tmpfs\", 0x0, \"size=64k\") = ? (unfinished: capture ended)"
        )),
        "{table}"
    );
}
