/* cli/watchsrc.h - where `watch` and `run --restart-on-change` learn that a field
 * changed: a change source, and the PROVIDER[/FIELD] names both take.
 *
 * A source is polled: the caller waits (poll(2)) for watchsrc_fd() to be readable or
 * for watchsrc_timeout() to pass, then calls watchsrc_step(), which says which watched
 * names changed, if any. Debouncing and retries are the source's own business, so a
 * caller's loop is the same whatever the source is. There are two: the vault file itself
 * (watchsrc_vault_new), and the .events file of a comfysecretsfs mount
 * (watchsrc_events_new), which needs no key and no vault, only a mount it may read.
 *
 * A change is reported by name only ("provider/field"), never with a value. Not
 * thread-safe; one source per loop. */
#ifndef CS_WATCHSRC_H
#define CS_WATCHSRC_H

#include <stddef.h>
#include <stdint.h>

#include "../crypto/err.h"
#include "../crypto/vault.h"
#include "../policy/config.h"

/* One watched or chosen name: a field, or a whole provider (field ""). */
struct watchsrc_name {
	char	provider[VAULT_NAME_MAX + 1];
	char	field[VAULT_NAME_MAX + 1];
};

/* Parses "PROVIDER" or "PROVIDER/FIELD" (both valid vault names); EINVAL naming arg
 * and the reason otherwise. */
int	watchsrc_name_parse(const char *arg, struct watchsrc_name *out, struct cs_err *e);

/* The names that changed in one step, in name order, as "provider/field" (heap
 * strings); generation is the vault's after the change (0 when the source does not know
 * it). Release with watchsrc_changes_free(). */
struct watchsrc_changes {
	char		**names;
	size_t		  n;
	uint64_t	  generation;
};
void	watchsrc_changes_free(struct watchsrc_changes *ch);	/* zeroes *ch; twice is fine */

struct watchsrc;

/* A source that watches the vault file of c (inotify on its folder) for the fields
 * named in names[0..n) (n == 0: every field of every provider; a provider name: each of
 * its fields, also one added or removed later). It opens the vault once now, through
 * vaultio_open_read as every reader does (rollback refused), to learn the values it
 * compares against; an error there is returned. A field that is not in the vault yet is
 * fine: its appearance is a change. Caller frees with watchsrc_free(). */
int	watchsrc_vault_new(const struct cfg *c, const struct watchsrc_name *names, size_t n,
	    struct watchsrc **out, struct cs_err *e);
/* A source that reads MOUNT/.events (fs/events.h) for the fields named in names[0..n)
 * (as above). It sees the changes from the moment it opens, only of the providers its
 * user could open, and each as soon as the line comes. A line saying the reader fell
 * behind (overflow) reports every watched name (a watched provider by its name alone),
 * or "*" when every field is watched: the source cannot tell which changed. When the
 * daemon stops serving, watchsrc_step fails with ENOTCONN. ENOENT, EACCES ... when
 * .events cannot be opened (not a comfysecretsfs mount). Caller frees with
 * watchsrc_free(). */
int	watchsrc_events_new(const char *mount, const struct watchsrc_name *names, size_t n,
	    struct watchsrc **out, struct cs_err *e);
/* For a source from watchsrc_vault_new only: judge changes from now on against v, the
 * vault the caller handed values from (run: the one COMMAND was started with), instead
 * of the vault the source read last. A change the caller read before the source did is
 * then no change, and a value changed back to one the source saw last is one. Takes v
 * (ciphertext and its subkeys, as vaultio_open_read gave it; the key may be closed);
 * the next rebase or watchsrc_free() frees it. */
void	watchsrc_rebase(struct watchsrc *w, struct vault *v);
/* The descriptor to poll for POLLIN. */
int	watchsrc_fd(const struct watchsrc *w);
/* Milliseconds until watchsrc_step() wants to run even with nothing to read; -1: no
 * such deadline. */
int	watchsrc_timeout(const struct watchsrc *w);
/* Reads what is pending and, when due, looks for changes. Returns 1 with *ch filled
 * when a watched name changed, 0 when nothing did (yet), -1 with e set when the vault
 * could not be read after the retries (a rollback, tampering, a wrong key): nothing is
 * reported changed and the last good values stay the reference. */
int	watchsrc_step(struct watchsrc *w, struct watchsrc_changes *ch, struct cs_err *e);
void	watchsrc_free(struct watchsrc *w);	/* NULL is fine */

#endif
