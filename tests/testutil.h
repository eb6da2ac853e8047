/* tests/testutil.h - what every cmocka suite shares: a private temporary folder, and
 * the choice of cases by name.
 *
 * tests/testutil.c is linked into every tests/test_* binary (Makefile). Setting
 * CS_TEST=GLOB in the environment (make unit CASE=GLOB) runs only the cases whose name
 * matches GLOB (cmocka_set_test_filter: '*' and '?'); the suite needs no code for it. */
#ifndef TESTUTIL_H
#define TESTUTIL_H

#include <stddef.h>

/*
 * Creates a new folder /tmp/cs-NAME.XXXXXX (mode 0700, mkdtemp) and writes its path
 * into dir, size bytes. 0, or -1 with errno set: ENAMETOOLONG when the path does not
 * fit, else mkdtemp's errno.
 */
int	testutil_mkdtemp(char *dir, size_t size, const char *name);

/*
 * Removes path and everything below it, without following symbolic links and without
 * a shell. 0 when nothing is left (a missing path included), or -1 with errno set:
 * the walk stops at the first entry that cannot be removed.
 */
int	testutil_rmtree(const char *path);

#endif
