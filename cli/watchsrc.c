/* cli/watchsrc.c - the change sources of watch and run --restart-on-change; see
 * watchsrc.h.
 *
 * The vault source: the CLI replaces the vault by an atomic rename, so an inotify watch
 * on its folder sees IN_MOVED_TO (or IN_CLOSE_WRITE for a file written in place) under
 * its name. After a short quiet time (a burst of sets is read once) the vault is opened
 * again through vaultio_open_read, so a rolled-back or tampered vault is refused here as
 * everywhere, and compared with the vault read last (policy/vaultdiff.h, as the daemon
 * does for .events): a field whose sealed value is untouched is not decrypted, the
 * others are decrypted on both sides into guarded memory, compared in constant time and
 * wiped. So a `set` of the same value, or a rotation that re-encrypts everything and
 * changes no value, reports nothing. The last vault is kept as the daemon keeps the one
 * it serves: ciphertext, and subkeys in guarded memory. The generation is looked at
 * first: a vault whose generation has not moved was not changed by any writer, and
 * nothing is compared. A caller that hands out values from a vault it read itself (run
 * starting COMMAND) makes that vault the reference (watchsrc_rebase), so changes are
 * judged against what it handed out.
 *
 * The .events source (watchsrc_events_new) reads the mount's .events file: one JSON line
 * per change, already debounced by the daemon's reload, so a line is reported as soon as
 * it is read. An overflow line (the reader fell behind) reports every watched name, as
 * the safe answer to "something changed".
 *
 * It does not watch the key file (a rotation changes no value) and never writes. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "../base/clock.h"
#include "../crypto/file.h"
#include "../policy/vaultdiff.h"
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

struct vsrc {
	struct watchsrc		 src;		/* first: a struct watchsrc * is a struct vsrc * */
	const struct cfg	*cfg;
	struct watchsrc_name	*names;
	size_t			 nnames;
	char			*dir;		/* the vault's folder */
	const char		*base;		/* the vault's name in it */
	int			 ino_fd;
	struct vault		*last;		/* the vault read last; NULL before the first */
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

/* Whether a name is watched: every name when none was given, else a listed provider's
 * fields and the listed fields. */
static int
name_watched(const struct watchsrc_name *names, size_t n, const char *provider,
    const char *field)
{
	size_t i;

	if (n == 0)
		return 1;
	for (i = 0; i < n; i++)
		if (strcmp(names[i].provider, provider) == 0 &&
		    (names[i].field[0] == '\0' || strcmp(names[i].field, field) == 0))
			return 1;
	return 0;
}

/* --- the vault source --- */

/* What a diff's callbacks need: the source (its names) and the changes gathered. */
struct collecting {
	const struct vsrc	*s;
	struct watchsrc_changes	*ch;
};

static int
watched(void *arg, const char *provider, const char *field)
{
	const struct collecting *c = arg;

	return name_watched(c->s->names, c->s->nnames, provider, field);
}

static int
changed(void *arg, const struct vaultdiff_change *d)
{
	const struct collecting *c = arg;

	return add_change(c->ch, d->provider, d->field) == -1 ? ENOMEM : 0;
}

/* Opens the vault again and fills ch with the watched fields that were added, removed
 * or changed since the last read; the new vault becomes the reference. */
static int
collect(struct vsrc *s, struct watchsrc_changes *ch, struct cs_err *e)
{
	struct collecting cl = { s, ch };
	struct key *k = NULL;
	struct vault *v = NULL;
	int rc;

	memset(ch, 0, sizeof *ch);
	if (vaultio_open_read(s->cfg, &k, &v, e) == -1)
		return -1;
	ch->generation = vault_generation(v);
	if (s->last != NULL && vault_generation(v) == vault_generation(s->last)) {
		vaultio_close(-1, k, v);	/* no writer saved it: a touch, a rename back */
		return 0;
	}
	if ((rc = vaultdiff(s->last, v, watched, changed, &cl, e)) != 0) {
		if (rc > 0)
			cs_err_sys(e, rc, "watch");
		watchsrc_changes_free(ch);
		vaultio_close(-1, k, v);
		return -1;
	}
	vault_close(s->last);
	s->last = v;
	vaultio_close(-1, k, NULL);
	return 0;
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
	vault_close(s->last);
	free(s->names);
	free(s->dir);
	free(s);
}

static const struct watchsrc_ops vault_ops = {
	vsrc_fd, vsrc_timeout, vsrc_step, vsrc_free
};

void
watchsrc_rebase(struct watchsrc *w, struct vault *v)
{
	struct vsrc *s = (struct vsrc *)w;

	assert(w->ops == &vault_ops);
	/* An event pending (a save the caller's read may have missed) still runs collect(),
	 * which diffs against v: the generation alone settles a save v already holds. */
	vault_close(s->last);
	s->last = v;
}

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
	    (s->dir = strdup(c->vault_path)) == NULL) {
		cs_err_sys(e, ENOMEM, "watch");
		goto fail;
	}
	if (n > 0)
		memcpy(s->names, names, n * sizeof *names);
	s->nnames = n;
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
	/* The reference: the vault as it is now. */
	if (collect(s, &ch, e) == -1)
		goto fail;
	watchsrc_changes_free(&ch);
	*out = &s->src;
	return 0;
fail:
	vsrc_free(&s->src);
	return -1;
}

/* --- the .events source --- */

#define EVENTS_LINE_BUF	4096	/* a longer line is no line the daemon writes */

struct esrc {
	struct watchsrc		 src;		/* first: a struct watchsrc * is a struct esrc * */
	struct watchsrc_name	*names;
	size_t			 nnames;
	char			*path;		/* DIR/.events, for messages */
	int			 fd;
	char			 buf[EVENTS_LINE_BUF];	/* a line not yet ended */
	size_t			 len;
	int			 skipping;	/* the rest of a line too long to keep */
};

static int
esrc_fd(const struct watchsrc *w)
{
	return ((const struct esrc *)w)->fd;
}

static int
esrc_timeout(const struct watchsrc *w)
{
	(void)w;
	return -1;	/* the daemon debounced: a line is reported when read */
}

/* Appends a copy of name to ch. */
static int
add_name(struct watchsrc_changes *ch, const char *name)
{
	char *s, **names;

	if ((s = strdup(name)) == NULL)
		return -1;
	if ((names = realloc(ch->names, (ch->n + 1) * sizeof *names)) == NULL) {
		free(s);
		return -1;
	}
	ch->names = names;
	ch->names[ch->n++] = s;
	return 0;
}

/* The names an overflow line reports: every watched name (a provider by its name
 * alone), or "*" when every field is watched: the reader fell behind and cannot tell
 * which changed. */
static int
add_all(struct esrc *s, struct watchsrc_changes *ch)
{
	size_t i;

	if (s->nnames == 0)
		return add_name(ch, "*");
	for (i = 0; i < s->nnames; i++)
		if ((s->names[i].field[0] == '\0' ? add_name(ch, s->names[i].provider) :
		    add_change(ch, s->names[i].provider, s->names[i].field)) == -1)
			return -1;
	return 0;
}

/* One line of .events: a watched secret_* adds its name; overflow adds every watched
 * name; key_rotated and what is not understood add nothing. */
static int
esrc_line(struct esrc *s, const char *line, size_t len, struct watchsrc_changes *ch)
{
	json_t *o;
	const char *event = NULL, *provider = NULL, *field = NULL;
	json_int_t gen = 0;
	int rc = 0;

	if ((o = json_loadb(line, len, 0, NULL)) == NULL)
		return 0;
	if (json_unpack(o, "{s:s, s?:s, s?:s, s?:I}", "event", &event, "provider", &provider,
	    "field", &field, "generation", &gen) == 0) {
		if (gen > 0 && (uint64_t)gen > ch->generation)
			ch->generation = (uint64_t)gen;
		if (strcmp(event, "overflow") == 0)
			rc = add_all(s, ch);
		else if (strncmp(event, "secret_", 7) == 0 && provider != NULL &&
		    field != NULL && name_watched(s->names, s->nnames, provider, field))
			rc = add_change(ch, provider, field);
	}
	json_decref(o);
	return rc;
}

static int
esrc_step(struct watchsrc *w, struct watchsrc_changes *ch, struct cs_err *e)
{
	struct esrc *s = (struct esrc *)w;
	char *nl;
	size_t take;
	ssize_t n;

	memset(ch, 0, sizeof *ch);
	for (;;) {
		n = read(s->fd, s->buf + s->len, sizeof s->buf - s->len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			break;
		if (n <= 0) {
			watchsrc_changes_free(ch);
			/* EOF: the daemon ended the session; the others: the mount is gone */
			if (n == 0 || errno == ENOTCONN || errno == ECONNABORTED ||
			    errno == ENODEV)
				return cs_err_set(e, ENOTCONN, "%s: the daemon stopped serving it",
				    s->path);
			return cs_err_sys(e, errno, "%s", s->path);
		}
		s->len += (size_t)n;
		while ((nl = memchr(s->buf, '\n', s->len)) != NULL) {
			take = (size_t)(nl - s->buf) + 1;
			if (!s->skipping && esrc_line(s, s->buf, take - 1, ch) == -1) {
				watchsrc_changes_free(ch);
				return cs_err_sys(e, ENOMEM, "watch");
			}
			s->skipping = 0;
			memmove(s->buf, s->buf + take, s->len - take);
			s->len -= take;
		}
		if (s->len == sizeof s->buf) {
			s->skipping = 1;	/* not a line the daemon writes: dropped */
			s->len = 0;
		}
	}
	return ch->n > 0 ? 1 : 0;
}

static void
esrc_free(struct watchsrc *w)
{
	struct esrc *s = (struct esrc *)w;

	if (s->fd != -1)
		close(s->fd);
	free(s->names);
	free(s->path);
	free(s);
}

static const struct watchsrc_ops events_ops = {
	esrc_fd, esrc_timeout, esrc_step, esrc_free
};

int
watchsrc_events_new(const char *mount, const struct watchsrc_name *names, size_t n,
    struct watchsrc **out, struct cs_err *e)
{
	struct esrc *s;

	*out = NULL;
	if ((s = calloc(1, sizeof *s)) == NULL)
		return cs_err_sys(e, ENOMEM, "watch");
	s->src.ops = &events_ops;
	s->fd = -1;
	if (asprintf(&s->path, "%s/.events", mount) == -1) {
		s->path = NULL;
		cs_err_sys(e, ENOMEM, "watch");
		goto fail;
	}
	if (n > 0 && (s->names = calloc(n, sizeof *names)) == NULL) {
		cs_err_sys(e, ENOMEM, "watch");
		goto fail;
	}
	if (n > 0)
		memcpy(s->names, names, n * sizeof *names);
	s->nnames = n;
	if ((s->fd = open(s->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1) {
		cs_err_sys(e, errno, "%s: cannot open (is a comfysecretsfs mount there?)",
		    s->path);
		goto fail;
	}
	*out = &s->src;
	return 0;
fail:
	esrc_free(&s->src);
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
