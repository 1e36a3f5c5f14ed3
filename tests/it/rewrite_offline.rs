//! `replay -w` on the fixtures, without BPF (these run in the replay-only
//! build too): a rewrite never replaces its input, reads stdin and writes
//! stdout, refuses more than one input (a rotated set too), keeps only the
//! start snapshot entries of the processes whose events it kept, keeps
//! unfinished calls, and rewrites a file of a set as a capture of its own
//! (its header's segment and provenance read back as written).

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::common::{json_lines, replay, REPLAY};

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

/// `replay --info --format json PATH`, one object.
fn info_json(path: &Path) -> Value {
    let lines = json_lines(&["--info", "--format", "json", path.to_str().unwrap()]);
    assert_eq!(lines.len(), 1, "{lines:?}");
    lines.into_iter().next().unwrap()
}

#[test]
fn an_unfinished_call_is_rewritten_with_its_entry() {
    // Its calls never returned: every one is an unfinished event.
    let fixture = crate::common::repo().join("testdata/unfinished.snoop");
    let source = fixture.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    for filter in [&[][..], &["--events", "mount"][..], &["--pid", "25246"][..]] {
        let out = dir.path().join("unfinished.snoop");
        let mut args = filter.to_vec();
        args.extend(["-w", out.to_str().unwrap(), source]);
        let (code, _, stderr) = replay(&args);
        assert_eq!(code, 0, "{filter:?}: {stderr}");
        let mut expected = vec!["--format", "json"];
        expected.extend_from_slice(filter);
        expected.push(source);
        let want = json_lines(&expected);
        let got = json_lines(&["--format", "json", out.to_str().unwrap()]);
        assert_eq!(got, want, "{filter:?}");
        if filter.is_empty() {
            let unfinished = got.iter().filter(|e| e["unfinished"] == true).count();
            assert!(unfinished >= 2, "the fixture's unfinished calls: {got:?}");
            // The entry is what is kept: no exit, so no return value.
            assert!(got
                .iter()
                .filter(|e| e["unfinished"] == true)
                .all(|e| e["ret"].is_null() && e["unfinished_reason"] == "capture_ended"));
        }
    }
}

/// A copy of `source` as file `sequence` of the rotated set `set_id`:
/// the same header and records, with a segment in the header.
fn as_set_file(source: &Path, out: &Path, set_id: &str, sequence: u64) {
    use snoopcap::format::{CaptureReader, CaptureWriter, Record, SegmentInfo, WriterOptions};
    let mut reader = CaptureReader::new(fs::File::open(source).unwrap()).unwrap();
    let segment = SegmentInfo {
        set_id: set_id.to_string(),
        sequence,
        kind: SegmentInfo::ROTATION.to_string(),
        ..SegmentInfo::default()
    };
    let header = reader.header().clone();
    let mut writer = CaptureWriter::with_segment(
        fs::File::create(out).unwrap(),
        &header,
        Some(&segment),
        WriterOptions::default(),
    )
    .unwrap();
    while let Some(record) = reader.next_record().unwrap() {
        match record {
            Record::Kernel(raw) => writer.push_kernel_record(raw),
            Record::ClockAnchor(a) => writer.push_clock_anchor(&a),
            Record::LossCounters(l) => writer.push_loss_counters(&l),
            Record::CgroupPath(c) => writer.push_cgroup_path(&c),
            Record::Process(p) => writer.push_process(&p),
            Record::Context(raw) => writer.push_context_record(raw),
            Record::Container(c) => writer.push_container(&c),
            Record::RedactionCount(r) => writer.push_redaction_count(&r),
        }
        .unwrap();
    }
    let trailer = reader.trailer().cloned().unwrap_or_default();
    writer.finish(&trailer).unwrap();
}

#[test]
fn a_file_of_a_set_is_rewritten_alone_and_a_set_is_refused() {
    let fixture = crate::common::repo().join("testdata/lineage.snoop");
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("set.000000"), dir.path().join("set.000001"));
    as_set_file(&fixture, &a, "s-1", 0);
    as_set_file(&fixture, &b, "s-1", 1);
    assert_eq!(info_json(&a)["segment"]["sequence"], 0);
    assert_eq!(info_json(&b)["segment"]["set_id"], "s-1");

    // Several inputs, a rotated set among them: one line, exit 2.
    let out = dir.path().join("out.snoop");
    let (code, _, stderr) = replay(&[
        "-w",
        out.to_str().unwrap(),
        a.to_str().unwrap(),
        b.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("rotated set"), "{stderr}");
    assert!(!out.exists());
    // With another format or output: a usage error too.
    for extra in [["--format", "json"], ["-o", "x.json"]] {
        let mut args = extra.to_vec();
        args.extend(["-w", out.to_str().unwrap(), a.to_str().unwrap()]);
        let (code, _, stderr) = replay(&args);
        assert_eq!(
            (code, stderr.lines().count()),
            (2, 1),
            "{extra:?}: {stderr}"
        );
    }

    // One file of a set: rewritten as a capture of its own.
    let (code, _, stderr) = replay(&[
        "--redact",
        "from-32-bit",
        "-w",
        out.to_str().unwrap(),
        a.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let info = info_json(&out);
    assert!(
        info.get("segment").is_none(),
        "a rewrite has no segment: {info}"
    );
    let provenance = &info["provenance"];
    assert_eq!(provenance["rewrites"][0]["source"], a.to_str().unwrap());
    assert_eq!(provenance["redactions"][0]["stage"], "rewrite");
    assert!(
        info["redaction_counts"][0]["replacements"]
            .as_u64()
            .unwrap()
            > 0
    );
    let scrubbed = |args: &[&str]| -> Vec<Value> {
        json_lines(args)
            .into_iter()
            .map(|e| {
                let text = serde_json::to_string(&e).unwrap();
                serde_json::from_str(&text.replace("from-32-bit", "[REDACTED]")).unwrap()
            })
            .collect()
    };
    assert_eq!(
        json_lines(&["--format", "json", out.to_str().unwrap()]),
        scrubbed(&["--format", "json", a.to_str().unwrap()])
    );

    // A rewrite of a rewrite: the provenance grows, and a file with a
    // segment and a provenance (a redacted file of a set) reads back whole.
    let c = dir.path().join("set-redacted.000000");
    as_set_file(&out, &c, "s-2", 0);
    let info = info_json(&c);
    assert_eq!(info["segment"]["set_id"], "s-2");
    assert_eq!(info["provenance"], *provenance);
    let again = dir.path().join("again.snoop");
    let (code, _, stderr) = replay(&["-w", again.to_str().unwrap(), c.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let info = info_json(&again);
    assert_eq!(info["provenance"]["rewrites"].as_array().unwrap().len(), 2);
    assert!(info.get("segment").is_none());
}
