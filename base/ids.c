/* base/ids.c - user, group and mode from text; see ids.h. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "ids.h"

#define PW_BUF_BYTES	16384		/* for getpwnam_r and getgrnam_r, grown on ERANGE */
#define PW_BUF_MAX	(1024 * 1024)
#define ID_MAX		4294967294UL	/* (uid_t)-1 and (gid_t)-1 mean "no change" */

/* 1 and *v when s is only ASCII digits, at most ID_MAX; 0 when it is not all digits
 * (a name); -1 when it is all digits but too large. */
static int
number(const char *s, unsigned long *v)
{
	size_t i;

	*v = 0;
	if (s[0] == '\0' || strspn(s, "0123456789") != strlen(s))
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		if (*v > (ID_MAX - (unsigned long)(s[i] - '0')) / 10)
			return -1;
		*v = *v * 10 + (unsigned long)(s[i] - '0');
	}
	return 1;
}

const char *
cs_parse_user(const char *s, uid_t *out)
{
	struct passwd pw, *res = NULL;
	unsigned long v;
	size_t n = PW_BUF_BYTES;
	char *buf;
	int rc;

	if ((rc = number(s, &v)) != 0 || s[0] == '\0') {
		if (rc != 1)
			return "expected a user name or a number below 4294967295";
		*out = (uid_t)v;
		return NULL;
	}
	for (;;) {
		if ((buf = malloc(n)) == NULL)
			return "out of memory";
		rc = getpwnam_r(s, &pw, buf, n, &res);
		if (rc != ERANGE || n >= PW_BUF_MAX)
			break;
		free(buf);
		n *= 4;
	}
	if (res != NULL)
		*out = pw.pw_uid;
	free(buf);
	return res != NULL ? NULL : "no such user";
}

const char *
cs_parse_group(const char *s, gid_t *out)
{
	struct group gr, *res = NULL;
	unsigned long v;
	size_t n = PW_BUF_BYTES;
	char *buf;
	int rc;

	if ((rc = number(s, &v)) != 0 || s[0] == '\0') {
		if (rc != 1)
			return "expected a group name or a number below 4294967295";
		*out = (gid_t)v;
		return NULL;
	}
	for (;;) {
		if ((buf = malloc(n)) == NULL)
			return "out of memory";
		rc = getgrnam_r(s, &gr, buf, n, &res);
		if (rc != ERANGE || n >= PW_BUF_MAX)
			break;
		free(buf);
		n *= 4;
	}
	if (res != NULL)
		*out = gr.gr_gid;
	free(buf);
	return res != NULL ? NULL : "no such group";
}

const char *
cs_parse_mode(const char *s, mode_t *out)
{
	const char *p;
	unsigned v = 0;

	for (p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '7' || p - s >= 4)
			return "expected an octal mode from 0000 to 0777";
		v = v * 8 + (unsigned)(*p - '0');
	}
	if (p == s || v > 0777)
		return "expected an octal mode from 0000 to 0777";
	*out = (mode_t)v;
	return NULL;
}
