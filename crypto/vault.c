/* crypto/vault.c - the vault file: parse, verify, reveal, change, save, rekey; see vault.h.
 *
 * In memory a vault is two sorted arrays, providers and within each its fields, holding
 * names and ciphertext (nonce || ciphertext || tag) on the ordinary heap, plus the two
 * subkeys derived from the master key in sodium_malloc() memory (read-only while not
 * being replaced). Lookups are binary searches. Plaintext exists only inside
 * vault_reveal*() results and, during vault_rekey(), one guarded scratch buffer.
 *
 * Integrity comes from two layers. Each value is sealed with XChaCha20-Poly1305 with
 * "provider/field" as associated data, so a value moved elsewhere does not decrypt. The
 * whole document is covered by a keyed BLAKE2b MAC over a canonical byte string (every
 * item length-prefixed, entries in name order), so a deleted, added, swapped or altered
 * entry, or a changed generation, is refused before any value is served. The JSON text
 * itself is never authenticated, only what it means, so whitespace and key order are free.
 *
 * Parsing is strict: unknown or duplicate keys, wrong types, bad names or base64 are
 * errors naming the file and the item. A hostile name is shown escaped and shortened.
 * This module knows nothing of key files, config or audit; store.c pairs vault and key. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "b64.h"
#include "file.h"
#include "vault.h"

#define KDF_CONTEXT	"csvault1"	/* crypto_kdf context: 8 bytes */
#define SUBKEY_ENC	1		/* crypto_kdf subkey id: value encryption */
#define SUBKEY_MAC	2		/* crypto_kdf subkey id: the document MAC */
#define SUBKEY_BYTES	32
#define NONCE_BYTES	crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_BYTES	crypto_aead_xchacha20poly1305_ietf_ABYTES
#define CT_OVERHEAD	(NONCE_BYTES + TAG_BYTES)	/* bytes a sealed value adds */
#define MAC_BYTES	32
_Static_assert(VAULT_MAC_HEX == 2 * MAC_BYTES, "VAULT_MAC_HEX is the MAC in hex");
#define AD_MAX		(2 * VAULT_NAME_MAX + 2)	/* "provider/field" and its NUL */
#define SHOWN_MAX	40	/* bytes of a hostile name echoed in a message */
#define SHOWN_BUF	CS_SHOW_BUF(SHOWN_MAX)
#define JERR_SHOWN_MAX	120	/* bytes of a jansson error text echoed */
#define ARRAY_MIN	8	/* first capacity of a growing array */
#define NAME_RULE	"[a-z0-9][a-z0-9._-]{0,63}"

_Static_assert(KEY_BYTES == crypto_kdf_KEYBYTES, "master key is a crypto_kdf key");
_Static_assert(SUBKEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "AEAD key");
_Static_assert(SUBKEY_BYTES >= crypto_generichash_KEYBYTES_MIN &&
    SUBKEY_BYTES <= crypto_generichash_KEYBYTES_MAX, "MAC key");
_Static_assert(sizeof KDF_CONTEXT - 1 == crypto_kdf_CONTEXTBYTES, "kdf context");

struct field {
	char		*name;
	unsigned char	*ct;		/* nonce || ciphertext || tag */
	size_t		 ctlen;
};

struct provider {
	char		*name;
	struct field	*f;		/* sorted by name */
	size_t		 n, cap;
};

struct vault {
	char		*path;		/* for messages: the file read or last written */
	uint64_t	 generation;
	char		 fpr[KEY_FPR_HEX + 1];	/* of the key the values are under */
	unsigned char	*sk;		/* sodium_malloc: encryption subkey, then MAC subkey */
	struct provider	*p;		/* sorted by name; no provider is empty */
	size_t		 n, cap;
};

static const char *const top_keys[] = {
	"format", "version", "cipher", "key_fingerprint", "generation", "providers", "mac",
};


/* 0 when name (len bytes, may hold NUL) is valid; else the reason, naming what, in msg. */
static int
name_why(const char *name, size_t len, const char *what, char *msg, size_t n)
{
	char shown[SHOWN_BUF];
	size_t i;
	int ok = len > 0 && len <= VAULT_NAME_MAX;

	for (i = 0; ok && i < len; i++) {
		char c = name[i];
		ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    (i > 0 && (c == '.' || c == '_' || c == '-'));
	}
	if (ok && memmem(name, len, "..", 2) == NULL)
		return 0;
	cs_show(name, len, SHOWN_MAX, shown, sizeof shown);
	if (len == 0)
		snprintf(msg, n, "%s name is empty: it must match %s", what, NAME_RULE);
	else if (memchr(name, '\0', len) != NULL)
		snprintf(msg, n, "%s \"%s\": contains a NUL byte", what, shown);
	else if (len > VAULT_NAME_MAX)
		snprintf(msg, n, "%s \"%s\": longer than %d bytes", what, shown, VAULT_NAME_MAX);
	else if (ok)
		snprintf(msg, n, "%s \"%s\": must not contain \"..\"", what, shown);
	else
		snprintf(msg, n, "%s \"%s\": must match %s", what, shown, NAME_RULE);
	return -1;
}

int
vault_name_ok(const char *name)
{
	char msg[CS_ERR_MSG_MAX];

	return name_why(name, strnlen(name, VAULT_NAME_MAX + 1), "name", msg, sizeof msg) == 0;
}

int
vault_name_check(const char *name, const char *what, struct cs_err *e)
{
	char msg[CS_ERR_MSG_MAX];

	if (name_why(name, strnlen(name, VAULT_NAME_MAX + 1), what, msg, sizeof msg) == 0)
		return 0;
	return cs_err_set(e, EINVAL, "%s", msg);
}

/* Binary searches: 1 and the index when found, else 0 and the insertion point. */
static int
pfind(const struct vault *v, const char *name, size_t *at)
{
	size_t lo = 0, hi = v->n, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((c = strcmp(name, v->p[mid].name)) == 0) {
			*at = mid;
			return 1;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	*at = lo;
	return 0;
}

static int
ffind(const struct provider *p, const char *name, size_t *at)
{
	size_t lo = 0, hi = p->n, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((c = strcmp(name, p->f[mid].name)) == 0) {
			*at = mid;
			return 1;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	*at = lo;
	return 0;
}

static int
pcmp(const void *a, const void *b)
{
	return strcmp(((const struct provider *)a)->name, ((const struct provider *)b)->name);
}

static int
fcmp(const void *a, const void *b)
{
	return strcmp(((const struct field *)a)->name, ((const struct field *)b)->name);
}

static void
provider_free(struct provider *p)
{
	size_t i;

	for (i = 0; i < p->n; i++) {
		free(p->f[i].name);
		free(p->f[i].ct);
	}
	free(p->f);
	free(p->name);
}

/* Both subkeys of k into sk (SUBKEY_BYTES * 2). */
static int
derive(unsigned char *sk, const struct key *k)
{
	if (crypto_kdf_derive_from_key(sk, SUBKEY_BYTES, SUBKEY_ENC, KDF_CONTEXT, k->bytes) != 0 ||
	    crypto_kdf_derive_from_key(sk + SUBKEY_BYTES, SUBKEY_BYTES, SUBKEY_MAC, KDF_CONTEXT,
	    k->bytes) != 0) {
		sodium_memzero(sk, SUBKEY_BYTES * 2);
		return -1;
	}
	return 0;
}

static int
vault_alloc(const struct key *k, const char *name, struct vault **out, struct cs_err *e)
{
	struct vault *v;

	*out = NULL;
	if (sodium_init() < 0)
		return cs_err_set(e, EIO, "%s: libsodium could not be initialised", name);
	if ((v = calloc(1, sizeof *v)) == NULL || (v->path = strdup(name)) == NULL ||
	    (v->sk = sodium_malloc(SUBKEY_BYTES * 2)) == NULL) {
		vault_close(v);
		return cs_err_sys(e, ENOMEM, "%s", name);
	}
	if (derive(v->sk, k) == -1) {
		vault_close(v);
		return cs_err_set(e, EIO, "%s: cannot derive the subkeys", name);
	}
	/* The subkeys only change in vault_rekey(); a stray write elsewhere faults. */
	sodium_mprotect_readonly(v->sk);
	memcpy(v->fpr, k->fpr, sizeof v->fpr);
	*out = v;
	return 0;
}

static void
ad_of(const char *provider, const char *field, char ad[AD_MAX], size_t *adlen)
{
	int n = snprintf(ad, AD_MAX, "%s/%s", provider, field);

	assert(n > 0 && n < AD_MAX);
	*adlen = (size_t)n;
}

/* Seals len bytes at pt for provider/field under the encryption subkey enc. */
static unsigned char *
seal(const unsigned char *enc, const char *provider, const char *field,
    const unsigned char *pt, size_t len, size_t *ctlen)
{
	char ad[AD_MAX];
	size_t adlen;
	unsigned char *ct;

	ad_of(provider, field, ad, &adlen);
	if ((ct = malloc(len + CT_OVERHEAD)) == NULL)
		return NULL;
	randombytes_buf(ct, NONCE_BYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(ct + NONCE_BYTES, NULL, pt, len,
	    (const unsigned char *)ad, adlen, NULL, ct, enc);
	*ctlen = len + CT_OVERHEAD;
	return ct;
}

/* Opens a sealed value into pt (ctlen - CT_OVERHEAD bytes); -1 when it does not verify. */
static int
unseal(const unsigned char *enc, const char *provider, const char *field,
    const unsigned char *ct, size_t ctlen, unsigned char *pt)
{
	char ad[AD_MAX];
	size_t adlen;

	ad_of(provider, field, ad, &adlen);
	return crypto_aead_xchacha20poly1305_ietf_decrypt(pt, NULL, NULL, ct + NONCE_BYTES,
	    ctlen - NONCE_BYTES, (const unsigned char *)ad, adlen, ct, enc);
}

static void
mac_u64(crypto_generichash_state *st, uint64_t x)
{
	unsigned char b[8];
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (unsigned char)(x >> (8 * i));
	crypto_generichash_update(st, b, sizeof b);
}

static void
mac_bytes(crypto_generichash_state *st, const void *p, size_t len)
{
	mac_u64(st, len);
	crypto_generichash_update(st, p, len);
}

/* The MAC of v under its MAC subkey. The canonical form: format, version, cipher,
 * fingerprint, generation, the number of providers, then per provider its name and number
 * of fields, then per field its name and ciphertext; strings are prefixed with their
 * length and numbers are 8 bytes little-endian, so no two vaults share a byte string. */
static void
mac_compute(const struct vault *v, unsigned char mac[MAC_BYTES])
{
	crypto_generichash_state st;
	const struct provider *p;
	size_t i, j;

	crypto_generichash_init(&st, v->sk + SUBKEY_BYTES, SUBKEY_BYTES, MAC_BYTES);
	mac_bytes(&st, VAULT_FORMAT, strlen(VAULT_FORMAT));
	mac_u64(&st, VAULT_VERSION);
	mac_bytes(&st, VAULT_CIPHER, strlen(VAULT_CIPHER));
	mac_bytes(&st, v->fpr, strlen(v->fpr));
	mac_u64(&st, v->generation);
	mac_u64(&st, v->n);
	for (i = 0; i < v->n; i++) {
		p = &v->p[i];
		mac_bytes(&st, p->name, strlen(p->name));
		mac_u64(&st, p->n);
		for (j = 0; j < p->n; j++) {
			mac_bytes(&st, p->f[j].name, strlen(p->f[j].name));
			mac_bytes(&st, p->f[j].ct, p->f[j].ctlen);
		}
	}
	crypto_generichash_final(&st, mac, MAC_BYTES);
	sodium_memzero(&st, sizeof st);
}

/* A JSON object key as a C string, refusing one with a NUL byte inside. */
static int
json_name(void *it, const char *path, const char *what, const char **name, struct cs_err *e)
{
	char msg[CS_ERR_MSG_MAX];
	const char *k = json_object_iter_key(it);
	size_t len = json_object_iter_key_len(it);

	if (name_why(k, len, what, msg, sizeof msg) == -1)
		return cs_err_set(e, EINVAL, "%s: %s", path, msg);
	*name = k;
	return 0;
}

static int
check_top_keys(json_t *root, const char *path, struct cs_err *e)
{
	char shown[SHOWN_BUF];
	const char *k;
	size_t i, len;
	void *it;

	for (it = json_object_iter(root); it != NULL; it = json_object_iter_next(root, it)) {
		k = json_object_iter_key(it);
		len = json_object_iter_key_len(it);
		for (i = 0; i < sizeof top_keys / sizeof top_keys[0]; i++)
			if (len == strlen(top_keys[i]) && memcmp(k, top_keys[i], len) == 0)
				break;
		if (i == sizeof top_keys / sizeof top_keys[0]) {
			cs_show(k, len, SHOWN_MAX, shown, sizeof shown);
			return cs_err_set(e, EINVAL, "%s: unknown key \"%s\" at the top level",
			    path, shown);
		}
	}
	return 0;
}

static int
fpr_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return i == KEY_FPR_HEX;
}

/* The header items, in the order a reader needs them: what the file is, then whose. */
static int
parse_header(json_t *root, const char *path, const struct key *k, struct vault *v,
    struct cs_err *e)
{
	json_t *j;
	json_int_t gen;

	j = json_object_get(root, "format");
	if (!json_is_string(j) || strcmp(json_string_value(j), VAULT_FORMAT) != 0)
		return cs_err_set(e, EINVAL, "%s: not a comfysecrets vault (\"format\" is not "
		    "\"%s\")", path, VAULT_FORMAT);
	j = json_object_get(root, "version");
	if (!json_is_integer(j))
		return cs_err_set(e, EINVAL, "%s: \"version\" is missing or not an integer",
		    path);
	if (json_integer_value(j) != VAULT_VERSION)
		return cs_err_set(e, EINVAL, "%s: vault version %lld is not supported (this "
		    "program reads version %d)", path, (long long)json_integer_value(j),
		    VAULT_VERSION);
	j = json_object_get(root, "cipher");
	if (!json_is_string(j) || strcmp(json_string_value(j), VAULT_CIPHER) != 0)
		return cs_err_set(e, EINVAL, "%s: \"cipher\" must be \"%s\"", path, VAULT_CIPHER);
	j = json_object_get(root, "key_fingerprint");
	if (!json_is_string(j) || !fpr_ok(json_string_value(j)))
		return cs_err_set(e, EINVAL, "%s: \"key_fingerprint\" must be %d lowercase hex "
		    "digits", path, KEY_FPR_HEX);
	/* Before anything is verified: a wrong key is the likeliest mistake, say so. */
	if (strcmp(json_string_value(j), k->fpr) != 0)
		return cs_err_set(e, EKEYREJECTED, "%s: key fingerprint %s does not match the "
		    "vault's %s (wrong key?)", path, k->fpr, json_string_value(j));
	j = json_object_get(root, "generation");
	if (!json_is_integer(j) || (gen = json_integer_value(j)) < 0)
		return cs_err_set(e, EINVAL, "%s: \"generation\" must be a non-negative integer",
		    path);
	v->generation = (uint64_t)gen;
	return 0;
}

/* base64(nonce || ciphertext || tag) of provider/field into f->ct. */
static int
parse_value(json_t *j, const char *path, const char *pname, struct field *f,
    struct cs_err *e)
{
	const char *s, *end;
	size_t slen;

	if (!json_is_string(j))
		return cs_err_set(e, EINVAL, "%s: %s/%s: the value must be a base64 string", path,
		    pname, f->name);
	s = json_string_value(j);
	slen = json_string_length(j);
	if ((f->ct = malloc(slen / 4 * 3 + 3)) == NULL)
		return cs_err_sys(e, ENOMEM, "%s", path);
	if (!b64_text_ok(s, slen) ||
	    sodium_base642bin(f->ct, slen / 4 * 3 + 3, s, slen, NULL, &f->ctlen, &end,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || end != s + slen)
		return cs_err_set(e, EINVAL, "%s: %s/%s: the value is not valid base64", path,
		    pname, f->name);
	if (f->ctlen < CT_OVERHEAD)
		return cs_err_set(e, EINVAL, "%s: %s/%s: the ciphertext is too short to hold a "
		    "nonce and a tag", path, pname, f->name);
	if (f->ctlen - CT_OVERHEAD > VAULT_VALUE_HARD_MAX)
		return cs_err_set(e, EINVAL, "%s: %s/%s: the value is over the hard limit of %u "
		    "bytes", path, pname, f->name, VAULT_VALUE_HARD_MAX);
	return 0;
}

static int
parse_provider(json_t *jp, const char *path, struct provider *p, struct cs_err *e)
{
	struct field *f;
	const char *name;
	void *it;

	if (!json_is_object(jp))
		return cs_err_set(e, EINVAL, "%s: provider %s: must be an object of fields", path,
		    p->name);
	if (json_object_size(jp) == 0)
		return cs_err_set(e, EINVAL, "%s: provider %s has no fields", path, p->name);
	if ((p->f = calloc(json_object_size(jp), sizeof *p->f)) == NULL)
		return cs_err_sys(e, ENOMEM, "%s", path);
	p->cap = json_object_size(jp);
	for (it = json_object_iter(jp); it != NULL; it = json_object_iter_next(jp, it)) {
		if (json_name(it, path, "field", &name, e) == -1)
			return -1;
		assert(p->n < p->cap);
		f = &p->f[p->n];
		if ((f->name = strdup(name)) == NULL)
			return cs_err_sys(e, ENOMEM, "%s", path);
		p->n++;		/* from here vault_close() frees it */
		if (parse_value(json_object_iter_value(it), path, p->name, f, e) == -1)
			return -1;
	}
	if (p->n > 1)
		qsort(p->f, p->n, sizeof *p->f, fcmp);
	return 0;
}

static int
parse_providers(json_t *root, const char *path, struct vault *v, struct cs_err *e)
{
	json_t *jps = json_object_get(root, "providers");
	struct provider *p;
	const char *name;
	void *it;

	if (!json_is_object(jps))
		return cs_err_set(e, EINVAL, "%s: \"providers\" is missing or not an object",
		    path);
	if (json_object_size(jps) > 0 &&
	    (v->p = calloc(json_object_size(jps), sizeof *v->p)) == NULL)
		return cs_err_sys(e, ENOMEM, "%s", path);
	v->cap = json_object_size(jps);
	for (it = json_object_iter(jps); it != NULL; it = json_object_iter_next(jps, it)) {
		if (json_name(it, path, "provider", &name, e) == -1)
			return -1;
		assert(v->n < v->cap);
		p = &v->p[v->n];
		if ((p->name = strdup(name)) == NULL)
			return cs_err_sys(e, ENOMEM, "%s", path);
		v->n++;
		if (parse_provider(json_object_iter_value(it), path, p, e) == -1)
			return -1;
	}
	if (v->n > 1)
		qsort(v->p, v->n, sizeof *v->p, pcmp);
	return 0;
}

static int
check_mac(json_t *root, const char *path, const struct vault *v, struct cs_err *e)
{
	unsigned char want[MAC_BYTES], got[MAC_BYTES];
	json_t *j = json_object_get(root, "mac");
	const char *s, *end;
	size_t len = 0;
	int rc = -1;

	if (j == NULL)
		return cs_err_set(e, EBADMSG, "%s: the vault has no \"mac\": it was altered or is "
		    "not a comfysecrets vault", path);
	s = json_string_value(j);	/* NULL when not a string */
	if (s == NULL || !b64_text_ok(s, json_string_length(j)) ||
	    sodium_base642bin(got, sizeof got, s, json_string_length(j), NULL,
	    &len, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    end != s + json_string_length(j) || len != MAC_BYTES) {
		cs_err_set(e, EBADMSG, "%s: \"mac\" is not base64 of %d bytes: the vault was "
		    "altered", path, MAC_BYTES);
		goto out;
	}
	mac_compute(v, want);
	/* Constant time: a timing difference must not tell a forger how close he came. */
	if (crypto_verify_32(want, got) != 0) {
		cs_err_set(e, EBADMSG, "%s: MAC does not verify: the vault was altered or is not "
		    "under this key", path);
		goto out;
	}
	rc = 0;
out:
	sodium_memzero(want, sizeof want);
	return rc;
}

/* The fast path of vault_parse(). A vault as this program writes it (or any JSON text
 * with the same meaning whose strings need no escape) is read straight from the bytes:
 * jansson would build a node for every name and value first, and at 100 000 fields
 * that is most of the time a daemon takes to start or reload, and a `set` to run. It
 * takes only what is plainly valid: each check of the jansson path is made here too,
 * and on anything else (an escape, a byte outside printable ASCII, a number that is
 * not plain digits, a duplicate or unknown key, a bad name, base64 or MAC) it gives up
 * and the jansson path reads the document again, so every error keeps its one
 * message. 0 when v is filled, -1 to fall back (v then holds whatever was read). */
struct scan {
	const char	*p, *end;
};

static void	*grown(void *arr, size_t *cap, size_t n, size_t size);

static void
scan_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\t' ||
	    *s->p == '\r'))
		s->p++;
}

static int
scan_char(struct scan *s, char c)
{
	scan_ws(s);
	if (s->p == s->end || *s->p != c)
		return 0;
	s->p++;
	return 1;
}

/* A string of printable ASCII without escapes. */
static int
scan_str(struct scan *s, const char **str, size_t *len)
{
	const char *q;

	if (!scan_char(s, '"'))
		return 0;
	for (q = s->p; q < s->end && *q != '"'; q++)
		if (*q < 0x20 || *q > 0x7e || *q == '\\')
			return 0;
	if (q == s->end)
		return 0;
	*str = s->p;
	*len = (size_t)(q - s->p);
	s->p = q + 1;
	return 1;
}

/* Plain digits, no leading zero, at most LLONG_MAX (what jansson takes as an integer). */
static int
scan_uint(struct scan *s, uint64_t *out)
{
	uint64_t x = 0;
	const char *start;

	scan_ws(s);
	for (start = s->p; s->p < s->end && *s->p >= '0' && *s->p <= '9'; s->p++) {
		if (x > ((uint64_t)LLONG_MAX - (uint64_t)(*s->p - '0')) / 10)
			return 0;
		x = x * 10 + (uint64_t)(*s->p - '0');
	}
	if (s->p == start || (*start == '0' && s->p - start > 1) ||
	    (s->p < s->end && (*s->p == '.' || *s->p == 'e' || *s->p == 'E')))
		return 0;
	*out = x;
	return 1;
}

static int
str_is(const char *str, size_t len, const char *lit)
{
	return len == strlen(lit) && memcmp(str, lit, len) == 0;	/* public names */
}

static int
name_fast_ok(const char *name, size_t len)
{
	char msg[CS_ERR_MSG_MAX];

	return name_why(name, len, "name", msg, sizeof msg) == 0;
}

static int
fast_fields(struct scan *s, struct provider *p)
{
	const char *name, *b64s, *end;
	struct field *f;
	size_t nlen, blen, i;
	void *arr;

	if (!scan_char(s, '{') || scan_char(s, '}'))
		return -1;		/* not an object, or no fields */
	do {
		if (!scan_str(s, &name, &nlen) || !name_fast_ok(name, nlen) ||
		    !scan_char(s, ':') || !scan_str(s, &b64s, &blen) || !b64_text_ok(b64s, blen))
			return -1;
		if ((arr = grown(p->f, &p->cap, p->n, sizeof *p->f)) == NULL)
			return -1;
		p->f = arr;
		f = &p->f[p->n];
		memset(f, 0, sizeof *f);
		if ((f->name = strndup(name, nlen)) == NULL)
			return -1;
		p->n++;
		if ((f->ct = malloc(blen / 4 * 3 + 3)) == NULL ||
		    sodium_base642bin(f->ct, blen / 4 * 3 + 3, b64s, blen, NULL, &f->ctlen, &end,
		    sodium_base64_VARIANT_ORIGINAL) != 0 || end != b64s + blen ||
		    f->ctlen < CT_OVERHEAD || f->ctlen - CT_OVERHEAD > VAULT_VALUE_HARD_MAX)
			return -1;
	} while (scan_char(s, ','));
	if (!scan_char(s, '}'))
		return -1;
	if (p->n > 1)
		qsort(p->f, p->n, sizeof *p->f, fcmp);
	for (i = 1; i < p->n; i++)
		if (strcmp(p->f[i - 1].name, p->f[i].name) == 0)
			return -1;	/* a duplicate: jansson's error */
	return 0;
}

static int
fast_providers(struct scan *s, struct vault *v)
{
	const char *name;
	size_t nlen, i;
	void *arr;

	if (!scan_char(s, '{'))
		return -1;
	if (scan_char(s, '}'))
		return 0;
	do {
		if (!scan_str(s, &name, &nlen) || !name_fast_ok(name, nlen) ||
		    !scan_char(s, ':'))
			return -1;
		if ((arr = grown(v->p, &v->cap, v->n, sizeof *v->p)) == NULL)
			return -1;
		v->p = arr;
		memset(&v->p[v->n], 0, sizeof v->p[v->n]);
		if ((v->p[v->n].name = strndup(name, nlen)) == NULL)
			return -1;
		v->n++;
		if (fast_fields(s, &v->p[v->n - 1]) == -1)
			return -1;
	} while (scan_char(s, ','));
	if (!scan_char(s, '}'))
		return -1;
	if (v->n > 1)
		qsort(v->p, v->n, sizeof *v->p, pcmp);
	for (i = 1; i < v->n; i++)
		if (strcmp(v->p[i - 1].name, v->p[i].name) == 0)
			return -1;
	return 0;
}

static int
parse_fast(const char *buf, size_t len, const struct key *k, struct vault *v)
{
	unsigned char want[MAC_BYTES], got[MAC_BYTES];
	struct scan s = { buf, buf + len };
	const char *key, *str, *mac = NULL, *end;
	size_t klen, slen, maclen = 0, i, glen;
	uint64_t x;
	unsigned seen = 0, bit;
	int rc = -1;

	if (!scan_char(&s, '{') || scan_char(&s, '}'))
		return -1;
	do {
		if (!scan_str(&s, &key, &klen) || !scan_char(&s, ':'))
			return -1;
		for (i = 0; i < sizeof top_keys / sizeof top_keys[0]; i++)
			if (str_is(key, klen, top_keys[i]))
				break;
		bit = 1u << i;
		if (i == sizeof top_keys / sizeof top_keys[0] || (seen & bit))
			return -1;
		seen |= bit;
		if (str_is(key, klen, "format")) {
			if (!scan_str(&s, &str, &slen) || !str_is(str, slen, VAULT_FORMAT))
				return -1;
		} else if (str_is(key, klen, "version")) {
			if (!scan_uint(&s, &x) || x != VAULT_VERSION)
				return -1;
		} else if (str_is(key, klen, "cipher")) {
			if (!scan_str(&s, &str, &slen) || !str_is(str, slen, VAULT_CIPHER))
				return -1;
		} else if (str_is(key, klen, "key_fingerprint")) {
			if (!scan_str(&s, &str, &slen) || !str_is(str, slen, k->fpr) ||
			    !fpr_ok(k->fpr))
				return -1;
		} else if (str_is(key, klen, "generation")) {
			if (!scan_uint(&s, &v->generation))
				return -1;
		} else if (str_is(key, klen, "providers")) {
			if (fast_providers(&s, v) == -1)
				return -1;
		} else if (!scan_str(&s, &mac, &maclen)) {	/* "mac" */
			return -1;
		}
	} while (scan_char(&s, ','));
	if (!scan_char(&s, '}'))
		return -1;
	scan_ws(&s);
	if (s.p != s.end || seen != (1u << (sizeof top_keys / sizeof top_keys[0])) - 1)
		return -1;
	if (!b64_text_ok(mac, maclen) || sodium_base642bin(got, sizeof got, mac, maclen, NULL,
	    &glen, &end, sodium_base64_VARIANT_ORIGINAL) != 0 || end != mac + maclen ||
	    glen != MAC_BYTES)
		return -1;
	mac_compute(v, want);
	rc = crypto_verify_32(want, got) == 0 ? 0 : -1;
	sodium_memzero(want, sizeof want);
	return rc;
}

int
vault_new(const struct key *k, struct vault **out, struct cs_err *e)
{
	return vault_alloc(k, "new vault", out, e);
}

/* The reference parser: jansson builds the document, then each part is checked and
 * every error is named. vault_parse() comes here when parse_fast() gives up;
 * tests/fuzz/fuzz_vault_diff.c runs both on the same bytes and requires that they agree. */
static int
parse_json(const char *buf, size_t len, const char *name, const struct key *k,
    struct vault **out, struct cs_err *e)
{
	char shown[CS_SHOW_BUF(JERR_SHOWN_MAX)], *near;
	struct vault *v;
	json_error_t jerr;
	json_t *root;
	int rc = -1;

	*out = NULL;
	if ((root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		/* jansson quotes the text "near" the error: for a plaintext file given by
		 * mistake that could be a secret, so only the reason is kept. */
		if ((near = strstr(jerr.text, " near ")) != NULL)
			*near = '\0';
		cs_show(jerr.text, strlen(jerr.text), JERR_SHOWN_MAX, shown, sizeof shown);
		return cs_err_set(e, EINVAL, "%s:%d:%d: not a vault: %s", name, jerr.line,
		    jerr.column, shown);
	}
	if (!json_is_object(root)) {
		json_decref(root);
		return cs_err_set(e, EINVAL, "%s: not a vault: not a JSON object", name);
	}
	if (vault_alloc(k, name, &v, e) == -1) {
		json_decref(root);
		return -1;
	}
	if (check_top_keys(root, name, e) == -1 || parse_header(root, name, k, v, e) == -1 ||
	    parse_providers(root, name, v, e) == -1 || check_mac(root, name, v, e) == -1)
		goto out;
	*out = v;
	v = NULL;
	rc = 0;
out:
	vault_close(v);
	json_decref(root);
	return rc;
}

int
vault_parse(const char *buf, size_t len, const char *name, const struct key *k,
    struct vault **out, struct cs_err *e)
{
	struct vault *v;

	*out = NULL;
	if (vault_alloc(k, name, &v, e) == -1)
		return -1;
	if (parse_fast(buf, len, k, v) == 0) {
		*out = v;
		return 0;
	}
	vault_close(v);		/* the jansson path reads it again and names what is wrong */
	return parse_json(buf, len, name, k, out, e);
}

int
vault_open(const char *path, const struct key *k, struct vault **out, struct cs_err *e)
{
	char *buf;
	size_t len;
	int rc;

	*out = NULL;
	if (file_read(path, "vault", VAULT_FILE_MAX_BYTES, &buf, &len, e) == -1)
		return -1;
	rc = vault_parse(buf, len, path, k, out, e);
	free(buf);
	return rc;
}

int
vault_peek_fingerprint(const char *path, char fpr[KEY_FPR_HEX + 1], struct cs_err *e)
{
	json_error_t jerr;
	json_t *root, *j;
	char *buf;
	size_t len;
	int rc = -1;

	if (file_read(path, "vault", VAULT_FILE_MAX_BYTES, &buf, &len, e) == -1)
		return -1;
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	free(buf);
	j = json_object_get(root, "key_fingerprint");	/* NULL root is fine */
	if (!json_is_string(j) || !fpr_ok(json_string_value(j))) {
		cs_err_set(e, EINVAL, "%s: not a vault, or no valid \"key_fingerprint\"", path);
		goto out;
	}
	memcpy(fpr, json_string_value(j), KEY_FPR_HEX + 1);
	rc = 0;
out:
	json_decref(root);
	return rc;
}

void
vault_close(struct vault *v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < v->n; i++)
		provider_free(&v->p[i]);
	free(v->p);
	if (v->sk != NULL) {
		sodium_mprotect_readwrite(v->sk);
		sodium_memzero(v->sk, SUBKEY_BYTES * 2);
		sodium_free(v->sk);
	}
	free(v->path);
	free(v);
}

uint64_t
vault_generation(const struct vault *v)
{
	return v->generation;
}

const char *
vault_fingerprint(const struct vault *v)
{
	return v->fpr;
}

void
vault_mac_hex(const struct vault *v, char out[VAULT_MAC_HEX + 1])
{
	unsigned char mac[MAC_BYTES];

	mac_compute(v, mac);
	sodium_bin2hex(out, VAULT_MAC_HEX + 1, mac, sizeof mac);
}

size_t
vault_nproviders(const struct vault *v)
{
	return v->n;
}

const char *
vault_provider(const struct vault *v, size_t pi)
{
	assert(pi < v->n);
	return v->p[pi].name;
}

size_t
vault_nfields(const struct vault *v, size_t pi)
{
	assert(pi < v->n);
	return v->p[pi].n;
}

const char *
vault_field(const struct vault *v, size_t pi, size_t fi)
{
	assert(pi < v->n && fi < v->p[pi].n);
	return v->p[pi].f[fi].name;
}

size_t
vault_value_len(const struct vault *v, size_t pi, size_t fi)
{
	assert(pi < v->n && fi < v->p[pi].n);
	return v->p[pi].f[fi].ctlen - CT_OVERHEAD;
}

uint64_t
vault_value_id(const struct vault *v, size_t pi, size_t fi)
{
	const struct field *f;
	uint64_t nonce, tag;

	assert(pi < v->n && fi < v->p[pi].n);
	f = &v->p[pi].f[fi];
	memcpy(&nonce, f->ct, sizeof nonce);
	memcpy(&tag, f->ct + f->ctlen - TAG_BYTES, sizeof tag);
	return nonce ^ tag;
}

/* field NULL looks up the provider only (*fi untouched). */
int
vault_find(const struct vault *v, const char *provider, const char *field, size_t *pi,
    size_t *fi, struct cs_err *e)
{
	char sp[SHOWN_BUF], sf[SHOWN_BUF];
	size_t i, j;

	if (!pfind(v, provider, &i)) {
		cs_show(provider, strnlen(provider, SHOWN_MAX + 1), SHOWN_MAX, sp, sizeof sp);
		return cs_err_set(e, ENOENT, "%s: no provider \"%s\"", v->path, sp);
	}
	if (field != NULL && !ffind(&v->p[i], field, &j)) {
		cs_show(field, strnlen(field, SHOWN_MAX + 1), SHOWN_MAX, sf, sizeof sf);
		return cs_err_set(e, ENOENT, "%s: provider %s has no field \"%s\"", v->path,
		    v->p[i].name, sf);
	}
	if (pi != NULL)
		*pi = i;
	if (field != NULL && fi != NULL)
		*fi = j;
	return 0;
}

int
vault_reveal(const struct vault *v, const char *provider, const char *field,
    struct secret **out, struct cs_err *e)
{
	size_t pi, fi;

	*out = NULL;
	if (vault_find(v, provider, field, &pi, &fi, e) == -1)
		return -1;
	return vault_reveal_at(v, pi, fi, out, e);
}

int
vault_reveal_at(const struct vault *v, size_t pi, size_t fi, struct secret **out,
    struct cs_err *e)
{
	const struct provider *p;
	const struct field *f;
	struct secret *s;

	assert(pi < v->n && fi < v->p[pi].n);
	p = &v->p[pi];
	f = &p->f[fi];
	*out = NULL;
	if ((s = secret_new(f->ctlen - CT_OVERHEAD)) == NULL)
		return cs_err_sys(e, ENOMEM, "%s: %s/%s", v->path, p->name, f->name);
	if (unseal(v->sk, p->name, f->name, f->ct, f->ctlen, s->buf) != 0) {
		secret_free(s);
		return cs_err_set(e, EBADMSG, "%s: %s/%s: the value does not decrypt: the vault "
		    "was altered or is damaged", v->path, p->name, f->name);
	}
	*out = s;
	return 0;
}

/* arr with room for one more than n elements: arr itself, a larger copy, or NULL (arr
 * still valid) when out of memory. */
static void *
grown(void *arr, size_t *cap, size_t n, size_t size)
{
	void *na;
	size_t ncap;

	if (n < *cap)
		return arr;
	ncap = *cap < ARRAY_MIN ? ARRAY_MIN : *cap * 2;
	if ((na = realloc(arr, ncap * size)) == NULL)
		return NULL;
	*cap = ncap;
	return na;
}

static void
remove_provider(struct vault *v, size_t pi)
{
	provider_free(&v->p[pi]);
	memmove(&v->p[pi], &v->p[pi + 1], (v->n - pi - 1) * sizeof *v->p);
	v->n--;
}

int
vault_put(struct vault *v, const char *provider, const char *field,
    const struct secret *value, size_t max_len, struct cs_err *e)
{
	struct provider *p;
	unsigned char *ct;
	char *name;
	void *arr;
	size_t limit = max_len > 0 ? max_len : VAULT_VALUE_MAX_BYTES;
	size_t ctlen, pi, fi;
	int newp = 0;

	if (vault_name_check(provider, "provider", e) == -1 ||
	    vault_name_check(field, "field", e) == -1)
		return -1;
	if (limit > VAULT_VALUE_HARD_MAX)
		limit = VAULT_VALUE_HARD_MAX;
	/* The limit may be stated; the value's own length may not. */
	if (value->len > limit)
		return cs_err_set(e, EFBIG, "value for %s/%s is over the limit of %zu bytes",
		    provider, field, limit);
	if ((ct = seal(v->sk, provider, field, value->buf, value->len, &ctlen)) == NULL)
		return cs_err_sys(e, ENOMEM, "%s/%s", provider, field);
	if (!pfind(v, provider, &pi)) {
		if ((arr = grown(v->p, &v->cap, v->n, sizeof *v->p)) == NULL)
			goto nomem;
		v->p = arr;
		if ((name = strdup(provider)) == NULL)
			goto nomem;
		memmove(&v->p[pi + 1], &v->p[pi], (v->n - pi) * sizeof *v->p);
		memset(&v->p[pi], 0, sizeof v->p[pi]);
		v->p[pi].name = name;
		v->n++;
		newp = 1;
	}
	p = &v->p[pi];
	if (ffind(p, field, &fi)) {
		free(p->f[fi].ct);
		p->f[fi].ct = ct;
		p->f[fi].ctlen = ctlen;
		return 0;
	}
	if ((arr = grown(p->f, &p->cap, p->n, sizeof *p->f)) != NULL)
		p->f = arr;
	if (arr == NULL || (name = strdup(field)) == NULL) {
		if (newp)
			remove_provider(v, pi);		/* no provider is left empty */
		goto nomem;
	}
	memmove(&p->f[fi + 1], &p->f[fi], (p->n - fi) * sizeof *p->f);
	p->f[fi].name = name;
	p->f[fi].ct = ct;
	p->f[fi].ctlen = ctlen;
	p->n++;
	return 0;
nomem:
	free(ct);
	return cs_err_sys(e, ENOMEM, "%s/%s", provider, field);
}

/* Removing the last field of a provider removes the provider too: an empty provider
 * would be an empty folder in the tree, and a file never holds one. */
int
vault_remove(struct vault *v, const char *provider, const char *field, struct cs_err *e)
{
	struct provider *p;
	size_t pi, fi;

	if (vault_find(v, provider, field, &pi, &fi, e) == -1)
		return -1;
	if (field == NULL) {
		remove_provider(v, pi);
		return 0;
	}
	p = &v->p[pi];
	free(p->f[fi].name);
	free(p->f[fi].ct);
	memmove(&p->f[fi], &p->f[fi + 1], (p->n - fi - 1) * sizeof *p->f);
	p->n--;
	if (p->n == 0)
		remove_provider(v, pi);
	return 0;
}

/* All or nothing: every value is resealed into new buffers first, and v changes only
 * once all of them are done. */
int
vault_rekey(struct vault *v, const struct key *nk, struct cs_err *e)
{
	unsigned char *nsk = NULL, *pt = NULL, **nct = NULL;
	size_t i, j, n = 0, done = 0, maxlen = 0, ctlen;
	const struct provider *p;
	int rc = -1;

	for (i = 0; i < v->n; i++) {
		n += v->p[i].n;
		for (j = 0; j < v->p[i].n; j++)
			if (v->p[i].f[j].ctlen - CT_OVERHEAD > maxlen)
				maxlen = v->p[i].f[j].ctlen - CT_OVERHEAD;
	}
	if ((nsk = sodium_malloc(SUBKEY_BYTES * 2)) == NULL ||
	    (pt = sodium_malloc(maxlen > 0 ? maxlen : 1)) == NULL ||
	    (n > 0 && (nct = calloc(n, sizeof *nct)) == NULL)) {
		cs_err_sys(e, ENOMEM, "%s: rekey", v->path);
		goto out;
	}
	if (derive(nsk, nk) == -1) {
		cs_err_set(e, EIO, "%s: cannot derive the new subkeys", v->path);
		goto out;
	}
	for (i = 0; i < v->n; i++) {
		p = &v->p[i];
		for (j = 0; j < p->n; j++) {
			if (unseal(v->sk, p->name, p->f[j].name, p->f[j].ct, p->f[j].ctlen,
			    pt) != 0) {
				cs_err_set(e, EBADMSG, "%s: %s/%s: the value does not decrypt: "
				    "the vault was altered or is damaged", v->path, p->name,
				    p->f[j].name);
				goto out;
			}
			nct[done] = seal(nsk, p->name, p->f[j].name, pt,
			    p->f[j].ctlen - CT_OVERHEAD, &ctlen);
			sodium_memzero(pt, p->f[j].ctlen - CT_OVERHEAD);
			if (nct[done] == NULL) {
				cs_err_sys(e, ENOMEM, "%s: rekey", v->path);
				goto out;
			}
			done++;
		}
	}
	for (i = 0, done = 0; i < v->n; i++)
		for (j = 0; j < v->p[i].n; j++) {
			free(v->p[i].f[j].ct);
			v->p[i].f[j].ct = nct[done++];	/* same length: same plaintext */
		}
	done = 0;
	sodium_mprotect_readwrite(v->sk);
	memcpy(v->sk, nsk, SUBKEY_BYTES * 2);
	sodium_mprotect_readonly(v->sk);
	memcpy(v->fpr, nk->fpr, sizeof v->fpr);
	rc = 0;
out:
	for (i = 0; i < done; i++)
		free(nct[i]);
	free(nct);
	if (pt != NULL) {
		sodium_memzero(pt, maxlen > 0 ? maxlen : 1);
		sodium_free(pt);
	}
	if (nsk != NULL) {
		sodium_memzero(nsk, SUBKEY_BYTES * 2);
		sodium_free(nsk);
	}
	return rc;
}

/* The document as jansson's JSON_INDENT(2) | JSON_PRESERVE_ORDER would print it, keys
 * in the order docs/architecture.md shows them and entries in name order, written
 * straight into one buffer: a jansson tree of 100 000 values would cost more to build
 * than everything else in a save. Names are [a-z0-9._-] and base64 needs no escape in
 * JSON, so nothing here is escaped. Ends with a newline; NULL when out of memory. */
static char *
to_text(const struct vault *v, const unsigned char mac[MAC_BYTES], size_t *len)
{
	const struct provider *p;
	size_t cap = 512, i, j, n;
	char *t, *o;

	for (i = 0; i < v->n; i++) {
		cap += strlen(v->p[i].name) + 16;
		for (j = 0; j < v->p[i].n; j++)
			cap += strlen(v->p[i].f[j].name) + 16 +
			    sodium_base64_ENCODED_LEN(v->p[i].f[j].ctlen,
			    sodium_base64_VARIANT_ORIGINAL);
	}
	if ((o = t = malloc(cap)) == NULL)
		return NULL;
	o += sprintf(o, "{\n  \"format\": \"%s\",\n  \"version\": %d,\n  \"cipher\": \"%s\",\n"
	    "  \"key_fingerprint\": \"%s\",\n  \"generation\": %llu,\n  \"providers\": {",
	    VAULT_FORMAT, VAULT_VERSION, VAULT_CIPHER, v->fpr,
	    (unsigned long long)v->generation);
	for (i = 0; i < v->n; i++) {
		p = &v->p[i];
		o += sprintf(o, "%s\n    \"%s\": {", i > 0 ? "," : "", p->name);
		for (j = 0; j < p->n; j++) {
			o += sprintf(o, "%s\n      \"%s\": \"", j > 0 ? "," : "", p->f[j].name);
			n = sodium_base64_ENCODED_LEN(p->f[j].ctlen, sodium_base64_VARIANT_ORIGINAL);
			sodium_bin2base64(o, n, p->f[j].ct, p->f[j].ctlen,
			    sodium_base64_VARIANT_ORIGINAL);
			o += n - 1;
			*o++ = '"';
		}
		o += sprintf(o, "%s}", p->n > 0 ? "\n    " : "");
	}
	o += sprintf(o, "%s},\n  \"mac\": \"", v->n > 0 ? "\n  " : "");
	sodium_bin2base64(o, sodium_base64_ENCODED_LEN(MAC_BYTES, sodium_base64_VARIANT_ORIGINAL),
	    mac, MAC_BYTES, sodium_base64_VARIANT_ORIGINAL);
	o += strlen(o);
	o += sprintf(o, "\"\n}\n");
	assert((size_t)(o - t) < cap);
	*len = (size_t)(o - t);
	return t;
}

int
vault_save(struct vault *v, const char *path, int excl, struct cs_err *e)
{
	unsigned char mac[MAC_BYTES];
	uint64_t old = v->generation;
	char *text = NULL, *np;
	size_t len;
	int renamed = 0, rc = -1;

	/* The file stores a JSON integer, which jansson holds as long long. */
	if (v->generation >= (uint64_t)LLONG_MAX)
		return cs_err_set(e, EOVERFLOW, "%s: the generation cannot grow any more", path);
	v->generation++;
	mac_compute(v, mac);
	if ((text = to_text(v, mac, &len)) == NULL) {
		cs_err_sys(e, ENOMEM, "%s", path);
		goto out;
	}
	rc = file_write_atomic(path, text, len, excl, &renamed, e);
	if (renamed && (np = strdup(path)) != NULL) {
		free(v->path);
		v->path = np;
	}
out:
	/* A failed save leaves the generation as it was, unless the new file already took
	 * the name (only the folder's fsync failed): then memory matches the disk. */
	if (rc == -1 && !renamed)
		v->generation = old;
	sodium_memzero(mac, sizeof mac);
	free(text);
	return rc;
}

int
vault_lock(const char *path, int *fd, struct cs_err *e)
{
	struct stat st;
	size_t n = strlen(path) + sizeof ".lock";
	char *lp;
	int f, rc = -1;

	*fd = -1;
	if ((lp = malloc(n)) == NULL)
		return cs_err_sys(e, ENOMEM, "%s", path);
	snprintf(lp, n, "%s.lock", path);
	if ((f = open(lp, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600)) == -1) {
		if (errno == ELOOP)
			cs_err_set(e, ELOOP, "%s: the lock file is a symbolic link; refusing to "
			    "follow it", lp);
		else
			cs_err_sys(e, errno, "%s: cannot open the lock file", lp);
		goto out;
	}
	if (fstat(f, &st) == -1 || !S_ISREG(st.st_mode)) {
		cs_err_set(e, EINVAL, "%s: the lock file is not a regular file", lp);
		close(f);
		goto out;
	}
	while (flock(f, LOCK_EX) == -1) {
		if (errno != EINTR) {
			cs_err_sys(e, errno, "%s: cannot lock", lp);
			close(f);
			goto out;
		}
	}
	*fd = f;
	rc = 0;
out:
	free(lp);
	return rc;
}

void
vault_unlock(int fd)
{
	if (fd < 0)
		return;
	(void)flock(fd, LOCK_UN);
	close(fd);
}
