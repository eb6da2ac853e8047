/* crypto/vaultint.h - what vault.c (the model) and vaultparse.c (its text form) share.
 * Internal to the vault module: nothing outside crypto/vault*.c includes it, except the
 * differential fuzz target, which runs the two parsers side by side.
 *
 * In memory a vault is two sorted arrays, providers and within each its fields, holding
 * names and ciphertext (nonce || ciphertext || tag) on the ordinary heap, plus the two
 * subkeys derived from the master key in sodium_malloc() memory. */
#ifndef CS_VAULTINT_H
#define CS_VAULTINT_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "vault.h"

#define SUBKEY_BYTES	32
#define NONCE_BYTES	crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_BYTES	crypto_aead_xchacha20poly1305_ietf_ABYTES
#define CT_OVERHEAD	(NONCE_BYTES + TAG_BYTES)	/* bytes a sealed value adds */
#define MAC_BYTES	32
#define SHOWN_MAX	40	/* bytes of a hostile name echoed in a message */
#define SHOWN_BUF	CS_SHOW_BUF(SHOWN_MAX)

struct field {
	char		*name;
	unsigned char	*ct;		/* nonce || ciphertext || tag */
	size_t		 ctlen;
	uint64_t	 version;	/* 0: last changed before versions were kept */
	int64_t		 mtime;		/* ns since the epoch of the last change; 0 unknown */
};

struct provider {
	char		*name;
	struct field	*f;		/* sorted by name */
	size_t		 n, cap;
};

struct vault {
	char		*path;		/* for messages: the file read or last written */
	unsigned	 format;	/* VAULT_VERSION_OLD as read from such a file, else
					 * VAULT_VERSION (what vault_save writes) */
	uint64_t	 generation;
	uint64_t	 removed;	/* the highest version a removed field had */
	char		 fpr[KEY_FPR_HEX + 1];	/* of the key the values are under */
	unsigned char	*sk;		/* sodium_malloc: encryption subkey, then MAC subkey */
	struct provider	*p;		/* sorted by name; no provider is empty */
	size_t		 n, cap;
};

/* An empty vault under k, named name in messages; the subkeys derived. -1 and e set
 * (EIO, ENOMEM) on failure. */
int	vault_alloc(const struct key *k, const char *name, struct vault **out,
	    struct cs_err *e);
/* The MAC of v under its MAC subkey (its canonical form is in vault.c). */
void	vault_mac_compute(const struct vault *v, unsigned char mac[MAC_BYTES]);
/* arr with room for one more than n elements of size bytes: arr itself, a larger copy
 * (*cap updated), or NULL (arr still valid) when out of memory. */
void	*vault_grown(void *arr, size_t *cap, size_t n, size_t size);

/* The two parsers behind vault_parse() (vaultparse.c). The direct scanner fills v
 * (from vault_alloc) and returns 0, or -1 when it gives up (v then holds whatever was
 * read; free it). The jansson path is the reference, whose errors are the ones shown. */
int	vault_parse_fast(const char *buf, size_t len, const struct key *k, struct vault *v);
int	vault_parse_json(const char *buf, size_t len, const char *name, const struct key *k,
	    struct vault **out, struct cs_err *e);
/* v as text with mac, as vault_save() writes it; *len bytes, caller frees. NULL when out
 * of memory. */
char	*vault_text(const struct vault *v, const unsigned char mac[MAC_BYTES], size_t *len);

#endif
