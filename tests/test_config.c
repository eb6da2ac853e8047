/* tests/test_config.c - the INI configuration: defaults, the file, the environment, and
 * every bad input refused with file, line and key named. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

#include "../policy/config.h"

static char dir[64], ini[128];

static void
clear_env(void)
{
	unsetenv(CFG_ENV_PATH);
	unsetenv(CFG_ENV_AUDIT);
	unsetenv(CFG_ENV_ALLOW);
}

static int
setup(void **state)
{
	(void)state;
	if (testutil_mkdtemp(dir, sizeof dir, "config") == -1)
		return -1;
	snprintf(ini, sizeof ini, "%s/test.ini", dir);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	return testutil_rmtree(dir);
}

static int
each(void **state)
{
	(void)state;
	clear_env();
	unlink(ini);
	return 0;
}

static void
write_ini(const char *text)
{
	FILE *f = fopen(ini, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* Loads text and expects EINVAL with each of the words in the message. */
static void
expect_error(const char *text, const char *w1, const char *w2)
{
	struct cfg *c = NULL;
	struct cs_err e = { 0 };

	write_ini(text);
	assert_int_equal(cfg_load(ini, &c, &e), -1);
	assert_null(c);
	assert_int_equal(e.code, EINVAL);
	if (strstr(e.msg, w1) == NULL || (w2 != NULL && strstr(e.msg, w2) == NULL))
		fail_msg("message \"%s\" lacks \"%s\" or \"%s\"", e.msg, w1, w2 ? w2 : "");
	assert_non_null(strstr(e.msg, ini));
}

static void
test_defaults_apply_without_a_file(void **state)
{
	struct cfg *c = NULL;
	struct cs_err e = { 0 };

	(void)state;
	assert_int_equal(cfg_defaults(&c, &e), 0);
	assert_null(c->path);
	assert_string_equal(c->vault_path, CFG_DEFAULT_VAULT);
	assert_string_equal(c->key_file, CFG_DEFAULT_KEY_FILE);
	assert_string_equal(c->state_dir, CFG_DEFAULT_STATE_DIR);
	assert_string_equal(c->audit_path, CFG_DEFAULT_AUDIT);
	assert_int_equal(c->max_value_size, 65536);
	assert_int_equal(c->cache_timeout_s, CFG_CACHE_TIMEOUT_S);
	assert_int_equal(c->audit_fail_closed, 1);
	assert_int_equal(c->audit_flush, AUDIT_FLUSH_ASYNC);
	assert_int_equal(c->audit_timeout_ms, 2000);
	assert_int_equal(c->enable_security_api, 0);
	assert_int_equal(c->enable_security_sandbox_guard, 1);
	assert_false(c->has_audit_group);
	assert_int_equal(c->nallow, 0);
	assert_int_equal(c->nproviders, 0);
	cfg_free(c);
}

static void
test_missing_default_file_gives_the_defaults(void **state)
{
	struct cfg *c = NULL;
	struct cs_err e = { 0 };
	struct stat st;

	(void)state;
	if (stat(CFG_DEFAULT_PATH, &st) == 0)
		skip();		/* this machine has a real config; the case cannot be made */
	assert_int_equal(cfg_load(NULL, &c, &e), 0);
	assert_null(c->path);
	assert_string_equal(c->audit_path, CFG_DEFAULT_AUDIT);
	cfg_free(c);
}

static void
test_explicit_missing_file_is_enoent_naming_it(void **state)
{
	struct cfg *c = NULL;
	struct cs_err e = { 0 };

	(void)state;
	assert_int_equal(cfg_load(ini, &c, &e), -1);
	assert_null(c);
	assert_int_equal(e.code, ENOENT);
	assert_non_null(strstr(e.msg, ini));
}

static void
test_missing_file_named_by_env_is_enoent(void **state)
{
	struct cfg *c = NULL;
	struct cs_err e = { 0 };

	(void)state;
	setenv(CFG_ENV_PATH, ini, 1);
	assert_int_equal(cfg_load(NULL, &c, &e), -1);
	assert_int_equal(e.code, ENOENT);
	assert_non_null(strstr(e.msg, ini));
	assert_non_null(strstr(e.msg, CFG_ENV_PATH));
}

static void
test_env_names_the_file_to_load(void **state)
{
	struct cfg *c = NULL;
	struct cs_err e = { 0 };

	(void)state;
	write_ini("[vault]\npath = /srv/v.json\n");
	setenv(CFG_ENV_PATH, ini, 1);
	assert_int_equal(cfg_load(NULL, &c, &e), 0);
	assert_string_equal(c->path, ini);
	assert_string_equal(c->vault_path, "/srv/v.json");
	cfg_free(c);
}

static void
test_full_file_is_parsed(void **state)
{
	struct cfg *c = NULL;
	struct cs_err e = { 0 };
	const struct cfg_provider *p;

	(void)state;
	write_ini("; comfysecrets test config\n"
	    "[vault]\n"
	    "path = /srv/vault.json\n"
	    "key_file = /srv/key\n"
	    "max_value_size = 1024\n"
	    "cache_timeout = 0\n"
	    "\n"
	    "[audit]\n"
	    "path = /srv/audit.log     ; COMFYVN_SECURITY_LOG_FILE overrides\n"
	    "fail_closed = no\n"
	    "flush = sync\n"
	    "timeout_ms = 100\n"
	    "# a hash comment\n"
	    "[features]\n"
	    "enable_security_api = true\n"
	    "enable_security_sandbox_guard = 0\n"
	    "audit_group = 4242\n"
	    "[sandbox]\n"
	    "network_allow = localhost:8080, api.example.com:443 ,, [::1]:8000 ,\n"
	    "[provider.runpod]\n"
	    "owner = root\n"
	    "group = root\n"
	    "mode = 0440\n"
	    "[provider.openai]\n"
	    "mode = 400\n");
	assert_int_equal(cfg_load(ini, &c, &e), 0);
	assert_string_equal(c->path, ini);
	assert_string_equal(c->vault_path, "/srv/vault.json");
	assert_string_equal(c->key_file, "/srv/key");
	assert_int_equal(c->max_value_size, 1024);
	assert_int_equal(c->cache_timeout_s, 0);
	assert_string_equal(c->audit_path, "/srv/audit.log");
	assert_int_equal(c->audit_fail_closed, 0);
	assert_int_equal(c->audit_flush, AUDIT_FLUSH_SYNC);
	assert_int_equal(c->audit_timeout_ms, 100);
	assert_int_equal(c->enable_security_api, 1);
	assert_int_equal(c->enable_security_sandbox_guard, 0);
	assert_true(c->has_audit_group);
	assert_int_equal(c->audit_group, 4242);
	assert_int_equal(c->nallow, 3);
	assert_string_equal(c->allow[0].pattern, "localhost:8080");
	assert_string_equal(c->allow[1].pattern, "api.example.com:443");
	assert_string_equal(c->allow[2].pattern, "[::1]:8000");
	assert_int_equal(c->allow[2].source, ALLOW_FROM_CONFIG);
	assert_int_equal(c->nproviders, 2);
	assert_non_null(p = cfg_provider(c, "runpod"));
	assert_true(p->has_owner && p->has_group && p->has_mode);
	assert_int_equal(p->owner, 0);
	assert_int_equal(p->group, 0);
	assert_int_equal(p->mode, 0440);
	assert_non_null(p = cfg_provider(c, "openai"));
	assert_false(p->has_owner || p->has_group);
	assert_int_equal(p->mode, 0400);
	assert_null(cfg_provider(c, "nope"));
	cfg_free(c);
}

static void
test_booleans_take_every_spelling(void **state)
{
	static const char *yes[] = { "true", "yes", "1", "TRUE", "Yes" };
	static const char *no[] = { "false", "no", "0", "False", "NO" };
	struct cfg *c = NULL;
	struct cs_err e = { 0 };
	char text[128];
	size_t i;

	(void)state;
	for (i = 0; i < 5; i++) {
		snprintf(text, sizeof text, "[audit]\nfail_closed = %s\n[features]\n"
		    "enable_security_api = %s\n", no[i], yes[i]);
		write_ini(text);
		assert_int_equal(cfg_load(ini, &c, &e), 0);
		assert_int_equal(c->audit_fail_closed, 0);
		assert_int_equal(c->enable_security_api, 1);
		cfg_free(c);
	}
}

static void
test_flush_modes_are_parsed(void **state)
{
	struct cfg *c = NULL;
	struct cs_err e = { 0 };

	(void)state;
	write_ini("[audit]\nflush = none\n");
	assert_int_equal(cfg_load(ini, &c, &e), 0);
	assert_int_equal(c->audit_flush, AUDIT_FLUSH_NONE);
	cfg_free(c);
	write_ini("[audit]\nflush = async\n");
	assert_int_equal(cfg_load(ini, &c, &e), 0);
	assert_int_equal(c->audit_flush, AUDIT_FLUSH_ASYNC);
	cfg_free(c);
}

static void
test_each_bad_value_names_file_line_and_key(void **state)
{
	(void)state;
	expect_error("[audit]\n\n\n\n\n\nflush = sometimes\n",
	    ":7: [audit] flush: expected sync, async or none", NULL);
	expect_error("[audit]\nfail_closed = maybe\n",
	    ":2: [audit] fail_closed: expected true or false", NULL);
	expect_error("[audit]\ntimeout_ms = 0\n", ":2: [audit] timeout_ms: expected", NULL);
	expect_error("[audit]\ntimeout_ms = 99\n", ":2: [audit] timeout_ms: expected "
	    "milliseconds from 100 to 600000", NULL);
	expect_error("[audit]\ntimeout_ms = 2s\n", ":2: [audit] timeout_ms: expected", NULL);
	expect_error("[audit]\ntimeout_ms = -5\n", ":2: [audit] timeout_ms:", NULL);
	expect_error("[audit]\npath =\n", ":2: [audit] path: expected a path", NULL);
	expect_error("[vault]\ncache_timeout = 86401\n", ":2: [vault] cache_timeout: expected "
	    "seconds from 0 to 86400", NULL);
	expect_error("[vault]\ncache_timeout = 1.5\n", ":2: [vault] cache_timeout:", NULL);
	expect_error("[vault]\nmax_value_size = 0\n", ":2: [vault] max_value_size:",
	    "16777216");
	expect_error("[vault]\nmax_value_size = 16777217\n", "[vault] max_value_size:", NULL);
	expect_error("[vault]\nmax_value_size = 64k\n", "[vault] max_value_size:", NULL);
	expect_error("[vault]\nmax_value_size = 99999999999999999999999\n",
	    "[vault] max_value_size:", NULL);
	expect_error("[features]\nenable_security_api = on\n",
	    ":2: [features] enable_security_api: expected true or false", NULL);
	expect_error("[features]\nenable_security_sandbox_guard = \n",
	    "[features] enable_security_sandbox_guard: expected true or false", NULL);
}

static void
test_max_value_size_takes_the_hard_limit(void **state)
{
	struct cfg *c = NULL;
	struct cs_err e = { 0 };

	(void)state;
	write_ini("[vault]\nmax_value_size = 16777216\n");
	assert_int_equal(cfg_load(ini, &c, &e), 0);
	assert_int_equal(c->max_value_size, 16777216);
	cfg_free(c);
}

static void
test_unknown_section_is_an_error(void **state)
{
	(void)state;
	expect_error("[vault]\npath = /v\n[valut]\npath = /x\n", ":3: unknown section [valut]",
	    NULL);
	/* an empty section is still caught: inih alone would never mention it */
	expect_error("[vault]\n[bogus]\n", ":2: unknown section [bogus]", NULL);
	expect_error("[ vault ]\n", ":1: unknown section [ vault ]", NULL);
}

static void
test_unknown_key_is_an_error(void **state)
{
	(void)state;
	expect_error("[vault]\npath = /v\nkeyfile = /k\n", ":3: [vault] keyfile: unknown key",
	    NULL);
	expect_error("[provider.runpod]\nowner = root\nperms = 0400\n",
	    ":3: [provider.runpod] perms: unknown key", NULL);
	expect_error("path = /v\n", ":1: path: key outside any section", NULL);
}

static void
test_duplicate_key_is_an_error(void **state)
{
	(void)state;
	expect_error("[audit]\nflush = sync\nflush = none\n",
	    ":3: [audit] flush: duplicate key (first set on line 2)", NULL);
	/* the same section twice is fine, the same key in it twice is not */
	expect_error("[audit]\nflush = sync\n[vault]\npath = /v\n[audit]\nflush = none\n",
	    ":6: [audit] flush: duplicate key", NULL);
	expect_error("[provider.x]\nmode = 0400\n[provider.x]\nmode = 0440\n",
	    ":4: [provider.x] mode: duplicate key", NULL);
}

static void
test_the_first_error_in_the_file_wins(void **state)
{
	(void)state;
	expect_error("[audit]\nflush = bad\nwhat = 1\n", ":2: [audit] flush", NULL);
	expect_error("[audit]\nthis line has no equals sign\nflush = bad\n",
	    ":2: malformed line", NULL);
	expect_error("[audit]\nflush = bad\nthis line has no equals sign\n",
	    ":2: [audit] flush", NULL);
}

static void
test_a_too_long_line_is_an_error_not_a_split(void **state)
{
	char text[1024];
	char pad[400];

	(void)state;
	memset(pad, 'a', sizeof pad - 1);
	pad[sizeof pad - 1] = '\0';
	/* inih's buffer holds 200 bytes; the rest would parse as "key = value" on its own */
	snprintf(text, sizeof text, "[audit]\npath = /%s\n", pad);
	expect_error(text, ":2: line too long or malformed", NULL);
	snprintf(text, sizeof text, "[sandbox]\n; %s flush = none\n", pad);
	expect_error(text, ":2: line too long", NULL);
}

static void
test_a_continuation_line_is_an_error(void **state)
{
	(void)state;
	expect_error("[sandbox]\nnetwork_allow = a:1\n    b:2\n",
	    ":3: [sandbox] network_allow: continuation lines are not supported", NULL);
}

static void
test_a_malformed_line_is_an_error(void **state)
{
	(void)state;
	expect_error("[vault\npath = /v\n", ":1: malformed line", NULL);
	expect_error("[vault]\njust words\n", ":2: malformed line", NULL);
}

static void
test_a_directory_is_not_a_config_file(void **state)
{
	struct cfg *c = NULL;
	struct cs_err e = { 0 };

	(void)state;
	assert_int_equal(cfg_load(dir, &c, &e), -1);
	assert_int_equal(e.code, EINVAL);
	assert_non_null(strstr(e.msg, "not a regular file"));
}

static void
test_env_log_file_overrides_the_audit_path(void **state)
{
	struct cfg *c = NULL;
	struct cs_err e = { 0 };

	(void)state;
	write_ini("[audit]\npath = /srv/audit.log\n");
	setenv(CFG_ENV_AUDIT, "/tmp/elsewhere.log", 1);
	assert_int_equal(cfg_load(ini, &c, &e), 0);
	assert_string_equal(c->audit_path, "/tmp/elsewhere.log");
	cfg_free(c);
	/* set but empty is unset, as ${COMFYVN_SECURITY_LOG_FILE:-...} in the app's scripts */
	setenv(CFG_ENV_AUDIT, "", 1);
	assert_int_equal(cfg_load(ini, &c, &e), 0);
	assert_string_equal(c->audit_path, "/srv/audit.log");
	cfg_free(c);
	setenv(CFG_ENV_AUDIT, "logs/security.log", 1);
	assert_int_equal(cfg_defaults(&c, &e), 0);
	assert_string_equal(c->audit_path, "logs/security.log");
	cfg_free(c);
}

static void
test_repeated_network_allow_lines_add_up(void **state)
{
	struct cfg *c = NULL;
	struct cs_err e = { 0 };

	(void)state;
	write_ini("[sandbox]\nnetwork_allow = a.example:1, b.example:2\n"
	    "network_allow = c.example:3\n");
	assert_int_equal(cfg_load(ini, &c, &e), 0);
	assert_int_equal(c->nallow, 3);
	assert_string_equal(c->allow[2].pattern, "c.example:3");
	assert_int_equal(c->allow[2].source, ALLOW_FROM_CONFIG);
	cfg_free(c);
}

static void
test_env_allow_adds_entries_marked_env(void **state)
{
	struct cfg *c = NULL;
	struct cs_err e = { 0 };

	(void)state;
	write_ini("[sandbox]\nnetwork_allow = localhost:8080\n");
	/* the app's documented example */
	setenv(CFG_ENV_ALLOW, "localhost:8080,api.example.com:443", 1);
	assert_int_equal(cfg_load(ini, &c, &e), 0);
	assert_int_equal(c->nallow, 3);
	assert_string_equal(c->allow[0].pattern, "localhost:8080");
	assert_int_equal(c->allow[0].source, ALLOW_FROM_CONFIG);
	assert_string_equal(c->allow[1].pattern, "localhost:8080");
	assert_int_equal(c->allow[1].source, ALLOW_FROM_ENV);
	assert_string_equal(c->allow[2].pattern, "api.example.com:443");
	assert_int_equal(c->allow[2].source, ALLOW_FROM_ENV);
	cfg_free(c);
	setenv(CFG_ENV_ALLOW, " , *.example.com ,  ", 1);
	assert_int_equal(cfg_defaults(&c, &e), 0);
	assert_int_equal(c->nallow, 1);
	assert_string_equal(c->allow[0].pattern, "*.example.com");
	assert_int_equal(c->allow[0].source, ALLOW_FROM_ENV);
	cfg_free(c);
}

static void
test_provider_owner_and_group_by_name_and_number(void **state)
{
	struct cfg *c = NULL;
	struct cs_err e = { 0 };
	const struct cfg_provider *p;

	(void)state;
	write_ini("[provider.a]\nowner = root\ngroup = root\n"
	    "[provider.b]\nowner = 1000\ngroup = 4242\nmode = 0\n");
	assert_int_equal(cfg_load(ini, &c, &e), 0);
	assert_non_null(p = cfg_provider(c, "a"));
	assert_int_equal(p->owner, 0);
	assert_int_equal(p->group, 0);
	assert_false(p->has_mode);
	assert_non_null(p = cfg_provider(c, "b"));
	assert_int_equal(p->owner, 1000);
	assert_int_equal(p->group, 4242);
	assert_true(p->has_mode);
	assert_int_equal(p->mode, 0);
	cfg_free(c);
}

static void
test_provider_bad_owner_group_and_mode_are_errors(void **state)
{
	(void)state;
	expect_error("[provider.a]\nowner = no-such-user-here\n",
	    ":2: [provider.a] owner: no such user", NULL);
	expect_error("[provider.a]\ngroup = no-such-group-here\n",
	    ":2: [provider.a] group: no such group", NULL);
	expect_error("[provider.a]\nowner = 4294967295\n", "[provider.a] owner: expected",
	    NULL);
	expect_error("[provider.a]\nmode = 0644x\n",
	    "[provider.a] mode: expected an octal mode", NULL);
	expect_error("[provider.a]\nmode = 0888\n", "[provider.a] mode: expected", NULL);
	expect_error("[provider.a]\nmode = 04755\n", "[provider.a] mode: expected", NULL);
	expect_error("[provider.a]\nmode = 1000\n", "[provider.a] mode: expected", NULL);
	expect_error("[provider.a]\nmode =\n", "[provider.a] mode: expected", NULL);
}

static void
test_provider_names_follow_the_vault_rule(void **state)
{
	struct cfg *c = NULL;
	struct cs_err e = { 0 };
	char text[256], name[80];

	(void)state;
	expect_error("[provider.RunPod]\nmode = 0400\n", ":1: [provider.RunPod]: bad provider",
	    NULL);
	expect_error("[provider.a..b]\n", "bad provider name", NULL);
	expect_error("[provider..hidden]\n", "bad provider name", NULL);
	expect_error("[provider.a/b]\n", "bad provider name", NULL);
	expect_error("[provider.]\n", "bad provider name", NULL);
	/* 64 characters is the limit, past inih's 50-byte section buffer */
	memset(name, 'p', 64);
	name[64] = '\0';
	snprintf(text, sizeof text, "[provider.%s]\nmode = 0400\n", name);
	write_ini(text);
	assert_int_equal(cfg_load(ini, &c, &e), 0);
	assert_int_equal(c->nproviders, 1);
	assert_string_equal(c->providers[0].name, name);
	cfg_free(c);
	snprintf(text, sizeof text, "[provider.%sp]\nmode = 0400\n", name);
	expect_error(text, "bad provider name", NULL);
}

static void
test_set_path_replaces_a_setting(void **state)
{
	struct cfg *c = NULL;
	struct cs_err e = { 0 };

	(void)state;
	assert_int_equal(cfg_defaults(&c, &e), 0);
	assert_int_equal(cfg_set_path(&c->vault_path, "/other/vault.json", &e), 0);
	assert_string_equal(c->vault_path, "/other/vault.json");
	assert_int_equal(cfg_set_path(&c->key_file, "", &e), -1);
	assert_int_equal(e.code, EINVAL);
	assert_string_equal(c->key_file, CFG_DEFAULT_KEY_FILE);
	assert_string_equal(c->state_dir, CFG_DEFAULT_STATE_DIR);
	cfg_free(c);
	cfg_free(NULL);
}

/* Loads ini and expects EPERM naming it and the reason. */
static void
expect_refused(const char *why)
{
	struct cfg *c = NULL;
	struct cs_err e = { 0 };

	assert_int_equal(cfg_load(ini, &c, &e), -1);
	assert_null(c);
	assert_int_equal(e.code, EPERM);
	if (strstr(e.msg, ini) == NULL || strstr(e.msg, why) == NULL)
		fail_msg("message \"%s\" lacks the file or \"%s\"", e.msg, why);
}

static void
test_group_writable_file_is_refused(void **state)
{
	(void)state;
	write_ini("[audit]\nfail_closed = false\n");
	assert_int_equal(chmod(ini, 0620), 0);
	expect_refused("writable by group or others (mode 0620)");
}

static void
test_other_writable_file_is_refused(void **state)
{
	(void)state;
	write_ini("enable_security_api = true\n");
	assert_int_equal(chmod(ini, 0602), 0);
	expect_refused("writable by group or others (mode 0602)");
}

/* The mode of what is opened counts, not the link's: a symlink to a group-writable
 * file is refused, a symlink to a 0600 file is read. */
static void
test_symlink_is_judged_by_its_target(void **state)
{
	char link[sizeof ini + 8];
	struct cfg *c = NULL;
	struct cs_err e = { 0 };

	(void)state;
	snprintf(link, sizeof link, "%s.lnk", ini);
	write_ini("[audit]\nfail_closed = false\n");
	assert_int_equal(chmod(ini, 0600), 0);
	unlink(link);
	assert_int_equal(symlink(ini, link), 0);
	assert_int_equal(cfg_load(link, &c, &e), 0);
	assert_int_equal(c->audit_fail_closed, 0);
	cfg_free(c);
	c = NULL;
	assert_int_equal(chmod(ini, 0660), 0);
	assert_int_equal(cfg_load(link, &c, &e), -1);
	assert_null(c);
	assert_int_equal(e.code, EPERM);
	assert_non_null(strstr(e.msg, "writable by group or others"));
	unlink(link);
}

static void
test_file_not_owned_by_root_is_refused_as_root(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	write_ini("key_file = /tmp/other.key\n");
	assert_int_equal(chmod(ini, 0600), 0);
	assert_int_equal(chown(ini, 4242, 4242), 0);	/* any uid: no such user is needed */
	expect_refused("owned by uid 4242, not root");
}

/* The shipped example, installed 0600 root:root as the README says, is taken. */
static void
test_example_config_installed_0600_loads(void **state)
{
	char path[256], *text;
	struct cfg *c = NULL;
	struct cs_err e = { 0 };
	FILE *f;
	long n;

	(void)state;
	snprintf(path, sizeof path, "%s/examples/comfysecrets.ini",
	    getenv("CS_SRCDIR") != NULL ? getenv("CS_SRCDIR") : ".");
	assert_non_null(f = fopen(path, "r"));
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	assert_true((n = ftell(f)) > 0);
	rewind(f);
	assert_non_null(text = calloc(1, (size_t)n + 1));
	assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	write_ini(text);
	free(text);
	assert_int_equal(chmod(ini, 0600), 0);
	if (cfg_load(ini, &c, &e) != 0)
		fail_msg("%s", e.msg);
	cfg_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_defaults_apply_without_a_file, each),
		cmocka_unit_test_setup(test_missing_default_file_gives_the_defaults, each),
		cmocka_unit_test_setup(test_explicit_missing_file_is_enoent_naming_it, each),
		cmocka_unit_test_setup(test_missing_file_named_by_env_is_enoent, each),
		cmocka_unit_test_setup(test_env_names_the_file_to_load, each),
		cmocka_unit_test_setup(test_full_file_is_parsed, each),
		cmocka_unit_test_setup(test_booleans_take_every_spelling, each),
		cmocka_unit_test_setup(test_flush_modes_are_parsed, each),
		cmocka_unit_test_setup(test_each_bad_value_names_file_line_and_key, each),
		cmocka_unit_test_setup(test_max_value_size_takes_the_hard_limit, each),
		cmocka_unit_test_setup(test_unknown_section_is_an_error, each),
		cmocka_unit_test_setup(test_unknown_key_is_an_error, each),
		cmocka_unit_test_setup(test_duplicate_key_is_an_error, each),
		cmocka_unit_test_setup(test_repeated_network_allow_lines_add_up, each),
		cmocka_unit_test_setup(test_the_first_error_in_the_file_wins, each),
		cmocka_unit_test_setup(test_a_too_long_line_is_an_error_not_a_split, each),
		cmocka_unit_test_setup(test_a_continuation_line_is_an_error, each),
		cmocka_unit_test_setup(test_a_malformed_line_is_an_error, each),
		cmocka_unit_test_setup(test_a_directory_is_not_a_config_file, each),
		cmocka_unit_test_setup(test_env_log_file_overrides_the_audit_path, each),
		cmocka_unit_test_setup(test_env_allow_adds_entries_marked_env, each),
		cmocka_unit_test_setup(test_provider_owner_and_group_by_name_and_number, each),
		cmocka_unit_test_setup(test_provider_bad_owner_group_and_mode_are_errors, each),
		cmocka_unit_test_setup(test_provider_names_follow_the_vault_rule, each),
		cmocka_unit_test_setup(test_set_path_replaces_a_setting, each),
		cmocka_unit_test_setup(test_group_writable_file_is_refused, each),
		cmocka_unit_test_setup(test_other_writable_file_is_refused, each),
		cmocka_unit_test_setup(test_symlink_is_judged_by_its_target, each),
		cmocka_unit_test_setup(test_file_not_owned_by_root_is_refused_as_root, each),
		cmocka_unit_test_setup(test_example_config_installed_0600_loads, each),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
