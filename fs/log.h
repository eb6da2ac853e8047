/* fs/log.h - the daemon's diagnostic channel: one line per event.
 *
 * In the foreground (-f, and comfysecrets.service) a line goes to stderr, which systemd
 * makes the journal. In the background (mount -t fuse.comfysecretsfs, an fstab line,
 * run-comfysecrets.mount) the daemon's stdio is closed once it is mounted, and its lines
 * go (fslog_background):
 * - to stderr still, when $JOURNAL_STREAM names it (systemd sets it to the device and
 *   inode of the journal stream it connects a unit's stderr to, and mount(8) and
 *   mount.fuse3 pass both on): the lines land in the journal, filed under the unit;
 * - else to the journal (sd_journal_send), when it answers;
 * - else to syslog(3), facility daemon.
 * Reload refusals and audit failures are reported here (and in the audit log where they
 * belong). A line never holds a secret, a part of one or its length: callers pass names
 * and struct cs_err messages only. */
#ifndef CS_FS_LOG_H
#define CS_FS_LOG_H

/* Logs "comfysecretsfs: MSG" (stderr: one write; journal and syslog: priority notice,
 * identifier comfysecretsfs). */
void	fslog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Switches fslog to the background channels above. Returns 1 when stderr is the journal
 * stream and must be kept open, 0 when it may go. Called once, before stdio is closed. */
int	fslog_background(void);

#endif
