// SPDX-License-Identifier: GPL-2.0-only
/*
 * lp-target-stall: a live patch of the lpc_target module's lpc_target_sleep().
 *
 * The lpc_target kthread sleeps inside that function almost all the time, so
 * the transition stalls until the patch is reverted (or the kthread stops).
 * Statically the patch is fine: this is the case only a live check (lpcheck
 * watch / apply) can catch. The replacement behaves like the original but
 * returns LPC_TARGET_PATCHED, so /proc/lpc_target tells which code ran.
 */
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/kthread.h>
#include <linux/sched.h>
#include "lpc_patch.h"
#include "lpc_target.h"

static int lp_target_sleep(unsigned int ms)
{
	if (ms) {
		set_current_state(TASK_IDLE);
		if (!kthread_should_stop())
			schedule_timeout(msecs_to_jiffies(ms));
		__set_current_state(TASK_RUNNING);
	}
	return LPC_TARGET_PATCHED;
}

static struct klp_func funcs[] = {
	{
		.old_name = "lpc_target_sleep",
		.new_func = lp_target_sleep,
	},
	{}
};

/* The object is the module lpc_target (its name, with "_" for "-"). */
LPC_LIVEPATCH("lpc_target", funcs);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("lpcheck fixture: live patch of lpc_target_sleep (stalls)");
