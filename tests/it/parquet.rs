//! `replay --format parquet` (issue 18) read back by real consumers: pyarrow
//! and DuckDB (tests/parquet_check.py) compare every row and column with
//! `--format json` of the same captures, query the files of several captures
//! as one dataset, and run docs/FLEET.md's DuckDB queries on a
//! hive-partitioned directory laid out as that document says. Also: cut-short
//! and damaged captures, an input that fails to open, several row groups,
//! Parquet to a pipe, `-o` for the text formats, and the usage errors.
//!
//! The Python packages come from scripts/install-deps. Without them the
//! tests skip with a message, except under `CI=true`, where they fail.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common::{repo, stdout_of, REPLAY};

/// True when python3 has duckdb and pyarrow. Without them the test skips
/// (returns false), except under `CI=true`, where it fails.
fn readers_available(test: &str) -> bool {
    let found = Command::new(crate::common::python())
        .args(["-c", "import duckdb, pyarrow"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    found || crate::common::skip(test, "needs python3 with duckdb and pyarrow")
}

/// Runs replay in the repository (inputs named as in testdata/); returns
/// (exit code, stdout, stderr).
fn replay_in_repo(args: &[&str]) -> (i32, Vec<u8>, String) {
    let out = Command::new(REPLAY)
        .args(args)
        .current_dir(repo())
        .stdin(Stdio::null())
        .output()
        .expect("run replay");
    (
        out.status.code().unwrap_or(-1),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("snoopcap-parquet-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("temp dir")
}

/// One replay of some inputs, as JSON and as Parquet, with the first
/// input's `--info`: a triple for parquet_check.py.
struct Case {
    name: String,
    info: PathBuf,
    json: PathBuf,
    parquet: PathBuf,
    /// The first input's capture header, from `--info --format json`.
    header: serde_json::Value,
    start: String,
}

impl Case {
    /// Replays `args` (filters and inputs) both ways; both must exit `code`
    /// and say the same on stderr.
    fn make(dir: &Path, name: &str, args: &[&str], code: i32) -> Case {
        let first = args
            .iter()
            .find(|arg| arg.ends_with(".snoop"))
            .expect("an input");
        let (info_code, info, _) = replay_in_repo(&["--info", "--format", "json", first]);
        assert!(info_code <= 1, "--info {first}: exit {info_code}");
        let info_path = dir.join(format!("{name}.info.json"));
        fs::write(&info_path, &info).expect("write info");
        let info: serde_json::Value = serde_json::from_slice(&info).expect("--info JSON");

        let mut json_args = vec!["--format", "json"];
        json_args.extend_from_slice(args);
        let (json_code, json, json_err) = replay_in_repo(&json_args);
        assert_eq!(json_code, code, "{name}: JSON exit; stderr {json_err}");
        let json_path = dir.join(format!("{name}.jsonl"));
        fs::write(&json_path, &json).expect("write json");

        let parquet_path = dir.join(format!("{name}.parquet"));
        let parquet_arg = parquet_path.to_str().expect("UTF-8 temp path");
        let mut parquet_args = vec!["--format", "parquet", "-o", parquet_arg];
        parquet_args.extend_from_slice(args);
        let (parquet_code, stdout, parquet_err) = replay_in_repo(&parquet_args);
        assert_eq!(
            parquet_code, code,
            "{name}: Parquet exit; stderr {parquet_err}"
        );
        assert!(stdout.is_empty(), "{name}: -o wrote to stdout too");
        assert_eq!(
            parquet_err, json_err,
            "{name}: the same warnings either way"
        );
        Case {
            name: name.to_string(),
            info: info_path,
            json: json_path,
            parquet: parquet_path,
            header: info["header"].clone(),
            start: info["start"].as_str().expect("start").to_string(),
        }
    }
}

/// Lays the Parquet files out as docs/FLEET.md says: one per capture, in
/// `date=YYYY-MM-DD/host=HOSTNAME/` directories.
fn fleet_directory(dir: &Path, cases: &[Case]) -> PathBuf {
    let fleet = dir.join("fleet");
    for case in cases {
        let host = case.header["hostname"].as_str().expect("hostname");
        let day = &case.start[..10];
        let partition = fleet
            .join(format!("date={day}"))
            .join(format!("host={host}"));
        fs::create_dir_all(&partition).expect("mkdir");
        fs::copy(
            &case.parquet,
            partition.join(format!("{}.parquet", case.name)),
        )
        .expect("copy");
    }
    fleet
}

fn run_check(cases: &[Case], extra: &[&Path]) -> String {
    let mut command = Command::new(crate::common::python());
    command.arg(repo().join("tests/parquet_check.py"));
    for case in cases {
        command.args([&case.info, &case.json, &case.parquet]);
    }
    command.args(extra);
    let out = command.output().expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "parquet_check.py failed:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Rows in a Parquet file, by pyarrow (the footer must be valid).
fn parquet_rows(path: &Path) -> u64 {
    let out = stdout_of(
        Command::new(crate::common::python())
            .args([
                "-c",
                "import sys, pyarrow.parquet as pq; print(pq.read_table(sys.argv[1]).num_rows)",
            ])
            .arg(path),
        &format!("{}: not a valid Parquet file", path.display()),
    );
    String::from_utf8_lossy(&out)
        .trim()
        .parse()
        .expect("row count")
}

#[test]
fn parquet_matches_json_in_pyarrow_and_duckdb() {
    if !readers_available("parquet_matches_json_in_pyarrow_and_duckdb") {
        return;
    }
    let dir = temp_dir();
    let d = dir.path();
    let cases = vec![
        Case::make(d, "workload", &["testdata/workload.snoop"], 0),
        Case::make(d, "args", &["testdata/args.snoop"], 0),
        // Fork and exit events, process identities (raw layout 3).
        Case::make(d, "lineage", &["testdata/lineage.snoop"], 0),
        // Calls still in progress: null ret, error and latency.
        Case::make(d, "unfinished", &["testdata/unfinished.snoop"], 0),
        Case::make(
            d,
            "layout1-workload",
            &["testdata/layout1/workload.snoop"],
            0,
        ),
        // Cut short: every complete frame, a warning, exit 0.
        Case::make(d, "cut", &["testdata/cut.snoop"], 0),
        // Damaged: what could be recovered, exit 1.
        Case::make(d, "damaged", &["testdata/bad/dropped-frame.snoop"], 1),
        // The replay filters apply as for JSON.
        Case::make(
            d,
            "filtered",
            &[
                "--events",
                "mount",
                "--failed-only",
                "testdata/workload.snoop",
            ],
            0,
        ),
    ];
    // An input that cannot be opened: merged replay opens every input
    // before the first event, so nothing is rendered, but the file still
    // gets its footer (a valid Parquet file without rows).
    let missing = Case::make(
        d,
        "then-missing",
        &["testdata/args.snoop", "testdata/no-such-capture.snoop"],
        1,
    );
    let json = fs::read(&missing.json).expect("read json");
    assert!(json.is_empty(), "nothing rendered before the error");
    let parquet = fs::read(&missing.parquet).expect("read parquet");
    assert!(
        parquet.len() > 8 && parquet.starts_with(b"PAR1") && parquet.ends_with(b"PAR1"),
        "a complete Parquet file: {} bytes",
        parquet.len()
    );
    let fleet = fleet_directory(d, &cases);
    let queries = repo().join("docs/FLEET.md");
    let report = run_check(
        &cases,
        &[
            Path::new("--fleet"),
            &fleet,
            Path::new("--queries"),
            &queries,
        ],
    );
    eprintln!("{report}");
    assert!(
        report.contains(&format!("union of {} files", cases.len())),
        "{report}"
    );
    assert!(report.contains("documented queries ran"), "{report}");
}

/// More rows than one row group holds: the same capture many times over.
#[test]
fn several_row_groups_read_back_row_for_row() {
    if !readers_available("several_row_groups_read_back_row_for_row") {
        return;
    }
    let dir = temp_dir();
    let rows_per_copy = 23; // events in testdata/workload.snoop
    let copies = 2 * snoopcap::render::parquet::ROWS_PER_GROUP / rows_per_copy + 10;
    let inputs = vec!["testdata/workload.snoop"; copies];
    let case = Case::make(dir.path(), "many", &inputs, 0);
    let report = run_check(std::slice::from_ref(&case), &[]);
    let rows = copies * rows_per_copy;
    assert!(report.contains(&format!("{rows} rows")), "{report}");
    let groups = Command::new(crate::common::python())
        .args([
            "-c",
            "import sys, pyarrow.parquet as pq; print(pq.ParquetFile(sys.argv[1]).metadata.num_row_groups)",
        ])
        .arg(&case.parquet)
        .output()
        .expect("python3");
    assert_eq!(String::from_utf8_lossy(&groups.stdout).trim(), "3");
}

#[test]
fn parquet_to_a_pipe_is_the_same_file() {
    if !readers_available("parquet_to_a_pipe_is_the_same_file") {
        return;
    }
    let dir = temp_dir();
    let file = dir.path().join("w.parquet");
    let file_arg = file.to_str().expect("UTF-8");
    let (code, _, err) = replay_in_repo(&[
        "--format",
        "parquet",
        "-o",
        file_arg,
        "testdata/workload.snoop",
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, piped, err) = replay_in_repo(&["--format", "parquet", "testdata/workload.snoop"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        piped,
        fs::read(&file).expect("read"),
        "stdout and -o differ"
    );
    assert_eq!(parquet_rows(&file), 23);
    // Holds command lines: private to its owner.
    let mode = fs::metadata(&file).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn no_events_or_no_readable_input_is_a_valid_empty_file() {
    if !readers_available("no_events_or_no_readable_input_is_a_valid_empty_file") {
        return;
    }
    let dir = temp_dir();
    for (name, args, code) in [
        // Every event filtered out.
        ("filtered", vec!["--pid", "1", "testdata/workload.snoop"], 0),
        // The first input is not a capture: exit 1, still a complete file.
        ("unreadable", vec!["testdata/bad/empty.snoop"], 1),
        ("missing", vec!["testdata/no-such-capture.snoop"], 1),
    ] {
        let out = dir.path().join(format!("{name}.parquet"));
        let mut full = vec!["--format", "parquet", "-o", out.to_str().expect("UTF-8")];
        full.extend(args);
        let (got, _, err) = replay_in_repo(&full);
        assert_eq!(got, code, "{name}: {err}");
        assert_eq!(parquet_rows(&out), 0, "{name}");
    }
}

#[test]
fn output_option_works_for_every_text_format() {
    let dir = temp_dir();
    for format in ["table", "csv", "json"] {
        let (code, stdout, _) = replay_in_repo(&["--format", format, "testdata/args.snoop"]);
        assert_eq!(code, 0);
        let out = dir.path().join(format!("args.{format}"));
        let (code, nothing, err) = replay_in_repo(&[
            "--format",
            format,
            "--output",
            out.to_str().expect("UTF-8"),
            "testdata/args.snoop",
        ]);
        assert_eq!(code, 0, "{err}");
        assert!(nothing.is_empty());
        assert_eq!(fs::read(&out).expect("read"), stdout, "{format}");
    }
    // An output that cannot be created: one line, exit 1, no input read.
    let (code, _, err) = replay_in_repo(&[
        "-o",
        "/nonexistent-dir/out.json",
        "--format",
        "json",
        "testdata/args.snoop",
    ]);
    assert_eq!(code, 1);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("cannot create the output file"), "{err}");
}

#[test]
fn parquet_usage_errors_exit_2_with_one_line() {
    let (code, stdout, err) =
        replay_in_repo(&["--info", "--format", "parquet", "testdata/args.snoop"]);
    assert_eq!(code, 2, "{err}");
    assert!(stdout.is_empty());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("replay: --info prints text or JSON"),
        "{err}"
    );

    // Parquet bound for a terminal: refused. `script` gives replay a tty.
    let command = format!("{REPLAY} --format parquet testdata/args.snoop");
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(repo())
        .stdin(Stdio::null())
        .output()
        .expect("run script (util-linux)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("--format parquet is binary: give -o FILE"),
        "{text}"
    );
    assert!(!text.contains("PAR1"), "{text}");
}

#[test]
fn stdin_capture_has_no_file_name() {
    if !readers_available("stdin_capture_has_no_file_name") {
        return;
    }
    let dir = temp_dir();
    let out = dir.path().join("stdin.parquet");
    let status = Command::new(REPLAY)
        .args(["--format", "parquet", "-o"])
        .arg(&out)
        .arg("-")
        .stdin(fs::File::open(repo().join("testdata/args.snoop")).expect("open"))
        .status()
        .expect("run replay");
    assert!(status.success());
    let query = "import sys, duckdb; print(duckdb.sql(\"SELECT count(*), count(capture_file), any_value(hostname) FROM read_parquet('\" + sys.argv[1] + \"')\").fetchall())";
    let result = Command::new(crate::common::python())
        .args(["-c", query])
        .arg(&out)
        .output()
        .expect("python3");
    assert_eq!(
        String::from_utf8_lossy(&result.stdout).trim(),
        "[(4, 0, 'vm')]",
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
}
