/* tests/fuzz/fuzz_manifest.c - libFuzzer target for the fleet manifest reader
 * (fleet_manifest_open), what a member parses of whatever etcd serves it.
 *
 * The signature is checked before a byte of the body is parsed, so random bytes would
 * only ever reach the signature check. Each input is therefore opened twice: as it is
 * (the signature line's own parsing), and as a body signed here with a fixed test key
 * (the grammar behind the signature, which only the admin's key can reach). Beyond "no
 * crash": a refusal is a clean message; a manifest that opens keeps the documented
 * bounds (docs/fleet.md), has its hosts sorted and unique, and signs again to exactly
 * the bytes that were opened (one spelling per manifest).
 *
 *	make fuzz && build/fuzz/fuzz_manifest -dict=tests/fuzz/manifest.dict \
 *	    tests/fuzz/corpus/manifest */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../../fleet/manifest.h"
#include "fuzz_common.h"

static struct fleet_signer signer;

/* Opens buf; checks what came of it. */
static void
open_one(const char *buf, size_t len)
{
	struct fleet_manifest *m = NULL;
	struct cs_err e = { 0 };
	char *again = NULL;
	size_t i, n;

	if (fleet_manifest_open(buf, len, signer.pk, &m, &e) == -1) {
		fuzz_clean_msg(&e);
		if (m != NULL)
			abort();
		return;
	}
	if (e.code != 0 || m->generation < 1 || m->nchunks < 1 ||
	    m->nchunks > FLEET_CHUNKS_MAX || m->nhosts > FLEET_HOSTS_MAX ||
	    m->not_after < 0 || !fleet_name_ok(m->fleet))
		abort();
	for (i = 0; i < m->nchunks; i++)
		if (m->chunks[i].len < 1 || m->chunks[i].len > FLEET_CHUNK_BYTES)
			abort();
	for (i = 0; i < m->nhosts; i++)
		if (!fleet_name_ok(m->hosts[i].name) || (i > 0 &&
		    strcmp(m->hosts[i - 1].name, m->hosts[i].name) >= 0) ||
		    fleet_manifest_host(m, m->hosts[i].name) != &m->hosts[i])
			abort();
	if (fleet_manifest_sign(m, &signer, &again, &n, &e) == -1 || n != len ||
	    memcmp(again, buf, len) != 0)
		abort();
	free(again);
	fleet_manifest_free(m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char seed[crypto_sign_SEEDBYTES] = { 1, 2, 3, 4, 5, 6, 7 };
	unsigned char sig[crypto_sign_BYTES];
	char *buf;
	size_t n;

	if (signer.pk[0] == 0 && signer.pk[1] == 0) {
		if (sodium_init() < 0)
			abort();
		crypto_sign_seed_keypair(signer.pk, signer.sk, seed);
	}
	open_one((const char *)data, size);
	if (size > FLEET_MANIFEST_MAX_BYTES)
		return 0;
	/* body + "signature " base64(sig) "\n", as fleet_manifest_sign writes it */
	if ((buf = malloc(size + 10 + 88 + 2)) == NULL)
		abort();
	memcpy(buf, data, size);
	crypto_sign_detached(sig, NULL, data, size, signer.sk);
	memcpy(buf + size, "signature ", 10);
	n = size + 10;
	sodium_bin2base64(buf + n, 88 + 1, sig, sizeof sig, sodium_base64_VARIANT_ORIGINAL);
	n += 88;
	buf[n++] = '\n';
	open_one(buf, n);
	free(buf);
	return 0;
}
