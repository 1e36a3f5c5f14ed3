//! The kernel side: the generated BPF skeleton and the raw record layouts
//! shared with `snoopcap.h`.

#[allow(clippy::all, clippy::pedantic, missing_docs, non_camel_case_types, dead_code)]
mod skel {
    include!(concat!(env!("OUT_DIR"), "/snoopcap.skel.rs"));
}

/// Constants of `snoopcap.h` (record sizes, flags, limits), extracted by build.rs.
#[allow(dead_code)]
pub mod layout {
    include!(concat!(env!("OUT_DIR"), "/layout_consts.rs"));
}

pub use skel::*;
