/* fs/held.h - the field inodes the kernel holds, and what each of them was.
 *
 * A field's inode number stands for one value (tree.h): when the value changes, the
 * path gets a new number and the old one leaves the served snapshot. The kernel may
 * still hold the old inode - a process has it open, or a dentry still points at it -
 * and then asks for its attributes (fstat(2) sends GETATTR without a file handle). So
 * every lookup of a field is counted here with the node's attributes, and the entry
 * lives until the kernel's FORGET brings its count to 0: an old inode keeps answering
 * with its own size while anyone holds it, and costs nothing once it is forgotten.
 * The table holds what the kernel's own inode cache holds, no more.
 *
 * Thread-safe (one mutex). Nothing here decrypts or holds a value. */
#ifndef CS_FS_HELD_H
#define CS_FS_HELD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "../crypto/attr.h"

struct held;

struct held	*held_new(void) CS_WUR;		/* NULL (ENOMEM) on failure */
void		 held_free(struct held *h);	/* NULL is fine */
/* Counts one kernel lookup of inode st->st_ino and records st as its attributes (the
 * fields lo_stat() sets; one time for all three); 0, or ENOMEM (nothing counted). */
int		 held_lookup(struct held *h, const struct stat *st) CS_NONNULL(1, 2) CS_WUR;
/* Drops nlookup kernel lookups of ino; the entry goes at 0. An unknown ino is ignored
 * (directories and special entries are not counted here). */
void		 held_forget(struct held *h, uint64_t ino, uint64_t nlookup) CS_NONNULL(1);
/* The attributes recorded for ino into st: 0, or -1 when the kernel holds no such
 * inode. */
int		 held_stat(struct held *h, uint64_t ino, struct stat *st) CS_NONNULL(1, 3);
size_t		 held_count(struct held *h) CS_NONNULL(1);	/* inodes held now */
/* The one way a served inode's attributes are written into a struct stat, for lo_stat()
 * and held_stat(): st is zeroed, then gets ino, mode, nlink, uid, gid, size (bytes),
 * st_blocks from size (512-byte units, rounded up), st_blksize 4096 (HELD_BLKSIZE) and t
 * as atime, mtime and ctime. */
void		 held_fill_stat(struct stat *st, uint64_t ino, mode_t mode, uint32_t nlink,
		    uid_t uid, gid_t gid, uint64_t size, struct timespec t) CS_NONNULL(1);
#define HELD_BLKSIZE	4096	/* st_blksize, bytes */

#endif
