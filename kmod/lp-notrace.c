// SPDX-License-Identifier: GPL-2.0-only
/*
 * lp-notrace: a bad live patch, replacing a function ftrace cannot hook.
 *
 * native_sched_clock() (arch/x86/kernel/tsc.c) is built without an ftrace
 * call site (it is called from the tracer itself), so it is listed in
 * /proc/kallsyms but not in tracefs available_filter_functions, and the
 * livepatch core cannot redirect it: the module fails to load. `lpcheck
 * check` must reject it.
 */
#include <linux/kernel.h>
#include <linux/ktime.h>
#include <linux/timekeeping.h>
#include "lpc_patch.h"

/*
 * Same prototype as the original: u64 native_sched_clock(void), nanoseconds
 * of a monotonic clock. There is no ftrace site to step over, so this cannot
 * call the original body (lpc_passthrough.h); it reads another clock instead.
 */
static u64 lp_native_sched_clock(void)
{
	return ktime_get_raw_fast_ns();
}

static struct klp_func funcs[] = {
	{
		.old_name = "native_sched_clock",
		.new_func = lp_native_sched_clock,
	},
	{}
};

LPC_LIVEPATCH(NULL, funcs);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("lpcheck fixture: live patch of a notrace function");
