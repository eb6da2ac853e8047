/* fs/evqueue.c - the line queue behind .events; see evqueue.h. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "evqueue.h"

void
evq_clear(struct evq *q)
{
	uint64_t s;

	for (s = q->tail; s < q->head; s++)
		free(q->ring[s % EVQ_LINES_MAX].text);
	q->tail = q->head;
}

void
evq_attach(struct evq *q, struct evq_cursor *c, const struct lo_rights *r)
{
	memset(c, 0, sizeof *c);
	c->rights = r;
	c->seq = q->head;
	c->next = q->cursors;
	if (q->cursors != NULL)
		q->cursors->prev = c;
	q->cursors = c;
}

void
evq_detach(struct evq *q, struct evq_cursor *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else if (q->cursors == c)
		q->cursors = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
}

static int
visible(const struct evq_cursor *c, const struct evq_gate *g)
{
	struct tree_node n;
	int i;

	if (g->any)
		return 1;
	memset(&n, 0, sizeof n);
	for (i = 0; i < 2; i++) {
		n.uid = g->uid[i];
		n.gid = g->gid[i];
		n.mode = g->mode[i];
		if (!lo_rights_may(c->rights, &n, i == 0 ? X_OK : R_OK | X_OK))
			return 0;
	}
	return 1;
}

void
evq_overflow(struct evq *q, struct evq_cursor *c)
{
	(void)q;
	if (!c->overflowed) {
		c->overflowed = 1;
		c->off = 0;
		c->olen = c->ooff = 0;
	}
}

void
evq_push(struct evq *q, char *text, size_t len, const struct evq_gate *g)
{
	struct evq_line *old;
	struct evq_cursor *c;

	if (q->head - q->tail == EVQ_LINES_MAX) {
		old = &q->ring[q->tail % EVQ_LINES_MAX];
		for (c = q->cursors; c != NULL; c = c->next) {
			if (c->overflowed || c->seq != q->tail)
				continue;
			if (visible(c, &old->gate))
				evq_overflow(q, c);
			else
				c->seq++;
		}
		free(old->text);
		q->tail++;
	}
	q->ring[q->head % EVQ_LINES_MAX] = (struct evq_line){ text, len, *g };
	q->head++;
}

int
evq_ready(const struct evq *q, struct evq_cursor *c)
{
	if (c->overflowed)
		return 1;
	while (c->seq < q->head && !visible(c, &q->ring[c->seq % EVQ_LINES_MAX].gate))
		c->seq++;
	return c->seq < q->head;
}

/* RFC 3339 UTC with milliseconds, now, as the audit log writes its times. */
static void
now_rfc3339(char out[40])
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 40 - n, ".%03ldZ", ts.tv_nsec / 1000000L);
}

size_t
evq_fill(struct evq *q, struct evq_cursor *c, char *buf, size_t size)
{
	const char *text;
	size_t pos = 0, n, len, *off;
	char when[40];

	while (pos < size && evq_ready(q, c)) {
		if (c->overflowed) {
			if (c->olen == 0) {
				now_rfc3339(when);
				c->olen = (size_t)snprintf(c->over, sizeof c->over,
				    "{\"event\":\"overflow\",\"generation\":%" PRIu64 ","
				    "\"time\":\"%s\"}\n", q->generation, when);
				c->ooff = 0;
			}
			text = c->over;
			len = c->olen;
			off = &c->ooff;
		} else {
			text = q->ring[c->seq % EVQ_LINES_MAX].text;
			len = q->ring[c->seq % EVQ_LINES_MAX].len;
			off = &c->off;
		}
		n = len - *off;
		if (pos > 0 && n > size - pos)
			break;		/* whole lines, unless one alone is too long */
		if (n > size - pos)
			n = size - pos;
		memcpy(buf + pos, text + *off, n);
		pos += n;
		if ((*off += n) < len)
			break;
		if (c->overflowed) {
			c->overflowed = 0;
			c->olen = 0;
			c->seq = q->head;
		} else {
			c->seq++;
		}
		c->off = 0;
	}
	return pos;
}
