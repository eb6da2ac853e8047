/* fs/daemon.h - going to the background without losing errors or secrets.
 *
 * fuse_daemonize() forks after the mount, which would leave a child without the
 * threads the parent started (the audit writer) and without the memory locks of its
 * sodium_malloc pages (mlock is not inherited). So the fork comes first: the parent
 * only waits, and exits 0 once the child says the mount is up, or with the child's
 * own status when the child fails first (its error is already on the terminal). The
 * parent wipes its copy of the overrides and the key from its environment. */
#ifndef CS_FS_DAEMON_H
#define CS_FS_DAEMON_H

#include "../crypto/err.h"

/* Forks. Returns in the child only, with the fd to pass to daemon_ready(); -1 and e
 * set when fork itself fails. */
int	daemon_fork(struct cs_err *e) CS_WUR;
/* In the child, once mounted: detaches (setsid, chdir "/", stdio on /dev/null but a
 * stderr that is the journal; fslog_background() takes the log elsewhere) and lets the
 * parent exit 0. fd -1 (foreground) does nothing. */
void	daemon_ready(int fd);

#endif
