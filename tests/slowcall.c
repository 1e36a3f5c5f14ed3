/*
 * slowcall: one traced syscall that stays inside the kernel for a given
 * time, so that a test can make a call span a file rotation (its entry in
 * one file of a rotated set, its exit in a later one).
 *
 *   slowcall MILLISECONDS
 *
 * umount2(path, 0) with `path` on a page registered with userfaultfd and
 * not yet present: the kernel's copy of the path faults, and the fault
 * waits for this program's handler thread, which serves the page (holding
 * a path that is not a mount point) after MILLISECONDS. The call then fails
 * (EINVAL or ENOENT). Prints "PID <pid> TID <tid> RET <ret> ERRNO <errno>".
 * Needs root (userfaultfd handling kernel faults).
 *
 * Build: cc -O2 -Wall -pthread -o slowcall tests/slowcall.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int uffd;
static long page_size;
static long delay_ms;

static void *serve(void *arg)
{
	(void)arg;
	struct pollfd p = {.fd = uffd, .events = POLLIN};
	if (poll(&p, 1, 60000) != 1) {
		fprintf(stderr, "slowcall: no fault came\n");
		exit(1);
	}
	struct uffd_msg msg;
	if (read(uffd, &msg, sizeof(msg)) != sizeof(msg) || msg.event != UFFD_EVENT_PAGEFAULT) {
		perror("slowcall: read uffd");
		exit(1);
	}
	struct timespec t = {.tv_sec = delay_ms / 1000, .tv_nsec = (delay_ms % 1000) * 1000000L};
	nanosleep(&t, NULL);
	char *src = aligned_alloc(page_size, page_size);
	memset(src, 0, page_size);
	strcpy(src, "/snoopcap-slowcall-not-a-mount-point");
	struct uffdio_copy copy = {
		.dst = msg.arg.pagefault.address & ~(page_size - 1),
		.src = (unsigned long)src,
		.len = page_size,
	};
	if (ioctl(uffd, UFFDIO_COPY, &copy) != 0) {
		perror("slowcall: UFFDIO_COPY");
		exit(1);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	delay_ms = argc > 1 ? atol(argv[1]) : 1000;
	page_size = sysconf(_SC_PAGESIZE);
	uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0) {
		perror("slowcall: userfaultfd");
		return 1;
	}
	struct uffdio_api api = {.api = UFFD_API};
	if (ioctl(uffd, UFFDIO_API, &api) != 0) {
		perror("slowcall: UFFDIO_API");
		return 1;
	}
	char *page = mmap(NULL, page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED) {
		perror("slowcall: mmap");
		return 1;
	}
	struct uffdio_register reg = {
		.range = {.start = (unsigned long)page, .len = page_size},
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	if (ioctl(uffd, UFFDIO_REGISTER, &reg) != 0) {
		perror("slowcall: UFFDIO_REGISTER");
		return 1;
	}
	pthread_t thread;
	if (pthread_create(&thread, NULL, serve, NULL) != 0) {
		fprintf(stderr, "slowcall: pthread_create failed\n");
		return 1;
	}
	long ret = syscall(SYS_umount2, page, 0);
	int err = ret < 0 ? errno : 0;
	pthread_join(thread, NULL);
	printf("PID %d TID %ld RET %ld ERRNO %d\n", getpid(), (long)syscall(SYS_gettid), ret, err);
	return 0;
}
