/* policy/state.h - the small state file beside the vault: what has been seen, so that
 * going back is noticed.
 *
 * "<vault>.state" records the highest vault generation written or served and the audit
 * log's furthest chain point (seq and line hash, with the log's path). A daemon refuses
 * a vault older than the recorded generation (rollback), and `audit --verify` refuses a
 * log that no longer reaches the recorded seq (lines cut from the end). Updates only
 * ever move forward: each field keeps the larger of the stored and the new value, under
 * an flock on the file, written atomically (temporary file, fsync, rename).
 *
 * The state file is integrity-neutral: it holds no secret, and someone who can rewrite
 * it can also rewrite the vault folder; it guards against accidents and restored
 * backups, not against root. */
#ifndef CS_STATE_H
#define CS_STATE_H

#include <stdint.h>

#include "../crypto/err.h"
#include "audit.h"

#define STATE_SUFFIX	".state"

struct cs_state {
	uint64_t	generation;			/* highest vault generation seen */
	uint64_t	audit_seq;			/* furthest audit line seen; 0: none */
	char		audit_hash[AUDIT_HASH_HEX + 1];	/* SHA-256 hex of that line */
	char		audit_path[4096];		/* the log those refer to */
};

/* Reads the state of the vault at vault_path; a missing file gives all zeros. */
int	state_read(const char *vault_path, struct cs_state *st, struct cs_err *e);
/* Moves the state forward: generation to max(stored, generation); the audit point to
 * (seq, hash, path) when seq is larger than the stored one or the path differs.
 * Pass 0 to leave a part as it is. */
int	state_advance(const char *vault_path, uint64_t generation, uint64_t audit_seq,
	    const char *audit_hash, const char *audit_path, struct cs_err *e);

#endif
