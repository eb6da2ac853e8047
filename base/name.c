/* base/name.c - the provider and field name rule; see name.h. */
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "name.h"

#define SHOWN_MAX	40	/* bytes of a hostile name echoed in a message */

int
cs_name_why(const char *name, size_t len, const char *what, char *msg, size_t n)
{
	char shown[CS_SHOW_BUF(SHOWN_MAX)];
	size_t i;
	int ok = len > 0 && len <= CS_NAME_MAX;

	for (i = 0; ok && i < len; i++) {
		char c = name[i];
		ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    (i > 0 && (c == '.' || c == '_' || c == '-'));
	}
	if (ok && memmem(name, len, "..", 2) == NULL)
		return 0;
	cs_show(name, len, SHOWN_MAX, shown, sizeof shown);
	if (len == 0)
		snprintf(msg, n, "%s name is empty: it must match %s", what, CS_NAME_RULE);
	else if (memchr(name, '\0', len) != NULL)
		snprintf(msg, n, "%s \"%s\": contains a NUL byte", what, shown);
	else if (len > CS_NAME_MAX)
		snprintf(msg, n, "%s \"%s\": longer than %d bytes", what, shown, CS_NAME_MAX);
	else if (ok)
		snprintf(msg, n, "%s \"%s\": must not contain \"..\"", what, shown);
	else
		snprintf(msg, n, "%s \"%s\": must match %s", what, shown, CS_NAME_RULE);
	return -1;
}
