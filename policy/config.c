/* policy/config.c - the INI configuration: defaults, then the file, then the environment;
 * see config.h.
 *
 * inih does the tokenising; this file feeds it lines through its own reader so that it
 * knows the true line number, the true section (inih truncates long section names) and
 * whether a line was too long for inih's buffer (inih would silently split it into two
 * "lines"). Every key is checked against one table; an unknown section or key, a bad
 * value, a duplicate key or a continuation line is an error naming file, line and key.
 * The first error in file order wins.
 *
 * It does not parse allowlist patterns (policy/allow does) and does not read the vault
 * or the key: it only says where they are. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "../base/file.h"
#include "../base/ids.h"
#include "../base/name.h"
#include "../crypto/vault.h"
#include "config.h"

#define CFG_FILE_MAX_BYTES	(1u << 20)	/* a bigger config file is refused unread */
#define TIMEOUT_MIN_MS		100u		/* shorter fails lines on a busy machine */
#define TIMEOUT_MAX_MS		600000u		/* ten minutes: longer is a mistake */
#define SECTION_MAX		128		/* bytes of a section name we keep */
#define SHOWN_MAX		48		/* bytes of a name echoed in a message */
#define PROVIDER_PREFIX		"provider."

enum sec { SEC_NONE, SEC_VAULT, SEC_AUDIT, SEC_FEATURES, SEC_SANDBOX, SEC_PROVIDER, SEC_FLEET,
	SEC_BAD };

struct loader;
typedef const char *(*parse_fn)(struct loader *, const char *value, void *slot);

struct keydef {
	enum sec	 sec;
	const char	*key;
	parse_fn	 parse;
	size_t		 off;	/* of the slot in struct cfg */
};

/* State of one parse; inih hands it to reader() and handler() as the user pointer. */
struct loader {
	struct cfg	*c;
	const char	*path;
	const char	*buf;		/* the whole file */
	size_t		 len, pos;
	int		 lineno;	/* of the line reader() returned last */
	const char	*raw;		/* that line, as in the file */
	size_t		 rawlen;
	enum sec	 sec;
	char		 secname[SECTION_MAX];
	size_t		 prov;		/* index in c->providers when sec == SEC_PROVIDER */
	int		 seen[32];	/* line of each keydef already set; 0: not yet */
	int		 err_line;	/* line of the first error found here; 0: none */
	struct cs_err	 err;
};

static const char *parse_path(struct loader *, const char *, void *);
static const char *parse_abspath(struct loader *, const char *, void *);
static const char *parse_size(struct loader *, const char *, void *);
static const char *parse_bool(struct loader *, const char *, void *);
static const char *parse_flush(struct loader *, const char *, void *);
static const char *parse_timeout(struct loader *, const char *, void *);
static const char *parse_cache_timeout(struct loader *, const char *, void *);
static const char *parse_allow(struct loader *, const char *, void *);
static const char *parse_audit_group(struct loader *, const char *, void *);
static const char *parse_role(struct loader *, const char *, void *);
static const char *parse_lifetime(struct loader *, const char *, void *);
static const char *parse_fleet_name(struct loader *, const char *, void *);
static const char *parse_endpoints(struct loader *, const char *, void *);

#define FLEET_KEY(k, fn, slot)	{ SEC_FLEET, k, fn, offsetof(struct cfg, fleet.slot) }

static const struct keydef keys[] = {
	{ SEC_VAULT, "path", parse_path, offsetof(struct cfg, vault_path) },
	{ SEC_VAULT, "key_file", parse_path, offsetof(struct cfg, key_file) },
	{ SEC_VAULT, "state_dir", parse_abspath, offsetof(struct cfg, state_dir) },
	{ SEC_VAULT, "max_value_size", parse_size, offsetof(struct cfg, max_value_size) },
	{ SEC_VAULT, "cache_timeout", parse_cache_timeout, offsetof(struct cfg, cache_timeout_s) },
	{ SEC_AUDIT, "path", parse_path, offsetof(struct cfg, audit_path) },
	{ SEC_AUDIT, "fail_closed", parse_bool, offsetof(struct cfg, audit_fail_closed) },
	{ SEC_AUDIT, "flush", parse_flush, offsetof(struct cfg, audit_flush) },
	{ SEC_AUDIT, "timeout_ms", parse_timeout, offsetof(struct cfg, audit_timeout_ms) },
	{ SEC_FEATURES, "enable_security_api", parse_bool,
	    offsetof(struct cfg, enable_security_api) },
	{ SEC_FEATURES, "enable_security_sandbox_guard", parse_bool,
	    offsetof(struct cfg, enable_security_sandbox_guard) },
	{ SEC_FEATURES, "audit_group", parse_audit_group, offsetof(struct cfg, audit_group) },
	{ SEC_SANDBOX, "network_allow", parse_allow, 0 },
	FLEET_KEY("role", parse_role, role), FLEET_KEY("name", parse_fleet_name, name),
	FLEET_KEY("endpoints", parse_endpoints, endpoints), FLEET_KEY("prefix", parse_path, prefix),
	FLEET_KEY("ca", parse_path, ca), FLEET_KEY("cert", parse_path, cert),
	FLEET_KEY("key", parse_path, key), FLEET_KEY("user", parse_path, user),
	FLEET_KEY("password_file", parse_path, password_file),
	FLEET_KEY("signing_key", parse_path, signing_key),
	FLEET_KEY("hosts_file", parse_path, hosts_file),
	FLEET_KEY("admin_public_key", parse_path, admin_public_key),
	FLEET_KEY("host_key", parse_path, host_key),
	FLEET_KEY("host_name", parse_fleet_name, host_name),
	FLEET_KEY("lifetime", parse_lifetime, lifetime),
};
_Static_assert(sizeof keys / sizeof keys[0] <= 32, "struct loader: seen[] is too small");

/* A name from the file, made safe for a message. */
static const char *
show(const char *s, char *out, size_t n)
{
	return cs_show(s, strlen(s), SHOWN_MAX, out, n);
}

static int
set_string(char **slot, const char *value)
{
	char *s;

	if ((s = strdup(value)) == NULL)
		return -1;
	free(*slot);
	*slot = s;
	return 0;
}

static int
add_allow(struct cfg *c, const char *p, size_t len, enum allow_source src)
{
	struct cfg_allow *na;
	char *s;

	if ((s = strndup(p, len)) == NULL)
		return -1;
	if ((na = realloc(c->allow, (c->nallow + 1) * sizeof *na)) == NULL) {
		free(s);
		return -1;
	}
	c->allow = na;
	c->allow[c->nallow].pattern = s;
	c->allow[c->nallow].source = src;
	c->nallow++;
	return 0;
}

/* Splits a comma-separated list; each entry trimmed, empty ones ignored. */
static int
split_allow(struct cfg *c, const char *list, enum allow_source src)
{
	const char *p = list, *end, *a, *b;

	for (;;) {
		end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		for (a = p; a < end && isspace((unsigned char)*a); a++)
			;
		for (b = end; b > a && isspace((unsigned char)b[-1]); b--)
			;
		if (b > a && add_allow(c, a, (size_t)(b - a), src) == -1)
			return -1;
		if (*end == '\0')
			return 0;
		p = end + 1;
	}
}

static const char *
parse_path(struct loader *l, const char *value, void *slot)
{
	(void)l;
	if (value[0] == '\0')
		return "expected a path";
	if (set_string(slot, value) == -1)
		return "out of memory";
	return NULL;
}

/* An absolute path: the floor's folder must not depend on the caller's cwd. */
static const char *
parse_abspath(struct loader *l, const char *value, void *slot)
{
	if (value[0] != '/')
		return "expected an absolute path";
	return parse_path(l, value, slot);
}

/* Digits only, no sign, no suffix: the whole value must be the number. */
static int
parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static const char *
parse_size(struct loader *l, const char *value, void *slot)
{
	unsigned long v;

	(void)l;
	if (parse_ulong(value, 1, VAULT_VALUE_HARD_MAX, &v) == -1)
		return "expected a number of bytes from 1 to 16777216";
	*(size_t *)slot = v;
	return NULL;
}

static const char *
parse_bool(struct loader *l, const char *value, void *slot)
{
	(void)l;
	if (strcasecmp(value, "true") == 0 || strcasecmp(value, "yes") == 0 ||
	    strcmp(value, "1") == 0)
		*(int *)slot = 1;
	else if (strcasecmp(value, "false") == 0 || strcasecmp(value, "no") == 0 ||
	    strcmp(value, "0") == 0)
		*(int *)slot = 0;
	else
		return "expected true or false (yes/no, 1/0)";
	return NULL;
}

static const char *
parse_flush(struct loader *l, const char *value, void *slot)
{
	(void)l;
	if (strcasecmp(value, "sync") == 0)
		*(enum audit_flush *)slot = AUDIT_FLUSH_SYNC;
	else if (strcasecmp(value, "async") == 0)
		*(enum audit_flush *)slot = AUDIT_FLUSH_ASYNC;
	else if (strcasecmp(value, "none") == 0)
		*(enum audit_flush *)slot = AUDIT_FLUSH_NONE;
	else
		return "expected sync, async or none";
	return NULL;
}

static const char *
parse_timeout(struct loader *l, const char *value, void *slot)
{
	unsigned long v;

	(void)l;
	/* Under 100 ms a scheduling delay or another writer's line is enough to fail a
	 * line: a read refused, or a command's change saved without its line. */
	if (parse_ulong(value, TIMEOUT_MIN_MS, TIMEOUT_MAX_MS, &v) == -1)
		return "expected milliseconds from 100 to 600000";
	*(unsigned *)slot = (unsigned)v;
	return NULL;
}

static const char *
parse_cache_timeout(struct loader *l, const char *value, void *slot)
{
	unsigned long v;

	(void)l;
	if (parse_ulong(value, 0, CFG_CACHE_TIMEOUT_MAX_S, &v) == -1)
		return "expected seconds from 0 to 86400";
	*(unsigned *)slot = (unsigned)v;
	return NULL;
}

static const char *
parse_allow(struct loader *l, const char *value, void *slot)
{
	(void)slot;
	if (split_allow(l->c, value, ALLOW_FROM_CONFIG) == -1)
		return "out of memory";
	return NULL;
}

static const char *
parse_role(struct loader *l, const char *value, void *slot)
{
	(void)l;
	if (strcmp(value, "admin") == 0)
		*(enum cfg_fleet_role *)slot = FLEET_ROLE_ADMIN;
	else if (strcmp(value, "member") == 0)
		*(enum cfg_fleet_role *)slot = FLEET_ROLE_MEMBER;
	else
		return "expected admin or member";
	return NULL;
}

/* [fleet] name, host_name: the vault's name rule (crypto/vault.h), as fleet/ checks it
 * (the name is part of etcd keys and file names). */
static const char *
parse_fleet_name(struct loader *l, const char *value, void *slot)
{
	if (!vault_name_ok(value))
		return "expected " CS_NAME_RULE ", no \"..\"";
	return parse_path(l, value, slot);
}

/* [fleet] endpoints: a list, split on commas and spaces, of http:// or https:// URLs
 * (etcd's gRPC gateway; fleet/conn.c splits it the same way). */
static const char *
parse_endpoints(struct loader *l, const char *value, void *slot)
{
	const char *p = value;
	size_t n, count = 0;

	for (;;) {
		p += strspn(p, ", ");
		if (*p == '\0')
			break;
		n = strcspn(p, ", ");
		if (!((n > 7 && strncmp(p, "http://", 7) == 0) ||
		    (n > 8 && strncmp(p, "https://", 8) == 0)))
			return "expected http:// or https:// URLs, separated by commas";
		count++;
		p += n;
	}
	if (count == 0)
		return "expected http:// or https:// URLs, separated by commas";
	return parse_path(l, value, slot);
}

/* Seconds, or a number with s, m, h or d; one second (tests) to ten years. */
static const char *
parse_lifetime(struct loader *l, const char *value, void *slot)
{
	static const char bad[] = "expected a duration from 1s to 3650d (N, Ns, Nm, Nh, Nd)";
	char num[24];
	size_t n = strlen(value);
	unsigned long v, mul = 1;

	(void)l;
	if (n == 0 || n >= sizeof num)
		return bad;
	memcpy(num, value, n + 1);
	switch (num[n - 1]) {
	case 'd': mul *= 24; /* FALLTHROUGH */
	case 'h': mul *= 60; /* FALLTHROUGH */
	case 'm': mul *= 60; /* FALLTHROUGH */
	case 's': num[--n] = '\0'; break;
	default: break;
	}
	if (parse_ulong(num, 1, 3650ul * 86400, &v) == -1 || v > 3650ul * 86400 / mul)
		return bad;
	*(unsigned long *)slot = v * mul;
	return NULL;
}

/* [features] audit_group: a group name or number, resolved now. */
static const char *
parse_audit_group(struct loader *l, const char *value, void *slot)
{
	const char *why;

	if ((why = cs_parse_group(value, slot)) == NULL)
		l->c->has_audit_group = 1;
	return why;
}

static int
fail(struct loader *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Records the first error of the file (the loader sees lines in order). */
static int
fail(struct loader *l, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (l->err_line != 0)
		return 0;
	l->err_line = l->lineno;
	l->err.code = EINVAL;
	n = snprintf(l->err.msg, sizeof l->err.msg, "%s:%d: ", l->path, l->lineno);
	if (n < 0 || (size_t)n >= sizeof l->err.msg)
		return 0;
	va_start(ap, fmt);
	vsnprintf(l->err.msg + n, sizeof l->err.msg - (size_t)n, fmt, ap);
	va_end(ap);
	return 0;
}

static int
find_provider(const struct cfg *c, const char *name, size_t *idx)
{
	size_t i;

	for (i = 0; i < c->nproviders; i++) {
		if (strcmp(c->providers[i].name, name) == 0) {
			*idx = i;
			return 0;
		}
	}
	return -1;
}

static int
add_provider(struct cfg *c, const char *name, size_t *idx)
{
	struct cfg_provider *np;
	char *s;

	if (find_provider(c, name, idx) == 0)
		return 0;
	if ((s = strdup(name)) == NULL)
		return -1;
	if ((np = realloc(c->providers, (c->nproviders + 1) * sizeof *np)) == NULL) {
		free(s);
		return -1;
	}
	c->providers = np;
	memset(&np[c->nproviders], 0, sizeof *np);
	np[c->nproviders].name = s;
	*idx = c->nproviders++;
	return 0;
}

/* A "[...]" line, seen by reader() before inih: the section as written, in full. */
static void
section(struct loader *l, const char *p, size_t len)
{
	char shown[CS_SHOW_BUF(SHOWN_MAX)], why[CS_ERR_MSG_MAX];
	const char *end, *pname;
	size_t n;

	if ((end = memchr(p, ']', len)) == NULL)
		return;		/* inih reports the line; keys below stay where they were */
	n = (size_t)(end - p - 1);
	if (n >= sizeof l->secname)
		n = sizeof l->secname - 1;
	memcpy(l->secname, p + 1, n);
	l->secname[n] = '\0';
	if (strlen(l->secname) != n) {
		l->sec = SEC_BAD;
		fail(l, "NUL byte in a section name");
	} else if (strcmp(l->secname, "vault") == 0) {
		l->sec = SEC_VAULT;
	} else if (strcmp(l->secname, "audit") == 0) {
		l->sec = SEC_AUDIT;
	} else if (strcmp(l->secname, "features") == 0) {
		l->sec = SEC_FEATURES;
	} else if (strcmp(l->secname, "sandbox") == 0) {
		l->sec = SEC_SANDBOX;
	} else if (strcmp(l->secname, "fleet") == 0) {
		l->sec = SEC_FLEET;
	} else if (strncmp(l->secname, PROVIDER_PREFIX, sizeof PROVIDER_PREFIX - 1) == 0) {
		l->sec = SEC_PROVIDER;
		pname = l->secname + sizeof PROVIDER_PREFIX - 1;
		if (cs_name_why(pname, strlen(pname), "provider", why, sizeof why) == -1) {
			l->sec = SEC_BAD;
			fail(l, "[%s]: bad provider name (expected " CS_NAME_RULE ", no \"..\")",
			    show(l->secname, shown, sizeof shown));
		} else if (add_provider(l->c, pname, &l->prov) == -1) {
			l->sec = SEC_BAD;
			fail(l, "out of memory");
		}
	} else {
		l->sec = SEC_BAD;
		fail(l, "unknown section [%s]", show(l->secname, shown, sizeof shown));
	}
}

/* inih's fgets: one line of the file per call, so l->lineno is inih's line number. */
static char *
reader(char *str, int num, void *stream)
{
	struct loader *l = stream;
	const char *p, *nl;
	size_t len, i = 0;

	if (l->pos >= l->len)
		return NULL;
	p = l->buf + l->pos;
	nl = memchr(p, '\n', l->len - l->pos);
	len = nl != NULL ? (size_t)(nl - p) + 1 : l->len - l->pos;
	l->pos += len;
	l->lineno++;
	l->raw = p;
	l->rawlen = len;
	if (num < 2 || len > (size_t)num - 1 || memchr(p, '\0', len) != NULL) {
		/* inih would cut it in two and parse the rest as a line of its own. */
		fail(l, "line too long or malformed (at most %d bytes, no NUL)", num - 2);
		l->rawlen = 0;
		str[0] = '\n';
		str[1] = '\0';
		return str;
	}
	memcpy(str, p, len);
	str[len] = '\0';
	if (l->lineno == 1 && len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
		i = 3;	/* inih skips a UTF-8 BOM */
	while (i < len && isspace((unsigned char)p[i]))
		i++;
	if (i < len && p[i] == '[')
		section(l, p + i, len - i);
	return str;
}

static int
provider_key(struct loader *l, const char *name, const char *value)
{
	struct cfg_provider *pv = &l->c->providers[l->prov];
	char sn[CS_SHOW_BUF(SHOWN_MAX)], kn[CS_SHOW_BUF(SHOWN_MAX)];
	const char *why;
	int *has;

	if (strcmp(name, "owner") == 0) {
		has = &pv->has_owner;
		why = *has ? NULL : cs_parse_user(value, &pv->owner);
	} else if (strcmp(name, "group") == 0) {
		has = &pv->has_group;
		why = *has ? NULL : cs_parse_group(value, &pv->group);
	} else if (strcmp(name, "mode") == 0) {
		has = &pv->has_mode;
		why = *has ? NULL : cs_parse_mode(value, &pv->mode);
	} else {
		return fail(l, "[%s] %s: unknown key", show(l->secname, sn, sizeof sn),
		    show(name, kn, sizeof kn));
	}
	if (*has)
		return fail(l, "[%s] %s: duplicate key", show(l->secname, sn, sizeof sn), name);
	if (why != NULL)
		return fail(l, "[%s] %s: %s", show(l->secname, sn, sizeof sn), name, why);
	*has = 1;
	return 1;
}

/* Is the raw line "name = ..." itself, or the continuation of the key above it? */
static int
continuation(const struct loader *l, const char *name)
{
	size_t i = 0, n = strlen(name);

	if (l->lineno == 1 && l->rawlen >= 3 && memcmp(l->raw, "\xEF\xBB\xBF", 3) == 0)
		i = 3;
	while (i < l->rawlen && isspace((unsigned char)l->raw[i]))
		i++;
	if (l->rawlen - i < n || memcmp(l->raw + i, name, n) != 0)
		return 1;
	i += n;
	while (i < l->rawlen && isspace((unsigned char)l->raw[i]))
		i++;
	return i == l->rawlen || (l->raw[i] != '=' && l->raw[i] != ':');
}

static int
handler(void *user, const char *sec, const char *name, const char *value)
{
	struct loader *l = user;
	char sn[CS_SHOW_BUF(SHOWN_MAX)], kn[CS_SHOW_BUF(SHOWN_MAX)];
	const char *why;
	size_t i;

	(void)sec;	/* inih's copy may be truncated; reader() kept the real one */
	if (l->sec == SEC_BAD)
		return 0;	/* reported on the section's line */
	if (continuation(l, name))
		return fail(l, "[%s] %s: continuation lines are not supported",
		    show(l->secname, sn, sizeof sn), show(name, kn, sizeof kn));
	if (l->sec == SEC_NONE)
		return fail(l, "%s: key outside any section", show(name, kn, sizeof kn));
	if (l->sec == SEC_PROVIDER)
		return provider_key(l, name, value);
	for (i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (keys[i].sec == l->sec && strcmp(keys[i].key, name) == 0)
			break;
	if (i == sizeof keys / sizeof keys[0])
		return fail(l, "[%s] %s: unknown key", l->secname, show(name, kn, sizeof kn));
	/* network_allow may be repeated and adds up: inih's lines are short (200 bytes),
	 * and a real allowlist is longer than one line. */
	if (l->seen[i] != 0 && keys[i].parse != parse_allow)
		return fail(l, "[%s] %s: duplicate key (first set on line %d)", l->secname,
		    name, l->seen[i]);
	l->seen[i] = l->lineno;
	if ((why = keys[i].parse(l, value, (char *)l->c + keys[i].off)) != NULL)
		return fail(l, "[%s] %s: %s", l->secname, name, why);
	return 1;
}

static int
parse_file(struct cfg *c, const char *path, const char *buf, size_t len, struct cs_err *e)
{
	struct loader l;
	int rc;

	memset(&l, 0, sizeof l);
	l.c = c;
	l.path = path;
	l.buf = buf;
	l.len = len;
	l.sec = SEC_NONE;
	rc = ini_parse_stream(reader, &l, handler, &l);
	if (rc == -2)
		return cs_err_sys(e, ENOMEM, "%s", path);
	if (rc > 0 && (l.err_line == 0 || rc < l.err_line))
		return cs_err_set(e, EINVAL, "%s:%d: malformed line (expected [section] or "
		    "key = value)", path, rc);
	if (l.err_line != 0)
		return cs_err_set(e, l.err.code, "%s", l.err.msg);
	if (rc != 0)
		return cs_err_set(e, EINVAL, "%s: cannot be parsed", path);
	/* What every role needs; what only one role needs is checked by the command
	 * that knows the role (fleet/conn.c). */
	if (c->fleet.role != FLEET_ROLE_NONE && (c->fleet.name == NULL ||
	    c->fleet.endpoints == NULL))
		return cs_err_set(e, EINVAL, "%s: [fleet] %s is not set (every fleet role needs "
		    "it)", path, c->fleet.name == NULL ? "name" : "endpoints");
	return 0;
}

static struct cfg *
new_defaults(void)
{
	struct cfg *c;

	if ((c = calloc(1, sizeof *c)) == NULL)
		return NULL;
	c->max_value_size = VAULT_VALUE_MAX_BYTES;
	c->cache_timeout_s = CFG_CACHE_TIMEOUT_S;
	c->audit_fail_closed = 1;
	c->audit_flush = AUDIT_FLUSH_ASYNC;
	c->audit_timeout_ms = CFG_AUDIT_TIMEOUT_MS;
	c->enable_security_api = 0;
	c->enable_security_sandbox_guard = 1;
	c->fleet.lifetime = CFG_FLEET_LIFETIME;
	if (set_string(&c->vault_path, CFG_DEFAULT_VAULT) == -1 ||
	    set_string(&c->key_file, CFG_DEFAULT_KEY_FILE) == -1 ||
	    set_string(&c->state_dir, CFG_DEFAULT_STATE_DIR) == -1 ||
	    set_string(&c->audit_path, CFG_DEFAULT_AUDIT) == -1) {
		cfg_free(c);
		return NULL;
	}
	return c;
}

/* The ComfyVN app's names, as its shell scripts use them: set but empty is unset. */
static int
apply_env(struct cfg *c, struct cs_err *e)
{
	const char *v;

	if ((v = getenv(CFG_ENV_AUDIT)) != NULL && v[0] != '\0' &&
	    set_string(&c->audit_path, v) == -1)
		return cs_err_sys(e, ENOMEM, "%s", CFG_ENV_AUDIT);
	if ((v = getenv(CFG_ENV_ALLOW)) != NULL && split_allow(c, v, ALLOW_FROM_ENV) == -1)
		return cs_err_sys(e, ENOMEM, "%s", CFG_ENV_ALLOW);
	return 0;
}

int
cfg_defaults(struct cfg **out, struct cs_err *e)
{
	struct cfg *c;

	*out = NULL;
	if ((c = new_defaults()) == NULL)
		return cs_err_sys(e, ENOMEM, "config defaults");
	if (apply_env(c, e) == -1) {
		cfg_free(c);
		return -1;
	}
	*out = c;
	return 0;
}

int
cfg_load(const char *path, struct cfg **out, struct cs_err *e)
{
	struct cfg *c = NULL;
	struct stat st;
	const char *env, *from = "";
	char *buf = NULL;
	size_t len = 0;
	int fd = -1, explicit = path != NULL, rc = -1;

	*out = NULL;
	if (path == NULL && (env = getenv(CFG_ENV_PATH)) != NULL && env[0] != '\0') {
		path = env;
		explicit = 1;
		from = " (from " CFG_ENV_PATH ")";
	}
	if (path == NULL)
		path = CFG_DEFAULT_PATH;
	if ((c = new_defaults()) == NULL)
		return cs_err_sys(e, ENOMEM, "config defaults");
	/* O_NONBLOCK: a FIFO put there must not hang the loader; it is refused below. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) == -1) {
		if (errno == ENOENT && !explicit)
			goto env;	/* the default file is optional */
		cs_err_sys(e, errno, "%s%s", path, from);
		goto out;
	}
	if (fstat(fd, &st) == -1) {
		cs_err_sys(e, errno, "%s", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		cs_err_set(e, EINVAL, "%s%s: not a regular file", path, from);
		goto out;
	}
	/* The config picks the key file, fail_closed and the security API: whoever may
	 * write it may weaken all three. As doas checks its config, the file opened (fstat
	 * of fd, so a symlink cannot pass another file's check) must be writable by its
	 * owner only, and owned by root when this program runs as root. */
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		cs_err_set(e, EPERM, "%s%s: writable by group or others (mode %04o): refused, "
		    "chmod go-w it", path, from, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if (geteuid() == 0 && st.st_uid != 0) {
		cs_err_set(e, EPERM, "%s%s: owned by uid %u, not root: refused", path, from,
		    (unsigned)st.st_uid);
		goto out;
	}
	if (file_read_fd(fd, path, "config file", CFG_FILE_MAX_BYTES, &buf, &len, e) == -1 ||
	    parse_file(c, path, buf, len, e) == -1)
		goto out;
	if (set_string(&c->path, path) == -1) {
		cs_err_sys(e, ENOMEM, "%s", path);
		goto out;
	}
env:
	if (apply_env(c, e) == -1)
		goto out;
	*out = c;
	c = NULL;
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	free(buf);
	cfg_free(c);
	return rc;
}

int
cfg_parse(const char *buf, size_t len, const char *name, struct cfg **out, struct cs_err *e)
{
	struct cfg *c;
	char *copy;
	int rc;

	*out = NULL;
	if (len > CFG_FILE_MAX_BYTES)
		return cs_err_set(e, EFBIG, "%s: the config file is larger than %u bytes; "
		    "refusing to read it", name, CFG_FILE_MAX_BYTES);
	/* parse_file() wants the NUL that file_read_fd() adds. */
	if ((copy = malloc(len + 1)) == NULL)
		return cs_err_sys(e, ENOMEM, "%s", name);
	memcpy(copy, buf, len);
	copy[len] = '\0';
	if ((c = new_defaults()) == NULL) {
		free(copy);
		return cs_err_sys(e, ENOMEM, "config defaults");
	}
	rc = parse_file(c, name, copy, len, e);
	free(copy);
	if (rc == -1) {
		cfg_free(c);
		return -1;
	}
	*out = c;
	return 0;
}

int
cfg_set_path(char **slot, const char *value, struct cs_err *e)
{
	if (value == NULL || value[0] == '\0')
		return cs_err_set(e, EINVAL, "an empty path is not a path");
	if (set_string(slot, value) == -1)
		return cs_err_sys(e, ENOMEM, "%s", value);
	return 0;
}

const struct cfg_provider *
cfg_provider(const struct cfg *c, const char *name)
{
	size_t i;

	if (find_provider(c, name, &i) == -1)
		return NULL;
	return &c->providers[i];
}

void
cfg_free(struct cfg *c)
{
	size_t i;

	if (c == NULL)
		return;
	free(c->path);
	free(c->vault_path);
	free(c->key_file);
	free(c->state_dir);
	free(c->audit_path);
	for (i = 0; i < c->nallow; i++)
		free(c->allow[i].pattern);
	free(c->allow);
	for (i = 0; i < c->nproviders; i++)
		free(c->providers[i].name);
	free(c->providers);
	free(c->fleet.name);
	free(c->fleet.endpoints);
	free(c->fleet.prefix);
	free(c->fleet.ca);
	free(c->fleet.cert);
	free(c->fleet.key);
	free(c->fleet.user);
	free(c->fleet.password_file);
	free(c->fleet.signing_key);
	free(c->fleet.hosts_file);
	free(c->fleet.admin_public_key);
	free(c->fleet.host_key);
	free(c->fleet.host_name);
	free(c);
}
