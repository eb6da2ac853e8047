/* policy/audit.c - append-only, hash-chained log of reads, writes and rotations; see audit.h.
 *
 * Each line carries the SHA-256 of the previous one, so an edited or deleted line breaks
 * the chain where it happened; audit_verify() reports that line. Lines are JSON objects
 * with a fixed key order: seq, prev, event, timestamp, then the event's fields.
 *
 * Between processes, the flock on the lock file (.<log>.lock) orders the appends: under
 * it, the writer follows a rotation (see append_locked), finds the tail (cached while the
 * file size is what our last append left), builds the next line and writes it with one
 * write(). A write that fails halfway is cut off again
 * (ftruncate to the old size, still under the lock), so a full disk does not leave a torn
 * line that would block every later append.
 *
 * Bounded time: every blocking call (open, flock, write, fdatasync) runs in one worker
 * thread per handle, and the caller waits for it on a condition variable with a deadline.
 * The fast path: on a regular file of a local filesystem with flush async or none, the
 * caller appends itself, skipping the two thread switches a hand-off costs (the daemon
 * appends once per open). It waits for the writer's lock (io) no longer than the
 * timeout, takes the flock only when it is free (LOCK_NB), and goes to the worker when
 * the flock is held, a job is in the slot, the handle is wedged or a background flush
 * failed. What is left to it, fstat, pread of the tail and a write() to a local disk,
 * does not hang the way a FIFO, a held flock or a network filesystem can.
 * A caller that gives up returns ETIMEDOUT and marks the handle wedged: later appends fail
 * at once until the stuck call returns. The stuck line may still land later; the log then
 * records an operation that was refused, which is the safe direction. audit_close() waits
 * at most the timeout for the worker; past it, the worker is detached and frees the
 * handle itself if the stuck call ever returns (if it never does, the handle and its file
 * descriptors stay with it).
 *
 * A log that is not a regular file (a FIFO to a collector, /dev/full in tests) cannot be
 * read back: its chain is kept in memory, starting at seq 1 for each handle, and it is
 * never flushed with fdatasync.
 *
 * It does not rotate logs (logrotate does; the writers follow) and never sees values:
 * struct audit_event has no place for one. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "../base/file.h"
#include "audit.h"
#include "auditread.h"

#define HEAD_MAX	128		/* bytes of {"seq":N,"prev":"<64 hex>", */

/* Filesystems whose writes do not hang on a network or a user-space server
 * (linux/magic.h): ext2/3/4, xfs, btrfs, tmpfs, f2fs, overlayfs, zfs. */
static const unsigned long local_fs[] = {
	0xEF53, 0x58465342, 0x9123683E, 0x01021994, 0xF2F52010, 0x794C7630, 0x2FC12FC1,
};

/* The chain's tail as the last writer left it, in the lock file (see rec_read). */
struct tailrec {
	char		magic[8];	/* TAILREC_MAGIC */
	uint64_t	seq;
	char		hash[AUDIT_HASH_HEX + 1];
	uint64_t	dev, ino;	/* the file that line went to */
	int64_t		size;		/* that file's size after it */
	uint64_t	sum;		/* FNV-1a of the bytes before it */
};
#define TAILREC_MAGIC	"cstail1"
#define TAILREC_LEN	((off_t)sizeof(struct tailrec))

enum job_kind { JOB_OPEN, JOB_APPEND };

/* One piece of blocking work handed to the worker. If the caller gives up on it
 * (abandoned), the worker frees it. */
struct job {
	enum job_kind	 kind;
	char		*body;		/* the event as a JSON object, without seq and prev */
	size_t		 bodylen;
	int		 done;		/* protected by a->mu */
	int		 abandoned;	/* protected by a->mu */
	struct cs_err	 err;
	uint64_t	 seq;
	char		 hash[AUDIT_HASH_HEX + 1];
};

struct audit {
	char		*path;
	enum audit_flush flush;
	unsigned	 timeout_ms;

	/* Set by the open job, then read-only. */
	char		*lockpath;	/* .<name>.lock beside the log */
	int		 lfd;		/* the chain's lock and tail record (regular logs), or -1 */
	char		*rec;		/* lfd mapped: the tail record (see rec_read) */
	int		 regular;
	int		 local;		/* on a filesystem of local_fs[] */
	int		 fast;		/* callers may append themselves (see above) */

	/* Used under io only: by the worker, or a caller on the fast path (and by
	 * destroy() once the worker is gone). Lock order: io, then mu. */
	pthread_mutex_t	 io;
	int		 wfd, rfd;	/* append-only writer; reader for the tail, or -1 */
	dev_t		 dev;		/* the file wfd writes to */
	ino_t		 ino;
	int		 cont;		/* the next line is the first of an emptied or new file */
	int		 cached;	/* cseq and chash are the line ending at cend */
	uint64_t	 torn;		/* bytes of a torn last line cut off, not yet recorded */
	uint64_t	 lost;		/* the record's seq when the file ended before it, not
					 * yet recorded (audit_lines_missing); 0: none */
	uint64_t	 cseq;
	char		 chash[AUDIT_HASH_HEX + 1];
	off_t		 cend;
	struct tailrec	 mine;		/* the record this handle wrote last */
	int		 recmine;	/* mine is set */

	pthread_t	 worker;
	pthread_mutex_t	 mu;
	pthread_cond_t	 wake;		/* to the worker: a job, a stop */
	pthread_cond_t	 done;		/* from the worker: a job done, the worker gone */
	/* protected by mu: */
	struct job	*job;		/* the job in the slot; NULL: free */
	int		 taken;		/* the worker is running it */
	int		 wedged;	/* a caller gave up on the job in the slot */
	int		 stopping, exited, orphaned;
	int		 dirty;		/* async: written, not yet flushed */
	struct timespec	 flush_due;
	int		 flush_err;	/* errno of a failed background fdatasync */
	uint64_t	 last_seq;
	char		 last_hash[AUDIT_HASH_HEX + 1];
	_Atomic int	 reopen;	/* audit_reopen() or audit_tick() asked for the path again */
	pthread_mutex_t	 mmu;		/* guards merge; taken before no other lock */
	struct merge	*merge;		/* audit_append_denial's table, or NULL */
	unsigned	 window_ms;	/* its window */
};

static void
deadline(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static int
passed(const struct timespec *ts)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > ts->tv_sec ||
	    (now.tv_sec == ts->tv_sec && now.tv_nsec >= ts->tv_nsec);
}

/* A line being built: grown as needed; err is set once an allocation failed. */
struct obuf {
	char	*p;
	size_t	 len, cap;
	int	 err;
};

static void
ob_put(struct obuf *b, const char *s, size_t n)
{
	size_t cap;
	char *p;

	if (b->err)
		return;
	if (b->len + n + 1 > b->cap) {
		for (cap = b->cap != 0 ? b->cap : 512; cap < b->len + n + 1; cap *= 2)
			;
		if ((p = realloc(b->p, cap)) == NULL) {
			b->err = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* The length of the valid UTF-8 sequence at p (a NUL-terminated string), or 0 when the
 * byte there does not start one: overlong forms, surrogates and code points past
 * U+10FFFF are not valid (RFC 3629, as jansson checks). */
static size_t
utf8_len(const unsigned char *p)
{
	size_t n, k;
	unsigned cp, min;

	if ((p[0] & 0xe0) == 0xc0)
		n = 2, cp = p[0] & 0x1f, min = 0x80;
	else if ((p[0] & 0xf0) == 0xe0)
		n = 3, cp = p[0] & 0x0f, min = 0x800;
	else if ((p[0] & 0xf8) == 0xf0)
		n = 4, cp = p[0] & 0x07, min = 0x10000;
	else
		return 0;
	for (k = 1; k < n; k++) {
		if ((p[k] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[k] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* s as a JSON string, escaped as jansson's compact dump escapes it (a quote, a
 * backslash, and control bytes: \b \f \n \r \t, the rest \u00XX), with each byte that
 * is not part of valid UTF-8 replaced by '?': a process name or a host may hold
 * anything. */
static void
ob_string(struct obuf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)s;
	char esc[8];
	size_t run, n;

	ob_put(b, "\"", 1);
	while (*p != '\0') {
		for (run = 0; p[run] >= 0x20 && p[run] < 0x80 && p[run] != '"' &&
		    p[run] != '\\'; run++)
			;
		ob_put(b, (const char *)p, run);
		p += run;
		if (*p == '\0')
			break;
		if (*p >= 0x80) {
			if ((n = utf8_len(p)) == 0)
				ob_put(b, "?", 1), n = 1;
			else
				ob_put(b, (const char *)p, n);
			p += n;
			continue;
		}
		esc[0] = '\\';
		switch (*p) {
		case '"': esc[1] = '"'; n = 2; break;
		case '\\': esc[1] = '\\'; n = 2; break;
		case '\b': esc[1] = 'b'; n = 2; break;
		case '\f': esc[1] = 'f'; n = 2; break;
		case '\n': esc[1] = 'n'; n = 2; break;
		case '\r': esc[1] = 'r'; n = 2; break;
		case '\t': esc[1] = 't'; n = 2; break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[*p >> 4];
			esc[5] = hex[*p & 0xf];
			n = 6;
		}
		ob_put(b, esc, n);
		p++;
	}
	ob_put(b, "\"", 1);
}

/* ,"key": before a value (the first key opens the object instead). */
static void
ob_key(struct obuf *b, const char *key)
{
	ob_put(b, b->len == 0 ? "{" : ",", 1);
	ob_string(b, key);
	ob_put(b, ":", 1);
}

static void
ob_str(struct obuf *b, const char *key, const char *s)
{
	ob_key(b, key);
	ob_string(b, s);
}

static void
ob_int(struct obuf *b, const char *key, long long v)
{
	char num[24];

	ob_key(b, key);
	ob_put(b, num, (size_t)snprintf(num, sizeof num, "%lld", v));
}

static void
ob_uint(struct obuf *b, const char *key, uint64_t v)
{
	char num[24];

	ob_key(b, key);
	ob_put(b, num, (size_t)snprintf(num, sizeof num, "%llu", (unsigned long long)v));
}

/* The first min(n, cap) names as key; when some are left out, "<key>_omitted" says how
 * many, so a line that had to be cut still tells the whole count. */
static void
ob_names(struct obuf *b, const char *key, const char *const *names, size_t n, size_t cap)
{
	char okey[32];
	size_t i;

	if (n > cap) {
		snprintf(okey, sizeof okey, "%s_omitted", key);
		ob_int(b, okey, (long long)(n - cap));
		n = cap;
	}
	ob_key(b, key);
	ob_put(b, "[", 1);
	for (i = 0; i < n; i++) {
		if (i > 0)
			ob_put(b, ",", 1);
		ob_string(b, names[i] != NULL ? names[i] : "");
	}
	ob_put(b, "]", 1);
}

/* RFC 3339 UTC with milliseconds: 2026-11-23T08:37:17.123Z. The part up to the second
 * is kept per thread and made again when the second changes: a line is stamped twice
 * (encode, restamp), and most lines of a busy second share it. */
static void
timestamp(char out[32])
{
	static _Thread_local time_t sec = -1;
	static _Thread_local char head[24];
	static _Thread_local size_t hn;
	struct timespec ts;
	struct tm tm;
	long ms;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != sec) {
		gmtime_r(&ts.tv_sec, &tm);
		hn = strftime(head, sizeof head, "%Y-%m-%dT%H:%M:%S", &tm);
		sec = ts.tv_sec;
	}
	memcpy(out, head, hn);
	ms = ts.tv_nsec / 1000000L;
	out[hn] = '.';
	out[hn + 1] = (char)('0' + ms / 100);
	out[hn + 2] = (char)('0' + ms / 10 % 10);
	out[hn + 3] = (char)('0' + ms % 10);
	out[hn + 4] = 'Z';
	out[hn + 5] = '\0';
}

/* Sets the timestamp of a line being written (body: the JSON object from its event on)
 * to now. Under the flock, so that a line never has an earlier time than the line
 * before it: the time encode() put there is when the event was handed in, and a writer
 * may wait for the flock after that (another writer's line, a rotation). The key
 * comes right after the event's name, whose escaped JSON string cannot hold a bare
 * '"', so the first ,"timestamp":" is it; a value of another width (a year past 9999)
 * is left as it is. */
static void
restamp(char *body, size_t len)
{
	static const char key[] = ",\"timestamp\":\"";
	char ts[32], *v;
	size_t n;

	if ((v = memmem(body, len, key, sizeof key - 1)) == NULL)
		return;
	v += sizeof key - 1;
	timestamp(ts);
	n = strlen(ts);
	if ((size_t)(v - body) + n < len && v[n] == '"')
		memcpy(v, ts, n);
}

/* The event, in the log's key order, as one compact JSON object: everything but seq
 * and prev, which only the worker knows under the lock (and the timestamp is set again
 * there: restamp). At most cap names of each list
 * (see ob_names). Written directly, byte for byte what jansson's compact dump of the
 * same object gives (test_audit checks it), at one allocation per line. */
static char *
encode(const struct audit_event *ev, size_t cap)
{
	struct obuf b = { 0 };
	char ts[32];

	timestamp(ts);
	ob_str(&b, "event", ev->event);
	ob_str(&b, "timestamp", ts);
	if (ev->provider != NULL)
		ob_str(&b, "provider", ev->provider);
	if (ev->keys != NULL && ev->nkeys > 0)
		ob_names(&b, "keys", ev->keys, ev->nkeys, cap);
	if (ev->overrides != NULL && ev->noverrides > 0)
		ob_names(&b, "overrides", ev->overrides, ev->noverrides, cap);
	if (ev->version != NULL)
		ob_uint(&b, "version", *ev->version);
	if (ev->providers != NULL && ev->nproviders > 0)
		ob_names(&b, "providers", ev->providers, ev->nproviders, cap);
	if (ev->fingerprint != NULL)
		ob_str(&b, "fingerprint", ev->fingerprint);
	if (ev->host != NULL)
		ob_str(&b, "host", ev->host);
	if (ev->port != 0)
		ob_int(&b, "port", ev->port);
	if (ev->reason != NULL)
		ob_str(&b, "reason", ev->reason);
	if (ev->via != NULL)
		ob_str(&b, "via", ev->via);
	if (ev->detail != NULL)
		ob_str(&b, "detail", ev->detail);
	if (ev->repeats != 0)
		ob_int(&b, "repeats", (long long)ev->repeats);
	if (ev->since != NULL)
		ob_str(&b, "since", ev->since);
	if (ev->pid >= 0) {
		ob_int(&b, "pid", ev->pid);
		ob_int(&b, "uid", ev->uid);
		ob_int(&b, "gid", ev->gid);
	}
	if (ev->comm != NULL)
		ob_str(&b, "comm", ev->comm);
	ob_put(&b, "}", 1);
	if (b.err) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

/* seq of a line of the log, or 0 when it is not a chained audit line. */
static uint64_t
line_seq(const char *p, size_t len)
{
	json_t *root, *v;
	uint64_t seq = 0;

	if ((root = json_loadb(p, len, 0, NULL)) == NULL)
		return 0;
	v = json_object_get(root, "seq");
	if (json_is_integer(v) && json_integer_value(v) > 0)
		seq = (uint64_t)json_integer_value(v);
	json_decref(root);
	return seq;
}

/* The chain's tail from the file's last line (under the lock). A file that ends in an
 * incomplete line was left by a writer killed in the middle of its one write(): the
 * kernel may stop a write to a regular file between pages when a fatal signal comes.
 * Only a writer holding the flock writes, and we hold it now, so that writer is gone;
 * the fragment never was a line of the chain. It is cut off (*size shrinks) and
 * a->torn says how many bytes, for write_line() to record as audit_tail_repaired.
 * A fragment longer than a line is not a torn write: refused. */
static int
read_tail(struct audit *a, off_t *size, struct cs_err *e)
{
	char *buf, *nl;
	size_t n, start = 0;
	off_t keep;
	int rc = -1;

	if (*size == 0) {
		a->cseq = 0;
		memcpy(a->chash, AUDIT_ZERO_HASH, sizeof a->chash);
		return 0;
	}
	n = (size_t)*size < AUDIT_LINE_MAX + 1 ? (size_t)*size : AUDIT_LINE_MAX + 1;
	if ((buf = malloc(n)) == NULL)
		return cs_err_sys(e, ENOMEM, "%s", a->path);
	if (audit_read_at(a->rfd, buf, n, *size - (off_t)n) == -1) {
		cs_err_sys(e, errno, "%s: reading the last line", a->path);
		goto out;
	}
	if (buf[n - 1] != '\n') {
		if ((nl = memrchr(buf, '\n', n)) != NULL)
			keep = *size - (off_t)n + (nl - buf) + 1;
		else if (n == (size_t)*size)
			keep = 0;
		else {
			cs_err_set(e, EBADMSG, "%s: ends with an incomplete line longer than "
			    "%u bytes; not appending to a broken chain", a->path, AUDIT_LINE_MAX);
			goto out;
		}
		if (ftruncate(a->wfd, keep) == -1) {
			cs_err_sys(e, errno, "%s: cutting an incomplete last line (a writer "
			    "killed mid-write)", a->path);
			goto out;
		}
		a->torn += (uint64_t)(*size - keep);
		*size = keep;
		free(buf);
		return read_tail(a, size, e);
	}
	if ((nl = memrchr(buf, '\n', n - 1)) != NULL)
		start = (size_t)(nl - buf) + 1;
	else if (n != (size_t)*size) {
		cs_err_set(e, EBADMSG, "%s: last line is longer than %u bytes", a->path,
		    AUDIT_LINE_MAX);
		goto out;
	}
	if ((a->cseq = line_seq(buf + start, n - 1 - start)) == 0) {
		cs_err_set(e, EBADMSG, "%s: last line is not an audit line with a seq; "
		    "not appending to a broken chain", a->path);
		goto out;
	}
	audit_line_hash(buf + start, n - 1 - start, a->chash);
	rc = 0;
out:
	free(buf);
	return rc;
}

/* Writes body (a compact JSON object) as the line after (cseq, chash), at size, and
 * moves the cached tail to it. Under io and the flock. */
static int
put_line(struct audit *a, const char *body, size_t bodylen, off_t size, struct cs_err *e)
{
	char head[HEAD_MAX], *line;
	size_t len, done;
	int hl, rc = -1, saved;

	hl = snprintf(head, sizeof head, "{\"seq\":%llu,\"prev\":\"%s\",",
	    (unsigned long long)(a->cseq + 1), a->chash);
	len = (size_t)hl + bodylen;	/* body's '{' dropped, '\n' added */
	if (len > AUDIT_LINE_MAX)
		return cs_err_set(e, EMSGSIZE, "%s: event does not fit in one audit "
		    "line (%u bytes)", a->path, AUDIT_LINE_MAX);
	if ((line = malloc(len)) == NULL)
		return cs_err_sys(e, ENOMEM, "%s", a->path);
	memcpy(line, head, (size_t)hl);
	memcpy(line + hl, body + 1, bodylen - 1);
	line[len - 1] = '\n';
	restamp(line + hl, len - 1 - (size_t)hl);
	if (file_write_all(a->wfd, line, len, &done) == -1) {
		saved = errno;
		if (done > 0 && a->regular && ftruncate(a->wfd, size) == 0)
			done = 0;	/* the torn piece is gone again */
		if (done > 0 && a->regular)
			a->cached = 0;	/* the next append finds the torn line and cuts it */
		cs_err_sys(e, saved, "%s: audit write", a->path);
		goto out;
	}
	a->cseq++;
	audit_line_hash(line, len - 1, a->chash);
	a->cend = size + (off_t)len;
	a->cached = 1;
	rc = 0;
out:
	free(line);
	return rc;
}

static void	rec_write(struct audit *);

/* A line of the writer's own (event, detail) after (cseq, chash), at *size, which moves
 * to the end of it. Under io and the flock. */
static int
put_own(struct audit *a, const char *event, const char *detail, off_t *size,
    struct cs_err *e)
{
	struct audit_event ev = { .event = event, .detail = detail };
	char *body;
	int rc;

	ev.pid = getpid();
	ev.uid = getuid();
	ev.gid = getgid();
	if ((body = encode(&ev, SIZE_MAX)) == NULL)
		return cs_err_sys(e, ENOMEM, "%s", a->path);
	rc = put_line(a, body, strlen(body), *size, e);
	free(body);
	if (rc == 0) {
		*size = a->cend;
		/* Recorded at once: should the job's own line then fail, another writer
		 * still finds the chain's tail here, not in the file before. */
		rec_write(a);
	}
	return rc;
}

/* The job's line after (cseq, chash), preceded by the writer's own lines for what
 * append_locked() found: audit_log_continued (the first line of an emptied or new
 * file), audit_lines_missing (the file ended before the record's line), and
 * audit_tail_repaired (read_tail() cut off a torn line). Runs in the worker, or a
 * caller on the fast path. */
static int
write_line(struct audit *a, struct job *j, off_t size)
{
	char detail[256];

	if (a->cont) {
		snprintf(detail, sizeof detail, "the chain goes on from seq %llu, the last "
		    "line of the previous file (rotated or truncated)",
		    (unsigned long long)a->cseq);
		if (put_own(a, "audit_log_continued", detail, &size, &j->err) == -1)
			return -1;
		a->cont = 0;
	}
	if (a->lost > 0) {
		snprintf(detail, sizeof detail, "the file ended at seq %llu, but a line of "
		    "seq %llu had been written to it: lines were cut from its end, replaced, "
		    "or lost in a crash", (unsigned long long)a->cseq,
		    (unsigned long long)a->lost);
		if (put_own(a, "audit_lines_missing", detail, &size, &j->err) == -1)
			return -1;
		a->lost = 0;
	}
	if (a->torn > 0) {
		snprintf(detail, sizeof detail, "cut %llu bytes of an incomplete last line "
		    "(a writer killed mid-write)", (unsigned long long)a->torn);
		if (put_own(a, "audit_tail_repaired", detail, &size, &j->err) == -1)
			return -1;
		a->torn = 0;
	}
	if (put_line(a, j->body, j->bodylen, size, &j->err) == -1)
		return -1;
	j->seq = a->cseq;
	memcpy(j->hash, a->chash, sizeof j->hash);
	return 0;
}

/* FNV-1a, 64 bits: enough to tell a torn record from a whole one. */
static uint64_t
fnv(const void *p, size_t len)
{
	const unsigned char *c = p;
	uint64_t h = 0xcbf29ce484222325ULL;

	while (len-- > 0)
		h = (h ^ *c++) * 0x100000001b3ULL;
	return h;
}

/* The lock file also holds the chain's tail: it outlives a rotation, which the log does
 * not. The file is mapped, so reading and writing the record under the flock costs no
 * system call on the append path; it is binary, for the same writers on the same
 * machine. The checksum catches a record torn by a writer killed while writing it.
 * 1 and *r when the lock file holds a whole record, 0 when it does not (a new lock
 * file, a torn record). */
static int
rec_read(const struct audit *a, struct tailrec *r)
{
	size_t i;

	memcpy(r, a->rec, sizeof *r);
	/* Most often it is the record this handle wrote last. */
	if (a->recmine && memcmp(r, &a->mine, sizeof *r) == 0)
		return 1;
	if (memcmp(r->magic, TAILREC_MAGIC, sizeof r->magic) != 0 ||
	    r->sum != fnv(r, offsetof(struct tailrec, sum)) ||
	    r->hash[AUDIT_HASH_HEX] != '\0')
		return 0;
	for (i = 0; i < AUDIT_HASH_HEX; i++)
		if (!((r->hash[i] >= '0' && r->hash[i] <= '9') ||
		    (r->hash[i] >= 'a' && r->hash[i] <= 'f')))
			return 0;
	return 1;
}

/* Records the cached tail. */
static void
rec_write(struct audit *a)
{
	struct tailrec t;

	memset(&t, 0, sizeof t);	/* padding too: the checksum covers it */
	memcpy(t.magic, TAILREC_MAGIC, sizeof t.magic);
	t.seq = a->cseq;
	memcpy(t.hash, a->chash, sizeof t.hash);
	t.dev = (uint64_t)a->dev;
	t.ino = (uint64_t)a->ino;
	t.size = a->cend;
	t.sum = fnv(&t, offsetof(struct tailrec, sum));
	memcpy(a->rec, &t, sizeof t);
	a->mine = t;
	a->recmine = 1;
}

/* Opens the log at the path (again): after a rename, the path names a new file. Under io
 * and the flock, so no line goes to the old file after one went to the new. */
static int
reopen_log(struct audit *a, struct cs_err *e)
{
	struct stat st, rst;
	int wfd, rfd;

	wfd = open(a->path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK, 0600);
	if (wfd == -1)
		return cs_err_sys(e, errno, "%s: reopening the audit log", a->path);
	if (fstat(wfd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(wfd);
		return cs_err_set(e, EINVAL, "%s: reopening the audit log: no longer a regular "
		    "file", a->path);
	}
	if ((rfd = open(a->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY)) == -1 ||
	    fstat(rfd, &rst) == -1 || rst.st_dev != st.st_dev || rst.st_ino != st.st_ino) {
		if (rfd != -1)
			close(rfd);
		close(wfd);
		return cs_err_set(e, EAGAIN, "%s: replaced while being reopened", a->path);
	}
	/* The old file's lines reach its disk before it is let go. */
	if (a->flush != AUDIT_FLUSH_NONE)
		(void)fdatasync(a->wfd);
	close(a->wfd);
	close(a->rfd);
	a->wfd = wfd;
	a->rfd = rfd;
	a->dev = st.st_dev;
	a->ino = st.st_ino;
	a->cend = -1;		/* the cached tail ends in the old file */
	return 0;
}

/* One append under io and the flock: follows a rotation, finds the tail, writes. */
static int
append_locked(struct audit *a, struct job *j)
{
	struct tailrec rec;
	struct stat st;
	int have;

	have = rec_read(a, &rec);
	/* Asked to, or another writer has moved on to the file now at the path. */
	if ((atomic_exchange(&a->reopen, 0) ||
	    (have && (rec.dev != (uint64_t)a->dev || rec.ino != (uint64_t)a->ino))) &&
	    reopen_log(a, &j->err) == -1) {
		a->reopen = 1;		/* the next append tries again */
		return -1;
	}
	if (fstat(a->wfd, &st) == -1)
		return cs_err_sys(&j->err, errno, "%s", a->path);
	/* Our own line is the tail while the file ends where it left it, and no one else
	 * wrote a line (which a truncation back to the same size would hide). */
	if (!a->cached || st.st_size != a->cend || (have && rec.seq != a->cseq)) {
		a->cached = 0;
		if (read_tail(a, &st.st_size, &j->err) == -1)
			return -1;
		/* An empty file after lines were written: renamed away and created anew, or
		 * cut by copytruncate. The chain goes on from the record. */
		if (st.st_size == 0 && have && rec.seq > 0) {
			a->cseq = rec.seq;
			memcpy(a->chash, rec.hash, sizeof a->chash);
			a->cont = 1;
		} else if (st.st_size > 0 && have && rec.dev == (uint64_t)a->dev &&
		    rec.ino == (uint64_t)a->ino && (a->cseq < rec.seq ||
		    (a->cseq == rec.seq && strcmp(a->chash, rec.hash) != 0))) {
			/* The file the record names ends before the record's line, or with
			 * another line of its seq: lines were cut from its end or replaced
			 * (or lost in a crash before they reached the disk). The chain goes
			 * on from what the file holds, and says so in a line of its own,
			 * which audit --verify reports for as long as the file is kept. */
			a->lost = rec.seq;
		}
	}
	if (write_line(a, j, st.st_size) == -1)
		return -1;
	rec_write(a);
	return 0;
}

/* The one append: takes the chain's flock unless the caller holds it already (the fast
 * path took it without waiting), follows a rotation and writes (append_locked), lets the
 * flock go, and syncs for flush=sync. Under io; 0, or -1 with j->err. */
static int
do_append(struct audit *a, struct job *j, int locked)
{
	int rc;

	if (!a->regular) {
		if (!a->cached) {
			a->cseq = 0;
			memcpy(a->chash, AUDIT_ZERO_HASH, sizeof a->chash);
			a->cached = 1;
		}
		return write_line(a, j, 0);
	}
	if (!locked && file_flock(a->lfd, LOCK_EX) == -1)
		return cs_err_sys(&j->err, errno, "%s: lock", a->lockpath);
	rc = append_locked(a, j);
	file_flock(a->lfd, LOCK_UN);
	if (rc == 0 && a->flush == AUDIT_FLUSH_SYNC && fdatasync(a->wfd) == -1)
		rc = cs_err_sys(&j->err, errno, "%s: fdatasync", a->path);
	return rc;
}

/* After j's line was written, under mu: it is the handle's last, and an async log is
 * due for the worker's fdatasync within AUDIT_ASYNC_MS. */
static void
appended(struct audit *a, const struct job *j)
{
	a->last_seq = j->seq;
	memcpy(a->last_hash, j->hash, sizeof a->last_hash);
	if (a->flush == AUDIT_FLUSH_ASYNC && a->regular && !a->dirty) {
		a->dirty = 1;
		deadline(&a->flush_due, AUDIT_ASYNC_MS);
		pthread_cond_signal(&a->wake);
	}
}

static int
do_open(struct audit *a, struct job *j)
{
	struct stat st, rst;
	struct statfs sf;
	size_t i;
	int fl;

	/* O_NONBLOCK: a FIFO with no reader fails with ENXIO instead of waiting for one. */
	a->wfd = open(a->path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC |
	    O_NOCTTY | O_NONBLOCK, 0600);
	if (a->wfd == -1) {
		if (errno == ELOOP && lstat(a->path, &st) == 0 && S_ISLNK(st.st_mode))
			return cs_err_set(&j->err, ELOOP, "%s: is a symbolic link; the audit "
			    "log is never opened through one", a->path);
		if (errno == ENXIO)
			return cs_err_set(&j->err, ENXIO, "%s: a FIFO or socket with no "
			    "reader; the audit lines would go nowhere", a->path);
		/* O_CREAT fails so only when a folder on the way is missing. */
		if (errno == ENOENT)
			return cs_err_set(&j->err, ENOENT, "%s: the audit log's folder does "
			    "not exist; `comfysecrets init` or the tmpfiles entry "
			    "(systemd-tmpfiles --create comfysecrets.conf) creates it", a->path);
		return cs_err_sys(&j->err, errno, "%s", a->path);
	}
	if (fstat(a->wfd, &st) == -1)
		return cs_err_sys(&j->err, errno, "%s", a->path);
	if ((fl = fcntl(a->wfd, F_GETFL)) == -1 ||
	    fcntl(a->wfd, F_SETFL, fl & ~O_NONBLOCK) == -1)
		return cs_err_sys(&j->err, errno, "%s", a->path);
	a->regular = S_ISREG(st.st_mode);
	if (!a->regular)
		return 0;
	a->dev = st.st_dev;
	a->ino = st.st_ino;
	/* The chain's lock is not on the log: whoever may read the log (a 0640 log, group
	 * adm) could flock it and stop every append. The lock file is 0600, the writers'. */
	a->lfd = open(a->lockpath, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
	if (a->lfd == -1)
		return cs_err_sys(&j->err, errno, "%s: the audit chain's lock file", a->lockpath);
	if (fstat(a->lfd, &rst) == -1 || !S_ISREG(rst.st_mode))
		return cs_err_set(&j->err, EINVAL, "%s: the audit chain's lock file is not a "
		    "regular file", a->lockpath);
	/* Grown, never shrunk: a shorter file would leave the mapping's end unbacked. */
	if (rst.st_size < TAILREC_LEN && ftruncate(a->lfd, TAILREC_LEN) == -1)
		return cs_err_sys(&j->err, errno, "%s", a->lockpath);
	a->rec = mmap(NULL, TAILREC_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, a->lfd, 0);
	if (a->rec == MAP_FAILED) {
		a->rec = NULL;
		return cs_err_sys(&j->err, errno, "%s: mapping", a->lockpath);
	}
	if (fstatfs(a->wfd, &sf) == 0)
		for (i = 0; i < sizeof local_fs / sizeof local_fs[0]; i++)
			a->local |= (unsigned long)sf.f_type == local_fs[i];
	/* O_NONBLOCK: a FIFO swapped in since wfd's open must not hang us (it fails the
	 * same-file check below instead). */
	a->rfd = open(a->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (a->rfd == -1)
		return cs_err_sys(&j->err, errno, "%s: opening to read the chain's tail",
		    a->path);
	if (fstat(a->rfd, &rst) == -1)
		return cs_err_sys(&j->err, errno, "%s", a->path);
	if (rst.st_dev != st.st_dev || rst.st_ino != st.st_ino)
		return cs_err_set(&j->err, EAGAIN, "%s: replaced while being opened", a->path);
	return 0;
}

/* Frees a handle whose worker is gone (or is the caller). */
static void
destroy(struct audit *a)
{
	if (a->wfd != -1)
		close(a->wfd);
	if (a->rfd != -1)
		close(a->rfd);
	if (a->rec != NULL)
		munmap(a->rec, TAILREC_LEN);
	if (a->lfd != -1)
		close(a->lfd);
	pthread_cond_destroy(&a->wake);
	pthread_cond_destroy(&a->done);
	pthread_mutex_destroy(&a->mu);
	pthread_mutex_destroy(&a->io);
	pthread_mutex_destroy(&a->mmu);
	free(a->merge);
	free(a->path);
	free(a->lockpath);
	free(a);
}

static void *
worker(void *arg)
{
	struct audit *a = arg;
	struct job *j;
	int rc, orphan, fd;

	pthread_mutex_lock(&a->mu);
	for (;;) {
		if (a->job != NULL && !a->taken) {
			j = a->job;
			a->taken = 1;
			if (j->kind == JOB_APPEND && a->flush_err != 0) {
				/* Earlier lines may be lost: say so now, once. */
				cs_err_set(&j->err, a->flush_err, "%s: background fdatasync "
				    "failed: %s", a->path, strerror(a->flush_err));
				a->flush_err = 0;
				rc = -1;
			} else {
				pthread_mutex_unlock(&a->mu);
				pthread_mutex_lock(&a->io);
				rc = j->kind == JOB_OPEN ? do_open(a, j) : do_append(a, j, 0);
				/* mu before io is let go: no append slips in before last_seq. */
				pthread_mutex_lock(&a->mu);
				pthread_mutex_unlock(&a->io);
			}
			if (rc == 0 && j->kind == JOB_APPEND)
				appended(a, j);
			j->done = 1;
			a->job = NULL;
			a->taken = 0;
			if (j->abandoned) {
				free(j->body);
				free(j);
				a->wedged = 0;
			}
			pthread_cond_broadcast(&a->done);
			continue;
		}
		if (a->dirty && (a->stopping || passed(&a->flush_due))) {
			a->dirty = 0;
			pthread_mutex_unlock(&a->mu);
			/* A copy of the fd: a reopen may close the original meanwhile. */
			pthread_mutex_lock(&a->io);
			fd = dup(a->wfd);
			pthread_mutex_unlock(&a->io);
			rc = fd == -1 || fdatasync(fd) == -1 ? errno : 0;
			if (fd != -1)
				close(fd);
			pthread_mutex_lock(&a->mu);
			if (rc != 0 && a->flush_err == 0)
				a->flush_err = rc;
			continue;
		}
		if (a->stopping)
			break;
		if (a->dirty)
			pthread_cond_timedwait(&a->wake, &a->mu, &a->flush_due);
		else
			pthread_cond_wait(&a->wake, &a->mu);
	}
	a->exited = 1;
	orphan = a->orphaned;
	pthread_cond_broadcast(&a->done);
	pthread_mutex_unlock(&a->mu);
	if (orphan)
		destroy(a);
	return NULL;
}

static void
free_job(struct job *j)
{
	if (j != NULL)
		free(j->body);
	free(j);
}

/* The result of a finished job into e (its record copied), and the job freed. */
static int
job_result(struct job *j, struct cs_err *e)
{
	int rc;

	rc = j->err.msg[0] != '\0' ? cs_err_set(e, j->err.code, "%s", j->err.msg) : 0;
	free_job(j);
	return rc;
}

/* Hands j to the worker and waits at most the timeout. On success or failure j is
 * freed here; when the wait times out, the worker frees it once it is done. */
static int
submit(struct audit *a, struct job *j, struct cs_err *e)
{
	struct timespec dl;
	int rc = 0;

	deadline(&dl, a->timeout_ms);
	pthread_mutex_lock(&a->mu);
	while (a->job != NULL && !a->wedged && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&a->done, &a->mu, &dl);
	if (a->wedged) {
		pthread_mutex_unlock(&a->mu);
		free_job(j);
		return cs_err_set(e, ETIMEDOUT, "%s: an earlier audit write is still stuck; "
		    "not writing", a->path);
	}
	if (a->job != NULL) {
		pthread_mutex_unlock(&a->mu);
		free_job(j);
		return cs_err_set(e, ETIMEDOUT, "%s: audit write did not finish within %u ms",
		    a->path, a->timeout_ms);
	}
	a->job = j;
	pthread_cond_signal(&a->wake);
	rc = 0;
	while (!j->done && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&a->done, &a->mu, &dl);
	if (!j->done) {
		j->abandoned = 1;
		a->wedged = 1;
		pthread_cond_broadcast(&a->done);	/* waiters for the slot fail at once */
		pthread_mutex_unlock(&a->mu);
		return cs_err_set(e, ETIMEDOUT, "%s: audit write did not finish within %u ms",
		    a->path, a->timeout_ms);
	}
	pthread_mutex_unlock(&a->mu);
	return job_result(j, e);
}

/* Stops the worker, waiting at most wait_ms; a worker still stuck then frees a itself. */
static void
shutdown_worker(struct audit *a, unsigned wait_ms)
{
	struct timespec dl;
	pthread_t t;

	pthread_mutex_lock(&a->mu);
	a->stopping = 1;
	pthread_cond_signal(&a->wake);
	deadline(&dl, a->wedged ? 0 : wait_ms);
	while (!a->exited) {
		if (pthread_cond_timedwait(&a->done, &a->mu, &dl) == ETIMEDOUT)
			break;
	}
	if (!a->exited) {
		a->orphaned = 1;
		t = a->worker;
		pthread_mutex_unlock(&a->mu);
		pthread_detach(t);
		return;
	}
	pthread_mutex_unlock(&a->mu);
	pthread_join(a->worker, NULL);
	destroy(a);
}

char *
audit_lock_path(const char *path)
{
	const char *base = strrchr(path, '/');
	size_t dlen = base != NULL ? (size_t)(base - path) + 1 : 0;
	char *p;

	base = base != NULL ? base + 1 : path;
	if ((p = malloc(strlen(path) + sizeof "." AUDIT_LOCK_SUFFIX)) == NULL)
		return NULL;
	snprintf(p, strlen(path) + sizeof "." AUDIT_LOCK_SUFFIX, "%.*s.%s%s", (int)dlen, path,
	    base, AUDIT_LOCK_SUFFIX);
	return p;
}

int
audit_open(const char *path, enum audit_flush flush, unsigned timeout_ms,
    struct audit **out, struct cs_err *e)
{
	pthread_condattr_t ca;
	sigset_t all, old;
	struct audit *a;
	struct job *j;
	int rc;

	*out = NULL;
	if (sodium_init() < 0)
		return cs_err_set(e, EIO, "%s: libsodium cannot be initialised", path);
	if ((a = calloc(1, sizeof *a)) == NULL || (a->path = strdup(path)) == NULL ||
	    (a->lockpath = audit_lock_path(path)) == NULL ||
	    (j = calloc(1, sizeof *j)) == NULL) {
		if (a != NULL) {
			free(a->path);
			free(a->lockpath);
		}
		free(a);
		return cs_err_sys(e, ENOMEM, "%s", path);
	}
	a->flush = flush;
	a->timeout_ms = timeout_ms != 0 ? timeout_ms : AUDIT_TIMEOUT_MS_DEFAULT;
	a->wfd = a->rfd = a->lfd = -1;
	memcpy(a->last_hash, AUDIT_ZERO_HASH, sizeof a->last_hash);
	pthread_mutex_init(&a->mu, NULL);
	pthread_mutex_init(&a->io, NULL);
	pthread_mutex_init(&a->mmu, NULL);
	a->window_ms = AUDIT_DENIAL_WINDOW_MS;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->wake, &ca);
	pthread_cond_init(&a->done, &ca);
	pthread_condattr_destroy(&ca);
	/* The worker takes no signals: a broken pipe is EPIPE, never SIGPIPE's default. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&a->worker, NULL, worker, a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		destroy(a);
		free(j);
		return cs_err_sys(e, rc, "%s: audit writer thread", path);
	}
	j->kind = JOB_OPEN;
	if (submit(a, j, e) == -1) {
		shutdown_worker(a, a->timeout_ms);
		return -1;
	}
	a->fast = a->regular && a->local && a->flush != AUDIT_FLUSH_SYNC;
	*out = a;
	return 0;
}

/* The fast path (see the top of the file): 1 when the caller ran j here (its result in
 * j->err, for job_result()), 0 when it cannot be run here and now (j untouched, for
 * submit()). */
static int
append_here(struct audit *a, struct job *j)
{
	struct timespec dl;
	int rc;

	pthread_mutex_lock(&a->mu);
	if (a->wedged || a->job != NULL || a->flush_err != 0) {
		pthread_mutex_unlock(&a->mu);
		return 0;
	}
	pthread_mutex_unlock(&a->mu);
	/* Another caller holds io for microseconds; the worker may hold it for as long as
	 * its job takes, which submit() would wait for too, no longer than the timeout. */
	deadline(&dl, a->timeout_ms);
	if (pthread_mutex_clocklock(&a->io, CLOCK_MONOTONIC, &dl) != 0) {
		cs_err_set(&j->err, ETIMEDOUT, "%s: audit write did not finish within %u ms",
		    a->path, a->timeout_ms);
		return 1;
	}
	if (flock(a->lfd, LOCK_EX | LOCK_NB) == -1) {
		pthread_mutex_unlock(&a->io);
		return 0;	/* another process holds it, maybe for long: not here */
	}
	rc = do_append(a, j, 1);
	/* mu before io is let go: no append slips in before last_seq. */
	pthread_mutex_lock(&a->mu);
	pthread_mutex_unlock(&a->io);
	if (rc == 0)
		appended(a, j);
	pthread_mutex_unlock(&a->mu);
	return 1;
}

int
audit_append(struct audit *a, const struct audit_event *ev, struct cs_err *e)
{
	struct job *j;
	char *body;
	size_t len, cap;

	if (ev == NULL || ev->event == NULL || ev->event[0] == '\0')
		return cs_err_set(e, EINVAL, "%s: an audit event needs a name", a->path);
	if ((body = encode(ev, SIZE_MAX)) == NULL)
		return cs_err_sys(e, ENOMEM, "%s: encoding event %s", a->path, ev->event);
	len = strlen(body);
	/* A rotation of 10 000 providers names more than a line holds: keep the lists'
	 * first names, halving until the line fits; "*_omitted" gives the rest's count. */
	cap = ev->nkeys > ev->nproviders ? ev->nkeys : ev->nproviders;
	cap = cap > ev->noverrides ? cap : ev->noverrides;
	while (len + HEAD_MAX > AUDIT_LINE_MAX && cap > 0) {
		free(body);
		if ((body = encode(ev, cap /= 2)) == NULL)
			return cs_err_sys(e, ENOMEM, "%s: encoding event %s", a->path,
			    ev->event);
		len = strlen(body);
	}
	if (len + HEAD_MAX > AUDIT_LINE_MAX) {
		free(body);
		return cs_err_set(e, EMSGSIZE, "%s: event %.40s does not fit in one audit line "
		    "(%u bytes)", a->path, ev->event, AUDIT_LINE_MAX);
	}
	if ((j = calloc(1, sizeof *j)) == NULL) {
		free(body);
		return cs_err_sys(e, ENOMEM, "%s", a->path);
	}
	j->kind = JOB_APPEND;
	j->body = body;
	j->bodylen = len;
	if (a->fast && append_here(a, j))
		return job_result(j, e);
	return submit(a, j, e);
}

void
audit_last(const struct audit *a, uint64_t *seq, char hash[AUDIT_HASH_HEX + 1])
{
	/* The lock is the handle's own, not part of its value: const is kept. */
	struct audit *m = (struct audit *)a;

	pthread_mutex_lock(&m->mu);
	*seq = a->last_seq;
	memcpy(hash, a->last_hash, AUDIT_HASH_HEX + 1);
	pthread_mutex_unlock(&m->mu);
}

/* audit_append_denial's table: one entry per caller (uid) in its window, with the pairs
 * it logged one by one. Bounded, since callers choose what fills it: at most
 * AUDIT_DENIAL_CALLERS entries and one shared by everyone past them, each of
 * AUDIT_DENIAL_PAIRS pairs, each host cut to AUDIT_DENIAL_HOST_MAX bytes (a pair is
 * told apart by a keyed hash of the whole host, so a long host cannot pass for
 * another). About 120 KB, allocated at the first denial. */
struct mpair {
	uint64_t	id;			/* SipHash of host and port */
	char		host[AUDIT_DENIAL_HOST_MAX];
	int		port;
	unsigned long	repeats;		/* denials after the first one */
};

struct mcaller {
	int		used;
	uid_t		uid;
	int		noids;			/* events with pid < 0 */
	gid_t		gid;			/* of the caller's last denial */
	pid_t		pid;
	char		comm[64];
	char		via[16];
	uint64_t	start_ms;		/* CLOCK_MONOTONIC */
	char		since[32];
	size_t		npairs;
	struct mpair	pairs[AUDIT_DENIAL_PAIRS];
	unsigned long	other;			/* denials of pairs past the table's */
	char		ohost[AUDIT_DENIAL_HOST_MAX];	/* the last of them */
	int		oport;
};

struct merge {
	unsigned char	key[crypto_shorthash_KEYBYTES];
	struct mcaller	c[AUDIT_DENIAL_CALLERS + 1];	/* the last: shared by the rest */
};

/* One summary line, with the storage its event points into. */
struct msum {
	struct audit_event	ev;
	char			host[AUDIT_DENIAL_HOST_MAX], comm[64], via[16], since[32];
	char			detail[160];
};

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
sum_one(const struct mcaller *c, int shared, const char *host, int port,
    unsigned long n, int other, struct msum *s)
{
	memset(s, 0, sizeof *s);
	snprintf(s->host, sizeof s->host, "%s", host);
	snprintf(s->comm, sizeof s->comm, "%s", c->comm);
	snprintf(s->via, sizeof s->via, "%s", c->via);
	snprintf(s->since, sizeof s->since, "%s", c->since);
	snprintf(s->detail, sizeof s->detail, "%lu more denials %s, merged (at most %d pairs "
	    "per caller are logged one by one per %u s)", n, other ?
	    "of other pairs, the last one named here" : "of this pair",
	    AUDIT_DENIAL_PAIRS, (unsigned)(AUDIT_DENIAL_WINDOW_MS / 1000));
	s->ev.event = "sandbox_blocked";
	s->ev.host = s->host;
	s->ev.port = port;
	s->ev.via = s->via[0] != '\0' ? s->via : NULL;
	s->ev.detail = s->detail;
	s->ev.repeats = n;
	s->ev.since = s->since;
	s->ev.pid = shared || c->noids ? -1 : c->pid;
	s->ev.uid = c->uid;
	s->ev.gid = c->gid;
	s->ev.comm = shared || c->noids || s->comm[0] == '\0' ? NULL : s->comm;
	if (shared)
		snprintf(s->detail, sizeof s->detail, "%lu more denials by callers past the "
		    "%d tracked at once, merged", n, AUDIT_DENIAL_CALLERS);
}

/* Moves c's counts into out (room for AUDIT_DENIAL_PAIRS + 1) and frees the entry. */
static size_t
flush_caller(struct merge *m, struct mcaller *c, struct msum *out)
{
	int shared = c == &m->c[AUDIT_DENIAL_CALLERS];
	size_t i, n = 0;

	for (i = 0; i < c->npairs; i++)
		if (c->pairs[i].repeats > 0)
			sum_one(c, shared, c->pairs[i].host, c->pairs[i].port,
			    c->pairs[i].repeats, 0, &out[n++]);
	if (c->other > 0)
		sum_one(c, shared, c->ohost, c->oport, c->other, 1, &out[n++]);
	c->used = 0;
	return n;
}

static int
append_sums(struct audit *a, struct msum *s, size_t n, struct cs_err *e)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < n; i++)
		if (audit_append(a, &s[i].ev, e) == -1)
			rc = -1;
	return rc;
}

int
audit_append_denial(struct audit *a, const struct audit_event *ev, struct cs_err *e)
{
	struct msum *out;
	struct merge *m;
	struct mcaller *c = NULL, *spare = NULL;
	const char *host = ev->host != NULL ? ev->host : "";
	uint64_t now = mono_ms(), id;
	unsigned char h[crypto_shorthash_BYTES];
	size_t i, nout = 0;
	int noids = ev->pid < 0, write_now = 0, rc = 0;

	/* Root's denials are written one by one: root can fill the disk anyway, and its
	 * own checks (an operator trying hosts) are read line by line. */
	if (!noids && ev->uid == 0)
		return audit_append(a, ev, e);
	if ((out = malloc((AUDIT_DENIAL_PAIRS + 1) * sizeof *out)) == NULL)
		return audit_append(a, ev, e);		/* no memory to merge: write it */
	pthread_mutex_lock(&a->mmu);
	if ((m = a->merge) == NULL) {
		if ((m = a->merge = calloc(1, sizeof *m)) == NULL) {
			pthread_mutex_unlock(&a->mmu);
			free(out);
			return audit_append(a, ev, e);
		}
		randombytes_buf(m->key, sizeof m->key);
	}
	for (i = 0; i < AUDIT_DENIAL_CALLERS && c == NULL; i++) {
		if (m->c[i].used && m->c[i].uid == ev->uid && m->c[i].noids == noids)
			c = &m->c[i];
		else if (spare == NULL && (!m->c[i].used ||
		    now - m->c[i].start_ms >= a->window_ms))
			spare = &m->c[i];
	}
	if (c == NULL && spare != NULL) {
		if (spare->used)
			nout = flush_caller(m, spare, out);	/* its window is over */
		c = spare;
	}
	if (c == NULL)
		c = &m->c[AUDIT_DENIAL_CALLERS];
	if (c->used && now - c->start_ms >= a->window_ms)
		nout = flush_caller(m, c, out);
	if (!c->used) {
		memset(c, 0, sizeof *c);
		c->used = 1;
		c->uid = ev->uid;
		c->noids = noids;
		c->start_ms = now;
		timestamp(c->since);
	}
	c->pid = ev->pid;
	c->gid = ev->gid;
	snprintf(c->comm, sizeof c->comm, "%s", ev->comm != NULL ? ev->comm : "");
	snprintf(c->via, sizeof c->via, "%s", ev->via != NULL ? ev->via : "");
	crypto_shorthash(h, (const unsigned char *)host, strlen(host), m->key);
	memcpy(&id, h, sizeof id);
	id ^= (uint64_t)(unsigned)ev->port * 0x9e3779b97f4a7c15ULL;
	for (i = 0; i < c->npairs; i++)
		if (c->pairs[i].id == id && c->pairs[i].port == ev->port)
			break;
	if (i < c->npairs) {
		c->pairs[i].repeats++;
	} else if (c->npairs < AUDIT_DENIAL_PAIRS) {
		c->pairs[c->npairs].id = id;
		c->pairs[c->npairs].port = ev->port;
		c->pairs[c->npairs].repeats = 0;
		snprintf(c->pairs[c->npairs].host, AUDIT_DENIAL_HOST_MAX, "%s", host);
		c->npairs++;
		write_now = 1;
	} else {
		c->other++;
		snprintf(c->ohost, sizeof c->ohost, "%s", host);
		c->oport = ev->port;
	}
	pthread_mutex_unlock(&a->mmu);
	if (append_sums(a, out, nout, e) != 0)
		rc = -1;
	free(out);
	if (write_now && audit_append(a, ev, e) == -1) {
		/* Not logged: the next denial of the pair must try again, not be merged. */
		pthread_mutex_lock(&a->mmu);
		for (c = m->c; c <= &m->c[AUDIT_DENIAL_CALLERS]; c++) {
			if (!c->used || c->uid != ev->uid || c->noids != noids)
				continue;
			for (i = 0; i < c->npairs; i++)
				if (c->pairs[i].id == id && c->pairs[i].port == ev->port) {
					c->pairs[i] = c->pairs[--c->npairs];
					break;
				}
		}
		pthread_mutex_unlock(&a->mmu);
		rc = -1;
	}
	return rc;
}

void
audit_set_denial_window(struct audit *a, unsigned ms)
{
	pthread_mutex_lock(&a->mmu);
	a->window_ms = ms != 0 ? ms : AUDIT_DENIAL_WINDOW_MS;
	pthread_mutex_unlock(&a->mmu);
}

/* Writes the summaries of every caller whose window is over (all of them: all). */
static void
flush_merged(struct audit *a, int all)
{
	struct cs_err e = { 0 };
	struct msum *out = NULL;
	uint64_t now = mono_ms();
	size_t i, n = 0;

	pthread_mutex_lock(&a->mmu);
	if (a->merge != NULL) {
		for (i = 0; i <= AUDIT_DENIAL_CALLERS; i++) {
			struct mcaller *c = &a->merge->c[i];

			if (!c->used || (!all && now - c->start_ms < a->window_ms))
				continue;
			if (out == NULL && (out = malloc((AUDIT_DENIAL_CALLERS + 1) *
			    (AUDIT_DENIAL_PAIRS + 1) * sizeof *out)) == NULL)
				break;		/* kept for the next tick */
			n += flush_caller(a->merge, c, out + n);
		}
	}
	pthread_mutex_unlock(&a->mmu);
	/* A summary that cannot be written is lost with its count, as a denial line that
	 * cannot be written is: the answer was "denied" either way. */
	(void)append_sums(a, out, n, &e);
	free(out);
}

void
audit_reopen(struct audit *a)
{
	if (a != NULL)
		a->reopen = 1;
}

void
audit_tick(struct audit *a)
{
	struct stat st;

	if (a == NULL)
		return;
	/* Only when no append is under way: this must never wait on one. */
	if (!a->regular || pthread_mutex_trylock(&a->io) != 0) {
		flush_merged(a, 0);
		return;
	}
	if (lstat(a->path, &st) == -1 ? errno == ENOENT :
	    st.st_dev != a->dev || st.st_ino != a->ino)
		a->reopen = 1;
	pthread_mutex_unlock(&a->io);
	flush_merged(a, 0);
}

void
audit_close(struct audit *a)
{
	if (a == NULL)
		return;
	flush_merged(a, 1);
	shutdown_worker(a, a->timeout_ms);
}
