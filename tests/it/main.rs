//! snoopcap's one integration-test binary; each module covers one area.

mod coexist;
mod common;
mod containers;
mod format;
mod golden;
mod record_e2e;
mod reliability;
