/* fleet/apply.h - a member puts a verified generation in place: key file, vault, floor.
 *
 * The order is the CLI's rotation order (crypto/store.h), so that at every instant some
 * key on disk opens the vault on disk and the local comfysecretsfs, which opens them with
 * store_open(), sees the old pair or the new one, never a torn one: under the vault lock,
 * an interrupted apply is settled first; then, when the key changes, the new key is
 * written as "<key file>.next", the vault replaced atomically, ".next" renamed over the
 * key file; when it does not, only the vault is replaced. The rollback floor
 * (policy/state.h) then moves to the new vault's generation and MAC, as every writer
 * moves it. The bytes written are the admin's vault file exactly as published. */
#ifndef CS_FLEET_APPLY_H
#define CS_FLEET_APPLY_H

#include <stddef.h>

#include "../crypto/err.h"
#include "../crypto/key.h"
#include "../crypto/vault.h"
#include "../policy/config.h"

/* Writes k and the vault bytes buf (len; v is the same vault parsed and verified under
 * k) as c's key file and vault. ESTALE (nothing written) when v is older than this
 * host's rollback floor, or of its generation with another MAC. */
int	fleet_apply(const struct cfg *c, const struct key *k, const char *buf, size_t len,
	    const struct vault *v, struct cs_err *e) CS_WUR;

#endif
