/* fleet/publish.h - the admin publishes the vault to the fleet.
 *
 * One publish, under the vault lock (so the vault cannot change under it):
 *   1. the current manifest is read (its mod_revision R, its generation when the admin's
 *      own key verifies it); the new generation G is one above both it and the one this
 *      host recorded publishing (fleet/record.h), so a manifest deleted or replaced by a
 *      hostile etcd cannot make the admin go back;
 *   2. the vault file's chunks, one request each (each under etcd's request limit), and
 *      every enrolled host's sealed key, in transactions of at most FLEET_TXN_OPS puts
 *      (etcd's --max-txn-ops is 128), all under P "gen/" G "/";
 *   3. the signed manifest, in a transaction that applies only if the manifest's
 *      mod_revision is still R: members see the whole generation G or none of it. A
 *      publish that loses this compare-and-swap stops there (ESTALE), says so, and
 *      writes nothing more;
 *   4. this host records G, then every older generation under P "gen/" is deleted. */
#ifndef CS_FLEET_PUBLISH_H
#define CS_FLEET_PUBLISH_H

#include <stddef.h>
#include <stdint.h>

#include "../crypto/err.h"
#include "../policy/config.h"

#define FLEET_TXN_OPS	100	/* ops per transaction: below etcd's default of 128 */

struct fleet_published {
	uint64_t	generation;		/* the fleet generation (the manifest's) */
	uint64_t	vault_generation;	/* the vault's own generation */
	char		fpr[17];
	size_t		chunks, hosts;
	size_t		bytes;		/* written to etcd: chunks, sealed keys, manifest */
	double		seconds;	/* the whole publish, wall clock */
};

/* Publishes c's vault to c's fleet (role admin). Errors: the config's, the vault's
 * (as every reader: floor, MAC), etcd's (etcd.h), ESTALE for a lost compare-and-swap. */
int	fleet_publish(const struct cfg *c, struct fleet_published *out, struct cs_err *e)
	    CS_WUR;

#endif
