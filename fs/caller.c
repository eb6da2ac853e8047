/* fs/caller.c - the caller's process id and command name; see caller.h.
 *
 * A direct-mapped table of CALLER_SLOTS entries, one lock each, indexed by thread id.
 * Two live threads whose ids share a slot take turns at it (each turn costs what a
 * miss costs); the table never holds more than CALLER_SLOTS descriptors. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "caller.h"

#define COMM_READ_MAX	80	/* bytes of /proc/<tid>/comm: 64 at most, and a newline */
#define STATUS_READ_MAX	1024	/* bytes of /proc/<tid>/status read: Name and Tgid lead */

struct slot {
	pthread_mutex_t	mu;
	pid_t		tid;
	pid_t		tgid;
	int		fd;	/* /proc/<tid>/comm, or -1 */
};

static struct slot slots[CALLER_SLOTS];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void
init(void)
{
	size_t i;

	for (i = 0; i < CALLER_SLOTS; i++) {
		pthread_mutex_init(&slots[i].mu, NULL);
		slots[i].fd = -1;
	}
}

/* The Tgid line of /proc/<tid>/status, or -1. */
static pid_t
read_tgid(pid_t tid)
{
	char path[64], buf[STATUS_READ_MAX + 1], *p;
	ssize_t n;
	long v;
	int fd;

	snprintf(path, sizeof path, "/proc/%ld/status", (long)tid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, STATUS_READ_MAX);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if ((p = strstr(buf, "\nTgid:\t")) == NULL || (v = strtol(p + 7, NULL, 10)) <= 0)
		return -1;
	return (pid_t)v;
}

/* Opens s for tid: the comm descriptor first, then the group id, then one read through
 * the descriptor. That read succeeding shows the task the descriptor stands for was
 * alive after the status file was read, so the status was that task's (one number
 * names one task at a time). Under s->mu; 0, or -1 with s empty. */
static int
slot_open(struct slot *s, pid_t tid, char *buf, ssize_t *n)
{
	char path[64];
	pid_t tgid;
	int fd;

	if (s->fd != -1)
		close(s->fd);
	s->fd = -1;
	snprintf(path, sizeof path, "/proc/%ld/comm", (long)tid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if ((tgid = read_tgid(tid)) == -1 ||
	    (*n = pread(fd, buf, COMM_READ_MAX, 0)) <= 0) {
		close(fd);
		return -1;
	}
	s->fd = fd;
	s->tid = tid;
	s->tgid = tgid;
	return 0;
}

/* The name as status shows it: "\n" for a newline, "\\" for a backslash. */
static void
put_comm(const char *p, size_t n, char *out, size_t len)
{
	size_t w = 0;

	if (n > 0 && p[n - 1] == '\n')
		n--;			/* the file's own newline */
	for (; n > 0 && w + 1 < len; p++, n--) {
		if (*p == '\n' || *p == '\\') {
			if (w + 2 >= len)
				break;
			out[w++] = '\\';
			out[w++] = *p == '\n' ? 'n' : '\\';
		} else {
			out[w++] = *p;
		}
	}
	out[w] = '\0';
}

int
caller_ident(pid_t tid, pid_t *tgid, char *comm, size_t len)
{
	struct slot *s;
	char buf[COMM_READ_MAX];
	ssize_t n = -1;
	int rc = 0;

	*tgid = tid;
	if (len > 0)
		comm[0] = '\0';
	if (tid <= 0)
		return -1;
	pthread_once(&once, init);
	s = &slots[(unsigned long)tid % CALLER_SLOTS];
	pthread_mutex_lock(&s->mu);
	/* A failed read: that task is gone. The number may be a new task's by now. */
	if (s->fd != -1 && s->tid == tid)
		n = pread(s->fd, buf, sizeof buf, 0);
	if (n <= 0)
		rc = slot_open(s, tid, buf, &n);
	if (rc == 0)
		*tgid = s->tgid;
	pthread_mutex_unlock(&s->mu);
	if (rc == 0 && len > 0)
		put_comm(buf, (size_t)n, comm, len);
	return rc;
}

void
caller_forget_all(void)
{
	size_t i;

	pthread_once(&once, init);
	for (i = 0; i < CALLER_SLOTS; i++) {
		pthread_mutex_lock(&slots[i].mu);
		if (slots[i].fd != -1)
			close(slots[i].fd);
		slots[i].fd = -1;
		pthread_mutex_unlock(&slots[i].mu);
	}
}
