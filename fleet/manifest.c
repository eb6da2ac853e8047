/* fleet/manifest.c - encode, sign, verify and parse the manifest; see manifest.h.
 *
 * The signature is checked before a byte of the body is parsed, so a forged manifest
 * reaches no parser. The parser is then strict and small: each line is split on single
 * spaces into the words the grammar expects, numbers are decimal digits, hashes hex;
 * whatever it accepted is encoded again and must equal the signed body byte for byte
 * (no second spelling of the same manifest: leading zeros, upper-case hex, blanks). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../crypto/b64.h"
#include "../crypto/vault.h"
#include "manifest.h"

#define SIG_PREFIX	"signature "
#define SIG_B64		88	/* base64 characters of a 64-byte signature, padded */
#define HASH_HEX	(FLEET_HASH_BYTES * 2)
#define LINE_MAX_BYTES	(16 + FLEET_NAME_MAX + HASH_HEX)	/* longest body line */

int
fleet_name_ok(const char *s)
{
	return vault_name_ok(s);
}

void
fleet_hash(const void *p, size_t len, unsigned char out[FLEET_HASH_BYTES])
{
	crypto_generichash(out, FLEET_HASH_BYTES, p, len, NULL, 0);
}

static int
check(const struct fleet_manifest *m, struct cs_err *e)
{
	size_t i;

	if (!fleet_name_ok(m->fleet))
		return cs_err_set(e, EINVAL, "manifest: bad fleet name");
	if (m->generation == 0)
		return cs_err_set(e, EINVAL, "manifest: generation 0");
	if (strlen(m->fpr) != KEY_FPR_HEX || strspn(m->fpr, "0123456789abcdef") != KEY_FPR_HEX)
		return cs_err_set(e, EINVAL, "manifest: bad key fingerprint");
	if (m->not_after < 0)
		return cs_err_set(e, EINVAL, "manifest: negative not_after");
	if (m->nchunks == 0 || m->nchunks > FLEET_CHUNKS_MAX)
		return cs_err_set(e, EINVAL, "manifest: %zu chunks (1 to %u)", m->nchunks,
		    FLEET_CHUNKS_MAX);
	for (i = 0; i < m->nchunks; i++)
		if (m->chunks[i].len == 0 || m->chunks[i].len > FLEET_CHUNK_BYTES)
			return cs_err_set(e, EINVAL, "manifest: chunk %zu: bad length", i);
	if (m->nhosts > FLEET_HOSTS_MAX)
		return cs_err_set(e, EINVAL, "manifest: %zu hosts (at most %u)", m->nhosts,
		    FLEET_HOSTS_MAX);
	for (i = 0; i < m->nhosts; i++) {
		if (!fleet_name_ok(m->hosts[i].name))
			return cs_err_set(e, EINVAL, "manifest: host %zu: bad name", i);
		if (i > 0 && strcmp(m->hosts[i - 1].name, m->hosts[i].name) >= 0)
			return cs_err_set(e, EINVAL, "manifest: hosts not sorted and unique "
			    "(at %s)", m->hosts[i].name);
	}
	return 0;
}

/* The body: every line before the signature line. */
static char *
encode(const struct fleet_manifest *m, size_t *len)
{
	size_t cap = 256 + m->nchunks * (24 + HASH_HEX) + m->nhosts * LINE_MAX_BYTES, n = 0, i;
	char hex[HASH_HEX + 1], *buf;
	int w;

	if ((buf = malloc(cap)) == NULL)
		return NULL;
	w = snprintf(buf, cap, "%s\nfleet %s\ngeneration %" PRIu64 "\nfingerprint %s\n"
	    "not_after %" PRId64 "\n", FLEET_MANIFEST_MAGIC, m->fleet, m->generation, m->fpr,
	    m->not_after);
	n = (size_t)w;
	for (i = 0; i < m->nchunks; i++) {
		sodium_bin2hex(hex, sizeof hex, m->chunks[i].hash, FLEET_HASH_BYTES);
		n += (size_t)snprintf(buf + n, cap - n, "chunk %" PRIu32 " %s\n",
		    m->chunks[i].len, hex);
	}
	for (i = 0; i < m->nhosts; i++) {
		sodium_bin2hex(hex, sizeof hex, m->hosts[i].hash, FLEET_HASH_BYTES);
		n += (size_t)snprintf(buf + n, cap - n, "host %s %s\n", m->hosts[i].name, hex);
	}
	*len = n;
	return buf;
}

int
fleet_manifest_sign(const struct fleet_manifest *m, const struct fleet_signer *s, char **out,
    size_t *len, struct cs_err *e)
{
	unsigned char sig[crypto_sign_BYTES];
	size_t n;
	char *body, *full;

	*out = NULL;
	*len = 0;
	if (check(m, e) == -1)
		return -1;
	if ((body = encode(m, &n)) == NULL)
		return cs_err_sys(e, ENOMEM, "manifest");
	crypto_sign_detached(sig, NULL, (const unsigned char *)body, n, s->sk);
	if ((full = realloc(body, n + sizeof SIG_PREFIX + SIG_B64 + 2)) == NULL) {
		free(body);
		return cs_err_sys(e, ENOMEM, "manifest");
	}
	memcpy(full + n, SIG_PREFIX, sizeof SIG_PREFIX - 1);
	n += sizeof SIG_PREFIX - 1;
	sodium_bin2base64(full + n, SIG_B64 + 1, sig, sizeof sig, sodium_base64_VARIANT_ORIGINAL);
	n += SIG_B64;
	full[n++] = '\n';
	full[n] = '\0';
	*out = full;
	*len = n;
	return 0;
}

/* Splits the next line of [*p, end) into at most nw words on single spaces; returns the
 * word count, or -1 when there is no complete line or it is too long. */
static int
words(const char **p, const char *end, char w[][LINE_MAX_BYTES + 1], int nw)
{
	const char *nl = memchr(*p, '\n', (size_t)(end - *p)), *s = *p, *sp;
	int k = 0;
	size_t n;

	if (nl == NULL || (size_t)(nl - s) > LINE_MAX_BYTES)
		return -1;
	for (;;) {
		sp = memchr(s, ' ', (size_t)(nl - s));
		if (sp == NULL)
			sp = nl;
		if (k == nw)
			return -1;
		n = (size_t)(sp - s);
		memcpy(w[k], s, n);
		w[k][n] = '\0';
		if (memchr(w[k], '\0', n) != NULL)
			return -1;
		k++;
		if (sp == nl)
			break;
		s = sp + 1;
	}
	*p = nl + 1;
	return k;
}

static int
number(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (s[0] == '\0' || strspn(s, "0123456789") != strlen(s) || strlen(s) > 20)
		return -1;
	for (; *s != '\0'; s++) {
		if (v > (max - (uint64_t)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

static int
hash(const char *s, unsigned char out[FLEET_HASH_BYTES])
{
	size_t bin = 0;

	if (strlen(s) != HASH_HEX)
		return -1;
	return sodium_hex2bin(out, FLEET_HASH_BYTES, s, HASH_HEX, NULL, &bin, NULL) == 0 &&
	    bin == FLEET_HASH_BYTES ? 0 : -1;
}

static int
grow(void **arr, size_t *cap, size_t n, size_t size)
{
	void *p;

	if (n < *cap)
		return 0;
	*cap = *cap ? *cap * 2 : 16;
	if ((p = realloc(*arr, *cap * size)) == NULL)
		return -1;
	*arr = p;
	return 0;
}

static int
parse(const char *p, const char *end, struct fleet_manifest *m, struct cs_err *e)
{
	char w[3][LINE_MAX_BYTES + 1];
	size_t ccap = 0, hcap = 0;
	uint64_t v;
	int n;

	if (words(&p, end, w, 3) != 2 || strcmp(w[0], "comfysecrets-fleet-manifest") != 0 ||
	    strcmp(w[1], "1") != 0)
		return cs_err_set(e, EINVAL, "manifest: not a version 1 fleet manifest");
	if (words(&p, end, w, 3) != 2 || strcmp(w[0], "fleet") != 0 ||
	    strlen(w[1]) > FLEET_NAME_MAX)
		return cs_err_set(e, EINVAL, "manifest: bad fleet line");
	strcpy(m->fleet, w[1]);
	if (words(&p, end, w, 3) != 2 || strcmp(w[0], "generation") != 0 ||
	    number(w[1], UINT64_MAX, &m->generation) == -1)
		return cs_err_set(e, EINVAL, "manifest: bad generation line");
	if (words(&p, end, w, 3) != 2 || strcmp(w[0], "fingerprint") != 0 ||
	    strlen(w[1]) != KEY_FPR_HEX)
		return cs_err_set(e, EINVAL, "manifest: bad fingerprint line");
	strcpy(m->fpr, w[1]);
	if (words(&p, end, w, 3) != 2 || strcmp(w[0], "not_after") != 0 ||
	    number(w[1], INT64_MAX, &v) == -1)
		return cs_err_set(e, EINVAL, "manifest: bad not_after line");
	m->not_after = (int64_t)v;
	while (p < end) {
		if ((n = words(&p, end, w, 3)) != 3)
			return cs_err_set(e, EINVAL, "manifest: malformed line");
		if (strcmp(w[0], "chunk") == 0 && m->nhosts == 0) {
			if (m->nchunks == FLEET_CHUNKS_MAX ||
			    grow((void **)&m->chunks, &ccap, m->nchunks, sizeof *m->chunks) == -1)
				return cs_err_set(e, EINVAL, "manifest: too many chunks");
			if (number(w[1], FLEET_CHUNK_BYTES, &v) == -1 ||
			    hash(w[2], m->chunks[m->nchunks].hash) == -1)
				return cs_err_set(e, EINVAL, "manifest: bad chunk line");
			m->chunks[m->nchunks++].len = (uint32_t)v;
		} else if (strcmp(w[0], "host") == 0) {
			if (m->nhosts == FLEET_HOSTS_MAX ||
			    grow((void **)&m->hosts, &hcap, m->nhosts, sizeof *m->hosts) == -1)
				return cs_err_set(e, EINVAL, "manifest: too many hosts");
			if (strlen(w[1]) > FLEET_NAME_MAX ||
			    hash(w[2], m->hosts[m->nhosts].hash) == -1)
				return cs_err_set(e, EINVAL, "manifest: bad host line");
			strcpy(m->hosts[m->nhosts++].name, w[1]);
		} else {
			return cs_err_set(e, EINVAL, "manifest: unexpected line");
		}
	}
	return check(m, e);
}

int
fleet_manifest_open(const void *buf, size_t len, const unsigned char pk[FLEET_PUB_BYTES],
    struct fleet_manifest **out, struct cs_err *e)
{
	unsigned char sig[crypto_sign_BYTES];
	const char *b = buf, *line;
	struct fleet_manifest *m;
	size_t body, bin = 0, n;
	const char *end;
	char *again;

	*out = NULL;
	if (len > FLEET_MANIFEST_MAX_BYTES)
		return cs_err_set(e, EFBIG, "manifest: %zu bytes, more than %u", len,
		    FLEET_MANIFEST_MAX_BYTES);
	/* The last line is the signature: "signature " base64 "\n", nothing after it. */
	n = sizeof SIG_PREFIX - 1 + SIG_B64 + 1;
	if (len < n || b[len - 1] != '\n')
		return cs_err_set(e, EBADMSG, "manifest: unsigned (no signature line)");
	body = len - n;
	line = b + body;
	if ((body > 0 && b[body - 1] != '\n') ||
	    memcmp(line, SIG_PREFIX, sizeof SIG_PREFIX - 1) != 0 ||
	    !b64_text_ok(line + sizeof SIG_PREFIX - 1, SIG_B64) ||
	    sodium_base642bin(sig, sizeof sig, line + sizeof SIG_PREFIX - 1, SIG_B64, NULL, &bin,
	    &end, sodium_base64_VARIANT_ORIGINAL) != 0 || bin != sizeof sig ||
	    end != line + n - 1)
		return cs_err_set(e, EBADMSG, "manifest: unsigned (no signature line)");
	if (crypto_sign_verify_detached(sig, (const unsigned char *)b, body, pk) != 0)
		return cs_err_set(e, EBADMSG, "manifest: signature does not verify with the "
		    "admin's public key (forged, or signed by another key)");
	if ((m = calloc(1, sizeof *m)) == NULL)
		return cs_err_sys(e, ENOMEM, "manifest");
	if (parse(b, b + body, m, e) == -1)
		goto fail;
	if ((again = encode(m, &n)) == NULL) {
		cs_err_sys(e, ENOMEM, "manifest");
		goto fail;
	}
	if (n != body || memcmp(again, b, n) != 0) {
		free(again);
		cs_err_set(e, EINVAL, "manifest: not in canonical form");
		goto fail;
	}
	free(again);
	*out = m;
	return 0;
fail:
	fleet_manifest_free(m);
	return -1;
}

const struct fleet_mhost *
fleet_manifest_host(const struct fleet_manifest *m, const char *name)
{
	size_t lo = 0, hi = m->nhosts, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(name, m->hosts[mid].name);
		if (c == 0)
			return &m->hosts[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

void
fleet_manifest_free(struct fleet_manifest *m)
{
	if (m == NULL)
		return;
	free(m->chunks);
	free(m->hosts);
	free(m);
}
