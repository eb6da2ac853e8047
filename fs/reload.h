/* fs/reload.h - load the vault into a snapshot, then keep it current.
 *
 * A load opens the vault as every reader does (policy/vaultio.h, vaultio_open: with the
 * key file, or the key that came from COMFYVN_SECRETS_KEY), verifies it, refuses a generation lower than the one served or
 * the rollback floor in state_dir, or one equal to either with another MAC (a different
 * vault of the same generation: rollback), or a vault with no floor, builds a tree and
 * publishes it
 * (lo_publish). A refused load changes nothing: the last good snapshot stays served, and
 * the refusal goes to stderr and to the audit log ("vault_reload_refused").
 *
 * After the first load a thread watches the vault's folder (inotify: the vault is
 * replaced by rename, so the file itself cannot be watched), reloads after a short
 * debounce or on SIGHUP, retries a load that failed for a passing reason with back-off
 * (below) until it succeeds, tells the kernel which entries and attributes changed
 * (fuse_lowlevel_notify_inval_*, from this thread, never from a request handler), and
 * writes the audit log's tail to the state file about once a second. */
#ifndef CS_FS_RELOAD_H
#define CS_FS_RELOAD_H

#include <stdint.h>

#include "../crypto/err.h"
#include "../crypto/key.h"
#include "lo.h"
#include "overlay.h"
#include "tree.h"

#define RELOAD_DEBOUNCE_MS	20	/* quiet time after the last change before a load */
#define RELOAD_MAX_DELAY_MS	200	/* a stream of changes still loads this often */
/* A load that failed for a passing reason (EMFILE, ENOMEM, EIO, a key not yet in place)
 * is tried again after RELOAD_RETRY_MIN_MS, doubling up to RELOAD_RETRY_MAX_MS, for as
 * long as it fails; it is audited as refused once, at the RELOAD_REPORT_TRIES-th try. A
 * vault that does not verify is tried RELOAD_VERIFY_RETRIES more times (it may have been
 * caught half-written), then refused; a rollback is refused at once. */
#define RELOAD_RETRY_MIN_MS	50
#define RELOAD_RETRY_MAX_MS	5000
#define RELOAD_REPORT_TRIES	5
#define RELOAD_VERIFY_RETRIES	2
#define STATE_FLUSH_MS		1000	/* the audit tail reaches the state file this often */

struct reload_src {
	const char		*vault_path;	/* absolute */
	const char		*state_dir;	/* absolute: the rollback floor's folder */
	const char		*key_file;	/* absolute; unused when key is set */
	const struct key	*key;		/* from COMFYVN_SECRETS_KEY, or NULL */
	const struct overlay	*ov;		/* may be NULL */
	struct tree_attrs	 attrs;		/* time is set at each load */
	const char		*audit_path;	/* recorded in the state file */
};

struct reload;

/* Borrows lo and everything src points to until reload_free. */
int	reload_new(struct lo_data *lo, const struct reload_src *src, struct reload **out,
	    struct cs_err *e) CS_NONNULL(1, 2, 3) CS_WUR;
/* The first load: publishes the first snapshot, or fails (nothing is logged). */
int	reload_first(struct reload *r, struct cs_err *e) CS_NONNULL(1) CS_WUR;
/* Starts the watcher thread. SIGHUP must be blocked in every thread (the thread reads
 * it from a signalfd); se receives the invalidations. */
int	reload_start(struct reload *r, struct fuse_session *se, struct cs_err *e)
	    CS_NONNULL(1, 2) CS_WUR;
/* Stops the thread (if started) and writes the audit tail to the state file. */
void	reload_stop(struct reload *r) CS_NONNULL(1);
void	reload_free(struct reload *r);		/* NULL is fine; stops first */

#endif
