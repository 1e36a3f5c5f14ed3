//! snoopcap's one integration-test binary; each module covers one area.
//! Modules that run `record` need the `record` feature; the rest also run
//! in the replay-only build (`--no-default-features`).

#[cfg(feature = "record")]
mod capture_sets;
#[cfg(feature = "record")]
mod coexist;
mod common;
#[cfg(feature = "record")]
mod containers;
mod diff;
#[cfg(feature = "record")]
mod docker;
mod format;
mod golden;
#[cfg(feature = "record")]
mod lineage;
#[cfg(feature = "parquet")]
mod parquet;
mod perfetto;
#[cfg(feature = "record")]
mod record_e2e;
mod reliability;
#[cfg(feature = "record")]
mod rewrite;
mod rewrite_offline;
mod schema;
mod spec_examples;
mod usage;
