/* fs/log.c - one line on stderr per event; see log.h.
 *
 * The line is formatted first and written with a single write(2), so lines from
 * several threads do not interleave. A failed write is ignored: there is nowhere else
 * to report it. */
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX	1024	/* bytes, including the newline */

void
fslog(const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	va_list ap;
	int n, w;

	n = snprintf(line, sizeof line, "comfysecretsfs: ");
	va_start(ap, fmt);
	w = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (w < 0)
		return;
	n += w;
	if ((size_t)n > sizeof line - 2)
		n = (int)sizeof line - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}
