/* policy/audit.h - the append-only, hash-chained audit log.
 *
 * One JSON object per line: "seq" (1, 2, ...), "prev" (SHA-256 hex of the previous line's
 * bytes, without its newline; 64 zeros for the first line), "event", "timestamp"
 * (RFC 3339 UTC, e.g. 2026-11-23T08:37:17.123Z; taken under the lock as the line is
 * written, so it goes back along seq only when the wall clock is set back), then the
 * fields that apply. An edited,
 * removed, inserted or reordered line breaks the chain where it happened; audit_verify()
 * (auditread.h) names that line. Values never appear: an event carries names only.
 *
 * Appends are safe between processes: each takes an exclusive flock on the lock file
 * ".<log>.lock" beside the log (0600: never the log, which a reader of a 0640 log could
 * lock), reads the chain's tail (cached while the file has not grown under it), and
 * writes the line with one write(). A write error is an error.
 *
 * Rotation: the lock file also records the chain's tail, so the chain goes on across
 * files. A writer that finds its file renamed away (another writer moved on, SIGHUP's
 * audit_reopen(), audit_tick()) reopens the path; one that finds the file empty after
 * lines were written (a new file, or one cut by copytruncate) first writes an
 * "audit_log_continued" line whose prev is the hash of the previous file's last line.
 * A writer that finds the file the record names ending before the record's line (lines
 * cut from its end, its last line replaced, or lines lost in a crash) goes on from what
 * the file holds and first writes "audit_lines_missing", which audit_verify() reports.
 * audit_verify() checks <log>.N[.gz] ... <log>.1, <log> (or dateext's <log>-DATE[.gz])
 * as one chain. Writers map the
 * lock file: it must not be truncated or removed while they run (a truncated mapping
 * is SIGBUS; a removed one lets two writers lock different files). No append takes longer than the timeout
 * (audit_open's timeout_ms): a write that hangs (a FIFO nobody reads, a stuck network
 * filesystem) fails with ETIMEDOUT. */
#ifndef CS_AUDIT_H
#define CS_AUDIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../crypto/err.h"

#define AUDIT_LINE_MAX		(64u * 1024)	/* bytes of one line, including the newline */
#define AUDIT_HASH_HEX		64		/* hex digits of a SHA-256 */
#define AUDIT_ASYNC_MS		100		/* async flush period */
#define AUDIT_TIMEOUT_MS_DEFAULT 2000		/* bound on one append when given 0 */
#define AUDIT_LOCK_SUFFIX	".lock"		/* .<log>.lock: the chain's lock and tail */
#define AUDIT_ROTATED_MAX	1000		/* rotated files (<log>.1 ... ) verify reads */
enum audit_flush {
	AUDIT_FLUSH_SYNC,	/* fdatasync before the operation returns */
	AUDIT_FLUSH_ASYNC,	/* fdatasync in the background, at least every 100 ms */
	AUDIT_FLUSH_NONE	/* leave it to the kernel */
};

/* Denials merged by audit_append_denial(): per caller (uid), a window of this long
 * holds at most AUDIT_DENIAL_PAIRS lines of their own, then one summary per pair that
 * repeated and one for the pairs past the first AUDIT_DENIAL_PAIRS: at most
 * 2 * AUDIT_DENIAL_PAIRS + 1 lines per caller and window. */
#define AUDIT_DENIAL_WINDOW_MS	10000
#define AUDIT_DENIAL_PAIRS	5		/* distinct host:port logged one by one */
#define AUDIT_DENIAL_CALLERS	64		/* callers tracked at once; the rest share one */
#define AUDIT_DENIAL_HOST_MAX	256		/* bytes of a host kept for a summary line */

/* One event. Pointers may be NULL and counts 0 where a field does not apply;
 * pid < 0 means "no caller ids". */
struct audit_event {
	const char		*event;		/* "secret_read", "key_rotated", "sandbox_blocked", ... */
	const char		*provider;
	const char *const	*keys;		/* field names */
	size_t			 nkeys;
	const char *const	*overrides;	/* field names served from the environment */
	size_t			 noverrides;
	const uint64_t		*version;	/* secret_read of a vault field: the version
						 * served (vault_field_version); else NULL */
	const char *const	*providers;	/* for key_rotated */
	size_t			 nproviders;
	const char		*fingerprint;
	const char		*host;
	int			 port;		/* 0: absent */
	const char		*reason;
	const char		*via;		/* "cli", "fs", "control" */
	const char		*detail;	/* free text for daemon events (reload refused ...) */
	unsigned long		 repeats;	/* merged denials this line stands for; 0: absent */
	const char		*since;		/* RFC 3339 start of the merged window */
	pid_t			 pid;
	uid_t			 uid;
	gid_t			 gid;
	const char		*comm;
};

struct audit;

/* The lock file of the log at path: ".audit.log.lock" beside "audit.log" (hidden from a
 * logrotate glob such as "*"). Caller frees; NULL when out of memory. */
char	*audit_lock_path(const char *path) CS_WUR;
/* Opens (creating 0600, O_APPEND, O_NOFOLLOW) the log at path; timeout_ms 0 means
 * AUDIT_TIMEOUT_MS_DEFAULT. A FIFO with no reader is ENXIO, a symlink ELOOP. */
int	audit_open(const char *path, enum audit_flush flush, unsigned timeout_ms,
	    struct audit **out, struct cs_err *e) CS_WUR;
/* Appends one line; on success the line is on disk per the flush mode. */
int	audit_append(struct audit *a, const struct audit_event *ev, struct cs_err *e)
	    CS_WUR;
/* Appends a denial (sandbox_blocked), merging repeats so that one caller cannot grow the
 * log faster than AUDIT_DENIAL_* allow: the first denial of a host:port (ev->host,
 * ev->port) by a uid (ev->uid; pid < 0 counts as one caller) in a window is written
 * at once; repeats of it, and denials of further pairs past AUDIT_DENIAL_PAIRS, are
 * counted, and written when the window ends (by the caller's next denial, by
 * audit_tick() or by audit_close()) as sandbox_blocked lines with "repeats" (how many)
 * and "since" (the window's start). When AUDIT_DENIAL_CALLERS callers are in their
 * window, the others share one entry (no caller ids in its summary). Denials by
 * uid 0 (with caller ids) are written one by one, never merged. Returns 0 when the
 * denial was written or counted, -1 as audit_append when a line failed. Secret reads
 * never go through here: audit_append() writes every one. */
int	audit_append_denial(struct audit *a, const struct audit_event *ev, struct cs_err *e)
	    CS_WUR;
/* The window of audit_append_denial, in ms (tests); 0 restores AUDIT_DENIAL_WINDOW_MS. */
void	audit_set_denial_window(struct audit *a, unsigned ms);
/* The chain's tail after the last append by this handle (for the daemon's state file);
 * 0 and 64 zeros before its first. */
void	audit_last(const struct audit *a, uint64_t *seq, char hash[AUDIT_HASH_HEX + 1]);
/* Makes the next append open the path again (SIGHUP after a rotation). Async-signal-
 * safe; NULL is fine. */
void	audit_reopen(struct audit *a);
/* For a long-lived handle, about once a second: notices by itself that the path no
 * longer names the file being written (renamed away, removed) and reopens it at the
 * next append (one lstat(); skipped while an append is under way), and writes the
 * summaries of merged denials whose window has ended. NULL is fine. */
void	audit_tick(struct audit *a);
/* Flushes, stops the background flusher, closes. NULL is fine. Waits at most the timeout:
 * a write still stuck then is left to its thread, which frees the handle if it returns. */
void	audit_close(struct audit *a);

#endif
