/* tests/test_base.c - base/: every careful-I/O function's errors (a missing file, one
 * too large, a symbolic link, a FIFO, a short write, a held lock), the one rule for
 * owner/group/mode that the config file and the daemon's -o options now share (one
 * table, run through all three), the provider-name rule, and the cut of jansson's
 * quoted input out of its error texts. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "../base/clock.h"
#include "../base/err.h"
#include "../base/file.h"
#include "../base/ids.h"
#include "../base/name.h"
#include "../fs/opts.h"
#include "../policy/config.h"
#include "testutil.h"

static char dir[PATH_MAX];

static int
setup(void **state)
{
	(void)state;
	return testutil_mkdtemp(dir, sizeof dir, "base");
}

static int
teardown(void **state)
{
	(void)state;
	return testutil_rmtree(dir);
}

static void
put(const char *path, const char *text, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd != -1);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
}

/* --- read a whole file --- */

static void
test_file_read_reads_whole_files_and_names_each_refusal(void **state)
{
	char p[PATH_MAX + 16], l[PATH_MAX + 16], f[PATH_MAX + 16], big[5000], *buf;
	struct cs_err e = { 0 };
	size_t len;

	(void)state;
	snprintf(p, sizeof p, "%s/data", dir);
	memset(big, 'x', sizeof big);
	put(p, big, sizeof big);
	assert_int_equal(file_read(p, "data file", sizeof big, &buf, &len, &e), 0);
	assert_int_equal(len, sizeof big);
	assert_int_equal(buf[len], '\0');
	assert_memory_equal(buf, big, sizeof big);
	free(buf);

	/* one byte over the bound: EFBIG, nothing returned */
	assert_int_equal(file_read(p, "data file", sizeof big - 1, &buf, &len, &e), -1);
	assert_int_equal(e.code, EFBIG);
	assert_non_null(strstr(e.msg, "data file is larger than 4999 bytes"));
	assert_null(buf);
	assert_int_equal(len, 0);

	cs_err_clear(&e);
	snprintf(f, sizeof f, "%s/missing", dir);
	assert_int_equal(file_read(f, "data file", 10, &buf, &len, &e), -1);
	assert_int_equal(e.code, ENOENT);
	assert_non_null(strstr(e.msg, f));

	cs_err_clear(&e);
	snprintf(l, sizeof l, "%s/link", dir);
	assert_int_equal(symlink(p, l), 0);
	assert_int_equal(file_read(l, "data file", sizeof big, &buf, &len, &e), -1);
	assert_int_equal(e.code, ELOOP);

	/* a FIFO is refused at once: the open does not wait for a writer */
	cs_err_clear(&e);
	snprintf(f, sizeof f, "%s/fifo", dir);
	assert_int_equal(mkfifo(f, 0600), 0);
	assert_int_equal(file_read(f, "data file", 10, &buf, &len, &e), -1);
	assert_int_equal(e.code, EINVAL);
	assert_non_null(strstr(e.msg, "not a regular file"));
}

/* From a pipe there is no size to check first: the bound holds while reading. */
static void
test_file_read_fd_bounds_a_stream_while_reading(void **state)
{
	struct cs_err e = { 0 };
	char chunk[1000], *buf;
	size_t len;
	int p[2], i;

	(void)state;
	memset(chunk, 'y', sizeof chunk);
	assert_int_equal(pipe(p), 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(write(p[1], chunk, sizeof chunk), (ssize_t)sizeof chunk);
	close(p[1]);
	assert_int_equal(file_read_fd(p[0], "pipe", "stream", 2999, &buf, &len, &e), -1);
	assert_int_equal(e.code, EFBIG);
	assert_null(buf);
	close(p[0]);

	cs_err_clear(&e);
	assert_int_equal(pipe(p), 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(write(p[1], chunk, sizeof chunk), (ssize_t)sizeof chunk);
	close(p[1]);
	assert_int_equal(file_read_fd(p[0], "pipe", "stream", 3000, &buf, &len, &e), 0);
	assert_int_equal(len, 3000);
	free(buf);
	close(p[0]);
}

/* --- write all --- */

static void
test_file_write_all_reports_a_short_write_and_how_much_went(void **state)
{
	static char big[1 << 20];
	size_t done = 12345;
	char back[100];
	int p[2], fd;

	(void)state;
	/* all of it, through a pipe with room */
	assert_int_equal(pipe(p), 0);
	assert_int_equal(file_write_all(p[1], "0123456789", 10, &done), 0);
	assert_int_equal(done, 10);
	assert_int_equal(read(p[0], back, sizeof back), 10);
	assert_memory_equal(back, "0123456789", 10);

	/* a full pipe (non-blocking): -1 with errno, and *done says what went in */
	assert_int_equal(fcntl(p[1], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(file_write_all(p[1], big, sizeof big, &done), -1);
	assert_int_equal(errno, EAGAIN);
	assert_true(done > 0 && done < sizeof big);
	close(p[0]);
	close(p[1]);

	/* a full disk */
	if ((fd = open("/dev/full", O_WRONLY | O_CLOEXEC)) != -1) {
		assert_int_equal(file_write_all(fd, "x", 1, NULL), -1);
		assert_int_equal(errno, ENOSPC);
		close(fd);
	}
}

static void
test_file_write_atomic_replaces_and_excl_refuses(void **state)
{
	char p[PATH_MAX + 16], *buf;
	struct cs_err e = { 0 };
	struct stat st;
	size_t len;
	int renamed;

	(void)state;
	snprintf(p, sizeof p, "%s/atomic", dir);
	assert_int_equal(file_write_atomic(p, "one", 3, 1, &renamed, &e), 0);
	assert_int_equal(renamed, 1);
	assert_int_equal(file_write_atomic(p, "two", 3, 0, &renamed, &e), 0);
	assert_int_equal(file_read(p, "file", 10, &buf, &len, &e), 0);
	assert_string_equal(buf, "two");
	free(buf);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(file_write_atomic(p, "three", 5, 1, &renamed, &e), -1);
	assert_int_equal(e.code, EEXIST);
	assert_int_equal(renamed, 0);
	/* no temporary file is left behind by either */
	cs_err_clear(&e);
	assert_int_equal(file_sweep_tmp(p, &e), 0);
}

/* The precommit of the test below: records what path held when it ran, and fails
 * when asked to. */
struct seen {
	const char	*path;
	char		 held[16];
	int		 calls, fail;
};

static int
precommit(void *arg, struct cs_err *e)
{
	struct seen *s = arg;
	char *buf;
	size_t len;

	s->calls++;
	if (file_read(s->path, "file", sizeof s->held - 1, &buf, &len, e) == -1)
		return -1;
	snprintf(s->held, sizeof s->held, "%s", buf);
	free(buf);
	return s->fail ? cs_err_set(e, ENOSPC, "%s: the record failed", s->path) : 0;
}

/* Temporary files of path ("<path>.tmp-...") in its folder. */
static int
tmp_files(const char *base)
{
	struct dirent *d;
	DIR *dp;
	int n = 0;

	assert_non_null(dp = opendir(dir));
	while ((d = readdir(dp)) != NULL)
		if (strncmp(d->d_name, base, strlen(base)) == 0 &&
		    strncmp(d->d_name + strlen(base), ".tmp-", 5) == 0)
			n++;
	closedir(dp);
	return n;
}

static void
test_file_write_atomic_then_runs_before_the_rename_and_may_refuse(void **state)
{
	char p[PATH_MAX + 16], *buf;
	struct cs_err e = { 0 };
	struct seen s = { .path = p };
	struct file_precommit pc = { precommit, &s };
	size_t len;
	int renamed;

	(void)state;
	snprintf(p, sizeof p, "%s/then", dir);
	assert_int_equal(file_write_atomic(p, "old", 3, 0, NULL, &e), 0);
	/* It runs once, while path still holds the old bytes; then the new ones are in. */
	assert_int_equal(file_write_atomic_then(p, "new", 3, 0, &pc, &renamed, &e), 0);
	assert_int_equal(s.calls, 1);
	assert_string_equal(s.held, "old");
	assert_int_equal(renamed, 1);
	assert_int_equal(file_read(p, "file", 10, &buf, &len, &e), 0);
	assert_string_equal(buf, "new");
	free(buf);
	/* When it fails: its error, path untouched, no temporary file left. */
	s.fail = 1;
	assert_int_equal(file_write_atomic_then(p, "newer", 5, 0, &pc, &renamed, &e), -1);
	assert_int_equal(e.code, ENOSPC);
	assert_non_null(strstr(e.msg, "the record failed"));
	assert_int_equal(renamed, 0);
	assert_int_equal(file_read(p, "file", 10, &buf, &len, &e), 0);
	assert_string_equal(buf, "new");
	free(buf);
	assert_int_equal(tmp_files("then"), 0);
	/* With excl too: a refused precommit links nothing. */
	snprintf(p, sizeof p, "%s/then-excl", dir);
	assert_int_equal(file_write_atomic_then(p, "x", 1, 1, &pc, &renamed, &e), -1);
	assert_int_equal(access(p, F_OK), -1);
	assert_int_equal(tmp_files("then-excl"), 0);
}

/* --- the exclusive lock --- */

/* In a child (a flock belongs to the open file, so another process must open the file
 * itself): 0 when LOCK_NB got the lock, else the errno. */
static int
try_lock_elsewhere(const char *path)
{
	pid_t pid;
	int st, fd;

	if ((pid = fork()) == 0) {
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd == -1)
			_exit(100);
		_exit(file_flock(fd, LOCK_EX | LOCK_NB) == 0 ? 0 : errno);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static void
test_file_lock_excludes_others_until_unlocked(void **state)
{
	char p[PATH_MAX + 16], l[PATH_MAX + 16];
	struct cs_err e = { 0 };
	struct stat st;
	int fd, fd2;

	(void)state;
	snprintf(p, sizeof p, "%s/x.lock", dir);
	assert_int_equal(file_lock(p, &fd, &e), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(try_lock_elsewhere(p), EWOULDBLOCK);
	file_unlock(fd);
	assert_int_equal(try_lock_elsewhere(p), 0);

	/* a symbolic link or a FIFO where the lock file should be: refused, at once */
	snprintf(l, sizeof l, "%s/l.lock", dir);
	assert_int_equal(symlink(p, l), 0);
	assert_int_equal(file_lock(l, &fd2, &e), -1);
	assert_int_equal(e.code, ELOOP);
	assert_int_equal(fd2, -1);
	cs_err_clear(&e);
	snprintf(l, sizeof l, "%s/f.lock", dir);
	assert_int_equal(mkfifo(l, 0600), 0);
	assert_int_equal(file_lock(l, &fd2, &e), -1);
	assert_int_equal(e.code, EINVAL);
	assert_non_null(strstr(e.msg, "not a regular file"));
}

/* --- owner, group and mode: one table for the config file and -o --- */

struct idcase {
	const char	*text;
	int		 ok;
	unsigned long	 value;		/* when ok; ~0 for a name, checked elsewhere */
};

static const struct idcase modes[] = {
	{ "440", 1, 0440 }, { "0440", 1, 0440 }, { "0", 1, 0 }, { "777", 1, 0777 },
	{ "0777", 1, 0777 }, { "0000", 1, 0 },
	{ "1777", 0, 0 }, { "4755", 0, 0 }, { "00440", 0, 0 }, { "0o440", 0, 0 },
	{ "+440", 0, 0 }, { "-1", 0, 0 }, { "8", 0, 0 }, { "44a", 0, 0 }, { "0x1ff", 0, 0 },
	{ "", 0, 0 },
};

static const struct idcase users[] = {
	{ "0", 1, 0 }, { "65534", 1, 65534 }, { "4294967294", 1, 4294967294UL },
	{ "root", 1, 0 }, { "nobody", 1, 65534 },
	{ "4294967295", 0, 0 }, { "99999999999999999999", 0, 0 }, { "+5", 0, 0 },
	{ "-1", 0, 0 }, { "12abc", 0, 0 }, { "cs-no-such-user", 0, 0 }, { "", 0, 0 },
};

static const struct idcase groups[] = {
	{ "0", 1, 0 }, { "65534", 1, 65534 }, { "root", 1, 0 }, { "nogroup", 1, 65534 },
	{ "4294967295", 0, 0 }, { "+5", 0, 0 }, { "0x10", 0, 0 }, { "cs-no-such-group", 0, 0 },
	{ "", 0, 0 },
};

/* The config file's answer: 1 accepted with *v, 0 refused. An INI value is stripped of
 * blanks by inih, so the table holds none at its ends. */
static int
by_config(const char *key, const char *text, unsigned long *v)
{
	const struct cfg_provider *pv;
	struct cs_err e = { 0 };
	struct cfg *c;
	char ini[256];
	int n;

	n = snprintf(ini, sizeof ini, "[provider.a]\n%s = %s\n", key, text);
	if (cfg_parse(ini, (size_t)n, "ini", &c, &e) == -1) {
		assert_non_null(strstr(e.msg, key));
		return 0;
	}
	assert_non_null(pv = cfg_provider(c, "a"));
	*v = key[0] == 'o' ? (unsigned long)pv->owner : key[0] == 'g' ?
	    (unsigned long)pv->group : (unsigned long)pv->mode;
	cfg_free(c);
	return 1;
}

/* The daemon's answer to -o OPT=text: 1 accepted with *v, 0 refused. */
static int
by_option(const char *opt, const char *text, unsigned long *v)
{
	char o[256], *argv[] = { "comfysecretsfs", dir, "-o", o, NULL }, named[64];
	struct cs_err e = { 0 };
	struct fsopts fo;
	int rc;

	snprintf(o, sizeof o, "%s=%s", opt, text);
	rc = fsopts_parse(4, argv, &fo, &e);
	if (rc == -1) {
		snprintf(named, sizeof named, "-o %s=", opt);
		assert_non_null(strstr(e.msg, named));
	} else {
		*v = opt[0] == 'u' ? (unsigned long)fo.uid : opt[0] == 'g' ?
		    (unsigned long)fo.gid : (unsigned long)fo.mode;
		assert_true(opt[0] == 'u' ? fo.has_uid : opt[0] == 'g' ? fo.has_gid :
		    fo.has_mode);
	}
	fsopts_free(&fo);
	return rc == 0;
}

static void
run_table(const struct idcase *t, size_t n, const char *key, const char *opt, int which)
{
	unsigned long vc, vo;
	const char *why;
	uid_t u = 7;
	gid_t g = 7;
	mode_t m = 7;
	size_t i;

	for (i = 0; i < n; i++) {
		why = which == 0 ? cs_parse_user(t[i].text, &u) : which == 1 ?
		    cs_parse_group(t[i].text, &g) : cs_parse_mode(t[i].text, &m);
		if ((why == NULL) != t[i].ok)
			fail_msg("base: %s \"%s\": %s", key, t[i].text, why ? why : "accepted");
		if (by_config(key, t[i].text, &vc) != t[i].ok)
			fail_msg("config: %s = \"%s\" should be %s", key, t[i].text,
			    t[i].ok ? "accepted" : "refused");
		if (by_option(opt, t[i].text, &vo) != t[i].ok)
			fail_msg("-o %s=\"%s\" should be %s", opt, t[i].text,
			    t[i].ok ? "accepted" : "refused");
		if (!t[i].ok)
			continue;
		if (vc != t[i].value || vo != t[i].value)
			fail_msg("%s \"%s\": config %lu, -o %lu, expected %lu", key, t[i].text,
			    vc, vo, t[i].value);
	}
}

static void
test_mode_rule_is_the_same_for_the_config_and_dash_o(void **state)
{
	(void)state;
	run_table(modes, sizeof modes / sizeof modes[0], "mode", "mode", 2);
}

static void
test_owner_rule_is_the_same_for_the_config_and_dash_o(void **state)
{
	(void)state;
	run_table(users, sizeof users / sizeof users[0], "owner", "uid", 0);
}

static void
test_group_rule_is_the_same_for_the_config_and_dash_o(void **state)
{
	(void)state;
	run_table(groups, sizeof groups / sizeof groups[0], "group", "gid", 1);
}

/* -o keeps blanks (inih strips them from an INI value): a blank is not a digit. */
static void
test_dash_o_refuses_blanks_around_a_number(void **state)
{
	unsigned long v;

	(void)state;
	assert_int_equal(by_option("mode", " 0440", &v), 0);
	assert_int_equal(by_option("mode", "0440 ", &v), 0);
	assert_int_equal(by_option("uid", " 0", &v), 0);
	assert_int_equal(by_option("gid", "\t0", &v), 0);
}

/* --- the provider and field name rule --- */

static void
test_name_rule(void **state)
{
	static const struct {
		const char	*name;
		size_t		 len;
		const char	*why;	/* NULL: valid */
	} t[] = {
		{ "runpod", 6, NULL }, { "a.b_c-d", 7, NULL }, { "0", 1, NULL },
		{ "", 0, "name is empty" }, { ".hidden", 7, "must match" },
		{ "a..b", 4, "must not contain \"..\"" }, { "Upper", 5, "must match" },
		{ "a/b", 3, "must match" }, { "a\0b", 3, "contains a NUL byte" },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 65,
		    "longer than 64 bytes" },
		{ "\x1b[31m", 5, "\"\\x1b[31m\": must match" },
	};
	char msg[CS_ERR_MSG_MAX];
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		rc = cs_name_why(t[i].name, t[i].len, "provider", msg, sizeof msg);
		if (t[i].why == NULL) {
			assert_int_equal(rc, 0);
			continue;
		}
		assert_int_equal(rc, -1);
		if (strstr(msg, t[i].why) == NULL)
			fail_msg("\"%s\": %s (expected %s)", t[i].name, msg, t[i].why);
		assert_non_null(strstr(msg, "provider"));
	}
}

/* --- jansson's error text, cut and escaped --- */

/* No byte of out outside printable ASCII. */
static void
assert_printable(const char *out)
{
	for (; *out != '\0'; out++)
		assert_true(*out >= 0x20 && *out < 0x7f);
}

static void
test_json_reason_cuts_every_quoted_input(void **state)
{
	static const struct {
		const char	*text, *want;
	} t[] = {
		{ "invalid token near 'hunter2'", "invalid token" },
		{ "'[' or '{' expected near 'sk-live-123'", "'[' or '{' expected" },
		{ "string or '}' expected near end of file",
		    "string or '}' expected near end of file" },
		{ "control character 0x1b near '\x1b[31m'", "control character" },
		{ "unable to decode byte 0xff near '\xff'", "unable to decode byte" },
		{ "invalid Unicode escape '\\u12zz'", "invalid Unicode escape" },
		{ "invalid Unicode '\\uD800'", "invalid Unicode" },
		{ "duplicate object key", "duplicate object key" },
		/* text before any cut is shown, escaped: a key in an unpack error */
		{ "Object item not found: \x1b]0;x\x07", "Object item not found: \\x1b]0;x\\x07" },
		{ "caf\xc3\xa9 expected", "caf\\xc3\\xa9 expected" },
		{ "", "not valid JSON" },
	};
	char out[CS_JSON_REASON_BUF];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		cs_json_reason(t[i].text, out, sizeof out);
		if (strcmp(out, t[i].want) != 0)
			fail_msg("\"%s\": got \"%s\", expected \"%s\"", t[i].text, out, t[i].want);
		assert_printable(out);
	}
	assert_string_equal(cs_json_reason(NULL, out, sizeof out), "not valid JSON");
}

/* A text longer than jansson's 160 bytes (never made by jansson): bounded, marked. */
static void
test_json_reason_bounds_a_long_text(void **state)
{
	char in[400], out[CS_JSON_REASON_BUF], small[16];

	(void)state;
	memset(in, 'z', sizeof in - 1);
	in[sizeof in - 1] = '\0';
	cs_json_reason(in, out, sizeof out);
	assert_int_equal(strlen(out), CS_JSON_REASON_MAX);
	cs_json_reason(in, small, sizeof small);
	assert_true(strlen(small) < sizeof small);
}

/* Through jansson itself: a secret-looking input never reaches the reason. */
static void
test_json_reason_on_jansson_errors_keeps_no_input(void **state)
{
	static const char *const inputs[] = {
		"{\"k\": sk-live-SECRET}", "{\"k\": \"sk-live-SECRET\x01\"}",
		"{\"k\": \"\\uZZZZ-SECRET\"}", "sk-live-SECRET", "{\"k\": \"\xffSECRET\"}",
		"{\"k\": \"SECRET", "{\"k\": \"\\ud800\\u0041SECRET\"}",
	};
	char out[CS_JSON_REASON_BUF];
	json_error_t jerr;
	json_t *j;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
		j = json_loads(inputs[i], 0, &jerr);
		assert_null(j);
		cs_json_reason(jerr.text, out, sizeof out);
		if (strstr(out, "SECRET") != NULL || strstr(out, "sk-") != NULL ||
		    strstr(out, "ZZ") != NULL || strstr(out, "0x") != NULL)
			fail_msg("\"%s\": jansson said \"%s\", shown \"%s\"", inputs[i],
			    jerr.text, out);
		assert_true(out[0] != '\0');
		assert_printable(out);
	}
}

static void
test_now_ms_does_not_go_back(void **state)
{
	int64_t a, b;

	(void)state;
	a = cs_now_ms();
	b = cs_now_ms();
	assert_true(a > 0);
	assert_true(b >= a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_read_reads_whole_files_and_names_each_refusal),
		cmocka_unit_test(test_file_read_fd_bounds_a_stream_while_reading),
		cmocka_unit_test(test_file_write_all_reports_a_short_write_and_how_much_went),
		cmocka_unit_test(test_file_write_atomic_replaces_and_excl_refuses),
		cmocka_unit_test(test_file_write_atomic_then_runs_before_the_rename_and_may_refuse),
		cmocka_unit_test(test_file_lock_excludes_others_until_unlocked),
		cmocka_unit_test(test_mode_rule_is_the_same_for_the_config_and_dash_o),
		cmocka_unit_test(test_owner_rule_is_the_same_for_the_config_and_dash_o),
		cmocka_unit_test(test_group_rule_is_the_same_for_the_config_and_dash_o),
		cmocka_unit_test(test_dash_o_refuses_blanks_around_a_number),
		cmocka_unit_test(test_name_rule),
		cmocka_unit_test(test_json_reason_cuts_every_quoted_input),
		cmocka_unit_test(test_json_reason_bounds_a_long_text),
		cmocka_unit_test(test_json_reason_on_jansson_errors_keeps_no_input),
		cmocka_unit_test(test_now_ms_does_not_go_back),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
