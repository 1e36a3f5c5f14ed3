//! The capture file format: header, frames, records, trailer; writer and reader. Spec: docs/FORMAT.md.
