//! The worked examples of docs/EVENTS.md are what the code does: each
//! example's records (written in the notation its "Examples" section
//! defines) are built byte by byte from docs/FORMAT.md's raw layouts, written
//! into a capture, read back through the event stream and rendered; the JSON
//! Lines, the end-of-capture warnings and, where the example shows them, the
//! CSV and table output must be exactly the example's.

use std::fs;

use snoopcap::format::{
    CaptureHeader, CaptureWriter, CgroupPath, ClockAnchor, LossCounters, Trailer, WriterOptions,
};
use snoopcap::render::{self, Format, RenderOptions};
use snoopcap::replay::{EventStream, Item, StreamOptions};

use crate::common::repo;

/// One worked example: its name and its fenced blocks by info string.
#[derive(Debug, Default)]
pub struct Example {
    pub name: String,
    pub records: Option<String>,
    pub jsonl: Option<String>,
    pub csv: Option<String>,
    pub table: Option<String>,
    pub stderr: Option<String>,
}

/// The examples of docs/EVENTS.md: each starts at a line
/// `<!-- example: NAME -->` and takes the fenced blocks after it, up to the
/// next example or heading.
pub fn examples() -> Vec<Example> {
    let text = fs::read_to_string(repo().join("docs/EVENTS.md")).expect("docs/EVENTS.md");
    let mut out: Vec<Example> = Vec::new();
    let mut lines = text.lines();
    let mut current: Option<Example> = None;
    while let Some(line) = lines.next() {
        if let Some(name) = line
            .strip_prefix("<!-- example: ")
            .and_then(|rest| rest.strip_suffix(" -->"))
        {
            out.extend(current.take());
            current = Some(Example {
                name: name.to_string(),
                ..Example::default()
            });
        } else if line.starts_with('#') {
            out.extend(current.take());
        } else if let (Some(info), Some(example)) = (line.strip_prefix("```"), current.as_mut()) {
            let mut body = String::new();
            for inner in lines.by_ref() {
                if inner == "```" {
                    break;
                }
                body.push_str(inner);
                body.push('\n');
            }
            let slot = match info {
                "records" => &mut example.records,
                "jsonl" => &mut example.jsonl,
                "csv" => &mut example.csv,
                "table" => &mut example.table,
                "stderr" => &mut example.stderr,
                other => panic!("example {}: unknown block ```{other}", example.name),
            };
            assert!(
                slot.is_none(),
                "example {}: two ```{info} blocks",
                example.name
            );
            *slot = Some(body);
        }
    }
    out.extend(current);
    out
}

// ------------------------------------------------------------------ notation

/// Splits a records line into tokens: words, and JSON strings (which may
/// hold spaces) with whatever follows them up to the next space.
fn tokens(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut token = String::new();
        let mut in_string = false;
        let mut escaped = false;
        while let Some(&c) = chars.peek() {
            if !in_string && c.is_whitespace() {
                break;
            }
            chars.next();
            token.push(c);
            if in_string {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    in_string = false;
                }
            } else if c == '"' {
                in_string = true;
            }
        }
        out.push(token);
    }
    out
}

fn json_string(text: &str, what: &str) -> Vec<u8> {
    let value: String =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{what}: {text}: {e}"));
    value.into_bytes()
}

fn number(text: &str) -> u64 {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let value = match digits.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => digits.parse(),
    }
    .unwrap_or_else(|e| panic!("not a number: {text}: {e}"));
    if negative {
        value.wrapping_neg()
    } else {
        value
    }
}

/// docs/FORMAT.md's syscall numbers.
fn syscall_number(name: &str) -> u8 {
    let names = [
        "execve",
        "execveat",
        "mount",
        "umount",
        "fsopen",
        "fsconfig",
        "fsmount",
        "move_mount",
        "open_tree",
        "mount_setattr",
        "fspick",
    ];
    names
        .iter()
        .position(|n| *n == name)
        .map(|i| i as u8 + 1)
        .unwrap_or_else(|| panic!("unknown syscall {name}"))
}

fn flag_bits(names: &str, table: &[(&str, u16)]) -> u16 {
    names
        .split('|')
        .map(|name| {
            table
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, bit)| *bit)
                .unwrap_or_else(|| panic!("unknown flag {name}"))
        })
        .fold(0, |a, b| a | b)
}

const ENTRY_FLAGS: [(&str, u16); 5] = [
    ("ARGV_TRUNCATED", 0x1),
    ("ARGV_NULL", 0x2),
    ("ARGV_FAULT", 0x4),
    ("REFETCH", 0x8),
    ("DEFERRED", 0x10),
];
const ITEM_FLAGS: [(&str, u16); 5] = [
    ("NULL", 0x1),
    ("TRUNCATED", 0x2),
    ("FAULT", 0x4),
    ("BINARY", 0x8),
    ("SKIPPED", 0x10),
];

/// One string item: (flags, bytes).
fn item(token: &str) -> (u16, Vec<u8>) {
    if token.starts_with('"') {
        // The string, then optionally /FLAG|FLAG.
        let end = token.rfind('"').expect("a closing quote");
        let bytes = json_string(&token[..=end], "item");
        let flags = match token[end + 1..].strip_prefix('/') {
            Some(names) => flag_bits(names, &ITEM_FLAGS),
            None if end + 1 == token.len() => 0,
            None => panic!("item {token}: junk after the string"),
        };
        return (flags, bytes);
    }
    let (head, rest) = token.split_once('/').unwrap_or((token, ""));
    let extra = if rest.is_empty() {
        0
    } else {
        flag_bits(rest, &ITEM_FLAGS)
    };
    match head.split_once(':') {
        Some(("BLOB", hex)) => {
            let bytes = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
                .collect();
            (0x8 | extra, bytes)
        }
        _ => (flag_bits(head, &ITEM_FLAGS) | extra, Vec::new()),
    }
}

fn comm_field(out: &mut [u8], text: &str) {
    let bytes = json_string(text, "comm");
    for (dst, src) in out.iter_mut().zip(bytes.iter().take(16)) {
        *dst = *src;
    }
}

fn put(out: &mut [u8], at: usize, bytes: &[u8]) {
    out[at..at + bytes.len()].copy_from_slice(bytes);
}

/// An entry (kind 1) or refetch (kind 3) record, per docs/FORMAT.md.
fn entry_record(kind: u8, syscall: u8, fields: &[(String, String)], items: &[String]) -> Vec<u8> {
    let mut fixed = vec![0u8; 136];
    let get = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let pid = number(get("pid").expect("pid")) as u32;
    let tid = get("tid").map_or(pid, |t| number(t) as u32);
    put(&mut fixed, 0, &number(get("ts").expect("ts")).to_le_bytes());
    put(&mut fixed, 8, &pid.to_le_bytes());
    put(&mut fixed, 12, &tid.to_le_bytes());
    fixed[20] = kind;
    fixed[21] = syscall;
    // Identity defaults for an entry (docs/EVENTS.md, Examples); a refetch
    // record's identity is zero, as layout 2 writes it.
    let entry = kind == 1;
    let default = |key: &str, value: u64| get(key).map_or(if entry { value } else { 0 }, number);
    put(&mut fixed, 24, &default("cgroup_id", 1).to_le_bytes());
    for i in 0..6 {
        let value = get(&format!("arg{i}")).map_or(0, number);
        put(&mut fixed, 32 + 8 * i, &value.to_le_bytes());
    }
    put(&mut fixed, 80, &(default("ppid", 1) as u32).to_le_bytes());
    put(&mut fixed, 84, &(default("uid", 1000) as u32).to_le_bytes());
    put(&mut fixed, 88, &(default("gid", 1000) as u32).to_le_bytes());
    put(
        &mut fixed,
        92,
        &(default("mnt_ns", 4026531841) as u32).to_le_bytes(),
    );
    let comm = get("comm").unwrap_or(if entry { "\"sh\"" } else { "\"\"" });
    comm_field(&mut fixed[96..112], comm);
    let pcomm = get("pcomm").unwrap_or(if entry { "\"init\"" } else { "\"\"" });
    comm_field(&mut fixed[112..128], pcomm);
    put(&mut fixed, 128, &(items.len() as u16).to_le_bytes());
    let flags = get("flags").map_or(0, |f| flag_bits(f, &ENTRY_FLAGS));
    put(&mut fixed, 130, &flags.to_le_bytes());
    for token in items {
        let (flags, bytes) = item(token);
        fixed.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
        fixed.extend_from_slice(&flags.to_le_bytes());
        fixed.extend_from_slice(&bytes);
    }
    let size = fixed.len() as u32;
    put(&mut fixed, 16, &size.to_le_bytes());
    fixed
}

/// An exit record (kind 2, 48 bytes), per docs/FORMAT.md.
fn exit_record(syscall: u8, fields: &[(String, String)]) -> Vec<u8> {
    let mut raw = vec![0u8; 48];
    let get = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let pid = number(get("pid").expect("pid")) as u32;
    let tid = get("tid").map_or(pid, |t| number(t) as u32);
    put(&mut raw, 0, &number(get("ts").expect("ts")).to_le_bytes());
    put(&mut raw, 8, &pid.to_le_bytes());
    put(&mut raw, 12, &tid.to_le_bytes());
    put(&mut raw, 16, &48u32.to_le_bytes());
    raw[20] = 2;
    raw[21] = syscall;
    put(
        &mut raw,
        24,
        &number(get("ret").unwrap_or("0")).to_le_bytes(),
    );
    comm_field(&mut raw[32..48], get("comm").unwrap_or("\"sh\""));
    raw
}

/// The examples' capture header (docs/EVENTS.md, Examples).
fn example_header() -> CaptureHeader {
    let wall_ns = 1_700_000_000_000_000_000;
    CaptureHeader {
        tool: "snoopcap record".into(),
        clock: ClockAnchor {
            boot_ns: 0,
            wall_ns,
            uncertainty_ns: 0,
        },
        start_wall_ns: wall_ns,
        events: vec!["exec".into(), "mount".into()],
        layout_version: 2,
        max_args: 20,
        arg_size: 128,
        byte_order: "little".into(),
        ..CaptureHeader::default()
    }
}

/// The capture an example's records make: one data frame and a trailer.
pub fn build_capture(records: &str) -> Vec<u8> {
    let mut w = CaptureWriter::new(Vec::new(), &example_header(), WriterOptions::default())
        .expect("writer");
    let mut lost = LossCounters::default();
    for line in records.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let words = tokens(line);
        let (head, items) = match words.iter().position(|w| w == "|") {
            Some(bar) => (&words[..bar], &words[bar + 1..]),
            None => (&words[..], &[][..]),
        };
        let fields = |from: usize| -> Vec<(String, String)> {
            head[from..]
                .iter()
                .map(|kv| {
                    let (k, v) = kv
                        .split_once('=')
                        .unwrap_or_else(|| panic!("not key=value: {kv} in {line}"));
                    (k.to_string(), v.to_string())
                })
                .collect()
        };
        let value = |fields: &[(String, String)], key: &str| -> String {
            fields
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| panic!("{line}: no {key}"))
        };
        let pushed = match head[0].as_str() {
            "enter" | "refetch" => {
                let kind = if head[0] == "enter" { 1 } else { 3 };
                w.push_kernel_record(&entry_record(
                    kind,
                    syscall_number(&head[1]),
                    &fields(2),
                    items,
                ))
            }
            "exit" => w.push_kernel_record(&exit_record(syscall_number(&head[1]), &fields(2))),
            "anchor" => {
                let f = fields(1);
                w.push_clock_anchor(&ClockAnchor {
                    boot_ns: number(&value(&f, "boot_ns")),
                    wall_ns: number(&value(&f, "wall_ns")) as i64,
                    uncertainty_ns: 0,
                })
            }
            "cgroup" => {
                let f = fields(1);
                w.push_cgroup_path(&CgroupPath {
                    id: number(&value(&f, "id")),
                    path: json_string(&value(&f, "path"), "path"),
                })
            }
            "loss" => {
                let f = fields(1);
                let count = |key: &str| {
                    f.iter()
                        .find(|(k, _)| k == key)
                        .map_or(0, |(_, v)| number(v))
                };
                lost = LossCounters {
                    per_cpu: vec![vec![
                        count("entries"),
                        count("exits"),
                        count("scratch_busy"),
                        count("refetches"),
                    ]],
                };
                w.push_loss_counters(&lost)
            }
            other => panic!("unknown record line {other}: {line}"),
        };
        pushed.expect("push");
    }
    let trailer = Trailer {
        stop_reason: "SIGINT".into(),
        end_wall_ns: 1_700_000_001_000_000_000,
        lost,
        ..Trailer::default()
    };
    w.finish(&trailer).expect("finish")
}

/// What replay makes of a capture, in one format, and its end warnings.
pub fn render_capture(bytes: &[u8], format: Format) -> (String, String) {
    let mut stream = EventStream::open(bytes, &StreamOptions::default()).expect("open");
    let header = stream.header().clone();
    let mut renderer = render::renderer(RenderOptions {
        format,
        capture_start_wall_ns: header.start_wall_ns,
        ..RenderOptions::default()
    });
    let mut out = Vec::new();
    let mut warnings = String::new();
    renderer.begin(&mut out).expect("render");
    for item in stream.by_ref() {
        match item {
            Item::Event(event) => renderer.event(&event, &mut out).expect("render"),
            Item::Warning(w) => warnings.push_str(&format!("{w}\n")),
            Item::Record(_) | Item::Process(_) | Item::EndOfFrame => {}
        }
    }
    renderer.end(&mut out).expect("render");
    for line in stream.finish().end_warnings(false) {
        warnings.push_str(&line);
        warnings.push('\n');
    }
    (String::from_utf8(out).expect("UTF-8"), warnings)
}

#[test]
fn the_examples_of_docs_events_md_are_what_replay_does() {
    let examples = examples();
    assert!(examples.len() >= 15, "docs/EVENTS.md lost its examples");
    let mut failures = Vec::new();
    for example in &examples {
        let records = example
            .records
            .as_ref()
            .unwrap_or_else(|| panic!("example {} has no records", example.name));
        // No jsonl block: no output.
        let jsonl = example.jsonl.as_deref().unwrap_or("");
        let capture = build_capture(records);
        let (json, warnings) = render_capture(&capture, Format::Json);
        let mut check = |what: &str, got: &str, want: &str| {
            if got != want {
                failures.push(format!(
                    "docs/EVENTS.md example {}: {what} differs\n--- replay gives ---\n{got}--- the example says ---\n{want}",
                    example.name
                ));
            }
        };
        check("JSON", &json, jsonl);
        check("stderr", &warnings, example.stderr.as_deref().unwrap_or(""));
        if let Some(csv) = &example.csv {
            check("CSV", &render_capture(&capture, Format::Csv).0, csv);
        }
        if let Some(table) = &example.table {
            check("table", &render_capture(&capture, Format::Table).0, table);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The notation's tokenizer keeps JSON strings whole and their flags with them.
#[test]
fn the_records_notation_splits_as_documented() {
    assert_eq!(
        tokens(
            r#"enter mount ts=1 pid=2 comm="a b" | "x \" y"/TRUNCATED NULL BLOB:00ff/TRUNCATED"#
        ),
        vec![
            "enter",
            "mount",
            "ts=1",
            "pid=2",
            "comm=\"a b\"",
            "|",
            "\"x \\\" y\"/TRUNCATED",
            "NULL",
            "BLOB:00ff/TRUNCATED"
        ]
    );
    assert_eq!(item("\"ab\"/TRUNCATED"), (0x2, b"ab".to_vec()));
    assert_eq!(item("FAULT/BINARY"), (0xc, Vec::new()));
    assert_eq!(item("BLOB:00ff"), (0x8, vec![0, 0xff]));
    assert_eq!(number("-100"), (-100i64) as u64);
}
