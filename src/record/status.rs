//! record's live status line: when stderr is a terminal, one line redrawn
//! in place (`\r`, then erase to the end of the line) every second with the
//! event rate, the totals and the file being written; cleared before the
//! summary line. When stderr is not a terminal nothing of it is written, so
//! logs and scripts see only the `Tracing` and summary lines.

use std::io::{self, Write};
use std::time::{Duration, Instant};

/// How often the line is redrawn.
const EVERY: Duration = Duration::from_secs(1);

/// What the line shows.
pub struct Snapshot<'a> {
    pub events: u64,
    pub lost: u64,
    pub bytes: u64,
    pub current: &'a str,
}

pub struct StatusLine {
    enabled: bool,
    last: Instant,
    last_events: u64,
    drawn: bool,
}

impl StatusLine {
    /// Enabled when stderr is a terminal.
    pub fn for_stderr() -> StatusLine {
        // SAFETY: isatty on a file descriptor number has no preconditions.
        let tty = unsafe { libc::isatty(libc::STDERR_FILENO) } == 1;
        StatusLine::new(tty)
    }

    pub fn new(enabled: bool) -> StatusLine {
        StatusLine {
            enabled,
            last: Instant::now(),
            last_events: 0,
            drawn: false,
        }
    }

    /// Whether a redraw is due at `now`; the caller then gathers a
    /// [`Snapshot`] and calls [`StatusLine::draw`].
    pub fn due(&self, now: Instant) -> bool {
        self.enabled && now.saturating_duration_since(self.last) >= EVERY
    }

    pub fn draw(&mut self, now: Instant, s: &Snapshot<'_>) {
        let secs = now.saturating_duration_since(self.last).as_secs_f64();
        let rate = if secs > 0.0 {
            s.events.saturating_sub(self.last_events) as f64 / secs
        } else {
            0.0
        };
        self.last = now;
        self.last_events = s.events;
        let line = format_line(rate, s);
        let mut err = io::stderr().lock();
        // A status line that cannot be written is not worth stopping for.
        let _ = write!(err, "\r\x1b[K{line}");
        let _ = err.flush();
        self.drawn = true;
    }

    /// Erases the line, so that the next message starts on a clean line.
    pub fn clear(&mut self) {
        if self.drawn {
            let mut err = io::stderr().lock();
            let _ = write!(err, "\r\x1b[K");
            let _ = err.flush();
            self.drawn = false;
        }
    }
}

fn format_line(rate: f64, s: &Snapshot<'_>) -> String {
    format!(
        "record: {rate:.0} events/s, {} events, {} lost, {}, {}",
        s.events,
        s.lost,
        human_bytes(s.bytes),
        s.current
    )
}

/// 1234567 -> "1.2 MiB".
fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_says_rate_totals_and_file() {
        let s = Snapshot {
            events: 1500,
            lost: 2,
            bytes: 3 << 20,
            current: "cap.snoop.000001",
        };
        assert_eq!(
            format_line(250.4, &s),
            "record: 250 events/s, 1500 events, 2 lost, 3.0 MiB, cap.snoop.000001"
        );
        assert_eq!(human_bytes(999), "999 bytes");
        assert_eq!(human_bytes(1536), "1.5 KiB");
    }

    #[test]
    fn disabled_never_due() {
        let s = StatusLine::new(false);
        assert!(!s.due(Instant::now() + Duration::from_secs(5)));
    }
}
