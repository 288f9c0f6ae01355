// SPDX-License-Identifier: GPL-2.0-only
/*
 * pty-drive: run a program on a new pseudo-terminal of a given size, type a
 * scripted key sequence into it and record every byte it writes, for the VM
 * tests of `lpcheck tui` (busybox has no tmux or script(1)).
 *
 * Usage: pty-drive OUTPUT COLUMNS ROWS STEP... -- PROGRAM [ARG...]
 * Steps, in order:
 *   wait=MS     keep recording for MS milliseconds
 *   send=TEXT   type TEXT; \e (escape), \r, \n, \t and \\ are decoded
 * After the steps it records until the program exits (at most 20 s, then it
 * is killed) and prints "exit=N" (or "signal=N", or "killed") on stdout.
 * Before each send= step, OUTPUT.steps gets a line "OFFSET STEP": how many
 * bytes OUTPUT held then, so a test can replay the screen as it was when the
 * key was typed. A cursor position query (ESC [ 6 n) is answered with row 1,
 * column 1, as a terminal would. Exits 0 when it ran the program, 1 on a setup
 * error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Bytes written to the output so far. */
static long long recorded;

/* Longest wait for the program to exit once the steps are done. */
#define EXIT_WAIT_MS 20000

static const char cursor_query[] = "\033[6n";

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("pty-drive: write");
			exit(1);
		}
		buf += n;
		len -= (size_t)n;
	}
}

/*
 * Copies what the program wrote to the output for up to ms milliseconds, or
 * until the pty closes. Returns 0 once the pty is closed (read gives EIO).
 */
static int pump(int master, int out, long long ms)
{
	long long deadline = now_ms() + ms;
	char buf[8192];

	for (;;) {
		long long left = deadline - now_ms();
		struct pollfd pfd = { .fd = master, .events = POLLIN };
		ssize_t n;

		if (left <= 0)
			return 1;
		if (poll(&pfd, 1, (int)left) < 0) {
			if (errno == EINTR)
				continue;
			perror("pty-drive: poll");
			exit(1);
		}
		if (!(pfd.revents & (POLLIN | POLLHUP)))
			continue;
		n = read(master, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		write_all(out, buf, (size_t)n);
		recorded += n;
		/* A query split across two reads goes unanswered; crossterm then times out. */
		if (memmem(buf, (size_t)n, cursor_query, sizeof(cursor_query) - 1))
			write_all(master, "\033[1;1R", 6);
	}
}

/* Decodes the escapes of a send= step in place; returns the decoded length. */
static size_t decode(char *text)
{
	char *in = text, *out = text;

	while (*in) {
		if (*in != '\\' || !in[1]) {
			*out++ = *in++;
			continue;
		}
		in++;
		switch (*in++) {
		case 'e': *out++ = '\033'; break;
		case 'r': *out++ = '\r'; break;
		case 'n': *out++ = '\n'; break;
		case 't': *out++ = '\t'; break;
		default: *out++ = in[-1]; break;
		}
	}
	return (size_t)(out - text);
}

static pid_t spawn(int master, char **argv, unsigned short cols, unsigned short rows)
{
	struct winsize size = { .ws_row = rows, .ws_col = cols };
	char *slave_name = ptsname(master);
	pid_t pid;

	if (!slave_name || ioctl(master, TIOCSWINSZ, &size) < 0) {
		perror("pty-drive: pty setup");
		exit(1);
	}
	pid = fork();
	if (pid < 0) {
		perror("pty-drive: fork");
		exit(1);
	}
	if (pid == 0) {
		int slave;

		setsid();
		slave = open(slave_name, O_RDWR);
		if (slave < 0 || ioctl(slave, TIOCSCTTY, 0) < 0) {
			perror("pty-drive: slave");
			_exit(127);
		}
		dup2(slave, 0);
		dup2(slave, 1);
		dup2(slave, 2);
		if (slave > 2)
			close(slave);
		close(master);
		setenv("TERM", "xterm", 1);
		execvp(argv[0], argv);
		perror("pty-drive: exec");
		_exit(127);
	}
	return pid;
}

int main(int argc, char **argv)
{
	int sep = 0, master, out, status, open_pty = 1;
	char steps_path[4096];
	FILE *steps;
	long long deadline;
	pid_t pid;

	for (int i = 4; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			sep = i;
			break;
		}
	}
	if (argc < 6 || !sep || sep + 1 >= argc) {
		fprintf(stderr, "usage: %s OUTPUT COLUMNS ROWS STEP... -- PROGRAM [ARG...]\n",
			argv[0]);
		return 1;
	}
	out = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	snprintf(steps_path, sizeof(steps_path), "%s.steps", argv[1]);
	steps = fopen(steps_path, "w");
	master = posix_openpt(O_RDWR | O_NOCTTY);
	if (out < 0 || !steps || master < 0 || grantpt(master) < 0 || unlockpt(master) < 0) {
		perror("pty-drive: open");
		return 1;
	}
	pid = spawn(master, argv + sep + 1, (unsigned short)atoi(argv[2]),
		    (unsigned short)atoi(argv[3]));

	for (int i = 4; i < sep && open_pty; i++) {
		if (strncmp(argv[i], "wait=", 5) == 0) {
			open_pty = pump(master, out, atoll(argv[i] + 5));
		} else if (strncmp(argv[i], "send=", 5) == 0) {
			size_t len;

			fprintf(steps, "%lld %s\n", recorded, argv[i]);
			fflush(steps);
			len = decode(argv[i] + 5);
			write_all(master, argv[i] + 5, len);
		} else {
			fprintf(stderr, "pty-drive: unknown step %s\n", argv[i]);
			kill(pid, SIGKILL);
			return 1;
		}
	}

	deadline = now_ms() + EXIT_WAIT_MS;
	for (;;) {
		pid_t done = waitpid(pid, &status, WNOHANG);

		if (done == pid)
			break;
		if (now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			printf("killed\n");
			return 0;
		}
		if (open_pty)
			open_pty = pump(master, out, 100);
		else
			usleep(100 * 1000);
	}
	if (open_pty)
		pump(master, out, 200);
	if (WIFEXITED(status))
		printf("exit=%d\n", WEXITSTATUS(status));
	else
		printf("signal=%d\n", WTERMSIG(status));
	return 0;
}
