use std::mem::MaybeUninit;
use std::time::{Duration, Instant};
fn main() {
    let cfg = snoopcap::bpf::ProbeConfig::default();
    let mut storage = MaybeUninit::uninit();
    let probes = match snoopcap::bpf::Probes::load(&cfg, &mut storage) {
        Ok(p) => p,
        Err(e) => { eprintln!("{e}"); std::process::exit(1) }
    };
    let count = std::cell::Cell::new(0u64);
    let ring = probes.ring_buffer(|b: &[u8]| { count.set(count.get() + 1); if b[20] == 1 && b.len() > 136 { eprintln!("{} {:?}", b.len(), String::from_utf8_lossy(&b[136..])); } 0 }).unwrap();
    eprintln!("Tracing");
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) { snoopcap::bpf::drain(&ring, Duration::from_millis(100)).unwrap(); }
    eprintln!("records {} lost {:?}", count.get(), probes.loss_counters().unwrap());
}
