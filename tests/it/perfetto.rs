//! `replay --format perfetto` against Perfetto's own schema: each test
//! exports a capture, exports the same capture (same options) as JSON, and
//! runs tests/perfetto_check.py, which decodes the trace with the
//! `perfetto` package's `perfetto_trace_pb2` and compares every track,
//! slice, instant and annotation with the JSON events (nothing missing,
//! nothing extra), plus the clocks and the capture's metadata. The script
//! also gets the capture's context as snoopcap's event stream reads it
//! (header, start snapshot, summary, warnings).
//!
//! The Python packages come from scripts/install-deps (pip: `perfetto`,
//! `protobuf`). Without them the tests skip, except under `CI=true`, where
//! they fail.

use std::fs::{self, File};
use std::io::BufReader;
#[cfg(feature = "record")]
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use snoopcap::render::time::Rfc3339Formatter;
use snoopcap::replay::stream::CUT_SHORT;
use snoopcap::replay::{EventStream, Item, StreamOptions, Warning};

use crate::common::{self, REPLAY};

/// Whether Python has Perfetto's schema; under CI=true it must.
fn python_ready(test: &str) -> bool {
    let probe = Command::new(common::python())
        .args([
            "-c",
            "from perfetto.protos.perfetto.trace import perfetto_trace_pb2",
        ])
        .output();
    if probe.as_ref().is_ok_and(|out| out.status.success()) {
        return true;
    }
    let why = match probe {
        Ok(out) => String::from_utf8_lossy(&out.stderr).into_owned(),
        Err(err) => err.to_string(),
    };
    crate::common::skip(
        test,
        &format!("the tests' python cannot import perfetto_trace_pb2: {why}"),
    )
}

fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("snoopcap-perfetto-")
        .tempdir()
        .expect("tempdir")
}

fn testdata(name: &str) -> PathBuf {
    common::repo().join("testdata").join(name)
}

/// The warning instant's name and kind, as the exporter names them.
fn warning_names(warning: &Warning) -> (&'static str, &'static str) {
    match warning {
        Warning::Skipped(_) => ("corrupt frame skipped", "skipped"),
        Warning::Truncated(_) => ("capture truncated", "truncated"),
        Warning::Fatal(_) => ("unreadable input", "fatal"),
        Warning::Undecodable(_) => ("undecodable kernel record", "undecodable"),
    }
}

/// What the checker needs to know of one input beyond its JSON events, read
/// through the event stream (with `select`, for the start snapshot's
/// processes), and how many JSON events replay `args` gives for it alone.
fn context(input: &Path, args: &[&str], select: &StreamOptions) -> Value {
    let alone = Command::new(REPLAY)
        .args(["--format", "json"])
        .args(args)
        .arg(input)
        .output()
        .expect("run replay");
    let events = alone.stdout.iter().filter(|&&b| b == b'\n').count();
    let file = File::open(input).expect("open the capture");
    let mut stream = EventStream::open(BufReader::new(file), select).expect("capture header");
    let (mut snapshot, mut warnings) = (Vec::new(), Vec::new());
    for item in stream.by_ref() {
        match item {
            Item::Process(p) => snapshot.push(json!({
                "pid": p.pid,
                "ppid": p.ppid,
                "start_ns": p.start_ns,
                "comm": String::from_utf8_lossy(&p.comm),
                "argv": p.argv.iter().map(|a| String::from_utf8_lossy(a)).collect::<Vec<_>>(),
            })),
            Item::Warning(w) => {
                let (name, kind) = warning_names(&w);
                warnings.push(json!({"name": name, "kind": kind, "message": w.to_string()}));
            }
            Item::Event(_) | Item::Record(_) | Item::EndOfFrame => {}
        }
    }
    let summary = stream.finish();
    let mut time = Rfc3339Formatter::new();
    let header = &summary.header;
    let trailer = summary.trailer.as_ref().map(|t| {
        json!({"stop_reason": t.stop_reason, "end_wall_ns": t.end_wall_ns, "last_ts_ns": t.last_ts_ns})
    });
    json!({
        "header": header,
        "clock_wall": time.format(header.clock.wall_ns),
        "start": time.format(header.start_wall_ns),
        "end": summary.trailer.as_ref().map(|t| time.format(t.end_wall_ns).to_string()),
        "snapshot": snapshot,
        "warnings": warnings,
        "events": events,
        "cut_short_message": CUT_SHORT,
        "summary": {
            "lost": summary.loss,
            "orphan_exits": summary.pairing.orphan_exits,
            "incomplete_entries": summary.pairing.incomplete_entries,
            "decode_errors": summary.decode_errors,
            "trailer": trailer,
        },
    })
}

/// Exports `inputs` with `args` to Perfetto and to JSON and checks one
/// against the other with Perfetto's schema. `select` must be the stream
/// selection `args` make (for the start snapshot's processes). Returns the
/// checker's report.
fn check(test: &str, args: &[&str], inputs: &[PathBuf], select: &StreamOptions) -> Option<String> {
    if !python_ready(test) {
        return None;
    }
    let dir = tempdir();
    let trace = dir.path().join("trace.pftrace");
    let status = Command::new(REPLAY)
        .args(["--format", "perfetto", "-o"])
        .arg(&trace)
        .args(args)
        .args(inputs)
        .status()
        .expect("run replay");
    assert!(
        status.code().is_some_and(|c| c <= 1),
        "replay --format perfetto: {status}"
    );
    let json = Command::new(REPLAY)
        .args(["--format", "json"])
        .args(args)
        .args(inputs)
        .output()
        .expect("run replay");
    let events = dir.path().join("events.jsonl");
    fs::write(&events, &json.stdout).expect("write events");
    let contexts: Vec<Value> = inputs.iter().map(|i| context(i, args, select)).collect();
    let context_path = dir.path().join("context.json");
    fs::write(&context_path, serde_json::to_vec(&contexts).expect("json")).expect("write");
    let out = Command::new(common::python())
        .arg(common::repo().join("tests/perfetto_check.py"))
        .args([&trace, &events, &context_path])
        .output()
        .expect("run python3");
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{test}: perfetto_check failed:\n{}{report}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(report)
}

/// The report's count of `what` ("3 slices" → 3).
fn count(report: &str, what: &str) -> u64 {
    report
        .split(", ")
        .flat_map(|part| part.split(": "))
        .find_map(|part| part.strip_suffix(what)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {what} in {report:?}"))
}

#[test]
fn lineage_fixture_matches_its_json() {
    let report = check(
        "lineage_fixture_matches_its_json",
        &[],
        &[testdata("lineage.snoop")],
        &StreamOptions::default(),
    );
    if let Some(report) = report {
        // 12 exec images (three by exec32 alone) and the capture's slice;
        // 12 forks, 12 exits.
        assert_eq!(count(&report, "slices"), 13, "{report}");
        assert_eq!(count(&report, "instants"), 24, "{report}");
    }
}

#[test]
fn unfinished_calls_are_instants_without_results() {
    let report = check(
        "unfinished_calls_are_instants_without_results",
        &[],
        &[testdata("unfinished.snoop")],
        &StreamOptions::default(),
    );
    if let Some(report) = report {
        // An exec image, two mount slices and the capture's slice; the
        // unfinished mount and exec are instants, and the loss track says
        // at the end that two calls were unfinished.
        assert_eq!(count(&report, "slices"), 4, "{report}");
        assert_eq!(count(&report, "instants"), 3, "{report}");
    }
}

#[test]
fn workload_fixture_has_every_mount_family_call_as_a_slice() {
    let report = check(
        "workload_fixture_has_every_mount_family_call_as_a_slice",
        &[],
        &[testdata("workload.snoop")],
        &StreamOptions::default(),
    );
    if let Some(report) = report {
        // 6 execs (2 failed: instants), 17 mount-family calls, the capture.
        assert_eq!(count(&report, "slices"), 4 + 17 + 1, "{report}");
        assert_eq!(count(&report, "instants"), 2, "{report}");
    }
}

#[test]
fn filters_select_what_the_trace_shows() {
    let lineage = testdata("lineage.snoop");
    let workload = testdata("workload.snoop");
    let subtree = StreamOptions {
        descendants_of: Some(24500),
        ..StreamOptions::default()
    };
    check(
        "filters: --descendants-of",
        &["--descendants-of", "24500"],
        std::slice::from_ref(&lineage),
        &subtree,
    );
    let all = StreamOptions::default();
    // A window in the middle of the pipeline: slices that began before it
    // are not in it.
    check(
        "filters: time window",
        &["--since", "+0.121", "--until", "+0.14"],
        std::slice::from_ref(&lineage),
        &all,
    );
    check(
        "filters: --cgroup-path",
        &["--cgroup-path", "^/snoopcap-fixture-[0-9]+$"],
        std::slice::from_ref(&workload),
        &all,
    );
    if let Some(report) = check(
        "filters: --cgroup-path that matches nothing",
        &["--cgroup-path", "^/docker"],
        std::slice::from_ref(&workload),
        &all,
    ) {
        assert_eq!(count(&report, "tracks"), 1, "only the capture's: {report}");
    }
    check(
        "filters: --failed-only",
        &["--failed-only"],
        std::slice::from_ref(&workload),
        &all,
    );
}

#[test]
fn damage_loss_and_cut_short_are_instants_on_their_own_track() {
    let all = StreamOptions::default();
    for (name, expected) in [
        ("bad/undecodable-record.snoop", 3),
        ("bad/payload-flip.snoop", 1),
        ("cut.snoop", 1),
    ] {
        let report = check(&format!("damage: {name}"), &[], &[testdata(name)], &all);
        if let Some(report) = report {
            // The loss track is there (capture track, loss track, processes).
            assert!(count(&report, "tracks") >= 2, "{name}: {report}");
            assert!(count(&report, "instants") >= expected, "{name}: {report}");
        }
    }
}

#[test]
fn two_captures_of_one_boot_share_a_trace_and_two_boots_cannot() {
    // Two fixtures recorded in one boot, one after the other: merged in
    // time order, the earlier one's events come first.
    let lineage = testdata("lineage.snoop");
    let report = check(
        "two captures of one boot",
        &[],
        &[testdata("unfinished.snoop"), lineage.clone()],
        &StreamOptions::default(),
    );
    if let Some(report) = report {
        assert!(report.contains("41 JSON events"), "{report}");
    }
    let dir = tempdir();
    let trace = dir.path().join("two.pftrace");
    let out = Command::new(REPLAY)
        .args(["--format", "perfetto", "-o"])
        .arg(&trace)
        .arg(&lineage)
        .arg(testdata("workload.snoop"))
        .output()
        .expect("run replay");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("workload.snoop: recorded in another boot"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
}

#[test]
fn stdout_gets_the_same_trace_as_the_output_file() {
    let dir = tempdir();
    let file = dir.path().join("t.pftrace");
    let lineage = testdata("lineage.snoop");
    let status = Command::new(REPLAY)
        .args(["--format", "perfetto", "-o"])
        .arg(&file)
        .arg(&lineage)
        .status()
        .expect("run replay");
    assert!(status.success());
    let piped = Command::new(REPLAY)
        .args(["--format", "perfetto"])
        .arg(&lineage)
        .output()
        .expect("run replay");
    assert!(piped.status.success());
    let written = fs::read(&file).expect("read the trace");
    assert!(!written.is_empty());
    assert_eq!(written, piped.stdout);
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(&file).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the trace holds command lines");
}

/// Runs `script` with `sh -c` in cgroup `cg` (it moves itself there first),
/// its stdin piped.
#[cfg(feature = "record")]
fn sh_in_cgroup(cg: &common::TempCgroup, script: &str) -> std::process::Child {
    let script = format!("echo $$ > {}/cgroup.procs && {script}", cg.path.display());
    Command::new("sh")
        .args(["-c", &script])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("spawn sh")
}

/// Waits until cgroup `cg` holds `n` processes.
#[cfg(feature = "record")]
fn wait_for_processes(cg: &common::TempCgroup, n: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let procs = fs::read_to_string(cg.path.join("cgroup.procs")).unwrap_or_default();
        if procs.lines().count() >= n {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{n} processes in {}",
            cg.path.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[cfg(feature = "record")]
#[test]
fn start_snapshot_names_and_describes_the_processes_above_the_capture() {
    let test = "start_snapshot_names_and_describes_the_processes_above_the_capture";
    if !common::require_root(test) || !python_ready(test) {
        return;
    }
    let _lock = common::bpf_lock();
    let cg = common::TempCgroup::new("perfetto-snapshot");
    // A shell older than the capture runs a second one, which waits for a
    // line; once the capture runs it forks /bin/true and exits 4.
    let mut outer = sh_in_cgroup(&cg, "sh -c 'read line; /bin/true; exit 4'; exit 0");
    wait_for_processes(&cg, 2);
    let dir = tempdir();
    let path = dir.path().join("snapshot.snoop");
    let cgroup = cg.path.display().to_string();
    let rec = common::Recording::start(&path, &["--cgroup", &cgroup]);
    {
        let mut stdin = outer.stdin.take().expect("stdin");
        stdin.write_all(b"go\n").expect("write a line");
    }
    assert!(outer.wait().expect("wait sh").success());
    let (ok, stderr) = rec.stop();
    assert!(ok, "{stderr}");
    let Some(report) = check(test, &[], &[path], &StreamOptions::default()) else {
        return;
    };
    // Both shells come from the snapshot: the inner one's fork and exit and
    // the outer one's exit are in the capture, with their command lines as
    // the tracks' descriptions.
    assert_eq!(count(&report, "described tracks"), 2, "{report}");
}

#[cfg(feature = "record")]
#[test]
fn kernel_loss_is_an_instant_with_the_counts() {
    let test = "kernel_loss_is_an_instant_with_the_counts";
    if !common::require_root(test) || !python_ready(test) {
        return;
    }
    let _lock = common::bpf_lock();
    let cg = common::TempCgroup::new("perfetto-loss");
    let mut burst = sh_in_cgroup(&cg, "read line; for i in $(seq 400); do /bin/true; done");
    wait_for_processes(&cg, 1);
    let dir = tempdir();
    let path = dir.path().join("lossy.snoop");
    let cgroup = cg.path.display().to_string();
    let rec = common::Recording::start(
        &path,
        &[
            "--cgroup",
            &cgroup,
            "--events",
            "exec",
            "--ringbuf-size",
            "4096",
        ],
    );
    // The reader stopped while the burst runs: a 4 KiB ring buffer fills.
    let record_pid = rec.child.id() as libc::pid_t;
    // SAFETY: signals to our own child.
    unsafe { libc::kill(record_pid, libc::SIGSTOP) };
    {
        let mut stdin = burst.stdin.take().expect("stdin");
        stdin.write_all(b"go\n").expect("write a line");
    }
    assert!(burst.wait().expect("wait burst").success());
    // SAFETY: as above.
    unsafe { libc::kill(record_pid, libc::SIGCONT) };
    let (ok, stderr) = rec.stop();
    assert!(ok, "{stderr}");
    let info = Command::new(REPLAY)
        .args(["--info", "--format", "json"])
        .arg(&path)
        .output()
        .expect("replay --info");
    let info: Value = serde_json::from_slice(&info.stdout).expect("info JSON");
    let lost: u64 = info["lost"]
        .as_object()
        .expect("lost")
        .values()
        .filter_map(Value::as_u64)
        .sum();
    assert!(lost > 0, "the ring buffer overflowed: {info}");
    // The checker requires the loss instant with these counts.
    check(test, &[], &[path], &StreamOptions::default());
}
