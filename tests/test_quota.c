/* tests/test_quota.c - what each user may make the daemon hold (fs/quota.c): handles
 * past the per-user limit are EMFILE and past the total ENFILE, bytes EAGAIN and ENOMEM,
 * .sandbox pins EMFILE; what is given back can be taken again; one user's refusal
 * leaves another's room. Through a real mount: tests/integration/fs_hostile.sh. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "../fs/quota.h"

#define USER_BYTES	(1u << 20)

static void
test_handles_past_the_user_limit_are_emfile(void **state)
{
	struct quota *q = quota_new(USER_BYTES);
	size_t i;

	(void)state;
	assert_non_null(q);
	for (i = 0; i < QUOTA_USER_HANDLES; i++)
		assert_int_equal(quota_take(q, 1001, QUOTA_HANDLES, 1, "open", 1), 0);
	assert_int_equal(quota_take(q, 1001, QUOTA_HANDLES, 1, "open", 1), EMFILE);
	assert_int_equal(quota_held(q, 1001, QUOTA_HANDLES), QUOTA_USER_HANDLES);
	/* another user still has room, root too */
	assert_int_equal(quota_take(q, 1002, QUOTA_HANDLES, 1, "open", 2), 0);
	assert_int_equal(quota_take(q, 0, QUOTA_HANDLES, 1, "open", 3), 0);
	/* a closed handle makes room again */
	quota_give(q, 1001, QUOTA_HANDLES, 1);
	assert_int_equal(quota_take(q, 1001, QUOTA_HANDLES, 1, "open", 1), 0);
	quota_give(q, 1001, QUOTA_HANDLES, QUOTA_USER_HANDLES);
	assert_int_equal(quota_held(q, 1001, QUOTA_HANDLES), 0);
	quota_free(q);
}

static void
test_handles_past_the_total_are_enfile(void **state)
{
	struct quota *q = quota_new(USER_BYTES);
	uid_t u;

	(void)state;
	assert_non_null(q);
	for (u = 0; u < QUOTA_TOTAL_HANDLES / QUOTA_USER_HANDLES; u++)
		assert_int_equal(quota_take(q, 2000 + u, QUOTA_HANDLES, QUOTA_USER_HANDLES,
		    "open", 1), 0);
	assert_int_equal(quota_take(q, 3000, QUOTA_HANDLES, 1, "open", 1), ENFILE);
	quota_give(q, 2000, QUOTA_HANDLES, 1);
	assert_int_equal(quota_take(q, 3000, QUOTA_HANDLES, 1, "open", 1), 0);
	quota_free(q);
}

static void
test_bytes_past_the_limits_are_eagain_then_enomem(void **state)
{
	struct quota *q = quota_new(USER_BYTES);
	uid_t u;

	(void)state;
	assert_non_null(q);
	assert_int_equal(quota_take(q, 1001, QUOTA_BYTES, USER_BYTES - 10, "write", 1), 0);
	assert_int_equal(quota_take(q, 1001, QUOTA_BYTES, 11, "write", 1), EAGAIN);
	assert_int_equal(quota_take(q, 1001, QUOTA_BYTES, 10, "write", 1), 0);
	for (u = 1; u < QUOTA_TOTAL_FACTOR; u++)
		assert_int_equal(quota_take(q, 1001 + u, QUOTA_BYTES, USER_BYTES, "write", 1), 0);
	assert_int_equal(quota_take(q, 5000, QUOTA_BYTES, 1, "write", 1), ENOMEM);
	quota_give(q, 1001, QUOTA_BYTES, USER_BYTES);
	assert_int_equal(quota_take(q, 5000, QUOTA_BYTES, 1, "write", 1), 0);
	quota_free(q);
}

static void
test_sandbox_pins_past_the_user_limit_are_emfile(void **state)
{
	struct quota *q = quota_new(USER_BYTES);

	(void)state;
	assert_non_null(q);
	assert_int_equal(quota_take(q, 1001, QUOTA_PINS, QUOTA_USER_PINS, "open", 1), 0);
	assert_int_equal(quota_take(q, 1001, QUOTA_PINS, 1, "open", 1), EMFILE);
	assert_int_equal(quota_take(q, 1002, QUOTA_PINS, 1, "open", 2), 0);
	quota_free(q);
}

static void
test_a_null_account_charges_nothing(void **state)
{
	(void)state;
	assert_int_equal(quota_take(NULL, 1, QUOTA_BYTES, SIZE_MAX, "write", 1), 0);
	quota_give(NULL, 1, QUOTA_BYTES, 1);
	quota_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handles_past_the_user_limit_are_emfile),
		cmocka_unit_test(test_handles_past_the_total_are_enfile),
		cmocka_unit_test(test_bytes_past_the_limits_are_eagain_then_enomem),
		cmocka_unit_test(test_sandbox_pins_past_the_user_limit_are_emfile),
		cmocka_unit_test(test_a_null_account_charges_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
