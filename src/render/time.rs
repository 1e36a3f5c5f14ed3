//! Time formatting for the renderers, cheap per event: calendar conversion
//! (and the time-zone lookup for local time) happens once per distinct
//! second and is cached; the sub-second part is written by hand.
//!
//! - [`Rfc3339Formatter`]: the `time` field of JSON and CSV,
//!   `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` (UTC, always 9 fraction digits).
//! - [`ClockFormatter`]: execsnoop's `-T` column, `HH:MM:SS` in local time
//!   (or UTC). bcc printed the time it *printed* the line; we print when the
//!   event happened, from the capture.
//! - [`push_elapsed_seconds`]: execsnoop's `-t` column, `%.3f` seconds.

use chrono::{DateTime, Local, Timelike, Utc};
use std::io::Write as _;

const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// Splits nanoseconds since the epoch into whole seconds and the nanoseconds
/// into that second (always 0..1e9, also before 1970).
fn split_seconds(wall_ns: i64) -> (i64, u32) {
    let second = wall_ns.div_euclid(NANOS_PER_SECOND);
    // rem_euclid is in 0..1e9, which fits u32.
    let nanos = u32::try_from(wall_ns.rem_euclid(NANOS_PER_SECOND)).unwrap_or(0);
    (second, nanos)
}

/// Writes `value` as exactly `digits.len()` decimal digits (zero-padded,
/// higher digits dropped).
fn put_digits(digits: &mut [u8], mut value: u64) {
    for slot in digits.iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// Formats wall-clock nanoseconds as RFC 3339 UTC with nanoseconds.
#[derive(Debug, Clone)]
pub struct Rfc3339Formatter {
    cached_second: Option<i64>,
    text: [u8; 30],
}

impl Default for Rfc3339Formatter {
    fn default() -> Self {
        Self::new()
    }
}

impl Rfc3339Formatter {
    pub fn new() -> Self {
        Rfc3339Formatter {
            cached_second: None,
            text: *b"0000-00-00T00:00:00.000000000Z",
        }
    }

    /// The RFC 3339 text of `wall_ns` (nanoseconds since the Unix epoch).
    pub fn format(&mut self, wall_ns: i64) -> &str {
        // Only ASCII digits and separators were written.
        std::str::from_utf8(self.format_bytes(wall_ns)).unwrap_or_default()
    }

    /// [`Rfc3339Formatter::format`] as bytes, for writers of bytes (no
    /// UTF-8 check per event).
    pub fn format_bytes(&mut self, wall_ns: i64) -> &[u8] {
        let (second, nanos) = split_seconds(wall_ns);
        if self.cached_second != Some(second) {
            self.set_date_and_time(second);
            self.cached_second = Some(second);
        }
        // Nine digits: the first, then eight at once.
        let nanos = u64::from(nanos);
        self.text[20] = b'0' + (nanos / 100_000_000) as u8;
        self.text[21..29].copy_from_slice(
            &(super::num::eight_digits(nanos % 100_000_000) | super::num::ASCII_ZEROS)
                .to_le_bytes(),
        );
        &self.text
    }

    fn set_date_and_time(&mut self, second: i64) {
        let prefix = &mut self.text[..19];
        match DateTime::<Utc>::from_timestamp(second, 0) {
            Some(time) => {
                let date = time.date_naive();
                use chrono::Datelike as _;
                put_digits(&mut prefix[0..4], u64::try_from(date.year()).unwrap_or(0));
                put_digits(&mut prefix[5..7], u64::from(date.month()));
                put_digits(&mut prefix[8..10], u64::from(date.day()));
                put_digits(&mut prefix[11..13], u64::from(time.hour()));
                put_digits(&mut prefix[14..16], u64::from(time.minute()));
                put_digits(&mut prefix[17..19], u64::from(time.second()));
            }
            // Unreachable for an i64 of nanoseconds (years 1677..2262).
            None => prefix.copy_from_slice(b"0000-00-00T00:00:00"),
        }
    }
}

/// Formats wall-clock nanoseconds as `HH:MM:SS`, local time or UTC.
#[derive(Debug, Clone)]
pub struct ClockFormatter {
    utc: bool,
    cached_second: Option<i64>,
    text: [u8; 8],
}

impl ClockFormatter {
    pub fn new(utc: bool) -> Self {
        ClockFormatter {
            utc,
            cached_second: None,
            text: *b"00:00:00",
        }
    }

    /// `HH:MM:SS` of `wall_ns` (nanoseconds since the Unix epoch).
    pub fn format(&mut self, wall_ns: i64) -> &str {
        std::str::from_utf8(self.format_bytes(wall_ns)).unwrap_or_default()
    }

    /// [`ClockFormatter::format`] as bytes (no UTF-8 check per event).
    pub fn format_bytes(&mut self, wall_ns: i64) -> &[u8] {
        let (second, _) = split_seconds(wall_ns);
        if self.cached_second != Some(second) {
            let utc_time = DateTime::<Utc>::from_timestamp(second, 0);
            let hms = utc_time.map(|time| {
                if self.utc {
                    (time.hour(), time.minute(), time.second())
                } else {
                    let local = time.with_timezone(&Local);
                    (local.hour(), local.minute(), local.second())
                }
            });
            let (hour, minute, sec) = hms.unwrap_or((0, 0, 0));
            put_digits(&mut self.text[0..2], u64::from(hour));
            put_digits(&mut self.text[3..5], u64::from(minute));
            put_digits(&mut self.text[6..8], u64::from(sec));
            self.cached_second = Some(second);
        }
        &self.text
    }
}

/// Appends `delta_ns` as seconds with three decimals, like Python's `%.3f`
/// (rounded half up on the exact nanoseconds; a negative value keeps its
/// sign even when it rounds to zero, as Python prints `-0.000`).
pub fn push_elapsed_seconds(out: &mut Vec<u8>, delta_ns: i64) {
    let magnitude = delta_ns.unsigned_abs();
    let millis = (u128::from(magnitude) + 500_000) / 1_000_000;
    if delta_ns < 0 {
        out.push(b'-');
    }
    // Writing to a Vec cannot fail.
    let _ = write!(out, "{}.{:03}", millis / 1000, millis % 1000);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elapsed(delta_ns: i64) -> String {
        let mut out = Vec::new();
        push_elapsed_seconds(&mut out, delta_ns);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn rfc3339_with_nanoseconds() {
        let mut formatter = Rfc3339Formatter::new();
        // 2026-11-22T03:04:05Z
        let second = 1_795_316_645_i64;
        assert_eq!(
            formatter.format(second * NANOS_PER_SECOND + 123_456_789),
            "2026-11-22T03:04:05.123456789Z"
        );
        // Same second, cached prefix, new fraction.
        assert_eq!(
            formatter.format(second * NANOS_PER_SECOND + 7),
            "2026-11-22T03:04:05.000000007Z"
        );
        assert_eq!(formatter.format(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(formatter.format(-1), "1969-12-31T23:59:59.999999999Z");
        assert_eq!(formatter.format(i64::MAX), "2262-04-11T23:47:16.854775807Z");
        assert_eq!(formatter.format(i64::MIN), "1677-09-21T00:12:43.145224192Z");
    }

    #[test]
    fn rfc3339_agrees_with_chrono() {
        let mut formatter = Rfc3339Formatter::new();
        let mut wall_ns = 1_600_000_000_123_456_789_i64;
        for _ in 0..500 {
            let expected = DateTime::<Utc>::from_timestamp_nanos(wall_ns)
                .format("%Y-%m-%dT%H:%M:%S%.9fZ")
                .to_string();
            assert_eq!(formatter.format(wall_ns), expected);
            wall_ns += 86_399_999_999_977;
        }
    }

    #[test]
    fn clock_in_utc_and_local() {
        let mut utc = ClockFormatter::new(true);
        let wall_ns = 1_795_316_645 * NANOS_PER_SECOND + 999_999_999;
        assert_eq!(utc.format(wall_ns), "03:04:05");
        assert_eq!(utc.format(wall_ns + 1), "03:04:06");

        let mut local = ClockFormatter::new(false);
        let expected = DateTime::<Utc>::from_timestamp_nanos(wall_ns)
            .with_timezone(&Local)
            .format("%H:%M:%S")
            .to_string();
        assert_eq!(local.format(wall_ns), expected);
    }

    #[test]
    fn elapsed_seconds_like_percent_3f() {
        assert_eq!(elapsed(0), "0.000");
        assert_eq!(elapsed(1_234_000_000), "1.234");
        assert_eq!(elapsed(1_234_499_999), "1.234");
        assert_eq!(elapsed(1_234_500_000), "1.235");
        assert_eq!(elapsed(999_999_999), "1.000");
        assert_eq!(elapsed(3_600_000_000_000), "3600.000");
        assert_eq!(elapsed(-1_500_000_000), "-1.500");
        assert_eq!(elapsed(i64::MIN), "-9223372036.855");
    }
}
