/* tests/fuzz/fuzz_control.c - libFuzzer target for the control protocol.
 *
 * The input is one request, as written to .control, with every op enabled (API on,
 * caller uid 0, both callbacks present, denials audited to /dev/null). The first byte
 * also picks the guard and fail-closed switches, and the input is tried once more as a
 * .sandbox/<host>:<port> name. Whatever comes in, the answer must be exactly one JSON
 * object on one line, ending in a newline.
 *
 *	clang -g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
 *	    tests/fuzz/fuzz_control.c policy/control.c policy/allow.c policy/audit.c \
 *	    crypto/err.c -ljansson -lsodium -o fuzz_control
 *	./fuzz_control -dict=tests/fuzz/control.dict -max_total_time=180 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../../policy/control.h"

static struct audit *devnull;

static int
cb_providers(void *arg, json_t **out, struct cs_err *e)
{
	(void)arg;
	(void)e;
	*out = json_pack("{s:[{s:s,s:[s],s:[]}]}", "providers", "name", "runpod", "fields",
	    "api_key", "overrides");
	return 0;
}

static int
cb_rotate(void *arg, const char *new_key, json_t **out, struct cs_err *e)
{
	(void)arg;
	if (new_key != NULL && new_key[0] == '!')
		return cs_err_set(e, EINVAL, "new key: not base64");
	*out = json_pack("{s:s,s:[s]}", "fingerprint", "0123456789abcdef", "providers",
	    "runpod");
	return 0;
}

static void
check_answer(const char *ans, size_t alen)
{
	json_t *o;

	if (ans == NULL || alen == 0 || strlen(ans) != alen || ans[alen - 1] != '\n' ||
	    memchr(ans, '\n', alen - 1) != NULL)
		abort();
	if ((o = json_loadb(ans, alen, 0, NULL)) == NULL || !json_is_object(o))
		abort();
	json_decref(o);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const allow[] = { "localhost:8080", "*.example.com", "10.0.0.0/8",
	    "https://api.example.com" };
	struct cfg_allow ca[4];
	struct cfg c = { 0 };
	struct control_ctx ctx = { 0 };
	struct cs_err e = { 0 };
	char *ans = NULL, *pair;
	size_t alen = 0, i;

	if (devnull == NULL && audit_open("/dev/null", AUDIT_FLUSH_NONE, 2000, &devnull,
	    &e) == -1)
		abort();
	for (i = 0; i < 4; i++) {
		ca[i].pattern = (char *)allow[i];
		ca[i].source = i < 2 ? ALLOW_FROM_CONFIG : ALLOW_FROM_ENV;
	}
	c.path = (char *)"/etc/comfysecrets/fuzz.ini";
	c.audit_path = (char *)"/nonexistent/audit.log";
	c.enable_security_api = 1;
	c.enable_security_sandbox_guard = size == 0 || (data[0] & 1);
	c.audit_fail_closed = size > 0 && (data[0] & 2);
	c.allow = ca;
	c.nallow = 4;
	ctx.cfg = &c;
	ctx.pid = 1;
	ctx.uid = size > 0 && (data[0] & 4) ? 1000 : 0;
	ctx.comm = "fuzz";
	ctx.via = "fuzz";
	ctx.audit = devnull;
	ctx.providers = cb_providers;
	ctx.rotate = cb_rotate;

	if (control_handle(&ctx, (const char *)data, size, &ans, &alen) != 0)
		abort();
	check_answer(ans, alen);
	free(ans);

	if (size < 512 && (pair = malloc(size + 1)) != NULL) {
		memcpy(pair, data, size);
		pair[size] = '\0';
		if (control_check_pair(&ctx, pair, &ans, &alen) != 0)
			abort();
		check_answer(ans, alen);
		free(ans);
		free(pair);
	}
	return 0;
}
