//! JSON Lines: one object per event, one per line, nothing else.
//!
//! Keys, in order: `event`, `time` (RFC 3339 UTC, nanoseconds), `ts_ns`,
//! `pid`, `tid`, `ppid`, `uid`, `gid`, `comm`, `pcomm`, `mnt_ns`,
//! `cgroup_id`, `cgroup_path` (the cgroup v2 path the capture stored for
//! `cgroup_id`, or null when unknown), `ret`, `error` (errno name or null),
//! `latency_ns`, then the
//! syscall's own fields ([`SyscallFields`]): exec `filename`, `args`
//! (array), `args_truncated`, `comm_before` (+ `dirfd`, `flags` for
//! execveat); mount `source`, `target`, `fstype`, `flags`, `data`; umount
//! `target`, `flags`; fsopen `fsname`, `flags`; fsconfig `fd`, `cmd`, `key`,
//! `value`, `aux`; fsmount `fs_fd`, `flags`, `attr_flags`; move_mount
//! `from_dirfd`, `from_path`, `to_dirfd`, `to_path`, `flags`;
//! open_tree/fspick `dirfd`, `path`, `flags`; mount_setattr `dirfd`, `path`,
//! `flags`, `attr` (`{attr_set, attr_clr, propagation, userns_fd}`), `size`;
//! fork `child_pid`, `child_tid`, `clone_flags`, `thread`; exit `exit_code`,
//! `signal`, `core_dumped`, `lifetime_ns`; then, on every event, `proc_id`,
//! `parent_proc_id` and the container identity from the cgroup path:
//! `container_id`, `runtime`, `pod_uid`, `pod_qos` (null outside a
//! container or pod). Then `truncated`: the names of the fields whose
//! captured value was cut short, and `unreadable`: those whose memory could
//! not be read, each present only when there is one. Last, for a call with
//! no exit in the capture only, `"unfinished": true` and
//! `unfinished_reason`; its `ret`, `error` and `latency_ns` are null.
//! docs/EVENTS.md is the full contract, docs/event.schema.json its schema.
//!
//! Flags, commands and fds are integers. Strings are decoded lossily (U+FFFD
//! for invalid UTF-8; fsconfig's binary value too); a NULL pointer or an
//! argument the call does not read is `null`. Control characters are
//! escaped exactly as serde_json escapes them, so every line is valid UTF-8
//! JSON.
//!
//! Fast path: the event is written by hand straight from borrowed data (no
//! serde, no per-event allocation) into a reused line buffer, written with
//! one `write_all`: constant keys as fixed bytes, integers without `fmt`,
//! strings copied in runs of bytes that need no escape. The tests check it
//! against serde_json.

use super::actor::ActorMemo;
use super::errno;
use super::escape::{comm_bytes, equal_bytes, unprintable_bytes};
use super::fields::{
    captured_attr, captured_text, push_identity, Column, FieldValue, SyscallFields,
};
use super::num::{push_i64, push_u64};
use super::time::Rfc3339Formatter;
use super::{RenderOptions, Renderer};
use crate::event::{Captured, Event, Syscall};
use std::io::{self, Write};

/// Renders events as JSON Lines.
#[derive(Debug)]
pub struct JsonRenderer {
    line: Vec<u8>,
    time: Rfc3339Formatter,
    /// The last event's who-part: `"pid"` to `"cgroup_path"`, and
    /// `"proc_id"` to `"pod_qos"`.
    actor: ActorMemo,
}

impl JsonRenderer {
    pub fn new(_options: RenderOptions) -> JsonRenderer {
        JsonRenderer {
            line: Vec::with_capacity(1024),
            time: Rfc3339Formatter::new(),
            actor: ActorMemo::default(),
        }
    }
}

impl Renderer for JsonRenderer {
    fn begin(&mut self, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }

    fn event(&mut self, event: &Event, out: &mut dyn Write) -> io::Result<()> {
        self.line.clear();
        let time = self.time.format_bytes(event.wall_ns);
        push_event(&mut self.line, &mut self.actor, event, time);
        self.line.push(b'\n');
        out.write_all(&self.line)
    }

    fn end(&mut self, out: &mut dyn Write) -> io::Result<()> {
        out.flush()
    }
}

/// What follows a byte in a JSON string, as serde_json writes it: 0 for
/// "copy as is", `u` for `\u00XX`, else the letter after the backslash.
/// Non-ASCII bytes are 0 here; they are handled as UTF-8 by the caller.
const ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = b'u';
        byte += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Appends the escape of an ASCII byte whose [`ESCAPE`] entry is `escape`.
fn push_escape(out: &mut Vec<u8>, byte: u8, escape: u8) {
    if escape == b'u' {
        out.extend_from_slice(&[
            b'\\',
            b'u',
            b'0',
            b'0',
            HEX_DIGITS[usize::from(byte >> 4)],
            HEX_DIGITS[usize::from(byte & 0x0f)],
        ]);
    } else {
        out.extend_from_slice(&[b'\\', escape]);
    }
}

/// Appends valid UTF-8 text, escaped (its non-ASCII characters as they are).
fn push_escaped_valid(out: &mut Vec<u8>, text: &[u8]) {
    let mut run = 0;
    for (at, &byte) in text.iter().enumerate() {
        let escape = ESCAPE[usize::from(byte)];
        if escape != 0 {
            out.extend_from_slice(&text[run..at]);
            push_escape(out, byte, escape);
            run = at + 1;
        }
    }
    out.extend_from_slice(&text[run..]);
}

/// Appends `bytes` as a JSON string: decoded lossily (U+FFFD for each
/// invalid sequence, as `String::from_utf8_lossy`), escaped as serde_json
/// escapes (`\"`, `\\`, `\b \t \n \f \r`, other C0 controls `\u00xx`).
fn push_str(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    // Fast path: a run of ASCII bytes that need no escape, copied at once,
    // checked eight at a time, then one at a time.
    let mut at = 0;
    while let Some(word) = bytes.get(at..).and_then(<[u8]>::first_chunk::<8>) {
        if word_needs_care(u64::from_le_bytes(*word)) {
            break;
        }
        at += 8;
    }
    while let Some(&byte) = bytes.get(at) {
        if byte >= 0x80 {
            break;
        }
        let escape = ESCAPE[usize::from(byte)];
        if escape != 0 {
            out.extend_from_slice(&bytes[..at]);
            return push_str_slow(out, &bytes[at..]);
        }
        at += 1;
    }
    if at < bytes.len() {
        out.extend_from_slice(&bytes[..at]);
        return push_str_slow(out, &bytes[at..]);
    }
    out.extend_from_slice(bytes);
    out.push(b'"');
}

/// Whether some of the eight bytes of `word` (little-endian) may need more
/// than a copy in a JSON string: not printable ASCII (DEL included, which
/// the byte loop then copies as it is), `"` or a backslash. Never says no
/// for a byte that needs care.
fn word_needs_care(word: u64) -> bool {
    unprintable_bytes(word) | equal_bytes(word, b'"') | equal_bytes(word, b'\\') != 0
}

/// The rest of [`push_str`] from the first byte that is not plain ASCII.
fn push_str_slow(out: &mut Vec<u8>, bytes: &[u8]) {
    for chunk in bytes.utf8_chunks() {
        push_escaped_valid(out, chunk.valid().as_bytes());
        if !chunk.invalid().is_empty() {
            out.extend_from_slice("\u{fffd}".as_bytes());
        }
    }
    out.push(b'"');
}

/// Room for `,"NAME":` of the longest column name.
const KEY_WINDOW: usize = 32;

/// `,"NAME":` of every column ([`Column`] order), in fixed-size windows,
/// with its length: appended whole and cut to length, a few vector moves
/// instead of a call to memcpy per field.
const COLUMN_KEYS: [([u8; KEY_WINDOW], usize); Column::COUNT] = {
    let mut keys = [([0u8; KEY_WINDOW], 0); Column::COUNT];
    let mut column = 0;
    while column < Column::COUNT {
        let name = Column::ALL[column].name().as_bytes();
        assert!(
            name.len() + 4 <= KEY_WINDOW,
            "a column name too long for its window"
        );
        let (window, len) = &mut keys[column];
        window[0] = b',';
        window[1] = b'"';
        let mut at = 0;
        while at < name.len() {
            window[2 + at] = name[at];
            at += 1;
        }
        window[2 + at] = b'"';
        window[3 + at] = b':';
        *len = name.len() + 4;
        column += 1;
    }
    keys
};

/// Room for `{"event":"NAME","time":"` of the longest event name.
const START_WINDOW: usize = 48;

/// `{"event":"NAME","time":"` of every event kind ([`Syscall::ALL`] order),
/// in fixed-size windows, with its length.
const EVENT_STARTS: [([u8; START_WINDOW], usize); Syscall::ALL.len()] = {
    let mut starts = [([0u8; START_WINDOW], 0); Syscall::ALL.len()];
    let mut kind = 0;
    while kind < Syscall::ALL.len() {
        let parts: [&[u8]; 3] = [
            b"{\"event\":\"",
            Syscall::ALL[kind].event_name().as_bytes(),
            b"\",\"time\":\"",
        ];
        let (window, len) = &mut starts[kind];
        let mut part = 0;
        while part < parts.len() {
            let mut at = 0;
            while at < parts[part].len() {
                assert!(*len < START_WINDOW, "an event name too long for its window");
                window[*len] = parts[part][at];
                *len += 1;
                at += 1;
            }
            part += 1;
        }
        kind += 1;
    }
    starts
};

/// `,"NAME":` of `column`.
fn push_column_key(out: &mut Vec<u8>, column: Column) {
    let (window, len) = &COLUMN_KEYS[column as usize];
    let start = out.len();
    out.extend_from_slice(window);
    out.truncate(start + len);
}

/// `"key":`
fn push_key(out: &mut Vec<u8>, key: &str) {
    out.push(b'"');
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
}

/// A captured argument: a lossy string, or null.
fn push_captured(out: &mut Vec<u8>, captured: &Captured) {
    match captured_text(captured) {
        Some(bytes) => push_str(out, bytes),
        None => out.extend_from_slice(b"null"),
    }
}

fn push_field(out: &mut Vec<u8>, value: FieldValue<'_>) {
    match value {
        FieldValue::Text(captured) => push_captured(out, captured),
        FieldValue::Signed(number) => push_i64(out, number),
        FieldValue::Unsigned(number) => push_u64(out, number),
        FieldValue::Bool(flag) => out.extend_from_slice(if flag { b"true" } else { b"false" }),
        FieldValue::Args(args) => {
            out.push(b'[');
            for (index, arg) in args.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                push_captured(out, arg);
            }
            out.push(b']');
        }
        FieldValue::Comm(comm) => push_str(out, comm_bytes(comm)),
        FieldValue::Identity(None) | FieldValue::Maybe(None) => out.extend_from_slice(b"null"),
        FieldValue::Identity(Some((pid, start))) => {
            out.push(b'"');
            push_identity(out, pid, start);
            out.push(b'"');
        }
        FieldValue::Maybe(Some(number)) => push_i64(out, number),
        FieldValue::Derived(None) => out.extend_from_slice(b"null"),
        FieldValue::Derived(Some(value)) => push_str(out, &value.bytes()),
        FieldValue::Attr(captured) => match captured_attr(captured) {
            None => out.extend_from_slice(b"null"),
            Some(attr) => {
                out.extend_from_slice(b"{\"attr_set\":");
                push_u64(out, attr.attr_set);
                out.extend_from_slice(b",\"attr_clr\":");
                push_u64(out, attr.attr_clr);
                out.extend_from_slice(b",\"propagation\":");
                push_u64(out, attr.propagation);
                out.extend_from_slice(b",\"userns_fd\":");
                push_u64(out, attr.userns_fd);
                out.push(b'}');
            }
        },
    }
}

/// `,"key":["name",...]`
fn push_names(out: &mut Vec<u8>, key: &str, names: &[&str]) {
    out.push(b',');
    push_key(out, key);
    out.push(b'[');
    for (index, name) in names.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        push_str(out, name.as_bytes());
    }
    out.push(b']');
}

/// One event as a JSON object (no newline). Byte for byte what serde_json
/// wrote for it before: keys in the documented order, compact.
fn push_event(out: &mut Vec<u8>, actor: &mut ActorMemo, event: &Event, time: &[u8]) {
    // Event names are plain ASCII identifiers: nothing to escape.
    let (window, len) = &EVENT_STARTS[event.syscall as usize];
    let start = out.len();
    out.extend_from_slice(window);
    out.truncate(start + len);
    // Digits and separators only.
    out.extend_from_slice(time);
    out.extend_from_slice(b"\",\"ts_ns\":");
    push_u64(out, event.ts_ns);
    if let Some((head, tail)) = actor.refresh(event) {
        push_actor_head(head, event);
        push_fields(tail, &SyscallFields::of_actor(event));
    }
    out.extend_from_slice(actor.head());
    out.extend_from_slice(b",\"ret\":");
    match event.returned() {
        Some(ret) => push_i64(out, ret),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"error\":");
    match event.returned().and_then(errno::error_name) {
        Some(name) => push_str(out, name.as_bytes()),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"latency_ns\":");
    match event.latency() {
        Some(latency) => push_u64(out, latency),
        None => out.extend_from_slice(b"null"),
    }
    let mut fields = SyscallFields::new();
    fields.push_call(event);
    push_fields(out, &fields);
    out.extend_from_slice(actor.tail());
    // The actor's fields are never cut short or unreadable, and most calls'
    // are neither: the lists are built only when something is.
    if fields.is_marked() {
        let truncated = fields.truncated();
        if !truncated.is_empty() {
            push_names(out, "truncated", truncated.names());
        }
        let unreadable = fields.unreadable();
        if !unreadable.is_empty() {
            push_names(out, "unreadable", unreadable.names());
        }
    }
    if let Some(reason) = event.unfinished {
        out.extend_from_slice(b",\"unfinished\":true,\"unfinished_reason\":\"");
        out.extend_from_slice(reason.name().as_bytes());
        out.push(b'"');
    }
    out.push(b'}');
}

/// `,"pid":` to the `"cgroup_path"` value: who made the event.
fn push_actor_head(out: &mut Vec<u8>, event: &Event) {
    out.extend_from_slice(b",\"pid\":");
    push_u64(out, u64::from(event.pid));
    out.extend_from_slice(b",\"tid\":");
    push_u64(out, u64::from(event.tid));
    out.extend_from_slice(b",\"ppid\":");
    push_u64(out, u64::from(event.ppid));
    out.extend_from_slice(b",\"uid\":");
    push_u64(out, u64::from(event.uid));
    out.extend_from_slice(b",\"gid\":");
    push_u64(out, u64::from(event.gid));
    out.extend_from_slice(b",\"comm\":");
    push_str(out, comm_bytes(&event.comm));
    out.extend_from_slice(b",\"pcomm\":");
    push_str(out, comm_bytes(&event.pcomm));
    out.extend_from_slice(b",\"mnt_ns\":");
    push_u64(out, u64::from(event.mnt_ns));
    out.extend_from_slice(b",\"cgroup_id\":");
    push_u64(out, event.cgroup_id);
    out.extend_from_slice(b",\"cgroup_path\":");
    match event.cgroup_path.as_deref() {
        Some(path) => push_str(out, path),
        None => out.extend_from_slice(b"null"),
    }
}

/// `,"key":value` for each field.
fn push_fields(out: &mut Vec<u8>, fields: &SyscallFields<'_>) {
    for &(column, value) in fields.iter() {
        push_column_key(out, column);
        push_field(out, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The word check says no exactly when every byte is printable
        /// ASCII that needs no escape.
        #[test]
        fn word_check_agrees_with_the_escape_table(word in proptest::array::uniform8(proptest::num::u8::ANY)) {
            let plain = word.iter().all(|&b| (0x20..0x7f).contains(&b) && ESCAPE[usize::from(b)] == 0);
            proptest::prop_assert_eq!(!word_needs_care(u64::from_le_bytes(word)), plain);
        }
    }
    use crate::event::{Args, Syscall};
    use crate::render::test_events::*;
    use crate::render::{renderer, Format};
    use serde_json::{json, Map, Value};

    fn json_str(bytes: &[u8]) -> String {
        let mut out = Vec::new();
        push_str(&mut out, bytes);
        String::from_utf8(out).expect("JSON strings are UTF-8")
    }

    #[test]
    fn strings_like_serde_json() {
        let cases: [&[u8]; 10] = [
            b"",
            b"plain /usr/bin/date",
            b"quote \" and \\ backslash",
            b"\x00\x01\x07\x08\t\n\x0b\x0c\r\x1b\x1f\x7f",
            "gr\u{fc}\u{df}e \u{65e5}\u{672c} \u{2713} \u{9b}".as_bytes(),
            b"bad \xff\xfe utf-8 \xe6\x97 cut",
            b"\xe6\x97",
            b"\xc3",
            b"tail \"\xc3\xbc\n\xf0\x9f\x98\x80\x80",
            b"\\\\\"\"",
        ];
        for bytes in cases {
            let expected = serde_json::to_string(&String::from_utf8_lossy(bytes)).expect("json");
            assert_eq!(json_str(bytes), expected, "{bytes:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_like_serde_json(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            let expected = serde_json::to_string(&String::from_utf8_lossy(&bytes)).expect("json");
            proptest::prop_assert_eq!(json_str(&bytes), expected);
        }

        #[test]
        fn mostly_ascii_like_serde_json(bytes in proptest::collection::vec(proptest::sample::select(vec![b'a', b'"', b'\\', b'\n', 0x01, 0x7f, 0xc3, 0xbc, 0xff, 0xe2, 0x9c, 0x93]), 0..32)) {
            let expected = serde_json::to_string(&String::from_utf8_lossy(&bytes)).expect("json");
            proptest::prop_assert_eq!(json_str(&bytes), expected);
        }
    }

    fn render(events: &[Event]) -> String {
        render_all(
            RenderOptions {
                format: Format::Json,
                ..RenderOptions::default()
            },
            events,
        )
    }

    fn object(event: &Event) -> Map<String, Value> {
        let text = render(std::slice::from_ref(event));
        assert!(text.ends_with('\n'));
        assert_eq!(text.matches('\n').count(), 1, "one line: {text:?}");
        match serde_json::from_str(&text) {
            Ok(Value::Object(map)) => map,
            other => panic!("not a JSON object: {other:?} from {text:?}"),
        }
    }

    fn keys(map: &Map<String, Value>) -> Vec<&str> {
        map.keys().map(String::as_str).collect()
    }

    const COMMON: [&str; 22] = [
        "event",
        "time",
        "ts_ns",
        "pid",
        "tid",
        "ppid",
        "uid",
        "gid",
        "comm",
        "pcomm",
        "mnt_ns",
        "cgroup_id",
        "cgroup_path",
        "ret",
        "error",
        "latency_ns",
        "proc_id",
        "parent_proc_id",
        "container_id",
        "runtime",
        "pod_uid",
        "pod_qos",
    ];

    fn expected_keys(specific: &[&'static str]) -> Vec<&'static str> {
        let mut all: Vec<&str> = COMMON.to_vec();
        all.extend_from_slice(specific);
        all.sort_unstable();
        all
    }

    fn sorted_keys(map: &Map<String, Value>) -> Vec<&str> {
        let mut all = keys(map);
        all.sort_unstable();
        all
    }

    #[test]
    fn exec_object() {
        let mut event = exec(b"/bin/ls", &[b"ls", b"-l"]);
        event.ret = -13;
        let map = object(&event);
        assert_eq!(
            Value::Object(map.clone()),
            json!({
                "event": "exec",
                "time": "2026-11-22T03:04:05.123456789Z",
                "ts_ns": 5_000_000_000_u64,
                "pid": 4242,
                "tid": 4243,
                "ppid": 1000,
                "uid": 1001,
                "gid": 1002,
                "comm": "ls",
                "pcomm": "bash",
                "mnt_ns": 4_026_531_841_u64,
                "cgroup_id": 77,
                "cgroup_path": null,
                "ret": -13,
                "error": "EACCES",
                "latency_ns": 12345,
                "filename": "/bin/ls",
                "args": ["ls", "-l"],
                "args_truncated": false,
                "comm_before": "bash",
                "proc_id": null,
                "parent_proc_id": null,
                "container_id": null,
                "runtime": null,
                "pod_uid": null,
                "pod_qos": null,
            })
        );
        // Key order as documented.
        let line = render(std::slice::from_ref(&event));
        assert!(line.starts_with(
            "{\"event\":\"exec\",\"time\":\"2026-11-22T03:04:05.123456789Z\",\"ts_ns\":5000000000,\"pid\":4242,"
        ));
        assert!(line.ends_with(
            "\"latency_ns\":12345,\"filename\":\"/bin/ls\",\"args\":[\"ls\",\"-l\"],\"args_truncated\":false,\"comm_before\":\"bash\",\"proc_id\":null,\"parent_proc_id\":null,\"container_id\":null,\"runtime\":null,\"pod_uid\":null,\"pod_qos\":null}\n"
        ));
    }

    #[test]
    fn cgroup_path_is_a_string_when_known() {
        let mut event = exec(b"/bin/ls", &[b"ls"]);
        event.cgroup_path = Some(std::sync::Arc::from(&b"/kubepods/pod1/c\xff"[..]));
        let map = object(&event);
        assert_eq!(map["cgroup_path"], "/kubepods/pod1/c\u{fffd}");
        assert_eq!(map["cgroup_id"], 77);
    }

    #[test]
    fn container_fields_come_from_the_cgroup_path() {
        let mut event = exec(b"/bin/ls", &[b"ls"]);
        let id = "ab".repeat(32);
        let path = format!(
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0f1e2d3c_4b5a_6978_8796_a5b4c3d2e1f0.slice/cri-containerd-{id}.scope"
        );
        event.cgroup_path = Some(std::sync::Arc::from(path.as_bytes()));
        let map = object(&event);
        assert_eq!(map["container_id"], id.as_str());
        assert_eq!(map["runtime"], "containerd");
        assert_eq!(map["pod_uid"], "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0");
        assert_eq!(map["pod_qos"], "Burstable");
    }

    #[test]
    fn execveat_adds_dirfd_and_flags() {
        let mut event = exec(b"", &[b"prog"]);
        event.syscall = Syscall::Execveat;
        if let Args::Exec { dirfd, flags, .. } = &mut event.args {
            *dirfd = Some(-100);
            *flags = Some(0x1000);
        }
        let map = object(&event);
        assert_eq!(map["event"], "exec");
        assert_eq!(map["dirfd"], -100);
        assert_eq!(map["flags"], 0x1000);
        assert_eq!(map["filename"], "");
        assert_eq!(
            sorted_keys(&map),
            expected_keys(&[
                "filename",
                "args",
                "args_truncated",
                "comm_before",
                "dirfd",
                "flags"
            ])
        );
    }

    #[test]
    fn field_set_per_event_kind() {
        let cases: Vec<(Args, Vec<&'static str>)> = vec![
            (
                Args::Mount {
                    source: text(b"a"),
                    target: text(b"b"),
                    fstype: text(b"c"),
                    flags: 1,
                    data: text(b"d"),
                },
                vec!["source", "target", "fstype", "flags", "data"],
            ),
            (
                Args::Umount {
                    target: text(b"b"),
                    flags: 2,
                },
                vec!["target", "flags"],
            ),
            (
                Args::Fsopen {
                    fsname: text(b"ext4"),
                    flags: 1,
                },
                vec!["fsname", "flags"],
            ),
            (
                Args::Fsconfig {
                    fd: 3,
                    cmd: 1,
                    key: text(b"k"),
                    value: text(b"v"),
                    aux: 0,
                },
                vec!["fd", "cmd", "key", "value", "aux"],
            ),
            (
                Args::Fsmount {
                    fs_fd: 3,
                    flags: 1,
                    attr_flags: 0x10,
                },
                vec!["fs_fd", "flags", "attr_flags"],
            ),
            (
                Args::MoveMount {
                    from_dirfd: 3,
                    from_path: text(b""),
                    to_dirfd: -100,
                    to_path: text(b"/m"),
                    flags: 4,
                },
                vec!["from_dirfd", "from_path", "to_dirfd", "to_path", "flags"],
            ),
            (
                Args::OpenTree {
                    dirfd: -100,
                    path: text(b"/s"),
                    flags: 1,
                },
                vec!["dirfd", "path", "flags"],
            ),
            (
                Args::Fspick {
                    dirfd: -100,
                    path: text(b"/s"),
                    flags: 1,
                },
                vec!["dirfd", "path", "flags"],
            ),
            (
                Args::MountSetattr {
                    dirfd: -100,
                    path: text(b"/s"),
                    flags: 0x8000,
                    attr: text(&[0x10, 0, 0, 0, 0, 0, 0, 0, 0x70]),
                    size: 32,
                },
                vec!["dirfd", "path", "flags", "attr", "size"],
            ),
        ];
        let syscalls = [
            Syscall::Mount,
            Syscall::Umount,
            Syscall::Fsopen,
            Syscall::Fsconfig,
            Syscall::Fsmount,
            Syscall::MoveMount,
            Syscall::OpenTree,
            Syscall::Fspick,
            Syscall::MountSetattr,
        ];
        for ((args, specific), syscall) in cases.into_iter().zip(syscalls) {
            let map = object(&event(syscall, args));
            assert_eq!(map["event"], syscall.event_name());
            assert_eq!(sorted_keys(&map), expected_keys(&specific), "{syscall}");
            assert_eq!(map["error"], Value::Null);
        }
        let setattr = object(&event(
            Syscall::MountSetattr,
            Args::MountSetattr {
                dirfd: -100,
                path: text(b"/s"),
                flags: 0x8000,
                attr: text(&[0x10, 0, 0, 0, 0, 0, 0, 0, 0x70]),
                size: 32,
            },
        ));
        assert_eq!(
            setattr["attr"],
            json!({"attr_set": 16, "attr_clr": 112, "propagation": 0, "userns_fd": 0})
        );
    }

    /// docs/EVENTS.md, integer fields: each has the C type of the kernel's
    /// declaration of its parameter; `int` flags and fds are signed.
    #[test]
    fn integer_fields_have_the_kernels_types() {
        let umount = object(&event(
            Syscall::Umount,
            Args::Umount {
                target: text(b"/m"),
                flags: -1,
            },
        ));
        assert_eq!(umount["flags"], -1);
        let mut execveat = exec(b"x", &[b"x"]);
        if let Args::Exec { dirfd, flags, .. } = &mut execveat.args {
            (*dirfd, *flags) = (Some(-100), Some(i32::MIN));
        }
        assert_eq!(object(&execveat)["flags"], i64::from(i32::MIN));
        let fsmount = object(&event(
            Syscall::Fsmount,
            Args::Fsmount {
                fs_fd: -1,
                flags: u32::MAX,
                attr_flags: u32::MAX,
            },
        ));
        assert_eq!(
            (&fsmount["fs_fd"], &fsmount["flags"], &fsmount["attr_flags"]),
            (&json!(-1), &json!(u32::MAX), &json!(u32::MAX))
        );
    }

    #[test]
    fn null_versus_empty_string() {
        let event = mount(null(), text(b""), skipped(), 0, null());
        let map = object(&event);
        assert_eq!(map["source"], Value::Null);
        assert_eq!(map["target"], "");
        assert_eq!(map["fstype"], Value::Null);
        assert_eq!(map["data"], Value::Null);
        let attr_null = object(&super::super::test_events::event(
            Syscall::MountSetattr,
            Args::MountSetattr {
                dirfd: 3,
                path: null(),
                flags: 0,
                attr: null(),
                size: 0,
            },
        ));
        assert_eq!(attr_null["attr"], Value::Null);
        assert_eq!(attr_null["path"], Value::Null);
    }

    #[test]
    fn invalid_utf8_and_control_bytes() {
        let mut event = exec(b"/bin/\xffx", &[b"a\x1b[31m\n\x00", "\u{9b}".as_bytes()]);
        event.comm = crate::event::Comm::from_bytes(b"c\xfe\x07");
        let text = render(std::slice::from_ref(&event));
        // No raw control byte in the output line.
        assert!(!text.trim_end_matches('\n').bytes().any(|byte| byte < 0x20));
        assert!(text.contains("\\u001b[31m\\n\\u0000"));
        let map = object(&event);
        assert_eq!(map["filename"], "/bin/\u{fffd}x");
        assert_eq!(map["comm"], "c\u{fffd}\u{7}");
        assert_eq!(map["args"], json!(["a\u{1b}[31m\n\u{0}", "\u{9b}"]));
    }

    #[test]
    fn truncated_fields_are_listed() {
        let event = mount(
            truncated(b"/dev/x"),
            text(b"/m"),
            text(b"t"),
            0,
            truncated(b"opts"),
        );
        let map = object(&event);
        assert_eq!(map["truncated"], json!(["source", "data"]));
        let mut cut_args = exec(b"/bin/x", &[b"x"]);
        if let Args::Exec {
            args,
            args_truncated,
            ..
        } = &mut cut_args.args
        {
            args.push(truncated(b"long"));
            *args_truncated = true;
        }
        let map = object(&cut_args);
        assert_eq!(map["truncated"], json!(["args"]));
        assert_eq!(map["args_truncated"], true);
        assert!(!object(&exec(b"/bin/x", &[b"x"])).contains_key("truncated"));
    }

    #[test]
    fn binary_fsconfig_value_is_a_lossy_string() {
        let event = event(
            Syscall::Fsconfig,
            Args::Fsconfig {
                fd: 3,
                cmd: 2,
                key: text(b"blob"),
                value: Captured {
                    binary: true,
                    ..text(b"\x00\x01\xff")
                },
                aux: 3,
            },
        );
        let map = object(&event);
        assert_eq!(map["value"], "\u{0}\u{1}\u{fffd}");
        assert_eq!(map["cmd"], 2);
    }

    #[test]
    fn many_lines_each_parse() {
        let events: Vec<Event> = (0..50)
            .map(|index| {
                let mut event = exec(b"/bin/x", &[b"x", b"y"]);
                event.wall_ns += index * 400_000_000;
                event
            })
            .collect();
        let text = render(&events);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 50);
        for line in lines {
            let value: Value = serde_json::from_str(line).expect("valid JSON line");
            assert!(value["time"].as_str().is_some_and(|time| time.len() == 30));
        }
    }

    /// `cargo test --release --lib render::json -- --ignored --nocapture`
    #[test]
    #[ignore = "throughput measurement"]
    fn throughput() {
        let events: Vec<Event> = (0..1000)
            .map(|index| {
                let mut event = exec(
                    b"/usr/bin/something",
                    &[b"something", b"--flag", b"/some/path/argument"],
                );
                event.wall_ns += index * 1_000_000;
                event
            })
            .collect();
        let formats = [
            Format::Json,
            Format::Table,
            Format::Csv,
            #[cfg(feature = "parquet")]
            Format::Parquet,
        ];
        for format in formats {
            let mut renderer = renderer(RenderOptions {
                format,
                ..RenderOptions::default()
            });
            renderer.input(&crate::render::CaptureIdentity {
                source: 0,
                hostname: "web-017.example.com".into(),
                boot_id: "cbee845f-6272-4b71-aa95-52a73c8cb0b3".into(),
                file: Some("/var/lib/snoopcap/web-017-0800.snoop".into()),
                start_wall_ns: WALL_NS,
            });
            let mut sink = io::sink();
            let rounds = 1000;
            let start = std::time::Instant::now();
            for _ in 0..rounds {
                for event in &events {
                    renderer.event(event, &mut sink).expect("sink");
                }
            }
            renderer.end(&mut sink).expect("sink");
            let elapsed = start.elapsed().as_secs_f64();
            println!(
                "{format:?}: {:.0} events/s",
                (rounds * events.len()) as f64 / elapsed
            );
        }
    }
}
