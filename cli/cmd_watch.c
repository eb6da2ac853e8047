/* cli/cmd_watch.c - comfysecrets watch: run COMMAND each time a watched field changes.
 *
 * The changes come from a change source (watchsrc.h): the vault file itself, or with
 * --mount DIR the .events file of the comfysecretsfs mount at DIR (no key needed, only the
 * right to read the mount). Either names the fields whose value was added, changed or
 * removed, never a value. COMMAND runs with those names in COMFYSECRETS_CHANGED, one run
 * at a time: changes that land while it runs are gathered and given to the next run, which
 * starts when the current one has ended, so two runs never overlap and no change is lost.
 * COMMAND gets no value and no key: COMFYVN_SECRETS_KEY is not passed on.
 *
 * SIGTERM, SIGINT, SIGHUP and SIGQUIT end the watch: a running COMMAND gets the same
 * signal and is waited for, then watch exits 0. A COMMAND that fails is reported on
 * stderr and watching goes on, as a systemd path unit would. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "../policy/vaultio.h"
#include "cli.h"
#include "watchsrc.h"

#define CHANGED_ENV		"COMFYSECRETS_CHANGED"
#define CHANGED_COUNT_ENV	"COMFYSECRETS_CHANGED_COUNT"
#define GENERATION_ENV		"COMFYSECRETS_GENERATION"
#define CHANGED_MAX_BYTES	(64u * 1024)	/* of COMFYSECRETS_CHANGED; the count says all */

extern char **environ;

/* The names gathered for the next run: sorted, each once. */
struct pending {
	char		**names;
	size_t		  n;
	uint64_t	  generation;
};

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Moves ch's names into p (ch is left empty), keeping p sorted and without repeats. */
static int
pending_add(struct pending *p, struct watchsrc_changes *ch)
{
	char **names;
	size_t i, m;

	if (ch->n == 0)
		return 0;
	if ((names = realloc(p->names, (p->n + ch->n) * sizeof *names)) == NULL)
		return -1;
	p->names = names;
	memcpy(p->names + p->n, ch->names, ch->n * sizeof *names);
	p->n += ch->n;
	if (ch->generation > p->generation)
		p->generation = ch->generation;
	free(ch->names);
	memset(ch, 0, sizeof *ch);
	qsort(p->names, p->n, sizeof *p->names, name_cmp);
	for (i = m = 0; i < p->n; i++) {
		if (m > 0 && strcmp(p->names[m - 1], p->names[i]) == 0)
			free(p->names[i]);
		else
			p->names[m++] = p->names[i];
	}
	p->n = m;
	return 0;
}

static void
pending_clear(struct pending *p)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		free(p->names[i]);
	free(p->names);
	memset(p, 0, sizeof *p);
}

/* The environment of one run: the inherited one less the key and our own names, then
 * COMFYSECRETS_CHANGED ("provider/field" separated by spaces, whole names up to
 * CHANGED_MAX_BYTES), COMFYSECRETS_CHANGED_COUNT and COMFYSECRETS_GENERATION.
 * envp[n - 3 .. n - 1] are heap strings the caller frees. */
static char **
run_env(const struct pending *p)
{
	static const char *const ours[] = { KEY_ENV, CHANGED_ENV, CHANGED_COUNT_ENV,
	    GENERATION_ENV };
	char **envp, *changed, *q;
	size_t ninh = 0, m = 0, i, j, len, cap = sizeof CHANGED_ENV + CHANGED_MAX_BYTES;
	int keep;

	while (environ != NULL && environ[ninh] != NULL)
		ninh++;
	if ((envp = calloc(ninh + 4, sizeof *envp)) == NULL ||
	    (changed = malloc(cap + 1)) == NULL) {
		free(envp);
		return NULL;
	}
	for (i = 0; i < ninh; i++) {
		len = strcspn(environ[i], "=");
		keep = 1;
		for (j = 0; j < sizeof ours / sizeof ours[0]; j++)
			if (strlen(ours[j]) == len && memcmp(environ[i], ours[j], len) == 0)
				keep = 0;
		if (keep)
			envp[m++] = environ[i];
	}
	q = changed + snprintf(changed, cap, "%s=", CHANGED_ENV);
	for (i = 0; i < p->n; i++) {
		len = strlen(p->names[i]);
		if ((size_t)(q - changed) + len + 1 > cap)
			break;
		if (i > 0)
			*q++ = ' ';
		memcpy(q, p->names[i], len);
		q += len;
	}
	*q = '\0';
	envp[m++] = changed;
	if (asprintf(&envp[m], "%s=%zu", CHANGED_COUNT_ENV, p->n) == -1 ||
	    asprintf(&envp[m + 1], "%s=%llu", GENERATION_ENV,
	    (unsigned long long)p->generation) == -1) {
		free(envp[m]);
		free(changed);
		free(envp);
		return NULL;
	}
	return envp;
}

/* Starts COMMAND for the names in p; the pid, or -1 (reported). */
static pid_t
spawn(struct cli *c, const char *path, char **argv, const struct pending *p,
    const sigset_t *oldmask)
{
	char **envp;
	size_t n;
	pid_t pid;

	if ((envp = run_env(p)) == NULL) {
		fprintf(stderr, "comfysecrets watch: out of memory\n");
		return -1;
	}
	fprintf(stderr, "comfysecrets watch: %zu changed (%s%s), generation %llu: running %s\n",
	    p->n, p->names[0], p->n > 1 ? " ..." : "", (unsigned long long)p->generation,
	    path);
	fflush(stderr);
	if ((pid = fork()) == 0) {
		sigprocmask(SIG_SETMASK, oldmask, NULL);
		umask(c->umask);
		execve(path, argv, envp);
		fprintf(stderr, "comfysecrets watch: %s: %s\n", path, strerror(errno));
		_exit(errno == ENOENT ? CLI_EXIT_NOTFOUND : CLI_EXIT_NOEXEC);
	}
	if (pid == -1)
		fprintf(stderr, "comfysecrets watch: cannot start %s: %s\n", path,
		    strerror(errno));
	for (n = 0; envp[n] != NULL; n++)
		;
	free(envp[n - 1]);
	free(envp[n - 2]);
	free(envp[n - 3]);
	free(envp);
	return pid;
}

static void
reap(pid_t *child, const char *path)
{
	int st;
	pid_t pid;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if (pid != *child)
			continue;
		*child = -1;
		if (WIFEXITED(st) && WEXITSTATUS(st) != 0)
			fprintf(stderr, "comfysecrets watch: %s exited with status %d\n", path,
			    WEXITSTATUS(st));
		else if (WIFSIGNALED(st))
			fprintf(stderr, "comfysecrets watch: %s was killed by signal %d (%s)\n",
			    path, WTERMSIG(st), strsignal(WTERMSIG(st)));
	}
}

/* A note for each name that is not in the vault now: a typo would never fire. */
static void
note_missing(struct cli *c, const struct watchsrc_name *names, size_t n)
{
	struct key *k = NULL;
	struct vault *v = NULL;
	struct cs_err e = { 0 };
	size_t i;

	if (vaultio_open_read(c->cfg, &k, &v, &e) == -1)
		return;
	for (i = 0; i < n; i++) {
		memset(&e, 0, sizeof e);
		if (vault_find(v, names[i].provider, names[i].field[0] ? names[i].field : NULL,
		    NULL, NULL, &e) == -1)
			fprintf(stderr, "comfysecrets watch: note: %s%s%s is not in the vault "
			    "(yet); its appearance will be a change\n", names[i].provider,
			    names[i].field[0] ? "/" : "", names[i].field);
	}
	vaultio_close(-1, k, v);
}

/* What `watch [--mount DIR] [NAME ...] -- COMMAND ...` was given. */
struct watch_args {
	struct watchsrc_name *names;	/* n of them, calloc'd; the caller frees */
	int		 n;
	int		 dd;		/* argv index of "--"; COMMAND is argv[dd + 1] */
	const char	*mount;		/* NULL: watch the vault file */
	const char	*first;		/* the first NAME as given, for the message */
};

/* Parses argv into wa. Returns -1 when it went well, or the exit status (help shown,
 * or usage said what is wrong). */
static int
watch_args(int argc, char **argv, struct watch_args *wa)
{
	struct cs_err e = { 0 };
	int i;

	*wa = (struct watch_args){ .dd = -1 };
	for (i = 1; i < argc && wa->dd == -1; i++) {
		if (strcmp(argv[i], "--") == 0)
			wa->dd = i;
		else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return cli_help("watch");
		else if (strcmp(argv[i], "--mount") == 0 && i + 1 < argc)
			wa->mount = argv[++i];
		else if (strncmp(argv[i], "--mount=", 8) == 0)
			wa->mount = argv[i] + 8;
		else if (argv[i][0] == '-')
			return cli_usage("watch", "unknown option (COMMAND comes after --)");
	}
	if (wa->dd == -1 || wa->dd + 1 >= argc)
		return cli_usage("watch", "needs -- COMMAND");
	if (wa->mount != NULL && wa->mount[0] == '\0')
		return cli_usage("watch", "--mount needs a folder");
	if ((wa->names = calloc((size_t)wa->dd, sizeof *wa->names)) == NULL)
		return cs_err_sys(&e, ENOMEM, "watch"), cli_fail(&e);
	for (i = 1; i < wa->dd; i++) {
		if (strcmp(argv[i], "--mount") == 0) {
			i++;
			continue;
		}
		if (strncmp(argv[i], "--mount=", 8) == 0)
			continue;
		if (wa->first == NULL)
			wa->first = argv[i];
		if (watchsrc_name_parse(argv[i], &wa->names[wa->n++], &e) == -1) {
			free(wa->names);
			wa->names = NULL;
			return cli_usage("watch", e.msg);
		}
	}
	return -1;
}

int
cmd_watch(struct cli *c, int argc, char **argv)
{
	struct watch_args wa;
	struct watchsrc *src = NULL;
	struct watchsrc_changes ch = { 0 };
	struct pending pend = { 0 };
	struct signalfd_siginfo si;
	struct pollfd pfd[2];
	struct cs_err e = { 0 };
	sigset_t mask, oldmask;
	char path[PATH_MAX];
	pid_t child = -1;
	const char *from;
	int sfd = -1, stopping = 0, rc = EXIT_FAIL, r;

	if ((r = watch_args(argc, argv, &wa)) != -1)
		return r;
	if (cli_find_command(argv[wa.dd + 1], path, &e) != 0)
		goto out;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGQUIT);
	sigprocmask(SIG_BLOCK, &mask, &oldmask);
	if ((sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)) == -1) {
		cs_err_sys(&e, errno, "watch: signalfd");
		goto out;
	}
	if (wa.mount != NULL ?
	    watchsrc_events_new(wa.mount, wa.names, (size_t)wa.n, &src, &e) == -1 :
	    watchsrc_vault_new(c->cfg, wa.names, (size_t)wa.n, &src, &e) == -1)
		goto out;
	if (wa.mount == NULL)
		note_missing(c, wa.names, (size_t)wa.n);
	from = wa.mount != NULL ? wa.mount : c->cfg->vault_path;
	if (wa.n == 0)
		fprintf(stderr, "comfysecrets watch: watching every field of %s for %s\n",
		    from, path);
	else
		fprintf(stderr, "comfysecrets watch: watching %d name%s (%s%s) of %s for %s\n",
		    wa.n, wa.n > 1 ? "s" : "", wa.first, wa.n > 1 ? " ..." : "", from, path);
	fflush(stderr);
	(void)sd_notify(0, "READY=1");
	pfd[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = watchsrc_fd(src), .events = POLLIN };
	for (;;) {
		if (poll(pfd, 2, watchsrc_timeout(src)) == -1 && errno != EINTR) {
			cs_err_sys(&e, errno, "watch: poll");
			goto out;
		}
		while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
			if (si.ssi_signo == SIGCHLD) {
				reap(&child, path);
				continue;
			}
			stopping = 1;
			if (child > 0)
				kill(child, (int)si.ssi_signo);
		}
		memset(&e, 0, sizeof e);
		if ((r = watchsrc_step(src, &ch, &e)) == -1 && e.code == ENOTCONN)
			goto out;	/* the mount's daemon stopped: nothing more will come */
		if (r == -1)
			fprintf(stderr, "comfysecrets watch: %s (nothing run; still watching)\n",
			    e.msg);
		if (r == 1 && pending_add(&pend, &ch) == -1) {
			cs_err_sys(&e, ENOMEM, "watch");
			goto out;
		}
		if (stopping && child <= 0)
			break;
		if (!stopping && child <= 0 && pend.n > 0) {
			child = spawn(c, path, argv + wa.dd + 1, &pend, &oldmask);
			pending_clear(&pend);
		}
	}
	rc = EXIT_OK;
out:
	if (rc != EXIT_OK && e.msg[0] != '\0')
		cli_fail(&e);
	watchsrc_changes_free(&ch);
	pending_clear(&pend);
	watchsrc_free(src);
	if (sfd != -1)
		close(sfd);
	free(wa.names);
	return rc;
}
