/* fs/lo.h - what the FUSE operations (ops.c), the special files (special.c), the
 * reloader (reload.c) and main share: the daemon's state, as passthrough_ll's struct
 * lo_data, and the services of lo.c.
 *
 * The served tree is one pointer to an immutable snapshot. Readers take a reference
 * under lo->lock and drop it when their request is done (a directory handle keeps its
 * reference until releasedir); the reloader publishes a new snapshot under the same
 * lock and drops its reference to the old one, which is freed when its last reader
 * lets go. Nothing else in lo_data changes after the session starts. */
#ifndef CS_FS_LO_H
#define CS_FS_LO_H

#define FUSE_USE_VERSION	314	/* libfuse 3.14 */

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdint.h>

#include "../crypto/err.h"
#include "../policy/audit.h"
#include "../policy/config.h"
#include "tree.h"

#define LO_PURGE_MAX		256	/* closed files queued for a page-cache purge */
#define LO_COMM_MAX		64	/* bytes of a caller's command name, escaped by /proc */
/* What a special file's read hook returns when it keeps the request to answer it
 * later, exactly once, itself (a blocking read of .events); never an errno value. */
#define LO_DEFERRED		(-1)
#define LO_GROUPS_MAX		64	/* supplementary groups looked at in access checks */

struct quota;
struct held;
struct events;
struct special_nodes;

struct lo_data {
	pthread_mutex_t		 lock;
	struct tree		*snap;		/* protected by lock */
	struct audit		*audit;		/* thread-safe; NULL: no log (not fail_closed) */
	int			 fail_closed;	/* a read that cannot be audited is refused */
	int			 check_access;	/* no default_permissions: ops check modes */
	int			 notify_ready;	/* sd_notify(READY=1) once the kernel's INIT came */
	double			 timeout;	/* entry and attribute timeout, s (cfg cache_timeout) */
	const struct cfg	*cfg;		/* what .control and .sandbox answer by */
	int			 key_from_env;	/* the key came from COMFYVN_SECRETS_KEY: no rotate */
	struct special_nodes	*nodes;		/* .sandbox/<pair> inodes; locked inside */
	struct quota		*quota;		/* what each uid holds; locked inside */
	struct held		*held;		/* field inodes the kernel holds; locked inside */
	struct events		*events;	/* .events readers and lines; locked inside */

	/* direct_io keeps read(2) out of the page cache, but a MAP_PRIVATE mmap still
	 * reads through it. So every closed field that was read that way is queued here,
	 * and the watcher drops its pages (notify_inval_inode, which a request handler
	 * must not send). */
	pthread_mutex_t		 purge_lock;
	uint64_t		 purge[LO_PURGE_MAX];	/* protected by purge_lock */
	size_t			 npurge;	/* protected by purge_lock; > MAX: purge all */
	int			 purge_fd;	/* eventfd the watcher polls; -1 until it runs */
};

/* The caller of a request, as the audit log names it. */
struct lo_caller {
	pid_t	pid;			/* the process (thread group), not the thread */
	uid_t	uid;
	gid_t	gid;
	char	comm[LO_COMM_MAX];	/* "" when the process is already gone */
};

/* The rights a request runs with: a process's uid, gid and supplementary groups (up
 * to LO_GROUPS_MAX of them). */
struct lo_rights {
	uid_t	 uid;
	gid_t	 gid;
	int	 ngroups;
	gid_t	 groups[LO_GROUPS_MAX];
};

/* The FUSE operations; fuse_session_new(..., &lo_oper, sizeof lo_oper, lo). */
extern const struct fuse_lowlevel_ops lo_oper;

/* The special root entries for tree_build (".control", ".sandbox", ".events"); *n may
 * be 0. */
const struct tree_special *lo_specials(size_t *n);

/* The served snapshot with one more reference; the caller drops it: tree_unref(). */
struct tree	*lo_acquire(struct lo_data *lo);
/* Serves t from now on (taking the caller's reference); returns the previous snapshot,
 * whose reference passes to the caller. */
struct tree	*lo_publish(struct lo_data *lo, struct tree *t);
/* Queues ino for a page-cache purge by the watcher (called by release). */
void		 lo_purge_later(struct lo_data *lo, uint64_t ino);
/* Takes the queue: up to LO_PURGE_MAX inodes into out; returns how many, or
 * LO_PURGE_MAX + 1 when it overflowed and every file should be purged. */
size_t		 lo_purge_take(struct lo_data *lo, uint64_t out[LO_PURGE_MAX]);
/* Appends ev to the audit log; -1 and e set when it cannot (or there is none). */
int		 lo_audit(struct lo_data *lo, const struct audit_event *ev, struct cs_err *e)
	    CS_WUR;
/* Who sent req: its process id and command name from /proc, its uid and gid. */
void		 lo_caller(fuse_req_t req, struct lo_caller *c);
/* Names c as the author of ev, which comes via "fs"; ev borrows c's comm. */
void		 lo_event_caller(struct audit_event *ev, const struct lo_caller *c);
/* The rights of the process that sent req. */
void		 lo_rights_of(fuse_req_t req, struct lo_rights *r);
/* Whether r may access n for want (R_OK, W_OK, X_OK bits), by n's owner, group and mode,
 * as the kernel decides with default_permissions (tree_mode_allows). */
int		 lo_rights_may(const struct lo_rights *r, const struct tree_node *n, int want);

#endif
