// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * snoopcap's kernel side: tracepoint programs on the exec and mount-family
 * syscalls. Each call produces one entry record (identity, integer arguments,
 * the strings the pointer arguments point to) and one exit record (return
 * value, comm after the call); an exec's strings, and any the entry could not
 * read, come in a refetch record in between. Nothing is paired or decoded here: no per-event
 * hash map, one ring-buffer copy of exactly the bytes used per record.
 *
 * Hooks: the per-syscall tracepoints (syscalls/sys_enter_* and sys_exit_*).
 * kprobes are not available on our kernels, and fentry/fexit are refused on
 * kernels in lockdown; raw sys_enter/sys_exit tracepoints would run a program
 * for every syscall in the system. Per-syscall tracepoints run ours only for
 * the traced calls (libbpf finds them through tracefs; record mounts it).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "snoopcap.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Settings, fixed by `record` before the programs are loaded. */
const volatile __u32 cfg_filter_uid = 0; /* nonzero: only cfg_uid */
const volatile __u32 cfg_uid = 0;
const volatile __u32 cfg_filter_pid = 0; /* nonzero: only cfg_pid (a tgid) */
const volatile __u32 cfg_pid = 0;
const volatile __u32 cfg_filter_mntns = 0; /* nonzero: only cfg_mntns */
const volatile __u32 cfg_mntns = 0;
const volatile __u32 cfg_filter_cgroup = 0;    /* nonzero: only tasks under the cgroup in sc_cgroup */
const volatile __u32 cfg_filter_cgroupmap = 0; /* nonzero: only cgroup ids that are keys of sc_cgroupmap */
const volatile __u32 cfg_filter_mntnsmap = 0;  /* nonzero: only mount namespaces that are keys of sc_mntnsmap */
const volatile __u32 cfg_max_args = 20;
const volatile __u32 cfg_arg_size = 128;
/*
 * Nonzero: an exec entry record carries no strings (SC_ENTER_DEFERRED); they
 * are read at sched_prepare_exec, or at the exit of a failed exec, once the
 * kernel has copied them. Set only where exec_prepare is attached.
 */
const volatile __u32 cfg_defer_exec_strings = 0;
/* Wake the reader only once this many bytes wait; it polls on a timer anyway. */
const volatile __u64 cfg_wakeup_bytes = 1 << 20;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20); /* resized by record --ringbuf-size */
} sc_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SC_LOST_REASONS);
	__type(key, __u32);
	__type(value, __u64);
} sc_lost SEC(".maps");

/*
 * Per-CPU scratch where an entry record is assembled before one
 * bpf_ringbuf_output of the bytes used. One slot for exec and one for the
 * mount family; `busy` guards a slot against a second program that runs on
 * the same CPU while the first is preempted (fentry programs are preemptible;
 * the kernel already stops one program from re-entering itself).
 */
struct sc_scratch {
	__u64 busy; /* 64-bit: BPF's atomic exchange needs it without -mcpu=v3 */
	/* exec: the argv pointer array, read in one go (one helper call, not one per entry). */
	const char *argv_ptrs[SC_MAX_ARGS_LIMIT + 1];
	/* The record, then slack for one read at the end of the string area. */
	__u8 buf[SC_ENTER_SIZE + SC_STRING_AREA + 2 * SC_DATA_MAX + 16];
};

#define SC_SLOT_EXEC 0
#define SC_SLOT_MOUNT 1

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct sc_scratch);
} sc_scratch_map SEC(".maps");

/* Kernel-side container filters (record --cgroup / --cgroupmap / --mntnsmap). */
struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} sc_cgroup SEC(".maps");

/*
 * --cgroupmap / --mntnsmap: slot 0 holds a hash map pinned by another tool
 * (u64 keys: cgroup ids / mount namespace inode numbers; any value size, any
 * number of entries); only its keys are read. Held through an outer array
 * rather than reused in place: libbpf renames a reused map after the pinned
 * one, and the pinned map itself is the inner-map template record sets, so
 * its value size and flags need not be known here.
 */
struct sc_filter_set {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u64);
	__type(value, __u8);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct sc_filter_set);
} sc_cgroupmap SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct sc_filter_set);
} sc_mntnsmap SEC(".maps");

/* Instances so that the skeleton generator emits these types for user space. */
struct sc_record_header sc_type_record_header = {};
struct sc_enter sc_type_enter = {};
struct sc_str sc_type_str = {};
struct sc_exit sc_type_exit = {};

static __always_inline void count_lost(__u32 reason)
{
	__u64 *counter = bpf_map_lookup_elem(&sc_lost, &reason);

	if (counter)
		*counter += 1; /* per-CPU value: no other writer on this CPU */
}

/* True when `key` is a key of the pinned map in slot 0 of `outer`. */
static __always_inline bool in_pinned_set(void *outer, __u64 key)
{
	__u32 zero = 0;
	void *set = bpf_map_lookup_elem(outer, &zero);

	return set && bpf_map_lookup_elem(set, &key);
}

/*
 * True when `task`, the current task, passes every kernel-side filter. A
 * filter that is off costs nothing: its branch is dead code once the settings
 * are fixed at load.
 */
static __always_inline bool should_trace(struct task_struct *task)
{
	if (cfg_filter_pid && task->tgid != cfg_pid)
		return false;
	if (cfg_filter_uid && task->cred->uid.val != cfg_uid)
		return false;
	if (cfg_filter_cgroup && bpf_current_task_under_cgroup(&sc_cgroup, 0) != 1)
		return false;
	if (cfg_filter_cgroupmap) {
		__u64 cgroup_id = bpf_get_current_cgroup_id();

		if (!in_pinned_set(&sc_cgroupmap, cgroup_id))
			return false;
	}
	if (cfg_filter_mntns || cfg_filter_mntnsmap) {
		__u64 mnt_ns = task->nsproxy->mnt_ns->ns.inum;

		if (cfg_filter_mntns && mnt_ns != cfg_mntns)
			return false;
		if (cfg_filter_mntnsmap && !in_pinned_set(&sc_mntnsmap, mnt_ns))
			return false;
	}
	return true;
}

/* How a pointer argument is copied into a string item. */
enum sc_copy {
	SC_COPY_STR,  /* NUL-terminated string */
	SC_COPY_BLOB, /* exactly n bytes */
	SC_COPY_SKIP, /* not read: nothing of interest behind it for this call */
};

/*
 * The masks change no value (pos < SC_STRING_AREA and want <= SC_DATA_MAX + 1
 * are checked first) but give the verifier bounds it can follow whatever the
 * compiler does with the checks; the scratch buffer has slack for them. Done
 * in asm because the compiler would drop a mask it can prove is a no-op.
 */
static __always_inline __u64 sc_mask(__u64 value, const __u64 mask)
{
	asm volatile("%[v] &= %[m]" : [v] "+r"(value) : [m] "i"(mask));
	return value;
}
#define SC_AT(pos) sc_mask((pos), SC_STRING_AREA - 1)
#define SC_LEN(len) sc_mask((len), 2 * SC_DATA_MAX - 1)

/*
 * Appends one string item at *off (an offset into the string area) and
 * advances *off. `limit` is the most bytes kept. For strings one more byte is
 * read, so that a value of exactly `limit` bytes is not mistaken for a
 * truncated one; for blobs `cut` says the caller already shortened it.
 */
static __always_inline __u16 append_item(__u8 *strings, __u32 *off, const void *uptr, __u32 limit,
					 enum sc_copy how, bool cut, __u64 *fault_page)
{
	__u32 pos = *off;
	struct sc_str item = {};
	__u32 room, want;
	long n = 0;

	/* One byte stays unused so that an offset always fits SC_AT's mask. */
	if (pos >= SC_STRING_AREA - SC_STR_SIZE)
		return 0; /* callers check room first; this keeps the verifier sure too */
	room = SC_STRING_AREA - SC_STR_SIZE - 1 - pos;

	if (how == SC_COPY_SKIP) {
		item.flags = SC_STR_SKIPPED;
	} else if (!uptr) {
		item.flags = SC_STR_NULL;
	} else if (((__u64)uptr >> 12) == *fault_page) {
		/* A page that just faulted is still not there: a second fault
		 * costs as much as the first and reads nothing. The refetch
		 * after the call reads it. */
		item.flags = SC_STR_FAULT | (how == SC_COPY_BLOB ? SC_STR_BINARY : 0);
	} else {
		bool clamped = false;

		/* bpf_probe_read_*_str's size counts the NUL it writes: limit + 2
		 * lets one byte past the limit through, which proves truncation. */
		want = how == SC_COPY_BLOB ? limit : limit + 2;
		if (want > room) {
			want = room;
			clamped = true;
		}
		if (want > SC_DATA_MAX + 2)
			want = SC_DATA_MAX + 2;
		if (how == SC_COPY_STR) {
			n = bpf_probe_read_user_str(strings + SC_AT(pos) + SC_STR_SIZE, SC_LEN(want), uptr);
			if (n < 0) {
				item.flags = SC_STR_FAULT;
				*fault_page = (__u64)uptr >> 12;
				n = 0;
			} else {
				n = n > 0 ? n - 1 : 0; /* drop the NUL */
				if (n > limit) {
					n = limit;
					item.flags |= SC_STR_TRUNCATED;
				} else if (clamped && n + 1 >= want) {
					/* The record's string area ran out first. */
					item.flags |= SC_STR_TRUNCATED;
				}
			}
		} else {
			item.flags |= SC_STR_BINARY;
			if (cut || clamped)
				item.flags |= SC_STR_TRUNCATED;
			if (want > SC_DATA_MAX)
				want = SC_DATA_MAX;
			n = want;
			if (want > 0 && bpf_probe_read_user(strings + SC_AT(pos) + SC_STR_SIZE, SC_LEN(want), uptr) < 0) {
				item.flags = SC_STR_FAULT | SC_STR_BINARY;
				*fault_page = (__u64)uptr >> 12;
				n = 0;
			}
		}
	}
	item.len = n;
	__builtin_memcpy(strings + SC_AT(pos), &item, sizeof(item));
	*off = pos + SC_STR_SIZE + item.len;
	return item.flags;
}

/* The loss reason of a record of `kind` that could not be written. */
static __always_inline __u32 lost_reason(__u8 kind, __u32 reason)
{
	if (kind == SC_REC_REFETCH)
		return SC_LOST_REFETCH;
	return kind == SC_REC_EXEC ? SC_LOST_PROC : reason;
}

static __always_inline struct sc_scratch *claim_scratch(__u32 slot, __u8 kind)
{
	struct sc_scratch *scratch = bpf_map_lookup_elem(&sc_scratch_map, &slot);

	if (!scratch)
		return NULL;
	if (__sync_lock_test_and_set(&scratch->busy, 1)) {
		count_lost(lost_reason(kind, SC_LOST_SCRATCH_BUSY));
		return NULL;
	}
	return scratch;
}

static __always_inline long wakeup_flags(void)
{
	return bpf_ringbuf_query(&sc_events, BPF_RB_AVAIL_DATA) >= cfg_wakeup_bytes ? BPF_RB_FORCE_WAKEUP
										    : BPF_RB_NO_WAKEUP;
}

/*
 * The record code takes the current task from its program, which looks it up
 * once and filters with it; the task's fields are plain loads through its BTF
 * pointer, not helper calls: a helper call costs about as much as an exec
 * record's whole ring-buffer output.
 */
static __always_inline void fill_header(struct sc_record_header *hdr, __u8 kind, __u8 syscall,
					struct task_struct *task)
{
	hdr->ts_ns = bpf_ktime_get_boot_ns();
	hdr->pid = task->tgid;
	hdr->tid = task->pid;
	hdr->kind = kind;
	hdr->syscall = syscall;
	hdr->reserved = 0;
}

/* Fills the fixed part of an entry record of `task`, the current task. */
static __always_inline void fill_enter(struct sc_enter *e, __u8 kind, __u8 syscall,
				       struct task_struct *task)
{
	struct task_struct *parent = task->real_parent;
	const struct cred *cred = task->cred;

	fill_header(&e->hdr, kind, syscall, task);
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->uid = cred->uid.val;
	e->gid = cred->gid.val;
	e->ppid = parent->tgid;
	e->mnt_ns = task->nsproxy->mnt_ns->ns.inum;
	__builtin_memcpy(e->comm, task->comm, sizeof(e->comm));
	__builtin_memcpy(e->pcomm, parent->comm, sizeof(e->pcomm));
	e->flags = 0;
	e->reserved = 0;
	for (int i = 0; i < 6; i++)
		e->args[i] = 0;
}

/*
 * Fills the fixed part of an entry or refetch record. A refetch record only
 * adds arguments to its entry, which has the identity already: its identity
 * fields stay zero (layout 2).
 */
static __always_inline void fill_record(struct sc_enter *e, __u8 kind, __u8 syscall,
					struct task_struct *task)
{
	if (kind != SC_REC_REFETCH) {
		fill_enter(e, kind, syscall, task);
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	fill_header(&e->hdr, kind, syscall, task);
}

static __always_inline void submit_enter(struct sc_scratch *scratch, __u32 string_bytes)
{
	struct sc_enter *e = (struct sc_enter *)scratch->buf;
	__u64 size = SC_ENTER_SIZE + SC_AT(string_bytes); /* string_bytes < SC_STRING_AREA */

	e->hdr.size = size;
	if (bpf_ringbuf_output(&sc_events, scratch->buf, size, wakeup_flags()))
		count_lost(lost_reason(e->hdr.kind, SC_LOST_ENTER_RINGBUF));
}

/*
 * Unreadable arguments. A tracepoint program cannot fault a page in, and
 * strings a process has not touched yet (literals in a freshly forked child,
 * say) are often not present at syscall entry. When an entry record has an
 * unreadable item, the raw argument registers are kept here, per task, and
 * read again once the kernel has used them (and so faulted them in): at the
 * syscall's exit, or for a successful exec from the new image. Calls that
 * read fine never create an entry; the exit path pays one lookup.
 */
struct sc_refetch {
	__u64 args[6];
	__u32 syscall;
	__u32 reserved;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sc_refetch);
} sc_refetch_map SEC(".maps");

static __always_inline void keep_for_refetch(__u8 syscall, const __u64 *args,
					     struct task_struct *task)
{
	struct sc_refetch *r =
		bpf_task_storage_get(&sc_refetch_map, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (!r) {
		count_lost(SC_LOST_REFETCH); /* the entry promised one */
		return;
	}
	for (int i = 0; i < 6; i++)
		r->args[i] = args[i];
	r->syscall = syscall;
}

/* ---- exec ---- */

/*
 * The argv walk runs as a bpf_loop callback: the verifier checks the body
 * once instead of once per possible argument, which keeps the program
 * verifiable at --max-args 128 and --arg-size 4096.
 */
struct argv_walk {
	__u8 *strings;
	const char *const *argv;
	const char **ptrs; /* argv[0 .. max_args] already read, or NULL: read one at a time */
	__u64 fault_page;
	__u32 off;
	__u32 nstrings;
	__u32 arg_size;
	__u16 flags; /* SC_ENTER_ARGV_* */
	bool unreadable;
};

static long argv_step(__u64 i, void *data)
{
	struct argv_walk *walk = data;
	const char *arg = NULL;
	__u16 item_flags;

	if (i > SC_MAX_ARGS_LIMIT)
		return 1; /* bpf_loop's bound; says so to the verifier */
	if (walk->ptrs) {
		arg = walk->ptrs[i];
	} else if (bpf_probe_read_user(&arg, sizeof(arg), &walk->argv[i]) < 0) {
		walk->flags |= SC_ENTER_ARGV_FAULT;
		walk->unreadable = true;
		return 1;
	}
	if (!arg)
		return 1;
	if (i >= cfg_max_args || walk->off + SC_STR_SIZE + 1 >= SC_STRING_AREA) {
		walk->flags |= SC_ENTER_ARGV_TRUNCATED;
		return 1;
	}
	item_flags = append_item(walk->strings, &walk->off, arg, walk->arg_size, SC_COPY_STR, false,
				 &walk->fault_page);
	walk->unreadable |= item_flags & SC_STR_FAULT;
	walk->nstrings++;
	return 0;
}

/*
 * Writes an exec record of `kind` for `task`, the current task, which the
 * caller has filtered (calls that are not traced never touch, or count, the
 * scratch); returns true when an item could not be read (then an entry record
 * says SC_ENTER_REFETCH).
 */
static __always_inline bool handle_exec(__u8 kind, __u8 syscall, const char *filename,
					const char *const *argv, __u64 dirfd, __u64 flags,
					struct task_struct *task)
{
	struct sc_scratch *scratch;
	struct sc_enter *e;
	__u8 *strings;
	__u32 off = 0, nstrings = 1;
	__u32 arg_size = cfg_arg_size;
	__u16 item_flags;
	bool unreadable = false;
	__u64 fault_page = 0; /* page number of the last read that faulted */

	scratch = claim_scratch(SC_SLOT_EXEC, kind);
	if (!scratch)
		return false;
	e = (struct sc_enter *)scratch->buf;
	fill_record(e, kind, syscall, task);
	if (syscall == SC_SYS_EXECVEAT) {
		e->args[0] = dirfd;
		e->args[4] = flags;
	}
	strings = scratch->buf + SC_ENTER_SIZE;
	if (arg_size > SC_ARG_SIZE_LIMIT)
		arg_size = SC_ARG_SIZE_LIMIT;

	/* Names a path, so PATH_MAX, whatever --arg-size says. */
	item_flags =
		append_item(strings, &off, filename, SC_PATH_MAX, SC_COPY_STR, false, &fault_page);
	unreadable |= item_flags & SC_STR_FAULT;

	if (!argv) {
		e->flags |= SC_ENTER_ARGV_NULL;
	} else if (kind == SC_REC_ENTER && unreadable) {
		/* The filename's page is not in yet, so argv is most likely not
		 * either (both are fresh in a forked child): leave argv to the
		 * refetch, which reads all of it once the kernel has. */
		e->flags |= SC_ENTER_ARGV_FAULT;
	} else {
		struct argv_walk walk = {
			.strings = strings,
			.argv = argv,
			.fault_page = fault_page,
			.off = off,
			.arg_size = arg_size,
		};
		__u32 max_args = cfg_max_args < SC_MAX_ARGS_LIMIT ? cfg_max_args : SC_MAX_ARGS_LIMIT;

		/* The array up to argv[max_args] in one read; where that runs into
		 * an unmapped page (a short argv at the end of a mapping), one
		 * entry at a time. */
		if (bpf_probe_read_user(scratch->argv_ptrs, (max_args + 1) * sizeof(argv[0]), argv) == 0)
			walk.ptrs = scratch->argv_ptrs;

		/* One more step than the limit: seeing argv[max_args] says the
		 * list was cut. */
		bpf_loop(SC_MAX_ARGS_LIMIT + 1, argv_step, &walk, 0);
		off = walk.off;
		nstrings += walk.nstrings;
		e->flags |= walk.flags;
		unreadable |= walk.unreadable;
	}
	e->nstrings = nstrings;
	if (kind == SC_REC_ENTER && unreadable)
		e->flags |= SC_ENTER_REFETCH;
	submit_enter(scratch, off);
	*(volatile __u64 *)&scratch->busy = 0; /* same CPU only: a plain store releases it */
	return unreadable;
}

/* ---- mount family ---- */

/*
 * Writes a mount-family record of `kind` from the raw arguments: integers
 * into args[], pointer arguments as string items in argument order, for
 * `task` as handle_exec. Returns true when an item could not be read.
 */
static __always_inline bool handle_mount(__u8 kind, __u8 syscall, const __u64 *a,
					 struct task_struct *task)
{
	struct sc_scratch *scratch;
	struct sc_enter *e;
	__u8 *strings;
	__u32 off = 0, nstrings = 0;
	__u16 faults = 0;
	__u64 fault_page = 0; /* page number of the last read that faulted */

	scratch = claim_scratch(SC_SLOT_MOUNT, kind);
	if (!scratch)
		return false;
	e = (struct sc_enter *)scratch->buf;
	fill_record(e, kind, syscall, task);
	strings = scratch->buf + SC_ENTER_SIZE;

#define ITEM(ptr, limit, how, cut)                                                                 \
	(faults |= append_item(strings, &off, (const void *)(ptr), (limit), (how), (cut),          \
			       &fault_page),                                                       \
	 nstrings++)
#define STR(ptr, limit) ITEM(ptr, limit, SC_COPY_STR, false)
	switch (syscall) {
	case SC_SYS_MOUNT: /* mount(source, target, fstype, flags, data) */
		e->args[3] = a[3];
		STR(a[0], SC_PATH_MAX);
		STR(a[1], SC_PATH_MAX);
		STR(a[2], SC_PATH_MAX);
		STR(a[4], SC_DATA_MAX);
		break;
	case SC_SYS_UMOUNT: /* umount2(target, flags) */
		e->args[1] = a[1];
		STR(a[0], SC_PATH_MAX);
		break;
	case SC_SYS_FSOPEN: /* fsopen(fsname, flags) */
		e->args[1] = a[1];
		STR(a[0], SC_PATH_MAX);
		break;
	case SC_SYS_FSCONFIG: { /* fsconfig(fd, cmd, key, value, aux) */
		__u32 cmd = (__u32)a[1];
		enum sc_copy how = SC_COPY_SKIP;
		__u32 limit = 0;

		e->args[0] = a[0];
		e->args[1] = a[1];
		e->args[4] = a[4];
		STR(a[2], SC_PATH_MAX);
		if (cmd == 1 /* FSCONFIG_SET_STRING */ || cmd == 3 /* SET_PATH */ ||
		    cmd == 4 /* SET_PATH_EMPTY */) {
			how = SC_COPY_STR;
			limit = SC_DATA_MAX;
		} else if (cmd == 2 /* FSCONFIG_SET_BINARY: aux is the length */) {
			how = SC_COPY_BLOB;
			limit = (__u32)a[4] > SC_DATA_MAX ? SC_DATA_MAX : (__u32)a[4];
		}
		ITEM(a[3], limit, how, (__u32)a[4] > SC_DATA_MAX);
		break;
	}
	case SC_SYS_FSMOUNT: /* fsmount(fsfd, flags, attr_flags) */
		e->args[0] = a[0];
		e->args[1] = a[1];
		e->args[2] = a[2];
		break;
	case SC_SYS_MOVE_MOUNT: /* move_mount(from_dirfd, from_path, to_dirfd, to_path, flags) */
		e->args[0] = a[0];
		e->args[2] = a[2];
		e->args[4] = a[4];
		STR(a[1], SC_PATH_MAX);
		STR(a[3], SC_PATH_MAX);
		break;
	case SC_SYS_OPEN_TREE: /* open_tree(dirfd, path, flags) */
	case SC_SYS_FSPICK:    /* fspick(dirfd, path, flags) */
		e->args[0] = a[0];
		e->args[2] = a[2];
		STR(a[1], SC_PATH_MAX);
		break;
	case SC_SYS_MOUNT_SETATTR: { /* mount_setattr(dirfd, path, flags, attr, size) */
		/* struct mount_attr as of MOUNT_ATTR_SIZE_VER0: 32 bytes. */
		__u32 size = a[4] > 32 ? 32 : (__u32)a[4];

		e->args[0] = a[0];
		e->args[2] = a[2];
		e->args[4] = a[4];
		STR(a[1], SC_PATH_MAX);
		ITEM(a[3], size, SC_COPY_BLOB, a[4] > 32);
		break;
	}
	}
#undef STR
#undef ITEM
	e->nstrings = nstrings;
	if (kind == SC_REC_ENTER && (faults & SC_STR_FAULT))
		e->flags |= SC_ENTER_REFETCH;
	submit_enter(scratch, off);
	*(volatile __u64 *)&scratch->busy = 0; /* same CPU only: a plain store releases it */
	return faults & SC_STR_FAULT;
}

/*
 * Deferred exec strings are read from the syscall's arguments as the
 * registers saved at syscall entry still hold them: unchanged until the new
 * image starts, and after a failed exec only the return value register is
 * rewritten (PT_REGS_PARM*_SYSCALL read the argument registers). Per-task
 * storage for the pointers would cost more than the whole entry record. The
 * registers are plain loads: bpf_task_pt_regs gives a BTF pointer.
 */
#if defined(__TARGET_ARCH_x86)
#define SC_NR_EXECVE 59
#define SC_NR_EXECVEAT 322
#define SC_SYSCALL_NR(regs) ((regs)->orig_ax)
#else
#error "snoopcap: give this architecture's execve/execveat numbers and syscall-number register"
#endif

/* Writes the refetch record of a deferred exec of `syscall` from the saved registers. */
static __always_inline void refetch_exec_from_regs(__u8 syscall, struct pt_regs *regs,
						   struct task_struct *task)
{
	if (syscall == SC_SYS_EXECVE)
		handle_exec(SC_REC_REFETCH, SC_SYS_EXECVE, (const char *)PT_REGS_PARM1_SYSCALL(regs),
			    (const char *const *)PT_REGS_PARM2_SYSCALL(regs), 0, 0, task);
	else
		handle_exec(SC_REC_REFETCH, SC_SYS_EXECVEAT,
			    (const char *)PT_REGS_PARM2_SYSCALL(regs),
			    (const char *const *)PT_REGS_PARM3_SYSCALL(regs), PT_REGS_PARM1_SYSCALL(regs),
			    PT_REGS_PARM5_SYSCALL(regs), task);
}

/* ---- exit, shared by every syscall ---- */

static __always_inline bool is_exec(__u32 syscall)
{
	return syscall == SC_SYS_EXECVE || syscall == SC_SYS_EXECVEAT;
}

/*
 * Re-reads the arguments of a call whose entry could not read them all, now
 * that the kernel has touched them. A successful exec has a new image by now:
 * exec_prepare read them before the old one went.
 */
static __always_inline void refetch_at_exit(__u8 syscall, long ret, struct task_struct *task)
{
	struct sc_refetch *r = bpf_task_storage_get(&sc_refetch_map, task, 0, 0);

	if (!r)
		return;
	if (r->syscall == syscall && !(is_exec(syscall) && ret == 0)) {
		if (syscall == SC_SYS_EXECVE)
			handle_exec(SC_REC_REFETCH, syscall, (const char *)r->args[0],
				    (const char *const *)r->args[1], 0, 0, task);
		else if (syscall == SC_SYS_EXECVEAT)
			handle_exec(SC_REC_REFETCH, syscall, (const char *)r->args[1],
				    (const char *const *)r->args[2], r->args[0], r->args[4], task);
		else
			handle_mount(SC_REC_REFETCH, syscall, r->args, task);
	}
	bpf_task_storage_delete(&sc_refetch_map, task);
}

static __always_inline void handle_exit(__u8 syscall, long ret)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task_btf();
	struct sc_exit *x;

	if (!should_trace(task))
		return;
	if (cfg_defer_exec_strings && is_exec(syscall)) {
		/* A successful exec had its strings read at exec_prepare. */
		if (ret != 0)
			refetch_exec_from_regs(syscall, (struct pt_regs *)bpf_task_pt_regs(task), task);
	} else {
		refetch_at_exit(syscall, ret, task);
	}
	x = bpf_ringbuf_reserve(&sc_events, sizeof(*x), 0);
	if (!x) {
		count_lost(SC_LOST_EXIT_RINGBUF);
		return;
	}
	fill_header(&x->hdr, SC_REC_EXIT, syscall, task);
	x->hdr.size = sizeof(*x);
	x->ret = ret;
	__builtin_memcpy(x->comm, task->comm, sizeof(x->comm));
	bpf_ringbuf_submit(x, wakeup_flags());
}

/*
 * Execs the syscall tracepoints do not see: a 32-bit program's execve goes
 * through the compat syscall table, which they skip, and a kernel-started
 * exec makes no syscall. exec_prepare sees every exec while the caller's
 * registers still say which syscall it was (after the point of no return the
 * kernel rewrites the syscall number for the new image's ABI), and marks
 * these here for exec_done. Rare: native execs never create the storage.
 */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u32);
} sc_exec_mark SEC(".maps");

/*
 * Marks set and not yet taken by exec_done, machine-wide: while it is zero
 * (always, but for a 32-bit or kernel exec in flight) exec_done skips the
 * task-storage lookup, which costs more than the rest of it. An exec that
 * fails after exec_prepare kills its process and leaves the count one too
 * high: exec_done then looks up storage in vain, which is slower, not wrong.
 */
__u64 sc_marks_outstanding = 0;

static __always_inline void mark_exec_without_syscall(struct task_struct *task)
{
	__u32 *mark = bpf_task_storage_get(&sc_exec_mark, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (mark && !*mark) {
		*mark = 1;
		__sync_fetch_and_add(&sc_marks_outstanding, 1);
	}
}

/*
 * An exec whose entry deferred its strings or could not read them all, at the
 * last moment the old image is still there: the kernel has just copied the
 * filename and argv (and so paged them in), and the point of no return is
 * next. Read them from the pointers the caller passed: the saved syscall
 * registers for a deferred exec, task storage otherwise. (Linux 6.10+; without
 * this tracepoint the loader leaves it out and turns deferral off, and a
 * successful exec keeps what its entry read.)
 *
 * Its return value is ignored: a tp_btf program runs from the tracepoint's
 * BPF probe (__bpf_trace_run: "(void) bpf_prog_run(prog, args)"), beside
 * perf's and ftrace's own probes, so it cannot hide the event from them,
 * unlike the syscall tracepoint programs below (SC_TP_PASS).
 */
SEC("tp_btf/sched_prepare_exec")
int BPF_PROG(exec_prepare, struct task_struct *task, struct linux_binprm *bprm)
{
	struct sc_refetch *r;

	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	/* A kernel-started exec (no syscall) has neither number. */
	__u64 nr = SC_SYSCALL_NR(regs);

	/* `task` is the current task: the filters apply as at entry. */
	if (!should_trace(task))
		return 0;
	if (nr != SC_NR_EXECVE && nr != SC_NR_EXECVEAT)
		mark_exec_without_syscall(task);
	if (cfg_defer_exec_strings) {

		if (nr == SC_NR_EXECVE)
			refetch_exec_from_regs(SC_SYS_EXECVE, regs, task);
		else if (nr == SC_NR_EXECVEAT)
			refetch_exec_from_regs(SC_SYS_EXECVEAT, regs, task);
		return 0;
	}
	r = bpf_task_storage_get(&sc_refetch_map, task, 0, 0);

	if (!r)
		return 0;
	if (r->syscall == SC_SYS_EXECVE)
		handle_exec(SC_REC_REFETCH, SC_SYS_EXECVE, (const char *)r->args[0],
			    (const char *const *)r->args[1], 0, 0, task);
	else if (r->syscall == SC_SYS_EXECVEAT)
		handle_exec(SC_REC_REFETCH, SC_SYS_EXECVEAT, (const char *)r->args[1],
			    (const char *const *)r->args[2], r->args[0], r->args[4], task);
	bpf_task_storage_delete(&sc_refetch_map, task);
	return 0;
}

/* ---- the syscall tracepoint programs ---- */

/*
 * What every syscall tracepoint program returns, on every path, traced or
 * filtered out. These are classic tracepoint programs, attached through a
 * perf event: the kernel runs them from the tracepoint's perf probe, and
 * hands the event on to the perf events on that tracepoint (`perf record -e
 * syscalls:sys_enter_execve`, perf stat, ...) only if every attached program
 * returns nonzero (perf_syscall_enter/exit: "if ((valid_prog_array &&
 * !perf_call_bpf_enter(...)) || hlist_empty(head)) return"; trace_call_bpf
 * ANDs the programs' results). With 0, perf would count none of these calls
 * while record runs. Other BPF programs on the tracepoint run whatever we
 * return, and ftrace (trace-cmd) has a probe of its own.
 */
#define SC_TP_PASS 1

/* Program pairs, one tracepoint each for entry and exit. */
#define SC_EXIT_PROG(name, id)                                                \
	SEC("tracepoint/syscalls/sys_exit_" #name)                            \
	int exit_##name(struct trace_event_raw_sys_exit *ctx)                 \
	{                                                                     \
		handle_exit(id, ctx->ret);                                    \
		return SC_TP_PASS;                                            \
	}

/*
 * A program may read only the arguments its tracepoint has (the kernel
 * refuses to attach one whose context reads go past the tracepoint's record).
 */
#define SC_ARG(ctx, i, nargs) ((i) < (nargs) ? (ctx)->args[(i) < (nargs) ? (i) : 0] : 0)

#define SC_MOUNT_PROGS(name, id, nargs)                                       \
	SEC("tracepoint/syscalls/sys_enter_" #name)                           \
	int enter_##name(struct trace_event_raw_sys_enter *ctx)               \
	{                                                                     \
		__u64 args[6] = { SC_ARG(ctx, 0, nargs), SC_ARG(ctx, 1, nargs),   \
				  SC_ARG(ctx, 2, nargs), SC_ARG(ctx, 3, nargs),   \
				  SC_ARG(ctx, 4, nargs), 0 };                     \
		struct task_struct *task = bpf_get_current_task_btf();        \
                                                                              \
		if (should_trace(task) && handle_mount(SC_REC_ENTER, id, args, task)) \
			keep_for_refetch(id, args, task);                     \
		return SC_TP_PASS;                                            \
	}                                                                     \
	SC_EXIT_PROG(name, id)

/*
 * An exec entry without strings (SC_ENTER_DEFERRED): the identity fields and
 * integer arguments only, reserved in the ring buffer directly (fixed size, no
 * scratch). exec_prepare, or the exit of a failed exec, reads the strings.
 */
static __always_inline void enter_exec_deferred(__u8 syscall, const __u64 *args,
						struct task_struct *task)
{
	struct sc_enter *e = bpf_ringbuf_reserve(&sc_events, SC_ENTER_SIZE, 0);

	if (!e) {
		count_lost(SC_LOST_ENTER_RINGBUF);
		return;
	}
	fill_enter(e, SC_REC_ENTER, syscall, task);
	if (syscall == SC_SYS_EXECVEAT) {
		e->args[0] = args[0];
		e->args[4] = args[4];
	}
	e->hdr.size = SC_ENTER_SIZE;
	e->nstrings = 0;
	e->flags = SC_ENTER_DEFERRED | SC_ENTER_REFETCH;
	bpf_ringbuf_submit(e, wakeup_flags());
}

/* The entry of an exec: `args` are its raw arguments, the rest taken from them. */
static __always_inline void enter_exec(__u8 syscall, const __u64 *args, const char *filename,
				       const char *const *argv, __u64 dirfd, __u64 flags)
{
	struct task_struct *task = bpf_get_current_task_btf();

	if (!should_trace(task))
		return;
	if (cfg_defer_exec_strings)
		enter_exec_deferred(syscall, args, task);
	else if (handle_exec(SC_REC_ENTER, syscall, filename, argv, dirfd, flags, task))
		keep_for_refetch(syscall, args, task);
}

SEC("tracepoint/syscalls/sys_enter_execve")
int enter_execve(struct trace_event_raw_sys_enter *ctx)
{
	/* execve(filename, argv, envp) */
	__u64 args[6] = { ctx->args[0], ctx->args[1], ctx->args[2], 0, 0, 0 };

	enter_exec(SC_SYS_EXECVE, args, (const char *)args[0], (const char *const *)args[1], 0, 0);
	return SC_TP_PASS;
}
SC_EXIT_PROG(execve, SC_SYS_EXECVE)

SEC("tracepoint/syscalls/sys_enter_execveat")
int enter_execveat(struct trace_event_raw_sys_enter *ctx)
{
	/* execveat(dirfd, filename, argv, envp, flags) */
	__u64 args[6] = { ctx->args[0], ctx->args[1], ctx->args[2], ctx->args[3], ctx->args[4], 0 };

	enter_exec(SC_SYS_EXECVEAT, args, (const char *)args[1], (const char *const *)args[2], args[0],
		   args[4]);
	return SC_TP_PASS;
}
SC_EXIT_PROG(execveat, SC_SYS_EXECVEAT)

SC_MOUNT_PROGS(mount, SC_SYS_MOUNT, 5)
SC_MOUNT_PROGS(umount, SC_SYS_UMOUNT, 2)
SC_MOUNT_PROGS(fsopen, SC_SYS_FSOPEN, 2)
SC_MOUNT_PROGS(fsconfig, SC_SYS_FSCONFIG, 5)
SC_MOUNT_PROGS(fsmount, SC_SYS_FSMOUNT, 3)
SC_MOUNT_PROGS(move_mount, SC_SYS_MOVE_MOUNT, 5)
SC_MOUNT_PROGS(open_tree, SC_SYS_OPEN_TREE, 3)
SC_MOUNT_PROGS(mount_setattr, SC_SYS_MOUNT_SETATTR, 5)
SC_MOUNT_PROGS(fspick, SC_SYS_FSPICK, 3)

/* ---- process lifecycle (layout 3+) ---- */

/*
 * The return values of the tp_btf programs below, like exec_prepare's, are
 * ignored by the kernel (BTF tracepoints have no perf/ftrace delivery to
 * gate), so they return 0.
 */

#define SC_TS_COMPAT 0x0002 /* x86 thread_info.status: the task runs 32-bit code */

/* CLONE_* values (uapi/linux/sched.h), for the flags derived in proc_fork. */
#define SC_CLONE_VM 0x00000100
#define SC_CLONE_FS 0x00000200
#define SC_CLONE_FILES 0x00000400
#define SC_CLONE_SIGHAND 0x00000800
#define SC_CLONE_PARENT 0x00008000
#define SC_CLONE_THREAD 0x00010000
#define SC_CLONE_NEWNS 0x00020000

/*
 * A task was created. sched_process_fork runs in the creating task after the
 * new one is complete (its ids and start time are set) and before it can
 * run, so the fork record always comes before anything the child does. The
 * tracepoint does not carry clone's flags; the ones that show in what the
 * two tasks share are derived from it.
 */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(proc_fork, struct task_struct *parent, struct task_struct *child)
{
	struct sc_fork *f;
	__u64 flags = 0;

	/* `parent` is the current task: the filters apply to the creator. */
	if (!should_trace(parent))
		return 0;
	f = bpf_ringbuf_reserve(&sc_events, sizeof(*f), 0);
	if (!f) {
		count_lost(SC_LOST_PROC);
		return 0;
	}
	fill_header(&f->hdr, SC_REC_FORK, SC_SYS_FORK, parent);
	f->hdr.size = sizeof(*f);
	f->child_start_ns = child->start_boottime;
	f->parent_start_ns = parent->group_leader->start_boottime;
	if (child->mm == parent->mm)
		flags |= SC_CLONE_VM;
	if (child->fs == parent->fs)
		flags |= SC_CLONE_FS;
	if (child->files == parent->files)
		flags |= SC_CLONE_FILES;
	if (child->sighand == parent->sighand)
		flags |= SC_CLONE_SIGHAND;
	if (child->tgid == parent->tgid)
		flags |= SC_CLONE_THREAD;
	else if (child->real_parent != parent && child->real_parent->tgid != parent->tgid)
		flags |= SC_CLONE_PARENT;
	if (child->nsproxy->mnt_ns != parent->nsproxy->mnt_ns)
		flags |= SC_CLONE_NEWNS;
	f->clone_flags = flags;
	f->cgroup_id = bpf_get_current_cgroup_id();
	f->child_pid = child->tgid;
	f->child_tid = child->pid;
	f->child_ppid = child->real_parent->tgid;
	f->ppid = parent->real_parent->tgid;
	f->uid = parent->cred->uid.val;
	f->gid = parent->cred->gid.val;
	f->mnt_ns = parent->nsproxy->mnt_ns->ns.inum;
	f->reserved = 0;
	__builtin_memcpy(f->comm, parent->comm, sizeof(f->comm));
	__builtin_memcpy(f->pcomm, parent->real_parent->comm, sizeof(f->pcomm));
	bpf_ringbuf_submit(f, wakeup_flags());
	return 0;
}

/*
 * A process ended. sched_process_exit runs in each exiting thread;
 * `group_dead` is true in the last one, when the process as a whole is gone:
 * only then is a record written (thread exits are not recorded). By then
 * do_exit has stored the exit code; for a group exit (exit_group(2), or a
 * fatal signal) it is the group's, which the signal struct also keeps.
 */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(proc_exit, struct task_struct *p, bool group_dead)
{
	struct sc_proc_exit *x;
	__u32 code;

	if (!group_dead || !should_trace(p))
		return 0;
	x = bpf_ringbuf_reserve(&sc_events, sizeof(*x), 0);
	if (!x) {
		count_lost(SC_LOST_PROC);
		return 0;
	}
	code = p->exit_code;
	if (!code && (p->signal->flags & 0x00000004 /* SIGNAL_GROUP_EXIT */))
		code = p->signal->group_exit_code;
	fill_header(&x->hdr, SC_REC_PROC_EXIT, SC_SYS_EXIT, p);
	x->hdr.size = sizeof(*x);
	x->start_ns = p->group_leader->start_boottime;
	x->cgroup_id = bpf_get_current_cgroup_id();
	x->exit_code = code;
	x->ppid = p->real_parent->tgid;
	x->uid = p->cred->uid.val;
	x->gid = p->cred->gid.val;
	x->mnt_ns = p->nsproxy ? p->nsproxy->mnt_ns->ns.inum : 0; /* exit_task_namespaces may have run */
	x->reserved = 0;
	__builtin_memcpy(x->comm, p->comm, sizeof(x->comm));
	__builtin_memcpy(x->pcomm, p->real_parent->comm, sizeof(x->pcomm));
	bpf_ringbuf_submit(x, wakeup_flags());
	return 0;
}

/* Most bytes of argv kept from a SC_REC_EXEC record's argument area. */
#define SC_EXEC_ARGV_BLOCK 4096

/*
 * A successful exec, once the new image is in place: writes a SC_REC_EXEC
 * record for the execs the syscall tracepoints do not show whole (see
 * SC_REC_EXEC in snoopcap.h); the common native exec of a 64-bit program
 * costs one task-storage lookup here. The filename is the kernel's copy;
 * argv is the new image's argument area (mm->arg_start..arg_end, just
 * written by the kernel, so present), kept as one blob.
 */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(exec_done, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 *mark = NULL;
	bool compat_image = p->thread_info.status & SC_TS_COMPAT;
	struct sc_scratch *scratch;
	struct sc_enter *e;
	__u8 *strings;
	struct sc_str item = {};
	__u64 arg_start, arg_end, len;
	__u32 off;
	long n;

	if (*(volatile __u64 *)&sc_marks_outstanding) {
		mark = bpf_task_storage_get(&sc_exec_mark, p, 0, 0);
		if (mark) {
			bpf_task_storage_delete(&sc_exec_mark, p);
			__sync_fetch_and_add(&sc_marks_outstanding, -1);
		}
	}
	if (!mark && !compat_image)
		return 0;
	if (!should_trace(p))
		return 0;
	scratch = claim_scratch(SC_SLOT_EXEC, SC_REC_EXEC);
	if (!scratch)
		return 0;
	e = (struct sc_enter *)scratch->buf;
	fill_enter(e, SC_REC_EXEC, SC_SYS_EXECVE, p);
	e->args[0] = (__u32)old_pid;
	e->flags = (mark ? SC_EXEC_NO_SYSCALL : 0) | (compat_image ? SC_EXEC_COMPAT_IMAGE : 0);
	strings = scratch->buf + SC_ENTER_SIZE;

	/* The filename, as the kernel executed it. */
	n = bpf_probe_read_kernel_str(strings + SC_STR_SIZE, SC_PATH_MAX, BPF_CORE_READ(bprm, filename));
	item.flags = 0;
	if (n < 0) {
		item.flags = SC_STR_FAULT;
		n = 0;
	} else if (n > 0) {
		n -= 1; /* the NUL */
	}
	item.len = n;
	__builtin_memcpy(strings, &item, sizeof(item));
	off = SC_STR_SIZE + (__u32)n;

	/* argv: NUL-terminated strings back to back. */
	arg_start = p->mm->arg_start;
	arg_end = p->mm->arg_end;
	len = arg_end > arg_start ? arg_end - arg_start : 0;
	item.flags = SC_STR_BINARY;
	if (len > SC_EXEC_ARGV_BLOCK) {
		len = SC_EXEC_ARGV_BLOCK;
		item.flags |= SC_STR_TRUNCATED;
	}
	if (off > SC_PATH_MAX + SC_STR_SIZE)
		off = SC_PATH_MAX + SC_STR_SIZE; /* never: n < SC_PATH_MAX; for the verifier */
	if (len > 0 && bpf_probe_read_user(strings + off + SC_STR_SIZE, len & (2 * SC_EXEC_ARGV_BLOCK - 1),
					   (const void *)arg_start) < 0) {
		item.flags = SC_STR_FAULT | SC_STR_BINARY;
		len = 0;
	}
	item.len = len;
	__builtin_memcpy(strings + off, &item, sizeof(item));
	off += SC_STR_SIZE + (__u32)len;
	e->nstrings = 2;
	submit_enter(scratch, off);
	*(volatile __u64 *)&scratch->busy = 0; /* same CPU only: a plain store releases it */
	return 0;
}
