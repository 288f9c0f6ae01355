// SPDX-License-Identifier: GPL-2.0-only
/*
 * lpc-insmod: load a kernel module with finit_module(2) and print the exact
 * outcome, for the VM tests (busybox insmod turns errno into vague text).
 *
 * Usage: lpc-insmod MODULE.ko [PARAM=VALUE...]
 * Prints "ok", or "errno=N NAME (message)" and exits 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char params[4096] = "";
	size_t used = 0;
	int fd;

	if (argc < 2) {
		fprintf(stderr, "usage: %s MODULE.ko [PARAM=VALUE...]\n", argv[0]);
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		int n = snprintf(params + used, sizeof(params) - used, "%s%s",
				 used ? " " : "", argv[i]);
		if (n < 0 || (size_t)n >= sizeof(params) - used) {
			fprintf(stderr, "%s: module parameters too long\n", argv[0]);
			return 2;
		}
		used += (size_t)n;
	}
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "%s: %s: %s\n", argv[0], argv[1], strerror(errno));
		return 2;
	}
	if (syscall(SYS_finit_module, fd, params, 0) != 0) {
		int err = errno;

		printf("errno=%d %s (%s)\n", err, strerrorname_np(err), strerror(err));
		return 1;
	}
	printf("ok\n");
	return 0;
}
