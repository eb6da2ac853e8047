/* fs/opts.h - the command line of comfysecretsfs, also as a mount helper.
 *
 *   comfysecretsfs [-f] [-d] [-s] [-o OPTIONS] [VAULT] MOUNTPOINT
 *
 * mount(8) runs `mount -t fuse.comfysecretsfs VAULT DIR -o OPTS` through mount.fuse3,
 * which execs `comfysecretsfs VAULT DIR -o OPTS,dev,suid`; the same line comes from
 * fstab and from a systemd .mount unit. Our options are taken out of the -o list
 * (key_file=, config=, audit_log=, uid=, gid=, mode=), options only mount(8) and
 * systemd use are dropped (x-*, _netdev, nofail, auto, noauto, user, users, nouser,
 * defaults), and the rest goes to fuse_session_new. With one positional argument it
 * is the mountpoint and the vault comes from the config.
 *
 * allow_other always brings default_permissions: without it the kernel would leave
 * the permission check to the daemon and may reuse one user's cached check for
 * another, so it is added even when not asked for. */
#ifndef CS_FS_OPTS_H
#define CS_FS_OPTS_H

#include <sys/types.h>

#include "../crypto/err.h"
#include "lo.h"

struct fsopts {
	char		*vault;		/* absolute, or NULL: the config's path */
	char		*mountpoint;	/* resolved by fuse_parse_cmdline */
	char		*key_file;	/* absolute, or NULL */
	char		*config;	/* absolute, or NULL */
	char		*audit_log;	/* absolute, or NULL */
	int		 allow_other;
	int		 default_permissions;	/* asked for, or forced by allow_other */
	int		 has_uid, has_gid, has_mode, has_cache_timeout;
	uid_t		 uid;		/* default owner of the tree */
	gid_t		 gid;
	mode_t		 mode;		/* default file mode */
	unsigned	 cache_timeout;	/* seconds; over the config's cache_timeout */
	int		 foreground;	/* -f, and -d */
	int		 debug;
	int		 singlethread;	/* -s */
	int		 clone_fd;
	unsigned	 max_idle_threads;
	unsigned	 max_threads;
	int		 show_help;
	int		 show_version;
	struct fuse_args args;		/* what remains for fuse_session_new */
};

/* Parses argv. Errors name the option and why. Caller frees with fsopts_free(), also
 * after a failure. */
int	fsopts_parse(int argc, char **argv, struct fsopts *o, struct cs_err *e)
	    CS_NONNULL(2, 3) CS_WUR;
/* Adds the options derived from the final vault path: default_permissions when
 * allow_other, subtype=comfysecretsfs and fsname=VAULT (shown by mount(8)). */
int	fsopts_finish(struct fsopts *o, const char *vault_path, struct cs_err *e)
	    CS_NONNULL(1, 2) CS_WUR;
/* Makes path absolute against the current directory, without resolving symlinks (a
 * symlink must still be refused by O_NOFOLLOW). A new string; NULL on ENOMEM. */
char	*fsopts_abspath(const char *path) CS_NONNULL(1) CS_WUR;
void	fsopts_free(struct fsopts *o);

#endif
