/* policy/fleetstatus.h - what a fleet member's follower last knew, for `fleet status` and
 * the daemon's {"op":"status"} answer.
 *
 * The follower (`comfysecrets fleet follow`) writes "<state_dir>/fleet-<fleet>.status"
 * atomically each time it applies a generation, hears from etcd or loses it; readers
 * only read it, so the daemon needs no network code to answer. One JSON object:
 *	fleet, host, generation (served), fingerprint, applied (Unix seconds),
 *	confirmed (Unix seconds: when etcd last answered with a quorum), reachable (bool),
 *	endpoint (the etcd endpoint in use), detail (the last error, or "")
 * The reader adds "stale": true when etcd is not reachable, when it last answered more
 * than FLEET_STALE_SECONDS ago, or when there is no status at all (no follower ran): the
 * generation served may then be behind the one published. */
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
	uint64_t	 generation;
	char		 fingerprint[17];
	int64_t		 applied;
	int64_t		 confirmed;
	int		 reachable;
	char		 endpoint[256];
	char		 detail[256];
};

/* The status file of c's fleet into out (PATH_MAX bytes); EINVAL when c has no fleet. */
int	fleetstatus_path(const struct cfg *c, char *out, struct cs_err *e) CS_WUR;
/* Writes s to path atomically. */
int	fleetstatus_write(const char *path, const struct fleet_status *s, struct cs_err *e)
	    CS_WUR;
/* The answer for c at time now: the file's object plus "stale", or {"fleet": null} when
 * c configures no fleet. NULL only when out of memory. Caller json_decref()s it. */
json_t	*fleetstatus_answer(const struct cfg *c, int64_t now);

#endif
