//! Container filtering end to end, as root: real cgroup v2 directories
//! (made under the cgroup2 mount, processes moved in through cgroup.procs)
//! and real mount namespaces (unshare(CLONE_NEWNS), what `unshare -m` does),
//! processes run inside and outside them, and each filter shown to keep
//! exactly the selected events: record's `--cgroup`, `--cgroupmap` (a map
//! made and changed with bpftool while recording), `--mntnsmap`, `--mntns`,
//! ANDed with `--uid`/`--pid`; replay's `--cgroup-id`, `--mntns`,
//! `--cgroup-path`, and the cgroup paths record stores in the capture. Also
//! the messages when bpffs or cgroup v2 is not mounted, or a pinned map is
//! of the wrong kind.
//!
//! Every process whose events are checked is `/bin/true MARKER`, with a
//! marker unique to the test run: the machine may be busy with other
//! processes, whose events the checks ignore (or, for kernel-side filters,
//! must not see at all).

use std::collections::BTreeSet;
use std::ffi::CString;
use std::fs::{self, File};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::common::{bpf_lock, replay, require_root, stdout_of, Recording, RECORD};

/// The cgroup2 mount; root tests need one.
fn cgroup2_mount() -> PathBuf {
    snoopcap::record::cgroup::cgroup2_mount()
        .expect("cgroup v2 is not mounted: mount it with `mount -t cgroup2 none /sys/fs/cgroup`")
}

/// Makes sure bpffs is mounted at /sys/fs/bpf (it may not be on a fresh VM).
fn ensure_bpffs() {
    let dir = Path::new("/sys/fs/bpf");
    if snoopcap::record::cgroup::fs_magic(dir).ok() == Some(snoopcap::record::cgroup::BPF_FS_MAGIC)
    {
        return;
    }
    let status = Command::new("mount")
        .args(["-t", "bpf", "bpf", "/sys/fs/bpf"])
        .status()
        .expect("run mount");
    assert!(status.success(), "mounting bpffs at /sys/fs/bpf failed");
}

fn bpftool() -> &'static str {
    ["/usr/sbin/bpftool", "/usr/bin/bpftool", "/sbin/bpftool"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("bpftool")
}

fn run_bpftool(args: &[&str]) {
    stdout_of(
        Command::new(bpftool()).args(args),
        &format!("bpftool {args:?} (scripts/install-deps installs it)"),
    );
}

/// A key as bpftool takes it: little-endian hex bytes, as docs/CONTAINERS.md says.
fn le_hex(value: u64) -> Vec<String> {
    value
        .to_le_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A test-owned name: the test binary's pid and a tag.
fn unique(tag: &str) -> String {
    format!("snoopcap-it-{}-{tag}", std::process::id())
}

/// A pinned BPF hash map made with bpftool, unpinned on drop.
struct PinnedMap {
    path: PathBuf,
}

impl PinnedMap {
    /// `bpftool map create PATH type TYPE key KEY value VALUE entries N name NAME`.
    fn create(tag: &str, map_type: &str, key: u32, value: u32, entries: u32) -> PinnedMap {
        ensure_bpffs();
        let path = PathBuf::from("/sys/fs/bpf").join(unique(tag));
        let _ = fs::remove_file(&path);
        let path_text = path.display().to_string();
        let (key, value, entries) = (key.to_string(), value.to_string(), entries.to_string());
        run_bpftool(&[
            "map",
            "create",
            &path_text,
            "type",
            map_type,
            "key",
            &key,
            "value",
            &value,
            "entries",
            &entries,
            "name",
            "sc_it_set",
        ]);
        PinnedMap { path }
    }

    fn path(&self) -> &str {
        self.path.to_str().expect("UTF-8 path")
    }

    /// `bpftool map update pinned PATH key hex .. value hex ..` (value 1).
    fn insert(&self, key: u64, value_size: usize) {
        let mut args = vec!["map", "update", "pinned", self.path(), "key", "hex"];
        let key = le_hex(key);
        args.extend(key.iter().map(String::as_str));
        args.extend(["value", "hex"]);
        let value: Vec<String> = (0..value_size)
            .map(|i| if i == 0 { "01" } else { "00" }.to_string())
            .collect();
        args.extend(value.iter().map(String::as_str));
        run_bpftool(&args);
    }

    fn remove(&self, key: u64) {
        let mut args = vec!["map", "delete", "pinned", self.path(), "key", "hex"];
        let key = le_hex(key);
        args.extend(key.iter().map(String::as_str));
        run_bpftool(&args);
    }
}

impl Drop for PinnedMap {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// A cgroup v2 directory tree made for a test, removed (deepest first) on drop.
struct TestCgroup {
    mount: PathBuf,
    dirs: Vec<PathBuf>,
}

impl TestCgroup {
    /// `mount/unique(tag)` and the given subdirectories of it.
    fn create(tag: &str, subdirs: &[&str]) -> TestCgroup {
        let mount = cgroup2_mount();
        let base = mount.join(unique(tag));
        let mut dirs = vec![base.clone()];
        dirs.extend(subdirs.iter().map(|d| base.join(d)));
        for dir in &dirs {
            fs::create_dir_all(dir).expect("mkdir in the cgroup2 mount");
        }
        TestCgroup { mount, dirs }
    }

    /// The directory `sub` ("" for the base).
    fn dir(&self, sub: &str) -> PathBuf {
        if sub.is_empty() {
            self.dirs[0].clone()
        } else {
            self.dirs[0].join(sub)
        }
    }

    /// Its cgroup id: the directory's inode number.
    fn id(&self, sub: &str) -> u64 {
        fs::metadata(self.dir(sub)).expect("stat cgroup").ino()
    }

    /// Its path as /proc/PID/cgroup and the capture show it.
    fn rel(&self, sub: &str) -> String {
        let dir = self.dir(sub);
        let rel = dir.strip_prefix(&self.mount).expect("under the mount");
        format!("/{}", rel.display())
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        let mut dirs = self.dirs.clone();
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        for dir in dirs {
            let _ = fs::remove_dir(dir);
        }
    }
}

/// A mount namespace of its own, held by a sleeping process.
struct MountNs {
    holder: Child,
    id: u32,
    file: File,
}

impl MountNs {
    fn create() -> MountNs {
        let mut command = Command::new("sleep");
        command.arg("120");
        // SAFETY: unshare is async-signal-safe; nothing else runs in the child.
        unsafe {
            command.pre_exec(|| {
                if libc::unshare(libc::CLONE_NEWNS) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let holder = command.spawn().expect("spawn the namespace holder");
        let ns = format!("/proc/{}/ns/mnt", holder.id());
        let id = fs::metadata(&ns).expect("stat ns").ino() as u32;
        let file = File::open(&ns).expect("open ns");
        assert_ne!(id, own_mntns(), "unshare made no new mount namespace");
        MountNs { holder, id, file }
    }
}

impl Drop for MountNs {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

fn own_mntns() -> u32 {
    fs::metadata("/proc/self/ns/mnt").expect("stat ns").ino() as u32
}

/// Where a marker process runs.
#[derive(Default, Clone, Copy)]
struct Place<'a> {
    cgroup: Option<&'a Path>,
    mntns: Option<&'a MountNs>,
    uid: Option<u32>,
}

/// Prepares `command` to move into `place` between fork and exec.
fn place_command(command: &mut Command, place: Place<'_>) {
    let procs = place
        .cgroup
        .map(|dir| CString::new(dir.join("cgroup.procs").as_os_str().as_bytes()).expect("no NUL"));
    let ns_fd = place.mntns.map(|ns| ns.file.as_raw_fd());
    let uid = place.uid;
    // SAFETY: only async-signal-safe calls (open, write, close, setns,
    // setgid, setuid) on data prepared before the fork.
    unsafe {
        command.pre_exec(move || {
            if let Some(procs) = &procs {
                crate::common::join_cgroup(procs)?;
            }
            if let Some(fd) = ns_fd {
                if libc::setns(fd, libc::CLONE_NEWNS) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            if let Some(uid) = uid {
                if libc::setgid(uid) != 0 || libc::setuid(uid) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

/// Runs `/bin/true MARKER` in `place` and waits for it; returns its pid.
fn run_marker(marker: &str, place: Place<'_>) -> u32 {
    let mut command = Command::new("/bin/true");
    command.arg(marker);
    place_command(&mut command, place);
    let mut child = command.spawn().expect("spawn a marker");
    let pid = child.id();
    assert!(child.wait().expect("wait").success(), "{marker} failed");
    pid
}

/// A child killed and reaped on drop (so that its cgroup can be removed).
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The events of `replay --format json CAPTURE ARGS...`.
fn json_events(capture: &Path, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["--format", "json", capture.to_str().expect("UTF-8 path")];
    all.extend_from_slice(args);
    crate::common::json_lines(&all)
}

/// The marker of a `/bin/true MARKER` exec event of this test run.
fn marker_of(event: &Value) -> Option<String> {
    let marker = event["args"].get(1)?.as_str()?;
    (event["event"] == "exec"
        && event["filename"] == "/bin/true"
        && marker.starts_with(&unique("")))
    .then(|| marker.to_string())
}

fn markers(events: &[Value]) -> BTreeSet<String> {
    events.iter().filter_map(marker_of).collect()
}

fn set(names: &[&String]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn the_event<'a>(events: &'a [Value], marker: &str) -> &'a Value {
    events
        .iter()
        .find(|e| marker_of(e).as_deref() == Some(marker))
        .unwrap_or_else(|| panic!("no event for {marker}"))
}

/// Stops a recording and checks that it ended cleanly.
fn stop(recording: Recording) {
    let (ok, stderr) = recording.stop();
    assert!(ok, "record failed: {stderr}");
}

#[test]
fn record_cgroup_keeps_the_directory_and_its_descendants_anded_with_uid() {
    if !require_root("record_cgroup_keeps_the_directory_and_its_descendants_anded_with_uid") {
        return;
    }
    let _lock = bpf_lock();
    let cg = TestCgroup::create("cg", &["a", "a/nested", "b"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let capture = dir.path().join("cgroup.snoop");
    let a = cg.dir("a");
    let recording = Recording::start(
        &capture,
        &["--cgroup", a.to_str().expect("UTF-8"), "--uid", "0"],
    );

    let m = |tag: &str| unique(&format!("cg-{tag}"));
    let (in_a, in_nested, nobody_in_a, in_b, outside) =
        (m("a"), m("nested"), m("nobody-a"), m("b"), m("outside"));
    run_marker(
        &in_a,
        Place {
            cgroup: Some(&a),
            ..Place::default()
        },
    );
    let nested = cg.dir("a/nested");
    run_marker(
        &in_nested,
        Place {
            cgroup: Some(&nested),
            ..Place::default()
        },
    );
    let nobody = Place {
        cgroup: Some(&a),
        uid: Some(65534),
        ..Place::default()
    };
    run_marker(&nobody_in_a, nobody);
    run_marker(
        &in_b,
        Place {
            cgroup: Some(&cg.dir("b")),
            ..Place::default()
        },
    );
    run_marker(&outside, Place::default());
    // Mount-family calls inside the cgroup (the workload mounts from a child,
    // in a private mount namespace of its own).
    let mut workload = Command::new(crate::common::workload());
    workload.arg("mounts").stdout(Stdio::null());
    place_command(
        &mut workload,
        Place {
            cgroup: Some(&a),
            ..Place::default()
        },
    );
    let workload_pid = {
        let mut child = workload.spawn().expect("spawn workload");
        let pid = child.id();
        assert!(child.wait().expect("wait").success());
        pid
    };
    stop(recording);

    let events = json_events(&capture, &[]);
    assert_eq!(markers(&events), set(&[&in_a, &in_nested]));
    // Nothing else left the kernel: every event is from the cgroup's subtree
    // and of uid 0, whatever else ran on the machine.
    let subtree = [cg.id("a"), cg.id("a/nested")];
    for event in &events {
        let id = event["cgroup_id"].as_u64().expect("cgroup_id");
        assert!(subtree.contains(&id), "event from cgroup {id}: {event}");
        assert_eq!(event["uid"], 0, "{event}");
    }
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "mount" && e["ppid"] == workload_pid),
        "the workload's mount calls in the cgroup were kept"
    );
    // The capture knows each cgroup's path.
    assert_eq!(the_event(&events, &in_a)["cgroup_path"], cg.rel("a"));
    assert_eq!(
        the_event(&events, &in_nested)["cgroup_path"],
        cg.rel("a/nested")
    );
    let (_, info, _) = replay(&["--info", capture.to_str().expect("UTF-8")]);
    assert!(info.contains(&format!("cgroup={}", a.display())), "{info}");
}

#[test]
fn record_cgroupmap_follows_changes_to_the_pinned_map_at_once() {
    if !require_root("record_cgroupmap_follows_changes_to_the_pinned_map_at_once") {
        return;
    }
    let _lock = bpf_lock();
    let cg = TestCgroup::create("map", &["a", "b"]);
    let (a, b) = (cg.dir("a"), cg.dir("b"));
    // bcc's cgroup set: u64 keys, u64 values.
    let map = PinnedMap::create("cgmap", "hash", 8, 8, 128);
    map.insert(cg.id("a"), 8);
    let dir = tempfile::tempdir().expect("tempdir");
    let capture = dir.path().join("cgroupmap.snoop");
    let recording = Recording::start(&capture, &["--cgroupmap", map.path(), "--events", "exec"]);

    let m = |tag: &str| unique(&format!("map-{tag}"));
    let in_a = Place {
        cgroup: Some(&a),
        ..Place::default()
    };
    let in_b = Place {
        cgroup: Some(&b),
        ..Place::default()
    };
    run_marker(&m("a1"), in_a);
    run_marker(&m("b1"), in_b);
    run_marker(&m("outside1"), Place::default());
    // While recording: b in, a out.
    map.insert(cg.id("b"), 8);
    map.remove(cg.id("a"));
    run_marker(&m("a2"), in_a);
    run_marker(&m("b2"), in_b);
    run_marker(&m("outside2"), Place::default());
    stop(recording);

    let events = json_events(&capture, &[]);
    assert_eq!(markers(&events), set(&[&m("a1"), &m("b2")]));
    for event in &events {
        let id = event["cgroup_id"].as_u64().expect("cgroup_id");
        assert!([cg.id("a"), cg.id("b")].contains(&id), "{event}");
    }
    assert_eq!(the_event(&events, &m("b2"))["cgroup_path"], cg.rel("b"));
}

#[test]
fn record_cgroupmap_takes_any_value_size_and_ands_with_pid() {
    if !require_root("record_cgroupmap_takes_any_value_size_and_ands_with_pid") {
        return;
    }
    let _lock = bpf_lock();
    let cg = TestCgroup::create("odd", &["a"]);
    let a = cg.dir("a");
    // An LRU hash with 3-byte values and room for one entry.
    let map = PinnedMap::create("oddmap", "lru_hash", 8, 3, 1);
    map.insert(cg.id("a"), 3);
    // A process in the cgroup that execs its marker when told: its pid is
    // known before recording starts.
    let m = |tag: &str| unique(&format!("odd-{tag}"));
    let mut waiter = Command::new("sh");
    waiter
        .args(["-c", &format!("read _ && exec /bin/true {}", m("pid"))])
        .stdin(Stdio::piped());
    place_command(
        &mut waiter,
        Place {
            cgroup: Some(&a),
            ..Place::default()
        },
    );
    let mut waiter = Reaped(waiter.spawn().expect("spawn sh"));
    let waiter_pid = waiter.0.id();
    let pid = waiter_pid.to_string();

    let dir = tempfile::tempdir().expect("tempdir");
    let capture = dir.path().join("odd.snoop");
    let recording = Recording::start(
        &capture,
        &["--cgroupmap", map.path(), "--pid", &pid, "--events", "exec"],
    );
    run_marker(
        &m("other-pid"),
        Place {
            cgroup: Some(&a),
            ..Place::default()
        },
    );
    let mut stdin = waiter.0.stdin.take().expect("stdin");
    writeln!(stdin).expect("tell sh");
    drop(stdin);
    assert!(waiter.0.wait().expect("wait").success());
    stop(recording);

    let events = json_events(&capture, &[]);
    assert_eq!(markers(&events), set(&[&m("pid")]));
    assert!(events.iter().all(|e| e["pid"] == waiter_pid), "{events:?}");
}

#[test]
fn record_mntnsmap_and_mntns_keep_only_their_namespaces() {
    if !require_root("record_mntnsmap_and_mntns_keep_only_their_namespaces") {
        return;
    }
    let _lock = bpf_lock();
    let (n1, n2) = (MountNs::create(), MountNs::create());
    let m = |tag: &str| unique(&format!("ns-{tag}"));
    let dir = tempfile::tempdir().expect("tempdir");

    // bcc's mount_ns_set: u64 keys (the namespace inode), u32 values.
    let map = PinnedMap::create("nsmap", "hash", 8, 4, 128);
    map.insert(u64::from(n1.id), 4);
    let capture = dir.path().join("mntnsmap.snoop");
    let recording = Recording::start(&capture, &["--mntnsmap", map.path(), "--events", "exec"]);
    run_marker(
        &m("map-n1"),
        Place {
            mntns: Some(&n1),
            ..Place::default()
        },
    );
    run_marker(
        &m("map-n2"),
        Place {
            mntns: Some(&n2),
            ..Place::default()
        },
    );
    run_marker(&m("map-host"), Place::default());
    stop(recording);
    let events = json_events(&capture, &[]);
    assert_eq!(markers(&events), set(&[&m("map-n1")]));
    assert!(events.iter().all(|e| e["mnt_ns"] == n1.id), "{events:?}");

    // --mntns, ANDed with --uid.
    let capture = dir.path().join("mntns.snoop");
    let n2_id = n2.id.to_string();
    let recording = Recording::start(
        &capture,
        &["--mntns", &n2_id, "--uid", "65534", "--events", "exec"],
    );
    let nobody = |ns| Place {
        mntns: ns,
        uid: Some(65534),
        ..Place::default()
    };
    run_marker(&m("n2-nobody"), nobody(Some(&n2)));
    run_marker(
        &m("n2-root"),
        Place {
            mntns: Some(&n2),
            ..Place::default()
        },
    );
    run_marker(&m("n1-nobody"), nobody(Some(&n1)));
    run_marker(&m("host-nobody"), nobody(None));
    stop(recording);
    let events = json_events(&capture, &[]);
    assert_eq!(markers(&events), set(&[&m("n2-nobody")]));
    assert!(
        events
            .iter()
            .all(|e| e["mnt_ns"] == n2.id && e["uid"] == 65534),
        "{events:?}"
    );
}

#[test]
fn replay_filters_select_by_cgroup_id_mount_namespace_and_cgroup_path() {
    if !require_root("replay_filters_select_by_cgroup_id_mount_namespace_and_cgroup_path") {
        return;
    }
    let _lock = bpf_lock();
    let cg = TestCgroup::create("replay", &["a", "a/nested", "b"]);
    let ns = MountNs::create();
    let dir = tempfile::tempdir().expect("tempdir");
    let capture = dir.path().join("all.snoop");
    let recording = Recording::start(&capture, &["--events", "exec"]);
    let m = |tag: &str| unique(&format!("rp-{tag}"));
    let (a, nested, b) = (cg.dir("a"), cg.dir("a/nested"), cg.dir("b"));
    run_marker(
        &m("a"),
        Place {
            cgroup: Some(&a),
            ..Place::default()
        },
    );
    run_marker(
        &m("nested"),
        Place {
            cgroup: Some(&nested),
            ..Place::default()
        },
    );
    run_marker(
        &m("b"),
        Place {
            cgroup: Some(&b),
            ..Place::default()
        },
    );
    run_marker(
        &m("ns"),
        Place {
            mntns: Some(&ns),
            ..Place::default()
        },
    );
    let both = Place {
        cgroup: Some(&b),
        mntns: Some(&ns),
        ..Place::default()
    };
    run_marker(&m("b-ns"), both);
    run_marker(&m("host"), Place::default());
    stop(recording);

    let all = json_events(&capture, &[]);
    let ours = markers(&all);
    for tag in ["a", "nested", "b", "ns", "b-ns", "host"] {
        assert!(ours.contains(&m(tag)), "{tag} missing from {ours:?}");
    }
    // Paths come from the capture: each event shows its own cgroup's.
    assert_eq!(the_event(&all, &m("a"))["cgroup_path"], cg.rel("a"));
    assert_eq!(
        the_event(&all, &m("nested"))["cgroup_path"],
        cg.rel("a/nested")
    );
    assert_eq!(the_event(&all, &m("b-ns"))["cgroup_path"], cg.rel("b"));
    assert_eq!(the_event(&all, &m("b-ns"))["mnt_ns"], ns.id);

    let id_a = cg.id("a").to_string();
    let events = json_events(&capture, &["--cgroup-id", &id_a]);
    assert_eq!(markers(&events), set(&[&m("a")]));
    assert!(events
        .iter()
        .all(|e| e["cgroup_id"].as_u64() == Some(cg.id("a"))));

    let ns_id = ns.id.to_string();
    let events = json_events(&capture, &["--mntns", &ns_id]);
    assert_eq!(markers(&events), set(&[&m("ns"), &m("b-ns")]));
    assert!(events.iter().all(|e| e["mnt_ns"] == ns.id));

    let subtree = format!("^{}(/|$)", regex::escape(&cg.rel("a")));
    let events = json_events(&capture, &["--cgroup-path", &subtree]);
    assert_eq!(markers(&events), set(&[&m("a"), &m("nested")]));
    let only_b = format!("{}$", regex::escape(&cg.rel("b")));
    let events = json_events(&capture, &["--cgroup-path", &only_b]);
    assert_eq!(markers(&events), set(&[&m("b"), &m("b-ns")]));
    // ANDed with the other filters.
    let events = json_events(&capture, &["--cgroup-path", &only_b, "--mntns", &ns_id]);
    assert_eq!(markers(&events), set(&[&m("b-ns")]));

    // CSV: the path is the column between comm_before and unfinished.
    let path = capture.to_str().expect("UTF-8");
    let (code, csv, stderr) = replay(&["--format", "csv", "--cgroup-path", &only_b, path]);
    assert_eq!(code, 0, "{stderr}");
    let mut lines = csv.lines();
    assert!(lines
        .next()
        .expect("header")
        .contains(",comm_before,cgroup_path,unfinished,unfinished_reason,"));
    let rows: Vec<&str> = lines.filter(|l| l.contains(&m("b"))).collect();
    assert_eq!(rows.len(), 2, "{csv}");
    assert!(rows
        .iter()
        .all(|r| r.contains(&format!(",{},false,", cg.rel("b")))));
    // The table takes the filter too.
    let (code, table, stderr) = replay(&["--cgroup-path", &subtree, path]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        table.contains(&m("nested")) && !table.contains(&m("b")),
        "{table}"
    );
    // A path filter that matches nothing is not an error; a bad regex is.
    let events = json_events(&capture, &["--cgroup-path", "^/no-such-cgroup-anywhere$"]);
    assert!(events.is_empty());
    let (code, _, stderr) = replay(&["--cgroup-path", "(", path]);
    assert_ne!(code, 0);
    assert!(stderr.contains("--cgroup-path"), "{stderr}");
}

/// Runs record with `args` in a private mount namespace where every mount
/// of `fstypes` is detached first; returns (success, stderr).
fn record_without(fstypes: &[&str], args: &[&str], output: &Path) -> (bool, String) {
    let mut targets = Vec::new();
    for fstype in fstypes {
        // Deepest first, so that nested mounts go before their parents.
        let mut points = snoopcap::record::cgroup::mount_points(fstype);
        points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        targets.extend(
            points
                .into_iter()
                .map(|p| CString::new(p.as_os_str().as_bytes()).expect("no NUL")),
        );
    }
    let mut command = Command::new(RECORD);
    command.arg("-o").arg(output).args(args);
    // SAFETY: unshare, mount and umount2 are async-signal-safe; the strings
    // were made before the fork.
    unsafe {
        command.pre_exec(move || {
            if libc::unshare(libc::CLONE_NEWNS) != 0
                || libc::mount(
                    c"none".as_ptr(),
                    c"/".as_ptr(),
                    std::ptr::null(),
                    libc::MS_REC | libc::MS_PRIVATE,
                    std::ptr::null(),
                ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            for target in &targets {
                libc::umount2(target.as_ptr(), libc::MNT_DETACH);
            }
            Ok(())
        });
    }
    let out = command.output().expect("run record");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A failed record: one line on stderr that contains each of `expected`,
/// and no capture left behind.
fn assert_refused(result: (bool, String), output: &Path, expected: &[&str]) {
    let (ok, stderr) = result;
    assert!(!ok, "record should have failed");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    for text in expected {
        assert!(stderr.contains(text), "{text:?} not in: {stderr}");
    }
    assert!(
        !output.exists(),
        "a failed record left {}",
        output.display()
    );
}

fn record_fails(args: &[&str], output: &Path) -> (bool, String) {
    let out = Command::new(RECORD)
        .arg("-o")
        .arg(output)
        .args(args)
        .output()
        .expect("run record");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn unusable_maps_and_directories_are_clear_errors_that_say_what_to_mount() {
    if !require_root("unusable_maps_and_directories_are_clear_errors_that_say_what_to_mount") {
        return;
    }
    let _lock = bpf_lock();
    let dir = tempfile::tempdir().expect("tempdir");
    let output = dir.path().join("never.snoop");
    let cg = TestCgroup::create("err", &[]);
    let cg_dir = cg.dir("");
    let cg_dir = cg_dir.to_str().expect("UTF-8");

    // Pinned objects of the wrong kind.
    let array = PinnedMap::create("array", "array", 4, 8, 4);
    let result = record_fails(&["--cgroupmap", array.path()], &output);
    assert_refused(
        result,
        &output,
        &[array.path(), "expected a hash map", "bpftool map create"],
    );
    let short_keys = PinnedMap::create("key4", "hash", 4, 4, 4);
    let result = record_fails(&["--mntnsmap", short_keys.path()], &output);
    assert_refused(
        result,
        &output,
        &["mount namespace map", "4-byte keys", "8-byte"],
    );
    let missing = format!("/sys/fs/bpf/{}", unique("missing"));
    let result = record_fails(&["--cgroupmap", &missing], &output);
    assert_refused(
        result,
        &output,
        &["no such pinned map", "bpftool map create"],
    );
    let not_bpffs = dir.path().join("plain-file");
    fs::write(&not_bpffs, b"x").expect("write");
    let result = record_fails(
        &["--cgroupmap", not_bpffs.to_str().expect("UTF-8")],
        &output,
    );
    assert_refused(
        result,
        &output,
        &["not on a bpf filesystem", "mount -t bpf bpf /sys/fs/bpf"],
    );

    // --cgroup on something that is not cgroup v2.
    let tmp = dir.path().to_str().expect("UTF-8");
    let mount = cgroup2_mount();
    let result = record_fails(&["--cgroup", tmp], &output);
    let where_v2 = format!("cgroup v2 is mounted at {}", mount.display());
    assert_refused(
        result,
        &output,
        &["not on a cgroup v2 filesystem", &where_v2],
    );
    if let Some(v1) = snoopcap::record::cgroup::mount_points("cgroup").first() {
        let result = record_fails(&["--cgroup", v1.to_str().expect("UTF-8")], &output);
        assert_refused(result, &output, &["cgroup v1 hierarchy", &where_v2]);
    }

    // Nothing mounted: bpffs and cgroup v2 detached in a private namespace.
    let result = record_without(&["bpf"], &["--cgroupmap", "/sys/fs/bpf/sc_map"], &output);
    assert_refused(
        result,
        &output,
        &[
            "no bpf filesystem is mounted",
            "mount -t bpf bpf /sys/fs/bpf",
        ],
    );
    let result = record_without(&["cgroup2"], &["--cgroup", cg_dir], &output);
    assert_refused(
        result,
        &output,
        &["cgroup v2 is not mounted", "mount -t cgroup2"],
    );
}
