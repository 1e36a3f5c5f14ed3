//! Reliability and security (issue 7): `record` killed or out of disk space,
//! corrupt, truncated and foreign captures (the corpus of `testdata/bad/`,
//! every single-byte change and every cut of a real capture), bounded time and
//! memory on garbage, exact loss accounting with a tiny ring buffer, hostile
//! command lines and mount strings against terminals, CSV and JSON, the
//! output file's safety (no overwrite, no symlink, mode 0600) and a missing
//! environment (not root, no capabilities, tracefs or bpffs unmounted, no
//! cgroup v2).
//!
//! A missing BTF (`/sys/kernel/btf/vmlinux`) cannot be simulated on a running
//! kernel, so its message (`ProbeError::NoBtf`) is not exercised here.
//!
//! Helper program: `tests/hostile.c` (hostile strings, exec storms); the
//! corpus was made from `tests/workload.c` (see `testdata/bad/README.md`).
//! BPF tests run one at a time (`common::bpf_lock`) and
//! put their workload in a cgroup v2 of its own, recorded with `--cgroup`
//! (or, for the loss test, a uid of its own with `-u`), so that whatever
//! else runs on the machine stays out of the capture. Tests that need
//! `record` are built only with the `record` feature; the rest test replay
//! alone and run in the replay-only build too.

// Helpers of the record tests are unused in the replay-only build.
#![cfg_attr(not(feature = "record"), allow(dead_code, unused_imports))]

use std::ffi::{CString, OsStr, OsString};
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use snoopcap::event::Args;
use snoopcap::format::{FormatError, FRAME_HEADER_LEN};
use snoopcap::render::{self, Format, RenderOptions};
use snoopcap::replay::{EventStream, Item, StreamOptions, Warning};

use crate::common::{self, hostile, REPLAY};
#[cfg(feature = "record")]
use crate::common::{Recording, RECORD};

// ---------------------------------------------------------------------------
// Helpers

/// What a child process did.
#[derive(Debug)]
struct Ran {
    /// Exit status; `None` when a signal ended it.
    code: Option<i32>,
    signal: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
    elapsed: Duration,
}

impl Ran {
    fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

fn drain_to_vec<R: Read + Send + 'static>(mut r: R) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        buf
    })
}

/// Runs `cmd` to its end, killing it (and failing the test) after `timeout`.
// The child is reaped by wait_with_timeout (wait4).
#[allow(clippy::zombie_processes)]
fn run(cmd: &mut Command, timeout: Duration) -> Ran {
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let out = drain_to_vec(child.stdout.take().expect("stdout"));
    let err = drain_to_vec(child.stderr.take().expect("stderr"));
    let status = wait_with_timeout(&child, timeout)
        .unwrap_or_else(|| panic!("{cmd:?} did not finish within {timeout:?}"));
    let stdout = out.join().expect("stdout reader");
    let stderr = String::from_utf8_lossy(&err.join().expect("stderr reader")).into_owned();
    Ran {
        code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        signal: libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status)),
        stdout,
        stderr,
        elapsed: started.elapsed(),
    }
}

/// Reaps `child` (its wait status); kills it and returns None on timeout.
fn wait_with_timeout(child: &Child, timeout: Duration) -> Option<i32> {
    let pid = child.id() as libc::pid_t;
    let deadline = Instant::now() + timeout;
    loop {
        let mut status = 0;
        // SAFETY: rusage is plain data; wait4 fills it.
        let mut rusage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: valid pointers; the child is ours and not reaped elsewhere.
        let got = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut rusage) };
        if got == pid {
            return Some(status);
        }
        assert!(got == 0, "wait4: {}", std::io::Error::last_os_error());
        if Instant::now() > deadline {
            // SAFETY: kill and a blocking wait4 on our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::wait4(pid, &mut status, 0, &mut rusage);
            }
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Runs the replay binary with a timeout; checks it did not panic or die.
fn replay<S: AsRef<OsStr>>(args: &[S]) -> Ran {
    let ran = run(Command::new(REPLAY).args(args), Duration::from_secs(60));
    assert!(
        ran.signal.is_none() && !ran.stderr.contains("panicked"),
        "replay {:?} crashed: {ran:?}",
        args.iter()
            .map(|a| a.as_ref().to_owned())
            .collect::<Vec<_>>()
    );
    ran
}

fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("snoopcap-reliability-")
        .tempdir()
        .expect("tempdir")
}

/// A cgroup v2 of the test's own: the processes started in it, and only
/// them, are what `record --cgroup` sees.
struct Cgroup {
    dir: PathBuf,
    procs: CString,
}

impl Cgroup {
    fn new(name: &str) -> Cgroup {
        let mounts = fs::read_to_string("/proc/self/mounts").expect("read /proc/self/mounts");
        let root = mounts
            .lines()
            .map(|l| l.split(' ').collect::<Vec<_>>())
            .find(|f| f.get(2) == Some(&"cgroup2"))
            .and_then(|f| f.get(1).map(|s| s.to_string()))
            .expect("these tests need a cgroup v2 mount");
        let dir = PathBuf::from(root).join(format!("snoopcap-it-{name}-{}", std::process::id()));
        let _ = fs::remove_dir(&dir);
        fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        let procs = CString::new(dir.join("cgroup.procs").into_os_string().into_vec())
            .expect("no NUL in a path");
        Cgroup { dir, procs }
    }

    /// Makes `cmd` join the cgroup before it execs.
    fn enter<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        let procs = self.procs.clone();
        // SAFETY: join_cgroup makes only async-signal-safe calls.
        unsafe { cmd.pre_exec(move || common::join_cgroup(&procs)) }
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        for _ in 0..100 {
            if fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// `hostile storm N [UID]` in `cgroup`; N = 0 runs until killed.
fn start_storm(cgroup: Option<&Cgroup>, n: u64, uid: Option<u32>) -> Child {
    let mut cmd = Command::new(hostile());
    cmd.arg("storm").arg(n.to_string());
    if let Some(uid) = uid {
        cmd.arg(uid.to_string());
    }
    if let Some(cg) = cgroup {
        cg.enter(&mut cmd);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the storm")
}

/// Kills a storm and reaps it.
fn stop_storm(mut storm: Child) {
    let _ = storm.kill();
    let _ = storm.wait();
}

/// The offsets of a capture's frames, walked by their headers only (no
/// checksum checks), and where the last complete frame ends. A file longer
/// than that ends in a partial frame. The first offset is the file header's
/// length.
fn frame_starts(bytes: &[u8]) -> (Vec<usize>, usize) {
    let n = u32::from_le_bytes(bytes[12..16].try_into().expect("4 bytes")) as usize;
    let mut starts = Vec::new();
    let mut end = 20 + n;
    while let Some(h) = bytes.get(end..end + FRAME_HEADER_LEN) {
        let c = u32::from_le_bytes(h[8..12].try_into().expect("4 bytes")) as usize;
        if end + FRAME_HEADER_LEN + c > bytes.len() {
            break;
        }
        starts.push(end);
        end += FRAME_HEADER_LEN + c;
    }
    (starts, end)
}

/// (where the last complete frame ends, the file's length).
fn complete_frames_end(bytes: &[u8]) -> (usize, usize) {
    (frame_starts(bytes).1, bytes.len())
}

/// What the library makes of a capture: every event as JSON Lines and every
/// warning `replay` would print (errors, damage, loss, unpaired records,
/// cut short), so that a test can tell "same output, no warning" from
/// "something was reported".
struct InProcess {
    json: Vec<u8>,
    warnings: Vec<String>,
    records: u64,
    truncated: bool,
    corrupt: u64,
    complete: bool,
}

fn replay_in_process(bytes: &[u8]) -> InProcess {
    let mut result = InProcess {
        json: Vec::new(),
        warnings: Vec::new(),
        records: 0,
        truncated: false,
        corrupt: 0,
        complete: false,
    };
    let mut stream = match EventStream::open(bytes, &StreamOptions::default()) {
        Ok(s) => s,
        Err(e) => {
            result.warnings.push(e.to_string());
            return result;
        }
    };
    let mut renderer = render::renderer(RenderOptions {
        format: Format::Json,
        ..RenderOptions::default()
    });
    renderer.begin(&mut result.json).expect("render");
    for item in stream.by_ref() {
        match item {
            Item::Event(event) => renderer.event(&event, &mut result.json).expect("render"),
            Item::Warning(warning) => {
                // Frames dropped (bytes skipped after one are reported too).
                result.corrupt += u64::from(matches!(
                    warning,
                    Warning::Skipped(FormatError::Corrupt { .. })
                ));
                result.warnings.push(warning.to_string());
            }
            Item::Record(_) | Item::Process(_) | Item::EndOfFrame => {}
        }
    }
    renderer.end(&mut result.json).expect("render");
    let summary = stream.finish();
    result.warnings.extend(summary.end_warnings(false));
    result.records = summary.records.records;
    result.truncated = summary.truncated;
    result.complete = !summary.cut_short();
    result
}

fn bad_dir() -> PathBuf {
    common::repo().join("testdata/bad")
}

fn base_capture() -> Vec<u8> {
    fs::read(bad_dir().join("base.snoop")).expect("read testdata/bad/base.snoop")
}

/// Lines of stderr that are not `record`'s Tracing line.
fn message_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("Tracing"))
        .collect()
}

// ---------------------------------------------------------------------------
// 3. Corrupt, truncated and foreign input

/// One row of testdata/bad/README.md's table.
struct BadCase {
    file: String,
    exit: i32,
    strict_exit: i32,
    message: String,
}

fn bad_cases() -> Vec<BadCase> {
    let readme = fs::read_to_string(bad_dir().join("README.md")).expect("read README.md");
    let unquote = |cell: &str| cell.trim().trim_matches('`').to_string();
    readme
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|line| {
            let cells: Vec<&str> = line.trim().trim_matches('|').split(" | ").collect();
            assert_eq!(cells.len(), 5, "a table row has 5 cells: {line}");
            BadCase {
                file: unquote(cells[0]),
                exit: cells[2].trim().parse().expect("exit status"),
                strict_exit: cells[3].trim().parse().expect("--strict exit status"),
                message: unquote(cells[4]),
            }
        })
        .collect()
}

#[test]
fn bad_capture_corpus_gives_the_documented_messages() {
    let cases = bad_cases();
    let mut on_disk: Vec<String> = fs::read_dir(bad_dir())
        .expect("read testdata/bad")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".snoop"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = cases.iter().map(|c| c.file.clone()).collect();
    listed.sort();
    assert_eq!(
        on_disk, listed,
        "README.md's table and the .snoop files differ"
    );

    let mut failures = Vec::new();
    for case in &cases {
        let path = bad_dir().join(&case.file);
        for (strict, expected) in [(false, case.exit), (true, case.strict_exit)] {
            let mut args: Vec<OsString> = vec!["-x".into()];
            if strict {
                args.push("--strict".into());
            }
            args.push(path.clone().into());
            let ran = replay(&args);
            let lines_ok = ran.stderr.lines().all(|l| l.starts_with("replay: "));
            if ran.code != Some(expected) || !ran.stderr.contains(&case.message) || !lines_ok {
                failures.push(format!(
                    "{} (strict: {strict}): exit {:?}, expected {expected}; stderr {:?}, expected it to contain {:?}",
                    case.file, ran.code, ran.stderr, case.message
                ));
            }
            if case.message.is_empty() && !ran.stderr.is_empty() {
                failures.push(format!("{}: unexpected stderr {:?}", case.file, ran.stderr));
            }
        }
        // --info must not crash either; unreadable files are errors there too.
        let info = replay(&[OsStr::new("--info"), path.as_os_str()]);
        assert!(info.code.is_some(), "{}: {info:?}", case.file);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn damaged_frames_cost_only_themselves() {
    // The frames before and after a damaged frame are still replayed.
    let base = replay_in_process(&base_capture());
    let base_events = base.json.split(|&b| b == b'\n').count() - 1;
    let damaged = fs::read(bad_dir().join("payload-flip.snoop")).expect("read");
    let got = replay_in_process(&damaged);
    assert_eq!(got.corrupt, 1, "{:?}", got.warnings);
    let got_events = got.json.split(|&b| b == b'\n').count() - 1;
    assert!(
        got_events > 0 && got_events < base_events,
        "{got_events} of {base_events}"
    );
    assert!(got.complete, "the trailer after the damaged frame is read");
    // Every event shown is one of the undamaged capture's (but for its wall
    // time: the damaged frame held a clock anchor, so the time may be
    // interpolated from another anchor, a few ns apart).
    let parse = |json: &[u8]| -> Vec<serde_json::Value> {
        String::from_utf8_lossy(json)
            .lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).expect("JSON");
                v["time"] = serde_json::Value::Null;
                v
            })
            .collect()
    };
    let all = parse(&base.json);
    for event in parse(&got.json) {
        assert!(all.contains(&event), "invented event {event}");
    }
}

#[test]
fn every_single_byte_change_is_reported_or_harmless() {
    let base = base_capture();
    let baseline = replay_in_process(&base);
    assert!(baseline.warnings.is_empty(), "{:?}", baseline.warnings);
    assert!(baseline.records > 40, "a capture with records");

    // Every offset, three kinds of change: the lowest bit, the highest bit,
    // every bit.
    let mut detected = 0u64;
    let mut harmless = 0u64;
    for offset in 0..base.len() {
        for mask in [0x01u8, 0x80, 0xff] {
            let mut bytes = base.clone();
            bytes[offset] ^= mask;
            let got = replay_in_process(&bytes);
            if got.warnings.is_empty() {
                assert_eq!(
                    got.json, baseline.json,
                    "byte {offset} ^ {mask:#04x} changed the output without a warning"
                );
                harmless += 1;
            } else {
                detected += 1;
            }
        }
    }
    eprintln!(
        "{} single-byte changes: {detected} reported, {harmless} harmless (same output, no warning)",
        base.len() * 3
    );

    // The same through the binary, on a sample of offsets covering the file
    // header, frame headers, payloads and the trailer.
    let dir = tempdir();
    let full = replay(
        &[OsStr::new("-x"), OsStr::new("--format"), OsStr::new("json")]
            .iter()
            .copied()
            .chain([bad_dir().join("base.snoop").as_os_str()])
            .collect::<Vec<_>>(),
    );
    assert_eq!(full.code, Some(0), "{full:?}");
    let (starts, _) = frame_starts(&base);
    let header_len = starts[0];
    let mut offsets: Vec<usize> = (0..base.len()).step_by(97).collect();
    for &start in &starts {
        offsets.extend([
            start,
            start + 4,
            start + 8,
            start + 16,
            start + 44,
            start + 50,
        ]);
    }
    offsets.extend([0, 8, 12, 16, header_len - 5, header_len - 1, base.len() - 1]);
    for offset in offsets {
        let mut bytes = base.clone();
        bytes[offset] ^= 0x10;
        let path = dir.path().join(format!("flip-{offset}.snoop"));
        fs::write(&path, &bytes).expect("write");
        let ran = replay(&[
            OsStr::new("-x"),
            OsStr::new("--format"),
            OsStr::new("json"),
            path.as_os_str(),
        ]);
        assert!(
            ran.code != Some(0) || !ran.stderr.is_empty() || ran.stdout == full.stdout,
            "byte {offset}: silent change: {ran:?}"
        );
        assert!(
            !ran.stderr.is_empty(),
            "byte {offset}: every byte is checksummed, so a change must be reported"
        );
    }
}

#[test]
fn every_cut_of_a_capture_replays_a_prefix_and_says_so() {
    let base = base_capture();
    let baseline = replay_in_process(&base);
    for cut in 0..base.len() {
        let got = replay_in_process(&base[..cut]);
        assert!(!got.warnings.is_empty(), "cut at {cut}: no warning");
        assert!(
            baseline.json.starts_with(&got.json),
            "cut at {cut}: the output is not a prefix of the whole capture's"
        );
        assert_eq!(got.corrupt, 0, "cut at {cut}: {:?}", got.warnings);
    }
}

/// A deterministic byte stream with a fake frame magic every 997 bytes.
fn garbage(len: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
        if out.len() % 997 < 8 {
            out.extend_from_slice(b"SCFR");
        }
    }
    out.truncate(len);
    out
}

/// Streams `bytes` to `replay -x -` through a pipe. Returns what it did and
/// its peak RSS in KiB (VmHWM of its own address space; wait4's ru_maxrss
/// would count the test process, which the child was forked from), read
/// once all the input is handed over but before the pipe is closed. `None`
/// when replay had already ended (it stops reading at a fatal error).
// The child is reaped by wait_with_timeout (wait4).
#[allow(clippy::zombie_processes)]
fn replay_streamed(bytes: Vec<u8>) -> (Ran, Option<i64>) {
    let started = Instant::now();
    let mut child = Command::new(REPLAY)
        .args(["-x", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn replay");
    let out = drain_to_vec(child.stdout.take().expect("stdout"));
    let err = drain_to_vec(child.stderr.take().expect("stderr"));
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || {
        // EPIPE when replay stops reading early: fine.
        let _ = std::io::Write::write_all(&mut stdin, &bytes);
        stdin
    });
    let stdin = writer.join().expect("writer");
    // Let replay consume the pipe's last 64 KiB.
    std::thread::sleep(Duration::from_millis(300));
    let peak = fs::read_to_string(format!("/proc/{}/status", child.id()))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        });
    drop(stdin);
    let status = wait_with_timeout(&child, Duration::from_secs(60)).expect("replay did not finish");
    let ran = Ran {
        code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        signal: libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status)),
        stdout: out.join().expect("stdout"),
        stderr: String::from_utf8_lossy(&err.join().expect("stderr")).into_owned(),
        elapsed: started.elapsed(),
    };
    assert!(
        ran.signal.is_none() && !ran.stderr.contains("panicked"),
        "{ran:?}"
    );
    (ran, peak)
}

#[test]
fn garbage_input_is_bounded_in_time_and_memory() {
    const MIB: usize = 1 << 20;
    let dir = tempdir();
    let base = base_capture();
    let (starts, _) = frame_starts(&base);
    let (header_len, f2, trailer) = (starts[0], starts[1], starts[starts.len() - 1]);
    let (good, good_peak) = replay_streamed(base.clone());
    assert_eq!(good.code, Some(0), "{good:?}");
    let good_peak = good_peak.expect("VmHWM of a good run");

    let mut inputs: Vec<(&str, Vec<u8>)> = Vec::new();
    // A valid header, then 24 MiB without a single valid frame.
    let mut resync = base[..header_len].to_vec();
    resync.extend(garbage(24 * MIB));
    inputs.push(("resync", resync));
    // A valid header, then a frame that claims the maximal 16 MiB payload
    // (checksum fixed up) and stops after 1 KiB.
    let mut lying = base[..f2 + FRAME_HEADER_LEN].to_vec();
    lying[f2 + 8..f2 + 12].copy_from_slice(&(16u32 << 20).to_le_bytes());
    lying[f2 + 12..f2 + 16].copy_from_slice(&(16u32 << 20).to_le_bytes());
    let crc = crc32(&lying[f2..f2 + 44]);
    lying[f2 + 44..f2 + 48].copy_from_slice(&crc.to_le_bytes());
    lying.extend(garbage(1024));
    inputs.push(("lying-length", lying));
    // 24 MiB of garbage with no header at all.
    inputs.push(("no-header", garbage(24 * MIB)));
    // The real capture without its trailer, then 8 MiB of garbage, then the
    // real capture again: resynchronised on.
    let mut again = base[..trailer].to_vec();
    again.extend(garbage(8 * MIB));
    again.extend_from_slice(&base[header_len..]);
    inputs.push(("garbage-between", again));

    for (name, bytes) in inputs {
        let len = bytes.len();
        let (ran, peak) = replay_streamed(bytes);
        eprintln!(
            "{name}: {len} bytes through a pipe in {:?}, peak RSS {peak:?} KiB (a good capture: {good_peak} KiB); {}",
            ran.elapsed,
            ran.stderr.trim()
        );
        assert!(!ran.stderr.is_empty(), "{name}: garbage was not reported");
        assert!(ran.elapsed < Duration::from_secs(30), "{name}: too slow");
        // Bounded: far below the input's size, a few MiB above a good run.
        if let Some(peak) = peak {
            assert!(peak < good_peak + 16 * 1024, "{name}: peak RSS {peak} KiB");
        }
    }

    // Inputs that are not files.
    let ran = replay(&[dir.path().as_os_str()]);
    assert_eq!(ran.code, Some(1));
    assert_eq!(message_lines(&ran.stderr).len(), 1, "{:?}", ran.stderr);
    assert!(ran.stderr.contains("Is a directory"), "{:?}", ran.stderr);
    let ran = replay(&[dir.path().join("missing.snoop").as_os_str()]);
    assert_eq!(ran.code, Some(1));
    assert!(ran.stderr.contains("No such file"), "{:?}", ran.stderr);
    let ran = replay(&["/dev/null"]);
    assert_eq!(ran.code, Some(1));
    assert!(ran.stderr.contains("empty input"), "{:?}", ran.stderr);
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

// ---------------------------------------------------------------------------
// 1. A crash: record killed with SIGKILL mid-storm

#[cfg(feature = "record")]
#[test]
fn record_killed_mid_storm_leaves_a_replayable_capture() {
    if !common::require_root("record_killed_mid_storm_leaves_a_replayable_capture") {
        return;
    }
    let _lock = common::bpf_lock();
    let dir = tempdir();
    let path = dir.path().join("killed.snoop");
    let cg = Cgroup::new("killed");
    let cg_arg = cg.dir.to_string_lossy().into_owned();
    let mut rec = Recording::start(
        &path,
        &[
            "--cgroup",
            &cg_arg,
            "--flush-interval",
            "0.2",
            "--events",
            "exec",
        ],
    );
    let storm = start_storm(Some(&cg), 0, None);
    std::thread::sleep(Duration::from_millis(1500));
    rec.child.kill().expect("SIGKILL record");
    let status = rec.child.wait().expect("wait record");
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL)
    );
    stop_storm(storm);

    let bytes = fs::read(&path).expect("read capture");
    let got = replay_in_process(&bytes);
    let (complete_end, len) = complete_frames_end(&bytes);
    eprintln!(
        "killed capture: {len} bytes, complete frames up to {complete_end}, {} records; {:?}",
        got.records, got.warnings
    );
    assert!(!got.complete, "no trailer after SIGKILL");
    assert_eq!(got.corrupt, 0, "nothing corrupt: {:?}", got.warnings);
    assert_eq!(got.truncated, complete_end < len, "{:?}", got.warnings);
    assert!(got.records > 50, "the storm was recorded: {}", got.records);
    let events = got.json.split(|&b| b == b'\n').count() - 1;

    let ran = replay(&[
        OsStr::new("-x"),
        OsStr::new("--format"),
        OsStr::new("json"),
        path.as_os_str(),
    ]);
    assert_eq!(ran.code, Some(0), "{:?}", ran.stderr);
    assert!(
        ran.stderr.contains("cut short") || ran.stderr.contains("truncated"),
        "{:?}",
        ran.stderr
    );
    assert_eq!(
        ran.stdout_text().lines().count(),
        events,
        "every complete frame replays"
    );
    let strict = replay(&[OsStr::new("--strict"), path.as_os_str()]);
    assert_eq!(strict.code, Some(1), "{strict:?}");
    assert!(strict.stderr.contains("cut short"), "{:?}", strict.stderr);
    let info = replay(&[OsStr::new("--info"), path.as_os_str()]);
    assert_eq!(info.code, Some(0), "{info:?}");
    assert!(
        info.stdout_text().contains("complete:        no"),
        "{}",
        info.stdout_text()
    );
    let strict_info = replay(&[
        OsStr::new("--info"),
        OsStr::new("--strict"),
        path.as_os_str(),
    ]);
    assert_eq!(strict_info.code, Some(1), "{strict_info:?}");
}

// ---------------------------------------------------------------------------
// 2. A full disk

#[cfg(feature = "record")]
#[test]
// The unshare child is reaped by wait_with_timeout (wait4).
#[allow(clippy::zombie_processes)]
fn full_disk_stops_record_with_one_line_and_keeps_what_was_written() {
    if !common::require_root("full_disk_stops_record_with_one_line_and_keeps_what_was_written") {
        return;
    }
    let _lock = common::bpf_lock();
    let dir = tempdir();
    let mnt = dir.path().join("tiny");
    fs::create_dir(&mnt).expect("mkdir");
    let saved = dir.path().join("saved.snoop");
    let cg = Cgroup::new("fulldisk");
    // The tmpfs exists only in the private mount namespace: copy the capture
    // out before the namespace goes away.
    let script = r#"mount -t tmpfs -o size=256k none "$1" || exit 97
"$2" -o "$1/cap.snoop" --cgroup "$3" --flush-interval 0.1 --events exec --arg-size 256
rc=$?
cp "$1/cap.snoop" "$4" || exit 98
exit $rc"#;
    let mut child = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", script, "sh"])
        .arg(&mnt)
        .arg(RECORD)
        .arg(&cg.dir)
        .arg(&saved)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("unshare");
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines() {
            let line = line.unwrap_or_default();
            let _ = tx.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("record did not start");
        if line.starts_with("Tracing") {
            break;
        }
    }
    let storms: Vec<Child> = (0..2).map(|_| start_storm(Some(&cg), 0, None)).collect();
    let waited = wait_with_timeout(&child, Duration::from_secs(90));
    storms.into_iter().for_each(stop_storm);
    let status = waited.expect("record did not stop on a full disk within 90 s");
    let stderr = reader.join().expect("stderr");
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));

    let messages = message_lines(&stderr);
    eprintln!("record on a full disk: exit {code:?}, said {messages:?}");
    assert!(
        matches!(code, Some(c) if c != 0 && c != 97 && c != 98),
        "{code:?}: {stderr}"
    );
    assert_eq!(messages.len(), 1, "one line: {stderr:?}");
    assert!(messages[0].starts_with("record: "), "{stderr:?}");
    assert!(
        messages[0].contains("No space left on device"),
        "{stderr:?}"
    );

    let bytes = fs::read(&saved).expect("read the saved capture");
    assert!(
        bytes.len() <= 256 << 10,
        "{} bytes on a 256 KiB tmpfs",
        bytes.len()
    );
    let (complete_end, len) = complete_frames_end(&bytes);
    let got = replay_in_process(&bytes);
    eprintln!(
        "full-disk capture: {len} bytes, complete frames up to {complete_end}, {} records; {:?}",
        got.records, got.warnings
    );
    assert!(got.records > 100, "what was written before is readable");
    assert_eq!(got.corrupt, 0, "{:?}", got.warnings);
    assert!(!got.complete);
    // A partial frame at the end is reported as truncated, never decoded.
    assert_eq!(got.truncated, complete_end < len, "{:?}", got.warnings);
    let events = got.json.split(|&b| b == b'\n').count() - 1;

    let ran = replay(&[
        OsStr::new("-x"),
        OsStr::new("--format"),
        OsStr::new("json"),
        saved.as_os_str(),
    ]);
    assert_eq!(ran.code, Some(0), "{:?}", ran.stderr);
    assert_eq!(ran.stdout_text().lines().count(), events);
    if complete_end < len {
        assert!(ran.stderr.contains("truncated"), "{:?}", ran.stderr);
    } else {
        assert!(ran.stderr.contains("cut short"), "{:?}", ran.stderr);
    }
    let strict = replay(&[OsStr::new("--strict"), saved.as_os_str()]);
    assert_eq!(strict.code, Some(1), "{strict:?}");
}

// ---------------------------------------------------------------------------
// 5. Lost events are exact

#[cfg(feature = "record")]
#[test]
fn lost_events_are_counted_exactly_with_a_tiny_ring_buffer() {
    if !common::require_root("lost_events_are_counted_exactly_with_a_tiny_ring_buffer") {
        return;
    }
    let _lock = common::bpf_lock();
    // A uid of the storm's own: `-u` keeps every other process out of the
    // capture and out of the loss counters (the kernel side filters before
    // it reserves ring buffer space).
    const UID: u32 = 47_913;
    const PER_STORM: u64 = 1500;
    const STORMS: u64 = 2;
    let dir = tempdir();
    let path = dir.path().join("lossy.snoop");
    let rec = Recording::start(
        &path,
        &[
            "-u",
            &UID.to_string(),
            "--events",
            "exec",
            "--ringbuf-size",
            "4096",
        ],
    );
    let storms: Vec<Child> = (0..STORMS)
        .map(|_| start_storm(None, PER_STORM, Some(UID)))
        .collect();
    // Make sure the ring buffer overflows, however fast this machine is:
    // stop the reader for a moment while the storm goes on.
    std::thread::sleep(Duration::from_millis(100));
    let record_pid = rec.child.id() as libc::pid_t;
    // SAFETY: signals to our own child.
    unsafe { libc::kill(record_pid, libc::SIGSTOP) };
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: as above.
    unsafe { libc::kill(record_pid, libc::SIGCONT) };
    let mut execs = 0u64;
    for mut storm in storms {
        let mut out = String::new();
        storm
            .stdout
            .take()
            .expect("stdout")
            .read_to_string(&mut out)
            .expect("read storm output");
        assert!(storm.wait().expect("wait storm").success());
        execs += out.trim().parse::<u64>().expect("exec count");
    }
    assert_eq!(execs, PER_STORM * STORMS);
    let (ok, stderr) = rec.stop();
    assert!(ok, "{stderr}");

    let cap = common::read_capture(&path);
    let trailer = cap.trailer.as_ref().expect("a clean stop");
    let column = |i: usize| -> u64 {
        trailer
            .lost
            .per_cpu
            .iter()
            .map(|row| row.get(i).copied().unwrap_or(0))
            .sum()
    };
    let (lost_enter, lost_exit, lost_busy, lost_refetch) =
        (column(0), column(1), column(2), column(3));
    let paired = cap.events.iter().filter(|e| e.unfinished.is_none()).count() as u64;
    let unfinished = cap.events.len() as u64 - paired;
    let s = &cap.stats;
    eprintln!(
        "{execs} execs: {paired} paired, entries lost {lost_enter} (ring buffer full) + {lost_busy} \
         (scratch busy), exits lost {lost_exit}, entries without exit {}, exits without entry {}, \
         refetches merged {} + unmatched {} + lost {lost_refetch}",
        s.incomplete_entries, s.orphan_exits, s.refetches_merged, s.refetches_unmatched
    );
    assert!(cap.events.iter().all(|e| e.uid == UID), "only the storm");
    // Every exec's strings come in a refetch record (layout 2 defers them):
    // it arrived (merged, or unmatched when its entry was lost) or its loss
    // was counted.
    assert_eq!(
        s.refetches_merged + s.refetches_unmatched + lost_refetch,
        execs
    );
    // An event without its strings is one whose refetch was lost.
    let unknown_args = cap
        .events
        .iter()
        .filter(|e| matches!(&e.args, Args::Exec { filename, .. } if filename.fault))
        .count() as u64;
    assert!(
        unknown_args <= lost_refetch,
        "{unknown_args} events lack their strings"
    );
    assert!(
        lost_enter + lost_exit > 0,
        "a 4 KiB ring buffer under a storm must lose records"
    );
    // Every exec is either shown, or its entry was lost (and counted), or
    // its entry arrived without its exit (whose loss was counted), and is
    // then shown as unfinished (docs/EVENTS.md, Unfinished calls).
    assert_eq!(
        paired + lost_enter + lost_busy + s.incomplete_entries,
        execs
    );
    assert_eq!(
        unfinished, s.incomplete_entries,
        "every entry without exit is shown"
    );
    // The same from the exits' side.
    assert_eq!(paired + s.orphan_exits + lost_exit, execs);
    // And replay says so.
    let ran = replay(&[OsStr::new("--info"), path.as_os_str()]);
    assert!(
        ran.stdout_text().contains(&format!(
            "lost in kernel:  {} (entries {lost_enter}, exits {lost_exit}, scratch busy {lost_busy}, \
             argument re-reads {lost_refetch}, process records {})",
            lost_enter + lost_exit + lost_busy + lost_refetch,
            column(4)
        )),
        "{}",
        ran.stdout_text()
    );
    let ran = replay(&[path.as_os_str()]);
    assert!(
        ran.stderr.contains("lost in the kernel"),
        "{:?}",
        ran.stderr
    );
}

// ---------------------------------------------------------------------------
// 6. Hostile data

/// tests/hostile.c's argv, after argv[0] (`\x1b[31mtrue`); then a 4096-byte
/// argument.
const HOSTILE_ARGS: &[&[u8]] = &[
    b"\x1b[31mred\x1b[0m",
    b"\x1b]0;title\x07",
    b"\x1b[2J\x1b[H",
    b"cr\rhere",
    b"nl\nhere",
    b"tab\there",
    b"bs\x08here",
    b"del\x7fhere",
    b"\xff\xfe",
    b"\xc2\x9b31mC1",
    b"=cmd|' /C calc'!A0",
    b"+1",
    b"-2",
    b"@SUM(1)",
    b"\"quoted\", with comma",
    b"{\"json\": [1, \"\\u0000\"]}",
    b"\xe2\x80\xaetxt.exe",
];

/// Terminal safety: valid UTF-8, no control character but the line ends,
/// no DEL, no C1 control.
fn assert_terminal_safe(what: &str, bytes: &[u8]) {
    let text =
        std::str::from_utf8(bytes).unwrap_or_else(|e| panic!("{what}: not valid UTF-8 ({e})"));
    for (i, c) in text.char_indices() {
        let bad = (c < ' ' && c != '\n') || c == '\x7f' || ('\u{80}'..='\u{9f}').contains(&c);
        assert!(
            !bad,
            "{what}: raw {c:?} at byte {i}: {:?}",
            &text[i.saturating_sub(40)..(i + 40).min(text.len())]
        );
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(feature = "record")]
#[test]
fn hostile_strings_never_reach_the_terminal_raw_nor_break_csv_or_json() {
    if !common::require_root("hostile_strings_never_reach_the_terminal_raw_nor_break_csv_or_json") {
        return;
    }
    let _lock = common::bpf_lock();
    let dir = tempdir();
    let scratch = dir.path().join("scratch");
    fs::create_dir(&scratch).expect("mkdir");
    // The capture's own name is hostile too: it ends up in the header's
    // command line, which `replay --info` shows.
    let path = dir
        .path()
        .join(OsStr::from_bytes(b"\x1b]0;pwned\x07\x1b[31mcap.snoop"));
    let cg = Cgroup::new("hostile");
    let cg_arg = cg.dir.to_string_lossy().into_owned();
    let rec = Recording::start(
        &path,
        &[
            "--cgroup",
            &cg_arg,
            "--arg-size",
            "1024",
            "--events",
            "exec,mount",
        ],
    );
    let mut pids = Vec::new();
    for args in [
        vec![OsStr::new("exec"), scratch.as_os_str()],
        vec![OsStr::new("mounts")],
    ] {
        let mut cmd = Command::new(hostile());
        cmd.args(&args);
        cg.enter(&mut cmd);
        let ran = run(&mut cmd, Duration::from_secs(30));
        assert_eq!(ran.code, Some(0), "hostile {args:?}: {ran:?}");
        let pid: u32 = ran
            .stdout_text()
            .trim()
            .strip_prefix("PID ")
            .and_then(|p| p.parse().ok())
            .expect("PID line");
        pids.push(pid);
    }
    let (ok, stderr) = rec.stop();
    assert!(ok, "{stderr}");

    // JSON: every line parses; the hostile exec's argv comes back exactly
    // (lossily for invalid UTF-8).
    let json = replay(&[
        OsStr::new("-x"),
        OsStr::new("--format"),
        OsStr::new("json"),
        path.as_os_str(),
    ]);
    assert_eq!(json.code, Some(0), "{:?}", json.stderr);
    let json_text = String::from_utf8(json.stdout.clone()).expect("JSON output is UTF-8");
    let events: Vec<serde_json::Value> = json_text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    let kind = |e: &serde_json::Value| e["event"].as_str().unwrap_or("").to_string();
    let execs = events.iter().filter(|e| kind(e) == "exec").count();
    let mounts = events.len() - execs;
    assert!(
        execs >= 6 && mounts >= 6,
        "{execs} execs, {mounts} mount-family events"
    );
    let hostile_exec = events
        .iter()
        .find(|e| e["ppid"] == pids[0] && e["filename"] == "/bin/true")
        .expect("the hostile exec");
    let args: Vec<&str> = hostile_exec["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| a.as_str().expect("string"))
        .collect();
    assert_eq!(args[0], "\x1b[31mtrue");
    for (i, expected) in HOSTILE_ARGS.iter().enumerate() {
        assert_eq!(args[i + 1], lossy(expected), "argument {}", i + 1);
    }
    let long = args[HOSTILE_ARGS.len() + 1];
    assert!(
        long.len() == 1024 && long.bytes().all(|b| b == b'L'),
        "{}",
        long.len()
    );
    assert_eq!(hostile_exec["pcomm"], "\x1b]0;pc\x07=1\u{fffd}");
    let mount = events
        .iter()
        .find(|e| kind(e) == "mount" && e["source"].as_str().is_some_and(|s| s.starts_with("@SUM")))
        .expect("the hostile mount");
    assert_eq!(mount["source"], "@SUM(1)\x1b[31msrc\r\n\u{fffd}");

    // Tables, with every option that changes them: nothing raw reaches the
    // terminal, and each event is one line.
    for extra in [&[][..], &["-q", "-T", "-U", "-P", "-t"][..]] {
        let mut args: Vec<&OsStr> = vec![OsStr::new("-x")];
        args.extend(extra.iter().map(OsStr::new));
        args.push(path.as_os_str());
        let table = replay(&args);
        assert_eq!(table.code, Some(0), "{:?}", table.stderr);
        assert_terminal_safe(&format!("replay {extra:?}"), &table.stdout);
        let lines = table.stdout_text().lines().count();
        assert_eq!(
            lines,
            events.len() + 2,
            "one line per event plus two headers"
        );
        assert!(
            table.stdout_text().contains("\\x1b[31mred\\x1b[0m"),
            "escaped, not dropped"
        );
        assert_terminal_safe("replay's stderr", table.stderr.as_bytes());
    }
    let info = replay(&[OsStr::new("--info"), path.as_os_str()]);
    assert_eq!(info.code, Some(0), "{:?}", info.stderr);
    assert_terminal_safe("replay --info", &info.stdout);
    assert!(
        info.stdout_text().contains("\\x1b]0;pwned"),
        "{}",
        info.stdout_text()
    );

    // CSV: parses back with as many rows as events and as many cells as
    // header columns; formula cells are neutralised, unless --csv-raw.
    let data_columns = [
        "comm",
        "pcomm",
        "comm_before",
        "filename",
        "source",
        "target",
        "fstype",
        "data",
        "fsname",
        "key",
        "value",
        "path",
        "from_path",
        "to_path",
    ];
    for raw in [false, true] {
        let mut args: Vec<&OsStr> =
            vec![OsStr::new("-x"), OsStr::new("--format"), OsStr::new("csv")];
        if raw {
            args.push(OsStr::new("--csv-raw"));
        }
        args.push(path.as_os_str());
        let csv_out = replay(&args);
        assert_eq!(csv_out.code, Some(0), "{:?}", csv_out.stderr);
        let mut reader = csv::ReaderBuilder::new().from_reader(&csv_out.stdout[..]);
        let headers = reader.headers().expect("CSV header row").clone();
        let column = |name: &str| headers.iter().position(|h| h == name);
        let rows: Vec<csv::StringRecord> = reader
            .records()
            .map(|r| r.expect("a CSV row that parses, as UTF-8"))
            .collect();
        assert_eq!(rows.len(), events.len(), "one row per event");
        assert!(rows.iter().all(|r| r.len() == headers.len()), "ragged CSV");
        let cell = |row: &csv::StringRecord, name: &str| -> String {
            column(name)
                .and_then(|i| row.get(i))
                .unwrap_or("")
                .to_string()
        };
        if !raw {
            for row in &rows {
                for name in data_columns {
                    let value = cell(row, name);
                    assert!(
                        !snoopcap::render::csv::looks_like_formula(&value),
                        "{name} cell {value:?} is a live formula"
                    );
                }
            }
        }
        // By default a cell is also terminal-safe (control characters as
        // \xNN, a newline as \n) and a formula gets a leading '; --csv-raw
        // keeps the captured text (lossily decoded).
        if !raw {
            assert_terminal_safe("replay --format csv", &csv_out.stdout);
        }
        let expect = |captured: &[u8]| -> String {
            let text = lossy(captured);
            if raw {
                return text;
            }
            let escaped = terminal_escaped(&text);
            if snoopcap::render::csv::looks_like_formula(&text) {
                format!("'{escaped}")
            } else {
                escaped
            }
        };
        let row_where = |name: &str, needle: &str| {
            rows.iter()
                .find(|r| cell(r, name).contains(needle))
                .unwrap_or_else(|| panic!("no row whose {name} holds {needle:?}"))
        };
        let checks: [(&str, &str, &[u8]); 6] = [
            ("source", "@SUM(1)", b"@SUM(1)\x1b[31msrc\r\n\xff"),
            ("fstype", "+1", b"+1\x1b]0;fs\x07"),
            ("data", "calc", b"=cmd|' /C calc'!A0,\x1b[31m\xc2\x9b"),
            ("value", "-2", b"-2\r\xff"),
            ("comm", "HYPERLINK", b"=HYPERLINK(1)"),
            ("key", "key", b"\x1b[31mkey"),
        ];
        for (name, needle, captured) in checks {
            assert_eq!(
                cell(row_where(name, needle), name),
                expect(captured),
                "{name}"
            );
        }
        // args is bcc-quoted: it starts with a quote, never like a formula.
        let args = cell(row_where("args", "calc"), "args");
        assert!(
            args.starts_with(&format!(
                "\"{}\" \"{}\"",
                expect(b"\x1b[31mtrue"),
                expect(b"\x1b[31mred\x1b[0m")
            )),
            "{args:?}"
        );
    }
}

/// The table's (and CSV's) escaping of captured text, written out
/// independently: a newline as `\n`; other C0 controls, DEL and C1 controls
/// as `\xNN` per UTF-8 byte.
fn terminal_escaped(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c == '\n' {
            out.push_str("\\n");
        } else if c < ' ' || c == '\x7f' || ('\u{80}'..='\u{9f}').contains(&c) {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("\\x{b:02x}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `--arg-size` and `--max-args` bound what is copied; the spec says the
/// truncation is recorded, never silent (`args_truncated`).
#[cfg(feature = "record")]
#[test]
fn arguments_cut_by_arg_size_or_max_args_are_flagged_truncated() {
    if !common::require_root("arguments_cut_by_arg_size_or_max_args_are_flagged_truncated") {
        return;
    }
    let _lock = common::bpf_lock();
    let dir = tempdir();
    let path = dir.path().join("cut.snoop");
    let cg = Cgroup::new("cut");
    let cg_arg = cg.dir.to_string_lossy().into_owned();
    let rec = Recording::start(
        &path,
        &[
            "--cgroup",
            &cg_arg,
            "--events",
            "exec",
            "--arg-size",
            "16",
            "--max-args",
            "3",
        ],
    );
    let long = "L".repeat(100);
    let exactly = "E".repeat(16);
    for args in [
        vec![exactly.as_str(), "fits"], // nothing cut
        vec!["a", "b", "c", "d"],       // argv cut by --max-args
        vec![long.as_str(), "x"],       // an argument cut by --arg-size
    ] {
        let mut cmd = Command::new("/bin/true");
        cmd.args(&args);
        cg.enter(&mut cmd);
        assert_eq!(run(&mut cmd, Duration::from_secs(30)).code, Some(0));
    }
    let (ok, stderr) = rec.stop();
    assert!(ok, "{stderr}");
    let json = replay(&[OsStr::new("--format"), OsStr::new("json"), path.as_os_str()]);
    let events: Vec<serde_json::Value> = json
        .stdout_text()
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    let find = |first: &str| {
        events
            .iter()
            .find(|e| e["args"][1].as_str().is_some_and(|a| a.starts_with(first)))
            .unwrap_or_else(|| panic!("no exec with {first}... in {events:?}"))
    };
    let whole = find("EEEE");
    assert_eq!(whole["args"][1], exactly.as_str());
    assert_eq!(whole["args_truncated"], false, "{whole}");
    let few = find("a");
    assert_eq!(few["args"].as_array().map(Vec::len), Some(3), "{few}");
    assert_eq!(few["args_truncated"], true, "{few}");
    let cut = find("LLLL");
    assert_eq!(cut["args"][1], "L".repeat(16).as_str(), "{cut}");
    assert_eq!(
        cut["args_truncated"], true,
        "an argument cut to --arg-size must be flagged: {cut}"
    );
}

/// `--arg-size` is documented (record --help, `ProbeConfig::validate`) up to
/// 4096 bytes, the size of tests/hostile.c's long argument: the largest
/// value must load.
#[cfg(feature = "record")]
#[test]
fn record_loads_with_the_largest_documented_arg_size() {
    if !common::require_root("record_loads_with_the_largest_documented_arg_size") {
        return;
    }
    let _lock = common::bpf_lock();
    let dir = tempdir();
    let path = dir.path().join("arg-size.snoop");
    let ran = run(
        Command::new(RECORD).arg("-o").arg(&path).args([
            "--duration",
            "0.2",
            "--events",
            "exec",
            "--arg-size",
            "4096",
        ]),
        Duration::from_secs(60),
    );
    let head: Vec<&str> = ran.stderr.lines().take(3).collect();
    let verifier: Vec<&str> = ran
        .stderr
        .lines()
        .filter(|l| l.contains("invalid access") || l.contains("failed to load"))
        .collect();
    assert_eq!(
        ran.code,
        Some(0),
        "record --arg-size 4096: {head:?} ... {verifier:?}"
    );
}

// ---------------------------------------------------------------------------
// 7. Output safety

#[cfg(feature = "record")]
#[test]
fn record_never_overwrites_nor_follows_symlinks_and_creates_0600() {
    if !common::require_root("record_never_overwrites_nor_follows_symlinks_and_creates_0600") {
        return;
    }
    let _lock = common::bpf_lock();
    let dir = tempdir();
    let record = |output: &Path, extra: &[&str]| -> Ran {
        let mut cmd = Command::new(RECORD);
        cmd.arg("-o")
            .arg(output)
            .args(["--duration", "0.3", "--events", "exec"]);
        cmd.args(extra);
        // SAFETY: umask is async-signal-safe. A umask of 0 shows that the
        // mode is record's own choice, not the caller's umask.
        unsafe {
            cmd.pre_exec(|| {
                libc::umask(0);
                Ok(())
            });
        }
        run(&mut cmd, Duration::from_secs(60))
    };

    // An existing file is kept, unless --force.
    let existing = dir.path().join("existing.snoop");
    fs::write(&existing, b"precious").expect("write");
    let ran = record(&existing, &[]);
    assert_eq!(ran.code, Some(1), "{ran:?}");
    assert_eq!(message_lines(&ran.stderr).len(), 1, "{:?}", ran.stderr);
    assert!(
        ran.stderr.contains("already exists; pass --force"),
        "{:?}",
        ran.stderr
    );
    assert_eq!(fs::read(&existing).expect("read"), b"precious");

    // A symlink is never followed, with or without --force, dangling or not.
    let victim = dir.path().join("victim");
    fs::write(&victim, b"precious").expect("write");
    let link = dir.path().join("link.snoop");
    symlink(&victim, &link).expect("symlink");
    let dangling = dir.path().join("dangling.snoop");
    let dangling_target = dir.path().join("would-be-created");
    symlink(&dangling_target, &dangling).expect("symlink");
    for (output, force) in [
        (&link, false),
        (&link, true),
        (&dangling, false),
        (&dangling, true),
    ] {
        let extra: &[&str] = if force { &["--force"] } else { &[] };
        let ran = record(output, extra);
        assert_eq!(ran.code, Some(1), "{ran:?}");
        assert_eq!(message_lines(&ran.stderr).len(), 1, "{:?}", ran.stderr);
        assert!(ran.stderr.contains("symbolic link"), "{:?}", ran.stderr);
        assert!(fs::symlink_metadata(output)
            .expect("lstat")
            .file_type()
            .is_symlink());
    }
    assert_eq!(fs::read(&victim).expect("read"), b"precious");
    assert!(
        !dangling_target.exists(),
        "nothing created through a dangling symlink"
    );

    // A directory is not replaced.
    let ran = record(dir.path(), &["--force"]);
    assert_eq!(ran.code, Some(1), "{ran:?}");
    assert!(
        ran.stderr.contains("not a regular file"),
        "{:?}",
        ran.stderr
    );

    // --force replaces a regular file; the capture is 0600 whatever the umask.
    let ran = record(&existing, &["--force"]);
    assert_eq!(ran.code, Some(0), "{ran:?}");
    let meta = fs::metadata(&existing).expect("stat");
    assert_eq!(meta.permissions().mode() & 0o7777, 0o600);
    assert!(common::read_capture(&existing).trailer.is_some());
    let fresh = dir.path().join("fresh.snoop");
    let ran = record(&fresh, &[]);
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert_eq!(
        fs::metadata(&fresh).expect("stat").permissions().mode() & 0o7777,
        0o600
    );
}

// ---------------------------------------------------------------------------
// 8. The environment

/// Runs `record` with `pre_exec` run in the child first.
#[cfg(feature = "record")]
fn record_with(
    args: &[&OsStr],
    pre_exec: impl FnMut() -> std::io::Result<()> + Send + Sync + 'static,
) -> Ran {
    let mut cmd = Command::new(RECORD);
    cmd.args(args);
    // SAFETY: callers only make async-signal-safe calls in pre_exec.
    unsafe {
        cmd.pre_exec(pre_exec);
    }
    run(&mut cmd, Duration::from_secs(60))
}

/// Runs `sh -c SCRIPT sh ARGS...` in a private mount namespace.
fn in_private_mount_ns(script: &str, args: &[&OsStr]) -> Ran {
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "--propagation", "private", "sh", "-c", script, "sh"])
        .args(args);
    run(&mut cmd, Duration::from_secs(60))
}

fn assert_one_clear_line(what: &str, ran: &Ran, needle: &str) {
    eprintln!("{what}: {}", ran.stderr.trim());
    assert_eq!(ran.code, Some(1), "{what}: {ran:?}");
    let lines = message_lines(&ran.stderr);
    assert_eq!(lines.len(), 1, "{what}: one line, not {:?}", ran.stderr);
    assert!(lines[0].starts_with("record: "), "{what}: {:?}", ran.stderr);
    assert!(
        lines[0].contains(needle),
        "{what}: {:?} lacks {needle:?}",
        ran.stderr
    );
}

#[cfg(feature = "record")]
#[test]
fn environment_problems_get_one_clear_line_or_are_fixed() {
    if !common::require_root("environment_problems_get_one_clear_line_or_are_fixed") {
        return;
    }
    let _lock = common::bpf_lock();
    let dir = tempdir();
    let out = dir.path().join("env.snoop");
    let base_args = |out: &Path| -> Vec<OsString> {
        vec![
            "-o".into(),
            out.into(),
            "--duration".into(),
            "0.3".into(),
            "--events".into(),
            "exec".into(),
        ]
    };
    let args = base_args(&out);
    let args: Vec<&OsStr> = args.iter().map(|a| a.as_os_str()).collect();

    // Not root.
    let ran = record_with(&args, || {
        // SAFETY: async-signal-safe syscalls.
        let ok = unsafe {
            libc::setgroups(0, std::ptr::null()) == 0
                && libc::setresgid(65534, 65534, 65534) == 0
                && libc::setresuid(65534, 65534, 65534) == 0
        };
        if ok {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    });
    assert_one_clear_line("not root", &ran, "needs root");
    assert!(!out.exists(), "no capture left behind");

    // Root, but without capabilities (as in a container without CAP_BPF).
    let ran = record_with(&args, || {
        // SAFETY: prctl is async-signal-safe. Emptying the bounding set makes
        // the exec'd root process start with no capabilities.
        unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL,
                0,
                0,
                0,
            );
            for cap in 0..64 {
                libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0);
            }
        }
        Ok(())
    });
    assert_one_clear_line("root without capabilities", &ran, "CAP_BPF");
    assert!(!out.exists(), "no capture left behind");

    // tracefs unmounted: record mounts it itself.
    let ran = in_private_mount_ns(
        r#"umount /sys/kernel/tracing 2>/dev/null; umount /sys/kernel/debug/tracing 2>/dev/null
[ -d /sys/kernel/tracing/events ] && { echo "tracefs still mounted" >&2; exit 97; }
exec "$@""#,
        &[RECORD.as_ref()]
            .into_iter()
            .chain(args.iter().copied())
            .collect::<Vec<_>>(),
    );
    assert_eq!(ran.code, Some(0), "tracefs unmounted: {ran:?}");
    assert!(ran.stderr.contains("Tracing"), "{:?}", ran.stderr);
    assert!(common::read_capture(&out).trailer.is_some());
    fs::remove_file(&out).expect("rm");

    // bpffs not mounted: --cgroupmap names a map that cannot exist.
    let mut map_args = args.clone();
    map_args.extend([
        OsStr::new("--cgroupmap"),
        OsStr::new("/sys/fs/bpf/snoopcap-no-such-map"),
    ]);
    let ran = in_private_mount_ns(
        r#"umount /sys/fs/bpf 2>/dev/null; exec "$@""#,
        &[RECORD.as_ref()]
            .into_iter()
            .chain(map_args.iter().copied())
            .collect::<Vec<_>>(),
    );
    assert_one_clear_line("bpffs not mounted", &ran, "mount -t bpf bpf /sys/fs/bpf");
    assert!(!out.exists(), "no capture left behind");

    // No cgroup v2 where --cgroup points: a plain directory, and the cgroup
    // v2 mount point itself once unmounted.
    let plain = dir.path().join("not-a-cgroup");
    fs::create_dir(&plain).expect("mkdir");
    let mut cg_args = args.clone();
    cg_args.extend([OsStr::new("--cgroup"), plain.as_os_str()]);
    let ran = record_with(&cg_args, || Ok(()));
    assert_one_clear_line("--cgroup on a plain directory", &ran, "cgroup v2");
    let mounts = fs::read_to_string("/proc/self/mounts").expect("mounts");
    let cg2 = mounts
        .lines()
        .map(|l| l.split(' ').collect::<Vec<_>>())
        .find(|f| f.get(2) == Some(&"cgroup2"))
        .and_then(|f| f.get(1).map(|s| s.to_string()))
        .expect("a cgroup v2 mount");
    let mut cg_args = args.clone();
    cg_args.extend([OsStr::new("--cgroup"), OsStr::new(&cg2)]);
    let ran = in_private_mount_ns(
        r#"umount "$1" || exit 97; shift; exec "$@""#,
        &[OsStr::new(&cg2), RECORD.as_ref()]
            .into_iter()
            .chain(cg_args.iter().copied())
            .collect::<Vec<_>>(),
    );
    assert_one_clear_line("cgroup v2 unmounted", &ran, "cgroup v2");
    let ran = record_with(
        &args
            .iter()
            .copied()
            .chain([
                OsStr::new("--cgroup"),
                OsStr::new("/nonexistent/snoopcap-cgroup"),
            ])
            .collect::<Vec<_>>(),
        || Ok(()),
    );
    assert_one_clear_line(
        "--cgroup on a missing directory",
        &ran,
        "/nonexistent/snoopcap-cgroup",
    );
    assert!(!out.exists(), "no capture left behind");
}

/// A kernel without BPF (simulated: a seccomp filter makes bpf() return
/// ENOSYS, tests/nobpf.c) gets one line naming what is missing, and no file.
#[cfg(feature = "record")]
#[test]
fn a_kernel_without_bpf_gets_one_clear_line() {
    if !common::require_root("a_kernel_without_bpf_gets_one_clear_line") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let wrapper = dir.path().join("nobpf");
    let built = Command::new("cc")
        .args(["-O2", "-Wall", "-o"])
        .arg(&wrapper)
        .arg(common::repo().join("tests/nobpf.c"))
        .status()
        .expect("run cc");
    assert!(built.success(), "building tests/nobpf.c failed");
    let capture = dir.path().join("cap.snoop");
    let out = Command::new(&wrapper)
        .arg(common::RECORD)
        .arg("-o")
        .arg(&capture)
        .args(["--duration", "0.3"])
        .output()
        .expect("run record under nobpf");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains("does not support BPF") && stderr.contains("CONFIG_BPF_SYSCALL"),
        "{stderr}"
    );
    assert!(!capture.exists(), "no capture file is left behind");
}
