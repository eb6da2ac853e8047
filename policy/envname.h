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

/* 1 when the variable name (len bytes, not NUL-terminated) starts with the prefix. */
int	envname_is_override(const char *name, size_t len);
/* Splits an override name into provider and field (each VAULT_NAME_MAX + 1 bytes).
 * A name that does not split into two valid names is EINVAL, naming the variable
 * (shortened and escaped if hostile). */
int	envname_split(const char *name, size_t len, char provider[VAULT_NAME_MAX + 1],
	    char field[VAULT_NAME_MAX + 1], struct cs_err *e) CS_WUR;

#endif
