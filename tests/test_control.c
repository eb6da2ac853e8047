/* tests/test_control.c - the control protocol: every request gets one JSON object on one
 * line, hostile requests get {"error": ...}, the API ops are gated, denials are audited in
 * a real log, and a rotate request's new key is wiped and never echoed. */
#include <errno.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"
#include <jansson.h>

#include "../policy/audit.h"
#include "../policy/auditread.h"
#include "../policy/control.h"

#define CONFIG_PATH	"/etc/comfysecrets/test.ini"
#define NEW_KEY		"c2VjcmV0LWtleS1tYXJrZXItMDEyMzQ1Njc4OWFiY2Q="	/* a marker */

/* Every block jansson frees is looked at: one that still starts with the new key is a
 * copy that was not wiped. The blocks stay plain malloc() blocks, since other modules
 * free what json_dumps() returns with free(). */
static size_t unwiped_key_blocks;

static void
hook_free(void *q)
{
	size_t kl = strlen(NEW_KEY);

	if (q != NULL && malloc_usable_size(q) > kl && memcmp(q, NEW_KEY, kl) == 0 &&
	    ((char *)q)[kl] == '\0')
		unwiped_key_blocks++;
	free(q);
}

struct fix {
	char			 dir[64];
	char			 log[96];
	struct cfg		 cfg;
	struct cfg_allow	 allow[3];
	struct control_ctx	 ctx;
	struct audit		*audit;
	int			 rotated;	/* calls of the rotate callback */
	int			 key_seen;	/* it was handed NEW_KEY */
};

static int
cb_providers(void *arg, json_t **out, struct cs_err *e)
{
	(void)arg;
	(void)e;
	*out = json_pack("{s:[{s:s,s:[s,s],s:[s]}]}", "providers", "name", "runpod", "fields",
	    "api_key", "endpoint", "overrides", "api_key");
	return 0;
}

static int
cb_rotate(void *arg, const char *new_key, json_t **out, struct cs_err *e)
{
	struct fix *f = arg;

	f->rotated++;
	if (new_key != NULL && strcmp(new_key, NEW_KEY) == 0)
		f->key_seen = 1;
	if (new_key != NULL && strcmp(new_key, "bad") == 0)
		return cs_err_set(e, EINVAL, "new key: not 32 bytes of base64");
	*out = json_pack("{s:s,s:[s]}", "fingerprint", "0123456789abcdef", "providers",
	    "runpod");
	return 0;
}

static int
setup(void **state)
{
	struct fix *f = calloc(1, sizeof *f);
	struct cs_err e = { 0 };

	if (f == NULL)
		return -1;
	if (testutil_mkdtemp(f->dir, sizeof f->dir, "control") == -1) {
		free(f);
		return -1;
	}
	snprintf(f->log, sizeof f->log, "%s/audit.log", f->dir);
	f->allow[0].pattern = (char *)"api.example.com:443";
	f->allow[0].source = ALLOW_FROM_CONFIG;
	f->allow[1].pattern = (char *)"localhost:8080";
	f->allow[1].source = ALLOW_FROM_ENV;
	f->cfg.path = (char *)CONFIG_PATH;
	f->cfg.audit_path = f->log;
	f->cfg.audit_fail_closed = 1;
	f->cfg.enable_security_sandbox_guard = 1;
	f->cfg.allow = f->allow;
	f->cfg.nallow = 2;
	if (audit_open(f->log, AUDIT_FLUSH_NONE, 2000, &f->audit, &e) == -1) {
		fprintf(stderr, "audit_open: %s\n", e.msg);
		return -1;
	}
	f->ctx.cfg = &f->cfg;
	f->ctx.pid = 4242;
	f->ctx.uid = 1000;
	f->ctx.gid = 1000;
	f->ctx.comm = "curl";
	f->ctx.via = "fs";
	f->ctx.audit = f->audit;
	f->ctx.providers = cb_providers;
	f->ctx.rotate = cb_rotate;
	f->ctx.arg = f;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fix *f = *state;

	audit_close(f->audit);
	testutil_rmtree(f->dir);	/* the log and its .audit.log.lock */
	free(f);
	return 0;
}

/* One answer: a single line, a JSON object. */
static json_t *
answer_of(const char *ans, size_t alen)
{
	json_error_t jerr;
	json_t *o;

	assert_non_null(ans);
	assert_int_equal(alen, strlen(ans));
	assert_true(alen >= 3);
	assert_int_equal(ans[alen - 1], '\n');
	assert_ptr_equal(strchr(ans, '\n'), ans + alen - 1);
	o = json_loads(ans, 0, &jerr);
	if (o == NULL)
		fail_msg("answer is not JSON: %s (%s)", jerr.text, ans);
	assert_true(json_is_object(o));
	return o;
}

static json_t *
askn(const struct control_ctx *ctx, const char *req, size_t len)
{
	char *ans = NULL;
	size_t alen = 0;
	json_t *o;

	assert_int_equal(control_handle(ctx, req, len, &ans, &alen), 0);
	o = answer_of(ans, alen);
	free(ans);
	return o;
}

static json_t *
ask(const struct control_ctx *ctx, const char *req)
{
	return askn(ctx, req, strlen(req));
}

static const char *
error_of(json_t *o)
{
	json_t *e = json_object_get(o, "error");

	return json_is_string(e) ? json_string_value(e) : NULL;
}

/* The request's answer is an error holding words; len (size_t)-1: strlen(req). */
static void
expect_error(const struct control_ctx *ctx, const char *req, size_t len, const char *words)
{
	json_t *o = askn(ctx, req, len == (size_t)-1 ? strlen(req) : len);
	const char *msg = error_of(o);

	if (msg == NULL)
		fail_msg("request %.60s: no error: %s", req, json_dumps(o, 0));
	if (strstr(msg, words) == NULL)
		fail_msg("request %.60s: error \"%s\" lacks \"%s\"", req, msg, words);
	assert_int_equal(json_object_size(o), 1);
	json_decref(o);
}

/* The audit log's lines, newest last. */
static size_t
log_lines(struct fix *f, char ***lines)
{
	struct cs_err e = { 0 };
	size_t n = 0;

	if (audit_tail(f->log, 100, lines, &n, &e) == -1) {
		assert_int_equal(e.code, ENOENT);
		*lines = NULL;
		return 0;
	}
	return n;
}

static void
test_check_answers_the_app_curl_example(void **state)
{
	struct fix *f = *state;
	json_t *o;

	/* the ComfyVN app's curl example, verbatim */
	o = ask(&f->ctx, "{\"op\":\"check\",\"host\":\"127.0.0.1\",\"port\":8080,"
	    "\"allow\":[\"localhost:8080\"]}");
	assert_true(json_is_true(json_object_get(o, "allowed")));
	assert_string_equal(json_string_value(json_object_get(o, "matched")), "localhost:8080");
	assert_string_equal(json_string_value(json_object_get(o, "source")), "job");
	assert_non_null(strstr(json_string_value(json_object_get(o, "reason")),
	    "127.0.0.1:8080"));
	assert_string_equal(json_string_value(json_object_get(o, "host")), "127.0.0.1");
	assert_int_equal(json_integer_value(json_object_get(o, "port")), 8080);
	json_decref(o);
	/* network defaults to true: asking is wanting; the env list answers */
	o = ask(&f->ctx, "{\"op\":\"check\",\"host\":\"localhost\",\"port\":8080}");
	assert_true(json_is_true(json_object_get(o, "allowed")));
	assert_string_equal(json_string_value(json_object_get(o, "source")), "env");
	json_decref(o);
	o = ask(&f->ctx, "{\"op\":\"check\",\"host\":\"api.example.com\",\"port\":443,"
	    "\"network\":null,\"allow\":null}");
	assert_true(json_is_true(json_object_get(o, "allowed")));
	assert_string_equal(json_string_value(json_object_get(o, "source")), "config");
	json_decref(o);
}

static void
test_check_without_network_is_denied(void **state)
{
	struct fix *f = *state;
	json_t *o;

	o = ask(&f->ctx, "{\"op\":\"check\",\"host\":\"localhost\",\"port\":8080,"
	    "\"network\":false}");
	assert_true(json_is_false(json_object_get(o, "allowed")));
	assert_null(json_object_get(o, "matched"));
	assert_null(json_object_get(o, "source"));
	assert_non_null(strstr(json_string_value(json_object_get(o, "reason")), "network"));
	json_decref(o);
	/* guard off: the flag alone */
	f->cfg.enable_security_sandbox_guard = 0;
	o = ask(&f->ctx, "{\"op\":\"check\",\"host\":\"evil.example.net\",\"port\":1}");
	assert_true(json_is_true(json_object_get(o, "allowed")));
	json_decref(o);
	o = ask(&f->ctx, "{\"op\":\"check\",\"host\":\"localhost\",\"port\":8080,"
	    "\"network\":false}");
	assert_true(json_is_false(json_object_get(o, "allowed")));
	json_decref(o);
	f->cfg.enable_security_sandbox_guard = 1;
}

static void
test_check_with_a_bad_pattern_is_an_error(void **state)
{
	struct fix *f = *state;

	expect_error(&f->ctx, "{\"op\":\"check\",\"host\":\"localhost\",\"port\":8080,"
	    "\"allow\":[\"localhost:8080\",\"localhost:0\"]}", (size_t)-1,
	    "check: allow[1]: pattern \"localhost:0\": the port is out of range 1-65535");
	expect_error(&f->ctx, "{\"op\":\"check\",\"host\":\"a b\",\"port\":1}", (size_t)-1,
	    "check: host \"a b\"");
}

static void
test_defaults_show_guard_and_allowlist_with_sources(void **state)
{
	struct fix *f = *state;
	json_t *o, *l;

	f->allow[2].pattern = (char *)"[::1";
	f->allow[2].source = ALLOW_FROM_ENV;
	f->cfg.nallow = 3;
	o = ask(&f->ctx, "{\"op\":\"defaults\"}");
	f->cfg.nallow = 2;
	assert_true(json_is_true(json_object_get(o, "guard")));
	assert_true(json_is_true(json_object_get(o, "network_default")));
	assert_true(json_is_false(json_object_get(o, "api_enabled")));
	assert_string_equal(json_string_value(json_object_get(o, "config")), CONFIG_PATH);
	l = json_object_get(o, "network_allow");
	assert_int_equal(json_array_size(l), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(l, 0), "pattern")),
	    "api.example.com:443");
	assert_string_equal(json_string_value(json_object_get(json_array_get(l, 0), "source")),
	    "config");
	assert_null(json_object_get(json_array_get(l, 0), "error"));
	assert_string_equal(json_string_value(json_object_get(json_array_get(l, 1), "source")),
	    "env");
	assert_non_null(strstr(json_string_value(json_object_get(json_array_get(l, 2),
	    "error")), "'[' without its ']'"));
	json_decref(o);
	expect_error(&f->ctx, "{\"op\":\"defaults\",\"verbose\":true}", (size_t)-1,
	    "defaults: unknown field \"verbose\"");
}

static void
test_bad_json_gets_an_error_answer(void **state)
{
	static const struct {
		const char	*req;
		size_t		 len;	/* 0: strlen */
		const char	*words;
	} bad[] = {
		{ "", 0, "request: bad JSON at line" },
		{ "{", 0, "request: bad JSON" },
		{ "nope", 0, "request: bad JSON" },
		{ "{\"op\":\"check\"", 0, "request: bad JSON" },
		{ "{\"op\":\"defaults\"} {}", 0, "request: bad JSON" },
		{ "{\"op\":\"defaults\",\"op\":\"check\"}", 0, "duplicate" },
		{ "{\"op\":\"defa\0ults\"}", 18, "request: bad JSON" },
		{ "{\"op\":\"defaults\"}\0", 18, "request: bad JSON" },
		{ "{\"op\":\"\\u0000\"}", 0, "request: bad JSON" },
		{ "{\"op\":\"\xff\"}", 0, "request: bad JSON" },
		{ "[1]", 0, "request: not a JSON object" },
		{ "[{\"op\":\"defaults\"}]", 0, "request: not a JSON object" },
		{ "{}", 0, "request: missing \"op\"" },
		{ "{\"op\":1}", 0, "request: \"op\" must be a string" },
		{ "{\"op\":null}", 0, "request: \"op\" must be a string" },
		{ "{\"op\":\"explode\"}", 0, "request: unknown op \"explode\" (one of check," },
		{ "{\"op\":\"CHECK\"}", 0, "unknown op \"CHECK\"" },
		{ "{\"op\":\"a\\nb\\\"c\"}", 0, "unknown op \"a\\x0ab\\x22c\"" },
	};
	struct fix *f = *state;
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect_error(&f->ctx, bad[i].req, bad[i].len ? bad[i].len : strlen(bad[i].req),
		    bad[i].words);
}

static void
test_deep_nesting_and_big_numbers_are_errors(void **state)
{
	struct fix *f = *state;
	char *req = malloc(CONTROL_REQUEST_MAX);
	size_t i;

	assert_non_null(req);
	for (i = 0; i < 30000; i++)
		req[i] = '[';
	expect_error(&f->ctx, req, 30000, "request: bad JSON");
	free(req);
	expect_error(&f->ctx, "{\"op\":\"check\",\"host\":\"x.com\",\"port\":"
	    "99999999999999999999999}", (size_t)-1, "request: bad JSON");
}

static void
test_missing_and_ill_typed_fields_are_errors(void **state)
{
	static const struct {
		const char	*req;
		const char	*words;
	} bad[] = {
		{ "{\"op\":\"check\"}", "check: missing \"host\"" },
		{ "{\"op\":\"check\",\"port\":443}", "check: missing \"host\"" },
		{ "{\"op\":\"check\",\"host\":\"x.com\"}", "check: missing \"port\"" },
		{ "{\"op\":\"check\",\"host\":5,\"port\":443}", "check: \"host\" must be a string" },
		{ "{\"op\":\"check\",\"host\":null,\"port\":443}", "\"host\" must be a string" },
		{ "{\"op\":\"check\",\"host\":\"x.com\",\"port\":\"443\"}",
		  "check: \"port\" must be an integer" },
		{ "{\"op\":\"check\",\"host\":\"x.com\",\"port\":443.0}",
		  "check: \"port\" must be an integer" },
		{ "{\"op\":\"check\",\"host\":\"x.com\",\"port\":0}",
		  "check: port 0 is out of range 1-65535" },
		{ "{\"op\":\"check\",\"host\":\"x.com\",\"port\":65536}",
		  "check: port 65536 is out of range" },
		{ "{\"op\":\"check\",\"host\":\"x.com\",\"port\":-443}", "port -443 is out of range" },
		{ "{\"op\":\"check\",\"host\":\"x.com\",\"port\":9223372036854775807}",
		  "out of range" },
		{ "{\"op\":\"check\",\"host\":\"x.com\",\"port\":443,\"allow\":\"x.com\"}",
		  "check: \"allow\" must be an array of patterns" },
		{ "{\"op\":\"check\",\"host\":\"x.com\",\"port\":443,\"allow\":[\"a\",1]}",
		  "check: allow[1] must be a string" },
		{ "{\"op\":\"check\",\"host\":\"x.com\",\"port\":443,\"allow\":[[]]}",
		  "check: allow[0] must be a string" },
		{ "{\"op\":\"check\",\"host\":\"x.com\",\"port\":443,\"network\":\"yes\"}",
		  "check: \"network\" must be true or false" },
		{ "{\"op\":\"check\",\"host\":\"x.com\",\"port\":443,\"network\":1}",
		  "\"network\" must be true or false" },
		{ "{\"op\":\"check\",\"host\":\"x.com\",\"port\":443,\"netwrok\":false}",
		  "check: unknown field \"netwrok\"" },
		{ "{\"op\":\"check\",\"host\":\"\",\"port\":443}", "check: empty host" },
	};
	struct fix *f = *state;
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect_error(&f->ctx, bad[i].req, strlen(bad[i].req), bad[i].words);
}

static void
test_request_over_64k_is_refused(void **state)
{
	struct fix *f = *state;
	char *req = malloc(CONTROL_REQUEST_MAX + 1);
	const char *op = "{\"op\":\"defaults\"}";
	json_t *o;

	assert_non_null(req);
	memset(req, ' ', CONTROL_REQUEST_MAX + 1);
	memcpy(req, op, strlen(op));
	o = askn(&f->ctx, req, CONTROL_REQUEST_MAX);	/* exactly 64 KiB: fine */
	assert_null(error_of(o));
	assert_true(json_is_true(json_object_get(o, "guard")));
	json_decref(o);
	expect_error(&f->ctx, req, CONTROL_REQUEST_MAX + 1,
	    "request: 65537 bytes, more than the 65536 allowed");
	free(req);
	/* The daemon stops keeping a request past the limit and passes its true size. */
	expect_error(&f->ctx, NULL, 1000000, "request: 1000000 bytes, more than the 65536");
}

static void
test_api_ops_are_refused_when_the_flag_is_off(void **state)
{
	struct fix *f = *state;

	f->ctx.uid = 0;
	expect_error(&f->ctx, "{\"op\":\"providers\"}", (size_t)-1,
	    "providers: enable_security_api is off in " CONFIG_PATH);
	expect_error(&f->ctx, "{\"op\":\"audit\",\"limit\":5}", (size_t)-1,
	    "audit: enable_security_api is off in " CONFIG_PATH);
	expect_error(&f->ctx, "{\"op\":\"rotate\"}", (size_t)-1,
	    "rotate: enable_security_api is off in " CONFIG_PATH);
	f->cfg.path = NULL;
	expect_error(&f->ctx, "{\"op\":\"rotate\"}", (size_t)-1,
	    "rotate: enable_security_api is off in the built-in defaults");
	f->cfg.path = (char *)CONFIG_PATH;
	assert_int_equal(f->rotated, 0);
	f->ctx.uid = 1000;
}

static void
test_rotate_is_refused_for_non_root(void **state)
{
	struct fix *f = *state;

	f->cfg.enable_security_api = 1;
	expect_error(&f->ctx, "{\"op\":\"rotate\"}", (size_t)-1,
	    "rotate: only root may rotate the key (the caller is uid 1000)");
	expect_error(&f->ctx, "{\"op\":\"rotate\",\"new_key\":\"" NEW_KEY "\"}", (size_t)-1,
	    "only root");
	assert_int_equal(f->rotated, 0);
	f->cfg.enable_security_api = 0;
	assert_int_equal(unwiped_key_blocks, 0);
}

static void
test_rotate_is_refused_in_a_fleet(void **state)
{
	struct fix *f = *state;
	struct control_ctx c = f->ctx;

	f->cfg.enable_security_api = 1;
	c.uid = 0;
	f->cfg.fleet.role = FLEET_ROLE_MEMBER;
	f->cfg.fleet.name = (char *)"prod";
	expect_error(&c, "{\"op\":\"rotate\"}", (size_t)-1,
	    "rotate: this vault belongs to fleet prod; rotate with `comfysecrets rotate` on "
	    "its admin host, which publishes it");
	f->cfg.fleet.role = FLEET_ROLE_ADMIN;
	expect_error(&c, "{\"op\":\"rotate\"}", (size_t)-1,
	    "rotate: this host is the admin of fleet prod; rotate with `comfysecrets rotate` "
	    "here, which publishes it");
	assert_int_equal(f->rotated, 0);
	f->cfg.fleet.role = FLEET_ROLE_NONE;
	f->cfg.fleet.name = NULL;
	f->cfg.enable_security_api = 0;
}

static void
test_status_outside_a_fleet_says_so(void **state)
{
	struct fix *f = *state;
	json_t *o;

	o = ask(&f->ctx, "{\"op\":\"status\"}");
	assert_non_null(o);
	assert_true(json_is_null(json_object_get(o, "fleet")));
	json_decref(o);
	expect_error(&f->ctx, "{\"op\":\"status\",\"x\":1}", (size_t)-1, "status:");
}

static void
test_missing_callbacks_are_not_available(void **state)
{
	struct fix *f = *state;
	struct control_ctx c = f->ctx;

	f->cfg.enable_security_api = 1;
	c.uid = 0;
	c.providers = NULL;
	c.rotate = NULL;
	expect_error(&c, "{\"op\":\"providers\"}", (size_t)-1, "providers: not available here");
	expect_error(&c, "{\"op\":\"rotate\"}", (size_t)-1, "rotate: not available here");
	f->cfg.enable_security_api = 0;
}

static void
test_providers_list_names_and_the_audit_path(void **state)
{
	struct fix *f = *state;
	json_t *o, *p;

	f->cfg.enable_security_api = 1;
	o = ask(&f->ctx, "{\"op\":\"providers\"}");
	assert_null(error_of(o));
	p = json_array_get(json_object_get(o, "providers"), 0);
	assert_string_equal(json_string_value(json_object_get(p, "name")), "runpod");
	assert_string_equal(json_string_value(json_object_get(o, "audit_path")), f->log);
	json_decref(o);
	expect_error(&f->ctx, "{\"op\":\"providers\",\"x\":1}", (size_t)-1,
	    "providers: unknown field \"x\"");
	f->cfg.enable_security_api = 0;
}

static void
test_rotate_hands_over_the_key_and_wipes_it(void **state)
{
	struct fix *f = *state;
	char *ans = NULL;
	size_t alen;
	json_t *o;

	f->cfg.enable_security_api = 1;
	f->ctx.uid = 0;
	unwiped_key_blocks = 0;
	o = ask(&f->ctx, "{\"op\":\"rotate\",\"new_key\":\"" NEW_KEY "\"}");
	assert_int_equal(f->key_seen, 1);
	assert_string_equal(json_string_value(json_object_get(o, "fingerprint")),
	    "0123456789abcdef");
	json_decref(o);
	assert_int_equal(unwiped_key_blocks, 0);
	/* a fresh key; null is "not given" */
	o = ask(&f->ctx, "{\"op\":\"rotate\",\"new_key\":null}");
	assert_null(error_of(o));
	json_decref(o);
	/* the callback's error, and no trace of the key in any answer */
	expect_error(&f->ctx, "{\"op\":\"rotate\",\"new_key\":\"bad\"}", (size_t)-1,
	    "rotate: new key: not 32 bytes of base64");
	expect_error(&f->ctx, "{\"op\":\"rotate\",\"new_key\":42}", (size_t)-1,
	    "rotate: \"new_key\" must be a string (base64)");
	expect_error(&f->ctx, "{\"op\":\"rotate\",\"new_key\":\"" NEW_KEY "\",\"x\":1}",
	    (size_t)-1, "rotate: unknown field \"x\"");
	assert_int_equal(unwiped_key_blocks, 0);
	/* the key in a request that does not parse is not echoed in the error */
	assert_int_equal(control_handle(&f->ctx, "{\"op\":\"rotate\",\"new_key\":\"" NEW_KEY,
	    strlen("{\"op\":\"rotate\",\"new_key\":\"" NEW_KEY), &ans, &alen), 0);
	assert_null(strstr(ans, "c2VjcmV0"));
	assert_non_null(strstr(ans, "bad JSON"));
	free(ans);
	assert_int_equal(control_handle(&f->ctx, "{\"op\":\"rotate\",\"new_key\":\"" NEW_KEY
	    "\" x}", strlen("{\"op\":\"rotate\",\"new_key\":\"" NEW_KEY "\" x}"), &ans, &alen), 0);
	assert_null(strstr(ans, "c2VjcmV0"));
	free(ans);
	/* a check request carrying one is refused, and wiped all the same */
	unwiped_key_blocks = 0;
	expect_error(&f->ctx, "{\"op\":\"check\",\"host\":\"x.com\",\"port\":1,\"new_key\":\""
	    NEW_KEY "\"}", (size_t)-1, "check: unknown field \"new_key\"");
	assert_int_equal(unwiped_key_blocks, 0);
	f->ctx.uid = 1000;
	f->cfg.enable_security_api = 0;
}

static void
test_denial_writes_a_sandbox_blocked_line(void **state)
{
	struct fix *f = *state;
	char **lines = NULL;
	size_t n0, n;
	json_t *o, *l;

	n0 = log_lines(f, &lines);
	audit_lines_free(lines, n0);
	/* an allowed check writes nothing */
	o = ask(&f->ctx, "{\"op\":\"check\",\"host\":\"localhost\",\"port\":8080}");
	assert_true(json_is_true(json_object_get(o, "allowed")));
	json_decref(o);
	n = log_lines(f, &lines);
	audit_lines_free(lines, n);
	assert_int_equal(n, n0);
	/* a denial writes one line, with the pair, the reason and who asked */
	o = ask(&f->ctx, "{\"op\":\"check\",\"host\":\"evil.example.net\",\"port\":443}");
	assert_true(json_is_false(json_object_get(o, "allowed")));
	assert_null(json_object_get(o, "audit_error"));
	json_decref(o);
	n = log_lines(f, &lines);
	assert_int_equal(n, n0 + 1);
	l = json_loads(lines[n - 1], 0, NULL);
	assert_non_null(l);
	assert_string_equal(json_string_value(json_object_get(l, "event")), "sandbox_blocked");
	assert_string_equal(json_string_value(json_object_get(l, "host")), "evil.example.net");
	assert_int_equal(json_integer_value(json_object_get(l, "port")), 443);
	assert_non_null(strstr(json_string_value(json_object_get(l, "reason")),
	    "evil.example.net:443 matches no pattern"));
	assert_int_equal(json_integer_value(json_object_get(l, "pid")), 4242);
	assert_int_equal(json_integer_value(json_object_get(l, "uid")), 1000);
	assert_int_equal(json_integer_value(json_object_get(l, "gid")), 1000);
	assert_string_equal(json_string_value(json_object_get(l, "comm")), "curl");
	assert_string_equal(json_string_value(json_object_get(l, "via")), "fs");
	json_decref(l);
	audit_lines_free(lines, n);
	/* network: false is a denial too, and so is a guard-off "no" */
	o = ask(&f->ctx, "{\"op\":\"check\",\"host\":\"localhost\",\"port\":8080,"
	    "\"network\":false}");
	json_decref(o);
	n = log_lines(f, &lines);
	assert_int_equal(n, n0 + 2);
	audit_lines_free(lines, n);
	/* an error is not a decision: nothing written */
	expect_error(&f->ctx, "{\"op\":\"check\",\"host\":\"x.com\",\"port\":1,\"allow\":[\"*.\"]}",
	    (size_t)-1, "check: allow[0]");
	n = log_lines(f, &lines);
	assert_int_equal(n, n0 + 2);
	audit_lines_free(lines, n);
}

static void
test_audit_op_returns_the_latest_lines_as_objects(void **state)
{
	struct fix *f = *state;
	json_t *o, *items;

	o = ask(&f->ctx, "{\"op\":\"check\",\"host\":\"blocked.example\",\"port\":25}");
	json_decref(o);
	f->cfg.enable_security_api = 1;
	f->ctx.uid = 0;
	o = ask(&f->ctx, "{\"op\":\"audit\",\"limit\":1}");
	items = json_object_get(o, "items");
	assert_int_equal(json_array_size(items), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0),
	    "event")), "sandbox_blocked");
	assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0),
	    "host")), "blocked.example");
	assert_string_equal(json_string_value(json_object_get(o, "path")), f->log);
	json_decref(o);
	o = ask(&f->ctx, "{\"op\":\"audit\"}");		/* limit defaults */
	assert_true(json_array_size(json_object_get(o, "items")) >= 1);
	json_decref(o);
	expect_error(&f->ctx, "{\"op\":\"audit\",\"limit\":0}", (size_t)-1,
	    "audit: limit 0 is out of range 1-1000");
	expect_error(&f->ctx, "{\"op\":\"audit\",\"limit\":1001}", (size_t)-1, "out of range");
	expect_error(&f->ctx, "{\"op\":\"audit\",\"limit\":\"5\"}", (size_t)-1,
	    "audit: \"limit\" must be an integer");
	/* no log yet: no items, not an error */
	f->cfg.audit_path = (char *)"/nonexistent/comfysecrets/audit.log";
	o = ask(&f->ctx, "{\"op\":\"audit\",\"limit\":3}");
	assert_null(error_of(o));
	assert_int_equal(json_array_size(json_object_get(o, "items")), 0);
	json_decref(o);
	f->cfg.audit_path = f->log;
	f->cfg.enable_security_api = 0;
	f->ctx.uid = 1000;
}

/* An answer is at most CONTROL_ANSWER_MAX bytes: audit keeps the newest lines that fit
 * and says it cut the rest. */
static void
test_audit_keeps_the_newest_lines_that_fit(void **state)
{
	struct fix *f = *state;
	char req[512], host[256], last[256];
	char *ans = NULL;
	size_t alen = 0, n, i;
	json_t *o, *items;

	memset(host, 'a', 60);
	host[60] = '.';
	memset(host + 61, 'b', 60);
	host[121] = '.';
	memset(host + 122, 'c', 60);
	/* root's denials are written one by one (a user's are merged) */
	f->ctx.uid = 0;
	for (i = 0; i < CONTROL_AUDIT_LIMIT_MAX; i++) {
		snprintf(host + 182, sizeof host - 182, ".d%zu.example", i);
		snprintf(req, sizeof req, "{\"op\":\"check\",\"host\":\"%s\",\"port\":1}", host);
		json_decref(ask(&f->ctx, req));
	}
	snprintf(last, sizeof last, "%s", host);
	f->cfg.enable_security_api = 1;
	f->ctx.uid = 0;
	snprintf(req, sizeof req, "{\"op\":\"audit\",\"limit\":%d}", CONTROL_AUDIT_LIMIT_MAX);
	assert_int_equal(control_handle(&f->ctx, req, strlen(req), &ans, &alen), 0);
	assert_true(alen <= CONTROL_ANSWER_MAX);
	o = answer_of(ans, alen);
	free(ans);
	items = json_object_get(o, "items");
	n = json_array_size(items);
	assert_true(n > 100 && n < CONTROL_AUDIT_LIMIT_MAX);
	assert_true(json_is_true(json_object_get(o, "truncated")));
	assert_string_equal(json_string_value(json_object_get(json_array_get(items, n - 1),
	    "host")), last);
	json_decref(o);
	f->ctx.uid = 1000;
	f->cfg.enable_security_api = 0;
}

/* The audit log names who read what: only root (and the config's audit_group) sees it,
 * and a request written by root to a handle another uid opened runs with the opener's
 * rights, for rotate too. */
static void
test_audit_and_rotate_need_root_as_writer_and_opener(void **state)
{
	struct fix *f = *state;
	json_t *o;

	f->cfg.enable_security_api = 1;
	expect_error(&f->ctx, "{\"op\":\"audit\"}", (size_t)-1,
	    "audit: only root may read the audit log (the caller is uid 1000)");
	f->ctx.uid = 0;
	f->ctx.has_opener = 1;
	f->ctx.opener_uid = 1000;
	expect_error(&f->ctx, "{\"op\":\"audit\",\"limit\":1}", (size_t)-1,
	    "audit: only root may read the audit log (the caller is uid 0, the handle was "
	    "opened by uid 1000)");
	expect_error(&f->ctx, "{\"op\":\"rotate\"}", (size_t)-1,
	    "rotate: only root may rotate the key (the caller is uid 0, the handle was "
	    "opened by uid 1000)");
	assert_int_equal(f->rotated, 0);
	f->ctx.opener_uid = 0;
	o = ask(&f->ctx, "{\"op\":\"audit\",\"limit\":1}");
	assert_null(error_of(o));
	json_decref(o);
	f->ctx.has_opener = 0;
	f->ctx.uid = 1000;
	/* the config's audit_group: its members read it too, as the caller says */
	f->cfg.has_audit_group = 1;
	f->cfg.audit_group = 4242;
	expect_error(&f->ctx, "{\"op\":\"audit\"}", (size_t)-1,
	    "audit: only root and group 4242 (audit_group) may read the audit log (the caller "
	    "is uid 1000)");
	f->ctx.audit_member = 1;
	o = ask(&f->ctx, "{\"op\":\"audit\",\"limit\":1}");
	assert_null(error_of(o));
	json_decref(o);
	expect_error(&f->ctx, "{\"op\":\"rotate\"}", (size_t)-1, "only root may rotate");
	f->ctx.audit_member = 0;
	f->cfg.has_audit_group = 0;
	f->cfg.enable_security_api = 0;
}

static void
test_unrecorded_denial_fails_closed(void **state)
{
	struct fix *f = *state;
	struct audit *full = NULL;
	struct cs_err e = { 0 };
	struct control_ctx c = f->ctx;
	json_t *o;

	if (audit_open("/dev/full", AUDIT_FLUSH_NONE, 2000, &full, &e) == -1)
		fail_msg("audit_open /dev/full: %s", e.msg);
	c.audit = full;
	expect_error(&c, "{\"op\":\"check\",\"host\":\"evil.example.net\",\"port\":443}",
	    (size_t)-1, "check: sandbox_blocked could not be audited: ");
	/* an allowed check needs no line */
	o = ask(&c, "{\"op\":\"check\",\"host\":\"localhost\",\"port\":8080}");
	assert_true(json_is_true(json_object_get(o, "allowed")));
	json_decref(o);
	/* fail_closed off: the denial stands and says the line is missing */
	f->cfg.audit_fail_closed = 0;
	o = ask(&c, "{\"op\":\"check\",\"host\":\"evil.example.net\",\"port\":443}");
	assert_true(json_is_false(json_object_get(o, "allowed")));
	assert_non_null(json_string_value(json_object_get(o, "audit_error")));
	json_decref(o);
	f->cfg.audit_fail_closed = 1;
	audit_close(full);
}

static void
test_sandbox_path_names_answer_the_same_check(void **state)
{
	static const struct {
		const char	*pair;
		int		 allowed;	/* -1: error */
		const char	*words;
	} pairs[] = {
		{ "api.example.com:443", 1, NULL },
		{ "localhost:8080", 1, NULL },
		{ "[::1]:8080", 1, NULL },
		{ "127.0.0.1:8080", 1, NULL },
		{ "api.example.com:80", 0, NULL },
		{ "[::1]:8000", 0, NULL },
		{ "api.example.com", -1, "expected HOST:PORT" },
		{ "::1:8000", -1, "in brackets" },
		{ "[::1]8000", -1, "expected [IPv6]:PORT" },
		{ "x.com:0", -1, "the port must be a number 1-65535" },
		{ "x.com:65536", -1, "the port must be a number" },
		{ "x.com:", -1, "the port must be a number" },
		{ "x.com:44a", -1, "the port must be a number" },
		{ ":443", -1, "empty host" },
		{ "*.example.com:443", -1, "host \"*.example.com\"" },
		{ "foo", -1, "expected HOST:PORT" },
		{ "x.com:123456", -1, "the port must be a number" },
	};
	struct fix *f = *state;
	struct cs_err e;
	char *ans, lng[CONTROL_PAIR_MAX + 8];
	size_t i, alen;
	json_t *o;

	for (i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
		assert_int_equal(control_check_pair(&f->ctx, pairs[i].pair, &ans, &alen), 0);
		o = answer_of(ans, alen);
		memset(&e, 0, sizeof e);
		/* control_pair_parse (the daemon's ENOENT) refuses exactly the errors. */
		if (pairs[i].allowed == -1) {
			if (error_of(o) == NULL || strstr(error_of(o), pairs[i].words) == NULL)
				fail_msg("%s: %s", pairs[i].pair, ans);
			assert_int_equal(control_pair_parse(pairs[i].pair, &e), -1);
			assert_int_equal(e.code, EINVAL);
			if (strstr(e.msg, pairs[i].words) == NULL)
				fail_msg("%s: control_pair_parse: %s", pairs[i].pair, e.msg);
		} else if (json_is_true(json_object_get(o, "allowed")) != pairs[i].allowed) {
			fail_msg("%s: %s", pairs[i].pair, ans);
		} else if (control_pair_parse(pairs[i].pair, &e) != 0) {
			fail_msg("%s: control_pair_parse: %s", pairs[i].pair, e.msg);
		}
		json_decref(o);
		free(ans);
	}
	memset(lng, 'a', sizeof lng - 5);
	memcpy(lng + sizeof lng - 5, ":443", 5);
	memset(&e, 0, sizeof e);
	assert_int_equal(control_pair_parse(lng, &e), -1);
	assert_non_null(strstr(e.msg, "too long for host:port"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_check_answers_the_app_curl_example, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_check_without_network_is_denied, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_check_with_a_bad_pattern_is_an_error, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_defaults_show_guard_and_allowlist_with_sources,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_json_gets_an_error_answer, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_deep_nesting_and_big_numbers_are_errors,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_and_ill_typed_fields_are_errors,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_over_64k_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_api_ops_are_refused_when_the_flag_is_off,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_outside_a_fleet_says_so, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_rotate_is_refused_in_a_fleet, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_rotate_is_refused_for_non_root, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_missing_callbacks_are_not_available, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_providers_list_names_and_the_audit_path,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotate_hands_over_the_key_and_wipes_it,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_denial_writes_a_sandbox_blocked_line, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_audit_op_returns_the_latest_lines_as_objects,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_and_rotate_need_root_as_writer_and_opener,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_keeps_the_newest_lines_that_fit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_unrecorded_denial_fails_closed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_sandbox_path_names_answer_the_same_check,
		    setup, teardown),
	};

	/* before any other jansson call: see hook_free */
	json_set_alloc_funcs(malloc, hook_free);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
