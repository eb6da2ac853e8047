/* cli/watchsrc.c - the change sources of watch and run --restart-on-change; see
 * watchsrc.h.
 *
 * The vault source: the CLI replaces the vault by an atomic rename, so an inotify watch
 * on its folder sees IN_MOVED_TO (or IN_CLOSE_WRITE for a file written in place) under
 * its name. After a short quiet time (a burst of sets is read once) the vault is opened
 * again through vaultio_open_read, so a rolled-back or tampered vault is refused here as
 * everywhere, and each watched field is decrypted and hashed at once with a keyed
 * BLAKE2b (crypto_generichash) whose key is random per process and lives in guarded
 * memory, no-access between uses. The hashes are compared with the last ones: a `set`
 * of the same value, or a rotation that re-encrypts everything and changes no value,
 * changes no hash and reports nothing. No value is kept: each is wiped as soon as it is
 * hashed, and the hashes, under a key that dies with the process, tell nothing about a
 * value. The generation is looked at first: a vault whose generation has not moved was
 * not changed by any writer, and nothing is decrypted.
 *
 * It does not watch the key file (a rotation changes no value) and never writes. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "../base/clock.h"
#include "../crypto/file.h"
#include "../policy/vaultio.h"
#include "watchsrc.h"

#define WATCH_DEBOUNCE_MS	50	/* quiet time after the last event before reading */
#define WATCH_MAX_DELAY_MS	300	/* read at most this long after the first event */
#define WATCH_RETRY_MS		100	/* a rotation half-way: its key lands just after */
#define WATCH_RETRIES		10
#define WATCH_MASK		(IN_MOVED_TO | IN_CLOSE_WRITE)

struct watchsrc_ops {
	int	(*fd)(const struct watchsrc *);
	int	(*timeout)(const struct watchsrc *);
	int	(*step)(struct watchsrc *, struct watchsrc_changes *, struct cs_err *);
	void	(*free)(struct watchsrc *);
};

struct watchsrc {
	const struct watchsrc_ops	*ops;
};

/* One watched field as last read. */
struct seen {
	char		provider[VAULT_NAME_MAX + 1];
	char		field[VAULT_NAME_MAX + 1];
	unsigned char	hash[crypto_generichash_BYTES];
};

struct vsrc {
	struct watchsrc		 src;		/* first: a struct watchsrc * is a struct vsrc * */
	const struct cfg	*cfg;
	struct watchsrc_name	*names;
	size_t			 nnames;
	char			*dir;		/* the vault's folder */
	const char		*base;		/* the vault's name in it */
	int			 ino_fd;
	unsigned char		*hkey;		/* sodium_malloc'd; no access between uses */
	struct seen		*seen;		/* in (provider, field) order */
	size_t			 nseen;
	uint64_t		 generation;	/* of the vault seen */
	int64_t			 due, first;	/* ms (CLOCK_MONOTONIC); -1: none */
	int			 tries;
};

int
watchsrc_name_parse(const char *arg, struct watchsrc_name *out, struct cs_err *e)
{
	const char *slash = strchr(arg, '/');
	size_t plen = slash != NULL ? (size_t)(slash - arg) : strlen(arg);
	char shown[CS_SHOW_BUF(CS_SHOW_MAX)];

	memset(out, 0, sizeof *out);
	if (plen > VAULT_NAME_MAX || (slash != NULL && strlen(slash + 1) > VAULT_NAME_MAX)) {
		cs_show(arg, strlen(arg), CS_SHOW_MAX, shown, sizeof shown);
		return cs_err_set(e, EINVAL, "\"%s\": not PROVIDER or PROVIDER/FIELD (a name "
		    "is longer than %d bytes)", shown, VAULT_NAME_MAX);
	}
	memcpy(out->provider, arg, plen);
	if (vault_name_check(out->provider, "provider", e) == -1)
		return -1;
	if (slash != NULL) {
		memcpy(out->field, slash + 1, strlen(slash + 1));
		if (vault_name_check(out->field, "field", e) == -1)
			return -1;
	}
	return 0;
}

void
watchsrc_changes_free(struct watchsrc_changes *ch)
{
	size_t i;

	for (i = 0; i < ch->n; i++)
		free(ch->names[i]);
	free(ch->names);
	memset(ch, 0, sizeof *ch);
}

static int
add_change(struct watchsrc_changes *ch, const char *provider, const char *field)
{
	char **names, *s;

	if (asprintf(&s, "%s/%s", provider, field) == -1)
		return -1;
	if ((names = realloc(ch->names, (ch->n + 1) * sizeof *names)) == NULL) {
		free(s);
		return -1;
	}
	ch->names = names;
	ch->names[ch->n++] = s;
	return 0;
}

/* --- the vault source --- */

static int
watched(const struct vsrc *s, const char *provider, const char *field)
{
	size_t i;

	if (s->nnames == 0)
		return 1;
	for (i = 0; i < s->nnames; i++)
		if (strcmp(s->names[i].provider, provider) == 0 &&
		    (s->names[i].field[0] == '\0' || strcmp(s->names[i].field, field) == 0))
			return 1;
	return 0;
}

/* Hashes every watched field of v into a new array, in the vault's (name) order. */
static int
hash_fields(struct vsrc *s, const struct vault *v, struct seen **out, size_t *nout,
    struct cs_err *e)
{
	struct seen *seen = NULL, *grown;
	struct secret *val = NULL;
	size_t pi, fi, n = 0;
	const char *p, *f;
	int rc = -1;

	if (sodium_mprotect_readonly(s->hkey) != 0)
		return cs_err_sys(e, errno, "watch: hash key");
	for (pi = 0; pi < vault_nproviders(v); pi++) {
		p = vault_provider(v, pi);
		for (fi = 0; fi < vault_nfields(v, pi); fi++) {
			f = vault_field(v, pi, fi);
			if (!watched(s, p, f))
				continue;
			if ((grown = realloc(seen, (n + 1) * sizeof *seen)) == NULL) {
				cs_err_sys(e, ENOMEM, "watch");
				goto out;
			}
			seen = grown;
			memset(&seen[n], 0, sizeof seen[n]);
			snprintf(seen[n].provider, sizeof seen[n].provider, "%s", p);
			snprintf(seen[n].field, sizeof seen[n].field, "%s", f);
			if (vault_reveal_at(v, pi, fi, &val, e) == -1)
				goto out;
			crypto_generichash(seen[n].hash, sizeof seen[n].hash, val->buf, val->len,
			    s->hkey, crypto_generichash_KEYBYTES);
			secret_free(val);	/* wiped now: only the hash is kept */
			val = NULL;
			n++;
		}
	}
	*out = seen;
	*nout = n;
	seen = NULL;
	rc = 0;
out:
	(void)sodium_mprotect_noaccess(s->hkey);
	secret_free(val);
	free(seen);
	return rc;
}

static int
seen_cmp(const struct seen *a, const struct seen *b)
{
	int c = strcmp(a->provider, b->provider);

	return c != 0 ? c : strcmp(a->field, b->field);
}

/* Opens the vault again and fills ch with the watched fields that were added, removed
 * or changed since the last read; the new hashes become the reference. */
static int
collect(struct vsrc *s, struct watchsrc_changes *ch, struct cs_err *e)
{
	struct key *k = NULL;
	struct vault *v = NULL;
	struct seen *seen = NULL;
	size_t n = 0, i = 0, j = 0;
	int c, rc = -1;

	memset(ch, 0, sizeof *ch);
	if (vaultio_open_read(s->cfg, &k, &v, e) == -1)
		return -1;
	ch->generation = vault_generation(v);
	if (vault_generation(v) == s->generation) {
		rc = 0;		/* no writer saved it: a touch, a rename back */
		goto out;
	}
	if (hash_fields(s, v, &seen, &n, e) == -1)
		goto out;
	while (i < s->nseen || j < n) {
		c = i == s->nseen ? 1 : j == n ? -1 : seen_cmp(&s->seen[i], &seen[j]);
		if (c < 0 && add_change(ch, s->seen[i].provider, s->seen[i].field) == -1)
			goto nomem;
		if (c > 0 && add_change(ch, seen[j].provider, seen[j].field) == -1)
			goto nomem;
		if (c == 0 && sodium_memcmp(s->seen[i].hash, seen[j].hash,
		    sizeof seen[j].hash) != 0 &&
		    add_change(ch, seen[j].provider, seen[j].field) == -1)
			goto nomem;
		i += c <= 0;
		j += c >= 0;
	}
	free(s->seen);
	s->seen = seen;
	s->nseen = n;
	seen = NULL;
	s->generation = vault_generation(v);
	rc = 0;
	goto out;
nomem:
	cs_err_sys(e, ENOMEM, "watch");
	watchsrc_changes_free(ch);
out:
	free(seen);
	vaultio_close(-1, k, v);
	return rc;
}

static int
vsrc_fd(const struct watchsrc *w)
{
	return ((const struct vsrc *)w)->ino_fd;
}

static int
vsrc_timeout(const struct watchsrc *w)
{
	const struct vsrc *s = (const struct vsrc *)w;
	int64_t left;

	if (s->due < 0)
		return -1;
	left = s->due - cs_now_ms();
	return left < 0 ? 0 : (int)left;
}

static int
vsrc_step(struct watchsrc *w, struct watchsrc_changes *ch, struct cs_err *e)
{
	struct vsrc *s = (struct vsrc *)w;
	struct cs_err ce = { 0 };
	int64_t now = cs_now_ms();

	memset(ch, 0, sizeof *ch);
	if (file_inotify_names(s->ino_fd, s->base)) {
		if (s->first < 0)
			s->first = now;
		s->due = now + WATCH_DEBOUNCE_MS;
		if (s->due > s->first + WATCH_MAX_DELAY_MS)
			s->due = s->first + WATCH_MAX_DELAY_MS;
		s->tries = 0;
	}
	if (s->due < 0 || now < s->due)
		return 0;
	if (collect(s, ch, &ce) == -1) {
		/* A rollback or a vault that verifies under no key is not retried; what may
		 * be a writer half-way (a rotation's key not yet renamed) is. */
		if (ce.code != ESTALE && ce.code != EBADMSG && ++s->tries <= WATCH_RETRIES) {
			s->due = cs_now_ms() + WATCH_RETRY_MS;
			return 0;
		}
		s->due = s->first = -1;
		s->tries = 0;
		return cs_err_set(e, ce.code, "%s", ce.msg);
	}
	s->due = s->first = -1;
	s->tries = 0;
	if (ch->n == 0) {
		watchsrc_changes_free(ch);
		return 0;
	}
	return 1;
}

static void
vsrc_free(struct watchsrc *w)
{
	struct vsrc *s = (struct vsrc *)w;

	if (s->ino_fd != -1)
		close(s->ino_fd);
	if (s->hkey != NULL)
		sodium_free(s->hkey);
	free(s->seen);
	free(s->names);
	free(s->dir);
	free(s);
}

static const struct watchsrc_ops vault_ops = {
	vsrc_fd, vsrc_timeout, vsrc_step, vsrc_free
};

int
watchsrc_vault_new(const struct cfg *c, const struct watchsrc_name *names, size_t n,
    struct watchsrc **out, struct cs_err *e)
{
	struct watchsrc_changes ch = { 0 };
	struct vsrc *s;
	char *slash;

	*out = NULL;
	if ((s = calloc(1, sizeof *s)) == NULL)
		return cs_err_sys(e, ENOMEM, "watch");
	s->src.ops = &vault_ops;
	s->cfg = c;
	s->ino_fd = -1;
	s->due = s->first = -1;
	if ((n > 0 && (s->names = calloc(n, sizeof *names)) == NULL) ||
	    (s->dir = strdup(c->vault_path)) == NULL ||
	    (s->hkey = sodium_malloc(crypto_generichash_KEYBYTES)) == NULL) {
		cs_err_sys(e, ENOMEM, "watch");
		goto fail;
	}
	if (n > 0)
		memcpy(s->names, names, n * sizeof *names);
	s->nnames = n;
	randombytes_buf(s->hkey, crypto_generichash_KEYBYTES);
	(void)sodium_mprotect_noaccess(s->hkey);
	/* The folder: "dir/name" -> "dir", "/name" -> "/", "name" -> ".". */
	if ((slash = strrchr(s->dir, '/')) == NULL) {
		s->base = c->vault_path;
		strcpy(s->dir, ".");	/* the path has at least one byte: "." fits */
	} else {
		s->base = c->vault_path + (slash - s->dir) + 1;
		slash[slash == s->dir] = '\0';
	}
	if (s->base[0] == '\0') {
		cs_err_set(e, EINVAL, "%s: not a file path", c->vault_path);
		goto fail;
	}
	if ((s->ino_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK)) == -1) {
		cs_err_sys(e, errno, "watch: inotify");
		goto fail;
	}
	if (inotify_add_watch(s->ino_fd, s->dir, WATCH_MASK | IN_ONLYDIR) == -1) {
		cs_err_sys(e, errno, "%s: cannot watch the vault's folder", s->dir);
		goto fail;
	}
	/* The reference: every watched field as it is now (generation 0 is never a saved
	 * vault's, so the first read hashes). */
	if (collect(s, &ch, e) == -1)
		goto fail;
	watchsrc_changes_free(&ch);
	*out = &s->src;
	return 0;
fail:
	vsrc_free(&s->src);
	return -1;
}

int
watchsrc_fd(const struct watchsrc *w)
{
	return w->ops->fd(w);
}

int
watchsrc_timeout(const struct watchsrc *w)
{
	return w->ops->timeout(w);
}

int
watchsrc_step(struct watchsrc *w, struct watchsrc_changes *ch, struct cs_err *e)
{
	return w->ops->step(w, ch, e);
}

void
watchsrc_free(struct watchsrc *w)
{
	if (w != NULL)
		w->ops->free(w);
}
