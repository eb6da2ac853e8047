/* tests/fuzz/fuzz_envname.c - libFuzzer target for override names
 * (COMFYVN_SECRET_<PROVIDER>_<FIELD>, as the daemon reads its environment and `import`
 * reads a .env file).
 *
 * Beyond "no crash": a name that splits gives two valid vault names, and splitting is
 * the documented rule (provider = the first word after the prefix, lowercased; field =
 * the rest, lowercased), checked against an independent reading here. A refusal is a
 * clean message of bounded size, whatever bytes the name holds.
 *
 *	make fuzz && build/fuzz/fuzz_envname -dict=tests/fuzz/envname.dict tests/fuzz/corpus/envname */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../policy/envname.h"
#include "fuzz_common.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char provider[VAULT_NAME_MAX + 1], field[VAULT_NAME_MAX + 1];
	const char *name = (const char *)data, *rest, *us;
	struct cs_err e = { 0 };
	size_t plen = sizeof ENVNAME_PREFIX - 1, i, n;
	int is;

	is = envname_is_override(name, size);
	if (is != (size > plen && memcmp(name, ENVNAME_PREFIX, plen) == 0))
		abort();
	if (envname_split(name, size, provider, field, &e) == -1) {
		fuzz_clean_msg(&e);
		return 0;
	}
	if (!is || !vault_name_ok(provider) || !vault_name_ok(field))
		abort();
	rest = name + plen;
	if ((us = memchr(rest, '_', size - plen)) == NULL)
		abort();
	n = (size_t)(us - rest);
	if (strlen(provider) != n || strlen(field) != size - plen - n - 1)
		abort();
	for (i = 0; i < n; i++)
		if (provider[i] != tolower((unsigned char)rest[i]))
			abort();
	for (i = 0; field[i] != '\0'; i++)
		if (field[i] != tolower((unsigned char)us[1 + i]))
			abort();
	return 0;
}
