/* tests/test_special.c - the .sandbox/<pair> inode table (fs/special.c): a name that
 * parses as host:port gets a number above every snapshot inode, the same one while the
 * kernel holds it; other names are ENOENT; forgets drop a node; a full table forgets the
 * least recently used node instead of refusing. The FUSE side (open, read, write, the
 * audit of a denial) is tested through a real mount in tests/integration/fs_control.sh. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../fs/special.h"
#include "../policy/control.h"

static int
setup(void **state)
{
	struct lo_data *lo = calloc(1, sizeof *lo);

	if (lo == NULL || (lo->nodes = special_nodes_new()) == NULL)
		return -1;
	*state = lo;
	return 0;
}

static int
teardown(void **state)
{
	struct lo_data *lo = *state;

	special_nodes_free(lo->nodes);
	free(lo);
	return 0;
}

static void
test_a_pair_gets_one_number_while_held(void **state)
{
	struct lo_data *lo = *state;
	char name[CONTROL_PAIR_MAX + 1];
	uint64_t a = 0, b = 0, c = 0;

	assert_int_equal(special_sandbox_lookup(lo, "api.example.com:443", &a), 0);
	assert_true(a >= SPECIAL_CHILD_INO_FIRST);
	assert_int_equal(special_sandbox_lookup(lo, "api.example.com:443", &b), 0);
	assert_int_equal(a, b);
	assert_int_equal(special_sandbox_lookup(lo, "[::1]:8000", &c), 0);
	assert_int_not_equal(a, c);
	assert_int_equal(special_sandbox_child(lo, a, name, sizeof name), 0);
	assert_string_equal(name, "api.example.com:443");
	assert_int_equal(special_sandbox_child(lo, c, name, sizeof name), 0);
	assert_string_equal(name, "[::1]:8000");
	assert_int_equal(special_sandbox_child(lo, a, name, 5), ENOENT);	/* no room */
}

static void
test_names_that_are_not_pairs_are_enoent(void **state)
{
	static const char *const bad[] = {
		"foo", "api.example.com", "::1:8000", "[::1]8000", "x.com:0", "x.com:65536",
		":443", "*.example.com:443", "a b:1", "",
	};
	struct lo_data *lo = *state;
	uint64_t ino = 0;
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (special_sandbox_lookup(lo, bad[i], &ino) != ENOENT)
			fail_msg("\"%s\" was looked up", bad[i]);
}

static void
test_forgetting_every_lookup_drops_the_node(void **state)
{
	struct lo_data *lo = *state;
	char name[CONTROL_PAIR_MAX + 1];
	uint64_t a = 0, b = 0;

	assert_int_equal(special_sandbox_lookup(lo, "a.example:1", &a), 0);
	assert_int_equal(special_sandbox_lookup(lo, "a.example:1", &a), 0);
	special_sandbox_forget(lo, a, 1);
	assert_int_equal(special_sandbox_child(lo, a, name, sizeof name), 0);
	special_sandbox_forget(lo, a, 1);
	assert_int_equal(special_sandbox_child(lo, a, name, sizeof name), ENOENT);
	special_sandbox_forget(lo, a, 1);		/* again: ignored */
	special_sandbox_forget(lo, TREE_INO_ROOT, 1);	/* a snapshot inode: ignored */
	assert_int_equal(special_sandbox_lookup(lo, "a.example:1", &b), 0);
	assert_true(b > a);				/* numbers are never reused */
	assert_int_equal(special_sandbox_child(lo, TREE_INO_ROOT, name, sizeof name), ENOENT);
}

static void
test_a_full_table_forgets_the_least_recently_used(void **state)
{
	struct lo_data *lo = *state;
	char name[CONTROL_PAIR_MAX + 1], pair[64];
	uint64_t first = 0, second = 0, ino = 0;
	int i;

	assert_int_equal(special_sandbox_lookup(lo, "h0.example:443", &first), 0);
	assert_int_equal(special_sandbox_lookup(lo, "h1.example:443", &second), 0);
	for (i = 2; i < SPECIAL_NODES_MAX; i++) {
		snprintf(pair, sizeof pair, "h%d.example:443", i);
		assert_int_equal(special_sandbox_lookup(lo, pair, &ino), 0);
	}
	/* h0 is used again (a getattr), so h1 is now the least recently used. */
	assert_int_equal(special_sandbox_child(lo, first, name, sizeof name), 0);
	assert_int_equal(special_sandbox_lookup(lo, "one-more.example:443", &ino), 0);
	assert_int_equal(special_sandbox_child(lo, first, name, sizeof name), 0);
	assert_int_equal(special_sandbox_child(lo, second, name, sizeof name), ENOENT);
	assert_int_equal(special_sandbox_child(lo, ino, name, sizeof name), 0);
	assert_string_equal(name, "one-more.example:443");
	/* Looked up again, the evicted name comes back under a new number. */
	assert_int_equal(special_sandbox_lookup(lo, "h1.example:443", &ino), 0);
	assert_true(ino != second);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_a_pair_gets_one_number_while_held, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_names_that_are_not_pairs_are_enoent, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_forgetting_every_lookup_drops_the_node,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_full_table_forgets_the_least_recently_used,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
