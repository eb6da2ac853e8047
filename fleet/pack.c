/* fleet/pack.c - etcd key names, sealing, chunking and a member's checks; see pack.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "pack.h"

void
fleet_key_manifest(const char *prefix, char *out)
{
	snprintf(out, FLEET_ETCD_KEY_MAX, "%smanifest", prefix);
}

void
fleet_key_gen(const char *prefix, uint64_t gen, char *out)
{
	snprintf(out, FLEET_ETCD_KEY_MAX, "%sgen/%020" PRIu64 "/", prefix, gen);
}

void
fleet_key_chunk(const char *prefix, uint64_t gen, size_t i, char *out)
{
	snprintf(out, FLEET_ETCD_KEY_MAX, "%sgen/%020" PRIu64 "/chunk/%06zu", prefix, gen, i);
}

void
fleet_key_sealed(const char *prefix, uint64_t gen, const char *host, char *out)
{
	snprintf(out, FLEET_ETCD_KEY_MAX, "%sgen/%020" PRIu64 "/key/%s", prefix, gen, host);
}

uint64_t
fleet_key_generation(const char *prefix, const char *key)
{
	size_t n = strlen(prefix), i;
	uint64_t g = 0;

	if (strncmp(key, prefix, n) != 0 || strncmp(key + n, "gen/", 4) != 0)
		return 0;
	key += n + 4;
	for (i = 0; i < 20; i++) {
		if (key[i] < '0' || key[i] > '9')
			return 0;
		g = g * 10 + (uint64_t)(key[i] - '0');
	}
	return key[20] == '/' ? g : 0;
}

int
fleet_seal(const struct key *k, const unsigned char pk[FLEET_PUB_BYTES],
    unsigned char out[FLEET_SEALED_BYTES], struct cs_err *e)
{
	char *text;
	int rc;

	if ((text = key_text(k)) == NULL)
		return cs_err_sys(e, ENOMEM, "seal");
	if (strlen(text) != FLEET_KEY_TEXT_BYTES) {
		key_text_free(text);
		return cs_err_set(e, EINVAL, "seal: unexpected key text length");
	}
	rc = crypto_box_seal(out, (const unsigned char *)text, FLEET_KEY_TEXT_BYTES, pk);
	key_text_free(text);
	if (rc != 0)
		return cs_err_set(e, EINVAL, "seal: the host's public key is not usable");
	return 0;
}

int
fleet_unseal(const void *sealed, size_t len, const struct fleet_hostkey *h, struct key **out,
    struct cs_err *e)
{
	char *text;
	int rc = -1;

	*out = NULL;
	if (len != FLEET_SEALED_BYTES)
		return cs_err_set(e, EBADMSG, "sealed key: %zu bytes, expected %zu", len,
		    (size_t)FLEET_SEALED_BYTES);
	if ((text = sodium_malloc(FLEET_KEY_TEXT_BYTES)) == NULL)
		return cs_err_sys(e, ENOMEM, "sealed key");
	if (crypto_box_seal_open((unsigned char *)text, sealed, len, h->pk, h->sk) != 0)
		cs_err_set(e, EBADMSG, "sealed key: does not open with this host's key "
		    "(sealed to another host, or changed)");
	else
		rc = key_parse(text, FLEET_KEY_TEXT_BYTES, "sealed key", out, e);
	sodium_free(text);
	return rc;
}

int
fleet_pack_chunks(const void *vault, size_t len, struct fleet_manifest *m, struct cs_err *e)
{
	const unsigned char *p = vault;
	size_t n = len == 0 ? 1 : (len + FLEET_CHUNK_BYTES - 1) / FLEET_CHUNK_BYTES, i, c;

	if (len == 0 || n > FLEET_CHUNKS_MAX)
		return cs_err_set(e, EFBIG, "vault: %zu bytes: a fleet carries 1 to %u", len,
		    FLEET_CHUNKS_MAX * FLEET_CHUNK_BYTES);
	free(m->chunks);
	if ((m->chunks = calloc(n, sizeof *m->chunks)) == NULL)
		return cs_err_sys(e, ENOMEM, "vault chunks");
	for (i = 0; i < n; i++) {
		c = len - i * FLEET_CHUNK_BYTES;
		if (c > FLEET_CHUNK_BYTES)
			c = FLEET_CHUNK_BYTES;
		m->chunks[i].len = (uint32_t)c;
		fleet_hash(p + i * FLEET_CHUNK_BYTES, c, m->chunks[i].hash);
	}
	m->nchunks = n;
	return 0;
}

int
fleet_pack_chunk_ok(const struct fleet_manifest *m, size_t i, const void *p, size_t len,
    struct cs_err *e)
{
	unsigned char h[FLEET_HASH_BYTES];

	if (i >= m->nchunks || len != m->chunks[i].len)
		return cs_err_set(e, EBADMSG, "chunk %zu: %zu bytes, the manifest says %u", i,
		    len, i < m->nchunks ? (unsigned)m->chunks[i].len : 0u);
	fleet_hash(p, len, h);
	if (sodium_memcmp(h, m->chunks[i].hash, sizeof h) != 0)
		return cs_err_set(e, EBADMSG, "chunk %zu: hash differs from the manifest's "
		    "(swapped or changed)", i);
	return 0;
}

int
fleet_pack_sealed_ok(const struct fleet_manifest *m, const char *host, const void *p,
    size_t len, struct cs_err *e)
{
	const struct fleet_mhost *mh = fleet_manifest_host(m, host);
	unsigned char h[FLEET_HASH_BYTES];

	if (mh == NULL)
		return cs_err_set(e, ENOENT, "host %s is not in the manifest of generation %"
		    PRIu64 " (removed, or not enrolled)", host, m->generation);
	fleet_hash(p, len, h);
	if (sodium_memcmp(h, mh->hash, sizeof h) != 0)
		return cs_err_set(e, EBADMSG, "sealed key of %s: hash differs from the "
		    "manifest's (swapped or changed)", host);
	return 0;
}

int
fleet_pack_check(const struct fleet_manifest *m, const struct key *k, const char *buf,
    size_t len, struct vault **out, struct cs_err *e)
{
	struct vault *v = NULL;
	struct secret *s;
	size_t pi, fi;

	if (out != NULL)
		*out = NULL;
	if (strcmp(k->fpr, m->fpr) != 0)
		return cs_err_set(e, EKEYREJECTED, "sealed key: fingerprint %s, the manifest "
		    "says %s", k->fpr, m->fpr);
	if (vault_parse(buf, len, "fleet vault", k, &v, e) == -1)
		return -1;
	if (strcmp(vault_fingerprint(v), m->fpr) != 0) {
		cs_err_set(e, EKEYREJECTED, "fleet vault: under key %s, the manifest says %s",
		    vault_fingerprint(v), m->fpr);
		vault_close(v);
		return -1;
	}
	for (pi = 0; pi < vault_nproviders(v); pi++) {
		for (fi = 0; fi < vault_nfields(v, pi); fi++) {
			if (vault_reveal_at(v, pi, fi, &s, e) == -1) {
				vault_close(v);
				return -1;
			}
			secret_free(s);
		}
	}
	if (out != NULL)
		*out = v;
	else
		vault_close(v);
	return 0;
}
