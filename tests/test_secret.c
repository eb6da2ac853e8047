/* tests/test_secret.c - plaintext buffers: zeroed, copied, read within a limit, compared. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "../crypto/secret.h"

#define SEED_VALUE	"sk-seed-secret-value-0123456789"

/* A pipe holding len bytes of p, closed for writing; returns the read end. */
static int
pipe_with(const void *p, size_t len)
{
	int fds[2];

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], p, len), (ssize_t)len);
	close(fds[1]);
	return fds[0];
}

static void
test_new_secret_is_zero_filled(void **state)
{
	struct secret *s;
	size_t i;

	(void)state;
	assert_non_null(s = secret_new(100));
	assert_int_equal(s->len, 100);
	for (i = 0; i < s->len; i++)
		assert_int_equal(s->buf[i], 0);
	secret_free(s);
}

static void
test_empty_secret_has_a_buffer(void **state)
{
	struct secret *s;

	(void)state;
	assert_non_null(s = secret_new(0));
	assert_int_equal(s->len, 0);
	assert_non_null(s->buf);
	secret_free(s);
	assert_non_null(s = secret_dup(NULL, 0));
	assert_non_null(s->buf);
	secret_free(s);
}

static void
test_dup_copies_bytes_including_nul(void **state)
{
	static const unsigned char v[] = { 'a', 0, 'b', 0, 0xff };
	struct secret *s;

	(void)state;
	assert_non_null(s = secret_dup(v, sizeof v));
	assert_int_equal(s->len, sizeof v);
	assert_memory_equal(s->buf, v, sizeof v);
	secret_free(s);
}

static void
test_free_accepts_null(void **state)
{
	(void)state;
	secret_free(NULL);
}

static void
test_read_fd_reads_to_eof(void **state)
{
	struct cs_err e = { 0 };
	struct secret *s;
	unsigned char big[10000];
	size_t i;
	int fd;

	(void)state;
	for (i = 0; i < sizeof big; i++)
		big[i] = (unsigned char)(i * 7);
	fd = pipe_with(big, sizeof big);
	assert_int_equal(secret_read_fd(fd, sizeof big, "stdin", &s, &e), 0);
	close(fd);
	assert_int_equal(s->len, sizeof big);
	assert_memory_equal(s->buf, big, sizeof big);
	secret_free(s);
}

static void
test_read_fd_of_nothing_is_empty(void **state)
{
	struct cs_err e = { 0 };
	struct secret *s;
	int fd;

	(void)state;
	fd = pipe_with("", 0);
	assert_int_equal(secret_read_fd(fd, 10, "stdin", &s, &e), 0);
	close(fd);
	assert_int_equal(s->len, 0);
	secret_free(s);
}

static void
test_read_fd_over_the_limit_is_refused_naming_what(void **state)
{
	struct cs_err e = { 0 };
	struct secret *s = NULL;
	int fd;

	(void)state;
	fd = pipe_with(SEED_VALUE, strlen(SEED_VALUE));
	assert_int_equal(secret_read_fd(fd, 10, "value on stdin", &s, &e), -1);
	close(fd);
	assert_null(s);
	assert_int_equal(e.code, EFBIG);
	assert_non_null(strstr(e.msg, "value on stdin"));
	assert_non_null(strstr(e.msg, "limit of 10 bytes"));
	assert_null(strstr(e.msg, "sk-seed"));
	/* exactly at the limit is fine */
	cs_err_clear(&e);
	fd = pipe_with(SEED_VALUE, strlen(SEED_VALUE));
	assert_int_equal(secret_read_fd(fd, strlen(SEED_VALUE), "v", &s, &e), 0);
	close(fd);
	assert_int_equal(s->len, strlen(SEED_VALUE));
	secret_free(s);
}

static void
test_read_fd_error_names_what(void **state)
{
	struct cs_err e = { 0 };
	struct secret *s = NULL;

	(void)state;
	assert_int_equal(secret_read_fd(-1, 10, "value on stdin", &s, &e), -1);
	assert_int_equal(e.code, EBADF);
	assert_non_null(strstr(e.msg, "value on stdin"));
}

/* Lines of /proc/self/maps: the memory maps the process holds. */
static size_t
maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	size_t n = 0;
	int c;

	assert_non_null(f);
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

/* 20 000 small secrets share a few guarded regions: a region of its own each would
 * take some 60 000 maps, near the kernel's default limit of 65 530. Freed, they leave
 * at most one region per size class behind. */
static void
test_small_secrets_share_a_few_maps(void **state)
{
	enum { N = 20000 };
	struct secret **v;
	size_t before, during, after, i;

	(void)state;
	assert_non_null(v = calloc(N, sizeof *v));
	before = maps();
	for (i = 0; i < N; i++) {
		assert_non_null(v[i] = secret_dup(SEED_VALUE, strlen(SEED_VALUE)));
		assert_non_null(v[i]->slab);
	}
	during = maps();
	assert_true(during < before + 200);
	for (i = 1; i < N; i++)
		assert_ptr_not_equal(v[i]->buf, v[i - 1]->buf);
	assert_memory_equal(v[N - 1]->buf, SEED_VALUE, strlen(SEED_VALUE));
	for (i = 0; i < N; i++)
		secret_free(v[i]);
	after = maps();
	assert_true(after < before + 20);
	free(v);
}

/* A freed chunk is wiped whole before the next secret of its class gets it. */
static void
test_a_freed_chunk_is_wiped_whole(void **state)
{
	struct secret *a, *b;
	unsigned char *p;
	size_t i;

	(void)state;
	assert_non_null(a = secret_dup(SEED_VALUE, strlen(SEED_VALUE)));
	p = a->buf;
	secret_free(a);
	assert_non_null(b = secret_new(8));
	assert_ptr_equal(b->buf, p);		/* the lowest free chunk of the class */
	for (i = 0; i < 64; i++)
		assert_int_equal(p[i], 0);
	secret_free(b);
	assert_non_null(a = secret_new(SECRET_CHUNK_MAX + 1));
	assert_null(a->slab);			/* too big to share */
	secret_free(a);
}

/* One byte past a secret too big to share is the guard page: touching it kills the
 * process. */
static void
test_writing_past_a_large_value_faults(void **state)
{
	struct secret *s;
	pid_t pid;
	int st;

	(void)state;
	assert_non_null(s = secret_new(SECRET_CHUNK_MAX + 1));
	if ((pid = fork()) == 0) {
		signal(SIGSEGV, SIG_DFL);	/* cmocka's handler would report, not die */
		signal(SIGBUS, SIG_DFL);
		s->buf[s->len] = 'x';
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st));
	secret_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_secret_is_zero_filled),
		cmocka_unit_test(test_empty_secret_has_a_buffer),
		cmocka_unit_test(test_dup_copies_bytes_including_nul),
		cmocka_unit_test(test_free_accepts_null),
		cmocka_unit_test(test_read_fd_reads_to_eof),
		cmocka_unit_test(test_read_fd_of_nothing_is_empty),
		cmocka_unit_test(test_read_fd_over_the_limit_is_refused_naming_what),
		cmocka_unit_test(test_read_fd_error_names_what),
		cmocka_unit_test(test_small_secrets_share_a_few_maps),
		cmocka_unit_test(test_a_freed_chunk_is_wiped_whole),
		cmocka_unit_test(test_writing_past_a_large_value_faults),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
