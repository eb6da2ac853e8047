/* crypto/secret.h - a plaintext value in guarded memory.
 *
 * The bytes live in sodium_malloc() memory (guard pages, mlock'd, never in a core dump
 * once the process is undumpable) and are wiped by secret_free(). Nothing else in
 * comfysecrets holds plaintext outside a struct secret, except briefly on one stack frame.
 *
 * Small secrets (up to SECRET_CHUNK_MAX bytes) share guarded regions: each size class
 * (64 bytes, doubling up to SECRET_CHUNK_MAX) carves fixed chunks out of one
 * sodium_malloc'd region of at least SECRET_SLAB_BYTES, locked and guarded as a whole.
 * A region of its own costs four memory maps and mmap, two mprotect, mlock, munlock and
 * munmap (each a TLB shootdown in a threaded daemon), and a daemon that held one per
 * open file ran into the kernel's limit on maps (vm.max_map_count) at some 16 000 open
 * values; chunks cost nothing of the kind. The price: only the region, not each value,
 * has guard pages, so an overrun of one value reaches its neighbour before a guard page.
 * A freed chunk is wiped whole at once; an emptied region is unmapped (one per class
 * stays). Larger secrets, and secret_read_fd's growing buffer, get a region of their
 * own. Thread-safe. */
#ifndef CS_SECRET_H
#define CS_SECRET_H

#include <stddef.h>

#include "err.h"

#define SECRET_CHUNK_MAX	(64u * 1024)	/* bytes of the largest shared chunk */
#define SECRET_SLAB_BYTES	(64u * 1024)	/* bytes of a shared region, at least */

struct secret {
	size_t		 len;	/* bytes of plaintext */
	unsigned char	*buf;	/* guarded memory, at least 1 byte even when len == 0 */
	void		*slab;	/* private: the shared region buf lies in, or NULL */
};

/* A new zero-filled secret of len bytes; NULL (errno ENOMEM) on failure. */
struct secret	*secret_new(size_t len) CS_WUR;
/* A new secret holding a copy of len bytes at p. */
struct secret	*secret_dup(const void *p, size_t len) CS_WUR;
/* Wipes and frees; NULL is fine. */
void		 secret_free(struct secret *s);
/* Reads fd to EOF into a new secret; more than max bytes is an error (EFBIG) naming what. */
int		 secret_read_fd(int fd, size_t max, const char *what, struct secret **out,
		    struct cs_err *e) CS_NONNULL(3, 4) CS_WUR;

/* free() that first wipes the whole block (malloc_usable_size). Both programs install it
 * as jansson's free (json_set_alloc_funcs(malloc, secret_wipe_free)), so the parser's
 * internal buffers, which may have held a value or a key from a request or an import,
 * are wiped too. Blocks stay ordinary malloc blocks: free() on them is still right. */
void		 secret_wipe_free(void *p);

#endif
