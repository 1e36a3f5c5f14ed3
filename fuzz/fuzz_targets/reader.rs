//! Fuzz target: arbitrary bytes into the event stream (the capture reader,
//! the record decoder and the pairing), drained to the end. Nothing may
//! panic or loop forever, every warning is one line, and the summary's
//! counts add up.

#![no_main]

use libfuzzer_sys::fuzz_target;
use snoopcap::replay::{EventStream, Item, StreamOptions};

fuzz_target!(|data: &[u8]| {
    let options = StreamOptions {
        // The last byte chooses whether raw records are tapped too.
        raw_records: data.last().is_some_and(|b| b & 1 == 1),
        ..StreamOptions::default()
    };
    let Ok(mut stream) = EventStream::open(data, &options) else {
        return;
    };
    let mut events = 0u64;
    for item in stream.by_ref() {
        match item {
            Item::Event(_) => events += 1,
            Item::Warning(w) => assert!(!w.to_string().contains('\n')),
            Item::Record(_) | Item::Process(_) | Item::EndOfFrame => {}
        }
    }
    let summary = stream.finish();
    assert_eq!(summary.events_shown, events);
    assert!(summary.pairing.events <= summary.records.records);
    for line in summary.end_warnings(false) {
        assert!(!line.contains('\n'));
    }
    for d in &summary.damage {
        assert!(!d.to_string().contains('\n'));
    }
});
