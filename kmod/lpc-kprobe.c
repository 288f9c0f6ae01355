// SPDX-License-Identifier: GPL-2.0-only
/*
 * lpc-kprobe: not a live patch: a kprobe on cmdline_proc_show(), for the
 * conflict test.
 *
 * The probe sits on the function's ftrace call site, where a live patch of
 * the same function needs to install its own ftrace handler. A kprobe with a
 * post handler may change the instruction pointer, so it takes the site with
 * FTRACE_OPS_FL_IPMODIFY, which only one user can hold; a live patch of
 * cmdline_proc_show loaded while this module is loaded fails (and the other
 * way round). The handlers count hits in the "hits" module parameter.
 */
#include <linux/kernel.h>
#include <linux/kprobes.h>
#include <linux/module.h>

static unsigned long hits;
module_param(hits, ulong, 0444);
MODULE_PARM_DESC(hits, "Hits of the probe (approximate)");

static int lpc_kprobe_pre(struct kprobe *p, struct pt_regs *regs)
{
	data_race(hits++);
	return 0;
}

static void lpc_kprobe_post(struct kprobe *p, struct pt_regs *regs, unsigned long flags)
{
}

static struct kprobe lpc_kprobe = {
	.symbol_name = "cmdline_proc_show",
	.pre_handler = lpc_kprobe_pre,
	.post_handler = lpc_kprobe_post,
};

static int __init lpc_kprobe_init(void)
{
	return register_kprobe(&lpc_kprobe);
}

static void __exit lpc_kprobe_exit(void)
{
	unregister_kprobe(&lpc_kprobe);
}

module_init(lpc_kprobe_init);
module_exit(lpc_kprobe_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("lpcheck fixture: a kprobe with a post handler on cmdline_proc_show");
