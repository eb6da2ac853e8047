/* fs/overlay.c - read and wipe COMFYVN_SECRET_* overrides; see overlay.h.
 *
 * /proc/<pid>/environ shows the bytes of the original environment block on the
 * process's stack, not the environ array: unsetenv() alone only drops the pointer and
 * leaves the value readable there. So each entry is wiped in place first (value bytes,
 * then, once it is unset, the name), and only then forgotten. Every override is wiped,
 * also when its name is bad or another error stops the overlay: a daemon that refuses
 * to start must not leave the value behind either.
 *
 * This runs once, at start, before any thread exists; environ is not locked. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../crypto/key.h"
#include "../policy/envname.h"
#include "overlay.h"

extern char **environ;

/* Wipes one "NAME=value" entry of environ in place and removes it. */
static void
wipe_entry(char *entry)
{
	char *eq = strchr(entry, '='), *name, **ep, **dp;
	size_t len;

	if (eq == NULL) {
		sodium_memzero(entry, strlen(entry));
		return;
	}
	sodium_memzero(eq + 1, strlen(eq + 1));
	len = (size_t)(eq - entry);
	if ((name = strndup(entry, len)) != NULL) {
		unsetenv(name);
		free(name);
	}
	/* Whatever unsetenv did (or could not do), the pointer must go. */
	for (ep = dp = environ; environ != NULL && *ep != NULL; ep++)
		if (*ep != entry)
			*dp++ = *ep;
	if (environ != NULL)
		*dp = NULL;
	sodium_memzero(entry, len + 1);
}

/* The environ entries whose names match; a NULL-terminated copy of the pointers, so
 * wiping (which reorders environ) does not disturb the walk. */
static char **
collect(int with_key, size_t *n)
{
	size_t klen = strlen(KEY_ENV), len, i, c = 0;
	char **out, *eq;

	for (i = 0; environ != NULL && environ[i] != NULL; i++)
		c++;
	if ((out = calloc(c + 1, sizeof *out)) == NULL)
		return NULL;
	*n = 0;
	for (i = 0; i < c; i++) {
		eq = strchr(environ[i], '=');
		len = eq != NULL ? (size_t)(eq - environ[i]) : strlen(environ[i]);
		if (envname_is_override(environ[i], len) ||
		    (with_key && len == klen && memcmp(environ[i], KEY_ENV, klen) == 0))
			out[(*n)++] = environ[i];
	}
	return out;
}

static int
entry_cmp(const void *a, const void *b)
{
	const struct overlay_entry *x = a, *y = b;
	int c = strcmp(x->provider, y->provider);

	return c != 0 ? c : strcmp(x->field, y->field);
}

static int
take(char *entry, struct overlay_entry *oe, struct cs_err *e)
{
	char *eq = strchr(entry, '=');
	struct cs_err ne = { 0 };

	if (eq == NULL)
		return cs_err_set(e, EINVAL, "environment entry without '='");
	if (envname_split(entry, (size_t)(eq - entry), oe->provider, oe->field, &ne) == -1)
		return cs_err_set(e, ne.code, "environment: %s", ne.msg);
	if ((oe->var = strndup(entry, (size_t)(eq - entry))) == NULL ||
	    (oe->value = secret_dup(eq + 1, strlen(eq + 1))) == NULL) {
		free(oe->var);
		oe->var = NULL;
		return cs_err_sys(e, ENOMEM, "%s/%s", oe->provider, oe->field);
	}
	return 0;
}

int
overlay_from_env(struct overlay **out, struct cs_err *e)
{
	struct overlay *ov;
	char **ents;
	size_t n = 0, i;
	int rc = 0;

	*out = NULL;
	if ((ents = collect(0, &n)) == NULL) {
		overlay_scrub_env();
		return cs_err_sys(e, ENOMEM, "environment overlay");
	}
	if ((ov = calloc(1, sizeof *ov)) == NULL ||
	    (n > 0 && (ov->v = calloc(n, sizeof *ov->v)) == NULL)) {
		overlay_free(ov);
		free(ents);
		overlay_scrub_env();
		return cs_err_sys(e, ENOMEM, "environment overlay");
	}
	for (i = 0; i < n; i++) {
		if (rc == 0 && take(ents[i], &ov->v[ov->n], e) == 0)
			ov->n++;
		else
			rc = -1;
		wipe_entry(ents[i]);
	}
	free(ents);
	if (rc == 0 && ov->n > 1) {
		qsort(ov->v, ov->n, sizeof *ov->v, entry_cmp);
		for (i = 1; i < ov->n && rc == 0; i++)
			if (entry_cmp(&ov->v[i - 1], &ov->v[i]) == 0)
				rc = cs_err_set(e, EEXIST, "%s and %s both name %s/%s",
				    ov->v[i - 1].var, ov->v[i].var, ov->v[i].provider,
				    ov->v[i].field);
	}
	if (rc == -1) {
		overlay_free(ov);
		return -1;
	}
	*out = ov;
	return 0;
}

void
overlay_scrub_env(void)
{
	char **ents;
	size_t n = 0, i;

	if ((ents = collect(1, &n)) == NULL) {
		/* No memory for the list: wipe in place, one at a time. */
		while (environ != NULL) {
			for (i = 0; environ[i] != NULL; i++)
				if (envname_is_override(environ[i], strcspn(environ[i], "=")) ||
				    strncmp(environ[i], KEY_ENV "=", sizeof KEY_ENV) == 0)
					break;
			if (environ[i] == NULL)
				break;
			wipe_entry(environ[i]);
		}
		return;
	}
	for (i = 0; i < n; i++)
		wipe_entry(ents[i]);
	free(ents);
}

int
overlay_wipe_var(const char *name)
{
	size_t len = strlen(name), i;
	int found = 0;

	for (;;) {
		for (i = 0; environ != NULL && environ[i] != NULL; i++)
			if (strncmp(environ[i], name, len) == 0 && environ[i][len] == '=')
				break;
		if (environ == NULL || environ[i] == NULL)
			return found;
		wipe_entry(environ[i]);
		found = 1;
	}
}

const struct overlay_entry *
overlay_find(const struct overlay *ov, const char *provider, const char *field)
{
	struct overlay_entry key;

	if (ov == NULL || ov->n == 0 || strlen(provider) > VAULT_NAME_MAX ||
	    strlen(field) > VAULT_NAME_MAX)
		return NULL;
	memset(&key, 0, sizeof key);
	strcpy(key.provider, provider);
	strcpy(key.field, field);
	return bsearch(&key, ov->v, ov->n, sizeof *ov->v, entry_cmp);
}

void
overlay_free(struct overlay *ov)
{
	size_t i;

	if (ov == NULL)
		return;
	for (i = 0; i < ov->n; i++) {
		secret_free(ov->v[i].value);
		free(ov->v[i].var);
	}
	free(ov->v);
	free(ov);
}
