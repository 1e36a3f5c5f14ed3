//! `replay -w` on the fixtures, without BPF (these run in the replay-only
//! build too): a rewrite never replaces its input, reads stdin and writes
//! stdout, refuses more than one input, and keeps only the start snapshot
//! entries of the processes whose events it kept.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::common::{replay, REPLAY};

fn json_lines(args: &[&str]) -> Vec<Value> {
    let (code, stdout, stderr) = replay(args);
    assert_eq!(code, 0, "replay {args:?}: {stderr}");
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect()
}

#[test]
fn rewrite_refuses_its_input_and_reads_stdin() {
    let fixture = crate::common::repo().join("testdata/lineage.snoop");
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("in.snoop");
    fs::copy(&fixture, &copy).unwrap();
    let (code, _, stderr) = replay(&["-w", copy.to_str().unwrap(), copy.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(stderr.contains("is the input"), "{stderr}");
    assert_eq!(fs::read(&copy).unwrap(), fs::read(&fixture).unwrap());
    // Two inputs are a usage error.
    let (code, _, stderr) = replay(&[
        "-w",
        "x.snoop",
        copy.to_str().unwrap(),
        copy.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(stderr.lines().count(), 1);
    // --redact without -w is a usage error.
    let (code, _, _) = replay(&["--redact", "x", copy.to_str().unwrap()]);
    assert_eq!(code, 2);
    // stdin in, stdout out: the same events.
    let out = dir.path().join("out.snoop");
    let status = Command::new(REPLAY)
        .args(["-w", "-", "-"])
        .stdin(fs::File::open(&fixture).unwrap())
        .stdout(fs::File::create(&out).unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    let (_, a, _) = replay(&["--format", "json", fixture.to_str().unwrap()]);
    let (_, b, _) = replay(&["--format", "json", out.to_str().unwrap()]);
    assert_eq!(a, b);
    assert!(!a.is_empty());
}

/// The snapshot's processes in a capture (pids).
fn snapshot_pids(path: &Path) -> BTreeSet<u32> {
    let file = std::io::BufReader::new(fs::File::open(path).unwrap());
    let mut stream = snoopcap::replay::EventStream::open(file, &Default::default()).unwrap();
    let mut pids = BTreeSet::new();
    for item in stream.by_ref() {
        if let snoopcap::replay::Item::Process(p) = item {
            pids.insert(p.pid);
        }
    }
    pids
}

#[test]
fn a_rewrite_keeps_only_the_snapshot_entries_of_its_processes() {
    let fixture = crate::common::repo().join("testdata/lineage.snoop");
    let events = json_lines(&["--format", "json", fixture.to_str().unwrap()]);
    let exec = events
        .iter()
        .find(|e| e["event"] == "exec" && e["ret"] == 0)
        .expect("an exec");
    let pid = exec["pid"].as_u64().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("one.snoop");
    let (code, _, stderr) = replay(&[
        "--pid",
        &pid,
        "-w",
        out.to_str().unwrap(),
        fixture.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let kept = json_lines(&["--format", "json", out.to_str().unwrap()]);
    assert_eq!(
        kept,
        json_lines(&["--format", "json", "--pid", &pid, fixture.to_str().unwrap()])
    );
    let allowed: BTreeSet<u32> = kept
        .iter()
        .flat_map(|e| {
            [
                e["pid"].as_u64().unwrap() as u32,
                e["ppid"].as_u64().unwrap() as u32,
            ]
        })
        .collect();
    let before = snapshot_pids(&fixture);
    let after = snapshot_pids(&out);
    assert!(
        before.iter().any(|p| !allowed.contains(p)),
        "the fixture's snapshot has others"
    );
    assert!(
        after.is_subset(&allowed),
        "{after:?} not within {allowed:?}"
    );
}
