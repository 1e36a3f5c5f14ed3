//! Reassembly: pairs entry and exit records into events, tolerating loss.
