//! Containers on the host side: where cgroup v2 and bpffs are mounted, what
//! filesystem a path is on (for `record --cgroup`/`--cgroupmap`/`--mntnsmap`
//! messages that say what to mount), and [`CgroupResolver`], which turns the
//! cgroup ids of kernel records into cgroup v2 paths (`/system.slice/x.scope`,
//! relative to the cgroup2 mount, as in `/proc/PID/cgroup`).
//!
//! On cgroup v2 a cgroup's id is its directory's inode number. The resolver
//! asks the kernel for the directory by id (`open_by_handle_at` with a kernfs
//! file handle, as systemd does), and if that is not available walks the
//! cgroup2 mount matching inode numbers.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// `statfs` f_type of cgroup v2.
pub const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
/// `statfs` f_type of a cgroup v1 hierarchy.
pub const CGROUP_SUPER_MAGIC: i64 = 0x0027_e0eb;
/// `statfs` f_type of bpffs.
pub const BPF_FS_MAGIC: i64 = 0xcafe_4a11;

/// The filesystem type (`statfs` f_type) of the filesystem `path` is on.
pub fn fs_magic(path: &Path) -> io::Result<i64> {
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut buf = std::mem::MaybeUninit::<libc::statfs>::zeroed();
    // SAFETY: c_path is NUL-terminated; buf is large enough for a statfs.
    let rc = unsafe { libc::statfs(c_path.as_ptr(), buf.as_mut_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: statfs succeeded and filled buf.
    let buf = unsafe { buf.assume_init() };
    #[allow(clippy::unnecessary_cast)]
    Ok(buf.f_type as i64)
}

/// Undoes the octal escapes (`\040` for a space) of /proc/self/mounts.
fn unescape_mount_field(field: &str) -> PathBuf {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|d| {
            d.iter()
                .all(|b| (b'0'..=b'7').contains(b))
                .then(|| d.iter().fold(0u32, |n, b| n * 8 + u32::from(b - b'0')))
        });
        match (bytes[i], octal) {
            (b'\\', Some(value)) if value <= 0xff => {
                out.push(value as u8);
                i += 4;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    PathBuf::from(OsStr::from_bytes(&out))
}

/// Mount points of filesystems of type `fstype`, in /proc/self/mounts order.
pub fn mount_points(fstype: &str) -> Vec<PathBuf> {
    mount_points_in(
        &std::fs::read_to_string("/proc/self/mounts").unwrap_or_default(),
        fstype,
    )
}

fn mount_points_in(mounts: &str, fstype: &str) -> Vec<PathBuf> {
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split(' ');
            let _source = fields.next()?;
            let target = fields.next()?;
            (fields.next()? == fstype).then(|| unescape_mount_field(target))
        })
        .collect()
}

/// The first cgroup v2 mount of this mount namespace.
pub fn cgroup2_mount() -> Option<PathBuf> {
    mount_points("cgroup2").into_iter().next()
}

/// Where cgroup v2 is mounted here, or how to mount it.
pub fn cgroup2_hint() -> String {
    match cgroup2_mount() {
        Some(mount) => format!("cgroup v2 is mounted at {}", mount.display()),
        None => "cgroup v2 is not mounted here: mount it with `mount -t cgroup2 none /sys/fs/cgroup` \
                 (or /sys/fs/cgroup/unified beside cgroup v1); on a cgroup v1-only host use --mntns or --mntnsmap"
            .to_string(),
    }
}

/// Checks that `dir` is a cgroup v2 directory; the error says why not and
/// what to do, in one line.
pub fn check_cgroup2_dir(dir: &Path) -> Result<(), String> {
    match fs_magic(dir) {
        Ok(CGROUP2_SUPER_MAGIC) => {
            if dir.is_dir() {
                Ok(())
            } else {
                Err(format!(
                    "is a file, not a cgroup directory; {}",
                    cgroup2_hint()
                ))
            }
        }
        Ok(CGROUP_SUPER_MAGIC) => Err(format!(
            "is in a cgroup v1 hierarchy; --cgroup needs a cgroup v2 directory ({})",
            cgroup2_hint()
        )),
        Ok(_) => Err(format!(
            "is not on a cgroup v2 filesystem; {}",
            cgroup2_hint()
        )),
        Err(err) => Err(format!("cannot use it ({err}); {}", cgroup2_hint())),
    }
}

/// Why a pinned-map path does not lead to a map, in terms of bpffs: `None`
/// when the path is on bpffs (the problem is elsewhere).
pub fn bpffs_problem(path: &Path) -> Option<String> {
    // The path, or its nearest existing ancestor for a missing path.
    let existing = path
        .ancestors()
        .find(|p| !p.as_os_str().is_empty() && p.exists())
        .unwrap_or(Path::new("/"));
    if fs_magic(existing).ok() == Some(BPF_FS_MAGIC) {
        return None;
    }
    let mounted = mount_points("bpf");
    Some(if mounted.is_empty() {
        "no bpf filesystem is mounted: mount it with `mount -t bpf bpf /sys/fs/bpf` and pin the map there".to_string()
    } else {
        format!(
            "{} is not on a bpf filesystem (bpffs is mounted at {}; if that is not where the map was pinned, mount it with `mount -t bpf bpf /sys/fs/bpf`)",
            existing.display(),
            mounted
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// `struct file_handle` with room for a kernfs handle (the 64-bit node id).
#[repr(C)]
struct KernfsHandle {
    handle_bytes: u32,
    handle_type: i32,
    id: [u8; 8],
}

/// `FILEID_KERNFS`: the handle type of kernfs (cgroupfs) file handles.
const FILEID_KERNFS: i32 = 0xfe;

/// Most directories the fallback walk visits.
const WALK_LIMIT: usize = 100_000;

/// Turns cgroup ids into paths relative to the cgroup2 mount.
#[derive(Debug)]
pub struct CgroupResolver {
    mount: Option<(PathBuf, File)>,
    /// Cleared once the kernel refused a file handle for a reason other
    /// than a gone cgroup: from then on only the walk is tried.
    by_handle: bool,
    /// The fallback walk's last result.
    walked: HashMap<u64, Vec<u8>>,
}

impl CgroupResolver {
    /// A resolver for this mount namespace's first cgroup2 mount; one that
    /// resolves nothing where cgroup v2 is not mounted.
    pub fn new() -> CgroupResolver {
        CgroupResolver::at(cgroup2_mount())
    }

    /// A resolver for the cgroup2 mount at `mount`.
    pub fn at(mount: Option<PathBuf>) -> CgroupResolver {
        let mount = mount.and_then(|path| {
            let dir = File::open(&path).ok()?;
            Some((path, dir))
        });
        CgroupResolver {
            mount,
            by_handle: true,
            walked: HashMap::new(),
        }
    }

    /// The path of cgroup `id` (`/` for the root), or `None` when it is
    /// gone or cannot be found.
    pub fn resolve(&mut self, id: u64) -> Option<Vec<u8>> {
        let (root, _) = self.mount.as_ref()?;
        let root = root.clone();
        if self.by_handle {
            match self.resolve_by_handle(id) {
                Ok(path) => return relative_to(&root, &path),
                // ESTALE: no cgroup has this id (any more).
                Err(err) if err.raw_os_error() == Some(libc::ESTALE) => return None,
                Err(_) => self.by_handle = false,
            }
        }
        if !self.walked.contains_key(&id) {
            self.walked = walk(&root);
        }
        self.walked.get(&id).cloned()
    }

    fn resolve_by_handle(&self, id: u64) -> io::Result<PathBuf> {
        let Some((_, mount_dir)) = &self.mount else {
            return Err(io::Error::from(io::ErrorKind::NotFound));
        };
        let mut handle = KernfsHandle {
            handle_bytes: 8,
            handle_type: FILEID_KERNFS,
            id: id.to_ne_bytes(),
        };
        // SAFETY: the handle is a valid struct file_handle with handle_bytes
        // bytes after its header; the mount fd is open.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_open_by_handle_at,
                mount_dir.as_raw_fd(),
                &mut handle as *mut KernfsHandle,
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let fd = i32::try_from(fd).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
        // SAFETY: the kernel just returned this fd to us; nothing else owns it.
        let dir = unsafe { OwnedFd::from_raw_fd(fd) };
        std::fs::read_link(format!("/proc/self/fd/{}", dir.as_raw_fd()))
    }
}

impl Default for CgroupResolver {
    fn default() -> Self {
        CgroupResolver::new()
    }
}

/// `path` relative to `root`, with a leading `/` (`/` for the root itself).
fn relative_to(root: &Path, path: &Path) -> Option<Vec<u8>> {
    let rest = path.strip_prefix(root).ok()?;
    let mut out = Vec::with_capacity(rest.as_os_str().len() + 1);
    out.push(b'/');
    out.extend_from_slice(rest.as_os_str().as_bytes());
    Some(out)
}

/// Every cgroup directory under `root`: inode number (= cgroup id) → path.
fn walk(root: &Path) -> HashMap<u64, Vec<u8>> {
    let mut found = HashMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if found.len() >= WALK_LIMIT {
            break;
        }
        let Ok(meta) = std::fs::metadata(&dir) else {
            continue;
        };
        if let Some(path) = relative_to(root, &dir) {
            found.insert(meta.ino(), path);
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(entry.path());
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_points_are_found_and_unescaped() {
        let mounts = "cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0\n\
                      bpf /sys/fs/bpf bpf rw 0 0\n\
                      cgroup2 /mnt/with\\040space cgroup2 rw 0 0\n\
                      garbage\n";
        assert_eq!(
            mount_points_in(mounts, "cgroup2"),
            vec![
                PathBuf::from("/sys/fs/cgroup/unified"),
                PathBuf::from("/mnt/with space")
            ]
        );
        assert_eq!(
            mount_points_in(mounts, "bpf"),
            vec![PathBuf::from("/sys/fs/bpf")]
        );
        assert!(mount_points_in(mounts, "tracefs").is_empty());
        assert_eq!(unescape_mount_field("a\\134b\\0"), PathBuf::from("a\\b\\0"));
    }

    #[test]
    fn paths_are_relative_to_the_mount() {
        let root = Path::new("/sys/fs/cgroup");
        assert_eq!(relative_to(root, root), Some(b"/".to_vec()));
        assert_eq!(
            relative_to(root, Path::new("/sys/fs/cgroup/system.slice/a.scope")),
            Some(b"/system.slice/a.scope".to_vec())
        );
        assert_eq!(relative_to(root, Path::new("/elsewhere")), None);
    }

    #[test]
    fn no_mount_resolves_nothing() {
        let mut resolver = CgroupResolver::at(None);
        assert_eq!(resolver.resolve(1), None);
    }

    #[test]
    fn the_walk_and_the_handle_agree_on_this_host() {
        // Needs a cgroup2 mount; the end-to-end tests cover real cgroups.
        let Some(mount) = cgroup2_mount() else {
            return;
        };
        let Ok(meta) = std::fs::metadata(&mount) else {
            return;
        };
        let walked = walk(&mount);
        assert_eq!(walked.get(&meta.ino()), Some(&b"/".to_vec()));
        let mut resolver = CgroupResolver::at(Some(mount.clone()));
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            // open_by_handle_at needs CAP_DAC_READ_SEARCH.
            let by_handle = resolver.resolve_by_handle(meta.ino());
            assert_eq!(by_handle.ok(), Some(mount.clone()));
        }
        for (&id, path) in walked.iter().take(50) {
            assert_eq!(resolver.resolve(id).as_ref(), Some(path), "cgroup {id}");
        }
        assert_eq!(resolver.resolve(u64::MAX), None);
    }
}
