/* policy/allow.c - allowlist patterns and the sandbox decision; see allow.h.
 *
 * Patterns come from a config file, the environment and, through the control file, from
 * any local user, so the parser treats them as hostile: bounded length, a closed set of
 * characters, every number range-checked, and a message that shows at most a short,
 * escaped prefix of what it refused. Addresses are kept as 16 bytes (IPv4 v4-mapped), so
 * comparing by value is memcmp and one CIDR routine serves both families. No name is
 * ever resolved: "localhost" is the only name that stands for an address. */
#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "allow.h"
#include "config.h"

#define SHOWN_MAX	48	/* bytes of a hostile pattern echoed in a message */
#define SHOWN_BUF	CS_SHOW_BUF(SHOWN_MAX)
#define LABEL_MAX	63	/* bytes of one DNS label */
#define SCHEME_MAX	32	/* bytes of a URL scheme */
#define ADDR_TEXT_MAX	64	/* bytes of an address literal, with a /prefix */

static const unsigned char v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
static const unsigned char loop6[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };


static int
bad(struct cs_err *e, const char *what, const char *s, size_t len, const char *why)
{
	char shown[SHOWN_BUF];

	cs_show(s, len, SHOWN_MAX, shown, sizeof shown);
	return cs_err_set(e, EINVAL, "%s \"%s\": %s", what, shown, why);
}

static int
is_blank(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* 1-5 decimal digits, 1-65535. */
static int
parse_port(const char *s, size_t len, unsigned *out, const char **why)
{
	unsigned v = 0;
	size_t i;

	if (len == 0) {
		*why = "empty port after ':'";
		return -1;
	}
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i])) {
			*why = "the port is not a number";
			return -1;
		}
		if (i >= 5) {
			*why = "the port is out of range 1-65535";
			return -1;
		}
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v < 1 || v > 65535) {
		*why = "the port is out of range 1-65535";
		return -1;
	}
	*out = v;
	return 0;
}

/* A host name: labels of [A-Za-z0-9_-], 1-63 bytes each, 253 in all, one optional dot at
 * the end. Lowercased into out. A name ending in an all-digit label is refused: it is an
 * IPv4 address in a form inet_pton does not take ("127.1", "10.0.0.010") and a program
 * would read it as some address we cannot tell. */
static int
parse_name(const char *s, size_t len, char out[ALLOW_NAME_MAX + 1], const char **why)
{
	size_t i, label = 0;
	int digits = 1;

	if (len > 0 && s[len - 1] == '.')
		len--;
	if (len == 0) {
		*why = "empty host";
		return -1;
	}
	if (len > ALLOW_NAME_MAX) {
		*why = "the host name is longer than 253 bytes";
		return -1;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (label == 0) {
				*why = "empty label in the host name";
				return -1;
			}
			label = 0;
			digits = 1;
			out[i] = '.';
			continue;
		}
		if (!isalnum(c) && c != '-' && c != '_') {
			*why = "the host name holds a character other than letters, digits, "
			    "'-', '_' and '.'";
			return -1;
		}
		if (++label > LABEL_MAX) {
			*why = "a label of the host name is longer than 63 bytes";
			return -1;
		}
		if (!isdigit(c))
			digits = 0;
		out[i] = (char)tolower(c);
	}
	if (label == 0) {
		*why = "empty label in the host name";
		return -1;
	}
	if (digits) {
		*why = "not a valid IPv4 address (write all four parts in decimal, "
		    "no leading zeros)";
		return -1;
	}
	out[len] = '\0';
	return 0;
}

/* An IPv4 or IPv6 literal into 16 bytes. 1 when s is an address, 0 when it does not look
 * like one at all, -1 (why set) when it looks like one and is wrong. */
static int
parse_addr(const char *s, size_t len, int v6_only, unsigned char addr[16], int *is_v4,
    const char **why)
{
	char buf[ADDR_TEXT_MAX];
	struct in_addr a4;

	if (memchr(s, '%', len) != NULL) {
		*why = "IPv6 zones (%) are not supported";
		return -1;
	}
	if (len >= sizeof buf)
		goto notaddr;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (!v6_only && inet_pton(AF_INET, buf, &a4) == 1) {
		memcpy(addr, v4mapped, sizeof v4mapped);
		memcpy(addr + 12, &a4, 4);
		*is_v4 = 1;
		return 1;
	}
	if (inet_pton(AF_INET6, buf, addr) == 1) {
		*is_v4 = 0;
		return 1;
	}
notaddr:
	if (v6_only || memchr(s, ':', len) != NULL) {
		*why = "not a valid IPv6 address";
		return -1;
	}
	return 0;
}

static int
in_net(const unsigned char net[16], unsigned prefix, const unsigned char addr[16])
{
	unsigned full = prefix / 8, rest = prefix % 8;
	unsigned char mask;

	if (memcmp(net, addr, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (unsigned char)(0xff << (8 - rest));
	return (net[full] & mask) == (addr[full] & mask);
}

static int
addr_loopback(const unsigned char a[16])
{
	return memcmp(a, loop6, 16) == 0 ||
	    (memcmp(a, v4mapped, sizeof v4mapped) == 0 && a[12] == 127);
}

/* Whether a pattern names the loopback: localhost, a loopback address, or a range that
 * holds one. */
static int
covers_loopback(const struct allow_pat *p)
{
	static const unsigned char net127[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
	    127, 0, 0, 0 };

	switch (p->kind) {
	case ALLOW_NAME:
		return strcmp(p->name, "localhost") == 0;
	case ALLOW_ADDR:
		return addr_loopback(p->addr);
	case ALLOW_NET:
		/* two ranges overlap when the wider one holds the other's start */
		return in_net(p->addr, p->prefix, loop6) ||
		    (p->prefix <= 104 ? in_net(p->addr, p->prefix, net127) :
		    in_net(net127, 104, p->addr));
	default:
		return 0;
	}
}

/* A CIDR range: ADDR/PREFIX, no host bits set beyond the prefix. */
static int
parse_net(const char *s, size_t len, int v6_only, struct allow_pat *p, const char **why)
{
	const char *slash = memchr(s, '/', len);
	size_t alen = (size_t)(slash - s), plen = len - alen - 1, i;
	unsigned prefix = 0, max, b;
	const char *range;
	int is_v4, r;

	r = parse_addr(s, alen, v6_only, p->addr, &is_v4, why);
	if (r == 0)
		*why = "a /prefix needs an IP address before it";
	if (r != 1)
		return -1;
	max = is_v4 ? 32 : 128;
	range = is_v4 ? "the prefix length must be 0-32" : "the prefix length must be 0-128";
	if (plen == 0 || plen > 3) {
		*why = range;
		return -1;
	}
	for (i = 0; i < plen; i++) {
		if (!isdigit((unsigned char)s[alen + 1 + i])) {
			*why = range;
			return -1;
		}
		prefix = prefix * 10 + (unsigned)(s[alen + 1 + i] - '0');
	}
	if (prefix > max) {
		*why = range;
		return -1;
	}
	if (is_v4)
		prefix += 96;
	for (b = prefix; b < 128; b++) {
		if (p->addr[b / 8] & (0x80 >> (b % 8))) {
			*why = "host bits are set past the prefix (write the network address)";
			return -1;
		}
	}
	p->kind = ALLOW_NET;
	p->prefix = prefix;
	return 0;
}

/* The host part of a pattern, without port or brackets. */
static int
parse_host(const char *s, size_t len, int bracketed, int in_url, struct allow_pat *p,
    const char **why)
{
	int is_v4, r;

	if (len == 0) {
		*why = "empty host";
		return -1;
	}
	if (bracketed) {
		if (memchr(s, '/', len) != NULL && !in_url)
			return parse_net(s, len, 1, p, why);
		if (parse_addr(s, len, 1, p->addr, &is_v4, why) != 1)
			return -1;
		p->kind = ALLOW_ADDR;
		return 0;
	}
	if (len == 1 && s[0] == '*') {
		p->kind = ALLOW_ANY;
		return 0;
	}
	if (len >= 2 && s[0] == '*' && s[1] == '.') {
		if (memchr(s + 2, '*', len - 2) != NULL) {
			*why = "'*' may only stand alone or as the first label (*.example.com)";
			return -1;
		}
		if (len == 2 || (len == 3 && s[2] == '.')) {
			*why = "'*.' needs a domain after it (*.example.com)";
			return -1;
		}
		if (parse_name(s + 2, len - 2, p->name, why) == -1)
			return -1;
		p->kind = ALLOW_SUFFIX;
		return 0;
	}
	if (memchr(s, '*', len) != NULL) {
		*why = "'*' may only stand alone or as the first label (*.example.com)";
		return -1;
	}
	if (memchr(s, '/', len) != NULL)
		return parse_net(s, len, 0, p, why);
	r = parse_addr(s, len, 0, p->addr, &is_v4, why);
	if (r == -1)
		return -1;
	if (r == 1) {
		p->kind = ALLOW_ADDR;
		return 0;
	}
	if (parse_name(s, len, p->name, why) == -1)
		return -1;
	p->kind = ALLOW_NAME;
	return 0;
}

/* "http" -> 80 and so on; 0 for a scheme without a default. */
static unsigned
scheme_port(const char *s, size_t len)
{
	static const struct {
		const char	*name;
		unsigned	 port;
	} known[] = { { "http", 80 }, { "https", 443 }, { "ws", 80 }, { "wss", 443 } };
	size_t i;

	for (i = 0; i < sizeof known / sizeof known[0]; i++)
		if (strlen(known[i].name) == len && strncasecmp(s, known[i].name, len) == 0)
			return known[i].port;
	return 0;
}

static int
check_scheme(const char *s, size_t len, const char **why)
{
	size_t i;

	if (len == 0) {
		*why = "empty URL scheme before \"://\"";
		return -1;
	}
	if (len > SCHEME_MAX || !isalpha((unsigned char)s[0])) {
		*why = "not a URL scheme before \"://\"";
		return -1;
	}
	for (i = 1; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && c != '+' && c != '-' && c != '.') {
			*why = "not a URL scheme before \"://\"";
			return -1;
		}
	}
	return 0;
}

/* The pattern between blanks: [scheme://]authority[/path] or a CIDR range. */
static int
parse_trimmed(const char *s, size_t len, struct allow_pat *p, const char **why)
{
	const char *auth = s, *end = s + len, *sep, *host, *portp = NULL, *rb;
	size_t hlen, plen = 0, i;
	unsigned defport = 0;
	int in_url = 0, bracketed = 0, colons = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= ' ' || c >= 0x7f) {
			*why = c == ' ' ? "a space inside the pattern" :
			    "a control or non-ASCII byte in the pattern";
			return -1;
		}
	}
	if ((sep = strstr(s, "://")) != NULL && sep < end) {
		if (check_scheme(s, (size_t)(sep - s), why) == -1)
			return -1;
		in_url = 1;
		defport = scheme_port(s, (size_t)(sep - s));
		auth = sep + 3;
		for (end = auth; end < s + len; end++)
			if (*end == '/' || *end == '?' || *end == '#')
				break;
		if (memchr(auth, '@', (size_t)(end - auth)) != NULL) {
			*why = "user info (user@) is not allowed in a URL pattern";
			return -1;
		}
	}
	if (auth == end) {
		*why = "empty host";
		return -1;
	}
	host = auth;
	if (*auth == '[') {
		rb = memchr(auth, ']', (size_t)(end - auth));
		if (rb == NULL) {
			*why = "'[' without its ']'";
			return -1;
		}
		bracketed = 1;
		host = auth + 1;
		hlen = (size_t)(rb - host);
		if (rb + 1 < end) {
			if (rb[1] != ':') {
				*why = "only \":PORT\" may follow ']'";
				return -1;
			}
			portp = rb + 2;
			plen = (size_t)(end - portp);
		}
	} else {
		for (i = 0; i < (size_t)(end - auth); i++)
			if (auth[i] == ':')
				colons++;
		if (colons >= 2 && in_url) {
			*why = "an IPv6 address in a URL goes in brackets: https://[::1]:8000";
			return -1;
		}
		if (colons == 1) {
			sep = memchr(auth, ':', (size_t)(end - auth));
			hlen = (size_t)(sep - auth);
			portp = sep + 1;
			plen = (size_t)(end - portp);
		} else {
			/* a name, an IPv4 address, or a bare IPv6 one: no port */
			hlen = (size_t)(end - auth);
		}
	}
	if (memchr(host, '[', hlen) != NULL || memchr(host, ']', hlen) != NULL) {
		*why = "misplaced '[' or ']'";
		return -1;
	}
	if (parse_host(host, hlen, bracketed, in_url, p, why) == -1)
		return -1;
	if (portp != NULL) {
		if (parse_port(portp, plen, &p->port, why) == -1)
			return -1;
	} else if (in_url) {
		if (defport == 0) {
			*why = "no default port for this URL scheme (only http, https, ws, wss "
			    "have one): add :PORT";
			return -1;
		}
		p->port = defport;
	}
	return 0;
}

/* Parses one list entry; on error, e names where it came from. */
static int
entry(const struct cfg *c, const char *pattern, const char *src, size_t i,
    struct allow_pat *p, struct cs_err *e)
{
	struct cs_err pe = { 0 };

	if (allow_parse(pattern, p, &pe) == 0)
		return 0;
	if (strcmp(src, "job") == 0)
		return cs_err_set(e, pe.code, "allow[%zu]: %s", i, pe.msg);
	if (strcmp(src, "env") == 0)
		return cs_err_set(e, pe.code, "%s: %s", CFG_ENV_ALLOW, pe.msg);
	return cs_err_set(e, pe.code, "%s: network_allow: %s",
	    c->path != NULL ? c->path : "config", pe.msg);
}

int
allow_parse(const char *pattern, struct allow_pat *out, struct cs_err *e)
{
	const char *s = pattern, *why = NULL;
	size_t len;

	memset(out, 0, sizeof *out);
	if (pattern == NULL)
		return cs_err_set(e, EINVAL, "empty pattern");
	len = strlen(s);
	while (len > 0 && is_blank((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len > 0 && is_blank((unsigned char)s[len - 1]))
		len--;
	if (len == 0)
		return cs_err_set(e, EINVAL, "empty pattern");
	if (len > ALLOW_PATTERN_MAX)
		return bad(e, "pattern", s, len, "longer than 1024 bytes");
	if (parse_trimmed(s, len, out, &why) == -1) {
		memset(out, 0, sizeof *out);
		return bad(e, "pattern", s, len, why);
	}
	return 0;
}

int
allow_target(const char *host, int port, struct allow_target *out, struct cs_err *e)
{
	const char *why = NULL, *s = host;
	size_t len, i;
	int is_v4, r;

	memset(out, 0, sizeof *out);
	if (host == NULL || host[0] == '\0')
		return cs_err_set(e, EINVAL, "empty host");
	len = strlen(host);
	if (len > ALLOW_NAME_MAX + 3)
		return bad(e, "host", host, len, "longer than 253 bytes");
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)host[i];
		if (!isalnum(c) && strchr(".-_:[]", c) == NULL)
			return bad(e, "host", host, len, "a host is a name or an IP address "
			    "(letters, digits, '-', '_', '.', ':', and [ ] around IPv6)");
	}
	if (host[0] == '[') {
		if (len == 2 && host[1] == ']')
			return bad(e, "host", host, len, "empty host");
		if (len < 2 || host[len - 1] != ']')
			return bad(e, "host", host, len, "'[' without its ']'");
		s = host + 1;
		len -= 2;
		if ((r = parse_addr(s, len, 1, out->addr, &is_v4, &why)) != 1)
			return bad(e, "host", host, len + 2, why ? why : "not an IPv6 address");
		out->is_addr = 1;
	} else if (memchr(host, '[', len) != NULL || memchr(host, ']', len) != NULL) {
		return bad(e, "host", host, len, "misplaced '[' or ']'");
	} else if ((s = strchr(host, ':')) != NULL && strchr(s + 1, ':') == NULL) {
		return bad(e, "host", host, len, "a host carries no :PORT (the port is given "
		    "apart)");
	} else if ((r = parse_addr(host, len, 0, out->addr, &is_v4, &why)) == 1) {
		out->is_addr = 1;
	} else if (r == -1 || parse_name(host, len, out->name, &why) == -1) {
		return bad(e, "host", host, len, why);
	}
	if (port < 1 || port > 65535)
		return cs_err_set(e, EINVAL, "port %d is out of range 1-65535", port);
	out->port = (unsigned)port;
	out->loopback = out->is_addr ? addr_loopback(out->addr) :
	    strcmp(out->name, "localhost") == 0;
	return 0;
}

int
allow_match(const struct allow_pat *p, const struct allow_target *t)
{
	size_t nl, sl;

	if (p->port != 0 && p->port != t->port)
		return 0;
	if (p->kind == ALLOW_ANY)
		return 1;
	/* localhost, 127.0.0.0/8 and ::1 stand for each other */
	if (t->loopback && covers_loopback(p))
		return 1;
	switch (p->kind) {
	case ALLOW_NAME:
		return !t->is_addr && strcmp(p->name, t->name) == 0;
	case ALLOW_SUFFIX:
		if (t->is_addr)
			return 0;
		nl = strlen(t->name);
		sl = strlen(p->name);
		return nl > sl + 1 && t->name[nl - sl - 1] == '.' &&
		    strcmp(t->name + nl - sl, p->name) == 0;
	case ALLOW_ADDR:
		return t->is_addr && memcmp(p->addr, t->addr, 16) == 0;
	case ALLOW_NET:
		return t->is_addr && in_net(p->addr, p->prefix, t->addr);
	default:
		return 0;
	}
}

const char *
allow_source_name(enum allow_source s)
{
	return s == ALLOW_FROM_ENV ? "env" : "config";
}

/* Formats host:port as it would be written in a pattern (IPv6 in brackets) into buf. */
static void
allow_format_pair(const struct allow_target *t, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (!t->is_addr) {
		snprintf(buf, len, "%s:%u", t->name, t->port);
	} else if (memcmp(t->addr, v4mapped, sizeof v4mapped) == 0) {
		inet_ntop(AF_INET, t->addr + 12, a, sizeof a);
		snprintf(buf, len, "%s:%u", a, t->port);
	} else {
		inet_ntop(AF_INET6, t->addr, a, sizeof a);
		snprintf(buf, len, "[%s]:%u", a, t->port);
	}
}

int
allow_decide(const struct cfg *c, const char *const *job_allow, size_t njob, int network,
    const char *host, int port, struct allow_answer *ans, struct cs_err *e)
{
	struct allow_target t;
	struct allow_pat p;
	char pair[ALLOW_NAME_MAX + 8], shown[SHOWN_BUF];	/* name:65535 */
	size_t i;

	assert(njob == 0 || job_allow != NULL);
	memset(ans, 0, sizeof *ans);
	if (allow_target(host, port, &t, e) == -1)
		return -1;
	allow_format_pair(&t, pair, sizeof pair);
	/* every pattern parses, or the whole question is an error: a typo in one entry
	 * must not pass unseen because an earlier entry happened to match */
	for (i = 0; i < njob; i++) {
		if (entry(c, job_allow[i], "job", i, &p, e) == -1)
			goto fail;
		if (ans->matched == NULL && allow_match(&p, &t)) {
			ans->matched = job_allow[i];
			ans->source = "job";
		}
	}
	for (i = 0; i < c->nallow; i++) {
		const char *src = allow_source_name(c->allow[i].source);
		if (entry(c, c->allow[i].pattern, src, i, &p, e) == -1)
			goto fail;
		if (ans->matched == NULL && allow_match(&p, &t)) {
			ans->matched = c->allow[i].pattern;
			ans->source = src;
		}
	}
	if (!c->enable_security_sandbox_guard) {
		ans->matched = NULL;
		ans->source = NULL;
		ans->allowed = network != 0;
		snprintf(ans->reason, sizeof ans->reason, "%s: the sandbox guard is off, and "
		    "the job %s the network", pair, network ? "asked for" : "did not ask for");
		return 0;
	}
	if (!network) {
		ans->matched = NULL;
		ans->source = NULL;
		snprintf(ans->reason, sizeof ans->reason, "%s: the job did not ask for the "
		    "network (network: false)", pair);
		return 0;
	}
	if (ans->matched != NULL) {
		ans->allowed = 1;
		cs_show(ans->matched, strlen(ans->matched), SHOWN_MAX, shown, sizeof shown);
		snprintf(ans->reason, sizeof ans->reason, "%s matches \"%s\" (%s)", pair,
		    shown, ans->source);
		return 0;
	}
	if (njob == 0 && c->nallow == 0)
		snprintf(ans->reason, sizeof ans->reason, "%s: the allowlist is empty (no "
		    "job allow, network_allow or %s)", pair, CFG_ENV_ALLOW);
	else
		snprintf(ans->reason, sizeof ans->reason, "%s matches no pattern in the job's "
		    "allow, network_allow or %s", pair, CFG_ENV_ALLOW);
	return 0;
fail:
	memset(ans, 0, sizeof *ans);
	return -1;
}
