//! Prints every kernel record of a capture, one line each, before pairing,
//! and each event the records make: for looking at what the kernel side
//! really wrote. Reads through the event stream like everything else.
//! Usage: cargo run --example dump_records -- CAPTURE

use std::fs::File;
use std::io::BufReader;

use snoopcap::replay::decode::RawRecord;
use snoopcap::replay::{EventStream, Item, StreamOptions};

fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: dump_records CAPTURE"))?;
    let options = StreamOptions {
        raw_records: true,
        ..StreamOptions::default()
    };
    let mut stream = EventStream::open(BufReader::new(File::open(&path)?), &options)?;
    for item in stream.by_ref() {
        match item {
            Item::Record(RawRecord::Enter(e)) => println!(
                "enter {:?} ts={} pid={} tid={} flags={:#x} args={:?}",
                e.syscall, e.ts_ns, e.pid, e.tid, e.flags, e.args
            ),
            Item::Record(RawRecord::Refetch(e)) => println!(
                "refetch {:?} ts={} pid={} tid={} args={:?}",
                e.syscall, e.ts_ns, e.pid, e.tid, e.args
            ),
            Item::Record(RawRecord::Exit(x)) => println!(
                "exit  {:?} ts={} pid={} tid={} ret={} comm={:?}",
                x.syscall,
                x.ts_ns,
                x.pid,
                x.tid,
                x.ret,
                String::from_utf8_lossy(x.comm.as_bytes())
            ),
            Item::Event(event) => println!(
                "  = event {} pid={} tid={} ret={} latency={}ns",
                event.syscall, event.pid, event.tid, event.ret, event.latency_ns
            ),
            Item::Warning(warning) => println!("warning: {warning}"),
            Item::EndOfFrame => {}
        }
    }
    let summary = stream.finish();
    println!(
        "records {}, lost in the kernel {}, unpaired exits {}, entries without exit {}, complete {}",
        summary.records.records,
        summary.loss.total(),
        summary.pairing.orphan_exits,
        summary.pairing.incomplete_entries,
        !summary.cut_short()
    );
    Ok(())
}
