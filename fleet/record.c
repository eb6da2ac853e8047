/* fleet/record.c - the member's applied-generation record; see record.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../crypto/file.h"
#include "record.h"

#define RECORD_MAGIC	"comfysecrets-fleet-record 1"
#define RECORD_MAX_BYTES 256

int
fleet_record_path(const char *state_dir, const char *fleet, char *out, struct cs_err *e)
{
	int n = snprintf(out, PATH_MAX, "%s/fleet-%s.gen", state_dir, fleet);

	if (n < 0 || n >= PATH_MAX)
		return cs_err_set(e, ENAMETOOLONG, "%s: path too long", state_dir);
	return 0;
}

int
fleet_record_read(const char *path, struct fleet_record *r, struct cs_err *e)
{
	struct cs_err fe = { 0 };
	char *buf = NULL, fpr[KEY_FPR_HEX + 2], again[RECORD_MAX_BYTES];
	size_t len = 0;
	uint64_t g;
	int n;

	memset(r, 0, sizeof *r);
	if (file_read(path, "fleet record", RECORD_MAX_BYTES, &buf, &len, &fe) == -1) {
		if (fe.code == ENOENT)
			return 0;
		return cs_err_set(e, fe.code, "%s", fe.msg);
	}
	/* Parsed, then written again and compared: one spelling only. */
	if (sscanf(buf, RECORD_MAGIC "\ngeneration %" SCNu64 "\nfingerprint %17s\n", &g,
	    fpr) != 2 || strlen(fpr) != KEY_FPR_HEX ||
	    (n = snprintf(again, sizeof again, RECORD_MAGIC "\ngeneration %" PRIu64
	    "\nfingerprint %s\n", g, fpr)) < 0 || (size_t)n != len ||
	    memcmp(again, buf, len) != 0) {
		free(buf);
		return cs_err_set(e, EINVAL, "%s: malformed fleet record; remove it only if you "
		    "accept any generation the fleet serves next", path);
	}
	free(buf);
	r->generation = g;
	memcpy(r->fpr, fpr, sizeof r->fpr);
	return 0;
}

int
fleet_record_write(const char *path, const struct fleet_record *r, struct cs_err *e)
{
	char buf[RECORD_MAX_BYTES], dir[PATH_MAX], *slash;
	int n;

	snprintf(dir, sizeof dir, "%s", path);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0700) == -1 && errno != EEXIST)
			return cs_err_sys(e, errno, "%s", dir);
	}
	n = snprintf(buf, sizeof buf, RECORD_MAGIC "\ngeneration %" PRIu64 "\nfingerprint %s\n",
	    r->generation, r->fpr);
	return file_write_atomic(path, buf, (size_t)n, 0, NULL, e);
}
