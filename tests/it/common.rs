//! Shared pieces of the integration tests: the root policy (skip on a laptop
//! without root, never under `CI=true`), building the C workload, running
//! `record` around a workload, and reading a capture back into events.

#![allow(dead_code)]
// Recording and its imports exist only with the record feature.
#![cfg_attr(not(feature = "record"), allow(unused_imports))]

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use snoopcap::event::Event;
use snoopcap::format::{CaptureHeader, Trailer};
use snoopcap::replay::decode::RawRecord;
use snoopcap::replay::reassemble::ReassemblyStats;
use snoopcap::replay::{EventStream, Item, StreamOptions};

#[cfg(feature = "record")]
pub const RECORD: &str = env!("CARGO_BIN_EXE_record");
pub const REPLAY: &str = env!("CARGO_BIN_EXE_replay");

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// True when the test may use BPF. Without root it skips (returns false),
/// except under `CI=true`, where a skipped root test is a failure.
pub fn require_root(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    skip(test, "needs root")
}

/// A test cannot run here because `why` (a missing prerequisite): under
/// `CI=true` that is a failure (every test must run there); elsewhere the
/// test says so and skips. Always false, for `if !found { return skip(..) }`.
pub fn skip(test: &str, why: &str) -> bool {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{test}: {why} (scripts/install-deps installs what tests need); under CI=true it must run, not skip"
    );
    // Straight to stderr, past the test harness's capture of eprintln!, so
    // that a skipped test says so in the test output instead of a bare "ok".
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: {why} (run scripts/install-deps; under CI=true this is a failure)"
    );
    false
}

/// BPF tests share the kernel's tracepoints and the machine's CPUs: run them
/// one at a time so that timing-sensitive checks are not disturbed.
pub fn bpf_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: OnceLock<std::sync::Mutex<()>> = OnceLock::new();
    LOCK.get_or_init(|| std::sync::Mutex::new(()))
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The C workload (tests/workload.c), built once per test run.
pub fn workload() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        build_c(
            "tests/workload.c",
            "workload",
            &["-O2", "-Wall", "-pthread"],
            "",
        )
    })
}

/// tests/hostile.c (hostile records and the `storm` scenario), built once.
pub fn hostile() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| build_c("tests/hostile.c", "hostile", &["-O2", "-Wall"], ""))
}

/// Compiles the test program `source` (relative to the repository) with
/// `cc FLAGS -o OUT` into the target's temporary directory; panics, with
/// `hint` (what to install), if that fails. Callers keep the path in a
/// `OnceLock` so that each program is built once per test run.
pub fn build_c(source: &str, out: &str, flags: &[&str], hint: &str) -> PathBuf {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(out);
    let status = Command::new("cc")
        .args(flags)
        .arg("-o")
        .arg(&out)
        .arg(repo().join(source))
        .status()
        .expect("run cc");
    assert!(status.success(), "building {source} failed{hint}");
    out
}

/// One `CALL` line of the workload's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub name: String,
    pub pid: u32,
    pub tid: u32,
    pub ret: i64,
    pub errno: i64,
    pub extra: Vec<(String, String)>,
}

impl Call {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.extra
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

pub fn parse_calls(stdout: &str) -> Vec<Call> {
    stdout
        .lines()
        .filter_map(|line| line.strip_prefix("CALL "))
        .map(|rest| {
            let mut words = rest.split(' ');
            let name = words.next().unwrap_or("").to_string();
            let mut call = Call {
                name,
                pid: 0,
                tid: 0,
                ret: 0,
                errno: 0,
                extra: Vec::new(),
            };
            for word in words {
                let Some((k, v)) = word.split_once('=') else {
                    continue;
                };
                match k {
                    "pid" => call.pid = v.parse().expect("pid"),
                    "tid" => call.tid = v.parse().expect("tid"),
                    "ret" => call.ret = v.parse().expect("ret"),
                    "errno" => call.errno = v.parse().expect("errno"),
                    _ => call.extra.push((k.to_string(), v.to_string())),
                }
            }
            call
        })
        .collect()
}

/// A running `record`, stopped with SIGINT.
#[cfg(feature = "record")]
pub struct Recording {
    pub child: Child,
    pub path: PathBuf,
    stderr: Option<std::process::ChildStderr>,
}

#[cfg(feature = "record")]
impl Recording {
    /// Starts `record -o PATH ARGS...` and waits for its `Tracing` line.
    pub fn start(path: &Path, args: &[&str]) -> Recording {
        let mut child = Command::new(RECORD)
            .arg("-o")
            .arg(path)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn record");
        let mut stderr = child.stderr.take().expect("stderr");
        let mut seen = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut byte = [0u8; 1];
        while !String::from_utf8_lossy(&seen).contains("Tracing") {
            assert!(Instant::now() < deadline, "record did not start");
            match stderr.read(&mut byte) {
                Ok(1) => seen.push(byte[0]),
                _ => panic!(
                    "record exited before tracing: {}",
                    String::from_utf8_lossy(&seen)
                ),
            }
        }
        Recording {
            child,
            path: path.to_path_buf(),
            stderr: Some(stderr),
        }
    }

    /// Stops it with SIGINT; returns (exit success, the rest of stderr).
    pub fn stop(mut self) -> (bool, String) {
        // Let the last records reach the ring buffer's reader.
        std::thread::sleep(Duration::from_millis(300));
        // SAFETY: kill with a valid pid and signal.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let mut rest = String::new();
        if let Some(mut stderr) = self.stderr.take() {
            let _ = stderr.read_to_string(&mut rest);
        }
        let status = self.child.wait().expect("wait record");
        (status.success(), rest)
    }
}

/// Runs the workload scenario; returns its CALL lines.
pub fn run_workload(scenario: &str) -> Vec<Call> {
    let out = Command::new(workload())
        .arg(scenario)
        .output()
        .expect("run workload");
    assert!(out.status.success(), "workload {scenario} failed");
    parse_calls(&String::from_utf8_lossy(&out.stdout))
}

/// Everything a capture holds, decoded and paired.
pub struct Replayed {
    pub header: CaptureHeader,
    pub trailer: Option<Trailer>,
    /// The syscall events (exec and mount family).
    pub events: Vec<Event>,
    /// The fork and exit events.
    pub lifecycle: Vec<Event>,
    pub stats: ReassemblyStats,
}

/// Reads a capture through the event stream, as replay does: every event,
/// unfiltered. Panics on any warning (these captures must be clean).
pub fn read_capture(path: &Path) -> Replayed {
    let file = File::open(path).expect("open capture");
    let mut stream =
        EventStream::open(BufReader::new(file), &StreamOptions::default()).expect("capture header");
    let (mut events, mut lifecycle) = (Vec::new(), Vec::new());
    for item in stream.by_ref() {
        match item {
            Item::Event(event) if event.syscall.is_lifecycle() => lifecycle.push(event),
            Item::Event(event) => events.push(event),
            Item::Warning(warning) => panic!("{}: {warning}", path.display()),
            Item::Record(_) | Item::Process(_) | Item::EndOfFrame => {}
        }
    }
    let summary = stream.finish();
    assert_eq!(
        summary.decode_errors,
        0,
        "{}: undecodable records",
        path.display()
    );
    Replayed {
        header: summary.header,
        trailer: summary.trailer,
        events,
        lifecycle,
        stats: summary.pairing,
    }
}

/// Every decoded kernel record of a capture, in file order.
pub fn raw_records(path: &Path) -> Vec<RawRecord> {
    let file = File::open(path).expect("open capture");
    let options = StreamOptions {
        raw_records: true,
        ..StreamOptions::default()
    };
    let mut stream = EventStream::open(BufReader::new(file), &options).expect("capture header");
    let mut records = Vec::new();
    for item in stream.by_ref() {
        match item {
            Item::Record(record) => records.push(record),
            Item::Warning(warning) => panic!("{}: {warning}", path.display()),
            Item::Event(_) | Item::Process(_) | Item::EndOfFrame => {}
        }
    }
    assert_eq!(
        stream.finish().decode_errors,
        0,
        "{}: undecodable records",
        path.display()
    );
    records
}

/// Runs `command` to its end and returns its standard output. The test
/// fails, naming `what` and showing the command's standard error, if it
/// cannot start or does not succeed.
pub fn stdout_of(command: &mut Command, what: &str) -> Vec<u8> {
    let out = command
        .output()
        .unwrap_or_else(|err| panic!("{what}: cannot run: {err}"));
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The Python the tests run their checks with: the project's `.venv`
/// (scripts/install-deps puts jsonschema, duckdb and pyarrow there), or
/// `python3` from PATH.
pub fn python() -> PathBuf {
    let venv = repo().join(".venv/bin/python3");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

/// Runs `replay ARGS...`; returns (exit code, stdout, stderr).
pub fn replay(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(REPLAY)
        .args(args)
        .output()
        .expect("run replay");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `replay ARGS...`, which must exit 0: its stdout as JSON Lines, and its
/// stderr.
pub fn replay_json(args: &[&str]) -> (Vec<serde_json::Value>, String) {
    let (code, stdout, stderr) = replay(args);
    assert_eq!(code, 0, "replay {args:?}: {stderr}");
    let events = stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    (events, stderr)
}

/// The events of `replay ARGS...`, which must exit 0, as JSON values.
pub fn json_lines(args: &[&str]) -> Vec<serde_json::Value> {
    replay_json(args).0
}

/// Lines of a file, for golden comparisons.
pub fn lines_of(path: &Path) -> Vec<String> {
    BufReader::new(File::open(path).expect("open"))
        .lines()
        .map(|l| l.expect("line"))
        .collect()
}

/// Where cgroup v2 is mounted, from /proc/mounts.
pub fn cgroup2_root() -> PathBuf {
    let mounts = fs::read_to_string("/proc/mounts").expect("read /proc/mounts");
    mounts
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            (fields.get(2) == Some(&"cgroup2")).then(|| PathBuf::from(fields[1]))
        })
        .expect("cgroup v2 is mounted (a cgroup2 line in /proc/mounts)")
}

/// Moves the calling process into the cgroup whose `cgroup.procs` file is
/// `procs` (writing 0 there moves the writer). Only open, write and close,
/// all async-signal-safe, so it may run in `pre_exec` between fork and exec.
pub fn join_cgroup(procs: &std::ffi::CStr) -> std::io::Result<()> {
    // SAFETY: a valid NUL-terminated path and a one-byte buffer.
    unsafe {
        let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let n = libc::write(fd, b"0".as_ptr().cast(), 1);
        let err = std::io::Error::last_os_error();
        libc::close(fd);
        if n != 1 {
            return Err(err);
        }
    }
    Ok(())
}

/// A cgroup v2 directory of our own, removed on drop.
pub struct TempCgroup {
    pub path: PathBuf,
}

impl TempCgroup {
    pub fn new(tag: &str) -> TempCgroup {
        let path = cgroup2_root().join(format!("snoopcap-e2e-{}-{tag}", std::process::id()));
        if let Err(err) = fs::create_dir(&path) {
            assert_eq!(
                err.kind(),
                std::io::ErrorKind::AlreadyExists,
                "mkdir {}: {err}",
                path.display()
            );
        }
        TempCgroup { path }
    }

    pub fn id(&self) -> u64 {
        fs::metadata(&self.path).expect("stat the cgroup").ino()
    }
}

impl Drop for TempCgroup {
    fn drop(&mut self) {
        // Empty once its processes are reaped; give the kernel a moment.
        for _ in 0..50 {
            if fs::remove_dir(&self.path).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
