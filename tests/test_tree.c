/* tests/test_tree.c - snapshots of the mounted tree: layout, owners and modes, the
 * overlay over the vault, special entries, inode numbers across reloads (kept while a
 * value is unchanged, new when it changes), and lookups among 100 000 fields (their
 * speed is measured by bench/scale). */
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
#include <sodium.h>

#include "../crypto/key.h"
#include "../crypto/secret.h"
#include "../crypto/vault.h"
#include "../fs/tree.h"

#define BIG_FIELDS	100000	/* the target size of one vault */

static struct key *test_key;

static int
setup(void **state)
{
	struct cs_err e = { 0 };

	(void)state;
	if (sodium_init() < 0 || key_generate(&test_key, &e) == -1)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	key_free(test_key);
	return 0;
}

static void
put(struct vault *v, const char *p, const char *f, const char *value)
{
	struct secret *s = secret_dup(value, strlen(value));
	struct cs_err e = { 0 };

	assert_non_null(s);
	if (vault_put(v, p, f, s, 0, &e) == -1)
		fail_msg("vault_put %s/%s: %s", p, f, e.msg);
	secret_free(s);
}

static struct vault *
sample(void)
{
	struct vault *v = NULL;
	struct cs_err e = { 0 };

	assert_int_equal(vault_new(test_key, &v, &e), 0);
	put(v, "runpod", "api_key", "sk-runpod-0123456789");
	put(v, "runpod", "endpoint", "https://api.runpod.io");
	put(v, "openai", "api_key", "sk-openai");
	return v;
}

static struct tree_attrs
attrs(void)
{
	struct tree_attrs a;

	memset(&a, 0, sizeof a);
	a.uid = 1000;
	a.gid = 1001;
	a.mode = TREE_FILE_MODE;
	a.time.tv_sec = 1700000000;
	return a;
}

static struct tree *
build(struct tree_inomap *m, struct vault *v, const struct overlay *ov)
{
	struct tree_attrs a = attrs();
	struct tree *t = NULL;
	struct cs_err e = { 0 };

	if (tree_build(m, v, ov, NULL, 0, &a, &t, &e) == -1)
		fail_msg("tree_build: %s", e.msg);
	return t;
}

static uint64_t
ino_of(const struct tree *t, const char *p, const char *f)
{
	const struct tree_node *d = tree_lookup(t, TREE_INO_ROOT, p), *n;

	if (d == NULL)
		return 0;
	if (f == NULL)
		return d->ino;
	n = tree_lookup(t, d->ino, f);
	return n != NULL ? n->ino : 0;
}

static void
test_one_directory_per_provider_one_file_per_field(void **state)
{
	struct tree_inomap *m = tree_inomap_new();
	struct tree *t = build(m, sample(), NULL);
	const struct tree_node *root, *d, *n;

	(void)state;
	root = tree_get(t, TREE_INO_ROOT);
	assert_non_null(root);
	assert_int_equal(root->kind, TREE_ROOT);
	assert_int_equal(root->mode, S_IFDIR | 0555);
	assert_int_equal(root->nchild, 2);
	assert_int_equal(root->nlink, 4);
	assert_string_equal(tree_child(t, root, 0)->name, "openai");
	assert_string_equal(tree_child(t, root, 1)->name, "runpod");
	assert_null(tree_child(t, root, 2));
	d = tree_lookup(t, TREE_INO_ROOT, "runpod");
	assert_non_null(d);
	assert_int_equal(d->kind, TREE_DIR);
	assert_int_equal(d->mode, S_IFDIR | 0550);
	assert_int_equal(d->uid, 1000);
	assert_int_equal(d->gid, 1001);
	assert_int_equal(d->nchild, 2);
	assert_string_equal(tree_child(t, d, 0)->name, "api_key");
	assert_string_equal(tree_child(t, d, 1)->name, "endpoint");
	n = tree_lookup(t, d->ino, "api_key");
	assert_non_null(n);
	assert_int_equal(n->kind, TREE_FILE);
	assert_int_equal(n->mode, S_IFREG | 0440);
	assert_int_equal(n->size, strlen("sk-runpod-0123456789"));	/* known without decrypting */
	assert_null(n->env);
	assert_int_equal(n->parent, d->ino);
	assert_string_equal(n->provider, "runpod");
	assert_ptr_equal(tree_get(t, n->ino), n);
	assert_null(tree_lookup(t, d->ino, "nothere"));
	assert_null(tree_lookup(t, n->ino, "x"));	/* a file has no children */
	assert_null(tree_lookup(t, TREE_INO_ROOT, ".."));
	assert_null(tree_lookup(t, TREE_INO_ROOT, ""));
	assert_null(tree_get(t, 999999));
	assert_int_equal(tree_count(t), 1 + 2 + 3);
	assert_int_equal(tree_generation(t), vault_generation(tree_vault(t)));
	assert_int_equal(tree_time(t).tv_sec, 1700000000);
	tree_unref(t);
	tree_inomap_free(m);
}

/* A field's file shows when its value last changed; the rest, the snapshot's time. */
static void
test_a_field_file_carries_its_change_time(void **state)
{
	struct tree_inomap *m = tree_inomap_new();
	struct tree *t = build(m, sample(), NULL);
	const struct tree_node *d = tree_lookup(t, TREE_INO_ROOT, "runpod"), *n;
	struct cs_err e = { 0 };
	struct timespec ts;
	size_t pi, fi;
	int64_t ns;

	(void)state;
	n = tree_lookup(t, d->ino, "api_key");
	assert_int_equal(vault_find(tree_vault(t), "runpod", "api_key", &pi, &fi, &e), 0);
	ns = vault_field_mtime(tree_vault(t), pi, fi);
	assert_true(ns > 1700000000LL * 1000000000);
	ts = tree_node_time(t, n);
	assert_int_equal(ts.tv_sec, ns / 1000000000);
	assert_int_equal(ts.tv_nsec, ns % 1000000000);
	assert_int_equal(tree_node_time(t, d).tv_sec, 1700000000);
	assert_int_equal(tree_node_time(t, tree_get(t, TREE_INO_ROOT)).tv_sec, 1700000000);
	tree_unref(t);
	tree_inomap_free(m);
}

/* A copy of the vault saved at path, as the daemon reads it at each reload. */
static struct vault *
reopen(const char *path)
{
	struct vault *v = NULL;
	struct cs_err e = { 0 };

	if (vault_open(path, test_key, &v, &e) == -1)
		fail_msg("vault_open: %s", e.msg);
	return v;
}

static void
test_a_changed_value_is_a_new_inode_the_rest_keep_theirs(void **state)
{
	char dir[] = "/tmp/cs-test-tree-XXXXXX", path[64];
	struct tree_inomap *m = tree_inomap_new();
	struct vault *v0 = sample(), *v1, *v2, *v3, *v4;
	struct tree *t1, *t2, *t3, *t4;
	struct cs_err e = { 0 };
	uint64_t key1, end1, oa1, rp1, key2, key3, added;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/vault.json", dir);
	if (vault_save(v0, path, 0, &e) == -1)
		fail_msg("vault_save: %s", e.msg);
	vault_close(v0);
	t1 = build(m, v1 = reopen(path), NULL);
	key1 = ino_of(t1, "runpod", "api_key");
	end1 = ino_of(t1, "runpod", "endpoint");
	oa1 = ino_of(t1, "openai", "api_key");
	rp1 = ino_of(t1, "runpod", NULL);
	assert_true(key1 >= TREE_INO_FIRST && end1 >= TREE_INO_FIRST && oa1 >= TREE_INO_FIRST);
	assert_true(key1 != end1 && key1 != oa1 && end1 != oa1 && rp1 != key1);

	/* a field added before the others in name order, one removed, one changed */
	v2 = reopen(path);
	put(v2, "aaa", "first", "x");
	put(v2, "runpod", "api_key", "a different, longer value");
	assert_int_equal(vault_remove(v2, "runpod", "endpoint", &e), 0);
	t2 = build(m, v2, NULL);
	key2 = ino_of(t2, "runpod", "api_key");
	assert_true(key2 != 0 && key2 != key1 && key2 != end1 && key2 != oa1);
	assert_null(tree_get(t2, key1));		/* the old value's inode is gone */
	assert_int_equal(ino_of(t2, "openai", "api_key"), oa1);	/* untouched: kept */
	assert_int_equal(ino_of(t2, "runpod", NULL), rp1);	/* directories keep theirs */
	assert_null(tree_get(t2, end1));		/* vanished: ENOENT */
	added = ino_of(t2, "aaa", "first");
	assert_true(added != 0 && added != key1 && added != key2 && added != end1 &&
	    added != oa1);
	assert_int_equal(tree_get(t2, key2)->size, strlen("a different, longer value"));

	/* the old snapshot is untouched while a reader holds it */
	assert_non_null(tree_get(t1, end1));
	assert_int_equal(tree_get(t1, key1)->size, strlen("sk-runpod-0123456789"));

	/* a path that comes back with its old value gets its old number; a value that
	 * was replaced never gets its old number back */
	t3 = build(m, v3 = reopen(path), NULL);
	assert_int_equal(ino_of(t3, "runpod", "endpoint"), end1);
	key3 = ino_of(t3, "runpod", "api_key");
	assert_true(key3 != key1 && key3 != key2 && key3 != added);
	assert_int_equal(ino_of(t3, "openai", "api_key"), oa1);

	/* the same plaintext sealed again is a new value too */
	v4 = reopen(path);
	put(v4, "openai", "api_key", "sk-openai");
	t4 = build(m, v4, NULL);
	assert_true(ino_of(t4, "openai", "api_key") != oa1);
	assert_int_equal(ino_of(t4, "runpod", "endpoint"), end1);
	tree_unref(t1);
	tree_unref(t2);
	tree_unref(t3);
	tree_unref(t4);
	tree_inomap_free(m);
	unlink(path);
	assert_int_equal(rmdir(dir), 0);
}

static void
test_references_keep_a_snapshot_alive(void **state)
{
	struct tree_inomap *m = tree_inomap_new();
	struct tree *t = build(m, sample(), NULL);

	(void)state;
	assert_ptr_equal(tree_ref(t), t);
	tree_unref(t);
	assert_non_null(tree_get(t, TREE_INO_ROOT));	/* still one reference */
	tree_unref(t);
	tree_unref(NULL);
	tree_inomap_free(m);
	tree_inomap_free(NULL);
}

static void
test_overlay_replaces_a_value_and_adds_paths(void **state)
{
	struct tree_inomap *m = tree_inomap_new();
	struct overlay_entry ents[2];
	struct overlay ov = { ents, 2 };
	struct tree *t;
	const struct tree_node *n;

	(void)state;
	memset(ents, 0, sizeof ents);
	strcpy(ents[0].provider, "newprov");
	strcpy(ents[0].field, "token");
	ents[0].value = secret_dup("tok", 3);
	strcpy(ents[1].provider, "runpod");
	strcpy(ents[1].field, "api_key");
	ents[1].value = secret_dup("from-env", 8);
	t = build(m, sample(), &ov);
	n = tree_get(t, ino_of(t, "runpod", "api_key"));
	assert_non_null(n);
	assert_ptr_equal(n->env, ents[1].value);
	assert_int_equal(n->size, 8);
	n = tree_get(t, ino_of(t, "runpod", "endpoint"));
	assert_null(n->env);			/* the vault's, untouched */
	n = tree_get(t, ino_of(t, "newprov", "token"));
	assert_non_null(n);
	assert_ptr_equal(n->env, ents[0].value);
	assert_int_equal(tree_get(t, TREE_INO_ROOT)->nchild, 3);
	assert_int_equal(tree_get(t, ino_of(t, "runpod", NULL))->nchild, 2);	/* no duplicate */
	tree_unref(t);

	/* the overlay alone, without a vault */
	t = build(m, NULL, &ov);
	assert_int_equal(tree_generation(t), 0);
	assert_null(tree_vault(t));
	assert_int_equal(tree_count(t), 1 + 2 + 2);
	tree_unref(t);
	secret_free(ents[0].value);
	secret_free(ents[1].value);
	tree_inomap_free(m);
}

static void
test_provider_owner_group_and_mode_come_from_the_config(void **state)
{
	char path[] = "/tmp/cs-test-tree-XXXXXX";
	struct tree_inomap *m = tree_inomap_new();
	struct tree_attrs a = attrs();
	struct cfg *c = NULL;
	struct tree *t = NULL;
	struct cs_err e = { 0 };
	const struct tree_node *n;
	FILE *f;
	int fd;

	(void)state;
	assert_true((fd = mkstemp(path)) != -1);
	assert_non_null(f = fdopen(fd, "w"));
	fprintf(f, "[provider.runpod]\nowner = 4242\ngroup = 4343\nmode = 0640\n"
	    "[provider.openai]\nmode = 0404\n");
	fclose(f);
	if (cfg_load(path, &c, &e) == -1)
		fail_msg("cfg_load: %s", e.msg);
	unlink(path);
	a.cfg = c;
	assert_int_equal(tree_build(m, sample(), NULL, NULL, 0, &a, &t, &e), 0);
	n = tree_get(t, ino_of(t, "runpod", "api_key"));
	assert_int_equal(n->uid, 4242);
	assert_int_equal(n->gid, 4343);
	assert_int_equal(n->mode, S_IFREG | 0440);	/* read-only: the w bit is dropped */
	n = tree_get(t, ino_of(t, "runpod", NULL));
	assert_int_equal(n->mode, S_IFDIR | 0550);
	assert_int_equal(n->uid, 4242);
	n = tree_get(t, ino_of(t, "openai", "api_key"));
	assert_int_equal(n->mode, S_IFREG | 0404);
	assert_int_equal(n->uid, 1000);		/* the default where the config is silent */
	n = tree_get(t, ino_of(t, "openai", NULL));
	assert_int_equal(n->mode, S_IFDIR | 0505);
	tree_unref(t);
	cfg_free(c);
	tree_inomap_free(m);
}

static void
test_special_entries_lead_the_root(void **state)
{
	const struct tree_special sp[] = {
		{ ".sandbox", 3, S_IFDIR | 0555, 2 },
		{ ".control", 2, S_IFREG | 0666, 1 },
	};
	const struct tree_special bad[] = { { "control", 2, S_IFREG | 0666, 1 } };
	const struct tree_special badino[] = { { ".x", TREE_INO_FIRST, S_IFREG | 0444, 1 } };
	struct tree_inomap *m = tree_inomap_new();
	struct tree_attrs a = attrs();
	struct vault *v = sample();
	struct tree *t = NULL;
	struct cs_err e = { 0 };
	const struct tree_node *root, *n;

	(void)state;
	assert_int_equal(tree_build(m, v, NULL, bad, 1, &a, &t, &e), -1);
	assert_int_equal(e.code, EINVAL);
	memset(&e, 0, sizeof e);
	assert_int_equal(tree_build(m, v, NULL, badino, 1, &a, &t, &e), -1);
	assert_int_equal(tree_build(m, v, NULL, sp, 2, &a, &t, &e), 0);
	root = tree_get(t, TREE_INO_ROOT);
	assert_int_equal(root->nchild, 4);
	assert_int_equal(root->nlink, 5);
	assert_string_equal(tree_child(t, root, 0)->name, ".control");
	assert_string_equal(tree_child(t, root, 1)->name, ".sandbox");
	assert_string_equal(tree_child(t, root, 2)->name, "openai");
	n = tree_lookup(t, TREE_INO_ROOT, ".control");
	assert_non_null(n);
	assert_int_equal(n->kind, TREE_SPECIAL);
	assert_int_equal(n->ino, 2);
	assert_int_equal(n->special, 1);
	assert_int_equal(n->mode, S_IFREG | 0666);
	assert_null(tree_lookup(t, 3, "api.example.com:443"));	/* answered by its hook */
	assert_non_null(tree_lookup(t, TREE_INO_ROOT, "runpod"));
	tree_unref(t);
	tree_inomap_free(m);
}

/* How fast a lookup is among 100 000 fields is measured by bench/scale, not here. */
static void
test_every_one_of_a_hundred_thousand_fields_is_found(void **state)
{
	struct tree_inomap *m = tree_inomap_new();
	struct secret *shared = secret_dup("v", 1);
	struct overlay_entry *ents = calloc(BIG_FIELDS, sizeof *ents);
	char **names = calloc(BIG_FIELDS, sizeof *names);
	struct overlay small, big;
	struct tree *ts, *tb;
	const struct tree_node *n;
	uint64_t dir;
	size_t i;

	(void)state;
	assert_non_null(ents);
	assert_non_null(names);
	for (i = 0; i < BIG_FIELDS; i++) {
		strcpy(ents[i].provider, "big");
		snprintf(ents[i].field, sizeof ents[i].field, "field%06zu", i);
		ents[i].value = shared;
		names[i] = ents[i].field;
	}
	small = (struct overlay){ ents, 1000 };
	big = (struct overlay){ ents, BIG_FIELDS };
	ts = build(m, NULL, &small);
	tb = build(m, NULL, &big);
	assert_int_equal(tree_count(tb), 1 + 1 + BIG_FIELDS);
	for (i = 0; i < BIG_FIELDS; i += 997) {
		n = tree_get(tb, ino_of(tb, "big", names[i]));
		assert_non_null(n);
		assert_string_equal(n->name, names[i]);
	}
	/* the first 1000 paths kept their numbers in the bigger snapshot */
	assert_int_equal(ino_of(tb, "big", names[999]), ino_of(ts, "big", names[999]));
	dir = ino_of(tb, "big", NULL);
	for (i = 0; i < BIG_FIELDS; i++) {
		n = tree_lookup(tb, dir, names[i]);
		if (n == NULL || strcmp(n->name, names[i]) != 0)
			fail_msg("lookup of big/%s failed", names[i]);
	}
	assert_null(tree_lookup(tb, dir, "field100000"));
	assert_null(tree_lookup(ts, ino_of(ts, "big", NULL), names[1000]));
	tree_unref(ts);
	tree_unref(tb);
	secret_free(shared);
	free(ents);
	free(names);
	tree_inomap_free(m);
}

/* The owner's bits for the owner, the group's for a member, the others' for the rest;
 * root always; every wanted bit must be there. */
static void
test_mode_bits_follow_owner_then_group_then_others(void **state)
{
	struct tree_node n = { 0 };

	(void)state;
	n.uid = 1000;
	n.gid = 2000;
	n.mode = S_IFREG | 0640;
	assert_true(tree_mode_allows(&n, 1000, 0, R_OK));
	assert_false(tree_mode_allows(&n, 1000, 0, R_OK | X_OK));
	assert_true(tree_mode_allows(&n, 1001, 1, R_OK));
	assert_false(tree_mode_allows(&n, 1001, 1, W_OK));
	assert_false(tree_mode_allows(&n, 1001, 0, R_OK));
	assert_true(tree_mode_allows(&n, 0, 0, R_OK | W_OK | X_OK));
	n.mode = S_IFREG | 0044;	/* the owner's bits win even when they are fewer */
	assert_false(tree_mode_allows(&n, 1000, 1, R_OK));
	assert_true(tree_mode_allows(&n, 1002, 0, R_OK));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_directory_per_provider_one_file_per_field),
		cmocka_unit_test(test_a_field_file_carries_its_change_time),
		cmocka_unit_test(test_a_changed_value_is_a_new_inode_the_rest_keep_theirs),
		cmocka_unit_test(test_references_keep_a_snapshot_alive),
		cmocka_unit_test(test_overlay_replaces_a_value_and_adds_paths),
		cmocka_unit_test(test_provider_owner_group_and_mode_come_from_the_config),
		cmocka_unit_test(test_special_entries_lead_the_root),
		cmocka_unit_test(test_every_one_of_a_hundred_thousand_fields_is_found),
		cmocka_unit_test(test_mode_bits_follow_owner_then_group_then_others),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
