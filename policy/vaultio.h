/* policy/vaultio.h - the vault as every reader and writer must open it, and the key
 * rotation, shared by the CLI and the daemon.
 *
 * Readers read the rollback floor first (policy/state.h) and the vault second, and
 * refuse a vault older than the floor, or of the floor's generation with another MAC (a
 * restored copy would bring back values that were removed or rotated away), and a vault
 * with no floor at all. Writers take the vault lock, open the same way, finish an
 * interrupted rotation and sweep what killed writers left, change the vault in memory
 * and save it atomically; the floor then moves up to the new generation and MAC.
 *
 * vaultio_rotate() is the whole of `comfysecrets rotate` short of reading the new key and
 * writing the audit line, so the CLI and the daemon's .control file rotate alike; each
 * writes the key_rotated line itself (vaultio_rotated_event) with its own caller ids. */
#ifndef CS_VAULTIO_H
#define CS_VAULTIO_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "../crypto/err.h"
#include "../crypto/key.h"
#include "../crypto/vault.h"
#include "audit.h"
#include "config.h"

/* Where a reader's vault is and what it already holds to: the arguments of
 * vaultio_open(), which the CLI fills from its config and the daemon from what it was
 * started with and what it serves. */
struct vaultio_src {
	const char		*vault_path;
	const char		*state_dir;	/* the rollback floor's folder */
	const char		*key_file;	/* unused when key is set */
	const struct key	*key;		/* a key the caller took from
						 * COMFYVN_SECRETS_KEY, borrowed; NULL: store_open
						 * (the environment, then key_file) */
	uint64_t		 seen;		/* a floor of the caller's own (the generation
						 * the daemon serves); 0: none */
	const char		*seen_mac;	/* seen's MAC (VAULT_MAC_HEX); NULL when seen is 0 */
	int			 settle;	/* 1: settle the floor on success (below) */
};

/* The one way a reader opens the vault. Reads the floor (state_read) first, then opens
 * and verifies the vault (with src->key, or store_open), then refuses, with ESTALE and
 * *rollback set (rollback may be NULL), a generation below src->seen, or equal to it
 * with another MAC, or one the floor refuses (state_check: below it, its generation with
 * another MAC, or no floor at all, ENOENT). Every other error (no vault, a bad key, a
 * vault that does not verify, EMFILE...) leaves *rollback alone. With src->settle, a
 * floor migrated from the old place or not yet bound to a MAC is then settled
 * (state_advance_floor; its failure fails the open); else the floor is not written (the
 * daemon raises it itself once it serves the vault, and a state folder it cannot write
 * is no reason not to serve). On success the caller frees *v (vault_close) and *k (key_free); *k is NULL
 * when src->key was used, and k may be NULL then. On failure both are NULL. */
int	vaultio_open(const struct vaultio_src *src, struct key **k, struct vault **v,
	    int *rollback, struct cs_err *e) CS_NONNULL(1, 3) CS_WUR;
/* vaultio_open() of c's vault with the key from the environment or c's key file, no
 * floor of the caller's own, and settle. Caller frees both: vaultio_close(-1, k, v). */
int	vaultio_open_read(const struct cfg *c, struct key **k, struct vault **v,
	    struct cs_err *e) CS_NONNULL(1, 2, 3) CS_WUR;
/* The same under the vault lock (*lockfd), finishing an interrupted rotation first.
 * On failure nothing is left held. */
int	vaultio_open_write(const struct cfg *c, int *lockfd, struct key **k, struct vault **v,
	    struct cs_err *e) CS_NONNULL(1, 2, 3, 4) CS_WUR;
/* Saves v atomically and raises the floor to its generation and MAC. pc (may be NULL)
 * runs before the new vault takes the name (vault_save_then): a writer records its
 * change there, so that no change exists without its audit line. */
int	vaultio_save(const struct cfg *c, struct vault *v, const struct file_precommit *pc,
	    struct cs_err *e) CS_NONNULL(1, 2) CS_WUR;

/* What `comfysecrets floor --reset` did. */
struct vaultio_floor {
	uint64_t	generation;		/* the floor now: the vault's */
	char		mac[VAULT_MAC_HEX + 1];
	uint64_t	was;			/* the floor before; 0: none */
	char		file[PATH_MAX];		/* where it is recorded */
};
/* Opens and verifies c's vault (no floor check) under the vault lock and makes it the
 * floor, whatever the floor was: for a floor that is missing, or a rollback the admin
 * accepts. */
int	vaultio_floor_reset(const struct cfg *c, struct vaultio_floor *out, struct cs_err *e)
	    CS_NONNULL(1, 2) CS_WUR;
/* Frees what vaultio_open_write gave (lockfd -1: already unlocked); NULLs are fine. */
void	vaultio_close(int lockfd, struct key *k, struct vault *v);

/* What a rotation did; names only. Release with vaultio_rotated_free(). */
struct vaultio_rotated {
	char		 fpr[KEY_FPR_HEX + 1];	/* the new key's fingerprint */
	uint64_t	 generation;		/* of the vault saved under it */
	char		**providers;		/* heap copies, in name order */
	size_t		 nproviders;
};

/* Writes the record of a rotation: called by vaultio_rotate with out filled in (the new
 * fingerprint, generation and providers) before the re-encrypted vault takes its name;
 * 0 to go on, -1 with e set to give the rotation up. */
typedef int (*vaultio_rotate_log)(const struct vaultio_rotated *r, void *arg,
    struct cs_err *e);

/* Re-encrypts c's vault under nk (NULL: a fresh random key) and makes nk the key file,
 * crash-safely (store_rotate), under the vault lock, then records the generation. log
 * (may be NULL) runs, with arg, before the new vault takes its name: when it fails,
 * nothing is rotated and its error is returned; a kill after it leaves its record of a
 * rotation that may not have happened, never a rotation without its record. A key
 * that came from COMFYVN_SECRETS_KEY (key_from_env) is refused with EPERM: the
 * environment cannot be rewritten. */
int	vaultio_rotate(const struct cfg *c, int key_from_env, const struct key *nk,
	    vaultio_rotate_log log, void *arg, struct vaultio_rotated *out, struct cs_err *e)
	    CS_NONNULL(1, 6) CS_WUR;
/* Fills the key_rotated fields of ev (event, fingerprint, providers), which borrows r's
 * strings; the caller adds its ids and via. */
void	vaultio_rotated_event(const struct vaultio_rotated *r, struct audit_event *ev)
	    CS_NONNULL(1, 2);
void	vaultio_rotated_free(struct vaultio_rotated *r);	/* zeroes *r; twice is fine */

#endif
