/* fleet/etcdwire.h - the JSON of etcd's gateway: requests out, answers in.
 *
 * The half of the etcd client that touches no network, so that every answer etcd could
 * send (or a hostile engine could) is parsed by code a unit test drives with fixed
 * strings (tests/test_etcd.c). Only fleet/etcd.c and that test include it.
 *
 * The format is the proto3 JSON mapping of etcd's api/etcdserverpb/rpc.proto as the
 * grpc-gateway writes it: bytes fields (key, value, range_end) are standard base64,
 * int64 fields are decimal strings (plain numbers are accepted too), fields holding
 * their default value (0, false, empty) are left out. An error answer has a non-200 HTTP
 * status and a body {"code": <gRPC code>, "message": "..."} (the gateway's "error" string
 * beside them is not read: etcd 3.6 dropped it). In a watch stream, an error after the
 * stream started is one object {"error": {"grpc_code" (3.4) or "code" (3.5+): N,
 * "message": "..."}}. */
#ifndef CS_FLEET_ETCDWIRE_H
#define CS_FLEET_ETCDWIRE_H

#include <stddef.h>
#include <stdint.h>

#include "../crypto/attr.h"
#include "../crypto/err.h"
#include "etcd.h"

/* gRPC status codes etcd answers with (grpc/codes). */
#define GRPC_INVALID_ARGUMENT	3
#define GRPC_DEADLINE_EXCEEDED	4
#define GRPC_PERMISSION_DENIED	7
#define GRPC_RESOURCE_EXHAUSTED	8
#define GRPC_FAILED_PRECONDITION 9
#define GRPC_OUT_OF_RANGE	11
#define GRPC_UNAVAILABLE	14
#define GRPC_UNAUTHENTICATED	16

#define ETCDWIRE_MSG_MAX	400	/* bytes of etcd's error message kept, with NUL */

/* An error etcd answered with. */
struct etcdwire_error {
	int	grpc;			/* gRPC code; 0 when the body named none */
	char	msg[ETCDWIRE_MSG_MAX];	/* etcd's message, made printable (cs_show) */
};

/* What an answer's gRPC error means to the client, from code and message: one of the
 * ETCD_E* codes, or 0 for "the token is invalid or expired: authenticate again". */
int	etcdwire_classify(const struct etcdwire_error *we);
/* 1 when etcd surely did not apply a write that got this error (no leader, not yet
 * authenticated, refused before the proposal), so it may be sent again elsewhere. */
int	etcdwire_not_applied(const struct etcdwire_error *we);

/* A watch's cancel_reason, "rpc error: code = PermissionDenied desc = etcdserver:
 * permission denied" (a gRPC status as Go prints it), as code and message; a reason in
 * another shape gives grpc 0 and the whole text. */
void	etcdwire_parse_cancel(const char *reason, struct etcdwire_error *out) CS_NONNULL(1, 2);
/* Reads an error body (len bytes, need not be NUL-terminated). Never fails: a body that
 * is not JSON or has no code gives grpc 0 and a message made from the HTTP status. */
void	etcdwire_parse_error(const char *body, size_t len, long http_status,
	    struct etcdwire_error *out) CS_NONNULL(4);

/* Base64 (standard alphabet, padded) of len bytes, malloc'd, NUL-terminated; NULL when
 * out of memory. */
char	*etcdwire_b64(const void *buf, size_t len) CS_WUR;
/* The range_end that makes [key, end) every key starting with key: key with its last
 * byte below 0xff incremented and what follows dropped; "\0" (all keys) when key is
 * all 0xff bytes. Into out (keylen + 1 bytes), *outlen set. */
void	etcdwire_prefix_end(const char *key, size_t keylen, char *out, size_t *outlen)
	    CS_NONNULL(1, 3, 4);

/* Request bodies, malloc'd JSON text (free()), or NULL with e set (ENOMEM, EINVAL). */
char	*etcdwire_range_req(const char *key, int prefix, int64_t rev, int count_only,
	    struct cs_err *e) CS_NONNULL(1) CS_WUR;
char	*etcdwire_put_req(const char *key, const void *value, size_t len, struct cs_err *e)
	    CS_NONNULL(1) CS_WUR;
char	*etcdwire_txn_req(const char *cmp_key, int64_t cmp_rev, const struct etcd_op *ops,
	    size_t nops, struct cs_err *e) CS_NONNULL(3) CS_WUR;
char	*etcdwire_watch_req(const char *prefix, int64_t start_rev, struct cs_err *e)
	    CS_NONNULL(1) CS_WUR;

/* Parses a range answer into *out (freed with etcd_range_free, also after an error).
 * what names the request in errors ("https://...: range /k"). EBADMSG (ETCD_EPROTO)
 * for anything but the expected shape: not JSON, a missing header revision, a kv
 * without key, bad base64, a key holding NUL, a negative revision. */
int	etcdwire_parse_range(const char *body, size_t len, const char *what,
	    struct etcd_range *out, struct cs_err *e) CS_NONNULL(1, 3, 4) CS_WUR;
/* Parses a put or txn answer: the header revision into *revision (may be NULL), and
 * txn's "succeeded" into *succeeded (may be NULL). */
int	etcdwire_parse_write(const char *body, size_t len, const char *what,
	    int64_t *revision, int *succeeded, struct cs_err *e) CS_NONNULL(1, 3) CS_WUR;
/* Parses an authenticate answer: the token, malloc'd (free() after wiping). */
int	etcdwire_parse_token(const char *body, size_t len, const char *what, char **token,
	    struct cs_err *e) CS_NONNULL(1, 3, 4) CS_WUR;
/* Parses a maintenance status answer: *leader is 1 when it names a leader. */
int	etcdwire_parse_status(const char *body, size_t len, const char *what, int *leader,
	    struct cs_err *e) CS_NONNULL(1, 3, 4) CS_WUR;

/* One message of a watch stream, parsed. */
struct etcdwire_watch {
	int	is_error;		/* {"error": {...}}: err is set, nothing else */
	struct etcdwire_error err;
	int	created, canceled;
	int64_t	header_rev;		/* 0 when absent */
	int64_t	compact_rev;		/* > 0: the start revision was compacted */
	char	cancel_reason[ETCDWIRE_MSG_MAX];
	struct etcd_kv *kvs;		/* nev events, in order */
	enum etcd_event_type *types;
	size_t	nev;
};
int	etcdwire_parse_watch(const char *msg, size_t len, const char *what,
	    struct etcdwire_watch *out, struct cs_err *e) CS_NONNULL(1, 3, 4) CS_WUR;
void	etcdwire_watch_free(struct etcdwire_watch *w);	/* NULL is fine; zeroes *w */

/* Splits a byte stream into top-level JSON objects, whatever separates them (the
 * gateway writes one object then "\n"; nothing is assumed about chunk boundaries). It
 * tracks strings and escapes, so a brace inside a string does not count. An object
 * longer than max bytes, or a byte outside an object other than white space, is an
 * error: the stream cannot be trusted any further. */
struct etcdwire_split {
	char	*buf;			/* the object being read; malloc'd */
	size_t	len, cap, max;
	int	depth, in_str, esc;
};
void	etcdwire_split_init(struct etcdwire_split *s, size_t max) CS_NONNULL(1);
void	etcdwire_split_free(struct etcdwire_split *s);	/* NULL is fine */
/* Feeds n bytes; calls fn(arg, obj, objlen) for each complete object (obj is
 * NUL-terminated, valid during the call). Returns 0; -1 with e set: ETCD_ETOOBIG (an
 * object over max), ETCD_EPROTO (a stray byte), ENOMEM; or fn's non-zero return, which
 * stops the feed at once. */
int	etcdwire_split_feed(struct etcdwire_split *s, const char *data, size_t n,
	    int (*fn)(void *arg, const char *obj, size_t len), void *arg, const char *what,
	    struct cs_err *e) CS_NONNULL(1, 4, 6) CS_WUR;

#endif
