// SPDX-License-Identifier: GPL-2.0-only
/*
 * lp-schedule: a bad live patch, replacing schedule().
 *
 * Every sleeping task has schedule() on its stack, so the livepatch
 * transition cannot switch those tasks: it stalls, and once some tasks do
 * switch and sleep in the replacement, even reverting stalls. `lpcheck check`
 * must reject it. The replacement runs the original body (see
 * lpc_passthrough.h) so that the kernel keeps working while the VM tests
 * observe the stall.
 */
#include <linux/kernel.h>
#include <linux/sched.h>
#include <linux/sched/debug.h>
#include "lpc_passthrough.h"
#include "lpc_patch.h"

LPC_DEFINE_HITS();

static void __sched lp_schedule(void);

static struct klp_func funcs[] = {
	{
		.old_name = "schedule",
		.new_func = lp_schedule,
	},
	{}
};

/* Same prototype as kernel/sched/core.c: void schedule(void). */
static void __sched lp_schedule(void)
{
	void (*original)(void) = lpc_original_body(&funcs[0]);

	lpc_count_hit();
	original();
}

LPC_LIVEPATCH(NULL, funcs);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("lpcheck fixture: live patch of schedule (always on some stack)");
