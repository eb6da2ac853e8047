/* policy/vaultio.c - opening, saving and rotating the vault with its rollback floor; see
 * vaultio.h.
 *
 * The order matters and is the same for every caller: a writer saves the vault, then
 * advances the floor; so a reader reads the floor first and the vault second, and a
 * vault older than the floor is a real rollback, not a save that landed in between.
 * Nothing here prints or knows who asked: the CLI and the daemon report and audit. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../crypto/store.h"
#include "state.h"
#include "vaultio.h"

int
vaultio_open(const struct vaultio_src *src, struct key **k, struct vault **v, int *rollback,
    struct cs_err *e)
{
	const char *path = src->vault_path;
	char mac[VAULT_MAC_HEX + 1];
	struct key *key = NULL;
	struct cs_state st;
	uint64_t gen;
	int rc;

	if (k != NULL)
		*k = NULL;
	*v = NULL;
	/* The floor before the vault: writers save the vault, then advance the floor, so
	 * read the other way round a save landing in between would look like a rollback. */
	if (state_read(src->state_dir, path, &st, e) == -1)
		return -1;
	if (src->key != NULL)
		rc = vault_open(path, src->key, v, e);
	else
		rc = store_open(path, src->key_file, &key, v, e);
	if (rc == -1)
		return -1;
	gen = vault_generation(*v);
	vault_mac_hex(*v, mac);
	/* What the caller has seen is a floor of its own, which no file can take away. */
	if (src->seen != 0 && gen < src->seen)
		rc = cs_err_set(e, ESTALE, "%s: generation %" PRIu64 " is older than "
		    "generation %" PRIu64 " already served: rollback refused", path, gen,
		    src->seen);
	else if (src->seen != 0 && gen == src->seen && src->seen_mac != NULL &&
	    sodium_memcmp(mac, src->seen_mac, VAULT_MAC_HEX) != 0)
		rc = cs_err_set(e, ESTALE, "%s: generation %" PRIu64 " is the one served, but "
		    "another vault's: rollback refused", path, gen);
	else
		rc = state_check(&st, path, gen, mac, e);
	if (rc == -1 && rollback != NULL)
		*rollback = 1;
	/* A floor from the old place, or one not yet bound to a MAC: settle it now, once. */
	if (rc == 0 && src->settle && (st.legacy || st.mac[0] == '\0'))
		rc = state_advance_floor(src->state_dir, path, gen, mac, e);
	if (rc == -1) {
		vault_close(*v);
		key_free(key);
		*v = NULL;
		return -1;
	}
	if (k != NULL)
		*k = key;
	else
		key_free(key);
	return 0;
}

int
vaultio_open_read(const struct cfg *c, struct key **k, struct vault **v, struct cs_err *e)
{
	const struct vaultio_src src = {
		.vault_path = c->vault_path,
		.state_dir = c->state_dir,
		.key_file = c->key_file,
		.settle = 1,
	};

	return vaultio_open(&src, k, v, NULL, e);
}

/* Lock, open, settle an interrupted rotation, sweep what killed writers left. */
int
vaultio_open_write(const struct cfg *c, int *lockfd, struct key **k, struct vault **v,
    struct cs_err *e)
{
	if (vault_lock(c->vault_path, lockfd, e) == -1)
		return -1;
	if (vaultio_open_read(c, k, v, e) == -1)
		goto fail;
	if (store_settle(c->key_file, *v, e) == -1 ||
	    store_sweep(c->vault_path, c->key_file, e) == -1) {
		vaultio_close(-1, *k, *v);
		*v = NULL;
		*k = NULL;
		goto fail;
	}
	return 0;
fail:
	vault_unlock(*lockfd);
	*lockfd = -1;
	return -1;
}

/* Raises the floor to v as saved. */
static int
advance(const struct cfg *c, const struct vault *v, struct cs_err *e)
{
	char mac[VAULT_MAC_HEX + 1];

	vault_mac_hex(v, mac);
	return state_advance_floor(c->state_dir, c->vault_path, vault_generation(v), mac, e);
}

int
vaultio_save(const struct cfg *c, struct vault *v, const struct file_precommit *pc,
    struct cs_err *e)
{
	if (vault_save_then(v, c->vault_path, 0, pc, e) == -1)
		return -1;
	return advance(c, v, e);
}

int
vaultio_floor_reset(const struct cfg *c, struct vaultio_floor *out, struct cs_err *e)
{
	struct key *k = NULL;
	struct vault *v = NULL;
	int lockfd = -1, rc = -1;

	memset(out, 0, sizeof *out);
	/* Under the vault lock, so that no writer saves between the open and the reset. */
	if (vault_lock(c->vault_path, &lockfd, e) == -1)
		return -1;
	if (store_open(c->vault_path, c->key_file, &k, &v, e) == -1)
		goto out;
	out->generation = vault_generation(v);
	vault_mac_hex(v, out->mac);
	if (state_reset_floor(c->state_dir, c->vault_path, out->generation, out->mac,
	    &out->was, e) == -1 ||
	    state_path(c->state_dir, c->vault_path, out->file, sizeof out->file, e) == -1)
		goto out;
	rc = 0;
out:
	vaultio_close(lockfd, k, v);
	return rc;
}

void
vaultio_close(int lockfd, struct key *k, struct vault *v)
{
	vault_close(v);
	key_free(k);
	if (lockfd != -1)
		vault_unlock(lockfd);
}

/* Copies v's provider names into r. */
static int
names(const struct vault *v, struct vaultio_rotated *r, struct cs_err *e)
{
	size_t pi, np = vault_nproviders(v);

	if ((r->providers = calloc(np + 1, sizeof *r->providers)) == NULL)
		return cs_err_sys(e, ENOMEM, "rotate");
	for (pi = 0; pi < np; pi++) {
		if ((r->providers[pi] = strdup(vault_provider(v, pi))) == NULL)
			return cs_err_sys(e, ENOMEM, "rotate");
		r->nproviders++;
	}
	return 0;
}

/* vaultio_rotate's precommit: out from the re-encrypted vault, then the caller's log. */
struct rotating {
	const struct vault	*v;
	struct vaultio_rotated	*out;
	vaultio_rotate_log	 log;
	void			*arg;
};

static int
rotate_precommit(void *arg, struct cs_err *e)
{
	struct rotating *ro = arg;

	vaultio_rotated_free(ro->out);
	snprintf(ro->out->fpr, sizeof ro->out->fpr, "%s", vault_fingerprint(ro->v));
	ro->out->generation = vault_generation(ro->v);
	if (names(ro->v, ro->out, e) == -1)
		return -1;
	return ro->log != NULL ? ro->log(ro->out, ro->arg, e) : 0;
}

int
vaultio_rotate(const struct cfg *c, int key_from_env, const struct key *nk,
    vaultio_rotate_log log, void *arg, struct vaultio_rotated *out, struct cs_err *e)
{
	struct rotating ro = { .out = out, .log = log, .arg = arg };
	struct file_precommit pc = { rotate_precommit, &ro };
	struct key *k = NULL;
	struct vault *v = NULL;
	int lockfd = -1, rc = -1;

	memset(out, 0, sizeof *out);
	if (key_from_env)
		return cs_err_set(e, EPERM, "the key comes from %s, which rotate cannot "
		    "replace; unset it to rotate the key file %s", KEY_ENV, c->key_file);
	if (vaultio_open_write(c, &lockfd, &k, &v, e) == -1)
		return -1;
	ro.v = v;
	/* On failure v may be re-encrypted in memory already: it is only closed. */
	if (store_rotate(c->vault_path, c->key_file, v, nk, &pc, out->fpr, e) == -1 ||
	    advance(c, v, e) == -1)
		goto out;
	rc = 0;
out:
	vaultio_close(lockfd, k, v);
	if (rc == -1)
		vaultio_rotated_free(out);
	return rc;
}

void
vaultio_rotated_event(const struct vaultio_rotated *r, struct audit_event *ev)
{
	ev->event = "key_rotated";
	ev->fingerprint = r->fpr;
	ev->providers = (const char *const *)r->providers;
	ev->nproviders = r->nproviders;
}

void
vaultio_rotated_free(struct vaultio_rotated *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->nproviders; i++)
		free(r->providers[i]);
	free(r->providers);
	memset(r, 0, sizeof *r);
}
