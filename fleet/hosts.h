/* fleet/hosts.h - the admin's list of enrolled hosts: name and X25519 public key.
 *
 * One file ([fleet] hosts_file), one line per host, "NAME BASE64PUBKEY\n", sorted by
 * name; replaced atomically (crypto/file.c). Public keys only: the file is not secret,
 * but whoever may write it can enrol a host, so it is written 0600 like the rest. A
 * missing file is an empty list. */
#ifndef CS_FLEET_HOSTS_H
#define CS_FLEET_HOSTS_H

#include <stddef.h>

#include "../crypto/err.h"
#include "keys.h"
#include "manifest.h"

struct fleet_host {
	char		name[FLEET_NAME_MAX + 1];
	unsigned char	pk[FLEET_PUB_BYTES];
};

struct fleet_hosts {
	struct fleet_host	*h;		/* sorted by name, unique */
	size_t			 n;
};

/* Reads path (missing: empty). EINVAL naming the line for a bad one; EPERM for a file
 * group or others may write, or owned by neither root nor this user (as the config
 * file's check, policy/config.c). Caller frees with
 * fleet_hosts_free(). */
int	fleet_hosts_read(const char *path, struct fleet_hosts *out, struct cs_err *e) CS_WUR;
/* Writes hs to path atomically. */
int	fleet_hosts_write(const char *path, const struct fleet_hosts *hs, struct cs_err *e)
	    CS_WUR;
/* Adds name with key pk in order: EEXIST when the name, or the key, is enrolled already;
 * EINVAL for a bad name. */
int	fleet_hosts_add(struct fleet_hosts *hs, const char *name,
	    const unsigned char pk[FLEET_PUB_BYTES], struct cs_err *e) CS_WUR;
/* Removes name: ENOENT when it is not enrolled. */
int	fleet_hosts_rm(struct fleet_hosts *hs, const char *name, struct cs_err *e) CS_WUR;
void	fleet_hosts_free(struct fleet_hosts *hs);	/* zeroes *hs */

#endif
