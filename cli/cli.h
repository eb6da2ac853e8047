/* cli/cli.h - what the comfysecrets subcommands share.
 *
 * main() parses the global options into a struct cli and calls one cmd_* function,
 * which returns the exit status: 0 ok, 1 failure (not found, refused, tampered),
 * 2 usage error. Commands print their own errors through cli_fail(); nothing else in
 * comfysecrets prints. */
#ifndef CS_CLI_H
#define CS_CLI_H

#include <stddef.h>
#include <sys/types.h>

#include "../crypto/err.h"
#include "../crypto/secret.h"
#include "../policy/audit.h"
#include "../policy/config.h"

#define EXIT_OK		0
#define EXIT_FAIL	1
#define EXIT_USAGE	2
#define CLI_EXIT_NOEXEC		126	/* a command found but not executable (env(1)) */
#define CLI_EXIT_NOTFOUND	127	/* a command not found (env(1)) */

struct cli {
	struct cfg	*cfg;
	mode_t		 umask;		/* the caller's, given back to a command run or watch starts */
};

/* Prints "comfysecrets: MSG" on stderr and returns EXIT_FAIL. */
int	cli_fail(const struct cs_err *e);
/* Prints why and the usage line of the subcommand on stderr; returns EXIT_USAGE. */
int	cli_usage(const char *cmd, const char *why);
/* For a command with subcommands (subs: their names, space-separated), when sub is none
 * it accepts: says that sub is unknown (shown escaped: it is the caller's text) and lists
 * subs, or that the known sub takes no operands, then the usage line; returns
 * EXIT_USAGE. */
int	cli_bad_sub(const char *cmd, const char *sub, const char *subs);
/* Prints the subcommand's help on stdout; returns EXIT_OK. */
int	cli_help(const char *cmd);

/* Appends ev to the configured audit log with this process's ids, via "cli" and this
 * process's comm (unless ev names a via or a comm itself), then moves the state file
 * forward. */
int	cli_audit(struct cli *c, struct audit_event *ev, struct cs_err *e) CS_WUR;
/* For a change (set, rm, import, rotate, floor --reset): opens the audit log before the
 * change is made, so a log that cannot be opened refuses the change instead of following
 * it unrecorded. Its lines are fdatasync'd as they are written (flush = sync) unless the
 * config says flush = none: a line that must precede its change on disk cannot wait
 * for the background flush.
 * Caller closes *a with audit_close(). */
int	cli_audit_open(struct cli *c, struct audit **a, struct cs_err *e) CS_WUR;

/* A change and its audit lines, written in that order on disk only: the lines first,
 * from vaultio_save()'s precommit (cli_change_precommit), then the new vault takes its
 * name. A change whose lines cannot be written is not saved; a kill between the two
 * leaves lines for a change that was not made, never a change without its lines. */
struct cli_change {
	struct cli		*c;
	struct audit		*a;		/* from cli_audit_open() */
	const char		*what;		/* "runpod/api_key", a FILE: for messages */
	const char		*done;		/* "stored", "removed", "imported" */
	/* Writes the lines; NULL: the one line ev, through cli_audit_put(). */
	int			(*lines)(struct cli_change *ch, struct cs_err *e);
	struct audit_event	*ev;		/* that line, when lines is NULL */
	void			*arg;		/* for lines */
	const struct vault	*v;		/* the vault being saved */
	int			 logged;	/* the lines are written ... */
	uint64_t		 gen;		/* ... for v at this generation */
};
/* The precommit of a change (arg: struct cli_change): writes its lines. On failure e
 * says that what was not done and why (the audit's error). */
int	cli_change_precommit(void *arg, struct cs_err *e) CS_WUR;
/* After vaultio_save() failed with e: when the lines were written already, says in e
 * whether the change was then saved (only the rollback floor failed) or not (the
 * rename failed: the log records a change that was not made). */
void	cli_change_failed(const struct cli_change *ch, struct cs_err *e);
/* Appends ev to a (from cli_audit_open) as cli_audit() does; a is left open. */
int	cli_audit_put(struct cli *c, struct audit *a, struct audit_event *ev,
	    struct cs_err *e) CS_WUR;
/* The same for ev[0..n) through one open of the log and one state file update; stops
 * at the first line that cannot be written (the lines before it are written). */
int	cli_audit_n(struct cli *c, struct audit_event *ev, size_t n, struct cs_err *e)
	    CS_WUR;

/* A value from stdin: to EOF when stdin is not a terminal (one trailing line end, "\n"
 * or "\r\n", dropped unless raw), else one line typed at a prompt without echo. More
 * than max bytes (after the line end is dropped) is EFBIG. */
int	cli_read_value(const char *what, size_t max, int raw, struct secret **out,
	    struct cs_err *e) CS_WUR;
/* Writes all of p to fd; -1 with e naming what on failure. */
int	cli_write_all(int fd, const void *p, size_t len, const char *what, struct cs_err *e)
	    CS_WUR;

/* Finds the command cmd as execvp(3) would: a name holding '/' as it is, else each
 * folder of PATH in turn (an empty entry is the current folder; no PATH: /bin:/usr/bin),
 * the first regular file this process may execute. Returns 0 with out (PATH_MAX bytes)
 * set; CLI_EXIT_NOTFOUND or CLI_EXIT_NOEXEC (a file found, none executable) with e
 * naming cmd and why. */
int	cli_find_command(const char *cmd, char *out, struct cs_err *e);

/* The subcommands. */
int	cmd_init(struct cli *c, int argc, char **argv);
int	cmd_set(struct cli *c, int argc, char **argv);
int	cmd_get(struct cli *c, int argc, char **argv);
int	cmd_list(struct cli *c, int argc, char **argv);
int	cmd_rm(struct cli *c, int argc, char **argv);
int	cmd_rotate(struct cli *c, int argc, char **argv);
int	cmd_fingerprint(struct cli *c, int argc, char **argv);
int	cmd_floor(struct cli *c, int argc, char **argv);
int	cmd_audit(struct cli *c, int argc, char **argv);
int	cmd_import(struct cli *c, int argc, char **argv);
int	cmd_check(struct cli *c, int argc, char **argv);
int	cmd_defaults(struct cli *c, int argc, char **argv);
int	cmd_run(struct cli *c, int argc, char **argv);
int	cmd_watch(struct cli *c, int argc, char **argv);
int	cmd_fleet(struct cli *c, int argc, char **argv);

/* On a fleet member, a command that would change the vault (cmd names it) is refused:
 * prints why (the fleet, where it is published from) and returns EXIT_FAIL; else
 * EXIT_OK. */
int	cli_fleet_guard(struct cli *c, const char *cmd);
/* On the fleet's admin, after cmd changed the vault: publishes it (fleet/publish.h),
 * and says so; EXIT_FAIL when the publish failed (the change stays saved here). Else
 * EXIT_OK. */
int	cli_fleet_after(struct cli *c, const char *cmd);

#endif
