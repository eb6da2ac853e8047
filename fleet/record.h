/* fleet/record.h - a member's record of the newest generation it applied.
 *
 * "<state_dir>/fleet-<fleet>.gen": the generation and key fingerprint of the last
 * manifest applied, in state_dir beside the vault's rollback floor (policy/state.h) and
 * for the same reason: whoever can write the vault's folder cannot lower it. A member
 * refuses a manifest whose generation is not above it (an old one replayed). Written
 * atomically after the vault is in place (crypto/file.c: temporary file, fsync, rename),
 * so a crash leaves the old record or the new one, and at worst a manifest already
 * applied is applied once more. A missing record is generation 0. */
#ifndef CS_FLEET_RECORD_H
#define CS_FLEET_RECORD_H

#include <limits.h>
#include <stdint.h>

#include "../crypto/err.h"
#include "../crypto/key.h"

struct fleet_record {
	uint64_t	generation;		/* 0: none applied */
	char		fpr[KEY_FPR_HEX + 1];
};

/* The record's path into out (PATH_MAX bytes). */
int	fleet_record_path(const char *state_dir, const char *fleet, char *out, struct cs_err *e)
	    CS_WUR;
/* Reads the record at path (missing: zeros). EINVAL for a malformed one: a broken record
 * is never read as none. */
int	fleet_record_read(const char *path, struct fleet_record *r, struct cs_err *e) CS_WUR;
/* Replaces the record at path atomically; creates state_dir (0700) when missing. */
int	fleet_record_write(const char *path, const struct fleet_record *r, struct cs_err *e)
	    CS_WUR;

#endif
