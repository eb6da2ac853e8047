/* tests/test_dotenv.c - the .env grammar of `comfysecrets import` (policy/dotenv.c): each
 * rule of Docker Compose's documented syntax, with Compose's own examples where it gives
 * one, and each refusal with its exact message (file, line, reason, no value).
 *
 * Inputs are copied into sodium_malloc'd buffers of their exact size, against a guard
 * page, so reading one byte past the end crashes the case. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "../policy/dotenv.h"

#define CANARY		"CANARY"	/* in every refused value: never in the message */
#define GOT_MAX		8		/* entries one case may hold */

struct got {
	size_t		n;
	char		name[GOT_MAX][80];
	unsigned char	val[GOT_MAX][256];
	size_t		vlen[GOT_MAX], line[GOT_MAX];
	int		trimmed[GOT_MAX];
	int		stop_at;	/* fail the callback on this entry (1-based), 0: never */
};

static int
collect(void *arg, const unsigned char *buf, const struct dotenv_entry *ent, struct cs_err *e)
{
	struct got *g = arg;

	if (g->stop_at != 0 && (int)g->n + 1 == g->stop_at)
		return cs_err_set(e, EPERM, "stopped by the callback");
	assert_true(g->n < GOT_MAX);
	assert_true(ent->name_len < sizeof g->name[0]);
	assert_true(ent->len <= sizeof g->val[0]);
	memcpy(g->name[g->n], buf + ent->name_off, ent->name_len);
	g->name[g->n][ent->name_len] = '\0';
	memcpy(g->val[g->n], buf + ent->off, ent->len);
	g->vlen[g->n] = ent->len;
	g->line[g->n] = ent->line;
	g->trimmed[g->n] = ent->trimmed;
	g->n++;
	return 0;
}

/* Parses len bytes of in from a guarded copy; the return code of dotenv_parse(). */
static int
parse(const char *in, size_t len, struct got *g, struct cs_err *e)
{
	unsigned char *buf;
	int rc;

	assert_non_null(buf = sodium_malloc(len ? len : 1));
	buf = len ? buf : buf + 1;	/* an empty input: no readable byte at all */
	memcpy(buf, in, len);
	rc = dotenv_parse(buf, len, "f.env", collect, g, e);
	sodium_free(len ? buf : buf - 1);
	return rc;
}

/* in (NUL-terminated) must give one entry NAME with the vlen bytes of val (strlen when
 * vlen is 0 and val is not empty) starting on line, with the trimmed flag as given. */
static void
one_n(const char *in, const char *name, const char *val, size_t vlen, size_t line,
    int trimmed)
{
	struct got g = { 0 };
	struct cs_err e = { 0 };

	if (vlen == 0)
		vlen = strlen(val);
	if (parse(in, strlen(in), &g, &e) == -1)
		fail_msg("[%s] refused: %s", in, e.msg);
	if (g.n != 1)
		fail_msg("[%s] gave %zu entries, not 1", in, g.n);
	if (strcmp(g.name[0], name) != 0)
		fail_msg("[%s] name [%s], not [%s]", in, g.name[0], name);
	if (g.vlen[0] != vlen || memcmp(g.val[0], val, vlen) != 0)
		fail_msg("[%s] value [%.*s] (%zu bytes), not [%s] (%zu)", in, (int)g.vlen[0],
		    (const char *)g.val[0], g.vlen[0], val, vlen);
	if (g.line[0] != line)
		fail_msg("[%s] line %zu, not %zu", in, g.line[0], line);
	if (g.trimmed[0] != trimmed)
		fail_msg("[%s] trimmed %d, not %d", in, g.trimmed[0], trimmed);
}

static void
one(const char *in, const char *val)
{
	one_n(in, "K", val, 0, 1, 0);
}

/* len bytes of in must be refused with exactly msg, which holds no byte of the canary. */
static void
refused_n(const char *in, size_t len, const char *msg)
{
	struct got g = { 0 };
	struct cs_err e = { 0 };

	if (parse(in, len, &g, &e) == 0)
		fail_msg("[%s] accepted (%zu entries)", in, g.n);
	assert_int_equal(e.code, EINVAL);
	if (strcmp(e.msg, msg) != 0)
		fail_msg("[%s]\n  expected: %s\n  got:      %s", in, msg, e.msg);
	assert_null(strstr(e.msg, CANARY));
}

static void
refused(const char *in, const char *msg)
{
	refused_n(in, strlen(in), msg);
}

/* --- lines --- */

static void
test_comments_and_blank_lines_are_ignored(void **state)
{
	(void)state;
	one_n("# a comment\n\n   \n\t# indented comment\nK=v\n# K=other\n", "K", "v", 0, 5, 0);
	one_n("#K=a\n  #\tK=b\nK=c # K=d", "K", "c", 0, 3, 0);
}

static void
test_an_empty_file_has_no_entries(void **state)
{
	struct got g = { 0 };
	struct cs_err e = { 0 };

	(void)state;
	assert_int_equal(parse("", 0, &g, &e), 0);
	assert_int_equal(g.n, 0);
	assert_int_equal(parse("# only\n\n \r\n", 11, &g, &e), 0);
	assert_int_equal(g.n, 0);
}

static void
test_crlf_line_ends_are_line_ends(void **state)
{
	struct got g = { 0 };
	struct cs_err e = { 0 };

	(void)state;
	one("K=hunter2\r\n", "hunter2");
	one("K=hunter2\r", "hunter2");		/* a CR that ends the file */
	one("K='hunter2'\r\n", "hunter2");
	one("K=\"hunter2\" # c\r\n", "hunter2");
	assert_int_equal(parse("A=1\r\n\r\n# c\r\nB=2\r\n", 17, &g, &e), 0);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.line[1], 4);
	assert_memory_equal(g.val[1], "2", 1);
	assert_int_equal(g.vlen[1], 1);
}

static void
test_a_utf8_byte_order_mark_is_skipped(void **state)
{
	(void)state;
	one("\xef\xbb\xbfK=v\r\n", "v");
}

static void
test_entries_carry_the_line_they_start_on(void **state)
{
	struct got g = { 0 };
	struct cs_err e = { 0 };
	const char *in = "A=1\nB=\"x\ny\nz\"\n\nC='p\r\nq'\nD=4";

	(void)state;
	assert_int_equal(parse(in, strlen(in), &g, &e), 0);
	assert_int_equal(g.n, 4);
	assert_int_equal(g.line[0], 1);
	assert_int_equal(g.line[1], 2);
	assert_int_equal(g.line[2], 6);
	assert_int_equal(g.line[3], 8);
	assert_string_equal(g.name[3], "D");
}

/* --- names --- */

static void
test_export_prefix_and_both_delimiters(void **state)
{
	(void)state;
	one("export K=v", "v");
	one("export\tK=v", "v");
	one("  export   K=v", "v");
	one_n("exportK=v", "exportK", "v", 0, 1, 0);	/* no blank: part of the name */
	one_n("export=v", "export", "v", 0, 1, 0);
	one("K: v", "v");			/* Compose: VAR: VAL -> VAL */
	one("K = v  # c", "v");			/* Compose: VAR = VAL -> VAL */
	one("\t K=v", "v");
}

static void
test_a_line_that_is_not_an_entry_is_refused_by_number(void **state)
{
	(void)state;
	refused("A=1\nBROKEN\n", "f.env:2: expected NAME=value");
	refused("A=1\nB", "f.env:2: expected NAME=value");
	refused("export K\n", "f.env:1: expected NAME=value");
	refused("=" CANARY "\n", "f.env:1: expected NAME=value");
	refused("my " CANARY " pasted alone\n", "f.env:1: expected NAME=value");
	refused("\"K\"\n", "f.env:1: expected NAME=value");
	refused("K\r=v\n", "f.env:1: expected NAME=value");
}

/* --- unquoted values --- */

static void
test_inline_comment_after_an_unquoted_value(void **state)
{
	(void)state;
	one("K=s3cr3t # rotated in May", "s3cr3t");
	one("K=VAL # comment", "VAL");		/* Compose's example */
	one("K=v\t# tab before the hash", "v");
	one("K=v   # several blanks", "v");
	one("K=VAL# not a comment", "VAL# not a comment");
	one("K=abc#def", "abc#def");
	one("K=#ff0000", "#ff0000");
	one("K=a # b # c", "a");
	one("K= # only a comment", "");
}

static void
test_unquoted_values_are_taken_as_written(void **state)
{
	(void)state;
	one("K=some\\tvalue", "some\\tvalue");	/* Compose: no escapes unquoted */
	one("K=a\"b'c", "a\"b'c");
	one("K=p\ta\tb", "p\ta\tb");		/* inner tabs kept */
	one("K=a b  c", "a b  c");		/* inner blanks kept */
	one("K=x=y:z", "x=y:z");
	one("K=\xc3\xa9t\xc3\xa9", "\xc3\xa9t\xc3\xa9");
	one("K=", "");
	one("K=\n", "");
}

static void
test_blanks_around_an_unquoted_value_are_dropped_and_flagged(void **state)
{
	(void)state;
	one_n("K=  padded  \n", "K", "padded", 0, 1, 1);
	one_n("K= v", "K", "v", 0, 1, 1);
	one_n("K=v \t", "K", "v", 0, 1, 1);
	one_n("K=v\t\r\n", "K", "v", 0, 1, 1);
	/* blanks that separate are not flagged: around "=", before a comment */
	one_n("K = v", "K", "v", 0, 1, 0);
	one_n("K: v", "K", "v", 0, 1, 0);
	one_n("K=v  # c", "K", "v", 0, 1, 0);
	one_n("K=v", "K", "v", 0, 1, 0);
}

static void
test_a_value_of_blanks_only_is_refused(void **state)
{
	(void)state;
	refused("K=   \n", "f.env:1: the value is only blanks, which Docker Compose reads as "
	    "empty: write NAME= for an empty value, or quote the blanks");
	refused("A=1\nK=\t", "f.env:2: the value is only blanks, which Docker Compose reads as "
	    "empty: write NAME= for an empty value, or quote the blanks");
	refused("K = \r\n", "f.env:1: the value is only blanks, which Docker Compose reads as "
	    "empty: write NAME= for an empty value, or quote the blanks");
	one("K=\"   \"", "   ");
	one("K='\t'", "\t");
}

static void
test_control_bytes_in_an_unquoted_value_are_refused(void **state)
{
	static const char why[] = "a control byte in an unquoted value (put the value in "
	    "double quotes and write it as an escape)";
	char msg[256];

	(void)state;
	snprintf(msg, sizeof msg, "f.env:1: %s", why);
	refused_n("K=" CANARY "\0x\n", 10, msg);
	refused("K=" CANARY "\rx\n", msg);		/* a CR that is not a line end */
	refused("K=" CANARY "\x1b[31m\n", msg);
	refused("K=" CANARY "\x7f\n", msg);
	snprintf(msg, sizeof msg, "f.env:3: %s", why);
	refused("A=1\n\nK=\x01" CANARY, msg);
}

static void
test_quoted_values_keep_any_byte(void **state)
{
	struct got g = { 0 };
	struct cs_err e = { 0 };

	(void)state;
	one("K=\"a\x01\x1b\x7f\tb\"", "a\x01\x1b\x7f\tb");
	one("K='a\x01\rb'", "a\x01\rb");		/* a lone CR is not a line end */
	assert_int_equal(parse("K=\"a\0b\"\nL='\0'", 13, &g, &e), 0);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.vlen[0], 3);
	assert_memory_equal(g.val[0], "a\0b", 3);
	assert_int_equal(g.vlen[1], 1);
	assert_int_equal(g.val[1][0], 0);
}

/* --- double quotes --- */

static void
test_double_quotes_with_a_comment_after_them(void **state)
{
	(void)state;
	one("K=\"app\" # note", "app");
	one("K=\"VAL\" # comment", "VAL");		/* Compose's examples */
	one("K=\"VAL # not a comment\"", "VAL # not a comment");
	one("K=\"v\"#c", "v");
	one("K=\"v\"   ", "v");
	one("K=\"\"", "");
	one("K = \"  spaced  \" ", "  spaced  ");	/* quoted blanks are kept */
	one("K=\"it's\"", "it's");
}

static void
test_double_quote_escapes(void **state)
{
	(void)state;
	one("K=\"a\\nb\"", "a\nb");
	one("K=\"a\\rb\"", "a\rb");
	one("K=\"some\\tvalue\"", "some\tvalue");	/* Compose's example */
	one("K=\"a\\\\b\"", "a\\b");
	one("K=\"{\\\"hello\\\": \\\"json\\\"}\"", "{\"hello\": \"json\"}");
	one("K=\"ends in a backslash\\\\\"", "ends in a backslash\\");
	one("K=\"\\\\n\"", "\\n");
	one("K=\"\\n\\n\"", "\n\n");
}

static void
test_unknown_escapes_are_refused(void **state)
{
	static const char msg[] = "f.env:1: an unknown escape in a double-quoted value "
	    "(known: \\n \\r \\t \\\\ \\\"; write a backslash as \\\\)";

	(void)state;
	refused("K=\"" CANARY "\\q\"", msg);
	refused("K=\"" CANARY "\\$HOME\"", msg);
	refused("K=\"" CANARY "\\'\"", msg);
	refused("K=\"" CANARY "\\x41\"", msg);
	refused("K=\"" CANARY "\\\n\"", msg);		/* no line continuation */
	refused("A=\"x\ny\\a\"", "f.env:2: an unknown escape in a double-quoted value "
	    "(known: \\n \\r \\t \\\\ \\\"; write a backslash as \\\\)");
}

static void
test_multi_line_double_quoted_value(void **state)
{
	static const char pem[] = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEF\n"
	    "AASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----";
	char in[512];
	struct got g = { 0 };
	struct cs_err e = { 0 };

	(void)state;
	snprintf(in, sizeof in, "# the TLS key\nK=\"%s\"\nB=2\n", pem);
	assert_int_equal(parse(in, strlen(in), &g, &e), 0);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.vlen[0], strlen(pem));
	assert_memory_equal(g.val[0], pem, strlen(pem));
	assert_int_equal(g.line[0], 2);
	assert_int_equal(g.line[1], 6);
	/* saved with CRLF: the value has the same LF lines */
	one("K=\"l1\r\nl2\r\n\"\r\n", "l1\nl2\n");
	one("K=\"\n\"", "\n");
	one("K=\"a\\nb\nc\"", "a\nb\nc");
}

static void
test_an_unterminated_quote_is_refused_at_its_line(void **state)
{
	(void)state;
	refused("K=\"" CANARY, "f.env:1: the double-quoted value that starts here is never "
	    "closed");
	refused("A=1\nK=\"" CANARY "\nB=2\n", "f.env:2: the double-quoted value that starts "
	    "here is never closed");
	refused("K='" CANARY "\n", "f.env:1: the single-quoted value that starts here is "
	    "never closed");
	refused("K=\"" CANARY "\\\"", "f.env:1: the double-quoted value that starts here is "
	    "never closed");
	refused("K=\"" CANARY "\\", "f.env:1: the double-quoted value that starts here is "
	    "never closed");
	/* \' escapes the quote, so this one never closes (use double quotes: "a\\") */
	refused("K='" CANARY "\\'", "f.env:1: the single-quoted value that starts here is "
	    "never closed");
}

static void
test_text_after_a_closing_quote_is_refused(void **state)
{
	(void)state;
	refused("K=\"app\" " CANARY, "f.env:1: text after the closing quote (only a # comment "
	    "may follow it)");
	refused("K='app'" CANARY, "f.env:1: text after the closing quote (only a # comment "
	    "may follow it)");
	refused("K=\"\"\"", "f.env:1: text after the closing quote (only a # comment may "
	    "follow it)");
	/* a stray quote pairs with one on a later line: the error says where it began */
	refused("K=\"" CANARY "\nB=\"x\"\n", "f.env:2: text after the closing quote of the "
	    "value that starts on line 1 (only a # comment may follow it)");
}

/* --- single quotes --- */

static void
test_single_quotes_are_literal(void **state)
{
	(void)state;
	one("K='$OTHER'", "$OTHER");			/* Compose's examples */
	one("K='${OTHER}'", "${OTHER}");
	one("K='some\\tvalue'", "some\\tvalue");
	one("K='Let\\'s go!'", "Let's go!");
	one("K='a\\\\b'", "a\\\\b");
	one("K='\"double\" # not a comment'", "\"double\" # not a comment");
	one("K='$$'", "$$");
	one("K='SOME\nVALUE'", "SOME\nVALUE");		/* multi-line, Compose's example */
	one("K='a\r\nb' # c\r\n", "a\nb");
}

/* --- interpolation --- */

static void
test_what_compose_would_interpolate_is_refused(void **state)
{
	static const char msg[] = "f.env:1: $NAME, ${...} and $$ are interpolated by "
	    "Docker Compose, and import does not interpolate: put the value in single quotes";

	(void)state;
	refused("K=" CANARY "$word", msg);
	refused("K=" CANARY "${X}", msg);
	refused("K=" CANARY "${X:-d}", msg);
	refused("K=" CANARY "$$", msg);
	refused("K=" CANARY "$_x", msg);
	refused("K=\"" CANARY "$HOME\"", msg);
	refused("K=\"" CANARY "${HOME}\"", msg);
}

static void
test_a_dollar_compose_keeps_is_kept(void **state)
{
	(void)state;
	one("K=cost$", "cost$");
	one("K=$1 $! $-", "$1 $! $-");
	one("K=\"$5 off\"", "$5 off");
	one("K=a$ # c", "a$");
	one("K=x $#y", "x $#y");
}

/* --- the caller --- */

static void
test_the_callback_sees_entries_in_order_and_can_stop_the_parse(void **state)
{
	struct got g = { 0 };
	struct cs_err e = { 0 };

	(void)state;
	g.stop_at = 2;
	assert_int_equal(parse("A=1\nB=2\nC=3\n", 12, &g, &e), -1);
	assert_int_equal(e.code, EPERM);
	assert_string_equal(e.msg, "stopped by the callback");
	assert_int_equal(g.n, 1);
	assert_string_equal(g.name[0], "A");
}

static void
test_a_later_bad_line_is_refused_even_after_good_ones(void **state)
{
	(void)state;
	refused("A=1\nB='2'\nC=\"3\"\nD=4 # ok\nE=" CANARY " $HOME\n",
	    "f.env:5: $NAME, ${...} and $$ are interpolated by Docker Compose, and import "
	    "does not interpolate: put the value in single quotes");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_comments_and_blank_lines_are_ignored),
		cmocka_unit_test(test_an_empty_file_has_no_entries),
		cmocka_unit_test(test_crlf_line_ends_are_line_ends),
		cmocka_unit_test(test_a_utf8_byte_order_mark_is_skipped),
		cmocka_unit_test(test_entries_carry_the_line_they_start_on),
		cmocka_unit_test(test_export_prefix_and_both_delimiters),
		cmocka_unit_test(test_a_line_that_is_not_an_entry_is_refused_by_number),
		cmocka_unit_test(test_inline_comment_after_an_unquoted_value),
		cmocka_unit_test(test_unquoted_values_are_taken_as_written),
		cmocka_unit_test(test_blanks_around_an_unquoted_value_are_dropped_and_flagged),
		cmocka_unit_test(test_a_value_of_blanks_only_is_refused),
		cmocka_unit_test(test_control_bytes_in_an_unquoted_value_are_refused),
		cmocka_unit_test(test_quoted_values_keep_any_byte),
		cmocka_unit_test(test_double_quotes_with_a_comment_after_them),
		cmocka_unit_test(test_double_quote_escapes),
		cmocka_unit_test(test_unknown_escapes_are_refused),
		cmocka_unit_test(test_multi_line_double_quoted_value),
		cmocka_unit_test(test_an_unterminated_quote_is_refused_at_its_line),
		cmocka_unit_test(test_text_after_a_closing_quote_is_refused),
		cmocka_unit_test(test_single_quotes_are_literal),
		cmocka_unit_test(test_what_compose_would_interpolate_is_refused),
		cmocka_unit_test(test_a_dollar_compose_keeps_is_kept),
		cmocka_unit_test(test_the_callback_sees_entries_in_order_and_can_stop_the_parse),
		cmocka_unit_test(test_a_later_bad_line_is_refused_even_after_good_ones),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
