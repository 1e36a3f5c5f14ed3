/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * snoopcap raw record layouts: the single source of truth.
 *
 * The BPF programs write these records into the ring buffer; `record` stores
 * them verbatim in the capture; `replay` decodes them through the Rust types
 * that libbpf-cargo generates from this header (via the BPF object's BTF).
 * Sizes are checked here with _Static_assert and in Rust against the
 * SC_*_SIZE constants that build.rs extracts from this file.
 *
 * Changing any layout here means bumping SC_LAYOUT_VERSION and keeping the old
 * layout decodable in replay (docs/FORMAT.md, "Raw record layouts").
 *
 * All fields are in the recording host's byte order (little-endian on every
 * architecture snoopcap builds for) and records are packed back to back: a
 * record starts on any byte boundary.
 */
#ifndef SNOOPCAP_H
#define SNOOPCAP_H

/*
 * Version 2 has the same structs as version 1 and adds the entry flag
 * SC_ENTER_DEFERRED (an exec entry whose strings all come in its refetch
 * record). Version 3 keeps both and adds the process lifecycle records
 * (SC_REC_FORK, SC_REC_PROC_EXIT, SC_REC_EXEC) and the loss reason
 * SC_LOST_PROC. Replay decodes all three.
 */
#define SC_LAYOUT_VERSION 3

#define SC_TASK_COMM_LEN 16

/* Which syscall a record belongs to (sc_record_header.syscall). */
enum sc_syscall {
	SC_SYS_EXECVE = 1,
	SC_SYS_EXECVEAT = 2,
	SC_SYS_MOUNT = 3,
	SC_SYS_UMOUNT = 4, /* umount2(2); the kernel names it "umount" */
	SC_SYS_FSOPEN = 5,
	SC_SYS_FSCONFIG = 6,
	SC_SYS_FSMOUNT = 7,
	SC_SYS_MOVE_MOUNT = 8,
	SC_SYS_OPEN_TREE = 9,
	SC_SYS_MOUNT_SETATTR = 10,
	SC_SYS_FSPICK = 11,
	/* Not syscalls: the process lifecycle records' "syscall" (layout 3+). */
	SC_SYS_FORK = 12, /* SC_REC_FORK: a task was created (fork, vfork, clone, clone3) */
	SC_SYS_EXIT = 13, /* SC_REC_PROC_EXIT: a process ended (its last thread exited) */
};

/* sc_record_header.kind */
enum sc_record_kind {
	SC_REC_ENTER = 1, /* struct sc_enter followed by nstrings string items */
	SC_REC_EXIT = 2,  /* struct sc_exit */
	/*
	 * struct sc_enter followed by string items, like SC_REC_ENTER: the
	 * pointer arguments read after the kernel used them, because some
	 * could not be read at entry (SC_ENTER_REFETCH: the page was not
	 * present, and tracepoint programs cannot fault it in) or an exec's
	 * were not read there (SC_ENTER_DEFERRED). Written before the exit
	 * record of the same call; replay fills the entry's missing items from
	 * it. For an exec it is read just before the old image is replaced
	 * (tracepoint sched_prepare_exec), or at the exit of a failed one. Its
	 * identity fields (cgroup_id .. pcomm) are zero: the entry has them.
	 */
	SC_REC_REFETCH = 3,
	/* Layout 3+: struct sc_fork, at tracepoint sched_process_fork. */
	SC_REC_FORK = 4,
	/* Layout 3+: struct sc_proc_exit, at sched_process_exit of the last thread. */
	SC_REC_PROC_EXIT = 5,
	/*
	 * Layout 3+: struct sc_enter followed by two string items (the filename
	 * the kernel executed, then argv as one SC_STR_BINARY blob of
	 * NUL-terminated strings), syscall SC_SYS_EXECVE: a successful exec seen
	 * at tracepoint sched_process_exec that the syscall tracepoints do not
	 * show whole. Written only when the caller was not a native
	 * execve/execveat (a 32-bit program, or the kernel itself:
	 * SC_EXEC_NO_SYSCALL) or the new image is a 32-bit program, whose
	 * syscall exit is not traced (SC_EXEC_COMPAT_IMAGE). args[0] is the
	 * caller's thread id before the exec (the exec makes the caller the
	 * leader: hdr.pid == hdr.tid).
	 */
	SC_REC_EXEC = 6,
};

/* Common prefix of every record. */
struct sc_record_header {
	__u64 ts_ns; /* CLOCK_BOOTTIME (bpf_ktime_get_boot_ns) */
	__u32 pid;   /* process id (tgid) */
	__u32 tid;   /* thread id */
	__u32 size;  /* size of the whole record in bytes, this header included */
	__u8 kind;   /* enum sc_record_kind */
	__u8 syscall; /* enum sc_syscall */
	__u16 reserved; /* zero */
};

/* sc_enter.flags */
#define SC_ENTER_ARGV_TRUNCATED 0x1 /* exec: argv had more entries than were captured */
#define SC_ENTER_ARGV_NULL 0x2      /* exec: the argv pointer itself was NULL */
#define SC_ENTER_ARGV_FAULT 0x4     /* exec: reading the argv pointer array failed */
#define SC_ENTER_REFETCH 0x8        /* some argument was unreadable: a SC_REC_REFETCH record follows */
/*
 * exec (layout 2+): no string items at all, and SC_ENTER_REFETCH with it. The
 * strings were not read at entry but once the kernel had copied them (and so
 * paged them in): a forked child's argv literals are usually not present at
 * entry, and a read that faults costs more than the whole record.
 */
#define SC_ENTER_DEFERRED 0x10
/* SC_REC_EXEC records only (layout 3+). */
#define SC_EXEC_NO_SYSCALL 0x20   /* no native execve/execveat entry was traced for it */
#define SC_EXEC_COMPAT_IMAGE 0x40 /* the new image is a 32-bit program: no syscall exit follows */

/*
 * Fixed part of a syscall-entry record. args[i] holds syscall argument i when
 * that argument is an integer (flags, fds, commands, sizes) and 0 when it is a
 * pointer: pointers are meaningless after the fact and cost capture bytes, so
 * what they point to is captured as string items instead.
 */
struct sc_enter {
	struct sc_record_header hdr;
	__u64 cgroup_id; /* cgroup v2 id of the caller */
	__u64 args[6];
	__u32 ppid;   /* real parent's tgid */
	__u32 uid;    /* real uid */
	__u32 gid;    /* real gid */
	__u32 mnt_ns; /* mount namespace inode number */
	char comm[SC_TASK_COMM_LEN];  /* caller's comm at entry */
	char pcomm[SC_TASK_COMM_LEN]; /* real parent's comm */
	__u16 nstrings; /* string items that follow */
	__u16 flags;    /* SC_ENTER_* */
	__u32 reserved; /* zero */
};

/* sc_str.flags */
#define SC_STR_NULL 0x1      /* the pointer was NULL: nothing read, len 0 */
#define SC_STR_TRUNCATED 0x2 /* the value was longer than what was kept */
#define SC_STR_FAULT 0x4     /* reading user memory failed: len 0 */
#define SC_STR_BINARY 0x8    /* a byte blob of a given length, not a C string */
#define SC_STR_SKIPPED 0x10  /* not read: the argument carries no data for this call, or no room was left */

/*
 * A string item: this header, then len bytes (no terminating NUL). Items
 * follow struct sc_enter back to back, in the order docs/FORMAT.md gives for
 * each syscall: the pointer arguments in argument order; for exec the
 * filename first, then argv[0], argv[1], ...
 */
struct sc_str {
	__u16 len;
	__u16 flags; /* SC_STR_* */
};

/* A syscall-exit record. */
struct sc_exit {
	struct sc_record_header hdr;
	__s64 ret; /* the syscall's return value (negative errno on failure) */
	char comm[SC_TASK_COMM_LEN]; /* caller's comm after the call: for exec, the new image's */
};

/*
 * A task was created (layout 3+). hdr.pid/tid are the creating task's; the
 * start times are the kernel's start_boottime (CLOCK_BOOTTIME ns, the clock
 * of ts_ns): with the pid, a process identity that survives pid reuse.
 */
struct sc_fork {
	struct sc_record_header hdr;
	__u64 child_start_ns;  /* the new task's start time */
	__u64 parent_start_ns; /* the creating process's (its group leader's) start time */
	__u64 clone_flags;     /* CLONE_* bits derived from what the tasks share (docs/FORMAT.md) */
	__u64 cgroup_id;       /* the creating task's cgroup v2 id */
	__u32 child_pid;       /* the new task's process id (tgid): hdr.pid for a thread */
	__u32 child_tid;       /* the new task's thread id */
	__u32 child_ppid;      /* the new task's real parent's tgid (CLONE_PARENT makes it ours) */
	__u32 ppid;            /* the creating task's real parent's tgid */
	__u32 uid;             /* real uid */
	__u32 gid;             /* real gid */
	__u32 mnt_ns;          /* mount namespace inode number */
	__u32 reserved;        /* zero */
	char comm[SC_TASK_COMM_LEN];  /* the creating task's comm */
	char pcomm[SC_TASK_COMM_LEN]; /* its real parent's comm */
};

/* A process ended: its last thread exited (layout 3+). hdr.pid/tid: that thread. */
struct sc_proc_exit {
	struct sc_record_header hdr;
	__u64 start_ns;  /* the process's start time (its group leader's start_boottime) */
	__u64 cgroup_id;
	__u32 exit_code; /* wait(2) status: exit status << 8, or the signal | 0x80 if it dumped core */
	__u32 ppid;      /* real parent's tgid */
	__u32 uid;       /* real uid */
	__u32 gid;       /* real gid */
	__u32 mnt_ns;    /* mount namespace inode number */
	__u32 reserved;  /* zero */
	char comm[SC_TASK_COMM_LEN];
	char pcomm[SC_TASK_COMM_LEN]; /* real parent's comm */
};

/* Record sizes, checked on both sides (build.rs turns these into Rust constants). */
#define SC_RECORD_HEADER_SIZE 24
#define SC_ENTER_SIZE 136
#define SC_STR_SIZE 4
#define SC_EXIT_SIZE 48
#define SC_FORK_SIZE 120
#define SC_PROC_EXIT_SIZE 96

_Static_assert(sizeof(struct sc_record_header) == SC_RECORD_HEADER_SIZE, "sc_record_header size");
_Static_assert(sizeof(struct sc_enter) == SC_ENTER_SIZE, "sc_enter size");
_Static_assert(sizeof(struct sc_str) == SC_STR_SIZE, "sc_str size");
_Static_assert(sizeof(struct sc_exit) == SC_EXIT_SIZE, "sc_exit size");
_Static_assert(sizeof(struct sc_fork) == SC_FORK_SIZE, "sc_fork size");
_Static_assert(sizeof(struct sc_proc_exit) == SC_PROC_EXIT_SIZE, "sc_proc_exit size");

/* Limits of what one record can hold. */
#define SC_MAX_ARGS_LIMIT 128       /* --max-args upper bound */
#define SC_ARG_SIZE_LIMIT 4096      /* --arg-size upper bound, bytes per argument */
#define SC_PATH_MAX 4096            /* mount-family strings: up to PATH_MAX bytes */
#define SC_DATA_MAX 4096            /* mount data / fsconfig values: up to a page */
#define SC_STRING_AREA 16384        /* bytes of string items one record can carry */
#define SC_MAX_RECORD_SIZE (SC_ENTER_SIZE + SC_STRING_AREA)

/* Indexes into the per-CPU loss counters (map sc_lost). */
enum sc_loss_reason {
	SC_LOST_ENTER_RINGBUF = 0, /* an entry record did not fit in the ring buffer */
	SC_LOST_EXIT_RINGBUF = 1,  /* an exit record did not fit in the ring buffer */
	SC_LOST_SCRATCH_BUSY = 2,  /* the per-CPU scratch buffer was in use by a preempted program */
	/*
	 * A refetch record was not written (ring buffer full, scratch busy, or no
	 * task storage for the pointers): its call's event is still complete
	 * except for the arguments the entry could not (or did not) read.
	 */
	SC_LOST_REFETCH = 3,
	/* A fork, process exit or exec record did not fit in the ring buffer (layout 3+). */
	SC_LOST_PROC = 4,
	SC_LOST_REASONS = 5,
};

#endif /* SNOOPCAP_H */
