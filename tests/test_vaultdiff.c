/* tests/test_vaultdiff.c - what changed between two vaults (policy/vaultdiff.c), as the
 * daemon's .events and `watch` see it: added, changed and removed fields in name order;
 * a value set again unchanged and a rotation change nothing; a filter skips fields; no
 * old vault means every field is added. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "testutil.h"

#include "../policy/vaultdiff.h"

static char dir[256], path[300];
static struct key *key;

static int
setup(void **state)
{
	struct cs_err e = { 0 };

	(void)state;
	if (sodium_init() < 0 || testutil_mkdtemp(dir, sizeof dir, "vaultdiff") == -1 ||
	    key_generate(&key, &e) == -1)
		return -1;
	snprintf(path, sizeof path, "%s/vault.json", dir);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	key_free(key);
	return testutil_rmtree(dir);
}

static void
put(struct vault *v, const char *p, const char *f, const char *value)
{
	struct secret *s = secret_dup(value, strlen(value));
	struct cs_err e = { 0 };

	assert_non_null(s);
	assert_int_equal(vault_put(v, p, f, s, 0, &e), 0);
	secret_free(s);
}

/* A copy of v as saved now: a vault of its own, as a reader opens it. */
static struct vault *
snapshot(struct vault *v, const struct key *k)
{
	struct vault *out = NULL;
	struct cs_err e = { 0 };

	assert_int_equal(vault_save(v, path, 0, &e), 0);
	assert_int_equal(vault_open(path, k, &out, &e), 0);
	return out;
}

static int
record(void *arg, const struct vaultdiff_change *c)
{
	static const char kinds[] = "+~-";
	char *log = arg;
	size_t n = strlen(log);

	snprintf(log + n, 1024 - n, "%c%s/%s ", kinds[c->kind], c->provider, c->field);
	return 0;
}

static int
not_user(void *arg, const char *provider, const char *field)
{
	(void)arg;
	(void)provider;
	return strcmp(field, "user") != 0;
}

static void
test_added_changed_removed_in_name_order(void **state)
{
	struct vault *v = NULL, *a, *b;
	struct cs_err e = { 0 };
	char log[1024] = "";

	(void)state;
	assert_int_equal(vault_new(key, &v, &e), 0);
	put(v, "app", "token", "t1");
	put(v, "app", "user", "alice");
	put(v, "db", "password", "p1");
	a = snapshot(v, key);
	put(v, "app", "token", "t2");
	put(v, "app", "user", "alice");		/* the same value: no change */
	assert_int_equal(vault_remove(v, "db", NULL, &e), 0);
	put(v, "cache", "url", "redis://");
	b = snapshot(v, key);
	assert_int_equal(vaultdiff(a, b, NULL, record, log, &e), 0);
	assert_string_equal(log, "~app/token +cache/url -db/password ");
	log[0] = '\0';
	assert_int_equal(vaultdiff(a, b, not_user, record, log, &e), 0);
	assert_string_equal(log, "~app/token +cache/url -db/password ");
	log[0] = '\0';
	assert_int_equal(vaultdiff(NULL, b, not_user, record, log, &e), 0);
	assert_string_equal(log, "+app/token +cache/url ");
	log[0] = '\0';
	assert_int_equal(vaultdiff(b, b, NULL, record, log, &e), 0);
	assert_string_equal(log, "");
	vault_close(a);
	vault_close(b);
	vault_close(v);
}

static void
test_a_rotation_changes_nothing(void **state)
{
	struct vault *v = NULL, *a, *b;
	struct key *nk = NULL;
	struct cs_err e = { 0 };
	char log[1024] = "";

	(void)state;
	assert_int_equal(vault_new(key, &v, &e), 0);
	put(v, "app", "token", "t1");
	put(v, "app", "user", "alice");
	a = snapshot(v, key);
	assert_int_equal(key_generate(&nk, &e), 0);
	assert_int_equal(vault_rekey(v, nk, &e), 0);
	b = snapshot(v, nk);
	assert_string_not_equal(vault_fingerprint(a), vault_fingerprint(b));
	assert_int_equal(vaultdiff(a, b, NULL, record, log, &e), 0);
	assert_string_equal(log, "");
	put(v, "app", "user", "bob");
	vault_close(b);
	b = snapshot(v, nk);
	assert_int_equal(vaultdiff(a, b, NULL, record, log, &e), 0);
	assert_string_equal(log, "~app/user ");
	vault_close(a);
	vault_close(b);
	vault_close(v);
	key_free(nk);
}

static int
stop_at_first(void *arg, const struct vaultdiff_change *c)
{
	(void)c;
	++*(int *)arg;
	return EINTR;
}

static void
test_the_callback_stops_the_walk(void **state)
{
	struct vault *v = NULL, *b;
	struct cs_err e = { 0 };
	int calls = 0;

	(void)state;
	assert_int_equal(vault_new(key, &v, &e), 0);
	put(v, "app", "token", "t1");
	put(v, "app", "user", "alice");
	b = snapshot(v, key);
	assert_int_equal(vaultdiff(NULL, b, NULL, stop_at_first, &calls, &e), EINTR);
	assert_int_equal(calls, 1);
	vault_close(b);
	vault_close(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_added_changed_removed_in_name_order),
		cmocka_unit_test(test_a_rotation_changes_nothing),
		cmocka_unit_test(test_the_callback_stops_the_walk),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
