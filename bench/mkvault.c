/* bench/mkvault.c - fills a vault made by `comfysecrets init` from an import-format JSON
 * file ({"provider": {"field": "value"}}) in one save, for the benchmark's large N.
 * It goes through crypto/ exactly as the CLI does (store_open, vault_put, vault_save
 * under the vault lock), with one guarded buffer reused for every value.
 *
 *   mkvault VAULT KEY_FILE FILE.json */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "../crypto/store.h"

#define VALUE_MAX_BYTES	4096

int
main(int argc, char **argv)
{
	struct cs_err e = { 0 };
	struct vault *v = NULL;
	struct key *k = NULL;
	struct secret *s;
	json_error_t jerr;
	json_t *root, *prov, *val;
	const char *pname, *fname;
	size_t n = 0;
	int lock;

	if (argc != 4) {
		fprintf(stderr, "usage: mkvault VAULT KEY_FILE FILE.json\n");
		return 2;
	}
	if (sodium_init() < 0 || (s = secret_new(VALUE_MAX_BYTES)) == NULL)
		return 1;
	if ((root = json_load_file(argv[3], 0, &jerr)) == NULL) {
		fprintf(stderr, "mkvault: %s:%d: %s\n", argv[3], jerr.line, jerr.text);
		return 1;
	}
	if (vault_lock(argv[1], &lock, &e) == -1 ||
	    store_open(argv[1], argv[2], &k, &v, &e) == -1)
		goto fail;
	json_object_foreach(root, pname, prov) {
		json_object_foreach(prov, fname, val) {
			if (json_string_length(val) > VALUE_MAX_BYTES) {
				cs_err_set(&e, EFBIG, "%s/%s: value too long", pname, fname);
				goto fail;
			}
			memcpy(s->buf, json_string_value(val), json_string_length(val));
			s->len = json_string_length(val);
			if (vault_put(v, pname, fname, s, 0, &e) == -1)
				goto fail;
			n++;
		}
	}
	if (vault_save(v, argv[1], 0, &e) == -1)
		goto fail;
	vault_unlock(lock);
	printf("mkvault: %zu values in %s, generation %llu\n", n, argv[1],
	    (unsigned long long)vault_generation(v));
	s->len = VALUE_MAX_BYTES;
	secret_free(s);
	vault_close(v);
	key_free(k);
	json_decref(root);
	return 0;
fail:
	fprintf(stderr, "mkvault: %s\n", e.msg);
	return 1;
}
