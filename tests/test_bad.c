/* tests/test_bad.c - the bad-input corpus and the two exhaustive vault sweeps.
 *
 * tests/bad/<kind>/<case>/input is a malformed input and error the exact message it must
 * be refused with (as jansson's test suites do); key cases may hold a `mode` file (octal)
 * for the key file's permissions. Each kind goes through the loader a program uses:
 *
 *	vault    vault_open("input") under the test key (the fuzz corpus's key)
 *	config   cfg_load("input")
 *	key      key_read_file("input"), mode 0600 unless the case says otherwise
 *	control  control_handle(): the answer must be exactly {"error": <error>}
 *	envname  envname_split() of the bytes (an override name in the environment)
 *	name     vault_name_check(name, "field") (a provider or field given to `set`)
 *	pair     control_pair_parse() (a .sandbox/<host>:<port> path name)
 *	audit    audit_verify("input") (`comfysecrets audit --verify`)
 *	state    state_read() of "vault.json" with the input as "vault.json.state" (the
 *	         old place; the new one is parsed by the same code)
 *
 * Files are copied to a private folder and opened there by a relative name, so the
 * messages do not depend on where the tree is. Every refusal must also be a clean line:
 * no control bytes, and no part of a key or of a plaintext canary. BAD_RECORD=1 writes
 * each case's error file from what the code says now (then read every diff).
 *
 * Inputs of 10 MB are made here, not committed. The sweeps take a real vault (made here
 * under the test key, so it cannot go stale) and refuse it truncated at every byte
 * offset and with every single bit of every byte flipped: never accepted, never
 * anything half-built handed back. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#include <jansson.h>
#include <sodium.h>

#include "../crypto/key.h"
#include "../crypto/vault.h"
#include "../policy/audit.h"
#include "../policy/auditread.h"
#include "../policy/config.h"
#include "../policy/control.h"
#include "../policy/envname.h"
#include "../policy/state.h"

#define TEST_KEY_B64	"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="	/* bytes 1..32 */
#define CANARY		"CANARY"	/* a plaintext marker some inputs carry */
#define HUGE_BYTES	(10u << 20)	/* the "10 MB input" */
#define CASES_MIN	50		/* the corpus must keep at least this many */

static struct key *tk;
static char corpus[PATH_MAX];	/* absolute tests/bad */
static char work[64];		/* private folder; the cwd while a case runs */
static char top[PATH_MAX];	/* the cwd to go back to */
static int record;
static size_t ncases;

static int
setup(void **state)
{
	struct cs_err e = { 0 };

	(void)state;
	if (sodium_init() < 0 ||
	    key_parse(TEST_KEY_B64, strlen(TEST_KEY_B64), "test key", &tk, &e) == -1)
		return -1;
	if (getcwd(top, sizeof top) == NULL ||
	    snprintf(corpus, sizeof corpus, "%s/tests/bad", top) >= (int)sizeof corpus)
		return -1;
	if (testutil_mkdtemp(work, sizeof work, "bad") == -1)
		return -1;
	/* The app's variables would change what the loaders read. */
	unsetenv(KEY_ENV);
	unsetenv(CFG_ENV_PATH);
	unsetenv(CFG_ENV_AUDIT);
	unsetenv(CFG_ENV_ALLOW);
	record = getenv("BAD_RECORD") != NULL && strcmp(getenv("BAD_RECORD"), "1") == 0;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	key_free(tk);
	if (chdir(top) == -1)
		return -1;
	if (testutil_rmtree(work) == -1)
		return -1;
	printf("[ INFO     ] %zu corpus cases checked\n", ncases);
	return ncases >= CASES_MIN ? 0 : -1;
}

/* The whole file at path (NUL added, not counted); NULL when it cannot be read. */
static char *
slurp(const char *path, size_t *len)
{
	struct stat st;
	char *buf;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	if (fstat(fd, &st) == -1 || (buf = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return NULL;
	}
	if (read(fd, buf, (size_t)st.st_size) != st.st_size) {
		close(fd);
		free(buf);
		return NULL;
	}
	close(fd);
	buf[st.st_size] = '\0';
	*len = (size_t)st.st_size;
	return buf;
}

static void
spit(const char *path, const void *buf, size_t len, mode_t mode)
{
	int fd;

	unlink(path);
	assert_int_not_equal(fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode), -1);
	assert_int_equal(fchmod(fd, mode), 0);	/* whatever the umask */
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

/* A refusal must be one clean line that gives nothing away. */
static const char *
unclean(const char *msg, const char *input, size_t len)
{
	const char *p;

	if (msg[0] == '\0')
		return "empty message";
	for (p = msg; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
			return "control byte in the message";
	if (strstr(msg, CANARY) != NULL)
		return "the message holds the canary";
	if (strstr(msg, "AQIDBAUGBwgJ") != NULL)
		return "the message holds part of a key";
	(void)input;
	(void)len;
	return NULL;
}

static const struct control_ctx *
control_ctx(void)
{
	static struct cfg c;
	static struct control_ctx ctx;

	c.path = (char *)"bad.ini";
	c.audit_path = (char *)"/nonexistent/audit.log";
	c.enable_security_api = 1;
	c.enable_security_sandbox_guard = 1;
	ctx.cfg = &c;
	ctx.pid = -1;
	ctx.uid = 1000;		/* not root: rotate is refused */
	ctx.via = "test";
	return &ctx;
}

/* Runs one input through kind's loader. Returns 0 and the refusal in msg, or -1 and
 * what went wrong (accepted, crashed the contract) in msg. */
static int
refuse(const char *kind, const char *buf, size_t len, mode_t mode, char *msg, size_t n)
{
	struct cs_err e = { 0 };
	char prov[VAULT_NAME_MAX + 1], field[VAULT_NAME_MAX + 1];
	int rc = -1;

	if (strcmp(kind, "vault") == 0) {
		struct vault *v = NULL;
		spit("input", buf, len, 0600);
		rc = vault_open("input", tk, &v, &e);
		if (rc == 0 || v != NULL) {
			vault_close(v);
			snprintf(msg, n, "accepted");
			return -1;
		}
	} else if (strcmp(kind, "config") == 0) {
		struct cfg *c = NULL;
		spit("input", buf, len, 0600);
		rc = cfg_load("input", &c, &e);
		if (rc == 0 || c != NULL) {
			cfg_free(c);
			snprintf(msg, n, "accepted");
			return -1;
		}
	} else if (strcmp(kind, "key") == 0) {
		struct key *k = NULL;
		spit("input", buf, len, mode);
		rc = key_read_file("input", &k, &e);
		if (rc == 0 || k != NULL) {
			key_free(k);
			snprintf(msg, n, "accepted");
			return -1;
		}
	} else if (strcmp(kind, "control") == 0) {
		char *ans = NULL;
		size_t alen = 0;
		json_t *o, *err;
		if (control_handle(control_ctx(), buf, len, &ans, &alen) != 0) {
			snprintf(msg, n, "no answer");
			return -1;
		}
		o = json_loadb(ans, alen, 0, NULL);
		err = json_object_get(o, "error");
		if (alen == 0 || ans[alen - 1] != '\n' || !json_is_object(o) ||
		    json_object_size(o) != 1 || !json_is_string(err)) {
			snprintf(msg, n, "not an error answer: %.100s", ans);
			json_decref(o);
			free(ans);
			return -1;
		}
		snprintf(e.msg, sizeof e.msg, "%s", json_string_value(err));
		e.code = EINVAL;
		json_decref(o);
		free(ans);
	} else if (strcmp(kind, "envname") == 0) {
		if (envname_split(buf, len, prov, field, &e) == 0) {
			snprintf(msg, n, "accepted as %s/%s", prov, field);
			return -1;
		}
	} else if (strcmp(kind, "name") == 0) {
		if (memchr(buf, '\0', len) != NULL || vault_name_check(buf, "field", &e) == 0) {
			snprintf(msg, n, memchr(buf, '\0', len) ? "a C string has no NUL" :
			    "accepted");
			return -1;
		}
	} else if (strcmp(kind, "pair") == 0) {
		if (memchr(buf, '\0', len) != NULL || control_pair_parse(buf, &e) == 0) {
			snprintf(msg, n, "accepted");
			return -1;
		}
	} else if (strcmp(kind, "audit") == 0) {
		struct audit_verify_result r;
		spit("input", buf, len, 0600);
		if (audit_verify("input", 0, NULL, &r, &e) == 0 || r.bad_line == 0) {
			snprintf(msg, n, "accepted (or no bad line named)");
			return -1;
		}
	} else if (strcmp(kind, "state") == 0) {
		struct cs_state st;
		spit("vault.json" STATE_SUFFIX, buf, len, 0600);
		/* No state folder: the input is read as the old file beside the vault. */
		if (state_read("/nonexistent-state-dir", "vault.json", &st, &e) == 0) {
			snprintf(msg, n, "accepted");
			return -1;
		}
	} else {
		snprintf(msg, n, "unknown kind of input");
		return -1;
	}
	if (e.code == 0) {
		snprintf(msg, n, "refused without an error code: %s", e.msg);
		return -1;
	}
	snprintf(msg, n, "%s", e.msg);
	return 0;
}

static int
by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Every case of one kind; the failures are listed, then counted. */
static void
run_kind(const char *kind)
{
	struct dirent **ents;
	char dir[PATH_MAX + 64], path[PATH_MAX + 512], got[CS_ERR_MSG_MAX + 128], *input,
	    *want, *modetxt;
	size_t len, wlen, mlen;
	int i, n, bad = 0, cases = 0;
	mode_t mode;
	const char *why;

	snprintf(dir, sizeof dir, "%s/%s", corpus, kind);
	n = scandir(dir, &ents, NULL, by_name);
	if (n == -1)
		fail_msg("%s: %s", dir, strerror(errno));
	assert_int_equal(chdir(work), 0);
	for (i = 0; i < n; i++) {
		const char *c = ents[i]->d_name;
		if (c[0] == '.') {
			free(ents[i]);
			continue;
		}
		snprintf(path, sizeof path, "%s/%s/input", dir, c);
		if ((input = slurp(path, &len)) == NULL)
			fail_msg("%s: cannot read", path);
		mode = 0600;
		snprintf(path, sizeof path, "%s/%s/mode", dir, c);
		if ((modetxt = slurp(path, &mlen)) != NULL) {
			mode = (mode_t)strtoul(modetxt, NULL, 8);
			free(modetxt);
		}
		cases++;
		if (refuse(kind, input, len, mode, got, sizeof got) == -1) {
			print_error("tests/bad/%s/%s: %s\n", kind, c, got);
			bad++;
		} else if ((why = unclean(got, input, len)) != NULL) {
			print_error("tests/bad/%s/%s: %s: %s\n", kind, c, why, got);
			bad++;
		} else {
			snprintf(path, sizeof path, "%s/%s/error", dir, c);
			if (record) {
				FILE *f = fopen(path, "w");
				assert_non_null(f);
				fprintf(f, "%s\n", got);
				fclose(f);
			} else if ((want = slurp(path, &wlen)) == NULL) {
				print_error("tests/bad/%s/%s: no error file\n", kind, c);
				bad++;
			} else {
				if (wlen > 0 && want[wlen - 1] == '\n')
					want[--wlen] = '\0';
				if (strcmp(want, got) != 0) {
					print_error("tests/bad/%s/%s:\n  expected: %s\n  got:      "
					    "%s\n", kind, c, want, got);
					bad++;
				}
				free(want);
			}
		}
		free(input);
		free(ents[i]);
	}
	free(ents);
	assert_int_equal(chdir(top), 0);
	ncases += (size_t)cases;
	if (cases == 0)
		fail_msg("tests/bad/%s: no cases", kind);
	if (bad != 0)
		fail_msg("tests/bad/%s: %d of %d cases failed", kind, bad, cases);
}

static void test_bad_vaults_are_refused(void **s) { (void)s; run_kind("vault"); }
static void test_bad_configs_are_refused(void **s) { (void)s; run_kind("config"); }
static void test_bad_key_files_are_refused(void **s) { (void)s; run_kind("key"); }
static void test_bad_control_requests_get_error_answers(void **s) { (void)s; run_kind("control"); }
static void test_bad_override_names_are_refused(void **s) { (void)s; run_kind("envname"); }
static void test_bad_vault_names_are_refused(void **s) { (void)s; run_kind("name"); }
static void test_bad_sandbox_paths_are_refused(void **s) { (void)s; run_kind("pair"); }
static void test_bad_audit_logs_fail_verify(void **s) { (void)s; run_kind("audit"); }
static void test_bad_state_files_are_refused(void **s) { (void)s; run_kind("state"); }

/* One 10 MB input per kind, made here: refused with the expected message, in bounded
 * time (the size limits are checked before the content is parsed, where there is one). */
static void
test_ten_megabyte_inputs_are_refused(void **state)
{
	static const struct {
		const char	*kind;
		int		 fill;	/* the byte repeated */
		const char	*head;	/* put first */
		const char	*want;
	} huge[] = {
		{ "vault", 'a', "{\"format\": \"", "input:1:10485760: not a vault: premature "
		    "end of input" },
		{ "vault", '[', "", "input:1:2049: not a vault: maximum parsing depth reached" },
		{ "config", ';', "", "input: the config file is larger than 1048576 bytes; "
		    "refusing to read it" },
		{ "key", 'A', "", "input: too large to be a key file" },
		{ "control", ' ', "{\"op\": \"defaults\"}", "request: 10485760 bytes, more than "
		    "the 65536 allowed" },
		{ "envname", 'K', "COMFYVN_SECRET_RUNPOD_", "COMFYVN_SECRET_RUNPOD_KKKKKKKKKKKKKK"
		    "KKKKKKKKKKKK...: provider and field must each match "
		    "[A-Za-z0-9][A-Za-z0-9._-]{0,63} (no \"..\")" },
		{ "audit", 'x', "{\"seq\": 1, \"pad\": \"", "input: line 1: longer than 65536 "
		    "bytes" },
		{ "state", ' ', "{}", "vault.json.state: the state file is larger than 65536 "
		    "bytes; refusing to read it" },
	};
	char got[CS_ERR_MSG_MAX + 128], *buf;
	size_t i, hl;

	(void)state;
	assert_non_null(buf = malloc(HUGE_BYTES));
	assert_int_equal(chdir(work), 0);
	for (i = 0; i < sizeof huge / sizeof huge[0]; i++) {
		hl = strlen(huge[i].head);
		memset(buf, huge[i].fill, HUGE_BYTES);
		memcpy(buf, huge[i].head, hl);
		if (refuse(huge[i].kind, buf, HUGE_BYTES, 0600, got, sizeof got) == -1)
			fail_msg("10 MB %s (%s...): %s", huge[i].kind, huge[i].head, got);
		if (record)
			printf("10 MB %s: %s\n", huge[i].kind, got);
		else if (strcmp(got, huge[i].want) != 0)
			fail_msg("10 MB %s:\n  expected: %s\n  got:      %s", huge[i].kind,
			    huge[i].want, got);
	}
	assert_int_equal(chdir(top), 0);
	free(buf);
}

/* --- the sweeps --- */

struct field {
	const char	*p, *f;
	const char	*val;
	size_t		 len;
};

static const struct field fields[] = {
	{ "bin", "blob", "\0\1x\0\377\0\177", 7 },
	{ "bin", "empty", "", 0 },
	{ "openai", "api_key", "sk-" CANARY "-openai-8a7b6c", 23 },
	{ "runpod", "api_key", "rp_" CANARY "_4f9c2e7d1b", 20 },
	{ "runpod", "endpoint", "https://api.runpod.io/v2", 24 },
};
#define NFIELDS	(sizeof fields / sizeof fields[0])

/* A real vault file, saved by vault_save under the test key, in memory. */
static char *
real_vault(size_t *len)
{
	struct cs_err e = { 0 };
	struct vault *v;
	struct secret *s;
	char path[128], *buf;
	size_t i;

	snprintf(path, sizeof path, "%s/sweep.json", work);
	unlink(path);
	assert_int_equal(vault_new(tk, &v, &e), 0);
	for (i = 0; i < NFIELDS; i++) {
		assert_non_null(s = secret_dup(fields[i].val, fields[i].len));
		if (vault_put(v, fields[i].p, fields[i].f, s, 0, &e) == -1)
			fail_msg("put: %s", e.msg);
		secret_free(s);
	}
	if (vault_save(v, path, 1, &e) == -1)
		fail_msg("save: %s", e.msg);
	vault_close(v);
	assert_non_null(buf = slurp(path, len));
	return buf;
}

/* 0 when v is the whole vault: every field there, every value exact. */
static int
whole(const struct vault *v)
{
	struct cs_err e = { 0 };
	struct secret *s;
	size_t i, np = 0;
	int ok = 1;

	if (vault_generation(v) != 1)
		return -1;
	for (i = 0; i < vault_nproviders(v); i++)
		np += vault_nfields(v, i);
	if (np != NFIELDS)
		return -1;
	for (i = 0; i < NFIELDS && ok; i++) {
		if (vault_reveal(v, fields[i].p, fields[i].f, &s, &e) == -1)
			return -1;
		ok = s->len == fields[i].len && memcmp(s->buf, fields[i].val, s->len) == 0;
		secret_free(s);
	}
	return ok ? 0 : -1;
}

static void
test_vault_truncated_at_every_offset_is_refused(void **state)
{
	struct cs_err e = { 0 };
	struct vault *v = NULL;
	size_t len, cut, end, refused = 0;
	char *buf;

	(void)state;
	buf = real_vault(&len);
	assert_int_equal(vault_parse(buf, len, "sweep", tk, &v, &e), 0);
	assert_int_equal(whole(v), 0);
	vault_close(v);
	/* The document ends at its last '}'; after it only the writer's newline. */
	for (end = len; end > 0 && buf[end - 1] != '}'; end--)
		;
	assert_true(end > 0 && len - end <= 1);
	for (cut = 0; cut < len; cut++) {
		char *copy = malloc(cut + 1);	/* exactly cut bytes: ASan sees a read past */
		assert_non_null(copy);
		memcpy(copy, buf, cut);
		memset(&e, 0, sizeof e);
		v = NULL;
		if (vault_parse(copy, cut, "sweep", tk, &v, &e) == -1) {
			if (v != NULL)
				fail_msg("cut at %zu: refused but a vault handed back", cut);
			if (e.code == 0 || e.msg[0] == '\0')
				fail_msg("cut at %zu: refused without a reason", cut);
			refused++;
		} else if (cut < end) {
			fail_msg("cut at %zu of %zu: accepted", cut, len);
		} else if (whole(v) != 0) {
			/* Only the trailing newline is gone: the same document. */
			fail_msg("cut at %zu: accepted, and not the whole vault", cut);
		}
		vault_close(v);
		free(copy);
	}
	printf("[ INFO     ] %zu-byte vault: %zu of %zu cuts refused (the other %zu only drop "
	    "the trailing newline: the same document)\n", len, refused, len, len - refused);
	assert_int_equal(refused, end);
	free(buf);
}

static char
shown(char c)
{
	return c >= 0x20 && c < 0x7f ? c : '?';
}

static void
test_vault_with_any_bit_flipped_is_refused(void **state)
{
	struct cs_err e = { 0 };
	struct vault *v = NULL;
	size_t len, i, n = 0;
	unsigned bit;
	char *buf;

	(void)state;
	buf = real_vault(&len);
	for (i = 0; i < len; i++) {
		for (bit = 0; bit < 8; bit++) {
			buf[i] ^= (char)(1u << bit);
			memset(&e, 0, sizeof e);
			v = NULL;
			if (vault_parse(buf, len, "sweep", tk, &v, &e) == 0 || v != NULL)
				fail_msg("byte %zu ('%c' 0x%02x) with bit %u flipped: accepted",
				    i, shown(buf[i] ^ (char)(1u << bit)),
				    (unsigned char)(buf[i] ^ (char)(1u << bit)), bit);
			if (e.code == 0 || e.msg[0] == '\0')
				fail_msg("byte %zu bit %u: refused without a reason", i, bit);
			buf[i] ^= (char)(1u << bit);
			n++;
		}
	}
	assert_int_equal(vault_parse(buf, len, "sweep", tk, &v, &e), 0);	/* restored */
	vault_close(v);
	printf("[ INFO     ] %zu-byte vault: all %zu single-bit flips refused\n", len, n);
	free(buf);
}

/* libsodium 1.0.18 decodes any byte from 0x80 up as '/', so "//" in a value could be
 * written as the two UTF-8 bytes of U+00FF and still verify: the same bytes, another
 * file. Every base64 text is checked against the alphabet first (crypto/b64.h). */
static void
test_vault_base64_with_non_ascii_bytes_is_refused(void **state)
{
	struct cs_err e = { 0 };
	struct vault *v = NULL;
	struct secret *s;
	unsigned char raw[8];
	const char *end;
	char name[16], path[128], *buf = NULL, *at = NULL, *forged;
	size_t len = 0, blen, tries, i;

	(void)state;
	snprintf(path, sizeof path, "%s/slashes.json", work);
	for (tries = 0; tries < 20 && at == NULL; tries++) {
		free(buf);
		unlink(path);
		assert_int_equal(vault_new(tk, &v, &e), 0);
		for (i = 0; i < 64; i++) {
			snprintf(name, sizeof name, "f%02zu", i);
			assert_non_null(s = secret_dup("0123456789abcdef0123456789abcdef", 32));
			assert_int_equal(vault_put(v, "p", name, s, 0, &e), 0);
			secret_free(s);
		}
		assert_int_equal(vault_save(v, path, 1, &e), 0);
		vault_close(v);
		assert_non_null(buf = slurp(path, &len));
		at = strstr(buf, "//");
	}
	assert_non_null(at);
	assert_non_null(forged = malloc(len + 8));
	blen = (size_t)(at - buf);
	memcpy(forged, buf, blen);
	memcpy(forged + blen, "\\u00ff", 6);
	memcpy(forged + blen + 6, at + 2, len - blen - 2);
	v = NULL;
	assert_int_equal(vault_parse(forged, len + 4, "forged", tk, &v, &e), -1);
	assert_null(v);
	assert_true(strstr(e.msg, "not valid base64") != NULL ||
	    strstr(e.msg, "\"mac\" is not base64") != NULL);
	if (sodium_base642bin(raw, sizeof raw, "AA\xc3\xbf", 4, NULL, &blen, &end,
	    sodium_base64_VARIANT_ORIGINAL) == 0)
		printf("[ INFO     ] this libsodium reads non-ASCII bytes as '/': only the "
		    "alphabet check refuses the forged file\n");
	free(forged);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_vaults_are_refused),
		cmocka_unit_test(test_bad_configs_are_refused),
		cmocka_unit_test(test_bad_key_files_are_refused),
		cmocka_unit_test(test_bad_control_requests_get_error_answers),
		cmocka_unit_test(test_bad_override_names_are_refused),
		cmocka_unit_test(test_bad_vault_names_are_refused),
		cmocka_unit_test(test_bad_sandbox_paths_are_refused),
		cmocka_unit_test(test_bad_audit_logs_fail_verify),
		cmocka_unit_test(test_bad_state_files_are_refused),
		cmocka_unit_test(test_ten_megabyte_inputs_are_refused),
		cmocka_unit_test(test_vault_truncated_at_every_offset_is_refused),
		cmocka_unit_test(test_vault_with_any_bit_flipped_is_refused),
		cmocka_unit_test(test_vault_base64_with_non_ascii_bytes_is_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
