/* fs/events.c - .events, the change feed; see events.h.
 *
 * One ring of the last EVENTS_QUEUE_MAX lines, under ev->lock, numbered by a sequence
 * that never goes back: line s sits in ring[s % EVENTS_QUEUE_MAX] while tail <= s < head.
 * A reader is a cursor (the next sequence it is owed) and the rights it opened with.
 * When the ring is full, the oldest line goes, and each reader whose cursor was on it
 * either skips it (a line it may not see) or is marked overflowed: its next read gives
 * the overflow line and moves its cursor to the head.
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
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../policy/vaultdiff.h"
#include "events.h"
#include "log.h"
#include "quota.h"

/* Who may see a line: the root's and the provider folder's owner, group and mode when
 * the line was queued. */
struct gate {
	int	 any;			/* 1: every reader (key_rotated, overflow) */
	uid_t	 uid[2];		/* [0] the root, [1] the provider's folder */
	gid_t	 gid[2];
	mode_t	 mode[2];
};

struct line {
	char		*text;		/* with its newline; NULL: none */
	size_t		 len;
	struct gate	 gate;
};

struct waiter {
	fuse_req_t	 req;
	size_t		 size;
};

struct events_reader {
	struct events		*ev;
	struct lo_rights	 rights;	/* the opener's, fixed at open */
	struct quota		*quota;		/* charged one QUOTA_EVENTS to rights.uid */
	uint64_t		 cursor;	/* protected by ev->lock: next line owed */
	size_t			 off;		/* protected by ev->lock: bytes of it read */
	int			 overflowed;	/* protected by ev->lock */
	char			 over[128];	/* protected by ev->lock: the overflow line */
	size_t			 olen, ooff;	/* protected by ev->lock: its length, read */
	struct waiter		 wait[EVENTS_WAITERS_MAX];	/* protected by ev->lock */
	size_t			 nwait;		/* protected by ev->lock */
	struct fuse_pollhandle	*ph;		/* protected by ev->lock: a poll to wake */
	struct events_reader	*prev, *next;	/* protected by ev->lock */
};

struct events {
	pthread_mutex_t		 lock;
	struct line		 ring[EVENTS_QUEUE_MAX];	/* protected by lock */
	uint64_t		 tail, head;	/* protected by lock: lines [tail, head) */
	uint64_t		 generation;	/* protected by lock: of the last publish */
	struct events_reader	*readers;	/* protected by lock */
	int			 closed;	/* protected by lock: the session ended */
};

/* A line being made by events_publish, before it is queued. */
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
};

struct events *
events_new(void)
{
	struct events *ev;

	if ((ev = calloc(1, sizeof *ev)) == NULL)
		return NULL;
	pthread_mutex_init(&ev->lock, NULL);
	return ev;
}

void
events_free(struct events *ev)
{
	uint64_t s;

	if (ev == NULL)
		return;
	for (s = ev->tail; s < ev->head; s++)
		free(ev->ring[s % EVENTS_QUEUE_MAX].text);
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

static int
visible(const struct events_reader *r, const struct gate *g)
{
	struct tree_node n;
	int i;

	if (g->any)
		return 1;
	memset(&n, 0, sizeof n);
	for (i = 0; i < 2; i++) {
		n.uid = g->uid[i];
		n.gid = g->gid[i];
		n.mode = g->mode[i];
		if (!lo_rights_may(&r->rights, &n, i == 0 ? X_OK : R_OK | X_OK))
			return 0;
	}
	return 1;
}

/* Moves r's cursor over the lines it may not see; 1 when a read would find something.
 * Called with ev->lock held. */
static int
ready(struct events_reader *r)
{
	struct events *ev = r->ev;

	if (r->overflowed || ev->closed)
		return 1;
	while (r->cursor < ev->head &&
	    !visible(r, &ev->ring[r->cursor % EVENTS_QUEUE_MAX].gate))
		r->cursor++;
	return r->cursor < ev->head;
}

/* Copies what r is owed, whole lines first, into buf (size bytes); the count. Called
 * with ev->lock held. */
static size_t
fill(struct events_reader *r, char *buf, size_t size)
{
	struct events *ev = r->ev;
	const char *text;
	size_t pos = 0, n, len, *off;

	while (pos < size && ready(r) && !ev->closed) {
		if (r->overflowed) {
			if (r->olen == 0) {
				char when[40];
				struct timespec ts;

				clock_gettime(CLOCK_REALTIME, &ts);
				rfc3339(ts, when);
				r->olen = (size_t)snprintf(r->over, sizeof r->over,
				    "{\"event\":\"overflow\",\"generation\":%" PRIu64 ","
				    "\"time\":\"%s\"}\n", ev->generation, when);
				r->ooff = 0;
			}
			text = r->over;
			len = r->olen;
			off = &r->ooff;
		} else {
			text = ev->ring[r->cursor % EVENTS_QUEUE_MAX].text;
			len = ev->ring[r->cursor % EVENTS_QUEUE_MAX].len;
			off = &r->off;
		}
		n = len - *off;
		if (pos > 0 && n > size - pos)
			break;		/* whole lines, unless one alone is too long */
		if (n > size - pos)
			n = size - pos;
		memcpy(buf + pos, text + *off, n);
		pos += n;
		if ((*off += n) < len)
			break;
		if (r->overflowed) {
			r->overflowed = 0;
			r->olen = 0;
			r->cursor = ev->head;
		} else {
			r->cursor++;
		}
		r->off = 0;
	}
	return pos;
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

/* Queues one line, dropping the oldest when the ring is full. Called with ev->lock
 * held; takes l's text. */
static void
push(struct events *ev, struct line *l)
{
	struct line *old;
	struct events_reader *r;

	if (ev->head - ev->tail == EVENTS_QUEUE_MAX) {
		old = &ev->ring[ev->tail % EVENTS_QUEUE_MAX];
		for (r = ev->readers; r != NULL; r = r->next) {
			if (r->overflowed || r->cursor != ev->tail)
				continue;
			if (visible(r, &old->gate)) {
				r->overflowed = 1;
				r->off = 0;
			} else {
				r->cursor++;
			}
		}
		free(old->text);
		ev->tail++;
	}
	ev->ring[ev->head % EVENTS_QUEUE_MAX] = *l;
	ev->head++;
	l->text = NULL;
}

/* Adds a line to d; on failure d is marked and the rest is skipped. */
static void
draft_add(struct draft *d, const struct gate *g, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
draft_add(struct draft *d, const struct gate *g, const char *fmt, ...)
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
	d->n++;
}

/* The gate of provider p's lines: its folder in t, else in old (a removed provider). */
static void
gate_of(const struct making *m, const char *p, struct gate *g)
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
	struct gate g;
	char version[48] = "";

	gate_of(m, c->provider, &g);
	draft_add(m->d, &g, "{\"event\":\"%s\",\"provider\":\"%s\",\"field\":\"%s\",%s"
	    "\"generation\":%" PRIu64 ",\"time\":\"%s\"}\n", names[c->kind], c->provider,
	    c->field, version, m->generation, m->when);
	return m->d->failed ? ENOMEM : 0;
}

void
events_publish(struct events *ev, const struct tree *old, const struct tree *t)
{
	const struct vault *ov, *nv;
	struct draft d = { 0 };
	struct making m = { &d, old, t, 0, "" };
	struct gate any = { .any = 1 };
	struct events_reader *r;
	struct cs_err e = { 0 };
	size_t i;

	if (ev == NULL || old == NULL || (nv = tree_vault(t)) == NULL)
		return;
	ov = tree_vault(old);
	m.generation = tree_generation(t);
	rfc3339(tree_time(t), m.when);
	/* Names are vault names ([a-z0-9._-], vault.h) and a fingerprint is hex: nothing
	 * in a line needs escaping. */
	if (ov != NULL && strcmp(vault_fingerprint(ov), vault_fingerprint(nv)) != 0)
		draft_add(&d, &any, "{\"event\":\"key_rotated\",\"fingerprint\":\"%s\","
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
	pthread_mutex_lock(&ev->lock);
	ev->generation = m.generation;
	for (i = 0; i < d.n && !d.failed; i++)
		push(ev, &d.v[i]);
	for (r = ev->readers; r != NULL; r = r->next) {
		if (d.failed) {
			r->overflowed = 1;
			r->off = 0;
		}
		wake(r);
	}
	pthread_mutex_unlock(&ev->lock);
	for (i = 0; i < d.n; i++)
		free(d.v[i].text);	/* NULL once queued */
	free(d.v);
}

void
events_shutdown(struct events *ev)
{
	struct events_reader *r;

	if (ev == NULL)
		return;
	pthread_mutex_lock(&ev->lock);
	ev->closed = 1;
	for (r = ev->readers; r != NULL; r = r->next)
		wake(r);
	pthread_mutex_unlock(&ev->lock);
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
	r->cursor = ev->head;		/* the changes from now on */
	r->next = ev->readers;
	if (ev->readers != NULL)
		ev->readers->prev = r;
	ev->readers = r;
	pthread_mutex_unlock(&ev->lock);
	/* Every read reaches us (no page cache), and there is no offset to seek to. */
	fi->direct_io = 1;
	fi->keep_cache = 0;
	fi->nonseekable = 1;
	*priv = r;
	return 0;
}

/* The kernel's INTERRUPT for req: if it is a blocked read, it ends with EINTR. */
static void
interrupted(fuse_req_t req, void *data)
{
	struct events *ev = data;
	struct events_reader *r;
	size_t i;

	pthread_mutex_lock(&ev->lock);
	for (r = ev->readers; r != NULL; r = r->next)
		for (i = 0; i < r->nwait; i++)
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
	if (r->prev != NULL)
		r->prev->next = r->next;
	else
		ev->readers = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	/* No read is blocked on a handle the kernel releases; the session's end frees
	 * handles itself, after events_shutdown answered them. Answer any, to be sure. */
	for (i = 0; i < r->nwait; i++)
		fuse_reply_buf(r->wait[i].req, NULL, 0);
	pthread_mutex_unlock(&ev->lock);
	fuse_pollhandle_destroy(r->ph);
	quota_give(r->quota, r->rights.uid, QUOTA_EVENTS, 1);
	free(r);
}
