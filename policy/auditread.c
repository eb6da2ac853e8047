/* policy/auditread.c - reading the audit log back: audit_tail(), audit_tail_rotated(),
 * audit_verify(); see auditread.h. The writer is audit.c.
 *
 * Lines are read forwards through a bounded buffer (struct lines) or backwards in chunks
 * (tail_start); rotated files are found by listing the log's folder, and a .gz one is
 * read through gzip -dc. A rotated file compressed otherwise is refused where it is to
 * be read, never passed over; other files named like the log are listed by
 * audit_unread(), for the caller to say they were not read. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "auditread.h"

#define READ_CHUNK	(64u * 1024)	/* bytes read at a time when scanning backwards */

void
audit_line_hash(const char *p, size_t len, char hex[AUDIT_HASH_HEX + 1])
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, (const unsigned char *)p, len);
	sodium_bin2hex(hex, AUDIT_HASH_HEX + 1, h, sizeof h);
}

int
audit_read_at(int fd, char *buf, size_t len, off_t off)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = pread(fd, buf + got, len - got, off + (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = EIO;	/* truncated under us: someone is not taking the lock */
			return -1;
		}
		got += (size_t)n;
	}
	return 0;
}

/* Opens a log to read it back: no symlink, regular files only. */
static int
open_read(const char *path, struct stat *st, struct cs_err *e)
{
	struct stat lst;
	int fd;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd == -1) {
		if (errno == ELOOP && lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode))
			return cs_err_set(e, ELOOP, "%s: is a symbolic link; the audit log is "
			    "never opened through one", path);
		return cs_err_sys(e, errno, "%s", path);
	}
	if (fstat(fd, st) == -1) {
		cs_err_sys(e, errno, "%s", path);
		close(fd);
		return -1;
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return cs_err_set(e, EINVAL, "%s: not a regular file; a FIFO or device log "
		    "cannot be read back", path);
	}
	return fd;
}

void
audit_lines_free(char **lines, size_t n)
{
	size_t i;

	if (lines == NULL)
		return;
	for (i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
}

/* Where the last limit lines of fd (size bytes) start, scanning back in chunks. */
static int
tail_start(int fd, off_t size, size_t limit, off_t *start)
{
	char *buf;
	off_t pos = size;
	size_t n, i, found = 0;
	char last;

	*start = 0;
	if (size == 0)
		return 0;
	if (audit_read_at(fd, &last, 1, size - 1) == -1)
		return -1;
	if (last == '\n')
		pos = size - 1;	/* the last line's own newline ends it; no line after it */
	if ((buf = malloc(READ_CHUNK)) == NULL)
		return -1;
	while (pos > 0) {
		n = pos < (off_t)READ_CHUNK ? (size_t)pos : READ_CHUNK;
		pos -= (off_t)n;
		if (audit_read_at(fd, buf, n, pos) == -1) {
			free(buf);
			return -1;
		}
		for (i = n; i > 0; i--) {
			if (buf[i - 1] == '\n' && ++found == limit) {
				*start = pos + (off_t)i;
				free(buf);
				return 0;
			}
		}
	}
	free(buf);
	return 0;
}

int
audit_tail(const char *path, size_t limit, char ***lines, size_t *n, struct cs_err *e)
{
	struct stat st;
	off_t start;
	char *buf = NULL, *p, *end, *nl, **v = NULL;
	size_t len, cap = 0, cnt = 0;
	int fd, rc = -1;

	*lines = NULL;
	*n = 0;
	if ((fd = open_read(path, &st, e)) == -1)
		return -1;
	if (limit == 0 || st.st_size == 0) {
		start = st.st_size;
	} else if (tail_start(fd, st.st_size, limit, &start) == -1) {
		cs_err_sys(e, errno, "%s: read", path);
		goto out;
	}
	len = (size_t)(st.st_size - start);
	if ((buf = malloc(len + 1)) == NULL) {
		cs_err_sys(e, ENOMEM, "%s", path);
		goto out;
	}
	if (audit_read_at(fd, buf, len, start) == -1) {
		cs_err_sys(e, errno, "%s: read", path);
		goto out;
	}
	for (p = buf, end = buf + len; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if (cnt + 1 >= cap) {
			char **nv;
			cap = cap == 0 ? 64 : cap * 2;
			if ((nv = realloc(v, cap * sizeof *v)) == NULL) {
				cs_err_sys(e, ENOMEM, "%s", path);
				goto out;
			}
			v = nv;
		}
		if ((v[cnt] = strndup(p, (size_t)(nl - p))) == NULL) {
			cs_err_sys(e, ENOMEM, "%s", path);
			goto out;
		}
		cnt++;
	}
	if (v == NULL && (v = calloc(1, sizeof *v)) == NULL) {
		cs_err_sys(e, ENOMEM, "%s", path);
		goto out;
	}
	v[cnt] = NULL;
	*lines = v;
	*n = cnt;
	v = NULL;
	rc = 0;
out:
	audit_lines_free(v, cnt);
	free(buf);
	close(fd);
	return rc;
}

/* A line-at-a-time reader over a file, holding at most AUDIT_LINE_MAX bytes per line. */
struct lines {
	int	 fd;
	char	*buf;
	size_t	 start, end;	/* unread bytes are buf[start..end) */
	int	 eof;
};

#define LINES_BUF	(2 * AUDIT_LINE_MAX)

/* 1: a line (*p, *len, newline not included; *nl says whether it had one),
 * 0: end of file, -1: read error (errno), -2: a line longer than AUDIT_LINE_MAX. */
static int
next_line(struct lines *r, const char **p, size_t *len, int *nl)
{
	char *q;
	ssize_t n;

	for (;;) {
		q = memchr(r->buf + r->start, '\n', r->end - r->start);
		if (q != NULL) {
			*p = r->buf + r->start;
			*len = (size_t)(q - *p);
			*nl = 1;
			r->start += *len + 1;
			return *len + 1 > AUDIT_LINE_MAX ? -2 : 1;
		}
		if (r->end - r->start >= AUDIT_LINE_MAX)
			return -2;
		if (r->eof) {
			if (r->end == r->start)
				return 0;
			*p = r->buf + r->start;
			*len = r->end - r->start;
			*nl = 0;
			r->start = r->end;
			return 1;
		}
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
		n = read(r->fd, r->buf + r->end, LINES_BUF - r->end);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			r->eof = 1;
		r->end += (size_t)n;
	}
}

/* Where the chain stands while a set of files is verified. */
struct vstate {
	uint64_t	seq;			/* the last line's seq; 0: no line yet */
	char		hash[AUDIT_HASH_HEX + 1];
	const char	*prevfile;		/* the file the last line was in */
	int		started;		/* a line was read */
};

/* One line (line ln of file path) against the chain so far. The set's first line may
 * be an audit_log_continued one: the files before it were rotated away. */
static int
check_line(const char *path, uint64_t ln, const char *p, size_t len, struct vstate *vs,
    struct cs_err *e)
{
	char why[CS_JSON_REASON_BUF];
	json_error_t jerr;
	json_t *root, *v, *ev;
	json_int_t s;
	int rc = -1, first_of_file = ln == 1 && vs->started;

	if ((root = json_loadb(p, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		/* The excerpt jansson quotes is raw bytes of the line: an edited log could
		 * carry terminal escapes to the admin's screen (cs_json_reason cuts it). */
		return cs_err_set(e, EBADMSG, "%s: line %llu: not JSON: %s", path,
		    (unsigned long long)ln, cs_json_reason(jerr.text, why, sizeof why));
	}
	if (!json_is_object(root)) {
		cs_err_set(e, EBADMSG, "%s: line %llu: not a JSON object", path,
		    (unsigned long long)ln);
		goto out;
	}
	ev = json_object_get(root, "event");
	v = json_object_get(root, "seq");
	if (!json_is_integer(v) || (s = json_integer_value(v)) < 1) {
		cs_err_set(e, EBADMSG, "%s: line %llu: no seq", path, (unsigned long long)ln);
		goto out;
	}
	if (!vs->started && s > 1 && json_is_string(ev) &&
	    strcmp(json_string_value(ev), "audit_log_continued") == 0 &&
	    json_is_string(json_object_get(root, "prev")) &&
	    strlen(json_string_value(json_object_get(root, "prev"))) == AUDIT_HASH_HEX) {
		/* Taken on trust: the lines before it are gone with older files. */
		vs->seq = (uint64_t)s - 1;
		snprintf(vs->hash, sizeof vs->hash, "%s",
		    json_string_value(json_object_get(root, "prev")));
	}
	if ((uint64_t)s != vs->seq + 1) {
		if (first_of_file && (uint64_t)s > vs->seq + 1)
			cs_err_set(e, EBADMSG, "%s: line 1: seq %lld, but %s ended at seq %llu: "
			    "%llu lines lost between the files (written while copytruncate "
			    "copied, or cut from the end of the file before)", path, (long long)s, vs->prevfile,
			    (unsigned long long)vs->seq,
			    (unsigned long long)((uint64_t)s - vs->seq - 1));
		else
			cs_err_set(e, EBADMSG, "%s: line %llu: seq %lld, expected %llu", path,
			    (unsigned long long)ln, (long long)s,
			    (unsigned long long)(vs->seq + 1));
		goto out;
	}
	v = json_object_get(root, "prev");
	if (!json_is_string(v)) {
		cs_err_set(e, EBADMSG, "%s: line %llu: no prev", path, (unsigned long long)ln);
		goto out;
	}
	if (strcmp(json_string_value(v), vs->hash) != 0) {
		if (!vs->started)
			cs_err_set(e, EBADMSG, "%s: line 1: prev is not 64 zeros (the log does "
			    "not start at the head of a chain)", path);
		else if (first_of_file)
			cs_err_set(e, EBADMSG, "%s: line 1: prev does not match the hash of "
			    "the last line of %s (edited, removed or replaced file)", path,
			    vs->prevfile);
		else
			cs_err_set(e, EBADMSG, "%s: line %llu: prev does not match the hash of "
			    "line %llu (edited, removed or reordered line)", path,
			    (unsigned long long)ln, (unsigned long long)(ln - 1));
		goto out;
	}
	if (!json_is_string(ev)) {
		cs_err_set(e, EBADMSG, "%s: line %llu: no event", path, (unsigned long long)ln);
		goto out;
	}
	/* A writer found lines gone from the end of the file (see audit.h): the chain
	 * goes on, but the record it holds is incomplete, for as long as this is kept. */
	if (strcmp(json_string_value(ev), "audit_lines_missing") == 0) {
		char shown[CS_SHOW_BUF(256)];

		v = json_object_get(root, "detail");
		cs_err_set(e, EBADMSG, "%s: line %llu: audit_lines_missing: %s", path,
		    (unsigned long long)ln, json_is_string(v) ? cs_show(json_string_value(v),
		    strlen(json_string_value(v)), 256, shown, sizeof shown) : "(no detail)");
		goto out;
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}

/* How a rotated file is stored, in the order one is taken over another of the same
 * number or date: as written (a compressor still running leaves both for a moment),
 * compressed other than with gzip (so that it fails, see unreadable()), then gzip. Only
 * gzip is read (through gzip -dc): it is logrotate's default compresscmd. */
enum comp {
	COMP_NONE,
	COMP_OTHER,	/* compresscmd xz, bzip2, zstd, lz4...: .xz, .bz2, .zst, .lz4 */
	COMP_GZIP,
};

/* A rotated file compressed other than with gzip (compresscmd xz, bzip2, zstd...): part
 * of the chain, and not read here. Skipping it would check the set without its lines. */
static int
unreadable(const char *path, struct cs_err *e)
{
	const char *dot = strrchr(path, '.');

	return cs_err_set(e, ENOTSUP, "%s: a rotated log compressed as %s, which comfysecrets "
	    "cannot read (gzip only, logrotate's default compresscmd): decompress it", path,
	    dot != NULL ? dot + 1 : "?");
}

/* Opens a rotated, gzip-compressed log through `gzip -dc`: its output on a pipe. */
static int
open_gz(const char *path, pid_t *pid, struct cs_err *e)
{
	char *argv[] = { "gzip", "-dc", "--", (char *)path, NULL };
	posix_spawn_file_actions_t fa;
	int p[2], rc;

	if (pipe2(p, O_CLOEXEC) == -1)
		return cs_err_sys(e, errno, "%s", path);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], STDOUT_FILENO);
	posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
	rc = posix_spawnp(pid, "gzip", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (rc != 0) {
		close(p[0]);
		return cs_err_sys(e, rc, "%s: cannot run gzip to read it", path);
	}
	return p[0];
}

/* Verifies one file of the set, going on from vs. */
static int
verify_file(const char *path, enum comp c, uint64_t expect_seq, const char *expect_hash,
    struct vstate *vs, struct audit_verify_result *res, struct cs_err *e)
{
	struct lines rd = { .fd = -1 };
	struct stat st;
	const char *p;
	size_t len;
	uint64_t ln = 0;
	pid_t pid = -1;
	int nl, got, status, rc = -1;

	if (c == COMP_OTHER) {
		snprintf(res->bad_file, sizeof res->bad_file, "%s", path);
		return unreadable(path, e);
	}
	if ((rd.fd = c == COMP_GZIP ? open_gz(path, &pid, e) : open_read(path, &st, e)) == -1)
		return -1;
	if ((rd.buf = malloc(LINES_BUF)) == NULL) {
		cs_err_sys(e, ENOMEM, "%s", path);
		goto out;
	}
	while ((got = next_line(&rd, &p, &len, &nl)) == 1) {
		res->lines++;
		ln++;
		if (check_line(path, ln, p, len, vs, e) == -1)
			goto bad;
		if (!nl) {
			cs_err_set(e, EBADMSG, "%s: line %llu: no newline at the end (a torn "
			    "write?)", path, (unsigned long long)ln);
			goto bad;
		}
		vs->seq++;
		if (!vs->started)
			res->first_seq = vs->seq;
		vs->started = 1;
		vs->prevfile = path;
		audit_line_hash(p, len, vs->hash);
		if (expect_seq != 0 && vs->seq == expect_seq && expect_hash != NULL &&
		    expect_hash[0] != '\0' && strcmp(vs->hash, expect_hash) != 0) {
			cs_err_set(e, EBADMSG, "%s: line %llu: seq %llu is not the line the "
			    "state file recorded (edited or replaced)", path,
			    (unsigned long long)ln, (unsigned long long)vs->seq);
			goto bad;
		}
	}
	if (got == -1) {
		cs_err_sys(e, errno, "%s: read", path);
		goto out;
	}
	if (got == -2) {
		ln++;
		cs_err_set(e, EBADMSG, "%s: line %llu: longer than %u bytes", path,
		    (unsigned long long)ln, AUDIT_LINE_MAX);
		goto bad;
	}
	rc = 0;
	goto out;
bad:
	res->bad_line = ln;
	snprintf(res->bad_file, sizeof res->bad_file, "%s", path);
out:
	if (rd.fd != -1)
		close(rd.fd);
	free(rd.buf);
	if (pid > 0 && waitpid(pid, &status, 0) == pid && rc == 0 &&
	    !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		rc = cs_err_set(e, EIO, "%s: gzip could not decompress it", path);
	return rc;
}

#define DATE_DIGITS_MIN	8	/* digits in a dateext date at least: -%Y%m%d */

/* The rotated files of the log at path, found by listing its folder (rotated_list):
 * <base>.N[.EXT], N from 1 to AUDIT_ROTATED_MAX written without leading zeros, or
 * logrotate's dateext names (logrotate(8), dateext, dateformat) <base>-DATE[.EXT], DATE
 * made of digits (DATE_DIGITS_MIN at least) and the separators - _ . (-%Y%m%d, the
 * default; -%Y%m%d%H; -%Y%m%d-%H%M%S; -%Y-%m-%d). EXT is the compression (enum comp).
 * Dated files are numbered here newest first, 1, 2, ..., as numbered ones are: by DATE
 * as text, which logrotate requires to be their age, so every DATE of a set must have
 * one shape (digits and the same separators in the same places). A folder holding both
 * kinds, or two shapes, is refused: which comes first is not known. name[N] is NULL
 * where no file has that number. Of two files with one number or date, the one first
 * in enum comp is taken; the other goes to unread, as does every other name beginning
 * with <base>. or <base>-, so that the caller can say what was not read. */
struct rotated {
	char		**name;		/* [AUDIT_ROTATED_MAX + 1], name[0] unused */
	unsigned char	*comp;		/* enum comp of name[N] */
	unsigned	 max;		/* the highest N found; 0: none */
	unsigned	 over;		/* files numbered above AUDIT_ROTATED_MAX */
	char		**unread;	/* "PATH: not read: WHY", NULL-terminated, by name */
	size_t		 nunread;
};

/* A dated file seen while listing: its path, and its date (within path). */
struct dated {
	char		*path;
	const char	*date;
	size_t		 len;		/* of date */
	enum comp	 comp;
};

static void
rotated_free(struct rotated *rs)
{
	unsigned i;

	if (rs->name != NULL)
		for (i = 0; i <= rs->max; i++)
			free(rs->name[i]);
	free(rs->name);
	free(rs->comp);
	audit_lines_free(rs->unread, rs->nunread);
	memset(rs, 0, sizeof *rs);
}

/* Adds a message to rs->unread. Returns 0, or -1 (no memory). */
static int __attribute__((format(printf, 2, 3)))
add_unread(struct rotated *rs, const char *fmt, ...)
{
	va_list ap;
	char **nv, *m;
	int rc;

	va_start(ap, fmt);
	rc = vasprintf(&m, fmt, ap);
	va_end(ap);
	if (rc == -1)
		return -1;
	if ((nv = realloc(rs->unread, (rs->nunread + 2) * sizeof *nv)) == NULL) {
		free(m);
		return -1;
	}
	rs->unread = nv;
	rs->unread[rs->nunread++] = m;
	rs->unread[rs->nunread] = NULL;
	return 0;
}

/* ASCII classes of a rotated name, whatever the locale. */
static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* The compression of a rotated file from what follows its number or date: nothing, or
 * .EXT with EXT a letter, then letters and digits (.gz, .xz, .bz2, .zst, .lz4). Returns
 * 0, or -1 when rest is neither (audit.log.1~, audit.log.1.gz.tmp: not rotated names). */
static int
ext_comp(const char *rest, enum comp *c)
{
	size_t i;

	*c = COMP_NONE;
	if (rest[0] == '\0')
		return 0;
	if (rest[0] != '.' || !is_alpha(rest[1]))
		return -1;
	for (i = 2; rest[i] != '\0'; i++)
		if (!is_alpha(rest[i]) && !is_digit(rest[i]))
			return -1;
	*c = strcmp(rest, ".gz") == 0 ? COMP_GZIP : COMP_OTHER;
	return 0;
}

/* N of a numbered file from what follows <base>. (1 to ULONG_MAX, which stands for any
 * larger), with *c its compression; 0 when s is not one (audit.log.0, .01, .bak). */
static unsigned long
numbered_suffix(const char *s, enum comp *c)
{
	unsigned long k;
	char *q;

	if (s[0] < '1' || s[0] > '9')
		return 0;
	errno = 0;
	k = strtoul(s, &q, 10);
	if (ext_comp(q, c) == -1)
		return 0;
	return errno != 0 ? ULONG_MAX : k;
}

/* The length of the date in what follows <base>- (see struct rotated), with *c its
 * compression; 0 when s is not a dateext suffix (audit.log-old, audit.log-1). A dot
 * before letters starts the extension; before a digit it is a separator. */
static size_t
dated_suffix(const char *s, enum comp *c)
{
	const char *dot = strrchr(s, '.');
	size_t n = strlen(s), i, digits = 0;

	*c = COMP_NONE;
	if (dot != NULL && ext_comp(dot, c) == 0)
		n = (size_t)(dot - s);
	for (i = 0; i < n; i++) {
		if (is_digit(s[i]))
			digits++;
		else if (s[i] != '-' && s[i] != '_' && s[i] != '.')
			return 0;
	}
	return digits >= DATE_DIGITS_MIN ? n : 0;
}

/* Two dates of one format: digits, and the same separators, in the same places. */
static int
same_shape(const struct dated *a, const struct dated *b)
{
	size_t i;

	if (a->len != b->len)
		return 0;
	for (i = 0; i < a->len; i++)
		if (is_digit(a->date[i]) != is_digit(b->date[i]) ||
		    (!is_digit(a->date[i]) && a->date[i] != b->date[i]))
			return 0;
	return 1;
}

/* Newest first: the later date as text, and for one date the file taken first (enum
 * comp). Dates of different lengths are kept apart (rotated_dated refuses them). */
static int
dated_cmp(const void *x, const void *y)
{
	const struct dated *a = x, *b = y;
	int c;

	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	c = strncmp(b->date, a->date, a->len);
	return c != 0 ? c : (int)a->comp - (int)b->comp;
}

/* The message of a file not read because another holds the same rotated file. */
static int
add_twin(struct rotated *rs, const char *path, const char *taken)
{
	return add_unread(rs, "%s: not read: %s holds the same rotated file and is read "
	    "instead (a compressor still running?)", path, taken);
}

/* Puts the numbered file path (owned from here) in its slot k; of two for one k, the
 * one first in enum comp is taken and the other goes to unread. */
static int
take_numbered(struct rotated *rs, char *path, unsigned long k, enum comp c)
{
	char *other;
	int rc = 0;

	if (k > AUDIT_ROTATED_MAX) {
		rs->over++;
		free(path);
		return 0;
	}
	other = path;
	if (rs->name[k] == NULL || c < rs->comp[k]) {
		other = rs->name[k];
		rs->name[k] = path;
		rs->comp[k] = (unsigned char)c;
	}
	if (k > rs->max)
		rs->max = (unsigned)k;
	if (other != NULL)
		rc = add_twin(rs, other, rs->name[k]);
	free(other);
	return rc;
}

/* Numbers the dated files (see struct rotated), moving their paths into rs. */
static int
rotated_dated(struct dated *dv, size_t n, struct rotated *rs, struct cs_err *e)
{
	const char *taken = NULL;
	size_t i, k = 0;

	qsort(dv, n, sizeof *dv, dated_cmp);
	for (i = 0; i < n; i++) {
		if (!same_shape(&dv[i], &dv[0]))
			return cs_err_set(e, EINVAL, "%s and %s: dated rotated logs of two date "
			    "formats; --verify cannot tell their order", dv[0].path, dv[i].path);
		if (i > 0 && strncmp(dv[i].date, dv[i - 1].date, dv[i].len) == 0) {
			if (add_twin(rs, dv[i].path, taken) == -1)
				return cs_err_sys(e, ENOMEM, "%s", dv[i].path);
			continue;
		}
		taken = dv[i].path;
		if (++k > AUDIT_ROTATED_MAX) {
			rs->over++;
			continue;
		}
		rs->name[k] = dv[i].path;
		dv[i].path = NULL;
		rs->comp[k] = (unsigned char)dv[i].comp;
		rs->max = (unsigned)k;
	}
	return 0;
}

static int
unread_cmp(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Sorts one name of the log's folder, path its path, base its name there (*kind
 * becomes 1 for a numbered one, 2 for a dated one). The path is owned from here. */
static int
take_name(struct rotated *rs, char *path, const char *name, size_t blen,
    struct dated *dv, size_t *nd, int *kind)
{
	unsigned long k;
	size_t len;
	enum comp c;
	int rc;

	if (name[blen] == '.' && (k = numbered_suffix(name + blen + 1, &c)) != 0) {
		*kind |= 1;
		return take_numbered(rs, path, k, c);
	}
	if (name[blen] == '-' && (len = dated_suffix(name + blen + 1, &c)) != 0) {
		*kind |= 2;
		if (*nd == AUDIT_ROTATED_MAX + 1) {
			rs->over++;
			free(path);
			return 0;
		}
		dv[*nd].path = path;
		dv[*nd].date = path + strlen(path) - strlen(name) + blen + 1;
		dv[*nd].len = len;
		dv[(*nd)++].comp = c;
		return 0;
	}
	rc = add_unread(rs, "%s: not read: not a rotated log's name (%.*s.N or "
	    "%.*s-DATE, maybe .gz)", path, (int)blen, name, (int)blen, name);
	free(path);
	return rc;
}

static int
rotated_list(const char *path, struct rotated *rs, struct cs_err *e)
{
	const char *slash = strrchr(path, '/'), *base = slash != NULL ? slash + 1 : path;
	size_t blen = strlen(base), nd = 0, i;
	struct dirent *de;
	struct dated *dv;
	char *dir, *p;
	DIR *d;
	int kind = 0, rc = -1;

	memset(rs, 0, sizeof *rs);
	dir = slash == NULL ? strdup(".") : slash == path ? strdup("/") :
	    strndup(path, (size_t)(slash - path));
	rs->name = calloc(AUDIT_ROTATED_MAX + 1, sizeof *rs->name);
	rs->comp = calloc(AUDIT_ROTATED_MAX + 1, sizeof *rs->comp);
	dv = calloc(AUDIT_ROTATED_MAX + 1, sizeof *dv);
	if (dir == NULL || rs->name == NULL || rs->comp == NULL || dv == NULL) {
		free(dir);
		free(dv);
		rotated_free(rs);
		return cs_err_sys(e, ENOMEM, "%s", path);
	}
	d = opendir(dir);
	if (d == NULL)
		cs_err_sys(e, errno, "%s: cannot list the folder to find the rotated logs",
		    dir);
	free(dir);
	if (d == NULL)
		goto fail;
	/* <base>. and <base>-: rotated names, or files verify says it did not read */
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, base, blen) != 0 ||
		    (de->d_name[blen] != '.' && de->d_name[blen] != '-'))
			continue;
		if (asprintf(&p, "%.*s%s", (int)(base - path), path, de->d_name) == -1 ||
		    take_name(rs, p, de->d_name, blen, dv, &nd, &kind) == -1) {
			closedir(d);
			cs_err_sys(e, ENOMEM, "%s", path);
			goto fail;
		}
	}
	closedir(d);
	if (kind == 3) {
		cs_err_set(e, EINVAL, "%s: its folder holds both numbered (%s.N) and dated "
		    "(%s-DATE, logrotate's dateext) rotated logs; --verify cannot tell their "
		    "order: move one kind aside", path, path, path);
		goto fail;
	}
	if (nd > 0 && rotated_dated(dv, nd, rs, e) == -1)
		goto fail;
	if (rs->nunread > 0)
		qsort(rs->unread, rs->nunread, sizeof *rs->unread, unread_cmp);
	rc = 0;
	goto out;
fail:
	rotated_free(rs);
out:
	for (i = 0; i < nd; i++)
		free(dv[i].path);
	free(dv);
	return rc;
}

/* Lines gathered for audit_tail_rotated, newest first. */
struct tailacc {
	char	**v;
	size_t	 n, cap;
};

/* Moves the lines v[0..n) (oldest first, v freed) to the end of acc, newest first. */
static int
acc_take(struct tailacc *acc, char **v, size_t n, const char *path, struct cs_err *e)
{
	char **nv;
	size_t i;

	if (acc->n + n + 1 > acc->cap) {
		size_t cap = acc->cap == 0 ? 64 : acc->cap;

		while (cap < acc->n + n + 1)
			cap *= 2;
		if ((nv = realloc(acc->v, cap * sizeof *nv)) == NULL) {
			audit_lines_free(v, n);
			return cs_err_sys(e, ENOMEM, "%s", path);
		}
		acc->v = nv;
		acc->cap = cap;
	}
	for (i = n; i > 0; i--)
		acc->v[acc->n++] = v[i - 1];
	free(v);
	return 0;
}

/* The last limit lines of the rotated, gzip-compressed log path (oldest first). */
static int
tail_gz(const char *path, size_t limit, char ***lines, size_t *n, struct cs_err *e)
{
	struct lines rd = { .fd = -1 };
	const char *p;
	char **v = NULL, **nv;
	size_t len, cnt = 0, cap = 0, i;
	pid_t pid = -1;
	int nl, got, status, rc = -1;

	*lines = NULL;
	*n = 0;
	if (limit == 0)
		return 0;
	if ((rd.fd = open_gz(path, &pid, e)) == -1)
		return -1;
	if ((rd.buf = malloc(LINES_BUF)) == NULL) {
		cs_err_sys(e, ENOMEM, "%s", path);
		goto out;
	}
	/* Every line is read; at most 2 * limit are held, the last limit kept. */
	while ((got = next_line(&rd, &p, &len, &nl)) == 1) {
		if (cnt == 2 * limit) {
			for (i = 0; i < limit; i++)
				free(v[i]);
			memmove(v, v + limit, limit * sizeof *v);
			cnt = limit;
		}
		if (cnt + 1 >= cap) {
			cap = cap == 0 ? 64 : cap * 2;
			if ((nv = realloc(v, cap * sizeof *v)) == NULL) {
				cs_err_sys(e, ENOMEM, "%s", path);
				goto out;
			}
			v = nv;
		}
		if ((v[cnt] = strndup(p, len)) == NULL) {
			cs_err_sys(e, ENOMEM, "%s", path);
			goto out;
		}
		cnt++;
	}
	if (got == -1) {
		cs_err_sys(e, errno, "%s: read", path);
		goto out;
	}
	if (got == -2) {
		cs_err_set(e, EBADMSG, "%s: a line longer than %u bytes", path,
		    AUDIT_LINE_MAX);
		goto out;
	}
	rc = 0;
out:
	close(rd.fd);
	free(rd.buf);
	if (waitpid(pid, &status, 0) == pid && rc == 0 &&
	    !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		rc = cs_err_set(e, EIO, "%s: gzip could not decompress it", path);
	if (rc == 0) {
		if (cnt > limit) {
			for (i = 0; i < cnt - limit; i++)
				free(v[i]);
			memmove(v, v + (cnt - limit), limit * sizeof *v);
			cnt = limit;
		}
		*lines = v;
		*n = cnt;
		return 0;
	}
	audit_lines_free(v, cnt);
	return -1;
}

/* The last limit lines of one rotated file, read as it is stored. */
static int
tail_file(const char *path, enum comp c, size_t limit, char ***lines, size_t *n,
    struct cs_err *e)
{
	*lines = NULL;
	*n = 0;
	if (c == COMP_OTHER)
		return unreadable(path, e);
	return (c == COMP_GZIP ? tail_gz : audit_tail)(path, limit, lines, n, e);
}

int
audit_tail_rotated(const char *path, size_t limit, char ***lines, size_t *n,
    struct cs_err *e)
{
	struct tailacc acc = { 0 };
	struct rotated rs = { 0 };
	struct cs_err pe = { 0 };
	char **v = NULL, *t;
	size_t vn = 0, i;
	unsigned k;
	int rc = -1, missing = 0;

	*lines = NULL;
	*n = 0;
	/* Between a rename and the next line the path may be missing: then the rotated
	 * files alone hold the latest lines. */
	if (audit_tail(path, limit, &v, &vn, &pe) == -1) {
		if (pe.code != ENOENT)
			return cs_err_set(e, pe.code, "%s", pe.msg);
		missing = 1;
	} else if (acc_take(&acc, v, vn, path, e) == -1) {
		goto out;
	}
	if (acc.n < limit || missing) {
		if (rotated_list(path, &rs, e) == -1)
			goto out;
		if (missing && rs.max == 0) {
			cs_err_set(e, pe.code, "%s", pe.msg);
			goto out;
		}
		/* .1, .2, ... back to the first number missing, until limit lines */
		for (k = 1; k <= rs.max && rs.name[k] != NULL && acc.n < limit; k++) {
			if (tail_file(rs.name[k], rs.comp[k], limit - acc.n, &v, &vn, e) == -1 ||
			    acc_take(&acc, v, vn, rs.name[k], e) == -1)
				goto out;
		}
	}
	if (acc.v == NULL && acc_take(&acc, NULL, 0, path, e) == -1)
		goto out;
	for (i = 0; i < acc.n / 2; i++) {
		t = acc.v[i];
		acc.v[i] = acc.v[acc.n - 1 - i];
		acc.v[acc.n - 1 - i] = t;
	}
	acc.v[acc.n] = NULL;
	*lines = acc.v;
	*n = acc.n;
	acc.v = NULL;
	rc = 0;
out:
	audit_lines_free(acc.v, acc.n);
	rotated_free(&rs);
	return rc;
}

int
audit_unread(const char *path, char ***msgs, size_t *n, struct cs_err *e)
{
	struct rotated rs;

	*msgs = NULL;
	*n = 0;
	if (rotated_list(path, &rs, e) == -1)
		return -1;
	if (rs.unread == NULL && (rs.unread = calloc(1, sizeof *rs.unread)) == NULL) {
		rotated_free(&rs);
		return cs_err_sys(e, ENOMEM, "%s", path);
	}
	*msgs = rs.unread;
	*n = rs.nunread;
	rs.unread = NULL;
	rs.nunread = 0;
	rotated_free(&rs);
	return 0;
}

int
audit_verify(const char *path, uint64_t expect_seq, const char *expect_hash,
    struct audit_verify_result *r, struct cs_err *e)
{
	struct audit_verify_result res;
	struct vstate vs = { 0 };
	struct rotated rs = { 0 };
	struct stat st;
	unsigned i, j, k;
	int rc = -1, last_missing = 0;

	memset(&res, 0, sizeof res);
	memcpy(vs.hash, AUDIT_ZERO_HASH, sizeof vs.hash);
	if (rotated_list(path, &rs, e) == -1)
		goto out;
	if (rs.over != 0) {
		cs_err_set(e, E2BIG, "%s: %u rotated files numbered above %u; --verify reads "
		    "at most that many", path, rs.over, AUDIT_ROTATED_MAX);
		goto out;
	}
	/* Between a rename and the next line, the path may be missing: the set is
	 * whole without it. */
	if (rs.max > 0 && lstat(path, &st) == -1 && errno == ENOENT)
		last_missing = 1;
	/* Oldest first. The oldest file may be any number (older ones deleted by
	 * rotation); a number missing below it is a file removed from the chain. */
	for (i = rs.max; i > 0; i--) {
		if (rs.name[i] != NULL) {
			if (verify_file(rs.name[i], rs.comp[i], expect_seq, expect_hash, &vs, &res,
			    e) == -1)
				goto out;
			res.files++;
			continue;
		}
		for (j = i + 1; rs.name[j] == NULL; j++)
			;
		for (k = i - 1; k > 0 && rs.name[k] == NULL; k--)
			;
		snprintf(res.bad_file, sizeof res.bad_file, "%s.%u", path, i);
		cs_err_set(e, EBADMSG, "%s: missing (nor %s.gz), between %s and %s: a rotated "
		    "file was removed from the set, so the chain has a gap there",
		    res.bad_file, res.bad_file, rs.name[j], k > 0 ? rs.name[k] : path);
		goto out;
	}
	if (!last_missing) {
		if (verify_file(path, COMP_NONE, expect_seq, expect_hash, &vs, &res, e) == -1)
			goto out;
		res.files++;
	}
	if (expect_seq != 0 && vs.seq < expect_seq) {
		res.bad_line = res.lines + 1;
		snprintf(res.bad_file, sizeof res.bad_file, "%s", path);
		cs_err_set(e, EBADMSG, "%s: ends at seq %llu but the state file says %llu: "
		    "lines were cut from the end", path, (unsigned long long)vs.seq,
		    (unsigned long long)expect_seq);
		goto out;
	}
	rc = 0;
out:
	rotated_free(&rs);
	if (r != NULL) {
		res.last_seq = vs.seq;
		memcpy(res.last_hash, vs.hash, sizeof res.last_hash);
		*r = res;
	}
	return rc;
}
