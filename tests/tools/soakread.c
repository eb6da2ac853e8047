/* tests/tools/soakread.c - one reader of the soak test (tests/soak).
 *
 *	soakread MOUNT SECONDS SEED SEEN_FILE PATH...
 *
 * For SECONDS, opens a random PATH (relative to MOUNT: "provider/field") of the list,
 * reads it whole, closes it, and checks the value as the soak writer makes them:
 * "soak:<provider>/<field>:<gen>:<hex>". A value is wrong when it does not parse, names
 * another path, or has a lower gen than one this reader already saw for that path (a
 * served snapshot never goes back in time). Fields whose name begins with "v" may be
 * removed by the writer: ENOENT is counted apart for them, and is an error for others.
 * At the end, every distinct (path, value) seen goes to SEEN_FILE, one "path value" a
 * line, for the caller to match against the writer's log; and one line on stdout:
 *	opens N reads N enoent N errors N wrong N
 * where opens counts the successful open(2) calls (each must be one secret_read line).
 * Exit status 0 when errors and wrong are 0. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define VALUE_MAX	4096
#define SEEN_MAX	(1u << 20)

struct seen {
	int	 path;
	char	*value;
};

static struct seen *seen;
static size_t nseen;
static uint64_t rng;

static uint64_t
next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Records (path, value) once; a small open-addressing set keyed by the value. */
static size_t *slots;
static size_t nslots = SEEN_MAX * 2;

static uint64_t
hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static int
remember(int path, const char *value)
{
	size_t i = hash(value) % nslots;

	while (slots[i] != 0) {
		if (strcmp(seen[slots[i] - 1].value, value) == 0)
			return 0;
		i = (i + 1) % nslots;
	}
	if (nseen == SEEN_MAX)
		return -1;
	seen[nseen].path = path;
	if ((seen[nseen].value = strdup(value)) == NULL)
		return -1;
	slots[i] = ++nseen;
	return 0;
}

int
main(int argc, char **argv)
{
	unsigned long long opens = 0, reads = 0, enoent = 0, errors = 0, wrong = 0;
	char buf[VALUE_MAX + 1], want[512];
	long long *last;
	double end;
	int npaths, i;
	FILE *out;

	if (argc < 6) {
		fprintf(stderr, "usage: soakread MOUNT SECONDS SEED SEEN_FILE PATH...\n");
		return 2;
	}
	if (chdir(argv[1]) == -1) {
		perror(argv[1]);
		return 2;
	}
	end = now_s() + atof(argv[2]);
	rng = strtoull(argv[3], NULL, 10) * 2654435761ULL + 88172645463325252ULL;
	npaths = argc - 5;
	seen = calloc(SEEN_MAX, sizeof *seen);
	slots = calloc(nslots, sizeof *slots);
	last = calloc((size_t)npaths, sizeof *last);
	if (seen == NULL || slots == NULL || last == NULL)
		return 2;
	for (i = 0; i < npaths; i++)
		last[i] = -1;
	while (now_s() < end) {
		int p = (int)(next_rand() % (uint64_t)npaths);
		const char *path = argv[5 + p], *field = strrchr(path, '/');
		ssize_t n, got = 0;
		long long gen;
		int fd;

		if ((fd = open(path, O_RDONLY)) == -1) {
			if (errno == ENOENT && field != NULL && field[1] == 'v')
				enoent++;
			else {
				errors++;
				fprintf(stderr, "soakread: open %s: %s\n", path, strerror(errno));
			}
			continue;
		}
		opens++;
		while (got < VALUE_MAX && (n = read(fd, buf + got, VALUE_MAX - (size_t)got)) > 0)
			got += n;
		if (n == -1 && got < VALUE_MAX) {
			errors++;
			fprintf(stderr, "soakread: read %s: %s\n", path, strerror(errno));
			close(fd);
			continue;
		}
		close(fd);
		reads++;
		buf[got] = '\0';
		/* soak:<path>:<gen>:<hex> */
		snprintf(want, sizeof want, "soak:%s:", path);
		if (strncmp(buf, want, strlen(want)) != 0 || strlen(buf) != (size_t)got ||
		    sscanf(buf + strlen(want), "%lld:", &gen) != 1) {
			wrong++;
			fprintf(stderr, "soakread: %s: a value that is not this path's\n", path);
			continue;
		}
		if (gen < last[p]) {
			wrong++;
			fprintf(stderr, "soakread: %s: gen %lld after gen %lld: back in time\n",
			    path, gen, last[p]);
			continue;
		}
		last[p] = gen;
		if (remember(p, buf) == -1) {
			fprintf(stderr, "soakread: too many distinct values\n");
			return 2;
		}
	}
	if ((out = fopen(argv[4], "w")) == NULL) {
		perror(argv[4]);
		return 2;
	}
	for (size_t k = 0; k < nseen; k++)
		fprintf(out, "%s %s\n", argv[5 + seen[k].path], seen[k].value);
	if (fclose(out) != 0)
		return 2;
	printf("opens %llu reads %llu enoent %llu errors %llu wrong %llu\n", opens, reads,
	    enoent, errors, wrong);
	for (size_t k = 0; k < nseen; k++)
		free(seen[k].value);
	free(seen);
	free(slots);
	free(last);
	return errors == 0 && wrong == 0 ? 0 : 1;
}
