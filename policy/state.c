/* policy/state.c - the rollback floor and the audit chain point; see state.h.
 *
 * The file is one JSON object: {"vault": "/abs/vault.json", "generation": N, "mac":
 * "<hex>", "audit_seq": S, "audit_hash": "...", "audit_path": "..."}; the old file beside
 * the vault has the same keys less "vault" and "mac". A malformed state file is an error,
 * not a reset: silently starting from zero would reopen the door to a rollback. Every
 * file here is opened without blocking and must be a regular file: a FIFO planted at the
 * state file's or the lock's path would otherwise hang every command and the daemon's
 * start. The folder is checked at every use, as ssh checks the folders above a key: a
 * floor that someone else can replace is no floor. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "../base/file.h"
#include "state.h"

#define STATE_FILE_MAX	(64u * 1024)	/* bytes; the real file is under 5 KiB */
#define STATE_ID_HEX	16		/* hex digits of SHA-256(vault path) in the name */
#define STATE_NAME_MAX	100		/* bytes of the vault's name kept in the file name */

enum how { FLOOR_ADVANCE, FLOOR_RESET, AUDIT_ADVANCE };

/* The old state file beside the vault, "<vault>.state<suffix>". */
static int
legacy_file(const char *vault_path, const char *suffix, char *buf, size_t n,
    struct cs_err *e)
{
	int w;

	w = snprintf(buf, n, "%s%s%s", vault_path, STATE_SUFFIX, suffix);
	if (w < 0 || (size_t)w >= n)
		return cs_err_set(e, ENAMETOOLONG, "%s: path too long for its state file",
		    vault_path);
	return 0;
}

/* The vault's absolute path, its folder resolved (the name that identifies it), and its
 * folder's stat in *dst (may be NULL). */
static int
vault_id(const char *vault_path, char abs[PATH_MAX], struct stat *dst, struct cs_err *e)
{
	char dir[PATH_MAX], real[PATH_MAX];
	const char *slash = strrchr(vault_path, '/'), *base;
	struct stat sb;

	if (slash == NULL) {
		snprintf(dir, sizeof dir, ".");
		base = vault_path;
	} else {
		if ((size_t)(slash - vault_path) >= sizeof dir)
			return cs_err_set(e, ENAMETOOLONG, "%s: path too long", vault_path);
		snprintf(dir, sizeof dir, "%.*s", slash == vault_path ? 1 :
		    (int)(slash - vault_path), vault_path);
		base = slash + 1;
	}
	if (base[0] == '\0')
		return cs_err_set(e, EINVAL, "%s: not a file path", vault_path);
	if (realpath(dir, real) == NULL)
		return cs_err_sys(e, errno, "%s: the vault's folder", dir);
	if (stat(real, dst != NULL ? dst : &sb) == -1)
		return cs_err_sys(e, errno, "%s: the vault's folder", real);
	if (snprintf(abs, PATH_MAX, "%s/%s", strcmp(real, "/") == 0 ? "" : real, base) >=
	    PATH_MAX)
		return cs_err_set(e, ENAMETOOLONG, "%s: path too long", vault_path);
	return 0;
}

int
state_path(const char *state_dir, const char *vault_path, char *buf, size_t n,
    struct cs_err *e)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	char abs[PATH_MAX], hex[STATE_ID_HEX + 1];
	const char *base;
	int w;

	if (vault_id(vault_path, abs, NULL, e) == -1)
		return -1;
	base = strrchr(abs, '/') + 1;
	crypto_hash_sha256(h, (const unsigned char *)abs, strlen(abs));
	sodium_bin2hex(hex, sizeof hex, h, STATE_ID_HEX / 2);
	w = snprintf(buf, n, "%s/%.*s-%s%s", state_dir, STATE_NAME_MAX, base, hex,
	    STATE_SUFFIX);
	if (w < 0 || (size_t)w >= n)
		return cs_err_set(e, ENAMETOOLONG, "%s: path too long for a state file",
		    state_dir);
	return 0;
}

/* 0 when sb is a folder only root or this user can change: owned by one of them and
 * not writable by group or others (unless sticky, for an ancestor: then only an entry's
 * owner can rename or remove it). */
static int
safe_dir(const char *path, const struct stat *sb, int leaf, struct cs_err *e)
{
	if (!S_ISDIR(sb->st_mode))
		return cs_err_set(e, ENOTDIR, "%s: not a folder", path);
	if (sb->st_uid != 0 && sb->st_uid != geteuid())
		return cs_err_set(e, EPERM, "%s: owned by uid %lu, neither root nor the caller; "
		    "the rollback floor needs a folder only root can change", path,
		    (unsigned long)sb->st_uid);
	if ((sb->st_mode & (S_IWGRP | S_IWOTH)) && (leaf || !(sb->st_mode & S_ISVTX)))
		return cs_err_set(e, EPERM, "%s: mode %04o lets group or others write it; the "
		    "rollback floor needs a folder only root can change", path,
		    (unsigned)(sb->st_mode & 07777));
	return 0;
}

/* Checks the folder at real (a resolved path) and every folder above it with safe_dir. */
static int
safe_chain(char *real, struct cs_err *e)
{
	struct stat sb;
	char *slash;

	if (stat(real, &sb) == -1)
		return cs_err_sys(e, errno, "%s", real);
	if (safe_dir(real, &sb, 1, e) == -1)
		return -1;
	while ((slash = strrchr(real, '/')) != NULL && real[1] != '\0') {
		slash[slash == real ? 1 : 0] = '\0';
		if (stat(real, &sb) == -1)
			return cs_err_sys(e, errno, "%s", real);
		if (safe_dir(real, &sb, 0, e) == -1)
			return -1;
	}
	return 0;
}

/* Checks state_dir and every folder above it (safe_dir), and that it is not the vault's
 * folder. With create, makes state_dir (0700) when missing. 1: there and safe; 0: missing
 * (without create); -1: refused. */
static int
check_dir(const char *state_dir, const char *vault_path, int create, struct cs_err *e)
{
	char real[PATH_MAX], abs[PATH_MAX];
	struct stat sb, vdir;

	if (vault_id(vault_path, abs, &vdir, e) == -1)
		return -1;
	if (create && mkdir(state_dir, 0700) == -1 && errno != EEXIST)
		return cs_err_sys(e, errno, "%s: cannot create the state folder", state_dir);
	if (realpath(state_dir, real) == NULL) {
		if (errno == ENOENT && !create)
			return 0;
		return cs_err_sys(e, errno, "%s: the state folder", state_dir);
	}
	if (stat(real, &sb) == -1)
		return cs_err_sys(e, errno, "%s", real);
	if (sb.st_dev == vdir.st_dev && sb.st_ino == vdir.st_ino)
		return cs_err_set(e, EPERM, "%s: state_dir is the vault's own folder; the "
		    "rollback floor must live where the vault's writers cannot reach", state_dir);
	return safe_chain(real, e) == -1 ? -1 : 1;
}

static int
parse(const char *path, const char *text, size_t len, struct cs_state *st, struct cs_err *e)
{
	char why[CS_JSON_REASON_BUF];
	json_error_t jerr;
	json_t *root;
	json_int_t gen = 0, seq = 0;
	const char *hash = "", *apath = "", *mac = "", *vault = "";
	int rc = -1;

	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return cs_err_set(e, EINVAL, "%s:%d: not a state file: %s", path, jerr.line,
		    cs_json_reason(jerr.text, why, sizeof why));
	if (json_unpack_ex(root, &jerr, JSON_STRICT, "{s?s, s:I, s?s, s:I, s:s, s:s}",
	    "vault", &vault, "generation", &gen, "mac", &mac, "audit_seq", &seq,
	    "audit_hash", &hash, "audit_path", &apath) == -1) {
		cs_err_set(e, EINVAL, "%s: not a state file: %s", path,
		    cs_json_reason(jerr.text, why, sizeof why));
		goto out;
	}
	if (gen < 0 || seq < 0 || strlen(hash) > AUDIT_HASH_HEX ||
	    strlen(apath) >= sizeof st->audit_path ||
	    (mac[0] != '\0' && (strlen(mac) != VAULT_MAC_HEX ||
	    strspn(mac, "0123456789abcdef") != VAULT_MAC_HEX))) {
		cs_err_set(e, EINVAL, "%s: not a state file: value out of range", path);
		goto out;
	}
	st->generation = (uint64_t)gen;
	st->audit_seq = (uint64_t)seq;
	snprintf(st->mac, sizeof st->mac, "%s", mac);
	snprintf(st->audit_hash, sizeof st->audit_hash, "%s", hash);
	snprintf(st->audit_path, sizeof st->audit_path, "%s", apath);
	rc = 0;
out:
	json_decref(root);
	return rc;
}

/* Reads and parses the state file open at fd (from its start); an empty file is a lock
 * holder's that was never written: all zero. */
static int
read_fd(int fd, const char *path, struct cs_state *st, struct cs_err *e)
{
	char *buf;
	size_t len;
	int rc;

	if (file_read_fd(fd, path, "state file", STATE_FILE_MAX, &buf, &len, e) == -1)
		return -1;
	if (len == 0) {
		memset(st, 0, sizeof *st);
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
write_state(const char *path, const char *vault, const struct cs_state *st,
    struct cs_err *e)
{
	json_t *root;
	char *text = NULL;
	size_t len;
	int rc = -1;

	root = json_pack("{s:s, s:I, s:s, s:I, s:s, s:s}", "vault", vault,
	    "generation", (json_int_t)st->generation, "mac", st->mac,
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

/* Reads the state file at path into st: 1 read, 0 there is none, -1 error. */
static int
read_at(const char *path, struct cs_state *st, struct cs_err *e)
{
	int fd, rc;

	if ((rc = open_state(path, &fd, e)) <= 0)
		return rc;
	rc = read_fd(fd, path, st, e);
	close(fd);
	return rc == -1 ? -1 : 1;
}

/* The old state file beside the vault, into st: 1 read, 0 there is none (or none to
 * trust), -1 error. It is carried over only from a folder that passes the state folder's
 * own test (a default install: root's 0700 folder) and when root or the caller owns it:
 * in a folder someone else can write it is theirs to forge, and a lost floor must stay an
 * error, not become the forger's. Its MAC is never trusted: it had none. */
static int
read_legacy(const char *vault_path, struct cs_state *st, struct cs_err *e)
{
	char old[PATH_MAX], abs[PATH_MAX], *slash;
	struct cs_err ce = { 0 };	/* why it is not trusted; not reported */
	struct stat sb;
	int fd, rc;

	if (legacy_file(vault_path, "", old, sizeof old, e) == -1)
		return -1;
	if ((rc = open_state(old, &fd, e)) <= 0)
		return rc;
	if (fstat(fd, &sb) == -1) {
		rc = cs_err_sys(e, errno, "%s", old);
	} else if (vault_id(vault_path, abs, NULL, e) == -1) {
		rc = -1;
	} else {
		slash = strrchr(abs, '/');
		slash[slash == abs ? 1 : 0] = '\0';
		if (sb.st_uid != 0 && sb.st_uid != geteuid())
			cs_err_set(&ce, EPERM, "owned by uid %lu", (unsigned long)sb.st_uid);
		else
			(void)safe_chain(abs, &ce);
		if (ce.code != 0)
			rc = 0;
		else if ((rc = read_fd(fd, old, st, e)) == 0)
			rc = 1;
	}
	close(fd);
	if (rc == 1) {
		st->legacy = 1;
		st->mac[0] = '\0';
	}
	return rc;
}

int
state_read(const char *state_dir, const char *vault_path, struct cs_state *st,
    struct cs_err *e)
{
	struct cs_err pe = { 0 };
	char file[PATH_MAX];
	int rc;

	memset(st, 0, sizeof *st);
	if (state_path(state_dir, vault_path, file, sizeof file, &pe) == -1) {
		/* No folder, no vault: opening it will say so. */
		if (pe.code == ENOENT)
			return 0;
		return cs_err_set(e, pe.code, "%s", pe.msg);
	}
	if ((rc = check_dir(state_dir, vault_path, 0, e)) == 1)
		rc = read_at(file, st, e);
	if (rc == 0)
		rc = read_legacy(vault_path, st, e);
	snprintf(st->file, sizeof st->file, "%s", file);
	return rc == -1 ? -1 : 0;
}

int
state_check(const struct cs_state *st, const char *vault_path, uint64_t gen,
    const char *mac, struct cs_err *e)
{
	if (st->generation == 0 && st->mac[0] == '\0')
		return cs_err_set(e, ENOENT, "%s: no rollback floor recorded in %s; "
		    "`comfysecrets floor --reset` records this vault as the floor", vault_path,
		    st->file);
	if (gen < st->generation)
		return cs_err_set(e, ESTALE, "%s: generation %llu is older than generation "
		    "%llu recorded in %s: rollback refused", vault_path, (unsigned long long)gen,
		    (unsigned long long)st->generation, st->file);
	/* The MAC is public (it is in the vault file); compared in constant time anyway. */
	if (gen == st->generation && st->mac[0] != '\0' && (strlen(mac) != VAULT_MAC_HEX ||
	    sodium_memcmp(mac, st->mac, VAULT_MAC_HEX) != 0))
		return cs_err_set(e, ESTALE, "%s: generation %llu is the one recorded in %s, "
		    "but another vault's: rollback refused", vault_path, (unsigned long long)gen,
		    st->file);
	return 0;
}

/* The old state file and its lock are gone once their content moved: a writer of the
 * vault's folder must find nothing there that is still read. */
static void
drop_legacy(const char *vault_path)
{
	char old[PATH_MAX];

	if (legacy_file(vault_path, "", old, sizeof old, NULL) == 0)
		(void)unlink(old);
	if (legacy_file(vault_path, ".lock", old, sizeof old, NULL) == 0)
		(void)unlink(old);
}

static int
update(const char *state_dir, const char *vault_path, enum how how, uint64_t gen,
    const char *mac, uint64_t audit_seq, const char *audit_hash, const char *audit_path,
    uint64_t *was, struct cs_err *e)
{
	char path[PATH_MAX], lockp[PATH_MAX + sizeof ".lock"], abs[PATH_MAX];
	struct cs_state st;
	int lfd, rc, changed = 0, carried = 0;

	if (state_path(state_dir, vault_path, path, sizeof path, e) == -1 ||
	    vault_id(vault_path, abs, NULL, e) == -1 ||
	    check_dir(state_dir, vault_path, 1, e) == -1)
		return -1;
	snprintf(lockp, sizeof lockp, "%s.lock", path);
	if (file_lock(lockp, &lfd, e) == -1)
		return -1;
	memset(&st, 0, sizeof st);
	if ((rc = read_at(path, &st, e)) == 0 && (rc = read_legacy(vault_path, &st, e)) == 1)
		carried = changed = 1;
	if (rc == -1)
		goto out;
	rc = -1;
	/* Temporary files of a writer killed mid-write: none is live under the lock. */
	if (file_sweep_tmp(path, e) == -1)
		goto out;
	if (was != NULL)
		*was = st.generation;
	if (how == FLOOR_RESET || (how == FLOOR_ADVANCE && (gen > st.generation ||
	    (gen == st.generation && st.mac[0] == '\0')))) {
		st.generation = gen;
		snprintf(st.mac, sizeof st.mac, "%s", mac);
		changed = 1;
	}
	if (how == AUDIT_ADVANCE && audit_seq != 0 && audit_hash != NULL &&
	    audit_path != NULL &&
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
	rc = changed ? write_state(path, abs, &st, e) : 0;
	if (rc == 0 && carried)
		drop_legacy(vault_path);
out:
	file_unlock(lfd);
	return rc;
}

int
state_advance_floor(const char *state_dir, const char *vault_path, uint64_t gen,
    const char *mac, struct cs_err *e)
{
	return update(state_dir, vault_path, FLOOR_ADVANCE, gen, mac, 0, NULL, NULL, NULL, e);
}

int
state_reset_floor(const char *state_dir, const char *vault_path, uint64_t gen,
    const char *mac, uint64_t *was, struct cs_err *e)
{
	return update(state_dir, vault_path, FLOOR_RESET, gen, mac, 0, NULL, NULL, was, e);
}

int
state_advance_audit(const char *state_dir, const char *vault_path, uint64_t audit_seq,
    const char *audit_hash, const char *audit_path, struct cs_err *e)
{
	return update(state_dir, vault_path, AUDIT_ADVANCE, 0, NULL, audit_seq, audit_hash,
	    audit_path, NULL, e);
}
