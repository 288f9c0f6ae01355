// SPDX-License-Identifier: GPL-2.0-only
/*
 * lp-cmdline: a good live patch, the reference case.
 *
 * Replaces cmdline_proc_show() (fs/proc/cmdline.c), so that reading
 * /proc/cmdline prints a fixed marker line instead of the kernel command
 * line. The target is an ordinary traceable function that no task sleeps in,
 * so the transition completes at once, and disabling the patch restores the
 * original output.
 */
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/module.h>
#include <linux/seq_file.h>

#define LP_CMDLINE_MARKER "lpcheck-lp-cmdline: this kernel is live patched"

/* Same prototype as the original: the seq_file show callback of /proc/cmdline. */
static int lp_cmdline_proc_show(struct seq_file *m, void *v)
{
	seq_puts(m, LP_CMDLINE_MARKER "\n");
	return 0;
}

static struct klp_func funcs[] = {
	{
		.old_name = "cmdline_proc_show",
		.new_func = lp_cmdline_proc_show,
	},
	{}
};

static struct klp_object objs[] = {
	{
		/* A NULL name means vmlinux. */
		.funcs = funcs,
	},
	{}
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
};

static int __init lp_cmdline_init(void)
{
	return klp_enable_patch(&patch);
}

static void __exit lp_cmdline_exit(void)
{
}

module_init(lp_cmdline_init);
module_exit(lp_cmdline_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("lpcheck fixture: good live patch of cmdline_proc_show");
MODULE_INFO(livepatch, "Y");
