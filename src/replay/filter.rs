//! Replay-side event filters (--pid, --uid, --comm, --mntns, --cgroup-id, --cgroup-path, --container, --since, --until, --failed-only, --events).
//!
//! [`Filter`] holds every replay-side filter; all of them must match
//! ([`Filter::matches`]). It also carries bcc execsnoop's filters: `-n`
//! ([`Filter::exec_name`]), `-l` ([`Filter::exec_line`]) and `-x`
//! ([`Filter::show_failed_exec`]). [`parse_time`] reads the `--since` and
//! `--until` arguments.

use chrono::{DateTime, Local, NaiveDateTime, TimeZone};
use regex::bytes::Regex;
use thiserror::Error;

use crate::event::{Args, Event, EventClasses};

/// Every replay-side filter; an event is shown when all match.
///
/// `Filter::default()` is replay's default: every event except failed execs,
/// which bcc's execsnoop hides unless `-x` is given (see
/// [`show_failed_exec`](Self::show_failed_exec)).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// `--pid`: the process id (tgid).
    pub pid: Option<u32>,
    /// `--uid` / `-u`: the caller's real uid.
    pub uid: Option<u32>,
    /// `--comm`: searched in the comm after the call (for exec, the new image's).
    pub comm: Option<Regex>,
    /// `--mntns`: the mount namespace inode number.
    pub mnt_ns: Option<u32>,
    /// `--cgroup-id`: the cgroup v2 id.
    pub cgroup_id: Option<u64>,
    /// `--cgroup-path`: searched in the cgroup v2 path the capture stored for
    /// the event's cgroup id; an event whose path is unknown never matches.
    pub cgroup_path: Option<Regex>,
    /// `--container`: the start of the container id derived from the
    /// event's cgroup path ([`crate::container`]); an event in no container
    /// never matches.
    pub container: Option<Vec<u8>>,
    /// `--since`: wall-clock ns, inclusive.
    pub since: Option<i64>,
    /// `--until`: wall-clock ns, exclusive.
    pub until: Option<i64>,
    /// `--failed-only`: only calls that returned a negative value.
    pub failed_only: bool,
    /// `--events`.
    pub classes: EventClasses,
    /// execsnoop `-n`: searched in the comm after the call, like `--comm`
    /// (bcc matches the name of the exit event).
    pub exec_name: Option<Regex>,
    /// execsnoop `-l`: searched in an exec's command line as bcc builds it
    /// ([`exec_line`]). Mount-family events have no command line, so none
    /// matches while this is set.
    pub exec_line: Option<Regex>,
    /// execsnoop `-x`: show execs that failed (returned nonzero). Without it
    /// they are hidden, as bcc does, unless `failed_only` asks for them.
    /// Mount-family events are not affected (mountsnoop shows every call).
    pub show_failed_exec: bool,
}

impl Filter {
    /// A filter that lets every event through (failed execs included).
    pub fn match_all() -> Filter {
        Filter {
            show_failed_exec: true,
            ..Filter::default()
        }
    }

    /// True when `ev` passes every filter.
    pub fn matches(&self, ev: &Event) -> bool {
        if !self.classes.contains(ev.syscall.class()) {
            return false;
        }
        if self.pid.is_some_and(|pid| pid != ev.pid)
            || self.uid.is_some_and(|uid| uid != ev.uid)
            || self.mnt_ns.is_some_and(|ns| ns != ev.mnt_ns)
            || self.cgroup_id.is_some_and(|id| id != ev.cgroup_id)
            || self.since.is_some_and(|since| ev.wall_ns < since)
            || self.until.is_some_and(|until| ev.wall_ns >= until)
        {
            return false;
        }
        // An unfinished call has not failed: --failed-only leaves it out,
        // and the table's hiding of failed execs does not hide it.
        if self.failed_only && !ev.failed() {
            return false;
        }
        let failed_exec = ev.syscall.is_exec() && ev.returned().is_some_and(|ret| ret != 0);
        if failed_exec && !self.show_failed_exec && !self.failed_only {
            return false;
        }
        if let Some(re) = &self.cgroup_path {
            if !ev.cgroup_path.as_deref().is_some_and(|p| re.is_match(p)) {
                return false;
            }
        }
        if let Some(prefix) = &self.container {
            let inside = ev
                .cgroup_path
                .as_deref()
                .is_some_and(|p| crate::container::identify(p).id_starts_with(prefix));
            if !inside {
                return false;
            }
        }
        if self.comm.as_ref().is_some_and(|re| !re.is_match(&ev.comm))
            || self
                .exec_name
                .as_ref()
                .is_some_and(|re| !re.is_match(&ev.comm))
        {
            return false;
        }
        if let Some(re) = &self.exec_line {
            match exec_line(ev) {
                Some(line) if re.is_match(&line) => {}
                _ => return false,
            }
        }
        true
    }
}

/// An exec's command line as bcc's execsnoop builds it for `-l`: the
/// filename, then argv[1], argv[2], ... joined by single spaces (bcc puts
/// the filename where argv[0] would be). `None` for other events.
pub fn exec_line(ev: &Event) -> Option<Vec<u8>> {
    let Args::Exec { filename, args, .. } = &ev.args else {
        return None;
    };
    let rest = args.get(1..).unwrap_or(&[]);
    let mut line = Vec::with_capacity(
        filename.bytes.len() + rest.iter().map(|a| a.bytes.len() + 1).sum::<usize>(),
    );
    line.extend_from_slice(&filename.bytes);
    for arg in rest {
        line.push(b' ');
        line.extend_from_slice(&arg.bytes);
    }
    Some(line)
}

/// A `--since`/`--until` argument that could not be read. Messages are one line.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TimeParseError {
    #[error("empty time: expected RFC 3339 (2026-11-22T03:04:05Z), 'YYYY-MM-DD HH:MM:SS' (local time), @UNIX_SECONDS or +OFFSET (+30s, +1.5s, +2m, +1h)")]
    Empty,
    #[error("bad time '{0}': expected RFC 3339 (2026-11-22T03:04:05Z), 'YYYY-MM-DD HH:MM:SS' (local time), @UNIX_SECONDS or +OFFSET (+30s, +1.5s, +2m, +1h)")]
    Unrecognized(String),
    #[error("bad time offset '{input}': {reason}")]
    BadOffset { input: String, reason: &'static str },
    #[error("time offset '{0}' is relative to the capture start, which is not known here")]
    NoCaptureStart(String),
    #[error("local time '{0}' does not exist (skipped by a daylight-saving change)")]
    NonexistentLocalTime(String),
    #[error("time '{0}' is out of range (years 1678 to 2261)")]
    OutOfRange(String),
}

/// Parses a `--since`/`--until` time into wall-clock ns since the Unix epoch.
///
/// Accepted forms:
/// - RFC 3339 with `Z` or an offset, optional fractional seconds:
///   `2026-11-22T03:04:05Z`, `2026-11-22T05:04:05.25+02:00`;
/// - `YYYY-MM-DD HH:MM:SS[.fraction]` (or with `T`), in local time; a time
///   that occurs twice (daylight-saving fall-back) means the first;
/// - `@SECONDS[.fraction]`: Unix time;
/// - `+N[unit]`: an offset from the capture start (`capture_start_ns`, wall
///   ns), unit `ns`, `us`, `ms`, `s` (the default), `m`, `h` or `d`, decimal
///   fractions allowed: `+30s`, `+1.5s`, `+2m`, `+1h`.
pub fn parse_time(input: &str, capture_start_ns: Option<i64>) -> Result<i64, TimeParseError> {
    let text = input.trim();
    if text.is_empty() {
        return Err(TimeParseError::Empty);
    }
    if let Some(offset) = text.strip_prefix('+') {
        let start =
            capture_start_ns.ok_or_else(|| TimeParseError::NoCaptureStart(input.to_string()))?;
        let ns = parse_duration_ns(offset).map_err(|reason| TimeParseError::BadOffset {
            input: input.to_string(),
            reason,
        })?;
        return i64::try_from(i128::from(start) + ns)
            .map_err(|_| TimeParseError::OutOfRange(input.to_string()));
    }
    if let Some(seconds) = text.strip_prefix('@') {
        let (negative, digits) = match seconds.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, seconds),
        };
        let ns = scaled_decimal(digits, 1_000_000_000)
            .ok_or_else(|| TimeParseError::Unrecognized(input.to_string()))?;
        let ns = if negative { -ns } else { ns };
        return i64::try_from(ns).map_err(|_| TimeParseError::OutOfRange(input.to_string()));
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
        return dt
            .timestamp_nanos_opt()
            .ok_or_else(|| TimeParseError::OutOfRange(input.to_string()));
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
            let local = Local
                .from_local_datetime(&naive)
                .earliest()
                .ok_or_else(|| TimeParseError::NonexistentLocalTime(input.to_string()))?;
            return local
                .timestamp_nanos_opt()
                .ok_or_else(|| TimeParseError::OutOfRange(input.to_string()));
        }
    }
    Err(TimeParseError::Unrecognized(input.to_string()))
}

/// `N[.F][unit]` → ns (non-negative).
fn parse_duration_ns(text: &str) -> Result<i128, &'static str> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit_ns: i128 = match unit {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "" | "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "d" => 86_400_000_000_000,
        _ => return Err("unknown unit (expected ns, us, ms, s, m, h or d)"),
    };
    scaled_decimal(number, unit_ns)
        .ok_or("expected a number such as 30, 1.5 or 0.25 before the unit")
}

/// A decimal `N`, `N.F` or `.F` times `scale`, exactly (digits past what
/// `scale` resolves are dropped). `None` when malformed or huge.
fn scaled_decimal(number: &str, scale: i128) -> Option<i128> {
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if int.len() > 20 {
        return None;
    }
    let whole = if int.is_empty() {
        0
    } else {
        int.parse::<i128>().ok()?
    };
    let mut value = whole.checked_mul(scale)?;
    let mut unit = scale;
    for digit in frac.bytes() {
        unit /= 10;
        if unit == 0 {
            break;
        }
        value = value.checked_add(i128::from(digit - b'0') * unit)?;
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Captured, Syscall};

    fn exec(comm: &str, ret: i64, filename: &str, argv: &[&str]) -> Event {
        Event {
            syscall: Syscall::Execve,
            ts_ns: 10,
            wall_ns: 1_000,
            latency_ns: 1,
            pid: 42,
            tid: 42,
            ppid: 1,
            uid: 1000,
            gid: 1000,
            comm: crate::event::Comm::from_bytes(comm.as_bytes()),
            comm_before: crate::event::Comm::from_bytes(b"bash"),
            pcomm: crate::event::Comm::from_bytes(b"init"),
            mnt_ns: 7,
            cgroup_id: 9,
            cgroup_path: None,
            proc_start_ns: None,
            parent_start_ns: None,
            ret,
            unfinished: None,
            args: Args::Exec {
                dirfd: None,
                flags: None,
                filename: Captured::from_bytes(filename.as_bytes()),
                args: argv
                    .iter()
                    .map(|a| Captured::from_bytes(a.as_bytes()))
                    .collect(),
                args_truncated: false,
            },
        }
    }

    fn mount(ret: i64) -> Event {
        Event {
            syscall: Syscall::Mount,
            comm: crate::event::Comm::from_bytes(b"mount"),
            args: Args::Umount {
                target: Captured::from_bytes(b"/mnt"),
                flags: 0,
            },
            ..exec("mount", ret, "", &[])
        }
    }

    fn re(s: &str) -> Option<Regex> {
        Some(Regex::new(s).expect("test regex"))
    }

    #[test]
    fn default_hides_failed_execs_only() {
        let f = Filter::default();
        assert!(f.matches(&exec("ls", 0, "/bin/ls", &["ls"])));
        assert!(!f.matches(&exec("bash", -2, "/bin/nope", &["nope"])));
        assert!(f.matches(&mount(-1)));
        assert!(f.matches(&mount(0)));
        let all = Filter::match_all();
        assert!(all.matches(&exec("bash", -2, "/bin/nope", &["nope"])));
        let x = Filter {
            show_failed_exec: true,
            ..Filter::default()
        };
        assert!(x.matches(&exec("bash", -2, "/bin/nope", &["nope"])));
    }

    #[test]
    fn cgroup_path_matches_the_stored_path_and_never_an_unknown_one() {
        let unknown = exec("ls", 0, "/bin/ls", &["ls"]);
        let known = Event {
            cgroup_path: Some(std::sync::Arc::from(
                &b"/system.slice/docker-ab12.scope"[..],
            )),
            ..unknown.clone()
        };
        let f = Filter {
            cgroup_path: re(r"docker-ab\d+"),
            ..Filter::default()
        };
        assert!(f.matches(&known));
        assert!(!f.matches(&unknown));
        let f = Filter {
            cgroup_path: re("^/kubepods"),
            ..Filter::default()
        };
        assert!(!f.matches(&known));
        // Non-UTF-8 paths are matched as bytes; ANDed with the other filters.
        let odd = Event {
            cgroup_path: Some(std::sync::Arc::from(&b"/a\xffb"[..])),
            ..unknown.clone()
        };
        let f = Filter {
            cgroup_path: re(r"(?-u)^/a\xff"),
            cgroup_id: Some(9),
            ..Filter::default()
        };
        assert!(f.matches(&odd));
        let f = Filter {
            cgroup_id: Some(10),
            ..f
        };
        assert!(!f.matches(&odd));
    }

    #[test]
    fn failed_only() {
        let f = Filter {
            failed_only: true,
            ..Filter::default()
        };
        assert!(!f.matches(&exec("ls", 0, "/bin/ls", &["ls"])));
        // --failed-only asks for failures: they are shown even without -x.
        assert!(f.matches(&exec("bash", -2, "/bin/nope", &["nope"])));
        assert!(f.matches(&mount(-1)));
        assert!(!f.matches(&mount(3)));
    }

    /// docs/EVENTS.md, Filters: an unfinished call has not failed.
    #[test]
    fn unfinished_calls_are_not_failures() {
        let unfinished = |event: Event| Event {
            unfinished: Some(crate::event::Unfinished::EndOfCapture),
            ..event
        };
        let exec = unfinished(exec("sh", 0, "/bin/x", &["x"]));
        let mount = unfinished(mount(0));
        // Shown by default (the table's -x hides failed execs only) ...
        assert!(Filter::default().matches(&exec));
        assert!(Filter::default().matches(&mount));
        // ... and never a failure.
        let failed = Filter {
            failed_only: true,
            ..Filter::default()
        };
        assert!(!failed.matches(&exec));
        assert!(!failed.matches(&mount));
    }

    #[test]
    fn identity_filters() {
        let ev = exec("ls", 0, "/bin/ls", &["ls"]);
        let cases: Vec<(Filter, bool)> = vec![
            (
                Filter {
                    pid: Some(42),
                    ..Filter::default()
                },
                true,
            ),
            (
                Filter {
                    pid: Some(43),
                    ..Filter::default()
                },
                false,
            ),
            (
                Filter {
                    uid: Some(1000),
                    ..Filter::default()
                },
                true,
            ),
            (
                Filter {
                    uid: Some(0),
                    ..Filter::default()
                },
                false,
            ),
            (
                Filter {
                    mnt_ns: Some(7),
                    ..Filter::default()
                },
                true,
            ),
            (
                Filter {
                    mnt_ns: Some(8),
                    ..Filter::default()
                },
                false,
            ),
            (
                Filter {
                    cgroup_id: Some(9),
                    ..Filter::default()
                },
                true,
            ),
            (
                Filter {
                    cgroup_id: Some(10),
                    ..Filter::default()
                },
                false,
            ),
            (
                Filter {
                    pid: Some(42),
                    uid: Some(0),
                    ..Filter::default()
                },
                false,
            ),
        ];
        for (f, want) in cases {
            assert_eq!(f.matches(&ev), want, "{f:?}");
        }
    }

    #[test]
    fn time_window_is_inclusive_exclusive() {
        let ev = exec("ls", 0, "/bin/ls", &["ls"]); // wall_ns 1000
        let window = |since, until| Filter {
            since,
            until,
            ..Filter::default()
        };
        assert!(window(Some(1000), None).matches(&ev));
        assert!(!window(Some(1001), None).matches(&ev));
        assert!(window(None, Some(1001)).matches(&ev));
        assert!(!window(None, Some(1000)).matches(&ev));
        assert!(window(Some(999), Some(1001)).matches(&ev));
    }

    #[test]
    fn comm_regexes_use_the_comm_after_the_call() {
        let ev = exec("ls", 0, "/bin/ls", &["ls"]); // comm_before is bash
        let f = Filter {
            comm: re("^ls$"),
            ..Filter::default()
        };
        assert!(f.matches(&ev));
        let f = Filter {
            comm: re("bash"),
            ..Filter::default()
        };
        assert!(!f.matches(&ev));
        // -n searches anywhere in the name, as re.search does.
        let f = Filter {
            exec_name: re("s"),
            ..Filter::default()
        };
        assert!(f.matches(&ev));
        assert!(!f.matches(&mount(0)));
    }

    #[test]
    fn exec_line_filter() {
        let ev = exec("ls", 0, "/bin/ls", &["ls", "-l", "/tmp"]);
        assert_eq!(exec_line(&ev).as_deref(), Some(&b"/bin/ls -l /tmp"[..]));
        assert_eq!(exec_line(&mount(0)), None);
        assert_eq!(
            exec_line(&exec("x", 0, "/bin/x", &[])).as_deref(),
            Some(&b"/bin/x"[..])
        );
        let f = Filter {
            exec_line: re("-l /tm"),
            ..Filter::default()
        };
        assert!(f.matches(&ev));
        assert!(!f.matches(&exec("ls", 0, "/bin/ls", &["ls", "/tmp"])));
        // argv[0] is not part of the line: bcc shows the filename instead.
        let f = Filter {
            exec_line: re("^ls"),
            ..Filter::default()
        };
        assert!(!f.matches(&ev));
        // Mount-family events have no command line.
        assert!(!f.matches(&mount(0)));
        // Non-UTF-8 arguments are matched as bytes.
        let f = Filter {
            exec_line: re(r"(?-u)\xff"),
            ..Filter::default()
        };
        assert!(f.matches(&Event {
            args: Args::Exec {
                dirfd: None,
                flags: None,
                filename: Captured::from_bytes(b"/bin/x"),
                args: vec![Captured::from_bytes(b"x"), Captured::from_bytes(b"\xff")],
                args_truncated: false,
            },
            ..ev.clone()
        }));
    }

    #[test]
    fn classes() {
        let exec_only = Filter {
            classes: EventClasses::parse_list("exec").expect("valid"),
            ..Filter::default()
        };
        assert!(exec_only.matches(&exec("ls", 0, "/bin/ls", &["ls"])));
        assert!(!exec_only.matches(&mount(0)));
        let mount_only = Filter {
            classes: EventClasses::parse_list(" mount ").expect("valid"),
            ..Filter::default()
        };
        assert!(!mount_only.matches(&exec("ls", 0, "/bin/ls", &["ls"])));
        assert!(mount_only.matches(&mount(0)));
        assert_eq!(
            EventClasses::parse_list("mount,exec,proc"),
            Ok(EventClasses::ALL)
        );
        assert_eq!(
            EventClasses::parse_list("exec,open"),
            Err(crate::event::EventClassError::Unknown("open".into()))
        );
        assert!(EventClasses::parse_list("").is_err());
        // An empty item is an error on record and replay alike.
        assert_eq!(
            EventClasses::parse_list("exec,"),
            Err(crate::event::EventClassError::Empty)
        );
    }

    const T0: i64 = 1_795_316_645_000_000_000; // 2026-11-22T03:04:05Z

    #[test]
    fn rfc3339_times() {
        assert_eq!(parse_time("2026-11-22T03:04:05Z", None), Ok(T0));
        assert_eq!(parse_time("2026-11-22T05:04:05+02:00", None), Ok(T0));
        assert_eq!(
            parse_time("2026-11-22T03:04:05.123456789Z", None),
            Ok(T0 + 123_456_789)
        );
        assert_eq!(
            parse_time(" 2026-11-22T03:04:05.5-01:00 ", None),
            Ok(T0 + 3_600_000_000_000 + 500_000_000)
        );
    }

    #[test]
    fn local_times() {
        let naive = NaiveDateTime::parse_from_str("2026-11-22 03:04:05", "%Y-%m-%d %H:%M:%S")
            .expect("valid");
        let want = Local
            .from_local_datetime(&naive)
            .earliest()
            .and_then(|t| t.timestamp_nanos_opt())
            .expect("exists");
        assert_eq!(parse_time("2026-11-22 03:04:05", None), Ok(want));
        assert_eq!(parse_time("2026-11-22T03:04:05", None), Ok(want));
        assert_eq!(
            parse_time("2026-11-22 03:04:05.25", None),
            Ok(want + 250_000_000)
        );
    }

    #[test]
    fn relative_and_unix_times() {
        let start = Some(T0);
        assert_eq!(parse_time("+30s", start), Ok(T0 + 30_000_000_000));
        assert_eq!(parse_time("+30", start), Ok(T0 + 30_000_000_000));
        assert_eq!(parse_time("+1.5s", start), Ok(T0 + 1_500_000_000));
        assert_eq!(parse_time("+.25s", start), Ok(T0 + 250_000_000));
        assert_eq!(parse_time("+2m", start), Ok(T0 + 120_000_000_000));
        assert_eq!(parse_time("+1h", start), Ok(T0 + 3_600_000_000_000));
        assert_eq!(parse_time("+0.5h", start), Ok(T0 + 1_800_000_000_000));
        assert_eq!(parse_time("+250ms", start), Ok(T0 + 250_000_000));
        assert_eq!(parse_time("+7us", start), Ok(T0 + 7_000));
        assert_eq!(parse_time("+7ns", start), Ok(T0 + 7));
        assert_eq!(parse_time("+0.1234567891s", start), Ok(T0 + 123_456_789));
        assert_eq!(parse_time("@1795316645", None), Ok(T0));
        assert_eq!(parse_time("@1795316645.5", None), Ok(T0 + 500_000_000));
        assert_eq!(parse_time("@-1", None), Ok(-1_000_000_000));
    }

    #[test]
    fn bad_times() {
        let start = Some(T0);
        assert_eq!(parse_time("", start), Err(TimeParseError::Empty));
        assert_eq!(
            parse_time("+30s", None),
            Err(TimeParseError::NoCaptureStart("+30s".into()))
        );
        for bad in ["+", "+s", "+1.2.3s", "+3x", "+-3s", "+1e3s", "+..s"] {
            assert!(
                matches!(
                    parse_time(bad, start),
                    Err(TimeParseError::BadOffset { .. })
                ),
                "{bad}"
            );
        }
        for bad in [
            "yesterday",
            "2026-13-01 00:00:00",
            "2026-11-22",
            "03:04:05",
            "@",
            "@x",
            "2026-11-22T03:04:05+25:00",
        ] {
            assert!(
                matches!(parse_time(bad, start), Err(TimeParseError::Unrecognized(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            parse_time("+999999999999d", start),
            Err(TimeParseError::OutOfRange(_))
        ));
        assert!(matches!(
            parse_time("+99999999999999999999999d", start),
            Err(TimeParseError::BadOffset { .. })
        ));
        assert!(matches!(
            parse_time("9999-01-01T00:00:00Z", start),
            Err(TimeParseError::OutOfRange(_))
        ));
        for err in [
            parse_time("", start),
            parse_time("nope", start),
            parse_time("+3x", start),
            parse_time("+3s", None),
        ] {
            let message = err.expect_err("invalid").to_string();
            assert!(!message.contains('\n'), "{message}");
        }
    }
}
