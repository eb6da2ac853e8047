/* fs/main.c - comfysecretsfs: serve a comfysecrets vault as a read-only FUSE tree.
 *
 *   comfysecretsfs [-f] [-d] [-s] [-o OPTIONS] VAULT MOUNTPOINT
 *
 * main is a fixed sequence, as in libfuse's hello_ll: harden the process, parse the
 * options, fork (unless -f), take the overrides out of the environment, load the
 * config, key, audit log and vault - any failure there is a clear error and exit 1,
 * before anything is mounted - then create the session, mount, start the watcher,
 * report readiness and run the loop. The cleanup unwinds in reverse, like a ladder.
 *
 * Signals: SIGTERM and SIGINT end the loop (libfuse's handlers) and the tree is
 * unmounted; SIGHUP reloads the vault. SIGHUP is blocked in every thread and read from
 * a signalfd by the watcher; SIGTERM and SIGINT are blocked while the helper threads
 * start, so that only the loop threads take them. */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>
#include <systemd/sd-daemon.h>

#include "../crypto/key.h"
#include "../crypto/secret.h"
#include "../policy/audit.h"
#include "../policy/config.h"
#include "daemon.h"
#include "held.h"
#include "events.h"
#include "lo.h"
#include "log.h"
#include "opts.h"
#include "overlay.h"
#include "quota.h"
#include "reload.h"
#include "special.h"

#define CSFS_VERSION	"0.1.0"

static void
usage(const char *prog)
{
	printf("usage: %s [-f] [-d] [-s] [-o OPTIONS] VAULT MOUNTPOINT\n"
	    "\n"
	    "Serves the comfysecrets vault VAULT as a read-only tree at MOUNTPOINT:\n"
	    "one directory per provider, one file per field, decrypted when opened,\n"
	    "each open written to the audit log. The key comes from COMFYVN_SECRETS_KEY\n"
	    "or the key file. COMFYVN_SECRET_<PROVIDER>_<FIELD> variables replace or add\n"
	    "values, and are wiped from the environment.\n"
	    "\n"
	    "comfysecretsfs options:\n"
	    "    -o config=FILE         config file (default %s)\n"
	    "    -o key_file=FILE       key file (default: the config's)\n"
	    "    -o audit_log=FILE      audit log (default: the config's)\n"
	    "    -o uid=USER,gid=GROUP  default owner of the tree (default: the daemon's)\n"
	    "    -o mode=MODE           default mode of the files, octal (default 0440;\n"
	    "                           directories add x where r is set)\n"
	    "    -o allow_other         let other users in; always brings\n"
	    "                           default_permissions, so the kernel checks modes\n"
	    "    -o default_permissions let the kernel check modes\n"
	    "\n", prog, CFG_DEFAULT_PATH);
}

/* No core dumps, no ptrace by others, private new files: before anything is read. */
static int
harden(struct cs_err *e)
{
	struct rlimit rl = { 0, 0 };

	umask(077);
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		return cs_err_sys(e, errno, "prctl(PR_SET_DUMPABLE)");
	if (setrlimit(RLIMIT_CORE, &rl) == -1)
		return cs_err_sys(e, errno, "setrlimit(RLIMIT_CORE)");
	/* One malloc arena for all threads. glibc gives each new FUSE worker thread an arena
	 * of its own; trees built by the reload thread and freed by a worker then leave
	 * holes in several arenas, and RSS keeps growing under reads and reloads together.
	 * With one arena it levels off, at no measurable cost in reads per second
	 * (bench/README.md). */
	(void)mallopt(M_ARENA_MAX, 1);	/* a hint: ASan and valgrind bring their own malloc */
	return 0;
}

/* The config, with the command line's paths over it, every path absolute. */
static int
load_config(const struct fsopts *o, struct cfg **out, struct cs_err *e)
{
	struct cfg *c;
	char *abs;
	char **slots[3];
	size_t i;
	int rc = 0;

	if (cfg_load(o->config, &c, e) == -1)
		return -1;
	if ((o->vault != NULL && cfg_set_path(&c->vault_path, o->vault, e) == -1) ||
	    (o->key_file != NULL && cfg_set_path(&c->key_file, o->key_file, e) == -1) ||
	    (o->audit_log != NULL && cfg_set_path(&c->audit_path, o->audit_log, e) == -1)) {
		cfg_free(c);
		return -1;
	}
	slots[0] = &c->vault_path;
	slots[1] = &c->key_file;
	slots[2] = &c->audit_path;
	for (i = 0; i < 3 && rc == 0; i++) {
		if (*slots[i] == NULL || (*slots[i])[0] == '/')
			continue;
		if ((abs = fsopts_abspath(*slots[i])) == NULL)
			rc = cs_err_sys(e, ENOMEM, "%s", *slots[i]);
		else
			rc = cfg_set_path(slots[i], abs, e);
		free(abs);
	}
	if (rc == -1) {
		cfg_free(c);
		return -1;
	}
	*out = c;
	return 0;
}

/* The key when it comes from COMFYVN_SECRETS_KEY (kept for reloads), else NULL: the
 * key file is read at each load. The variable is wiped on every path. */
static int
load_env_key(const struct cfg *c, struct key **out, struct cs_err *e)
{
	const char *v = getenv(KEY_ENV);
	int rc = 0;

	*out = NULL;
	if (v != NULL && v[0] != '\0')
		rc = key_load(c->key_file, out, NULL, e);
	overlay_wipe_var(KEY_ENV);
	return rc;
}

static int
open_audit(const struct cfg *c, struct lo_data *lo, struct cs_err *e)
{
	struct cs_err ae = { 0 };

	lo->fail_closed = c->audit_fail_closed;
	if (audit_open(c->audit_path, c->audit_flush, c->audit_timeout_ms, &lo->audit,
	    &ae) == 0)
		return 0;
	if (lo->fail_closed)
		return cs_err_set(e, ae.code, "%s (fail_closed: nothing is served unaudited)",
		    ae.msg);
	fslog("%s; serving without an audit log (fail_closed = false)", ae.msg);
	return 0;
}

/* fuse_session_new() refuses an option nobody knows (`-x`, `-o frobnicate`), but only
 * after the config, key, audit log and vault are read, and a failure there would hide
 * the real mistake. A session made from a copy of the arguments and dropped at once
 * finds it first; libfuse names the option. -1 when libfuse refuses them (e is set only
 * when memory ran out: libfuse has said why). */
static int
check_options(const struct fsopts *o, struct cs_err *e)
{
	struct fuse_args copy = FUSE_ARGS_INIT(0, NULL);
	struct fuse_session *se = NULL;
	int i;

	for (i = 0; i < o->args.argc; i++)
		if (fuse_opt_add_arg(&copy, o->args.argv[i]) == -1) {
			cs_err_sys(e, ENOMEM, "options");
			goto out;
		}
	se = fuse_session_new(&copy, &lo_oper, sizeof lo_oper, NULL);
out:
	fuse_opt_free_args(&copy);
	if (se == NULL)
		return -1;
	fuse_session_destroy(se);
	return 0;
}

static int
loop(struct fuse_session *se, const struct fsopts *o)
{
	struct fuse_loop_config *lc;
	int rc;

	if (o->singlethread)
		return fuse_session_loop(se);
	if ((lc = fuse_loop_cfg_create()) == NULL)
		return -1;
	fuse_loop_cfg_set_clone_fd(lc, (unsigned)o->clone_fd);
	/* UINT_MAX is fuse_parse_cmdline's "not given": keep libfuse's defaults. */
	if (o->max_idle_threads != UINT_MAX)
		fuse_loop_cfg_set_idle_threads(lc, o->max_idle_threads);
	if (o->max_threads != 0 && o->max_threads != UINT_MAX)
		fuse_loop_cfg_set_max_threads(lc, o->max_threads);
	rc = fuse_session_loop_mt(se, lc);
	fuse_loop_cfg_destroy(lc);
	return rc;
}

/* --help or --version: the text, then libfuse's own. */
static void
show_help_or_version(const struct fsopts *o, const char *argv0)
{
	if (o->show_help) {
		usage(argv0);
		fuse_cmdline_help();
		fuse_lowlevel_help();
	} else {
		printf("comfysecretsfs %s (libfuse %s)\n", CSFS_VERSION, fuse_pkgversion());
		fuse_lowlevel_version();
	}
}

/* The daemon's shared state from the options and the config, and the first load of the
 * vault (reload_first), before anything is mounted. lo keeps cfg; *r is the caller's to
 * free, also after an error. Errors: out of memory, and reload_first's and
 * fsopts_finish's. */
static int
serve_first(struct lo_data *lo, struct fsopts *o, struct cfg *cfg, struct key *envkey,
    struct overlay *ov, struct reload **r, struct cs_err *e)
{
	struct reload_src src;

	lo->cfg = cfg;
	lo->timeout = o->has_cache_timeout ? o->cache_timeout : cfg->cache_timeout_s;
	lo->key_from_env = envkey != NULL;	/* .control's rotate refuses it */
	/* Each user may hold QUOTA_USER_BYTES, or four of the largest values if more. */
	if ((lo->nodes = special_nodes_new()) == NULL || (lo->held = held_new()) == NULL ||
	    (lo->events = events_new()) == NULL ||
	    (lo->quota = quota_new(cfg->max_value_size > QUOTA_USER_BYTES / 4 ?
	    cfg->max_value_size * 4 : QUOTA_USER_BYTES)) == NULL)
		return cs_err_sys(e, ENOMEM, "starting");
	memset(&src, 0, sizeof src);
	src.vault_path = cfg->vault_path;
	src.key_file = cfg->key_file;
	src.state_dir = cfg->state_dir;
	src.key = envkey;
	src.ov = ov;
	src.audit_path = cfg->audit_path;
	src.attrs.uid = o->has_uid ? o->uid : getuid();
	src.attrs.gid = o->has_gid ? o->gid : getgid();
	src.attrs.mode = o->has_mode ? o->mode : TREE_FILE_MODE;
	src.attrs.cfg = cfg;
	if (reload_new(lo, &src, r, e) == -1 || reload_first(*r, e) == -1 ||
	    fsopts_finish(o, cfg->vault_path, e) == -1)
		return -1;
	lo->check_access = !o->default_permissions;
	lo->notify_ready = 1;
	return 0;
}

int
main(int argc, char *argv[])
{
	struct fsopts o;
	struct cs_err e = { 0 };
	struct cfg *cfg = NULL;
	struct overlay *ov = NULL;
	struct key *envkey = NULL;
	struct reload *r = NULL;
	struct fuse_session *se = NULL;
	struct lo_data lo;
	sigset_t sigs;
	int ret = 1, ready_fd = -1;

	memset(&lo, 0, sizeof lo);
	pthread_mutex_init(&lo.lock, NULL);
	pthread_mutex_init(&lo.purge_lock, NULL);
	lo.purge_fd = -1;
	if (harden(&e) == -1) {
		overlay_scrub_env();
		fprintf(stderr, "comfysecretsfs: %s\n", e.msg);
		return 1;
	}
	if (fsopts_parse(argc, argv, &o, &e) == -1) {
		overlay_scrub_env();
		fprintf(stderr, "comfysecretsfs: %s\n", e.msg);
		goto err_out1;
	}
	if (o.show_help || o.show_version) {
		show_help_or_version(&o, argv[0]);
		ret = 0;
		goto err_out1;
	}
	if (check_options(&o, &e) == -1) {
		overlay_scrub_env();
		if (e.msg[0] != '\0')
			fprintf(stderr, "comfysecretsfs: %s\n", e.msg);
		goto err_out1;
	}
	/* Every thread, the audit writer's included, starts with these blocked. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	if (!o.foreground && (ready_fd = daemon_fork(&e)) == -1)
		goto err_print;
	if (sodium_init() == -1) {
		cs_err_set(&e, EIO, "libsodium cannot be initialised");
		goto err_print;
	}
	/* jansson's freed blocks are wiped: a .control rotate request carries a key. */
	json_set_alloc_funcs(malloc, secret_wipe_free);
	/* The overrides leave the environment first; err_print wipes the key as well. */
	if (overlay_from_env(&ov, &e) == -1 || load_config(&o, &cfg, &e) == -1 ||
	    load_env_key(cfg, &envkey, &e) == -1 || open_audit(cfg, &lo, &e) == -1)
		goto err_print;
	if (serve_first(&lo, &o, cfg, envkey, ov, &r, &e) == -1)
		goto err_print;

	se = fuse_session_new(&o.args, &lo_oper, sizeof lo_oper, &lo);
	if (se == NULL)
		goto err_out2;		/* libfuse said why */
	/* A daemon started in the background of a script inherits SIGINT ignored, and
	 * nohup leaves SIGHUP ignored; libfuse keeps an ignored signal ignored, and an
	 * ignored SIGHUP never reaches the watcher's signalfd. Both must work here. */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	if (fuse_set_signal_handlers(se) != 0)
		goto err_out3;
	if (fuse_session_mount(se, o.mountpoint) != 0)
		goto err_out4;
	if (reload_start(r, se, &e) == -1) {
		fprintf(stderr, "comfysecretsfs: %s\n", e.msg);
		goto err_out5;
	}
	if (events_watch(lo.events, o.mountpoint, &e) == -1) {
		fprintf(stderr, "comfysecretsfs: %s\n", e.msg);
		goto err_out5;
	}
	daemon_ready(ready_fd);
	ready_fd = -1;
	sigdelset(&sigs, SIGHUP);
	pthread_sigmask(SIG_UNBLOCK, &sigs, NULL);	/* loop threads take TERM and INT */

	/* The loop returns the signal that ended it, or -errno: only the latter fails. */
	ret = loop(se, &o) < 0;

	sd_notify(0, "STOPPING=1");
	reload_stop(r);
	/* Blocked .events reads get EOF now: the unmount closes the channel, after which
	 * a reader would only get ECONNABORTED. */
	events_shutdown(lo.events);
err_out5:
	fuse_session_unmount(se);
err_out4:
	fuse_remove_signal_handlers(se);
err_out3:
	fuse_session_destroy(se);
err_out2:
	reload_free(r);
	events_free(lo.events);		/* the watcher, its one publisher, has stopped */
	special_nodes_free(lo.nodes);
	quota_free(lo.quota);
	held_free(lo.held);
	tree_unref(lo_publish(&lo, NULL));
	audit_close(lo.audit);
	key_free(envkey);
	overlay_free(ov);
	cfg_free(cfg);
err_out1:
	fsopts_free(&o);
	pthread_mutex_destroy(&lo.lock);
	pthread_mutex_destroy(&lo.purge_lock);
	return ret;
err_print:
	overlay_scrub_env();
	fprintf(stderr, "comfysecretsfs: %s\n", e.msg);
	goto err_out2;
}
