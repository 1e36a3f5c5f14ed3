//! Captures made safe to attach to a bug report, end to end as root:
//! `replay -w` with every filter replays as the filtered original (JSON,
//! byte for byte) and leaves out what would tell what was filtered out;
//! `--redact-default` on `replay -w` and on `record` leaves no secret
//! anywhere in the file (every frame decompressed and searched, the header
//! too); container ids, runtimes and pods derived from real cgroup
//! directories named as each runtime names them.
//!
//! No container runtime can run on the test machine (no Docker engine, no
//! containerd, CRI-O, podman or systemd-nspawn), so the cgroups are made by
//! the test with the runtimes' names and processes are moved into them by
//! hand: the cgroup path record stores is the same as under the runtime.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;
use snoopcap::format::{CaptureReader, FrameHeader, FRAME_HEADER_LEN};

use crate::common::{
    bpf_lock, cgroup2_root, json_lines, python, read_capture, replay, require_root, stdout_of,
    workload, Recording,
};

/// The header body and every frame's payload, decompressed: all the bytes a
/// capture holds, whatever envelope they are in.
fn decompressed(path: &Path) -> Vec<u8> {
    let all = fs::read(path).expect("read capture");
    let body_len = u32::from_le_bytes(all[12..16].try_into().unwrap()) as usize;
    let mut out = all[16..16 + body_len].to_vec();
    let mut at = 16 + body_len + 4;
    let mut frames = 0;
    while at < all.len() {
        let head: [u8; FRAME_HEADER_LEN] = all[at..at + FRAME_HEADER_LEN].try_into().unwrap();
        let frame = FrameHeader::parse(&head).expect("a valid frame header");
        let start = at + FRAME_HEADER_LEN;
        let payload = &all[start..start + frame.compressed_len as usize];
        out.extend(zstd::decode_all(payload).expect("a zstd frame"));
        at = start + frame.compressed_len as usize;
        frames += 1;
    }
    assert!(
        frames >= 2,
        "{}: at least one data frame and the trailer",
        path.display()
    );
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Every reader check a capture must pass: replay and `replay --strict`
/// exit 0 without a word on stderr; the reader finds no damage, a trailer
/// whose frame and record counts are what it read; every record decodes and
/// every event pairs (read_capture panics on any warning).
fn assert_clean(path: &Path) {
    let p = path.to_str().unwrap();
    for args in [vec!["--format", "json", p], vec!["--strict", "-x", p]] {
        let (code, _, stderr) = replay(&args);
        assert_eq!((code, stderr.as_str()), (0, ""), "replay {args:?}");
    }
    let mut reader = CaptureReader::new(fs::File::open(path).unwrap()).expect("header");
    let mut kernel = 0u64;
    while let Some(record) = reader.next_record().expect("no damage") {
        if matches!(record, snoopcap::format::Record::Kernel(_)) {
            kernel += 1;
        }
    }
    assert!(reader.damage().is_empty(), "{:?}", reader.damage());
    let trailer = reader.trailer().expect("a trailer").clone();
    assert_eq!(trailer.records, kernel);
    assert_eq!(trailer.frames, reader.stats().data_frames);
    assert_eq!(
        trailer.records_by_kind.iter().map(|k| k.count).sum::<u64>(),
        kernel
    );
    let replayed = read_capture(path);
    assert_eq!(replayed.stats.orphan_exits, 0);
    assert_eq!(replayed.stats.incomplete_entries, 0);
}

/// A cgroup directory tree of our own under the cgroup2 mount, removed
/// (deepest first) on drop.
struct CgroupTree {
    root: PathBuf,
    dirs: Vec<PathBuf>,
}

impl CgroupTree {
    fn new(tag: &str) -> CgroupTree {
        let root = cgroup2_root().join(format!("snoopcap-{tag}-{}", std::process::id()));
        fs::create_dir_all(&root).expect("mkdir the cgroup");
        CgroupTree {
            dirs: vec![root.clone()],
            root,
        }
    }

    /// Makes `relative` (and its parents) under the root; returns its path.
    fn add(&mut self, relative: &str) -> PathBuf {
        let mut at = self.root.clone();
        for part in relative.split('/') {
            at.push(part);
            if !at.exists() {
                fs::create_dir(&at).unwrap_or_else(|e| panic!("mkdir {}: {e}", at.display()));
                self.dirs.push(at.clone());
            }
        }
        at
    }

    /// The path record stores for a directory (relative to the mount).
    fn cgroup_path(&self, dir: &Path) -> String {
        format!("/{}", dir.strip_prefix(cgroup2_root()).unwrap().display())
    }
}

impl Drop for CgroupTree {
    fn drop(&mut self) {
        for dir in self.dirs.iter().rev() {
            for _ in 0..50 {
                if fs::remove_dir(dir).is_ok() || !dir.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
    }
}

/// Runs `sh -c SCRIPT` with the shell moved into `cgroup` first, so that
/// everything it runs is in that cgroup; waits for it.
fn run_in(cgroup: &Path, script: &str, envs: &[(&str, &str)]) {
    let full = format!("echo $$ > '{}/cgroup.procs' && {script}", cgroup.display());
    let status = Command::new("sh")
        .arg("-c")
        .arg(full)
        .envs(envs.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run sh");
    // The commands may fail (no server, an option tmpfs refuses): only their calls matter.
    let _ = status;
}

const SECRETS: [&str; 7] = [
    "hunter2",
    "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY",
    "tmpfsPass42",
    "fsconfigSecret77",
    "eyTokenABCDEF123456",
    "urlPass99",
    "AKIAIOSFODNN7EXAMPLE",
];

/// Calls whose strings carry [`SECRETS`]: argv of `sh -c` lines, an
/// environment assignment in one, mount data of `mount -o` in a private
/// mount namespace, an fsconfig value (the workload's), a bearer token, a
/// URL with credentials and an AWS access key id.
fn run_secret_workload(cgroup: &Path, scratch: &Path) {
    let target = scratch.join("mnt");
    fs::create_dir_all(&target).unwrap();
    let scripts = [
        "sh -c 'curl --password=hunter2 http://127.0.0.1:9/ ; true'".to_string(),
        "sh -c 'AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY true'".to_string(),
        format!(
            "unshare -m sh -c 'mount -t tmpfs -o size=1m,password=tmpfsPass42 none {}; true'",
            target.display()
        ),
        "sh -c \"/bin/true -H 'Authorization: Bearer eyTokenABCDEF123456'\"".to_string(),
        "/bin/true https://bob:urlPass99@127.0.0.1/repo.git AKIAIOSFODNN7EXAMPLE".to_string(),
        format!("{} secret-mounts", workload().display()),
    ];
    for script in scripts {
        run_in(cgroup, &script, &[("WORKLOAD_SECRET", "fsconfigSecret77")]);
    }
}

#[test]
fn rewrite_with_redact_default_leaves_no_secret_in_any_frame() {
    if !require_root("rewrite_with_redact_default_leaves_no_secret_in_any_frame") {
        return;
    }
    let _bpf = bpf_lock();
    let dir = tempfile::tempdir().unwrap();
    let mut tree = CgroupTree::new("redact");
    let cgroup = tree.add("work");
    let original = dir.path().join("secrets.snoop");
    let recording = Recording::start(&original, &["--cgroup", tree.root.to_str().unwrap()]);
    run_secret_workload(&cgroup, dir.path());
    let (ok, stderr) = recording.stop();
    assert!(ok, "record: {stderr}");

    // The test can fail: the original holds every secret.
    let raw = decompressed(&original);
    for secret in SECRETS {
        assert!(
            contains(&raw, secret),
            "the original capture lacks {secret}"
        );
    }
    let scrubbed = dir.path().join("scrubbed.snoop");
    let (code, _, stderr) = replay(&[
        "--redact-default",
        "-w",
        scrubbed.to_str().unwrap(),
        original.to_str().unwrap(),
    ]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    let bytes = decompressed(&scrubbed);
    for secret in SECRETS {
        assert!(
            !contains(&bytes, secret),
            "{secret} is still in the rewrite"
        );
    }
    assert_clean(&scrubbed);

    // Same events, same fields, the secrets replaced by the marker.
    let before = json_lines(&["--format", "json", original.to_str().unwrap()]);
    let after = json_lines(&["--format", "json", scrubbed.to_str().unwrap()]);
    assert_eq!(before.len(), after.len());
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b["ts_ns"], a["ts_ns"]);
        assert_eq!(b["proc_id"], a["proc_id"]);
    }
    let fsconfig = after
        .iter()
        .find(|e| e["event"] == "fsconfig" && e["key"] == "password")
        .expect("the workload's fsconfig");
    assert_eq!(fsconfig["value"], "[REDACTED]");
    let mount = after
        .iter()
        .find(|e| {
            e["event"] == "mount"
                && e["fstype"] == "tmpfs"
                && e["data"].as_str().is_some_and(|d| d.starts_with("size=1m"))
        })
        .expect("mount -o");
    assert_eq!(mount["data"], "size=1m,password=[REDACTED]");
    let curl = after
        .iter()
        .find(|e| {
            e["event"] == "exec"
                && e["args"][0] == "sh"
                && e["args"][2].as_str().is_some_and(|a| a.contains("curl"))
        })
        .expect("sh -c curl");
    assert_eq!(
        curl["args"][2],
        "curl --password=[REDACTED] http://127.0.0.1:9/ ; true"
    );
    assert_eq!(curl["args_truncated"], false);

    // --info says what was done.
    let info = json_lines(&["--info", "--format", "json", scrubbed.to_str().unwrap()]);
    let provenance = &info[0]["provenance"];
    assert_eq!(
        provenance["rewrites"][0]["source"],
        original.to_str().unwrap()
    );
    assert_eq!(provenance["redactions"][0]["stage"], "rewrite");
    let replaced = info[0]["redaction_counts"][0]["replacements"]
        .as_u64()
        .unwrap();
    assert!(replaced >= SECRETS.len() as u64, "{replaced}");
    let (_, text, _) = replay(&["--info", scrubbed.to_str().unwrap()]);
    assert!(text.contains("redacted:        at rewrite"), "{text}");
    assert!(text.contains(&format!("{replaced} replacements")), "{text}");
}

#[test]
fn record_redact_default_never_writes_the_secret() {
    if !require_root("record_redact_default_never_writes_the_secret") {
        return;
    }
    let _bpf = bpf_lock();
    let dir = tempfile::tempdir().unwrap();
    let mut tree = CgroupTree::new("record-redact");
    let cgroup = tree.add("work");
    let capture = dir.path().join("redacted.snoop");
    let recording = Recording::start(
        &capture,
        &[
            "--cgroup",
            tree.root.to_str().unwrap(),
            "--redact-default",
            "--redact",
            "cl(ea)nup",
        ],
    );
    run_secret_workload(&cgroup, dir.path());
    run_in(&cgroup, "/bin/true keep-this-and-cleanup-that", &[]);
    let (ok, stderr) = recording.stop();
    assert!(ok, "record: {stderr}");
    let bytes = decompressed(&capture);
    for secret in SECRETS {
        assert!(!contains(&bytes, secret), "record wrote {secret}");
    }
    assert_clean(&capture);
    let events = json_lines(&["--format", "json", capture.to_str().unwrap()]);
    let marked = events
        .iter()
        .find(|e| {
            e["args"][1]
                .as_str()
                .is_some_and(|a| a.starts_with("keep-this"))
        })
        .expect("the marker exec");
    // A --redact rule with a group replaces only the group.
    assert_eq!(
        marked["args"][1],
        "keep-this-and-cleanup-that".replace("ea", "[REDACTED]")
    );
    let fsconfig = events
        .iter()
        .find(|e| e["event"] == "fsconfig" && e["key"] == "password")
        .expect("the workload's fsconfig");
    assert_eq!(fsconfig["value"], "[REDACTED]");
    let info = json_lines(&["--info", "--format", "json", capture.to_str().unwrap()]);
    assert_eq!(info[0]["provenance"]["redactions"][0]["stage"], "record");
    assert!(
        info[0]["redaction_counts"][0]["replacements"]
            .as_u64()
            .unwrap()
            >= SECRETS.len() as u64
    );
}

const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// (cgroup directory under the test's root, marker, container_id, runtime, pod_uid, pod_qos).
type RuntimeCase = (
    String,
    &'static str,
    Option<String>,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
);

fn runtime_cgroups() -> Vec<RuntimeCase> {
    let id = |c: char| format!("{c}{}", &HEX[1..]);
    let uid = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
    let uid_ = "0f1e2d3c_4b5a_6978_8796_a5b4c3d2e1f0";
    vec![
        (format!("system.slice/docker-{}.scope", id('a')), "m-docker", Some(id('a')), Some("docker"), None, None),
        (format!("docker/{}", id('b')), "m-docker-cgroupfs", Some(id('b')), Some("docker"), None, None),
        (format!("system.slice/cri-containerd-{}.scope", id('c')), "m-containerd", Some(id('c')), Some("containerd"), None, None),
        (format!("system.slice/crio-{}.scope", id('d')), "m-crio", Some(id('d')), Some("cri-o"), None, None),
        (format!("machine.slice/libpod-{}.scope", id('e')), "m-podman", Some(id('e')), Some("podman"), None, None),
        ("machine.slice/machine-web\\x2d1.scope".to_string(), "m-nspawn", Some("web-1".to_string()), Some("systemd-nspawn"), None, None),
        (
            format!("kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{uid_}.slice/cri-containerd-{}.scope", id('f')),
            "m-k8s-systemd", Some(id('f')), Some("containerd"), Some(uid), Some("BestEffort"),
        ),
        (format!("kubepods/burstable/pod{uid}/{}", id('9')), "m-k8s-cgroupfs", Some(id('9')), Some("cri"), Some(uid), Some("Burstable")),
        ("plain.slice/app.service".to_string(), "m-none", None, None, None, None),
    ]
}

/// Parquet's process-identity and container columns, row for row, are
/// JSON's `events` of the capture at `path` (read back with pyarrow).
fn assert_parquet_actor_columns_match(events: &[Value], path: &str, parquet: &Path) {
    let (code, _, stderr) = replay(&["--format", "parquet", "-o", parquet.to_str().unwrap(), path]);
    assert_eq!(code, 0, "{stderr}");
    let columns = [
        "proc_id",
        "parent_proc_id",
        "container_id",
        "runtime",
        "pod_uid",
        "pod_qos",
    ];
    let script = "import sys, json, pyarrow.parquet as pq\n\
                  print(json.dumps(pq.read_table(sys.argv[1], columns=sys.argv[2:]).to_pylist()))";
    let out = stdout_of(
        Command::new(python())
            .arg("-c")
            .arg(script)
            .arg(parquet)
            .args(columns),
        "pyarrow reads the Parquet file",
    );
    let rows: Vec<Value> = serde_json::from_slice(&out).expect("rows as JSON");
    assert_eq!(rows.len(), events.len());
    for (row, event) in rows.iter().zip(events) {
        for column in columns {
            assert_eq!(row[column], event[column], "{column}: {event}");
        }
    }
    assert!(
        rows.iter().any(|row| !row["container_id"].is_null()),
        "some event is in a container"
    );
}

#[test]
fn container_identity_and_filtered_rewrites_on_real_cgroup_directories() {
    if !require_root("container_identity_and_filtered_rewrites_on_real_cgroup_directories") {
        return;
    }
    let _bpf = bpf_lock();
    let dir = tempfile::tempdir().unwrap();
    let mut tree = CgroupTree::new("runtimes");
    let work = tree.add("work");
    let cases = runtime_cgroups();
    let dirs: Vec<PathBuf> = cases.iter().map(|c| tree.add(&c.0)).collect();
    let capture = dir.path().join("runtimes.snoop");
    let recording = Recording::start(&capture, &["--cgroup", tree.root.to_str().unwrap()]);
    for ((_, marker, ..), cgroup) in cases.iter().zip(&dirs) {
        run_in(
            cgroup,
            &format!("/bin/true {marker}; /bin/false {marker}-fails"),
            &[],
        );
    }
    // Mount-family calls and execs of every kind, failed ones too.
    run_in(&work, &format!("{} all", workload().display()), &[]);
    // An exec as uid 65534, for --uid.
    run_in(&work, &format!("{} uid-exec", workload().display()), &[]);
    let (ok, stderr) = recording.stop();
    assert!(ok, "record: {stderr}");
    let path = capture.to_str().unwrap();

    // Container identity, as JSON and CSV show it.
    let events = json_lines(&["--format", "json", path]);
    for ((relative, marker, id, runtime, uid, qos), cgroup) in cases.iter().zip(&dirs) {
        let event = events
            .iter()
            .find(|e| e["event"] == "exec" && e["args"][1] == *marker)
            .unwrap_or_else(|| panic!("no exec of {marker}"));
        assert_eq!(event["cgroup_path"], tree.cgroup_path(cgroup), "{relative}");
        let text = |v: &Option<&str>| v.map_or(Value::Null, Value::from);
        assert_eq!(
            event["container_id"],
            id.as_deref().map_or(Value::Null, Value::from),
            "{relative}"
        );
        assert_eq!(event["runtime"], text(runtime), "{relative}");
        assert_eq!(event["pod_uid"], text(uid), "{relative}");
        assert_eq!(event["pod_qos"], text(qos), "{relative}");
    }
    assert_parquet_actor_columns_match(&events, path, &dir.path().join("runtimes.parquet"));
    let (code, csv, _) = replay(&["--format", "csv", path]);
    assert_eq!(code, 0);
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    assert_eq!(
        &header[header.len() - 4..],
        ["container_id", "runtime", "pod_uid", "pod_qos"]
    );
    assert!(csv
        .lines()
        .any(|l| l.contains("m-crio") && l.contains(&format!(",d{},cri-o,,", &HEX[1..]))));

    // --container selects one container's events by an id prefix.
    let crio_prefix = format!("d{}", &HEX[1..12]);
    let selected = json_lines(&["--format", "json", "--container", &crio_prefix, path]);
    let markers: BTreeSet<String> = selected
        .iter()
        .filter_map(|e| e["args"][1].as_str().map(String::from))
        .collect();
    assert_eq!(
        markers,
        BTreeSet::from(["m-crio".to_string(), "m-crio-fails".to_string()])
    );

    // Each filter: the rewrite replays exactly as the filtered original.
    let some_true = events.iter().find(|e| e["args"][1] == "m-docker").unwrap();
    let pid = some_true["pid"].to_string();
    let workload_pid = events
        .iter()
        .find(|e| e["event"] == "exec" && e["args"][1] == "all")
        .map(|e| e["pid"].to_string())
        .expect("the workload's exec");
    let first = events[0]["time"].as_str().unwrap().to_string();
    let last = events[events.len() - 1]["time"]
        .as_str()
        .unwrap()
        .to_string();
    let mid = events[events.len() / 2]["time"]
        .as_str()
        .unwrap()
        .to_string();
    let filters: Vec<Vec<String>> = vec![
        vec!["--pid".into(), pid],
        vec!["--uid".into(), "0".into()],
        vec!["--comm".into(), "^false$".into()],
        vec!["--cgroup-path".into(), "kubepods".into()],
        vec!["--since".into(), mid.clone()],
        vec!["--until".into(), mid],
        vec!["--events".into(), "mount".into()],
        vec!["--descendants-of".into(), workload_pid],
        vec!["--failed-only".into()],
        vec!["--container".into(), crio_prefix.clone()],
        vec![
            "--since".into(),
            first,
            "--until".into(),
            last,
            "--comm".into(),
            "true".into(),
        ],
    ];
    let total = events.len();
    for filter in &filters {
        let out = dir.path().join("filtered.snoop");
        let mut args: Vec<&str> = filter.iter().map(String::as_str).collect();
        args.extend(["-w", out.to_str().unwrap(), path]);
        let (code, _, stderr) = replay(&args);
        assert_eq!(code, 0, "{filter:?}: {stderr}");
        let mut expected_args: Vec<&str> = vec!["--format", "json"];
        expected_args.extend(filter.iter().map(String::as_str));
        expected_args.push(path);
        let (_, expected, _) = replay(&expected_args);
        let (code, got, stderr) = replay(&["--format", "json", out.to_str().unwrap()]);
        assert_eq!((code, stderr.as_str()), (0, ""), "{filter:?}");
        let n = expected.lines().count();
        assert!(n > 0 && n < total, "{filter:?} selects {n} of {total}");
        assert_eq!(got, expected, "{filter:?}");
        assert_clean(&out);
    }

    // What was filtered out leaves no trace: the other containers' cgroup
    // paths and ids are not in the bytes of a rewrite of one container.
    let out = dir.path().join("crio-only.snoop");
    let (code, _, _) = replay(&[
        "--container",
        &crio_prefix,
        "-w",
        out.to_str().unwrap(),
        path,
    ]);
    assert_eq!(code, 0);
    let bytes = decompressed(&out);
    assert!(contains(&bytes, &tree.cgroup_path(&dirs[3])));
    for (index, cgroup) in dirs.iter().enumerate().filter(|&(i, _)| i != 3) {
        let other = tree.cgroup_path(cgroup);
        assert!(!contains(&bytes, &other), "{other} is in the rewrite");
        assert!(
            !contains(&bytes, cases[index].1),
            "{} is in the rewrite",
            cases[index].1
        );
    }
    assert!(contains(
        &decompressed(&capture),
        &tree.cgroup_path(&dirs[0])
    ));
}

/// A stand-in for the Docker Engine on a unix socket: answers one request
/// with the recorded inspect answer (testdata/docker/container-inspect.json)
/// and returns the request line. There is no Docker engine on the test
/// machine; the answer is the API's, the socket and HTTP exchange are real.
fn fake_docker_engine(socket: &Path) -> std::thread::JoinHandle<String> {
    use std::io::{Read, Write};
    let listener = std::os::unix::net::UnixListener::bind(socket).expect("bind the socket");
    let body =
        fs::read_to_string(crate::common::repo().join("testdata/docker/container-inspect.json"))
            .expect("sample answer");
    std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("record connects");
        let mut request = Vec::new();
        let mut byte = [0u8; 1];
        while !request.ends_with(b"\r\n\r\n") && conn.read(&mut byte).unwrap_or(0) == 1 {
            request.push(byte[0]);
        }
        let answer = format!(
            "HTTP/1.0 200 OK\r\nApi-Version: 1.43\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        conn.write_all(answer.as_bytes()).expect("answer");
        String::from_utf8_lossy(&request)
            .lines()
            .next()
            .unwrap_or("")
            .to_string()
    })
}

#[test]
fn record_stores_a_docker_containers_name_and_image_once() {
    if !require_root("record_stores_a_docker_containers_name_and_image_once") {
        return;
    }
    let _bpf = bpf_lock();
    const ID: &str = "4f66ad9a0b2e6b1c8f3a5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5c7b";
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("docker.sock");
    let engine = fake_docker_engine(&socket);
    let mut tree = CgroupTree::new("docker");
    let container = tree.add(&format!("system.slice/docker-{ID}.scope"));
    let capture = dir.path().join("docker.snoop");
    let recording = Recording::start(
        &capture,
        &[
            "--cgroup",
            tree.root.to_str().unwrap(),
            "--docker-socket",
            socket.to_str().unwrap(),
        ],
    );
    for _ in 0..3 {
        run_in(&container, "/bin/true in-the-container", &[]);
    }
    let (ok, stderr) = recording.stop();
    assert!(ok, "record: {stderr}");
    assert_eq!(
        engine.join().unwrap(),
        format!("GET /containers/{ID}/json HTTP/1.0")
    );
    let info = json_lines(&["--info", "--format", "json", capture.to_str().unwrap()]);
    let containers = info[0]["containers"].as_array().expect("containers");
    assert_eq!(containers.len(), 1, "{containers:?}");
    let c = &containers[0];
    assert_eq!(
        (c["id"].as_str(), c["name"].as_str(), c["image"].as_str()),
        (Some(ID), Some("web-frontend"), Some("nginx:1.25-alpine"))
    );
    use std::os::unix::fs::MetadataExt;
    assert_eq!(c["cgroup_id"], fs::metadata(&container).unwrap().ino());
    let (_, text, _) = replay(&["--info", capture.to_str().unwrap()]);
    assert!(
        text.contains(&format!(
            "container:       docker {ID} name web-frontend image nginx:1.25-alpine"
        )),
        "{text}"
    );
    assert_clean(&capture);
}

/// Files in `dir` whose name starts with `prefix`, sorted by name.
fn files_named(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        })
        .collect();
    files.sort();
    files
}

#[test]
fn record_redact_scrubs_every_file_of_a_set_and_every_dump() {
    if !require_root("record_redact_scrubs_every_file_of_a_set_and_every_dump") {
        return;
    }
    let _bpf = bpf_lock();
    let dir = tempfile::tempdir().unwrap();
    let mut tree = CgroupTree::new("record-redact-sets");
    let cgroup = tree.add("work");
    let root = tree.root.to_str().unwrap().to_string();

    // A rotated set: every file's header has its segment and the pass.
    let pattern = dir.path().join("rot.snoop");
    let recording = Recording::start(
        &pattern,
        &["-G", "1", "--cgroup", &root, "--redact-default"],
    );
    run_secret_workload(&cgroup, dir.path());
    std::thread::sleep(std::time::Duration::from_millis(1500));
    run_in(&cgroup, "/bin/true --password=hunter2 second-file", &[]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (ok, stderr) = recording.stop();
    assert!(ok, "record: {stderr}");
    let files = files_named(dir.path(), "rot.snoop.");
    assert!(files.len() >= 2, "{files:?}");
    for (i, file) in files.iter().enumerate() {
        let bytes = decompressed(file);
        for secret in SECRETS {
            assert!(!contains(&bytes, secret), "{}: {secret}", file.display());
        }
        let info = json_lines(&["--info", "--format", "json", file.to_str().unwrap()]);
        assert_eq!(info[0]["segment"]["sequence"], i as u64, "{}", info[0]);
        assert_eq!(info[0]["segment"]["kind"], "rotation");
        assert_eq!(info[0]["provenance"]["redactions"][0]["stage"], "record");
        assert!(info[0]["redaction_counts"][0]["replacements"].is_u64());
    }
    let last = json_lines(&[
        "--info",
        "--format",
        "json",
        files[files.len() - 1].to_str().unwrap(),
    ]);
    assert!(
        last[0]["redaction_counts"][0]["replacements"]
            .as_u64()
            .unwrap()
            >= SECRETS.len() as u64,
        "{}",
        last[0]
    );
    let mut all = vec!["--format", "json"];
    all.extend(files.iter().map(|f| f.to_str().unwrap()));
    let events = json_lines(&all);
    assert!(events
        .iter()
        .any(|e| e["args"]
            == serde_json::json!(["/bin/true", "--password=[REDACTED]", "second-file"])));
    // -w takes one file of the set, not the set.
    let out = dir.path().join("one.snoop");
    let mut set = vec!["-w", out.to_str().unwrap()];
    set.extend(files.iter().map(|f| f.to_str().unwrap()));
    let (code, _, stderr) = replay(&set);
    assert_eq!((code, stderr.lines().count()), (2, 1), "{stderr}");
    let first = files[0].to_str().unwrap();
    let (code, _, stderr) = replay(&["-w", out.to_str().unwrap(), first]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        json_lines(&["--format", "json", out.to_str().unwrap()]),
        json_lines(&["--format", "json", first])
    );
    let info = json_lines(&["--info", "--format", "json", out.to_str().unwrap()]);
    assert!(info[0].get("segment").is_none(), "{}", info[0]);
    assert_eq!(info[0]["provenance"]["redactions"][0]["stage"], "record");
    assert_eq!(info[0]["provenance"]["rewrites"][0]["source"], first);

    // A dump: its trigger (in its header) is scrubbed like the records.
    let pattern = dir.path().join("ring.snoop");
    let recording = Recording::start(
        &pattern,
        &[
            "--ring",
            "8M",
            "--after",
            "1s",
            "--trigger-exec",
            "snoopcap-dump-now",
            "--cgroup",
            &root,
            "--redact-default",
        ],
    );
    run_in(&cgroup, "/bin/true --password=hunter2 before", &[]);
    run_in(
        &cgroup,
        "/bin/true snoopcap-dump-now --password=hunter2",
        &[],
    );
    std::thread::sleep(std::time::Duration::from_millis(2000));
    let (ok, stderr) = recording.stop();
    assert!(ok, "record: {stderr}");
    let dumps = files_named(dir.path(), "ring.snoop.");
    assert_eq!(dumps.len(), 1, "{dumps:?}: {stderr}");
    let bytes = decompressed(&dumps[0]);
    assert!(!contains(&bytes, "hunter2"), "the dump holds the secret");
    assert_clean(&dumps[0]);
    let info = json_lines(&["--info", "--format", "json", dumps[0].to_str().unwrap()]);
    let trigger = info[0]["segment"]["trigger"].as_str().unwrap();
    assert!(
        trigger.contains("snoopcap-dump-now --password=[REDACTED]"),
        "{trigger}"
    );
    assert_eq!(info[0]["provenance"]["redactions"][0]["stage"], "record");
    assert!(
        info[0]["redaction_counts"][0]["replacements"]
            .as_u64()
            .unwrap()
            >= 2
    );
}
