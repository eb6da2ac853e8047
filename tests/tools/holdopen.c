/* tests/tools/holdopen.c - hold many handles of a comfysecrets mount open, as a hostile
 * local user would (tests/integration/fs_hostile.sh runs it under setpriv).
 *
 *	holdopen control MNT N BYTES GO   open N .control handles, write BYTES to each
 *	holdopen sandbox MNT N GO         open N distinct .sandbox/hN.example.com:443
 *	holdopen field PATH N GO          open PATH N times
 *	holdopen race MNT N PROCS         PROCS processes each open, read, close a .sandbox
 *	                                  file N times; exit 1 if any answer was wrong
 *	holdopen handoff MNT SOCK         open .control, send the descriptor over the unix
 *	                                  socket SOCK (SCM_RIGHTS), wait for one byte back
 *	                                  (the other side wrote a request), then print the
 *	                                  answer read from the descriptor
 *
 * The first three raise RLIMIT_NOFILE to its hard limit, stop at the first refusal of
 * an open, print one line - "held OPENED WRITTEN refused-open=ERRNO refused-write=ERRNO"
 * (ERRNO "-" when none) - and keep everything open until the file GO exists (at most
 * 60 s), then exit, which closes it all. Nothing is read, so no request is ever run. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WAIT_GO_MS	60000

static const char *
errname(int e)
{
	static char buf[32];

	switch (e) {
	case 0: return "-";
	case EMFILE: return "EMFILE";
	case ENFILE: return "ENFILE";
	case EAGAIN: return "EAGAIN";
	case ENOMEM: return "ENOMEM";
	case EIO: return "EIO";
	case EACCES: return "EACCES";
	case ENOENT: return "ENOENT";
	default:
		snprintf(buf, sizeof buf, "errno%d", e);
		return buf;
	}
}

static void
wait_go(const char *go)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	int i;

	for (i = 0; i < WAIT_GO_MS / 20 && access(go, F_OK) != 0; i++)
		nanosleep(&ts, NULL);
}

static int
race(const char *mnt, long n, long procs)
{
	char path[4096], buf[4096];
	long k, i;
	int st, bad = 0, fd;
	ssize_t r;

	for (k = 0; k < procs; k++) {
		if (fork() != 0)
			continue;
		for (i = 0; i < n; i++) {
			snprintf(path, sizeof path, "%s/.sandbox/race%ld.example.com:443", mnt,
			    i % 40);
			if ((fd = open(path, O_RDONLY)) == -1)
				_exit(1);
			r = read(fd, buf, sizeof buf);
			close(fd);
			if (r < 16 || memcmp(buf, "{\"allowed\":false", 16) != 0)
				_exit(1);
		}
		_exit(0);
	}
	for (k = 0; k < procs; k++)
		if (wait(&st) == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			bad = 1;
	return bad;
}

static int
handoff(const char *mnt, const char *sock)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char path[4096], ans[65536], one = 'x', cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &one, 1 };
	struct msghdr mh = { 0 };
	struct cmsghdr *cm;
	ssize_t n;
	int fd, s;

	snprintf(path, sizeof path, "%s/.control", mnt);
	if ((fd = open(path, O_RDWR)) == -1 || (s = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
		return 1;
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock);
	if (connect(s, (struct sockaddr *)&sa, sizeof sa) == -1)
		return 1;
	memset(cbuf, 0, sizeof cbuf);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof cbuf;
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof fd);
	if (sendmsg(s, &mh, 0) != 1 || read(s, &one, 1) != 1)
		return 1;
	if ((n = pread(fd, ans, sizeof ans - 1, 0)) < 0)
		return 1;
	fwrite(ans, 1, (size_t)n, stdout);
	return 0;
}

int
main(int argc, char **argv)
{
	struct rlimit rl;
	char path[4096], *buf = NULL;
	long n, i, opened = 0, written = 0;
	size_t bytes = 0;
	int fd, oerr = 0, werr = 0;
	const char *mode, *go;

	if (argc < 4 || (argc < 5 && strcmp(argv[1], "handoff") != 0)) {
		fprintf(stderr, "usage: holdopen control|sandbox|field|race ...\n");
		return 2;
	}
	mode = argv[1];
	if (strcmp(mode, "handoff") == 0)
		return handoff(argv[2], argv[3]);
	n = strtol(argv[3], NULL, 10);
	if (strcmp(mode, "race") == 0)
		return race(argv[2], n, strtol(argv[4], NULL, 10));
	if (strcmp(mode, "control") == 0) {
		if (argc < 6)
			return 2;
		bytes = strtoul(argv[4], NULL, 10);
		go = argv[5];
		if ((buf = malloc(bytes > 0 ? bytes : 1)) == NULL)
			return 2;
		memset(buf, ' ', bytes);
	} else
		go = argv[4];
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (i = 0; i < n; i++) {
		if (strcmp(mode, "control") == 0)
			snprintf(path, sizeof path, "%s/.control", argv[2]);
		else if (strcmp(mode, "sandbox") == 0)
			snprintf(path, sizeof path, "%s/.sandbox/h%ld.example.com:443", argv[2], i);
		else
			snprintf(path, sizeof path, "%s", argv[2]);
		fd = open(path, strcmp(mode, "control") == 0 ? O_RDWR : O_RDONLY);
		if (fd == -1) {
			oerr = errno;
			break;
		}
		opened++;
		if (bytes > 0 && werr == 0) {
			if (write(fd, buf, bytes) == (ssize_t)bytes)
				written++;
			else
				werr = errno != 0 ? errno : EIO;
		}
	}
	printf("held %ld %ld refused-open=%s", opened, written, errname(oerr));
	printf(" refused-write=%s\n", errname(werr));
	fflush(stdout);
	wait_go(go);
	free(buf);
	return 0;
}
