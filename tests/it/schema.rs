//! docs/event.schema.json and docs/info.schema.json against what replay
//! writes: every golden JSON event line (`testdata/golden/*.json*.out`), every
//! golden `--info --format json` object (`*info-json*.out`) and every JSON
//! line of docs/EVENTS.md's examples must validate, checked by the real
//! consumer, Python's `jsonschema` (from PyPI; `scripts/install-deps`
//! installs it into `.venv/`). The schemas must also be strict enough to
//! reject lines replay never writes, and their enums must be the code's.
//! Without `jsonschema` the tests skip, except under `CI=true`, where they
//! fail.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use snoopcap::event::{Syscall, Unfinished};
use snoopcap::render::errno::ERRNO_NAMES;

use crate::common::{repo, stdout_of};
use crate::spec_examples;

/// Validates each instance file line against a schema; prints one JSON line
/// per instance: null when valid, else the first error's message.
const VALIDATE: &str = r#"
import json, sys
from jsonschema import Draft202012Validator
with open(sys.argv[1], encoding="utf-8") as f:
    schema = json.load(f)
Draft202012Validator.check_schema(schema)
validator = Draft202012Validator(schema)
with open(sys.argv[2], encoding="utf-8") as f:
    for line in f:
        errors = sorted(validator.iter_errors(json.loads(line)), key=lambda e: list(e.path))
        print(json.dumps(errors[0].message if errors else None))
"#;

/// A Python that has `jsonschema`: `$SNOOPCAP_PYTHON`, the project's
/// `.venv` (scripts/install-deps), or `python3`.
fn python() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = std::env::var_os("SNOOPCAP_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    candidates.push(repo().join(".venv/bin/python3"));
    candidates.push(PathBuf::from("python3"));
    candidates.into_iter().find(|python| {
        Command::new(python)
            .args(["-c", "import jsonschema"])
            .output()
            .is_ok_and(|out| out.status.success())
    })
}

/// The Python to validate with, or `None` to skip (never under CI=true).
fn validator(test: &str) -> Option<PathBuf> {
    let found = python();
    if found.is_none() {
        crate::common::skip(test, "Python's jsonschema is missing");
    }
    found
}

/// The first error of each instance against `schema` (None: valid).
fn validate(python: &Path, schema: &str, instances: &[Value]) -> Vec<Option<String>> {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("instances.jsonl");
    let text: String = instances.iter().map(|v| format!("{v}\n")).collect();
    fs::write(&file, text).expect("write instances");
    let out = stdout_of(
        Command::new(python)
            .arg("-c")
            .arg(VALIDATE)
            .arg(repo().join("docs").join(schema))
            .arg(&file),
        &format!("jsonschema failed on {schema}"),
    );
    let results: Vec<Option<String>> = String::from_utf8_lossy(&out)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a result line"))
        .collect();
    assert_eq!(results.len(), instances.len());
    results
}

/// (where, value) of every JSON line in the golden outputs whose file name
/// matches `select`.
fn golden_lines(select: impl Fn(&str) -> bool) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut files: Vec<PathBuf> = fs::read_dir(repo().join("testdata/golden"))
        .expect("testdata/golden")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.ends_with(".out") && select(name)
        })
        .collect();
    files.sort();
    for path in files {
        let text = fs::read_to_string(&path).expect("golden");
        for (index, line) in text.lines().enumerate() {
            let value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{}:{}: not JSON: {e}", path.display(), index + 1));
            out.push((format!("{}:{}", path.display(), index + 1), value));
        }
    }
    out
}

fn is_info(name: &str) -> bool {
    name.contains("info-json")
}

fn is_events(name: &str) -> bool {
    name.contains(".json") && !is_info(name)
}

fn assert_all_valid(python: &Path, schema: &str, lines: &[(String, Value)]) {
    let values: Vec<Value> = lines.iter().map(|(_, v)| v.clone()).collect();
    let failures: Vec<String> = validate(python, schema, &values)
        .into_iter()
        .zip(lines)
        .filter_map(|(error, (at, _))| error.map(|e| format!("{at}: {e}")))
        .collect();
    assert!(
        failures.is_empty(),
        "{schema} rejects lines replay wrote:\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_golden_json_event_line_matches_the_event_schema() {
    let Some(python) = validator("every_golden_json_event_line_matches_the_event_schema") else {
        return;
    };
    let mut lines = golden_lines(is_events);
    assert!(lines.len() >= 60, "only {} golden event lines", lines.len());
    // Every event kind and the unfinished calls are among them.
    for kind in Syscall::ALL.map(Syscall::event_name) {
        assert!(
            lines.iter().any(|(_, v)| v["event"] == kind),
            "no golden {kind} line"
        );
    }
    assert!(lines.iter().any(|(_, v)| v["unfinished"] == true));
    for example in spec_examples::examples() {
        for (index, line) in example.jsonl.as_deref().unwrap_or("").lines().enumerate() {
            let value = serde_json::from_str(line).expect("an example line is JSON");
            lines.push((
                format!("docs/EVENTS.md example {}:{}", example.name, index + 1),
                value,
            ));
        }
    }
    assert_all_valid(&python, "event.schema.json", &lines);
}

#[test]
fn every_golden_info_object_matches_the_info_schema() {
    let Some(python) = validator("every_golden_info_object_matches_the_info_schema") else {
        return;
    };
    let lines = golden_lines(is_info);
    assert!(
        lines.len() >= 2,
        "only {} golden --info objects",
        lines.len()
    );
    assert_all_valid(&python, "info.schema.json", &lines);
}

/// A copy of `value` with `edit` applied.
fn mutated(value: &Value, edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    let mut copy = value.clone();
    edit(copy.as_object_mut().expect("an object"));
    copy
}

/// The schemas are strict: each of these lines differs from one replay wrote
/// in one way replay never does, and each must be rejected.
#[test]
fn the_schemas_reject_lines_replay_never_writes() {
    let Some(python) = validator("the_schemas_reject_lines_replay_never_writes") else {
        return;
    };
    let events = golden_lines(is_events);
    let find = |test: &dyn Fn(&Value) -> bool| -> Value {
        events
            .iter()
            .map(|(_, v)| v)
            .find(|v| test(v))
            .expect("a golden line of that kind")
            .clone()
    };
    let exec = find(&|v| v["event"] == "exec" && v.get("dirfd").is_none() && v["ret"] == 0);
    let execveat = find(&|v| v["event"] == "exec" && v.get("dirfd").is_some());
    let mount = find(&|v| v["event"] == "mount" && v.get("unfinished").is_none());
    let unfinished = find(&|v| v["unfinished"] == true);
    let setattr = find(&|v| v["event"] == "mount_setattr");
    let good = [&exec, &execveat, &mount, &unfinished, &setattr];
    let good_results = validate(&python, "event.schema.json", &good.map(Clone::clone));
    assert!(good_results.iter().all(Option::is_none), "{good_results:?}");

    let bad: Vec<(&str, Value)> = vec![
        (
            "an unknown key",
            mutated(&exec, |m| drop(m.insert("extra".into(), json!(1)))),
        ),
        (
            "a mount key on an exec",
            mutated(&exec, |m| drop(m.insert("source".into(), json!("x")))),
        ),
        (
            "a missing key",
            mutated(&mount, |m| drop(m.remove("fstype"))),
        ),
        (
            "ret as a string",
            mutated(&exec, |m| drop(m.insert("ret".into(), json!("0")))),
        ),
        (
            "event execve",
            mutated(&exec, |m| drop(m.insert("event".into(), json!("execve")))),
        ),
        (
            "errno EDEADLK",
            mutated(&exec, |m| {
                m.insert("ret".into(), json!(-35));
                m.insert("error".into(), json!("EDEADLK"));
            }),
        ),
        (
            "an error for a success",
            mutated(&exec, |m| drop(m.insert("error".into(), json!("ENOENT")))),
        ),
        (
            "pid beyond u32",
            mutated(&exec, |m| {
                drop(m.insert("pid".into(), json!(4_294_967_296u64)))
            }),
        ),
        (
            "a negative latency",
            mutated(&mount, |m| drop(m.insert("latency_ns".into(), json!(-1)))),
        ),
        (
            "time without nanoseconds",
            mutated(&exec, |m| {
                drop(m.insert("time".into(), json!("2026-12-01T07:49:14Z")))
            }),
        ),
        (
            "a 17-character comm",
            mutated(&exec, |m| {
                drop(m.insert("comm".into(), json!("a".repeat(17))))
            }),
        ),
        (
            "dirfd without flags",
            mutated(&execveat, |m| drop(m.remove("flags"))),
        ),
        (
            "mount flags negative",
            mutated(&mount, |m| drop(m.insert("flags".into(), json!(-1)))),
        ),
        (
            "a truncated name of another kind",
            mutated(&mount, |m| {
                drop(m.insert("truncated".into(), json!(["args"])))
            }),
        ),
        (
            "unfinished with a ret",
            mutated(&unfinished, |m| drop(m.insert("ret".into(), json!(0)))),
        ),
        (
            "unfinished false",
            mutated(&exec, |m| drop(m.insert("unfinished".into(), json!(false)))),
        ),
        (
            "a reason without unfinished",
            mutated(&exec, |m| {
                drop(m.insert("unfinished_reason".into(), json!("exit_lost")))
            }),
        ),
        (
            "an unknown reason",
            mutated(&unfinished, |m| {
                drop(m.insert("unfinished_reason".into(), json!("hung")))
            }),
        ),
        (
            "a finished call with null ret",
            mutated(&mount, |m| drop(m.insert("ret".into(), Value::Null))),
        ),
        (
            "attr with an extra field",
            mutated(&setattr, |m| {
                m["attr"]
                    .as_object_mut()
                    .expect("attr")
                    .insert("x".into(), json!(0));
            }),
        ),
    ];
    let values: Vec<Value> = bad.iter().map(|(_, v)| v.clone()).collect();
    let accepted: Vec<&str> = validate(&python, "event.schema.json", &values)
        .iter()
        .zip(&bad)
        .filter(|(error, _)| error.is_none())
        .map(|(_, (what, _))| *what)
        .collect();
    assert!(
        accepted.is_empty(),
        "event.schema.json accepts: {accepted:?}"
    );

    let info = golden_lines(is_info)
        .into_iter()
        .next()
        .expect("a golden info object")
        .1;
    let bad_info = [
        mutated(&info, |m| drop(m.remove("lost"))),
        mutated(&info, |m| {
            m["header"]
                .as_object_mut()
                .expect("header")
                .insert("extra".into(), json!(""));
        }),
        mutated(&info, |m| drop(m.insert("complete".into(), json!(false)))),
        mutated(&info, |m| {
            m["events_by_kind"]
                .as_object_mut()
                .expect("map")
                .insert("execve".into(), json!(1));
        }),
    ];
    let results = validate(&python, "info.schema.json", &bad_info);
    assert!(
        results.iter().all(Option::is_some),
        "info.schema.json accepts one of {results:?}"
    );
}

/// The schema's enums are the code's: errno names, unfinished reasons,
/// event kinds.
#[test]
fn the_schema_enums_are_the_codes() {
    let schema: Value = serde_json::from_str(
        &fs::read_to_string(repo().join("docs/event.schema.json")).expect("schema"),
    )
    .expect("JSON");
    let common = &schema["$defs"]["common"]["properties"];
    let mut errors: Vec<Value> = vec![Value::Null];
    errors.extend(ERRNO_NAMES.iter().map(|(_, name)| json!(name)));
    assert_eq!(common["error"]["enum"], Value::Array(errors));
    let reasons: Vec<Value> = Unfinished::ALL.iter().map(|r| json!(r.name())).collect();
    assert_eq!(common["unfinished_reason"]["enum"], Value::Array(reasons));
    let mut kinds: Vec<&str> = Syscall::ALL.iter().map(|s| s.event_name()).collect();
    kinds.dedup();
    assert_eq!(common["event"]["enum"], json!(kinds));
}
