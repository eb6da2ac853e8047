/* tests/fuzz/fuzz_dotenv.c - libFuzzer target for .env files as `import` reads them
 * (policy/dotenv.c, Docker Compose's grammar).
 *
 * Beyond "no crash": the input is parsed from a copy of its exact size (any read past
 * it is an ASan report); every entry lies inside the buffer, entries come in file order
 * without overlapping, a name never holds a blank, '=' or ':', a value is never longer
 * than the bytes it was decoded from, and line numbers never go back. A refusal is a
 * clean "f.env:LINE: ..." message of EINVAL.
 *
 *	make fuzz && build/fuzz/fuzz_dotenv -dict=tests/fuzz/dotenv.dict tests/fuzz/corpus/dotenv */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../policy/dotenv.h"
#include "fuzz_common.h"

struct seen {
	size_t	size, end, line;	/* input size; end of the last value; its line */
};

static int
check(void *arg, const unsigned char *buf, const struct dotenv_entry *ent, struct cs_err *e)
{
	struct seen *s = arg;
	size_t i;

	(void)e;
	if (ent->name_len == 0 || ent->name_off < s->end ||
	    ent->name_off + ent->name_len > ent->off || ent->off + ent->len > s->size ||
	    ent->line < s->line || ent->line == 0)
		abort();
	for (i = 0; i < ent->name_len; i++) {
		unsigned char c = buf[ent->name_off + i];
		if (c <= ' ' || c == 0x7f || c == '=' || c == ':')
			abort();
	}
	if (ent->trimmed && ent->len == 0)
		abort();
	s->end = ent->off + ent->len;
	s->line = ent->line;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen s = { size, 0, 1 };
	struct cs_err e = { 0 };
	unsigned char *buf;

	if ((buf = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(buf, data, size);
	if (dotenv_parse(buf, size, "f.env", check, &s, &e) == -1) {
		fuzz_clean_msg(&e);
		if (e.code != EINVAL || strncmp(e.msg, "f.env:", 6) != 0)
			abort();
	}
	free(buf);
	return 0;
}
