//! snoopcap's one integration-test binary; each module covers one area.

mod common;
mod format;
mod golden;
