/* fs/overlay.h - the environment overlay: COMFYVN_SECRET_<PROVIDER>_<FIELD> values.
 *
 * At start the daemon copies every override from its own environment into guarded
 * memory (struct secret) and wipes the variable in place, so the value is no longer
 * readable in /proc/<pid>/environ. An override replaces the vault's value at that path
 * or adds the path; it never touches the disk. Names are split by policy/envname
 * (provider = the first word after the prefix, field = the rest, both lowercased).
 *
 * The overlay is built once and never changes; it must outlive every tree built from
 * it. Entries are sorted by provider, then field (strcmp). */
#ifndef CS_FS_OVERLAY_H
#define CS_FS_OVERLAY_H

#include <stddef.h>

#include "../crypto/err.h"
#include "../crypto/secret.h"
#include "../crypto/vault.h"

struct overlay_entry {
	char		 provider[VAULT_NAME_MAX + 1];
	char		 field[VAULT_NAME_MAX + 1];
	char		*var;		/* the variable's name as given (heap), for messages */
	struct secret	*value;		/* owned by the overlay */
};

struct overlay {
	struct overlay_entry	*v;
	size_t			 n;
};

/* Reads every override from environ into a new overlay and wipes each one from the
 * environment, on every path: a bad name (EINVAL, naming the variable, escaped) or two
 * variables naming the same path (EEXIST) is an error, yet nothing is left behind.
 * An overlay with n == 0 is returned when there are none. Caller frees: overlay_free(). */
int	overlay_from_env(struct overlay **out, struct cs_err *e) CS_WUR;
/* Wipes every override and COMFYVN_SECRETS_KEY from environ without reading them
 * (for a process that exits soon, such as the parent of a daemon). */
void	overlay_scrub_env(void);
/* Wipes variable name in place (its value bytes, then its name) and unsets it.
 * Returns 1 when it was set, 0 when not. */
int	overlay_wipe_var(const char *name);
/* The entry for provider/field, or NULL. O(log n). */
const struct overlay_entry *overlay_find(const struct overlay *ov, const char *provider,
	    const char *field);
void	overlay_free(struct overlay *ov);	/* NULL is fine; wipes the values */

#endif
