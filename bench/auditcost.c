/* bench/auditcost.c - the audit line's own cost per open, without FUSE around it.
 *
 *   auditcost DIR [ITERATIONS]
 *
 * Appends the daemon's secret_read line (flush = async, as the daemon's default) to
 * DIR/audit.log ITERATIONS times (default 20 000), and the same with the caller's
 * identity found first (fs/caller.c, for this process), as each open does. Prints
 * "append_ns=... ident_append_ns=... lines=..." with the best of 5 runs per line, then
 * checks the chain (audit_verify) so a figure is never made of broken lines. DIR must
 * exist; audit.log and its lock file are removed first and after. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../fs/caller.h"
#include "../policy/audit.h"
#include "../policy/auditread.h"

#define RUNS	5

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int
main(int argc, char **argv)
{
	const char *keys[1] = { "api_key" };
	struct audit_verify_result r;
	struct audit_event ev;
	struct cs_err e = { 0 };
	struct audit *a;
	char path[4096], *lock, comm[64];
	unsigned long iters, i;
	double best[2] = { 1e300, 1e300 }, t0, t;
	int run, k;

	if (argc < 2) {
		fprintf(stderr, "usage: auditcost DIR [ITERATIONS]\n");
		return 2;
	}
	iters = argc > 2 ? strtoul(argv[2], NULL, 10) : 20000;
	snprintf(path, sizeof path, "%s/audit.log", argv[1]);
	if ((lock = audit_lock_path(path)) == NULL)
		return 1;
	unlink(path);
	unlink(lock);
	if (audit_open(path, AUDIT_FLUSH_ASYNC, 0, &a, &e) == -1) {
		fprintf(stderr, "auditcost: %s\n", e.msg);
		return 1;
	}
	memset(&ev, 0, sizeof ev);
	ev.event = "secret_read";
	ev.provider = "runpod";
	ev.keys = keys;
	ev.nkeys = 1;
	ev.via = "fs";
	ev.uid = getuid();
	ev.gid = getgid();
	for (run = 0; run < RUNS; run++) {
		for (k = 0; k < 2; k++) {
			t0 = now_ns();
			for (i = 0; i < iters; i++) {
				if (k == 1)
					(void)caller_ident(getpid(), &ev.pid, comm, sizeof comm);
				else
					ev.pid = getpid();
				ev.comm = k == 1 ? comm : "cat";
				if (audit_append(a, &ev, &e) == -1) {
					fprintf(stderr, "auditcost: %s\n", e.msg);
					return 1;
				}
			}
			t = (now_ns() - t0) / (double)iters;
			if (t < best[k])
				best[k] = t;
		}
	}
	audit_close(a);
	caller_forget_all();
	if (audit_verify(path, 0, NULL, &r, &e) == -1) {
		fprintf(stderr, "auditcost: the chain does not verify: %s\n", e.msg);
		return 1;
	}
	printf("append_ns=%.0f ident_append_ns=%.0f lines=%llu\n", best[0], best[1],
	    (unsigned long long)r.lines);
	unlink(path);
	unlink(lock);
	free(lock);
	return 0;
}
