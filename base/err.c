/* base/err.c - filling a struct cs_err, and showing hostile text in one; see err.h. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

static int
vset(struct cs_err *e, int code, int with_errno, const char *fmt, va_list ap)
{
	size_t n;

	if (e == NULL || e->msg[0] != '\0')
		return -1;
	e->code = code;
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	if (with_errno) {
		n = strlen(e->msg);
		snprintf(e->msg + n, sizeof e->msg - n, ": %s", strerror(code));
	}
	return -1;
}

int
cs_err_setf(struct cs_err *e, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(e, code, 0, fmt, ap);
	va_end(ap);
	return -1;
}

int
cs_err_sysf(struct cs_err *e, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(e, code, 1, fmt, ap);
	va_end(ap);
	return -1;
}

void
cs_err_clear(struct cs_err *e)
{
	if (e == NULL)
		return;
	e->code = 0;
	e->msg[0] = '\0';
}

const char *
cs_show(const char *s, size_t len, size_t max, char *out, size_t n)
{
	size_t i, o = 0;
	unsigned char c;

	if (n == 0)
		return out;
	for (i = 0; i < len && o + 8 < n; i++) {
		if (i == max) {
			o += (size_t)snprintf(out + o, n - o, "...");
			break;
		}
		c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, n - o, "\\x%02x", c);
	}
	out[o] = '\0';
	return out;
}

const char *
cs_json_reason(const char *text, char *out, size_t n)
{
	static const char *const cuts[] = { " near '", " 0x", " '\\" };
	char buf[CS_JSON_REASON_MAX + 1];
	const char *p;
	size_t len, i;

	if (text == NULL || text[0] == '\0')
		text = "not valid JSON";
	len = strnlen(text, CS_JSON_REASON_MAX);
	memcpy(buf, text, len);
	buf[len] = '\0';
	for (i = 0; i < sizeof cuts / sizeof cuts[0]; i++)
		if ((p = strstr(buf, cuts[i])) != NULL && (size_t)(p - buf) < len)
			len = (size_t)(p - buf);
	return cs_show(buf, len, CS_JSON_REASON_MAX, out, n);
}
