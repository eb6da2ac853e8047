/* crypto/store.h - a vault file together with its key file: open and rotate, crash-safe.
 *
 * Rotation writes the new key to "<keyfile>.next" first, then the re-encrypted vault,
 * then renames ".next" over the key file. store_open() therefore accepts a vault whose
 * fingerprint matches either the key file or "<keyfile>.next", so a crash at any instant
 * leaves a vault that opens with a key on disk. A writer that finds a finished vault
 * under ".next" completes the rename (store_settle). */
#ifndef CS_STORE_H
#define CS_STORE_H

#include "err.h"
#include "key.h"
#include "vault.h"

/* Opens vault_path with the key from COMFYVN_SECRETS_KEY or key_file (trying
 * "<key_file>.next" when the fingerprint does not match). Caller frees both. */
int	store_open(const char *vault_path, const char *key_file, struct key **kout,
	    struct vault **vout, struct cs_err *e) CS_WUR;
/* Under the vault lock, with v open under the current key: when a ".next" key is left
 * over from an interrupted rotation and v is under it, renames it over key_file. */
int	store_settle(const char *key_file, const struct vault *v, struct cs_err *e) CS_WUR;
/* Under the vault lock: removes temporary files that killed writers left beside the
 * vault, the key file and "<key_file>.next" (they may hold key text, mode 0600). */
int	store_sweep(const char *vault_path, const char *key_file, struct cs_err *e) CS_WUR;
/* Rotates: v (open, locked by the caller) is re-encrypted under nk (NULL: a fresh random
 * key), saved to vault_path, and nk becomes key_file. pc (may be NULL) runs before the
 * re-encrypted vault takes its name (vault_save_then; v is under the new key then): when
 * it fails, nothing is rotated. The new fingerprint is left in fpr. The caller refuses
 * to rotate a key that came from COMFYVN_SECRETS_KEY. On failure v may already be
 * re-encrypted in memory: close it, and open the vault again. */
int	store_rotate(const char *vault_path, const char *key_file, struct vault *v,
	    const struct key *nk, const struct file_precommit *pc, char fpr[KEY_FPR_HEX + 1],
	    struct cs_err *e) CS_WUR;

#endif
