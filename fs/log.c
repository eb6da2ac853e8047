/* fs/log.c - one line per event, to stderr, the journal or syslog; see log.h.
 *
 * The line is formatted first and written with a single write(2) (or one journal or
 * syslog message), so lines from several threads do not interleave. A failed write is
 * ignored: there is nowhere else to report it. Which channel is used is set once, by
 * the thread that detaches, before any other thread logs in the background. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "log.h"

#define LOG_LINE_MAX	1024	/* bytes, including the newline */
#define LOG_PREFIX	"comfysecretsfs: "
#define LOG_IDENT	"comfysecretsfs"

enum { TO_STDERR, TO_JOURNAL, TO_SYSLOG };
static atomic_int channel = TO_STDERR;

/* 1 when $JOURNAL_STREAM ("DEVICE:INODE", in decimal, systemd.exec(5)) is stderr. */
static int
stderr_is_journal(void)
{
	const char *v = getenv("JOURNAL_STREAM");
	uintmax_t dev, ino;
	struct stat sb;
	char end;

	if (v == NULL || sscanf(v, "%ju:%ju%c", &dev, &ino, &end) != 2 ||
	    fstat(STDERR_FILENO, &sb) == -1)
		return 0;
	return (uintmax_t)sb.st_dev == dev && (uintmax_t)sb.st_ino == ino;
}

int
fslog_background(void)
{
	if (stderr_is_journal())
		return 1;	/* channel stays TO_STDERR */
	openlog(LOG_IDENT, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	atomic_store(&channel, TO_JOURNAL);
	return 0;
}

void
fslog(const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	va_list ap;
	int n, w, ch = atomic_load(&channel);

	n = snprintf(line, sizeof line, LOG_PREFIX);
	va_start(ap, fmt);
	w = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (w < 0)
		return;
	n += w;
	if ((size_t)n > sizeof line - 2)
		n = (int)sizeof line - 2;
	line[n] = '\0';
	/* The journal when it answers (journald may start later, or never run), else
	 * syslog; either names the program itself. */
	if (ch == TO_JOURNAL && sd_journal_send("MESSAGE=%s", line + sizeof LOG_PREFIX - 1,
	    "PRIORITY=%d", LOG_NOTICE, "SYSLOG_IDENTIFIER=" LOG_IDENT, NULL) >= 0)
		return;
	if (ch != TO_STDERR) {
		syslog(LOG_NOTICE, "%s", line + sizeof LOG_PREFIX - 1);
		return;
	}
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}
