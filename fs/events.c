/* fs/events.c - .events, the change feed; see events.h.
 *
 * The lines live in one queue (evqueue.h) under ev->lock: a ring shared by every
 * reader, a cursor per reader. This file is its FUSE side: opening, blocking reads,
 * polls, interrupts, the end of the session, and making the lines of a reload.
 *
 * A read that finds nothing blocks by keeping its request (a waiter) and returning
 * LO_DEFERRED: the request is answered later, exactly once, by whichever comes first -
 * a line (events_publish), an interrupt (the kernel's INTERRUPT for a reader that took
 * a signal, through fuse_req_interrupt_func), or the end of the session
 * (events_shutdown). Each of them removes the waiter under ev->lock before it replies,
 * so none can answer it twice. The interrupt callback is given ev, never the reader: it
 * may run while the reader is being released, so it looks the request up among the
 * waiters. Lock order: libfuse's request lock, then ev->lock, then libfuse's session
 * lock (taken inside fuse_reply_*); fuse_req_interrupt_func is never called with
 * ev->lock held, as it may call the callback, which takes ev->lock. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "../policy/vaultdiff.h"
#include "events.h"
#include "evqueue.h"
#include "log.h"
#include "quota.h"

struct waiter {
	fuse_req_t	 req;
	size_t		 size;
};

struct events_reader {
	struct evq_cursor	 cur;		/* first: a cursor is its reader; ev->lock */
	struct events		*ev;
	struct lo_rights	 rights;	/* the opener's, fixed at open */
	struct quota		*quota;		/* charged one QUOTA_EVENTS to rights.uid */
	struct waiter		 wait[EVENTS_WAITERS_MAX];	/* protected by ev->lock */
	size_t			 nwait;		/* protected by ev->lock */
	struct fuse_pollhandle	*ph;		/* protected by ev->lock: a poll to wake */
};

struct events {
	pthread_mutex_t		 lock;
	struct evq		 q;		/* protected by lock */
	int			 closed;	/* protected by lock: the session ended */
	char			*mountpoint;	/* watched by the thread (events_watch) */
	int			 stop_fd;	/* eventfd that stops it; -1: none */
	pthread_t		 thread;
	int			 running;
};

/* A line made by events_publish, before it is queued. */
struct line {
	char		*text;		/* with its newline */
	size_t		 len;
	struct evq_gate	 gate;
	int64_t		 when;		/* the change's time (ns), to order the lines */
	size_t		 order;		/* the order they were made in (name order) */
};

struct draft {
	struct line	*v;
	size_t		 n, cap;
	int		 failed;	/* out of memory: queue an overflow instead */
};

/* What the diff callback needs to write a change's line. */
struct making {
	struct draft		*d;
	const struct tree	*old, *t;
	uint64_t		 generation;
	char			 when[40];	/* "time" of the reload */
	int64_t			 now_ns;	/* the same, in ns */
};

struct events *
events_new(void)
{
	struct events *ev;

	if ((ev = calloc(1, sizeof *ev)) == NULL)
		return NULL;
	pthread_mutex_init(&ev->lock, NULL);
	ev->stop_fd = -1;
	return ev;
}

void
events_free(struct events *ev)
{
	uint64_t one = 1;

	if (ev == NULL)
		return;
	if (ev->running) {
		if (write(ev->stop_fd, &one, sizeof one) != (ssize_t)sizeof one) {
			/* the counter is already non-zero: the thread wakes */
		}
		pthread_join(ev->thread, NULL);
	}
	if (ev->stop_fd != -1)
		close(ev->stop_fd);
	free(ev->mountpoint);
	evq_clear(&ev->q);
	pthread_mutex_destroy(&ev->lock);
	free(ev);
}

/* RFC 3339 UTC with milliseconds, as the audit log writes it. */
static void
rfc3339(struct timespec ts, char out[40])
{
	struct tm tm;
	size_t n;

	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 40 - n, ".%03ldZ", ts.tv_nsec / 1000000L);
}

/* 1 when a read of r would not block. Called with ev->lock held. */
static int
ready(struct events_reader *r)
{
	return r->ev->closed || evq_ready(&r->ev->q, &r->cur);
}

/* What r is owed, into buf; nothing once the session ended (EOF). Called with
 * ev->lock held. */
static size_t
fill(struct events_reader *r, char *buf, size_t size)
{
	return r->ev->closed ? 0 : evq_fill(&r->ev->q, &r->cur, buf, size);
}

/* Answers r's blocked reads while it has lines, and wakes its poll. Called with
 * ev->lock held. */
static void
wake(struct events_reader *r)
{
	struct waiter w;
	char *buf;
	size_t n;

	while (r->nwait > 0 && ready(r)) {
		w = r->wait[0];
		memmove(r->wait, r->wait + 1, --r->nwait * sizeof *r->wait);
		if ((buf = malloc(w.size)) == NULL) {
			fuse_reply_err(w.req, ENOMEM);
			continue;
		}
		n = fill(r, buf, w.size);	/* 0 after a shutdown: EOF */
		fuse_reply_buf(w.req, buf, n);
		free(buf);
	}
	if (r->ph != NULL && ready(r)) {
		fuse_lowlevel_notify_poll(r->ph);
		fuse_pollhandle_destroy(r->ph);
		r->ph = NULL;
	}
}

/* Adds a line to d; on failure d is marked and the rest is skipped. */
static void
draft_add(struct draft *d, const struct evq_gate *g, int64_t when, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
draft_add(struct draft *d, const struct evq_gate *g, int64_t when, const char *fmt, ...)
{
	struct line *grown;
	va_list ap;
	int n;

	if (d->failed)
		return;
	if (d->n == d->cap) {
		d->cap = d->cap == 0 ? 16 : d->cap * 2;
		if ((grown = realloc(d->v, d->cap * sizeof *grown)) == NULL) {
			d->failed = 1;
			return;
		}
		d->v = grown;
	}
	va_start(ap, fmt);
	n = vasprintf(&d->v[d->n].text, fmt, ap);
	va_end(ap);
	if (n < 0) {
		d->failed = 1;
		return;
	}
	d->v[d->n].len = (size_t)n;
	d->v[d->n].gate = *g;
	d->v[d->n].when = when;
	d->v[d->n].order = d->n;
	d->n++;
}

/* The gate of provider p's lines: its folder in t, else in old (a removed provider). */
static void
gate_of(const struct making *m, const char *p, struct evq_gate *g)
{
	const struct tree *t = m->t;
	const struct tree_node *root, *dir;

	memset(g, 0, sizeof *g);
	if ((dir = tree_lookup(t, TREE_INO_ROOT, p)) == NULL) {
		t = m->old;
		dir = tree_lookup(t, TREE_INO_ROOT, p);
	}
	root = tree_get(t, TREE_INO_ROOT);
	if (root == NULL || dir == NULL) {
		g->mode[0] = g->mode[1] = 0;	/* nobody but root */
		return;
	}
	g->uid[0] = root->uid;
	g->gid[0] = root->gid;
	g->mode[0] = root->mode;
	g->uid[1] = dir->uid;
	g->gid[1] = dir->gid;
	g->mode[1] = dir->mode;
}

static int
made(void *arg, const struct vaultdiff_change *c)
{
	static const char *const names[] = { "secret_added", "secret_changed",
	    "secret_removed" };
	struct making *m = arg;
	struct evq_gate g;
	char version[48] = "", when[40];
	uint64_t ver = vault_field_version(c->v, c->pi, c->fi);
	int64_t ns = c->kind == VAULTDIFF_REMOVED ? 0 : vault_field_mtime(c->v, c->pi, c->fi);

	gate_of(m, c->provider, &g);
	if (ver > 0)
		snprintf(version, sizeof version, "\"version\":%" PRIu64 ",", ver);
	/* A removal's time is the reload's: the vault keeps no record of it. */
	if (ns > 0)
		rfc3339((struct timespec){ ns / 1000000000, ns % 1000000000 }, when);
	else
		memcpy(when, m->when, sizeof when);
	draft_add(m->d, &g, ns > 0 ? ns : m->now_ns, "{\"event\":\"%s\",\"provider\":\"%s\","
	    "\"field\":\"%s\",%s\"generation\":%" PRIu64 ",\"time\":\"%s\"}\n",
	    names[c->kind], c->provider, c->field, version, m->generation, when);
	return m->d->failed ? ENOMEM : 0;
}

/* Lines by time of change, then in the order they were made (name order). */
static int
line_cmp(const void *a, const void *b)
{
	const struct line *x = a, *y = b;

	if (x->when != y->when)
		return x->when < y->when ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

void
events_publish(struct events *ev, const struct tree *old, const struct tree *t)
{
	const struct vault *ov, *nv;
	struct draft d = { 0 };
	struct making m = { &d, old, t, 0, "", 0 };
	struct evq_gate any = { .any = 1 };
	struct evq_cursor *c;
	struct cs_err e = { 0 };
	size_t i;

	if (ev == NULL || old == NULL || (nv = tree_vault(t)) == NULL)
		return;
	ov = tree_vault(old);
	m.generation = tree_generation(t);
	rfc3339(tree_time(t), m.when);
	m.now_ns = (int64_t)tree_time(t).tv_sec * 1000000000 + tree_time(t).tv_nsec;
	/* Names are vault names ([a-z0-9._-], vault.h) and a fingerprint is hex: nothing
	 * in a line needs escaping. */
	if (ov != NULL && strcmp(vault_fingerprint(ov), vault_fingerprint(nv)) != 0)
		draft_add(&d, &any, INT64_MIN, "{\"event\":\"key_rotated\",\"fingerprint\":\"%s\","
		    "\"generation\":%" PRIu64 ",\"time\":\"%s\"}\n", vault_fingerprint(nv),
		    m.generation, m.when);
	if (!d.failed && vaultdiff(ov, nv, NULL, made, &m, &e) == -1) {
		fslog(".events: the changes of generation %" PRIu64 " are not known (%s): "
		    "every reader is told to re-list", m.generation, e.msg);
		d.failed = 1;
	} else if (d.failed) {
		fslog(".events: out of memory for the changes of generation %" PRIu64 ": every "
		    "reader is told to re-list", m.generation);
	}
	if (!d.failed && d.n > 1)
		qsort(d.v, d.n, sizeof *d.v, line_cmp);
	pthread_mutex_lock(&ev->lock);
	ev->q.generation = m.generation;
	for (i = 0; i < d.n && !d.failed; i++) {
		evq_push(&ev->q, d.v[i].text, d.v[i].len, &d.v[i].gate);
		d.v[i].text = NULL;
	}
	for (c = ev->q.cursors; c != NULL; c = c->next) {
		if (d.failed)
			evq_overflow(&ev->q, c);
		wake((struct events_reader *)c);
	}
	pthread_mutex_unlock(&ev->lock);
	for (i = 0; i < d.n; i++)
		free(d.v[i].text);	/* NULL once queued */
	free(d.v);
}

void
events_shutdown(struct events *ev)
{
	struct evq_cursor *c;

	if (ev == NULL)
		return;
	pthread_mutex_lock(&ev->lock);
	ev->closed = 1;
	for (c = ev->q.cursors; c != NULL; c = c->next)
		wake((struct events_reader *)c);
	pthread_mutex_unlock(&ev->lock);
}

/* Whether a mount of device maj:min is in mountinfo (rewound and read again). */
static int
still_mounted(FILE *fp, unsigned maj, unsigned min)
{
	char line[4096];
	unsigned a, b;
	int found = 0, whole = 1;

	rewind(fp);
	clearerr(fp);
	/* ID PARENT MAJ:MIN ...; a line longer than the buffer is read in pieces, and
	 * only a piece that starts a line is looked at */
	while (!found && fgets(line, sizeof line, fp) != NULL) {
		if (whole && sscanf(line, "%*u %*u %u:%u", &a, &b) == 2 && a == maj && b == min)
			found = 1;
		whole = strchr(line, '\n') != NULL;
	}
	return found || ferror(fp);	/* unreadable: assume it is */
}

/* Whether field, a mount point as mountinfo writes it (space, tab, newline and backslash
 * as \ooo, proc(5)), names path. */
static int
same_mount_point(const char *field, const char *path)
{
	for (; *field != '\0'; field++, path++) {
		if (field[0] == '\\' && field[1] >= '0' && field[1] <= '3' &&
		    field[2] >= '0' && field[2] <= '7' && field[3] >= '0' && field[3] <= '7') {
			if (*path != (char)((field[1] - '0') * 64 + (field[2] - '0') * 8 +
			    (field[3] - '0')))
				return 0;
			field += 3;
		} else if (*field != *path) {
			return 0;
		}
	}
	return *path == '\0';
}

/* The device of the newest mount at mountpoint in mountinfo (its last line there), read
 * from the table rather than by a stat of the mount: a stat would be a request to this
 * very daemon, made from inside it. -1 when there is none. */
static int
mount_device(FILE *fp, const char *mountpoint, unsigned *maj, unsigned *min)
{
	char *line = NULL, *mp;
	size_t cap = 0;
	unsigned a, b;
	int n, found = -1;

	rewind(fp);
	clearerr(fp);
	while (getline(&line, &cap, fp) != -1) {
		/* ID PARENT MAJ:MIN ROOT MOUNT-POINT ... */
		mp = NULL;
		if (sscanf(line, "%*u %*u %u:%u %*s %n", &a, &b, &n) == 2) {
			mp = line + n;
			mp[strcspn(mp, " \n")] = '\0';
		}
		if (mp != NULL && same_mount_point(mp, mountpoint)) {
			*maj = a;
			*min = b;
			found = 0;
		}
	}
	free(line);
	return found;
}

/* The watcher of the mount: learns the mount's device from the mount table, then waits
 * for the table to change (mountinfo polls POLLPRI) and ends the feed when no mount of
 * that device is left in the daemon's namespace: a lazy unmount (umount -l,
 * fusermount3 -uz) with readers blocked would otherwise keep them, and so the daemon,
 * waiting for a change. */
static void *
watch_mount(void *arg)
{
	struct events *ev = arg;
	struct pollfd pfd[2];
	unsigned maj, min;
	FILE *fp;

	if ((fp = fopen("/proc/self/mountinfo", "re")) == NULL)
		return NULL;
	if (mount_device(fp, ev->mountpoint, &maj, &min) == -1) {
		fclose(fp);
		return NULL;		/* gone already: the session ends */
	}
	pfd[0] = (struct pollfd){ .fd = fileno(fp), .events = POLLPRI };
	pfd[1] = (struct pollfd){ .fd = ev->stop_fd, .events = POLLIN };
	while (still_mounted(fp, maj, min)) {
		if (poll(pfd, 2, -1) == -1 && errno != EINTR)
			break;
		if (pfd[1].revents & POLLIN)
			goto out;
	}
	fslog(".events: %s is no longer mounted here: its readers get end of file",
	    ev->mountpoint);
	events_shutdown(ev);
out:
	fclose(fp);
	return NULL;
}

int
events_watch(struct events *ev, const char *mountpoint, struct cs_err *e)
{
	if ((ev->mountpoint = strdup(mountpoint)) == NULL)
		return cs_err_sys(e, ENOMEM, ".events");
	if ((ev->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1)
		return cs_err_sys(e, errno, ".events: eventfd");
	if ((errno = pthread_create(&ev->thread, NULL, watch_mount, ev)) != 0)
		return cs_err_sys(e, errno, ".events: thread");
	ev->running = 1;
	return 0;
}

int
events_open(fuse_req_t req, const struct tree_node *n, struct fuse_file_info *fi,
    void **priv)
{
	struct lo_data *lo = fuse_req_userdata(req);
	struct events *ev = lo->events;
	struct events_reader *r;
	int err;

	if (S_ISDIR(n->mode))
		return EISDIR;
	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC))
		return EROFS;
	if (ev == NULL)
		return ENOENT;
	if ((r = calloc(1, sizeof *r)) == NULL)
		return ENOMEM;
	lo_rights_of(req, &r->rights);
	if ((err = quota_take(lo->quota, r->rights.uid, QUOTA_EVENTS, 1, "open of .events",
	    fuse_req_ctx(req)->pid)) != 0) {
		free(r);
		return err;
	}
	r->ev = ev;
	r->quota = lo->quota;
	pthread_mutex_lock(&ev->lock);
	evq_attach(&ev->q, &r->cur, &r->rights);	/* the changes from now on */
	pthread_mutex_unlock(&ev->lock);
	/* Every read reaches us (no page cache), and there is no offset to seek to. A
	 * close sends no FLUSH (FOPEN_NOFLUSH): a reader given EOF because the daemon is
	 * stopping closes after the daemon has closed /dev/fuse, and its FLUSH would fail
	 * the close with ENOTCONN or ECONNABORTED (cat exits 1). There is nothing to flush. */
	fi->direct_io = 1;
	fi->keep_cache = 0;
	fi->nonseekable = 1;
	fi->noflush = 1;
	*priv = r;
	return 0;
}

/* The kernel's INTERRUPT for req: if it is a blocked read, it ends with EINTR. */
static void
interrupted(fuse_req_t req, void *data)
{
	struct events *ev = data;
	struct evq_cursor *c;
	struct events_reader *r;
	size_t i;

	pthread_mutex_lock(&ev->lock);
	for (c = ev->q.cursors; c != NULL; c = c->next)
		for (r = (struct events_reader *)c, i = 0; i < r->nwait; i++)
			if (r->wait[i].req == req) {
				memmove(r->wait + i, r->wait + i + 1,
				    (--r->nwait - i) * sizeof *r->wait);
				fuse_reply_err(req, EINTR);
				goto out;
			}
out:
	pthread_mutex_unlock(&ev->lock);
}

int
events_read(fuse_req_t req, void *priv, size_t size, off_t off, int flags, char **buf,
    size_t *len)
{
	struct events_reader *r = priv;
	struct events *ev = r->ev;
	char *b;
	int err = 0;

	(void)off;	/* not seekable: the lines owed, whatever the offset */
	*buf = NULL;
	*len = 0;
	if (size > EVENTS_READ_MAX)
		size = EVENTS_READ_MAX;
	if (!(flags & O_NONBLOCK))
		fuse_req_interrupt_func(req, interrupted, ev);
	if ((b = malloc(size > 0 ? size : 1)) == NULL)
		return ENOMEM;
	pthread_mutex_lock(&ev->lock);
	if ((*len = fill(r, b, size)) > 0 || ev->closed || size == 0)
		*buf = b;
	else if (flags & O_NONBLOCK)
		err = EAGAIN;
	else if (fuse_req_interrupted(req))
		err = EINTR;
	else if (r->nwait == EVENTS_WAITERS_MAX)
		err = EBUSY;
	else {
		r->wait[r->nwait].req = req;
		r->wait[r->nwait].size = size;
		r->nwait++;
		err = LO_DEFERRED;
	}
	pthread_mutex_unlock(&ev->lock);
	if (*buf != b)
		free(b);
	return err;
}

int
events_poll(fuse_req_t req, void *priv, struct fuse_pollhandle *ph, unsigned *revents)
{
	struct events_reader *r = priv;
	struct events *ev = r->ev;

	(void)req;
	pthread_mutex_lock(&ev->lock);
	if (ready(r)) {
		*revents = POLLIN | POLLRDNORM;
		fuse_pollhandle_destroy(ph);
	} else {
		*revents = 0;
		fuse_pollhandle_destroy(r->ph);		/* the kernel polls again: the newest */
		r->ph = ph;
	}
	pthread_mutex_unlock(&ev->lock);
	return 0;
}

void
events_release(void *priv)
{
	struct events_reader *r = priv;
	struct events *ev = r->ev;
	size_t i;

	pthread_mutex_lock(&ev->lock);
	evq_detach(&ev->q, &r->cur);
	/* No read is blocked on a handle the kernel releases; the session's end frees
	 * handles itself, after events_shutdown answered them. Answer any, to be sure. */
	for (i = 0; i < r->nwait; i++)
		fuse_reply_buf(r->wait[i].req, NULL, 0);
	pthread_mutex_unlock(&ev->lock);
	fuse_pollhandle_destroy(r->ph);
	quota_give(r->quota, r->rights.uid, QUOTA_EVENTS, 1);
	free(r);
}
