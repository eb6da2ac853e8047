/* policy/envname.h - the override names: COMFYVN_SECRET_<PROVIDER>_<FIELD>.
 *
 * Shared by the daemon's environment overlay and the CLI's .env import, so both read a
 * name the same way: the provider is the first word after the prefix, the field is the
 * rest, both lowercased, and both must be valid vault names. */
#ifndef CS_ENVNAME_H
#define CS_ENVNAME_H

#include <stddef.h>

#include "../crypto/err.h"
#include "../crypto/vault.h"

#define ENVNAME_PREFIX	"COMFYVN_SECRET_"
/* bytes of the longest override name, without the NUL: prefix, provider, '_', field */
#define ENVNAME_MAX	(sizeof ENVNAME_PREFIX - 1 + 2 * VAULT_NAME_MAX + 1)

/* 1 when the variable name (len bytes, not NUL-terminated) starts with the prefix. */
int	envname_is_override(const char *name, size_t len) CS_NONNULL(1);
/* Splits an override name into provider and field (each VAULT_NAME_MAX + 1 bytes).
 * A name that does not split into two valid names is EINVAL, naming the variable
 * (shortened and escaped if hostile). */
int	envname_split(const char *name, size_t len, char provider[VAULT_NAME_MAX + 1],
	    char field[VAULT_NAME_MAX + 1], struct cs_err *e) CS_NONNULL(1, 3, 4) CS_WUR;

/* 1 when name is a portable variable name, as sh(1) and env(1) users expect one:
 * [A-Za-z_][A-Za-z0-9_]* (POSIX XBD 3.235 "Name"), at most ENVNAME_MAX bytes. */
int	envname_valid(const char *name) CS_NONNULL(1);
/* The override name the ComfyVN app reads provider/field from: the prefix, then both
 * names uppercased, joined by '_' (out: ENVNAME_MAX + 1 bytes). It is the inverse of
 * envname_split. EINVAL, naming provider/field, when the result is not a valid
 * variable name (a '.' or '-' in either name) or would not split back into the same
 * pair (a '_' in the provider); the caller may then pick a name itself. */
int	envname_join(const char *provider, const char *field, char out[ENVNAME_MAX + 1],
	    struct cs_err *e) CS_NONNULL(1, 2, 3) CS_WUR;

#endif
