/* fs/log.h - the daemon's diagnostic channel: one line on stderr per event.
 *
 * comfysecretsfs has no terminal once it is running; its stderr is the journal when the
 * service unit runs it (-f), or the terminal with -f. Started without -f (by mount(8):
 * fstab, the .mount unit), it points stderr at /dev/null once the mount is up
 * (fs/daemon.c), so these lines are lost there. Reload refusals and audit failures are
 * reported here (and in the audit log where they belong). A line never holds a secret,
 * a part of one or its length: callers pass names and struct cs_err messages only. */
#ifndef CS_FS_LOG_H
#define CS_FS_LOG_H

/* Prints "comfysecretsfs: MSG\n" on stderr with one write. */
void	fslog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
