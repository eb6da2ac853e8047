/* tests/test_state.c - the rollback floor only moves forward, binds a generation to one
 * vault, lives in a folder only root can change, and a broken or missing one is an
 * error; the old state file beside the vault is carried over once. */
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

#include "../policy/state.h"

static char dir[64], vdir[96], vault[128], sdir[96], legacy[160];
static char mac_a[VAULT_MAC_HEX + 1], mac_b[VAULT_MAC_HEX + 1];

static int
setup(void **state)
{
	(void)state;
	if (testutil_mkdtemp(dir, sizeof dir, "state") == -1)
		return -1;
	snprintf(vdir, sizeof vdir, "%s/v", dir);
	snprintf(vault, sizeof vault, "%s/vault.json", vdir);
	snprintf(legacy, sizeof legacy, "%s/vault.json.state", vdir);
	snprintf(sdir, sizeof sdir, "%s/floor", dir);
	memset(mac_a, 'a', VAULT_MAC_HEX);
	memset(mac_b, 'b', VAULT_MAC_HEX);
	return mkdir(vdir, 0755);
}

static int
teardown(void **state)
{
	(void)state;
	return testutil_rmtree(dir);
}

static void
spit(const char *path, const char *text)
{
	FILE *f;

	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
}

static void
test_missing_floor_is_no_floor_and_check_says_so(void **state)
{
	struct cs_state st;
	struct cs_err e = { 0 };

	(void)state;
	assert_int_equal(state_read(sdir, vault, &st, &e), 0);
	assert_int_equal(st.generation, 0);
	assert_int_equal(st.audit_seq, 0);
	assert_non_null(strstr(st.file, sdir));
	assert_int_equal(state_check(&st, vault, 5, mac_a, &e), -1);
	assert_int_equal(e.code, ENOENT);
	assert_non_null(strstr(e.msg, "no rollback floor"));
	assert_non_null(strstr(e.msg, st.file));
	assert_non_null(strstr(e.msg, "floor --reset"));
}

static void
test_floor_only_moves_forward(void **state)
{
	struct cs_state st;
	struct cs_err e = { 0 };

	(void)state;
	assert_int_equal(state_advance_floor(sdir, vault, 7, mac_a, &e), 0);
	assert_int_equal(state_advance_floor(sdir, vault, 3, mac_b, &e), 0);
	assert_int_equal(state_read(sdir, vault, &st, &e), 0);
	assert_int_equal(st.generation, 7);
	assert_string_equal(st.mac, mac_a);
	/* the same generation with another MAC does not replace it either */
	assert_int_equal(state_advance_floor(sdir, vault, 7, mac_b, &e), 0);
	assert_int_equal(state_read(sdir, vault, &st, &e), 0);
	assert_string_equal(st.mac, mac_a);
	assert_int_equal(state_advance_floor(sdir, vault, 9, mac_b, &e), 0);
	assert_int_equal(state_read(sdir, vault, &st, &e), 0);
	assert_int_equal(st.generation, 9);
	assert_string_equal(st.mac, mac_b);
}

static void
test_check_refuses_older_and_same_generation_other_vault(void **state)
{
	struct cs_state st;
	struct cs_err e = { 0 };

	(void)state;
	assert_int_equal(state_advance_floor(sdir, vault, 7, mac_a, &e), 0);
	assert_int_equal(state_read(sdir, vault, &st, &e), 0);
	assert_int_equal(state_check(&st, vault, 7, mac_a, &e), 0);
	assert_int_equal(state_check(&st, vault, 8, mac_b, &e), 0);
	assert_int_equal(state_check(&st, vault, 6, mac_a, &e), -1);
	assert_int_equal(e.code, ESTALE);
	assert_non_null(strstr(e.msg, "generation 6 is older than generation 7"));
	assert_non_null(strstr(e.msg, "rollback refused"));
	assert_non_null(strstr(e.msg, vault));
	cs_err_clear(&e);
	assert_int_equal(state_check(&st, vault, 7, mac_b, &e), -1);
	assert_int_equal(e.code, ESTALE);
	assert_non_null(strstr(e.msg, "another vault's"));
}

static void
test_audit_point_moves_forward_and_follows_a_new_log(void **state)
{
	struct cs_state st;
	struct cs_err e = { 0 };
	char h1[AUDIT_HASH_HEX + 1], h2[AUDIT_HASH_HEX + 1];

	(void)state;
	memset(h1, 'a', AUDIT_HASH_HEX); h1[AUDIT_HASH_HEX] = '\0';
	memset(h2, 'b', AUDIT_HASH_HEX); h2[AUDIT_HASH_HEX] = '\0';
	assert_int_equal(state_advance_audit(sdir, vault, 10, h1, "/log/a", &e), 0);
	assert_int_equal(state_advance_audit(sdir, vault, 4, h2, "/log/a", &e), 0);
	assert_int_equal(state_read(sdir, vault, &st, &e), 0);
	assert_int_equal(st.audit_seq, 10);
	assert_string_equal(st.audit_hash, h1);
	/* an audit point alone is no floor */
	assert_int_equal(state_check(&st, vault, 1, mac_a, &e), -1);
	assert_int_equal(e.code, ENOENT);
	/* a different log starts its own chain */
	assert_int_equal(state_advance_audit(sdir, vault, 2, h2, "/log/b", &e), 0);
	assert_int_equal(state_read(sdir, vault, &st, &e), 0);
	assert_int_equal(st.audit_seq, 2);
	assert_string_equal(st.audit_path, "/log/b");
}

static void
test_reset_sets_the_floor_whatever_it_was(void **state)
{
	struct cs_state st;
	struct cs_err e = { 0 };
	uint64_t was = 99;

	(void)state;
	assert_int_equal(state_reset_floor(sdir, vault, 4, mac_a, &was, &e), 0);
	assert_int_equal(was, 0);
	assert_int_equal(state_reset_floor(sdir, vault, 2, mac_b, &was, &e), 0);
	assert_int_equal(was, 4);
	assert_int_equal(state_read(sdir, vault, &st, &e), 0);
	assert_int_equal(st.generation, 2);
	assert_string_equal(st.mac, mac_b);
}

static void
test_vaults_sharing_a_state_dir_have_their_own_floor(void **state)
{
	struct cs_state st;
	struct cs_err e = { 0 };
	char other[160];

	(void)state;
	snprintf(other, sizeof other, "%s/other.json", vdir);
	assert_int_equal(state_advance_floor(sdir, vault, 7, mac_a, &e), 0);
	assert_int_equal(state_read(sdir, other, &st, &e), 0);
	assert_int_equal(st.generation, 0);
}

static void
test_old_state_file_is_carried_over_once(void **state)
{
	struct cs_state st;
	struct cs_err e = { 0 };

	(void)state;
	spit(legacy, "{\"generation\": 5, \"audit_seq\": 3, \"audit_hash\": \"\", "
	    "\"audit_path\": \"/log/a\"}");
	assert_int_equal(state_read(sdir, vault, &st, &e), 0);
	assert_true(st.legacy);
	assert_int_equal(st.generation, 5);
	assert_string_equal(st.mac, "");
	/* no MAC yet: any vault of generation 5 is accepted, an older one is not */
	assert_int_equal(state_check(&st, vault, 5, mac_a, &e), 0);
	assert_int_equal(state_check(&st, vault, 4, mac_a, &e), -1);
	cs_err_clear(&e);
	assert_int_equal(state_advance_floor(sdir, vault, 5, mac_a, &e), 0);
	assert_int_equal(access(legacy, F_OK), -1);
	assert_int_equal(state_read(sdir, vault, &st, &e), 0);
	assert_false(st.legacy);
	assert_int_equal(st.generation, 5);
	assert_string_equal(st.mac, mac_a);
	assert_int_equal(st.audit_seq, 3);
	assert_string_equal(st.audit_path, "/log/a");
	/* a new old file is not read again */
	spit(legacy, "{\"generation\": 1, \"audit_seq\": 0, \"audit_hash\": \"\", "
	    "\"audit_path\": \"\"}");
	assert_int_equal(state_read(sdir, vault, &st, &e), 0);
	assert_int_equal(st.generation, 5);
}

/* In a vault folder someone else can write, the old file is theirs to forge: a floor
 * lost there stays lost (an error), it does not become theirs. */
static void
test_old_state_file_in_a_folder_others_write_is_not_trusted(void **state)
{
	struct cs_state st;
	struct cs_err e = { 0 };

	(void)state;
	spit(legacy, "{\"generation\": 1, \"audit_seq\": 0, \"audit_hash\": \"\", "
	    "\"audit_path\": \"\"}");
	assert_int_equal(chmod(vdir, 0777), 0);
	assert_int_equal(state_read(sdir, vault, &st, &e), 0);
	assert_false(st.legacy);
	assert_int_equal(st.generation, 0);
	assert_int_equal(state_check(&st, vault, 5, mac_a, &e), -1);
	assert_int_equal(e.code, ENOENT);
	cs_err_clear(&e);
	/* nor is it carried over by a write */
	assert_int_equal(state_reset_floor(sdir, vault, 5, mac_a, NULL, &e), 0);
	assert_int_equal(access(legacy, F_OK), 0);
	assert_int_equal(chmod(vdir, 0755), 0);
	if (geteuid() == 0) {
		assert_int_equal(unlink(legacy), 0);
		spit(legacy, "{\"generation\": 1, \"audit_seq\": 0, \"audit_hash\": \"\", "
		    "\"audit_path\": \"\"}");
		assert_int_equal(chown(legacy, 65534, 65534), 0);
		snprintf(sdir, sizeof sdir, "%s/floor-2", dir);	/* no floor file yet */
		assert_int_equal(state_read(sdir, vault, &st, &e), 0);
		assert_false(st.legacy);
	}
}

static void
test_a_state_dir_others_can_change_is_refused(void **state)
{
	struct cs_state st;
	struct cs_err e = { 0 };

	(void)state;
	assert_int_equal(state_advance_floor(sdir, vault, 7, mac_a, &e), 0);
	assert_int_equal(chmod(sdir, 0770), 0);
	assert_int_equal(state_read(sdir, vault, &st, &e), -1);
	assert_int_equal(e.code, EPERM);
	assert_non_null(strstr(e.msg, sdir));
	assert_non_null(strstr(e.msg, "mode 0770"));
	cs_err_clear(&e);
	assert_int_equal(state_advance_floor(sdir, vault, 8, mac_a, &e), -1);
	assert_int_equal(e.code, EPERM);
	cs_err_clear(&e);
	assert_int_equal(chmod(sdir, 0700), 0);
	/* a folder above it that others can write (not sticky) */
	assert_int_equal(chmod(dir, 0777), 0);
	assert_int_equal(state_read(sdir, vault, &st, &e), -1);
	assert_int_equal(e.code, EPERM);
	assert_non_null(strstr(e.msg, dir));
	cs_err_clear(&e);
	assert_int_equal(chmod(dir, 01777), 0);	/* sticky, like /tmp: fine */
	assert_int_equal(state_read(sdir, vault, &st, &e), 0);
	assert_int_equal(chmod(dir, 0700), 0);
	if (geteuid() == 0) {
		assert_int_equal(chown(sdir, 65534, 65534), 0);
		assert_int_equal(state_read(sdir, vault, &st, &e), -1);
		assert_int_equal(e.code, EPERM);
		assert_non_null(strstr(e.msg, "owned by uid 65534"));
	}
}

static void
test_the_vaults_own_folder_is_refused_as_state_dir(void **state)
{
	struct cs_state st;
	struct cs_err e = { 0 };

	(void)state;
	assert_int_equal(chmod(vdir, 0700), 0);
	assert_int_equal(state_read(vdir, vault, &st, &e), -1);
	assert_int_equal(e.code, EPERM);
	assert_non_null(strstr(e.msg, "the vault's own folder"));
	cs_err_clear(&e);
	assert_int_equal(state_advance_floor(vdir, vault, 1, mac_a, &e), -1);
	assert_int_equal(e.code, EPERM);
}

static void
test_a_malformed_state_file_is_an_error_naming_it(void **state)
{
	struct cs_state st;
	struct cs_err e = { 0 };

	(void)state;
	assert_int_equal(state_advance_floor(sdir, vault, 7, mac_a, &e), 0);
	assert_int_equal(state_read(sdir, vault, &st, &e), 0);
	spit(st.file, "{\"generation\": \"seven\"}");
	assert_int_equal(state_read(sdir, vault, &st, &e), -1);
	assert_int_equal(e.code, EINVAL);
	assert_non_null(strstr(e.msg, st.file));
	cs_err_clear(&e);
	assert_int_equal(state_advance_floor(sdir, vault, 8, mac_a, &e), -1);
	assert_non_null(strstr(e.msg, "not a state file"));
}

static void
test_a_symlinked_or_fifo_state_file_is_refused(void **state)
{
	struct cs_state st;
	struct cs_err e = { 0 };
	char file[PATH_MAX];

	(void)state;
	assert_int_equal(state_advance_floor(sdir, vault, 7, mac_a, &e), 0);
	assert_int_equal(state_path(sdir, vault, file, sizeof file, &e), 0);
	assert_int_equal(unlink(file), 0);
	assert_int_equal(symlink("/etc/passwd", file), 0);
	assert_int_equal(state_read(sdir, vault, &st, &e), -1);
	assert_int_equal(e.code, ELOOP);
	cs_err_clear(&e);
	assert_int_equal(unlink(file), 0);
	assert_int_equal(mkfifo(file, 0600), 0);
	assert_int_equal(state_read(sdir, vault, &st, &e), -1);
	assert_int_equal(e.code, EINVAL);
	assert_non_null(strstr(e.msg, "not a regular file"));
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_missing_floor_is_no_floor_and_check_says_so),
		T(test_floor_only_moves_forward),
		T(test_check_refuses_older_and_same_generation_other_vault),
		T(test_audit_point_moves_forward_and_follows_a_new_log),
		T(test_reset_sets_the_floor_whatever_it_was),
		T(test_vaults_sharing_a_state_dir_have_their_own_floor),
		T(test_old_state_file_is_carried_over_once),
		T(test_old_state_file_in_a_folder_others_write_is_not_trusted),
		T(test_a_state_dir_others_can_change_is_refused),
		T(test_the_vaults_own_folder_is_refused_as_state_dir),
		T(test_a_malformed_state_file_is_an_error_naming_it),
		T(test_a_symlinked_or_fifo_state_file_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
