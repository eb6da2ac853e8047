/* fs/lo.c - the daemon's shared services declared in lo.h: the served snapshot
 * (acquire, publish), the page-cache purge queue, the audit wrapper, and who sent a
 * request (its process, its rights). The FUSE operations themselves are in ops.c; this
 * file sends no reply. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "caller.h"
#include "lo.h"


struct tree *
lo_acquire(struct lo_data *lo)
{
	struct tree *t;

	pthread_mutex_lock(&lo->lock);
	t = tree_ref(lo->snap);
	pthread_mutex_unlock(&lo->lock);
	return t;
}

struct tree *
lo_publish(struct lo_data *lo, struct tree *t)
{
	struct tree *old;

	pthread_mutex_lock(&lo->lock);
	old = lo->snap;
	lo->snap = t;
	pthread_mutex_unlock(&lo->lock);
	return old;
}

void
lo_purge_later(struct lo_data *lo, uint64_t ino)
{
	uint64_t one = 1;
	size_t i;

	pthread_mutex_lock(&lo->purge_lock);
	for (i = 0; i < lo->npurge && i < LO_PURGE_MAX && lo->purge[i] != ino; i++)
		;
	if (i == lo->npurge && i < LO_PURGE_MAX)
		lo->purge[lo->npurge++] = ino;
	else if (i == LO_PURGE_MAX)
		lo->npurge = LO_PURGE_MAX + 1;
	pthread_mutex_unlock(&lo->purge_lock);
	if (lo->purge_fd != -1 && write(lo->purge_fd, &one, sizeof one) != (ssize_t)sizeof one) {
		/* the counter is already non-zero: the watcher will wake */
	}
}

size_t
lo_purge_take(struct lo_data *lo, uint64_t out[LO_PURGE_MAX])
{
	size_t n;

	pthread_mutex_lock(&lo->purge_lock);
	n = lo->npurge;
	if (n <= LO_PURGE_MAX)
		memcpy(out, lo->purge, n * sizeof *out);
	lo->npurge = 0;
	pthread_mutex_unlock(&lo->purge_lock);
	return n;
}

int
lo_audit(struct lo_data *lo, const struct audit_event *ev, struct cs_err *e)
{
	if (lo->audit == NULL)
		return cs_err_set(e, EBADF, "the audit log is not open");
	/* audit_append bounds its own time (audit_timeout_ms) and is thread-safe. */
	return audit_append(lo->audit, ev, e);
}

/* The caller's process id and command name, from /proc/<tid>/status: fuse_req_ctx()
 * gives the calling thread, the log names the process. */
void
lo_caller(fuse_req_t req, struct lo_caller *c)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	c->uid = ctx->uid;
	c->gid = ctx->gid;
	(void)caller_ident(ctx->pid, &c->pid, c->comm, sizeof c->comm);
}

void
lo_event_caller(struct audit_event *ev, const struct lo_caller *c)
{
	ev->via = "fs";
	ev->pid = c->pid;
	ev->uid = c->uid;
	ev->gid = c->gid;
	ev->comm = c->comm[0] != '\0' ? c->comm : NULL;
}


void
lo_rights_of(fuse_req_t req, struct lo_rights *r)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	int n;

	r->uid = ctx->uid;
	r->gid = ctx->gid;
	n = fuse_req_getgroups(req, LO_GROUPS_MAX, r->groups);
	r->ngroups = n < 0 ? 0 : n > LO_GROUPS_MAX ? LO_GROUPS_MAX : n;
}

int
lo_rights_may(const struct lo_rights *r, const struct tree_node *n, int want)
{
	int i, member = r->gid == n->gid;

	for (i = 0; i < r->ngroups && !member; i++)
		member = r->groups[i] == n->gid;
	return tree_mode_allows(n, r->uid, member, want);
}
