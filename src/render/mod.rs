//! Output renderers: bcc-compatible tables, CSV, JSON Lines and Parquet.
//!
//! [`renderer`] builds the renderer of a [`RenderOptions::format`]; the
//! caller then calls [`Renderer::begin`] once, [`Renderer::event`] for every
//! event to show (filtering is the caller's job: every event given is
//! rendered) and [`Renderer::end`] once.
//!
//! - [`table`]: exactly what bcc's `execsnoop` (exec events) and
//!   `mountsnoop` (mount family) print, plus terminal safety.
//! - [`csv`](self::csv): one fixed wide column set, spreadsheet-safe.
//! - [`json`]: JSON Lines, one object per event.
//! - [`parquet`](self::parquet) (feature `parquet`): one Parquet file, a row
//!   per event, the JSON fields as typed columns plus the capture identity.
//!
//! Before each input's events the caller hands the renderer that capture's
//! identity ([`Renderer::input`]); only Parquet keeps it (in every row).
//! - [`perfetto`]: a Perfetto protobuf trace (process tree, exec images,
//!   mount-family calls, exits, loss), for ui.perfetto.dev.
//!
//! The renderers keep their line buffers between events and write each
//! event with one `write_all`, so wrap a slow `Write` in a `BufWriter`.

pub mod actor;
pub mod csv;
pub mod errno;
pub mod escape;
pub mod fields;
pub mod flags;
pub mod json;
pub mod num;
#[cfg(feature = "parquet")]
pub mod parquet;
pub mod perfetto;
pub mod table;
pub mod time;

use crate::event::{Event, EventClass};
use crate::format::{CaptureHeader, ProcessInfo};
use crate::replay::stream::{Summary, Warning};
use std::io::{self, Write};

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Table,
    Csv,
    Json,
    #[cfg(feature = "parquet")]
    Parquet,
    /// A Perfetto protobuf trace (binary).
    Perfetto,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Csv => "csv",
            Format::Json => "json",
            #[cfg(feature = "parquet")]
            Format::Parquet => "parquet",
            Format::Perfetto => "perfetto",
        }
    }

    /// True for a binary format, which is never written to a terminal.
    pub fn is_binary(self) -> bool {
        match self {
            Format::Table | Format::Csv | Format::Json => false,
            #[cfg(feature = "parquet")]
            Format::Parquet => true,
            Format::Perfetto => true,
        }
    }
}

impl std::str::FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(text: &str) -> Result<Format, UnknownFormat> {
        match text {
            "table" => Ok(Format::Table),
            "csv" => Ok(Format::Csv),
            "json" => Ok(Format::Json),
            #[cfg(feature = "parquet")]
            "parquet" => Ok(Format::Parquet),
            "perfetto" => Ok(Format::Perfetto),
            other => Err(UnknownFormat(other.to_string())),
        }
    }
}

/// A `--format` value that is not `table`, `csv`, `json`, `perfetto` (or
/// `parquet`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown output format {0:?} (expected {FORMAT_NAMES})")]
pub struct UnknownFormat(pub String);

#[cfg(feature = "parquet")]
const FORMAT_NAMES: &str = "table, csv, json, perfetto or parquet";
#[cfg(not(feature = "parquet"))]
const FORMAT_NAMES: &str = "table, csv, json or perfetto";

/// Which capture the events that follow come from (from its header), for
/// the formats that say so in every row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaptureIdentity {
    /// Which of the inputs merged into one replay (a rotated set is one):
    /// the renderer keeps per-capture state under it.
    pub source: usize,
    pub hostname: String,
    pub boot_id: String,
    /// The capture file as named on the command line; `None` for stdin.
    pub file: Option<String>,
    /// Capture start, ns since the Unix epoch (UTC).
    pub start_wall_ns: i64,
}

/// How to render. Only `format` and `csv_raw` matter to CSV/JSON (and
/// `capture_start_wall_ns` to nothing but `-t`); the rest are execsnoop's
/// and mountsnoop's table options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderOptions {
    pub format: Format,
    /// The event classes that will be shown. With one class, the table
    /// prints its header in `begin`; with both (or none listed), each
    /// class's header comes right before that class's first event.
    pub classes: Vec<EventClass>,
    /// execsnoop `-T`: a `TIME` column, `HH:MM:SS` of the event.
    pub time: bool,
    /// execsnoop `-t`: a `TIME(s)` column, seconds since the capture start.
    pub timestamp: bool,
    /// execsnoop `-U`: a `UID` column.
    pub print_uid: bool,
    /// execsnoop `-q`: quote every argument.
    pub quote: bool,
    /// execsnoop `--max-args`: elements of filename + argv[1..] shown.
    pub max_args: usize,
    /// mountsnoop `-P`: PCOMM and PPID columns.
    pub parent_process: bool,
    /// `-T` in UTC instead of local time.
    pub utc: bool,
    /// Wall-clock start of the capture, nanoseconds since the epoch (`-t`).
    pub capture_start_wall_ns: i64,
    /// CSV: do not neutralise cells that a spreadsheet would take as a formula.
    pub csv_raw: bool,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            format: Format::Table,
            classes: vec![EventClass::Exec, EventClass::Mount],
            time: false,
            timestamp: false,
            print_uid: false,
            quote: false,
            max_args: 20,
            parent_process: false,
            utc: false,
            capture_start_wall_ns: 0,
            csv_raw: false,
        }
    }
}

/// A stream of events rendered in one format.
pub trait Renderer {
    /// Names the capture whose events, snapshot entries, warnings and end
    /// come next: before a capture's start and again whenever the merged
    /// inputs switch from one to another. Only formats that record it or
    /// keep per-capture state need to look.
    fn input(&mut self, _capture: &CaptureIdentity) {}
    /// Writes what comes before the first event (headers).
    fn begin(&mut self, out: &mut dyn Write) -> io::Result<()>;
    /// Writes one event.
    fn event(&mut self, event: &Event, out: &mut dyn Write) -> io::Result<()>;
    /// Writes what comes after the last event, and flushes `out`.
    fn end(&mut self, out: &mut dyn Write) -> io::Result<()>;

    /// A capture begins (after `begin`, before its items; once per input).
    /// An error of kind `InvalidInput` means the renderer cannot take this
    /// capture after the ones before it. Only renderers that show the
    /// capture itself (Perfetto) use it.
    fn capture_start(&mut self, _header: &CaptureHeader, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }

    /// A process of the capture's start snapshot (lineage for renderers
    /// that draw the process tree).
    fn process(&mut self, _info: &ProcessInfo, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }

    /// A warning about the input, where the stream met it (it is also
    /// printed on stderr).
    fn input_warning(&mut self, _warning: &Warning, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }

    /// A capture ended: what was lost, unpaired or cut short in it.
    fn capture_end(&mut self, _summary: &Summary, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
}

/// The renderer for `options.format`.
pub fn renderer(options: RenderOptions) -> Box<dyn Renderer> {
    match options.format {
        Format::Table => Box::new(table::TableRenderer::new(options)),
        Format::Csv => Box::new(csv::CsvRenderer::new(options)),
        Format::Json => Box::new(json::JsonRenderer::new(options)),
        #[cfg(feature = "parquet")]
        Format::Parquet => Box::new(self::parquet::ParquetRenderer::new(options)),
        Format::Perfetto => Box::new(perfetto::PerfettoRenderer::new(options)),
    }
}

#[cfg(test)]
mod tests {
    use super::test_events::*;
    use super::*;
    use crate::event::{Args, Syscall};

    fn render(format: Format, event: &Event) -> String {
        let mut r = renderer(RenderOptions {
            format,
            classes: vec![EventClass::Exec, EventClass::Mount],
            ..RenderOptions::default()
        });
        let mut out = Vec::new();
        r.event(event, &mut out).expect("render");
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn unreadable_memory_is_never_shown_as_a_value() {
        let mut exec = exec(b"/bin/true", &[b"true"]);
        if let Args::Exec { args, .. } = &mut exec.args {
            args.push(unreadable());
        }
        let mount = event(
            Syscall::Mount,
            Args::Mount {
                source: unreadable(),
                target: text(b"/mnt"),
                fstype: text(b"tmpfs"),
                flags: 0,
                data: null(),
            },
        );
        let table = render(Format::Table, &exec);
        assert!(table.ends_with(" /bin/true ?\n"), "{table:?}");
        let table = render(Format::Table, &mount);
        assert!(
            table.contains(r#"mount(?, "/mnt", "tmpfs", 0x0, "") = 0"#),
            "{table}"
        );
        let json: serde_json::Value =
            serde_json::from_str(&render(Format::Json, &mount)).expect("json");
        assert_eq!(json["source"], serde_json::Value::Null);
        assert_eq!(json["unreadable"], serde_json::json!(["source"]));
        let json: serde_json::Value =
            serde_json::from_str(&render(Format::Json, &exec)).expect("json");
        assert_eq!(json["unreadable"], serde_json::json!(["args"]));
    }

    /// docs/EVENTS.md, Unfinished calls: shown in every format, with no
    /// return value, error or latency.
    #[test]
    fn unfinished_calls_in_every_format() {
        use crate::event::Unfinished;
        let mut mount = event(
            Syscall::Mount,
            Args::Mount {
                source: text(b"none"),
                target: text(b"/mnt"),
                fstype: text(b"tmpfs"),
                flags: 0,
                data: null(),
            },
        );
        (mount.ret, mount.latency_ns) = (0, 0);
        mount.unfinished = Some(Unfinished::EndOfCapture);
        let mut exec = exec(b"/bin/true", &[b"true"]);
        exec.unfinished = Some(Unfinished::Superseded);
        exec.ret = 0;

        let table = render(Format::Table, &mount);
        assert!(
            table.ends_with(
                "mount(\"none\", \"/mnt\", \"tmpfs\", 0x0, \"\") = ? (unfinished: capture ended)\n"
            ),
            "{table}"
        );
        let table = render(Format::Table, &exec);
        assert!(
            table.ends_with(" 4242   1000     ? /bin/true\n"),
            "{table:?}"
        );

        for (event, reason) in [(&mount, "capture_ended"), (&exec, "exit_lost")] {
            let json: serde_json::Value =
                serde_json::from_str(&render(Format::Json, event)).expect("json");
            for key in ["ret", "error", "latency_ns"] {
                assert_eq!(json[key], serde_json::Value::Null, "{key}");
            }
            assert_eq!(json["unfinished"], true);
            assert_eq!(json["unfinished_reason"], reason);
        }
        let finished: serde_json::Value =
            serde_json::from_str(&render(Format::Json, &test_events::exec(b"/x", &[b"x"])))
                .expect("json");
        assert!(
            finished.get("unfinished").is_none() && finished.get("unfinished_reason").is_none()
        );

        let csv = render_all(
            RenderOptions {
                format: Format::Csv,
                ..RenderOptions::default()
            },
            &[mount],
        );
        let mut rows = ::csv::Reader::from_reader(csv.as_bytes());
        let header = rows.headers().expect("header").clone();
        let row = rows.records().next().expect("a row").expect("valid CSV");
        let cell = |name: &str| {
            let at = header.iter().position(|h| h == name).expect("column");
            row[at].to_string()
        };
        assert_eq!(
            (cell("ret"), cell("error"), cell("latency_ns")),
            (String::new(), String::new(), String::new())
        );
        assert_eq!(
            (cell("unfinished"), cell("unfinished_reason")),
            ("true".into(), "capture_ended".into())
        );
    }
}

#[cfg(test)]
pub(crate) mod test_events {
    //! Hand-built events for the renderers' tests, and rendering them.

    use crate::event::{Args, Captured, Event, Syscall};

    /// `begin`, every event, `end`, as text.
    pub fn render_all(options: super::RenderOptions, events: &[Event]) -> String {
        let mut renderer = super::renderer(options);
        let mut out = Vec::new();
        renderer.begin(&mut out).expect("Vec write");
        for event in events {
            renderer.event(event, &mut out).expect("Vec write");
        }
        renderer.end(&mut out).expect("Vec write");
        String::from_utf8(out).expect("output is UTF-8")
    }

    /// 2026-11-22T03:04:05.123456789Z
    pub const WALL_NS: i64 = 1_795_316_645_123_456_789;

    pub fn text(bytes: &[u8]) -> Captured {
        Captured::from_bytes(bytes)
    }

    pub fn null() -> Captured {
        Captured {
            null: true,
            ..Captured::default()
        }
    }

    pub fn skipped() -> Captured {
        Captured {
            skipped: true,
            ..Captured::default()
        }
    }

    /// Memory that could not be read, even after the call.
    pub fn unreadable() -> Captured {
        Captured {
            fault: true,
            ..Captured::default()
        }
    }

    pub fn truncated(bytes: &[u8]) -> Captured {
        Captured {
            truncated: true,
            ..Captured::from_bytes(bytes)
        }
    }

    pub fn event(syscall: Syscall, args: Args) -> Event {
        Event {
            syscall,
            ts_ns: 5_000_000_000,
            wall_ns: WALL_NS,
            latency_ns: 12_345,
            pid: 4242,
            tid: 4243,
            ppid: 1000,
            uid: 1001,
            gid: 1002,
            comm: crate::event::Comm::from_bytes(b"mount"),
            comm_before: crate::event::Comm::from_bytes(b"bash"),
            pcomm: crate::event::Comm::from_bytes(b"bash"),
            mnt_ns: 4_026_531_841,
            cgroup_id: 77,
            cgroup_path: None,
            proc_start_ns: None,
            parent_start_ns: None,
            ret: 0,
            unfinished: None,
            args,
        }
    }

    pub fn exec(filename: &[u8], argv: &[&[u8]]) -> Event {
        let mut event = event(
            Syscall::Execve,
            Args::Exec {
                dirfd: None,
                flags: None,
                filename: text(filename),
                args: argv.iter().map(|arg| text(arg)).collect(),
                args_truncated: false,
            },
        );
        event.comm = crate::event::Comm::from_bytes(b"ls");
        event
    }

    pub fn mount(
        source: Captured,
        target: Captured,
        fstype: Captured,
        flags: u64,
        data: Captured,
    ) -> Event {
        event(
            Syscall::Mount,
            Args::Mount {
                source,
                target,
                fstype,
                flags,
                data,
            },
        )
    }
}
