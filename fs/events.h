/* fs/events.h - .events, the change feed in the mount's root.
 *
 * A program that can read the mount opens .events (0444) and reads one JSON line per
 * change from the moment it opened, in the order the daemon served them:
 *
 *	{"event":"secret_changed","provider":"app","field":"token","version":3,
 *	 "generation":42,"time":"2026-11-30T12:00:00.123Z"}
 *
 * event is secret_added, secret_changed or secret_removed (with provider and field),
 * key_rotated (with the new key's fingerprint), or overflow (below). generation is the
 * vault's after the change; time is when the field last changed (the vault's record of
 * it), or when the daemon loaded the change where the vault keeps no such record;
 * version is the field's version where the vault keeps one. A line never holds a value.
 * The changes come from comparing the vault served before a reload with the one served
 * after it (policy/vaultdiff.h): a value that did not change (the same value set again,
 * a rotation) is no secret_changed, and several changes of one field that land in one
 * reload are one line. The lines of one reload come in (provider, field) order, after
 * its key_rotated line. The kernel has been told of the change (its caches invalidated)
 * before a reader wakes, so a read of the field after the line gives the new value.
 *
 * A reader is told only about providers it could open: one whose folder it may search
 * and list (X on the root, R and X on the folder, by mode, owner and group as the kernel
 * checks with default_permissions), with the rights it had when it opened .events.
 * key_rotated and overflow name no provider and go to every reader.
 *
 * Reads: a read returns whole lines, as many as fit (a line longer than the read's size
 * is handed out in pieces); it blocks until there is a line, unless the file is
 * O_NONBLOCK (EAGAIN). poll, select and epoll say POLLIN when a read would not block.
 * A blocked read ends with EINTR when the reader is interrupted (a signal), and with
 * EOF (0 bytes) when the session ends (SIGTERM to the daemon) or the mount leaves the
 * daemon's mount namespace (a lazy unmount: events_watch): a reader never hangs on a
 * daemon that is going away; its close then succeeds too, as a close sends the daemon
 * nothing (noflush). The file is direct_io and not seekable; the
 * kernel caches neither it nor its name (timeouts 0). Page-cache reads (sendfile,
 * splice) are refused with EINVAL, as for .control, so BusyBox cat falls back to
 * read(2).
 *
 * Memory is bounded however many readers there are and however far behind they fall:
 * the daemon keeps the last EVENTS_QUEUE_MAX lines once, in one ring, and each open
 * handle is a cursor into it, so each handle's queue holds at most EVENTS_QUEUE_MAX
 * lines. A reader that falls further behind loses its queue: its next read gives one
 * overflow line, {"event":"overflow","generation":G,"time":T}, and then only the
 * changes after that read; it must list the mount again to learn the state. Lines a
 * reader may not see never count against it. Open handles are counted per uid
 * (quota.h QUOTA_EVENTS: QUOTA_USER_EVENTS per uid, EMFILE past it; QUOTA_TOTAL_EVENTS
 * in all, ENFILE), and at most EVENTS_WAITERS_MAX reads may block on one handle at once
 * (EBUSY past them). Thread-safe. */
#ifndef CS_FS_EVENTS_H
#define CS_FS_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "evqueue.h"
#include "lo.h"
#include "tree.h"

#define EVENTS_QUEUE_MAX	EVQ_LINES_MAX	/* lines a handle may have unread (1024) */
#define EVENTS_WAITERS_MAX	8	/* reads blocked at once on one handle */
#define EVENTS_READ_MAX		(128u * 1024)	/* bytes one read hands out, at most */

struct events;

/* A new feed with no reader and no line; NULL on ENOMEM. Free with events_free (NULL is
 * fine) once the session is destroyed: no request may reach it after. */
struct events	*events_new(void) CS_WUR;
void		 events_free(struct events *ev);

/* The reloader serves t in place of old (both alive for the call): queues a line for
 * each change between their vaults and wakes the readers that may see one. Call it
 * after the kernel was told of the change. ev NULL or old NULL (the first load): no
 * line. A change that cannot be computed (out of memory, a value that does not decrypt)
 * is logged and queued as an overflow line for every reader, which then re-lists. */
void		 events_publish(struct events *ev, const struct tree *old, const struct tree *t);

/* Starts a thread that ends the feed (as events_shutdown) when the mount at mountpoint
 * (absolute, mounted already) leaves the daemon's mount namespace: a lazy unmount with
 * readers blocked in read then answers them with EOF. The loop must run for it to
 * learn the mount (a stat of its root). events_free stops it. */
int		 events_watch(struct events *ev, const char *mountpoint, struct cs_err *e)
	    CS_WUR;

/* The session ends: every blocked read is answered with EOF, every poll is woken, and
 * every later read is EOF. From the destroy operation, before the handles go. */
void		 events_shutdown(struct events *ev);

/* The hooks of the .events row in ops.c. open: 0 with *priv a new reader (from now on),
 * or EISDIR, EROFS (opened for writing), EMFILE, ENFILE, ENOMEM. read: 0 with *buf
 * (malloc'd, the caller frees) and *len, or EAGAIN (O_NONBLOCK in flags and no line),
 * EINTR, EBUSY, ENOMEM, or LO_DEFERRED: the read blocks, and req is answered later from
 * here, exactly once. poll: 0 with *revents; ph (may be NULL) is kept and notified when
 * a line comes, or destroyed. release: ends the reader. */
int	events_open(fuse_req_t req, const struct tree_node *n, struct fuse_file_info *fi,
	    void **priv);
int	events_read(fuse_req_t req, void *priv, size_t size, off_t off, int flags,
	    char **buf, size_t *len);
int	events_poll(fuse_req_t req, void *priv, struct fuse_pollhandle *ph,
	    unsigned *revents);
void	events_release(void *priv);

#endif
