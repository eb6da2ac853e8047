/* tests/testutil.c - the helpers every cmocka suite links (tests/testutil.h). */
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

/*
 * cmocka 1.1.5 reads no environment variable to choose cases, and every suite's main()
 * calls cmocka_run_group_tests() directly; so the filter is set here, before main runs,
 * for every suite this file is linked into.
 */
__attribute__((constructor)) static void
choose_cases(void)
{
	const char *glob = getenv("CS_TEST");

	if (glob != NULL && *glob != '\0')
		cmocka_set_test_filter(glob);
}

int
testutil_mkdtemp(char *dir, size_t size, const char *name)
{
	int n = snprintf(dir, size, "/tmp/cs-%s.XXXXXX", name);

	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
remove_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	return (type == FTW_DP ? rmdir(path) : unlink(path)) == -1 ? -1 : 0;
}

int
testutil_rmtree(const char *path)
{
	if (access(path, F_OK) == -1 && errno == ENOENT)
		return 0;
	return nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}
