/* cli/cmd_run.c - comfysecrets run: COMMAND with chosen secrets in its environment.
 *
 * run finds COMMAND on PATH, opens the vault as every reader does (vaultio: rollback
 * refused), decrypts each chosen field into one "NAME=value" string in guarded memory,
 * writes one secret_read audit line per variable (via "run", the pid that will run
 * COMMAND, COMMAND's name as the kernel will show it, its path as detail), and hands
 * the strings to COMMAND as the envp of execve(2). A value is in no argv, no file, no
 * other process; NAME is COMFYVN_SECRET_<PROVIDER>_<FIELD> (policy/envname.h), as the
 * ComfyVN app reads it, or the one -e gives. By default run then is COMMAND: same pid,
 * signals and exit status native. With --restart-on-change it stays as a small
 * supervisor (supervise(), below).
 *
 * Everything that can fail is checked before anything runs, and the exit status says
 * whose failure it was, as env(1) does: 125 run itself (usage, vault, a missing field, a
 * bad name, the audit), 126 COMMAND found but not executable, 127 COMMAND not found.
 * It does not pass COMFYVN_SECRETS_KEY on (COMMAND gets values, never the key), and it
 * gives COMMAND back the caller's umask; RLIMIT_CORE stays 0, so no core file of COMMAND
 * holds its environment. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../base/clock.h"
#include "../policy/envname.h"
#include "../policy/vaultio.h"
#include "cli.h"
#include "watchsrc.h"

#define RUN_EXIT_FAIL		125	/* run itself failed (env(1)'s status) */
#define RUN_RESTART_MIN_MS	1000	/* never two starts closer than this */
#define RUN_GRACE_S		10	/* default wait between the stop signal and SIGKILL */
#define RUN_GRACE_MAX_S		3600
#define COMM_LEN		15	/* bytes of a name the kernel keeps as comm */

extern char **environ;

/* One -p or -e. */
struct pick {
	struct watchsrc_name	 n;	/* field "": every field of the provider (-p) */
	const char		*name;	/* -e NAME, or NULL: the COMFYVN_SECRET_ name */
};

/* One variable handed over. */
struct var {
	char		 name[ENVNAME_MAX + 1];
	char		 provider[VAULT_NAME_MAX + 1];
	char		 field[VAULT_NAME_MAX + 1];
	uint64_t	 version;	/* of the value handed over, for its audit line */
	struct secret	*entry;		/* "NAME=value" and a NUL, in guarded memory */
};

struct env {
	struct var	*v;
	size_t		 n;
	char		**envp;		/* the inherited entries kept, then ours; NULL-ended */
};

struct run {
	struct cli	*c;
	struct pick	*picks;
	size_t		 npicks;
	char		**argv;			/* COMMAND and its arguments */
	char		 path[PATH_MAX];	/* COMMAND found */
	char		 comm[COMM_LEN + 1];	/* its name as /proc/PID/comm will show it */
	char		 detail[PATH_MAX + 16];
	int		 restart;
	int		 stop_sig;
	unsigned	 grace_ms;
};

static void
env_free(struct env *env)
{
	size_t i;

	for (i = 0; i < env->n; i++)
		secret_free(env->v[i].entry);
	free(env->v);
	free(env->envp);
	memset(env, 0, sizeof *env);
}

/* Adds NAME=value of provider/field; the same name twice is one variable when it names
 * the same field, an error otherwise. */
static int
env_add(struct env *env, const struct vault *v, const char *name, const char *provider,
    const char *field, struct cs_err *e)
{
	struct secret *val = NULL;
	struct var *grown, *nv;
	size_t i, pi, fi, nlen = strlen(name);

	for (i = 0; i < env->n; i++) {
		if (strcmp(env->v[i].name, name) != 0)
			continue;
		if (strcmp(env->v[i].provider, provider) == 0 &&
		    strcmp(env->v[i].field, field) == 0)
			return 0;
		return cs_err_set(e, EINVAL, "%s is given twice: %s/%s and %s/%s", name,
		    env->v[i].provider, env->v[i].field, provider, field);
	}
	if ((grown = realloc(env->v, (env->n + 1) * sizeof *grown)) == NULL)
		return cs_err_sys(e, ENOMEM, "run");
	env->v = grown;
	nv = &env->v[env->n];
	memset(nv, 0, sizeof *nv);
	snprintf(nv->name, sizeof nv->name, "%s", name);
	snprintf(nv->provider, sizeof nv->provider, "%s", provider);
	snprintf(nv->field, sizeof nv->field, "%s", field);
	if (vault_find(v, provider, field, &pi, &fi, e) == -1 ||
	    vault_reveal_at(v, pi, fi, &val, e) == -1)
		return -1;
	nv->version = vault_field_version(v, pi, fi);
	/* An environment string ends at its first NUL: a value holding one would be cut. */
	if (memchr(val->buf, '\0', val->len) != NULL) {
		secret_free(val);
		return cs_err_set(e, EINVAL, "%s/%s holds a NUL byte: it cannot be an "
		    "environment variable", provider, field);
	}
	if ((nv->entry = secret_new(nlen + 1 + val->len + 1)) == NULL) {
		secret_free(val);
		return cs_err_sys(e, ENOMEM, "run");
	}
	memcpy(nv->entry->buf, name, nlen);
	nv->entry->buf[nlen] = '=';
	memcpy(nv->entry->buf + nlen + 1, val->buf, val->len);	/* NUL: secret_new zeroes */
	secret_free(val);
	env->n++;
	return 0;
}

/* 1 when the inherited entry s must not reach COMMAND: the key, or a name we set. */
static int
dropped(const struct env *env, const char *s)
{
	size_t len = strcspn(s, "="), i;

	if (len == sizeof KEY_ENV - 1 && memcmp(s, KEY_ENV, len) == 0)
		return 1;
	for (i = 0; i < env->n; i++)
		if (strlen(env->v[i].name) == len && memcmp(env->v[i].name, s, len) == 0)
			return 1;
	return 0;
}

/* The app's name for provider/field; when there is none, the error says how to name it. */
static int
app_name(const char *provider, const char *field, char name[ENVNAME_MAX + 1],
    struct cs_err *e)
{
	struct cs_err je = { 0 };

	if (envname_join(provider, field, name, &je) == 0)
		return 0;
	return cs_err_set(e, je.code, "%s; give it a name with -e NAME=%s/%s", je.msg,
	    provider, field);
}

/* Reads every chosen field from the vault into env and builds its envp. With keep, the
 * vault read (ciphertext and subkeys; the key is closed) is handed back in *keep, for
 * the caller to free. */
static int
env_build(struct run *r, struct env *env, struct vault **keep, struct cs_err *e)
{
	struct key *k = NULL;
	struct vault *v = NULL;
	char name[ENVNAME_MAX + 1];
	const struct pick *pk;
	size_t i, pi, fi, ninh = 0, m = 0;
	int rc = -1;

	memset(env, 0, sizeof *env);
	if (vaultio_open_read(r->c->cfg, &k, &v, e) == -1)
		return -1;
	for (i = 0; i < r->npicks; i++) {
		pk = &r->picks[i];
		if (pk->n.field[0] != '\0') {
			if (vault_find(v, pk->n.provider, pk->n.field, NULL, NULL, e) == -1 ||
			    (pk->name == NULL &&
			    app_name(pk->n.provider, pk->n.field, name, e) == -1) ||
			    env_add(env, v, pk->name != NULL ? pk->name : name, pk->n.provider,
			    pk->n.field, e) == -1)
				goto out;
			continue;
		}
		if (vault_find(v, pk->n.provider, NULL, &pi, NULL, e) == -1)
			goto out;
		for (fi = 0; fi < vault_nfields(v, pi); fi++)
			if (app_name(pk->n.provider, vault_field(v, pi, fi), name, e) == -1 ||
			    env_add(env, v, name, pk->n.provider, vault_field(v, pi, fi), e) == -1)
				goto out;
	}
	while (environ != NULL && environ[ninh] != NULL)
		ninh++;
	if ((env->envp = calloc(ninh + env->n + 1, sizeof *env->envp)) == NULL) {
		cs_err_sys(e, ENOMEM, "run");
		goto out;
	}
	for (i = 0; i < ninh; i++)
		if (!dropped(env, environ[i]))
			env->envp[m++] = environ[i];
	for (i = 0; i < env->n; i++)
		env->envp[m++] = (char *)env->v[i].entry->buf;
	rc = 0;
	if (keep != NULL) {
		*keep = v;
		v = NULL;
	}
out:
	vaultio_close(-1, k, v);
	if (rc == -1)
		env_free(env);
	return rc;
}

/* One secret_read line per variable, as this process (the one about to exec COMMAND),
 * all through one open of the log. With fail_closed off a line that cannot be written
 * is a warning. */
static int
env_audit(struct run *r, const struct env *env, struct cs_err *e)
{
	struct audit_event *ev;
	const char **keys;
	struct cs_err ae = { 0 };
	size_t i;
	int rc = 0;

	if (env->n == 0)
		return 0;
	ev = calloc(env->n, sizeof *ev);
	keys = calloc(env->n, sizeof *keys);
	if (ev == NULL || keys == NULL) {
		free(ev);
		free(keys);
		return cs_err_sys(e, ENOMEM, "run");
	}
	for (i = 0; i < env->n; i++) {
		keys[i] = env->v[i].field;
		ev[i].event = "secret_read";
		ev[i].provider = env->v[i].provider;
		ev[i].keys = &keys[i];
		ev[i].nkeys = 1;
		ev[i].version = &env->v[i].version;
		ev[i].via = "run";
		ev[i].comm = r->comm;
		ev[i].detail = r->detail;
	}
	if (cli_audit_n(r->c, ev, env->n, &ae) == -1) {
		if (r->c->cfg->audit_fail_closed)
			rc = cs_err_set(e, ae.code, "no value handed over: %s", ae.msg);
		else
			fprintf(stderr, "comfysecrets run: warning: %s\n", ae.msg);
	}
	free(keys);
	free(ev);
	return rc;
}

/* Finds COMMAND on PATH and names it for the audit lines. */
static int
find_command(struct run *r, const char *cmd, struct cs_err *e)
{
	const char *base;
	int rc;

	if ((rc = cli_find_command(cmd, r->path, e)) != 0)
		return rc;
	base = strrchr(r->path, '/');
	base = base != NULL ? base + 1 : r->path;
	snprintf(r->comm, sizeof r->comm, "%.*s", COMM_LEN, base);
	snprintf(r->detail, sizeof r->detail, "command %s", r->path);
	return 0;
}

/* What is left to do in the process that becomes COMMAND: the caller's umask, the
 * audit lines, execve. Returns only on failure, with the exit status. */
static int
become(struct run *r, struct env *env)
{
	struct cs_err e = { 0 };
	int err;

	if (env_audit(r, env, &e) == -1) {
		fprintf(stderr, "comfysecrets run: %s\n", e.msg);
		return RUN_EXIT_FAIL;
	}
	umask(r->c->umask);
	execve(r->path, r->argv, env->envp);
	err = errno;
	umask(077);
	fprintf(stderr, "comfysecrets run: %s: %s\n", r->path, strerror(err));
	return err == ENOENT || err == ENOTDIR ? CLI_EXIT_NOTFOUND : CLI_EXIT_NOEXEC;
}

/* --stop-signal: a name (TERM, SIGTERM) or a number. */
static int
parse_signal(const char *s, int *out)
{
	const char *abbr;
	char *end;
	long n;
	int i;

	if (strncmp(s, "SIG", 3) == 0)
		s += 3;
	n = strtol(s, &end, 10);
	if (end != s && *end == '\0') {
		if (n <= 0 || n >= NSIG || n == SIGKILL || n == SIGSTOP)
			return -1;
		*out = (int)n;
		return 0;
	}
	for (i = 1; i < NSIG; i++)
		if ((abbr = sigabbrev_np(i)) != NULL && strcmp(abbr, s) == 0 &&
		    i != SIGKILL && i != SIGSTOP) {
			*out = i;
			return 0;
		}
	return -1;
}

static int
add_pick(struct run *r, const char *arg, int is_e, struct cs_err *e)
{
	struct pick *grown, pk = { 0 };
	const char *eq = NULL;
	char shown[CS_SHOW_BUF(CS_SHOW_MAX)];

	if (is_e) {
		if ((eq = strchr(arg, '=')) == NULL || strchr(eq + 1, '/') == NULL) {
			cs_show(arg, strlen(arg), CS_SHOW_MAX, shown, sizeof shown);
			return cs_err_set(e, EINVAL, "-e \"%s\": not NAME=PROVIDER/FIELD", shown);
		}
		/* The name is checked in place: arg stays in argv, which outlives r. */
		((char *)arg)[eq - arg] = '\0';
		if (!envname_valid(arg)) {
			cs_show(arg, strlen(arg), CS_SHOW_MAX, shown, sizeof shown);
			((char *)arg)[eq - arg] = '=';
			return cs_err_set(e, EINVAL, "-e: \"%s\" is not a valid variable name "
			    "([A-Za-z_][A-Za-z0-9_]*)", shown);
		}
		if (strcmp(arg, KEY_ENV) == 0)
			return cs_err_set(e, EINVAL, "-e: %s is the key's variable: "
			    "run never sets it", KEY_ENV);
		pk.name = arg;
		arg = eq + 1;
	}
	if (watchsrc_name_parse(arg, &pk.n, e) == -1)
		return -1;
	if ((grown = realloc(r->picks, (r->npicks + 1) * sizeof *grown)) == NULL)
		return cs_err_sys(e, ENOMEM, "run");
	r->picks = grown;
	r->picks[r->npicks++] = pk;
	return 0;
}

static int supervise(struct run *r);

int
cmd_run(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "provider", required_argument, NULL, 'p' },
		{ "env", required_argument, NULL, 'e' },
		{ "restart-on-change", no_argument, NULL, 'r' },
		{ "stop-signal", required_argument, NULL, 's' },
		{ "grace", required_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct run r = { 0 };
	struct env env = { 0 };
	struct cs_err e = { 0 };
	char *end;
	long grace;
	int ch, rc = RUN_EXIT_FAIL;

	r.c = c;
	r.stop_sig = SIGTERM;
	r.grace_ms = RUN_GRACE_S * 1000;
	while ((ch = getopt_long(argc, argv, "+p:e:h", lo, NULL)) != -1) {
		switch (ch) {
		case 'p':
		case 'e':
			if (add_pick(&r, optarg, ch == 'e', &e) == -1) {
				cli_usage("run", e.msg);
				goto out;
			}
			break;
		case 'r':
			r.restart = 1;
			break;
		case 's':
			if (parse_signal(optarg, &r.stop_sig) == -1) {
				cli_usage("run", "--stop-signal: not a signal name or number "
				    "(SIGKILL and SIGSTOP cannot be asked for)");
				goto out;
			}
			break;
		case 'g':
			errno = 0;
			grace = strtol(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' || grace < 0 ||
			    grace > RUN_GRACE_MAX_S) {
				cli_usage("run", "--grace: seconds from 0 to 3600");
				goto out;
			}
			r.grace_ms = (unsigned)grace * 1000;
			break;
		case 'h':
			rc = cli_help("run");
			goto out;
		default:
			cli_usage("run", NULL);
			goto out;
		}
	}
	if (optind >= argc) {
		cli_usage("run", "no COMMAND given");
		goto out;
	}
	r.argv = argv + optind;
	if ((rc = find_command(&r, r.argv[0], &e)) != 0) {
		fprintf(stderr, "comfysecrets run: %s\n", e.msg);
		goto out;
	}
	rc = RUN_EXIT_FAIL;
	if (r.restart) {
		rc = supervise(&r);
		goto out;
	}
	if (env_build(&r, &env, NULL, &e) == -1) {
		fprintf(stderr, "comfysecrets run: %s\n", e.msg);
		goto out;
	}
	rc = become(&r, &env);
out:
	env_free(&env);
	free(r.picks);
	return rc;
}

/* --- --restart-on-change --- */

/* Starts COMMAND with the values the vault holds now. The child audits and execs as
 * run does without a supervisor (become()), and dies with run (PR_SET_PDEATHSIG); the
 * parent wipes its copy of the values at once. The vault the values came from becomes
 * src's reference (watchsrc_rebase), so src reports a change only where the vault
 * differs from what this COMMAND got. Returns the pid, or -1 with e set (nothing
 * started). */
static pid_t
start(struct run *r, struct watchsrc *src, const sigset_t *oldmask, struct cs_err *e)
{
	struct env env;
	struct vault *v = NULL;
	pid_t pid, parent;

	if (env_build(r, &env, &v, e) == -1)
		return -1;
	fflush(NULL);
	parent = getpid();
	if ((pid = fork()) == 0) {
		/* If run is killed outright, COMMAND goes with it: no unsupervised copy of
		 * the values is left behind. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != parent)
			_exit(RUN_EXIT_FAIL);
		sigprocmask(SIG_SETMASK, oldmask, NULL);
		_exit(become(r, &env));
	}
	if (pid == -1) {
		cs_err_sys(e, errno, "run: fork");
		vault_close(v);
	} else {
		watchsrc_rebase(src, v);
	}
	env_free(&env);
	return pid;
}

/* The exit status of a child as a shell reports it: its own, or 128+N for signal N. */
static int
status_of(int st)
{
	return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) :
	    RUN_EXIT_FAIL;
}

/* The poll timeout (ms, -1 none) that also wakes at deadline at (ms, -1 none). */
static int
sooner(int timeout, int64_t at, int64_t now)
{
	int64_t left = at - now;

	if (at < 0)
		return timeout;
	if (left < 0)
		left = 0;
	return timeout < 0 || left < timeout ? (int)left : timeout;
}

/* 1 for a signal that ends run when COMMAND is not running (between two starts). */
static int
ending(int sig)
{
	return sig == SIGTERM || sig == SIGINT || sig == SIGHUP || sig == SIGQUIT;
}

/* 1 for a signal the terminal sent to its whole foreground group: COMMAND, in the
 * same group, got it too, and must not get it twice. */
static int
from_tty(const struct signalfd_siginfo *si)
{
	int s = (int)si->ssi_signo;

	return si->ssi_code == SI_KERNEL &&
	    (s == SIGINT || s == SIGQUIT || s == SIGTSTP || s == SIGWINCH);
}

/* run as a supervisor: COMMAND as a child, every catchable signal forwarded to it,
 * restarted with the new values when a chosen field changes (the stop signal, SIGKILL
 * after the grace time, a new start no sooner than RUN_RESTART_MIN_MS after the last),
 * and its exit status returned when it ends by itself. A change whose new values cannot
 * be read (a field removed, a vault refused) is reported and COMMAND keeps running
 * with the values it has.
 *
 * "Changes" means: differs from what the running COMMAND was started with. start()
 * reads the vault itself, so it may hand over a value src has not seen yet (a set that
 * landed while COMMAND was stopping); src reporting that set afterwards must not
 * restart a COMMAND that has it. So each start makes the vault it read src's reference
 * (watchsrc_rebase): src then diffs each later vault against exactly the values
 * COMMAND holds (per field, in constant time, wiped), in either order. A change src saw
 * before the start is in what the start read; one after it differs from the reference
 * and restarts. Skipping reports whose generation is not newer than the start's would
 * not do: src, diffing against the vault it read last, would never report a field set
 * back to that value after the start had read a newer one, and COMMAND would keep it. */
static int
supervise(struct run *r)
{
	struct watchsrc_name *names = NULL;
	struct watchsrc *src = NULL;
	struct watchsrc_changes ch = { 0 };
	struct signalfd_siginfo si;
	struct pollfd pfd[2];
	struct cs_err e = { 0 };
	struct env probe;
	sigset_t all, oldmask;
	int64_t last_start = 0, kill_at = -1, start_at = -1, now;
	pid_t child = -1;
	size_t i;
	int sfd = -1, restarting = 0, stopping = 0, timeout, st, step, rc = RUN_EXIT_FAIL;

	if (r->npicks == 0) {
		cli_usage("run", "--restart-on-change needs -p or -e: nothing to watch");
		return RUN_EXIT_FAIL;
	}
	if ((names = calloc(r->npicks, sizeof *names)) == NULL) {
		cs_err_sys(&e, ENOMEM, "run");
		goto out;
	}
	for (i = 0; i < r->npicks; i++)
		names[i] = r->picks[i].n;
	/* Every signal that can be caught comes through sfd, to be forwarded. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &oldmask);
	if ((sfd = signalfd(-1, &all, SFD_CLOEXEC | SFD_NONBLOCK)) == -1) {
		cs_err_sys(&e, errno, "run: signalfd");
		goto out;
	}
	if (watchsrc_vault_new(r->c->cfg, names, r->npicks, &src, &e) == -1 ||
	    (child = start(r, src, &oldmask, &e)) == -1)
		goto out;
	last_start = cs_now_ms();
	pfd[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = watchsrc_fd(src), .events = POLLIN };
	for (;;) {
		now = cs_now_ms();
		timeout = sooner(sooner(watchsrc_timeout(src), kill_at, now), start_at, now);
		if (poll(pfd, 2, timeout) == -1 && errno != EINTR) {
			cs_err_sys(&e, errno, "run: poll");
			goto out;
		}
		while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
			if (si.ssi_signo == SIGCHLD)
				continue;
			if (child > 0) {
				if (ending((int)si.ssi_signo))
					stopping = 1;	/* COMMAND's end is run's end */
				if (!from_tty(&si))
					kill(child, (int)si.ssi_signo);
			} else if (ending((int)si.ssi_signo)) {
				rc = 128 + (int)si.ssi_signo;	/* between two starts */
				goto out;
			}
		}
		if (child > 0 && waitpid(child, &st, WNOHANG) == child) {
			child = -1;
			kill_at = -1;
			if (!restarting || stopping) {
				rc = status_of(st);
				goto out;
			}
			start_at = last_start + RUN_RESTART_MIN_MS;
		}
		memset(&e, 0, sizeof e);
		if ((step = watchsrc_step(src, &ch, &e)) == -1)
			fprintf(stderr, "comfysecrets run: %s (COMMAND keeps its values)\n", e.msg);
		if (step == 1) {
			watchsrc_changes_free(&ch);
			/* Read the new values once before stopping COMMAND: a change it could
			 * not restart with (a field removed) leaves it running. */
			memset(&e, 0, sizeof e);
			if (env_build(r, &probe, NULL, &e) == -1) {
				fprintf(stderr, "comfysecrets run: not restarting: %s (COMMAND "
				    "keeps its values)\n", e.msg);
			} else if (child > 0 && !restarting) {
				kill(child, r->stop_sig);
				restarting = 1;
				kill_at = cs_now_ms() + r->grace_ms;
			}
			env_free(&probe);
		}
		now = cs_now_ms();
		if (child > 0 && kill_at >= 0 && now >= kill_at) {
			kill(child, SIGKILL);
			kill_at = -1;
		}
		if (child == -1 && start_at >= 0 && now >= start_at) {
			memset(&e, 0, sizeof e);
			if ((child = start(r, src, &oldmask, &e)) == -1) {
				fprintf(stderr, "comfysecrets run: COMMAND was stopped to restart "
				    "and cannot start again:\n");
				goto out;
			}
			last_start = cs_now_ms();
			start_at = -1;
			restarting = 0;
		}
	}
out:
	if (e.msg[0] != '\0' && rc == RUN_EXIT_FAIL)
		fprintf(stderr, "comfysecrets run: %s\n", e.msg);
	if (child > 0) {	/* run itself failed: leave nothing behind */
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	watchsrc_changes_free(&ch);
	watchsrc_free(src);
	if (sfd != -1)
		close(sfd);
	free(names);
	return rc;
}
