/* tests/fuzz/fuzz_allow.c - libFuzzer target for the allowlist pattern parser and the
 * sandbox decision.
 *
 * Input: one byte of switches (guard; how the port is read), two bytes of port, then
 * "pattern\nhost" (without a newline the whole rest is both).
 * Beyond "no crash, no sanitizer report", it checks what the decision promises: an error
 * or an answer, never both; a message that is short and free of control bytes; "*" and
 * the pattern "host" itself (when both parse) always match; no allow without the network
 * under the guard; with the guard off, the network flag alone.
 *
 *	clang -g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
 *	    tests/fuzz/fuzz_allow.c policy/allow.c crypto/err.c -o fuzz_allow
 *	./fuzz_allow -dict=tests/fuzz/allow.dict -max_total_time=180 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../policy/allow.h"
#include "../../policy/config.h"

static void
clean(const struct cs_err *e)
{
	const char *p;

	if (strlen(e->msg) >= sizeof e->msg)
		abort();
	for (p = e->msg; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct allow_pat p, star;
	struct allow_target t;
	struct allow_answer a;
	struct cs_err e = { 0 }, e2 = { 0 };
	struct cfg c = { 0 };
	struct cfg_allow ca;
	const char *job[1];
	char *buf, *nl, *host;
	int port, rc, prc, trc, guard;

	if (size < 3)
		return 0;
	port = (int)((unsigned)data[1] << 8 | data[2]);
	switch ((data[0] >> 1) & 3) {
	case 2:
		port++;		/* reaches 65536 */
		break;
	case 3:
		port = -port;
		break;
	}
	guard = data[0] & 1;
	data += 3;
	size -= 3;
	if ((buf = malloc(size + 1)) == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	host = buf;
	if ((nl = strchr(buf, '\n')) != NULL) {
		*nl = '\0';
		host = nl + 1;
	}

	prc = allow_parse(buf, &p, &e);
	if (prc == -1)
		clean(&e);
	else if (p.port > 65535 || (p.kind == ALLOW_NET && p.prefix > 128))
		abort();
	trc = allow_target(host, port, &t, &e2);
	if (trc == -1) {
		clean(&e2);
	} else {
		if (allow_parse("*", &star, NULL) != 0 || !allow_match(&star, &t))
			abort();
		/* a host that parses as a pattern matches itself */
		if (allow_parse(host, &star, NULL) == 0 && !allow_match(&star, &t))
			abort();
		if (prc == 0)
			(void)allow_match(&p, &t);
	}

	/* the decision: the pattern once in the job's list, once in the config's */
	job[0] = buf;
	c.enable_security_sandbox_guard = guard;
	for (int net = 0; net < 2; net++) {
		struct cs_err de = { 0 };
		rc = allow_decide(&c, job, 1, net, host, port, &a, &de);
		if (rc == -1) {
			clean(&de);
			if (a.allowed || a.matched != NULL || (prc == 0 && trc == 0))
				abort();
		} else {
			if (prc != 0 || trc != 0 || de.msg[0] != '\0')
				abort();
			if (guard && !net && a.allowed)
				abort();
			if (!guard && a.allowed != net)
				abort();
			if (a.allowed && guard && a.matched != buf)
				abort();
		}
	}
	ca.pattern = buf;
	ca.source = ALLOW_FROM_ENV;
	c.allow = &ca;
	c.nallow = 1;
	c.enable_security_sandbox_guard = 1;
	memset(&e, 0, sizeof e);
	if (allow_decide(&c, NULL, 0, 1, host, port, &a, &e) == 0 && a.allowed &&
	    strcmp(a.source, "env") != 0)
		abort();
	free(buf);
	return 0;
}
