/* fs/ops.c - the FUSE low-level operations of comfysecretsfs.
 *
 * A read-only tree over the served snapshot (tree.h): lookup, getattr and readdir
 * answer from names and lengths and never decrypt. open is where a value is touched: it
 * refuses write access (EROFS), checks access when the kernel does not, writes the
 * secret_read audit line (failing the open with EIO when that line cannot be written
 * and fail_closed is on), then decrypts the one field into a per-handle sodium_malloc
 * buffer and sets direct_io, so the kernel keeps no copy in the page cache. read serves
 * from that buffer; release wipes it and queues the inode for the watcher to purge
 * whatever a MAP_PRIVATE mmap put in the page cache. Every write-type operation answers
 * EROFS.
 *
 * Special root entries (".control", ".sandbox", issue 5) are rows of lo_special[]: a
 * node of kind TREE_SPECIAL is handed to its row's hooks and nothing else here touches
 * it. This file does not parse requests or patterns: that is policy/'s job.
 *
 * Every path through an operation ends in exactly one fuse_reply_*. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "../crypto/secret.h"
#include "../crypto/vault.h"
#include "lo.h"
#include "log.h"

#define COMM_MAX	64	/* bytes of a caller's command name, escaped by /proc */
#define STATUS_READ_MAX	1024	/* bytes of /proc/<tid>/status read: Name and Tgid lead */
#define GROUPS_MAX	64	/* supplementary groups looked at by lo_may() */
#define STATFS_BSIZE	4096

/* A special root entry and its hooks (issue 5). lookup, read and write reply
 * themselves. A hook left NULL answers EROFS for write, EISDIR or ENOENT elsewhere.
 * setattr answers EROFS for every node: a special file that takes `>` (O_TRUNC, sent
 * as a setattr of size 0) needs a hook there too. */
struct lo_special {
	struct tree_special	entry;
	void	(*lookup)(fuse_req_t req, const char *name);	/* child of a special dir */
	/* open returns 0 (with *priv set) or an errno value; it does not reply. */
	int	(*open)(fuse_req_t req, const struct tree_node *n, struct fuse_file_info *fi,
		    void **priv);
	void	(*read)(fuse_req_t req, void *priv, size_t size, off_t off);
	void	(*write)(fuse_req_t req, void *priv, const char *buf, size_t size, off_t off);
	void	(*release)(void *priv);
};

/* Issue 5 adds ".control" and ".sandbox" here, before the sentinel (name NULL). */
static const struct lo_special lo_special[] = {
	{ .entry = { .name = NULL } },
};

/* What an open file handle (fi->fh) holds. */
struct lo_handle {
	const struct lo_special	*sp;	/* NULL: a field */
	struct secret		*value;	/* a field's plaintext, wiped on release */
	void			*priv;	/* a special entry's state */
};

/* The caller of a request, as the audit log names it. */
struct lo_caller {
	pid_t	pid;			/* the process (thread group), not the thread */
	uid_t	uid;
	gid_t	gid;
	char	comm[COMM_MAX];		/* "" when the process is already gone */
};

static struct lo_data *
lo_data(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static struct lo_handle *
lo_handle(struct fuse_file_info *fi)
{
	return (struct lo_handle *)(uintptr_t)fi->fh;
}

static const struct lo_special *
lo_special_of(const struct tree_node *n)
{
	const struct lo_special *sp;

	for (sp = lo_special; n->kind == TREE_SPECIAL && sp->entry.name != NULL; sp++)
		if (sp->entry.id == n->special)
			return sp;
	return NULL;
}

const struct tree_special *
lo_specials(size_t *n)
{
	static struct tree_special entries[sizeof lo_special / sizeof lo_special[0]];
	size_t i;

	for (i = 0; lo_special[i].entry.name != NULL; i++)
		entries[i] = lo_special[i].entry;
	*n = i;
	return entries;
}

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

static void
lo_stat(const struct tree *t, const struct tree_node *n, struct stat *st)
{
	struct timespec ts = tree_time(t);

	memset(st, 0, sizeof *st);
	st->st_ino = n->ino;
	st->st_mode = n->mode;
	st->st_nlink = n->nlink;
	st->st_uid = n->uid;
	st->st_gid = n->gid;
	st->st_size = (off_t)n->size;
	st->st_blksize = STATFS_BSIZE;
	st->st_blocks = (blkcnt_t)((n->size + 511) / 512);
	st->st_atim = st->st_mtim = st->st_ctim = ts;
}

/* The caller's process id and command name, from /proc/<tid>/status: fuse_req_ctx()
 * gives the calling thread, the log names the process. */
static void
lo_caller(fuse_req_t req, struct lo_caller *c)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	char path[64], buf[STATUS_READ_MAX + 1], *p, *end;
	ssize_t n;
	int fd;

	c->pid = ctx->pid;
	c->uid = ctx->uid;
	c->gid = ctx->gid;
	c->comm[0] = '\0';
	snprintf(path, sizeof path, "/proc/%ld/status", (long)ctx->pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return;
	n = read(fd, buf, STATUS_READ_MAX);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	if (strncmp(buf, "Name:\t", 6) == 0 && (end = strchr(buf + 6, '\n')) != NULL)
		snprintf(c->comm, sizeof c->comm, "%.*s", (int)(end - buf - 6), buf + 6);
	if ((p = strstr(buf, "\nTgid:\t")) != NULL)
		c->pid = (pid_t)strtol(p + 7, NULL, 10);
}

/* Whether the caller may access n for want (R_OK, W_OK, X_OK bits), by its mode. Used
 * only without default_permissions, when the kernel leaves the check to us. */
static int
lo_may(fuse_req_t req, const struct tree_node *n, int want)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	gid_t groups[GROUPS_MAX];
	int bits, ng, i, member = ctx->gid == n->gid;

	if (ctx->uid == 0)
		return 1;
	if (!member && ctx->uid != n->uid) {
		ng = fuse_req_getgroups(req, GROUPS_MAX, groups);
		for (i = 0; i < ng && i < GROUPS_MAX && !member; i++)
			member = groups[i] == n->gid;
	}
	if (ctx->uid == n->uid)
		bits = (n->mode >> 6) & 7;
	else if (member)
		bits = (n->mode >> 3) & 7;
	else
		bits = n->mode & 7;
	return (bits & want) == want;
}

/* The secret_read line for n; 0, or the errno to refuse the open with. */
static int
lo_audit_read(fuse_req_t req, struct lo_data *lo, const struct tree_node *n)
{
	const char *keys[1] = { n->name };
	struct audit_event ev;
	struct lo_caller c;
	struct cs_err e = { 0 };

	lo_caller(req, &c);
	memset(&ev, 0, sizeof ev);
	ev.event = "secret_read";
	ev.provider = n->provider;
	ev.keys = keys;
	ev.nkeys = 1;
	if (n->env != NULL) {
		ev.overrides = keys;
		ev.noverrides = 1;
	}
	ev.via = "fs";
	ev.pid = c.pid;
	ev.uid = c.uid;
	ev.gid = c.gid;
	ev.comm = c.comm[0] != '\0' ? c.comm : NULL;
	if (lo_audit(lo, &ev, &e) == 0)
		return 0;
	/* fail_closed: a read we cannot record is refused, not served unlogged. */
	fslog("read of %s/%s by pid %ld %s: audit: %s", n->provider, n->name, (long)c.pid,
	    lo->fail_closed ? "refused" : "served anyway (fail_closed = false)", e.msg);
	return lo->fail_closed ? EIO : 0;
}

/* The plaintext of field node n of snapshot t, in a new secret. */
static int
lo_reveal(const struct tree *t, const struct tree_node *n, struct secret **out)
{
	struct cs_err e = { 0 };

	if (n->env != NULL) {
		*out = secret_dup(n->env->buf, n->env->len);
		return *out == NULL ? ENOMEM : 0;
	}
	if (vault_reveal_at(tree_vault(t), n->pi, n->fi, out, &e) == -1) {
		fslog("read of %s/%s: %s", n->provider, n->name, e.msg);
		return EIO;
	}
	return 0;
}

static void
lo_erofs(fuse_req_t req)
{
	fuse_reply_err(req, EROFS);
}

static void
lo_init(void *userdata, struct fuse_conn_info *conn)
{
	struct lo_data *lo = userdata;

	/* Nothing is ever written, and no page of a value may be cached. */
	conn->want &= ~(FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_SPLICE_WRITE |
	    FUSE_CAP_SPLICE_MOVE | FUSE_CAP_AUTO_INVAL_DATA);
	if (lo->notify_ready)
		sd_notifyf(0, "READY=1\nMAINPID=%ld", (long)getpid());
}

static void
lo_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct lo_data *lo = lo_data(req);
	struct tree *t = lo_acquire(lo);
	const struct tree_node *d = tree_get(t, parent), *n;
	const struct lo_special *sp;
	struct fuse_entry_param ep;

	if (d != NULL && d->kind == TREE_SPECIAL && (sp = lo_special_of(d)) != NULL &&
	    sp->lookup != NULL) {
		tree_unref(t);
		return sp->lookup(req, name);
	}
	if (d != NULL && lo->check_access && !lo_may(req, d, X_OK)) {
		tree_unref(t);
		return (void)fuse_reply_err(req, EACCES);
	}
	if ((n = tree_lookup(t, parent, name)) == NULL) {
		tree_unref(t);
		return (void)fuse_reply_err(req, d == NULL ? ENOENT :
		    d->kind == TREE_FILE ? ENOTDIR : ENOENT);
	}
	memset(&ep, 0, sizeof ep);
	ep.ino = n->ino;
	ep.attr_timeout = lo->timeout;
	ep.entry_timeout = lo->timeout;
	lo_stat(t, n, &ep.attr);
	tree_unref(t);
	fuse_reply_entry(req, &ep);
}

static void
lo_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	/* Nodes live in snapshots, not in lookup counts: nothing to drop. */
	(void)ino;
	(void)nlookup;
	fuse_reply_none(req);
}

static void
lo_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	(void)count;
	(void)forgets;
	fuse_reply_none(req);
}

static void
lo_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct lo_data *lo = lo_data(req);
	struct tree *t = lo_acquire(lo);
	const struct tree_node *n = tree_get(t, ino);
	struct stat st;

	(void)fi;
	if (n == NULL) {
		tree_unref(t);
		return (void)fuse_reply_err(req, ENOENT);	/* vanished in a reload */
	}
	lo_stat(t, n, &st);
	tree_unref(t);
	fuse_reply_attr(req, &st, lo->timeout);
}

static void
lo_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct lo_data *lo = lo_data(req);
	struct tree *t = lo_acquire(lo);
	const struct tree_node *n = tree_get(t, ino);
	int err = 0;

	if (n == NULL)
		err = ENOENT;
	else if ((mask & W_OK) && n->kind != TREE_SPECIAL)
		err = EROFS;
	else if (mask != F_OK && !lo_may(req, n, mask))
		err = EACCES;
	tree_unref(t);
	fuse_reply_err(req, err);
}

static void
lo_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct lo_data *lo = lo_data(req);
	struct tree *t = lo_acquire(lo);
	const struct tree_node *n = tree_get(t, ino);
	int err = 0;

	if (n == NULL)
		err = ENOENT;
	else if (n->kind != TREE_ROOT && n->kind != TREE_DIR)
		err = ENOTDIR;		/* special directories list nothing yet (issue 5) */
	else if (lo->check_access && !lo_may(req, n, R_OK))
		err = EACCES;
	if (err != 0) {
		tree_unref(t);
		return (void)fuse_reply_err(req, err);
	}
	/* The handle keeps its snapshot: offsets stay valid through a reload. */
	fi->fh = (uintptr_t)t;
	if (fuse_reply_open(req, fi) != 0)
		tree_unref(t);		/* interrupted: no releasedir will come */
}

static void
lo_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	const struct tree *t = (const struct tree *)(uintptr_t)fi->fh;
	const struct tree_node *d = tree_get(t, ino), *c;
	struct stat st;
	size_t pos = 0, want;
	char *buf;
	const char *name;
	off_t i;

	if (d == NULL)
		return (void)fuse_reply_err(req, ENOENT);
	if ((buf = malloc(size)) == NULL)
		return (void)fuse_reply_err(req, ENOMEM);
	/* Offsets: 0 ".", 1 "..", 2 + k the k-th child; an entry's offset is the next one. */
	for (i = off < 0 ? 0 : off; ; i++) {
		memset(&st, 0, sizeof st);
		if (i == 0) {
			name = ".";
			st.st_ino = d->ino;
			st.st_mode = S_IFDIR;
		} else if (i == 1) {
			name = "..";
			st.st_ino = d->parent;
			st.st_mode = S_IFDIR;
		} else if ((c = tree_child(t, d, (size_t)i - 2)) != NULL) {
			name = c->name;
			st.st_ino = c->ino;
			st.st_mode = c->mode & S_IFMT;
		} else {
			break;
		}
		want = fuse_add_direntry(req, buf + pos, size - pos, name, &st, i + 1);
		if (want > size - pos)
			break;
		pos += want;
	}
	fuse_reply_buf(req, buf, pos);
	free(buf);
}

static void
lo_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	tree_unref((struct tree *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void
lo_open_special(fuse_req_t req, const struct tree_node *n, struct fuse_file_info *fi)
{
	const struct lo_special *sp = lo_special_of(n);
	struct lo_handle *h;
	int err;

	if (sp == NULL || sp->open == NULL)
		return (void)fuse_reply_err(req, S_ISDIR(n->mode) ? EISDIR : ENOENT);
	if ((h = calloc(1, sizeof *h)) == NULL)
		return (void)fuse_reply_err(req, ENOMEM);
	h->sp = sp;
	if ((err = sp->open(req, n, fi, &h->priv)) != 0) {
		free(h);
		return (void)fuse_reply_err(req, err);
	}
	fi->fh = (uintptr_t)h;
	if (fuse_reply_open(req, fi) != 0) {
		if (sp->release != NULL)
			sp->release(h->priv);
		free(h);
	}
}

static void
lo_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct lo_data *lo = lo_data(req);
	struct tree *t = lo_acquire(lo);
	const struct tree_node *n = tree_get(t, ino);
	struct lo_handle *h = NULL;
	struct secret *value = NULL;
	int err = 0;

	if (n != NULL && n->kind == TREE_SPECIAL) {
		lo_open_special(req, n, fi);
		return tree_unref(t);
	}
	if (n == NULL)
		err = ENOENT;
	else if (n->kind != TREE_FILE)
		err = EISDIR;
	else if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC))
		err = EROFS;
	else if (lo->check_access && !lo_may(req, n, R_OK))
		err = EACCES;
	else if ((err = lo_audit_read(req, lo, n)) != 0)
		;
	else if ((err = lo_reveal(t, n, &value)) != 0)
		;
	else if ((h = calloc(1, sizeof *h)) == NULL)
		err = ENOMEM;
	tree_unref(t);
	if (err != 0) {
		secret_free(value);
		return (void)fuse_reply_err(req, err);
	}
	h->value = value;
	fi->fh = (uintptr_t)h;
	fi->direct_io = 1;	/* no plaintext in the page cache */
	fi->keep_cache = 0;
	if (fuse_reply_open(req, fi) != 0) {
		secret_free(h->value);	/* interrupted: no release will come */
		free(h);
	}
}

static void
lo_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct lo_handle *h = lo_handle(fi);
	size_t len;

	(void)ino;
	if (h->sp != NULL)
		return h->sp->read != NULL ? h->sp->read(req, h->priv, size, off) :
		    (void)fuse_reply_err(req, EINVAL);
	len = h->value->len;
	if (off < 0 || (uint64_t)off >= len)
		return (void)fuse_reply_buf(req, NULL, 0);
	if (size > len - (size_t)off)
		size = len - (size_t)off;
	fuse_reply_buf(req, (const char *)h->value->buf + off, size);
}

static void
lo_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	struct lo_handle *h = lo_handle(fi);

	(void)ino;
	if (h->sp != NULL && h->sp->write != NULL)
		return h->sp->write(req, h->priv, buf, size, off);
	lo_erofs(req);
}

static void
lo_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct lo_handle *h = lo_handle(fi);

	if (h->sp != NULL && h->sp->release != NULL)
		h->sp->release(h->priv);
	if (h->sp == NULL)
		lo_purge_later(lo_data(req), ino);
	secret_free(h->value);
	free(h);
	fuse_reply_err(req, 0);
}

static void
lo_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct tree *t = lo_acquire(lo_data(req));
	struct statvfs sv;

	(void)ino;
	memset(&sv, 0, sizeof sv);
	sv.f_bsize = STATFS_BSIZE;
	sv.f_frsize = STATFS_BSIZE;
	sv.f_files = tree_count(t);
	sv.f_namemax = VAULT_NAME_MAX;
	sv.f_flag = ST_RDONLY | ST_NOSUID | ST_NODEV;
	tree_unref(t);
	fuse_reply_statfs(req, &sv);
}

static void
lo_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	(void)ino;
	(void)name;
	(void)size;
	fuse_reply_err(req, ENODATA);
}

static void
lo_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	(void)ino;
	if (size == 0)
		fuse_reply_xattr(req, 0);
	else
		fuse_reply_buf(req, NULL, 0);
}

/* The write-type operations: all EROFS, whatever the node. */

static void
lo_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
    struct fuse_file_info *fi)
{
	(void)ino;
	(void)attr;
	(void)to_set;
	(void)fi;
	lo_erofs(req);
}

static void
lo_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	(void)parent;
	(void)name;
	(void)mode;
	(void)rdev;
	lo_erofs(req);
}

static void
lo_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	(void)parent;
	(void)name;
	(void)mode;
	lo_erofs(req);
}

static void
lo_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	(void)parent;
	(void)name;
	lo_erofs(req);
}

static void
lo_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	(void)link;
	(void)parent;
	(void)name;
	lo_erofs(req);
}

static void
lo_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
    const char *newname, unsigned int flags)
{
	(void)parent;
	(void)name;
	(void)newparent;
	(void)newname;
	(void)flags;
	lo_erofs(req);
}

static void
lo_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	(void)ino;
	(void)newparent;
	(void)newname;
	lo_erofs(req);
}

static void
lo_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
    struct fuse_file_info *fi)
{
	(void)parent;
	(void)name;
	(void)mode;
	(void)fi;
	lo_erofs(req);
}

static void
lo_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
    size_t size, int flags)
{
	(void)ino;
	(void)name;
	(void)value;
	(void)size;
	(void)flags;
	lo_erofs(req);
}

static void
lo_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	(void)ino;
	(void)name;
	lo_erofs(req);
}

static void
lo_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
    struct fuse_file_info *fi)
{
	(void)ino;
	(void)mode;
	(void)offset;
	(void)length;
	(void)fi;
	lo_erofs(req);
}

static void
lo_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
    struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
    struct fuse_file_info *fi_out, size_t len, int flags)
{
	(void)ino_in;
	(void)off_in;
	(void)fi_in;
	(void)ino_out;
	(void)off_out;
	(void)fi_out;
	(void)len;
	(void)flags;
	lo_erofs(req);
}

const struct fuse_lowlevel_ops lo_oper = {
	.init		= lo_init,
	.lookup		= lo_lookup,
	.forget		= lo_forget,
	.forget_multi	= lo_forget_multi,
	.getattr	= lo_getattr,
	.access		= lo_access,
	.opendir	= lo_opendir,
	.readdir	= lo_readdir,
	.releasedir	= lo_releasedir,
	.open		= lo_open,
	.read		= lo_read,
	.write		= lo_write,
	.release	= lo_release,
	.statfs		= lo_statfs,
	.getxattr	= lo_getxattr,
	.listxattr	= lo_listxattr,
	.setattr	= lo_setattr,
	.mknod		= lo_mknod,
	.mkdir		= lo_mkdir,
	.unlink		= lo_unlink,
	.rmdir		= lo_unlink,
	.symlink	= lo_symlink,
	.rename		= lo_rename,
	.link		= lo_link,
	.create		= lo_create,
	.setxattr	= lo_setxattr,
	.removexattr	= lo_removexattr,
	.fallocate	= lo_fallocate,
	.copy_file_range = lo_copy_file_range,
};
