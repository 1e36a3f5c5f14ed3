/*
 * A 32-bit program for snoopcap's lineage tests: its execve goes through the
 * compat syscall table, which the syscall tracepoints skip.
 *
 *   exec32 run PATH ARGS...   execv(PATH, [PATH, ARGS...]) from 32-bit code
 *   exec32                    exits 0
 *
 * Build: cc -m32 -static -O2 -o exec32 tests/exec32.c (gcc-multilib)
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "run") == 0) {
		execv(argv[2], argv + 2);
		perror("exec32: execv");
		return 127;
	}
	return 0;
}
