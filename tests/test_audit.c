/* tests/test_audit.c - the hash-chained audit log: lines, chain, verification of every
 * kind of tampering, appends from two processes, flush modes, full disks, FIFOs that
 * never drain, tails and symlinks. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "testutil.h"
#include <sodium.h>

#include "../policy/audit.h"
#include "../policy/auditread.h"

#define ZEROS	"0000000000000000000000000000000000000000000000000000000000000000"
#define MAX_LINES	512
#define POLL_ROUNDS	1500	/* 20 ms apart: 30 s at most, a hang guard, not a deadline */
#define FIRST	"{\"seq\":1,\"prev\":\"" ZEROS "\",\"event\":\"secret_read\",\"timestamp\":\""

static char dir[64], logf[128], lockfile[160];

static int
setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	if (testutil_mkdtemp(dir, sizeof dir, "audit") == -1)
		return -1;
	snprintf(logf, sizeof logf, "%s/audit.log", dir);
	snprintf(lockfile, sizeof lockfile, "%s/.audit.log%s", dir, AUDIT_LOCK_SUFFIX);
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
	char p[300];
	int i;

	(void)state;
	unlink(logf);
	unlink(lockfile);
	/* dateext names, and the .xz, .bak ... files of the unread tests */
	snprintf(p, sizeof p, "rm -f %s-* %s.*", logf, logf);
	if (system(p) != 0)
		return -1;
	for (i = 1; i <= 6; i++) {
		snprintf(p, sizeof p, "%s.%d", logf, i);
		unlink(p);
		snprintf(p, sizeof p, "%s.%d.gz", logf, i);
		unlink(p);
	}
	return 0;
}

static long
ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static void
hex_of(const char *p, size_t len, char out[AUDIT_HASH_HEX + 1])
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, (const unsigned char *)p, len);
	sodium_bin2hex(out, AUDIT_HASH_HEX + 1, h, sizeof h);
}

/* The log's lines, newlines dropped; returns the count. */
static size_t
read_lines(const char *path, char *lines[MAX_LINES])
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0, n = 0;
	ssize_t len;

	assert_non_null(f);
	while ((len = getline(&line, &cap, f)) > 0 && n < MAX_LINES) {
		if (line[len - 1] == '\n')
			line[len - 1] = '\0';
		lines[n++] = strdup(line);
	}
	free(line);
	fclose(f);
	return n;
}

static void
write_lines(const char *path, char *lines[], size_t n)
{
	FILE *f = fopen(path, "w");
	size_t i;

	assert_non_null(f);
	for (i = 0; i < n; i++)
		fprintf(f, "%s\n", lines[i]);
	assert_int_equal(fclose(f), 0);
}

static void
free_lines(char *lines[], size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(lines[i]);
}

static void
append_n(const char *path, enum audit_flush flush, int n)
{
	static const char *keys[] = { "api_key" };
	struct audit *a = NULL;
	struct audit_event ev = { 0 };
	struct cs_err e = { 0 };
	char prov[32];
	int i;

	assert_int_equal(audit_open(path, flush, 2000, &a, &e), 0);
	for (i = 0; i < n; i++) {
		snprintf(prov, sizeof prov, "p%d", i + 1);
		ev.event = "secret_read";
		ev.provider = prov;
		ev.keys = keys;
		ev.nkeys = 1;
		ev.pid = -1;
		if (audit_append(a, &ev, &e) != 0)
			fail_msg("append %d: %s", i + 1, e.msg);
	}
	audit_close(a);
}

static void
expect_bad(const char *path, uint64_t seq, const char *hash, uint64_t bad_line,
    const char *words)
{
	struct audit_verify_result r;
	struct cs_err e = { 0 };

	assert_int_equal(audit_verify(path, seq, hash, &r, &e), -1);
	assert_int_equal(e.code, EBADMSG);
	if (strstr(e.msg, words) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", e.msg, words);
	assert_non_null(strstr(e.msg, path));
	assert_int_equal(r.bad_line, bad_line);
}

static void
test_append_writes_chained_lines(void **state)
{
	char *lines[MAX_LINES], h[AUDIT_HASH_HEX + 1], want[128];
	size_t n, i;

	(void)state;
	append_n(logf, AUDIT_FLUSH_NONE, 3);
	n = read_lines(logf, lines);
	assert_int_equal(n, 3);
	assert_int_equal(strncmp(lines[0], FIRST, sizeof FIRST - 1), 0);
	for (i = 1; i < n; i++) {
		hex_of(lines[i - 1], strlen(lines[i - 1]), h);
		snprintf(want, sizeof want, "{\"seq\":%zu,\"prev\":\"%s\",", i + 1, h);
		assert_int_equal(strncmp(lines[i], want, strlen(want)), 0);
	}
	assert_non_null(strstr(lines[2], "\"provider\":\"p3\",\"keys\":[\"api_key\"]}"));
	free_lines(lines, n);
}

static void
test_fields_come_in_the_documented_order(void **state)
{
	static const char *order[] = { "\"seq\":", "\"prev\":", "\"event\":", "\"timestamp\":",
	    "\"provider\":", "\"keys\":", "\"overrides\":", "\"providers\":",
	    "\"fingerprint\":",
	    "\"host\":", "\"port\":", "\"reason\":", "\"via\":", "\"detail\":", "\"pid\":",
	    "\"uid\":", "\"gid\":", "\"comm\":" };
	static const char *keys[] = { "api_key", "endpoint" }, *ovr[] = { "api_key" };
	static const char *provs[] = { "openai", "runpod" };
	struct audit *a = NULL;
	struct audit_event ev = { 0 };
	struct cs_err e = { 0 };
	char *lines[MAX_LINES], *p, *prev = NULL, ts[32];
	size_t i, n;

	(void)state;
	ev.event = "secret_read";
	ev.provider = "runpod";
	ev.keys = keys;
	ev.nkeys = 2;
	ev.overrides = ovr;
	ev.noverrides = 1;
	ev.providers = provs;
	ev.nproviders = 2;
	ev.fingerprint = "0123456789abcdef";
	ev.host = "api.example.com";
	ev.port = 443;
	ev.reason = "not in the allowlist";
	ev.via = "fs";
	ev.detail = "line one\nline two";
	ev.pid = 42;
	ev.uid = 1000;
	ev.gid = 1001;
	ev.comm = "cat";
	assert_int_equal(audit_open(logf, AUDIT_FLUSH_NONE, 2000, &a, &e), 0);
	assert_int_equal(audit_append(a, &ev, &e), 0);
	audit_close(a);
	n = read_lines(logf, lines);
	assert_int_equal(n, 1);
	for (i = 0; i < sizeof order / sizeof order[0]; i++) {
		p = strstr(lines[0], order[i]);
		if (p == NULL || p < prev)
			fail_msg("%s missing or out of order in %s", order[i], lines[0]);
		prev = p;
	}
	assert_non_null(strstr(lines[0], "\"keys\":[\"api_key\",\"endpoint\"]"));
	assert_non_null(strstr(lines[0], "\"port\":443,"));
	assert_non_null(strstr(lines[0],
	    "\"pid\":42,\"uid\":1000,\"gid\":1001,\"comm\":\"cat\"}"));
	assert_non_null(strstr(lines[0], "line one\\nline two"));	/* escaped, one line */
	/* RFC 3339 UTC with milliseconds */
	p = strstr(lines[0], "\"timestamp\":\"") + 13;
	memcpy(ts, p, 24);
	ts[24] = '\0';
	assert_int_equal(strlen(ts), 24);
	assert_true(ts[4] == '-' && ts[10] == 'T' && ts[19] == '.' && ts[23] == 'Z');
	assert_int_equal(p[24], '"');
	free_lines(lines, n);
}

static void
test_absent_fields_are_left_out(void **state)
{
	struct audit *a = NULL;
	struct audit_event ev = { 0 };
	struct cs_err e = { 0 };
	char *lines[MAX_LINES];
	size_t n;

	(void)state;
	ev.event = "reload_refused";
	ev.pid = -1;
	assert_int_equal(audit_open(logf, AUDIT_FLUSH_NONE, 2000, &a, &e), 0);
	assert_int_equal(audit_append(a, &ev, &e), 0);
	audit_close(a);
	n = read_lines(logf, lines);
	assert_int_equal(n, 1);
	assert_null(strstr(lines[0], "pid"));
	assert_null(strstr(lines[0], "port"));
	assert_null(strstr(lines[0], "keys"));
	assert_int_equal(lines[0][strlen(lines[0]) - 2], '"');	/* ends with the timestamp */
	free_lines(lines, n);
}

static void
test_bad_bytes_in_names_still_make_a_valid_line(void **state)
{
	struct audit *a = NULL;
	struct audit_event ev = { 0 };
	struct audit_verify_result r;
	struct cs_err e = { 0 };
	char *lines[MAX_LINES];
	size_t n;

	(void)state;
	ev.event = "secret_read";
	ev.comm = "ba\xff\xfe" "d\xc3";
	ev.host = "h\xc3\xa9llo";
	ev.pid = 1;
	assert_int_equal(audit_open(logf, AUDIT_FLUSH_NONE, 2000, &a, &e), 0);
	assert_int_equal(audit_append(a, &ev, &e), 0);
	audit_close(a);
	n = read_lines(logf, lines);
	assert_int_equal(n, 1);
	assert_non_null(strstr(lines[0], "\"comm\":\"ba??d?\""));
	assert_non_null(strstr(lines[0], "\"host\":\"h\xc3\xa9llo\""));
	assert_int_equal(audit_verify(logf, 0, NULL, &r, &e), 0);
	free_lines(lines, n);
}

/* Each line is byte for byte what jansson's compact dump of the same object gives: the
 * encoder writes it directly, and readers (jq, the verifier) get the same bytes they
 * always did. Every escape jansson makes, every byte class, and the lists' cut. */
static void
test_lines_are_what_jansson_would_write(void **state)
{
	static const char *const names[] = { "a\"b", "c\\d", "\x01\x1f\x7f", "", "\t\n\r\b\f/" };
	char all[256], *dumped, *lines[MAX_LINES];
	struct audit *a = NULL;
	struct audit_event ev = { 0 };
	struct cs_err e = { 0 };
	json_error_t jerr;
	json_t *root;
	size_t n, i;
	int c;

	(void)state;
	for (c = 1; c < 256; c++)
		all[c - 1] = (char)c;
	all[255] = '\0';
	assert_int_equal(audit_open(logf, AUDIT_FLUSH_NONE, 2000, &a, &e), 0);
	ev.event = "sandbox_blocked";
	ev.provider = all;
	ev.keys = names;
	ev.nkeys = 5;
	ev.overrides = names;
	ev.noverrides = 2;
	ev.providers = names;
	ev.nproviders = 5;
	ev.fingerprint = "\xe2\x80\xae\xf0\x9f\x94\x91\xed\xa0\x80\xc0\xaf";
	ev.host = "h\xc3\xa9llo";
	ev.port = 65535;
	ev.reason = "\\u0000";
	ev.via = "fs";
	ev.detail = "x";
	ev.repeats = 4000000000UL;
	ev.since = "2026-11-30T12:00:00.000Z";
	ev.pid = 2147483647;
	ev.uid = 4294967294U;
	ev.gid = 0;
	ev.comm = "a\\nb";
	assert_int_equal(audit_append(a, &ev, &e), 0);
	memset(&ev, 0, sizeof ev);
	ev.event = "secret_read";
	ev.pid = -1;
	assert_int_equal(audit_append(a, &ev, &e), 0);
	audit_close(a);
	n = read_lines(logf, lines);
	assert_int_equal(n, 2);
	for (i = 0; i < n; i++) {
		root = json_loads(lines[i], JSON_REJECT_DUPLICATES, &jerr);
		assert_non_null(root);
		dumped = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
		assert_non_null(dumped);
		assert_string_equal(lines[i], dumped);
		free(dumped);
		json_decref(root);
	}
	assert_non_null(strstr(lines[0], "\"fingerprint\":\"\xe2\x80\xae\xf0\x9f\x94\x91?????\""));
	free_lines(lines, n);
}

static void
test_an_event_needs_a_name_and_must_fit_a_line(void **state)
{
	struct audit *a = NULL;
	struct audit_event ev = { 0 };
	struct cs_err e = { 0 };
	char *big;

	(void)state;
	assert_int_equal(audit_open(logf, AUDIT_FLUSH_NONE, 2000, &a, &e), 0);
	assert_int_equal(audit_append(a, &ev, &e), -1);
	assert_int_equal(e.code, EINVAL);
	cs_err_clear(&e);
	big = malloc(AUDIT_LINE_MAX);
	memset(big, 'x', AUDIT_LINE_MAX - 1);
	big[AUDIT_LINE_MAX - 1] = '\0';
	ev.event = "daemon";
	ev.detail = big;
	ev.pid = -1;
	assert_int_equal(audit_append(a, &ev, &e), -1);
	assert_int_equal(e.code, EMSGSIZE);
	assert_non_null(strstr(e.msg, "does not fit"));
	free(big);
	audit_close(a);
}

/* A rotation of 20 000 providers: the list is cut to fit one line, and says so. */
static void
test_a_long_name_list_is_cut_to_fit_a_line(void **state)
{
	static char names[20000][8];
	const char *list[20000];
	struct audit *a = NULL;
	struct audit_event ev = { 0 };
	struct audit_verify_result r;
	struct cs_err e = { 0 };
	char **lines = NULL;
	size_t i, n = 0;

	(void)state;
	for (i = 0; i < 20000; i++) {
		snprintf(names[i], sizeof names[i], "p%05zu", i);
		list[i] = names[i];
	}
	assert_int_equal(audit_open(logf, AUDIT_FLUSH_NONE, 2000, &a, &e), 0);
	ev.event = "key_rotated";
	ev.providers = list;
	ev.nproviders = 20000;
	ev.pid = -1;
	assert_int_equal(audit_append(a, &ev, &e), 0);
	audit_close(a);
	assert_int_equal(audit_verify(logf, 1, NULL, &r, &e), 0);
	assert_int_equal(audit_tail(logf, 1, &lines, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_true(strlen(lines[0]) < AUDIT_LINE_MAX);
	assert_non_null(strstr(lines[0], "\"providers\":[\"p00000\""));
	assert_non_null(strstr(lines[0], "\"providers_omitted\":"));
	audit_lines_free(lines, n);
}

static void
test_verify_passes_a_fresh_log(void **state)
{
	struct audit *a = NULL;
	struct audit_event ev = { 0 };
	struct audit_verify_result r;
	struct cs_err e = { 0 };
	char h[AUDIT_HASH_HEX + 1];
	uint64_t seq;
	int i;

	(void)state;
	assert_int_equal(audit_open(logf, AUDIT_FLUSH_NONE, 2000, &a, &e), 0);
	audit_last(a, &seq, h);
	assert_int_equal(seq, 0);
	assert_string_equal(h, ZEROS);
	ev.event = "key_rotated";
	ev.pid = -1;
	for (i = 0; i < 10; i++)
		assert_int_equal(audit_append(a, &ev, &e), 0);
	audit_last(a, &seq, h);
	audit_close(a);
	assert_int_equal(seq, 10);
	assert_int_equal(audit_verify(logf, 10, h, &r, &e), 0);
	assert_int_equal(r.lines, 10);
	assert_int_equal(r.bad_line, 0);
	assert_int_equal(r.last_seq, 10);
	assert_string_equal(r.last_hash, h);
	/* the log may go on after the state file's point */
	append_n(logf, AUDIT_FLUSH_NONE, 2);
	assert_int_equal(audit_verify(logf, 10, h, &r, &e), 0);
	assert_int_equal(r.last_seq, 12);
}

static void
test_an_empty_log_verifies_unless_the_state_says_otherwise(void **state)
{
	struct audit_verify_result r;
	struct cs_err e = { 0 };
	int fd;

	(void)state;
	fd = open(logf, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(audit_verify(logf, 0, NULL, &r, &e), 0);
	assert_int_equal(r.lines, 0);
	expect_bad(logf, 3, NULL, 1, "ends at seq 0 but the state file says 3: lines were cut");
}

static void
test_a_missing_log_is_an_error(void **state)
{
	struct audit_verify_result r;
	struct cs_err e = { 0 };
	char **lines;
	size_t n;

	(void)state;
	assert_int_equal(audit_verify(logf, 0, NULL, &r, &e), -1);
	assert_int_equal(e.code, ENOENT);
	assert_non_null(strstr(e.msg, logf));
	cs_err_clear(&e);
	assert_int_equal(audit_tail(logf, 5, &lines, &n, &e), -1);
	assert_int_equal(e.code, ENOENT);
}

static void
test_verify_names_the_line_after_an_edit(void **state)
{
	char *lines[MAX_LINES], *p;
	size_t n;

	(void)state;
	append_n(logf, AUDIT_FLUSH_NONE, 8);
	n = read_lines(logf, lines);
	p = strstr(lines[5], "\"p6\"");
	assert_non_null(p);
	p[2] = '9';	/* provider p6 -> p9 on line 6 */
	write_lines(logf, lines, n);
	expect_bad(logf, 0, NULL, 7, "line 7: prev does not match the hash of line 6 "
	    "(edited, removed or reordered line)");
	free_lines(lines, n);
}

static void
test_verify_names_the_line_after_a_deletion(void **state)
{
	char *lines[MAX_LINES];
	size_t n;

	(void)state;
	append_n(logf, AUDIT_FLUSH_NONE, 6);
	n = read_lines(logf, lines);
	free(lines[2]);
	memmove(&lines[2], &lines[3], (n - 3) * sizeof lines[0]);
	write_lines(logf, lines, n - 1);
	expect_bad(logf, 0, NULL, 3, "line 3: seq 4, expected 3");
	free_lines(lines, n - 1);
}

static void
test_verify_names_a_deleted_first_line(void **state)
{
	char *lines[MAX_LINES];
	size_t n;

	(void)state;
	append_n(logf, AUDIT_FLUSH_NONE, 3);
	n = read_lines(logf, lines);
	write_lines(logf, lines + 1, n - 1);
	expect_bad(logf, 0, NULL, 1, "line 1: seq 2, expected 1");
	free_lines(lines, n);
}

static void
test_verify_names_an_inserted_line(void **state)
{
	char *lines[MAX_LINES], *copy[MAX_LINES];
	size_t n;

	(void)state;
	append_n(logf, AUDIT_FLUSH_NONE, 5);
	n = read_lines(logf, lines);
	copy[0] = lines[0];
	copy[1] = lines[1];
	copy[2] = lines[1];	/* a replayed line */
	memcpy(&copy[3], &lines[2], (n - 2) * sizeof lines[0]);
	write_lines(logf, copy, n + 1);
	expect_bad(logf, 0, NULL, 3, "line 3: seq 2, expected 3");
	free_lines(lines, n);
}

static void
test_verify_names_a_forged_line_that_renumbers(void **state)
{
	char *lines[MAX_LINES], forged[512];
	size_t n;

	(void)state;
	append_n(logf, AUDIT_FLUSH_NONE, 3);
	n = read_lines(logf, lines);
	/* a line with the right seq but made up: the next line's prev gives it away */
	snprintf(forged, sizeof forged, "{\"seq\":3,\"prev\":\"%.64s\",\"event\":\"x\"}",
	    strstr(lines[2], "\"prev\":\"") + 8);
	free(lines[2]);
	lines[2] = strdup(forged);
	write_lines(logf, lines, n);
	/* The next writer chains to the forged line, but the lock file's record says the
	 * file's last line was another: it says so first (audit_lines_missing). */
	append_n(logf, AUDIT_FLUSH_NONE, 1);
	free_lines(lines, n);
	n = read_lines(logf, lines);
	assert_int_equal(n, 5);
	assert_non_null(strstr(lines[3], "\"event\":\"audit_lines_missing\""));
	assert_non_null(strstr(lines[3], "the file ended at seq 3, but a line of seq 3"));
	free(lines[1]);
	lines[1] = strdup("{\"seq\":2,\"prev\":\"" ZEROS "\",\"event\":\"x\"}");
	write_lines(logf, lines, n);
	expect_bad(logf, 0, NULL, 2, "line 2: prev does not match the hash of line 1");
	free_lines(lines, n);
}

static void
test_lines_cut_from_the_end_are_recorded_by_the_next_writer(void **state)
{
	char *lines[MAX_LINES];
	size_t n;

	(void)state;
	append_n(logf, AUDIT_FLUSH_NONE, 6);
	n = read_lines(logf, lines);
	write_lines(logf, lines, n - 2);	/* seq 5 and 6 cut, in place */
	free_lines(lines, n);
	/* Without the state file, the cut file alone still chains; the next writer knows
	 * better from the lock file's record, and says so in the chain itself. */
	append_n(logf, AUDIT_FLUSH_NONE, 2);
	n = read_lines(logf, lines);
	assert_int_equal(n, 7);
	assert_non_null(strstr(lines[4], "\"seq\":5,"));
	assert_non_null(strstr(lines[4], "\"event\":\"audit_lines_missing\""));
	assert_non_null(strstr(lines[4], "the file ended at seq 4, but a line of seq 6"));
	assert_non_null(strstr(lines[5], "\"event\":\"secret_read\""));
	free_lines(lines, n);
	/* It stays found: however many lines follow, verify names that line. */
	append_n(logf, AUDIT_FLUSH_NONE, 3);
	expect_bad(logf, 0, NULL, 5, "line 5: audit_lines_missing: the file ended at seq 4");
}

static void
test_verify_names_a_reordering(void **state)
{
	char *lines[MAX_LINES], *t;
	size_t n;

	(void)state;
	append_n(logf, AUDIT_FLUSH_NONE, 6);
	n = read_lines(logf, lines);
	t = lines[3];
	lines[3] = lines[4];
	lines[4] = t;
	write_lines(logf, lines, n);
	expect_bad(logf, 0, NULL, 4, "line 4: seq 5, expected 4");
	free_lines(lines, n);
}

static void
test_verify_detects_a_cut_tail_with_the_state_point(void **state)
{
	struct audit *a = NULL;
	struct audit_event ev = { 0 };
	struct audit_verify_result r;
	struct cs_err e = { 0 };
	char *lines[MAX_LINES], h[AUDIT_HASH_HEX + 1];
	uint64_t seq;
	size_t n;
	int i;

	(void)state;
	assert_int_equal(audit_open(logf, AUDIT_FLUSH_NONE, 2000, &a, &e), 0);
	ev.event = "secret_read";
	ev.pid = -1;
	for (i = 0; i < 12; i++)
		assert_int_equal(audit_append(a, &ev, &e), 0);
	audit_last(a, &seq, h);
	audit_close(a);
	n = read_lines(logf, lines);
	write_lines(logf, lines, 10);
	/* the chain itself is intact: only the state point shows the cut */
	assert_int_equal(audit_verify(logf, 0, NULL, &r, &e), 0);
	expect_bad(logf, seq, h, 11, "ends at seq 10 but the state file says 12: "
	    "lines were cut from the end");
	/* the recorded line edited in place */
	lines[11][strlen(lines[11]) - 3] = 'X';
	write_lines(logf, lines, n);
	expect_bad(logf, seq, h, 12, "line 12: seq 12 is not the line the state file recorded");
	free_lines(lines, n);
}

static void
test_verify_names_a_line_that_is_not_json(void **state)
{
	char *lines[MAX_LINES];
	size_t n;

	(void)state;
	append_n(logf, AUDIT_FLUSH_NONE, 3);
	n = read_lines(logf, lines);
	free(lines[1]);
	lines[1] = strdup("secret_read openai api_key");
	write_lines(logf, lines, n);
	expect_bad(logf, 0, NULL, 2, "line 2: not JSON: ");
	free(lines[1]);
	lines[1] = strdup("[1,2]");
	write_lines(logf, lines, n);
	expect_bad(logf, 0, NULL, 2, "line 2: not a JSON object");
	free(lines[1]);
	lines[1] = strdup("{\"event\":\"x\"}");
	write_lines(logf, lines, n);
	expect_bad(logf, 0, NULL, 2, "line 2: no seq");
	free_lines(lines, n);
}

static void
test_verify_refuses_a_line_over_the_limit(void **state)
{
	char *lines[MAX_LINES], *big;
	size_t n;

	(void)state;
	append_n(logf, AUDIT_FLUSH_NONE, 3);
	n = read_lines(logf, lines);
	big = malloc(AUDIT_LINE_MAX + 10);
	memset(big, ' ', AUDIT_LINE_MAX + 9);
	big[AUDIT_LINE_MAX + 9] = '\0';
	free(lines[1]);
	lines[1] = big;
	write_lines(logf, lines, n);
	expect_bad(logf, 0, NULL, 2, "line 2: longer than 65536 bytes");
	free_lines(lines, n);
}

/* A writer killed in the middle of its write() leaves a fragment: verify names it, and
 * the next append (holding the lock, so that writer is gone) cuts it off and says so in
 * an audit_tail_repaired line before its own; the chain then verifies. */
static void
test_a_torn_last_line_is_cut_and_recorded_by_the_next_append(void **state)
{
	struct audit_verify_result r;
	struct audit *a = NULL;
	struct audit_event ev = { 0 };
	struct cs_err e = { 0 };
	char *lines[MAX_LINES];
	size_t n;
	int fd;

	(void)state;
	append_n(logf, AUDIT_FLUSH_NONE, 2);
	fd = open(logf, O_WRONLY | O_APPEND);
	assert_int_equal(write(fd, "{\"seq\":3,\"pr", 12), 12);
	close(fd);
	expect_bad(logf, 0, NULL, 3, "line 3: not JSON");
	assert_int_equal(audit_open(logf, AUDIT_FLUSH_NONE, 2000, &a, &e), 0);
	ev.event = "secret_read";
	ev.pid = -1;
	if (audit_append(a, &ev, &e) != 0)
		fail_msg("append after a torn line: %s", e.msg);
	audit_close(a);
	n = read_lines(logf, lines);
	assert_int_equal(n, 4);
	assert_non_null(strstr(lines[2], "\"seq\":3,"));
	assert_non_null(strstr(lines[2], "\"event\":\"audit_tail_repaired\""));
	assert_non_null(strstr(lines[2], "cut 12 bytes"));
	assert_non_null(strstr(lines[3], "\"seq\":4,"));
	assert_non_null(strstr(lines[3], "\"event\":\"secret_read\""));
	free_lines(lines, n);
	if (audit_verify(logf, 0, NULL, &r, &e) != 0)
		fail_msg("verify after the repair: %s", e.msg);
	assert_int_equal(r.lines, 4);
}

/* A whole first line torn: the file is cut to nothing and the chain starts again. */
static void
test_a_torn_first_line_is_cut_too(void **state)
{
	struct audit_verify_result r;
	struct audit *a = NULL;
	struct audit_event ev = { 0 };
	struct cs_err e = { 0 };
	int fd;

	(void)state;
	fd = open(logf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(write(fd, "{\"seq\":1,\"pr", 12), 12);
	close(fd);
	assert_int_equal(audit_open(logf, AUDIT_FLUSH_NONE, 2000, &a, &e), 0);
	ev.event = "secret_read";
	ev.pid = -1;
	if (audit_append(a, &ev, &e) != 0)
		fail_msg("append after a torn first line: %s", e.msg);
	audit_close(a);
	if (audit_verify(logf, 0, NULL, &r, &e) != 0)
		fail_msg("verify: %s", e.msg);
	assert_int_equal(r.lines, 2);
}

/* More than a line's worth of bytes with no newline is no torn write: refused. */
static void
test_an_unterminated_tail_longer_than_a_line_blocks_appends(void **state)
{
	struct audit *a = NULL;
	struct audit_event ev = { 0 };
	struct cs_err e = { 0 };
	char *junk;
	int fd;

	(void)state;
	append_n(logf, AUDIT_FLUSH_NONE, 1);
	assert_non_null(junk = malloc(AUDIT_LINE_MAX + 10));
	memset(junk, 'x', AUDIT_LINE_MAX + 10);
	fd = open(logf, O_WRONLY | O_APPEND);
	assert_int_equal(write(fd, junk, AUDIT_LINE_MAX + 10), AUDIT_LINE_MAX + 10);
	close(fd);
	free(junk);
	assert_int_equal(audit_open(logf, AUDIT_FLUSH_NONE, 2000, &a, &e), 0);
	ev.event = "secret_read";
	ev.pid = -1;
	assert_int_equal(audit_append(a, &ev, &e), -1);
	assert_int_equal(e.code, EBADMSG);
	assert_non_null(strstr(e.msg, "incomplete line longer than"));
	audit_close(a);
}

static void
test_a_log_that_is_not_chained_is_not_appended_to(void **state)
{
	struct audit *a = NULL;
	struct audit_event ev = { 0 };
	struct cs_err e = { 0 };
	FILE *f;

	(void)state;
	/* the app's own log format: no seq, no prev */
	f = fopen(logf, "w");
	fputs("{\"event\": \"secret_read\", \"timestamp\": \"2025-11-25T10:00:00Z\"}\n", f);
	fclose(f);
	assert_int_equal(audit_open(logf, AUDIT_FLUSH_NONE, 2000, &a, &e), 0);
	ev.event = "secret_read";
	ev.pid = -1;
	assert_int_equal(audit_append(a, &ev, &e), -1);
	assert_int_equal(e.code, EBADMSG);
	if (strstr(e.msg, "not an audit line") == NULL)
		fail_msg("%s", e.msg);
	audit_close(a);
}

static void
test_handles_take_turns_on_one_chain(void **state)
{
	struct audit *a = NULL, *b = NULL;
	struct audit_event ev = { 0 };
	struct audit_verify_result r;
	struct cs_err e = { 0 };
	char h[AUDIT_HASH_HEX + 1];
	uint64_t seq;

	(void)state;
	ev.event = "secret_read";
	ev.pid = -1;
	assert_int_equal(audit_open(logf, AUDIT_FLUSH_NONE, 2000, &a, &e), 0);
	assert_int_equal(audit_open(logf, AUDIT_FLUSH_NONE, 2000, &b, &e), 0);
	assert_int_equal(audit_append(a, &ev, &e), 0);
	assert_int_equal(audit_append(b, &ev, &e), 0);
	assert_int_equal(audit_append(b, &ev, &e), 0);
	assert_int_equal(audit_append(a, &ev, &e), 0);	/* a's cache is stale: re-read */
	audit_last(a, &seq, h);
	assert_int_equal(seq, 4);
	audit_close(a);
	audit_close(b);
	append_n(logf, AUDIT_FLUSH_NONE, 1);	/* a new handle continues the chain */
	assert_int_equal(audit_verify(logf, seq, h, &r, &e), 0);
	assert_int_equal(r.lines, 5);
}

static void
test_two_processes_appending_keep_one_chain(void **state)
{
	struct audit_verify_result r;
	struct cs_err e = { 0 };
	pid_t pid[2];
	int i, st;

	(void)state;
	for (i = 0; i < 2; i++) {
		pid[i] = fork();
		assert_true(pid[i] >= 0);
		if (pid[i] == 0) {
			struct audit *a = NULL;
			struct audit_event ev = { 0 };
			struct cs_err ce = { 0 };
			enum audit_flush fl = i == 0 ? AUDIT_FLUSH_NONE : AUDIT_FLUSH_ASYNC;
			int k, ok = audit_open(logf, fl, 5000, &a, &ce) == 0;

			ev.event = "secret_read";
			ev.provider = i == 0 ? "first" : "second";
			ev.pid = getpid();
			for (k = 0; ok && k < 200; k++)
				ok = audit_append(a, &ev, &ce) == 0;
			audit_close(a);
			_exit(ok ? 0 : 1);
		}
	}
	for (i = 0; i < 2; i++) {
		assert_int_equal(waitpid(pid[i], &st, 0), pid[i]);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	if (audit_verify(logf, 400, NULL, &r, &e) != 0)
		fail_msg("%s", e.msg);
	assert_int_equal(r.lines, 400);
	assert_int_equal(r.last_seq, 400);
}

static void *
append_100(void *arg)
{
	struct audit_event ev = { 0 };
	struct cs_err e = { 0 };
	int i;

	ev.event = "secret_read";
	ev.pid = -1;
	for (i = 0; i < 100; i++)
		if (audit_append(arg, &ev, &e) != 0)
			return (void *)1;
	return NULL;
}

static void
test_threads_sharing_a_handle_keep_one_chain(void **state)
{
	struct audit *a = NULL;
	struct audit_verify_result r;
	struct cs_err e = { 0 };
	pthread_t t[4];
	void *res;
	int i;

	(void)state;
	assert_int_equal(audit_open(logf, AUDIT_FLUSH_ASYNC, 5000, &a, &e), 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, append_100, a), 0);
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], &res), 0);
		assert_null(res);
	}
	audit_close(a);
	assert_int_equal(audit_verify(logf, 400, NULL, &r, &e), 0);
	assert_int_equal(r.lines, 400);
}

static void
test_a_lock_held_forever_times_out_and_recovers(void **state)
{
	struct audit *a = NULL;
	struct audit_event ev = { 0 };
	struct audit_verify_result r;
	struct cs_err e = { 0 };
	struct timespec t0, ts = { 0, 20 * 1000000L };
	int fd, i, rc = -1;

	(void)state;
	append_n(logf, AUDIT_FLUSH_NONE, 1);
	/* another open file description holding the lock: a writer wedged elsewhere */
	fd = open(lockfile, O_RDONLY);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	assert_int_equal(audit_open(logf, AUDIT_FLUSH_SYNC, 200, &a, &e), 0);
	ev.event = "secret_read";
	ev.pid = -1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(audit_append(a, &ev, &e), -1);
	assert_int_equal(e.code, ETIMEDOUT);
	assert_non_null(strstr(e.msg, "did not finish within 200 ms"));
	print_message("timed out after %ld ms (timeout_ms 200)\n", ms_since(&t0));
	flock(fd, LOCK_UN);
	close(fd);
	for (i = 0; i < POLL_ROUNDS && rc != 0; i++) {
		nanosleep(&ts, NULL);
		cs_err_clear(&e);
		rc = audit_append(a, &ev, &e);
	}
	assert_int_equal(rc, 0);
	audit_close(a);
	/* the line that timed out landed late: the log says more, never less */
	assert_int_equal(audit_verify(logf, 3, NULL, &r, &e), 0);
	assert_int_equal(r.lines, 3);
}

/* flush = async on a local disk appends in the caller (the fast path); a flock held
 * elsewhere must send it to the worker, bounded by the timeout, not block it. */
static void
test_a_held_lock_sends_the_fast_path_to_the_timeout(void **state)
{
	struct audit *a = NULL;
	struct audit_event ev = { 0 };
	struct audit_verify_result r;
	struct cs_err e = { 0 };
	struct timespec t0, ts = { 0, 20 * 1000000L };
	int fd, i, rc = -1;

	(void)state;
	assert_int_equal(audit_open(logf, AUDIT_FLUSH_ASYNC, 200, &a, &e), 0);
	ev.event = "secret_read";
	ev.pid = -1;
	assert_int_equal(audit_append(a, &ev, &e), 0);
	fd = open(lockfile, O_RDONLY);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(audit_append(a, &ev, &e), -1);
	assert_int_equal(e.code, ETIMEDOUT);
	print_message("timed out after %ld ms (timeout_ms 200)\n", ms_since(&t0));
	flock(fd, LOCK_UN);
	close(fd);
	for (i = 0; i < POLL_ROUNDS && rc != 0; i++) {
		nanosleep(&ts, NULL);
		cs_err_clear(&e);
		rc = audit_append(a, &ev, &e);
	}
	assert_int_equal(rc, 0);
	audit_close(a);
	assert_int_equal(audit_verify(logf, 3, NULL, &r, &e), 0);
	assert_int_equal(r.lines, 3);
}

static void
test_every_flush_mode_makes_a_verified_log(void **state)
{
	static const enum audit_flush modes[] = { AUDIT_FLUSH_SYNC, AUDIT_FLUSH_ASYNC,
	    AUDIT_FLUSH_NONE };
	struct audit_verify_result r;
	struct cs_err e = { 0 };
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++) {
		each(NULL);
		append_n(logf, modes[i], 20);
		assert_int_equal(audit_verify(logf, 20, NULL, &r, &e), 0);
		assert_int_equal(r.lines, 20);
	}
}

static void
test_async_flush_runs_while_idle(void **state)
{
	struct audit *a = NULL;
	struct audit_event ev = { 0 };
	struct cs_err e = { 0 };
	struct timespec ts = { 0, 3 * AUDIT_ASYNC_MS * 1000000L };

	(void)state;
	assert_int_equal(audit_open(logf, AUDIT_FLUSH_ASYNC, 2000, &a, &e), 0);
	ev.event = "secret_read";
	ev.pid = -1;
	assert_int_equal(audit_append(a, &ev, &e), 0);
	nanosleep(&ts, NULL);	/* the background flush happens in here */
	assert_int_equal(audit_append(a, &ev, &e), 0);
	audit_close(a);
	assert_int_equal(audit_verify(logf, 2, NULL, NULL, &e), 0);
}

static void
test_a_full_disk_is_an_error(void **state)
{
	struct audit *a = NULL;
	struct audit_event ev = { 0 };
	struct cs_err e = { 0 };

	(void)state;
	if (access("/dev/full", W_OK) != 0)
		skip();
	assert_int_equal(audit_open("/dev/full", AUDIT_FLUSH_SYNC, 2000, &a, &e), 0);
	ev.event = "secret_read";
	ev.pid = -1;
	assert_int_equal(audit_append(a, &ev, &e), -1);
	assert_int_equal(e.code, ENOSPC);
	assert_non_null(strstr(e.msg, "/dev/full"));
	assert_non_null(strstr(e.msg, "No space left on device"));
	audit_close(a);
}

static void
test_a_symlinked_log_is_refused(void **state)
{
	struct audit *a = NULL;
	struct cs_err e = { 0 };
	struct audit_verify_result r;
	char link[160], **lines;
	size_t n;

	(void)state;
	append_n(logf, AUDIT_FLUSH_NONE, 1);
	snprintf(link, sizeof link, "%s/link.log", dir);
	unlink(link);
	assert_int_equal(symlink(logf, link), 0);
	assert_int_equal(audit_open(link, AUDIT_FLUSH_NONE, 2000, &a, &e), -1);
	assert_null(a);
	assert_int_equal(e.code, ELOOP);
	assert_non_null(strstr(e.msg, "symbolic link"));
	cs_err_clear(&e);
	assert_int_equal(audit_verify(link, 0, NULL, &r, &e), -1);
	assert_int_equal(e.code, ELOOP);
	cs_err_clear(&e);
	assert_int_equal(audit_tail(link, 1, &lines, &n, &e), -1);
	assert_int_equal(e.code, ELOOP);
	unlink(link);
}

static void
test_tail_returns_the_last_lines(void **state)
{
	struct cs_err e = { 0 };
	char **lines, *all[MAX_LINES];
	size_t n, total, i;
	int fd;

	(void)state;
	append_n(logf, AUDIT_FLUSH_NONE, 30);
	total = read_lines(logf, all);
	assert_int_equal(audit_tail(logf, 5, &lines, &n, &e), 0);
	assert_int_equal(n, 5);
	for (i = 0; i < 5; i++)
		assert_string_equal(lines[i], all[25 + i]);
	assert_null(lines[5]);
	audit_lines_free(lines, n);
	assert_int_equal(audit_tail(logf, 100, &lines, &n, &e), 0);
	assert_int_equal(n, 30);
	assert_string_equal(lines[0], all[0]);
	audit_lines_free(lines, n);
	assert_int_equal(audit_tail(logf, 0, &lines, &n, &e), 0);
	assert_int_equal(n, 0);
	assert_null(lines[0]);
	audit_lines_free(lines, n);
	/* a last line without its newline still counts */
	fd = open(logf, O_WRONLY | O_APPEND);
	assert_int_equal(write(fd, "partial", 7), 7);
	close(fd);
	assert_int_equal(audit_tail(logf, 2, &lines, &n, &e), 0);
	assert_int_equal(n, 2);
	assert_string_equal(lines[0], all[29]);
	assert_string_equal(lines[1], "partial");
	audit_lines_free(lines, n);
	free_lines(all, total);
}

static void
test_tail_reads_across_chunks(void **state)
{
	struct audit *a = NULL;
	struct audit_event ev = { 0 };
	struct cs_err e = { 0 };
	char **lines, *big;
	size_t n;
	int i;

	(void)state;
	big = malloc(40000);
	memset(big, 'd', 39999);
	big[39999] = '\0';
	ev.event = "daemon";
	ev.detail = big;
	ev.pid = -1;
	assert_int_equal(audit_open(logf, AUDIT_FLUSH_NONE, 2000, &a, &e), 0);
	for (i = 0; i < 6; i++)
		assert_int_equal(audit_append(a, &ev, &e), 0);
	audit_close(a);
	free(big);
	assert_int_equal(audit_tail(logf, 4, &lines, &n, &e), 0);
	assert_int_equal(n, 4);
	assert_int_equal(strncmp(lines[0], "{\"seq\":3,", 9), 0);
	assert_int_equal(strncmp(lines[3], "{\"seq\":6,", 9), 0);
	audit_lines_free(lines, n);
}

static void
test_a_fifo_with_no_reader_does_not_hang_open(void **state)
{
	struct audit *a = NULL;
	struct cs_err e = { 0 };
	struct timespec t0;
	char fifo[160];

	(void)state;
	snprintf(fifo, sizeof fifo, "%s/noreader.fifo", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(audit_open(fifo, AUDIT_FLUSH_SYNC, 200, &a, &e), -1);
	assert_null(a);
	assert_int_equal(e.code, ENXIO);
	assert_non_null(strstr(e.msg, "no reader"));
	print_message("refused after %ld ms\n", ms_since(&t0));
	unlink(fifo);
}

/* A FIFO whose reader never reads, with its pipe already full. */
static int
stalled_fifo(const char *fifo, int *rfd)
{
	char junk[4096];
	int wfd;

	memset(junk, 'j', sizeof junk);
	unlink(fifo);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	*rfd = open(fifo, O_RDONLY | O_NONBLOCK);
	assert_true(*rfd >= 0);
	fcntl(*rfd, F_SETPIPE_SZ, 4096);
	wfd = open(fifo, O_WRONLY | O_NONBLOCK);
	assert_true(wfd >= 0);
	while (write(wfd, junk, sizeof junk) > 0 || errno == EINTR)
		;
	while (write(wfd, junk, 1) > 0)
		;
	assert_int_equal(errno, EAGAIN);
	return wfd;
}

static void
drain(int rfd)
{
	char buf[4096];

	while (read(rfd, buf, sizeof buf) > 0)
		;
}

static void
test_a_write_that_hangs_times_out_and_the_handle_recovers(void **state)
{
	struct audit *a = NULL;
	struct audit_event ev = { 0 };
	struct cs_err e = { 0 };
	struct timespec t0, ts = { 0, 20 * 1000000L };
	char fifo[160];
	long ms;
	int rfd, wfd, i, rc = -1;

	(void)state;
	snprintf(fifo, sizeof fifo, "%s/stalled.fifo", dir);
	wfd = stalled_fifo(fifo, &rfd);
	assert_int_equal(audit_open(fifo, AUDIT_FLUSH_SYNC, 200, &a, &e), 0);
	ev.event = "secret_read";
	ev.pid = -1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(audit_append(a, &ev, &e), -1);
	ms = ms_since(&t0);
	assert_int_equal(e.code, ETIMEDOUT);
	assert_non_null(strstr(e.msg, "did not finish within 200 ms"));
	assert_non_null(strstr(e.msg, fifo));
	print_message("timed out after %ld ms (timeout_ms 200)\n", ms);
	/* wedged: the next one fails at once */
	cs_err_clear(&e);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(audit_append(a, &ev, &e), -1);
	assert_int_equal(e.code, ETIMEDOUT);
	assert_non_null(strstr(e.msg, "still stuck"));
	print_message("failed after %ld ms\n", ms_since(&t0));
	/* someone reads: the stuck line goes through and appends work again */
	for (i = 0; i < POLL_ROUNDS && rc != 0; i++) {
		drain(rfd);
		nanosleep(&ts, NULL);
		cs_err_clear(&e);
		rc = audit_append(a, &ev, &e);
	}
	assert_int_equal(rc, 0);
	audit_close(a);
	close(wfd);
	close(rfd);
	unlink(fifo);
}

static void
test_close_does_not_hang_on_a_stuck_write(void **state)
{
	struct audit *a = NULL;
	struct audit_event ev = { 0 };
	struct cs_err e = { 0 };
	struct timespec t0, ts = { 0, 100 * 1000000L };
	char fifo[160];
	int rfd, wfd;

	(void)state;
	snprintf(fifo, sizeof fifo, "%s/close.fifo", dir);
	wfd = stalled_fifo(fifo, &rfd);
	assert_int_equal(audit_open(fifo, AUDIT_FLUSH_NONE, 200, &a, &e), 0);
	ev.event = "secret_read";
	ev.pid = -1;
	assert_int_equal(audit_append(a, &ev, &e), -1);
	assert_int_equal(e.code, ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	audit_close(a);
	print_message("closed in %ld ms\n", ms_since(&t0));
	/* let the detached writer finish and free the handle */
	drain(rfd);
	nanosleep(&ts, NULL);
	drain(rfd);
	close(wfd);
	close(rfd);
	nanosleep(&ts, NULL);
	unlink(fifo);
}

static void
test_a_fifo_with_a_reader_gets_a_chain_in_memory(void **state)
{
	struct audit *a = NULL;
	struct audit_event ev = { 0 };
	struct cs_err e = { 0 };
	char fifo[160], buf[4096], h[AUDIT_HASH_HEX + 1], *nl;
	uint64_t seq;
	ssize_t n;
	int rfd;

	(void)state;
	snprintf(fifo, sizeof fifo, "%s/reader.fifo", dir);
	unlink(fifo);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	rfd = open(fifo, O_RDONLY | O_NONBLOCK);
	assert_true(rfd >= 0);
	assert_int_equal(audit_open(fifo, AUDIT_FLUSH_SYNC, 2000, &a, &e), 0);
	ev.event = "secret_read";
	ev.pid = -1;
	assert_int_equal(audit_append(a, &ev, &e), 0);
	assert_int_equal(audit_append(a, &ev, &e), 0);
	audit_last(a, &seq, h);
	assert_int_equal(seq, 2);
	audit_close(a);
	n = read(rfd, buf, sizeof buf - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_int_equal(strncmp(buf, FIRST, sizeof FIRST - 1), 0);
	nl = strchr(buf, '\n');
	assert_non_null(nl);
	assert_int_equal(strncmp(nl + 1, "{\"seq\":2,", 9), 0);
	close(rfd);
	unlink(fifo);
}

/* --- rotation: logrotate's create (rename) and copytruncate --- */

static void
one(struct audit *a, const char *provider)
{
	struct audit_event ev = { 0 };
	struct cs_err e = { 0 };

	ev.event = "secret_read";
	ev.provider = provider;
	ev.pid = -1;
	if (audit_append(a, &ev, &e) != 0)
		fail_msg("append %s: %s", provider, e.msg);
}

/* logrotate's create: .2 -> .3, .1 -> .2, the log -> .1 */
static void
shift_rotated(void)
{
	char from[200], to[200];
	int i;

	for (i = 2; i >= 1; i--) {
		snprintf(from, sizeof from, "%s.%d", logf, i);
		snprintf(to, sizeof to, "%s.%d", logf, i + 1);
		if (access(from, F_OK) == 0)
			assert_int_equal(rename(from, to), 0);
	}
	snprintf(to, sizeof to, "%s.1", logf);
	assert_int_equal(rename(logf, to), 0);
}

static size_t
count_in(const char *path, const char *words)
{
	char *lines[MAX_LINES];
	size_t n, i, c = 0;

	n = read_lines(path, lines);
	for (i = 0; i < n; i++)
		c += strstr(lines[i], words) != NULL;
	free_lines(lines, n);
	return c;
}

static void
expect_set_ok(uint64_t seq, uint64_t lines, unsigned files)
{
	struct audit_verify_result r;
	struct cs_err e = { 0 };

	if (audit_verify(logf, seq, NULL, &r, &e) != 0)
		fail_msg("verify: %s", e.msg);
	assert_int_equal(r.lines, lines);
	assert_int_equal(r.files, files);
	assert_int_equal(r.last_seq, seq);
}

/* A new writer (the CLI) after a rename: the new file goes on with the chain. */
static void
test_a_renamed_log_goes_on_in_a_new_file(void **state)
{
	char old[160], *lines[MAX_LINES];
	size_t n;

	(void)state;
	snprintf(old, sizeof old, "%s.1", logf);
	append_n(logf, AUDIT_FLUSH_SYNC, 3);
	assert_int_equal(rename(logf, old), 0);
	append_n(logf, AUDIT_FLUSH_SYNC, 2);
	n = read_lines(logf, lines);
	assert_int_equal(n, 3);
	assert_non_null(strstr(lines[0], "{\"seq\":4,"));
	assert_non_null(strstr(lines[0], "\"event\":\"audit_log_continued\""));
	assert_non_null(strstr(lines[0], "from seq 3"));
	free_lines(lines, n);
	expect_set_ok(6, 6, 2);
}

/* The daemon's handle keeps its fd on the renamed file: until it is told (SIGHUP) or
 * notices (audit_tick), lines go on there, in order; then to the new file. A writer
 * that has moved on moves it too, so no line goes to the old file after the new. */
static void
test_a_long_lived_handle_follows_a_rename(void **state)
{
	struct audit *a = NULL, *b = NULL;
	struct cs_err e = { 0 };
	char old[160];

	(void)state;
	snprintf(old, sizeof old, "%s.1", logf);
	assert_int_equal(audit_open(logf, AUDIT_FLUSH_ASYNC, 2000, &a, &e), 0);
	one(a, "before");
	assert_int_equal(rename(logf, old), 0);
	one(a, "between");			/* not told yet: the old file */
	audit_reopen(a);
	one(a, "after-hup");
	assert_int_equal(count_in(old, "\"between\""), 1);
	assert_int_equal(count_in(logf, "\"after-hup\""), 1);
	expect_set_ok(4, 4, 2);

	/* by itself: audit_tick sees the path name another file */
	shift_rotated();
	audit_tick(a);
	one(a, "after-tick");
	assert_int_equal(count_in(logf, "\"after-tick\""), 1);

	/* another writer moves on first: the handle follows at its next line */
	shift_rotated();
	assert_int_equal(audit_open(logf, AUDIT_FLUSH_ASYNC, 2000, &b, &e), 0);
	one(b, "other");
	one(a, "follows");
	audit_close(b);
	audit_close(a);
	assert_int_equal(count_in(old, "\"follows\""), 0);
	assert_int_equal(count_in(logf, "\"follows\""), 1);
	/* 4 lines, 2 continuations, after-tick, other, follows */
	expect_set_ok(9, 9, 4);
}

/* copytruncate: the file is copied, then cut to 0 under the writer's O_APPEND fd. */
struct late_append {
	struct audit	*a;
	atomic_int	 started;
	int		 rc;
};

static void *
late_append(void *arg)
{
	struct late_append *l = arg;
	struct audit_event ev = { 0 };
	struct cs_err e = { 0 };

	ev.event = "key_rotated";
	ev.pid = -1;
	atomic_store(&l->started, 1);
	l->rc = audit_append(l->a, &ev, &e);
	return NULL;
}

static long long
realtime_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* A line's time is when it went into the log, under the flock, not when it was handed
 * in: a writer that waited for the flock never stamps its line earlier than the line
 * another writer put before it. */
static void
test_a_line_is_stamped_when_it_is_written(void **state)
{
	struct late_append l = { 0 };
	struct cs_err e = { 0 };
	struct timespec ts = { 0, 5 * 1000000L };
	struct tm tm = { 0 };
	char *lines[MAX_LINES], *t;
	long long released, stamped;
	pthread_t th;
	size_t n;
	int fd, ms, i;

	(void)state;
	append_n(logf, AUDIT_FLUSH_NONE, 1);
	/* sync: the worker waits for the flock, after the line was encoded */
	assert_int_equal(audit_open(logf, AUDIT_FLUSH_SYNC, 10000, &l.a, &e), 0);
	fd = open(lockfile, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	assert_int_equal(pthread_create(&th, NULL, late_append, &l), 0);
	for (i = 0; i < POLL_ROUNDS * 4 && !atomic_load(&l.started); i++)
		nanosleep(&ts, NULL);
	/* the wall clock moves on by 200 ms while the line waits */
	released = realtime_ms() + 200;
	for (i = 0; i < POLL_ROUNDS * 4 && realtime_ms() < released; i++)
		nanosleep(&ts, NULL);
	released = realtime_ms();
	flock(fd, LOCK_UN);
	close(fd);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(l.rc, 0);
	audit_close(l.a);
	n = read_lines(logf, lines);
	assert_int_equal(n, 2);
	assert_non_null(t = strstr(lines[1], "\"timestamp\":\""));
	t += strlen("\"timestamp\":\"");
	assert_non_null(strptime(t, "%Y-%m-%dT%H:%M:%S", &tm));
	assert_int_equal(sscanf(t + 20, "%3d", &ms), 1);
	stamped = (long long)timegm(&tm) * 1000 + ms;
	print_message("released at %lld, stamped %lld\n", released, stamped);
	assert_true(stamped >= released);
	free_lines(lines, n);
	assert_int_equal(audit_verify(logf, 2, NULL, NULL, &e), 0);
}

static void
test_a_truncated_log_goes_on_with_the_chain(void **state)
{
	struct audit *a = NULL;
	struct cs_err e = { 0 };
	char cmd[1024], *lines[MAX_LINES];
	size_t n;

	(void)state;
	assert_int_equal(audit_open(logf, AUDIT_FLUSH_ASYNC, 2000, &a, &e), 0);
	one(a, "p1");
	one(a, "p2");
	snprintf(cmd, sizeof cmd, "cp %s %s.1 && : >%s", logf, logf, logf);
	assert_int_equal(system(cmd), 0);
	one(a, "p3");			/* the handle that wrote the tail */
	audit_close(a);
	append_n(logf, AUDIT_FLUSH_NONE, 1);	/* and a new one */
	n = read_lines(logf, lines);
	assert_int_equal(n, 3);
	assert_non_null(strstr(lines[0], "{\"seq\":3,"));	/* no hole at offset 0 */
	assert_non_null(strstr(lines[0], "audit_log_continued"));
	free_lines(lines, n);
	expect_set_ok(5, 5, 2);
	/* a new handle, not the one that wrote the tail, after a second copytruncate */
	snprintf(cmd, sizeof cmd, "mv %s.1 %s.2 && cp %s %s.1 && : >%s", logf, logf, logf,
	    logf, logf);
	assert_int_equal(system(cmd), 0);
	append_n(logf, AUDIT_FLUSH_NONE, 1);
	expect_set_ok(7, 7, 3);
}

/* Lines written between copytruncate's copy and its truncation are lost: the chain
 * shows it, between the two files. */
static void
test_verify_names_lines_lost_between_files(void **state)
{
	struct audit *a = NULL;
	struct cs_err e = { 0 };
	char cmd[1024];

	(void)state;
	assert_int_equal(audit_open(logf, AUDIT_FLUSH_NONE, 2000, &a, &e), 0);
	one(a, "p1");
	snprintf(cmd, sizeof cmd, "cp %s %s.1", logf, logf);
	assert_int_equal(system(cmd), 0);
	one(a, "lost");
	assert_int_equal(truncate(logf, 0), 0);
	one(a, "p3");
	audit_close(a);
	expect_bad(logf, 0, NULL, 1, "line 1: seq 3, but");
	expect_bad(logf, 0, NULL, 1, "audit.log.1 ended at seq 1: 1 lines lost between "
	    "the files");
}

/* An edit in a rotated file is named with that file and its line; so is a rotated file
 * replaced by another chain. */
static void
test_verify_names_the_rotated_file_and_line(void **state)
{
	struct audit_verify_result r;
	struct cs_err e = { 0 };
	char old[160], *lines[MAX_LINES], *p;
	size_t n;

	(void)state;
	snprintf(old, sizeof old, "%s.1", logf);
	append_n(logf, AUDIT_FLUSH_NONE, 4);
	assert_int_equal(rename(logf, old), 0);
	append_n(logf, AUDIT_FLUSH_NONE, 2);
	n = read_lines(old, lines);
	p = strstr(lines[1], "\"p2\"");
	assert_non_null(p);
	p[2] = '7';
	write_lines(old, lines, n);
	free_lines(lines, n);
	assert_int_equal(audit_verify(logf, 0, NULL, &r, &e), -1);
	assert_non_null(strstr(e.msg, "audit.log.1: line 3: prev does not match"));
	assert_string_equal(r.bad_file, old);
	assert_int_equal(r.bad_line, 3);
	/* the last line of .1 edited: the break shows on the first line of the next */
	each(NULL);
	append_n(logf, AUDIT_FLUSH_NONE, 2);
	assert_int_equal(rename(logf, old), 0);
	append_n(logf, AUDIT_FLUSH_NONE, 1);
	n = read_lines(old, lines);
	p = strstr(lines[1], "\"p2\"");
	p[2] = '7';
	write_lines(old, lines, n);
	free_lines(lines, n);
	cs_err_clear(&e);
	assert_int_equal(audit_verify(logf, 0, NULL, &r, &e), -1);
	assert_non_null(strstr(e.msg, "audit.log: line 1: prev does not match the hash of "
	    "the last line of"));
	assert_string_equal(r.bad_file, logf);
}

/* logrotate's compress: audit.log.2.gz is read through gzip; the oldest file left may
 * start with audit_log_continued (older ones deleted), any other start is refused. */
/* A set of three files as logrotate leaves it, two lines written to each: the oldest
 * at <log><older>, compressed (.gz), the next at <log><old>, then <log>. */
static void
three_files(const char *older, const char *old)
{
	char cmd[1024];

	append_n(logf, AUDIT_FLUSH_NONE, 2);
	snprintf(cmd, sizeof cmd, "mv %s %s%s", logf, logf, older);
	assert_int_equal(system(cmd), 0);
	append_n(logf, AUDIT_FLUSH_NONE, 2);
	snprintf(cmd, sizeof cmd, "mv %s %s%s && gzip %s%s", logf, logf, old, logf, older);
	assert_int_equal(system(cmd), 0);
	append_n(logf, AUDIT_FLUSH_NONE, 2);
}

static void
test_verify_reads_compressed_and_partial_sets(void **state)
{
	char cmd[1024], *lines[MAX_LINES];
	size_t n;

	(void)state;
	if (system("command -v gzip >/dev/null") != 0)
		skip();
	three_files(".2", ".1");
	expect_set_ok(8, 8, 3);
	/* the oldest rotated away: the set starts at .1's audit_log_continued */
	snprintf(cmd, sizeof cmd, "rm %s.2.gz", logf);
	assert_int_equal(system(cmd), 0);
	expect_set_ok(8, 6, 2);
	{
		struct audit_verify_result r;
		struct cs_err e = { 0 };

		assert_int_equal(audit_verify(logf, 0, NULL, &r, &e), 0);
		assert_int_equal(r.first_seq, 3);	/* .1 starts with the continuation */
	}
	/* a first line cut from the oldest file (not a continuation) is still refused */
	n = read_lines(logf, lines);
	snprintf(cmd, sizeof cmd, "rm -f %s.1", logf);
	assert_int_equal(system(cmd), 0);
	write_lines(logf, lines + 1, n - 1);
	free_lines(lines, n);
	expect_bad(logf, 0, NULL, 1, "line 1: seq 7, expected 1");
}

/* logrotate's dateext names (<log>-YYYYMMDD[.gz]): ordered by their dates, read back
 * by --limit too; two date formats, or dated and numbered files together, are refused
 * (their order is not known). */
static void
test_verify_reads_a_dateext_set(void **state)
{
	struct cs_err e = { 0 };
	char cmd[1024], **lines = NULL;
	size_t n = 0;

	(void)state;
	if (system("command -v gzip >/dev/null") != 0)
		skip();
	three_files("-20261128", "-20261129");
	expect_set_ok(8, 8, 3);
	assert_int_equal(audit_tail_rotated(logf, 8, &lines, &n, &e), 0);
	assert_int_equal(n, 8);
	assert_non_null(strstr(lines[0], "{\"seq\":1,"));
	assert_non_null(strstr(lines[7], "{\"seq\":8,"));
	audit_lines_free(lines, n);
	/* dates that say the newer file is the older: the chain breaks there */
	snprintf(cmd, sizeof cmd, "cd %s && mv audit.log-20261128.gz x && mv audit.log-20261129 "
	    "audit.log-20261128 && mv x audit.log-20261129.gz", dir);
	assert_int_equal(system(cmd), 0);
	expect_bad(logf, 0, NULL, 1, "line 1: seq 1, expected 6");
	/* another date format beside them */
	snprintf(cmd, sizeof cmd, "cp %s-20261128 %s-2026113001", logf, logf);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(audit_verify(logf, 0, NULL, NULL, &e), -1);
	assert_int_equal(e.code, EINVAL);
	assert_non_null(strstr(e.msg, "two date formats"));
	snprintf(cmd, sizeof cmd, "mv %s-2026113001 %s.1", logf, logf);
	assert_int_equal(system(cmd), 0);
	cs_err_clear(&e);
	assert_int_equal(audit_verify(logf, 0, NULL, NULL, &e), -1);
	assert_int_equal(e.code, EINVAL);
	assert_non_null(strstr(e.msg, "both numbered"));
	snprintf(cmd, sizeof cmd, "rm -f %s-2026*", logf);
	assert_int_equal(system(cmd), 0);
}

/* Edits the provider of line 2 of the plain file path: "p1" becomes "p7". */
static void
tamper_line_2(const char *path)
{
	char *lines[MAX_LINES], *p;
	size_t n;

	n = read_lines(path, lines);
	assert_true(n >= 2);
	p = strstr(lines[1], "\"p1\"");
	assert_non_null(p);
	p[2] = '7';
	write_lines(path, lines, n);
	free_lines(lines, n);
}

/* A dateformat with separators (-%Y%m%d-%H%M%S, -%Y-%m-%d, -%Y.%m.%d): the set is read
 * in date order, an edit in it is caught naming the file, and two shapes of date (as
 * many digits, separators elsewhere) are refused. */
static void
test_verify_reads_a_dateformat_with_separators(void **state)
{
	static const char *formats[][2] = {
		{ "-20261128-181647", "-20261129-181647" },
		{ "-2026-11-28", "-2026-11-29" },
		{ "-2026.11.28", "-2026.11.29" },	/* and -2026.11.28.gz */
		{ "-2026_11_28", "-2026_11_29" },
	};
	struct cs_err e = { 0 };
	char cmd[1024], old[200], **lines = NULL;
	size_t i, n = 0;

	(void)state;
	if (system("command -v gzip >/dev/null") != 0)
		skip();
	for (i = 0; i < sizeof formats / sizeof formats[0]; i++) {
		each(NULL);
		three_files(formats[i][0], formats[i][1]);
		expect_set_ok(8, 8, 3);
		assert_int_equal(audit_tail_rotated(logf, 8, &lines, &n, &e), 0);
		assert_int_equal(n, 8);
		assert_non_null(strstr(lines[0], "{\"seq\":1,"));
		audit_lines_free(lines, n);
		snprintf(old, sizeof old, "%s%s", logf, formats[i][1]);
		tamper_line_2(old);	/* its line 1 is audit_log_continued */
		expect_bad(logf, 0, NULL, 3, "line 3: prev does not match the hash of line 2");
		cs_err_clear(&e);
		assert_int_equal(audit_verify(logf, 0, NULL, NULL, &e), -1);
		assert_non_null(strstr(e.msg, old));
	}
	/* -%Y-%m-%d beside -%Y%m%d-%H: as many digits, another shape */
	each(NULL);
	three_files("-2026-11-28", "-2026-11-29");
	snprintf(cmd, sizeof cmd, "cp %s-2026-11-29 %s-2026113001", logf, logf);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof cmd, "mv %s-2026113001 %s-20261130-01", logf, logf);
	assert_int_equal(system(cmd), 0);
	cs_err_clear(&e);
	assert_int_equal(audit_verify(logf, 0, NULL, NULL, &e), -1);
	assert_int_equal(e.code, EINVAL);
	assert_non_null(strstr(e.msg, "two date formats"));
}

/* compresscmd xz (or bzip2, zstd...): a rotated file that cannot be read fails --verify
 * naming it, numbered or dated, and --limit when it reaches it; it is never passed
 * over. Beside its plain twin (the compressor still running) the plain one is read. */
static void
test_verify_refuses_a_rotated_file_it_cannot_decompress(void **state)
{
	struct audit_verify_result r;
	struct cs_err e = { 0 };
	char p[200], q[200], **lines = NULL;
	size_t n = 0;

	(void)state;
	append_n(logf, AUDIT_FLUSH_NONE, 2);
	shift_rotated();
	append_n(logf, AUDIT_FLUSH_NONE, 2);
	shift_rotated();
	append_n(logf, AUDIT_FLUSH_NONE, 2);	/* .2: seq 1-2, .1: 3-5, log: 6-8 */
	snprintf(p, sizeof p, "%s.2", logf);
	snprintf(q, sizeof q, "%s.2.xz", logf);
	assert_int_equal(rename(p, q), 0);	/* its bytes do not matter: it is not read */
	assert_int_equal(audit_verify(logf, 0, NULL, &r, &e), -1);
	assert_int_equal(e.code, ENOTSUP);
	if (strstr(e.msg, q) == NULL || strstr(e.msg, "compressed as xz, which comfysecrets "
	    "cannot read (gzip only") == NULL)
		fail_msg("message \"%s\" does not name the file and the compression", e.msg);
	assert_string_equal(r.bad_file, q);
	assert_int_equal(r.bad_line, 0);
	/* --limit: lines short of it are read; reaching it is the same error */
	assert_int_equal(audit_tail_rotated(logf, 4, &lines, &n, &e), 0);
	audit_lines_free(lines, n);
	cs_err_clear(&e);
	assert_int_equal(audit_tail_rotated(logf, 20, &lines, &n, &e), -1);
	assert_int_equal(e.code, ENOTSUP);
	assert_non_null(strstr(e.msg, q));
	/* with its plain twin, the twin is read and it is listed as not read */
	assert_int_equal(link(q, p), 0);
	expect_set_ok(8, 8, 3);
	/* dated: audit.log-20261128.zst */
	each(NULL);
	append_n(logf, AUDIT_FLUSH_NONE, 2);
	snprintf(q, sizeof q, "%s-20261128.zst", logf);
	assert_int_equal(rename(logf, q), 0);
	append_n(logf, AUDIT_FLUSH_NONE, 2);
	cs_err_clear(&e);
	assert_int_equal(audit_verify(logf, 0, NULL, &r, &e), -1);
	assert_int_equal(e.code, ENOTSUP);
	assert_non_null(strstr(e.msg, "audit.log-20261128.zst: a rotated log compressed as zst"));
}

/* Files named like the log that are not rotated names (a copy an admin left, a name
 * short of a date) are not read, do not fail --verify, and are listed by audit_unread
 * so that the CLI can warn of each; so is a compressed twin of a file that is read. */
static void
test_verify_lists_the_files_it_does_not_read(void **state)
{
	struct cs_err e = { 0 };
	char cmd[1024], want[512], **msgs = NULL;
	size_t n = 0;

	(void)state;
	append_n(logf, AUDIT_FLUSH_NONE, 2);
	shift_rotated();
	append_n(logf, AUDIT_FLUSH_NONE, 2);
	snprintf(cmd, sizeof cmd, "cd %s && printf 'not a log\\n' >audit.log.bak && "
	    "printf 'x\\n' >audit.log-old && printf 'x\\n' >audit.log-2026-11 && "
	    "printf 'x\\n' >audit.log.1~ && printf 'x\\n' >audit.logger", dir);
	assert_int_equal(system(cmd), 0);
	expect_set_ok(5, 5, 2);			/* .bak and the rest were not read */
	assert_int_equal(audit_unread(logf, &msgs, &n, &e), 0);
	assert_int_equal(n, 4);			/* audit.logger is another log's */
	assert_null(msgs[n]);
	snprintf(want, sizeof want, "%s-2026-11: not read: not a rotated log's name "
	    "(audit.log.N or audit.log-DATE, maybe .gz)", logf);
	assert_string_equal(msgs[0], want);
	snprintf(want, sizeof want, "%s-old: not read: ", logf);
	assert_non_null(strstr(msgs[1], want));
	snprintf(want, sizeof want, "%s.1~: not read: ", logf);
	assert_non_null(strstr(msgs[2], want));
	snprintf(want, sizeof want, "%s.bak: not read: ", logf);
	assert_non_null(strstr(msgs[3], want));
	audit_lines_free(msgs, n);
	/* a compressed twin of .1 (gzip still running): .1 is read, the twin is listed */
	snprintf(cmd, sizeof cmd, "cd %s && rm audit.log.bak audit.log-* audit.log.1~ && "
	    "gzip -c audit.log.1 >audit.log.1.gz", dir);
	assert_int_equal(system(cmd), 0);
	expect_set_ok(5, 5, 2);
	assert_int_equal(audit_unread(logf, &msgs, &n, &e), 0);
	assert_int_equal(n, 1);
	snprintf(want, sizeof want, "%s.1.gz: not read: %s.1 holds the same rotated file and "
	    "is read instead", logf, logf);
	if (strstr(msgs[0], want) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", msgs[0], want);
	audit_lines_free(msgs, n);
	/* nothing beside the log: an empty list, not NULL */
	each(NULL);
	append_n(logf, AUDIT_FLUSH_NONE, 1);
	assert_int_equal(audit_unread(logf, &msgs, &n, &e), 0);
	assert_int_equal(n, 0);
	assert_non_null(msgs);
	audit_lines_free(msgs, n);
	snprintf(cmd, sizeof cmd, "%s/audit.logger", dir);
	unlink(cmd);
}

/* logrotate's create with compress: .2.gz -> .3.gz, .1 -> .2.gz, the log -> .1, and
 * two lines in each new file (an audit_log_continued first, then one read). */
static void
rotate_gz(void)
{
	char cmd[1024];

	snprintf(cmd, sizeof cmd, "cd %s && for i in 5 4 3 2; do [ ! -e audit.log.$i.gz ] "
	    "|| mv audit.log.$i.gz audit.log.$((i + 1)).gz; done && { [ ! -e audit.log.1 ] "
	    "|| { gzip -c audit.log.1 >audit.log.2.gz && rm audit.log.1; }; } && "
	    "mv audit.log audit.log.1", dir);
	assert_int_equal(system(cmd), 0);
	append_n(logf, AUDIT_FLUSH_NONE, 1);
}

/* A rotated file removed from the middle of the set is a break naming it; the files
 * beyond it are still found (the folder is listed, not counted up from .1). A set whose
 * oldest files were deleted by rotation still verifies. */
static void
test_verify_names_a_rotated_file_missing_in_the_middle(void **state)
{
	struct audit_verify_result r;
	struct cs_err e = { 0 };
	char p[200], q[200];

	(void)state;
	if (system("command -v gzip >/dev/null") != 0)
		skip();
	append_n(logf, AUDIT_FLUSH_NONE, 2);
	rotate_gz();
	rotate_gz();
	rotate_gz();		/* .3.gz: seq 1-2, .2.gz: 3-4, .1: 5-6, log: 7-8 */
	expect_set_ok(8, 8, 4);
	snprintf(p, sizeof p, "%s.2.gz", logf);
	snprintf(q, sizeof q, "%s/moved.gz", dir);
	assert_int_equal(rename(p, q), 0);
	assert_int_equal(audit_verify(logf, 0, NULL, &r, &e), -1);
	if (strstr(e.msg, "audit.log.2: missing") == NULL ||
	    strstr(e.msg, "audit.log.3.gz and ") == NULL)
		fail_msg("message \"%s\" does not name the gap", e.msg);
	snprintf(p, sizeof p, "%s.2", logf);
	assert_string_equal(r.bad_file, p);
	assert_int_equal(r.bad_line, 0);
	/* the oldest file gone too: the set starts at .1's audit_log_continued */
	snprintf(p, sizeof p, "%s.3.gz", logf);
	assert_int_equal(unlink(p), 0);
	expect_set_ok(8, 4, 2);
	/* a gap of two, with the oldest file numbered 5 */
	snprintf(p, sizeof p, "%s.5.gz", logf);
	assert_int_equal(rename(q, p), 0);
	cs_err_clear(&e);
	assert_int_equal(audit_verify(logf, 0, NULL, &r, &e), -1);
	if (strstr(e.msg, "audit.log.4: missing") == NULL)
		fail_msg("message \"%s\" does not name the gap", e.msg);
}

/* seq of an audit line */
static long
seq_of(const char *line)
{
	return strncmp(line, "{\"seq\":", 7) == 0 ? strtol(line + 7, NULL, 10) : -1;
}

/* The tail reads back into the rotated files, .1 then .2.gz, oldest line first. */
static void
test_tail_reads_back_into_rotated_files(void **state)
{
	struct cs_err e = { 0 };
	char **lines = NULL, p[200], q[200];
	size_t n, i;

	(void)state;
	if (system("command -v gzip >/dev/null") != 0)
		skip();
	append_n(logf, AUDIT_FLUSH_NONE, 2);
	rotate_gz();
	rotate_gz();		/* .2.gz: seq 1-2, .1: 3-4, log: 5-6 */
	assert_int_equal(audit_tail_rotated(logf, 5, &lines, &n, &e), 0);
	assert_int_equal(n, 5);
	for (i = 0; i < n; i++)
		assert_int_equal(seq_of(lines[i]), (long)i + 2);
	assert_null(lines[n]);
	audit_lines_free(lines, n);
	assert_int_equal(audit_tail_rotated(logf, 100, &lines, &n, &e), 0);
	assert_int_equal(n, 6);
	for (i = 0; i < n; i++)
		assert_int_equal(seq_of(lines[i]), (long)i + 1);
	audit_lines_free(lines, n);
	assert_int_equal(audit_tail_rotated(logf, 2, &lines, &n, &e), 0);
	assert_int_equal(n, 2);
	assert_int_equal(seq_of(lines[0]), 5);
	audit_lines_free(lines, n);
	/* between the rename and the next line: the rotated files alone */
	snprintf(p, sizeof p, "%s.2.gz", logf);
	assert_int_equal(unlink(p), 0);
	snprintf(p, sizeof p, "%s.1", logf);
	snprintf(q, sizeof q, "%s.2", logf);
	assert_int_equal(rename(p, q), 0);
	assert_int_equal(rename(logf, p), 0);	/* .2: seq 3-4, .1: 5-6, no log */
	assert_int_equal(audit_tail_rotated(logf, 3, &lines, &n, &e), 0);
	assert_int_equal(n, 3);
	for (i = 0; i < n; i++)
		assert_int_equal(seq_of(lines[i]), (long)i + 4);
	audit_lines_free(lines, n);
}

static void
test_a_corrupt_gzip_is_named(void **state)
{
	struct audit_verify_result r;
	struct cs_err e = { 0 };
	char cmd[1024];

	(void)state;
	if (system("command -v gzip >/dev/null") != 0)
		skip();
	append_n(logf, AUDIT_FLUSH_NONE, 2);
	snprintf(cmd, sizeof cmd, "printf 'not gzip' >%s.1.gz", logf);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(audit_verify(logf, 0, NULL, &r, &e), -1);
	assert_non_null(strstr(e.msg, "audit.log.1.gz"));
}

/* Whoever may read the log (0640, group adm) may flock it: that must not stop writers.
 * The chain's lock is the 0600 lock file. */
static void
test_a_readers_flock_on_the_log_does_not_stop_appends(void **state)
{
	struct audit *a = NULL;
	struct cs_err e = { 0 };
	struct stat st;
	int fd;

	(void)state;
	append_n(logf, AUDIT_FLUSH_NONE, 1);
	assert_int_equal(chmod(logf, 0640), 0);
	fd = open(logf, O_RDONLY);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	assert_int_equal(audit_open(logf, AUDIT_FLUSH_SYNC, 300, &a, &e), 0);
	one(a, "while-locked");
	audit_close(a);
	close(fd);
	assert_int_equal(stat(lockfile, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	expect_set_ok(2, 2, 1);
}

/* --- denials merged per caller and pair --- */

static void
deny(struct audit *a, uid_t uid, const char *host, int port)
{
	struct audit_event ev = { 0 };
	struct cs_err e = { 0 };

	ev.event = "sandbox_blocked";
	ev.host = host;
	ev.port = port;
	ev.reason = "no allowlist entry matches";
	ev.via = "fs";
	ev.pid = 4242;
	ev.uid = uid;
	ev.gid = uid;
	ev.comm = "flood";
	if (audit_append_denial(a, &ev, &e) != 0)
		fail_msg("denial: %s", e.msg);
}

/* Lines of the log with words, and the denials they stand for (1 + "repeats"). */
static size_t
denials_in_log(size_t *lines_out, const char *words)
{
	FILE *f = fopen(logf, "r");
	char *line = NULL, *r;
	size_t cap = 0, lines = 0, total = 0;

	assert_non_null(f);
	while (getline(&line, &cap, f) > 0) {
		if (strstr(line, "\"event\":\"sandbox_blocked\"") == NULL ||
		    (words != NULL && strstr(line, words) == NULL))
			continue;
		lines++;
		if ((r = strstr(line, "\"repeats\":")) != NULL)
			total += strtoul(r + 10, NULL, 10);
		else
			total++;
	}
	free(line);
	fclose(f);
	*lines_out = lines;
	return total;
}

/* One caller in a loop: the same pair 3000 times and 3000 others. Within a window the
 * log gets AUDIT_DENIAL_PAIRS lines; when it ends, one summary per repeated pair and one
 * for the rest: every denial is counted, in at most 2 * PAIRS + 1 lines. */
static void
test_a_denial_flood_is_merged_per_caller_and_pair(void **state)
{
	struct audit *a = NULL;
	struct cs_err e = { 0 };
	char host[64];
	size_t lines, total;
	int i;

	(void)state;
	assert_int_equal(audit_open(logf, AUDIT_FLUSH_ASYNC, 2000, &a, &e), 0);
	audit_set_denial_window(a, 60000);
	for (i = 0; i < 3000; i++) {
		deny(a, 1000, "evil.example", 1);
		snprintf(host, sizeof host, "h%d.example", i);
		deny(a, 1000, host, 443);
		if (i == 1500)
			one(a, "read-in-the-middle");
	}
	total = denials_in_log(&lines, NULL);
	assert_int_equal(lines, AUDIT_DENIAL_PAIRS);	/* the first pairs, once each */
	assert_int_equal(count_in(logf, "\"read-in-the-middle\""), 1);
	audit_close(a);				/* ends the window: the summaries */
	total = denials_in_log(&lines, NULL);
	assert_int_equal(total, 6000);
	assert_true(lines <= 2 * AUDIT_DENIAL_PAIRS + 1);
	assert_int_equal(denials_in_log(&lines, "\"host\":\"evil.example\",\"port\":1,"), 3000);
	assert_int_equal(lines, 2);			/* the first, then the summary */
	if (audit_verify(logf, 0, NULL, NULL, &e) != 0)
		fail_msg("verify: %s", e.msg);
}

/* A new window logs again; audit_tick writes the summary of an ended window. */
static void
test_merged_denials_are_written_when_the_window_ends(void **state)
{
	struct audit *a = NULL;
	struct cs_err e = { 0 };
	struct timespec ts = { 0, 10 * 1000000L };
	size_t lines;
	int i;

	(void)state;
	assert_int_equal(audit_open(logf, AUDIT_FLUSH_ASYNC, 2000, &a, &e), 0);
	audit_set_denial_window(a, 50);
	for (i = 0; i < 10; i++)
		deny(a, 1000, "evil.example", 1);
	assert_int_equal(denials_in_log(&lines, NULL), 1);
	/* poll until the window has ended and a tick wrote the summary (2 s at most) */
	for (i = 0; i < 200 && denials_in_log(&lines, NULL) != 10; i++) {
		nanosleep(&ts, NULL);
		audit_tick(a);
	}
	assert_int_equal(denials_in_log(&lines, NULL), 10);
	assert_int_equal(denials_in_log(&lines, "\"repeats\":9,\"since\":\""), 9);
	deny(a, 1000, "evil.example", 1);		/* a new window: a line of its own */
	assert_int_equal(denials_in_log(&lines, NULL), 11);
	assert_int_equal(lines, 3);
	audit_close(a);
}

/* Callers choose what fills the table: 5000 uids with a long host each. The table
 * keeps AUDIT_DENIAL_CALLERS of them; the rest share one entry, so the lines stay
 * bounded and every denial is still counted. */
static void
test_the_merge_table_is_bounded(void **state)
{
	struct audit *a = NULL;
	struct cs_err e = { 0 };
	char host[700];
	size_t lines, total;
	int i;

	(void)state;
	memset(host, 'a', sizeof host - 1);
	host[sizeof host - 1] = '\0';
	assert_int_equal(audit_open(logf, AUDIT_FLUSH_NONE, 2000, &a, &e), 0);
	audit_set_denial_window(a, 60000);
	for (i = 0; i < 5000; i++) {
		snprintf(host, 16, "%06d", i);	/* cut: the rest stays 'a's */
		host[6] = 'a';
		deny(a, 10000 + (uid_t)i, host, 1);
	}
	audit_close(a);
	total = denials_in_log(&lines, NULL);
	assert_int_equal(total, 5000);
	assert_true(lines <= (AUDIT_DENIAL_CALLERS + 1) * (2 * AUDIT_DENIAL_PAIRS + 1));
	assert_true(count_in(logf, "callers past the") >= 1);
}

/* Root's denials are written one by one. */
static void
test_roots_denials_are_not_merged(void **state)
{
	struct audit *a = NULL;
	struct cs_err e = { 0 };
	size_t lines;
	int i;

	(void)state;
	assert_int_equal(audit_open(logf, AUDIT_FLUSH_NONE, 2000, &a, &e), 0);
	for (i = 0; i < 20; i++)
		deny(a, 0, "evil.example", 1);
	audit_close(a);
	assert_int_equal(denials_in_log(&lines, NULL), 20);
	assert_int_equal(lines, 20);
}

#define T(f)	cmocka_unit_test_setup(f, each)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_append_writes_chained_lines),
		T(test_fields_come_in_the_documented_order),
		T(test_absent_fields_are_left_out),
		T(test_bad_bytes_in_names_still_make_a_valid_line),
		T(test_lines_are_what_jansson_would_write),
		T(test_an_event_needs_a_name_and_must_fit_a_line),
		T(test_a_long_name_list_is_cut_to_fit_a_line),
		T(test_verify_passes_a_fresh_log),
		T(test_an_empty_log_verifies_unless_the_state_says_otherwise),
		T(test_a_missing_log_is_an_error),
		T(test_verify_names_the_line_after_an_edit),
		T(test_verify_names_the_line_after_a_deletion),
		T(test_verify_names_a_deleted_first_line),
		T(test_verify_names_an_inserted_line),
		T(test_verify_names_a_forged_line_that_renumbers),
		T(test_lines_cut_from_the_end_are_recorded_by_the_next_writer),
		T(test_verify_names_a_reordering),
		T(test_verify_detects_a_cut_tail_with_the_state_point),
		T(test_verify_names_a_line_that_is_not_json),
		T(test_verify_refuses_a_line_over_the_limit),
		T(test_a_torn_last_line_is_cut_and_recorded_by_the_next_append),
		T(test_a_torn_first_line_is_cut_too),
		T(test_an_unterminated_tail_longer_than_a_line_blocks_appends),
		T(test_a_log_that_is_not_chained_is_not_appended_to),
		T(test_handles_take_turns_on_one_chain),
		T(test_two_processes_appending_keep_one_chain),
		T(test_threads_sharing_a_handle_keep_one_chain),
		T(test_every_flush_mode_makes_a_verified_log),
		T(test_async_flush_runs_while_idle),
		T(test_a_full_disk_is_an_error),
		T(test_a_symlinked_log_is_refused),
		T(test_tail_returns_the_last_lines),
		T(test_tail_reads_across_chunks),
		T(test_a_lock_held_forever_times_out_and_recovers),
		T(test_a_held_lock_sends_the_fast_path_to_the_timeout),
		T(test_a_fifo_with_no_reader_does_not_hang_open),
		T(test_a_fifo_with_a_reader_gets_a_chain_in_memory),
		T(test_a_write_that_hangs_times_out_and_the_handle_recovers),
		T(test_close_does_not_hang_on_a_stuck_write),
		T(test_a_renamed_log_goes_on_in_a_new_file),
		T(test_a_long_lived_handle_follows_a_rename),
		T(test_a_truncated_log_goes_on_with_the_chain),
		T(test_a_line_is_stamped_when_it_is_written),
		T(test_verify_names_lines_lost_between_files),
		T(test_verify_names_the_rotated_file_and_line),
		T(test_verify_reads_compressed_and_partial_sets),
		T(test_verify_reads_a_dateext_set),
		T(test_verify_reads_a_dateformat_with_separators),
		T(test_verify_refuses_a_rotated_file_it_cannot_decompress),
		T(test_verify_lists_the_files_it_does_not_read),
		T(test_a_corrupt_gzip_is_named),
		T(test_verify_names_a_rotated_file_missing_in_the_middle),
		T(test_tail_reads_back_into_rotated_files),
		T(test_a_readers_flock_on_the_log_does_not_stop_appends),
		T(test_a_denial_flood_is_merged_per_caller_and_pair),
		T(test_merged_denials_are_written_when_the_window_ends),
		T(test_the_merge_table_is_bounded),
		T(test_roots_denials_are_not_merged),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
