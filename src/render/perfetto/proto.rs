//! A protobuf encoder for the few messages of Perfetto's trace format that
//! the exporter writes: varints, length-delimited fields and nested
//! messages, appended to a `Vec<u8>`. No schema, no reflection: the field
//! numbers are the constants below, taken from Perfetto's protos
//! (protos/perfetto/trace/trace_packet.proto, track_event/*.proto,
//! clock_snapshot.proto, interned_data/interned_data.proto,
//! system_info.proto).
//!
//! A nested message is opened with [`begin`], which writes its tag and
//! reserves one length byte, and closed with [`end`], which writes the
//! length and, for a message of 128 bytes or more, moves its bytes up to
//! make room for a longer varint. Most messages here are short, so that move
//! is rare, and the encoding is the canonical one (what protoc writes).

/// Protobuf wire types.
const VARINT: u8 = 0;
const LEN: u8 = 2;

/// Appends `value` as a base-128 varint.
#[inline]
pub fn varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// How many bytes the varint of `value` takes.
#[inline]
pub fn varint_len(value: u64) -> usize {
    // 1 + floor(bits / 7), bits counted from the highest set bit.
    let bits = 64 - (value | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

#[inline]
fn tag(out: &mut Vec<u8>, field: u32, wire: u8) {
    varint(out, (u64::from(field) << 3) | u64::from(wire));
}

/// An unsigned integer, enum or bool field (`uint32`, `uint64`, enums).
#[inline]
pub fn uint(out: &mut Vec<u8>, field: u32, value: u64) {
    tag(out, field, VARINT);
    varint(out, value);
}

/// A signed `int32`/`int64` field: two's complement as a varint (ten bytes
/// for a negative value, as protobuf defines it).
#[inline]
pub fn int(out: &mut Vec<u8>, field: u32, value: i64) {
    uint(out, field, value as u64);
}

#[inline]
pub fn boolean(out: &mut Vec<u8>, field: u32, value: bool) {
    uint(out, field, u64::from(value));
}

/// A `bytes` field, or a `string` field whose bytes the caller made UTF-8.
#[inline]
pub fn bytes(out: &mut Vec<u8>, field: u32, value: &[u8]) {
    tag(out, field, LEN);
    varint(out, value.len() as u64);
    out.extend_from_slice(value);
}

/// A `string` field from bytes that may not be UTF-8: each invalid sequence
/// becomes U+FFFD (as the JSON output decodes them), so that every string
/// in the trace is valid UTF-8, as protobuf requires.
pub fn lossy_string(out: &mut Vec<u8>, field: u32, value: &[u8]) {
    match std::str::from_utf8(value) {
        Ok(_) => bytes(out, field, value),
        Err(_) => bytes(out, field, String::from_utf8_lossy(value).as_bytes()),
    }
}

/// Where an open nested message's length byte is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a nested message must be closed with end()"]
pub struct Nested(usize);

/// Opens a nested message (or a packed field) in field `field`.
#[inline]
pub fn begin(out: &mut Vec<u8>, field: u32) -> Nested {
    tag(out, field, LEN);
    out.push(0);
    Nested(out.len() - 1)
}

/// Closes the nested message opened at `at`: writes its length.
#[inline]
pub fn end(out: &mut Vec<u8>, at: Nested) {
    let Nested(at) = at;
    let body = at + 1;
    let len = out.len() - body;
    if len < 0x80 {
        out[at] = len as u8;
        return;
    }
    // The length needs more than the reserved byte: move the body up.
    let extra = varint_len(len as u64) - 1;
    let old_end = out.len();
    out.resize(old_end + extra, 0);
    out.copy_within(body..old_end, body + extra);
    let mut value = len as u64;
    for slot in &mut out[at..at + extra + 1] {
        *slot = (value as u8) | 0x80;
        value >>= 7;
    }
    out[at + extra] &= 0x7f;
}

/// Opens a nested message expected to be 128 bytes or longer (a packet, a
/// track event): two length bytes are reserved, so that closing it moves
/// nothing unless it reaches 16 KiB. A length under 128 is then written as
/// a two-byte varint (`0x80|len, 0x00`), a redundant form that protobuf
/// parsers accept (Perfetto's own writer pads lengths the same way).
#[inline]
pub fn begin_wide(out: &mut Vec<u8>, field: u32) -> Nested {
    tag(out, field, LEN);
    out.extend_from_slice(&[0x80, 0]);
    Nested(out.len() - 2)
}

/// Closes a message opened with [`begin_wide`].
#[inline]
pub fn end_wide(out: &mut Vec<u8>, at: Nested) {
    let Nested(at) = at;
    let body = at + 2;
    let len = out.len() - body;
    if len < 1 << 14 {
        out[at] = (len as u8) | 0x80;
        out[at + 1] = (len >> 7) as u8;
        return;
    }
    // Past 16 KiB (a huge argv): move the body up for a longer varint.
    let extra = varint_len(len as u64) - 2;
    let old_end = out.len();
    out.resize(old_end + extra, 0);
    out.copy_within(body..old_end, body + extra);
    let mut value = len as u64;
    for slot in &mut out[at..at + extra + 2] {
        *slot = (value as u8) | 0x80;
        value >>= 7;
    }
    out[at + extra + 1] &= 0x7f;
}

/// Field numbers, by message.
pub mod field {
    /// `Trace`: `repeated TracePacket packet = 1`.
    pub const TRACE_PACKET: u32 = 1;

    /// `TracePacket`.
    pub mod packet {
        pub const TIMESTAMP: u32 = 8;
        pub const CLOCK_SNAPSHOT: u32 = 6;
        pub const TRUSTED_PACKET_SEQUENCE_ID: u32 = 10;
        pub const TRACK_EVENT: u32 = 11;
        pub const INTERNED_DATA: u32 = 12;
        pub const SEQUENCE_FLAGS: u32 = 13;
        pub const PREVIOUS_PACKET_DROPPED: u32 = 42;
        pub const SYSTEM_INFO: u32 = 45;
        pub const TRACE_PACKET_DEFAULTS: u32 = 59;
        pub const TRACK_DESCRIPTOR: u32 = 60;
        pub const FIRST_PACKET_ON_SEQUENCE: u32 = 87;
    }

    /// `TracePacket.SequenceFlags`.
    pub mod sequence_flags {
        pub const INCREMENTAL_STATE_CLEARED: u64 = 1;
        pub const NEEDS_INCREMENTAL_STATE: u64 = 2;
    }

    /// `TracePacketDefaults`.
    pub mod defaults {
        pub const TIMESTAMP_CLOCK_ID: u32 = 58;
    }

    /// `ClockSnapshot` and its `Clock`; `BuiltinClock` values.
    pub mod clock {
        pub const CLOCKS: u32 = 1;
        pub const PRIMARY_TRACE_CLOCK: u32 = 2;
        pub const CLOCK_ID: u32 = 1;
        pub const TIMESTAMP: u32 = 2;
        pub const REALTIME: u64 = 1;
        pub const BOOTTIME: u64 = 6;
    }

    /// `SystemInfo` and `Utsname`.
    pub mod system_info {
        pub const UTSNAME: u32 = 1;
        pub const PAGE_SIZE: u32 = 6;
        pub const TIMEZONE_OFF_MINS: u32 = 7;
        pub const NUM_CPUS: u32 = 8;
        pub const SYSNAME: u32 = 1;
        pub const VERSION: u32 = 2;
        pub const RELEASE: u32 = 3;
        pub const MACHINE: u32 = 4;
    }

    /// `TrackDescriptor`; `ChildTracksOrdering` values.
    pub mod track {
        pub const UUID: u32 = 1;
        pub const NAME: u32 = 2;
        pub const PARENT_UUID: u32 = 5;
        pub const CHILD_ORDERING: u32 = 11;
        pub const DESCRIPTION: u32 = 14;
        pub const CHRONOLOGICAL: u64 = 2;
    }

    /// `TrackEvent`; `TrackEvent.Type` values.
    pub mod event {
        pub const CATEGORY_IIDS: u32 = 3;
        pub const DEBUG_ANNOTATIONS: u32 = 4;
        pub const TYPE: u32 = 9;
        pub const NAME_IID: u32 = 10;
        pub const TRACK_UUID: u32 = 11;
        pub const CATEGORIES: u32 = 22;
        pub const NAME: u32 = 23;
        pub const SLICE_BEGIN: u64 = 1;
        pub const SLICE_END: u64 = 2;
        pub const INSTANT: u64 = 3;
    }

    /// `DebugAnnotation`.
    pub mod annotation {
        pub const NAME_IID: u32 = 1;
        pub const BOOL_VALUE: u32 = 2;
        pub const UINT_VALUE: u32 = 3;
        pub const INT_VALUE: u32 = 4;
        pub const STRING_VALUE: u32 = 6;
        pub const NAME: u32 = 10;
        pub const DICT_ENTRIES: u32 = 11;
        pub const ARRAY_VALUES: u32 = 12;
        pub const STRING_VALUE_IID: u32 = 17;
    }

    /// `InternedData`, and its entries (`EventCategory`, `EventName`,
    /// `DebugAnnotationName`, `InternedString`: `iid = 1`, then the name or
    /// string as field 2).
    pub mod interned {
        pub const EVENT_CATEGORIES: u32 = 1;
        pub const EVENT_NAMES: u32 = 2;
        pub const DEBUG_ANNOTATION_NAMES: u32 = 3;
        pub const DEBUG_ANNOTATION_STRING_VALUES: u32 = 29;
        pub const IID: u32 = 1;
        pub const NAME: u32 = 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads a varint back (for the tests).
    fn read_varint(bytes: &[u8]) -> (u64, usize) {
        let mut value = 0u64;
        for (i, &byte) in bytes.iter().enumerate() {
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return (value, i + 1);
            }
        }
        panic!("unterminated varint");
    }

    #[test]
    fn varints_round_trip_and_are_minimal() {
        for value in [
            0,
            1,
            127,
            128,
            300,
            16_383,
            16_384,
            u32::MAX as u64,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            varint(&mut out, value);
            assert_eq!(read_varint(&out), (value, out.len()));
            assert_eq!(out.len(), varint_len(value), "{value}");
        }
        let mut out = Vec::new();
        int(&mut out, 1, -1);
        assert_eq!(out.len(), 11, "a negative int64 is ten varint bytes");
    }

    #[test]
    fn nested_lengths_of_every_size() {
        for len in [0usize, 1, 127, 128, 200, 16_383, 16_384, 70_000] {
            let mut out = vec![0xaa];
            let outer = begin(&mut out, 1);
            let inner = begin(&mut out, 2);
            out.extend(std::iter::repeat_n(7u8, len));
            end(&mut out, inner);
            end(&mut out, outer);
            // Outer: tag, length, then the inner message.
            assert_eq!(out[0], 0xaa);
            assert_eq!(out[1], (1 << 3) | 2);
            let (outer_len, n) = read_varint(&out[2..]);
            let inner_at = 2 + n;
            assert_eq!(outer_len as usize, out.len() - inner_at);
            assert_eq!(out[inner_at], (2 << 3) | 2);
            let (inner_len, m) = read_varint(&out[inner_at + 1..]);
            assert_eq!(inner_len as usize, len);
            assert!(out[inner_at + 1 + m..].iter().all(|&b| b == 7));
            assert_eq!(m, varint_len(len as u64), "canonical length for {len}");
        }
    }

    #[test]
    fn wide_lengths_of_every_size() {
        for len in [0usize, 1, 127, 128, 16_383, 16_384, 70_000, 3_000_000] {
            let mut out = Vec::new();
            let at = begin_wide(&mut out, 1);
            out.extend(std::iter::repeat_n(7u8, len));
            end_wide(&mut out, at);
            assert_eq!(out[0], (1 << 3) | 2);
            let (got, n) = read_varint(&out[1..]);
            assert_eq!(got as usize, len);
            assert_eq!(n, varint_len(len as u64).max(2));
            assert_eq!(out.len(), 1 + n + len);
            assert!(out[1 + n..].iter().all(|&b| b == 7));
        }
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        let mut out = Vec::new();
        lossy_string(&mut out, 3, b"a\xffb");
        assert_eq!(out, [(3 << 3) | 2, 5, b'a', 0xef, 0xbf, 0xbd, b'b']);
    }
}
