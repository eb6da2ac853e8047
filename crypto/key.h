/* crypto/key.h - the master key: load, generate, store, fingerprint.
 *
 * The key is 32 random bytes, written as base64 (one line) in a key file or given in
 * COMFYVN_SECRETS_KEY. A key file that group or others can read is refused, as ssh does,
 * and it is opened O_NOFOLLOW. A struct key lives in sodium_malloc() memory; key_free()
 * wipes it. Subkeys for the vault are derived in vault.c, never stored. */
#ifndef CS_KEY_H
#define CS_KEY_H

#include <stddef.h>

#include "err.h"

#define KEY_BYTES		32	/* bytes of master key */
#define KEY_FPR_HEX		16	/* hex digits of fingerprint shown */
#define KEY_B64_MAX		64	/* bytes of base64 text, generous */
#define KEY_ENV			"COMFYVN_SECRETS_KEY"

struct key {
	unsigned char	bytes[KEY_BYTES];
	char		fpr[KEY_FPR_HEX + 1];	/* first 16 hex of SHA-256(bytes) */
};

/* A new random key. Caller frees with key_free(). */
int	key_generate(struct key **out, struct cs_err *e) CS_NONNULL(1) CS_WUR;
/* Parses base64 text (surrounding white space ignored); what names the source in errors
 * ("COMFYVN_SECRETS_KEY", a file name). The text is not echoed in any error. */
int	key_parse(const char *text, size_t len, const char *what, struct key **out,
	    struct cs_err *e) CS_NONNULL(3, 4) CS_WUR;
/* Reads a key file: O_NOFOLLOW, a regular file, not readable or writable by group or others. */
int	key_read_file(const char *path, struct key **out, struct cs_err *e)
	    CS_NONNULL(1, 2) CS_WUR;
/* Writes k as base64 to path, mode 0600, atomically (temporary file, fsync, rename, fsync
 * of the folder). With excl, refuses (EEXIST) to replace an existing file. */
int	key_write_file(const char *path, const struct key *k, int excl, struct cs_err *e)
	    CS_NONNULL(1, 2) CS_WUR;
/* The key from COMFYVN_SECRETS_KEY when set and non-empty, else from key_file.
 * *from_env tells which (may be NULL). */
int	key_load(const char *key_file, struct key **out, int *from_env, struct cs_err *e)
	    CS_NONNULL(2) CS_WUR;
/* Base64 text of the key into a sodium_malloc'd string; caller frees with key_text_free(). */
char	*key_text(const struct key *k) CS_NONNULL(1) CS_WUR;
void	 key_text_free(char *text);
void	 key_free(struct key *k);		/* NULL is fine */

#endif
