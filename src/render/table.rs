//! The bcc-compatible table: exec events exactly as bcc's `execsnoop`
//! prints them, mount-family events exactly as bcc's `mountsnoop` does.
//!
//! Deviations from bcc, all deliberate:
//!
//! - Terminal safety: no control byte from captured data reaches the output
//!   raw (see [`escape::push_terminal_safe`]), in ARGS and in every COMM.
//! - `...` at the end of execsnoop's ARGS only when something really was cut:
//!   bcc appends it whenever argv[1..max_args-1] were all present, even if no
//!   further argument existed (its BPF loop cannot tell).
//! - `-T` shows when the event happened (from the capture), not when the line
//!   was printed; `-t` counts from the capture start.
//! - PPID 0 prints `?` (bcc fell back to /proc, which is gone at replay time).
//! - mountsnoop strings cut short by the capture get `...` after the closing
//!   quote (strace's convention); bcc cut them silently.
//! - Mount flags missing from bcc's table (MS_NOSYMFOLLOW, MS_SUBMOUNT, ...)
//!   are named instead of printed as hex.
//! - A call with no exit in the capture (still running when it ended, or
//!   its exit record lost) is shown too, which bcc cannot do: execsnoop's
//!   RET is `?`, mountsnoop's return is `= ? (unfinished: WHY)`.
//! - The new mount API calls (fsopen, fsconfig, fsmount, move_mount,
//!   open_tree, mount_setattr, fspick), which bcc does not trace, are printed
//!   in mountsnoop's style; in them a NULL pointer (or an argument the call
//!   does not read) prints `NULL`, while mount/umount keep bcc's `""`.

use super::actor::ActorMemo;
use super::escape::{self, pad_bytes, pad_chars};
use super::fields::{captured_attr, captured_text};
use super::flags;
use super::num::{push_i64_right, push_u64_left};
use super::time::{push_elapsed_seconds, ClockFormatter};
use super::{errno, RenderOptions, Renderer};
use crate::event::{Args, Captured, Event, EventClass, Unfinished};
use std::io::{self, Write};

/// bcc's column widths.
const EXEC_TIME_WIDTH: usize = 9;
const EXEC_TIMESTAMP_WIDTH: usize = 8;
const COMM_WIDTH: usize = 16;

/// Renders events as bcc's execsnoop / mountsnoop tables.
#[derive(Debug)]
pub struct TableRenderer {
    options: RenderOptions,
    line: Vec<u8>,
    /// The layout whose header the rows below now stand under.
    current: Option<EventClass>,
    clock: ClockFormatter,
    /// The who-part of the last row of each layout (see [`layout_index`]).
    actors: [ActorMemo; 3],
}

impl TableRenderer {
    pub fn new(options: RenderOptions) -> TableRenderer {
        let clock = ClockFormatter::new(options.utc);
        TableRenderer {
            options,
            line: Vec::with_capacity(512),
            current: None,
            clock,
            actors: Default::default(),
        }
    }

    /// Appends `class`'s header unless the rows above are of that layout
    /// already: a row never stands under the other tool's header. With one
    /// class shown, that is bcc's single header.
    fn push_header_for(&mut self, class: EventClass) {
        if self.current == Some(class) {
            return;
        }
        self.current = Some(class);
        match class {
            EventClass::Exec => push_exec_header(&mut self.line, &self.options),
            EventClass::Mount => push_mount_header(&mut self.line, self.options.parent_process),
            EventClass::Proc => push_exit_header(&mut self.line, &self.options),
        }
    }

    fn push_exec_row(&mut self, event: &Event) {
        let line = &mut self.line;
        let options = &self.options;
        if options.time {
            let start = line.len();
            line.extend_from_slice(self.clock.format_bytes(event.wall_ns));
            pad_bytes(line, start, EXEC_TIME_WIDTH);
        }
        if options.timestamp {
            let start = line.len();
            push_elapsed_seconds(
                line,
                event.wall_ns.saturating_sub(options.capture_start_wall_ns),
            );
            pad_bytes(line, start, EXEC_TIMESTAMP_WIDTH);
        }
        let memo = &mut self.actors[layout_index(EventClass::Exec)];
        if let Some((head, _)) = memo.refresh(event) {
            push_exec_actor(head, event, options.print_uid);
        }
        line.extend_from_slice(memo.head());
        match event.returned() {
            Some(ret) => push_i64_right(line, ret, 3),
            // No exit in the capture: the return value is unknown.
            None => line.extend_from_slice(b"  ?"),
        }
        line.push(b' ');
        if let Args::Exec {
            filename,
            args,
            args_truncated,
            ..
        } = &event.args
        {
            push_exec_args(line, filename, args, *args_truncated, options);
        }
        line.push(b'\n');
    }

    fn push_mount_row(&mut self, event: &Event) {
        let line = &mut self.line;
        let memo = &mut self.actors[layout_index(EventClass::Mount)];
        if let Some((head, _)) = memo.refresh(event) {
            push_mount_actor(head, event, self.options.parent_process);
        }
        line.extend_from_slice(memo.head());
        push_call(line, &event.args);
        line.extend_from_slice(b" = ");
        match event.unfinished {
            None => errno::push_decoded_return(line, event.ret),
            Some(reason) => {
                line.extend_from_slice(b"? (unfinished: ");
                line.extend_from_slice(unfinished_note(reason).as_bytes());
                line.push(b')');
            }
        }
        line.push(b'\n');
    }
}

impl TableRenderer {
    /// bcc exitsnoop's row: `%-16s %-7d %-7d %-7d %-7.2f ` then `0`,
    /// `code N`, or `signal N (NAME)` with `, core dumped`.
    fn push_exit_row(&mut self, event: &Event) {
        let Args::Exit { status, start_ns } = event.args else {
            return;
        };
        let line = &mut self.line;
        if self.options.time {
            let start = line.len();
            line.extend_from_slice(self.clock.format_bytes(event.wall_ns));
            pad_bytes(line, start, EXEC_TIME_WIDTH);
        }
        let memo = &mut self.actors[layout_index(EventClass::Proc)];
        if let Some((head, _)) = memo.refresh(event) {
            push_exit_actor(head, event);
        }
        line.extend_from_slice(memo.head());
        let age = event.ts_ns.saturating_sub(start_ns) as f64 / 1e9;
        let cell = line.len();
        // Writing to a Vec cannot fail.
        let _ = write!(line, "{age:.2}");
        pad_bytes(line, cell, 7);
        line.push(b' ');
        match Args::exit_signal(status) {
            None => match Args::exit_code(status).unwrap_or(0) {
                0 => line.push(b'0'),
                code => {
                    let _ = write!(line, "code {code}");
                }
            },
            Some(signal) => {
                let _ = write!(line, "signal {signal} ({})", signal_name(signal));
                if Args::core_dumped(status) {
                    line.extend_from_slice(b", core dumped");
                }
            }
        }
        line.push(b'\n');
    }
}

/// A Linux signal's name as bcc's exitsnoop prints it (`SIGKILL`, ...).
fn signal_name(signal: u32) -> String {
    const NAMES: [&str; 32] = [
        "",
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    match NAMES.get(signal as usize) {
        Some(name) if !name.is_empty() => (*name).to_string(),
        _ if (34..=64).contains(&signal) => format!("SIGRTMIN+{}", signal - 34),
        _ => format!("SIG{signal}"),
    }
}

impl Renderer for TableRenderer {
    fn begin(&mut self, out: &mut dyn Write) -> io::Result<()> {
        self.line.clear();
        let classes = &self.options.classes;
        if let Some(&first) = classes.first() {
            if classes.iter().all(|&class| class == first) {
                self.push_header_for(first);
            }
        }
        out.write_all(&self.line)
    }

    fn event(&mut self, event: &Event, out: &mut dyn Write) -> io::Result<()> {
        self.line.clear();
        // exitsnoop has no rows for process creation.
        if matches!(event.args, Args::Fork { .. }) {
            return Ok(());
        }
        let class = layout_of(event);
        self.push_header_for(class);
        match class {
            EventClass::Exec => self.push_exec_row(event),
            EventClass::Mount => self.push_mount_row(event),
            EventClass::Proc => self.push_exit_row(event),
        }
        out.write_all(&self.line)
    }

    fn end(&mut self, out: &mut dyn Write) -> io::Result<()> {
        out.flush()
    }
}

/// Why a mountsnoop row's call has no return value, in words.
fn unfinished_note(reason: Unfinished) -> &'static str {
    match reason {
        Unfinished::EndOfCapture => "capture ended",
        Unfinished::Superseded => "exit lost",
        Unfinished::TooOld => "no exit within 600 s",
        Unfinished::TableFull => "pairing table full",
    }
}

/// Which tool's layout an event takes: execsnoop's for exec arguments,
/// exitsnoop's for process lifecycle events, mountsnoop's for the rest.
fn layout_of(event: &Event) -> EventClass {
    match event.args {
        Args::Exec { .. } => EventClass::Exec,
        Args::Fork { .. } | Args::Exit { .. } => EventClass::Proc,
        _ => EventClass::Mount,
    }
}

/// Where a layout's who-part memo is in [`TableRenderer::actors`].
fn layout_index(class: EventClass) -> usize {
    match class {
        EventClass::Exec => 0,
        EventClass::Mount => 1,
        EventClass::Proc => 2,
    }
}

/// execsnoop's cells that say who made the event: `[UID] PCOMM PID PPID `.
fn push_exec_actor(line: &mut Vec<u8>, event: &Event, print_uid: bool) {
    if print_uid {
        push_u64_left(line, u64::from(event.uid), 6);
    }
    push_padded_comm(line, &event.comm);
    push_number_cells(line, &[(event.pid, 6)]);
    if event.ppid > 0 {
        push_u64_left(line, u64::from(event.ppid), 6);
    } else {
        line.extend_from_slice(b"?     ");
    }
    line.push(b' ');
}

/// mountsnoop's cells before CALL: `COMM PID TID [PCOMM PPID] MNT_NS `.
fn push_mount_actor(line: &mut Vec<u8>, event: &Event, parent_process: bool) {
    push_lossy_comm(line, &event.comm);
    line.push(b' ');
    push_number_cells(line, &[(event.pid, 7), (event.tid, 7)]);
    if parent_process {
        push_lossy_comm(line, &event.pcomm);
        line.push(b' ');
        push_number_cells(line, &[(event.ppid, 7)]);
    }
    push_number_cells(line, &[(event.mnt_ns, 11)]);
}

/// exitsnoop's cells before AGE(s): `PCOMM PID PPID TID `.
fn push_exit_actor(line: &mut Vec<u8>, event: &Event) {
    push_padded_comm(line, &event.comm);
    push_number_cells(line, &[(event.pid, 7), (event.ppid, 7), (event.tid, 7)]);
}

/// execsnoop's and exitsnoop's PCOMM: terminal-safe, padded to 16 bytes,
/// then the column gap.
fn push_padded_comm(line: &mut Vec<u8>, comm: &[u8]) {
    let start = line.len();
    escape::push_terminal_safe(line, escape::comm_bytes(comm), false);
    pad_bytes(line, start, COMM_WIDTH);
    line.push(b' ');
}

/// Numbers left-aligned in cells of the given widths, each followed by
/// the column gap.
fn push_number_cells(line: &mut Vec<u8>, cells: &[(u32, usize)]) {
    for &(number, width) in cells {
        push_u64_left(line, u64::from(number), width);
        line.push(b' ');
    }
}

/// bcc exitsnoop's header (with execsnoop's `-T` column when asked).
fn push_exit_header(line: &mut Vec<u8>, options: &RenderOptions) {
    if options.time {
        line.extend_from_slice(b"TIME     ");
    }
    line.extend_from_slice(b"PCOMM            PID     PPID    TID     AGE(s)  EXIT_CODE\n");
}

fn push_exec_header(line: &mut Vec<u8>, options: &RenderOptions) {
    if options.time {
        line.extend_from_slice(b"TIME     ");
    }
    if options.timestamp {
        line.extend_from_slice(b"TIME(s) ");
    }
    if options.print_uid {
        line.extend_from_slice(b"UID   ");
    }
    line.extend_from_slice(b"PCOMM            PID    PPID   RET ARGS\n");
}

fn push_mount_header(line: &mut Vec<u8>, parent_process: bool) {
    if parent_process {
        line.extend_from_slice(
            b"COMM             PID     TID     PCOMM            PPID    MNT_NS      CALL\n",
        );
    } else {
        line.extend_from_slice(b"COMM             PID     TID     MNT_NS      CALL\n");
    }
}

/// execsnoop's ARGS: the filename, then argv[1..], at most `max_args`
/// elements, `...` when arguments were cut; each quoted with `-q`; `\n`
/// shown as `\n`; then terminal-safe.
fn push_exec_args(
    line: &mut Vec<u8>,
    filename: &Captured,
    argv: &[Captured],
    args_truncated: bool,
    options: &RenderOptions,
) {
    let after_argv0 = argv.get(1..).unwrap_or_default();
    let shown = after_argv0.len().min(options.max_args.saturating_sub(1));
    let cut = after_argv0.len() > shown || args_truncated;
    push_exec_arg(line, exec_arg_text(filename), options.quote);
    for arg in &after_argv0[..shown] {
        line.push(b' ');
        push_exec_arg(line, exec_arg_text(arg), options.quote);
    }
    if cut {
        line.push(b' ');
        push_exec_arg(line, b"...", options.quote);
    }
}

/// An ARGS element's bytes: `?` for memory that could not be read even
/// after the call (bcc would print an empty or stale buffer).
pub fn exec_arg_text(captured: &Captured) -> &[u8] {
    if captured.fault {
        b"?"
    } else {
        captured_text(captured).unwrap_or_default()
    }
}

/// One ARGS element: with `-q`, `"` + the bytes with `"` as `\"` + `"`.
fn push_exec_arg(line: &mut Vec<u8>, bytes: &[u8], quote: bool) {
    if !quote {
        escape::push_terminal_safe(line, bytes, true);
        return;
    }
    line.push(b'"');
    for (index, piece) in bytes.split(|&byte| byte == b'"').enumerate() {
        if index > 0 {
            line.extend_from_slice(b"\\\"");
        }
        escape::push_terminal_safe(line, piece, true);
    }
    line.push(b'"');
}

/// mountsnoop's COMM/PCOMM: decoded as UTF-8 with replacement, made
/// terminal-safe, padded to 16 code points.
fn push_lossy_comm(line: &mut Vec<u8>, comm: &[u8]) {
    let start = line.len();
    escape::push_terminal_safe_str(line, &escape::lossy(escape::comm_bytes(comm)));
    pad_chars(line, start, COMM_WIDTH);
}

/// A mount/umount string as bcc printed it: NULL or unread is `""`;
/// unreadable memory is `?` (unquoted, so it cannot be taken for a value).
fn push_bcc_string(line: &mut Vec<u8>, captured: &Captured) {
    if captured.fault {
        line.push(b'?');
        return;
    }
    escape::push_mount_string(line, captured_text(captured).unwrap_or_default());
    if captured.truncated {
        line.extend_from_slice(b"...");
    }
}

/// A string argument of the new mount API calls: NULL or unread is `NULL`.
fn push_nullable_string(line: &mut Vec<u8>, captured: &Captured) {
    match captured_text(captured) {
        None if captured.fault => line.push(b'?'),
        None => line.extend_from_slice(b"NULL"),
        Some(_) => push_bcc_string(line, captured),
    }
}

fn push_number(line: &mut Vec<u8>, number: impl std::fmt::Display) {
    let _ = write!(line, "{number}");
}

/// `{attr_set=..., attr_clr=..., propagation=..., userns_fd=N}`, `NULL`, or
/// `?` when the struct could not be read.
fn push_mount_attr(line: &mut Vec<u8>, attr: &Captured) {
    let Some(decoded) = captured_attr(attr) else {
        let text: &[u8] = if attr.fault { b"?" } else { b"NULL" };
        line.extend_from_slice(text);
        return;
    };
    line.extend_from_slice(b"{attr_set=");
    flags::push_flags(line, decoded.attr_set, flags::MOUNT_ATTR_FLAGS);
    line.extend_from_slice(b", attr_clr=");
    flags::push_flags(line, decoded.attr_clr, flags::MOUNT_ATTR_FLAGS);
    line.extend_from_slice(b", propagation=");
    flags::push_flags(line, decoded.propagation, flags::MOUNT_FLAGS);
    line.extend_from_slice(b", userns_fd=");
    push_number(line, decoded.userns_fd);
    line.push(b'}');
}

/// The CALL column up to (not including) ` = RET`: mountsnoop's rendering
/// of a call, also used by `replay --tree`.
pub fn push_call(line: &mut Vec<u8>, args: &Args) {
    const SEPARATOR: &[u8] = b", ";
    match args {
        Args::Mount {
            source,
            target,
            fstype,
            flags,
            data,
        } => {
            line.extend_from_slice(b"mount(");
            push_bcc_string(line, source);
            line.extend_from_slice(SEPARATOR);
            push_bcc_string(line, target);
            line.extend_from_slice(SEPARATOR);
            push_bcc_string(line, fstype);
            line.extend_from_slice(SEPARATOR);
            flags::push_mount_flags(line, *flags);
            line.extend_from_slice(SEPARATOR);
            push_bcc_string(line, data);
        }
        Args::Umount { target, flags } => {
            line.extend_from_slice(b"umount(");
            push_bcc_string(line, target);
            line.extend_from_slice(SEPARATOR);
            // Decoded as the bit mask the kernel tests (an int's 32 bits).
            flags::push_flags(line, u64::from(*flags as u32), flags::UMOUNT_FLAGS);
        }
        Args::Fsopen { fsname, flags } => {
            line.extend_from_slice(b"fsopen(");
            push_nullable_string(line, fsname);
            line.extend_from_slice(SEPARATOR);
            flags::push_flags(line, u64::from(*flags), flags::FSOPEN_FLAGS);
        }
        Args::Fsconfig {
            fd,
            cmd,
            key,
            value,
            aux,
        } => {
            line.extend_from_slice(b"fsconfig(");
            push_number(line, fd);
            line.extend_from_slice(SEPARATOR);
            flags::push_fsconfig_command(line, *cmd);
            line.extend_from_slice(SEPARATOR);
            push_nullable_string(line, key);
            line.extend_from_slice(SEPARATOR);
            // A SET_BINARY blob is escaped byte by byte like a string.
            push_nullable_string(line, value);
            line.extend_from_slice(SEPARATOR);
            push_number(line, aux);
        }
        Args::Fsmount {
            fs_fd,
            flags,
            attr_flags,
        } => {
            line.extend_from_slice(b"fsmount(");
            push_number(line, fs_fd);
            line.extend_from_slice(SEPARATOR);
            flags::push_flags(line, u64::from(*flags), flags::FSMOUNT_FLAGS);
            line.extend_from_slice(SEPARATOR);
            flags::push_flags(line, u64::from(*attr_flags), flags::MOUNT_ATTR_FLAGS);
        }
        Args::MoveMount {
            from_dirfd,
            from_path,
            to_dirfd,
            to_path,
            flags,
        } => {
            line.extend_from_slice(b"move_mount(");
            flags::push_dirfd(line, *from_dirfd);
            line.extend_from_slice(SEPARATOR);
            push_nullable_string(line, from_path);
            line.extend_from_slice(SEPARATOR);
            flags::push_dirfd(line, *to_dirfd);
            line.extend_from_slice(SEPARATOR);
            push_nullable_string(line, to_path);
            line.extend_from_slice(SEPARATOR);
            flags::push_flags(line, u64::from(*flags), flags::MOVE_MOUNT_FLAGS);
        }
        Args::OpenTree { dirfd, path, flags } => {
            line.extend_from_slice(b"open_tree(");
            flags::push_dirfd(line, *dirfd);
            line.extend_from_slice(SEPARATOR);
            push_nullable_string(line, path);
            line.extend_from_slice(SEPARATOR);
            flags::push_flags(line, u64::from(*flags), flags::OPEN_TREE_FLAGS);
        }
        Args::MountSetattr {
            dirfd,
            path,
            flags,
            attr,
            size,
        } => {
            line.extend_from_slice(b"mount_setattr(");
            flags::push_dirfd(line, *dirfd);
            line.extend_from_slice(SEPARATOR);
            push_nullable_string(line, path);
            line.extend_from_slice(SEPARATOR);
            flags::push_flags(line, u64::from(*flags), flags::MOUNT_SETATTR_FLAGS);
            line.extend_from_slice(SEPARATOR);
            push_mount_attr(line, attr);
            line.extend_from_slice(SEPARATOR);
            push_number(line, size);
        }
        Args::Fspick { dirfd, path, flags } => {
            line.extend_from_slice(b"fspick(");
            flags::push_dirfd(line, *dirfd);
            line.extend_from_slice(SEPARATOR);
            push_nullable_string(line, path);
            line.extend_from_slice(SEPARATOR);
            flags::push_flags(line, u64::from(*flags), flags::FSPICK_FLAGS);
        }
        // Exec arguments take execsnoop's layout (`layout_of`); kept total.
        Args::Exec { filename, .. } => {
            line.extend_from_slice(b"execve(");
            push_nullable_string(line, filename);
        }
        // Lifecycle events take exitsnoop's layout (`layout_of`); kept total.
        Args::Fork { child_pid, .. } => {
            let _ = write!(line, "fork(= {child_pid}");
        }
        Args::Exit { status, .. } => {
            let _ = write!(line, "exit({status:#x}");
        }
    }
    line.push(b')');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Syscall;
    use crate::render::test_events::*;
    use crate::render::Format;

    const EXEC_HEADER: &str = "PCOMM            PID    PPID   RET ARGS\n";
    const MOUNT_HEADER: &str = "COMM             PID     TID     MNT_NS      CALL\n";
    const MOUNT_HEADER_P: &str =
        "COMM             PID     TID     PCOMM            PPID    MNT_NS      CALL\n";

    fn options() -> RenderOptions {
        RenderOptions {
            format: Format::Table,
            utc: true,
            ..RenderOptions::default()
        }
    }

    fn render(options: RenderOptions, events: &[Event]) -> String {
        render_all(options, events)
    }

    /// The row of one event, without header.
    fn row(options: RenderOptions, event: &Event) -> String {
        let mut renderer = TableRenderer::new(options);
        renderer.current = Some(layout_of(event));
        let mut out = Vec::new();
        renderer.event(event, &mut out).expect("Vec write");
        String::from_utf8(out).expect("table output is UTF-8")
    }

    fn exec_options() -> RenderOptions {
        RenderOptions {
            classes: vec![EventClass::Exec],
            ..options()
        }
    }

    fn mount_row(event: &Event) -> String {
        row(options(), event)
    }

    #[test]
    fn exec_header_and_row() {
        let event = exec(b"/bin/ls", &[b"ls", b"-l", b"/tmp"]);
        assert_eq!(
            render(exec_options(), &[event]),
            format!("{EXEC_HEADER}ls               4242   1000     0 /bin/ls -l /tmp\n")
        );
    }

    #[test]
    fn exec_time_timestamp_uid_columns() {
        let event = exec(b"/bin/ls", &[b"ls"]);
        let all_columns = RenderOptions {
            time: true,
            timestamp: true,
            print_uid: true,
            capture_start_wall_ns: WALL_NS - 2_500_000_000,
            ..exec_options()
        };
        assert_eq!(
            render(all_columns, std::slice::from_ref(&event)),
            "TIME     TIME(s) UID   PCOMM            PID    PPID   RET ARGS\n\
             03:04:05 2.500   1001  ls               4242   1000     0 /bin/ls\n"
        );
        let time_only = RenderOptions {
            time: true,
            ..exec_options()
        };
        assert_eq!(
            render(time_only, std::slice::from_ref(&event)),
            "TIME     PCOMM            PID    PPID   RET ARGS\n\
             03:04:05 ls               4242   1000     0 /bin/ls\n"
        );
        let long_timestamp = RenderOptions {
            timestamp: true,
            capture_start_wall_ns: WALL_NS - 123_456_789_000_000,
            ..exec_options()
        };
        // %-8.3f pads only: a wide value pushes the row right.
        assert_eq!(
            row(long_timestamp, &event),
            "123456.789ls               4242   1000     0 /bin/ls\n"
        );
    }

    #[test]
    fn exec_failed_ppid_unknown_and_long_comm() {
        let mut event = exec(b"/nonexistent", &[b"nope", b"x"]);
        event.ret = -2;
        event.ppid = 0;
        // A comm is at most 16 bytes (TASK_COMM_LEN): it fills the column.
        event.comm = crate::event::Comm::from_bytes(b"a-long-command-n");
        event.pid = 1234567;
        assert_eq!(
            row(exec_options(), &event),
            "a-long-command-n 1234567 ?       -2 /nonexistent x\n"
        );
    }

    #[test]
    fn exec_quote() {
        let event = exec(b"/bin/echo", &[b"echo", b"say \"hi\"", b""]);
        let quoted = RenderOptions {
            quote: true,
            ..exec_options()
        };
        assert_eq!(
            row(quoted, &event),
            "ls               4242   1000     0 \"/bin/echo\" \"say \\\"hi\\\"\" \"\"\n"
        );
    }

    #[test]
    fn exec_max_args_and_truncation() {
        let argv: Vec<&[u8]> = vec![b"a0", b"a1", b"a2", b"a3", b"a4"];
        let event = exec(b"/bin/x", &argv);
        let three = RenderOptions {
            max_args: 3,
            ..exec_options()
        };
        // filename + 2 argv entries, then `...`: a3 and a4 were cut.
        assert_eq!(
            row(three.clone(), &event),
            "ls               4242   1000     0 /bin/x a1 a2 ...\n"
        );
        // Exactly max_args elements available: nothing cut, no `...` (bcc
        // would print one here).
        let five = RenderOptions {
            max_args: 5,
            ..exec_options()
        };
        assert_eq!(
            row(five.clone(), &event),
            "ls               4242   1000     0 /bin/x a1 a2 a3 a4\n"
        );
        // The capture itself cut argv.
        let mut cut = event.clone();
        if let Args::Exec { args_truncated, .. } = &mut cut.args {
            *args_truncated = true;
        }
        assert_eq!(
            row(five, &cut),
            "ls               4242   1000     0 /bin/x a1 a2 a3 a4 ...\n"
        );
        let quoted = RenderOptions {
            quote: true,
            ..three
        };
        assert_eq!(
            row(quoted, &event),
            "ls               4242   1000     0 \"/bin/x\" \"a1\" \"a2\" \"...\"\n"
        );
        // No argv at all.
        let bare = exec(b"/bin/true", &[]);
        assert_eq!(
            row(exec_options(), &bare),
            "ls               4242   1000     0 /bin/true\n"
        );
    }

    #[test]
    fn exec_newline_control_bytes_and_invalid_utf8() {
        let event = exec(
            b"/bin/sh",
            &[
                b"sh",
                b"-c",
                b"echo a\nb\tc",
                b"\x1b[2J",
                b"\xff\xfe",
                "日本\u{85}".as_bytes(),
            ],
        );
        assert_eq!(
            row(exec_options(), &event),
            "ls               4242   1000     0 /bin/sh -c echo a\\nb\\x09c \\x1b[2J \\xff\\xfe 日本\\xc2\\x85\n"
        );
        let mut evil_comm = exec(b"/x", &[b"x"]);
        evil_comm.comm = crate::event::Comm::from_bytes(b"e\x1b]0;\x07\xff");
        // Padded to 16 bytes after escaping (execsnoop pads bytes).
        assert_eq!(
            row(exec_options(), &evil_comm),
            "e\\x1b]0;\\x07\\xff 4242   1000     0 /x\n"
        );
        let mut utf8_comm = exec(b"/x", &[b"x"]);
        utf8_comm.comm = crate::event::Comm::from_bytes("grüße".as_bytes());
        assert_eq!(
            row(exec_options(), &utf8_comm),
            "grüße          4242   1000     0 /x\n"
        );
    }

    #[test]
    fn execveat_uses_execsnoop_layout() {
        let mut event = exec(b"/proc/self/fd/3", &[b"prog", b"arg"]);
        event.syscall = Syscall::Execveat;
        if let Args::Exec { dirfd, flags, .. } = &mut event.args {
            *dirfd = Some(3);
            *flags = Some(0x1000);
        }
        assert_eq!(
            row(exec_options(), &event),
            "ls               4242   1000     0 /proc/self/fd/3 arg\n"
        );
    }

    #[test]
    fn mount_header_and_row() {
        let event = mount(
            text(b"/dev/sda1"),
            text(b"/mnt"),
            text(b"ext4"),
            1,
            text(b"errors=remount-ro"),
        );
        let mount_only = RenderOptions {
            classes: vec![EventClass::Mount],
            ..options()
        };
        assert_eq!(
            render(mount_only, &[event]),
            format!(
                "{MOUNT_HEADER}mount            4242    4243    4026531841  \
                 mount(\"/dev/sda1\", \"/mnt\", \"ext4\", MS_RDONLY, \"errors=remount-ro\") = 0\n"
            )
        );
    }

    #[test]
    fn mount_with_parent_process() {
        let mut event = mount(text(b"tmpfs"), text(b"/tmp/x"), text(b"tmpfs"), 0, null());
        event.ret = -1;
        event.pcomm = crate::event::Comm::from_bytes("bäsh".as_bytes());
        let parent = RenderOptions {
            classes: vec![EventClass::Mount],
            parent_process: true,
            ..options()
        };
        assert_eq!(
            render(parent, &[event]),
            format!(
                "{MOUNT_HEADER_P}mount            4242    4243    bäsh             1000    4026531841  \
                 mount(\"tmpfs\", \"/tmp/x\", \"tmpfs\", 0x0, \"\") = -EPERM\n"
            )
        );
    }

    #[test]
    fn mount_bind_magic_and_errno() {
        let mut bind = mount(text(b"/a"), text(b"/b"), null(), 4096 | 16384, null());
        bind.ret = -2;
        assert_eq!(
            mount_row(&bind),
            "mount            4242    4243    4026531841  mount(\"/a\", \"/b\", \"\", MS_BIND|MS_REC, \"\") = -ENOENT\n"
        );
        let mut magic = mount(
            text(b"none"),
            text(b"/c"),
            text(b"proc"),
            0xc0ed_0000 | 32,
            text(b""),
        );
        magic.ret = -16;
        assert_eq!(
            mount_row(&magic),
            "mount            4242    4243    4026531841  mount(\"none\", \"/c\", \"proc\", MS_MGC_VAL|MS_REMOUNT, \"\") = -EBUSY\n"
        );
        let mut unknown_errno = mount(text(b"x"), text(b"/y"), text(b"z"), 0xc0ed_0000, text(b""));
        unknown_errno.ret = -133;
        assert_eq!(
            mount_row(&unknown_errno),
            "mount            4242    4243    4026531841  mount(\"x\", \"/y\", \"z\", MS_MGC_VAL|0x0, \"\") = -133\n"
        );
    }

    #[test]
    fn mount_string_escaping_and_truncation() {
        let event = mount(
            text(b"a\"b\\c\td\x1b"),
            truncated(b"/very/long"),
            text("ü".as_bytes()),
            0,
            text(b"x=\n"),
        );
        assert_eq!(
            mount_row(&event),
            "mount            4242    4243    4026531841  \
             mount(\"a\\\"b\\\\c\\td\\x1b\", \"/very/long\"..., \"\\xc3\\xbc\", 0x0, \"x=\\n\") = 0\n"
        );
    }

    #[test]
    fn mount_comm_is_lossy_and_terminal_safe() {
        let mut event = mount(text(b"a"), text(b"/b"), text(b"c"), 0, text(b""));
        event.comm = crate::event::Comm::from_bytes(b"m\xffnt\x1b\0garbage");
        // U+FFFD counts as one column, like Python's '{:16}'.
        assert_eq!(
            mount_row(&event),
            "m\u{fffd}nt\\x1b         4242    4243    4026531841  mount(\"a\", \"/b\", \"c\", 0x0, \"\") = 0\n"
        );
    }

    #[test]
    fn umount_detach() {
        let event = event(
            Syscall::Umount,
            Args::Umount {
                target: text(b"/mnt"),
                flags: 2,
            },
        );
        assert_eq!(
            mount_row(&event),
            "mount            4242    4243    4026531841  umount(\"/mnt\", MNT_DETACH) = 0\n"
        );
        let mut plain = event.clone();
        plain.args = Args::Umount {
            target: null(),
            flags: 0,
        };
        plain.ret = -22;
        assert_eq!(
            mount_row(&plain),
            "mount            4242    4243    4026531841  umount(\"\", 0x0) = -EINVAL\n"
        );
    }

    #[test]
    fn new_mount_api_calls() {
        let cases: Vec<(Syscall, Args, i64, &str)> =
            vec![
            (
                Syscall::Fsopen,
                Args::Fsopen {
                    fsname: text(b"ext4"),
                    flags: 1,
                },
                3,
                "fsopen(\"ext4\", FSOPEN_CLOEXEC) = 3",
            ),
            (
                Syscall::Fsconfig,
                Args::Fsconfig {
                    fd: 3,
                    cmd: 1,
                    key: text(b"source"),
                    value: text(b"/dev/sda1"),
                    aux: 0,
                },
                0,
                "fsconfig(3, FSCONFIG_SET_STRING, \"source\", \"/dev/sda1\", 0) = 0",
            ),
            (
                Syscall::Fsconfig,
                Args::Fsconfig {
                    fd: 3,
                    cmd: 6,
                    key: null(),
                    value: skipped(),
                    aux: 0,
                },
                -22,
                "fsconfig(3, FSCONFIG_CMD_CREATE, NULL, NULL, 0) = -EINVAL",
            ),
            (
                Syscall::Fsconfig,
                Args::Fsconfig {
                    fd: 3,
                    cmd: 2,
                    key: text(b"blob"),
                    value: Captured {
                        binary: true,
                        ..text(b"\x00\x01ab\xff")
                    },
                    aux: 5,
                },
                0,
                "fsconfig(3, FSCONFIG_SET_BINARY, \"blob\", \"\\x00\\x01ab\\xff\", 5) = 0",
            ),
            (
                Syscall::Fsconfig,
                Args::Fsconfig {
                    fd: 3,
                    cmd: 5,
                    key: text(b"fd"),
                    value: skipped(),
                    aux: 7,
                },
                0,
                "fsconfig(3, FSCONFIG_SET_FD, \"fd\", NULL, 7) = 0",
            ),
            (
                Syscall::Fsmount,
                Args::Fsmount {
                    fs_fd: 3,
                    flags: 1,
                    attr_flags: 0x1 | 0x10,
                },
                4,
                "fsmount(3, FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY|MOUNT_ATTR_NOATIME) = 4",
            ),
            (
                Syscall::Fsmount,
                Args::Fsmount {
                    fs_fd: 3,
                    flags: 0,
                    attr_flags: 0,
                },
                4,
                "fsmount(3, 0x0, 0x0) = 4",
            ),
            (
                Syscall::MoveMount,
                Args::MoveMount {
                    from_dirfd: 4,
                    from_path: text(b""),
                    to_dirfd: -100,
                    to_path: text(b"/mnt"),
                    flags: 0x4,
                },
                0,
                "move_mount(4, \"\", AT_FDCWD, \"/mnt\", MOVE_MOUNT_F_EMPTY_PATH) = 0",
            ),
            (
                Syscall::OpenTree,
                Args::OpenTree {
                    dirfd: -100,
                    path: text(b"/src"),
                    flags: 0x1 | 0x80000 | 0x8000,
                },
                5,
                "open_tree(AT_FDCWD, \"/src\", OPEN_TREE_CLONE|AT_RECURSIVE|OPEN_TREE_CLOEXEC) = 5",
            ),
            (
                Syscall::MountSetattr,
                Args::MountSetattr {
                    dirfd: -100,
                    path: text(b"/mnt"),
                    flags: 0x8000,
                    attr: text(&[
                        [0x01, 0, 0, 0, 0, 0, 0, 0],
                        [0x70, 0, 0, 0, 0, 0, 0, 0],
                        [0, 0, 0x04, 0, 0, 0, 0, 0],
                        [0, 0, 0, 0, 0, 0, 0, 0],
                    ]
                    .concat()),
                    size: 32,
                },
                0,
                "mount_setattr(AT_FDCWD, \"/mnt\", AT_RECURSIVE, {attr_set=MOUNT_ATTR_RDONLY, \
                 attr_clr=MOUNT_ATTR__ATIME, propagation=MS_PRIVATE, userns_fd=0}, 32) = 0",
            ),
            (
                Syscall::MountSetattr,
                Args::MountSetattr {
                    dirfd: 3,
                    path: text(b""),
                    flags: 0x1000,
                    attr: null(),
                    size: 32,
                },
                -14,
                "mount_setattr(3, \"\", AT_EMPTY_PATH, NULL, 32) = -EFAULT",
            ),
            (
                Syscall::Fspick,
                Args::Fspick {
                    dirfd: -100,
                    path: truncated(b"/long"),
                    flags: 0x1 | 0x2,
                },
                6,
                "fspick(AT_FDCWD, \"/long\"..., FSPICK_CLOEXEC|FSPICK_SYMLINK_NOFOLLOW) = 6",
            ),
        ];
        for (syscall, args, ret, call) in cases {
            let mut event = event(syscall, args);
            event.ret = ret;
            assert_eq!(
                mount_row(&event),
                format!("mount            4242    4243    4026531841  {call}\n")
            );
        }
    }

    #[test]
    fn both_classes_get_a_header_before_each_run_of_their_rows() {
        let exec_event = exec(b"/bin/mount", &[b"mount", b"-a"]);
        let mount_event = mount(text(b"a"), text(b"/b"), text(b"c"), 0, text(b""));
        let output = render(
            options(),
            &[
                exec_event.clone(),
                mount_event.clone(),
                exec_event,
                mount_event,
            ],
        );
        let exec_row = "ls               4242   1000     0 /bin/mount -a\n";
        let mount_line =
            "mount            4242    4243    4026531841  mount(\"a\", \"/b\", \"c\", 0x0, \"\") = 0\n";
        // A row never stands under the other tool's header.
        assert_eq!(
            output,
            format!(
                "{EXEC_HEADER}{exec_row}{MOUNT_HEADER}{mount_line}{EXEC_HEADER}{exec_row}{MOUNT_HEADER}{mount_line}"
            )
        );
        // Rows of one layout in a row share one header.
        let output = render(
            options(),
            &[exec(b"/bin/a", &[b"a"]), exec(b"/bin/b", &[b"b"])],
        );
        assert_eq!(output.matches("PCOMM").count(), 1, "{output}");
        // Nothing to show: no header either.
        assert_eq!(render(options(), &[]), "");
        // One class: the header even without events.
        assert_eq!(render(exec_options(), &[]), EXEC_HEADER);
    }
}
