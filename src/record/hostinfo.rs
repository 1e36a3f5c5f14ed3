//! Facts about the recording host that go into a capture's header (hostname,
//! uname, OS, boot id, CPUs, UTC offset) and the clock anchor that maps the
//! kernel's boot-time timestamps to wall-clock time.

use std::fs;

/// How `measure_clock_anchor` measures, written into each capture header.
pub const CLOCK_METHOD: &str = "clock_gettime(CLOCK_BOOTTIME) read before and after clock_gettime(CLOCK_REALTIME); boot_ns is the midpoint of the two BOOTTIME reads, uncertainty_ns half their difference; the BPF side stamps records with bpf_ktime_get_boot_ns (the same clock)";

/// A moment read on both clocks: at boot-clock time `boot_ns` the wall clock
/// read `wall_ns` (ns since the Unix epoch, UTC), give or take `uncertainty_ns`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockReading {
    pub boot_ns: u64,
    pub wall_ns: i64,
    pub uncertainty_ns: u64,
}

fn clock_ns(clock: libc::clockid_t) -> i128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid timespec; both clocks exist on every Linux.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec)
}

/// Reads both clocks; takes the tightest of a few tries.
pub fn measure_clock_anchor() -> ClockReading {
    let mut best: Option<ClockReading> = None;
    for _ in 0..5 {
        let before = clock_ns(libc::CLOCK_BOOTTIME);
        let wall = clock_ns(libc::CLOCK_REALTIME);
        let after = clock_ns(libc::CLOCK_BOOTTIME);
        let reading = ClockReading {
            boot_ns: u64::try_from((before + after) / 2).unwrap_or(0),
            wall_ns: i64::try_from(wall).unwrap_or(i64::MAX),
            uncertainty_ns: u64::try_from((after - before) / 2).unwrap_or(u64::MAX),
        };
        if best.is_none_or(|b| reading.uncertainty_ns < b.uncertainty_ns) {
            best = Some(reading);
        }
    }
    best.unwrap_or(ClockReading {
        boot_ns: 0,
        wall_ns: 0,
        uncertainty_ns: u64::MAX,
    })
}

/// Wall-clock now, ns since the Unix epoch.
pub fn wall_now_ns() -> i64 {
    i64::try_from(clock_ns(libc::CLOCK_REALTIME)).unwrap_or(i64::MAX)
}

/// Boot-clock now, ns.
pub fn boot_now_ns() -> u64 {
    u64::try_from(clock_ns(libc::CLOCK_BOOTTIME)).unwrap_or(0)
}

/// The host facts of a capture header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostInfo {
    pub hostname: String,
    pub sysname: String,
    pub release: String,
    pub kernel_version: String,
    pub machine: String,
    pub os_name: String,
    pub boot_id: String,
    pub num_cpus: u32,
    pub page_size: u32,
    pub utc_offset_secs: i32,
}

fn c_field(field: &[libc::c_char]) -> String {
    let bytes: Vec<u8> = field
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn read_trimmed(path: &str) -> String {
    fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// PRETTY_NAME (or NAME) of os-release.
fn os_name() -> String {
    let text = fs::read_to_string("/etc/os-release")
        .or_else(|_| fs::read_to_string("/usr/lib/os-release"))
        .unwrap_or_default();
    let value = |key: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
            .map(|v| v.trim().trim_matches('"').to_string())
    };
    value("PRETTY_NAME")
        .or_else(|| value("NAME"))
        .unwrap_or_default()
}

impl HostInfo {
    /// Collects the facts; a fact that cannot be read stays empty.
    pub fn collect() -> HostInfo {
        // SAFETY: utsname is plain data; uname fills it.
        let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
        // SAFETY: uts is a valid utsname.
        let uname_ok = unsafe { libc::uname(&mut uts) } == 0;
        let (hostname, sysname, release, kernel_version, machine) = if uname_ok {
            (
                c_field(&uts.nodename),
                c_field(&uts.sysname),
                c_field(&uts.release),
                c_field(&uts.version),
                c_field(&uts.machine),
            )
        } else {
            Default::default()
        };
        // SAFETY: sysconf has no memory-safety preconditions.
        let online = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
        let utc_offset_secs = chrono::Local::now().offset().local_minus_utc();
        HostInfo {
            hostname,
            sysname,
            release,
            kernel_version,
            machine,
            os_name: os_name(),
            boot_id: read_trimmed("/proc/sys/kernel/random/boot_id"),
            num_cpus: u32::try_from(online).unwrap_or(0),
            page_size: super::loader::page_size(),
            utc_offset_secs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_anchor_agrees_with_the_clocks() {
        let before_wall = wall_now_ns();
        let anchor = measure_clock_anchor();
        let after_wall = wall_now_ns();
        assert!(anchor.wall_ns >= before_wall && anchor.wall_ns <= after_wall);
        assert!(anchor.uncertainty_ns < 1_000_000_000);
        assert!(anchor.boot_ns <= boot_now_ns());
    }

    #[test]
    fn host_facts_match_the_kernel() {
        let info = HostInfo::collect();
        assert_eq!(info.sysname, "Linux");
        assert_eq!(info.release, read_trimmed("/proc/sys/kernel/osrelease"));
        assert_eq!(info.boot_id.len(), 36, "boot id {:?}", info.boot_id);
        assert!(info.num_cpus >= 1);
        assert!(info.page_size >= 4096);
    }
}
