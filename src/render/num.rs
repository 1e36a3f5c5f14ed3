//! Fast decimal integer formatting for the renderers' hot paths: the same
//! text as `Display` (`write!(out, "{n}")`), without the `fmt` machinery.

/// "00" "01" .. "99": two digits per table lookup.
const PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Writes `n`'s decimal digits at the end of `buf`; returns where they start.
fn digits(buf: &mut [u8; 20], mut n: u64) -> usize {
    let mut at = buf.len();
    while n >= 100 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        at -= 2;
        buf[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        let pair = n as usize * 2;
        at -= 2;
        buf[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        at -= 1;
        buf[at] = b'0' + n as u8;
    }
    at
}

/// `n` (below 10^8) as eight zero-padded digits in a word, the first digit
/// in the lowest byte (values 0..=9; OR [`ASCII_ZEROS`] for the text),
/// computed in a register: two 4-digit halves in 32-bit lanes, split into
/// 2-digit 16-bit lanes and then 1-digit bytes by multiply-and-shift
/// divisions (exact below 10^4 and 10^2), all lanes at once.
#[inline(always)]
pub(crate) fn eight_digits(n: u64) -> u64 {
    const LOW7: u64 = (0x7f << 32) | 0x7f;
    const LOW4: u64 = (0xf << 48) | (0xf << 32) | (0xf << 16) | 0xf;
    let merged = (n / 10_000) | ((n % 10_000) << 32);
    let hundreds = ((merged * 10_486) >> 20) & LOW7;
    let merged = hundreds | ((merged - 100 * hundreds) << 16);
    let tens = ((merged * 103) >> 10) & LOW4;
    tens | ((merged - 10 * tens) << 8)
}

/// `b'0'` in every byte: ORed onto [`eight_digits`] it gives the ASCII.
pub(crate) const ASCII_ZEROS: u64 = u64::from_ne_bytes([b'0'; 8]);

/// Appends `n` in decimal, eight digits at a time ([`eight_digits`]),
/// each word appended whole and cut to length: no digit loop and no call
/// to memcpy (an output row has a dozen numbers).
#[inline]
pub fn push_u64(out: &mut Vec<u8>, n: u64) {
    const E8: u64 = 100_000_000;
    const E16: u64 = E8 * E8;
    // Ids, flags and return values are often one digit.
    if n < 10 {
        out.push(b'0' + n as u8);
    } else if n < E8 {
        push_leading_digits(out, n);
    } else if n < E16 {
        push_leading_digits(out, n / E8);
        push_eight_digits(out, n % E8);
    } else {
        push_leading_digits(out, n / E16);
        push_eight_digits(out, n % E16 / E8);
        push_eight_digits(out, n % E8);
    }
}

/// Appends `n` (1..10^8) without leading zeros.
#[inline(always)]
fn push_leading_digits(out: &mut Vec<u8>, n: u64) {
    let digits = eight_digits(n);
    // Leading zero digits are the low zero bytes (`n` is not 0).
    let zeros = ((digits.trailing_zeros() / 8) as usize).min(7);
    let start = out.len();
    out.extend_from_slice(&((digits | ASCII_ZEROS) >> (8 * zeros)).to_le_bytes());
    out.truncate(start + 8 - zeros);
}

/// Appends `n` (below 10^8) as eight digits, zero-padded.
#[inline(always)]
fn push_eight_digits(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(&(eight_digits(n) | ASCII_ZEROS).to_le_bytes());
}

/// Appends `n` in decimal, `-` first when negative.
#[inline]
pub fn push_i64(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    push_u64(out, n.unsigned_abs());
}

/// `format!("{n:<width$}")`: `n`, then spaces up to `width` bytes.
pub fn push_u64_left(out: &mut Vec<u8>, n: u64, width: usize) {
    let start = out.len();
    push_u64(out, n);
    let written = out.len() - start;
    out.resize(out.len() + width.saturating_sub(written), b' ');
}

/// `format!("{n:>width$}")`: spaces, then `n`, `width` bytes in all.
pub fn push_i64_right(out: &mut Vec<u8>, n: i64, width: usize) {
    let mut buf = [0u8; 20];
    let at = digits(&mut buf, n.unsigned_abs());
    let len = buf.len() - at + usize::from(n < 0);
    out.resize(out.len() + width.saturating_sub(len), b' ');
    if n < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[at..]);
}

/// `format!("{n:#x}")`: `0x` and lowercase hex digits.
pub fn push_hex(out: &mut Vec<u8>, n: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(b"0x");
    let digits = (64 - n.leading_zeros()).div_ceil(4).max(1);
    for shift in (0..digits).rev() {
        out.push(HEX[((n >> (shift * 4)) & 0xf) as usize]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(push: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = b"x".to_vec();
        push(&mut out);
        String::from_utf8(out).expect("ASCII")
    }

    #[test]
    fn like_display() {
        let mut values = vec![0u64, 1, 9, 10, 11, 99, 100, 101, 999, 1000, u64::MAX];
        let mut power = 1u64;
        while let Some(next) = power.checked_mul(10) {
            values.extend([power - 1, power, power + 1, next - 1, power * 7 + 3]);
            power = next;
        }
        for n in values {
            assert_eq!(text(|out| push_u64(out, n)), format!("x{n}"));
            let signed = n as i64;
            assert_eq!(text(|out| push_i64(out, signed)), format!("x{signed}"));
            assert_eq!(
                text(|out| push_i64(out, signed.wrapping_neg())),
                format!("x{}", signed.wrapping_neg())
            );
        }
        for n in [i64::MIN, i64::MAX, -1, -10, -100_000_000] {
            assert_eq!(text(|out| push_i64(out, n)), format!("x{n}"));
        }
    }

    #[test]
    fn eight_digits_of_every_4_digit_half() {
        // Each 32-bit lane holds one half: every value of each half, with
        // the other half at its extremes, covers every lane's arithmetic.
        for half in 0..10_000u64 {
            for n in [
                half,
                half * 10_000,
                half * 10_000 + 9_999,
                9_999 * 10_000 + half,
            ] {
                let word = (eight_digits(n) | ASCII_ZEROS).to_le_bytes();
                assert_eq!(&word, format!("{n:08}").as_bytes(), "{n}");
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn like_display_for_any(n: u64, signed: i64) {
            proptest::prop_assert_eq!(text(|out| push_u64(out, n)), format!("x{n}"));
            proptest::prop_assert_eq!(
                text(|out| push_i64(out, signed)),
                format!("x{signed}")
            );
        }
    }

    #[test]
    fn hex_like_format() {
        for n in [0u64, 1, 0xf, 0x10, 0xabc, 0x8000_0000, u64::MAX, 1 << 63] {
            assert_eq!(text(|out| push_hex(out, n)), format!("x{n:#x}"));
        }
    }

    #[test]
    fn padded_like_format() {
        for n in [0i64, 7, -7, 42, -42, 123, -123, 4567, -45678] {
            assert_eq!(text(|out| push_i64_right(out, n, 3)), format!("x{n:>3}"));
        }
        for n in [0u64, 7, 123456, 1234567, 4_026_531_841] {
            assert_eq!(text(|out| push_u64_left(out, n, 6)), format!("x{n:<6}"));
            assert_eq!(text(|out| push_u64_left(out, n, 11)), format!("x{n:<11}"));
        }
    }
}
