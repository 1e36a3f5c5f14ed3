//! CSV output, one header row then one row per event, with one fixed wide
//! column set for every event kind (see [`Column`]); a column that does not
//! apply to the event is empty.
//!
//! Quoting is RFC 4180 exactly as the `csv` crate's default writer does it
//! (the tests check the two against each other): a cell holding `,`, `"`,
//! `\r` or `\n` is put in double quotes with its quotes doubled, every
//! other cell is written as it is; rows end with `\n`. Rows are written by
//! hand into a reused line buffer, one `write_all` per row.
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
//! - `unfinished` (after `cgroup_path`): `true` for a call whose exit is
//!   not in the capture, `false` otherwise; `unfinished_reason`, next, says
//!   why (JSON's values), empty for a finished call. An unfinished call's
//!   `ret`, `error` and `latency_ns` cells are empty.
//! - `proc_id`, `parent_proc_id`: `PID@START_NS`, empty when the capture
//!   does not say; `exit_code`, `signal`, `lifetime_ns`: empty when they do
//!   not apply; `container_id`, `runtime`, `pod_uid`, `pod_qos`: derived
//!   from `cgroup_path`, written like captured text, empty outside a
//!   container or pod.
//! - `attr` (mount_setattr): the `struct mount_attr` as a compact JSON object,
//!   `{"attr_set":N,"attr_clr":N,"propagation":N,"userns_fd":N}`.
//! - Terminal safety, as in the table: control characters (C0, DEL, C1, and
//!   the Unicode bidirectional controls) in captured text are written as
//!   `\xNN`, a newline as `\n`, so that a CSV file shown on a terminal
//!   cannot run escape sequences. `csv_raw` keeps them as captured (CSV
//!   quoting carries newlines and all).
//!
//! **Spreadsheet formula neutralisation**: a cell holding captured data
//! (`comm`, `pcomm`, `comm_before`, `filename`, `args`, `source`, `target`,
//! `fstype`, `data`, `fsname`, `key`, `value` and the paths) that begins with
//! `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`, so that
//! a spreadsheet opening the file shows it as text instead of evaluating a
//! formula an attacker put in a command line. Numeric columns are never
//! altered. [`RenderOptions::csv_raw`] turns this off, for exact data.

use super::actor::ActorMemo;
use super::escape::{
    comm_bytes, equal_bytes, is_printable_ascii_text, is_terminal_unsafe, lossy, none_marked,
    push_terminal_safe, unprintable_bytes,
};
use super::fields::{captured_attr, captured_text, Column, FieldValue, SyscallFields};
use super::num::{push_i64, push_u64};
use super::time::Rfc3339Formatter;
use super::{errno, RenderOptions, Renderer};
use crate::event::{Captured, Event, MountAttr};
use std::borrow::Cow;
use std::io::{self, Write};

/// Renders events as CSV.
#[derive(Debug)]
pub struct CsvRenderer {
    /// The row being written, kept between rows (no allocation per row).
    line: Vec<u8>,
    time: Rfc3339Formatter,
    raw: bool,
    /// The last event's who-part: the cells `pid` to `cgroup_id`, and the
    /// container cells (the last four).
    actor: ActorMemo,
}

impl CsvRenderer {
    pub fn new(options: RenderOptions) -> CsvRenderer {
        CsvRenderer {
            line: Vec::with_capacity(1024),
            time: Rfc3339Formatter::new(),
            raw: options.csv_raw,
            actor: ActorMemo::default(),
        }
    }
}

/// True when a spreadsheet could take `text` as a formula.
pub fn looks_like_formula(text: &str) -> bool {
    starts_like_formula(text.as_bytes())
}

fn starts_like_formula(bytes: &[u8]) -> bool {
    matches!(
        bytes.first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    )
}

/// Eight bytes at once: non-zero when one of them puts a cell in quotes
/// (`,` `"` `\r` `\n`).
#[inline(always)]
fn quote_bytes(word: u64) -> u64 {
    equal_bytes(word, b',')
        | equal_bytes(word, b'"')
        | equal_bytes(word, b'\r')
        | equal_bytes(word, b'\n')
}

/// True when a cell holding `bytes` has to be quoted.
#[inline]
fn needs_quotes(bytes: &[u8]) -> bool {
    !none_marked(bytes, quote_bytes)
}

/// True when every byte of `bytes` is printable ASCII other than `,` and
/// `"`: captured text that is its own cell text as it is (no UTF-8 to
/// decode, nothing to escape, no quotes). One pass, a word at a time.
#[inline]
fn is_plain_cell_text(bytes: &[u8]) -> bool {
    none_marked(bytes, |word| {
        unprintable_bytes(word) | equal_bytes(word, b',') | equal_bytes(word, b'"')
    })
}

/// Appends `bytes`. Up to 32 bytes (most cells) as one or two overlapping
/// copies of constant size, cut to length: for a few bytes a call to
/// memcpy costs more than the copy.
#[inline(always)]
fn push_bytes(line: &mut Vec<u8>, bytes: &[u8]) {
    match bytes.len() {
        0 => {}
        1..4 => {
            for &byte in bytes {
                line.push(byte);
            }
        }
        4..8 => push_two_windows::<4>(line, bytes),
        8..16 => push_two_windows::<8>(line, bytes),
        16..=32 => push_two_windows::<16>(line, bytes),
        _ => line.extend_from_slice(bytes),
    }
}

/// Appends `bytes` (`N` to `2 * N` long) as its first `N` bytes, then its
/// last `N` bytes over what the first copy wrote beyond the middle.
#[inline(always)]
fn push_two_windows<const N: usize>(line: &mut Vec<u8>, bytes: &[u8]) {
    let len = bytes.len();
    let window = |at: usize| -> [u8; N] {
        let mut window = [0u8; N];
        if let Some(source) = bytes.get(at..at + N) {
            window.copy_from_slice(source);
        }
        window
    };
    let start = line.len();
    line.extend_from_slice(&window(0));
    line.truncate(start + len.saturating_sub(N));
    line.extend_from_slice(&window(len.saturating_sub(N)));
}

/// Appends `text` with each `"` written as `escaped`.
fn push_replacing_quotes(line: &mut Vec<u8>, text: &[u8], escaped: &[u8]) {
    for (index, piece) in text.split(|&byte| byte == b'"').enumerate() {
        if index > 0 {
            line.extend_from_slice(escaped);
        }
        line.extend_from_slice(piece);
    }
}

/// Appends one cell: `prefix` then `text`, quoted when needed (the two are
/// one cell: the decision is over both).
fn push_cell(line: &mut Vec<u8>, prefix: &[u8], text: &[u8]) {
    if !needs_quotes(prefix) && !needs_quotes(text) {
        push_bytes(line, prefix);
        push_bytes(line, text);
        return;
    }
    line.push(b'"');
    push_replacing_quotes(line, prefix, b"\"\"");
    push_replacing_quotes(line, text, b"\"\"");
    line.push(b'"');
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

/// Appends cell text, with a leading `'` when (unless `raw`) a spreadsheet
/// could take it as a formula.
fn push_neutralised(line: &mut Vec<u8>, raw: bool, text: &[u8]) {
    let prefix: &[u8] = if !raw && starts_like_formula(text) {
        b"'"
    } else {
        b""
    };
    push_cell(line, prefix, text);
}

/// Appends captured text as a cell: escaped (unless `raw`, see
/// [`cell_text`]), neutralised (unless `raw`) and quoted when needed.
fn push_data_cell(line: &mut Vec<u8>, raw: bool, bytes: &[u8]) {
    // Most captured text: no decoding, no escaping, and a `'` prefix
    // cannot need quotes either.
    if is_plain_cell_text(bytes) {
        if !raw && starts_like_formula(bytes) {
            line.push(b'\'');
        }
        push_bytes(line, bytes);
        return;
    }
    // Printable ASCII is its own text, but holds `,` or `"`.
    if is_printable_ascii_text(bytes) {
        return push_neutralised(line, raw, bytes);
    }
    push_neutralised(line, raw, cell_text(bytes, raw).as_bytes());
}

/// argv as bcc `-q` quotes it (`"arg0" "arg \"1\""`, joined by spaces), as
/// a cell. Unless empty that text begins with `"`, so the cell is always
/// quoted (its quotes doubled) and never looks like a formula.
fn push_args_cell(line: &mut Vec<u8>, raw: bool, args: &[Captured]) {
    if args.is_empty() {
        return;
    }
    line.push(b'"');
    for (index, arg) in args.iter().enumerate() {
        if index > 0 {
            line.push(b' ');
        }
        line.extend_from_slice(b"\"\"");
        let bytes = captured_text(arg).unwrap_or_default();
        // bcc's `\"`, its quote doubled for the cell: `\""`.
        if is_printable_ascii_text(bytes) {
            push_replacing_quotes(line, bytes, b"\\\"\"");
        } else {
            push_replacing_quotes(line, cell_text(bytes, raw).as_bytes(), b"\\\"\"");
        }
        line.extend_from_slice(b"\"\"");
    }
    line.push(b'"');
}

/// The `struct mount_attr` as a compact JSON object, as a cell (quoted: it
/// holds `"` and `,`).
fn push_attr_cell(line: &mut Vec<u8>, attr: MountAttr) {
    let mut object = Vec::with_capacity(96);
    object.extend_from_slice(b"{\"attr_set\":");
    push_u64(&mut object, attr.attr_set);
    object.extend_from_slice(b",\"attr_clr\":");
    push_u64(&mut object, attr.attr_clr);
    object.extend_from_slice(b",\"propagation\":");
    push_u64(&mut object, attr.propagation);
    object.extend_from_slice(b",\"userns_fd\":");
    push_u64(&mut object, attr.userns_fd);
    object.push(b'}');
    push_cell(line, b"", &object);
}

fn push_value(line: &mut Vec<u8>, raw: bool, value: FieldValue<'_>) {
    match value {
        FieldValue::Text(captured) => {
            if let Some(bytes) = captured_text(captured) {
                push_data_cell(line, raw, bytes);
            }
        }
        FieldValue::Comm(comm) => push_data_cell(line, raw, comm_bytes(comm)),
        // Digits, a sign, `@`, `true`/`false`: never quoted.
        FieldValue::Signed(number) | FieldValue::Maybe(Some(number)) => push_i64(line, number),
        FieldValue::Unsigned(number) => push_u64(line, number),
        FieldValue::Bool(flag) => push_bytes(line, if flag { b"true" } else { b"false" }),
        FieldValue::Identity(Some((pid, start))) => {
            push_u64(line, u64::from(pid));
            line.push(b'@');
            push_u64(line, start);
        }
        FieldValue::Identity(None) | FieldValue::Maybe(None) | FieldValue::Derived(None) => {}
        FieldValue::Derived(Some(value)) => push_data_cell(line, raw, &value.bytes()),
        FieldValue::Args(args) => push_args_cell(line, raw, args),
        FieldValue::Attr(captured) => {
            if let Some(attr) = captured_attr(captured) {
                push_attr_cell(line, attr);
            }
        }
    }
}

/// Appends the cells every event has, the columns `event` to `latency_ns`,
/// straight from the event (the actor's from `actor`). Our own text (event
/// name, time, errno name) needs neither quotes nor neutralising; numbers
/// never do.
fn push_common_cells(
    line: &mut Vec<u8>,
    time: &mut Rfc3339Formatter,
    actor: &ActorMemo,
    event: &Event,
) {
    push_bytes(line, event.syscall.event_name().as_bytes());
    line.push(b',');
    line.extend_from_slice(time.format_bytes(event.wall_ns));
    line.push(b',');
    push_u64(line, event.ts_ns);
    line.extend_from_slice(actor.head());
    line.push(b',');
    // An unfinished call has no ret, error or latency: empty cells.
    if let Some(ret) = event.returned() {
        push_i64(line, ret);
        line.push(b',');
        if let Some(name) = errno::error_name(ret) {
            push_bytes(line, name.as_bytes());
        }
        line.push(b',');
        push_u64(line, event.latency_ns);
    } else {
        line.extend_from_slice(b",,");
    }
}

/// The actor's cells of the common ones, `pid` to `cgroup_id`, each after
/// its comma.
fn push_actor_cells(line: &mut Vec<u8>, raw: bool, event: &Event) {
    for number in [
        u64::from(event.pid),
        u64::from(event.tid),
        u64::from(event.ppid),
        u64::from(event.uid),
        u64::from(event.gid),
    ] {
        line.push(b',');
        push_u64(line, number);
    }
    line.push(b',');
    // A `Comm` ends before its first NUL already.
    push_data_cell(line, raw, &event.comm);
    line.push(b',');
    push_data_cell(line, raw, &event.pcomm);
    line.push(b',');
    push_u64(line, u64::from(event.mnt_ns));
    line.push(b',');
    push_u64(line, event.cgroup_id);
}

/// The container cells, the row's last four, each after its comma.
fn push_container_cells(line: &mut Vec<u8>, raw: bool, event: &Event) {
    for (_, value) in SyscallFields::container(event) {
        line.push(b',');
        push_value(line, raw, value);
    }
}

/// One cell after the common ones.
#[derive(Debug, Clone, Copy)]
enum Cell<'a> {
    Empty,
    /// Our own text (the unfinished reason): never quoted (a test checks
    /// every name), never neutralised.
    Plain(&'a str),
    /// Text from the capture outside the captured arguments (cgroup path):
    /// escaped and neutralised like captured text.
    Data(&'a [u8]),
    Value(FieldValue<'a>),
}

fn push_cell_of(line: &mut Vec<u8>, raw: bool, cell: Cell<'_>) {
    match cell {
        Cell::Empty => {}
        Cell::Plain(text) => push_bytes(line, text.as_bytes()),
        Cell::Data(bytes) => push_data_cell(line, raw, bytes),
        Cell::Value(value) => push_value(line, raw, value),
    }
}

/// The first column after the common ones ([`push_common_cells`] writes
/// `event` to `latency_ns`, the first columns of [`Column`]).
const FIRST_TAIL: usize = Column::LatencyNs as usize + 1;

/// How many columns come after the common ones.
const TAIL_LEN: usize = Column::COUNT - FIRST_TAIL;

/// The first container column, the first of the row's last four (written
/// from the actor memo, after the rest of the tail).
const FIRST_CONTAINER: usize = Column::ContainerId as usize - FIRST_TAIL;

// The tail's columns are the bits of a u64 (`Tail::filled`).
const _: () = assert!(TAIL_LEN <= 64);
// The container columns are the last four.
const _: () = assert!(
    Column::ContainerId as usize + 3 == Column::PodQos as usize
        && Column::PodQos as usize + 1 == Column::COUNT
);

/// `,` repeated: the separators of a run of empty cells.
const COMMAS: [u8; Column::COUNT] = [b','; Column::COUNT];

/// The cells of one event's row after the common ones, by column: the
/// syscall's own fields, `cgroup_path`, `unfinished` and
/// `unfinished_reason`. Bit `i` of `filled` is set when column
/// `FIRST_TAIL + i` has a cell, so that the writer goes from one such
/// column to the next (most of a row's cells are empty).
struct Tail<'a> {
    cells: [Cell<'a>; TAIL_LEN],
    filled: u64,
}

/// Appends the cells after the common ones but the container cells.
fn push_tail_cells(line: &mut Vec<u8>, raw: bool, event: &Event) {
    // Built here, where it is written (it is over a kilobyte: returned from
    // a constructor it would be copied).
    let mut tail = Tail {
        cells: [Cell::Empty; TAIL_LEN],
        filled: 0,
    };
    tail.fill(event);
    tail.write(line, raw);
}

impl<'a> Tail<'a> {
    fn fill(&mut self, event: &'a Event) {
        if let Some(path) = event.cgroup_path.as_deref() {
            self.set(Column::CgroupPath, Cell::Data(path));
        }
        self.set(
            Column::Unfinished,
            Cell::Value(FieldValue::Bool(event.unfinished.is_some())),
        );
        if let Some(reason) = event.unfinished {
            self.set(Column::UnfinishedReason, Cell::Plain(reason.name()));
        }
        let mut fields = SyscallFields::new();
        fields.push_call(event);
        for &(column, value) in fields.iter() {
            self.set(column, Cell::Value(value));
        }
        for (column, value) in SyscallFields::identities(event) {
            self.set(column, Cell::Value(value));
        }
    }

    /// Puts `cell` at `column`. The common columns are not the tail's:
    /// `push_common_cells` writes them, and a syscall never has one (a test
    /// checks every kind).
    fn set(&mut self, column: Column, cell: Cell<'a>) {
        let Some(index) = (column as usize).checked_sub(FIRST_TAIL) else {
            return;
        };
        if let Some(slot) = self.cells.get_mut(index) {
            *slot = cell;
            self.filled |= 1 << index;
        }
    }

    /// Appends the tail after the common cells up to the container cells:
    /// a comma before each column, the filled cells.
    fn write(&self, line: &mut Vec<u8>, raw: bool) {
        let mut filled = self.filled;
        // The commas up to a column are one more than the empty cells
        // since the last one written (the common cells at first).
        let mut next = 0;
        while filled != 0 {
            let index = filled.trailing_zeros() as usize;
            filled &= filled - 1;
            push_commas(line, index + 1 - next);
            if let Some(&cell) = self.cells.get(index) {
                push_cell_of(line, raw, cell);
            }
            next = index + 1;
        }
        push_commas(line, FIRST_CONTAINER.saturating_sub(next));
    }
}

/// Appends `count` commas (at most [`Column::COUNT`]): all of [`COMMAS`]
/// (a copy of constant size), cut to length.
#[inline(always)]
fn push_commas(line: &mut Vec<u8>, count: usize) {
    let end = line.len() + count.min(COMMAS.len());
    line.extend_from_slice(&COMMAS);
    line.truncate(end);
}

impl Renderer for CsvRenderer {
    fn begin(&mut self, out: &mut dyn Write) -> io::Result<()> {
        self.line.clear();
        for (index, column) in Column::ALL.iter().enumerate() {
            if index > 0 {
                self.line.push(b',');
            }
            push_cell(&mut self.line, b"", column.name().as_bytes());
        }
        self.line.push(b'\n');
        out.write_all(&self.line)
    }

    fn event(&mut self, event: &Event, out: &mut dyn Write) -> io::Result<()> {
        let CsvRenderer {
            line,
            time,
            raw,
            actor,
        } = self;
        if let Some((head, tail)) = actor.refresh(event) {
            push_actor_cells(head, *raw, event);
            push_container_cells(tail, *raw, event);
        }
        line.clear();
        push_common_cells(line, time, actor, event);
        push_tail_cells(line, *raw, event);
        line.extend_from_slice(actor.tail());
        line.push(b'\n');
        out.write_all(line)
    }

    fn end(&mut self, out: &mut dyn Write) -> io::Result<()> {
        out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Args, Comm, Syscall, Unfinished};
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

    /// One record of `cells` as the `csv` crate's default writer writes it.
    fn csv_crate_record<T: AsRef<[u8]>>(cells: &[T]) -> Vec<u8> {
        let mut writer = ::csv::WriterBuilder::new().from_writer(Vec::new());
        writer.write_record(cells).expect("Vec write");
        writer.into_inner().expect("flushed")
    }

    fn our_record<T: AsRef<[u8]>>(cells: &[T]) -> Vec<u8> {
        let mut line = Vec::new();
        for (index, cell) in cells.iter().enumerate() {
            if index > 0 {
                line.push(b',');
            }
            push_cell(&mut line, b"", cell.as_ref());
        }
        line.push(b'\n');
        line
    }

    /// A captured-text cell as the `csv`-crate renderer wrote it: decoded,
    /// escaped, neutralised, then quoted by the crate.
    fn reference_data_cell(bytes: &[u8], raw: bool) -> Vec<u8> {
        let text = cell_text(bytes, raw);
        let cell = if !raw && looks_like_formula(&text) {
            format!("'{text}")
        } else {
            text.into_owned()
        };
        csv_crate_record(&["x", &cell])
    }

    /// argv as the `csv`-crate renderer wrote it.
    fn reference_args_cell(args: &[Captured], raw: bool) -> Vec<u8> {
        let mut joined = String::new();
        for (index, arg) in args.iter().enumerate() {
            if index > 0 {
                joined.push(' ');
            }
            let text = cell_text(captured_text(arg).unwrap_or_default(), raw);
            joined.push('"');
            joined.push_str(&text.replace('"', "\\\""));
            joined.push('"');
        }
        if !raw && looks_like_formula(&joined) {
            joined.insert(0, '\'');
        }
        csv_crate_record(&["x", &joined])
    }

    /// `x,` then what `push` appends, then the newline: one record.
    fn our_cell(push: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut line = b"x,".to_vec();
        push(&mut line);
        line.push(b'\n');
        line
    }

    #[test]
    fn quoting_like_the_csv_crate() {
        let cells: Vec<Vec<u8>> = [
            &b""[..],
            b"plain",
            b"a,b",
            b"say \"hi\"",
            b"line\nbreak",
            b"cr\rhere",
            b"\"",
            b",,,,,,,,,",
            b"0123456789abcdef,",
            b"0123456\"",
            b"'=1+2",
            b"tab\tand space ",
            "ünïcödé".as_bytes(),
        ]
        .iter()
        .map(|cell| cell.to_vec())
        .collect();
        assert_eq!(our_record(&cells), csv_crate_record(&cells));
        // The prefix and the text are one cell.
        let mut line = Vec::new();
        push_cell(&mut line, b"'", b"=a,\"b\"");
        assert_eq!(line, b"\"'=a,\"\"b\"\"\"");
    }

    #[test]
    fn own_text_never_needs_quotes() {
        let mut time = Rfc3339Formatter::new();
        let names = Syscall::ALL
            .iter()
            .map(|syscall| syscall.event_name())
            .chain(Unfinished::ALL.iter().map(|reason| reason.name()))
            .chain((-5000..0).filter_map(errno::error_name))
            .map(str::to_string)
            .chain([time.format(WALL_NS).to_string()]);
        for name in names {
            assert!(!needs_quotes(name.as_bytes()), "{name}");
            assert!(!looks_like_formula(&name), "{name}");
        }
    }

    /// Bytes that matter to quoting, escaping, formulas and UTF-8.
    fn interesting_bytes() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let byte = prop_oneof![
            proptest::sample::select(b"a ,\"\r\n\t\\'=+-@\x00\x1b\x7f".to_vec()),
            proptest::sample::select(vec![0x80u8, 0x9b, 0xc2, 0xc3, 0xbc, 0xe2, 0x80, 0xae, 0xff]),
            any::<u8>(),
        ];
        proptest::collection::vec(byte, 0..40)
    }

    proptest::proptest! {
        #[test]
        fn any_cells_like_the_csv_crate(
            cells in proptest::collection::vec(
                proptest::collection::vec(proptest::num::u8::ANY, 0..24),
                2..6,
            ),
            picked in proptest::collection::vec(interesting_bytes(), 2..6),
        ) {
            proptest::prop_assert_eq!(our_record(&cells), csv_crate_record(&cells));
            proptest::prop_assert_eq!(our_record(&picked), csv_crate_record(&picked));
        }

        #[test]
        fn data_cells_like_the_csv_crate_renderer(bytes in interesting_bytes(), raw: bool) {
            proptest::prop_assert_eq!(
                our_cell(|line| push_data_cell(line, raw, &bytes)),
                reference_data_cell(&bytes, raw)
            );
        }

        #[test]
        fn args_cells_like_the_csv_crate_renderer(
            argv in proptest::collection::vec(
                proptest::option::weighted(0.9, interesting_bytes()),
                0..4,
            ),
            raw: bool,
        ) {
            // `None`: an argument whose memory could not be read.
            let args: Vec<Captured> = argv
                .iter()
                .map(|arg| arg.as_deref().map_or_else(unreadable, text))
                .collect();
            proptest::prop_assert_eq!(
                our_cell(|line| push_args_cell(line, raw, &args)),
                reference_args_cell(&args, raw)
            );
        }
    }

    /// One event of every syscall kind, with every field there is.
    fn one_of_each_kind() -> Vec<Event> {
        Syscall::ALL
            .iter()
            .map(|&syscall| {
                let args = match syscall {
                    Syscall::Execve | Syscall::Execveat => Args::Exec {
                        dirfd: Some(3),
                        flags: Some(0x1000),
                        filename: text(b"/bin/x"),
                        args: vec![text(b"x")],
                        args_truncated: true,
                    },
                    Syscall::Mount => Args::Mount {
                        source: text(b"a"),
                        target: text(b"b"),
                        fstype: text(b"c"),
                        flags: 1,
                        data: text(b"d"),
                    },
                    Syscall::Umount => Args::Umount {
                        target: text(b"b"),
                        flags: 2,
                    },
                    Syscall::Fsopen => Args::Fsopen {
                        fsname: text(b"ext4"),
                        flags: 1,
                    },
                    Syscall::Fsconfig => Args::Fsconfig {
                        fd: 3,
                        cmd: 1,
                        key: text(b"k"),
                        value: text(b"v"),
                        aux: -1,
                    },
                    Syscall::Fsmount => Args::Fsmount {
                        fs_fd: 3,
                        flags: 1,
                        attr_flags: 2,
                    },
                    Syscall::MoveMount => Args::MoveMount {
                        from_dirfd: 3,
                        from_path: text(b"f"),
                        to_dirfd: 4,
                        to_path: text(b"t"),
                        flags: 5,
                    },
                    Syscall::OpenTree => Args::OpenTree {
                        dirfd: 3,
                        path: text(b"p"),
                        flags: 1,
                    },
                    Syscall::MountSetattr => Args::MountSetattr {
                        dirfd: 3,
                        path: text(b"p"),
                        flags: 1,
                        attr: text(&[1, 0, 0, 0, 0, 0, 0, 0]),
                        size: 32,
                    },
                    Syscall::Fspick => Args::Fspick {
                        dirfd: 3,
                        path: text(b"p"),
                        flags: 1,
                    },
                    Syscall::Fork => Args::Fork {
                        child_pid: 5,
                        child_tid: 6,
                        clone_flags: 0x11,
                        child_start_ns: 7,
                    },
                    Syscall::Exit => Args::Exit {
                        status: 0x8b,
                        start_ns: 1,
                    },
                };
                let mut event = event(syscall, args);
                event.proc_start_ns = Some(1);
                event.parent_start_ns = Some(2);
                let id = b"0123456789abcdef".repeat(4);
                let path = [&b"/system.slice/docker-"[..], &id, b".scope"].concat();
                event.cgroup_path = Some(std::sync::Arc::from(path));
                event
            })
            .collect()
    }

    #[test]
    fn syscall_fields_come_after_the_common_columns() {
        for event in one_of_each_kind() {
            for &(column, _) in SyscallFields::of(&event).iter() {
                assert!(
                    column as usize >= FIRST_TAIL,
                    "{:?}: {column:?}",
                    event.syscall
                );
            }
        }
    }

    #[test]
    fn every_kind_has_every_column() {
        let events = one_of_each_kind();
        let output = render(false, &events);
        let records = parse(&output);
        assert_eq!(records.len(), events.len());
        for (record, event) in records.iter().zip(&events) {
            assert_eq!(record.len(), Column::COUNT);
            assert_eq!(&record[Column::Event as usize], event.syscall.event_name());
            for &(column, value) in SyscallFields::of(event).iter() {
                let mut cell = Vec::new();
                push_value(&mut cell, false, value);
                let cell = String::from_utf8(cell).expect("UTF-8");
                // The cell's text, as a CSV reader gives it back.
                let text = parse(&format!("h\n{cell}\n"))
                    .first()
                    .map(|row| row[0].to_string())
                    .unwrap_or_default();
                assert_eq!(&record[column as usize], text, "{column:?}");
            }
        }
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
