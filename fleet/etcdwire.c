/* fleet/etcdwire.c - the JSON of etcd's gateway: request bodies and answer parsers.
 *
 * Every answer is hostile until parsed: each field is checked for its JSON type and
 * range, base64 is checked against the alphabet before libsodium decodes it (crypto/b64.h
 * says why), and text from etcd reaches a message only through cs_show(). Nothing here
 * allocates more than a small multiple of the answer it was given, and the answer is
 * bounded by the caller (max_response). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "../crypto/b64.h"
#include "etcdwire.h"

#define SHOW(s, n, buf)	cs_show((s), (n), CS_SHOW_MAX, (buf), sizeof (buf))

int
etcdwire_classify(const struct etcdwire_error *we)
{
	const char *m = we->msg;

	switch (we->grpc) {
	case GRPC_UNAUTHENTICATED:
		/* "invalid auth token", "auth token expired" (etcd's ErrGRPCInvalidAuthToken,
		 * ErrGRPCAuthOldRevision): a new token fixes it. */
		return 0;
	case GRPC_PERMISSION_DENIED:
		return ETCD_EPERM;
	case GRPC_OUT_OF_RANGE:
		if (strstr(m, "compacted"))
			return ETCD_ECOMPACTED;
		return ETCD_ESERVER;
	case GRPC_RESOURCE_EXHAUSTED:
		return ETCD_EREQTOOBIG;
	case GRPC_DEADLINE_EXCEEDED:
		return ETCD_ETIMEDOUT;
	case GRPC_FAILED_PRECONDITION:
		if (strstr(m, "auth revision is old"))
			return 0;
		return ETCD_ESERVER;
	case GRPC_INVALID_ARGUMENT:
		if (strstr(m, "authentication failed") || strstr(m, "user name is empty") ||
		    strstr(m, "user name not found"))
			return ETCD_EAUTH;
		if (strstr(m, "request is too large"))
			return ETCD_EREQTOOBIG;
		if (strstr(m, "too many operations"))
			return ETCD_ETOOMANYOPS;
		return ETCD_ESERVER;
	case GRPC_UNAVAILABLE:
		if (strstr(m, "no leader"))
			return ETCD_ENOLEADER;
		if (strstr(m, "request timed out"))
			return ETCD_ETIMEDOUT;
		return ETCD_EUNREACHABLE;
	default:
		return ETCD_ESERVER;
	}
}

int
etcdwire_not_applied(const struct etcdwire_error *we)
{
	int c = etcdwire_classify(we);

	/* Refused by the interceptors or the auth store before any proposal: no leader
	 * (hasleader), not capable, bad or old token. A timeout or "leader changed" may
	 * have been applied, so it is not here. */
	if (c == 0 || c == ETCD_ENOLEADER || c == ETCD_EAUTH || c == ETCD_EPERM)
		return 1;
	return we->grpc == GRPC_UNAVAILABLE && strstr(we->msg, "not capable") != NULL;
}

static void
set_msg(struct etcdwire_error *out, const char *s, size_t n)
{
	cs_show(s, n, sizeof out->msg / 4 - 4, out->msg, sizeof out->msg);
}

void
etcdwire_parse_cancel(const char *reason, struct etcdwire_error *out)
{
	static const struct { const char *name; int code; } names[] = {
		{ "InvalidArgument", GRPC_INVALID_ARGUMENT },
		{ "DeadlineExceeded", GRPC_DEADLINE_EXCEEDED },
		{ "PermissionDenied", GRPC_PERMISSION_DENIED },
		{ "ResourceExhausted", GRPC_RESOURCE_EXHAUSTED },
		{ "FailedPrecondition", GRPC_FAILED_PRECONDITION },
		{ "OutOfRange", GRPC_OUT_OF_RANGE },
		{ "Unavailable", GRPC_UNAVAILABLE },
		{ "Unauthenticated", GRPC_UNAUTHENTICATED },
	};
	const char *p = strstr(reason, "code = "), *d;
	size_t i, n;

	memset(out, 0, sizeof *out);
	if (p != NULL) {
		p += 7;
		n = strcspn(p, " ");
		for (i = 0; i < sizeof names / sizeof names[0]; i++)
			if (strlen(names[i].name) == n && strncmp(p, names[i].name, n) == 0)
				out->grpc = names[i].code;
	}
	d = strstr(reason, "desc = ");
	d = out->grpc != 0 && d != NULL ? d + 7 : reason;
	set_msg(out, d, strlen(d));
}

/* The code and message of an error object: a unary answer's body, or the object under
 * "error" in a stream ("grpc_code" in etcd 3.4, "code" in 3.5 and later). */
static void
error_fields(json_t *o, struct etcdwire_error *out)
{
	json_t *c = json_object_get(o, "code"), *m = json_object_get(o, "message");

	if (!json_is_integer(c))
		c = json_object_get(o, "grpc_code");
	if (json_is_integer(c) && json_integer_value(c) > 0 && json_integer_value(c) < 64)
		out->grpc = (int)json_integer_value(c);
	if (json_is_string(m))
		set_msg(out, json_string_value(m), json_string_length(m));
}

void
etcdwire_parse_error(const char *body, size_t len, long http_status,
    struct etcdwire_error *out)
{
	char shown[CS_SHOW_BUF(CS_SHOW_MAX)];
	json_t *root, *err;

	memset(out, 0, sizeof *out);
	root = body ? json_loadb(body, len, 0, NULL) : NULL;
	if (json_is_object(root)) {
		/* A watch refused before its stream started nests the error under "error"
		 * (etcd 3.4's stream error form); a short request's is at the top. */
		err = json_object_get(root, "error");
		error_fields(json_is_object(err) ? err : root, out);
	}
	json_decref(root);
	if (out->msg[0] != '\0')
		return;
	if (body != NULL && len > 0 && root == NULL)
		snprintf(out->msg, sizeof out->msg, "HTTP status %ld: %s", http_status,
		    SHOW(body, len, shown));
	else
		snprintf(out->msg, sizeof out->msg, "HTTP status %ld without an etcd error",
		    http_status);
}

char *
etcdwire_b64(const void *buf, size_t len)
{
	size_t n = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	char *s = malloc(n);

	if (s != NULL)
		sodium_bin2base64(s, n, buf, len, sodium_base64_VARIANT_ORIGINAL);
	return s;
}

void
etcdwire_prefix_end(const char *key, size_t keylen, char *out, size_t *outlen)
{
	size_t i;

	memcpy(out, key, keylen);
	for (i = keylen; i > 0; i--) {
		if ((unsigned char)out[i - 1] < 0xff) {
			out[i - 1] = (char)((unsigned char)out[i - 1] + 1);
			*outlen = i;
			return;
		}
	}
	/* Every byte 0xff: etcd's "\0" range_end means every key >= key. */
	out[0] = '\0';
	*outlen = 1;
}

/* Sets o[name] to the base64 of len bytes at buf. */
static int
set_b64(json_t *o, const char *name, const void *buf, size_t len)
{
	char *s = etcdwire_b64(buf, len);
	int rc;

	if (s == NULL)
		return -1;
	rc = json_object_set_new(o, name, json_string(s));
	free(s);
	return rc;
}

/* Sets o[name] to an int64 as etcd writes it: a decimal string. */
static int
set_i64(json_t *o, const char *name, int64_t v)
{
	char buf[24];

	snprintf(buf, sizeof buf, "%lld", (long long)v);
	return json_object_set_new(o, name, json_string(buf));
}

/* Sets key and, with prefix, range_end. */
static int
set_key(json_t *o, const char *key, int prefix)
{
	size_t n = strlen(key), endlen;
	char *end;
	int rc;

	if (set_b64(o, "key", key, n) == -1)
		return -1;
	if (!prefix)
		return 0;
	if ((end = malloc(n + 1)) == NULL)
		return -1;
	etcdwire_prefix_end(key, n, end, &endlen);
	rc = set_b64(o, "range_end", end, endlen);
	free(end);
	return rc;
}

/* The text of o, consumed; NULL with ENOMEM. */
static char *
dump(json_t *o, int ok, struct cs_err *e)
{
	char *s = ok && o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	if (s == NULL)
		cs_err_set(e, ENOMEM, "etcd: building a request: out of memory");
	return s;
}

char *
etcdwire_range_req(const char *key, int prefix, int64_t rev, int count_only,
    struct cs_err *e)
{
	json_t *o = json_object();
	int ok = o && set_key(o, key, prefix) == 0;

	if (ok && rev > 0)
		ok = set_i64(o, "revision", rev) == 0;
	if (ok && count_only)
		ok = json_object_set_new(o, "count_only", json_true()) == 0;
	return dump(o, ok, e);
}

char *
etcdwire_put_req(const char *key, const void *value, size_t len, struct cs_err *e)
{
	json_t *o = json_object();
	int ok = o && set_key(o, key, 0) == 0 && set_b64(o, "value", value ? value : "", len) == 0;

	return dump(o, ok, e);
}

char *
etcdwire_txn_req(const char *cmp_key, int64_t cmp_rev, const struct etcd_op *ops,
    size_t nops, struct cs_err *e)
{
	json_t *o = json_object(), *cmp = NULL, *succ = json_array(), *op, *req;
	size_t i;
	int ok = o && succ;

	if (ok && cmp_key != NULL) {
		/* mod_revision 0 is the absent key's: etcd compares a missing key's zero
		 * values (rpc.proto Compare). proto3 JSON leaves 0 out; etcd reads that as 0. */
		ok = (cmp = json_object()) != NULL && set_key(cmp, cmp_key, 0) == 0 &&
		    json_object_set_new(cmp, "target", json_string("MOD")) == 0 &&
		    json_object_set_new(cmp, "result", json_string("EQUAL")) == 0 &&
		    set_i64(cmp, "mod_revision", cmp_rev) == 0 &&
		    json_object_set_new(o, "compare", json_pack("[O]", cmp)) == 0;
		json_decref(cmp);
	}
	for (i = 0; ok && i < nops; i++) {
		if (ops[i].key == NULL || ops[i].key[0] == '\0') {
			json_decref(o);
			json_decref(succ);
			cs_err_set(e, EINVAL, "etcd: txn op %zu: empty key", i);
			return NULL;
		}
		ok = (op = json_object()) != NULL && (req = json_object()) != NULL;
		if (!ok) {
			json_decref(op);
			break;
		}
		if (ops[i].type == ETCD_OP_PUT) {
			ok = set_key(req, ops[i].key, 0) == 0 &&
			    set_b64(req, "value", ops[i].value ? ops[i].value : "", ops[i].len) == 0 &&
			    json_object_set_new(op, "request_put", req) == 0;
		} else if (ops[i].type == ETCD_OP_DELETE) {
			ok = set_key(req, ops[i].key, ops[i].prefix) == 0 &&
			    json_object_set_new(op, "request_delete_range", req) == 0;
		} else {
			json_decref(req);
			json_decref(op);
			json_decref(o);
			json_decref(succ);
			cs_err_set(e, EINVAL, "etcd: txn op %zu: unknown type %d", i, (int)ops[i].type);
			return NULL;
		}
		ok = ok && json_array_append_new(succ, op) == 0;
	}
	if (ok)
		ok = json_object_set_new(o, "success", succ) == 0;
	else
		json_decref(succ);
	return dump(o, ok, e);
}

char *
etcdwire_watch_req(const char *prefix, int64_t start_rev, struct cs_err *e)
{
	json_t *o = json_object(), *c = json_object();
	int ok = o && c && set_key(c, prefix, 1) == 0 && set_i64(c, "start_revision", start_rev) == 0 &&
	    json_object_set_new(c, "progress_notify", json_true()) == 0;

	if (ok)
		ok = json_object_set_new(o, "create_request", c) == 0;
	else
		json_decref(c);
	return dump(o, ok, e);
}

/* An int64 field: a decimal string (proto3 JSON) or a JSON integer, >= 0. Absent is 0
 * (proto3 leaves defaults out). Returns -1 for any other type or text. */
static int
get_i64(json_t *o, const char *name, int64_t *out)
{
	json_t *v = json_object_get(o, name);
	const char *s;
	char *end;
	long long n;

	*out = 0;
	if (v == NULL)
		return 0;
	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0)
			return -1;
		*out = json_integer_value(v);
		return 0;
	}
	if (!json_is_string(v))
		return -1;
	s = json_string_value(v);
	if (s[0] < '0' || s[0] > '9' || json_string_length(v) > 19)
		return -1;
	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || n < 0)
		return -1;
	*out = n;
	return 0;
}

/* A bytes field decoded into a malloc'd NUL-terminated buffer; absent is empty. */
static int
get_bytes(json_t *o, const char *name, unsigned char **out, size_t *len)
{
	json_t *v = json_object_get(o, name);
	const char *s = "";
	size_t n = 0, binlen = 0;

	*out = NULL;
	*len = 0;
	if (v != NULL) {
		if (!json_is_string(v))
			return -1;
		s = json_string_value(v);
		n = json_string_length(v);
	}
	if (!b64_text_ok(s, n))
		return -1;
	if ((*out = malloc(n / 4 * 3 + 3)) == NULL)
		return -1;
	if (sodium_base642bin(*out, n / 4 * 3 + 2, s, n, NULL, &binlen, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0) {
		free(*out);
		*out = NULL;
		return -1;
	}
	(*out)[binlen] = '\0';
	*len = binlen;
	return 0;
}

static void
kv_free(struct etcd_kv *kv)
{
	free(kv->key);
	free(kv->value);
	memset(kv, 0, sizeof *kv);
}

/* One mvccpb.KeyValue. A key is required, must not be empty or hold NUL. */
static int
parse_kv(json_t *o, struct etcd_kv *kv)
{
	unsigned char *key = NULL;
	size_t klen;

	memset(kv, 0, sizeof *kv);
	if (!json_is_object(o) || get_bytes(o, "key", &key, &klen) == -1)
		return -1;
	kv->key = (char *)key;
	if (klen == 0 || memchr(key, '\0', klen) != NULL)
		goto bad;
	if (get_bytes(o, "value", &kv->value, &kv->len) == -1 ||
	    get_i64(o, "create_revision", &kv->create_revision) == -1 ||
	    get_i64(o, "mod_revision", &kv->mod_revision) == -1 ||
	    get_i64(o, "version", &kv->version) == -1)
		goto bad;
	return 0;
bad:
	kv_free(kv);
	return -1;
}

/* Parses body as a JSON object. */
static json_t *
load(const char *body, size_t len, const char *what, struct cs_err *e)
{
	json_error_t jerr;
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	char shown[CS_SHOW_BUF(CS_SHOW_MAX)];

	if (root == NULL) {
		cs_err_set(e, ETCD_EPROTO, "%s: answer is not JSON (%s)", what,
		    SHOW(jerr.text, strlen(jerr.text), shown));
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		cs_err_set(e, ETCD_EPROTO, "%s: answer is not a JSON object", what);
		return NULL;
	}
	return root;
}

/* The header's revision, required (every answer of a kv request has it). */
static int
header_rev(json_t *root, int64_t *rev)
{
	json_t *h = json_object_get(root, "header");

	if (!json_is_object(h) || get_i64(h, "revision", rev) == -1 || *rev <= 0)
		return -1;
	return 0;
}

int
etcdwire_parse_range(const char *body, size_t len, const char *what, struct etcd_range *out,
    struct cs_err *e)
{
	json_t *root, *kvs, *v;
	size_t i;

	memset(out, 0, sizeof *out);
	if ((root = load(body, len, what, e)) == NULL)
		return -1;
	if (header_rev(root, &out->revision) == -1) {
		json_decref(root);
		return cs_err_set(e, ETCD_EPROTO, "%s: answer has no header revision", what);
	}
	kvs = json_object_get(root, "kvs");
	if (kvs != NULL && !json_is_array(kvs)) {
		json_decref(root);
		return cs_err_set(e, ETCD_EPROTO, "%s: kvs is not an array", what);
	}
	if (json_array_size(kvs) > 0) {
		out->kvs = calloc(json_array_size(kvs), sizeof *out->kvs);
		if (out->kvs == NULL) {
			json_decref(root);
			return cs_err_set(e, ENOMEM, "%s: out of memory", what);
		}
	}
	json_array_foreach(kvs, i, v) {
		if (parse_kv(v, &out->kvs[i]) == -1) {
			json_decref(root);
			return cs_err_set(e, ETCD_EPROTO, "%s: kvs[%zu] is not a valid key-value", what, i);
		}
		out->n = i + 1;
	}
	json_decref(root);
	return 0;
}

int
etcdwire_parse_write(const char *body, size_t len, const char *what, int64_t *revision,
    int *succeeded, struct cs_err *e)
{
	json_t *root, *s;
	int64_t rev;

	if ((root = load(body, len, what, e)) == NULL)
		return -1;
	s = json_object_get(root, "succeeded");
	if (header_rev(root, &rev) == -1 || (s != NULL && !json_is_boolean(s))) {
		json_decref(root);
		return cs_err_set(e, ETCD_EPROTO, "%s: answer has no header revision", what);
	}
	if (revision)
		*revision = rev;
	if (succeeded)
		*succeeded = json_is_true(s);
	json_decref(root);
	return 0;
}

int
etcdwire_parse_token(const char *body, size_t len, const char *what, char **token,
    struct cs_err *e)
{
	json_t *root, *t;
	const char *s;
	size_t i, n;

	*token = NULL;
	if ((root = load(body, len, what, e)) == NULL)
		return -1;
	t = json_object_get(root, "token");
	/* The token goes into an HTTP header: printable ASCII only, no CR/LF smuggling. */
	s = json_is_string(t) ? json_string_value(t) : "";
	n = json_is_string(t) ? json_string_length(t) : 0;
	for (i = 0; i < n && s[i] > ' ' && s[i] < 0x7f; i++)
		;
	if (n == 0 || i < n || n > 4096) {
		json_decref(root);
		return cs_err_set(e, ETCD_EPROTO, "%s: answer holds no usable token", what);
	}
	*token = strdup(s);
	json_decref(root);
	if (*token == NULL)
		return cs_err_set(e, ENOMEM, "%s: out of memory", what);
	return 0;
}

int
etcdwire_parse_status(const char *body, size_t len, const char *what, int *leader,
    struct cs_err *e)
{
	json_t *root;
	int64_t id;

	if ((root = load(body, len, what, e)) == NULL)
		return -1;
	if (get_i64(root, "leader", &id) == -1) {
		/* Member ids are uint64: one above INT64_MAX is still a leader. */
		json_t *v = json_object_get(root, "leader");
		if (!json_is_string(v) || strspn(json_string_value(v), "0123456789") !=
		    json_string_length(v) || json_string_length(v) == 0) {
			json_decref(root);
			return cs_err_set(e, ETCD_EPROTO, "%s: leader is not a member id", what);
		}
		id = 1;
	}
	*leader = id != 0;
	json_decref(root);
	return 0;
}

void
etcdwire_watch_free(struct etcdwire_watch *w)
{
	size_t i;

	if (w == NULL)
		return;
	for (i = 0; i < w->nev; i++)
		kv_free(&w->kvs[i]);
	free(w->kvs);
	free(w->types);
	memset(w, 0, sizeof *w);
}

static int
flag(json_t *o, const char *name, int *out)
{
	json_t *v = json_object_get(o, name);

	if (v != NULL && !json_is_boolean(v))
		return -1;
	*out = json_is_true(v);
	return 0;
}

int
etcdwire_parse_watch(const char *msg, size_t len, const char *what,
    struct etcdwire_watch *out, struct cs_err *e)
{
	json_t *root, *r, *err, *evs, *ev, *t, *reason;
	size_t i;

	memset(out, 0, sizeof *out);
	if ((root = load(msg, len, what, e)) == NULL)
		return -1;
	if ((err = json_object_get(root, "error")) != NULL) {
		out->is_error = 1;
		if (json_is_object(err))
			error_fields(err, &out->err);
		if (out->err.msg[0] == '\0')
			snprintf(out->err.msg, sizeof out->err.msg, "stream error without a message");
		json_decref(root);
		return 0;
	}
	r = json_object_get(root, "result");
	if (!json_is_object(r))
		goto bad;
	if (flag(r, "created", &out->created) == -1 || flag(r, "canceled", &out->canceled) == -1 ||
	    get_i64(r, "compact_revision", &out->compact_rev) == -1)
		goto bad;
	if (json_object_get(r, "header") != NULL && header_rev(r, &out->header_rev) == -1 &&
	    !out->canceled)
		goto bad;
	reason = json_object_get(r, "cancel_reason");
	if (json_is_string(reason))
		cs_show(json_string_value(reason), json_string_length(reason),
		    sizeof out->cancel_reason / 4 - 4, out->cancel_reason, sizeof out->cancel_reason);
	evs = json_object_get(r, "events");
	if (evs != NULL && !json_is_array(evs))
		goto bad;
	if (json_array_size(evs) > 0) {
		out->kvs = calloc(json_array_size(evs), sizeof *out->kvs);
		out->types = calloc(json_array_size(evs), sizeof *out->types);
		if (out->kvs == NULL || out->types == NULL) {
			json_decref(root);
			etcdwire_watch_free(out);
			return cs_err_set(e, ENOMEM, "%s: out of memory", what);
		}
	}
	json_array_foreach(evs, i, ev) {
		if (!json_is_object(ev))
			goto bad;
		/* mvccpb.Event: type PUT (0, left out) or "DELETE"; kv required. */
		t = json_object_get(ev, "type");
		if (t == NULL || (json_is_string(t) && strcmp(json_string_value(t), "PUT") == 0))
			out->types[i] = ETCD_EV_PUT;
		else if (json_is_string(t) && strcmp(json_string_value(t), "DELETE") == 0)
			out->types[i] = ETCD_EV_DELETE;
		else
			goto bad;
		if (parse_kv(json_object_get(ev, "kv"), &out->kvs[i]) == -1)
			goto bad;
		out->nev = i + 1;
		/* In revision order, each after the watch's start: anything else would break
		 * resuming from the last revision seen. */
		if (out->kvs[i].mod_revision <= 0 ||
		    (i > 0 && out->kvs[i].mod_revision < out->kvs[i - 1].mod_revision))
			goto bad;
	}
	json_decref(root);
	return 0;
bad:
	json_decref(root);
	etcdwire_watch_free(out);
	return cs_err_set(e, ETCD_EPROTO, "%s: watch message is not what etcd sends", what);
}

void
etcdwire_split_init(struct etcdwire_split *s, size_t max)
{
	memset(s, 0, sizeof *s);
	s->max = max;
}

void
etcdwire_split_free(struct etcdwire_split *s)
{
	if (s == NULL)
		return;
	free(s->buf);
	memset(s, 0, sizeof *s);
}

int
etcdwire_split_feed(struct etcdwire_split *s, const char *data, size_t n,
    int (*fn)(void *arg, const char *obj, size_t len), void *arg, const char *what,
    struct cs_err *e)
{
	size_t i, ncap;
	char c, *nb;
	int rc;

	for (i = 0; i < n; i++) {
		c = data[i];
		if (s->depth == 0) {
			if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
				continue;
			if (c != '{')
				return cs_err_set(e, ETCD_EPROTO,
				    "%s: watch stream holds a byte 0x%02x outside a JSON object",
				    what, (unsigned char)c);
			s->len = 0;
			s->in_str = s->esc = 0;
		}
		if (s->len >= s->max)
			return cs_err_set(e, ETCD_ETOOBIG,
			    "%s: watch message larger than %zu bytes (max_response)", what, s->max);
		if (s->len + 2 > s->cap) {
			ncap = s->cap ? s->cap * 2 : 4096;
			if (ncap > s->max + 1)
				ncap = s->max + 1;
			if ((nb = realloc(s->buf, ncap)) == NULL)
				return cs_err_set(e, ENOMEM, "%s: out of memory", what);
			s->buf = nb;
			s->cap = ncap;
		}
		s->buf[s->len++] = c;
		if (s->in_str) {
			if (s->esc)
				s->esc = 0;
			else if (c == '\\')
				s->esc = 1;
			else if (c == '"')
				s->in_str = 0;
			continue;
		}
		if (c == '"')
			s->in_str = 1;
		else if (c == '{' || c == '[')
			s->depth++;
		else if ((c == '}' || c == ']') && --s->depth == 0) {
			s->buf[s->len] = '\0';
			rc = fn(arg, s->buf, s->len);
			s->len = 0;
			if (rc != 0)
				return rc;
		}
	}
	return 0;
}
