/* tests/test_envname.c - COMFYVN_SECRET_<PROVIDER>_<FIELD> names, as the app writes them
 * and as an attacker might. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../policy/envname.h"

struct split_case {
	const char	*name;
	size_t		 len;		/* 0: strlen(name) */
	const char	*provider;	/* NULL: must be refused */
	const char	*field;
};

static const struct split_case cases[] = {
	/* the app's documented example */
	{ "COMFYVN_SECRET_RUNPOD_API_KEY", 0, "runpod", "api_key" },
	{ "COMFYVN_SECRET_OPENAI_API_KEY", 0, "openai", "api_key" },
	{ "COMFYVN_SECRET_RUNPOD_ENDPOINT", 0, "runpod", "endpoint" },
	{ "COMFYVN_SECRET_A_B", 0, "a", "b" },
	{ "COMFYVN_SECRET_AWS_SECRET_ACCESS_KEY", 0, "aws", "secret_access_key" },
	{ "COMFYVN_SECRET_P1_FIELD.V2", 0, "p1", "field.v2" },
	{ "COMFYVN_SECRET_p_f", 0, "p", "f" },
	/* refused */
	{ "COMFYVN_SECRET_", 0, NULL, NULL },
	{ "COMFYVN_SECRET_RUNPOD", 0, NULL, NULL },
	{ "COMFYVN_SECRET_RUNPOD_", 0, NULL, NULL },
	{ "COMFYVN_SECRET__API_KEY", 0, NULL, NULL },
	{ "COMFYVN_SECRET_RUNPOD_..", 0, NULL, NULL },
	{ "COMFYVN_SECRET_RUNPOD_A..B", 0, NULL, NULL },
	{ "COMFYVN_SECRET_RUNPOD_.HIDDEN", 0, NULL, NULL },
	{ "COMFYVN_SECRET_RUNPOD_A/B", 0, NULL, NULL },
	{ "COMFYVN_SECRET_RUNPOD_A B", 0, NULL, NULL },
	{ "COMFYVN_SECRET_RUNPOD_A\nB", 0, NULL, NULL },
	{ "COMFYVN_SECRET_RUNPOD_A\0B", 24, NULL, NULL },
	{ "COMFYVN_SECRETS_KEY", 0, NULL, NULL },
	{ "OTHER_VAR", 0, NULL, NULL },
	{ "comfyvn_secret_runpod_api_key", 0, NULL, NULL },
};

static void
test_app_names_split_and_hostile_names_are_refused(void **state)
{
	char p[VAULT_NAME_MAX + 1], f[VAULT_NAME_MAX + 1];
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct cs_err e = { 0 };
		len = cases[i].len ? cases[i].len : strlen(cases[i].name);
		int rc = envname_split(cases[i].name, len, p, f, &e);
		if (cases[i].provider == NULL) {
			if (rc != -1)
				fail_msg("case %zu (%s) was accepted", i, cases[i].name);
			assert_int_equal(e.code, EINVAL);
			assert_true(e.msg[0] != '\0');
		} else {
			if (rc != 0)
				fail_msg("case %zu (%s) refused: %s", i, cases[i].name, e.msg);
			assert_string_equal(p, cases[i].provider);
			assert_string_equal(f, cases[i].field);
		}
	}
}

static void
test_huge_name_is_refused_with_a_short_escaped_message(void **state)
{
	static char big[100000];
	struct cs_err e = { 0 };
	char p[VAULT_NAME_MAX + 1], f[VAULT_NAME_MAX + 1];

	(void)state;
	memcpy(big, "COMFYVN_SECRET_X_", 17);
	memset(big + 17, 'A', sizeof big - 17);
	assert_int_equal(envname_split(big, sizeof big, p, f, &e), -1);
	assert_non_null(strstr(e.msg, "..."));
	assert_true(strlen(e.msg) < 200);
}

static void
test_control_characters_are_escaped_in_messages(void **state)
{
	struct cs_err e = { 0 };
	char p[VAULT_NAME_MAX + 1], f[VAULT_NAME_MAX + 1];
	const char *n = "COMFYVN_SECRET_A_\x1b[31m";

	(void)state;
	assert_int_equal(envname_split(n, strlen(n), p, f, &e), -1);
	assert_null(strchr(e.msg, '\x1b'));
	assert_non_null(strstr(e.msg, "\\x1b"));
}

/* run names a variable as the app reads it back; names no shell can hold are refused. */
static void
test_join_is_the_inverse_of_split(void **state)
{
	static const char *const ok[][3] = {
		{ "runpod", "api_key", "COMFYVN_SECRET_RUNPOD_API_KEY" },
		{ "aws", "secret_access_key", "COMFYVN_SECRET_AWS_SECRET_ACCESS_KEY" },
		{ "p1", "f2", "COMFYVN_SECRET_P1_F2" },
	};
	static const char *const bad[][2] = {
		{ "runpod", "api-key" }, { "runpod", "v1.2" }, { "my-app", "token" },
		{ "my_app", "token" }, { "Runpod", "token" }, { "runpod", "" },
	};
	char name[ENVNAME_MAX + 1], p[VAULT_NAME_MAX + 1], f[VAULT_NAME_MAX + 1];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		struct cs_err e = { 0 };
		assert_int_equal(envname_join(ok[i][0], ok[i][1], name, &e), 0);
		assert_string_equal(name, ok[i][2]);
		assert_int_equal(envname_split(name, strlen(name), p, f, &e), 0);
		assert_string_equal(p, ok[i][0]);
		assert_string_equal(f, ok[i][1]);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct cs_err e = { 0 };
		if (envname_join(bad[i][0], bad[i][1], name, &e) != -1)
			fail_msg("%s/%s was joined into %s", bad[i][0], bad[i][1], name);
		assert_int_equal(e.code, EINVAL);
	}
	/* the longest pair fits */
	memset(p, 'a', VAULT_NAME_MAX);
	p[VAULT_NAME_MAX] = '\0';
	{
		struct cs_err e = { 0 };
		assert_int_equal(envname_join(p, p, name, &e), 0);
		assert_int_equal(strlen(name), ENVNAME_MAX);
	}
}

static void
test_valid_variable_names(void **state)
{
	char longname[ENVNAME_MAX + 2];

	(void)state;
	assert_true(envname_valid("TOKEN"));
	assert_true(envname_valid("_x9"));
	assert_false(envname_valid(""));
	assert_false(envname_valid("9X"));
	assert_false(envname_valid("A-B"));
	assert_false(envname_valid("A=B"));
	assert_false(envname_valid("A B"));
	assert_false(envname_valid("\xc3\xa9"));
	memset(longname, 'A', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	assert_false(envname_valid(longname));
	longname[ENVNAME_MAX] = '\0';
	assert_true(envname_valid(longname));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_app_names_split_and_hostile_names_are_refused),
		cmocka_unit_test(test_huge_name_is_refused_with_a_short_escaped_message),
		cmocka_unit_test(test_control_characters_are_escaped_in_messages),
		cmocka_unit_test(test_join_is_the_inverse_of_split),
		cmocka_unit_test(test_valid_variable_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
