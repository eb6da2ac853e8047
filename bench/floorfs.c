/* bench/floorfs.c - the floor for any FUSE filesystem: SRC's two-level tree (folders of
 * files) read into memory at start and served read-only by the libfuse3 low-level API,
 * with direct_io and the multi-threaded loop comfysecretsfs uses. Nothing else: no audit,
 * no crypto, no handles. Lookups are binary searches in name-sorted runs of children.
 * Entry and attribute timeouts are 1 s, or FLOORFS_TIMEOUT seconds from the environment
 * (the floor given comfysecretsfs's long timeouts).
 *
 *   [FLOORFS_TIMEOUT=S] floorfs SRC MOUNTPOINT [-f] [-s] */
#define FUSE_USE_VERSION 314
#include <dirent.h>
#include <errno.h>
#include <fuse_lowlevel.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static double timeout_s = 1.0;	/* entry and attribute timeout */

struct node {
	char	*name, *data;
	size_t	 len, first, n;	/* folders: children are nodes[first .. first + n) */
	int	 dir;
};
static struct node *nodes;	/* nodes[1] is the root; the inode is the index */
static size_t nnodes = 2;

static int
skipdots(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

static void
add(const char *path, const char *name, int dir)
{
	struct node *grown = realloc(nodes, (nnodes + 1) * sizeof *nodes);
	FILE *f;

	if (grown == NULL)
		exit(1);
	nodes = grown;
	nodes[nnodes] = (struct node){ .name = strdup(name), .dir = dir };
	if (!dir && (f = fopen(path, "r")) != NULL) {
		nodes[nnodes].data = malloc(4096);
		nodes[nnodes].len = fread(nodes[nnodes].data, 1, 4096, f);
		fclose(f);
	}
	nnodes++;
}

static void
load(const char *src)
{
	struct dirent **top, **sub;
	char path[4096];
	int nt, ns, i, j;

	nodes = calloc(2, sizeof *nodes);
	nodes[1] = (struct node){ .name = "", .dir = 1, .first = 2 };
	if ((nt = scandir(src, &top, skipdots, alphasort)) < 0)
		exit(1);
	for (i = 0; i < nt; i++)
		add("", top[i]->d_name, 1);
	nodes[1].n = (size_t)nt;
	for (i = 0; i < nt; i++) {
		snprintf(path, sizeof path, "%s/%s", src, top[i]->d_name);
		nodes[2 + i].first = nnodes;
		ns = scandir(path, &sub, skipdots, alphasort);
		for (j = 0; j < ns; j++) {
			snprintf(path, sizeof path, "%s/%s/%s", src, top[i]->d_name, sub[j]->d_name);
			add(path, sub[j]->d_name, 0);
			free(sub[j]);
		}
		nodes[2 + i].n = ns < 0 ? 0 : (size_t)ns;
		free(sub);
	}
}

static void
attr(fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof *st);
	st->st_ino = ino;
	st->st_mode = nodes[ino].dir ? S_IFDIR | 0555 : S_IFREG | 0440;
	st->st_nlink = nodes[ino].dir ? 2 : 1;
	st->st_size = (off_t)nodes[ino].len;
}

static void
fl_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e = { .attr_timeout = timeout_s, .entry_timeout = timeout_s };
	size_t lo = nodes[parent].first, hi = lo + nodes[parent].n, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((c = strcmp(name, nodes[mid].name)) == 0) {
			e.ino = mid;
			attr(mid, &e.attr);
			return (void)fuse_reply_entry(req, &e);
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	fuse_reply_err(req, ENOENT);
}

static void
fl_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	attr(ino, &st);
	fuse_reply_attr(req, &st, timeout_s);
}

static void
fl_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	char *buf = malloc(size);
	size_t pos = 0, want, k;
	struct stat st;

	(void)fi;
	for (k = (size_t)off; k < nodes[ino].n; k++) {
		attr(nodes[ino].first + k, &st);
		want = fuse_add_direntry(req, buf + pos, size - pos,
		    nodes[nodes[ino].first + k].name, &st, (off_t)k + 1);
		if (want > size - pos)
			break;
		pos += want;
	}
	fuse_reply_buf(req, buf, pos);
	free(buf);
}

static void
fl_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (nodes[ino].dir)
		return (void)fuse_reply_err(req, EISDIR);
	fi->direct_io = 1;
	fuse_reply_open(req, fi);
}

static void
fl_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	size_t len = nodes[ino].len;

	(void)fi;
	if ((size_t)off >= len)
		return (void)fuse_reply_buf(req, NULL, 0);
	fuse_reply_buf(req, nodes[ino].data + off, size < len - (size_t)off ? size :
	    len - (size_t)off);
}

static const struct fuse_lowlevel_ops fl_oper = {
	.lookup = fl_lookup, .getattr = fl_getattr, .readdir = fl_readdir,
	.open = fl_open, .read = fl_read,
};

int
main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc - 1, argv + 1);
	struct fuse_cmdline_opts o;
	struct fuse_loop_config *lc;
	struct fuse_session *se;
	int rc = 1;

	if (argc < 3 || fuse_parse_cmdline(&args, &o) != 0 || o.mountpoint == NULL) {
		fprintf(stderr, "usage: floorfs SRC MOUNTPOINT [-f] [-s]\n");
		return 1;
	}
	if (getenv("FLOORFS_TIMEOUT") != NULL)
		timeout_s = strtod(getenv("FLOORFS_TIMEOUT"), NULL);
	load(argv[1]);
	if ((se = fuse_session_new(&args, &fl_oper, sizeof fl_oper, NULL)) == NULL ||
	    fuse_set_signal_handlers(se) != 0 || fuse_session_mount(se, o.mountpoint) != 0)
		return 1;
	fuse_daemonize(o.foreground);
	if (o.singlethread) {
		rc = fuse_session_loop(se);
	} else {
		lc = fuse_loop_cfg_create();
		fuse_loop_cfg_set_clone_fd(lc, o.clone_fd);
		rc = fuse_session_loop_mt(se, lc);
		fuse_loop_cfg_destroy(lc);
	}
	fuse_session_unmount(se);
	return rc < 0;
}
