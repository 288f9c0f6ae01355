// SPDX-License-Identifier: GPL-2.0-only
/*
 * lp-nanosleep: a bad live patch, replacing do_nanosleep()
 * (kernel/time/hrtimer.c, static, in .sched.text).
 *
 * Every task inside nanosleep() or clock_nanosleep() sleeps in do_nanosleep(),
 * so the transition waits for those tasks to wake up (the kernel's fake
 * signal after 15 s interrupts the interruptible ones). `lpcheck check` must
 * reject it. The replacement runs the original body (lpc_passthrough.h).
 */
#include <linux/hrtimer.h>
#include <linux/kernel.h>
#include <linux/sched.h>
#include <linux/sched/debug.h>
#include "lpc_passthrough.h"
#include "lpc_patch.h"

LPC_DEFINE_HITS();

typedef int (*do_nanosleep_fn)(struct hrtimer_sleeper *t, enum hrtimer_mode mode);

static int __sched lp_do_nanosleep(struct hrtimer_sleeper *t, enum hrtimer_mode mode);

static struct klp_func funcs[] = {
	{
		.old_name = "do_nanosleep",
		.new_func = lp_do_nanosleep,
	},
	{}
};

static int __sched lp_do_nanosleep(struct hrtimer_sleeper *t, enum hrtimer_mode mode)
{
	do_nanosleep_fn original = lpc_original_body(&funcs[0]);

	lpc_count_hit();
	return original(t, mode);
}

LPC_LIVEPATCH(NULL, funcs);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("lpcheck fixture: live patch of do_nanosleep (sleeping path)");
