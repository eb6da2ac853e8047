/* bench/auditcost.c - the audit line's own cost per open, without FUSE around it.
 *
 *   auditcost DIR [ITERATIONS]
 *
 * Appends the daemon's secret_read line (flush = async, as the daemon's default) to
 * DIR/audit.log ITERATIONS times (default 20 000), and the same with the caller's
 * identity found first (fs/caller.c, for this process), as each open does. The pid is
 * found once: the daemon has it from the FUSE request. Prints "append_ns=...
 * ident_append_ns=... lines=..." with the best of 5 runs per line, then
 * checks the chain (audit_verify) so a figure is never made of broken lines. DIR must
 * exist; audit.log and its lock file are removed first and after. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "../base/clock.h"
#include "../fs/caller.h"
#include "../policy/audit.h"
#include "../policy/auditread.h"

#define RUNS	5

/* Appends iters lines with a (the identity found first when ident); ns per line. */
static double
measure(struct audit *a, struct audit_event *ev, unsigned long iters, int ident, pid_t pid)
{
	struct cs_err e = { 0 };
	char comm[64];
	unsigned long i;
	double t0;

	t0 = (double)cs_now_ns();
	for (i = 0; i < iters; i++) {
		if (ident)
			(void)caller_ident(pid, &ev->pid, comm, sizeof comm);
		ev->comm = ident ? comm : "cat";
		if (audit_append(a, ev, &e) == -1) {
			fprintf(stderr, "auditcost: %s\n", e.msg);
			exit(1);
		}
	}
	return ((double)cs_now_ns() - t0) / (double)iters;
}

int
main(int argc, char **argv)
{
	static const char *const names[2] = { "append_ns", "ident_append_ns" };
	const char *keys[1] = { "api_key" };
	struct audit_verify_result r;
	struct audit_event ev;
	struct cs_err e = { 0 };
	struct audit *a;
	char path[4096], *lock;
	unsigned long iters;
	double best[2] = { 1e300, 1e300 }, t;
	pid_t pid = getpid();
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
	memset(&ev, 0, sizeof ev);
	ev.event = "secret_read";
	ev.provider = "runpod";
	ev.keys = keys;
	ev.nkeys = 1;
	ev.via = "fs";
	ev.pid = pid;		/* the daemon has it from the FUSE request */
	ev.uid = getuid();
	ev.gid = getgid();
	if (audit_open(path, AUDIT_FLUSH_ASYNC, 0, &a, &e) == -1) {
		fprintf(stderr, "auditcost: %s\n", e.msg);
		return 1;
	}
	for (run = 0; run < RUNS; run++) {
		for (k = 0; k < 2; k++) {
			t = measure(a, &ev, iters, k == 1, pid);
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
	for (k = 0; k < 2; k++)
		printf("%s=%.0f ", names[k], best[k]);
	printf("lines=%llu\n", (unsigned long long)r.lines);
	unlink(path);
	unlink(lock);
	free(lock);
	return 0;
}
