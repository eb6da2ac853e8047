/* fs/special.c - .control and .sandbox/, the special root entries; see special.h.
 *
 * This file holds per-handle state and the daemon's side of the control protocol: who
 * asked (lo_caller), what the snapshot lists (the providers callback, names only) and
 * how to rotate (vaultio_rotate, the same sequence as `comfysecrets rotate`). It never
 * parses a request or a pattern; policy/control.c does. The one secret that can pass
 * through here is a rotate request's new key, so request bytes live in guarded memory
 * (struct secret) and are wiped as soon as the request has been answered. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <sodium.h>

#include "../crypto/key.h"
#include "../crypto/secret.h"
#include "../policy/control.h"
#include "../policy/vaultio.h"
#include "log.h"
#include "quota.h"
#include "special.h"

#define REQUEST_FIRST_BYTES	4096	/* first guarded buffer of a request; doubles */

/* One .sandbox/<pair> inode the kernel may hold. */
struct node {
	uint64_t	 ino;
	uint64_t	 nlookup;	/* kernel lookups not yet forgotten */
	uint64_t	 used;		/* the table's clock at the last use */
	unsigned	 nopen;		/* open handles: never evicted while > 0 */
	char		 name[];
};

/* The kernel forgets an inode only when it evicts it, which for a name looked up once
 * may be never. So the table is a cache: when it is full, the least recently used node
 * without an open handle goes. A path walk always looks the name up again (timeout 0),
 * which brings it back under a new number; the kernel, seeing the number change, drops
 * its stale dentry and forgets the old number, which is then unknown and ignored. */
struct special_nodes {
	pthread_mutex_t	 lock;
	struct node	*v[SPECIAL_NODES_MAX];	/* protected by lock; unordered */
	size_t		 n;			/* protected by lock */
	uint64_t	 next;			/* protected by lock: never reused */
	uint64_t	 clock;			/* protected by lock */
};

/* One open .control. Everything it keeps (the request's buffer, the answer) is
 * charged to the opener's uid (quota.h); a request runs with the rights of both its
 * opener and its writer, the lesser, so a descriptor handed to root never lends root's
 * rights to the process that opened it, nor the other way round. */
struct ctl {
	pthread_mutex_t	 lock;		/* reads and writes of one handle may overlap */
	struct lo_data	*lo;
	struct lo_rights	 opener;	/* fixed at open; charged for what is kept */
	struct secret	*req;		/* protected by lock: request bytes; NULL before any */
	size_t		 reqlen;	/* protected by lock: bytes kept in req */
	size_t		 total;		/* protected by lock: bytes written, kept or not */
	int		 pending;	/* protected by lock: written since the last answer */
	struct lo_caller who;		/* protected by lock: the request's writer */
	struct lo_rights	 writer;	/* protected by lock: its rights */
	char		*answer;	/* protected by lock: the last answer, or NULL */
	size_t		 alen, apos;	/* protected by lock: its length, bytes read */
	size_t		 held;		/* protected by lock: bytes charged to opener.uid */
};

/* One open .sandbox/<pair>: its answer, fixed at open. */
struct sbx {
	struct lo_data	*lo;
	uint64_t	 ino;		/* pinned in lo->nodes until release */
	uid_t		 owner;		/* charged one pin (quota.h) */
	char		*answer;
	size_t		 alen;
};

/* What the control callbacks need: the daemon, who asked, whose rights count. */
struct ask {
	struct lo_data		*lo;
	const struct lo_caller	*who;
	const struct lo_rights	*opener, *writer;	/* NULL: not asked (.sandbox) */
};

struct special_nodes *
special_nodes_new(void)
{
	struct special_nodes *m;

	if ((m = calloc(1, sizeof *m)) == NULL)
		return NULL;
	pthread_mutex_init(&m->lock, NULL);
	m->next = SPECIAL_CHILD_INO_FIRST;
	return m;
}

void
special_nodes_free(struct special_nodes *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->n; i++)
		free(m->v[i]);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/* Whether r is root or belongs to group g. */
static int
root_or_member(const struct lo_rights *r, gid_t g)
{
	int i;

	for (i = 0; i < r->ngroups; i++)
		if (r->groups[i] == g)
			return 1;
	return r->uid == 0 || r->gid == g;
}

/* Whether a's opener and writer may both list directory d under root. */
static int
may_list(const struct ask *a, const struct tree_node *root, const struct tree_node *d)
{
	const struct lo_rights *r[2] = { a->opener, a->writer };
	int i;

	for (i = 0; i < 2; i++)
		if (r[i] == NULL || !lo_rights_may(r[i], root, X_OK) ||
		    !lo_rights_may(r[i], d, R_OK | X_OK))
			return 0;
	return 1;
}

/* The snapshot's providers, fields and overridden fields: names, never values, and
 * only of the providers whose folder both the opener and the writer may list. */
static int
providers(void *arg, json_t **out, struct cs_err *e)
{
	const struct ask *a = arg;
	struct tree *t = lo_acquire(a->lo);
	const struct tree_node *root = tree_get(t, TREE_INO_ROOT), *d, *f;
	const struct vault *v = tree_vault(t);
	json_t *list = NULL, *fields, *over;
	size_t i, j;
	int rc = -1;

	if (root == NULL || (list = json_array()) == NULL)
		goto out;
	for (i = 0; (d = tree_child(t, root, i)) != NULL; i++) {
		if (d->kind != TREE_DIR || !may_list(a, root, d))
			continue;
		fields = json_array();
		over = json_array();
		for (j = 0; (f = tree_child(t, d, j)) != NULL; j++) {
			json_array_append_new(fields, json_string(f->name));
			if (f->env != NULL)
				json_array_append_new(over, json_string(f->name));
		}
		/* "o" steals both arrays, also when packing fails */
		if (json_array_append_new(list, json_pack("{s:s, s:o, s:o}", "name", d->name,
		    "fields", fields, "overrides", over)) == -1)
			goto out;
	}
	*out = json_pack("{s:I, s:s?, s:O}", "generation", (json_int_t)tree_generation(t),
	    "fingerprint", v != NULL ? vault_fingerprint(v) : NULL, "providers", list);
	if (*out != NULL)
		rc = 0;
out:
	json_decref(list);
	tree_unref(t);
	return rc == 0 ? 0 : cs_err_set(e, ENOMEM, "out of memory");
}

/* The rotation's key_rotated line, as the writer of the request, written by
 * vaultio_rotate before the re-encrypted vault takes its name. */
static int
rotate_log(const struct vaultio_rotated *r, void *arg, struct cs_err *e)
{
	const struct ask *a = arg;
	struct audit_event ev = { 0 };
	struct cs_err ae = { 0 };

	vaultio_rotated_event(r, &ev);
	lo_event_caller(&ev, a->who);
	if (lo_audit(a->lo, &ev, &ae) == -1)
		return cs_err_set(e, ae.code, "the key was not rotated: its audit line could "
		    "not be written: %s", ae.msg);
	return 0;
}

/* `comfysecrets rotate`, asked for through .control: vaultio_rotate, its key_rotated
 * line first (rotate_log). The watcher's inotify reload then serves the new vault;
 * until it lands, the served snapshot still decrypts with the keys it was loaded with. */
static int
rotate(void *arg, const char *new_key_b64, json_t **out, struct cs_err *e)
{
	struct ask *a = arg;
	struct key *nk = NULL;
	struct vaultio_rotated r = { 0 };
	json_t *names = NULL;
	size_t i;
	int rc = -1;

	/* A change and its line go together: a daemon serving without a log (fail_closed
	 * off, the log could not be opened) refuses before anything changes. */
	if (a->lo->audit == NULL)
		return cs_err_set(e, EBADF, "the key was not rotated: the daemon has no audit "
		    "log open to record it");
	if (new_key_b64 != NULL && key_parse(new_key_b64, strlen(new_key_b64), "new_key",
	    &nk, e) == -1)
		return -1;
	if (vaultio_rotate(a->lo->cfg, a->lo->key_from_env, nk, rotate_log, a, &r, e) == -1)
		goto out;
	if ((names = json_array()) == NULL) {
		cs_err_set(e, ENOMEM, "the key was rotated to %s, but: out of memory", r.fpr);
		goto out;
	}
	for (i = 0; i < r.nproviders; i++)
		json_array_append_new(names, json_string(r.providers[i]));
	*out = json_pack("{s:s, s:I, s:O}", "fingerprint", r.fpr, "generation",
	    (json_int_t)r.generation, "providers", names);
	if (*out == NULL)
		cs_err_set(e, ENOMEM, "the key was rotated to %s, but: out of memory", r.fpr);
	else
		rc = 0;
out:
	json_decref(names);
	vaultio_rotated_free(&r);
	key_free(nk);
	return rc;
}

/* The protocol's view of the daemon, for a request by a->who. */
static void
context(struct ask *a, struct control_ctx *ctx)
{
	memset(ctx, 0, sizeof *ctx);
	ctx->cfg = a->lo->cfg;
	ctx->pid = a->who->pid;
	ctx->uid = a->who->uid;
	ctx->gid = a->who->gid;
	if (a->opener != NULL && a->opener->uid != a->who->uid) {
		ctx->has_opener = 1;
		ctx->opener_uid = a->opener->uid;
	}
	ctx->audit_member = a->opener != NULL && a->writer != NULL &&
	    a->lo->cfg->has_audit_group &&
	    root_or_member(a->opener, a->lo->cfg->audit_group) &&
	    root_or_member(a->writer, a->lo->cfg->audit_group);
	ctx->comm = a->who->comm[0] != '\0' ? a->who->comm : NULL;
	ctx->via = "fs";
	ctx->audit = a->lo->audit;
	ctx->providers = providers;
	ctx->rotate = rotate;
	ctx->arg = a;
}

int
special_control_open(fuse_req_t req, const struct tree_node *n, struct fuse_file_info *fi,
    void **priv)
{
	struct ctl *c;

	if (S_ISDIR(n->mode))
		return EISDIR;
	if ((c = calloc(1, sizeof *c)) == NULL)
		return ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	c->lo = fuse_req_userdata(req);
	lo_rights_of(req, &c->opener);
	/* No page cache: every read reaches us, whatever size the kernel thinks the file
	 * has. Seekable, so that write, lseek(0), read works. */
	fi->direct_io = 1;
	fi->keep_cache = 0;
	*priv = c;
	return 0;
}

/* Charges n more bytes kept by c to its opener: 0, or the errno to refuse with.
 * Called with c->lock held. */
static int
charge(struct ctl *c, size_t n, const char *what)
{
	int err;

	if ((err = quota_take(c->lo->quota, c->opener.uid, QUOTA_BYTES, n, what,
	    c->who.pid)) == 0)
		c->held += n;
	return err;
}

/* Gives back n bytes charged by charge(); called with c->lock held. */
static void
uncharge(struct ctl *c, size_t n)
{
	quota_give(c->lo->quota, c->opener.uid, QUOTA_BYTES, n);
	c->held -= n;
}

/* Wipes and frees the request buffer; called with c->lock held. */
static void
drop_request(struct ctl *c)
{
	if (c->req != NULL) {
		uncharge(c, c->req->len);
		secret_free(c->req);	/* wipes it */
		c->req = NULL;
	}
	c->reqlen = c->total = 0;
}

/* Appends size bytes to the request in guarded memory, growing it by copying; 0, or
 * the errno to refuse the write with (the opener may keep no more: EAGAIN, ENOMEM).
 * Past CONTROL_REQUEST_MAX nothing more is kept (the answer is the size error) and
 * what was kept is wiped. Called with c->lock held. */
static int
keep(struct ctl *c, const char *buf, size_t size)
{
	struct secret *s;
	size_t cap;
	int err;

	if (c->total > CONTROL_REQUEST_MAX || size > CONTROL_REQUEST_MAX - c->total) {
		if (c->req != NULL) {
			uncharge(c, c->req->len);
			secret_free(c->req);
			c->req = NULL;
		}
		c->reqlen = 0;
		return 0;
	}
	if (c->req == NULL || c->reqlen + size > c->req->len) {
		cap = c->req != NULL ? c->req->len * 2 : REQUEST_FIRST_BYTES;
		while (cap < c->reqlen + size)
			cap *= 2;
		if (cap > CONTROL_REQUEST_MAX)
			cap = CONTROL_REQUEST_MAX;
		if ((err = charge(c, cap, "write to .control")) != 0)
			return err;
		if ((s = secret_new(cap)) == NULL) {
			uncharge(c, cap);
			fslog("write to .control by pid %ld refused: out of guarded memory",
			    (long)c->who.pid);
			return ENOMEM;
		}
		if (c->req != NULL) {
			memcpy(s->buf, c->req->buf, c->reqlen);
			uncharge(c, c->req->len);
		}
		secret_free(c->req);
		c->req = s;
	}
	memcpy(c->req->buf + c->reqlen, buf, size);
	c->reqlen += size;
	return 0;
}

int
special_control_write(fuse_req_t req, void *priv, const char *buf, size_t size, off_t off)
{
	struct ctl *c = priv;
	struct lo_caller who;
	struct lo_rights r;
	int err;

	(void)off;	/* a request is the bytes written, in order, wherever they land */
	lo_caller(req, &who);
	lo_rights_of(req, &r);
	pthread_mutex_lock(&c->lock);
	if (!c->pending) {
		/* A write after an answer starts a new request; the old answer goes. */
		if (c->answer != NULL)
			uncharge(c, c->alen);
		free(c->answer);
		c->answer = NULL;
		c->alen = c->apos = 0;
		c->reqlen = c->total = 0;
		c->who = who;
		c->writer = r;
		c->pending = 1;
	} else if (c->who.uid == 0 && who.uid != 0) {
		/* root's rights are not lent to an unprivileged co-writer */
		c->who = who;
		c->writer = r;
	}
	if ((err = keep(c, buf, size)) != 0) {
		/* A request that could not be kept whole is dropped, not run cut short. */
		drop_request(c);
		c->pending = 0;
	} else {
		c->total = c->total + size < c->total ? SIZE_MAX : c->total + size;
	}
	pthread_mutex_unlock(&c->lock);
	return err;
}

/* Answers the pending request and wipes it: 0, or the errno to refuse the read with.
 * Room for the largest answer is charged before the request runs, so a request is
 * never run (a rotation done) and its answer then refused. Called with c->lock held. */
static int
answer(struct ctl *c)
{
	struct ask a = { c->lo, &c->who, &c->opener, &c->writer };
	struct control_ctx ctx;
	int err, rc;

	if ((err = charge(c, CONTROL_ANSWER_MAX, "read of .control")) != 0)
		return err;	/* the request stays pending: a later read may have room */
	context(&a, &ctx);
	/* Over the limit only the true size is passed: control_handle refuses it unread. */
	rc = control_handle(&ctx, c->req != NULL ? (const char *)c->req->buf : NULL,
	    c->total > CONTROL_REQUEST_MAX ? c->total : c->reqlen, &c->answer, &c->alen);
	uncharge(c, rc == 0 ? CONTROL_ANSWER_MAX - c->alen : CONTROL_ANSWER_MAX);
	drop_request(c);
	c->apos = 0;
	c->pending = 0;
	return rc == 0 ? 0 : ENOMEM;
}

int
special_control_read(fuse_req_t req, void *priv, size_t size, off_t off, int flags,
    char **buf, size_t *len)
{
	struct ctl *c = priv;
	char *chunk = NULL;
	size_t n = 0;
	int err = 0;

	(void)req;
	(void)flags;
	(void)off;	/* the answer is read from its first byte, whatever the offset */
	pthread_mutex_lock(&c->lock);
	if (c->pending && (err = answer(c)) != 0)
		;
	else if (c->answer != NULL && c->apos < c->alen) {
		n = size < c->alen - c->apos ? size : c->alen - c->apos;
		if ((chunk = malloc(n)) == NULL)
			err = ENOMEM;
		else {
			memcpy(chunk, c->answer + c->apos, n);
			c->apos += n;
		}
	}
	pthread_mutex_unlock(&c->lock);
	/* The answer goes out as a copy: once the reader has its bytes it may close, and
	 * the release (on another thread) frees c while the reply is still being written. */
	*buf = chunk;
	*len = n;
	return err;
}

void
special_control_release(void *priv)
{
	struct ctl *c = priv;

	pthread_mutex_lock(&c->lock);
	uncharge(c, c->held);	/* the request's buffer and the answer */
	pthread_mutex_unlock(&c->lock);
	secret_free(c->req);	/* wipes it */
	free(c->answer);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* The node for ino, marked used; called with m->lock held. */
static struct node **
node_at(struct special_nodes *m, uint64_t ino)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (m->v[i]->ino == ino) {
			m->v[i]->used = m->clock++;
			return &m->v[i];
		}
	return NULL;
}

/* Removes *p from the table; called with m->lock held. */
static void
node_drop(struct special_nodes *m, struct node **p)
{
	free(*p);
	*p = m->v[--m->n];	/* unordered: the last one takes its place */
}

/* Makes room for one more node: 0, or ENFILE when every node has an open handle.
 * Called with m->lock held. */
static int
node_room(struct special_nodes *m)
{
	struct node **old = NULL;
	size_t i;

	if (m->n < SPECIAL_NODES_MAX)
		return 0;
	for (i = 0; i < m->n; i++)
		if (m->v[i]->nopen == 0 && (old == NULL || m->v[i]->used < (*old)->used))
			old = &m->v[i];
	if (old == NULL)
		return ENFILE;
	node_drop(m, old);
	return 0;
}

int
special_sandbox_lookup(struct lo_data *lo, const char *name, uint64_t *ino)
{
	struct special_nodes *m = lo->nodes;
	struct cs_err e = { 0 };
	struct node *nd = NULL;
	size_t i, len = strlen(name);
	int err = 0;

	if (m == NULL || control_pair_parse(name, &e) == -1)
		return ENOENT;
	pthread_mutex_lock(&m->lock);
	for (i = 0; i < m->n && strcmp(m->v[i]->name, name) != 0; i++)
		;
	if (i < m->n)
		nd = m->v[i];
	else if ((err = node_room(m)) != 0)
		;
	else if ((nd = malloc(sizeof *nd + len + 1)) == NULL)
		err = ENOMEM;
	else {
		nd->ino = m->next++;
		nd->nlookup = 0;
		nd->nopen = 0;
		memcpy(nd->name, name, len + 1);
		m->v[m->n++] = nd;
	}
	if (err == 0) {
		nd->nlookup++;
		nd->used = m->clock++;
		*ino = nd->ino;
	}
	pthread_mutex_unlock(&m->lock);
	if (err == ENFILE)
		fslog("lookup of .sandbox/%s refused: %d such files are open already", name,
		    SPECIAL_NODES_MAX);
	return err;
}

int
special_sandbox_child(struct lo_data *lo, uint64_t ino, char *name, size_t size)
{
	struct special_nodes *m = lo->nodes;
	struct node **p;
	size_t len;
	int err = ENOENT;

	if (m == NULL || ino < SPECIAL_CHILD_INO_FIRST)
		return ENOENT;
	pthread_mutex_lock(&m->lock);
	if ((p = node_at(m, ino)) != NULL && (len = strlen((*p)->name)) < size) {
		memcpy(name, (*p)->name, len + 1);
		err = 0;
	}
	pthread_mutex_unlock(&m->lock);
	return err;
}

void
special_sandbox_forget(struct lo_data *lo, uint64_t ino, uint64_t nlookup)
{
	struct special_nodes *m = lo->nodes;
	struct node **p;

	if (m == NULL || ino < SPECIAL_CHILD_INO_FIRST)
		return;
	pthread_mutex_lock(&m->lock);
	if ((p = node_at(m, ino)) != NULL) {
		(*p)->nlookup -= nlookup < (*p)->nlookup ? nlookup : (*p)->nlookup;
		if ((*p)->nlookup == 0 && (*p)->nopen == 0)
			node_drop(m, p);
	}
	pthread_mutex_unlock(&m->lock);
}

/* Counts an open handle of node ino in (+1) or out (-1); 0, or ENOENT when the node
 * is gone. */
static int
node_pin(struct lo_data *lo, uint64_t ino, int by)
{
	struct special_nodes *m = lo->nodes;
	struct node **p;
	int err = ENOENT;

	pthread_mutex_lock(&m->lock);
	if ((p = node_at(m, ino)) != NULL) {
		if (by > 0)
			(*p)->nopen++;
		else if ((*p)->nopen > 0 && --(*p)->nopen == 0 && (*p)->nlookup == 0)
			node_drop(m, p);
		err = 0;
	}
	pthread_mutex_unlock(&m->lock);
	return err;
}

int
special_sandbox_open(fuse_req_t req, const struct tree_node *n, struct fuse_file_info *fi,
    void **priv)
{
	struct lo_caller who;
	struct ask a = { 0 };
	struct control_ctx ctx;
	struct sbx *s;
	int err;

	if (S_ISDIR(n->mode))
		return EISDIR;
	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC))
		return EROFS;
	if ((s = calloc(1, sizeof *s)) == NULL)
		return ENOMEM;
	lo_caller(req, &who);
	a.lo = s->lo = fuse_req_userdata(req);
	a.who = &who;
	s->ino = n->ino;
	s->owner = who.uid;
	/* Each open file pins a slot of the shared name table: one user may pin only
	 * QUOTA_USER_PINS of its SPECIAL_NODES_MAX. */
	if ((err = quota_take(s->lo->quota, s->owner, QUOTA_PINS, 1, "open of a .sandbox file",
	    who.pid)) != 0) {
		free(s);
		return err;
	}
	if (node_pin(s->lo, s->ino, 1) != 0) {
		quota_give(s->lo->quota, s->owner, QUOTA_PINS, 1);
		free(s);
		return ENOENT;		/* evicted since the lookup: the walk is retried */
	}
	context(&a, &ctx);
	/* The check, and its sandbox_blocked line, happen here: once per open. */
	if (control_check_pair(&ctx, n->name, &s->answer, &s->alen) == -1) {
		special_sandbox_release(s);
		return ENOMEM;
	}
	fi->direct_io = 1;
	fi->keep_cache = 0;
	*priv = s;
	return 0;
}

int
special_sandbox_read(fuse_req_t req, void *priv, size_t size, off_t off, int flags,
    char **buf, size_t *len)
{
	const struct sbx *s = priv;
	size_t pos = off < 0 ? s->alen : (size_t)off, n = 0;
	char *chunk = NULL;

	(void)req;
	(void)flags;
	/* The answer is fixed for the handle, so offsets mean what they say. It is copied,
	 * as .control's is: once the reader has its bytes it may close, and the release
	 * (on another thread) frees s and its answer while the reply is still being
	 * written. */
	if (pos < s->alen) {
		n = size < s->alen - pos ? size : s->alen - pos;
		if ((chunk = malloc(n)) == NULL)
			return ENOMEM;
		memcpy(chunk, s->answer + pos, n);
	}
	*buf = chunk;
	*len = n;
	return 0;
}

void
special_sandbox_release(void *priv)
{
	struct sbx *s = priv;

	node_pin(s->lo, s->ino, -1);
	quota_give(s->lo->quota, s->owner, QUOTA_PINS, 1);
	free(s->answer);
	free(s);
}
