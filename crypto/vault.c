/* crypto/vault.c - the vault model: names, lookup, reveal, change, rekey, MAC, save;
 * see vault.h. Its text form (both parsers and the printer) is in vaultparse.c.
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
 * This module knows nothing of key files, config or audit; store.c pairs vault and key. */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "../base/file.h"
#include "../base/name.h"
#include "vaultint.h"

#define KDF_CONTEXT	"csvault1"	/* crypto_kdf context: 8 bytes */
#define SUBKEY_ENC	1		/* crypto_kdf subkey id: value encryption */
#define SUBKEY_MAC	2		/* crypto_kdf subkey id: the document MAC */
_Static_assert(VAULT_MAC_HEX == 2 * MAC_BYTES, "VAULT_MAC_HEX is the MAC in hex");
#define AD_MAX		(2 * VAULT_NAME_MAX + 2)	/* "provider/field" and its NUL */
#define ARRAY_MIN	8	/* first capacity of a growing array */

_Static_assert(KEY_BYTES == crypto_kdf_KEYBYTES, "master key is a crypto_kdf key");
_Static_assert(SUBKEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "AEAD key");
_Static_assert(SUBKEY_BYTES >= crypto_generichash_KEYBYTES_MIN &&
    SUBKEY_BYTES <= crypto_generichash_KEYBYTES_MAX, "MAC key");
_Static_assert(sizeof KDF_CONTEXT - 1 == crypto_kdf_CONTEXTBYTES, "kdf context");

int
vault_name_ok(const char *name)
{
	char msg[CS_ERR_MSG_MAX];

	return cs_name_why(name, strnlen(name, VAULT_NAME_MAX + 1), "name", msg, sizeof msg) == 0;
}

int
vault_name_check(const char *name, const char *what, struct cs_err *e)
{
	char msg[CS_ERR_MSG_MAX];

	if (cs_name_why(name, strnlen(name, VAULT_NAME_MAX + 1), what, msg, sizeof msg) == 0)
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

int
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
	v->format = VAULT_VERSION;
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
 * fingerprint, generation, (from version 2) the highest removed version, the number of
 * providers, then per provider its name and number of fields, then per field its name
 * and ciphertext and (from version 2) its version and time; strings are prefixed with
 * their length and numbers are 8 bytes little-endian, so no two vaults share a byte
 * string. The version comes first, so a vault of one version never verifies as the
 * other. */
void
vault_mac_compute(const struct vault *v, unsigned char mac[MAC_BYTES])
{
	crypto_generichash_state st;
	const struct provider *p;
	size_t i, j;

	crypto_generichash_init(&st, v->sk + SUBKEY_BYTES, SUBKEY_BYTES, MAC_BYTES);
	mac_bytes(&st, VAULT_FORMAT, strlen(VAULT_FORMAT));
	mac_u64(&st, v->format);
	mac_bytes(&st, VAULT_CIPHER, strlen(VAULT_CIPHER));
	mac_bytes(&st, v->fpr, strlen(v->fpr));
	mac_u64(&st, v->generation);
	if (v->format >= 2)
		mac_u64(&st, v->removed);
	mac_u64(&st, v->n);
	for (i = 0; i < v->n; i++) {
		p = &v->p[i];
		mac_bytes(&st, p->name, strlen(p->name));
		mac_u64(&st, p->n);
		for (j = 0; j < p->n; j++) {
			mac_bytes(&st, p->f[j].name, strlen(p->f[j].name));
			mac_bytes(&st, p->f[j].ct, p->f[j].ctlen);
			if (v->format >= 2) {
				mac_u64(&st, p->f[j].version);
				mac_u64(&st, (uint64_t)p->f[j].mtime);
			}
		}
	}
	crypto_generichash_final(&st, mac, MAC_BYTES);
	sodium_memzero(&st, sizeof st);
}



int
vault_new(const struct key *k, struct vault **out, struct cs_err *e)
{
	return vault_alloc(k, "new vault", out, e);
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

	vault_mac_compute(v, mac);
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
vault_field_version(const struct vault *v, size_t pi, size_t fi)
{
	assert(pi < v->n && fi < v->p[pi].n);
	return v->p[pi].f[fi].version;
}

int64_t
vault_field_mtime(const struct vault *v, size_t pi, size_t fi)
{
	assert(pi < v->n && fi < v->p[pi].n);
	return v->p[pi].f[fi].mtime;
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

void *
vault_grown(void *arr, size_t *cap, size_t n, size_t size)
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

/* Remembers f's version as removed: a field set again under its name starts above it. */
static void
note_removed(struct vault *v, const struct field *f)
{
	if (f->version > v->removed)
		v->removed = f->version;
}

static void
remove_provider(struct vault *v, size_t pi)
{
	size_t i;

	for (i = 0; i < v->p[pi].n; i++)
		note_removed(v, &v->p[pi].f[i]);
	provider_free(&v->p[pi]);
	memmove(&v->p[pi], &v->p[pi + 1], (v->n - pi - 1) * sizeof *v->p);
	v->n--;
}

/* CLOCK_REALTIME in ns; at least 1, as 0 means "unknown". */
static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec <= 0)
		return 1;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
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
	int64_t now = now_ns();
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
	/* The file stores JSON integers, which jansson holds as long long. */
	if (v->removed >= (uint64_t)LLONG_MAX || (pfind(v, provider, &pi) &&
	    ffind(&v->p[pi], field, &fi) && v->p[pi].f[fi].version >= (uint64_t)LLONG_MAX))
		return cs_err_set(e, EOVERFLOW, "%s/%s: the version cannot grow any more",
		    provider, field);
	if ((ct = seal(v->sk, provider, field, value->buf, value->len, &ctlen)) == NULL)
		return cs_err_sys(e, ENOMEM, "%s/%s", provider, field);
	if (!pfind(v, provider, &pi)) {
		if ((arr = vault_grown(v->p, &v->cap, v->n, sizeof *v->p)) == NULL)
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
		p->f[fi].version++;
		if (now > p->f[fi].mtime || p->f[fi].mtime == INT64_MAX)
			p->f[fi].mtime = now > p->f[fi].mtime ? now : INT64_MAX;
		else
			p->f[fi].mtime++;	/* the clock is behind: time never goes back */
		return 0;
	}
	if ((arr = vault_grown(p->f, &p->cap, p->n, sizeof *p->f)) != NULL)
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
	p->f[fi].version = v->removed + 1;
	p->f[fi].mtime = now;
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
	note_removed(v, &p->f[fi]);
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


int
vault_save(struct vault *v, const char *path, int excl, struct cs_err *e)
{
	return vault_save_then(v, path, excl, NULL, e);
}

int
vault_save_then(struct vault *v, const char *path, int excl,
    const struct file_precommit *pc, struct cs_err *e)
{
	unsigned char mac[MAC_BYTES];
	uint64_t old = v->generation;
	unsigned oldformat = v->format;
	char *text = NULL, *np;
	size_t len;
	int renamed = 0, rc = -1;

	/* The file stores a JSON integer, which jansson holds as long long. */
	if (v->generation >= (uint64_t)LLONG_MAX)
		return cs_err_set(e, EOVERFLOW, "%s: the generation cannot grow any more", path);
	v->generation++;
	v->format = VAULT_VERSION;	/* an older vault is written in the new format */
	vault_mac_compute(v, mac);
	if ((text = vault_text(v, mac, &len)) == NULL) {
		cs_err_sys(e, ENOMEM, "%s", path);
		goto out;
	}
	rc = file_write_atomic_then(path, text, len, excl, pc, &renamed, e);
	if (renamed && (np = strdup(path)) != NULL) {
		free(v->path);
		v->path = np;
	}
out:
	/* A failed save leaves the generation as it was, unless the new file already took
	 * the name (only the folder's fsync failed): then memory matches the disk. */
	if (rc == -1 && !renamed) {
		v->generation = old;
		v->format = oldformat;
	}
	sodium_memzero(mac, sizeof mac);
	free(text);
	return rc;
}

int
vault_lock(const char *path, int *fd, struct cs_err *e)
{
	size_t n = strlen(path) + sizeof ".lock";
	char *lp;
	int rc;

	*fd = -1;
	if ((lp = malloc(n)) == NULL)
		return cs_err_sys(e, ENOMEM, "%s", path);
	snprintf(lp, n, "%s.lock", path);
	rc = file_lock(lp, fd, e);
	free(lp);
	return rc;
}

void
vault_unlock(int fd)
{
	file_unlock(fd);
}
