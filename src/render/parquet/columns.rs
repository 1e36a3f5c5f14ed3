//! One row group's values, column by column: [`ColumnBuffer`] collects the
//! values and Parquet definition/repetition levels of one top-level column
//! as rows come, then writes them as that column's leaf chunk(s) and is
//! emptied for the next row group. Strings of a column share one byte buffer
//! (no allocation per value); a string column is written through the
//! parquet crate's arrow encoder ([`ArrowText`]), a list of strings through
//! its column writer.

use super::schema::{Kind, Spec};
use crate::event::MountAttr;
use arrow_array::{ArrayRef, BinaryArray};
use arrow_buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType as ArrowType, Field, Schema, SchemaRef};
use bytes::Bytes;
// `get_column_writers` is deprecated for `ArrowRowGroupWriterFactory`, which
// makes writers for every column of the file schema from its first: it
// cannot give one for a single column in the middle, as this needs.
#[allow(deprecated)]
use parquet::arrow::arrow_writer::{compute_leaves, get_column_writers};
use parquet::column::writer::{ColumnWriter, ColumnWriterImpl};
use parquet::data_type::{ByteArray, DataType};
use parquet::errors::{ParquetError, Result};
use parquet::file::properties::WriterPropertiesPtr;
use parquet::file::writer::SerializedRowGroupWriter;
use parquet::schema::types::{SchemaDescriptor, Type, TypePtr};
use std::io::Write;
use std::ops::Range;
use std::sync::Arc;

/// The values of one top-level column, by physical type.
#[derive(Debug)]
enum Values {
    Int32(Vec<i32>),
    Int64(Vec<i64>),
    Bool(Vec<bool>),
    /// Strings, or the elements of lists of strings: all their bytes one
    /// after the other, and where each ends.
    Text {
        data: Vec<u8>,
        ends: Vec<usize>,
    },
    /// `struct mount_attr`'s four fields, one vector each.
    Attr([Vec<i64>; 4]),
}

/// What a string column needs to go through parquet's arrow encoder, which
/// reads the values as slices of one buffer: its `ByteArray` column writer
/// needs a reference-counted `Bytes` handle per value instead, an atomic
/// increment and decrement each (a tenth of the export's time in a profile).
#[derive(Debug)]
pub struct ArrowText {
    /// A schema of this column alone, the same as the file schema's column
    /// (which the row group checks when the chunk is appended).
    parquet: SchemaDescriptor,
    arrow: SchemaRef,
    props: WriterPropertiesPtr,
}

impl ArrowText {
    /// For the top-level column `field` of the file schema (a string).
    pub fn new(spec: &Spec, field: &TypePtr, props: &WriterPropertiesPtr) -> Result<ArrowText> {
        let alone = Type::group_type_builder("snoopcap_event")
            .with_fields(vec![Arc::clone(field)])
            .build()?;
        let arrow = Schema::new(vec![Field::new(
            spec.name,
            ArrowType::Binary,
            spec.optional,
        )]);
        Ok(ArrowText {
            parquet: SchemaDescriptor::new(Arc::new(alone)),
            arrow: Arc::new(arrow),
            props: Arc::clone(props),
        })
    }
}

fn arrow_error(err: arrow_schema::ArrowError) -> ParquetError {
    ParquetError::General(format!("arrow: {err}"))
}

/// One top-level column of the row group being built.
#[derive(Debug)]
pub struct ColumnBuffer {
    spec: Spec,
    /// For a (non-list) string column: written through the arrow encoder.
    arrow: Option<ArrowText>,
    values: Values,
    /// Definition levels, for an optional column or a list (else empty).
    defs: Vec<i16>,
    /// Repetition levels, for a list (else empty).
    reps: Vec<i16>,
    /// Reused between row groups: the strings handed to the column writer.
    scratch: Vec<ByteArray>,
    /// Rows this row group holds so far.
    rows: usize,
}

/// A value pushed into a column whose type cannot hold it: a mismatch
/// between the schema and the event model, which the tests rule out.
fn mismatch(spec: &Spec, what: &str) -> ParquetError {
    ParquetError::General(format!(
        "column {} ({:?}) cannot hold {what}",
        spec.name, spec.kind
    ))
}

/// Appends `bytes` as UTF-8, each invalid sequence replaced by U+FFFD (as
/// `String::from_utf8_lossy`, and as the JSON output does).
fn push_lossy(data: &mut Vec<u8>, bytes: &[u8]) {
    // Nearly every captured string is ASCII, which is checked a word at a
    // time; the full UTF-8 check only for the rest.
    if bytes.is_ascii() || std::str::from_utf8(bytes).is_ok() {
        data.extend_from_slice(bytes);
        return;
    }
    for chunk in bytes.utf8_chunks() {
        data.extend_from_slice(chunk.valid().as_bytes());
        if !chunk.invalid().is_empty() {
            data.extend_from_slice("\u{fffd}".as_bytes());
        }
    }
}

impl ColumnBuffer {
    pub fn new(spec: Spec) -> ColumnBuffer {
        let values = match spec.kind {
            Kind::U32 | Kind::I32 => Values::Int32(Vec::new()),
            Kind::U64 | Kind::I64 | Kind::Timestamp => Values::Int64(Vec::new()),
            Kind::Bool => Values::Bool(Vec::new()),
            Kind::Text | Kind::TextList | Kind::TextListNullable => Values::Text {
                data: Vec::new(),
                ends: Vec::new(),
            },
            Kind::Attr => Values::Attr(Default::default()),
        };
        ColumnBuffer {
            spec,
            arrow: None,
            values,
            defs: Vec::new(),
            reps: Vec::new(),
            scratch: Vec::new(),
            rows: 0,
        }
    }

    /// Writes this string column through the arrow encoder ([`ArrowText`]).
    pub fn with_arrow(mut self, arrow: ArrowText) -> ColumnBuffer {
        if self.spec.kind == Kind::Text {
            self.arrow = Some(arrow);
        }
        self
    }

    fn is_list(&self) -> bool {
        matches!(self.spec.kind, Kind::TextList | Kind::TextListNullable)
    }

    /// Records that this row has a (non-null) value.
    fn mark_present(&mut self) {
        if self.spec.optional {
            self.defs.push(1);
        }
        self.rows += 1;
    }

    /// This row has no value (the field does not apply, or JSON has null).
    pub fn push_null(&mut self) -> Result<()> {
        let rows = self.rows;
        self.pad_nulls(rows + 1)
    }

    /// Nulls up to `rows` rows: the rows before this one that did not have
    /// the field. Filling them in at once (here, and for the whole row group
    /// before it is written) is cheaper than a null per row and column.
    #[inline]
    pub fn pad_nulls(&mut self, rows: usize) -> Result<()> {
        match rows.checked_sub(self.rows) {
            Some(missing) if missing > 0 => self.push_nulls(missing),
            _ => Ok(()),
        }
    }

    /// `missing` nulls at the end of the column.
    fn push_nulls(&mut self, missing: usize) -> Result<()> {
        let rows = self.rows + missing;
        if !self.spec.optional {
            return Err(mismatch(&self.spec, "null"));
        }
        self.defs.resize(self.defs.len() + missing, 0);
        if self.is_list() {
            self.reps.resize(self.reps.len() + missing, 0);
        }
        self.rows = rows;
        Ok(())
    }

    /// A string (lossy UTF-8), or null for `None`.
    pub fn push_text(&mut self, text: Option<&[u8]>) -> Result<()> {
        let Some(bytes) = text else {
            return self.push_null();
        };
        match (&mut self.values, self.spec.kind) {
            (Values::Text { data, ends }, Kind::Text) => {
                push_lossy(data, bytes);
                ends.push(data.len());
            }
            _ => return Err(mismatch(&self.spec, "a string")),
        }
        self.mark_present();
        Ok(())
    }

    /// A string known to be valid UTF-8.
    pub fn push_str(&mut self, text: &str) -> Result<()> {
        match (&mut self.values, self.spec.kind) {
            (Values::Text { data, ends }, Kind::Text) => {
                data.extend_from_slice(text.as_bytes());
                ends.push(data.len());
            }
            _ => return Err(mismatch(&self.spec, "a string")),
        }
        self.mark_present();
        Ok(())
    }

    /// A signed integer (or a timestamp, in ns since the epoch).
    pub fn push_signed(&mut self, value: i64) -> Result<()> {
        match (&mut self.values, self.spec.kind) {
            (Values::Int64(values), Kind::I64 | Kind::Timestamp) => values.push(value),
            (Values::Int32(values), Kind::I32) => match i32::try_from(value) {
                Ok(value) => values.push(value),
                Err(_) => return Err(mismatch(&self.spec, "a value past 32 bits")),
            },
            _ => return Err(mismatch(&self.spec, "a signed integer")),
        }
        self.mark_present();
        Ok(())
    }

    /// An unsigned integer. Parquet keeps unsigned values in the signed
    /// physical type of their width, bit for bit.
    pub fn push_unsigned(&mut self, value: u64) -> Result<()> {
        match (&mut self.values, self.spec.kind) {
            (Values::Int64(values), Kind::U64) => values.push(value as i64),
            (Values::Int64(values), Kind::I64) => match i64::try_from(value) {
                Ok(value) => values.push(value),
                Err(_) => return Err(mismatch(&self.spec, "a value past 63 bits")),
            },
            (Values::Int32(values), Kind::U32) => match u32::try_from(value) {
                Ok(value) => values.push(value as i32),
                Err(_) => return Err(mismatch(&self.spec, "a value past 32 bits")),
            },
            _ => return Err(mismatch(&self.spec, "an unsigned integer")),
        }
        self.mark_present();
        Ok(())
    }

    pub fn push_bool(&mut self, value: bool) -> Result<()> {
        match &mut self.values {
            Values::Bool(values) => values.push(value),
            _ => return Err(mismatch(&self.spec, "a boolean")),
        }
        self.mark_present();
        Ok(())
    }

    /// A list of strings; a `None` element is a null element (only in a
    /// list whose elements may be null).
    pub fn push_list<'a>(&mut self, items: impl Iterator<Item = Option<&'a [u8]>>) -> Result<()> {
        let nullable = match self.spec.kind {
            Kind::TextListNullable => true,
            Kind::TextList => false,
            _ => return Err(mismatch(&self.spec, "a list")),
        };
        let Values::Text { data, ends } = &mut self.values else {
            return Err(mismatch(&self.spec, "a list"));
        };
        // The levels of the standard three-level list: the list itself
        // (when optional), the repeated group, the element (when optional).
        let empty = i16::from(self.spec.optional);
        let null_element = empty + 1;
        let element = null_element + i16::from(nullable);
        let mut rep = 0;
        for item in items {
            match item {
                Some(bytes) => {
                    push_lossy(data, bytes);
                    ends.push(data.len());
                    self.defs.push(element);
                }
                None if nullable => self.defs.push(null_element),
                None => return Err(mismatch(&self.spec, "a null element")),
            }
            self.reps.push(rep);
            rep = 1;
        }
        if rep == 0 {
            self.defs.push(empty);
            self.reps.push(0);
        }
        self.rows += 1;
        Ok(())
    }

    /// mount_setattr's `struct mount_attr`, or null.
    pub fn push_attr(&mut self, attr: Option<MountAttr>) -> Result<()> {
        let Some(attr) = attr else {
            return self.push_null();
        };
        match &mut self.values {
            Values::Attr(fields) => {
                let values = [
                    attr.attr_set,
                    attr.attr_clr,
                    attr.propagation,
                    attr.userns_fd,
                ];
                for (field, value) in fields.iter_mut().zip(values) {
                    field.push(value as i64);
                }
            }
            _ => return Err(mismatch(&self.spec, "a mount_attr")),
        }
        self.mark_present();
        Ok(())
    }

    /// The definition level of a present leaf value.
    fn max_def(&self) -> i16 {
        let optional = i16::from(self.spec.optional);
        match self.spec.kind {
            // The list, its repeated group, the element.
            Kind::TextListNullable => optional + 2,
            Kind::TextList => optional + 1,
            _ => optional,
        }
    }

    /// The row group cut into batches of about [`BATCH`] levels, each
    /// ending where a row ends.
    fn batches(&self, values: usize) -> Vec<Batch> {
        let has_defs = self.spec.optional || self.is_list();
        let levels = if has_defs { self.defs.len() } else { values };
        let max_def = self.max_def();
        let mut batches = Vec::with_capacity(levels / BATCH + 1);
        let (mut level, mut value) = (0, 0);
        while level < levels {
            let mut end = (level + BATCH).min(levels);
            while self.reps.get(end).is_some_and(|&rep| rep != 0) {
                end += 1;
            }
            let count = if has_defs {
                self.defs[level..end]
                    .iter()
                    .filter(|&&def| def == max_def)
                    .count()
            } else {
                end - level
            };
            batches.push(Batch {
                levels: level..end,
                values: value..value + count,
            });
            (level, value) = (end, value + count);
        }
        batches
    }

    /// Writes the row group's values as this column's leaf chunk(s) (one,
    /// or one per field for `attr`) and empties the buffer.
    pub fn write<W: Write + Send>(
        &mut self,
        group: &mut SerializedRowGroupWriter<'_, W>,
    ) -> Result<()> {
        let count = match &self.values {
            Values::Int32(values) => values.len(),
            Values::Int64(values) => values.len(),
            Values::Bool(values) => values.len(),
            Values::Text { ends, .. } => ends.len(),
            Values::Attr(fields) => fields[0].len(),
        };
        let batches = self.batches(count);
        let levels = Levels {
            defs: (self.spec.optional || self.is_list()).then_some(&self.defs[..]),
            reps: self.is_list().then_some(&self.reps[..]),
        };
        let spec = self.spec;
        match &self.values {
            Values::Int32(values) => leaf(group, |writer| match writer {
                ColumnWriter::Int32ColumnWriter(typed) => {
                    write_batches(typed, values, levels, &batches)
                }
                _ => Err(mismatch(&spec, "int32 values")),
            })?,
            Values::Int64(values) => leaf(group, |writer| match writer {
                ColumnWriter::Int64ColumnWriter(typed) => {
                    write_batches(typed, values, levels, &batches)
                }
                _ => Err(mismatch(&spec, "int64 values")),
            })?,
            Values::Bool(values) => leaf(group, |writer| match writer {
                ColumnWriter::BoolColumnWriter(typed) => {
                    write_batches(typed, values, levels, &batches)
                }
                _ => Err(mismatch(&spec, "boolean values")),
            })?,
            Values::Text { data, ends } => match &self.arrow {
                Some(arrow) => write_arrow(arrow, self.binary_array(data, ends)?, group)?,
                None => {
                    // One shared buffer; each value a slice of it (no copy).
                    let all = Bytes::copy_from_slice(data);
                    let scratch = &mut self.scratch;
                    leaf(group, |writer| {
                        let ColumnWriter::ByteArrayColumnWriter(typed) = writer else {
                            return Err(mismatch(&spec, "strings"));
                        };
                        for batch in &batches {
                            scratch.clear();
                            let mut start = match batch.values.start {
                                0 => 0,
                                first => ends[first - 1],
                            };
                            for &end in &ends[batch.values.clone()] {
                                scratch.push(ByteArray::from(all.slice(start..end)));
                                start = end;
                            }
                            let (defs, reps) = levels.of(batch);
                            typed.write_batch(scratch, defs, reps)?;
                        }
                        scratch.clear();
                        Ok(())
                    })?;
                }
            },
            Values::Attr(fields) => {
                for field in fields {
                    leaf(group, |writer| match writer {
                        ColumnWriter::Int64ColumnWriter(typed) => {
                            write_batches(typed, field, levels, &batches)
                        }
                        _ => Err(mismatch(&spec, "int64 values")),
                    })?;
                }
            }
        }
        self.clear();
        Ok(())
    }

    /// The row group's strings as one arrow array, a slot per row (an
    /// empty one for a null).
    fn binary_array(&self, data: &[u8], ends: &[usize]) -> Result<ArrayRef> {
        let offset = |end: usize| {
            i32::try_from(end).map_err(|_| mismatch(&self.spec, "2 GiB of strings in a row group"))
        };
        let mut offsets = Vec::with_capacity(self.rows + 1);
        offsets.push(0);
        let nulls = if self.spec.optional {
            // A present value ends at its end, a null where the last did.
            let mut ends = ends.iter();
            let mut last = 0;
            for &def in &self.defs {
                if def != 0 {
                    let end = ends
                        .next()
                        .ok_or_else(|| mismatch(&self.spec, "more present rows than strings"))?;
                    last = offset(*end)?;
                }
                offsets.push(last);
            }
            if ends.next().is_some() {
                return Err(mismatch(&self.spec, "more strings than present rows"));
            }
            // Sixty-four rows to a word (from_iter sets one bit at a time).
            let defs = &self.defs;
            let valid = BooleanBuffer::collect_bool(defs.len(), |row| defs[row] != 0);
            Some(NullBuffer::new(valid))
        } else {
            for &end in ends {
                offsets.push(offset(end)?);
            }
            None
        };
        // The offsets rise by construction (each value's end follows the
        // last), which OffsetBuffer::new asserts.
        let array = BinaryArray::try_new(
            OffsetBuffer::new(ScalarBuffer::from(offsets)),
            Buffer::from(data),
            nulls,
        )
        .map_err(arrow_error)?;
        Ok(Arc::new(array))
    }

    fn clear(&mut self) {
        match &mut self.values {
            Values::Int32(values) => values.clear(),
            Values::Int64(values) => values.clear(),
            Values::Bool(values) => values.clear(),
            Values::Text { data, ends } => {
                data.clear();
                ends.clear();
            }
            Values::Attr(fields) => fields.iter_mut().for_each(Vec::clear),
        }
        self.defs.clear();
        self.reps.clear();
        self.rows = 0;
    }
}

/// Levels and values go to the column writer in batches of about this many
/// levels, so that the strings' `ByteArray` handles need a small buffer.
const BATCH: usize = 4096;

/// One batch: a range of levels, and the range of values among them.
#[derive(Debug)]
struct Batch {
    levels: Range<usize>,
    values: Range<usize>,
}

/// A column's definition and repetition levels (`None` when it has none).
#[derive(Debug, Clone, Copy)]
struct Levels<'a> {
    defs: Option<&'a [i16]>,
    reps: Option<&'a [i16]>,
}

impl<'a> Levels<'a> {
    fn of(&self, batch: &Batch) -> (Option<&'a [i16]>, Option<&'a [i16]>) {
        let cut = |levels: &'a [i16]| &levels[batch.levels.clone()];
        (self.defs.map(cut), self.reps.map(cut))
    }
}

/// Writes `values` and their levels batch by batch.
fn write_batches<T: DataType>(
    typed: &mut ColumnWriterImpl<'_, T>,
    values: &[T::T],
    levels: Levels<'_>,
    batches: &[Batch],
) -> Result<()> {
    for batch in batches {
        let (defs, reps) = levels.of(batch);
        typed.write_batch(&values[batch.values.clone()], defs, reps)?;
    }
    Ok(())
}

/// Writes `array` as the next column chunk of the row group, through the
/// arrow encoder.
fn write_arrow<W: Write + Send>(
    arrow: &ArrowText,
    array: ArrayRef,
    group: &mut SerializedRowGroupWriter<'_, W>,
) -> Result<()> {
    let field = arrow.arrow.field(0);
    #[allow(deprecated)]
    let mut writers = get_column_writers(&arrow.parquet, &arrow.props, &arrow.arrow)?;
    let (Some(mut writer), true) = (writers.pop(), writers.is_empty()) else {
        return Err(ParquetError::General(format!(
            "column {}: not one arrow column writer",
            field.name()
        )));
    };
    for leaf in compute_leaves(field, &array)? {
        writer.write(&leaf)?;
    }
    writer.close()?.append_to_row_group(group)
}

/// Writes one leaf column chunk of the row group with `write`.
fn leaf<W: Write + Send>(
    group: &mut SerializedRowGroupWriter<'_, W>,
    write: impl FnOnce(&mut ColumnWriter<'_>) -> Result<()>,
) -> Result<()> {
    let mut column = group.next_column()?.ok_or_else(|| {
        ParquetError::General("the schema has fewer columns than the rows".into())
    })?;
    write(column.untyped())?;
    column.close()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;

    fn column(optional: bool) -> ColumnBuffer {
        ColumnBuffer::new(Spec {
            name: "target",
            kind: Kind::Text,
            optional,
        })
    }

    fn values(array: &ArrayRef) -> Vec<Option<&[u8]>> {
        let Some(binary) = array.as_any().downcast_ref::<BinaryArray>() else {
            panic!("not a binary array");
        };
        (0..binary.len())
            .map(|row| binary.is_valid(row).then(|| binary.value(row)))
            .collect()
    }

    #[test]
    fn a_string_column_is_one_array_with_a_slot_per_row() {
        let mut buffer = column(true);
        buffer.push_text(Some(b"/mnt")).unwrap();
        buffer.push_null().unwrap();
        buffer.push_null().unwrap();
        buffer.push_text(Some(b"")).unwrap();
        buffer.push_text(Some(b"/proc")).unwrap();
        buffer.pad_nulls(6).unwrap();
        let Values::Text { data, ends } = &buffer.values else {
            panic!("a string column holds text");
        };
        let array = buffer.binary_array(data, ends).unwrap();
        assert_eq!(
            values(&array),
            [
                Some(&b"/mnt"[..]),
                None,
                None,
                Some(b""),
                Some(b"/proc"),
                None
            ]
        );

        let mut required = column(false);
        required.push_str("mount").unwrap();
        required.push_str("umount").unwrap();
        let Values::Text { data, ends } = &required.values else {
            panic!("a string column holds text");
        };
        let array = required.binary_array(data, ends).unwrap();
        assert_eq!(values(&array), [Some(&b"mount"[..]), Some(b"umount")]);
        assert_eq!(array.null_count(), 0);
    }

    #[test]
    fn rows_and_strings_that_disagree_are_an_error_not_a_panic() {
        let mut buffer = column(true);
        buffer.push_text(Some(b"/mnt")).unwrap();
        buffer.push_null().unwrap();
        let Values::Text { data, ends } = &buffer.values else {
            panic!("a string column holds text");
        };
        let (data, ends) = (data.clone(), ends.clone());
        // A present row more than there are strings, then a string more.
        assert!(buffer.binary_array(&data, &[]).is_err());
        let extra = [ends[0], ends[0]];
        assert!(buffer.binary_array(&data, &extra).is_err());
        assert!(buffer.binary_array(&data, &ends).is_ok());
    }
}
