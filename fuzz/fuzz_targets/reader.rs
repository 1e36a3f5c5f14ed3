//! Fuzz target: arbitrary bytes into `CaptureReader`, drained to the end.
//! The reader must never panic, never loop forever, never return a kernel
//! record shorter than its timestamp, and always end after a fatal error.

#![no_main]

use libfuzzer_sys::fuzz_target;
use snoopcap::format::{CaptureReader, Record};

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = CaptureReader::new(data) else {
        return;
    };
    // Exercise the frame-skipping path too, from the input's last bytes.
    if let Some(&b) = data.last() {
        if b & 1 == 1 {
            let edge = u64::from(b) << 24;
            reader.set_time_window(Some(edge), Some(edge.saturating_mul(4)));
        }
    }
    loop {
        match reader.next_record() {
            Ok(Some(Record::Kernel(raw))) => assert!(raw.len() >= 8),
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => {
                assert!(!e.to_string().contains('\n'));
                if !e.is_recoverable() {
                    assert!(matches!(reader.next_record(), Ok(None)));
                    break;
                }
            }
        }
    }
    for d in reader.damage() {
        assert!(!d.to_string().contains('\n'));
    }
    let _ = reader.trailer();
});
