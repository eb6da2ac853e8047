/* fleet/manifest.h - the signed manifest: what one published generation of a fleet is.
 *
 * The manifest names the fleet, its generation (strictly increasing), the fingerprint of
 * the vault key, the length and BLAKE2b-256 hash of every chunk of the vault file in
 * order, the BLAKE2b-256 hash of every host's sealed key, and not_after (a Unix time
 * after which no member applies it). It is a short text, one item per line, followed by
 * an Ed25519 signature of all the bytes before the signature line; the exact grammar is
 * in docs/fleet.md ("Manifest format"). Encoding is canonical: fleet_manifest_open()
 * re-encodes what it parsed and refuses a text that differs from the signed bytes, so
 * one manifest has exactly one byte form.
 *
 * Nothing here reads the network or knows the vault key. */
#ifndef CS_FLEET_MANIFEST_H
#define CS_FLEET_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "../crypto/err.h"
#include "../crypto/key.h"
#include "keys.h"

#define FLEET_MANIFEST_MAGIC	"comfysecrets-fleet-manifest 1"
#define FLEET_NAME_MAX		64		/* bytes of a fleet or host name */
#define FLEET_HASH_BYTES	32		/* BLAKE2b-256 */
#define FLEET_CHUNK_BYTES	(1u << 20)	/* one chunk: 1 MiB, 1.33 MiB as base64 on
						 * etcd's JSON gateway, under its 1.5 MiB limit */
#define FLEET_CHUNKS_MAX	256		/* so a vault of at most 256 MiB */
#define FLEET_HOSTS_MAX		10000		/* enrolled hosts in one manifest */
#define FLEET_MANIFEST_MAX_BYTES (3u << 19)	/* 1.5 MiB, etcd's default request limit:
						 * a longer manifest is refused unread */

struct fleet_chunk {
	uint32_t	len;				/* bytes, 1 .. FLEET_CHUNK_BYTES */
	unsigned char	hash[FLEET_HASH_BYTES];
};

struct fleet_mhost {
	char		name[FLEET_NAME_MAX + 1];
	unsigned char	hash[FLEET_HASH_BYTES];		/* of its sealed key, as stored */
};

struct fleet_manifest {
	char			 fleet[FLEET_NAME_MAX + 1];
	uint64_t		 generation;		/* >= 1 */
	char			 fpr[KEY_FPR_HEX + 1];	/* of the vault key (crypto/key.h) */
	int64_t			 not_after;		/* Unix seconds */
	struct fleet_chunk	*chunks;		/* in file order */
	size_t			 nchunks;		/* 1 .. FLEET_CHUNKS_MAX */
	struct fleet_mhost	*hosts;			/* sorted by name, unique */
	size_t			 nhosts;		/* 0 .. FLEET_HOSTS_MAX */
};

/* 1 if s is a valid fleet or host name: the vault's name rule ([a-z0-9][a-z0-9._-]{0,63},
 * no ".."; crypto/vault.h vault_name_ok). */
int	fleet_name_ok(const char *s);
/* BLAKE2b-256 of len bytes at p (unkeyed). */
void	fleet_hash(const void *p, size_t len, unsigned char out[FLEET_HASH_BYTES]);

/* Encodes m and signs it with s: *out (malloc'd, caller frees) gets the manifest text,
 * *len its bytes. EINVAL when m breaks a rule above (names, counts, order). */
int	fleet_manifest_sign(const struct fleet_manifest *m, const struct fleet_signer *s,
	    char **out, size_t *len, struct cs_err *e) CS_WUR;
/* Verifies the signature over buf with the admin's public key first, then parses.
 * Errors (the message is the reason audited as fleet_update_refused):
 * EFBIG longer than FLEET_MANIFEST_MAX_BYTES; EBADMSG no signature line, or a signature
 * that does not verify; EINVAL a signed text that breaks the grammar or is not in
 * canonical form. Caller frees *out with fleet_manifest_free(). */
int	fleet_manifest_open(const void *buf, size_t len, const unsigned char pk[FLEET_PUB_BYTES],
	    struct fleet_manifest **out, struct cs_err *e) CS_WUR;
/* The host entry called name, or NULL. */
const struct fleet_mhost *fleet_manifest_host(const struct fleet_manifest *m,
	    const char *name);
void	fleet_manifest_free(struct fleet_manifest *m);	/* NULL is fine */

#endif
