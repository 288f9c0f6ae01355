// SPDX-License-Identifier: GPL-2.0-only
/*
 * lp-devtmpfs-loop: a bad live patch, replacing devtmpfs_work_loop()
 * (drivers/base/devtmpfs.c, static).
 *
 * The kdevtmpfs kthread (thread function devtmpfsd) calls devtmpfs_work_loop()
 * once it has mounted devtmpfs and never returns from it: the loop serves the
 * node requests of the driver core and sleeps in schedule() in between. The
 * kthread always has the function on its stack, the kernel's fake signal only
 * wakes it for another round of the same loop, so the transition can never
 * complete without `force`. The function is on no name list: `lpcheck check`
 * must reject it from where the kthread rests, as facts collect recorded it
 * (LP023) or as the vmlinux's code shows it (LP024).
 *
 * Nothing calls the function again while the kthread lives, so the
 * replacement never runs; were it called, it would run the original loop
 * (lpc_passthrough.h) and count the call in the "hits" parameter.
 */
#include <linux/kernel.h>
#include "lpc_passthrough.h"
#include "lpc_patch.h"

LPC_DEFINE_HITS();

typedef void (*devtmpfs_work_loop_fn)(void);

static void lp_devtmpfs_work_loop(void);

static struct klp_func funcs[] = {
	{
		.old_name = "devtmpfs_work_loop",
		.new_func = lp_devtmpfs_work_loop,
	},
	{}
};

/* Same prototype as drivers/base/devtmpfs.c: static void __noreturn devtmpfs_work_loop(void). */
static void lp_devtmpfs_work_loop(void)
{
	devtmpfs_work_loop_fn original = lpc_original_body(&funcs[0]);

	lpc_count_hit();
	original();
}

LPC_LIVEPATCH(NULL, funcs);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("lpcheck fixture: live patch of devtmpfs_work_loop (a kthread's main loop)");
