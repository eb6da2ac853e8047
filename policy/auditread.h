/* policy/auditread.h - reading the audit log back: its last lines, and the chain's check.
 *
 * The format and the chain are described in audit.h, whose writer appends what these
 * functions read. They take no lock and never write. */
#ifndef CS_AUDITREAD_H
#define CS_AUDITREAD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../crypto/err.h"
#include "audit.h"

/* The prev of a chain's first line: 64 zeros. */
#define AUDIT_ZERO_HASH	"0000000000000000000000000000000000000000000000000000000000000000"

/* The chain's hash of one line: SHA-256 of its len bytes at p (without the newline),
 * as 64 lower-case hex digits and a NUL in hex. */
void	audit_line_hash(const char *p, size_t len, char hex[AUDIT_HASH_HEX + 1]);
/* Reads exactly len bytes of fd at off into buf (pread, retried on EINTR). Returns 0,
 * or -1 with errno; EIO when the file ends first (cut under the reader). */
int	audit_read_at(int fd, char *buf, size_t len, off_t off) CS_WUR;

/* Reads the last limit lines of the log at path (that file alone) into a
 * NULL-terminated array of strings (without newlines), oldest first; *n is the count.
 * Returns 0, or -1 with e naming the file. Caller frees with audit_lines_free(). */
int	audit_tail(const char *path, size_t limit, char ***lines, size_t *n, struct cs_err *e)
	    CS_WUR;
/* The same, reading back into the rotated files when path holds fewer than limit lines:
 * path.1, then path.2 or path.2.gz (through gzip -dc), ... (or the dateext files, newest
 * first), until limit lines are found or a number is missing; the files are those
 * audit_verify() reads. A rotated file it reaches compressed other than with gzip is
 * an error (ENOTSUP) naming it. path itself may be missing when rotated files exist. The
 * lines come oldest first. Runs gzip: for the CLI, not the daemon. */
int	audit_tail_rotated(const char *path, size_t limit, char ***lines, size_t *n,
	    struct cs_err *e) CS_WUR;
void	audit_lines_free(char **lines, size_t n);

struct audit_verify_result {
	uint64_t	lines;			/* lines read, in all files */
	uint64_t	first_seq;		/* the first line's seq (1 unless rotated away); 0: none */
	unsigned	files;			/* files read */
	uint64_t	bad_line;		/* 1-based line of bad_file with the first break;
						 * 0: none, or bad_file is missing (a gap) or
						 * cannot be read (not gzip) */
	char		bad_file[4096];		/* the file holding it */
	uint64_t	last_seq;
	char		last_hash[AUDIT_HASH_HEX + 1];
};
/* Verifies the whole chain: the rotated files path.N ... path.1 (each may be path.N.gz,
 * read through gzip -dc; found by listing path's folder, N up to AUDIT_ROTATED_MAX; or
 * logrotate's dateext files path-DATE[.gz], DATE digits (8 at least) and the separators
 * - _ . of any dateformat, oldest first by DATE as text: auditread.c, struct rotated;
 * both kinds in one folder, or dates of two shapes, are EINVAL), then path (which may
 * be missing when rotated files exist). A rotated file compressed other than with gzip
 * (path.3.xz, path-DATE.zst) is ENOTSUP naming it, as r->bad_file with r->bad_line 0:
 * its lines cannot be checked. Other files named path.* or path-* (path.bak) are not
 * read, and not an error: audit_unread() lists them. The oldest file may start
 * with an audit_log_continued line (older files deleted); else the first line is seq 1.
 * A number missing below the oldest file present is a break: e names the missing
 * path.N, as r->bad_file, with r->bad_line 0. Returns 0 when intact; -1 with e naming
 * the file, the first bad line and why ("audit.log.1: line 7: prev does not match the
 * hash of line 6"), and r->bad_file, r->bad_line; -1 (E2BIG) when files are numbered
 * above AUDIT_ROTATED_MAX. When expect_seq is non-zero, the set must also hold a line
 * with that seq whose hash is expect_hash (a state file's record; the log may go on
 * after it), so lines cut from the end are detected. */
int	audit_verify(const char *path, uint64_t expect_seq, const char *expect_hash,
	    struct audit_verify_result *r, struct cs_err *e) CS_WUR;
/* The files beside the log at path that audit_verify() does not read although their
 * names begin with its name and . or -: not rotated names (audit.log.bak, audit.log-old,
 * audit.log.1~), or a compressed copy of a rotated file that is read instead (audit.log.2
 * beside audit.log.2.gz while gzip runs). *msgs is a NULL-terminated array of *n
 * messages, by name, each naming the file and why ("/var/log/x/audit.log.bak: not read:
 * not a rotated log's name (audit.log.N or audit.log-DATE, maybe .gz)"). Returns 0, or
 * -1 with e where audit_verify() fails to list the folder (EINVAL for a mixed set).
 * Caller frees with audit_lines_free(). */
int	audit_unread(const char *path, char ***msgs, size_t *n, struct cs_err *e) CS_WUR;

#endif
