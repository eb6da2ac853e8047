/* tests/fuzz/fuzz_vault_diff.c - differential libFuzzer target: the vault's two parsers.
 *
 * crypto/vaultparse.c reads a vault with a direct scanner (vault_parse_fast) and falls
 * back to the jansson path (vault_parse_json), the reference, when the scanner gives up. This target runs
 * both on the same bytes, under the fixed test key of fuzz_vault.c (bytes 1..32), and
 * aborts when
 *  - the scanner accepts what the reference refuses;
 *  - both accept and the vaults differ: format version, generation, key fingerprint,
 *    highest removed version, every provider and field name, in order, every sealed
 *    value byte for byte, and every field's version and time;
 *  - the reference accepts and the scanner gives up on the same vault as this program
 *    writes it (vault_text): the scanner must read everything the program writes. It may
 *    give up on other spellings of an accepted vault (escapes, other number forms):
 *    that is its documented fallback, not a disagreement.
 * The reference's refusals must carry a clean message (fuzz_common.h).
 *
 * Both parsers and the vault's layout are declared in crypto/vaultint.h, the module's
 * internal header.
 *
 *	make fuzz && build/fuzz/fuzz_vault_diff -dict=tests/fuzz/vault_diff.dict \
 *	    /tmp/work tests/fuzz/corpus/vault_diff */
#include <stdlib.h>
#include <string.h>

#include "../../crypto/vaultint.h"
#include "fuzz_common.h"

static struct key *test_key;

int	LLVMFuzzerInitialize(int *argc, char ***argv);
int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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

/* Aborts unless a and b hold the same vault, byte for byte. */
static void
same(const struct vault *a, const struct vault *b)
{
	const struct provider *pa, *pb;
	size_t i, j;

	if (a->generation != b->generation || strcmp(a->fpr, b->fpr) != 0 || a->n != b->n ||
	    a->format != b->format || a->removed != b->removed)
		abort();
	for (i = 0; i < a->n; i++) {
		pa = &a->p[i];
		pb = &b->p[i];
		if (strcmp(pa->name, pb->name) != 0 || pa->n != pb->n || pa->n == 0)
			abort();
		for (j = 0; j < pa->n; j++)
			if (strcmp(pa->f[j].name, pb->f[j].name) != 0 ||
			    pa->f[j].ctlen != pb->f[j].ctlen ||
			    pa->f[j].version != pb->f[j].version ||
			    pa->f[j].mtime != pb->f[j].mtime ||
			    memcmp(pa->f[j].ct, pb->f[j].ct, pa->f[j].ctlen) != 0)
				abort();
	}
}

/* vault_parse_fast on its own vault, as vault_parse() gives it one; NULL when it gives up. */
static struct vault *
fast(const char *buf, size_t len)
{
	struct cs_err e = { 0 };
	struct vault *v;

	if (vault_alloc(test_key, "fuzz.json", &v, &e) != 0)
		abort();
	if (vault_parse_fast(buf, len, test_key, v) == 0)
		return v;
	vault_close(v);
	return NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char mac[MAC_BYTES];
	struct cs_err e = { 0 };
	struct vault *vf, *vj, *vt;
	char *text;
	size_t tlen;

	vf = fast((const char *)data, size);
	if (vault_parse_json((const char *)data, size, "fuzz.json", test_key, &vj, &e) != 0) {
		if (vf != NULL || vj != NULL)
			abort();	/* the scanner took what the reference refuses */
		fuzz_clean_msg(&e);
		return 0;
	}
	if (vj == NULL || e.code != 0)
		abort();
	if (vf != NULL)
		same(vf, vj);
	/* The vault as this program writes it: the scanner must read it, and the same. */
	vault_mac_compute(vj, mac);
	if ((text = vault_text(vj, mac, &tlen)) == NULL)
		abort();
	if ((vt = fast(text, tlen)) == NULL)
		abort();
	same(vt, vj);
	free(text);
	vault_close(vt);
	vault_close(vf);
	vault_close(vj);
	return 0;
}
