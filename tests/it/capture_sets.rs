//! Always-on capture end to end (root, real kernel): rotation by size and by
//! time with `-W` under an exec storm, the flight recorder's dumps on
//! SIGUSR1 and on a matching exec, the live status line on a terminal (a
//! pty) and its absence elsewhere, a full disk during rotation, a dump into
//! a missing directory, and the option checks. Every recording traces only
//! a cgroup of its own (`record --cgroup`), so nothing else gets in.

use std::collections::HashSet;
use std::ffi::CString;
use std::fs;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;
use snoopcap::event::Syscall;
use snoopcap::format::{CaptureReader, SegmentInfo};
use snoopcap::replay::decode::RawRecord;

use crate::common::{self, hostile, replay, Recording, TempCgroup};

/// tests/slowcall.c: one umount2 that stays in the kernel for a given time.
fn slowcall() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        common::build_c(
            "tests/slowcall.c",
            "slowcall",
            &["-O2", "-Wall", "-pthread"],
            "",
        )
    })
}

/// Makes `cmd` join `cgroup` before it execs.
fn in_cgroup<'c>(cmd: &'c mut Command, cgroup: &TempCgroup) -> &'c mut Command {
    let procs = CString::new(cgroup.path.join("cgroup.procs").as_os_str().as_bytes())
        .expect("no NUL in a path");
    // SAFETY: join_cgroup makes only async-signal-safe calls.
    unsafe { cmd.pre_exec(move || common::join_cgroup(&procs)) }
}

/// `hostile storm N` in `cgroup` (N = 0: until killed).
fn spawn_storm(cgroup: &TempCgroup, n: u64) -> Child {
    let mut cmd = Command::new(hostile());
    cmd.arg("storm").arg(n.to_string());
    in_cgroup(&mut cmd, cgroup)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the storm")
}

/// Runs a storm of `n` execs to its end; returns (its pid, the execs it made).
fn storm(cgroup: &TempCgroup, n: u64) -> (u32, u64) {
    let child = spawn_storm(cgroup, n);
    let pid = child.id();
    let out = child.wait_with_output().expect("wait for the storm");
    assert!(out.status.success(), "the storm failed");
    let made = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("the storm prints its count");
    (pid, made)
}

/// Files in `dir` whose name starts with `prefix`, sorted by name.
fn files_named(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        })
        .collect();
    files.sort();
    files
}

fn segment_of(path: &Path) -> SegmentInfo {
    let file = fs::File::open(path).expect("open");
    let reader = CaptureReader::new(std::io::BufReader::new(file)).expect("a capture header");
    reader
        .segment()
        .cloned()
        .unwrap_or_else(|| panic!("{}: no segment in the header", path.display()))
}

/// `replay --format json FILES...`: (events, stderr). Exit status 0 required.
fn json_events(files: &[PathBuf]) -> (Vec<Value>, String) {
    let mut args = vec!["--format".to_string(), "json".to_string()];
    args.extend(files.iter().map(|f| f.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    common::replay_json(&args)
}

/// Successful exec events whose parent is `ppid` (one storm's children).
fn execs_of(events: &[Value], ppid: u32) -> Vec<&Value> {
    events
        .iter()
        .filter(|e| e["event"] == "exec" && e["ppid"] == ppid && e["ret"] == 0)
        .collect()
}

/// Exec entry records of `ppid`'s children in one file: (ts, tid) each.
fn exec_entries(path: &Path, ppid: u32) -> Vec<(u64, u32)> {
    common::raw_records(path)
        .into_iter()
        .filter_map(|r| match r {
            RawRecord::Enter(e) if e.syscall.is_exec() && e.ppid == ppid => Some((e.ts_ns, e.tid)),
            _ => None,
        })
        .collect()
}

fn replay_info_json(path: &Path) -> Value {
    let (code, out, err) = replay(&["--info", "--format", "json", path.to_str().expect("utf-8")]);
    assert_eq!(code, 0, "replay --info {}: {err}", path.display());
    serde_json::from_str(&out).expect("one JSON object")
}

#[test]
fn rotation_by_size_keeps_every_event_once_and_pairs_across_files() {
    if !common::require_root("rotation_by_size_keeps_every_event_once_and_pairs_across_files") {
        return;
    }
    let _lock = common::bpf_lock();
    let cgroup = TempCgroup::new("rotate-size");
    let dir = tempfile::tempdir().expect("tempdir");
    let pattern = dir.path().join("cap.snoop");
    let size: u64 = 64 << 10;
    let cg = cgroup.path.to_str().expect("utf-8");
    // Built before recording starts, so that the storm begins at once.
    let (_, _) = (hostile(), slowcall());
    let recording = Recording::start(&pattern, &["-C", "64K", "--cgroup", cg]);
    // A call that spans rotations: in the kernel for 4 s, while the storm
    // fills a file every second or less.
    let mut slow = Command::new(slowcall());
    slow.arg("4000");
    let slow = in_cgroup(&mut slow, &cgroup)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start slowcall");
    let slow_pid = slow.id();
    let (storm_pid, made) = storm(&cgroup, 4000);
    let slow_out = slow.wait_with_output().expect("wait for slowcall");
    assert!(slow_out.status.success(), "slowcall failed");
    let (ok, stderr) = recording.stop();
    assert!(ok, "record failed: {stderr}");
    assert!(!pattern.exists(), "the pattern itself is never written");

    let files = files_named(dir.path(), "cap.snoop");
    assert!(files.len() >= 4, "only {} files: {files:?}", files.len());
    let mut set = None;
    let mut seen = HashSet::new();
    let mut orphans_alone = 0;
    let (mut slow_entry, mut slow_exit) = (None, None);
    for (i, file) in files.iter().enumerate() {
        let name = file
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        assert_eq!(
            name,
            format!("cap.snoop.{i:06}"),
            "names glob in sequence order"
        );
        let seg = segment_of(file);
        assert_eq!((seg.sequence, seg.kind.as_str()), (i as u64, "rotation"));
        assert_eq!(set.get_or_insert(seg.set_id.clone()), &seg.set_id);
        let info = replay_info_json(file);
        assert_eq!(info["complete"], true, "{name} has its trailer");
        assert_eq!(info["segment"]["sequence"], i as u64);
        let bytes = fs::metadata(file).expect("stat").len();
        if i + 1 < files.len() {
            assert!(
                bytes >= size && bytes < 2 * size,
                "{name}: {bytes} bytes for -C {size}"
            );
        }
        // Alone: it replays (exit 0); calls cut by the rotation are unpaired.
        let (_, err) = json_events(std::slice::from_ref(file));
        // An exit whose entry is in the file before is unpaired; an entry
        // whose exit is in the next file is an unfinished call.
        if err.contains("could not be paired") || err.contains("shown as unfinished calls") {
            orphans_alone += 1;
        }
        for entry in exec_entries(file, storm_pid) {
            assert!(seen.insert(entry), "{name}: an exec entry in two files");
        }
        for record in common::raw_records(file) {
            match record {
                RawRecord::Enter(e) if e.pid == slow_pid && e.syscall == Syscall::Umount => {
                    slow_entry = Some(i)
                }
                RawRecord::Exit(x) if x.pid == slow_pid && x.syscall == Syscall::Umount => {
                    slow_exit = Some(i)
                }
                _ => {}
            }
        }
    }
    let (entry_file, exit_file) = (slow_entry.expect("entry"), slow_exit.expect("exit"));
    assert!(
        exit_file > entry_file,
        "the slow call spans a rotation: entry in file {entry_file}, exit in file {exit_file}"
    );
    assert!(orphans_alone >= 2, "alone, its two files cannot pair it");
    assert_eq!(
        seen.len() as u64,
        made,
        "every exec entry in exactly one file"
    );

    // Together: one stream, paired across the cuts.
    let (events, err) = json_events(&files);
    assert!(
        !err.contains("could not be paired"),
        "unpaired at a cut: {err}"
    );
    let cut: Vec<&Value> = events
        .iter()
        .filter(|e| e["unfinished"] == true && e["unfinished_reason"] != "capture_ended")
        .collect();
    assert!(cut.is_empty(), "unfinished at a cut: {cut:?}");
    assert!(!err.contains("lost"), "{err}");
    let execs = execs_of(&events, storm_pid);
    assert_eq!(execs.len() as u64, made, "one exec event per exec");
    let pids: HashSet<u64> = execs.iter().filter_map(|e| e["pid"].as_u64()).collect();
    assert_eq!(pids.len() as u64, made, "no exec event twice");
    let slow: Vec<&Value> = events.iter().filter(|e| e["pid"] == slow_pid).collect();
    let umount: Vec<&&Value> = slow.iter().filter(|e| e["event"] == "umount").collect();
    assert_eq!(umount.len(), 1, "the slow call is one event: {slow:?}");
    assert_eq!(umount[0]["error"], "ENOENT", "{:?}", umount[0]);
    let latency = umount[0]["latency_ns"].as_u64().expect("latency");
    assert!(
        latency >= 3_900_000_000,
        "entry to exit across files: {latency} ns"
    );
    eprintln!(
        "rotation by size: {} files, {made} execs, {orphans_alone} files with calls cut by a rotation when read alone, the slow call from file {entry_file} to {exit_file}",
        files.len()
    );

    // Never over an existing file: the first name is taken.
    let taken = fs::read(&files[0]).expect("read");
    let out = Command::new(common::RECORD)
        .arg("-o")
        .arg(&pattern)
        .args(["-C", "64K", "--cgroup", cg, "--duration", "1"])
        .output()
        .expect("run record");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(fs::read(&files[0]).expect("read"), taken, "untouched");
}

#[test]
fn rotation_by_time_with_retention_keeps_the_newest_complete_files() {
    if !common::require_root("rotation_by_time_with_retention_keeps_the_newest_complete_files") {
        return;
    }
    let _lock = common::bpf_lock();
    let cgroup = TempCgroup::new("rotate-time");
    let dir = tempfile::tempdir().expect("tempdir");
    let pattern = dir.path().join("cap-%Y%m%d-%H%M%S.snoop");
    let cg = cgroup.path.to_str().expect("utf-8");
    let recording = Recording::start(&pattern, &["-G", "1", "-W", "3", "--cgroup", cg]);
    let mut load = spawn_storm(&cgroup, 0);
    std::thread::sleep(Duration::from_millis(5500));
    let _ = load.kill();
    let _ = load.wait();
    let (ok, stderr) = recording.stop();
    assert!(ok, "record failed: {stderr}");

    let files = files_named(dir.path(), "cap-");
    assert_eq!(files.len(), 3, "-W 3 keeps three files: {files:?}");
    let segs: Vec<SegmentInfo> = files.iter().map(|f| segment_of(f)).collect();
    let first = segs[0].sequence;
    assert!(
        first >= 3,
        "older files were rotated out (first kept: {first})"
    );
    for (i, (file, seg)) in files.iter().zip(&segs).enumerate() {
        assert_eq!(seg.sequence, first + i as u64, "the newest, in a row");
        assert_eq!(seg.set_id, segs[0].set_id);
        let name = file
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        // cap-YYYYmmdd-HHMMSS.snoop.NNNNNN
        assert!(
            name.len() == "cap-20261201-225500.snoop.000000".len()
                && name.ends_with(&format!(".snoop.{:06}", seg.sequence)),
            "{name}"
        );
        let info = replay_info_json(file);
        assert_eq!(info["complete"], true, "{name}");
        let span = info["duration_secs"].as_f64().expect("a duration");
        if i + 1 < files.len() {
            assert!((0.8..2.0).contains(&span), "{name} spans {span} s for -G 1");
        }
        // Each replays alone.
        json_events(std::slice::from_ref(file));
    }
    // The kept files pair with each other: only the first one's start may
    // hold exits of calls that entered in a deleted file.
    let (events, _) = json_events(&files);
    assert!(events.iter().any(|e| e["event"] == "exec"));
}

/// Sends `signal` to the child.
fn signal(child: &Child, signal: i32) {
    // SAFETY: kill with a valid pid and signal.
    unsafe { libc::kill(child.id() as i32, signal) };
}

#[test]
fn flight_recorder_dumps_the_window_around_each_trigger() {
    if !common::require_root("flight_recorder_dumps_the_window_around_each_trigger") {
        return;
    }
    let _lock = common::bpf_lock();
    let cgroup = TempCgroup::new("ring");
    let dir = tempfile::tempdir().expect("tempdir");
    let pattern = dir.path().join("fr.snoop");
    let cg = cgroup.path.to_str().expect("utf-8");
    // About 13 s of load in all (the 30 s, shortened to keep the
    // test under a minute): a 3 s window before each trigger, 2 s after.
    let recording = Recording::start(
        &pattern,
        &[
            "--ring",
            "3s",
            "--after",
            "2s",
            "--trigger-exec",
            "^/bin/true snoopcap-trigger$",
            "--cgroup",
            cg,
        ],
    );
    let (a, _) = storm(&cgroup, 800); // long before the first trigger
    std::thread::sleep(Duration::from_secs(6));
    let (b, made_b) = storm(&cgroup, 800); // just before it
    signal(&recording.child, libc::SIGUSR1);
    let (c, made_c) = storm(&cgroup, 800); // within its 2 s after
    std::thread::sleep(Duration::from_secs(3));
    let (d, made_d) = storm(&cgroup, 500); // before the second trigger
    let mut trigger = Command::new("/bin/true");
    trigger.arg("snoopcap-trigger");
    let status = in_cgroup(&mut trigger, &cgroup).status().expect("run true");
    assert!(status.success());
    let (e, made_e) = storm(&cgroup, 500); // within the second's after
    std::thread::sleep(Duration::from_secs(3));
    let (ok, stderr) = recording.stop();
    assert!(ok, "record failed: {stderr}");

    let dumps = files_named(dir.path(), "fr.snoop.");
    assert_eq!(dumps.len(), 2, "two dumps: {dumps:?}\n{stderr}");
    let segs: Vec<SegmentInfo> = dumps.iter().map(|f| segment_of(f)).collect();
    assert_eq!(segs[0].trigger, "SIGUSR1");
    assert!(
        segs[1].trigger.starts_with("exec matching")
            && segs[1].trigger.contains("snoopcap-trigger"),
        "{}",
        segs[1].trigger
    );
    for (dump, seg) in dumps.iter().zip(&segs) {
        assert_eq!(seg.kind, "dump");
        assert_eq!(seg.after_ns, 2_000_000_000);
        let info = replay_info_json(dump);
        assert_eq!(info["complete"], true, "{}", dump.display());
        assert_eq!(info["segment"]["trigger"], seg.trigger.as_str());
        let (code, text, err) = replay(&["--info", dump.to_str().expect("utf-8")]);
        assert_eq!(code, 0, "{err}");
        assert!(
            text.contains(&format!("trigger:         {}", seg.trigger)),
            "{text}"
        );
    }
    let count = |events: &[Value], ppid| execs_of(events, ppid).len() as u64;

    let (first, _) = json_events(&dumps[..1]);
    assert_eq!(count(&first, b), made_b, "the window before SIGUSR1, whole");
    assert_eq!(count(&first, c), made_c, "the 2 s after it, whole");
    assert_eq!(count(&first, a), 0, "6 s before: out of the 3 s window");
    assert_eq!(count(&first, d), 0, "after the dump ended");

    let (second, _) = json_events(&dumps[1..]);
    assert_eq!(
        count(&second, d),
        made_d,
        "the window before the exec trigger"
    );
    assert!(
        second.iter().any(|ev| ev["event"] == "exec"
            && ev["args"] == serde_json::json!(["/bin/true", "snoopcap-trigger"])),
        "the triggering exec is in its dump"
    );
    assert_eq!(count(&second, e), made_e, "the 2 s after it, whole");
    assert_eq!(count(&second, a), 0);

    // Both dumps are named by their trigger time and glob from the pattern.
    for (dump, seg) in dumps.iter().zip(&segs) {
        let when = chrono::DateTime::from_timestamp_nanos(seg.trigger_wall_ns);
        let expected = format!("fr.snoop.{}", when.format("%Y%m%dT%H%M%S%.3fZ"));
        assert_eq!(dump.file_name().expect("name").to_string_lossy(), expected);
    }
}

/// A pseudo-terminal pair: (controller, the terminal's path-less fd).
fn openpty() -> (OwnedFd, OwnedFd) {
    let (mut controller, mut terminal) = (-1, -1);
    // SAFETY: openpty writes two fds; the name, termios and winsize
    // arguments may be null.
    let rc = unsafe {
        libc::openpty(
            &mut controller,
            &mut terminal,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both fds were just opened and are owned here.
    unsafe {
        (
            OwnedFd::from_raw_fd(controller),
            OwnedFd::from_raw_fd(terminal),
        )
    }
}

#[test]
fn status_line_on_a_terminal_and_nothing_of_it_elsewhere() {
    if !common::require_root("status_line_on_a_terminal_and_nothing_of_it_elsewhere") {
        return;
    }
    let _lock = common::bpf_lock();
    let cgroup = TempCgroup::new("status");
    let dir = tempfile::tempdir().expect("tempdir");
    let cg = cgroup.path.to_str().expect("utf-8").to_string();

    let (controller, terminal) = openpty();
    let path = dir.path().join("tty.snoop");
    let mut child = Command::new(common::RECORD)
        .arg("-o")
        .arg(&path)
        .args(["--cgroup", &cg, "--duration", "3.6"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(terminal))
        .spawn()
        .expect("spawn record");
    let mut load = spawn_storm(&cgroup, 0);
    let mut tty = fs::File::from(controller);
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut buf = [0u8; 4096];
    // Read until record exits (the terminal then reports EIO).
    while Instant::now() < deadline {
        match tty.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
    let _ = load.kill();
    let _ = load.wait();
    assert!(child.wait().expect("wait").success());
    let text = String::from_utf8_lossy(&seen);
    let redraws: Vec<&str> = text
        .split("\r\x1b[K")
        .filter(|s| s.starts_with("record: ") && s.contains(" events/s, "))
        .collect();
    assert!(redraws.len() >= 2, "redrawn each second: {text:?}");
    for line in &redraws {
        assert!(
            line.contains(" events, ") && line.contains(" lost, ") && line.contains("tty.snoop"),
            "{line:?}"
        );
    }
    let rates: Vec<f64> = redraws
        .iter()
        .filter_map(|l| l.strip_prefix("record: ")?.split(' ').next()?.parse().ok())
        .collect();
    assert!(
        rates.iter().any(|&r| r > 100.0),
        "the storm's rate shows: {rates:?}"
    );
    assert!(
        text.contains("\r\x1b[Ksnoopcap record: "),
        "the line is erased before the summary: {text:?}"
    );

    // Not a terminal: the Tracing line and the summary, nothing else.
    let path = dir.path().join("pipe.snoop");
    let out = Command::new(common::RECORD)
        .arg("-o")
        .arg(&path)
        .args(["--cgroup", &cg, "--duration", "2.5"])
        .stdin(Stdio::null())
        .output()
        .expect("run record");
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains('\r') && !err.contains("events/s"), "{err:?}");
    assert_eq!(err.lines().count(), 2, "{err:?}");
}

#[test]
fn a_full_disk_stops_rotation_cleanly_and_every_finished_file_replays() {
    if !common::require_root("a_full_disk_stops_rotation_cleanly_and_every_finished_file_replays") {
        return;
    }
    let _lock = common::bpf_lock();
    let cgroup = TempCgroup::new("full");
    let dir = tempfile::tempdir().expect("tempdir");
    let mnt = dir.path().join("small");
    fs::create_dir(&mnt).expect("mkdir");
    let status = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=400k", "snoopcap-full"])
        .arg(&mnt)
        .status()
        .expect("run mount");
    assert!(status.success(), "mount a small tmpfs");
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(mnt.clone());

    let pattern = mnt.join("cap.snoop");
    let cg = cgroup.path.to_str().expect("utf-8");
    let mut record = Command::new(common::RECORD)
        .arg("-o")
        .arg(&pattern)
        .args(["-C", "64K", "--cgroup", cg])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn record");
    std::thread::sleep(Duration::from_secs(2));
    let mut load = spawn_storm(&cgroup, 0);
    let deadline = Instant::now() + Duration::from_secs(40);
    let status = loop {
        if let Some(status) = record.try_wait().expect("wait") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "record did not stop on a full disk"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = load.kill();
    let _ = load.wait();
    let mut err = String::new();
    record
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("read stderr");
    assert_eq!(status.code(), Some(1), "{err}");
    let messages: Vec<&str> = err.lines().filter(|l| !l.starts_with("Tracing")).collect();
    assert_eq!(messages.len(), 1, "one line: {err}");
    assert!(messages[0].contains("No space left on device"), "{err}");

    let files = files_named(&mnt, "cap.snoop.");
    assert!(files.len() >= 2, "{files:?}");
    let (last, finished) = files.split_last().expect("files");
    for file in finished {
        assert_eq!(
            replay_info_json(file)["complete"],
            true,
            "{}",
            file.display()
        );
        json_events(std::slice::from_ref(file));
    }
    // The file being written when the disk filled: every complete frame.
    let (code, _, err) = replay(&["--format", "json", last.to_str().expect("utf-8")]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn a_dump_that_cannot_be_written_is_reported_and_the_ring_goes_on() {
    if !common::require_root("a_dump_that_cannot_be_written_is_reported_and_the_ring_goes_on") {
        return;
    }
    let _lock = common::bpf_lock();
    let cgroup = TempCgroup::new("nodir");
    let dir = tempfile::tempdir().expect("tempdir");
    let gone = dir.path().join("gone");
    fs::create_dir(&gone).expect("mkdir");
    let pattern = gone.join("fr.snoop");
    let cg = cgroup.path.to_str().expect("utf-8");
    let recording = Recording::start(
        &pattern,
        &["--ring", "4M", "--after", "0.5s", "--cgroup", cg],
    );
    fs::remove_dir(&gone).expect("rmdir");
    storm(&cgroup, 100);
    signal(&recording.child, libc::SIGUSR1);
    std::thread::sleep(Duration::from_millis(800));
    fs::create_dir(&gone).expect("mkdir again");
    let (b, made) = storm(&cgroup, 100);
    signal(&recording.child, libc::SIGUSR1);
    std::thread::sleep(Duration::from_millis(1500));
    let (ok, stderr) = recording.stop();
    assert!(ok, "record goes on and stops cleanly: {stderr}");
    let failed: Vec<&str> = stderr.lines().filter(|l| l.contains("no dump")).collect();
    assert_eq!(failed.len(), 1, "{stderr}");
    assert!(failed[0].contains("No such file or directory"), "{stderr}");
    let dumps = files_named(&gone, "fr.snoop.");
    assert_eq!(dumps.len(), 1, "the second trigger dumped: {stderr}");
    let (events, _) = json_events(&dumps);
    assert_eq!(execs_of(&events, b).len() as u64, made);
}

#[test]
fn set_options_are_checked_before_anything_starts() {
    for args in [
        &["-o", "-", "-C", "1M"][..],
        &["-o", "x.snoop", "-W", "3"],
        &["-o", "x.snoop", "--trigger-signal"],
        &["-o", "x.snoop", "--ring", "1M", "-G", "5"],
        &["-o", "x.snoop", "--ring", "12"],
        &["-o", "x.snoop", "-C", "0"],
        &["-o", "x-%Q.snoop", "-G", "5"],
        &["-o", "x.snoop", "--ring", "5m", "--after", "soon"],
        &["-o", "x.snoop", "--ring", "5m", "--trigger-exec", "("],
    ] {
        let out = Command::new(common::RECORD)
            .args(args)
            .output()
            .expect("run record");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(!Path::new("x.snoop").exists());
    }
}

#[test]
fn unrelated_captures_merge_in_time_order() {
    if !common::require_root("unrelated_captures_merge_in_time_order") {
        return;
    }
    let _lock = common::bpf_lock();
    let cgroup = TempCgroup::new("merge");
    let dir = tempfile::tempdir().expect("tempdir");
    let cg = cgroup.path.to_str().expect("utf-8");
    // Two recordings of their own (no segment), overlapping in time: the
    // first starts before a storm, the second during the next one.
    let a = dir.path().join("a.snoop");
    let b = dir.path().join("b.snoop");
    let first = Recording::start(&a, &["--events", "exec", "--cgroup", cg]);
    let (s1, made1) = storm(&cgroup, 300);
    let second = Recording::start(&b, &["--events", "exec", "--cgroup", cg]);
    let (s2, made2) = storm(&cgroup, 300);
    let (ok_a, err_a) = first.stop();
    let (s3, made3) = storm(&cgroup, 300);
    let (ok_b, err_b) = second.stop();
    assert!(ok_a && ok_b, "{err_a}{err_b}");

    let (events, err) = json_events(&[b.clone(), a.clone()]);
    assert!(!err.contains("could not be paired"), "{err}");
    let times: Vec<&str> = events.iter().filter_map(|e| e["time"].as_str()).collect();
    assert_eq!(times.len(), events.len());
    let mut sorted = times.clone();
    sorted.sort_unstable();
    assert_eq!(times, sorted, "merged in time order");
    let count = |ppid| execs_of(&events, ppid).len() as u64;
    assert_eq!(count(s1), made1, "the first storm: in a only");
    assert_eq!(count(s2), 2 * made2, "the second: in both");
    assert_eq!(count(s3), made3, "the third: in b only");

    // --info: one summary per file, neither of them part of a set.
    let (code, out, err) = replay(&[
        "--info",
        "--format",
        "json",
        a.to_str().expect("utf-8"),
        b.to_str().expect("utf-8"),
    ]);
    assert_eq!(code, 0, "{err}");
    let infos: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!(infos.len(), 2);
    for info in &infos {
        assert_eq!(info["complete"], true);
        assert!(
            info.get("segment").is_none(),
            "a plain capture has no segment"
        );
    }
}
