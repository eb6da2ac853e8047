/* fs/opts.c - option table and positional arguments; see opts.h.
 *
 * Two passes, as sshfs does: fuse_opt_parse() with our table takes our options and
 * the positional arguments out, then fuse_parse_cmdline() reads -f, -d, -s, -h, -V and
 * the mountpoint (resolving it, and accepting /dev/fd/N from a privileged mounter).
 * What is left is for fuse_session_new(), which refuses what it does not know. */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "../base/ids.h"
#include "opts.h"

#define POSITIONAL_MAX	2	/* VAULT MOUNTPOINT */
#define MOUNTINFO_LINE_MAX	(3 * PATH_MAX)	/* bytes of a /proc/self/mountinfo line */
#define FSTYPE_MAX	64	/* bytes of a filesystem type in mountinfo */

enum {
	KEY_ALLOW_OTHER,
	KEY_DEFAULT_PERMISSIONS,
};

/* What the table fills before it is checked and converted. */
struct raw {
	char	*key_file, *config, *audit_log, *uid, *gid, *mode, *cache_timeout;
	char	*pos[POSITIONAL_MAX];
	int	 npos;
	int	 too_many;
	int	 allow_other, default_permissions;
};

#define OPT(t, p)	{ t, offsetof(struct raw, p), 0 }
static const struct fuse_opt cs_opts[] = {
	OPT("key_file=%s", key_file),
	OPT("config=%s", config),
	OPT("audit_log=%s", audit_log),
	OPT("uid=%s", uid),
	OPT("gid=%s", gid),
	OPT("mode=%s", mode),
	OPT("cache_timeout=%s", cache_timeout),
	FUSE_OPT_KEY("allow_other", KEY_ALLOW_OTHER),
	FUSE_OPT_KEY("default_permissions", KEY_DEFAULT_PERMISSIONS),
	FUSE_OPT_END
};

/* Options for mount(8), fstab and systemd only; never for the kernel. */
static const char *const dropped[] = {
	"_netdev", "nofail", "auto", "noauto", "user", "users", "nouser", "defaults", NULL
};

static int
cs_opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct raw *r = data;
	size_t i;

	(void)outargs;
	switch (key) {
	case KEY_ALLOW_OTHER:
		r->allow_other = 1;
		return 1;		/* kept: the kernel needs it */
	case KEY_DEFAULT_PERMISSIONS:
		r->default_permissions = 1;
		return 1;
	case FUSE_OPT_KEY_NONOPT:
		if (r->npos == POSITIONAL_MAX) {
			r->too_many = 1;
			return 0;
		}
		r->pos[r->npos] = strdup(arg);
		return r->pos[r->npos++] == NULL ? -1 : 0;
	case FUSE_OPT_KEY_OPT:
		if (strncmp(arg, "x-", 2) == 0)
			return 0;
		for (i = 0; dropped[i] != NULL; i++)
			if (strcmp(arg, dropped[i]) == 0)
				return 0;
		return 1;
	default:
		return 1;
	}
}

char *
fsopts_abspath(const char *path)
{
	char cwd[PATH_MAX], *out;

	if (path[0] == '/')
		return strdup(path);
	if (getcwd(cwd, sizeof cwd) == NULL)
		return NULL;
	if (asprintf(&out, "%s/%s", strcmp(cwd, "/") == 0 ? "" : cwd, path) == -1)
		return NULL;
	return out;
}

static int
convert(struct raw *r, struct fsopts *o, struct cs_err *e)
{
	char shown[CS_SHOW_BUF(CS_SHOW_MAX)];
	const char *why;

	/* base/ids.h: the rule of the config's owner, group and mode keys. */
	if (r->uid != NULL) {
		if ((why = cs_parse_user(r->uid, &o->uid)) != NULL)
			return cs_err_set(e, EINVAL, "-o uid=%s: %s", cs_show(r->uid,
			    strlen(r->uid), CS_SHOW_MAX, shown, sizeof shown), why);
		o->has_uid = 1;
	}
	if (r->gid != NULL) {
		if ((why = cs_parse_group(r->gid, &o->gid)) != NULL)
			return cs_err_set(e, EINVAL, "-o gid=%s: %s", cs_show(r->gid,
			    strlen(r->gid), CS_SHOW_MAX, shown, sizeof shown), why);
		o->has_gid = 1;
	}
	if (r->mode != NULL) {
		if ((why = cs_parse_mode(r->mode, &o->mode)) != NULL)
			return cs_err_set(e, EINVAL, "-o mode=%s: %s", cs_show(r->mode,
			    strlen(r->mode), CS_SHOW_MAX, shown, sizeof shown), why);
		o->has_mode = 1;
	}
	if (r->cache_timeout != NULL) {
		unsigned long v;
		char *end;

		errno = 0;
		v = strtoul(r->cache_timeout, &end, 10);
		if (r->cache_timeout[0] < '0' || r->cache_timeout[0] > '9' || *end != '\0' ||
		    errno != 0 || v > CFG_CACHE_TIMEOUT_MAX_S)
			return cs_err_set(e, EINVAL, "-o cache_timeout=%s: expected seconds from 0 "
			    "to %u", cs_show(r->cache_timeout, strlen(r->cache_timeout),
			    CS_SHOW_MAX, shown, sizeof shown), CFG_CACHE_TIMEOUT_MAX_S);
		o->cache_timeout = (unsigned)v;
		o->has_cache_timeout = 1;
	}
	if ((r->key_file != NULL && (o->key_file = fsopts_abspath(r->key_file)) == NULL) ||
	    (r->config != NULL && (o->config = fsopts_abspath(r->config)) == NULL) ||
	    (r->audit_log != NULL && (o->audit_log = fsopts_abspath(r->audit_log)) == NULL))
		return cs_err_sys(e, errno != 0 ? errno : ENOMEM, "options");
	o->allow_other = r->allow_other;
	o->default_permissions = r->default_permissions;	/* fsopts_finish forces it */
	return 0;
}

/* Undoes mountinfo's octal escapes (\040 for a space...) of s, in place. */
static void
unescape(char *s)
{
	char *w = s;

	for (; *s != '\0'; s++, w++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*w = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*w = *s;
		}
	}
	*w = '\0';
}

/* The topmost mount at path, from /proc/self/mountinfo: its type ("fuse.sshfs") and
 * source into type and src. 0 when there is one, -1 when not (or unreadable). */
static int
mount_at(const char *path, char type[FSTYPE_MAX], char src[PATH_MAX])
{
	char line[MOUNTINFO_LINE_MAX], *f[5], *sep, *t, *so, *save;
	FILE *fp;
	int i, found = -1;

	if ((fp = fopen("/proc/self/mountinfo", "re")) == NULL)
		return -1;
	/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - TYPE SOURCE SUPER */
	while (fgets(line, sizeof line, fp) != NULL) {
		if ((sep = strstr(line, " - ")) == NULL)
			continue;
		*sep = '\0';
		for (i = 0, save = NULL; i < 5; i++)
			if ((f[i] = strtok_r(i == 0 ? line : NULL, " ", &save)) == NULL)
				break;
		if (i < 5 || (t = strtok_r(sep + 3, " ", &save)) == NULL ||
		    (so = strtok_r(NULL, " ", &save)) == NULL)
			continue;
		unescape(f[4]);
		if (strcmp(f[4], path) != 0)
			continue;
		unescape(so);
		snprintf(type, FSTYPE_MAX, "%s", t);
		snprintf(src, PATH_MAX, "%s", so);
		found = 0;	/* a later line is a mount on top of this one */
	}
	fclose(fp);
	return found;
}

/* The mountpoint must be a directory we can mount on. A FUSE mount whose daemon died
 * answers ENOTCONN (statfs always asks the daemon; stat may come from the kernel's
 * cache for a second, and a second mount would then land on top of the dead one): it
 * is named, with the fix. A live comfysecretsfs mount of the same point is refused:
 * two daemons stacked would serve from whichever mounted last. Anything else mounted
 * there (a tmpfs) is the admin's choice. */
static int
check_mountpoint(const char *mnt, struct cs_err *e)
{
	char type[FSTYPE_MAX] = "", src[PATH_MAX] = "";
	struct statfs sf;
	struct stat sb;
	int fuse, err = 0;

	fuse = mount_at(mnt, type, src) == 0 && strncmp(type, "fuse", 4) == 0;
	if (fuse && statfs(mnt, &sf) == -1)
		err = errno;
	else if (stat(mnt, &sb) == -1)
		err = errno;
	if (err == ENOTCONN || err == ECONNABORTED)
		return cs_err_set(e, ENOTCONN, "%s: a dead FUSE mount is in the way (not "
		    "connected: its daemon is gone); remove it with `fusermount3 -uz %s` and "
		    "start again (-o auto_unmount avoids this)", mnt, mnt);
	if (fuse && err == 0 && strcmp(type, "fuse.comfysecretsfs") == 0)
		return cs_err_set(e, EBUSY, "%s: comfysecretsfs already serves %s there; stop "
		    "that daemon (`fusermount3 -u %s`) before starting another", mnt, src, mnt);
	if (err == 0 && stat(mnt, &sb) == -1)
		err = errno;
	if (err != 0)
		return cs_err_set(e, err, "%s: %s", mnt, strerror(err));
	if (!S_ISDIR(sb.st_mode))
		return cs_err_set(e, ENOTDIR, "%s: the mountpoint must be a directory (the last "
		    "operand is the MOUNTPOINT; usage: comfysecretsfs [-f] [-o OPTIONS] VAULT "
		    "MOUNTPOINT)", mnt);
	return 0;
}

static void
raw_free(struct raw *r)
{
	int i;

	free(r->key_file);
	free(r->config);
	free(r->audit_log);
	free(r->uid);
	free(r->gid);
	free(r->mode);
	free(r->cache_timeout);
	for (i = 0; i < r->npos; i++)
		free(r->pos[i]);
}

int
fsopts_parse(int argc, char **argv, struct fsopts *o, struct cs_err *e)
{
	struct fuse_cmdline_opts co;
	struct raw r;
	char *real = NULL;
	int rc = -1;

	memset(o, 0, sizeof *o);
	memset(&r, 0, sizeof r);
	memset(&co, 0, sizeof co);
	o->args = (struct fuse_args)FUSE_ARGS_INIT(argc, argv);
	if (fuse_opt_parse(&o->args, &r, cs_opts, cs_opt_proc) == -1) {
		cs_err_set(e, EINVAL, "bad options (see --help)");
		goto out;
	}
	if (r.too_many) {
		cs_err_set(e, EINVAL, "too many arguments: expected [VAULT] MOUNTPOINT");
		goto out;
	}
	/* The last positional argument is the mountpoint; fuse_parse_cmdline resolves it,
	 * and one it cannot resolve is named here, not taken for bad options. */
	if (r.npos > 0 && strncmp(r.pos[r.npos - 1], "/dev/fd/", 8) != 0 &&
	    (real = realpath(r.pos[r.npos - 1], NULL)) == NULL) {
		cs_err_sys(e, errno, "%s: the mountpoint cannot be used", r.pos[r.npos - 1]);
		goto out;
	}
	free(real);
	if (r.npos > 0 && fuse_opt_add_arg(&o->args, r.pos[r.npos - 1]) == -1) {
		cs_err_sys(e, ENOMEM, "options");
		goto out;
	}
	if (fuse_parse_cmdline(&o->args, &co) == -1) {
		cs_err_set(e, EINVAL, "bad options (see --help)");
		goto out;
	}
	o->mountpoint = co.mountpoint;
	o->foreground = co.foreground;
	o->debug = co.debug;
	o->singlethread = co.singlethread;
	o->clone_fd = co.clone_fd;
	o->max_idle_threads = co.max_idle_threads;
	o->max_threads = co.max_threads;
	o->show_help = co.show_help;
	o->show_version = co.show_version;
	if (o->show_help || o->show_version) {
		rc = 0;
		goto out;
	}
	if (o->mountpoint == NULL) {
		cs_err_set(e, EINVAL, "missing MOUNTPOINT (usage: comfysecretsfs [-f] "
		    "[-o OPTIONS] VAULT MOUNTPOINT)");
		goto out;
	}
	/* FUSE can mount over a file: `comfysecretsfs vault.json` would hide the vault. */
	if (strncmp(o->mountpoint, "/dev/fd/", 8) != 0 &&
	    check_mountpoint(o->mountpoint, e) == -1)
		goto out;
	if (r.npos == 2 && (o->vault = fsopts_abspath(r.pos[0])) == NULL) {
		cs_err_sys(e, errno != 0 ? errno : ENOMEM, "%s", r.pos[0]);
		goto out;
	}
	rc = convert(&r, o, e);
out:
	raw_free(&r);
	return rc;
}

int
fsopts_finish(struct fsopts *o, const char *vault_path, struct cs_err *e)
{
	char *names = NULL, *fsname = NULL;
	int rc = -1;

	if (asprintf(&fsname, "fsname=%s", vault_path) == -1) {
		fsname = NULL;
		goto out;
	}
	/* allow_other without default_permissions would let the kernel reuse one user's
	 * permission check for another: it is never served that way. */
	if ((o->allow_other && !o->default_permissions &&
	    fuse_opt_add_opt(&names, "default_permissions") == -1) ||
	    fuse_opt_add_opt(&names, "subtype=comfysecretsfs") == -1 ||
	    fuse_opt_add_opt_escaped(&names, fsname) == -1 ||
	    fuse_opt_add_arg(&o->args, "-o") == -1 ||
	    fuse_opt_add_arg(&o->args, names) == -1)
		goto out;
	o->default_permissions |= o->allow_other;
	rc = 0;
out:
	free(names);
	free(fsname);
	return rc == 0 ? 0 : cs_err_sys(e, ENOMEM, "options");
}

void
fsopts_free(struct fsopts *o)
{
	free(o->vault);
	free(o->mountpoint);
	free(o->key_file);
	free(o->config);
	free(o->audit_log);
	fuse_opt_free_args(&o->args);
	memset(o, 0, sizeof *o);
}
