/* fs/quota.c - per-user and total limits on what the daemon holds; see quota.h.
 *
 * One lock, one unordered array of the uids that hold something (a handful in
 * practice, QUOTA_USERS_MAX at most), scanned linearly. A refusal is logged at most once
 * a second per uid and kind, with the count of refusals not logged since, so a user who
 * keeps hitting a limit cannot flood the daemon's log either. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "quota.h"

#define LOG_EVERY_SECONDS	1

struct user {
	uid_t		 uid;
	size_t		 held[QUOTA_KINDS];
	time_t		 logged[QUOTA_KINDS];	/* monotonic seconds of the last line */
	unsigned long	 quiet[QUOTA_KINDS];	/* refusals not logged since */
};

struct quota {
	pthread_mutex_t	 lock;
	size_t		 user_max[QUOTA_KINDS];
	size_t		 total_max[QUOTA_KINDS];	/* 0: no total (pins: special.c) */
	size_t		 total[QUOTA_KINDS];		/* protected by lock */
	struct user	 v[QUOTA_USERS_MAX];		/* protected by lock; unordered */
	size_t		 n;				/* protected by lock */
	time_t		 logged_full;			/* protected by lock: table full */
};

static const char *const units[QUOTA_KINDS] = { "handles", "bytes", ".sandbox files",
	".events files" };

struct quota *
quota_new(size_t user_bytes)
{
	struct quota *q;

	if ((q = calloc(1, sizeof *q)) == NULL)
		return NULL;
	pthread_mutex_init(&q->lock, NULL);
	q->user_max[QUOTA_HANDLES] = QUOTA_USER_HANDLES;
	q->total_max[QUOTA_HANDLES] = QUOTA_TOTAL_HANDLES;
	q->user_max[QUOTA_BYTES] = user_bytes;
	q->total_max[QUOTA_BYTES] = user_bytes * QUOTA_TOTAL_FACTOR;
	q->user_max[QUOTA_PINS] = QUOTA_USER_PINS;
	q->user_max[QUOTA_EVENTS] = QUOTA_USER_EVENTS;
	q->total_max[QUOTA_EVENTS] = QUOTA_TOTAL_EVENTS;
	return q;
}

void
quota_free(struct quota *q)
{
	if (q == NULL)
		return;
	pthread_mutex_destroy(&q->lock);
	free(q);
}

/* uid's entry, made when make is set and there is room; NULL otherwise. Called with
 * q->lock held. */
static struct user *
user_at(struct quota *q, uid_t uid, int make)
{
	size_t i;

	for (i = 0; i < q->n; i++)
		if (q->v[i].uid == uid)
			return &q->v[i];
	if (!make || q->n == QUOTA_USERS_MAX)
		return NULL;
	memset(&q->v[q->n], 0, sizeof q->v[q->n]);
	q->v[q->n].uid = uid;
	return &q->v[q->n++];
}

/* Drops u when it holds nothing; called with q->lock held. */
static void
user_drop_if_idle(struct quota *q, struct user *u)
{
	int k;

	for (k = 0; k < QUOTA_KINDS; k++)
		if (u->held[k] != 0)
			return;
	*u = q->v[--q->n];	/* unordered: the last one takes its place */
}

static time_t
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

int
quota_take(struct quota *q, uid_t uid, enum quota_kind kind, size_t n, const char *what,
    pid_t pid)
{
	struct user *u;
	size_t held = 0, limit = 0;
	unsigned long quiet = 0;
	char more[64];
	int err = 0, say = 0, total = 0;
	time_t now;

	if (q == NULL)
		return 0;
	pthread_mutex_lock(&q->lock);
	if ((u = user_at(q, uid, 1)) == NULL) {
		err = kind == QUOTA_BYTES ? ENOMEM : ENFILE;
		total = 1;
		limit = QUOTA_USERS_MAX;
		held = q->n;
	} else if (n > q->user_max[kind] - u->held[kind] || u->held[kind] > q->user_max[kind]) {
		err = kind == QUOTA_BYTES ? EAGAIN : EMFILE;
		held = u->held[kind];
		limit = q->user_max[kind];
	} else if (q->total_max[kind] != 0 && n > q->total_max[kind] - q->total[kind]) {
		err = kind == QUOTA_BYTES ? ENOMEM : ENFILE;
		total = 1;
		held = q->total[kind];
		limit = q->total_max[kind];
	} else {
		u->held[kind] += n;
		q->total[kind] += n;
	}
	now = err != 0 ? now_seconds() : 0;
	if (err != 0 && u == NULL &&
	    (q->logged_full == 0 || now - q->logged_full >= LOG_EVERY_SECONDS)) {
		say = 1;
		q->logged_full = now;
	} else if (err != 0 && u != NULL) {
		if (u->logged[kind] == 0 || now - u->logged[kind] >= LOG_EVERY_SECONDS) {
			say = 1;
			quiet = u->quiet[kind];
			u->logged[kind] = now;
			u->quiet[kind] = 0;
		} else {
			u->quiet[kind]++;
		}
		user_drop_if_idle(q, u);
	}
	pthread_mutex_unlock(&q->lock);
	if (say && u == NULL)
		fslog("%s by uid %lu (pid %ld) refused (%s): %zu users hold handles, the "
		    "limit is %zu", what, (unsigned long)uid, (long)pid, strerror(err), held,
		    limit);
	else if (say) {
		more[0] = '\0';
		if (quiet > 0)
			snprintf(more, sizeof more, " (%lu more refused since the last line)",
			    quiet);
		fslog("%s by uid %lu (pid %ld) refused (%s): %s %zu %s, the limit %s is %zu%s",
		    what, (unsigned long)uid, (long)pid, strerror(err),
		    total ? "all users hold" : "it holds", held, units[kind],
		    total ? "in total" : "per user", limit, more);
	}
	return err;
}

void
quota_give(struct quota *q, uid_t uid, enum quota_kind kind, size_t n)
{
	struct user *u;

	if (q == NULL || n == 0)
		return;
	pthread_mutex_lock(&q->lock);
	if ((u = user_at(q, uid, 0)) != NULL) {
		u->held[kind] -= n < u->held[kind] ? n : u->held[kind];
		q->total[kind] -= n < q->total[kind] ? n : q->total[kind];
		user_drop_if_idle(q, u);
	}
	pthread_mutex_unlock(&q->lock);
}

size_t
quota_held(struct quota *q, uid_t uid, enum quota_kind kind)
{
	struct user *u;
	size_t n = 0;

	if (q == NULL)
		return 0;
	pthread_mutex_lock(&q->lock);
	if ((u = user_at(q, uid, 0)) != NULL)
		n = u->held[kind];
	pthread_mutex_unlock(&q->lock);
	return n;
}
