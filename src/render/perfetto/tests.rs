//! Unit tests of the Perfetto renderer: the packets it writes, read back
//! with a minimal protobuf reader. (tests/perfetto_check.py checks whole
//! traces with Perfetto's own schema.)

use super::*;
use crate::event::Comm;
use crate::format::ClockAnchor;
use crate::render::test_events::*;
use std::collections::HashMap;

/// A decoded field: a varint or a length-delimited payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

fn read_varint(bytes: &[u8], at: &mut usize) -> u64 {
    let mut value = 0u64;
    let mut shift = 0;
    loop {
        let byte = bytes[*at];
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return value;
        }
        shift += 7;
    }
}

/// The fields of one message, in order.
fn fields(bytes: &[u8]) -> Vec<(u32, Value<'_>)> {
    let mut at = 0;
    let mut out = Vec::new();
    while at < bytes.len() {
        let key = read_varint(bytes, &mut at);
        let field = (key >> 3) as u32;
        match key & 7 {
            0 => out.push((field, Value::Varint(read_varint(bytes, &mut at)))),
            2 => {
                let len = read_varint(bytes, &mut at) as usize;
                out.push((field, Value::Bytes(&bytes[at..at + len])));
                at += len;
            }
            other => panic!("wire type {other}"),
        }
    }
    out
}

fn get<'a>(message: &[(u32, Value<'a>)], field: u32) -> Option<Value<'a>> {
    message.iter().find(|(f, _)| *f == field).map(|(_, v)| *v)
}

fn varint_of(message: &[(u32, Value<'_>)], field: u32) -> Option<u64> {
    match get(message, field)? {
        Value::Varint(v) => Some(v),
        Value::Bytes(_) => None,
    }
}

fn bytes_of<'a>(message: &[(u32, Value<'a>)], field: u32) -> Option<&'a [u8]> {
    match get(message, field)? {
        Value::Bytes(b) => Some(b),
        Value::Varint(_) => None,
    }
}

/// Every packet of a trace.
fn packets(trace: &[u8]) -> Vec<Vec<(u32, Value<'_>)>> {
    fields(trace)
        .into_iter()
        .map(|(field, value)| {
            assert_eq!(field, field::TRACE_PACKET);
            match value {
                Value::Bytes(packet) => fields(packet),
                Value::Varint(_) => panic!("a packet is a message"),
            }
        })
        .collect()
}

/// The track descriptors of a trace: uuid → (name, parent).
fn tracks(trace: &[u8]) -> HashMap<u64, (String, Option<u64>)> {
    packets(trace)
        .iter()
        .filter_map(|p| bytes_of(p, field::packet::TRACK_DESCRIPTOR))
        .map(|d| {
            let d = fields(d);
            let name = String::from_utf8(bytes_of(&d, field::track::NAME).unwrap().to_vec());
            (
                varint_of(&d, field::track::UUID).unwrap(),
                (name.unwrap(), varint_of(&d, field::track::PARENT_UUID)),
            )
        })
        .collect()
}

fn header() -> CaptureHeader {
    CaptureHeader {
        hostname: "host".into(),
        boot_id: "boot-1".into(),
        clock: ClockAnchor {
            boot_ns: 1_000,
            wall_ns: WALL_NS,
            uncertainty_ns: 1,
        },
        ..CaptureHeader::default()
    }
}

fn fork_event(parent: u32, child: u32, ts: u64) -> Event {
    let mut e = event(
        Syscall::Fork,
        Args::Fork {
            child_pid: child,
            child_tid: child,
            clone_flags: 0,
            child_start_ns: ts,
        },
    );
    e.pid = parent;
    e.tid = parent;
    e.ts_ns = ts;
    e.latency_ns = 0;
    e.proc_start_ns = Some(ts - 1);
    e
}

/// Renders `events` after a capture start with `header()`.
fn render(events: &[Event]) -> (Vec<u8>, PerfettoRenderer) {
    let mut r = PerfettoRenderer::new(RenderOptions::default());
    let mut out = Vec::new();
    r.begin(&mut out).unwrap();
    r.capture_start(&header(), &mut out).unwrap();
    for e in events {
        r.event(e, &mut out).unwrap();
    }
    r.end(&mut out).unwrap();
    (out, r)
}

#[test]
fn a_deep_chain_of_forks_stops_nesting_at_the_depth_limit() {
    // pid 100 forks 101, which forks 102, ...: 100 levels.
    let events: Vec<Event> = (0..100)
        .map(|i| fork_event(100 + i, 101 + i, 10 + u64::from(i)))
        .collect();
    let (trace, _) = render(&events);
    let tracks = tracks(&trace);
    let depth = |mut uuid: u64| {
        let mut depth = 0;
        while let Some(parent) = tracks[&uuid].1 {
            uuid = parent;
            depth += 1;
        }
        depth
    };
    let deepest = tracks.keys().map(|&u| depth(u)).max().unwrap();
    assert_eq!(deepest, MAX_DEPTH - 1);
    // Every process has its track: the capture's, pid 100's parent, 101 processes.
    assert_eq!(tracks.len(), 1 + 1 + 101);
}

#[test]
fn interning_tables_start_again_when_full_and_the_trace_says_so() {
    // Execs of distinct command names fill the table of event names.
    let n = MAX_INTERNED + 10;
    let events: Vec<Event> = (0..n)
        .map(|i| {
            let mut e = exec(b"/bin/x", &[b"x"]);
            e.comm = Comm::from_bytes(format!("c{i}").as_bytes());
            e.ts_ns = 2_000 + i as u64;
            e
        })
        .collect();
    let (trace, r) = render(&events);
    let packets = packets(&trace);
    let cleared: Vec<usize> = packets
        .iter()
        .enumerate()
        .filter(|(_, p)| {
            varint_of(p, field::packet::SEQUENCE_FLAGS).unwrap()
                & field::sequence_flags::INCREMENTAL_STATE_CLEARED
                != 0
        })
        .map(|(i, _)| i)
        .collect();
    // Each exec interns its name and its comm value: two resets.
    assert_eq!(cleared.len(), 3, "the first packet and two resets");
    // Each clearing packet sets the packet defaults again (boot clock).
    for &i in &cleared {
        let defaults = fields(bytes_of(&packets[i], field::packet::TRACE_PACKET_DEFAULTS).unwrap());
        assert_eq!(
            varint_of(&defaults, field::defaults::TIMESTAMP_CLOCK_ID),
            Some(field::clock::BOOTTIME)
        );
    }
    // After the reset (its first packet ends the previous exec image), the
    // names are interned again from iid 1, and the table stays bounded.
    let interned = packets[cleared[1]..]
        .iter()
        .find_map(|p| bytes_of(p, field::packet::INTERNED_DATA))
        .expect("interned data after the reset");
    let first_entry = fields(interned).into_iter().find_map(|(_, v)| match v {
        Value::Bytes(entry) => varint_of(&fields(entry), field::interned::IID),
        Value::Varint(_) => None,
    });
    assert_eq!(first_entry, Some(1));
    assert!(r.interner.len() < MAX_INTERNED);
}

#[test]
fn what_every_event_repeats_is_interned_again_after_a_reset() {
    // One process, one cgroup (one shared path, as the stream hands it
    // out); distinct `comm_before` values fill the string table.
    let n = MAX_INTERNED + 10;
    let cgroup: std::sync::Arc<[u8]> = std::sync::Arc::from(&b"/system.slice/x.scope"[..]);
    let events: Vec<Event> = (0..n)
        .map(|i| {
            let mut e = exec(b"/bin/x", &[b"x"]);
            e.comm_before = Comm::from_bytes(format!("c{i}").as_bytes());
            e.ts_ns = 2_000 + i as u64;
            e.cgroup_path = Some(cgroup.clone());
            e
        })
        .collect();
    let (trace, _) = render(&events);
    let packets = packets(&trace);
    let cleared = packets
        .iter()
        .filter(|p| {
            varint_of(p, field::packet::SEQUENCE_FLAGS).unwrap()
                & field::sequence_flags::INCREMENTAL_STATE_CLEARED
                != 0
        })
        .count();
    assert!(cleared >= 2, "the first packet and a reset");
    // The cgroup path is interned once per incremental state, not named
    // by an iid that is gone.
    let path_interned = packets
        .iter()
        .filter_map(|p| bytes_of(p, field::packet::INTERNED_DATA))
        .flat_map(fields)
        .filter(|(number, value)| {
            *number == field::interned::DEBUG_ANNOTATION_STRING_VALUES
                && matches!(value, Value::Bytes(entry)
                    if bytes_of(&fields(entry), field::interned::NAME) == Some(&cgroup[..]))
        })
        .count();
    assert_eq!(path_interned, cleared);
}

#[test]
fn state_is_dropped_when_processes_exit() {
    let mut events = Vec::new();
    for i in 0..1000u32 {
        let child = 10_000 + i;
        let mut fork = fork_event(100, child, 10 + u64::from(i) * 10);
        fork.proc_start_ns = Some(5);
        events.push(fork);
        let mut mount = mount(text(b"none"), text(b"/mnt"), text(b"tmpfs"), 0, text(b""));
        (mount.pid, mount.tid, mount.ppid) = (child, child, 100);
        mount.ts_ns = 11 + u64::from(i) * 10;
        events.push(mount);
        let mut exit = event(
            Syscall::Exit,
            Args::Exit {
                status: 0,
                start_ns: 0,
            },
        );
        (exit.pid, exit.tid, exit.ppid) = (child, child, 100);
        exit.ts_ns = 12 + u64::from(i) * 10;
        exit.latency_ns = 0;
        events.push(exit);
    }
    let (trace, r) = render(&events);
    // Left: pid 100 and its parent (1000, from the events' ppid).
    assert_eq!(r.processes.len(), 2, "{:?}", r.processes.keys());
    assert!(r.threads.is_empty());
    // Each child had a process track and a thread track.
    assert_eq!(tracks(&trace).len(), 1 + 2 + 2 * 1000);
}

#[test]
fn an_exec_image_ends_at_the_next_exec_and_at_the_exit() {
    let mut first = exec(b"/bin/a", &[b"a"]);
    first.ts_ns = 100;
    let mut second = exec(b"/bin/b", &[b"b"]);
    second.ts_ns = 200;
    let mut exit = event(
        Syscall::Exit,
        Args::Exit {
            status: 3 << 8,
            start_ns: 0,
        },
    );
    exit.ts_ns = 300;
    exit.latency_ns = 0;
    let (trace, _) = render(&[first, second, exit]);
    let kinds: Vec<(u64, u64)> = packets(&trace)
        .iter()
        .filter_map(|p| {
            let ts = varint_of(p, field::packet::TIMESTAMP)?;
            let e = fields(bytes_of(p, field::packet::TRACK_EVENT)?);
            Some((ts, varint_of(&e, field::event::TYPE)?))
        })
        .filter(|&(ts, _)| (100..=300).contains(&ts))
        .collect();
    use field::event::{INSTANT, SLICE_BEGIN, SLICE_END};
    assert_eq!(
        kinds,
        [
            (100, SLICE_BEGIN),
            (200, SLICE_END),
            (200, SLICE_BEGIN),
            (300, SLICE_END),
            (300, INSTANT),
        ]
    );
}

#[test]
fn a_capture_of_another_boot_is_refused() {
    let mut r = PerfettoRenderer::new(RenderOptions::default());
    let mut out = Vec::new();
    r.capture_start(&header(), &mut out).unwrap();
    let other = CaptureHeader {
        boot_id: "boot-2".into(),
        ..header()
    };
    let err = r.capture_start(&other, &mut out).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("boot-2"), "{err}");
}

#[test]
fn state_stays_bounded_without_exits() {
    // Execs of 200 000 processes that never exit (a capture without
    // lifecycle records), each with a mount on a thread of its own.
    let mut r = PerfettoRenderer::new(RenderOptions::default());
    let mut out = Vec::new();
    r.capture_start(&header(), &mut out).unwrap();
    for i in 0..200_000u32 {
        let mut e = mount(text(b"none"), text(b"/mnt"), text(b"tmpfs"), 0, text(b""));
        (e.pid, e.tid, e.ppid) = (10_000 + i, 1_000_000 + i, 1);
        e.ts_ns = 2_000 + u64::from(i);
        out.clear();
        r.event(&e, &mut out).unwrap();
    }
    assert!(r.processes.len() <= MAX_LIVE, "{}", r.processes.len());
    assert!(r.threads.len() <= MAX_LIVE, "{}", r.threads.len());
    assert!(r.processes.len() > MAX_LIVE / 4, "recent ones are kept");
}

#[test]
fn an_unfinished_call_is_an_instant_without_a_result() {
    let mut held = mount(text(b"none"), text(b"/mnt"), text(b"tmpfs"), 0, text(b""));
    held.ts_ns = 500;
    held.unfinished = Some(Unfinished::EndOfCapture);
    let (trace, _) = render(&[held]);
    let events: Vec<Vec<(u32, Value<'_>)>> = packets(&trace)
        .iter()
        .filter(|p| varint_of(p, field::packet::TIMESTAMP) == Some(500))
        .filter_map(|p| bytes_of(p, field::packet::TRACK_EVENT).map(fields))
        .collect();
    assert_eq!(events.len(), 1, "one instant, no slice end");
    assert_eq!(
        varint_of(&events[0], field::event::TYPE),
        Some(field::event::INSTANT)
    );
    let iids: Vec<u64> = events[0]
        .iter()
        .filter(|(f, _)| *f == field::event::DEBUG_ANNOTATIONS)
        .filter_map(|(_, v)| match v {
            Value::Bytes(b) => varint_of(&fields(b), field::annotation::NAME_IID),
            Value::Varint(_) => None,
        })
        .collect();
    // The annotation names interned in the trace: iid → name.
    let interned: HashMap<u64, String> = packets(&trace)
        .iter()
        .filter_map(|p| bytes_of(p, field::packet::INTERNED_DATA).map(fields))
        .flatten()
        .filter(|(f, _)| *f == field::interned::DEBUG_ANNOTATION_NAMES)
        .filter_map(|(_, v)| match v {
            Value::Bytes(entry) => {
                let entry = fields(entry);
                let name = bytes_of(&entry, field::interned::NAME)?;
                Some((
                    varint_of(&entry, field::interned::IID)?,
                    String::from_utf8_lossy(name).into_owned(),
                ))
            }
            Value::Varint(_) => None,
        })
        .collect();
    let names: Vec<&str> = iids.iter().map(|iid| interned[iid].as_str()).collect();
    let iid = |column: Column| column.name();
    assert!(names.contains(&iid(Column::Unfinished)), "{names:?}");
    assert!(names.contains(&iid(Column::UnfinishedReason)), "{names:?}");
    assert!(!names.contains(&iid(Column::Ret)), "{names:?}");
    assert!(!names.contains(&iid(Column::LatencyNs)), "{names:?}");
}
