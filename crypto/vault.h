/* crypto/vault.h - the vault file: open, verify, reveal one field, change, save, rekey.
 *
 * A vault is one JSON document whose values are encrypted field by field
 * (XChaCha20-Poly1305, associated data "provider/field") and whose whole content is
 * covered by a keyed BLAKE2b MAC, checked before anything is served. A struct vault
 * holds ciphertext only, plus the subkeys derived from the master key (in sodium_malloc
 * memory); a field is decrypted only by vault_reveal(). Providers and fields are kept
 * sorted by name, so indexes are stable for a given vault value.
 *
 * Not thread-safe for writers; any number of threads may call the const functions. */
#ifndef CS_VAULT_H
#define CS_VAULT_H

#include <stddef.h>
#include <stdint.h>

#include "../base/file.h"
#include "../base/name.h"
#include "err.h"
#include "key.h"
#include "secret.h"

#define VAULT_FORMAT		"comfysecrets-vault"
#define VAULT_VERSION		2		/* the format written */
#define VAULT_VERSION_OLD	1		/* still read: no versions or times */
#define VAULT_CIPHER		"xchacha20poly1305-ietf"
#define VAULT_NAME_MAX		CS_NAME_MAX	/* bytes of a provider or field name */
#define VAULT_VALUE_MAX_BYTES	(64u * 1024)	/* default limit of one value */
#define VAULT_VALUE_HARD_MAX	(16u << 20)	/* no config may raise it above this */
#define VAULT_FILE_MAX_BYTES	(512u << 20)	/* a bigger file is refused unread */
#define VAULT_MAC_HEX		64		/* hex digits of a vault's MAC */

struct vault;

/* 1 if name is a valid provider or field name: [a-z0-9][a-z0-9._-]{0,63}, no "..". */
int	vault_name_ok(const char *name) CS_NONNULL(1);
/* Like vault_name_ok, filling e with a message naming what ("provider", "field") and why. */
int	vault_name_check(const char *name, const char *what, struct cs_err *e)
	    CS_NONNULL(1) CS_WUR;

/* An empty vault (generation 0) for key k. Caller frees with vault_close(). */
int	vault_new(const struct key *k, struct vault **out, struct cs_err *e)
	    CS_NONNULL(1, 2) CS_WUR;
/* Reads path (O_NOFOLLOW), checks format, names and MAC with key k. Errors name path and
 * the reason: a wrong key is EKEYREJECTED ("key fingerprint ... does not match"), a
 * failed MAC or tampering EBADMSG, bad JSON or format EINVAL. */
int	vault_open(const char *path, const struct key *k, struct vault **out, struct cs_err *e)
	    CS_NONNULL(1, 2, 3) CS_WUR;
/* The same from bytes in memory; name is used in messages (fuzzing, tests). */
int	vault_parse(const char *buf, size_t len, const char *name, const struct key *k,
	    struct vault **out, struct cs_err *e) CS_NONNULL(3, 4, 5) CS_WUR;
/* The key fingerprint written in a vault file, without verifying anything (to pick a key). */
int	vault_peek_fingerprint(const char *path, char fpr[KEY_FPR_HEX + 1], struct cs_err *e)
	    CS_NONNULL(1, 2) CS_WUR;
void	vault_close(struct vault *v);		/* NULL is fine; wipes the subkeys */

uint64_t	 vault_generation(const struct vault *v) CS_NONNULL(1);
const char	*vault_fingerprint(const struct vault *v)
	    CS_NONNULL(1);	/* of the key it is under */
/* The vault's MAC in hex, the value its "mac" holds (as of the last save or open): it
 * covers everything in the vault, so two vaults of one generation differ here. Public,
 * like the file it is written in. */
void		 vault_mac_hex(const struct vault *v, char out[VAULT_MAC_HEX + 1])
	    CS_NONNULL(1, 2);

/* Enumeration: providers and fields in name order. Never decrypts. */
size_t		 vault_nproviders(const struct vault *v) CS_NONNULL(1);
const char	*vault_provider(const struct vault *v, size_t pi) CS_NONNULL(1);
size_t		 vault_nfields(const struct vault *v, size_t pi) CS_NONNULL(1);
const char	*vault_field(const struct vault *v, size_t pi, size_t fi) CS_NONNULL(1);
size_t		 vault_value_len(const struct vault *v, size_t pi, size_t fi)
	    CS_NONNULL(1);	/* plaintext */
/* An identity of the sealed value: 64 bits of its nonce (drawn afresh at each
 * encryption) and of its tag (which covers the ciphertext). Two sealings of the same
 * plaintext differ; an untouched field keeps its id from one save to the next. */
uint64_t	 vault_value_id(const struct vault *v, size_t pi, size_t fi) CS_NONNULL(1);
/* The field's version: one more at each change (vault_put), never given twice to one
 * name, also after vault_remove and a new vault_put: a new field starts at 1, or above
 * every version a removed field had once one was removed. 0 for a field read from a
 * VAULT_VERSION_OLD vault and not changed since: it changed before versions were kept. */
uint64_t	 vault_field_version(const struct vault *v, size_t pi, size_t fi)
	    CS_NONNULL(1);
/* When the field last changed (vault_put), in nanoseconds since the epoch (UTC); never
 * earlier than the change before it. 0 (unknown) where vault_field_version is 0. */
int64_t		 vault_field_mtime(const struct vault *v, size_t pi, size_t fi) CS_NONNULL(1);
/* Index lookup by name; -1 (and e set, ENOENT) when absent. With field NULL, looks up
 * the provider only (fi untouched); pi and fi may be NULL. */
int		 vault_find(const struct vault *v, const char *provider, const char *field,
		    size_t *pi, size_t *fi, struct cs_err *e) CS_NONNULL(1, 2) CS_WUR;

/* Decrypts one field into a new secret (caller frees with secret_free()). */
int	vault_reveal(const struct vault *v, const char *provider, const char *field,
	    struct secret **out, struct cs_err *e) CS_NONNULL(1, 2, 3, 4) CS_WUR;
int	vault_reveal_at(const struct vault *v, size_t pi, size_t fi, struct secret **out,
	    struct cs_err *e) CS_NONNULL(1, 4) CS_WUR;

/* Changes, in memory only until vault_save(). Names are checked; a value longer than
 * max_len (0: VAULT_VALUE_MAX_BYTES) is refused (EFBIG) naming provider and field. Every
 * put is a change, also of the same value: the field gets the next version (see
 * vault_field_version; EOVERFLOW past 2^63 - 1) and the time now (CLOCK_REALTIME, or
 * 1 ns after its last change when the clock is behind it). */
int	vault_put(struct vault *v, const char *provider, const char *field,
	    const struct secret *value, size_t max_len, struct cs_err *e)
	    CS_NONNULL(1, 2, 3, 4) CS_WUR;
/* Removes a field, or the whole provider when field is NULL; ENOENT when absent.
 * Removing a provider's last field removes the provider: no provider is ever empty.
 * The vault remembers the highest version it removed (one number, not the names). */
int	vault_remove(struct vault *v, const char *provider, const char *field, struct cs_err *e)
	    CS_NONNULL(1, 2) CS_WUR;
/* Re-encrypts every value under key nk (the vault then belongs to nk). Versions and
 * times stay: no value changes. */
int	vault_rekey(struct vault *v, const struct key *nk, struct cs_err *e)
	    CS_NONNULL(1, 2) CS_WUR;

/* Bumps the generation and writes the vault atomically: a temporary file in the same
 * folder, fsync, rename (or, with excl, link: refuses to replace an existing file), fsync
 * of the folder. A crash at any instant leaves the old file or the new one. The caller
 * holds the lock (vault_lock) when other writers may exist. The temporary file is
 * "<path>.tmp-<16 hex digits>". On failure the generation is as before, unless the new
 * file already took the name (only the folder's fsync failed). The file is written in
 * format VAULT_VERSION, also when v was read from a VAULT_VERSION_OLD file. */
int	vault_save(struct vault *v, const char *path, int excl, struct cs_err *e) CS_WUR;
/* vault_save, with pc (may be NULL) run between the temporary file's fsync and the
 * rename (file_write_atomic_then); vault_generation(v) is already the new generation
 * then. When pc fails nothing is renamed and the generation is as before. */
int	vault_save_then(struct vault *v, const char *path, int excl,
	    const struct file_precommit *pc, struct cs_err *e) CS_WUR;

/* Exclusive flock on "<path>.lock" (created 0600 if missing); returns the fd in *fd. */
int	vault_lock(const char *path, int *fd, struct cs_err *e) CS_NONNULL(1, 2) CS_WUR;
void	vault_unlock(int fd);

#endif
