//! Byte-level escaping for the renderers.
//!
//! Two escapers, for two different jobs:
//!
//! - [`push_terminal_safe`]: the table's free text (execsnoop's ARGS, every
//!   COMM). bcc printed these bytes raw, only turning `\n` into `\\n` in
//!   ARGS. We keep that, and add terminal safety: no control byte from
//!   captured data reaches the terminal. Bytes < 0x20, 0x7f, bytes that are
//!   not part of valid UTF-8 and the C1 control code points U+0080..U+009F
//!   are written as `\xNN` (lowercase hex of each raw byte); printable UTF-8
//!   passes through unchanged.
//! - [`push_mount_string`]: mountsnoop's `decode_mount_string`, a quoted
//!   C-style literal with `\a \b \t \n \v \f \r \" \\` and `\xNN` for every
//!   other byte outside 0x20..=0x7e (so non-ASCII UTF-8 is shown byte by byte,
//!   exactly as bcc shows it).
//!
//! Plus the padding helpers that emulate Python's `%-Ns` (pads bytes) and
//! `'{:N}'.format` (pads code points).

use std::borrow::Cow;

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Appends `\xNN` for one byte.
pub fn push_hex_escape(out: &mut Vec<u8>, byte: u8) {
    out.extend_from_slice(&[
        b'\\',
        b'x',
        HEX_DIGITS[usize::from(byte >> 4)],
        HEX_DIGITS[usize::from(byte & 0x0f)],
    ]);
}

#[cfg(test)]
fn is_printable_ascii(byte: u8) -> bool {
    (0x20..0x7f).contains(&byte)
}

const ONES: u64 = u64::from_ne_bytes([1; 8]);
const HIGH: u64 = ONES * 0x80;

/// Eight bytes at once (a little-endian word): non-zero when one of them
/// is not printable ASCII (below 0x20, 0x7f, or from 0x80 up). Borrows and
/// carries only mark bytes above a real one, so "non-zero" is exact.
#[inline(always)]
pub(crate) fn unprintable_bytes(word: u64) -> u64 {
    let control = word.wrapping_sub(ONES * 0x20);
    // 0x7f + 1 carries into the high bit; 0x80.. have it already.
    let high = word.wrapping_add(ONES) | word;
    (control & !word | high) & HIGH
}

/// Eight bytes at once: non-zero when one of them is `byte` (exact, as
/// [`unprintable_bytes`]).
#[inline(always)]
pub(crate) fn equal_bytes(word: u64, byte: u8) -> u64 {
    let x = word ^ (ONES * u64::from(byte));
    x.wrapping_sub(ONES) & !x & HIGH
}

/// True when `special` (a word test as above) marks no byte of `bytes`: a
/// word at a time, the tail as an overlapping last word, a string shorter
/// than a word as one word of its bytes (see [`short_word`]).
#[inline(always)]
pub(crate) fn none_marked(bytes: &[u8], special: impl Fn(u64) -> u64) -> bool {
    let Some(last) = bytes.len().checked_sub(8) else {
        return short_word(bytes).is_none_or(|word| special(word) == 0);
    };
    let word = |chunk: &[u8]| {
        let mut word = [0u8; 8];
        if let Some(source) = chunk.get(..8) {
            word.copy_from_slice(source);
        }
        u64::from_le_bytes(word)
    };
    bytes.chunks_exact(8).all(|chunk| special(word(chunk)) == 0)
        && special(word(bytes.get(last..).unwrap_or_default())) == 0
}

/// A word holding every byte of `bytes` (shorter than a word) and no other,
/// some repeated: the first four and the last four (overlapping), or the
/// first, middle and last of three or fewer. `None` for no bytes.
#[inline(always)]
fn short_word(bytes: &[u8]) -> Option<u64> {
    let len = bytes.len();
    if len >= 4 {
        let half = |at: usize| {
            let mut half = [0u8; 4];
            if let Some(source) = bytes.get(at..at + 4) {
                half.copy_from_slice(source);
            }
            u64::from(u32::from_le_bytes(half))
        };
        return Some(half(0) | (half(len - 4) << 32));
    }
    let (&first, &middle, &last) = (bytes.first()?, bytes.get(len / 2)?, bytes.last()?);
    Some(u64::from_le_bytes([
        first, middle, last, first, first, first, first, first,
    ]))
}

/// True when every byte of `bytes` is printable ASCII (0x20..=0x7e): text
/// that is valid UTF-8 and has nothing [`push_terminal_safe`] escapes.
#[inline]
pub fn is_printable_ascii_text(bytes: &[u8]) -> bool {
    none_marked(bytes, unprintable_bytes)
}

/// Appends `bytes` with terminal-unsafe bytes escaped as `\xNN` (see the
/// module doc). With `newline_as_backslash_n`, a newline becomes the two
/// characters `\n` instead (bcc execsnoop's ARGS rule).
pub fn push_terminal_safe(out: &mut Vec<u8>, bytes: &[u8], newline_as_backslash_n: bool) {
    if is_printable_ascii_text(bytes) {
        out.extend_from_slice(bytes);
        return;
    }
    for chunk in bytes.utf8_chunks() {
        push_valid_terminal_safe(out, chunk.valid(), newline_as_backslash_n);
        for &byte in chunk.invalid() {
            push_hex_escape(out, byte);
        }
    }
}

/// [`push_terminal_safe`] for text already known to be valid UTF-8.
pub fn push_terminal_safe_str(out: &mut Vec<u8>, text: &str) {
    push_terminal_safe(out, text.as_bytes(), false);
}

/// Characters never written raw to a terminal: C0, DEL, C1, and the Unicode
/// bidirectional controls, which reorder what a terminal shows (a "Trojan
/// Source" command line).
pub fn is_terminal_unsafe(c: char) -> bool {
    matches!(
        c,
        '\0'..='\u{1f}'
            | '\u{7f}'..='\u{9f}'
            | '\u{61c}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
    )
}

fn push_valid_terminal_safe(out: &mut Vec<u8>, text: &str, newline_as_backslash_n: bool) {
    for character in text.chars() {
        let mut encoded = [0u8; 4];
        let encoded = character.encode_utf8(&mut encoded).as_bytes();
        match character {
            '\n' if newline_as_backslash_n => out.extend_from_slice(b"\\n"),
            c if is_terminal_unsafe(c) => {
                for &byte in encoded {
                    push_hex_escape(out, byte);
                }
            }
            _ => out.extend_from_slice(encoded),
        }
    }
}

/// bcc mountsnoop's `decode_mount_string`: `bytes` as a double-quoted,
/// C-escaped literal.
pub fn push_mount_string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    // Nearly every path and type is plain ASCII with nothing to escape:
    // checked a word at a time and copied whole.
    if none_marked(bytes, |word| {
        unprintable_bytes(word) | equal_bytes(word, b'"') | equal_bytes(word, b'\\')
    }) {
        out.extend_from_slice(bytes);
    } else {
        push_c_escaped(out, bytes);
    }
    out.push(b'"');
}

/// The inside of [`push_mount_string`]'s literal, a byte at a time.
fn push_c_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    // Runs of bytes shown as they are are copied at once.
    let mut run = 0;
    for (at, &byte) in bytes.iter().enumerate() {
        if (0x20..=0x7e).contains(&byte) && byte != b'"' && byte != b'\\' {
            continue;
        }
        out.extend_from_slice(&bytes[run..at]);
        run = at + 1;
        match byte {
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            0x0b => out.extend_from_slice(b"\\v"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x20..=0x7e => out.push(byte),
            _ => push_hex_escape(out, byte),
        }
    }
    out.extend_from_slice(&bytes[run..]);
}

/// UTF-8 text of captured bytes, invalid sequences replaced by U+FFFD.
/// Borrows (no allocation) when the bytes are valid UTF-8.
pub fn lossy(bytes: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

/// A kernel `comm` up to its first NUL (as Python's ctypes `c_char` arrays
/// read it), in case the buffer still carries its terminator or padding.
pub fn comm_bytes(comm: &[u8]) -> &[u8] {
    match comm.iter().position(|&byte| byte == 0) {
        Some(end) => &comm[..end],
        None => comm,
    }
}

/// Pads what was written since `start` with spaces to `width` bytes, like
/// Python's `b"%-Ns"` (never truncates).
pub fn pad_bytes(out: &mut Vec<u8>, start: usize, width: usize) {
    let written = out.len().saturating_sub(start);
    out.resize(out.len() + width.saturating_sub(written), b' ');
}

/// Pads what was written since `start` (UTF-8) with spaces to `width` code
/// points, like Python's `'{:N}'.format(str)` (never truncates).
pub fn pad_chars(out: &mut Vec<u8>, start: usize, width: usize) {
    let written = out
        .get(start..)
        .unwrap_or_default()
        .iter()
        .filter(|&&byte| byte & 0xc0 != 0x80)
        .count();
    out.resize(out.len() + width.saturating_sub(written), b' ');
}

#[cfg(test)]
mod tests {
    #[test]
    fn bidi_controls_are_escaped() {
        let mut out = Vec::new();
        super::push_terminal_safe(&mut out, "a\u{202e}b\u{2066}c".as_bytes(), false);
        assert_eq!(out, b"a\\xe2\\x80\\xaeb\\xe2\\x81\\xa6c");
    }

    use super::*;

    fn terminal_safe(bytes: &[u8], newline: bool) -> String {
        let mut out = Vec::new();
        push_terminal_safe(&mut out, bytes, newline);
        String::from_utf8(out).expect("escaped text is UTF-8")
    }

    fn mount_string(bytes: &[u8]) -> String {
        let mut out = Vec::new();
        push_mount_string(&mut out, bytes);
        String::from_utf8(out).expect("escaped text is ASCII")
    }

    #[test]
    fn printable_text_passes_through() {
        assert_eq!(terminal_safe(b"ls -la /tmp", false), "ls -la /tmp");
        assert_eq!(
            terminal_safe("grüße 日本 ✓".as_bytes(), false),
            "grüße 日本 ✓"
        );
        assert_eq!(terminal_safe(b"back\\slash", false), "back\\slash");
    }

    #[test]
    fn control_bytes_are_hex_escaped() {
        assert_eq!(terminal_safe(b"a\x1b[31mb", false), "a\\x1b[31mb");
        assert_eq!(
            terminal_safe(b"\x00\x07\t\r\x7f", false),
            "\\x00\\x07\\x09\\x0d\\x7f"
        );
        assert_eq!(terminal_safe(b"a\nb", false), "a\\x0ab");
        assert_eq!(terminal_safe(b"a\nb", true), "a\\nb");
    }

    #[test]
    fn c1_controls_and_invalid_utf8_are_hex_escaped() {
        // U+009B (CSI) is C2 9B in UTF-8.
        assert_eq!(
            terminal_safe("x\u{9b}31m".as_bytes(), false),
            "x\\xc2\\x9b31m"
        );
        assert_eq!(
            terminal_safe("\u{80}\u{a0}".as_bytes(), false),
            "\\xc2\\x80\u{a0}"
        );
        assert_eq!(terminal_safe(b"\xff\xfeok", false), "\\xff\\xfeok");
        // A cut-off multi-byte sequence, then valid text.
        assert_eq!(terminal_safe(b"\xe6\x97ab", false), "\\xe6\\x97ab");
        // A lone C1 byte is invalid UTF-8, escaped as such.
        assert_eq!(terminal_safe(b"\x9b", false), "\\x9b");
    }

    #[test]
    fn mount_string_like_decode_mount_string() {
        assert_eq!(mount_string(b"/dev/sda1"), "\"/dev/sda1\"");
        assert_eq!(mount_string(b""), "\"\"");
        assert_eq!(
            mount_string(b"\x07\x08\t\n\x0b\x0c\r\"\\"),
            "\"\\a\\b\\t\\n\\v\\f\\r\\\"\\\\\""
        );
        assert_eq!(mount_string(b"\x00\x1b\x7f"), "\"\\x00\\x1b\\x7f\"");
        assert_eq!(mount_string("ü".as_bytes()), "\"\\xc3\\xbc\"");
    }

    #[test]
    fn comm_stops_at_nul() {
        assert_eq!(comm_bytes(b"bash\0\0\0"), b"bash");
        assert_eq!(comm_bytes(b"bash"), b"bash");
        assert_eq!(comm_bytes(b""), b"");
    }

    #[test]
    fn padding_counts_bytes_or_code_points() {
        let mut out = b"x".to_vec();
        out.extend_from_slice("ü".as_bytes());
        pad_bytes(&mut out, 1, 4);
        assert_eq!(out, "xü  ".as_bytes());

        let mut out = b"x".to_vec();
        out.extend_from_slice("ü".as_bytes());
        pad_chars(&mut out, 1, 4);
        assert_eq!(out, "xü   ".as_bytes());

        let mut out = b"toolong".to_vec();
        pad_bytes(&mut out, 0, 3);
        pad_chars(&mut out, 0, 3);
        assert_eq!(out, b"toolong");
    }

    #[test]
    fn word_tests_agree_with_the_byte_tests() {
        for byte in 0..=255u8 {
            for at in 0..8 {
                let mut word = [b'a'; 8];
                word[at] = byte;
                let word = u64::from_le_bytes(word);
                let printable = is_printable_ascii(byte);
                assert_eq!(unprintable_bytes(word) == 0, printable, "{byte:#x}");
                if !printable {
                    assert_eq!(unprintable_bytes(word).trailing_zeros() / 8, at as u32);
                }
                for probe in [b',', b'"', 0, 0xff] {
                    let marked = equal_bytes(word, probe);
                    assert_eq!(marked != 0, byte == probe, "{byte:#x} {probe:#x}");
                    if byte == probe {
                        assert_eq!(marked.trailing_zeros() / 8, at as u32, "{byte:#x}");
                    }
                }
            }
        }
        // Every length and position, against the byte-at-a-time answer.
        let text = b"0123456789abcdefghijklmnopqrstuv";
        for len in 0..=text.len() {
            assert!(is_printable_ascii_text(&text[..len]));
            for at in 0..len {
                for special in [0u8, 0x1f, 0x20, 0x7e, 0x7f, 0x80, 0xff] {
                    let mut bytes = text[..len].to_vec();
                    bytes[at] = special;
                    let printable = bytes.iter().all(|&b| is_printable_ascii(b));
                    assert_eq!(is_printable_ascii_text(&bytes), printable, "{bytes:?}");
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn printable_ascii_text_like_the_byte_test(
            bytes in proptest::collection::vec(
                proptest::prop_oneof![0x20u8..0x7f, proptest::num::u8::ANY],
                0..40,
            )
        ) {
            let printable = bytes.iter().all(|&b| is_printable_ascii(b));
            proptest::prop_assert_eq!(is_printable_ascii_text(&bytes), printable);
            let has_comma = bytes.contains(&b',');
            proptest::prop_assert_eq!(
                !none_marked(&bytes, |word| equal_bytes(word, b',')),
                has_comma
            );
        }

        #[test]
        fn mount_strings_like_the_byte_loop(
            bytes in proptest::collection::vec(
                proptest::prop_oneof![0x20u8..0x7f, proptest::sample::select(vec![b'"', b'\\', b'\n', 0, 0x7f, 0xc3])],
                0..40,
            )
        ) {
            let mut slow = b"\"".to_vec();
            push_c_escaped(&mut slow, &bytes);
            slow.push(b'"');
            let mut fast = Vec::new();
            push_mount_string(&mut fast, &bytes);
            proptest::prop_assert_eq!(fast, slow);
        }
    }

    #[test]
    fn lossy_borrows_valid_text() {
        assert!(matches!(lossy(b"abc"), Cow::Borrowed("abc")));
        assert_eq!(lossy(b"a\xffb"), "a\u{fffd}b");
    }
}
