/* fs/caller.h - who sent a FUSE request, as the audit log names it.
 *
 * FUSE gives the calling thread's id; the log names the process (its thread group id)
 * and the thread's command name, as /proc/<tid>/status shows them (Tgid, Name). Reading
 * that file for every open costs an open, a read that formats some forty lines, and a
 * close. Instead, one descriptor of /proc/<tid>/comm is kept per recent thread, with
 * the thread group id read once when it is opened, and each request costs one pread.
 *
 * Why a kept descriptor cannot name the wrong program: it stands for the task it was
 * opened for, not for the number. After an exec the task is the same and the read gives
 * its new name; once the task is gone, the read fails (ESRCH) even if its number was
 * handed to a new task, and the descriptor is opened again for the new one. A thread
 * that execs while other threads run takes the group leader's id, which is the group
 * id cached for it. */
#ifndef CS_CALLER_H
#define CS_CALLER_H

#include <stddef.h>
#include <sys/types.h>

#define CALLER_SLOTS	128	/* descriptors kept at most: one per recent thread id */

/* The thread group id (*tgid) and the command name of thread tid (into comm, len bytes,
 * NUL-terminated and cut to fit; a newline in the name is written as backslash-n and a
 * backslash as two, as /proc/<tid>/status writes them). Returns 0; -1 when the thread
 * is gone or /proc cannot be read, with *tgid = tid and comm "". Thread-safe. */
int	caller_ident(pid_t tid, pid_t *tgid, char *comm, size_t len);
/* Closes every kept descriptor (at exit; the next caller_ident opens again). */
void	caller_forget_all(void);

#endif
