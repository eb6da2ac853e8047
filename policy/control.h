/* policy/control.h - the control protocol: one JSON request in, one JSON answer out.
 *
 * Shared by the daemon's .control file, its .sandbox/<host>:<port> paths and the CLI, so
 * all three answer alike. A request is one JSON object (at most CONTROL_REQUEST_MAX bytes)
 * with "op" and that op's fields; a field the op does not know is refused, so a typo
 * ("netwrok") never turns into a default. Optional fields may also be null.
 *
 *	check     {host, port, allow?: [pattern...], network?: bool (true)}
 *	          -> {allowed, matched?, source?, reason, host, port}
 *	defaults  -> {guard, network_default, api_enabled, config,
 *	              network_allow: [{pattern, source, error?}]}
 *	providers -> the providers callback's object, plus audit_path  (enable_security_api;
 *	          the callback lists only what the caller may list)
 *	audit     {limit?: 1-1000 (50)} -> {items: [line objects], path, truncated?}
 *	          (enable_security_api, and only for uid 0 or the config's audit_group:
 *	          the log names who read what)
 *	rotate    {new_key?: base64} -> the rotate callback's object
 *	          (enable_security_api, and only for uid 0)
 *	status    -> {fleet, role, host?, generation, fingerprint?, applied?, confirmed?,
 *	              reachable, stale, detail}: the fleet follower's last status
 *	              (policy/fleetstatus.h); {fleet: null} on a host in no fleet
 *
 * "Only for uid 0" means the caller and, when there is one, the opener (below): a
 * request runs with the lesser rights of the two. Group membership is the caller's
 * business to know (supplementary groups): it says so in audit_member. An answer is at most
 * CONTROL_ANSWER_MAX bytes: audit keeps the newest lines that fit and says
 * "truncated": true; any other answer that would be larger is an error.
 *
 * Anything else - bad JSON, not an object, an unknown op, a missing or ill-typed field, a
 * refusal - is {"error": "..."}. Every answer is one line ending in a newline, all
 * ASCII: every other code point, and DEL, is a \u escape, so text callers chose (an
 * audit line's command name) cannot drive the reader's terminal.
 *
 * A check that denies writes a sandbox_blocked line (host, port, reason, the caller's ids,
 * via) to ctx->audit when it is not NULL. If that line cannot be written and the config
 * says audit_fail_closed, the answer is an error rather than an unrecorded denial;
 * otherwise the denial carries "audit_error".
 *
 * Secrets: a rotate request's new_key is wiped from jansson's copy of the request as
 * soon as the request is done with, and never appears in an answer or an error; error
 * texts from the JSON parser are cut before their "near '...'" excerpt. The request
 * buffer itself belongs to the caller, who wipes it. */
#ifndef CS_CONTROL_H
#define CS_CONTROL_H

#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include "../crypto/err.h"
#include "allow.h"
#include "audit.h"
#include "config.h"

#define CONTROL_REQUEST_MAX	(64u * 1024)	/* bytes of one request */
#define CONTROL_ANSWER_MAX	(1024u * 1024)	/* bytes of one answer, the newline included */
#define CONTROL_PAIR_MAX	(ALLOW_NAME_MAX + 16)	/* bytes of a "host:port" path name */
#define CONTROL_AUDIT_LIMIT_MAX	1000		/* lines an audit request may ask for */
#define CONTROL_AUDIT_LIMIT	50		/* lines when it does not say */

struct control_ctx {
	const struct cfg	*cfg;		/* required */
	pid_t			 pid;		/* the caller; < 0: unknown (no ids audited) */
	uid_t			 uid;		/* rotate and audit need 0 */
	gid_t			 gid;
	/* The process that opened the .control handle the caller wrote to, when it is
	 * another uid: rotate and audit need 0 here too. has_opener 0: no such. */
	int			 has_opener;
	uid_t			 opener_uid;
	/* 1: the caller and the opener are each root or in cfg->audit_group, so audit
	 * is theirs to read as well as root's. */
	int			 audit_member;
	const char		*comm;		/* may be NULL */
	const char		*via;		/* audit "via": "fs", "cli"; NULL: "control" */
	struct audit		*audit;		/* denials go here; NULL: not recorded */
	/* Plug-ins; NULL: "<op>: not available here". Each sets *out to a new JSON object
	 * (the answer; control_handle takes the reference) and returns 0, or returns -1
	 * with e set. They never put a value in *out, only names. */
	int	(*providers)(void *arg, json_t **out, struct cs_err *e);
	/* new_key_b64 is NULL for a fresh random key; it is wiped after the call. The
	 * callback writes the key_rotated audit line itself. */
	int	(*rotate)(void *arg, const char *new_key_b64, json_t **out, struct cs_err *e);
	void			*arg;		/* passed to both */
};

/* Answers one request of len bytes (need not be NUL-terminated). *answer is a new
 * NUL-terminated string of *alen bytes, ending in "\n"; the caller frees it with free().
 * Returns 0 with an answer (which may be {"error": ...}), or -1 only when memory for an
 * answer could not be had (*answer NULL). A len over CONTROL_REQUEST_MAX is refused
 * without reading req, which may then hold fewer bytes or be NULL: a caller that
 * stopped keeping an oversized request still gets the error naming its true size. */
int	control_handle(const struct control_ctx *ctx, const char *req, size_t len,
	    char **answer, size_t *alen) CS_NONNULL(1, 4, 5) CS_WUR;
/* The check answer for a path name "host:port" ("api.example.com:443", "[::1]:8000"),
 * as if {"op":"check","host":...,"port":...} had been sent (network true, no job list),
 * denial audited the same way. Same ownership and return as control_handle. */
int	control_check_pair(const struct control_ctx *ctx, const char *pair, char **answer,
	    size_t *alen) CS_NONNULL(1, 2, 3, 4) CS_WUR;
/* 0 when pair is a path name control_check_pair() would check ("host:port",
 * "[v6]:port", a valid host, a port 1-65535); -1 with e set (EINVAL, naming the pair
 * and what is wrong) when it is not. Decides nothing and audits nothing. */
int	control_pair_parse(const char *pair, struct cs_err *e) CS_NONNULL(1) CS_WUR;

#endif
