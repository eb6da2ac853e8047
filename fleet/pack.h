/* fleet/pack.h - what one generation of a fleet is made of, and how a member checks it.
 *
 * In etcd, under the fleet's prefix P (docs/fleet.md, "What is in etcd"):
 *   P "manifest"                       the signed manifest (fleet/manifest.h)
 *   P "gen/" G "/chunk/" I             chunk I of the vault file (G, I: 20 and 6 digits)
 *   P "gen/" G "/key/" HOST            the vault key sealed to HOST (crypto_box_seal)
 * G is the manifest's generation, so a publish writes a whole new set of keys beside the
 * old one and the manifest, written last, switches to it.
 *
 * The sealed key is the vault key's base64 text (crypto/key.h) sealed with
 * crypto_box_seal to the host's X25519 public key: etcd sees neither a value nor a
 * usable key. The member opens it with its own key pair, and fleet_pack_check() then
 * checks the vault against it, its MAC and every field's AEAD. */
#ifndef CS_FLEET_PACK_H
#define CS_FLEET_PACK_H

#include <stddef.h>
#include <stdint.h>

#include "../crypto/err.h"
#include "../crypto/key.h"
#include "../crypto/vault.h"
#include "keys.h"
#include "manifest.h"

#define FLEET_KEY_TEXT_BYTES	44	/* base64 of the 32-byte vault key */
#define FLEET_SEALED_BYTES	(crypto_box_SEALBYTES + FLEET_KEY_TEXT_BYTES)
#define FLEET_ETCD_KEY_MAX	512	/* bytes of any etcd key we make, with the NUL */
#define FLEET_PREFIX_MAX	256	/* bytes of the configured prefix */

/* The etcd keys above, into out (FLEET_ETCD_KEY_MAX bytes). */
void	fleet_key_manifest(const char *prefix, char *out);
void	fleet_key_gen(const char *prefix, uint64_t gen, char *out);	/* P "gen/" G "/" */
void	fleet_key_chunk(const char *prefix, uint64_t gen, size_t i, char *out);
void	fleet_key_sealed(const char *prefix, uint64_t gen, const char *host, char *out);
/* The generation in a key under P "gen/", or 0 when key is not one of ours. */
uint64_t	fleet_key_generation(const char *prefix, const char *key);

/* Seals k to the host public key pk; out gets FLEET_SEALED_BYTES bytes. */
int	fleet_seal(const struct key *k, const unsigned char pk[FLEET_PUB_BYTES],
	    unsigned char out[FLEET_SEALED_BYTES], struct cs_err *e) CS_WUR;
/* Opens a sealed key with the host's key pair. EBADMSG when it is not sealed to this
 * host, or was changed; EINVAL when what it holds is not a key. Caller frees *out. */
int	fleet_unseal(const void *sealed, size_t len, const struct fleet_hostkey *h,
	    struct key **out, struct cs_err *e) CS_WUR;

/* Fills m's chunk list from the vault file's bytes. */
int	fleet_pack_chunks(const void *vault, size_t len, struct fleet_manifest *m,
	    struct cs_err *e) CS_WUR;
/* Checks chunk i (len bytes) against m: EBADMSG naming the chunk when length or hash
 * differ. */
int	fleet_pack_chunk_ok(const struct fleet_manifest *m, size_t i, const void *p,
	    size_t len, struct cs_err *e) CS_WUR;
/* Checks a sealed key against m's entry for host: ENOENT when host is not in m (it
 * was removed, or never enrolled), EBADMSG when the hash differs. */
int	fleet_pack_sealed_ok(const struct fleet_manifest *m, const char *host, const void *p,
	    size_t len, struct cs_err *e) CS_WUR;
/* The last checks on a member, with every hash already checked: k must have m's
 * fingerprint, the vault's bytes (the chunks joined) must parse under k with a good MAC
 * and name that fingerprint, and every field must decrypt (AEAD). Each value is wiped
 * as soon as it is checked. *out (may be NULL) gets the parsed vault. */
int	fleet_pack_check(const struct fleet_manifest *m, const struct key *k, const char *buf,
	    size_t len, struct vault **out, struct cs_err *e) CS_WUR;

#endif
