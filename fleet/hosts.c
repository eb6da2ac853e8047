/* fleet/hosts.c - the enrolled hosts file; see hosts.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../crypto/file.h"
#include "hosts.h"

#define HOSTS_FILE_MAX_BYTES	(4u << 20)
#define HOST_LINE_BYTES		(FLEET_NAME_MAX + FLEET_PUB_B64 + 2)

int
fleet_hosts_read(const char *path, struct fleet_hosts *out, struct cs_err *e)
{
	unsigned char pk[FLEET_PUB_BYTES];
	char *buf = NULL, *p, *nl, *sp;
	struct cs_err fe = { 0 };
	size_t len = 0;
	int line = 0;

	struct stat st;
	int fd, rc;

	memset(out, 0, sizeof *out);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) == -1) {
		if (errno == ENOENT)
			return 0;
		return cs_err_sys(e, errno, "%s", path);
	}
	/* Whoever may write the list enrols a key of theirs: the config file's rule
	 * (policy/config.c), checked on the file opened. */
	if (fstat(fd, &st) == -1) {
		rc = cs_err_sys(e, errno, "%s", path);
	} else if (!S_ISREG(st.st_mode)) {
		rc = cs_err_set(e, EINVAL, "%s: hosts file: not a regular file", path);
	} else if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		rc = cs_err_set(e, EPERM, "%s: hosts file writable by group or others (mode "
		    "%04o): refused, chmod go-w it and check who is enrolled", path,
		    (unsigned)(st.st_mode & 07777));
	} else if (st.st_uid != 0 && st.st_uid != geteuid()) {
		rc = cs_err_set(e, EPERM, "%s: hosts file owned by uid %u, not root or this "
		    "user: refused, chown it", path, (unsigned)st.st_uid);
	} else {
		rc = file_read_fd(fd, path, "hosts file", HOSTS_FILE_MAX_BYTES, &buf, &len, &fe);
		if (rc == -1)
			cs_err_set(e, fe.code, "%s", fe.msg);
	}
	close(fd);
	if (rc == -1)
		return -1;
	for (p = buf; p < buf + len; p = nl + 1) {
		line++;
		if ((nl = memchr(p, '\n', (size_t)(buf + len - p))) == NULL)
			nl = buf + len;
		*nl = '\0';
		if ((sp = strchr(p, ' ')) == NULL)
			goto bad;
		*sp = '\0';
		if (fleet_pub_parse(sp + 1, path, pk, e) == -1 ||
		    fleet_hosts_add(out, p, pk, e) == -1)
			goto bad;
		if (line > 1 && strcmp(out->h[out->n - 1].name, p) != 0)
			goto bad;	/* not in order: written by hand */
	}
	free(buf);
	return 0;
bad:
	free(buf);
	fleet_hosts_free(out);
	return cs_err_set(e, EINVAL, "%s:%d: expected \"NAME PUBLIC-KEY\", sorted, one per host",
	    path, line);
}

int
fleet_hosts_write(const char *path, const struct fleet_hosts *hs, struct cs_err *e)
{
	char pub[FLEET_PUB_B64], *buf;
	size_t i, n = 0;
	int rc;

	if ((buf = malloc(hs->n * HOST_LINE_BYTES + 1)) == NULL)
		return cs_err_sys(e, ENOMEM, "%s", path);
	for (i = 0; i < hs->n; i++) {
		fleet_pub_text(hs->h[i].pk, pub);
		n += (size_t)snprintf(buf + n, HOST_LINE_BYTES + 1, "%s %s\n", hs->h[i].name,
		    pub);
	}
	rc = file_write_atomic(path, buf, n, 0, NULL, e);
	free(buf);
	return rc;
}

int
fleet_hosts_add(struct fleet_hosts *hs, const char *name,
    const unsigned char pk[FLEET_PUB_BYTES], struct cs_err *e)
{
	struct fleet_host *nh;
	size_t i, at = hs->n;

	if (!fleet_name_ok(name))
		return cs_err_set(e, EINVAL, "host name: expected [a-z0-9][a-z0-9._-]{0,63}, "
		    "no \"..\"");
	for (i = 0; i < hs->n; i++) {
		if (strcmp(hs->h[i].name, name) == 0)
			return cs_err_set(e, EEXIST, "host %s is enrolled already", name);
		if (memcmp(hs->h[i].pk, pk, FLEET_PUB_BYTES) == 0)
			return cs_err_set(e, EEXIST, "that public key is enrolled already, as %s",
			    hs->h[i].name);
		if (at == hs->n && strcmp(name, hs->h[i].name) < 0)
			at = i;
	}
	if (hs->n >= FLEET_HOSTS_MAX)
		return cs_err_set(e, ENOSPC, "at most %u hosts", FLEET_HOSTS_MAX);
	if ((nh = realloc(hs->h, (hs->n + 1) * sizeof *nh)) == NULL)
		return cs_err_sys(e, ENOMEM, "hosts");
	hs->h = nh;
	memmove(&nh[at + 1], &nh[at], (hs->n - at) * sizeof *nh);
	memset(&nh[at], 0, sizeof *nh);
	strcpy(nh[at].name, name);
	memcpy(nh[at].pk, pk, FLEET_PUB_BYTES);
	hs->n++;
	return 0;
}

int
fleet_hosts_rm(struct fleet_hosts *hs, const char *name, struct cs_err *e)
{
	size_t i;

	for (i = 0; i < hs->n; i++) {
		if (strcmp(hs->h[i].name, name) == 0) {
			memmove(&hs->h[i], &hs->h[i + 1], (hs->n - i - 1) * sizeof *hs->h);
			hs->n--;
			return 0;
		}
	}
	return cs_err_set(e, ENOENT, "host %.64s is not enrolled", name);
}

void
fleet_hosts_free(struct fleet_hosts *hs)
{
	free(hs->h);
	memset(hs, 0, sizeof *hs);
}
