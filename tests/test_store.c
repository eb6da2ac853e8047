/* tests/test_store.c - vault and key file together: the key is found, rotation keeps every
 * value, and a crash at any step of a rotation leaves a vault that opens with a key on disk.
 *
 * Each crash point is simulated by doing the rotation's steps partially, and a last case
 * kills a process that rotates in a loop with SIGKILL at random instants. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"
#include <sodium.h>

#include "../crypto/store.h"

#define TEST_KEY_B64	"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="	/* bytes 0..31 */
#define TEST_KEY_FPR	"630dcd2966c43366"
#define OTHER_KEY_B64	"ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoM="	/* bytes 100..131 */
#define OTHER_KEY_FPR	"e3e16780becf601d"
#define SEED_VALUE	"rp_SEED_4f9c2e7d1b"
#define SEED_VALUE2	"sk-SEED-openai-8a7b6c"
#define KILL_ROUNDS	40	/* SIGKILLs during rotation */
#define KILL_MAX_US	40000	/* latest instant of a SIGKILL after the start */

static char dir[64], vault[128], keyf[128], nextf[160];
static struct key *tk, *ok;

static int
setup(void **state)
{
	struct cs_err e = { 0 };

	(void)state;
	unsetenv(KEY_ENV);
	if (testutil_mkdtemp(dir, sizeof dir, "store") == -1)
		return -1;
	snprintf(vault, sizeof vault, "%s/vault.json", dir);
	snprintf(keyf, sizeof keyf, "%s/key", dir);
	snprintf(nextf, sizeof nextf, "%s/key.next", dir);
	if (key_parse(TEST_KEY_B64, strlen(TEST_KEY_B64), "test key", &tk, &e) == -1 ||
	    key_parse(OTHER_KEY_B64, strlen(OTHER_KEY_B64), "other key", &ok, &e) == -1)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unsetenv(KEY_ENV);
	key_free(tk);
	key_free(ok);
	return testutil_rmtree(dir);
}

static void
put_str(struct vault *v, const char *p, const char *f, const char *val)
{
	struct cs_err e = { 0 };
	struct secret *s = secret_dup(val, strlen(val));

	assert_int_equal(vault_put(v, p, f, s, 0, &e), 0);
	secret_free(s);
}

/* A key file holding k, no ".next", and a vault under k with two values. */
static void
fresh(const struct key *k)
{
	struct cs_err e = { 0 };
	struct vault *v;

	unsetenv(KEY_ENV);
	unlink(nextf);
	unlink(vault);
	assert_int_equal(key_write_file(keyf, k, 0, &e), 0);
	assert_int_equal(vault_new(k, &v, &e), 0);
	put_str(v, "runpod", "api_key", SEED_VALUE);
	put_str(v, "openai", "api_key", SEED_VALUE2);
	assert_int_equal(vault_save(v, vault, 1, &e), 0);
	vault_close(v);
}

static void
values_intact(const struct vault *v)
{
	struct cs_err e = { 0 };
	struct secret *s;

	assert_int_equal(vault_nproviders(v), 2);
	assert_int_equal(vault_reveal(v, "runpod", "api_key", &s, &e), 0);
	assert_int_equal(s->len, strlen(SEED_VALUE));
	assert_memory_equal(s->buf, SEED_VALUE, s->len);
	secret_free(s);
	assert_int_equal(vault_reveal(v, "openai", "api_key", &s, &e), 0);
	assert_memory_equal(s->buf, SEED_VALUE2, s->len);
	secret_free(s);
}

/* The fingerprint of the key in path, or "" when it cannot be read. */
static void
fpr_of(const char *path, char fpr[KEY_FPR_HEX + 1])
{
	struct cs_err e = { 0 };
	struct key *k;

	fpr[0] = '\0';
	if (key_read_file(path, &k, &e) == 0) {
		memcpy(fpr, k->fpr, KEY_FPR_HEX + 1);
		key_free(k);
	}
}

/* store_open must succeed; returns the vault, and the key's fingerprint in fpr. */
static struct vault *
opens(char fpr[KEY_FPR_HEX + 1])
{
	struct cs_err e = { 0 };
	struct key *k;
	struct vault *v;

	if (store_open(vault, keyf, &k, &v, &e) == -1)
		fail_msg("store_open: %s", e.msg);
	assert_string_equal(k->fpr, vault_fingerprint(v));
	if (fpr != NULL)
		memcpy(fpr, k->fpr, KEY_FPR_HEX + 1);
	key_free(k);
	return v;
}

static void
test_open_uses_the_key_file(void **state)
{
	char fpr[KEY_FPR_HEX + 1];
	struct vault *v;

	(void)state;
	fresh(tk);
	v = opens(fpr);
	assert_string_equal(fpr, TEST_KEY_FPR);
	values_intact(v);
	vault_close(v);
}

static void
test_open_with_the_env_key_ignores_the_key_file(void **state)
{
	char fpr[KEY_FPR_HEX + 1];
	struct vault *v;

	(void)state;
	fresh(tk);
	unlink(keyf);
	assert_int_equal(setenv(KEY_ENV, TEST_KEY_B64, 1), 0);
	v = opens(fpr);
	assert_string_equal(fpr, TEST_KEY_FPR);
	vault_close(v);
	unsetenv(KEY_ENV);
}

static void
test_env_key_gets_no_next_fallback(void **state)
{
	struct cs_err e = { 0 };
	struct key *k = NULL;
	struct vault *v = NULL;

	(void)state;
	fresh(tk);
	assert_int_equal(key_write_file(nextf, tk, 0, &e), 0);
	assert_int_equal(setenv(KEY_ENV, OTHER_KEY_B64, 1), 0);
	assert_int_equal(store_open(vault, keyf, &k, &v, &e), -1);
	assert_null(k);
	assert_null(v);
	assert_int_equal(e.code, EKEYREJECTED);
	assert_non_null(strstr(e.msg, "key fingerprint " OTHER_KEY_FPR " does not match"));
	unsetenv(KEY_ENV);
}

static void
test_wrong_key_file_without_next_is_refused(void **state)
{
	struct cs_err e = { 0 };
	struct key *k = NULL;
	struct vault *v = NULL;

	(void)state;
	fresh(tk);
	assert_int_equal(key_write_file(keyf, ok, 0, &e), 0);
	assert_int_equal(store_open(vault, keyf, &k, &v, &e), -1);
	assert_null(k);
	assert_null(v);
	assert_int_equal(e.code, EKEYREJECTED);
	assert_non_null(strstr(e.msg, vault));
	assert_non_null(strstr(e.msg, "(wrong key?)"));
	/* a ".next" that is not this vault's either changes nothing */
	cs_err_clear(&e);
	assert_int_equal(key_write_file(nextf, ok, 0, &e), 0);
	assert_int_equal(store_open(vault, keyf, &k, &v, &e), -1);
	assert_int_equal(e.code, EKEYREJECTED);
	assert_non_null(strstr(e.msg, "(wrong key?)"));
}

static void
test_missing_key_file_is_named(void **state)
{
	struct cs_err e = { 0 };
	struct key *k = NULL;
	struct vault *v = NULL;

	(void)state;
	fresh(tk);
	unlink(keyf);
	assert_int_equal(store_open(vault, keyf, &k, &v, &e), -1);
	assert_int_equal(e.code, ENOENT);
	assert_non_null(strstr(e.msg, keyf));
}

static void
test_key_file_with_bad_mode_is_refused_by_open(void **state)
{
	struct cs_err e = { 0 };
	struct key *k = NULL;
	struct vault *v = NULL;

	(void)state;
	fresh(tk);
	assert_int_equal(chmod(keyf, 0644), 0);
	assert_int_equal(store_open(vault, keyf, &k, &v, &e), -1);
	assert_int_equal(e.code, EACCES);
	assert_non_null(strstr(e.msg, "mode 0644"));
	assert_null(strstr(e.msg, "AAECAwQF"));
	assert_int_equal(chmod(keyf, 0600), 0);
}

/* Crash points of store_rotate, each simulated by doing the steps partially. */

static void
test_crash_after_the_next_key_was_written_opens_with_the_key_file(void **state)
{
	struct cs_err e = { 0 };
	char fpr[KEY_FPR_HEX + 1], kf[KEY_FPR_HEX + 1], nf[KEY_FPR_HEX + 1];
	struct vault *v;

	(void)state;
	fresh(tk);
	/* step 1 only */
	assert_int_equal(key_write_file(nextf, ok, 0, &e), 0);
	v = opens(fpr);
	assert_string_equal(fpr, TEST_KEY_FPR);
	values_intact(v);
	/* settling leaves both files as they are: the vault is not under ".next" */
	assert_int_equal(store_settle(keyf, v, &e), 0);
	fpr_of(keyf, kf);
	fpr_of(nextf, nf);
	assert_string_equal(kf, TEST_KEY_FPR);
	assert_string_equal(nf, OTHER_KEY_FPR);
	vault_close(v);
}

static void
test_crash_after_the_vault_was_saved_opens_with_next_and_settles(void **state)
{
	struct cs_err e = { 0 };
	char fpr[KEY_FPR_HEX + 1], kf[KEY_FPR_HEX + 1];
	struct vault *v;
	int lockfd;

	(void)state;
	fresh(tk);
	/* steps 1 and 2, not 3 */
	assert_int_equal(key_write_file(nextf, ok, 0, &e), 0);
	v = opens(NULL);
	assert_int_equal(vault_rekey(v, ok, &e), 0);
	assert_int_equal(vault_save(v, vault, 0, &e), 0);
	vault_close(v);
	fpr_of(keyf, kf);
	assert_string_equal(kf, TEST_KEY_FPR);
	/* a reader opens it with ".next", and does not change anything */
	v = opens(fpr);
	assert_string_equal(fpr, OTHER_KEY_FPR);
	values_intact(v);
	assert_int_equal(access(nextf, F_OK), 0);
	/* a writer, under the lock, finishes the rotation */
	assert_int_equal(vault_lock(vault, &lockfd, &e), 0);
	assert_int_equal(store_settle(keyf, v, &e), 0);
	vault_unlock(lockfd);
	vault_close(v);
	fpr_of(keyf, kf);
	assert_string_equal(kf, OTHER_KEY_FPR);
	assert_int_equal(access(nextf, F_OK), -1);
	v = opens(fpr);
	assert_string_equal(fpr, OTHER_KEY_FPR);
	values_intact(v);
	vault_close(v);
}

static void
test_crash_after_the_rename_is_a_finished_rotation(void **state)
{
	struct cs_err e = { 0 };
	char fpr[KEY_FPR_HEX + 1];
	struct vault *v;

	(void)state;
	fresh(tk);
	assert_int_equal(key_write_file(nextf, ok, 0, &e), 0);
	v = opens(NULL);
	assert_int_equal(vault_rekey(v, ok, &e), 0);
	assert_int_equal(vault_save(v, vault, 0, &e), 0);
	vault_close(v);
	assert_int_equal(rename(nextf, keyf), 0);
	v = opens(fpr);
	assert_string_equal(fpr, OTHER_KEY_FPR);
	values_intact(v);
	assert_int_equal(store_settle(keyf, v, &e), 0);
	vault_close(v);
}

static void
test_crash_mid_write_leaves_only_harmless_temporary_files(void **state)
{
	char p[200], fpr[KEY_FPR_HEX + 1];
	struct vault *v;
	FILE *f;

	(void)state;
	fresh(tk);
	/* what a crash inside the atomic writes leaves: half-written temporary files */
	snprintf(p, sizeof p, "%s.tmp-0123456789abcdef", nextf);
	assert_non_null(f = fopen(p, "w"));
	fputs("ZGVmZ2hpamtsbW5v", f);
	fclose(f);
	snprintf(p, sizeof p, "%s.tmp-0123456789abcdef", vault);
	assert_non_null(f = fopen(p, "w"));
	fputs("{\"format\": \"comfysecrets-vau", f);
	fclose(f);
	v = opens(fpr);
	assert_string_equal(fpr, TEST_KEY_FPR);
	values_intact(v);
	vault_close(v);
}

static void
test_key_file_lost_but_next_matching_still_opens(void **state)
{
	struct cs_err e = { 0 };
	char fpr[KEY_FPR_HEX + 1];
	struct vault *v;

	(void)state;
	fresh(tk);
	assert_int_equal(rename(keyf, nextf), 0);
	v = opens(fpr);
	assert_string_equal(fpr, TEST_KEY_FPR);
	assert_int_equal(store_settle(keyf, v, &e), 0);
	vault_close(v);
	assert_int_equal(access(keyf, F_OK), 0);
	assert_int_equal(access(nextf, F_OK), -1);
}

static void
test_settle_refuses_a_next_key_others_can_read(void **state)
{
	struct cs_err e = { 0 };
	struct vault *v;

	(void)state;
	fresh(tk);
	assert_int_equal(key_write_file(nextf, ok, 0, &e), 0);
	assert_int_equal(chmod(nextf, 0644), 0);
	v = opens(NULL);	/* the key file is fine: ".next" is not looked at */
	assert_int_equal(store_settle(keyf, v, &e), -1);
	assert_int_equal(e.code, EACCES);
	assert_non_null(strstr(e.msg, nextf));
	assert_non_null(strstr(e.msg, "mode 0644"));
	vault_close(v);
}

static void
test_rotate_keeps_every_value_under_a_new_key(void **state)
{
	struct cs_err e = { 0 };
	char fpr[KEY_FPR_HEX + 1], got[KEY_FPR_HEX + 1];
	struct vault *v;
	struct stat st;
	int lockfd;

	(void)state;
	fresh(tk);
	assert_int_equal(vault_lock(vault, &lockfd, &e), 0);
	v = opens(NULL);
	assert_int_equal(store_rotate(vault, keyf, v, NULL, NULL, fpr, &e), 0);
	vault_unlock(lockfd);
	assert_string_not_equal(fpr, TEST_KEY_FPR);
	assert_string_equal(vault_fingerprint(v), fpr);
	assert_int_equal(vault_generation(v), 2);
	values_intact(v);	/* still usable in memory */
	vault_close(v);
	/* the key file is the new key, private; no ".next" is left */
	fpr_of(keyf, got);
	assert_string_equal(got, fpr);
	assert_int_equal(stat(keyf, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(access(nextf, F_OK), -1);
	v = opens(got);
	assert_string_equal(got, fpr);
	assert_int_equal(vault_generation(v), 2);
	values_intact(v);
	vault_close(v);
	/* the old key no longer opens it */
	assert_int_equal(vault_open(vault, tk, &v, &e), -1);
	assert_int_equal(e.code, EKEYREJECTED);
}

static void
test_rotate_to_a_given_key(void **state)
{
	struct cs_err e = { 0 };
	char fpr[KEY_FPR_HEX + 1];
	struct vault *v;

	(void)state;
	fresh(tk);
	v = opens(NULL);
	assert_int_equal(store_rotate(vault, keyf, v, ok, NULL, fpr, &e), 0);
	assert_string_equal(fpr, OTHER_KEY_FPR);
	vault_close(v);
	v = opens(fpr);
	assert_string_equal(fpr, OTHER_KEY_FPR);
	values_intact(v);
	vault_close(v);
}

static void
test_rotate_to_the_current_key_is_refused(void **state)
{
	struct cs_err e = { 0 };
	char fpr[KEY_FPR_HEX + 1];
	struct vault *v;

	(void)state;
	fresh(tk);
	v = opens(NULL);
	assert_int_equal(store_rotate(vault, keyf, v, tk, NULL, fpr, &e), -1);
	assert_int_equal(e.code, EINVAL);
	assert_non_null(strstr(e.msg, "the new key is the current key"));
	assert_int_equal(vault_generation(v), 1);
	assert_int_equal(access(nextf, F_OK), -1);
	vault_close(v);
}

static void
test_rotate_finishes_an_interrupted_rotation_first(void **state)
{
	struct cs_err e = { 0 };
	char fpr[KEY_FPR_HEX + 1], got[KEY_FPR_HEX + 1];
	struct vault *v;

	(void)state;
	fresh(tk);
	/* an earlier rotation to ok stopped after saving the vault */
	assert_int_equal(key_write_file(nextf, ok, 0, &e), 0);
	v = opens(NULL);
	assert_int_equal(vault_rekey(v, ok, &e), 0);
	assert_int_equal(vault_save(v, vault, 0, &e), 0);
	vault_close(v);
	/* a new rotation must not overwrite the ".next" the vault needs */
	v = opens(got);
	assert_string_equal(got, OTHER_KEY_FPR);
	assert_int_equal(store_rotate(vault, keyf, v, NULL, NULL, fpr, &e), 0);
	vault_close(v);
	v = opens(got);
	assert_string_equal(got, fpr);
	values_intact(v);
	vault_close(v);
	assert_int_equal(access(nextf, F_OK), -1);
}

static void
test_rotate_refuses_a_vault_changed_on_disk(void **state)
{
	struct cs_err e = { 0 };
	char fpr[KEY_FPR_HEX + 1], kf[KEY_FPR_HEX + 1];
	struct vault *v, *other;

	(void)state;
	fresh(tk);
	v = opens(NULL);
	/* meanwhile, the vault on disk was replaced by one under another key */
	assert_int_equal(vault_new(ok, &other, &e), 0);
	assert_int_equal(vault_save(other, vault, 0, &e), 0);
	vault_close(other);
	assert_int_equal(store_rotate(vault, keyf, v, NULL, NULL, fpr, &e), -1);
	assert_int_equal(e.code, ESTALE);
	assert_non_null(strstr(e.msg, vault));
	fpr_of(keyf, kf);
	assert_string_equal(kf, TEST_KEY_FPR);
	assert_int_equal(access(nextf, F_OK), -1);
	vault_close(v);
}

/* The child: rotate forever, as a writer would (lock, open, settle, rotate, unlock). */
static void
rotate_forever(void)
{
	struct cs_err e = { 0 };
	char fpr[KEY_FPR_HEX + 1];
	struct key *k;
	struct vault *v;
	int lockfd;

	for (;;) {
		cs_err_clear(&e);
		if (vault_lock(vault, &lockfd, &e) == -1 ||
		    store_open(vault, keyf, &k, &v, &e) == -1 ||
		    store_settle(keyf, v, &e) == -1 ||
		    store_rotate(vault, keyf, v, NULL, NULL, fpr, &e) == -1) {
			fprintf(stderr, "child: %s\n", e.msg);
			_exit(2);
		}
		vault_close(v);
		key_free(k);
		vault_unlock(lockfd);
	}
}

static void
test_sigkill_at_any_instant_of_rotation_leaves_a_vault_that_opens(void **state)
{
	struct cs_err e = { 0 };
	struct vault *v;
	uint64_t first, last = 0;
	pid_t pid;
	int i, status, lockfd;

	(void)state;
	fresh(tk);
	v = opens(NULL);
	first = vault_generation(v);
	vault_close(v);
	for (i = 0; i < KILL_ROUNDS; i++) {
		if ((pid = fork()) == 0)
			rotate_forever();
		assert_true(pid > 0);
		usleep(randombytes_uniform(KILL_MAX_US));
		assert_int_equal(kill(pid, SIGKILL), 0);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (!WIFSIGNALED(status))
			fail_msg("the rotating child exited by itself (status %d)", status);
		/* whatever instant it died at, the vault opens with a key on disk */
		v = opens(NULL);
		values_intact(v);
		assert_true(vault_generation(v) >= last);
		last = vault_generation(v);
		/* and a writer can settle what was left */
		assert_int_equal(vault_lock(vault, &lockfd, &e), 0);
		assert_int_equal(store_settle(keyf, v, &e), 0);
		vault_unlock(lockfd);
		vault_close(v);
	}
	print_message("%d kills during %llu rotations\n", KILL_ROUNDS,
	    (unsigned long long)(last - first));
	assert_true(last > first);
	/* the key file holds the vault's key once settled */
	v = opens(NULL);
	vault_close(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_uses_the_key_file),
		cmocka_unit_test(test_open_with_the_env_key_ignores_the_key_file),
		cmocka_unit_test(test_env_key_gets_no_next_fallback),
		cmocka_unit_test(test_wrong_key_file_without_next_is_refused),
		cmocka_unit_test(test_missing_key_file_is_named),
		cmocka_unit_test(test_key_file_with_bad_mode_is_refused_by_open),
		cmocka_unit_test(test_crash_after_the_next_key_was_written_opens_with_the_key_file),
		cmocka_unit_test(test_crash_after_the_vault_was_saved_opens_with_next_and_settles),
		cmocka_unit_test(test_crash_after_the_rename_is_a_finished_rotation),
		cmocka_unit_test(test_crash_mid_write_leaves_only_harmless_temporary_files),
		cmocka_unit_test(test_key_file_lost_but_next_matching_still_opens),
		cmocka_unit_test(test_settle_refuses_a_next_key_others_can_read),
		cmocka_unit_test(test_rotate_keeps_every_value_under_a_new_key),
		cmocka_unit_test(test_rotate_to_a_given_key),
		cmocka_unit_test(test_rotate_to_the_current_key_is_refused),
		cmocka_unit_test(test_rotate_finishes_an_interrupted_rotation_first),
		cmocka_unit_test(test_rotate_refuses_a_vault_changed_on_disk),
		cmocka_unit_test(test_sigkill_at_any_instant_of_rotation_leaves_a_vault_that_opens),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
