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
//! `flags`, `attr` (`{attr_set, attr_clr, propagation, userns_fd}`), `size`.
//! Last, `truncated`: the names of the fields whose captured value was cut
//! short, present only when there is one.
//!
//! Flags, commands and fds are integers. Strings are decoded lossily (U+FFFD
//! for invalid UTF-8; fsconfig's binary value too); a NULL pointer or an
//! argument the call does not read is `null`. serde_json escapes control
//! characters, so every line is valid UTF-8 JSON.
//!
//! Fast path: the event is serialised straight from borrowed data (no
//! `serde_json::Value`, no per-event allocation for valid UTF-8) into a
//! reused line buffer, written with one `write_all`.

use super::errno;
use super::escape::comm_bytes;
use super::fields::{captured_attr, captured_text, Column, FieldValue, SyscallFields};
use super::time::Rfc3339Formatter;
use super::{RenderOptions, Renderer};
use crate::event::{Captured, Event};
use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};
use std::io::{self, Write};

/// Renders events as JSON Lines.
#[derive(Debug)]
pub struct JsonRenderer {
    line: Vec<u8>,
    time: Rfc3339Formatter,
}

impl JsonRenderer {
    pub fn new(_options: RenderOptions) -> JsonRenderer {
        JsonRenderer {
            line: Vec::with_capacity(1024),
            time: Rfc3339Formatter::new(),
        }
    }
}

impl Renderer for JsonRenderer {
    fn begin(&mut self, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }

    fn event(&mut self, event: &Event, out: &mut dyn Write) -> io::Result<()> {
        self.line.clear();
        let view = EventJson {
            event,
            time: self.time.format(event.wall_ns),
        };
        serde_json::to_writer(&mut self.line, &view)?;
        self.line.push(b'\n');
        out.write_all(&self.line)
    }

    fn end(&mut self, out: &mut dyn Write) -> io::Result<()> {
        out.flush()
    }
}

/// Bytes as a JSON string, lossily decoded.
struct LossyStr<'a>(&'a [u8]);

impl Serialize for LossyStr<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(self.0) {
            Ok(text) => serializer.serialize_str(text),
            Err(_) => serializer.serialize_str(&String::from_utf8_lossy(self.0)),
        }
    }
}

/// A captured argument: a lossy string, or null.
struct CapturedJson<'a>(&'a Captured);

impl Serialize for CapturedJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match captured_text(self.0) {
            Some(bytes) => LossyStr(bytes).serialize(serializer),
            None => serializer.serialize_none(),
        }
    }
}

struct FieldJson<'a>(FieldValue<'a>);

impl Serialize for FieldJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            FieldValue::Text(captured) => CapturedJson(captured).serialize(serializer),
            FieldValue::Signed(number) => serializer.serialize_i64(number),
            FieldValue::Unsigned(number) => serializer.serialize_u64(number),
            FieldValue::Bool(flag) => serializer.serialize_bool(flag),
            FieldValue::Args(args) => serializer.collect_seq(args.iter().map(CapturedJson)),
            FieldValue::Comm(comm) => LossyStr(comm_bytes(comm)).serialize(serializer),
            FieldValue::Attr(captured) => match captured_attr(captured) {
                None => serializer.serialize_none(),
                Some(attr) => {
                    let mut object = serializer.serialize_struct("mount_attr", 4)?;
                    object.serialize_field("attr_set", &attr.attr_set)?;
                    object.serialize_field("attr_clr", &attr.attr_clr)?;
                    object.serialize_field("propagation", &attr.propagation)?;
                    object.serialize_field("userns_fd", &attr.userns_fd)?;
                    object.end()
                }
            },
        }
    }
}

/// One event as a JSON object.
struct EventJson<'a> {
    event: &'a Event,
    time: &'a str,
}

impl Serialize for EventJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let event = self.event;
        let fields = SyscallFields::of(event);
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry(Column::Event.name(), event.syscall.event_name())?;
        map.serialize_entry(Column::Time.name(), self.time)?;
        map.serialize_entry(Column::TsNs.name(), &event.ts_ns)?;
        map.serialize_entry(Column::Pid.name(), &event.pid)?;
        map.serialize_entry(Column::Tid.name(), &event.tid)?;
        map.serialize_entry(Column::Ppid.name(), &event.ppid)?;
        map.serialize_entry(Column::Uid.name(), &event.uid)?;
        map.serialize_entry(Column::Gid.name(), &event.gid)?;
        map.serialize_entry(Column::Comm.name(), &LossyStr(comm_bytes(&event.comm)))?;
        map.serialize_entry(Column::Pcomm.name(), &LossyStr(comm_bytes(&event.pcomm)))?;
        map.serialize_entry(Column::MntNs.name(), &event.mnt_ns)?;
        map.serialize_entry(Column::CgroupId.name(), &event.cgroup_id)?;
        map.serialize_entry(
            Column::CgroupPath.name(),
            &event.cgroup_path.as_deref().map(LossyStr),
        )?;
        map.serialize_entry(Column::Ret.name(), &event.ret)?;
        map.serialize_entry(Column::Error.name(), &errno::error_name(event.ret))?;
        map.serialize_entry(Column::LatencyNs.name(), &event.latency_ns)?;
        for &(column, value) in fields.iter() {
            map.serialize_entry(column.name(), &FieldJson(value))?;
        }
        let truncated = fields.truncated();
        if !truncated.is_empty() {
            map.serialize_entry("truncated", truncated.names())?;
        }
        let unreadable = fields.unreadable();
        if !unreadable.is_empty() {
            map.serialize_entry("unreadable", unreadable.names())?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Args, Syscall};
    use crate::render::test_events::*;
    use crate::render::{renderer, Format};
    use serde_json::{json, Map, Value};

    fn render(events: &[Event]) -> String {
        let mut renderer = renderer(RenderOptions {
            format: Format::Json,
            ..RenderOptions::default()
        });
        let mut out = Vec::new();
        renderer.begin(&mut out).expect("Vec write");
        for event in events {
            renderer.event(event, &mut out).expect("Vec write");
        }
        renderer.end(&mut out).expect("Vec write");
        String::from_utf8(out).expect("JSON output is UTF-8")
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

    const COMMON: [&str; 16] = [
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
            })
        );
        // Key order as documented.
        let line = render(std::slice::from_ref(&event));
        assert!(line.starts_with(
            "{\"event\":\"exec\",\"time\":\"2026-11-22T03:04:05.123456789Z\",\"ts_ns\":5000000000,\"pid\":4242,"
        ));
        assert!(line.ends_with(
            "\"latency_ns\":12345,\"filename\":\"/bin/ls\",\"args\":[\"ls\",\"-l\"],\"args_truncated\":false,\"comm_before\":\"bash\"}\n"
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
        event.comm = b"c\xfe\x07".to_vec();
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
        for format in [Format::Json, Format::Table, Format::Csv] {
            let mut renderer = renderer(RenderOptions {
                format,
                ..RenderOptions::default()
            });
            let mut sink = io::sink();
            let rounds = 1000;
            let start = std::time::Instant::now();
            for _ in 0..rounds {
                for event in &events {
                    renderer.event(event, &mut sink).expect("sink");
                }
            }
            let elapsed = start.elapsed().as_secs_f64();
            println!(
                "{format:?}: {:.0} events/s",
                (rounds * events.len()) as f64 / elapsed
            );
        }
    }
}
