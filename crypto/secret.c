/* crypto/secret.c - plaintext in guarded memory; see secret.h.
 *
 * Every plaintext byte comfysecrets handles lives in a sodium_malloc() region: guard
 * pages around it, mlock'd so it is not swapped, wiped by sodium_free(). Reading from a
 * file descriptor grows the region by copying into a new guarded region and wiping the
 * old one, never through realloc() on the ordinary heap. This module knows nothing of
 * providers or fields.
 *
 * Shared regions (secret.h): size classes of 64 << k bytes up to SECRET_CHUNK_MAX. Each
 * class keeps a list of regions ("slabs"), those with a free chunk first, full ones
 * last, so taking a chunk looks at the head only. A slab's bookkeeping (its bitmap of
 * used chunks) lives on the ordinary heap, never in the guarded region. All of it is
 * under slab_lock. */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "secret.h"

#define READ_CHUNK_BYTES	4096	/* first buffer of secret_read_fd */
#define CHUNK_MIN_BYTES		64	/* the smallest class */
#define NCLASSES		11	/* 64 B .. 64 KiB */
#define SLAB_CHUNKS_MIN		4	/* chunks of a slab of the largest classes */
#define SLAB_CHUNKS_MAX		(SECRET_SLAB_BYTES / CHUNK_MIN_BYTES)
#define WORD_BITS		64

struct slab {
	struct slab	*prev, *next;	/* in its class's list */
	unsigned char	*base;		/* sodium_malloc'd: nchunks * chunk bytes */
	size_t		 chunk;		/* bytes of each chunk */
	unsigned	 nchunks, nused;
	uint64_t	 used[SLAB_CHUNKS_MAX / WORD_BITS];	/* one bit per chunk */
};

struct slab_class {
	struct slab	*head, *tail;	/* partly free first, full last */
	size_t		 nslabs;
};

static pthread_mutex_t slab_lock = PTHREAD_MUTEX_INITIALIZER;
static struct slab_class classes[NCLASSES];	/* protected by slab_lock */

/* sodium_malloc needs sodium_init(); it is cheap after the first call. */
static int
ready(void)
{
	return sodium_init() < 0 ? -1 : 0;
}

static size_t
class_of(size_t n)
{
	size_t c = 0;

	while (((size_t)CHUNK_MIN_BYTES << c) < n)
		c++;
	return c;
}

static void
unlink_slab(struct slab_class *c, struct slab *sl)
{
	if (sl->prev != NULL)
		sl->prev->next = sl->next;
	else
		c->head = sl->next;
	if (sl->next != NULL)
		sl->next->prev = sl->prev;
	else
		c->tail = sl->prev;
	sl->prev = sl->next = NULL;
}

static void
push_front(struct slab_class *c, struct slab *sl)
{
	sl->prev = NULL;
	sl->next = c->head;
	if (c->head != NULL)
		c->head->prev = sl;
	else
		c->tail = sl;
	c->head = sl;
}

static void
push_back(struct slab_class *c, struct slab *sl)
{
	sl->next = NULL;
	sl->prev = c->tail;
	if (c->tail != NULL)
		c->tail->next = sl;
	else
		c->head = sl;
	c->tail = sl;
}

/* A new empty slab of class k; NULL when out of memory. Called with slab_lock held. */
static struct slab *
slab_new(size_t k)
{
	size_t chunk = (size_t)CHUNK_MIN_BYTES << k, n = SECRET_SLAB_BYTES / chunk;
	struct slab *sl;

	if (n < SLAB_CHUNKS_MIN)
		n = SLAB_CHUNKS_MIN;
	if ((sl = calloc(1, sizeof *sl)) == NULL)
		return NULL;
	if ((sl->base = sodium_malloc(n * chunk)) == NULL) {
		free(sl);
		return NULL;
	}
	sl->chunk = chunk;
	sl->nchunks = (unsigned)n;
	return sl;
}

/* A zeroed chunk of at least n bytes in a shared slab, and that slab in *slab; NULL
 * when out of memory. */
static unsigned char *
chunk_get(size_t n, struct slab **slab)
{
	struct slab_class *c = &classes[class_of(n)];
	struct slab *sl;
	unsigned i;
	unsigned char *p = NULL;

	pthread_mutex_lock(&slab_lock);
	if ((sl = c->head) == NULL || sl->nused == sl->nchunks) {
		if ((sl = slab_new(class_of(n))) == NULL)
			goto out;
		push_front(c, sl);
		c->nslabs++;
	}
	for (i = 0; sl->used[i / WORD_BITS] == UINT64_MAX; i += WORD_BITS)
		;	/* a slab at the head has a free chunk */
	i += (unsigned)__builtin_ctzll(~sl->used[i / WORD_BITS]);
	sl->used[i / WORD_BITS] |= UINT64_C(1) << (i % WORD_BITS);
	if (++sl->nused == sl->nchunks) {
		unlink_slab(c, sl);	/* full: to the back, the head stays free */
		push_back(c, sl);
	}
	p = sl->base + (size_t)i * sl->chunk;
	*slab = sl;
out:
	pthread_mutex_unlock(&slab_lock);
	return p;	/* chunks are wiped when freed, and sodium_malloc'd ones start 0xdb */
}

/* Wipes chunk p of slab sl whole and gives it back; an emptied slab is unmapped unless
 * it is its class's last. */
static void
chunk_put(struct slab *sl, unsigned char *p)
{
	struct slab_class *c = &classes[class_of(sl->chunk)];
	unsigned i = (unsigned)((size_t)(p - sl->base) / sl->chunk);

	sodium_memzero(p, sl->chunk);
	pthread_mutex_lock(&slab_lock);
	sl->used[i / WORD_BITS] &= ~(UINT64_C(1) << (i % WORD_BITS));
	if (sl->nused-- == sl->nchunks) {
		unlink_slab(c, sl);	/* it has room again: to the front */
		push_front(c, sl);
	}
	if (sl->nused == 0 && c->nslabs > 1) {
		unlink_slab(c, sl);
		c->nslabs--;
	} else {
		sl = NULL;
	}
	pthread_mutex_unlock(&slab_lock);
	if (sl != NULL) {
		sodium_free(sl->base);	/* wiped already; sodium_free wipes again */
		free(sl);
	}
}

/* shared: a small secret may take a chunk (secret_read_fd grows its buffer, so not). */
static struct secret *
alloc(size_t len, int shared)
{
	/* At least one byte, so buf is never NULL and never a shared zero-size pointer. */
	size_t n = len > 0 ? len : 1;
	struct secret *s;
	struct slab *sl = NULL;

	if (ready() == -1) {
		errno = ENOMEM;
		return NULL;
	}
	if ((s = malloc(sizeof *s)) == NULL)
		return NULL;
	if (shared && n <= SECRET_CHUNK_MAX)
		s->buf = chunk_get(n, &sl);
	else
		s->buf = sodium_malloc(n);
	s->slab = sl;
	if (s->buf == NULL) {
		free(s);
		errno = ENOMEM;
		return NULL;
	}
	memset(s->buf, 0, n);
	s->len = len;
	return s;
}

struct secret *
secret_new(size_t len)
{
	return alloc(len, 1);
}

struct secret *
secret_dup(const void *p, size_t len)
{
	struct secret *s;

	if ((s = secret_new(len)) == NULL)
		return NULL;
	if (len > 0)
		memcpy(s->buf, p, len);
	return s;
}

void
secret_free(struct secret *s)
{
	if (s == NULL)
		return;
	sodium_memzero(s->buf, s->len);
	if (s->slab != NULL)
		chunk_put(s->slab, s->buf);	/* wipes the whole chunk */
	else
		sodium_free(s->buf);	/* wipes the whole region, too */
	s->buf = NULL;
	s->slab = NULL;
	s->len = 0;
	free(s);
}

/* A larger guarded buffer holding the first len bytes of old; old is wiped and freed. */
static unsigned char *
grow(unsigned char *old, size_t len, size_t cap)
{
	unsigned char *nb;

	if ((nb = sodium_malloc(cap)) == NULL)
		return NULL;
	memcpy(nb, old, len);
	sodium_memzero(old, len);
	sodium_free(old);
	return nb;
}

int
secret_read_fd(int fd, size_t max, const char *what, struct secret **out, struct cs_err *e)
{
	struct secret *s = NULL;
	unsigned char *nb;
	size_t cap, len = 0, limit;
	ssize_t n;

	*out = NULL;
	/* Reading one byte past max tells "exactly max" from "more than max". */
	limit = max < SIZE_MAX ? max + 1 : max;
	cap = limit < READ_CHUNK_BYTES ? limit : READ_CHUNK_BYTES;
	if ((s = alloc(cap, 0)) == NULL)
		return cs_err_sys(e, ENOMEM, "%s", what);
	for (;;) {
		if (len == cap) {
			if (cap == limit)
				break;
			cap = cap > limit / 2 ? limit : cap * 2;
			if ((nb = grow(s->buf, len, cap)) == NULL) {
				cs_err_sys(e, ENOMEM, "%s", what);
				goto fail;
			}
			s->buf = nb;
			s->len = cap;
		}
		n = read(fd, s->buf + len, cap - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			cs_err_sys(e, errno, "%s: cannot read", what);
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max) {
		cs_err_set(e, EFBIG, "%s: more than the limit of %zu bytes", what, max);
		goto fail;
	}
	/* The region may be larger than len; the bytes past len are zero or wiped later. */
	sodium_memzero(s->buf + len, s->len - len);
	s->len = len;
	*out = s;
	return 0;
fail:
	secret_free(s);	/* s->len covers every byte read so far */
	return -1;
}

void
secret_wipe_free(void *p)
{
	if (p == NULL)
		return;
	sodium_memzero(p, malloc_usable_size(p));
	free(p);
}
