/* base/name.h - the one rule for provider and field names, checked by the vault for every
 * name it stores or reads and by the config for every [provider.NAME] section, so a name
 * the config accepts is one the vault accepts.
 *
 * The rule: 1 to CS_NAME_MAX bytes of [a-z0-9._-], the first one [a-z0-9], and no "..".
 * A name is a path component of the served tree (provider/field), so it can be neither
 * "." nor ".." nor hold a '/', and upper case is left out so that the environment names
 * (COMFYVN_SECRET_<P>_<F>, policy/envname.h) map back to exactly one name. */
#ifndef CS_BASE_NAME_H
#define CS_BASE_NAME_H

#include <stddef.h>

#include "attr.h"

#define CS_NAME_MAX	64			/* bytes of a provider or field name */
#define CS_NAME_RULE	"[a-z0-9][a-z0-9._-]{0,63}"	/* as messages show it */

/* 0 when name (len bytes, may hold NUL: that is refused) follows the rule; else -1 and
 * the reason in msg (n bytes, always NUL-terminated), naming what ("provider", "field",
 * "name") and showing the name through cs_show (at most 40 bytes of it), e.g.
 * `provider "a..b": must not contain ".."`. */
int	cs_name_why(const char *name, size_t len, const char *what, char *msg, size_t n)
	    CS_NONNULL(3, 4);

#endif
