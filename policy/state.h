/* policy/state.h - the rollback floor and the audit log's chain point, kept where the
 * vault's own folder cannot reach them.
 *
 * One small file per vault, "<state_dir>/<vault name>-<16 hex>.state" (the hex digits are
 * the start of the SHA-256 of the vault's absolute path, so vaults that share a state_dir
 * never share a file). It records the floor: the highest vault generation written or
 * served, with that vault's MAC (vault_mac_hex), which binds the generation to one
 * content; and the audit log's furthest chain point (seq and line hash, with the log's
 * path). A reader refuses a vault older than the floor, or one of the floor's generation
 * with another MAC (ESTALE); `audit --verify` refuses a log that no longer reaches the
 * recorded seq (lines cut from the end). Updates only move forward, under an flock on
 * "<file>.lock", written atomically (crypto/file.c).
 *
 * Why another folder: whoever can write the vault's folder (a user it was handed to, not
 * root) could otherwise delete or replace the floor along with restoring an old vault.
 * state_dir must be a folder that only root (or the caller) can write, all the way up
 * (a sticky world-writable ancestor such as /tmp is fine), and not the vault's folder;
 * anything else is refused, naming the folder. Once a vault exists a missing floor is an
 * error, not generation 0: `comfysecrets floor --reset` re-establishes it.
 *
 * Migration: before the floor moved, it lived in "<vault>.state" beside the vault
 * (generation and audit point, no MAC). When the new file is missing, that file is read
 * instead; the first update writes the new file from it and removes it. A floor without
 * a MAC accepts any vault of its generation and takes that vault's MAC at the next
 * update. Nothing here knows the key: the caller opens and verifies the vault. */
#ifndef CS_STATE_H
#define CS_STATE_H

#include <limits.h>
#include <stdint.h>

#include "../crypto/err.h"
#include "../crypto/vault.h"
#include "audit.h"

#define STATE_SUFFIX		".state"	/* of the floor file, and of the old one */

struct cs_state {
	uint64_t	generation;			/* the floor; 0: none */
	char		mac[VAULT_MAC_HEX + 1];		/* that vault's MAC; "": not bound */
	uint64_t	audit_seq;			/* furthest audit line seen; 0: none */
	char		audit_hash[AUDIT_HASH_HEX + 1];	/* SHA-256 hex of that line */
	char		audit_path[4096];		/* the log those refer to */
	int		legacy;				/* read from "<vault>.state" */
	char		file[PATH_MAX];			/* the floor file, for messages */
};

/* The floor file of vault_path in state_dir, into buf (n bytes). The vault's folder must
 * exist (its real path names the vault). ENOENT when it does not. */
int	state_path(const char *state_dir, const char *vault_path, char *buf, size_t n,
	    struct cs_err *e) CS_NONNULL(1, 2, 3) CS_WUR;
/* Reads the state of vault_path: the floor file in state_dir, else the old file beside
 * the vault (st->legacy), else all zeros (st->file is set in every case). Refuses an
 * unsafe state_dir (EPERM), a state file that is not a regular file, or a malformed one
 * (EINVAL): a broken floor is never read as no floor. */
int	state_read(const char *state_dir, const char *vault_path, struct cs_state *st,
	    struct cs_err *e) CS_NONNULL(1, 2, 3) CS_WUR;
/* Checks a verified vault of generation gen and MAC mac, read after st, against st:
 * ENOENT when st has no floor, ESTALE when gen is below the floor or equals it with
 * another MAC. The message names vault_path, both generations, st->file and what to do. */
int	state_check(const struct cs_state *st, const char *vault_path, uint64_t gen,
	    const char *mac, struct cs_err *e) CS_NONNULL(1, 2, 4) CS_WUR;
/* Raises the floor to (gen, mac) when gen is above it, or binds mac to a floor of gen
 * that has none; never lowers it. Creates state_dir (0700, one level) and the file when
 * missing, carrying an old "<vault>.state" over and removing it. */
int	state_advance_floor(const char *state_dir, const char *vault_path, uint64_t gen,
	    const char *mac, struct cs_err *e) CS_NONNULL(1, 2, 4) CS_WUR;
/* Sets the floor to (gen, mac) whatever it was (`init`, `floor --reset`); *was (may be
 * NULL) gets the generation it replaces. The audit point is kept. */
int	state_reset_floor(const char *state_dir, const char *vault_path, uint64_t gen,
	    const char *mac, uint64_t *was, struct cs_err *e) CS_NONNULL(1, 2, 4) CS_WUR;
/* Moves the audit point to (seq, hash, path) when seq is larger than the stored one or
 * the path differs. The floor is kept (none stays none). */
int	state_advance_audit(const char *state_dir, const char *vault_path, uint64_t audit_seq,
	    const char *audit_hash, const char *audit_path, struct cs_err *e) CS_NONNULL(1, 2)
	    CS_WUR;

#endif
