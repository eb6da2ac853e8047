/* policy/dotenv.c - a .env file read with Docker Compose's documented grammar (the
 * rules are listed in dotenv.h).
 *
 * One pass over the buffer with a read index and, inside a value, a write index that
 * never passes it: escapes and CRLF only ever make a value shorter, so the decoded
 * value is written over its own source and nothing holding plaintext is allocated.
 * It does not interpolate ($NAME is refused instead, see dotenv.h), does not read
 * the environment, and does not decide which names are good: the caller does. */
#include <errno.h>
#include <string.h>

#include "dotenv.h"

#define BLANK(c)	((c) == ' ' || (c) == '\t')
#define BOM		"\xef\xbb\xbf"	/* UTF-8 byte order mark, as Windows editors save */

struct cur {
	unsigned char	*b;
	size_t		 n, i;		/* length, read index */
	size_t		 line;		/* of b[i], from 1 */
	const char	*file;
};

/* Bytes of the line end at b[i]: 1 for "\n", 2 for "\r\n", 1 for a "\r" that ends the
 * file, and 1 at the end itself (a last line without one); 0 when none is there. */
static size_t
eol(const struct cur *c)
{
	if (c->i == c->n)
		return 1;
	if (c->b[c->i] == '\n')
		return 1;
	if (c->b[c->i] == '\r' && (c->i + 1 == c->n || c->b[c->i + 1] == '\n'))
		return c->i + 1 == c->n ? 1 : 2;
	return 0;
}

/* Moves past the line end at b[i] (which eol() found). */
static void
next_line(struct cur *c)
{
	c->i += c->i == c->n ? 0 : eol(c);
	c->line++;
}

static void
skip_blanks(struct cur *c)
{
	while (c->i < c->n && BLANK(c->b[c->i]))
		c->i++;
}

static void
skip_comment(struct cur *c)
{
	while (c->i < c->n && eol(c) == 0)
		c->i++;
}

static int
bad(const struct cur *c, size_t line, struct cs_err *e, const char *why)
{
	return cs_err_set(e, EINVAL, "%s:%zu: %s", c->file, line, why);
}

/* 1 when the '$' at b[i] starts something Compose would interpolate: $NAME, ${...}
 * or $$ (its escape for a literal '$'). */
static int
interpolated(const struct cur *c)
{
	unsigned char n;

	if (c->i + 1 >= c->n)
		return 0;
	n = c->b[c->i + 1];
	return n == '{' || n == '$' || n == '_' || (n >= 'A' && n <= 'Z') ||
	    (n >= 'a' && n <= 'z');
}

#define WHY_DOLLAR	"$NAME, ${...} and $$ are interpolated by Docker Compose, and import " \
			"does not interpolate: put the value in single quotes"

/* An unquoted value from b[i] to the end of the line; lead says blanks were skipped
 * before it, sep that those blanks separate ("N = v", "N: v") rather than look like
 * part of the value ("N= v"). */
static int
unquoted(struct cur *c, int lead, int sep, struct dotenv_entry *ent, struct cs_err *e)
{
	size_t end;
	int comment = 0;
	unsigned char ch;

	ent->off = c->i;
	while (eol(c) == 0) {
		ch = c->b[c->i];
		if (ch == '#' && BLANK(c->b[c->i - 1])) {
			comment = 1;
			break;
		}
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return bad(c, c->line, e, "a control byte in an unquoted value (put the "
			    "value in double quotes and write it as an escape)");
		if (ch == '$' && interpolated(c))
			return bad(c, c->line, e, WHY_DOLLAR);
		c->i++;
	}
	for (end = c->i; end > ent->off && BLANK(c->b[end - 1]); end--)
		;
	if (end == ent->off && !comment && (lead || end < c->i))
		return bad(c, c->line, e, "the value is only blanks, which Docker Compose "
		    "reads as empty: write NAME= for an empty value, or quote the blanks");
	ent->len = end - ent->off;
	ent->trimmed = ent->len > 0 && ((lead && !sep) || (!comment && end < c->i));
	if (comment)
		skip_comment(c);
	next_line(c);
	return 0;
}

/* A quoted value: b[i] is the opening quote q. Decoded over itself. */
static int
quoted(struct cur *c, struct dotenv_entry *ent, struct cs_err *e)
{
	unsigned char q = c->b[c->i], ch, out;
	size_t w, k, open = c->line;

	w = ent->off = ++c->i;
	for (;;) {
		if (c->i == c->n)
			return bad(c, open, e, q == '"' ? "the double-quoted value that starts "
			    "here is never closed" : "the single-quoted value that starts here "
			    "is never closed");
		ch = c->b[c->i];
		if (ch == q) {
			c->i++;
			break;
		}
		if ((k = eol(c)) != 0) {
			c->b[w++] = '\n';
			c->i += k;
			c->line++;
			continue;
		}
		if (ch == '\\' && q == '\'') {
			/* Literal, except \' (Compose: "Quotes can be escaped with \"). */
			if (c->i + 1 < c->n && c->b[c->i + 1] == '\'') {
				c->b[w++] = '\'';
				c->i += 2;
			} else {
				c->b[w++] = '\\';
				c->i++;
			}
			continue;
		}
		if (ch == '\\') {
			if (c->i + 1 == c->n) {
				c->i++;		/* reported as never closed */
				continue;
			}
			switch (c->b[c->i + 1]) {
			case 'n':	out = '\n'; break;
			case 'r':	out = '\r'; break;
			case 't':	out = '\t'; break;
			case '\\':	out = '\\'; break;
			case '"':	out = '"'; break;
			default:
				return bad(c, c->line, e, "an unknown escape in a double-quoted "
				    "value (known: \\n \\r \\t \\\\ \\\"; write a backslash as \\\\)");
			}
			c->b[w++] = out;
			c->i += 2;
			continue;
		}
		if (ch == '$' && q == '"' && interpolated(c))
			return bad(c, c->line, e, WHY_DOLLAR);
		c->b[w++] = ch;
		c->i++;
	}
	ent->len = w - ent->off;
	skip_blanks(c);
	if (c->i < c->n && c->b[c->i] == '#')
		skip_comment(c);
	if (eol(c) == 0) {
		if (open == c->line)
			return bad(c, c->line, e, "text after the closing quote (only a # comment "
			    "may follow it)");
		return cs_err_set(e, EINVAL, "%s:%zu: text after the closing quote of the value "
		    "that starts on line %zu (only a # comment may follow it)", c->file, c->line,
		    open);
	}
	next_line(c);
	return 0;
}

/* One entry from b[i], the first non-blank byte of a line that is not a comment. */
static int
entry(struct cur *c, struct dotenv_entry *ent, struct cs_err *e)
{
	size_t name_end;
	int sep, lead;
	unsigned char ch;

	memset(ent, 0, sizeof *ent);
	ent->line = c->line;
	if (c->n - c->i > 6 && memcmp(c->b + c->i, "export", 6) == 0 &&
	    BLANK(c->b[c->i + 6])) {
		c->i += 6;
		skip_blanks(c);
	}
	ent->name_off = c->i;
	while (c->i < c->n && (ch = c->b[c->i]) > ' ' && ch != 0x7f && ch != '=' && ch != ':')
		c->i++;
	name_end = c->i;
	ent->name_len = name_end - ent->name_off;
	skip_blanks(c);
	if (ent->name_len == 0 || c->i == c->n || (c->b[c->i] != '=' && c->b[c->i] != ':'))
		return bad(c, ent->line, e, "expected NAME=value");
	/* Blanks before the delimiter, or after a ':' (YAML style), separate. */
	sep = c->i > name_end || c->b[c->i] == ':';
	c->i++;
	lead = c->i < c->n && BLANK(c->b[c->i]);
	skip_blanks(c);
	if (c->i < c->n && (c->b[c->i] == '"' || c->b[c->i] == '\''))
		return quoted(c, ent, e);
	return unquoted(c, lead, sep, ent, e);
}

int
dotenv_parse(unsigned char *buf, size_t len, const char *file, dotenv_fn fn, void *arg,
    struct cs_err *e)
{
	struct cur c = { buf, len, 0, 1, file };
	struct dotenv_entry ent;

	if (len >= sizeof BOM - 1 && memcmp(buf, BOM, sizeof BOM - 1) == 0)
		c.i = sizeof BOM - 1;
	while (c.i < c.n) {
		skip_blanks(&c);
		if (c.i < c.n && c.b[c.i] == '#')
			skip_comment(&c);
		if (eol(&c) != 0) {
			next_line(&c);
			continue;
		}
		if (entry(&c, &ent, e) == -1 || fn(arg, buf, &ent, e) == -1)
			return -1;
	}
	return 0;
}
