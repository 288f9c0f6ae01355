// SPDX-License-Identifier: GPL-2.0-only
/*
 * lp-init: a bad live patch, replacing an __init function.
 *
 * kernel_init_freeable() (init/main.c) is __init: it lives in .init.text,
 * runs once during boot, and its memory is freed afterwards. /proc/kallsyms
 * still lists it, but ftrace dropped its call site with the init memory, so
 * the livepatch core cannot hook it and the module fails to load; even if it
 * could, the replacement would never run. `lpcheck check` must reject it.
 */
#include <linux/kernel.h>
#include "lpc_patch.h"

/* Same prototype as the original: static void kernel_init_freeable(void). */
static void lp_kernel_init_freeable(void)
{
	pr_warn("lp-init: replacement of kernel_init_freeable called\n");
}

static struct klp_func funcs[] = {
	{
		.old_name = "kernel_init_freeable",
		.new_func = lp_kernel_init_freeable,
	},
	{}
};

LPC_LIVEPATCH(NULL, funcs);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("lpcheck fixture: live patch of an __init function");
