/* crypto/err.c - filling a struct cs_err; see err.h. */
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
cs_err_set(struct cs_err *e, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(e, code, 0, fmt, ap);
	va_end(ap);
	return -1;
}

int
cs_err_sys(struct cs_err *e, int code, const char *fmt, ...)
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
