/* fleet/keys.c - the admin's signing key and the hosts' X25519 keys; see keys.h.
 *
 * The private halves reuse crypto/key.c's file format and checks (32 bytes of base64,
 * 0600, O_NOFOLLOW, atomic write): a struct key is the 32-byte seed or scalar in guarded
 * memory, from which the key pair is derived here and the seed wiped. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../crypto/b64.h"
#include "../crypto/key.h"
#include "keys.h"

/* Writes 32 fresh random bytes to path as a key file; k gets them (caller frees). */
static int
create(const char *path, struct key **k, struct cs_err *e)
{
	if (key_generate(k, e) == -1)
		return -1;
	if (key_write_file(path, *k, 1, e) == -1) {
		key_free(*k);
		*k = NULL;
		return -1;
	}
	return 0;
}

static struct fleet_signer *
signer_from(const struct key *k, struct cs_err *e)
{
	struct fleet_signer *s;

	if ((s = sodium_malloc(sizeof *s)) == NULL) {
		cs_err_sys(e, ENOMEM, "signing key");
		return NULL;
	}
	crypto_sign_seed_keypair(s->pk, s->sk, k->bytes);
	return s;
}

static struct fleet_hostkey *
hostkey_from(const struct key *k, struct cs_err *e)
{
	struct fleet_hostkey *h;

	if ((h = sodium_malloc(sizeof *h)) == NULL) {
		cs_err_sys(e, ENOMEM, "host key");
		return NULL;
	}
	memcpy(h->sk, k->bytes, sizeof h->sk);
	if (crypto_scalarmult_base(h->pk, h->sk) != 0) {
		fleet_hostkey_free(h);
		cs_err_set(e, EINVAL, "host key: not a usable X25519 key");
		return NULL;
	}
	return h;
}

int
fleet_signer_create(const char *path, char pub[FLEET_PUB_B64], struct cs_err *e)
{
	struct fleet_signer *s;
	struct key *k;

	if (create(path, &k, e) == -1)
		return -1;
	s = signer_from(k, e);
	key_free(k);
	if (s == NULL)
		return -1;
	fleet_pub_text(s->pk, pub);
	fleet_signer_free(s);
	return 0;
}

int
fleet_signer_load(const char *path, struct fleet_signer **out, struct cs_err *e)
{
	struct key *k;

	*out = NULL;
	if (key_read_file(path, &k, e) == -1)
		return -1;
	*out = signer_from(k, e);
	key_free(k);
	return *out == NULL ? -1 : 0;
}

void
fleet_signer_free(struct fleet_signer *s)
{
	if (s != NULL)
		sodium_free(s);		/* sodium_free wipes */
}

int
fleet_hostkey_create(const char *path, char pub[FLEET_PUB_B64], struct cs_err *e)
{
	struct fleet_hostkey *h;
	struct key *k;

	if (create(path, &k, e) == -1)
		return -1;
	h = hostkey_from(k, e);
	key_free(k);
	if (h == NULL)
		return -1;
	fleet_pub_text(h->pk, pub);
	fleet_hostkey_free(h);
	return 0;
}

int
fleet_hostkey_load(const char *path, struct fleet_hostkey **out, const char **from,
    struct cs_err *e)
{
	static char cred[PATH_MAX];
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	struct key *k;
	int n;

	*out = NULL;
	if (dir != NULL && dir[0] != '\0') {
		n = snprintf(cred, sizeof cred, "%s/%s", dir, FLEET_HOST_CREDENTIAL);
		if (n > 0 && (size_t)n < sizeof cred && access(cred, F_OK) == 0)
			path = cred;
	}
	if (path == NULL || path[0] == '\0')
		return cs_err_set(e, EINVAL, "no host key: set [fleet] host_key, or pass it as "
		    "the credential %s", FLEET_HOST_CREDENTIAL);
	if (from != NULL)
		*from = path;
	if (key_read_file(path, &k, e) == -1)
		return -1;
	*out = hostkey_from(k, e);
	key_free(k);
	return *out == NULL ? -1 : 0;
}

void
fleet_hostkey_free(struct fleet_hostkey *k)
{
	if (k != NULL)
		sodium_free(k);
}

void
fleet_pub_text(const unsigned char pk[FLEET_PUB_BYTES], char out[FLEET_PUB_B64])
{
	sodium_bin2base64(out, FLEET_PUB_B64, pk, FLEET_PUB_BYTES,
	    sodium_base64_VARIANT_ORIGINAL);
}

int
fleet_pub_parse(const char *text, const char *what, unsigned char pk[FLEET_PUB_BYTES],
    struct cs_err *e)
{
	size_t len = strlen(text), bin = 0;
	const char *end;

	if (len != FLEET_PUB_B64 - 1 || !b64_text_ok(text, len) ||
	    sodium_base642bin(pk, FLEET_PUB_BYTES, text, len, NULL, &bin, &end,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || end != text + len ||
	    bin != FLEET_PUB_BYTES)
		return cs_err_set(e, EINVAL, "%s: not a public key: expected %d bytes written "
		    "as base64 (%d characters)", what, FLEET_PUB_BYTES, FLEET_PUB_B64 - 1);
	return 0;
}
