/* policy/vaultdiff.h - what changed between two vaults: the fields added, changed or
 * removed, by name, never with a value.
 *
 * The daemon diffs the vault it served against the one a reload brings (for .events);
 * `watch` and `run --restart-on-change` diff the vault they read last against the one
 * on disk now (cli/watchsrc.c). Both vaults are walked in name order (vault.h keeps
 * providers and fields sorted). A field whose sealed value has the same identity in
 * both (vault_value_id: nonce and tag) is unchanged and is not decrypted; otherwise
 * both values are decrypted, each vault with its own subkeys (so a key rotation between
 * them is fine), into guarded memory, compared in constant time and wiped. So a `set`
 * of the same value, or a rotation, which re-seals every value, changes nothing here;
 * whether the key changed is the caller's to see (vault_fingerprint). */
#ifndef CS_POLICY_VAULTDIFF_H
#define CS_POLICY_VAULTDIFF_H

#include <stddef.h>

#include "../crypto/err.h"
#include "../crypto/vault.h"

enum vaultdiff_kind { VAULTDIFF_ADDED, VAULTDIFF_CHANGED, VAULTDIFF_REMOVED };

/* One changed field. The names and indexes are those of the vault it is in now (v): the
 * new vault, or the old one for VAULTDIFF_REMOVED. Borrowed for the callback only. */
struct vaultdiff_change {
	enum vaultdiff_kind	 kind;
	const char		*provider, *field;
	const struct vault	*v;
	size_t			 pi, fi;
};

/* Whether a field is looked at (1) or skipped (0); NULL looks at every field. */
typedef int	(*vaultdiff_want_fn)(void *arg, const char *provider, const char *field);
/* Called for each change, in (provider, field) order; non-zero stops the walk. */
typedef int	(*vaultdiff_fn)(void *arg, const struct vaultdiff_change *c);

/* Walks old (NULL: an empty vault, every field of nv is added) and nv, calling fn for
 * each wanted field that was added, removed or whose value changed. Returns 0 when the
 * walk ended, fn's non-zero value when fn stopped it, or -1 with e set when a value
 * could not be decrypted or guarded memory ran out (fn may have been called for the
 * fields before it). */
int	vaultdiff(const struct vault *old, const struct vault *nv, vaultdiff_want_fn want,
	    vaultdiff_fn fn, void *arg, struct cs_err *e) CS_NONNULL(2, 4) CS_WUR;

#endif
