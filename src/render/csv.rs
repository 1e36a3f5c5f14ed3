//! CSV output (RFC 4180 quoting by the `csv` crate), one header row then one
//! row per event, with one fixed wide column set for every event kind (see
//! [`Column`]); a column that does not apply to the event is empty.
//!
//! Cell contents:
//! - `time`: RFC 3339 UTC with nanoseconds, as in JSON; `error`: the errno
//!   name or empty; `flags`, `attr_flags`, `cmd` and the fds: integers.
//! - Captured strings are decoded lossily (U+FFFD for invalid UTF-8); a NULL
//!   pointer, or an argument the call does not read, is an empty cell.
//! - `args`: argv (argv[0] first), each quoted as bcc's `-q` does (`"` + the
//!   argument with `"` as `\"` + `"`) and joined by a space.
//! - `cgroup_path`: the cgroup v2 path the capture stored for `cgroup_id`,
//!   empty when unknown; written like captured text.
//! - `unfinished` (the column before last): `true` for a call whose exit is
//!   not in the capture, `false` otherwise; `unfinished_reason`, the last
//!   column, says why (JSON's values), empty for a finished call. An
//!   unfinished call's `ret`, `error` and `latency_ns` cells are empty.
//! - `attr` (mount_setattr): the `struct mount_attr` as a compact JSON object,
//!   `{"attr_set":N,"attr_clr":N,"propagation":N,"userns_fd":N}`.
//! - Terminal safety, as in the table: control characters (C0, DEL, C1) in
//!   captured text are written as `\xNN`, a newline as `\n`, so that a CSV
//!   file shown on a terminal cannot run escape sequences. `csv_raw` keeps
//!   them as captured (CSV quoting carries newlines and all).
//!
//! **Spreadsheet formula neutralisation**: a cell holding captured data
//! (`comm`, `pcomm`, `comm_before`, `filename`, `args`, `source`, `target`,
//! `fstype`, `data`, `fsname`, `key`, `value` and the paths) that begins with
//! `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`, so that
//! a spreadsheet opening the file shows it as text instead of evaluating a
//! formula an attacker put in a command line. Numeric columns are never
//! altered. [`RenderOptions::csv_raw`] turns this off, for exact data.

use super::escape::{comm_bytes, is_terminal_unsafe, lossy, push_terminal_safe};
use super::fields::{captured_attr, captured_text, Column, FieldValue, SyscallFields};
use super::time::Rfc3339Formatter;
use super::{errno, RenderOptions, Renderer};
use crate::event::{Captured, Event};
use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::sync::{Arc, Mutex, PoisonError};

/// The bytes the `csv` writer produced, handed to the caller's `Write` after
/// each record (the caller's writer is only lent per call).
#[derive(Debug, Clone, Default)]
struct RecordBuffer(Arc<Mutex<Vec<u8>>>);

impl RecordBuffer {
    /// Writes everything buffered to `out` and empties the buffer.
    fn drain_into(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let result = out.write_all(&bytes);
        bytes.clear();
        result
    }
}

impl Write for RecordBuffer {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let mut buffer = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One cell of a row.
#[derive(Debug, Clone, Copy)]
enum Cell<'a> {
    Empty,
    /// Our own text (event name, time, errno name): never neutralised.
    Plain(&'a str),
    /// Text from the capture outside the captured arguments (cgroup path):
    /// escaped and neutralised like captured text.
    Data(&'a [u8]),
    Value(FieldValue<'a>),
}

/// Renders events as CSV.
#[derive(Debug)]
pub struct CsvRenderer {
    writer: ::csv::Writer<RecordBuffer>,
    buffer: RecordBuffer,
    /// Reused for numbers, joined args and neutralised text.
    scratch: String,
    time: Rfc3339Formatter,
    raw: bool,
}

impl CsvRenderer {
    pub fn new(options: RenderOptions) -> CsvRenderer {
        let buffer = RecordBuffer::default();
        CsvRenderer {
            writer: ::csv::WriterBuilder::new().from_writer(buffer.clone()),
            buffer,
            scratch: String::with_capacity(256),
            time: Rfc3339Formatter::new(),
            raw: options.csv_raw,
        }
    }
}

fn csv_error(error: ::csv::Error) -> io::Error {
    match error.into_kind() {
        ::csv::ErrorKind::Io(error) => error,
        other => io::Error::other(format!("{other:?}")),
    }
}

/// True when a spreadsheet could take `text` as a formula.
pub fn looks_like_formula(text: &str) -> bool {
    matches!(
        text.as_bytes().first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    )
}

/// Captured bytes as cell text: lossy UTF-8, then (unless `raw`) control
/// characters escaped.
fn cell_text(bytes: &[u8], raw: bool) -> Cow<'_, str> {
    let text = lossy(bytes);
    if raw || !text.chars().any(is_terminal_unsafe) {
        return text;
    }
    let mut escaped = Vec::with_capacity(text.len() + 8);
    push_terminal_safe(&mut escaped, text.as_bytes(), true);
    Cow::Owned(String::from_utf8_lossy(&escaped).into_owned())
}

/// Writes captured text, neutralised unless `raw`.
fn write_data_field(
    writer: &mut ::csv::Writer<RecordBuffer>,
    scratch: &mut String,
    raw: bool,
    text: &str,
) -> ::csv::Result<()> {
    if !raw && looks_like_formula(text) {
        scratch.clear();
        scratch.push('\'');
        scratch.push_str(text);
        writer.write_field(scratch.as_bytes())
    } else {
        writer.write_field(text)
    }
}

/// `"arg0" "arg \"1\""`: bcc `-q` quoting, joined by spaces.
fn push_quoted_args(scratch: &mut String, args: &[Captured], raw: bool) {
    for (index, arg) in args.iter().enumerate() {
        if index > 0 {
            scratch.push(' ');
        }
        scratch.push('"');
        let text = cell_text(captured_text(arg).unwrap_or_default(), raw);
        for (piece_index, piece) in text.split('"').enumerate() {
            if piece_index > 0 {
                scratch.push_str("\\\"");
            }
            scratch.push_str(piece);
        }
        scratch.push('"');
    }
}

fn write_cell(
    writer: &mut ::csv::Writer<RecordBuffer>,
    scratch: &mut String,
    raw: bool,
    cell: Cell<'_>,
) -> ::csv::Result<()> {
    let value = match cell {
        Cell::Empty => return writer.write_field(b""),
        Cell::Plain(text) => return writer.write_field(text),
        Cell::Data(bytes) => {
            return write_data_field(writer, scratch, raw, &cell_text(bytes, raw));
        }
        Cell::Value(value) => value,
    };
    scratch.clear();
    // Writing to a String cannot fail.
    match value {
        FieldValue::Text(captured) => match captured_text(captured) {
            None => writer.write_field(b""),
            Some(bytes) => write_data_field(writer, scratch, raw, &cell_text(bytes, raw)),
        },
        FieldValue::Comm(comm) => {
            write_data_field(writer, scratch, raw, &cell_text(comm_bytes(comm), raw))
        }
        FieldValue::Signed(number) => {
            let _ = write!(scratch, "{number}");
            writer.write_field(scratch.as_bytes())
        }
        FieldValue::Unsigned(number) => {
            let _ = write!(scratch, "{number}");
            writer.write_field(scratch.as_bytes())
        }
        FieldValue::Bool(flag) => writer.write_field(if flag { "true" } else { "false" }),
        FieldValue::Identity(None) | FieldValue::Maybe(None) | FieldValue::Derived(None) => {
            writer.write_field(b"")
        }
        FieldValue::Derived(Some(value)) => {
            write_data_field(writer, scratch, raw, &cell_text(&value.bytes(), raw))
        }
        FieldValue::Identity(Some((pid, start))) => {
            let _ = write!(scratch, "{pid}@{start}");
            writer.write_field(scratch.as_bytes())
        }
        FieldValue::Maybe(Some(number)) => {
            let _ = write!(scratch, "{number}");
            writer.write_field(scratch.as_bytes())
        }
        FieldValue::Args(args) => {
            push_quoted_args(scratch, args, raw);
            if !raw && looks_like_formula(scratch) {
                scratch.insert(0, '\'');
            }
            writer.write_field(scratch.as_bytes())
        }
        FieldValue::Attr(captured) => match captured_attr(captured) {
            None => writer.write_field(b""),
            Some(attr) => {
                let _ = write!(
                    scratch,
                    "{{\"attr_set\":{},\"attr_clr\":{},\"propagation\":{},\"userns_fd\":{}}}",
                    attr.attr_set, attr.attr_clr, attr.propagation, attr.userns_fd
                );
                writer.write_field(scratch.as_bytes())
            }
        },
    }
}

impl Renderer for CsvRenderer {
    fn begin(&mut self, out: &mut dyn Write) -> io::Result<()> {
        self.writer
            .write_record(Column::ALL.iter().map(|column| column.name()))
            .map_err(csv_error)?;
        self.writer.flush()?;
        self.buffer.drain_into(out)
    }

    fn event(&mut self, event: &Event, out: &mut dyn Write) -> io::Result<()> {
        let CsvRenderer {
            writer,
            buffer,
            scratch,
            time,
            raw,
        } = self;
        let mut cells = [Cell::Empty; Column::COUNT];
        let number = |value: u64| Cell::Value(FieldValue::Unsigned(value));
        cells[Column::Event as usize] = Cell::Plain(event.syscall.event_name());
        cells[Column::Time as usize] = Cell::Plain(time.format(event.wall_ns));
        cells[Column::TsNs as usize] = number(event.ts_ns);
        cells[Column::Pid as usize] = number(u64::from(event.pid));
        cells[Column::Tid as usize] = number(u64::from(event.tid));
        cells[Column::Ppid as usize] = number(u64::from(event.ppid));
        cells[Column::Uid as usize] = number(u64::from(event.uid));
        cells[Column::Gid as usize] = number(u64::from(event.gid));
        cells[Column::Comm as usize] = Cell::Value(FieldValue::Comm(&event.comm));
        cells[Column::Pcomm as usize] = Cell::Value(FieldValue::Comm(&event.pcomm));
        cells[Column::MntNs as usize] = number(u64::from(event.mnt_ns));
        cells[Column::CgroupId as usize] = number(event.cgroup_id);
        if let Some(path) = event.cgroup_path.as_deref() {
            cells[Column::CgroupPath as usize] = Cell::Data(path);
        }
        // An unfinished call has no ret, error or latency: empty cells.
        if let Some(ret) = event.returned() {
            cells[Column::Ret as usize] = Cell::Value(FieldValue::Signed(ret));
            if let Some(name) = errno::error_name(ret) {
                cells[Column::Error as usize] = Cell::Plain(name);
            }
            cells[Column::LatencyNs as usize] = number(event.latency_ns);
        }
        cells[Column::Unfinished as usize] =
            Cell::Value(FieldValue::Bool(event.unfinished.is_some()));
        if let Some(reason) = event.unfinished {
            cells[Column::UnfinishedReason as usize] = Cell::Plain(reason.name());
        }
        let fields = SyscallFields::of(event);
        for &(column, value) in fields.iter() {
            cells[column as usize] = Cell::Value(value);
        }
        for cell in cells {
            write_cell(writer, scratch, *raw, cell).map_err(csv_error)?;
        }
        writer.write_record(None::<&[u8]>).map_err(csv_error)?;
        writer.flush()?;
        buffer.drain_into(out)
    }

    fn end(&mut self, out: &mut dyn Write) -> io::Result<()> {
        self.writer.flush()?;
        self.buffer.drain_into(out)?;
        out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Args, Comm, Syscall};
    use crate::render::test_events::*;
    use crate::render::Format;

    const HEADER: &str = "event,time,ts_ns,pid,tid,ppid,uid,gid,comm,pcomm,mnt_ns,cgroup_id,ret,error,latency_ns,\
filename,args,args_truncated,source,target,fstype,flags,data,\
fsname,fd,cmd,key,value,aux,fs_fd,attr_flags,from_dirfd,from_path,to_dirfd,to_path,dirfd,path,attr,size,\
comm_before,cgroup_path,unfinished,unfinished_reason,proc_id,parent_proc_id,child_pid,child_tid,\
clone_flags,thread,exit_code,signal,core_dumped,lifetime_ns,container_id,runtime,pod_uid,pod_qos\n";

    fn render(raw: bool, events: &[Event]) -> String {
        render_all(
            RenderOptions {
                format: Format::Csv,
                csv_raw: raw,
                ..RenderOptions::default()
            },
            events,
        )
    }

    fn parse(text: &str) -> Vec<::csv::StringRecord> {
        ::csv::ReaderBuilder::new()
            .from_reader(text.as_bytes())
            .records()
            .map(|record| record.expect("valid CSV"))
            .collect()
    }

    #[test]
    fn header_only() {
        assert_eq!(render(false, &[]), HEADER);
    }

    #[test]
    fn exec_row() {
        let mut event = exec(b"/bin/echo", &[b"echo", b"say \"hi\"", b"x,y"]);
        event.ret = -2;
        let output = render(false, &[event]);
        assert_eq!(
            output,
            format!(
                "{HEADER}exec,2026-11-22T03:04:05.123456789Z,5000000000,4242,4243,1000,1001,1002,ls,bash,\
                 4026531841,77,-2,ENOENT,12345,/bin/echo,\"\"\"echo\"\" \"\"say \\\"\"hi\\\"\"\"\" \"\"x,y\"\"\",false,\
                 ,,,,,,,,,,,,,,,,,,,,,bash,,false,,,,,,,,,,,,,,,\n"
            )
        );
        let records = parse(&output);
        assert_eq!(records.len(), 1);
        assert_eq!(&records[0][16], "\"echo\" \"say \\\"hi\\\"\" \"x,y\"");
        assert_eq!(records[0].len(), Column::COUNT);
    }

    #[test]
    fn cgroup_path_column() {
        let mut event = exec(b"/bin/ls", &[b"ls"]);
        event.cgroup_path = Some(std::sync::Arc::from(&b"/system.slice/a b,c.scope"[..]));
        let mut hostile = event.clone();
        hostile.cgroup_path = Some(std::sync::Arc::from(&b"=cmd|x\x1b[31m"[..]));
        let records = parse(&render(false, &[event.clone(), hostile.clone()]));
        assert_eq!(records[0].len(), Column::COUNT);
        let path = Column::CgroupPath as usize;
        assert_eq!(&records[0][path], "/system.slice/a b,c.scope");
        // Neutralised and escaped like captured text, unless raw.
        assert_eq!(&records[1][path], "'=cmd|x\\x1b[31m");
        let raw = parse(&render(true, &[hostile]));
        assert_eq!(&raw[0][path], "=cmd|x\x1b[31m");
    }

    #[test]
    fn mount_family_rows() {
        let mount_event = mount(
            text(b"/dev/sda1"),
            text(b"/mnt"),
            text(b"ext4"),
            4096,
            null(),
        );
        let attr = event(
            Syscall::MountSetattr,
            Args::MountSetattr {
                dirfd: -100,
                path: text(b"/mnt"),
                flags: 0x8000,
                attr: text(&[1, 0, 0, 0, 0, 0, 0, 0]),
                size: 32,
            },
        );
        let records = parse(&render(false, &[mount_event, attr]));
        let get = |row: usize, column: Column| records[row][column as usize].to_string();
        assert_eq!(get(0, Column::Event), "mount");
        assert_eq!(get(0, Column::Flags), "4096");
        assert_eq!(get(0, Column::Source), "/dev/sda1");
        assert_eq!(get(0, Column::Data), "");
        assert_eq!(get(0, Column::Error), "");
        assert_eq!(get(0, Column::CommBefore), "");
        assert_eq!(get(1, Column::Dirfd), "-100");
        assert_eq!(get(1, Column::Flags), "32768");
        assert_eq!(
            get(1, Column::Attr),
            "{\"attr_set\":1,\"attr_clr\":0,\"propagation\":0,\"userns_fd\":0}"
        );
        assert_eq!(get(1, Column::Size), "32");
    }

    #[test]
    fn formula_neutralisation_on_and_off() {
        let mut event = mount(
            text(b"=cmd|' /C calc'!A0"),
            text(b"+1"),
            text(b"@x"),
            0,
            text(b"-2"),
        );
        event.comm = Comm::from_bytes(b"\tx");
        event.pcomm = Comm::from_bytes(b"-bash");
        event.ret = -1;
        let safe = parse(&render(false, &[event.clone()]));
        assert_eq!(&safe[0][Column::Source as usize], "'=cmd|' /C calc'!A0");
        assert_eq!(&safe[0][Column::Target as usize], "'+1");
        assert_eq!(&safe[0][Column::Fstype as usize], "'@x");
        assert_eq!(&safe[0][Column::Data as usize], "'-2");
        // A leading tab is escaped, so it can no longer start a formula.
        assert_eq!(&safe[0][Column::Comm as usize], "\\x09x");
        assert_eq!(&safe[0][Column::Pcomm as usize], "'-bash");
        // Numbers stay numbers.
        assert_eq!(&safe[0][Column::Ret as usize], "-1");
        let raw = parse(&render(true, &[event]));
        assert_eq!(&raw[0][Column::Source as usize], "=cmd|' /C calc'!A0");
        assert_eq!(&raw[0][Column::Pcomm as usize], "-bash");
        assert_eq!(&raw[0][Column::Comm as usize], "\tx");
    }

    #[test]
    fn newline_and_invalid_utf8_in_cells() {
        let mut event = exec(b"/bin/sh", &[b"sh", b"-c", b"a\nb"]);
        event.comm = Comm::from_bytes(b"x\xffy\r");
        let output = render(true, std::slice::from_ref(&event));
        let records = parse(&output);
        assert_eq!(records.len(), 1);
        assert_eq!(&records[0][Column::Args as usize], "\"sh\" \"-c\" \"a\nb\"");
        assert_eq!(&records[0][Column::Comm as usize], "x\u{fffd}y\r");
        assert!(output.contains("\"\"a\nb\"\"\""));
        // By default control characters are escaped, as in the table.
        let output = render(false, &[event]);
        assert!(!output.bytes().any(|b| b == b'\r'), "{output:?}");
        let records = parse(&output);
        assert_eq!(
            &records[0][Column::Args as usize],
            "\"sh\" \"-c\" \"a\\nb\""
        );
        assert_eq!(&records[0][Column::Comm as usize], "x\u{fffd}y\\x0d");
    }
}
