/* tests/test_state.c - the state file only moves forward, and a broken one is an error. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

#include "../policy/state.h"

static char dir[64], vault[128], statef[160];

static int
setup(void **state)
{
	(void)state;
	if (testutil_mkdtemp(dir, sizeof dir, "state") == -1)
		return -1;
	snprintf(vault, sizeof vault, "%s/vault.json", dir);
	snprintf(statef, sizeof statef, "%s/vault.json.state", dir);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	return testutil_rmtree(dir);
}

static void
test_missing_state_reads_as_zero(void **state)
{
	struct cs_state st;
	struct cs_err e = { 0 };

	(void)state;
	assert_int_equal(state_read(vault, &st, &e), 0);
	assert_int_equal(st.generation, 0);
	assert_int_equal(st.audit_seq, 0);
}

static void
test_generation_only_moves_forward(void **state)
{
	struct cs_state st;
	struct cs_err e = { 0 };

	(void)state;
	assert_int_equal(state_advance(vault, 7, 0, NULL, NULL, &e), 0);
	assert_int_equal(state_advance(vault, 3, 0, NULL, NULL, &e), 0);
	assert_int_equal(state_read(vault, &st, &e), 0);
	assert_int_equal(st.generation, 7);
	assert_int_equal(state_advance(vault, 9, 0, NULL, NULL, &e), 0);
	assert_int_equal(state_read(vault, &st, &e), 0);
	assert_int_equal(st.generation, 9);
}

static void
test_audit_point_moves_forward_and_follows_a_new_log(void **state)
{
	struct cs_state st;
	struct cs_err e = { 0 };
	char h1[AUDIT_HASH_HEX + 1], h2[AUDIT_HASH_HEX + 1];

	(void)state;
	memset(h1, 'a', AUDIT_HASH_HEX); h1[AUDIT_HASH_HEX] = '\0';
	memset(h2, 'b', AUDIT_HASH_HEX); h2[AUDIT_HASH_HEX] = '\0';
	assert_int_equal(state_advance(vault, 0, 10, h1, "/log/a", &e), 0);
	assert_int_equal(state_advance(vault, 0, 4, h2, "/log/a", &e), 0);
	assert_int_equal(state_read(vault, &st, &e), 0);
	assert_int_equal(st.audit_seq, 10);
	assert_string_equal(st.audit_hash, h1);
	/* a different log starts its own chain */
	assert_int_equal(state_advance(vault, 0, 2, h2, "/log/b", &e), 0);
	assert_int_equal(state_read(vault, &st, &e), 0);
	assert_int_equal(st.audit_seq, 2);
	assert_string_equal(st.audit_path, "/log/b");
}

static void
test_a_malformed_state_file_is_an_error_naming_it(void **state)
{
	struct cs_state st;
	struct cs_err e = { 0 };
	FILE *f;

	(void)state;
	assert_non_null(f = fopen(statef, "w"));
	fputs("{\"generation\": \"seven\"}", f);
	fclose(f);
	assert_int_equal(state_read(vault, &st, &e), -1);
	assert_int_equal(e.code, EINVAL);
	assert_non_null(strstr(e.msg, statef));
	cs_err_clear(&e);
	assert_int_equal(state_advance(vault, 5, 0, NULL, NULL, &e), -1);
	assert_non_null(strstr(e.msg, "not a state file"));
	unlink(statef);
}

static void
test_a_symlinked_state_file_is_refused(void **state)
{
	struct cs_state st;
	struct cs_err e = { 0 };

	(void)state;
	assert_int_equal(symlink("/etc/passwd", statef), 0);
	assert_int_equal(state_read(vault, &st, &e), -1);
	assert_int_equal(e.code, ELOOP);
	unlink(statef);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_missing_state_reads_as_zero),
		cmocka_unit_test(test_generation_only_moves_forward),
		cmocka_unit_test(test_audit_point_moves_forward_and_follows_a_new_log),
		cmocka_unit_test(test_a_malformed_state_file_is_an_error_naming_it),
		cmocka_unit_test(test_a_symlinked_state_file_is_refused),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
