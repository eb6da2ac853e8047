/* bench/benchtool.c - the timed loops of the benchmark; bench/run drives them.
 *
 *   benchtool rate THREADS MIN_READS LIST   open + read to EOF + close of every path in
 *                                           LIST (one a line), split between THREADS
 *                                           threads, whole passes until MIN_READS reads;
 *                                           prints reads per second
 *   benchtool spawn CMDS                    runs each line of CMDS in turn, "TAG<tab>
 *                                           ARGV0<tab>ARGV1..." (fork, exec, wait for
 *                                           it, stdout to /dev/null); prints
 *                                           "TAG=seconds" per line. Lines of several
 *                                           peers interleaved share the machine's drift
 *   benchtool walk DIR                      lists the whole tree under DIR (readdir and
 *                                           fstatat of every entry, as ls -lR does);
 *                                           prints seconds and the number of entries
 *
 * Times are CLOCK_MONOTONIC. Every read must succeed and return at least one byte: a
 * failed read ends the program with status 1, so a figure is never made of errors.
 * Output is one line of "key=value" words for bench/run to parse. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../base/clock.h"

#define READ_BUF_BYTES	4096
#define THREADS_MAX	64
#define PATH_BYTES	4096

struct list {
	char	**p;
	size_t	  n;
};

struct worker {
	const struct list	*l;
	size_t			 first, step, passes;
	pthread_barrier_t	*go;
	size_t			 reads;
	int			 failed;
};

/* Seconds on the monotonic clock. */
static double
now(void)
{
	return (double)cs_now_ns() / 1e9;
}

static void
load_list(const char *file, struct list *l)
{
	char line[PATH_BYTES];
	size_t cap = 0;
	FILE *f;

	if ((f = fopen(file, "r")) == NULL) {
		fprintf(stderr, "benchtool: %s: %s\n", file, strerror(errno));
		exit(2);
	}
	l->p = NULL;
	l->n = 0;
	while (fgets(line, sizeof line, f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '\0')
			continue;
		if (l->n == cap) {
			cap = cap ? cap * 2 : 1024;
			if ((l->p = realloc(l->p, cap * sizeof *l->p)) == NULL)
				exit(2);
		}
		if ((l->p[l->n++] = strdup(line)) == NULL)
			exit(2);
	}
	fclose(f);
	if (l->n == 0) {
		fprintf(stderr, "benchtool: %s: no paths\n", file);
		exit(2);
	}
}

/* open, read to EOF, close: what a program reading a key file does. */
static int
read_one(const char *path)
{
	char buf[READ_BUF_BYTES];
	ssize_t n, total = 0;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "benchtool: open %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((n = read(fd, buf, sizeof buf)) > 0)
		total += n;
	if (n == -1)
		fprintf(stderr, "benchtool: read %s: %s\n", path, strerror(errno));
	close(fd);
	if (n == 0 && total == 0)
		fprintf(stderr, "benchtool: read %s: empty\n", path);
	return n == 0 && total > 0 ? 0 : -1;
}

static void *
run_worker(void *arg)
{
	struct worker *w = arg;
	size_t pass, i;

	pthread_barrier_wait(w->go);
	for (pass = 0; pass < w->passes && !w->failed; pass++)
		for (i = w->first; i < w->l->n; i += w->step) {
			if (read_one(w->l->p[i]) == -1) {
				w->failed = 1;
				break;
			}
			w->reads++;
		}
	pthread_barrier_wait(w->go);
	return NULL;
}

static int
cmd_rate(int argc, char **argv)
{
	struct worker w[THREADS_MAX];
	pthread_t tid[THREADS_MAX];
	pthread_barrier_t go;
	struct list l;
	size_t nt, minreads, passes, reads = 0, i;
	double t0, t1;
	int failed = 0;

	if (argc != 5)
		return 2;
	nt = strtoul(argv[2], NULL, 10);
	minreads = strtoul(argv[3], NULL, 10);
	if (nt < 1 || nt > THREADS_MAX)
		return 2;
	load_list(argv[4], &l);
	passes = (minreads + l.n - 1) / l.n;
	if (passes < 1)
		passes = 1;
	pthread_barrier_init(&go, NULL, (unsigned)nt + 1);
	for (i = 0; i < nt; i++) {
		w[i] = (struct worker){ .l = &l, .first = i, .step = nt, .passes = passes,
		    .go = &go };
		if (pthread_create(&tid[i], NULL, run_worker, &w[i]) != 0)
			return 2;
	}
	pthread_barrier_wait(&go);
	t0 = now();
	pthread_barrier_wait(&go);
	t1 = now();
	for (i = 0; i < nt; i++) {
		pthread_join(tid[i], NULL);
		reads += w[i].reads;
		failed |= w[i].failed;
	}
	if (failed)
		return 1;
	printf("reads=%zu seconds=%.6f rate=%.1f\n", reads, t1 - t0, (double)reads / (t1 - t0));
	return 0;
}

static int
cmd_spawn(int argc, char **argv)
{
	char line[PATH_BYTES], *args[64], *p;
	double t0, t1;
	pid_t pid;
	int st, n, devnull;
	FILE *f;

	if (argc != 3)
		return 2;
	if ((f = fopen(argv[2], "r")) == NULL ||
	    (devnull = open("/dev/null", O_WRONLY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "benchtool: %s: %s\n", argv[2], strerror(errno));
		return 2;
	}
	while (fgets(line, sizeof line, f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		for (n = 0, p = strtok(line, "\t"); p != NULL && n < 63; p = strtok(NULL, "\t"))
			args[n++] = p;
		if (n < 2)
			continue;
		args[n] = NULL;
		t0 = now();
		if ((pid = fork()) == -1)
			return 2;
		if (pid == 0) {
			dup2(devnull, 1);
			execvp(args[1], args + 1);
			_exit(127);
		}
		while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
			;
		t1 = now();
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "benchtool: %s: %s failed (status %d)\n", args[0], args[1],
			    st);
			return 1;
		}
		printf("%s=%.6f\n", args[0], t1 - t0);
	}
	fclose(f);
	return 0;
}

static int
walk(int dfd, size_t *entries)
{
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd, rc = 0;

	if ((d = fdopendir(dfd)) == NULL)
		return -1;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
			fprintf(stderr, "benchtool: stat %s: %s\n", de->d_name, strerror(errno));
			rc = -1;
			break;
		}
		(*entries)++;
		if (S_ISDIR(st.st_mode)) {
			if ((fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY |
			    O_CLOEXEC)) == -1)
				rc = -1;
			else
				rc = walk(fd, entries);
		}
	}
	closedir(d);
	return rc;
}

static int
cmd_walk(int argc, char **argv)
{
	size_t entries = 0;
	double t0, t1;
	int fd;

	if (argc != 3)
		return 2;
	t0 = now();
	if ((fd = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    walk(fd, &entries) == -1) {
		fprintf(stderr, "benchtool: walk %s failed\n", argv[2]);
		return 1;
	}
	t1 = now();
	printf("seconds=%.6f entries=%zu\n", t1 - t0, entries);
	return 0;
}

int
main(int argc, char **argv)
{
	int rc = 2;

	if (argc >= 2 && strcmp(argv[1], "rate") == 0)
		rc = cmd_rate(argc, argv);
	else if (argc >= 2 && strcmp(argv[1], "spawn") == 0)
		rc = cmd_spawn(argc, argv);
	else if (argc >= 2 && strcmp(argv[1], "walk") == 0)
		rc = cmd_walk(argc, argv);
	if (rc == 2)
		fprintf(stderr, "usage: benchtool rate THREADS MIN_READS LIST | spawn CMDS | "
		    "walk DIR\n");
	return rc;
}
