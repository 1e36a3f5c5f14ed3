//! Parquet output (`--format parquet`): one row per event, typed columns
//! named as the JSON fields, plus the capture identity columns
//! (`hostname`, `boot_id`, `capture_file`, `capture_start`), so that the
//! files of many hosts can be queried together (docs/FLEET.md).
//!
//! Streaming with bounded memory: rows are collected column by column
//! ([`columns`]) into a row group of at most [`ROWS_PER_GROUP`] rows, which
//! is then encoded (dictionary where it pays, zstd pages) into an in-memory
//! buffer and written out with one `write_all`; the footer follows in
//! [`Renderer::end`]. The Parquet writer only ever appends, so the output may
//! be a pipe as well as a file. The types are in [`schema`].

mod columns;
pub mod schema;

use self::columns::{ArrowText, ColumnBuffer};
use self::schema::{Kind, Spec};
use super::actor::ActorMemo;
use super::errno;
use super::escape::comm_bytes;
use super::fields::{
    captured_attr, captured_text, push_identity, Column, FieldValue, SyscallFields,
};
use super::{CaptureIdentity, Renderer};
use crate::event::Event;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::errors::{ParquetError, Result};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;
use std::io::{self, Write};
use std::sync::Arc;

/// Rows per row group: large enough for good compression and few footer
/// entries, small enough that a group's buffers stay a few MB.
pub const ROWS_PER_GROUP: usize = 64 * 1024;

/// zstd level of the column chunks: level 1 compresses these columns
/// nearly as well as 3 at a fraction of the cost (docs/PERFORMANCE.md).
const ZSTD_LEVEL: i32 = 1;

/// Columns whose values are almost all distinct, where a dictionary would
/// only cost time: delta-encoded instead (the clocks grow by small steps,
/// latencies are small), which also leaves zstd a third of the bytes.
const DELTA: [&str; 3] = ["time", "ts_ns", "latency_ns"];

/// The columns with a dictionary: few distinct values, each repeated in
/// long runs, where dictionary indices (run-length encoded) come out
/// smaller than zstd makes of the plain values. Every other column is plain
/// and zstd-compressed: interning every value into a dictionary was a fifth
/// of the export's time, and for most columns (pids, paths, names that
/// change with the process) saved no bytes over zstd (docs/PERFORMANCE.md).
const DICTIONARY: [&str; 7] = [
    "event",
    "comm",
    "pcomm",
    "ppid",
    "mnt_ns",
    "cgroup_id",
    "flags",
];

/// The columns with min/max statistics (per page and chunk), which let
/// engines skip row groups: time ranges, event kinds, hosts. Computing them
/// costs two comparisons per value, too much for every column.
const STATISTICS: [&str; 5] = ["time", "ts_ns", "event", "hostname", "capture_start"];

/// Where each part of an event goes: indexes into the column buffers.
#[derive(Debug)]
struct Layout {
    /// The index of each [`Column`]'s buffer (`Column as usize`).
    of_column: [usize; Column::COUNT],
    truncated: usize,
    unreadable: usize,
    identity: usize,
}

impl Layout {
    fn new(specs: &[Spec]) -> Result<Layout> {
        let find = |name: &str| {
            specs
                .iter()
                .position(|spec| spec.name == name)
                .ok_or_else(|| ParquetError::General(format!("no column {name}")))
        };
        let mut of_column = [0; Column::COUNT];
        for column in Column::ALL {
            of_column[column as usize] = find(column.name())?;
        }
        Ok(Layout {
            of_column,
            truncated: find(schema::LISTS[0].name)?,
            unreadable: find(schema::LISTS[1].name)?,
            identity: find(schema::IDENTITY[0].name)?,
        })
    }
}

/// The open Parquet file and the row group being filled.
struct Writer {
    file: SerializedFileWriter<Vec<u8>>,
    columns: Vec<ColumnBuffer>,
    layout: Layout,
    /// Rows in the row group being filled. A column that a row has no
    /// value for is behind by one; it is filled with nulls when it next
    /// gets a value, or when the row group is written.
    rows: usize,
    /// A process identity's or container field's text, reused from row to
    /// row (when it is not the actor memo's).
    scratch: Vec<u8>,
    /// The actor's text columns (process identities, container fields) of
    /// the last row, as [`ActorText`] entries: a run of one actor's rows
    /// works them out once.
    actor: ActorMemo,
}

/// Renders events as one Parquet file.
pub struct ParquetRenderer {
    /// Opened on first use; `None` again once the footer is written.
    writer: Option<Writer>,
    finished: bool,
    identity: CaptureIdentity,
}

impl std::fmt::Debug for ParquetRenderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetRenderer")
            .field("rows", &self.writer.as_ref().map(|w| w.rows))
            .field("identity", &self.identity)
            .finish()
    }
}

fn to_io(err: ParquetError) -> io::Error {
    match err {
        ParquetError::External(inner) => io::Error::other(inner),
        other => io::Error::other(other),
    }
}

fn properties() -> Result<WriterProperties> {
    let mut builder = WriterProperties::builder()
        .set_writer_version(WriterVersion::PARQUET_1_0)
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(ZSTD_LEVEL)?))
        .set_created_by(format!("snoopcap {}", env!("CARGO_PKG_VERSION")))
        .set_statistics_enabled(EnabledStatistics::None)
        .set_dictionary_enabled(false);
    for name in STATISTICS {
        builder =
            builder.set_column_statistics_enabled(ColumnPath::from(name), EnabledStatistics::Page);
    }
    for name in DICTIONARY {
        builder = builder.set_column_dictionary_enabled(ColumnPath::from(name), true);
    }
    for name in DELTA {
        builder =
            builder.set_column_encoding(ColumnPath::from(name), Encoding::DELTA_BINARY_PACKED);
    }
    Ok(builder.build())
}

impl Writer {
    fn open() -> Result<Writer> {
        let specs = schema::specs();
        let layout = Layout::new(&specs)?;
        let message = Arc::new(schema::message_type(&specs)?);
        let props = Arc::new(properties()?);
        let mut columns = Vec::with_capacity(specs.len());
        for (spec, field) in specs.into_iter().zip(message.get_fields()) {
            let column = ColumnBuffer::new(spec);
            columns.push(match spec.kind {
                Kind::Text => column.with_arrow(ArrowText::new(&spec, field, &props)?),
                _ => column,
            });
        }
        let file = SerializedFileWriter::new(Vec::new(), message, props)?;
        Ok(Writer {
            file,
            columns,
            layout,
            rows: 0,
            scratch: Vec::with_capacity(32),
            actor: ActorMemo::default(),
        })
    }

    fn column(&mut self, column: Column) -> &mut ColumnBuffer {
        &mut self.columns[self.layout.of_column[column as usize]]
    }

    /// Appends one event as a row.
    fn push(&mut self, event: &Event, identity: &CaptureIdentity) -> Result<()> {
        self.push_common(event)?;
        // The actor's fields are never cut short or unreadable: the call's
        // alone say what the lists hold.
        let mut fields = SyscallFields::new();
        fields.push_call(event);
        for &(column, value) in fields.iter() {
            self.push_field(column, value)?;
        }
        self.push_actor(event)?;
        // Most events have nothing cut or unreadable: the lists are built
        // only when something is.
        if fields.is_marked() {
            self.push_marked(&fields)?;
        }
        self.push_identity(identity)?;
        self.rows += 1;
        Ok(())
    }

    /// The actor's fields ([`SyscallFields::of_actor`]), from the memo of
    /// the last row's actor when it is the same.
    fn push_actor(&mut self, event: &Event) -> Result<()> {
        if let Some((head, _)) = self.actor.refresh(event) {
            for &(column, value) in SyscallFields::of_actor(event).iter() {
                ActorText::push(head, column, value)?;
            }
        }
        let Writer {
            columns,
            layout,
            rows,
            actor,
            ..
        } = self;
        for (column, text) in ActorText::entries(actor.head()) {
            let buffer = &mut columns[layout.of_column[column as usize]];
            buffer.pad_nulls(*rows)?;
            buffer.push_text(Some(text))?;
        }
        Ok(())
    }

    /// The `truncated` and `unreadable` lists of the row.
    fn push_marked(&mut self, fields: &SyscallFields<'_>) -> Result<()> {
        let truncated = fields.truncated();
        let unreadable = fields.unreadable();
        for (index, names) in [
            (self.layout.truncated, truncated.names()),
            (self.layout.unreadable, unreadable.names()),
        ] {
            if !names.is_empty() {
                let column = &mut self.columns[index];
                column.pad_nulls(self.rows)?;
                column.push_list(names.iter().map(|name| Some(name.as_bytes())))?;
            }
        }
        Ok(())
    }

    /// The fields every event has, as `json::push_event` writes them.
    fn push_common(&mut self, event: &Event) -> Result<()> {
        use Column as C;
        self.column(C::Event)
            .push_text(Some(event.syscall.event_name().as_bytes()))?;
        self.column(C::Time).push_signed(event.wall_ns)?;
        self.column(C::TsNs).push_unsigned(event.ts_ns)?;
        self.column(C::Pid).push_unsigned(u64::from(event.pid))?;
        self.column(C::Tid).push_unsigned(u64::from(event.tid))?;
        self.column(C::Ppid).push_unsigned(u64::from(event.ppid))?;
        self.column(C::Uid).push_unsigned(u64::from(event.uid))?;
        self.column(C::Gid).push_unsigned(u64::from(event.gid))?;
        self.column(C::Comm)
            .push_text(Some(comm_bytes(&event.comm)))?;
        self.column(C::Pcomm)
            .push_text(Some(comm_bytes(&event.pcomm)))?;
        self.column(C::MntNs)
            .push_unsigned(u64::from(event.mnt_ns))?;
        self.column(C::CgroupId).push_unsigned(event.cgroup_id)?;
        self.column(C::CgroupPath)
            .push_text(event.cgroup_path.as_deref())?;
        if let Some(reason) = event.unfinished {
            // As JSON: no return value, no error, no latency.
            self.column(C::Ret).push_null()?;
            self.column(C::Error).push_null()?;
            self.column(C::LatencyNs).push_null()?;
            self.push_field(C::Unfinished, FieldValue::Bool(true))?;
            let buffer = &mut self.columns[self.layout.of_column[C::UnfinishedReason as usize]];
            buffer.pad_nulls(self.rows)?;
            return buffer.push_text(Some(reason.name().as_bytes()));
        }
        self.column(C::Ret).push_signed(event.ret)?;
        self.column(C::Error)
            .push_text(errno::error_name(event.ret).map(str::as_bytes))?;
        self.column(C::LatencyNs).push_unsigned(event.latency_ns)
    }

    /// A syscall-specific field (the rows before that lacked it get nulls).
    fn push_field(&mut self, column: Column, value: FieldValue<'_>) -> Result<()> {
        let buffer = &mut self.columns[self.layout.of_column[column as usize]];
        match value {
            // Nothing to do: the column is behind by this row, which gets
            // its null with the next value or when the row group is written.
            FieldValue::Identity(None) | FieldValue::Maybe(None) | FieldValue::Derived(None) => {
                return Ok(())
            }
            _ => buffer.pad_nulls(self.rows)?,
        }
        match value {
            FieldValue::Text(captured) => buffer.push_text(captured_text(captured)),
            FieldValue::Signed(number) => buffer.push_signed(number),
            FieldValue::Unsigned(number) => buffer.push_unsigned(number),
            FieldValue::Bool(flag) => buffer.push_bool(flag),
            FieldValue::Args(args) => buffer.push_list(args.iter().map(captured_text)),
            FieldValue::Comm(comm) => buffer.push_text(Some(comm_bytes(comm))),
            FieldValue::Attr(captured) => buffer.push_attr(captured_attr(captured)),
            FieldValue::Identity(_) | FieldValue::Derived(_) => {
                let scratch = &mut self.scratch;
                scratch.clear();
                if push_derived_text(scratch, column, value)? {
                    buffer.push_text(Some(scratch))
                } else {
                    Ok(())
                }
            }
            FieldValue::Maybe(number) => number.map_or(Ok(()), |n| buffer.push_signed(n)),
        }
    }

    fn push_identity(&mut self, identity: &CaptureIdentity) -> Result<()> {
        let columns = &mut self.columns[self.layout.identity..];
        let [hostname, boot_id, file, start, ..] = columns else {
            return Err(ParquetError::General("identity columns missing".into()));
        };
        hostname.push_str(&identity.hostname)?;
        boot_id.push_str(&identity.boot_id)?;
        match &identity.file {
            Some(name) => file.push_str(name)?,
            None => file.push_null()?,
        }
        start.push_signed(identity.start_wall_ns)
    }

    /// Encodes the buffered rows as one row group and writes out every
    /// byte the file has so far.
    fn flush_group(&mut self, out: &mut dyn Write) -> io::Result<()> {
        if self.rows > 0 {
            let mut group = self.file.next_row_group().map_err(to_io)?;
            for column in &mut self.columns {
                column.pad_nulls(self.rows).map_err(to_io)?;
                column.write(&mut group).map_err(to_io)?;
            }
            group.close().map_err(to_io)?;
            self.rows = 0;
        }
        self.drain(out)
    }

    /// Moves what the Parquet writer wrote into its buffer to `out`.
    fn drain(&mut self, out: &mut dyn Write) -> io::Result<()> {
        self.file.flush()?;
        let pending = self.file.inner_mut();
        out.write_all(pending)?;
        pending.clear();
        Ok(())
    }

    /// The last row group and the footer.
    fn finish(mut self, out: &mut dyn Write) -> io::Result<()> {
        self.flush_group(out)?;
        let rest = self.file.into_inner().map_err(to_io)?;
        out.write_all(&rest)
    }
}

/// Appends the text of a value derived from who made the event (a process
/// identity, a container field); `false`, appending nothing, for a null one.
fn push_derived_text(out: &mut Vec<u8>, column: Column, value: FieldValue<'_>) -> Result<bool> {
    match value {
        FieldValue::Identity(Some((pid, start))) => push_identity(out, pid, start),
        FieldValue::Derived(Some(derived)) => out.extend_from_slice(&derived.bytes()),
        FieldValue::Identity(None) | FieldValue::Derived(None) => return Ok(false),
        _ => {
            return Err(ParquetError::General(format!(
                "field {} is not a process identity or container field",
                column.name()
            )))
        }
    }
    Ok(true)
}

/// The text of each non-null actor field, packed one after the other in a
/// byte buffer: the column's index, the text's length (4 bytes, little
/// endian), the text. Null fields have no entry (the column gets its null
/// with the next value).
struct ActorText;

impl ActorText {
    fn push(out: &mut Vec<u8>, column: Column, value: FieldValue<'_>) -> Result<()> {
        let entry = out.len();
        out.push(column as u8);
        out.extend_from_slice(&[0; 4]);
        if !push_derived_text(out, column, value)? {
            out.truncate(entry);
            return Ok(());
        }
        let len = u32::try_from(out.len() - entry - 5)
            .map_err(|_| ParquetError::General("actor field too long".into()))?;
        out[entry + 1..entry + 5].copy_from_slice(&len.to_le_bytes());
        Ok(())
    }

    /// The entries of `packed`, in order.
    fn entries(mut packed: &[u8]) -> impl Iterator<Item = (Column, &[u8])> {
        std::iter::from_fn(move || {
            let (&index, rest) = packed.split_first()?;
            let (len, rest) = rest.split_first_chunk::<4>()?;
            let len = u32::from_le_bytes(*len) as usize;
            let text = rest.get(..len)?;
            packed = rest.get(len..)?;
            Some((*Column::ALL.get(usize::from(index))?, text))
        })
    }
}

impl ParquetRenderer {
    pub fn new(_options: super::RenderOptions) -> ParquetRenderer {
        ParquetRenderer {
            writer: None,
            finished: false,
            identity: CaptureIdentity::default(),
        }
    }
}

/// The open writer in `slot`, opened on first use.
fn open_writer(slot: &mut Option<Writer>, finished: bool) -> io::Result<&mut Writer> {
    if finished {
        return Err(io::Error::other("the Parquet file is already finished"));
    }
    match slot {
        Some(writer) => Ok(writer),
        None => Ok(slot.insert(Writer::open().map_err(to_io)?)),
    }
}

impl Renderer for ParquetRenderer {
    fn input(&mut self, capture: &CaptureIdentity) {
        self.identity = capture.clone();
    }

    fn begin(&mut self, out: &mut dyn Write) -> io::Result<()> {
        open_writer(&mut self.writer, self.finished)?.drain(out)
    }

    fn event(&mut self, event: &Event, out: &mut dyn Write) -> io::Result<()> {
        let writer = open_writer(&mut self.writer, self.finished)?;
        writer.push(event, &self.identity).map_err(to_io)?;
        if writer.rows >= ROWS_PER_GROUP {
            writer.flush_group(out)?;
        }
        Ok(())
    }

    /// Writes the last row group and the footer: a complete file, with no
    /// row group when there was no event.
    fn end(&mut self, out: &mut dyn Write) -> io::Result<()> {
        if !self.finished {
            open_writer(&mut self.writer, false)?;
            self.finished = true;
            if let Some(writer) = self.writer.take() {
                writer.finish(out)?;
            }
        }
        out.flush()
    }
}
