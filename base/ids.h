/* base/ids.h - the one rule for a user, a group and a permission mode given as text, used
 * by the config file (`owner =`, `group =`, `mode =`, `audit_group =`) and by the daemon's
 * mount options (`-o uid=`, `-o gid=`, `-o mode=`), so both accept and refuse the same
 * inputs (docs/decisions.md, "One rule for owner, group and mode").
 *
 * Each function returns NULL and sets *out, or returns the reason (a static string, for
 * the caller to put after the key or option it names) and leaves *out alone. */
#ifndef CS_BASE_IDS_H
#define CS_BASE_IDS_H

#include <sys/types.h>

#include "attr.h"

/* A user: only ASCII digits is a uid from 0 to 4294967294 (4294967295 is (uid_t)-1,
 * "no change" to chown(2)), anything else is a user name looked up with getpwnam_r.
 * Leading blanks, signs and empty text are refused. Reasons: "expected a user name or a
 * number below 4294967295", "no such user", "out of memory". */
const char	*cs_parse_user(const char *s, uid_t *out) CS_NONNULL(1, 2) CS_WUR;
/* A group, by the same rule (getgrnam_r): "expected a group name or a number below
 * 4294967295", "no such group", "out of memory". */
const char	*cs_parse_group(const char *s, gid_t *out) CS_NONNULL(1, 2) CS_WUR;
/* Permission bits as 1 to 4 octal digits, at most 0777 ("440", "0440"): no setuid,
 * setgid or sticky bit, no sign, blank, "0o" prefix or fifth digit. Reason: "expected
 * an octal mode from 0000 to 0777". */
const char	*cs_parse_mode(const char *s, mode_t *out) CS_NONNULL(1, 2) CS_WUR;

#endif
