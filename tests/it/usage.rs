//! Usage errors: every bad option value is refused before any input is
//! opened (or any BPF program loaded), with exit status 2 and one line on
//! stderr naming the option.

use std::process::Command;

use crate::common::REPLAY;

/// Runs `bin args...`; returns (exit code, stderr).
fn run(bin: &str, args: &[&str]) -> (i32, String) {
    let out = Command::new(bin).args(args).output().expect("run");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Asserts a usage error: exit 2, one line, prefixed by the tool's name,
/// mentioning `needle`.
fn assert_usage_error(tool: &str, bin: &str, args: &[&str], needle: &str) {
    let (code, stderr) = run(bin, args);
    assert_eq!(code, 2, "{tool} {args:?}: exit {code}, stderr {stderr:?}");
    assert_eq!(stderr.lines().count(), 1, "{tool} {args:?}: {stderr:?}");
    assert!(
        stderr.starts_with(&format!("{tool}: ")),
        "{tool} {args:?}: {stderr:?}"
    );
    assert!(stderr.contains(needle), "{tool} {args:?}: {stderr:?}");
}

#[test]
fn replay_usage_errors_exit_2_with_one_line_before_opening_input() {
    // The input does not exist: had it been opened, the error would name it.
    let missing = "/nonexistent/capture.snoop";
    let cases: &[(&[&str], &str)] = &[
        (&["-n", "("], "--name"),
        (&["-l", "[a-"], "--line"),
        (&["--comm", "*x"], "--comm"),
        (&["--cgroup-path", "("], "--cgroup-path"),
        (&["--events", "bogus"], "bogus"),
        (&["--events", "exec,"], "empty item"),
        (&["--events", ""], "--events"),
        (&["--since", "yesterday"], "--since"),
        (&["--until", "+3x"], "--until"),
        (&["-u", "no-such-user-anywhere"], "no-such-user-anywhere"),
        (&["--format", "xml"], "--format"),
        (&["--max-args", "many"], "--max-args"),
        (&["--pid", "-4"], "'-4'"),
        (&["--no-such-option"], "--no-such-option"),
        (&["--container", ""], "--container"),
        (&["--container", "/docker/x"], "--container"),
        (&["-w", "/tmp/out.snoop", "--redact", "("], "--redact"),
        (&["-w", "/tmp/out.snoop", "--redact", "x*"], "empty string"),
        (&["--redact", "secret"], "--write"),
        (&["--redact-default"], "--write"),
        (&["-w", "/tmp/out.snoop", "--info"], "--info"),
        (&["-w", "/tmp/out.snoop", missing], "one input"),
    ];
    for (args, needle) in cases {
        let mut all = args.to_vec();
        all.push(missing);
        assert_usage_error("replay", REPLAY, &all, needle);
    }
}

#[test]
fn replay_help_and_version_exit_0() {
    for flag in ["--help", "--version"] {
        let (code, _) = run(REPLAY, &[flag]);
        assert_eq!(code, 0, "replay {flag}");
    }
}

#[cfg(feature = "record")]
#[test]
fn record_usage_errors_exit_2_with_one_line_before_loading() {
    use crate::common::RECORD;
    let cases: &[(&[&str], &str)] = &[
        (&["--events", "bogus"], "bogus"),
        (&["--events", "exec,"], "empty item"),
        (&["--ringbuf-size", "12Q"], "--ringbuf-size"),
        (&["--ringbuf-size", "3000"], "power of two"),
        (&["--duration", "-1"], "'-1'"),
        (&["--duration", "soon"], "--duration"),
        (&["--flush-interval", "0"], "--flush-interval"),
        (&["--max-args", "0"], "--max-args"),
        (&["--arg-size", "99999"], "--arg-size"),
        (&["--uid", "root"], "--uid"),
        (&["--redact", "("], "--redact"),
        (&["--redact", ""], "--redact"),
    ];
    let path = tempfile::tempdir().expect("tempdir");
    let out = path.path().join("cap.snoop");
    let out = out.to_str().expect("utf-8 path");
    for (args, needle) in cases {
        let mut all = vec!["-o", out];
        all.extend_from_slice(args);
        assert_usage_error("record", RECORD, &all, needle);
        assert!(
            !std::path::Path::new(out).exists(),
            "record {args:?} created its output"
        );
    }
}
