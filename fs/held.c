/* fs/held.c - the field inodes the kernel holds; see held.h.
 *
 * A chained hash of inode number -> (lookup count, attributes), grown by doubling when
 * it holds more entries than buckets. An entry is a few dozen bytes; it is freed when
 * its count reaches 0. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "held.h"

#define HELD_MIN_BUCKETS	256	/* a power of two */

/* What lo_stat() fills in, kept small: a kernel that holds 100 000 inodes costs
 * 6.4 MB here (it spends far more on them itself). */
struct ent {
	struct ent	*next;
	uint64_t	 ino;
	uint64_t	 nlookup;
	uint64_t	 size;
	struct timespec	 time;		/* atime, mtime and ctime */
	uint32_t	 mode, uid, gid, nlink;
};

struct held {
	pthread_mutex_t	  lock;
	struct ent	**b;		/* protected by lock */
	size_t		  nb;		/* a power of two; protected by lock */
	size_t		  n;		/* protected by lock */
};

static size_t
slot(const struct held *h, uint64_t ino)
{
	return (size_t)((ino * 0x9E3779B97F4A7C15ULL) >> 32) & (h->nb - 1);
}

struct held *
held_new(void)
{
	struct held *h;

	if ((h = calloc(1, sizeof *h)) == NULL)
		return NULL;
	h->nb = HELD_MIN_BUCKETS;
	if ((h->b = calloc(h->nb, sizeof *h->b)) == NULL) {
		free(h);
		return NULL;
	}
	pthread_mutex_init(&h->lock, NULL);
	return h;
}

void
held_free(struct held *h)
{
	struct ent *e, *next;
	size_t i;

	if (h == NULL)
		return;
	for (i = 0; i < h->nb; i++)
		for (e = h->b[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	pthread_mutex_destroy(&h->lock);
	free(h->b);
	free(h);
}

/* Doubles the buckets; on ENOMEM the table stays as it is (only slower). */
static void
grow(struct held *h)
{
	struct held nh = { .nb = h->nb * 2 };
	struct ent *e, *next;
	size_t i, j;

	if ((nh.b = calloc(nh.nb, sizeof *nh.b)) == NULL)
		return;
	for (i = 0; i < h->nb; i++)
		for (e = h->b[i]; e != NULL; e = next) {
			next = e->next;
			j = slot(&nh, e->ino);
			e->next = nh.b[j];
			nh.b[j] = e;
		}
	free(h->b);
	h->b = nh.b;
	h->nb = nh.nb;
}

/* The link that points at ino's entry (at a NULL link when there is none). */
static struct ent **
find(struct held *h, uint64_t ino)
{
	struct ent **p;

	for (p = &h->b[slot(h, ino)]; *p != NULL; p = &(*p)->next)
		if ((*p)->ino == ino)
			break;
	return p;
}

static void
keep(struct ent *e, const struct stat *st)
{
	e->size = (uint64_t)st->st_size;
	e->time = st->st_mtim;
	e->mode = st->st_mode;
	e->uid = st->st_uid;
	e->gid = st->st_gid;
	e->nlink = (uint32_t)st->st_nlink;
}

int
held_lookup(struct held *h, const struct stat *st)
{
	struct ent **p, *e;
	int rc = 0;

	pthread_mutex_lock(&h->lock);
	if ((e = *(p = find(h, (uint64_t)st->st_ino))) != NULL) {
		e->nlookup++;
		keep(e, st);
	} else if ((e = malloc(sizeof *e)) == NULL) {
		rc = ENOMEM;
	} else {
		e->next = NULL;
		e->ino = (uint64_t)st->st_ino;
		e->nlookup = 1;
		keep(e, st);
		*p = e;
		if (++h->n > h->nb)
			grow(h);
	}
	pthread_mutex_unlock(&h->lock);
	return rc;
}

void
held_forget(struct held *h, uint64_t ino, uint64_t nlookup)
{
	struct ent **p, *e;

	pthread_mutex_lock(&h->lock);
	if ((e = *(p = find(h, ino))) != NULL) {
		if (e->nlookup > nlookup) {
			e->nlookup -= nlookup;
		} else {
			*p = e->next;
			free(e);
			h->n--;
		}
	}
	pthread_mutex_unlock(&h->lock);
}

int
held_stat(struct held *h, uint64_t ino, struct stat *st)
{
	struct ent *e;

	pthread_mutex_lock(&h->lock);
	if ((e = *find(h, ino)) != NULL)
		held_fill_stat(st, e->ino, e->mode, e->nlink, e->uid, e->gid, e->size, e->time);
	pthread_mutex_unlock(&h->lock);
	return e != NULL ? 0 : -1;
}

void
held_fill_stat(struct stat *st, uint64_t ino, mode_t mode, uint32_t nlink, uid_t uid,
    gid_t gid, uint64_t size, struct timespec t)
{
	memset(st, 0, sizeof *st);
	st->st_ino = ino;
	st->st_mode = mode;
	st->st_nlink = nlink;
	st->st_uid = uid;
	st->st_gid = gid;
	st->st_size = (off_t)size;
	st->st_blksize = HELD_BLKSIZE;
	st->st_blocks = (blkcnt_t)((size + 511) / 512);
	st->st_atim = st->st_mtim = st->st_ctim = t;
}

size_t
held_count(struct held *h)
{
	size_t n;

	pthread_mutex_lock(&h->lock);
	n = h->n;
	pthread_mutex_unlock(&h->lock);
	return n;
}
