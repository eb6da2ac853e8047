/* crypto/file.h - careful file access shared by key.c, vault.c and the state file.
 *
 * Files that hold keys or the vault are opened O_NOFOLLOW (a symbolic link is refused,
 * not followed), must be regular files, and are replaced atomically: a temporary file in
 * the same folder, fsync, rename (or link, to refuse replacing), fsync of the folder.
 * cli/ and fs/ use key.h, vault.h and store.h, not this header; policy/state.c and
 * cli/cmd_audit.c use it for their own files, so that every file opened by path is
 * opened the same way. */
#ifndef CS_FILE_H
#define CS_FILE_H

#include <stddef.h>
#include <sys/stat.h>

#include "err.h"

/* Opens path read-only, O_NOFOLLOW|O_CLOEXEC|O_NONBLOCK (a FIFO cannot hang us), and
 * checks that it is a regular file; fills *st. what names the file's role in messages
 * ("key file", "vault"). */
int	file_open_regular(const char *path, const char *what, int *fd, struct stat *st,
	    struct cs_err *e) CS_NONNULL(1, 2, 3, 4) CS_WUR;
/* Reads a whole regular file into a malloc'd buffer (NUL-terminated, *len excludes the
 * NUL). A file bigger than max bytes is refused (EFBIG) without being read. For
 * ciphertext and public data only: the buffer is ordinary heap. */
int	file_read(const char *path, const char *what, size_t max, char **buf, size_t *len,
	    struct cs_err *e) CS_NONNULL(1, 2, 4, 5) CS_WUR;
/* Replaces path with len bytes at buf, mode 0600, atomically (see above). With excl,
 * an existing path is not replaced (EEXIST). *renamed (may be NULL) tells whether the
 * new file took path's name, which it may have even when the folder's fsync failed. */
int	file_write_atomic(const char *path, const void *buf, size_t len, int excl,
	    int *renamed, struct cs_err *e) CS_NONNULL(1) CS_WUR;
/* Renames from over to and fsyncs their folder (both must be in the same folder). */
int	file_rename(const char *from, const char *to, struct cs_err *e)
	    CS_NONNULL(1, 2) CS_WUR;
/* Removes "<path>.tmp-<hex>" files left by a writer that was killed mid-write. Only for
 * a caller holding the lock that all writers of path take: then no such file is live. */
int	file_sweep_tmp(const char *path, struct cs_err *e) CS_NONNULL(1) CS_WUR;
/* fsync of the folder holding path, so that a rename or unlink in it is durable. */
int	file_sync_dir(const char *path, struct cs_err *e) CS_NONNULL(1) CS_WUR;
/* Drains the inotify(7) descriptor fd (opened IN_NONBLOCK, watching a folder) and
 * returns 1 when an event named name, or a queue overflow (IN_Q_OVERFLOW: events were
 * lost, so any file may have changed), was among them; else 0. Read errors end the
 * drain (EAGAIN when it is empty). */
int	file_inotify_names(int fd, const char *name) CS_NONNULL(2);

#endif
