/* policy/envname.c - split COMFYVN_SECRET_<PROVIDER>_<FIELD>; see envname.h.
 *
 * The name is data from the environment or a file: it may be huge, hold control
 * characters or try "../". Only [A-Z0-9._-] survive lowercasing into a vault name;
 * anything else is refused, and the message shows at most a short, escaped prefix. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "envname.h"

#define SHOWN_MAX	48	/* bytes of a hostile name echoed in a message */


int
envname_is_override(const char *name, size_t len)
{
	size_t plen = sizeof ENVNAME_PREFIX - 1;

	return len > plen && memcmp(name, ENVNAME_PREFIX, plen) == 0;
}

static int
lower(const char *s, size_t len, char out[VAULT_NAME_MAX + 1])
{
	size_t i;

	if (len == 0 || len > VAULT_NAME_MAX || memchr(s, '\0', len) != NULL)
		return -1;
	for (i = 0; i < len; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[len] = '\0';
	return vault_name_ok(out) ? 0 : -1;
}

int
envname_split(const char *name, size_t len, char provider[VAULT_NAME_MAX + 1],
    char field[VAULT_NAME_MAX + 1], struct cs_err *e)
{
	size_t plen = sizeof ENVNAME_PREFIX - 1;
	const char *rest, *us;
	size_t rlen;
	char shown[CS_SHOW_BUF(SHOWN_MAX)];

	if (!envname_is_override(name, len)) {
		cs_show(name, len, SHOWN_MAX, shown, sizeof shown);
		return cs_err_set(e, EINVAL, "%s: not a %s<PROVIDER>_<FIELD> name", shown,
		    ENVNAME_PREFIX);
	}
	rest = name + plen;
	rlen = len - plen;
	us = memchr(rest, '_', rlen);
	/* A missing part is said as such: the rule alone would not show what is wrong. */
	if (us == NULL || us == rest || (size_t)(us - rest) + 1 >= rlen) {
		cs_show(name, len, SHOWN_MAX, shown, sizeof shown);
		return cs_err_set(e, EINVAL, "%s: no %s part: the name must be %s<PROVIDER>_"
		    "<FIELD>", shown, us == rest ? "PROVIDER" : "FIELD", ENVNAME_PREFIX);
	}
	if (lower(rest, (size_t)(us - rest), provider) == -1 ||
	    lower(us + 1, rlen - (size_t)(us - rest) - 1, field) == -1) {
		cs_show(name, len, SHOWN_MAX, shown, sizeof shown);
		return cs_err_set(e, EINVAL, "%s: provider and field must each match "
		    "[A-Za-z0-9][A-Za-z0-9._-]{0,63} (no \"..\")", shown);
	}
	return 0;
}

int
envname_valid(const char *name)
{
	size_t i;

	if (!(isalpha((unsigned char)name[0]) || name[0] == '_'))
		return 0;
	for (i = 1; name[i] != '\0'; i++)
		if (!(isalnum((unsigned char)name[i]) || name[i] == '_') || i >= ENVNAME_MAX)
			return 0;
	return 1;
}

int
envname_join(const char *provider, const char *field, char out[ENVNAME_MAX + 1],
    struct cs_err *e)
{
	char *p;

	if (!vault_name_ok(provider) || !vault_name_ok(field))
		return cs_err_set(e, EINVAL, "not a provider/field pair");
	snprintf(out, ENVNAME_MAX + 1, "%s%s_%s", ENVNAME_PREFIX, provider, field);
	for (p = out + sizeof ENVNAME_PREFIX - 1; *p != '\0'; p++)
		*p = (char)toupper((unsigned char)*p);
	if (!envname_valid(out))
		return cs_err_set(e, EINVAL, "%s/%s: %s is not a valid variable name "
		    "([A-Za-z_][A-Za-z0-9_]*)", provider, field, out);
	/* The app splits at the first '_' after the prefix: a provider holding '_' would
	 * come back as another provider/field pair. */
	if (strchr(provider, '_') != NULL)
		return cs_err_set(e, EINVAL, "%s/%s: %s would be read back as another "
		    "provider (a provider name with '_')", provider, field, out);
	return 0;
}
