/* policy/state.c - the forward-only state file beside the vault; see state.h.
 *
 * The file is one JSON object: {"generation": N, "audit_seq": S, "audit_hash": "...",
 * "audit_path": "..."}. A malformed state file is an error, not a reset: silently
 * starting from zero would reopen the door to a rollback. Every file here is opened
 * without blocking and must be a regular file: a FIFO planted at the state file's or
 * the lock's path would otherwise hang every command and the daemon's start. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "../crypto/file.h"
#include "state.h"

#define STATE_FILE_MAX	(64u * 1024)	/* bytes; the real file is under 5 KiB */

static int
state_file(const char *vault_path, const char *suffix, char *buf, size_t n, struct cs_err *e)
{
	int w;

	w = snprintf(buf, n, "%s%s%s", vault_path, STATE_SUFFIX, suffix);
	if (w < 0 || (size_t)w >= n)
		return cs_err_set(e, ENAMETOOLONG, "%s: path too long for its state file",
		    vault_path);
	return 0;
}

/* jansson's message, made safe for a terminal: its "near '...'" excerpt is cut and the
 * rest (which can name a key from the file) escaped. fuzz_state found raw control bytes
 * reaching the message through the excerpt. */
static const char *
jtext(const json_error_t *jerr, char *out, size_t n)
{
	char text[sizeof jerr->text], *near;

	snprintf(text, sizeof text, "%s", jerr->text);
	if ((near = strstr(text, " near ")) != NULL)
		*near = '\0';
	return cs_show(text, strlen(text), sizeof text, out, n);
}

static int
parse(const char *path, const char *text, size_t len, struct cs_state *st, struct cs_err *e)
{
	char why[CS_SHOW_BUF(JSON_ERROR_TEXT_LENGTH)];
	json_error_t jerr;
	json_t *root;
	json_int_t gen = 0, seq = 0;
	const char *hash = "", *apath = "";
	int rc = -1;

	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return cs_err_set(e, EINVAL, "%s:%d: not a state file: %s", path, jerr.line,
		    jtext(&jerr, why, sizeof why));
	if (json_unpack_ex(root, &jerr, JSON_STRICT, "{s:I, s:I, s:s, s:s}",
	    "generation", &gen, "audit_seq", &seq, "audit_hash", &hash,
	    "audit_path", &apath) == -1) {
		cs_err_set(e, EINVAL, "%s: not a state file: %s", path,
		    jtext(&jerr, why, sizeof why));
		goto out;
	}
	if (gen < 0 || seq < 0 || strlen(hash) > AUDIT_HASH_HEX ||
	    strlen(apath) >= sizeof st->audit_path) {
		cs_err_set(e, EINVAL, "%s: not a state file: value out of range", path);
		goto out;
	}
	st->generation = (uint64_t)gen;
	st->audit_seq = (uint64_t)seq;
	snprintf(st->audit_hash, sizeof st->audit_hash, "%s", hash);
	snprintf(st->audit_path, sizeof st->audit_path, "%s", apath);
	rc = 0;
out:
	json_decref(root);
	return rc;
}

static int
read_fd(int fd, const char *path, struct cs_state *st, struct cs_err *e)
{
	char *buf;
	ssize_t n;
	size_t len = 0;
	int rc;

	if ((buf = malloc(STATE_FILE_MAX)) == NULL)
		return cs_err_sys(e, ENOMEM, "%s", path);
	while ((n = pread(fd, buf + len, STATE_FILE_MAX - len, (off_t)len)) > 0)
		len += (size_t)n;
	if (n < 0) {
		rc = cs_err_sys(e, errno, "%s: read", path);
	} else if (len == STATE_FILE_MAX) {
		rc = cs_err_set(e, EFBIG, "%s: not a state file: too large", path);
	} else if (len == 0) {
		memset(st, 0, sizeof *st);	/* created by a lock holder, never written */
		rc = 0;
	} else {
		rc = parse(path, buf, len, st, e);
	}
	free(buf);
	return rc;
}

/* Opens the state file at path: 1 with *fd, 0 when there is none, -1 on error (a
 * symbolic link, a FIFO or anything but a regular file included). */
static int
open_state(const char *path, int *fd, struct cs_err *e)
{
	struct cs_err oe = { 0 };
	struct stat sb;

	if (file_open_regular(path, "state file", fd, &sb, &oe) == 0)
		return 1;
	if (oe.code == ENOENT)
		return 0;
	return cs_err_set(e, oe.code, "%s", oe.msg);
}

int
state_read(const char *vault_path, struct cs_state *st, struct cs_err *e)
{
	char path[PATH_MAX];
	int fd, rc;

	memset(st, 0, sizeof *st);
	if (state_file(vault_path, "", path, sizeof path, e) == -1)
		return -1;
	if ((rc = open_state(path, &fd, e)) <= 0)
		return rc;
	rc = read_fd(fd, path, st, e);
	close(fd);
	return rc;
}

/* text with a newline appended (text is freed on failure); *len is the new length. */
static char *
realloc_nl(char *text, size_t *len)
{
	char *t;

	*len = strlen(text);
	if ((t = realloc(text, *len + 2)) == NULL) {
		free(text);
		return NULL;
	}
	t[(*len)++] = '\n';
	t[*len] = '\0';
	return t;
}

/* Replaces the state file at path with st, atomically (crypto/file.c: a temporary file
 * with a fresh random name, so nothing planted at a fixed name is ever opened). */
static int
write_state(const char *path, const struct cs_state *st, struct cs_err *e)
{
	json_t *root;
	char *text = NULL;
	size_t len;
	int rc = -1;

	root = json_pack("{s:I, s:I, s:s, s:s}", "generation", (json_int_t)st->generation,
	    "audit_seq", (json_int_t)st->audit_seq, "audit_hash", st->audit_hash,
	    "audit_path", st->audit_path);
	if (root == NULL || (text = json_dumps(root, JSON_INDENT(2))) == NULL ||
	    (text = realloc_nl(text, &len)) == NULL) {
		cs_err_set(e, ENOMEM, "%s: cannot encode the state", path);
		goto out;
	}
	rc = file_write_atomic(path, text, len, 0, NULL, e);
out:
	free(text);
	json_decref(root);
	return rc;
}

/* Opens and flocks the lock file at lockp; -1 with e set for anything but a regular
 * file (O_NONBLOCK: a FIFO there must not hang the open). */
static int
lock_state(const char *lockp, struct cs_err *e)
{
	struct stat sb;
	int fd;

	fd = open(lockp, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600);
	if (fd == -1)
		return cs_err_sys(e, errno, "%s", lockp);
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return cs_err_set(e, EINVAL, "%s: the lock file is not a regular file", lockp);
	}
	while (flock(fd, LOCK_EX) == -1) {
		if (errno != EINTR) {
			cs_err_sys(e, errno, "%s: lock", lockp);
			close(fd);
			return -1;
		}
	}
	return fd;
}

int
state_advance(const char *vault_path, uint64_t generation, uint64_t audit_seq,
    const char *audit_hash, const char *audit_path, struct cs_err *e)
{
	char path[PATH_MAX], lockp[PATH_MAX];
	struct cs_state st;
	int lfd, fd, rc = -1, changed = 0;

	if (state_file(vault_path, "", path, sizeof path, e) == -1 ||
	    state_file(vault_path, ".lock", lockp, sizeof lockp, e) == -1)
		return -1;
	if ((lfd = lock_state(lockp, e)) == -1)
		return -1;
	memset(&st, 0, sizeof st);
	if ((rc = open_state(path, &fd, e)) == 1) {
		rc = read_fd(fd, path, &st, e);
		close(fd);
	}
	if (rc == -1)
		goto out;
	rc = -1;
	/* Temporary files of a writer killed mid-write: none is live under the lock. */
	if (file_sweep_tmp(path, e) == -1)
		goto out;
	if (generation > st.generation) {
		st.generation = generation;
		changed = 1;
	}
	if (audit_seq != 0 && audit_hash != NULL && audit_path != NULL &&
	    (audit_seq > st.audit_seq || strcmp(audit_path, st.audit_path) != 0)) {
		if (strlen(audit_path) >= sizeof st.audit_path) {
			cs_err_set(e, ENAMETOOLONG, "%s: audit path too long", path);
			goto out;
		}
		st.audit_seq = audit_seq;
		snprintf(st.audit_hash, sizeof st.audit_hash, "%s", audit_hash);
		snprintf(st.audit_path, sizeof st.audit_path, "%s", audit_path);
		changed = 1;
	}
	rc = changed ? write_state(path, &st, e) : 0;
out:
	close(lfd);	/* releases the flock */
	return rc;
}
