/* fs/tree.c - snapshots of the mounted tree; see tree.h.
 *
 * A build gathers one source per path (vault fields, then overlay entries, which win
 * over the vault at the same path), sorts them by provider and field, and lays the
 * nodes out so that every directory's children are one contiguous, name-sorted run:
 * the root, the special entries, the provider directories, then the fields provider by
 * provider. Inode numbers come from the inomap, an open-addressing hash of path ->
 * (number, value id) that only grows. Each snapshot adds two more: inode -> node and
 * (parent, name) -> node, so both lookups take a probe or two whatever the size; the
 * sorted runs serve readdir. Names point into the vault and the overlay, which outlive
 * the nodes. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tree.h"

#define INOMAP_MIN_SLOTS	64	/* a power of two */
#define PATH_KEY_MAX		(2 * VAULT_NAME_MAX + 2)	/* "provider/field" + NUL */

struct tree_inomap {
	char		**keys;		/* NULL: empty slot */
	uint64_t	 *inos;
	uint64_t	 *ids;		/* the value's identity the number stands for */
	size_t		  nslots;	/* a power of two */
	size_t		  used;
	uint64_t	  next;		/* the next number to hand out */
};

struct tree {
	atomic_uint		 refs;
	struct vault		*v;
	struct tree_node	*nodes;
	size_t			 n;
	size_t			*slots;		/* ino hash: node index + 1, 0 empty */
	size_t			*names;		/* (parent, name) hash: node index + 1 */
	size_t			 nslots;	/* of each hash; a power of two */
	uint64_t		 generation;
	struct timespec		 time;
};

/* One path's source while building. */
struct src {
	const char		*provider;
	const char		*field;		/* NULL: a provider without fields */
	const struct secret	*env;
	size_t			 pi, fi;
	uint64_t		 size;
	uint64_t		 id;		/* vault_value_id; 0 for the overlay */
};

static uint64_t
hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a: the names are authenticated data */

	while (*s != '\0')
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static uint64_t
hash_ino(uint64_t ino)
{
	return ino * 0x9E3779B97F4A7C15ULL;
}

static uint64_t
hash_name(uint64_t parent, const char *name)
{
	return hash_str(name) ^ hash_ino(parent);
}

struct tree_inomap *
tree_inomap_new(void)
{
	struct tree_inomap *m;

	if ((m = calloc(1, sizeof *m)) == NULL)
		return NULL;
	m->nslots = INOMAP_MIN_SLOTS;
	m->keys = calloc(m->nslots, sizeof *m->keys);
	m->inos = calloc(m->nslots, sizeof *m->inos);
	m->ids = calloc(m->nslots, sizeof *m->ids);
	if (m->keys == NULL || m->inos == NULL || m->ids == NULL) {
		tree_inomap_free(m);
		return NULL;
	}
	m->next = TREE_INO_FIRST;
	return m;
}

void
tree_inomap_free(struct tree_inomap *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; m->keys != NULL && i < m->nslots; i++)
		free(m->keys[i]);
	free(m->keys);
	free(m->inos);
	free(m->ids);
	free(m);
}

static int
inomap_grow(struct tree_inomap *m)
{
	size_t n = m->nslots * 2, i, j;
	char **keys;
	uint64_t *inos, *ids;

	keys = calloc(n, sizeof *keys);
	inos = calloc(n, sizeof *inos);
	ids = calloc(n, sizeof *ids);
	if (keys == NULL || inos == NULL || ids == NULL) {
		free(keys);
		free(inos);
		free(ids);
		return -1;
	}
	for (i = 0; i < m->nslots; i++) {
		if (m->keys[i] == NULL)
			continue;
		for (j = hash_str(m->keys[i]) & (n - 1); keys[j] != NULL; j = (j + 1) & (n - 1))
			;
		keys[j] = m->keys[i];
		inos[j] = m->inos[i];
		ids[j] = m->ids[i];
	}
	free(m->keys);
	free(m->inos);
	free(m->ids);
	m->keys = keys;
	m->inos = inos;
	m->ids = ids;
	m->nslots = n;
	return 0;
}

/* The number of path key holding the value id, handing out the next one for a new
 * path or a new value at a known path; 0 on ENOMEM. */
static uint64_t
inomap_get(struct tree_inomap *m, const char *key, uint64_t id)
{
	size_t j;

	if ((m->used + 1) * 2 > m->nslots && inomap_grow(m) == -1)
		return 0;
	for (j = hash_str(key) & (m->nslots - 1); m->keys[j] != NULL;
	    j = (j + 1) & (m->nslots - 1)) {
		if (strcmp(m->keys[j], key) != 0)
			continue;
		if (m->ids[j] != id) {
			m->ids[j] = id;
			m->inos[j] = m->next++;
		}
		return m->inos[j];
	}
	if ((m->keys[j] = strdup(key)) == NULL)
		return 0;
	m->inos[j] = m->next++;
	m->ids[j] = id;
	m->used++;
	return m->inos[j];
}

static int
src_cmp(const void *a, const void *b)
{
	const struct src *x = a, *y = b;
	int c = strcmp(x->provider, y->provider);

	if (c != 0)
		return c;
	if (x->field == NULL || y->field == NULL)
		return (x->field != NULL) - (y->field != NULL);
	if ((c = strcmp(x->field, y->field)) != 0)
		return c;
	return (x->env == NULL) - (y->env == NULL);	/* the overlay first: it wins */
}

static int
special_cmp(const void *a, const void *b)
{
	const struct tree_special *x = a, *y = b;

	return strcmp(x->name, y->name);
}

/* Every path, sorted, one source each (the overlay's where both have it). */
static struct src *
gather(const struct vault *v, const struct overlay *ov, size_t *n)
{
	size_t np = v != NULL ? vault_nproviders(v) : 0, total = 0, pi, fi, i, k = 0;
	struct src *s;

	for (pi = 0; pi < np; pi++)
		total += vault_nfields(v, pi) > 0 ? vault_nfields(v, pi) : 1;
	total += ov != NULL ? ov->n : 0;
	if ((s = calloc(total + 1, sizeof *s)) == NULL)
		return NULL;
	for (pi = 0; pi < np; pi++) {
		if (vault_nfields(v, pi) == 0)
			s[k++] = (struct src){ .provider = vault_provider(v, pi) };
		for (fi = 0; fi < vault_nfields(v, pi); fi++)
			s[k++] = (struct src){ .provider = vault_provider(v, pi),
			    .field = vault_field(v, pi, fi), .pi = pi, .fi = fi,
			    .size = vault_value_len(v, pi, fi), .id = vault_value_id(v, pi, fi) };
	}
	for (i = 0; ov != NULL && i < ov->n; i++)
		s[k++] = (struct src){ .provider = ov->v[i].provider, .field = ov->v[i].field,
		    .env = ov->v[i].value, .size = ov->v[i].value->len };
	qsort(s, k, sizeof *s, src_cmp);
	/* Drop the vault's source where the overlay has the same path, and a bare
	 * provider entry once the provider has a field. */
	for (i = 0, total = 0; i < k; i++) {
		if (total > 0 && strcmp(s[total - 1].provider, s[i].provider) == 0) {
			if (s[i].field == NULL)
				continue;
			if (s[total - 1].field == NULL) {
				s[total - 1] = s[i];
				continue;
			}
			if (strcmp(s[total - 1].field, s[i].field) == 0)
				continue;
		}
		s[total++] = s[i];
	}
	*n = total;
	return s;
}

static void
attrs_for(const struct tree_attrs *a, const char *provider, uid_t *uid, gid_t *gid,
    mode_t *fmode)
{
	const struct cfg_provider *cp = NULL;

	*uid = a->uid;
	*gid = a->gid;
	*fmode = a->mode;
	if (a->cfg != NULL && provider != NULL)
		cp = cfg_provider(a->cfg, provider);
	if (cp != NULL && cp->has_owner)
		*uid = cp->owner;
	if (cp != NULL && cp->has_group)
		*gid = cp->group;
	if (cp != NULL && cp->has_mode)
		*fmode = cp->mode;
	*fmode &= 0444;		/* read-only files: no w, no x, no set-id */
}

static int
index_nodes(struct tree *t)
{
	size_t i, j;

	for (t->nslots = 16; t->nslots < t->n * 2; t->nslots *= 2)
		;
	if ((t->slots = calloc(t->nslots, sizeof *t->slots)) == NULL ||
	    (t->names = calloc(t->nslots, sizeof *t->names)) == NULL)
		return -1;
	for (i = 0; i < t->n; i++) {
		for (j = hash_ino(t->nodes[i].ino) & (t->nslots - 1); t->slots[j] != 0;
		    j = (j + 1) & (t->nslots - 1))
			;
		t->slots[j] = i + 1;
		if (i == 0)
			continue;	/* the root is nobody's child */
		for (j = hash_name(t->nodes[i].parent, t->nodes[i].name) & (t->nslots - 1);
		    t->names[j] != 0; j = (j + 1) & (t->nslots - 1))
			;
		t->names[j] = i + 1;
	}
	return 0;
}

static void
tree_free(struct tree *t)
{
	free(t->nodes);
	free(t->slots);
	free(t->names);
	free(t);
}

/* Lays out the root, the specials, the provider directories and the files. */
static int
layout(struct tree *t, struct tree_inomap *m, const struct src *s, size_t ns,
    const struct tree_special *sp, size_t nsp, const struct tree_attrs *a)
{
	size_t nprov = 0, i, p, f, d0;
	char key[PATH_KEY_MAX];
	struct tree_node *dir = NULL, *n;
	mode_t fmode;

	for (i = 0; i < ns; i++)
		if (i == 0 || strcmp(s[i - 1].provider, s[i].provider) != 0)
			nprov++;
	t->n = 1 + nsp + nprov;
	for (i = 0; i < ns; i++)
		t->n += s[i].field != NULL;
	if ((t->nodes = calloc(t->n, sizeof *t->nodes)) == NULL)
		return -1;
	t->nodes[0] = (struct tree_node){ .ino = TREE_INO_ROOT, .parent = TREE_INO_ROOT,
	    .kind = TREE_ROOT, .name = "", .uid = a->uid, .gid = a->gid,
	    .mode = S_IFDIR | 0555, .first = 1, .nchild = nsp + nprov, .nlink = 2 };
	for (i = 0; i < nsp; i++) {
		t->nodes[1 + i] = (struct tree_node){ .ino = sp[i].ino,
		    .parent = TREE_INO_ROOT, .kind = TREE_SPECIAL, .name = sp[i].name,
		    .uid = a->uid, .gid = a->gid, .mode = sp[i].mode, .special = sp[i].id,
		    .nlink = S_ISDIR(sp[i].mode) ? 2 : 1 };
		t->nodes[0].nlink += S_ISDIR(sp[i].mode) ? 1 : 0;
	}
	d0 = 1 + nsp;
	f = d0 + nprov;
	for (i = 0, p = d0; i < ns; i++) {
		if (i == 0 || strcmp(s[i - 1].provider, s[i].provider) != 0) {
			dir = &t->nodes[p++];
			attrs_for(a, s[i].provider, &dir->uid, &dir->gid, &fmode);
			dir->kind = TREE_DIR;
			dir->name = dir->provider = s[i].provider;
			dir->parent = TREE_INO_ROOT;
			dir->mode = S_IFDIR | fmode | ((fmode & 0444) >> 2);
			dir->first = f;
			dir->nlink = 2;
			if ((dir->ino = inomap_get(m, s[i].provider, 0)) == 0)
				return -1;
			t->nodes[0].nlink++;
		}
		if (s[i].field == NULL)
			continue;
		n = &t->nodes[f++];
		attrs_for(a, s[i].provider, &n->uid, &n->gid, &fmode);
		n->kind = TREE_FILE;
		n->name = s[i].field;
		n->provider = s[i].provider;
		n->parent = dir->ino;
		n->mode = S_IFREG | fmode;
		n->size = s[i].size;
		n->env = s[i].env;
		n->pi = s[i].pi;
		n->fi = s[i].fi;
		n->nlink = 1;
		dir->nchild++;
		snprintf(key, sizeof key, "%s/%s", s[i].provider, s[i].field);
		if ((n->ino = inomap_get(m, key, s[i].id)) == 0)
			return -1;
	}
	return index_nodes(t);
}

int
tree_build(struct tree_inomap *m, struct vault *v, const struct overlay *ov,
    const struct tree_special *sp, size_t nsp, const struct tree_attrs *a,
    struct tree **out, struct cs_err *e)
{
	struct tree_special *sorted = NULL;
	struct tree *t;
	struct src *s = NULL;
	size_t ns = 0, i;

	*out = NULL;
	for (i = 0; i < nsp; i++)
		if (sp[i].name[0] != '.' || sp[i].ino < 2 || sp[i].ino >= TREE_INO_FIRST)
			return cs_err_set(e, EINVAL, "special entry %s: bad name or inode",
			    sp[i].name);
	if ((t = calloc(1, sizeof *t)) == NULL ||
	    (nsp > 0 && (sorted = malloc(nsp * sizeof *sorted)) == NULL) ||
	    (s = gather(v, ov, &ns)) == NULL)
		goto nomem;
	if (nsp > 0) {
		memcpy(sorted, sp, nsp * sizeof *sorted);
		qsort(sorted, nsp, sizeof *sorted, special_cmp);
	}
	if (layout(t, m, s, ns, sorted, nsp, a) == -1)
		goto nomem;
	free(s);
	free(sorted);
	atomic_init(&t->refs, 1);
	t->v = v;
	t->generation = v != NULL ? vault_generation(v) : 0;
	t->time = a->time;
	*out = t;
	return 0;
nomem:
	free(s);
	free(sorted);
	if (t != NULL)
		tree_free(t);
	return cs_err_sys(e, ENOMEM, "building the tree");
}

struct tree *
tree_ref(struct tree *t)
{
	atomic_fetch_add(&t->refs, 1);
	return t;
}

void
tree_unref(struct tree *t)
{
	if (t == NULL || atomic_fetch_sub(&t->refs, 1) != 1)
		return;
	vault_close(t->v);
	tree_free(t);
}

const struct vault *
tree_vault(const struct tree *t)
{
	return t->v;
}

uint64_t
tree_generation(const struct tree *t)
{
	return t->generation;
}

struct timespec
tree_time(const struct tree *t)
{
	return t->time;
}

int
tree_node_version(const struct tree *t, const struct tree_node *n, uint64_t *version)
{
	if (n->kind != TREE_FILE || n->env != NULL || t->v == NULL)
		return 0;
	*version = vault_field_version(t->v, n->pi, n->fi);
	return 1;
}

struct timespec
tree_node_time(const struct tree *t, const struct tree_node *n)
{
	struct timespec ts = t->time;
	int64_t ns;

	if (n->kind == TREE_FILE && n->env == NULL && t->v != NULL &&
	    (ns = vault_field_mtime(t->v, n->pi, n->fi)) > 0) {
		ts.tv_sec = (time_t)(ns / 1000000000);
		ts.tv_nsec = (long)(ns % 1000000000);
	}
	return ts;
}

size_t
tree_count(const struct tree *t)
{
	return t->n;
}

const struct tree_node *
tree_at(const struct tree *t, size_t i)
{
	return i < t->n ? &t->nodes[i] : NULL;
}

const struct tree_node *
tree_get(const struct tree *t, uint64_t ino)
{
	size_t j;

	for (j = hash_ino(ino) & (t->nslots - 1); t->slots[j] != 0; j = (j + 1) & (t->nslots - 1))
		if (t->nodes[t->slots[j] - 1].ino == ino)
			return &t->nodes[t->slots[j] - 1];
	return NULL;
}

const struct tree_node *
tree_lookup(const struct tree *t, uint64_t parent, const char *name)
{
	const struct tree_node *n;
	size_t j;

	for (j = hash_name(parent, name) & (t->nslots - 1); t->names[j] != 0;
	    j = (j + 1) & (t->nslots - 1)) {
		n = &t->nodes[t->names[j] - 1];
		if (n->parent == parent && strcmp(n->name, name) == 0)
			return n;
	}
	return NULL;
}

const struct tree_node *
tree_child(const struct tree *t, const struct tree_node *dir, size_t i)
{
	if ((dir->kind != TREE_ROOT && dir->kind != TREE_DIR) || i >= dir->nchild)
		return NULL;
	return &t->nodes[dir->first + i];
}

int
tree_mode_allows(const struct tree_node *n, uid_t uid, int member, int want)
{
	int bits;

	if (uid == 0)
		return 1;
	if (uid == n->uid)
		bits = (n->mode >> 6) & 7;
	else if (member)
		bits = (n->mode >> 3) & 7;
	else
		bits = n->mode & 7;
	return (bits & want) == want;
}
