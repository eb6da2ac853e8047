/* cli/common.c - what the subcommands share: auditing as this process, reading a value
 * from stdin or a terminal, writing all of a buffer. How the vault is opened, saved and
 * rotated is policy/vaultio.c, shared with the daemon. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "../base/file.h"
#include "../policy/state.h"
#include "cli.h"

#define COMM_MAX	16	/* bytes of /proc/self/comm, as the kernel keeps it */
#define DEFAULT_PATH	"/bin:/usr/bin"	/* execvp's, when PATH is unset */

static void
self_comm(char comm[COMM_MAX + 1])
{
	ssize_t n = -1;
	int fd;

	if ((fd = open("/proc/self/comm", O_RDONLY | O_CLOEXEC)) != -1) {
		n = read(fd, comm, COMM_MAX);
		close(fd);
	}
	if (n <= 0) {
		snprintf(comm, COMM_MAX + 1, "comfysecrets");
		return;
	}
	comm[n] = '\0';
	comm[strcspn(comm, "\n")] = '\0';
}

/* The log as every reader of the config opens it: for cli_audit_n. */
static int
audit_open_cfg(struct cli *c, struct audit **a, struct cs_err *e)
{
	return audit_open(c->cfg->audit_path, c->cfg->audit_flush, c->cfg->audit_timeout_ms,
	    a, e);
}

int
cli_audit_open(struct cli *c, struct audit **a, struct cs_err *e)
{
	enum audit_flush f = c->cfg->audit_flush;

	return audit_open(c->cfg->audit_path, f == AUDIT_FLUSH_NONE ? f : AUDIT_FLUSH_SYNC,
	    c->cfg->audit_timeout_ms, a, e);
}

/* Appends ev[0..n) to a, filling in this process's ids (and its name and "cli" where
 * the caller set none), then moves the state file's audit point to the last line. */
static int
audit_put_n(struct cli *c, struct audit *a, struct audit_event *ev, size_t n,
    struct cs_err *e)
{
	char comm[COMM_MAX + 1], hash[AUDIT_HASH_HEX + 1];
	uint64_t seq;
	size_t i;

	self_comm(comm);
	for (i = 0; i < n; i++) {
		ev[i].pid = getpid();
		ev[i].uid = getuid();
		ev[i].gid = getgid();
		if (ev[i].comm == NULL)
			ev[i].comm = comm;
		if (ev[i].via == NULL)
			ev[i].via = "cli";
	}
	for (i = 0; i < n; i++)
		if (audit_append(a, &ev[i], e) == -1)
			return -1;
	audit_last(a, &seq, hash);
	return state_advance_audit(c->cfg->state_dir, c->cfg->vault_path, seq, hash,
	    c->cfg->audit_path, e);
}

int
cli_audit_put(struct cli *c, struct audit *a, struct audit_event *ev, struct cs_err *e)
{
	return audit_put_n(c, a, ev, 1, e);
}

int
cli_change_precommit(void *arg, struct cs_err *e)
{
	struct cli_change *ch = arg;
	struct cs_err ae = { 0 };
	int rc;

	rc = ch->lines != NULL ? ch->lines(ch, &ae) : cli_audit_put(ch->c, ch->a, ch->ev, &ae);
	if (rc == -1)
		return cs_err_set(e, ae.code, "%s not %s: its audit line could not be written, "
		    "so the change was not saved: %s", ch->what, ch->done, ae.msg);
	ch->logged = 1;
	ch->gen = vault_generation(ch->v);
	return 0;
}

void
cli_change_failed(const struct cli_change *ch, struct cs_err *e)
{
	struct cs_err was = *e;

	if (!ch->logged)
		return;
	cs_err_clear(e);	/* the first error is kept otherwise (base/err.h) */
	/* A save that fails before the rename puts the generation back (vault_save_then). */
	if (vault_generation(ch->v) == ch->gen)
		cs_err_set(e, was.code, "%s WAS %s (vault generation %llu) and its audit line "
		    "written, but: %s", ch->what, ch->done, (unsigned long long)ch->gen,
		    was.msg);
	else
		cs_err_set(e, was.code, "%s not %s: %s (its audit line was written first: the "
		    "log records a change that was not saved)", ch->what, ch->done, was.msg);
}

int
cli_audit_n(struct cli *c, struct audit_event *ev, size_t n, struct cs_err *e)
{
	struct audit *a = NULL;
	int rc = -1;

	if (audit_open_cfg(c, &a, e) == 0)
		rc = audit_put_n(c, a, ev, n, e);
	audit_close(a);
	return rc;
}

int
cli_audit(struct cli *c, struct audit_event *ev, struct cs_err *e)
{
	return cli_audit_n(c, ev, 1, e);
}

/* One line typed at the terminal, echo off, into guarded memory. */
static int
read_tty(const char *what, size_t max, struct secret **out, struct cs_err *e)
{
	struct termios old, quiet;
	struct secret *s;
	size_t len = 0;
	ssize_t n;
	char c;
	int err = 0, rc = -1;

	if ((s = secret_new(max)) == NULL)
		return cs_err_sys(e, ENOMEM, "%s", what);
	if (tcgetattr(STDIN_FILENO, &old) == -1) {
		secret_free(s);
		return cs_err_sys(e, errno, "%s: terminal", what);
	}
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	/* As readpassphrase(3) with RPP_ECHO_OFF: a value is never read with echo on.
	 * tcsetattr() succeeds when any one change is made, so the result is read back. */
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == -1 ||
	    tcgetattr(STDIN_FILENO, &quiet) == -1)
		err = errno;
	else if ((quiet.c_lflag & ECHO) != 0)
		err = EIO;
	if (err != 0) {
		cs_err_sys(e, err, "%s: cannot turn the terminal's echo off", what);
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);	/* best effort: failing already */
		secret_free(s);
		return -1;
	}
	fprintf(stderr, "Value for %s (not echoed): ", what);
	fflush(stderr);
	for (;;) {
		n = read(STDIN_FILENO, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || c == '\n')
			break;
		if (len == max) {
			cs_err_set(e, EFBIG, "%s: over the limit of %zu bytes", what, max);
			goto out;
		}
		s->buf[len++] = (unsigned char)c;
	}
	if (n < 0) {
		cs_err_sys(e, errno, "%s: terminal", what);
		goto out;
	}
	s->len = len;
	*out = s;
	s = NULL;
	rc = 0;
out:
	c = 0;
	(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	fputc('\n', stderr);
	secret_free(s);
	return rc;
}

static int
too_big(const char *what, size_t max, struct cs_err *e)
{
	return cs_err_set(e, EFBIG, "value for %s is over the limit of %zu bytes "
	    "(max_value_size)", what, max);
}

int
cli_read_value(const char *what, size_t max, int raw, struct secret **out, struct cs_err *e)
{
	struct secret *s;
	struct cs_err re = { 0 };

	if (isatty(STDIN_FILENO))
		return read_tty(what, max, out, e);
	/* Two bytes of slack for the line end that is dropped (CRLF); the limit named in
	 * an error is the configured one, not max + 2. */
	if (secret_read_fd(STDIN_FILENO, max + 2, what, &s, &re) == -1) {
		if (re.code == EFBIG)
			return too_big(what, max, e);
		return cs_err_set(e, re.code, "%s", re.msg);
	}
	/* One line end, LF or CRLF: a value saved by a Windows editor ends in "\r\n", and
	 * the \r is no more part of the value than the \n (import reads it the same way). */
	if (!raw && s->len > 0 && s->buf[s->len - 1] == '\n') {
		s->buf[--s->len] = 0;
		if (s->len > 0 && s->buf[s->len - 1] == '\r')
			s->buf[--s->len] = 0;
	}
	if (s->len > max) {
		secret_free(s);
		return too_big(what, max, e);
	}
	*out = s;
	return 0;
}

int
cli_write_all(int fd, const void *p, size_t len, const char *what, struct cs_err *e)
{
	if (file_write_all(fd, p, len, NULL) == -1)
		return cs_err_sys(e, errno, "%s", what);
	return 0;
}

int
cli_find_command(const char *cmd, char *out, struct cs_err *e)
{
	const char *path = getenv("PATH"), *p, *end;
	struct stat st;
	size_t dlen;
	int seen = 0, n, err;

	if (cmd[0] == '\0')
		return cs_err_set(e, ENOENT, "the command is an empty string"),
		    CLI_EXIT_NOTFOUND;
	if (strchr(cmd, '/') != NULL) {
		if (snprintf(out, PATH_MAX, "%s", cmd) >= PATH_MAX)
			return cs_err_set(e, ENAMETOOLONG, "%.64s...: path too long", cmd),
			    CLI_EXIT_NOTFOUND;
		if (stat(out, &st) == -1) {
			err = errno;
			cs_err_sys(e, err, "%s", cmd);
			return err == ENOENT || err == ENOTDIR ? CLI_EXIT_NOTFOUND :
			    CLI_EXIT_NOEXEC;
		}
		if (!S_ISREG(st.st_mode) || access(out, X_OK) == -1)
			return cs_err_set(e, EACCES, "%s: not an executable file", cmd),
			    CLI_EXIT_NOEXEC;
		return 0;
	}
	if (path == NULL)
		path = DEFAULT_PATH;
	for (p = path;; p = end + 1) {
		end = strchrnul(p, ':');
		dlen = (size_t)(end - p);
		/* An empty entry is the current folder, as the shell reads PATH. */
		n = dlen == 0 ? snprintf(out, PATH_MAX, "%s", cmd) :
		    snprintf(out, PATH_MAX, "%.*s/%s", (int)dlen, p, cmd);
		if (n < PATH_MAX && stat(out, &st) == 0) {
			if (S_ISREG(st.st_mode) && access(out, X_OK) == 0)
				return 0;
			seen = 1;
		}
		if (*end == '\0')
			break;
	}
	if (seen)
		return cs_err_set(e, EACCES, "%s: found on PATH, but not an executable file",
		    cmd), CLI_EXIT_NOEXEC;
	return cs_err_set(e, ENOENT, "%s: command not found (PATH=%.200s)", cmd, path),
	    CLI_EXIT_NOTFOUND;
}
