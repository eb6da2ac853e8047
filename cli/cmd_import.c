/* cli/cmd_import.c - comfysecrets import FILE: many values at once, all or nothing.
 *
 * FILE is .json ({"provider": {"field": "value"}}) or .env (COMFYVN_SECRET_<P>_<F>=value
 * entries in Docker Compose's grammar, policy/dotenv.c, with names read the way the
 * daemon reads its environment, policy/envname.c). The file is read into one guarded
 * buffer, and every value lives in one guarded arena as well: a .env value is decoded
 * in place in the file's buffer, a JSON value is copied into an arena of the file's
 * size (decoding never makes a string longer). One sodium_malloc per value
 * would exhaust the kernel's map count at about 20 000 values. The JSON parse tree is
 * ordinary heap that jansson frees through secret_wipe_free (see cli/main.c), so the
 * values are wiped there too. Entries are sorted, duplicates refused, and all are
 * checked before the vault is touched; then all are written in one save. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "../policy/dotenv.h"
#include "../policy/envname.h"
#include "../policy/vaultio.h"
#include "cli.h"

#define IMPORT_FILE_MAX		(64u << 20)	/* bytes of an import file */
#define IMPORT_ITEMS_MAX	1000000		/* entries in one import */

struct item {
	char		 provider[VAULT_NAME_MAX + 1];
	char		 field[VAULT_NAME_MAX + 1];
	size_t		 off, len;	/* the value: bytes off..off+len of the base */
	size_t		 line;		/* .env line, 0 for JSON */
};

struct items {
	struct item		*v;
	size_t			 n, cap;
	const unsigned char	*base;	/* the file (.env) or the arena (.json) */
};

static int
items_add(struct items *it, const char *file, const char *p, const char *f, size_t off,
    size_t len, size_t line, struct cs_err *e)
{
	struct item *n;

	if (it->n == IMPORT_ITEMS_MAX)
		return cs_err_set(e, EFBIG, "%s: more than %d entries", file, IMPORT_ITEMS_MAX);
	if (it->n == it->cap) {
		it->cap = it->cap ? it->cap * 2 : 64;
		if ((n = realloc(it->v, it->cap * sizeof *n)) == NULL)
			return cs_err_sys(e, ENOMEM, "%s", file);
		it->v = n;
	}
	n = &it->v[it->n++];
	snprintf(n->provider, sizeof n->provider, "%s", p);
	snprintf(n->field, sizeof n->field, "%s", f);
	n->off = off;
	n->len = len;
	n->line = line;
	return 0;
}

static int
by_path(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	int c = strcmp(x->provider, y->provider);

	if (c != 0)
		return c;
	if ((c = strcmp(x->field, y->field)) != 0)
		return c;
	return x->line < y->line ? -1 : x->line > y->line;
}

/* Sorts by provider and field (so the vault takes them in order) and refuses a path
 * given twice, naming both lines. */
static int
items_sort(struct items *it, const char *file, struct cs_err *e)
{
	size_t i;

	qsort(it->v, it->n, sizeof *it->v, by_path);
	for (i = 1; i < it->n; i++)
		if (by_path(&it->v[i - 1], &it->v[i]) != 0 &&
		    strcmp(it->v[i - 1].provider, it->v[i].provider) == 0 &&
		    strcmp(it->v[i - 1].field, it->v[i].field) == 0)
			return cs_err_set(e, EINVAL, "%s:%zu: %s/%s given twice (line %zu)",
			    file, it->v[i].line, it->v[i].provider, it->v[i].field,
			    it->v[i - 1].line);
	return 0;
}

static int
parse_json(const char *file, const struct secret *text, struct secret *arena,
    struct items *it, struct cs_err *e)
{
	char why[CS_JSON_REASON_BUF];
	struct cs_err ne = { 0 };	/* a name's reason, put after the file's name */
	json_error_t jerr;
	json_t *root, *fields, *val;
	const char *p, *f;
	size_t plen, flen, used = 0, vlen;
	int rc = -1;

	root = json_loadb((const char *)text->buf, text->len, JSON_REJECT_DUPLICATES |
	    JSON_ALLOW_NUL, &jerr);
	if (root == NULL)
		/* jansson's text can quote the input, a secret: cs_json_reason cuts it. */
		return cs_err_set(e, EINVAL, "%s:%d:%d: not valid JSON: %s", file, jerr.line,
		    jerr.column, cs_json_reason(jerr.text, why, sizeof why));
	if (!json_is_object(root)) {
		cs_err_set(e, EINVAL, "%s: expected an object of providers", file);
		goto out;
	}
	json_object_keylen_foreach(root, p, plen, fields) {
		if (plen != strlen(p)) {
			cs_err_set(e, EINVAL, "%s: a provider name holds a NUL byte", file);
			goto out;
		}
		if (vault_name_check(p, "provider", &ne) == -1) {
			cs_err_set(e, ne.code, "%s: %s", file, ne.msg);
			goto out;
		}
		if (!json_is_object(fields)) {
			cs_err_set(e, EINVAL, "%s: provider %s: expected an object of fields",
			    file, p);
			goto out;
		}
		json_object_keylen_foreach(fields, f, flen, val) {
			if (flen != strlen(f)) {
				cs_err_set(e, EINVAL, "%s: provider %s: a field name holds a "
				    "NUL byte", file, p);
				goto out;
			}
			if (vault_name_check(f, "field", &ne) == -1) {
				cs_err_set(e, ne.code, "%s: provider %s: %s", file, p, ne.msg);
				goto out;
			}
			if (!json_is_string(val)) {
				cs_err_set(e, EINVAL, "%s: %s/%s: the value must be a string",
				    file, p, f);
				goto out;
			}
			vlen = json_string_length(val);
			if (vlen > arena->len - used) {		/* cannot happen; never overrun */
				cs_err_set(e, EINVAL, "%s: %s/%s: decoded value larger than the "
				    "file", file, p, f);
				goto out;
			}
			memcpy(arena->buf + used, json_string_value(val), vlen);
			if (items_add(it, file, p, f, used, vlen, 0, e) == -1)
				goto out;
			used += vlen;
		}
	}
	it->base = arena->buf;
	rc = 0;
out:
	json_decref(root);
	return rc;
}

struct env_ctx {
	const char	*file;
	struct items	*it;
};

/* One .env entry: its name must split into provider and field (policy/envname.c). */
static int
env_entry(void *arg, const unsigned char *buf, const struct dotenv_entry *ent,
    struct cs_err *e)
{
	struct env_ctx *x = arg;
	char p[VAULT_NAME_MAX + 1], f[VAULT_NAME_MAX + 1];
	struct cs_err ne = { 0 };

	if (envname_split((const char *)buf + ent->name_off, ent->name_len, p, f, &ne) == -1)
		return cs_err_set(e, EINVAL, "%s:%zu: %s", x->file, ent->line, ne.msg);
	/* Compose drops these blanks, and so does import; a reader could take them for
	 * part of the value, so the drop is said, never done silently. */
	if (ent->trimmed)
		fprintf(stderr, "comfysecrets: %s:%zu: note: blanks around the unquoted value "
		    "of %s/%s dropped (quote the value to keep them)\n", x->file, ent->line, p,
		    f);
	return items_add(x->it, x->file, p, f, ent->off, ent->len, ent->line, e);
}

/* The .env grammar is policy/dotenv.c; values are decoded in place, in the file's
 * guarded buffer. */
static int
parse_env(const char *file, struct secret *text, struct items *it, struct cs_err *e)
{
	struct env_ctx x = { file, it };

	if (dotenv_parse(text->buf, text->len, file, env_entry, &x, e) == -1)
		return -1;
	it->base = text->buf;
	return 0;
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int
read_file(const char *file, struct secret **text, struct cs_err *e)
{
	int fd, rc;

	if ((fd = open(file, O_RDONLY | O_CLOEXEC)) == -1)
		return cs_err_sys(e, errno, "%s", file);
	rc = secret_read_fd(fd, IMPORT_FILE_MAX, file, text, e);
	close(fd);
	return rc;
}

/* One audit line per provider, naming the fields written (the items are sorted): the
 * lines of the import (ch->arg), before it is saved (struct cli_change). */
static int
audit_items(struct cli_change *ch, struct cs_err *e)
{
	const struct items *it = ch->arg;
	const char *fpr = vault_fingerprint(ch->v);
	const char **keys;
	struct audit_event ev;
	size_t i, j;
	int rc = 0;

	if ((keys = calloc(it->n + 1, sizeof *keys)) == NULL)
		return cs_err_sys(e, ENOMEM, "import");
	for (i = 0; i < it->n && rc == 0; i = j) {
		for (j = i; j < it->n && strcmp(it->v[j].provider, it->v[i].provider) == 0; j++)
			keys[j - i] = it->v[j].field;
		memset(&ev, 0, sizeof ev);
		ev.event = "secret_written";
		ev.provider = it->v[i].provider;
		ev.keys = keys;
		ev.nkeys = j - i;
		ev.fingerprint = fpr;
		rc = cli_audit_put(ch->c, ch->a, &ev, e);
	}
	free(keys);
	return rc;
}

int
cmd_import(struct cli *c, int argc, char **argv)
{
	struct cs_err e = { 0 }, ae = { 0 };
	struct secret *text = NULL, *arena = NULL, view;
	struct items it = { 0 };
	struct key *k = NULL;
	struct vault *v = NULL;
	struct audit *a = NULL;
	struct cli_change ch;
	struct file_precommit pc;
	const char *file;
	size_t i;
	int lockfd = -1, rc = EXIT_FAIL;

	if (argc == 2 && strcmp(argv[1], "--help") == 0)
		return cli_help("import");
	/* A second operand may be a value: refused without echoing it. */
	if (argc > 2)
		return cli_usage("import", "takes one FILE and no value operand: values come "
		    "from FILE, never argv");
	if (argc != 2 || argv[1][0] == '-')
		return cli_usage("import", "needs one FILE (.json or .env)");
	file = argv[1];
	if (!ends_with(file, ".json") && !ends_with(file, ".env"))
		return cli_usage("import", "FILE must end in .json or .env");
	if (read_file(file, &text, &e) == -1)
		goto out;
	if (ends_with(file, ".json")) {
		if ((arena = secret_new(text->len)) == NULL) {
			cs_err_sys(&e, ENOMEM, "%s", file);
			goto out;
		}
		if (parse_json(file, text, arena, &it, &e) == -1)
			goto out;
	} else if (parse_env(file, text, &it, &e) == -1) {
		goto out;
	}
	if (it.n == 0) {
		cs_err_set(&e, EINVAL, "%s: no entries to import", file);
		goto out;
	}
	if (items_sort(&it, file, &e) == -1)
		goto out;
	/* A change and its lines go together: no log, no change. */
	if (cli_audit_open(c, &a, &ae) == -1) {
		cs_err_set(&e, ae.code, "%s: nothing imported: %s", file, ae.msg);
		goto out;
	}
	if (vaultio_open_write(c->cfg, &lockfd, &k, &v, &e) == -1)
		goto out;
	for (i = 0; i < it.n; i++) {
		view.buf = (unsigned char *)it.base + it.v[i].off;
		view.len = it.v[i].len;
		if (vault_put(v, it.v[i].provider, it.v[i].field, &view,
		    c->cfg->max_value_size, &e) == -1)
			goto out;
	}
	ch = (struct cli_change){ .c = c, .a = a, .what = file, .done = "imported",
	    .lines = audit_items, .arg = &it, .v = v };
	pc = (struct file_precommit){ cli_change_precommit, &ch };
	if (vaultio_save(c->cfg, v, &pc, &e) == -1) {
		cli_change_failed(&ch, &e);
		goto out;
	}
	printf("imported %zu value%s from %s\n", it.n, it.n == 1 ? "" : "s", file);
	rc = EXIT_OK;
out:
	audit_close(a);
	secret_free(arena);
	secret_free(text);
	free(it.v);
	vaultio_close(lockfd, k, v);
	return rc == EXIT_OK ? rc : cli_fail(&e);
}
