/* cli/cmd_import.c - comfysecrets import FILE: many values at once, all or nothing.
 *
 * FILE is .json ({"provider": {"field": "value"}}) or .env (COMFYVN_SECRET_<P>_<F>=value
 * lines, read the way the daemon reads its environment: policy/envname.c). The file's
 * bytes are read into guarded memory; while the JSON is parsed, jansson allocates from
 * sodium_malloc too, so the values are wiped when the parse tree is freed. Every entry is
 * checked before the vault is touched, then all are written in one save. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "../crypto/store.h"
#include "../policy/envname.h"
#include "cli.h"

#define IMPORT_FILE_MAX	(64u << 20)	/* bytes of an import file */
#define IMPORT_ITEMS_MAX	100000	/* entries in one import */

struct item {
	char		 provider[VAULT_NAME_MAX + 1];
	char		 field[VAULT_NAME_MAX + 1];
	struct secret	*value;
	size_t		 line;		/* .env line, 0 for JSON */
};

struct items {
	struct item	*v;
	size_t		 n, cap;
};

static void
items_free(struct items *it)
{
	size_t i;

	for (i = 0; i < it->n; i++)
		secret_free(it->v[i].value);
	free(it->v);
	it->v = NULL;
	it->n = it->cap = 0;
}

/* Adds a copy of the value; a second entry for the same path is an error. */
static int
items_add(struct items *it, const char *file, const char *p, const char *f,
    const void *val, size_t len, size_t line, struct cs_err *e)
{
	struct item *n;
	size_t i;

	for (i = 0; i < it->n; i++)
		if (strcmp(it->v[i].provider, p) == 0 && strcmp(it->v[i].field, f) == 0)
			return cs_err_set(e, EINVAL, "%s:%zu: %s/%s given twice (line %zu)",
			    file, line, p, f, it->v[i].line);
	if (it->n == IMPORT_ITEMS_MAX)
		return cs_err_set(e, EFBIG, "%s: more than %u entries", file, IMPORT_ITEMS_MAX);
	if (it->n == it->cap) {
		it->cap = it->cap ? it->cap * 2 : 16;
		if ((n = realloc(it->v, it->cap * sizeof *n)) == NULL)
			return cs_err_sys(e, ENOMEM, "%s", file);
		it->v = n;
	}
	n = &it->v[it->n];
	snprintf(n->provider, sizeof n->provider, "%s", p);
	snprintf(n->field, sizeof n->field, "%s", f);
	n->line = line;
	if ((n->value = secret_dup(val, len)) == NULL)
		return cs_err_sys(e, ENOMEM, "%s", file);
	it->n++;
	return 0;
}

static int
parse_json(const char *file, const struct secret *text, struct items *it, struct cs_err *e)
{
	json_error_t jerr;
	json_t *root, *fields, *val;
	json_malloc_t saved_malloc;
	json_free_t saved_free;
	const char *p, *f;
	size_t plen, flen;
	int rc = -1;

	json_get_alloc_funcs(&saved_malloc, &saved_free);
	json_set_alloc_funcs(sodium_malloc, sodium_free);
	root = json_loadb((const char *)text->buf, text->len, JSON_REJECT_DUPLICATES |
	    JSON_ALLOW_NUL, &jerr);
	if (root == NULL) {
		/* jansson's text may quote the input near the error: keep only the place. */
		cs_err_set(e, EINVAL, "%s:%d:%d: not valid JSON", file, jerr.line, jerr.column);
		goto out;
	}
	if (!json_is_object(root)) {
		cs_err_set(e, EINVAL, "%s: expected an object of providers", file);
		goto out;
	}
	json_object_keylen_foreach(root, p, plen, fields) {
		if (plen != strlen(p)) {
			cs_err_set(e, EINVAL, "%s: a provider name holds a NUL byte", file);
			goto out;
		}
		if (vault_name_check(p, "provider", e) == -1)
			goto out;
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
			if (vault_name_check(f, "field", e) == -1)
				goto out;
			if (!json_is_string(val)) {
				cs_err_set(e, EINVAL, "%s: %s/%s: the value must be a string",
				    file, p, f);
				goto out;
			}
			if (items_add(it, file, p, f, json_string_value(val),
			    json_string_length(val), 0, e) == -1)
				goto out;
		}
	}
	rc = 0;
out:
	json_decref(root);
	json_set_alloc_funcs(saved_malloc, saved_free);
	return rc;
}

static int
parse_env(const char *file, const struct secret *text, struct items *it, struct cs_err *e)
{
	const char *s = (const char *)text->buf, *end = s + text->len, *nl, *eq, *v, *ve;
	char p[VAULT_NAME_MAX + 1], f[VAULT_NAME_MAX + 1];
	size_t line = 0;
	struct cs_err ne = { 0 };

	for (; s < end; s = nl + 1) {
		line++;
		if ((nl = memchr(s, '\n', (size_t)(end - s))) == NULL)
			nl = end;
		ve = nl;
		if (ve > s && ve[-1] == '\r')
			ve--;
		while (s < ve && (*s == ' ' || *s == '\t'))
			s++;
		if (s == ve || *s == '#')
			continue;
		if ((size_t)(ve - s) > 7 && memcmp(s, "export ", 7) == 0)
			s += 7;
		if ((eq = memchr(s, '=', (size_t)(ve - s))) == NULL)
			return cs_err_set(e, EINVAL, "%s:%zu: expected NAME=value", file, line);
		if (envname_split(s, (size_t)(eq - s), p, f, &ne) == -1)
			return cs_err_set(e, EINVAL, "%s:%zu: %s", file, line, ne.msg);
		v = eq + 1;
		if (ve - v >= 2 && (*v == '"' || *v == '\'') && ve[-1] == *v) {
			v++;
			ve--;
		}
		if (items_add(it, file, p, f, v, (size_t)(ve - v), line, e) == -1)
			return -1;
	}
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

/* One audit line per provider, naming the fields written. */
static int
audit_items(struct cli *c, const struct items *it, const char *fpr, struct cs_err *e)
{
	const char **keys;
	struct audit_event ev = { 0 };
	size_t i, j, n;
	int rc = 0;

	if ((keys = calloc(it->n + 1, sizeof *keys)) == NULL)
		return cs_err_sys(e, ENOMEM, "import");
	for (i = 0; i < it->n && rc == 0; i++) {
		for (j = 0; j < i; j++)
			if (strcmp(it->v[j].provider, it->v[i].provider) == 0)
				break;
		if (j < i)
			continue;	/* this provider was audited already */
		for (n = 0, j = i; j < it->n; j++)
			if (strcmp(it->v[j].provider, it->v[i].provider) == 0)
				keys[n++] = it->v[j].field;
		memset(&ev, 0, sizeof ev);
		ev.event = "secret_written";
		ev.provider = it->v[i].provider;
		ev.keys = keys;
		ev.nkeys = n;
		ev.fingerprint = fpr;
		rc = cli_audit(c, &ev, e);
	}
	free(keys);
	return rc;
}

int
cmd_import(struct cli *c, int argc, char **argv)
{
	struct cs_err e = { 0 };
	struct secret *text = NULL;
	struct items it = { 0 };
	struct key *k = NULL;
	struct vault *v = NULL;
	const char *file;
	size_t i;
	int lockfd = -1, rc = EXIT_FAIL;

	if (argc == 2 && strcmp(argv[1], "--help") == 0)
		return cli_help("import");
	if (argc != 2 || argv[1][0] == '-')
		return cli_usage("import", "needs one FILE (.json or .env)");
	file = argv[1];
	if (!ends_with(file, ".json") && !ends_with(file, ".env"))
		return cli_usage("import", "FILE must end in .json or .env");
	if (read_file(file, &text, &e) == -1)
		goto out;
	if ((ends_with(file, ".json") ? parse_json(file, text, &it, &e) :
	    parse_env(file, text, &it, &e)) == -1)
		goto out;
	secret_free(text);
	text = NULL;
	if (it.n == 0) {
		cs_err_set(&e, EINVAL, "%s: no entries to import", file);
		goto out;
	}
	if (cli_open_write(c, &lockfd, &k, &v, &e) == -1)
		goto out;
	for (i = 0; i < it.n; i++)
		if (vault_put(v, it.v[i].provider, it.v[i].field, it.v[i].value,
		    c->cfg->max_value_size, &e) == -1)
			goto out;
	if (cli_save(c, v, &e) == -1)
		goto out;
	vault_unlock(lockfd);
	lockfd = -1;
	printf("imported %zu value%s from %s\n", it.n, it.n == 1 ? "" : "s", file);
	if (audit_items(c, &it, k->fpr, &e) == -1)
		goto out;
	rc = EXIT_OK;
out:
	secret_free(text);
	items_free(&it);
	cli_close(lockfd, k, v);
	return rc == EXIT_OK ? rc : cli_fail(&e);
}
