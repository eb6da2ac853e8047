/* tests/fuzz/fuzz_vault.c - libFuzzer target for the vault parser and verifier.
 *
 * The input is a vault file, parsed and verified (vault_parse) under a fixed test key:
 * 32 bytes 0x01..0x20, the key of the seed corpus (tests/fuzz/corpus/vault/, made by
 * tests/fuzz/mkcorpus.sh). A vault that verifies is walked: every field is revealed and
 * must decrypt to exactly its announced length, since a vault that passed the MAC must
 * never fail to serve a field. The limit is plain: mutations rarely survive a keyed MAC,
 * so beyond check_mac the target mostly replays the seeds; everything before the MAC
 * (JSON, format, names, base64, sizes) is what it explores.
 *
 *	make fuzz && build/fuzz/fuzz_vault -dict=tests/fuzz/vault.dict tests/fuzz/corpus/vault */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../../crypto/vault.h"
#include "fuzz_common.h"

static struct key *test_key;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char b64[] = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";
	struct cs_err e = { 0 };

	(void)argc;
	(void)argv;
	if (sodium_init() < 0 || key_parse(b64, sizeof b64 - 1, "test key", &test_key, &e) != 0)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cs_err e = { 0 };
	struct vault *v = NULL;
	struct secret *s;
	size_t pi, fi, np, nf;

	if (vault_parse((const char *)data, size, "fuzz.json", test_key, &v, &e) == -1) {
		if (v != NULL)
			abort();
		fuzz_clean_msg(&e);
		return 0;
	}
	if (v == NULL || e.code != 0)
		abort();
	np = vault_nproviders(v);
	for (pi = 0; pi < np; pi++) {
		if (!vault_name_ok(vault_provider(v, pi)) || (nf = vault_nfields(v, pi)) == 0)
			abort();
		for (fi = 0; fi < nf; fi++) {
			if (!vault_name_ok(vault_field(v, pi, fi)))
				abort();
			if (vault_reveal_at(v, pi, fi, &s, &e) != 0 ||
			    s->len != vault_value_len(v, pi, fi))
				abort();
			secret_free(s);
		}
	}
	vault_close(v);
	return 0;
}
