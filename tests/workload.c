/*
 * Workload for snoopcap's end-to-end tests and fixtures: makes exactly the
 * exec and mount-family calls a scenario names, and prints one line per call
 * so the test can check every captured field against what was done:
 *
 *   CALL <name> pid=<tgid> tid=<tid> ret=<return value> errno=<errno or 0> [key=value ...]
 *
 * Scenarios (argv[1]): exec, exec-fail, execveat, thread-exec, mounts, all.
 * Not part of "all" (the fixtures record "all"): long-args (an exec with six
 * arguments, one of them long, for record's --max-args/--arg-size),
 * uid-exec (an exec as root, then one as uid/gid 65534, for --uid) and
 * unpaged (exec and mount-family calls whose strings the process has never
 * touched, so that a tracer cannot read them at syscall entry) and
 * argv-edge (an exec, then a failing one, whose argv array ends right where
 * an inaccessible page begins: reading past its NULL faults) and hang (a
 * mount and an execve that block until stdin reaches end of file, for a
 * capture that ends while they are in progress; see do_hang) and
 * coexist [N] (N execs of /bin/true, then N tmpfs mounts each unmounted
 * again, default 200: a known number of calls for counting tracers) and
 * secret-mounts (a tmpfs mount whose options carry password=SECRET, and
 * fsconfig(FSCONFIG_SET_STRING, "password", SECRET), SECRET taken from the
 * environment's WORKLOAD_SECRET so that it is on no command line: secrets
 * in mount data and in an fsconfig value, for redaction; tmpfs refuses both).
 * Mount scenarios run in a private mount namespace on a private temp dir, so
 * they touch nothing outside.
 * Build: cc -O2 -pthread -o workload tests/workload.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef FSOPEN_CLOEXEC
#define FSOPEN_CLOEXEC 0x1
#define FSCONFIG_SET_STRING 1
#define FSCONFIG_CMD_CREATE 6
#define FSMOUNT_CLOEXEC 0x1
#define MOVE_MOUNT_F_EMPTY_PATH 0x4
#define OPEN_TREE_CLONE 1
#define FSPICK_CLOEXEC 0x1
#define MOUNT_ATTR_RDONLY 0x1
#define MOUNT_ATTR_NODEV 0x4
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

struct sc_mount_attr {
	uint64_t attr_set, attr_clr, propagation, userns_fd;
};

static char *const true_envp[] = {"PATH=/bin:/usr/bin", NULL};

static void report(const char *name, long ret, const char *extra)
{
	printf("CALL %s pid=%d tid=%ld ret=%ld errno=%d%s%s\n", name, getpid(), (long)syscall(SYS_gettid), ret,
	       ret < 0 ? errno : 0, extra ? " " : "", extra ? extra : "");
	fflush(stdout);
}

/* Runs fn in a child and waits for it; exec scenarios report from the child. */
static void in_child(void (*fn)(void))
{
	pid_t child = fork();
	if (child == 0) {
		fn();
		_exit(0);
	}
	int status;
	waitpid(child, &status, 0);
}

static void do_exec(void)
{
	char *argv[] = {"true", "first-arg", "with space", "quote\"d", NULL};
	report("execve", 0, "filename=/bin/true");
	execve("/bin/true", argv, true_envp);
	report("execve-failed-unexpectedly", -1, NULL);
}

static void do_exec_fail(void)
{
	char *argv[] = {"missing", "x", NULL};
	long ret = execve("/nonexistent/snoopcap-missing", argv, true_envp);
	report("execve", ret, "filename=/nonexistent/snoopcap-missing");
}

static void do_execveat(void)
{
	int dirfd = open("/bin", O_RDONLY | O_DIRECTORY);
	char *argv[] = {"true", "via-execveat", NULL};
	char extra[64];
	snprintf(extra, sizeof(extra), "dirfd=%d", dirfd);
	report("execveat", 0, extra);
	syscall(SYS_execveat, dirfd, "true", argv, true_envp, 0);
	report("execveat-failed-unexpectedly", -1, NULL);
}

static void do_execveat_fail(void)
{
	char *argv[] = {"x", NULL};
	long ret = syscall(SYS_execveat, AT_FDCWD, "", argv, true_envp, AT_EMPTY_PATH);
	report("execveat", ret, "dirfd=-100 flags=4096");
}

static void *thread_exec(void *unused)
{
	(void)unused;
	char *argv[] = {"true", "from-thread", NULL};
	report("execve-thread", 0, "filename=/bin/true");
	execve("/bin/true", argv, true_envp);
	report("execve-failed-unexpectedly", -1, NULL);
	return NULL;
}

static void do_thread_exec(void)
{
	pthread_t thread;
	pthread_create(&thread, NULL, thread_exec, NULL);
	pthread_join(thread, NULL);
}

static void do_mounts(void)
{
	char extra[4200];
	if (unshare(CLONE_NEWNS) != 0 || mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
		perror("workload: private mount namespace");
		exit(1);
	}
	char dir[] = "/tmp/snoopcap-workload-XXXXXX";
	if (!mkdtemp(dir)) {
		perror("workload: mkdtemp");
		exit(1);
	}
	long ret;

	ret = mount("snoopcap-src", dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=700");
	snprintf(extra, sizeof(extra), "target=%s", dir);
	report("mount", ret, extra);
	ret = umount2(dir, MNT_DETACH);
	report("umount", ret, extra);

	ret = mount(dir, dir, NULL, MS_BIND | MS_REC, NULL);
	report("mount-bind", ret, extra);
	ret = umount2(dir, 0);
	report("umount", ret, extra);

	ret = mount("none", "/nonexistent/snoopcap-target", "tmpfs", 0, NULL);
	report("mount-fail", ret, "target=/nonexistent/snoopcap-target");

	ret = umount2("/nonexistent/snoopcap-target", 0);
	report("umount-fail", ret, "target=/nonexistent/snoopcap-target");

	int fsfd = syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
	report("fsopen", fsfd, "fsname=tmpfs");
	ret = syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, "size", "1m", 0);
	report("fsconfig", ret, "cmd=1 key=size value=1m");
	ret = syscall(SYS_fsconfig, fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0);
	report("fsconfig", ret, "cmd=6");
	int mfd = syscall(SYS_fsmount, fsfd, FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV);
	snprintf(extra, sizeof(extra), "fs_fd=%d", fsfd);
	report("fsmount", mfd, extra);
	ret = syscall(SYS_move_mount, mfd, "", AT_FDCWD, dir, MOVE_MOUNT_F_EMPTY_PATH);
	snprintf(extra, sizeof(extra), "from_dirfd=%d to_path=%s", mfd, dir);
	report("move_mount", ret, extra);

	int tfd = syscall(SYS_open_tree, AT_FDCWD, dir, OPEN_TREE_CLONE | AT_RECURSIVE);
	snprintf(extra, sizeof(extra), "path=%s", dir);
	report("open_tree", tfd, extra);

	struct sc_mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
	ret = syscall(SYS_mount_setattr, AT_FDCWD, dir, 0, &attr, sizeof(attr));
	report("mount_setattr", ret, extra);

	int pfd = syscall(SYS_fspick, AT_FDCWD, dir, FSPICK_CLOEXEC);
	report("fspick", pfd, extra);

	ret = syscall(SYS_fsopen, "snoopcap-nosuchfs", 0);
	report("fsopen-fail", ret, "fsname=snoopcap-nosuchfs");

	ret = umount2(dir, MNT_DETACH);
	snprintf(extra, sizeof(extra), "target=%s", dir);
	report("umount", ret, extra);
	rmdir(dir);
}

static void do_long_args(void)
{
	char *argv[] = {"true", "a1", "a2", "this-argument-is-longer-than-16-bytes", "a4", "a5", NULL};
	report("execve", 0, "filename=/bin/true");
	execve("/bin/true", argv, true_envp);
	report("execve-failed-unexpectedly", -1, NULL);
}

/*
 * argv (and its NULL) in the last bytes of a page followed by a PROT_NONE
 * page: a tracer that reads the array in one piece, beyond the NULL, fails
 * and must read it entry by entry.
 */
static char **argv_at_page_end(const char *a0, const char *a1)
{
	long page = sysconf(_SC_PAGESIZE);
	char *map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED || mprotect(map + page, page, PROT_NONE) != 0) {
		perror("workload: argv page");
		exit(1);
	}
	char **argv = (char **)(map + page) - 3;
	argv[0] = (char *)a0;
	argv[1] = (char *)a1;
	argv[2] = NULL;
	return argv;
}

static void do_edge_exec(void)
{
	char **argv = argv_at_page_end("true", "edge-arg");
	report("execve", 0, "filename=/bin/true");
	execve("/bin/true", argv, true_envp);
	report("execve-failed-unexpectedly", -1, NULL);
}

static void do_edge_exec_fail(void)
{
	char **argv = argv_at_page_end("missing", "edge-fail");
	long ret = execve("/nonexistent/snoopcap-edge", argv, true_envp);
	report("execve", ret, "filename=/nonexistent/snoopcap-edge");
}

static void do_exec_as_nobody(void)
{
	char *argv[] = {"true", "as-nobody", NULL};
	if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) {
		perror("workload: setresuid");
		_exit(1);
	}
	report("execve", 0, "filename=/bin/true uid=65534 gid=65534");
	execve("/bin/true", argv, true_envp);
	report("execve-failed-unexpectedly", -1, NULL);
}

/*
 * Copies n strings into a fresh file and maps it without touching it: the
 * pages are in the page cache but not in this process's page tables, so a
 * tracer cannot read them at syscall entry (it cannot fault pages in). They
 * share one page: the kernel's first access to any of them maps them all.
 */
static void unpaged(const char *const *strings, char **out, int n)
{
	char path[] = "/tmp/snoopcap-unpaged-XXXXXX";
	size_t offsets[16], total = 0;
	int fd = mkstemp(path);
	if (fd < 0 || n > 16) {
		perror("workload: mkstemp");
		exit(1);
	}
	unlink(path);
	for (int i = 0; i < n; i++) {
		size_t len = strlen(strings[i]) + 1;
		offsets[i] = total;
		if (write(fd, strings[i], len) != (ssize_t)len) {
			perror("workload: write");
			exit(1);
		}
		total += len;
	}
	char *map = mmap(NULL, total, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		perror("workload: mmap");
		exit(1);
	}
	close(fd);
	for (int i = 0; i < n; i++)
		out[i] = map + offsets[i];
}

static void do_unpaged_exec(void)
{
	const char *const strings[] = {"/bin/true", "true", "unpaged-arg"};
	char *s[3];
	unpaged(strings, s, 3);
	char *argv[] = {s[1], s[2], NULL};
	report("execve", 0, "filename=/bin/true");
	execve(s[0], argv, true_envp);
	report("execve-failed-unexpectedly", -1, NULL);
}

static void do_unpaged_exec_fail(void)
{
	const char *const strings[] = {"/nonexistent/snoopcap-unpaged", "missing-unpaged", "y"};
	char *s[3];
	unpaged(strings, s, 3);
	char *argv[] = {s[1], s[2], NULL};
	long ret = execve(s[0], argv, true_envp);
	report("execve", ret, "filename=/nonexistent/snoopcap-unpaged");
}

static void do_unpaged_execveat(void)
{
	const char *const strings[] = {"true", "true", "unpaged-at"};
	char *s[3];
	int dirfd = open("/bin", O_RDONLY | O_DIRECTORY);
	char extra[64];
	unpaged(strings, s, 3);
	char *argv[] = {s[1], s[2], NULL};
	snprintf(extra, sizeof(extra), "dirfd=%d", dirfd);
	report("execveat", 0, extra);
	syscall(SYS_execveat, dirfd, s[0], argv, true_envp, 0);
	report("execveat-failed-unexpectedly", -1, NULL);
}

static void do_unpaged_mounts(void)
{
	char extra[4200];
	if (unshare(CLONE_NEWNS) != 0 || mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
		perror("workload: private mount namespace");
		exit(1);
	}
	char dir[] = "/tmp/snoopcap-workload-XXXXXX";
	if (!mkdtemp(dir)) {
		perror("workload: mkdtemp");
		exit(1);
	}
	/* A mapping of its own for each call: each one starts unreadable. */
	const char *const mount_strings[] = {"snoopcap-unpaged", dir, "tmpfs", "size=16k"};
	const char *const umount_strings[] = {dir};
	const char *const fsopen_strings[] = {"tmpfs"};
	const char *const fsconfig_strings[] = {"size", "2m"};
	char *m[4], *u[1], *o[1], *c[2];
	unpaged(mount_strings, m, 4);
	unpaged(umount_strings, u, 1);
	unpaged(fsopen_strings, o, 1);
	unpaged(fsconfig_strings, c, 2);
	long ret;

	ret = mount(m[0], m[1], m[2], MS_NOSUID, m[3]);
	snprintf(extra, sizeof(extra), "target=%s", dir);
	report("mount", ret, extra);
	ret = umount2(u[0], 0);
	report("umount", ret, extra);
	int fsfd = syscall(SYS_fsopen, o[0], FSOPEN_CLOEXEC);
	report("fsopen", fsfd, "fsname=tmpfs");
	ret = syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, c[0], c[1], 0);
	report("fsconfig", ret, "cmd=1 key=size value=2m");
	close(fsfd);
	rmdir(dir);
}

/* True once `pid` is blocked inside syscall number `nr` (/proc/PID/syscall). */
static int blocked_in(pid_t pid, long nr)
{
	char path[64], buf[256];
	snprintf(path, sizeof(path), "/proc/%d/syscall", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	long got = -1;
	int n = fgets(buf, sizeof(buf), f) ? sscanf(buf, "%ld", &got) : 0;
	fclose(f);
	return n == 1 && got == nr;
}

/* Forks a child that closes the FUSE device (so that only the parent holds
 * it) and makes one call that blocks on the FUSE filesystem, then reports. */
static pid_t hang_child(int fuse_fd, const char *dir, int exec)
{
	pid_t child = fork();
	if (child != 0)
		return child;
	close(fuse_fd);
	char path[4200], extra[4300];
	snprintf(path, sizeof(path), "%s/%s", dir, exec ? "prog" : "sub");
	long ret;
	if (exec) {
		char *argv[] = {"prog", "never-runs", NULL};
		ret = execve(path, argv, true_envp);
		snprintf(extra, sizeof(extra), "filename=%s", path);
		report("execve-hung", ret, extra);
	} else {
		ret = mount("snoopcap-hang", path, "tmpfs", 0, "size=64k");
		snprintf(extra, sizeof(extra), "target=%s", path);
		report("mount-hung", ret, extra);
	}
	_exit(0);
}

/*
 * hang: in a private mount namespace, mounts a FUSE filesystem that this
 * process serves but never answers (not even its INIT request), then one
 * child mounts on a path inside it and another execs a program inside it:
 * both block in the kernel's FUSE lookup. Once both are blocked it prints
 * "HUNG" and waits for end of file on stdin; then it closes the FUSE device,
 * which aborts the connection: both calls fail (ENOTCONN) and return.
 */
static void do_hang(void)
{
	if (unshare(CLONE_NEWNS) != 0 || mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
		perror("workload: private mount namespace");
		exit(1);
	}
	char dir[] = "/tmp/snoopcap-hang-XXXXXX";
	if (!mkdtemp(dir)) {
		perror("workload: mkdtemp");
		exit(1);
	}
	int fuse_fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fuse_fd < 0) {
		perror("workload: /dev/fuse");
		exit(1);
	}
	char opts[128], extra[4200];
	snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=0,group_id=0", fuse_fd);
	long ret = mount("snoopcap-fuse", dir, "fuse", MS_NOSUID | MS_NODEV, opts);
	snprintf(extra, sizeof(extra), "target=%s", dir);
	report("mount-fuse", ret, extra);
	if (ret != 0)
		exit(1);
	pid_t mounter = hang_child(fuse_fd, dir, 0);
	pid_t execer = hang_child(fuse_fd, dir, 1);
	while (!blocked_in(mounter, SYS_mount) || !blocked_in(execer, SYS_execve))
		poll(NULL, 0, 10);
	printf("HUNG mount=%d execve=%d\n", mounter, execer);
	fflush(stdout);
	char buf[64];
	while (read(0, buf, sizeof(buf)) > 0)
		;
	close(fuse_fd);
	waitpid(mounter, NULL, 0);
	waitpid(execer, NULL, 0);
	ret = umount2(dir, MNT_DETACH);
	report("umount", ret, extra);
	rmdir(dir);
}

static long coexist_n = 200;

static void do_coexist_exec(void)
{
	char *argv[] = {"true", "coexist", NULL};
	report("execve", 0, "filename=/bin/true");
	execve("/bin/true", argv, true_envp);
	report("execve-failed-unexpectedly", -1, NULL);
}

/* coexist_n mount+umount pairs of a tmpfs on a private temp dir. */
static void do_coexist_mounts(void)
{
	char extra[64];
	if (unshare(CLONE_NEWNS) != 0 || mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
		perror("workload: private mount namespace");
		exit(1);
	}
	char dir[] = "/tmp/snoopcap-coexist-XXXXXX";
	if (!mkdtemp(dir)) {
		perror("workload: mkdtemp");
		exit(1);
	}
	snprintf(extra, sizeof(extra), "target=%s", dir);
	for (long i = 0; i < coexist_n; i++) {
		long ret = mount("snoopcap-coexist", dir, "tmpfs", 0, "size=16k");
		report("mount", ret, extra);
		ret = umount2(dir, 0);
		report("umount", ret, extra);
	}
	rmdir(dir);
}

static const char *secret_value = "";

/* Secrets where mount options and fsconfig values go (both calls fail: tmpfs has no such option). */
static void do_secret_mounts(void)
{
	char data[512];
	long ret;
	if (unshare(CLONE_NEWNS) != 0 || mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
		perror("workload: private mount namespace");
		exit(1);
	}
	char dir[] = "/tmp/snoopcap-workload-XXXXXX";
	if (!mkdtemp(dir)) {
		perror("workload: mkdtemp");
		exit(1);
	}
	snprintf(data, sizeof(data), "size=64k,password=%s", secret_value);
	ret = mount("snoopcap-src", dir, "tmpfs", 0, data);
	report("mount", ret, "data=secret");
	if (ret == 0)
		umount2(dir, MNT_DETACH);
	int fsfd = syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
	report("fsopen", fsfd, "fsname=tmpfs");
	ret = syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, "password", secret_value, 0);
	report("fsconfig", ret, "cmd=1 key=password");
	close(fsfd);
	rmdir(dir);
}

int main(int argc, char **argv)
{
	const char *scenario = argc > 1 ? argv[1] : "all";
	int all = strcmp(scenario, "all") == 0;

	if (all || !strcmp(scenario, "exec"))
		in_child(do_exec);
	if (all || !strcmp(scenario, "exec-fail"))
		in_child(do_exec_fail);
	if (all || !strcmp(scenario, "execveat")) {
		in_child(do_execveat);
		in_child(do_execveat_fail);
	}
	if (all || !strcmp(scenario, "thread-exec"))
		in_child(do_thread_exec);
	if (all || !strcmp(scenario, "mounts"))
		in_child(do_mounts);
	if (!strcmp(scenario, "long-args"))
		in_child(do_long_args);
	if (!strcmp(scenario, "uid-exec")) {
		in_child(do_exec);
		in_child(do_exec_as_nobody);
	}
	if (!strcmp(scenario, "argv-edge")) {
		in_child(do_edge_exec);
		in_child(do_edge_exec_fail);
	}
	if (!strcmp(scenario, "hang"))
		do_hang();
	if (!strcmp(scenario, "coexist")) {
		if (argc > 2)
			coexist_n = strtol(argv[2], NULL, 10);
		for (long i = 0; i < coexist_n; i++)
			in_child(do_coexist_exec);
		in_child(do_coexist_mounts);
	}
	if (!strcmp(scenario, "secret-mounts")) {
		secret_value = getenv("WORKLOAD_SECRET") ? getenv("WORKLOAD_SECRET") : "";
		in_child(do_secret_mounts);
	}
	if (!strcmp(scenario, "unpaged")) {
		in_child(do_unpaged_exec);
		in_child(do_unpaged_exec_fail);
		in_child(do_unpaged_execveat);
		in_child(do_unpaged_mounts);
	}
	return 0;
}
