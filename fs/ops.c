/* fs/ops.c - the FUSE low-level operations of comfysecretsfs.
 *
 * A read-only tree over the served snapshot (tree.h): lookup, getattr and readdir
 * answer from names and lengths and never decrypt. A field's inode number stands for
 * one value; lookups of fields are counted in fs/held.c, so an inode a reload replaced
 * still answers getattr with its own attributes while the kernel holds it (an open
 * file's fstat describes what it reads), and open or access on it answers ESTALE,
 * which makes the kernel look the path up again. open is where a value is touched: it
 * refuses write access (EROFS), checks access when the kernel does not, writes the
 * secret_read audit line (failing the open with EIO when that line cannot be written
 * and fail_closed is on), then decrypts the one field into a per-handle sodium_malloc
 * buffer and sets direct_io, so the kernel keeps no copy in the page cache. read serves
 * from that buffer; release wipes it and, when a MAP_PRIVATE mmap read the file
 * through the page cache (lo_read tells), queues the inode for the watcher to purge.
 * Every write-type operation answers EROFS.
 *
 * Special root entries (".control", ".sandbox": fs/special.c; ".events": fs/events.c) are
 * rows of lo_special[]: a node of kind TREE_SPECIAL is handed to its row's hooks. A
 * special directory's children are no snapshot's nodes: the row hands out their inode
 * numbers, and lo_node() dresses them as nodes (the directory's owner, the row's child
 * mode), so getattr, access and open treat them like any other; they and the special files
 * are never cached by the kernel (timeouts 0). The one writable node is .control: writes
 * go to its hook, and a truncate to 0 (what `>` sends) is accepted there as a no-op. This
 * file does not parse requests or patterns: that is policy/'s job.
 *
 * Every path through an operation ends in exactly one fuse_reply_*, but for a read of
 * .events that must wait: its hook keeps the request (LO_DEFERRED) and answers it once,
 * later (fs/events.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
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
#include "../policy/control.h"
#include "events.h"
#include "caller.h"
#include "held.h"
#include "lo.h"
#include "log.h"
#include "quota.h"
#include "special.h"

#define STATFS_BSIZE	4096
#define LO_NAME_MAX	1024	/* FUSE_NAME_MAX: the longest name the kernel sends */
/* The longest name anything in the tree can have, the NAME_MAX that statfs reports and
 * every operation enforces (ENAMETOOLONG): a .sandbox "host:port", which is longer than
 * any provider or field name. */
#define LO_NAMEMAX	(CONTROL_PAIR_MAX - 1)
_Static_assert(LO_NAMEMAX >= VAULT_NAME_MAX && LO_NAMEMAX <= LO_NAME_MAX, "NAME_MAX");
/* st_size of .control: see lo_stat(). */
#define LO_ANSWER_SIZE	(64 * 1024)
/* A parameter an operation's signature has and its answer does not need. */
#define UNUSED		__attribute__((unused))
/* What a truncate may carry besides its size: the times the kernel sets with it. */
#define TRUNCATE_BITS	(FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME | \
			 FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_CTIME)

/* A special root entry and its hooks. No hook replies (but a read that must wait, see
 * read below): each returns 0 or an errno value, and the operation here sends the one
 * reply. A hook left NULL answers EROFS for
 * write, EINVAL for read, EISDIR or ENOENT elsewhere.
 *
 * A special directory's children live outside the snapshot: lookup gives the inode
 * number for a name, counting one kernel lookup, or an errno value; child gives the
 * name back for a number the row handed out (ENOENT for any other); forget drops
 * kernel lookups. Their nodes are built here (lo_node) with child_mode. */
struct lo_special {
	struct tree_special	entry;
	int	(*lookup)(struct lo_data *lo, const char *name, uint64_t *ino);
	int	(*child)(struct lo_data *lo, uint64_t ino, char *name, size_t size);
	void	(*forget)(struct lo_data *lo, uint64_t ino, uint64_t nlookup);
	mode_t	 child_mode;
	/* open returns 0 (with *priv set) or an errno value; it does not reply. */
	int	(*open)(fuse_req_t req, const struct tree_node *n, struct fuse_file_info *fi,
		    void **priv);
	/* read fills *buf (malloc'd or NULL; freed here after the reply) and *len, or
	 * returns LO_DEFERRED: it kept req and answers it later itself (the one hook that
	 * replies, for a read that blocks); flags are the file's (O_NONBLOCK). write takes
	 * all size bytes or none. poll says whether a read would block, and keeps ph. */
	int	(*read)(fuse_req_t req, void *priv, size_t size, off_t off, int flags,
		    char **buf, size_t *len);
	int	(*write)(fuse_req_t req, void *priv, const char *buf, size_t size, off_t off);
	int	(*poll)(fuse_req_t req, void *priv, struct fuse_pollhandle *ph,
		    unsigned *revents);
	void	(*release)(void *priv);
	/* Whether page-cache reads (splice, sendfile) are served: only where the answer
	 * is the same bytes at the same offsets for every handle of the inode. child_size
	 * then gives a child's size: its answer's length. */
	int	 page_cache;
	uint64_t (*child_size)(struct lo_data *lo, const char *name);
};

/* The length of the answer .sandbox/<name> gives when opened: the same check, with
 * nothing audited. An open's own answer differs only when its denial cannot be audited
 * (it then says so), and that is a denial either way. */
static uint64_t
sandbox_size(struct lo_data *lo, const char *name)
{
	struct control_ctx ctx;
	char *answer = NULL;
	size_t alen = 0;

	memset(&ctx, 0, sizeof ctx);
	ctx.cfg = lo->cfg;
	ctx.pid = -1;
	ctx.via = "fs";
	if (lo->cfg == NULL || control_check_pair(&ctx, name, &answer, &alen) == -1)
		return LO_ANSWER_SIZE;
	free(answer);
	return alen;
}

static const struct lo_special lo_special[] = {
	{ .entry = { ".control", SPECIAL_INO_CONTROL, S_IFREG | 0666, SPECIAL_ID_CONTROL },
	  .open = special_control_open, .read = special_control_read,
	  .write = special_control_write, .release = special_control_release },
	{ .entry = { ".sandbox", SPECIAL_INO_SANDBOX, S_IFDIR | 0555, SPECIAL_ID_SANDBOX },
	  .lookup = special_sandbox_lookup, .child = special_sandbox_child,
	  .forget = special_sandbox_forget, .child_mode = S_IFREG | 0444,
	  .open = special_sandbox_open, .read = special_sandbox_read,
	  .release = special_sandbox_release, .page_cache = 1, .child_size = sandbox_size },
	{ .entry = { ".events", SPECIAL_INO_EVENTS, S_IFREG | 0444, SPECIAL_ID_EVENTS },
	  .open = events_open, .read = events_read, .poll = events_poll,
	  .release = events_release },
	{ .entry = { .name = NULL } },
};

/* Room for a special directory's child, which no snapshot holds. */
struct lo_tmpnode {
	struct tree_node	n;
	char			name[LO_NAME_MAX + 1];
};

/* What an open file or directory handle (fi->fh) holds. */
struct lo_handle {
	struct tree		*dir;	/* a directory's snapshot, or NULL: a file */
	const struct lo_special	*sp;	/* NULL: a field */
	struct secret		*value;	/* a field's plaintext, wiped on release */
	void			*priv;	/* a special entry's state */
	atomic_int		 cached;	/* a read filled the page cache: purge */
	struct lo_handle	*prev, *next;	/* protected by open_lock */
	struct quota		*quota;		/* charged one handle and bytes, or NULL */
	uid_t			 uid;		/* the opener, who is charged */
	size_t			 bytes;		/* of value charged */
};

/* Every handle open now, so that lo_destroy can wipe and free those whose release
 * never comes (the daemon stopped, or was unmounted lazily, with files still open; a
 * release is sent in the background, so even a closed one may not have arrived). */
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lo_handle *open_handles;		/* protected by open_lock */

static void
handle_link(struct lo_handle *h)
{
	pthread_mutex_lock(&open_lock);
	h->prev = NULL;
	h->next = open_handles;
	if (open_handles != NULL)
		open_handles->prev = h;
	open_handles = h;
	pthread_mutex_unlock(&open_lock);
}

/* Unlinks and frees h, wiping a field's value; runs a special entry's release; lets a
 * directory's snapshot go. */
static void
handle_free(struct lo_handle *h)
{
	pthread_mutex_lock(&open_lock);
	if (h->prev != NULL)
		h->prev->next = h->next;
	else if (open_handles == h)
		open_handles = h->next;
	if (h->next != NULL)
		h->next->prev = h->prev;
	pthread_mutex_unlock(&open_lock);
	if (h->sp != NULL && h->sp->release != NULL)
		h->sp->release(h->priv);
	secret_free(h->value);
	tree_unref(h->dir);
	quota_give(h->quota, h->uid, QUOTA_BYTES, h->bytes);
	quota_give(h->quota, h->uid, QUOTA_HANDLES, 1);
	free(h);
}

/* A new handle charged to the caller (quota.h): one handle, and bytes of value. NULL
 * with *err set (EMFILE, ENFILE, EAGAIN, ENOMEM) when the caller may not hold more;
 * the refusal is logged naming what. */
static struct lo_handle *
handle_new(fuse_req_t req, size_t bytes, const char *what, int *err)
{
	struct quota *q = ((struct lo_data *)fuse_req_userdata(req))->quota;
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct lo_handle *h;

	if ((*err = quota_take(q, ctx->uid, QUOTA_HANDLES, 1, what, ctx->pid)) != 0)
		return NULL;
	if ((*err = quota_take(q, ctx->uid, QUOTA_BYTES, bytes, what, ctx->pid)) != 0) {
		quota_give(q, ctx->uid, QUOTA_HANDLES, 1);
		return NULL;
	}
	if ((h = calloc(1, sizeof *h)) == NULL) {
		quota_give(q, ctx->uid, QUOTA_BYTES, bytes);
		quota_give(q, ctx->uid, QUOTA_HANDLES, 1);
		*err = ENOMEM;
		return NULL;
	}
	h->quota = q;
	h->uid = ctx->uid;
	h->bytes = bytes;
	return h;
}

/* Charges n more bytes to h's opener: 0, or the errno to refuse with. */
static int
handle_more(fuse_req_t req, struct lo_handle *h, size_t n, const char *what)
{
	int err;

	if ((err = quota_take(h->quota, h->uid, QUOTA_BYTES, n, what,
	    fuse_req_ctx(req)->pid)) == 0)
		h->bytes += n;
	return err;
}

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

/* Node ino of snapshot t, or the special directory child numbered ino, built in tmp;
 * NULL when neither. */
static const struct tree_node *
lo_node(struct lo_data *lo, const struct tree *t, uint64_t ino, struct lo_tmpnode *tmp)
{
	const struct tree_node *n = tree_get(t, ino), *d;
	const struct lo_special *sp;

	for (sp = lo_special; n == NULL && sp->entry.name != NULL; sp++) {
		if (sp->child == NULL || sp->child(lo, ino, tmp->name, sizeof tmp->name) != 0)
			continue;
		if ((d = tree_get(t, sp->entry.ino)) == NULL)
			return NULL;
		tmp->n = *d;
		tmp->n.ino = ino;
		tmp->n.parent = d->ino;
		tmp->n.name = tmp->name;
		tmp->n.mode = sp->child_mode;
		tmp->n.size = sp->child_size != NULL ? sp->child_size(lo, tmp->name) :
		    LO_ANSWER_SIZE;
		tmp->n.first = tmp->n.nchild = 0;
		tmp->n.nlink = S_ISDIR(sp->child_mode) ? 2 : 1;
		n = &tmp->n;
	}
	return n;
}

/* The kernel caches no special file and no special directory's child: an answer or a
 * check is never stale, and .control's size stays 0 whatever writes told the kernel. */
static double
lo_timeout(const struct lo_data *lo, const struct tree_node *n)
{
	if (n->kind == TREE_SPECIAL && (!S_ISDIR(n->mode) || n->parent != TREE_INO_ROOT))
		return 0.0;
	return lo->timeout;
}

/* 1 for the one node that takes writes: a special file with a w bit (.control). */
static int
lo_writable(const struct tree_node *n)
{
	return n->kind == TREE_SPECIAL && S_ISREG(n->mode) && (n->mode & 0222) != 0;
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

static void
lo_stat(const struct tree *t, const struct tree_node *n, struct stat *st)
{
	held_fill_stat(st, n->ino, n->mode, n->nlink, n->uid, n->gid, n->size,
	    tree_node_time(t, n));
	/* sendfile(2) and splice(2) read a FUSE file through the page cache, even a
	 * direct_io one, and only up to st_size: a size of 0 ends them at once. So a
	 * special file has a size: a .sandbox child its answer's (lo_node), .control,
	 * whose answer exists only once a handle asked, a bound (its page-cache reads are
	 * refused, lo_read, so sendfile fails and BusyBox cat and the like read(2); read
	 * stops at the answer's end whatever the size, as the file is direct_io). */
	if (n->kind == TREE_SPECIAL && S_ISREG(n->mode) && n->parent == TREE_INO_ROOT)
		st->st_size = LO_ANSWER_SIZE;
	if (n->kind == TREE_SPECIAL)
		st->st_blocks = 0;
}

/* Whether the caller may access n for want (R_OK, W_OK, X_OK bits), by its mode. Used
 * only without default_permissions, when the kernel leaves the check to us. */
static int
lo_may(fuse_req_t req, const struct tree_node *n, int want)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	gid_t groups[LO_GROUPS_MAX];
	int ng, i, member = ctx->gid == n->gid;

	/* the groups are asked for only when they can matter */
	if (!member && ctx->uid != 0 && ctx->uid != n->uid) {
		ng = fuse_req_getgroups(req, LO_GROUPS_MAX, groups);
		for (i = 0; i < ng && i < LO_GROUPS_MAX && !member; i++)
			member = groups[i] == n->gid;
	}
	return tree_mode_allows(n, ctx->uid, member, want);
}

/* The secret_read line for n of snapshot t; 0, or the errno to refuse the open with. */
static int
lo_audit_read(fuse_req_t req, struct lo_data *lo, const struct tree *t,
    const struct tree_node *n)
{
	const char *keys[1] = { n->name };
	struct audit_event ev;
	uint64_t version;
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
	if (tree_node_version(t, n, &version))
		ev.version = &version;
	lo_event_caller(&ev, &c);
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

/* The error for an inode the served snapshot lacks. One the kernel still holds from an
 * older snapshot (a dentry not yet invalidated) is ESTALE: open(2), access(2) and
 * stat(2) then look the path up again and find the inode that replaced it. */
static int
lo_gone(struct lo_data *lo, uint64_t ino)
{
	struct stat st;

	return held_stat(lo->held, ino, &st) == 0 ? ESTALE : ENOENT;
}

static void
lo_erofs(fuse_req_t req)
{
	fuse_reply_err(req, EROFS);
}

/* ENAMETOOLONG for a name over NAME_MAX, before anything else is said of it (as a
 * local filesystem answers), else EROFS: the answer of every operation that would
 * create, remove or rename a name. */
static void
lo_erofs_name(fuse_req_t req, const char *name, const char *name2)
{
	if (strlen(name) > LO_NAMEMAX || (name2 != NULL && strlen(name2) > LO_NAMEMAX))
		return (void)fuse_reply_err(req, ENAMETOOLONG);
	lo_erofs(req);
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
	const struct lo_special *sp = NULL;
	struct lo_tmpnode tmp;
	struct fuse_entry_param ep;
	uint64_t ino;
	int err;

	if (strlen(name) > LO_NAMEMAX) {
		tree_unref(t);
		return (void)fuse_reply_err(req, ENAMETOOLONG);
	}
	if (d != NULL && lo->check_access && !lo_may(req, d, X_OK)) {
		tree_unref(t);
		return (void)fuse_reply_err(req, EACCES);
	}
	if (d != NULL && (sp = lo_special_of(d)) != NULL && sp->lookup != NULL) {
		if ((err = sp->lookup(lo, name, &ino)) != 0) {
			tree_unref(t);
			return (void)fuse_reply_err(req, err);
		}
		n = lo_node(lo, t, ino, &tmp);	/* held by the count just taken */
	} else if ((n = tree_lookup(t, parent, name)) == NULL) {
		tree_unref(t);
		return (void)fuse_reply_err(req, d == NULL ? ENOENT :
		    d->kind == TREE_FILE ? ENOTDIR : ENOENT);
	}
	if (n == NULL) {
		sp->forget(lo, ino, 1);
		tree_unref(t);
		return (void)fuse_reply_err(req, ENOENT);
	}
	memset(&ep, 0, sizeof ep);
	ep.ino = n->ino;
	ep.attr_timeout = lo_timeout(lo, n);
	ep.entry_timeout = lo_timeout(lo, n);
	lo_stat(t, n, &ep.attr);
	tree_unref(t);
	/* A field's inode may outlive its snapshot (held.h): count it before the kernel
	 * can forget it. */
	if (n->kind == TREE_FILE && (err = held_lookup(lo->held, &ep.attr)) != 0)
		return (void)fuse_reply_err(req, err);
	/* A reply the kernel never took counts no lookup. */
	if (fuse_reply_entry(req, &ep) != 0) {
		if (sp != NULL && sp->forget != NULL)
			sp->forget(lo, ep.ino, 1);
		held_forget(lo->held, ep.ino, 1);
	}
}

/* Directories live in snapshots, not in lookup counts; fields (held.h) and special
 * children count. */
static void
lo_forget_one(struct lo_data *lo, uint64_t ino, uint64_t nlookup)
{
	const struct lo_special *sp;

	held_forget(lo->held, ino, nlookup);
	for (sp = lo_special; sp->entry.name != NULL; sp++)
		if (sp->forget != NULL)
			sp->forget(lo, ino, nlookup);
}

static void
lo_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	lo_forget_one(lo_data(req), ino, nlookup);
	fuse_reply_none(req);
}

static void
lo_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	size_t i;

	for (i = 0; i < count; i++)
		lo_forget_one(lo_data(req), forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void
lo_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct lo_data *lo = lo_data(req);
	struct tree *t = lo_acquire(lo);
	struct lo_tmpnode tmp;
	const struct tree_node *n = lo_node(lo, t, ino, &tmp);
	struct stat st;
	double timeout;

	/* With or without a handle (fstat(2) sends none), an inode number stands for one
	 * value: one whose value changed or went in a reload answers with the attributes
	 * it had while the kernel holds it, so an open file's size is what it reads. */
	(void)fi;
	if (n == NULL) {
		tree_unref(t);
		if (held_stat(lo->held, ino, &st) == 0)
			return (void)fuse_reply_attr(req, &st, lo->timeout);
		return (void)fuse_reply_err(req, ENOENT);	/* vanished in a reload */
	}
	lo_stat(t, n, &st);
	timeout = lo_timeout(lo, n);
	tree_unref(t);
	fuse_reply_attr(req, &st, timeout);
}

static void
lo_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct lo_data *lo = lo_data(req);
	struct tree *t = lo_acquire(lo);
	struct lo_tmpnode tmp;
	const struct tree_node *n = lo_node(lo, t, ino, &tmp);
	int err = 0;

	if (n == NULL)
		err = lo_gone(lo, ino);
	else if ((mask & W_OK) && !lo_writable(n))
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
	struct lo_tmpnode tmp;
	const struct tree_node *n = lo_node(lo, t, ino, &tmp);
	struct lo_handle *h;
	int err = 0;

	if (n == NULL)
		err = ENOENT;
	else if (!S_ISDIR(n->mode))
		err = ENOTDIR;		/* a special directory lists nothing: . and .. */
	else if (lo->check_access && !lo_may(req, n, R_OK))
		err = EACCES;
	if (err != 0) {
		tree_unref(t);
		return (void)fuse_reply_err(req, err);
	}
	/* The handle keeps its snapshot: offsets stay valid through a reload. */
	if ((h = handle_new(req, 0, "open of a folder", &err)) == NULL) {
		tree_unref(t);
		return (void)fuse_reply_err(req, err);
	}
	h->dir = t;
	handle_link(h);
	fi->fh = (uintptr_t)h;
	if (fuse_reply_open(req, fi) != 0)
		handle_free(h);		/* interrupted: no releasedir will come */
}

static void
lo_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	const struct tree *t = lo_handle(fi)->dir;
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
	handle_free(lo_handle(fi));
	fuse_reply_err(req, 0);
}

static void
lo_open_special(fuse_req_t req, const struct tree_node *n, struct fuse_file_info *fi)
{
	const struct lo_special *sp = lo_special_of(n);
	struct lo_handle *h;
	char what[64];
	int err;

	if (sp == NULL || sp->open == NULL)
		return (void)fuse_reply_err(req, S_ISDIR(n->mode) ? EISDIR : ENOENT);
	snprintf(what, sizeof what, "open of %s", sp->entry.name);
	if ((h = handle_new(req, 0, what, &err)) == NULL)
		return (void)fuse_reply_err(req, err);
	if ((err = sp->open(req, n, fi, &h->priv)) != 0) {
		handle_free(h);		/* not linked yet: unlinking is a no-op */
		return (void)fuse_reply_err(req, err);
	}
	h->sp = sp;
	fi->fh = (uintptr_t)h;
	handle_link(h);
	if (fuse_reply_open(req, fi) != 0)
		handle_free(h);		/* interrupted: no release will come */
}

static void
lo_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct lo_data *lo = lo_data(req);
	struct tree *t = lo_acquire(lo);
	struct lo_tmpnode tmp;
	const struct tree_node *n = lo_node(lo, t, ino, &tmp);
	struct lo_handle *h = NULL;
	struct secret *value = NULL;
	int err = 0;

	if (n != NULL && n->kind == TREE_SPECIAL) {
		lo_open_special(req, n, fi);
		return tree_unref(t);
	}
	if (n == NULL)
		err = lo_gone(lo, ino);
	else if (n->kind != TREE_FILE)
		err = EISDIR;
	else if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC))
		err = EROFS;
	else if (lo->check_access && !lo_may(req, n, R_OK))
		err = EACCES;
	else if ((h = handle_new(req, n->size, "open of a field", &err)) == NULL)
		;	/* refused before anything is audited or decrypted */
	else if ((err = lo_audit_read(req, lo, t, n)) != 0)
		;
	else
		err = lo_reveal(t, n, &value);
	if (err == 0 && value->len > h->bytes)	/* charged by the node's size: the rest */
		err = handle_more(req, h, value->len - h->bytes, "open of a field");
	tree_unref(t);
	if (err != 0) {
		secret_free(value);
		if (h != NULL)
			handle_free(h);		/* not linked yet */
		return (void)fuse_reply_err(req, err);
	}
	h->value = value;
	fi->fh = (uintptr_t)h;
	fi->direct_io = 1;	/* no plaintext in the page cache */
	fi->keep_cache = 0;
	handle_link(h);
	if (fuse_reply_open(req, fi) != 0)
		handle_free(h);		/* interrupted: no release will come */
}

static void
lo_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct lo_handle *h = lo_handle(fi);
	char *buf = NULL;
	size_t len = 0;
	int err;

	(void)ino;
	/* read(2) of a direct_io file comes with the reader's lock owner (the kernel's
	 * fuse_direct_io() sets FUSE_READ_LOCKOWNER); a page-cache fill, which a
	 * MAP_PRIVATE mmap, splice(2) or sendfile(2) makes, comes without one. The page
	 * cache is the inode's, shared by every handle: .control's answers are per handle
	 * and read from a cursor, so a fill is refused there (EINVAL, as for a file that
	 * cannot splice; BusyBox cat and the like then read(2)). */
	if (h->sp != NULL && fi->lock_owner == 0 && !h->sp->page_cache)
		return (void)fuse_reply_err(req, EINVAL);
	if (h->sp != NULL) {
		err = h->sp->read != NULL ? h->sp->read(req, h->priv, size, off, fi->flags,
		    &buf, &len) : EINVAL;
		if (err == LO_DEFERRED)
			return;		/* the hook answers it */
		if (err != 0)
			fuse_reply_err(req, err);
		else
			fuse_reply_buf(req, buf, len);
		free(buf);
		return;
	}
	/* A field's pages are purged once the handle that filled them is released. */
	if (fi->lock_owner == 0)
		atomic_store(&h->cached, 1);
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
	int err = EROFS;

	(void)ino;
	if (h->sp != NULL && h->sp->write != NULL)
		err = h->sp->write(req, h->priv, buf, size, off);
	if (err != 0)
		fuse_reply_err(req, err);
	else
		fuse_reply_write(req, size);
}

static void
lo_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct lo_handle *h = lo_handle(fi);

	if (h->sp == NULL && atomic_load(&h->cached))
		lo_purge_later(lo_data(req), ino);
	handle_free(h);
	fuse_reply_err(req, 0);
}

/* The session ends: blocked .events reads are answered, then what releases never
 * came for is wiped. */
static void
lo_destroy(void *userdata)
{
	struct lo_data *lo = userdata;

	events_shutdown(lo->events);
	while (open_handles != NULL)
		handle_free(open_handles);
}

/* Only .events can say it has nothing to read yet; every other file is always ready,
 * as a regular file is. */
static void
lo_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
    struct fuse_pollhandle *ph)
{
	struct lo_handle *h = lo_handle(fi);
	unsigned revents = POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM;
	int err = 0;

	(void)ino;
	if (h->sp != NULL && h->sp->poll != NULL)
		err = h->sp->poll(req, h->priv, ph, &revents);
	else
		fuse_pollhandle_destroy(ph);
	if (err != 0)
		fuse_reply_err(req, err);
	else
		fuse_reply_poll(req, revents);
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
	sv.f_namemax = LO_NAMEMAX;
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

/* The write-type operations: all EROFS, but for writes to .control (its hook) and
 * the truncate that `>` sends it. */

static void
lo_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
    struct fuse_file_info *fi)
{
	struct lo_data *lo = lo_data(req);
	struct tree *t = lo_acquire(lo);
	const struct tree_node *n = tree_get(t, ino);
	struct stat st;

	(void)fi;
	/* A request is what is written after the open, so there is nothing to cut: the
	 * truncate is answered as done, and the size stays 0. */
	if (n != NULL && lo_writable(n) && (to_set & FUSE_SET_ATTR_SIZE) &&
	    (to_set & ~TRUNCATE_BITS) == 0 && attr->st_size == 0) {
		lo_stat(t, n, &st);
		tree_unref(t);
		return (void)fuse_reply_attr(req, &st, 0.0);
	}
	tree_unref(t);
	lo_erofs(req);
}

/* The others answer EROFS, or ENAMETOOLONG first for a name over NAME_MAX. */
static void
lo_mknod(fuse_req_t req, fuse_ino_t parent UNUSED, const char *name, mode_t mode UNUSED,
    dev_t rdev UNUSED)
{
	lo_erofs_name(req, name, NULL);
}

static void
lo_mkdir(fuse_req_t req, fuse_ino_t parent UNUSED, const char *name, mode_t mode UNUSED)
{
	lo_erofs_name(req, name, NULL);
}

/* unlink and rmdir */
static void
lo_unlink(fuse_req_t req, fuse_ino_t parent UNUSED, const char *name)
{
	lo_erofs_name(req, name, NULL);
}

static void
lo_symlink(fuse_req_t req, const char *link UNUSED, fuse_ino_t parent UNUSED,
    const char *name)
{
	lo_erofs_name(req, name, NULL);
}

static void
lo_rename(fuse_req_t req, fuse_ino_t parent UNUSED, const char *name,
    fuse_ino_t newparent UNUSED, const char *newname, unsigned int flags UNUSED)
{
	lo_erofs_name(req, name, newname);
}

static void
lo_link(fuse_req_t req, fuse_ino_t ino UNUSED, fuse_ino_t newparent UNUSED,
    const char *newname)
{
	lo_erofs_name(req, newname, NULL);
}

static void
lo_create(fuse_req_t req, fuse_ino_t parent UNUSED, const char *name, mode_t mode UNUSED,
    struct fuse_file_info *fi UNUSED)
{
	lo_erofs_name(req, name, NULL);
}

static void
lo_setxattr(fuse_req_t req, fuse_ino_t ino UNUSED, const char *name UNUSED,
    const char *value UNUSED, size_t size UNUSED, int flags UNUSED)
{
	lo_erofs(req);
}

static void
lo_removexattr(fuse_req_t req, fuse_ino_t ino UNUSED, const char *name UNUSED)
{
	lo_erofs(req);
}

static void
lo_fallocate(fuse_req_t req, fuse_ino_t ino UNUSED, int mode UNUSED, off_t offset UNUSED,
    off_t length UNUSED, struct fuse_file_info *fi UNUSED)
{
	lo_erofs(req);
}

static void
lo_copy_file_range(fuse_req_t req, fuse_ino_t ino_in UNUSED, off_t off_in UNUSED,
    struct fuse_file_info *fi_in UNUSED, fuse_ino_t ino_out UNUSED, off_t off_out UNUSED,
    struct fuse_file_info *fi_out UNUSED, size_t len UNUSED, int flags UNUSED)
{
	lo_erofs(req);
}

const struct fuse_lowlevel_ops lo_oper = {
	.init		= lo_init,
	.destroy	= lo_destroy,
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
	.poll		= lo_poll,
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
