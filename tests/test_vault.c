/* tests/test_vault.c - the vault file: values survive a round trip, names are strict,
 * every kind of tampering is refused with the right code and without echoing a secret.
 *
 * Fixtures are made here from a fixed test key, then altered, so they cannot go stale
 * when the format's details (indentation, nonce) change. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"
#include <jansson.h>
#include <sodium.h>

#include "../crypto/vault.h"

#define TEST_KEY_B64	"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="	/* bytes 0..31 */
#define TEST_KEY_FPR	"630dcd2966c43366"
#define OTHER_KEY_B64	"ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoM="	/* bytes 100..131 */
#define OTHER_KEY_FPR	"e3e16780becf601d"
#define SEED_VALUE	"rp_SEED_4f9c2e7d1b"	/* must never appear in a message */
#define SEED_VALUE2	"sk-SEED-openai-8a7b6c"
#define ENDPOINT	"https://api.runpod.io/v2"
#define SOME_CT_B64	"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"	/* 45 bytes */
#define V1_FIXTURE	"tests/fixtures/vault-v1.json"	/* see tests/fixtures/README.md */
#define V1_KEY_B64	"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="	/* bytes 1..32 */
#define PERF_PROVIDERS	100
#define PERF_FIELDS	1000	/* per provider: 100 000 fields in all */
#define PERF_VALUE_BYTES 40

static const unsigned char binary_value[] = { 0, 1, 'x', 0, 0xff, 0, 0x7f, 0 };

static char dir[64];
static struct key *tk, *ok;	/* the test key and another one */

static int
setup(void **state)
{
	struct cs_err e = { 0 };

	(void)state;
	if (testutil_mkdtemp(dir, sizeof dir, "vault") == -1)
		return -1;
	if (key_parse(TEST_KEY_B64, strlen(TEST_KEY_B64), "test key", &tk, &e) == -1 ||
	    key_parse(OTHER_KEY_B64, strlen(OTHER_KEY_B64), "other key", &ok, &e) == -1)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	key_free(tk);
	key_free(ok);
	return testutil_rmtree(dir);
}

static void
path_of(char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "%s/%s", dir, name);
}

static void
put(struct vault *v, const char *p, const char *f, const void *val, size_t len)
{
	struct cs_err e = { 0 };
	struct secret *s;

	assert_non_null(s = secret_dup(val, len));
	if (vault_put(v, p, f, s, 0, &e) == -1)
		fail_msg("vault_put %s/%s: %s", p, f, e.msg);
	secret_free(s);
}

static void
put_str(struct vault *v, const char *p, const char *f, const char *val)
{
	put(v, p, f, val, strlen(val));
}

/* A fresh vault at path under the test key, generation 1:
 * bin/blob, bin/empty, openai/api_key, runpod/api_key, runpod/endpoint. */
static void
seeded(const char *path)
{
	struct cs_err e = { 0 };
	struct vault *v;

	unlink(path);
	assert_int_equal(vault_new(tk, &v, &e), 0);
	put_str(v, "runpod", "api_key", SEED_VALUE);
	put_str(v, "runpod", "endpoint", ENDPOINT);
	put_str(v, "openai", "api_key", SEED_VALUE2);
	put(v, "bin", "blob", binary_value, sizeof binary_value);
	put(v, "bin", "empty", "", 0);
	if (vault_save(v, path, 1, &e) == -1)
		fail_msg("save: %s", e.msg);
	vault_close(v);
}

static char *
slurp(const char *path)
{
	char *buf;
	long n;
	FILE *f;

	assert_non_null(f = fopen(path, "r"));
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	assert_non_null(buf = malloc((size_t)n + 1));
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void
spit(const char *path, const char *text, size_t len)
{
	FILE *f;

	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
}

/* Replaces the first old in the file with new, as text. */
static void
edit_text(const char *path, const char *old, const char *new)
{
	char *buf, *at, *out;
	size_t n;

	buf = slurp(path);
	if ((at = strstr(buf, old)) == NULL)
		fail_msg("\"%s\" not in %s", old, path);
	n = strlen(buf) - strlen(old) + strlen(new);
	assert_non_null(out = malloc(n + 1));
	memcpy(out, buf, (size_t)(at - buf));
	memcpy(out + (at - buf), new, strlen(new));
	strcpy(out + (at - buf) + strlen(new), at + strlen(old));
	spit(path, out, n);
	free(out);
	free(buf);
}

static json_t *
load_json(const char *path)
{
	json_error_t jerr;
	json_t *root;

	if ((root = json_load_file(path, 0, &jerr)) == NULL)
		fail_msg("%s: %s", path, jerr.text);
	return root;
}

static void
save_json(const char *path, json_t *root)
{
	assert_int_equal(json_dump_file(root, path, JSON_INDENT(2)), 0);
	json_decref(root);
}

static json_t *
provider_of(json_t *root, const char *p)
{
	json_t *j = json_object_get(json_object_get(root, "providers"), p);

	assert_non_null(j);
	return j;
}

/* The sealed value (base64) of field f in provider object p: the field's "value". */
static json_t *
value_of(json_t *p, const char *f)
{
	json_t *j = json_object_get(json_object_get(p, f), "value");

	assert_non_null(j);
	return j;
}

/* Replaces that value with j (a reference is taken). */
static void
set_value(json_t *p, const char *f, json_t *j)
{
	assert_int_equal(json_object_set_new(json_object_get(p, f), "value", j), 0);
}

/* vault_open(path) must fail with code, a message naming path and holding words. */
static void
refused_with(const char *path, const struct key *k, int code, const char *words)
{
	struct cs_err e = { 0 };
	struct vault *v = (struct vault *)&e;

	assert_int_equal(vault_open(path, k, &v, &e), -1);
	assert_null(v);
	if (e.code != code)
		fail_msg("code %d, not %d: %s", e.code, code, e.msg);
	assert_non_null(strstr(e.msg, path));
	if (strstr(e.msg, words) == NULL)
		fail_msg("\"%s\" not in \"%s\"", words, e.msg);
	/* never a secret, nor part of one */
	assert_null(strstr(e.msg, SEED_VALUE));
	assert_null(strstr(e.msg, "SEED"));
	assert_null(strstr(e.msg, "4f9c2e7d1b"));
	assert_null(strstr(e.msg, SEED_VALUE2));
}

static void
test_round_trip_keeps_every_value(void **state)
{
	struct cs_err e = { 0 };
	struct vault *v;
	struct secret *s;
	char path[128];
	size_t pi, fi;

	(void)state;
	path_of(path, sizeof path, "roundtrip.json");
	seeded(path);
	assert_int_equal(vault_open(path, tk, &v, &e), 0);
	assert_int_equal(vault_generation(v), 1);
	assert_string_equal(vault_fingerprint(v), TEST_KEY_FPR);
	assert_int_equal(vault_reveal(v, "runpod", "api_key", &s, &e), 0);
	assert_int_equal(s->len, strlen(SEED_VALUE));
	assert_memory_equal(s->buf, SEED_VALUE, s->len);
	secret_free(s);
	assert_int_equal(vault_reveal(v, "openai", "api_key", &s, &e), 0);
	assert_memory_equal(s->buf, SEED_VALUE2, strlen(SEED_VALUE2));
	secret_free(s);
	/* binary, with NUL bytes */
	assert_int_equal(vault_reveal(v, "bin", "blob", &s, &e), 0);
	assert_int_equal(s->len, sizeof binary_value);
	assert_memory_equal(s->buf, binary_value, sizeof binary_value);
	secret_free(s);
	/* empty */
	assert_int_equal(vault_find(v, "bin", "empty", &pi, &fi, &e), 0);
	assert_int_equal(vault_value_len(v, pi, fi), 0);
	assert_int_equal(vault_reveal_at(v, pi, fi, &s, &e), 0);
	assert_int_equal(s->len, 0);
	assert_non_null(s->buf);
	secret_free(s);
	assert_int_equal(vault_find(v, "runpod", "endpoint", &pi, &fi, &e), 0);
	assert_int_equal(vault_value_len(v, pi, fi), strlen(ENDPOINT));
	vault_close(v);
	vault_close(NULL);
}

static void
test_enumeration_is_in_name_order(void **state)
{
	static const char *const order[][2] = {
		{ "a", "x" }, { "a", "y" }, { "b-2", "k" }, { "b.1", "k" }, { "zz", "0" },
		{ "zz", "a" }, { "zz", "a.b" },
	};
	struct cs_err e = { 0 };
	struct vault *v;
	char path[128];
	size_t pi, fi, i = 0;

	(void)state;
	assert_int_equal(vault_new(tk, &v, &e), 0);
	put_str(v, "zz", "a.b", "1");
	put_str(v, "a", "y", "2");
	put_str(v, "b.1", "k", "3");
	put_str(v, "zz", "0", "4");
	put_str(v, "b-2", "k", "5");
	put_str(v, "a", "x", "6");
	put_str(v, "zz", "a", "7");
	path_of(path, sizeof path, "order.json");
	assert_int_equal(vault_save(v, path, 0, &e), 0);
	vault_close(v);
	assert_int_equal(vault_open(path, tk, &v, &e), 0);
	assert_int_equal(vault_nproviders(v), 4);
	for (pi = 0; pi < vault_nproviders(v); pi++)
		for (fi = 0; fi < vault_nfields(v, pi); fi++, i++) {
			assert_string_equal(vault_provider(v, pi), order[i][0]);
			assert_string_equal(vault_field(v, pi, fi), order[i][1]);
			assert_int_equal(vault_find(v, order[i][0], order[i][1], &pi, &fi, &e), 0);
		}
	assert_int_equal(i, 7);
	vault_close(v);
}

static void
test_put_replaces_an_existing_value(void **state)
{
	struct cs_err e = { 0 };
	struct vault *v;
	struct secret *s;

	(void)state;
	assert_int_equal(vault_new(tk, &v, &e), 0);
	put_str(v, "runpod", "api_key", "old");
	put_str(v, "runpod", "api_key", "newer value");
	assert_int_equal(vault_nproviders(v), 1);
	assert_int_equal(vault_nfields(v, 0), 1);
	assert_int_equal(vault_reveal(v, "runpod", "api_key", &s, &e), 0);
	assert_memory_equal(s->buf, "newer value", s->len);
	secret_free(s);
	vault_close(v);
}

static void
test_value_over_the_limit_is_refused(void **state)
{
	struct cs_err e = { 0 };
	struct vault *v;
	struct secret *s;

	(void)state;
	assert_int_equal(vault_new(tk, &v, &e), 0);
	s = secret_new(11);
	memset(s->buf, 'S', s->len);
	assert_int_equal(vault_put(v, "runpod", "api_key", s, 10, &e), -1);
	assert_int_equal(e.code, EFBIG);
	assert_non_null(strstr(e.msg, "runpod/api_key"));
	assert_non_null(strstr(e.msg, "over the limit of 10 bytes"));
	assert_null(strstr(e.msg, "11"));	/* the value's own length is not told */
	assert_null(strstr(e.msg, "SSS"));
	assert_int_equal(vault_nproviders(v), 0);
	secret_free(s);
	/* exactly the limit is fine */
	s = secret_new(10);
	cs_err_clear(&e);
	assert_int_equal(vault_put(v, "runpod", "api_key", s, 10, &e), 0);
	secret_free(s);
	/* 0 means the default, 64 KiB */
	s = secret_new(VAULT_VALUE_MAX_BYTES + 1);
	assert_int_equal(vault_put(v, "runpod", "big", s, 0, &e), -1);
	assert_int_equal(e.code, EFBIG);
	assert_non_null(strstr(e.msg, "limit of 65536 bytes"));
	secret_free(s);
	s = secret_new(VAULT_VALUE_MAX_BYTES);
	cs_err_clear(&e);
	assert_int_equal(vault_put(v, "runpod", "big", s, 0, &e), 0);
	secret_free(s);
	/* no limit may go past the hard one */
	s = secret_new(VAULT_VALUE_HARD_MAX + 1);
	assert_int_equal(vault_put(v, "runpod", "huge", s, SIZE_MAX, &e), -1);
	assert_int_equal(e.code, EFBIG);
	assert_non_null(strstr(e.msg, "limit of 16777216 bytes"));
	secret_free(s);
	vault_close(v);
}

static void
test_remove_field_then_provider(void **state)
{
	struct cs_err e = { 0 };
	struct vault *v;
	char path[128];

	(void)state;
	path_of(path, sizeof path, "remove.json");
	seeded(path);
	assert_int_equal(vault_open(path, tk, &v, &e), 0);
	assert_int_equal(vault_nproviders(v), 3);
	assert_int_equal(vault_remove(v, "runpod", "endpoint", &e), 0);
	assert_int_equal(vault_nproviders(v), 3);
	/* the last field takes its provider with it */
	assert_int_equal(vault_remove(v, "runpod", "api_key", &e), 0);
	assert_int_equal(vault_nproviders(v), 2);
	assert_int_equal(vault_find(v, "runpod", NULL, NULL, NULL, &e), -1);
	assert_int_equal(e.code, ENOENT);
	/* a whole provider */
	cs_err_clear(&e);
	assert_int_equal(vault_remove(v, "bin", NULL, &e), 0);
	assert_int_equal(vault_nproviders(v), 1);
	assert_string_equal(vault_provider(v, 0), "openai");
	/* absent things */
	assert_int_equal(vault_remove(v, "bin", NULL, &e), -1);
	assert_int_equal(e.code, ENOENT);
	assert_non_null(strstr(e.msg, "no provider \"bin\""));
	cs_err_clear(&e);
	assert_int_equal(vault_remove(v, "openai", "nope", &e), -1);
	assert_int_equal(e.code, ENOENT);
	assert_non_null(strstr(e.msg, "openai has no field \"nope\""));
	/* what is left saves and opens */
	cs_err_clear(&e);
	assert_int_equal(vault_save(v, path, 0, &e), 0);
	vault_close(v);
	assert_int_equal(vault_open(path, tk, &v, &e), 0);
	assert_int_equal(vault_nproviders(v), 1);
	assert_int_equal(vault_generation(v), 2);
	vault_close(v);
}

static void
test_missing_field_is_enoent_with_escaped_name(void **state)
{
	struct cs_err e = { 0 };
	struct vault *v;
	struct secret *s = NULL;
	char path[128];

	(void)state;
	path_of(path, sizeof path, "missing.json");
	seeded(path);
	assert_int_equal(vault_open(path, tk, &v, &e), 0);
	assert_int_equal(vault_reveal(v, "runpod", "nope\n", &s, &e), -1);
	assert_null(s);
	assert_int_equal(e.code, ENOENT);
	assert_non_null(strstr(e.msg, path));
	assert_non_null(strstr(e.msg, "nope\\x0a"));
	assert_null(strchr(e.msg, '\n'));
	cs_err_clear(&e);
	assert_int_equal(vault_reveal(v, "nobody", "api_key", &s, &e), -1);
	assert_int_equal(e.code, ENOENT);
	assert_non_null(strstr(e.msg, "no provider \"nobody\""));
	vault_close(v);
}

static void
test_save_bumps_the_generation_and_writes_0600(void **state)
{
	struct cs_err e = { 0 };
	struct vault *v;
	struct stat st;
	char path[128];

	(void)state;
	path_of(path, sizeof path, "gen.json");
	unlink(path);
	assert_int_equal(vault_new(tk, &v, &e), 0);
	assert_int_equal(vault_generation(v), 0);
	assert_int_equal(vault_save(v, path, 1, &e), 0);
	assert_int_equal(vault_generation(v), 1);
	assert_int_equal(vault_save(v, path, 0, &e), 0);
	assert_int_equal(vault_save(v, path, 0, &e), 0);
	assert_int_equal(vault_generation(v), 3);
	vault_close(v);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(vault_open(path, tk, &v, &e), 0);
	assert_int_equal(vault_generation(v), 3);
	assert_int_equal(vault_nproviders(v), 0);
	vault_close(v);
}

static void
test_saved_file_has_the_documented_shape(void **state)
{
	static const char *const keys[] = {
		"format", "version", "cipher", "key_fingerprint", "generation", "providers", "mac",
	};
	json_t *root, *j;
	char path[128], *text, *prev = NULL, *at;
	unsigned char bin[256];
	size_t i, binlen;

	(void)state;
	path_of(path, sizeof path, "shape.json");
	seeded(path);
	text = slurp(path);
	/* keys in the documented order, and the plaintext nowhere */
	for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		char q[64];
		snprintf(q, sizeof q, "\"%s\"", keys[i]);
		assert_non_null(at = strstr(text, q));
		assert_true(prev == NULL || at > prev);
		prev = at;
	}
	assert_null(strstr(text, SEED_VALUE));
	assert_null(strstr(text, ENDPOINT));
	free(text);
	root = load_json(path);
	assert_int_equal(json_object_size(root), 8);
	assert_string_equal(json_string_value(json_object_get(root, "format")), VAULT_FORMAT);
	assert_int_equal(json_integer_value(json_object_get(root, "version")), VAULT_VERSION);
	assert_int_equal(json_integer_value(json_object_get(root, "removed_version")), 0);
	assert_string_equal(json_string_value(json_object_get(root, "cipher")), VAULT_CIPHER);
	assert_string_equal(json_string_value(json_object_get(root, "key_fingerprint")),
	    TEST_KEY_FPR);
	assert_int_equal(json_integer_value(json_object_get(root, "generation")), 1);
	/* base64(nonce 24 || ciphertext || tag 16) */
	j = json_object_get(provider_of(root, "runpod"), "api_key");
	assert_int_equal(json_object_size(j), 3);
	assert_int_equal(json_integer_value(json_object_get(j, "version")), 1);
	assert_true(json_integer_value(json_object_get(j, "changed")) > 0);
	j = value_of(provider_of(root, "runpod"), "api_key");
	assert_int_equal(sodium_base642bin(bin, sizeof bin, json_string_value(j),
	    json_string_length(j), NULL, &binlen, NULL, sodium_base64_VARIANT_ORIGINAL), 0);
	assert_int_equal(binlen, 24 + strlen(SEED_VALUE) + 16);
	j = json_object_get(root, "mac");
	assert_int_equal(sodium_base642bin(bin, sizeof bin, json_string_value(j),
	    json_string_length(j), NULL, &binlen, NULL, sodium_base64_VARIANT_ORIGINAL), 0);
	assert_int_equal(binlen, 32);
	json_decref(root);
}

static void
test_the_same_value_encrypts_differently_each_time(void **state)
{
	struct cs_err e = { 0 };
	struct vault *v;
	json_t *a, *b;
	char p1[128], p2[128];

	(void)state;
	path_of(p1, sizeof p1, "nonce1.json");
	path_of(p2, sizeof p2, "nonce2.json");
	assert_int_equal(vault_new(tk, &v, &e), 0);
	put_str(v, "runpod", "api_key", SEED_VALUE);
	assert_int_equal(vault_save(v, p1, 0, &e), 0);
	put_str(v, "runpod", "api_key", SEED_VALUE);
	assert_int_equal(vault_save(v, p2, 0, &e), 0);
	vault_close(v);
	a = load_json(p1);
	b = load_json(p2);
	assert_string_not_equal(json_string_value(value_of(provider_of(a, "runpod"), "api_key")),
	    json_string_value(value_of(provider_of(b, "runpod"), "api_key")));
	json_decref(a);
	json_decref(b);
}

static int
count_prefixed(const char *prefix)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	assert_non_null(d = opendir(dir));
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			n++;
	closedir(d);
	return n;
}

static void
test_save_excl_refuses_to_overwrite(void **state)
{
	struct cs_err e = { 0 };
	struct vault *v;
	char path[128];

	(void)state;
	path_of(path, sizeof path, "excl.json");
	seeded(path);
	assert_int_equal(vault_new(tk, &v, &e), 0);
	assert_int_equal(vault_save(v, path, 1, &e), -1);
	assert_int_equal(e.code, EEXIST);
	assert_non_null(strstr(e.msg, path));
	assert_non_null(strstr(e.msg, "refusing to overwrite"));
	assert_int_equal(vault_generation(v), 0);	/* restored */
	assert_int_equal(count_prefixed("excl.json.tmp-"), 0);
	vault_close(v);
	/* the old one is intact */
	cs_err_clear(&e);
	assert_int_equal(vault_open(path, tk, &v, &e), 0);
	assert_int_equal(vault_nproviders(v), 3);
	vault_close(v);
}

static void
test_failed_save_keeps_the_generation(void **state)
{
	struct cs_err e = { 0 };
	struct vault *v;
	char path[128];

	(void)state;
	path_of(path, sizeof path, "no-such-folder/vault.json");
	assert_int_equal(vault_new(tk, &v, &e), 0);
	put_str(v, "a", "b", "c");
	assert_int_equal(vault_save(v, path, 0, &e), -1);
	assert_int_equal(e.code, ENOENT);
	assert_non_null(strstr(e.msg, "no-such-folder"));
	assert_int_equal(vault_generation(v), 0);
	vault_close(v);
}

static void
test_rekey_moves_every_value_to_the_new_key(void **state)
{
	struct cs_err e = { 0 };
	struct vault *v;
	struct secret *s;
	json_t *a, *b;
	char path[128], old[128];

	(void)state;
	path_of(path, sizeof path, "rekey.json");
	path_of(old, sizeof old, "rekey-old.json");
	seeded(path);
	seeded(old);
	assert_int_equal(vault_open(path, tk, &v, &e), 0);
	assert_int_equal(vault_rekey(v, ok, &e), 0);
	assert_string_equal(vault_fingerprint(v), OTHER_KEY_FPR);
	/* usable at once, before saving */
	assert_int_equal(vault_reveal(v, "runpod", "api_key", &s, &e), 0);
	assert_memory_equal(s->buf, SEED_VALUE, s->len);
	secret_free(s);
	assert_int_equal(vault_save(v, path, 0, &e), 0);
	vault_close(v);
	/* the old key no longer opens it */
	refused_with(path, tk, EKEYREJECTED, "does not match");
	/* the new one does, and every value survived */
	assert_int_equal(vault_open(path, ok, &v, &e), 0);
	assert_string_equal(vault_fingerprint(v), OTHER_KEY_FPR);
	assert_int_equal(vault_generation(v), 2);
	assert_int_equal(vault_reveal(v, "runpod", "api_key", &s, &e), 0);
	assert_int_equal(s->len, strlen(SEED_VALUE));
	assert_memory_equal(s->buf, SEED_VALUE, s->len);
	secret_free(s);
	assert_int_equal(vault_reveal(v, "runpod", "endpoint", &s, &e), 0);
	assert_memory_equal(s->buf, ENDPOINT, s->len);
	secret_free(s);
	assert_int_equal(vault_reveal(v, "openai", "api_key", &s, &e), 0);
	assert_memory_equal(s->buf, SEED_VALUE2, s->len);
	secret_free(s);
	assert_int_equal(vault_reveal(v, "bin", "blob", &s, &e), 0);
	assert_int_equal(s->len, sizeof binary_value);
	assert_memory_equal(s->buf, binary_value, s->len);
	secret_free(s);
	assert_int_equal(vault_reveal(v, "bin", "empty", &s, &e), 0);
	assert_int_equal(s->len, 0);
	secret_free(s);
	vault_close(v);
	/* and every ciphertext changed */
	a = load_json(path);
	b = load_json(old);
	assert_string_not_equal(json_string_value(value_of(provider_of(a, "runpod"), "api_key")),
	    json_string_value(value_of(provider_of(b, "runpod"), "api_key")));
	json_decref(a);
	json_decref(b);
}

/* The version and time of provider/field in v. */
static uint64_t
version_of(const struct vault *v, const char *p, const char *f, int64_t *mtime)
{
	struct cs_err e = { 0 };
	size_t pi, fi;

	if (vault_find(v, p, f, &pi, &fi, &e) == -1)
		fail_msg("%s", e.msg);
	if (mtime != NULL)
		*mtime = vault_field_mtime(v, pi, fi);
	return vault_field_version(v, pi, fi);
}

static struct vault *
reopened(struct vault *v, const char *path, const struct key *k)
{
	struct cs_err e = { 0 };

	if (vault_save(v, path, 0, &e) == -1)
		fail_msg("save: %s", e.msg);
	vault_close(v);
	if (vault_open(path, k, &v, &e) == -1)
		fail_msg("open: %s", e.msg);
	return v;
}

static void
test_versions_count_per_field_and_are_never_reused(void **state)
{
	struct cs_err e = { 0 };
	struct vault *v;
	char path[128];
	int64_t t1, t2, t3;

	(void)state;
	path_of(path, sizeof path, "versions.json");
	assert_int_equal(vault_new(tk, &v, &e), 0);
	put_str(v, "app", "token", "one");
	put_str(v, "app", "other", "x");
	assert_int_equal(version_of(v, "app", "token", &t1), 1);
	assert_true(t1 > 0);
	v = reopened(v, path, tk);
	assert_int_equal(version_of(v, "app", "token", &t2), 1);
	assert_true(t2 == t1);		/* kept by the file, to the nanosecond */
	put_str(v, "app", "token", "two");
	assert_int_equal(version_of(v, "app", "token", &t2), 2);
	assert_true(t2 > t1);
	assert_int_equal(version_of(v, "app", "other", NULL), 1);	/* untouched */
	v = reopened(v, path, tk);
	assert_int_equal(vault_remove(v, "app", "token", &e), 0);
	v = reopened(v, path, tk);
	put_str(v, "app", "token", "three");
	assert_int_equal(version_of(v, "app", "token", &t3), 3);	/* not 1 again */
	assert_true(t3 > t2);
	/* a whole provider removed: its highest version is remembered too */
	put_str(v, "app", "token", "four");
	assert_int_equal(vault_remove(v, "app", NULL, &e), 0);
	v = reopened(v, path, tk);
	put_str(v, "app", "token", "five");
	assert_int_equal(version_of(v, "app", "token", NULL), 5);
	/* a field never seen starts above every removed version, so no name repeats one */
	put_str(v, "new", "field", "y");
	assert_int_equal(version_of(v, "new", "field", NULL), 5);
	/* a rekey changes no value: versions and times stay */
	version_of(v, "app", "token", &t1);
	assert_int_equal(vault_rekey(v, ok, &e), 0);
	v = reopened(v, path, ok);
	assert_int_equal(version_of(v, "app", "token", &t2), 5);
	assert_true(t2 == t1);
	vault_close(v);
}

/* Each edit is one a writer of the vault folder could make; the MAC covers them all. */
static void
edit_meta(const char *path, const char *field, const char *key, json_t *val)
{
	json_t *root;

	seeded(path);
	root = load_json(path);
	if (field == NULL)
		json_object_set_new(root, key, val);
	else
		json_object_set_new(json_object_get(provider_of(root, "runpod"), field), key, val);
	save_json(path, root);
}

static void
test_edited_version_or_time_is_refused(void **state)
{
	char path[128];
	json_t *root;

	(void)state;
	path_of(path, sizeof path, "meta.json");
	edit_meta(path, "api_key", "version", json_integer(7));
	refused_with(path, tk, EBADMSG, "MAC does not verify");
	edit_meta(path, "api_key", "version", json_integer(0));
	refused_with(path, tk, EBADMSG, "MAC does not verify");
	edit_meta(path, "api_key", "changed", json_integer(1));
	refused_with(path, tk, EBADMSG, "MAC does not verify");
	edit_meta(path, NULL, "removed_version", json_integer(9));
	refused_with(path, tk, EBADMSG, "MAC does not verify");
	/* malformed: the reference parser names it */
	edit_meta(path, "api_key", "version", json_integer(-1));
	refused_with(path, tk, EINVAL, "runpod/api_key: \"version\" must be a non-negative");
	edit_meta(path, "api_key", "changed", json_string("2026-11-30"));
	refused_with(path, tk, EINVAL, "runpod/api_key: \"changed\" must be a non-negative");
	edit_meta(path, "api_key", "hint", json_string(SEED_VALUE));
	refused_with(path, tk, EINVAL, "runpod/api_key: unknown key \"hint\"");
	edit_meta(path, NULL, "removed_version", json_real(1.5));
	refused_with(path, tk, EINVAL, "\"removed_version\" must be a non-negative integer");
	seeded(path);
	root = load_json(path);
	json_object_del(root, "removed_version");
	save_json(path, root);
	refused_with(path, tk, EINVAL, "\"removed_version\" must be a non-negative integer");
	/* the old spelling of a field (a bare string) is not a version 2 field */
	seeded(path);
	root = load_json(path);
	json_object_set(provider_of(root, "runpod"), "api_key",
	    value_of(provider_of(root, "runpod"), "api_key"));
	save_json(path, root);
	refused_with(path, tk, EINVAL, "runpod/api_key: must be an object of");
	/* nor is a version 2 file with its version turned back to 1 a version 1 vault */
	seeded(path);
	root = load_json(path);
	json_object_set_new(root, "version", json_integer(VAULT_VERSION_OLD));
	save_json(path, root);
	refused_with(path, tk, EINVAL, "\"removed_version\" is not part of a version 1 vault");
	seeded(path);
	root = load_json(path);
	json_object_set_new(root, "version", json_integer(VAULT_VERSION_OLD));
	json_object_del(root, "removed_version");
	save_json(path, root);
	refused_with(path, tk, EINVAL, "the value must be a base64 string");
}

/* A vault written before versions were kept is served as it is, every field version 0
 * and time unknown, and written in the new format by its next change. */
static void
test_version_1_vault_is_read_and_upgraded_on_change(void **state)
{
	struct cs_err e = { 0 };
	struct key *k1;
	struct vault *v;
	struct secret *s;
	char path[128], *text;
	int64_t t;

	(void)state;
	assert_int_equal(key_parse(V1_KEY_B64, strlen(V1_KEY_B64), "v1 key", &k1, &e), 0);
	if (vault_open(V1_FIXTURE, k1, &v, &e) == -1)
		fail_msg("%s", e.msg);
	assert_int_equal(vault_generation(v), 6);
	assert_int_equal(version_of(v, "runpod", "api_key", &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(vault_reveal(v, "runpod", "api_key", &s, &e), 0);
	assert_int_equal(s->len, strlen("seed-value-1"));
	assert_memory_equal(s->buf, "seed-value-1", s->len);
	secret_free(s);
	put_str(v, "runpod", "api_key", "seed-value-2");
	assert_int_equal(version_of(v, "runpod", "api_key", NULL), 1);
	path_of(path, sizeof path, "upgraded.json");
	unlink(path);
	v = reopened(v, path, k1);
	text = slurp(path);
	assert_non_null(strstr(text, "\"version\": 2,"));
	assert_non_null(strstr(text, "\"removed_version\": 0,"));
	free(text);
	assert_int_equal(vault_generation(v), 7);
	assert_int_equal(version_of(v, "runpod", "api_key", &t), 1);
	assert_true(t > 0);
	assert_int_equal(version_of(v, "runpod", "endpoint", &t), 0);	/* never changed */
	assert_int_equal(t, 0);
	assert_int_equal(vault_reveal(v, "runpod", "endpoint", &s, &e), 0);
	assert_memory_equal(s->buf, "https://example.invalid/v1", s->len);
	secret_free(s);
	put_str(v, "runpod", "endpoint", "https://example.invalid/v2");
	assert_int_equal(version_of(v, "runpod", "endpoint", NULL), 1);
	vault_close(v);
	key_free(k1);
}

/* Tampering: each case alters a good vault in one way. */

static void
test_flipped_byte_in_a_ciphertext_is_refused(void **state)
{
	unsigned char bin[256];
	char path[128], b64[512];
	size_t binlen;
	json_t *root, *p;

	(void)state;
	path_of(path, sizeof path, "flip.json");
	seeded(path);
	root = load_json(path);
	p = provider_of(root, "runpod");
	assert_int_equal(sodium_base642bin(bin, sizeof bin, json_string_value(value_of(p,
	    "api_key")), json_string_length(value_of(p, "api_key")), NULL, &binlen, NULL,
	    sodium_base64_VARIANT_ORIGINAL), 0);
	bin[30] ^= 0x01;
	sodium_bin2base64(b64, sizeof b64, bin, binlen, sodium_base64_VARIANT_ORIGINAL);
	set_value(p, "api_key", json_string(b64));
	save_json(path, root);
	refused_with(path, tk, EBADMSG, "MAC does not verify");
}

static void
test_ciphertexts_swapped_between_fields_are_refused(void **state)
{
	char path[128];
	json_t *root, *rp, *oa, *a, *b;

	(void)state;
	path_of(path, sizeof path, "swap.json");
	seeded(path);
	root = load_json(path);
	rp = provider_of(root, "runpod");
	oa = provider_of(root, "openai");
	a = json_incref(json_object_get(rp, "api_key"));
	b = json_incref(json_object_get(oa, "api_key"));
	json_object_set_new(rp, "api_key", b);
	json_object_set_new(oa, "api_key", a);
	save_json(path, root);
	refused_with(path, tk, EBADMSG, "MAC does not verify: the vault was altered");
	/* and within one provider */
	seeded(path);
	root = load_json(path);
	rp = provider_of(root, "runpod");
	a = json_incref(json_object_get(rp, "api_key"));
	b = json_incref(json_object_get(rp, "endpoint"));
	json_object_set_new(rp, "api_key", b);
	json_object_set_new(rp, "endpoint", a);
	save_json(path, root);
	refused_with(path, tk, EBADMSG, "MAC does not verify");
}

static void
test_deleted_entry_is_refused(void **state)
{
	char path[128];
	json_t *root;

	(void)state;
	path_of(path, sizeof path, "delete.json");
	seeded(path);
	root = load_json(path);
	json_object_del(provider_of(root, "runpod"), "endpoint");
	save_json(path, root);
	refused_with(path, tk, EBADMSG, "MAC does not verify");
	/* a whole provider */
	seeded(path);
	root = load_json(path);
	json_object_del(json_object_get(root, "providers"), "openai");
	save_json(path, root);
	refused_with(path, tk, EBADMSG, "MAC does not verify");
}

static void
test_added_entry_is_refused(void **state)
{
	char path[128];
	json_t *root, *rp;

	(void)state;
	path_of(path, sizeof path, "add.json");
	seeded(path);
	root = load_json(path);
	rp = provider_of(root, "runpod");
	/* a real ciphertext, copied under a new name */
	json_object_set(rp, "api_key2", json_object_get(rp, "api_key"));
	save_json(path, root);
	refused_with(path, tk, EBADMSG, "MAC does not verify");
}

static void
test_renamed_provider_is_refused(void **state)
{
	char path[128];
	json_t *root, *ps;

	(void)state;
	path_of(path, sizeof path, "rename.json");
	seeded(path);
	root = load_json(path);
	ps = json_object_get(root, "providers");
	json_object_set(ps, "runpod2", json_object_get(ps, "runpod"));
	json_object_del(ps, "runpod");
	save_json(path, root);
	refused_with(path, tk, EBADMSG, "MAC does not verify");
}

static void
test_changed_generation_is_refused(void **state)
{
	char path[128];
	json_t *root;

	(void)state;
	path_of(path, sizeof path, "generation.json");
	seeded(path);
	root = load_json(path);
	json_object_set_new(root, "generation", json_integer(1000));
	save_json(path, root);
	refused_with(path, tk, EBADMSG, "MAC does not verify");
	seeded(path);
	root = load_json(path);
	json_object_set_new(root, "generation", json_integer(0));
	save_json(path, root);
	refused_with(path, tk, EBADMSG, "MAC does not verify");
}

static void
test_removed_mac_is_refused(void **state)
{
	char path[128];
	json_t *root;

	(void)state;
	path_of(path, sizeof path, "nomac.json");
	seeded(path);
	root = load_json(path);
	json_object_del(root, "mac");
	save_json(path, root);
	refused_with(path, tk, EBADMSG, "no \"mac\"");
}

static void
test_malformed_mac_is_refused(void **state)
{
	char path[128];
	json_t *root;

	(void)state;
	path_of(path, sizeof path, "badmac.json");
	seeded(path);
	root = load_json(path);
	json_object_set_new(root, "mac", json_string("AAAA"));
	save_json(path, root);
	refused_with(path, tk, EBADMSG, "\"mac\" is not base64 of 32 bytes");
	seeded(path);
	root = load_json(path);
	json_object_set_new(root, "mac", json_integer(7));
	save_json(path, root);
	refused_with(path, tk, EBADMSG, "\"mac\" is not base64");
	/* a well-formed MAC of zeros */
	seeded(path);
	root = load_json(path);
	json_object_set_new(root, "mac",
	    json_string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="));
	save_json(path, root);
	refused_with(path, tk, EBADMSG, "MAC does not verify");
}

static void
test_truncated_file_is_refused(void **state)
{
	char path[128], *text;

	(void)state;
	path_of(path, sizeof path, "truncated.json");
	seeded(path);
	text = slurp(path);
	spit(path, text, strlen(text) / 2);
	free(text);
	refused_with(path, tk, EINVAL, "not a vault");
	spit(path, "", 0);
	refused_with(path, tk, EINVAL, "not a vault");
}

static void
test_file_that_is_not_json_is_refused(void **state)
{
	char path[128];

	(void)state;
	path_of(path, sizeof path, "notjson.json");
	spit(path, "runpod_api_key=" SEED_VALUE "\n", strlen("runpod_api_key=" SEED_VALUE "\n"));
	refused_with(path, tk, EINVAL, "not a vault");
	/* jansson would quote the token it choked on: not in our message */
	spit(path, SEED_VALUE "\n", strlen(SEED_VALUE) + 1);
	refused_with(path, tk, EINVAL, "not a vault");
	spit(path, "{\"" SEED_VALUE "\" 1}", strlen(SEED_VALUE) + 6);
	refused_with(path, tk, EINVAL, "not a vault");
	spit(path, "[1, 2, 3]", 9);
	refused_with(path, tk, EINVAL, "not a JSON object");
	spit(path, "{}", 2);
	refused_with(path, tk, EINVAL, "not a comfysecrets vault");
}

static void
test_wrong_key_is_refused_naming_both_fingerprints(void **state)
{
	char path[128];

	(void)state;
	path_of(path, sizeof path, "wrongkey.json");
	seeded(path);
	refused_with(path, ok, EKEYREJECTED, "key fingerprint " OTHER_KEY_FPR
	    " does not match the vault's " TEST_KEY_FPR " (wrong key?)");
}

static void
test_forged_fingerprint_does_not_help_another_key(void **state)
{
	char path[128];

	(void)state;
	path_of(path, sizeof path, "forged.json");
	seeded(path);
	edit_text(path, TEST_KEY_FPR, OTHER_KEY_FPR);
	refused_with(path, ok, EBADMSG, "MAC does not verify");
}

static void
test_duplicate_key_is_refused(void **state)
{
	char path[128];

	(void)state;
	path_of(path, sizeof path, "duplicate.json");
	seeded(path);
	edit_text(path, "\"generation\": 1,", "\"generation\": 1, \"generation\": 1,");
	refused_with(path, tk, EINVAL, "duplicate");
	/* inside a provider: the second would silently win otherwise */
	seeded(path);
	edit_text(path, "\"endpoint\":", "\"api_key\": \"" SOME_CT_B64 "\", \"endpoint\":");
	refused_with(path, tk, EINVAL, "duplicate");
}

static void
test_unknown_top_level_key_is_refused(void **state)
{
	char path[128];
	json_t *root;

	(void)state;
	path_of(path, sizeof path, "unknown.json");
	seeded(path);
	root = load_json(path);
	json_object_set_new(root, "comment", json_string("hi"));
	save_json(path, root);
	refused_with(path, tk, EINVAL, "unknown key \"comment\"");
}

/* Sets root[k] = val in a good vault and expects EINVAL mentioning words. */
static void
bad_header(const char *k, json_t *val, const char *words)
{
	char path[128];
	json_t *root;

	path_of(path, sizeof path, "header.json");
	seeded(path);
	root = load_json(path);
	json_object_set_new(root, k, val);
	save_json(path, root);
	refused_with(path, tk, EINVAL, words);
}

static void
test_wrong_types_and_values_in_the_header_are_refused(void **state)
{
	(void)state;
	bad_header("format", json_string("other-vault"), "not a comfysecrets vault");
	bad_header("version", json_integer(3), "version 3 is not supported");
	bad_header("version", json_integer(0), "version 0 is not supported");
	bad_header("version", json_string("1"), "\"version\" is missing or not an integer");
	bad_header("cipher", json_string("aes-256-gcm"), "\"cipher\" must be");
	bad_header("key_fingerprint", json_string("630DCD2966C43366"), "\"key_fingerprint\"");
	bad_header("key_fingerprint", json_integer(1), "\"key_fingerprint\"");
	bad_header("generation", json_integer(-1), "\"generation\" must be a non-negative integer");
	bad_header("generation", json_string("1"), "\"generation\" must be a non-negative");
	bad_header("generation", json_real(1.5), "\"generation\" must be a non-negative");
	bad_header("generation", json_null(), "\"generation\" must be a non-negative");
	bad_header("providers", json_array(), "\"providers\" is missing or not an object");
}

static void
test_generation_too_big_for_json_is_refused(void **state)
{
	char path[128];

	(void)state;
	path_of(path, sizeof path, "biggen.json");
	seeded(path);
	edit_text(path, "\"generation\": 1,", "\"generation\": 99999999999999999999999,");
	refused_with(path, tk, EINVAL, "not a vault");
}

static void
test_wrong_types_in_providers_are_refused(void **state)
{
	char path[128];
	json_t *root;

	(void)state;
	path_of(path, sizeof path, "ptypes.json");
	seeded(path);
	root = load_json(path);
	json_object_set_new(json_object_get(root, "providers"), "x", json_string("y"));
	save_json(path, root);
	refused_with(path, tk, EINVAL, "provider x: must be an object");
	seeded(path);
	root = load_json(path);
	set_value(provider_of(root, "runpod"), "api_key", json_integer(3));
	save_json(path, root);
	refused_with(path, tk, EINVAL, "runpod/api_key: the value must be a base64 string");
	seeded(path);
	root = load_json(path);
	json_object_set_new(provider_of(root, "runpod"), "api_key", json_integer(3));
	save_json(path, root);
	refused_with(path, tk, EINVAL, "runpod/api_key: must be an object of \"value\"");
	seeded(path);
	root = load_json(path);
	json_object_set_new(json_object_get(root, "providers"), "empty", json_object());
	save_json(path, root);
	refused_with(path, tk, EINVAL, "provider empty has no fields");
}

static void
test_bad_base64_in_a_field_is_refused(void **state)
{
	char path[128];
	json_t *root;

	(void)state;
	path_of(path, sizeof path, "badb64.json");
	seeded(path);
	root = load_json(path);
	set_value(provider_of(root, "runpod"), "api_key", json_string("!!!notbase64"));
	save_json(path, root);
	refused_with(path, tk, EINVAL, "runpod/api_key: the value is not valid base64");
	/* the URL-safe alphabet is not this variant */
	seeded(path);
	root = load_json(path);
	set_value(provider_of(root, "runpod"), "api_key",
	    json_string("________________________________________________________"));
	save_json(path, root);
	refused_with(path, tk, EINVAL, "not valid base64");
	/* a NUL byte inside a JSON string */
	seeded(path);
	edit_text(path, "\"endpoint\": {\n        \"value\": \"",
	    "\"endpoint\": {\n        \"value\": \"\\u0000");
	refused_with(path, tk, EINVAL, "not a vault");
}

static void
test_too_short_ciphertext_is_refused(void **state)
{
	char path[128];
	json_t *root;

	(void)state;
	path_of(path, sizeof path, "short.json");
	seeded(path);
	root = load_json(path);
	/* 39 bytes: less than a nonce and a tag */
	set_value(provider_of(root, "runpod"), "api_key",
	    json_string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
	save_json(path, root);
	refused_with(path, tk, EINVAL, "runpod/api_key: the ciphertext is too short");
	seeded(path);
	root = load_json(path);
	set_value(provider_of(root, "runpod"), "api_key", json_string(""));
	save_json(path, root);
	refused_with(path, tk, EINVAL, "too short");
}

static void
test_oversized_file_is_refused_unread(void **state)
{
	char path[128];
	int fd;

	(void)state;
	path_of(path, sizeof path, "huge.json");
	assert_true((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) >= 0);
	assert_int_equal(ftruncate(fd, (off_t)VAULT_FILE_MAX_BYTES + 1), 0);	/* sparse */
	close(fd);
	refused_with(path, tk, EFBIG, "larger than 536870912 bytes");
	unlink(path);
}

static void
test_symlinked_vault_is_refused(void **state)
{
	char path[128], target[128];

	(void)state;
	path_of(target, sizeof target, "target.json");
	path_of(path, sizeof path, "link.json");
	seeded(target);
	unlink(path);
	assert_int_equal(symlink(target, path), 0);
	refused_with(path, tk, ELOOP, "symbolic link");
	unlink(path);
}

static void
test_missing_vault_is_enoent_naming_it(void **state)
{
	char path[128];

	(void)state;
	path_of(path, sizeof path, "absent.json");
	refused_with(path, tk, ENOENT, "cannot open the vault");
}

/* Hostile names: each refused by vault_put (naming what) and inside a file. */

static void
hostile_put(const char *name, const char *words)
{
	struct cs_err e = { 0 };
	struct vault *v;
	struct secret *s = secret_dup(SEED_VALUE, strlen(SEED_VALUE));

	assert_int_equal(vault_new(tk, &v, &e), 0);
	assert_int_equal(vault_put(v, name, "api_key", s, 0, &e), -1);
	assert_int_equal(e.code, EINVAL);
	if (strstr(e.msg, "provider ") != e.msg || strstr(e.msg, words) == NULL)
		fail_msg("\"%s\" not in \"%s\"", words, e.msg);
	assert_null(strstr(e.msg, "SEED"));
	cs_err_clear(&e);
	assert_int_equal(vault_put(v, "runpod", name, s, 0, &e), -1);
	assert_int_equal(e.code, EINVAL);
	assert_non_null(strstr(e.msg, "field "));
	assert_non_null(strstr(e.msg, words));
	assert_int_equal(vault_nproviders(v), 0);
	assert_false(vault_name_ok(name));
	cs_err_clear(&e);
	assert_int_equal(vault_name_check(name, "provider", &e), -1);
	assert_non_null(strstr(e.msg, words));
	secret_free(s);
	vault_close(v);
}

/* name is raw JSON string text (escapes allowed), added as a provider and as a field. */
static void
hostile_file(const char *json_name, const char *words)
{
	char path[128], add[512];

	path_of(path, sizeof path, "hostile.json");
	seeded(path);
	snprintf(add, sizeof add, "\"providers\": {\n    \"%s\": {\"k\": \"%s\"},", json_name,
	    SOME_CT_B64);
	edit_text(path, "\"providers\": {", add);
	refused_with(path, tk, EINVAL, words);
	seeded(path);
	snprintf(add, sizeof add, "\"runpod\": {\n    \"%s\": \"%s\",", json_name, SOME_CT_B64);
	edit_text(path, "\"runpod\": {", add);
	refused_with(path, tk, EINVAL, words);
}

static void
test_name_dot_dot_is_refused(void **state)
{
	(void)state;
	hostile_put("..", "\"..\": must match [a-z0-9][a-z0-9._-]{0,63}");
	hostile_put("a..b", "\"a..b\": must not contain \"..\"");
	hostile_put("a..", "must not contain \"..\"");
	hostile_file("..", "\"..\": must match");
	hostile_file("x..y", "must not contain \"..\"");
}

static void
test_name_with_slash_is_refused(void **state)
{
	(void)state;
	hostile_put("a/b", "\"a/b\": must match");
	hostile_put("../etc", "must match");
	hostile_file("a/b", "\"a/b\": must match");
}

static void
test_name_with_leading_dot_is_refused(void **state)
{
	(void)state;
	hostile_put(".hidden", "\".hidden\": must match");
	hostile_put(".", "\".\": must match");
	hostile_put("-x", "must match");
	hostile_file(".hidden", "\".hidden\": must match");
}

static void
test_empty_name_is_refused(void **state)
{
	(void)state;
	hostile_put("", "name is empty");
	hostile_file("", "name is empty");
}

static void
test_name_of_65_bytes_is_refused_and_shown_short(void **state)
{
	char n64[65], n65[66], *huge;
	struct cs_err e = { 0 };

	(void)state;
	memset(n64, 'a', 64);
	n64[64] = '\0';
	memset(n65, 'b', 65);
	n65[65] = '\0';
	assert_true(vault_name_ok(n64));
	hostile_put(n65, "longer than 64 bytes");
	hostile_file(n65, "longer than 64 bytes");
	/* at most 40 bytes are echoed */
	assert_int_equal(vault_name_check(n65, "provider", &e), -1);
	assert_non_null(strstr(e.msg, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb...\""));
	assert_null(strstr(e.msg, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"));
	/* a huge one is no different */
	assert_non_null(huge = malloc(1 << 20));
	memset(huge, 'c', (1 << 20) - 1);
	huge[(1 << 20) - 1] = '\0';
	hostile_put(huge, "longer than 64 bytes");
	free(huge);
}

static void
test_upper_case_name_is_refused(void **state)
{
	(void)state;
	hostile_put("RunPod", "\"RunPod\": must match");
	hostile_put("api_KEY", "must match");
	hostile_file("RunPod", "\"RunPod\": must match");
}

static void
test_name_with_control_characters_is_refused_escaped(void **state)
{
	struct cs_err e = { 0 };

	(void)state;
	hostile_put("a\x01" "b", "\"a\\x01b\": must match");
	hostile_put("evil\n\x1b[31m", "\"evil\\x0a\\x1b[31m\"");
	hostile_put("q\"uote\\", "\"q\\x22uote\\x5c\"");
	hostile_put("caf\xc3\xa9", "\"caf\\xc3\\xa9\"");
	assert_int_equal(vault_name_check("evil\n\x1b", "field", &e), -1);
	assert_null(strchr(e.msg, '\n'));
	assert_null(strchr(e.msg, '\x1b'));
	/* in a file, JSON escapes decode to control characters */
	hostile_file("a\\u0001b", "\"a\\x01b\": must match");
	hostile_file("tab\\there", "\"tab\\x09here\"");
}

static void
test_name_with_nul_in_a_json_key_is_refused(void **state)
{
	(void)state;
	hostile_file("a\\u0000b", "NUL byte");
	hostile_file("runpod\\u0000x", "NUL byte");
}

static void
test_good_names_are_accepted(void **state)
{
	static const char *const good[] = {
		"a", "0", "runpod", "api_key", "a.b-c_d", "9lives", "x.", "x-", "x_", "a.b.c",
	};
	struct cs_err e = { 0 };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		assert_true(vault_name_ok(good[i]));
		assert_int_equal(vault_name_check(good[i], "field", &e), 0);
	}
}

static void
test_peek_fingerprint_reads_without_a_key(void **state)
{
	struct cs_err e = { 0 };
	char path[128], fpr[KEY_FPR_HEX + 1];

	(void)state;
	path_of(path, sizeof path, "peek.json");
	seeded(path);
	assert_int_equal(vault_peek_fingerprint(path, fpr, &e), 0);
	assert_string_equal(fpr, TEST_KEY_FPR);
	spit(path, "{\"key_fingerprint\": 5}", 22);
	assert_int_equal(vault_peek_fingerprint(path, fpr, &e), -1);
	assert_int_equal(e.code, EINVAL);
	assert_non_null(strstr(e.msg, path));
	cs_err_clear(&e);
	spit(path, "nope", 4);
	assert_int_equal(vault_peek_fingerprint(path, fpr, &e), -1);
	assert_int_equal(e.code, EINVAL);
}

static void
test_parse_from_memory_names_the_source(void **state)
{
	struct cs_err e = { 0 };
	struct vault *v;
	char path[128], *text;

	(void)state;
	path_of(path, sizeof path, "mem.json");
	seeded(path);
	text = slurp(path);
	assert_int_equal(vault_parse(text, strlen(text), "<memory>", tk, &v, &e), 0);
	assert_int_equal(vault_nproviders(v), 3);
	vault_close(v);
	assert_int_equal(vault_parse(text, strlen(text) - 10, "<memory>", tk, &v, &e), -1);
	assert_int_equal(e.code, EINVAL);
	assert_non_null(strstr(e.msg, "<memory>:"));
	free(text);
}

static void
test_lock_is_exclusive_and_0600(void **state)
{
	struct cs_err e = { 0 };
	struct stat st;
	char path[128], lock[160];
	int fd, fd2;

	(void)state;
	path_of(path, sizeof path, "locked.json");
	snprintf(lock, sizeof lock, "%s.lock", path);
	unlink(lock);
	assert_int_equal(vault_lock(path, &fd, &e), 0);
	assert_int_equal(stat(lock, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_true((fd2 = open(lock, O_RDONLY)) >= 0);
	assert_int_equal(flock(fd2, LOCK_EX | LOCK_NB), -1);
	assert_int_equal(errno, EWOULDBLOCK);
	vault_unlock(fd);
	assert_int_equal(flock(fd2, LOCK_EX | LOCK_NB), 0);
	close(fd2);
	vault_unlock(-1);
	/* a planted symbolic link is not followed */
	unlink(lock);
	assert_int_equal(symlink("/tmp/cs-elsewhere", lock), 0);
	assert_int_equal(vault_lock(path, &fd, &e), -1);
	assert_int_equal(e.code, ELOOP);
	assert_int_equal(fd, -1);
	assert_int_equal(access("/tmp/cs-elsewhere", F_OK), -1);
	unlink(lock);
}

struct reader {
	const struct vault	*v;
	int			 failures;
};

static void *
reveal_all(void *arg)
{
	struct reader *r = arg;
	struct cs_err e = { 0 };
	struct secret *s;
	size_t pi, fi;
	int round;

	for (round = 0; round < 200; round++)
		for (pi = 0; pi < vault_nproviders(r->v); pi++)
			for (fi = 0; fi < vault_nfields(r->v, pi); fi++) {
				if (vault_reveal_at(r->v, pi, fi, &s, &e) == -1 ||
				    s->len != vault_value_len(r->v, pi, fi))
					r->failures++;
				secret_free(s);
			}
	return NULL;
}

static void
test_const_functions_run_concurrently(void **state)
{
	struct cs_err e = { 0 };
	struct reader r[4];
	pthread_t t[4];
	struct vault *v;
	char path[128];
	int i;

	(void)state;
	path_of(path, sizeof path, "threads.json");
	seeded(path);
	assert_int_equal(vault_open(path, tk, &v, &e), 0);
	for (i = 0; i < 4; i++) {
		r[i].v = v;
		r[i].failures = 0;
		assert_int_equal(pthread_create(&t[i], NULL, reveal_all, &r[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(r[i].failures, 0);
	}
	vault_close(v);
}

/* How long saving and opening 100 000 fields takes is measured by bench/scale. */
static void
test_vault_of_100000_fields_round_trips(void **state)
{
	struct cs_err e = { 0 };
	struct secret *s, *val;
	struct vault *v;
	char path[128], pn[16], fn[24];
	size_t p, f, pi, fi;

	(void)state;
	path_of(path, sizeof path, "perf.json");
	assert_int_equal(vault_new(tk, &v, &e), 0);
	assert_non_null(val = secret_new(PERF_VALUE_BYTES));
	for (p = 0; p < PERF_PROVIDERS; p++)
		for (f = 0; f < PERF_FIELDS; f++) {
			snprintf(pn, sizeof pn, "p%03zu", p);
			snprintf(fn, sizeof fn, "field-%05zu", f);
			snprintf((char *)val->buf, PERF_VALUE_BYTES, "%s/%s", pn, fn);
			assert_int_equal(vault_put(v, pn, fn, val, 0, &e), 0);
		}
	secret_free(val);
	assert_int_equal(vault_save(v, path, 0, &e), 0);
	vault_close(v);
	assert_int_equal(vault_open(path, tk, &v, &e), 0);
	assert_int_equal(vault_nproviders(v), PERF_PROVIDERS);
	assert_int_equal(vault_nfields(v, 57), PERF_FIELDS);
	assert_int_equal(vault_find(v, "p057", "field-00421", &pi, &fi, &e), 0);
	assert_int_equal(pi, 57);
	assert_int_equal(fi, 421);
	assert_int_equal(vault_reveal_at(v, pi, fi, &s, &e), 0);
	assert_string_equal((char *)s->buf, "p057/field-00421");
	secret_free(s);
	vault_close(v);
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_keeps_every_value),
		cmocka_unit_test(test_enumeration_is_in_name_order),
		cmocka_unit_test(test_put_replaces_an_existing_value),
		cmocka_unit_test(test_value_over_the_limit_is_refused),
		cmocka_unit_test(test_remove_field_then_provider),
		cmocka_unit_test(test_missing_field_is_enoent_with_escaped_name),
		cmocka_unit_test(test_save_bumps_the_generation_and_writes_0600),
		cmocka_unit_test(test_saved_file_has_the_documented_shape),
		cmocka_unit_test(test_the_same_value_encrypts_differently_each_time),
		cmocka_unit_test(test_save_excl_refuses_to_overwrite),
		cmocka_unit_test(test_failed_save_keeps_the_generation),
		cmocka_unit_test(test_rekey_moves_every_value_to_the_new_key),
		cmocka_unit_test(test_versions_count_per_field_and_are_never_reused),
		cmocka_unit_test(test_edited_version_or_time_is_refused),
		cmocka_unit_test(test_version_1_vault_is_read_and_upgraded_on_change),
		cmocka_unit_test(test_flipped_byte_in_a_ciphertext_is_refused),
		cmocka_unit_test(test_ciphertexts_swapped_between_fields_are_refused),
		cmocka_unit_test(test_deleted_entry_is_refused),
		cmocka_unit_test(test_added_entry_is_refused),
		cmocka_unit_test(test_renamed_provider_is_refused),
		cmocka_unit_test(test_changed_generation_is_refused),
		cmocka_unit_test(test_removed_mac_is_refused),
		cmocka_unit_test(test_malformed_mac_is_refused),
		cmocka_unit_test(test_truncated_file_is_refused),
		cmocka_unit_test(test_file_that_is_not_json_is_refused),
		cmocka_unit_test(test_wrong_key_is_refused_naming_both_fingerprints),
		cmocka_unit_test(test_forged_fingerprint_does_not_help_another_key),
		cmocka_unit_test(test_duplicate_key_is_refused),
		cmocka_unit_test(test_unknown_top_level_key_is_refused),
		cmocka_unit_test(test_wrong_types_and_values_in_the_header_are_refused),
		cmocka_unit_test(test_generation_too_big_for_json_is_refused),
		cmocka_unit_test(test_wrong_types_in_providers_are_refused),
		cmocka_unit_test(test_bad_base64_in_a_field_is_refused),
		cmocka_unit_test(test_too_short_ciphertext_is_refused),
		cmocka_unit_test(test_oversized_file_is_refused_unread),
		cmocka_unit_test(test_symlinked_vault_is_refused),
		cmocka_unit_test(test_missing_vault_is_enoent_naming_it),
		cmocka_unit_test(test_name_dot_dot_is_refused),
		cmocka_unit_test(test_name_with_slash_is_refused),
		cmocka_unit_test(test_name_with_leading_dot_is_refused),
		cmocka_unit_test(test_empty_name_is_refused),
		cmocka_unit_test(test_name_of_65_bytes_is_refused_and_shown_short),
		cmocka_unit_test(test_upper_case_name_is_refused),
		cmocka_unit_test(test_name_with_control_characters_is_refused_escaped),
		cmocka_unit_test(test_name_with_nul_in_a_json_key_is_refused),
		cmocka_unit_test(test_good_names_are_accepted),
		cmocka_unit_test(test_peek_fingerprint_reads_without_a_key),
		cmocka_unit_test(test_parse_from_memory_names_the_source),
		cmocka_unit_test(test_lock_is_exclusive_and_0600),
		cmocka_unit_test(test_const_functions_run_concurrently),
		cmocka_unit_test(test_vault_of_100000_fields_round_trips),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
