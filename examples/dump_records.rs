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
            Item::Record(RawRecord::Fork(f)) => println!(
                "fork  ts={} pid={} tid={} child={}/{} child_start={} clone_flags={:#x}",
                f.ts_ns, f.pid, f.tid, f.child_pid, f.child_tid, f.child_start_ns, f.clone_flags
            ),
            Item::Record(RawRecord::ProcExit(x)) => println!(
                "pexit ts={} pid={} tid={} status={:#x} start={}",
                x.ts_ns, x.pid, x.tid, x.status, x.start_ns
            ),
            Item::Record(RawRecord::Exec(e)) => println!(
                "exec  ts={} pid={} caller={} flags={:#x} args={:?}",
                e.ts_ns, e.pid, e.exec_caller_tid, e.flags, e.args
            ),
            Item::Process(p) => println!(
                "snapshot pid={} ppid={} start={} comm={:?}",
                p.pid,
                p.ppid,
                p.start_ns,
                String::from_utf8_lossy(&p.comm)
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
