/* base/err.h - the error record every module fills and only main() prints, and the
 * display of hostile text in it.
 *
 * Modules return 0 or -1 and describe the failure in a caller-owned struct cs_err:
 * an errno-style code and one line naming the file or request, then the reason.
 * The first error set wins, so a low-level reason is not overwritten on the way up.
 * A message never holds a secret, a part of one, or its length. */
#ifndef CS_BASE_ERR_H
#define CS_BASE_ERR_H

#include <stddef.h>

#include "attr.h"

#define CS_ERR_MSG_MAX	256	/* bytes, including the NUL */

struct cs_err {
	int	code;			/* errno value: ENOENT, EBADMSG, EACCES ... */
	char	msg[CS_ERR_MSG_MAX];	/* "vault.json: field openai/api_key: authentication failed" */
};

/* Sets e (unless already set, or e is NULL) and returns -1. */
#define cs_err_set(...)	cs_err_fail(cs_err_setf(__VA_ARGS__))
/* Like cs_err_set, appending ": strerror(code)". */
#define cs_err_sys(...)	cs_err_fail(cs_err_sysf(__VA_ARGS__))
void	cs_err_clear(struct cs_err *e);

/* The out-of-line halves of cs_err_set() and cs_err_sys(); each returns -1. */
int	cs_err_setf(struct cs_err *e, int code, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4))) CS_NONNULL(3);
int	cs_err_sysf(struct cs_err *e, int code, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4))) CS_NONNULL(3);

/* -1, whatever r is. It is how the macros above show the analysers (cppcheck,
 * clang-analyzer, which reads no other file and inlines no variadic function) the -1 at
 * every `return cs_err_set(...)`, so that path is known to have failed. */
static inline int
cs_err_fail(int r)
{
	(void)r;
	return -1;
}

#define CS_SHOW_MAX	48			/* bytes of hostile text echoed by default */
#define CS_SHOW_BUF(max)	((max) * 4 + 8)	/* bytes of out for cs_show(..., max, ...) */
/* Text from outside (a name, a pattern, a parser's message) made safe to put in an error:
 * at most max of its len bytes (it may hold NUL), printable ASCII as is except '"' and
 * '\', anything else as \xNN, and "..." when cut. Returns out. */
const char	*cs_show(const char *s, size_t len, size_t max, char *out, size_t n)
		    CS_NONNULL(4);

/* jansson's json_error_t.text (JSON_ERROR_TEXT_LENGTH, 160 bytes) as a reason safe to put
 * in a message, the one rule for every JSON parse error (vault, state file, audit line,
 * .control request, import file): the parts where jansson 2.14's load.c quotes the input
 * are cut, because the input can be a secret or terminal escapes:
 *   " near '<excerpt>'"	the bytes the lexer stopped at (every syntax error);
 *   " 0x<hex>"		one input byte ("control character 0x..", "unable to decode
 *			byte 0x..");
 *   " '\<...>'"		an escape from the input ("invalid Unicode escape '\u12zz'",
 *			"invalid Unicode '\uD800'");
 * whichever comes first ends the reason. " near end of file" (no input) is kept, and
 * what is left goes through cs_show() (at most CS_JSON_REASON_MAX bytes, so never cut in
 * practice). text may be NULL or empty: "not valid JSON". Writes into out (n bytes,
 * CS_JSON_REASON_BUF is enough) and returns out. */
#define CS_JSON_REASON_MAX	160
#define CS_JSON_REASON_BUF	CS_SHOW_BUF(CS_JSON_REASON_MAX)
const char	*cs_json_reason(const char *text, char *out, size_t n) CS_NONNULL(2);

#endif
