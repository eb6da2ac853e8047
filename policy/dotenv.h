/* policy/dotenv.h - the .env grammar `comfysecrets import` reads: Docker Compose's.
 *
 * Source: "Syntax for environment files" in the Compose documentation
 * (docs.docker.com, compose/how-tos/environment-variables/variable-interpolation).
 * Where it is silent, the choices are in docs/decisions.md ("The .env grammar"):
 *
 *	- A line ends at "\n" or "\r\n" (a "\r" just before the end of the file too). A UTF-8
 *	  byte order mark at the start of the file is skipped. Blanks are space and tab.
 *	- Blank lines and lines whose first non-blank byte is '#' are ignored.
 *	- An entry is [export BLANK+] NAME BLANK* ('=' | ':') BLANK* VALUE. NAME is the
 *	  longest run of bytes above space other than DEL, '=' and ':' (the caller
 *	  decides whether it is a name it takes).
 *	- An unquoted VALUE runs to the end of the line; a '#' right after a blank starts
 *	  a comment; blanks at either end are dropped; bytes are taken as written (no
 *	  escapes). A control byte other than tab is refused, and so is a VALUE of blanks
 *	  only (which Compose would silently make empty).
 *	- 'single-quoted' is literal, except that \' is a quote; it may span lines.
 *	- "double-quoted" knows the escapes \n \r \t \\ \" and no other; it may span lines.
 *	- Inside quotes, a line end (LF or CRLF) is stored as "\n".
 *	- After a closing quote, only blanks and a '#' comment may follow.
 *	- Compose interpolates unquoted and double-quoted values; import does not, so a '$'
 *	  there that Compose would read ($NAME, ${...}, $$) is refused: single quotes keep
 *	  it literal in both. Any other '$' is kept.
 *
 * Every refusal names the file and the line and the reason, never a byte of a value. */
#ifndef CS_DOTENV_H
#define CS_DOTENV_H

#include <stddef.h>

#include "../crypto/err.h"

struct dotenv_entry {
	size_t	name_off, name_len;	/* the NAME: bytes of the buffer */
	size_t	off, len;		/* the VALUE, decoded: bytes of the buffer */
	size_t	line;			/* where the entry starts, from 1 */
	int	trimmed;		/* blanks a reader could take for part of an
					 * unquoted VALUE were dropped: "N= v" or "N=v " */
};

/* Called once per entry, in file order; returns 0, or -1 with e set to stop the parse. */
typedef int	(*dotenv_fn)(void *arg, const unsigned char *buf, const struct dotenv_entry *ent,
		    struct cs_err *e);

/* Parses the len bytes at buf (a .env file, named file in errors) and calls fn for each
 * entry. Values are decoded in place: buf is overwritten, and a VALUE is the bytes
 * off..off+len of buf (never longer than its source, so nothing is allocated and the
 * plaintext stays in whatever memory buf is; the caller wipes it). Returns 0, or -1 with
 * e (EINVAL) saying "FILE:LINE: reason" for the first line that does not fit the
 * grammar, or fn's error; fn may have been called for earlier entries. */
int	dotenv_parse(unsigned char *buf, size_t len, const char *file, dotenv_fn fn,
	    void *arg, struct cs_err *e) CS_NONNULL(3, 4) CS_WUR;

#endif
