/* policy/allow.h - network allowlist patterns and the ComfyVN app's sandbox decision.
 *
 * The rule, exactly as the app has it: with enable_security_sandbox_guard on, host:port
 * is allowed only when the job asked for the network AND the pair matches a pattern in
 * the job's own allow list, the config's network_allow or SANDBOX_NETWORK_ALLOW (cfg->allow
 * holds the last two, in that order). With the guard off the job's network flag alone
 * decides. Nothing here resolves a name: no DNS, ever.
 *
 * Patterns (surrounding blanks ignored, anything else must parse or it is an error that
 * names the pattern, escaped and shortened):
 *	*			every host, any port	*:443		every host, port 443
 *	api.example.com		that host, any port	api.example.com:443
 *	*.example.com		any subdomain at any depth, not example.com itself (:PORT too)
 *	127.0.0.1  127.0.0.1:8080  ::1 (bare IPv6: never a port)  [::1]  [::1]:8000
 *	10.0.0.0/8  10.0.0.0/8:443  fd00::/8  [fd00::/8]:443	(no host bits past the prefix)
 *	http://host[:port][/path]  https://...  ws://  wss://	(missing port: 80 or 443)
 *	other schemes (ftp://host:21) only with an explicit port; the path is ignored
 * Names compare case-insensitively without a trailing dot. IP literals compare by value,
 * IPv4 as its v4-mapped IPv6 form ([0:0::1] is [::1], ::ffff:127.0.0.1 is 127.0.0.1).
 * "localhost", 127.0.0.0/8 and ::1 are one loopback class: a pattern naming any of them
 * matches a host that is any of them. A name whose last label is all digits ("127.1") is
 * refused rather than guessed at, as is an IPv6 zone ("fe80::1%eth0"). */
#ifndef CS_ALLOW_H
#define CS_ALLOW_H

#include <stddef.h>

#include "../crypto/err.h"

struct cfg;

#define ALLOW_PATTERN_MAX	1024	/* bytes of one pattern, blanks trimmed */
#define ALLOW_NAME_MAX		253	/* bytes of a host name, without the trailing dot */
#define ALLOW_REASON_MAX	512	/* bytes of an answer's reason, including the NUL */

/* Where an allowlist entry came from (policy/config.h), for "defaults" answers. */
enum allow_source { ALLOW_FROM_CONFIG, ALLOW_FROM_ENV };

enum allow_kind {
	ALLOW_ANY,		/* "*" */
	ALLOW_NAME,		/* one host name */
	ALLOW_SUFFIX,		/* "*.NAME": names ending in ".NAME" */
	ALLOW_ADDR,		/* one IP address */
	ALLOW_NET		/* a CIDR range */
};

/* A parsed pattern; plain data, nothing to free. */
struct allow_pat {
	enum allow_kind	kind;
	char		name[ALLOW_NAME_MAX + 1];	/* NAME, SUFFIX: lowercase, no dot */
	unsigned char	addr[16];	/* ADDR, NET: IPv6 or v4-mapped; NET: host bits 0 */
	unsigned	prefix;		/* NET: bits of addr that count, 0-128 */
	unsigned	port;		/* 1-65535; 0: any port */
};

/* A host:port being checked, validated; plain data. */
struct allow_target {
	int		is_addr;	/* 1: addr holds it, 0: name does */
	char		name[ALLOW_NAME_MAX + 1];
	unsigned char	addr[16];
	int		loopback;	/* "localhost", 127.0.0.0/8 or ::1 */
	unsigned	port;
};

/* The decision. matched points into job_allow or cfg->allow: it lives as long as they do. */
struct allow_answer {
	int		 allowed;
	const char	*matched;	/* the pattern as written; NULL when none decided it */
	const char	*source;	/* "job", "config" or "env"; NULL with matched */
	char		 reason[ALLOW_REASON_MAX];	/* why, in words, naming host:port */
};

/* Parses one pattern. EINVAL naming the pattern and what is wrong with it. */
int	allow_parse(const char *pattern, struct allow_pat *out, struct cs_err *e)
	    CS_NONNULL(2) CS_WUR;
/* Validates the host being checked (a name, an IPv4 or IPv6 literal, IPv6 optionally in
 * brackets; no wildcard, port or CIDR) and the port (1-65535). EINVAL naming them. */
int	allow_target(const char *host, int port, struct allow_target *out, struct cs_err *e)
	    CS_NONNULL(3) CS_WUR;
/* 1 when the pattern covers the target, else 0. */
int	allow_match(const struct allow_pat *p, const struct allow_target *t) CS_NONNULL(1, 2);
/* The sandbox decision for host:port (see the top of this file). Every pattern of both
 * lists is parsed first, whatever the guard: one that does not parse is an error naming
 * where it came from and never turns into an allow or a deny. Returns 0 with ans filled,
 * or -1 with e set (ans->allowed is then 0). job_allow may be NULL when njob is 0. */
int	allow_decide(const struct cfg *c, const char *const *job_allow, size_t njob,
	    int network, const char *host, int port, struct allow_answer *ans,
	    struct cs_err *e) CS_NONNULL(1, 5, 7) CS_WUR;
/* "config" or "env". */
const char	*allow_source_name(enum allow_source s);

#endif
