/* fs/special.h - the special root entries: .control and .sandbox/.
 *
 * .control (0666) is a conversation per open handle. Writes append to the
 * handle's request; the first read after them hands the whole request to
 * control_handle() (policy/control.c) and keeps its answer; reads return that answer
 * from its first byte, whatever the file offset, then EOF until the next write starts
 * a new request. So `exec 3<>.control; printf '{...}' >&3; cat <&3` and a program's
 * write, lseek(0), read both work, and two handles never see each other's answers. A
 * request is answered as its writer (the process that wrote it; when writers differ, an
 * unprivileged one wins) with the rights of both the writer and the handle's opener,
 * the lesser, so root's rights are never lent out through a descriptor handed either
 * way; a request that no one reads is never run. What a handle keeps (the request's
 * guarded buffer, the answer) is charged to its opener (quota.h): a write or read past
 * the opener's room is refused with EAGAIN or ENOMEM, and a request that could not be
 * kept whole is dropped.
 *
 * .sandbox/ (0555) lists nothing. Looking up a name that parses as host:port
 * ("api.example.com:443", "[::1]:8000") gives a read-only file (0444) whose
 * content is control_check_pair()'s answer, computed when it is opened - so a denial is
 * audited once per open, as the opener - and kept for that handle. An open file pins
 * its name in the table; one uid may pin QUOTA_USER_PINS (EMFILE past them), so it
 * takes many users to fill the table for everyone (ENFILE). Any other name is
 * ENOENT; `{"op":"check",...}` through .control says what is wrong with it. These
 * children live outside the snapshot, at inode numbers from SPECIAL_CHILD_INO_FIRST,
 * counted by the kernel's lookups and dropped by its forgets; they are never cached
 * (timeouts 0), so each path walk checks again.
 *
 * Both are direct_io. The sizes they report are set in ops.c (lo_stat, lo_node): a
 * bound for .control, the answer's length for .sandbox/<pair>, so that sendfile and
 * splice, which stop at the size, read the answer. Neither is a secret: nothing
 * here writes secret_read. The hooks are wired into lo_special[] in ops.c; none of them
 * replies: each returns 0 or an errno value (and a read its bytes, in a buffer the
 * caller frees), and ops.c sends the one fuse_reply_*. */
#ifndef CS_FS_SPECIAL_H
#define CS_FS_SPECIAL_H

#include <stdint.h>

#include "lo.h"

#define SPECIAL_INO_CONTROL	2
#define SPECIAL_INO_SANDBOX	3
#define SPECIAL_ID_CONTROL	1
#define SPECIAL_ID_SANDBOX	2
#define SPECIAL_INO_EVENTS	4	/* fs/events.h */
#define SPECIAL_ID_EVENTS	3
#define SPECIAL_CHILD_INO_FIRST	(UINT64_C(1) << 48)	/* far above any snapshot inode */
#define SPECIAL_NODES_MAX	4096	/* .sandbox/<pair> inodes the kernel may hold at once */

/* The .sandbox/<pair> inode table. NULL on ENOMEM; free with special_nodes_free (NULL
 * is fine). */
struct special_nodes	*special_nodes_new(void) CS_WUR;
void			 special_nodes_free(struct special_nodes *m);

/* .control */
int	special_control_open(fuse_req_t req, const struct tree_node *n,
	    struct fuse_file_info *fi, void **priv);
/* read: 0 with up to size bytes of the answer in *buf (malloc'd, the caller frees; NULL
 * and *len 0 at its end), or ENOMEM or EAGAIN (the opener may keep no more); write: 0
 * (all size bytes taken), or EAGAIN or ENOMEM (the request is dropped). */
int	special_control_read(fuse_req_t req, void *priv, size_t size, off_t off, int flags,
	    char **buf, size_t *len);
int	special_control_write(fuse_req_t req, void *priv, const char *buf, size_t size,
	    off_t off);
void	special_control_release(void *priv);

/* .sandbox: lookup gives the inode for name and counts one kernel lookup (0), or
 * ENOENT (not host:port) or ENFILE (SPECIAL_NODES_MAX held); child copies the name of
 * inode ino into name (0), or ENOENT; forget drops nlookup kernel lookups. */
int	special_sandbox_lookup(struct lo_data *lo, const char *name, uint64_t *ino);
int	special_sandbox_child(struct lo_data *lo, uint64_t ino, char *name, size_t size);
void	special_sandbox_forget(struct lo_data *lo, uint64_t ino, uint64_t nlookup);
int	special_sandbox_open(fuse_req_t req, const struct tree_node *n,
	    struct fuse_file_info *fi, void **priv);
/* 0 with the answer's bytes from off in *buf, as special_control_read; or ENOMEM. */
int	special_sandbox_read(fuse_req_t req, void *priv, size_t size, off_t off, int flags,
	    char **buf, size_t *len);
void	special_sandbox_release(void *priv);

#endif
