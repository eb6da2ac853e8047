/* fleet/etcd.h - a small etcd v3 client: get, put, txn, watch, over etcd's JSON gateway.
 *
 * The gateway is etcd's grpc-gateway, served on the client port of every member of etcd
 * 3.4 (Debian 12's etcd-server): POST /v3/kv/range, /v3/kv/put, /v3/kv/deleterange,
 * /v3/kv/txn, /v3/watch and /v3/auth/authenticate, each taking and giving the JSON form
 * of the gRPC message (https://etcd.io/docs/v3.4/dev-guide/api_grpc_gateway/ and
 * api/etcdserverpb/rpc.proto). In that JSON, keys and values are base64 and 64-bit
 * integers are strings. An error is an HTTP status other than 200 with a body holding
 * the gRPC `code` and `message`; we read only those two, never the gateway's `error`
 * field, which etcd 3.6 dropped. Requests go through libcurl (TLS with a CA and a client
 * certificate) and jansson.
 *
 * Only the fleet follower and the admin CLI link this: comfysecretsfs has no network code.
 *
 * Trust: etcd is not trusted with anything secret (the fleet puts only ciphertext and
 * signed manifests there), but the client still treats every answer as hostile: each
 * response is bounded by max_response bytes, each JSON field is checked for its type and
 * range, and a malformed answer is an error naming the endpoint and request, never a
 * crash. Values are ordinary heap memory for that reason: they are not plaintext.
 *
 * Failover: a client knows every endpoint. A request goes to the current endpoint; when
 * that one cannot be reached, times out, or answers that it has no leader, the request
 * moves to the next, until each endpoint has been tried once; the endpoint that answered
 * becomes the current one. When all fail, the error is the most telling of theirs (no
 * leader, else a timeout, else unreachable), its message naming that endpoint and
 * ending "(all N endpoints failed)". A write (put, txn) is sent again to another
 * endpoint only when the first surely did not apply it (no connection, or refused for
 * lack of a leader); a write that timed out after being sent is reported at once, its
 * message ending "outcome unknown" (a txn compare-and-swap is then safe to retry: if it
 * had applied, the retry loses the compare). An answer refused for its size, a refusal
 * for permissions or password, and any other error etcd answered end the request at
 * once: another member would answer the same.
 *
 * Authentication: with a user, the client calls /v3/auth/authenticate and sends the
 * token in the Authorization header (the gateway passes it on as gRPC metadata). When
 * etcd answers that the token is invalid or expired (simple tokens expire after
 * --auth-token-ttl, 300 s by default), the client authenticates again once and repeats
 * the request.
 *
 * Leader: every request carries the header "Grpc-Metadata-hasleader: true" (gRPC
 * metadata hasleader=true, etcd's clientv3.WithRequireLeader): a member that lost quorum
 * answers "etcdserver: no leader" at once, and cancels a watch when it loses its leader,
 * instead of leaving the watch silent forever.
 *
 * TLS: with --client-cert-auth, etcd 3.4's gateway answers HTTP 400 to a client
 * certificate that has a CommonName ("CommonName of client sending a request against
 * gateway will be ignored and not used as expected", etcd PR 10366 for CVE-2018-16886):
 * the fleet's client certificates must have an empty CN (e.g. subject "/O=fleet"); the
 * user is given by user and password. curl trusts a CA file that holds the members'
 * certificate itself (OpenSSL's partial chains), as well as their CA.
 *
 * Not thread-safe: one client per thread. The watch uses its own connection, so the
 * watch callback may call the other functions on the same client. */
#ifndef CS_FLEET_ETCD_H
#define CS_FLEET_ETCD_H

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "../crypto/attr.h"
#include "../crypto/err.h"

/* The codes etcd_* put in e->code (errno values, so callers can also print them).
 * Any other code (EINVAL, ENOMEM, an errno from reading a file) means what it says. */
#define ETCD_EUNREACHABLE	EHOSTUNREACH	/* no endpoint could be reached (connect,
						 * TLS handshake, or reset before an answer) */
#define ETCD_ETIMEDOUT		ETIMEDOUT	/* timeout_ms passed (or etcd's own request
						 * timeout); for a write, the message says
						 * "outcome unknown" */
#define ETCD_ENOLEADER		EAGAIN		/* every endpoint reached answered "no leader"
						 * (no quorum), or a watch was cancelled for it */
#define ETCD_EAUTH		EACCES		/* user or password refused, or no token */
#define ETCD_EPERM		EPERM		/* the user's role does not allow the request */
#define ETCD_ETOOBIG		EFBIG		/* an answer larger than max_response */
#define ETCD_EREQTOOBIG		EMSGSIZE	/* etcd refused the request as too large
						 * (--max-request-bytes, 1.5 MiB by default) */
#define ETCD_ETOOMANYOPS	E2BIG		/* a txn with more ops than --max-txn-ops (128) */
#define ETCD_EPROTO		EBADMSG		/* an answer that is not the JSON etcd sends */
#define ETCD_ECOMPACTED		ENODATA		/* watch: start revision already compacted */
#define ETCD_ECANCELED		ECANCELED	/* watch: cancelled by etcd for another reason */
#define ETCD_ESERVER		EPROTO		/* any other error etcd answered with; the
						 * message holds its gRPC code and message */

#define ETCD_TIMEOUT_MS_DEFAULT		5000	/* ms per request when timeout_ms is 0 */
#define ETCD_MAX_RESPONSE_DEFAULT	(64u << 20)	/* bytes when max_response is 0 */
#define ETCD_ENDPOINTS_MAX		16	/* endpoints per client */
#define ETCD_PASSWORD_MAX		256	/* bytes of password file read */

struct etcd;			/* one client; opaque */

struct etcd_opts {
	const char *const *endpoints;	/* "https://127.0.0.1:2379", "http://..."; 1 to
					 * ETCD_ENDPOINTS_MAX; copied by etcd_open */
	size_t	nendpoints;
	const char *ca;			/* PEM file of the CA that signed the members, or NULL
					 * for the system's CAs (https endpoints only) */
	const char *cert, *key;		/* PEM client certificate and its key, or NULL */
	const char *user;		/* etcd user, or NULL for no authentication */
	const char *password_file;	/* file holding the user's password (one line; a
					 * trailing newline is dropped), a regular file that
					 * group and others cannot read (EACCES otherwise);
					 * read by etcd_open into guarded memory, wiped by
					 * etcd_close; required with user */
	long	timeout_ms;		/* per request, connection included; 0 = default.
					 * The watch uses it only to connect. */
	size_t	max_response;		/* bytes of answer accepted (HTTP body); a larger
					 * answer is refused with ETCD_ETOOBIG; 0 = default.
					 * Bounds the watch's buffer for one message too.
					 * Base64 makes a value 4/3 its size in an answer. */
};

/* Checks the options, reads the password file and returns a client in *out, released
 * with etcd_close(). Nothing is sent yet, so a client can be made while etcd is down:
 * with a user, the first request authenticates (and reports ETCD_EAUTH for a refused
 * user or password). Errors: EINVAL (no endpoint, too many, an endpoint not http:// or
 * https://, a user without password_file, an empty password), the password file's
 * (ENOENT, EACCES, ELOOP, EFBIG over ETCD_PASSWORD_MAX ...), ENOMEM. */
int	etcd_open(const struct etcd_opts *o, struct etcd **out, struct cs_err *e)
	    CS_NONNULL(1, 2) CS_WUR;
void	etcd_close(struct etcd *c);			/* NULL is fine; wipes the password */

/* The endpoint the client is using now (one of opts.endpoints); for messages and
 * status. Valid until etcd_close. */
const char *etcd_endpoint(const struct etcd *c) CS_NONNULL(1);

struct etcd_kv {
	char	*key;			/* NUL-terminated; a key holding NUL is refused */
	unsigned char *value;		/* len bytes, NUL-terminated (not counted) */
	size_t	len;
	int64_t	create_revision, mod_revision, version;
};

struct etcd_range {
	struct etcd_kv *kvs;		/* n entries, sorted by key (etcd's order) */
	size_t	n;
	int64_t	revision;		/* the store's revision the answer was read at */
};

/* Reads key, or with prefix every key starting with key, at the latest revision
 * (linearizable: etcd confirms with a quorum). *out is filled (n = 0 when nothing
 * matches) and its memory is freed with etcd_range_free(), also after an error.
 * Errors: every ETCD_E* code of a request; EINVAL for an empty key. */
int	etcd_get(struct etcd *c, const char *key, int prefix, struct etcd_range *out,
	    struct cs_err *e) CS_NONNULL(1, 2, 4) CS_WUR;
/* The same at a past revision rev (> 0); ETCD_ECOMPACTED when it was compacted. */
int	etcd_get_rev(struct etcd *c, const char *key, int prefix, int64_t rev,
	    struct etcd_range *out, struct cs_err *e) CS_NONNULL(1, 2, 5) CS_WUR;
void	etcd_range_free(struct etcd_range *r);		/* NULL is fine; zeroes *r */

/* Writes value (len bytes, any bytes) at key. *revision (may be NULL) is the store's
 * revision after the write. Errors: every ETCD_E* code of a request. */
int	etcd_put(struct etcd *c, const char *key, const void *value, size_t len,
	    int64_t *revision, struct cs_err *e) CS_NONNULL(1, 2) CS_WUR;

enum etcd_op_type { ETCD_OP_PUT = 1, ETCD_OP_DELETE = 2 };

struct etcd_op {
	enum etcd_op_type type;
	const char *key;
	const void *value;		/* PUT: len bytes */
	size_t	len;
	int	prefix;			/* DELETE: every key starting with key */
};

/* One transaction: if cmp_key's mod_revision equals cmp_rev (0: the key does not
 * exist), the nops ops are applied at once, else none is. cmp_key NULL applies them
 * unconditionally. *succeeded says which happened; *revision (may be NULL) is the
 * store's revision after the transaction (unchanged when it failed). Losing the compare
 * is not an error: it returns 0 with *succeeded = 0. etcd allows --max-txn-ops (128) ops.
 * Errors: every ETCD_E* code of a request, ETCD_ETOOMANYOPS, EINVAL (nops 0, an op of
 * unknown type). */
int	etcd_txn(struct etcd *c, const char *cmp_key, int64_t cmp_rev,
	    const struct etcd_op *ops, size_t nops, int *succeeded, int64_t *revision,
	    struct cs_err *e) CS_NONNULL(1, 4, 6) CS_WUR;

/* 0 when some endpoint answers and has a leader (tried in turn, from the current one),
 * else -1 with the last endpoint's error (ETCD_EUNREACHABLE, ETCD_ETIMEDOUT,
 * ETCD_ENOLEADER, ...). */
int	etcd_reachable(struct etcd *c, struct cs_err *e) CS_NONNULL(1) CS_WUR;

enum etcd_event_type {
	ETCD_EV_PUT = 1,	/* kv was written */
	ETCD_EV_DELETE,		/* kv->key was deleted (value empty) */
	ETCD_EV_SYNCED,		/* the watch is live on an endpoint that has a leader. When
				 * the watch is created: revision is the store's revision
				 * then, and changes up to it not delivered yet follow at
				 * once. On a progress notification (etcd sends one every
				 * --experimental-watch-progress-notify-interval, 10 min by
				 * default): every change up to revision was delivered. */
	ETCD_EV_LOST,		/* the stream to an endpoint ended; err says why; the watch
				 * goes on with the next endpoint after a backoff, from the
				 * last revision delivered + 1 */
	ETCD_EV_TICK,		/* about once a second while waiting: lets fn stop the
				 * watch, or call the other etcd_* functions */
};

struct etcd_event {
	enum etcd_event_type type;
	const struct etcd_kv *kv;	/* PUT, DELETE; valid during the call only */
	int64_t	revision;		/* PUT, DELETE: kv's mod_revision; SYNCED: see above;
					 * LOST, TICK: the last revision delivered */
	const struct cs_err *err;	/* LOST: why; else NULL */
};

/* Watches every key starting with prefix from revision start_rev (> 0; the revision
 * after the last one the caller has seen) and calls fn for each event, in revision order,
 * each change once even across reconnects (a change at a revision already delivered is
 * skipped). Blocks until fn returns non-zero (then returns 0) or a fatal error (returns
 * -1, e set).
 *
 * Fatal: ETCD_ECOMPACTED (the revisions from start_rev, or from where a reconnect
 * resumed, were compacted; then *compact_rev, which may be NULL, is the oldest revision
 * still kept, and the caller re-reads everything with etcd_get, then watches from its
 * revision + 1); ETCD_EAUTH, ETCD_EPERM (also when etcd cancels the watch for them);
 * ETCD_ETOOBIG (one message over max_response); ETCD_EPROTO (a message that is not
 * what etcd sends: nothing after it can be trusted); ENOMEM.
 *
 * Anything else (an endpoint down or reset, no leader, a cancelled watch, an expired
 * token, which is renewed) is reported with ETCD_EV_LOST and retried on the next
 * endpoint, backing off from 100 ms doubling to 5 s (back to 100 ms after a watch was
 * created), for as long as fn lets it. A stream silent for 10 s has its endpoint asked
 * (maintenance status with hasleader, on the other connection) every 10 s; a member
 * that does not answer or has no leader ends the stream (ETCD_EV_LOST), so a member
 * that is stopped (SIGSTOP) but keeps its TCP connections is left too.
 *
 * fn runs on the calling thread, inside libcurl's callbacks: it may call the other
 * etcd_* functions on the same client, but not etcd_watch or etcd_close. */
/* A flag (a signal handler sets it) that ends etcd_watch as if fn had stopped it: read
 * by the watch's progress callback, which libcurl calls at once when a signal
 * interrupts its wait, and every 100 ms of a backoff. NULL: none. */
void	etcd_set_stop(struct etcd *c, volatile sig_atomic_t *stop) CS_NONNULL(1);
int	etcd_watch(struct etcd *c, const char *prefix, int64_t start_rev,
	    int (*fn)(void *arg, const struct etcd_event *ev), void *arg,
	    int64_t *compact_rev, struct cs_err *e) CS_NONNULL(1, 2, 4) CS_WUR;

#endif
