/* crypto/secret.h - a plaintext value in guarded memory.
 *
 * The bytes live in sodium_malloc() memory (guard pages, mlock'd, never in a core dump
 * once the process is undumpable) and are wiped by secret_free(). Nothing else in
 * comfysecrets holds plaintext outside a struct secret, except briefly on one stack frame.
 *
 * Small secrets (up to SECRET_SLOT_BYTES) live in one-page guarded slots that
 * secret_free() wipes whole and keeps in a small pool for the next secret_new(): a
 * sodium_malloc/sodium_free pair costs mmap, two mprotect, mlock, munlock and munmap,
 * each a TLB shootdown in a threaded daemon, and the daemon makes one per open. A
 * pooled slot stays guarded and locked; the value is placed at its end, against the
 * guard page, as sodium_malloc places it. The pool is thread-safe. */
#ifndef CS_SECRET_H
#define CS_SECRET_H

#include <stddef.h>

#include "err.h"

#define SECRET_SLOT_BYTES	4080	/* one page less sodium_malloc's 16-byte canary */

struct secret {
	size_t		 len;	/* bytes of plaintext */
	unsigned char	*buf;	/* sodium_malloc'd, at least 1 byte even when len == 0 */
	unsigned char	*slot;	/* private: the pooled slot buf lies in, or NULL */
};

/* A new zero-filled secret of len bytes; NULL (errno ENOMEM) on failure. */
struct secret	*secret_new(size_t len);
/* A new secret holding a copy of len bytes at p. */
struct secret	*secret_dup(const void *p, size_t len);
/* Wipes and frees; NULL is fine. */
void		 secret_free(struct secret *s);
/* Reads fd to EOF into a new secret; more than max bytes is an error (EFBIG) naming what. */
int		 secret_read_fd(int fd, size_t max, const char *what, struct secret **out,
		    struct cs_err *e);
/* Constant-time equality of two secrets (lengths compared first; a length is not secret). */
int		 secret_equal(const struct secret *a, const struct secret *b);

/* free() that first wipes the whole block (malloc_usable_size). Both programs install it
 * as jansson's free (json_set_alloc_funcs(malloc, secret_wipe_free)), so the parser's
 * internal buffers, which may have held a value or a key from a request or an import,
 * are wiped too. Blocks stay ordinary malloc blocks: free() on them is still right. */
void		 secret_wipe_free(void *p);

#endif
