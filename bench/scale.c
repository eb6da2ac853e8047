/* bench/scale.c - how the in-process costs grow with the size of the vault.
 *
 *   scale [DIR]    (default /tmp; a vault file is written there and removed)
 *
 * For vaults of 1 000 and 100 000 fields (1 000 per provider, 40-byte values): the time
 * to save, and to open (read, parse, verify the MAC: wall and CPU time); then the time
 * of one tree lookup (provider, then field) in the daemon's snapshot built from it,
 * averaged over 200 000 lookups spread over every field. A lookup is a hash probe, so
 * it should cost about the same at both sizes; opening grows with the file.
 *
 * Each figure is the median of ROUNDS runs. Nothing is asserted: a loaded machine
 * gives larger figures, which is why these live here and not in tests/. Output is one
 * "key=value" line per size, for bench/run or a person to read. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "../crypto/key.h"
#include "../crypto/secret.h"
#include "../crypto/vault.h"
#include "../fs/tree.h"

#define FIELDS_PER_PROVIDER	1000
#define VALUE_BYTES		40
#define LOOKUPS			200000
#define ROUNDS			5

static double
now_s(clockid_t c)
{
	struct timespec t;

	clock_gettime(c, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int
by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(double *v, size_t n)
{
	qsort(v, n, sizeof *v, by_value);
	return v[n / 2];
}

static void
die(const char *what, const struct cs_err *e)
{
	fprintf(stderr, "scale: %s: %s\n", what, e->msg);
	exit(1);
}

static void
one_size(const struct key *k, const char *dir, size_t providers)
{
	struct cs_err e = { 0 };
	struct vault *v = NULL;
	struct secret *val;
	struct tree_inomap *m;
	struct tree_attrs a;
	struct tree *t = NULL;
	const struct tree_node *d, *n;
	char path[4096], pn[16], fn[24];
	double save[ROUNDS], open_w[ROUNDS], open_c[ROUNDS], look[ROUNDS], w, c;
	size_t p, f, i, r, nf = providers * FIELDS_PER_PROVIDER;

	snprintf(path, sizeof path, "%s/cs-scale.%ld.json", dir, (long)getpid());
	if (vault_new(k, &v, &e) == -1 || (val = secret_new(VALUE_BYTES)) == NULL)
		die("vault_new", &e);
	for (p = 0; p < providers; p++)
		for (f = 0; f < FIELDS_PER_PROVIDER; f++) {
			snprintf(pn, sizeof pn, "p%03zu", p);
			snprintf(fn, sizeof fn, "field-%05zu", f);
			snprintf((char *)val->buf, VALUE_BYTES, "%s/%s", pn, fn);
			if (vault_put(v, pn, fn, val, 0, &e) == -1)
				die("vault_put", &e);
		}
	secret_free(val);
	for (r = 0; r < ROUNDS; r++) {
		w = now_s(CLOCK_MONOTONIC);
		if (vault_save(v, path, 0, &e) == -1)
			die(path, &e);
		save[r] = now_s(CLOCK_MONOTONIC) - w;
	}
	vault_close(v);
	memset(&a, 0, sizeof a);
	a.mode = TREE_FILE_MODE;
	for (r = 0; r < ROUNDS; r++) {
		w = now_s(CLOCK_MONOTONIC);
		c = now_s(CLOCK_PROCESS_CPUTIME_ID);
		if (vault_open(path, k, &v, &e) == -1)
			die(path, &e);
		open_c[r] = now_s(CLOCK_PROCESS_CPUTIME_ID) - c;
		open_w[r] = now_s(CLOCK_MONOTONIC) - w;
		if ((m = tree_inomap_new()) == NULL ||
		    tree_build(m, v, NULL, NULL, 0, &a, &t, &e) == -1)
			die("tree_build", &e);
		w = now_s(CLOCK_MONOTONIC);
		for (i = 0; i < LOOKUPS; i++) {
			f = (i * 7919) % nf;
			snprintf(pn, sizeof pn, "p%03zu", f / FIELDS_PER_PROVIDER);
			snprintf(fn, sizeof fn, "field-%05zu", f % FIELDS_PER_PROVIDER);
			if ((d = tree_lookup(t, TREE_INO_ROOT, pn)) == NULL ||
			    (n = tree_lookup(t, d->ino, fn)) == NULL) {
				fprintf(stderr, "scale: lookup of %s/%s failed\n", pn, fn);
				exit(1);
			}
		}
		look[r] = (now_s(CLOCK_MONOTONIC) - w) / LOOKUPS;
		tree_unref(t);		/* the tree owns v */
		tree_inomap_free(m);
	}
	unlink(path);
	printf("fields=%zu save_s=%.3f open_wall_s=%.3f open_cpu_s=%.3f "
	    "lookup_ns=%.0f (each the median of %d; the lookup includes two snprintf)\n", nf,
	    median(save, ROUNDS), median(open_w, ROUNDS), median(open_c, ROUNDS),
	    median(look, ROUNDS) * 1e9, ROUNDS);
}

int
main(int argc, char **argv)
{
	struct cs_err e = { 0 };
	struct key *k = NULL;
	const char *dir = argc > 1 ? argv[1] : "/tmp";

	if (sodium_init() < 0 || key_generate(&k, &e) == -1)
		die("key", &e);
	one_size(k, dir, 1);
	one_size(k, dir, 100);
	key_free(k);
	return 0;
}
