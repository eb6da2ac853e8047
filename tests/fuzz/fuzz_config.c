/* tests/fuzz/fuzz_config.c - libFuzzer target for the INI config parser (cfg_parse:
 * the file's text, without the environment).
 *
 * Beyond "no crash": an error is a clean one-line message naming the file; a config that
 * loads has values inside the documented ranges (timeout 1..600000 ms, max_value_size
 * 1..16 MiB, mode at most 0777), non-empty paths, and valid provider names.
 *
 *	make fuzz && build/fuzz/fuzz_config -dict=tests/fuzz/config.dict tests/fuzz/corpus/config */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../crypto/vault.h"
#include "../../policy/config.h"
#include "fuzz_common.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cs_err e = { 0 };
	struct cfg *c = NULL;
	size_t i;

	if (cfg_parse((const char *)data, size, "fuzz.ini", &c, &e) == -1) {
		if (c != NULL || strncmp(e.msg, "fuzz.ini", 8) != 0)
			abort();
		fuzz_clean_msg(&e);
		return 0;
	}
	if (c == NULL || e.code != 0)
		abort();
	if (c->audit_timeout_ms < 1 || c->audit_timeout_ms > 600000 ||
	    c->max_value_size < 1 || c->max_value_size > VAULT_VALUE_HARD_MAX ||
	    c->vault_path == NULL || c->vault_path[0] == '\0' ||
	    c->key_file == NULL || c->key_file[0] == '\0' ||
	    c->audit_path == NULL || c->audit_path[0] == '\0' ||
	    (c->nallow > 0 && c->allow == NULL))
		abort();
	for (i = 0; i < c->nallow; i++)
		if (c->allow[i].pattern == NULL)
			abort();
	for (i = 0; i < c->nproviders; i++) {
		if (!vault_name_ok(c->providers[i].name) ||
		    (c->providers[i].has_mode && (c->providers[i].mode & ~0777u) != 0) ||
		    cfg_provider(c, c->providers[i].name) != &c->providers[i])
			abort();
	}
	cfg_free(c);
	return 0;
}
