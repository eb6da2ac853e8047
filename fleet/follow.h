/* fleet/follow.h - a member follows its fleet: watch, check, apply, report.
 *
 * The follower reads the manifest, then watches P "manifest" from the revision after
 * the one it read; each change makes it read the manifest again (so a missed, merged or
 * compacted event costs nothing: the manifest read is always the newest). For each
 * manifest not seen before it checks, in this order, and refuses at the first failure:
 *   1. the admin's signature (the pinned [fleet] admin_public_key), and that it names
 *      this fleet;
 *   2. not_after is not past;
 *   3. its generation is above the one recorded on this host (fleet/record.h);
 *   4. the length and hash of every chunk, and the hash of this host's sealed key;
 *   5. the sealed key opens with this host's key and has the manifest's fingerprint;
 *   6. the vault's MAC and every field's AEAD under that key.
 * Only then does it write key file and vault (fleet/apply.h), then the record. A
 * refusal is audited once per manifest revision as fleet_update_refused with the reason;
 * an apply as fleet_update_applied (generation in detail, fingerprint). What was
 * verified last stays in place and served.
 *
 * The status says refused (and so stale) while the newest manifest in etcd is one this
 * host refused, with the reason in detail; applying, or finding the manifest it serves,
 * clears it.
 *
 * etcd trouble (unreachable, no quorum, a cancelled watch, etcd refusing the user or
 * its role) is not a refusal: the client moves across the endpoints with backoff
 * (etcd.h), the status file says reachable false with etcd's reason in detail, the last
 * verified vault stays served, and the follower reads the manifest again once etcd
 * answers. A compacted
 * revision makes it read everything again. Its status file (policy/fleetstatus.h) is
 * written on every change and at least every FOLLOW_CONFIRM_S seconds. */
#ifndef CS_FLEET_FOLLOW_H
#define CS_FLEET_FOLLOW_H

#include <signal.h>

#include "../crypto/err.h"
#include "../policy/config.h"

#define FOLLOW_CONFIRM_S	5	/* seconds between quorum checks while idle */
#define FOLLOW_BACKOFF_MAX_MS	5000

/* Runs until *stop becomes non-zero (a signal handler sets it), notifying systemd
 * (READY=1 after the first read of the manifest, STATUS= on each change). Returns 0 on
 * a stop, -1 with e set for an error that retrying cannot mend (config, host key,
 * state_dir, audit log). once: return after the first read of the manifest (tests, and
 * `fleet follow --once`): -1 also when etcd did not answer, or the manifest was refused
 * (EPERM, "update refused: REASON"). */
int	fleet_follow(const struct cfg *c, volatile sig_atomic_t *stop, int once,
	    struct cs_err *e) CS_WUR;

#endif
