/* base/file.c - careful reads, writes, locks and atomic replacement; see file.h.
 *
 * The threat is a file swapped under us: a symbolic link planted where the vault, key or
 * lock is expected (O_NOFOLLOW), a FIFO that would block open forever (O_NONBLOCK), a huge
 * file meant to exhaust memory (the size is checked before reading), and a crash in the
 * middle of a write (the new content only takes the name once it is on disk).
 * Nothing here knows what the bytes mean. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "file.h"

#define TMP_TRIES	16	/* attempts at an unused temporary name */
#define TMP_RAND_BYTES	8	/* random bytes in a temporary name, as hex */

int
file_write_all(int fd, const void *buf, size_t len, size_t *done)
{
	const unsigned char *p = buf;
	size_t off = 0;
	ssize_t n;
	int rc = 0;

	while (off < len) {
		n = write(fd, p + off, len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			rc = -1;
			break;
		}
		off += (size_t)n;	/* short only when the disk fills or a pipe breaks */
	}
	if (done != NULL)
		*done = off;
	return rc;
}

/* The folder of path in a malloc'd string: "." when path has no slash. */
static char *
dirof(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *d;

	if (slash == NULL)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	if ((d = malloc((size_t)(slash - path) + 1)) == NULL)
		return NULL;
	memcpy(d, path, (size_t)(slash - path));
	d[slash - path] = '\0';
	return d;
}

int
file_open_regular(const char *path, const char *what, int *fd, struct stat *st,
    struct cs_err *e)
{
	int f;

	if ((f = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)) == -1) {
		if (errno == ELOOP)
			return cs_err_set(e, ELOOP, "%s: the %s is a symbolic link; refusing "
			    "to follow it", path, what);
		return cs_err_sys(e, errno, "%s: cannot open the %s", path, what);
	}
	if (fstat(f, st) == -1) {
		cs_err_sys(e, errno, "%s: cannot stat the %s", path, what);
		close(f);
		return -1;
	}
	if (!S_ISREG(st->st_mode)) {
		close(f);
		return cs_err_set(e, EINVAL, "%s: the %s is not a regular file", path, what);
	}
	*fd = f;
	return 0;
}

int
file_read(const char *path, const char *what, size_t max, char **buf, size_t *len,
    struct cs_err *e)
{
	struct stat st;
	int fd, rc;

	*buf = NULL;
	*len = 0;
	if (file_open_regular(path, what, &fd, &st, e) == -1)
		return -1;
	/* Refused before anything is read or allocated. */
	if (st.st_size < 0 || (unsigned long long)st.st_size > max)
		rc = cs_err_set(e, EFBIG, "%s: the %s is larger than %zu bytes; refusing to "
		    "read it", path, what, max);
	else
		rc = file_read_fd(fd, path, what, max, buf, len, e);
	close(fd);
	return rc;
}

int
file_read_fd(int fd, const char *path, const char *what, size_t max, char **buf,
    size_t *len, struct cs_err *e)
{
	struct stat st;
	char *b, *nb;
	size_t cap, n = 0;
	ssize_t r;

	*buf = NULL;
	*len = 0;
	/* One byte more than the size, so that EOF is seen without a second buffer; a
	 * file that grows while we read is followed up to max. */
	cap = 4096;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 0 &&
	    (unsigned long long)st.st_size <= max)
		cap = (size_t)st.st_size + 1;
	if (cap > max + 1)
		cap = max + 1;
	if ((b = malloc(cap + 1)) == NULL)
		return cs_err_sys(e, ENOMEM, "%s", path);
	for (;;) {
		if (n == cap) {
			if (cap > max)
				goto too_big;
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			if ((nb = realloc(b, cap + 1)) == NULL) {
				free(b);
				return cs_err_sys(e, ENOMEM, "%s", path);
			}
			b = nb;
		}
		r = read(fd, b + n, cap - n);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			free(b);
			return cs_err_sys(e, errno, "%s: cannot read the %s", path, what);
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > max)
		goto too_big;
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
too_big:
	free(b);
	return cs_err_set(e, EFBIG, "%s: the %s is larger than %zu bytes; refusing to read it",
	    path, what, max);
}

int
file_lock(const char *lockpath, int *fd, struct cs_err *e)
{
	struct stat st;
	int f;

	*fd = -1;
	if ((f = open(lockpath, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK,
	    0600)) == -1) {
		if (errno == ELOOP)
			return cs_err_set(e, ELOOP, "%s: the lock file is a symbolic link; "
			    "refusing to follow it", lockpath);
		return cs_err_sys(e, errno, "%s: cannot open the lock file", lockpath);
	}
	if (fstat(f, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(f);
		return cs_err_set(e, EINVAL, "%s: the lock file is not a regular file",
		    lockpath);
	}
	if (file_flock(f, LOCK_EX) == -1) {
		cs_err_sys(e, errno, "%s: cannot lock", lockpath);
		close(f);
		return -1;
	}
	*fd = f;
	return 0;
}

int
file_flock(int fd, int op)
{
	while (flock(fd, op) == -1) {
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

void
file_unlock(int fd)
{
	if (fd < 0)
		return;
	(void)flock(fd, LOCK_UN);
	close(fd);
}

/* fsync of the folder holding path ("." when path has no slash), so that a rename or
 * unlink in it is durable. A file system that cannot fsync a folder (EINVAL) counts as
 * done. */
static int
file_sync_dir(const char *path, struct cs_err *e)
{
	char *dir;
	int fd, rc = -1;

	if ((dir = dirof(path)) == NULL)
		return cs_err_sys(e, ENOMEM, "%s", path);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		cs_err_sys(e, errno, "%s: cannot open the folder", dir);
		goto out;
	}
	/* Some file systems cannot fsync a folder (EINVAL); they have nothing to flush. */
	if (fsync(fd) == -1 && errno != EINVAL) {
		cs_err_sys(e, errno, "%s: cannot fsync the folder", dir);
		close(fd);
		goto out;
	}
	close(fd);
	rc = 0;
out:
	free(dir);
	return rc;
}

int
file_rename(const char *from, const char *to, struct cs_err *e)
{
	if (rename(from, to) == -1)
		return cs_err_sys(e, errno, "%s: cannot rename it to %s", from, to);
	return file_sync_dir(to, e);
}

int
file_write_atomic(const char *path, const void *buf, size_t len, int excl, int *renamed,
    struct cs_err *e)
{
	return file_write_atomic_then(path, buf, len, excl, NULL, renamed, e);
}

int
file_write_atomic_then(const char *path, const void *buf, size_t len, int excl,
    const struct file_precommit *pc, int *renamed, struct cs_err *e)
{
	unsigned char rnd[TMP_RAND_BYTES];
	char hex[TMP_RAND_BYTES * 2 + 1], *tmp;
	size_t tlen = strlen(path) + sizeof ".tmp-" + sizeof hex;
	int fd = -1, tries, have_tmp = 0, rc = -1;

	if (renamed != NULL)
		*renamed = 0;
	if ((tmp = malloc(tlen)) == NULL)
		return cs_err_sys(e, ENOMEM, "%s", path);
	/* Like mkstemp, with O_NOFOLLOW and O_CLOEXEC, and a name that says what it is. */
	for (tries = 0; tries < TMP_TRIES; tries++) {
		randombytes_buf(rnd, sizeof rnd);
		sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);
		snprintf(tmp, tlen, "%s.tmp-%s", path, hex);
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd != -1 || errno != EEXIST)
			break;
	}
	if (fd == -1) {
		cs_err_sys(e, errno, "%s: cannot create a temporary file", tmp);
		goto out;
	}
	have_tmp = 1;
	if (fchmod(fd, 0600) == -1 || file_write_all(fd, buf, len, NULL) == -1 || fsync(fd) == -1) {
		cs_err_sys(e, errno, "%s: cannot write", tmp);
		goto out;
	}
	if (close(fd) == -1) {
		fd = -1;
		cs_err_sys(e, errno, "%s: cannot write", tmp);
		goto out;
	}
	fd = -1;
	if (pc != NULL && pc->fn(pc->arg, e) == -1)
		goto out;
	if (excl) {
		/* link() never replaces: the name is ours only if nobody else has it. */
		if (link(tmp, path) == -1) {
			if (errno == EEXIST)
				cs_err_set(e, EEXIST, "%s: already exists; refusing to overwrite it",
				    path);
			else
				cs_err_sys(e, errno, "%s: cannot create", path);
			goto out;
		}
		if (renamed != NULL)
			*renamed = 1;
		(void)unlink(tmp);
		have_tmp = 0;
	} else {
		if (rename(tmp, path) == -1) {
			cs_err_sys(e, errno, "%s: cannot replace", path);
			goto out;
		}
		have_tmp = 0;
		if (renamed != NULL)
			*renamed = 1;
	}
	rc = file_sync_dir(path, e);
out:
	if (fd != -1)
		close(fd);
	if (have_tmp)
		(void)unlink(tmp);
	sodium_memzero(rnd, sizeof rnd);
	free(tmp);
	return rc;
}

int
file_sweep_tmp(const char *path, struct cs_err *e)
{
	char prefix[NAME_MAX + 8], *dir;
	const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
	struct dirent *d;
	size_t plen;
	DIR *dp;
	int dfd, rc = 0;

	if (snprintf(prefix, sizeof prefix, "%s.tmp-", base) >= (int)sizeof prefix)
		return cs_err_set(e, ENAMETOOLONG, "%s: name too long", path);
	plen = strlen(prefix);
	if ((dir = dirof(path)) == NULL)
		return cs_err_sys(e, ENOMEM, "%s", path);
	if ((dp = opendir(dir)) == NULL) {
		free(dir);
		return cs_err_sys(e, errno, "%s: cannot list its folder", path);
	}
	dfd = dirfd(dp);
	while ((d = readdir(dp)) != NULL) {
		if (strncmp(d->d_name, prefix, plen) != 0 ||
		    strlen(d->d_name + plen) != TMP_RAND_BYTES * 2 ||
		    strspn(d->d_name + plen, "0123456789abcdef") != TMP_RAND_BYTES * 2)
			continue;
		if (unlinkat(dfd, d->d_name, 0) == -1 && errno != ENOENT) {
			rc = cs_err_sys(e, errno, "%s/%s: cannot remove a stale temporary file",
			    dir, d->d_name);
			break;
		}
	}
	closedir(dp);
	free(dir);
	return rc;
}

#define INOTIFY_DRAIN_BYTES	(16 * 1024)

int
file_inotify_names(int fd, const char *name)
{
	char buf[INOTIFY_DRAIN_BYTES]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	ssize_t n;
	char *p;
	int hit = 0;

	while ((n = read(fd, buf, sizeof buf)) > 0) {
		for (p = buf; p < buf + n; p += sizeof *ev + ev->len) {
			ev = (const struct inotify_event *)p;
			if ((ev->mask & IN_Q_OVERFLOW) ||
			    (ev->len > 0 && strcmp(ev->name, name) == 0))
				hit = 1;
		}
	}
	return hit;
}
