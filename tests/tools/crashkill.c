/* tests/tools/crashkill.c - run a command and SIGKILL it after a random delay.
 *
 *	crashkill MAX_US COMMAND [ARG]...
 *	crashkill time COMMAND [ARG]...
 *
 * Starts COMMAND (stdin and stderr inherited, stdout discarded), sleeps a uniformly random
 * 0..MAX_US microseconds, sends SIGKILL, and prints "killed" when the signal ended the
 * command or "exited N" when it finished first. "time" runs COMMAND to the end and
 * prints how many microseconds it took, to choose MAX_US. A shell cannot do this: forking sleep
 * and kill costs milliseconds, more than the operations we want to interrupt. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int
main(int argc, char **argv)
{
	uint64_t t0 = now_us();
	int timing = argc >= 3 && strcmp(argv[1], "time") == 0;
	struct timespec ts;
	unsigned long max;
	uint32_t delay;
	pid_t pid;
	int status;

	if (argc < 3 || (!timing && ((max = strtoul(argv[1], NULL, 10)) == 0 ||
	    max > 60000000UL))) {
		fprintf(stderr, "usage: crashkill MAX_US|time COMMAND [ARG]...\n");
		return 2;
	}
	if (sodium_init() < 0)
		return 2;
	delay = timing ? 0 : randombytes_uniform((uint32_t)max);
	if ((pid = fork()) == -1) {
		perror("crashkill: fork");
		return 2;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		if (null == -1 || dup2(null, STDOUT_FILENO) == -1)
			_exit(127);
		execvp(argv[2], argv + 2);
		perror("crashkill: exec");
		_exit(127);
	}
	if (timing) {
		if (waitpid(pid, &status, 0) == -1)
			return 2;
		printf("%llu\n", (unsigned long long)(now_us() - t0));
		return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
	}
	ts.tv_sec = delay / 1000000;
	ts.tv_nsec = (long)(delay % 1000000) * 1000;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
	(void)kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) {
			perror("crashkill: waitpid");
			return 2;
		}
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		printf("killed after %u us\n", (unsigned)delay);
	else
		printf("exited %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return 0;
}
