/* crypto/b64.h - the base64 alphabet, checked before libsodium decodes.
 *
 * libsodium 1.0.18 (Debian 12) reads every byte from 0x80 to 0xff as '/' in
 * sodium_base642bin(), so a key file or a vault value holding stray non-ASCII bytes
 * would decode (to something) instead of being refused. Every
 * decode of text from outside checks the alphabet with b64_text_ok() first. */
#ifndef CS_B64_H
#define CS_B64_H

#include <stddef.h>

/* 1 when all len bytes of s are in the standard alphabet or '=' (padding is then
 * placed by libsodium's own checks). */
static inline int
b64_text_ok(const char *s, size_t len)
{
	size_t i;
	unsigned char c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '+' || c == '/' || c == '='))
			return 0;
	}
	return 1;
}

#endif
