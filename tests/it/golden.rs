//! Golden tests: replay over every fixture capture in testdata/ with the
//! argument sets of testdata/golden/MANIFEST, compared byte for byte with the
//! checked-in stdout, stderr and exit status.

use std::fs;
use std::process::Command;

use crate::common::{repo, REPLAY};

struct Case {
    id: String,
    args: Vec<String>,
}

fn manifest() -> Vec<Case> {
    let text = fs::read_to_string(repo().join("testdata/golden/MANIFEST")).expect("MANIFEST");
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let mut words = line.split_whitespace().map(str::to_string);
            Case {
                id: words.next().expect("id"),
                args: words.collect(),
            }
        })
        .collect()
}

#[test]
fn replay_matches_the_golden_outputs() {
    let cases = manifest();
    assert!(cases.len() >= 20, "the manifest lost cases");
    let mut failures = Vec::new();
    for case in &cases {
        let out = Command::new(REPLAY)
            .args(&case.args)
            .current_dir(repo())
            .env("TZ", "UTC")
            .env("LC_ALL", "C")
            .output()
            .expect("run replay");
        let golden = repo().join("testdata/golden");
        let want_out = fs::read(golden.join(format!("{}.out", case.id))).expect("golden .out");
        let want_err =
            fs::read_to_string(golden.join(format!("{}.err", case.id))).expect("golden .err");
        let got_err = format!(
            "{}exit: {}\n",
            String::from_utf8_lossy(&out.stderr),
            out.status.code().unwrap_or(-1)
        );
        if out.stdout != want_out {
            failures.push(format!(
                "{}: stdout differs (replay {})\n--- got ---\n{}",
                case.id,
                case.args.join(" "),
                String::from_utf8_lossy(&out.stdout)
            ));
        }
        if got_err != want_err {
            failures.push(format!(
                "{}: stderr/exit differ\n--- got ---\n{got_err}--- want ---\n{want_err}",
                case.id
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} golden cases differ (scripts/bless-golden regenerates them after review):\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn every_fixture_has_golden_outputs_and_a_recorded_command() {
    let cases = manifest();
    let readme = fs::read_to_string(repo().join("testdata/README.md")).expect("testdata/README.md");
    let fixtures = ["testdata", "testdata/layout1"]
        .iter()
        .flat_map(|dir| fs::read_dir(repo().join(dir)).expect("testdata"));
    for entry in fixtures {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "snoop") {
            // Relative to testdata/, as the README names it.
            let name = path
                .strip_prefix(repo().join("testdata"))
                .expect("under testdata")
                .to_string_lossy()
                .into_owned();
            assert!(
                cases
                    .iter()
                    .any(|c| c.args.iter().any(|a| a.ends_with(&name))),
                "{name} has no golden outputs"
            );
            assert!(
                readme.contains(&format!("`{name}`")),
                "testdata/README.md does not describe {name}"
            );
        }
    }
}

#[test]
fn a_closed_output_pipe_is_a_quiet_exit() {
    use std::process::Stdio;
    // The reading end is closed before replay writes: its writes get EPIPE.
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let out = Command::new(REPLAY)
        .args(["--format", "json", "testdata/workload.snoop"])
        .current_dir(repo())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("run replay");
    assert_eq!(out.status.code(), Some(0), "a broken pipe is a clean exit");
    assert!(
        out.stderr.is_empty(),
        "nothing on stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
