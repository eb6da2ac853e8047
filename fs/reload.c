/* fs/reload.c - load, verify, publish and watch the vault; see reload.h.
 *
 * Only this file's thread (and main, before it starts) builds trees, so builds are
 * serialized without a lock beyond r->lock, which also guards the inomap and the
 * served generation. Invalidations are sent after the new snapshot is published and
 * with no lock held: the kernel may need a request served to complete one, and the
 * loop threads must be free to serve it.
 *
 * What changes between two snapshots is found by inode: a node of the old tree that
 * is missing from the new one has vanished or, for a field, changed its value (a new
 * value is a new inode, tree.h); its entry is invalidated, so the next lookup finds
 * the new inode, while the kernel keeps the old one for whoever has it open (ops.c
 * answers for it from fs/held.c). One whose mode, owner or link count changed has its
 * attributes invalidated; a new node's entry is invalidated too, in case the kernel
 * remembered its absence. Values themselves need no invalidation: files are
 * direct_io, so the kernel caches no page of them. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../base/clock.h"
#include "../base/file.h"
#include "../crypto/vault.h"
#include "../policy/state.h"
#include "../policy/vaultio.h"
#include "events.h"
#include "log.h"
#include "reload.h"

#define WATCH_MASK	(IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE | IN_ATTRIB)

struct reload {
	struct lo_data		*lo;
	struct reload_src	 src;
	char			*dir;		/* the vault's folder */
	const char		*base;		/* the vault's name in it */
	pthread_mutex_t		 lock;
	struct tree_inomap	*inomap;	/* protected by lock */
	uint64_t		 served;	/* protected by lock: generation served */
	char			 served_mac[VAULT_MAC_HEX + 1];	/* protected by lock: its MAC */
	struct fuse_session	*se;
	int			 ino_fd, sig_fd, stop_fd;
	pthread_t		 thread;
	int			 running;
	uint64_t		 flushed_seq;	/* audit seq last written to the state file */
};

int
reload_new(struct lo_data *lo, const struct reload_src *src, struct reload **out,
    struct cs_err *e)
{
	struct reload *r;
	char *slash;

	*out = NULL;
	if ((r = calloc(1, sizeof *r)) == NULL)
		return cs_err_sys(e, ENOMEM, "reload");
	r->lo = lo;
	r->src = *src;
	r->ino_fd = r->sig_fd = r->stop_fd = -1;
	pthread_mutex_init(&r->lock, NULL);
	if ((r->dir = strdup(src->vault_path)) == NULL ||
	    (r->inomap = tree_inomap_new()) == NULL) {
		reload_free(r);
		return cs_err_sys(e, ENOMEM, "reload");
	}
	slash = strrchr(r->dir, '/');
	if (slash == NULL || slash[1] == '\0') {
		reload_free(r);
		return cs_err_set(e, EINVAL, "%s: not an absolute file path", src->vault_path);
	}
	r->base = src->vault_path + (slash - r->dir) + 1;
	if (slash == r->dir)
		slash[1] = '\0';	/* a vault in "/" */
	else
		*slash = '\0';
	*out = r;
	return 0;
}

/* Opens and verifies the vault as every reader does (policy/vaultio.h), with the key
 * the daemon was started with and what it serves as a floor of its own beside the
 * rollback floor. On success *out is a tree holding the vault and mac its MAC.
 * *rollback is set when the vault was refused by those checks (not set otherwise). */
static int
load(struct reload *r, struct tree **out, char mac[VAULT_MAC_HEX + 1], int *rollback,
    struct cs_err *e)
{
	const struct vaultio_src src = {
		.vault_path = r->src.vault_path,
		.state_dir = r->src.state_dir,
		.key_file = r->src.key_file,
		.key = r->src.key,
		.seen = r->served,
		.seen_mac = r->served_mac,
	};
	struct tree_attrs a = r->src.attrs;
	const struct tree_special *sp;
	struct vault *v;
	struct stat sb;
	size_t nsp;

	if (vaultio_open(&src, NULL, &v, rollback, e) == -1)
		return -1;
	vault_mac_hex(v, mac);
	if (lstat(r->src.vault_path, &sb) == 0)
		a.time = sb.st_mtim;
	else
		clock_gettime(CLOCK_REALTIME, &a.time);
	sp = lo_specials(&nsp);
	if (tree_build(r->inomap, v, r->src.ov, sp, nsp, &a, out, e) == -1) {
		vault_close(v);
		return -1;
	}
	return 0;
}

/* Gives the heap a load leaves free back to the kernel. Parsing a vault of 100 000
 * fields takes some 30 MB of JSON nodes that are freed at once, and the old snapshot
 * goes after a reload; glibc would keep all of it (in this thread's arena too), and the
 * daemon's RSS would stay at its peak. */
static void
trim(void)
{
	malloc_trim(0);
}

static int
same_attrs(const struct tree_node *a, const struct tree_node *b)
{
	return a->size == b->size && a->mode == b->mode && a->uid == b->uid &&
	    a->gid == b->gid && a->nlink == b->nlink && a->parent == b->parent;
}

/* Tells the kernel what changed from old to t. Called with no lock held. Folders carry
 * the vault file's time (tree_time), and so does a field the vault has no change time
 * for; a new one changes those attributes, which the kernel may keep for the whole cache
 * timeout, so then every node is invalidated. */
static void
invalidate(struct fuse_session *se, const struct tree *old, const struct tree *t)
{
	const struct tree_node *o, *n;
	struct timespec ot = tree_time(old), nt = tree_time(t);
	int retimed = ot.tv_sec != nt.tv_sec || ot.tv_nsec != nt.tv_nsec;
	size_t i;

	for (i = 0; i < tree_count(old); i++) {
		o = tree_at(old, i);
		if ((n = tree_get(t, o->ino)) == NULL || n->parent != o->parent) {
			if (o->kind != TREE_ROOT)
				fuse_lowlevel_notify_inval_entry(se, o->parent, o->name,
				    strlen(o->name));
			fuse_lowlevel_notify_inval_inode(se, o->ino, -1, 0);
		} else if (retimed || !same_attrs(o, n)) {
			fuse_lowlevel_notify_inval_inode(se, o->ino, -1, 0);
		}
	}
	for (i = 0; i < tree_count(t); i++) {
		n = tree_at(t, i);
		if (n->kind != TREE_ROOT && tree_get(old, n->ino) == NULL)
			fuse_lowlevel_notify_inval_entry(se, n->parent, n->name,
			    strlen(n->name));
	}
}

/* Loads the vault and serves it: the kernel is told what changed (once it is mounted),
 * the heap is trimmed and the floor raised. why names a reload in the log; NULL for the
 * first load, which logs nothing. *rollback (may be NULL): see load(). */
static int
serve_loaded(struct reload *r, const char *why, int *rollback, struct cs_err *e)
{
	struct tree *t, *old;
	struct cs_err se = { 0 };
	char mac[VAULT_MAC_HEX + 1];
	uint64_t gen;
	int rb = 0;

	pthread_mutex_lock(&r->lock);
	if (load(r, &t, mac, rollback != NULL ? rollback : &rb, e) == -1) {
		pthread_mutex_unlock(&r->lock);
		return -1;
	}
	gen = tree_generation(t);
	r->served = gen;
	memcpy(r->served_mac, mac, sizeof r->served_mac);
	old = lo_publish(r->lo, tree_ref(t));
	pthread_mutex_unlock(&r->lock);
	if (r->se != NULL && old != NULL)
		invalidate(r->se, old, t);
	events_publish(r->lo->events, old, t);	/* after: a woken reader reads anew */
	tree_unref(old);
	trim();
	/* Seen is seen: a restarted daemon must not go below it either. A state folder we
	 * cannot write weakens that, but is no reason not to serve. */
	if (state_advance_floor(r->src.state_dir, r->src.vault_path, gen, mac, &se) == -1)
		fslog("%s", se.msg);
	if (why != NULL)
		fslog("reloaded %s (%s): generation %" PRIu64 ", %zu nodes",
		    r->src.vault_path, why, gen, tree_count(t));
	tree_unref(t);
	return 0;
}

int
reload_first(struct reload *r, struct cs_err *e)
{
	return serve_loaded(r, NULL, NULL, e);
}

/* The generation of the served snapshot. */
static uint64_t
reload_generation(const struct reload *r)
{
	uint64_t gen;

	pthread_mutex_lock((pthread_mutex_t *)&r->lock);
	gen = r->served;
	pthread_mutex_unlock((pthread_mutex_t *)&r->lock);
	return gen;
}

static void
refused(struct reload *r, const char *why, const struct cs_err *err)
{
	struct audit_event ev;
	struct cs_err e = { 0 };

	fslog("reload (%s) refused, still serving generation %" PRIu64 ": %s", why,
	    reload_generation(r), err->msg);
	memset(&ev, 0, sizeof ev);
	ev.event = "vault_reload_refused";
	ev.via = "fs";
	ev.reason = why;
	ev.detail = err->msg;
	ev.pid = -1;
	if (lo_audit(r->lo, &ev, &e) == -1)
		fslog("audit: %s", e.msg);
}

/* What a failed load means for the next try. */
enum fault { FAULT_FINAL, FAULT_VERIFY, FAULT_TRANSIENT };

static enum fault
classify(int rollback, int code)
{
	if (rollback)
		return FAULT_FINAL;
	/* A vault that does not parse or verify: refused, unless it was caught half-way
	 * through a non-atomic write, which the next tries (and its close event) settle. */
	if (code == EBADMSG || code == EINVAL || code == ELOOP)
		return FAULT_VERIFY;
	return FAULT_TRANSIENT;
}

/* The wait before try number tries + 1, after tries failed ones (tries >= 1). */
static int64_t
backoff_ms(int tries)
{
	int64_t ms = RELOAD_RETRY_MIN_MS;

	while (--tries > 0 && ms < RELOAD_RETRY_MAX_MS)
		ms *= 2;
	return ms < RELOAD_RETRY_MAX_MS ? ms : RELOAD_RETRY_MAX_MS;
}

/* Writes the audit log's tail to the state file when it moved. */
static void
flush_state(struct reload *r)
{
	char hash[AUDIT_HASH_HEX + 1] = "";
	uint64_t seq = 0;
	struct cs_err e = { 0 };

	if (r->lo->audit == NULL || r->src.audit_path == NULL)
		return;
	audit_last(r->lo->audit, &seq, hash);
	if (seq == 0 || seq == r->flushed_seq)
		return;
	if (state_advance_audit(r->src.state_dir, r->src.vault_path, seq, hash,
	    r->src.audit_path, &e) == -1) {
		fslog("%s", e.msg);
		return;
	}
	r->flushed_seq = seq;
}

/* Drops the page cache of the files closed since the last call (see lo.h). */
static void
purge(struct reload *r)
{
	uint64_t inos[LO_PURGE_MAX], count;
	const struct tree_node *n;
	struct tree *t;
	size_t k, i;

	if (read(r->lo->purge_fd, &count, sizeof count) != (ssize_t)sizeof count)
		return;
	k = lo_purge_take(r->lo, inos);
	if (k <= LO_PURGE_MAX) {
		for (i = 0; i < k; i++)
			fuse_lowlevel_notify_inval_inode(r->se, inos[i], 0, 0);
		return;
	}
	t = lo_acquire(r->lo);
	for (i = 0; i < tree_count(t); i++)
		if ((n = tree_at(t, i))->kind == TREE_FILE)
			fuse_lowlevel_notify_inval_inode(r->se, n->ino, 0, 0);
	tree_unref(t);
}

static void *
watch(void *arg)
{
	struct reload *r = arg;
	struct pollfd pfd[4];
	struct signalfd_siginfo si;
	struct cs_err e;
	int64_t due = -1, first = -1, flush_at, now, wait;
	const char *why = "change";
	int tries = 0, told = 0, rollback, timeout;
	enum fault f;

	flush_at = cs_now_ms() + STATE_FLUSH_MS;
	pfd[0] = (struct pollfd){ .fd = r->stop_fd, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = r->ino_fd, .events = POLLIN };
	pfd[2] = (struct pollfd){ .fd = r->sig_fd, .events = POLLIN };
	pfd[3] = (struct pollfd){ .fd = r->lo->purge_fd, .events = POLLIN };
	for (;;) {
		now = cs_now_ms();
		timeout = (int)(flush_at - now);
		if (due >= 0 && due - now < timeout)
			timeout = (int)(due - now);
		if (poll(pfd, 4, timeout < 0 ? 0 : timeout) == -1 && errno != EINTR)
			break;
		if (pfd[0].revents & POLLIN)
			break;
		if (pfd[3].revents & POLLIN)
			purge(r);
		now = cs_now_ms();
		if ((pfd[1].revents & POLLIN) && file_inotify_names(r->ino_fd, r->base)) {
			if (first < 0)
				first = now;
			due = now + RELOAD_DEBOUNCE_MS;
			if (due > first + RELOAD_MAX_DELAY_MS)
				due = first + RELOAD_MAX_DELAY_MS;
			if (strcmp(why, "SIGHUP") != 0)
				why = "change";
			tries = told = 0;
		}
		if ((pfd[2].revents & POLLIN) &&
		    read(r->sig_fd, &si, sizeof si) == (ssize_t)sizeof si) {
			/* SIGHUP also follows a rotated audit log (logrotate's postrotate). */
			audit_reopen(r->lo->audit);
			due = now;
			why = "SIGHUP";
			tries = told = 0;
		}
		if (due >= 0 && now >= due) {
			memset(&e, 0, sizeof e);
			rollback = 0;
			if (serve_loaded(r, why, &rollback, &e) == 0) {
				if (tries > 0)
					fslog("reload (%s) succeeded after %d failed tries", why,
					    tries);
				due = first = -1;
				why = "change";
				tries = told = 0;
			} else if ((f = classify(rollback, e.code)) == FAULT_FINAL ||
			    (f == FAULT_VERIFY && ++tries > RELOAD_VERIFY_RETRIES)) {
				refused(r, why, &e);
				due = first = -1;
				why = "change";
				tries = told = 0;
			} else {
				/* Out of descriptors or memory, an I/O error, a key that lands
				 * just after (a rotation half-way): the vault on disk is not what
				 * is served, so try again, less and less often. */
				if (f == FAULT_TRANSIENT)
					tries++;
				wait = backoff_ms(tries);
				if ((tries & (tries - 1)) == 0)	/* 1, 2, 4, 8 ...: a few lines */
					fslog("reload (%s) failed (try %d), still serving generation %"
					    PRIu64 ", next try in %" PRId64 " ms: %s", why, tries,
					    reload_generation(r), wait, e.msg);
				/* Audited once per change, as a refusal was before it was retried. */
				if (!told && tries >= RELOAD_REPORT_TRIES) {
					refused(r, why, &e);
					told = 1;
				}
				due = cs_now_ms() + wait;
			}
			now = cs_now_ms();
		}
		if (now >= flush_at) {
			audit_tick(r->lo->audit);
			flush_state(r);
			flush_at = now + STATE_FLUSH_MS;
		}
	}
	return NULL;
}

int
reload_start(struct reload *r, struct fuse_session *se, struct cs_err *e)
{
	sigset_t hup, all, old;
	int rc;

	r->se = se;
	sigemptyset(&hup);
	sigaddset(&hup, SIGHUP);
	if ((r->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1 ||
	    (r->lo->purge_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1 ||
	    (r->sig_fd = signalfd(-1, &hup, SFD_CLOEXEC | SFD_NONBLOCK)) == -1 ||
	    (r->ino_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK)) == -1)
		return cs_err_sys(e, errno, "reload: watcher");
	if (inotify_add_watch(r->ino_fd, r->dir, WATCH_MASK | IN_ONLYDIR) == -1)
		return cs_err_sys(e, errno, "%s: watch", r->dir);
	/* The watcher takes no process signal but through its signalfd: SIGTERM must reach
	 * a loop thread, whose interrupted read ends the session. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&r->thread, NULL, watch, r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		return cs_err_sys(e, rc, "reload: thread");
	r->running = 1;
	return 0;
}

void
reload_stop(struct reload *r)
{
	uint64_t one = 1;

	if (r->running) {
		if (write(r->stop_fd, &one, sizeof one) != (ssize_t)sizeof one)
			fslog("reload: cannot stop the watcher: %s", strerror(errno));
		else
			pthread_join(r->thread, NULL);
		r->running = 0;
	}
	flush_state(r);
}

void
reload_free(struct reload *r)
{
	if (r == NULL)
		return;
	reload_stop(r);
	if (r->ino_fd != -1)
		close(r->ino_fd);
	if (r->sig_fd != -1)
		close(r->sig_fd);
	if (r->stop_fd != -1)
		close(r->stop_fd);
	if (r->lo->purge_fd != -1) {
		close(r->lo->purge_fd);
		r->lo->purge_fd = -1;
	}
	tree_inomap_free(r->inomap);
	pthread_mutex_destroy(&r->lock);
	free(r->dir);
	free(r);
}
