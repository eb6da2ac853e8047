/* fleet/apply.c - key file, vault and floor written in the crash-safe order; see apply.h. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../crypto/file.h"
#include "../crypto/store.h"
#include "../policy/state.h"
#include "apply.h"

/* Creates the folder holding path (one level, 0700) when it is missing. */
static int
parent(const char *path, struct cs_err *e)
{
	char dir[PATH_MAX], *slash;

	snprintf(dir, sizeof dir, "%s", path);
	if ((slash = strrchr(dir, '/')) == NULL || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		return cs_err_sys(e, errno, "%s", dir);
	return 0;
}

/* Under the lock: finishes an apply (or a rotation) that a kill interrupted after the
 * vault was written, and removes what killed writers left. */
static int
settle(const struct cfg *c, struct cs_err *e)
{
	struct key *k = NULL;
	struct vault *v = NULL;
	struct cs_err oe = { 0 };
	int rc = 0;

	if (store_open(c->vault_path, c->key_file, &k, &v, &oe) == 0)
		rc = store_settle(c->key_file, v, e);
	vault_close(v);
	key_free(k);
	if (rc == -1)
		return -1;
	return store_sweep(c->vault_path, c->key_file, e);
}

/* The key file's fingerprint into fpr, or "" when there is no usable key file. */
static void
current(const struct cfg *c, char fpr[KEY_FPR_HEX + 1])
{
	struct cs_err ke = { 0 };
	struct key *k = NULL;

	fpr[0] = '\0';
	if (key_read_file(c->key_file, &k, &ke) == 0)
		memcpy(fpr, k->fpr, KEY_FPR_HEX + 1);
	key_free(k);
}

int
fleet_apply(const struct cfg *c, const struct key *k, const char *buf, size_t len,
    const struct vault *v, struct cs_err *e)
{
	char mac[VAULT_MAC_HEX + 1], fpr[KEY_FPR_HEX + 1], next[PATH_MAX];
	struct cs_state st;
	struct cs_err se = { 0 };
	int fd = -1, rc = -1;

	vault_mac_hex(v, mac);
	if (parent(c->vault_path, e) == -1 || parent(c->key_file, e) == -1)
		return -1;
	if (snprintf(next, sizeof next, "%s.next", c->key_file) >= (int)sizeof next)
		return cs_err_set(e, ENAMETOOLONG, "%s: path too long", c->key_file);
	if (vault_lock(c->vault_path, &fd, e) == -1)
		return -1;
	if (state_read(c->state_dir, c->vault_path, &st, e) == -1)
		goto out;
	/* A published vault below this host's floor would be refused by the daemon: refuse
	 * it here, before anything is written. No floor yet is this host's first vault. */
	if (state_check(&st, c->vault_path, vault_generation(v), mac, &se) == -1 &&
	    se.code != ENOENT) {
		cs_err_set(e, se.code, "%s", se.msg);
		goto out;
	}
	if (settle(c, e) == -1)
		goto out;
	current(c, fpr);
	if (strcmp(fpr, k->fpr) == 0) {
		if (file_write_atomic(c->vault_path, buf, len, 0, NULL, e) == -1)
			goto out;
	} else {
		/* 1: the new key as ".next"; 2: the vault under it; 3: ".next" becomes the key
		 * file. A kill after 2 leaves a vault that store_open() opens with ".next". */
		if (key_write_file(next, k, 0, e) == -1 ||
		    file_write_atomic(c->vault_path, buf, len, 0, NULL, e) == -1 ||
		    file_rename(next, c->key_file, e) == -1)
			goto out;
	}
	if (state_advance_floor(c->state_dir, c->vault_path, vault_generation(v), mac, e) == -1)
		goto out;
	rc = 0;
out:
	vault_unlock(fd);
	return rc;
}
