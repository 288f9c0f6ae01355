// SPDX-License-Identifier: GPL-2.0-only
/*
 * lp-ksys-read: a bad live patch, replacing ksys_read() (fs/read_write.c).
 *
 * Every task blocked in read(2) on a pipe, a terminal or a socket sleeps below
 * ksys_read(), so the transition waits for those tasks. `lpcheck check` must
 * reject it. The replacement runs the original body (lpc_passthrough.h).
 */
#include <linux/kernel.h>
#include <linux/syscalls.h>
#include "lpc_passthrough.h"
#include "lpc_patch.h"

LPC_DEFINE_HITS();

typedef ssize_t (*ksys_read_fn)(unsigned int fd, char __user *buf, size_t count);

static ssize_t lp_ksys_read(unsigned int fd, char __user *buf, size_t count);

static struct klp_func funcs[] = {
	{
		.old_name = "ksys_read",
		.new_func = lp_ksys_read,
	},
	{}
};

static ssize_t lp_ksys_read(unsigned int fd, char __user *buf, size_t count)
{
	ksys_read_fn original = lpc_original_body(&funcs[0]);

	lpc_count_hit();
	return original(fd, buf, count);
}

LPC_LIVEPATCH(NULL, funcs);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("lpcheck fixture: live patch of ksys_read (sleeping path)");
