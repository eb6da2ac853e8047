/* tests/fuzz/fuzz_key.c - libFuzzer target for the key text (a key file's content, or
 * COMFYVN_SECRETS_KEY).
 *
 * Beyond "no crash": a key that parses is exactly 32 bytes that re-encode to the input
 * (blanks around it aside), with a 16-hex-digit fingerprint; a refusal never quotes
 * the text (it may be a key with one typo), so the message is the fixed one.
 *
 *	make fuzz && build/fuzz/fuzz_key tests/fuzz/corpus/key */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../../crypto/key.h"
#include "fuzz_common.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return sodium_init() < 0 ? -1 : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cs_err e = { 0 };
	struct key *k = NULL;
	char *text;
	size_t i;

	if (key_parse((const char *)data, size, "fuzz", &k, &e) == -1) {
		if (k != NULL || strcmp(e.msg, "fuzz: not a key: expected 32 bytes written as "
		    "base64 (one line)") != 0)
			abort();
		return 0;
	}
	if (k == NULL || strlen(k->fpr) != KEY_FPR_HEX)
		abort();
	for (i = 0; i < KEY_FPR_HEX; i++)
		if (strchr("0123456789abcdef", k->fpr[i]) == NULL)
			abort();
	if ((text = key_text(k)) == NULL)
		abort();
	if (memmem(data, size, text, strlen(text)) == NULL)
		abort();
	key_text_free(text);
	key_free(k);
	return 0;
}
