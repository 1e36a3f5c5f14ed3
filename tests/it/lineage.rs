//! Process lifecycle end to end (root, real kernel): one recording of a
//! workload run in a cgroup of its own, checked in JSON and in `--tree`: a
//! 32-bit static program that execs (itself, then a 64-bit program), a
//! 64-bit exec of a 32-bit binary, a shell pipeline, a double fork whose
//! grandchild is reparented, a process killed by a signal, an exit code, a
//! thread that execs, and a process started before `record` (the snapshot).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

use crate::common::{self, replay, Recording, TempCgroup};

/// tests/exec32.c, built 32-bit and static (gcc-multilib).
fn exec32() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        common::build_c(
            "tests/exec32.c",
            "exec32",
            &["-m32", "-static", "-O2"],
            " (scripts/install-deps installs gcc-multilib)",
        )
    })
}

/// What the workload script prints: `NAME=PID` lines.
fn pids(stdout: &str) -> Vec<(String, u32)> {
    stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .filter_map(|(k, v)| Some((k.to_string(), v.trim().parse().ok()?)))
        .collect()
}

fn pid_of(pids: &[(String, u32)], name: &str) -> u32 {
    pids.iter()
        .find(|(k, _)| k == name)
        .map(|(_, p)| *p)
        .unwrap_or_else(|| panic!("the workload printed no {name}= line: {pids:?}"))
}

fn events(path: &Path, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["--format", "json"];
    args.extend_from_slice(extra);
    let path = path.to_str().expect("utf-8 path");
    args.push(path);
    let (code, out, err) = replay(&args);
    assert_eq!(code, 0, "replay: {err}");
    out.lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

fn of_kind<'a>(events: &'a [Value], kind: &str, pid: u32) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["event"] == kind && e["pid"] == pid)
        .collect()
}

fn args_of(event: &Value) -> Vec<String> {
    event["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| a.as_str().unwrap_or("?").to_string())
        .collect()
}

#[test]
fn lifecycle_and_every_exec_whatever_the_abi() {
    if !common::require_root("lifecycle_and_every_exec_whatever_the_abi") {
        return;
    }
    let _lock = common::bpf_lock();
    let exec32 = exec32().to_str().expect("utf-8").to_string();
    let workload = common::workload().to_str().expect("utf-8").to_string();
    let cgroup = TempCgroup::new("lineage");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("lineage.snoop");

    // Started before record, in the cgroup: only the snapshot knows it.
    let mut early = Command::new("/bin/sh")
        .arg("-c")
        .arg(r#"echo $$ > "$1/cgroup.procs" && exec sleep 29.5"#)
        .arg("sh")
        .arg(&cgroup.path)
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn the early process");
    std::thread::sleep(Duration::from_millis(200));

    let cg = cgroup.path.to_str().expect("utf-8 cgroup path");
    let recording = Recording::start(&path, &["--cgroup", cg]);
    let script = format!(
        r#"echo $$ > "{cg}/cgroup.procs"
echo shell=$$
"{exec32}" run "{exec32}" run /bin/true from-32-bit & echo exec32=$!; wait
echo pipeline | cat | wc -c >/dev/null
sh -c 'exit 3' & echo exit3=$!; wait
sh -c 'kill -9 $$' & echo killed=$!; wait
sh -c '(sleep 0.3; echo grandchild=$$ >/dev/null) & echo grandchild=$!' > "{out}"
sh -c 'echo x' >/dev/null & echo doublefork=$!; wait
"{workload}" thread-exec > /dev/null
"#,
        out = dir.path().join("gc").display()
    );
    let ran = common::stdout_of(
        Command::new("/bin/sh").arg("-c").arg(&script),
        "the workload script",
    );
    std::thread::sleep(Duration::from_millis(600)); // the grandchild's sleep
    let (ok, err) = recording.stop();
    assert!(ok, "record: {err}");
    let _ = early.kill();
    let _ = early.wait();

    let mut pids = pids(&String::from_utf8_lossy(&ran));
    pids.extend(self::pids(
        &fs::read_to_string(dir.path().join("gc")).unwrap_or_default(),
    ));
    let all = events(&path, &[]);
    let shell = pid_of(&pids, "shell");

    // 64-bit shell → 32-bit exec32 → exec32 (compat) → /bin/true (64-bit):
    // three execs of one process, each with its argv.
    let p32 = pid_of(&pids, "exec32");
    let execs: Vec<Vec<String>> = of_kind(&all, "exec", p32)
        .iter()
        .map(|e| args_of(e))
        .collect();
    assert_eq!(
        execs,
        vec![
            vec![
                exec32.clone(),
                "run".into(),
                exec32.clone(),
                "run".into(),
                "/bin/true".into(),
                "from-32-bit".into()
            ],
            vec![
                exec32.clone(),
                "run".into(),
                "/bin/true".into(),
                "from-32-bit".into()
            ],
            vec!["/bin/true".to_string(), "from-32-bit".into()],
        ],
        "every exec of {p32}: {all:#?}"
    );
    for exec in of_kind(&all, "exec", p32) {
        assert_eq!(exec["ret"], 0);
    }

    // Exit code and signal.
    let exit3 = of_kind(&all, "exit", pid_of(&pids, "exit3"));
    assert_eq!(exit3.len(), 1, "{all:#?}");
    assert_eq!(exit3[0]["exit_code"], 3);
    assert_eq!(exit3[0]["signal"], Value::Null);
    let killed = of_kind(&all, "exit", pid_of(&pids, "killed"));
    assert_eq!(killed.len(), 1);
    assert_eq!(killed[0]["exit_code"], Value::Null);
    assert_eq!(killed[0]["signal"], 9);
    assert_eq!(killed[0]["core_dumped"], false);

    // Every process the shell forked has a fork event with the child's
    // identity, and its own events carry that identity.
    for name in ["exec32", "exit3", "killed", "doublefork"] {
        let child = pid_of(&pids, name);
        let forks: Vec<&Value> = all
            .iter()
            .filter(|e| e["event"] == "fork" && e["child_pid"] == child)
            .collect();
        assert_eq!(forks.len(), 1, "fork of {name} ({child})");
        assert_eq!(forks[0]["pid"], shell);
        assert_eq!(forks[0]["thread"], false);
        let identity = all
            .iter()
            .find(|e| e["pid"] == child && e["event"] == "exit")
            .map(|e| e["proc_id"].clone())
            .expect("an exit");
        assert!(identity
            .as_str()
            .is_some_and(|s| s.starts_with(&format!("{child}@"))));
        assert_eq!(
            all.iter()
                .find(|e| e["event"] == "exit" && e["pid"] == child)
                .map(|e| e["parent_proc_id"].clone()),
            forks[0].get("proc_id").cloned()
        );
    }

    // The pipeline: three children of the shell, each forked, exec'd, exited.
    let pipeline: Vec<&Value> = all
        .iter()
        .filter(|e| e["event"] == "exec" && (e["comm"] == "cat" || e["comm"] == "wc"))
        .collect();
    assert_eq!(pipeline.len(), 2, "cat and wc exec'd: {pipeline:#?}");
    for exec in &pipeline {
        assert_eq!(exec["ppid"], shell, "{exec}");
        let pid = exec["pid"].as_u64().expect("pid") as u32;
        assert_eq!(of_kind(&all, "exit", pid).len(), 1, "{exec}");
    }

    // The double fork: the grandchild's exit names its new parent (a
    // subreaper or init), while its fork names the process that created it.
    let grandchild = pid_of(&pids, "grandchild");
    let fork = all
        .iter()
        .find(|e| e["event"] == "fork" && e["child_pid"] == grandchild)
        .expect("the grandchild's fork");
    let exit = of_kind(&all, "exit", grandchild);
    assert_eq!(exit.len(), 1, "grandchild exit");
    assert_ne!(exit[0]["ppid"], fork["pid"], "reparented: {}", exit[0]);

    // A thread that execs: the exec is the process's (tid = its caller).
    let thread_exec: Vec<&Value> = all
        .iter()
        .filter(|e| e["event"] == "exec" && e["tid"] != e["pid"] && e["ret"] == 0)
        .collect();
    assert_eq!(thread_exec.len(), 1, "one exec from a non-leader thread");
    let threads: Vec<&Value> = all
        .iter()
        .filter(|e| {
            e["event"] == "fork" && e["thread"] == true && e["pid"] == thread_exec[0]["pid"]
        })
        .collect();
    assert_eq!(threads.len(), 1, "the thread's creation");
    assert_eq!(threads[0]["child_tid"], thread_exec[0]["tid"]);

    // The tree: the early process from the snapshot, the shell with its
    // children under it, exit statuses, and --descendants-of.
    let path_str = path.to_str().expect("utf-8");
    let (code, tree, err) = replay(&["--tree", path_str]);
    assert_eq!(code, 0, "{err}");
    let early_pid = early.id();
    let early_line = tree
        .lines()
        .find(|l| l.starts_with(&format!("{early_pid} ")))
        .unwrap_or_else(|| panic!("the early process {early_pid} in the tree:\n{tree}"));
    assert!(
        early_line.contains("running before the capture: sleep 29.5"),
        "{early_line}"
    );
    let shell_line = tree
        .lines()
        .position(|l| l.trim_start().starts_with(&format!("{shell} ")))
        .unwrap_or_else(|| panic!("shell {shell} in the tree:\n{tree}"));
    let indent = |line: &str| line.len() - line.trim_start().len();
    let lines: Vec<&str> = tree.lines().collect();
    for name in ["exec32", "exit3", "killed"] {
        let child = pid_of(&pids, name);
        let at = lines
            .iter()
            .position(|l| l.trim_start().starts_with(&format!("{child} ")))
            .unwrap_or_else(|| panic!("{name} {child} in the tree:\n{tree}"));
        assert!(at > shell_line, "{name} after its parent");
        assert_eq!(
            indent(lines[at]),
            indent(lines[shell_line]) + 2,
            "{name} under the shell:\n{tree}"
        );
    }
    let line_of = |pid: u32| {
        lines
            .iter()
            .find(|l| l.trim_start().starts_with(&format!("{pid} ")))
            .copied()
    };
    assert!(
        line_of(pid_of(&pids, "exit3")).is_some_and(|l| l.ends_with("exit code 3")),
        "{tree}"
    );
    assert!(
        line_of(pid_of(&pids, "killed")).is_some_and(|l| l.ends_with("killed by signal 9")),
        "{tree}"
    );

    let subtree = events(&path, &["--descendants-of", &p32.to_string()]);
    assert!(!subtree.is_empty());
    // The fork that created exec32 is kept too: its subtree begins there.
    assert!(
        subtree
            .iter()
            .all(|e| e["pid"] == p32 || (e["event"] == "fork" && e["child_pid"] == p32)),
        "only exec32's events and its creation: {subtree:#?}"
    );
    let shell_tree = events(&path, &["--descendants-of", &shell.to_string()]);
    for name in ["exec32", "exit3", "killed", "grandchild"] {
        let pid = pid_of(&pids, name);
        assert!(
            shell_tree.iter().any(|e| e["pid"] == pid),
            "{name} is a descendant of the shell"
        );
    }
    assert!(
        !shell_tree.iter().any(|e| e["pid"] == early_pid),
        "the early process is not the shell's"
    );
}
