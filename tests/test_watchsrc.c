/* tests/test_watchsrc.c - the vault change source of watch and run --restart-on-change:
 * a changed, added or removed watched field is reported by name; the same value, a
 * rotation and other fields are not; a rolled-back vault is refused; a rebased source
 * judges against the vault it was given; names parse. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "testutil.h"

#include "../cli/watchsrc.h"
#include "../crypto/file.h"
#include "../policy/vaultio.h"

static char dir[256];
static struct cfg *cfg;

static int
setup(void **state)
{
	char text[2048], kp[300], vp[300];
	struct cs_err e = { 0 };
	struct key *k = NULL;
	struct vault *v = NULL;
	struct vaultio_floor floor;
	int rc;

	(void)state;
	if (sodium_init() < 0 || testutil_mkdtemp(dir, sizeof dir, "watchsrc") == -1)
		return -1;
	snprintf(vp, sizeof vp, "%s/vault.json", dir);
	snprintf(kp, sizeof kp, "%s/key", dir);
	snprintf(text, sizeof text, "[vault]\npath = %s\nkey_file = %s\nstate_dir = %s/floor\n"
	    "[audit]\npath = %s/a.log\n", vp, kp, dir, dir);
	rc = cfg_parse(text, strlen(text), "test.ini", &cfg, &e) == -1 ||
	    key_generate(&k, &e) == -1 || key_write_file(kp, k, 1, &e) == -1 ||
	    vault_new(k, &v, &e) == -1 || vault_save(v, vp, 1, &e) == -1 ||
	    vaultio_floor_reset(cfg, &floor, &e) == -1 ? -1 : 0;
	if (rc == -1)
		fprintf(stderr, "setup: %s\n", e.msg);
	vault_close(v);
	key_free(k);
	return rc;
}

static int
teardown(void **state)
{
	(void)state;
	cfg_free(cfg);
	cfg = NULL;
	return testutil_rmtree(dir);
}

/* set PROVIDER FIELD VALUE, as the CLI does; value NULL: rm. */
static void
put(const char *p, const char *f, const char *value)
{
	struct cs_err e = { 0 };
	struct key *k = NULL;
	struct vault *v = NULL;
	struct secret *s = NULL;
	int lockfd = -1;

	assert_int_equal(vaultio_open_write(cfg, &lockfd, &k, &v, &e), 0);
	if (value != NULL) {
		assert_non_null(s = secret_dup(value, strlen(value)));
		assert_int_equal(vault_put(v, p, f, s, 0, &e), 0);
	} else {
		assert_int_equal(vault_remove(v, p, f, &e), 0);
	}
	assert_int_equal(vaultio_save(cfg, v, NULL, &e), 0);
	secret_free(s);
	vaultio_close(lockfd, k, v);
}

/* Steps w until what the last saves caused is settled: 1 (a change, in *ch), 0 or -1. */
static int
settle(struct watchsrc *w, struct watchsrc_changes *ch, struct cs_err *e)
{
	struct pollfd pfd = { .fd = watchsrc_fd(w), .events = POLLIN };
	int i, r;

	for (i = 0; i < 200; i++) {	/* bounded: 200 waits of at most 300 ms */
		if ((r = watchsrc_step(w, ch, e)) != 0)
			return r;
		if (i > 0 && watchsrc_timeout(w) == -1)
			return 0;
		(void)poll(&pfd, 1, watchsrc_timeout(w) < 0 ? 0 : watchsrc_timeout(w));
	}
	fail_msg("the source never settled");
	return -2;
}

static struct watchsrc *
source(const char *name)
{
	struct watchsrc_name n;
	struct watchsrc *w = NULL;
	struct cs_err e = { 0 };

	assert_int_equal(watchsrc_name_parse(name, &n, &e), 0);
	assert_int_equal(watchsrc_vault_new(cfg, &n, 1, &w, &e), 0);
	return w;
}

static void
test_a_changed_value_is_reported_by_name(void **state)
{
	struct watchsrc_changes ch = { 0 };
	struct cs_err e = { 0 };
	struct watchsrc *w;

	(void)state;
	put("app", "token", "one");
	put("app", "user", "alice");
	w = source("app/token");
	put("app", "token", "two");
	assert_int_equal(settle(w, &ch, &e), 1);
	assert_int_equal(ch.n, 1);
	assert_string_equal(ch.names[0], "app/token");
	assert_int_equal(ch.generation, 4);
	watchsrc_changes_free(&ch);
	watchsrc_changes_free(&ch);	/* twice is fine */
	watchsrc_free(w);
}

static void
test_same_value_rotation_and_other_fields_report_nothing(void **state)
{
	struct watchsrc_changes ch = { 0 };
	struct vaultio_rotated rot = { 0 };
	struct cs_err e = { 0 };
	struct watchsrc *w;

	(void)state;
	put("app", "token", "one");
	w = source("app/token");
	put("app", "token", "one");
	assert_int_equal(settle(w, &ch, &e), 0);
	assert_int_equal(vaultio_rotate(cfg, 0, NULL, NULL, NULL, &rot, &e), 0);
	vaultio_rotated_free(&rot);
	assert_int_equal(settle(w, &ch, &e), 0);
	put("app", "user", "bob");
	put("other", "token", "x");
	assert_int_equal(settle(w, &ch, &e), 0);
	/* and it still sees the next real change, under the new key */
	put("app", "token", "three");
	assert_int_equal(settle(w, &ch, &e), 1);
	assert_string_equal(ch.names[0], "app/token");
	watchsrc_changes_free(&ch);
	watchsrc_free(w);
}

static void
test_a_provider_watch_sees_fields_added_and_removed(void **state)
{
	struct watchsrc_changes ch = { 0 };
	struct cs_err e = { 0 };
	struct watchsrc *w;

	(void)state;
	put("app", "token", "one");
	w = source("app");
	put("app", "new", "n");
	put("app", "token", "two");
	assert_int_equal(settle(w, &ch, &e), 1);
	assert_int_equal(ch.n, 2);
	assert_string_equal(ch.names[0], "app/new");
	assert_string_equal(ch.names[1], "app/token");
	watchsrc_changes_free(&ch);
	put("app", "new", NULL);
	assert_int_equal(settle(w, &ch, &e), 1);
	assert_int_equal(ch.n, 1);
	assert_string_equal(ch.names[0], "app/new");
	watchsrc_changes_free(&ch);
	watchsrc_free(w);
}

static void
test_a_field_not_there_yet_appears_as_a_change(void **state)
{
	struct watchsrc_changes ch = { 0 };
	struct cs_err e = { 0 };
	struct watchsrc *w;

	(void)state;
	w = source("later/token");
	put("later", "token", "x");
	assert_int_equal(settle(w, &ch, &e), 1);
	assert_string_equal(ch.names[0], "later/token");
	watchsrc_changes_free(&ch);
	watchsrc_free(w);
}

static void
test_a_rolled_back_vault_is_refused(void **state)
{
	struct watchsrc_changes ch = { 0 };
	struct cs_err e = { 0 };
	struct watchsrc *w;
	char vp[300], *old = NULL;
	size_t len;

	(void)state;
	put("app", "token", "one");
	snprintf(vp, sizeof vp, "%s/vault.json", dir);
	assert_int_equal(file_read(vp, "vault", VAULT_FILE_MAX_BYTES, &old, &len, &e), 0);
	w = source("app/token");
	put("app", "token", "two");
	assert_int_equal(settle(w, &ch, &e), 1);
	watchsrc_changes_free(&ch);
	/* the old vault back, by rename as a restore would */
	assert_int_equal(file_write_atomic(vp, old, len, 0, NULL, &e), 0);
	assert_int_equal(settle(w, &ch, &e), -1);
	assert_int_equal(e.code, ESTALE);
	assert_int_equal(ch.n, 0);
	free(old);
	watchsrc_free(w);
}

/* run --restart-on-change rebases on the vault COMMAND was started with: a save that
 * vault already holds is no change, and a value set back to what the source read
 * before it is one. */
static void
test_a_rebased_source_judges_against_the_vault_given(void **state)
{
	struct watchsrc_changes ch = { 0 };
	struct cs_err e = { 0 };
	struct watchsrc *w;
	struct key *k = NULL;
	struct vault *v = NULL;

	(void)state;
	put("app", "token", "one");
	w = source("app/token");
	put("app", "token", "two");	/* read by the caller before the source steps */
	assert_int_equal(vaultio_open_read(cfg, &k, &v, &e), 0);
	vaultio_close(-1, k, NULL);
	watchsrc_rebase(w, v);
	assert_int_equal(settle(w, &ch, &e), 0);
	assert_int_equal(ch.n, 0);
	put("app", "token", "one");	/* what the source itself read last */
	assert_int_equal(settle(w, &ch, &e), 1);
	assert_int_equal(ch.n, 1);
	assert_string_equal(ch.names[0], "app/token");
	watchsrc_changes_free(&ch);
	watchsrc_free(w);
}

static void
test_names_parse(void **state)
{
	static const char *const bad[] = { "", "/x", "App", "app/", "app/To", "a/b/c",
	    "..", "app/..", "app/a..b",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" };
	struct watchsrc_name n;
	size_t i;

	(void)state;
	{
		struct cs_err e = { 0 };
		assert_int_equal(watchsrc_name_parse("app", &n, &e), 0);
		assert_string_equal(n.provider, "app");
		assert_string_equal(n.field, "");
		assert_int_equal(watchsrc_name_parse("app/api_key", &n, &e), 0);
		assert_string_equal(n.field, "api_key");
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct cs_err e = { 0 };
		if (watchsrc_name_parse(bad[i], &n, &e) != -1)
			fail_msg("\"%s\" was accepted", bad[i]);
		assert_int_equal(e.code, EINVAL);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_a_changed_value_is_reported_by_name,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_same_value_rotation_and_other_fields_report_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_provider_watch_sees_fields_added_and_removed,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_field_not_there_yet_appears_as_a_change,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_rolled_back_vault_is_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_a_rebased_source_judges_against_the_vault_given, setup, teardown),
		cmocka_unit_test(test_names_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
