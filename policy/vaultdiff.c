/* policy/vaultdiff.c - what changed between two vaults; see vaultdiff.h.
 *
 * A merge walk over two sorted lists of (provider, field): one list per side, built
 * by walking the vault's providers and their fields, both in name order. */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "vaultdiff.h"

/* A cursor over one vault's fields in name order. */
struct walk {
	const struct vault	*v;
	size_t			 pi, fi;
};

static int
walk_more(const struct walk *w)
{
	return w->v != NULL && w->pi < vault_nproviders(w->v);
}

static void
walk_next(struct walk *w)
{
	if (++w->fi >= vault_nfields(w->v, w->pi)) {
		w->fi = 0;
		w->pi++;
	}
}

/* Order of the fields under the two cursors, as strcmp; a cursor at its end is last. */
static int
walk_cmp(const struct walk *a, const struct walk *b)
{
	int c;

	if (!walk_more(a) || !walk_more(b))
		return walk_more(a) ? -1 : walk_more(b) ? 1 : 0;
	if ((c = strcmp(vault_provider(a->v, a->pi), vault_provider(b->v, b->pi))) != 0)
		return c;
	return strcmp(vault_field(a->v, a->pi, a->fi), vault_field(b->v, b->pi, b->fi));
}

/* 1 when the values under a and b differ, 0 when they are the same, -1 (e set) when
 * one cannot be decrypted. */
static int
differs(const struct walk *a, const struct walk *b, struct cs_err *e)
{
	struct secret *x = NULL, *y = NULL;
	int rc = -1;

	if (vault_value_id(a->v, a->pi, a->fi) == vault_value_id(b->v, b->pi, b->fi))
		return 0;
	if (vault_value_len(a->v, a->pi, a->fi) != vault_value_len(b->v, b->pi, b->fi))
		return 1;
	if (vault_reveal_at(a->v, a->pi, a->fi, &x, e) == -1 ||
	    vault_reveal_at(b->v, b->pi, b->fi, &y, e) == -1)
		goto out;
	rc = x->len != y->len || (x->len > 0 && sodium_memcmp(x->buf, y->buf, x->len) != 0);
out:
	secret_free(x);		/* wiped */
	secret_free(y);
	return rc;
}

int
vaultdiff(const struct vault *old, const struct vault *nv, vaultdiff_want_fn want,
    vaultdiff_fn fn, void *arg, struct cs_err *e)
{
	struct walk o = { old, 0, 0 }, n = { nv, 0, 0 };
	struct vaultdiff_change ch;
	const struct walk *at;
	int c, d, rc;

	while (walk_more(&o) || walk_more(&n)) {
		c = walk_cmp(&o, &n);
		at = c < 0 ? &o : &n;
		memset(&ch, 0, sizeof ch);
		ch.v = at->v;
		ch.pi = at->pi;
		ch.fi = at->fi;
		ch.provider = vault_provider(at->v, at->pi);
		ch.field = vault_field(at->v, at->pi, at->fi);
		if (want == NULL || want(arg, ch.provider, ch.field)) {
			if ((d = c != 0 ? 1 : differs(&o, &n, e)) == -1)
				return -1;
			ch.kind = c < 0 ? VAULTDIFF_REMOVED : c > 0 ? VAULTDIFF_ADDED :
			    VAULTDIFF_CHANGED;
			if (d == 1 && (rc = fn(arg, &ch)) != 0)
				return rc;
		}
		if (c <= 0)
			walk_next(&o);
		if (c >= 0)
			walk_next(&n);
	}
	return 0;
}
