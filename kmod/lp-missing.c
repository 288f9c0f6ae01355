// SPDX-License-Identifier: GPL-2.0-only
/*
 * lp-missing: a bad live patch, replacing a function the kernel does not have.
 *
 * The livepatch core finds no symbol "lpc_no_such_function" in vmlinux, so
 * the module fails to load. `lpcheck check` must reject it.
 */
#include <linux/kernel.h>
#include "lpc_patch.h"

static void lp_no_such_function(void)
{
	pr_warn("lp-missing: replacement of a missing function called\n");
}

static struct klp_func funcs[] = {
	{
		.old_name = "lpc_no_such_function",
		.new_func = lp_no_such_function,
	},
	{}
};

LPC_LIVEPATCH(NULL, funcs);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("lpcheck fixture: live patch of a missing symbol");
