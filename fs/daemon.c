/* fs/daemon.c - fork first, report the mount later; see daemon.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "overlay.h"

int
daemon_fork(struct cs_err *e)
{
	int p[2], st;
	pid_t pid;
	char ok;
	ssize_t n;

	if (pipe2(p, O_CLOEXEC) == -1)
		return cs_err_sys(e, errno, "pipe");
	if ((pid = fork()) == -1) {
		close(p[0]);
		close(p[1]);
		return cs_err_sys(e, errno, "fork");
	}
	if (pid == 0) {
		close(p[0]);
		return p[1];
	}
	/* The parent: nothing of the secrets stays with it, then it waits. */
	overlay_scrub_env();
	close(p[1]);
	do
		n = read(p[0], &ok, 1);
	while (n == -1 && errno == EINTR);
	if (n == 1)
		_exit(0);
	while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
		;
	_exit(WIFEXITED(st) && WEXITSTATUS(st) != 0 ? WEXITSTATUS(st) : 1);
}

void
daemon_ready(int fd)
{
	int null, keep_err;

	if (fd == -1)
		return;
	setsid();
	if (chdir("/") == -1) {
		/* "/" always exists; nothing here depends on the folder */
	}
	keep_err = fslog_background();	/* the log leaves stderr, unless it is the journal */
	if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) != -1) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		if (!keep_err)
			dup2(null, STDERR_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
	if (write(fd, "1", 1) != 1) {
		/* the parent is gone: nobody is left to tell */
	}
	close(fd);
}
