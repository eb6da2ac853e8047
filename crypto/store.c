/* crypto/store.c - a vault file and its key file, opened and rotated crash-safely; see store.h.
 *
 * The invariant: at every instant, some key on disk (the key file or "<key file>.next")
 * opens the vault on disk. Rotation therefore writes in this order, each step atomic and
 * durable before the next: the new key as ".next"; the vault re-encrypted under it;
 * ".next" renamed over the key file. A crash after the first step leaves a stray ".next"
 * beside a vault still under the key file; a crash after the second leaves a vault under
 * ".next", which store_open() falls back to and store_settle() promotes.
 *
 * A stray ".next" that the vault is not under is left alone: it opens nothing, the next
 * rotation replaces it, and deleting key material on a guess is worse than keeping it.
 * A key from COMFYVN_SECRETS_KEY has no ".next": the environment is taken as meant. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file.h"
#include "store.h"

#define NEXT_SUFFIX	".next"

static char *
next_path(const char *key_file, struct cs_err *e)
{
	size_t n = strlen(key_file) + sizeof NEXT_SUFFIX;
	char *p;

	if ((p = malloc(n)) == NULL) {
		cs_err_sys(e, ENOMEM, "%s", key_file);
		return NULL;
	}
	snprintf(p, n, "%s%s", key_file, NEXT_SUFFIX);
	return p;
}

/* Hands a kept error on to e; returns -1. */
static int
pass(struct cs_err *e, const struct cs_err *from)
{
	return cs_err_set(e, from->code, "%s", from->msg);
}

int
store_open(const char *vault_path, const char *key_file, struct key **kout,
    struct vault **vout, struct cs_err *e)
{
	struct cs_err ke = { 0 }, ne = { 0 };
	struct key *k = NULL, *nk = NULL;
	struct vault *v = NULL;
	char *next = NULL;
	int from_env = 0, rc = -1;

	*kout = NULL;
	*vout = NULL;
	if (key_load(key_file, &k, &from_env, &ke) == -1 && from_env)
		return pass(e, &ke);
	if (k != NULL) {
		if (vault_open(vault_path, k, &v, &ke) == 0)
			goto done;
		/* Only a wrong key can be an interrupted rotation; anything else is reported. */
		if (from_env || ke.code != EKEYREJECTED) {
			pass(e, &ke);
			goto out;
		}
	}
	if ((next = next_path(key_file, e)) == NULL)
		goto out;
	if (key_read_file(next, &nk, &ne) == 0 && vault_open(vault_path, nk, &v, &ne) == 0) {
		key_free(k);
		k = nk;
		nk = NULL;
		goto done;
	}
	/* No ".next", or not this vault's: the key file's error is the one to fix. A
	 * ".next" that exists but cannot be used (its mode, say) is reported instead. */
	if (ne.code == ENOENT || ne.code == EKEYREJECTED)
		pass(e, &ke);
	else
		pass(e, &ne);
	goto out;
done:
	*kout = k;
	*vout = v;
	k = NULL;
	rc = 0;
out:
	key_free(nk);
	key_free(k);
	free(next);
	return rc;
}

int
store_settle(const char *key_file, const struct vault *v, struct cs_err *e)
{
	struct cs_err ne = { 0 };
	struct key *nk = NULL;
	char *next;
	int rc = -1;

	if ((next = next_path(key_file, e)) == NULL)
		return -1;
	if (key_read_file(next, &nk, &ne) == -1) {
		if (ne.code == ENOENT)
			rc = 0;		/* nothing was interrupted */
		else
			pass(e, &ne);
		goto out;
	}
	/* The vault is under ".next": the rotation got past the vault; finish it. */
	if (strcmp(nk->fpr, vault_fingerprint(v)) == 0 && file_rename(next, key_file, e) == -1)
		goto out;
	rc = 0;
out:
	key_free(nk);
	free(next);
	return rc;
}

int
store_sweep(const char *vault_path, const char *key_file, struct cs_err *e)
{
	char *next;
	int rc;

	if (file_sweep_tmp(vault_path, e) == -1 || file_sweep_tmp(key_file, e) == -1)
		return -1;
	if ((next = next_path(key_file, e)) == NULL)
		return -1;
	rc = file_sweep_tmp(next, e);
	free(next);
	return rc;
}

int
store_rotate(const char *vault_path, const char *key_file, struct vault *v,
    const struct key *nk, const struct file_precommit *pc, char fpr[KEY_FPR_HEX + 1],
    struct cs_err *e)
{
	struct cs_err re = { 0 };
	struct key *gen = NULL;
	char disk[KEY_FPR_HEX + 1], *next = NULL;
	uint64_t g0;
	int rc = -1;

	/* ".next" is about to be replaced: it must not be the key the vault is under. */
	if (store_settle(key_file, v, e) == -1)
		return -1;
	/* v must be the vault on disk (opened under the lock), or the order above proves
	 * nothing about the file we replace. */
	if (vault_peek_fingerprint(vault_path, disk, e) == -1)
		return -1;
	if (strcmp(disk, vault_fingerprint(v)) != 0)
		return cs_err_set(e, ESTALE, "%s: the vault on disk is under key %s, not %s as "
		    "opened; open it again", vault_path, disk, vault_fingerprint(v));
	if (nk == NULL) {
		if (key_generate(&gen, e) == -1)
			return -1;
		nk = gen;
	}
	if (strcmp(nk->fpr, vault_fingerprint(v)) == 0) {
		cs_err_set(e, EINVAL, "%s: the new key is the current key (%s)", vault_path,
		    nk->fpr);
		goto out;
	}
	if ((next = next_path(key_file, e)) == NULL)
		goto out;
	/* 1: the new key, durably, before anything depends on it. */
	if (key_write_file(next, nk, 0, e) == -1)
		goto out;
	/* 2: the vault under the new key (pc first: its record); a crash from here on is
	 * rescued by ".next". A save that failed before the rename puts the generation
	 * back: the vault is under the old key, and ".next" guards nothing. */
	g0 = vault_generation(v);
	if (vault_rekey(v, nk, e) == -1 || vault_save_then(v, vault_path, 0, pc, e) == -1) {
		if (vault_generation(v) == g0)
			(void)unlink(next);
		goto out;
	}
	/* 3: the new key becomes the key file. */
	if (file_rename(next, key_file, &re) == -1) {
		cs_err_set(e, re.code, "%s (the vault is under the new key %s, kept in %s until "
		    "the next writer settles it)", re.msg, nk->fpr, next);
		goto out;
	}
	memcpy(fpr, nk->fpr, KEY_FPR_HEX + 1);
	rc = 0;
out:
	key_free(gen);
	free(next);
	return rc;
}
