/* cli/cmd_audit.c - comfysecrets audit: show, follow and verify the audit log.
 *
 * The reading and the verifying are policy/audit.c's; this file only chooses what to
 * print. --verify also holds the log to the chain point the state file recorded, so
 * lines cut from the end are caught, not only edited ones.
 *
 * A line carries text callers chose (a process name, a host), and jansson writes C1
 * controls, DEL and bidirectional overrides as raw bytes: printed as they are, they
 * would drive the admin's terminal (U+009B is CSI) or reorder what it shows (U+202E).
 * Every line is printed through show(), which writes those as JSON \u escapes, so
 * the output is still the same JSON and never holds a control byte. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../crypto/file.h"
#include "../policy/auditread.h"
#include "../policy/state.h"
#include "cli.h"

#define AUDIT_LIMIT_DEFAULT	20		/* lines shown without --limit */
#define AUDIT_LIMIT_MAX		1000000		/* lines, a sanity bound */
#define FOLLOW_POLL_MS		200		/* how often --follow looks for new lines */

/* 1 when code point cp must not reach a terminal raw: C0, DEL, C1, and the format and
 * bidirectional controls (Unicode's Cf that change what is shown, and the separators). */
static int
hidden(unsigned cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0xad || cp == 0x061c ||
	    (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e) ||
	    (cp >= 0x2060 && cp <= 0x206f) || cp == 0xfeff || (cp >= 0xfff9 && cp <= 0xfffb);
}

/* Writes line p[len] and a newline to stdout, each hidden code point as \uXXXX and
 * each byte that is not UTF-8 as \xNN (a line with one is no audit line anyway). */
static int
show(const char *p, size_t len, struct cs_err *e)
{
	const unsigned char *s = (const unsigned char *)p;
	char out[4096 + 16];
	size_t i = 0, o = 0, n, k;
	unsigned cp, min;

	while (i < len) {
		if (s[i] < 0x80) {
			n = 1, cp = s[i], min = 0;
		} else if ((s[i] & 0xe0) == 0xc0) {
			n = 2, cp = s[i] & 0x1f, min = 0x80;
		} else if ((s[i] & 0xf0) == 0xe0) {
			n = 3, cp = s[i] & 0x0f, min = 0x800;
		} else if ((s[i] & 0xf8) == 0xf0) {
			n = 4, cp = s[i] & 0x07, min = 0x10000;
		} else {
			n = 0, cp = 0, min = 0;
		}
		for (k = 1; n != 0 && k < n; k++) {
			if (i + k >= len || (s[i + k] & 0xc0) != 0x80) {
				n = 0;
				break;
			}
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (n == 0 || cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
			o += (size_t)snprintf(out + o, sizeof out - o, "\\x%02x", s[i]);
			i++;
		} else if (hidden(cp)) {
			o += (size_t)snprintf(out + o, sizeof out - o, "\\u%04x", cp);
			i += n;
		} else {
			memcpy(out + o, s + i, n);
			o += n;
			i += n;
		}
		if (o >= 4096 && cli_write_all(STDOUT_FILENO, out, o, "stdout", e) == -1)
			return -1;
		if (o >= 4096)
			o = 0;
	}
	out[o++] = '\n';
	return cli_write_all(STDOUT_FILENO, out, o, "stdout", e);
}

/* Warns, on stderr, of each file beside the log named like it that --verify did not
 * read (audit_unread): the output must not suggest it was checked. A stray copy is not
 * part of the chain, so it is no failure; *n is how many. */
static int
warn_unread(const char *path, size_t *n, struct cs_err *e)
{
	char **msgs;
	size_t i;

	if (audit_unread(path, &msgs, n, e) == -1)
		return -1;
	for (i = 0; i < *n; i++)
		fprintf(stderr, "comfysecrets: warning: %s\n", msgs[i]);
	audit_lines_free(msgs, *n);
	return 0;
}

static int
verify(struct cli *c)
{
	struct audit_verify_result r = { 0 };
	struct cs_state st;
	struct cs_err e = { 0 }, ue = { 0 };
	uint64_t seq = 0;
	const char *hash = NULL;
	size_t unread = 0;
	int rc;

	if (state_read(c->cfg->state_dir, c->cfg->vault_path, &st, &e) == -1)
		return cli_fail(&e);
	if (st.audit_seq != 0 && strcmp(st.audit_path, c->cfg->audit_path) == 0) {
		seq = st.audit_seq;
		hash = st.audit_hash;
	}
	rc = audit_verify(c->cfg->audit_path, seq, hash, &r, &e);
	/* after a failure the warnings may still help; a listing refused is in e already */
	if (warn_unread(c->cfg->audit_path, &unread, &ue) == -1 && rc == 0)
		return cli_fail(&ue);
	if (rc == -1)
		return cli_fail(&e);
	printf("%s: %llu line%s", c->cfg->audit_path, (unsigned long long)r.lines,
	    r.lines == 1 ? "" : "s");
	if (r.files > 1)
		printf(" in %u files (rotated ones included)", r.files);
	printf(", chain intact");
	if (r.lines != 0)
		printf(", last seq %llu", (unsigned long long)r.last_seq);
	if (seq != 0)
		printf(", reaches seq %llu recorded in the state file", (unsigned long long)seq);
	if (unread != 0)
		printf("; %zu file%s named like it not read (see the warning%s)", unread,
		    unread == 1 ? "" : "s", unread == 1 ? "" : "s");
	printf("\n");
	return EXIT_OK;
}

/* The seq of an audit line ({"seq":N,...), or 0. */
static uint64_t
seq_of(const char *line, size_t len)
{
	static const char pre[] = "{\"seq\":";
	char num[24];
	size_t i;

	if (len < sizeof pre || memcmp(line, pre, sizeof pre - 1) != 0)
		return 0;
	for (i = 0; i < sizeof num - 1 && sizeof pre - 1 + i < len &&
	    line[sizeof pre - 1 + i] >= '0' && line[sizeof pre - 1 + i] <= '9'; i++)
		num[i] = line[sizeof pre - 1 + i];
	num[i] = '\0';
	return strtoull(num, NULL, 10);
}

/* Copies to stdout whatever is appended to the log fd (opened at path) from offset from
 * on, until killed, leaving out the lines up to seq after (the history already shown:
 * from was taken before it was read, so nothing written meanwhile is missed, and
 * nothing is shown twice). Each audit line is appended with one write, so a line
 * arrives whole. Like tail -F, it follows a rotation: once the old file is drained, a
 * new file at the path (rename) or a file shorter than what was read (copytruncate) is
 * read from its start. Takes fd. */
static int
follow(const char *path, int fd, off_t from, uint64_t after, struct cs_err *e)
{
	struct timespec ts = { 0, FOLLOW_POLL_MS * 1000000L };
	struct stat fst, pst;
	static char buf[AUDIT_LINE_MAX];	/* one line at most, being assembled */
	size_t have = 0, i, start;
	ssize_t n;
	int nfd, drained = 0;

	if (fstat(fd, &fst) == -1 || lseek(fd, from, SEEK_SET) == -1) {
		close(fd);
		return cs_err_sys(e, errno, "%s: seek", path);
	}
	for (;;) {
		/* Whole lines go through show(): a UTF-8 sequence is never cut in two. */
		while ((n = read(fd, buf + have, sizeof buf - have)) > 0) {
			have += (size_t)n;
			for (i = start = 0; i < have; i++) {
				if (buf[i] != '\n')
					continue;
				if (after != 0 && seq_of(buf + start, i - start) <= after) {
					start = i + 1;	/* shown with the history */
					continue;
				}
				after = 0;
				if (show(buf + start, i - start, e) == -1) {
					close(fd);
					return -1;
				}
				start = i + 1;
			}
			if (start == 0 && have == sizeof buf) {
				/* longer than any audit line: shown in pieces */
				if (show(buf, have, e) == -1) {
					close(fd);
					return -1;
				}
				start = have;
			}
			memmove(buf, buf + start, have - start);
			have -= start;
		}
		if (n < 0 && errno != EINTR) {
			close(fd);
			return cs_err_sys(e, errno, "%s: read", path);
		}
		if (fstat(fd, &fst) == 0 && fst.st_size < lseek(fd, 0, SEEK_CUR))
			lseek(fd, 0, SEEK_SET);		/* truncated: start again */
		else if (stat(path, &pst) == 0 && (pst.st_ino != fst.st_ino ||
		    pst.st_dev != fst.st_dev)) {
			/* Renamed: drain the old file once more (a writer may have put a
			 * line there before it moved on), then read the new one. */
			if (!drained) {
				drained = 1;
				continue;
			}
			if ((nfd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) != -1) {
				close(fd);
				fd = nfd;
				drained = 0;
				continue;
			}
		}
		nanosleep(&ts, NULL);
	}
}

int
cmd_audit(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "limit", required_argument, NULL, 'l' }, { "verify", no_argument, NULL, 'v' },
		{ "follow", no_argument, NULL, 'f' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct cs_err e = { 0 };
	struct stat st;
	char **lines = NULL, *end;
	size_t n = 0, i;
	uint64_t after;
	unsigned long limit = AUDIT_LIMIT_DEFAULT;
	int ch, do_verify = 0, do_follow = 0, rc = EXIT_OK, fd = -1;

	while ((ch = getopt_long(argc, argv, "+h", lo, NULL)) != -1) {
		switch (ch) {
		case 'l':
			errno = 0;
			limit = strtoul(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' || optarg[0] == '-' ||
			    limit > AUDIT_LIMIT_MAX)
				return cli_usage("audit", "--limit takes a whole number "
				    "from 0 to 1000000");
			break;
		case 'v': do_verify = 1; break;
		case 'f': do_follow = 1; break;
		case 'h': return cli_help("audit");
		default: return cli_usage("audit", NULL);
		}
	}
	if (optind != argc)
		return cli_usage("audit", "takes no operands");
	if (do_verify && do_follow)
		return cli_usage("audit", "--verify and --follow do not go together");
	if (do_verify)
		return verify(c);
	/* --follow: where the log ends before the history is read. A regular file only:
	 * a FIFO there would hang the open, and reading one would take lines from whoever
	 * the log is meant for. */
	if (do_follow && file_open_regular(c->cfg->audit_path, "audit log", &fd, &st,
	    &e) == -1)
		return cli_fail(&e);
	if (audit_tail_rotated(c->cfg->audit_path, limit, &lines, &n, &e) == -1) {
		if (fd != -1)
			close(fd);
		return cli_fail(&e);
	}
	for (i = 0; i < n && rc == EXIT_OK; i++)
		if (show(lines[i], strlen(lines[i]), &e) == -1)
			rc = cli_fail(&e);
	after = n > 0 ? seq_of(lines[n - 1], strlen(lines[n - 1])) : 0;
	audit_lines_free(lines, n);
	if (rc != EXIT_OK || !do_follow) {
		if (fd != -1)
			close(fd);
		return rc;
	}
	if (follow(c->cfg->audit_path, fd, st.st_size, after, &e) == -1)
		rc = cli_fail(&e);
	return rc;
}
