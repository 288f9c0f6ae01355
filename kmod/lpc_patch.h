/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * lpc_patch.h - the boilerplate of a one-object live patch module.
 *
 * LPC_LIVEPATCH(object, funcs) defines the klp_object for @object (NULL for
 * vmlinux, else a module name) holding the klp_func array @funcs, the
 * klp_patch, the module init that enables it with klp_enable_patch(), an
 * empty exit, and the "livepatch=Y" modinfo tag. lp-cmdline.c spells the same
 * structure out in full.
 *
 * The init first evaluates LPC_PATCH_PRECONDITION(): 0 to go on, else the
 * error to fail the load with. It is 0 unless a header included before the
 * use of LPC_LIVEPATCH redefines it (lpc_passthrough.h does).
 */
#ifndef LPC_PATCH_H
#define LPC_PATCH_H

#include <linux/livepatch.h>
#include <linux/module.h>

#ifndef LPC_PATCH_PRECONDITION
#define LPC_PATCH_PRECONDITION() 0
#endif

#define LPC_LIVEPATCH(object, funcs)					\
	static struct klp_object lpc_objs[] = {				\
		{							\
			.name = (object),				\
			.funcs = (funcs),				\
		},							\
		{}							\
	};								\
									\
	static struct klp_patch lpc_patch = {				\
		.mod = THIS_MODULE,					\
		.objs = lpc_objs,					\
	};								\
									\
	static int __init lpc_livepatch_init(void)			\
	{								\
		int lpc_error = LPC_PATCH_PRECONDITION();		\
									\
		return lpc_error ? lpc_error : klp_enable_patch(&lpc_patch); \
	}								\
									\
	static void __exit lpc_livepatch_exit(void)			\
	{								\
	}								\
									\
	module_init(lpc_livepatch_init);				\
	module_exit(lpc_livepatch_exit);				\
	MODULE_INFO(livepatch, "Y")

#endif /* LPC_PATCH_H */
