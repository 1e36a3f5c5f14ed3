//! `record` beside other tracers (issue 19): perf, counting the very syscall
//! tracepoints record's programs are attached to, counts the same calls with
//! record running (one, two at once, or one whose filter leaves the workload
//! out) as without it, and each record still holds every call.
//!
//! A classic tracepoint program decides whether the kernel hands the event on
//! to the tracepoint's perf events: a program that returns 0 leaves perf
//! counting nothing. The workload is `workload coexist N` (N execs of
//! /bin/true, then N tmpfs mount+umount pairs in a private mount namespace)
//! under `perf stat`, which counts it and its children only, so other
//! processes' calls on this shared machine do not disturb the counts.
//! Needs root and /usr/bin/perf (Debian's linux-perf, from
//! scripts/install-deps).

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::common::{self, Call, Recording};

const PERF: &str = "/usr/bin/perf";

/// The workload's execs, and its mount+umount pairs.
const N: usize = 200;

/// The tracepoints perf counts: entry and exit of each kind the workload
/// makes, all of which record attaches to.
const EVENTS: [&str; 6] = [
    "syscalls:sys_enter_execve",
    "syscalls:sys_exit_execve",
    "syscalls:sys_enter_mount",
    "syscalls:sys_exit_mount",
    "syscalls:sys_enter_umount",
    "syscalls:sys_exit_umount",
];

/// perf resolves `syscalls:*` through tracefs; record mounts it when it is
/// missing, but perf runs first here.
fn ensure_tracefs() {
    let mounted = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
        .iter()
        .any(|dir| Path::new(dir).join("events/syscalls").is_dir());
    if mounted {
        return;
    }
    let status = Command::new("mount")
        .args(["-t", "tracefs", "nodev", "/sys/kernel/tracing"])
        .status()
        .expect("run mount");
    assert!(status.success(), "mounting tracefs failed");
}

/// One run of the workload under perf stat.
struct Counted {
    /// perf's count per tracepoint.
    counts: BTreeMap<String, u64>,
    /// The workload's CALL lines.
    calls: Vec<Call>,
}

/// Runs `workload coexist N` under `perf stat -e EVENTS`.
fn perf_stat_workload() -> Counted {
    let dir = tempfile::tempdir().expect("tempdir");
    let stat = dir.path().join("stat.csv");
    let out = common::stdout_of(
        Command::new(PERF)
            .args(["stat", "-x", ",", "-o"])
            .arg(&stat)
            .arg("-e")
            .arg(EVENTS.join(","))
            .arg("--")
            .arg(common::workload())
            .args(["coexist", &N.to_string()])
            .stdin(Stdio::null()),
        "perf stat failed",
    );
    let text = fs::read_to_string(&stat).expect("read perf's output");
    // -x, lines: count,unit,event,run time,percentage,...
    let mut counts = BTreeMap::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split(',').collect();
        let (Some(count), Some(event)) = (fields.first(), fields.get(2)) else {
            continue;
        };
        let count = count
            .parse()
            .unwrap_or_else(|_| panic!("perf did not count {event}: {line:?} in {text}"));
        counts.insert(event.to_string(), count);
    }
    for event in EVENTS {
        assert!(
            counts.contains_key(event),
            "perf printed no count for {event}: {text}"
        );
    }
    Counted {
        counts,
        calls: common::parse_calls(&String::from_utf8_lossy(&out)),
    }
}

/// The workload's calls of `name`.
fn calls_named<'a>(calls: &'a [Call], name: &str) -> Vec<&'a Call> {
    calls.iter().filter(|c| c.name == name).collect()
}

/// What a run should have done: N of each, all successful.
fn check_workload(run: &Counted) {
    for name in ["execve", "mount", "umount"] {
        let of = calls_named(&run.calls, name);
        assert_eq!(of.len(), N, "the workload made {N} {name} calls");
        assert!(
            of.iter().all(|c| c.ret == 0),
            "every {name} succeeded: {of:#?}"
        );
    }
}

/// perf's counts without record, and their floor: every call of the
/// workload, entry and exit.
fn check_alone(alone: &Counted) {
    eprintln!("perf alone: {:?}", alone.counts);
    check_workload(alone);
    for event in EVENTS {
        assert!(
            alone.counts[event] >= N as u64,
            "perf alone counted {} {event}, the workload made {N}: {:?} (is another tracer whose \
             tracepoint programs return 0 attached, such as an older record or libbpf-tools' \
             execsnoop? It blinds perf machine-wide)",
            alone.counts[event],
            alone.counts
        );
    }
}

/// The same counts with record running as without.
fn check_same_counts(alone: &Counted, with: &Counted, what: &str) {
    eprintln!("perf with {what}: {:?}", with.counts);
    check_workload(with);
    assert_eq!(
        with.counts, alone.counts,
        "perf's counts with {what} running differ from its counts alone (record blinds perf \
         when its tracepoint programs return 0)"
    );
}

/// Checks that the capture holds every call of the workload: each exec
/// child's exec of /bin/true once, and all N mounts and umounts of its
/// temp dir. With `filtered_out`, that it holds none of them.
fn check_capture(path: &Path, run: &Counted, filtered_out: bool) {
    let capture = path.to_str().expect("UTF-8 path");
    let (code, stdout, stderr) = common::replay(&["--format", "json", capture]);
    assert_eq!(code, 0, "replay {capture}: {stderr}");
    let events: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    let pid_of = |e: &Value| e["pid"].as_u64().expect("pid") as u32;

    let mut want_execs: Vec<u32> = calls_named(&run.calls, "execve")
        .iter()
        .map(|c| c.pid)
        .collect();
    want_execs.sort_unstable();
    let mut got_execs: Vec<u32> = events
        .iter()
        .filter(|e| {
            e["event"] == "exec"
                && e["filename"] == "/bin/true"
                && e["ret"] == 0
                && want_execs.binary_search(&pid_of(e)).is_ok()
        })
        .map(pid_of)
        .collect();
    got_execs.sort_unstable();

    let mounts = calls_named(&run.calls, "mount");
    let (mount_pid, target) = (
        mounts[0].pid,
        mounts[0].get("target").expect("target").to_string(),
    );
    let count = |event: &str| {
        events
            .iter()
            .filter(|e| {
                e["event"] == event
                    && pid_of(e) == mount_pid
                    && e["target"] == target.as_str()
                    && e["ret"] == 0
            })
            .count()
    };
    if filtered_out {
        assert!(got_execs.is_empty(), "{capture}: filtered execs captured");
        assert_eq!(
            (count("mount"), count("umount")),
            (0, 0),
            "{capture}: filtered mounts captured"
        );
        return;
    }
    assert_eq!(
        got_execs.len(),
        N,
        "{capture} holds {} of the workload's {N} execs",
        got_execs.len()
    );
    assert_eq!(got_execs, want_execs, "{capture}: each exec once");
    assert_eq!(
        (count("mount"), count("umount")),
        (N, N),
        "{capture} holds every mount and umount of {target} by pid {mount_pid}"
    );
}

/// A recording that is killed if the test fails before it is stopped, so
/// that no `record` outlives a failed test.
struct Running(Option<Recording>);

impl Running {
    fn start(path: &Path, args: &[&str]) -> Running {
        Running(Some(Recording::start(path, args)))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut recording) = self.0.take() {
            let _ = recording.child.kill();
            let _ = recording.child.wait();
        }
    }
}

fn stop_ok(mut running: Running) {
    let recording = running.0.take().expect("still running");
    let (ok, stderr) = recording.stop();
    assert!(ok, "record did not exit 0 on SIGINT: {stderr}");
    assert!(
        stderr.contains(", 0 lost"),
        "record lost records in the kernel: {stderr}"
    );
}

#[test]
fn perf_counts_the_same_calls_with_record_running() {
    if !common::require_root("perf_counts_the_same_calls_with_record_running") {
        return;
    }
    assert!(
        Path::new(PERF).exists(),
        "{PERF} is missing: run scripts/install-deps (Debian's linux-perf)"
    );
    let _guard = common::bpf_lock();
    ensure_tracefs();
    let dir = tempfile::tempdir().expect("tempdir");

    let alone = perf_stat_workload();
    check_alone(&alone);

    // One record, tracing everything.
    let path = dir.path().join("one.snoop");
    let recording = Running::start(&path, &[]);
    let with_one = perf_stat_workload();
    stop_ok(recording);
    check_same_counts(&alone, &with_one, "record");
    check_capture(&path, &with_one, false);

    // Two at once: the kernel runs both programs on each event and hands it
    // to perf only if both pass it on.
    let paths = [dir.path().join("a.snoop"), dir.path().join("b.snoop")];
    let recordings: Vec<Running> = paths.iter().map(|p| Running::start(p, &[])).collect();
    let with_two = perf_stat_workload();
    recordings.into_iter().for_each(stop_ok);
    check_same_counts(&alone, &with_two, "two records");
    for path in &paths {
        check_capture(path, &with_two, false);
    }

    // A record whose filter leaves the workload out (it runs as root): the
    // filtered-out paths must pass the event on too.
    let path = dir.path().join("filtered.snoop");
    let recording = Running::start(&path, &["-u", "65534"]);
    let with_filtered = perf_stat_workload();
    stop_ok(recording);
    check_same_counts(&alone, &with_filtered, "record -u 65534");
    check_capture(&path, &with_filtered, true);
}
