/* fs/evqueue.h - the line queue behind .events (events.h): one ring of the last
 * EVQ_LINES_MAX lines, shared by every reader, and a cursor per reader.
 *
 * Line s sits in the ring while tail <= s < head; sequence numbers never go back. A
 * reader's cursor is the next line it is owed, so its queue is [cursor, head): at most
 * EVQ_LINES_MAX lines, however many readers there are, and each line is kept once.
 * Each line carries a gate, the owner, group and mode of the root and of the provider's
 * folder it is about; a reader is owed only the lines whose gate its rights pass (X on
 * the root, R and X on the folder: lo_rights_may). When the ring is full the oldest line
 * goes, and a cursor still on it either skips it (a line it may not see: never counted
 * against it) or is marked overflowed: its next fill gives the overflow line
 * {"event":"overflow","generation":G,"time":T} and moves it to the head. Not
 * thread-safe: the caller locks (events.c holds its lock around every call). */
#ifndef CS_FS_EVQUEUE_H
#define CS_FS_EVQUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lo.h"

#define EVQ_LINES_MAX	1024	/* lines a reader may have unread; more: overflow */
#define EVQ_OVER_MAX	128	/* bytes of the overflow line */

/* Who may see a line. */
struct evq_gate {
	int	 any;		/* 1: every reader (key_rotated) */
	uid_t	 uid[2];	/* [0] the root, [1] the provider's folder */
	gid_t	 gid[2];
	mode_t	 mode[2];	/* with the type bits or without; only 0777 counts */
};

struct evq_line {
	char		*text;		/* with its newline; owned by the ring */
	size_t		 len;
	struct evq_gate	 gate;
};

/* A reader. Fields are the queue's; the caller only embeds it. */
struct evq_cursor {
	const struct lo_rights	*rights;
	uint64_t		 seq;		/* the next line owed */
	size_t			 off;		/* bytes of it already handed out */
	int			 overflowed;
	char			 over[EVQ_OVER_MAX];	/* the overflow line, while handed out */
	size_t			 olen, ooff;
	struct evq_cursor	*prev, *next;
};

struct evq {
	struct evq_line		 ring[EVQ_LINES_MAX];
	uint64_t		 tail, head;
	uint64_t		 generation;	/* named by the overflow line */
	struct evq_cursor	*cursors;	/* every attached reader */
};

/* An empty queue: zero it (memset, calloc). evq_clear frees its lines. */
void	evq_clear(struct evq *q);
/* Attaches c, owed the lines pushed from now on, with rights r (borrowed until
 * evq_detach). */
void	evq_attach(struct evq *q, struct evq_cursor *c, const struct lo_rights *r);
void	evq_detach(struct evq *q, struct evq_cursor *c);
/* Queues a line (len bytes of text, a heap string the queue takes and frees), dropping
 * the oldest when the ring is full. */
void	evq_push(struct evq *q, char *text, size_t len, const struct evq_gate *g);
/* Marks c overflowed: its next fill starts with the overflow line. */
void	evq_overflow(struct evq *q, struct evq_cursor *c);
/* 1 when a fill of c would give bytes. Moves c over lines it may not see. */
int	evq_ready(const struct evq *q, struct evq_cursor *c);
/* Copies what c is owed into buf, at most size bytes: whole lines, as many as fit, or
 * the first size bytes of one that alone does not fit (the rest comes next); the count. */
size_t	evq_fill(struct evq *q, struct evq_cursor *c, char *buf, size_t size);

#endif
