/* tests/test_overlay.c - the daemon's environment overlay: the app's names become
 * paths, hostile names are refused, and every override (and the key) is wiped in place
 * from the environment on every path, error paths included. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "../crypto/key.h"
#include "../fs/overlay.h"

#define SEED_VALUE	"sk-canary-5f2d9c1e-do-not-log"

extern char **environ;

/* Entries owned by the test, as the original environment block is owned by the stack:
 * putenv() keeps the pointer, so the bytes the overlay wipes are these. */
static char e_runpod[] = "COMFYVN_SECRET_RUNPOD_API_KEY=" SEED_VALUE;
static char e_openai[] = "COMFYVN_SECRET_OPENAI_API_KEY=sk-openai";
static char e_aws[] = "COMFYVN_SECRET_AWS_SECRET_ACCESS_KEY=a=b\001\377";
static char e_empty[] = "COMFYVN_SECRET_A_B=";
static char e_bad[] = "COMFYVN_SECRET_RUNPOD=" SEED_VALUE;
static char e_dup1[] = "COMFYVN_SECRET_RUNPOD_API_KEY=" SEED_VALUE;
static char e_dup2[] = "COMFYVN_SECRET_runpod_api_key=" SEED_VALUE;
static char e_key[] = "COMFYVN_SECRETS_KEY=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
static char e_other[] = "COMFYSECRETS_UNRELATED=keep-me";

static int
all_zero(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != '\0')
			return 0;
	return 1;
}

static int
in_environ(const char *entry)
{
	size_t i;

	for (i = 0; environ[i] != NULL; i++)
		if (environ[i] == entry)
			return 1;
	return 0;
}

static int
setup(void **state)
{
	(void)state;
	return sodium_init() < 0 ? -1 : 0;
}

static void
test_app_names_become_paths_and_values_are_copied(void **state)
{
	struct overlay *ov = NULL;
	struct cs_err e = { 0 };
	const struct overlay_entry *oe;
	size_t n1 = sizeof e_runpod - 1, n3 = sizeof e_aws - 1;

	(void)state;
	assert_int_equal(putenv(e_runpod), 0);
	assert_int_equal(putenv(e_openai), 0);
	assert_int_equal(putenv(e_aws), 0);
	assert_int_equal(putenv(e_empty), 0);
	assert_int_equal(overlay_from_env(&ov, &e), 0);
	assert_non_null(ov);
	assert_int_equal(ov->n, 4);
	/* sorted by provider, then field */
	assert_string_equal(ov->v[0].provider, "a");
	assert_string_equal(ov->v[1].provider, "aws");
	assert_string_equal(ov->v[1].field, "secret_access_key");
	assert_string_equal(ov->v[2].provider, "openai");
	assert_string_equal(ov->v[3].provider, "runpod");
	assert_string_equal(ov->v[3].field, "api_key");
	assert_int_equal(ov->v[3].value->len, strlen(SEED_VALUE));
	assert_memory_equal(ov->v[3].value->buf, SEED_VALUE, strlen(SEED_VALUE));
	oe = overlay_find(ov, "aws", "secret_access_key");
	assert_non_null(oe);
	assert_int_equal(oe->value->len, 5);	/* "a=b" and two raw bytes: split at the first '=' */
	assert_memory_equal(oe->value->buf, "a=b\001\377", 5);
	oe = overlay_find(ov, "a", "b");
	assert_non_null(oe);
	assert_int_equal(oe->value->len, 0);
	assert_null(overlay_find(ov, "runpod", "endpoint"));
	assert_null(overlay_find(ov, "nope", "api_key"));
	/* wiped in place, name and value, and gone from environ */
	assert_true(all_zero(e_runpod, n1));
	assert_true(all_zero(e_aws, n3));
	assert_false(in_environ(e_runpod));
	assert_null(getenv("COMFYVN_SECRET_RUNPOD_API_KEY"));
	assert_null(getenv("COMFYVN_SECRET_OPENAI_API_KEY"));
	overlay_free(ov);
}

static void
test_no_overrides_is_an_empty_overlay(void **state)
{
	struct overlay *ov = NULL;
	struct cs_err e = { 0 };

	(void)state;
	assert_int_equal(overlay_from_env(&ov, &e), 0);
	assert_non_null(ov);
	assert_int_equal(ov->n, 0);
	assert_null(overlay_find(ov, "runpod", "api_key"));
	overlay_free(ov);
	overlay_free(NULL);
}

static void
test_unrelated_variables_are_left_alone(void **state)
{
	struct overlay *ov = NULL;
	struct cs_err e = { 0 };

	static char e_one[] = "COMFYVN_SECRET_ONE_F=1";

	(void)state;
	assert_int_equal(putenv(e_other), 0);
	assert_int_equal(putenv(e_one), 0);
	assert_int_equal(overlay_from_env(&ov, &e), 0);
	assert_int_equal(ov->n, 1);
	assert_string_equal(getenv("COMFYSECRETS_UNRELATED"), "keep-me");
	overlay_free(ov);
	unsetenv("COMFYSECRETS_UNRELATED");
}

static void
test_a_bad_name_is_refused_and_still_wiped(void **state)
{
	static char e_long[400];
	struct overlay *ov = (struct overlay *)1;
	struct cs_err e = { 0 };

	(void)state;
	memcpy(e_bad, "COMFYVN_SECRET_RUNPOD=" SEED_VALUE, sizeof e_bad);
	assert_int_equal(putenv(e_bad), 0);
	assert_int_equal(overlay_from_env(&ov, &e), -1);
	assert_null(ov);
	assert_int_equal(e.code, EINVAL);
	assert_non_null(strstr(e.msg, "COMFYVN_SECRET_RUNPOD"));
	assert_null(strstr(e.msg, SEED_VALUE));		/* never echo a secret */
	assert_true(all_zero(e_bad, sizeof e_bad - 1));
	assert_null(getenv("COMFYVN_SECRET_RUNPOD"));

	/* a huge name with control bytes: refused, shortened in the message, wiped */
	memset(e_long, 'A', sizeof e_long - 1);
	memcpy(e_long, "COMFYVN_SECRET_X_", 17);
	e_long[30] = '\n';
	e_long[300] = '=';
	assert_int_equal(putenv(e_long), 0);
	memset(&e, 0, sizeof e);
	assert_int_equal(overlay_from_env(&ov, &e), -1);
	assert_int_equal(e.code, EINVAL);
	assert_null(strchr(e.msg, '\n'));
	assert_true(strlen(e.msg) < 200);
	assert_true(all_zero(e_long, sizeof e_long - 1));
	assert_false(in_environ(e_long));
}

static void
test_two_names_for_one_path_are_refused_and_wiped(void **state)
{
	struct overlay *ov = (struct overlay *)1;
	struct cs_err e = { 0 };

	(void)state;
	assert_int_equal(putenv(e_dup1), 0);
	assert_int_equal(putenv(e_dup2), 0);
	assert_int_equal(overlay_from_env(&ov, &e), -1);
	assert_null(ov);
	assert_int_equal(e.code, EEXIST);
	assert_non_null(strstr(e.msg, "runpod/api_key"));
	assert_null(strstr(e.msg, SEED_VALUE));
	assert_true(all_zero(e_dup1, sizeof e_dup1 - 1));
	assert_true(all_zero(e_dup2, sizeof e_dup2 - 1));
	assert_null(getenv("COMFYVN_SECRET_RUNPOD_API_KEY"));
	assert_null(getenv("COMFYVN_SECRET_runpod_api_key"));
}

static void
test_the_key_variable_is_wiped_in_place(void **state)
{
	(void)state;
	assert_int_equal(putenv(e_key), 0);
	assert_non_null(getenv(KEY_ENV));
	assert_int_equal(overlay_wipe_var(KEY_ENV), 1);
	assert_null(getenv(KEY_ENV));
	assert_true(all_zero(e_key, sizeof e_key - 1));
	assert_false(in_environ(e_key));
	assert_int_equal(overlay_wipe_var(KEY_ENV), 0);
}

static void
test_scrub_wipes_overrides_and_key_without_reading(void **state)
{
	static char o1[] = "COMFYVN_SECRET_P_F=" SEED_VALUE;
	static char k1[] = "COMFYVN_SECRETS_KEY=" SEED_VALUE;
	static char keep[] = "COMFYVN_SECRETSX=stay";

	(void)state;
	assert_int_equal(putenv(o1), 0);
	assert_int_equal(putenv(k1), 0);
	assert_int_equal(putenv(keep), 0);
	overlay_scrub_env();
	assert_true(all_zero(o1, sizeof o1 - 1));
	assert_true(all_zero(k1, sizeof k1 - 1));
	assert_string_equal(getenv("COMFYVN_SECRETSX"), "stay");
	assert_null(getenv("COMFYVN_SECRET_P_F"));
	assert_null(getenv(KEY_ENV));
	unsetenv("COMFYVN_SECRETSX");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_app_names_become_paths_and_values_are_copied),
		cmocka_unit_test(test_no_overrides_is_an_empty_overlay),
		cmocka_unit_test(test_unrelated_variables_are_left_alone),
		cmocka_unit_test(test_a_bad_name_is_refused_and_still_wiped),
		cmocka_unit_test(test_two_names_for_one_path_are_refused_and_wiped),
		cmocka_unit_test(test_the_key_variable_is_wiped_in_place),
		cmocka_unit_test(test_scrub_wipes_overrides_and_key_without_reading),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
