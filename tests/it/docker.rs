//! A real container: the test starts a Docker engine of its own (its own
//! data root and socket, the cgroupfs driver), imports a one-binary image
//! from the machine's static busybox, runs a container in it under
//! `record`, and checks what the capture says of it: the container id and
//! runtime replay derives from the cgroup path, `--container`, and the name
//! and image `record` asked the engine for. scripts/install-deps installs
//! the engine (Debian's docker.io) and busybox-static; under CI=true a
//! missing engine is a failure, not a skip.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{bpf_lock, json_lines, replay, require_root, Recording};

const DOCKERD: &str = "/usr/sbin/dockerd";
const BUSYBOX: &str = "/bin/busybox";
const IMAGE: &str = "snoopcap-it:busybox";

/// Whether the engine and busybox are installed; under CI=true they must be.
fn engine_installed(test: &str) -> bool {
    let missing: Vec<&str> = [DOCKERD, BUSYBOX]
        .into_iter()
        .filter(|p| !Path::new(p).exists())
        .collect();
    missing.is_empty()
        || crate::common::skip(
            test,
            &format!("{missing:?} missing (docker.io, busybox-static)"),
        )
}

/// A Docker engine of the test's own, stopped and removed on drop.
struct Engine {
    dockerd: Child,
    dir: tempfile::TempDir,
}

impl Engine {
    fn start() -> Engine {
        // Short: the engine's sockets live below it (108-byte limit).
        let dir = tempfile::Builder::new()
            .prefix("sc-docker-")
            .tempdir_in("/tmp")
            .expect("tempdir");
        let log = fs::File::create(dir.path().join("dockerd.log")).expect("log");
        let d = dir.path();
        let dockerd = Command::new(DOCKERD)
            .arg("--data-root")
            .arg(d.join("data"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("--pidfile")
            .arg(d.join("dockerd.pid"))
            .arg("--host")
            .arg(format!("unix://{}", d.join("docker.sock").display()))
            .args([
                "--iptables=false",
                "--ip-masq=false",
                "--bridge=none",
                "--storage-driver=vfs",
                "--exec-opt",
                "native.cgroupdriver=cgroupfs",
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn dockerd");
        let engine = Engine { dockerd, dir };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !engine.docker(&["info"]).status.success() {
            assert!(
                Instant::now() < deadline,
                "dockerd did not come up: {}",
                engine.log()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
        engine
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("docker.sock")
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("dockerd.log")).unwrap_or_default()
    }

    fn docker_command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("docker");
        cmd.arg("-H")
            .arg(format!("unix://{}", self.socket().display()))
            .args(args);
        cmd
    }

    fn docker(&self, args: &[&str]) -> std::process::Output {
        self.docker_command(args).output().expect("run docker")
    }

    /// Imports a root file system of busybox alone as [`IMAGE`].
    fn import_busybox(&self) {
        let root = self.dir.path().join("rootfs");
        fs::create_dir_all(root.join("bin")).expect("mkdir");
        fs::copy(BUSYBOX, root.join("bin/busybox")).expect("copy busybox");
        for applet in ["sh", "echo", "sleep"] {
            std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).expect("symlink");
        }
        let mut tar = Command::new("tar")
            .arg("-C")
            .arg(&root)
            .args(["-c", "."])
            .stdout(Stdio::piped())
            .spawn()
            .expect("run tar");
        let out = self
            .docker_command(&["import", "-", IMAGE])
            .stdin(tar.stdout.take().expect("tar stdout"))
            .output()
            .expect("run docker import");
        assert!(tar.wait().expect("wait tar").success(), "tar of the root");
        assert!(
            out.status.success(),
            "docker import: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        // SAFETY: kill with a valid pid and signal.
        unsafe { libc::kill(self.dockerd.id() as i32, libc::SIGTERM) };
        let _ = self.dockerd.wait();
    }
}

#[test]
fn a_real_docker_container_is_identified_and_named() {
    let test = "a_real_docker_container_is_identified_and_named";
    if !require_root(test) || !engine_installed(test) {
        return;
    }
    let _lock = bpf_lock();
    let engine = Engine::start();
    engine.import_busybox();
    // The cgroupfs driver puts each container in /docker/ID of every
    // hierarchy, the unified one included: record only that subtree.
    let parent = snoopcap::record::cgroup::cgroup2_mount()
        .expect("cgroup v2 mount")
        .join("docker");
    fs::create_dir_all(&parent).expect("mkdir the docker cgroup");
    let capture = engine.dir.path().join("cap.snoop");
    let socket = engine.socket();
    let recording = Recording::start(
        &capture,
        &[
            "--cgroup",
            parent.to_str().expect("utf-8"),
            "--docker-socket",
            socket.to_str().expect("utf-8"),
        ],
    );
    let name = format!("snoopcap-it-{}", std::process::id());
    let cidfile = engine.dir.path().join("cid");
    // It lives 2 s: long enough for record's lookup, which asks the engine
    // when it first sees the container's cgroup.
    let run = engine.docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--name",
        &name,
        "--cidfile",
        cidfile.to_str().expect("utf-8"),
        IMAGE,
        "/bin/sh",
        "-c",
        "echo snoopcap-in-a-container; sleep 2",
    ]);
    let (ok, err) = recording.stop();
    assert!(
        run.status.success(),
        "docker run: {}\n{}",
        String::from_utf8_lossy(&run.stderr),
        engine.log()
    );
    assert!(ok, "record: {err}");
    let id = fs::read_to_string(&cidfile).expect("cidfile");
    let id = id.trim();
    assert_eq!(id.len(), 64, "{id}");

    // Every event of the container's processes names it.
    let capture_arg = capture.to_str().expect("utf-8");
    let events = json_lines(&["--format", "json", capture_arg]);
    let cgroup = format!("/docker/{id}");
    let mine: Vec<&Value> = events
        .iter()
        .filter(|e| e["cgroup_path"] == cgroup)
        .collect();
    let execs: Vec<&Value> = mine
        .iter()
        .copied()
        .filter(|e| e["event"] == "exec")
        .collect();
    assert!(
        execs
            .iter()
            .any(|e| e["args"].to_string().contains("snoopcap-in-a-container")),
        "the container's sh -c: {execs:?}"
    );
    for e in &mine {
        assert_eq!(e["container_id"], id, "{e}");
        assert_eq!(e["runtime"], "docker", "{e}");
    }

    // --container with a 12-character prefix, as `docker ps` shows it.
    let selected = json_lines(&["--format", "json", "--container", &id[..12], capture_arg]);
    assert_eq!(selected.len(), mine.len(), "--container selects its events");
    assert!(selected.iter().all(|e| e["container_id"] == id));

    // The engine's name and image for it, stored once.
    let (code, out, err) = replay(&["--info", "--format", "json", capture_arg]);
    assert_eq!(code, 0, "{err}");
    let info: Value = serde_json::from_str(&out).expect("--info JSON");
    let named: Vec<&Value> = info["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .filter(|c| c["id"] == id)
        .collect();
    assert_eq!(named.len(), 1, "{}", info["containers"]);
    assert_eq!(named[0]["engine"], "docker");
    assert_eq!(named[0]["name"], name.as_str());
    assert_eq!(named[0]["image"], IMAGE);
}
