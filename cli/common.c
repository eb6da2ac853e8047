/* cli/common.c - what the subcommands share: auditing as this process, reading a value
 * from stdin or a terminal, writing all of a buffer. How the vault is opened, saved and
 * rotated is policy/vaultio.c, shared with the daemon. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "../policy/state.h"
#include "cli.h"

#define COMM_MAX	16	/* bytes of /proc/self/comm, as the kernel keeps it */

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

int
cli_audit_open(struct cli *c, struct audit **a, struct cs_err *e)
{
	return audit_open(c->cfg->audit_path, c->cfg->audit_flush, c->cfg->audit_timeout_ms,
	    a, e);
}

int
cli_audit_put(struct cli *c, struct audit *a, struct audit_event *ev, struct cs_err *e)
{
	char comm[COMM_MAX + 1], hash[AUDIT_HASH_HEX + 1];
	uint64_t seq;

	self_comm(comm);
	ev->pid = getpid();
	ev->uid = getuid();
	ev->gid = getgid();
	ev->comm = comm;
	ev->via = "cli";
	if (audit_append(a, ev, e) == -1)
		return -1;
	audit_last(a, &seq, hash);
	return state_advance_audit(c->cfg->state_dir, c->cfg->vault_path, seq, hash,
	    c->cfg->audit_path, e);
}

int
cli_audit(struct cli *c, struct audit_event *ev, struct cs_err *e)
{
	struct audit *a = NULL;
	int rc = -1;

	if (cli_audit_open(c, &a, e) == 0)
		rc = cli_audit_put(c, a, ev, e);
	audit_close(a);
	return rc;
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
	const unsigned char *b = p;
	ssize_t n;

	while (len > 0) {
		n = write(fd, b, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return cs_err_sys(e, errno, "%s", what);
		}
		b += n;
		len -= (size_t)n;
	}
	return 0;
}
