/* base/file.h - careful file access, one implementation for every layer.
 *
 * Files that hold keys, the vault, the state or the config are opened O_NOFOLLOW (a
 * symbolic link is refused, not followed), must be regular files, are read with a size
 * bound, and are replaced atomically: a temporary file in the same folder, fsync,
 * rename (or link, to refuse replacing), fsync of the folder. Locks are flock(2) on a
 * lock file beside the file they order. Each function that fails returns -1 with e set
 * (e may be NULL: the error is then only returned), naming the path and the reason;
 * nothing here knows what the bytes mean, and none of it is for plaintext secrets (the
 * buffers are ordinary heap: crypto/secret.h reads those). */
#ifndef CS_BASE_FILE_H
#define CS_BASE_FILE_H

#include <stddef.h>
#include <sys/stat.h>

#include "err.h"

/* Opens path read-only, O_NOFOLLOW|O_CLOEXEC|O_NONBLOCK (a FIFO cannot hang us), and
 * checks that it is a regular file; fills *st. what names the file's role in messages
 * ("key file", "vault"). The caller owns and closes *fd. Errors: ELOOP (a symbolic link),
 * EINVAL (not a regular file), and open(2)'s (ENOENT, EACCES...) or fstat(2)'s. */
int	file_open_regular(const char *path, const char *what, int *fd, struct stat *st,
	    struct cs_err *e) CS_NONNULL(1, 2, 3, 4) CS_WUR;
/* Reads a whole regular file (file_open_regular) into a malloc'd buffer that the caller
 * frees: *buf is NUL-terminated, *len (bytes) excludes the NUL. max is in bytes; a file
 * larger than max is refused (EFBIG, "larger than MAX bytes") without being read, and so
 * is one that grows past max while being read. Errors: those of file_open_regular, EFBIG,
 * ENOMEM, and read(2)'s (EINTR is retried). On error *buf is NULL and *len 0. For
 * ciphertext and public data only: the buffer is ordinary heap. */
int	file_read(const char *path, const char *what, size_t max, char **buf, size_t *len,
	    struct cs_err *e) CS_NONNULL(1, 2, 4, 5) CS_WUR;
/* file_read from fd, already open for reading (the caller keeps and closes it), from its
 * current offset to end of file; path and what name it in messages. The same bound,
 * buffer, errors and ownership as file_read; fd is not checked to be a regular file. */
int	file_read_fd(int fd, const char *path, const char *what, size_t max, char **buf,
	    size_t *len, struct cs_err *e) CS_NONNULL(2, 3, 5, 6) CS_WUR;
/* Writes all len bytes at buf to fd, retrying EINTR and short writes. 0, or -1 with
 * errno set by write(2) (ENOSPC, EPIPE, EAGAIN on a non-blocking fd...). *done (may be
 * NULL) is the number of bytes written, also on error, so a caller can undo a torn
 * append. */
int	file_write_all(int fd, const void *buf, size_t len, size_t *done) CS_WUR;
/* Opens (creating it 0600) the lock file lockpath, O_NOFOLLOW|O_CLOEXEC|O_NONBLOCK (a
 * FIFO there cannot hang the open), checks that it is a regular file and takes an
 * exclusive flock, waiting for it (EINTR is retried). The caller owns *fd and ends the
 * lock with file_unlock. Errors: ELOOP (a symbolic link), EINVAL (not a regular file),
 * and open(2)'s or flock(2)'s, naming lockpath. */
int	file_lock(const char *lockpath, int *fd, struct cs_err *e) CS_NONNULL(1, 2) CS_WUR;
/* flock(fd, op) with EINTR retried: 0, or -1 with errno (EWOULDBLOCK for LOCK_NB on a
 * lock held elsewhere). For callers that hold their lock file open across locks; not
 * CS_WUR, as an unlock (LOCK_UN) has nothing to do on failure. */
int	file_flock(int fd, int op);
/* Unlocks and closes a descriptor from file_lock; fd < 0 is ignored. */
void	file_unlock(int fd);
/* Replaces path with len bytes at buf, mode 0600, atomically: "<path>.tmp-<16 hex>" is
 * created O_EXCL in path's folder, written, fsynced, renamed over path (or, with excl,
 * linked to it, so that an existing path is not replaced: EEXIST), and the folder is
 * fsynced. A crash leaves the old or the new file, never a torn one (and maybe a
 * temporary file, which file_sweep_tmp removes). *renamed (may be NULL) tells whether
 * the new file took path's name, which it may have even when the folder's fsync failed.
 * Errors: ENOMEM, and open/write/fsync/rename/link's, naming the path. */
int	file_write_atomic(const char *path, const void *buf, size_t len, int excl,
	    int *renamed, struct cs_err *e) CS_NONNULL(1) CS_WUR;
/* What must happen before new bytes take a file's name (file_write_atomic_then): 0 to
 * go on, or -1 with e set to give up. */
struct file_precommit {
	int	(*fn)(void *arg, struct cs_err *e);
	void	*arg;
};
/* file_write_atomic, calling pc->fn (pc may be NULL) once the bytes are durable in the
 * temporary file and before the rename or link: when it fails, the temporary file is
 * removed, path is untouched, and its error is returned. So a record of the change (an
 * audit line) can be written before the change exists, never after. */
int	file_write_atomic_then(const char *path, const void *buf, size_t len, int excl,
	    const struct file_precommit *pc, int *renamed, struct cs_err *e) CS_NONNULL(1)
	    CS_WUR;
/* Renames from over to and fsyncs to's folder (both must be in the same folder);
 * errors are rename(2)'s and file_sync_dir's. */
int	file_rename(const char *from, const char *to, struct cs_err *e)
	    CS_NONNULL(1, 2) CS_WUR;
/* Removes "<path>.tmp-<hex>" files left by a writer that was killed mid-write. Only for
 * a caller holding the lock that all writers of path take: then no such file is live. */
int	file_sweep_tmp(const char *path, struct cs_err *e) CS_NONNULL(1) CS_WUR;
/* Drains the inotify(7) descriptor fd (opened IN_NONBLOCK, watching a folder) and
 * returns 1 when an event named name, or a queue overflow (IN_Q_OVERFLOW: events were
 * lost, so any file may have changed), was among them; else 0. Read errors end the
 * drain (EAGAIN when it is empty). */
int	file_inotify_names(int fd, const char *name) CS_NONNULL(2);

#endif
