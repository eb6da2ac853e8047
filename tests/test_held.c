/* tests/test_held.c - the field inodes the kernel holds: an inode answers with the
 * attributes it was looked up with until the kernel forgets every lookup of it, and
 * then costs nothing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "../fs/held.h"

#define MANY_INODES	100000

static struct stat
attrs(uint64_t ino, off_t size)
{
	struct stat st;

	memset(&st, 0, sizeof st);
	st.st_ino = ino;
	st.st_mode = S_IFREG | 0440;
	st.st_nlink = 1;
	st.st_uid = 1000;
	st.st_gid = 1001;
	st.st_size = size;
	st.st_mtim.tv_sec = 1700000000;
	return st;
}

static void
test_an_inode_lives_until_every_lookup_is_forgotten(void **state)
{
	struct held *h = held_new();
	struct stat in = attrs(42, 40), out;

	(void)state;
	assert_non_null(h);
	assert_int_equal(held_stat(h, 42, &out), -1);
	assert_int_equal(held_lookup(h, &in), 0);
	assert_int_equal(held_lookup(h, &in), 0);
	assert_int_equal(held_count(h), 1);
	held_forget(h, 42, 1);
	assert_int_equal(held_stat(h, 42, &out), 0);		/* one lookup left */
	assert_int_equal(out.st_size, 40);
	assert_int_equal(out.st_ino, 42);
	assert_int_equal(out.st_mode, S_IFREG | 0440);
	assert_int_equal(out.st_uid, 1000);
	assert_int_equal(out.st_gid, 1001);
	assert_int_equal(out.st_nlink, 1);
	assert_int_equal(out.st_mtim.tv_sec, 1700000000);
	assert_int_equal(out.st_ctim.tv_sec, 1700000000);
	assert_int_equal(out.st_blocks, 1);
	held_forget(h, 42, 1);
	assert_int_equal(held_stat(h, 42, &out), -1);		/* forgotten: gone */
	assert_int_equal(held_count(h), 0);
	held_free(h);
	held_free(NULL);
}

static void
test_a_forget_of_more_than_was_counted_or_of_a_stranger_is_harmless(void **state)
{
	struct held *h = held_new();
	struct stat in = attrs(7, 3), out;

	(void)state;
	held_forget(h, 99, 5);				/* a directory: not counted here */
	assert_int_equal(held_lookup(h, &in), 0);
	held_forget(h, 7, 1000);
	assert_int_equal(held_stat(h, 7, &out), -1);
	assert_int_equal(held_count(h), 0);
	held_free(h);
}

static void
test_many_inodes_grow_the_table_and_all_go_when_forgotten(void **state)
{
	struct held *h = held_new();
	struct stat in, out;
	uint64_t i;

	(void)state;
	for (i = 16; i < 16 + MANY_INODES; i++) {
		in = attrs(i, (off_t)i);
		assert_int_equal(held_lookup(h, &in), 0);
	}
	assert_int_equal(held_count(h), MANY_INODES);
	for (i = 16; i < 16 + MANY_INODES; i += 997) {
		assert_int_equal(held_stat(h, i, &out), 0);
		assert_int_equal(out.st_size, (off_t)i);
	}
	for (i = 16; i < 16 + MANY_INODES; i++)
		held_forget(h, i, 1);
	assert_int_equal(held_count(h), 0);
	held_free(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_an_inode_lives_until_every_lookup_is_forgotten),
		cmocka_unit_test(test_a_forget_of_more_than_was_counted_or_of_a_stranger_is_harmless),
		cmocka_unit_test(test_many_inodes_grow_the_table_and_all_go_when_forgotten),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
