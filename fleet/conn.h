/* fleet/conn.h - what both fleet roles take from the [fleet] config: the checked
 * settings, the etcd prefix and a client connected with them. */
#ifndef CS_FLEET_CONN_H
#define CS_FLEET_CONN_H

#include "../crypto/err.h"
#include "../policy/config.h"
#include "etcd.h"
#include "pack.h"

#define FLEET_MAX_RESPONSE	(5u << 19)	/* bytes of one etcd answer (2.5 MiB): a
						 * manifest (1.5 MiB, 2 MiB as base64) or a
						 * chunk (1.33 MiB as base64) fits */
#define FLEET_TIMEOUT_MS	5000		/* one etcd request */

/* Checks that c configures a fleet in role (FLEET_ROLE_ADMIN or _MEMBER) with what that
 * role needs: EINVAL naming the missing [fleet] key. what names the command. */
int	fleet_conf_check(const struct cfg *c, enum cfg_fleet_role role, const char *what,
	    struct cs_err *e) CS_WUR;
/* The etcd prefix into out (FLEET_PREFIX_MAX bytes): [fleet] prefix, else
 * "/comfysecrets/NAME/". */
int	fleet_prefix(const struct cfg *c, char *out, struct cs_err *e) CS_WUR;
/* An etcd client for c's endpoints, TLS files and user. Caller closes it. */
int	fleet_connect(const struct cfg *c, struct etcd **out, struct cs_err *e) CS_WUR;

#endif
