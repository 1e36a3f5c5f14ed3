/*
 * Workload for snoopcap's end-to-end tests and fixtures: makes exactly the
 * exec and mount-family calls a scenario names, and prints one line per call
 * so the test can check every captured field against what was done:
 *
 *   CALL <name> pid=<tgid> tid=<tid> ret=<return value> errno=<errno or 0> [key=value ...]
 *
 * Scenarios (argv[1]): exec, exec-fail, execveat, thread-exec, mounts, all.
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
	return 0;
}
