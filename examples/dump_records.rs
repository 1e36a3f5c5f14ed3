//! Prints every record of a capture, one line each, undecoded as far as the
//! pairing goes: for looking at what the kernel side really wrote.
//! Usage: cargo run --example dump_records -- CAPTURE

use std::fs::File;
use std::io::BufReader;

use snoopcap::decode::{self, RawRecord};
use snoopcap::format::{CaptureReader, Record};

fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: dump_records CAPTURE"))?;
    let mut reader = CaptureReader::new(BufReader::new(File::open(&path)?))?;
    let layout = reader.header().layout_version;
    while let Some(record) = reader.next_record()? {
        match record {
            Record::Kernel(raw) => match decode::decode(raw, layout) {
                Ok(RawRecord::Enter(e)) => println!(
                    "enter {:?} ts={} pid={} tid={} flags={:#x} args={:?}",
                    e.syscall, e.ts_ns, e.pid, e.tid, e.flags, e.args
                ),
                Ok(RawRecord::Refetch(e)) => println!(
                    "refetch {:?} ts={} pid={} tid={} args={:?}",
                    e.syscall, e.ts_ns, e.pid, e.tid, e.args
                ),
                Ok(RawRecord::Exit(x)) => println!(
                    "exit  {:?} ts={} pid={} tid={} ret={} comm={:?}",
                    x.syscall,
                    x.ts_ns,
                    x.pid,
                    x.tid,
                    x.ret,
                    String::from_utf8_lossy(x.comm.as_bytes())
                ),
                Err(err) => println!("undecodable ({} bytes): {err}", raw.len()),
            },
            other => println!("{other:?}"),
        }
    }
    Ok(())
}
