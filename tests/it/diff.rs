//! `replay --diff` and `--expect-file`: on the lineage fixture (expectation
//! files written, read back and edited; every kind of trouble exits 2), and
//! (root, real kernel, the `record` feature) on real recordings of one
//! workload and its variants, each run in a cgroup of its own: the same
//! workload twice, an added exec, a removed mount, a changed argument, a
//! reordered parallel child, and the random directory of `mktemp -d` in argv.

use std::fs;
use std::path::Path;

use serde_json::Value;

use crate::common::{replay, repo};

fn fixture() -> String {
    repo().join("testdata/lineage.snoop").display().to_string()
}

fn s(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// Writes the expectation of `input` (extra args first); returns its text.
fn expectation(input: &str, out: &Path, extra: &[&str]) -> String {
    let mut args = extra.to_vec();
    args.extend(["--expect-file", s(out), input]);
    let (code, _, err) = replay(&args);
    assert_eq!(code, 0, "replay --expect-file: {err}");
    assert!(err.contains("wrote the expectation of"), "{err}");
    fs::read_to_string(out).expect("expectation written")
}

/// Processes and call lines of an expectation file's text.
fn counts_of(text: &str) -> (usize, usize) {
    let body = text.lines().filter(|l| !l.starts_with('#'));
    let (mut procs, mut calls) = (0, 0);
    for line in body {
        let line = line.trim_start();
        if line.starts_with("proc ") {
            procs += 1;
        } else if !line.starts_with("exit ") && !line.is_empty() {
            calls += 1;
        }
    }
    (procs, calls)
}

fn no_difference(text: &str) -> String {
    let (procs, calls) = counts_of(text);
    format!("snoopcap diff: no difference ({procs} processes, {calls} calls)\n")
}

#[test]
fn an_expectation_file_reads_back_as_no_difference() {
    let dir = tempfile::tempdir().expect("tempdir");
    let capture = fixture();
    let text_path = dir.path().join("expected.txt");
    let text = expectation(&capture, &text_path, &[]);
    assert!(
        text.starts_with("# snoopcap expectation 1\nproc sh\n"),
        "{text}"
    );
    for (code_want, args) in [
        (0, vec!["--diff", s(&text_path), &capture]),
        (0, vec!["--diff", &capture, &capture]),
    ] {
        let (code, out, err) = replay(&args);
        assert_eq!(code, code_want, "{args:?}: {err}");
        assert_eq!(out, no_difference(&text), "{args:?}");
    }
    // The JSON form: the same tree, and also no difference.
    let json_path = dir.path().join("expected.json");
    let json = expectation(&capture, &json_path, &[]);
    let value: Value = serde_json::from_str(&json).expect("a JSON expectation");
    assert_eq!(value["snoopcap_expectation"], 1);
    assert_eq!(value["processes"][0]["proc"], "sh");
    let (code, out, err) = replay(&["--diff", s(&json_path), &capture]);
    assert_eq!((code, out), (0, no_difference(&text)), "{err}");
    // Converting the JSON back to text gives the text.
    let back = dir.path().join("back.txt");
    assert_eq!(expectation(s(&json_path), &back, &[]), text);
}

#[test]
fn an_edited_expectation_gives_the_report_of_its_edits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let capture = fixture();
    let path = dir.path().join("expected.txt");
    let text = expectation(&capture, &path, &[]);
    // Three edits: an exit code, an argument, and a process removed.
    let wc_block = "  proc wc\n    exec /usr/bin/wc [wc -c]\n    exit 0\n";
    assert!(text.contains(wc_block), "{text}");
    let edited = text
        .replace("    exit 3\n", "    exit 4\n")
        .replace("[sleep 0.4]", "[sleep 0.5]")
        .replace(wc_block, "");
    fs::write(&path, &edited).expect("write");
    let (code, out, err) = replay(&["--diff", s(&path), &capture]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        out,
        format!(
            "--- {baseline}
+++ {capture}
 proc sh
   proc sh
     exec /usr/bin/sh [sh -c \"exit 3\"]
-    exit 4
+    exit 3
   proc sleep
-    exec /usr/bin/sleep [sleep 0.5]
+    exec /usr/bin/sleep [sleep 0.4]
+  proc wc
+    exec /usr/bin/wc [wc -c]
+    exit 0
snoopcap diff: processes: 1 added, 0 removed, 2 changed; calls and exits: 0 added, 0 removed, 2 changed
",
            baseline = path.display()
        )
    );

    // The same as JSON Lines: one record per difference, the summary last.
    let (code, out, err) = replay(&["--format", "json", "--diff", s(&path), &capture]);
    assert_eq!(code, 1, "{err}");
    let records: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(records.len(), 4, "{out}");
    assert_eq!(records[0]["change"], "changed");
    assert_eq!(records[0]["kind"], "exit");
    assert_eq!(records[0]["path"], serde_json::json!(["sh", "sh"]));
    assert_eq!(
        records[0]["path_first_calls"],
        serde_json::json!([null, "exec /usr/bin/sh [sh -c \"exit 3\"]"])
    );
    assert_eq!(
        (&records[0]["baseline"], &records[0]["new"]),
        (&"exit 4".into(), &"exit 3".into())
    );
    assert_eq!(records[1]["kind"], "call");
    assert_eq!(records[1]["new"], "exec /usr/bin/sleep [sleep 0.4]");
    assert_eq!(records[2]["change"], "added");
    assert_eq!(records[2]["kind"], "process");
    assert_eq!(records[2]["process"]["proc"], "wc");
    assert_eq!(
        records[2]["process"]["calls"][0],
        "exec /usr/bin/wc [wc -c]"
    );
    assert_eq!(records[2]["process"]["exit"], "0");
    let summary = &records[3]["summary"];
    assert_eq!(summary["same"], false);
    assert_eq!(summary["processes"]["added"], 1);
    assert_eq!(summary["processes"]["changed"], 2);
    assert_eq!(summary["lines"]["changed"], 2);
}

#[test]
fn ignore_events_and_normalize_shape_what_is_compared() {
    let dir = tempfile::tempdir().expect("tempdir");
    let capture = fixture();
    let all = expectation(&capture, &dir.path().join("all.txt"), &[]);
    assert!(all.contains("proc workload\n"));
    // --ignore: the workload and the process it started are left out.
    let ignored = expectation(
        &capture,
        &dir.path().join("ignored.txt"),
        &["--ignore", "^exec ./workload "],
    );
    assert!(
        !ignored.contains("workload") && !ignored.contains("from-thread"),
        "{ignored}"
    );
    assert_eq!(counts_of(&all).0 - 2, counts_of(&ignored).0);
    // --events exec: no exit lines; processes that only exited are gone.
    let execs = expectation(
        &capture,
        &dir.path().join("execs.txt"),
        &["--events", "exec"],
    );
    assert!(
        !execs.lines().any(|l| l.trim_start().starts_with("exit ")),
        "{execs}"
    );
    assert!(!execs.contains("proc cat\n    exit"), "{execs}");
    assert_eq!(
        counts_of(&execs).1,
        counts_of(&all).1,
        "every exec is still there"
    );
    // --normalize: a rule of the user's, on every line.
    let renamed = expectation(
        &capture,
        &dir.path().join("renamed.txt"),
        &["--normalize", r"sleep 0\.\d=sleep N"],
    );
    assert!(
        renamed.contains("[sleep N]") && !renamed.contains("[sleep 0.4]"),
        "{renamed}"
    );
    // Compared with the same rules, an expectation is no difference...
    let path = dir.path().join("renamed.txt");
    let (code, _, err) = replay(&[
        "--normalize",
        r"sleep 0\.\d=sleep N",
        "--diff",
        s(&path),
        &capture,
    ]);
    assert_eq!(code, 0, "{err}");
    // ...and without them it is one.
    let (code, out, _) = replay(&["--diff", s(&path), &capture]);
    assert_eq!(code, 1, "{out}");
}

#[test]
fn trouble_exits_2_with_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let capture = fixture();
    let text = dir.path().join("notes.txt");
    fs::write(&text, "just some notes\n").expect("write");
    let bad = dir.path().join("bad.txt");
    fs::write(
        &bad,
        "# snoopcap expectation 1\nproc sh\n  exce /bin/x [x]\n",
    )
    .expect("write");
    let good = dir.path().join("good.txt");
    expectation(&capture, &good, &[]);
    let missing = dir.path().join("missing.snoop");
    let damaged = repo().join("testdata/bad/payload-flip.snoop");
    let cut = repo().join("testdata/cut.snoop");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--diff", s(&missing), &capture],
            "missing.snoop: No such file",
        ),
        (
            vec!["--diff", &capture, s(&missing)],
            "missing.snoop: No such file",
        ),
        (
            vec!["--diff", s(&text), &capture],
            "neither a capture nor an expectation file",
        ),
        (vec!["--diff", &capture, s(&good)], "NEW must be a capture"),
        (
            vec!["--diff", s(&bad), &capture],
            "bad.txt: line 3: \"exce /bin/x [x]\" is not",
        ),
        (vec!["--diff", s(&damaged), &capture], "cannot be trusted"),
        (vec!["--strict", "--diff", s(&cut), s(&cut)], "cut short"),
        (
            vec!["--expect-file", s(&good), s(&missing)],
            "missing.snoop: No such file",
        ),
    ];
    for (args, want) in cases {
        let (code, out, err) = replay(&args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        let last = err.lines().last().unwrap_or("");
        assert!(
            last.starts_with("replay: ") && last.contains(want),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn bad_diff_arguments_are_usage_errors() {
    let capture = fixture();
    for args in [
        vec!["--diff", capture.as_str()],
        vec!["--diff", &capture, &capture, &capture],
        vec!["--diff", &capture, &capture, "--format", "csv"],
        vec!["--diff", &capture, &capture, "--tree"],
        vec!["--normalize", "x=y", &capture],
        vec!["--ignore", "x", &capture],
        vec![
            "--diff",
            &capture,
            &capture,
            "--normalize",
            "no-equals-sign",
        ],
        vec!["--diff", &capture, &capture, "--ignore", "("],
        vec!["--expect-file", "out.txt"],
        vec!["--expect-file", "out.txt", &capture, &capture],
    ] {
        let (code, out, err) = replay(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("replay: "), "{err}");
    }
    assert!(!Path::new("out.txt").exists());
}

/// Recordings of the workload and its variants, on the real kernel.
#[cfg(feature = "record")]
mod recorded {
    use super::*;
    use std::path::PathBuf;
    use std::process::Command;
    use std::sync::OnceLock;

    use crate::common::{self, Recording, TempCgroup};

    /// The workload: an exec, a random temporary directory in argv, two
    /// parallel children, a mount in a mount namespace of its own.
    const BASE: &str = r#"/bin/echo hello > /dev/null
d=$(mktemp -d)
/bin/ls -a "$d" > /dev/null
/bin/true one & /bin/true two & wait
unshare -m sh -c 'mount -t tmpfs snoopcap-diff "$1"' sh "$d"
rmdir "$d"
"#;

    const UNSHARE_STEP: &str = "unshare -m sh -c 'mount -t tmpfs snoopcap-diff \"$1\"' sh \"$d\"\n";

    fn variant(name: &str) -> String {
        match name {
            "base" | "again" => BASE.to_string(),
            "added" => BASE.replace(
                "/bin/echo hello > /dev/null\n",
                "/bin/echo hello > /dev/null\n/bin/echo extra > /dev/null\n",
            ),
            "no-mount" => BASE.replace(UNSHARE_STEP, ""),
            "changed" => BASE.replace("/bin/echo hello", "/bin/echo world"),
            "reordered" => BASE.replace(
                "/bin/true one & /bin/true two & wait",
                "/bin/true two & /bin/true one & wait",
            ),
            other => panic!("no variant {other}"),
        }
    }

    const VARIANTS: [&str; 6] = ["base", "again", "added", "no-mount", "changed", "reordered"];

    /// Records each variant once, in a cgroup of its own; the captures.
    fn captures() -> &'static Vec<(String, PathBuf)> {
        static RECORDED: OnceLock<Vec<(String, PathBuf)>> = OnceLock::new();
        RECORDED.get_or_init(|| {
            let _lock = common::bpf_lock();
            let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("diff-recordings");
            fs::create_dir_all(&dir).expect("mkdir");
            VARIANTS
                .iter()
                .map(|name| (name.to_string(), record(&dir, name)))
                .collect()
        })
    }

    fn record(dir: &Path, name: &str) -> PathBuf {
        let cgroup = TempCgroup::new(&format!("diff-{name}"));
        let cg = cgroup.path.to_str().expect("utf-8 cgroup path");
        let path = dir.join(format!("{name}.snoop"));
        let _ = fs::remove_file(&path);
        let recording = Recording::start(&path, &["--cgroup", cg]);
        let script = format!("echo $$ > \"{cg}/cgroup.procs\"\n{}", variant(name));
        common::stdout_of(Command::new("/bin/sh").arg("-c").arg(&script), name);
        let (ok, err) = recording.stop();
        assert!(ok, "record: {err}");
        assert!(err.contains(" 0 lost"), "{name}: {err}");
        path
    }

    fn capture(name: &str) -> String {
        let (_, path) = captures()
            .iter()
            .find(|(n, _)| n == name)
            .expect("recorded");
        path.display().to_string()
    }

    /// `replay --diff` of two variants: (exit code, stdout).
    fn diff(extra: &[&str], baseline: &str, new: &str) -> (i32, String) {
        let mut args = extra.to_vec();
        args.extend(["--diff", baseline, new]);
        let (code, out, err) = replay(&args);
        assert!(!err.contains("cannot be trusted"), "{err}");
        (code, out)
    }

    fn header(baseline: &str, new: &str) -> String {
        format!("--- {baseline}\n+++ {new}\n")
    }

    /// The argv of every exec of `comm` in a capture, in capture order.
    fn execs_of(path: &str, comm: &str) -> Vec<Vec<String>> {
        let (code, out, err) = replay(&["--format", "json", "--events", "exec", path]);
        assert_eq!(code, 0, "{err}");
        out.lines()
            .map(|l| serde_json::from_str::<Value>(l).expect("JSON"))
            .filter(|e| e["comm"] == comm && e["ret"] == 0)
            .map(|e| {
                e["args"]
                    .as_array()
                    .expect("args")
                    .iter()
                    .map(|a| a.as_str().unwrap_or("?").to_string())
                    .collect()
            })
            .collect()
    }

    /// argv[1] of the processes that exec'd `comm`, in the order of their forks.
    fn fork_order(path: &str, comm: &str) -> Vec<String> {
        let (code, out, err) = replay(&["--format", "json", path]);
        assert_eq!(code, 0, "{err}");
        let events: Vec<Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON"))
            .collect();
        events
            .iter()
            .filter(|e| e["event"] == "fork" && e["thread"] == false)
            .filter_map(|fork| {
                events.iter().find(|e| {
                    e["event"] == "exec" && e["comm"] == comm && e["pid"] == fork["child_pid"]
                })
            })
            .map(|exec| exec["args"][1].as_str().unwrap_or("?").to_string())
            .collect()
    }

    #[test]
    fn the_same_workload_twice_is_no_difference() {
        if !common::require_root("the_same_workload_twice_is_no_difference") {
            return;
        }
        let (base, again) = (capture("base"), capture("again"));
        let dir = tempfile::tempdir().expect("tempdir");
        let expected = expectation(&base, &dir.path().join("expected.txt"), &[]);
        let (code, out) = diff(&[], &base, &again);
        assert_eq!((code, out), (0, no_difference(&expected)));
        // The checked-in-baseline way: an expectation file against a new run.
        let (code, out) = diff(&[], s(&dir.path().join("expected.txt")), &again);
        assert_eq!((code, out), (0, no_difference(&expected)));
        let json = dir.path().join("expected.json");
        expectation(&base, &json, &[]);
        let (code, out) = diff(&["--format", "json"], s(&json), &again);
        assert_eq!(code, 0);
        let summary: Value = serde_json::from_str(out.trim()).expect("one summary line");
        assert_eq!(summary["summary"]["same"], true);
    }

    #[test]
    fn a_random_temporary_directory_in_argv_is_no_difference() {
        if !common::require_root("a_random_temporary_directory_in_argv_is_no_difference") {
            return;
        }
        let (base, again) = (capture("base"), capture("again"));
        // The two runs did get different directories, mktemp's kind.
        let (ls_a, ls_b) = (execs_of(&base, "ls"), execs_of(&again, "ls"));
        assert_eq!((ls_a.len(), ls_b.len()), (1, 1));
        let is_mktemp = |p: &str| {
            p.strip_prefix("/tmp/tmp.")
                .is_some_and(|r| r.len() == 10 && r.bytes().all(|b| b.is_ascii_alphanumeric()))
        };
        assert!(
            is_mktemp(&ls_a[0][2]) && is_mktemp(&ls_b[0][2]),
            "{ls_a:?} {ls_b:?}"
        );
        assert_ne!(ls_a[0][2], ls_b[0][2]);
        assert_eq!(diff(&[], &base, &again).0, 0);
        // Without normalisation they differ: the ls, rmdir, unshare and
        // mount lines, and nothing else.
        let (code, out) = diff(&["--no-normalize"], &base, &again);
        assert_eq!(code, 1, "{out}");
        let changed: Vec<&str> = out.lines().filter(|l| l.starts_with('+')).collect();
        assert!(
            changed.iter().skip(1).all(|l| l.contains(&ls_b[0][2])),
            "{out}"
        );
        for command in [
            "[/bin/ls -a ",
            "[rmdir ",
            "[unshare -m ",
            "[mount -t tmpfs ",
        ] {
            assert!(
                changed.iter().any(|l| l.contains(command)),
                "{command}: {out}"
            );
        }
    }

    #[test]
    fn an_added_exec_is_reported_in_its_place() {
        if !common::require_root("an_added_exec_is_reported_in_its_place") {
            return;
        }
        let (base, added) = (capture("base"), capture("added"));
        let (code, out) = diff(&[], &base, &added);
        assert_eq!(code, 1);
        assert_eq!(
            out,
            header(&base, &added)
                + " proc sh\n"
                + "+  proc echo\n"
                + "+    exec /bin/echo [/bin/echo extra]\n"
                + "+    exit 0\n"
                + "snoopcap diff: processes: 1 added, 0 removed, 0 changed; calls and exits: 0 added, 0 removed, 0 changed\n"
        );
    }

    #[test]
    fn a_changed_argument_is_reported_in_its_place() {
        if !common::require_root("a_changed_argument_is_reported_in_its_place") {
            return;
        }
        let (base, changed) = (capture("base"), capture("changed"));
        let (code, out) = diff(&[], &base, &changed);
        assert_eq!(code, 1);
        assert_eq!(
            out,
            header(&base, &changed)
                + " proc sh\n"
                + "   proc echo\n"
                + "-    exec /bin/echo [/bin/echo hello]\n"
                + "+    exec /bin/echo [/bin/echo world]\n"
                + "snoopcap diff: processes: 0 added, 0 removed, 1 changed; calls and exits: 0 added, 0 removed, 1 changed\n"
        );
        // As JSON: one changed call, then the summary.
        let (code, out) = diff(&["--format", "json"], &base, &changed);
        assert_eq!(code, 1);
        let records: Vec<Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON"))
            .collect();
        assert_eq!(records.len(), 2, "{out}");
        assert_eq!(
            records[0],
            serde_json::json!({
                "change": "changed", "kind": "call", "path": ["sh", "echo"],
                "path_first_calls": [null, null],
                "baseline": "exec /bin/echo [/bin/echo hello]",
                "new": "exec /bin/echo [/bin/echo world]",
            })
        );
        assert_eq!(records[1]["summary"]["lines"]["changed"], 1);
    }

    #[test]
    fn a_removed_mount_is_reported_with_its_process() {
        if !common::require_root("a_removed_mount_is_reported_with_its_process") {
            return;
        }
        let (base, no_mount) = (capture("base"), capture("no-mount"));
        let dir = tempfile::tempdir().expect("tempdir");
        let expected = expectation(&base, &dir.path().join("base.txt"), &[]);
        // The unshare step's block of the baseline's expectation.
        let lines: Vec<&str> = expected.lines().collect();
        let start = lines
            .iter()
            .position(|l| *l == "  proc unshare")
            .unwrap_or_else(|| panic!("an unshare process:\n{expected}"));
        let end = lines[start + 1..]
            .iter()
            .position(|l| !l.starts_with("    "))
            .map_or(lines.len(), |p| start + 1 + p);
        let block = &lines[start..end];
        let (code, out) = diff(&[], &base, &no_mount);
        assert_eq!(code, 1);
        let removed: Vec<String> = block.iter().map(|l| format!("-{l}")).collect();
        let procs = block
            .iter()
            .filter(|l| l.trim_start().starts_with("proc "))
            .count();
        assert_eq!(
            out,
            header(&base, &no_mount)
                + " proc sh\n"
                + &removed.join("\n")
                + "\n"
                + &format!("snoopcap diff: processes: 0 added, {procs} removed, 0 changed; calls and exits: 0 added, 0 removed, 0 changed\n")
        );
        // What the block holds: unshare's exec with the normalised directory,
        // the private / it made, mount(8)'s exec, and the tmpfs mount.
        let has = |want: &str| block.iter().any(|l| l.contains(want));
        assert!(has("exec ") && has("[unshare -m sh -c \"mount -t tmpfs snoopcap-diff \\\"$1\\\"\" sh /tmp/tmp.{rand}]"), "{block:#?}");
        assert!(
            has("[mount -t tmpfs snoopcap-diff /tmp/tmp.{rand}]"),
            "{block:#?}"
        );
        assert!(has("MS_REC|MS_PRIVATE"), "{block:#?}");
        assert!(
            block
                .iter()
                .any(|l| !l.contains("exec ") && l.contains("\"/tmp/tmp.{rand}\"")),
            "a mount-family call on the directory: {block:#?}"
        );
    }

    /// scripts/behaviour-diff, the README's CI example, as a CI job runs it.
    #[test]
    fn the_ci_script_writes_a_baseline_then_compares_with_it() {
        if !common::require_root("the_ci_script_writes_a_baseline_then_compares_with_it") {
            return;
        }
        let _lock = common::bpf_lock();
        let dir = tempfile::tempdir().expect("tempdir");
        let bin = Path::new(common::RECORD)
            .parent()
            .expect("bin dir")
            .to_path_buf();
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let test = dir.path().join("test.sh");
        let run = |script: &str| {
            fs::write(&test, script).expect("write");
            let out = Command::new(repo().join("scripts/behaviour-diff"))
                .args(["expected.txt", "sh", s(&test)])
                .current_dir(dir.path())
                .env("PATH", &path)
                .output()
                .expect("run scripts/behaviour-diff");
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            (
                out.status.code().unwrap_or(-1),
                text,
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        };
        let workload = "d=$(mktemp -d)\n/bin/ls \"$d\" > /dev/null\nrmdir \"$d\"\n";
        let (code, _, err) = run(workload);
        assert_eq!(code, 0, "{err}");
        let expected =
            fs::read_to_string(dir.path().join("expected.txt")).expect("a baseline written");
        assert!(
            expected.contains("    exec /bin/ls [/bin/ls /tmp/tmp.{rand}]\n"),
            "{expected}"
        );
        assert!(dir.path().join("behaviour.snoop").exists());
        let (code, out, err) = run(workload);
        assert_eq!((code, out), (0, no_difference(&expected)), "{err}");
        let (code, out, err) = run(&workload.replace("/bin/ls ", "/bin/ls -l "));
        assert_eq!(code, 1, "{err}");
        assert!(out.contains("-    exec /bin/ls [/bin/ls /tmp/tmp.{rand}]\n+    exec /bin/ls [/bin/ls -l /tmp/tmp.{rand}]\n"), "{out}");
        // A failing command fails the job with its own status.
        let (code, _, _) = run("exit 7\n");
        assert_eq!(code, 7);
    }

    #[test]
    fn a_reordered_parallel_child_is_no_difference() {
        if !common::require_root("a_reordered_parallel_child_is_no_difference") {
            return;
        }
        let (base, reordered) = (capture("base"), capture("reordered"));
        // The shell did start them in the other order.
        assert_eq!(fork_order(&base, "true"), ["one", "two"]);
        assert_eq!(fork_order(&reordered, "true"), ["two", "one"]);
        let dir = tempfile::tempdir().expect("tempdir");
        let expected = expectation(&base, &dir.path().join("expected.txt"), &[]);
        assert_eq!(diff(&[], &base, &reordered), (0, no_difference(&expected)));
        // The expectation file lists them in one canonical order, whatever
        // order they ran in.
        let other = expectation(&reordered, &dir.path().join("other.txt"), &[]);
        assert_eq!(expected, other);
    }
}
