//! errno names, as bcc's `decode_errno` prints them.
//!
//! bcc looks the number up in Python's `errno.errorcode`. On Linux that dict
//! is built from the C library's constants, and where several names share a
//! number it keeps one of them: `EDEADLOCK` (not `EDEADLK`) for 35,
//! `ENOTSUP` (not `EOPNOTSUPP`) for 95, `EAGAIN` (not `EWOULDBLOCK`) for 11.
//! [`ERRNO_NAMES`] is exactly what `python3 -c 'import errno;
//! print(sorted(errno.errorcode.items()))'` gives with Python 3.11 on
//! x86-64 Linux (every value checked against the kernel's
//! `asm-generic/errno-base.h` and `asm-generic/errno.h`; the tests re-check
//! the headers when they are installed). That Python has no `EHWPOISON`
//! (133), so bcc prints `-133` for it, and so do we.

/// `(number, name)` for every errno Python's `errno.errorcode` knows, sorted.
pub const ERRNO_NAMES: &[(u16, &str)] = &[
    (1, "EPERM"),
    (2, "ENOENT"),
    (3, "ESRCH"),
    (4, "EINTR"),
    (5, "EIO"),
    (6, "ENXIO"),
    (7, "E2BIG"),
    (8, "ENOEXEC"),
    (9, "EBADF"),
    (10, "ECHILD"),
    (11, "EAGAIN"),
    (12, "ENOMEM"),
    (13, "EACCES"),
    (14, "EFAULT"),
    (15, "ENOTBLK"),
    (16, "EBUSY"),
    (17, "EEXIST"),
    (18, "EXDEV"),
    (19, "ENODEV"),
    (20, "ENOTDIR"),
    (21, "EISDIR"),
    (22, "EINVAL"),
    (23, "ENFILE"),
    (24, "EMFILE"),
    (25, "ENOTTY"),
    (26, "ETXTBSY"),
    (27, "EFBIG"),
    (28, "ENOSPC"),
    (29, "ESPIPE"),
    (30, "EROFS"),
    (31, "EMLINK"),
    (32, "EPIPE"),
    (33, "EDOM"),
    (34, "ERANGE"),
    (35, "EDEADLOCK"),
    (36, "ENAMETOOLONG"),
    (37, "ENOLCK"),
    (38, "ENOSYS"),
    (39, "ENOTEMPTY"),
    (40, "ELOOP"),
    (42, "ENOMSG"),
    (43, "EIDRM"),
    (44, "ECHRNG"),
    (45, "EL2NSYNC"),
    (46, "EL3HLT"),
    (47, "EL3RST"),
    (48, "ELNRNG"),
    (49, "EUNATCH"),
    (50, "ENOCSI"),
    (51, "EL2HLT"),
    (52, "EBADE"),
    (53, "EBADR"),
    (54, "EXFULL"),
    (55, "ENOANO"),
    (56, "EBADRQC"),
    (57, "EBADSLT"),
    (59, "EBFONT"),
    (60, "ENOSTR"),
    (61, "ENODATA"),
    (62, "ETIME"),
    (63, "ENOSR"),
    (64, "ENONET"),
    (65, "ENOPKG"),
    (66, "EREMOTE"),
    (67, "ENOLINK"),
    (68, "EADV"),
    (69, "ESRMNT"),
    (70, "ECOMM"),
    (71, "EPROTO"),
    (72, "EMULTIHOP"),
    (73, "EDOTDOT"),
    (74, "EBADMSG"),
    (75, "EOVERFLOW"),
    (76, "ENOTUNIQ"),
    (77, "EBADFD"),
    (78, "EREMCHG"),
    (79, "ELIBACC"),
    (80, "ELIBBAD"),
    (81, "ELIBSCN"),
    (82, "ELIBMAX"),
    (83, "ELIBEXEC"),
    (84, "EILSEQ"),
    (85, "ERESTART"),
    (86, "ESTRPIPE"),
    (87, "EUSERS"),
    (88, "ENOTSOCK"),
    (89, "EDESTADDRREQ"),
    (90, "EMSGSIZE"),
    (91, "EPROTOTYPE"),
    (92, "ENOPROTOOPT"),
    (93, "EPROTONOSUPPORT"),
    (94, "ESOCKTNOSUPPORT"),
    (95, "ENOTSUP"),
    (96, "EPFNOSUPPORT"),
    (97, "EAFNOSUPPORT"),
    (98, "EADDRINUSE"),
    (99, "EADDRNOTAVAIL"),
    (100, "ENETDOWN"),
    (101, "ENETUNREACH"),
    (102, "ENETRESET"),
    (103, "ECONNABORTED"),
    (104, "ECONNRESET"),
    (105, "ENOBUFS"),
    (106, "EISCONN"),
    (107, "ENOTCONN"),
    (108, "ESHUTDOWN"),
    (109, "ETOOMANYREFS"),
    (110, "ETIMEDOUT"),
    (111, "ECONNREFUSED"),
    (112, "EHOSTDOWN"),
    (113, "EHOSTUNREACH"),
    (114, "EALREADY"),
    (115, "EINPROGRESS"),
    (116, "ESTALE"),
    (117, "EUCLEAN"),
    (118, "ENOTNAM"),
    (119, "ENAVAIL"),
    (120, "EISNAM"),
    (121, "EREMOTEIO"),
    (122, "EDQUOT"),
    (123, "ENOMEDIUM"),
    (124, "EMEDIUMTYPE"),
    (125, "ECANCELED"),
    (126, "ENOKEY"),
    (127, "EKEYEXPIRED"),
    (128, "EKEYREVOKED"),
    (129, "EKEYREJECTED"),
    (130, "EOWNERDEAD"),
    (131, "ENOTRECOVERABLE"),
    (132, "ERFKILL"),
];

/// One past the largest errno in [`ERRNO_NAMES`].
const TABLE_LEN: usize = 133;

/// [`ERRNO_NAMES`] indexed by number.
static NAME_BY_NUMBER: [Option<&str>; TABLE_LEN] = {
    let mut table = [None; TABLE_LEN];
    let mut index = 0;
    while index < ERRNO_NAMES.len() {
        let (number, name) = ERRNO_NAMES[index];
        table[number as usize] = Some(name);
        index += 1;
    }
    table
};

/// The name of a (positive) errno number, `None` when Python would not know it.
pub fn errno_name(errno: i64) -> Option<&'static str> {
    let index = usize::try_from(errno).ok()?;
    NAME_BY_NUMBER.get(index).copied().flatten()
}

/// The errno name of a syscall's return value: `Some` only for a negative
/// value whose errno has a name. This is the `error` field of JSON and CSV.
pub fn error_name(ret: i64) -> Option<&'static str> {
    if ret < 0 {
        errno_name(ret.checked_neg()?)
    } else {
        None
    }
}

/// bcc's `decode_errno`: `-ENAME` for a negative value with a name, else the
/// number itself (`0`, a file descriptor, or an unnamed negative errno).
pub fn push_decoded_return(out: &mut Vec<u8>, ret: i64) {
    match error_name(ret) {
        Some(name) => {
            out.push(b'-');
            out.extend_from_slice(name.as_bytes());
        }
        None => super::num::push_i64(out, ret),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(ret: i64) -> String {
        let mut out = Vec::new();
        push_decoded_return(&mut out, ret);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn table_is_sorted_unique_and_fits_the_index() {
        for pair in ERRNO_NAMES.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{pair:?}");
        }
        assert_eq!(ERRNO_NAMES.len(), 130);
        assert_eq!(
            ERRNO_NAMES.last().map(|e| e.0 as usize + 1),
            Some(TABLE_LEN)
        );
    }

    #[test]
    fn pythons_choices_among_aliases() {
        assert_eq!(errno_name(11), Some("EAGAIN"));
        assert_eq!(errno_name(35), Some("EDEADLOCK"));
        assert_eq!(errno_name(95), Some("ENOTSUP"));
        assert_eq!(errno_name(41), None);
        assert_eq!(errno_name(58), None);
        assert_eq!(errno_name(133), None);
        assert_eq!(errno_name(0), None);
        assert_eq!(errno_name(-2), None);
    }

    #[test]
    fn decode_errno_like_bcc() {
        assert_eq!(decoded(-2), "-ENOENT");
        assert_eq!(decoded(-1), "-EPERM");
        assert_eq!(decoded(-16), "-EBUSY");
        assert_eq!(decoded(-132), "-ERFKILL");
        assert_eq!(decoded(-133), "-133");
        assert_eq!(decoded(-4095), "-4095");
        assert_eq!(decoded(0), "0");
        assert_eq!(decoded(3), "3");
        assert_eq!(decoded(i64::MIN), i64::MIN.to_string());
        assert_eq!(error_name(-22), Some("EINVAL"));
        assert_eq!(error_name(22), None);
        assert_eq!(error_name(i64::MIN), None);
    }

    #[test]
    fn table_matches_kernel_headers() {
        let headers = crate::render::flags::tests::parse_headers(&[
            "/usr/include/asm-generic/errno-base.h",
            "/usr/include/asm-generic/errno.h",
        ]);
        let Some(header_values) = headers else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "asm-generic/errno*.h not found under CI"
            );
            return;
        };
        let mut checked = 0;
        for &(number, name) in ERRNO_NAMES {
            // ENOTSUP is glibc's alias of EOPNOTSUPP, not a kernel name.
            let header_name = if name == "ENOTSUP" {
                "EOPNOTSUPP"
            } else {
                name
            };
            if let Some(&value) = header_values.get(header_name) {
                assert_eq!(i64::try_from(value).ok(), Some(i64::from(number)), "{name}");
                checked += 1;
            }
        }
        assert_eq!(checked, ERRNO_NAMES.len());
    }
}
