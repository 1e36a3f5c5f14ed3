//! Decoding of raw kernel records (layout versions of src/bpf/snoopcap.h) into typed records.
