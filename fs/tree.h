/* fs/tree.h - an immutable snapshot of the mounted tree: vault + overlay -> inodes.
 *
 * The root holds one directory per provider and, before them, the special entries
 * (names with a leading dot, which no vault name can take: ".control", ".sandbox").
 * A provider directory holds one file per field. A snapshot never changes once built;
 * the daemon swaps whole snapshots and counts references, so a request that started on
 * one keeps it until it is done. Nothing here decrypts: a file node says where its bytes
 * are (the vault's indexes, or an overlay secret) and how many there are.
 *
 * Inode numbers come from a struct tree_inomap (path -> number) kept by the caller
 * from one build to the next and never shrunk. A directory keeps its number for good.
 * A field keeps its number while its value is unchanged (vault_value_id) and gets a new
 * one when the value changes, as a file replaced by rename(2) is a new inode: a handle
 * open on the old inode keeps describing what it reads (size, attributes), and
 * lookups find the new one. A number is never handed out twice.
 * Lookups by inode and by (parent, name) are O(1) (hashes); children are also kept
 * sorted by name, for readdir.
 *
 * Not thread-safe to build (the caller serializes builds, which share the inomap);
 * any number of threads may read a built tree. */
#ifndef CS_FS_TREE_H
#define CS_FS_TREE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "../crypto/err.h"
#include "../crypto/secret.h"
#include "../crypto/vault.h"
#include "../policy/config.h"
#include "overlay.h"

#define TREE_INO_ROOT	1
#define TREE_INO_FIRST	16	/* 2 .. 15 are kept for special root entries */
#define TREE_FILE_MODE	0440	/* default mode of a field file */

enum tree_kind {
	TREE_ROOT,
	TREE_DIR,	/* a provider */
	TREE_FILE,	/* a field */
	TREE_SPECIAL	/* a special root entry, served by a hook in ops.c */
};

struct tree_node {
	uint64_t		 ino;
	uint64_t		 parent;	/* the root's parent is the root */
	enum tree_kind		 kind;
	const char		*name;		/* "" for the root */
	const char		*provider;	/* TREE_DIR and TREE_FILE */
	uid_t			 uid;
	gid_t			 gid;
	mode_t			 mode;		/* with the type bits */
	uint64_t		 size;		/* TREE_FILE: plaintext bytes */
	const struct secret	*env;		/* TREE_FILE: from the overlay, else NULL */
	size_t			 pi, fi;	/* TREE_FILE without env: the vault's indexes */
	int			 special;	/* TREE_SPECIAL: the hook's id */
	size_t			 first, nchild;	/* directories: children, sorted by name */
	unsigned		 nlink;
};

/* A special root entry. The name must start with '.'; ino is fixed, in
 * [2, TREE_INO_FIRST). */
struct tree_special {
	const char	*name;
	uint64_t	 ino;
	mode_t		 mode;		/* with the type bits: S_IFREG | 0666, S_IFDIR | 0555 */
	int		 id;
};

/* Owners and modes. A provider's [provider.NAME] owner, group and mode (cfg) win over
 * the defaults. File modes keep only read bits (the files are read-only); a directory
 * gets x wherever its files have r (0440 -> 0550). The root is 0555. */
struct tree_attrs {
	uid_t			 uid;
	gid_t			 gid;
	mode_t			 mode;		/* default file mode, TREE_FILE_MODE */
	const struct cfg	*cfg;		/* may be NULL */
	struct timespec		 time;		/* atime, mtime and ctime of every node but
						 * a field whose change time the vault knows
						 * (tree_node_time) */
};

struct tree_inomap;
struct tree_inomap	*tree_inomap_new(void)
	    CS_WUR;	/* NULL (ENOMEM) on failure */
void			 tree_inomap_free(struct tree_inomap *m);	/* NULL is fine */

struct tree;
/* Builds a snapshot of v (may be NULL: the overlay only) and ov (may be NULL). On
 * success the tree owns v (vault_close when the last reference goes); on failure the
 * caller still does. ov and the specials' names are borrowed and must outlive the tree.
 * The new tree has one reference. */
int	tree_build(struct tree_inomap *m, struct vault *v, const struct overlay *ov,
	    const struct tree_special *sp, size_t nsp, const struct tree_attrs *a,
	    struct tree **out, struct cs_err *e) CS_WUR;
struct tree	*tree_ref(struct tree *t);		/* returns t */
void		 tree_unref(struct tree *t);		/* NULL is fine */

const struct vault	*tree_vault(const struct tree *t);	/* NULL when built without */
uint64_t		 tree_generation(const struct tree *t);	/* the vault's; 0 without */
struct timespec		 tree_time(const struct tree *t);	/* of the snapshot */
/* n's mtime and ctime: for a field from the vault, when it last changed
 * (vault_field_mtime); else, and for a field whose time the vault does not know (one
 * from a version 1 vault, unchanged since), the snapshot's time. */
struct timespec		 tree_node_time(const struct tree *t, const struct tree_node *n);
/* 1 and the field's version (vault_field_version) in *version when n is a field from
 * the vault; 0 (version untouched) for any other node, an override among them. */
int			 tree_node_version(const struct tree *t, const struct tree_node *n,
			    uint64_t *version);
size_t			 tree_count(const struct tree *t);	/* nodes, root included */
const struct tree_node	*tree_at(const struct tree *t, size_t i);	/* i < tree_count */
const struct tree_node	*tree_get(const struct tree *t, uint64_t ino);	/* NULL: absent */
/* Whether a caller with uid, belonging (member 1) or not (0) to n's group, may access n
 * for want (R_OK, W_OK, X_OK bits) by n's owner, group and mode: the owner's bits for
 * the owner, else the group's for a member, else the others' (root: always), as the
 * kernel decides with default_permissions (path_resolution(7)). */
int	tree_mode_allows(const struct tree_node *n, uid_t uid, int member, int want);
/* The child of directory parent called name; NULL when absent or parent is no
 * directory of this tree (special directories answer through their hook). */
const struct tree_node	*tree_lookup(const struct tree *t, uint64_t parent, const char *name);
/* The i-th child (name order) of a directory node; NULL past the end. */
const struct tree_node	*tree_child(const struct tree *t, const struct tree_node *dir, size_t i);

#endif
