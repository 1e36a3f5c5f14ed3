//! The snapshot of the process table `record` stores when it starts: every
//! process /proc shows (pid, parent, start time, uid, comm, command line,
//! cgroup v2 path), so that the capture's process tree has roots and
//! long-running parents have names and command lines. Processes the
//! kernel-side filters would not trace are left out, so a filtered capture
//! holds nothing of the processes it excludes.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::cgroup;
use super::loader::ProbeConfig;
use crate::format::ProcessInfo;

/// Most processes kept (a larger table is cut, oldest first kept).
const MAX_PROCESSES: usize = 1 << 20;

/// The processes of /proc that `config`'s filters select, parents before
/// children (by start time). Processes that vanish while being read are
/// skipped. `None` when the filters cannot be applied here (the pinned map
/// filters select by ids only the kernel side sees): then no snapshot is
/// stored rather than one that shows excluded processes.
pub fn take(config: &ProbeConfig) -> Option<Vec<ProcessInfo>> {
    if config.cgroupmap.is_some() || config.mntnsmap.is_some() {
        return None;
    }
    let ticks = clock_ticks_per_second();
    let cgroup_prefix = config.cgroup_dir.as_deref().and_then(cgroup_path_of_dir);
    let mut processes: Vec<ProcessInfo> = fs::read_dir("/proc")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| read_process(pid, ticks))
        .filter(|p| config.pid.is_none_or(|pid| pid == p.pid))
        .filter(|p| config.uid.is_none_or(|uid| uid == p.uid))
        .filter(|p| config.mntns.is_none_or(|ns| mount_ns(p.pid) == Some(ns)))
        .filter(|p| {
            cgroup_prefix
                .as_deref()
                .is_none_or(|prefix| in_cgroup(&p.cgroup, prefix))
        })
        .take(MAX_PROCESSES)
        .collect();
    processes.sort_by_key(|p| (p.start_ns, p.pid));
    Some(processes)
}

/// One process from /proc/PID/{stat,status,cmdline,cgroup}.
fn read_process(pid: u32, ticks_per_second: u64) -> Option<ProcessInfo> {
    let dir = Path::new("/proc").join(pid.to_string());
    let stat = fs::read(dir.join("stat")).ok()?;
    let (comm, ppid, start_ticks) = parse_stat(&stat)?;
    let uid = fs::metadata(&dir).ok()?.uid();
    let argv = fs::read(dir.join("cmdline"))
        .map(|bytes| split_cmdline(&bytes))
        .unwrap_or_default();
    let cgroup = fs::read(dir.join("cgroup"))
        .map(|bytes| cgroup_v2_path(&bytes))
        .unwrap_or_default();
    Some(ProcessInfo {
        pid,
        ppid,
        start_ns: start_ticks.saturating_mul(1_000_000_000 / ticks_per_second.max(1)),
        uid,
        comm,
        argv,
        cgroup,
    })
}

/// comm, ppid and starttime (clock ticks since boot) of /proc/PID/stat. The
/// comm is in parentheses and may hold anything, parentheses included: the
/// fields start after the last `)`.
fn parse_stat(stat: &[u8]) -> Option<(Vec<u8>, u32, u64)> {
    let open = stat.iter().position(|&b| b == b'(')?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    let comm = stat.get(open + 1..close)?.to_vec();
    let rest = std::str::from_utf8(stat.get(close + 1..)?).ok()?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the comm: state (field 3), ppid (4), ..., starttime (22).
    let ppid = fields.get(1)?.parse().ok()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((comm, ppid, start))
}

/// argv from /proc/PID/cmdline: NUL-terminated strings.
fn split_cmdline(bytes: &[u8]) -> Vec<Vec<u8>> {
    let body = bytes.strip_suffix(&[0]).unwrap_or(bytes);
    if body.is_empty() {
        return Vec::new();
    }
    body.split(|&b| b == 0).map(<[u8]>::to_vec).collect()
}

/// The cgroup v2 path of /proc/PID/cgroup (its `0::PATH` line).
fn cgroup_v2_path(bytes: &[u8]) -> Vec<u8> {
    bytes
        .split(|&b| b == b'\n')
        .find_map(|line| line.strip_prefix(b"0::"))
        .map(<[u8]>::to_vec)
        .unwrap_or_default()
}

/// Whether cgroup path `path` is `prefix` or below it.
fn in_cgroup(path: &[u8], prefix: &[u8]) -> bool {
    let prefix = prefix.strip_suffix(b"/").unwrap_or(prefix);
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(b"/") || prefix.is_empty())
}

/// The cgroup v2 path (as /proc/PID/cgroup writes it) of a directory of
/// the cgroup2 mount.
fn cgroup_path_of_dir(dir: &Path) -> Option<Vec<u8>> {
    let mount = cgroup::cgroup2_mount()?;
    let dir = fs::canonicalize(dir).ok()?;
    let relative = dir.strip_prefix(&mount).ok()?;
    Some(format!("/{}", relative.display()).into_bytes())
}

fn mount_ns(pid: u32) -> Option<u32> {
    let ns = fs::metadata(format!("/proc/{pid}/ns/mnt")).ok()?;
    u32::try_from(ns.ino()).ok()
}

fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(ticks).ok().filter(|&t| t > 0).unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_a_hostile_comm() {
        let stat =
            b"4242 (a) b (c)) S 17 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 123456 0 0";
        let (comm, ppid, start) = parse_stat(stat).expect("parses");
        assert_eq!(comm, b"a) b (c)");
        assert_eq!(ppid, 17);
        assert_eq!(start, 123456);
        assert_eq!(parse_stat(b"garbage"), None);
    }

    #[test]
    fn cmdline_and_cgroup() {
        assert_eq!(
            split_cmdline(b"ls\0-l\0\0x\0"),
            vec![b"ls".to_vec(), b"-l".to_vec(), b"".to_vec(), b"x".to_vec()]
        );
        assert!(split_cmdline(b"").is_empty());
        assert_eq!(
            cgroup_v2_path(b"1:name=systemd:/x\n0::/system.slice/a.service\n"),
            b"/system.slice/a.service"
        );
        assert!(in_cgroup(b"/a/b", b"/a"));
        assert!(in_cgroup(b"/a", b"/a/"));
        assert!(!in_cgroup(b"/ab", b"/a"));
        assert!(in_cgroup(b"/anything", b"/"));
    }
}
