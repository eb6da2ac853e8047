/* cli/cmd_vault.c - the subcommands that read or change the vault: init, set, get, list,
 * rm, rotate, fingerprint, floor. How a writer opens and saves is policy/vaultio.c. */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "../policy/state.h"
#include "../policy/vaultio.h"
#include "cli.h"

/* For commands with no options of their own: handles --help. Returns the index of the
 * first operand, or -1 with *rc set (help shown, or a usage error). */
static int
opts(const char *cmd, int argc, char **argv, int *rc)
{
	static const struct option lo[] = {
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 }
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "+h", lo, NULL)) != -1) {
		*rc = ch == 'h' ? cli_help(cmd) : cli_usage(cmd, NULL);
		return -1;
	}
	return optind;
}

static int
mkparents(const char *path, struct cs_err *e)
{
	char buf[PATH_MAX], *p;

	if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
		return cs_err_set(e, ENAMETOOLONG, "%s: path too long", path);
	for (p = buf + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(buf, 0700) == -1 && errno != EEXIST)
			return cs_err_sys(e, errno, "%s: cannot create folder", buf);
		*p = '/';
	}
	return 0;
}

int
cmd_init(struct cli *c, int argc, char **argv)
{
	const char *vp = c->cfg->vault_path, *kp = c->cfg->key_file;
	struct cs_err e = { 0 };
	struct key *k = NULL;
	struct vault *v = NULL;
	const char *env = getenv(KEY_ENV);
	char mac[VAULT_MAC_HEX + 1];
	int from_env = env != NULL && env[0] != '\0';
	int i, rc = EXIT_FAIL;

	if ((i = opts("init", argc, argv, &rc)) == -1)
		return rc;
	if (i != argc)
		return cli_usage("init", "takes no operands");
	/* Check both first, so a refusal leaves nothing half-made. */
	if (access(vp, F_OK) == 0)
		return cs_err_set(&e, EEXIST, "%s: a vault exists already; refusing to "
		    "overwrite it", vp), cli_fail(&e);
	if (!from_env && access(kp, F_OK) == 0)
		return cs_err_set(&e, EEXIST, "%s: a key file exists already; refusing to "
		    "overwrite it", kp), cli_fail(&e);
	/* The audit log's folder too: the first set appends to the log. */
	if (mkparents(vp, &e) == -1 || (!from_env && mkparents(kp, &e) == -1) ||
	    mkparents(c->cfg->audit_path, &e) == -1)
		return cli_fail(&e);
	if (from_env) {
		if (key_parse(env, strlen(env), KEY_ENV, &k, &e) == -1)
			goto out;
	} else if (key_generate(&k, &e) == -1 || key_write_file(kp, k, 1, &e) == -1) {
		goto out;
	}
	if (vault_new(k, &v, &e) == -1 || vault_save(v, vp, 1, &e) == -1)
		goto out;
	/* A new vault is the floor, whatever an earlier vault at this path left. */
	vault_mac_hex(v, mac);
	if (state_reset_floor(c->cfg->state_dir, vp, vault_generation(v), mac, NULL, &e) == -1)
		goto out;
	printf("created %s (key %s%s)\n", vp, k->fpr, from_env ? ", from " KEY_ENV : "");
	if (!from_env)
		printf("created %s (mode 0600): keep it secret, keep a copy offline\n", kp);
	rc = EXIT_OK;
out:
	vault_close(v);
	key_free(k);
	return rc == EXIT_OK ? rc : cli_fail(&e);
}

/* Checks the PROVIDER [FIELD] operands from argv[i]: -2 for a wrong count. */
static int
name_args(int argc, char **argv, int i, int min, int max, struct cs_err *e)
{
	int n = argc - i;

	if (n < min || n > max)
		return -2;
	if (vault_name_check(argv[i], "provider", e) == -1)
		return -1;
	if (n == 2 && vault_name_check(argv[i + 1], "field", e) == -1)
		return -1;
	return 0;
}

/* Saves v (under the vault lock the caller holds) with ev's line written first
 * (struct cli_change): no line, no change. 0, or -1 with e saying what was done. */
static int
save_change(struct cli *c, struct audit *a, struct audit_event *ev, struct vault *v,
    const char *what, const char *done, struct cs_err *e)
{
	struct cli_change ch = { .c = c, .a = a, .what = what, .done = done, .ev = ev,
	    .v = v };
	struct file_precommit pc = { cli_change_precommit, &ch };

	if (vaultio_save(c->cfg, v, &pc, e) == 0)
		return 0;
	cli_change_failed(&ch, e);
	return -1;
}

int
cmd_set(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "raw", no_argument, NULL, 'r' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct cs_err e = { 0 }, ae = { 0 };
	struct secret *val = NULL;
	struct key *k = NULL;
	struct vault *v = NULL;
	struct audit *a = NULL;
	struct audit_event ev = { 0 };
	char what[2 * VAULT_NAME_MAX + 2];
	int raw = 0, i, ch, lockfd = -1, rc = EXIT_FAIL;

	while ((ch = getopt_long(argc, argv, "+h", lo, NULL)) != -1) {
		if (ch == 'r')
			raw = 1;
		else if (ch == 'h')
			return cli_help("set");
		else
			return cli_usage("set", NULL);
	}
	i = optind;
	/* A third operand is most likely the value itself: say why it is refused, and
	 * never echo it. */
	if (argc - i > 2)
		return cli_usage("set", "takes no value operand: the value comes on stdin, "
		    "never argv");
	if ((ch = name_args(argc, argv, i, 2, 2, &e)) == -2)
		return cli_usage("set", "needs PROVIDER and FIELD (the value comes on stdin)");
	if (ch == -1)
		return cli_fail(&e);
	snprintf(what, sizeof what, "%s/%s", argv[i], argv[i + 1]);
	/* Read the value before taking the lock: a slow typist must not block writers. */
	if (cli_read_value(what, c->cfg->max_value_size, raw, &val, &e) == -1)
		goto out;
	/* A change and its line go together: no log, no change. */
	if (cli_audit_open(c, &a, &ae) == -1) {
		cs_err_set(&e, ae.code, "%s not stored: %s", what, ae.msg);
		goto out;
	}
	if (vaultio_open_write(c->cfg, &lockfd, &k, &v, &e) == -1 ||
	    vault_put(v, argv[i], argv[i + 1], val, c->cfg->max_value_size, &e) == -1)
		goto out;
	ev.event = "secret_written";
	ev.provider = argv[i];
	ev.keys = (const char *const *)&argv[i + 1];
	ev.nkeys = 1;
	ev.fingerprint = k->fpr;
	if (save_change(c, a, &ev, v, what, "stored", &e) == -1)
		goto out;
	/* An empty value is a value, but most often an unset shell variable piped in. */
	if (val->len == 0)
		fprintf(stderr, "comfysecrets: note: %s is now the empty value (stdin gave no "
		    "bytes); `comfysecrets rm %s %s` removes a field\n", what, argv[i],
		    argv[i + 1]);
	rc = EXIT_OK;
out:
	audit_close(a);
	secret_free(val);
	vaultio_close(lockfd, k, v);
	return rc == EXIT_OK ? rc : cli_fail(&e);
}

int
cmd_get(struct cli *c, int argc, char **argv)
{
	struct cs_err e = { 0 }, ae = { 0 };
	struct secret *val = NULL;
	struct key *k = NULL;
	struct vault *v = NULL;
	struct audit_event ev = { 0 };
	uint64_t version;
	size_t pi, fi;
	int i, rc = EXIT_FAIL, n;

	if ((i = opts("get", argc, argv, &rc)) == -1)
		return rc;
	if ((n = name_args(argc, argv, i, 2, 2, &e)) == -2)
		return cli_usage("get", "needs PROVIDER and FIELD");
	if (n == -1)
		return cli_fail(&e);
	if (vaultio_open_read(c->cfg, &k, &v, &e) == -1)
		goto out;
	if (vault_find(v, argv[i], argv[i + 1], &pi, &fi, &e) == -1)
		goto out;
	version = vault_field_version(v, pi, fi);
	ev.event = "secret_read";
	ev.provider = argv[i];
	ev.keys = (const char *const *)&argv[i + 1];
	ev.nkeys = 1;
	ev.version = &version;
	/* fail_closed: a read we cannot record is refused, not served unlogged. */
	if (cli_audit(c, &ev, &ae) == -1) {
		if (c->cfg->audit_fail_closed) {
			cs_err_set(&e, ae.code, "%s/%s not shown: %s", argv[i], argv[i + 1],
			    ae.msg);
			goto out;
		}
		fprintf(stderr, "comfysecrets: warning: %s\n", ae.msg);
	}
	if (vault_reveal_at(v, pi, fi, &val, &e) == -1 ||
	    cli_write_all(STDOUT_FILENO, val->buf, val->len, "stdout", &e) == -1)
		goto out;
	rc = EXIT_OK;
out:
	secret_free(val);
	vault_close(v);
	key_free(k);
	return rc == EXIT_OK ? rc : cli_fail(&e);
}

/* A field's version and change time for list --json: {"version": N, "changed":
 * "RFC 3339 UTC, in ns"}, "changed" null when the vault does not know it. */
static json_t *
field_meta(const struct vault *v, size_t pi, size_t fi)
{
	int64_t ns = vault_field_mtime(v, pi, fi);
	time_t sec = (time_t)(ns / 1000000000);
	char ts[48];
	struct tm tm;
	size_t n;

	if (ns <= 0 || gmtime_r(&sec, &tm) == NULL)
		return json_pack("{s:I, s:n}", "version", (json_int_t)vault_field_version(v, pi, fi),
		    "changed");
	n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + n, sizeof ts - n, ".%09ldZ", (long)(ns % 1000000000));
	return json_pack("{s:I, s:s}", "version", (json_int_t)vault_field_version(v, pi, fi),
	    "changed", ts);
}

int
cmd_list(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct cs_err e = { 0 };
	struct key *k = NULL;
	struct vault *v = NULL;
	json_t *root = NULL, *provs, *fields, *meta;
	char *text, path[2 * VAULT_NAME_MAX + 2];
	size_t pi, fi;
	int json = 0, ch, rc = EXIT_FAIL;

	while ((ch = getopt_long(argc, argv, "+h", lo, NULL)) != -1) {
		if (ch == 'j')
			json = 1;
		else if (ch == 'h')
			return cli_help("list");
		else
			return cli_usage("list", NULL);
	}
	if (optind != argc)
		return cli_usage("list", "takes no operands");
	if (vaultio_open_read(c->cfg, &k, &v, &e) == -1)
		goto out;
	if (!json) {
		for (pi = 0; pi < vault_nproviders(v); pi++)
			for (fi = 0; fi < vault_nfields(v, pi); fi++)
				printf("%s/%s\n", vault_provider(v, pi), vault_field(v, pi, fi));
		rc = EXIT_OK;
		goto out;
	}
	root = json_pack("{s:I, s:s, s:{}, s:{}}", "generation",
	    (json_int_t)vault_generation(v), "fingerprint", vault_fingerprint(v), "providers",
	    "fields");
	if (root == NULL) {
		cs_err_set(&e, ENOMEM, "list: out of memory");
		goto out;
	}
	provs = json_object_get(root, "providers");
	meta = json_object_get(root, "fields");
	for (pi = 0; pi < vault_nproviders(v); pi++) {
		fields = json_array();
		for (fi = 0; fi < vault_nfields(v, pi); fi++) {
			json_array_append_new(fields, json_string(vault_field(v, pi, fi)));
			snprintf(path, sizeof path, "%s/%s", vault_provider(v, pi),
			    vault_field(v, pi, fi));
			json_object_set_new(meta, path, field_meta(v, pi, fi));
		}
		json_object_set_new(provs, vault_provider(v, pi), fields);
	}
	if ((text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER)) == NULL) {
		cs_err_set(&e, ENOMEM, "list: out of memory");
		goto out;
	}
	printf("%s\n", text);
	free(text);
	rc = EXIT_OK;
out:
	json_decref(root);
	vault_close(v);
	key_free(k);
	return rc == EXIT_OK ? rc : cli_fail(&e);
}

int
cmd_rm(struct cli *c, int argc, char **argv)
{
	struct cs_err e = { 0 }, ae = { 0 };
	struct key *k = NULL;
	struct vault *v = NULL;
	struct audit *a = NULL;
	struct audit_event ev = { 0 };
	char what[2 * VAULT_NAME_MAX + 2];
	int i, n, lockfd = -1, rc = EXIT_FAIL;

	if ((i = opts("rm", argc, argv, &rc)) == -1)
		return rc;
	if ((n = name_args(argc, argv, i, 1, 2, &e)) == -2)
		return cli_usage("rm", "needs PROVIDER and optionally FIELD");
	if (n == -1)
		return cli_fail(&e);
	snprintf(what, sizeof what, "%s%s%s", argv[i], argc - i == 2 ? "/" : "",
	    argc - i == 2 ? argv[i + 1] : "");
	if (cli_audit_open(c, &a, &ae) == -1) {
		cs_err_set(&e, ae.code, "%s not removed: %s", what, ae.msg);
		goto out;
	}
	if (vaultio_open_write(c->cfg, &lockfd, &k, &v, &e) == -1 ||
	    vault_remove(v, argv[i], argc - i == 2 ? argv[i + 1] : NULL, &e) == -1)
		goto out;
	ev.event = "secret_removed";
	ev.provider = argv[i];
	if (argc - i == 2) {
		ev.keys = (const char *const *)&argv[i + 1];
		ev.nkeys = 1;
	}
	ev.fingerprint = k->fpr;
	if (save_change(c, a, &ev, v, what, "removed", &e) == -1)
		goto out;
	rc = EXIT_OK;
out:
	audit_close(a);
	vaultio_close(lockfd, k, v);
	return rc == EXIT_OK ? rc : cli_fail(&e);
}

/* The rotation's key_rotated line (arg: a struct cli_change with c and a), written by
 * vaultio_rotate before the re-encrypted vault takes its name: no line, no rotation. */
static int
rotated_line(const struct vaultio_rotated *r, void *arg, struct cs_err *e)
{
	struct cli_change *ch = arg;
	struct audit_event ev = { 0 };
	struct cs_err ae = { 0 };

	vaultio_rotated_event(r, &ev);
	if (cli_audit_put(ch->c, ch->a, &ev, &ae) == -1)
		return cs_err_set(e, ae.code, "the key was not rotated: its audit line could "
		    "not be written: %s", ae.msg);
	return 0;
}

int
cmd_rotate(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "new-key-stdin", no_argument, NULL, 'n' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct cs_err e = { 0 }, ae = { 0 };
	struct secret *text = NULL;
	struct key *nk = NULL;
	struct vaultio_rotated r = { 0 };
	struct audit *a = NULL;
	struct cli_change line;
	const char *env = getenv(KEY_ENV);
	int from_env = env != NULL && env[0] != '\0';
	int from_stdin = 0, ch, rc = EXIT_FAIL;

	while ((ch = getopt_long(argc, argv, "+h", lo, NULL)) != -1) {
		if (ch == 'n')
			from_stdin = 1;
		else if (ch == 'h')
			return cli_help("rotate");
		else
			return cli_usage("rotate", NULL);
	}
	if (optind != argc)
		return cli_usage("rotate", "takes no operands (a new key comes on stdin)");
	/* With the key in the environment rotate refuses: no new key is read for it. */
	if (!from_env && from_stdin && (secret_read_fd(STDIN_FILENO, KEY_B64_MAX,
	    "new key on stdin", &text, &e) == -1 || key_parse((const char *)text->buf,
	    text->len, "new key on stdin", &nk, &e) == -1))
		goto out;
	/* A change and its line go together: no log, no rotation. */
	if (cli_audit_open(c, &a, &ae) == -1) {
		cs_err_set(&e, ae.code, "the key was not rotated: %s", ae.msg);
		goto out;
	}
	line = (struct cli_change){ .c = c, .a = a };
	if (vaultio_rotate(c->cfg, from_env, nk, rotated_line, &line, &r, &e) == -1)
		goto out;
	printf("%s\n", r.fpr);
	fflush(stdout);
	rc = EXIT_OK;
out:
	audit_close(a);
	vaultio_rotated_free(&r);
	secret_free(text);
	key_free(nk);
	return rc == EXIT_OK ? rc : cli_fail(&e);
}

int
cmd_fingerprint(struct cli *c, int argc, char **argv)
{
	struct cs_err e = { 0 };
	struct key *k = NULL;
	int i, rc = EXIT_FAIL;

	if ((i = opts("fingerprint", argc, argv, &rc)) == -1)
		return rc;
	if (i != argc)
		return cli_usage("fingerprint", "takes no operands");
	if (key_load(c->cfg->key_file, &k, NULL, &e) == -1)
		return cli_fail(&e);
	printf("%s\n", k->fpr);
	key_free(k);
	return EXIT_OK;
}

/* floor: shows the rollback floor; --reset makes the vault on disk the floor. */
int
cmd_floor(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "reset", no_argument, NULL, 'r' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct cs_err e = { 0 }, ae = { 0 };
	struct cs_state st;
	struct vaultio_floor f;
	struct audit *a = NULL;
	struct audit_event ev = { 0 };
	char gen[32];
	int reset = 0, ch, rc;

	while ((ch = getopt_long(argc, argv, "+h", lo, NULL)) != -1) {
		if (ch == 'r')
			reset = 1;
		else if (ch == 'h')
			return cli_help("floor");
		else
			return cli_usage("floor", NULL);
	}
	if (optind != argc)
		return cli_usage("floor", "takes no operands");
	if (!reset) {
		if (state_read(c->cfg->state_dir, c->cfg->vault_path, &st, &e) == -1)
			return cli_fail(&e);
		if (st.generation == 0 && st.mac[0] == '\0')
			return cs_err_set(&e, ENOENT, "%s: no rollback floor recorded in %s",
			    c->cfg->vault_path, st.file), cli_fail(&e);
		printf("%s: floor generation %llu, vault MAC %s, recorded in %s%s\n",
		    c->cfg->vault_path, (unsigned long long)st.generation,
		    st.mac[0] ? st.mac : "(none yet)", st.legacy ? "" : st.file,
		    st.legacy ? "the old state file beside the vault" : "");
		return EXIT_OK;
	}
	/* A change and its line go together: no log, no reset. */
	if (cli_audit_open(c, &a, &ae) == -1)
		return cs_err_set(&e, ae.code, "the floor was not reset: %s", ae.msg),
		    cli_fail(&e);
	if (vaultio_floor_reset(c->cfg, &f, &e) == -1) {
		audit_close(a);
		return cli_fail(&e);
	}
	if (f.was == 0)
		snprintf(gen, sizeof gen, "none");
	else
		snprintf(gen, sizeof gen, "%llu", (unsigned long long)f.was);
	printf("%s: floor set to generation %llu (was %s) in %s\n", c->cfg->vault_path,
	    (unsigned long long)f.generation, gen, f.file);
	fflush(stdout);
	ev.event = "floor_reset";
	ev.detail = gen;
	rc = cli_audit_put(c, a, &ev, &e) == -1 ? cli_fail(&e) : EXIT_OK;
	audit_close(a);
	return rc;
}
