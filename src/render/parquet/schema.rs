//! The Parquet file's columns: one [`Spec`] per top-level column, in file
//! order, and the Parquet schema built from them. The names are JSON's
//! ([`Column::name`]), then the capture identity columns.

use crate::render::fields::Column;
use parquet::errors::Result;
use parquet::schema::parser::parse_message_type;
use parquet::schema::types::Type;

/// What a column holds, and so its Parquet physical and logical type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `binary (STRING)`: UTF-8, invalid sequences replaced by U+FFFD.
    Text,
    /// `int64 (TIMESTAMP(NANOS,true))`: nanoseconds since the epoch, UTC.
    Timestamp,
    /// `int32 (INTEGER(32,false))`.
    U32,
    /// `int64 (INTEGER(64,false))`.
    U64,
    /// `int32 (INTEGER(32,true))`.
    I32,
    /// `int64 (INTEGER(64,true))`.
    I64,
    Bool,
    /// A LIST of strings whose elements may be null (exec's `args`: an
    /// argument whose memory could not be read is null, as in JSON).
    TextListNullable,
    /// A LIST of strings whose elements are never null (`truncated`,
    /// `unreadable`).
    TextList,
    /// mount_setattr's `struct mount_attr`: a group of four `uint64`.
    Attr,
}

/// One top-level column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    pub name: &'static str,
    pub kind: Kind,
    /// Null where the field does not apply (or JSON has null).
    pub optional: bool,
}

const fn required(name: &'static str, kind: Kind) -> Spec {
    Spec {
        name,
        kind,
        optional: false,
    }
}

const fn optional(name: &'static str, kind: Kind) -> Spec {
    Spec {
        name,
        kind,
        optional: true,
    }
}

/// The fields every event has, in JSON's key order.
pub const COMMON: [Spec; 16] = [
    required(Column::Event.name(), Kind::Text),
    required(Column::Time.name(), Kind::Timestamp),
    required(Column::TsNs.name(), Kind::U64),
    required(Column::Pid.name(), Kind::U32),
    required(Column::Tid.name(), Kind::U32),
    required(Column::Ppid.name(), Kind::U32),
    required(Column::Uid.name(), Kind::U32),
    required(Column::Gid.name(), Kind::U32),
    required(Column::Comm.name(), Kind::Text),
    required(Column::Pcomm.name(), Kind::Text),
    required(Column::MntNs.name(), Kind::U32),
    required(Column::CgroupId.name(), Kind::U64),
    optional(Column::CgroupPath.name(), Kind::Text),
    // Null for a call still in progress when the capture ended.
    optional(Column::Ret.name(), Kind::I64),
    optional(Column::Error.name(), Kind::Text),
    optional(Column::LatencyNs.name(), Kind::U64),
];

/// The syscall-specific fields ([`crate::render::fields::SyscallFields`]),
/// each null for the event kinds that do not have it, in [`Column`] order.
pub const SYSCALL: [(Column, Kind); 41] = [
    (Column::Filename, Kind::Text),
    (Column::Args, Kind::TextListNullable),
    (Column::ArgsTruncated, Kind::Bool),
    (Column::Source, Kind::Text),
    (Column::Target, Kind::Text),
    (Column::Fstype, Kind::Text),
    // mount(2)'s flags are unsigned long, umount2(2)'s and execveat(2)'s
    // int, the others' u32: one signed 64-bit column holds them all.
    (Column::Flags, Kind::I64),
    (Column::Data, Kind::Text),
    (Column::Fsname, Kind::Text),
    (Column::Fd, Kind::I32),
    (Column::Cmd, Kind::U32),
    (Column::Key, Kind::Text),
    (Column::Value, Kind::Text),
    (Column::Aux, Kind::I32),
    (Column::FsFd, Kind::I32),
    (Column::AttrFlags, Kind::U32),
    (Column::FromDirfd, Kind::I32),
    (Column::FromPath, Kind::Text),
    (Column::ToDirfd, Kind::I32),
    (Column::ToPath, Kind::Text),
    (Column::Dirfd, Kind::I32),
    (Column::Path, Kind::Text),
    (Column::Attr, Kind::Attr),
    (Column::Size, Kind::U64),
    (Column::CommBefore, Kind::Text),
    // JSON has these only for unfinished calls; null here for the others.
    (Column::Unfinished, Kind::Bool),
    (Column::UnfinishedReason, Kind::Text),
    (Column::ProcId, Kind::Text),
    (Column::ParentProcId, Kind::Text),
    (Column::ChildPid, Kind::U32),
    (Column::ChildTid, Kind::U32),
    (Column::CloneFlags, Kind::U64),
    (Column::Thread, Kind::Bool),
    (Column::ExitCode, Kind::I32),
    (Column::Signal, Kind::I32),
    (Column::CoreDumped, Kind::Bool),
    (Column::LifetimeNs, Kind::I64),
    // The container identity derived from the cgroup path (null outside one).
    (Column::ContainerId, Kind::Text),
    (Column::Runtime, Kind::Text),
    (Column::PodUid, Kind::Text),
    (Column::PodQos, Kind::Text),
];

/// JSON's `truncated` and `unreadable` (absent in JSON, null here, when empty).
pub const LISTS: [Spec; 2] = [
    optional("truncated", Kind::TextList),
    optional("unreadable", Kind::TextList),
];

/// Which capture each row came from, so that files of many hosts can be
/// queried as one table.
pub const IDENTITY: [Spec; 4] = [
    required("hostname", Kind::Text),
    required("boot_id", Kind::Text),
    // Null when the capture was read from stdin.
    optional("capture_file", Kind::Text),
    required("capture_start", Kind::Timestamp),
];

/// The field names of `struct mount_attr`, as in JSON's `attr` object.
pub const ATTR_FIELDS: [&str; 4] = ["attr_set", "attr_clr", "propagation", "userns_fd"];

/// Every top-level column, in file order.
pub fn specs() -> Vec<Spec> {
    let mut all = COMMON.to_vec();
    all.extend(
        SYSCALL
            .iter()
            .map(|&(column, kind)| optional(column.name(), kind)),
    );
    all.extend(LISTS);
    all.extend(IDENTITY);
    all
}

/// The Parquet message type of `specs`.
pub fn message_type(specs: &[Spec]) -> Result<Type> {
    let mut text = String::from("message snoopcap_event {\n");
    for spec in specs {
        let repetition = if spec.optional {
            "optional"
        } else {
            "required"
        };
        let name = spec.name;
        let line = match spec.kind {
            Kind::Text => format!("{repetition} binary {name} (STRING);"),
            Kind::Timestamp => format!("{repetition} int64 {name} (TIMESTAMP(NANOS,true));"),
            Kind::U32 => format!("{repetition} int32 {name} (INTEGER(32,false));"),
            Kind::U64 => format!("{repetition} int64 {name} (INTEGER(64,false));"),
            Kind::I32 => format!("{repetition} int32 {name} (INTEGER(32,true));"),
            Kind::I64 => format!("{repetition} int64 {name} (INTEGER(64,true));"),
            Kind::Bool => format!("{repetition} boolean {name};"),
            // The standard three-level LIST layout, which every reader knows.
            Kind::TextListNullable => format!(
                "{repetition} group {name} (LIST) {{ repeated group list {{ optional binary element (STRING); }} }}"
            ),
            Kind::TextList => format!(
                "{repetition} group {name} (LIST) {{ repeated group list {{ required binary element (STRING); }} }}"
            ),
            Kind::Attr => {
                let fields: String = ATTR_FIELDS
                    .iter()
                    .map(|field| format!(" required int64 {field} (INTEGER(64,false));"))
                    .collect();
                format!("{repetition} group {name} {{{fields} }}")
            }
        };
        text.push_str(&line);
        text.push('\n');
    }
    text.push('}');
    parse_message_type(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_json_field_is_a_column_once() {
        let specs = specs();
        let mut names: Vec<&str> = specs.iter().map(|spec| spec.name).collect();
        for column in Column::ALL {
            assert!(names.contains(&column.name()), "{} missing", column.name());
        }
        names.sort_unstable();
        let count = names.len();
        names.dedup();
        assert_eq!(names.len(), count, "a column name twice");
        assert_eq!(count, Column::COUNT + LISTS.len() + IDENTITY.len());
    }

    #[test]
    fn schema_parses_with_one_leaf_per_value() {
        let specs = specs();
        let schema = message_type(&specs).expect("schema");
        assert_eq!(schema.get_fields().len(), specs.len());
        let descr = parquet::schema::types::SchemaDescriptor::new(std::sync::Arc::new(schema));
        // Every column is one leaf but `attr`, which has four.
        assert_eq!(descr.num_columns(), specs.len() + ATTR_FIELDS.len() - 1);
        let args = descr
            .columns()
            .iter()
            .find(|column| column.path().string() == "args.list.element")
            .expect("args leaf");
        assert_eq!((args.max_def_level(), args.max_rep_level()), (3, 1));
    }
}
