/* policy/fleetstatus.h - what a fleet member's follower last knew, for `fleet status` and
 * the daemon's {"op":"status"} answer.
 *
 * The follower (`comfysecrets fleet follow`) writes "<state_dir>/fleet-<fleet>.status"
 * atomically each time it applies a generation, hears from etcd or loses it; the admin's
 * CLI writes it after each publish. Readers only read it, so the daemon needs no network
 * code to answer. One JSON object:
 *	fleet, host, generation (the fleet generation served or published: the number
 *	in the admin's signed manifest, not the vault's own), vault_generation (the
 *	vault's own generation, as `list --json` and COMFYSECRETS_GENERATION show it),
 *	fingerprint, applied (Unix seconds), confirmed (Unix seconds: when etcd last
 *	answered with a quorum), reachable (bool), endpoint (the etcd endpoint in use),
 *	refused (bool: the newest manifest in etcd was refused), pending (bool, admin: a
 *	change saved here was not published), detail (the last error or refusal, or "")
 * The reader adds "stale": on a member, true when etcd is not reachable, when it last
 * answered more than FLEET_STALE_SECONDS ago, when the newest manifest was refused, or
 * when there is no status at all (no follower ran): the generation served may then be
 * behind the one published; on the admin, true when a change is pending. */
#ifndef CS_FLEETSTATUS_H
#define CS_FLEETSTATUS_H

#include <stdint.h>

#include <jansson.h>

#include "../crypto/err.h"
#include "config.h"

#define FLEET_STALE_SECONDS	30	/* a follower confirms at least every 10 s */
#define FLEET_STATUS_MAX_BYTES	4096

struct fleet_status {
	char		 fleet[65];
	char		 host[65];
	uint64_t	 generation;		/* the fleet generation */
	uint64_t	 vault_generation;	/* the vault's own */
	char		 fingerprint[17];
	int64_t		 applied;
	int64_t		 confirmed;
	int		 reachable;
	int		 refused;
	int		 pending;
	char		 endpoint[256];
	char		 detail[256];
};

/* The status file of c's fleet into out (PATH_MAX bytes); EINVAL when c has no fleet. */
int	fleetstatus_path(const struct cfg *c, char *out, struct cs_err *e) CS_WUR;
/* Writes s to path atomically. */
int	fleetstatus_write(const char *path, const struct fleet_status *s, struct cs_err *e)
	    CS_WUR;
/* Marks s refused for reason (text from outside: shown through cs_show) and puts
 * "update refused: REASON" in s->detail, cut to fit. */
void	fleetstatus_refusal(struct fleet_status *s, const char *reason);
/* The answer for c at time now: the file's object plus "stale", or {"fleet": null} when
 * c configures no fleet. NULL only when out of memory. Caller json_decref()s it. */
json_t	*fleetstatus_answer(const struct cfg *c, int64_t now);

#endif
