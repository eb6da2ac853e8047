/* tests/fuzz/fuzz_common.h - helpers shared by the fuzz targets (header-only: each
 * target is one .c file linked with crypto/ and policy/, see the Makefile).
 *
 * What every target checks beyond "no crash, no sanitizer report": an error message is
 * NUL-terminated inside its buffer and free of control bytes (it ends up on a terminal
 * or in the journal), and an error is never reported together with a result. */
#ifndef CS_FUZZ_COMMON_H
#define CS_FUZZ_COMMON_H

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../crypto/err.h"

static void
fuzz_clean_msg(const struct cs_err *e)
{
	const char *p;

	if (memchr(e->msg, '\0', sizeof e->msg) == NULL || e->msg[0] == '\0' || e->code == 0)
		abort();
	for (p = e->msg; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
			abort();
}

static char fuzz_dir_path[64];

/* Removes the private folder and what the targets wrote there (at exit). */
static void
fuzz_dir_remove(void)
{
	char path[sizeof fuzz_dir_path + 256];
	struct dirent *d;
	DIR *dp;

	if ((dp = opendir(fuzz_dir_path)) == NULL)
		return;
	while ((d = readdir(dp)) != NULL) {
		if (d->d_name[0] == '.' && (d->d_name[1] == '\0' ||
		    (d->d_name[1] == '.' && d->d_name[2] == '\0')))
			continue;
		snprintf(path, sizeof path, "%s/%s", fuzz_dir_path, d->d_name);
		unlink(path);
	}
	closedir(dp);
	rmdir(fuzz_dir_path);
}

/* A private folder for targets that must read a file (O_NOFOLLOW, regular files only):
 * on tmpfs when there is one, so a run does not wear a disk; removed at exit. */
static const char *
fuzz_dir(void)
{
	if (fuzz_dir_path[0] != '\0')
		return fuzz_dir_path;
	strcpy(fuzz_dir_path, access("/dev/shm", W_OK) == 0 ? "/dev/shm/csfuzz.XXXXXX" :
	    "/tmp/csfuzz.XXXXXX");
	if (mkdtemp(fuzz_dir_path) == NULL)
		abort();
	atexit(fuzz_dir_remove);
	return fuzz_dir_path;
}

/* Replaces path's content with data (not atomically: nobody else reads it). */
static void
fuzz_write(const char *path, const void *data, size_t size)
{
	int fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) == -1)
		abort();
	if (size > 0 && write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
}

#endif
