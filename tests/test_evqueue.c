/* tests/test_evqueue.c - the line queue behind .events (fs/evqueue.c): a reader gets
 * the lines pushed after it attached, in order, whole lines first and a long one in
 * pieces; lines it may not see are skipped and never count against it; past
 * EVQ_LINES_MAX unread lines it gets one overflow line and then only newer lines; the
 * ring never holds more than EVQ_LINES_MAX lines, whatever the number of readers. The
 * FUSE side (blocking, poll, interrupts) is tested through a mount in
 * tests/integration/fs_events.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../fs/evqueue.h"

static const struct evq_gate anyone = { .any = 1 };
/* A provider folder only root may enter (0550 root:root, the default). */
static const struct evq_gate rootonly = { 0, { 0, 0 }, { 0, 0 }, { 0555, 0550 } };
static const struct lo_rights root = { 0, 0, 0, { 0 } };
static const struct lo_rights user = { 1000, 1000, 0, { 0 } };
#define OVERFLOW77	"{\"event\":\"overflow\",\"generation\":77,\"time\":\""

static void
push(struct evq *q, const struct evq_gate *g, const char *fmt, int i)
{
	char *s;
	int n;

	n = asprintf(&s, fmt, i);
	assert_true(n > 0);
	evq_push(q, s, (size_t)n, g);
}

static char *
drain(struct evq *q, struct evq_cursor *c, size_t size)
{
	static char buf[1 << 20];
	size_t pos = 0, n;

	while (pos < sizeof buf - 1 && (n = evq_fill(q, c, buf + pos,
	    size < sizeof buf - 1 - pos ? size : sizeof buf - 1 - pos)) > 0)
		pos += n;
	buf[pos] = '\0';
	return buf;
}

static void
test_a_reader_gets_the_lines_after_it_attached_in_order(void **state)
{
	struct evq *q = calloc(1, sizeof *q);
	struct evq_cursor c;
	char buf[64];

	(void)state;
	push(q, &anyone, "before %d\n", 0);
	evq_attach(q, &c, &root);
	assert_false(evq_ready(q, &c));
	assert_int_equal(evq_fill(q, &c, buf, sizeof buf), 0);
	push(q, &anyone, "a %d\n", 1);
	push(q, &anyone, "b %d\n", 2);
	assert_true(evq_ready(q, &c));
	assert_string_equal(drain(q, &c, 4096), "a 1\nb 2\n");
	assert_false(evq_ready(q, &c));
	evq_detach(q, &c);
	evq_clear(q);
	free(q);
}

static void
test_whole_lines_first_and_a_long_one_in_pieces(void **state)
{
	struct evq *q = calloc(1, sizeof *q);
	struct evq_cursor c;
	char buf[8];

	(void)state;
	evq_attach(q, &c, &root);
	push(q, &anyone, "ab%d\n", 1);		/* 4 bytes */
	push(q, &anyone, "cdefghij%d\n", 2);	/* 10 bytes */
	/* 8 bytes of room: the first line only, not the start of the second */
	assert_int_equal(evq_fill(q, &c, buf, sizeof buf), 4);
	assert_memory_equal(buf, "ab1\n", 4);
	/* the second alone does not fit: it comes in pieces */
	assert_int_equal(evq_fill(q, &c, buf, sizeof buf), 8);
	assert_memory_equal(buf, "cdefghij", 8);
	assert_int_equal(evq_fill(q, &c, buf, sizeof buf), 2);
	assert_memory_equal(buf, "2\n", 2);
	assert_false(evq_ready(q, &c));
	evq_detach(q, &c);
	evq_clear(q);
	free(q);
}

static void
test_a_reader_sees_only_what_its_rights_allow(void **state)
{
	struct evq *q = calloc(1, sizeof *q);
	struct evq_cursor r, u;
	struct evq_gate grp = rootonly;

	(void)state;
	grp.gid[1] = 1000;		/* 0550 root:1000: the group may enter */
	evq_attach(q, &r, &root);
	evq_attach(q, &u, &user);
	push(q, &rootonly, "hidden %d\n", 1);
	assert_false(evq_ready(q, &u));
	assert_true(evq_ready(q, &r));
	push(q, &grp, "group %d\n", 2);
	push(q, &anyone, "all %d\n", 3);
	assert_string_equal(drain(q, &u, 4096), "group 2\nall 3\n");
	assert_string_equal(drain(q, &r, 4096), "hidden 1\ngroup 2\nall 3\n");
	evq_detach(q, &u);
	evq_detach(q, &r);
	evq_clear(q);
	free(q);
}

static void
test_a_reader_that_falls_behind_gets_one_overflow_line(void **state)
{
	struct evq *q = calloc(1, sizeof *q);
	struct evq_cursor c, fresh;
	char *out;
	int i;

	(void)state;
	evq_attach(q, &c, &root);
	q->generation = 77;
	for (i = 0; i < EVQ_LINES_MAX; i++)
		push(q, &anyone, "line %d\n", i);
	/* exactly full: nothing lost yet */
	out = drain(q, &c, 64);
	assert_non_null(strstr(out, "line 0\n"));
	assert_null(strstr(out, "overflow"));
	for (i = 0; i < EVQ_LINES_MAX + 1; i++)
		push(q, &anyone, "more %d\n", i);
	evq_attach(q, &fresh, &root);
	push(q, &anyone, "after %d\n", 1);
	out = drain(q, &c, 4096);
	assert_true(strncmp(out, OVERFLOW77, strlen(OVERFLOW77)) == 0);
	/* one line: what was queued when it was read is dropped (the reader re-lists) */
	assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1);
	/* then the lines that come after that read */
	push(q, &anyone, "after %d\n", 2);
	assert_string_equal(drain(q, &c, 4096), "after 2\n");
	assert_string_equal(drain(q, &fresh, 4096), "after 1\nafter 2\n");
	evq_detach(q, &fresh);
	evq_detach(q, &c);
	evq_clear(q);
	free(q);
}

static void
test_lines_a_reader_may_not_see_never_overflow_it(void **state)
{
	struct evq *q = calloc(1, sizeof *q);
	struct evq_cursor u;
	int i;

	(void)state;
	evq_attach(q, &u, &user);
	for (i = 0; i < 3 * EVQ_LINES_MAX; i++)
		push(q, &rootonly, "hidden %d\n", i);
	push(q, &anyone, "visible %d\n", 1);
	assert_string_equal(drain(q, &u, 4096), "visible 1\n");
	evq_detach(q, &u);
	evq_clear(q);
	free(q);
}

static void
test_the_ring_holds_at_most_the_bound_for_any_number_of_readers(void **state)
{
	struct evq *q = calloc(1, sizeof *q);
	struct evq_cursor *c = calloc(1000, sizeof *c);
	int i;

	(void)state;
	for (i = 0; i < 1000; i++)
		evq_attach(q, &c[i], i % 2 ? &root : &user);
	for (i = 0; i < 20 * EVQ_LINES_MAX; i++) {
		push(q, i % 3 ? &anyone : &rootonly, "x %d\n", i);
		assert_true(q->head - q->tail <= EVQ_LINES_MAX);
	}
	for (i = 0; i < 1000; i++) {
		assert_true(c[i].overflowed);
		assert_true(strncmp(drain(q, &c[i], 4096), "{\"event\":\"overflow\"", 19) == 0);
		evq_detach(q, &c[i]);
	}
	assert_null(q->cursors);
	evq_clear(q);
	free(c);
	free(q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_reader_gets_the_lines_after_it_attached_in_order),
		cmocka_unit_test(test_whole_lines_first_and_a_long_one_in_pieces),
		cmocka_unit_test(test_a_reader_sees_only_what_its_rights_allow),
		cmocka_unit_test(test_a_reader_that_falls_behind_gets_one_overflow_line),
		cmocka_unit_test(test_lines_a_reader_may_not_see_never_overflow_it),
		cmocka_unit_test(test_the_ring_holds_at_most_the_bound_for_any_number_of_readers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
