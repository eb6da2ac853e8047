/* tests/test_key.c - the master key: parsed strictly, never echoed, read only from a
 * private regular file, COMFYVN_SECRETS_KEY first. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

#include "../crypto/key.h"

/* Bytes 0..31; SHA-256 of them starts 630dcd2966c43366. */
#define TEST_KEY_B64	"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define TEST_KEY_FPR	"630dcd2966c43366"
/* Bytes 100..131. */
#define OTHER_KEY_B64	"ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoM="
#define OTHER_KEY_FPR	"e3e16780becf601d"

static char dir[64];

static int
setup(void **state)
{
	(void)state;
	return testutil_mkdtemp(dir, sizeof dir, "key");
}

static int
teardown(void **state)
{
	(void)state;
	unsetenv(KEY_ENV);
	return testutil_rmtree(dir);
}

static void
path_of(char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "%s/%s", dir, name);
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	int fd;

	unlink(path);
	assert_true((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

/* Entries in dir whose name starts with prefix. */
static int
count_prefixed(const char *prefix)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	assert_non_null(d = opendir(dir));
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			n++;
	closedir(d);
	return n;
}

static void
test_generated_keys_differ_and_have_fingerprints(void **state)
{
	struct cs_err e = { 0 };
	struct key *a, *b;

	(void)state;
	assert_int_equal(key_generate(&a, &e), 0);
	assert_int_equal(key_generate(&b, &e), 0);
	assert_memory_not_equal(a->bytes, b->bytes, KEY_BYTES);
	assert_int_equal(strlen(a->fpr), KEY_FPR_HEX);
	assert_int_equal(strspn(a->fpr, "0123456789abcdef"), KEY_FPR_HEX);
	assert_string_not_equal(a->fpr, b->fpr);
	key_free(a);
	key_free(b);
	key_free(NULL);
}

static void
test_fingerprint_is_first_16_hex_of_sha256(void **state)
{
	struct cs_err e = { 0 };
	struct key *k;
	size_t i;

	(void)state;
	assert_int_equal(key_parse(TEST_KEY_B64, strlen(TEST_KEY_B64), "test", &k, &e), 0);
	for (i = 0; i < KEY_BYTES; i++)
		assert_int_equal(k->bytes[i], i);
	assert_string_equal(k->fpr, TEST_KEY_FPR);
	key_free(k);
	assert_int_equal(key_parse(OTHER_KEY_B64, strlen(OTHER_KEY_B64), "test", &k, &e), 0);
	assert_string_equal(k->fpr, OTHER_KEY_FPR);
	key_free(k);
}

static void
test_parse_ignores_surrounding_white_space(void **state)
{
	const char *text = " \t" TEST_KEY_B64 "\r\n\n";
	struct cs_err e = { 0 };
	struct key *k;

	(void)state;
	assert_int_equal(key_parse(text, strlen(text), "test", &k, &e), 0);
	assert_string_equal(k->fpr, TEST_KEY_FPR);
	key_free(k);
}

static void
refused(const char *text, size_t len)
{
	struct cs_err e = { 0 };
	struct key *k = (struct key *)&e;

	assert_int_equal(key_parse(text, len, "COMFYVN_SECRETS_KEY", &k, &e), -1);
	assert_null(k);
	assert_int_equal(e.code, EINVAL);
	assert_non_null(strstr(e.msg, "COMFYVN_SECRETS_KEY: not a key"));
	assert_non_null(strstr(e.msg, "32 bytes"));
	/* no part of the text comes back */
	if (len >= 8)
		assert_null(strstr(e.msg, "AAECAwQF"));
	assert_null(strstr(e.msg, "SEEDTEXT"));
}

static void
test_parse_refuses_bad_base64_without_echoing_it(void **state)
{
	(void)state;
	refused("SEEDTEXT!!not*base64", 20);
	refused("", 0);
	refused("   \n", 4);
	/* the URL-safe alphabet is another variant */
	refused("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh-_", 44);
	/* padding is required, inner blanks are not ignored, nor trailing garbage */
	refused("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", 43);
	refused("AAECAwQFBgcICQoLDA0O DxAREhMUFRYXGBkaGxwdHh8=", 45);
	refused(TEST_KEY_B64 "SEEDTEXT", 52);
	/* a NUL byte inside */
	refused("AAECAwQFBgcICQoLDA0O\0xAREhMUFRYXGBkaGxwdHh8=", 44);
}

static void
test_parse_refuses_a_wrong_length(void **state)
{
	(void)state;
	refused("AAECAwQFBgcICQoLDA0ODw==", 24);		/* 16 bytes */
	refused("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g", 44);	/* 33 bytes */
	refused("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4", 76);
}

static void
test_key_text_round_trips(void **state)
{
	struct cs_err e = { 0 };
	struct key *k, *k2;
	char *t;

	(void)state;
	assert_int_equal(key_generate(&k, &e), 0);
	assert_non_null(t = key_text(k));
	assert_int_equal(strlen(t), 44);
	assert_int_equal(key_parse(t, strlen(t), "text", &k2, &e), 0);
	assert_memory_equal(k->bytes, k2->bytes, KEY_BYTES);
	assert_string_equal(k->fpr, k2->fpr);
	key_text_free(t);
	key_text_free(NULL);
	key_free(k);
	key_free(k2);
}

static void
test_written_key_file_is_0600_and_reads_back(void **state)
{
	struct cs_err e = { 0 };
	struct key *k, *k2;
	struct stat st;
	char path[128], buf[128];
	FILE *f;

	(void)state;
	path_of(path, sizeof path, "key");
	unlink(path);
	assert_int_equal(key_parse(TEST_KEY_B64, strlen(TEST_KEY_B64), "t", &k, &e), 0);
	assert_int_equal(key_write_file(path, k, 1, &e), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_non_null(f = fopen(path, "r"));
	assert_non_null(fgets(buf, sizeof buf, f));
	fclose(f);
	assert_string_equal(buf, TEST_KEY_B64 "\n");
	assert_int_equal(key_read_file(path, &k2, &e), 0);
	assert_string_equal(k2->fpr, TEST_KEY_FPR);
	key_free(k2);
	/* without excl it replaces */
	key_free(k);
	assert_int_equal(key_parse(OTHER_KEY_B64, strlen(OTHER_KEY_B64), "t", &k, &e), 0);
	assert_int_equal(key_write_file(path, k, 0, &e), 0);
	assert_int_equal(key_read_file(path, &k2, &e), 0);
	assert_string_equal(k2->fpr, OTHER_KEY_FPR);
	assert_int_equal(count_prefixed("key.tmp-"), 0);
	key_free(k2);
	key_free(k);
	unlink(path);
}

static void
test_write_file_excl_refuses_to_overwrite(void **state)
{
	struct cs_err e = { 0 };
	struct key *k, *k2;
	char path[128];

	(void)state;
	path_of(path, sizeof path, "key-excl");
	write_file(path, OTHER_KEY_B64 "\n", 0600);
	assert_int_equal(key_parse(TEST_KEY_B64, strlen(TEST_KEY_B64), "t", &k, &e), 0);
	assert_int_equal(key_write_file(path, k, 1, &e), -1);
	assert_int_equal(e.code, EEXIST);
	assert_non_null(strstr(e.msg, path));
	assert_non_null(strstr(e.msg, "refusing to overwrite"));
	assert_null(strstr(e.msg, "AAECAwQF"));
	/* the old key is untouched and no temporary file is left */
	cs_err_clear(&e);
	assert_int_equal(key_read_file(path, &k2, &e), 0);
	assert_string_equal(k2->fpr, OTHER_KEY_FPR);
	assert_int_equal(count_prefixed("key-excl.tmp-"), 0);
	key_free(k);
	key_free(k2);
	unlink(path);
}

static void
mode_refused(mode_t mode, const char *modetext, const char *how)
{
	struct cs_err e = { 0 };
	struct key *k = NULL;
	char path[128];

	path_of(path, sizeof path, "key-mode");
	write_file(path, TEST_KEY_B64 "\n", mode);
	assert_int_equal(key_read_file(path, &k, &e), -1);
	assert_null(k);
	assert_int_equal(e.code, EACCES);
	assert_non_null(strstr(e.msg, path));
	assert_non_null(strstr(e.msg, modetext));
	assert_non_null(strstr(e.msg, how));
	assert_non_null(strstr(e.msg, "chmod 600"));
	assert_null(strstr(e.msg, "AAECAwQF"));
	unlink(path);
}

static void
test_key_file_readable_by_others_is_refused_naming_the_mode(void **state)
{
	(void)state;
	mode_refused(0644, "mode 0644 is readable by group or others", "readable");
	mode_refused(0640, "mode 0640", "readable");
	mode_refused(0604, "mode 0604", "readable");
}

static void
test_key_file_writable_by_others_is_refused_naming_the_mode(void **state)
{
	(void)state;
	mode_refused(0620, "mode 0620", "writable by group or others");
	mode_refused(0602, "mode 0602", "writable by group or others");
}

static void
test_key_file_mode_0400_is_accepted(void **state)
{
	struct cs_err e = { 0 };
	struct key *k;
	char path[128];

	(void)state;
	path_of(path, sizeof path, "key-0400");
	write_file(path, TEST_KEY_B64 "\n", 0400);
	assert_int_equal(key_read_file(path, &k, &e), 0);
	assert_string_equal(k->fpr, TEST_KEY_FPR);
	key_free(k);
	unlink(path);
}

/* As ssh: a key file must belong to the caller or root, whatever its mode. */
static void
test_key_file_owned_by_another_user_is_refused_naming_the_owner(void **state)
{
	struct cs_err e = { 0 };
	struct key *k = NULL;
	char path[128], uid[32];

	(void)state;
	if (geteuid() != 0)
		skip();	/* only root can give a file away */
	path_of(path, sizeof path, "key-other");
	write_file(path, TEST_KEY_B64 "\n", 0600);
	assert_int_equal(chown(path, 65534, 65534), 0);
	assert_int_equal(key_read_file(path, &k, &e), -1);
	assert_null(k);
	assert_int_equal(e.code, EACCES);
	assert_non_null(strstr(e.msg, path));
	assert_non_null(strstr(e.msg, "owned by uid 65534"));
	snprintf(uid, sizeof uid, "(uid %lu)", (unsigned long)geteuid());
	assert_non_null(strstr(e.msg, uid));
	assert_null(strstr(e.msg, "AAECAwQF"));
	assert_int_equal(chown(path, 0, 0), 0);	/* root's own: accepted */
	assert_int_equal(key_read_file(path, &k, &e), 0);
	key_free(k);
	unlink(path);
}

static void
test_symlinked_key_file_is_refused(void **state)
{
	struct cs_err e = { 0 };
	struct key *k = NULL;
	char path[128], target[128];

	(void)state;
	path_of(target, sizeof target, "key-target");
	path_of(path, sizeof path, "key-link");
	write_file(target, TEST_KEY_B64 "\n", 0600);
	unlink(path);
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(key_read_file(path, &k, &e), -1);
	assert_null(k);
	assert_int_equal(e.code, ELOOP);
	assert_non_null(strstr(e.msg, path));
	assert_non_null(strstr(e.msg, "symbolic link"));
	unlink(path);
	unlink(target);
}

static void
test_key_file_that_is_not_a_regular_file_is_refused(void **state)
{
	struct cs_err e = { 0 };
	struct key *k = NULL;
	char path[128];

	(void)state;
	path_of(path, sizeof path, "key-dir");
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(key_read_file(path, &k, &e), -1);
	assert_int_equal(e.code, EINVAL);
	assert_non_null(strstr(e.msg, "not a regular file"));
	rmdir(path);
	/* a FIFO must not block the open */
	path_of(path, sizeof path, "key-fifo");
	assert_int_equal(mkfifo(path, 0600), 0);
	cs_err_clear(&e);
	assert_int_equal(key_read_file(path, &k, &e), -1);
	assert_int_equal(e.code, EINVAL);
	assert_non_null(strstr(e.msg, "not a regular file"));
	unlink(path);
}

static void
test_missing_key_file_is_an_error_naming_it(void **state)
{
	struct cs_err e = { 0 };
	struct key *k = NULL;
	char path[128];

	(void)state;
	path_of(path, sizeof path, "no-such-key");
	assert_int_equal(key_read_file(path, &k, &e), -1);
	assert_int_equal(e.code, ENOENT);
	assert_non_null(strstr(e.msg, path));
}

static void
test_key_file_with_garbage_is_refused_without_echo(void **state)
{
	struct cs_err e = { 0 };
	struct key *k = NULL;
	char path[128], big[400];

	(void)state;
	path_of(path, sizeof path, "key-garbage");
	write_file(path, "SEEDTEXT-hunter2-not-a-key\n", 0600);
	assert_int_equal(key_read_file(path, &k, &e), -1);
	assert_int_equal(e.code, EINVAL);
	assert_non_null(strstr(e.msg, path));
	assert_non_null(strstr(e.msg, "not a key"));
	assert_null(strstr(e.msg, "SEEDTEXT"));
	assert_null(strstr(e.msg, "hunter2"));
	/* a big file is refused as such */
	memset(big, 'A', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	write_file(path, big, 0600);
	cs_err_clear(&e);
	assert_int_equal(key_read_file(path, &k, &e), -1);
	assert_int_equal(e.code, EINVAL);
	assert_non_null(strstr(e.msg, "too large"));
	unlink(path);
}

static void
test_env_key_takes_precedence_over_the_key_file(void **state)
{
	struct cs_err e = { 0 };
	struct key *k;
	char path[128];
	int from_env = -1;

	(void)state;
	path_of(path, sizeof path, "key-env");
	write_file(path, OTHER_KEY_B64 "\n", 0600);
	assert_int_equal(setenv(KEY_ENV, TEST_KEY_B64, 1), 0);
	assert_int_equal(key_load(path, &k, &from_env, &e), 0);
	assert_int_equal(from_env, 1);
	assert_string_equal(k->fpr, TEST_KEY_FPR);
	key_free(k);
	/* unset: the file */
	unsetenv(KEY_ENV);
	assert_int_equal(key_load(path, &k, &from_env, &e), 0);
	assert_int_equal(from_env, 0);
	assert_string_equal(k->fpr, OTHER_KEY_FPR);
	key_free(k);
	/* set but empty: the file too; from_env may be NULL */
	assert_int_equal(setenv(KEY_ENV, "", 1), 0);
	assert_int_equal(key_load(path, &k, NULL, &e), 0);
	assert_string_equal(k->fpr, OTHER_KEY_FPR);
	key_free(k);
	unsetenv(KEY_ENV);
	unlink(path);
}

static void
test_bad_env_key_is_refused_naming_the_variable(void **state)
{
	struct cs_err e = { 0 };
	struct key *k = NULL;
	char path[128];
	int from_env = -1;

	(void)state;
	path_of(path, sizeof path, "key-env2");
	write_file(path, OTHER_KEY_B64 "\n", 0600);
	assert_int_equal(setenv(KEY_ENV, "SEEDTEXT-hunter2", 1), 0);
	assert_int_equal(key_load(path, &k, &from_env, &e), -1);
	assert_null(k);
	assert_int_equal(from_env, 1);
	assert_int_equal(e.code, EINVAL);
	assert_non_null(strstr(e.msg, KEY_ENV));
	assert_null(strstr(e.msg, "SEEDTEXT"));
	assert_null(strstr(e.msg, "hunter2"));
	unsetenv(KEY_ENV);
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generated_keys_differ_and_have_fingerprints),
		cmocka_unit_test(test_fingerprint_is_first_16_hex_of_sha256),
		cmocka_unit_test(test_parse_ignores_surrounding_white_space),
		cmocka_unit_test(test_parse_refuses_bad_base64_without_echoing_it),
		cmocka_unit_test(test_parse_refuses_a_wrong_length),
		cmocka_unit_test(test_key_text_round_trips),
		cmocka_unit_test(test_written_key_file_is_0600_and_reads_back),
		cmocka_unit_test(test_write_file_excl_refuses_to_overwrite),
		cmocka_unit_test(test_key_file_readable_by_others_is_refused_naming_the_mode),
		cmocka_unit_test(test_key_file_writable_by_others_is_refused_naming_the_mode),
		cmocka_unit_test(test_key_file_mode_0400_is_accepted),
		cmocka_unit_test(test_key_file_owned_by_another_user_is_refused_naming_the_owner),
		cmocka_unit_test(test_symlinked_key_file_is_refused),
		cmocka_unit_test(test_key_file_that_is_not_a_regular_file_is_refused),
		cmocka_unit_test(test_missing_key_file_is_an_error_naming_it),
		cmocka_unit_test(test_key_file_with_garbage_is_refused_without_echo),
		cmocka_unit_test(test_env_key_takes_precedence_over_the_key_file),
		cmocka_unit_test(test_bad_env_key_is_refused_naming_the_variable),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
