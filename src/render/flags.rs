//! Flag tables of the mount-family syscalls and their decoding, the way bcc
//! mountsnoop's `_decode_flags` does it: the names of the set flags in table
//! (bit) order joined by `|`, then any leftover bits as `0x%x`, or `0x0`
//! when nothing matched at all.
//!
//! Names and values are the kernel's uapi ones (`include/uapi/linux/mount.h`,
//! `include/uapi/linux/fcntl.h`, `include/uapi/asm-generic/fcntl.h`); the
//! tests compare them with the installed headers. Unlike libbpf-tools'
//! mountsnoop (which prints MS_BIND as MS_MOVE and MNT_DETACH as MS_NOSUID),
//! every value here is the kernel's.
//!
//! Deviation from bcc: bcc's MOUNT_FLAGS table lacks MS_NOSYMFOLLOW (256),
//! MS_SUBMOUNT, MS_NOREMOTELOCK, MS_NOSEC and MS_BORN (bits 26..29), which it
//! would print as leftover hex; we name them.

use std::io::Write as _;

/// One named value of a flag set. A single bit has `mask == value`; a
/// multi-bit field (the atime field of `MOUNT_ATTR_*`) has a wider mask and
/// matches when `flags & mask == value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag {
    pub name: &'static str,
    pub value: u64,
    pub mask: u64,
}

const fn bit(name: &'static str, value: u64) -> Flag {
    Flag {
        name,
        value,
        mask: value,
    }
}

const fn field(name: &'static str, value: u64, mask: u64) -> Flag {
    Flag { name, value, mask }
}

/// Old magic of mount(2)'s flags (`MS_MGC_VAL`), recognised under `MS_MGC_MSK`.
pub const MS_MGC_VAL: u64 = 0xc0ed_0000;
pub const MS_MGC_MSK: u64 = 0xffff_0000;

/// mount(2) flags (`MS_*`), also the `propagation` of mount_setattr(2).
pub const MOUNT_FLAGS: &[Flag] = &[
    bit("MS_RDONLY", 1),
    bit("MS_NOSUID", 2),
    bit("MS_NODEV", 4),
    bit("MS_NOEXEC", 8),
    bit("MS_SYNCHRONOUS", 16),
    bit("MS_REMOUNT", 32),
    bit("MS_MANDLOCK", 64),
    bit("MS_DIRSYNC", 128),
    bit("MS_NOSYMFOLLOW", 256),
    bit("MS_NOATIME", 1024),
    bit("MS_NODIRATIME", 2048),
    bit("MS_BIND", 4096),
    bit("MS_MOVE", 8192),
    bit("MS_REC", 16384),
    bit("MS_SILENT", 32768),
    bit("MS_POSIXACL", 1 << 16),
    bit("MS_UNBINDABLE", 1 << 17),
    bit("MS_PRIVATE", 1 << 18),
    bit("MS_SLAVE", 1 << 19),
    bit("MS_SHARED", 1 << 20),
    bit("MS_RELATIME", 1 << 21),
    bit("MS_KERNMOUNT", 1 << 22),
    bit("MS_I_VERSION", 1 << 23),
    bit("MS_STRICTATIME", 1 << 24),
    bit("MS_LAZYTIME", 1 << 25),
    bit("MS_SUBMOUNT", 1 << 26),
    bit("MS_NOREMOTELOCK", 1 << 27),
    bit("MS_NOSEC", 1 << 28),
    bit("MS_BORN", 1 << 29),
    bit("MS_ACTIVE", 1 << 30),
    bit("MS_NOUSER", 1 << 31),
];

/// umount2(2) flags.
pub const UMOUNT_FLAGS: &[Flag] = &[
    bit("MNT_FORCE", 1),
    bit("MNT_DETACH", 2),
    bit("MNT_EXPIRE", 4),
    bit("UMOUNT_NOFOLLOW", 8),
];

/// fsopen(2) flags.
pub const FSOPEN_FLAGS: &[Flag] = &[bit("FSOPEN_CLOEXEC", 0x1)];

/// fsmount(2) flags.
pub const FSMOUNT_FLAGS: &[Flag] = &[bit("FSMOUNT_CLOEXEC", 0x1)];

/// The atime field of `MOUNT_ATTR_*`.
pub const MOUNT_ATTR_ATIME_MASK: u64 = 0x70;

/// `MOUNT_ATTR_*`: fsmount(2)'s `attr_flags`, mount_setattr(2)'s
/// `attr_set`/`attr_clr`. The atime field is a 3-bit enum:
/// MOUNT_ATTR_RELATIME is its zero value, so it is never printed (a whole
/// value of 0 prints `0x0`); the full mask is MOUNT_ATTR__ATIME (what a
/// caller puts in `attr_clr` to change the atime mode).
pub const MOUNT_ATTR_FLAGS: &[Flag] = &[
    bit("MOUNT_ATTR_RDONLY", 0x1),
    bit("MOUNT_ATTR_NOSUID", 0x2),
    bit("MOUNT_ATTR_NODEV", 0x4),
    bit("MOUNT_ATTR_NOEXEC", 0x8),
    field("MOUNT_ATTR_NOATIME", 0x10, MOUNT_ATTR_ATIME_MASK),
    field("MOUNT_ATTR_STRICTATIME", 0x20, MOUNT_ATTR_ATIME_MASK),
    field("MOUNT_ATTR__ATIME", 0x70, MOUNT_ATTR_ATIME_MASK),
    bit("MOUNT_ATTR_NODIRATIME", 0x80),
    bit("MOUNT_ATTR_IDMAP", 0x10_0000),
    bit("MOUNT_ATTR_NOSYMFOLLOW", 0x20_0000),
];

/// move_mount(2) flags.
pub const MOVE_MOUNT_FLAGS: &[Flag] = &[
    bit("MOVE_MOUNT_F_SYMLINKS", 0x1),
    bit("MOVE_MOUNT_F_AUTOMOUNTS", 0x2),
    bit("MOVE_MOUNT_F_EMPTY_PATH", 0x4),
    bit("MOVE_MOUNT_T_SYMLINKS", 0x10),
    bit("MOVE_MOUNT_T_AUTOMOUNTS", 0x20),
    bit("MOVE_MOUNT_T_EMPTY_PATH", 0x40),
    bit("MOVE_MOUNT_SET_GROUP", 0x100),
    bit("MOVE_MOUNT_BENEATH", 0x200),
];

/// open_tree(2) flags. OPEN_TREE_CLOEXEC is O_CLOEXEC, 0x80000 (02000000)
/// on asm-generic architectures (x86, arm64, riscv, ...).
pub const OPEN_TREE_FLAGS: &[Flag] = &[
    bit("OPEN_TREE_CLONE", 0x1),
    bit("AT_SYMLINK_NOFOLLOW", 0x100),
    bit("AT_NO_AUTOMOUNT", 0x800),
    bit("AT_EMPTY_PATH", 0x1000),
    bit("AT_RECURSIVE", 0x8000),
    bit("OPEN_TREE_CLOEXEC", 0x8_0000),
];

/// mount_setattr(2) flags.
pub const MOUNT_SETATTR_FLAGS: &[Flag] = &[
    bit("AT_SYMLINK_NOFOLLOW", 0x100),
    bit("AT_NO_AUTOMOUNT", 0x800),
    bit("AT_EMPTY_PATH", 0x1000),
    bit("AT_RECURSIVE", 0x8000),
];

/// fspick(2) flags.
pub const FSPICK_FLAGS: &[Flag] = &[
    bit("FSPICK_CLOEXEC", 0x1),
    bit("FSPICK_SYMLINK_NOFOLLOW", 0x2),
    bit("FSPICK_NO_AUTOMOUNT", 0x4),
    bit("FSPICK_EMPTY_PATH", 0x8),
];

/// fsconfig(2) commands (`enum fsconfig_command`), indexed by value.
pub const FSCONFIG_COMMANDS: &[&str] = &[
    "FSCONFIG_SET_FLAG",
    "FSCONFIG_SET_STRING",
    "FSCONFIG_SET_BINARY",
    "FSCONFIG_SET_PATH",
    "FSCONFIG_SET_PATH_EMPTY",
    "FSCONFIG_SET_FD",
    "FSCONFIG_CMD_CREATE",
    "FSCONFIG_CMD_RECONFIGURE",
    "FSCONFIG_CMD_CREATE_EXCL",
];

pub const FSCONFIG_SET_BINARY: u32 = 2;

/// The "current directory" dirfd of the `*at` calls.
pub const AT_FDCWD: i32 = -100;

/// Appends `flags` decoded against `table` (bcc's `decode_flags`).
pub fn push_flags(out: &mut Vec<u8>, flags: u64, table: &[Flag]) {
    let mut remaining = flags;
    let mut named_any = false;
    for flag in table {
        // No flag names cleared bits: nothing further can match.
        if remaining == 0 {
            break;
        }
        if flag.value != 0 && remaining & flag.mask == flag.value {
            if named_any {
                out.push(b'|');
            }
            out.extend_from_slice(flag.name.as_bytes());
            remaining &= !flag.mask;
            named_any = true;
        }
    }
    if remaining != 0 || !named_any {
        if named_any {
            out.push(b'|');
        }
        super::num::push_hex(out, remaining);
    }
}

/// Appends mount(2) flags the way bcc's `decode_mount_flags` does: with the
/// old magic present, `MS_MGC_VAL` first and the rest decoded on its own, so
/// the magic alone gives `MS_MGC_VAL|0x0` (bcc's output, kept as is).
pub fn push_mount_flags(out: &mut Vec<u8>, flags: u64) {
    if flags & MS_MGC_MSK == MS_MGC_VAL {
        out.extend_from_slice(b"MS_MGC_VAL|");
        push_flags(out, flags & !MS_MGC_MSK, MOUNT_FLAGS);
    } else {
        push_flags(out, flags, MOUNT_FLAGS);
    }
}

/// Appends an fsconfig(2) command name, or its number when unknown.
pub fn push_fsconfig_command(out: &mut Vec<u8>, command: u32) {
    match usize::try_from(command)
        .ok()
        .and_then(|index| FSCONFIG_COMMANDS.get(index))
    {
        Some(name) => out.extend_from_slice(name.as_bytes()),
        None => {
            let _ = write!(out, "{command}");
        }
    }
}

/// Appends a directory file descriptor: `AT_FDCWD` for -100, else the number.
pub fn push_dirfd(out: &mut Vec<u8>, dirfd: i32) {
    if dirfd == AT_FDCWD {
        out.extend_from_slice(b"AT_FDCWD");
    } else {
        let _ = write!(out, "{dirfd}");
    }
}

/// `flags` decoded against `table`, as a `String`.
pub fn decode_flags(flags: u64, table: &[Flag]) -> String {
    let mut out = Vec::new();
    push_flags(&mut out, flags, table);
    String::from_utf8_lossy(&out).into_owned()
}

/// mount(2) flags decoded like bcc's `decode_mount_flags`, as a `String`.
pub fn decode_mount_flags(flags: u64) -> String {
    let mut out = Vec::new();
    push_mount_flags(&mut out, flags);
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::HashMap;

    const ALL_TABLES: &[(&str, &[Flag])] = &[
        ("mount", MOUNT_FLAGS),
        ("umount", UMOUNT_FLAGS),
        ("fsopen", FSOPEN_FLAGS),
        ("fsmount", FSMOUNT_FLAGS),
        ("mount_attr", MOUNT_ATTR_FLAGS),
        ("move_mount", MOVE_MOUNT_FLAGS),
        ("open_tree", OPEN_TREE_FLAGS),
        ("mount_setattr", MOUNT_SETATTR_FLAGS),
        ("fspick", FSPICK_FLAGS),
    ];

    /// The kernel's values, written out independently of the tables.
    const KERNEL_VALUES: &[(&str, u64)] = &[
        ("MS_RDONLY", 0x1),
        ("MS_NOSUID", 0x2),
        ("MS_NODEV", 0x4),
        ("MS_NOEXEC", 0x8),
        ("MS_SYNCHRONOUS", 0x10),
        ("MS_REMOUNT", 0x20),
        ("MS_MANDLOCK", 0x40),
        ("MS_DIRSYNC", 0x80),
        ("MS_NOSYMFOLLOW", 0x100),
        ("MS_NOATIME", 0x400),
        ("MS_NODIRATIME", 0x800),
        ("MS_BIND", 0x1000),
        ("MS_MOVE", 0x2000),
        ("MS_REC", 0x4000),
        ("MS_SILENT", 0x8000),
        ("MS_POSIXACL", 0x1_0000),
        ("MS_UNBINDABLE", 0x2_0000),
        ("MS_PRIVATE", 0x4_0000),
        ("MS_SLAVE", 0x8_0000),
        ("MS_SHARED", 0x10_0000),
        ("MS_RELATIME", 0x20_0000),
        ("MS_KERNMOUNT", 0x40_0000),
        ("MS_I_VERSION", 0x80_0000),
        ("MS_STRICTATIME", 0x100_0000),
        ("MS_LAZYTIME", 0x200_0000),
        ("MS_SUBMOUNT", 0x400_0000),
        ("MS_NOREMOTELOCK", 0x800_0000),
        ("MS_NOSEC", 0x1000_0000),
        ("MS_BORN", 0x2000_0000),
        ("MS_ACTIVE", 0x4000_0000),
        ("MS_NOUSER", 0x8000_0000),
        ("MNT_FORCE", 1),
        ("MNT_DETACH", 2),
        ("MNT_EXPIRE", 4),
        ("UMOUNT_NOFOLLOW", 8),
        ("FSOPEN_CLOEXEC", 1),
        ("FSMOUNT_CLOEXEC", 1),
        ("MOUNT_ATTR_RDONLY", 0x1),
        ("MOUNT_ATTR_NOSUID", 0x2),
        ("MOUNT_ATTR_NODEV", 0x4),
        ("MOUNT_ATTR_NOEXEC", 0x8),
        ("MOUNT_ATTR_NOATIME", 0x10),
        ("MOUNT_ATTR_STRICTATIME", 0x20),
        ("MOUNT_ATTR__ATIME", 0x70),
        ("MOUNT_ATTR_NODIRATIME", 0x80),
        ("MOUNT_ATTR_IDMAP", 0x10_0000),
        ("MOUNT_ATTR_NOSYMFOLLOW", 0x20_0000),
        ("MOVE_MOUNT_F_SYMLINKS", 0x1),
        ("MOVE_MOUNT_F_AUTOMOUNTS", 0x2),
        ("MOVE_MOUNT_F_EMPTY_PATH", 0x4),
        ("MOVE_MOUNT_T_SYMLINKS", 0x10),
        ("MOVE_MOUNT_T_AUTOMOUNTS", 0x20),
        ("MOVE_MOUNT_T_EMPTY_PATH", 0x40),
        ("MOVE_MOUNT_SET_GROUP", 0x100),
        ("MOVE_MOUNT_BENEATH", 0x200),
        ("OPEN_TREE_CLONE", 1),
        ("OPEN_TREE_CLOEXEC", 0o2000000),
        ("AT_SYMLINK_NOFOLLOW", 0x100),
        ("AT_NO_AUTOMOUNT", 0x800),
        ("AT_EMPTY_PATH", 0x1000),
        ("AT_RECURSIVE", 0x8000),
        ("FSPICK_CLOEXEC", 1),
        ("FSPICK_SYMLINK_NOFOLLOW", 2),
        ("FSPICK_NO_AUTOMOUNT", 4),
        ("FSPICK_EMPTY_PATH", 8),
    ];

    fn kernel_value(name: &str) -> Option<u64> {
        KERNEL_VALUES
            .iter()
            .find(|(known, _)| *known == name)
            .map(|&(_, value)| value)
    }

    #[test]
    fn every_table_entry_has_the_kernel_value() {
        for (table_name, table) in ALL_TABLES {
            for flag in *table {
                assert_eq!(
                    kernel_value(flag.name),
                    Some(flag.value),
                    "{table_name}: {}",
                    flag.name
                );
            }
        }
        assert_eq!(AT_FDCWD, -100);
        assert_eq!(
            FSCONFIG_COMMANDS[FSCONFIG_SET_BINARY as usize],
            "FSCONFIG_SET_BINARY"
        );
    }

    #[test]
    fn single_bit_tables_are_in_bit_order() {
        for (table_name, table) in ALL_TABLES {
            for pair in table.windows(2) {
                assert!(pair[0].value <= pair[1].value, "{table_name}: {pair:?}");
            }
            for flag in *table {
                if flag.name != "MOUNT_ATTR_NOATIME"
                    && flag.name != "MOUNT_ATTR_STRICTATIME"
                    && flag.name != "MOUNT_ATTR__ATIME"
                {
                    assert_eq!(flag.value.count_ones(), 1, "{}", flag.name);
                    assert_eq!(flag.mask, flag.value, "{}", flag.name);
                }
            }
        }
    }

    #[cfg(any(
        target_arch = "x86_64",
        target_arch = "aarch64",
        target_arch = "riscv64"
    ))]
    #[test]
    fn open_tree_cloexec_is_o_cloexec() {
        assert_eq!(
            kernel_value("OPEN_TREE_CLOEXEC"),
            u64::try_from(libc::O_CLOEXEC).ok()
        );
    }

    /// Evaluates the simple value forms of uapi `#define`s: decimal, hex,
    /// octal, `(1<<N)`, and a name defined before.
    fn evaluate(expression: &str, known: &HashMap<String, u64>) -> Option<u64> {
        let text: String = expression.chars().filter(|c| !c.is_whitespace()).collect();
        let text = text.trim_start_matches('(').trim_end_matches(')');
        if let Some((base, shift)) = text.split_once("<<") {
            return evaluate(base, known)?
                .checked_shl(u32::try_from(evaluate(shift, known)?).ok()?);
        }
        if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
            return u64::from_str_radix(hex, 16).ok();
        }
        if text.len() > 1 && text.starts_with('0') {
            return u64::from_str_radix(&text[1..], 8).ok();
        }
        if let Ok(number) = text.parse::<u64>() {
            return Some(number);
        }
        known.get(text).copied()
    }

    /// `#define NAME VALUE` and `NAME = VALUE,` (enum) lines of the headers
    /// that exist; `None` when none does.
    pub(crate) fn parse_headers(paths: &[&str]) -> Option<HashMap<String, u64>> {
        let mut values = HashMap::new();
        let mut found = false;
        for path in paths {
            let Ok(text) = std::fs::read_to_string(path) else {
                continue;
            };
            found = true;
            for line in text.lines() {
                let code = line.split("/*").next().unwrap_or_default().trim();
                let (name, value) = if let Some(rest) = code.strip_prefix("#define") {
                    let rest = rest.trim();
                    match rest.split_once(char::is_whitespace) {
                        Some((name, value)) => (name, value.trim()),
                        None => continue,
                    }
                } else if let Some((name, value)) = code.split_once('=') {
                    (name.trim(), value.trim().trim_end_matches(','))
                } else {
                    continue;
                };
                if let Some(value) = evaluate(value, &values) {
                    values.insert(name.to_string(), value);
                }
            }
        }
        found.then_some(values)
    }

    #[test]
    fn tables_match_installed_uapi_headers() {
        let headers = parse_headers(&[
            "/usr/include/asm-generic/fcntl.h",
            "/usr/include/linux/fcntl.h",
            "/usr/include/linux/mount.h",
        ]);
        let Some(header_values) = headers else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "linux/mount.h not found under CI"
            );
            return;
        };
        assert!(
            header_values.contains_key("MS_RDONLY") || std::env::var("CI").as_deref() != Ok("true"),
            "linux/mount.h not found under CI"
        );
        if let Ok(fcntl) = std::fs::read_to_string("/usr/include/linux/fcntl.h") {
            let line = fcntl
                .lines()
                .find(|line| line.starts_with("#define AT_FDCWD"));
            if let Some(value) = line.and_then(|line| line.split_whitespace().nth(2)) {
                assert_eq!(value.parse::<i32>().ok(), Some(AT_FDCWD));
            }
        }
        let mut checked = 0;
        for (name, value) in KERNEL_VALUES {
            if let Some(header_value) = header_values.get(*name) {
                assert_eq!(header_value, value, "{name}");
                checked += 1;
            }
        }
        for (index, name) in FSCONFIG_COMMANDS.iter().enumerate() {
            if let Some(&header_value) = header_values.get(*name) {
                assert_eq!(header_value, index as u64, "{name}");
                checked += 1;
            }
        }
        for (name, value) in [
            ("MS_MGC_VAL", MS_MGC_VAL),
            ("MS_MGC_MSK", MS_MGC_MSK),
            ("MOUNT_ATTR__ATIME", MOUNT_ATTR_ATIME_MASK),
            ("MOUNT_ATTR_RELATIME", 0),
        ] {
            if let Some(&header_value) = header_values.get(name) {
                assert_eq!(header_value, value, "{name}");
                checked += 1;
            }
        }
        if header_values.contains_key("MS_RDONLY") {
            assert!(checked > 40, "only {checked} names checked");
        }
    }

    #[test]
    fn decodes_like_bcc() {
        assert_eq!(decode_mount_flags(0), "0x0");
        assert_eq!(decode_mount_flags(4096), "MS_BIND");
        assert_eq!(decode_mount_flags(4096 | 16384), "MS_BIND|MS_REC");
        assert_eq!(decode_mount_flags(8192), "MS_MOVE");
        assert_eq!(decode_mount_flags(1 | 32), "MS_RDONLY|MS_REMOUNT");
        assert_eq!(decode_mount_flags(0x200), "0x200");
        assert_eq!(decode_mount_flags(1 | 0x200), "MS_RDONLY|0x200");
        assert_eq!(decode_mount_flags(0x1_0000_0000), "0x100000000");
        assert_eq!(decode_mount_flags(1 << 18 | 1 << 14), "MS_REC|MS_PRIVATE");
    }

    #[test]
    fn mount_magic_like_bcc() {
        assert_eq!(decode_mount_flags(0xc0ed_0000), "MS_MGC_VAL|0x0");
        assert_eq!(decode_mount_flags(0xc0ed_0001), "MS_MGC_VAL|MS_RDONLY");
        assert_eq!(
            decode_mount_flags(0xc0ed_1020),
            "MS_MGC_VAL|MS_REMOUNT|MS_BIND"
        );
        // Other high halves are not the magic.
        assert_eq!(decode_mount_flags(0xc0ee_0000), "MS_UNBINDABLE|MS_PRIVATE|MS_SLAVE|MS_RELATIME|MS_KERNMOUNT|MS_I_VERSION|MS_ACTIVE|MS_NOUSER");
    }

    #[test]
    fn umount_flags_use_kernel_values() {
        assert_eq!(decode_flags(2, UMOUNT_FLAGS), "MNT_DETACH");
        assert_eq!(
            decode_flags(1 | 8, UMOUNT_FLAGS),
            "MNT_FORCE|UMOUNT_NOFOLLOW"
        );
        assert_eq!(decode_flags(0, UMOUNT_FLAGS), "0x0");
        assert_eq!(decode_flags(0x12, UMOUNT_FLAGS), "MNT_DETACH|0x10");
    }

    #[test]
    fn mount_attr_atime_field() {
        assert_eq!(decode_flags(0, MOUNT_ATTR_FLAGS), "0x0");
        assert_eq!(decode_flags(0x1, MOUNT_ATTR_FLAGS), "MOUNT_ATTR_RDONLY");
        assert_eq!(
            decode_flags(0x1 | 0x10 | 0x80, MOUNT_ATTR_FLAGS),
            "MOUNT_ATTR_RDONLY|MOUNT_ATTR_NOATIME|MOUNT_ATTR_NODIRATIME"
        );
        assert_eq!(
            decode_flags(0x20, MOUNT_ATTR_FLAGS),
            "MOUNT_ATTR_STRICTATIME"
        );
        assert_eq!(decode_flags(0x70, MOUNT_ATTR_FLAGS), "MOUNT_ATTR__ATIME");
        assert_eq!(
            decode_flags(0x30 | 0x2, MOUNT_ATTR_FLAGS),
            "MOUNT_ATTR_NOSUID|0x30"
        );
        assert_eq!(
            decode_flags(0x10_0000 | 0x20_0000, MOUNT_ATTR_FLAGS),
            "MOUNT_ATTR_IDMAP|MOUNT_ATTR_NOSYMFOLLOW"
        );
    }

    #[test]
    fn other_tables() {
        assert_eq!(decode_flags(1, FSOPEN_FLAGS), "FSOPEN_CLOEXEC");
        assert_eq!(
            decode_flags(0x80001, OPEN_TREE_FLAGS),
            "OPEN_TREE_CLONE|OPEN_TREE_CLOEXEC"
        );
        assert_eq!(
            decode_flags(0x8000 | 0x1000, MOUNT_SETATTR_FLAGS),
            "AT_EMPTY_PATH|AT_RECURSIVE"
        );
        assert_eq!(
            decode_flags(0x44, MOVE_MOUNT_FLAGS),
            "MOVE_MOUNT_F_EMPTY_PATH|MOVE_MOUNT_T_EMPTY_PATH"
        );
        assert_eq!(
            decode_flags(0x9, FSPICK_FLAGS),
            "FSPICK_CLOEXEC|FSPICK_EMPTY_PATH"
        );
    }

    #[test]
    fn commands_and_dirfds() {
        let mut out = Vec::new();
        push_fsconfig_command(&mut out, 6);
        out.push(b' ');
        push_fsconfig_command(&mut out, 99);
        out.push(b' ');
        push_dirfd(&mut out, AT_FDCWD);
        out.push(b' ');
        push_dirfd(&mut out, 3);
        assert_eq!(out, b"FSCONFIG_CMD_CREATE 99 AT_FDCWD 3");
    }
}
