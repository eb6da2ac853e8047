/* crypto/secret.c - plaintext in guarded memory; see secret.h.
 *
 * Every plaintext byte comfysecrets handles lives in a sodium_malloc() region: guard
 * pages around it, mlock'd so it is not swapped, wiped by sodium_free(). Reading from a
 * file descriptor grows the region by copying into a new guarded region and wiping the
 * old one, never through realloc() on the ordinary heap. This module knows nothing of
 * providers or fields.
 *
 * The slot pool (secret.h): at most SLOT_POOL_MAX wiped slots wait for reuse, under
 * pool_lock; more are handed back to sodium_free(). A slot is wiped whole when it is
 * returned, whatever the secret's len says. */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "secret.h"

#define READ_CHUNK_BYTES	4096	/* first buffer of secret_read_fd */
#define SLOT_POOL_MAX		32	/* wiped slots kept for reuse */

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char *pool[SLOT_POOL_MAX];	/* protected by pool_lock */
static size_t npool;				/* protected by pool_lock */

/* sodium_malloc needs sodium_init(); it is cheap after the first call. */
static int
ready(void)
{
	return sodium_init() < 0 ? -1 : 0;
}

/* A wiped slot from the pool, or a new one; NULL when out of memory. */
static unsigned char *
slot_get(void)
{
	unsigned char *slot = NULL;

	pthread_mutex_lock(&pool_lock);
	if (npool > 0)
		slot = pool[--npool];
	pthread_mutex_unlock(&pool_lock);
	return slot != NULL ? slot : sodium_malloc(SECRET_SLOT_BYTES);
}

static void
slot_put(unsigned char *slot)
{
	sodium_memzero(slot, SECRET_SLOT_BYTES);
	pthread_mutex_lock(&pool_lock);
	if (npool < SLOT_POOL_MAX) {
		pool[npool++] = slot;
		slot = NULL;
	}
	pthread_mutex_unlock(&pool_lock);
	sodium_free(slot);	/* NULL is fine */
}

/* pooled: a small secret may take a slot (secret_read_fd grows its buffer, so not). */
static struct secret *
alloc(size_t len, int pooled)
{
	/* At least one byte, so buf is never NULL and never a shared zero-size pointer. */
	size_t n = len > 0 ? len : 1;
	struct secret *s;

	if (ready() == -1) {
		errno = ENOMEM;
		return NULL;
	}
	if ((s = malloc(sizeof *s)) == NULL)
		return NULL;
	if (pooled && n <= SECRET_SLOT_BYTES) {
		/* The bytes end where the slot does, against the guard page. */
		s->slot = slot_get();
		s->buf = s->slot != NULL ? s->slot + SECRET_SLOT_BYTES - n : NULL;
	} else {
		s->slot = NULL;
		s->buf = sodium_malloc(n);
	}
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
	if (s->slot != NULL)
		slot_put(s->slot);	/* wipes the whole slot */
	else
		sodium_free(s->buf);	/* wipes the whole region, too */
	s->buf = s->slot = NULL;
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

int
secret_equal(const struct secret *a, const struct secret *b)
{
	if (a->len != b->len)
		return 0;
	if (a->len == 0)
		return 1;
	return sodium_memcmp(a->buf, b->buf, a->len) == 0;
}

void
secret_wipe_free(void *p)
{
	if (p == NULL)
		return;
	sodium_memzero(p, malloc_usable_size(p));
	free(p);
}
