/*
 * Helper of tests/it/reliability.rs: makes exec and mount-family calls whose
 * strings are hostile to terminals, CSV and JSON, and runs exec storms.
 *
 *   hostile exec DIR      execs /bin/true with hostile argv; execs a symlink
 *                         to /bin/true with a hostile name (a hostile comm);
 *                         a failing exec of a hostile path. Its own comm (the
 *                         children's pcomm) is hostile too. DIR: a private
 *                         scratch directory for the symlink.
 *   hostile mounts        mount, umount, fsopen and fsconfig calls with
 *                         hostile source, target, fstype, data, key and value,
 *                         in a private mount namespace (most of them fail,
 *                         which changes nothing: they are traced anyway).
 *   hostile storm N [UID] fork + execve /bin/true N times, one at a time
 *                         (N = 0: until killed), as UID if given (set before
 *                         the first fork, so that a record -u UID sees the
 *                         storm and nothing else). Every string the child
 *                         passes to execve is copied to its stack first, so
 *                         the tracer can read it at entry (no refetch
 *                         record). Each exec carries a different pseudo-random
 *                         48-character argument, so captures do not compress
 *                         to nothing. Prints the number of execs on stdout.
 *
 * Prints "PID <pid>" first (exec, mounts), so the test can pick the events out.
 * Build: cc -O2 -Wall -o hostile tests/hostile.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef FSCONFIG_SET_STRING
#define FSCONFIG_SET_STRING 1
#endif

/* The hostile strings; reliability.rs keeps the same list. */
static const char *const hostile_args[] = {
	"\x1b[31mred\x1b[0m",          /* CSI: colours */
	"\x1b]0;title\x07",            /* OSC: sets the terminal title */
	"\x1b[2J\x1b[H",               /* clears the screen */
	"cr\rhere",                     /* carriage return: overwrites the line */
	"nl\nhere",                     /* newline: a fake second row */
	"tab\there",                    /* tab */
	"bs\bhere",                     /* backspace */
	"del\x7fhere",                  /* DEL */
	"\xff\xfe",                     /* invalid UTF-8 */
	"\xc2\x9b" "31mC1",             /* U+009B, the 8-bit CSI */
	"=cmd|' /C calc'!A0",           /* spreadsheet formulas */
	"+1",
	"-2",
	"@SUM(1)",
	"\"quoted\", with comma",       /* CSV quoting */
	"{\"json\": [1, \"\\u0000\"]}", /* JSON-looking */
	"\xe2\x80\xae" "txt.exe",       /* U+202E RIGHT-TO-LEFT OVERRIDE */
};
#define NHOSTILE (sizeof(hostile_args) / sizeof(hostile_args[0]))

static char *const true_envp[] = {"PATH=/bin:/usr/bin", NULL};

static void wait_child(pid_t child)
{
	int status;
	if (child < 0) {
		perror("hostile: fork");
		exit(1);
	}
	waitpid(child, &status, 0);
}

static void do_exec(const char *dir)
{
	static char long_arg[4097];
	char *argv[NHOSTILE + 3];
	size_t n = 0;

	memset(long_arg, 'L', 4096);
	long_arg[4096] = 0;
	argv[n++] = "\x1b[31mtrue";
	for (size_t i = 0; i < NHOSTILE; i++)
		argv[n++] = (char *)hostile_args[i];
	argv[n++] = long_arg;
	argv[n] = NULL;

	/* The children's pcomm: 15 bytes at most. */
	prctl(PR_SET_NAME, "\x1b]0;pc\x07=1\xff", 0, 0, 0);

	pid_t child = fork();
	if (child == 0) {
		execve("/bin/true", argv, true_envp);
		_exit(127);
	}
	wait_child(child);

	/* Comms of their own: the new image's comm is its file name. */
	static const char *const names[] = {"\x1b[2J\xff\x7f=x", "=HYPERLINK(1)"};
	for (size_t i = 0; i < 2; i++) {
		char link[4096];
		snprintf(link, sizeof(link), "%s/%s", dir, names[i]);
		if (symlink("/bin/true", link) != 0) {
			perror("hostile: symlink");
			exit(1);
		}
		child = fork();
		if (child == 0) {
			char *link_argv[] = {link, "\x1b[1mbold", NULL};
			execve(link, link_argv, true_envp);
			_exit(127);
		}
		wait_child(child);
		unlink(link);
	}

	child = fork();
	if (child == 0) {
		char *fail_argv[] = {"\x1b[5mmissing", NULL};
		execve("/nonexistent/\x1b[31m\xff\n", fail_argv, true_envp);
		_exit(0);
	}
	wait_child(child);
}

static void do_mounts(void)
{
	if (unshare(CLONE_NEWNS) != 0 || mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
		perror("hostile: private mount namespace");
		exit(1);
	}
	prctl(PR_SET_NAME, "\x1b[31mmnt\r", 0, 0, 0);
	char dir[] = "/tmp/snoopcap-hostile-XXXXXX";
	if (!mkdtemp(dir)) {
		perror("hostile: mkdtemp");
		exit(1);
	}
	if (mount("@SUM(1)\x1b[31msrc\r\n\xff", dir, "tmpfs", 0, "size=64k") == 0)
		umount2(dir, MNT_DETACH);
	mount("none", dir, "+1\x1b]0;fs\x07", 0, NULL);
	mount("none", dir, "tmpfs", 0, "=cmd|' /C calc'!A0,\x1b[31m\xc2\x9b");
	umount2("/nonexistent/\x1b[2J\n+1", 0);
	syscall(SYS_fsopen, "\x1b[31m\xff@SUM(1)", 0);
	int fsfd = syscall(SYS_fsopen, "tmpfs", 0);
	if (fsfd >= 0) {
		syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, "\x1b[31mkey", "-2\r\xff", 0);
		close(fsfd);
	}
	rmdir(dir);
}

static uint64_t next_random(uint64_t *state)
{
	/* xorshift64 */
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

static void do_storm(long n, long uid)
{
	if (uid >= 0 && (setresgid(uid, uid, uid) != 0 || setresuid(uid, uid, uid) != 0)) {
		perror("hostile: setresuid");
		exit(1);
	}
	uint64_t state = 0x9e3779b97f4a7c15ULL;
	long done = 0;
	for (long i = 0; n == 0 || i < n; i++) {
		uint64_t r1 = next_random(&state), r2 = next_random(&state), r3 = next_random(&state);
		pid_t child = fork();
		if (child == 0) {
			char file[] = "/bin/true";
			char arg0[] = "true";
			char arg1[] = "--storm";
			char arg2[49];
			char env0[] = "PATH=/bin:/usr/bin";
			snprintf(arg2, sizeof(arg2), "%016llx%016llx%016llx", (unsigned long long)r1,
				 (unsigned long long)r2, (unsigned long long)r3);
			char *argv[] = {arg0, arg1, arg2, NULL};
			char *envp[] = {env0, NULL};
			execve(file, argv, envp);
			_exit(127);
		}
		wait_child(child);
		done++;
	}
	printf("%ld\n", done);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc >= 3 && !strcmp(argv[1], "exec")) {
		printf("PID %d\n", getpid());
		do_exec(argv[2]);
	} else if (argc >= 2 && !strcmp(argv[1], "mounts")) {
		printf("PID %d\n", getpid());
		do_mounts();
	} else if (argc >= 3 && !strcmp(argv[1], "storm")) {
		do_storm(atol(argv[2]), argc >= 4 ? atol(argv[3]) : -1);
	} else {
		fprintf(stderr, "usage: hostile exec DIR | mounts | storm N [UID]\n");
		return 2;
	}
	return 0;
}
