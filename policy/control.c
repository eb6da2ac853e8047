/* policy/control.c - request bytes to answer bytes; see control.h.
 *
 * Any local user can write a request to the .control file, so every request is hostile
 * until checked: bounded in size, parsed by jansson, every field looked up by name and
 * type, unknown fields refused, and every text echoed back shortened and escaped. Each
 * path ends in exactly one JSON object. Ops that reveal or change something (providers,
 * audit, rotate) are gated on enable_security_api before their fields are even read;
 * rotate also on uid 0. Values never pass through here: listing and rotation are the
 * caller's callbacks, and the one secret a request may carry (rotate's new_key) is
 * wiped from jansson's memory before the request is freed. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "allow.h"
#include "auditread.h"
#include "control.h"
#include "fleetstatus.h"

#define SHOWN_MAX	48	/* bytes of a hostile text echoed in an error */
#define SHOWN_BUF	CS_SHOW_BUF(SHOWN_MAX)
#define ERROR_MAX	512	/* bytes of an error answer's text */
#define DUMP_FLAGS	(JSON_COMPACT | JSON_ENSURE_ASCII)	/* see dump() */

static const char ops_list[] = "check, defaults, providers, audit, rotate, status";


/* A JSON string of s (null for NULL); bytes that are not valid UTF-8 (a path from
 * another module's message) come out as \xNN instead of failing the answer. */
static json_t *
jstr(const char *s)
{
	json_t *j;
	char *buf;
	size_t i, o = 0, len;

	if (s == NULL)
		return json_null();
	if ((j = json_string(s)) != NULL)
		return j;
	len = strlen(s);
	if ((buf = malloc(len * 4 + 1)) == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x80)
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, 5, "\\x%02x", c);
	}
	buf[o] = '\0';
	j = json_string(buf);
	free(buf);
	return j;
}

static json_t *
fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static json_t *
fail(const char *fmt, ...)
{
	char msg[ERROR_MAX];
	json_t *o;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if ((o = json_object()) != NULL && json_object_set_new(o, "error", jstr(msg)) == -1) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

static const char *
cfg_name(const struct cfg *c)
{
	return c->path != NULL ? c->path : "the built-in defaults (no config file was read)";
}

/* Refuses any member of req not in known (NULL-terminated; "op" is always known). */
static json_t *
only(const char *op, json_t *req, const char *const *known)
{
	const char *k;
	json_t *v;
	char shown[SHOWN_BUF];
	size_t i;

	json_object_foreach(req, k, v) {
		if (strcmp(k, "op") == 0)
			continue;
		for (i = 0; known[i] != NULL; i++)
			if (strcmp(k, known[i]) == 0)
				break;
		if (known[i] == NULL) {
			cs_show(k, strlen(k), SHOWN_MAX, shown, sizeof shown);
			return fail("%s: unknown field \"%s\"", op, shown);
		}
	}
	return NULL;
}

/* Writes (or counts, see audit_append_denial) the sandbox_blocked line for a denial. */
static int
audit_denial(const struct control_ctx *ctx, const char *host, int port, const char *reason,
    struct cs_err *e)
{
	struct audit_event ev = { 0 };

	if (ctx->audit == NULL)
		return 0;
	ev.event = "sandbox_blocked";
	ev.host = host;
	ev.port = port;
	ev.reason = reason;
	ev.via = ctx->via != NULL ? ctx->via : "control";
	ev.pid = ctx->pid;
	ev.uid = ctx->uid;
	ev.gid = ctx->gid;
	ev.comm = ctx->comm;
	/* Merged per caller and pair: a denial loop cannot fill the audit disk. */
	return audit_append_denial(ctx->audit, &ev, e);
}

static json_t *
check(const struct control_ctx *ctx, const char *host, int port, const char *const *allow,
    size_t nallow, int network)
{
	struct allow_answer a;
	struct cs_err e = { 0 };
	json_t *o;

	if (allow_decide(ctx->cfg, allow, nallow, network, host, port, &a, &e) == -1)
		return fail("check: %s", e.msg);
	if ((o = json_object()) == NULL)
		return NULL;
	json_object_set_new(o, "allowed", json_boolean(a.allowed));
	if (a.matched != NULL) {
		json_object_set_new(o, "matched", jstr(a.matched));
		json_object_set_new(o, "source", json_string(a.source));
	}
	json_object_set_new(o, "reason", jstr(a.reason));
	json_object_set_new(o, "host", jstr(host));
	json_object_set_new(o, "port", json_integer(port));
	if (!a.allowed && audit_denial(ctx, host, port, a.reason, &e) == -1) {
		if (ctx->cfg->audit_fail_closed) {
			json_decref(o);
			return fail("check: sandbox_blocked could not be audited: %s", e.msg);
		}
		json_object_set_new(o, "audit_error", jstr(e.msg));
	}
	return o;
}

static json_t *
op_check(const struct control_ctx *ctx, json_t *req)
{
	static const char *const known[] = { "host", "port", "allow", "network", NULL };
	json_t *host, *port, *allow, *network, *ans, *v;
	const char **list = NULL;
	json_int_t p;
	size_t n = 0, i;

	if ((ans = only("check", req, known)) != NULL)
		return ans;
	host = json_object_get(req, "host");
	port = json_object_get(req, "port");
	allow = json_object_get(req, "allow");
	network = json_object_get(req, "network");
	if (host == NULL)
		return fail("check: missing \"host\"");
	if (!json_is_string(host))
		return fail("check: \"host\" must be a string");
	if (port == NULL)
		return fail("check: missing \"port\"");
	if (!json_is_integer(port))
		return fail("check: \"port\" must be an integer");
	p = json_integer_value(port);
	if (p < 1 || p > 65535)
		return fail("check: port %" JSON_INTEGER_FORMAT " is out of range 1-65535", p);
	if (network != NULL && !json_is_null(network) && !json_is_boolean(network))
		return fail("check: \"network\" must be true or false");
	if (allow != NULL && !json_is_null(allow)) {
		if (!json_is_array(allow))
			return fail("check: \"allow\" must be an array of patterns");
		n = json_array_size(allow);
		json_array_foreach(allow, i, v)
			if (!json_is_string(v))
				return fail("check: allow[%zu] must be a string", i);
		if (n > 0 && (list = calloc(n, sizeof *list)) == NULL)
			return NULL;
		json_array_foreach(allow, i, v)
			list[i] = json_string_value(v);
	}
	ans = check(ctx, json_string_value(host), (int)p, list, n,
	    network == NULL || json_is_null(network) || json_is_true(network));
	free(list);
	return ans;
}

/* The fleet follower's status file (policy/fleetstatus.h): the daemon itself has no
 * network code, and answers from what the follower last wrote. */
static json_t *
op_status(const struct control_ctx *ctx, json_t *req)
{
	static const char *const known[] = { NULL };
	json_t *ans;

	if ((ans = only("status", req, known)) != NULL)
		return ans;
	if ((ans = fleetstatus_answer(ctx->cfg, (int64_t)time(NULL))) == NULL)
		return fail("status: out of memory");
	return ans;
}

static json_t *
op_defaults(const struct control_ctx *ctx, json_t *req)
{
	static const char *const known[] = { NULL };
	const struct cfg *c = ctx->cfg;
	struct allow_pat p;
	json_t *o, *list, *ent;
	size_t i;

	if ((o = only("defaults", req, known)) != NULL)
		return o;
	if ((list = json_array()) == NULL)
		return NULL;
	for (i = 0; i < c->nallow; i++) {
		struct cs_err e = { 0 };
		ent = json_object();
		json_object_set_new(ent, "pattern", jstr(c->allow[i].pattern));
		json_object_set_new(ent, "source",
		    json_string(allow_source_name(c->allow[i].source)));
		if (allow_parse(c->allow[i].pattern, &p, &e) == -1)
			json_object_set_new(ent, "error", jstr(e.msg));
		json_array_append_new(list, ent);
	}
	if ((o = json_object()) == NULL) {
		json_decref(list);
		return NULL;
	}
	json_object_set_new(o, "guard", json_boolean(c->enable_security_sandbox_guard));
	json_object_set_new(o, "network_default", json_true());
	json_object_set_new(o, "api_enabled", json_boolean(c->enable_security_api));
	json_object_set_new(o, "config", c->path != NULL ? jstr(c->path) : json_null());
	json_object_set_new(o, "network_allow", list);
	return o;
}

/* 1 when the request runs with root's rights: its caller and its opener are uid 0. */
static int
as_root(const struct control_ctx *ctx)
{
	return ctx->uid == 0 && (!ctx->has_opener || ctx->opener_uid == 0);
}

/* "uid N" or "uid N (the handle was opened by uid M)", for a refusal. */
static void
who(const struct control_ctx *ctx, char *buf, size_t n)
{
	if (ctx->has_opener)
		snprintf(buf, n, "uid %lu, the handle was opened by uid %lu",
		    (unsigned long)ctx->uid, (unsigned long)ctx->opener_uid);
	else
		snprintf(buf, n, "uid %lu", (unsigned long)ctx->uid);
}

/* The gate in front of providers, audit and rotate. */
static json_t *
api_gate(const struct control_ctx *ctx, const char *op)
{
	if (!ctx->cfg->enable_security_api)
		return fail("%s: enable_security_api is off in %s", op, cfg_name(ctx->cfg));
	return NULL;
}

/* A callback's answer must be an object; it becomes ours. */
static json_t *
plugin_answer(const char *op, int rc, json_t *out, const struct cs_err *e)
{
	if (rc == -1) {
		json_decref(out);
		return fail("%s: %s", op, e->msg[0] != '\0' ? e->msg : "failed");
	}
	if (!json_is_object(out)) {
		json_decref(out);
		return fail("%s: the answer was not a JSON object", op);
	}
	return out;
}

static json_t *
op_providers(const struct control_ctx *ctx, json_t *req)
{
	static const char *const known[] = { NULL };
	struct cs_err e = { 0 };
	json_t *ans, *out = NULL;
	int rc;

	if ((ans = api_gate(ctx, "providers")) != NULL ||
	    (ans = only("providers", req, known)) != NULL)
		return ans;
	if (ctx->providers == NULL)
		return fail("providers: not available here");
	rc = ctx->providers(ctx->arg, &out, &e);
	ans = plugin_answer("providers", rc, out, &e);
	if (json_is_object(ans) && json_object_get(ans, "error") == NULL &&
	    json_object_get(ans, "audit_path") == NULL)
		json_object_set_new(ans, "audit_path", jstr(ctx->cfg->audit_path));
	return ans;
}

static json_t *
op_audit(const struct control_ctx *ctx, json_t *req)
{
	static const char *const known[] = { "limit", NULL };
	struct cs_err e = { 0 };
	json_t *ans, *lim, *items, *it;
	json_int_t limit = CONTROL_AUDIT_LIMIT;
	char **lines = NULL, caller[96];
	size_t n = 0, i, budget = CONTROL_ANSWER_MAX / 2, first = 0;

	if ((ans = api_gate(ctx, "audit")) != NULL)
		return ans;
	if ((ans = only("audit", req, known)) != NULL)
		return ans;
	lim = json_object_get(req, "limit");
	if (lim != NULL && !json_is_null(lim)) {
		if (!json_is_integer(lim))
			return fail("audit: \"limit\" must be an integer");
		limit = json_integer_value(lim);
		if (limit < 1 || limit > CONTROL_AUDIT_LIMIT_MAX)
			return fail("audit: limit %" JSON_INTEGER_FORMAT " is out of range "
			    "1-%u", limit, CONTROL_AUDIT_LIMIT_MAX);
	}
	/* The log names who read which secret, when and with what program: it is the
	 * audit log file's (0600, root's) to show, and audit_group's, not every user's. */
	if (!as_root(ctx) && !(ctx->cfg->has_audit_group && ctx->audit_member)) {
		who(ctx, caller, sizeof caller);
		if (ctx->cfg->has_audit_group)
			return fail("audit: only root and group %lu (audit_group) may read the "
			    "audit log (the caller is %s)", (unsigned long)ctx->cfg->audit_group,
			    caller);
		return fail("audit: only root may read the audit log (the caller is %s)", caller);
	}
	if (ctx->cfg->audit_path == NULL)
		return fail("audit: no audit log is configured");
	if (audit_tail(ctx->cfg->audit_path, (size_t)limit, &lines, &n, &e) == -1) {
		if (e.code != ENOENT)
			return fail("audit: %s", e.msg);
		lines = NULL;
		n = 0;
	}
	if ((items = json_array()) == NULL) {
		audit_lines_free(lines, n);
		return NULL;
	}
	/* The newest lines that fit in half an answer (escaping may grow them). */
	for (first = n; first > 0 && strlen(lines[first - 1]) < budget; first--)
		budget -= strlen(lines[first - 1]);
	for (i = first; i < n; i++) {
		it = json_loads(lines[i], JSON_REJECT_DUPLICATES, NULL);
		if (!json_is_object(it)) {
			/* a damaged line is shown, not dropped: audit --verify will name it */
			json_decref(it);
			it = json_object();
			json_object_set_new(it, "unparsed", jstr(lines[i]));
		}
		json_array_append_new(items, it);
	}
	audit_lines_free(lines, n);
	if ((ans = json_object()) == NULL) {
		json_decref(items);
		return NULL;
	}
	json_object_set_new(ans, "items", items);
	json_object_set_new(ans, "path", jstr(ctx->cfg->audit_path));
	if (first > 0)
		json_object_set_new(ans, "truncated", json_true());
	return ans;
}

static json_t *
op_rotate(const struct control_ctx *ctx, json_t *req)
{
	static const char *const known[] = { "new_key", NULL };
	struct cs_err e = { 0 };
	json_t *ans, *nk, *out = NULL;
	char caller[96];
	int rc;

	if ((ans = api_gate(ctx, "rotate")) != NULL)
		return ans;
	if (!as_root(ctx)) {
		who(ctx, caller, sizeof caller);
		return fail("rotate: only root may rotate the key (the caller is %s)", caller);
	}
	if ((ans = only("rotate", req, known)) != NULL)
		return ans;
	/* A fleet's vault changes only on its admin, through the CLI, which publishes:
	 * the daemon has no network to publish with, and a member's is the fleet's. */
	if (ctx->cfg->fleet.role == FLEET_ROLE_ADMIN)
		return fail("rotate: this host is the admin of fleet %s; rotate with "
		    "`comfysecrets rotate` here, which publishes it", ctx->cfg->fleet.name != NULL ?
		    ctx->cfg->fleet.name : "(unnamed)");
	if (ctx->cfg->fleet.role != FLEET_ROLE_NONE)
		return fail("rotate: this vault belongs to fleet %s; rotate with `comfysecrets "
		    "rotate` on its admin host, which publishes it", ctx->cfg->fleet.name != NULL ?
		    ctx->cfg->fleet.name : "(unnamed)");
	nk = json_object_get(req, "new_key");
	if (nk != NULL && !json_is_null(nk) && !json_is_string(nk))
		return fail("rotate: \"new_key\" must be a string (base64)");
	if (ctx->rotate == NULL)
		return fail("rotate: not available here");
	rc = ctx->rotate(ctx->arg, json_is_string(nk) ? json_string_value(nk) : NULL, &out, &e);
	return plugin_answer("rotate", rc, out, &e);
}

static json_t *
dispatch(const struct control_ctx *ctx, json_t *req)
{
	static const struct {
		const char	*name;
		json_t		*(*fn)(const struct control_ctx *, json_t *);
	} ops[] = {
		{ "check", op_check }, { "defaults", op_defaults },
		{ "providers", op_providers }, { "audit", op_audit }, { "rotate", op_rotate },
		{ "status", op_status },
	};
	json_t *op = json_object_get(req, "op");
	char shown[SHOWN_BUF];
	const char *name;
	size_t i;

	if (op == NULL)
		return fail("request: missing \"op\" (one of %s)", ops_list);
	if (!json_is_string(op))
		return fail("request: \"op\" must be a string (one of %s)", ops_list);
	name = json_string_value(op);
	for (i = 0; i < sizeof ops / sizeof ops[0]; i++)
		if (strcmp(name, ops[i].name) == 0)
			return ops[i].fn(ctx, req);
	cs_show(name, json_string_length(op), SHOWN_MAX, shown, sizeof shown);
	return fail("request: unknown op \"%s\" (one of %s)", shown, ops_list);
}

/* The new key is the one secret a request may hold: wipe jansson's copy in place. */
static void
wipe(json_t *req)
{
	json_t *nk = json_object_get(req, "new_key");
	char *p;

	if (json_is_string(nk)) {
		/* jansson's own malloc'd copy, writable once const is cast off */
		p = (char *)(uintptr_t)json_string_value(nk);
		sodium_memzero(p, json_string_length(nk));
	}
}

/* The answer as one JSON line and its newline (*n bytes with it, malloc'd), or NULL
 * with *n its length when that is more than CONTROL_ANSWER_MAX (0: out of memory).
 * json_dumpb, not json_dumps: the answer is ours to malloc, so the caller's free() is
 * right even when the process gave jansson its own allocator. An answer carries text
 * callers chose (audit lines, names), and a C1 control (U+009B is CSI), DEL or a
 * bidirectional override would drive or reorder the reader's terminal: every code
 * point outside ASCII is a \u escape (JSON_ENSURE_ASCII), and so is DEL, which jansson
 * leaves raw. The JSON read back is the same. */
static char *
dump(const json_t *ans, size_t *n)
{
	size_t len, dels = 0, i, o;
	char *raw, *s = NULL;

	*n = 0;
	if ((len = json_dumpb(ans, NULL, 0, DUMP_FLAGS)) == 0 || (raw = malloc(len)) == NULL)
		return NULL;
	if (json_dumpb(ans, raw, len, DUMP_FLAGS) == len) {
		for (i = 0; i < len; i++)
			dels += raw[i] == 0x7f;
		*n = len + 5 * dels + 1;
		if (*n <= CONTROL_ANSWER_MAX && (s = malloc(*n + 1)) == NULL)
			*n = 0;
	}
	for (i = o = 0; s != NULL && i < len; i++) {
		if (raw[i] == 0x7f) {
			memcpy(s + o, "\\u007F", 6);	/* as jansson writes them */
			o += 6;
		} else {
			s[o++] = raw[i];
		}
	}
	if (s != NULL) {
		s[o++] = '\n';
		s[o] = '\0';
	}
	free(raw);
	return s;
}

static int
finish(json_t *ans, char **answer, size_t *alen)
{
	static const char oom[] = "{\"error\":\"out of memory\"}\n";
	char *s = NULL;
	size_t n = 0;

	if (ans != NULL && (s = dump(ans, &n)) == NULL && n > CONTROL_ANSWER_MAX) {
		json_decref(ans);
		ans = fail("answer: %zu bytes, more than the %u allowed", n, CONTROL_ANSWER_MAX);
		s = ans != NULL ? dump(ans, &n) : NULL;
	}
	json_decref(ans);
	if (s != NULL) {
		*answer = s;
		*alen = n;
		return 0;
	}
	if ((*answer = strdup(oom)) == NULL)
		return -1;
	*alen = sizeof oom - 1;
	return 0;
}

/* "host:port" or "[v6]:port" from a path name; EINVAL naming it otherwise. */
static int
split_pair(const char *pair, char host[CONTROL_PAIR_MAX], int *port, struct cs_err *e)
{
	char shown[SHOWN_BUF];
	const char *colon, *hend, *p;
	size_t len = strlen(pair), hlen;
	long v = 0;

	cs_show(pair, len, SHOWN_MAX, shown, sizeof shown);
	if (len >= CONTROL_PAIR_MAX)
		return cs_err_set(e, EINVAL, "check: \"%s\": too long for host:port", shown);
	if (pair[0] == '[') {
		if ((hend = strstr(pair, "]:")) == NULL)
			return cs_err_set(e, EINVAL, "check: \"%s\": expected [IPv6]:PORT",
			    shown);
		hend++;
		colon = hend;
	} else {
		if ((colon = strrchr(pair, ':')) == NULL)
			return cs_err_set(e, EINVAL, "check: \"%s\": expected HOST:PORT", shown);
		hend = colon;
		if (memchr(pair, ':', (size_t)(colon - pair)) != NULL)
			return cs_err_set(e, EINVAL, "check: \"%s\": an IPv6 address goes in "
			    "brackets: [::1]:8000", shown);
	}
	hlen = (size_t)(hend - pair);
	for (p = colon + 1; *p != '\0'; p++) {
		if (!isdigit((unsigned char)*p) || p - colon > 5)
			break;
		v = v * 10 + (*p - '0');
	}
	if (*p != '\0' || p == colon + 1 || v < 1 || v > 65535)
		return cs_err_set(e, EINVAL, "check: \"%s\": the port must be a number "
		    "1-65535", shown);
	memcpy(host, pair, hlen);
	host[hlen] = '\0';
	*port = (int)v;
	return 0;
}

int
control_handle(const struct control_ctx *ctx, const char *req, size_t len, char **answer,
    size_t *alen)
{
	json_error_t jerr;
	json_t *root = NULL, *ans;
	char why[CS_JSON_REASON_BUF];

	*answer = NULL;
	*alen = 0;
	if (len > CONTROL_REQUEST_MAX)
		ans = fail("request: %zu bytes, more than the %u allowed", len,
		    CONTROL_REQUEST_MAX);
	else if ((root = json_loadb(req != NULL ? req : "", len, JSON_REJECT_DUPLICATES,
	    &jerr)) == NULL) {
		/* jansson's text can quote the request, which can hold a key. */
		ans = fail("request: bad JSON at line %d, column %d: %s", jerr.line,
		    jerr.column, cs_json_reason(jerr.text, why, sizeof why));
	} else if (!json_is_object(root))
		ans = fail("request: not a JSON object");
	else
		ans = dispatch(ctx, root);
	if (json_is_object(root))
		wipe(root);
	json_decref(root);
	return finish(ans, answer, alen);
}

int
control_check_pair(const struct control_ctx *ctx, const char *pair, char **answer,
    size_t *alen)
{
	char host[CONTROL_PAIR_MAX];
	struct cs_err e = { 0 };
	json_t *ans;
	int port = 0;

	*answer = NULL;
	*alen = 0;
	if (split_pair(pair, host, &port, &e) == -1)
		ans = fail("%s", e.msg);
	else
		ans = check(ctx, host, port, NULL, 0, 1);
	return finish(ans, answer, alen);
}

int
control_pair_parse(const char *pair, struct cs_err *e)
{
	char host[CONTROL_PAIR_MAX];
	struct allow_target t;
	struct cs_err te = { 0 };
	int port = 0;

	if (split_pair(pair, host, &port, e) == -1)
		return -1;
	if (allow_target(host, port, &t, &te) == -1)
		return cs_err_set(e, te.code, "check: %s", te.msg);
	return 0;
}
