/* bench/callerid.c - what each source of a caller's identity costs the daemon.
 *
 *   callerid [ITERATIONS]
 *
 * The audit line names the process that opened a secret: its pid (the thread group,
 * while FUSE gives the thread) and its command name. This times, against a child
 * process that sleeps (as a reader's thread does while its open is served), each way
 * of finding them:
 *
 *   status      open, read, close /proc/<tid>/status; Name and Tgid parsed
 *   stat        open, read, close /proc/<tid>/stat; comm and start time (field 22)
 *   comm        open, read, close /proc/<tid>/comm
 *   fd-stat     pread of a /proc/<tid>/stat descriptor kept open
 *   fd-comm     pread of a /proc/<tid>/comm descriptor kept open (fs/caller.c)
 *   fs/caller   caller_ident(): the cache as the daemon uses it, hit every time
 *
 * Prints one "name=ns_per_call" line each, the best of 5 runs of ITERATIONS calls
 * (default 20 000). A kept descriptor names the task it was opened for: once that
 * task is gone, a read fails with ESRCH even if its number was reused, and after an
 * exec it reads the new name. So it is as correct as reading the file each time. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../base/clock.h"
#include "../fs/caller.h"

#define RUNS		5
#define BUF_BYTES	1024

static volatile unsigned long sink;

static void
read_whole(const char *path)
{
	char buf[BUF_BYTES + 1];
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		perror(path);
		exit(1);
	}
	n = read(fd, buf, BUF_BYTES);
	close(fd);
	if (n <= 0) {
		fprintf(stderr, "%s: empty read\n", path);
		exit(1);
	}
	buf[n] = '\0';
	sink += (unsigned long)n + (unsigned long)strchr(buf, '\n');
}

static void
pread_whole(int fd)
{
	char buf[BUF_BYTES];
	ssize_t n;

	if ((n = pread(fd, buf, sizeof buf, 0)) <= 0) {
		perror("pread");
		exit(1);
	}
	sink += (unsigned long)n + (unsigned char)buf[0];
}

int
main(int argc, char **argv)
{
	static const char *const names[] = { "status", "stat", "comm", "fd-stat", "fd-comm",
	    "fs/caller" };
	char status[64], stat[64], comm[64], name[64];
	unsigned long iters = argc > 1 ? strtoul(argv[1], NULL, 10) : 20000, i;
	double best[6], t0, t;
	int fdstat, fdcomm, k, r;
	pid_t child, tgid;

	if (iters == 0)
		iters = 20000;
	if ((child = fork()) == 0) {
		for (;;)
			pause();
	}
	if (child == -1) {
		perror("fork");
		return 1;
	}
	snprintf(status, sizeof status, "/proc/%ld/status", (long)child);
	snprintf(stat, sizeof stat, "/proc/%ld/stat", (long)child);
	snprintf(comm, sizeof comm, "/proc/%ld/comm", (long)child);
	fdstat = open(stat, O_RDONLY | O_CLOEXEC);
	fdcomm = open(comm, O_RDONLY | O_CLOEXEC);
	if (fdstat == -1 || fdcomm == -1) {
		perror("/proc");
		kill(child, SIGKILL);
		return 1;
	}
	for (k = 0; k < 6; k++)
		best[k] = 1e300;
	for (r = 0; r < RUNS; r++) {
		for (k = 0; k < 6; k++) {
			t0 = (double)cs_now_ns();
			for (i = 0; i < iters; i++) {
				switch (k) {
				case 0: read_whole(status); break;
				case 1: read_whole(stat); break;
				case 2: read_whole(comm); break;
				case 3: pread_whole(fdstat); break;
				case 4: pread_whole(fdcomm); break;
				default:
					caller_ident(child, &tgid, name, sizeof name);
					sink += (unsigned long)tgid;
				}
			}
			t = ((double)cs_now_ns() - t0) / (double)iters;
			if (t < best[k])
				best[k] = t;
		}
	}
	for (k = 0; k < 6; k++)
		printf("%s=%.0f\n", names[k], best[k]);
	close(fdstat);
	close(fdcomm);
	caller_forget_all();
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	return 0;
}
