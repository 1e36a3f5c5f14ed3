//! Integration tests of the capture format (`snoopcap::format`): round trips,
//! truncation at every byte, single-byte corruption everywhere, lying lengths,
//! garbage inputs, forward compatibility, non-seekable input, and the golden
//! header bytes of docs/FORMAT.md.

use std::io::{self, Read, Write};

use proptest::prelude::*;
use snoopcap::format::{
    CaptureHeader, CaptureReader, CaptureWriter, CgroupPath, ClockAnchor, ContainerInfo,
    DamageKind, FormatError, FrameHeader, KindCount, LossCounters, ProcessInfo, Record,
    RedactionCount, Trailer, WriterOptions, FORMAT_VERSION, FRAME_HEADER_LEN,
};

/// An owned copy of a [`Record`], for comparing sequences.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Rec {
    Kernel(Vec<u8>),
    Anchor(ClockAnchor),
    Loss(LossCounters),
    Cgroup(CgroupPath),
    Process(ProcessInfo),
    Context(Vec<u8>),
    Container(ContainerInfo),
    Redaction(RedactionCount),
}

impl Rec {
    fn from_record(r: Record<'_>) -> Rec {
        match r {
            Record::Kernel(b) => Rec::Kernel(b.to_vec()),
            Record::ClockAnchor(a) => Rec::Anchor(a),
            Record::LossCounters(l) => Rec::Loss(l),
            Record::CgroupPath(c) => Rec::Cgroup(c),
            Record::Process(p) => Rec::Process(p),
            Record::Context(b) => Rec::Context(b.to_vec()),
            Record::Container(c) => Rec::Container(c),
            Record::RedactionCount(r) => Rec::Redaction(r),
        }
    }

    fn push<W: snoopcap::format::SyncSink>(&self, w: &mut CaptureWriter<W>) {
        match self {
            Rec::Kernel(b) => w.push_kernel_record(b),
            Rec::Anchor(a) => w.push_clock_anchor(a),
            Rec::Loss(l) => w.push_loss_counters(l),
            Rec::Cgroup(c) => w.push_cgroup_path(c),
            Rec::Process(p) => w.push_process(p),
            Rec::Context(b) => w.push_context_record(b),
            Rec::Container(c) => w.push_container(c),
            Rec::Redaction(r) => w.push_redaction_count(r),
        }
        .expect("push");
    }
}

/// What a reader made of an input.
#[derive(Debug)]
struct Outcome {
    records: Vec<Rec>,
    errors: Vec<FormatError>,
    damage: Vec<snoopcap::format::Damage>,
    trailer: Option<Trailer>,
    header: CaptureHeader,
    stats: snoopcap::format::ReaderStats,
}

/// Reads everything, collecting records and errors. Fails the test if the
/// reader does not end within a bound proportional to the input.
fn read_all<R: Read>(input: R, limit: usize) -> Result<Outcome, FormatError> {
    read_all_windowed(input, limit, None, None)
}

fn read_all_windowed<R: Read>(
    input: R,
    limit: usize,
    since: Option<u64>,
    until: Option<u64>,
) -> Result<Outcome, FormatError> {
    let mut reader = CaptureReader::new(input)?;
    reader.set_time_window(since, until);
    let mut records = Vec::new();
    let mut errors = Vec::new();
    let mut calls = 0;
    loop {
        calls += 1;
        assert!(calls <= limit + 10, "reader does not end");
        match reader.next_record() {
            Ok(Some(r)) => records.push(Rec::from_record(r)),
            Ok(None) => break,
            Err(e) => {
                let recoverable = e.is_recoverable();
                errors.push(e);
                if !recoverable {
                    // The next call must end the stream.
                    assert!(matches!(reader.next_record(), Ok(None)));
                    break;
                }
            }
        }
    }
    // Ended readers stay ended.
    assert!(matches!(reader.next_record(), Ok(None)));
    Ok(Outcome {
        records,
        errors,
        damage: reader.damage().to_vec(),
        trailer: reader.trailer().cloned(),
        header: reader.header().clone(),
        stats: reader.stats().clone(),
    })
}

fn kernel(ts: u64, body: &[u8]) -> Vec<u8> {
    let mut r = ts.to_le_bytes().to_vec();
    r.extend_from_slice(body);
    r
}

/// Deterministic bytes that do not compress.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn sample_header() -> CaptureHeader {
    CaptureHeader {
        tool: "snoopcap record".into(),
        tool_version: "0.1.0".into(),
        hostname: "host".into(),
        sysname: "Linux".into(),
        release: "6.8.0".into(),
        kernel_version: "#1 SMP".into(),
        machine: "x86_64".into(),
        os_name: "Debian GNU/Linux 13".into(),
        boot_id: "5f1c0d5e-0000-4000-8000-000000000000".into(),
        num_cpus: 2,
        page_size: 4096,
        utc_offset_secs: 3600,
        clock: ClockAnchor {
            boot_ns: 1_000,
            wall_ns: 1_700_000_000_000_000_000,
            uncertainty_ns: 250,
        },
        clock_method: "clock_gettime pair".into(),
        start_wall_ns: 1_700_000_000_000_000_100,
        command_line: vec!["snoopcap".into(), "record".into()],
        events: vec!["exec".into(), "mount".into()],
        filters: vec!["uid=1000".into()],
        layout_version: 1,
        ringbuf_bytes: 1 << 22,
        max_args: 20,
        arg_size: 256,
        byte_order: "little".into(),
        provenance: Default::default(),
    }
}

fn sample_trailer() -> Trailer {
    Trailer {
        stop_reason: "SIGINT".into(),
        end_wall_ns: 1_700_000_001_000_000_000,
        records_by_kind: vec![KindCount {
            syscall: 1,
            kind: 1,
            count: 4,
        }],
        lost: LossCounters {
            per_cpu: vec![vec![0, 1], vec![2, 0]],
        },
        ..Trailer::default()
    }
}

fn small_opts() -> WriterOptions {
    WriterOptions {
        zstd_level: 1,
        ..WriterOptions::default()
    }
}

/// A capture written frame by frame (one explicit flush per group).
struct Built {
    bytes: Vec<u8>,
    header_len: usize,
    /// (end offset of the frame, records written up to and including it).
    frame_ends: Vec<(usize, usize)>,
    records: Vec<Rec>,
    trailer: Trailer,
}

fn build(
    groups: &[Vec<Rec>],
    header: &CaptureHeader,
    trailer: &Trailer,
    opts: WriterOptions,
) -> Built {
    let mut w = CaptureWriter::new(Vec::new(), header, opts).expect("writer");
    let header_len = w.bytes_written() as usize;
    let mut frame_ends = Vec::new();
    let mut records = Vec::new();
    for g in groups {
        for r in g {
            r.push(&mut w);
            records.push(r.clone());
        }
        w.flush_frame().expect("flush");
        if !g.is_empty() {
            frame_ends.push((w.bytes_written() as usize, records.len()));
        }
    }
    let bytes_before_trailer = w.bytes_written();
    let frames = w.frames_written();
    let bytes = w.finish(trailer).expect("finish");
    let timestamps: Vec<u64> = records
        .iter()
        .filter_map(|r| match r {
            Rec::Kernel(b) => Some(u64::from_le_bytes(b[..8].try_into().unwrap())),
            _ => None,
        })
        .collect();
    let mut expected = trailer.clone();
    expected.first_ts_ns = timestamps.first().copied().unwrap_or(0);
    expected.last_ts_ns = timestamps.last().copied().unwrap_or(0);
    expected.frames = frames;
    expected.bytes = bytes_before_trailer;
    expected.records = timestamps.len() as u64;
    Built {
        bytes,
        header_len,
        frame_ends,
        records,
        trailer: expected,
    }
}

/// A few frames of incompressible kernel records and every metadata kind,
/// about 3 KB.
fn small_capture() -> Built {
    let groups = vec![
        vec![
            Rec::Kernel(kernel(100, &noise(1, 200))),
            Rec::Anchor(ClockAnchor {
                boot_ns: 150,
                wall_ns: 1_700_000_000_000_000_150,
                uncertainty_ns: 20,
            }),
            Rec::Kernel(kernel(200, &noise(2, 300))),
        ],
        vec![
            Rec::Cgroup(CgroupPath {
                id: 42,
                path: b"/sys/fs/cgroup/user.slice\xff".to_vec(),
            }),
            Rec::Kernel(kernel(300, &noise(3, 250))),
            Rec::Loss(LossCounters {
                per_cpu: vec![vec![1, 2, 3], vec![]],
            }),
        ],
        vec![
            Rec::Kernel(kernel(400, &noise(4, 500))),
            Rec::Kernel(kernel(500, &noise(5, 8))),
        ],
    ];
    build(&groups, &sample_header(), &sample_trailer(), small_opts())
}

fn is_subsequence(sub: &[Rec], of: &[Rec]) -> bool {
    let mut it = of.iter();
    sub.iter().all(|s| it.any(|o| o == s))
}

// ---------------------------------------------------------------- round trips

fn text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "(?s).{0,24}"]
}

fn texts() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(text(), 0..4)
}

fn anchor() -> impl Strategy<Value = ClockAnchor> {
    (any::<u64>(), any::<i64>(), any::<u64>()).prop_map(|(boot_ns, wall_ns, uncertainty_ns)| {
        ClockAnchor {
            boot_ns,
            wall_ns,
            uncertainty_ns,
        }
    })
}

fn loss() -> impl Strategy<Value = LossCounters> {
    prop::collection::vec(prop::collection::vec(any::<u64>(), 0..4), 0..4)
        .prop_map(|per_cpu| LossCounters { per_cpu })
}

fn header() -> impl Strategy<Value = CaptureHeader> {
    (
        (
            text(),
            text(),
            text(),
            text(),
            text(),
            text(),
            text(),
            text(),
            text(),
        ),
        (
            any::<u32>(),
            any::<u32>(),
            any::<i32>(),
            anchor(),
            text(),
            any::<i64>(),
        ),
        (
            texts(),
            texts(),
            texts(),
            any::<u32>(),
            any::<u64>(),
            any::<u32>(),
            any::<u32>(),
            text(),
        ),
    )
        .prop_map(|(a, b, c)| CaptureHeader {
            tool: a.0,
            tool_version: a.1,
            hostname: a.2,
            sysname: a.3,
            release: a.4,
            kernel_version: a.5,
            machine: a.6,
            os_name: a.7,
            boot_id: a.8,
            num_cpus: b.0,
            page_size: b.1,
            utc_offset_secs: b.2,
            clock: b.3,
            clock_method: b.4,
            start_wall_ns: b.5,
            command_line: c.0,
            events: c.1,
            filters: c.2,
            layout_version: c.3,
            ringbuf_bytes: c.4,
            max_args: c.5,
            arg_size: c.6,
            byte_order: c.7,
            provenance: Default::default(),
        })
}

fn record() -> impl Strategy<Value = Rec> {
    prop_oneof![
        6 => prop::collection::vec(any::<u8>(), 8..120).prop_map(Rec::Kernel),
        1 => anchor().prop_map(Rec::Anchor),
        1 => loss().prop_map(Rec::Loss),
        1 => (any::<u64>(), prop::collection::vec(any::<u8>(), 0..40))
            .prop_map(|(id, path)| Rec::Cgroup(CgroupPath { id, path })),
        1 => prop::collection::vec(any::<u8>(), 8..60).prop_map(Rec::Context),
        1 => (any::<u64>(), text(), text()).prop_map(|(cgroup_id, id, name)| Rec::Container(ContainerInfo {
            cgroup_id, id, engine: "docker".into(), name, image: "img:1".into(), image_id: String::new(),
        })),
        1 => (any::<u32>(), any::<u64>(), prop::collection::vec(any::<u64>(), 0..4))
            .prop_map(|(step, replacements, by_rule)| Rec::Redaction(RedactionCount {
                step, replacements, by_rule, strings: 1,
            })),
    ]
}

fn trailer() -> impl Strategy<Value = Trailer> {
    (
        text(),
        any::<i64>(),
        prop::collection::vec(
            (any::<u8>(), any::<u8>(), any::<u64>()).prop_map(|(syscall, kind, count)| KindCount {
                syscall,
                kind,
                count,
            }),
            0..6,
        ),
        loss(),
        // Values the writer must overwrite.
        any::<(u64, u64, u64, u64, u64)>(),
    )
        .prop_map(
            |(stop_reason, end_wall_ns, records_by_kind, lost, junk)| Trailer {
                stop_reason,
                end_wall_ns,
                first_ts_ns: junk.0,
                last_ts_ns: junk.1,
                records_by_kind,
                lost,
                frames: junk.2,
                bytes: junk.3,
                records: junk.4,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn round_trip(
        h in header(),
        groups in prop::collection::vec(prop::collection::vec(record(), 0..12), 0..6),
        t in trailer(),
        max_frame_bytes in 0usize..2048,
    ) {
        let opts = WriterOptions { max_frame_bytes, zstd_level: 1, ..WriterOptions::default() };
        let built = build(&groups, &h, &t, opts);
        let out = read_all(&built.bytes[..], built.bytes.len()).expect("header");
        prop_assert_eq!(&out.header, &h);
        prop_assert_eq!(&out.records, &built.records);
        prop_assert!(out.errors.is_empty(), "{:?}", out.errors);
        prop_assert!(out.damage.is_empty(), "{:?}", out.damage);
        prop_assert_eq!(out.trailer.as_ref(), Some(&built.trailer));
        prop_assert_eq!(out.stats.data_frames, built.trailer.frames);
        prop_assert_eq!(out.stats.kernel_records, built.trailer.records);
    }
}

#[test]
fn round_trip_through_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.scap");
    let file = std::fs::File::create(&path).unwrap();
    let opts = WriterOptions {
        sync_each_frame: true,
        ..small_opts()
    };
    let mut w = CaptureWriter::new(file, &sample_header(), opts).unwrap();
    for i in 0..1000u64 {
        w.push_kernel_record(&kernel(i + 1, &noise(i, (i % 50) as usize)))
            .unwrap();
        if i % 300 == 0 {
            w.flush_frame().unwrap();
        }
    }
    let written = w.records_written();
    assert!(written > 0 && written < 1000, "some records still pending");
    w.finish(&sample_trailer()).unwrap();
    let out = read_all(std::fs::File::open(&path).unwrap(), 2000).unwrap();
    assert_eq!(out.records.len(), 1000);
    assert_eq!(out.records[999], Rec::Kernel(kernel(1000, &noise(999, 49))));
    let t = out.trailer.unwrap();
    assert_eq!((t.first_ts_ns, t.last_ts_ns, t.records), (1, 1000, 1000));
    assert_eq!(
        t.bytes + 48,
        std::fs::metadata(&path).unwrap().len() - {
            // The trailer frame's compressed payload length.
            let bytes = std::fs::read(&path).unwrap();
            let at = t.bytes as usize;
            u64::from(u32::from_le_bytes(
                bytes[at + 8..at + 12].try_into().unwrap(),
            ))
        }
    );
}

// ----------------------------------------------------------------- truncation

#[test]
fn truncated_at_every_byte() {
    let b = small_capture();
    let full = b.bytes.len();
    assert!(b.frame_ends.len() == 3 && full > 1500, "{full}");
    for cut in 0..=full {
        let input = &b.bytes[..cut];
        let result = read_all(input, cut);
        if cut < b.header_len {
            let err = result.expect_err("a cut header must not open");
            if cut == 0 {
                assert!(matches!(err, FormatError::Empty), "{err}");
            } else {
                assert!(
                    matches!(err, FormatError::Truncated { .. }),
                    "cut {cut}: {err}"
                );
            }
            assert!(!err.to_string().contains('\n'));
            continue;
        }
        let out = result.unwrap_or_else(|e| panic!("cut {cut}: {e}"));
        let complete = b
            .frame_ends
            .iter()
            .rev()
            .find(|(end, _)| *end <= cut)
            .map(|(_, n)| *n)
            .unwrap_or(0);
        assert_eq!(out.records, b.records[..complete], "cut {cut}");
        let on_boundary = cut == b.header_len || b.frame_ends.iter().any(|(end, _)| *end == cut);
        if cut == full {
            assert!(out.errors.is_empty(), "{:?}", out.errors);
            assert_eq!(out.trailer.as_ref(), Some(&b.trailer));
        } else if on_boundary {
            assert!(out.errors.is_empty(), "cut {cut}: {:?}", out.errors);
            assert!(out.damage.is_empty());
            assert!(out.trailer.is_none(), "cut short: no trailer");
        } else {
            assert_eq!(out.errors.len(), 1, "cut {cut}: {:?}", out.errors);
            assert!(
                matches!(out.errors[0], FormatError::Truncated { .. }),
                "cut {cut}: {}",
                out.errors[0]
            );
            assert!(!out.errors[0].is_recoverable());
            assert!(out.trailer.is_none());
            assert_eq!(out.damage.len(), 1);
            assert_eq!(out.damage[0].kind, DamageKind::Truncated);
        }
    }
}

// ------------------------------------------------------------------ bit flips

#[test]
fn every_single_byte_flip_is_detected() {
    let b = small_capture();
    assert!(b.bytes.len() < 4096);
    for at in 0..b.bytes.len() {
        for mask in [0x01u8, 0x80, 0xff] {
            let mut bytes = b.bytes.clone();
            bytes[at] ^= mask;
            match read_all(&bytes[..], bytes.len()) {
                Err(e) => {
                    assert!(
                        at < b.header_len,
                        "byte {at}: only the header may fail to open: {e}"
                    );
                    assert!(!e.to_string().contains('\n'));
                }
                Ok(out) => {
                    assert!(
                        at >= b.header_len,
                        "byte {at} ^ {mask:#x}: damaged header opened"
                    );
                    assert_eq!(out.header, sample_header());
                    // Every byte is checksummed: a flip never goes unnoticed.
                    assert!(
                        !out.errors.is_empty() && !out.damage.is_empty(),
                        "byte {at} ^ {mask:#x} went unnoticed"
                    );
                    if out.errors.is_empty() && out.damage.is_empty() {
                        assert_eq!(out.records, b.records);
                    }
                    assert!(
                        is_subsequence(&out.records, &b.records),
                        "byte {at} ^ {mask:#x}: records not from the original"
                    );
                    // Frames are all or nothing: only whole frames go missing.
                    let lost = b.records.len() - out.records.len();
                    let frame_sizes = [3usize, 3, 2];
                    assert!(
                        lost == 0 || frame_sizes.contains(&lost),
                        "byte {at} ^ {mask:#x}: {lost} records lost"
                    );
                    for e in &out.errors {
                        assert!(!e.to_string().contains('\n'));
                    }
                }
            }
        }
    }
}

#[test]
fn corrupt_payload_is_reported_with_offset_and_reading_goes_on() {
    let b = small_capture();
    let (first_end, first_n) = b.frame_ends[0];
    let mut bytes = b.bytes.clone();
    bytes[first_end + FRAME_HEADER_LEN + 10] ^= 0x55; // in frame 2's payload
    let mut r = CaptureReader::new(&bytes[..]).unwrap();
    for _ in 0..first_n {
        assert!(r.next_record().unwrap().is_some());
    }
    let err = r.next_record().unwrap_err();
    assert!(err.is_recoverable());
    assert!(
        err.to_string().starts_with(&format!(
            "corrupt frame at byte {first_end}: payload checksum mismatch"
        )),
        "{err}"
    );
    let mut rest = Vec::new();
    while let Some(rec) = r.next_record().unwrap() {
        rest.push(Rec::from_record(rec));
    }
    assert_eq!(rest, b.records[b.frame_ends[1].1..]);
    assert_eq!(r.trailer(), Some(&b.trailer));
    assert_eq!(r.damage().len(), 1);
    assert_eq!(r.damage()[0].offset, first_end as u64);
    assert_eq!(r.damage()[0].kind, DamageKind::CorruptFrame);
}

#[test]
fn garbage_between_frames_is_skipped_by_resynchronising() {
    let b = small_capture();
    let first_end = b.frame_ends[0].0;
    let mut bytes = b.bytes[..first_end].to_vec();
    // Junk including a fake magic with a bad header checksum.
    bytes.extend_from_slice(b"SCFRjunk");
    bytes.extend_from_slice(&noise(9, 100_000));
    let junk_len = bytes.len() - first_end;
    bytes.extend_from_slice(&b.bytes[first_end..]);
    let out = read_all(&bytes[..], bytes.len()).unwrap();
    assert_eq!(out.records, b.records, "every frame survives");
    // docs/FORMAT.md, Recovery: the bad header and the bytes skipped after
    // it are both reported, each with its offset.
    assert_eq!(out.errors.len(), 2, "{:?}", out.errors);
    assert!(
        matches!(out.errors[0], FormatError::Corrupt { offset, .. } if offset == first_end as u64)
    );
    assert!(
        matches!(out.errors[1], FormatError::Skipped { offset, len, next: Some(next) }
            if offset == first_end as u64 + 1 && len == junk_len as u64 - 1 && next == (first_end + junk_len) as u64),
        "{}",
        out.errors[1]
    );
    assert_eq!(out.damage.len(), 2, "{:?}", out.damage);
    assert_eq!(out.damage[1].kind, DamageKind::Skipped);
    assert_eq!(out.damage[1].offset, first_end as u64 + 1);
    assert_eq!(out.damage[1].len, junk_len as u64 - 1);
    assert!(out.trailer.is_some());
}

/// (offset, kind) of every damage entry, and every error's offset.
fn damage_and_error_offsets(out: &Outcome) -> (Vec<(u64, DamageKind)>, Vec<Option<u64>>) {
    (
        out.damage.iter().map(|d| (d.offset, d.kind)).collect(),
        out.errors.iter().map(FormatError::offset).collect(),
    )
}

/// docs/FORMAT.md, Recovery: after a dropped payload reading goes on at
/// `48 + C`, and whatever is wrong there is reported in its turn: an invalid
/// header (with the bytes skipped after it) ...
#[test]
fn a_dropped_payload_then_an_invalid_header_are_both_reported() {
    let b = small_capture();
    let (f2, f3, f4) = (b.frame_ends[0].0, b.frame_ends[1].0, b.frame_ends[2].0);
    let mut bytes = b.bytes.clone();
    bytes[f2 + FRAME_HEADER_LEN + 10] ^= 0x55; // frame 2's payload
    bytes[f3 + 3] = b'X'; // frame 3's magic
    let out = read_all(&bytes[..], bytes.len()).unwrap();
    assert_eq!(out.records, b.records[..b.frame_ends[0].1], "frame 1 only");
    let messages: Vec<String> = out.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        messages,
        vec![
            format!("corrupt frame at byte {f2}: payload checksum mismatch (stored {:#010x}, computed {:#010x})",
                u32::from_le_bytes(bytes[f2 + 40..f2 + 44].try_into().unwrap()),
                crc32(&bytes[f2 + FRAME_HEADER_LEN..f3])),
            format!("corrupt frame at byte {f3}: no frame magic (found [53, 43, 46, 58] instead of \"SCFR\")"),
            format!(
                "skipped {} bytes from byte {} to the next valid frame header at byte {f4}",
                f4 - f3 - 1,
                f3 + 1
            ),
        ]
    );
    let f = |x: usize| x as u64;
    assert_eq!(
        damage_and_error_offsets(&out),
        (
            vec![
                (f(f2), DamageKind::CorruptFrame),
                (f(f3), DamageKind::CorruptFrame),
                (f(f3) + 1, DamageKind::Skipped)
            ],
            vec![Some(f(f2)), Some(f(f3)), Some(f(f3) + 1)]
        )
    );
    assert!(out.trailer.is_some(), "the trailer after them is read");
}

/// ... a header cut short (truncated, not "skipped") ...
#[test]
fn a_dropped_payload_then_a_partial_header_is_truncated() {
    let b = small_capture();
    let (f2, f3) = (b.frame_ends[0].0, b.frame_ends[1].0);
    let mut bytes = b.bytes[..f3 + 20].to_vec();
    bytes[f2 + FRAME_HEADER_LEN + 10] ^= 0x55;
    let out = read_all(&bytes[..], bytes.len()).unwrap();
    assert_eq!(out.errors.len(), 2, "{:?}", out.errors);
    assert!(matches!(out.errors[0], FormatError::Corrupt { offset, .. } if offset == f2 as u64));
    assert_eq!(
        out.errors[1].to_string(),
        format!(
            "capture truncated at byte {f3}: the input ends 20 bytes into a 48-byte frame header"
        )
    );
    assert_eq!(
        damage_and_error_offsets(&out).0,
        vec![
            (f2 as u64, DamageKind::CorruptFrame),
            (f3 as u64, DamageKind::Truncated)
        ]
    );
    assert!(out.trailer.is_none());
}

/// ... and bytes to the end of the input with no valid header in them.
#[test]
fn a_dropped_payload_then_garbage_to_the_end_is_reported() {
    let b = small_capture();
    let (f2, f3) = (b.frame_ends[0].0, b.frame_ends[1].0);
    let mut bytes = b.bytes[..f3].to_vec();
    bytes[f2 + FRAME_HEADER_LEN + 10] ^= 0x55;
    bytes.extend_from_slice(&noise(11, 500));
    let out = read_all(&bytes[..], bytes.len()).unwrap();
    let messages: Vec<String> = out.errors.iter().skip(1).map(ToString::to_string).collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(
        messages[0].starts_with(&format!("corrupt frame at byte {f3}: no frame magic")),
        "{messages:?}"
    );
    assert_eq!(
        messages[1],
        format!(
            "skipped 499 bytes from byte {} to the end of the input: no further valid frame header",
            f3 + 1
        )
    );
    assert_eq!(damage_and_error_offsets(&out).0.len(), 3);
    assert!(out.trailer.is_none());
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(bytes);
    h.finalize()
}

#[test]
fn a_removed_frame_is_caught_by_the_trailer() {
    let b = small_capture();
    let (e1, n1) = b.frame_ends[0];
    let (e2, n2) = b.frame_ends[1];
    let mut bytes = b.bytes[..e1].to_vec();
    bytes.extend_from_slice(&b.bytes[e2..]);
    let out = read_all(&bytes[..], bytes.len()).unwrap();
    let mut expected = b.records[..n1].to_vec();
    expected.extend_from_slice(&b.records[n2..]);
    assert_eq!(out.records, expected);
    assert_eq!(out.errors.len(), 1);
    assert!(
        out.errors[0]
            .to_string()
            .contains("the trailer counts 3 data frames"),
        "{}",
        out.errors[0]
    );
    assert_eq!(out.damage[0].kind, DamageKind::TrailerMismatch);
}

#[test]
fn data_after_the_trailer_is_reported() {
    let b = small_capture();
    let mut bytes = b.bytes.clone();
    bytes.extend_from_slice(b"more");
    let out = read_all(&bytes[..], bytes.len()).unwrap();
    assert_eq!(out.records, b.records);
    assert_eq!(out.trailer.as_ref(), Some(&b.trailer));
    assert_eq!(out.errors.len(), 1);
    assert!(
        matches!(out.errors[0], FormatError::TrailingData { offset } if offset == b.bytes.len() as u64)
    );
    assert_eq!(out.damage[0].kind, DamageKind::TrailingData);
}

// --------------------------------------------------------------- lying lengths

#[test]
fn lying_header_body_length_is_rejected() {
    let b = small_capture();
    let mut bytes = b.bytes.clone();
    bytes[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
    let err = read_all(&bytes[..], 0).unwrap_err();
    assert!(matches!(err, FormatError::BadHeader { .. }), "{err}");
    assert!(
        err.to_string().contains("exceeds the maximum of 1048576"),
        "{err}"
    );
}

/// Rewrites the frame header at `at` and fixes its checksum.
fn patch_frame(bytes: &mut [u8], at: usize, f: impl FnOnce(&mut FrameHeader)) {
    let hb: [u8; FRAME_HEADER_LEN] = bytes[at..at + FRAME_HEADER_LEN].try_into().unwrap();
    let mut h = FrameHeader::parse(&hb).unwrap();
    f(&mut h);
    bytes[at..at + FRAME_HEADER_LEN].copy_from_slice(&h.encode());
}

#[test]
fn lying_frame_lengths_are_rejected_and_reading_goes_on() {
    let b = small_capture();
    let (first_end, n1) = b.frame_ends[0];
    for (which, patch) in [
        (
            "compressed",
            (|h: &mut FrameHeader| h.compressed_len = u32::MAX) as Patch,
        ),
        ("uncompressed", |h: &mut FrameHeader| {
            h.uncompressed_len = u32::MAX
        }),
    ] {
        let mut bytes = b.bytes.clone();
        patch_frame(&mut bytes, first_end, patch);
        let out = read_all(&bytes[..], bytes.len()).unwrap();
        // The header, then the bytes skipped to the next valid one.
        assert_eq!(out.errors.len(), 2, "{:?}", out.errors);
        assert!(matches!(out.errors[1], FormatError::Skipped { .. }));
        let msg = out.errors[0].to_string();
        assert_eq!(
            msg,
            format!(
                "corrupt frame at byte {first_end}: {which} payload length 4294967295 exceeds the maximum of 16777216 bytes"
            )
        );
        let mut expected = b.records[..n1].to_vec();
        expected.extend_from_slice(&b.records[b.frame_ends[1].1..]);
        assert_eq!(out.records, expected);
    }
}

type Patch = fn(&mut FrameHeader);

#[test]
fn lengths_that_disagree_with_the_payload_are_corrupt() {
    let b = small_capture();
    let at = b.header_len;
    let cases: [(Patch, &str); 4] = [
        (|h| h.uncompressed_len -= 1, "the header says"),
        (
            |h| h.record_count += 1,
            "the header counts 4 envelopes, the payload holds 3",
        ),
        (
            |h| h.first_ts = 1,
            "are not those of its first and last kernel records",
        ),
        (|h| h.compression = 9, "unknown compression method 9"),
    ];
    for (patch, expected) in cases {
        let mut bytes = b.bytes.clone();
        patch_frame(&mut bytes, at, patch);
        let out = read_all(&bytes[..], bytes.len()).unwrap();
        assert_eq!(out.errors.len(), 1, "{expected}: {:?}", out.errors);
        assert!(
            out.errors[0].to_string().contains(expected),
            "{}",
            out.errors[0]
        );
        assert_eq!(out.records, b.records[b.frame_ends[0].1..]);
        assert_eq!(out.trailer.as_ref(), Some(&b.trailer));
    }
    // A compressed length that cuts the payload short of its zstd frame.
    let mut bytes = b.bytes.clone();
    patch_frame(&mut bytes, at, |h| {
        h.compressed_len -= 1;
        h.payload_crc = crc32fast::hash(&b.bytes[at + 48..b.frame_ends[0].0 - 1]);
    });
    let out = read_all(&bytes[..], bytes.len()).unwrap();
    assert!(
        out.errors[0].to_string().contains("zstd"),
        "{}",
        out.errors[0]
    );
}

// ------------------------------------------------------------------- garbage

#[test]
fn garbage_inputs_give_one_line_errors() {
    let text = b"#!/bin/sh\necho hello world\n".to_vec();
    let random = noise(77, 5000);
    let mut newer = small_capture().bytes;
    newer[8..10].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    let mut zero = small_capture().bytes;
    zero[8..10].copy_from_slice(&0u16.to_le_bytes());
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (Vec::new(), "empty input: not a snoopcap capture"),
        (text, "not a snoopcap capture: it looks like text (starts with \"#!/bin/sh\\necho h\")"),
        (random.clone(), "not a snoopcap capture: it starts with bytes"),
        (vec![0x28, 0xb5, 0x2f, 0xfd, 0, 0], "not a snoopcap capture: it is zstd-compressed data"),
        (
            newer,
            "capture format version 2 is not supported: this snoopcap reads versions 1 to 1; a newer snoopcap is needed",
        ),
        (zero, "capture format version 0 is not supported"),
        (b"SNOOP".to_vec(), "capture truncated at byte 0"),
    ];
    for (input, expected) in cases {
        let err = read_all(&input[..], 0).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with(expected), "{msg:?} vs {expected:?}");
        assert!(!msg.contains('\n'), "{msg:?}");
    }
    // A header whose checksum does not match.
    let mut bad = small_capture();
    bad.bytes[20] ^= 4;
    let msg = read_all(&bad.bytes[..], 0).unwrap_err().to_string();
    assert!(msg.contains("header checksum mismatch"), "{msg}");
}

// ------------------------------------------------------ forward compatibility

fn raw_frame(frame_type: u8, payload: &[u8], count: u32, first: u64, last: u64) -> Vec<u8> {
    let comp = zstd::bulk::compress(payload, 1).unwrap();
    let h = FrameHeader {
        frame_type,
        compression: 1,
        compressed_len: comp.len() as u32,
        uncompressed_len: payload.len() as u32,
        record_count: count,
        first_ts: first,
        last_ts: last,
        payload_crc: crc32fast::hash(&comp),
    };
    let mut out = h.encode().to_vec();
    out.extend_from_slice(&comp);
    out
}

fn envelope(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut e = vec![kind];
    e.extend_from_slice(&(body.len() as u32).to_le_bytes());
    e.extend_from_slice(body);
    e
}

#[test]
fn unknown_envelope_kinds_and_frame_types_are_skipped() {
    let b = small_capture();
    let trailer_at = b.trailer.bytes as usize;
    let mut bytes = b.bytes[..trailer_at].to_vec();
    let k = kernel(900, b"newer");
    // Unknown kinds around a kernel record, and a clock anchor with a field
    // appended by a "newer" writer.
    let mut anchor = Vec::new();
    for v in [1u64, 2, 3, 0xabcd] {
        anchor.extend_from_slice(&v.to_le_bytes());
    }
    let payload = [
        envelope(200, b"future"),
        envelope(1, &k),
        envelope(0, b""),
        envelope(2, &anchor),
    ]
    .concat();
    bytes.extend_from_slice(&raw_frame(1, &payload, 4, 900, 900));
    bytes.extend_from_slice(&raw_frame(7, b"a frame type from the future", 0, 0, 0));
    let mut t = b.trailer.clone();
    t.frames += 1;
    t.bytes = bytes.len() as u64;
    let mut body = Vec::new();
    // Trailer encoding by hand: the documented field order.
    let s = |out: &mut Vec<u8>, v: &[u8]| {
        out.extend_from_slice(&(v.len() as u64).to_le_bytes());
        out.extend_from_slice(v);
    };
    s(&mut body, t.stop_reason.as_bytes());
    body.extend_from_slice(&t.end_wall_ns.to_le_bytes());
    body.extend_from_slice(&t.first_ts_ns.to_le_bytes());
    body.extend_from_slice(&t.last_ts_ns.to_le_bytes());
    body.extend_from_slice(&(t.records_by_kind.len() as u64).to_le_bytes());
    for kc in &t.records_by_kind {
        body.extend_from_slice(&[kc.syscall, kc.kind]);
        body.extend_from_slice(&kc.count.to_le_bytes());
    }
    body.extend_from_slice(&(t.lost.per_cpu.len() as u64).to_le_bytes());
    for cpu in &t.lost.per_cpu {
        body.extend_from_slice(&(cpu.len() as u64).to_le_bytes());
        for c in cpu {
            body.extend_from_slice(&c.to_le_bytes());
        }
    }
    for v in [t.frames, t.bytes, t.records] {
        body.extend_from_slice(&v.to_le_bytes());
    }
    body.extend_from_slice(b"appended trailer field");
    bytes.extend_from_slice(&raw_frame(2, &body, 0, 0, 0));

    let out = read_all(&bytes[..], bytes.len()).unwrap();
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let mut expected = b.records.clone();
    expected.push(Rec::Kernel(k));
    expected.push(Rec::Anchor(ClockAnchor {
        boot_ns: 1,
        wall_ns: 2,
        uncertainty_ns: 3,
    }));
    assert_eq!(out.records, expected);
    assert_eq!(out.stats.unknown_envelopes, 2);
    assert_eq!(out.stats.unknown_frames, 1);
    assert_eq!(out.damage.len(), 1);
    assert_eq!(out.damage[0].kind, DamageKind::UnknownFrameType);
    assert_eq!(out.trailer, Some(t));
}

#[test]
fn a_payload_of_two_zstd_frames_is_corrupt() {
    let b = small_capture();
    let trailer_at = b.trailer.bytes as usize;
    let mut bytes = b.bytes[..trailer_at].to_vec();
    let k = envelope(1, &kernel(5, b""));
    let mut comp = zstd::bulk::compress(&k, 1).unwrap();
    comp.extend_from_slice(&zstd::bulk::compress(&k, 1).unwrap());
    let h = FrameHeader {
        frame_type: 1,
        compression: 1,
        compressed_len: comp.len() as u32,
        uncompressed_len: 2 * k.len() as u32,
        record_count: 2,
        first_ts: 5,
        last_ts: 5,
        payload_crc: crc32fast::hash(&comp),
    };
    bytes.extend_from_slice(&h.encode());
    bytes.extend_from_slice(&comp);
    let out = read_all(&bytes[..], bytes.len()).unwrap();
    assert_eq!(out.records, b.records);
    assert_eq!(out.errors.len(), 1);
    assert!(
        out.errors[0]
            .to_string()
            .contains("not exactly one zstd frame"),
        "{}",
        out.errors[0]
    );
    assert!(out.trailer.is_none());
}

// ---------------------------------------------------------------- time window

#[test]
fn time_window_skips_whole_frames_by_their_header() {
    let groups = vec![
        vec![
            Rec::Kernel(kernel(100, b"a")),
            Rec::Kernel(kernel(200, b"b")),
        ],
        vec![Rec::Anchor(ClockAnchor::default())],
        vec![
            Rec::Kernel(kernel(300, b"c")),
            Rec::Kernel(kernel(400, b"d")),
        ],
        vec![
            Rec::Kernel(kernel(500, b"e")),
            Rec::Kernel(kernel(600, b"f")),
        ],
    ];
    let b = build(&groups, &sample_header(), &sample_trailer(), small_opts());
    let out = read_all_windowed(&b.bytes[..], b.bytes.len(), Some(250), Some(450)).unwrap();
    assert_eq!(
        out.records,
        vec![
            Rec::Anchor(ClockAnchor::default()),
            Rec::Kernel(kernel(300, b"c")),
            Rec::Kernel(kernel(400, b"d")),
        ]
    );
    assert_eq!(out.stats.skipped_frames, 2);
    assert!(out.errors.is_empty() && out.damage.is_empty());
    assert_eq!(out.trailer.as_ref(), Some(&b.trailer));
    // A frame that straddles an edge is kept whole.
    let out = read_all_windowed(&b.bytes[..], b.bytes.len(), Some(150), None).unwrap();
    assert_eq!(out.records, b.records);
    let out = read_all_windowed(&b.bytes[..], b.bytes.len(), None, Some(99)).unwrap();
    assert_eq!(out.records, vec![Rec::Anchor(ClockAnchor::default())]);
}

// ------------------------------------------------------------ non-seekable input

/// Hands out 1 to 7 bytes per read.
struct Trickle<'a> {
    data: &'a [u8],
    n: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.n = self.n % 7 + 1;
        let n = self.data.len().min(buf.len()).min(self.n);
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

#[test]
fn reads_from_non_seekable_streams() {
    let b = small_capture();
    let out = read_all(
        Trickle {
            data: &b.bytes,
            n: 0,
        },
        b.bytes.len(),
    )
    .unwrap();
    assert_eq!(out.records, b.records);
    assert_eq!(out.trailer.as_ref(), Some(&b.trailer));

    // Chained slices, with a corrupt frame to resynchronise over.
    let mut damaged = b.bytes.clone();
    damaged[b.header_len] = b'X';
    let (a, rest) = damaged.split_at(b.header_len + 20);
    let (m, z) = rest.split_at(700);
    let out = read_all(a.chain(m).chain(z), damaged.len()).unwrap();
    assert_eq!(out.records, b.records[b.frame_ends[0].1..]);
    assert_eq!(
        out.errors.len(),
        2,
        "the bad header and the bytes skipped after it"
    );

    // A real pipe.
    let mut child = std::process::Command::new("cat")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("cat");
    let mut stdin = child.stdin.take().unwrap();
    let data = b.bytes.clone();
    let feeder = std::thread::spawn(move || stdin.write_all(&data));
    let out = read_all(child.stdout.take().unwrap(), b.bytes.len()).unwrap();
    feeder.join().unwrap().unwrap();
    child.wait().unwrap();
    assert_eq!(out.records, b.records);
    assert_eq!(out.trailer.as_ref(), Some(&b.trailer));
}

// -------------------------------------------------------------------- golden

/// The header of docs/FORMAT.md's worked example.
fn golden_header() -> CaptureHeader {
    CaptureHeader {
        tool: "snoopcap record".into(),
        tool_version: "0.1.0".into(),
        hostname: "h".into(),
        sysname: "Linux".into(),
        release: "6.1".into(),
        kernel_version: "#1".into(),
        machine: "x86_64".into(),
        os_name: String::new(),
        boot_id: String::new(),
        num_cpus: 2,
        page_size: 4096,
        utc_offset_secs: 3600,
        clock: ClockAnchor {
            boot_ns: 1_000_000_000,
            wall_ns: 1_700_000_000_000_000_000,
            uncertainty_ns: 500,
        },
        clock_method: String::new(),
        start_wall_ns: 1_700_000_000_000_000_000,
        command_line: vec!["record".into()],
        events: vec!["exec".into()],
        filters: vec![],
        layout_version: 1,
        ringbuf_bytes: 1 << 20,
        max_args: 20,
        arg_size: 256,
        byte_order: "little".into(),
        provenance: Default::default(),
    }
}

/// docs/FORMAT.md, whose worked example must stay true.
const FORMAT_MD: &str = include_str!("../../docs/FORMAT.md");

/// The bytes of the hexdump that follows the golden-header marker in
/// docs/FORMAT.md (lines of: offset, hex bytes, `|ascii|`).
fn documented_header_bytes() -> Vec<u8> {
    let marker = FORMAT_MD
        .find("<!-- golden-header")
        .expect("FORMAT.md has the golden-header marker");
    let block = FORMAT_MD[marker..]
        .split("```")
        .nth(1)
        .expect("a fenced hexdump follows the marker");
    block
        .lines()
        .skip(1) // the fence's info string
        .flat_map(|l| {
            l.split_whitespace()
                .skip(1)
                .take_while(|t| t.len() == 2 && t.chars().all(|c| c.is_ascii_hexdigit()))
        })
        .map(|t| u8::from_str_radix(t, 16).unwrap())
        .collect()
}

#[test]
fn golden_file_header_bytes() {
    let w = CaptureWriter::new(Vec::new(), &golden_header(), small_opts()).unwrap();
    let bytes = w.get_ref().clone();
    let expected = documented_header_bytes();
    assert_eq!(
        bytes, expected,
        "docs/FORMAT.md's worked example is out of date"
    );
    let r = CaptureReader::new(&expected[..]).unwrap();
    assert_eq!(r.header(), &golden_header());
    assert_eq!(r.version(), 1);
    assert_eq!(r.flags(), 0);
}
