/* fs/quota.h - what each local user may make the daemon hold.
 *
 * Any local user who can reach the mount can open .control, .sandbox and the tree's
 * directories, and a reader can open its fields, as often as it likes; each open handle,
 * each pending request, each kept answer and each open value costs the daemon memory.
 * So every one of them is charged to the uid that opened the handle, against a limit
 * per user and a limit for everyone together, and an open, a write or a read that would
 * pass a limit is refused (the caller gets the errno below, the daemon's log names the
 * uid and the limit once per burst) instead of the daemon running out of memory or of
 * memory maps. Root is charged like anyone: the limits are far above what one program
 * needs, and a root process gone wrong must not starve the others either.
 *
 *	kind		per user (refusal)		in total (refusal)
 *	QUOTA_HANDLES	QUOTA_USER_HANDLES (EMFILE)	QUOTA_TOTAL_HANDLES (ENFILE)
 *	QUOTA_BYTES	quota_new's user_bytes (EAGAIN)	16 times that (ENOMEM)
 *	QUOTA_PINS	QUOTA_USER_PINS (EMFILE)	SPECIAL_NODES_MAX, in special.c
 *	QUOTA_EVENTS	QUOTA_USER_EVENTS (EMFILE)	QUOTA_TOTAL_EVENTS (ENFILE)
 *
 * Handles are open files and directories of the mount. Bytes are what those handles keep:
 * a .control request's buffer, its answer, a field's value. Pins are open .sandbox files,
 * each holding a slot of the 4096-name table. Events are open .events handles, each a
 * reader the daemon must walk and wake at every change (fs/events.h). At most
 * QUOTA_USERS_MAX uids hold anything at once; an entry goes when its uid holds nothing.
 * Thread-safe. */
#ifndef CS_FS_QUOTA_H
#define CS_FS_QUOTA_H

#include <stddef.h>
#include <sys/types.h>

#include "../crypto/attr.h"

#define QUOTA_USER_HANDLES	32768	/* open handles of one uid */
#define QUOTA_TOTAL_HANDLES	131072	/* open handles of all uids */
#define QUOTA_USER_BYTES	(16u << 20)	/* bytes kept for one uid, at least */
#define QUOTA_TOTAL_FACTOR	16	/* total bytes = user bytes * this */
#define QUOTA_USER_PINS		256	/* open .sandbox files of one uid */
#define QUOTA_USER_EVENTS	1024	/* open .events handles of one uid */
#define QUOTA_TOTAL_EVENTS	8192	/* open .events handles of all uids */
#define QUOTA_USERS_MAX		1024	/* uids holding something at once */

enum quota_kind { QUOTA_HANDLES, QUOTA_BYTES, QUOTA_PINS, QUOTA_EVENTS, QUOTA_KINDS };

struct quota;

/* A new, empty account; user_bytes is the bytes limit per uid (QUOTA_USER_BYTES, or
 * more when one value may be larger). NULL on ENOMEM; free with quota_free (NULL is
 * fine). */
struct quota	*quota_new(size_t user_bytes) CS_WUR;
void		 quota_free(struct quota *q);
/* Charges n of kind to uid: 0, or the errno to refuse with (see the table above; also
 * ENFILE/ENOMEM when QUOTA_USERS_MAX other uids hold something). what names the thing
 * refused in the log line ("open of .control", "write to .control"), pid its caller. A
 * NULL q charges nothing. */
int		 quota_take(struct quota *q, uid_t uid, enum quota_kind kind, size_t n,
		    const char *what, pid_t pid) CS_WUR;
/* Gives back n of kind charged to uid earlier. */
void		 quota_give(struct quota *q, uid_t uid, enum quota_kind kind, size_t n);
/* What uid holds of kind now (0 for a uid holding nothing); for tests and the log. */
size_t		 quota_held(struct quota *q, uid_t uid, enum quota_kind kind);

#endif
