/* tests/test_etcd.c - the etcd gateway's JSON as fleet/etcdwire.c reads and writes it:
 * answers copied from etcd 3.4.23 (the shapes tests/integration/etcd_client.sh meets),
 * then garbage, truncated, huge and half-formed ones, as a hostile engine could send. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "../fleet/etcdwire.h"

#define S(lit)	(lit), strlen(lit)	/* a literal and its length */
#define HDR	"\"header\":{\"cluster_id\":\"10515281917473656589\",\"member_id\":" \
		"\"7442712883119882883\",\"revision\":\"5\",\"raft_term\":\"2\"}"

/* --- errors --- */

static void
test_error_bodies_give_code_and_message_never_the_error_field(void **state)
{
	struct etcdwire_error we;
	static const char perm[] = "{\"error\":\"etcdserver: permission denied\","
	    "\"message\":\"etcdserver: permission denied\",\"code\":7}";
	/* 3.6 has no "error"; a lying "error" must not be what we read. */
	static const char v36[] = "{\"error\":\"all fine\",\"code\":14,"
	    "\"message\":\"etcdserver: no leader\"}";
	static const char stream[] = "{\"error\":{\"grpc_code\":14,\"http_code\":503,"
	    "\"message\":\"etcdserver: no leader\",\"http_status\":\"Service Unavailable\"}}";

	(void)state;
	etcdwire_parse_error(perm, sizeof perm - 1, 403, &we);
	assert_int_equal(we.grpc, 7);
	assert_string_equal(we.msg, "etcdserver: permission denied");
	assert_int_equal(etcdwire_classify(&we), ETCD_EPERM);
	etcdwire_parse_error(v36, sizeof v36 - 1, 503, &we);
	assert_int_equal(etcdwire_classify(&we), ETCD_ENOLEADER);
	assert_string_equal(we.msg, "etcdserver: no leader");
	etcdwire_parse_error(stream, sizeof stream - 1, 503, &we);
	assert_int_equal(we.grpc, 14);
	assert_int_equal(etcdwire_classify(&we), ETCD_ENOLEADER);
}

static void
test_error_bodies_that_are_not_json_are_shown_escaped(void **state)
{
	struct etcdwire_error we;
	static const char text[] = "CommonName of client sending a request against gateway "
	    "will be ignored\n\x1b[31m";

	(void)state;
	etcdwire_parse_error(text, sizeof text - 1, 400, &we);
	assert_int_equal(we.grpc, 0);
	assert_non_null(strstr(we.msg, "HTTP status 400: CommonName of client"));
	assert_null(strchr(we.msg, '\x1b'));
	assert_null(strchr(we.msg, '\n'));
	assert_int_equal(etcdwire_classify(&we), ETCD_ESERVER);
	etcdwire_parse_error(NULL, 0, 502, &we);
	assert_string_equal(we.msg, "HTTP status 502 without an etcd error");
	etcdwire_parse_error("{\"code\":\"7\"}", 12, 500, &we);
	assert_int_equal(we.grpc, 0);
}

static void
test_classify_maps_etcd_messages_to_named_codes(void **state)
{
	static const struct { int grpc; const char *msg; int want; int not_applied; } cases[] = {
		{ 16, "etcdserver: invalid auth token", 0, 1 },
		{ 3, "etcdserver: authentication failed, invalid user ID or password", ETCD_EAUTH, 1 },
		{ 3, "etcdserver: user name is empty", ETCD_EAUTH, 1 },
		{ 3, "etcdserver: request is too large", ETCD_EREQTOOBIG, 0 },
		{ 3, "etcdserver: too many operations in txn request", ETCD_ETOOMANYOPS, 0 },
		{ 11, "mvcc: required revision has been compacted", ETCD_ECOMPACTED, 0 },
		{ 11, "mvcc: required revision is a future revision", ETCD_ESERVER, 0 },
		{ 14, "etcdserver: no leader", ETCD_ENOLEADER, 1 },
		{ 14, "etcdserver: request timed out", ETCD_ETIMEDOUT, 0 },
		{ 14, "etcdserver: not capable", ETCD_EUNREACHABLE, 1 },
		{ 14, "etcdserver: leader changed", ETCD_EUNREACHABLE, 0 },
		{ 8, "grpc: received message larger than max", ETCD_EREQTOOBIG, 0 },
		{ 9, "etcdserver: auth revision is old", 0, 1 },
		{ 2, "anything", ETCD_ESERVER, 0 },
	};
	struct etcdwire_error we;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		memset(&we, 0, sizeof we);
		we.grpc = cases[i].grpc;
		snprintf(we.msg, sizeof we.msg, "%s", cases[i].msg);
		assert_int_equal(etcdwire_classify(&we), cases[i].want);
		assert_int_equal(etcdwire_not_applied(&we), cases[i].not_applied);
	}
}

static void
test_cancel_reasons_in_go_status_form(void **state)
{
	struct etcdwire_error we;

	(void)state;
	etcdwire_parse_cancel("rpc error: code = PermissionDenied desc = etcdserver: "
	    "permission denied", &we);
	assert_int_equal(we.grpc, 7);
	assert_string_equal(we.msg, "etcdserver: permission denied");
	etcdwire_parse_cancel("rpc error: code = Unauthenticated desc = etcdserver: invalid "
	    "auth token", &we);
	assert_int_equal(etcdwire_classify(&we), 0);
	etcdwire_parse_cancel("something else", &we);
	assert_int_equal(we.grpc, 0);
	assert_string_equal(we.msg, "something else");
	etcdwire_parse_cancel("code = Bogus desc = x", &we);
	assert_int_equal(we.grpc, 0);
}

/* --- requests --- */

static void
test_prefix_end_increments_the_last_byte_below_0xff(void **state)
{
	char out[8];
	size_t n;

	(void)state;
	etcdwire_prefix_end("/a/", 3, out, &n);
	assert_int_equal(n, 3);
	assert_memory_equal(out, "/a0", 3);
	etcdwire_prefix_end("a\xff\xff", 3, out, &n);
	assert_int_equal(n, 1);
	assert_memory_equal(out, "b", 1);
	etcdwire_prefix_end("\xff\xff", 2, out, &n);
	assert_int_equal(n, 1);
	assert_int_equal(out[0], '\0');
}

/* The base64 field name of a request body, decoded. */
static void
field_is(const char *body, const char *path, const void *want, size_t wantlen)
{
	json_t *root = json_loads(body, 0, NULL), *v;
	unsigned char buf[256];
	size_t n = 0;
	char copy[64], *tok, *save = NULL;

	assert_non_null(root);
	snprintf(copy, sizeof copy, "%s", path);
	v = root;
	for (tok = strtok_r(copy, ".", &save); tok; tok = strtok_r(NULL, ".", &save)) {
		if (json_is_array(v))
			v = json_array_get(v, (size_t)atoi(tok));
		else
			v = json_object_get(v, tok);
	}
	assert_true(json_is_string(v));
	assert_int_equal(sodium_base642bin(buf, sizeof buf, json_string_value(v),
	    json_string_length(v), NULL, &n, NULL, sodium_base64_VARIANT_ORIGINAL), 0);
	assert_int_equal(n, wantlen);
	assert_memory_equal(buf, want, wantlen);
	json_decref(root);
}

static void
test_request_bodies_carry_base64_keys_and_string_revisions(void **state)
{
	struct cs_err e = {0};
	struct etcd_op ops[2] = {
		{ ETCD_OP_PUT, "/f/m", "\x00\x01\xff", 3, 0 },
		{ ETCD_OP_DELETE, "/f/old/", NULL, 0, 1 },
	};
	char *b;

	(void)state;
	b = etcdwire_range_req("/f/", 1, 42, 0, &e);
	assert_non_null(b);
	field_is(b, "key", "/f/", 3);
	field_is(b, "range_end", "/f0", 3);
	assert_non_null(strstr(b, "\"revision\":\"42\""));
	free(b);
	b = etcdwire_put_req("/k", "v\0x", 3, &e);
	field_is(b, "value", "v\0x", 3);
	free(b);
	b = etcdwire_txn_req("/f/m", 0, ops, 2, &e);
	assert_non_null(b);
	field_is(b, "compare.0.key", "/f/m", 4);
	assert_non_null(strstr(b, "\"target\":\"MOD\""));
	assert_non_null(strstr(b, "\"mod_revision\":\"0\""));
	field_is(b, "success.0.request_put.value", "\x00\x01\xff", 3);
	field_is(b, "success.1.request_delete_range.range_end", "/f/old0", 7);
	free(b);
	ops[1].type = 9;
	assert_null(etcdwire_txn_req(NULL, 0, ops, 2, &e));
	assert_int_equal(e.code, EINVAL);
	b = etcdwire_watch_req("/f/", 7, &e);
	assert_non_null(strstr(b, "\"start_revision\":\"7\""));
	assert_non_null(strstr(b, "\"progress_notify\":true"));
	free(b);
}

/* --- answers --- */

static void
test_range_answer_from_etcd_is_read(void **state)
{
	static const char body[] = "{" HDR ",\"kvs\":[{\"key\":\"L2ZsZWV0L3g=\","
	    "\"create_revision\":\"3\",\"mod_revision\":\"5\",\"version\":\"3\","
	    "\"value\":\"eA==\"},{\"key\":\"L2ZsZWV0L3k=\",\"create_revision\":\"4\","
	    "\"mod_revision\":\"4\",\"version\":\"1\"}],\"count\":\"2\"}";
	struct etcd_range r;
	struct cs_err e = {0};

	(void)state;
	assert_int_equal(etcdwire_parse_range(body, sizeof body - 1, "t", &r, &e), 0);
	assert_int_equal(r.revision, 5);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.kvs[0].key, "/fleet/x");
	assert_int_equal(r.kvs[0].len, 1);
	assert_memory_equal(r.kvs[0].value, "x", 1);
	assert_int_equal(r.kvs[0].mod_revision, 5);
	assert_int_equal(r.kvs[0].version, 3);
	/* An empty value is left out by proto3 JSON: empty, not an error. */
	assert_int_equal(r.kvs[1].len, 0);
	assert_int_equal(r.kvs[1].value[0], '\0');
	etcd_range_free(&r);
	assert_int_equal(etcdwire_parse_range("{" HDR "}", sizeof HDR + 1, "t", &r, &e), 0);
	assert_int_equal(r.n, 0);
	etcd_range_free(&r);
}

static void
test_hostile_range_answers_are_refused_by_name(void **state)
{
	static const char *bad[] = {
		"",
		"garbage",
		"{" HDR ",\"kvs\":[{\"key\":\"L2ZsZWV0L3g=\"",	/* truncated */
		"[1,2]",
		"{\"kvs\":[]}",					/* no header */
		"{\"header\":{\"revision\":\"-1\"}}",
		"{\"header\":{\"revision\":\"99999999999999999999\"}}",
		"{\"header\":{\"revision\":\"12x\"}}",
		"{\"header\":{\"revision\":\" 12\"}}",
		"{\"header\":{\"revision\":true}}",
		"{" HDR ",\"kvs\":{}}",
		"{" HDR ",\"kvs\":[{}]}",			/* no key */
		"{" HDR ",\"kvs\":[{\"key\":\"\"}]}",		/* empty key */
		"{" HDR ",\"kvs\":[{\"key\":\"YQBi\"}]}",	/* "a\0b" */
		"{" HDR ",\"kvs\":[{\"key\":\"L2E=\",\"value\":\"\xc3\xa9\xc3\xa9\"}]}",
		"{" HDR ",\"kvs\":[{\"key\":\"L2E=\",\"value\":\"eA=\"}]}",
		"{" HDR ",\"kvs\":[{\"key\":\"L2E=\",\"value\":7}]}",
		"{" HDR ",\"kvs\":[{\"key\":\"L2E=\",\"mod_revision\":\"-3\"}]}",
		"{" HDR ",\"kvs\":[{\"key\":\"L2E=\"}],\"kvs\":[]}",	/* duplicate */
		"{" HDR ",\"kvs\":[{\"key\":\"L2E=\"},7]}",
	};
	struct etcd_range r;
	struct cs_err e;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memset(&e, 0, sizeof e);
		assert_int_equal(etcdwire_parse_range(bad[i], strlen(bad[i]), "etcd E: range /k",
		    &r, &e), -1);
		assert_int_equal(e.code, ETCD_EPROTO);
		assert_non_null(strstr(e.msg, "etcd E: range /k: "));
		etcd_range_free(&r);
		assert_null(r.kvs);
	}
}

static void
test_write_token_and_status_answers(void **state)
{
	struct cs_err e = {0};
	int64_t rev = 0;
	int won = -1, leader = -1;
	char *tok = NULL;

	(void)state;
	assert_int_equal(etcdwire_parse_write(S("{" HDR ",\"succeeded\":true}"),
	    "t", &rev, &won, &e), 0);
	assert_int_equal(rev, 5);
	assert_int_equal(won, 1);
	/* A lost compare: "succeeded" is false, so proto3 JSON leaves it out. */
	assert_int_equal(etcdwire_parse_write(S("{" HDR "}"), "t", &rev, &won, &e), 0);
	assert_int_equal(won, 0);
	assert_int_equal(etcdwire_parse_write(S("{" HDR ",\"succeeded\":\"yes\"}"),
	    "t", &rev, &won, &e), -1);
	assert_int_equal(etcdwire_parse_token(S("{" HDR ",\"token\":\"UOLZGfSljlpKDHgZ.25\"}"),
	    "t", &tok, &e), 0);
	assert_string_equal(tok, "UOLZGfSljlpKDHgZ.25");
	free(tok);
	/* A token is put in a header: no CR/LF, no blank, not empty. */
	memset(&e, 0, sizeof e);
	assert_int_equal(etcdwire_parse_token(S("{\"token\":\"a\\r\\nX-Evil: 1\"}"), "t", &tok,
	    &e), -1);
	assert_null(tok);
	assert_int_equal(e.code, ETCD_EPROTO);
	assert_int_equal(etcdwire_parse_token(S("{\"token\":\"\"}"), "t", &tok, &e), -1);
	assert_int_equal(etcdwire_parse_status(S("{" HDR ",\"leader\":\"10276657743932975437\"}"),
	    "t", &leader, &e), 0);
	assert_int_equal(leader, 1);
	assert_int_equal(etcdwire_parse_status(S("{" HDR "}"), "t", &leader, &e), 0);
	assert_int_equal(leader, 0);
	assert_int_equal(etcdwire_parse_status(S("{\"leader\":\"x1\"}"), "t", &leader, &e), -1);
}

static void
test_watch_messages_from_etcd_are_read(void **state)
{
	static const char created[] = "{\"result\":{" HDR ",\"created\":true}}";
	static const char events[] = "{\"result\":{" HDR ",\"events\":[{\"kv\":{\"key\":"
	    "\"L3cvMQ==\",\"create_revision\":\"4\",\"mod_revision\":\"4\",\"version\":\"1\","
	    "\"value\":\"djE=\"}},{\"type\":\"DELETE\",\"kv\":{\"key\":\"L3cvMg==\","
	    "\"mod_revision\":\"5\"}}]}}";
	static const char compacted[] = "{\"result\":{\"header\":{\"cluster_id\":\"1\","
	    "\"member_id\":\"2\",\"raft_term\":\"2\"},\"canceled\":true,"
	    "\"compact_revision\":\"5\"}}";
	static const char denied[] = "{\"result\":{" HDR ",\"watch_id\":\"-1\",\"created\":true,"
	    "\"canceled\":true,\"cancel_reason\":\"rpc error: code = PermissionDenied desc = "
	    "etcdserver: permission denied\"}}";
	static const char err35[] = "{\"error\":{\"code\":14,\"message\":\"etcdserver: no leader\"}}";
	struct etcdwire_watch w;
	struct cs_err e = {0};

	(void)state;
	assert_int_equal(etcdwire_parse_watch(created, sizeof created - 1, "t", &w, &e), 0);
	assert_true(w.created);
	assert_int_equal(w.header_rev, 5);
	assert_int_equal(w.nev, 0);
	etcdwire_watch_free(&w);
	assert_int_equal(etcdwire_parse_watch(events, sizeof events - 1, "t", &w, &e), 0);
	assert_int_equal(w.nev, 2);
	assert_int_equal(w.types[0], ETCD_EV_PUT);
	assert_string_equal(w.kvs[0].key, "/w/1");
	assert_memory_equal(w.kvs[0].value, "v1", 2);
	assert_int_equal(w.types[1], ETCD_EV_DELETE);
	assert_int_equal(w.kvs[1].mod_revision, 5);
	etcdwire_watch_free(&w);
	assert_int_equal(etcdwire_parse_watch(compacted, sizeof compacted - 1, "t", &w, &e), 0);
	assert_true(w.canceled);
	assert_int_equal(w.compact_rev, 5);
	etcdwire_watch_free(&w);
	assert_int_equal(etcdwire_parse_watch(denied, sizeof denied - 1, "t", &w, &e), 0);
	assert_true(w.canceled);
	assert_non_null(strstr(w.cancel_reason, "PermissionDenied"));
	etcdwire_watch_free(&w);
	assert_int_equal(etcdwire_parse_watch(err35, sizeof err35 - 1, "t", &w, &e), 0);
	assert_true(w.is_error);
	assert_int_equal(etcdwire_classify(&w.err), ETCD_ENOLEADER);
	etcdwire_watch_free(&w);
}

static void
test_hostile_watch_messages_are_refused(void **state)
{
	static const char *bad[] = {
		"{}",
		"{\"result\":7}",
		"{\"result\":{\"created\":\"yes\"}}",
		"{\"result\":{" HDR ",\"events\":{}}}",
		"{\"result\":{" HDR ",\"events\":[{}]}}",			/* no kv */
		"{\"result\":{" HDR ",\"events\":[{\"type\":\"BOOM\",\"kv\":{\"key\":\"L2E=\","
		    "\"mod_revision\":\"3\"}}]}}",
		"{\"result\":{" HDR ",\"events\":[{\"kv\":{\"key\":\"L2E=\"}}]}}",	/* rev 0 */
		/* out of revision order */
		"{\"result\":{" HDR ",\"events\":[{\"kv\":{\"key\":\"L2E=\",\"mod_revision\":\"9\"}},"
		    "{\"kv\":{\"key\":\"L2I=\",\"mod_revision\":\"8\"}}]}}",
		"{\"result\":{\"header\":{\"revision\":\"x\"}}}",
		"{\"result\":{" HDR ",\"compact_revision\":\"-4\",\"canceled\":true}}",
	};
	struct etcdwire_watch w;
	struct cs_err e;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memset(&e, 0, sizeof e);
		assert_int_equal(etcdwire_parse_watch(bad[i], strlen(bad[i]), "etcd E: watch /w/",
		    &w, &e), -1);
		assert_int_equal(e.code, ETCD_EPROTO);
		assert_non_null(strstr(e.msg, "etcd E: watch /w/: "));
		assert_null(w.kvs);
	}
}

/* --- the stream splitter --- */

struct got {
	char	objs[8][128];
	size_t	n;
	int	stop_at;
};

static int
collect(void *arg, const char *obj, size_t len)
{
	struct got *g = arg;

	assert_int_equal(strlen(obj), len);
	if (g->n < 8)
		snprintf(g->objs[g->n], sizeof g->objs[0], "%s", obj);
	g->n++;
	return g->stop_at > 0 && g->n == (size_t)g->stop_at ? 7 : 0;
}

static void
test_stream_is_split_into_objects_whatever_the_chunks(void **state)
{
	static const char stream[] = "{\"result\":{\"a\":\"}{\\\"\"}}\n"
	    "{\"result\":{\"events\":[{\"k\":\"[\"}]}}\r\n  {\"x\":1}";
	struct etcdwire_split s;
	struct cs_err e = {0};
	struct got g;
	size_t step, i;

	(void)state;
	/* Every chunk size from 1 byte to the whole stream gives the same 3 objects. */
	for (step = 1; step <= sizeof stream - 1; step++) {
		memset(&g, 0, sizeof g);
		etcdwire_split_init(&s, 1024);
		for (i = 0; i < sizeof stream - 1; i += step)
			assert_int_equal(etcdwire_split_feed(&s, stream + i, sizeof stream - 1 - i <
			    step ? sizeof stream - 1 - i : step, collect, &g, "t", &e), 0);
		etcdwire_split_free(&s);
		assert_int_equal(g.n, 3);
		assert_string_equal(g.objs[0], "{\"result\":{\"a\":\"}{\\\"\"}}");
		assert_string_equal(g.objs[1], "{\"result\":{\"events\":[{\"k\":\"[\"}]}}");
		assert_string_equal(g.objs[2], "{\"x\":1}");
	}
	/* The callback's non-zero answer stops the feed at once. */
	memset(&g, 0, sizeof g);
	g.stop_at = 1;
	etcdwire_split_init(&s, 1024);
	assert_int_equal(etcdwire_split_feed(&s, stream, sizeof stream - 1, collect, &g, "t", &e), 7);
	assert_int_equal(g.n, 1);
	etcdwire_split_free(&s);
}

static void
test_stream_garbage_outside_an_object_is_refused(void **state)
{
	struct etcdwire_split s;
	struct cs_err e = {0};
	struct got g = {0};

	(void)state;
	etcdwire_split_init(&s, 1024);
	assert_int_equal(etcdwire_split_feed(&s, "{\"a\":1}\nHTTP/1.1 200", 20, collect, &g,
	    "etcd E: watch /w/", &e), -1);
	assert_int_equal(e.code, ETCD_EPROTO);
	assert_string_equal(e.msg, "etcd E: watch /w/: watch stream holds a byte 0x48 outside "
	    "a JSON object");
	assert_int_equal(g.n, 1);
	etcdwire_split_free(&s);
}

static void
test_huge_stream_message_is_refused_within_its_bound(void **state)
{
	struct etcdwire_split s;
	struct cs_err e = {0};
	struct got g = {0};
	static char chunk[65536];
	size_t fed = 0;
	int rc = 0;

	(void)state;
	/* A 100 MB message (a hostile engine's value), fed in 64 KiB chunks: refused once
	 * past max (1 MiB), having held at most max + 1 bytes. */
	memset(chunk, 'A', sizeof chunk);
	etcdwire_split_init(&s, 1 << 20);
	assert_int_equal(etcdwire_split_feed(&s, "{\"result\":\"", 11, collect, &g, "t", &e), 0);
	while (fed < (100u << 20) && rc == 0) {
		rc = etcdwire_split_feed(&s, chunk, sizeof chunk, collect, &g, "etcd E: watch /w/",
		    &e);
		fed += sizeof chunk;
	}
	assert_int_equal(rc, -1);
	assert_int_equal(e.code, ETCD_ETOOBIG);
	assert_string_equal(e.msg, "etcd E: watch /w/: watch message larger than 1048576 bytes "
	    "(max_response)");
	assert_true(fed <= (1u << 20) + sizeof chunk);
	assert_true(s.cap <= (1u << 20) + 1);
	assert_int_equal(g.n, 0);
	etcdwire_split_free(&s);
	/* Deep nesting is only bytes to the splitter, and jansson refuses it past its depth. */
	{
		char deep[3000];
		struct etcdwire_watch w;

		memset(deep, '[', 1500);
		memset(deep + 1500, ']', 1500);
		memset(&e, 0, sizeof e);
		assert_int_equal(etcdwire_parse_watch(deep, sizeof deep, "t", &w, &e), -1);
		assert_int_equal(e.code, ETCD_EPROTO);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_bodies_give_code_and_message_never_the_error_field),
		cmocka_unit_test(test_error_bodies_that_are_not_json_are_shown_escaped),
		cmocka_unit_test(test_classify_maps_etcd_messages_to_named_codes),
		cmocka_unit_test(test_cancel_reasons_in_go_status_form),
		cmocka_unit_test(test_prefix_end_increments_the_last_byte_below_0xff),
		cmocka_unit_test(test_request_bodies_carry_base64_keys_and_string_revisions),
		cmocka_unit_test(test_range_answer_from_etcd_is_read),
		cmocka_unit_test(test_hostile_range_answers_are_refused_by_name),
		cmocka_unit_test(test_write_token_and_status_answers),
		cmocka_unit_test(test_watch_messages_from_etcd_are_read),
		cmocka_unit_test(test_hostile_watch_messages_are_refused),
		cmocka_unit_test(test_stream_is_split_into_objects_whatever_the_chunks),
		cmocka_unit_test(test_stream_garbage_outside_an_object_is_refused),
		cmocka_unit_test(test_huge_stream_message_is_refused_within_its_bound),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
